//! The fleet benchmark (`hack/bench.sh --fleet [clb|natgw|eip ...]`): one `DedicatedCLBService`
//! for a StatefulSet of many Pods (Parallel) with 8 TCP + 8 UDP ports, the emulator at the
//! cloud's order of task latency, per provider:
//!
//! - clb: over many CLBs (listener quota 50);
//! - natgw: over the three gateways a VPC may have, two EIPs each, rule limit raised to fit;
//! - eip: one EIP per Pod, from a warm pool that already holds one for every Pod.
//!
//! Prints what binding the fleet costs: time from the last Pod Running to every port bound,
//! cloud writes against the computed minimum, the controller's API server requests per Pod
//! port, the CPU of the machine and who used it, controller RSS, a quiet minute, and scaling
//! to 0. Figures, never pass/fail on time. Sizes come from the environment: `FLEET_PODS` (300), `FLEET_CLBS` (100),
//! `FLEET_TASK_MS` (1000), `FLEET_QUIET_SECS` (60), `FLEET_BYSTANDERS` (0: Pods the service
//! does not select, created first, for the controller's memory with a crowded cluster).
mod support;

use dedicated_address_controller::crd::{DedicatedCLBListener, DedicatedCLBService};
use futures::StreamExt;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, ListParams, PostParams};
use serde_json::json;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};
use support::controller::{ControllerProcess, apply_value};
use support::e2e::{E2e, SEED_REGION, emulator_config};
use support::eventually;
use tencentcloud_emulator::{EipSeed, EmulatorConfig, LoadBalancerSeed, NatGatewaySeed};

const TCP_PORTS: u16 = 8;
const UDP_PORTS: u16 = 8;
/// A CLB takes at most 49 ports per CreateListener and 500 targets per BatchRegisterTargets.
const PORTS_PER_CREATE: usize = 49;
const TARGETS_PER_REGISTER: usize = 500;
/// The natgw provider's rules per Create call (its default).
const RULES_PER_CALL: usize = 100;
/// The region the natgw and eip providers work in (the cluster's).
const CLUSTER_REGION: &str = "ap-guangzhou";
/// A VPC has at most three NAT gateways.
const GATEWAYS: u64 = 3;
const EIPS_PER_GATEWAY: u64 = 2;
const NAT_MIN_PORT: u64 = 10000;

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn fleet_clb(i: u64) -> String {
    format!("lb-fleet{i:03}")
}

fn fleet_gateway(i: u64) -> String {
    format!("nat-fleet{i:03}")
}

/// The fleet's sizes.
#[derive(Clone, Copy)]
struct Sizes {
    pods: u64,
    clbs: u64,
    task_ms: u64,
}

impl Sizes {
    fn pod_ports(&self) -> u64 {
        self.pods * u64::from(TCP_PORTS + UDP_PORTS)
    }

    /// Public ports per gateway EIP and protocol that hold the fleet.
    fn nat_ports_per_eip(&self) -> u64 {
        (self.pods * u64::from(TCP_PORTS.max(UDP_PORTS))).div_ceil(GATEWAYS * EIPS_PER_GATEWAY)
    }

    fn nat_rule_limit(&self) -> u64 {
        self.nat_ports_per_eip() * EIPS_PER_GATEWAY * 2
    }
}

#[derive(Clone, Copy, Debug)]
enum Provider {
    Clb,
    Natgw,
    Eip,
}

impl Provider {
    fn parse(name: &str) -> Self {
        match name {
            "clb" => Self::Clb,
            "natgw" => Self::Natgw,
            "eip" => Self::Eip,
            other => panic!("FLEET_PROVIDERS: unknown provider {other:?} (clb, natgw, eip)"),
        }
    }

