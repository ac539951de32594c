//! [`EipProvider`]: the [`AddressProvider`] implementation.
use std::net::Ipv4Addr;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use dac_provider_api::{
    AddressProvider, AllocationMode, Binding, BindingStatus, Frontend, OwnedResource, Protocol,
    ProviderError, Result, Scope, Slot,
};
use dac_tencentcloud::VpcApi;

use crate::cloud::Cloud;
use crate::config::{ConfigError, EipProviderConfig, Retention};
use crate::engine::{Core, Target};
use crate::errors::reason;
use crate::marker::{self, PodKey};
use crate::options::EipOptions;
use crate::stats::{CountingVpcApi, EipStats};

/// The `eip` address provider. Cheap to share behind an `Arc`; all its methods take `&self`.
pub struct EipProvider {
    core: Arc<Core>,
}

impl std::fmt::Debug for EipProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EipProvider")
            .field("config", &self.core.config)
            .finish_non_exhaustive()
    }
}

impl EipProvider {
    /// A provider on `api` (a [`dac_tencentcloud::Client`], or a mock in tests). Fails when the
    /// configuration cannot work ([`EipProviderConfig::validate`]). Its background task starts
    /// with the first `ensure` or `release`, so this may be called outside a Tokio runtime.
    pub fn new(api: Arc<dyn VpcApi>, config: EipProviderConfig) -> Result<Self, ConfigError> {
        config.validate()?;
        let cloud = Cloud {
            api: Arc::new(CountingVpcApi::new(api)),
            cluster: config.cluster_id.clone(),
            task_deadline: config.task_deadline(),
        };
        Ok(Self {
            core: Arc::new(Core::new(config, cloud)),
        })
    }

    pub fn config(&self) -> &EipProviderConfig {
        &self.core.config
    }

    /// Cloud calls made so far, and EIPs allocated and released.
    pub fn stats(&self) -> EipStats {
        self.core.cloud.api.snapshot()
    }

    /// The `AddressName` an EIP allocated for this Pod carries.
    pub fn name_for(&self, namespace: &str, pod: &str) -> String {
        marker::for_pod(&self.core.config.cluster_id, &PodKey::new(namespace, pod))
    }

    /// The `AddressName` of this cluster's pool EIPs.
    pub fn pool_name(&self) -> String {
        marker::pool(&self.core.config.cluster_id)
    }

    /// Runs one round of the background work now: expire kept EIPs, trim the pool to its
    /// maximum, top it up to its minimum. The controller may call it at start to warm the
    /// pool before the first Pod; tests call it to avoid waiting.
    pub async fn maintain(&self) {
        self.core.region(&self.core.config.region);
        self.core.maintain_all().await;
    }

    fn region_of<'a>(&'a self, region: Option<&'a str>) -> &'a str {
        region
            .filter(|r| !r.is_empty())
            .unwrap_or(&self.core.config.region)
    }

    fn target(&self, binding: &Binding) -> Result<Target> {
        let Slot::PodAddress { pod_name, .. } = &binding.slot else {
            return Err(ProviderError::permanent(format!(
                "binding {} has a port slot; the eip provider serves Pod-address slots only",
                binding.key
            )));
        };
        let pod_ip = match &binding.backend {
            None => None,
            Some(backend) if backend.pod_ip.parse::<Ipv4Addr>().is_ok() => {
                Some(backend.pod_ip.clone())
            }
            Some(backend) => {
                return Err(ProviderError::user_fixable(
                    reason::POD_IP_NOT_IN_VPC,
                    format!(
                        "Pod {} has IP {:?}; an EIP can only be bound to an IPv4 VPC IP",
                        pod_name, backend.pod_ip
                    ),
                ));
            }
        };
        Ok(Target {
            region: self.region_of(binding.region.as_deref()).to_string(),
            pod: PodKey::new(binding.key.namespace.clone(), pod_name.clone()),
            pod_ip,
        })
    }
}

#[async_trait]
impl AddressProvider for EipProvider {
    fn name(&self) -> &str {
        crate::PROVIDER_NAME
    }

    fn allocation_mode(&self) -> AllocationMode {
        AllocationMode::AddressPerPod
    }

    /// The warm pool fills as soon as this replica leads, not at the first Pod.
    fn start(&self) {
        self.core.start_maintenance();
    }

    /// Nothing to place slots on: every Pod gets an address of its own.
    async fn frontends(&self, _scope: &Scope) -> Result<Vec<Frontend>> {
        Ok(Vec::new())
    }

