//! The client over real HTTP against a scripted in-process server: what goes on the wire
//! (headers, signature, body, query), envelope decoding, retries, rate limiting, task waiting
//! and credential reloading. The emulator tests (`against_emulator.rs`) cover the same against
//! a stateful cloud; these pin down the exact behaviour on each kind of answer.
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use dac_tencentcloud::models::{clb, vpc};
use dac_tencentcloud::signing::{Authorization, SigningInput};
use dac_tencentcloud::{
    ClbApi, Client, Credentials, CredentialsProvider, Error, ErrorKind, RateLimitConfig,
    RequestMethod, RetryConfig, TaskPollConfig,
};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

const REGION: &str = "ap-guangzhou";
const SECRET_KEY: &str = "test-secret-key";

/// One request as the server received it.
#[derive(Debug, Clone)]
struct Received {
    method: String,
    target: String,
    headers: HashMap<String, String>,
    /// How often each header name occurred (a header the client set twice would show here).
    header_counts: HashMap<String, usize>,
    body: Vec<u8>,
}

impl Received {
    fn header(&self, name: &str) -> &str {
        self.headers
            .get(&name.to_ascii_lowercase())
            .map(String::as_str)
            .unwrap_or_default()
    }

    fn action(&self) -> &str {
        self.header("x-tc-action")
    }

    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap()
    }

    /// Verifies the signature the way the cloud does, from what was received.
    fn verify(&self, secret_key: &str) {
        let auth = Authorization::parse(self.header("authorization")).expect("TC3 header");
        let query = self.target.split_once('?').map(|(_, q)| q).unwrap_or("");
        let input = SigningInput {
            method: &self.method,
            query,
            content_type: self.header("content-type"),
            host: self.header("host"),
            payload: &self.body,
            service: &auth.service,
            timestamp: self.header("x-tc-timestamp").parse().unwrap(),
        };
        assert_eq!(auth.signature, input.signature(secret_key), "bad signature");
        assert_eq!(auth.date, input.date());
        assert_eq!(auth.signed_headers, "content-type;host");
    }
}

enum Reply {
    /// HTTP 200 with `{"Response": ...}`; a RequestId is added.
    Ok(Value),
    /// HTTP 200 with an error envelope.
    ApiError(&'static str),
    /// Any status and raw body.
    Raw(u16, &'static str),
    /// Close the connection without answering.
    Drop,
}

type Responder = dyn Fn(&Received, usize) -> Reply + Send + Sync;

struct FakeServer {
    endpoint: String,
    received: Arc<Mutex<Vec<Received>>>,
}

impl FakeServer {
    async fn start(responder: impl Fn(&Received, usize) -> Reply + Send + Sync + 'static) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let endpoint = format!("http://{}", listener.local_addr().unwrap());
        let received = Arc::new(Mutex::new(Vec::new()));
        let responder: Arc<Responder> = Arc::new(responder);
        let log = received.clone();
        tokio::spawn(async move {
            loop {
                let Ok((mut stream, _)) = listener.accept().await else {
                    return;
                };
                let log = log.clone();
                let responder = responder.clone();
                tokio::spawn(async move {
                    let Some(request) = read_request(&mut stream).await else {
                        return;
                    };
                    let index = {
                        let mut log = log.lock().unwrap();
                        log.push(request.clone());
                        log.len() - 1
                    };
                    let (status, body) = match responder(&request, index) {
                        Reply::Ok(mut response) => {
                            response["RequestId"] = json!(format!("req-{index}"));
                            (200, json!({ "Response": response }).to_string())
                        }
                        Reply::ApiError(code) => (
                            200,
                            json!({"Response": {
                                "Error": {"Code": code, "Message": format!("scripted {code}")},
                                "RequestId": format!("req-{index}"),
                            }})
                            .to_string(),
                        ),
                        Reply::Raw(status, body) => (status, body.to_string()),
                        Reply::Drop => return,
                    };
                    let head = format!(
                        "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                        body.len()
                    );
                    let _ = stream.write_all(head.as_bytes()).await;
                    let _ = stream.write_all(body.as_bytes()).await;
                    let _ = stream.shutdown().await;
                });
            }
        });
        Self { endpoint, received }
    }

    fn received(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }

    fn client(&self) -> dac_tencentcloud::ClientBuilder {
        Client::builder()
            .credentials(CredentialsProvider::fixed(Credentials::new(
                "AKIDtest", SECRET_KEY,
            )))
            .endpoint_all(&self.endpoint)
            .retry(fast_retry(6))
            .rate_limit(RateLimitConfig::unlimited())
            .task_poll(TaskPollConfig {
                initial_interval: Duration::from_millis(5),
                max_interval: Duration::from_millis(20),
            })
    }
}

fn fast_retry(max_attempts: u32) -> RetryConfig {
    RetryConfig {
        max_attempts,
        base_delay: Duration::from_millis(1),
        max_delay: Duration::from_millis(5),
        busy_budget: Duration::from_millis(200),
        busy_base_delay: Duration::from_millis(2),
        busy_max_delay: Duration::from_millis(10),
        ..RetryConfig::default()
    }
}

async fn read_request(stream: &mut tokio::net::TcpStream) -> Option<Received> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let header_end = loop {
        if let Some(pos) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break pos;
        }
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..header_end]).to_string();
    let mut lines = head.split("\r\n");
    let mut request_line = lines.next()?.split(' ');
    let method = request_line.next()?.to_string();
    let target = request_line.next()?.to_string();
    let pairs: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let mut header_counts = HashMap::new();
    for (name, _) in &pairs {
        *header_counts.entry(name.clone()).or_insert(0) += 1;
    }
    let headers: HashMap<String, String> = pairs.into_iter().collect();
    let length: usize = headers
        .get("content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let mut body = buf[header_end + 4..].to_vec();
    while body.len() < length {
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            break;
        }
        body.extend_from_slice(&chunk[..n]);
    }
    Some(Received {
        method,
        target,
        headers,
        header_counts,
        body,
    })
}

