//! Operating the emulator: rate limits, faults, run-time settings, reset, the state file.
mod common;

use std::time::{Duration, Instant};

use common::{Client, Req, fast_config, start};
use reqwest::Method;
use serde_json::json;
use tencentcloud_emulator::FaultRule;

#[tokio::test]
async fn rate_limits_answer_request_limit_exceeded() {
    let emulator = start(fast_config()).await;
    let client = Client::new(&emulator);
    // AssociateAddress: 10 per second by default. A burst of 15 sees some throttled.
    let mut throttled = 0;
    for _ in 0..15 {
        let code = client
            .code(
                "AssociateAddress",
                json!({"AddressId": "eip-nothere", "InstanceId": "ins-1"}),
            )
            .await;
        match code.as_str() {
            "RequestLimitExceeded" => throttled += 1,
            other => assert_eq!(other, "InvalidAddressId.NotFound"),
        }
    }
    assert!(throttled >= 4, "{throttled} throttled");
    // Another SecretId has its own bucket.
    let mut config = fast_config();
    config.credentials.push(tencentcloud_emulator::Credential {
        secret_id: "AKIDOTHER".into(),
        secret_key: "other".into(),
    });
    let emulator = start(config).await;
    let client = Client::new(&emulator);
    client
        .admin(
            Method::POST,
            "rate-limits",
            Some(json!({"DescribeQuota": 2})),
        )
        .await;
    assert_eq!(client.code("DescribeQuota", json!({})).await, "");
    assert_eq!(client.code("DescribeQuota", json!({})).await, "");
    assert_eq!(
        client.code("DescribeQuota", json!({})).await,
        "RequestLimitExceeded"
    );
    let mut other = Req::new("DescribeQuota", json!({}));
    other.secret_id = "AKIDOTHER".into();
    other.secret_key = "other".into();
    assert_eq!(common::error_code(&client.response(&other).await), "");
    client
        .admin(
            Method::POST,
            "rate-limits",
            Some(json!({"DescribeQuota": null})),
        )
        .await;
    assert_eq!(client.code("DescribeQuota", json!({})).await, "");
}

#[tokio::test]
async fn faults_fail_delay_and_drop_requests() {
    let emulator = start(fast_config()).await;
    let client = Client::new(&emulator);
    let ids = client
        .admin(Method::POST, "faults", Some(json!({"action": "DescribeQuota", "code": "InternalError", "message": "boom", "count": 2})))
        .await;
    assert_eq!(ids["ids"], json!([1]));
    let r = client.response(&Req::new("DescribeQuota", json!({}))).await;
    assert_eq!(r["Error"]["Message"], "boom");
    assert_eq!(
        client.code("DescribeQuota", json!({})).await,
        "InternalError"
    );
    assert_eq!(
        client.code("DescribeQuota", json!({})).await,
        "",
        "the rule was used up"
    );
    assert_eq!(
        client.admin(Method::GET, "faults", None).await["faults"],
        json!([])
    );

    emulator
        .add_fault(FaultRule {
            action: "DescribeAddresses".into(),
            count: Some(1),
            latency_ms: 300,
            ..FaultRule::default()
        })
        .unwrap();
    let started = Instant::now();
    assert_eq!(client.code("DescribeAddresses", json!({})).await, "");
    assert!(started.elapsed() >= Duration::from_millis(300));

    client
        .admin(
            Method::POST,
            "faults",
            Some(json!([{"action": "*", "drop": true, "count": 1}])),
        )
        .await;
    let dropped = client.send(&Req::new("DescribeQuota", json!({}))).await;
    let failed = match dropped {
        Err(_) => true,
        Ok(resp) => resp.bytes().await.is_err(),
    };
    assert!(failed, "the connection should drop");
    assert_eq!(client.code("DescribeQuota", json!({})).await, "");

    client
        .admin(
            Method::POST,
            "faults",
            Some(json!({"action": "CreateListener", "code": "RequestLimitExceeded", "rate": 0.0})),
        )
        .await;
    let listed = client.admin(Method::GET, "faults", None).await;
    let id = listed["faults"][0]["id"].as_u64().unwrap();
    client
        .admin(Method::DELETE, &format!("faults/{id}"), None)
        .await;
    client.admin(Method::DELETE, "faults", None).await;
    let bad = client
        .http
        .post(client.url("/_emulator/faults"))
        .json(&json!({"action": "X", "rate": 2.0, "code": "X"}))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
}

