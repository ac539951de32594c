//! CLB (version 2018-03-17): instances, listeners, targets, quota and task status.
pub mod instances;
pub mod listeners;
pub mod targets;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::config::LoadBalancerType;
use crate::dispatch::Ctx;
use crate::error::{ApiError, ApiResult};
use crate::tasks::{Task, TaskKind, TaskStatus, check_unlocked};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct LoadBalancer {
    pub load_balancer_id: String,
    pub load_balancer_name: String,
    pub load_balancer_type: LoadBalancerType,
    pub load_balancer_vips: Vec<String>,
    /// A domain-based CLB's name (`LoadBalancerDomain`); empty for a VIP-based one.
    #[serde(default)]
    pub load_balancer_domain: String,
    /// An IPv6 CLB's address (`AddressIPv6`); such a CLB lists no `LoadBalancerVips`.
    #[serde(default)]
    pub address_ipv6: Option<String>,
    pub vpc_id: String,
    #[serde(default)]
    pub tags: Vec<TagInfo>,
    pub create_time_ms: i64,
    /// `Status` is 0 (creating) until then, 1 (running) after.
    pub ready_at_ms: i64,
    /// The instance lock: writes before this time get `ResourceInOperating`.
    #[serde(default)]
    pub busy_until_ms: i64,
    /// In creation order, as the cloud lists them.
    #[serde(default)]
    pub listeners: Vec<Listener>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct TagInfo {
    pub tag_key: String,
    pub tag_value: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Listener {
    pub listener_id: String,
    pub protocol: String,
    pub port: i64,
    /// Last port of a port-range listener, 0 otherwise.
    #[serde(default)]
    pub end_port: i64,
    #[serde(default)]
    pub listener_name: String,
    /// As sent in CreateListener (already checked against the SDK's HealthCheck model).
    #[serde(default)]
    pub health_check: Option<Value>,
    pub scheduler: String,
    pub session_expire_time: i64,
    /// `NORMAL` or `QUIC_CID`.
    #[serde(default = "normal")]
    pub session_type: String,
    #[serde(default)]
    pub deregister_target_rst: bool,
    #[serde(default)]
    pub idle_connect_timeout: Option<i64>,
    #[serde(default)]
    pub max_conn: Option<i64>,
    #[serde(default)]
    pub max_cps: Option<i64>,
    pub create_time_ms: i64,
    #[serde(default)]
    pub targets: Vec<Backend>,
}

fn normal() -> String {
    "NORMAL".to_string()
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Backend {
    /// Exactly one of `instance_id` and `eni_ip` is set.
    #[serde(default)]
    pub instance_id: Option<String>,
    #[serde(default)]
    pub eni_ip: Option<String>,
    pub port: i64,
    pub weight: i64,
    pub registered_time_ms: i64,
}

impl Backend {
    /// What makes two targets the same binding: the machine and the port.
    pub fn same_target(&self, other: &Backend) -> bool {
        self.instance_id == other.instance_id
            && self.eni_ip == other.eni_ip
            && self.port == other.port
    }
}

impl Listener {
    /// TCP-family and UDP-family listeners may share a port number; within a family they may not.
    pub fn family(protocol: &str) -> &'static str {
        match protocol {
            "UDP" | "QUIC" => "udp",
            _ => "tcp",
        }
    }

    pub fn last_port(&self) -> i64 {
        self.end_port.max(self.port)
    }
}

impl LoadBalancer {
    pub fn status(&self, now_ms: i64) -> u8 {
        u8::from(now_ms >= self.ready_at_ms)
    }

    pub fn listener(&self, id: &str) -> ApiResult<&Listener> {
        self.listeners
            .iter()
            .find(|l| l.listener_id == id)
            .ok_or_else(|| listener_not_found(id))
    }

    pub fn listener_mut(&mut self, id: &str) -> ApiResult<&mut Listener> {
        self.listeners
            .iter_mut()
            .find(|l| l.listener_id == id)
            .ok_or_else(|| listener_not_found(id))
    }
}

pub fn listener_not_found(id: &str) -> ApiError {
    ApiError::new(
        "InvalidParameter.ListenerIdNotFound",
        format!("Listener {id} does not exist."),
    )
}

impl Ctx<'_> {
    /// How long a batch target call of `targets` targets leaves the instance locked.
    pub fn batch_lock_ms(&self, targets: usize) -> i64 {
        ms(self.settings.batch_lock_for(targets))
    }

    pub fn load_balancer(&self, id: &str) -> ApiResult<&LoadBalancer> {
        self.region
            .load_balancers
            .get(id)
            .ok_or_else(|| lb_not_found(id))
    }

    /// The instance, for a write: it must exist and not be locked by a running task.
    pub fn load_balancer_for_write(&mut self, id: &str) -> ApiResult<&mut LoadBalancer> {
        let now = self.now_ms;
        let lb = self
            .region
            .load_balancers
            .get_mut(id)
            .ok_or_else(|| lb_not_found(id))?;
        check_unlocked(id, lb.busy_until_ms, now)?;
        Ok(lb)
    }

    /// Starts the asynchronous task of a CLB write: its id is this call's RequestId and it
    /// locks the instances until it finishes.
    pub fn start_clb_task(&mut self, lb_ids: &[String], deal_name: Option<String>) {
        let done_at = self.now_ms + ms(self.settings.clb_task_ms());
        self.start_clb_task_until(lb_ids, deal_name, done_at);
    }

    /// The same, for a task that ends at `done_at` (creating an instance takes longer).
    pub fn start_clb_task_until(
        &mut self,
        lb_ids: &[String],
        deal_name: Option<String>,
        done_at: i64,
    ) {
        for id in lb_ids {
            if let Some(lb) = self.region.load_balancers.get_mut(id) {
                lb.busy_until_ms = lb.busy_until_ms.max(done_at);
            }
        }
        let task = Task {
            kind: TaskKind::Clb,
            region: self.region_name.to_string(),
            resource_ids: lb_ids.to_vec(),
            deal_name,
            created_ms: self.now_ms,
            done_at_ms: done_at,
            failed: false,
        };
        self.tasks.add_clb(self.request_id, task);
    }
}

pub fn ms(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX / 4)
}

