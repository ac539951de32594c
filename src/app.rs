//! The controller process: flags, config, providers, the operations endpoints, leader election
//! and the reconcilers, until SIGTERM. A binary with custom providers calls [`main`] with a
//! hook that registers them next to the built-ins.
use crate::config::ControllerConfig;
use crate::controller::{self, Context};
use crate::http::{self, Readiness};
use crate::leader::{Elector, LeaseTimings};
use crate::metrics::Metrics;
use crate::registry::ProviderRegistry;
use crate::telemetry::{self, LogFormat};
use crate::{Result, providers};
use clap::Parser;
use futures::FutureExt;
use k8s_openapi::api::coordination::v1::Lease;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use tokio::signal::unix::{SignalKind, signal};

/// Gives every Pod port its own public address through pluggable providers.
#[derive(Debug, Parser)]
#[command(version)]
pub struct Args {
    /// The config file (YAML or TOML); `DAC_<SECTION>__...` environment variables override it.
    #[arg(long, env = "DAC_CONFIG")]
    pub config: Option<PathBuf>,
    /// Where `/metrics`, `/healthz` and `/readyz` are served.
    #[arg(long, default_value = "0.0.0.0:8080", env = "DAC_LISTEN")]
    pub listen: SocketAddr,
    /// Watch only this namespace (default: all). Tests run one controller per namespace.
    #[arg(long, env = "DAC_NAMESPACE")]
    pub namespace: Option<String>,
    /// Where the leader Lease lives: the controller's own namespace.
    #[arg(
        long,
        env = "POD_NAMESPACE",
        default_value = "dedicated-address-system"
    )]
    pub leader_election_namespace: String,
    /// The leader Lease's name; default `dedicated-address-controller`, with `-<namespace>`
    /// appended for a `--namespace` controller (each namespace has its own leader).
    #[arg(long)]
    pub leader_election_id: Option<String>,
    /// Log format.
    #[arg(long, value_enum, default_value = "text", env = "LOG_FORMAT")]
    pub log_format: LogFormat,
}

impl Args {
    fn lease_name(&self) -> String {
        self.leader_election_id.clone().unwrap_or_else(|| {
            let base = crate::controller::MANAGER;
            match &self.namespace {
                Some(namespace) => format!("{base}-{namespace}"),
                None => base.to_string(),
            }
        })
    }
}

/// Registers providers beyond the built-ins (see `examples/custom-provider`).
pub type RegisterCustom = dyn FnOnce(&ControllerConfig, &mut ProviderRegistry) -> Result<()>;

/// Parses the flags and runs the controller until SIGTERM or Ctrl-C.
///
/// Every replica loads its config and providers and serves the operations endpoints; only the
/// one holding the leader Lease runs the reconcilers and the sweep. A leader that cannot renew
/// its lease exits before the lease can expire, so two writers never overlap; Kubernetes starts
/// it again as a follower.
pub async fn main(register_custom: Box<RegisterCustom>) -> anyhow::Result<()> {
    let args = Args::parse();
    telemetry::init(args.log_format);
    let config = ControllerConfig::load(args.config.as_deref())?;

    let metrics = Metrics::default();
    let mut registry = providers::builtin(&config, &metrics, args.namespace.as_deref())?;
    register_custom(&config, &mut registry)?;
    for section in registry.unclaimed_sections(&config) {
        tracing::warn!(
            section,
            "config section for a provider this binary does not have"
        );
    }
    tracing::info!(providers = ?registry.names().collect::<Vec<_>>(), "providers enabled");

    let client = counted_client(&metrics, Some(config.kubernetes.max_requests_in_flight)).await?;
    // The Lease's own client: its renewals never wait behind the controller's other requests.
    let lease_client = counted_client(&metrics, None).await?;
    let readiness = Readiness::default();
    let listener = tokio::net::TcpListener::bind(args.listen).await?;
    tracing::info!(address = %listener.local_addr()?, "serving /metrics, /healthz, /readyz");
    let router = http::router(metrics.clone(), readiness.clone());
    tokio::spawn(async move {
        if let Err(error) = axum::serve(listener, router).await {
            tracing::error!(%error, "operations endpoint stopped");
        }
    });

    let shutdown = shutdown_signal().shared();
    let identity = format!(
        "{}_{}",
        std::env::var("POD_NAME").unwrap_or_else(|_| "dedicated-address-controller".into()),
        uuid::Uuid::new_v4().simple()
    );
    let leases: kube::Api<Lease> =
        kube::Api::namespaced(lease_client, &args.leader_election_namespace);
    let mut elector = Elector::new(leases, args.lease_name(), identity, LeaseTimings::default());
    tracing::info!(lease = %args.lease_name(), namespace = %args.leader_election_namespace, identity = %elector.identity(), "waiting to lead");
    let following = readiness.clone();
    tokio::select! {
        () = elector.acquire(|readable| following.set_following(readable)) => {}
        () = shutdown.clone() => {
            tracing::info!("stopped while following");
            return Ok(());
        }
    }
    tracing::info!(lease = %args.lease_name(), "leading");
    metrics.leader.set(1);
    readiness.set_leading();
    registry.start_all();

    let ctx = Arc::new(Context::new(
        client,
        registry,
        &config,
        metrics.clone(),
        args.namespace.clone(),
    ));
    tokio::select! {
        () = controller::run(ctx, readiness, shutdown) => {
            metrics.leader.set(0);
            elector.release().await;
            tracing::info!("stopped");
            Ok(())
        }
        lost = elector.keep_renewing() => {
            // Exiting is the only way to be sure nothing this process started (a reconcile,
            // a provider's queue) writes again; the next start is a follower.
            metrics.leader.set(0);
            tracing::error!(error = %lost, "stopping at once so that no second writer can exist");
            Err(lost.into())
        }
    }
}

/// A client whose every request is counted in `metrics` (by verb and resource), so that the
/// cost of a reconcile on the API server is visible; with at most `in_flight` requests at once
/// when given.
async fn counted_client(metrics: &Metrics, in_flight: Option<usize>) -> Result<kube::Client> {
    let config = kube::Config::infer().await?;
    let counted = metrics.clone();
    let counting =
        tower::util::MapRequestLayer::new(move |request: ::http::Request<kube::client::Body>| {
            counted.kube_request(request.method(), request.uri());
            request
        });
    let limit = tower::util::option_layer(in_flight.map(tower::limit::ConcurrencyLimitLayer::new));
    Ok(kube::client::ClientBuilder::try_from(config)?
        .with_layer(&counting)
        .with_layer(&limit)
        .build())
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
