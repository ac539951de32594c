//! Starting and stopping the emulator, and what its handlers share.
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use anyhow::Context;
use axum::Router;
use axum::routing::any;
use serde_json::Value;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::config::{EmulatorConfig, Settings};
use crate::faults::{FaultRule, Faults};
use crate::persistence::Persister;
use crate::ratelimit::RateLimiter;
use crate::state::CloudState;
use crate::util::now_ms;
use crate::{admin, api};

/// What every request handler sees.
pub struct Shared {
    /// As loaded: credentials and seeds (`POST /_emulator/reset` goes back to them).
    pub config: EmulatorConfig,
    pub state: Mutex<CloudState>,
    pub settings: Mutex<Settings>,
    pub faults: Mutex<Faults>,
    pub limiter: Mutex<RateLimiter>,
    pub persister: Option<Persister>,
}

/// Locks without panicking: a handler that panicked cannot leave the state half-written (no
/// handler holds a lock across an await or a fallible step that unwinds), so the data is usable.
pub fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Shared {
    pub fn mark_dirty(&self) {
        if let Some(p) = &self.persister {
            p.mark_dirty();
        }
    }

    /// Back to the config: seeded state, its faults, settings and rate limits.
    pub fn reset(&self) {
        *lock(&self.state) = CloudState::seed(&self.config, now_ms());
        *lock(&self.settings) = self.config.settings.clone();
        *lock(&self.faults) = Faults::new(&self.config.faults);
        *lock(&self.limiter) = RateLimiter::new(self.config.rate_limits.clone());
        self.mark_dirty();
    }

    /// The whole state as JSON, with finished tasks applied.
    pub fn state_json(&self) -> Value {
        let mut state = lock(&self.state);
        state.settle(now_ms());
        serde_json::to_value(&*state).unwrap_or_default()
    }
}

/// The emulator. Start it with [`Emulator::start`].
pub struct Emulator;

/// A started emulator serving on [`RunningEmulator::addr`].
pub struct RunningEmulator {
    addr: SocketAddr,
    shared: Arc<Shared>,
    stop: Option<oneshot::Sender<()>>,
    server: Option<JoinHandle<()>>,
}

impl Emulator {
    /// Binds `addr` (port 0 picks a free one), loads the state file if the config names one
    /// that exists, and serves in a tokio task.
    pub async fn start(
        config: EmulatorConfig,
        addr: SocketAddr,
    ) -> anyhow::Result<RunningEmulator> {
        config.check()?;
        for rule in &config.faults {
            rule.check()
                .map_err(anyhow::Error::msg)
                .context("in a configured fault")?;
        }
        let persister = config.state_file.clone().map(Persister::new);
        let state = match &persister {
            Some(p) => p.load(&config)?,
            None => CloudState::seed(&config, now_ms()),
        };
        let shared = Arc::new(Shared {
            settings: Mutex::new(config.settings.clone()),
            faults: Mutex::new(Faults::new(&config.faults)),
            limiter: Mutex::new(RateLimiter::new(config.rate_limits.clone())),
            state: Mutex::new(state),
            persister,
            config,
        });
        if let Some(p) = &shared.persister {
            p.spawn_saver(Arc::downgrade(&shared));
        }
        let router = Router::new()
            .route("/", any(api::handle))
            .nest("/_emulator", admin::router())
            .with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .with_context(|| format!("binding {addr}"))?;
        let addr = listener.local_addr()?;
        let (stop, stopped) = oneshot::channel::<()>();
        let server = tokio::spawn(async move {
            let serve = axum::serve(listener, router).with_graceful_shutdown(async {
                stopped.await.ok();
            });
            if let Err(e) = serve.await {
                tracing::error!(error = %e, "emulator server failed");
            }
        });
        tracing::info!(%addr, "Tencent Cloud emulator listening");
        Ok(RunningEmulator {
            addr,
            shared,
            stop: Some(stop),
            server: Some(server),
        })
    }
}

impl RunningEmulator {
    /// `http://127.0.0.1:PORT`: the endpoint for every service.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The state as `GET /_emulator/state` returns it.
    pub fn state_json(&self) -> Value {
        self.shared.state_json()
    }

    /// Adds a fault rule (as `POST /_emulator/faults`); returns its id.
    pub fn add_fault(&self, rule: FaultRule) -> anyhow::Result<u64> {
        rule.check().map_err(anyhow::Error::msg)?;
        Ok(lock(&self.shared.faults).add(rule))
    }

    pub fn clear_faults(&self) {
        lock(&self.shared.faults).clear();
    }

    /// Back to the seeded state (as `POST /_emulator/reset`).
    pub fn reset(&self) {
        self.shared.reset();
    }

    /// Stops serving (open connections finish their request) and writes the state file.
    pub async fn shutdown(mut self) {
        self.stop_server().await;
        if let Some(p) = &self.shared.persister
            && let Err(e) = p.save_now(&self.shared)
        {
            tracing::error!(error = %e, "saving the state file on shutdown");
        }
    }

    async fn stop_server(&mut self) {
        if let Some(stop) = self.stop.take() {
            stop.send(()).ok();
        }
        if let Some(server) = self.server.take() {
            server.await.ok();
        }
    }
}

impl Drop for RunningEmulator {
    fn drop(&mut self) {
        // Dropped without shutdown(): stop accepting anyway, so tests do not leak servers.
        if let Some(stop) = self.stop.take() {
            stop.send(()).ok();
        }
    }
}
