//! The protocol: signatures, the envelope, headers, GET requests, parameter validation.
mod common;

use common::{Client, Req, error_code, fast_config, start};
use serde_json::json;

#[tokio::test]
async fn auth_failures_have_the_clouds_codes() {
    let emulator = start(fast_config()).await;
    let client = Client::new(&emulator);
    let base = Req::new("DescribeQuota", json!({}));
    assert_eq!(error_code(&client.response(&base).await), "");

    let mut wrong_key = base.clone();
    wrong_key.secret_key = "not-the-key".into();
    assert_eq!(
        error_code(&client.response(&wrong_key).await),
        "AuthFailure.SignatureFailure"
    );

    let mut unknown_id = base.clone();
    unknown_id.secret_id = "AKIDNOBODY".into();
    assert_eq!(
        error_code(&client.response(&unknown_id).await),
        "AuthFailure.SecretIdNotFound"
    );

    for offset in [-301, 301] {
        let mut stale = base.clone();
        stale.timestamp_offset = offset;
        assert_eq!(
            error_code(&client.response(&stale).await),
            "AuthFailure.SignatureExpire"
        );
    }
    let mut recent = base.clone();
    recent.timestamp_offset = -250;
    assert_eq!(error_code(&client.response(&recent).await), "");

    // The signature covers the body: a body changed after signing fails.
    let signed = Req::new(
        "DescribeListeners",
        json!({"LoadBalancerId": "lb-demo0001"}),
    );
    let resp = client
        .http
        .post(client.url("/"))
        .header("Content-Type", "application/json")
        .header("X-TC-Action", "DescribeListeners")
        .header("X-TC-Version", "2018-03-17")
        .header("X-TC-Region", "ap-guangzhou")
        .header("X-TC-Timestamp", chrono::Utc::now().timestamp().to_string())
        .header("Authorization", "TC3-HMAC-SHA256 Credential=AKIDEMULATOR/2020-01-01/clb/tc3_request, SignedHeaders=content-type;host, Signature=00")
        .body(signed.body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.headers()["content-type"], "application/json");
    let body: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(
        error_code(&body["Response"]),
        "AuthFailure.SignatureFailure"
    );

    let missing = client
        .http
        .post(client.url("/"))
        .body("{}")
        .send()
        .await
        .unwrap();
    let body: serde_json::Value = missing.json().await.unwrap();
    assert_eq!(
        error_code(&body["Response"]),
        "AuthFailure.InvalidAuthorization"
    );
}

#[tokio::test]
async fn service_version_region_and_action_are_checked() {
    let emulator = start(fast_config()).await;
    let client = Client::new(&emulator);

    let mut wrong_version = Req::new("DescribeQuota", json!({}));
    wrong_version.version = "2017-03-12".into();
    assert_eq!(
        error_code(&client.response(&wrong_version).await),
        "NoSuchVersion"
    );

    // A VPC action signed for the clb service is not a clb action.
    let mut wrong_service = Req::new("DescribeAddresses", json!({}));
    wrong_service.service = "clb".into();
    wrong_service.version = "2018-03-17".into();
    assert_eq!(
        error_code(&client.response(&wrong_service).await),
        "InvalidAction"
    );

    let unknown = Req::new("RunInstances", json!({}));
    assert_eq!(
        error_code(&client.response(&unknown).await),
        "InvalidAction"
    );

    let mut no_region = Req::new("DescribeQuota", json!({}));
    no_region.region = None;
    assert_eq!(
        error_code(&client.response(&no_region).await),
        "MissingParameter"
    );

    let mut far = Req::new("DescribeQuota", json!({}));
    far.region = Some("eu-frankfurt".into());
    assert_eq!(
        error_code(&client.response(&far).await),
        "UnsupportedRegion"
    );
}

#[tokio::test]
async fn get_requests_are_flattened_and_typed() {
    let emulator = start(fast_config()).await;
    let client = Client::new(&emulator);
    let query = "Filters.0.Name=address-ip&Filters.0.Values.0=10.9.8.7&Filters.1.Name=ip-exact-match&Filters.1.Values.0=true&Limit=5";
    let r = client
        .response(&Req::get("DescribeNetworkInterfaces", query))
        .await;
    assert_eq!(r["TotalCount"], 1, "{r}");
    let eni = &r["NetworkInterfaceSet"][0];
    assert_eq!(
        eni["PrivateIpAddressSet"][0]["PrivateIpAddress"],
        "10.9.8.7"
    );
    assert_eq!(
        eni["NetworkInterfaceId"],
        tencentcloud_emulator::eni_id_for("10.9.8.7".parse().unwrap())
    );

    let typed = Req::get("DescribeNetworkInterfaces", "Limit=many");
    assert_eq!(
        error_code(&client.response(&typed).await),
        "InvalidParameter"
    );
    let unknown = Req::get("DescribeNetworkInterfaces", "Bogus=1");
    assert_eq!(
        error_code(&client.response(&unknown).await),
        "UnknownParameter"
    );
}

#[tokio::test]
async fn bad_parameters_have_the_clouds_codes() {
    let emulator = start(fast_config()).await;
    let client = Client::new(&emulator);
    let cases = [
        (
            json!({"LoadBalancerId": "lb-demo0001", "Protocol": "TCP"}),
            "MissingParameter",
        ),
        (
            json!({"LoadBalancerId": "lb-demo0001", "Ports": [1], "Protocol": "TCP", "Colour": "red"}),
            "UnknownParameter",
        ),
        (
            json!({"LoadBalancerId": "lb-demo0001", "Ports": "80", "Protocol": "TCP"}),
            "InvalidParameter",
        ),
        (
            json!({"LoadBalancerId": 7, "Ports": [80], "Protocol": "TCP"}),
            "InvalidParameter",
        ),
        (
            json!({"LoadBalancerId": "lb-demo0001", "Ports": [80.5], "Protocol": "TCP"}),
            "InvalidParameter",
        ),
        (
            json!({"LoadBalancerId": "lb-demo0001", "Ports": [80], "Protocol": "TCP", "HealthCheck": {"Nope": 1}}),
            "UnknownParameter",
        ),
        (
            json!({"LoadBalancerId": "lb-nothere", "Ports": [80], "Protocol": "TCP"}),
            "InvalidParameter.LBIdNotFound",
        ),
        (
            json!({"LoadBalancerId": "lb-demo0001", "Ports": [70000], "Protocol": "TCP"}),
            "InvalidParameterValue.Range",
        ),
        (
            json!({"LoadBalancerId": "lb-demo0001", "Ports": [80], "Protocol": "SCTP"}),
            "InvalidParameter.ProtocolCheckFailed",
        ),
    ];
    for (params, code) in cases {
        assert_eq!(
            client.code("CreateListener", params.clone()).await,
            code,
            "{params}"
        );
    }
    for body in [
        &b"{"[..],
        b"[1,2]",
        b"null",
        b"\"x\"",
        b"{\"LoadBalancerId\": }",
    ] {
        let r = client
            .response(&Req::raw_body("DescribeListeners", body))
            .await;
        assert_eq!(
            error_code(&r),
            "InvalidParameter",
            "{}",
            String::from_utf8_lossy(body)
        );
    }
    let mut form = Req::raw_body("DescribeQuota", b"a=b");
    form.content_type = "application/x-www-form-urlencoded".into();
    assert_eq!(
        error_code(&client.response(&form).await),
        "InvalidParameter"
    );
}
