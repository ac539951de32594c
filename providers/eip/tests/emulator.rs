//! The eip provider against the in-process Tencent Cloud emulator: real signing and envelope,
//! EIP statuses and tasks, the account quota and daily allocation limit, ENIs for VPC IPs, the
//! AssociateAddress rate limit. Every test checks the emulator's own state, not only what the
//! provider answers.
//!
//! `cargo test -p dac-provider-eip --test emulator -- --nocapture` prints write counts and time.
use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv4Addr;
use std::ops::Deref;
use std::sync::Arc;
use std::time::{Duration, Instant};

use dac_provider_api::{
    AddressProvider, Backend, Binding, BindingKey, BindingState, BindingStatus, Protocol, Scope,
    Slot,
};
use dac_provider_eip::{EipProvider, EipProviderConfig, PoolLimits, Retention, reason};
use dac_provider_support::testing::{Emulated, FAST_TASK_POLL};
use serde_json::{Value, json};
use tencentcloud_emulator::eni_id_for;
use tokio::task::JoinSet;

const REGION: &str = "ap-guangzhou";
const CLUSTER: &str = "cls-it";
const NAMESPACE: &str = "games";
/// The demo NAT gateway's EIPs count against the account quota.
const NAT_EIPS: u32 = 2;

/// The shared emulator harness, plus this provider's views of the emulator's state.
struct Ground(Emulated);

impl Deref for Ground {
    type Target = Emulated;

    fn deref(&self) -> &Emulated {
        &self.0
    }
}

impl Ground {
    async fn start() -> Self {
        Self(Emulated::start(Some(FAST_TASK_POLL)).await)
    }

    fn provider(&self, config: EipProviderConfig) -> Arc<EipProvider> {
        let config = EipProviderConfig {
            region: REGION.into(),
            cluster_id: CLUSTER.into(),
            ..config
        };
        Arc::new(EipProvider::new(Arc::new(self.client.clone()), config).unwrap())
    }

    /// `POST /_emulator/settings`, e.g. `{"eip_quota": 12}`.
    async fn settings(&self, body: Value) {
        self.admin("settings", body).await;
    }

    /// `POST /_emulator/faults` with one rule or an array of rules.
    async fn faults(&self, rules: Value) {
        self.admin("faults", rules).await;
    }

    /// Every EIP of the region, by id, as the emulator holds it.
    fn addresses(&self) -> BTreeMap<String, Value> {
        let state = self.emulator.state_json();
        state["Regions"][REGION]["Addresses"]
            .as_object()
            .cloned()
            .unwrap_or_default()
            .into_iter()
            .collect()
    }

    /// This cluster's EIPs.
    fn ours(&self) -> BTreeMap<String, Value> {
        let prefix = format!("dac_{CLUSTER}_");
        self.addresses()
            .into_iter()
            .filter(|(_, a)| {
                a["AddressName"]
                    .as_str()
                    .is_some_and(|n| n.starts_with(&prefix))
            })
            .collect()
    }
}

fn binding(pod: &str, port: u16, ip: Option<&str>) -> Binding {
    Binding {
        key: BindingKey::new(NAMESPACE, format!("{pod}-udp-{port}")),
        region: None,
        slot: Slot::PodAddress {
            pod_name: pod.into(),
            port,
            protocol: Protocol::Udp,
        },
        backend: ip.map(|ip| Backend {
            pod_name: pod.into(),
            pod_ip: ip.into(),
            port,
        }),
        resource_id: None,
        listener_settings: None,
        options: None,
        keep_pod_address: false,
    }
}

/// Pods `room-<first>`.. with two ports each, IPs 10.<generation>.x.y.
fn pods(first: usize, count: usize, generation: u8) -> Vec<Binding> {
    (first..first + count)
        .flat_map(|i| {
            let ip = format!("10.{generation}.{}.{}", i / 200, i % 200 + 10);
            let pod = format!("room-{i}");
            [
                binding(&pod, 7000, Some(&ip)),
                binding(&pod, 7001, Some(&ip)),
            ]
        })
        .collect()
}

