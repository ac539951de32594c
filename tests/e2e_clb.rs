//! End to end with the `clb` provider: the real controller binary (with its ServiceAccount's
//! RBAC) on the test ground, the cloud emulator behind it, seed 000's example applied as is.
//! Every test checks the cloud's state, not only the statuses.
mod support;

use dedicated_address_controller::crd::{DedicatedCLBListener, DedicatedCLBService, ListenerState};
use k8s_openapi::api::core::v1::Pod;
use kube::ResourceExt;
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams};
use serde_json::json;
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;
use support::cloud::{CloudListener, listeners};
use support::controller::apply_value;
use support::e2e::{CLB_ONLY, E2e, SEED_LBS, SEED_REGION, emulator_config};
use support::eventually;

const WAIT: Duration = Duration::from_secs(90);
const SERVICE: &str = "gameserver";
const SEED_EXAMPLE: &str = "examples/clb/dedicatedclbservice.yaml";
const GAMESERVERS: &str = "examples/clb/gameserver.yaml";

/// What a bound Pod port looks like from outside: its child, its cloud listener, its annotation.
#[derive(Debug)]
struct Bound {
    address: String,
    protocol: String,
    pod: String,
    pod_ip: String,
    target_port: u16,
}

/// Waits until exactly `pods` Pods x 2 ports are bound, and checks the cloud agrees: one
/// listener per child at the child's port, whose only target is the Pod IP:targetPort, and the
/// address in the Pod annotation the service names. Returns the bindings by child name.
async fn all_bound(e2e: &E2e, pods: usize) -> BTreeMap<String, Bound> {
    all_bound_with_extra(e2e, pods, 0).await
}

/// [`all_bound`], with `extra` listeners in the cloud that are not the controller's.
async fn all_bound_with_extra(e2e: &E2e, pods: usize, extra: usize) -> BTreeMap<String, Bound> {
    let children: Api<DedicatedCLBListener> = Api::namespaced(e2e.client.clone(), e2e.ns());
    let pod_api: Api<Pod> = Api::namespaced(e2e.client.clone(), e2e.ns());
    let what = format!("{pods} Pods x 2 ports bound, in the cloud and in annotations");
    eventually(WAIT, &what, || async {
        let list = children
            .list(&ListParams::default())
            .await
            .map_err(|e| e.to_string())?
            .items;
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
        if list.len() != pods * 2 {
            return Err(format!("{} children: {states:?}", list.len()));
        }
        let cloud = listeners(&e2e.cloud, SEED_REGION, &SEED_LBS).await?;
        if cloud.len() != pods * 2 + extra {
            return Err(format!(
                "{} cloud listeners: {cloud:?}; children {states:?}",
                cloud.len()
            ));
        }
        let mut bound = BTreeMap::new();
        for child in &list {
            let status = child.status.clone().unwrap_or_default();
            if status.state != Some(ListenerState::Bound) {
                return Err(format!("not all bound: {states:?}"));
            }
            let backend = child
                .spec
                .backend_pod
                .clone()
                .ok_or("child without backendPod")?;
            let pod = pod_api
                .get(&backend.pod_name)
                .await
                .map_err(|e| e.to_string())?;
            let pod_ip = pod.status.and_then(|s| s.pod_ip).ok_or("Pod without IP")?;
            let port = child.spec.lb_port.ok_or("child without lbPort")?;
            let listener: &CloudListener = cloud
                .iter()
                .find(|l| {
                    Some(&l.lb_id) == child.spec.lb_id.as_ref()
                        && l.port == port
                        && l.protocol == child.spec.protocol.as_str()
                })
                .ok_or(format!("no cloud listener for {}", child.name_any()))?;
            let want_target = format!("{pod_ip}:{}", backend.port);
            if listener.targets != vec![want_target.clone()] {
                return Err(format!(
                    "{} targets {:?}, want [{want_target}]",
                    child.name_any(),
                    listener.targets
                ));
            }
            let address = status.address.clone().ok_or("bound without address")?;
            let annotation = if backend.port == 9000 {
                "external-address-9000"
            } else {
                "external-address-8080"
            };
            let annotations = pod.metadata.annotations.unwrap_or_default();
            let annotated = annotations.get(&format!("networking.cloud.tencent.com/{annotation}"));
            if annotated != Some(&address) {
                return Err(format!(
                    "Pod {} annotation {annotation} = {annotated:?}, want {address}",
                    backend.pod_name
                ));
            }
            bound.insert(
                child.name_any(),
                Bound {
                    address,
                    protocol: child.spec.protocol.as_str().to_string(),
                    pod: backend.pod_name,
                    pod_ip,
                    target_port: backend.port,
                },
            );
        }
        Ok::<_, String>(bound)
    })
    .await
}

