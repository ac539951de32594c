//! [`ClbProvider`]: the [`AddressProvider`] implementation. Writes go through the per-CLB
//! queues; reads for capacity and ownership (`frontends`, `list_owned`) go straight to the
//! cloud, through the caches.
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use dac_provider_api::{
    AddressProvider, AllocationMode, Binding, BindingKey, BindingStatus, Frontend, OwnedResource,
    Protocol, ProviderError, Result, Scope, Slot, reason,
};
use dac_tencentcloud::ClbApi;
use dac_tencentcloud::models::clb;

use crate::cache::{Caches, listener_quota, load_balancers};
use crate::config::{ClbProviderConfig, ConfigError};
use crate::errors::{self, Stage};
use crate::marker::{self, Ownership};
use crate::queue::plan::ListenerView;
use crate::queue::{self, EnsureJob, Queues, ReleaseJob, WorkerEnv};
use crate::settings::ListenerSettings;
use crate::stats::{ClbStats, CountingClbApi};

/// Page size of DescribeLoadBalancers when listing every instance of a region.
const LB_PAGE: i64 = 100;

/// The `clb` address provider. Cheap to share behind an `Arc`; all its methods take `&self`.
pub struct ClbProvider {
    config: ClbProviderConfig,
    api: Arc<CountingClbApi>,
    caches: Arc<Caches>,
    queues: Queues,
    /// Keys whose marker is the hashed form (too long to spell out), by marker, as seen by
    /// `ensure`/`release` since start, so that `list_owned` can name their owners.
    hashed_owners: Mutex<HashMap<String, BindingKey>>,
}

impl std::fmt::Debug for ClbProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClbProvider")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl ClbProvider {
    /// A provider on `api` (a [`dac_tencentcloud::Client`], or a mock in tests). Fails when the
    /// configuration cannot work ([`ClbProviderConfig::validate`]). Workers are started on the
    /// first write to each CLB, so this must be called inside a Tokio runtime only by then.
    pub fn new(api: Arc<dyn ClbApi>, config: ClbProviderConfig) -> Result<Self, ConfigError> {
        config.validate()?;
        let api = Arc::new(CountingClbApi::new(api));
        let caches = Arc::new(Caches::new(&config));
        let env = Arc::new(WorkerEnv {
            api: Arc::clone(&api),
            caches: Arc::clone(&caches),
            cluster: config.cluster_id.clone(),
            batch_window: config.batch_window(),
            max_batch_jobs: config.max_batch_jobs,
            max_ports_per_create: config.max_ports_per_create,
            task_deadline: config.task_deadline(),
            listener_quota: config.listener_quota,
        });
        Ok(Self {
            queues: queue::queues(env),
            config,
            api,
            caches,
            hashed_owners: Mutex::new(HashMap::new()),
        })
    }

    pub fn config(&self) -> &ClbProviderConfig {
        &self.config
    }

    /// Cloud calls made so far, by action, and batching rounds.
    pub fn stats(&self) -> ClbStats {
        self.api.snapshot()
    }

    /// The listener name this provider gives the binding of child object `key`.
    pub fn marker_for(&self, key: &BindingKey) -> String {
        marker::encode(&self.config.cluster_id, key)
    }

    fn region<'a>(&'a self, region: Option<&'a str>) -> &'a str {
        region
            .filter(|r| !r.is_empty())
            .unwrap_or(&self.config.region)
    }

    /// The marker of `key`, remembering hashed ones so that `list_owned` can name them.
    fn marker_remembered(&self, key: &BindingKey) -> String {
        let name = self.marker_for(key);
        if marker::parse(&self.config.cluster_id, &name) == Ownership::OwnedUnknown {
            let mut owners = self.hashed_owners.lock().unwrap_or_else(|e| e.into_inner());
            owners.insert(name.clone(), key.clone());
        }
        name
    }

    async fn describe_listeners(&self, region: &str, lb_id: &str) -> Result<Vec<ListenerView>> {
        let req = clb::DescribeListenersRequest {
            load_balancer_id: lb_id.to_string(),
            ..Default::default()
        };
        let resp = self
            .api
            .describe_listeners(region, &req)
            .await
            .map_err(|e| errors::map(&e, Stage::Read, lb_id))?;
        Ok(resp
            .listeners
            .iter()
            .filter_map(ListenerView::from_model)
            .collect())
    }

    /// Listeners on the instance that are not ours: they use quota we cannot have.
    async fn foreign_listeners(&self, region: &str, lb_id: &str) -> Result<u32> {
        let key = (region.to_string(), lb_id.to_string());
        if let Some(count) = self.caches.foreign_listeners.get(&key) {
            return Ok(count);
        }
        let listeners = self.describe_listeners(region, lb_id).await?;
        let count = listeners
            .iter()
            .filter(|l| marker::parse(&self.config.cluster_id, &l.name) == Ownership::Foreign)
            .count();
        let count = u32::try_from(count).unwrap_or(u32::MAX);
        self.caches.foreign_listeners.insert(key, count);
        Ok(count)
    }

    /// Every CLB instance of the region (for `list_owned` with no frontends named).
    async fn all_load_balancer_ids(&self, region: &str) -> Result<Vec<String>> {
        let mut ids = Vec::new();
        let mut offset = 0;
        loop {
            let req = clb::DescribeLoadBalancersRequest {
                offset: Some(offset),
                limit: Some(LB_PAGE),
                ..Default::default()
            };
            let resp = self
                .api
                .describe_load_balancers(region, &req)
                .await
                .map_err(|e| errors::map(&e, Stage::Read, "-"))?;
            let page = resp.load_balancer_set.len() as i64;
            ids.extend(
                resp.load_balancer_set
                    .into_iter()
                    .filter_map(|lb| lb.load_balancer_id),
            );
            offset += page;
            if page < LB_PAGE || resp.total_count.is_some_and(|total| offset >= total) {
                return Ok(ids);
            }
        }
    }
}

