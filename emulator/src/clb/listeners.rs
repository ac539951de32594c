//! CreateListener, DeleteListener, DeleteLoadBalancerListeners, DescribeListeners.
use serde::Deserialize;
use serde_json::{Value, json};

use super::Listener;
use crate::dispatch::Ctx;
use crate::error::{ApiError, ApiResult};
use crate::util::{format_time, random_id};

const PROTOCOLS: [&str; 6] = ["TCP", "UDP", "TCP_SSL", "QUIC", "HTTP", "HTTPS"];
const SCHEDULERS: [&str; 3] = ["WRR", "LEAST_CONN", "IP_HASH"];
/// The cloud refuses 50 ports in one CreateListener ("Length of .Ports should be less than
/// 50", as tke-extend-network-controller quotes it in `pkg/clb/batch-listener.go`).
const MAX_PORTS_PER_CALL: usize = 49;

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
    #[serde(flatten)]
    options: ListenerOptions,
}

/// Settings CreateListener and ModifyListener share, beyond health check, scheduler and
/// session persistence.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListenerOptions {
    session_type: Option<String>,
    deregister_target_rst: Option<bool>,
    idle_connect_timeout: Option<i64>,
    max_conn: Option<i64>,
    max_cps: Option<i64>,
}

impl ListenerOptions {
    fn check(&self) -> ApiResult<()> {
        if let Some(t) = &self.session_type
            && !["NORMAL", "QUIC_CID"].contains(&t.as_str())
        {
            return Err(ApiError::invalid_value(format!(
                "SessionType {t} is not one of NORMAL, QUIC_CID."
            )));
        }
        if let Some(t) = self.idle_connect_timeout
            && !(10..=1980).contains(&t)
        {
            return Err(ApiError::range("IdleConnectTimeout", t, 10, 1980));
        }
        for (name, value) in [("MaxConn", self.max_conn), ("MaxCps", self.max_cps)] {
            if let Some(v) = value
                && v < -1
            {
                return Err(ApiError::range(name, v, -1, i64::MAX));
            }
        }
        Ok(())
    }

    /// Writes the settings given onto `l`; the others keep their values.
    fn apply(self, l: &mut Listener) {
        if let Some(t) = self.session_type {
            l.session_type = t;
        }
        if let Some(rst) = self.deregister_target_rst {
            l.deregister_target_rst = rst;
        }
        l.idle_connect_timeout = self.idle_connect_timeout.or(l.idle_connect_timeout);
        l.max_conn = self.max_conn.or(l.max_conn);
        l.max_cps = self.max_cps.or(l.max_cps);
    }
}

fn check_scheduler(scheduler: &str) -> ApiResult<()> {
    if !SCHEDULERS.contains(&scheduler) {
        return Err(ApiError::invalid_value(format!(
            "Scheduler {scheduler} is not supported."
        )));
    }
    Ok(())
}

fn check_session_expire_time(t: i64) -> ApiResult<()> {
    if t != 0 && !(30..=3600).contains(&t) {
        return Err(ApiError::range("SessionExpireTime", t, 30, 3600));
    }
    Ok(())
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
        // The message is the cloud's; its code is not recorded anywhere we could find, and
        // `InvalidParameter` is the one the SDK lists for malformed parameters (inferred).
        return Err(ApiError::invalid_parameter(format!(
            "Length of .Ports should be less than {}",
            MAX_PORTS_PER_CALL + 1
        )));
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
    check_scheduler(&scheduler)?;
    let session_expire_time = req.session_expire_time.unwrap_or(0);
    check_session_expire_time(session_expire_time)?;
    req.options.check()?;

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
        let mut listener = Listener {
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
            session_type: "NORMAL".to_string(),
            deregister_target_rst: false,
            idle_connect_timeout: None,
            max_conn: None,
            max_cps: None,
            create_time_ms: now,
            targets: Vec::new(),
        };
        ListenerOptions {
            session_type: req.options.session_type.clone(),
            deregister_target_rst: req.options.deregister_target_rst,
            idle_connect_timeout: req.options.idle_connect_timeout,
            max_conn: req.options.max_conn,
            max_cps: req.options.max_cps,
        }
        .apply(&mut listener);
        lb.listeners.push(listener);
        ids.push(id);
    }
    ctx.start_clb_task(&[req.load_balancer_id], None);
    Ok(json!({ "ListenerIds": ids }))
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ModifyListenerRequest {
    load_balancer_id: String,
    listener_id: String,
    listener_name: Option<String>,
    health_check: Option<Value>,
    session_expire_time: Option<i64>,
    scheduler: Option<String>,
    #[serde(flatten)]
    options: ListenerOptions,
}

/// ModifyListener: changes the settings given and keeps the others; a `HealthCheck` is merged
/// field by field into the one the listener has (how the cloud treats a partial one is not
/// documented; merging is inferred). Async: a task that locks the instance, like every write.
pub fn modify(ctx: &mut Ctx<'_>, req: ModifyListenerRequest) -> ApiResult<Value> {
    if let Some(s) = &req.scheduler {
        check_scheduler(s)?;
    }
    if let Some(t) = req.session_expire_time {
        check_session_expire_time(t)?;
    }
    if let Some(name) = &req.listener_name
        && !(1..=80).contains(&name.chars().count())
    {
        return Err(ApiError::new(
            "InvalidParameterValue.Length",
            "`ListenerName` must be 1-80 characters.",
        ));
    }
    req.options.check()?;
    let lb = ctx.load_balancer_for_write(&req.load_balancer_id)?;
    let listener = lb.listener_mut(&req.listener_id)?;
    if let Some(name) = req.listener_name {
        listener.listener_name = name;
    }
    if let Some(Value::Object(given)) = req.health_check {
        let mut merged = match listener.health_check.take() {
            Some(Value::Object(current)) => current,
            _ => serde_json::Map::new(),
        };
        merged.extend(given);
        listener.health_check = Some(Value::Object(merged));
    }
    if let Some(s) = req.scheduler {
        listener.scheduler = s;
    }
    if let Some(t) = req.session_expire_time {
        listener.session_expire_time = t;
    }
    req.options.apply(listener);
    ctx.start_clb_task(&[req.load_balancer_id], None);
    Ok(json!({}))
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
            // One unknown id fails the whole call with plain InvalidParameter, as upstream
            // matches it ("some ListenerId ... not found", pkg/clb/error.go); the others stay.
            let missing: Vec<&str> = ids
                .iter()
                .filter(|id| lb.listener(id).is_err())
                .map(String::as_str)
                .collect();
            if !missing.is_empty() {
                return Err(ApiError::invalid_parameter(format!(
                    "some ListenerId {missing:?} not found"
                )));
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
        "SessionType": l.session_type,
        "KeepaliveEnable": 0,
        "Toa": false,
        "DeregisterTargetRst": l.deregister_target_rst,
        "IdleConnectTimeout": l.idle_connect_timeout,
        "MaxConn": l.max_conn,
        "MaxCps": l.max_cps,
        "AttrFlags": [],
    })
}