async fn cleanup(e2e: &E2e) {
    cleanup_leaving(e2e, 0).await;
}

/// Deletes the services and waits until only `foreign` listeners are left in the cloud.
async fn cleanup_leaving(e2e: &E2e, foreign: usize) {
    let services: Api<DedicatedCLBService> = Api::namespaced(e2e.client.clone(), e2e.ns());
    let _ = services
        .delete_collection(&DeleteParams::default(), &ListParams::default())
        .await;
    let children: Api<DedicatedCLBListener> = Api::namespaced(e2e.client.clone(), e2e.ns());
    eventually(WAIT, "every child and cloud listener gone", || async {
        let left = children
            .list(&ListParams::default())
            .await
            .map_err(|e| e.to_string())?
            .items
            .len();
        let cloud = listeners(&e2e.cloud, SEED_REGION, &SEED_LBS).await?;
        if left == 0 && cloud.len() == foreign {
            Ok(())
        } else {
            Err(format!("{left} children, cloud {cloud:?}"))
        }
    })
    .await;
}

#[tokio::test]
async fn seed_example_binds_every_pod_port_and_follows_scaling() {
    let e2e = E2e::start("e2e-clb-scale", emulator_config(50), CLB_ONLY).await;
    e2e.apply_example(GAMESERVERS).await;
    e2e.apply_example(SEED_EXAMPLE).await;

    let bound = all_bound(&e2e, 3).await;
    // TCP and UDP may share a port number (a Pod's two ports get the same one where it is free):
    // an address is the pair (protocol, IP:port).
    let addresses: BTreeSet<(&str, &str)> = bound
        .values()
        .map(|b| (b.protocol.as_str(), b.address.as_str()))
        .collect();
    assert_eq!(addresses.len(), 6, "addresses are distinct: {bound:?}");

    // Scale down: the listeners of the removed Pods are deleted in the cloud.
    e2e.scale(SERVICE, 1).await;
    let after_down = all_bound(&e2e, 1).await;
    for (name, b) in &after_down {
        assert_eq!(
            bound[name].address, b.address,
            "a remaining Pod keeps its address"
        );
    }

    // Scale up: new listeners appear.
    e2e.scale(SERVICE, 3).await;
    let after_up = all_bound(&e2e, 3).await;
    let addresses: BTreeSet<(&str, &str)> = after_up
        .values()
        .map(|b| (b.protocol.as_str(), b.address.as_str()))
        .collect();
    assert_eq!(
        addresses.len(),
        6,
        "addresses are distinct after scaling up: {after_up:?}"
    );

    // Deleting the service releases everything in the cloud.
    cleanup(&e2e).await;
}

#[tokio::test]
async fn a_recreated_statefulset_pod_gets_its_address_back() {
    let e2e = E2e::start("e2e-clb-recreate", emulator_config(50), CLB_ONLY).await;
    e2e.apply_example(GAMESERVERS).await;
    e2e.apply_example(SEED_EXAMPLE).await;
    let before = all_bound(&e2e, 3).await;

    let pods: Api<Pod> = Api::namespaced(e2e.client.clone(), e2e.ns());
    let old_uid = pods.get("gameserver-1").await.unwrap().uid();
    pods.delete("gameserver-1", &DeleteParams::default())
        .await
        .unwrap();
    eventually(WAIT, "gameserver-1 recreated", || async {
        let pod = pods.get("gameserver-1").await.map_err(|e| e.to_string())?;
        if pod.uid() != old_uid {
            Ok(())
        } else {
            Err("still the old Pod".to_string())
        }
    })
    .await;

    let after = all_bound(&e2e, 3).await;
    for (name, b) in &before {
        assert_eq!(
            after[name].address, b.address,
            "{name} keeps its address ({} -> {})",
            b.pod, after[name].pod
        );
        assert_eq!(after[name].target_port, b.target_port);
    }
    let _ = &after["gameserver-gameserver-1-tcp-9000"].pod_ip;
    cleanup(&e2e).await;
}

