//! `DedicatedCLBService`: which Pods, which of their ports, and which provider gives each Pod
//! port its own public address.
use super::{Protocol, default_provider};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Gives every selected Pod's listed ports a public address each. The controller allocates a
/// slot per Pod port and records it in a `DedicatedCLBListener` child it owns.
// clippy takes the repeated `printcolumn(type_ = ...)` for duplicated attributes.
#[allow(clippy::duplicated_attributes)]
#[derive(CustomResource, KubeSchema, Clone, Debug, PartialEq, Serialize, Deserialize)]
#[kube(
    group = "networking.cloud.tencent.com",
    version = "v1alpha1",
    kind = "DedicatedCLBService",
    namespaced,
    status = "DedicatedCLBServiceStatus",
    derive = "PartialEq",
    shortname = "dcs",
    category = "dedicated-address",
    doc = "Gives every port of the selected Pods its own public address (IP:port) through an address provider",
    printcolumn(name = "Provider", type_ = "string", json_path = ".spec.provider"),
    printcolumn(name = "Bound", type_ = "integer", json_path = ".status.boundPorts"),
    printcolumn(name = "Total", type_ = "integer", json_path = ".status.totalPorts"),
    printcolumn(
        name = "Ready",
        type_ = "string",
        json_path = ".status.conditions[?(@.type==\"Ready\")].status"
    ),
    printcolumn(
        name = "Age",
        type_ = "date",
        json_path = ".metadata.creationTimestamp"
    )
)]
#[serde(rename_all = "camelCase")]
// Cross-field rules; field-level ones sit on the fields. `provider` is defaulted before these run.
#[x_kube(
    validation = Rule::new("!has(self.minPort) || !has(self.maxPort) || self.minPort <= self.maxPort")
        .message("minPort must not be greater than maxPort"),
    validation = Rule::new("has(self.minPort) == has(self.maxPort)")
        .message("minPort and maxPort must be set together"),
    validation = Rule::new("self.provider != 'clb' || has(self.minPort)")
        .message("minPort and maxPort are required for provider clb"),
    validation = Rule::new("self.provider != 'eip' || !has(self.minPort)")
        .message("provider eip gives every Pod its own address, reached at targetPort: minPort and maxPort do not apply"),
    validation = Rule::new("self.provider == 'clb' || !has(self.existedLbIds)")
        .message("existedLbIds applies to provider clb only"),
    validation = Rule::new("self.provider == 'clb' || !has(self.extensiveParameters)")
        .message("extensiveParameters applies to provider clb only"),
    validation = Rule::new("self.provider == 'natgw' || !has(self.natGatewayIds)")
        .message("natGatewayIds applies to provider natgw only"),
    validation = Rule::new("self.provider == 'eip' || !has(self.eip)")
        .message("eip applies to provider eip only"),
    validation = Rule::new("!(self.provider in ['natgw', 'eip']) || !has(self.listenerConfig)")
        .message("listenerConfig configures CLB listeners; it does not apply to providers natgw and eip")
)]
pub struct DedicatedCLBServiceSpec {
    /// The address provider: `clb` (default; a CLB listener per Pod port), `natgw` (a NAT
    /// gateway DNAT rule per Pod port), `eip` (an EIP per Pod), or the name of a custom provider
    /// built into the controller. It must be enabled in the controller's config.
    #[serde(default = "default_provider")]
    #[schemars(
        length(min = 1, max = 63),
        regex(pattern = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
    )]
    pub provider: String,

    /// Region of the CLBs / NAT gateways; default the cluster's region.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1))]
    pub lb_region: Option<String>,

    /// Lowest public port to allocate (clb: required; natgw: narrows each gateway's range).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "super::port_schema")]
    pub min_port: Option<u16>,

    /// Highest public port to allocate, inclusive.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "super::port_schema")]
    pub max_port: Option<u16>,

    /// Labels of the Pods, in this namespace, that get addresses. Keys and values must be
    /// label syntax (so no value can smuggle extra terms into the selector).
    #[schemars(schema_with = "super::label_selector_schema")]
    pub selector: BTreeMap<String, String>,

    /// The Pod ports that get an address each; (protocol, targetPort) is unique.
    #[schemars(length(min = 1, max = 64))]
    #[x_kube(
        merge_strategy = ListMerge::Map(vec!["protocol".into(), "targetPort".into()]),
        validation = Rule::new("self.all(p, !has(p.addressPodAnnotation) || self.filter(q, has(q.addressPodAnnotation) && q.addressPodAnnotation == p.addressPodAnnotation).size() == 1)")
            .message("each addressPodAnnotation may be named by one port only")
    )]
    pub ports: Vec<ServicePort>,

    /// clb: the CLB instances to create listeners on. Auto-creating CLBs (when empty or full)
    /// is what `extensiveParameters` is for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 100), inner(length(min = 1)))]
    pub existed_lb_ids: Option<Vec<String>>,

    /// clb: CreateLoadBalancer parameters (JSON) for CLBs the controller creates itself. Not
    /// implemented yet; accepted so that seed 000's YAML applies.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extensive_parameters: Option<String>,

    /// Name of a `CLBListenerConfig` in this namespace with the listeners' settings; passed on
    /// to every child.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 253))]
    pub listener_config: Option<String>,

    /// natgw: the NAT gateways (a subset of the controller's configured ones) to place rules on;
    /// default all configured gateways.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 100), inner(length(min = 1)))]
    pub nat_gateway_ids: Option<Vec<String>>,

    /// eip: per-resource EIP options, overriding the controller's config.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub eip: Option<EipOptions>,
}

