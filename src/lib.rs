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
pub mod http;
pub mod metrics;
pub mod providers;
pub mod registry;
pub mod telemetry;

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
}

impl Error {
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
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
