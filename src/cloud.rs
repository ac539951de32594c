//! Builds the Tencent Cloud API client from the `cloud` section of the config.
use crate::config::{CloudConfig, CredentialsConfig};
use crate::metrics::Metrics;
use dac_tencentcloud::{
    CallObserver, Client, CredentialsProvider, RateLimitConfig, RetryConfig, Service,
};
use std::time::Duration;

/// The client every built-in provider shares; each HTTP exchange is counted in `metrics`.
pub fn client(config: &CloudConfig, metrics: &Metrics) -> dac_tencentcloud::Result<Client> {
    let credentials = match &config.credentials {
        CredentialsConfig::Env => CredentialsProvider::from_env()?,
        CredentialsConfig::Files { dir } => CredentialsProvider::from_dir(dir)?,
    };
    let counted = metrics.clone();
    let mut builder = Client::builder()
        .credentials(credentials)
        .observer(CallObserver::new(move |action, outcome| {
            let result = match outcome {
                Ok(()) => "ok".to_string(),
                Err(kind) => kind.to_string(),
            };
            counted.cloud_call(action, &result);
        }))
        .timeout(Duration::from_millis(config.request_timeout_ms))
        .retry(RetryConfig {
            max_attempts: config.retry.max_attempts,
            base_delay: Duration::from_millis(config.retry.base_delay_ms),
            max_delay: Duration::from_millis(config.retry.max_delay_ms),
            busy_budget: Duration::from_millis(config.retry.busy_budget_ms),
            ..RetryConfig::default()
        })
        .rate_limit(RateLimitConfig {
            default_per_second: config.rate_limit.default_per_second,
            burst: config.rate_limit.burst,
            per_action: config.rate_limit.per_action.clone().into_iter().collect(),
        });
    if let Some(endpoint) = &config.endpoint {
        builder = builder.endpoint_all(endpoint.clone());
    }
    for service in Service::ALL {
        if let Some(endpoint) = config.endpoints.get(service.name()) {
            builder = builder.endpoint(service, endpoint.clone());
        }
    }
    builder.build()
}
