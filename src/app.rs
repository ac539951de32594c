//! The controller process: flags, config, providers, the operations endpoints and the
//! reconcilers, until SIGTERM. A binary with custom providers calls [`main`] with a hook that
//! registers them next to the built-ins.
use crate::config::ControllerConfig;
use crate::controller::{self, Context};
use crate::http::{self, Readiness};
use crate::metrics::Metrics;
use crate::registry::ProviderRegistry;
use crate::telemetry::{self, LogFormat};
use crate::{Result, providers};
use clap::Parser;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use tokio::signal::unix::{SignalKind, signal};

/// Gives every Pod port its own public address through pluggable providers.
#[derive(Debug, Parser)]
#[command(version)]
pub struct Args {
    /// The config file (YAML or TOML); `DAC_`-prefixed environment variables override it.
    #[arg(long, env = "DAC_CONFIG")]
    pub config: Option<PathBuf>,
    /// Where `/metrics`, `/healthz` and `/readyz` are served.
    #[arg(long, default_value = "0.0.0.0:8080", env = "DAC_LISTEN")]
    pub listen: SocketAddr,
    /// Watch only this namespace (default: all). Tests run one controller per namespace.
    #[arg(long, env = "DAC_NAMESPACE")]
    pub namespace: Option<String>,
    /// Log format.
    #[arg(long, value_enum, default_value = "text", env = "LOG_FORMAT")]
    pub log_format: LogFormat,
}

/// Registers providers beyond the built-ins (see `examples/custom-provider`).
pub type RegisterCustom = dyn FnOnce(&ControllerConfig, &mut ProviderRegistry) -> Result<()>;

/// Parses the flags and runs the controller until SIGTERM or Ctrl-C.
pub async fn main(register_custom: Box<RegisterCustom>) -> anyhow::Result<()> {
    let args = Args::parse();
    telemetry::init(args.log_format);
    let config = ControllerConfig::load(args.config.as_deref())?;

    let metrics = Metrics::default();
    let mut registry = providers::builtin(&config, &metrics)?;
    register_custom(&config, &mut registry)?;
    for section in registry.unclaimed_sections(&config) {
        tracing::warn!(
            section,
            "config section for a provider this binary does not have"
        );
    }
    tracing::info!(providers = ?registry.names().collect::<Vec<_>>(), "providers enabled");

    let client = kube::Client::try_default().await?;
    let readiness = Readiness::default();
    let listener = tokio::net::TcpListener::bind(args.listen).await?;
    tracing::info!(address = %listener.local_addr()?, "serving /metrics, /healthz, /readyz");
    let router = http::router(metrics.clone(), readiness.clone());
    tokio::spawn(async move {
        if let Err(error) = axum::serve(listener, router).await {
            tracing::error!(%error, "operations endpoint stopped");
        }
    });

    let ctx = Arc::new(Context::new(
        client,
        registry,
        config.cluster.clone(),
        metrics,
        args.namespace.clone(),
    ));
    controller::run(ctx, readiness, shutdown_signal()).await;
    tracing::info!("stopped");
    Ok(())
}

async fn shutdown_signal() {
    let mut terminate = match signal(SignalKind::terminate()) {
        Ok(terminate) => terminate,
        Err(error) => {
            tracing::error!(%error, "cannot listen for SIGTERM");
            return std::future::pending().await;
        }
    };
    tokio::select! {
        _ = terminate.recv() => tracing::info!("SIGTERM received, shutting down"),
        _ = tokio::signal::ctrl_c() => tracing::info!("interrupt received, shutting down"),
    }
}
