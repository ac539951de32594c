//! [`StaticTableProvider`]: the [`AddressProvider`] implementation.
use crate::catalog::Catalog;
use crate::config::{ConfigError, StaticTableConfig};
use crate::table::{HeldBy, Owner, PublicPort, Table, TableFile, Target};
use crate::{PROVIDER_NAME, reason};
use async_trait::async_trait;
use dac_provider_api::{
    AddressProvider, AllocationMode, Backend, Binding, BindingKey, BindingState, BindingStatus,
    Frontend, OwnedResource, ProviderError, Result, Scope, Slot,
};
use std::net::IpAddr;
use std::path::Path;

/// Hands out the public ports of a static table and records, in the table file, which Pod IP and
/// port each one forwards to. See the crate docs.
#[derive(Debug)]
pub struct StaticTableProvider {
    /// This cluster's id (the controller's `cluster.id`), the first part of every owner marker.
    cluster: String,
    catalog: Catalog,
    file: TableFile,
    /// Every change is read-modify-write of the whole file; this keeps concurrent reconciles of
    /// this process from losing each other's changes. (Other processes are not excluded: one
    /// controller per table file.)
    writing: tokio::sync::Mutex<()>,
}

impl StaticTableProvider {
    /// A provider for the controller of cluster `cluster_id`, serving `config`.
    pub fn new(
        cluster_id: impl Into<String>,
        config: &StaticTableConfig,
    ) -> Result<Self, ConfigError> {
        config.validate()?;
        let cluster = cluster_id.into();
        if cluster.is_empty() {
            return Err(ConfigError::Invalid(vec![
                "the controller's cluster.id is empty; it marks the entries this cluster owns"
                    .into(),
            ]));
        }
        Ok(Self {
            cluster,
            catalog: Catalog::new(config),
            file: TableFile::new(&config.table_file),
            writing: tokio::sync::Mutex::new(()),
        })
    }

    pub fn table_file(&self) -> &Path {
        self.file.path()
    }

    fn owner(&self, key: &BindingKey) -> Owner {
        Owner {
            cluster: self.cluster.clone(),
            namespace: key.namespace.clone(),
            name: key.name.clone(),
        }
    }

    /// Applies `change` to the table under the write lock, and writes the table back only when
    /// `change` says it changed something: repeated `ensure`s (every resync) cost one read and
    /// never make the agent re-apply an unchanged table.
    async fn change(&self, change: impl FnOnce(&mut Table) -> Result<bool>) -> Result<()> {
        let _writing = self.writing.lock().await;
        let mut table = self.file.load().await?;
        if change(&mut table)? {
            table.generation += 1;
            self.file.store(&table).await?;
        }
        Ok(())
    }

    fn in_use(&self, key: &PublicPort, holder: Option<Owner>) -> ProviderError {
        let message = match holder {
            Some(owner) => format!(
                "{} is held by {owner} in {}; it is released when that listener goes",
                key.resource_id(),
                self.file.path().display(),
            ),
            None => format!(
                "{} is taken by an entry that no controller wrote in {}; remove that entry or take the port out of the frontend",
                key.resource_id(),
                self.file.path().display(),
            ),
        };
        ProviderError::user_fixable(reason::SLOT_IN_USE, message)
    }
}

fn target(backend: &Backend) -> Result<Target> {
    let ip: IpAddr = backend.pod_ip.parse().map_err(|_| {
        ProviderError::permanent(format!(
            "Pod {} has IP {:?}, which is not an IP address",
            backend.pod_name, backend.pod_ip
        ))
    })?;
    Ok(Target {
        ip,
        port: backend.port,
        pod: backend.pod_name.clone(),
    })
}

/// Whether an entry's frontend is one of `ids` (by offered id, or by config id for the
/// single-port frontends `<id>:<port>`).
fn on_frontends(frontend_id: &str, ids: &[String]) -> bool {
    ids.is_empty()
        || ids.iter().any(|id| {
            frontend_id == id
                || frontend_id
                    .strip_prefix(id.as_str())
                    .is_some_and(|rest| rest.starts_with(':'))
        })
}

