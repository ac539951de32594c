//! VPC: NAT gateways and DNAT rules, EIPs with quotas and tasks, ENIs.
mod common;

use common::{Client, fast_config, start};
use serde_json::{Value, json};

const NAT: &str = "nat-demo0001";

fn rule(public_port: u64, private_ip: &str) -> Value {
    json!({"IpProtocol": "TCP", "PublicIpAddress": "198.51.100.1", "PublicPort": public_port,
        "PrivateIpAddress": private_ip, "PrivatePort": 80, "Description": "dac:test"})
}

fn rules(list: Vec<Value>) -> Value {
    json!({"NatGatewayId": NAT, "DestinationIpPortTranslationNatRules": list})
}

#[tokio::test]
async fn dnat_rules_are_checked_created_described_modified_and_deleted() {
    let mut config = fast_config();
    config.settings.dnat_rule_limit = 3;
    let emulator = start(config).await;
    let client = Client::new(&emulator);
    const CREATE: &str = "CreateNatGatewayDestinationIpPortTranslationNatRule";
    const DESCRIBE: &str = "DescribeNatGatewayDestinationIpPortTranslationNatRules";
    client
        .ok(
            CREATE,
            rules(vec![rule(3000, "10.0.0.5"), rule(3001, "10.0.0.6")]),
        )
        .await;

    let cases = [
        (
            rules(vec![rule(3000, "10.0.0.7")]),
            "InvalidParameterValue.NatGatewayDnatRuleExisted",
        ),
        (
            rules(vec![rule(3002, "10.0.0.7"), rule(3002, "10.0.0.8")]),
            "InvalidParameterValue.NatGatewayDnatRuleRepeated",
        ),
        (
            rules(vec![rule(3002, "192.168.1.1")]),
            "InvalidParameterValue.NatGatewayDnatRulePipNeedVm",
        ),
        (
            rules(vec![
                json!({"IpProtocol": "TCP", "PublicIpAddress": "198.51.100.99", "PublicPort": 1, "PrivateIpAddress": "10.0.0.1", "PrivatePort": 1}),
            ]),
            "UnsupportedOperation.NatGatewayEipNotExists",
        ),
        (
            rules(vec![rule(0, "10.0.0.7")]),
            "InvalidParameterValue.Range",
        ),
        (
            rules(vec![rule(3002, "10.0.0.7"), rule(3003, "10.0.0.8")]),
            "LimitExceeded.NatGatewayDnatLimitExceeded",
        ),
        (
            json!({"NatGatewayId": "nat-nothere", "DestinationIpPortTranslationNatRules": [rule(1, "10.0.0.1")]}),
            "ResourceNotFound",
        ),
        (json!({"NatGatewayId": NAT}), "MissingParameter"),
    ];
    for (params, code) in cases {
        assert_eq!(client.code(CREATE, params.clone()).await, code, "{params}");
    }
    // UDP on the same EIP and port is a different rule.
    let mut udp = rule(3000, "10.0.0.5");
    udp["IpProtocol"] = json!("UDP");
    client.ok(CREATE, rules(vec![udp])).await;

    let by_port = client
        .ok(
            DESCRIBE,
            json!({"Filters": [{"Name": "public-port", "Values": ["3001"]}]}),
        )
        .await;
    assert_eq!(by_port["TotalCount"], 1);
    let found = &by_port["NatGatewayDestinationIpPortTranslationNatRuleSet"][0];
    assert_eq!(found["PrivateIpAddress"], "10.0.0.6");
    assert_eq!(found["NatGatewayId"], NAT);
    assert_eq!(found["VpcId"], "vpc-demo0001");
    assert_eq!(found["Description"], "dac:test");
    let all = client
        .ok(DESCRIBE, json!({"NatGatewayIds": [NAT], "Limit": 2}))
        .await;
    assert_eq!(all["TotalCount"], 3);
    assert_eq!(
        all["NatGatewayDestinationIpPortTranslationNatRuleSet"]
            .as_array()
            .unwrap()
            .len(),
        2
    );

    // A Pod that comes back with a new IP keeps its public side.
    client
        .ok(
            "ModifyNatGatewayDestinationIpPortTranslationNatRule",
            json!({"NatGatewayId": NAT,
            "SourceNatRule": rule(3001, "10.0.0.6"), "DestinationNatRule": rule(3001, "10.0.0.9")}),
        )
        .await;
    let moved = client
        .ok(
            DESCRIBE,
            json!({"Filters": [{"Name": "private-ip-address", "Values": ["10.0.0.9"]}]}),
        )
        .await;
    assert_eq!(moved["TotalCount"], 1);

    const DELETE: &str = "DeleteNatGatewayDestinationIpPortTranslationNatRule";
    assert_eq!(
        client
            .code(DELETE, rules(vec![rule(3001, "10.0.0.6")]))
            .await,
        "InvalidParameterValue.NatGatewayDnatRuleNotExists"
    );
    client.ok(DELETE, rules(vec![rule(3001, "10.0.0.9")])).await;
    let gateways = client
        .ok("DescribeNatGateways", json!({"NatGatewayIds": [NAT]}))
        .await;
    let gw = &gateways["NatGatewaySet"][0];
    assert_eq!(gw["State"], "AVAILABLE");
    assert_eq!(gw["PublicIpAddressSet"].as_array().unwrap().len(), 2);
    assert_eq!(
        gw["DestinationIpPortTranslationNatRuleSet"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
}

async fn allocate(client: &Client, count: u64) -> (Vec<String>, String) {
    let r = client
        .ok("AllocateAddresses", json!({"AddressCount": count}))
        .await;
    let ids = r["AddressSet"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect();
    (ids, r["TaskId"].as_str().unwrap().to_string())
}

#[tokio::test]
async fn eips_allocate_associate_to_an_eni_and_release() {
    let emulator = start(fast_config()).await;
    let client = Client::new(&emulator);
    let (ids, task) = allocate(&client, 1).await;
    let eip = ids[0].clone();
    let described = client
        .ok("DescribeAddresses", json!({"AddressIds": [eip]}))
        .await;
    assert_eq!(described["AddressSet"][0]["AddressStatus"], "CREATING");
    let ip = described["AddressSet"][0]["AddressIp"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        ip.starts_with("198.51.100.") || ip.starts_with("192.0.2."),
        "{ip}"
    );
    assert_eq!(
        client
            .code(
                "AssociateAddress",
                json!({"AddressId": eip, "InstanceId": "ins-1"})
            )
            .await,
        "OperationDenied.MutexTaskRunning"
    );
    assert_eq!(client.wait_eip_task(&task).await, "SUCCESS");

    let enis = client
        .ok("DescribeNetworkInterfaces", json!({"Filters": [
            {"Name": "address-ip", "Values": ["10.2.0.8"]}, {"Name": "ip-exact-match", "Values": ["true"]}]}))
        .await;
    let eni = enis["NetworkInterfaceSet"][0]["NetworkInterfaceId"]
        .as_str()
        .unwrap()
        .to_string();
    let wrong_ip =
        json!({"AddressId": eip, "NetworkInterfaceId": eni, "PrivateIpAddress": "10.2.0.9"});
    assert_eq!(
        client.code("AssociateAddress", wrong_ip).await,
        "InvalidNetworkInterfaceId.NotFound"
    );
    let bind = json!({"AddressId": eip, "NetworkInterfaceId": eni, "PrivateIpAddress": "10.2.0.8"});
    let r = client.ok("AssociateAddress", bind.clone()).await;
    assert_eq!(
        client.wait_eip_task(r["TaskId"].as_str().unwrap()).await,
        "SUCCESS"
    );
    let bound = client
        .ok(
            "DescribeAddresses",
            json!({"Filters": [{"Name": "private-ip-address", "Values": ["10.2.0.8"]}]}),
        )
        .await;
    assert_eq!(bound["TotalCount"], 1);
    let address = &bound["AddressSet"][0];
    assert_eq!(address["AddressStatus"], "BIND");
    assert_eq!(address["NetworkInterfaceId"], eni);
    let enis = client
        .ok(
            "DescribeNetworkInterfaces",
            json!({"NetworkInterfaceIds": [eni]}),
        )
        .await;
    assert_eq!(
        enis["NetworkInterfaceSet"][0]["PrivateIpAddressSet"][0]["PublicIpAddress"],
        ip
    );

    // A second EIP for the same private IP is refused; a bound EIP cannot be released.
    let (others, task) = allocate(&client, 1).await;
    client.wait_eip_task(&task).await;
    let again =
        json!({"AddressId": others[0], "NetworkInterfaceId": eni, "PrivateIpAddress": "10.2.0.8"});
    assert_eq!(
        client.code("AssociateAddress", again).await,
        "InvalidPrivateIpAddress.AlreadyBindEip"
    );
    assert_eq!(
        client
            .code("ReleaseAddresses", json!({"AddressIds": [eip]}))
            .await,
        "InvalidAddressIdStatus.NotPermit"
    );
    // NAT gateway EIPs are not ours to detach.
    assert_eq!(
        client
            .code("DisassociateAddress", json!({"AddressId": "eip-demo0001"}))
            .await,
        "UnsupportedOperation.IncorrectAddressResourceType"
    );

    let r = client
        .ok("DisassociateAddress", json!({"AddressId": eip}))
        .await;
    assert_eq!(
        client.wait_eip_task(r["TaskId"].as_str().unwrap()).await,
        "SUCCESS"
    );
    let r = client
        .ok("ReleaseAddresses", json!({"AddressIds": [eip, others[0]]}))
        .await;
    assert_eq!(
        client.wait_eip_task(r["TaskId"].as_str().unwrap()).await,
        "SUCCESS"
    );
    let left = client.ok("DescribeAddresses", json!({})).await;
    assert_eq!(
        left["TotalCount"], 2,
        "only the NAT gateway's EIPs remain: {left}"
    );
    assert_eq!(
        client
            .code("DisassociateAddress", json!({"AddressId": eip}))
            .await,
        "InvalidAddressId.NotFound"
    );
}

#[tokio::test]
async fn eip_quota_and_daily_limit() {
    let mut config = fast_config();
    config.settings.eip_quota = 5;
    let emulator = start(config).await;
    let client = Client::new(&emulator);
    let quota = |r: &Value, id: &str| {
        r["QuotaSet"]
            .as_array()
            .unwrap()
            .iter()
            .find(|q| q["QuotaId"] == id)
            .unwrap()
            .clone()
    };
    let r = client.ok("DescribeAddressQuota", json!({})).await;
    assert_eq!(
        quota(&r, "TOTAL_EIP_QUOTA")["QuotaCurrent"],
        2,
        "the NAT gateway's two EIPs count"
    );
    assert_eq!(quota(&r, "DAILY_EIP_APPLY")["QuotaLimit"], 10);

    let (ids, task) = allocate(&client, 3).await;
    assert_eq!(
        client.code("AllocateAddresses", json!({})).await,
        "AddressQuotaLimitExceeded"
    );
    client.wait_eip_task(&task).await;
    // Churn: release and allocate until the daily limit (2 x quota) stops it.
    let r = client
        .ok("ReleaseAddresses", json!({"AddressIds": ids}))
        .await;
    client.wait_eip_task(r["TaskId"].as_str().unwrap()).await;
    let (ids, task) = allocate(&client, 3).await;
    client.wait_eip_task(&task).await;
    let r = client
        .ok("ReleaseAddresses", json!({"AddressIds": ids}))
        .await;
    client.wait_eip_task(r["TaskId"].as_str().unwrap()).await;
    let (_, task) = allocate(&client, 3).await;
    client.wait_eip_task(&task).await;
    let r = client.ok("DescribeAddressQuota", json!({})).await;
    assert_eq!(quota(&r, "DAILY_EIP_APPLY")["QuotaCurrent"], 9);
    let r = client
        .ok(
            "DescribeAddresses",
            json!({"Filters": [{"Name": "address-status", "Values": ["UNBIND"]}]}),
        )
        .await;
    let spare = r["AddressSet"][0]["AddressId"]
        .as_str()
        .unwrap()
        .to_string();
    let r = client
        .ok("ReleaseAddresses", json!({"AddressIds": [spare]}))
        .await;
    client.wait_eip_task(r["TaskId"].as_str().unwrap()).await;
    client
        .ok("AllocateAddresses", json!({"AddressCount": 1}))
        .await;
    assert_eq!(
        client
            .code("AllocateAddresses", json!({"AddressCount": 1}))
            .await,
        "AddressQuotaLimitExceeded"
    );
    let r = client
        .ok(
            "DescribeAddresses",
            json!({"Filters": [{"Name": "address-status", "Values": ["UNBIND"]}]}),
        )
        .await;
    let spare = r["AddressSet"][0]["AddressId"]
        .as_str()
        .unwrap()
        .to_string();
    let r = client
        .ok("ReleaseAddresses", json!({"AddressIds": [spare]}))
        .await;
    client.wait_eip_task(r["TaskId"].as_str().unwrap()).await;
    assert_eq!(
        client
            .code("AllocateAddresses", json!({"AddressCount": 1}))
            .await,
        "AddressQuotaLimitExceeded.DailyAllocate"
    );
}

#[tokio::test]
async fn enis_are_deterministic_and_only_for_vpc_ips() {
    let emulator = start(fast_config()).await;
    let client = Client::new(&emulator);
    let lookup = |ip: &str| json!({"Filters": [{"Name": "address-ip", "Values": [ip]}, {"Name": "ip-exact-match", "Values": ["true"]}]});
    let outside = client
        .ok("DescribeNetworkInterfaces", lookup("192.168.0.1"))
        .await;
    assert_eq!(outside["TotalCount"], 0);
    let a = client
        .ok("DescribeNetworkInterfaces", lookup("10.44.0.3"))
        .await;
    let b = client
        .ok("DescribeNetworkInterfaces", lookup("10.44.0.3"))
        .await;
    assert_eq!(a["NetworkInterfaceSet"], b["NetworkInterfaceSet"]);
    let eni = &a["NetworkInterfaceSet"][0];
    assert_eq!(eni["VpcId"], "vpc-demo0001");
    assert_eq!(
        eni["Attachment"]["InstanceId"],
        tencentcloud_emulator::instance_id_for("10.44.0.3".parse().unwrap())
    );
    let by_vpc = client
        .ok(
            "DescribeNetworkInterfaces",
            json!({"Filters": [{"Name": "vpc-id", "Values": ["vpc-demo0001"]}]}),
        )
        .await;
    assert_eq!(by_vpc["TotalCount"], 1, "ENIs seen so far are listed");
    let both =
        json!({"NetworkInterfaceIds": ["eni-x"], "Filters": [{"Name": "vpc-id", "Values": ["v"]}]});
    assert_eq!(
        client.code("DescribeNetworkInterfaces", both).await,
        "InvalidParameter.Coexist"
    );
    let bad = json!({"Filters": [{"Name": "private-ip-address", "Values": ["10.0.0.1"]}]});
    assert_eq!(
        client.code("DescribeNetworkInterfaces", bad).await,
        "InvalidParameter.FilterInvalidKey"
    );
}
