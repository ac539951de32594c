//! A small signing client for driving the emulator over HTTP in tests.
#![allow(dead_code)] // Each test binary uses a different part of it.

use std::time::Duration;

use serde_json::{Value, json};
use tencentcloud_emulator::tc3::Signed as SigningInput;
use tencentcloud_emulator::{Emulator, EmulatorConfig, RunningEmulator};

pub const SECRET_ID: &str = "AKIDEMULATOR";
pub const SECRET_KEY: &str = "emulator-secret-key";
pub const REGION: &str = "ap-guangzhou";

pub fn service_of(action: &str) -> (&'static str, &'static str) {
    let vpc = action.contains("NatGateway")
        || action.contains("Address")
        || action.contains("NetworkInterface")
        || action == "DescribeTaskResult";
    if vpc {
        ("vpc", "2017-03-12")
    } else {
        ("clb", "2018-03-17")
    }
}

/// The demo config with short tasks, so that tests wait little. Tests that assert a task is
/// still running use `slow_config` instead, so that a loaded machine cannot outrun them.
pub fn fast_config() -> EmulatorConfig {
    let mut config = EmulatorConfig::demo();
    config.settings.task_latency_ms = 150;
    config.settings.batch_lock_ms = 150;
    config.settings.eip_task_latency_ms = 150;
    config
}

pub fn slow_config() -> EmulatorConfig {
    let mut config = EmulatorConfig::demo();
    config.settings.task_latency_ms = 1500;
    config.settings.batch_lock_ms = 1500;
    config.settings.eip_task_latency_ms = 1500;
    config
}

pub async fn start(config: EmulatorConfig) -> RunningEmulator {
    Emulator::start(config, "127.0.0.1:0".parse().unwrap())
        .await
        .expect("emulator starts")
}

/// One request, with every part that a test may want to get wrong.
#[derive(Debug, Clone)]
pub struct Req {
    pub action: String,
    pub service: String,
    pub version: String,
    pub region: Option<String>,
    pub method: &'static str,
    pub body: Vec<u8>,
    /// For GET: the query string, signed as is.
    pub query: String,
    pub content_type: String,
    pub secret_id: String,
    pub secret_key: String,
    pub timestamp_offset: i64,
}

impl Req {
    pub fn new(action: &str, params: Value) -> Self {
        let (service, version) = service_of(action);
        Self {
            action: action.to_string(),
            service: service.to_string(),
            version: version.to_string(),
            region: Some(REGION.to_string()),
            method: "POST",
            body: params.to_string().into_bytes(),
            query: String::new(),
            content_type: "application/json".to_string(),
            secret_id: SECRET_ID.to_string(),
            secret_key: SECRET_KEY.to_string(),
            timestamp_offset: 0,
        }
    }

    pub fn raw_body(action: &str, body: &[u8]) -> Self {
        let mut req = Self::new(action, json!({}));
        req.body = body.to_vec();
        req
    }

    pub fn get(action: &str, query: &str) -> Self {
        let mut req = Self::new(action, json!({}));
        req.method = "GET";
        req.body = Vec::new();
        req.query = query.to_string();
        req.content_type = "application/x-www-form-urlencoded".to_string();
        req
    }
}

pub struct Client {
    pub http: reqwest::Client,
    pub addr: std::net::SocketAddr,
}

