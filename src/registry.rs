//! The providers this controller serves, by the name `spec.provider` uses.
//!
//! Built-in providers are variants of [`Provider`], dispatched statically with enum_dispatch;
//! providers from users' crates go in the boxed [`Provider::Custom`] variant. enum_dispatch has
//! to see the trait it implements, and [`AddressProvider`] lives in the provider-API crate (the
//! providers depend on it, so it cannot live here), so [`ProviderOps`] mirrors it locally: every
//! `AddressProvider` is a `ProviderOps` through a blanket impl, and the enum implements
//! `ProviderOps` by matching on its variants. Reconcilers call `ProviderOps` methods.
use crate::config::{ControllerConfig, is_dns_label};
use async_trait::async_trait;
use dac_provider_api::{
    AddressProvider, AllocationMode, Binding, BindingStatus, FoundFrontend, Frontend,
    FrontendRequest, OwnedResource, Result, Scope,
};
use enum_dispatch::enum_dispatch;
use std::{collections::BTreeMap, fmt};

/// [`AddressProvider`]'s methods, here where enum_dispatch can see them; see the module docs.
//
// `async_trait` must expand before `enum_dispatch`, so that the enum's generated impl has the
// same boxed-future signatures as the trait.
#[async_trait]
#[enum_dispatch]
pub trait ProviderOps: Send + Sync {
    fn name(&self) -> &str;
    fn allocation_mode(&self) -> AllocationMode;
    fn start(&self);
    async fn frontends(&self, scope: &Scope) -> Result<Vec<Frontend>>;
    async fn ensure(&self, binding: &Binding) -> Result<BindingStatus>;
    async fn release(&self, binding: &Binding) -> Result<()>;
    async fn list_owned(&self, scope: &Scope) -> Result<Vec<OwnedResource>>;
    async fn release_orphan(&self, resource: &OwnedResource) -> Result<()>;
    async fn create_frontend(&self, request: &FrontendRequest) -> Result<String>;
    async fn delete_frontend(&self, scope: &Scope, id: &str) -> Result<()>;
    async fn find_frontends(
        &self,
        scope: &Scope,
        tags: &BTreeMap<String, String>,
    ) -> Result<Vec<FoundFrontend>>;
}

#[async_trait]
impl<P: AddressProvider + ?Sized> ProviderOps for P {
    fn name(&self) -> &str {
        AddressProvider::name(self)
    }

    fn allocation_mode(&self) -> AllocationMode {
        AddressProvider::allocation_mode(self)
    }

    fn start(&self) {
        AddressProvider::start(self);
    }

    async fn frontends(&self, scope: &Scope) -> Result<Vec<Frontend>> {
        AddressProvider::frontends(self, scope).await
    }

    async fn ensure(&self, binding: &Binding) -> Result<BindingStatus> {
        AddressProvider::ensure(self, binding).await
    }

    async fn release(&self, binding: &Binding) -> Result<()> {
        AddressProvider::release(self, binding).await
    }

    async fn list_owned(&self, scope: &Scope) -> Result<Vec<OwnedResource>> {
        AddressProvider::list_owned(self, scope).await
    }

    async fn release_orphan(&self, resource: &OwnedResource) -> Result<()> {
        AddressProvider::release_orphan(self, resource).await
    }

    async fn create_frontend(&self, request: &FrontendRequest) -> Result<String> {
        AddressProvider::create_frontend(self, request).await
    }

    async fn delete_frontend(&self, scope: &Scope, id: &str) -> Result<()> {
        AddressProvider::delete_frontend(self, scope, id).await
    }

    async fn find_frontends(
        &self,
        scope: &Scope,
        tags: &BTreeMap<String, String>,
    ) -> Result<Vec<FoundFrontend>> {
        AddressProvider::find_frontends(self, scope, tags).await
    }
}