async fn ensure_all(
    provider: &Arc<EipProvider>,
    bindings: &[Binding],
) -> Vec<dac_provider_api::Result<BindingStatus>> {
    let mut set = JoinSet::new();
    for (i, b) in bindings.iter().cloned().enumerate() {
        let p = Arc::clone(provider);
        set.spawn(async move { (i, p.ensure(&b).await) });
    }
    let mut out = set.join_all().await;
    out.sort_by_key(|(i, _)| *i);
    out.into_iter().map(|(_, r)| r).collect()
}

/// Releases a Pod's ports the way the controller does: all but the last keep the Pod's
/// address; Pods are released concurrently.
async fn release_pods(provider: &Arc<EipProvider>, bindings: &[Binding]) {
    let mut by_pod: BTreeMap<String, Vec<Binding>> = BTreeMap::new();
    for b in bindings {
        by_pod
            .entry(pod_of(b).to_string())
            .or_default()
            .push(b.clone());
    }
    let mut set = JoinSet::new();
    for (_, ports) in by_pod {
        let p = Arc::clone(provider);
        set.spawn(async move {
            let last = ports.len() - 1;
            for (i, mut b) in ports.into_iter().enumerate() {
                b.backend = None;
                b.keep_pod_address = i < last;
                p.release(&b).await.unwrap();
            }
        });
    }
    set.join_all().await;
}

fn pod_of(b: &Binding) -> &str {
    match &b.slot {
        Slot::PodAddress { pod_name, .. } => pod_name,
        Slot::Port { .. } => unreachable!(),
    }
}

fn ip_of(b: &Binding) -> &str {
    &b.backend.as_ref().unwrap().pod_ip
}

/// Every Pod has exactly one EIP of ours, bound to its IP on the ENI the emulator derives from
/// that IP, and both its ports report that EIP; nothing else of ours is bound.
fn assert_bound(
    ground: &Ground,
    bindings: &[Binding],
    results: &[dac_provider_api::Result<BindingStatus>],
) {
    let ours = ground.ours();
    let mut eip_of_pod: BTreeMap<&str, &str> = BTreeMap::new();
    for (b, result) in bindings.iter().zip(results) {
        let status = result.as_ref().unwrap_or_else(|e| panic!("{}: {e}", b.key));
        assert_eq!(status.state, BindingState::Bound, "{}", b.key);
        let first = *eip_of_pod.entry(pod_of(b)).or_insert(&status.resource_id);
        assert_eq!(
            first,
            status.resource_id,
            "both ports of {} on one EIP",
            pod_of(b)
        );
        let eip = &ours[&status.resource_id];
        let ip = ip_of(b);
        assert_eq!(eip["AddressStatus"], "BIND", "{}", b.key);
        assert_eq!(eip["PrivateAddressIp"], ip, "{}", b.key);
        assert_eq!(
            eip["NetworkInterfaceId"],
            eni_id_for(ip.parse::<Ipv4Addr>().unwrap()),
            "{}",
            b.key
        );
        let public = eip["AddressIp"].as_str().unwrap();
        assert_eq!(
            status.address.as_deref(),
            Some(format!("{public}:{}", b.slot.port()).as_str())
        );
    }
    let distinct: BTreeSet<&&str> = eip_of_pod.values().collect();
    assert_eq!(distinct.len(), eip_of_pod.len(), "one EIP per Pod");
    let bound = ours
        .values()
        .filter(|a| a["AddressStatus"] == "BIND")
        .count();
    assert_eq!(bound, eip_of_pod.len(), "no other EIP of ours is bound");
}

