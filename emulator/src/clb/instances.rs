//! CreateLoadBalancer, DeleteLoadBalancer, DescribeLoadBalancers.
use std::collections::BTreeSet;
use std::net::Ipv4Addr;

use serde::Deserialize;
use serde_json::{Value, json};

use super::{LoadBalancer, TagInfo, lb_not_found, ms};
use crate::config::{LoadBalancerType, VpcConfig};
use crate::dispatch::Ctx;
use crate::error::{ApiError, ApiResult};
use crate::filters::Filter;
use crate::idempotency::Replay;
use crate::tasks::check_unlocked;
use crate::util::{format_time, page, random_id};

/// Public VIPs come from TEST-NET-3 (RFC 5737): documentation addresses, never real hosts.
const PUBLIC_VIP_BASE: [u8; 3] = [203, 0, 113];

/// The first free public VIP, or an internal one taken from the top of the VPC's block (far from
/// the Pod IPs a test cluster hands out from the bottom).
pub fn free_vip<'a>(
    lb_type: LoadBalancerType,
    vpc: Option<&VpcConfig>,
    used: impl Iterator<Item = &'a String>,
) -> Option<Ipv4Addr> {
    let used: BTreeSet<&String> = used.collect();
    let candidates: Vec<Ipv4Addr> = match (lb_type, vpc) {
        (LoadBalancerType::Open, _) => (1..=254)
            .map(|d| {
                Ipv4Addr::new(
                    PUBLIC_VIP_BASE[0],
                    PUBLIC_VIP_BASE[1],
                    PUBLIC_VIP_BASE[2],
                    d,
                )
            })
            .collect(),
        (LoadBalancerType::Internal, Some(vpc)) => (2..=1000)
            .map(|k| Ipv4Addr::from(u32::from(vpc.cidr.last()).saturating_sub(k)))
            .filter(|ip| vpc.cidr.contains(*ip))
            .collect(),
        (LoadBalancerType::Internal, None) => Vec::new(),
    };
    candidates
        .into_iter()
        .find(|ip| !used.contains(&ip.to_string()))
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreateLoadBalancerRequest {
    load_balancer_type: LoadBalancerType,
    load_balancer_name: Option<String>,
    vpc_id: Option<String>,
    number: Option<i64>,
    #[serde(default)]
    tags: Vec<TagInfo>,
    client_token: Option<String>,
    #[serde(rename = "AddressIPVersion")]
    address_ip_version: Option<String>,
    dynamic_vip: Option<bool>,
}

/// The most instances one call creates, and the most tags one carries (tccli `api.json`).
const MAX_NUMBER: i64 = 20;
const MAX_TAGS: usize = 20;
/// How many instances a region may delete within five minutes without `ForceDelete`.
const DELETIONS_PER_FIVE_MINUTES: usize = 30;
/// Targets from which a non-forced delete is refused.
const RISKY_TARGETS: usize = 20;

/// IPv6 CLB addresses come from 2001:db8::/32 (RFC 3849): documentation addresses only.
fn free_ipv6<'a>(used: impl Iterator<Item = &'a Option<String>>) -> Option<String> {
    let used: BTreeSet<&str> = used.filter_map(|a| a.as_deref()).collect();
    (1..=0xffffu16)
        .map(|n| format!("2001:db8::{n:x}"))
        .find(|ip| !used.contains(ip.as_str()))
}

/// A new instance's name: the requested one when it creates one instance and no other has it
/// (otherwise "the system generates one", as the API doc says), else its id.
fn instance_name(ctx: &Ctx<'_>, req: &CreateLoadBalancerRequest, id: &str) -> String {
    match &req.load_balancer_name {
        Some(name)
            if req.number.unwrap_or(1) == 1
                && !ctx
                    .region
                    .load_balancers
                    .values()
                    .any(|lb| lb.load_balancer_name == *name) =>
        {
            name.clone()
        }
        _ => id.to_string(),
    }
}

