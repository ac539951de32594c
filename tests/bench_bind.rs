//! The binding benchmark: for each built-in provider, the real controller binds 20 Pods x 2
//! ports on the test ground against the emulator; prints the time from applying the resource to
//! the last address bound, and the cloud write calls it took. Ignored in the test run (it prints
//! figures, it asserts no timing): `hack/bench.sh` runs it.
mod support;

use dedicated_address_controller::crd::{DedicatedCLBListener, ListenerState};
use kube::api::{Api, ListParams};
use std::time::{Duration, Instant};
use support::e2e::{E2e, emulator_config};
use support::eventually;

const PODS: usize = 20;
const PROVIDERS: [(&str, &str, &str); 3] = [
    (
        "clb",
        "examples/clb/dedicatedclbservice.yaml",
        "  clb:\n    enabled: true\n",
    ),
    (
        "natgw",
        "examples/natgw/dedicatedclbservice.yaml",
        "  natgw:\n    enabled: true\n    gateways:\n      - id: nat-demo0001\n        minPort: 10000\n        maxPort: 10099\n",
    ),
    (
        "eip",
        "examples/eip/dedicatedclbservice.yaml",
        "  eip:\n    enabled: true\n    pool:\n      min: 0\n      max: 20\n",
    ),
];

#[tokio::test]
#[ignore = "a benchmark: run it with hack/bench.sh"]
async fn bind_20_pods_x_2_ports_per_provider() {
    let mut rows = Vec::new();
    for (provider, example, config) in PROVIDERS {
        // The cloud's default task latency (200 ms), so the figures include waiting on tasks.
        let mut cloud = emulator_config(200);
        // Room for 20 EIPs besides the NAT gateway's two (the demo account has 20 in all).
        cloud.settings.eip_quota = 40;
        let e2e = E2e::start(&format!("bench-{provider}"), cloud, config).await;
        e2e.apply_example("examples/clb/gameserver.yaml").await;
        e2e.scale("gameserver", PODS as i32).await;
        let pods: Api<k8s_openapi::api::core::v1::Pod> =
            Api::namespaced(e2e.client.clone(), e2e.ns());
        eventually(Duration::from_secs(120), "20 Pods with IPs", || async {
            let list = pods
                .list(&ListParams::default())
                .await
                .map_err(|e| e.to_string())?
                .items;
            let ready = list
                .iter()
                .filter(|p| p.status.as_ref().and_then(|s| s.pod_ip.as_ref()).is_some())
                .count();
            if ready == PODS {
                Ok(())
            } else {
                Err(format!("{ready} Pods with IPs"))
            }
        })
        .await;
        let writes_before = e2e.controller.cloud_writes().await;

        let started = Instant::now();
        e2e.apply_example(example).await;
        let children: Api<DedicatedCLBListener> = Api::namespaced(e2e.client.clone(), e2e.ns());
        eventually(Duration::from_secs(300), "40 Pod ports bound", || async {
            let list = children
                .list(&ListParams::default())
                .await
                .map_err(|e| e.to_string())?
                .items;
            let bound = list
                .iter()
                .filter(|c| c.status.as_ref().and_then(|s| s.state) == Some(ListenerState::Bound))
                .count();
            if bound == PODS * 2 {
                Ok(())
            } else {
                Err(format!("{bound} bound"))
            }
        })
        .await;
        let took = started.elapsed();
        // The controller's counter is read from its /metrics; give the last calls a moment.
        tokio::time::sleep(Duration::from_millis(500)).await;
        let writes = e2e.controller.cloud_writes().await - writes_before;
        rows.push(format!("{provider:<6} {PODS} Pods x 2 ports: all bound in {:>6} ms, {writes:>3} cloud write calls", took.as_millis()));

        e2e.remove_services().await;
    }
    println!("\n{}", rows.join("\n"));
}
