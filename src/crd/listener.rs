//! `DedicatedCLBListener`: one Pod port's public address. The service controller creates one per
//! Pod port (owned by its `DedicatedCLBService`); users may also create one by hand.
//!
//! What the fields mean per provider:
//!
//! | field | clb | natgw | eip |
//! |---|---|---|---|
//! | `lbId` | CLB instance id (required) | NAT gateway id (required) | - |
//! | `lbPort` | listener port (required) | public port of the DNAT rule (required) | - (the address uses `backendPod.port`) |
//! | `publicIp` | - | the gateway EIP of this slot (required) | - |
//! | `backendPod` | the listener's only target | the rule's private side | the Pod whose EIP this is (required) |
//! | `status.listenerId` | listener id | DNAT rule key | EIP AddressId |
use super::{Protocol, default_provider};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// One public address (IP:port) for one Pod port.
// clippy takes the repeated `printcolumn(type_ = ...)` for duplicated attributes.
#[allow(clippy::duplicated_attributes)]
#[derive(CustomResource, KubeSchema, Clone, Debug, PartialEq, Serialize, Deserialize)]
#[kube(
    group = "networking.cloud.tencent.com",
    version = "v1alpha1",
    kind = "DedicatedCLBListener",
    namespaced,
    status = "DedicatedCLBListenerStatus",
    derive = "PartialEq",
    shortname = "dcl",
    category = "dedicated-address",
    doc = "One public address (a CLB listener, a NAT gateway DNAT rule or a Pod's EIP) for one Pod port",
    printcolumn(name = "Provider", type_ = "string", json_path = ".spec.provider"),
    printcolumn(name = "LbId", type_ = "string", json_path = ".spec.lbId"),
    printcolumn(name = "LbPort", type_ = "integer", json_path = ".spec.lbPort"),
    printcolumn(name = "Pod", type_ = "string", json_path = ".spec.backendPod.podName"),
    printcolumn(name = "State", type_ = "string", json_path = ".status.state"),
    printcolumn(name = "Address", type_ = "string", json_path = ".status.address"),
    printcolumn(
        name = "Age",
        type_ = "date",
        json_path = ".metadata.creationTimestamp"
    )
)]
#[serde(rename_all = "camelCase")]
// The slot (provider, lbId, lbPort, publicIp, protocol) is the child's identity: the allocator
// reads allocations back from it, so it never changes in place; a move is delete + create.
#[x_kube(
    validation = Rule::new("!(self.provider in ['clb', 'natgw']) || (has(self.lbId) && has(self.lbPort))")
        .message("lbId and lbPort are required for providers clb and natgw"),
    validation = Rule::new("self.provider != 'natgw' || has(self.publicIp)")
        .message("publicIp (the NAT gateway EIP) is required for provider natgw"),
    validation = Rule::new("self.provider != 'clb' || !has(self.publicIp)")
        .message("publicIp does not apply to provider clb: the address is the CLB's VIP"),
    validation = Rule::new("self.provider != 'eip' || (has(self.backendPod) && !has(self.lbId) && !has(self.lbPort))")
        .message("provider eip needs backendPod, and takes no lbId or lbPort: the address is the Pod's EIP and backendPod.port"),
    validation = Rule::new("self.provider == oldSelf.provider && self.protocol == oldSelf.protocol")
        .message("provider and protocol are immutable; delete and recreate the listener to change them"),
    validation = Rule::new("has(self.lbId) == has(oldSelf.lbId) && (!has(self.lbId) || self.lbId == oldSelf.lbId)")
        .message("lbId is immutable; delete and recreate the listener to move it"),
    validation = Rule::new("has(self.lbPort) == has(oldSelf.lbPort) && (!has(self.lbPort) || self.lbPort == oldSelf.lbPort)")
        .message("lbPort is immutable; delete and recreate the listener to move it"),
    validation = Rule::new("has(self.publicIp) == has(oldSelf.publicIp) && (!has(self.publicIp) || self.publicIp == oldSelf.publicIp)")
        .message("publicIp is immutable; delete and recreate the listener to move it")
)]
pub struct DedicatedCLBListenerSpec {
    /// The address provider; see `DedicatedCLBService.spec.provider`.
    #[serde(default = "default_provider")]
    #[schemars(
        length(min = 1, max = 63),
        regex(pattern = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
    )]
    pub provider: String,

    /// clb: the CLB instance id; natgw: the NAT gateway id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1))]
    pub lb_id: Option<String>,

    /// Region of the CLB / NAT gateway; default the cluster's region.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1))]
    pub lb_region: Option<String>,

    /// clb: the listener port; natgw: the public port of the DNAT rule.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "super::port_schema")]
    pub lb_port: Option<u16>,

    /// natgw: the gateway EIP this slot is on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1))]
    pub public_ip: Option<String>,

    /// Protocol of the public port.
    pub protocol: Protocol,

    /// Name of a `CLBListenerConfig` in this namespace with the listener's settings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 253))]
    pub listener_config: Option<String>,

    /// The Pod port traffic goes to; without it the address exists but forwards nowhere
    /// (state `Available`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backend_pod: Option<BackendPod>,
}

/// A Pod, in the listener's namespace, and one of its container ports.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct BackendPod {
    #[schemars(length(min = 1, max = 253))]
    pub pod_name: String,
    #[schemars(schema_with = "super::port_schema")]
    pub port: u16,
}

/// Where a listener is in its life, as seed 000 names the states.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum ListenerState {
    /// Being created in the cloud.
    Pending,
    /// Exists, with no backend bound.
    Available,
    /// Exists and forwards to the backend Pod.
    Bound,
    /// Being removed from the cloud (the finalizer holds the object until it is gone).
    Deleting,
    /// The provider cannot make it; the `Ready` condition says why.
    Failed,
}

/// What the controller last saw and did.
#[derive(KubeSchema, Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DedicatedCLBListenerStatus {
    /// clb: the listener id; natgw: the DNAT rule key; eip: the EIP's AddressId.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub listener_id: Option<String>,

    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<ListenerState>,

    /// The public `IP:port`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,

    /// `Ready` and, when it is `False`, why (e.g. `PodIPNotInVPC`, `LoadBalancerNotFound`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[x_kube(merge_strategy = ListMerge::Map(vec!["type".into()]))]
    pub conditions: Vec<Condition>,

    /// The `metadata.generation` this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
}
