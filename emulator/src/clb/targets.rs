//! RegisterTargets, DeregisterTargets, their Batch variants, DescribeTargets.
use serde::Deserialize;
use serde_json::{Value, json};

use super::Backend;
use crate::dispatch::Ctx;
use crate::eni;
use crate::error::{ApiError, ApiResult};
use crate::filters::Filter;
use crate::util::format_time;

const MAX_TARGETS: usize = 20;
const MAX_BATCH_TARGETS: usize = 500;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct TargetInput {
    #[serde(default)]
    listener_id: String,
    port: i64,
    instance_id: Option<String>,
    eni_ip: Option<String>,
    weight: Option<i64>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct TargetsRequest {
    load_balancer_id: String,
    listener_id: String,
    targets: Vec<TargetInput>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct BatchTargetsRequest {
    load_balancer_id: String,
    targets: Vec<TargetInput>,
}

/// Checks one target against the instance's VPC and turns it into a binding.
fn backend(ctx: &Ctx<'_>, vpc_id: &str, t: &TargetInput, path: &str) -> ApiResult<Backend> {
    let instance_id = t.instance_id.clone().filter(|s| !s.is_empty());
    let eni_ip = t.eni_ip.clone().filter(|s| !s.is_empty());
    match (&instance_id, &eni_ip) {
        (Some(_), Some(_)) | (None, None) => {
            return Err(ApiError::invalid_parameter(format!(
                "`{path}` must set exactly one of InstanceId and EniIp."
            )));
        }
        (Some(id), None) if !id.starts_with("ins-") => {
            return Err(ApiError::invalid_value(format!(
                "InstanceId {id} is malformed."
            )));
        }
        (None, Some(ip)) => {
            let vpc = ctx.vpc(vpc_id)?;
            if vpc.cidr.contains_str(ip).is_none() {
                return Err(ApiError::invalid_value(format!(
                    "EniIp {ip} is not an IP of VPC {vpc_id} ({}).",
                    vpc.cidr
                )));
            }
        }
        _ => {}
    }
    if !(1..=65535).contains(&t.port) {
        return Err(ApiError::range(&format!("{path}.Port"), t.port, 1, 65535));
    }
    let weight = t.weight.unwrap_or(10);
    if !(0..=100).contains(&weight) {
        return Err(ApiError::range(&format!("{path}.Weight"), weight, 0, 100));
    }
    Ok(Backend {
        instance_id,
        eni_ip,
        port: t.port,
        weight,
        registered_time_ms: ctx.now_ms,
    })
}

fn describe_target(b: &Backend) -> String {
    let who = b
        .instance_id
        .as_deref()
        .or(b.eni_ip.as_deref())
        .unwrap_or("?");
    format!("{who}:{}", b.port)
}

/// Validates a whole request's targets, refusing duplicates within it.
fn backends(
    ctx: &Ctx<'_>,
    lb_id: &str,
    targets: &[TargetInput],
    max: usize,
) -> ApiResult<Vec<Backend>> {
    if targets.is_empty() {
        return Err(ApiError::invalid_value("`Targets` must not be empty."));
    }
    if targets.len() > max {
        return Err(ApiError::too_many("Targets", max));
    }
    let vpc_id = ctx.load_balancer(lb_id)?.vpc_id.clone();
    let mut out: Vec<Backend> = Vec::new();
    for (i, t) in targets.iter().enumerate() {
        let b = backend(ctx, &vpc_id, t, &format!("Targets.{i}"))?;
        let dup = targets[..i]
            .iter()
            .zip(&out)
            .any(|(prev, pb)| prev.listener_id == t.listener_id && pb.same_target(&b));
        if dup {
            return Err(ApiError::new(
                "InvalidParameterValue.Duplicate",
                format!("Target {} appears twice in `Targets`.", describe_target(&b)),
            ));
        }
        out.push(b);
    }
    Ok(out)
}

pub fn register(ctx: &mut Ctx<'_>, req: TargetsRequest) -> ApiResult<Value> {
    let wanted = backends(ctx, &req.load_balancer_id, &req.targets, MAX_TARGETS)?;
    let lb = ctx.load_balancer_for_write(&req.load_balancer_id)?;
    let listener = lb.listener_mut(&req.listener_id)?;
    if let Some(b) = wanted
        .iter()
        .find(|b| listener.targets.iter().any(|t| t.same_target(b)))
    {
        return Err(ApiError::invalid_parameter(format!(
            "Target {} is already bound to listener {}.",
            describe_target(b),
            req.listener_id
        )));
    }
    listener.targets.extend(wanted);
    ctx.start_clb_task(&[req.load_balancer_id], None);
    Ok(json!({}))
}

pub fn deregister(ctx: &mut Ctx<'_>, req: TargetsRequest) -> ApiResult<Value> {
    let unwanted = backends(ctx, &req.load_balancer_id, &req.targets, MAX_TARGETS)?;
    let lb = ctx.load_balancer_for_write(&req.load_balancer_id)?;
    let listener = lb.listener_mut(&req.listener_id)?;
    if let Some(b) = unwanted
        .iter()
        .find(|b| !listener.targets.iter().any(|t| t.same_target(b)))
    {
        return Err(ApiError::invalid_parameter(format!(
            "Target {} is not bound to listener {}.",
            describe_target(b),
            req.listener_id
        )));
    }
    listener
        .targets
        .retain(|t| !unwanted.iter().any(|b| b.same_target(t)));
    ctx.start_clb_task(&[req.load_balancer_id], None);
    Ok(json!({}))
}

/// The Batch variants answer at once, report listeners that do not exist in
/// `FailListenerIdSet` (with the model's sample message, "Listener lbl-x not exists.") instead
/// of failing, and leave the instance locked for a while: longer after a larger batch
/// (`batch_lock_per_target_ms`, up to `batch_lock_max_ms`). Registering a target already bound
/// is done already; deregistering one that is not bound fails the whole call (the cloud treats
/// it as an error, not a no-op; its code is not documented, `InvalidParameter` is inferred).
fn batch(ctx: &mut Ctx<'_>, req: BatchTargetsRequest, register: bool) -> ApiResult<Value> {
    for (i, t) in req.targets.iter().enumerate() {
        if t.listener_id.is_empty() {
            return Err(ApiError::missing_parameter(&format!(
                "Targets.{i}.ListenerId"
            )));
        }
    }
    let wanted = backends(ctx, &req.load_balancer_id, &req.targets, MAX_BATCH_TARGETS)?;
    let busy_until = ctx.now_ms + ctx.batch_lock_ms(wanted.len());
    let lb = ctx.load_balancer_for_write(&req.load_balancer_id)?;
    if !register {
        let unbound: Vec<String> = req
            .targets
            .iter()
            .zip(&wanted)
            .filter(|(t, b)| {
                lb.listener(&t.listener_id)
                    .is_ok_and(|l| !l.targets.iter().any(|x| x.same_target(b)))
            })
            .map(|(t, b)| format!("{} {}", t.listener_id, describe_target(b)))
            .collect();
        if !unbound.is_empty() {
            return Err(ApiError::invalid_parameter(format!(
                "some targets are not bound: {unbound:?}"
            )));
        }
    }
    let mut failed: Vec<String> = Vec::new();
    for (t, b) in req.targets.iter().zip(wanted) {
        let Ok(listener) = lb.listener_mut(&t.listener_id) else {
            if !failed.contains(&t.listener_id) {
                failed.push(t.listener_id.clone());
            }
            continue;
        };
        listener.targets.retain(|x| !x.same_target(&b));
        if register {
            listener.targets.push(b);
        }
    }
    lb.busy_until_ms = lb.busy_until_ms.max(busy_until);
    let message = failed
        .iter()
        .map(|id| format!("Listener {id} not exists."))
        .collect::<Vec<_>>()
        .join(" ");
    Ok(json!({ "FailListenerIdSet": failed, "Message": message }))
}

pub fn batch_register(ctx: &mut Ctx<'_>, req: BatchTargetsRequest) -> ApiResult<Value> {
    batch(ctx, req, true)
}

pub fn batch_deregister(ctx: &mut Ctx<'_>, req: BatchTargetsRequest) -> ApiResult<Value> {
    batch(ctx, req, false)
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeTargetsRequest {
    load_balancer_id: String,
    listener_ids: Option<Vec<String>>,
    protocol: Option<String>,
    port: Option<i64>,
    #[serde(default)]
    filters: Vec<Filter>,
}

pub fn describe(ctx: &mut Ctx<'_>, req: DescribeTargetsRequest) -> ApiResult<Value> {
    if req
        .listener_ids
        .as_ref()
        .is_some_and(|ids| ids.len() > MAX_TARGETS)
    {
        return Err(ApiError::too_many("ListenerIds", MAX_TARGETS));
    }
    Filter::check_names(
        &req.filters,
        &["private-ip-address", "instance-id"],
        "InvalidParameter.InvalidFilter",
    )?;
    let lb = ctx.load_balancer(&req.load_balancer_id)?;
    let listeners: Vec<Value> = lb
        .listeners
        .iter()
        .filter(|l| {
            req.listener_ids
                .as_ref()
                .is_none_or(|ids| ids.contains(&l.listener_id))
        })
        .filter(|l| req.protocol.as_ref().is_none_or(|p| *p == l.protocol))
        .filter(|l| req.port.is_none_or(|p| p == l.port))
        .map(|l| {
            let targets: Vec<Value> = l
                .targets
                .iter()
                .filter(|t| {
                    Filter::matches(&req.filters, "private-ip-address", t.eni_ip.as_deref())
                })
                .filter(|t| {
                    Filter::matches(&req.filters, "instance-id", Some(&shown_instance_id(t)))
                })
                .map(backend_view)
                .collect();
            json!({
                "ListenerId": l.listener_id,
                "Protocol": l.protocol,
                "Port": l.port,
                "EndPort": l.end_port,
                "Targets": targets,
            })
        })
        .collect();
    Ok(json!({ "Listeners": listeners }))
}

/// The CVM a target is on: the one given, or the one holding its ENI.
fn shown_instance_id(b: &Backend) -> String {
    match b.eni_ip.as_deref().and_then(|ip| ip.parse().ok()) {
        Some(ip) => eni::instance_id_for(ip),
        None => b.instance_id.clone().unwrap_or_default(),
    }
}

/// A binding as the SDK's `Backend` model has it, shaped like the official DescribeTargets
/// examples (tccli `examples.json`): a target bound by `EniIp` is the CVM that holds the ENI,
/// with both `InstanceId` and `EniId` set and `Type` "CVM" (example 1); one bound by
/// `InstanceId` has an empty `EniId` and a lower-case `Type` "cvm" (example 2).
fn backend_view(b: &Backend) -> Value {
    let eni_ip: Option<std::net::Ipv4Addr> = b.eni_ip.as_deref().and_then(|ip| ip.parse().ok());
    let (kind, eni_id) = match eni_ip {
        Some(ip) => ("CVM", eni::eni_id_for(ip)),
        None => ("cvm", String::new()),
    };
    json!({
        "Type": kind,
        "InstanceId": shown_instance_id(b),
        "Port": b.port,
        "Weight": b.weight,
        "PublicIpAddresses": [],
        "PrivateIpAddresses": b.eni_ip.iter().collect::<Vec<_>>(),
        "InstanceName": "",
        "RegisteredTime": format_time(b.registered_time_ms),
        "EniId": eni_id,
    })
}
