//! Our client against the local emulator (`tencentcloud-emulator`, seeded like
//! `examples/emulator.toml`): every action, retrying through throttling and through the CLB
//! instance lock, and giving up with a classified error after the retry bound.
//!
//! Each test starts its own emulator on a free port, so tests run in parallel. Faults and
//! settings go through the emulator's admin HTTP API (`/_emulator/...`), as a user would.
use std::time::Duration;

use dac_tencentcloud::models::{clb, vpc};
use dac_tencentcloud::{
    Client, Credentials, CredentialsProvider, Error, ErrorKind, RateLimitConfig, RequestMethod,
    RetryConfig, TaskPollConfig,
};
use serde_json::{Value, json};
use tencentcloud_emulator::{Emulator, EmulatorConfig, RunningEmulator};
use tokio::time::Instant;

const REGION: &str = "ap-guangzhou";
const LB: &str = "lb-demo0001";
const LB2: &str = "lb-demo0002";
const NAT: &str = "nat-demo0001";
const NAT_EIP: &str = "198.51.100.1";
const VPC: &str = "vpc-demo0001";

struct Cloud {
    emulator: RunningEmulator,
    admin: reqwest::Client,
}

impl Cloud {
    async fn start() -> Self {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_test_writer()
            .try_init();
        let emulator = Emulator::start(EmulatorConfig::demo(), "127.0.0.1:0".parse().unwrap())
            .await
            .expect("emulator starts");
        let cloud = Self {
            emulator,
            admin: reqwest::Client::new(),
        };
        // Short tasks keep the tests fast; the lock tests set their own.
        cloud
            .admin_post(
                "settings",
                json!({"task_latency_ms": 50, "batch_lock_ms": 50, "eip_task_latency_ms": 50}),
            )
            .await;
        cloud
    }

    fn builder(&self) -> dac_tencentcloud::ClientBuilder {
        Client::builder()
            .credentials(CredentialsProvider::fixed(Credentials::new(
                "AKIDEMULATOR",
                "emulator-secret-key",
            )))
            .endpoint_all(self.emulator.endpoint())
            .retry(RetryConfig {
                max_attempts: 10,
                base_delay: Duration::from_millis(20),
                max_delay: Duration::from_millis(500),
                ..RetryConfig::default()
            })
            .task_poll(TaskPollConfig {
                initial_interval: Duration::from_millis(20),
                max_interval: Duration::from_millis(100),
            })
    }

    fn client(&self) -> Client {
        self.builder().build().unwrap()
    }

    async fn admin_post(&self, path: &str, body: Value) -> Value {
        let url = format!("{}/_emulator/{path}", self.emulator.endpoint());
        let resp = self.admin.post(url).json(&body).send().await.unwrap();
        assert!(resp.status().is_success(), "POST {path}: {}", resp.status());
        resp.json().await.unwrap()
    }