    async fn ensure(&self, binding: &Binding) -> Result<BindingStatus> {
        let target = self.target(binding)?;
        if target.pod.name.is_empty() {
            return Err(ProviderError::permanent(format!(
                "binding {} names no Pod",
                binding.key
            )));
        }
        // Checked here although only `release` uses them, so that a bad value shows on the
        // resource while it is alive rather than blocking its deletion.
        EipOptions::from_json(binding.options.as_ref())
            .map_err(|e| ProviderError::user_fixable(reason::INVALID_EIP_OPTIONS, e))?;
        self.core.start_maintenance();
        let core = &self.core;
        let region = core.region(&target.region);
        let _pod = core.locks.lock(&region.name, &target.pod).await;
        region.state().note_ensure(&target.pod);
        let record = core
            .claim(&region, &target, binding.resource_id.as_deref())
            .await?;
        let record = core.name_held(&region, &target.pod, record).await;
        let (state, record) = match &target.pod_ip {
            Some(ip) => core.bind(&region, &target.pod, record, ip).await?,
            None => core.unbind(&region, record).await?,
        };
        Ok(BindingStatus {
            address: record
                .ip
                .as_ref()
                .map(|ip| format!("{ip}:{}", binding.slot.port())),
            resource_id: record.id,
            state,
        })
    }

    async fn release(&self, binding: &Binding) -> Result<()> {
        // Other ports of the Pod still use its address: forget this port, which is nothing to
        // forget here (the EIP is per Pod, not per port).
        if binding.keep_pod_address {
            return Ok(());
        }
        let target = self.target(binding)?;
        let retention = if target.pod.name.is_empty() || target.pod.namespace.is_empty() {
            // The orphan sweep: no Pod to keep it for.
            Retention::Release
        } else {
            match EipOptions::from_json(binding.options.as_ref()) {
                Ok(options) => options.retention.unwrap_or(self.core.config.retention),
                Err(error) => {
                    tracing::warn!(binding = %binding.key, %error, "using the configured retention");
                    self.core.config.retention
                }
            }
        };
        self.core.start_maintenance();
        let core = &self.core;
        let region = core.region(&target.region);
        let _pod = core.locks.lock(&region.name, &target.pod).await;
        core.release(
            &region,
            &target.pod,
            binding.resource_id.as_deref(),
            retention,
        )
        .await
    }

    /// This cluster's EIPs in the scope's region that could be orphans, read fresh, each with
    /// `owner: None` and the Pod-address slot of the Pod it serves (port 0; the Pod name empty
    /// when unknown): one EIP serves all of a Pod's bindings, so it is an orphan exactly when
    /// no binding serves that Pod any more, which is how the controller's sweep judges an
    /// owner-less resource. Pool EIPs and EIPs kept for a Pod's name are not listed: they are
    /// not orphans, and this provider bounds them itself (pool maximum, keep deadline). Bound
    /// EIPs that no Pod has claimed since start are listed only after `orphanGraceMs`.
    async fn list_owned(&self, scope: &Scope) -> Result<Vec<OwnedResource>> {
        let core = &self.core;
        if !scope.cluster.is_empty() && scope.cluster != core.config.cluster_id {
            return Err(ProviderError::permanent(format!(
                "this eip provider serves cluster {:?}, not {:?}",
                core.config.cluster_id, scope.cluster
            )));
        }
        let region = core.region(self.region_of(scope.region.as_deref()));
        core.refresh_if_older(&region, Duration::ZERO).await?;
        let settled = core.started.elapsed() >= core.config.orphan_grace();
        let mut state = region.state();
        let sweepable = state.sweepable(settled);
        let mut owned = Vec::new();
        for (record, pod) in sweepable {
            // A namespace-scoped controller releases only what it can place in its namespace.
            if let Some(served) = scope.namespace.as_deref()
                && pod.as_ref().is_none_or(|p| p.namespace != served)
            {
                continue;
            }
            state.note_swept(&record);
            owned.push(OwnedResource {
                resource_id: record.id,
                region: Some(region.name.clone()),
                slot: Slot::PodAddress {
                    pod_name: pod.as_ref().map(|p| p.name.clone()).unwrap_or_default(),
                    port: 0,
                    protocol: Protocol::Tcp,
                },
                owner: None,
                namespace: pod.map(|p| p.namespace),
            });
        }
        Ok(owned)
    }

    /// Releases an EIP that `list_owned` offered and the controller judged unclaimed, unless
    /// it was claimed since ([`Core::release_orphan`](crate::engine::Core)).
    async fn release_orphan(&self, resource: &OwnedResource) -> Result<()> {
        let pod_name = match &resource.slot {
            Slot::PodAddress { pod_name, .. } => pod_name.clone(),
            Slot::Port { .. } => String::new(),
        };
        let fallback = if pod_name.is_empty() {
            // Nobody to name: a key of its own, so that it waits for nobody's Pod.
            PodKey::new("", resource.resource_id.clone())
        } else {
            PodKey::new(resource.namespace.clone().unwrap_or_default(), pod_name)
        };
        self.core.start_maintenance();
        let region = self.core.region(self.region_of(resource.region.as_deref()));
        self.core
            .release_orphan(&region, &resource.resource_id, fallback)
            .await
    }
}

#[cfg(test)]
mod tests;
