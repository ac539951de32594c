//! End to end: the pool API that tke-extend-network-controller v2 and OpenKruise Game speak
//! (CLBPortPool + Pod annotations -> CLBPodBinding -> result annotations), on the same engine as
//! seed 000's API. Upstream's documented examples apply unchanged; the result annotation, read
//! as JSON, matches the cloud read through our client.
mod support;

use dedicated_address_controller::crd::{BindingState, CLBPodBinding, DedicatedCLBListener};
use k8s_openapi::api::core::v1::Pod;
use kube::ResourceExt;
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams};
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::time::Duration;
use support::cloud::listeners;
use support::controller::apply_value;
use support::e2e::{CLB_ONLY, E2e, SEED_LBS, SEED_REGION, emulator_config};
use support::eventually;
use support::fixtures::{kwok_toleration, ports, service};

const WAIT: Duration = Duration::from_secs(90);
const RESULT: &str = "networking.cloud.tencent.com/clb-port-mapping-result";
const STATUS: &str = "networking.cloud.tencent.com/clb-port-mapping-status";
const MANAGED_BY: &str = "networking.cloud.tencent.com/controller-namespace";

/// A pool named after the test's namespace (pools are cluster-scoped; tests run side by side).
fn pool(e2e: &E2e, suffix: &str, spec: Value) -> (String, Value) {
    let name = format!("{}-{suffix}", e2e.ns());
    let mut spec = spec;
    spec["region"] = json!(SEED_REGION);
    (
        name.clone(),
        json!({
            "apiVersion": "networking.cloud.tencent.com/v1alpha1", "kind": "CLBPortPool",
            // Managed by this test's namespace-scoped controller.
            "metadata": { "name": name, "labels": { MANAGED_BY: e2e.ns() } },
            "spec": spec,
        }),
    )
}

/// A StatefulSet whose Pods carry upstream's annotations.
fn annotated_statefulset(namespace: &str, name: &str, replicas: i32, mapping: &str) -> Value {
    json!({
        "apiVersion": "apps/v1", "kind": "StatefulSet",
        "metadata": { "name": name, "namespace": namespace },
        "spec": {
            "replicas": replicas, "serviceName": name,
            "selector": { "matchLabels": { "app": name } },
            "template": {
                "metadata": {
                    "labels": { "app": name },
                    "annotations": {
                        "networking.cloud.tencent.com/enable-clb-port-mapping": "true",
                        "networking.cloud.tencent.com/clb-port-mapping": mapping,
                    },
                },
                "spec": {
                    "tolerations": kwok_toleration(),
                    "containers": [{ "name": "server", "image": "gameserver:latest" }]
                }
            }
        }
    })
}

/// Waits until every Pod of `app` has its result annotation with `per_pod` entries and
/// `clb-port-mapping-status: Ready`; returns the parsed results by Pod.
async fn results(e2e: &E2e, app: &str, pods: usize, per_pod: usize) -> Vec<(String, Vec<Value>)> {
    let api: Api<Pod> = Api::namespaced(e2e.client.clone(), e2e.ns());
    eventually(
        WAIT,
        &format!("{pods} Pods of {app} with {per_pod} results each"),
        || async {
            let list = api
                .list(&ListParams::default().labels(&format!("app={app}")))
                .await
                .map_err(|e| e.to_string())?
                .items;
            if list.len() != pods {
                return Err(format!("{} Pods", list.len()));
            }
            let mut all = Vec::new();
            for pod in list {
                let annotations = pod.annotations().clone();
                if annotations.get(STATUS).map(String::as_str) != Some("Ready") {
                    return Err(format!("{} not Ready: {annotations:?}", pod.name_any()));
                }
                let result: Vec<Value> =
                    serde_json::from_str(&annotations[RESULT]).map_err(|e| e.to_string())?;
                if result.len() != per_pod {
                    return Err(format!("{}: {result:?}", pod.name_any()));
                }
                all.push((pod.name_any(), result));
            }
            Ok(all)
        },
    )
    .await
}