/// The NAT gateway's EIPs are exactly as seeded: bound to the gateway, names untouched.
fn assert_nat_eips_untouched(ground: &Ground) {
    let nat: Vec<Value> = ground
        .addresses()
        .into_values()
        .filter(|a| a["InstanceType"] == "NAT")
        .collect();
    assert_eq!(nat.len(), NAT_EIPS as usize, "{nat:?}");
    for a in nat {
        assert_eq!(a["AddressStatus"], "BIND", "{a}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_pods_with_two_ports_each_get_one_eip_per_pod() {
    let ground = Ground::start().await;
    ground
        .settings(json!({"eip_quota": 20 + NAT_EIPS + 5}))
        .await;
    let provider = ground.provider(EipProviderConfig::default());
    let bindings = pods(0, 20, 1);

    let started = Instant::now();
    let results = ensure_all(&provider, &bindings).await;
    let elapsed = started.elapsed();
    let stats = provider.stats();
    println!(
        "eip provider, 20 Pods x 2 ports: all bound in {:.2} s; {stats}",
        elapsed.as_secs_f64()
    );
    assert_bound(&ground, &bindings, &results);
    assert_eq!(ground.ours().len(), 20);
    assert_eq!(stats.addresses_allocated, 20);
    assert_eq!(stats.writes_of("AllocateAddresses"), 20, "{stats}");
    assert_eq!(stats.writes_of("AssociateAddress"), 20, "{stats}");
    assert_eq!(stats.total_writes(), 40, "two writes per Pod: {stats}");
    assert_eq!(stats.reads_of("DescribeAddressQuota"), 1, "{stats}");
    assert_nat_eips_untouched(&ground);

    // Ensuring everything again (the controller's resync) writes nothing.
    let before = provider.stats();
    let again = ensure_all(&provider, &bindings).await;
    assert_bound(&ground, &bindings, &again);
    let resync = provider.stats().since(&before);
    println!("eip provider, re-ensure of 40 bindings: {resync}");
    assert_eq!(resync.total_writes(), 0, "{resync}");

    // A restarted provider finds every Pod's EIP by its association: no writes either.
    let restarted = ground.provider(EipProviderConfig::default());
    let after_restart = ensure_all(&restarted, &bindings).await;
    assert_bound(&ground, &bindings, &after_restart);
    assert_eq!(restarted.stats().total_writes(), 0, "{}", restarted.stats());
    for (a, b) in results.iter().zip(&after_restart) {
        assert_eq!(
            a.as_ref().unwrap().resource_id,
            b.as_ref().unwrap().resource_id
        );
    }

    // A Pod recreated with a new IP keeps its EIP, moved to the new IP.
    let moved: Vec<Binding> = bindings[..2]
        .iter()
        .cloned()
        .map(|mut b| {
            b.backend.as_mut().unwrap().pod_ip = "10.9.0.1".into();
            b
        })
        .collect();
    let before = provider.stats();
    let moved_results = ensure_all(&provider, &moved).await;
    assert_eq!(
        moved_results[0].as_ref().unwrap().resource_id,
        results[0].as_ref().unwrap().resource_id
    );
    assert_bound(
        &ground,
        &[moved.clone(), bindings[2..].to_vec()].concat(),
        &[moved_results, again[2..].to_vec()].concat(),
    );
    let spent = provider.stats().since(&before);
    assert_eq!(spent.writes_of("DisassociateAddress"), 1, "{spent}");
    assert_eq!(spent.writes_of("AssociateAddress"), 1, "{spent}");
    assert_eq!(spent.addresses_allocated, 0, "{spent}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn churn_ten_to_zero_to_ten_twice_allocates_no_more_than_the_pool_maximum() {
    let ground = Ground::start().await;
    let provider = ground.provider(EipProviderConfig {
        pool: PoolLimits { min: 0, max: 10 },
        retention: Retention::Release,
        ..Default::default()
    });
    for (round, generation) in (0..3).zip(1u8..) {
        // New Pods of a new ReplicaSet: new names, new IPs.
        let bindings = pods(round * 10, 10, generation);
        let results = ensure_all(&provider, &bindings).await;
        assert_bound(&ground, &bindings, &results);
        if round < 2 {
            release_pods(&provider, &bindings).await;
            let ours = ground.ours();
            assert_eq!(ours.len(), 10, "all kept in the pool");
            assert!(ours.values().all(|a| a["AddressStatus"] == "UNBIND"));
        }
    }
    let stats = provider.stats();
    println!("eip provider, churn 10 -> 0 -> 10 -> 0 -> 10: {stats}");
    assert_eq!(stats.addresses_allocated, 10, "{stats}");
    assert_eq!(stats.writes_of("AllocateAddresses"), 10, "{stats}");
    assert_eq!(stats.writes_of("ReleaseAddresses"), 0, "{stats}");
    assert_eq!(ground.ours().len(), 10);
    let day = &ground.emulator.state_json()["Regions"][REGION]["EipAllocations"];
    assert_eq!(day["Count"], 10, "the cloud's daily count: {day}");
    assert_nat_eips_untouched(&ground);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_quota_refuses_only_the_pods_beyond_it() {
    let ground = Ground::start().await;
    // Room for 10 EIPs besides the NAT gateway's.
    ground.settings(json!({"eip_quota": 10 + NAT_EIPS})).await;
    let provider = ground.provider(EipProviderConfig::default());
    let bindings = pods(0, 15, 1);
    let results = ensure_all(&provider, &bindings).await;

    let mut bound_pods = BTreeSet::new();
    let mut refused_pods = BTreeSet::new();
    for (b, result) in bindings.iter().zip(&results) {
        match result {
            Ok(status) => {
                assert_eq!(status.state, BindingState::Bound);
                bound_pods.insert(pod_of(b).to_string());
            }
            Err(e) => {
                assert_eq!(e.reason(), reason::EIP_QUOTA_EXCEEDED, "{e}");
                assert!(!e.is_retryable());
                refused_pods.insert(pod_of(b).to_string());
            }
        }
    }
    assert_eq!(bound_pods.len(), 10, "{bound_pods:?}");
    assert_eq!(refused_pods.len(), 5, "{refused_pods:?}");
    assert!(bound_pods.is_disjoint(&refused_pods), "a Pod's ports agree");
    assert_eq!(ground.ours().len(), 10);
    let stats = provider.stats();
    println!("eip provider, 15 Pods with room for 10: {stats}");
    assert_eq!(
        stats.writes_of("AllocateAddresses"),
        10,
        "no allocation wasted: {stats}"
    );
    assert_nat_eips_untouched(&ground);

    // Two bound Pods go; their EIPs stay in the pool, and two refused Pods get them.
    let gone: Vec<Binding> = bindings
        .iter()
        .filter(|b| bound_pods.iter().take(2).any(|p| p == pod_of(b)))
        .cloned()
        .collect();
    release_pods(&provider, &gone).await;
    let waiting: Vec<Binding> = bindings
        .iter()
        .filter(|b| refused_pods.contains(pod_of(b)))
        .cloned()
        .collect();
    let retried = ensure_all(&provider, &waiting).await;
    let now_bound = retried.iter().filter(|r| r.is_ok()).count();
    assert_eq!(now_bound, 4, "two Pods x two ports: {retried:?}");
    assert_eq!(provider.stats().writes_of("AllocateAddresses"), 10);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_daily_allocation_limit_refuses_the_rest_with_its_own_message() {
    let ground = Ground::start().await;
    ground
        .settings(json!({"eip_quota": 50, "eip_daily_allocate_limit": 3}))
        .await;
    let provider = ground.provider(EipProviderConfig::default());
    let bindings = pods(0, 5, 1);
    let results = ensure_all(&provider, &bindings).await;
    let refused: Vec<_> = results.iter().filter_map(|r| r.as_ref().err()).collect();
    assert_eq!(refused.len(), 4, "two Pods x two ports: {results:?}");
    for e in refused {
        assert_eq!(e.reason(), reason::EIP_QUOTA_EXCEEDED);
        assert!(e.message().contains("DAILY_EIP_APPLY"), "{}", e.message());
    }
    assert_eq!(ground.ours().len(), 3);
    assert_eq!(provider.stats().writes_of("AllocateAddresses"), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keep_for_gives_a_pod_recreated_in_time_its_eip_back_and_expires_otherwise() {
    let ground = Ground::start().await;
    let provider = ground.provider(EipProviderConfig {
        // Nothing goes to the pool: what expires is released, visibly.
        pool: PoolLimits { min: 0, max: 0 },
        retention: Retention::KeepFor(Duration::from_millis(800)),
        maintenance_interval_ms: 100,
        ..Default::default()
    });
    let with_options = |mut b: Binding, duration: &str| {
        b.options = Some(json!({"retention": {"policy": "KeepFor", "duration": duration}}));
        b
    };
    // db-0 keeps its EIP for 30 minutes (the resource's option); db-1 for the configured 800 ms.
    let db0 = with_options(binding("db-0", 5432, Some("10.1.0.10")), "30m");
    let db1 = binding("db-1", 5432, Some("10.1.0.11"));
    let results = ensure_all(&provider, &[db0.clone(), db1.clone()]).await;
    assert_bound(&ground, &[db0.clone(), db1.clone()], &results);
    let db0_eip = results[0].as_ref().unwrap().resource_id.clone();
    let db1_eip = results[1].as_ref().unwrap().resource_id.clone();
    release_pods(&provider, &[db0.clone(), db1.clone()]).await;
    let ours = ground.ours();
    assert_eq!(ours[&db0_eip]["AddressStatus"], "UNBIND");
    assert_eq!(ours[&db1_eip]["AddressStatus"], "UNBIND");

    // A Pod of another name does not get a kept EIP.
    let other = binding("web-0", 80, Some("10.1.0.12"));
    let other_status = provider.ensure(&other).await.unwrap();
    assert!(other_status.resource_id != db0_eip && other_status.resource_id != db1_eip);

    // db-0 comes back with a new IP and gets its EIP back.
    let db0_again = with_options(binding("db-0", 5432, Some("10.1.0.20")), "30m");
    let back = provider.ensure(&db0_again).await.unwrap();
    assert_eq!(back.resource_id, db0_eip);
    assert_eq!(back.address, results[0].as_ref().unwrap().address);
    assert_eq!(ground.ours()[&db0_eip]["PrivateAddressIp"], "10.1.0.20");

    // db-1 does not come back in time: released.
    let deadline = Instant::now() + Duration::from_secs(10);
    while ground.ours().contains_key(&db1_eip) {
        assert!(Instant::now() < deadline, "db-1's EIP was never released");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(provider.stats().addresses_released, 1);
    assert!(ground.ours().contains_key(&db0_eip));
    assert_nat_eips_untouched(&ground);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_warm_pool_is_kept_at_its_minimum_and_serves_new_pods() {
    let ground = Ground::start().await;
    let provider = ground.provider(EipProviderConfig {
        pool: PoolLimits { min: 4, max: 6 },
        ..Default::default()
    });
    provider.maintain().await;
    let pool_name = provider.pool_name();
    let ours = ground.ours();
    assert_eq!(ours.len(), 4);
    assert!(
        ours.values()
            .all(|a| a["AddressName"] == pool_name.as_str())
    );
    assert_eq!(
        provider.stats().writes_of("AllocateAddresses"),
        1,
        "one call for all four"
    );

    let bindings = pods(0, 3, 1);
    let started = Instant::now();
    let results = ensure_all(&provider, &bindings).await;
    println!(
        "eip provider, 3 Pods x 2 ports from a warm pool: bound in {:.2} s",
        started.elapsed().as_secs_f64()
    );
    assert_bound(&ground, &bindings, &results);
    let used: BTreeSet<&str> = results
        .iter()
        .map(|r| r.as_ref().unwrap().resource_id.as_str())
        .collect();
    assert!(
        used.iter().all(|id| ours.contains_key(*id)),
        "taken from the pool"
    );
    provider.maintain().await;
    assert_eq!(ground.ours().len(), 7, "topped up to four free again");

    // The orphan sweep is offered the Pods' EIPs (so it can check their Pods), never the pool.
    let owned = provider.list_owned(&Scope::default()).await.unwrap();
    let offered: BTreeSet<String> = owned.iter().map(|o| o.resource_id.clone()).collect();
    let used: BTreeSet<String> = used.into_iter().map(str::to_string).collect();
    assert_eq!(offered, used);
    assert!(owned.iter().all(|o| o.owner.is_none()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lost_answers_busy_eips_and_failed_tasks_never_allocate_twice() {
    let ground = Ground::start().await;
    ground
        .faults(json!([
            // Connections closed without an answer: the provider cannot know what happened.
            {"action": "AllocateAddresses", "drop": true, "count": 3},
            // A task on the EIP, and throttling: the client retries these itself.
            {"action": "AssociateAddress", "code": "OperationDenied.MutexTaskRunning", "rate": 0.3, "count": 6},
            {"action": "DescribeAddresses", "code": "RequestLimitExceeded", "rate": 0.2, "count": 5},
            // Tasks that fail after the call was accepted.
            {"action": "AssociateAddress", "failTask": true, "count": 2},
        ]))
        .await;
    let provider = ground.provider(EipProviderConfig::default());
    let bindings = pods(0, 8, 1);
    let mut results = ensure_all(&provider, &bindings).await;
    // Retry what failed, as the controller's requeue would.
    for _ in 0..10 {
        let failed: Vec<usize> = (0..bindings.len())
            .filter(|&i| !matches!(&results[i], Ok(status) if status.state == BindingState::Bound))
            .collect();
        if failed.is_empty() {
            break;
        }
        for i in failed {
            if let Err(e) = &results[i] {
                assert!(e.is_retryable(), "{}: {e}", bindings[i].key);
            }
            results[i] = provider.ensure(&bindings[i]).await;
        }
    }
    assert_bound(&ground, &bindings, &results);
    let stats = provider.stats();
    println!("eip provider, 8 Pods x 2 ports under faults: {stats}");
    assert_eq!(ground.ours().len(), 8, "one EIP per Pod, none twice");
    assert_eq!(stats.addresses_allocated, 8, "{stats}");
    assert_nat_eips_untouched(&ground);
}

/// The kept deadline is in the EIP's name: a provider started over the same cloud (a
/// restarted controller) keeps the EIP for its Pod until then, gives it back to that Pod
/// only, and releases it after.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keep_for_survives_a_restart_of_the_provider() {
    let ground = Ground::start().await;
    let config = EipProviderConfig {
        pool: PoolLimits { min: 0, max: 0 },
        maintenance_interval_ms: 100,
        ..Default::default()
    };
    let with_keep = |mut b: Binding, duration: &str| {
        b.options = Some(json!({"retention": {"policy": "KeepFor", "duration": duration}}));
        b
    };
    let first = ground.provider(config.clone());
    let db0 = with_keep(binding("db-0", 5432, Some("10.1.0.10")), "30m");
    let db1 = with_keep(binding("db-1", 5432, Some("10.1.0.11")), "2s");
    let results = ensure_all(&first, &[db0.clone(), db1.clone()]).await;
    assert_bound(&ground, &[db0.clone(), db1.clone()], &results);
    let db0_eip = results[0].as_ref().unwrap().resource_id.clone();
    let db1_eip = results[1].as_ref().unwrap().resource_id.clone();
    release_pods(&first, &[db0.clone(), db1.clone()]).await;
    let name = ground.ours()[&db0_eip]["AddressName"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        name.starts_with(&format!("dac_{CLUSTER}_{NAMESPACE}_db-0_kept-")),
        "{name}"
    );
    drop(first);

    // The restarted provider: its maintenance neither releases db-0's EIP (pool maximum 0)
    // nor hands it to another Pod.
    let second = ground.provider(config);
    second.maintain().await;
    assert!(ground.ours().contains_key(&db0_eip));
    let other = second
        .ensure(&binding("web-0", 80, Some("10.1.0.12")))
        .await
        .unwrap();
    assert_ne!(other.resource_id, db0_eip);
    // db-0 comes back (its binding status lost, so no hint): the same EIP, renamed for it.
    let back = second
        .ensure(&with_keep(binding("db-0", 5432, Some("10.1.0.20")), "30m"))
        .await
        .unwrap();
    assert_eq!(back.resource_id, db0_eip);
    assert_eq!(back.state, BindingState::Bound);
    assert_eq!(
        ground.ours()[&db0_eip]["AddressName"],
        format!("dac_{CLUSTER}_{NAMESPACE}_db-0")
    );
    // db-1's 2 s ran out meanwhile (or soon): released, not given to anyone.
    let deadline = Instant::now() + Duration::from_secs(10);
    while ground.ours().contains_key(&db1_eip) {
        assert!(Instant::now() < deadline, "db-1's EIP was never released");
        tokio::time::sleep(Duration::from_millis(100)).await;
        second.maintain().await;
    }
    assert_nat_eips_untouched(&ground);
}

/// The write actions of the eip provider.
const WRITES: [&str; 5] = [
    "AllocateAddresses",
    "AssociateAddress",
    "DisassociateAddress",
    "ReleaseAddresses",
    "ModifyAddressAttribute",
];

/// Ensures `all` until every one is Bound, at most `rounds` times; the last answers.
async fn ensure_until_bound(
    provider: &Arc<EipProvider>,
    all: &[Binding],
    rounds: usize,
) -> Vec<dac_provider_api::Result<BindingStatus>> {
    let mut results = ensure_all(provider, all).await;
    for _ in 1..rounds {
        let bound = |r: &dac_provider_api::Result<BindingStatus>| matches!(r, Ok(s) if s.state == BindingState::Bound);
        if results.iter().all(bound) {
            break;
        }
        results = ensure_all(provider, all).await;
    }
    results
}

/// Releases the Pods of `all` (each Pod's last binding last) until every release succeeded,
/// at most `rounds` times; the bindings not released.
async fn release_until_done(
    provider: &Arc<EipProvider>,
    all: &[Binding],
    rounds: usize,
) -> Vec<Binding> {
    let mut left = all.to_vec();
    for _ in 0..rounds {
        if left.is_empty() {
            break;
        }
        let mut set = JoinSet::new();
        let mut by_pod: BTreeMap<String, Vec<Binding>> = BTreeMap::new();
        for b in &left {
            by_pod
                .entry(pod_of(b).to_string())
                .or_default()
                .push(b.clone());
        }
        for (_, ports) in by_pod {
            let p = Arc::clone(provider);
            set.spawn(async move {
                let last = ports.len() - 1;
                let mut failed = Vec::new();
                for (i, b) in ports.into_iter().enumerate() {
                    let release = Binding {
                        backend: None,
                        keep_pod_address: i < last,
                        ..b.clone()
                    };
                    if p.release(&release).await.is_err() {
                        failed.push(b);
                    }
                }
                failed
            });
        }
        left = set.join_all().await.into_iter().flatten().collect();
    }
    left
}

/// An AllocateAddresses whose answer is lost after the cloud allocated is resent with the same
/// ClientToken, which gets the first answer: one EIP, never two.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_allocation_lost_in_flight_is_recovered_through_its_client_token() {
    let ground = Ground::start().await;
    let provider = ground.provider(EipProviderConfig::default());
    ground
        .faults(
            json!({"action": "AllocateAddresses", "drop": true, "afterApply": true, "count": 1}),
        )
        .await;
    let room = binding("room-0", 7000, Some("10.1.0.10"));
    let results = ensure_all(&provider, std::slice::from_ref(&room)).await;
    assert_bound(&ground, std::slice::from_ref(&room), &results);
    assert_eq!(
        ground.ours().len(),
        1,
        "allocated once: {:?}",
        ground.ours()
    );
    // The lost call and its resend, with one token.
    assert_eq!(provider.stats().writes_of("AllocateAddresses"), 2);
    assert_eq!(provider.stats().addresses_allocated, 1);
}

/// 20 Pods with 2 ports each while a fifth of every write is carried out but unanswered: bound,
/// moved to new Pod IPs and released, each step once under the faults and then until done
/// without them. Every step ends with one EIP per Pod, bound to its IP, and after the releases
/// (pool maximum 0) none of ours is left.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ambiguous_writes_converge_without_duplicates_or_leaks() {
    let ground = Ground::start().await;
    ground
        .settings(json!({"eip_quota": 40 + NAT_EIPS, "eip_daily_allocate_limit": 200}))
        .await;
    let provider = ground.provider(EipProviderConfig {
        pool: PoolLimits { min: 0, max: 0 },
        maintenance_interval_ms: 100,
        ..Default::default()
    });
    let mut all = pods(0, 20, 1);
    let mut fired = 0;
    for step in ["bind", "move"] {
        if step == "move" {
            all = pods(0, 20, 2);
        }
        ground.ambiguous_writes(&WRITES, 0.2).await;
        for wave in all.chunks(8) {
            ensure_until_bound(&provider, wave, 1).await;
        }
        fired += ground.clear_faults().await;
        let results = ensure_until_bound(&provider, &all, 10).await;
        assert_bound(&ground, &all, &results);
        assert_eq!(ground.ours().len(), 20, "{step}: one EIP per Pod, no more");
    }
    ground.ambiguous_writes(&WRITES, 0.2).await;
    release_until_done(&provider, &all, 1).await;
    fired += ground.clear_faults().await;
    let left = release_until_done(&provider, &all, 10).await;
    assert!(left.is_empty(), "not released: {left:?}");
    // Whatever went back to the pool for a lost answer is trimmed away (pool maximum 0).
    let deadline = Instant::now() + Duration::from_secs(20);
    while !ground.ours().is_empty() {
        assert!(Instant::now() < deadline, "leaked: {:?}", ground.ours());
        provider.maintain().await;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_nat_eips_untouched(&ground);
    println!(
        "40 bindings under ambiguous writes ({fired} answers lost): {}",
        provider.stats()
    );
}

/// The realistic profile's EIP tasks (1-2 s each): allocate, associate, move and release four
/// Pods with two ports each without a failed call.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_clouds_real_timings_are_ridden_out() {
    let ground = Ground(Emulated::start_realistic().await);
    let provider = ground.provider(EipProviderConfig {
        pool: PoolLimits { min: 0, max: 0 },
        ..Default::default()
    });
    let first = pods(0, 4, 1);
    let results = ensure_all(&provider, &first).await;
    assert_bound(&ground, &first, &results);
    let moved = pods(0, 4, 2);
    let results = ensure_all(&provider, &moved).await;
    assert_bound(&ground, &moved, &results);
    assert!(release_until_done(&provider, &moved, 1).await.is_empty());
    let deadline = Instant::now() + Duration::from_secs(30);
    while !ground.ours().is_empty() {
        assert!(Instant::now() < deadline, "left: {:?}", ground.ours());
        provider.maintain().await;
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    println!("4 Pods x 2 ports at the cloud's pace: {}", provider.stats());
}
