//! Running the real controller binary against the test ground and a cloud emulator, the way it
//! runs in a cluster: CRDs from `deploy/crds`, RBAC from `deploy/rbac.yaml`, and the
//! ServiceAccount's own token (so a missing RBAC rule fails the tests).
use super::config;
use k8s_openapi::api::authentication::v1::TokenRequest;
use k8s_openapi::api::core::v1::ServiceAccount;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, DynamicObject, Patch, PatchParams, PostParams};
use kube::config::Kubeconfig;
use kube::discovery::{ApiResource, Scope, pinned_kind};
use kube::{Client, ResourceExt};
use serde_json::json;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

const MANAGER: &str = "e2e-tests";
const CONTROLLER_NAMESPACE: &str = "dedicated-address-system";
const CONTROLLER_ACCOUNT: &str = "dedicated-address-controller";

pub fn repo_path(relative: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(relative)
}

/// Server-side applies every document of a YAML file (idempotent; tests share cluster-wide
/// objects such as CRDs and the ClusterRole).
pub async fn apply_file(client: &Client, path: &Path) {
    let text =
        std::fs::read_to_string(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    let documents: Vec<serde_json::Value> = serde_saphyr::from_multiple(&text)
        .unwrap_or_else(|e| panic!("parse {}: {e}", path.display()));
    for document in documents.into_iter().filter(|d| !d.is_null()) {
        apply_value(client, document).await;
    }
}

pub async fn apply_value(client: &Client, document: serde_json::Value) {
    let object: DynamicObject = serde_json::from_value(document).expect("a Kubernetes object");
    let types = object.types.clone().expect("apiVersion and kind");
    let gvk = kube::api::GroupVersionKind::try_from(&types).expect("valid apiVersion");
    let (resource, capabilities) = pinned_kind(client, &gvk)
        .await
        .unwrap_or_else(|e| panic!("discover {gvk:?}: {e}"));
    let api: Api<DynamicObject> = match (capabilities.scope, object.namespace()) {
        (Scope::Namespaced, Some(namespace)) => {
            Api::namespaced_with(client.clone(), &namespace, &resource)
        }
        (Scope::Namespaced, None) => Api::default_namespaced_with(client.clone(), &resource),
        (Scope::Cluster, _) => Api::all_with(client.clone(), &resource),
    };
    let params = PatchParams::apply(MANAGER).force();
    api.patch(&object.name_any(), &params, &Patch::Apply(&object))
        .await
        .unwrap_or_else(|e| {
            panic!(
                "apply {} {}: {e}",
                resource_name(&resource),
                object.name_any()
            )
        });
}

fn resource_name(resource: &ApiResource) -> String {
    format!("{}/{}", resource.api_version, resource.kind)
}

/// Installs the CRDs and the controller's RBAC, and waits until the CRDs are served.
pub async fn install(client: &Client) {
    apply_file(client, &repo_path("deploy/crds/crds.yaml")).await;
    apply_file(client, &repo_path("deploy/namespace.yaml")).await;
    apply_file(client, &repo_path("deploy/rbac.yaml")).await;
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    for name in [
        "dedicatedclbservices",
        "dedicatedclblisteners",
        "clblistenerconfigs",
        "clbportpools",
        "clbpodbindings",
    ] {
        let name = format!("{name}.networking.cloud.tencent.com");
        super::eventually(
            Duration::from_secs(30),
            &format!("CRD {name} established"),
            || async {
                let crd = crds.get(&name).await.map_err(|e| e.to_string())?;
                let established = crd
                    .status
                    .and_then(|s| s.conditions)
                    .unwrap_or_default()
                    .iter()
                    .any(|c| c.type_ == "Established" && c.status == "True");
                if established {
                    Ok(())
                } else {
                    Err("not established yet".to_string())
                }
            },
        )
        .await;
    }
}

/// A kubeconfig that authenticates as the controller's ServiceAccount with a fresh token.
pub async fn controller_kubeconfig(client: &Client, dir: &Path) -> PathBuf {
    let accounts: Api<ServiceAccount> = Api::namespaced(client.clone(), CONTROLLER_NAMESPACE);
    let request: TokenRequest = serde_json::from_value(json!({
        "apiVersion": "authentication.k8s.io/v1",
        "kind": "TokenRequest",
        "spec": { "expirationSeconds": 3600 }
    }))
    .unwrap();
    let issued: TokenRequest = accounts
        .create_subresource(
            "token",
            CONTROLLER_ACCOUNT,
            &PostParams::default(),
            &request,
        )
        .await
        .expect("a token for the controller's ServiceAccount");
    let token = issued.status.expect("token status").token;

    let admin = match std::env::var_os("KUBECONFIG").filter(|v| !v.is_empty()) {
        Some(_) => Kubeconfig::from_env()
            .expect("read $KUBECONFIG")
            .expect("$KUBECONFIG names a file"),
        None => {
            Kubeconfig::read_from(super::ground_kubeconfig()).expect("read the ground's kubeconfig")
        }
    };
    let cluster = admin.clusters[0].cluster.clone().expect("a cluster entry");
    let server = config().await.cluster_url.to_string();
    let kubeconfig = json!({
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{ "name": "ground", "cluster": {
            "server": server,
            "certificate-authority-data": cluster.certificate_authority_data,
        }}],
        "users": [{ "name": CONTROLLER_ACCOUNT, "user": { "token": token } }],
        "contexts": [{ "name": "controller", "context": { "cluster": "ground", "user": CONTROLLER_ACCOUNT } }],
        "current-context": "controller",
    });
    let path = dir.join("controller.kubeconfig");
    std::fs::write(&path, serde_json::to_vec_pretty(&kubeconfig).unwrap()).unwrap();
    path
}

