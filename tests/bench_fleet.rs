//! The fleet benchmark (`hack/bench.sh --fleet`): one `DedicatedCLBService` over many CLBs, a
//! StatefulSet of many Pods (Parallel) with 8 TCP + 8 UDP ports, the emulator at the cloud's
//! order of task latency. Prints what binding the fleet costs: time from the last Pod Running to
//! every port bound, cloud writes against the computed minimum, the controller's API server
//! requests per Pod port, kube-apiserver CPU, controller RSS, a quiet minute, and scaling to 0.
//! Figures, never pass/fail on time. Sizes come from the environment:
//! `FLEET_PODS` (300), `FLEET_CLBS` (100), `FLEET_TASK_MS` (1000), `FLEET_QUIET_SECS` (60).
mod support;

use dedicated_address_controller::crd::{DedicatedCLBListener, DedicatedCLBService};
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, ListParams};
use serde_json::json;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};
use support::controller::{ControllerProcess, apply_value};
use support::e2e::{CLB_ONLY, E2e, SEED_REGION, emulator_config};
use support::eventually;
use tencentcloud_emulator::LoadBalancerSeed;

const TCP_PORTS: u16 = 8;
const UDP_PORTS: u16 = 8;
/// A CLB takes at most 49 ports per CreateListener and 500 targets per BatchRegisterTargets.
const PORTS_PER_CREATE: usize = 49;
const TARGETS_PER_REGISTER: usize = 500;

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn fleet_clb(i: u64) -> String {
    format!("lb-fleet{i:03}")
}

/// CPU seconds (user + system) a process has used, from `/proc/<pid>/stat`.
fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name (which is in parentheses and may hold spaces).
    let rest = stat.rsplit_once(')').map(|(_, rest)| rest).unwrap_or("");
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    // utime and stime are fields 14 and 15 of the whole line, 12 and 13 after the name.
    (ticks(11) + ticks(12)) / 100.0
}

fn rss_mib(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        .map(|kib| kib / 1024.0)
        .unwrap_or(0.0)
}

/// The ground's kube-apiserver process.
fn apiserver_pid() -> Option<u32> {
    std::fs::read_dir("/proc")
        .ok()?
        .flatten()
        .find_map(|entry| {
            let pid: u32 = entry.file_name().to_str()?.parse().ok()?;
            let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
            let first = cmdline.split(|b| *b == 0).next()?;
            String::from_utf8_lossy(first)
                .ends_with("kube-apiserver")
                .then_some(pid)
        })
}

/// The controller's API server requests so far, by verb.
async fn kube_requests(controller: &ControllerProcess) -> BTreeMap<String, f64> {
    let mut by_verb = BTreeMap::new();
    for line in controller.metrics().await.lines() {
        if !line.starts_with("dedicated_address_kube_requests_total{") || line.contains("leases") {
            continue;
        }
        let verb = line
            .split("verb=\"")
            .nth(1)
            .and_then(|rest| rest.split('"').next())
            .unwrap_or("?")
            .to_string();
        let value: f64 = line
            .rsplit(' ')
            .next()
            .and_then(|v| v.parse().ok())
            .unwrap_or(0.0);
        *by_verb.entry(verb).or_insert(0.0) += value;
    }
    by_verb
}

/// The controller's cloud write calls so far, by action and result (retries included).
async fn cloud_writes_by_action(controller: &ControllerProcess) -> BTreeMap<String, f64> {
    const READS: [&str; 2] = ["Describe", "Inquiry"];
    let mut by_action = BTreeMap::new();
    for line in controller.metrics().await.lines() {
        let Some(labels) = line.strip_prefix("dedicated_address_cloud_calls_total{") else {
            continue;
        };
        let field = |name: &str| {
            labels
                .split(&format!("{name}=\""))
                .nth(1)
                .and_then(|rest| rest.split('"').next())
                .unwrap_or("?")
                .to_string()
        };
        let action = field("action");
        if READS.iter().any(|read| action.starts_with(read)) {
            continue;
        }
        let value: f64 = line
            .rsplit(' ')
            .next()
            .and_then(|v| v.parse().ok())
            .unwrap_or(0.0);
        *by_action
            .entry(format!("{action} {}", field("result")))
            .or_insert(0.0) += value;
    }
    by_action
}

fn delta(after: &BTreeMap<String, f64>, before: &BTreeMap<String, f64>) -> BTreeMap<String, f64> {
    after
        .iter()
        .map(|(verb, n)| (verb.clone(), n - before.get(verb).copied().unwrap_or(0.0)))
        .filter(|(_, n)| *n > 0.0)
        .collect()
}

