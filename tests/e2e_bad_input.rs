//! End to end: what a user can get wrong gets a clear answer, and the controller keeps serving
//! everything else. Rejected at apply time where the schema can tell; otherwise a condition with
//! a reason and an Event.
mod support;

use dedicated_address_controller::crd::{DedicatedCLBListener, DedicatedCLBService, ListenerState};
use k8s_openapi::api::events::v1::Event;
use kube::ResourceExt;
use kube::api::{Api, ListParams, PostParams};
use serde_json::json;
use std::time::Duration;
use support::controller::apply_value;
use support::e2e::{CLB_ONLY, E2e, SEED_REGION, emulator_config};
use support::eventually;
use support::fixtures::{ports, service, statefulset};

const WAIT: Duration = Duration::from_secs(90);

/// Waits for the service's `Ready` condition to be False with `reason`, and an Event with it.
async fn shows_problem(e2e: &E2e, name: &str, reason: &str) {
    let services: Api<DedicatedCLBService> = Api::namespaced(e2e.client.clone(), e2e.ns());
    let events: Api<Event> = Api::namespaced(e2e.client.clone(), e2e.ns());
    eventually(
        WAIT,
        &format!("{name}: condition and Event {reason}"),
        || async {
            let service = services.get(name).await.map_err(|e| e.to_string())?;
            let conditions = service.status.map(|s| s.conditions).unwrap_or_default();
            let ready = conditions.iter().find(|c| c.type_ == "Ready");
            if !ready.is_some_and(|c| c.status == "False" && c.reason == reason) {
                return Err(format!("conditions: {conditions:?}"));
            }
            let listed = events
                .list(&ListParams::default())
                .await
                .map_err(|e| e.to_string())?
                .items;
            let found = listed.iter().any(|event| {
                event.reason.as_deref() == Some(reason)
                    && event.regarding.as_ref().and_then(|r| r.name.as_deref()) == Some(name)
                    && event.type_.as_deref() == Some("Warning")
            });
            if found {
                Ok(())
            } else {
                Err(format!("no {reason} Event among {} events", listed.len()))
            }
        },
    )
    .await;
}

#[tokio::test]
async fn bad_input_gets_clear_answers_while_good_services_bind() {
    let e2e = E2e::start("e2e-bad-input", emulator_config(50), CLB_ONLY).await;
    let ns = e2e.ns().to_string();
    let services: Api<DedicatedCLBService> = Api::namespaced(e2e.client.clone(), &ns);
    let pp = PostParams::default();

    // Rejected at apply time by the CRD's CEL rules.
    let reversed = service(
        &ns,
        "reversed",
        json!({
            "minPort": 600, "maxPort": 501, "selector": { "app": "good" }, "ports": ports(),
            "existedLbIds": ["lb-xxx"], "lbRegion": SEED_REGION,
        }),
    );
    let error = services
        .create(&pp, &reversed)
        .await
        .expect_err("maxPort < minPort is rejected");
    assert!(
        error
            .to_string()
            .contains("minPort must not be greater than maxPort"),
        "{error}"
    );

    for (name, replicas) in [("good", 2), ("tight", 3), ("nolb", 1), ("noprovider", 1)] {
        apply_value(&e2e.client, statefulset(&ns, name, replicas)).await;
    }
    // A range of 2 ports: each port number serves one Pod's TCP and UDP, so 2 of 3 Pods fit.
    let specs = [
        (
            "good",
            json!({ "minPort": 501, "maxPort": 600, "existedLbIds": ["lb-xxx"] }),
        ),
        (
            "tight",
            json!({ "minPort": 701, "maxPort": 702, "existedLbIds": ["lb-yyy"] }),
        ),
        (
            "nolb",
            json!({ "minPort": 501, "maxPort": 600, "existedLbIds": ["lb-doesnotexist"] }),
        ),
        (
            "noprovider",
            json!({ "provider": "natgw", "natGatewayIds": ["nat-demo0001"] }),
        ),
    ];
    for (name, extra) in specs {
        let mut spec =
            json!({ "selector": { "app": name }, "ports": ports(), "lbRegion": SEED_REGION });
        spec.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        services
            .create(&pp, &service(&ns, name, spec))
            .await
            .unwrap_or_else(|e| panic!("create {name}: {e}"));
    }

    shows_problem(&e2e, "nolb", "LoadBalancerNotFound").await;
    shows_problem(&e2e, "noprovider", "ProviderNotEnabled").await;
    shows_problem(&e2e, "tight", "PortsExhausted").await;

    // Meanwhile the good service, and the Pods that fit in the tight one, are bound.
    let children: Api<DedicatedCLBListener> = Api::namespaced(e2e.client.clone(), &ns);
    eventually(WAIT, "good: 4 bound; tight: 4 bound", || async {
        let list = children
            .list(&ListParams::default())
            .await
            .map_err(|e| e.to_string())?
            .items;
        let bound = |service: &str| {
            list.iter()
                .filter(|c| {
                    c.labels()
                        .get("networking.cloud.tencent.com/service")
                        .map(String::as_str)
                        == Some(service)
                })
                .filter(|c| c.status.as_ref().and_then(|s| s.state) == Some(ListenerState::Bound))
                .count()
        };
        if bound("good") == 4 && bound("tight") == 4 {
            Ok(())
        } else {
            Err(format!("good {}, tight {}", bound("good"), bound("tight")))
        }
    })
    .await;
    eventually(WAIT, "good: Ready True (Bound)", || async {
        let good = services.get("good").await.map_err(|e| e.to_string())?;
        let conditions = good.status.map(|s| s.conditions).unwrap_or_default();
        let ready = conditions.iter().find(|c| c.type_ == "Ready");
        if ready.is_some_and(|c| c.status == "True" && c.reason == "Bound") {
            Ok(())
        } else {
            Err(format!("{conditions:?}"))
        }
    })
    .await;

    e2e.remove_services().await;
}

