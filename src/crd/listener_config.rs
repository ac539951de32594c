//! `CLBListenerConfig`: settings for the CLB listeners the controller creates. Field names are
//! the CreateListener API's (its `HealthCheck` and the TCP/UDP listener fields) in camelCase, so
//! the clb provider passes them through and the cloud's documentation applies as is.
use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// CreateListener settings that `DedicatedCLBService` and `DedicatedCLBListener` name in
/// `listenerConfig`. Unset fields take the cloud's defaults.
// clippy takes the repeated `printcolumn(type_ = ...)` for duplicated attributes.
#[allow(clippy::duplicated_attributes)]
#[derive(CustomResource, KubeSchema, Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[kube(
    group = "networking.cloud.tencent.com",
    version = "v1alpha1",
    kind = "CLBListenerConfig",
    namespaced,
    derive = "PartialEq",
    shortname = "clc",
    category = "dedicated-address",
    doc = "CLB CreateListener settings (health check, scheduler, session persistence) for the listeners that name it",
    printcolumn(name = "Scheduler", type_ = "string", json_path = ".spec.scheduler"),
    printcolumn(
        name = "HealthCheck",
        type_ = "integer",
        json_path = ".spec.healthCheck.healthSwitch"
    ),
    printcolumn(
        name = "SessionExpire",
        type_ = "integer",
        json_path = ".spec.sessionExpireTime"
    ),
    printcolumn(
        name = "Age",
        type_ = "date",
        json_path = ".metadata.creationTimestamp"
    )
)]
#[serde(rename_all = "camelCase")]
pub struct CLBListenerConfigSpec {
    /// Health check of the listener's targets.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health_check: Option<HealthCheck>,

    /// How the listener spreads connections: `WRR` (cloud default) or `LEAST_CONN`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scheduler: Option<Scheduler>,

    /// Session persistence in seconds: 0 (off, cloud default) or 30-3600.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(validation = Rule::new("self == 0 || (self >= 30 && self <= 3600)")
        .message("sessionExpireTime is 0 (off) or 30-3600 seconds"))]
    pub session_expire_time: Option<i32>,

    /// `NORMAL` (default) or `QUIC_CID` (UDP listeners with scheduler WRR only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_type: Option<SessionType>,

    /// Reschedule connections when a target is deregistered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deregister_target_rst: Option<bool>,

    /// Idle connection timeout in seconds (TCP default 900, UDP default 300).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 10, max = 1980))]
    pub idle_connect_timeout: Option<i32>,

    /// Maximum concurrent connections of the listener; -1 unlimited (capacity-type CLBs only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = -1))]
    pub max_conn: Option<i64>,

    /// Maximum new connections per second of the listener; -1 unlimited (capacity-type CLBs
    /// only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = -1))]
    pub max_cps: Option<i64>,

    /// Replace the client's source IP (SNAT); off by default, which passes it through.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snat_enable: Option<bool>,
}

/// The `HealthCheck` of CreateListener.
#[derive(KubeSchema, Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[x_kube(
    validation = Rule::new("!has(self.timeOut) || !has(self.intervalTime) || self.timeOut < self.intervalTime")
        .message("timeOut must be less than intervalTime"),
    validation = Rule::new("!has(self.checkType) || self.checkType != 'CUSTOM' || (has(self.contextType) && has(self.sendContext) && has(self.recvContext))")
        .message("checkType CUSTOM needs contextType, sendContext and recvContext"),
    validation = Rule::new("!has(self.checkType) || self.checkType != 'HTTP' || has(self.httpVersion)")
        .message("checkType HTTP needs httpVersion")
)]
pub struct HealthCheck {
    /// 1: on, 0: off.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0, max = 1))]
    pub health_switch: Option<i32>,

    /// Response timeout in seconds, 2-60 (default 2); less than `intervalTime`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 2, max = 60))]
    pub time_out: Option<i32>,

    /// Seconds between probes, 2-300 (default 5).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 2, max = 300))]
    pub interval_time: Option<i32>,

    /// Consecutive successes before a target counts as healthy, 2-10 (default 3).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 2, max = 10))]
    pub health_num: Option<i32>,

    /// Consecutive failures before a target counts as unhealthy, 2-10 (default 3).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 2, max = 10))]
    pub un_health_num: Option<i32>,

    /// HTTP checks: bit mask of healthy status classes (1: 1xx ... 16: 5xx), 1-31 (default 31).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 31))]
    pub http_code: Option<i32>,

    /// HTTP checks: the request path.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http_check_path: Option<String>,

    /// HTTP checks: the Host header.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http_check_domain: Option<String>,

    /// HTTP checks: `HEAD` (default) or `GET`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http_check_method: Option<HttpCheckMethod>,

    /// Port to probe; default the target's port (-1 restores the default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = -1, max = 65535))]
    pub check_port: Option<i32>,

    /// CUSTOM checks: how `sendContext` / `recvContext` are written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context_type: Option<ProbeContextType>,

    /// CUSTOM checks: the request to send.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 500))]
    pub send_context: Option<String>,

    /// CUSTOM checks: the expected answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 500))]
    pub recv_context: Option<String>,

    /// Probe protocol: TCP listeners take TCP, HTTP or CUSTOM; UDP listeners PING or CUSTOM.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub check_type: Option<HealthCheckType>,

    /// HTTP checks on TCP listeners: the targets' HTTP version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http_version: Option<HttpVersion>,

    /// Probe source: 0 the CLB's VIP, 1 an address from 100.64.0.0/10.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0, max = 1))]
    pub source_ip_type: Option<i32>,

    /// GRPC checks: healthy status codes, e.g. `12`, `20,25` or `0-99`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extended_code: Option<String>,
}

/// Listener scheduling algorithm.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum Scheduler {
    /// Weighted round robin.
    #[serde(rename = "WRR")]
    Wrr,
    /// Least connections.
    #[serde(rename = "LEAST_CONN")]
    LeastConn,
}

/// Session persistence type.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum SessionType {
    #[serde(rename = "NORMAL")]
    Normal,
    /// By QUIC connection id.
    #[serde(rename = "QUIC_CID")]
    QuicCid,
}

/// Health check probe protocol.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum HealthCheckType {
    #[serde(rename = "TCP")]
    Tcp,
    #[serde(rename = "HTTP")]
    Http,
    #[serde(rename = "HTTPS")]
    Https,
    #[serde(rename = "GRPC")]
    Grpc,
    #[serde(rename = "PING")]
    Ping,
    #[serde(rename = "CUSTOM")]
    Custom,
}

/// HTTP health check method.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum HttpCheckMethod {
    #[serde(rename = "HEAD")]
    Head,
    #[serde(rename = "GET")]
    Get,
}

/// HTTP version of the health-checked targets.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum HttpVersion {
    #[serde(rename = "HTTP/1.0")]
    Http10,
    #[serde(rename = "HTTP/1.1")]
    Http11,
}

/// Encoding of CUSTOM health check payloads.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum ProbeContextType {
    /// Hex digits, an even number of them.
    #[serde(rename = "HEX")]
    Hex,
    #[serde(rename = "TEXT")]
    Text,
}
