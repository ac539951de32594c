//! The natgw provider against the in-process Tencent Cloud emulator: real signing, the real
//! envelope, the DNAT checks (EIP of the gateway, private IP in the VPC, the rule limit), rate
//! limits and injected faults. Every test checks the emulator's own state
//! (`GET /_emulator/state`), not only what the provider says.
//!
//! `cargo test -p dac-provider-natgw --test emulator -- --nocapture` prints write counts and times.
use std::collections::BTreeSet;
use std::ops::Deref;
use std::sync::Arc;

use dac_provider_api::{
    AddressProvider, Backend, Binding, BindingKey, BindingState, BindingStatus, Protocol, Scope,
    Slot,
};
use dac_provider_natgw::{GatewayConfig, NatgwProvider, NatgwProviderConfig, action, reason};
use dac_provider_support::testing::Emulated;
use dac_tencentcloud::models::vpc;
use serde_json::json;
use tokio::task::JoinSet;

const REGION: &str = "ap-guangzhou";
const CLUSTER: &str = "cls-it";
const GW: &str = "nat-demo0001";
const EIPS: [&str; 2] = ["198.51.100.1", "198.51.100.2"];

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
        Self(Emulated::start(None).await)
    }

    fn provider(&self) -> Arc<NatgwProvider> {
        let gateways = vec![GatewayConfig {
            id: GW.into(),
            region: None,
            eips: Vec::new(),
            min_port: 30000,
            max_port: 30999,
        }];
        let config = NatgwProviderConfig::new(CLUSTER, REGION, gateways);
        Arc::new(NatgwProvider::new(Arc::new(self.client.clone()), config).unwrap())
    }

    /// The gateway's DNAT rules as the emulator holds them.
    async fn rules(&self) -> Vec<EmulatedRule> {
        let state = self.get("state").await;
        state["Regions"][REGION]["NatGateways"][GW]["DnatRules"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .iter()
            .map(|r| EmulatedRule {
                protocol: r["IpProtocol"].as_str().unwrap().to_string(),
                public_ip: r["PublicIpAddress"].as_str().unwrap().to_string(),
                public_port: r["PublicPort"].as_u64().unwrap() as u16,
                private_ip: r["PrivateIpAddress"].as_str().unwrap().to_string(),
                private_port: r["PrivatePort"].as_u64().unwrap() as u16,
                description: r["Description"].as_str().unwrap_or_default().to_string(),
            })
            .collect()
    }

    /// A rule made behind the provider's back (the console, or a controller that crashed).
    async fn create_rule_directly(&self, b: &Binding, private_ip: &str, description: &str) {
        let Slot::Port {
            public_ip,
            port,
            protocol,
            ..
        } = &b.slot
        else {
            unreachable!()
        };
        let rule = vpc::DestinationIpPortTranslationNatRule {
            ip_protocol: protocol.as_str().into(),
            public_ip_address: public_ip.clone().unwrap(),
            public_port: i64::from(*port),
            private_ip_address: private_ip.into(),
            private_port: 7000,
            description: Some(description.into()),
        };
        self.client
            .create_nat_gateway_destination_ip_port_translation_nat_rule(
                REGION,
                &vpc::CreateNatGatewayDestinationIpPortTranslationNatRuleRequest {
                    nat_gateway_id: GW.into(),
                    destination_ip_port_translation_nat_rules: vec![rule],
                },
            )
            .await
            .unwrap();
    }
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct EmulatedRule {
    protocol: String,
    public_ip: String,
    public_port: u16,
    private_ip: String,
    private_port: u16,
    description: String,
}

fn binding(
    name: &str,
    eip: &str,
    port: u16,
    protocol: Protocol,
    backend: Option<(&str, u16)>,
) -> Binding {
    Binding {
        key: BindingKey::new("games", name),
        region: None,
        slot: Slot::Port {
            frontend_id: GW.into(),
            public_ip: Some(eip.into()),
            port,
            protocol,
        },
        backend: backend.map(|(ip, port)| Backend {
            pod_name: name.into(),
            pod_ip: ip.into(),
            port,
        }),
        resource_id: None,
        listener_settings: None,
        options: None,
        keep_pod_address: false,
    }
}

/// `pods` Pods with two ports each (TCP 7000, UDP 7777), spread over the gateway's two EIPs the
/// way the controller's allocator does it: a Pod's two ports share an EIP and a port number.
fn pod_bindings(pods: usize) -> Vec<Binding> {
    (0..pods)
        .flat_map(|i| {
            let eip = EIPS[i % 2];
            let port = 30000 + (i / 2) as u16;
            let ip = format!("10.1.0.{}", i + 10);
            [
                binding(
                    &format!("gs-{i}-tcp-7000"),
                    eip,
                    port,
                    Protocol::Tcp,
                    Some((&ip, 7000)),
                ),
                binding(
                    &format!("gs-{i}-udp-7777"),
                    eip,
                    port,
                    Protocol::Udp,
                    Some((&ip, 7777)),
                ),
            ]
        })
        .collect()
}

async fn ensure_all(
    provider: &Arc<NatgwProvider>,
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

async fn release_all(provider: &Arc<NatgwProvider>, bindings: &[Binding]) {
    let mut set = JoinSet::new();
    for b in bindings {
        let (p, b) = (Arc::clone(provider), b.clone());
        set.spawn(async move { p.release(&b).await });
    }
    for result in set.join_all().await {
        result.unwrap();
    }
}

/// The rules the emulator should hold for `bound`: one per binding with a backend, at its slot,
/// marked for it, forwarding to its backend; nothing else.
fn expected_rules(provider: &NatgwProvider, bound: &[Binding]) -> Vec<EmulatedRule> {
    let mut want: Vec<EmulatedRule> = bound
        .iter()
        .filter_map(|b| {
            let Slot::Port {
                public_ip,
                port,
                protocol,
                ..
            } = &b.slot
            else {
                unreachable!()
            };
            let be = b.backend.as_ref()?;
            Some(EmulatedRule {
                protocol: protocol.as_str().into(),
                public_ip: public_ip.clone().unwrap(),
                public_port: *port,
                private_ip: be.pod_ip.clone(),
                private_port: be.port,
                description: provider.marker_for(&b.key),
            })
        })
        .collect();
    want.sort();
    want
}

async fn assert_cloud_matches(ground: &Ground, provider: &NatgwProvider, bound: &[Binding]) {
    let mut have = ground.rules().await;
    have.sort();
    assert_eq!(have, expected_rules(provider, bound));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forty_bindings_bind_move_and_release() {
    let ground = Ground::start().await;
    let provider = ground.provider();
    let mut all = pod_bindings(20);
    assert_eq!(all.len(), 40);

    // The controller asks where slots may go.
    let frontends = provider.frontends(&Scope::default()).await.unwrap();
    assert_eq!(frontends.len(), 1);
    assert_eq!(frontends[0].public_ips, EIPS);
    assert_eq!(frontends[0].capacity, 200);

    // Bind all 40 at once.
    let before = provider.stats();
    let started = tokio::time::Instant::now();
    let results = ensure_all(&provider, &all).await;
    let elapsed = started.elapsed();
    let mut addresses = BTreeSet::new();
    for (b, result) in all.iter().zip(&results) {
        let status = result.as_ref().unwrap_or_else(|e| panic!("{}: {e}", b.key));
        assert_eq!(status.state, BindingState::Bound, "{}", b.key);
        addresses.insert((b.slot.protocol(), status.address.clone().unwrap()));
    }
    assert_eq!(addresses.len(), 40, "distinct addresses");
    assert_cloud_matches(&ground, &provider, &all).await;
    let bind = provider.stats().since(&before);
    println!(
        "natgw: 40 bindings (20 Pods x 2 ports) over 2 EIPs bound in {elapsed:?}: {} cloud writes \
         ({:.3} per binding), {} reads, {} rounds; writes {:?}, reads {:?}",
        bind.total_writes(),
        bind.total_writes() as f64 / 40.0,
        bind.total_reads(),
        bind.rounds,
        bind.writes,
        bind.reads,
    );
    assert_eq!(bind.writes_of(action::CREATE), 1, "{bind}");
    assert_eq!(bind.total_writes(), 1, "{bind}");

    // Asking again changes nothing and writes nothing.
    let after_bind = provider.stats();
    let again = ensure_all(&provider, &all).await;
    for (first, second) in results.iter().zip(&again) {
        assert_eq!(first.as_ref().unwrap(), second.as_ref().unwrap());
    }
    let reensure = provider.stats().since(&after_bind);
    println!("natgw: re-ensure of 40 bound bindings: {reensure}");
    assert_eq!(reensure.total_writes(), 0, "{reensure}");
    let before_move = provider.stats();

    // Five Pods come back with new IPs (ten rules): their rules move in one delete and one
    // create; the public addresses stay.
    for b in all.iter_mut().take(10) {
        let backend = b.backend.as_mut().unwrap();
        backend.pod_ip = backend.pod_ip.replace("10.1.", "10.2.");
    }
    let moved = ensure_all(&provider, &all[..10]).await;
    for (b, (old, new)) in all.iter().zip(results.iter().zip(&moved)) {
        let (old, new) = (old.as_ref().unwrap(), new.as_ref().unwrap());
        assert_eq!(new.state, BindingState::Bound, "{}", b.key);
        assert_eq!(new.address, old.address, "{}", b.key);
        assert_eq!(new.resource_id, old.resource_id, "{}", b.key);
    }
    assert_cloud_matches(&ground, &provider, &all).await;
    let rollout = provider.stats().since(&before_move);
    println!("natgw: 10 rules moved to new Pod IPs: {rollout}");
    assert_eq!(rollout.writes_of(action::DELETE), 1, "{rollout}");
    assert_eq!(rollout.writes_of(action::CREATE), 1, "{rollout}");

    // One Pod comes back with a new IP: its two rules are modified in place.
    let before_one = provider.stats();
    for b in &mut all[10..12] {
        let backend = b.backend.as_mut().unwrap();
        backend.pod_ip = "10.3.0.1".into();
    }
    for result in ensure_all(&provider, &all[10..12]).await {
        assert_eq!(result.unwrap().state, BindingState::Bound);
    }
    assert_cloud_matches(&ground, &provider, &all).await;
    let one = provider.stats().since(&before_one);
    assert_eq!(one.writes_of(action::MODIFY), 2, "{one}");
    assert_eq!(one.total_writes(), 2, "{one}");

    // A Pod without an IP: no rule (DNAT needs a private IP), the address stays.
    all[12].backend = None;
    let status = provider.ensure(&all[12]).await.unwrap();
    assert_eq!(status.state, BindingState::Available);
    assert_eq!(status.address, results[12].as_ref().unwrap().address);
    assert_cloud_matches(&ground, &provider, &all).await;

    // list_owned sees every rule with its owner.
    let owned = provider.list_owned(&Scope::default()).await.unwrap();
    let owners: BTreeSet<BindingKey> = owned.into_iter().filter_map(|o| o.owner).collect();
    let want: BTreeSet<BindingKey> = all
        .iter()
        .filter(|b| b.backend.is_some())
        .map(|b| b.key.clone())
        .collect();
    assert_eq!(owners, want);

    // Release everything: every rule is gone, in one call; releasing again writes nothing.
    let before_release = provider.stats();
    release_all(&provider, &all).await;
    assert!(ground.rules().await.is_empty());
    let released = provider.stats().since(&before_release);
    println!("natgw: release of 40 bindings: {released}");
    assert_eq!(released.writes_of(action::DELETE), 1, "{released}");
    let before_again = provider.stats();
    release_all(&provider, &all).await;
    assert_eq!(provider.stats().since(&before_again).total_writes(), 0);
    println!("natgw: whole scenario: {}", provider.stats());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_controller_adopts_what_the_crashed_one_created() {
    let ground = Ground::start().await;
    let all = pod_bindings(5);

    // A controller binds four, then dies before writing any status.
    let first = ground.provider();
    for result in ensure_all(&first, &all[..4]).await {
        result.unwrap();
    }
    drop(first);
    // Another one died right after a Create: a marked rule, correct.
    let marker = |b: &Binding| ground.provider().marker_for(&b.key);
    let ip_of = |b: &Binding| b.backend.as_ref().unwrap().pod_ip.clone();
    ground
        .create_rule_directly(&all[4], &ip_of(&all[4]), &marker(&all[4]))
        .await;
    // And one whose Pod has since come back with another IP.
    ground
        .create_rule_directly(&all[5], "10.9.9.9", &marker(&all[5]))
        .await;

    let second = ground.provider();
    for (b, result) in all.iter().zip(ensure_all(&second, &all).await) {
        let status = result.unwrap_or_else(|e| panic!("{}: {e}", b.key));
        assert_eq!(status.state, BindingState::Bound, "{}", b.key);
    }
    assert_cloud_matches(&ground, &second, &all).await;
    let stats = second.stats();
    println!("natgw: restart over 4 bound + 2 half-done + 4 new bindings: {stats}");
    // Only the four new rules are created, in one call, and the stale one is modified.
    assert_eq!(stats.writes_of(action::CREATE), 1, "{stats}");
    assert_eq!(stats.writes_of(action::MODIFY), 1, "{stats}");
    assert_eq!(stats.total_writes(), 2, "{stats}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn foreign_rules_are_conflicts_and_never_touched() {
    let ground = Ground::start().await;
    let provider = ground.provider();
    let taken = binding(
        "gs-a",
        EIPS[0],
        30000,
        Protocol::Tcp,
        Some(("10.1.0.1", 7000)),
    );
    let free = binding(
        "gs-b",
        EIPS[0],
        30001,
        Protocol::Tcp,
        Some(("10.1.0.2", 7000)),
    );
    ground
        .create_rule_directly(&taken, "10.1.1.1", "made in the console")
        .await;

    let results = ensure_all(&provider, &[taken.clone(), free.clone()]).await;
    let err = results[0].clone().unwrap_err();
    assert_eq!(err.reason(), reason::PORT_CONFLICT, "{err}");
    assert_eq!(results[1].as_ref().unwrap().state, BindingState::Bound);

    // Releasing the conflicting binding leaves the console's rule alone.
    provider.release(&taken).await.unwrap();
    let rules = ground.rules().await;
    assert_eq!(rules.len(), 2);
    assert!(rules.iter().any(|r| r.description == "made in the console"));

    // Capacity counts the console's rule against us, not our own.
    let frontends = provider.frontends(&Scope::default()).await.unwrap();
    assert_eq!(frontends[0].capacity, 199);
    // ... and lists its slot as taken.
    let taken: Vec<(Option<&str>, u16)> = frontends[0]
        .taken
        .iter()
        .map(|t| (t.public_ip.as_deref(), t.port))
        .collect();
    assert_eq!(taken, [(Some(EIPS[0]), 30000)]);
    let missing = provider
        .frontends(&Scope {
            frontend_ids: vec!["nat-doesnotexist".into()],
            ..Default::default()
        })
        .await
        .unwrap();
    let problem = missing[0].problem.clone().expect("a problem");
    assert_eq!(problem.reason, reason::NAT_GATEWAY_NOT_CONFIGURED);
    assert!(!problem.gone);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_rule_limit_fails_only_the_excess() {
    let ground = Ground::start().await;
    ground
        .admin("settings", json!({"dnat_rule_limit": 5}))
        .await;
    let provider = ground.provider();
    let all: Vec<Binding> = (0..8)
        .map(|i| {
            binding(
                &format!("q-{i}"),
                EIPS[0],
                31000 + i,
                Protocol::Tcp,
                Some((&format!("10.3.0.{}", i + 1), 7000)),
            )
        })
        .collect();
    let results = ensure_all(&provider, &all).await;
    let bound = results.iter().filter(|r| r.is_ok()).count();
    let over: Vec<_> = results.iter().filter_map(|r| r.as_ref().err()).collect();
    assert_eq!(bound, 5, "{results:?}");
    assert_eq!(over.len(), 3);
    assert!(
        over.iter()
            .all(|e| e.reason() == reason::RULE_LIMIT_EXCEEDED),
        "{over:?}"
    );
    assert_eq!(ground.rules().await.len(), 5);
    println!("natgw: rule limit 5, 8 bindings: {}", provider.stats());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pod_ip_outside_the_vpc_fails_alone() {
    let ground = Ground::start().await;
    let provider = ground.provider();
    let mut all = pod_bindings(4);
    all[3].backend.as_mut().unwrap().pod_ip = "192.168.0.3".into();
    let results = ensure_all(&provider, &all).await;
    for (i, result) in results.iter().enumerate() {
        match i {
            3 => assert_eq!(
                result.clone().unwrap_err().reason(),
                reason::POD_IP_NOT_IN_VPC
            ),
            _ => assert_eq!(result.clone().unwrap().state, BindingState::Bound, "{i}"),
        }
    }
    let mut bound = all.clone();
    bound.remove(3);
    assert_cloud_matches(&ground, &provider, &bound).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn busy_gateways_and_throttling_are_ridden_through() {
    let ground = Ground::start().await;
    let provider = ground.provider();
    ground
        .admin(
            "faults",
            json!([
                {"action": "CreateNatGatewayDestinationIpPortTranslationNatRule",
                 "code": "UnsupportedOperation.NatGatewayIsBusy", "count": 3},
                {"action": "DeleteNatGatewayDestinationIpPortTranslationNatRule",
                 "code": "OperationDenied.MutexTaskRunning", "count": 2},
                {"action": "ModifyNatGatewayDestinationIpPortTranslationNatRule",
                 "code": "UnsupportedOperation.NatGatewayIsBusy", "count": 1},
                {"action": "DescribeNatGatewayDestinationIpPortTranslationNatRules",
                 "code": "RequestLimitExceeded", "count": 2},
                {"action": "DescribeNatGateways", "code": "InternalError", "count": 1}
            ]),
        )
        .await;
    let mut all = pod_bindings(20);
    let started = tokio::time::Instant::now();
    for (b, result) in all.iter().zip(ensure_all(&provider, &all).await) {
        let status = result.unwrap_or_else(|e| panic!("{}: {e}", b.key));
        assert_eq!(status.state, BindingState::Bound, "{}", b.key);
    }
    println!(
        "natgw: 40 bindings under injected faults in {:?}: {}",
        started.elapsed(),
        provider.stats()
    );
    assert_cloud_matches(&ground, &provider, &all).await;

    all[0].backend.as_mut().unwrap().pod_ip = "10.4.0.1".into();
    assert_eq!(
        provider.ensure(&all[0]).await.unwrap().state,
        BindingState::Bound
    );
    assert_cloud_matches(&ground, &provider, &all).await;

    release_all(&provider, &all).await;
    assert!(ground.rules().await.is_empty());
    // Every injected fault fired (they are removed once used up).
    let faults = ground.get("faults").await;
    assert_eq!(faults["faults"], json!([]), "{faults}");
}

/// The write actions of the natgw provider.
const WRITES: [&str; 3] = [
    "CreateNatGatewayDestinationIpPortTranslationNatRule",
    "DeleteNatGatewayDestinationIpPortTranslationNatRule",
    "ModifyNatGatewayDestinationIpPortTranslationNatRule",
];

/// Ensures `all` until every one is answered Ok, at most `rounds` times; what is left.
async fn ensure_until_done(
    provider: &Arc<NatgwProvider>,
    all: &[Binding],
    rounds: usize,
) -> Vec<Binding> {
    let mut left = all.to_vec();
    for _ in 0..rounds {
        if left.is_empty() {
            break;
        }
        let results = ensure_all(provider, &left).await;
        left = left
            .into_iter()
            .zip(results)
            .filter(|(_, r)| r.is_err())
            .map(|(b, _)| b)
            .collect();
    }
    left
}

/// Releases `all` until every release succeeded, at most `rounds` times; what is left.
async fn release_until_done(
    provider: &Arc<NatgwProvider>,
    all: &[Binding],
    rounds: usize,
) -> Vec<Binding> {
    let mut left = all.to_vec();
    for _ in 0..rounds {
        if left.is_empty() {
            break;
        }
        let mut set = JoinSet::new();
        for (i, b) in left.iter().cloned().enumerate() {
            let p = Arc::clone(provider);
            set.spawn(async move { (i, p.release(&b).await) });
        }
        let mut results = set.join_all().await;
        results.sort_by_key(|(i, _)| *i);
        left = left
            .into_iter()
            .zip(results)
            .filter(|(_, (_, r))| r.is_err())
            .map(|(b, _)| b)
            .collect();
    }
    left
}

/// A DNAT rule created but not answered (the connection dropped after the cloud acted) is
/// found by its description at the next ensure: never created twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rule_created_but_unanswered_is_found_by_its_description() {
    let ground = Ground::start().await;
    let provider = ground.provider();
    ground
        .admin(
            "faults",
            json!({"action": WRITES[0], "drop": true, "afterApply": true, "count": 1}),
        )
        .await;
    let b = binding(
        "lost",
        EIPS[0],
        30900,
        Protocol::Tcp,
        Some(("10.1.0.9", 7000)),
    );
    assert!(provider.ensure(&b).await.unwrap_err().is_retryable());
    assert_eq!(
        provider.ensure(&b).await.unwrap().state,
        BindingState::Bound
    );
    assert_cloud_matches(&ground, &provider, std::slice::from_ref(&b)).await;
    assert_eq!(provider.stats().writes_of(action::CREATE), 1);
}

/// 20 Pods with 2 ports each while a fifth of every write is carried out but unanswered:
/// bound in waves, moved to new Pod IPs, released; each step once under the faults, then
/// until done without them. Every step ends with exactly the rules the bindings want, and
/// after the releases none is left.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ambiguous_writes_converge_without_duplicates_or_leaks() {
    let ground = Ground::start().await;
    let provider = ground.provider();
    let mut all = pod_bindings(20);
    let mut fired = 0;
    for step in ["bind", "move"] {
        if step == "move" {
            for b in &mut all {
                let backend = b.backend.as_mut().unwrap();
                backend.pod_ip = backend.pod_ip.replace("10.1.", "10.2.");
            }
        }
        ground.ambiguous_writes(&WRITES, 0.2).await;
        // Waves of four: more rounds (more writes to hit), and moves by Modify.
        for wave in all.chunks(4) {
            ensure_until_done(&provider, wave, 1).await;
        }
        fired += ground.clear_faults().await;
        let left = ensure_until_done(&provider, &all, 10).await;
        assert!(left.is_empty(), "{step}: not done: {left:?}");
        assert_cloud_matches(&ground, &provider, &all).await;
    }
    ground.ambiguous_writes(&WRITES, 0.2).await;
    for wave in all.chunks(4) {
        release_until_done(&provider, wave, 1).await;
    }
    fired += ground.clear_faults().await;
    let left = release_until_done(&provider, &all, 10).await;
    assert!(left.is_empty(), "not released: {left:?}");
    assert_eq!(ground.rules().await, Vec::new(), "leaked");
    println!(
        "40 bindings under ambiguous writes ({fired} answers lost): {}",
        provider.stats()
    );
}

/// A gateway UPDATING is reported unavailable and its bindings wait; once AVAILABLE again they
/// bind. A gateway busy for a moment after each write (`dnat_update_ms`) is ridden through by
/// the client's busy retries.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gateway_updating_or_briefly_busy_is_waited_for() {
    let ground = Ground::start().await;
    ground
        .admin(&format!("nat-gateways/{GW}"), json!({"state": "UPDATING"}))
        .await;
    let provider = ground.provider();
    let frontends = provider.frontends(&Scope::default()).await.unwrap();
    let problem = frontends[0]
        .problem
        .clone()
        .expect("unavailable while UPDATING");
    assert!(!problem.gone);
    assert_eq!(problem.reason, reason::NAT_GATEWAY_NOT_AVAILABLE);
    let b = binding(
        "busy-0",
        EIPS[0],
        30700,
        Protocol::Tcp,
        Some(("10.1.0.70", 7000)),
    );
    let err = provider.ensure(&b).await.unwrap_err();
    assert!(err.is_retryable(), "{err}");
    ground
        .admin(&format!("nat-gateways/{GW}"), json!({"state": "AVAILABLE"}))
        .await;
    assert_eq!(
        provider.ensure(&b).await.unwrap().state,
        BindingState::Bound
    );
    assert_eq!(
        provider.frontends(&Scope::default()).await.unwrap()[0].problem,
        None
    );

    // Busy for 300 ms after every write: writes one after the other meet it, and wait.
    ground
        .admin("settings", json!({"dnat_update_ms": 300}))
        .await;
    let more: Vec<Binding> = (0..3)
        .map(|i| {
            let ip = format!("10.1.0.{}", 71 + i);
            binding(
                &format!("busy-{}", i + 1),
                EIPS[0],
                30701 + i,
                Protocol::Tcp,
                Some((&ip, 7000)),
            )
        })
        .collect();
    for b in &more {
        assert_eq!(
            provider.ensure(b).await.unwrap().state,
            BindingState::Bound,
            "{}",
            b.key
        );
    }
    let mut all = vec![b];
    all.extend(more);
    assert_cloud_matches(&ground, &provider, &all).await;
}

/// A Pod address that another rule already forwards to (`NatGatewayRulePipExists`, when the
/// cloud checks it): the user's to fix when a stranger's rule holds it, a wait when one of
/// this cluster's (being released) does.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pod_address_another_rule_forwards_to() {
    let ground = Ground::start().await;
    ground
        .admin("settings", json!({"dnat_create_checks_private_side": true}))
        .await;
    let provider = ground.provider();
    let console = binding("console", EIPS[1], 30800, Protocol::Tcp, None);
    ground
        .create_rule_directly(&console, "10.1.0.80", "made in the console")
        .await;
    let mine = binding(
        "pip-0",
        EIPS[0],
        30801,
        Protocol::Tcp,
        Some(("10.1.0.80", 7000)),
    );
    let err = provider.ensure(&mine).await.unwrap_err();
    assert_eq!(err.reason(), reason::PRIVATE_ADDRESS_IN_USE, "{err}");

    let old = binding(
        "pip-old",
        EIPS[0],
        30802,
        Protocol::Tcp,
        Some(("10.1.0.81", 7000)),
    );
    provider.ensure(&old).await.unwrap();
    let new = binding(
        "pip-new",
        EIPS[0],
        30803,
        Protocol::Tcp,
        Some(("10.1.0.81", 7000)),
    );
    let err = provider.ensure(&new).await.unwrap_err();
    assert!(err.is_retryable(), "a sibling's rule is waited for: {err}");
    provider.release(&old).await.unwrap();
    assert_eq!(
        provider.ensure(&new).await.unwrap().state,
        BindingState::Bound
    );
}
