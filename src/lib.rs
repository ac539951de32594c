//! dedicated-address-controller: gives every Pod port of room-style workloads its own public
//! address through pluggable address providers.
#![deny(warnings, rust_2018_idioms)]
#![forbid(unsafe_code)]

pub mod telemetry;

/// Everything that can go wrong in the controller.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("kubernetes API: {0}")]
    Kube(#[from] kube::Error),
    #[error("kubeconfig: {0}")]
    KubeConfig(#[from] kube::config::InferConfigError),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
