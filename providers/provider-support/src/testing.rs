//! The harness the providers' emulator tests share: an in-process Tencent Cloud emulator, a
//! client signed for it, and its admin endpoints. Behind the `emulator-harness` feature, which
//! the providers enable only as a dev-dependency, so the emulator never becomes a dependency of
//! a provider itself.
use std::time::Duration;

use dac_tencentcloud::{Client, Credentials, CredentialsProvider, TaskPollConfig};
use serde_json::Value;
use tencentcloud_emulator::{Emulator, EmulatorConfig, RunningEmulator};

/// The emulator's tasks take 200 ms; polling at the production pace would only make the tests
/// slower without testing anything more.
pub const FAST_TASK_POLL: TaskPollConfig = TaskPollConfig {
    initial_interval: Duration::from_millis(100),
    max_interval: Duration::from_millis(400),
};

/// A running emulator with the demo account, a client for it, and an HTTP client for its
/// `/_emulator/…` admin endpoints.
pub struct Emulated {
    pub emulator: RunningEmulator,
    pub client: Client,
    pub http: reqwest::Client,
}

impl Emulated {
    /// Starts the emulator on a free port (and test logging, from `RUST_LOG`, once per
    /// process). `task_poll`: how the client polls the cloud's async tasks; `None` keeps the
    /// client's default.
    pub async fn start(task_poll: Option<TaskPollConfig>) -> Self {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(
                tracing_subscriber::EnvFilter::try_from_default_env()
                    .unwrap_or_else(|_| "warn".into()),
            )
            .with_test_writer()
            .try_init();
        let emulator = Emulator::start(EmulatorConfig::demo(), "127.0.0.1:0".parse().unwrap())
            .await
            .expect("emulator starts");
        let builder = Client::builder()
            .credentials(CredentialsProvider::fixed(Credentials::new(
                "AKIDEMULATOR",
                "emulator-secret-key",
            )))
            .endpoint_all(emulator.endpoint());
        let builder = match task_poll {
            Some(poll) => builder.task_poll(poll),
            None => builder,
        };
        let client = builder.build().expect("client");
        Self {
            emulator,
            client,
            http: reqwest::Client::new(),
        }
    }

    /// `POST /_emulator/<path>` (settings, faults, seeds); panics unless it succeeds.
    pub async fn admin(&self, path: &str, body: Value) {
        let resp = self
            .http
            .post(format!("{}/_emulator/{path}", self.emulator.endpoint()))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert!(
            resp.status().is_success(),
            "{path}: {}",
            resp.text().await.unwrap()
        );
    }

    /// `GET /_emulator/<path>` as JSON, e.g. `state` or `faults`.
    pub async fn get(&self, path: &str) -> Value {
        self.http
            .get(format!("{}/_emulator/{path}", self.emulator.endpoint()))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }
}