/// The controller binary, running as a child process watching one namespace; killed on drop.
pub struct ControllerProcess {
    child: Option<Child>,
    command: Vec<String>,
    envs: Vec<(String, String)>,
    pub log: PathBuf,
    /// Where `/metrics` is served.
    pub metrics_port: u16,
}

impl ControllerProcess {
    /// Starts `binary` with `config` (YAML text) in `namespace`; logs go to `dir/controller.log`.
    pub async fn start(
        client: &Client,
        binary: &str,
        namespace: &str,
        config: &str,
        dir: &Path,
    ) -> Self {
        let config_path = dir.join("config.yaml");
        std::fs::write(&config_path, config).unwrap();
        let kubeconfig = controller_kubeconfig(client, dir).await;
        // A free port now; the controller binds it a moment later (and keeps it across restarts).
        let metrics_port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let command = vec![
            binary.to_string(),
            "--config".into(),
            config_path.display().to_string(),
            "--namespace".into(),
            namespace.to_string(),
            "--listen".into(),
            format!("127.0.0.1:{metrics_port}"),
        ];
        let envs = vec![
            ("KUBECONFIG".to_string(), kubeconfig.display().to_string()),
            (
                "TENCENTCLOUD_SECRET_ID".to_string(),
                "AKIDEMULATOR".to_string(),
            ),
            (
                "TENCENTCLOUD_SECRET_KEY".to_string(),
                "emulator-secret-key".to_string(),
            ),
            (
                "RUST_LOG".to_string(),
                std::env::var("DAC_TEST_CONTROLLER_LOG")
                    .unwrap_or_else(|_| "info,dedicated_address_controller=debug".to_string()),
            ),
        ];
        let mut process = Self {
            child: None,
            command,
            envs,
            log: dir.join("controller.log"),
            metrics_port,
        };
        process.spawn();
        process
    }