/// CreateLoadBalancer: `Number` instances (default 1, at most 20) within the type's quota
/// (`TOTAL_OPEN_CLB_QUOTA` / `TOTAL_INTERNAL_CLB_QUOTA`); `Status` 0 until its task ends
/// (`load_balancer_create_ms`, else `task_latency_ms`), locked meanwhile. `DynamicVip` makes a
/// domain-based CLB, `AddressIPVersion` IPV6 / IPv6FullChain an IPv6 one. A repeated
/// `ClientToken` returns the first answer ([`crate::idempotency`]).
pub fn create(ctx: &mut Ctx<'_>, req: CreateLoadBalancerRequest) -> ApiResult<Value> {
    if let Some(token) = &req.client_token {
        let replay =
            ctx.region
                .client_tokens
                .check("CreateLoadBalancer", token, ctx.now_ms, false)?;
        if let Replay::Answer(answer) = replay {
            return Ok(answer);
        }
    }
    let number = req.number.unwrap_or(1);
    if !(1..=MAX_NUMBER).contains(&number) {
        return Err(ApiError::range("Number", number, 1, MAX_NUMBER));
    }
    if req.tags.len() > MAX_TAGS {
        return Err(ApiError::too_many("Tags", MAX_TAGS));
    }
    let ipv6 = match req
        .address_ip_version
        .as_deref()
        .map(str::to_ascii_lowercase)
    {
        None => false,
        Some(v) if v == "ipv4" => false,
        Some(v) if v == "ipv6" || v == "ipv6fullchain" => true,
        Some(other) => {
            return Err(ApiError::invalid_value(format!(
                "AddressIPVersion {other} is not one of IPV4, IPV6, IPv6FullChain."
            )));
        }
    };
    let vpc = match &req.vpc_id {
        Some(id) => ctx.vpc(id)?.clone(),
        None if req.load_balancer_type == LoadBalancerType::Internal => {
            return Err(ApiError::missing_parameter("VpcId"));
        }
        None => ctx
            .region_config
            .vpcs
            .first()
            .cloned()
            .ok_or_else(|| ApiError::invalid_value("This region has no VPC; pass `VpcId`."))?,
    };
    let quota = match req.load_balancer_type {
        LoadBalancerType::Open => ctx.settings.open_clb_quota,
        LoadBalancerType::Internal => ctx.settings.internal_clb_quota,
    };
    let existing = ctx
        .region
        .load_balancers
        .values()
        .filter(|lb| lb.load_balancer_type == req.load_balancer_type)
        .count();
    if existing as i64 + number > i64::from(quota) {
        return Err(ApiError::new(
            "LimitExceeded",
            format!(
                "{number} more {} instances would exceed the quota of {quota}.",
                req.load_balancer_type.as_str()
            ),
        ));
    }
    let create_ms = ctx
        .settings
        .load_balancer_create_ms
        .unwrap_or_else(|| ctx.settings.clb_task_ms());
    let ready_at = ctx.now_ms + ms(create_ms);
    let mut ids = Vec::new();
    for _ in 0..number {
        let id = random_id("lb");
        let domain = if req.dynamic_vip == Some(true) {
            let suffix: String = ctx
                .request_id
                .chars()
                .filter(char::is_ascii_hexdigit)
                .take(16)
                .collect();
            format!("{id}-{suffix}.clb.{}.tencentclb.com", ctx.region_name)
        } else {
            String::new()
        };
        let address_ipv6 =
            if ipv6 {
                let used = ctx
                    .region
                    .load_balancers
                    .values()
                    .map(|lb| &lb.address_ipv6);
                Some(free_ipv6(used).ok_or_else(|| {
                    ApiError::new("ResourceInsufficient", "No IPv6 address is left.")
                })?)
            } else {
                None
            };
        let vip = if domain.is_empty() && address_ipv6.is_none() {
            let used = ctx
                .region
                .load_balancers
                .values()
                .flat_map(|lb| lb.load_balancer_vips.iter());
            let vip = free_vip(req.load_balancer_type, Some(&vpc), used)
                .ok_or_else(|| ApiError::new("ResourceInsufficient", "No free VIP is left."))?;
            vec![vip.to_string()]
        } else {
            Vec::new()
        };
        let lb = LoadBalancer {
            load_balancer_id: id.clone(),
            load_balancer_name: instance_name(ctx, &req, &id),
            load_balancer_type: req.load_balancer_type,
            load_balancer_vips: vip,
            load_balancer_domain: domain,
            address_ipv6,
            vpc_id: vpc.id.clone(),
            tags: req.tags.clone(),
            create_time_ms: ctx.now_ms,
            ready_at_ms: ready_at,
            // Nothing can be written to it while it is created.
            busy_until_ms: ready_at,
            listeners: Vec::new(),
        };
        ctx.region.load_balancers.insert(id.clone(), lb);
        ids.push(id);
    }
    // Deal names look like `20240501` + a serial; the RequestId keeps them unique.
    let serial: String = ctx
        .request_id
        .chars()
        .filter(char::is_ascii_hexdigit)
        .take(8)
        .collect();
    let deal_name = format!(
        "{}{serial}",
        crate::util::day_of(ctx.now_ms).replace('-', "")
    );
    ctx.start_clb_task_until(&ids, Some(deal_name.clone()), ready_at);
    let answer = json!({ "LoadBalancerIds": ids, "DealName": deal_name });
    if let Some(token) = &req.client_token {
        let now = ctx.now_ms;
        ctx.region
            .client_tokens
            .record("CreateLoadBalancer", token, answer.clone(), ready_at, now);
    }
    Ok(answer)
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DeleteLoadBalancerRequest {
    load_balancer_ids: Vec<String>,
    force_delete: Option<bool>,
}

/// DeleteLoadBalancer: up to 20 instances, with their listeners and targets (the API doc:
/// "listeners and rules are deleted with it, its backends unbound"); async. Without
/// `ForceDelete` the doc says the cloud intercepts deleting an instance with 20 or more bound
/// targets (`FailedOperation.TargetNumCheckRisk`) and the 30th deletion in a region within 5
/// minutes (`FailedOperation.FrequencyCheckRisk`); the traffic check (> 10 Mbps,
/// `FailedOperation.TrafficCheckRisk`) is not modelled.
pub fn delete(ctx: &mut Ctx<'_>, req: DeleteLoadBalancerRequest) -> ApiResult<Value> {
    if req.load_balancer_ids.is_empty() {
        return Err(ApiError::invalid_value(
            "`LoadBalancerIds` must not be empty.",
        ));
    }
    if req.load_balancer_ids.len() > MAX_NUMBER as usize {
        return Err(ApiError::too_many("LoadBalancerIds", MAX_NUMBER as usize));
    }
    let forced = req.force_delete == Some(true);
    for id in &req.load_balancer_ids {
        let lb = ctx
            .region
            .load_balancers
            .get(id)
            .ok_or_else(|| lb_not_found(id))?;
        check_unlocked(id, lb.busy_until_ms, ctx.now_ms)?;
        let targets: usize = lb.listeners.iter().map(|l| l.targets.len()).sum();
        if !forced && targets >= RISKY_TARGETS {
            return Err(ApiError::new(
                "FailedOperation.TargetNumCheckRisk",
                format!(
                    "Instance {id} has {targets} targets bound; pass ForceDelete to delete it."
                ),
            ));
        }
    }
    let now = ctx.now_ms;
    let deletions = &mut ctx.region.load_balancer_deletions_ms;
    deletions.retain(|t| now - t < 5 * 60_000);
    if !forced && deletions.len() + req.load_balancer_ids.len() >= DELETIONS_PER_FIVE_MINUTES {
        return Err(ApiError::new(
            "FailedOperation.FrequencyCheckRisk",
            "Too many instances were deleted in this region in the last 5 minutes; pass ForceDelete.",
        ));
    }
    deletions.extend(req.load_balancer_ids.iter().map(|_| now));
    for id in &req.load_balancer_ids {
        ctx.region.load_balancers.remove(id);
    }
    ctx.start_clb_task(&req.load_balancer_ids, None);
    Ok(json!({}))
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeLoadBalancersRequest {
    load_balancer_ids: Option<Vec<String>>,
    load_balancer_type: Option<String>,
    load_balancer_name: Option<String>,
    vpc_id: Option<String>,
    offset: Option<i64>,
    limit: Option<i64>,
    #[serde(default)]
    filters: Vec<Filter>,
}

pub fn describe(ctx: &mut Ctx<'_>, req: DescribeLoadBalancersRequest) -> ApiResult<Value> {
    if req
        .load_balancer_ids
        .as_ref()
        .is_some_and(|ids| ids.len() > 20)
    {
        return Err(ApiError::too_many("LoadBalancerIds", 20));
    }
    Filter::check_names(
        &req.filters,
        &["tag-key", "tag:"],
        "InvalidParameter.InvalidFilter",
    )?;
    let matching: Vec<&LoadBalancer> = ctx
        .region
        .load_balancers
        .values()
        .filter(|lb| {
            req.load_balancer_ids
                .as_ref()
                .is_none_or(|ids| ids.contains(&lb.load_balancer_id))
        })
        .filter(|lb| {
            req.load_balancer_type
                .as_ref()
                .is_none_or(|t| t == lb.load_balancer_type.as_str())
        })
        .filter(|lb| {
            req.load_balancer_name
                .as_ref()
                .is_none_or(|n| *n == lb.load_balancer_name)
        })
        .filter(|lb| req.vpc_id.as_ref().is_none_or(|v| *v == lb.vpc_id))
        .filter(|lb| tags_match(&req.filters, &lb.tags))
        .collect();
    let total = matching.len();
    let now = ctx.now_ms;
    let set: Vec<Value> = page(matching, req.offset, req.limit, 100)?
        .into_iter()
        .map(|lb| load_balancer_view(lb, now))
        .collect();
    Ok(json!({ "TotalCount": total, "LoadBalancerSet": set }))
}

fn tags_match(filters: &[Filter], tags: &[TagInfo]) -> bool {
    filters.iter().all(|f| {
        if f.name == "tag-key" {
            tags.iter().any(|t| f.values.contains(&t.tag_key))
        } else if let Some(key) = f.name.strip_prefix("tag:") {
            tags.iter()
                .any(|t| t.tag_key == key && f.values.contains(&t.tag_value))
        } else {
            true
        }
    })
}

/// An instance as the SDK's `LoadBalancer` model has it. A domain-based CLB carries its name
/// in `LoadBalancerDomain` (and the deprecated `Domain`); its VIPs may change and are no longer
/// shown (product docs 214/53828), so the emulator lists none. An IPv6 CLB carries its address
/// in `AddressIPv6` with `AddressIPVersion` "ipv6" and lists no VIP either (what
/// tke-extend-network-controller records of real answers); both are inferred, not documented.
fn load_balancer_view(lb: &LoadBalancer, now_ms: i64) -> Value {
    let (ip_version, ipv6_mode) = match lb.address_ipv6 {
        Some(_) => ("ipv6", json!("IPv6FullChain")),
        None => ("ipv4", Value::Null),
    };
    json!({
        "LoadBalancerId": lb.load_balancer_id,
        "LoadBalancerName": lb.load_balancer_name,
        "LoadBalancerType": lb.load_balancer_type.as_str(),
        "Forward": 1,
        "Domain": lb.load_balancer_domain,
        "LoadBalancerDomain": lb.load_balancer_domain,
        "LoadBalancerVips": lb.load_balancer_vips,
        "AddressIPv6": lb.address_ipv6,
        "IPv6Mode": ipv6_mode,
        "Status": lb.status(now_ms),
        "CreateTime": format_time(lb.create_time_ms),
        "StatusTime": format_time(lb.ready_at_ms.min(now_ms)),
        "ProjectId": 0,
        "VpcId": lb.vpc_id,
        "Tags": lb.tags,
        "AddressIPVersion": ip_version,
        "ChargeType": "POSTPAID_BY_HOUR",
        "TargetCount": lb.listeners.iter().map(|l| l.targets.len()).sum::<usize>(),
    })
}
