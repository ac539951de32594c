//! What the controller hands a provider and what it gets back: plain serde structs, so that a
//! provider can log them, persist them, or send them over the wire to a service of its own.
use serde::{Deserialize, Serialize};

/// Transport protocol of a public port. The same port number with TCP and with UDP are two
/// different slots.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Protocol {
    #[serde(rename = "TCP")]
    Tcp,
    #[serde(rename = "UDP")]
    Udp,
}

impl Protocol {
    /// The spelling the cloud APIs and the CRDs use.
    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::Tcp => "TCP",
            Protocol::Udp => "UDP",
        }
    }
}

impl std::fmt::Display for Protocol {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How a provider's addresses are shared.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum AllocationMode {
    /// Many Pods share a frontend (a CLB, a NAT gateway EIP); each Pod port takes one
    /// (frontend, public IP, port, protocol) slot that the controller allocates.
    PortPerSlot,
    /// Every Pod gets an address of its own (an EIP); each Pod port is reachable at
    /// address:targetPort, so there is nothing to allocate.
    AddressPerPod,
}

/// An inclusive range of public ports.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PortRange {
    pub min: u16,
    pub max: u16,
}

impl PortRange {
    pub fn contains(&self, port: u16) -> bool {
        (self.min..=self.max).contains(&port)
    }

    /// The ports in both ranges, if any.
    pub fn intersect(&self, other: &PortRange) -> Option<PortRange> {
        let range = PortRange {
            min: self.min.max(other.min),
            max: self.max.min(other.max),
        };
        (range.min <= range.max).then_some(range)
    }
}

/// Where a provider should look: the user-facing resource's region and the frontends it names.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Scope {
    /// Identifies this cluster in ownership markers, so that two clusters sharing a cloud account
    /// never take each other's resources for orphans.
    pub cluster: String,
    /// `None`: the cluster's region.
    pub region: Option<String>,
    /// `existedLbIds` (clb) or `natGatewayIds` (natgw); empty means every frontend the provider
    /// is configured with.
    pub frontend_ids: Vec<String>,
    /// The one namespace the controller serves (`--namespace`), `None` when it serves all.
    /// A namespace-scoped controller shares frontends with others that may use the same
    /// cluster id: markers naming another namespace are then not its own but *foreign*
    /// (counted out of capacity, their slots reported as [`Frontend::taken`], never released).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
}

impl Scope {
    /// Whether a resource whose marker names `namespace` is this controller's to use and
    /// release (always, unless the controller serves one other namespace only).
    pub fn owns_namespace(&self, namespace: &str) -> bool {
        self.namespace.as_deref().is_none_or(|own| own == namespace)
    }
}

/// Something slots can be placed on: a CLB instance or a NAT gateway.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Frontend {
    /// CLB instance id or NAT gateway id.
    pub id: String,
    /// natgw: the gateway EIPs a slot may use (each is its own port space). Empty when the
    /// frontend has one implicit address (a CLB's VIP).
    pub public_ips: Vec<String>,
    /// How many slots bindings made by this controller may hold on this frontend in total,
    /// across all its public IPs: the quota (listeners per CLB, DNAT rules per gateway) minus what
    /// others (the console, other tools) already use there. Slots this controller already holds
    /// are *not* subtracted; the allocator does that from the child objects.
    pub capacity: u32,
    /// natgw: the gateway's configured public port range. `None`: the resource's range applies.
    pub port_range: Option<PortRange>,
    /// Slots on this frontend held by something this controller must not use or touch (a
    /// listener made in the console, another namespace's in a namespace-scoped controller), so
    /// that the allocator places nothing there.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub taken: Vec<TakenSlot>,
    /// Why no new slot may go here now, if that is so. The controller keeps existing
    /// allocations on a frontend with a problem, and moves them only once the frontend is
    /// confirmed [`gone`](FrontendProblem::gone) by two reads some time apart.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub problem: Option<FrontendProblem>,
    /// The frontend's cloud tags, where it has any: an admin's allow-list may name frontends by
    /// tag.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub tags: std::collections::BTreeMap<String, String>,
    /// How clients reach it, for statuses and results: its name, its VIPs, or the domain name
    /// of a domain-based CLB. Empty when the provider cannot say.
    #[serde(default)]
    pub display: FrontendDisplay,
}