#[async_trait]
impl AddressProvider for StaticTableProvider {
    fn name(&self) -> &str {
        PROVIDER_NAME
    }

    /// The table's ports are shared by all Pods; the controller allocates them.
    fn allocation_mode(&self) -> AllocationMode {
        AllocationMode::PortPerSlot
    }

    /// The configured frontends; each one's capacity is its ports x 2 protocols, less the
    /// entries there that this cluster does not own (hand-made ones, other clusters').
    async fn frontends(&self, scope: &Scope) -> Result<Vec<Frontend>> {
        let offers = self.catalog.narrowed(&scope.frontend_ids)?;
        let table = self.file.load().await?;
        Ok(offers
            .into_iter()
            .map(|offer| {
                let taken = table
                    .entries
                    .iter()
                    .filter(|entry| offer.contains(entry.public_ip, entry.public_port))
                    .filter(|entry| {
                        entry
                            .owner
                            .as_ref()
                            .is_none_or(|owner| owner.cluster != scope.cluster)
                    })
                    .count();
                offer.frontend(u32::try_from(taken).unwrap_or(u32::MAX))
            })
            .collect())
    }

    async fn ensure(&self, binding: &Binding) -> Result<BindingStatus> {
        let key = self.catalog.place(&binding.slot)?;
        let Slot::Port { frontend_id, .. } = &binding.slot else {
            unreachable!("Catalog::place accepts port slots only");
        };
        let backend = binding.backend.as_ref().map(target).transpose()?;
        let state = if backend.is_some() {
            BindingState::Bound
        } else {
            BindingState::Available
        };
        let owner = self.owner(&binding.key);
        self.change(|table| {
            table
                .bind(key, frontend_id, &owner, backend)
                .map_err(|HeldBy(holder)| self.in_use(&key, holder))
        })
        .await?;
        // Written to the table is as far as this provider goes: applying it is the agent's job,
        // and a table it has not applied yet is still the truth it converges to.
        Ok(BindingStatus {
            resource_id: key.resource_id(),
            state,
            address: Some(key.address()),
        })
    }

    /// Removes this binding's entry; only one this cluster wrote for this very listener, so that
    /// dropping a listener whose slot someone else holds leaves their entry alone. The frontend
    /// need not be configured any more: entries of removed frontends must go too.
    async fn release(&self, binding: &Binding) -> Result<()> {
        let Slot::Port {
            frontend_id,
            public_ip,
            port,
            protocol,
        } = &binding.slot
        else {
            return Ok(()); // Nothing was ever written for it.
        };
        let ip: Option<IpAddr> = public_ip.as_deref().and_then(|ip| ip.parse().ok());
        let owner = self.owner(&binding.key);
        self.change(|table| {
            Ok(table.unbind(&owner, |entry| {
                entry.frontend_id == *frontend_id
                    && entry.public_port == *port
                    && entry.protocol == *protocol
                    && ip.is_none_or(|ip| entry.public_ip == ip)
            }))
        })
        .await
    }

    /// Every entry with this cluster's marker, configured frontend or not, each with the slot
    /// exactly as its listener records it, so that the controller's orphan sweep can tell which
    /// ones no listener holds.
    async fn list_owned(&self, scope: &Scope) -> Result<Vec<OwnedResource>> {
        let table = self.file.load().await?;
        Ok(table
            .entries
            .iter()
            .filter(|entry| on_frontends(&entry.frontend_id, &scope.frontend_ids))
            .filter_map(|entry| {
                let owner = entry.owner.as_ref()?;
                (owner.cluster == scope.cluster).then(|| OwnedResource {
                    resource_id: entry.public_port().resource_id(),
                    region: None,
                    slot: Slot::Port {
                        frontend_id: entry.frontend_id.clone(),
                        public_ip: Some(entry.public_ip.to_string()),
                        port: entry.public_port,
                        protocol: entry.protocol,
                    },
                    owner: Some(BindingKey::new(&owner.namespace, &owner.name)),
                    namespace: None,
                })
            })
            .collect())
    }
}

#[cfg(test)]
mod tests;
