//! The provider API: the [`AddressProvider`] trait and its request, result and error types.
//!
//! An address provider turns a *binding* (one Pod port that wants a public address) into
//! something in a cloud that forwards traffic to it. Every provider, built in or written by a
//! user in their own crate, implements the same trait:
//!
//! | provider | [`AllocationMode`] | one [`Binding`] becomes | the address |
//! |---|---|---|---|
//! | `clb` | [`PortPerSlot`](AllocationMode::PortPerSlot) | a CLB listener (lb id, port, protocol) with the Pod IP:targetPort as its only target | CLB VIP:port |
//! | `natgw` | [`PortPerSlot`](AllocationMode::PortPerSlot) | a DNAT rule (gateway, EIP, port, protocol) -> Pod IP:targetPort | EIP:port |
//! | `eip` | [`AddressPerPod`](AllocationMode::AddressPerPod) | one EIP per Pod associated with the Pod's ENI IP, shared by all of the Pod's bindings | EIP:targetPort |
//!
//! The controller owns the allocation of slots (it keeps it in the API server, so a restart
//! never reshuffles); a provider only reports where slots may go ([`AddressProvider::frontends`])
//! and makes the cloud match one binding at a time ([`AddressProvider::ensure`],
//! [`AddressProvider::release`]). Providers are free to batch concurrent calls internally.
#![deny(warnings, rust_2018_idioms)]
#![forbid(unsafe_code)]

mod error;
mod types;

pub use error::{ProviderError, Result, reason};
pub use types::{
    AllocationMode, Backend, Binding, BindingKey, BindingState, BindingStatus, FoundFrontend,
    Frontend, FrontendDisplay, FrontendProblem, FrontendRequest, OwnedResource, PortRange,
    Protocol, Scope, Slot, TakenSlot,
};

use async_trait::async_trait;

/// Something that gives Pod ports public addresses: CLB listeners, NAT gateway DNAT rules, EIPs,
/// or a user's own mechanism.
///
/// Every method may be called concurrently from many reconciles, and again after a controller
/// restart with the same arguments, so implementations must be idempotent and keep no state that
/// the cloud (or the arguments) cannot rebuild.
#[cfg_attr(any(test, feature = "mock"), mockall::automock)]
#[async_trait]
pub trait AddressProvider: Send + Sync {
    /// The name users write in `spec.provider`: a DNS label such as `clb` or `my-static-table`.
    fn name(&self) -> &str;

    /// Whether bindings share frontends by port ([`AllocationMode::PortPerSlot`], the controller
    /// allocates slots) or every Pod gets an address of its own ([`AllocationMode::AddressPerPod`]).
    fn allocation_mode(&self) -> AllocationMode;

    /// Starts the provider's own background work (the eip provider keeps its warm pool filled),
    /// called once when this replica starts leading, inside the Tokio runtime and before any
    /// other call: a provider is built before the runtime exists, and a replica that does not
    /// lead must not allocate. The default has nothing to start.
    fn start(&self) {}

    /// The frontends that new slots may be placed on in `scope`, each with its capacity.
    ///
    /// `clb`: the CLB instances in `scope.frontend_ids` (`existedLbIds`) with their listener quota;
    /// `natgw`: the configured NAT gateways (narrowed to `scope.frontend_ids` when it is not
    /// empty) with their EIPs, rule limit and port range; `AddressPerPod` providers return an
    /// empty list. One frontend that does not exist or cannot be used must not hide the others:
    /// it is returned with a [`Frontend::problem`] (e.g. [`reason::LOAD_BALANCER_NOT_FOUND`],
    /// `gone: true`), and an `Err` is only for a failure that says nothing about any of them.
    async fn frontends(&self, scope: &Scope) -> Result<Vec<Frontend>>;

