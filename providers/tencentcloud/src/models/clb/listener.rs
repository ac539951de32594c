//! Listener actions: CreateListener, DeleteListener, DeleteLoadBalancerListeners,
//! DescribeListeners, ModifyListener.
use super::{
    BasicTargetGroupInfo, CertificateInput, CertificateOutput, HealthCheck, MultiCertInfo,
    RuleOutput,
};
use crate::models::null_default;
use serde::{Deserialize, Serialize};

/// CreateListener: one listener per entry of `Ports` (the cloud refuses 50 or more per call); async, the RequestId is the task id.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreateListenerRequest {
    pub load_balancer_id: String,
    /// One listener per port, at most 49 per call (1-65535).
    pub ports: Vec<i64>,
    /// TCP, UDP, TCP_SSL, QUIC, HTTP or HTTPS.
    pub protocol: String,
    /// Names in the order of `ports`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub listener_names: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health_check: Option<HealthCheck>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificate: Option<CertificateInput>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_expire_time: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scheduler: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sni_switch: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keepalive_enable: Option<i64>,
    /// Makes a port-range listener from `ports[0]` to this port.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_port: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deregister_target_rst: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub multi_cert_info: Option<MultiCertInfo>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_conn: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_cps: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idle_connect_timeout: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proxy_protocol: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snat_enable: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub full_end_ports: Option<Vec<i64>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub h2c_switch: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ssl_close_switch: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_compress_mode: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reschedule_target_zero_weight: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reschedule_unhealthy: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reschedule_expand_target: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reschedule_start_time: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reschedule_interval: Option<i64>,
}

/// The new listener ids, in the order of `Ports`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreateListenerResponse {
    #[serde(default, deserialize_with = "null_default")]
    pub listener_ids: Vec<String>,
    #[serde(default)]
    pub request_id: String,
}

/// DeleteListener: removes one listener; async.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DeleteListenerRequest {
    pub load_balancer_id: String,
    pub listener_id: String,
}

/// Only a RequestId (the task id).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DeleteListenerResponse {
    #[serde(default)]
    pub request_id: String,
}

/// DeleteLoadBalancerListeners: removes up to 20 listeners; `ListenerIds: None` removes **all** of them; async.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DeleteLoadBalancerListenersRequest {
    pub load_balancer_id: String,
    /// At most 20. `None` deletes every listener of the CLB.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub listener_ids: Option<Vec<String>>,
}

/// Only a RequestId (the task id).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DeleteLoadBalancerListenersResponse {
    #[serde(default)]
    pub request_id: String,
}

/// DescribeListeners: the listeners of one CLB, optionally narrowed by ids, protocol or port.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeListenersRequest {
    pub load_balancer_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub listener_ids: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protocol: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<i64>,
}

/// Listeners found, and their total count.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeListenersResponse {
    #[serde(default, deserialize_with = "null_default")]
    pub listeners: Vec<Listener>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total_count: Option<i64>,
    #[serde(default)]
    pub request_id: String,
}

/// A listener as DescribeListeners returns it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Listener {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub listener_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protocol: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificate: Option<CertificateOutput>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health_check: Option<HealthCheck>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scheduler: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_expire_time: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sni_switch: Option<i64>,
    #[serde(default, deserialize_with = "null_default")]
    pub rules: Vec<RuleOutput>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub listener_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub create_time: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_port: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_group: Option<BasicTargetGroupInfo>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keepalive_enable: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub toa: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deregister_target_rst: Option<bool>,
    #[serde(default, deserialize_with = "null_default")]
    pub attr_flags: Vec<String>,
    #[serde(default, deserialize_with = "null_default")]
    pub target_group_list: Vec<BasicTargetGroupInfo>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_conn: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_cps: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idle_connect_timeout: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reschedule_interval: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_compress_mode: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reschedule_start_time: Option<i64>,
}

/// ModifyListener: changes the settings of one listener (name, health check, scheduler,
/// session persistence, ...); async, the RequestId is the task id, and the instance is locked
/// until it ends.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ModifyListenerRequest {
    pub load_balancer_id: String,
    pub listener_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub listener_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_expire_time: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health_check: Option<HealthCheck>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificate: Option<CertificateInput>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scheduler: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sni_switch: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keepalive_enable: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deregister_target_rst: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub multi_cert_info: Option<MultiCertInfo>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_conn: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_cps: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idle_connect_timeout: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proxy_protocol: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snat_enable: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_compress_mode: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reschedule_target_zero_weight: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reschedule_unhealthy: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reschedule_expand_target: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reschedule_start_time: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reschedule_interval: Option<i64>,
}

/// Only a RequestId (the task id).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ModifyListenerResponse {
    #[serde(default)]
    pub request_id: String,
}
