//! DescribeQuota and DescribeTaskStatus.
use crate::models::null_default;
use serde::{Deserialize, Serialize};

/// DescribeQuota: the CLB quotas of the region (no parameters).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeQuotaRequest {}

/// The quotas, e.g. `TOTAL_LISTENER_QUOTA` (per CLB) and `TOTAL_OPEN_CLB_QUOTA`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeQuotaResponse {
    #[serde(default, deserialize_with = "null_default")]
    pub quota_set: Vec<Quota>,
    #[serde(default)]
    pub request_id: String,
}

/// DescribeTaskStatus: the state of an async CLB task, by `TaskId` (the RequestId of the async call) or `DealName`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeTaskStatusRequest {
    /// The RequestId of the async call.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deal_name: Option<String>,
}

/// `Status`: 0 succeeded, 1 failed, 2 running.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeTaskStatusResponse {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<i64>,
    #[serde(default, deserialize_with = "null_default")]
    pub load_balancer_ids: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    #[serde(default)]
    pub request_id: String,
}

/// One quota: its id, current use and limit.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Quota {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quota_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quota_current: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quota_limit: Option<i64>,
}