/// The fewest cloud writes that make what the emulator holds now: per CLB, one CreateListener
/// per protocol per 49 ports and one BatchRegisterTargets per 500 targets.
async fn minimum_writes(e2e: &E2e, clbs: u64) -> usize {
    let ids: Vec<String> = (0..clbs).map(fleet_clb).collect();
    let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
    let cloud = support::cloud::listeners(&e2e.cloud, SEED_REGION, &refs)
        .await
        .expect("the emulator's listeners");
    let mut per_clb: BTreeMap<&str, (usize, usize, usize)> = BTreeMap::new();
    for listener in &cloud {
        let entry = per_clb.entry(listener.lb_id.as_str()).or_default();
        match listener.protocol.as_str() {
            "TCP" => entry.0 += 1,
            _ => entry.1 += 1,
        }
        entry.2 += listener.targets.len();
    }
    per_clb
        .values()
        .map(|(tcp, udp, targets)| {
            tcp.div_ceil(PORTS_PER_CREATE)
                + udp.div_ceil(PORTS_PER_CREATE)
                + targets.div_ceil(TARGETS_PER_REGISTER)
        })
        .sum()
}

async fn service_ports(services: &Api<DedicatedCLBService>) -> (i32, i32) {
    let status = services
        .get("fleet")
        .await
        .ok()
        .and_then(|s| s.status)
        .unwrap_or_default();
    (
        status.bound_ports.unwrap_or(0),
        status.total_ports.unwrap_or(0),
    )
}

