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
    // One CreateListener (50 ports) and one BatchRegisterTargets per CLB.
    assert_eq!(bind.writes_of("CreateListener"), 2, "{bind}");
    assert_eq!(bind.writes_of("BatchRegisterTargets"), 2, "{bind}");
    assert_eq!(bind.total_writes(), 4, "{bind}");

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
        })
        .await
        .unwrap();
    let capacity: Vec<(String, u32)> = frontends.into_iter().map(|f| (f.id, f.capacity)).collect();
    assert_eq!(
        capacity,
        [(LBS[0].to_string(), 49), (LBS[1].to_string(), 50)]
    );
    let missing = provider
        .frontends(&Scope {
            cluster: CLUSTER.into(),
            region: None,
            frontend_ids: vec!["lb-doesnotexist".into()],
        })
        .await
        .unwrap_err();
    assert_eq!(missing.reason(), reason::LOAD_BALANCER_NOT_FOUND);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn throttling_and_instance_locks_are_ridden_through() {
    let ground = Ground::start().await;
    let provider = ground.provider();
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
    // Tasks take longer, so batch writes meet the lock of the task before them.
    ground
        .admin(
            "settings",
            json!({"task_latency_ms": 600, "batch_lock_ms": 500}),
        )
        .await;
    // Someone else writes to the first CLB just before us: it is locked when our round starts.
    let other = ground.client.clone();
    let concurrent = tokio::spawn(async move {
        other
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
    });

    let all = bindings(40);
    let started = tokio::time::Instant::now();
    let results = ensure_all(&provider, &all).await;
    concurrent.await.unwrap().unwrap();
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