#[tokio::test]
async fn a_controller_killed_while_binding_leaks_nothing_and_binds_everything() {
    // Slow cloud tasks widen the window in which the kill lands mid-binding.
    let mut e2e = E2e::start("e2e-clb-kill", emulator_config(600), CLB_ONLY).await;
    e2e.apply_example(GAMESERVERS).await;
    e2e.scale(SERVICE, 5).await;
    e2e.apply_example(SEED_EXAMPLE).await;

    let children: Api<DedicatedCLBListener> = Api::namespaced(e2e.client.clone(), e2e.ns());
    eventually(WAIT, "some children created, not all bound", || async {
        let list = children
            .list(&ListParams::default())
            .await
            .map_err(|e| e.to_string())?
            .items;
        let bound = list
            .iter()
            .filter(|c| c.status.as_ref().and_then(|s| s.state) == Some(ListenerState::Bound))
            .count();
        if !list.is_empty() && bound < 10 {
            Ok(())
        } else {
            Err(format!("{} children, {bound} bound", list.len()))
        }
    })
    .await;
    e2e.controller.kill();
    tokio::time::sleep(Duration::from_millis(800)).await;
    e2e.controller.restart();

    let bound = all_bound(&e2e, 5).await;
    let cloud = listeners(&e2e.cloud, SEED_REGION, &SEED_LBS).await.unwrap();
    let slots: BTreeSet<(String, u16, String)> = cloud
        .iter()
        .map(|l| (l.lb_id.clone(), l.port, l.protocol.clone()))
        .collect();
    assert_eq!(slots.len(), cloud.len(), "no duplicate listener: {cloud:?}");
    assert_eq!(cloud.len(), bound.len(), "no leaked listener: {cloud:?}");
    cleanup(&e2e).await;
}

#[tokio::test]
async fn orphans_left_in_the_cloud_are_swept_and_claimed_listeners_kept() {
    use dac_provider_api::BindingKey;
    use dac_tencentcloud::models::clb::CreateListenerRequest;

    let mut e2e = E2e::start("e2e-clb-orphans", emulator_config(50), CLB_ONLY).await;
    e2e.apply_example(GAMESERVERS).await;
    e2e.apply_example(SEED_EXAMPLE).await;
    let before = all_bound(&e2e, 3).await;

    // A listener with this cluster's marker that no child claims, as a finalizer removed by hand
    // would leave behind; and a console-made one, which is never ours to touch.
    let ghost =
        dac_provider_clb::marker::encode("e2e", &BindingKey::new(e2e.ns(), "ghost-tcp-9000"));
    for (port, name) in [(599, ghost.as_str()), (598, "made-in-the-console")] {
        let request = CreateListenerRequest {
            load_balancer_id: "lb-xxx".into(),
            ports: vec![port],
            protocol: "TCP".into(),
            listener_names: Some(vec![name.to_string()]),
            ..Default::default()
        };
        let created = e2e
            .cloud
            .create_listener(SEED_REGION, &request)
            .await
            .expect("create a listener by hand");
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        e2e.cloud
            .wait_clb_task(SEED_REGION, &created.request_id, deadline)
            .await
            .expect("task");
    }

    // The sweep runs when the controller starts.
    e2e.controller.restart();
    eventually(
        WAIT,
        "the orphan released, the console's listener kept",
        || async {
            let cloud = listeners(&e2e.cloud, SEED_REGION, &SEED_LBS).await?;
            let names: BTreeSet<&str> = cloud.iter().map(|l| l.name.as_str()).collect();
            if !names.contains(ghost.as_str())
                && names.contains("made-in-the-console")
                && cloud.len() == 7
            {
                Ok(())
            } else {
                Err(format!("{names:?}"))
            }
        },
    )
    .await;
    let after = all_bound_with_extra(&e2e, 3, 1).await;
    for (name, b) in &before {
        assert_eq!(
            after[name].address, b.address,
            "{name} untouched by the sweep"
        );
    }
    cleanup_leaving(&e2e, 1).await;
}

