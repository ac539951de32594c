//! [`NatgwProvider`]: the [`AddressProvider`] implementation. Writes go through the per-gateway
//! queues; the reads for capacity and ownership (`frontends`, `list_owned`) go straight to the
//! cloud, through the caches.
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use dac_provider_api::{
    AddressProvider, AllocationMode, Binding, BindingKey, BindingStatus, Frontend, OwnedResource,
    ProviderError, Result, Scope, Slot,
};
use dac_tencentcloud::VpcApi;

use crate::config::{ConfigError, GatewayConfig, NatgwProviderConfig};
use crate::errors::reason;
use crate::gateways::{self, Caches};
use crate::marker::{self, Ownership};
use crate::queue::{self, EnsureJob, PrivateSide, Queues, ReleaseJob, WorkerEnv};
use crate::rule::{self, PublicSide};
use crate::stats::{CountingVpc, NatgwStats};

/// The `natgw` address provider. Cheap to share behind an `Arc`; all its methods take `&self`.
pub struct NatgwProvider {
    config: NatgwProviderConfig,
    api: Arc<CountingVpc>,
    caches: Arc<Caches>,
    queues: Queues,
    /// Keys whose marker is the hashed form, by marker, as seen by `ensure`/`release` since
    /// start, so that `list_owned` can name their owners.
    hashed_owners: Mutex<HashMap<String, BindingKey>>,
}

impl std::fmt::Debug for NatgwProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NatgwProvider")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

/// The (gateway, public side) of a binding.
struct PortSlot<'a> {
    gateway: &'a str,
    public: Option<PublicSide>,
}

fn port_slot(binding: &Binding) -> Result<PortSlot<'_>> {
    match &binding.slot {
        Slot::Port {
            frontend_id,
            public_ip,
            port,
            protocol,
        } if !frontend_id.is_empty() => Ok(PortSlot {
            gateway: frontend_id,
            public: public_ip
                .as_deref()
                .filter(|ip| !ip.is_empty())
                .map(|ip| PublicSide {
                    protocol: *protocol,
                    ip: ip.to_string(),
                    port: *port,
                }),
        }),
        Slot::Port { .. } => Err(ProviderError::permanent(format!(
            "binding {} names no NAT gateway (empty frontend id)",
            binding.key
        ))),
        Slot::PodAddress { .. } => Err(ProviderError::permanent(format!(
            "binding {} has a Pod-address slot; the natgw provider serves port slots only",
            binding.key
        ))),
    }
}

impl NatgwProvider {
    /// A provider on `api` (a [`dac_tencentcloud::Client`], or a mock in tests). Fails when the
    /// configuration cannot work ([`NatgwProviderConfig::validate`]). Workers start on the first
    /// write to each gateway, so by then this must run inside a Tokio runtime.
    pub fn new(api: Arc<dyn VpcApi>, config: NatgwProviderConfig) -> Result<Self, ConfigError> {
        config.validate()?;
        let api = Arc::new(CountingVpc::new(api));
        let caches = Arc::new(Caches::new(&config));
        let env = Arc::new(WorkerEnv {
            api: Arc::clone(&api),
            caches: Arc::clone(&caches),
            cluster: config.cluster_id.clone(),
            batch_window: config.batch_window(),
            max_batch_jobs: config.max_batch_jobs,
            max_rules_per_call: config.max_rules_per_call,
            rule_limit: config.rule_limit(),
            max_modifies_per_round: config.max_modifies_per_round,
        });
        Ok(Self {
            queues: queue::queues(env),
            config,
            api,
            caches,
            hashed_owners: Mutex::new(HashMap::new()),
        })
    }

    pub fn config(&self) -> &NatgwProviderConfig {
        &self.config
    }

    /// Cloud calls made so far, by action, and batching rounds.
    pub fn stats(&self) -> NatgwStats {
        self.api.snapshot()
    }

    /// The rule description this provider writes for child object `key`.
    pub fn marker_for(&self, key: &BindingKey) -> String {
        marker::encode(&self.config.cluster_id, key)
    }

    /// The marker of `key`, remembering hashed ones so that `list_owned` can name them.
    fn marker_remembered(&self, key: &BindingKey) -> String {
        let description = self.marker_for(key);
        if marker::parse(&self.config.cluster_id, &description) == Ownership::OwnedUnknown {
            let mut owners = self.hashed_owners.lock().unwrap_or_else(|e| e.into_inner());
            owners.insert(description.clone(), key.clone());
        }
        description
    }

