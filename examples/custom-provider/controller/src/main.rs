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

#[cfg(test)]
mod tests {
    use super::*;
    use config::FileFormat;
    use dac_provider_api::{AllocationMode, MockAddressProvider};
    use dedicated_address_controller::registry::ProviderOps;

    fn load(yaml: &str) -> ControllerConfig {
        let text = format!("cluster: {{id: cls-test, region: local}}\n{yaml}");
        ControllerConfig::load_from_str(&text, FileFormat::Yaml, Default::default()).unwrap()
    }

    fn registered(config: &ControllerConfig) -> Result<Vec<String>> {
        let mut registry = ProviderRegistry::new();
        register(config, &mut registry)?;
        Ok(registry.names().map(str::to_string).collect())
    }

    #[test]
    fn the_documented_example_config_registers_the_provider() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../config.yaml");
        let config = ControllerConfig::load(Some(std::path::Path::new(path))).unwrap();
        let mut registry = ProviderRegistry::new();
        register(&config, &mut registry).unwrap();
        let provider = registry.get(PROVIDER_NAME).unwrap();
        assert_eq!(provider.allocation_mode(), AllocationMode::PortPerSlot);
        assert!(registry.unclaimed_sections(&config).is_empty());
    }

    #[test]
    fn a_disabled_or_missing_section_registers_nothing() {
        let disabled = load("providers:\n  static-table: {enabled: false}\n");
        assert!(registered(&disabled).unwrap().is_empty());
        assert!(registered(&load("")).unwrap().is_empty());
    }

    #[test]
    fn a_bad_section_stops_the_controller_with_every_problem() {
        let config = load(
            "providers:\n  static-table:\n    tableFile: /t.json\n    frontends:\n\
             \x20     - {id: a, publicIp: 203.0.113.1}\n\
             \x20     - {id: a, publicIp: 203.0.113.1, ports: [0]}\n",
        );
        let error = registered(&config).unwrap_err();
        assert!(matches!(error, Error::ProviderConfig(_)), "{error:?}");
        let message = error.to_string();
        for problem in [
            "frontend a: give portRange or ports",
            "frontend a is listed twice",
            "port 0 is not a port",
        ] {
            assert!(message.contains(problem), "{message}");
        }
    }

    #[test]
    fn a_name_taken_by_another_provider_is_refused() {
        // Stands in for a second provider built into the same binary under the same name.
        let mut other = MockAddressProvider::new();
        other.expect_name().return_const(PROVIDER_NAME.to_string());
        let mut registry = ProviderRegistry::new();
        registry.register_custom(other).unwrap();

        let config = load(
            "providers:\n  static-table:\n    tableFile: /t.json\n    frontends:\n\
             \x20     - {id: a, publicIp: 203.0.113.1, ports: [7000]}\n",
        );
        let error = register(&config, &mut registry).unwrap_err();
        assert!(
            error.to_string().contains("two providers are named"),
            "{error}"
        );
    }
}
