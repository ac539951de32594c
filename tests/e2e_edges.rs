//! End to end: the edges where an address used to get lost. A StatefulSet starting at ordinal
//! 1, an OpenKruise Advanced StatefulSet (with reserved ordinals) whose Pod is recreated, a
//! finished Pod, and a Pod whose name is too long for a label value on the `eip` provider.
mod support;

use dedicated_address_controller::crd::{DedicatedCLBListener, DedicatedCLBService, ListenerState};
use k8s_openapi::api::core::v1::{Node, Pod};
use kube::ResourceExt;
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams};
use serde_json::json;
use std::collections::BTreeMap;
use std::time::Duration;
use support::controller::{apply_file, apply_value};
use support::e2e::{CLB_ONLY, E2e, SEED_REGION, emulator_config};
use support::eventually;
use support::fixtures::{kwok_toleration, ports, service, statefulset};

const WAIT: Duration = Duration::from_secs(90);

/// The bound address of every child, by child name, once exactly `count` are bound; with the
/// child's uid and the cloud's listener id, so that "kept its slot" means the very same child
/// and listener, not a new one that happened to land on the same port.
async fn bound_addresses(e2e: &E2e, count: usize) -> BTreeMap<String, String> {
    let children: Api<DedicatedCLBListener> = Api::namespaced(e2e.client.clone(), e2e.ns());
    eventually(WAIT, &format!("{count} children bound"), || async {
        let list = children
            .list(&ListParams::default())
            .await
            .map_err(|e| e.to_string())?
            .items;
        let bound: BTreeMap<String, String> = list
            .iter()
            .filter(|c| c.status.as_ref().and_then(|s| s.state) == Some(ListenerState::Bound))
            .filter_map(|c| {
                let status = c.status.as_ref()?;
                let identity = format!(
                    "{} uid={} listener={}",
                    status.address.clone()?,
                    c.uid()?,
                    status.listener_id.clone()?
                );
                Some((c.name_any(), identity))
            })
            .collect();
        if list.len() == count && bound.len() == count {
            Ok(bound)
        } else {
            let states: Vec<String> = list
                .iter()
                .map(|c| {
                    format!(
                        "{}={:?}",
                        c.name_any(),
                        c.status.as_ref().and_then(|s| s.state)
                    )
                })
                .collect();
            Err(format!("{} children: {states:?}", list.len()))
        }
    })
    .await
}

/// Deletes Pod `name` and waits until a new Pod of that name (another uid) exists.
async fn recreate(e2e: &E2e, name: &str, recreate_by_hand: Option<&Pod>) {
    let pods: Api<Pod> = Api::namespaced(e2e.client.clone(), e2e.ns());
    let old = pods.get(name).await.unwrap().uid();
    pods.delete(name, &DeleteParams::default().grace_period(0))
        .await
        .unwrap();
    if let Some(pod) = recreate_by_hand {
        eventually(WAIT, &format!("{name} gone"), || async {
            match pods.get_opt(name).await.map_err(|e| e.to_string())? {
                None => Ok(()),
                Some(_) => Err("still there".to_string()),
            }
        })
        .await;
        let mut pod = pod.clone();
        pod.metadata.resource_version = None;
        pod.metadata.uid = None;
        pod.status = None;
        pods.create(&PostParams::default(), &pod).await.unwrap();
    }
    eventually(WAIT, &format!("{name} recreated"), || async {
        let pod = pods.get(name).await.map_err(|e| e.to_string())?;
        if pod.uid() != old {
            Ok(())
        } else {
            Err("still the old Pod".to_string())
        }
    })
    .await;
}

fn clb_spec(app: &str, lb: &str) -> serde_json::Value {
    json!({
        "selector": { "app": app }, "ports": ports(), "lbRegion": SEED_REGION,
        "minPort": 501, "maxPort": 600, "existedLbIds": [lb],
    })
}

#[tokio::test]
async fn a_statefulset_starting_at_ordinal_one_keeps_its_slots() {
    let e2e = E2e::start("e2e-ordinals", emulator_config(50), CLB_ONLY).await;
    let ns = e2e.ns().to_string();
    let mut set = statefulset(&ns, "from-one", 2);
    set["spec"]["ordinals"] = json!({ "start": 1 });
    apply_value(&e2e.client, set).await;
    let services: Api<DedicatedCLBService> = Api::namespaced(e2e.client.clone(), &ns);
    services
        .create(
            &PostParams::default(),
            &service(&ns, "from-one", clb_spec("from-one", "lb-xxx")),
        )
        .await
        .unwrap();
    let before = bound_addresses(&e2e, 4).await;
    assert!(
        before.keys().any(|name| name.contains("from-one-2-")),
        "{before:?}"
    );

    // from-one-2's ordinal is 2, not below replicas (2): the old rule dropped its slot.
    recreate(&e2e, "from-one-2", None).await;
    let after = bound_addresses(&e2e, 4).await;
    assert_eq!(after, before, "every Pod port keeps its address");
    e2e.remove_services().await;
}

