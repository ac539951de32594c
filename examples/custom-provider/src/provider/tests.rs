use super::*;
use crate::test_dir::TestDir;
use dac_provider_api::{PortRange, Protocol};
use serde_json::json;

const CLUSTER: &str = "cls-test";

/// Two frontends: a range of 2 ports, and 2 explicit ports.
fn config(dir: &TestDir) -> StaticTableConfig {
    StaticTableConfig::from_section(&json!({
        "tableFile": dir.path().join("table.json"),
        "frontends": [
            {"id": "edge-a", "publicIp": "203.0.113.10", "portRange": {"min": 7000, "max": 7001}},
            {"id": "edge-b", "publicIp": "203.0.113.20", "ports": [7100, 7105]},
        ],
    }))
    .unwrap()
}

fn provider(dir: &TestDir) -> StaticTableProvider {
    StaticTableProvider::new(CLUSTER, &config(dir)).unwrap()
}

fn scope() -> Scope {
    Scope {
        cluster: CLUSTER.into(),
        ..Scope::default()
    }
}

fn slot(frontend: &str, ip: &str, port: u16, protocol: Protocol) -> Slot {
    Slot::Port {
        frontend_id: frontend.into(),
        public_ip: Some(ip.into()),
        port,
        protocol,
    }
}

fn binding(name: &str, slot: Slot, pod_ip: Option<&str>) -> Binding {
    Binding {
        key: BindingKey::new("games", name),
        region: None,
        slot,
        backend: pod_ip.map(|ip| Backend {
            pod_name: "gs-0".into(),
            pod_ip: ip.into(),
            port: 9000,
        }),
        resource_id: None,
        listener_settings: None,
        options: None,
        keep_pod_address: false,
    }
}

fn a7000() -> Slot {
    slot("edge-a", "203.0.113.10", 7000, Protocol::Tcp)
}

async fn table(provider: &StaticTableProvider) -> Table {
    TableFile::new(provider.table_file()).load().await.unwrap()
}

#[tokio::test]
async fn ensure_records_the_mapping_once() {
    let dir = TestDir::new("ensure");
    let provider = provider(&dir);
    let gs0 = binding("gs-0-tcp-9000", a7000(), Some("10.244.0.5"));

    let status = provider.ensure(&gs0).await.unwrap();
    assert_eq!(
        status,
        BindingStatus {
            resource_id: "203.0.113.10:7000/TCP".into(),
            state: BindingState::Bound,
            address: Some("203.0.113.10:7000".into()),
        }
    );
    let written = table(&provider).await;
    assert_eq!(written.generation, 1);
    let entry = &written.entries[0];
    assert_eq!(entry.frontend_id, "edge-a");
    assert_eq!(
        entry.backend,
        Some(Target {
            ip: "10.244.0.5".parse().unwrap(),
            port: 9000,
            pod: "gs-0".into(),
        })
    );
    assert_eq!(
        entry.owner,
        Some(Owner {
            cluster: CLUSTER.into(),
            namespace: "games".into(),
            name: "gs-0-tcp-9000".into(),
        })
    );

    // Again, and again from a restarted controller: nothing is rewritten.
    assert_eq!(provider.ensure(&gs0).await.unwrap(), status);
    let restarted = self::provider(&dir);
    assert_eq!(restarted.ensure(&gs0).await.unwrap(), status);
    assert_eq!(table(&provider).await.generation, 1);
}

#[tokio::test]
async fn a_pod_without_ip_keeps_its_port_reserved() {
    let dir = TestDir::new("no-ip");
    let provider = provider(&dir);
    let status = provider
        .ensure(&binding("gs-0-tcp-9000", a7000(), None))
        .await
        .unwrap();
    assert_eq!(status.state, BindingState::Available);
    assert_eq!(status.address.as_deref(), Some("203.0.113.10:7000"));
    assert_eq!(table(&provider).await.entries[0].backend, None);

    // The recreated Pod, with a new IP, gets the same public port.
    let status = provider
        .ensure(&binding("gs-0-tcp-9000", a7000(), Some("10.244.3.3")))
        .await
        .unwrap();
    assert_eq!(status.state, BindingState::Bound);
    let entries = table(&provider).await.entries;
    assert_eq!(entries.len(), 1);
    assert_eq!(
        entries[0].backend.as_ref().unwrap().ip.to_string(),
        "10.244.3.3"
    );
}

