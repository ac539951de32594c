//! CreateListener, DeleteListener, DeleteLoadBalancerListeners, DescribeListeners.
use serde::Deserialize;
use serde_json::{Value, json};

use super::Listener;
use crate::dispatch::Ctx;
use crate::error::{ApiError, ApiResult};
use crate::util::{format_time, random_id};

const PROTOCOLS: [&str; 6] = ["TCP", "UDP", "TCP_SSL", "QUIC", "HTTP", "HTTPS"];
const SCHEDULERS: [&str; 3] = ["WRR", "LEAST_CONN", "IP_HASH"];
const MAX_PORTS_PER_CALL: usize = 50;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreateListenerRequest {
    load_balancer_id: String,
    ports: Vec<i64>,
    protocol: String,
    listener_names: Option<Vec<String>>,
    health_check: Option<Value>,
    session_expire_time: Option<i64>,
    scheduler: Option<String>,
    end_port: Option<i64>,
}

fn check_port(path: &str, port: i64) -> ApiResult<()> {
    if !(1..=65535).contains(&port) {
        return Err(ApiError::range(path, port, 1, 65535));
    }
    Ok(())
}

fn port_conflict(port: i64, protocol: &str) -> ApiError {
    ApiError::new(
        "InvalidParameter.PortCheckFailed",
        format!("Port {port} is already used by a {protocol}-family listener of this instance."),
    )
}

