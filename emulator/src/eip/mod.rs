//! EIPs (VPC version 2017-03-12): allocation with quotas, status transitions, task results.
pub mod bind;
pub mod describe;

use std::net::Ipv4Addr;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::clb::ms;
use crate::dispatch::Ctx;
use crate::error::{ApiError, ApiResult};
use crate::state::RegionState;
use crate::tasks::{Task, TaskKind, TaskStatus};
use crate::util::{day_of, random_id};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum AddressStatus {
    Creating,
    Binding,
    Bind,
    Unbinding,
    Unbind,
    Offlining,
}

impl AddressStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Creating => "CREATING",
            Self::Binding => "BINDING",
            Self::Bind => "BIND",
            Self::Unbinding => "UNBINDING",
            Self::Unbind => "UNBIND",
            Self::Offlining => "OFFLINING",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Address {
    pub address_id: String,
    pub address_name: String,
    pub address_ip: String,
    pub address_status: AddressStatus,
    /// `CVM` or `NAT` while bound.
    #[serde(default)]
    pub instance_type: Option<String>,
    #[serde(default)]
    pub instance_id: Option<String>,
    #[serde(default)]
    pub network_interface_id: Option<String>,
    #[serde(default)]
    pub private_address_ip: Option<String>,
    pub internet_charge_type: String,
    pub bandwidth: i64,
    #[serde(default)]
    pub tags: Vec<(String, String)>,
    pub created_ms: i64,
    /// The running task and the status it leads to (`None`: the address goes away).
    #[serde(default)]
    pub pending: Option<Pending>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Pending {
    pub task_id: String,
    pub done_at_ms: i64,
    pub then: Option<AddressStatus>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DailyCount {
    pub day: String,
    pub count: u32,
}

/// Finishes the EIP transitions whose task is over.
pub fn settle(region: &mut RegionState, now_ms: i64) {
    let mut gone = Vec::new();
    for address in region.addresses.values_mut() {
        let Some(p) = &address.pending else { continue };
        if now_ms < p.done_at_ms {
            continue;
        }
        match p.then {
            Some(status) => {
                address.address_status = status;
                if status == AddressStatus::Unbind {
                    address.instance_type = None;
                    address.instance_id = None;
                    address.network_interface_id = None;
                    address.private_address_ip = None;
                }
                address.pending = None;
            }
            None => gone.push(address.address_id.clone()),
        }
    }
    for id in gone {
        region.addresses.remove(&id);
    }
}

/// Public IPs come from TEST-NET-2 then TEST-NET-1 (RFC 5737): documentation addresses only.
fn free_public_ip(region: &RegionState) -> Option<Ipv4Addr> {
    let used = |ip: &Ipv4Addr| {
        let ip = ip.to_string();
        region.addresses.values().any(|a| a.address_ip == ip)
    };
    [[198, 51, 100], [192, 0, 2]]
        .iter()
        .flat_map(|[a, b, c]| (1..=254).map(move |d| Ipv4Addr::new(*a, *b, *c, d)))
        .find(|ip| !used(ip))
}

impl Ctx<'_> {
    /// Starts an EIP task on `addresses`, leading each to `then`; returns the TaskId.
    pub fn start_eip_task(
        &mut self,
        addresses: &[String],
        during: AddressStatus,
        then: Option<AddressStatus>,
    ) -> String {
        let done_at = self.now_ms + ms(self.settings.eip_task_latency_ms);
        let task_id = self.tasks.add_eip(Task {
            kind: TaskKind::Eip,
            region: self.region_name.to_string(),
            resource_ids: addresses.to_vec(),
            deal_name: None,
            created_ms: self.now_ms,
            done_at_ms: done_at,
            failed: false,
        });
        for id in addresses {
            if let Some(a) = self.region.addresses.get_mut(id) {
                a.address_status = during;
                a.pending = Some(Pending {
                    task_id: task_id.clone(),
                    done_at_ms: done_at,
                    then,
                });
            }
        }
        task_id
    }

    /// The address, checked to be idle (no task running on it).
    pub fn idle_address(&mut self, id: &str) -> ApiResult<&mut Address> {
        if !id.starts_with("eip-") {
            return Err(ApiError::new(
                "InvalidParameterValue.AddressIdMalformed",
                format!("Address id {id} is malformed."),
            ));
        }
        let address = self.region.addresses.get_mut(id).ok_or_else(|| {
            ApiError::new(
                "InvalidAddressId.NotFound",
                format!("Address {id} does not exist."),
            )
        })?;
        if address.pending.is_some() {
            return Err(ApiError::new(
                "OperationDenied.MutexTaskRunning",
                format!("A task is running on address {id}; retry later."),
            ));
        }
        Ok(address)
    }

    fn allocations_today(&self) -> u32 {
        let d = &self.region.eip_allocations;
        if d.day == day_of(self.now_ms) {
            d.count
        } else {
            0
        }
    }
}

pub fn status_not_permitted(id: &str, status: AddressStatus, wanted: &str) -> ApiError {
    ApiError::new(
        "InvalidAddressIdStatus.NotPermit",
        format!(
            "Address {id} is {}; this needs it {wanted}.",
            status.as_str()
        ),
    )
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct TagInput {
    key: String,
    value: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct AllocateAddressesRequest {
    address_count: Option<i64>,
    internet_charge_type: Option<String>,
    internet_max_bandwidth_out: Option<i64>,
    address_name: Option<String>,
    #[serde(default)]
    tags: Vec<TagInput>,
}

pub fn allocate(ctx: &mut Ctx<'_>, req: AllocateAddressesRequest) -> ApiResult<Value> {
    let count = req.address_count.unwrap_or(1);
    if !(1..=100).contains(&count) {
        return Err(ApiError::range("AddressCount", count, 1, 100));
    }
    let count = u32::try_from(count).unwrap_or(u32::MAX);
    let quota = ctx.settings.eip_quota;
    let existing = u32::try_from(ctx.region.addresses.len()).unwrap_or(u32::MAX);
    if existing.saturating_add(count) > quota {
        return Err(ApiError::new(
            "AddressQuotaLimitExceeded",
            format!(
                "The account has {existing} EIPs; {count} more would exceed the quota of {quota}."
            ),
        ));
    }
    let today = ctx.allocations_today();
    let daily = ctx.settings.daily_allocate_limit();
    if today.saturating_add(count) > daily {
        return Err(ApiError::new(
            "AddressQuotaLimitExceeded.DailyAllocate",
            format!(
                "{today} EIPs were allocated today; {count} more would exceed the daily limit of {daily}."
            ),
        ));
    }
    let mut ids = Vec::new();
    for _ in 0..count {
        let ip = free_public_ip(ctx.region)
            .ok_or_else(|| ApiError::new("ResourceInsufficient", "No public IP is left."))?;
        let id = random_id("eip");
        ctx.region.addresses.insert(
            id.clone(),
            Address {
                address_id: id.clone(),
                address_name: req.address_name.clone().unwrap_or_default(),
                address_ip: ip.to_string(),
                address_status: AddressStatus::Creating,
                instance_type: None,
                instance_id: None,
                network_interface_id: None,
                private_address_ip: None,
                internet_charge_type: req
                    .internet_charge_type
                    .clone()
                    .unwrap_or_else(|| "TRAFFIC_POSTPAID_BY_HOUR".to_string()),
                bandwidth: req.internet_max_bandwidth_out.unwrap_or(1),
                tags: req
                    .tags
                    .iter()
                    .map(|t| (t.key.clone(), t.value.clone().unwrap_or_default()))
                    .collect(),
                created_ms: ctx.now_ms,
                pending: None,
            },
        );
        ids.push(id);
    }
    ctx.region.eip_allocations = crate::eip::DailyCount {
        day: day_of(ctx.now_ms),
        count: today + count,
    };
    let task_id = ctx.start_eip_task(&ids, AddressStatus::Creating, Some(AddressStatus::Unbind));
    Ok(json!({ "AddressSet": ids, "TaskId": task_id }))
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ReleaseAddressesRequest {
    address_ids: Vec<String>,
}

pub fn release(ctx: &mut Ctx<'_>, req: ReleaseAddressesRequest) -> ApiResult<Value> {
    if req.address_ids.is_empty() {
        return Err(ApiError::invalid_value("`AddressIds` must not be empty."));
    }
    if req.address_ids.len() > 100 {
        return Err(ApiError::too_many("AddressIds", 100));
    }
    for id in &req.address_ids {
        let address = ctx.idle_address(id)?;
        if address.address_status != AddressStatus::Unbind {
            return Err(status_not_permitted(id, address.address_status, "UNBIND"));
        }
    }
    let task_id = ctx.start_eip_task(&req.address_ids, AddressStatus::Offlining, None);
    Ok(json!({ "TaskId": task_id }))
}

#[derive(Debug, Deserialize)]
pub struct EmptyRequest {}

pub fn describe_quota(ctx: &mut Ctx<'_>, _req: EmptyRequest) -> ApiResult<Value> {
    Ok(json!({
        "QuotaSet": [
            {"QuotaId": "TOTAL_EIP_QUOTA", "QuotaCurrent": ctx.region.addresses.len(), "QuotaLimit": ctx.settings.eip_quota},
            {"QuotaId": "DAILY_EIP_APPLY", "QuotaCurrent": ctx.allocations_today(), "QuotaLimit": ctx.settings.daily_allocate_limit()},
        ]
    }))
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeTaskResultRequest {
    task_id: Option<u64>,
    deal_name: Option<String>,
}

pub fn describe_task_result(ctx: &mut Ctx<'_>, req: DescribeTaskResultRequest) -> ApiResult<Value> {
    let key = match (req.task_id, req.deal_name) {
        (Some(id), _) => id.to_string(),
        (None, Some(deal)) => deal,
        (None, None) => return Err(ApiError::missing_parameter("TaskId")),
    };
    let task = ctx
        .tasks
        .find(&key)
        .filter(|t| t.kind == TaskKind::Eip)
        .ok_or_else(|| ApiError::new("ResourceNotFound", format!("Task {key} does not exist.")))?;
    let result = match task.status(ctx.now_ms) {
        TaskStatus::Running => "RUNNING",
        TaskStatus::Succeeded => "SUCCESS",
        TaskStatus::Failed => "FAILED",
    };
    let task_id: u64 = key.parse().unwrap_or(0);
    Ok(json!({ "TaskId": task_id, "Result": result }))
}