/// One container port of the selected Pods.
#[derive(KubeSchema, Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ServicePort {
    /// Protocol of the public port (and of the container port).
    pub protocol: Protocol,

    /// The port the container listens on.
    #[schemars(schema_with = "super::port_schema")]
    pub target_port: u16,

    /// A Pod annotation the controller writes the public `IP:port` into once it is bound.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(
        length(min = 1, max = 317),
        regex(
            pattern = r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$"
        )
    )]
    pub address_pod_annotation: Option<String>,
}

/// Per-resource options of the `eip` provider.
#[derive(KubeSchema, Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EipOptions {
    /// What happens to a Pod's EIP when the Pod goes; default the controller's config.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retention: Option<EipRetention>,
}

/// What happens to a Pod's EIP when the Pod goes away.
#[derive(KubeSchema, Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[x_kube(
    validation = Rule::new("self.policy == 'KeepFor' ? has(self.duration) : !has(self.duration)")
        .message("duration is required with policy KeepFor and applies to it only")
)]
pub struct EipRetention {
    pub policy: EipRetentionPolicy,
    /// With `KeepFor`: how long, e.g. `90s`, `30m`, `12h`, `7d`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^[0-9]+(s|m|h|d)$"))]
    pub duration: Option<String>,
}

/// See [`EipRetention`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum EipRetentionPolicy {
    /// Disassociate and release it (back to the warm pool, if there is room).
    Release,
    /// Keep it for the Pod's name for `duration`, so that a Pod recreated in time gets it back.
    KeepFor,
    /// Keep it while a Pod of that name is expected (a StatefulSet ordinal below its replicas).
    KeepWhileNameExists,
}

/// What the controller last saw and did.
#[derive(KubeSchema, Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DedicatedCLBServiceStatus {
    /// `Ready` (every Pod port bound) and the problems in the way, e.g. `ProviderNotEnabled`,
    /// `PortsExhausted`, `LoadBalancerNotFound`, as the reason of a `False` condition.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[x_kube(merge_strategy = ListMerge::Map(vec!["type".into()]))]
    pub conditions: Vec<Condition>,

    /// The `metadata.generation` this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,

    /// Pod ports whose address is bound.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bound_ports: Option<i32>,

    /// Pod ports the selector and `ports` ask for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total_ports: Option<i32>,
}
