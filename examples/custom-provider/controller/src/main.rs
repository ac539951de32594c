//! The dedicated-address-controller with the `static-table` provider built in: the built-in
//! providers as the config enables them, plus `static-table`, configured by the section
//! `providers.static-table` of the same config file.
#![deny(warnings, rust_2018_idioms)]
#![forbid(unsafe_code)]

use dedicated_address_controller::config::ControllerConfig;
use dedicated_address_controller::registry::ProviderRegistry;
use dedicated_address_controller::{Error, Result, app};
use static_table_provider::{PROVIDER_NAME, StaticTableConfig, StaticTableProvider};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    app::main(Box::new(register)).await
}

/// Registers `static-table` unless its section disables it. Without a section there is nothing
/// to hand out, so it stays unregistered, and resources naming it get `ProviderNotEnabled`.
fn register(config: &ControllerConfig, registry: &mut ProviderRegistry) -> Result<()> {
    if !config.is_enabled(PROVIDER_NAME) {
        return Ok(());
    }
    let Some(section) = config.custom_section(PROVIDER_NAME) else {
        tracing::warn!(
            "this controller has the {PROVIDER_NAME} provider, but the config has no providers.{PROVIDER_NAME} section"
        );
        return Ok(());
    };
    // A bad section stops the controller at startup, with every problem in one message.
    let provider = StaticTableConfig::from_section(section)
        .and_then(|settings| StaticTableProvider::new(&config.cluster.id, &settings))
        .map_err(|error| Error::ProviderConfig(error.to_string()))?;
    registry.register_custom(provider)?;
    Ok(())
}
