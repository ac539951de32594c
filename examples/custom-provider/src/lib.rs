//! `static-table`: an example custom address provider, and a useful one.
//!
//! Many sites already have a device in front of their servers (a hardware load balancer, a game
//! gateway, a firewall doing DNAT) with a fixed set of public IPs and ports forwarded to
//! whatever its configuration says. This provider hands those public `IP:port`s out to Pod
//! ports, one per Pod port and protocol, and keeps the device's forwarding table: a JSON file
//! (see [`table`]) mapping each public IP:port/protocol to a Pod IP:targetPort, replaced
//! atomically on every change. The device's agent (a sidecar sharing the file's volume, or a
//! job on the device itself) watches that file and applies it.
//!
//! What it guarantees, as every provider must (see `docs/custom-providers.md`):
//! - `ensure` and `release` are idempotent: doing either twice changes nothing the second time,
//!   and a table that already says the right thing is not rewritten.
//! - Crash safety: the file is complete at every instant (written aside, flushed, renamed over),
//!   and everything the provider knows is in it, so a restarted controller picks up where the
//!   last one stopped.
//! - Ownership: every entry names its cluster and listener; entries someone else wrote are
//!   never changed, removed, or given to a Pod.
//! - Errors say what to do: a slot the config no longer offers or that someone else holds is the
//!   user's to fix ([`reason`]); a missing volume or an unreadable file is a deployment problem
//!   (permanent); anything else is retried.
//!
//! Building it into a controller takes a few lines; see `examples/custom-provider/controller`.
#![deny(warnings, rust_2018_idioms)]
#![forbid(unsafe_code)]

pub mod catalog;
mod config;
mod provider;
pub mod table;

pub use config::{ConfigError, FrontendConfig, PortRangeConfig, StaticTableConfig};
pub use provider::StaticTableProvider;

/// The name resources write in `spec.provider`, and the config section's name.
pub const PROVIDER_NAME: &str = "static-table";

/// Condition reasons of this provider, besides the shared ones in [`dac_provider_api::reason`].
pub mod reason {
    /// The slot's frontend, port or IP is no longer in `providers.static-table.frontends` (the
    /// config changed under it); the controller moves the Pod port to a slot that is.
    pub const SLOT_NOT_IN_TABLE: &str = "SlotNotInTable";
    /// The table's entry for the slot belongs to another listener, another cluster, or was
    /// written by hand.
    pub const SLOT_IN_USE: &str = "SlotInUse";
    /// A resource names a frontend that is not configured.
    pub const FRONTEND_NOT_FOUND: &str = "FrontendNotFound";
}

/// A scratch directory for tests that touch files, removed when dropped.
#[cfg(test)]
mod test_dir {
    use std::path::{Path, PathBuf};
    use std::sync::atomic::{AtomicU32, Ordering};

    pub struct TestDir(PathBuf);

    impl TestDir {
        pub fn new(name: &str) -> Self {
            static NEXT: AtomicU32 = AtomicU32::new(0);
            let path = std::env::temp_dir().join(format!(
                "static-table-{}-{}-{name}",
                std::process::id(),
                NEXT.fetch_add(1, Ordering::Relaxed)
            ));
            std::fs::create_dir_all(&path).unwrap();
            Self(path)
        }

        pub fn path(&self) -> &Path {
            &self.0
        }
    }

    impl Drop for TestDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}
