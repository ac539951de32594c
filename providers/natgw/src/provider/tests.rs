//! The provider against `MockVpcApi`: which calls a round makes, and what each waiter gets.
use std::sync::{Arc, Mutex};

use dac_provider_api::{
    AddressProvider, Backend, Binding, BindingKey, BindingState, BindingStatus, Protocol,
    ProviderError, Scope, Slot,
};
use dac_tencentcloud::models::vpc;
use dac_tencentcloud::{Error, MockVpcApi};
use tokio::task::JoinSet;

use crate::{GatewayConfig, NatgwProvider, NatgwProviderConfig, action, reason};

const REGION: &str = "ap-guangzhou";
const CLUSTER: &str = "cls-test";
const GW: &str = "nat-1";
const EIP: &str = "198.51.100.1";
const EIP2: &str = "198.51.100.2";

fn gateway_config(eips: &[&str]) -> GatewayConfig {
    GatewayConfig {
        id: GW.into(),
        region: None,
        eips: eips.iter().map(|s| s.to_string()).collect(),
        min_port: 30000,
        max_port: 30999,
    }
}

fn config() -> NatgwProviderConfig {
    NatgwProviderConfig {
        batch_window_ms: 50,
        ..NatgwProviderConfig::new(CLUSTER, REGION, vec![gateway_config(&[])])
    }
}

fn provider(mock: MockVpcApi, config: NatgwProviderConfig) -> Arc<NatgwProvider> {
    Arc::new(NatgwProvider::new(Arc::new(mock), config).unwrap())
}