/// Every result entry is a listener in the cloud (read through the official SDK) at that CLB
/// and port, whose only target is the Pod at the entry's port, and its address is the CLB's
/// address and that port.
async fn matches_the_cloud(e2e: &E2e, results: &[(String, Vec<Value>)]) {
    let pods: Api<Pod> = Api::namespaced(e2e.client.clone(), e2e.ns());
    let cloud =
        support::cloud::sdk_listeners(&e2e.emulator.endpoint(), SEED_REGION, &SEED_LBS).await;
    for (pod, entries) in results {
        let ip = pods.get(pod).await.unwrap().status.unwrap().pod_ip.unwrap();
        for entry in entries {
            let listener = cloud
                .iter()
                .find(|l| {
                    l["listenerId"] == entry["listenerId"]
                        && l["loadbalancerId"] == entry["loadbalancerId"]
                        && l["port"] == entry["loadbalancerPort"]
                        && l["protocol"] == entry["protocol"]
                })
                .unwrap_or_else(|| panic!("no cloud listener for {entry} in {cloud:?}"));
            assert_eq!(
                listener["targets"],
                json!([format!("{ip}:{}", entry["port"])]),
                "{entry}"
            );
            let address = entry["address"].as_str().unwrap();
            assert!(
                address.ends_with(&format!(":{}", listener["port"])) && !address.starts_with(':'),
                "{entry}"
            );
            let keys: Vec<&str> = entry
                .as_object()
                .unwrap()
                .keys()
                .map(String::as_str)
                .collect();
            assert!(
                keys.contains(&"pool") && keys.contains(&"region") && keys.contains(&"ips"),
                "{keys:?}"
            );
        }
    }
}

async fn delete_pool(e2e: &E2e, name: &str) {
    let pools = kube::Api::<kube::api::DynamicObject>::all_with(
        e2e.client.clone(),
        &kube::discovery::ApiResource::from_gvk_with_plural(
            &kube::api::GroupVersionKind::gvk(
                "networking.cloud.tencent.com",
                "v1alpha1",
                "CLBPortPool",
            ),
            "clbportpools",
        ),
    );
    let _ = pools.delete(name, &DeleteParams::default()).await;
    eventually(WAIT, &format!("pool {name} gone"), || async {
        match pools.get_opt(name).await.map_err(|e| e.to_string())? {
            None => Ok(()),
            Some(_) => Err("still there".to_string()),
        }
    })
    .await;
}

#[tokio::test]
async fn upstreams_documented_pool_and_statefulset_bind_and_match_the_cloud() {
    let e2e = E2e::start("e2e-pool", emulator_config(50), CLB_ONLY).await;
    // examples/pool/ as a user applies it, but for the pool's name (pools are cluster-scoped,
    // and tests run side by side) and the namespace.
    let read = |path: &str| -> Vec<Value> {
        let text = std::fs::read_to_string(support::controller::repo_path(path)).unwrap();
        serde_saphyr::from_multiple(&text).unwrap()
    };
    let mut pool = read("examples/pool/clbportpool.yaml").remove(0);
    let pool_name = format!("{}-test", e2e.ns());
    pool["metadata"]["name"] = json!(pool_name);
    pool["metadata"]["labels"] = json!({ MANAGED_BY: e2e.ns() });
    apply_value(&e2e.client, pool).await;
    for mut document in read("examples/pool/gameserver.yaml") {
        if document.is_null() || document["kind"] == "Namespace" {
            continue;
        }
        document["metadata"]["namespace"] = json!(e2e.ns());
        let annotations = &mut document["spec"]["template"]["metadata"]["annotations"];
        let mapping = annotations["networking.cloud.tencent.com/clb-port-mapping"]
            .as_str()
            .unwrap()
            .replace("pool-test", &pool_name);
        annotations["networking.cloud.tencent.com/clb-port-mapping"] = json!(mapping);
        apply_value(&e2e.client, document).await;
    }

    let found = results(&e2e, "gameserver", 3, 3).await;
    matches_the_cloud(&e2e, &found).await;
    // TCPUDP: one port number and one CLB for both protocols.
    for (pod, entries) in &found {
        let both: Vec<&Value> = entries.iter().filter(|e| e["port"] == 7000).collect();
        assert_eq!(both.len(), 2, "{pod}: {entries:?}");
        assert_eq!(both[0]["loadbalancerPort"], both[1]["loadbalancerPort"]);
        assert_eq!(both[0]["loadbalancerId"], both[1]["loadbalancerId"]);
    }
    let bindings: Api<CLBPodBinding> = Api::namespaced(e2e.client.clone(), e2e.ns());
    let binding = bindings.get("gameserver-0").await.unwrap();
    assert_eq!(binding.status.unwrap().state, BindingState::Bound);

    // Scale down: the bindings and the listeners of the removed Pods go.
    e2e.scale("gameserver", 1).await;
    eventually(WAIT, "one Pod's 3 listeners left in the cloud", || async {
        let cloud = listeners(&e2e.cloud, SEED_REGION, &SEED_LBS).await?;
        if cloud.len() == 3 {
            Ok(())
        } else {
            Err(format!("{cloud:?}"))
        }
    })
    .await;
    e2e.scale("gameserver", 0).await;
    delete_pool(&e2e, &pool_name).await;
}

