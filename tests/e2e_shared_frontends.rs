//! End to end: frontends shared with others. Two namespace-scoped controllers (same cluster id)
//! on the same CLBs bind their own Pods and never touch each other's listeners, even in their
//! sweeps; a CLB deleted out of band does not freeze a service: it keeps serving on the others,
//! names the missing one, and moves the bindings on it once it is confirmed gone.
mod support;

use dedicated_address_controller::crd::{DedicatedCLBListener, DedicatedCLBService, ListenerState};
use kube::ResourceExt;
use kube::api::{Api, ListParams};
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::time::Duration;
use support::cloud::listeners;
use support::controller::apply_value;
use support::e2e::{CLB_ONLY, E2e, SEED_LBS, SEED_REGION, emulator_config};
use support::eventually;
use support::fixtures::{ports, service, statefulset};

const WAIT: Duration = Duration::from_secs(120);

fn clb_spec(lbs: &[&str]) -> Value {
    json!({
        "selector": { "app": "gs" }, "ports": ports(), "lbRegion": SEED_REGION,
        "minPort": 501, "maxPort": 600, "existedLbIds": lbs,
    })
}

/// Waits until `namespace` has `count` children, all bound; returns them.
async fn bound(client: &kube::Client, namespace: &str, count: usize) -> Vec<DedicatedCLBListener> {
    let children: Api<DedicatedCLBListener> = Api::namespaced(client.clone(), namespace);
    eventually(
        WAIT,
        &format!("{count} children bound in {namespace}"),
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
            if list.len() == count && bound == count {
                Ok(list)
            } else {
                Err(format!("{} children, {bound} bound", list.len()))
            }
        },
    )
    .await
}

#[tokio::test]
async fn two_namespaced_controllers_share_clbs_and_never_touch_each_others_listeners() {
    let e2e = E2e::start("e2e-shared-a", emulator_config(50), CLB_ONLY).await;
    let mut other = e2e.neighbour("e2e-shared-b").await;
    for namespace in [e2e.ns(), other.ns()] {
        apply_value(&e2e.client, statefulset(namespace, "gs", 3)).await;
        let services: Api<DedicatedCLBService> = Api::namespaced(e2e.client.clone(), namespace);
        services
            .create(
                &Default::default(),
                &service(namespace, "gs", clb_spec(&SEED_LBS)),
            )
            .await
            .unwrap();
    }
    bound(&e2e.client, e2e.ns(), 6).await;
    bound(&e2e.client, other.ns(), 6).await;
    let cloud = listeners(&e2e.cloud, SEED_REGION, &SEED_LBS).await.unwrap();
    let slots: BTreeSet<(String, u16, String)> = cloud
        .iter()
        .map(|l| (l.lb_id.clone(), l.port, l.protocol.clone()))
        .collect();
    assert_eq!(
        (cloud.len(), slots.len()),
        (12, 12),
        "12 distinct listeners: {cloud:?}"
    );

    // The other controller restarts (its sweep runs at start) and its service goes: only its
    // own listeners go with it.
    other.controller.restart();
    let services: Api<DedicatedCLBService> = Api::namespaced(e2e.client.clone(), other.ns());
    services.delete("gs", &Default::default()).await.unwrap();
    eventually(
        WAIT,
        "only the other namespace's listeners are gone",
        || async {
            let cloud = listeners(&e2e.cloud, SEED_REGION, &SEED_LBS).await?;
            let theirs = cloud.iter().filter(|l| l.name.contains(other.ns())).count();
            let ours = cloud.iter().filter(|l| l.name.contains(e2e.ns())).count();
            if theirs == 0 && ours == 6 {
                Ok(())
            } else {
                Err(format!("{cloud:?}"))
            }
        },
    )
    .await;
    bound(&e2e.client, e2e.ns(), 6).await;
    e2e.remove_services().await;
}

#[tokio::test]
async fn a_clb_deleted_out_of_band_does_not_freeze_the_service() {
    let e2e = E2e::start("e2e-gone-clb", emulator_config(50), CLB_ONLY).await;
    let ns = e2e.ns().to_string();
    apply_value(&e2e.client, statefulset(&ns, "gs", 3)).await;
    let services: Api<DedicatedCLBService> = Api::namespaced(e2e.client.clone(), &ns);
    services
        .create(
            &Default::default(),
            &service(&ns, "gs", clb_spec(&SEED_LBS)),
        )
        .await
        .unwrap();
    let before = bound(&e2e.client, &ns, 6).await;
    assert!(
        before
            .iter()
            .any(|c| c.spec.lb_id.as_deref() == Some("lb-zzz")),
        "something on lb-zzz"
    );

    // Someone deletes lb-zzz in the console, listeners and all.
    support::cloud::delete_load_balancer(&e2e.cloud, SEED_REGION, "lb-zzz").await;
    eventually(WAIT, "FrontendsAvailable=False naming lb-zzz", || async {
        let service = services.get("gs").await.map_err(|e| e.to_string())?;
        let conditions = service.status.map(|s| s.conditions).unwrap_or_default();
        let named = conditions.iter().any(|c| {
            c.type_ == "FrontendsAvailable" && c.status == "False" && c.message.contains("lb-zzz")
        });
        if named {
            Ok(())
        } else {
            Err(format!("{conditions:?}"))
        }
    })
    .await;
    // Scaling still works meanwhile, and once lb-zzz is confirmed gone its Pods move.
    e2e.scale("gs", 4).await;
    let children: Api<DedicatedCLBListener> = Api::namespaced(e2e.client.clone(), &ns);
    eventually(WAIT, "8 bound, none left on lb-zzz", || async {
        let list = children
            .list(&ListParams::default())
            .await
            .map_err(|e| e.to_string())?
            .items;
        let placed: Vec<(String, Option<String>, Option<ListenerState>)> = list
            .iter()
            .map(|c| {
                (
                    c.name_any(),
                    c.spec.lb_id.clone(),
                    c.status.as_ref().and_then(|s| s.state),
                )
            })
            .collect();
        let moved = placed.iter().all(|(_, lb, state)| {
            lb.as_deref() != Some("lb-zzz") && *state == Some(ListenerState::Bound)
        });
        if list.len() == 8 && moved {
            Ok(())
        } else {
            Err(format!("{placed:?}"))
        }
    })
    .await;
    let cloud = listeners(&e2e.cloud, SEED_REGION, &["lb-xxx", "lb-yyy"])
        .await
        .unwrap();
    assert_eq!(cloud.len(), 8, "{cloud:?}");
    e2e.remove_services().await;
}
