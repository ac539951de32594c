//! [`ClbProvider`]: the [`AddressProvider`] implementation. Writes go through the per-CLB
//! queues; reads for capacity and ownership (`frontends`, `list_owned`) go straight to the
//! cloud, through the caches.
use std::sync::Arc;

use async_trait::async_trait;
use dac_provider_api::{
    AddressProvider, AllocationMode, Binding, BindingKey, BindingStatus, Frontend, FrontendProblem,
    OwnedResource, Protocol, ProviderError, Result, Scope, Slot, TakenSlot, reason,
};
use dac_provider_support::marker::HashedOwners;
use dac_provider_support::sweep::SweepGuard;
use dac_tencentcloud::ClbApi;
use dac_tencentcloud::models::clb;

use crate::cache::{self, Caches, listener_quota, load_balancers};
use crate::config::{ClbProviderConfig, ConfigError};
use crate::errors::{self, Stage};
use crate::marker;
use crate::queue::plan::ListenerView;
use crate::queue::{self, EnsureJob, Queues, ReleaseJob, WorkerEnv, sweep_key};
use crate::settings::ListenerSettings;
use crate::stats::{ClbStats, CountingClbApi};

/// Page size of DescribeLoadBalancers when listing every instance of a region.
const LB_PAGE: i64 = 100;