/// Pods without a VPC IP (Global Router overlay IPs) cannot be CLB targets: their listeners exist
/// but stay unbound, and the condition names the fix.
#[tokio::test]
async fn pods_outside_the_vpc_get_a_condition_naming_the_fix() {
    // The test ground's Pods are in 10.244.0.0/16; this VPC does not contain them.
    let e2e = E2e::start_with_vpc("e2e-novpc", emulator_config(50), CLB_ONLY, "10.0.0.0/16").await;
    e2e.apply_example("examples/clb/gameserver.yaml").await;
    e2e.apply_example("examples/clb/dedicatedclbservice.yaml")
        .await;
    shows_problem(&e2e, "gameserver", "PodIPNotInVPC").await;

    let services: Api<DedicatedCLBService> = Api::namespaced(e2e.client.clone(), e2e.ns());
    let ready = services
        .get("gameserver")
        .await
        .unwrap()
        .status
        .unwrap()
        .conditions;
    let message = &ready.iter().find(|c| c.type_ == "Ready").unwrap().message;
    assert!(
        message.contains("tke.cloud.tencent.com/networks: tke-route-eni"),
        "{message}"
    );
    let children: Api<DedicatedCLBListener> = Api::namespaced(e2e.client.clone(), e2e.ns());
    let unbound = children.list(&ListParams::default()).await.unwrap().items;
    let bound = |c: &DedicatedCLBListener| {
        c.status.as_ref().and_then(|s| s.state) == Some(ListenerState::Bound)
    };
    assert!(
        !unbound.iter().any(bound),
        "no listener is bound to an overlay IP"
    );

    e2e.remove_services().await;
}

