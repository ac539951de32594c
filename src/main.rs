#![deny(warnings, rust_2018_idioms)]
#![forbid(unsafe_code)]

use clap::Parser;
use dedicated_address_controller::telemetry::{self, LogFormat};
use tokio::signal::unix::{SignalKind, signal};

/// Gives every Pod port its own public address through pluggable providers.
#[derive(Debug, Parser)]
#[command(version)]
struct Args {
    /// Log format.
    #[arg(long, value_enum, default_value = "text", env = "LOG_FORMAT")]
    log_format: LogFormat,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    telemetry::init(args.log_format);

    // Reads KUBECONFIG / ~/.kube/config, or the in-cluster service account.
    let client = kube::Client::try_default().await?;
    let version = client.apiserver_version().await?;
    tracing::info!(server = %version.git_version, "connected to the API server");

    let mut terminate = signal(SignalKind::terminate())?;
    tokio::select! {
        _ = terminate.recv() => tracing::info!("SIGTERM received, shutting down"),
        _ = tokio::signal::ctrl_c() => tracing::info!("interrupt received, shutting down"),
    }
    Ok(())
}