fn listener_request() -> clb::CreateListenerRequest {
    clb::CreateListenerRequest {
        load_balancer_id: "lb-1".into(),
        ports: vec![30001],
        protocol: "TCP".into(),
        listener_names: Some(vec!["房间-1".into()]),
        ..Default::default()
    }
}

#[tokio::test]
async fn posts_signed_json_that_the_server_can_verify() {
    let server = FakeServer::start(|_, _| Reply::Ok(json!({"ListenerIds": ["lbl-1"]}))).await;
    let client = server
        .client()
        .credentials(CredentialsProvider::fixed(
            Credentials::new("AKIDtest", SECRET_KEY).with_token("tok-1"),
        ))
        .build()
        .unwrap();
    let resp = client
        .create_listener(REGION, &listener_request())
        .await
        .unwrap();
    assert_eq!(resp.listener_ids, ["lbl-1"]);
    assert_eq!(resp.request_id, "req-0");

    let [req] = server.received().try_into().unwrap();
    req.verify(SECRET_KEY);
    assert_eq!(req.method, "POST");
    assert_eq!(req.target, "/");
    assert_eq!(
        req.header("host"),
        server.endpoint.trim_start_matches("http://")
    );
    assert_eq!(req.header("content-type"), "application/json");
    for signed in ["host", "content-type"] {
        assert_eq!(req.header_counts[signed], 1, "{signed} sent once");
    }
    assert_eq!(req.action(), "CreateListener");
    assert_eq!(req.header("x-tc-version"), "2018-03-17");
    assert_eq!(req.header("x-tc-region"), REGION);
    assert_eq!(req.header("x-tc-token"), "tok-1");
    assert_eq!(req.header("x-tc-language"), "en-US");
    let age = chrono::Utc::now().timestamp() - req.header("x-tc-timestamp").parse::<i64>().unwrap();
    assert!((0..60).contains(&age), "timestamp is now");
    assert_eq!(
        req.json(),
        json!({"LoadBalancerId": "lb-1", "Ports": [30001], "Protocol": "TCP", "ListenerNames": ["房间-1"]})
    );
}

#[tokio::test]
async fn no_token_header_without_a_session_token() {
    let server = FakeServer::start(|_, _| Reply::Ok(json!({"QuotaSet": []}))).await;
    let client = server.client().build().unwrap();
    client
        .describe_quota(REGION, &clb::DescribeQuotaRequest {})
        .await
        .unwrap();
    let [req] = server.received().try_into().unwrap();
    assert!(!req.headers.contains_key("x-tc-token"));
    assert_eq!(req.body, b"{}");
}

