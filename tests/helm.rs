//! The Helm chart as users install it: `helm lint`, `helm template`, a server-side dry-run of
//! everything it renders against the ground, its RBAC equal to `deploy/rbac.yaml`, and the
//! real controller binary started with exactly the environment the rendered Deployment gives
//! its container (plus the service-link variables of the chart's own Services, which a Pod
//! gets unless `enableServiceLinks` is off) getting past config loading.
//!
//! Needs `HELM` (the binary; `hack/test.sh` builds it into the ground's cache and sets it) and,
//! for the dry-run, the ground (`hack/cluster.sh up`).
#![deny(warnings)]

mod support;

use kube::api::{Api, DynamicObject, Patch, PatchParams};
use kube::discovery::{Scope, pinned_kind};
use serde_json::Value;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;
use support::controller::{install, repo_path};

const CHART: &str = "deploy/helm/dedicated-address-controller";
/// The README's install command: release `dac` in `dedicated-address-system`.
const RELEASE: &str = "dac";
const NAMESPACE: &str = "dedicated-address-system";

fn helm() -> PathBuf {
    let path = std::env::var_os("HELM").unwrap_or_else(|| {
        panic!("set HELM to a helm binary (hack/test.sh builds one into the ground's cache)")
    });
    PathBuf::from(path)
}

/// Runs helm; returns (success, stdout, stderr).
fn run_helm(args: &[&str]) -> (bool, String, String) {
    let output = Command::new(helm())
        .args(args)
        .current_dir(repo_path(""))
        .output()
        .unwrap_or_else(|e| panic!("run helm {args:?}: {e}"));
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// The chart rendered as the README installs it, one JSON value per document.
fn render(extra: &[&str]) -> Vec<Value> {
    let mut args = vec![
        "template",
        RELEASE,
        CHART,
        "--namespace",
        NAMESPACE,
        "--include-crds",
        "--set",
        "config.cluster.id=cls-helmtest",
        "--set",
        "credentials.existingSecret=dac-credentials",
    ];
    args.extend_from_slice(extra);
    let (ok, stdout, stderr) = run_helm(&args);
    assert!(ok, "helm template failed: {stderr}");
    serde_saphyr::from_multiple::<Value>(&stdout)
        .unwrap_or_else(|e| panic!("parse helm template output: {e}"))
        .into_iter()
        .filter(|d| !d.is_null())
        .collect()
}

fn find<'a>(documents: &'a [Value], kind: &str) -> Vec<&'a Value> {
    documents.iter().filter(|d| d["kind"] == kind).collect()
}

#[test]
fn the_chart_lints_and_needs_a_cluster_id() {
    let (ok, stdout, stderr) =
        run_helm(&["lint", CHART, "--set", "config.cluster.id=cls-helmtest"]);
    assert!(ok, "helm lint failed:\n{stdout}\n{stderr}");

    let (ok, _, stderr) = run_helm(&["template", RELEASE, CHART, "--namespace", NAMESPACE]);
    assert!(!ok, "rendering without config.cluster.id must fail");
    assert!(
        stderr.contains("config.cluster.id is required"),
        "helm template without a cluster id said: {stderr}"
    );
}

#[test]
fn the_chart_runs_two_replicas_without_service_links() {
    runs_two_replicas_without_service_links(&render(&[]));
}

/// `deploy/` (the plain manifests) runs the same way as the chart.
#[test]
fn deploy_runs_two_replicas_without_service_links() {
    let text = std::fs::read_to_string(repo_path("deploy/deployment.yaml")).unwrap();
    let documents: Vec<Value> = serde_saphyr::from_multiple(&text).unwrap();
    runs_two_replicas_without_service_links(&documents);
}

fn runs_two_replicas_without_service_links(documents: &[Value]) {
    let deployment = find(documents, "Deployment")[0];
    let spec = &deployment["spec"];
    assert_eq!(spec["replicas"], 2);
    assert_eq!(spec["strategy"]["type"], "RollingUpdate");
    assert_eq!(spec["template"]["spec"]["enableServiceLinks"], false);
    assert!(!spec["template"]["spec"]["topologySpreadConstraints"].is_null());
    let pdb = find(documents, "PodDisruptionBudget");
    assert_eq!(pdb.len(), 1, "a PodDisruptionBudget");
    assert_eq!(pdb[0]["spec"]["minAvailable"], 1);
}

