//! `tencentcloud-emulator --listen 127.0.0.1:PORT --config FILE [--state-file FILE]`
#![deny(warnings, rust_2018_idioms)]
#![forbid(unsafe_code)]

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Parser;
use tencentcloud_emulator::{Emulator, EmulatorConfig};

/// A local emulator of Tencent Cloud CLB, NAT-gateway DNAT and EIP APIs.
#[derive(Debug, Parser)]
#[command(version)]
struct Args {
    /// Address to serve on; one endpoint serves every service (clb, vpc).
    #[arg(long, default_value = "127.0.0.1:9100")]
    listen: SocketAddr,
    /// TOML config (see examples/emulator.toml); without it the demo seeds are used.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Keep the state in this file across restarts (overrides the config's `state_file`).
    #[arg(long)]
    state_file: Option<PathBuf>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,tencentcloud_emulator=info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let args = Args::parse();
    let mut config = match &args.config {
        Some(path) => EmulatorConfig::from_file(path)?,
        None => EmulatorConfig::demo(),
    };
    if args.state_file.is_some() {
        config.state_file = args.state_file;
    }
    let emulator = Emulator::start(config, args.listen).await?;
    // Printed on stdout so that a test harness can read the port when it asked for port 0.
    println!("listening on {}", emulator.endpoint());
    shutdown_signal().await;
    tracing::info!("shutting down");
    emulator.shutdown().await;
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => {
                    ctrl_c.await.ok();
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    ctrl_c.await.ok();
}
