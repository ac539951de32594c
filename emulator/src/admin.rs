//! The admin API under `/_emulator/`: state, reset, faults, settings and rate limits.
//!
//! - `GET  state`: the whole cloud state as JSON.
//! - `POST reset`: back to the config (state, faults, settings, rate limits).
//! - `GET  faults`, `POST faults` (one rule or an array; answers their ids),
//!   `DELETE faults` (all), `DELETE faults/{id}`.
//! - `GET  settings`, `POST settings` (a partial object: only the keys given change).
//! - `GET  rate-limits`, `POST rate-limits` (`{"Action": perSecond}` merged in; 0 = unlimited,
//!   `null` removes an override).
//! - `POST nat-gateways/{id}`: `{"state": "UPDATING", "forMs": 2000}` shows the gateway in
//!   that state (for that long, or until changed again) and makes DNAT writes on it busy;
//!   `{"state": "AVAILABLE"}` ends it.
//! - `GET  healthz`.
use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use serde_json::{Value, json};

use crate::config::Settings;
use crate::faults::FaultRule;
use crate::server::{Shared, lock};

type AppState = State<Arc<Shared>>;

pub fn router() -> Router<Arc<Shared>> {
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/state", get(state))
        .route("/reset", post(reset))
        .route(
            "/faults",
            get(list_faults).post(add_faults).delete(clear_faults),
        )
        .route("/faults/{id}", delete(remove_fault))
        .route("/settings", get(get_settings).post(set_settings))
        .route("/rate-limits", get(get_rate_limits).post(set_rate_limits))
        .route("/nat-gateways/{id}", post(set_nat_gateway_state))
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct GatewayStateChange {
    state: String,
    #[serde(default)]
    for_ms: Option<u64>,
}

const GATEWAY_STATES: [&str; 7] = [
    "AVAILABLE",
    "PENDING",
    "DELETING",
    "UPDATING",
    "PENDFAILURE",
    "DELETEFAILURE",
    "DENIED",
];

async fn set_nat_gateway_state(
    State(shared): AppState,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    let change: GatewayStateChange = match serde_json::from_slice(&body) {
        Ok(c) => c,
        Err(e) => return bad_request(format!("expected {{\"state\": .., \"forMs\": ..}}: {e}")),
    };
    if !GATEWAY_STATES.contains(&change.state.as_str()) {
        return bad_request(format!("state must be one of {GATEWAY_STATES:?}"));
    }
    let now = crate::util::now_ms();
    let mut state = lock(&shared.state);
    let found = state
        .regions
        .values_mut()
        .find_map(|r| r.nat_gateways.get_mut(&id));
    let Some(nat) = found else {
        return (
            StatusCode::NOT_FOUND,
            Json(json!({"error": format!("no NAT gateway {id}")})),
        )
            .into_response();
    };
    nat.busy = (change.state != "AVAILABLE").then(|| crate::natgw::GatewayState {
        state: change.state.clone(),
        until_ms: change
            .for_ms
            .map(|ms| now + i64::try_from(ms).unwrap_or(i64::MAX / 4)),
    });
    drop(state);
    shared.mark_dirty();
    Json(json!({"id": id, "state": change.state})).into_response()
}

fn bad_request(message: impl std::fmt::Display) -> Response {
    (
        StatusCode::BAD_REQUEST,
        Json(json!({"error": message.to_string()})),
    )
        .into_response()
}

fn parse(body: &Bytes) -> Result<Value, String> {
    serde_json::from_slice(body).map_err(|e| format!("invalid JSON: {e}"))
}

async fn state(State(shared): AppState) -> Json<Value> {
    Json(shared.state_json())
}

async fn reset(State(shared): AppState) -> Json<Value> {
    shared.reset();
    Json(json!({"reset": true}))
}

async fn list_faults(State(shared): AppState) -> Json<Value> {
    Json(json!({"faults": lock(&shared.faults).list()}))
}

async fn add_faults(State(shared): AppState, body: Bytes) -> Response {
    let value = match parse(&body) {
        Ok(v) => v,
        Err(e) => return bad_request(e),
    };
    let items = match value {
        Value::Array(items) => items,
        one => vec![one],
    };
    let mut rules = Vec::new();
    for item in items {
        let rule: FaultRule = match serde_json::from_value(item) {
            Ok(rule) => rule,
            Err(e) => return bad_request(format!("invalid fault rule: {e}")),
        };
        if let Err(e) = rule.check() {
            return bad_request(e);
        }
        rules.push(rule);
    }
    let mut faults = lock(&shared.faults);
    let ids: Vec<u64> = rules.into_iter().map(|r| faults.add(r)).collect();
    Json(json!({"ids": ids})).into_response()
}

async fn clear_faults(State(shared): AppState) -> Json<Value> {
    lock(&shared.faults).clear();
    Json(json!({"faults": []}))
}

async fn remove_fault(State(shared): AppState, Path(id): Path<u64>) -> Response {
    if lock(&shared.faults).remove(id) {
        Json(json!({"removed": id})).into_response()
    } else {
        (
            StatusCode::NOT_FOUND,
            Json(json!({"error": format!("no fault {id}")})),
        )
            .into_response()
    }
}

async fn get_settings(State(shared): AppState) -> Json<Value> {
    Json(serde_json::to_value(&*lock(&shared.settings)).unwrap_or_default())
}

async fn set_settings(State(shared): AppState, body: Bytes) -> Response {
    let changes = match parse(&body) {
        Ok(Value::Object(changes)) => changes,
        Ok(_) => return bad_request("settings must be a JSON object"),
        Err(e) => return bad_request(e),
    };
    let mut settings = lock(&shared.settings);
    // Merge into the current settings and read back, so that serde checks names and types.
    let mut merged = serde_json::to_value(&*settings).unwrap_or_default();
    if let Some(map) = merged.as_object_mut() {
        map.extend(changes);
    }
    match serde_json::from_value::<Settings>(merged) {
        Ok(new) => {
            *settings = new;
            Json(serde_json::to_value(&*settings).unwrap_or_default()).into_response()
        }
        Err(e) => bad_request(format!("invalid settings: {e}")),
    }
}

async fn get_rate_limits(State(shared): AppState) -> Json<Value> {
    Json(json!(lock(&shared.limiter).overrides()))
}

async fn set_rate_limits(State(shared): AppState, body: Bytes) -> Response {
    let changes: BTreeMap<String, Option<f64>> = match serde_json::from_slice(&body) {
        Ok(c) => c,
        Err(e) => return bad_request(format!("expected {{\"Action\": perSecond}}: {e}")),
    };
    let mut limiter = lock(&shared.limiter);
    let mut overrides = limiter.overrides().clone();
    for (action, rate) in changes {
        match rate {
            Some(r) if r.is_finite() && r >= 0.0 => {
                overrides.insert(action, r);
            }
            Some(r) => return bad_request(format!("rate of {action} must be >= 0, not {r}")),
            None => {
                overrides.remove(&action);
            }
        }
    }
    limiter.set_overrides(overrides);
    Json(json!(limiter.overrides())).into_response()
}
