//! Test support for this package's end-to-end test: the root package's `tests/support` modules,
//! included by path where they work from another package, and what has to differ here.
//!
//! The root's `support/mod.rs` itself cannot be included: it declares `cloud` and `e2e`, which
//! need the cloud emulator and the root binary (`CARGO_BIN_EXE_dedicated-address-controller`,
//! only defined inside the root package), and it finds the repository (`ground_kubeconfig`,
//! `controller::repo_path`, so `controller::install`) through `CARGO_MANIFEST_DIR`, which is this
//! package's directory here. So this module provides `config`, `client` and `install` with the
//! repository root worked out from here, and `controller.rs` finds them as `super::...`.
#![allow(dead_code)]

#[path = "../../../../../tests/support/controller.rs"]
pub mod controller;
#[path = "../../../../../tests/support/eventually.rs"]
mod eventually;
#[path = "../../../../../tests/support/namespace.rs"]
mod namespace;

pub use eventually::eventually;
pub use namespace::TestNamespace;

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Api, Client, Config};
use std::path::PathBuf;
use std::time::Duration;

const START_HINT: &str = "start the test ground with `hack/cluster.sh up` \
     (then `eval \"$(hack/cluster.sh env)\"`, or leave KUBECONFIG unset)";

/// The repository: this package is `examples/custom-provider/controller`.
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../..")
}

pub fn ground_kubeconfig() -> PathBuf {
    repo_root().join(".ground/kubeconfig")
}

/// The admin configuration of the test ground, from `$KUBECONFIG` or the ground's own file;
/// panics with how to start the ground when there is none or it does not answer, so that the
/// test never passes without a cluster.
pub async fn config() -> Config {
    let options = KubeConfigOptions::default();
    let config = match std::env::var_os("KUBECONFIG").filter(|v| !v.is_empty()) {
        Some(_) => Config::from_kubeconfig(&options)
            .await
            .unwrap_or_else(|e| panic!("$KUBECONFIG: {e}: {START_HINT}")),
        None => {
            let path = ground_kubeconfig();
            let kubeconfig = Kubeconfig::read_from(&path)
                .unwrap_or_else(|e| panic!("{}: {e}: {START_HINT}", path.display()));
            Config::from_custom_kubeconfig(kubeconfig, &options)
                .await
                .unwrap_or_else(|e| panic!("{}: {e}: {START_HINT}", path.display()))
        }
    };
    let client = Client::try_from(config.clone()).expect("a client from the kubeconfig");
    match tokio::time::timeout(Duration::from_secs(10), client.apiserver_version()).await {
        Ok(Ok(_)) => config,
        Ok(Err(e)) => panic!("{} is unreachable: {e}: {START_HINT}", config.cluster_url),
        Err(_) => panic!("{} did not answer in 10s: {START_HINT}", config.cluster_url),
    }
}

pub async fn client() -> Client {
    Client::try_from(config().await).expect("a client from a config that just worked")
}

/// Installs the CRDs, the controller's namespace and RBAC from `deploy/`, as the root's
/// `controller::install` does, and waits until the CRDs are served.
pub async fn install(client: &Client) {
    for file in [
        "deploy/crds/crds.yaml",
        "deploy/namespace.yaml",
        "deploy/rbac.yaml",
    ] {
        controller::apply_file(client, &repo_root().join(file)).await;
    }
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    for plural in ["dedicatedclbservices", "dedicatedclblisteners"] {
        let name = format!("{plural}.networking.cloud.tencent.com");
        eventually(
            Duration::from_secs(30),
            &format!("CRD {name} served"),
            || async {
                let crd = crds.get(&name).await.map_err(|e| e.to_string())?;
                let established = crd
                    .status
                    .and_then(|s| s.conditions)
                    .unwrap_or_default()
                    .iter()
                    .any(|c| c.type_ == "Established" && c.status == "True");
                established
                    .then_some(())
                    .ok_or_else(|| "not established yet".to_string())
            },
        )
        .await;
    }
}