/// Isolation and retain: `enable-clb-port-mapping: "false"` takes the Pod off its listeners and
/// keeps them; `"true"` puts it back at the same address.
#[tokio::test]
async fn isolation_keeps_the_address_and_takes_the_target_off() {
    let e2e = E2e::start("e2e-pool-isolate", emulator_config(50), CLB_ONLY).await;
    let (pool_name, pool) = pool(
        &e2e,
        "iso",
        json!({ "startPort": 31000, "exsistedLoadBalancerIDs": ["lb-zzz"] }),
    );
    apply_value(&e2e.client, pool).await;
    let nodes: Api<k8s_openapi::api::core::v1::Node> = Api::all(e2e.client.clone());
    let node = nodes.list(&ListParams::default()).await.unwrap().items[0].name_any();
    let pods: Api<Pod> = Api::namespaced(e2e.client.clone(), e2e.ns());
    let pod: Pod = serde_json::from_value(json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {
            "name": "room-0", "labels": { "app": "room" },
            "annotations": {
                "networking.cloud.tencent.com/enable-clb-port-mapping": "true",
                "networking.cloud.tencent.com/clb-port-mapping": format!("7777 UDP {pool_name}\n"),
            },
        },
        "spec": { "nodeName": node, "tolerations": kwok_toleration(),
                  "containers": [{ "name": "server", "image": "gameserver:latest" }] },
    }))
    .unwrap();
    pods.create(&PostParams::default(), &pod).await.unwrap();
    let before = results(&e2e, "room", 1, 1).await;

    let toggle = |value: &str| {
        json!({ "metadata": { "annotations": {
        "networking.cloud.tencent.com/enable-clb-port-mapping": value } } })
    };
    pods.patch(
        "room-0",
        &PatchParams::default(),
        &Patch::Merge(&toggle("false")),
    )
    .await
    .unwrap();
    eventually(WAIT, "the target is off, the listener kept", || async {
        let cloud = listeners(&e2e.cloud, SEED_REGION, &["lb-zzz"]).await?;
        match cloud.as_slice() {
            [one] if one.targets.is_empty() => Ok(()),
            other => Err(format!("{other:?}")),
        }
    })
    .await;
    let bindings: Api<CLBPodBinding> = Api::namespaced(e2e.client.clone(), e2e.ns());
    eventually(WAIT, "the binding says Disabled", || async {
        let state = bindings
            .get("room-0")
            .await
            .map_err(|e| e.to_string())?
            .status
            .map(|s| s.state);
        if state == Some(BindingState::Disabled) {
            Ok(())
        } else {
            Err(format!("{state:?}"))
        }
    })
    .await;

    pods.patch(
        "room-0",
        &PatchParams::default(),
        &Patch::Merge(&toggle("true")),
    )
    .await
    .unwrap();
    eventually(WAIT, "the target is back", || async {
        let cloud = listeners(&e2e.cloud, SEED_REGION, &["lb-zzz"]).await?;
        match cloud.as_slice() {
            [one] if one.targets.len() == 1 => Ok(()),
            other => Err(format!("{other:?}")),
        }
    })
    .await;
    let after = results(&e2e, "room", 1, 1).await;
    assert_eq!(
        after[0].1[0]["address"], before[0].1[0]["address"],
        "the same address"
    );
    pods.delete("room-0", &DeleteParams::default().grace_period(0))
        .await
        .unwrap();
    delete_pool(&e2e, &pool_name).await;
}

