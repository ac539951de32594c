//! End to end: cloud quotas and limits show as conditions and Events on the resources that hit
//! them, while the Pods that fit, and other resources, are served.
mod support;

use dedicated_address_controller::crd::{DedicatedCLBListener, DedicatedCLBService, ListenerState};
use k8s_openapi::api::events::v1::Event;
use kube::api::{Api, ListParams};
use std::time::Duration;
use support::e2e::{E2e, emulator_config};
use support::eventually;

const WAIT: Duration = Duration::from_secs(90);
const ALL: &str = concat!(
    "  clb:\n    enabled: true\n    batchWindowMs: 100\n",
    "  natgw:\n    enabled: true\n    batchWindowMs: 100\n",
    "    gateways:\n      - id: nat-demo0001\n        minPort: 10000\n        maxPort: 10099\n",
    "  eip:\n    enabled: true\n    pool:\n      min: 0\n      max: 10\n",
);

async fn bound_count(e2e: &E2e, service: &str) -> Result<usize, String> {
    let children: Api<DedicatedCLBListener> = Api::namespaced(e2e.client.clone(), e2e.ns());
    let selector = format!("networking.cloud.tencent.com/service={service}");
    let list = children
        .list(&ListParams::default().labels(&selector))
        .await
        .map_err(|e| e.to_string())?
        .items;
    Ok(list
        .iter()
        .filter(|c| c.status.as_ref().and_then(|s| s.state) == Some(ListenerState::Bound))
        .count())
}

async fn shows_problem(e2e: &E2e, service: &str, reason: &str) {
    let services: Api<DedicatedCLBService> = Api::namespaced(e2e.client.clone(), e2e.ns());
    let events: Api<Event> = Api::namespaced(e2e.client.clone(), e2e.ns());
    eventually(
        WAIT,
        &format!("{service}: {reason} condition and Event"),
        || async {
            let status = services
                .get(service)
                .await
                .map_err(|e| e.to_string())?
                .status
                .unwrap_or_default();
            let ready = status
                .conditions
                .iter()
                .find(|c| c.type_ == "Ready")
                .cloned();
            if !ready
                .as_ref()
                .is_some_and(|c| c.status == "False" && c.reason == reason)
            {
                return Err(format!("Ready: {ready:?}"));
            }
            let listed = events
                .list(&ListParams::default())
                .await
                .map_err(|e| e.to_string())?
                .items;
            if listed.iter().any(|e| e.reason.as_deref() == Some(reason)) {
                Ok(())
            } else {
                Err(format!("no {reason} Event"))
            }
        },
    )
    .await;
}

#[tokio::test]
async fn quotas_and_limits_give_conditions_and_the_rest_is_served() {
    let mut cloud = emulator_config(50);
    // Two EIPs left besides the NAT gateway's two; four DNAT rules per gateway.
    cloud.settings.eip_quota = 4;
    cloud.settings.dnat_rule_limit = 4;
    let e2e = E2e::start("e2e-quota", cloud, ALL).await;
    e2e.apply_example("examples/clb/gameserver.yaml").await;
    for example in [
        "examples/clb/dedicatedclbservice.yaml",
        "examples/natgw/dedicatedclbservice.yaml",
        "examples/eip/dedicatedclbservice.yaml",
    ] {
        e2e.apply_example(example).await;
    }

    // 3 Pods: two get EIPs, the third shows the quota; two fit in the gateway's 4 rules.
    shows_problem(&e2e, "gameserver-eip", "EIPQuotaExceeded").await;
    shows_problem(&e2e, "gameserver-nat", "RuleLimitExceeded").await;
    eventually(
        WAIT,
        "what fits is bound, and the CLB resource fully",
        || async {
            let (eip, nat, clb) = (
                bound_count(&e2e, "gameserver-eip").await?,
                bound_count(&e2e, "gameserver-nat").await?,
                bound_count(&e2e, "gameserver").await?,
            );
            if (eip, nat, clb) == (4, 4, 6) {
                Ok(())
            } else {
                Err(format!("eip {eip}, nat {nat}, clb {clb}"))
            }
        },
    )
    .await;

    e2e.remove_services().await;
}