#[tokio::test]
async fn everything_converges_through_throttling_and_instance_locks() {
    use tencentcloud_emulator::FaultRule;

    // A slow, stingy, flaky cloud: long tasks (so CLBs stay locked), low per-action limits, and
    // a share of writes refused as locked or throttled, for 10 Pods x 2 ports on 3 CLBs.
    let mut config = emulator_config(400);
    for action in [
        "CreateListener",
        "BatchRegisterTargets",
        "DescribeListeners",
        "DescribeTargets",
    ] {
        config.rate_limits.insert(action.to_string(), 2.0);
    }
    let fault = |action: &str, code: &str, rate: f64| FaultRule {
        action: action.to_string(),
        code: Some(code.to_string()),
        rate,
        ..Default::default()
    };
    config.faults = vec![
        fault("CreateListener", "FailedOperation.ResourceInOperating", 0.3),
        fault(
            "BatchRegisterTargets",
            "FailedOperation.ResourceInOperating",
            0.3,
        ),
        fault("DescribeListeners", "RequestLimitExceeded", 0.2),
        fault(
            "DeleteLoadBalancerListeners",
            "FailedOperation.ResourceInOperating",
            0.3,
        ),
    ];
    let e2e = E2e::start("e2e-clb-flaky", config, CLB_ONLY).await;
    e2e.apply_example(GAMESERVERS).await;
    e2e.scale(SERVICE, 10).await;
    e2e.apply_example(SEED_EXAMPLE).await;

    let bound = all_bound(&e2e, 10).await;
    let addresses: BTreeSet<(&str, &str)> = bound
        .values()
        .map(|b| (b.protocol.as_str(), b.address.as_str()))
        .collect();
    assert_eq!(addresses.len(), 20, "addresses are distinct: {bound:?}");
    cleanup(&e2e).await;
}

/// Seed 000's `extensiveParameters`: a service without CLBs of its own gets them made (tagged),
/// as many as it needs; once it is deleted, the sweep deletes them.
#[tokio::test]
async fn extensive_parameters_make_clbs_and_the_sweep_takes_them_back() {
    use support::fixtures::{ports, service};
    let mut cloud = emulator_config(50);
    cloud.settings.listener_quota = 4;
    cloud.settings.load_balancer_create_ms = Some(500);
    let providers = format!("{CLB_ONLY}sweep:\n  interval: 10s\n");
    let e2e = E2e::start("e2e-clb-create", cloud, &providers).await;
    let ns = e2e.ns().to_string();
    support::controller::apply_value(&e2e.client, support::fixtures::statefulset(&ns, "made", 3))
        .await;
    let spec = serde_json::json!({
        "selector": { "app": "made" }, "ports": ports(), "lbRegion": SEED_REGION,
        "minPort": 501, "maxPort": 600, "extensiveParameters": "{\"LoadBalancerType\":\"OPEN\"}",
    });
    let services: Api<DedicatedCLBService> = Api::namespaced(e2e.client.clone(), &ns);
    services
        .create(&Default::default(), &service(&ns, "made", spec))
        .await
        .unwrap();

    let tagged = || async {
        let request = dac_tencentcloud::models::clb::DescribeLoadBalancersRequest {
            filters: Some(vec![dac_tencentcloud::models::Filter {
                name: "tag:dac-dedicatedclbservice".into(),
                values: vec![format!("{ns}.made")],
            }]),
            ..Default::default()
        };
        e2e.cloud
            .describe_load_balancers(SEED_REGION, &request)
            .await
            .map(|r| {
                r.load_balancer_set
                    .into_iter()
                    .filter_map(|lb| lb.load_balancer_id)
                    .collect::<Vec<_>>()
            })
            .map_err(|e| e.to_string())
    };
    let children: Api<DedicatedCLBListener> = Api::namespaced(e2e.client.clone(), &ns);
    eventually(
        Duration::from_secs(180),
        "6 Pod ports bound on 2 made CLBs",
        || async {
            let list = children
                .list(&ListParams::default())
                .await
                .map_err(|e| e.to_string())?
                .items;
            let bound = list
                .iter()
                .filter(|c| c.status.as_ref().and_then(|s| s.state) == Some(ListenerState::Bound))
                .count();
            let made = tagged().await?;
            if bound == 6 && made.len() == 2 {
                Ok(())
            } else {
                Err(format!("{bound} bound, made {made:?}"))
            }
        },
    )
    .await;

    services.delete("made", &Default::default()).await.unwrap();
    eventually(
        Duration::from_secs(180),
        "the made CLBs deleted by the sweep",
        || async {
            let made = tagged().await?;
            if made.is_empty() {
                Ok(())
            } else {
                Err(format!("{made:?}"))
            }
        },
    )
    .await;
}

