//! End to end with the `eip` provider: one EIP per Pod, bound to the Pod's IP, shared by its
//! ports; a warm pool keeps churn from burning the daily allocation limit.
mod support;

use dedicated_address_controller::crd::{DedicatedCLBListener, DedicatedCLBService, ListenerState};
use k8s_openapi::api::core::v1::Pod;
use kube::ResourceExt;
use kube::api::{Api, DeleteParams, ListParams};
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;
use support::cloud::{eips, eips_allocated_today};
use support::e2e::{E2e, emulator_config};
use support::eventually;

const WAIT: Duration = Duration::from_secs(120);
const REGION: &str = "ap-guangzhou";
const EIP: &str = "  eip:\n    enabled: true\n    pool:\n      min: 0\n      max: 10\n    retention:\n      policy: Release\n";

/// Waits until exactly the `pods` Pods have an EIP each, bound to their IP in the cloud and shown
/// as EIP:targetPort by both of their ports. Returns the EIP by Pod name.
async fn one_eip_per_pod(e2e: &E2e, pods: usize) -> BTreeMap<String, String> {
    let children: Api<DedicatedCLBListener> = Api::namespaced(e2e.client.clone(), e2e.ns());
    let pod_api: Api<Pod> = Api::namespaced(e2e.client.clone(), e2e.ns());
    eventually(WAIT, &format!("{pods} Pods with an EIP each"), || async {
        let list = children
            .list(&ListParams::default())
            .await
            .map_err(|e| e.to_string())?
            .items;
        if list.len() != pods * 2 {
            return Err(format!("{} children", list.len()));
        }
        let cloud = eips(&e2e.cloud, REGION).await?;
        let mut by_pod: BTreeMap<String, String> = BTreeMap::new();
        for child in &list {
            let status = child.status.clone().unwrap_or_default();
            if status.state != Some(ListenerState::Bound) {
                return Err(format!("{} is {:?}", child.name_any(), status.state));
            }
            let backend = child.spec.backend_pod.clone().ok_or("no backendPod")?;
            let address = status.address.ok_or("no address")?;
            let (ip, port) = address.rsplit_once(':').ok_or("address without port")?;
            if port != backend.port.to_string() {
                return Err(format!("{address} is not EIP:{}", backend.port));
            }
            if let Some(other) = by_pod.insert(backend.pod_name.clone(), ip.to_string())
                && other != ip
            {
                return Err(format!(
                    "{} has two EIPs: {other} and {ip}",
                    backend.pod_name
                ));
            }
            let pod = pod_api
                .get(&backend.pod_name)
                .await
                .map_err(|e| e.to_string())?;
            let pod_ip = pod.status.and_then(|s| s.pod_ip);
            if !cloud
                .iter()
                .any(|(eip, _, private)| eip == ip && private.as_deref() == pod_ip.as_deref())
            {
                return Err(format!(
                    "EIP {ip} is not bound to {pod_ip:?} in the cloud: {cloud:?}"
                ));
            }
        }
        let bound_in_cloud = cloud
            .iter()
            .filter(|(_, _, private)| private.as_ref().is_some_and(|p| p.starts_with("10.244.")))
            .count();
        if bound_in_cloud != pods {
            return Err(format!(
                "{bound_in_cloud} EIPs bound to Pod IPs in the cloud, want {pods}"
            ));
        }
        Ok::<_, String>(by_pod)
    })
    .await
}

#[tokio::test]
async fn one_eip_per_pod_and_churn_reuses_the_pool() {
    let e2e = E2e::start("e2e-eip", emulator_config(50), EIP).await;
    e2e.apply_example("examples/clb/gameserver.yaml").await;
    e2e.apply_example("examples/eip/dedicatedclbservice.yaml")
        .await;
    let first = one_eip_per_pod(&e2e, 3).await;
    assert_eq!(
        first.values().collect::<BTreeSet<_>>().len(),
        3,
        "distinct EIPs: {first:?}"
    );

    // Churn: 10 -> 0 -> 10 -> 0 -> 10 with a pool of at most 10 allocates at most 10 EIPs.
    for replicas in [10, 0, 10, 0, 10] {
        e2e.scale("gameserver", replicas).await;
        one_eip_per_pod(&e2e, replicas as usize).await;
    }
    let allocated = eips_allocated_today(&e2e.cloud, REGION).await.unwrap();
    assert!(
        allocated <= 10,
        "{allocated} EIPs allocated today for a pool of 10"
    );

    // Deleting the resource unbinds every Pod's EIP.
    let services: Api<DedicatedCLBService> = Api::namespaced(e2e.client.clone(), e2e.ns());
    services
        .delete("gameserver-eip", &DeleteParams::default())
        .await
        .unwrap();
    eventually(WAIT, "no EIP bound to a Pod", || async {
        let cloud = eips(&e2e.cloud, REGION).await?;
        let bound: Vec<_> = cloud
            .iter()
            .filter(|(_, _, p)| p.as_ref().is_some_and(|p| p.starts_with("10.244.")))
            .collect();
        if bound.is_empty() {
            Ok(())
        } else {
            Err(format!("{bound:?}"))
        }
    })
    .await;
}