/// The chart's RBAC must not drift from the least-privilege rules of `deploy/rbac.yaml`.
#[test]
fn the_chart_grants_what_deploy_grants() {
    let chart = render(&[]);
    let text = std::fs::read_to_string(repo_path("deploy/rbac.yaml")).unwrap();
    let deploy: Vec<Value> = serde_saphyr::from_multiple(&text).unwrap();
    for kind in ["ClusterRole", "Role"] {
        let rules = |documents: &[Value]| -> Vec<Value> {
            documents
                .iter()
                .filter(|d| d["kind"] == kind)
                .map(|d| d["rules"].clone())
                .collect()
        };
        assert_eq!(
            rules(&chart),
            rules(&deploy),
            "{kind} rules differ between the chart and deploy/rbac.yaml"
        );
    }
}

/// Everything the chart renders is accepted by a real API server (server-side apply, dry run).
#[tokio::test]
async fn the_rendered_chart_passes_a_server_side_dry_run() {
    let client = support::client().await;
    install(&client).await; // the namespace and the CRDs the chart's objects need
    for document in render(&[]) {
        let object: DynamicObject = serde_json::from_value(document.clone()).unwrap();
        let types = object.types.clone().expect("apiVersion and kind");
        let gvk = kube::api::GroupVersionKind::try_from(&types).unwrap();
        let (resource, capabilities) = pinned_kind(&client, &gvk)
            .await
            .unwrap_or_else(|e| panic!("discover {gvk:?}: {e}"));
        let api: Api<DynamicObject> = match capabilities.scope {
            Scope::Namespaced => Api::namespaced_with(
                client.clone(),
                object.metadata.namespace.as_deref().unwrap_or(NAMESPACE),
                &resource,
            ),
            Scope::Cluster => Api::all_with(client.clone(), &resource),
        };
        let name = object.metadata.name.clone().unwrap();
        let params = PatchParams::apply("helm-dry-run").force().dry_run();
        api.patch(&name, &params, &Patch::Apply(&object))
            .await
            .unwrap_or_else(|e| panic!("dry-run apply of {} {name}: {e}", types.kind));
    }
}

/// The service-link variables Kubernetes gives a Pod for a Service (`docker links` style).
fn service_links(service: &Value, cluster_ip: &str) -> Vec<(String, String)> {
    let name = service["metadata"]["name"].as_str().unwrap();
    let prefix = name.to_ascii_uppercase().replace('-', "_");
    let mut vars = Vec::new();
    for (index, port) in service["spec"]["ports"]
        .as_array()
        .unwrap()
        .iter()
        .enumerate()
    {
        let number = port["port"].as_i64().unwrap();
        let protocol = port["protocol"]
            .as_str()
            .unwrap_or("TCP")
            .to_ascii_lowercase();
        let url = format!("{protocol}://{cluster_ip}:{number}");
        if index == 0 {
            vars.push((format!("{prefix}_SERVICE_HOST"), cluster_ip.to_string()));
            vars.push((format!("{prefix}_SERVICE_PORT"), number.to_string()));
            vars.push((format!("{prefix}_PORT"), url.clone()));
        }
        if let Some(port_name) = port["name"].as_str() {
            let port_name = port_name.to_ascii_uppercase().replace('-', "_");
            vars.push((
                format!("{prefix}_SERVICE_PORT_{port_name}"),
                number.to_string(),
            ));
        }
        let base = format!("{prefix}_PORT_{number}_{}", protocol.to_ascii_uppercase());
        vars.push((base.clone(), url));
        vars.push((format!("{base}_PROTO"), protocol.clone()));
        vars.push((format!("{base}_PORT"), number.to_string()));
        vars.push((format!("{base}_ADDR"), cluster_ip.to_string()));
    }
    vars
}

