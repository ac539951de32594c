//! For the tests that run game-server frameworks' own code against the controller (OpenKruise
//! Game, Agones): their CRDs, read from the Go module cache or from `tests/`; helper programs run
//! as child processes; the cloud as the official Tencent Cloud Python SDK reads it; dynamic access
//! to kinds this crate has no types for.
use super::controller::apply_file;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, DynamicObject, GroupVersionKind};
use kube::discovery::ApiResource;
use kube::{Client, ResourceExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// A path from the environment `hack/test.sh` sets up; panics naming it when unset.
pub fn env_path(var: &str, what: &str) -> PathBuf {
    match std::env::var_os(var).filter(|v| !v.is_empty()) {
        Some(value) => PathBuf::from(value),
        None => panic!("set {var} to {what} (hack/test.sh does)"),
    }
}

/// Applies CRD files and waits until every CRD they hold is Established.
pub async fn install_crds(client: &Client, files: &[PathBuf]) {
    let mut names = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(file)
            .unwrap_or_else(|e| panic!("read {}: {e}", file.display()));
        let documents: Vec<serde_json::Value> = serde_saphyr::from_multiple(&text)
            .unwrap_or_else(|e| panic!("parse {}: {e}", file.display()));
        for document in documents
            .iter()
            .filter(|d| d["kind"] == "CustomResourceDefinition")
        {
            names.push(document["metadata"]["name"].as_str().unwrap().to_string());
        }
        apply_file(client, file).await;
    }
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    for name in names {
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
                    Err("not established".to_string())
                }
            },
        )
        .await;
    }
}

/// A namespaced kind this crate has no types for.
pub fn dynamic(
    client: &Client,
    namespace: &str,
    group: &str,
    version: &str,
    kind: &str,
    plural: &str,
) -> Api<DynamicObject> {
    let resource =
        ApiResource::from_gvk_with_plural(&GroupVersionKind::gvk(group, version, kind), plural);
    Api::namespaced_with(client.clone(), namespace, &resource)
}

/// A cluster-scoped kind this crate has no types for.
pub fn dynamic_all(
    client: &Client,
    group: &str,
    version: &str,
    kind: &str,
    plural: &str,
) -> Api<DynamicObject> {
    let resource =
        ApiResource::from_gvk_with_plural(&GroupVersionKind::gvk(group, version, kind), plural);
    Api::all_with(client.clone(), &resource)
}

/// The object as JSON (its `data` holds everything but the metadata and the type).
pub fn as_json(object: &DynamicObject) -> serde_json::Value {
    serde_json::to_value(object).unwrap()
}

/// The kubeconfig file the tests use as admin: the first of `$KUBECONFIG`, else the ground's.
pub fn admin_kubeconfig() -> PathBuf {
    match std::env::var_os("KUBECONFIG").filter(|v| !v.is_empty()) {
        Some(paths) => std::env::split_paths(&paths).next().unwrap(),
        None => super::ground_kubeconfig(),
    }
}

/// A helper program running beside the test (its output in `log`); killed when dropped.
pub struct ChildProgram {
    child: Option<Child>,
    pub log: PathBuf,
}

impl ChildProgram {
    pub fn start(program: &Path, args: &[&str], envs: &[(&str, &str)], log: PathBuf) -> Self {
        let file = std::fs::File::create(&log).unwrap();
        let child = Command::new(program)
            .args(args)
            .envs(envs.iter().copied())
            .stdout(Stdio::from(file.try_clone().unwrap()))
            .stderr(Stdio::from(file))
            .spawn()
            .unwrap_or_else(|e| panic!("start {}: {e}", program.display()));
        Self {
            child: Some(child),
            log,
        }
    }

    /// Whether it is still running (an early exit is a failed setup, not a slow one).
    pub fn running(&mut self) -> bool {
        matches!(self.child.as_mut().map(|c| c.try_wait()), Some(Ok(None)))
    }

    /// The last lines of its output, for failure messages.
    pub fn log_tail(&self, lines: usize) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let all: Vec<&str> = text.lines().collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }
}

impl Drop for ChildProgram {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// The names of `objects`, sorted.
pub fn names(objects: &[DynamicObject]) -> Vec<String> {
    let mut names: Vec<String> = objects.iter().map(|o| o.name_any()).collect();
    names.sort();
    names
}
