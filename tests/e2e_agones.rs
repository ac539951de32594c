//! End to end with Agones' `GameServer` kind: when `agones.dev/v1` `GameServer` is served, the
//! address annotations of a Pod labelled `agones.dev/gameserver: <name>` are also written to that
//! GameServer, through either front door (pool annotations or a `DedicatedCLBService`). A
//! GameServer without such a Pod is left alone, and writing the annotations leaves the rest of
//! the GameServer as it was.
//!
//! Agones' own CRD cannot be read from its Go module (the module proxy refuses agones.dev/agones),
//! so `tests/agones/gameserver-crd.yaml` is written from Agones' documented API; see its header.
mod support;

use dedicated_address_controller::crd::DedicatedCLBService;
use k8s_openapi::api::core::v1::{Node, Pod};
use kube::ResourceExt;
use kube::api::{Api, DeleteParams, DynamicObject, ListParams, PostParams};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::time::Duration;
use support::controller::{apply_value, repo_path};
use support::e2e::{CLB_ONLY, E2e, SEED_REGION, emulator_config};
use support::eventually;
use support::fixtures::{kwok_toleration, service};
use support::frameworks::{as_json, dynamic, dynamic_all, install_crds};

const WAIT: Duration = Duration::from_secs(90);
const RESULT: &str = "networking.cloud.tencent.com/clb-port-mapping-result";
const STATUS: &str = "networking.cloud.tencent.com/clb-port-mapping-status";
const MANAGED_BY: &str = "networking.cloud.tencent.com/controller-namespace";
const MAPPING: &str = "networking.cloud.tencent.com/clb-port-mapping";
const ADDRESS_9000: &str = "networking.cloud.tencent.com/external-address-9000";
const ADDRESS_8000: &str = "networking.cloud.tencent.com/external-address-8000";

async fn start(prefix: &str) -> E2e {
    // Served before the controller starts, as in a cluster where Agones is installed.
    install_crds(
        &support::client().await,
        &[repo_path("tests/agones/gameserver-crd.yaml")],
    )
    .await;
    E2e::start(prefix, emulator_config(50), CLB_ONLY).await
}

/// `examples/agones/fleet.yaml`: its CLBPortPool and its Fleet.
fn fleet_example() -> (Value, Value) {
    let text = std::fs::read_to_string(repo_path("examples/agones/fleet.yaml")).unwrap();
    let documents: Vec<Value> = serde_saphyr::from_multiple(&text).unwrap();
    let find = |kind: &str| {
        documents
            .iter()
            .find(|d| d["kind"] == kind)
            .cloned()
            .unwrap_or_else(|| panic!("a {kind} in examples/agones/fleet.yaml"))
    };
    (find("CLBPortPool"), find("Fleet"))
}

fn game_servers(e2e: &E2e) -> Api<DynamicObject> {
    dynamic(
        &e2e.client,
        e2e.ns(),
        "agones.dev",
        "v1",
        "GameServer",
        "gameservers",
    )
}

/// A GameServer as Agones keeps one for a Fleet's replica, with a field of a future Agones in
/// spec and in status (the CRD keeps unknown fields, as Agones' does).
fn game_server(ns: &str, name: &str) -> Value {
    json!({
        "apiVersion": "agones.dev/v1", "kind": "GameServer",
        "metadata": { "name": name, "namespace": ns, "labels": { "agones.dev/fleet": "rooms" } },
        "spec": {
            "container": "server",
            "ports": [{ "name": "default", "portPolicy": "None", "containerPort": 7777, "protocol": "UDP" }],
            "health": { "disabled": true },
            "scheduling": "Packed",
            "sdkServer": { "logLevel": "Info", "grpcPort": 9357, "httpPort": 9358 },
            "template": { "spec": { "containers": [{ "name": "server", "image": "gameserver:latest" }] } },
            "aFieldOfANewerAgones": { "kept": true },
        },
        "status": {
            "state": "Scheduled", "address": "10.244.0.10", "nodeName": "kwok-node-0",
            "ports": [{ "name": "default", "port": 7777 }],
            "aStatusOfANewerAgones": "kept",
        },
    })
}