/// One engine: a seed-API service and annotated Pods on the same CLB never get the same slot.
#[tokio::test]
async fn both_front_doors_share_one_allocation() {
    let e2e = E2e::start("e2e-pool-shared", emulator_config(50), CLB_ONLY).await;
    let ns = e2e.ns().to_string();
    // The same CLB and overlapping ranges for both APIs.
    let (pool_name, pool) = pool(
        &e2e,
        "shared",
        json!({
        "startPort": 501, "endPort": 520, "exsistedLoadBalancerIDs": ["lb-xxx"], "lbPolicy": "InOrder" }),
    );
    apply_value(&e2e.client, pool).await;
    apply_value(
        &e2e.client,
        annotated_statefulset(&ns, "pooled", 3, &format!("9000 TCPUDP {pool_name}")),
    )
    .await;
    apply_value(
        &e2e.client,
        support::fixtures::statefulset(&ns, "seeded", 3),
    )
    .await;
    let services: Api<dedicated_address_controller::crd::DedicatedCLBService> =
        Api::namespaced(e2e.client.clone(), &ns);
    let spec = json!({ "selector": { "app": "seeded" }, "ports": ports(), "lbRegion": SEED_REGION,
                       "minPort": 501, "maxPort": 520, "existedLbIds": ["lb-xxx"] });
    services
        .create(&PostParams::default(), &service(&ns, "seeded", spec))
        .await
        .unwrap();

    results(&e2e, "pooled", 3, 2).await;
    let children: Api<DedicatedCLBListener> = Api::namespaced(e2e.client.clone(), &ns);
    eventually(WAIT, "12 children, all bound, no slot twice", || async {
        let list = children
            .list(&ListParams::default())
            .await
            .map_err(|e| e.to_string())?
            .items;
        let bound = list
            .iter()
            .filter(|c| {
                c.status.as_ref().and_then(|s| s.state)
                    == Some(dedicated_address_controller::crd::ListenerState::Bound)
            })
            .count();
        let slots: BTreeSet<(Option<String>, Option<u16>, String)> = list
            .iter()
            .map(|c| {
                (
                    c.spec.lb_id.clone(),
                    c.spec.lb_port,
                    c.spec.protocol.as_str().to_string(),
                )
            })
            .collect();
        if list.len() == 12 && bound == 12 && slots.len() == 12 {
            Ok(())
        } else {
            Err(format!(
                "{} children, {bound} bound, {} distinct slots",
                list.len(),
                slots.len()
            ))
        }
    })
    .await;
    let cloud = listeners(&e2e.cloud, SEED_REGION, &["lb-xxx"])
        .await
        .unwrap();
    assert_eq!(cloud.len(), 12, "one listener per slot: {cloud:?}");
    // The pooled Pods go (their bindings and children with them), then the service.
    e2e.scale("pooled", 0).await;
    e2e.remove_services().await;
    delete_pool(&e2e, &pool_name).await;
}

/// The pool status: `Active`, every CLB `Running` with its addresses and how many slots are
/// allocated on it.
async fn pool_status(e2e: &E2e, name: &str) -> Value {
    let pools = kube::Api::<kube::api::DynamicObject>::all_with(
        e2e.client.clone(),
        &kube::discovery::ApiResource::from_gvk_with_plural(
            &kube::api::GroupVersionKind::gvk(
                "networking.cloud.tencent.com",
                "v1alpha1",
                "CLBPortPool",
            ),
            "clbportpools",
        ),
    );
    let pool = pools.get(name).await.unwrap();
    pool.data["status"].clone()
}

fn binding_state(binding: &CLBPodBinding) -> Option<BindingState> {
    binding.status.as_ref().map(|s| s.state.clone())
}

/// A bare Pod on a kwok node carrying the pool annotations (and `extra` ones).
async fn annotated_pod(e2e: &E2e, name: &str, app: &str, mapping: &str, extra: Value) {
    let nodes: Api<k8s_openapi::api::core::v1::Node> = Api::all(e2e.client.clone());
    let node = nodes.list(&ListParams::default()).await.unwrap().items[0].name_any();
    let mut annotations = json!({
        "networking.cloud.tencent.com/enable-clb-port-mapping": "true",
        "networking.cloud.tencent.com/clb-port-mapping": mapping,
    });
    annotations
        .as_object_mut()
        .unwrap()
        .extend(extra.as_object().cloned().unwrap_or_default());
    let pod: Pod = serde_json::from_value(json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": { "name": name, "labels": { "app": app }, "annotations": annotations },
        "spec": { "nodeName": node, "tolerations": kwok_toleration(),
                  "containers": [{ "name": "server", "image": "gameserver:latest" }] },
    }))
    .unwrap();
    let pods: Api<Pod> = Api::namespaced(e2e.client.clone(), e2e.ns());
    pods.create(&PostParams::default(), &pod).await.unwrap();
}

