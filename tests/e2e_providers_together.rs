//! End to end: clb, natgw and eip resources in one namespace at the same time, the same Pods
//! selected by all three (each Pod port gets three addresses), and a resource switched from one
//! provider to another releasing the old addresses.
mod support;

use dedicated_address_controller::crd::{DedicatedCLBListener, DedicatedCLBService, ListenerState};
use k8s_openapi::api::core::v1::Pod;
use kube::ResourceExt;
use kube::api::{Api, ListParams, Patch, PatchParams};
use serde_json::json;
use std::time::Duration;
use support::cloud::{dnat_rules, eips, listeners};
use support::e2e::{E2e, SEED_LBS, SEED_REGION, emulator_config};
use support::eventually;

const WAIT: Duration = Duration::from_secs(120);
const ALL: &str = concat!(
    "  clb:\n    enabled: true\n    batchWindowMs: 100\n",
    "  natgw:\n    enabled: true\n    batchWindowMs: 100\n",
    "    gateways:\n      - id: nat-demo0001\n        minPort: 10000\n        maxPort: 10099\n",
    "  eip:\n    enabled: true\n    pool:\n      min: 0\n      max: 10\n",
);

/// Waits until every child of `service` is bound; returns how many there are.
async fn bound(e2e: &E2e, service: &str, want: usize) {
    let children: Api<DedicatedCLBListener> = Api::namespaced(e2e.client.clone(), e2e.ns());
    let selector = format!("networking.cloud.tencent.com/service={service}");
    eventually(
        WAIT,
        &format!("{service}: {want} children bound"),
        || async {
            let list = children
                .list(&ListParams::default().labels(&selector))
                .await
                .map_err(|e| e.to_string())?
                .items;
            let states: Vec<_> = list
                .iter()
                .map(|c| {
                    (
                        c.spec.provider.clone(),
                        c.status.as_ref().and_then(|s| s.state),
                    )
                })
                .collect();
            let all_bound = list.len() == want
                && states
                    .iter()
                    .all(|(_, state)| *state == Some(ListenerState::Bound));
            if all_bound {
                Ok(())
            } else {
                Err(format!("{states:?}"))
            }
        },
    )
    .await;
}

#[tokio::test]
async fn three_providers_serve_the_same_pods_and_a_switch_leaks_nothing() {
    let e2e = E2e::start("e2e-together", emulator_config(50), ALL).await;
    e2e.apply_example("examples/clb/gameserver.yaml").await;
    for example in [
        "examples/clb/dedicatedclbservice.yaml",
        "examples/natgw/dedicatedclbservice.yaml",
        "examples/eip/dedicatedclbservice.yaml",
    ] {
        e2e.apply_example(example).await;
    }
    bound(&e2e, "gameserver", 6).await;
    bound(&e2e, "gameserver-nat", 6).await;
    bound(&e2e, "gameserver-eip", 6).await;

    // Every Pod carries all three addresses of its TCP port, each in its own annotation.
    let pods: Api<Pod> = Api::namespaced(e2e.client.clone(), e2e.ns());
    eventually(
        WAIT,
        "each Pod annotated by all three providers",
        || async {
            for pod in pods
                .list(&ListParams::default())
                .await
                .map_err(|e| e.to_string())?
                .items
            {
                let annotations = pod.annotations().clone();
                for key in [
                    "external-address-9000",
                    "nat-address-9000",
                    "eip-address-9000",
                ] {
                    if !annotations.contains_key(&format!("networking.cloud.tencent.com/{key}")) {
                        return Err(format!("{} lacks {key}: {annotations:?}", pod.name_any()));
                    }
                }
            }
            Ok(())
        },
    )
    .await;
    assert_eq!(
        listeners(&e2e.cloud, SEED_REGION, &SEED_LBS)
            .await
            .unwrap()
            .len(),
        6
    );
    assert_eq!(
        dnat_rules(&e2e.cloud, "ap-guangzhou", "nat-demo0001")
            .await
            .unwrap()
            .len(),
        6
    );

    // Switch the NAT resource to CLB listeners: its DNAT rules go, listeners come.
    let services: Api<DedicatedCLBService> = Api::namespaced(e2e.client.clone(), e2e.ns());
    let patch = json!({ "spec": {
        "provider": "clb", "natGatewayIds": null,
        "lbRegion": SEED_REGION, "existedLbIds": ["lb-zzz"], "minPort": 2000, "maxPort": 2100,
    }});
    services
        .patch(
            "gameserver-nat",
            &PatchParams::default(),
            &Patch::Merge(&patch),
        )
        .await
        .expect("switch provider");
    eventually(
        WAIT,
        "the DNAT rules released, 6 more CLB listeners",
        || async {
            let rules = dnat_rules(&e2e.cloud, "ap-guangzhou", "nat-demo0001").await?;
            let clb = listeners(&e2e.cloud, SEED_REGION, &SEED_LBS).await?;
            if rules.is_empty() && clb.len() == 12 {
                Ok(())
            } else {
                Err(format!("{} rules, {} listeners", rules.len(), clb.len()))
            }
        },
    )
    .await;
    bound(&e2e, "gameserver-nat", 6).await;

    // Cleanup releases everything the three left.
    let _ = services
        .delete_collection(&Default::default(), &ListParams::default())
        .await;
    eventually(WAIT, "nothing left in the cloud", || async {
        let clb = listeners(&e2e.cloud, SEED_REGION, &SEED_LBS).await?;
        let bound_eips = eips(&e2e.cloud, "ap-guangzhou")
            .await?
            .into_iter()
            .filter(|(_, _, p)| p.as_ref().is_some_and(|p| p.starts_with("10.244.")))
            .count();
        if clb.is_empty() && bound_eips == 0 {
            Ok(())
        } else {
            Err(format!("{} listeners, {bound_eips} bound EIPs", clb.len()))
        }
    })
    .await;
}
