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
    /// The child object its marker names; `None` when the marker could not be parsed (it is then
    /// an orphan by definition).
    pub owner: Option<BindingKey>,
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
