//! Builds the built-in providers the config enables.
use crate::config::ControllerConfig;
use crate::registry::ProviderRegistry;
use crate::{Error, Result, cloud};
use dac_provider_clb::{ClbProvider, ClbProviderConfig};
use std::sync::Arc;

/// The registry of enabled built-in providers. A provider is only built (and the cloud client
/// only created) when the config enables one, so a cluster using only a custom provider needs
/// no cloud credentials.
pub fn builtin(config: &ControllerConfig) -> Result<ProviderRegistry> {
    let mut registry = ProviderRegistry::new();
    let clb = &config.providers.clb;
    if !clb.enabled {
        return Ok(registry);
    }
    let client = Arc::new(cloud::client(&config.cloud)?);
    let clb_config = ClbProviderConfig {
        region: config.cluster.region.clone(),
        cluster_id: config.cluster.id.clone(),
        batch_window_ms: clb.batch_window_ms,
        listener_quota: clb.listener_quota,
        ..ClbProviderConfig::default()
    };
    let provider =
        ClbProvider::new(client, clb_config).map_err(|e| Error::ProviderConfig(e.to_string()))?;
    registry.register(crate::registry::Provider::Clb(Box::new(provider)))?;
    Ok(registry)
}
