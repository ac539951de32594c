//! The mapping table: the file this provider keeps and the device's agent applies.
//!
//! ```json
//! {
//!   "version": 1,
//!   "generation": 42,
//!   "entries": [
//!     {
//!       "publicIp": "203.0.113.10", "publicPort": 20000, "protocol": "UDP",
//!       "frontendId": "edge-a",
//!       "backend": {"ip": "10.244.1.7", "port": 8000, "pod": "gameserver-0"},
//!       "owner": {"cluster": "cls-prod", "namespace": "games", "name": "gameserver-gameserver-0-udp-8000"}
//!     }
//!   ]
//! }
//! ```
//!
//! - One entry per (public IP, public port, protocol): what the device matches on.
//! - `backend: null` keeps the public port reserved for its owner while its Pod has no IP (being
//!   recreated): the device forwards it nowhere.
//! - `owner` is the ownership marker: the cluster and the `DedicatedCLBListener` the entry
//!   belongs to. Entries without one, or with another cluster's, were written by someone else and
//!   are never changed or removed; they count against the capacity of their frontend.
//! - Every write replaces the whole file by an atomic rename, so the agent (and a controller that
//!   restarts half-way) only ever sees a complete table, old or new. `generation` grows with every
//!   write that changes something, so the agent can skip a table it has applied already. Fields
//!   this provider does not know are kept as they are.
use dac_provider_api::{Protocol, ProviderError};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::io;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use tokio::io::AsyncWriteExt;

/// The `version` this provider writes and reads.
pub const FORMAT_VERSION: u32 = 1;

/// The whole file.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Table {
    pub version: u32,
    #[serde(default)]
    pub generation: u64,
    #[serde(default)]
    pub entries: Vec<Entry>,
}

impl Default for Table {
    fn default() -> Self {
        Self {
            version: FORMAT_VERSION,
            generation: 0,
            entries: Vec::new(),
        }
    }
}

/// One public port of one protocol, and where the device sends it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Entry {
    pub public_ip: IpAddr,
    pub public_port: u16,
    pub protocol: Protocol,
    /// The slot's frontend (the child's `lbId`).
    #[serde(default)]
    pub frontend_id: String,
    /// `None`: reserved, forwarded nowhere.
    #[serde(default)]
    pub backend: Option<Target>,
    /// `None`: not written by a controller; left alone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<Owner>,
    /// Whatever else someone put on the entry (a comment, the agent's own bookkeeping).
    #[serde(flatten)]
    pub extra: serde_json::Map<String, serde_json::Value>,
}

impl Entry {
    pub fn public_port(&self) -> PublicPort {
        PublicPort {
            ip: self.public_ip,
            port: self.public_port,
            protocol: self.protocol,
        }
    }
}

/// A Pod IP and port.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Target {
    pub ip: IpAddr,
    pub port: u16,
    /// For people reading the table; the device needs only `ip` and `port`.
    #[serde(default)]
    pub pod: String,
}

/// Who an entry belongs to: a `DedicatedCLBListener` of a cluster.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Owner {
    pub cluster: String,
    pub namespace: String,
    pub name: String,
}

impl std::fmt::Display for Owner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}/{} of cluster {}",
            self.namespace, self.name, self.cluster
        )
    }
}

/// What the device matches on: the key of an entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PublicPort {
    pub ip: IpAddr,
    pub port: u16,
    pub protocol: Protocol,
}

impl PublicPort {
    /// `IP:port`, bracketed for IPv6.
    pub fn address(&self) -> String {
        std::net::SocketAddr::new(self.ip, self.port).to_string()
    }

    /// The binding's resource id (the child's `status.listenerId`): `IP:port/PROTOCOL`.
    pub fn resource_id(&self) -> String {
        format!("{}/{}", self.address(), self.protocol)
    }
}

/// [`Table::bind`] found the entry held by someone else.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HeldBy(pub Option<Owner>);

impl Table {
    pub fn entry(&self, key: &PublicPort) -> Option<&Entry> {
        self.entries
            .iter()
            .find(|entry| entry.public_port() == *key)
    }