    /// Makes the cloud match `binding`, creating what is missing.
    ///
    /// Idempotent: the listener / rule / association is created if it does not exist, pointed at
    /// `binding.backend` (and only at it: targets left behind by an earlier Pod with another IP are
    /// removed), or left without a backend when `binding.backend` is `None`. Returns
    /// [`BindingState::Pending`] while the cloud is still working on it; the caller asks again.
    async fn ensure(&self, binding: &Binding) -> Result<BindingStatus>;

    /// Removes what [`ensure`](AddressProvider::ensure) created for `binding`.
    ///
    /// Idempotent: something already gone is success, not an error.
    async fn release(&self, binding: &Binding) -> Result<()>;

    /// Everything in `scope` that this provider created for this cluster, recognised by the
    /// marker it puts in names or descriptions, so that the controller can release what no
    /// binding claims any more (orphans left by a crash or by objects deleted while it was down).
    async fn list_owned(&self, scope: &Scope) -> Result<Vec<OwnedResource>>;

    /// Releases an orphan that [`list_owned`](AddressProvider::list_owned) reported and the
    /// controller judged unclaimed (checked against the API server just before this call).
    ///
    /// A provider that serialises its writes (per load balancer, per Pod) should re-check here,
    /// inside that serialisation, that nothing claimed the resource since it was listed (an
    /// `ensure` that adopted it), and leave it alone if something did: the sweep must never
    /// release what is in use. The default releases it as a binding without a backend.
    async fn release_orphan(&self, resource: &OwnedResource) -> Result<()> {
        self.release(&resource.release_binding()).await
    }

    /// Creates a frontend (a CLB a port pool auto-creates) and returns its id once it can take
    /// slots. Idempotent per `request.client_token`. The default: this provider cannot.
    async fn create_frontend(&self, request: &FrontendRequest) -> Result<String> {
        Err(ProviderError::user_fixable(
            reason::UNSUPPORTED,
            format!(
                "provider {} cannot create frontends (tokens {})",
                self.name(),
                request.client_token
            ),
        ))
    }

    /// Deletes a frontend [`create_frontend`](AddressProvider::create_frontend) made, once
    /// nothing of this controller's is left on it; something already gone is success.
    async fn delete_frontend(&self, scope: &Scope, id: &str) -> Result<()> {
        let _ = scope;
        Err(ProviderError::user_fixable(
            reason::UNSUPPORTED,
            format!("provider {} cannot delete frontend {id}", self.name()),
        ))
    }

    /// The frontends in `scope`'s region carrying every one of `tags`: what
    /// [`create_frontend`](AddressProvider::create_frontend) made, found again after a crash.
    async fn find_frontends(
        &self,
        scope: &Scope,
        tags: &std::collections::BTreeMap<String, String>,
    ) -> Result<Vec<FoundFrontend>> {
        let _ = (scope, tags);
        Ok(Vec::new())
    }
}

/// Lets `Box<dyn AddressProvider>` (how custom providers are registered) be used wherever an
/// `AddressProvider` is expected.
#[async_trait]
impl<P: AddressProvider + ?Sized> AddressProvider for Box<P> {
    fn name(&self) -> &str {
        (**self).name()
    }

    fn allocation_mode(&self) -> AllocationMode {
        (**self).allocation_mode()
    }

    fn start(&self) {
        (**self).start();
    }

    async fn frontends(&self, scope: &Scope) -> Result<Vec<Frontend>> {
        (**self).frontends(scope).await
    }

    async fn ensure(&self, binding: &Binding) -> Result<BindingStatus> {
        (**self).ensure(binding).await
    }

    async fn release(&self, binding: &Binding) -> Result<()> {
        (**self).release(binding).await
    }

    async fn list_owned(&self, scope: &Scope) -> Result<Vec<OwnedResource>> {
        (**self).list_owned(scope).await
    }

    async fn release_orphan(&self, resource: &OwnedResource) -> Result<()> {
        (**self).release_orphan(resource).await
    }

    async fn create_frontend(&self, request: &FrontendRequest) -> Result<String> {
        (**self).create_frontend(request).await
    }

    async fn delete_frontend(&self, scope: &Scope, id: &str) -> Result<()> {
        (**self).delete_frontend(scope, id).await
    }

