//! Property test: no request body or query makes the emulator panic or answer outside the
//! envelope. Random bytes, mutated valid requests and random GET queries, all correctly signed
//! so that they reach the parsers. Reproduce a failure with `EMULATOR_FUZZ_SEED=<seed>`.
mod common;

use common::{Client, Req, fast_config, start};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{Map, Value, json};

const ACTIONS: [&str; 27] = [
    "CreateListener",
    "DeleteListener",
    "DeleteLoadBalancerListeners",
    "DescribeListeners",
    "RegisterTargets",
    "DeregisterTargets",
    "BatchRegisterTargets",
    "BatchDeregisterTargets",
    "DescribeTargets",
    "DescribeLoadBalancers",
    "CreateLoadBalancer",
    "DeleteLoadBalancer",
    "DescribeQuota",
    "DescribeTaskStatus",
    "CreateNatGatewayDestinationIpPortTranslationNatRule",
    "DeleteNatGatewayDestinationIpPortTranslationNatRule",
    "ModifyNatGatewayDestinationIpPortTranslationNatRule",
    "DescribeNatGatewayDestinationIpPortTranslationNatRules",
    "DescribeNatGateways",
    "AllocateAddresses",
    "AssociateAddress",
    "DisassociateAddress",
    "ReleaseAddresses",
    "DescribeAddresses",
    "DescribeAddressQuota",
    "DescribeTaskResult",
    "DescribeNetworkInterfaces",
];

/// A valid request per action, for mutation.
fn sample(action: &str) -> Value {
    let rule = json!({"IpProtocol": "TCP", "PublicIpAddress": "198.51.100.1", "PublicPort": 3000,
        "PrivateIpAddress": "10.0.0.5", "PrivatePort": 80, "Description": "d"});
    let target = json!({"ListenerId": "lbl-x", "Port": 80, "EniIp": "10.0.0.5", "Weight": 10});
    match action {
        "CreateListener" => {
            json!({"LoadBalancerId": "lb-demo0001", "Ports": [81, 82], "Protocol": "TCP",
            "ListenerNames": ["a", "b"], "HealthCheck": {"HealthSwitch": 1, "TimeOut": 2}})
        }
        "RegisterTargets" | "DeregisterTargets" => json!({"LoadBalancerId": "lb-demo0001",
            "ListenerId": "lbl-x", "Targets": [{"Port": 80, "EniIp": "10.0.0.5"}]}),
        "BatchRegisterTargets" | "BatchDeregisterTargets" => {
            json!({"LoadBalancerId": "lb-demo0001", "Targets": [target]})
        }
        "DescribeTargets" => {
            json!({"LoadBalancerId": "lb-demo0001", "Filters": [{"Name": "private-ip-address", "Values": ["10.0.0.5"]}]})
        }
        "CreateLoadBalancer" => {
            json!({"LoadBalancerType": "INTERNAL", "Number": 1, "Tags": [{"TagKey": "k", "TagValue": "v"}]})
        }
        "ModifyNatGatewayDestinationIpPortTranslationNatRule" => {
            json!({"NatGatewayId": "nat-demo0001",
            "SourceNatRule": rule, "DestinationNatRule": rule})
        }
        a if a.contains("TranslationNatRule") && !a.starts_with("Describe") => {
            json!({"NatGatewayId": "nat-demo0001", "DestinationIpPortTranslationNatRules": [rule]})
        }
        "AllocateAddresses" => json!({"AddressCount": 1, "Tags": [{"Key": "k", "Value": "v"}]}),
        "AssociateAddress" => {
            json!({"AddressId": "eip-demo0001", "NetworkInterfaceId": "eni-1", "PrivateIpAddress": "10.0.0.5"})
        }
        "DescribeNetworkInterfaces" | "DescribeAddresses" => {
            json!({"Filters": [{"Name": "address-ip", "Values": ["10.0.0.5"]}], "Limit": 10})
        }
        "DescribeTaskResult" => json!({"TaskId": 1}),
        "DescribeTaskStatus" => json!({"TaskId": "x"}),
        _ => {
            json!({"LoadBalancerId": "lb-demo0001", "ListenerId": "lbl-x", "AddressId": "eip-demo0001"})
        }
    }
}