/// What a frontend looks like from outside.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FrontendDisplay {
    /// The cloud's name for it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Its addresses (CLB VIPs, IPv4 or IPv6).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ips: Vec<String>,
    /// A domain name that stands for it (a domain-based CLB, whose VIPs may change).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hostname: Option<String>,
    /// `IPV4`, `IPV6`, ... as the cloud reports it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip_version: Option<String>,
}

/// A frontend to create for a pool that ran short (a CLB auto-created for a port pool).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FrontendRequest {
    /// `None`: the cluster's region.
    pub region: Option<String>,
    /// Provider-specific creation parameters (clb: a port pool's `autoCreate.parameters`, in
    /// its camelCase shape).
    pub parameters: serde_json::Value,
    /// Cloud tags to put on it, so that it can be found again ([`AddressProvider::find_frontends`](crate::AddressProvider::find_frontends)).
    pub tags: std::collections::BTreeMap<String, String>,
    /// The same token for the same wanted frontend, so that a create repeated after a crash or a
    /// lost answer does not make a second one (ASCII, at most 64 characters).
    pub client_token: String,
}

/// A frontend found by its tags, with all of them (they say who made it, for whom).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FoundFrontend {
    pub id: String,
    pub tags: std::collections::BTreeMap<String, String>,
}

impl Frontend {
    /// A frontend named in the scope that cannot take new slots, with why.
    pub fn with_problem(id: impl Into<String>, problem: FrontendProblem) -> Self {
        Self {
            id: id.into(),
            public_ips: Vec::new(),
            capacity: 0,
            port_range: None,
            taken: Vec::new(),
            problem: Some(problem),
            tags: Default::default(),
            display: FrontendDisplay::default(),
        }
    }
}

/// A slot on a frontend that is not this controller's to allocate.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TakenSlot {
    /// natgw: the gateway EIP; `None` for a CLB.
    pub public_ip: Option<String>,
    pub port: u16,
    pub protocol: Protocol,
}

/// Why a frontend takes no new slots.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FrontendProblem {
    /// The cloud says it does not exist (deleted out of band); otherwise it exists but cannot
    /// be used now (not available, or reading it failed).
    pub gone: bool,
    /// A condition reason (CamelCase), e.g. [`reason::LOAD_BALANCER_NOT_FOUND`](crate::reason::LOAD_BALANCER_NOT_FOUND).
    pub reason: String,
    pub message: String,
}

impl FrontendProblem {
    pub fn gone(reason: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            gone: true,
            reason: reason.into(),
            message: message.into(),
        }
    }

    pub fn unavailable(reason: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            gone: false,
            reason: reason.into(),
            message: message.into(),
        }
    }
}

/// Names the child object a binding belongs to; providers write it into the marker they leave on
/// what they create (listener name, rule description, EIP name) and parse it back in
/// [`list_owned`](crate::AddressProvider::list_owned).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct BindingKey {
    pub namespace: String,
    pub name: String,
}

impl BindingKey {
    pub fn new(namespace: impl Into<String>, name: impl Into<String>) -> Self {
        Self {
            namespace: namespace.into(),
            name: name.into(),
        }
    }
}

impl std::fmt::Display for BindingKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.namespace, self.name)
    }
}

/// The public side of a binding.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Slot {
    /// [`AllocationMode::PortPerSlot`]: a port on a shared frontend.
    #[serde(rename_all = "camelCase")]
    Port {
        /// CLB instance id or NAT gateway id.
        frontend_id: String,
        /// natgw: the gateway EIP; `None` for a CLB (its VIP).
        public_ip: Option<String>,
        port: u16,
        protocol: Protocol,
    },
    /// [`AllocationMode::AddressPerPod`]: the Pod's own address; the public port is the target
    /// port. All bindings of one Pod share the address.
    #[serde(rename_all = "camelCase")]
    PodAddress {
        pod_name: String,
        port: u16,
        protocol: Protocol,
    },
}