pub fn create(ctx: &mut Ctx<'_>, req: CreateListenerRequest) -> ApiResult<Value> {
    let quota = usize::try_from(ctx.settings.listener_quota).unwrap_or(usize::MAX);
    let now = ctx.now_ms;
    if !PROTOCOLS.contains(&req.protocol.as_str()) {
        return Err(ApiError::new(
            "InvalidParameter.ProtocolCheckFailed",
            format!("Protocol {} is not one of {PROTOCOLS:?}.", req.protocol),
        ));
    }
    if req.ports.is_empty() {
        return Err(ApiError::invalid_value("`Ports` must not be empty."));
    }
    if req.ports.len() > MAX_PORTS_PER_CALL {
        return Err(ApiError::too_many("Ports", MAX_PORTS_PER_CALL));
    }
    for (i, port) in req.ports.iter().enumerate() {
        check_port(&format!("Ports.{i}"), *port)?;
    }
    let end_port = req.end_port.unwrap_or(0);
    if end_port != 0 {
        check_port("EndPort", end_port)?;
        if req.ports.len() != 1
            || end_port <= req.ports[0]
            || !["TCP", "UDP"].contains(&req.protocol.as_str())
        {
            return Err(ApiError::invalid_value(
                "A port-range listener needs one TCP or UDP port in `Ports` below `EndPort`.",
            ));
        }
    }
    if let Some(names) = &req.listener_names
        && names.len() != req.ports.len()
    {
        return Err(ApiError::new(
            "InvalidParameterValue.Length",
            "`ListenerNames` must have as many entries as `Ports`.",
        ));
    }
    let scheduler = req.scheduler.unwrap_or_else(|| "WRR".to_string());
    if !SCHEDULERS.contains(&scheduler.as_str()) {
        return Err(ApiError::invalid_value(format!(
            "Scheduler {scheduler} is not supported."
        )));
    }
    let session_expire_time = req.session_expire_time.unwrap_or(0);
    if session_expire_time != 0 && !(30..=3600).contains(&session_expire_time) {
        return Err(ApiError::range(
            "SessionExpireTime",
            session_expire_time,
            30,
            3600,
        ));
    }

    let lb = ctx.load_balancer_for_write(&req.load_balancer_id)?;
    let family = Listener::family(&req.protocol);
    let mut wanted: Vec<(i64, i64)> = Vec::new();
    for port in &req.ports {
        let last = if end_port != 0 { end_port } else { *port };
        let overlaps = |a: i64, b: i64| *port <= b && a <= last;
        let taken = lb
            .listeners
            .iter()
            .any(|l| Listener::family(&l.protocol) == family && overlaps(l.port, l.last_port()));
        if taken || wanted.iter().any(|(a, b)| overlaps(*a, *b)) {
            return Err(port_conflict(*port, family));
        }
        wanted.push((*port, last));
    }
    if lb.listeners.len() + req.ports.len() > quota {
        return Err(ApiError::new(
            "LimitExceeded",
            format!(
                "Instance {} has {} listeners; {} more would exceed the quota of {quota}.",
                lb.load_balancer_id,
                lb.listeners.len(),
                req.ports.len()
            ),
        ));
    }
    let mut ids = Vec::new();
    for (i, port) in req.ports.iter().enumerate() {
        let id = random_id("lbl");
        lb.listeners.push(Listener {
            listener_id: id.clone(),
            protocol: req.protocol.clone(),
            port: *port,
            end_port,
            listener_name: req
                .listener_names
                .as_ref()
                .map(|n| n[i].clone())
                .unwrap_or_default(),
            health_check: req.health_check.clone(),
            scheduler: scheduler.clone(),
            session_expire_time,
            create_time_ms: now,
            targets: Vec::new(),
        });
        ids.push(id);
    }
    ctx.start_clb_task(&[req.load_balancer_id], None);
    Ok(json!({ "ListenerIds": ids }))
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DeleteListenerRequest {
    load_balancer_id: String,
    listener_id: String,
}

pub fn delete(ctx: &mut Ctx<'_>, req: DeleteListenerRequest) -> ApiResult<Value> {
    let lb = ctx.load_balancer_for_write(&req.load_balancer_id)?;
    lb.listener(&req.listener_id)?;
    lb.listeners.retain(|l| l.listener_id != req.listener_id);
    ctx.start_clb_task(&[req.load_balancer_id], None);
    Ok(json!({}))
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DeleteLoadBalancerListenersRequest {
    load_balancer_id: String,
    listener_ids: Option<Vec<String>>,
}

pub fn delete_many(ctx: &mut Ctx<'_>, req: DeleteLoadBalancerListenersRequest) -> ApiResult<Value> {
    if req.listener_ids.as_ref().is_some_and(|ids| ids.len() > 20) {
        return Err(ApiError::too_many("ListenerIds", 20));
    }
    let lb = ctx.load_balancer_for_write(&req.load_balancer_id)?;
    match &req.listener_ids {
        // Omitted: every listener of the instance goes.
        None if lb.listeners.is_empty() => {
            return Err(ApiError::new(
                "FailedOperation.NoListenerInLB",
                format!("Instance {} has no listeners.", req.load_balancer_id),
            ));
        }
        None => lb.listeners.clear(),
        Some(ids) => {
            for id in ids {
                lb.listener(id)?;
            }
            lb.listeners.retain(|l| !ids.contains(&l.listener_id));
        }
    }
    ctx.start_clb_task(&[req.load_balancer_id], None);
    Ok(json!({}))
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeListenersRequest {
    load_balancer_id: String,
    listener_ids: Option<Vec<String>>,
    protocol: Option<String>,
    port: Option<i64>,
}

pub fn describe(ctx: &mut Ctx<'_>, req: DescribeListenersRequest) -> ApiResult<Value> {
    if req.listener_ids.as_ref().is_some_and(|ids| ids.len() > 100) {
        return Err(ApiError::too_many("ListenerIds", 100));
    }
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
        .map(listener_view)
        .collect();
    Ok(json!({ "TotalCount": listeners.len(), "Listeners": listeners }))
}

/// A listener as the SDK's `Listener` model has it.
fn listener_view(l: &Listener) -> Value {
    json!({
        "ListenerId": l.listener_id,
        "Protocol": l.protocol,
        "Port": l.port,
        "EndPort": l.end_port,
        "ListenerName": l.listener_name,
        "HealthCheck": l.health_check,
        "Scheduler": l.scheduler,
        "SessionExpireTime": l.session_expire_time,
        "SniSwitch": 0,
        "CreateTime": format_time(l.create_time_ms),
        "TargetType": "NODE",
        "SessionType": "NORMAL",
        "KeepaliveEnable": 0,
        "Toa": false,
        "DeregisterTargetRst": false,
        "AttrFlags": [],
    })
}
