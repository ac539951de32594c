//! One end-to-end setup: a test namespace, an in-process cloud emulator, and the controller
//! binary watching that namespace with the ServiceAccount's token.
use super::controller::{ControllerProcess, apply_value, install, repo_path};
use super::{TestNamespace, client};
use crate::support::cloud;
use k8s_openapi::api::apps::v1::StatefulSet;
use kube::Client;
use kube::api::{Api, Patch, PatchParams};
use serde_json::json;
use std::path::PathBuf;
use tencentcloud_emulator::{Emulator, EmulatorConfig, RunningEmulator};

pub const BINARY: &str = env!("CARGO_BIN_EXE_dedicated-address-controller");
/// The region and CLBs of seed 000's example, seeded into the emulator so it applies unchanged.
pub const SEED_REGION: &str = "ap-chengdu";
pub const SEED_LBS: [&str; 3] = ["lb-xxx", "lb-yyy", "lb-zzz"];

/// A namespace next to an [`E2e`]'s, with its own controller.
pub struct Neighbour {
    pub controller: ControllerProcess,
    // Dropped last: the namespace goes once the controller no longer holds finalizers.
    pub namespace: TestNamespace,
}

impl Neighbour {
    pub fn ns(&self) -> &str {
        self.namespace.name()
    }
}

pub struct E2e {
    pub client: Client,
    pub emulator: RunningEmulator,
    pub cloud: dac_tencentcloud::Client,
    pub controller: ControllerProcess,
    pub dir: PathBuf,
    /// The controller's config (YAML), for more replicas.
    pub config: String,
    // Dropped last: the namespace goes once the controller no longer holds finalizers.
    pub namespace: TestNamespace,
}

/// The emulator's demo config (`examples/emulator.toml`, which seeds seed 000's region and CLBs);
/// CLB tasks take `task_latency_ms`. With `DAC_E2E_PROFILE=realistic` the cloud's own timings
/// instead (`examples/emulator-realistic.toml`: tasks of 1-3 s, batch locks up to 10 s), so
/// that a whole suite can be run against them (`hack/test.sh` does for `e2e_clb`).
pub fn emulator_config(task_latency_ms: u64) -> EmulatorConfig {
    if std::env::var("DAC_E2E_PROFILE").as_deref() == Ok("realistic") {
        return EmulatorConfig::from_toml(include_str!("../../examples/emulator-realistic.toml"))
            .expect("the realistic profile is valid");
    }
    let mut config = EmulatorConfig::demo();
    config.settings.task_latency_ms = task_latency_ms;
    config
}

/// The controller's config for an emulator at `endpoint`, with `providers` as YAML.
pub fn controller_config(endpoint: &str, providers: &str) -> String {
    controller_config_in_vpc(endpoint, providers, "10.0.0.0/8")
}

/// [`controller_config`] with another VPC CIDR.
pub fn controller_config_in_vpc(endpoint: &str, providers: &str, vpc_cidr: &str) -> String {
    format!(
        "cluster:\n  id: e2e\n  region: ap-guangzhou\n  vpcCidrs: [{vpc_cidr}]\n\
         cloud:\n  endpoint: {endpoint}\n  credentials:\n    source: env\n\
         providers:\n{providers}"
    )
}

pub const CLB_ONLY: &str = "  clb:\n    enabled: true\n    batchWindowMs: 100\n";

impl E2e {
    pub async fn start(prefix: &str, emulator: EmulatorConfig, providers: &str) -> Self {
        Self::start_with_vpc(prefix, emulator, providers, "10.0.0.0/8").await
    }

    /// [`E2e::start`] with the controller told the VPC is `vpc_cidr`.
    pub async fn start_with_vpc(
        prefix: &str,
        emulator: EmulatorConfig,
        providers: &str,
        vpc_cidr: &str,
    ) -> Self {
        let client = client().await;
        install(&client).await;
        let namespace = TestNamespace::create(&client, prefix).await;
        let emulator = Emulator::start(emulator, "127.0.0.1:0".parse().unwrap())
            .await
            .expect("emulator starts");
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
            .join("e2e")
            .join(namespace.name());
        std::fs::create_dir_all(&dir).unwrap();
        let config = controller_config_in_vpc(&emulator.endpoint(), providers, vpc_cidr);
        let controller =
            ControllerProcess::start(&client, BINARY, namespace.name(), &config, &dir).await;
        let cloud = cloud::client(&emulator.endpoint());
        Self {
            client,
            emulator,
            cloud,
            controller,
            dir,
            config,
            namespace,
        }
    }

    /// A second namespace with its own namespace-scoped controller, on the same cloud and the
    /// same cluster id (two teams' controllers sharing CLBs).
    pub async fn neighbour(&self, prefix: &str) -> Neighbour {
        let namespace = TestNamespace::create(&self.client, prefix).await;
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
            .join("e2e")
            .join(namespace.name());
        std::fs::create_dir_all(&dir).unwrap();
        let controller =
            ControllerProcess::start(&self.client, BINARY, namespace.name(), &self.config, &dir)
                .await;
        Neighbour {
            controller,
            namespace,
        }
    }

    /// Another replica of the controller, as the Deployment's second Pod: same config, same
    /// namespace, its own log under `<dir>/<name>`.
    pub async fn start_replica(&self, name: &str) -> ControllerProcess {
        let dir = self.dir.join(name);
        std::fs::create_dir_all(&dir).unwrap();
        ControllerProcess::start(&self.client, BINARY, self.ns(), &self.config, &dir).await
    }

    pub fn ns(&self) -> &str {
        self.namespace.name()
    }

    /// Applies a manifest from `examples/`, moved into this test's namespace.
    pub async fn apply_example(&self, relative: &str) {
        let text = std::fs::read_to_string(repo_path(relative)).unwrap();
        let documents: Vec<serde_json::Value> = serde_saphyr::from_multiple(&text).unwrap();
        for mut document in documents.into_iter().filter(|d| !d.is_null()) {
            if document["kind"] == "Namespace" {
                continue;
            }
            document["metadata"]["namespace"] = json!(self.ns());
            apply_value(&self.client, document).await;
        }
    }

    /// Deletes every service in the namespace and waits until their children (and so, through
    /// the finalizers, their cloud resources) are gone.
    pub async fn remove_services(&self) {
        use dedicated_address_controller::crd::{DedicatedCLBListener, DedicatedCLBService};
        use kube::api::ListParams;
        let services: Api<DedicatedCLBService> = Api::namespaced(self.client.clone(), self.ns());
        let _ = services
            .delete_collection(&Default::default(), &ListParams::default())
            .await;
        let children: Api<DedicatedCLBListener> = Api::namespaced(self.client.clone(), self.ns());
        super::eventually(
            std::time::Duration::from_secs(120),
            "every child gone",
            || async {
                let left = children
                    .list(&ListParams::default())
                    .await
                    .map_err(|e| e.to_string())?
                    .items
                    .len();
                if left == 0 {
                    Ok(())
                } else {
                    Err(format!("{left} children left"))
                }
            },
        )
        .await;
    }

    pub async fn scale(&self, statefulset: &str, replicas: i32) {
        let api: Api<StatefulSet> = Api::namespaced(self.client.clone(), self.ns());
        let patch = json!({ "spec": { "replicas": replicas } });
        api.patch(statefulset, &PatchParams::default(), &Patch::Merge(&patch))
            .await
            .expect("scale");
    }
}