/// The `clb` address provider. Cheap to share behind an `Arc`; all its methods take `&self`.
pub struct ClbProvider {
    config: ClbProviderConfig,
    pub(crate) api: Arc<CountingClbApi>,
    caches: Arc<Caches>,
    /// What the workers share with the provider: the hashed owners seen since start (so that
    /// `list_owned` can name them) and the orphan sweep's guard.
    env: Arc<WorkerEnv>,
    queues: Queues,
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
            namespace: config.namespace.clone(),
            owners: HashedOwners::default(),
            sweep: SweepGuard::default(),
        });
        Ok(Self {
            queues: queue::queues(Arc::clone(&env)),
            env,
            config,
            api,
            caches,
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

    pub(crate) fn region<'a>(&'a self, region: Option<&'a str>) -> &'a str {
        region
            .filter(|r| !r.is_empty())
            .unwrap_or(&self.config.region)
    }

    /// The marker of `key`, remembering hashed ones so that `list_owned` can name them.
    fn marker_remembered(&self, key: &BindingKey) -> String {
        let name = self.marker_for(key);
        let parsed = marker::parse(&self.config.cluster_id, &name);
        self.env.owners.remember(&name, &parsed, key);
        name
    }

    fn scope_cluster<'a>(&'a self, scope: &'a Scope) -> &'a str {
        if scope.cluster.is_empty() {
            &self.config.cluster_id
        } else {
            &scope.cluster
        }
    }

    /// Whose a listener named `name` is, as `scope` sees it.
    fn ownership(&self, scope: &Scope, name: &str) -> marker::Ownership {
        let parsed = marker::parse(self.scope_cluster(scope), name);
        self.env.owners.resolve(name, parsed)
    }

    /// One CLB of a scope as a frontend: its capacity net of what others hold, the slots they
    /// hold, and its tags; or the problem that keeps new slots off it.
    async fn frontend(
        &self,
        scope: &Scope,
        region: &str,
        id: &str,
        info: Option<&cache::LoadBalancerInfo>,
        quota: u32,
    ) -> Result<Frontend> {
        let Some(info) = info else {
            return Ok(Frontend::with_problem(
                id,
                FrontendProblem::gone(
                    reason::LOAD_BALANCER_NOT_FOUND,
                    format!("CLB {id} does not exist in region {region}"),
                ),
            ));
        };
        if !info.is_running() {
            return Ok(Frontend::with_problem(
                id,
                FrontendProblem::unavailable(
                    errors::reason::LOAD_BALANCER_NOT_READY,
                    format!("CLB {id} is still being created"),
                ),
            ));
        }
        let listeners = match cache::listeners(self.api.as_ref(), &self.caches, region, id).await {
            Ok(listeners) => listeners,
            Err(err) => {
                let problem = errors::frontend_problem(&err, id)?;
                if problem.gone {
                    self.caches.forget(region, id);
                }
                return Ok(Frontend::with_problem(id, problem));
            }
        };
        let foreign: Vec<&ListenerView> = listeners
            .iter()
            .filter(|l| {
                self.ownership(scope, &l.name)
                    .is_foreign_to(scope.namespace.as_deref())
            })
            .collect();
        let mut taken: Vec<TakenSlot> = foreign
            .iter()
            .flat_map(|l| l.slots())
            .map(|(port, protocol)| TakenSlot {
                public_ip: None,
                port,
                protocol,
            })
            .collect();
        taken.sort();
        taken.dedup();
        let foreign = u32::try_from(foreign.len()).unwrap_or(u32::MAX);
        Ok(Frontend {
            id: id.to_string(),
            public_ips: Vec::new(),
            capacity: quota.saturating_sub(foreign),
            port_range: None,
            taken,
            problem: None,
            tags: info.tags.clone(),
            display: info.display.clone(),
        })
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
        let mut ids: Vec<&String> = Vec::new();
        for id in &scope.frontend_ids {
            if !ids.contains(&id) {
                ids.push(id);
            }
        }
        let lookup =
            load_balancers(self.api.as_ref(), &self.caches, region, &scope.frontend_ids).await?;
        let quota = listener_quota(
            self.api.as_ref(),
            &self.caches,
            self.config.listener_quota,
            region,
        )
        .await?;
        let mut frontends = Vec::with_capacity(ids.len());
        for id in ids {
            let info = lookup.found.get(id);
            frontends.push(self.frontend(scope, region, id, info, quota).await?);
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
            orphan: None,
        };
        match self.queues.release(region, lb_id, job).await {
            // The CLB itself is gone, and its listeners with it.
            Err(err) if err.reason() == reason::LOAD_BALANCER_NOT_FOUND => Ok(()),
            other => other,
        }
    }

    async fn list_owned(&self, scope: &Scope) -> Result<Vec<OwnedResource>> {
        let region = self.region(scope.region.as_deref());
        let lb_ids = if scope.frontend_ids.is_empty() {
            self.all_load_balancer_ids(region).await?
        } else {
            scope.frontend_ids.clone()
        };
        let mut owned = Vec::new();
        for lb_id in lb_ids {
            let listeners =
                match cache::describe_listeners(self.api.as_ref(), &self.caches, region, &lb_id)
                    .await
                {
                    Ok(listeners) => listeners,
                    // Nothing can be left on a CLB that does not exist.
                    Err(err) if errors::is_load_balancer_gone(&err) => continue,
                    Err(err) => return Err(errors::map(&err, Stage::Read, &lb_id)),
                };
            for l in listeners.iter() {
                let ownership = self.ownership(scope, &l.name);
                // Someone else's, or (for a namespace-scoped controller) another namespace's:
                // never this controller's to release.
                if ownership.is_foreign_to(scope.namespace.as_deref()) {
                    continue;
                }
                let owner = match ownership {
                    marker::Ownership::Owned(key) => Some(key),
                    _ => None,
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
                self.env
                    .sweep
                    .listed(&sweep_key(region, &lb_id, &l.id), &l.name);
                owned.push(OwnedResource {
                    resource_id: l.id.clone(),
                    region: Some(region.to_string()),
                    slot: Slot::Port {
                        frontend_id: lb_id.clone(),
                        public_ip: None,
                        port,
                        protocol,
                    },
                    namespace: owner.as_ref().map(|k| k.namespace.clone()),
                    owner,
                });
            }
        }
        Ok(owned)
    }

    /// Deletes the listener `resource` names, on its CLB's queue, only if it still carries the
    /// name the listing saw and no ensure has adopted it since; anything else is left alone
    /// (and logged). A listener this provider never listed is left alone too: the next sweep
    /// lists it again.
    async fn release_orphan(&self, resource: &OwnedResource) -> Result<()> {
        let (lb_id, port, protocol) = match &resource.slot {
            Slot::Port {
                frontend_id,
                port,
                protocol,
                ..
            } => (frontend_id.as_str(), *port, *protocol),
            Slot::PodAddress { .. } => {
                return Err(ProviderError::permanent(format!(
                    "orphan {} has a Pod-address slot; the clb provider serves port slots only",
                    resource.resource_id
                )));
            }
        };
        let region = self.region(resource.region.as_deref());
        let key = sweep_key(region, lb_id, &resource.resource_id);
        let Some(listing) = self.env.sweep.listing(&key) else {
            tracing::info!(
                listener = %resource.resource_id,
                lb = lb_id,
                "not releasing a listener this provider has not listed as an orphan"
            );
            return Ok(());
        };
        let job = ReleaseJob {
            marker: listing.marker.clone(),
            port,
            protocol,
            resource_id: Some(resource.resource_id.clone()),
            orphan: Some(listing),
        };
        match self.queues.release(region, lb_id, job).await {
            Err(err) if err.reason() == reason::LOAD_BALANCER_NOT_FOUND => Ok(()),
            other => other,
        }
    }

    async fn create_frontend(&self, request: &dac_provider_api::FrontendRequest) -> Result<String> {
        self.create_instance(request).await
    }

    async fn delete_frontend(&self, scope: &Scope, id: &str) -> Result<()> {
        self.delete_instance(scope.region.as_deref(), id).await
    }

    async fn find_frontends(
        &self,
        scope: &Scope,
        tags: &std::collections::BTreeMap<String, String>,
    ) -> Result<Vec<dac_provider_api::FoundFrontend>> {
        let region = self.region(scope.region.as_deref()).to_string();
        Ok(self
            .instances_tagged(&region, tags)
            .await?
            .into_iter()
            .map(|(id, _, tags)| dac_provider_api::FoundFrontend { id, tags })
            .collect())
    }
}

#[cfg(test)]
mod tests;