#[tokio::test]
async fn get_requests_put_the_signed_query_in_the_url() {
    let server = FakeServer::start(|_, _| Reply::Ok(json!({"TotalCount": 0}))).await;
    let client = server
        .client()
        .request_method(RequestMethod::Get)
        .build()
        .unwrap();
    let req = clb::DescribeLoadBalancersRequest {
        load_balancer_ids: Some(vec!["lb-1".into()]),
        filters: Some(vec![clb::Filter::new("tag:team", ["a b"])]),
        ..Default::default()
    };
    let resp = client.describe_load_balancers(REGION, &req).await.unwrap();
    assert_eq!(resp.total_count, Some(0));
    let [got] = server.received().try_into().unwrap();
    got.verify(SECRET_KEY);
    assert_eq!(got.method, "GET");
    assert_eq!(
        got.target,
        "/?Filters.0.Name=tag%3Ateam&Filters.0.Values.0=a+b&LoadBalancerIds.0=lb-1"
    );
    assert_eq!(
        got.header("content-type"),
        "application/x-www-form-urlencoded"
    );
    assert!(got.body.is_empty());
}

#[tokio::test]
async fn retries_through_throttling_and_busy_then_succeeds() {
    let server = FakeServer::start(|_, i| match i {
        0 => Reply::ApiError("RequestLimitExceeded"),
        1 => Reply::ApiError("FailedOperation.ResourceInOperating"),
        2 => Reply::Raw(503, "busy proxy"),
        _ => Reply::Ok(json!({"ListenerIds": ["lbl-9"]})),
    })
    .await;
    // 503 without an envelope on a write is ambiguous; allow it here to see all three retried.
    let client = server
        .client()
        .retry(RetryConfig {
            retry_ambiguous_writes: true,
            ..fast_retry(6)
        })
        .build()
        .unwrap();
    let resp = client
        .create_listener(REGION, &listener_request())
        .await
        .unwrap();
    assert_eq!(resp.listener_ids, ["lbl-9"]);
    assert_eq!(server.received().len(), 4);
    // Every attempt is signed afresh.
    server.received().iter().for_each(|r| r.verify(SECRET_KEY));
}

#[tokio::test]
async fn gives_up_after_the_retry_bound_with_the_last_classified_error() {
    let server = FakeServer::start(|_, _| Reply::ApiError("RequestLimitExceeded")).await;
    let client = server.client().retry(fast_retry(3)).build().unwrap();
    let err = client
        .create_listener(REGION, &listener_request())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Throttled);
    assert!(err.is_retryable(), "the caller may try again later");
    assert_eq!(err.code(), Some("RequestLimitExceeded"));
    assert_eq!(err.request_id(), Some("req-2"));
    assert_eq!(server.received().len(), 3);
}

#[tokio::test]
async fn a_busy_resource_is_retried_for_the_busy_budget_not_a_number_of_attempts() {
    let server =
        FakeServer::start(|_, _| Reply::ApiError("FailedOperation.ResourceInOperating")).await;
    let client = server.client().retry(fast_retry(3)).build().unwrap();
    let started = std::time::Instant::now();
    let err = client
        .create_listener(REGION, &listener_request())
        .await
        .unwrap_err();
    let elapsed = started.elapsed();
    assert_eq!(err.kind(), ErrorKind::Busy);
    assert_eq!(err.code(), Some("FailedOperation.ResourceInOperating"));
    // Delays of 1-10 ms within 200 ms: far more attempts than max_attempts (3), and it gave
    // up once the next delay would have passed the budget.
    assert!(server.received().len() > 3, "{}", server.received().len());
    assert!(elapsed >= Duration::from_millis(190), "{elapsed:?}");
    // A lock that clears within the budget is ridden through.
    let server = FakeServer::start(|_, i| {
        if i < 8 {
            Reply::ApiError("FailedOperation.ResourceInOperating")
        } else {
            Reply::Ok(json!({"ListenerIds": ["lbl-9"]}))
        }
    })
    .await;
    let client = server.client().retry(fast_retry(3)).build().unwrap();
    client
        .create_listener(REGION, &listener_request())
        .await
        .unwrap();
    assert_eq!(server.received().len(), 9);
}

#[tokio::test]
async fn errors_that_retrying_cannot_fix_fail_at_once() {
    for (code, kind) in [
        ("InvalidParameter.PortCheckFailed", ErrorKind::InvalidInput),
        ("LimitExceeded", ErrorKind::QuotaOrLimit),
        ("InvalidParameter.LBIdNotFound", ErrorKind::NotFound),
        ("AuthFailure.SignatureFailure", ErrorKind::Auth),
    ] {
        let server = FakeServer::start(move |_, _| Reply::ApiError(code)).await;
        let client = server.client().build().unwrap();
        let err = client
            .create_listener(REGION, &listener_request())
            .await
            .unwrap_err();
        assert_eq!(err.kind(), kind, "{code}");
        assert_eq!(server.received().len(), 1, "{code} is not retried");
    }
}