/// A malformed line, an unknown pool: an Event on the Pod and a status on its binding naming
/// it, while the Pod's other ports bind.
#[tokio::test]
async fn a_bad_line_is_named_and_the_other_ports_bind() {
    let e2e = E2e::start("e2e-pool-badline", emulator_config(50), CLB_ONLY).await;
    let (pool_name, pool) = pool(
        &e2e,
        "bad",
        json!({ "startPort": 32000, "exsistedLoadBalancerIDs": ["lb-yyy"] }),
    );
    apply_value(&e2e.client, pool).await;
    let mapping = format!(
        "7000 TCP {pool_name}\n70x00 UDP {pool_name}\n7001 UDP no-such-pool-{}\n",
        e2e.ns()
    );
    annotated_pod(&e2e, "mixed-0", "mixed", &mapping, json!({})).await;
    // The good line binds (the result carries it alone; the status is not Ready: not all ports).
    let bindings: Api<CLBPodBinding> = Api::namespaced(e2e.client.clone(), e2e.ns());
    eventually(
        WAIT,
        "the binding names the bad lines, the good one is bound",
        || async {
            let binding = bindings.get("mixed-0").await.map_err(|e| e.to_string())?;
            let status = binding.status.clone().unwrap_or_default();
            let message = status.message.clone().unwrap_or_default();
            let bound = status
                .port_bindings
                .iter()
                .any(|p| p.port == 7000 && !p.listener_id.is_empty());
            if message.contains("70x00") && message.contains("no-such-pool") && bound {
                Ok(())
            } else {
                Err(format!("{status:?}"))
            }
        },
    )
    .await;
    let events: Api<k8s_openapi::api::events::v1::Event> =
        Api::namespaced(e2e.client.clone(), e2e.ns());
    eventually(WAIT, "an Event on the Pod names the bad line", || async {
        let found = events
            .list(&ListParams::default())
            .await
            .map_err(|e| e.to_string())?
            .items;
        let on_pod = found.iter().any(|e| {
            e.regarding.as_ref().and_then(|r| r.name.as_deref()) == Some("mixed-0")
                && e.regarding.as_ref().and_then(|r| r.kind.as_deref()) == Some("Pod")
                && e.note.as_deref().is_some_and(|n| n.contains("70x00"))
        });
        if on_pod {
            Ok(())
        } else {
            Err(format!("{} events", found.len()))
        }
    })
    .await;
    let pods: Api<Pod> = Api::namespaced(e2e.client.clone(), e2e.ns());
    pods.delete("mixed-0", &DeleteParams::default().grace_period(0))
        .await
        .unwrap();
    delete_pool(&e2e, &pool_name).await;
}

/// Retain: the binding (and its address) outlives the Pod, and a Pod of the same name takes it
/// back.
#[tokio::test]
async fn a_retained_binding_keeps_the_address_for_the_next_pod_of_that_name() {
    let e2e = E2e::start("e2e-pool-retain", emulator_config(50), CLB_ONLY).await;
    let (pool_name, pool) = pool(
        &e2e,
        "retain",
        json!({ "startPort": 33000, "exsistedLoadBalancerIDs": ["lb-xxx"] }),
    );
    apply_value(&e2e.client, pool).await;
    let retain = json!({ "networking.cloud.tencent.com/retain": "true" });
    annotated_pod(
        &e2e,
        "keeper-0",
        "keeper",
        &format!("7000 UDP {pool_name}"),
        retain.clone(),
    )
    .await;
    let before = results(&e2e, "keeper", 1, 1).await;
    let pods: Api<Pod> = Api::namespaced(e2e.client.clone(), e2e.ns());
    pods.delete("keeper-0", &DeleteParams::default().grace_period(0))
        .await
        .unwrap();
    let bindings: Api<CLBPodBinding> = Api::namespaced(e2e.client.clone(), e2e.ns());
    eventually(WAIT, "the binding stays, NoBackend", || async {
        let state = bindings.get("keeper-0").await.map_err(|e| e.to_string())?;
        let state = binding_state(&state);
        if state == Some(BindingState::NoBackend) {
            Ok(())
        } else {
            Err(format!("{state:?}"))
        }
    })
    .await;
    annotated_pod(
        &e2e,
        "keeper-0",
        "keeper",
        &format!("7000 UDP {pool_name}"),
        retain,
    )
    .await;
    let after = results(&e2e, "keeper", 1, 1).await;
    assert_eq!(
        after[0].1[0]["address"], before[0].1[0]["address"],
        "the same address"
    );
    assert_eq!(
        after[0].1[0]["listenerId"], before[0].1[0]["listenerId"],
        "the same listener"
    );
    // Retained bindings are the user's to remove.
    bindings
        .delete("keeper-0", &DeleteParams::default())
        .await
        .unwrap();
    pods.delete("keeper-0", &DeleteParams::default().grace_period(0))
        .await
        .unwrap();
    delete_pool(&e2e, &pool_name).await;
}