    fn name(self) -> &'static str {
        match self {
            Self::Clb => "clb",
            Self::Natgw => "natgw",
            Self::Eip => "eip",
        }
    }

    /// The emulator holding what the fleet needs.
    fn cloud(self, sizes: Sizes) -> EmulatorConfig {
        let mut cloud = emulator_config(sizes.task_ms);
        match self {
            Self::Clb => {
                cloud.settings.listener_quota = 50;
                let region = region(&mut cloud, SEED_REGION);
                let vpc = region.vpcs[0].id.clone();
                let lb_type = region.load_balancers[0].lb_type;
                for i in 0..sizes.clbs {
                    region.load_balancers.push(LoadBalancerSeed {
                        id: fleet_clb(i),
                        name: None,
                        lb_type,
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
            }
            Self::Natgw => {
                cloud.settings.dnat_rule_limit = sizes.nat_rule_limit() as u32;
                // A gateway stays busy after each DNAT write, as in the realistic profile.
                cloud.settings.dnat_update_ms = 200;
                let region = region(&mut cloud, CLUSTER_REGION);
                let vpc = region.vpcs[0].id.clone();
                region.nat_gateways = (0..GATEWAYS)
                    .map(|g| NatGatewaySeed {
                        id: fleet_gateway(g),
                        name: None,
                        vpc_id: vpc.clone(),
                        eips: (0..EIPS_PER_GATEWAY)
                            .map(|e| EipSeed {
                                id: format!("eip-fleet{g}{e}"),
                                ip: std::net::Ipv4Addr::new(
                                    203,
                                    0,
                                    113,
                                    (g * EIPS_PER_GATEWAY + e + 1) as u8,
                                ),
                            })
                            .collect(),
                    })
                    .collect();
            }
            Self::Eip => {
                cloud.settings.eip_quota = (sizes.pods + 100) as u32;
                cloud.settings.eip_task_latency_ms = sizes.task_ms;
            }
        }
        cloud
    }

    /// The controller's `providers` section.
    fn config(self, sizes: Sizes) -> String {
        match self {
            Self::Clb => "  clb:\n    enabled: true\n".to_string(),
            Self::Natgw => {
                let max_port = NAT_MIN_PORT + sizes.nat_ports_per_eip() - 1;
                let gateways: String = (0..GATEWAYS)
                    .map(|g| {
                        format!(
                            "      - id: {}\n        minPort: {NAT_MIN_PORT}\n        maxPort: {max_port}\n",
                            fleet_gateway(g)
                        )
                    })
                    .collect();
                format!(
                    "  natgw:\n    enabled: true\n    ruleLimit: {}\n    gateways:\n{gateways}",
                    sizes.nat_rule_limit()
                )
            }
            Self::Eip => format!(
                "  eip:\n    enabled: true\n    pool:\n      min: {0}\n      max: {0}\n    retention:\n      policy: Release\n",
                sizes.pods
            ),
        }
    }

    /// What the service names besides its Pods and ports.
    fn service_spec(self, sizes: Sizes) -> serde_json::Value {
        match self {
            Self::Clb => json!({
                "lbRegion": SEED_REGION, "minPort": 30000, "maxPort": 30099,
                "existedLbIds": (0..sizes.clbs).map(fleet_clb).collect::<Vec<_>>(),
            }),
            Self::Natgw => json!({
                "provider": "natgw",
                "natGatewayIds": (0..GATEWAYS).map(fleet_gateway).collect::<Vec<_>>(),
            }),
            Self::Eip => json!({ "provider": "eip" }),
        }
    }

    /// What the frontends offer, in words.
    fn frontends(self, sizes: Sizes) -> String {
        match self {
            Self::Clb => format!("{} CLBs (listener quota 50)", sizes.clbs),
            Self::Natgw => format!(
                "{GATEWAYS} NAT gateways x {EIPS_PER_GATEWAY} EIPs (rule limit {})",
                sizes.nat_rule_limit()
            ),
            Self::Eip => format!("a warm pool of {} EIPs", sizes.pods),
        }
    }

    /// The fewest cloud writes that make what the emulator holds now. clb: per CLB, one
    /// CreateListener per protocol per 49 ports and one BatchRegisterTargets per 500 targets;
    /// natgw: per gateway, one Create per 100 rules; eip: per Pod, the claim of a pool EIP (its
    /// name says which Pod holds it, so that a controller killed mid-bind finds it again: the
    /// design's crash record, ModifyAddressAttribute) and one AssociateAddress. The pool's own
    /// top-ups are its policy (`pool.min` free EIPs), not binding's cost.
    async fn minimum_writes(self, e2e: &E2e, sizes: Sizes) -> usize {
        match self {
            Self::Clb => {
                let ids: Vec<String> = (0..sizes.clbs).map(fleet_clb).collect();
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
            Self::Natgw => {
                let mut minimum = 0;
                for g in 0..GATEWAYS {
                    let rules =
                        support::cloud::dnat_rules(&e2e.cloud, CLUSTER_REGION, &fleet_gateway(g))
                            .await
                            .expect("the emulator's rules");
                    minimum += rules.len().div_ceil(RULES_PER_CALL);
                }
                minimum
            }
            Self::Eip => 2 * sizes.pods as usize,
        }
    }
}

fn region<'a>(
    cloud: &'a mut EmulatorConfig,
    name: &str,
) -> &'a mut tencentcloud_emulator::RegionConfig {
    cloud
        .regions
        .iter_mut()
        .find(|r| r.name == name)
        .expect("the region is seeded")
}

async fn eips_by_status(e2e: &E2e) -> BTreeMap<String, usize> {
    let mut by_status = BTreeMap::new();
    for (_, status, _) in support::cloud::eips(&e2e.cloud, CLUSTER_REGION)
        .await
        .unwrap_or_default()
    {
        *by_status.entry(status).or_insert(0) += 1;
    }
    by_status
}

/// CPU seconds (user + system) a process has used, from `/proc/<pid>/stat`.
fn cpu_seconds(pid: u32) -> f64 {
    let fields = stat_fields(pid);
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    // utime and stime are fields 14 and 15 of the whole line, 12 and 13 after the name.
    (ticks(11) + ticks(12)) / 100.0
}

/// The fields of `/proc/<pid>/stat` after the command name (which is in parentheses and may
/// hold spaces).
fn stat_fields(pid: u32) -> Vec<String> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let rest = stat.rsplit_once(')').map(|(_, rest)| rest).unwrap_or("");
    rest.split_whitespace().map(str::to_string).collect()
}

