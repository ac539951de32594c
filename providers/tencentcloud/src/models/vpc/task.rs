//! DescribeTaskResult, the async task state of VPC (EIP) actions.
use serde::{Deserialize, Serialize};

/// DescribeTaskResult: the state of an async VPC task. The API takes `TaskId` as an integer although the EIP actions return it as a string.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeTaskResultRequest {
    /// The `TaskId` string of the EIP action, parsed: the API rejects a string here.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task_id: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deal_name: Option<String>,
}

/// `Result`: SUCCESS, FAILED or RUNNING.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeTaskResultResponse {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task_id: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<String>,
    #[serde(default)]
    pub request_id: String,
}
