//! The clb provider against the in-process Tencent Cloud emulator: real signing, real envelope,
//! async tasks, the instance lock, rate limits and injected faults. Every test checks the
//! emulator's own state (`GET /_emulator/state`), not only what the provider says.
//!
//! `cargo test -p dac-provider-clb --test emulator -- --nocapture` prints the write counts.
use std::collections::{BTreeSet, HashMap};
use std::ops::Deref;
use std::sync::Arc;
use std::time::Duration;

use dac_provider_api::{
    AddressProvider, Backend, Binding, BindingKey, BindingState, BindingStatus, Protocol, Scope,
    Slot,
};
use dac_provider_clb::{ClbProvider, ClbProviderConfig, reason};
use dac_provider_support::testing::{Emulated, FAST_TASK_POLL};
use dac_tencentcloud::models::clb;
use serde_json::json;
use tokio::task::JoinSet;

const REGION: &str = "ap-guangzhou";
const CLUSTER: &str = "cls-it";
const LBS: [&str; 2] = ["lb-demo0001", "lb-demo0002"];
const VIPS: [&str; 2] = ["203.0.113.1", "203.0.113.2"];

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

    fn provider(&self) -> Arc<ClbProvider> {
        let config = ClbProviderConfig {
            region: REGION.into(),
            cluster_id: CLUSTER.into(),
            ..Default::default()
        };
        Arc::new(ClbProvider::new(Arc::new(self.client.clone()), config).unwrap())
    }

    /// `GET /_emulator/state`: the listeners of each CLB, with their targets.
    async fn listeners(&self) -> HashMap<String, Vec<EmulatedListener>> {
        let state = self.get("state").await;
        let lbs = &state["Regions"][REGION]["LoadBalancers"];
        LBS.iter()
            .map(|lb| {
                let listeners = lbs[lb]["Listeners"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default()
                    .iter()
                    .map(|l| EmulatedListener {
                        id: l["ListenerId"].as_str().unwrap().to_string(),
                        port: l["Port"].as_u64().unwrap() as u16,
                        protocol: l["Protocol"].as_str().unwrap().to_string(),
                        name: l["ListenerName"].as_str().unwrap_or_default().to_string(),
                        targets: l["Targets"]
                            .as_array()
                            .unwrap()
                            .iter()
                            .map(|t| {
                                (
                                    t["EniIp"].as_str().unwrap_or_default().to_string(),
                                    t["Port"].as_u64().unwrap() as u16,
                                )
                            })
                            .collect(),
                    })
                    .collect();
                (lb.to_string(), listeners)
            })
            .collect()
    }

    /// A listener made behind the provider's back (the console, or a controller that crashed).
    async fn create_listener_directly(&self, lb: &str, port: u16, name: &str) -> String {
        let resp = self
            .client
            .create_listener(
                REGION,
                &clb::CreateListenerRequest {
                    load_balancer_id: lb.into(),
                    ports: vec![i64::from(port)],
                    protocol: "TCP".into(),
                    listener_names: Some(vec![name.into()]),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        self.client
            .wait_clb_task(REGION, &resp.request_id, deadline)
            .await
            .unwrap();
        resp.listener_ids[0].clone()
    }
}

#[derive(Debug, Clone)]
struct EmulatedListener {
    id: String,
    port: u16,
    protocol: String,
    name: String,
    targets: Vec<(String, u16)>,
}

fn binding(lb: &str, port: u16, name: &str, pod_ip: Option<&str>) -> Binding {
    Binding {
        key: BindingKey::new("games", name),
        region: None,
        slot: Slot::Port {
            frontend_id: lb.into(),
            public_ip: None,
            port,
            protocol: Protocol::Tcp,
        },
        backend: pod_ip.map(|ip| Backend {
            pod_name: name.into(),
            pod_ip: ip.into(),
            port: 7000,
        }),
        resource_id: None,
        listener_settings: None,
        options: None,
        keep_pod_address: false,
    }
}

/// `n` bindings spread over both CLBs, ports from 30000, Pod IPs 10.1.x.y.
fn bindings(n: usize) -> Vec<Binding> {
    (0..n)
        .map(|i| {
            let lb = LBS[i % 2];
            let port = 30000 + (i / 2) as u16;
            let ip = format!("10.1.{}.{}", i / 200, i % 200 + 10);
            binding(lb, port, &format!("gs-{i}-tcp-7000"), Some(&ip))
        })
        .collect()
}

async fn ensure_all(
    provider: &Arc<ClbProvider>,
    bindings: &[Binding],
) -> Vec<(Binding, dac_provider_api::Result<BindingStatus>)> {
    let mut set = JoinSet::new();
    for (i, b) in bindings.iter().cloned().enumerate() {
        let p = Arc::clone(provider);
        set.spawn(async move { (i, b.clone(), p.ensure(&b).await) });
    }
    let mut out = set.join_all().await;
    out.sort_by_key(|(i, _, _)| *i);
    out.into_iter().map(|(_, b, r)| (b, r)).collect()
}

async fn release_all(
    provider: &Arc<ClbProvider>,
    bindings: &[Binding],
) -> Vec<dac_provider_api::Result<()>> {
    let mut set = JoinSet::new();
    for b in bindings {
        let p = Arc::clone(provider);
        let b = b.clone();
        set.spawn(async move { p.release(&b).await });
    }
    set.join_all().await
}

fn lb_of(b: &Binding) -> &str {
    match &b.slot {
        Slot::Port { frontend_id, .. } => frontend_id,
        Slot::PodAddress { .. } => unreachable!(),
    }
}

/// Every binding has its own listener on its CLB at its port, named with its marker, whose only
/// target is its backend.
async fn assert_cloud_matches(ground: &Ground, provider: &ClbProvider, bound: &[Binding]) {
    let state = ground.listeners().await;
    let total: usize = state.values().map(Vec::len).sum();
    assert_eq!(total, bound.len(), "one listener per binding, no more");
    for b in bound {
        let listeners = &state[lb_of(b)];
        let at_port: Vec<&EmulatedListener> = listeners
            .iter()
            .filter(|l| l.port == b.slot.port() && l.protocol == "TCP")
            .collect();
        assert_eq!(at_port.len(), 1, "{}: {at_port:?}", b.key);
        let l = at_port[0];
        assert_eq!(l.name, provider.marker_for(&b.key));
        let want = b
            .backend
            .as_ref()
            .map(|be| vec![(be.pod_ip.clone(), be.port)])
            .unwrap_or_default();
        assert_eq!(l.targets, want, "{}", b.key);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hundred_bindings_over_two_clbs_bind_move_and_release() {
    let ground = Ground::start().await;
    let provider = ground.provider();
    let mut all = bindings(100);

    // Bind all 100 at once.
    let started = tokio::time::Instant::now();
    let results = ensure_all(&provider, &all).await;
    let elapsed = started.elapsed();
    let mut ids = BTreeSet::new();
    let mut addresses = BTreeSet::new();
    for (b, result) in &results {
        let status = result.as_ref().unwrap_or_else(|e| panic!("{}: {e}", b.key));
        assert_eq!(status.state, BindingState::Bound, "{}", b.key);
        let vip = VIPS[LBS.iter().position(|lb| *lb == lb_of(b)).unwrap()];
        assert_eq!(status.address, Some(format!("{vip}:{}", b.slot.port())));
        ids.insert(status.resource_id.clone());
        addresses.insert(status.address.clone().unwrap());
    }
    assert_eq!(ids.len(), 100, "distinct listeners");
    assert_eq!(addresses.len(), 100, "distinct addresses");
    assert_cloud_matches(&ground, &provider, &all).await;
    let bind = provider.stats();
    println!(
        "100 bindings over 2 CLBs bound in {elapsed:?}: {} cloud writes ({:.2} per binding), {} reads, {} rounds; writes {:?}, reads {:?}",
        bind.total_writes(),
        bind.total_writes() as f64 / 100.0,
        bind.total_reads(),
        bind.rounds,
        bind.writes,
        bind.reads,
    );
    // Two CreateListener calls (49 ports, the cloud's most, and 1) and one
    // BatchRegisterTargets per CLB.
    assert_eq!(bind.writes_of("CreateListener"), 4, "{bind}");
    assert_eq!(bind.writes_of("BatchRegisterTargets"), 2, "{bind}");
    assert_eq!(bind.total_writes(), 6, "{bind}");

    // Asking again changes nothing and writes nothing.
    let again = ensure_all(&provider, &all).await;
    for ((_, first), (b, second)) in results.iter().zip(&again) {
        assert_eq!(
            first.as_ref().unwrap(),
            second.as_ref().unwrap(),
            "{}",
            b.key
        );
    }
    let reensure = provider.stats().since(&bind);
    println!("re-ensure of 100 bound bindings: {reensure}");
    assert_eq!(reensure.total_writes(), 0, "{reensure}");

    // Ten Pods come back with new IPs: their targets move, nothing else changes.
    let before_move = provider.stats();
    for b in all.iter_mut().take(10) {
        if let Some(backend) = &mut b.backend {
            backend.pod_ip = backend.pod_ip.replace("10.1.", "10.2.");
        }
    }
    for (b, result) in ensure_all(&provider, &all[..10]).await {
        assert_eq!(result.unwrap().state, BindingState::Bound, "{}", b.key);
    }
    assert_cloud_matches(&ground, &provider, &all).await;
    let moved = provider.stats().since(&before_move);
    println!("10 backend IP changes: {moved}");
    assert_eq!(moved.writes_of("CreateListener"), 0);
    assert_eq!(moved.writes_of("BatchDeregisterTargets"), 2, "{moved}");
    assert_eq!(moved.writes_of("BatchRegisterTargets"), 2, "{moved}");

    // A Pod without an IP: its listener stays, without a target.
    all[10].backend = None;
    let status = provider.ensure(&all[10]).await.unwrap();
    assert_eq!(status.state, BindingState::Available);
    assert_cloud_matches(&ground, &provider, &all).await;

    // Release everything: every listener is gone; releasing again is a no-op.
    let before_release = provider.stats();
    for result in release_all(&provider, &all).await {
        result.unwrap();
    }
    let state = ground.listeners().await;
    assert!(state.values().all(Vec::is_empty), "{state:?}");
    let released = provider.stats().since(&before_release);
    println!("release of 100 bindings: {released}");
    // 50 listeners per CLB, 20 per DeleteLoadBalancerListeners call.
    assert_eq!(
        released.writes_of("DeleteLoadBalancerListeners"),
        6,
        "{released}"
    );
    let before_again = provider.stats();
    for result in release_all(&provider, &all).await {
        result.unwrap();
    }
    assert_eq!(provider.stats().since(&before_again).total_writes(), 0);
    println!("total for the whole scenario: {}", provider.stats());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_controller_adopts_what_the_crashed_one_created() {
    let ground = Ground::start().await;
    let all = bindings(10);

    // A controller binds half, then dies before writing any status.
    let first = ground.provider();
    for (_, result) in ensure_all(&first, &all[..5]).await {
        result.unwrap();
    }
    drop(first);
    // Another one died right after CreateListener: a listener with the marker, no target.
    let half_done = ground.provider().marker_for(&all[5].key);
    let orphan_id = ground
        .create_listener_directly(lb_of(&all[5]), all[5].slot.port(), &half_done)
        .await;

    // The restarted controller ensures everything: adoption, no duplicates.
    let second = ground.provider();
    let results = ensure_all(&second, &all).await;
    for (b, result) in &results {
        assert_eq!(
            result.as_ref().unwrap().state,
            BindingState::Bound,
            "{}",
            b.key
        );
    }
    assert_eq!(results[5].1.as_ref().unwrap().resource_id, orphan_id);
    assert_cloud_matches(&ground, &second, &all).await;
    let stats = second.stats();
    println!("restart over 5 bound + 1 half-created + 4 new bindings: {stats}");
    // Only the 4 new listeners are created, in one call per CLB.
    assert_eq!(stats.writes_of("CreateListener"), 2, "{stats}");

    // list_owned sees all ten with their owners.
    let owned = second
        .list_owned(&Scope {
            cluster: CLUSTER.into(),
            region: None,
            frontend_ids: LBS.iter().map(|s| s.to_string()).collect(),
            namespace: None,
        })
        .await
        .unwrap();
    let owners: BTreeSet<BindingKey> = owned.into_iter().filter_map(|o| o.owner).collect();
    let want: BTreeSet<BindingKey> = all.iter().map(|b| b.key.clone()).collect();
    assert_eq!(owners, want);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn foreign_listeners_are_conflicts_and_never_touched() {
    let ground = Ground::start().await;
    let provider = ground.provider();
    let console = ground
        .create_listener_directly(LBS[0], 30000, "made-in-console")
        .await;

    let taken = binding(LBS[0], 30000, "gs-a", Some("10.1.0.1"));
    let free = binding(LBS[0], 30001, "gs-b", Some("10.1.0.2"));
    let results = ensure_all(&provider, &[taken.clone(), free.clone()]).await;
    let err = results[0].1.clone().unwrap_err();
    assert_eq!(err.reason(), reason::PORT_CONFLICT, "{err}");
    assert_eq!(results[1].1.as_ref().unwrap().state, BindingState::Bound);

    // Releasing the conflicting binding leaves the console's listener alone.
    provider.release(&taken).await.unwrap();
    let state = ground.listeners().await;
    let console_listener = state[LBS[0]].iter().find(|l| l.id == console).unwrap();
    assert_eq!(console_listener.name, "made-in-console");

    // Capacity counts the console's listener against us, not our own.
    let frontends = provider
        .frontends(&Scope {
            cluster: CLUSTER.into(),
            region: None,
            frontend_ids: LBS.iter().map(|s| s.to_string()).collect(),
            namespace: None,
        })
        .await
        .unwrap();
    let taken: Vec<Vec<u16>> = frontends
        .iter()
        .map(|f| f.taken.iter().map(|t| t.port).collect())
        .collect();
    assert_eq!(taken, [vec![30000], vec![]]);
    assert_eq!(
        frontends[0].tags.get("owner").map(String::as_str),
        Some("demo")
    );
    let capacity: Vec<(String, u32)> = frontends.into_iter().map(|f| (f.id, f.capacity)).collect();
    assert_eq!(
        capacity,
        [(LBS[0].to_string(), 49), (LBS[1].to_string(), 50)]
    );
    // A CLB that does not exist is reported gone, beside the ones that do.
    let frontends = provider
        .frontends(&Scope {
            cluster: CLUSTER.into(),
            region: None,
            frontend_ids: vec!["lb-doesnotexist".into(), LBS[1].into()],
            namespace: None,
        })
        .await
        .unwrap();
    let missing = frontends[0].problem.clone().expect("a problem");
    assert!(missing.gone);
    assert_eq!(missing.reason, reason::LOAD_BALANCER_NOT_FOUND);
    assert_eq!(frontends[1].problem, None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn throttling_and_instance_locks_are_ridden_through() {
    let ground = Ground::start().await;
    let provider = ground.provider();
    // Tasks take longer, so batch writes meet the lock of the task before them.
    ground
        .admin(
            "settings",
            json!({"task_latency_ms": 600, "batch_lock_ms": 500}),
        )
        .await;
    // Someone else wrote to the first CLB just before us: it is locked when our round starts.
    // Written (and answered) before the faults go in and before our round, so that its outcome
    // never depends on how the two would interleave.
    ground
        .client
        .create_listener(
            REGION,
            &clb::CreateListenerRequest {
                load_balancer_id: LBS[0].into(),
                ports: vec![40000],
                protocol: "UDP".into(),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    ground
        .admin(
            "faults",
            json!([
                {"action": "CreateListener", "code": "FailedOperation.ResourceInOperating", "count": 3},
                {"action": "BatchRegisterTargets", "code": "RequestLimitExceeded", "count": 2},
                {"action": "DescribeListeners", "code": "RequestLimitExceeded", "count": 2},
                {"action": "DescribeTaskStatus", "code": "InternalError", "count": 1},
                {"action": "DeleteLoadBalancerListeners", "code": "FailedOperation.ResourceInOperating", "count": 2}
            ]),
        )
        .await;

    let all = bindings(40);
    let started = tokio::time::Instant::now();
    let results = ensure_all(&provider, &all).await;
    for (b, result) in &results {
        assert_eq!(
            result
                .as_ref()
                .unwrap_or_else(|e| panic!("{}: {e}", b.key))
                .state,
            BindingState::Bound
        );
    }
    println!(
        "40 bindings under injected faults in {:?}: {}",
        started.elapsed(),
        provider.stats()
    );

    // The UDP listener someone else made is not ours and stays; ours match.
    let state = ground.listeners().await;
    assert!(
        state[LBS[0]]
            .iter()
            .any(|l| l.port == 40000 && l.protocol == "UDP")
    );
    let ours: usize = state
        .values()
        .flatten()
        .filter(|l| l.name.starts_with("dac_cls-it_"))
        .count();
    assert_eq!(ours, 40);

    for result in release_all(&provider, &all).await {
        result.unwrap();
    }
    let state = ground.listeners().await;
    let left: Vec<&EmulatedListener> = state.values().flatten().collect();
    assert_eq!(
        left.len(),
        1,
        "only the foreign UDP listener is left: {left:?}"
    );

    // Every injected fault fired (they are counted and removed when used up).
    let faults = ground.get("faults").await;
    assert_eq!(faults["faults"], json!([]), "{faults}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_listener_quota_fails_only_the_bindings_beyond_it() {
    let ground = Ground::start().await;
    ground.admin("settings", json!({"listener_quota": 5})).await;
    let provider = ground.provider();
    let all: Vec<Binding> = (0..8)
        .map(|i| {
            binding(
                LBS[0],
                31000 + i,
                &format!("q-{i}"),
                Some(&format!("10.3.0.{}", i + 1)),
            )
        })
        .collect();
    let results = ensure_all(&provider, &all).await;
    let bound = results.iter().filter(|(_, r)| r.is_ok()).count();
    let over: Vec<_> = results
        .iter()
        .filter_map(|(_, r)| r.as_ref().err())
        .collect();
    assert_eq!(bound, 5, "{results:?}");
    assert_eq!(over.len(), 3);
    assert!(
        over.iter()
            .all(|e| e.reason() == reason::LISTENER_QUOTA_EXCEEDED),
        "{over:?}"
    );
    assert_eq!(ground.listeners().await[LBS[0]].len(), 5);
    println!("quota 5, 8 bindings: {}", provider.stats());
}

/// TCP and UDP on the same port number are two listeners, each with its own target port.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tcp_and_udp_on_one_port_number_keep_their_own_targets() {
    let ground = Ground::start().await;
    let provider = ground.provider();
    let tcp = binding(LBS[0], 501, "gs-0-tcp-9000", Some("10.244.1.1"));
    let mut udp = binding(LBS[0], 501, "gs-0-udp-8000", Some("10.244.1.1"));
    if let Slot::Port { protocol, .. } = &mut udp.slot {
        *protocol = Protocol::Udp;
    }
    udp.backend.as_mut().unwrap().port = 8000;
    let mut tcp = tcp;
    tcp.backend.as_mut().unwrap().port = 9000;
    // Together in one round, and one after the other in rounds of their own.
    for (b, result) in ensure_all(&provider, &[tcp.clone(), udp.clone()]).await {
        assert_eq!(
            result.expect("bound").state,
            BindingState::Bound,
            "{}",
            b.key
        );
    }
    let fresh = ground.provider();
    for b in [&udp, &tcp] {
        assert_eq!(
            fresh.ensure(b).await.expect("bound").state,
            BindingState::Bound,
            "{}",
            b.key
        );
    }
    ensure_all(&provider, &[tcp.clone()]).await;
    ensure_all(&provider, &[udp.clone()]).await;
    let state = ground.listeners().await;
    type Seen = (String, u16, Vec<(String, u16)>);
    let mut seen: Vec<Seen> = state[LBS[0]]
        .iter()
        .map(|l| (l.protocol.clone(), l.port, l.targets.clone()))
        .collect();
    seen.sort();
    assert_eq!(
        seen,
        vec![
            (
                "TCP".to_string(),
                501,
                vec![("10.244.1.1".to_string(), 9000)]
            ),
            (
                "UDP".to_string(),
                501,
                vec![("10.244.1.1".to_string(), 8000)]
            ),
        ]
    );
}

/// Domain-based and IPv6 CLBs: the address is the domain, or the IPv6 address in brackets.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn domain_and_ipv6_clbs_give_their_own_addresses() {
    let ground = Ground::start().await;
    let provider = ground.provider();
    let domain = binding("lb-domain01", 30000, "gs-d", Some("10.1.0.1"));
    let v6 = binding("lb-ipv6-01", 30000, "gs-6", Some("10.1.0.2"));
    let results = ensure_all(&provider, &[domain, v6]).await;
    let addresses: Vec<String> = results
        .iter()
        .map(|(b, r)| {
            let status = r.as_ref().unwrap_or_else(|e| panic!("{}: {e}", b.key));
            assert_eq!(status.state, BindingState::Bound);
            status.address.clone().unwrap()
        })
        .collect();
    assert_eq!(
        addresses,
        [
            "lb-domain01-9f3c2a1b.clb.ap-guangzhou.tencentclb.com:30000",
            "[2001:db8::1]:30000"
        ]
    );
    let frontends = provider
        .frontends(&Scope {
            cluster: CLUSTER.into(),
            frontend_ids: vec!["lb-domain01".into(), "lb-ipv6-01".into()],
            ..Default::default()
        })
        .await
        .unwrap();
    let kinds: Vec<Option<&str>> = frontends
        .iter()
        .map(|f| f.tags.get("kind").map(String::as_str))
        .collect();
    assert_eq!(kinds, [Some("domain"), Some("ipv6")]);
}

/// A CLB deleted while a write is on its way: the cloud may say so with its code or only in
/// the message; both are LoadBalancerNotFound, and releasing on it is done.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_clb_deleted_meanwhile_is_not_found_whichever_way_the_cloud_says_it() {
    let ground = Ground::start().await;
    let provider = ground.provider();
    for (i, (code, message)) in [
        ("InvalidParameter.LBIdNotFound", "Load balancer not found."),
        ("InvalidParameter", "LoadBalancer not exist"),
        ("FailedOperation", "LB not exist"),
    ]
    .into_iter()
    .enumerate()
    {
        ground
            .admin(
                "faults",
                json!({"action": "CreateListener", "code": code, "message": message, "count": 1}),
            )
            .await;
        let b = binding(
            LBS[0],
            30100 + i as u16,
            &format!("gone-{i}"),
            Some("10.1.0.9"),
        );
        let err = provider.ensure(&b).await.unwrap_err();
        assert_eq!(
            err.reason(),
            reason::LOAD_BALANCER_NOT_FOUND,
            "{code}: {err}"
        );
    }
    ground
        .admin(
            "faults",
            json!({"action": "DeleteLoadBalancerListeners", "code": "InvalidParameter", "message": "LoadBalancer not exist", "count": 5}),
        )
        .await;
    let created = binding(LBS[0], 30200, "to-release", Some("10.1.0.8"));
    provider.ensure(&created).await.unwrap();
    provider.release(&created).await.unwrap();
}

/// A `CLBListenerConfig` edited after its listeners were made: the next ensure modifies them
/// (one ModifyListener each), and once they match, ensuring writes nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn edited_listener_settings_reach_existing_listeners() {
    let ground = Ground::start().await;
    let provider = ground.provider();
    let settings = |scheduler: &str, interval: i64| {
        json!({
            "scheduler": scheduler,
            "healthCheck": {"healthSwitch": 1, "timeOut": 2, "intervalTime": interval}
        })
    };
    let mut all: Vec<Binding> = (0..3)
        .map(|i| {
            let mut b = binding(LBS[0], 32000 + i, &format!("cfg-{i}"), Some("10.4.0.1"));
            b.backend.as_mut().unwrap().port = 7000 + i;
            b.listener_settings = Some(settings("WRR", 5));
            b
        })
        .collect();
    for (b, r) in ensure_all(&provider, &all).await {
        assert_eq!(r.unwrap().state, BindingState::Bound, "{}", b.key);
    }
    let before = provider.stats();
    for b in &mut all {
        b.listener_settings = Some(settings("LEAST_CONN", 10));
    }
    for (b, r) in ensure_all(&provider, &all).await {
        assert_eq!(r.unwrap().state, BindingState::Bound, "{}", b.key);
    }
    let modified = provider.stats().since(&before);
    assert_eq!(modified.writes_of("ModifyListener"), 3, "{modified}");
    assert_eq!(modified.writes_of("CreateListener"), 0, "{modified}");
    let state = ground.get("state").await;
    for l in state["Regions"][REGION]["LoadBalancers"][LBS[0]]["Listeners"]
        .as_array()
        .unwrap()
    {
        assert_eq!(l["Scheduler"], "LEAST_CONN");
        assert_eq!(l["HealthCheck"]["IntervalTime"], 10);
    }
    let settled = provider.stats();
    ensure_all(&provider, &all).await;
    assert_eq!(provider.stats().since(&settled).total_writes(), 0);
}

/// The write actions of the clb provider.
const WRITES: [&str; 5] = [
    "CreateListener",
    "DeleteLoadBalancerListeners",
    "BatchRegisterTargets",
    "BatchDeregisterTargets",
    "ModifyListener",
];

/// Ensures `all` until every one is Bound, at most `rounds` times; what is still not bound.
async fn ensure_until_bound(
    provider: &Arc<ClbProvider>,
    all: &[Binding],
    rounds: usize,
) -> Vec<Binding> {
    let mut left = all.to_vec();
    for _ in 0..rounds {
        if left.is_empty() {
            break;
        }
        left = ensure_all(provider, &left)
            .await
            .into_iter()
            .filter(|(_, r)| !matches!(r, Ok(s) if s.state == BindingState::Bound))
            .map(|(b, _)| b)
            .collect();
    }
    left
}

/// Releases `all` until every release succeeded, at most `rounds` times; what is left.
async fn release_until_done(
    provider: &Arc<ClbProvider>,
    all: &[Binding],
    rounds: usize,
) -> Vec<Binding> {
    let mut left = all.to_vec();
    for _ in 0..rounds {
        if left.is_empty() {
            break;
        }
        let results = release_all(provider, &left).await;
        left = left
            .into_iter()
            .zip(results)
            .filter(|(_, r)| r.is_err())
            .map(|(b, _)| b)
            .collect();
    }
    left
}

/// A listener created but not answered (the connection dropped after the cloud acted) is
/// adopted by its marker at the next ensure: never a second one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_listener_created_but_unanswered_is_adopted_not_duplicated() {
    let ground = Ground::start().await;
    let provider = ground.provider();
    ground
        .admin(
            "faults",
            json!({"action": "CreateListener", "drop": true, "afterApply": true, "count": 1}),
        )
        .await;
    let b = binding(LBS[0], 30500, "lost-answer", Some("10.1.0.5"));
    let err = provider.ensure(&b).await.unwrap_err();
    assert!(err.is_retryable(), "{err}");
    let status = provider.ensure(&b).await.unwrap();
    assert_eq!(status.state, BindingState::Bound);
    assert_cloud_matches(&ground, &provider, &[b]).await;
    assert_eq!(provider.stats().writes_of("CreateListener"), 1);
}

/// 20 Pods with 2 ports each while a fifth of every write is carried out but unanswered: they
/// are bound in waves, move to new Pod IPs and are released, each step once under the faults
/// and then until done without them. Every step ends with one listener per binding pointing at
/// its backend, and after the releases none is left.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ambiguous_writes_converge_without_duplicates_or_leaks() {
    let ground = Ground::start().await;
    let provider = ground.provider();
    let mut all: Vec<Binding> = (0..20)
        .flat_map(|pod| {
            let ip = format!("10.6.0.{}", pod + 10);
            [7000u16, 7001].map(|target| {
                let mut b = binding(
                    LBS[pod % 2],
                    31000 + (pod as u16) * 2 + (target - 7000),
                    &format!("amb-{pod}-{target}"),
                    Some(&ip),
                );
                b.backend.as_mut().unwrap().port = target;
                b
            })
        })
        .collect();
    let mut fired = 0;

    // Bind in waves of ten (more rounds, so more writes to hit), then move every Pod.
    for step in ["bind", "move"] {
        if step == "move" {
            for b in &mut all {
                let backend = b.backend.as_mut().unwrap();
                backend.pod_ip = backend.pod_ip.replace("10.6.", "10.7.");
            }
        }
        ground.ambiguous_writes(&WRITES, 0.2).await;
        for wave in all.chunks(10) {
            ensure_until_bound(&provider, wave, 1).await;
        }
        fired += ground.clear_faults().await;
        let left = ensure_until_bound(&provider, &all, 10).await;
        assert!(left.is_empty(), "{step}: not bound: {left:?}");
        assert_cloud_matches(&ground, &provider, &all).await;
    }

    ground.ambiguous_writes(&WRITES, 0.2).await;
    for wave in all.chunks(10) {
        release_until_done(&provider, wave, 1).await;
    }
    fired += ground.clear_faults().await;
    let left = release_until_done(&provider, &all, 10).await;
    assert!(left.is_empty(), "not released: {left:?}");
    let state = ground.listeners().await;
    assert!(state.values().all(Vec::is_empty), "leaked: {state:?}");
    println!(
        "40 bindings under ambiguous writes ({fired} answers lost): {}",
        provider.stats()
    );
}

/// The realistic profile: CLB tasks of 1-3 s and batch locks up to 10 s. Binding 60 ports over
/// two CLBs, moving them to new Pod IPs and releasing them meets the instance lock again and
/// again; the client's busy budget rides it out, so no call fails.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_clouds_real_timings_are_ridden_out() {
    let ground = Ground(Emulated::start_realistic().await);
    let provider = ground.provider();
    let mut all = bindings(60);
    let started = tokio::time::Instant::now();
    for (b, result) in ensure_all(&provider, &all).await {
        let status = result.unwrap_or_else(|e| panic!("{}: {e}", b.key));
        assert_eq!(status.state, BindingState::Bound, "{}", b.key);
    }
    for b in &mut all {
        let backend = b.backend.as_mut().unwrap();
        backend.pod_ip = backend.pod_ip.replace("10.1.", "10.2.");
    }
    // Large batches lock the instance for longer (up to the profile's 10 s): here 1 s + 250 ms
    // per target, 8.5 s for a CLB's 30, well beyond the few seconds of attempts a count-bound
    // retry would give. The moves' register meets their deregister's lock, the releases the
    // register's.
    ground
        .admin("settings", json!({"batch_lock_per_target_ms": 250}))
        .await;
    for (b, result) in ensure_all(&provider, &all).await {
        let status = result.unwrap_or_else(|e| panic!("{}: {e}", b.key));
        assert_eq!(status.state, BindingState::Bound, "{}", b.key);
    }
    assert_cloud_matches(&ground, &provider, &all).await;
    for result in release_all(&provider, &all).await {
        result.unwrap();
    }
    let state = ground.listeners().await;
    assert!(state.values().all(Vec::is_empty), "{state:?}");
    println!(
        "60 bindings bound, moved and released at the cloud's pace in {:?}: {}",
        started.elapsed(),
        provider.stats()
    );
}