    async fn admin_get(&self, path: &str) -> Value {
        let url = format!("{}/_emulator/{path}", self.emulator.endpoint());
        self.admin
            .get(url)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    async fn admin_delete(&self, path: &str) {
        let url = format!("{}/_emulator/{path}", self.emulator.endpoint());
        let resp = self.admin.delete(url).send().await.unwrap();
        assert!(
            resp.status().is_success(),
            "DELETE {path}: {}",
            resp.status()
        );
    }

    /// The remaining `count` of the fault rule `id`: how often it has not fired yet. The
    /// emulator removes a rule once its count runs out.
    async fn fault_remaining(&self, id: u64) -> u64 {
        let faults = self.admin_get("faults").await;
        faults["faults"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["id"] == json!(id))
            .map_or(0, |f| f["count"].as_u64().expect("a counted rule"))
    }
}

fn deadline() -> Instant {
    Instant::now() + Duration::from_secs(20)
}

fn listeners_of(lb: &str) -> clb::DescribeListenersRequest {
    clb::DescribeListenersRequest {
        load_balancer_id: lb.into(),
        ..Default::default()
    }
}

fn tcp_listeners(lb: &str, ports: &[i64]) -> clb::CreateListenerRequest {
    clb::CreateListenerRequest {
        load_balancer_id: lb.into(),
        ports: ports.to_vec(),
        protocol: "TCP".into(),
        listener_names: Some(ports.iter().map(|p| format!("dac-{p}")).collect()),
        health_check: Some(clb::HealthCheck {
            health_switch: Some(1),
            time_out: Some(2),
            interval_time: Some(5),
            ..Default::default()
        }),
        scheduler: Some("WRR".into()),
        ..Default::default()
    }
}

fn eni_target(ip: &str, port: i64) -> clb::Target {
    clb::Target {
        port,
        eni_ip: Some(ip.into()),
        weight: Some(10),
        ..Default::default()
    }
}

async fn create_listeners(client: &Client, lb: &str, ports: &[i64]) -> Vec<String> {
    let created = client
        .create_listener(REGION, &tcp_listeners(lb, ports))
        .await
        .unwrap();
    client
        .wait_clb_task(REGION, &created.request_id, deadline())
        .await
        .unwrap();
    assert_eq!(created.listener_ids.len(), ports.len());
    created.listener_ids
}

#[tokio::test]
async fn clb_instances_quota_and_listener_lifecycle() {
    let cloud = Cloud::start().await;
    let client = cloud.client();

    let lbs = client
        .describe_load_balancers(
            REGION,
            &clb::DescribeLoadBalancersRequest {
                load_balancer_ids: Some(vec![LB.into(), LB2.into()]),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(lbs.total_count, Some(2));
    let lb = lbs
        .load_balancer_set
        .iter()
        .find(|l| l.load_balancer_id.as_deref() == Some(LB))
        .unwrap();
    assert_eq!(lb.load_balancer_type.as_deref(), Some("OPEN"));
    assert_eq!(lb.load_balancer_vips, ["203.0.113.1"]);
    assert_eq!(lb.status, Some(1));

    let quota = client
        .describe_quota(REGION, &clb::DescribeQuotaRequest {})
        .await
        .unwrap();
    let listener_quota = quota
        .quota_set
        .iter()
        .find(|q| q.quota_id.as_deref() == Some("TOTAL_LISTENER_QUOTA"))
        .expect("listener quota");
    assert_eq!(listener_quota.quota_limit, Some(50));

    let ids = create_listeners(&client, LB, &[30001, 30002, 30003]).await;
    let described = client
        .describe_listeners(REGION, &listeners_of(LB))
        .await
        .unwrap();
    assert_eq!(described.total_count, Some(3));
    let mut ports: Vec<_> = described.listeners.iter().filter_map(|l| l.port).collect();
    ports.sort();
    assert_eq!(ports, [30001, 30002, 30003]);
    let first = described
        .listeners
        .iter()
        .find(|l| l.port == Some(30001))
        .unwrap();
    assert_eq!(first.listener_id.as_ref(), Some(&ids[0]));
    assert_eq!(first.protocol.as_deref(), Some("TCP"));
    assert_eq!(first.listener_name.as_deref(), Some("dac-30001"));

    // Narrowed by port.
    let one = client
        .describe_listeners(
            REGION,
            &clb::DescribeListenersRequest {
                port: Some(30002),
                protocol: Some("TCP".into()),
                ..listeners_of(LB)
            },
        )
        .await
        .unwrap();
    assert_eq!(one.listeners.len(), 1);

    let deleted = client
        .delete_listener(
            REGION,
            &clb::DeleteListenerRequest {
                load_balancer_id: LB.into(),
                listener_id: ids[0].clone(),
            },
        )
        .await
        .unwrap();
    client
        .wait_clb_task(REGION, &deleted.request_id, deadline())
        .await
        .unwrap();
    let deleted = client
        .delete_load_balancer_listeners(
            REGION,
            &clb::DeleteLoadBalancerListenersRequest {
                load_balancer_id: LB.into(),
                listener_ids: Some(ids[1..].to_vec()),
            },
        )
        .await
        .unwrap();
    client
        .wait_clb_task(REGION, &deleted.request_id, deadline())
        .await
        .unwrap();
    let after = client
        .describe_listeners(REGION, &listeners_of(LB))
        .await
        .unwrap();
    assert!(after.listeners.is_empty(), "{after:?}");
}

#[tokio::test]
async fn clb_targets_single_and_batch() {
    let cloud = Cloud::start().await;
    let client = cloud.client();
    let ids = create_listeners(&client, LB, &[31001, 31002]).await;

    let registered = client
        .register_targets(
            REGION,
            &clb::RegisterTargetsRequest {
                load_balancer_id: LB.into(),
                listener_id: ids[0].clone(),
                targets: vec![eni_target("10.0.1.5", 7777)],
                ..Default::default()
            },
        )
        .await
        .unwrap();
    client
        .wait_clb_task(REGION, &registered.request_id, deadline())
        .await
        .unwrap();

    // A batch over both listeners. It answers at once but leaves the CLB locked for a while:
    // the writes after it meet ResourceInOperating, which the client retries.
    let batch = client
        .batch_register_targets(
            REGION,
            &clb::BatchRegisterTargetsRequest {
                load_balancer_id: LB.into(),
                targets: vec![
                    clb::BatchTarget {
                        listener_id: ids[0].clone(),
                        port: 7778,
                        eni_ip: Some("10.0.1.6".into()),
                        weight: Some(20),
                        ..Default::default()
                    },
                    clb::BatchTarget {
                        listener_id: ids[1].clone(),
                        port: 7777,
                        eni_ip: Some("10.0.1.7".into()),
                        ..Default::default()
                    },
                ],
            },
        )
        .await
        .unwrap();
    assert!(batch.fail_listener_id_set.is_empty(), "{batch:?}");

    let described = client
        .describe_targets(
            REGION,
            &clb::DescribeTargetsRequest {
                load_balancer_id: LB.into(),
                listener_ids: Some(ids.clone()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let targets_of = |id: &str| -> Vec<(String, i64)> {
        let mut found: Vec<_> = described
            .listeners
            .iter()
            .find(|l| l.listener_id.as_deref() == Some(id))
            .unwrap()
            .targets
            .iter()
            .map(|t| {
                (
                    t.private_ip_addresses.first().cloned().unwrap_or_default(),
                    t.port.unwrap_or_default(),
                )
            })
            .collect();
        found.sort();
        found
    };
    assert_eq!(
        targets_of(&ids[0]),
        [
            ("10.0.1.5".to_string(), 7777),
            ("10.0.1.6".to_string(), 7778)
        ]
    );
    assert_eq!(targets_of(&ids[1]), [("10.0.1.7".to_string(), 7777)]);

    let deregistered = client
        .deregister_targets(
            REGION,
            &clb::DeregisterTargetsRequest {
                load_balancer_id: LB.into(),
                listener_id: ids[0].clone(),
                targets: vec![eni_target("10.0.1.5", 7777)],
                ..Default::default()
            },
        )
        .await
        .unwrap();
    client
        .wait_clb_task(REGION, &deregistered.request_id, deadline())
        .await
        .unwrap();
    let batch = client
        .batch_deregister_targets(
            REGION,
            &clb::BatchDeregisterTargetsRequest {
                load_balancer_id: LB.into(),
                targets: vec![
                    clb::BatchTarget {
                        listener_id: ids[0].clone(),
                        port: 7778,
                        eni_ip: Some("10.0.1.6".into()),
                        ..Default::default()
                    },
                    clb::BatchTarget {
                        listener_id: ids[1].clone(),
                        port: 7777,
                        eni_ip: Some("10.0.1.7".into()),
                        ..Default::default()
                    },
                ],
            },
        )
        .await
        .unwrap();
    assert!(batch.fail_listener_id_set.is_empty(), "{batch:?}");
    let described = client
        .describe_targets(
            REGION,
            &clb::DescribeTargetsRequest {
                load_balancer_id: LB.into(),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert!(
        described.listeners.iter().all(|l| l.targets.is_empty()),
        "{described:?}"
    );
}

#[tokio::test]
async fn clb_create_and_delete_a_load_balancer() {
    let cloud = Cloud::start().await;
    let client = cloud.client();
    let created = client
        .create_load_balancer(
            REGION,
            &clb::CreateLoadBalancerRequest {
                load_balancer_type: "OPEN".into(),
                load_balancer_name: Some("dac-test".into()),
                vpc_id: Some(VPC.into()),
                number: Some(1),
                tags: Some(vec![clb::TagInfo {
                    tag_key: "owner".into(),
                    tag_value: "dac".into(),
                }]),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let [id] = created.load_balancer_ids.clone().try_into().unwrap();
    let done = client
        .wait_clb_task(REGION, &created.request_id, deadline())
        .await
        .unwrap();
    assert_eq!(done.status, Some(0));

    let describe = |ids: Vec<String>| clb::DescribeLoadBalancersRequest {
        load_balancer_ids: Some(ids),
        ..Default::default()
    };
    let found = client
        .describe_load_balancers(REGION, &describe(vec![id.clone()]))
        .await
        .unwrap();
    let lb = &found.load_balancer_set[0];
    assert_eq!(lb.load_balancer_name.as_deref(), Some("dac-test"));
    assert_eq!(lb.status, Some(1));
    assert_eq!(lb.vpc_id.as_deref(), Some(VPC));
    assert!(
        lb.tags
            .iter()
            .any(|t| t.tag_key == "owner" && t.tag_value == "dac")
    );

    let deleted = client
        .delete_load_balancer(
            REGION,
            &clb::DeleteLoadBalancerRequest {
                load_balancer_ids: vec![id.clone()],
                ..Default::default()
            },
        )
        .await
        .unwrap();
    client
        .wait_clb_task(REGION, &deleted.request_id, deadline())
        .await
        .unwrap();
    let gone = client
        .describe_load_balancers(REGION, &describe(vec![id]))
        .await
        .unwrap();
    assert!(gone.load_balancer_set.is_empty(), "{gone:?}");
}

/// What the auto-create of CLBs will need: a token that makes a resend return the first
/// answer, tags to find its instances by, the instance quota.
#[tokio::test]
async fn clb_creation_is_idempotent_by_token_and_found_by_tag() {
    let cloud = Cloud::start().await;
    let client = cloud.client();
    let request = clb::CreateLoadBalancerRequest {
        load_balancer_type: "OPEN".into(),
        number: Some(2),
        tags: Some(vec![clb::TagInfo {
            tag_key: "dac-pool".into(),
            tag_value: "games".into(),
        }]),
        client_token: Some("dac-create-0001".into()),
        ..Default::default()
    };
    let first = client.create_load_balancer(REGION, &request).await.unwrap();
    let again = client.create_load_balancer(REGION, &request).await.unwrap();
    assert_eq!(first.load_balancer_ids.len(), 2);
    assert_eq!(again.load_balancer_ids, first.load_balancer_ids);
    assert_eq!(again.deal_name, first.deal_name);
    let by = |name: &str, value: &str| clb::DescribeLoadBalancersRequest {
        filters: Some(vec![clb::Filter::new(name, [value])]),
        ..Default::default()
    };
    for (name, value) in [("tag-key", "dac-pool"), ("tag:dac-pool", "games")] {
        let found = client
            .describe_load_balancers(REGION, &by(name, value))
            .await
            .unwrap();
        let mut ids: Vec<String> = found
            .load_balancer_set
            .into_iter()
            .filter_map(|lb| lb.load_balancer_id)
            .collect();
        ids.sort();
        let mut want = first.load_balancer_ids.clone();
        want.sort();
        assert_eq!(ids, want, "{name}");
    }
    let quota = client
        .describe_quota(REGION, &clb::DescribeQuotaRequest {})
        .await
        .unwrap();
    let open = quota
        .quota_set
        .iter()
        .find(|q| q.quota_id.as_deref() == Some("TOTAL_OPEN_CLB_QUOTA"))
        .unwrap();
    assert_eq!(open.quota_current, Some(6), "4 seeded and 2 created, once");
    client
        .wait_clb_task(REGION, &first.request_id, deadline())
        .await
        .unwrap();
}

/// ModifyListener and ModifyAddressAttribute, typed.
#[tokio::test]
async fn listeners_are_modified_and_addresses_renamed() {
    let cloud = Cloud::start().await;
    let client = cloud.client();
    let created = client
        .create_listener(REGION, &tcp_listeners(LB, &[34500]))
        .await
        .unwrap();
    client
        .wait_clb_task(REGION, &created.request_id, deadline())
        .await
        .unwrap();
    let modified = client
        .modify_listener(
            REGION,
            &clb::ModifyListenerRequest {
                load_balancer_id: LB.into(),
                listener_id: created.listener_ids[0].clone(),
                scheduler: Some("LEAST_CONN".into()),
                health_check: Some(clb::HealthCheck {
                    health_switch: Some(1),
                    interval_time: Some(7),
                    ..Default::default()
                }),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    client
        .wait_clb_task(REGION, &modified.request_id, deadline())
        .await
        .unwrap();
    let listeners = client
        .describe_listeners(REGION, &listeners_of(LB))
        .await
        .unwrap();
    let l = &listeners.listeners[0];
    assert_eq!(l.scheduler.as_deref(), Some("LEAST_CONN"));
    assert_eq!(
        l.health_check.as_ref().and_then(|h| h.interval_time),
        Some(7)
    );

    let allocated = client
        .allocate_addresses(REGION, &vpc::AllocateAddressesRequest::default())
        .await
        .unwrap();
    let id = allocated.address_set[0].clone();
    client
        .wait_vpc_task(REGION, allocated.task_id.as_deref().unwrap(), deadline())
        .await
        .unwrap();
    client
        .modify_address_attribute(
            REGION,
            &vpc::ModifyAddressAttributeRequest {
                address_id: id.clone(),
                address_name: Some("dac_cls_pool".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let described = client
        .describe_addresses(
            REGION,
            &vpc::DescribeAddressesRequest {
                address_ids: Some(vec![id]),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(
        described.address_set[0].address_name.as_deref(),
        Some("dac_cls_pool")
    );
}

#[tokio::test]
async fn retries_through_the_instance_lock() {
    let cloud = Cloud::start().await;
    cloud
        .admin_post("settings", json!({"task_latency_ms": 400}))
        .await;
    let client = cloud.client();
    let no_retry = cloud.builder().retry(RetryConfig::none()).build().unwrap();

    // The first write starts a task that locks the CLB for 400 ms ...
    let first = client
        .create_listener(REGION, &tcp_listeners(LB, &[32001]))
        .await
        .unwrap();
    // ... so a second write without retries is refused as busy,
    let err = no_retry
        .create_listener(REGION, &tcp_listeners(LB, &[32002]))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Busy, "{err:?}");
    assert_eq!(err.code(), Some("FailedOperation.ResourceInOperating"));
    assert!(err.request_id().is_some_and(|id| !id.is_empty()));
    // while the client with retries waits the lock out and succeeds.
    let start = Instant::now();
    let second = client
        .create_listener(REGION, &tcp_listeners(LB, &[32002]))
        .await
        .unwrap();
    assert!(
        start.elapsed() >= Duration::from_millis(100),
        "it had to wait"
    );
    // The other CLB is not locked.
    no_retry
        .create_listener(REGION, &tcp_listeners(LB2, &[32003]))
        .await
        .unwrap();

    let status = client
        .describe_task_status(
            REGION,
            &clb::DescribeTaskStatusRequest {
                task_id: Some(second.request_id.clone()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(status.status, Some(2), "running right after the call");
    client
        .wait_clb_task(REGION, &first.request_id, deadline())
        .await
        .unwrap();
    client
        .wait_clb_task(REGION, &second.request_id, deadline())
        .await
        .unwrap();
    let listeners = client
        .describe_listeners(REGION, &listeners_of(LB))
        .await
        .unwrap();
    assert_eq!(listeners.listeners.len(), 2);
}

#[tokio::test]
async fn retries_through_injected_throttling() {
    let cloud = Cloud::start().await;
    let client = cloud.client();
    let ids = cloud
        .admin_post(
            "faults",
            json!({"action": "CreateListener", "code": "RequestLimitExceeded", "rate": 1.0, "count": 3}),
        )
        .await;
    let id = ids["ids"][0].as_u64().unwrap();
    let created = client
        .create_listener(REGION, &tcp_listeners(LB, &[33001]))
        .await
        .unwrap();
    assert_eq!(created.listener_ids.len(), 1);
    assert_eq!(cloud.fault_remaining(id).await, 0, "all three fired");
}

#[tokio::test]
async fn retries_through_the_emulators_rate_limit() {
    let cloud = Cloud::start().await;
    cloud
        .admin_post("rate-limits", json!({"DescribeListeners": 2}))
        .await;
    // No client-side pacing: the server's limit is what is being tested.
    let client = cloud
        .builder()
        .rate_limit(RateLimitConfig::unlimited())
        .retry(RetryConfig {
            max_attempts: 12,
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_secs(1),
            ..RetryConfig::default()
        })
        .build()
        .unwrap();
    let no_retry = cloud.builder().retry(RetryConfig::none()).build().unwrap();
    let mut throttled = 0;
    for _ in 0..4 {
        if let Err(e) = no_retry.describe_listeners(REGION, &listeners_of(LB)).await {
            assert_eq!(e.kind(), ErrorKind::Throttled, "{e:?}");
            throttled += 1;
        }
    }
    assert!(throttled > 0, "the emulator throttles above 2 requests/s");

    let calls: Vec<_> = (0..6)
        .map(|_| {
            let client = client.clone();
            tokio::spawn(async move { client.describe_listeners(REGION, &listeners_of(LB)).await })
        })
        .collect();
    for call in calls {
        call.await.unwrap().expect("retried until under the limit");
    }
}

#[tokio::test]
async fn client_side_rate_limit_keeps_under_the_emulators() {
    let cloud = Cloud::start().await;
    cloud
        .admin_post("rate-limits", json!({"DescribeQuota": 5}))
        .await;
    let client = cloud
        .builder()
        .retry(RetryConfig::none())
        .rate_limit(RateLimitConfig {
            default_per_second: 4.0,
            burst: 1,
            ..RateLimitConfig::default()
        })
        .build()
        .unwrap();
    for _ in 0..8 {
        client
            .describe_quota(REGION, &clb::DescribeQuotaRequest {})
            .await
            .expect("never throttled");
    }
}

#[tokio::test]
async fn gives_up_after_the_retry_bound_with_a_classified_error() {
    let cloud = Cloud::start().await;
    let retry = RetryConfig {
        max_attempts: 3,
        base_delay: Duration::from_millis(5),
        max_delay: Duration::from_millis(20),
        busy_budget: Duration::from_secs(30),
        busy_base_delay: Duration::from_millis(5),
        busy_max_delay: Duration::from_millis(20),
        ..RetryConfig::default()
    };
    let client = cloud.builder().retry(retry.clone()).build().unwrap();
    let fault = |code: &str, count: u32| json!({"action": "CreateListener", "code": code, "rate": 1.0, "count": count});

    // Throttling: three attempts, then the classified error.
    let ids = cloud
        .admin_post("faults", fault("RequestLimitExceeded", 100))
        .await;
    let err = client
        .create_listener(REGION, &tcp_listeners(LB, &[34001]))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Throttled, "{err:?}");
    assert_eq!(err.code(), Some("RequestLimitExceeded"));
    assert!(err.is_retryable());
    let id = ids["ids"][0].as_u64().unwrap();
    assert_eq!(
        cloud.fault_remaining(id).await,
        97,
        "exactly three attempts"
    );
    cloud.admin_delete("faults").await;

    // A busy instance is bounded by time, not attempts: five busy answers (more than
    // max_attempts) are ridden through within the budget ...
    cloud
        .admin_post("faults", fault("FailedOperation.ResourceInOperating", 5))
        .await;
    let created = client
        .create_listener(REGION, &tcp_listeners(LB, &[34001]))
        .await
        .unwrap();
    assert_eq!(created.listener_ids.len(), 1);
    assert_eq!(cloud.admin_get("faults").await["faults"], json!([]));
    client
        .wait_clb_task(REGION, &created.request_id, deadline())
        .await
        .unwrap();
    // ... and without a budget, the first busy answer is the classified error.
    let ids = cloud
        .admin_post("faults", fault("FailedOperation.ResourceInOperating", 100))
        .await;
    let no_budget = cloud
        .builder()
        .retry(RetryConfig {
            busy_budget: Duration::ZERO,
            ..retry
        })
        .build()
        .unwrap();
    let err = no_budget
        .create_listener(REGION, &tcp_listeners(LB, &[34002]))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Busy, "{err:?}");
    assert!(err.is_retryable());
    let id = ids["ids"][0].as_u64().unwrap();
    assert_eq!(cloud.fault_remaining(id).await, 99);
    cloud.admin_delete("faults").await;

    // InternalError on a write is ambiguous: surfaced at once, not resent.
    let ids = cloud
        .admin_post(
            "faults",
            json!({"action": "CreateListener", "code": "InternalError", "rate": 1.0, "count": 100}),
        )
        .await;
    let err = client
        .create_listener(REGION, &tcp_listeners(LB, &[34001]))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Transient);
    assert_eq!(
        cloud.fault_remaining(ids["ids"][0].as_u64().unwrap()).await,
        99
    );
}

#[tokio::test]
async fn dropped_connections_on_reads_are_retried() {
    let cloud = Cloud::start().await;
    let client = cloud.client();
    let ids = cloud
        .admin_post(
            "faults",
            json!({"action": "DescribeListeners", "drop": true, "rate": 1.0, "count": 2}),
        )
        .await;
    client
        .describe_listeners(REGION, &listeners_of(LB))
        .await
        .unwrap();
    assert_eq!(
        cloud.fault_remaining(ids["ids"][0].as_u64().unwrap()).await,
        0
    );

    let no_retry = cloud.builder().retry(RetryConfig::none()).build().unwrap();
    cloud
        .admin_post(
            "faults",
            json!({"action": "DescribeQuota", "drop": true, "rate": 1.0, "count": 1}),
        )
        .await;
    let err = no_retry
        .describe_quota(REGION, &clb::DescribeQuotaRequest {})
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Transport { .. }), "{err:?}");
    assert_eq!(err.kind(), ErrorKind::Transient);
}

#[tokio::test]
async fn api_errors_are_classified() {
    let cloud = Cloud::start().await;
    let client = cloud.client();

    let err = client
        .describe_listeners(REGION, &listeners_of("lb-nothere"))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound, "{err:?}");

    create_listeners(&client, LB, &[35001]).await;
    let err = client
        .create_listener(REGION, &tcp_listeners(LB, &[35001]))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput, "{err:?}");

    cloud
        .admin_post("settings", json!({"listener_quota": 2}))
        .await;
    let err = client
        .create_listener(REGION, &tcp_listeners(LB, &[35002, 35003]))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::QuotaOrLimit, "{err:?}");

    let err = client
        .delete_listener(
            REGION,
            &clb::DeleteListenerRequest {
                load_balancer_id: LB.into(),
                listener_id: "lbl-nothere".into(),
            },
        )
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound, "{err:?}");

    let wrong_key = cloud
        .builder()
        .credentials(CredentialsProvider::fixed(Credentials::new(
            "AKIDEMULATOR",
            "not-the-key",
        )))
        .build()
        .unwrap();
    let err = wrong_key
        .describe_quota(REGION, &clb::DescribeQuotaRequest {})
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("AuthFailure.SignatureFailure"));
    assert_eq!(err.kind(), ErrorKind::Auth);

    let unknown_id = cloud
        .builder()
        .credentials(CredentialsProvider::fixed(Credentials::new(
            "AKIDunknown",
            "emulator-secret-key",
        )))
        .build()
        .unwrap();
    let err = unknown_id
        .describe_quota(REGION, &clb::DescribeQuotaRequest {})
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("AuthFailure.SecretIdNotFound"));
    assert_eq!(err.kind(), ErrorKind::Auth);
}

#[tokio::test]
async fn get_requests_are_accepted() {
    let cloud = Cloud::start().await;
    let client = cloud
        .builder()
        .request_method(RequestMethod::Get)
        .build()
        .unwrap();
    let lbs = client
        .describe_load_balancers(
            REGION,
            &clb::DescribeLoadBalancersRequest {
                load_balancer_ids: Some(vec![LB.into()]),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(lbs.load_balancer_set.len(), 1);
}

fn dnat_rule(
    public_port: i64,
    private_ip: &str,
    private_port: i64,
) -> vpc::DestinationIpPortTranslationNatRule {
    vpc::DestinationIpPortTranslationNatRule {
        ip_protocol: "TCP".into(),
        public_ip_address: NAT_EIP.into(),
        public_port,
        private_ip_address: private_ip.into(),
        private_port,
        description: Some("dac test".into()),
    }
}

#[tokio::test]
async fn nat_gateway_dnat_rule_lifecycle() {
    let cloud = Cloud::start().await;
    let client = cloud.client();

    let gateways = client
        .describe_nat_gateways(
            REGION,
            &vpc::DescribeNatGatewaysRequest {
                nat_gateway_ids: Some(vec![NAT.into()]),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let gateway = &gateways.nat_gateway_set[0];
    assert_eq!(gateway.state.as_deref(), Some("AVAILABLE"));
    assert_eq!(gateway.vpc_id.as_deref(), Some(VPC));
    let mut eips: Vec<_> = gateway
        .public_ip_address_set
        .iter()
        .filter_map(|a| a.public_ip_address.clone())
        .collect();
    eips.sort();
    assert_eq!(eips, ["198.51.100.1", "198.51.100.2"]);

    let rule = dnat_rule(40001, "10.0.3.10", 7777);
    client
        .create_nat_gateway_destination_ip_port_translation_nat_rule(
            REGION,
            &vpc::CreateNatGatewayDestinationIpPortTranslationNatRuleRequest {
                nat_gateway_id: NAT.into(),
                destination_ip_port_translation_nat_rules: vec![rule.clone()],
            },
        )
        .await
        .unwrap();
    let err = client
        .create_nat_gateway_destination_ip_port_translation_nat_rule(
            REGION,
            &vpc::CreateNatGatewayDestinationIpPortTranslationNatRuleRequest {
                nat_gateway_id: NAT.into(),
                destination_ip_port_translation_nat_rules: vec![rule.clone()],
            },
        )
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput, "a duplicate: {err:?}");

    let describe = vpc::DescribeNatGatewayDestinationIpPortTranslationNatRulesRequest {
        nat_gateway_ids: Some(vec![NAT.into()]),
        ..Default::default()
    };
    let rules = client
        .describe_nat_gateway_destination_ip_port_translation_nat_rules(REGION, &describe)
        .await
        .unwrap();
    assert_eq!(rules.total_count, Some(1));
    let found = &rules.nat_gateway_destination_ip_port_translation_nat_rule_set[0];
    assert_eq!(found.public_port, Some(40001));
    assert_eq!(found.private_ip_address.as_deref(), Some("10.0.3.10"));
    assert_eq!(found.nat_gateway_id.as_deref(), Some(NAT));

    let moved = dnat_rule(40001, "10.0.3.11", 8888);
    client
        .modify_nat_gateway_destination_ip_port_translation_nat_rule(
            REGION,
            &vpc::ModifyNatGatewayDestinationIpPortTranslationNatRuleRequest {
                nat_gateway_id: NAT.into(),
                source_nat_rule: rule.clone(),
                destination_nat_rule: moved.clone(),
            },
        )
        .await
        .unwrap();
    let by_filter = client
        .describe_nat_gateway_destination_ip_port_translation_nat_rules(
            REGION,
            &vpc::DescribeNatGatewayDestinationIpPortTranslationNatRulesRequest {
                filters: Some(vec![
                    vpc::Filter::new("nat-gateway-id", [NAT]),
                    vpc::Filter::new("public-port", ["40001"]),
                ]),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let found = &by_filter.nat_gateway_destination_ip_port_translation_nat_rule_set[0];
    assert_eq!(found.private_ip_address.as_deref(), Some("10.0.3.11"));
    assert_eq!(found.private_port, Some(8888));

    client
        .delete_nat_gateway_destination_ip_port_translation_nat_rule(
            REGION,
            &vpc::DeleteNatGatewayDestinationIpPortTranslationNatRuleRequest {
                nat_gateway_id: NAT.into(),
                destination_ip_port_translation_nat_rules: vec![moved.clone()],
            },
        )
        .await
        .unwrap();
    let err = client
        .delete_nat_gateway_destination_ip_port_translation_nat_rule(
            REGION,
            &vpc::DeleteNatGatewayDestinationIpPortTranslationNatRuleRequest {
                nat_gateway_id: NAT.into(),
                destination_ip_port_translation_nat_rules: vec![moved],
            },
        )
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound, "deleting twice: {err:?}");
    let rules = client
        .describe_nat_gateway_destination_ip_port_translation_nat_rules(REGION, &describe)
        .await
        .unwrap();
    assert_eq!(rules.total_count, Some(0));
}

#[tokio::test]
async fn eip_lifecycle_with_task_results() {
    let cloud = Cloud::start().await;
    let client = cloud.client();

    let quota = client
        .describe_address_quota(REGION, &vpc::DescribeAddressQuotaRequest {})
        .await
        .unwrap();
    let total = quota
        .quota_set
        .iter()
        .find(|q| q.quota_id.as_deref() == Some("TOTAL_EIP_QUOTA"))
        .expect("TOTAL_EIP_QUOTA");
    assert_eq!(total.quota_limit, Some(20));

    let allocated = client
        .allocate_addresses(
            REGION,
            &vpc::AllocateAddressesRequest {
                address_count: Some(1),
                address_name: Some("dac-test".into()),
                tags: Some(vec![vpc::Tag {
                    key: "owner".into(),
                    value: "dac".into(),
                }]),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let [address_id] = allocated.address_set.clone().try_into().unwrap();
    let task = allocated.task_id.expect("a task id");
    client
        .wait_vpc_task(REGION, &task, deadline())
        .await
        .unwrap();

    let describe = |id: &str| vpc::DescribeAddressesRequest {
        address_ids: Some(vec![id.to_string()]),
        ..Default::default()
    };
    let found = client
        .describe_addresses(REGION, &describe(&address_id))
        .await
        .unwrap();
    let address = &found.address_set[0];
    assert_eq!(address.address_status.as_deref(), Some("UNBIND"));
    assert_eq!(address.address_name.as_deref(), Some("dac-test"));

    // The ENI that holds the Pod IP.
    let pod_ip = "10.0.4.20";
    let enis = client
        .describe_network_interfaces(
            REGION,
            &vpc::DescribeNetworkInterfacesRequest {
                filters: Some(vec![
                    vpc::Filter::new("address-ip", [pod_ip]),
                    vpc::Filter::new("ip-exact-match", ["true"]),
                ]),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(enis.total_count, Some(1));
    let eni = &enis.network_interface_set[0];
    let eni_id = eni.network_interface_id.clone().unwrap();
    assert!(
        eni.private_ip_address_set
            .iter()
            .any(|p| p.private_ip_address.as_deref() == Some(pod_ip))
    );

    let associated = client
        .associate_address(
            REGION,
            &vpc::AssociateAddressRequest {
                address_id: address_id.clone(),
                network_interface_id: Some(eni_id.clone()),
                private_ip_address: Some(pod_ip.into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    client
        .wait_vpc_task(REGION, &associated.task_id.unwrap(), deadline())
        .await
        .unwrap();
    let bound = client
        .describe_addresses(REGION, &describe(&address_id))
        .await
        .unwrap();
    let address = &bound.address_set[0];
    assert!(
        matches!(address.address_status.as_deref(), Some("BIND" | "BIND_ENI")),
        "{address:?}"
    );
    assert_eq!(address.private_address_ip.as_deref(), Some(pod_ip));
    assert_eq!(
        address.network_interface_id.as_deref(),
        Some(eni_id.as_str())
    );

    // Releasing a bound EIP is refused.
    let err = client
        .release_addresses(
            REGION,
            &vpc::ReleaseAddressesRequest {
                address_ids: vec![address_id.clone()],
            },
        )
        .await
        .unwrap_err();
    assert!(!err.is_retryable(), "{err:?}");

    let disassociated = client
        .disassociate_address(
            REGION,
            &vpc::DisassociateAddressRequest {
                address_id: address_id.clone(),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    client
        .wait_vpc_task(REGION, &disassociated.task_id.unwrap(), deadline())
        .await
        .unwrap();
    let released = client
        .release_addresses(
            REGION,
            &vpc::ReleaseAddressesRequest {
                address_ids: vec![address_id.clone()],
            },
        )
        .await
        .unwrap();
    client
        .wait_vpc_task(REGION, &released.task_id.unwrap(), deadline())
        .await
        .unwrap();
    let gone = client
        .describe_addresses(REGION, &describe(&address_id))
        .await;
    match gone {
        Ok(resp) => assert!(resp.address_set.is_empty(), "{resp:?}"),
        Err(e) => assert_eq!(e.kind(), ErrorKind::NotFound, "{e:?}"),
    }

    let direct = client
        .describe_task_result(
            REGION,
            &vpc::DescribeTaskResultRequest {
                task_id: Some(task.parse().unwrap()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(direct.result.as_deref(), Some("SUCCESS"));
}

#[tokio::test]
async fn admin_reset_restores_the_seeds() {
    let cloud = Cloud::start().await;
    let client = cloud.client();
    create_listeners(&client, LB, &[36001]).await;
    let state = cloud.admin_get("state").await;
    assert!(
        state.to_string().contains("36001"),
        "state shows the listener"
    );
    cloud.admin_post("reset", json!({})).await;
    let listeners = client
        .describe_listeners(REGION, &listeners_of(LB))
        .await
        .unwrap();
    assert!(listeners.listeners.is_empty());
}
