//! Waiting for async tasks: CLB writes (DescribeTaskStatus) and EIP actions (DescribeTaskResult).
use std::future::Future;
use std::time::Duration;

use tokio::time::Instant;

use crate::client::Client;
use crate::error::{Error, Result};
use crate::models::clb::{DescribeTaskStatusRequest, DescribeTaskStatusResponse};
use crate::models::vpc::{DescribeTaskResultRequest, DescribeTaskResultResponse};

/// How often a task is polled: starting at `initial_interval`, doubling up to `max_interval`.
/// Short tasks (most CLB writes finish within a second) are seen done quickly, long ones
/// (creating a CLB takes about 10 s) do not cost a poll every few hundred milliseconds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskPollConfig {
    pub initial_interval: Duration,
    pub max_interval: Duration,
}

impl Default for TaskPollConfig {
    fn default() -> Self {
        Self {
            initial_interval: Duration::from_millis(300),
            max_interval: Duration::from_secs(3),
        }
    }
}

/// What one poll saw.
enum Poll<T> {
    Done(T),
    Failed(String),
    Running,
}

impl Client {
    /// Waits until the CLB task `request_id` (the RequestId of an async CLB call) finishes.
    /// Returns the last DescribeTaskStatus answer on success (`Status` 0), `TaskFailed` on
    /// `Status` 1, and `TaskTimeout` if it is still running (`Status` 2) at `deadline`.
    pub async fn wait_clb_task(
        &self,
        region: &str,
        request_id: &str,
        deadline: Instant,
    ) -> Result<DescribeTaskStatusResponse> {
        let req = DescribeTaskStatusRequest {
            task_id: Some(request_id.to_string()),
            ..Default::default()
        };
        self.poll_until("clb", request_id, deadline, || async {
            let resp = self.describe_task_status(region, &req).await?;
            Ok(match resp.status {
                Some(0) => Poll::Done(resp),
                Some(1) => Poll::Failed(resp.message.unwrap_or_default()),
                _ => Poll::Running,
            })
        })
        .await
    }

    /// Waits until the VPC task `task_id` finishes. The EIP actions return the id as a string
    /// but DescribeTaskResult takes an integer, so it is parsed here (an id that is not a number
    /// is an `InvalidRequest`). `Result` SUCCESS returns the answer, FAILED gives `TaskFailed`.
    pub async fn wait_vpc_task(
        &self,
        region: &str,
        task_id: &str,
        deadline: Instant,
    ) -> Result<DescribeTaskResultResponse> {
        let numeric: i64 = task_id.trim().parse().map_err(|_| {
            Error::InvalidRequest(format!("VPC task id {task_id:?} is not an integer"))
        })?;
        let req = DescribeTaskResultRequest {
            task_id: Some(numeric),
            ..Default::default()
        };
        self.poll_until("vpc", task_id, deadline, || async {
            let resp = self.describe_task_result(region, &req).await?;
            Ok(match resp.result.as_deref() {
                Some("SUCCESS") => Poll::Done(resp),
                Some("FAILED") => Poll::Failed("Result FAILED".to_string()),
                _ => Poll::Running,
            })
        })
        .await
    }

    async fn poll_until<T, F, Fut>(
        &self,
        service: &'static str,
        task_id: &str,
        deadline: Instant,
        mut poll: F,
    ) -> Result<T>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<Poll<T>>>,
    {
        let config = self.task_poll_config();
        let mut interval = config.initial_interval;
        loop {
            match poll().await? {
                Poll::Done(resp) => return Ok(resp),
                Poll::Failed(message) => {
                    return Err(Error::TaskFailed {
                        service,
                        task_id: task_id.to_string(),
                        message,
                    });
                }
                Poll::Running => {}
            }
            let now = Instant::now();
            if now >= deadline {
                return Err(Error::TaskTimeout {
                    service,
                    task_id: task_id.to_string(),
                });
            }
            // The last poll lands on the deadline rather than after it.
            tokio::time::sleep(interval.min(deadline - now)).await;
            interval = (interval * 2).min(config.max_interval);
        }
    }
}
