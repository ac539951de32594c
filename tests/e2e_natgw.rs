//! End to end with the `natgw` provider: a DNAT rule per Pod port on the emulator's NAT gateway,
//! kept exactly in step with the Pods that exist.
mod support;

use dedicated_address_controller::crd::{DedicatedCLBListener, DedicatedCLBService, ListenerState};
use k8s_openapi::api::core::v1::Pod;
use kube::ResourceExt;
use kube::api::{Api, DeleteParams, ListParams};
use std::collections::BTreeMap;
use std::time::Duration;
use support::cloud::{DnatRule, dnat_rules};
use support::e2e::{E2e, emulator_config};
use support::eventually;

const WAIT: Duration = Duration::from_secs(90);
const REGION: &str = "ap-guangzhou";
const GATEWAY: &str = "nat-demo0001";
const NATGW: &str = "  natgw:\n    enabled: true\n    batchWindowMs: 100\n    gateways:\n      - id: nat-demo0001\n        minPort: 10000\n        maxPort: 10099\n";

/// Waits until the gateway holds exactly one rule per Pod port of the `pods` Pods, each from the
/// child's address to the Pod's IP:targetPort, with the address in the Pod's annotation.
/// Returns address by child name.
async fn rules_match_pods(e2e: &E2e, pods: usize) -> BTreeMap<String, String> {
    let children: Api<DedicatedCLBListener> = Api::namespaced(e2e.client.clone(), e2e.ns());
    let pod_api: Api<Pod> = Api::namespaced(e2e.client.clone(), e2e.ns());
    eventually(
        WAIT,
        &format!("{pods} Pods x 2 ports with a DNAT rule each"),
        || async {
            let list = children
                .list(&ListParams::default())
                .await
                .map_err(|e| e.to_string())?
                .items;
            let rules = dnat_rules(&e2e.cloud, REGION, GATEWAY).await?;
            if list.len() != pods * 2 || rules.len() != pods * 2 {
                return Err(format!("{} children, rules {rules:?}", list.len()));
            }
            let mut addresses = BTreeMap::new();
            for child in &list {
                let status = child.status.clone().unwrap_or_default();
                if status.state != Some(ListenerState::Bound) {
                    return Err(format!("{} is {:?}", child.name_any(), status.state));
                }
                let backend = child.spec.backend_pod.clone().ok_or("no backendPod")?;
                let pod = pod_api
                    .get(&backend.pod_name)
                    .await
                    .map_err(|e| e.to_string())?;
                let pod_ip = pod.status.and_then(|s| s.pod_ip).ok_or("Pod without IP")?;
                let address = status.address.ok_or("no address")?;
                let want = DnatRule {
                    protocol: child.spec.protocol.as_str().to_string(),
                    public: address.clone(),
                    private: format!("{pod_ip}:{}", backend.port),
                    description: String::new(),
                };
                if !rules.iter().any(|r| {
                    r.protocol == want.protocol
                        && r.public == want.public
                        && r.private == want.private
                }) {
                    return Err(format!("no rule {want:?} in {rules:?}"));
                }
                let annotation =
                    format!("networking.cloud.tencent.com/nat-address-{}", backend.port);
                if pod
                    .metadata
                    .annotations
                    .unwrap_or_default()
                    .get(&annotation)
                    != Some(&address)
                {
                    return Err(format!("{} lacks {annotation}={address}", backend.pod_name));
                }
                addresses.insert(child.name_any(), address);
            }
            Ok::<_, String>(addresses)
        },
    )
    .await
}

#[tokio::test]
async fn dnat_rules_follow_the_pods() {
    let mut e2e = E2e::start("e2e-natgw", emulator_config(50), NATGW).await;
    e2e.apply_example("examples/clb/gameserver.yaml").await;
    e2e.apply_example("examples/natgw/dedicatedclbservice.yaml")
        .await;
    let first = rules_match_pods(&e2e, 3).await;

    // Scale down and up: rules removed and added.
    e2e.scale("gameserver", 1).await;
    rules_match_pods(&e2e, 1).await;
    e2e.scale("gameserver", 3).await;
    rules_match_pods(&e2e, 3).await;

    // A recreated Pod keeps its public address; its rule follows the new Pod.
    let pods: Api<Pod> = Api::namespaced(e2e.client.clone(), e2e.ns());
    let old = pods.get("gameserver-0").await.unwrap().uid();
    pods.delete("gameserver-0", &DeleteParams::default())
        .await
        .unwrap();
    eventually(WAIT, "gameserver-0 recreated", || async {
        let pod = pods.get("gameserver-0").await.map_err(|e| e.to_string())?;
        if pod.uid() != old {
            Ok(())
        } else {
            Err("old Pod".to_string())
        }
    })
    .await;
    let after = rules_match_pods(&e2e, 3).await;
    for name in first.keys().filter(|n| n.contains("gameserver-0")) {
        assert_eq!(first[name], after[name], "{name} keeps its address");
    }

    // A restarted controller changes nothing.
    e2e.controller.restart();
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(rules_match_pods(&e2e, 3).await, after);

    // Deleting the resource removes every rule.
    let services: Api<DedicatedCLBService> = Api::namespaced(e2e.client.clone(), e2e.ns());
    services
        .delete("gameserver-nat", &DeleteParams::default())
        .await
        .unwrap();
    eventually(WAIT, "no rules left", || async {
        let rules = dnat_rules(&e2e.cloud, REGION, GATEWAY).await?;
        if rules.is_empty() {
            Ok(())
        } else {
            Err(format!("{rules:?}"))
        }
    })
    .await;
}