/// The Pods of an Advanced StatefulSet (`apps.kruise.io/v1beta1`, what OpenKruise Game makes)
/// keep their slots when recreated, and its reserved ordinals are not expected back. The CRD is
/// OpenKruise's own, read from the Go module cache; the test creates the Pods as its controller
/// would (owned by the set, named by ordinal).
#[tokio::test]
async fn advanced_statefulset_pods_keep_their_slots() {
    let module = std::env::var("KRUISE_MODULE_DIR").unwrap_or_else(|_| {
        panic!(
            "set KRUISE_MODULE_DIR to github.com/openkruise/kruise's module directory (hack/test.sh does: go mod download -json)"
        )
    });
    let e2e = E2e::start("e2e-kruise", emulator_config(50), CLB_ONLY).await;
    let ns = e2e.ns().to_string();
    apply_file(
        &e2e.client,
        &std::path::Path::new(&module).join("config/crd/bases/apps.kruise.io_statefulsets.yaml"),
    )
    .await;
    let kruise_sets = kube::discovery::ApiResource::from_gvk_with_plural(
        &kube::api::GroupVersionKind::gvk("apps.kruise.io", "v1beta1", "StatefulSet"),
        "statefulsets",
    );
    let sets: Api<kube::api::DynamicObject> =
        Api::namespaced_with(e2e.client.clone(), &ns, &kruise_sets);
    let set: kube::api::DynamicObject =
        eventually(WAIT, "the Advanced StatefulSet CRD served", || async {
            let object: kube::api::DynamicObject = serde_json::from_value(json!({
            "apiVersion": "apps.kruise.io/v1beta1", "kind": "StatefulSet",
            "metadata": { "name": "gss", "namespace": ns },
            "spec": {
                "replicas": 3, "reserveOrdinals": [1], "serviceName": "gss",
                "selector": { "matchLabels": { "app": "gss" } },
                "template": {
                    "metadata": { "labels": { "app": "gss" } },
                    "spec": { "containers": [{ "name": "server", "image": "gameserver:latest" }] }
                }
            }
        }))
        .unwrap();
            sets.patch(
                "gss",
                &PatchParams::apply("e2e").force(),
                &Patch::Apply(&object),
            )
            .await
            .map_err(|e| e.to_string())
        })
        .await;

    // The set's Pods: ordinals 0, 2, 3 (1 is reserved), owned by the set as its controller does.
    let nodes: Api<Node> = Api::all(e2e.client.clone());
    let node = nodes.list(&ListParams::default()).await.unwrap().items[0].name_any();
    let pods: Api<Pod> = Api::namespaced(e2e.client.clone(), &ns);
    let pod_of = |ordinal: i32| -> Pod {
        serde_json::from_value(json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {
                "name": format!("gss-{ordinal}"), "namespace": ns, "labels": { "app": "gss" },
                "ownerReferences": [{
                    "apiVersion": "apps.kruise.io/v1beta1", "kind": "StatefulSet", "name": "gss",
                    "uid": set.uid().unwrap(), "controller": true, "blockOwnerDeletion": true,
                }],
            },
            "spec": {
                "nodeName": node, "tolerations": kwok_toleration(),
                "containers": [{ "name": "server", "image": "gameserver:latest" }],
            },
        }))
        .unwrap()
    };
    for ordinal in [0, 2, 3] {
        pods.create(&PostParams::default(), &pod_of(ordinal))
            .await
            .unwrap();
    }
    let services: Api<DedicatedCLBService> = Api::namespaced(e2e.client.clone(), &ns);
    services
        .create(
            &PostParams::default(),
            &service(&ns, "gss", clb_spec("gss", "lb-yyy")),
        )
        .await
        .unwrap();
    let before = bound_addresses(&e2e, 6).await;

    // gss-3 is wanted (replicas 3 with ordinal 1 reserved: 0, 2, 3): the old lookup (apps/v1
    // only) found no set and dropped its slot while the Pod was being recreated.
    recreate(&e2e, "gss-3", Some(&pod_of(3))).await;
    let after = bound_addresses(&e2e, 6).await;
    assert_eq!(after, before, "every Pod port keeps its address");
    e2e.remove_services().await;
}