#[tokio::test]
async fn ambiguous_failures_retry_reads_but_not_writes() {
    let server = FakeServer::start(|req, i| match (req.action(), i) {
        (_, 0) | (_, 1) => Reply::ApiError("InternalError"),
        ("DescribeListeners", _) => Reply::Ok(json!({"Listeners": [], "TotalCount": 0})),
        _ => Reply::ApiError("InternalError"),
    })
    .await;
    let client = server.client().build().unwrap();
    let err = client
        .create_listener(REGION, &listener_request())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Transient);
    assert!(err.is_ambiguous());
    assert_eq!(server.received().len(), 1, "a write is not resent blindly");

    let resp = client
        .describe_listeners(
            REGION,
            &clb::DescribeListenersRequest {
                load_balancer_id: "lb-1".into(),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(resp.total_count, Some(0));
    assert_eq!(server.received().len(), 3);
}

#[tokio::test]
async fn dropped_connections_and_refused_connections_are_transient() {
    let server = FakeServer::start(|_, i| {
        if i == 0 {
            Reply::Drop
        } else {
            Reply::Ok(json!({"Listeners": [], "TotalCount": 0}))
        }
    })
    .await;
    let client = server.client().build().unwrap();
    let req = clb::DescribeListenersRequest {
        load_balancer_id: "lb-1".into(),
        ..Default::default()
    };
    client.describe_listeners(REGION, &req).await.unwrap();
    assert_eq!(server.received().len(), 2, "the dropped read was retried");

    // Nothing listens on this port: the connection is refused, the request never sent.
    let closed = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let endpoint = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let client = server
        .client()
        .endpoint_all(endpoint)
        .retry(fast_retry(2))
        .build()
        .unwrap();
    let err = client
        .create_listener(REGION, &listener_request())
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::Transport { not_sent: true, .. }),
        "{err:?}"
    );
    assert_eq!(err.kind(), ErrorKind::Transient);
    assert!(!err.is_ambiguous());
}

#[tokio::test]
async fn waits_for_clb_tasks() {
    let server = FakeServer::start(|req, i| {
        assert_eq!(req.action(), "DescribeTaskStatus");
        let task = req.json()["TaskId"].as_str().unwrap().to_string();
        match (task.as_str(), i) {
            ("ok", 0 | 1) => Reply::Ok(json!({"Status": 2})),
            ("ok", _) => Reply::Ok(json!({"Status": 0, "LoadBalancerIds": ["lb-1"]})),
            ("bad", _) => Reply::Ok(json!({"Status": 1, "Message": "backend gone"})),
            _ => Reply::Ok(json!({"Status": 2})),
        }
    })
    .await;
    let client = server.client().build().unwrap();
    let deadline = || tokio::time::Instant::now() + Duration::from_secs(5);
    let done = client
        .wait_clb_task(REGION, "ok", deadline())
        .await
        .unwrap();
    assert_eq!(done.load_balancer_ids, ["lb-1"]);
    assert_eq!(server.received().len(), 3);

    let err = client
        .wait_clb_task(REGION, "bad", deadline())
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::TaskFailed { message, .. } if message == "backend gone"),
        "{err:?}"
    );

    let start = Instant::now();
    let short = tokio::time::Instant::now() + Duration::from_millis(100);
    let err = client
        .wait_clb_task(REGION, "slow", short)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::TaskTimeout { .. }), "{err:?}");
    assert!(err.is_retryable());
    assert!(start.elapsed() < Duration::from_secs(2));
}

#[tokio::test]
async fn waits_for_vpc_tasks_with_an_integer_task_id() {
    let server = FakeServer::start(|req, i| {
        assert_eq!(req.action(), "DescribeTaskResult");
        assert_eq!(req.json()["TaskId"], json!(1234), "sent as a number");
        Reply::Ok(json!({"TaskId": 1234, "Result": if i == 0 { "RUNNING" } else { "SUCCESS" }}))
    })
    .await;
    let client = server.client().build().unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    let done = client
        .wait_vpc_task(REGION, "1234", deadline)
        .await
        .unwrap();
    assert_eq!(done.result.as_deref(), Some("SUCCESS"));
    assert_eq!(server.received().len(), 2);

    let err = client
        .wait_vpc_task(REGION, "task-abc", deadline)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    assert_eq!(server.received().len(), 2, "nothing sent for a bad id");

    let failing =
        FakeServer::start(|_, _| Reply::Ok(json!({"TaskId": 1, "Result": "FAILED"}))).await;
    let err = failing
        .client()
        .build()
        .unwrap()
        .wait_vpc_task(REGION, "1", deadline)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::TaskFailed { .. }), "{err:?}");
}

