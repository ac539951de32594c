//! End to end with a custom provider: the `static-table-controller` binary (the controller with
//! the example `static-table` provider registered) on the test ground, with its ServiceAccount's
//! RBAC, serving a `DedicatedCLBService` with `provider: static-table`. Every check reads the
//! device's side (the table file) as well as the children, statuses and Pod annotations.
mod support;

use dedicated_address_controller::crd::{DedicatedCLBListener, DedicatedCLBService, ListenerState};
use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::api::events::v1::Event;
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams};
use kube::{Client, ResourceExt};
use serde_json::json;
use static_table_provider::table::{Entry, PublicPort, Table, TableFile};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::Duration;
use support::controller::{ControllerProcess, apply_value};
use support::{TestNamespace, eventually};

const BINARY: &str = env!("CARGO_BIN_EXE_static-table-controller");
const CLUSTER: &str = "e2e-static";
const WAIT: Duration = Duration::from_secs(90);
const STATEFULSET: &str = "gameserver";
const GAMESERVERS: &str = "examples/clb/gameserver.yaml";
const SERVICE: &str = "examples/custom-provider/service.yaml";

/// 10 slots: 2 ports x 2 protocols on edge-a, 3 single ports x 2 protocols on edge-b; enough
/// for 5 replicas with a TCP and a UDP port each.
fn controller_config(table: &Path) -> String {
    format!(
        r#"cluster: {{id: {CLUSTER}, region: local}}
providers:
  clb: {{enabled: false}}
  static-table:
    tableFile: {table}
    frontends:
      - {{id: edge-a, publicIp: 203.0.113.10, portRange: {{min: 7000, max: 7001}}}}
      - {{id: edge-b, publicIp: 203.0.113.20, ports: [7100, 7105, 7110]}}
"#,
        table = table.display()
    )
}

/// Every public IP:port the config offers.
fn offered() -> BTreeSet<String> {
    ["203.0.113.10:7000", "203.0.113.10:7001"]
        .into_iter()
        .map(str::to_string)
        .chain([7100, 7105, 7110].map(|port| format!("203.0.113.20:{port}")))
        .collect()
}

struct Ground {
    client: Client,
    table: TableFile,
    controller: ControllerProcess,
    // Dropped last: the namespace goes once the controller no longer holds finalizers.
    namespace: TestNamespace,
}

impl Ground {
    async fn start() -> Self {
        let client = support::client().await;
        support::install(&client).await;
        let namespace = TestNamespace::create(&client, "e2e-static-table").await;
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
            .join("e2e-static-table")
            .join(namespace.name());
        std::fs::create_dir_all(&dir).unwrap();
        let table = dir.join("table.json");
        let controller = ControllerProcess::start(
            &client,
            BINARY,
            namespace.name(),
            &controller_config(&table),
            &dir,
        )
        .await;
        Self {
            client,
            table: TableFile::new(table),
            controller,
            namespace,
        }
    }

    fn ns(&self) -> &str {
        self.namespace.name()
    }

    /// Applies a manifest from the repository, moved into this test's namespace.
    async fn apply(&self, relative: &str) {
        let path = support::repo_root().join(relative);
        let text = std::fs::read_to_string(&path).unwrap();
        let documents: Vec<serde_json::Value> = serde_saphyr::from_multiple(&text).unwrap();
        for mut document in documents.into_iter().filter(|d| !d.is_null()) {
            if document["kind"] == "Namespace" {
                continue;
            }
            document["metadata"]["namespace"] = json!(self.ns());
            apply_value(&self.client, document).await;
        }
    }

    async fn scale(&self, replicas: i32) {
        let api: Api<StatefulSet> = Api::namespaced(self.client.clone(), self.ns());
        let patch = json!({ "spec": { "replicas": replicas } });
        api.patch(STATEFULSET, &PatchParams::default(), &Patch::Merge(&patch))
            .await
            .expect("scale");
    }

    async fn table(&self) -> Result<Table, String> {
        self.table.load().await.map_err(|e| e.to_string())
    }