/// A Pod that finished (phase Failed, e.g. evicted) holds no slot and is not bound.
#[tokio::test]
async fn a_finished_pod_holds_no_slot() {
    let e2e = E2e::start("e2e-finished", emulator_config(50), CLB_ONLY).await;
    let ns = e2e.ns().to_string();
    let nodes: Api<Node> = Api::all(e2e.client.clone());
    let node = nodes.list(&ListParams::default()).await.unwrap().items[0].name_any();
    let pods: Api<Pod> = Api::namespaced(e2e.client.clone(), &ns);
    for name in ["runner-a", "runner-b"] {
        let pod: Pod = serde_json::from_value(json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": { "name": name, "namespace": ns, "labels": { "app": "runner" } },
            "spec": {
                "nodeName": node, "tolerations": kwok_toleration(), "restartPolicy": "Never",
                "containers": [{ "name": "server", "image": "gameserver:latest" }],
            },
        }))
        .unwrap();
        pods.create(&PostParams::default(), &pod).await.unwrap();
    }
    let services: Api<DedicatedCLBService> = Api::namespaced(e2e.client.clone(), &ns);
    services
        .create(
            &PostParams::default(),
            &service(&ns, "runner", clb_spec("runner", "lb-zzz")),
        )
        .await
        .unwrap();
    bound_addresses(&e2e, 4).await;

    // runner-b is evicted: its phase becomes Failed, the Pod object stays.
    let failed = json!({ "status": { "phase": "Failed", "reason": "Evicted" } });
    pods.patch_status("runner-b", &PatchParams::default(), &Patch::Merge(&failed))
        .await
        .unwrap();
    let left = bound_addresses(&e2e, 2).await;
    assert!(
        left.keys().all(|name| name.contains("runner-a")),
        "{left:?}"
    );
    let cloud = support::cloud::listeners(&e2e.cloud, SEED_REGION, &["lb-zzz"])
        .await
        .unwrap();
    assert_eq!(
        cloud.len(),
        2,
        "the finished Pod's listeners are released: {cloud:?}"
    );
    e2e.remove_services().await;
}

/// A Pod name longer than a label value (63) still groups the Pod's children, so releasing
/// one port of an `eip` Pod leaves the EIP its other port uses.
#[tokio::test]
async fn a_long_pod_name_keeps_its_eip_while_a_port_still_uses_it() {
    const EIP: &str = "  eip:\n    enabled: true\n    pool:\n      min: 0\n      max: 10\n    retention:\n      policy: Release\n";
    let e2e = E2e::start("e2e-longname", emulator_config(50), EIP).await;
    let ns = e2e.ns().to_string();
    let name = format!("game-{}-0", "x".repeat(70));
    let nodes: Api<Node> = Api::all(e2e.client.clone());
    let node = nodes.list(&ListParams::default()).await.unwrap().items[0].name_any();
    let pod: Pod = serde_json::from_value(json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": { "name": name, "namespace": ns, "labels": { "app": "long" } },
        "spec": {
            "nodeName": node, "tolerations": kwok_toleration(),
            "containers": [{ "name": "server", "image": "gameserver:latest" }],
        },
    }))
    .unwrap();
    let pods: Api<Pod> = Api::namespaced(e2e.client.clone(), &ns);
    pods.create(&PostParams::default(), &pod).await.unwrap();
    let services: Api<DedicatedCLBService> = Api::namespaced(e2e.client.clone(), &ns);
    let spec = json!({ "provider": "eip", "selector": { "app": "long" }, "ports": ports() });
    services
        .create(&PostParams::default(), &service(&ns, "long", spec))
        .await
        .unwrap();
    let both = bound_addresses(&e2e, 2).await;
    let eip_of = |identity: &String| {
        let address = identity.split(' ').next().unwrap();
        address.rsplit_once(':').unwrap().0.to_string()
    };
    let eip = eip_of(both.values().next().unwrap());

    // One port goes; the other still uses the Pod's EIP.
    let one_port = json!({ "spec": { "ports": [{ "protocol": "TCP", "targetPort": 9000 }] } });
    services
        .patch("long", &PatchParams::default(), &Patch::Merge(&one_port))
        .await
        .unwrap();
    let left = bound_addresses(&e2e, 1).await;
    assert_eq!(eip_of(left.values().next().unwrap()), eip, "the same EIP");
    let cloud = support::cloud::eips(&e2e.cloud, "ap-guangzhou")
        .await
        .unwrap();
    let pod_ip = pods.get(&name).await.unwrap().status.unwrap().pod_ip;
    assert!(
        cloud
            .iter()
            .any(|(address, _, private)| *address == eip && private.as_deref() == pod_ip.as_deref()),
        "the EIP stays bound to the Pod in the cloud: {cloud:?}"
    );
    e2e.remove_services().await;
}