    /// A configured gateway, or the user-facing error for one that is not.
    fn configured(&self, id: &str) -> Result<&GatewayConfig> {
        self.config.gateway(id).ok_or_else(|| {
            ProviderError::user_fixable(
                reason::NAT_GATEWAY_NOT_CONFIGURED,
                format!(
                    "NAT gateway {id} is not in the natgw provider's configuration (configured: {})",
                    self.config
                        .gateways
                        .iter()
                        .map(|g| g.id.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            )
        })
    }

    /// The region of gateway `id`: its configured one; for a gateway no longer configured (a
    /// release of what is left on it), the binding's, else the cluster's.
    fn region_for<'a>(&'a self, id: &str, requested: Option<&'a str>) -> &'a str {
        match self.config.gateway(id) {
            Some(g) => self.config.region_of(g),
            None => requested
                .filter(|r| !r.is_empty())
                .unwrap_or(&self.config.region),
        }
    }

    /// The gateways of `scope`: those it names (each must be configured), else every configured
    /// one; narrowed to `scope.region` when it names one.
    fn scoped_gateways(&self, scope: &Scope) -> Result<Vec<&GatewayConfig>> {
        let region = scope.region.as_deref().filter(|r| !r.is_empty());
        if scope.frontend_ids.is_empty() {
            return Ok(self
                .config
                .gateways
                .iter()
                .filter(|g| region.is_none_or(|r| self.config.region_of(g) == r))
                .collect());
        }
        let mut out: Vec<&GatewayConfig> = Vec::new();
        for id in &scope.frontend_ids {
            let g = self.configured(id)?;
            if let Some(r) = region
                && self.config.region_of(g) != r
            {
                return Err(ProviderError::user_fixable(
                    reason::NAT_GATEWAY_NOT_FOUND,
                    format!(
                        "NAT gateway {id} is configured in region {}, not {r}",
                        self.config.region_of(g)
                    ),
                ));
            }
            if !out.iter().any(|o| o.id == g.id) {
                out.push(g);
            }
        }
        Ok(out)
    }

    /// One gateway as a frontend, given what DescribeNatGateways said about it.
    async fn frontend(
        &self,
        g: &GatewayConfig,
        info: Option<&gateways::GatewayInfo>,
    ) -> Result<Frontend> {
        let region = self.config.region_of(g);
        let info = info.ok_or_else(|| {
            ProviderError::user_fixable(
                reason::NAT_GATEWAY_NOT_FOUND,
                format!("NAT gateway {} does not exist in region {region}", g.id),
            )
        })?;
        if !info.is_available() {
            return Err(ProviderError::user_fixable(
                reason::NAT_GATEWAY_NOT_AVAILABLE,
                format!("NAT gateway {} is {}, not AVAILABLE", g.id, info.state),
            ));
        }
        let public_ips = if g.eips.is_empty() {
            info.eips.clone()
        } else {
            if let Some(stray) = g.eips.iter().find(|ip| !info.eips.contains(ip)) {
                return Err(ProviderError::user_fixable(
                    reason::EIP_NOT_ON_NAT_GATEWAY,
                    format!(
                        "configured EIP {stray} is not an EIP of NAT gateway {} (it has {})",
                        g.id,
                        info.eips.join(", ")
                    ),
                ));
            }
            g.eips.clone()
        };
        let cluster = &self.config.cluster_id;
        let foreign =
            gateways::foreign_rules(&self.api, &self.caches, cluster, region, &g.id).await?;
        Ok(Frontend {
            id: g.id.clone(),
            public_ips,
            capacity: self.config.rule_limit().saturating_sub(foreign),
            port_range: Some(g.port_range()),
        })
    }
}

#[async_trait]
impl AddressProvider for NatgwProvider {
    fn name(&self) -> &str {
        crate::PROVIDER_NAME
    }

    fn allocation_mode(&self) -> AllocationMode {
        AllocationMode::PortPerSlot
    }

    async fn frontends(&self, scope: &Scope) -> Result<Vec<Frontend>> {
        let scoped = self.scoped_gateways(scope)?;
        // One DescribeNatGateways per region (usually one), through the cache.
        let mut by_region: BTreeMap<&str, Vec<String>> = BTreeMap::new();
        for g in &scoped {
            by_region
                .entry(self.config.region_of(g))
                .or_default()
                .push(g.id.clone());
        }
        let mut infos = HashMap::new();
        for (region, ids) in by_region {
            for (id, info) in gateways::lookup(&self.api, &self.caches, region, &ids).await? {
                infos.insert((region, id), info);
            }
        }
        let mut frontends = Vec::with_capacity(scoped.len());
        for g in scoped {
            let info = infos.get(&(self.config.region_of(g), g.id.clone()));
            frontends.push(self.frontend(g, info).await?);
        }
        Ok(frontends)
    }

    async fn ensure(&self, binding: &Binding) -> Result<BindingStatus> {
        let slot = port_slot(binding)?;
        let gateway = self.configured(slot.gateway)?;
        let Some(public) = slot.public else {
            return Err(ProviderError::permanent(format!(
                "binding {} names no EIP of NAT gateway {} (publicIp)",
                binding.key, slot.gateway
            )));
        };
        let backend = match &binding.backend {
            Some(b) if b.pod_ip.is_empty() || b.port == 0 => {
                return Err(ProviderError::permanent(format!(
                    "binding {}: backend {}:{} is not a DNAT target",
                    binding.key, b.pod_ip, b.port
                )));
            }
            Some(b) => Some(PrivateSide {
                ip: b.pod_ip.clone(),
                port: b.port,
            }),
            None => None,
        };
        let job = EnsureJob {
            key: binding.key.clone(),
            marker: self.marker_remembered(&binding.key),
            public: public.clone(),
            backend,
        };
        let region = self.config.region_of(gateway);
        let state = self.queues.ensure(region, &gateway.id, job).await?;
        Ok(BindingStatus {
            resource_id: rule::resource_id(&gateway.id, &public),
            state,
            address: Some(public.address()),
        })
    }

    async fn release(&self, binding: &Binding) -> Result<()> {
        let slot = port_slot(binding)?;
        let by_id = binding
            .resource_id
            .as_deref()
            .and_then(rule::parse_resource_id)
            .filter(|(gateway, _)| gateway == slot.gateway)
            .map(|(_, public)| public);
        // Without an EIP nothing can have been created at the slot, and only the resource id
        // can name a rule.
        let Some(public) = slot.public.or_else(|| by_id.clone()) else {
            return Ok(());
        };
        let job = ReleaseJob {
            key: binding.key.clone(),
            public,
            by_id,
        };
        self.marker_remembered(&binding.key);
        let region = self.region_for(slot.gateway, binding.region.as_deref());
        match self.queues.release(region, slot.gateway, job).await {
            // The gateway itself is gone, and its rules with it.
            Err(err) if err.reason() == reason::NAT_GATEWAY_NOT_FOUND => Ok(()),
            other => other,
        }
    }

    async fn list_owned(&self, scope: &Scope) -> Result<Vec<OwnedResource>> {
        let cluster = if scope.cluster.is_empty() {
            self.config.cluster_id.as_str()
        } else {
            scope.cluster.as_str()
        };
        // Named gateways are listed even when no longer configured: what this cluster left on
        // them must still be found to be released.
        let targets: Vec<(String, &str)> = if scope.frontend_ids.is_empty() {
            self.scoped_gateways(scope)?
                .into_iter()
                .map(|g| (g.id.clone(), self.config.region_of(g)))
                .collect()
        } else {
            scope
                .frontend_ids
                .iter()
                .map(|id| (id.clone(), self.region_for(id, scope.region.as_deref())))
                .collect()
        };
        let hashed = self
            .hashed_owners
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        let mut owned = Vec::new();
        for (gateway, region) in targets {
            let rules =
                match gateways::rules(&self.api, &self.caches, cluster, region, &gateway).await {
                    Ok(rules) => rules,
                    // Nothing can be left on a gateway that does not exist.
                    Err(err) if err.reason() == reason::NAT_GATEWAY_NOT_FOUND => continue,
                    Err(err) => return Err(err),
                };
            for r in rules.rules {
                let owner = match marker::parse(cluster, &r.description) {
                    Ownership::Foreign => continue,
                    Ownership::Owned(key) => Some(key),
                    Ownership::OwnedUnknown => hashed.get(&r.description).cloned(),
                };
                owned.push(OwnedResource {
                    resource_id: rule::resource_id(&gateway, &r.public),
                    region: Some(region.to_string()),
                    slot: Slot::Port {
                        frontend_id: gateway.clone(),
                        public_ip: Some(r.public.ip),
                        port: r.public.port,
                        protocol: r.public.protocol,
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
