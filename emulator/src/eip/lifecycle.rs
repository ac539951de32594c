//! AllocateAddresses, ReleaseAddresses, DescribeAddressQuota, DescribeTaskResult.
use serde::Deserialize;
use serde_json::{Value, json};

use super::{Address, AddressStatus, DailyCount, free_public_ip};
use crate::dispatch::Ctx;
use crate::error::{ApiError, ApiResult};
use crate::idempotency::Replay;
use crate::tasks::{TaskKind, TaskStatus};
use crate::util::{day_of, random_id};

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
    client_token: Option<String>,
}

/// AllocateAddresses. A repeated `ClientToken` gets the first call's answer, or
/// `UnsupportedOperation.IdempotentProcessing` while its allocation task still runs
/// ([`crate::idempotency`]; inferred).
pub fn allocate(ctx: &mut Ctx<'_>, req: AllocateAddressesRequest) -> ApiResult<Value> {
    if let Some(token) = &req.client_token {
        let replay =
            ctx.region
                .client_tokens
                .check("AllocateAddresses", token, ctx.now_ms, true)?;
        if let Replay::Answer(answer) = replay {
            return Ok(answer);
        }
    }
    if let Some(name) = &req.address_name {
        check_address_name(name)?;
    }
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
    ctx.region.eip_allocations = DailyCount {
        day: day_of(ctx.now_ms),
        count: today + count,
    };
    let task_id = ctx.start_eip_task(&ids, AddressStatus::Creating, Some(AddressStatus::Unbind));
    let answer = json!({ "AddressSet": ids, "TaskId": task_id });
    if let Some(token) = &req.client_token {
        let done_at = ctx
            .tasks
            .find(&task_id)
            .map_or(ctx.now_ms, |t| t.done_at_ms);
        let now = ctx.now_ms;
        ctx.region
            .client_tokens
            .record("AllocateAddresses", token, answer.clone(), done_at, now);
    }
    Ok(answer)
}

/// The cloud's limit of an EIP name (tccli `api.json`, ModifyAddressAttribute).
const MAX_ADDRESS_NAME: usize = 128;

/// `AddressName`: at most 128 characters; letters (CJK too), digits, `-` and `_`, no spaces.
fn check_address_name(name: &str) -> ApiResult<()> {
    if name.chars().count() > MAX_ADDRESS_NAME {
        return Err(ApiError::new(
            "InvalidParameterValue.TooLong",
            format!("`AddressName` is longer than {MAX_ADDRESS_NAME} characters."),
        ));
    }
    if let Some(bad) = name
        .chars()
        .find(|c| !(c.is_alphanumeric() || *c == '-' || *c == '_'))
    {
        return Err(ApiError::invalid_value(format!(
            "`AddressName` may not contain {bad:?}."
        )));
    }
    Ok(())
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ModifyAddressAttributeRequest {
    address_id: String,
    address_name: Option<String>,
}

/// ModifyAddressAttribute: renames an EIP, synchronously (the answer is only a RequestId).
/// Not while a task runs on it (`OperationDenied.MutexTaskRunning`), nor once it is being
/// released (`UnsupportedOperation.AddressStatusNotPermit`).
pub fn modify_attribute(ctx: &mut Ctx<'_>, req: ModifyAddressAttributeRequest) -> ApiResult<Value> {
    if let Some(name) = &req.address_name {
        check_address_name(name)?;
    }
    let status = ctx.idle_address(&req.address_id)?.address_status;
    if status == AddressStatus::Offlining {
        return Err(ctx.status_not_permitted(
            "ModifyAddressAttribute",
            &req.address_id,
            status,
            "not OFFLINING",
        ));
    }
    let address = ctx.idle_address(&req.address_id)?;
    if let Some(name) = req.address_name {
        address.address_name = name;
    }
    Ok(json!({}))
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
        let status = ctx.idle_address(id)?.address_status;
        if status != AddressStatus::Unbind {
            return Err(ctx.status_not_permitted("ReleaseAddresses", id, status, "UNBIND"));
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