fn binding(name: &str, port: u16, pod_ip: Option<&str>) -> Binding {
    Binding {
        key: BindingKey::new("games", name),
        region: None,
        slot: Slot::Port {
            frontend_id: GW.into(),
            public_ip: Some(EIP.into()),
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

fn marker(name: &str) -> String {
    crate::marker::encode(CLUSTER, &BindingKey::new("games", name))
}

fn rule(
    port: i64,
    ip: &str,
    description: &str,
) -> vpc::NatGatewayDestinationIpPortTranslationNatRule {
    vpc::NatGatewayDestinationIpPortTranslationNatRule {
        ip_protocol: Some("TCP".into()),
        public_ip_address: Some(EIP.into()),
        public_port: Some(port),
        private_ip_address: Some(ip.into()),
        private_port: Some(7000),
        description: Some(description.into()),
        nat_gateway_id: Some(GW.into()),
        ..Default::default()
    }
}

fn api_error(action: &str, code: &str) -> Error {
    Error::api(action, code, "from the mock", "req-mock")
}

/// `nat-1` in `state` with two EIPs.
fn expect_gateway(mock: &mut MockVpcApi, state: &'static str) {
    mock.expect_describe_nat_gateways()
        .returning(move |_, req| {
            let ids = req.nat_gateway_ids.clone().unwrap_or_default();
            Ok(vpc::DescribeNatGatewaysResponse {
                nat_gateway_set: ids
                    .into_iter()
                    .filter(|id| id == GW)
                    .map(|id| vpc::NatGateway {
                        nat_gateway_id: Some(id),
                        state: Some(state.into()),
                        public_ip_address_set: [EIP, EIP2]
                            .iter()
                            .map(|ip| vpc::NatGatewayAddress {
                                public_ip_address: Some(ip.to_string()),
                                ..Default::default()
                            })
                            .collect(),
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            })
        });
}

/// The rules of `nat-1`, answered from shared state so that writes in the mock show up.
type Rules = Arc<Mutex<Vec<vpc::NatGatewayDestinationIpPortTranslationNatRule>>>;

fn expect_rules(mock: &mut MockVpcApi, rules: &Rules) {
    let rules = Arc::clone(rules);
    mock.expect_describe_nat_gateway_destination_ip_port_translation_nat_rules()
        .returning(move |_, req| {
            assert_eq!(req.nat_gateway_ids.as_deref(), Some(&[GW.to_string()][..]));
            let set = rules.lock().unwrap().clone();
            Ok(
                vpc::DescribeNatGatewayDestinationIpPortTranslationNatRulesResponse {
                    total_count: Some(set.len() as i64),
                    nat_gateway_destination_ip_port_translation_nat_rule_set: set,
                    ..Default::default()
                },
            )
        });
}

fn stored(
    r: &vpc::DestinationIpPortTranslationNatRule,
) -> vpc::NatGatewayDestinationIpPortTranslationNatRule {
    vpc::NatGatewayDestinationIpPortTranslationNatRule {
        ip_protocol: Some(r.ip_protocol.clone()),
        public_ip_address: Some(r.public_ip_address.clone()),
        public_port: Some(r.public_port),
        private_ip_address: Some(r.private_ip_address.clone()),
        private_port: Some(r.private_port),
        description: r.description.clone(),
        nat_gateway_id: Some(GW.into()),
        ..Default::default()
    }
}

/// Creates that land in `rules` and record each call's size.
fn expect_creates(mock: &mut MockVpcApi, rules: &Rules, calls: &Arc<Mutex<Vec<usize>>>) {
    let rules = Arc::clone(rules);
    let calls = Arc::clone(calls);
    mock.expect_create_nat_gateway_destination_ip_port_translation_nat_rule()
        .returning(move |_, req| {
            let new = &req.destination_ip_port_translation_nat_rules;
            calls.lock().unwrap().push(new.len());
            rules.lock().unwrap().extend(new.iter().map(stored));
            Ok(Default::default())
        });
}

async fn ensure_all(
    provider: &Arc<NatgwProvider>,
    bindings: &[Binding],
) -> Vec<Result<BindingStatus, ProviderError>> {
    let mut set = JoinSet::new();
    for (i, b) in bindings.iter().cloned().enumerate() {
        let p = Arc::clone(provider);
        set.spawn(async move { (i, p.ensure(&b).await) });
    }
    let mut out = set.join_all().await;
    out.sort_by_key(|(i, _)| *i);
    out.into_iter().map(|(_, r)| r).collect()
}

#[tokio::test]
async fn concurrent_ensures_become_one_create() {
    let mut mock = MockVpcApi::new();
    let rules = Rules::default();
    let calls = Arc::default();
    expect_gateway(&mut mock, "AVAILABLE");
    expect_rules(&mut mock, &rules);
    expect_creates(&mut mock, &rules, &calls);
    let provider = provider(mock, config());
    let bindings: Vec<Binding> = (0..10)
        .map(|i| {
            binding(
                &format!("gs-{i}"),
                30000 + i,
                Some(&format!("10.0.0.{}", i + 1)),
            )
        })
        .collect();
    for (i, result) in ensure_all(&provider, &bindings)
        .await
        .into_iter()
        .enumerate()
    {
        let status = result.unwrap();
        assert_eq!(status.state, BindingState::Bound);
        assert_eq!(status.address, Some(format!("{EIP}:{}", 30000 + i)));
        assert_eq!(status.resource_id, format!("{GW}/TCP/{EIP}/{}", 30000 + i));
    }
    assert_eq!(*calls.lock().unwrap(), [10]);
    let stored = rules.lock().unwrap().clone();
    assert_eq!(
        stored[3].description.as_deref(),
        Some(marker("gs-3").as_str())
    );
    assert_eq!(stored[3].private_ip_address.as_deref(), Some("10.0.0.4"));
    let stats = provider.stats();
    assert_eq!(stats.writes_of(action::CREATE), 1, "{stats}");
    assert_eq!(stats.total_writes(), 1, "{stats}");

    // Asking again adopts and writes nothing (the mock's create would count).
    for result in ensure_all(&provider, &bindings).await {
        assert_eq!(result.unwrap().state, BindingState::Bound);
    }
    assert_eq!(provider.stats().total_writes(), 1);
}

#[tokio::test]
async fn a_write_waits_for_the_gateway_to_leave_the_updating_of_the_last_one() {
    let mut mock = MockVpcApi::new();
    let rules = Rules::default();
    let calls: Arc<Mutex<Vec<usize>>> = Arc::default();
    // Every write leaves the gateway UPDATING for the next two reads.
    let updating_reads = Arc::new(Mutex::new(0));
    let reads_while_updating = Arc::new(Mutex::new(0));
    {
        let (updating, seen) = (
            Arc::clone(&updating_reads),
            Arc::clone(&reads_while_updating),
        );
        mock.expect_describe_nat_gateways().returning(move |_, _| {
            let mut updating = updating.lock().unwrap();
            let state = if *updating > 0 {
                *updating -= 1;
                *seen.lock().unwrap() += 1;
                "UPDATING"
            } else {
                "AVAILABLE"
            };
            Ok(vpc::DescribeNatGatewaysResponse {
                nat_gateway_set: vec![vpc::NatGateway {
                    nat_gateway_id: Some(GW.into()),
                    state: Some(state.into()),
                    public_ip_address_set: vec![vpc::NatGatewayAddress {
                        public_ip_address: Some(EIP.into()),
                        ..Default::default()
                    }],
                    ..Default::default()
                }],
                ..Default::default()
            })
        });
    }
    expect_rules(&mut mock, &rules);
    {
        let (rules, calls, updating) = (
            Arc::clone(&rules),
            Arc::clone(&calls),
            Arc::clone(&updating_reads),
        );
        mock.expect_create_nat_gateway_destination_ip_port_translation_nat_rule()
            .returning(move |_, req| {
                assert_eq!(*updating.lock().unwrap(), 0, "written while UPDATING");
                let new = &req.destination_ip_port_translation_nat_rules;
                calls.lock().unwrap().push(new.len());
                rules.lock().unwrap().extend(new.iter().map(stored));
                *updating.lock().unwrap() = 2;
                Ok(Default::default())
            });
    }
    let provider = provider(mock, config());
    for i in 0..2u16 {
        let b = binding(
            &format!("gs-{i}"),
            30000 + i,
            Some(&format!("10.0.0.{}", i + 1)),
        );
        assert_eq!(
            provider.ensure(&b).await.unwrap().state,
            BindingState::Bound
        );
    }
    assert_eq!(*calls.lock().unwrap(), [1, 1]);
    assert_eq!(
        *reads_while_updating.lock().unwrap(),
        2,
        "the second write read the gateway until AVAILABLE"
    );
    assert_eq!(provider.stats().total_writes(), 2);
}

#[tokio::test]
async fn a_new_pod_ip_is_modified_in_place() {
    let mut mock = MockVpcApi::new();
    let rules: Rules = Arc::new(Mutex::new(vec![rule(30000, "10.0.0.1", &marker("gs-0"))]));
    expect_gateway(&mut mock, "AVAILABLE");
    expect_rules(&mut mock, &rules);
    mock.expect_modify_nat_gateway_destination_ip_port_translation_nat_rule()
        .times(1)
        .returning(|_, req| {
            assert_eq!(req.source_nat_rule.private_ip_address, "10.0.0.1");
            assert_eq!(req.destination_nat_rule.private_ip_address, "10.0.0.9");
            assert_eq!(req.destination_nat_rule.public_port, 30000);
            assert_eq!(req.destination_nat_rule.public_ip_address, EIP);
            assert_eq!(
                req.destination_nat_rule.description.as_deref(),
                Some(marker("gs-0").as_str())
            );
            Ok(Default::default())
        });
    let provider = provider(mock, config());
    let status = provider
        .ensure(&binding("gs-0", 30000, Some("10.0.0.9")))
        .await
        .unwrap();
    assert_eq!(status.state, BindingState::Bound);
    assert_eq!(status.address.as_deref(), Some("198.51.100.1:30000"));
}

#[tokio::test]
async fn many_moves_are_deleted_and_recreated_in_batches() {
    let mut mock = MockVpcApi::new();
    let rules: Rules = Arc::new(Mutex::new(
        (0..3)
            .map(|i| rule(30000 + i, "10.0.0.1", &marker(&format!("gs-{i}"))))
            .collect(),
    ));
    let calls = Arc::default();
    expect_gateway(&mut mock, "AVAILABLE");
    expect_rules(&mut mock, &rules);
    expect_creates(&mut mock, &rules, &calls);
    let deleted = Arc::clone(&rules);
    mock.expect_delete_nat_gateway_destination_ip_port_translation_nat_rule()
        .times(1)
        .returning(move |_, req| {
            assert_eq!(req.destination_ip_port_translation_nat_rules.len(), 3);
            let gone: Vec<i64> = req
                .destination_ip_port_translation_nat_rules
                .iter()
                .map(|r| r.public_port)
                .collect();
            deleted
                .lock()
                .unwrap()
                .retain(|r| !gone.contains(&r.public_port.unwrap()));
            Ok(Default::default())
        });
    let provider = provider(
        mock,
        NatgwProviderConfig {
            max_modifies_per_round: 1,
            ..config()
        },
    );
    let moved: Vec<Binding> = (0..3)
        .map(|i| binding(&format!("gs-{i}"), 30000 + i, Some("10.0.0.2")))
        .collect();
    for result in ensure_all(&provider, &moved).await {
        assert_eq!(result.unwrap().state, BindingState::Bound);
    }
    assert_eq!(*calls.lock().unwrap(), [3]);
    let now = rules.lock().unwrap().clone();
    assert!(
        now.iter()
            .all(|r| r.private_ip_address.as_deref() == Some("10.0.0.2"))
    );
    assert_eq!(provider.stats().total_writes(), 2);
}

#[tokio::test]
async fn without_a_backend_our_rule_goes_and_the_address_stays() {
    let mut mock = MockVpcApi::new();
    let rules: Rules = Arc::new(Mutex::new(vec![rule(30000, "10.0.0.1", &marker("gs-0"))]));
    expect_gateway(&mut mock, "AVAILABLE");
    expect_rules(&mut mock, &rules);
    mock.expect_delete_nat_gateway_destination_ip_port_translation_nat_rule()
        .times(1)
        .returning(|_, req| {
            let r = &req.destination_ip_port_translation_nat_rules[0];
            // Delete names the rule by all of its fields.
            assert_eq!(
                (r.private_ip_address.as_str(), r.private_port),
                ("10.0.0.1", 7000)
            );
            Ok(Default::default())
        });
    let provider = provider(mock, config());
    let status = provider
        .ensure(&binding("gs-0", 30000, None))
        .await
        .unwrap();
    assert_eq!(status.state, BindingState::Available);
    assert_eq!(status.address.as_deref(), Some("198.51.100.1:30000"));
    // No rule and no backend: nothing to write.
    let status = provider
        .ensure(&binding("gs-1", 30001, None))
        .await
        .unwrap();
    assert_eq!(status.state, BindingState::Available);
}

#[tokio::test]
async fn a_foreign_rule_is_a_conflict_and_never_touched() {
    let mut mock = MockVpcApi::new();
    let rules: Rules = Arc::new(Mutex::new(vec![
        rule(30000, "10.9.9.9", "made in the console"),
        rule(30001, "10.9.9.8", &marker("gs-old")),
    ]));
    expect_gateway(&mut mock, "AVAILABLE");
    expect_rules(&mut mock, &rules);
    let provider = provider(mock, config());
    let results = ensure_all(
        &provider,
        &[
            binding("gs-0", 30000, Some("10.0.0.1")),
            binding("gs-1", 30001, Some("10.0.0.2")),
        ],
    )
    .await;
    let conflict = results[0].clone().unwrap_err();
    assert_eq!(conflict.reason(), reason::PORT_CONFLICT, "{conflict}");
    // Our own rule for another child: wait for its release.
    let sibling = results[1].clone().unwrap_err();
    assert!(sibling.is_retryable(), "{sibling}");
    assert!(sibling.message().contains("games/gs-old"), "{sibling}");
    // Releasing either deletes nothing (the mock has no delete expectation).
    provider
        .release(&binding("gs-0", 30000, None))
        .await
        .unwrap();
    provider
        .release(&binding("gs-1", 30001, None))
        .await
        .unwrap();
    assert_eq!(provider.stats().total_writes(), 0);
}

#[tokio::test]
async fn one_bad_pod_ip_fails_alone() {
    let mut mock = MockVpcApi::new();
    let rules = Rules::default();
    expect_gateway(&mut mock, "AVAILABLE");
    expect_rules(&mut mock, &rules);
    let landed = Arc::clone(&rules);
    mock.expect_create_nat_gateway_destination_ip_port_translation_nat_rule()
        .returning(move |_, req| {
            let new = &req.destination_ip_port_translation_nat_rules;
            if new
                .iter()
                .any(|r| r.private_ip_address.starts_with("192.168."))
            {
                return Err(api_error(
                    "CreateNatGatewayDestinationIpPortTranslationNatRule",
                    "InvalidParameterValue.NatGatewayDnatRulePipNeedVm",
                ));
            }
            landed.lock().unwrap().extend(new.iter().map(stored));
            Ok(Default::default())
        });
    let provider = provider(mock, config());
    let bindings: Vec<Binding> = (0..8)
        .map(|i| {
            let ip = if i == 5 {
                "192.168.0.5".to_string()
            } else {
                format!("10.0.0.{i}")
            };
            binding(&format!("gs-{i}"), 30000 + i, Some(&ip))
        })
        .collect();
    let results = ensure_all(&provider, &bindings).await;
    for (i, result) in results.iter().enumerate() {
        match i {
            5 => assert_eq!(
                result.clone().unwrap_err().reason(),
                reason::POD_IP_NOT_IN_VPC
            ),
            _ => assert_eq!(result.clone().unwrap().state, BindingState::Bound, "{i}"),
        }
    }
    assert_eq!(rules.lock().unwrap().len(), 7);
}

#[tokio::test]
async fn a_slot_taken_meanwhile_is_adopted_if_ours_and_a_conflict_otherwise() {
    let mut mock = MockVpcApi::new();
    let rules = Rules::default();
    expect_gateway(&mut mock, "AVAILABLE");
    expect_rules(&mut mock, &rules);
    // Between our describe and our create, an earlier controller's call lands (ours, for
    // gs-0) and someone else takes 30001.
    let sneaky = Arc::clone(&rules);
    mock.expect_create_nat_gateway_destination_ip_port_translation_nat_rule()
        .returning(move |_, req| {
            let mut now = sneaky.lock().unwrap();
            if now.is_empty() {
                now.push(rule(30000, "10.0.0.1", &marker("gs-0")));
                now.push(rule(30001, "10.5.5.5", "console"));
            }
            let taken = req
                .destination_ip_port_translation_nat_rules
                .iter()
                .any(|r| now.iter().any(|x| x.public_port == Some(r.public_port)));
            if taken {
                return Err(api_error(
                    "CreateNatGatewayDestinationIpPortTranslationNatRule",
                    "InvalidParameterValue.NatGatewayDnatRuleExisted",
                ));
            }
            now.extend(
                req.destination_ip_port_translation_nat_rules
                    .iter()
                    .map(stored),
            );
            Ok(Default::default())
        });
    let provider = provider(mock, config());
    let results = ensure_all(
        &provider,
        &[
            binding("gs-0", 30000, Some("10.0.0.1")),
            binding("gs-1", 30001, Some("10.0.0.2")),
            binding("gs-2", 30002, Some("10.0.0.3")),
        ],
    )
    .await;
    assert_eq!(results[0].clone().unwrap().state, BindingState::Bound);
    assert_eq!(
        results[1].clone().unwrap_err().reason(),
        reason::PORT_CONFLICT
    );
    assert_eq!(results[2].clone().unwrap().state, BindingState::Bound);
}

#[tokio::test]
async fn the_rule_limit_fails_only_the_excess() {
    let mut mock = MockVpcApi::new();
    let rules: Rules = Arc::new(Mutex::new(
        (0..3)
            .map(|i| rule(31000 + i, "10.9.9.9", "console"))
            .collect(),
    ));
    let calls = Arc::default();
    expect_gateway(&mut mock, "AVAILABLE");
    expect_rules(&mut mock, &rules);
    expect_creates(&mut mock, &rules, &calls);
    let provider = provider(
        mock,
        NatgwProviderConfig {
            rule_limit: Some(5),
            ..config()
        },
    );
    let bindings: Vec<Binding> = (0..4)
        .map(|i| binding(&format!("gs-{i}"), 30000 + i, Some("10.0.0.1")))
        .collect();
    let results = ensure_all(&provider, &bindings).await;
    let bound = results.iter().filter(|r| r.is_ok()).count();
    let over: Vec<&ProviderError> = results.iter().filter_map(|r| r.as_ref().err()).collect();
    assert_eq!(bound, 2, "{results:?}");
    assert!(
        over.iter()
            .all(|e| e.reason() == reason::RULE_LIMIT_EXCEEDED),
        "{over:?}"
    );
    assert_eq!(*calls.lock().unwrap(), [2]);

    // Capacity: the limit minus the console's three rules; ours do not count.
    let frontends = provider.frontends(&Scope::default()).await.unwrap();
    assert_eq!(frontends[0].capacity, 2);
}

#[tokio::test]
async fn a_private_address_still_held_by_a_sibling_is_waited_for() {
    let mut mock = MockVpcApi::new();
    let rules: Rules = Arc::new(Mutex::new(vec![rule(30005, "10.0.0.1", &marker("gs-old"))]));
    expect_gateway(&mut mock, "AVAILABLE");
    expect_rules(&mut mock, &rules);
    mock.expect_create_nat_gateway_destination_ip_port_translation_nat_rule()
        .returning(|_, _| {
            Err(api_error(
                "CreateNatGatewayDestinationIpPortTranslationNatRule",
                "UnsupportedOperation.NatGatewayRulePipExists",
            ))
        });
    let provider = provider(mock, config());
    let err = provider
        .ensure(&binding("gs-new", 30000, Some("10.0.0.1")))
        .await
        .unwrap_err();
    assert!(err.is_retryable(), "{err}");
    let err = provider
        .ensure(&binding("gs-x", 30001, Some("10.0.0.7")))
        .await
        .unwrap_err();
    assert_eq!(err.reason(), reason::PRIVATE_ADDRESS_IN_USE);
}

#[tokio::test]
async fn release_deletes_ours_and_a_vanished_rule_is_success() {
    let mut mock = MockVpcApi::new();
    let rules: Rules = Arc::new(Mutex::new(vec![
        rule(30000, "10.0.0.1", &marker("gs-0")),
        rule(30001, "10.0.0.2", &marker("gs-1")),
    ]));
    expect_gateway(&mut mock, "AVAILABLE");
    expect_rules(&mut mock, &rules);
    let mut deletes = 0;
    mock.expect_delete_nat_gateway_destination_ip_port_translation_nat_rule()
        .returning(move |_, req| {
            deletes += 1;
            // Someone deleted 30001 already: the cloud refuses the pair, then the single rule.
            if req
                .destination_ip_port_translation_nat_rules
                .iter()
                .any(|r| r.public_port == 30001)
            {
                return Err(api_error(
                    "DeleteNatGatewayDestinationIpPortTranslationNatRule",
                    "InvalidParameterValue.NatGatewayDnatRuleNotExists",
                ));
            }
            assert!(deletes <= 3);
            Ok(Default::default())
        });
    let provider = provider(mock, config());
    let mut set = JoinSet::new();
    for b in [binding("gs-0", 30000, None), binding("gs-1", 30001, None)] {
        let p = Arc::clone(&provider);
        set.spawn(async move { p.release(&b).await });
    }
    for result in set.join_all().await {
        result.unwrap();
    }
    // One call for both, then one each after the refusal.
    assert_eq!(provider.stats().writes_of(action::DELETE), 3);
}

#[tokio::test]
async fn frontends_check_the_gateway_and_its_eips() {
    let mut mock = MockVpcApi::new();
    let rules: Rules = Arc::new(Mutex::new(vec![
        rule(31000, "10.9.9.9", "console"),
        rule(30000, "10.0.0.1", &marker("gs-0")),
    ]));
    expect_gateway(&mut mock, "AVAILABLE");
    expect_rules(&mut mock, &rules);
    let provider = provider(mock, config());
    let all = provider.frontends(&Scope::default()).await.unwrap();
    assert_eq!(all.len(), 1);
    assert_eq!(all[0].id, GW);
    assert_eq!(all[0].public_ips, [EIP, EIP2]);
    assert_eq!(all[0].capacity, 199);
    assert_eq!(
        all[0].port_range,
        Some(dac_provider_api::PortRange {
            min: 30000,
            max: 30999
        })
    );
    let named = Scope {
        frontend_ids: vec![GW.into()],
        ..Default::default()
    };
    assert_eq!(provider.frontends(&named).await.unwrap(), all);
    // Cached: one describe of each kind for three calls.
    provider.frontends(&named).await.unwrap();
    let stats = provider.stats();
    assert_eq!(stats.reads_of(action::DESCRIBE_GATEWAYS), 1, "{stats}");
    assert_eq!(stats.reads_of(action::DESCRIBE_RULES), 1, "{stats}");

    // A gateway that cannot be served is reported with its problem, beside the others.
    let unknown = Scope {
        frontend_ids: vec!["nat-other".into(), GW.into()],
        ..Default::default()
    };
    let both = provider.frontends(&unknown).await.unwrap();
    assert_eq!(
        problem(&both[0]),
        Some((false, reason::NAT_GATEWAY_NOT_CONFIGURED))
    );
    assert_eq!(both[1], all[0]);
    let elsewhere = Scope {
        region: Some("ap-shanghai".into()),
        frontend_ids: vec![GW.into()],
        ..Default::default()
    };
    let got = provider.frontends(&elsewhere).await.unwrap();
    assert_eq!(
        problem(&got[0]),
        Some((false, reason::NAT_GATEWAY_NOT_CONFIGURED))
    );
    let narrowed = Scope {
        region: Some("ap-shanghai".into()),
        ..Default::default()
    };
    assert!(provider.frontends(&narrowed).await.unwrap().is_empty());
}

#[tokio::test]
async fn configured_eips_narrow_and_must_be_the_gateways() {
    for (eips, want) in [
        (&[EIP2][..], Ok(vec![EIP2])),
        (&["203.0.113.9"][..], Err(reason::EIP_NOT_ON_NAT_GATEWAY)),
    ] {
        let mut mock = MockVpcApi::new();
        expect_gateway(&mut mock, "AVAILABLE");
        expect_rules(&mut mock, &Rules::default());
        let config = NatgwProviderConfig::new(CLUSTER, REGION, vec![gateway_config(eips)]);
        let got = provider(mock, config)
            .frontends(&Scope::default())
            .await
            .unwrap();
        match want {
            Ok(ips) => assert_eq!(got[0].public_ips, ips),
            Err(r) => assert_eq!(problem(&got[0]), Some((false, r))),
        }
    }
}

fn problem(f: &dac_provider_api::Frontend) -> Option<(bool, &str)> {
    f.problem.as_ref().map(|p| (p.gone, p.reason.as_str()))
}

#[tokio::test]
async fn a_missing_or_unavailable_gateway_is_the_users_to_fix() {
    for (state, config, want, gone) in [
        (
            "PENDFAILURE",
            config(),
            reason::NAT_GATEWAY_NOT_AVAILABLE,
            false,
        ),
        (
            "AVAILABLE",
            NatgwProviderConfig::new(
                CLUSTER,
                REGION,
                vec![GatewayConfig {
                    id: "nat-gone".into(),
                    ..gateway_config(&[])
                }],
            ),
            reason::NAT_GATEWAY_NOT_FOUND,
            true,
        ),
    ] {
        let mut mock = MockVpcApi::new();
        expect_gateway(&mut mock, state);
        let gateway = config.gateways[0].id.clone();
        let provider = provider(mock, config);
        let got = provider.frontends(&Scope::default()).await.unwrap();
        assert_eq!(problem(&got[0]), Some((gone, want)), "{state}");
        // Neither is cached: the next read asks the cloud again.
        provider.frontends(&Scope::default()).await.unwrap();
        assert_eq!(
            provider.stats().reads_of(action::DESCRIBE_GATEWAYS),
            2,
            "{state}"
        );
        let mut b = binding("gs-0", 30000, Some("10.0.0.1"));
        if let Slot::Port { frontend_id, .. } = &mut b.slot {
            *frontend_id = gateway;
        }
        // The ensure fails before any describe of rules or write (the mock has none).
        assert_eq!(provider.ensure(&b).await.unwrap_err().reason(), want);
    }
}

#[tokio::test]
async fn a_gateway_busy_updating_is_waited_for() {
    let mut mock = MockVpcApi::new();
    expect_gateway(&mut mock, "UPDATING");
    let provider = provider(mock, config());
    let got = provider.frontends(&Scope::default()).await.unwrap();
    assert_eq!(
        problem(&got[0]),
        Some((false, reason::NAT_GATEWAY_NOT_AVAILABLE))
    );
    assert!(
        got[0]
            .problem
            .as_ref()
            .unwrap()
            .message
            .contains("UPDATING"),
        "{got:?}"
    );
    let err = provider
        .ensure(&binding("gs-0", 30000, Some("10.0.0.1")))
        .await
        .unwrap_err();
    assert!(err.is_retryable(), "{err}");
}

#[tokio::test]
async fn one_missing_gateway_does_not_hide_the_others() {
    let mut mock = MockVpcApi::new();
    expect_gateway(&mut mock, "AVAILABLE");
    expect_rules(&mut mock, &Rules::default());
    let config = NatgwProviderConfig::new(
        CLUSTER,
        REGION,
        vec![
            gateway_config(&[]),
            GatewayConfig {
                id: "nat-gone".into(),
                ..gateway_config(&[])
            },
        ],
    );
    let provider = provider(mock, config);
    let got = provider.frontends(&Scope::default()).await.unwrap();
    assert_eq!(got.len(), 2);
    assert_eq!((got[0].id.as_str(), problem(&got[0])), (GW, None));
    assert_eq!(got[0].capacity, 200);
    assert_eq!(
        (got[1].id.as_str(), problem(&got[1])),
        ("nat-gone", Some((true, reason::NAT_GATEWAY_NOT_FOUND)))
    );
}

#[tokio::test]
async fn a_namespace_scoped_controller_keeps_off_other_namespaces_rules() {
    let other = crate::marker::encode(CLUSTER, &BindingKey::new("team-b", "x"));
    let rules: Rules = Arc::new(Mutex::new(vec![
        rule(30000, "10.0.0.1", &marker("gs-0")),
        rule(30001, "10.0.0.2", &other),
        rule(30002, "10.0.0.3", "console"),
    ]));
    let mut mock = MockVpcApi::new();
    expect_gateway(&mut mock, "AVAILABLE");
    expect_rules(&mut mock, &rules);
    mock.expect_delete_nat_gateway_destination_ip_port_translation_nat_rule()
        .never();
    let config = NatgwProviderConfig {
        namespace: Some("games".into()),
        ..config()
    };
    let provider = provider(mock, config);
    let scope = Scope {
        namespace: Some("games".into()),
        ..Default::default()
    };
    let f = provider.frontends(&scope).await.unwrap().remove(0);
    assert_eq!(f.capacity, 198);
    let taken: Vec<(Option<&str>, u16)> = f
        .taken
        .iter()
        .map(|t| (t.public_ip.as_deref(), t.port))
        .collect();
    assert_eq!(taken, [(Some(EIP), 30001), (Some(EIP), 30002)]);
    let all = provider
        .frontends(&Scope::default())
        .await
        .unwrap()
        .remove(0);
    assert_eq!((all.capacity, all.taken.len()), (199, 1));

    let err = provider
        .ensure(&binding("gs-9", 30001, Some("10.0.0.9")))
        .await
        .unwrap_err();
    assert_eq!(err.reason(), reason::PORT_CONFLICT, "{err}");
    assert!(!err.is_retryable());

    let owned = provider.list_owned(&scope).await.unwrap();
    let seen: Vec<(u16, Option<&str>)> = owned
        .iter()
        .map(|o| (o.slot.port(), o.namespace.as_deref()))
        .collect();
    assert_eq!(seen, [(30000, Some("games"))]);
}

/// A mock gateway whose rules live in `rules`; deletes remove them and are counted.
fn mock_for_sweep(rules: &Rules, deletes: &Arc<Mutex<usize>>) -> MockVpcApi {
    let mut mock = MockVpcApi::new();
    expect_gateway(&mut mock, "AVAILABLE");
    expect_rules(&mut mock, rules);
    let (stored, count) = (Arc::clone(rules), Arc::clone(deletes));
    mock.expect_delete_nat_gateway_destination_ip_port_translation_nat_rule()
        .returning(move |_, req| {
            *count.lock().unwrap() += 1;
            let gone: Vec<i64> = req
                .destination_ip_port_translation_nat_rules
                .iter()
                .map(|r| r.public_port)
                .collect();
            stored
                .lock()
                .unwrap()
                .retain(|r| !gone.contains(&r.public_port.unwrap()));
            Ok(Default::default())
        });
    mock
}

#[tokio::test]
async fn the_sweep_releases_only_what_it_listed_and_nothing_took_up_since() {
    let rules: Rules = Arc::new(Mutex::new(vec![
        rule(30000, "10.0.0.1", &marker("gone-0")),
        rule(30001, "10.0.0.2", &marker("back-1")),
        rule(30002, "10.0.0.3", &marker("renamed-2")),
    ]));
    let deletes = Arc::new(Mutex::new(0));
    let provider = provider(mock_for_sweep(&rules, &deletes), config());
    let owned = provider.list_owned(&Scope::default()).await.unwrap();
    assert_eq!(owned.len(), 3);
    // back-1's binding returns between the listing and the release.
    let status = provider
        .ensure(&binding("back-1", 30001, Some("10.0.0.2")))
        .await
        .unwrap();
    assert_eq!(status.state, BindingState::Bound);
    // renamed-2's rule is changed by hand.
    rules.lock().unwrap()[2].description = Some("made-by-hand".into());
    for orphan in &owned {
        provider.release_orphan(orphan).await.unwrap();
    }
    let left: Vec<i64> = rules
        .lock()
        .unwrap()
        .iter()
        .map(|r| r.public_port.unwrap())
        .collect();
    assert_eq!(left, [30001, 30002]);
    assert_eq!(*deletes.lock().unwrap(), 1);
    // Never listed by this provider: left alone.
    let fresh = provider_of(mock_for_sweep(&rules, &deletes));
    fresh.release_orphan(&owned[1]).await.unwrap();
    assert_eq!(*deletes.lock().unwrap(), 1);
}

fn provider_of(mock: MockVpcApi) -> Arc<NatgwProvider> {
    provider(mock, config())
}

#[tokio::test]
async fn ensure_refuses_what_it_cannot_serve() {
    let mut mock = MockVpcApi::new();
    expect_gateway(&mut mock, "AVAILABLE");
    let provider = provider(mock, config());
    let mut other = binding("gs-0", 30000, Some("10.0.0.1"));
    if let Slot::Port { frontend_id, .. } = &mut other.slot {
        *frontend_id = "nat-other".into();
    }
    assert_eq!(
        provider.ensure(&other).await.unwrap_err().reason(),
        reason::NAT_GATEWAY_NOT_CONFIGURED
    );
    let mut no_eip = binding("gs-0", 30000, Some("10.0.0.1"));
    if let Slot::Port { public_ip, .. } = &mut no_eip.slot {
        *public_ip = None;
    }
    assert!(matches!(
        provider.ensure(&no_eip).await,
        Err(ProviderError::Permanent { .. })
    ));
    let mut stray_eip = binding("gs-0", 30000, Some("10.0.0.1"));
    if let Slot::Port { public_ip, .. } = &mut stray_eip.slot {
        *public_ip = Some("203.0.113.9".into());
    }
    assert_eq!(
        provider.ensure(&stray_eip).await.unwrap_err().reason(),
        reason::EIP_NOT_ON_NAT_GATEWAY
    );
    // Nothing to release without an EIP or a resource id.
    provider.release(&no_eip).await.unwrap();
}

#[tokio::test]
async fn list_owned_finds_ours_with_their_owners() {
    let mut mock = MockVpcApi::new();
    let long = BindingKey::new("games", format!("{}-tcp-7000", "x".repeat(60)));
    let long_marker = crate::marker::encode(CLUSTER, &long);
    let rules: Rules = Arc::new(Mutex::new(vec![
        rule(30000, "10.0.0.1", &marker("gs-0")),
        rule(30001, "10.0.0.2", "console"),
        rule(
            30002,
            "10.0.0.3",
            &crate::marker::encode("other-cluster", &BindingKey::new("games", "gs-2")),
        ),
        rule(30003, "10.0.0.4", &long_marker),
    ]));
    expect_gateway(&mut mock, "AVAILABLE");
    expect_rules(&mut mock, &rules);
    let deleted = Arc::clone(&rules);
    mock.expect_delete_nat_gateway_destination_ip_port_translation_nat_rule()
        .returning(move |_, req| {
            let gone: Vec<i64> = req
                .destination_ip_port_translation_nat_rules
                .iter()
                .map(|r| r.public_port)
                .collect();
            deleted
                .lock()
                .unwrap()
                .retain(|r| !gone.contains(&r.public_port.unwrap()));
            Ok(Default::default())
        });
    let provider = provider(mock, config());
    let owned = provider.list_owned(&Scope::default()).await.unwrap();
    let seen: Vec<(String, Option<BindingKey>)> = owned
        .iter()
        .map(|o| (o.resource_id.clone(), o.owner.clone()))
        .collect();
    assert_eq!(
        seen,
        [
            (
                format!("{GW}/TCP/{EIP}/30000"),
                Some(BindingKey::new("games", "gs-0"))
            ),
            (format!("{GW}/TCP/{EIP}/30003"), None),
        ]
    );
    // The orphan sweep releases the unnamed one by its resource id.
    let orphan = &owned[1];
    let sweep = Binding {
        key: BindingKey::new("", "unknown"),
        slot: orphan.slot.clone(),
        resource_id: Some(orphan.resource_id.clone()),
        ..binding("unknown", 0, None)
    };
    provider.release(&sweep).await.unwrap();
    assert_eq!(rules.lock().unwrap().len(), 3);
    // Once the provider has seen the long key, it can name its owner.
    let mut b = binding("x", 30004, None);
    b.key = long.clone();
    provider.release(&b).await.unwrap();
    rules
        .lock()
        .unwrap()
        .push(rule(30004, "10.0.0.4", &long_marker));
    let owned = provider.list_owned(&Scope::default()).await.unwrap();
    assert_eq!(owned.last().unwrap().owner, Some(long));
}