    async fn children(&self) -> Result<Vec<DedicatedCLBListener>, String> {
        let api: Api<DedicatedCLBListener> = Api::namespaced(self.client.clone(), self.ns());
        Ok(api
            .list(&ListParams::default())
            .await
            .map_err(|e| e.to_string())?
            .items)
    }

    /// Deletes the service and waits until its children are gone and the table is empty.
    /// Children included: their finalizers go after their entries, and a child left with its
    /// finalizer when the controller stops would hold up the namespace's deletion.
    async fn delete_service(&self) {
        let services: Api<DedicatedCLBService> = Api::namespaced(self.client.clone(), self.ns());
        services
            .delete("gameserver", &DeleteParams::default())
            .await
            .unwrap();
        eventually(WAIT, "no children and an empty table", || async {
            let children = self.children().await?.len();
            let entries = self.table().await?.entries;
            if children == 0 && entries.is_empty() {
                Ok(())
            } else {
                Err(format!("{children} children, table {entries:?}"))
            }
        })
        .await;
    }

    /// Waits until exactly `pods` replicas x 2 ports are bound, and checks that everything
    /// agrees: one child per Pod port, each with its own (address, protocol) from the table;
    /// its status and its Pod's annotation show that address; and the table maps that public
    /// port, and nothing else, to the Pod IP:targetPort, owned by that child. Returns the
    /// addresses by child name.
    async fn all_bound(&self, pods: usize) -> BTreeMap<String, String> {
        let pod_api: Api<Pod> = Api::namespaced(self.client.clone(), self.ns());
        let what = format!("{pods} Pods x 2 ports bound, in statuses, annotations and the table");
        eventually(WAIT, &what, || async {
            let children = self.children().await?;
            let states: Vec<String> = children
                .iter()
                .map(|c| {
                    format!(
                        "{}={:?}",
                        c.name_any(),
                        c.status.as_ref().and_then(|s| s.state)
                    )
                })
                .collect();
            if children.len() != pods * 2 {
                return Err(format!("{} children: {states:?}", children.len()));
            }
            let table = self.table().await?;
            if table.entries.len() != pods * 2 {
                return Err(format!(
                    "{} table entries: {:?}",
                    table.entries.len(),
                    table.entries
                ));
            }
            let mut addresses = BTreeMap::new();
            let mut slots = BTreeSet::new();
            for child in &children {
                let name = child.name_any();
                let status = child.status.clone().unwrap_or_default();
                if status.state != Some(ListenerState::Bound) {
                    return Err(format!("not all bound: {states:?}"));
                }
                let backend = child
                    .spec
                    .backend_pod
                    .clone()
                    .ok_or("child without backendPod")?;
                let pod = pod_api
                    .get(&backend.pod_name)
                    .await
                    .map_err(|e| e.to_string())?;
                let pod_ip = pod.status.and_then(|s| s.pod_ip).ok_or("Pod without IP")?;
                let public_ip = child
                    .spec
                    .public_ip
                    .clone()
                    .ok_or("child without publicIp")?;
                let port = child.spec.lb_port.ok_or("child without lbPort")?;
                let protocol = child.spec.protocol.as_str();
                let address = format!("{public_ip}:{port}");
                if !offered().contains(&address) {
                    return Err(format!(
                        "{name} got {address}, which the table does not offer"
                    ));
                }
                if !slots.insert((address.clone(), protocol)) {
                    return Err(format!("{address}/{protocol} was given twice"));
                }
                if status.address.as_ref() != Some(&address) {
                    return Err(format!(
                        "{name} status address {:?}, want {address}",
                        status.address
                    ));
                }
                if status.listener_id.as_deref() != Some(format!("{address}/{protocol}").as_str()) {
                    return Err(format!("{name} listenerId {:?}", status.listener_id));
                }
                let annotation = format!(
                    "networking.cloud.tencent.com/external-address-{}",
                    backend.port
                );
                let annotated = pod
                    .metadata
                    .annotations
                    .unwrap_or_default()
                    .remove(&annotation);
                if annotated.as_ref() != Some(&address) {
                    return Err(format!(
                        "Pod {} {annotation} = {annotated:?}, want {address}",
                        backend.pod_name
                    ));
                }
                let entry: &Entry = table
                    .entries
                    .iter()
                    .find(|e| {
                        e.public_ip.to_string() == public_ip
                            && e.public_port == port
                            && e.protocol.as_str() == protocol
                    })
                    .ok_or(format!("no table entry for {name} at {address}/{protocol}"))?;
                let target = entry
                    .backend
                    .as_ref()
                    .map(|b| format!("{}:{}", b.ip, b.port));
                if target != Some(format!("{pod_ip}:{}", backend.port)) {
                    return Err(format!(
                        "{address}/{protocol} forwards to {target:?}, want {pod_ip}:{}",
                        backend.port
                    ));
                }
                let owner = entry.owner.as_ref().ok_or("entry without owner")?;
                if (
                    owner.cluster.as_str(),
                    owner.namespace.as_str(),
                    owner.name.as_str(),
                ) != (CLUSTER, self.ns(), name.as_str())
                {
                    return Err(format!(
                        "{address}/{protocol} is owned by {owner}, want {name}"
                    ));
                }
                if Some(&entry.frontend_id) != child.spec.lb_id.as_ref() {
                    return Err(format!(
                        "{name}: entry frontend {} vs lbId {:?}",
                        entry.frontend_id, child.spec.lb_id
                    ));
                }
                addresses.insert(name, address);
            }
            Ok::<_, String>(addresses)
        })
        .await
    }
}