#[tokio::test]
async fn a_slot_held_by_someone_else_is_the_users_to_sort_out() {
    let dir = TestDir::new("held");
    let provider = provider(&dir);
    provider
        .ensure(&binding("first", a7000(), Some("10.244.0.5")))
        .await
        .unwrap();

    let error = provider
        .ensure(&binding("second", a7000(), Some("10.244.0.6")))
        .await
        .unwrap_err();
    assert_eq!(error.reason(), reason::SLOT_IN_USE);
    assert!(
        error.message().contains("games/first of cluster cls-test"),
        "{error}"
    );

    // Releasing the loser must not take the winner's entry with it.
    provider
        .release(&binding("second", a7000(), None))
        .await
        .unwrap();
    let entries = table(&provider).await.entries;
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0].owner.as_ref().unwrap().name, "first");
}

#[tokio::test]
async fn release_is_idempotent_and_outlives_the_config() {
    let dir = TestDir::new("release");
    let provider = provider(&dir);
    let b7105 = slot("edge-b:7105", "203.0.113.20", 7105, Protocol::Udp);
    let gs = binding("gs-1-udp-8000", b7105.clone(), Some("10.244.0.7"));
    provider.ensure(&gs).await.unwrap();

    // The operator drops edge-b from the config; the entry must still go.
    let mut shrunk = config(&dir);
    shrunk.frontends.truncate(1);
    let restarted = StaticTableProvider::new(CLUSTER, &shrunk).unwrap();
    assert_eq!(
        restarted.ensure(&gs).await.unwrap_err().reason(),
        reason::SLOT_NOT_IN_TABLE
    );
    restarted.release(&gs).await.unwrap();
    let after = table(&provider).await;
    assert!(after.entries.is_empty());
    assert_eq!(after.generation, 2);

    restarted.release(&gs).await.unwrap();
    assert_eq!(
        table(&provider).await.generation,
        2,
        "nothing to do, nothing written"
    );
}

#[tokio::test]
async fn owned_entries_carry_the_slot_their_listener_records() {
    let dir = TestDir::new("owned");
    let provider = provider(&dir);
    let b7100 = slot("edge-b:7100", "203.0.113.20", 7100, Protocol::Udp);
    provider
        .ensure(&binding("gs-0-tcp-9000", a7000(), Some("10.244.0.5")))
        .await
        .unwrap();
    provider
        .ensure(&binding("gs-0-udp-8000", b7100.clone(), None))
        .await
        .unwrap();
    // Another cluster's controller shares the file.
    let other = StaticTableProvider::new("cls-other", &config(&dir)).unwrap();
    other
        .ensure(&binding(
            "x",
            slot("edge-a", "203.0.113.10", 7001, Protocol::Udp),
            None,
        ))
        .await
        .unwrap();

    let mut owned = provider.list_owned(&scope()).await.unwrap();
    owned.sort_by(|a, b| a.resource_id.cmp(&b.resource_id));
    assert_eq!(
        owned,
        vec![
            OwnedResource {
                resource_id: "203.0.113.10:7000/TCP".into(),
                region: None,
                slot: a7000(),
                owner: Some(BindingKey::new("games", "gs-0-tcp-9000")),
                namespace: None,
            },
            OwnedResource {
                resource_id: "203.0.113.20:7100/UDP".into(),
                region: None,
                slot: b7100,
                owner: Some(BindingKey::new("games", "gs-0-udp-8000")),
                namespace: None,
            },
        ]
    );

    let narrowed = |ids: &[&str]| Scope {
        frontend_ids: ids.iter().map(|id| id.to_string()).collect(),
        ..scope()
    };
    for ids in [&["edge-b"][..], &["edge-b:7100"]] {
        let owned = provider.list_owned(&narrowed(ids)).await.unwrap();
        assert_eq!(owned.len(), 1, "{ids:?}");
        assert_eq!(owned[0].resource_id, "203.0.113.20:7100/UDP");
    }
}