/// A benchmark that waits on a controller that died would wait for nothing.
fn assert_running(controller: &ControllerProcess) {
    let state = stat_fields(controller.pid()).first().cloned();
    if matches!(state.as_deref(), None | Some("Z") | Some("X")) {
        panic!("the controller exited:\n{}", controller.log_tail());
    }
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

/// A ground process by the file name of its binary (`kube-apiserver`, `etcd`).
fn ground_pid(binary: &str) -> Option<u32> {
    std::fs::read_dir("/proc")
        .ok()?
        .flatten()
        .find_map(|entry| {
            let pid: u32 = entry.file_name().to_str()?.parse().ok()?;
            let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
            let first = cmdline.split(|b| *b == 0).next()?;
            let first = String::from_utf8_lossy(first);
            (first.rsplit('/').next() == Some(binary)).then_some(pid)
        })
}

/// CPU time so far: the whole machine's (busy and all, from `/proc/stat`) and the processes
/// that share it (kube-apiserver, etcd, the controller), to say which one a phase waited on.
#[derive(Clone, Copy, Default)]
struct CpuUse {
    machine_busy: f64,
    machine_all: f64,
    apiserver: f64,
    etcd: f64,
    controller: f64,
}

/// The processes [`CpuUse`] follows.
#[derive(Clone, Copy)]
struct CpuWatch {
    apiserver: Option<u32>,
    etcd: Option<u32>,
    controller: u32,
}

impl CpuWatch {
    fn now(self) -> CpuUse {
        let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
        let ticks: Vec<f64> = stat
            .lines()
            .next()
            .unwrap_or("")
            .split_whitespace()
            .skip(1)
            .filter_map(|v| v.parse().ok())
            .collect();
        let all: f64 = ticks.iter().take(8).sum();
        // idle and iowait are fields 4 and 5.
        let idle = ticks.get(3).copied().unwrap_or(0.0) + ticks.get(4).copied().unwrap_or(0.0);
        CpuUse {
            machine_busy: (all - idle) / 100.0,
            machine_all: all / 100.0,
            apiserver: self.apiserver.map(cpu_seconds).unwrap_or(0.0),
            etcd: self.etcd.map(cpu_seconds).unwrap_or(0.0),
            controller: cpu_seconds(self.controller),
        }
    }
}

impl CpuUse {
    /// In words, since `before`: how busy the machine's cores were, and who used them.
    fn since(self, before: CpuUse) -> String {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let all = (self.machine_all - before.machine_all).max(0.01);
        let share = |after: f64, before: f64| 100.0 * (after - before) / all * cores as f64;
        let busy = share(self.machine_busy, before.machine_busy);
        let apiserver = share(self.apiserver, before.apiserver);
        let etcd = share(self.etcd, before.etcd);
        let controller = share(self.controller, before.controller);
        format!(
            "the machine's {cores} cores {:.0} % busy: kube-apiserver {apiserver:.0} %, etcd {etcd:.0} %, \
             the controller {controller:.0} %, the rest (kwok, kube-controller-manager, the emulator, \
             the benchmark) {:.0} % (of one core each)",
            busy / cores as f64,
            busy - apiserver - etcd - controller,
        )
    }
}

/// The value of each `/metrics` sample of `metric` (leader election's Lease requests left
/// out), summed by the label `by`.
async fn counter_by(
    controller: &ControllerProcess,
    metric: &str,
    by: &str,
) -> BTreeMap<String, f64> {
    let mut sums = BTreeMap::new();
    let prefix = format!("{metric}{{");
    for line in controller.metrics().await.lines() {
        let Some(labels) = line.strip_prefix(&prefix) else {
            continue;
        };
        if labels.contains("leases") {
            continue;
        }
        let label = |name: &str| {
            labels
                .split(&format!("{name}=\""))
                .nth(1)
                .and_then(|rest| rest.split('"').next())
                .unwrap_or("?")
                .to_string()
        };
        let value: f64 = line
            .rsplit(' ')
            .next()
            .and_then(|v| v.parse().ok())
            .unwrap_or(0.0);
        let key = by.split(',').map(label).collect::<Vec<_>>().join(" ");
        *sums.entry(key).or_insert(0.0) += value;
    }
    sums
}

/// The controller's API server requests so far, by verb.
async fn kube_requests(controller: &ControllerProcess) -> BTreeMap<String, f64> {
    counter_by(controller, "dedicated_address_kube_requests_total", "verb").await
}

/// The controller's API server requests so far, by verb and resource.
async fn kube_requests_by_resource(controller: &ControllerProcess) -> BTreeMap<String, f64> {
    counter_by(
        controller,
        "dedicated_address_kube_requests_total",
        "verb,resource",
    )
    .await
}

/// The controller's cloud write calls so far, by action and result (retries included).
async fn cloud_writes_by_action(controller: &ControllerProcess) -> BTreeMap<String, f64> {
    const READS: [&str; 2] = ["Describe", "Inquiry"];
    let mut writes = counter_by(
        controller,
        "dedicated_address_cloud_calls_total",
        "action,result",
    )
    .await;
    writes.retain(|action, _| !READS.iter().any(|read| action.starts_with(read)));
    writes
}

fn delta(after: &BTreeMap<String, f64>, before: &BTreeMap<String, f64>) -> BTreeMap<String, f64> {
    after
        .iter()
        .map(|(key, n)| (key.clone(), n - before.get(key).copied().unwrap_or(0.0)))
        .filter(|(_, n)| *n > 0.0)
        .collect()
}

fn listed(counts: &BTreeMap<String, f64>, per: f64) -> String {
    counts
        .iter()
        .map(|(key, n)| {
            if per == 1.0 {
                format!("{key} {n}")
            } else {
                format!("{key} {:.2}", n / per)
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
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

fn container_ports() -> Vec<serde_json::Value> {
    (0..TCP_PORTS)
        .map(|i| json!({ "containerPort": 7000 + i, "protocol": "TCP" }))
        .chain((0..UDP_PORTS).map(|i| json!({ "containerPort": 8000 + i, "protocol": "UDP" })))
        .collect()
}

/// `count` Pods the service does not select, held back from scheduling (a scheduling gate):
/// they cost the controller's Pod watch what any other workload's Pods would.
async fn create_bystanders(e2e: &E2e, count: u64) {
    let pods: Api<Pod> = Api::namespaced(e2e.client.clone(), e2e.ns());
    let creates: Vec<_> = (0..count)
        .map(|i| {
            let pods = pods.clone();
            async move {
                let pod: Pod = serde_json::from_value(json!({
                    "apiVersion": "v1", "kind": "Pod",
                    "metadata": {
                        "name": format!("bystander-{i}"),
                        "labels": { "app": "bystander", "team": "other", "revision": "1" },
                    },
                    "spec": {
                        "schedulingGates": [{ "name": "bench/bystander" }],
                        "containers": [{
                            "name": "server", "image": "bystander:latest",
                            "ports": container_ports(),
                            "env": (0..8).map(|e| json!({ "name": format!("SETTING_{e}"), "value": "x".repeat(32) })).collect::<Vec<_>>(),
                        }],
                    },
                }))
                .expect("a Pod");
                pods.create(&PostParams::default(), &pod).await.map(|_| ())
            }
        })
        .collect();
    let failed = futures::stream::iter(creates)
        .buffer_unordered(32)
        .filter(|result| futures::future::ready(result.is_err()))
        .count()
        .await;
    assert_eq!(failed, 0, "every bystander Pod created");
}

async fn bind_a_fleet(provider: Provider, sizes: Sizes, quiet: Duration, bystanders: u64) {
    let name = provider.name();
    let wanted = sizes.pod_ports() as i32;
    let mut e2e = E2e::start(
        &format!("bench-fleet-{name}"),
        provider.cloud(sizes),
        &provider.config(sizes),
    )
    .await;
    let controller_pid = e2e.controller.pid();
    let cpu = CpuWatch {
        apiserver: ground_pid("kube-apiserver"),
        etcd: ground_pid("etcd"),
        controller: controller_pid,
    };

    if bystanders > 0 {
        create_bystanders(&e2e, bystanders).await;
    }
    // The fleet first, so that the figures are about binding, not about Pods starting.
    apply_value(
        &e2e.client,
        json!({
            "apiVersion": "apps/v1", "kind": "StatefulSet",
            "metadata": { "namespace": e2e.ns(), "name": "fleet" },
            "spec": {
                "replicas": sizes.pods, "serviceName": "fleet", "podManagementPolicy": "Parallel",
                "selector": { "matchLabels": { "app": "fleet" } },
                "template": {
                    "metadata": { "labels": { "app": "fleet" } },
                    "spec": {
                        "tolerations": [{ "key": "kwok.x-k8s.io/node", "operator": "Exists", "effect": "NoSchedule" }],
                        "containers": [{ "name": "server", "image": "fleet:latest", "ports": container_ports() }],
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
                .list(&ListParams::default().labels("app=fleet"))
                .await
                .map_err(|e| e.to_string())?
                .items;
            let running = list
                .iter()
                .filter(|p| p.status.as_ref().and_then(|s| s.pod_ip.as_ref()).is_some())
                .count() as u64;
            if running == sizes.pods {
                Ok(())
            } else {
                Err(format!("{running} of {} Running", sizes.pods))
            }
        },
    )
    .await;
    if let Provider::Eip = provider {
        eventually(Duration::from_secs(600), "the warm pool filled", || async {
            assert_running(&e2e.controller);
            let unbound = eips_by_status(&e2e)
                .await
                .get("UNBIND")
                .copied()
                .unwrap_or(0);
            if unbound as u64 >= sizes.pods {
                Ok(())
            } else {
                Err(format!("{unbound} EIPs in the pool"))
            }
        })
        .await;
    }
    let rss_before = rss_mib(controller_pid);

    let requests_before = kube_requests(&e2e.controller).await;
    let writes_before = cloud_writes_by_action(&e2e.controller).await;
    let cpu_before = cpu.now();
    let started = Instant::now();
    let service_ports_spec: Vec<_> = (0..TCP_PORTS)
        .map(|i| json!({ "protocol": "TCP", "targetPort": 7000 + i }))
        .chain((0..UDP_PORTS).map(|i| json!({ "protocol": "UDP", "targetPort": 8000 + i })))
        .collect();
    let mut spec = provider.service_spec(sizes);
    spec["selector"] = json!({ "app": "fleet" });
    spec["ports"] = json!(service_ports_spec);
    apply_value(
        &e2e.client,
        json!({
            "apiVersion": "networking.cloud.tencent.com/v1alpha1", "kind": "DedicatedCLBService",
            "metadata": { "namespace": e2e.ns(), "name": "fleet" },
            "spec": spec,
        }),
    )
    .await;
    let services: Api<DedicatedCLBService> = Api::namespaced(e2e.client.clone(), e2e.ns());
    eventually(
        Duration::from_secs(1800),
        "every Pod port bound",
        || async {
            assert_running(&e2e.controller);
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
    let bind_cpu = cpu.now().since(cpu_before);
    // The counters are read from /metrics; give the last calls a moment to be counted.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let requests = delta(&kube_requests(&e2e.controller).await, &requests_before);
    let writes = delta(
        &cloud_writes_by_action(&e2e.controller).await,
        &writes_before,
    );
    let minimum = provider.minimum_writes(&e2e, sizes).await;
    let pod_ports = f64::from(wanted);
    let total_requests: f64 = requests.values().sum();
    let total_writes: f64 = writes.values().sum();
    println!(
        "\nfleet {name}: {} Pods x {} ports, {}, cloud tasks {} ms{}\n\
         fleet {name}: last Pod Running -> all {wanted} Pod ports bound: {:.1} s\n\
         fleet {name}: cloud write calls: {total_writes} (computed minimum {minimum}, {:.2}x): {}\n\
         fleet {name}: API server requests per Pod port while binding: {:.2} ({})\n\
         fleet {name}: CPU while binding: {bind_cpu}\n\
         fleet {name}: controller RSS {rss_before:.0} MiB before the service, {:.0} MiB with the fleet bound; {:.1} CPU s since start",
        sizes.pods,
        TCP_PORTS + UDP_PORTS,
        provider.frontends(sizes),
        sizes.task_ms,
        if bystanders > 0 {
            format!(", {bystanders} more Pods not selected")
        } else {
            String::new()
        },
        bind_time.as_secs_f64(),
        total_writes / minimum.max(1) as f64,
        listed(&writes, 1.0),
        total_requests / pod_ports,
        listed(&requests, pod_ports),
        rss_mib(controller_pid),
        cpu_seconds(controller_pid),
    );

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
    println!(
        "fleet {name}: quiet {} s: {quiet_writes} cloud writes, {quiet_kube_writes} API server writes; controller RSS {:.0} MiB after it",
        quiet.as_secs(),
        rss_mib(controller_pid),
    );

    // Scale to 0: every listener released.
    let down_writes_before = cloud_writes_by_action(&e2e.controller).await;
    let down_requests_before = kube_requests_by_resource(&e2e.controller).await;
    let down_cpu_before = cpu.now();
    let down_started = Instant::now();
    e2e.scale("fleet", 0).await;
    let children: Api<DedicatedCLBListener> = Api::namespaced(e2e.client.clone(), e2e.ns());
    // How long Kubernetes takes to remove the Pods: the part of scaling down that is not ours.
    let pods_gone = std::sync::Mutex::new(None);
    eventually(
        Duration::from_secs(1800),
        "every listener released",
        || async {
            tokio::time::sleep(Duration::from_secs(1)).await;
            assert_running(&e2e.controller);
            if pods_gone.lock().unwrap().is_none() {
                let pods = pod_api
                    .list(&ListParams::default().labels("app=fleet").limit(1))
                    .await
                    .map_err(|e| e.to_string())?;
                if pods.items.is_empty() {
                    *pods_gone.lock().unwrap() = Some(down_started.elapsed());
                }
            }
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
    let down_cpu = cpu.now().since(down_cpu_before);
    let down_requests = delta(
        &kube_requests_by_resource(&e2e.controller).await,
        &down_requests_before,
    );
    tokio::time::sleep(Duration::from_secs(2)).await;
    let down_writes = delta(
        &cloud_writes_by_action(&e2e.controller).await,
        &down_writes_before,
    );
    println!(
        "fleet {name}: scale {} -> 0: every listener released in {:.1} s (the Pods gone in {:.1} s), cloud writes: {}\n\
         fleet {name}: CPU while scaling down: {down_cpu}\n\
         fleet {name}: scaling down: API server requests per Pod port: {}",
        sizes.pods,
        down_time.as_secs_f64(),
        pods_gone.lock().unwrap().unwrap_or(down_time).as_secs_f64(),
        listed(&down_writes, 1.0),
        listed(&down_requests, pod_ports),
    );
    e2e.remove_services().await;
    e2e.controller.kill();
}

#[tokio::test]
#[ignore = "a benchmark: run it with hack/bench.sh --fleet"]
async fn bind_fleets() {
    let sizes = Sizes {
        pods: env_or("FLEET_PODS", 300),
        clbs: env_or("FLEET_CLBS", 100),
        task_ms: env_or("FLEET_TASK_MS", 1000),
    };
    let quiet = Duration::from_secs(env_or("FLEET_QUIET_SECS", 60));
    let bystanders = env_or("FLEET_BYSTANDERS", 0);
    let providers = std::env::var("FLEET_PROVIDERS").unwrap_or_else(|_| "clb".into());
    for provider in providers.split([',', ' ']).filter(|p| !p.is_empty()) {
        bind_a_fleet(Provider::parse(provider), sizes, quiet, bystanders).await;
    }
}