#[tokio::test]
#[ignore = "a benchmark: run it with hack/bench.sh --fleet"]
async fn bind_a_fleet() {
    let pods = env_or("FLEET_PODS", 300);
    let clbs = env_or("FLEET_CLBS", 100);
    let task_ms = env_or("FLEET_TASK_MS", 1000);
    let quiet = Duration::from_secs(env_or("FLEET_QUIET_SECS", 60));
    let ports = u64::from(TCP_PORTS + UDP_PORTS);
    let wanted = (pods * ports) as i32;

    let mut cloud = emulator_config(task_ms);
    cloud.settings.listener_quota = 50;
    let region = cloud
        .regions
        .iter_mut()
        .find(|r| r.name == SEED_REGION)
        .expect("the seed region");
    let vpc = region.vpcs[0].id.clone();
    for i in 0..clbs {
        region.load_balancers.push(LoadBalancerSeed {
            id: fleet_clb(i),
            name: None,
            lb_type: region.load_balancers[0].lb_type,
            vip: Some(std::net::Ipv4Addr::new(
                198,
                51,
                (i / 250) as u8,
                (i % 250 + 1) as u8,
            )),
            domain: None,
            ipv6: None,
            vpc_id: vpc.clone(),
            tags: BTreeMap::new(),
        });
    }
    let mut e2e = E2e::start("bench-fleet", cloud, CLB_ONLY).await;
    let controller_pid = e2e.controller.pid();
    let apiserver = apiserver_pid();

    // The fleet first, so that the figures are about binding, not about Pods starting.
    let container_ports: Vec<_> = (0..TCP_PORTS)
        .map(|i| json!({ "containerPort": 7000 + i, "protocol": "TCP" }))
        .chain((0..UDP_PORTS).map(|i| json!({ "containerPort": 8000 + i, "protocol": "UDP" })))
        .collect();
    apply_value(
        &e2e.client,
        json!({
            "apiVersion": "apps/v1", "kind": "StatefulSet",
            "metadata": { "namespace": e2e.ns(), "name": "fleet" },
            "spec": {
                "replicas": pods, "serviceName": "fleet", "podManagementPolicy": "Parallel",
                "selector": { "matchLabels": { "app": "fleet" } },
                "template": {
                    "metadata": { "labels": { "app": "fleet" } },
                    "spec": {
                        "tolerations": [{ "key": "kwok.x-k8s.io/node", "operator": "Exists", "effect": "NoSchedule" }],
                        "containers": [{ "name": "server", "image": "fleet:latest", "ports": container_ports }],
                    },
                },
            },
        }),
    )
    .await;
    let pod_api: Api<Pod> = Api::namespaced(e2e.client.clone(), e2e.ns());
    eventually(
        Duration::from_secs(600),
        "every Pod Running with an IP",
        || async {
            let list = pod_api
                .list(&ListParams::default())
                .await
                .map_err(|e| e.to_string())?
                .items;
            let running = list
                .iter()
                .filter(|p| p.status.as_ref().and_then(|s| s.pod_ip.as_ref()).is_some())
                .count() as u64;
            if running == pods {
                Ok(())
            } else {
                Err(format!("{running} of {pods} Running"))
            }
        },
    )
    .await;

    let requests_before = kube_requests(&e2e.controller).await;
    let writes_before = e2e.controller.cloud_writes().await;
    let actions_before = cloud_writes_by_action(&e2e.controller).await;
    let apiserver_cpu_before = apiserver.map(cpu_seconds).unwrap_or(0.0);
    let started = Instant::now();
    let service_ports_spec: Vec<_> = (0..TCP_PORTS)
        .map(|i| json!({ "protocol": "TCP", "targetPort": 7000 + i }))
        .chain((0..UDP_PORTS).map(|i| json!({ "protocol": "UDP", "targetPort": 8000 + i })))
        .collect();
    let lb_ids: Vec<String> = (0..clbs).map(fleet_clb).collect();
    apply_value(
        &e2e.client,
        json!({
            "apiVersion": "networking.cloud.tencent.com/v1alpha1", "kind": "DedicatedCLBService",
            "metadata": { "namespace": e2e.ns(), "name": "fleet" },
            "spec": {
                "lbRegion": SEED_REGION, "minPort": 30000, "maxPort": 30099,
                "selector": { "app": "fleet" }, "ports": service_ports_spec, "existedLbIds": lb_ids,
            },
        }),
    )
    .await;
    let services: Api<DedicatedCLBService> = Api::namespaced(e2e.client.clone(), e2e.ns());
    eventually(
        Duration::from_secs(1800),
        "every Pod port bound",
        || async {
            let (bound, total) = service_ports(&services).await;
            if bound == wanted && total == wanted {
                Ok(())
            } else {
                Err(format!("{bound} of {wanted} bound"))
            }
        },
    )
    .await;
    let bind_time = started.elapsed();
    let apiserver_cpu = apiserver.map(cpu_seconds).unwrap_or(0.0) - apiserver_cpu_before;
    // The counters are read from /metrics; give the last calls a moment to be counted.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let requests = delta(&kube_requests(&e2e.controller).await, &requests_before);
    let writes = e2e.controller.cloud_writes().await - writes_before;
    let actions = delta(
        &cloud_writes_by_action(&e2e.controller).await,
        &actions_before,
    );
    let minimum = minimum_writes(&e2e, clbs).await;
    let rss = rss_mib(controller_pid);
    let controller_cpu = cpu_seconds(controller_pid);

    // A quiet stretch: nothing changes, so nothing should be written anywhere.
    let quiet_requests_before = kube_requests(&e2e.controller).await;
    let quiet_writes_before = e2e.controller.cloud_writes().await;
    tokio::time::sleep(quiet).await;
    let quiet_requests = delta(
        &kube_requests(&e2e.controller).await,
        &quiet_requests_before,
    );
    let quiet_kube_writes: u64 = quiet_requests
        .iter()
        .filter(|(verb, _)| !matches!(verb.as_str(), "get" | "list" | "watch"))
        .map(|(_, n)| *n as u64)
        .sum();
    let quiet_writes = e2e.controller.cloud_writes().await - quiet_writes_before;

    // Scale to 0: every listener released.
    let down_started = Instant::now();
    e2e.scale("fleet", 0).await;
    let children: Api<DedicatedCLBListener> = Api::namespaced(e2e.client.clone(), e2e.ns());
    eventually(
        Duration::from_secs(1800),
        "every listener released",
        || async {
            tokio::time::sleep(Duration::from_secs(3)).await;
            let left = children
                .list(&ListParams::default().limit(1))
                .await
                .map_err(|e| e.to_string())?
                .items
                .len();
            if left == 0 {
                Ok(())
            } else {
                Err("listeners left".to_string())
            }
        },
    )
    .await;
    let down_time = down_started.elapsed();

    let pod_ports = wanted as f64;
    let total_requests: f64 = requests.values().sum();
    let by_verb: Vec<String> = requests
        .iter()
        .map(|(verb, n)| format!("{verb} {:.2}", n / pod_ports))
        .collect();
    println!(
        "\nfleet: {pods} Pods x {ports} ports over {clbs} CLBs, cloud tasks {task_ms} ms\n\
         last Pod Running -> all {wanted} Pod ports bound: {:.1} s\n\
         cloud write calls: {writes} (computed minimum {minimum}): {}\n\
         controller API server requests per Pod port while binding: {:.2} ({})\n\
         kube-apiserver CPU while binding: {:.0} % of one core ({apiserver_cpu:.1} s)\n\
         controller: RSS {rss:.0} MiB after binding, {controller_cpu:.1} CPU s since start\n\
         quiet {} s: {quiet_writes} cloud writes, {quiet_kube_writes} API server writes\n\
         scale {pods} -> 0: every listener released in {:.1} s",
        bind_time.as_secs_f64(),
        actions
            .iter()
            .map(|(action, n)| format!("{action} {n}"))
            .collect::<Vec<_>>()
            .join(", "),
        total_requests / pod_ports,
        by_verb.join(", "),
        100.0 * apiserver_cpu / bind_time.as_secs_f64(),
        quiet.as_secs(),
        down_time.as_secs_f64(),
    );
    e2e.remove_services().await;
    e2e.controller.kill();
}