fn random_scalar(rng: &mut StdRng) -> Value {
    match rng.random_range(0..9) {
        0 => Value::Null,
        1 => json!(rng.random::<bool>()),
        2 => json!(rng.random::<i64>()),
        3 => json!(rng.random::<u64>()),
        4 => json!(rng.random_range(-2.0e6..2.0e6)),
        5 => json!(rng.random_range(-3..70000)),
        6 => json!(""),
        7 => json!(
            [
                "10.0.0.1",
                "lb-demo0001",
                "eip-demo0001",
                "TCP",
                "ü\u{0}",
                "-1"
            ][rng.random_range(0..6)]
        ),
        _ => json!(
            (0..rng.random_range(0..40))
                .map(|_| rng.random::<char>())
                .collect::<String>()
        ),
    }
}

fn random_value(rng: &mut StdRng, depth: u32) -> Value {
    if depth == 0 || rng.random_bool(0.6) {
        return random_scalar(rng);
    }
    if rng.random_bool(0.5) {
        Value::Array(
            (0..rng.random_range(0..4))
                .map(|_| random_value(rng, depth - 1))
                .collect(),
        )
    } else {
        let mut map = Map::new();
        for _ in 0..rng.random_range(0..4) {
            map.insert(random_key(rng), random_value(rng, depth - 1));
        }
        Value::Object(map)
    }
}

fn random_key(rng: &mut StdRng) -> String {
    [
        "Ports", "Port", "Targets", "EniIp", "Weight", "Filters", "Name", "Values", "Limit", "X",
        "",
    ][rng.random_range(0..11)]
    .to_string()
}

/// Replaces, removes or adds something somewhere in a valid request.
fn mutate(value: &mut Value, rng: &mut StdRng) {
    match value {
        Value::Object(map) if !map.is_empty() && rng.random_bool(0.7) => {
            let key = map
                .keys()
                .nth(rng.random_range(0..map.len()))
                .cloned()
                .unwrap();
            match rng.random_range(0..4) {
                0 => {
                    map.remove(&key);
                }
                1 => {
                    map.insert(key, random_value(rng, 3));
                }
                2 => {
                    map.insert(random_key(rng), random_value(rng, 2));
                }
                _ => mutate(map.get_mut(&key).unwrap(), rng),
            }
        }
        Value::Array(items) if !items.is_empty() && rng.random_bool(0.7) => {
            let i = rng.random_range(0..items.len());
            if rng.random_bool(0.5) {
                mutate(&mut items[i], rng);
            } else {
                items[i] = random_value(rng, 2);
            }
        }
        other => *other = random_value(rng, 3),
    }
}

fn random_query(rng: &mut StdRng) -> String {
    let parts = [
        "Filters", "0", "1", "Name", "Values", "Limit", "Ports", "Targets", "99999", "-1", "",
        "%zz", "a=b",
    ];
    (0..rng.random_range(0..6))
        .map(|_| {
            let key: Vec<&str> = (0..rng.random_range(1..5))
                .map(|_| parts[rng.random_range(0..parts.len())])
                .collect();
            let value = parts[rng.random_range(0..parts.len())];
            format!("{}={value}", key.join("."))
        })
        .collect::<Vec<_>>()
        .join("&")
}

#[tokio::test]
async fn no_request_makes_the_emulator_panic() {
    let seed: u64 = std::env::var("EMULATOR_FUZZ_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(rand::random);
    eprintln!("EMULATOR_FUZZ_SEED={seed}");
    let mut rng = StdRng::seed_from_u64(seed);
    let mut config = fast_config();
    // Throttling would answer before the parsers run.
    for action in ACTIONS {
        config.rate_limits.insert(action.to_string(), 0.0);
    }
    let emulator = start(config).await;
    let client = Client::new(&emulator);
    for i in 0..1200 {
        let action = ACTIONS[rng.random_range(0..ACTIONS.len())];
        let req = match i % 4 {
            0 => {
                let bytes: Vec<u8> = (0..rng.random_range(0..300))
                    .map(|_| rng.random())
                    .collect();
                Req::raw_body(action, &bytes)
            }
            1 => Req::get(action, &random_query(&mut rng)),
            _ => {
                let mut params = sample(action);
                for _ in 0..rng.random_range(1..4) {
                    mutate(&mut params, &mut rng);
                }
                Req::new(action, params)
            }
        };
        let response = client.response(&req).await;
        let code = response["Error"]["Code"].as_str().unwrap_or_default();
        assert_ne!(
            code, "InternalError",
            "seed {seed}, request {i}: {req:?} -> {response}"
        );
    }
    // Still serving.
    client.ok("DescribeQuota", json!({})).await;
}
