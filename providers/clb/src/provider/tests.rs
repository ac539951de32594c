//! The provider against `MockClbApi`: which calls a round makes, and what each waiter gets.
use std::sync::Arc;

use dac_provider_api::{
    AddressProvider, Backend, Binding, BindingKey, BindingState, BindingStatus, Protocol,
    ProviderError, Scope, Slot,
};
use dac_tencentcloud::models::clb;
use dac_tencentcloud::{Error, MockClbApi};
use serde_json::json;
use tokio::task::JoinSet;

use crate::{ClbProvider, ClbProviderConfig, reason};

const REGION: &str = "ap-guangzhou";
const CLUSTER: &str = "cls-test";
const VIP: &str = "203.0.113.1";

fn config() -> ClbProviderConfig {
    ClbProviderConfig {
        region: REGION.into(),
        cluster_id: CLUSTER.into(),
        batch_window_ms: 50,
        ..Default::default()
    }
}

fn binding(name: &str, lb: &str, port: u16, pod_ip: Option<&str>) -> Binding {
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

fn marker(name: &str) -> String {
    crate::marker::encode(CLUSTER, &BindingKey::new("games", name))
}

fn listener(id: &str, port: i64, name: &str) -> clb::Listener {
    clb::Listener {
        listener_id: Some(id.into()),
        protocol: Some("TCP".into()),
        port: Some(port),
        listener_name: Some(name.into()),
        ..Default::default()
    }
}

fn eni_target(ip: &str, port: i64) -> clb::Backend {
    clb::Backend {
        kind: Some("ENI".into()),
        port: Some(port),
        private_ip_addresses: vec![ip.into()],
        ..Default::default()
    }
}

fn api_error(action: &str, code: &str) -> Error {
    Error::api(action, code, "from the mock", "req-mock")
}

fn quota_answer(limit: i64) -> clb::DescribeQuotaResponse {
    clb::DescribeQuotaResponse {
        quota_set: vec![clb::Quota {
            quota_id: Some("TOTAL_LISTENER_QUOTA".into()),
            quota_current: None,
            quota_limit: Some(limit),
        }],
        ..Default::default()
    }
}

/// A mock that knows CLB `lb-1` (with a VIP), a listener quota of 50, and answers task waits
/// with success.
fn mock_with_lb() -> MockClbApi {
    let mut mock = mock_with_lb_no_quota();
    mock.expect_describe_quota()
        .returning(|_, _| Ok(quota_answer(50)));
    mock
}

fn mock_with_lb_no_quota() -> MockClbApi {
    let mut mock = MockClbApi::new();
    mock.expect_describe_load_balancers().returning(|_, req| {
        let ids = req.load_balancer_ids.clone().unwrap_or_default();
        Ok(clb::DescribeLoadBalancersResponse {
            load_balancer_set: ids
                .into_iter()
                .filter(|id| id == "lb-1")
                .map(|id| clb::LoadBalancer {
                    load_balancer_id: Some(id),
                    load_balancer_vips: vec![VIP.into()],
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        })
    });
    mock.expect_wait_clb_task().returning(|_, _, _| {
        Ok(clb::DescribeTaskStatusResponse {
            status: Some(0),
            ..Default::default()
        })
    });
    mock
}

fn listeners_answer(listeners: Vec<clb::Listener>) -> clb::DescribeListenersResponse {
    clb::DescribeListenersResponse {
        total_count: Some(listeners.len() as i64),
        listeners,
        ..Default::default()
    }
}

/// Creates listeners `lbl-<port>` for whatever ports it is asked for.
fn create_answer(req: &clb::CreateListenerRequest) -> clb::CreateListenerResponse {
    clb::CreateListenerResponse {
        listener_ids: req.ports.iter().map(|p| format!("lbl-{p}")).collect(),
        request_id: "task-create".into(),
    }
}

fn provider(mock: MockClbApi) -> Arc<ClbProvider> {
    Arc::new(ClbProvider::new(Arc::new(mock), config()).unwrap())
}

async fn ensure_all(
    provider: &Arc<ClbProvider>,
    bindings: Vec<Binding>,
) -> Vec<(Binding, dac_provider_api::Result<BindingStatus>)> {
    let mut set = JoinSet::new();
    for b in bindings {
        let p = Arc::clone(provider);
        set.spawn(async move {
            let result = p.ensure(&b).await;
            (b, result)
        });
    }
    let mut out = set.join_all().await;
    out.sort_by_key(|(b, _)| b.slot.port());
    out
}

#[tokio::test]
async fn concurrent_ensures_on_one_clb_become_one_create_and_one_register() {
    const N: u16 = 20;
    let mut mock = mock_with_lb();
    mock.expect_describe_listeners()
        .times(1)
        .returning(|_, _| Ok(listeners_answer(vec![])));
    mock.expect_create_listener()
        .times(1)
        .withf(|region, req| {
            let names = req.listener_names.clone().unwrap_or_default();
            region == REGION
                && req.load_balancer_id == "lb-1"
                && req.protocol == "TCP"
                && req.ports.len() == usize::from(N)
                && names.len() == usize::from(N)
                && names
                    .iter()
                    .all(|n| n.starts_with("dac_cls-test_games_gs-"))
        })
        .returning(|_, req| Ok(create_answer(req)));
    mock.expect_describe_targets().never();
    mock.expect_batch_deregister_targets().never();
    mock.expect_batch_register_targets()
        .times(1)
        .withf(|_, req| {
            req.targets.len() == usize::from(N)
                && req.targets.iter().all(|t| {
                    t.port == 7000
                        && t.instance_id.is_none()
                        && t.eni_ip.as_deref()
                            == Some(
                                &format!(
                                    "10.0.0.{}",
                                    t.listener_id[4..].parse::<u16>().unwrap() - 500
                                )[..],
                            )
                })
        })
        .returning(|_, _| Ok(clb::BatchRegisterTargetsResponse::default()));
    let provider = provider(mock);

    let bindings = (1..=N)
        .map(|i| {
            binding(
                &format!("gs-{i}"),
                "lb-1",
                500 + i,
                Some(&format!("10.0.0.{i}")),
            )
        })
        .collect();
    for (b, result) in ensure_all(&provider, bindings).await {
        let status = result.unwrap();
        let port = b.slot.port();
        assert_eq!(status.state, BindingState::Bound);
        assert_eq!(status.resource_id, format!("lbl-{port}"));
        assert_eq!(status.address, Some(format!("{VIP}:{port}")));
    }
    let stats = provider.stats();
    assert_eq!(stats.writes_of("CreateListener"), 1);
    assert_eq!(stats.writes_of("BatchRegisterTargets"), 1);
    assert_eq!(stats.total_writes(), 2, "{stats}");
    assert_eq!(stats.rounds, 1);
}

#[tokio::test]
async fn different_settings_and_protocols_get_their_own_create_call() {
    let mut mock = mock_with_lb();
    mock.expect_describe_listeners()
        .times(1)
        .returning(|_, _| Ok(listeners_answer(vec![])));
    mock.expect_create_listener()
        .times(3)
        .returning(|_, req| Ok(create_answer(req)));
    mock.expect_batch_register_targets()
        .times(1)
        .returning(|_, _| Ok(clb::BatchRegisterTargetsResponse::default()));
    let provider = provider(mock);
    let mut tuned = binding("gs-2", "lb-1", 502, Some("10.0.0.2"));
    tuned.listener_settings =
        Some(json!({"scheduler": "LEAST_CONN", "healthCheck": {"healthSwitch": 1}}));
    let mut udp = binding("gs-3", "lb-1", 501, Some("10.0.0.3"));
    udp.slot = Slot::Port {
        frontend_id: "lb-1".into(),
        public_ip: None,
        port: 501,
        protocol: Protocol::Udp,
    };
    let results = ensure_all(
        &provider,
        vec![binding("gs-1", "lb-1", 501, Some("10.0.0.1")), tuned, udp],
    )
    .await;
    assert!(results.iter().all(|(_, r)| r.is_ok()), "{results:?}");
}

#[tokio::test]
async fn a_stale_target_left_by_an_earlier_pod_is_replaced() {
    let mut mock = mock_with_lb();
    mock.expect_describe_listeners().times(1).returning(|_, _| {
        Ok(listeners_answer(vec![listener(
            "lbl-a",
            501,
            &marker("gs-0"),
        )]))
    });
    mock.expect_create_listener().never();
    mock.expect_describe_targets()
        .times(1)
        .withf(|_, req| req.listener_ids.as_deref() == Some(&["lbl-a".to_string()][..]))
        .returning(|_, _| {
            Ok(clb::DescribeTargetsResponse {
                listeners: vec![clb::ListenerBackend {
                    listener_id: Some("lbl-a".into()),
                    targets: vec![eni_target("10.0.0.9", 7000)],
                    ..Default::default()
                }],
                ..Default::default()
            })
        });
    mock.expect_batch_deregister_targets()
        .times(1)
        .withf(|_, req| {
            req.targets.len() == 1
                && req.targets[0].listener_id == "lbl-a"
                && req.targets[0].eni_ip.as_deref() == Some("10.0.0.9")
                && req.targets[0].port == 7000
        })
        .returning(|_, _| Ok(clb::BatchDeregisterTargetsResponse::default()));
    mock.expect_batch_register_targets()
        .times(1)
        .withf(|_, req| {
            req.targets.len() == 1 && req.targets[0].eni_ip.as_deref() == Some("10.0.0.5")
        })
        .returning(|_, _| Ok(clb::BatchRegisterTargetsResponse::default()));
    let provider = provider(mock);
    let status = provider
        .ensure(&binding("gs-0", "lb-1", 501, Some("10.0.0.5")))
        .await
        .unwrap();
    assert_eq!(status.resource_id, "lbl-a");
    assert_eq!(status.state, BindingState::Bound);
}

#[tokio::test]
async fn an_adopted_listener_with_the_right_target_costs_no_write() {
    let mut mock = mock_with_lb();
    mock.expect_describe_listeners().times(1).returning(|_, _| {
        Ok(listeners_answer(vec![listener(
            "lbl-a",
            501,
            &marker("gs-0"),
        )]))
    });
    mock.expect_describe_targets().times(1).returning(|_, _| {
        Ok(clb::DescribeTargetsResponse {
            listeners: vec![clb::ListenerBackend {
                listener_id: Some("lbl-a".into()),
                targets: vec![eni_target("10.0.0.5", 7000)],
                ..Default::default()
            }],
            ..Default::default()
        })
    });
    mock.expect_create_listener().never();
    mock.expect_batch_register_targets().never();
    mock.expect_batch_deregister_targets().never();
    let provider = provider(mock);
    let status = provider
        .ensure(&binding("gs-0", "lb-1", 501, Some("10.0.0.5")))
        .await
        .unwrap();
    assert_eq!(status.resource_id, "lbl-a");
    assert_eq!(provider.stats().total_writes(), 0);
}

#[tokio::test]
async fn without_a_backend_the_listener_is_left_without_targets() {
    let mut mock = mock_with_lb();
    mock.expect_describe_listeners().returning(|_, _| {
        Ok(listeners_answer(vec![listener(
            "lbl-a",
            501,
            &marker("gs-0"),
        )]))
    });
    mock.expect_describe_targets().returning(|_, _| {
        Ok(clb::DescribeTargetsResponse {
            listeners: vec![clb::ListenerBackend {
                listener_id: Some("lbl-a".into()),
                targets: vec![eni_target("10.0.0.5", 7000)],
                ..Default::default()
            }],
            ..Default::default()
        })
    });
    mock.expect_batch_deregister_targets()
        .times(1)
        .returning(|_, _| Ok(clb::BatchDeregisterTargetsResponse::default()));
    mock.expect_batch_register_targets().never();
    let provider = provider(mock);
    let status = provider
        .ensure(&binding("gs-0", "lb-1", 501, None))
        .await
        .unwrap();
    assert_eq!(status.state, BindingState::Available);
}

#[tokio::test]
async fn a_foreign_listener_at_the_port_is_a_conflict_and_the_rest_proceed() {
    let mut mock = mock_with_lb();
    mock.expect_describe_listeners().times(1).returning(|_, _| {
        Ok(listeners_answer(vec![listener(
            "lbl-console",
            501,
            "made-in-console",
        )]))
    });
    mock.expect_create_listener()
        .times(1)
        .withf(|_, req| req.ports == [502])
        .returning(|_, req| Ok(create_answer(req)));
    mock.expect_batch_register_targets()
        .times(1)
        .returning(|_, _| Ok(clb::BatchRegisterTargetsResponse::default()));
    mock.expect_delete_load_balancer_listeners().never();
    let provider = provider(mock);
    let results = ensure_all(
        &provider,
        vec![
            binding("gs-1", "lb-1", 501, Some("10.0.0.1")),
            binding("gs-2", "lb-1", 502, Some("10.0.0.2")),
        ],
    )
    .await;
    let err = results[0].1.clone().unwrap_err();
    assert_eq!(err.reason(), reason::PORT_CONFLICT);
    assert!(err.message().contains("lbl-console"), "{err}");
    assert_eq!(results[1].1.clone().unwrap().state, BindingState::Bound);
}

#[tokio::test]
async fn a_port_taken_since_we_looked_fails_only_its_binding() {
    let mut mock = mock_with_lb();
    mock.expect_describe_listeners()
        .times(1)
        .returning(|_, _| Ok(listeners_answer(vec![])));
    mock.expect_create_listener().returning(|_, req| {
        if req.ports.contains(&503) {
            Err(api_error(
                "CreateListener",
                "InvalidParameter.PortCheckFailed",
            ))
        } else {
            Ok(create_answer(req))
        }
    });
    mock.expect_batch_register_targets()
        .times(1)
        .withf(|_, req| req.targets.len() == 3)
        .returning(|_, _| Ok(clb::BatchRegisterTargetsResponse::default()));
    let provider = provider(mock);
    let bindings = (1..=4)
        .map(|i| {
            binding(
                &format!("gs-{i}"),
                "lb-1",
                500 + i,
                Some(&format!("10.0.0.{i}")),
            )
        })
        .collect();
    let results = ensure_all(&provider, bindings).await;
    for (b, result) in results {
        if b.slot.port() == 503 {
            assert_eq!(result.unwrap_err().reason(), reason::PORT_CONFLICT);
        } else {
            assert_eq!(result.unwrap().state, BindingState::Bound);
        }
    }
}

#[tokio::test]
async fn a_register_failure_reported_per_listener_fails_only_that_binding() {
    let mut mock = mock_with_lb();
    mock.expect_describe_listeners()
        .returning(|_, _| Ok(listeners_answer(vec![])));
    mock.expect_create_listener()
        .returning(|_, req| Ok(create_answer(req)));
    mock.expect_batch_register_targets()
        .times(1)
        .returning(|_, _| {
            Ok(clb::BatchRegisterTargetsResponse {
                fail_listener_id_set: vec!["lbl-502".into()],
                ..Default::default()
            })
        });
    let provider = provider(mock);
    let results = ensure_all(
        &provider,
        vec![
            binding("gs-1", "lb-1", 501, Some("10.0.0.1")),
            binding("gs-2", "lb-1", 502, Some("10.0.0.2")),
        ],
    )
    .await;
    assert!(results[0].1.is_ok());
    assert!(results[1].1.clone().unwrap_err().is_retryable());
}

#[tokio::test]
async fn creates_beyond_the_quota_fail_without_refused_calls() {
    let mut mock = mock_with_lb_no_quota();
    mock.expect_describe_quota()
        .times(1)
        .returning(|_, _| Ok(quota_answer(3)));
    mock.expect_describe_listeners()
        .returning(|_, _| Ok(listeners_answer(vec![listener("lbl-x", 600, "console")])));
    mock.expect_create_listener()
        .times(1)
        .withf(|_, req| req.ports == [501, 502])
        .returning(|_, req| Ok(create_answer(req)));
    mock.expect_batch_register_targets()
        .times(1)
        .returning(|_, _| Ok(clb::BatchRegisterTargetsResponse::default()));
    let provider = provider(mock);
    let bindings = (1..=4)
        .map(|i| {
            binding(
                &format!("gs-{i}"),
                "lb-1",
                500 + i,
                Some(&format!("10.0.0.{i}")),
            )
        })
        .collect();
    let results = ensure_all(&provider, bindings).await;
    let outcome: Vec<Option<&str>> = results
        .iter()
        .map(|(_, r)| r.as_ref().err().map(|e| e.reason()))
        .collect();
    // Arrival order decides who fits, so only count.
    assert_eq!(
        outcome.iter().filter(|o| o.is_none()).count(),
        2,
        "{outcome:?}"
    );
    assert_eq!(
        outcome
            .iter()
            .filter(|o| **o == Some(reason::LISTENER_QUOTA_EXCEEDED))
            .count(),
        2
    );
}

#[tokio::test]
async fn a_task_outliving_the_deadline_answers_pending() {
    let mut mock = MockClbApi::new();
    mock.expect_describe_load_balancers().returning(|_, _| {
        Ok(clb::DescribeLoadBalancersResponse {
            load_balancer_set: vec![clb::LoadBalancer {
                load_balancer_id: Some("lb-1".into()),
                load_balancer_vips: vec![VIP.into()],
                ..Default::default()
            }],
            ..Default::default()
        })
    });
    mock.expect_describe_quota()
        .returning(|_, _| Ok(quota_answer(50)));
    mock.expect_describe_listeners()
        .returning(|_, _| Ok(listeners_answer(vec![])));
    mock.expect_create_listener()
        .returning(|_, req| Ok(create_answer(req)));
    mock.expect_wait_clb_task().returning(|_, id, _| {
        Err(Error::TaskTimeout {
            service: "clb",
            task_id: id.to_string(),
        })
    });
    mock.expect_batch_register_targets().never();
    let provider = provider(mock);
    let status = provider
        .ensure(&binding("gs-1", "lb-1", 501, Some("10.0.0.1")))
        .await
        .unwrap();
    assert_eq!(status.state, BindingState::Pending);
    assert_eq!(status.resource_id, "lbl-501");
    assert_eq!(status.address.as_deref(), Some("203.0.113.1:501"));
}

#[tokio::test]
async fn release_of_a_missing_listener_is_ok_and_writes_nothing() {
    let mut mock = mock_with_lb();
    // Someone else's listener at the port, and ours for another child: neither is touched.
    mock.expect_describe_listeners().times(1).returning(|_, _| {
        Ok(listeners_answer(vec![
            listener("lbl-console", 501, "made-in-console"),
            listener("lbl-sibling", 502, &marker("gs-other")),
        ]))
    });
    mock.expect_delete_load_balancer_listeners().never();
    let provider = provider(mock);
    let results = {
        let a = binding("gs-1", "lb-1", 501, None);
        let b = binding("gs-2", "lb-1", 502, None);
        let c = binding("gs-3", "lb-1", 503, None);
        let (ra, rb, rc) = tokio::join!(
            provider.release(&a),
            provider.release(&b),
            provider.release(&c)
        );
        [ra, rb, rc]
    };
    assert!(results.iter().all(Result::is_ok), "{results:?}");
    assert_eq!(provider.stats().total_writes(), 0);
}

#[tokio::test]
async fn releases_delete_only_marked_listeners_in_one_call() {
    let mut mock = mock_with_lb();
    mock.expect_describe_listeners().times(1).returning(|_, _| {
        Ok(listeners_answer(vec![
            listener("lbl-1", 501, &marker("gs-1")),
            listener("lbl-2", 502, &marker("gs-2")),
            listener("lbl-x", 503, "made-in-console"),
        ]))
    });
    mock.expect_delete_load_balancer_listeners()
        .times(1)
        .withf(|_, req| {
            let mut ids = req.listener_ids.clone().unwrap_or_default();
            ids.sort();
            ids == ["lbl-1", "lbl-2"]
        })
        .returning(|_, _| {
            Ok(clb::DeleteLoadBalancerListenersResponse {
                request_id: "task-del".into(),
            })
        });
    let provider = provider(mock);
    let a = binding("gs-1", "lb-1", 501, None);
    let b = binding("gs-2", "lb-1", 502, None);
    let mut c = binding("gs-3", "lb-1", 503, None);
    // A stale or wrong id in the status is no licence to delete a foreign listener.
    c.resource_id = Some("lbl-x".into());
    let (ra, rb, rc) = tokio::join!(
        provider.release(&a),
        provider.release(&b),
        provider.release(&c)
    );
    ra.unwrap();
    rb.unwrap();
    rc.unwrap();
}

#[tokio::test]
async fn cloud_errors_map_to_provider_errors() {
    // (code DescribeListeners answers with, what the ensure must fail with)
    type Check = fn(&ProviderError) -> bool;
    let cases: [(&str, Check); 4] = [
        ("RequestLimitExceeded", |e| {
            e.is_retryable() && e.retry_after_hint().is_some()
        }),
        ("FailedOperation.ResourceInOperating", |e| e.is_retryable()),
        ("AuthFailure.SignatureFailure", |e| {
            matches!(e, ProviderError::Permanent { .. })
        }),
        ("InvalidParameter.LBIdNotFound", |e| {
            e.reason() == reason::LOAD_BALANCER_NOT_FOUND
        }),
    ];
    for (code, check) in cases {
        let mut mock = mock_with_lb();
        mock.expect_describe_listeners()
            .returning(move |_, _| Err(api_error("DescribeListeners", code)));
        let provider = provider(mock);
        let err = provider
            .ensure(&binding("gs-1", "lb-1", 501, Some("10.0.0.1")))
            .await
            .unwrap_err();
        assert!(check(&err), "{code}: {err:?}");
    }
}

#[tokio::test]
async fn create_errors_map_to_the_users_reasons() {
    for (settings, code, want) in [
        (None, "LimitExceeded", reason::LISTENER_QUOTA_EXCEEDED),
        (
            Some(json!({"scheduler": "WRR"})),
            "InvalidParameterValue",
            reason::INVALID_LISTENER_CONFIG,
        ),
    ] {
        let mut mock = mock_with_lb();
        mock.expect_describe_listeners()
            .returning(|_, _| Ok(listeners_answer(vec![])));
        mock.expect_create_listener()
            .times(1)
            .returning(move |_, _| Err(api_error("CreateListener", code)));
        let provider = provider(mock);
        let mut b = binding("gs-1", "lb-1", 501, Some("10.0.0.1"));
        b.listener_settings = settings;
        let err = provider.ensure(&b).await.unwrap_err();
        assert_eq!(err.reason(), want, "{code}: {err}");
    }
}

#[tokio::test]
async fn invalid_settings_and_slots_fail_before_any_cloud_call() {
    // No expectations: any call would panic.
    let provider = provider(MockClbApi::new());
    let mut b = binding("gs-1", "lb-1", 501, Some("10.0.0.1"));
    b.listener_settings = Some(json!({"sessionExpireTime": 5}));
    assert_eq!(
        provider.ensure(&b).await.unwrap_err().reason(),
        reason::INVALID_LISTENER_CONFIG
    );
    let mut pod = binding("gs-1", "lb-1", 501, Some("10.0.0.1"));
    pod.slot = Slot::PodAddress {
        pod_name: "gs-1".into(),
        port: 7000,
        protocol: Protocol::Tcp,
    };
    assert!(matches!(
        provider.ensure(&pod).await,
        Err(ProviderError::Permanent { .. })
    ));
}

#[tokio::test]
async fn a_missing_clb_is_the_users_to_fix() {
    let mut mock = mock_with_lb();
    mock.expect_describe_listeners().never();
    let provider = provider(mock);
    let err = provider
        .ensure(&binding("gs-1", "lb-nope", 501, Some("10.0.0.1")))
        .await
        .unwrap_err();
    assert_eq!(err.reason(), reason::LOAD_BALANCER_NOT_FOUND);
    assert!(err.message().contains("lb-nope"));
    // Releasing on a CLB that is gone is done.
    let mut mock = MockClbApi::new();
    mock.expect_describe_listeners().returning(|_, _| {
        Err(api_error(
            "DescribeListeners",
            "InvalidParameter.LBIdNotFound",
        ))
    });
    provider_release_ok(mock).await;
}

async fn provider_release_ok(mock: MockClbApi) {
    let provider = provider(mock);
    provider
        .release(&binding("gs-1", "lb-nope", 501, None))
        .await
        .unwrap();
}

#[tokio::test]
async fn frontends_report_capacity_net_of_foreign_listeners() {
    let mut mock = mock_with_lb_no_quota();
    mock.expect_describe_quota()
        .times(1)
        .returning(|_, _| Ok(quota_answer(50)));
    mock.expect_describe_listeners().times(1).returning(|_, _| {
        Ok(listeners_answer(vec![
            listener("lbl-1", 501, &marker("gs-1")),
            listener("lbl-2", 502, "console-1"),
            listener("lbl-3", 503, "console-2"),
            listener(
                "lbl-4",
                504,
                &crate::marker::encode("other-cluster", &BindingKey::new("a", "b")),
            ),
        ]))
    });
    let provider = provider(mock);
    let scope = Scope {
        cluster: CLUSTER.into(),
        region: None,
        frontend_ids: vec!["lb-1".into()],
    };
    for _ in 0..2 {
        // The second time comes from the caches.
        let frontends = provider.frontends(&scope).await.unwrap();
        assert_eq!(frontends.len(), 1);
        assert_eq!(frontends[0].id, "lb-1");
        assert_eq!(frontends[0].capacity, 47);
        assert!(frontends[0].public_ips.is_empty());
    }
    let missing = Scope {
        frontend_ids: vec!["lb-1".into(), "lb-gone".into()],
        ..scope
    };
    let err = provider.frontends(&missing).await.unwrap_err();
    assert_eq!(err.reason(), reason::LOAD_BALANCER_NOT_FOUND);
    assert!(err.message().contains("lb-gone") && !err.message().contains("lb-1,"));
}

#[tokio::test]
async fn list_owned_finds_our_listeners_with_their_owners() {
    let long = BindingKey::new("n".repeat(40), "x".repeat(40));
    let long_marker = crate::marker::encode(CLUSTER, &long);
    let lm = long_marker.clone();
    let mut mock = mock_with_lb();
    mock.expect_describe_listeners().returning(move |_, _| {
        Ok(listeners_answer(vec![
            listener("lbl-1", 501, &marker("gs-1")),
            listener("lbl-2", 502, "console"),
            listener("lbl-3", 503, &lm),
            listener(
                "lbl-4",
                504,
                &format!(
                    "{}_ffffffffffffffff",
                    crate::marker::cluster_prefix(CLUSTER)
                ),
            ),
        ]))
    });
    mock.expect_delete_load_balancer_listeners()
        .times(1)
        .withf(|_, req| req.listener_ids.as_deref() == Some(&["lbl-3".to_string()][..]))
        .returning(|_, _| Ok(Default::default()));
    let provider = provider(mock);
    let scope = Scope {
        cluster: CLUSTER.into(),
        region: None,
        frontend_ids: vec!["lb-1".into()],
    };
    let owned = provider.list_owned(&scope).await.unwrap();
    let owners: Vec<(&str, Option<&BindingKey>)> = owned
        .iter()
        .map(|o| (o.resource_id.as_str(), o.owner.as_ref()))
        .collect();
    let gs1 = BindingKey::new("games", "gs-1");
    assert_eq!(
        owners,
        [("lbl-1", Some(&gs1)), ("lbl-3", None), ("lbl-4", None)]
    );
    assert_eq!(owned[0].slot.port(), 501);
    assert_eq!(owned[0].region.as_deref(), Some(REGION));

    // Once the provider has seen the long key (here: its release), its hash resolves.
    let mut b = binding("x", "lb-1", 503, None);
    b.key = long.clone();
    provider.release(&b).await.unwrap();
    let owned = provider.list_owned(&scope).await.unwrap();
    assert_eq!(owned[1].owner.as_ref(), Some(&long));
}
