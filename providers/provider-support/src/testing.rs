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

/// How many calls an [`Emulated::ambiguous_writes`] rule may hit: more than any test makes,
/// so that what is left says how many it did.
const AMBIGUOUS_BUDGET: u64 = 100_000;

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
        Self::start_with(EmulatorConfig::demo(), task_poll).await
    }

    /// The same, with the timings of the real cloud as far as they are known
    /// (`examples/emulator-realistic.toml`: CLB tasks of 1-3 s, batch locks up to 10 s, EIP
    /// tasks of 1-2 s) and the client's default task polling.
    pub async fn start_realistic() -> Self {
        let config =
            EmulatorConfig::from_toml(include_str!("../../../examples/emulator-realistic.toml"))
                .expect("the realistic profile is valid");
        Self::start_with(config, None).await
    }

    /// Starts the emulator with `config`.
    pub async fn start_with(config: EmulatorConfig, task_poll: Option<TaskPollConfig>) -> Self {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(
                tracing_subscriber::EnvFilter::try_from_default_env()
                    .unwrap_or_else(|_| "warn".into()),
            )
            .with_test_writer()
            .try_init();
        let emulator = Emulator::start(config, "127.0.0.1:0".parse().unwrap())
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

    /// Makes a `rate` share of the calls to each of `actions` ambiguous: the emulator carries
    /// the call out, then drops the connection, so the client cannot tell whether it happened
    /// (`afterApply` faults). Until [`Emulated::clear_faults`], which says how many fired.
    pub async fn ambiguous_writes(&self, actions: &[&str], rate: f64) {
        let rules: Vec<Value> = actions
            .iter()
            .map(|action| {
                serde_json::json!({
                    "action": action, "drop": true, "afterApply": true, "rate": rate,
                    "count": AMBIGUOUS_BUDGET
                })
            })
            .collect();
        self.admin("faults", Value::Array(rules)).await;
    }

    /// `DELETE /_emulator/faults`: no more injected faults. Returns how many calls the rules
    /// of [`Emulated::ambiguous_writes`] hit.
    pub async fn clear_faults(&self) -> u64 {
        let listed = self.get("faults").await;
        let fired = listed["faults"]
            .as_array()
            .map(|rules| {
                rules
                    .iter()
                    .filter_map(|r| r["count"].as_u64())
                    .map(|left| AMBIGUOUS_BUDGET.saturating_sub(left))
                    .sum()
            })
            .unwrap_or(0);
        let resp = self
            .http
            .delete(format!("{}/_emulator/faults", self.emulator.endpoint()))
            .send()
            .await
            .unwrap();
        assert!(
            resp.status().is_success(),
            "clearing faults: {}",
            resp.status()
        );
        fired
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