/// A provider this controller can serve.
#[enum_dispatch(ProviderOps)]
pub enum Provider {
    // Built-in providers: a static call each; a variant type only has to implement
    // `AddressProvider`.
    /// A CLB listener per Pod port. Boxed: providers are built once and live as long as the
    /// process, so keeping the enum small costs nothing.
    Clb(Box<dac_provider_clb::ClbProvider>),
    /// A NAT gateway DNAT rule per Pod port.
    Natgw(Box<dac_provider_natgw::NatgwProvider>),
    /// An EIP per Pod.
    Eip(Box<dac_provider_eip::EipProvider>),
    /// A provider from a user's crate, registered by a binary built with it.
    Custom(Box<dyn AddressProvider>),
}

impl fmt::Debug for Provider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let variant = match self {
            Provider::Clb(_) => "Clb",
            Provider::Natgw(_) => "Natgw",
            Provider::Eip(_) => "Eip",
            Provider::Custom(_) => "Custom",
        };
        f.debug_tuple(variant).field(&self.name()).finish()
    }
}

/// `spec.provider` names a provider this controller does not serve. The reconciler shows it as
/// the condition [`REASON`](Self::REASON) and an Event, and leaves the resource alone.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("provider {name:?} is not enabled in this controller; enabled: {}", enabled_list(.enabled))]
pub struct ProviderNotEnabled {
    pub name: String,
    /// What is enabled, for the message.
    pub enabled: Vec<String>,
}

impl ProviderNotEnabled {
    pub const REASON: &'static str = crate::crd::condition::reasons::PROVIDER_NOT_ENABLED;
}

fn enabled_list(enabled: &[String]) -> String {
    if enabled.is_empty() {
        "none".to_string()
    } else {
        enabled.join(", ")
    }
}

/// Registering a provider failed: a bug in how the binary was put together.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RegistryError {
    #[error("provider name {0:?} is not a DNS label, so no resource could name it")]
    InvalidName(String),
    #[error("two providers are named {0:?}")]
    Duplicate(String),
}

/// The enabled providers, by name.
#[derive(Debug, Default)]
pub struct ProviderRegistry {
    providers: BTreeMap<String, Provider>,
}

impl ProviderRegistry {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds an enabled provider under its own [`name`](ProviderOps::name). Whether it is enabled
    /// is the caller's check ([`ControllerConfig::is_enabled`]), made before building it.
    pub fn register(&mut self, provider: impl Into<Provider>) -> Result<(), RegistryError> {
        let provider = provider.into();
        let name = provider.name().to_string();
        if !is_dns_label(&name) {
            return Err(RegistryError::InvalidName(name));
        }
        if self.providers.contains_key(&name) {
            return Err(RegistryError::Duplicate(name));
        }
        self.providers.insert(name, provider);
        Ok(())
    }

    /// Adds a provider from a user's crate.
    pub fn register_custom(
        &mut self,
        provider: impl AddressProvider + 'static,
    ) -> Result<(), RegistryError> {
        self.register(Provider::Custom(Box::new(provider)))
    }

    /// The provider `spec.provider` names.
    pub fn get(&self, name: &str) -> Result<&Provider, ProviderNotEnabled> {
        self.providers.get(name).ok_or_else(|| ProviderNotEnabled {
            name: name.to_string(),
            enabled: self.names().map(str::to_string).collect(),
        })
    }

    /// Starts every provider's background work ([`AddressProvider::start`]): once, on leading.
    pub fn start_all(&self) {
        for provider in self.providers.values() {
            provider.start();
        }
    }

