//! End to end: the readiness gate `networking.cloud.tencent.com/address-ready`. A Pod that
//! declares it gets that Pod condition False, with a reason, while a port of it has no address,
//! and True once every port is bound; a Pod that does not declare it gets no such condition.
//! Both front doors: pool annotations and a `DedicatedCLBService`.
//!
//! kwok plays the kubelet and does not recompute `Ready` from readiness gates, so the tests
//! assert the gate's condition as the API server stores it, which is what a kubelet reads.
mod support;

use dedicated_address_controller::crd::DedicatedCLBService;
use k8s_openapi::api::core::v1::{Node, Pod};
use kube::ResourceExt;
use kube::api::{Api, DeleteParams, ListParams, PostParams};
use serde_json::{Value, json};
use std::time::Duration;
use support::controller::apply_value;
use support::e2e::{CLB_ONLY, E2e, SEED_REGION, emulator_config};
use support::eventually;
use support::fixtures::{kwok_toleration, service};
use support::frameworks::dynamic_all;
use tencentcloud_emulator::FaultRule;

const WAIT: Duration = Duration::from_secs(90);
const GATE: &str = "networking.cloud.tencent.com/address-ready";
const STATUS: &str = "networking.cloud.tencent.com/clb-port-mapping-status";

/// A Pod on a kwok node, with the gate when `gated`.
async fn pod(e2e: &E2e, name: &str, gated: bool, labels: Value, annotations: Value) {
    let nodes: Api<Node> = Api::all(e2e.client.clone());
    let node = nodes.list(&ListParams::default()).await.unwrap().items[0].name_any();
    let gates = if gated {
        json!([{ "conditionType": GATE }])
    } else {
        json!([])
    };
    let pod: Pod = serde_json::from_value(json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": { "name": name, "namespace": e2e.ns(), "labels": labels, "annotations": annotations },
        "spec": {
            "nodeName": node, "tolerations": kwok_toleration(), "readinessGates": gates,
            "containers": [{ "name": "server", "image": "gameserver:latest" }],
        },
    }))
    .unwrap();
    let pods: Api<Pod> = Api::namespaced(e2e.client.clone(), e2e.ns());
    pods.create(&PostParams::default(), &pod).await.unwrap();
}

/// The gate's condition on the Pod: `(status, reason)`.
async fn gate(e2e: &E2e, name: &str) -> Result<Option<(String, String)>, String> {
    let pods: Api<Pod> = Api::namespaced(e2e.client.clone(), e2e.ns());
    let pod = pods.get(name).await.map_err(|e| e.to_string())?;
    Ok(pod
        .status
        .and_then(|s| s.conditions)
        .unwrap_or_default()
        .into_iter()
        .find(|c| c.type_ == GATE)
        .map(|c| (c.status, c.reason.unwrap_or_default())))
}

/// Waits until the gate's condition has `status` (and a reason); returns the reason.
async fn gate_is(e2e: &E2e, name: &str, status: &str) -> String {
    eventually(WAIT, &format!("{name}: {GATE} {status}"), || async {
        match gate(e2e, name).await? {
            Some((s, reason)) if s == status && !reason.is_empty() => Ok(reason),
            other => Err(format!("{other:?}")),
        }
    })
    .await
}