/// The (CLB, port, protocol) of a binding; the clb provider serves port slots only.
fn port_slot(binding: &Binding) -> Result<(&str, u16, Protocol)> {
    match &binding.slot {
        Slot::Port {
            frontend_id,
            port,
            protocol,
            ..
        } if !frontend_id.is_empty() => Ok((frontend_id, *port, *protocol)),
        Slot::Port { .. } => Err(ProviderError::permanent(format!(
            "binding {} names no CLB (empty frontend id)",
            binding.key
        ))),
        Slot::PodAddress { .. } => Err(ProviderError::permanent(format!(
            "binding {} has a Pod-address slot; the clb provider serves port slots only",
            binding.key
        ))),
    }
}

#[async_trait]
impl AddressProvider for ClbProvider {
    fn name(&self) -> &str {
        crate::PROVIDER_NAME
    }

    fn allocation_mode(&self) -> AllocationMode {
        AllocationMode::PortPerSlot
    }

    async fn frontends(&self, scope: &Scope) -> Result<Vec<Frontend>> {
        let region = self.region(scope.region.as_deref());
        if scope.frontend_ids.is_empty() {
            // The clb provider has no configured pool: a resource names its CLBs
            // (`existedLbIds`).
            return Ok(Vec::new());
        }
        load_balancers(self.api.as_ref(), &self.caches, region, &scope.frontend_ids).await?;
        let quota = listener_quota(
            self.api.as_ref(),
            &self.caches,
            self.config.listener_quota,
            region,
        )
        .await?;
        let mut frontends = Vec::new();
        for id in &scope.frontend_ids {
            if frontends.iter().any(|f: &Frontend| f.id == *id) {
                continue;
            }
            let foreign = self.foreign_listeners(region, id).await?;
            frontends.push(Frontend {
                id: id.clone(),
                public_ips: Vec::new(),
                capacity: quota.saturating_sub(foreign),
                port_range: None,
            });
        }
        Ok(frontends)
    }

    async fn ensure(&self, binding: &Binding) -> Result<BindingStatus> {
        let (lb_id, port, protocol) = port_slot(binding)?;
        let region = self.region(binding.region.as_deref());
        let settings = ListenerSettings::from_json(binding.listener_settings.as_ref())?;
        if let Some(backend) = &binding.backend
            && (backend.pod_ip.is_empty() || backend.port == 0)
        {
            return Err(ProviderError::permanent(format!(
                "binding {}: backend {}:{} is not a target",
                binding.key, backend.pod_ip, backend.port
            )));
        }
        let job = EnsureJob {
            marker: self.marker_remembered(&binding.key),
            port,
            protocol,
            settings,
            backend: binding.backend.clone(),
        };
        let outcome = self.queues.ensure(region, lb_id, job).await?;
        Ok(BindingStatus {
            resource_id: outcome.listener_id,
            state: outcome.state,
            address: outcome.address,
        })
    }

    async fn release(&self, binding: &Binding) -> Result<()> {
        let (lb_id, port, protocol) = port_slot(binding)?;
        let region = self.region(binding.region.as_deref());
        let job = ReleaseJob {
            marker: self.marker_remembered(&binding.key),
            port,
            protocol,
            resource_id: binding.resource_id.clone().filter(|id| !id.is_empty()),
        };
        match self.queues.release(region, lb_id, job).await {
            // The CLB itself is gone, and its listeners with it.
            Err(err) if err.reason() == reason::LOAD_BALANCER_NOT_FOUND => Ok(()),
            other => other,
        }
    }

    async fn list_owned(&self, scope: &Scope) -> Result<Vec<OwnedResource>> {
        let region = self.region(scope.region.as_deref());
        let cluster = if scope.cluster.is_empty() {
            self.config.cluster_id.as_str()
        } else {
            scope.cluster.as_str()
        };
        let lb_ids = if scope.frontend_ids.is_empty() {
            self.all_load_balancer_ids(region).await?
        } else {
            scope.frontend_ids.clone()
        };
        let hashed = self
            .hashed_owners
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        let mut owned = Vec::new();
        for lb_id in lb_ids {
            let listeners = match self.describe_listeners(region, &lb_id).await {
                Ok(listeners) => listeners,
                // Nothing can be left on a CLB that does not exist.
                Err(err) if err.reason() == reason::LOAD_BALANCER_NOT_FOUND => continue,
                Err(err) => return Err(err),
            };
            for l in listeners {
                let owner = match marker::parse(cluster, &l.name) {
                    Ownership::Foreign => continue,
                    Ownership::Owned(key) => Some(key),
                    Ownership::OwnedUnknown => hashed.get(&l.name).cloned(),
                };
                let protocol = match l.protocol.as_str() {
                    "TCP" => Protocol::Tcp,
                    "UDP" => Protocol::Udp,
                    // Not a kind of listener we create: leave it alone.
                    _ => continue,
                };
                let Ok(port) = u16::try_from(l.port) else {
                    continue;
                };
                owned.push(OwnedResource {
                    resource_id: l.id,
                    region: Some(region.to_string()),
                    slot: Slot::Port {
                        frontend_id: lb_id.clone(),
                        public_ip: None,
                        port,
                        protocol,
                    },
                    owner,
                });
            }
        }
        Ok(owned)
    }
}

#[cfg(test)]
mod tests;