    /// Makes the entry at `key` belong to `owner` and forward to `backend`; `Ok(true)` when
    /// something changed. An entry held by anyone else is left alone.
    pub fn bind(
        &mut self,
        key: PublicPort,
        frontend_id: &str,
        owner: &Owner,
        backend: Option<Target>,
    ) -> Result<bool, HeldBy> {
        match self.entries.iter_mut().find(|e| e.public_port() == key) {
            Some(entry) if entry.owner.as_ref() != Some(owner) => Err(HeldBy(entry.owner.clone())),
            Some(entry) if entry.backend == backend && entry.frontend_id == frontend_id => {
                Ok(false)
            }
            Some(entry) => {
                entry.backend = backend;
                entry.frontend_id = frontend_id.to_string();
                Ok(true)
            }
            None => {
                self.entries.push(Entry {
                    public_ip: key.ip,
                    public_port: key.port,
                    protocol: key.protocol,
                    frontend_id: frontend_id.to_string(),
                    backend,
                    owner: Some(owner.clone()),
                    extra: Default::default(),
                });
                Ok(true)
            }
        }
    }

    /// Removes `owner`'s entries that `matches`; `true` when something was removed.
    pub fn unbind(&mut self, owner: &Owner, matches: impl Fn(&Entry) -> bool) -> bool {
        let before = self.entries.len();
        self.entries
            .retain(|entry| !(entry.owner.as_ref() == Some(owner) && matches(entry)));
        self.entries.len() != before
    }

    /// Entries in a fixed order, so that the same table is always the same file.
    fn sort(&mut self) {
        self.entries.sort_by_key(Entry::public_port);
    }

    /// What makes a table unusable, if anything.
    fn problem(&self) -> Option<String> {
        if self.version != FORMAT_VERSION {
            return Some(format!(
                "version {} (this provider reads version {FORMAT_VERSION})",
                self.version
            ));
        }
        let mut seen = BTreeSet::new();
        self.entries
            .iter()
            .map(Entry::public_port)
            .find(|key| !seen.insert(*key))
            .map(|key| format!("{} is listed twice", key.resource_id()))
    }
}

/// Reading or writing the table failed.
#[derive(Debug, thiserror::Error)]
pub enum TableError {
    #[error("cannot {action} {path}: {source}")]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("{path} is not a table this provider can use: {problem}; it is left as it is")]
    Unusable { path: PathBuf, problem: String },
}

/// What the controller should do about it: a deployment problem (no such directory, no
/// permission, a read-only volume) or a file the provider cannot read will not go away by
/// itself; anything else (a full disk, an interrupted call) may.
impl From<TableError> for ProviderError {
    fn from(error: TableError) -> Self {
        let lasting = match &error {
            TableError::Io { source, .. } => matches!(
                source.kind(),
                io::ErrorKind::NotFound
                    | io::ErrorKind::PermissionDenied
                    | io::ErrorKind::ReadOnlyFilesystem
                    | io::ErrorKind::IsADirectory
                    | io::ErrorKind::NotADirectory
            ),
            TableError::Unusable { .. } => true,
        };
        if lasting {
            ProviderError::permanent(error.to_string())
        } else {
            ProviderError::retryable(error.to_string())
        }
    }
}

/// The table's file.
#[derive(Clone, Debug)]
pub struct TableFile {
    path: PathBuf,
}

impl TableFile {
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self { path: path.into() }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The table; an empty one while the file does not exist or is empty (created by hand).
    pub async fn load(&self) -> Result<Table, TableError> {
        let text = match tokio::fs::read_to_string(&self.path).await {
            Ok(text) => text,
            Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(Table::default()),
            Err(source) => return Err(self.io("read", source)),
        };
        if text.trim().is_empty() {
            return Ok(Table::default());
        }
        // Never overwrite what cannot be read: it may be someone's half-done edit.
        let table: Table = serde_json::from_str(&text).map_err(|e| self.unusable(e))?;
        match table.problem() {
            Some(problem) => Err(self.unusable(problem)),
            None => Ok(table),
        }
    }