#[tokio::test]
async fn pod_ports_get_addresses_from_the_static_table() {
    let mut ground = Ground::start().await;
    ground.apply(GAMESERVERS).await;
    ground.apply(SERVICE).await;

    // Three replicas: six distinct table slots.
    let first = ground.all_bound(3).await;
    let generation = ground.table().await.unwrap().generation;

    // Five: the whole table, both kinds of frontend.
    ground.scale(5).await;
    let full = ground.all_bound(5).await;
    for (child, address) in &first {
        assert_eq!(
            full.get(child),
            Some(address),
            "{child} kept its address while scaling up"
        );
    }
    let used: BTreeSet<&String> = full.values().collect();
    assert_eq!(
        used.len(),
        offered().len(),
        "every offered IP:port in use: {full:?}"
    );
    let frontends: BTreeSet<String> = ground
        .table()
        .await
        .unwrap()
        .entries
        .iter()
        .map(|e| e.frontend_id.clone())
        .collect();
    assert!(
        frontends.contains("edge-a") && frontends.contains("edge-b:7110"),
        "{frontends:?}"
    );
    assert!(ground.table().await.unwrap().generation > generation);

    // Six: the sixth replica's ports find no room, and the service says so; the others stay.
    ground.scale(6).await;
    let services: Api<DedicatedCLBService> = Api::namespaced(ground.client.clone(), ground.ns());
    eventually(WAIT, "the service reports PortsExhausted", || async {
        let service = services
            .get("gameserver")
            .await
            .map_err(|e| e.to_string())?;
        let conditions = service.status.map(|s| s.conditions).unwrap_or_default();
        conditions
            .iter()
            .find(|c| c.type_ == "Ready" && c.status == "False" && c.reason == "PortsExhausted")
            .map(|_| ())
            .ok_or(format!("conditions {conditions:?}"))
    })
    .await;
    assert_eq!(ground.table().await.unwrap().entries.len(), 10);

    // Two: the entries of the removed replicas are gone from the table.
    ground.scale(2).await;
    let two = ground.all_bound(2).await;
    for (child, address) in &two {
        assert_eq!(first.get(child), Some(address), "{child} kept its address");
    }

    // Scaled down while the controller is down: the restarted one catches up.
    ground.controller.kill();
    ground.scale(1).await;
    ground.controller.restart();
    let one = ground.all_bound(1).await;
    assert!(
        one.keys().all(|child| child.contains("gameserver-0")),
        "{one:?}"
    );

    // Deleting the service empties the table.
    ground.delete_service().await;
    let log = ground.controller.log_tail();
    assert!(!log.contains("panicked"), "{log}");
}