impl Slot {
    /// The public port.
    pub fn port(&self) -> u16 {
        match self {
            Slot::Port { port, .. } | Slot::PodAddress { port, .. } => *port,
        }
    }

    pub fn protocol(&self) -> Protocol {
        match self {
            Slot::Port { protocol, .. } | Slot::PodAddress { protocol, .. } => *protocol,
        }
    }
}

/// Where traffic for a binding goes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Backend {
    pub pod_name: String,
    /// The Pod's VPC IP (the controller checks it is inside the VPC before it asks).
    pub pod_ip: String,
    /// The container port (`targetPort`).
    pub port: u16,
}

/// One Pod port that wants a public address: what a `DedicatedCLBListener` child says.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Binding {
    /// The child object; the provider's ownership marker.
    pub key: BindingKey,
    /// `None`: the cluster's region.
    pub region: Option<String>,
    pub slot: Slot,
    /// `None`: create the listener / rule without a target (the Pod has no IP yet, or is gone).
    pub backend: Option<Backend>,
    /// The cloud id from the child's status (`listenerId`), when an earlier `ensure` returned one;
    /// spares the provider a lookup. Providers must not trust it blindly: it may be stale.
    pub resource_id: Option<String>,
    /// clb: the referenced `CLBListenerConfig` spec (health check, scheduler, session
    /// persistence), as JSON in the CRD's camelCase shape.
    pub listener_settings: Option<serde_json::Value>,
    /// Provider-specific options from the user-facing resource (e.g. its `eip` section).
    pub options: Option<serde_json::Value>,
    /// [`AllocationMode::AddressPerPod`] only: other bindings of the same Pod still use the Pod's
    /// address, so `release` must forget this port but keep the address. Ignored otherwise.
    pub keep_pod_address: bool,
}

/// Progress of a binding in the cloud, as the child's `status.state` shows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum BindingState {
    /// The cloud is still creating it (an async task is running).
    Pending,
    /// It exists but has no backend.
    Available,
    /// It exists and forwards to the backend.
    Bound,
}

/// The result of [`ensure`](crate::AddressProvider::ensure).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BindingStatus {
    /// clb: the listener id; natgw: the DNAT rule's key; eip: the EIP's AddressId.
    pub resource_id: String,
    pub state: BindingState,
    /// The public `IP:port`, once known.
    pub address: Option<String>,
}

/// Something a provider finds in the cloud carrying its marker.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OwnedResource {
    /// Same meaning as [`BindingStatus::resource_id`].
    pub resource_id: String,
    pub region: Option<String>,
    /// Enough to build a [`Binding`] that releases it.
    pub slot: Slot,
    /// The child object its marker names; `None` when the marker does not name one (a hashed
    /// marker, an EIP held by a Pod rather than a child object).
    pub owner: Option<BindingKey>,
    /// The namespace it serves when that is known without an owner (an EIP allocated for a
    /// Pod): a namespace-scoped controller releases nothing it cannot place in its namespace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
}

impl OwnedResource {
    /// A binding that releases this resource: its slot, no backend, its owner's key (or a
    /// placeholder when it has none).
    pub fn release_binding(&self) -> Binding {
        Binding {
            key: self
                .owner
                .clone()
                .unwrap_or_else(|| BindingKey::new(self.namespace.clone().unwrap_or_default(), "")),
            region: self.region.clone(),
            slot: self.slot.clone(),
            backend: None,
            resource_id: Some(self.resource_id.clone()),
            listener_settings: None,
            options: None,
            keep_pod_address: false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn port_ranges_intersect() {
        let resource = PortRange { min: 501, max: 600 };
        let gateway = PortRange {
            min: 550,
            max: 1000,
        };
        assert_eq!(
            resource.intersect(&gateway),
            Some(PortRange { min: 550, max: 600 })
        );
        assert_eq!(resource.intersect(&PortRange { min: 601, max: 700 }), None);
        assert!(resource.contains(501) && resource.contains(600) && !resource.contains(601));
    }

    #[test]
    fn protocols_use_the_cloud_spelling() {
        assert_eq!(serde_json::to_string(&Protocol::Udp).unwrap(), "\"UDP\"");
        assert_eq!(Protocol::Tcp.to_string(), "TCP");
    }
}