    /// Names of the registered providers, sorted.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.providers.keys().map(String::as_str)
    }

    /// Sections under `providers` of the config that no registered provider reads: most likely
    /// a typo, or a custom provider this binary was not built with. Worth a warning at startup.
    pub fn unclaimed_sections(&self, config: &ControllerConfig) -> Vec<String> {
        config
            .providers
            .custom
            .keys()
            .filter(|name| !self.providers.contains_key(name.as_str()))
            .cloned()
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use dac_provider_api::{
        Backend, BindingKey, BindingState, MockAddressProvider, Protocol, ProviderError, Slot,
    };

    fn mock(name: &str, mode: AllocationMode) -> MockAddressProvider {
        let mut mock = MockAddressProvider::new();
        mock.expect_name().return_const(name.to_string());
        mock.expect_allocation_mode().return_const(mode);
        mock
    }

    fn binding() -> Binding {
        Binding {
            key: BindingKey::new("demo", "gs-0-udp-8000"),
            region: None,
            slot: Slot::PodAddress {
                pod_name: "gs-0".into(),
                port: 8000,
                protocol: Protocol::Udp,
            },
            backend: Some(Backend {
                pod_name: "gs-0".into(),
                pod_ip: "10.0.0.9".into(),
                port: 8000,
            }),
            resource_id: None,
            listener_settings: None,
            options: None,
            keep_pod_address: false,
        }
    }

    #[tokio::test]
    async fn calls_reach_the_registered_provider() {
        let mut eip = mock("my-eip", AllocationMode::AddressPerPod);
        eip.expect_ensure().times(1).returning(|binding| {
            Ok(BindingStatus {
                resource_id: "eip-1".into(),
                state: BindingState::Bound,
                address: Some(format!("203.0.113.5:{}", binding.slot.port())),
            })
        });
        eip.expect_release().times(1).returning(|_| {
            Err(ProviderError::user_fixable(
                "EIPQuotaExceeded",
                "daily limit",
            ))
        });
        eip.expect_frontends().returning(|_| Ok(vec![]));

        let mut registry = ProviderRegistry::new();
        registry.register_custom(eip).unwrap();

        let provider = registry.get("my-eip").unwrap();
        assert_eq!(provider.name(), "my-eip");
        assert_eq!(provider.allocation_mode(), AllocationMode::AddressPerPod);
        assert!(
            provider
                .frontends(&Scope::default())
                .await
                .unwrap()
                .is_empty()
        );
        let status = provider.ensure(&binding()).await.unwrap();
        assert_eq!(status.address.as_deref(), Some("203.0.113.5:8000"));
        let error = provider.release(&binding()).await.unwrap_err();
        assert_eq!(error.reason(), "EIPQuotaExceeded");
        assert_eq!(format!("{provider:?}"), "Custom(\"my-eip\")");
    }

    #[test]
    fn a_missing_provider_is_not_enabled() {
        let mut registry = ProviderRegistry::new();
        registry
            .register_custom(mock("clb", AllocationMode::PortPerSlot))
            .unwrap();
        registry
            .register_custom(mock("static-table", AllocationMode::PortPerSlot))
            .unwrap();

        let error = registry.get("natgw").unwrap_err();
        assert_eq!(error.name, "natgw");
        assert_eq!(
            error.to_string(),
            "provider \"natgw\" is not enabled in this controller; enabled: clb, static-table"
        );
        assert_eq!(ProviderNotEnabled::REASON, "ProviderNotEnabled");
        assert_eq!(
            ProviderRegistry::new().get("clb").unwrap_err().to_string(),
            "provider \"clb\" is not enabled in this controller; enabled: none"
        );
    }

    #[test]
    fn names_are_unique_dns_labels() {
        let mut registry = ProviderRegistry::new();
        registry
            .register_custom(mock("clb", AllocationMode::PortPerSlot))
            .unwrap();
        assert_eq!(
            registry.register_custom(mock("clb", AllocationMode::PortPerSlot)),
            Err(RegistryError::Duplicate("clb".into()))
        );
        assert_eq!(
            registry.register_custom(mock("My_Provider", AllocationMode::PortPerSlot)),
            Err(RegistryError::InvalidName("My_Provider".into()))
        );
        assert_eq!(registry.names().collect::<Vec<_>>(), vec!["clb"]);
    }

    #[test]
    fn config_sections_nobody_reads_are_reported() {
        let config = ControllerConfig::load_from_str(
            "cluster: {id: c, region: r}\nproviders: {static-table: {}, statc-table: {}}\n",
            ::config::FileFormat::Yaml,
            Default::default(),
        )
        .unwrap();
        let mut registry = ProviderRegistry::new();
        registry
            .register_custom(mock("static-table", AllocationMode::PortPerSlot))
            .unwrap();
        assert_eq!(registry.unclaimed_sections(&config), vec!["statc-table"]);
    }
}