    async fn find_frontends(
        &self,
        scope: &Scope,
        tags: &std::collections::BTreeMap<String, String>,
    ) -> Result<Vec<FoundFrontend>> {
        (**self).find_frontends(scope, tags).await
    }
}

/// Same as for `Box`: a provider shared between the registry and, say, a cleanup task.
#[async_trait]
impl<P: AddressProvider + ?Sized> AddressProvider for std::sync::Arc<P> {
    fn name(&self) -> &str {
        (**self).name()
    }

    fn allocation_mode(&self) -> AllocationMode {
        (**self).allocation_mode()
    }

    fn start(&self) {
        (**self).start();
    }

    async fn frontends(&self, scope: &Scope) -> Result<Vec<Frontend>> {
        (**self).frontends(scope).await
    }

    async fn ensure(&self, binding: &Binding) -> Result<BindingStatus> {
        (**self).ensure(binding).await
    }

    async fn release(&self, binding: &Binding) -> Result<()> {
        (**self).release(binding).await
    }

    async fn list_owned(&self, scope: &Scope) -> Result<Vec<OwnedResource>> {
        (**self).list_owned(scope).await
    }

    async fn release_orphan(&self, resource: &OwnedResource) -> Result<()> {
        (**self).release_orphan(resource).await
    }

    async fn create_frontend(&self, request: &FrontendRequest) -> Result<String> {
        (**self).create_frontend(request).await
    }

    async fn delete_frontend(&self, scope: &Scope, id: &str) -> Result<()> {
        (**self).delete_frontend(scope, id).await
    }

    async fn find_frontends(
        &self,
        scope: &Scope,
        tags: &std::collections::BTreeMap<String, String>,
    ) -> Result<Vec<FoundFrontend>> {
        (**self).find_frontends(scope, tags).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn clb_binding() -> Binding {
        Binding {
            key: BindingKey::new("demo", "gameserver-0-tcp-9000"),
            region: Some("ap-chengdu".into()),
            slot: Slot::Port {
                frontend_id: "lb-xxx".into(),
                public_ip: None,
                port: 501,
                protocol: Protocol::Tcp,
            },
            backend: Some(Backend {
                pod_name: "gameserver-0".into(),
                pod_ip: "10.0.0.12".into(),
                port: 9000,
            }),
            resource_id: None,
            listener_settings: None,
            options: None,
            keep_pod_address: false,
        }
    }

    #[tokio::test]
    async fn a_boxed_mock_serves_as_a_provider() {
        let mut mock = MockAddressProvider::new();
        mock.expect_name().return_const("clb".to_string());
        mock.expect_ensure().returning(|binding| {
            Ok(BindingStatus {
                resource_id: "lbl-1".into(),
                state: BindingState::Bound,
                address: Some(format!("1.2.3.4:{}", binding.slot.port())),
            })
        });
        mock.expect_release().returning(|_| {
            Err(ProviderError::retry_after(
                "locked",
                std::time::Duration::from_secs(2),
            ))
        });

        let provider: Box<dyn AddressProvider> = Box::new(mock);
        assert_eq!(provider.name(), "clb");
        let status = provider.ensure(&clb_binding()).await.unwrap();
        assert_eq!(status.address.as_deref(), Some("1.2.3.4:501"));
        let err = provider.release(&clb_binding()).await.unwrap_err();
        assert!(err.is_retryable());
        assert_eq!(
            err.retry_after_hint(),
            Some(std::time::Duration::from_secs(2))
        );
    }

    #[test]
    fn bindings_round_trip_through_json() {
        let binding = clb_binding();
        let json = serde_json::to_value(&binding).unwrap();
        assert_eq!(json["slot"]["port"]["frontendId"], "lb-xxx");
        assert_eq!(json["slot"]["port"]["protocol"], "TCP");
        let back: Binding = serde_json::from_value(json).unwrap();
        assert_eq!(back, binding);
    }
}