/// Multi-ISP: the same public port number in two pools (`useSamePortAcrossPools`), for TCP and
/// UDP (`TCPUDP`).
#[tokio::test]
async fn two_pools_give_the_same_port_number() {
    let e2e = E2e::start("e2e-pool-multi", emulator_config(50), CLB_ONLY).await;
    let (ctcc, pool_a) = pool(
        &e2e,
        "ctcc",
        json!({ "startPort": 34000, "exsistedLoadBalancerIDs": ["lb-xxx"] }),
    );
    let (cmcc, pool_b) = pool(
        &e2e,
        "cmcc",
        json!({ "startPort": 34000, "exsistedLoadBalancerIDs": ["lb-yyy"] }),
    );
    apply_value(&e2e.client, pool_a).await;
    apply_value(&e2e.client, pool_b).await;
    // Make 34000 and 34001 busy on lb-yyy only, by a console listener and an unrelated pool Pod.
    let busy = dac_tencentcloud::models::clb::CreateListenerRequest {
        load_balancer_id: "lb-yyy".into(),
        ports: vec![34000, 34001],
        protocol: "UDP".into(),
        listener_names: Some(vec!["console-a".into(), "console-b".into()]),
        ..Default::default()
    };
    let created = e2e.cloud.create_listener(SEED_REGION, &busy).await.unwrap();
    e2e.cloud
        .wait_clb_task(
            SEED_REGION,
            &created.request_id,
            tokio::time::Instant::now() + Duration::from_secs(10),
        )
        .await
        .unwrap();
    let mapping = format!("7000 TCPUDP {ctcc},{cmcc} useSamePortAcrossPools");
    annotated_pod(&e2e, "isp-0", "isp", &mapping, json!({})).await;
    let found = results(&e2e, "isp", 1, 4).await;
    let ports: BTreeSet<u64> = found[0]
        .1
        .iter()
        .map(|e| e["loadbalancerPort"].as_u64().unwrap())
        .collect();
    assert_eq!(
        ports.len(),
        1,
        "one port number everywhere: {:?}",
        found[0].1
    );
    assert_eq!(
        ports.into_iter().next(),
        Some(34002),
        "the lowest both pools can give"
    );
    let pods: Api<Pod> = Api::namespaced(e2e.client.clone(), e2e.ns());
    pods.delete("isp-0", &DeleteParams::default().grace_period(0))
        .await
        .unwrap();
    delete_pool(&e2e, &ctcc).await;
    delete_pool(&e2e, &cmcc).await;
}

/// Past upstream: a pool whose frontends are NAT gateways, behind the same annotations.
#[tokio::test]
async fn a_natgw_pool_serves_the_same_annotations() {
    let natgw = "  natgw:\n    enabled: true\n    batchWindowMs: 100\n    gateways:\n      - id: nat-demo0001\n        minPort: 10000\n        maxPort: 10099\n";
    let e2e = E2e::start("e2e-pool-nat", emulator_config(50), natgw).await;
    let name = format!("{}-nat", e2e.ns());
    apply_value(&e2e.client, json!({
        "apiVersion": "networking.cloud.tencent.com/v1alpha1", "kind": "CLBPortPool",
        "metadata": { "name": name, "labels": { MANAGED_BY: e2e.ns() } },
        "spec": { "provider": "natgw", "startPort": 10000, "endPort": 10099, "natGatewayIds": ["nat-demo0001"] },
    }))
    .await;
    apply_value(
        &e2e.client,
        annotated_statefulset(e2e.ns(), "natted", 2, &format!("7000 UDP {name}")),
    )
    .await;
    let found = results(&e2e, "natted", 2, 1).await;
    let rules = support::cloud::dnat_rules(&e2e.cloud, "ap-guangzhou", "nat-demo0001")
        .await
        .unwrap();
    assert_eq!(rules.len(), 2, "{rules:?}");
    for (_, entries) in &found {
        let address = entries[0]["address"].as_str().unwrap();
        assert!(
            address.ends_with(&format!(":{}", entries[0]["loadbalancerPort"])),
            "{address}"
        );
        assert_eq!(entries[0]["loadbalancerId"], "nat-demo0001");
    }
    e2e.scale("natted", 0).await;
    eventually(WAIT, "the rules are released", || async {
        let rules = support::cloud::dnat_rules(&e2e.cloud, "ap-guangzhou", "nat-demo0001").await?;
        if rules.is_empty() {
            Ok(())
        } else {
            Err(format!("{rules:?}"))
        }
    })
    .await;
    delete_pool(&e2e, &name).await;
}

