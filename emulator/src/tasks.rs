//! Asynchronous tasks and the CLB instance lock.
//!
//! Nothing runs in the background: a task is a deadline. Until it passes, the task reports
//! "running" and the instances it touches stay locked; reading the state after it reports the
//! outcome. This keeps every request deterministic under one mutex and lets tasks survive in the
//! state file.
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::error::{ApiError, ApiResult};

/// Finished tasks are forgotten after this long, so that the state stays small.
const TASK_RETENTION_MS: i64 = 3_600_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum TaskKind {
    /// A CLB write, polled with DescribeTaskStatus (TaskId = the call's RequestId).
    Clb,
    /// An EIP operation, polled with DescribeTaskResult (numeric TaskId).
    Eip,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Task {
    pub kind: TaskKind,
    pub region: String,
    /// The CLBs or EIPs the task works on.
    pub resource_ids: Vec<String>,
    /// CreateLoadBalancer's DealName, which DescribeTaskStatus accepts instead of the TaskId.
    #[serde(default)]
    pub deal_name: Option<String>,
    pub created_ms: i64,
    pub done_at_ms: i64,
    #[serde(default)]
    pub failed: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TaskStatus {
    Running,
    Succeeded,
    Failed,
}

impl Task {
    pub fn status(&self, now_ms: i64) -> TaskStatus {
        if now_ms < self.done_at_ms {
            TaskStatus::Running
        } else if self.failed {
            TaskStatus::Failed
        } else {
            TaskStatus::Succeeded
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Tasks {
    pub by_id: BTreeMap<String, Task>,
    /// EIP task ids are integers in the API; this is the next one.
    pub next_number: u64,
}

impl Tasks {
    pub fn add_clb(&mut self, id: &str, task: Task) {
        self.by_id.insert(id.to_string(), task);
    }

    /// Registers an EIP task and returns its numeric id (as the API's string `TaskId`).
    pub fn add_eip(&mut self, task: Task) -> String {
        self.next_number = self.next_number.max(100_000).saturating_add(1);
        let id = self.next_number.to_string();
        self.by_id.insert(id.clone(), task);
        id
    }

    pub fn find(&self, id_or_deal: &str) -> Option<&Task> {
        self.by_id.get(id_or_deal).or_else(|| {
            self.by_id
                .values()
                .find(|t| t.deal_name.as_deref() == Some(id_or_deal))
        })
    }

    pub fn prune(&mut self, now_ms: i64) {
        self.by_id
            .retain(|_, t| now_ms - t.done_at_ms < TASK_RETENTION_MS);
    }
}

/// The lock of one CLB instance: `busy_until_ms` is when its last write finishes.
pub fn check_unlocked(lb_id: &str, busy_until_ms: i64, now_ms: i64) -> ApiResult<()> {
    if now_ms < busy_until_ms {
        return Err(ApiError::new(
            "FailedOperation.ResourceInOperating",
            format!("Instance {lb_id} is being operated on by another task; retry later."),
        ));
    }
    Ok(())
}
