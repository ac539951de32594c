//! dedicated-address-controller: gives every Pod port of room-style workloads its own public
//! address through pluggable address providers.
#![deny(warnings, rust_2018_idioms)]
#![forbid(unsafe_code)]

pub mod allocation;
pub mod app;
pub mod cloud;
pub mod config;
pub mod controller;
pub mod crd;
pub mod frontends;
pub mod http;
pub mod leader;
pub mod metrics;
pub mod port_mapping;
pub mod providers;
pub mod registry;
pub mod telemetry;

use std::time::Duration;

/// Everything that can go wrong in the controller.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("kubernetes API: {0}")]
    Kube(#[from] kube::Error),
    #[error("kubeconfig: {0}")]
    KubeConfig(#[from] kube::config::InferConfigError),
    #[error(transparent)]
    Config(#[from] config::ConfigError),
    #[error("provider registry: {0}")]
    Registry(#[from] registry::RegistryError),
    #[error(transparent)]
    ProviderNotEnabled(#[from] registry::ProviderNotEnabled),
    #[error("provider: {0}")]
    Provider(#[from] dac_provider_api::ProviderError),
    #[error("finalizer: {0}")]
    Finalizer(#[source] Box<kube::runtime::finalizer::Error<Error>>),
    #[error("serializing: {0}")]
    Serialize(#[source] serde_json::Error),
    #[error("provider config: {0}")]
    ProviderConfig(String),
    #[error("cloud client: {0}")]
    Cloud(#[from] dac_tencentcloud::Error),
    #[error("listener {0} has neither lbId and lbPort nor a backendPod")]
    InvalidListener(String),
    /// A cleanup that cannot finish yet. It is an error so that the finalizer helper keeps the
    /// finalizer (an `Ok` from a cleanup removes it); the object is looked at again after
    /// `retry`, or sooner when what it waits for changes.
    #[error("cleanup not finished: {why}")]
    CleanupWaiting { why: String, retry: Duration },
}

impl Error {
    /// The provider's error inside, if this is one (also when it comes wrapped by the
    /// finalizer helper).
    pub fn provider_error(&self) -> Option<&dac_provider_api::ProviderError> {
        match self {
            Error::Provider(error) => Some(error),
            Error::Finalizer(error) => match error.as_ref() {
                kube::runtime::finalizer::Error::ApplyFailed(inner)
                | kube::runtime::finalizer::Error::CleanupFailed(inner) => inner.provider_error(),
                _ => None,
            },
            _ => None,
        }
    }

    /// How long a cleanup that is waiting (see [`Error::CleanupWaiting`]) waits before it
    /// looks again, also inside the finalizer helper.
    pub fn cleanup_retry(&self) -> Option<Duration> {
        match self {
            Error::CleanupWaiting { retry, .. } => Some(*retry),
            Error::Finalizer(error) => match error.as_ref() {
                kube::runtime::finalizer::Error::CleanupFailed(inner) => inner.cleanup_retry(),
                _ => None,
            },
            _ => None,
        }
    }

    /// The object the reconcile wrote to is gone (404), also inside the finalizer helper.
    pub fn is_gone(&self) -> bool {
        let api_404 =
            |error: &kube::Error| matches!(error, kube::Error::Api(status) if status.code == 404);
        match self {
            Error::Kube(error) => api_404(error),
            Error::Finalizer(error) => match error.as_ref() {
                kube::runtime::finalizer::Error::AddFinalizer(error)
                | kube::runtime::finalizer::Error::RemoveFinalizer(error) => api_404(error),
                kube::runtime::finalizer::Error::ApplyFailed(inner)
                | kube::runtime::finalizer::Error::CleanupFailed(inner) => inner.is_gone(),
                _ => false,
            },
            _ => false,
        }
    }

    /// A short, bounded label for metrics.
    pub fn class(&self) -> String {
        match self {
            Error::Kube(_) | Error::KubeConfig(_) => "Kubernetes".into(),
            Error::Config(_) | Error::Registry(_) | Error::Cloud(_) | Error::ProviderConfig(_) => {
                "Config".into()
            }
            Error::ProviderNotEnabled(_) => "ProviderNotEnabled".into(),
            Error::Provider(error) => error.reason().to_string(),
            Error::Finalizer(error) => match error.as_ref() {
                kube::runtime::finalizer::Error::ApplyFailed(inner)
                | kube::runtime::finalizer::Error::CleanupFailed(inner) => inner.class(),
                _ => "Finalizer".into(),
            },
            Error::Serialize(_) | Error::InvalidListener(_) => "Internal".into(),
            Error::CleanupWaiting { .. } => "CleanupWaiting".into(),
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