#[tokio::test]
async fn capacity_excludes_what_others_hold() {
    let dir = TestDir::new("capacity");
    let provider = provider(&dir);
    let frontends = provider.frontends(&scope()).await.unwrap();
    let summary: Vec<(String, u32, Option<PortRange>)> = frontends
        .iter()
        .map(|f| (f.id.clone(), f.capacity, f.port_range))
        .collect();
    assert_eq!(
        summary,
        vec![
            (
                "edge-a".into(),
                4,
                Some(PortRange {
                    min: 7000,
                    max: 7001
                })
            ),
            (
                "edge-b:7100".into(),
                2,
                Some(PortRange {
                    min: 7100,
                    max: 7100
                })
            ),
            (
                "edge-b:7105".into(),
                2,
                Some(PortRange {
                    min: 7105,
                    max: 7105
                })
            ),
        ]
    );
    assert_eq!(frontends[0].public_ips, vec!["203.0.113.10"]);

    // Ours does not count (the controller subtracts its own); another cluster's and a
    // hand-made entry do.
    provider
        .ensure(&binding("ours", a7000(), None))
        .await
        .unwrap();
    StaticTableProvider::new("cls-other", &config(&dir))
        .unwrap()
        .ensure(&binding(
            "theirs",
            slot("edge-a", "203.0.113.10", 7001, Protocol::Tcp),
            None,
        ))
        .await
        .unwrap();
    let mut written = table(&provider).await;
    written.entries.push(
        serde_json::from_value(json!({
            "publicIp": "203.0.113.20", "publicPort": 7105, "protocol": "UDP",
            "backend": {"ip": "10.9.9.9", "port": 22}
        }))
        .unwrap(),
    );
    TableFile::new(provider.table_file())
        .store(&written)
        .await
        .unwrap();

    let capacities: Vec<u32> = provider
        .frontends(&scope())
        .await
        .unwrap()
        .iter()
        .map(|f| f.capacity)
        .collect();
    assert_eq!(capacities, vec![3, 2, 1]);
}

#[tokio::test]
async fn concurrent_changes_are_all_kept() {
    let dir = TestDir::new("concurrent");
    let provider = std::sync::Arc::new(provider(&dir));
    let slots = [
        slot("edge-a", "203.0.113.10", 7000, Protocol::Tcp),
        slot("edge-a", "203.0.113.10", 7000, Protocol::Udp),
        slot("edge-a", "203.0.113.10", 7001, Protocol::Tcp),
        slot("edge-a", "203.0.113.10", 7001, Protocol::Udp),
        slot("edge-b:7100", "203.0.113.20", 7100, Protocol::Tcp),
        slot("edge-b:7100", "203.0.113.20", 7100, Protocol::Udp),
        slot("edge-b:7105", "203.0.113.20", 7105, Protocol::Tcp),
        slot("edge-b:7105", "203.0.113.20", 7105, Protocol::Udp),
    ];
    let tasks: Vec<_> = slots
        .iter()
        .enumerate()
        .map(|(i, slot)| {
            let provider = provider.clone();
            let binding = binding(&format!("b{i}"), slot.clone(), Some("10.244.0.9"));
            tokio::spawn(async move { provider.ensure(&binding).await })
        })
        .collect();
    for task in tasks {
        task.await.unwrap().unwrap();
    }
    let written = table(&provider).await;
    assert_eq!(written.entries.len(), 8);
    assert_eq!(written.generation, 8);
}

#[tokio::test]
async fn what_cannot_work_says_why() {
    let dir = TestDir::new("errors");
    let provider = provider(&dir);

    let bad_ip = binding("x", a7000(), Some("not-an-ip"));
    assert!(matches!(
        provider.ensure(&bad_ip).await,
        Err(ProviderError::Permanent { .. })
    ));
    let outside = binding(
        "x",
        slot("edge-a", "203.0.113.10", 7002, Protocol::Tcp),
        None,
    );
    assert_eq!(
        provider.ensure(&outside).await.unwrap_err().reason(),
        reason::SLOT_NOT_IN_TABLE
    );
    let unknown = Scope {
        frontend_ids: vec!["edge-z".into()],
        ..scope()
    };
    assert_eq!(
        provider.frontends(&unknown).await.unwrap_err().reason(),
        reason::FRONTEND_NOT_FOUND
    );

    // A table it cannot read is reported by every call and never overwritten.
    std::fs::write(provider.table_file(), "{ half an edit").unwrap();
    let ok = binding("x", a7000(), None);
    assert!(matches!(
        provider.ensure(&ok).await,
        Err(ProviderError::Permanent { .. })
    ));
    assert!(provider.release(&ok).await.is_err());
    assert!(provider.list_owned(&scope()).await.is_err());
    assert_eq!(
        std::fs::read_to_string(provider.table_file()).unwrap(),
        "{ half an edit"
    );
}

#[test]
fn the_cluster_id_is_required() {
    let dir = TestDir::new("cluster");
    let error = StaticTableProvider::new("", &config(&dir)).unwrap_err();
    assert!(error.to_string().contains("cluster.id"), "{error}");
}