/// The GameServer's Pod, as Agones makes it (named after it, labelled with its name), with
/// `annotations` and `labels` from the Fleet's template.
async fn game_server_pod(e2e: &E2e, name: &str, labels: Value, annotations: Value) -> Pod {
    let nodes: Api<Node> = Api::all(e2e.client.clone());
    let node = nodes.list(&ListParams::default()).await.unwrap().items[0].name_any();
    let mut labels = labels;
    labels["agones.dev/gameserver"] = json!(name);
    labels["agones.dev/role"] = json!("gameserver");
    let pod: Pod = serde_json::from_value(json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": { "name": name, "namespace": e2e.ns(), "labels": labels, "annotations": annotations },
        "spec": {
            "nodeName": node, "tolerations": kwok_toleration(),
            "containers": [{ "name": "server", "image": "gameserver:latest" }],
        },
    }))
    .unwrap();
    let pods: Api<Pod> = Api::namespaced(e2e.client.clone(), e2e.ns());
    pods.create(&PostParams::default(), &pod).await.unwrap()
}

/// Waits until the Pod has every one of `keys`, and the GameServer has them with the same
/// values; returns them.
async fn mirrored(e2e: &E2e, name: &str, keys: &[&str]) -> BTreeMap<String, String> {
    let pods: Api<Pod> = Api::namespaced(e2e.client.clone(), e2e.ns());
    let game_servers = game_servers(e2e);
    eventually(
        WAIT,
        &format!("{keys:?} on Pod {name} and on its GameServer"),
        || async {
            let pod = pods.get(name).await.map_err(|e| e.to_string())?;
            let on_pod: BTreeMap<String, String> = keys
                .iter()
                .filter_map(|k| Some((k.to_string(), pod.annotations().get(*k)?.clone())))
                .collect();
            if on_pod.len() != keys.len() {
                return Err(format!("Pod: {:?}", pod.annotations()));
            }
            let gs = game_servers.get(name).await.map_err(|e| e.to_string())?;
            let on_gs: BTreeMap<String, String> = keys
                .iter()
                .filter_map(|k| Some((k.to_string(), gs.annotations().get(*k)?.clone())))
                .collect();
            if on_gs == on_pod {
                Ok(on_pod)
            } else {
                Err(format!("Pod {on_pod:?}, GameServer {:?}", gs.annotations()))
            }
        },
    )
    .await
}

/// The GameServer's spec and status, which the controller must leave as they were.
async fn spec_and_status(api: &Api<DynamicObject>, name: &str) -> (Value, Value) {
    let gs = as_json(&api.get(name).await.unwrap());
    (gs["spec"].clone(), gs["status"].clone())
}

