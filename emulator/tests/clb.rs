//! CLB: listeners, quota, port conflicts, the instance lock, tasks and targets.
mod common;

use common::{Client, Req, fast_config, slow_config, start};
use serde_json::{Value, json};

const LB: &str = "lb-demo0001";

async fn create_listeners(client: &Client, ports: &[i64], protocol: &str) -> Vec<String> {
    let r = client
        .ok(
            "CreateListener",
            json!({"LoadBalancerId": LB, "Ports": ports, "Protocol": protocol}),
        )
        .await;
    assert_eq!(
        client.wait_clb_task(r["RequestId"].as_str().unwrap()).await,
        0
    );
    r["ListenerIds"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn tasks_lock_the_instance_until_they_finish() {
    let emulator = start(slow_config()).await;
    let client = Client::new(&emulator);
    let r = client
        .ok("CreateListener", json!({"LoadBalancerId": LB, "Ports": [7000], "Protocol": "TCP", "ListenerNames": ["game"]}))
        .await;
    let task = r["RequestId"].as_str().unwrap().to_string();
    let status = client
        .ok("DescribeTaskStatus", json!({"TaskId": task}))
        .await;
    assert_eq!(status["Status"], 2);
    assert_eq!(status["LoadBalancerIds"], json!([LB]));
    // Writes to the same instance wait; other instances and reads do not.
    let busy = json!({"LoadBalancerId": LB, "Ports": [7001], "Protocol": "TCP"});
    assert_eq!(
        client.code("CreateListener", busy.clone()).await,
        "FailedOperation.ResourceInOperating"
    );
    client
        .ok(
            "CreateListener",
            json!({"LoadBalancerId": "lb-demo0002", "Ports": [7001], "Protocol": "TCP"}),
        )
        .await;
    let listeners = client
        .ok("DescribeListeners", json!({"LoadBalancerId": LB}))
        .await;
    assert_eq!(listeners["TotalCount"], 1);
    assert_eq!(listeners["Listeners"][0]["ListenerName"], "game");
    assert_eq!(client.wait_clb_task(&task).await, 0);
    client.ok("CreateListener", busy).await;
}

#[tokio::test]
async fn listener_quota_and_port_conflicts() {
    let emulator = start(fast_config()).await;
    let client = Client::new(&emulator);
    // 50 ports in one call are refused, as the cloud does ("should be less than 50").
    let fifty: Vec<i64> = (10000..10050).collect();
    let params = json!({"LoadBalancerId": LB, "Ports": fifty, "Protocol": "TCP"});
    let refused = client.response(&Req::new("CreateListener", params)).await;
    assert_eq!(refused["Error"]["Code"], "InvalidParameter");
    assert_eq!(
        refused["Error"]["Message"],
        "Length of .Ports should be less than 50"
    );
    create_listeners(&client, &fifty[..49], "TCP").await;
    create_listeners(&client, &fifty[49..], "TCP").await;
    let quota = client.ok("DescribeQuota", json!({})).await;
    let listener_quota = quota["QuotaSet"]
        .as_array()
        .unwrap()
        .iter()
        .find(|q| q["QuotaId"] == "TOTAL_LISTENER_QUOTA")
        .unwrap()
        .clone();
    assert_eq!(listener_quota["QuotaLimit"], 50);
    assert_eq!(
        client
            .code(
                "CreateListener",
                json!({"LoadBalancerId": LB, "Ports": [11000], "Protocol": "UDP"})
            )
            .await,
        "LimitExceeded"
    );
    // The same port in the same family conflicts; TCP and UDP may share a number.
    let other = "lb-demo0002";
    let r = client
        .ok(
            "CreateListener",
            json!({"LoadBalancerId": other, "Ports": [8080], "Protocol": "TCP"}),
        )
        .await;
    client.wait_clb_task(r["RequestId"].as_str().unwrap()).await;
    for (port, protocol) in [(8080, "TCP"), (8080, "HTTP")] {
        let params = json!({"LoadBalancerId": other, "Ports": [port], "Protocol": protocol});
        assert_eq!(
            client.code("CreateListener", params).await,
            "InvalidParameter.PortCheckFailed"
        );
    }
    let twice = json!({"LoadBalancerId": other, "Ports": [9000, 9000], "Protocol": "TCP"});
    assert_eq!(
        client.code("CreateListener", twice).await,
        "InvalidParameter.PortCheckFailed"
    );
    let r = client
        .ok(
            "CreateListener",
            json!({"LoadBalancerId": other, "Ports": [8080], "Protocol": "UDP"}),
        )
        .await;
    client.wait_clb_task(r["RequestId"].as_str().unwrap()).await;
    // A port range covers every port in it.
    let r = client
        .ok(
            "CreateListener",
            json!({"LoadBalancerId": other, "Ports": [20000], "EndPort": 20100, "Protocol": "TCP"}),
        )
        .await;
    client.wait_clb_task(r["RequestId"].as_str().unwrap()).await;
    let inside = json!({"LoadBalancerId": other, "Ports": [20050], "Protocol": "TCP"});
    assert_eq!(
        client.code("CreateListener", inside).await,
        "InvalidParameter.PortCheckFailed"
    );
}

#[tokio::test]
async fn targets_register_describe_and_deregister() {
    let emulator = start(fast_config()).await;
    let client = Client::new(&emulator);
    let ids = create_listeners(&client, &[5000, 5001], "UDP").await;
    let targets = json!([{"EniIp": "10.0.3.4", "Port": 7777}, {"InstanceId": "ins-abcdefgh", "Port": 7778, "Weight": 50}]);
    let r = client
        .ok(
            "RegisterTargets",
            json!({"LoadBalancerId": LB, "ListenerId": ids[0], "Targets": targets}),
        )
        .await;
    assert_eq!(
        client.wait_clb_task(r["RequestId"].as_str().unwrap()).await,
        0
    );
    let described = client
        .ok(
            "DescribeTargets",
            json!({"LoadBalancerId": LB, "ListenerIds": [ids[0]]}),
        )
        .await;
    let backends = described["Listeners"][0]["Targets"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(backends.len(), 2);
    // Shaped like the official examples: an ENI target is the CVM holding the ENI, with both
    // InstanceId and EniId; a CVM target has no EniId and a lower-case Type.
    let ip = "10.0.3.4".parse().unwrap();
    assert_eq!(backends[0]["Type"], "CVM");
    assert_eq!(backends[0]["PrivateIpAddresses"], json!(["10.0.3.4"]));
    assert_eq!(backends[0]["Weight"], 10);
    assert_eq!(backends[0]["EniId"], tencentcloud_emulator::eni_id_for(ip));
    assert_eq!(
        backends[0]["InstanceId"],
        tencentcloud_emulator::instance_id_for(ip)
    );
    assert_eq!(backends[1]["Type"], "cvm");
    assert_eq!(backends[1]["EniId"], "");
    assert_eq!(backends[1]["InstanceId"], "ins-abcdefgh");

    let bad = [
        (json!([{"Port": 1}]), "InvalidParameter"),
        (
            json!([{"Port": 1, "EniIp": "10.0.0.1", "InstanceId": "ins-1"}]),
            "InvalidParameter",
        ),
        (
            json!([{"Port": 1, "EniIp": "172.16.0.1"}]),
            "InvalidParameterValue",
        ),
        (
            json!([{"Port": 1, "EniIp": "10.0.0.1", "Weight": 101}]),
            "InvalidParameterValue.Range",
        ),
        (
            json!([{"Port": 7777, "EniIp": "10.0.3.4"}]),
            "InvalidParameter",
        ),
        (
            json!([{"Port": 1, "EniIp": "10.0.0.1"}, {"Port": 1, "EniIp": "10.0.0.1"}]),
            "InvalidParameterValue.Duplicate",
        ),
    ];
    for (targets, code) in bad {
        let params = json!({"LoadBalancerId": LB, "ListenerId": ids[0], "Targets": targets});
        assert_eq!(
            client.code("RegisterTargets", params).await,
            code,
            "{targets}"
        );
    }
    let too_many: Vec<Value> = (0..21)
        .map(|i| json!({"EniIp": format!("10.0.0.{i}"), "Port": 80}))
        .collect();
    let params = json!({"LoadBalancerId": LB, "ListenerId": ids[1], "Targets": too_many});
    assert_eq!(
        client.code("RegisterTargets", params).await,
        "InvalidParameterValue.Length"
    );

    let gone = json!({"LoadBalancerId": LB, "ListenerId": ids[0], "Targets": [{"EniIp": "10.0.3.4", "Port": 7777}]});
    let r = client.ok("DeregisterTargets", gone.clone()).await;
    client.wait_clb_task(r["RequestId"].as_str().unwrap()).await;
    assert_eq!(
        client.code("DeregisterTargets", gone).await,
        "InvalidParameter"
    );
    let filtered = client
        .ok("DescribeTargets", json!({"LoadBalancerId": LB, "Filters": [{"Name": "instance-id", "Values": ["ins-abcdefgh"]}]}))
        .await;
    assert_eq!(
        filtered["Listeners"][0]["Targets"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
}

#[tokio::test]
async fn batch_register_answers_at_once_and_locks_for_a_while() {
    let mut config = fast_config();
    config.settings.batch_lock_ms = 1500;
    let emulator = start(config).await;
    let client = Client::new(&emulator);
    let ids = create_listeners(&client, &[6000, 6001, 6002], "TCP").await;
    let mut targets: Vec<Value> = ids
        .iter()
        .enumerate()
        .map(|(i, id)| json!({"ListenerId": id, "EniIp": format!("10.0.0.{}", i + 10), "Port": 80}))
        .collect();
    targets.push(json!({"ListenerId": "lbl-missing", "EniIp": "10.0.0.99", "Port": 80}));
    let r = client
        .ok(
            "BatchRegisterTargets",
            json!({"LoadBalancerId": LB, "Targets": targets}),
        )
        .await;
    assert_eq!(r["FailListenerIdSet"], json!(["lbl-missing"]));
    let next = json!({"LoadBalancerId": LB, "ListenerId": ids[0]});
    assert_eq!(
        client.code("DeleteListener", next.clone()).await,
        "FailedOperation.ResourceInOperating"
    );
    let described = client
        .ok("DescribeTargets", json!({"LoadBalancerId": LB}))
        .await;
    for listener in described["Listeners"].as_array().unwrap() {
        assert_eq!(
            listener["Targets"].as_array().unwrap().len(),
            1,
            "{listener}"
        );
    }
    let r = client
        .ok_unlocked("BatchDeregisterTargets", json!({"LoadBalancerId": LB, "Targets": [{"ListenerId": ids[0], "EniIp": "10.0.0.10", "Port": 80}]}))
        .await;
    assert_eq!(r["FailListenerIdSet"], json!([]));
    let r = client.ok_unlocked("DeleteListener", next).await;
    client.wait_clb_task(r["RequestId"].as_str().unwrap()).await;
    let r = client
        .ok("DeleteLoadBalancerListeners", json!({"LoadBalancerId": LB}))
        .await;
    client.wait_clb_task(r["RequestId"].as_str().unwrap()).await;
    let left = client
        .ok("DescribeListeners", json!({"LoadBalancerId": LB}))
        .await;
    assert_eq!(left["TotalCount"], 0);
}

#[tokio::test]
async fn load_balancers_are_created_described_and_deleted() {
    let emulator = start(slow_config()).await;
    let client = Client::new(&emulator);
    let r = client
        .ok("CreateLoadBalancer", json!({"LoadBalancerType": "INTERNAL", "VpcId": "vpc-demo0001", "Number": 2, "Tags": [{"TagKey": "team", "TagValue": "a"}]}))
        .await;
    let ids = r["LoadBalancerIds"].as_array().unwrap().clone();
    assert_eq!(ids.len(), 2);
    let by_deal = client
        .ok("DescribeTaskStatus", json!({"DealName": r["DealName"]}))
        .await;
    assert_eq!(by_deal["Status"], 2);
    let described = client
        .ok(
            "DescribeLoadBalancers",
            json!({"Filters": [{"Name": "tag:team", "Values": ["a"]}]}),
        )
        .await;
    assert_eq!(described["TotalCount"], 2);
    let lb = &described["LoadBalancerSet"][0];
    assert_eq!(lb["Status"], 0);
    let vip = lb["LoadBalancerVips"][0].as_str().unwrap();
    assert!(
        vip.starts_with("10."),
        "internal VIPs come from the VPC: {vip}"
    );
    let all = client
        .ok(
            "DescribeLoadBalancers",
            json!({"LoadBalancerIds": ["lb-demo0001"]}),
        )
        .await;
    assert_eq!(
        all["LoadBalancerSet"][0]["LoadBalancerVips"],
        json!(["203.0.113.1"])
    );
    client.wait_clb_task(r["RequestId"].as_str().unwrap()).await;
    let r = client
        .ok("DeleteLoadBalancer", json!({"LoadBalancerIds": ids}))
        .await;
    client.wait_clb_task(r["RequestId"].as_str().unwrap()).await;
    // The four seeded instances are left.
    assert_eq!(
        client.ok("DescribeLoadBalancers", json!({})).await["TotalCount"],
        4
    );
}