/// Helm installs crash-looped once: every `DAC_*` variable was read as a config key, and the
/// chart's metrics Service `dac-dedicated-address-controller-metrics` gives the Pod
/// `DAC_DEDICATED_ADDRESS_CONTROLLER_METRICS_PORT` and friends.
#[tokio::test]
async fn the_controller_starts_with_the_environment_the_chart_gives_it() {
    let documents = render(&[]);
    let deployment = find(&documents, "Deployment")[0];
    let container = &deployment["spec"]["template"]["spec"]["containers"][0];
    let config_map = find(&documents, "ConfigMap")[0];
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("helm-env");
    std::fs::create_dir_all(&dir).unwrap();

    // The mounted volumes: the ConfigMap's config.yaml (its credentials dir pointed at the
    // stand-in for the Secret's mount) and the Secret's files.
    let credentials = dir.join("credentials");
    std::fs::create_dir_all(&credentials).unwrap();
    std::fs::write(credentials.join("secretId"), "AKIDHELMTEST").unwrap();
    std::fs::write(credentials.join("secretKey"), "helm-test-secret").unwrap();
    let config_text = config_map["data"]["config.yaml"].as_str().unwrap();
    let mounted_dir = "/var/run/secrets/tencentcloud";
    assert!(config_text.contains(mounted_dir), "{config_text}");
    let config_path = dir.join("config.yaml");
    std::fs::write(
        &config_path,
        config_text.replace(mounted_dir, &credentials.display().to_string()),
    )
    .unwrap();

    // The container's own environment, with the downward API's values filled in.
    let mut env: Vec<(String, String)> = container["env"]
        .as_array()
        .unwrap()
        .iter()
        .map(|var| {
            let name = var["name"].as_str().unwrap().to_string();
            let value = match var["valueFrom"]["fieldRef"]["fieldPath"].as_str() {
                Some("metadata.namespace") => NAMESPACE.to_string(),
                Some("metadata.name") => "dac-dedicated-address-controller-7d9f-abcde".to_string(),
                Some(other) => panic!("a field the test does not know: {other}"),
                None => var["value"].as_str().unwrap_or_default().to_string(),
            };
            (name, value)
        })
        .collect();
    for (index, service) in find(&documents, "Service").into_iter().enumerate() {
        env.extend(service_links(service, &format!("172.30.0.{}", 10 + index)));
    }
    assert!(
        env.iter()
            .any(|(name, _)| name.starts_with("DAC_DEDICATED_ADDRESS_CONTROLLER_METRICS_")),
        "the chart's metrics Service gives DAC_* service links: {env:?}"
    );
    // Out of cluster the API server is named by a kubeconfig, one that answers nothing here:
    // this replica must never lead (it would serve every namespace of the ground).
    let kubeconfig = dir.join("unreachable.kubeconfig");
    std::fs::write(
        &kubeconfig,
        "apiVersion: v1\nkind: Config\nclusters: [{name: x, cluster: {server: 'https://127.0.0.1:1'}}]\n\
         users: [{name: x, user: {token: t}}]\ncontexts: [{name: x, context: {cluster: x, user: x}}]\n\
         current-context: x\n",
    )
    .unwrap();
    env.push(("KUBECONFIG".into(), kubeconfig.display().to_string()));

    // The container's args, with the config path of the mount replaced and a free port for
    // the operations endpoints (the container's 8080 may be taken here).
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut args: Vec<String> = container["args"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap().to_string())
        .map(|a| {
            a.replace(
                "/etc/dedicated-address-controller/config.yaml",
                &config_path.display().to_string(),
            )
        })
        .collect();
    args.push(format!("--listen=127.0.0.1:{port}"));

    let log = dir.join("controller.log");
    let mut child = Command::new(env!("CARGO_BIN_EXE_dedicated-address-controller"))
        .args(&args)
        .env_clear()
        .envs(env)
        .stdout(Stdio::from(std::fs::File::create(&log).unwrap()))
        .stderr(Stdio::from(
            std::fs::File::create(dir.join("controller.err")).unwrap(),
        ))
        .spawn()
        .unwrap();
    let mut healthy = false;
    for _ in 0..100 {
        if let Ok(Some(status)) = child.try_wait() {
            panic!(
                "the controller exited ({status}) with the chart's environment:\n{}{}",
                std::fs::read_to_string(&log).unwrap_or_default(),
                std::fs::read_to_string(dir.join("controller.err")).unwrap_or_default()
            );
        }
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            healthy = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let _ = child.kill();
    let _ = child.wait();
    let output = std::fs::read_to_string(&log).unwrap_or_default()
        + &std::fs::read_to_string(dir.join("controller.err")).unwrap_or_default();
    assert!(
        healthy,
        "the controller never served its endpoints:\n{output}"
    );
    assert!(
        output.contains("waiting to lead"),
        "it got past config loading:\n{output}"
    );
}