/// The admin's allow-list: a namespace no rule gives a CLB gets `FrontendNotAllowed` naming the
/// rules, and nothing is created; a CLB a rule gives it binds.
#[tokio::test]
async fn a_namespace_without_the_right_to_a_clb_is_refused() {
    let access = "access:\n  frontends:\n  - {name: shared-zzz, ids: [lb-zzz]}\n  \
                  - {name: other-team, namespaces: [some-other-team], ids: [lb-xxx]}\n";
    let e2e = E2e::start(
        "e2e-access",
        emulator_config(50),
        &format!("{CLB_ONLY}{access}"),
    )
    .await;
    let ns = e2e.ns().to_string();
    apply_value(&e2e.client, statefulset(&ns, "refused", 1)).await;
    apply_value(&e2e.client, statefulset(&ns, "allowed", 1)).await;
    let services: Api<DedicatedCLBService> = Api::namespaced(e2e.client.clone(), &ns);
    for (name, lb) in [("refused", "lb-xxx"), ("allowed", "lb-zzz")] {
        let spec = json!({
            "selector": { "app": name }, "ports": ports(), "lbRegion": SEED_REGION,
            "minPort": 501, "maxPort": 600, "existedLbIds": [lb],
        });
        services
            .create(&PostParams::default(), &service(&ns, name, spec))
            .await
            .unwrap();
    }
    shows_problem(&e2e, "refused", "FrontendNotAllowed").await;
    let refused = services.get("refused").await.unwrap();
    let message = refused.status.unwrap().conditions[0].message.clone();
    assert!(
        message.contains("lb-xxx") && message.contains("shared-zzz"),
        "{message}"
    );

    let children: Api<DedicatedCLBListener> = Api::namespaced(e2e.client.clone(), &ns);
    eventually(WAIT, "allowed: 2 bound; refused: nothing", || async {
        let list = children
            .list(&ListParams::default())
            .await
            .map_err(|e| e.to_string())?
            .items;
        let of = |service: &str| {
            list.iter()
                .filter(|c| {
                    c.labels()
                        .get("networking.cloud.tencent.com/service")
                        .map(String::as_str)
                        == Some(service)
                })
                .collect::<Vec<_>>()
        };
        let allowed_bound = of("allowed")
            .iter()
            .filter(|c| c.status.as_ref().and_then(|s| s.state) == Some(ListenerState::Bound))
            .count();
        if allowed_bound == 2 && of("refused").is_empty() {
            Ok(())
        } else {
            Err(format!(
                "allowed bound {allowed_bound}, refused children {}",
                of("refused").len()
            ))
        }
    })
    .await;
    let on_xxx = support::cloud::listeners(&e2e.cloud, SEED_REGION, &["lb-xxx"])
        .await
        .unwrap();
    assert!(
        on_xxx.is_empty(),
        "nothing created on the refused CLB: {on_xxx:?}"
    );
    e2e.remove_services().await;
}

/// A binding the cloud keeps refusing (the instance stays locked) says so in its status after a
/// few attempts, and binds once the cloud lets it.
#[tokio::test]
async fn a_binding_retried_for_long_says_so() {
    use tencentcloud_emulator::FaultRule;
    let mut config = emulator_config(50);
    config.faults = vec![FaultRule {
        action: "CreateListener".into(),
        code: Some("FailedOperation.ResourceInOperating".into()),
        message: Some("Loadbalancer(lb-xxx) is not in normal desState, maybe some tasks are being processed, please try later.".into()),
        ..Default::default()
    }];
    let e2e = E2e::start("e2e-retrying", config, CLB_ONLY).await;
    let ns = e2e.ns().to_string();
    apply_value(&e2e.client, statefulset(&ns, "locked", 1)).await;
    let spec = json!({
        "selector": { "app": "locked" }, "ports": [{ "protocol": "TCP", "targetPort": 9000 }],
        "lbRegion": SEED_REGION, "minPort": 501, "maxPort": 600, "existedLbIds": ["lb-xxx"],
    });
    let services: Api<DedicatedCLBService> = Api::namespaced(e2e.client.clone(), &ns);
    services
        .create(&PostParams::default(), &service(&ns, "locked", spec))
        .await
        .unwrap();
    let children: Api<DedicatedCLBListener> = Api::namespaced(e2e.client.clone(), &ns);
    eventually(
        WAIT,
        "Ready False, CloudRetrying, with the cloud's message",
        || async {
            let list = children
                .list(&ListParams::default())
                .await
                .map_err(|e| e.to_string())?
                .items;
            let conditions = list
                .first()
                .and_then(|c| c.status.clone())
                .map(|s| s.conditions)
                .unwrap_or_default();
            let retrying = conditions.iter().any(|c| {
                c.type_ == "Ready"
                    && c.status == "False"
                    && c.reason == "CloudRetrying"
                    && c.message.contains("ResourceInOperating")
            });
            if retrying {
                Ok(())
            } else {
                Err(format!("{conditions:?}"))
            }
        },
    )
    .await;

    e2e.emulator.clear_faults();
    eventually(WAIT, "bound once the cloud lets it", || async {
        let list = children
            .list(&ListParams::default())
            .await
            .map_err(|e| e.to_string())?
            .items;
        let state = list
            .first()
            .and_then(|c| c.status.as_ref())
            .and_then(|s| s.state);
        if state == Some(ListenerState::Bound) {
            Ok(())
        } else {
            Err(format!("{state:?}"))
        }
    })
    .await;
    e2e.remove_services().await;
}
