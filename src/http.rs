//! The operations endpoints: `/metrics`, `/healthz` (the process is alive) and `/readyz`: a
//! leader is ready once its controllers' caches are synced; a follower is ready while it can
//! read the leader lease, i.e. while it could take over.
use crate::metrics::Metrics;
use axum::{Router, extract::State, http::StatusCode, routing::get};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// What `/readyz` answers: the process's role and whether it is fit for it.
#[derive(Clone, Default)]
pub struct Readiness(Arc<ReadinessState>);

#[derive(Default)]
pub struct ReadinessState {
    leading: AtomicBool,
    /// Leader: caches synced. Follower: the last read of the lease succeeded.
    fit: AtomicBool,
}

impl Readiness {
    /// Leading, with every controller's watch caches synced.
    pub fn set_ready(&self) {
        self.0.leading.store(true, Ordering::Release);
        self.0.fit.store(true, Ordering::Release);
    }

    /// Leading, caches not synced yet.
    pub fn set_leading(&self) {
        self.0.leading.store(true, Ordering::Release);
        self.0.fit.store(false, Ordering::Release);
    }

    /// Following; `lease_readable`: the last look at the lease got an answer.
    pub fn set_following(&self, lease_readable: bool) {
        self.0.leading.store(false, Ordering::Release);
        self.0.fit.store(lease_readable, Ordering::Release);
    }

    pub fn is_ready(&self) -> bool {
        self.0.fit.load(Ordering::Acquire)
    }

    fn answer(&self) -> (StatusCode, &'static str) {
        match (self.0.leading.load(Ordering::Acquire), self.is_ready()) {
            (true, true) => (StatusCode::OK, "leader"),
            (true, false) => (
                StatusCode::SERVICE_UNAVAILABLE,
                "leader; caches not synced yet",
            ),
            (false, true) => (StatusCode::OK, "follower"),
            (false, false) => (
                StatusCode::SERVICE_UNAVAILABLE,
                "follower; cannot read the leader lease",
            ),
        }
    }
}

#[derive(Clone)]
struct AppState {
    metrics: Metrics,
    readiness: Readiness,
}

pub fn router(metrics: Metrics, readiness: Readiness) -> Router {
    Router::new()
        .route("/metrics", get(render_metrics))
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(ready))
        .with_state(AppState { metrics, readiness })
}

async fn render_metrics(
    State(state): State<AppState>,
) -> ([(&'static str, &'static str); 1], String) {
    let content_type = "application/openmetrics-text; version=1.0.0; charset=utf-8";
    ([("content-type", content_type)], state.metrics.render())
}

async fn ready(State(state): State<AppState>) -> (StatusCode, &'static str) {
    state.readiness.answer()
}