#[tokio::test]
async fn a_port_someone_else_holds_is_reported_and_never_taken() {
    let ground = Ground::start().await;
    // The operator has forwarded edge-a's first TCP port to a bastion by hand.
    let taken = PublicPort {
        ip: "203.0.113.10".parse().unwrap(),
        port: 7000,
        protocol: dac_provider_api::Protocol::Tcp,
    };
    let bastion: Entry = serde_json::from_value(json!({
        "publicIp": "203.0.113.10", "publicPort": 7000, "protocol": "TCP",
        "backend": {"ip": "10.9.9.9", "port": 22}, "comment": "bastion, by hand"
    }))
    .unwrap();
    let mut seeded = Table::default();
    seeded.entries.push(bastion.clone());
    ground.table.store(&seeded).await.unwrap();

    ground.apply(GAMESERVERS).await;
    ground.apply(SERVICE).await;

    // The capacity counts the entry, but the allocator picks ports by number, so gameserver-0's
    // TCP port lands on it: the child fails with the provider's reason, the service shows it,
    // an Event says it, and the bastion's entry is left exactly as it was.
    let child_name = "gameserver-gameserver-0-tcp-9000";
    let children: Api<DedicatedCLBListener> = Api::namespaced(ground.client.clone(), ground.ns());
    let services: Api<DedicatedCLBService> = Api::namespaced(ground.client.clone(), ground.ns());
    let events: Api<Event> = Api::namespaced(ground.client.clone(), ground.ns());
    eventually(
        WAIT,
        "SlotInUse on the child, the service and an Event",
        || async {
            let child = children.get(child_name).await.map_err(|e| e.to_string())?;
            let status = child.status.unwrap_or_default();
            let failed = status.state == Some(ListenerState::Failed)
                && status
                    .conditions
                    .iter()
                    .any(|c| c.type_ == "Ready" && c.status == "False" && c.reason == "SlotInUse");
            if !failed {
                return Err(format!("child status {status:?}"));
            }
            let service = services
                .get("gameserver")
                .await
                .map_err(|e| e.to_string())?;
            let conditions = service.status.map(|s| s.conditions).unwrap_or_default();
            if !conditions
                .iter()
                .any(|c| c.type_ == "Ready" && c.reason == "SlotInUse")
            {
                return Err(format!("service conditions {conditions:?}"));
            }
            let listed = events
                .list(&ListParams::default())
                .await
                .map_err(|e| e.to_string())?;
            if !listed
                .items
                .iter()
                .any(|e| e.reason.as_deref() == Some("SlotInUse"))
            {
                return Err("no SlotInUse Event yet".to_string());
            }
            Ok(())
        },
    )
    .await;
    // Forwarding, so that the controller has nothing left to write while the test edits the
    // file below (the table has one writer at a time; the test stands in for the operator).
    let forwarding = |table: &Table| {
        table
            .entries
            .iter()
            .filter(|e| e.owner.is_some() && e.backend.is_some())
            .count()
    };
    eventually(WAIT, "the other five Pod ports bound", || async {
        let table = ground.table().await?;
        (forwarding(&table) == 5)
            .then_some(table)
            .ok_or_else(|| "waiting".to_string())
    })
    .await;
    assert_eq!(ground.table().await.unwrap().entry(&taken), Some(&bastion));

    // The operator moves the bastion elsewhere; the child binds on its next look.
    let mut table = ground.table().await.unwrap();
    table.entries.retain(|e| e.public_port() != taken);
    ground.table.store(&table).await.unwrap();
    let nudge = json!({ "metadata": { "annotations": { "e2e/nudge": "1" } } });
    children
        .patch(child_name, &PatchParams::default(), &Patch::Merge(&nudge))
        .await
        .unwrap();
    let bound = ground.all_bound(3).await;
    assert_eq!(bound[child_name], "203.0.113.10:7000");

    ground.delete_service().await;
}