impl Client {
    pub fn new(emulator: &RunningEmulator) -> Self {
        Self {
            // Only loopback is ever contacted; no proxy from the environment may intervene.
            http: reqwest::Client::builder()
                .no_proxy()
                .timeout(Duration::from_secs(20))
                .build()
                .unwrap(),
            addr: emulator.addr(),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub async fn send(&self, req: &Req) -> Result<reqwest::Response, reqwest::Error> {
        let host = self.addr.to_string();
        let timestamp = chrono::Utc::now().timestamp() + req.timestamp_offset;
        let input = SigningInput {
            method: req.method,
            query: &req.query,
            content_type: &req.content_type,
            host: &host,
            payload: &req.body,
            service: &req.service,
            timestamp,
        };
        let url = if req.query.is_empty() {
            self.url("/")
        } else {
            self.url(&format!("/?{}", req.query))
        };
        let method = reqwest::Method::from_bytes(req.method.as_bytes()).unwrap();
        let mut builder = self
            .http
            .request(method, url)
            .header("Host", &host)
            .header("Content-Type", &req.content_type)
            .header("X-TC-Action", &req.action)
            .header("X-TC-Version", &req.version)
            .header("X-TC-Timestamp", timestamp.to_string())
            .header(
                "Authorization",
                input.authorization(&req.secret_id, &req.secret_key),
            )
            .body(req.body.clone());
        if let Some(region) = &req.region {
            builder = builder.header("X-TC-Region", region);
        }
        builder.send().await
    }

    /// The `Response` object of a call.
    pub async fn response(&self, req: &Req) -> Value {
        let resp = self.send(req).await.expect("the emulator answers");
        assert_eq!(resp.status(), 200);
        assert_eq!(resp.headers()["content-type"], "application/json");
        let body: Value = resp.json().await.expect("a JSON body");
        let response = body["Response"].clone();
        assert!(response["RequestId"].is_string(), "no RequestId in {body}");
        response
    }

    /// Calls `action` and expects success.
    pub async fn ok(&self, action: &str, params: Value) -> Value {
        let response = self.response(&Req::new(action, params.clone())).await;
        assert!(
            response.get("Error").is_none(),
            "{action} {params} failed: {response}"
        );
        response
    }

    /// Calls `action`, retrying while the instance is locked by an earlier task (or the retries
    /// are throttled), as a client must; expects success.
    pub async fn ok_unlocked(&self, action: &str, params: Value) -> Value {
        for _ in 0..100 {
            let response = self.response(&Req::new(action, params.clone())).await;
            let code = error_code(&response);
            if code != "FailedOperation.ResourceInOperating" && code != "RequestLimitExceeded" {
                assert!(code.is_empty(), "{action} {params} failed: {response}");
                return response;
            }
            tokio::time::sleep(Duration::from_millis(60)).await;
        }
        panic!("{action}: the instance stayed locked");
    }

    /// Calls `action` and returns the error code (empty on success).
    pub async fn code(&self, action: &str, params: Value) -> String {
        error_code(&self.response(&Req::new(action, params)).await)
    }

    pub async fn admin(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let mut builder = self
            .http
            .request(method, self.url(&format!("/_emulator/{path}")));
        if let Some(body) = body {
            builder = builder.json(&body);
        }
        let resp = builder.send().await.expect("admin answers");
        assert!(
            resp.status().is_success(),
            "admin {path}: {}",
            resp.status()
        );
        resp.json().await.expect("admin JSON")
    }

    /// Polls DescribeTaskStatus until the task is over; returns its final status.
    pub async fn wait_clb_task(&self, task_id: &str) -> i64 {
        for _ in 0..100 {
            let r = self
                .ok("DescribeTaskStatus", json!({"TaskId": task_id}))
                .await;
            let status = r["Status"].as_i64().unwrap();
            if status != 2 {
                return status;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("task {task_id} never finished");
    }

    /// Polls DescribeTaskResult until the EIP task is over; returns its result.
    pub async fn wait_eip_task(&self, task_id: &str) -> String {
        let id: u64 = task_id.parse().expect("numeric TaskId");
        for _ in 0..100 {
            let r = self.ok("DescribeTaskResult", json!({"TaskId": id})).await;
            let result = r["Result"].as_str().unwrap().to_string();
            if result != "RUNNING" {
                return result;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("EIP task {task_id} never finished");
    }
}

pub fn error_code(response: &Value) -> String {
    response["Error"]["Code"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}