#[tokio::test]
async fn a_gated_pool_pod_is_not_ready_until_its_ports_are_bound() {
    let e2e = E2e::start("e2e-gate-pool", emulator_config(50), CLB_ONLY).await;
    let pool = format!("{}-gate", e2e.ns());
    let annotations = json!({
        "networking.cloud.tencent.com/enable-clb-port-mapping": "true",
        "networking.cloud.tencent.com/clb-port-mapping": format!("7777 UDP {pool}\n8080 TCP {pool}"),
    });
    // The pool does not exist yet: nothing can be bound.
    pod(&e2e, "gated", true, json!({}), annotations.clone()).await;
    pod(&e2e, "ungated", false, json!({}), annotations).await;
    let reason = gate_is(&e2e, "gated", "False").await;
    eprintln!("gate while the pool is missing: False, {reason}");

    apply_value(
        &e2e.client,
        json!({
            "apiVersion": "networking.cloud.tencent.com/v1alpha1", "kind": "CLBPortPool",
            // Managed by this test's namespace-scoped controller.
            "metadata": { "name": pool,
                          "labels": { "networking.cloud.tencent.com/controller-namespace": e2e.ns() } },
            "spec": { "startPort": 34000, "region": SEED_REGION, "exsistedLoadBalancerIDs": ["lb-xxx"] },
        }),
    )
    .await;
    gate_is(&e2e, "gated", "True").await;
    // The Pod without the gate is bound too, and gets no such condition.
    let pods: Api<Pod> = Api::namespaced(e2e.client.clone(), e2e.ns());
    eventually(WAIT, "ungated bound", || async {
        let pod = pods.get("ungated").await.map_err(|e| e.to_string())?;
        match pod.annotations().get(STATUS).map(String::as_str) {
            Some("Ready") => Ok(()),
            other => Err(format!("{other:?}")),
        }
    })
    .await;
    assert_eq!(gate(&e2e, "ungated").await.unwrap(), None);

    for name in ["gated", "ungated"] {
        pods.delete(name, &DeleteParams::default().grace_period(0))
            .await
            .unwrap();
    }
    let pools = dynamic_all(
        &e2e.client,
        "networking.cloud.tencent.com",
        "v1alpha1",
        "CLBPortPool",
        "clbportpools",
    );
    let _ = pools.delete(&pool, &DeleteParams::default()).await;
    eventually(WAIT, &format!("pool {pool} gone"), || async {
        match pools.get_opt(&pool).await.map_err(|e| e.to_string())? {
            None => Ok(()),
            Some(_) => Err("still there".to_string()),
        }
    })
    .await;
}

#[tokio::test]
async fn a_gated_service_pod_is_not_ready_while_the_cloud_refuses_its_listener() {
    let mut config = emulator_config(50);
    config.faults = vec![FaultRule {
        action: "CreateListener".into(),
        code: Some("FailedOperation.ResourceInOperating".into()),
        message: Some("Loadbalancer(lb-yyy) is not in normal desState, maybe some tasks are being processed, please try later.".into()),
        ..Default::default()
    }];
    let e2e = E2e::start("e2e-gate-service", config, CLB_ONLY).await;
    let ns = e2e.ns().to_string();
    pod(&e2e, "gated-0", true, json!({ "app": "gated" }), json!({})).await;
    pod(&e2e, "plain-0", false, json!({ "app": "gated" }), json!({})).await;
    let services: Api<DedicatedCLBService> = Api::namespaced(e2e.client.clone(), &ns);
    let spec = json!({
        "selector": { "app": "gated" }, "lbRegion": SEED_REGION,
        "minPort": 701, "maxPort": 800, "existedLbIds": ["lb-yyy"],
        "ports": [
            { "protocol": "TCP", "targetPort": 9000,
              "addressPodAnnotation": "networking.cloud.tencent.com/external-address-9000" },
        ],
    });
    services
        .create(&PostParams::default(), &service(&ns, "gated", spec))
        .await
        .unwrap();
    // While the cloud refuses, the gate says which ports are not bound.
    eventually(WAIT, "gated-0: False, AddressNotBound", || async {
        match gate(&e2e, "gated-0").await? {
            Some((s, reason)) if s == "False" && reason == "AddressNotBound" => Ok(()),
            other => Err(format!("{other:?}")),
        }
    })
    .await;

    e2e.emulator.clear_faults();
    gate_is(&e2e, "gated-0", "True").await;
    let pods: Api<Pod> = Api::namespaced(e2e.client.clone(), &ns);
    eventually(WAIT, "plain-0 has its address", || async {
        let pod = pods.get("plain-0").await.map_err(|e| e.to_string())?;
        if pod
            .annotations()
            .contains_key("networking.cloud.tencent.com/external-address-9000")
        {
            Ok(())
        } else {
            Err(format!("{:?}", pod.annotations()))
        }
    })
    .await;
    assert_eq!(gate(&e2e, "plain-0").await.unwrap(), None);
    e2e.remove_services().await;
}