#[tokio::test]
async fn failed_tasks_report_failure_and_change_nothing() {
    let mut config = fast_config();
    config.settings.task_latency_ms = 1000;
    let emulator = start(config).await;
    let client = Client::new(&emulator);
    client
        .admin(
            Method::POST,
            "faults",
            Some(
                json!([{"action": "CreateListener", "failTask": true, "count": 1},
            {"action": "AllocateAddresses", "failTask": true, "count": 1}]),
            ),
        )
        .await;
    let r = client
        .ok(
            "CreateListener",
            json!({"LoadBalancerId": "lb-demo0001", "Ports": [1234], "Protocol": "TCP"}),
        )
        .await;
    let busy = json!({"LoadBalancerId": "lb-demo0001", "Ports": [1235], "Protocol": "TCP"});
    assert_eq!(
        client.code("CreateListener", busy).await,
        "FailedOperation.ResourceInOperating"
    );
    assert_eq!(
        client.wait_clb_task(r["RequestId"].as_str().unwrap()).await,
        1
    );
    let listeners = client
        .ok(
            "DescribeListeners",
            json!({"LoadBalancerId": "lb-demo0001"}),
        )
        .await;
    assert_eq!(listeners["TotalCount"], 0);

    let r = client
        .ok("AllocateAddresses", json!({"AddressCount": 1}))
        .await;
    assert_eq!(
        client.wait_eip_task(r["TaskId"].as_str().unwrap()).await,
        "FAILED"
    );
    assert_eq!(
        client.ok("DescribeAddresses", json!({})).await["TotalCount"],
        2
    );
}

#[tokio::test]
async fn settings_change_at_run_time_and_reset_restores_the_seeds() {
    let emulator = start(fast_config()).await;
    let client = Client::new(&emulator);
    let settings = client
        .admin(
            Method::POST,
            "settings",
            Some(json!({"listener_quota": 1, "task_latency_ms": 50})),
        )
        .await;
    assert_eq!(settings["listener_quota"], 1);
    assert_eq!(settings["eip_quota"], 20);
    let create =
        |port: u16| json!({"LoadBalancerId": "lb-demo0002", "Ports": [port], "Protocol": "TCP"});
    client.ok("CreateListener", create(1)).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(
        client.code("CreateListener", create(2)).await,
        "LimitExceeded"
    );
    let state = client.admin(Method::GET, "state", None).await;
    let region = &state["Regions"]["ap-guangzhou"];
    assert_eq!(
        region["LoadBalancers"]["lb-demo0002"]["Listeners"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        region["NatGateways"]["nat-demo0001"]["AddressIds"]
            .as_array()
            .unwrap()
            .len(),
        2
    );

    client.admin(Method::POST, "reset", None).await;
    let state = emulator.state_json();
    assert_eq!(
        state["Regions"]["ap-guangzhou"]["LoadBalancers"]["lb-demo0002"]["Listeners"],
        json!([])
    );
    assert_eq!(
        client.admin(Method::GET, "settings", None).await["listener_quota"],
        50
    );
    let bad = client
        .http
        .post(client.url("/_emulator/settings"))
        .json(&json!({"no_such_knob": 1}))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
}

#[tokio::test]
async fn the_state_file_survives_a_restart() {
    let path = std::env::temp_dir().join(format!("emulator-state-{}.json", uuid::Uuid::new_v4()));
    let mut config = fast_config();
    config.state_file = Some(path.clone());
    let emulator = start(config.clone()).await;
    let client = Client::new(&emulator);
    let r = client
        .ok(
            "CreateListener",
            json!({"LoadBalancerId": "lb-demo0001", "Ports": [4000], "Protocol": "UDP"}),
        )
        .await;
    let listener = r["ListenerIds"][0].clone();
    let r = client
        .ok("AllocateAddresses", json!({"AddressCount": 1}))
        .await;
    let eip = r["AddressSet"][0].clone();
    let eip_task = r["TaskId"].as_str().unwrap().to_string();
    client
        .ok("CreateNatGatewayDestinationIpPortTranslationNatRule", json!({"NatGatewayId": "nat-demo0001",
            "DestinationIpPortTranslationNatRules": [{"IpProtocol": "UDP", "PublicIpAddress": "198.51.100.2",
            "PublicPort": 4000, "PrivateIpAddress": "10.0.0.4", "PrivatePort": 4000}]}))
        .await;
    // The debounced save happens on its own...
    let saved = |text: &str| text.contains(listener.as_str().unwrap()) && text.contains("4000");
    let mut waited = 0;
    while !std::fs::read_to_string(&path).is_ok_and(|t| saved(&t)) {
        assert!(waited < 5000, "the state file was not written");
        tokio::time::sleep(Duration::from_millis(50)).await;
        waited += 50;
    }
    emulator.shutdown().await;

    // ...and a new emulator on the same file starts from it.
    let emulator = start(config).await;
    let client = Client::new(&emulator);
    let listeners = client
        .ok(
            "DescribeListeners",
            json!({"LoadBalancerId": "lb-demo0001"}),
        )
        .await;
    assert_eq!(listeners["Listeners"][0]["ListenerId"], listener);
    // Tasks live on in the file too.
    assert_eq!(client.wait_eip_task(&eip_task).await, "SUCCESS");
    let addresses = client
        .ok("DescribeAddresses", json!({"AddressIds": [eip]}))
        .await;
    assert_eq!(addresses["AddressSet"][0]["AddressStatus"], "UNBIND");
    let rules = client
        .ok(
            "DescribeNatGatewayDestinationIpPortTranslationNatRules",
            json!({}),
        )
        .await;
    assert_eq!(rules["TotalCount"], 1);
    emulator.shutdown().await;
    std::fs::remove_file(&path).ok();
}
