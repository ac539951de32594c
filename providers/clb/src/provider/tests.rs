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
                    status: Some(1),
                    tags: vec![clb::TagInfo {
                        tag_key: "team".into(),
                        tag_value: "games".into(),
                    }],
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
        let mut http = listener("lbl-5", 80, "console-http");
        http.protocol = Some("HTTP".into());
        Ok(listeners_answer(vec![
            listener("lbl-1", 501, &marker("gs-1")),
            listener("lbl-2", 502, "console-1"),
            listener("lbl-3", 503, "console-2"),
            listener(
                "lbl-4",
                504,
                &crate::marker::encode("other-cluster", &BindingKey::new("a", "b")),
            ),
            http,
        ]))
    });
    let provider = provider(mock);
    let scope = Scope {
        cluster: CLUSTER.into(),
        region: None,
        frontend_ids: vec!["lb-1".into()],
        namespace: None,
    };
    for _ in 0..2 {
        // The second time comes from the caches.
        let frontends = provider.frontends(&scope).await.unwrap();
        assert_eq!(frontends.len(), 1);
        let f = &frontends[0];
        assert_eq!(f.id, "lb-1");
        assert_eq!(f.capacity, 46);
        assert!(f.public_ips.is_empty());
        assert_eq!(f.problem, None);
        let taken: Vec<(u16, Protocol)> = f.taken.iter().map(|t| (t.port, t.protocol)).collect();
        assert_eq!(
            taken,
            [
                (80, Protocol::Tcp),
                (502, Protocol::Tcp),
                (503, Protocol::Tcp),
                (504, Protocol::Tcp)
            ]
        );
        assert!(f.taken.iter().all(|t| t.public_ip.is_none()));
        assert_eq!(f.tags.get("team").map(String::as_str), Some("games"));
    }
}