/// The `SessionExpireTime` of every listener on the seed CLBs.
async fn session_times(e2e: &E2e) -> Result<Vec<i64>, String> {
    let mut times = Vec::new();
    for lb in SEED_LBS {
        let request = dac_tencentcloud::models::clb::DescribeListenersRequest {
            load_balancer_id: lb.to_string(),
            ..Default::default()
        };
        let found = e2e
            .cloud
            .describe_listeners(SEED_REGION, &request)
            .await
            .map_err(|e| e.to_string())?;
        times.extend(
            found
                .listeners
                .iter()
                .map(|l| l.session_expire_time.unwrap_or(0)),
        );
    }
    Ok(times)
}

async fn every_listener_keeps_sessions_for(e2e: &E2e, seconds: i64, why: &str) {
    eventually(WAIT, why, || async {
        let times = session_times(e2e).await?;
        if times.len() == 6 && times.iter().all(|t| *t == seconds) {
            Ok(())
        } else {
            Err(format!("session times {times:?}"))
        }
    })
    .await;
}

/// Settings reach listeners that exist already: when the service names another
/// `CLBListenerConfig`, and when that config is edited (ModifyListener, not recreation: the
/// addresses stay).
#[tokio::test]
async fn listener_settings_follow_the_service_and_its_config() {
    let e2e = E2e::start("e2e-clb-settings", emulator_config(50), CLB_ONLY).await;
    let config = |name: &str, seconds: i64| {
        json!({
            "apiVersion": "networking.cloud.tencent.com/v1alpha1",
            "kind": "CLBListenerConfig",
            "metadata": { "namespace": e2e.ns(), "name": name },
            "spec": { "sessionExpireTime": seconds },
        })
    };
    apply_value(&e2e.client, config("short", 30)).await;
    apply_value(&e2e.client, config("long", 600)).await;
    e2e.apply_example(GAMESERVERS).await;
    e2e.apply_example(SEED_EXAMPLE).await;
    let services: Api<DedicatedCLBService> = Api::namespaced(e2e.client.clone(), e2e.ns());
    let name_config = |name: &'static str| {
        let services = services.clone();
        async move {
            let patch = json!({ "spec": { "listenerConfig": name } });
            services
                .patch(SERVICE, &PatchParams::default(), &Patch::Merge(&patch))
                .await
                .unwrap();
        }
    };
    name_config("short").await;
    let before = all_bound(&e2e, 3).await;
    every_listener_keeps_sessions_for(&e2e, 30, "the first config on every listener").await;

    name_config("long").await;
    every_listener_keeps_sessions_for(&e2e, 600, "the service's new config reached them").await;
    apply_value(&e2e.client, config("long", 1200)).await;
    every_listener_keeps_sessions_for(&e2e, 1200, "the edited config reached them").await;

    let after = all_bound(&e2e, 3).await;
    for (name, bound) in &before {
        assert_eq!(
            after[name].address, bound.address,
            "{name} kept its address"
        );
    }
    cleanup(&e2e).await;
}

/// A Pod whose address annotation went away while its listener stayed bound (recreated under
/// the same name, or edited by hand) gets it back: nothing about the listener changes, so the
/// Pod's own event must be enough.
#[tokio::test]
async fn a_pod_that_lost_its_address_annotation_gets_it_back() {
    let e2e = E2e::start("e2e-clb-reannotate", emulator_config(50), CLB_ONLY).await;
    e2e.apply_example(GAMESERVERS).await;
    e2e.apply_example(SEED_EXAMPLE).await;
    let before = all_bound(&e2e, 3).await;
    let pods: Api<Pod> = Api::namespaced(e2e.client.clone(), e2e.ns());
    let key = "networking.cloud.tencent.com/external-address-9000";
    let patch = json!({ "metadata": { "annotations": { key: null } } });
    pods.patch(
        "gameserver-1",
        &PatchParams::default(),
        &Patch::Merge(&patch),
    )
    .await
    .unwrap();
    // all_bound checks every Pod's annotation against its listener's address.
    let after = all_bound(&e2e, 3).await;
    for (name, bound) in &before {
        assert_eq!(
            after[name].address, bound.address,
            "{name} kept its address"
        );
    }
    cleanup(&e2e).await;
}
