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
}

pub fn create(ctx: &mut Ctx<'_>, req: CreateLoadBalancerRequest) -> ApiResult<Value> {
    let number = req.number.unwrap_or(1);
    if !(1..=20).contains(&number) {
        return Err(ApiError::range("Number", number, 1, 20));
    }
    let vpc = match &req.vpc_id {
        Some(id) => ctx.vpc(id)?.clone(),
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
    let ready_at = ctx.now_ms + ms(ctx.settings.task_latency_ms);
    let mut ids = Vec::new();
    for _ in 0..number {
        let vip = {
            let used = ctx
                .region
                .load_balancers
                .values()
                .flat_map(|lb| lb.load_balancer_vips.iter());
            free_vip(req.load_balancer_type, Some(&vpc), used)
                .ok_or_else(|| ApiError::new("ResourceInsufficient", "No free VIP is left."))?
        };
        let id = random_id("lb");
        let lb = LoadBalancer {
            load_balancer_id: id.clone(),
            load_balancer_name: req.load_balancer_name.clone().unwrap_or_else(|| id.clone()),
            load_balancer_type: req.load_balancer_type,
            load_balancer_vips: vec![vip.to_string()],
            vpc_id: vpc.id.clone(),
            tags: req.tags.clone(),
            create_time_ms: ctx.now_ms,
            ready_at_ms: ready_at,
            busy_until_ms: 0,
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
    ctx.start_clb_task(&ids, Some(deal_name.clone()));
    Ok(json!({ "LoadBalancerIds": ids, "DealName": deal_name }))
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DeleteLoadBalancerRequest {
    load_balancer_ids: Vec<String>,
}

pub fn delete(ctx: &mut Ctx<'_>, req: DeleteLoadBalancerRequest) -> ApiResult<Value> {
    if req.load_balancer_ids.is_empty() {
        return Err(ApiError::invalid_value(
            "`LoadBalancerIds` must not be empty.",
        ));
    }
    if req.load_balancer_ids.len() > 20 {
        return Err(ApiError::too_many("LoadBalancerIds", 20));
    }
    for id in &req.load_balancer_ids {
        let lb = ctx
            .region
            .load_balancers
            .get(id)
            .ok_or_else(|| lb_not_found(id))?;
        check_unlocked(id, lb.busy_until_ms, ctx.now_ms)?;
    }
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

/// An instance as the SDK's `LoadBalancer` model has it.
fn load_balancer_view(lb: &LoadBalancer, now_ms: i64) -> Value {
    json!({
        "LoadBalancerId": lb.load_balancer_id,
        "LoadBalancerName": lb.load_balancer_name,
        "LoadBalancerType": lb.load_balancer_type.as_str(),
        "Forward": 1,
        "Domain": "",
        "LoadBalancerVips": lb.load_balancer_vips,
        "Status": lb.status(now_ms),
        "CreateTime": format_time(lb.create_time_ms),
        "StatusTime": format_time(lb.ready_at_ms.min(now_ms)),
        "ProjectId": 0,
        "VpcId": lb.vpc_id,
        "Tags": lb.tags,
        "AddressIPVersion": "ipv4",
        "ChargeType": "POSTPAID_BY_HOUR",
        "TargetCount": lb.listeners.iter().map(|l| l.targets.len()).sum::<usize>(),
    })
}