/// The custom provider next to a built-in one in the same binary and namespace: the same Pods
/// get a static-table address and a CLB listener each, every address in its own annotation.
#[tokio::test]
async fn the_custom_provider_serves_next_to_the_built_in_clb() {
    use tencentcloud_emulator::{Emulator, EmulatorConfig};

    let client = support::client().await;
    support::install(&client).await;
    let namespace = TestNamespace::create(&client, "e2e-static-with-clb").await;
    let ns = namespace.name().to_string();
    let emulator = Emulator::start(EmulatorConfig::demo(), "127.0.0.1:0".parse().unwrap())
        .await
        .expect("emulator starts");
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join("e2e-static-table")
        .join(&ns);
    std::fs::create_dir_all(&dir).unwrap();
    let table = dir.join("table.json");
    let config = format!(
        "{}cloud: {{endpoint: \"{}\", credentials: {{source: env}}}}\n",
        controller_config(&table)
            .replace(
                "region: local}",
                "region: ap-guangzhou, vpcCidrs: [10.0.0.0/8]}"
            )
            .replace(
                "clb: {enabled: false}",
                "clb: {enabled: true, batchWindowMs: 100}"
            ),
        emulator.endpoint()
    );
    let mut controller = ControllerProcess::start(&client, BINARY, &ns, &config, &dir).await;

    let ground_apply = |relative: &'static str, rename: Option<(&'static str, &'static str)>| {
        let client = client.clone();
        let ns = ns.clone();
        async move {
            let text = std::fs::read_to_string(support::repo_root().join(relative)).unwrap();
            let documents: Vec<serde_json::Value> = serde_saphyr::from_multiple(&text).unwrap();
            for mut document in documents
                .into_iter()
                .filter(|d| !d.is_null() && d["kind"] != "Namespace")
            {
                document["metadata"]["namespace"] = json!(ns);
                if let Some((name, annotation_prefix)) = rename {
                    document["metadata"]["name"] = json!(name);
                    for port in document["spec"]["ports"].as_array_mut().unwrap() {
                        let target = port["targetPort"].clone();
                        port["addressPodAnnotation"] =
                            json!(format!("{annotation_prefix}-{target}"));
                    }
                }
                apply_value(&client, document).await;
            }
        }
    };
    ground_apply(GAMESERVERS, None).await;
    ground_apply(SERVICE, None).await;
    ground_apply(
        "examples/clb/dedicatedclbservice.yaml",
        Some(("gameserver-clb", "networking.cloud.tencent.com/clb-address")),
    )
    .await;

    let pods: Api<Pod> = Api::namespaced(client.clone(), &ns);
    let children: Api<DedicatedCLBListener> = Api::namespaced(client.clone(), &ns);
    eventually(
        WAIT,
        "3 Pods x 2 ports bound by static-table and by clb",
        || async {
            let list = children
                .list(&ListParams::default())
                .await
                .map_err(|e| e.to_string())?
                .items;
            let bound = |provider: &str| {
                list.iter()
                    .filter(|c| c.spec.provider == provider)
                    .filter(|c| {
                        c.status.as_ref().and_then(|s| s.state) == Some(ListenerState::Bound)
                    })
                    .count()
            };
            if (bound("static-table"), bound("clb")) != (6, 6) {
                return Err(format!(
                    "static-table {}, clb {}",
                    bound("static-table"),
                    bound("clb")
                ));
            }
            for pod in pods
                .list(&ListParams::default())
                .await
                .map_err(|e| e.to_string())?
                .items
            {
                let annotations = pod.annotations();
                for key in ["external-address-9000", "clb-address-9000"] {
                    if !annotations.contains_key(&format!("networking.cloud.tencent.com/{key}")) {
                        return Err(format!("{} lacks {key}", pod.name_any()));
                    }
                }
            }
            Ok(())
        },
    )
    .await;

    let services: Api<DedicatedCLBService> = Api::namespaced(client.clone(), &ns);
    let _ = services
        .delete_collection(&Default::default(), &ListParams::default())
        .await;
    eventually(WAIT, "children released", || async {
        let left = children
            .list(&ListParams::default())
            .await
            .map_err(|e| e.to_string())?
            .items
            .len();
        if left == 0 {
            Ok(())
        } else {
            Err(format!("{left} left"))
        }
    })
    .await;
    controller.kill();
}