    /// Replaces the file with `table`, atomically: written to a temporary file next to it,
    /// flushed to disk, then renamed over it (a rename within a directory is atomic).
    pub async fn store(&self, table: &Table) -> Result<(), TableError> {
        let mut table = table.clone();
        table.sort();
        let mut bytes = serde_json::to_vec_pretty(&table).expect("a table serializes");
        bytes.push(b'\n');

        let temporary = self.temporary_path();
        let mut file = tokio::fs::File::create(&temporary)
            .await
            .map_err(|e| self.io("create", e))?;
        let written = async {
            file.write_all(&bytes).await?;
            // Data on disk before the rename: a crash must not leave an empty table behind.
            file.sync_all().await
        }
        .await;
        if let Err(source) = written {
            let _ = tokio::fs::remove_file(&temporary).await;
            return Err(self.io("write", source));
        }
        if let Err(source) = tokio::fs::rename(&temporary, &self.path).await {
            let _ = tokio::fs::remove_file(&temporary).await;
            return Err(self.io("replace", source));
        }
        // Makes the rename itself durable. Best effort: some filesystems cannot sync a
        // directory, and the table is already complete and in place either way.
        if let Ok(directory) = tokio::fs::File::open(self.directory()).await {
            let _ = directory.sync_all().await;
        }
        Ok(())
    }

    fn directory(&self) -> &Path {
        match self.path.parent() {
            Some(parent) if !parent.as_os_str().is_empty() => parent,
            _ => Path::new("."),
        }
    }

    /// `.<name>.<pid>.tmp` in the same directory: a rename only replaces atomically within one
    /// filesystem, the leading dot tells agents to ignore it, and the pid keeps a second process
    /// (an old controller still shutting down) from writing into the same temporary file.
    fn temporary_path(&self) -> PathBuf {
        let name = self
            .path
            .file_name()
            .map(|name| name.to_string_lossy().into_owned())
            .unwrap_or_else(|| "table".into());
        self.directory()
            .join(format!(".{name}.{}.tmp", std::process::id()))
    }

    fn io(&self, action: &'static str, source: io::Error) -> TableError {
        TableError::Io {
            action,
            path: self.path.clone(),
            source,
        }
    }