/// Blacklist and a CLB gone out of band: no new slot on a blacklisted CLB (existing ones stay);
/// a pool CLB deleted in the console becomes `NotFound` and its Pods move to the others.
#[tokio::test]
async fn blacklisted_and_vanished_clbs() {
    let e2e = E2e::start("e2e-pool-lbs", emulator_config(50), CLB_ONLY).await;
    let (name, pool) = pool(
        &e2e,
        "lbs",
        json!({
        "startPort": 35000, "exsistedLoadBalancerIDs": ["lb-xxx", "lb-yyy", "lb-zzz"], "lbPolicy": "Uniform" }),
    );
    apply_value(&e2e.client, pool).await;
    apply_value(
        &e2e.client,
        annotated_statefulset(e2e.ns(), "spread", 3, &format!("7000 TCP {name}")),
    )
    .await;
    let first = results(&e2e, "spread", 3, 1).await;
    let on: BTreeSet<String> = first
        .iter()
        .map(|(_, e)| e[0]["loadbalancerId"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(on.len(), 3, "Uniform spreads over the three: {first:?}");

    // Blacklist lb-xxx: its Pod stays; new Pods go elsewhere.
    let pools = kube::Api::<kube::api::DynamicObject>::all_with(
        e2e.client.clone(),
        &kube::discovery::ApiResource::from_gvk_with_plural(
            &kube::api::GroupVersionKind::gvk(
                "networking.cloud.tencent.com",
                "v1alpha1",
                "CLBPortPool",
            ),
            "clbportpools",
        ),
    );
    let blacklist = json!({ "spec": { "lbBlacklist": ["lb-xxx"] } });
    pools
        .patch(&name, &PatchParams::default(), &Patch::Merge(&blacklist))
        .await
        .unwrap();
    e2e.scale("spread", 6).await;
    let six = results(&e2e, "spread", 6, 1).await;
    let on_xxx = six
        .iter()
        .filter(|(_, e)| e[0]["loadbalancerId"] == "lb-xxx")
        .count();
    assert_eq!(on_xxx, 1, "only the Pod bound before: {six:?}");

    // lb-zzz is deleted in the console: NotFound in the pool, its Pods move.
    support::cloud::delete_load_balancer(&e2e.cloud, SEED_REGION, "lb-zzz").await;
    eventually(
        Duration::from_secs(180),
        "lb-zzz NotFound, nothing bound on it",
        || async {
            let status = pool_status(&e2e, &name).await;
            let zzz = status["loadbalancerStatuses"].as_array().and_then(|all| {
                all.iter()
                    .find(|lb| lb["loadbalancerID"] == "lb-zzz")
                    .cloned()
            });
            let not_found = zzz.as_ref().is_some_and(|lb| lb["state"] == "NotFound");
            let pods: Api<Pod> = Api::namespaced(e2e.client.clone(), e2e.ns());
            let list = pods
                .list(&ListParams::default().labels("app=spread"))
                .await
                .map_err(|e| e.to_string())?
                .items;
            let on_zzz = list
                .iter()
                .filter(|p| {
                    p.annotations()
                        .get(RESULT)
                        .is_some_and(|r| r.contains("lb-zzz"))
                })
                .count();
            if not_found && on_zzz == 0 {
                Ok(())
            } else {
                Err(format!("{zzz:?}; {on_zzz} Pods still on lb-zzz"))
            }
        },
    )
    .await;
    results(&e2e, "spread", 6, 1).await;
    e2e.scale("spread", 0).await;
    delete_pool(&e2e, &name).await;
}

/// The CLBs of the region carrying tag `key=value`.
async fn tagged_load_balancers(e2e: &E2e, key: &str, value: &str) -> Vec<String> {
    let request = dac_tencentcloud::models::clb::DescribeLoadBalancersRequest {
        filters: Some(vec![dac_tencentcloud::models::Filter {
            name: format!("tag:{key}"),
            values: vec![value.to_string()],
        }]),
        limit: Some(100),
        ..Default::default()
    };
    e2e.cloud
        .describe_load_balancers(SEED_REGION, &request)
        .await
        .unwrap()
        .load_balancer_set
        .into_iter()
        .filter_map(|lb| lb.load_balancer_id)
        .collect()
}

/// A pool that runs short creates CLBs (tagged, at most `maxLoadBalancers`); deleting the pool
/// deletes them, and leaves the CLBs it was given alone.
#[tokio::test]
async fn a_pool_grows_within_its_cap_and_takes_what_it_made_when_it_goes() {
    let mut cloud = emulator_config(50);
    cloud.settings.listener_quota = 4;
    cloud.settings.load_balancer_create_ms = Some(500);
    let e2e = E2e::start("e2e-pool-grow", cloud, CLB_ONLY).await;
    let (name, pool) = pool(
        &e2e,
        "grow",
        json!({
            "startPort": 36000, "exsistedLoadBalancerIDs": ["lb-xxx"],
            "autoCreate": { "enabled": true, "maxLoadBalancers": 2, "parameters": { "loadBalancerType": "OPEN" } },
        }),
    );
    apply_value(&e2e.client, pool).await;
    apply_value(
        &e2e.client,
        annotated_statefulset(e2e.ns(), "crowd", 14, &format!("7000 TCP {name}")),
    )
    .await;

    // 4 listeners per CLB: lb-xxx and two created ones hold 12; two Pods find no port.
    let bindings: Api<CLBPodBinding> = Api::namespaced(e2e.client.clone(), e2e.ns());
    eventually(
        Duration::from_secs(240),
        "12 bound, 2 NoPortAvailable",
        || async {
            let list = bindings
                .list(&ListParams::default())
                .await
                .map_err(|e| e.to_string())?
                .items;
            let count = |state: BindingState| {
                list.iter()
                    .filter(|b| binding_state(b) == Some(state.clone()))
                    .count()
            };
            let (bound, short) = (
                count(BindingState::Bound),
                count(BindingState::NoPortAvailable),
            );
            if bound == 12 && short == 2 {
                Ok(())
            } else {
                Err(format!("{bound} bound, {short} short"))
            }
        },
    )
    .await;
    let made = tagged_load_balancers(&e2e, "dac-clbportpool", &name).await;
    assert_eq!(made.len(), 2, "capped at maxLoadBalancers: {made:?}");
    let status = pool_status(&e2e, &name).await;
    let auto: Vec<&Value> = status["loadbalancerStatuses"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|lb| lb["autoCreated"] == true)
        .collect();
    assert_eq!(auto.len(), 2, "{status}");

    // The pool goes: its Pods give their slots up, the CLBs it made go, lb-xxx stays.
    e2e.scale("crowd", 0).await;
    delete_pool(&e2e, &name).await;
    eventually(WAIT, "the created CLBs deleted", || async {
        let left = tagged_load_balancers(&e2e, "dac-clbportpool", &name).await;
        if left.is_empty() {
            Ok(())
        } else {
            Err(format!("{left:?}"))
        }
    })
    .await;
    let request = dac_tencentcloud::models::clb::DescribeLoadBalancersRequest {
        load_balancer_ids: Some(vec!["lb-xxx".to_string()]),
        ..Default::default()
    };
    let kept = e2e
        .cloud
        .describe_load_balancers(SEED_REGION, &request)
        .await
        .unwrap();
    assert_eq!(
        kept.load_balancer_set.len(),
        1,
        "lb-xxx is not the pool's to delete"
    );
}

/// Killed while a CLB is being made and Pods are being bound: the restarted controller finds the
/// CLB it made (by its tags) instead of making another, and binds every Pod once.
#[tokio::test]
async fn a_controller_killed_while_growing_a_pool_makes_nothing_twice() {
    let mut cloud = emulator_config(300);
    cloud.settings.listener_quota = 4;
    cloud.settings.load_balancer_create_ms = Some(3000);
    let mut e2e = E2e::start("e2e-pool-kill", cloud, CLB_ONLY).await;
    let (name, pool) = pool(
        &e2e,
        "kill",
        json!({
            "startPort": 37000, "exsistedLoadBalancerIDs": ["lb-xxx"],
            "autoCreate": { "enabled": true, "maxLoadBalancers": 3 },
        }),
    );
    apply_value(&e2e.client, pool).await;
    apply_value(
        &e2e.client,
        annotated_statefulset(e2e.ns(), "crowd", 8, &format!("7000 TCP {name}")),
    )
    .await;

    // lb-xxx holds 4; the other 4 Pods wait for the CLB being made.
    eventually(WAIT, "a CLB being made for the pool", || async {
        let made = tagged_load_balancers(&e2e, "dac-clbportpool", &name).await;
        if made.is_empty() {
            Err("none yet".to_string())
        } else {
            Ok(())
        }
    })
    .await;
    e2e.controller.kill();
    tokio::time::sleep(Duration::from_millis(800)).await;
    e2e.controller.restart();

    let found = results(&e2e, "crowd", 8, 1).await;
    let made = tagged_load_balancers(&e2e, "dac-clbportpool", &name).await;
    assert_eq!(made.len(), 1, "one CLB is enough for 4 more Pods: {made:?}");
    let mut all = SEED_LBS.to_vec();
    all.extend(made.iter().map(String::as_str));
    let cloud = listeners(&e2e.cloud, SEED_REGION, &all).await.unwrap();
    let slots: BTreeSet<(String, u16)> = cloud.iter().map(|l| (l.lb_id.clone(), l.port)).collect();
    assert_eq!(slots.len(), cloud.len(), "no duplicate listener: {cloud:?}");
    assert_eq!(
        cloud.len(),
        8,
        "one listener per Pod, none leaked: {cloud:?}"
    );
    let addresses: BTreeSet<String> = found
        .iter()
        .map(|(_, e)| e[0]["address"].to_string())
        .collect();
    assert_eq!(addresses.len(), 8, "every Pod its own address: {found:?}");

    e2e.scale("crowd", 0).await;
    delete_pool(&e2e, &name).await;
    eventually(WAIT, "the made CLB deleted", || async {
        let left = tagged_load_balancers(&e2e, "dac-clbportpool", &name).await;
        if left.is_empty() {
            Ok(())
        } else {
            Err(format!("{left:?}"))
        }
    })
    .await;
}