pub fn lb_not_found(id: &str) -> ApiError {
    ApiError::new(
        "InvalidParameter.LBIdNotFound",
        format!("Load balancer {id} does not exist."),
    )
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeTaskStatusRequest {
    task_id: Option<String>,
    deal_name: Option<String>,
}

pub fn describe_task_status(ctx: &mut Ctx<'_>, req: DescribeTaskStatusRequest) -> ApiResult<Value> {
    let key = req
        .task_id
        .or(req.deal_name)
        .ok_or_else(|| ApiError::missing_parameter("TaskId"))?;
    let task = ctx
        .tasks
        .find(&key)
        .filter(|t| t.kind == TaskKind::Clb)
        .ok_or_else(|| ApiError::new("ResourceNotFound", format!("Task {key} does not exist.")))?;
    let (status, message) = match task.status(ctx.now_ms) {
        TaskStatus::Succeeded => (0, "success"),
        TaskStatus::Failed => (1, "failed"),
        TaskStatus::Running => (2, "running"),
    };
    Ok(json!({
        "Status": status,
        "LoadBalancerIds": task.resource_ids,
        "Message": message,
    }))
}

#[derive(Debug, Deserialize)]
pub struct Empty {}

pub fn describe_quota(ctx: &mut Ctx<'_>, _req: Empty) -> ApiResult<Value> {
    let count = |t: LoadBalancerType| {
        ctx.region
            .load_balancers
            .values()
            .filter(|lb| lb.load_balancer_type == t)
            .count()
    };
    let s = ctx.settings;
    Ok(json!({
        "QuotaSet": [
            {"QuotaId": "TOTAL_OPEN_CLB_QUOTA", "QuotaCurrent": count(LoadBalancerType::Open), "QuotaLimit": s.open_clb_quota},
            {"QuotaId": "TOTAL_INTERNAL_CLB_QUOTA", "QuotaCurrent": count(LoadBalancerType::Internal), "QuotaLimit": s.internal_clb_quota},
            // Per instance, so the cloud reports no current value.
            {"QuotaId": "TOTAL_LISTENER_QUOTA", "QuotaCurrent": null, "QuotaLimit": s.listener_quota},
        ]
    }))
}
