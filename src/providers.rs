//! Builds the built-in providers the config enables.
use crate::config::{ControllerConfig, EipRetention};
use crate::metrics::Metrics;
use crate::registry::{Provider, ProviderRegistry};
use crate::{Error, Result, cloud};
use dac_provider_clb::{ClbProvider, ClbProviderConfig};
use dac_provider_eip::{EipProvider, EipProviderConfig, PoolLimits, Retention};
use dac_provider_natgw::{GatewayConfig, NatgwProvider, NatgwProviderConfig};
use dac_tencentcloud::Client;
use std::sync::Arc;

/// The registry of enabled built-in providers. A provider is only built (and the cloud client
/// only created) when the config enables one, so a cluster using only a custom provider needs
/// no cloud credentials. `namespace`: the one namespace the controller serves, if any (what
/// other namespaces made on shared frontends is then foreign to it).
pub fn builtin(
    config: &ControllerConfig,
    metrics: &Metrics,
    namespace: Option<&str>,
) -> Result<ProviderRegistry> {
    let mut registry = ProviderRegistry::new();
    let providers = &config.providers;
    if !(providers.clb.enabled || providers.natgw.enabled || providers.eip.enabled) {
        return Ok(registry);
    }
    let client = Arc::new(cloud::client(&config.cloud, metrics)?);
    if providers.clb.enabled {
        registry.register(Provider::Clb(Box::new(clb(
            config,
            client.clone(),
            namespace,
        )?)))?;
    }
    if providers.natgw.enabled {
        registry.register(Provider::Natgw(Box::new(natgw(
            config,
            client.clone(),
            namespace,
        )?)))?;
    }
    if providers.eip.enabled {
        registry.register(Provider::Eip(Box::new(eip(config, client)?)))?;
    }
    Ok(registry)
}

fn clb(
    config: &ControllerConfig,
    client: Arc<Client>,
    namespace: Option<&str>,
) -> Result<ClbProvider> {
    let clb = &config.providers.clb;
    let provider_config = ClbProviderConfig {
        region: config.cluster.region.clone(),
        cluster_id: config.cluster.id.clone(),
        batch_window_ms: clb.batch_window_ms,
        listener_quota: clb.listener_quota,
        namespace: namespace.map(str::to_string),
        ..ClbProviderConfig::default()
    };
    ClbProvider::new(client, provider_config)
        .map_err(|e| Error::ProviderConfig(format!("clb: {e}")))
}

fn natgw(
    config: &ControllerConfig,
    client: Arc<Client>,
    namespace: Option<&str>,
) -> Result<NatgwProvider> {
    let natgw = &config.providers.natgw;
    let gateways = natgw
        .gateways
        .iter()
        .map(|g| GatewayConfig {
            id: g.id.clone(),
            region: g.region.clone(),
            eips: g.eips.clone(),
            min_port: g.min_port,
            max_port: g.max_port,
        })
        .collect();
    let provider_config = NatgwProviderConfig {
        batch_window_ms: natgw.batch_window_ms,
        rule_limit: natgw.rule_limit,
        namespace: namespace.map(str::to_string),
        ..NatgwProviderConfig::new(&config.cluster.id, &config.cluster.region, gateways)
    };
    NatgwProvider::new(client, provider_config)
        .map_err(|e| Error::ProviderConfig(format!("natgw: {e}")))
}

fn eip(config: &ControllerConfig, client: Arc<Client>) -> Result<EipProvider> {
    let eip = &config.providers.eip;
    let provider_config = EipProviderConfig {
        region: config.cluster.region.clone(),
        cluster_id: config.cluster.id.clone(),
        pool: PoolLimits {
            min: eip.pool.min,
            max: eip.pool.max,
        },
        retention: match eip.retention {
            EipRetention::Release => Retention::Release,
            EipRetention::KeepFor(duration) => Retention::KeepFor(duration),
            EipRetention::KeepWhileNameExists => Retention::KeepWhileNameExists,
        },
        ..EipProviderConfig::default()
    };
    EipProvider::new(client, provider_config)
        .map_err(|e| Error::ProviderConfig(format!("eip: {e}")))
}