/// `lb-1` runs, `lb-new` is still being created, `lb-broken`'s listeners cannot be read,
/// anything else does not exist. DescribeLoadBalancers is asked every time for what it did not
/// list before (`calls` counts them).
fn mock_with_frontends(calls: Arc<std::sync::atomic::AtomicUsize>) -> MockClbApi {
    let mut mock = MockClbApi::new();
    mock.expect_describe_load_balancers()
        .returning(move |_, req| {
            calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let ids = req.load_balancer_ids.clone().unwrap_or_default();
            Ok(clb::DescribeLoadBalancersResponse {
                load_balancer_set: ids
                    .into_iter()
                    .filter(|id| ["lb-1", "lb-new", "lb-broken"].contains(&id.as_str()))
                    .map(|id| clb::LoadBalancer {
                        status: Some(if id == "lb-new" { 0 } else { 1 }),
                        load_balancer_id: Some(id),
                        load_balancer_vips: vec![VIP.into()],
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            })
        });
    mock.expect_describe_quota()
        .returning(|_, _| Ok(quota_answer(50)));
    mock.expect_describe_listeners().returning(|_, req| {
        if req.load_balancer_id == "lb-broken" {
            return Err(api_error("DescribeListeners", "InternalError"));
        }
        Ok(listeners_answer(vec![]))
    });
    mock
}

#[tokio::test]
async fn one_missing_or_unusable_clb_does_not_hide_the_others() {
    let calls = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let provider = provider(mock_with_frontends(Arc::clone(&calls)));
    let scope = Scope {
        cluster: CLUSTER.into(),
        region: None,
        frontend_ids: vec![
            "lb-1".into(),
            "lb-gone".into(),
            "lb-new".into(),
            "lb-broken".into(),
        ],
        namespace: None,
    };
    let frontends = provider.frontends(&scope).await.unwrap();
    type Seen<'a> = (&'a str, u32, Option<(bool, &'a str)>);
    let seen: Vec<Seen<'_>> = frontends
        .iter()
        .map(|f| {
            let problem = f.problem.as_ref().map(|p| (p.gone, p.reason.as_str()));
            (f.id.as_str(), f.capacity, problem)
        })
        .collect();
    assert_eq!(
        seen,
        [
            ("lb-1", 50, None),
            ("lb-gone", 0, Some((true, reason::LOAD_BALANCER_NOT_FOUND))),
            ("lb-new", 0, Some((false, reason::LOAD_BALANCER_NOT_READY))),
            ("lb-broken", 0, Some((false, reason::CLOUD_RETRYING))),
        ]
    );
    assert!(
        frontends[1]
            .problem
            .as_ref()
            .unwrap()
            .message
            .contains("lb-gone")
    );
    // "Does not exist" is never cached: the next read asks the cloud again about lb-gone
    // (and lb-new, whose status changes soon), not about lb-1.
    let before = calls.load(std::sync::atomic::Ordering::SeqCst);
    provider.frontends(&scope).await.unwrap();
    assert_eq!(calls.load(std::sync::atomic::Ordering::SeqCst), before + 1);
}

#[tokio::test]
async fn a_clb_deleted_after_it_was_cached_shows_as_gone_by_its_listeners() {
    let mut mock = mock_with_lb();
    mock.expect_describe_listeners().returning(|_, _| {
        Err(Error::api(
            "DescribeListeners",
            "InvalidParameter",
            "LoadBalancer not exist",
            "r",
        ))
    });
    let provider = provider(mock);
    let scope = Scope {
        cluster: CLUSTER.into(),
        frontend_ids: vec!["lb-1".into()],
        ..Default::default()
    };
    let frontends = provider.frontends(&scope).await.unwrap();
    let problem = frontends[0].problem.clone().unwrap();
    assert!(problem.gone, "{problem:?}");
    assert_eq!(problem.reason, reason::LOAD_BALANCER_NOT_FOUND);
}

#[tokio::test]
async fn failures_that_say_nothing_about_a_clb_fail_the_whole_call() {
    let mut mock = mock_with_lb();
    mock.expect_describe_listeners()
        .returning(|_, _| Err(api_error("DescribeListeners", "RequestLimitExceeded")));
    let provider = provider(mock);
    let scope = Scope {
        cluster: CLUSTER.into(),
        frontend_ids: vec!["lb-1".into()],
        ..Default::default()
    };
    assert!(provider.frontends(&scope).await.unwrap_err().is_retryable());
    let mut mock = MockClbApi::new();
    mock.expect_describe_load_balancers().returning(|_, _| {
        Err(api_error(
            "DescribeLoadBalancers",
            "AuthFailure.SignatureFailure",
        ))
    });
    let err = provider_of(mock).frontends(&scope).await.unwrap_err();
    assert!(matches!(err, ProviderError::Permanent { .. }), "{err}");
}

fn provider_of(mock: MockClbApi) -> Arc<ClbProvider> {
    provider(mock)
}

#[tokio::test]
async fn a_namespace_scoped_controller_counts_other_namespaces_listeners_out() {
    let other_ns = crate::marker::encode(CLUSTER, &BindingKey::new("team-b", "x"));
    let mut mock = mock_with_lb();
    let other = other_ns.clone();
    mock.expect_describe_listeners().returning(move |_, _| {
        Ok(listeners_answer(vec![
            listener("lbl-1", 501, &marker("gs-1")),
            listener("lbl-2", 502, &other),
        ]))
    });
    mock.expect_delete_load_balancer_listeners().never();
    let config = ClbProviderConfig {
        namespace: Some("games".into()),
        ..config()
    };
    let provider = Arc::new(ClbProvider::new(Arc::new(mock), config).unwrap());
    let scope = Scope {
        cluster: CLUSTER.into(),
        frontend_ids: vec!["lb-1".into()],
        namespace: Some("games".into()),
        ..Default::default()
    };
    let f = provider.frontends(&scope).await.unwrap().remove(0);
    assert_eq!(f.capacity, 49);
    assert_eq!(f.taken.len(), 1);
    assert_eq!(f.taken[0].port, 502);
    // Cluster-wide, it is ours.
    let all = Scope {
        namespace: None,
        ..scope.clone()
    };
    let f = provider.frontends(&all).await.unwrap().remove(0);
    assert_eq!((f.capacity, f.taken.len()), (50, 0));

    // Ensuring onto its port is the user's conflict, not a wait.
    let err = provider
        .ensure(&binding("gs-2", "lb-1", 502, Some("10.0.0.2")))
        .await
        .unwrap_err();
    assert_eq!(err.reason(), reason::PORT_CONFLICT, "{err}");
    assert!(!err.is_retryable());

    // list_owned leaves it out, and names our own listener's namespace.
    let owned = provider.list_owned(&scope).await.unwrap();
    let seen: Vec<(&str, Option<&str>)> = owned
        .iter()
        .map(|o| (o.resource_id.as_str(), o.namespace.as_deref()))
        .collect();
    assert_eq!(seen, [("lbl-1", Some("games"))]);
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
        namespace: None,
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

/// A mock CLB `lb-1` whose only listener `lbl-9` (port 509) carries `name`; deletes are
/// counted.
fn mock_with_orphan(
    name: &'static str,
    deletes: Arc<std::sync::atomic::AtomicUsize>,
) -> MockClbApi {
    let mut mock = mock_with_lb();
    let names = Arc::new(std::sync::Mutex::new(vec![name.to_string()]));
    let current = Arc::clone(&names);
    mock.expect_describe_listeners().returning(move |_, _| {
        let name = current.lock().unwrap().last().cloned();
        Ok(listeners_answer(
            name.map(|n| listener("lbl-9", 509, &n))
                .into_iter()
                .collect(),
        ))
    });
    mock.expect_describe_targets()
        .returning(|_, _| Ok(Default::default()));
    mock.expect_batch_register_targets()
        .returning(|_, _| Ok(Default::default()));
    mock.expect_delete_load_balancer_listeners()
        .withf(|_, req| req.listener_ids.as_deref() == Some(&["lbl-9".to_string()][..]))
        .returning(move |_, _| {
            deletes.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            names.lock().unwrap().clear();
            Ok(Default::default())
        });
    mock
}

fn scope_lb1() -> Scope {
    Scope {
        cluster: CLUSTER.into(),
        frontend_ids: vec!["lb-1".into()],
        ..Default::default()
    }
}

#[tokio::test]
async fn the_sweep_releases_a_listed_orphan_that_nothing_adopted() {
    let deletes = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let name: &'static str = Box::leak(marker("gone-1").into_boxed_str());
    let provider = provider(mock_with_orphan(name, Arc::clone(&deletes)));
    let owned = provider.list_owned(&scope_lb1()).await.unwrap();
    assert_eq!(owned.len(), 1);
    assert_eq!(owned[0].namespace.as_deref(), Some("games"));
    provider.release_orphan(&owned[0]).await.unwrap();
    assert_eq!(deletes.load(std::sync::atomic::Ordering::SeqCst), 1);
    // Gone now: releasing it again writes nothing.
    provider.release_orphan(&owned[0]).await.unwrap();
    assert_eq!(deletes.load(std::sync::atomic::Ordering::SeqCst), 1);
}

#[tokio::test]
async fn the_sweep_leaves_an_orphan_an_ensure_adopted_after_the_listing() {
    let deletes = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let name: &'static str = Box::leak(marker("back-1").into_boxed_str());
    let provider = provider(mock_with_orphan(name, Arc::clone(&deletes)));
    let owned = provider.list_owned(&scope_lb1()).await.unwrap();
    // Its binding came back between the listing and the release.
    let status = provider
        .ensure(&binding("back-1", "lb-1", 509, Some("10.0.0.9")))
        .await
        .unwrap();
    assert_eq!(status.resource_id, "lbl-9");
    provider.release_orphan(&owned[0]).await.unwrap();
    assert_eq!(deletes.load(std::sync::atomic::Ordering::SeqCst), 0);
    // A later listing (the binding gone again) may release it.
    let owned = provider.list_owned(&scope_lb1()).await.unwrap();
    provider.release_orphan(&owned[0]).await.unwrap();
    assert_eq!(deletes.load(std::sync::atomic::Ordering::SeqCst), 1);
}

#[tokio::test]
async fn the_sweep_leaves_what_it_never_listed_or_what_changed_name() {
    let deletes = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let name: &'static str = Box::leak(marker("gone-2").into_boxed_str());
    let provider = provider(mock_with_orphan(name, Arc::clone(&deletes)));
    let never_listed = dac_provider_api::OwnedResource {
        resource_id: "lbl-9".into(),
        region: None,
        slot: Slot::Port {
            frontend_id: "lb-1".into(),
            public_ip: None,
            port: 509,
            protocol: Protocol::Tcp,
        },
        owner: Some(BindingKey::new("games", "gone-2")),
        namespace: Some("games".into()),
    };
    provider.release_orphan(&never_listed).await.unwrap();
    assert_eq!(deletes.load(std::sync::atomic::Ordering::SeqCst), 0);

    // Listed under one name; renamed (by hand) before the release: left alone.
    let renamed: &'static str = "renamed-by-hand";
    let deletes2 = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut mock = mock_with_lb();
    let answers = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    mock.expect_describe_listeners().returning(move |_, _| {
        let n = answers.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let current = if n == 0 { name } else { renamed };
        Ok(listeners_answer(vec![listener("lbl-9", 509, current)]))
    });
    let counted = Arc::clone(&deletes2);
    mock.expect_delete_load_balancer_listeners()
        .returning(move |_, _| {
            counted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            Ok(Default::default())
        });
    let provider = provider_of(mock);
    let owned = provider.list_owned(&scope_lb1()).await.unwrap();
    provider.release_orphan(&owned[0]).await.unwrap();
    assert_eq!(deletes2.load(std::sync::atomic::Ordering::SeqCst), 0);
}

#[tokio::test]
async fn a_listener_deleted_by_someone_else_is_dropped_from_the_delete_and_the_rest_deleted() {
    let mut mock = mock_with_lb();
    // The round sees both; by the time it deletes, lbl-1 is gone.
    let describes = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let seen = Arc::clone(&describes);
    mock.expect_describe_listeners().returning(move |_, _| {
        let first = seen.fetch_add(1, std::sync::atomic::Ordering::SeqCst) == 0;
        let mut listeners = vec![listener("lbl-2", 502, &marker("gs-2"))];
        if first {
            listeners.insert(0, listener("lbl-1", 501, &marker("gs-1")));
        }
        Ok(listeners_answer(listeners))
    });
    let sent = Arc::new(std::sync::Mutex::new(Vec::new()));
    let calls = Arc::clone(&sent);
    mock.expect_delete_load_balancer_listeners()
        .returning(move |_, req| {
            let ids = req.listener_ids.clone().expect("never without ids");
            assert!(!ids.is_empty(), "never with empty ids");
            calls.lock().unwrap().push(ids.clone());
            if ids.contains(&"lbl-1".to_string()) {
                return Err(Error::api(
                    "DeleteLoadBalancerListeners",
                    "InvalidParameter",
                    "some ListenerId [\"lbl-1\"] not found",
                    "r",
                ));
            }
            Ok(Default::default())
        });
    let provider = provider(mock);
    let (a, b) = (
        binding("gs-1", "lb-1", 501, None),
        binding("gs-2", "lb-1", 502, None),
    );
    let (ra, rb) = tokio::join!(provider.release(&a), provider.release(&b));
    ra.unwrap();
    rb.unwrap();
    let mut sent = sent.lock().unwrap().clone();
    for ids in &mut sent {
        ids.sort();
    }
    // Not split in halves: described again, and only what is left is sent.
    assert_eq!(sent, [vec!["lbl-1", "lbl-2"], vec!["lbl-2"]]);
    assert_eq!(describes.load(std::sync::atomic::Ordering::SeqCst), 2);
}

#[tokio::test]
async fn a_target_removed_by_someone_else_counts_as_deregistered() {
    let mut mock = mock_with_lb();
    mock.expect_describe_listeners().returning(|_, _| {
        Ok(listeners_answer(vec![
            listener("lbl-1", 501, &marker("gs-1")),
            listener("lbl-2", 502, &marker("gs-2")),
        ]))
    });
    // Each listener has a stale target; lbl-1's is removed by someone else before our
    // deregister reaches the cloud.
    let removed = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let described = Arc::clone(&removed);
    mock.expect_describe_targets().returning(move |_, req| {
        let gone = described.load(std::sync::atomic::Ordering::SeqCst);
        let listeners = req
            .listener_ids
            .clone()
            .unwrap_or_default()
            .into_iter()
            .map(|id| {
                let targets = if id == "lbl-1" && gone {
                    vec![]
                } else {
                    vec![eni_target("10.9.9.9", 7000)]
                };
                clb::ListenerBackend {
                    listener_id: Some(id),
                    targets,
                    ..Default::default()
                }
            })
            .collect();
        Ok(clb::DescribeTargetsResponse {
            listeners,
            ..Default::default()
        })
    });
    let sent = Arc::new(std::sync::Mutex::new(Vec::new()));
    let calls = Arc::clone(&sent);
    mock.expect_batch_deregister_targets()
        .returning(move |_, req| {
            let listeners: Vec<String> =
                req.targets.iter().map(|t| t.listener_id.clone()).collect();
            calls.lock().unwrap().push(listeners.clone());
            if listeners.contains(&"lbl-1".to_string()) {
                removed.store(true, std::sync::atomic::Ordering::SeqCst);
                return Err(Error::api(
                    "BatchDeregisterTargets",
                    "InvalidParameter",
                    "some targets are not bound",
                    "r",
                ));
            }
            Ok(Default::default())
        });
    mock.expect_batch_register_targets()
        .times(1)
        .returning(|_, req| {
            assert_eq!(req.targets.len(), 2);
            Ok(Default::default())
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
    for (b, result) in results {
        assert_eq!(result.unwrap().state, BindingState::Bound, "{}", b.key);
    }
    let sent = sent.lock().unwrap().clone();
    assert_eq!(sent, [vec!["lbl-1", "lbl-2"], vec!["lbl-2"]]);
}