    fn unusable(&self, problem: impl ToString) -> TableError {
        TableError::Unusable {
            path: self.path.clone(),
            problem: problem.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_dir::TestDir;

    fn key(port: u16, protocol: Protocol) -> PublicPort {
        PublicPort {
            ip: "203.0.113.10".parse().unwrap(),
            port,
            protocol,
        }
    }

    fn owner(name: &str) -> Owner {
        Owner {
            cluster: "cls-a".into(),
            namespace: "games".into(),
            name: name.into(),
        }
    }

    fn target(ip: &str) -> Option<Target> {
        Some(Target {
            ip: ip.parse().unwrap(),
            port: 9000,
            pod: "gs-0".into(),
        })
    }

    #[test]
    fn binding_is_idempotent_and_never_takes_what_others_hold() {
        let mut table = Table::default();
        let (tcp, udp) = (key(7000, Protocol::Tcp), key(7000, Protocol::Udp));
        assert_eq!(table.bind(tcp, "edge", &owner("a"), None), Ok(true));
        assert_eq!(
            table.bind(tcp, "edge", &owner("a"), target("10.0.0.1")),
            Ok(true)
        );
        assert_eq!(
            table.bind(tcp, "edge", &owner("a"), target("10.0.0.1")),
            Ok(false)
        );
        assert_eq!(
            table.bind(tcp, "edge", &owner("b"), target("10.0.0.2")),
            Err(HeldBy(Some(owner("a"))))
        );
        // The other protocol on the same port is another entry.
        assert_eq!(
            table.bind(udp, "edge", &owner("b"), target("10.0.0.2")),
            Ok(true)
        );
        assert_eq!(
            table.entry(&tcp).unwrap().backend,
            target("10.0.0.1"),
            "b's bind must not have touched a's entry"
        );

        assert!(!table.unbind(&owner("b"), |e| e.public_port() == tcp));
        assert!(table.unbind(&owner("a"), |e| e.public_port() == tcp));
        assert!(!table.unbind(&owner("a"), |e| e.public_port() == tcp));
        assert_eq!(table.entries.len(), 1);
    }

    #[test]
    fn hand_written_entries_are_nobodys_to_take() {
        let mut table: Table = serde_json::from_value(serde_json::json!({
            "version": 1,
            "entries": [{"publicIp": "203.0.113.10", "publicPort": 7000, "protocol": "TCP",
                         "backend": {"ip": "10.9.9.9", "port": 22}, "comment": "bastion"}],
        }))
        .unwrap();
        assert_eq!(
            table.bind(key(7000, Protocol::Tcp), "edge", &owner("a"), None),
            Err(HeldBy(None))
        );
        assert_eq!(table.entries[0].extra["comment"], "bastion");
    }

    #[tokio::test]
    async fn the_file_round_trips_sorted_and_keeps_unknown_fields() {
        let dir = TestDir::new("round-trip");
        let file = TableFile::new(dir.path().join("table.json"));
        assert_eq!(file.load().await.unwrap(), Table::default());

        let mut table = Table::default();
        table
            .bind(key(7001, Protocol::Udp), "edge", &owner("b"), None)
            .unwrap();
        table
            .bind(
                key(7000, Protocol::Tcp),
                "edge",
                &owner("a"),
                target("10.0.0.1"),
            )
            .unwrap();
        table.entries[0]
            .extra
            .insert("agentNote".into(), serde_json::json!("applied"));
        table.generation = 7;
        file.store(&table).await.unwrap();

        let back = file.load().await.unwrap();
        assert_eq!(back.generation, 7);
        let ports: Vec<u16> = back.entries.iter().map(|e| e.public_port).collect();
        assert_eq!(ports, vec![7000, 7001]);
        assert_eq!(back.entries[1].extra["agentNote"], "applied");
        let text = std::fs::read_to_string(file.path()).unwrap();
        assert!(text.contains("\"backend\": null"), "{text}");
        assert!(text.ends_with("}\n"));
        let leftovers: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(leftovers, vec!["table.json"], "no temporary file is left");
    }

    #[tokio::test]
    async fn unusable_files_are_reported_and_left_alone() {
        let dir = TestDir::new("unusable");
        let path = dir.path().join("table.json");
        let file = TableFile::new(&path);
        for (text, problem) in [
            ("{\"version\": 1, \"entries\": [", "EOF while parsing"),
            ("{\"version\": 2}", "version 2"),
            (
                r#"{"version": 1, "entries": [
                    {"publicIp": "203.0.113.10", "publicPort": 1, "protocol": "TCP"},
                    {"publicIp": "203.0.113.10", "publicPort": 1, "protocol": "TCP"}]}"#,
                "203.0.113.10:1/TCP is listed twice",
            ),
        ] {
            std::fs::write(&path, text).unwrap();
            let error = file.load().await.unwrap_err();
            assert!(error.to_string().contains(problem), "{error}");
            let error = ProviderError::from(error);
            assert!(
                matches!(error, ProviderError::Permanent { .. }),
                "{error:?}"
            );
        }
        std::fs::write(&path, "\n").unwrap();
        assert_eq!(file.load().await.unwrap(), Table::default());
    }

    #[tokio::test]
    async fn a_missing_directory_is_a_deployment_problem() {
        let dir = TestDir::new("missing");
        let file = TableFile::new(dir.path().join("not-mounted/table.json"));
        let error = ProviderError::from(file.store(&Table::default()).await.unwrap_err());
        assert!(
            matches!(error, ProviderError::Permanent { .. }),
            "{error:?}"
        );
        assert!(error.message().contains("not-mounted"), "{error}");
    }

    #[test]
    fn passing_trouble_is_retried() {
        let error = ProviderError::from(TableError::Io {
            action: "write",
            path: "/t.json".into(),
            source: io::Error::from(io::ErrorKind::StorageFull),
        });
        assert!(error.is_retryable(), "{error:?}");
    }

    #[test]
    fn addresses_bracket_ipv6() {
        let v6 = PublicPort {
            ip: "2001:db8::1".parse().unwrap(),
            port: 7000,
            protocol: Protocol::Udp,
        };
        assert_eq!(v6.address(), "[2001:db8::1]:7000");
        assert_eq!(
            key(7000, Protocol::Tcp).resource_id(),
            "203.0.113.10:7000/TCP"
        );
    }
}
