//! Our signing reproduces, header for header, requests built and signed by the official Python
//! SDK (`vectors/signing.json`, written by `vectors/generate.py`).
use std::collections::BTreeSet;

use dac_tencentcloud::models::{clb, vpc};
use dac_tencentcloud::signing::{Authorization, CallMetadata, SigningInput, canonical_query};
use dac_tencentcloud::transport::{RequestMethod, encode};
use serde_json::Value;

struct Vector {
    name: String,
    raw: Value,
}

impl Vector {
    fn str(&self, key: &str) -> &str {
        self.raw[key]
            .as_str()
            .unwrap_or_else(|| panic!("{}: {key}", self.name))
    }

    fn opt(&self, key: &str) -> Option<&str> {
        self.raw[key].as_str()
    }

    fn input(&self) -> SigningInput<'_> {
        SigningInput {
            method: self.str("method"),
            query: self.str("query"),
            content_type: self.str("content_type"),
            host: self.str("host"),
            payload: self.str("payload").as_bytes(),
            service: self.str("service"),
            timestamp: self.raw["timestamp"].as_i64().unwrap(),
        }
    }

    fn meta(&self) -> CallMetadata<'_> {
        CallMetadata {
            action: self.str("action"),
            version: self.str("version"),
            region: self.str("region"),
            token: self.opt("token"),
            language: self.opt("language"),
        }
    }

    fn headers(&self) -> Vec<(String, String)> {
        self.raw["headers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|pair| {
                (
                    pair[0].as_str().unwrap().to_string(),
                    pair[1].as_str().unwrap().to_string(),
                )
            })
            .collect()
    }
}

fn vectors() -> Vec<Vector> {
    let fixture: Value = serde_json::from_str(include_str!("vectors/signing.json")).unwrap();
    fixture["vectors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|raw| Vector {
            name: raw["name"].as_str().unwrap().to_string(),
            raw: raw.clone(),
        })
        .collect()
}

#[test]
fn fixtures_cover_what_they_must() {
    let all = vectors();
    assert!(all.len() >= 6);
    let has = |pred: &dyn Fn(&Vector) -> bool| all.iter().any(pred);
    assert!(has(&|v| v.str("method") == "GET"), "a GET request");
    assert!(has(&|v| v.opt("token").is_some()), "a session token");
    assert!(
        has(&|v| !v.str("payload").is_ascii()),
        "a raw UTF-8 payload"
    );
    assert!(has(&|v| v.str("host").contains(':')), "a host with a port");
}

#[test]
fn authorization_matches_the_sdk() {
    for v in vectors() {
        let input = v.input();
        let auth = input.authorization(v.str("secret_id"), v.str("secret_key"));
        assert_eq!(auth, v.str("authorization"), "{}", v.name);
        let parsed = Authorization::parse(&auth).expect("parses");
        assert_eq!(parsed.date, input.date(), "{}", v.name);
    }
}

#[test]
fn every_header_matches_the_sdk() {
    for v in vectors() {
        let ours: Vec<(String, String)> = v
            .input()
            .headers(&v.meta(), v.str("secret_id"), v.str("secret_key"))
            .into_iter()
            .map(|(k, val)| (k.to_string(), val))
            .collect();
        assert_eq!(ours, v.headers(), "{}", v.name);
    }
}

#[test]
fn session_token_is_sent_but_not_signed() {
    let v = vectors()
        .into_iter()
        .find(|v| v.opt("token").is_some())
        .unwrap();
    let token = v.str("token");
    assert!(
        v.headers()
            .iter()
            .any(|(k, val)| k == "X-TC-Token" && val == token)
    );
    // SigningInput has no token at all: the signature cannot depend on it.
    let auth = v
        .input()
        .authorization(v.str("secret_id"), v.str("secret_key"));
    assert_eq!(auth, v.str("authorization"));
}

#[test]
fn get_query_is_flattened_like_the_sdk() {
    for v in vectors().iter().filter(|v| v.str("method") == "GET") {
        assert_eq!(
            canonical_query(&v.raw["params"]),
            v.str("query"),
            "{}",
            v.name
        );
        assert_eq!(
            v.str("payload"),
            "",
            "{}: GET signs an empty payload",
            v.name
        );
    }
}

/// Our typed request for the vector's parameters, encoded as the client would send it.
fn typed_encoding(v: &Vector) -> dac_tencentcloud::transport::Encoded {
    let method = match v.str("method") {
        "GET" => RequestMethod::Get,
        _ => RequestMethod::Post,
    };
    macro_rules! encode_as {
        ($($action:literal => $ty:ty,)*) => {
            match v.str("action") {
                $($action => {
                    let req: $ty = serde_json::from_value(v.raw["params"].clone())
                        .unwrap_or_else(|e| panic!("{}: {e}", v.name));
                    encode(method, &req).unwrap()
                })*
                other => panic!("{}: add {other} to typed_encoding", v.name),
            }
        };
    }
    encode_as! {
        "CreateListener" => clb::CreateListenerRequest,
        "DescribeLoadBalancers" => clb::DescribeLoadBalancersRequest,
        "DescribeTaskStatus" => clb::DescribeTaskStatusRequest,
        "DescribeQuota" => clb::DescribeQuotaRequest,
        "CreateNatGatewayDestinationIpPortTranslationNatRule" =>
            vpc::CreateNatGatewayDestinationIpPortTranslationNatRuleRequest,
        "DescribeTaskResult" => vpc::DescribeTaskResultRequest,
    }
}

#[test]
fn typed_requests_encode_to_the_signed_bytes() {
    for v in vectors().iter().filter(|v| v.raw["typed"] == true) {
        let encoded = typed_encoding(v);
        assert_eq!(encoded.content_type(), v.str("content_type"), "{}", v.name);
        match encoded.method {
            RequestMethod::Post => assert_eq!(
                String::from_utf8(encoded.payload).unwrap(),
                v.str("payload"),
                "{}",
                v.name
            ),
            // Same pairs; the order within an object may follow the struct instead of the
            // fixture, which the server does not care about (it verifies the query as sent).
            RequestMethod::Get => {
                let pairs = |q: &str| q.split('&').map(str::to_string).collect::<BTreeSet<_>>();
                assert_eq!(pairs(&encoded.query), pairs(v.str("query")), "{}", v.name);
            }
        }
    }
}