    fn spawn(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .unwrap();
        // A profiler to run the controller under, e.g. `heaptrack -o /tmp/dac`.
        let wrapper: Vec<String> = std::env::var("DAC_TEST_CONTROLLER_WRAPPER")
            .unwrap_or_default()
            .split_whitespace()
            .map(str::to_string)
            .collect();
        let mut command = wrapper.iter().chain(&self.command);
        let program = command.next().expect("a command");
        let child = Command::new(program)
            .args(command)
            .envs(self.envs.iter().cloned())
            .stdout(Stdio::from(log.try_clone().unwrap()))
            .stderr(Stdio::from(log))
            .spawn()
            .unwrap_or_else(|e| panic!("start {}: {e}", self.command[0]));
        self.child = Some(child);
    }

    /// The running process's id (0 when it is not running).
    pub fn pid(&self) -> u32 {
        self.child.as_ref().map(Child::id).unwrap_or(0)
    }

    /// SIGKILL, as a crash or an evicted Pod would: no graceful shutdown.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    pub fn restart(&mut self) {
        self.kill();
        self.spawn();
    }

    /// The controller's `/metrics` text (empty while it is not serving).
    pub async fn metrics(&self) -> String {
        self.get("/metrics")
            .await
            .map(|(_, body)| body)
            .unwrap_or_default()
    }

    /// `GET path` on its operations port: the status code and the body (`None` while it is not
    /// serving).
    pub async fn get(&self, path: &str) -> Option<(u16, String)> {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", self.metrics_port))
            .await
            .ok()?;
        // HTTP/1.0: the answer comes whole, not chunked.
        let request = format!("GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n");
        let mut response = String::new();
        stream.write_all(request.as_bytes()).await.ok()?;
        stream.read_to_string(&mut response).await.ok()?;
        let (head, body) = response.split_once("\r\n\r\n")?;
        let code = head.split_whitespace().nth(1)?.parse().ok()?;
        Some((code, body.to_string()))
    }

    /// The sum of a metric's samples whose line contains every one of `labels`
    /// (e.g. `verb="create"`), from `/metrics`.
    pub async fn metric(&self, name: &str, labels: &[&str]) -> f64 {
        let prefix_labelled = format!("{name}{{");
        let prefix_plain = format!("{name} ");
        self.metrics()
            .await
            .lines()
            .filter(|line| line.starts_with(&prefix_labelled) || line.starts_with(&prefix_plain))
            .filter(|line| labels.iter().all(|label| line.contains(label)))
            .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
            .sum()
    }

    /// Whether it holds the leader lease now (`dedicated_address_leader`).
    pub async fn is_leader(&self) -> bool {
        self.metric("dedicated_address_leader", &[]).await == 1.0
    }

    /// Writes to the API server so far, leases left out (a follower reads its lease).
    pub async fn kube_writes(&self) -> f64 {
        let mut writes = 0.0;
        for verb in ["create", "update", "patch", "delete", "deletecollection"] {
            let all = self
                .metric(
                    "dedicated_address_kube_requests_total",
                    &[&format!("verb=\"{verb}\"")],
                )
                .await;
            let leases = self
                .metric(
                    "dedicated_address_kube_requests_total",
                    &[&format!("verb=\"{verb}\""), "resource=\"leases\""],
                )
                .await;
            writes += all - leases;
        }
        writes
    }

    /// Cloud write calls so far (retries included), from `/metrics`.
    pub async fn cloud_writes(&self) -> u64 {
        const WRITES: [&str; 10] = [
            "Create",
            "Delete",
            "Modify",
            "Register",
            "Deregister",
            "Batch",
            "Allocate",
            "Associate",
            "Disassociate",
            "Release",
        ];
        self.metrics()
            .await
            .lines()
            .filter(|line| line.starts_with("dedicated_address_cloud_calls_total{"))
            .filter(|line| {
                WRITES
                    .iter()
                    .any(|w| line.contains(&format!("action=\"{w}")))
            })
            .filter_map(|line| line.rsplit(' ').next()?.parse::<u64>().ok())
            .sum()
    }

    /// The last lines of the controller's log, for failure messages.
    pub fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(40)..].join("\n")
    }
}

impl Drop for ControllerProcess {
    fn drop(&mut self) {
        self.kill();
    }
}
