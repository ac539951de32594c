//! VPC: NAT gateways and DNAT rules, ENIs.
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
