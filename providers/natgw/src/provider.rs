//! [`NatgwProvider`]: the [`AddressProvider`] implementation. Writes go through the per-gateway
//! queues; the reads for capacity and ownership (`frontends`, `list_owned`) go straight to the
//! cloud, through the caches.
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use async_trait::async_trait;
use dac_provider_api::{
    AddressProvider, AllocationMode, Binding, BindingKey, BindingStatus, Frontend, FrontendProblem,
    OwnedResource, ProviderError, Result, Scope, Slot, TakenSlot,
};
use dac_provider_support::marker::HashedOwners;
use dac_provider_support::sweep::SweepGuard;
use dac_tencentcloud::VpcApi;

use crate::config::{ConfigError, GatewayConfig, NatgwProviderConfig};
use crate::errors::{self, reason};
use crate::gateways::{self, Caches};
use crate::marker::{self, Ownership};
use crate::queue::{self, EnsureJob, PrivateSide, Queues, ReleaseJob, WorkerEnv, sweep_key};
use crate::rule::{self, PublicSide};
use crate::stats::{CountingVpc, NatgwStats};

/// The `natgw` address provider. Cheap to share behind an `Arc`; all its methods take `&self`.
pub struct NatgwProvider {
    config: NatgwProviderConfig,
    api: Arc<CountingVpc>,
    caches: Arc<Caches>,
    /// What the workers share with the provider: the hashed owners seen since start (so that
    /// `list_owned` can name them) and the orphan sweep's guard.
    env: Arc<WorkerEnv>,
    queues: Queues,
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
        let parsed = marker::parse(&self.config.cluster_id, &description);
        self.env.owners.remember(&description, &parsed, key);
        description
    }

    fn scope_cluster<'a>(&'a self, scope: &'a Scope) -> &'a str {
        if scope.cluster.is_empty() {
            &self.config.cluster_id
        } else {
            &scope.cluster
        }
    }

    /// Whose a rule with this description is, as `scope` sees it.
    fn ownership(&self, scope: &Scope, description: &str) -> Ownership {
        let parsed = marker::parse(self.scope_cluster(scope), description);
        self.env.owners.resolve(description, parsed)
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

    /// The gateways of `scope` that are configured: those it names, else every configured one;
    /// narrowed to `scope.region` when it names one. A named gateway that cannot be served (not
    /// configured, or configured in another region) comes back as its problem.
    fn scoped_gateways<'a>(
        &'a self,
        scope: &Scope,
    ) -> Vec<std::result::Result<&'a GatewayConfig, Frontend>> {
        let region = scope.region.as_deref().filter(|r| !r.is_empty());
        if scope.frontend_ids.is_empty() {
            return self
                .config
                .gateways
                .iter()
                .filter(|g| region.is_none_or(|r| self.config.region_of(g) == r))
                .map(Ok)
                .collect();
        }
        let mut out: Vec<std::result::Result<&GatewayConfig, Frontend>> = Vec::new();
        let mut seen: Vec<&str> = Vec::new();
        for id in &scope.frontend_ids {
            if seen.contains(&id.as_str()) {
                continue;
            }
            seen.push(id);
            let entry = match self.configured(id) {
                Err(err) => Err(Frontend::with_problem(
                    id.clone(),
                    FrontendProblem::unavailable(err.reason(), err.message()),
                )),
                Ok(g) => match region {
                    Some(r) if self.config.region_of(g) != r => Err(Frontend::with_problem(
                        id.clone(),
                        FrontendProblem::unavailable(
                            reason::NAT_GATEWAY_NOT_CONFIGURED,
                            format!(
                                "NAT gateway {id} is configured in region {}, not {r}",
                                self.config.region_of(g)
                            ),
                        ),
                    )),
                    _ => Ok(g),
                },
            };
            out.push(entry);
        }
        out
    }

    /// One gateway as a frontend, given what DescribeNatGateways said about it: its EIPs, its
    /// capacity net of what others hold, and the slots they hold; or the problem that keeps new
    /// slots off it.
    async fn frontend(
        &self,
        scope: &Scope,
        g: &GatewayConfig,
        info: Option<&gateways::GatewayInfo>,
    ) -> Result<Frontend> {
        let region = self.config.region_of(g);
        let Some(info) = info else {
            return Ok(Frontend::with_problem(
                g.id.clone(),
                FrontendProblem::gone(
                    reason::NAT_GATEWAY_NOT_FOUND,
                    format!("NAT gateway {} does not exist in region {region}", g.id),
                ),
            ));
        };
        if !info.is_available() {
            let transient = if info.is_transient() {
                " (it should be back soon)"
            } else {
                ""
            };
            return Ok(Frontend::with_problem(
                g.id.clone(),
                FrontendProblem::unavailable(
                    reason::NAT_GATEWAY_NOT_AVAILABLE,
                    format!(
                        "NAT gateway {} is {}, not AVAILABLE{transient}",
                        g.id, info.state
                    ),
                ),
            ));
        }
        let public_ips = if g.eips.is_empty() {
            info.eips.clone()
        } else {
            if let Some(stray) = g.eips.iter().find(|ip| !info.eips.contains(ip)) {
                return Ok(Frontend::with_problem(
                    g.id.clone(),
                    FrontendProblem::unavailable(
                        reason::EIP_NOT_ON_NAT_GATEWAY,
                        format!(
                            "configured EIP {stray} is not an EIP of NAT gateway {} (it has {})",
                            g.id,
                            info.eips.join(", ")
                        ),
                    ),
                ));
            }
            g.eips.clone()
        };
        let rules = match gateways::cached_rules(&self.api, &self.caches, region, &g.id).await {
            Ok(rules) => rules,
            Err(err) => {
                let problem = errors::frontend_problem(&err, &g.id)?;
                return Ok(Frontend::with_problem(g.id.clone(), problem));
            }
        };
        let served = scope.namespace.as_deref();
        let ours = rules
            .rules
            .iter()
            .filter(|r| !self.ownership(scope, &r.description).is_foreign_to(served))
            .count();
        let foreign = u32::try_from(rules.total.saturating_sub(ours)).unwrap_or(u32::MAX);
        let mut taken: Vec<TakenSlot> = rules
            .rules
            .iter()
            .filter(|r| self.ownership(scope, &r.description).is_foreign_to(served))
            .map(|r| TakenSlot {
                public_ip: Some(r.public.ip.clone()),
                port: r.public.port,
                protocol: r.public.protocol,
            })
            .collect();
        taken.sort();
        Ok(Frontend {
            id: g.id.clone(),
            public_ips,
            capacity: self.config.rule_limit().saturating_sub(foreign),
            port_range: Some(g.port_range()),
            taken,
            problem: None,
            tags: Default::default(),
            display: Default::default(),
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
        let scoped = self.scoped_gateways(scope);
        // One DescribeNatGateways per region (usually one), through the cache.
        let mut by_region: BTreeMap<&str, Vec<String>> = BTreeMap::new();
        for g in scoped.iter().filter_map(|g| g.as_ref().ok()) {
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
        for entry in scoped {
            match entry {
                Ok(g) => {
                    let info = infos.get(&(self.config.region_of(g), g.id.clone()));
                    frontends.push(self.frontend(scope, g, info).await?);
                }
                Err(problem) => frontends.push(problem),
            }
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
            orphan: None,
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
        // Named gateways are listed even when no longer configured: what this cluster left on
        // them must still be found to be released.
        let targets: Vec<(String, &str)> = if scope.frontend_ids.is_empty() {
            self.scoped_gateways(scope)
                .into_iter()
                .filter_map(|g| g.ok())
                .map(|g| (g.id.clone(), self.config.region_of(g)))
                .collect()
        } else {
            scope
                .frontend_ids
                .iter()
                .map(|id| (id.clone(), self.region_for(id, scope.region.as_deref())))
                .collect()
        };
        let mut owned = Vec::new();
        for (gateway, region) in targets {
            let rules = match gateways::rules(&self.api, &self.caches, region, &gateway).await {
                Ok(rules) => rules,
                // Nothing can be left on a gateway that does not exist.
                Err(err) if err.reason() == reason::NAT_GATEWAY_NOT_FOUND => continue,
                Err(err) => return Err(err),
            };
            for r in &rules.rules {
                let ownership = self.ownership(scope, &r.description);
                // Someone else's, or (for a namespace-scoped controller) another namespace's:
                // never this controller's to release.
                if ownership.is_foreign_to(scope.namespace.as_deref()) {
                    continue;
                }
                let owner = match ownership {
                    Ownership::Owned(key) => Some(key),
                    _ => None,
                };
                let resource_id = rule::resource_id(&gateway, &r.public);
                self.env
                    .sweep
                    .listed(&sweep_key(region, &resource_id), &r.description);
                owned.push(OwnedResource {
                    resource_id,
                    region: Some(region.to_string()),
                    slot: Slot::Port {
                        frontend_id: gateway.clone(),
                        public_ip: Some(r.public.ip.clone()),
                        port: r.public.port,
                        protocol: r.public.protocol,
                    },
                    namespace: owner.as_ref().map(|k| k.namespace.clone()),
                    owner,
                });
            }
        }
        Ok(owned)
    }

    /// Deletes the rule `resource` names, on its gateway's queue, only if it still carries the
    /// description the listing saw and no ensure has used its slot since; anything else is
    /// left alone (and logged). A rule this provider never listed is left alone too: the next
    /// sweep lists it again.
    async fn release_orphan(&self, resource: &OwnedResource) -> Result<()> {
        let Some((gateway, public)) = rule::parse_resource_id(&resource.resource_id) else {
            return Err(ProviderError::permanent(format!(
                "{:?} is not a DNAT rule id of the natgw provider",
                resource.resource_id
            )));
        };
        let region = self.region_for(&gateway, resource.region.as_deref());
        let key = sweep_key(region, &resource.resource_id);
        let Some(listing) = self.env.sweep.listing(&key) else {
            tracing::info!(
                rule = %resource.resource_id,
                "not releasing a DNAT rule this provider has not listed as an orphan"
            );
            return Ok(());
        };
        let job = ReleaseJob {
            key: resource
                .owner
                .clone()
                .unwrap_or_else(|| BindingKey::new("", "")),
            public: public.clone(),
            by_id: Some(public),
            orphan: Some(listing),
        };
        match self.queues.release(region, &gateway, job).await {
            Err(err) if err.reason() == reason::NAT_GATEWAY_NOT_FOUND => Ok(()),
            other => other,
        }
    }
}

#[cfg(test)]
mod tests;
