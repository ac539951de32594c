//! Support for integration tests against the test ground (`hack/cluster.sh up`).
//!
//! - [`client`]/[`config`]: a client from `$KUBECONFIG`, else `<repo>/.ground/kubeconfig`;
//!   panics naming `hack/cluster.sh up` when there is no reachable API server, so a test
//!   never passes without a cluster.
//! - [`TestNamespace`]: a uniquely named namespace, deleted when dropped.
//! - [`eventually`]: polls a condition, failing with what it waited for and what it last saw.
// Each test binary uses its own subset of these helpers.
#![allow(dead_code)]

pub mod cloud;
pub mod controller;
pub mod e2e;
mod eventually;
pub mod fixtures;
pub mod frameworks;
mod namespace;

pub use eventually::eventually;
pub use namespace::TestNamespace;

use std::path::PathBuf;
use std::time::Duration;

use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, Config};

/// How tests are told to start the ground.
pub const START_HINT: &str = "start the test ground with `hack/cluster.sh up` \
     (then `eval \"$(hack/cluster.sh env)\"`, or leave KUBECONFIG unset)";

/// The kubeconfig `hack/cluster.sh up` writes.
pub fn ground_kubeconfig() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(".ground/kubeconfig")
}

/// The admin client configuration of the cluster under test; panics with [`START_HINT`] if
/// there is none or its API server does not answer.
pub async fn config() -> Config {
    let (source, kubeconfig) = match std::env::var_os("KUBECONFIG").filter(|v| !v.is_empty()) {
        Some(paths) => (
            format!("$KUBECONFIG ({})", paths.to_string_lossy()),
            Kubeconfig::from_env(),
        ),
        None => {
            let path = ground_kubeconfig();
            if !path.exists() {
                panic!("no kubeconfig at {}: {START_HINT}", path.display());
            }
            (
                path.display().to_string(),
                Kubeconfig::read_from(&path).map(Some),
            )
        }
    };
    let kubeconfig = match kubeconfig {
        Ok(Some(k)) => k,
        Ok(None) => panic!("{source} names no kubeconfig file: {START_HINT}"),
        Err(e) => panic!("cannot read kubeconfig {source}: {e}: {START_HINT}"),
    };
    let config = Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
        .await
        .unwrap_or_else(|e| panic!("invalid kubeconfig {source}: {e}: {START_HINT}"));
    let url = config.cluster_url.clone();
    let client = Client::try_from(config.clone())
        .unwrap_or_else(|e| panic!("cannot build a client for {url} from {source}: {e}"));
    match tokio::time::timeout(Duration::from_secs(10), client.apiserver_version()).await {
        Ok(Ok(_)) => config,
        Ok(Err(e)) => panic!("API server {url} (from {source}) is unreachable: {e}: {START_HINT}"),
        Err(_) => panic!("API server {url} (from {source}) did not answer in 10s: {START_HINT}"),
    }
}

/// An admin client of the cluster under test; see [`config`].
pub async fn client() -> Client {
    Client::try_from(config().await).expect("client from a config that just worked")
}