#[tokio::test]
async fn rate_limit_is_shared_by_clones() {
    let server = FakeServer::start(|_, _| Reply::Ok(json!({"QuotaSet": []}))).await;
    let client = server
        .client()
        .rate_limit(RateLimitConfig {
            default_per_second: 20.0,
            burst: 1,
            per_action: HashMap::new(),
        })
        .build()
        .unwrap();
    let start = Instant::now();
    let calls = (0..9).map(|_| {
        let client = client.clone();
        tokio::spawn(async move {
            client
                .describe_quota(REGION, &clb::DescribeQuotaRequest {})
                .await
                .unwrap()
        })
    });
    for call in calls.collect::<Vec<_>>() {
        call.await.unwrap();
    }
    // The first goes at once, the eight others 50 ms apart.
    assert!(
        start.elapsed() >= Duration::from_millis(400),
        "{:?}",
        start.elapsed()
    );
    assert_eq!(server.received().len(), 9);
}

#[tokio::test]
async fn credentials_from_a_directory_are_reloaded_between_calls() {
    let dir = std::env::temp_dir().join(format!(
        "dac-tc-creds-{}-{}",
        std::process::id(),
        rand::random::<u32>()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("secretId"), "AKIDfirst\n").unwrap();
    std::fs::write(dir.join("secretKey"), "key-first\n").unwrap();
    let server = FakeServer::start(|_, _| Reply::Ok(json!({"QuotaSet": []}))).await;
    let client = server
        .client()
        .credentials(CredentialsProvider::from_dir(&dir).unwrap())
        .build()
        .unwrap();
    client
        .describe_quota(REGION, &clb::DescribeQuotaRequest {})
        .await
        .unwrap();
    for (name, value) in [("secretId", "AKIDsecond"), ("secretKey", "key-second")] {
        std::fs::write(dir.join("next"), value).unwrap();
        std::fs::rename(dir.join("next"), dir.join(name)).unwrap();
    }
    client
        .describe_quota(REGION, &clb::DescribeQuotaRequest {})
        .await
        .unwrap();
    let [first, second] = server.received().try_into().unwrap();
    first.verify("key-first");
    second.verify("key-second");
    assert!(first.header("authorization").contains("AKIDfirst/"));
    assert!(second.header("authorization").contains("AKIDsecond/"));
    std::fs::remove_dir_all(dir).unwrap();
}

#[tokio::test]
async fn vpc_actions_go_to_the_vpc_endpoint_with_its_version() {
    let clb_server = FakeServer::start(|_, _| Reply::Raw(500, "wrong service")).await;
    let vpc_server =
        FakeServer::start(|_, _| Reply::Ok(json!({"AddressSet": ["eip-1"], "TaskId": "99"}))).await;
    let client = clb_server
        .client()
        .endpoint(dac_tencentcloud::Service::Vpc, &vpc_server.endpoint)
        .build()
        .unwrap();
    let resp = client
        .allocate_addresses(
            REGION,
            &vpc::AllocateAddressesRequest {
                address_count: Some(1),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(resp.address_set, ["eip-1"]);
    assert_eq!(resp.task_id.as_deref(), Some("99"));
    let [req] = vpc_server.received().try_into().unwrap();
    req.verify(SECRET_KEY);
    assert_eq!(req.header("x-tc-version"), "2017-03-12");
    assert!(req.header("authorization").contains("/vpc/tc3_request"));
    assert!(clb_server.received().is_empty());
}

#[tokio::test]
async fn the_client_is_usable_through_the_trait() {
    async fn count(api: &dyn ClbApi) -> usize {
        api.describe_listeners(
            REGION,
            &clb::DescribeListenersRequest {
                load_balancer_id: "lb-1".into(),
                ..Default::default()
            },
        )
        .await
        .unwrap()
        .listeners
        .len()
    }
    let server = FakeServer::start(|_, _| {
        Reply::Ok(json!({"Listeners": [{"ListenerId": "lbl-1", "Port": 30001, "Protocol": "TCP"}]}))
    })
    .await;
    let client = server.client().build().unwrap();
    assert_eq!(count(&client).await, 1);
}
