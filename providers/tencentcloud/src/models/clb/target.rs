//! Target (backend) actions: (Batch)RegisterTargets, (Batch)DeregisterTargets, DescribeTargets.
use super::Filter;
use crate::models::null_default;
use serde::{Deserialize, Serialize};

/// RegisterTargets: binds up to 20 targets to one listener; async.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct RegisterTargetsRequest {
    pub load_balancer_id: String,
    pub listener_id: String,
    pub targets: Vec<Target>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub domain: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
}

/// Only a RequestId (the task id).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct RegisterTargetsResponse {
    #[serde(default)]
    pub request_id: String,
}

/// DeregisterTargets: unbinds up to 20 targets from one listener; async.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DeregisterTargetsRequest {
    pub load_balancer_id: String,
    pub listener_id: String,
    pub targets: Vec<Target>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub domain: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
}

/// Only a RequestId (the task id).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DeregisterTargetsResponse {
    #[serde(default)]
    pub request_id: String,
}

/// BatchRegisterTargets: binds up to 500 targets across listeners of one (VPC) CLB.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct BatchRegisterTargetsRequest {
    pub load_balancer_id: String,
    pub targets: Vec<BatchTarget>,
}

/// Listeners whose binding failed; empty when all succeeded.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct BatchRegisterTargetsResponse {
    #[serde(default, deserialize_with = "null_default")]
    pub fail_listener_id_set: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    #[serde(default)]
    pub request_id: String,
}

/// BatchDeregisterTargets: unbinds up to 500 targets across listeners of one CLB.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct BatchDeregisterTargetsRequest {
    pub load_balancer_id: String,
    pub targets: Vec<BatchTarget>,
}

/// Listeners whose unbinding failed; empty when all succeeded.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct BatchDeregisterTargetsResponse {
    #[serde(default, deserialize_with = "null_default")]
    pub fail_listener_id_set: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    #[serde(default)]
    pub request_id: String,
}

/// DescribeTargets: the targets bound to the listeners of one CLB.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeTargetsRequest {
    pub load_balancer_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub listener_ids: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protocol: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filters: Option<Vec<Filter>>,
}

/// Listeners with their bound targets.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeTargetsResponse {
    #[serde(default, deserialize_with = "null_default")]
    pub listeners: Vec<ListenerBackend>,
    #[serde(default)]
    pub request_id: String,
}

/// A target to (de)register: `Port` plus exactly one of `InstanceId` (a CVM) or `EniIp` (an ENI IP, e.g. a VPC-CNI Pod IP).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Target {
    /// The backend port.
    #[serde(default, deserialize_with = "null_default")]
    pub port: i64,
    #[serde(rename = "Type", default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// A CVM instance id; cannot address secondary ENI IPs. Set this or `eni_ip`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance_id: Option<String>,
    /// 0-100, default 10; 0 keeps the target bound but sends it no new connections.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weight: Option<i64>,
    /// An IP of an ENI bound to a CVM (VPC-CNI Pod IPs are). Set this or `instance_id`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub eni_ip: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tag: Option<String>,
}

/// A target for the batch actions: like `Target`, plus the listener it belongs to.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct BatchTarget {
    /// The listener the target is bound to.
    #[serde(default, deserialize_with = "null_default")]
    pub listener_id: String,
    /// The backend port.
    #[serde(default, deserialize_with = "null_default")]
    pub port: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub eni_ip: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weight: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tag: Option<String>,
}

/// A listener and its bound targets, as DescribeTargets returns it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListenerBackend {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub listener_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protocol: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<i64>,
    #[serde(default, deserialize_with = "null_default")]
    pub rules: Vec<RuleTargets>,
    #[serde(default, deserialize_with = "null_default")]
    pub targets: Vec<Backend>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_port: Option<i64>,
}

/// The targets of one layer-7 rule.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct RuleTargets {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub domain: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(default, deserialize_with = "null_default")]
    pub targets: Vec<Backend>,
    #[serde(default, deserialize_with = "null_default")]
    pub function_targets: Vec<FunctionTarget>,
}

/// A bound target as returned by DescribeTargets.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Backend {
    #[serde(rename = "Type", default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weight: Option<i64>,
    #[serde(default, deserialize_with = "null_default")]
    pub public_ip_addresses: Vec<String>,
    #[serde(default, deserialize_with = "null_default")]
    pub private_ip_addresses: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registered_time: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub eni_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tag: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zone: Option<String>,
}

/// A cloud function bound as a target.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct FunctionTarget {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub function: Option<FunctionInfo>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weight: Option<i64>,
}

/// The cloud function of a `FunctionTarget`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct FunctionInfo {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub function_namespace: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub function_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub function_qualifier: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub function_qualifier_type: Option<String>,
}