#[tokio::test]
async fn a_pool_pods_result_lands_on_its_game_server_and_nothing_else_changes() {
    let e2e = start("e2e-agones").await;
    let ns = e2e.ns().to_string();
    // examples/agones/fleet.yaml's pool, and its Fleet's Pod annotations, with the pool renamed
    // for this test (pools are cluster-scoped; tests run side by side).
    let (mut pool_doc, fleet) = fleet_example();
    let example_pool = pool_doc["metadata"]["name"].as_str().unwrap().to_string();
    let pool = format!("{ns}-rooms");
    pool_doc["metadata"]["name"] = json!(pool);
    // Managed by this test's namespace-scoped controller.
    pool_doc["metadata"]["labels"] = json!({ MANAGED_BY: ns });
    apply_value(&e2e.client, pool_doc).await;
    let mut annotations =
        fleet["spec"]["template"]["spec"]["template"]["metadata"]["annotations"].clone();
    let mapping = annotations[MAPPING]
        .as_str()
        .unwrap()
        .replace(&example_pool, &pool);
    annotations[MAPPING] = json!(mapping);
    let game_servers = game_servers(&e2e);
    for name in ["rooms-abcde", "rooms-lonely"] {
        apply_value(&e2e.client, game_server(&ns, name)).await;
    }
    let (spec, status) = spec_and_status(&game_servers, "rooms-abcde").await;
    game_server_pod(
        &e2e,
        "rooms-abcde",
        json!({ "agones.dev/fleet": "rooms" }),
        annotations,
    )
    .await;

    let found = mirrored(&e2e, "rooms-abcde", &[RESULT, STATUS]).await;
    assert_eq!(found[STATUS], "Ready");
    let result: Vec<Value> = serde_json::from_str(&found[RESULT]).unwrap();
    assert_eq!(result.len(), 1, "{result:?}");
    assert_eq!(result[0]["port"], 7777);
    assert_eq!(result[0]["loadbalancerId"], "lb-zzz");
    assert_eq!(
        spec_and_status(&game_servers, "rooms-abcde").await,
        (spec, status),
        "the GameServer's spec and status are as they were, unknown fields included"
    );

    // No Pod names rooms-lonely: the controller leaves it alone.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let lonely = game_servers.get("rooms-lonely").await.unwrap();
    let ours: Vec<&String> = lonely
        .annotations()
        .keys()
        .filter(|k| k.starts_with("networking.cloud.tencent.com/"))
        .collect();
    assert!(ours.is_empty(), "rooms-lonely got {ours:?}");

    let pods: Api<Pod> = Api::namespaced(e2e.client.clone(), &ns);
    pods.delete("rooms-abcde", &DeleteParams::default().grace_period(0))
        .await
        .unwrap();
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

/// A GameServer `duel-xyz` and its Pod, selected by a `DedicatedCLBService` whose two ports
/// name their address annotations; returns once both addresses are on the GameServer, having
/// checked its spec and status are untouched.
async fn seed_api_game_server(prefix: &str) -> E2e {
    let e2e = start(prefix).await;
    let ns = e2e.ns().to_string();
    let game_servers = game_servers(&e2e);
    apply_value(&e2e.client, game_server(&ns, "duel-xyz")).await;
    let (spec, status) = spec_and_status(&game_servers, "duel-xyz").await;
    game_server_pod(&e2e, "duel-xyz", json!({ "app": "duel" }), json!({})).await;
    let services: Api<DedicatedCLBService> = Api::namespaced(e2e.client.clone(), &ns);
    let spec_of_service = json!({
        "selector": { "app": "duel" }, "lbRegion": SEED_REGION,
        "minPort": 601, "maxPort": 700, "existedLbIds": ["lb-yyy"],
        "ports": [
            { "protocol": "TCP", "targetPort": 9000, "addressPodAnnotation": ADDRESS_9000 },
            { "protocol": "UDP", "targetPort": 8000, "addressPodAnnotation": ADDRESS_8000 },
        ],
    });
    services
        .create(
            &PostParams::default(),
            &service(&ns, "duel", spec_of_service),
        )
        .await
        .unwrap();

    let found = mirrored(&e2e, "duel-xyz", &[ADDRESS_9000, ADDRESS_8000]).await;
    for address in found.values() {
        assert!(address.starts_with("203.0.113.12:"), "{found:?}");
    }
    assert_eq!(
        spec_and_status(&game_servers, "duel-xyz").await,
        (spec, status)
    );
    e2e
}

#[tokio::test]
async fn a_seed_api_pods_addresses_land_on_its_game_server() {
    let e2e = seed_api_game_server("e2e-agones-seed").await;
    e2e.remove_services().await;
}

/// The service goes: the Pod's addresses are taken away, and the GameServer's must go with
/// them (an allocation must not hand out an address the Pod no longer has).
#[tokio::test]
async fn an_address_taken_from_the_pod_is_taken_from_its_game_server() {
    let e2e = seed_api_game_server("e2e-agones-gone").await;
    e2e.remove_services().await;
    let pods: Api<Pod> = Api::namespaced(e2e.client.clone(), e2e.ns());
    let game_servers = game_servers(&e2e);
    eventually(
        WAIT,
        "no address left on the Pod or its GameServer",
        || async {
            let pod = pods.get("duel-xyz").await.map_err(|e| e.to_string())?;
            let gs = game_servers
                .get("duel-xyz")
                .await
                .map_err(|e| e.to_string())?;
            let left: Vec<String> = [ADDRESS_9000, ADDRESS_8000]
                .iter()
                .flat_map(|key| {
                    let on_pod = pod
                        .annotations()
                        .get(*key)
                        .map(|v| format!("Pod {key}={v}"));
                    let on_gs = gs
                        .annotations()
                        .get(*key)
                        .map(|v| format!("GameServer {key}={v}"));
                    on_pod.into_iter().chain(on_gs)
                })
                .collect();
            if left.is_empty() {
                Ok(())
            } else {
                Err(format!("{left:?}"))
            }
        },
    )
    .await;
}
