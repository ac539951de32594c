//! `CLBPortPool`: a cluster-wide pool of public ports that Pods ask for by name in their
//! `clb-port-mapping` annotation.
//!
//! The spec and status carry tke-extend-network-controller v2.5.2's JSON names (the
//! `exsistedLoadBalancerIDs` spelling included), required lists, enums and immutability rules, so
//! its YAML applies unchanged; its admission webhook's checks are CEL rules here. Ours on top:
//!
//! - `provider` (default `clb`): who makes the addresses. `clb` pools hand out CLB listeners;
//!   `natgw` pools hand out DNAT rules on NAT gateways (`natGatewayIds`), the gateway standing
//!   where a CLB would. `eip` gives each Pod a whole address, not ports, so it is refused.
//! - CEL rules refusing fields that mean nothing to the pool's provider.
//! - `status.conditions` and `status.observedGeneration`.
//!
//! What a field means for a `natgw` pool:
//!
//! | field | natgw |
//! |---|---|
//! | `startPort`, `endPort` | public port range of the DNAT rules on every gateway |
//! | `listenerQuota` | DNAT rules this pool may place on one gateway |
//! | `region` | region of the gateways |
//! | `lbPolicy` | order in which the gateways are tried |
//! | `lbBlacklist` | gateway ids that get no new slots |
//! | `exsistedLoadBalancerIDs`, `autoCreate`, `listenerPrecreate` | refused (CLB only) |
//! | `segmentLength` > 1 | refused (a DNAT rule maps one port) |
use super::{default_provider, pod_binding::open_string_enum};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A pool of public ports on a set of CLBs (or NAT gateways) that Pods draw from.
// clippy takes the repeated `printcolumn(type_ = ...)` for duplicated attributes.
#[allow(clippy::duplicated_attributes)]
#[derive(CustomResource, KubeSchema, Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[kube(
    group = "networking.cloud.tencent.com",
    version = "v1alpha1",
    kind = "CLBPortPool",
    status = "CLBPortPoolStatus",
    derive = "PartialEq",
    shortname = "cpp",
    category = "dedicated-address",
    doc = "A cluster-wide pool of public ports on CLBs (or NAT gateways) that annotated Pods draw from",
    printcolumn(
        name = "State",
        type_ = "string",
        description = "State",
        json_path = ".status.state"
    ),
    printcolumn(name = "Provider", type_ = "string", json_path = ".spec.provider"),
    printcolumn(name = "Quota", type_ = "integer", json_path = ".status.quota"),
    printcolumn(
        name = "Age",
        type_ = "date",
        json_path = ".metadata.creationTimestamp"
    )
)]
#[serde(rename_all = "camelCase")]
// Upstream's admission checks, then ours. `provider` is defaulted before these run; `startPort`
// 0 is refused by the schema's minimum.
#[x_kube(
    validation = Rule::new("self.provider != 'clb' || (has(self.exsistedLoadBalancerIDs) && size(self.exsistedLoadBalancerIDs) > 0) || (has(self.autoCreate) && self.autoCreate.enabled)")
        .message("a clb pool needs CLBs: list exsistedLoadBalancerIDs or set autoCreate.enabled to true"),
    validation = Rule::new("!has(self.endPort) || self.endPort > self.startPort")
        .message("endPort must be greater than startPort"),
    validation = Rule::new("!has(self.endPort) || !has(self.listenerQuota)")
        .message("endPort and listenerQuota cannot be set together"),
    validation = Rule::new("!has(self.listenerQuota) || !has(self.autoCreate) || !self.autoCreate.enabled")
        .message("listenerQuota cannot be set while autoCreate is enabled"),
    validation = Rule::new("self.provider != 'eip'")
        .message("provider eip gives each Pod its own address, not ports from a pool: use a DedicatedCLBService with provider eip"),
    validation = Rule::new("self.provider == 'clb' || !has(self.exsistedLoadBalancerIDs)")
        .message("exsistedLoadBalancerIDs applies to provider clb only"),
    validation = Rule::new("self.provider == 'clb' || !has(self.autoCreate)")
        .message("autoCreate applies to provider clb only"),
    validation = Rule::new("self.provider == 'clb' || !has(self.listenerPrecreate)")
        .message("listenerPrecreate applies to provider clb only"),
    validation = Rule::new("self.provider != 'natgw' || !has(self.segmentLength) || self.segmentLength <= 1")
        .message("provider natgw maps single ports: segmentLength above 1 does not apply"),
    validation = Rule::new("self.provider == 'natgw' || !has(self.natGatewayIds)")
        .message("natGatewayIds applies to provider natgw only")
)]
pub struct CLBPortPoolSpec {
    /// Ours. The address provider: `clb` (default; CLB listeners) or `natgw` (DNAT rules on NAT
    /// gateways), or a custom provider built into the controller. It must be enabled in the
    /// controller's config. `eip` is refused: it has no ports to pool.
    #[serde(default = "default_provider")]
    #[schemars(
        length(min = 1, max = 63),
        regex(pattern = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
    )]
    pub provider: String,

    /// First public port to hand out. Immutable.
    #[schemars(schema_with = "super::port_schema")]
    #[x_kube(validation = Rule::new("self == oldSelf").message("Value is immutable"))]
    pub start_port: u16,

    /// Last public port to hand out, inclusive; 65535 when unset. Immutable once set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "super::port_schema")]
    #[x_kube(validation = Rule::new("self == oldSelf").message("Value is immutable"))]
    pub end_port: Option<u16>,

    /// Slots one frontend may carry (clb: listeners per CLB; natgw: DNAT rules per gateway),
    /// instead of the account's quota. Not together with `endPort`, nor with `autoCreate`.
    /// Immutable once set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "uint16_schema")]
    #[x_kube(validation = Rule::new("self == oldSelf").message("Value is immutable"))]
    pub listener_quota: Option<u16>,

    /// clb: create this many TCP / UDP listeners on every CLB up front, and let Pods only reuse
    /// them. Accepted so that upstream YAML applies, but the engine does not do it yet: the
    /// controller reports such a pool as unsupported in its status. Immutable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub listener_precreate: Option<ListenerPrecreate>,

    /// Width of each slot: above 1 every slot is a port-range listener of this many ports.
    /// Accepted so that upstream YAML applies; the engine supports only single ports (unset, 0
    /// or 1) yet and reports larger values as unsupported in the pool's status. Immutable once
    /// set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "uint16_schema")]
    #[x_kube(validation = Rule::new("self == oldSelf").message("Value is immutable"))]
    pub segment_length: Option<u16>,

    /// Region of the frontends; the cluster's region when unset or empty. Immutable once set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(validation = Rule::new("self == oldSelf").message("Value is immutable"))]
    pub region: Option<String>,

    /// In which order the frontends are tried for a new slot; `Random` when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lb_policy: Option<LbPolicy>,

    /// Frontend ids (CLB ids; NAT gateway ids for natgw) that get no new slots. Slots already
    /// on them stay. May change at any time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lb_blacklist: Option<Vec<String>>,

    /// clb: ids of existing CLBs the pool uses (the spelling is upstream's). Ids may be added
    /// at any time; removing one takes its CLB out of the pool.
    #[serde(
        default,
        rename = "exsistedLoadBalancerIDs",
        skip_serializing_if = "Option::is_none"
    )]
    pub exsisted_load_balancer_ids: Option<Vec<String>>,

    /// clb: create CLBs when the pool runs out of slots.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auto_create: Option<AutoCreate>,

    /// Ours. natgw: the NAT gateways (a subset of those configured in the controller) this pool
    /// uses; every configured gateway when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 100), inner(length(min = 1)))]
    pub nat_gateway_ids: Option<Vec<String>>,
}

impl CLBPortPoolSpec {
    /// The last port of the range: `endPort`, or 65535.
    pub fn last_port(&self) -> u16 {
        self.end_port.unwrap_or(u16::MAX)
    }

    /// The slot width: `segmentLength`, where unset and 0 mean 1.
    pub fn segment_length(&self) -> u16 {
        self.segment_length.unwrap_or(1).max(1)
    }

    /// The region to use: `region` unless unset or empty.
    pub fn region(&self) -> Option<&str> {
        self.region.as_deref().filter(|r| !r.is_empty())
    }

    /// Whether `autoCreate.enabled` is true.
    pub fn auto_create_enabled(&self) -> bool {
        self.auto_create.as_ref().is_some_and(|a| a.enabled)
    }

    /// Whether `listenerPrecreate.enabled` is true.
    pub fn listener_precreate_enabled(&self) -> bool {
        self.listener_precreate.as_ref().is_some_and(|p| p.enabled)
    }

    /// Whether `id` is in `lbBlacklist`.
    pub fn is_blacklisted(&self, id: &str) -> bool {
        self.lb_blacklist
            .as_ref()
            .is_some_and(|ids| ids.iter().any(|b| b == id))
    }
}

/// Integers that are `uint16` upstream (counts, not ports): 0-65535.
fn uint16_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({
        "type": "integer",
        "minimum": 0,
        "maximum": 65535,
    })
}

/// Counts the controller reports: non-negative integers.
fn count_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({
        "type": "integer",
        "minimum": 0,
    })
}

/// Listeners made on every CLB of the pool up front (not supported by the engine yet).
#[derive(KubeSchema, Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("self == oldSelf").message("Value is immutable"))]
pub struct ListenerPrecreate {
    pub enabled: bool,

    /// TCP listeners per CLB.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "uint16_schema")]
    pub tcp: Option<u16>,

    /// UDP listeners per CLB.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "uint16_schema")]
    pub udp: Option<u16>,
}

/// The order in which a pool's frontends are tried for a new slot.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub enum LbPolicy {
    /// The frontend with the fewest slots first: Pods spread over addresses.
    Uniform,
    /// In the order the frontends joined the pool: each fills before the next is used.
    InOrder,
    /// Any order (the default).
    Random,
}

/// Creating CLBs for the pool when it has no free slot.
#[derive(KubeSchema, Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AutoCreate {
    pub enabled: bool,

    /// At most this many CLBs created for the pool; no limit when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "uint16_schema")]
    pub max_load_balancers: Option<u16>,

    /// CreateLoadBalancer settings for the CLBs it creates.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parameters: Option<CreateLbParameters>,
}

/// Settings of CLBs created for a pool; the names are CreateLoadBalancer's in camelCase. Unset
/// fields take the controller's defaults (an `OPEN` CLB in the cluster's VPC).
#[derive(KubeSchema, Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateLbParameters {
    /// The ISP of a single-line public CLB.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vip_isp: Option<VipIsp>,

    /// A bandwidth package to bill the CLB to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bandwidth_package_id: Option<String>,

    #[serde(
        default,
        rename = "addressIPVersion",
        skip_serializing_if = "Option::is_none"
    )]
    pub address_ip_version: Option<AddressIpVersion>,

    /// Forward to targets without checking security groups.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub load_balancer_pass_to_target: Option<bool>,

    /// Give the CLB a domain name instead of a fixed VIP.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dynamic_vip: Option<bool>,

    /// The VPC; the cluster's when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vpc_id: Option<String>,

    /// A VIP to request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vip: Option<String>,

    /// Tags put on the CLB (besides the controller's own).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tags: Option<Vec<LbTag>>,

    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub project_id: Option<i64>,

    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub load_balancer_name: Option<String>,

    /// `OPEN` (public, the default) or `INTERNAL`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub load_balancer_type: Option<LoadBalancerType>,

    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub master_zone_id: Option<String>,

    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zone_id: Option<String>,

    /// The subnet of an `INTERNAL` CLB.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subnet_id: Option<String>,

    /// The performance (capacity) spec; a shared CLB when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sla_type: Option<SlaType>,

    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lb_charge_type: Option<LbChargeType>,

    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub internet_accessible: Option<InternetAccessible>,
}

/// A cloud tag.
#[derive(KubeSchema, Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LbTag {
    pub tag_key: String,
    pub tag_value: String,
}

/// Network billing of a created CLB.
#[derive(KubeSchema, Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InternetAccessible {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub internet_charge_type: Option<InternetChargeType>,

    /// Outbound bandwidth cap in Mbps.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub internet_max_bandwidth_out: Option<i64>,

    /// The kind of bandwidth package (note the lowercase `pkg`).
    #[serde(
        default,
        rename = "bandwidthpkgSubType",
        skip_serializing_if = "Option::is_none"
    )]
    pub bandwidthpkg_sub_type: Option<BandwidthPkgSubType>,
}

/// ISP of a single-line CLB.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "UPPERCASE")]
pub enum VipIsp {
    Cmcc,
    Cucc,
    Ctcc,
    Bgp,
}

/// IP version of a CLB (the spelling is case-sensitive).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub enum AddressIpVersion {
    #[serde(rename = "IPV4")]
    Ipv4,
    #[serde(rename = "IPV6")]
    Ipv6,
    #[serde(rename = "IPv6FullChain")]
    Ipv6FullChain,
}

/// Public or private CLB.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "UPPERCASE")]
pub enum LoadBalancerType {
    Open,
    Internal,
}

/// Performance spec of a CLB.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub enum SlaType {
    #[serde(rename = "clb.c2.medium")]
    C2Medium,
    #[serde(rename = "clb.c3.small")]
    C3Small,
    #[serde(rename = "clb.c3.medium")]
    C3Medium,
    #[serde(rename = "clb.c4.small")]
    C4Small,
    #[serde(rename = "clb.c4.medium")]
    C4Medium,
    #[serde(rename = "clb.c4.large")]
    C4Large,
    #[serde(rename = "clb.c4.xlarge")]
    C4Xlarge,
}

/// Billing of a CLB instance.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum LbChargeType {
    PostpaidByHour,
    Prepaid,
}

/// Billing of a CLB's traffic.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum InternetChargeType {
    TrafficPostpaidByHour,
    BandwidthPostpaidByHour,
    BandwidthPackage,
    BandwidthPrepaid,
}

/// Kind of bandwidth package.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "UPPERCASE")]
pub enum BandwidthPkgSubType {
    Singleisp,
    Bgp,
}

/// Where a pool is in its life.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub enum PoolState {
    /// Not reconciled yet, or its frontends are not usable.
    #[default]
    Pending,
    /// Its frontends are known and it hands out slots.
    Active,
    /// Declared for compatibility; not set by anyone.
    Scaling,
    /// Being deleted: what it handed out is being released.
    Deleting,
}

/// What the controller last saw and did.
#[derive(KubeSchema, Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CLBPortPoolStatus {
    /// `Pending` until the controller has looked.
    #[serde(default)]
    pub state: PoolState,

    /// Why the state is what it is, when that needs words.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,

    /// Slots one frontend may carry: `listenerQuota`, else the account's listener quota per
    /// CLB (clb) or the gateway's rule limit (natgw).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "count_schema")]
    pub quota: Option<u32>,

    /// The pool's frontends, in the order they joined it.
    #[serde(
        default,
        rename = "loadbalancerStatuses",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub loadbalancer_statuses: Vec<PoolLoadBalancerStatus>,

    /// `Ready` and, when it is `False`, why (e.g. `ProviderNotEnabled`, an unsupported field,
    /// a CLB that does not exist). Ours; upstream has none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[x_kube(merge_strategy = ListMerge::Map(vec!["type".into()]))]
    pub conditions: Vec<Condition>,

    /// The `metadata.generation` this status describes. Ours.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
}

/// One frontend of a pool: a CLB, or for `provider: natgw` a NAT gateway.
#[derive(KubeSchema, Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PoolLoadBalancerStatus {
    /// The CLB was created for the pool (`autoCreate`) rather than listed by the user.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auto_created: Option<bool>,

    /// `Running`, or `NotFound` once the frontend is gone from the cloud (it then gets no new
    /// slots); empty right after the frontend joins.
    pub state: LoadBalancerState,

    /// The CLB (or NAT gateway) id. Capital `ID`, unlike the bindings' `loadbalancerId`.
    #[serde(rename = "loadbalancerID")]
    pub loadbalancer_id: String,

    /// Its name in the cloud.
    pub loadbalancer_name: String,

    /// Its public addresses: the CLB's VIPs (or the EIP bound to it), the gateway's EIPs.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ips: Vec<String>,

    /// The domain name of a CLB with `dynamicVip` (then `ips` is empty).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hostname: Option<String>,

    /// Slots handed out on this frontend.
    #[schemars(schema_with = "count_schema")]
    pub allocated: u32,

    /// `IPV4`, `IPV6` or `IPv6FullChain`, as the cloud reports it.
    #[serde(
        default,
        rename = "addressIPVersion",
        skip_serializing_if = "Option::is_none"
    )]
    pub address_ip_version: Option<String>,
}

open_string_enum! {
    /// Whether a pool's frontend exists in the cloud. The schema takes any string: a frontend
    /// that has just joined has an empty state until it is looked up.
    pub enum LoadBalancerState {
        Running = "Running",
        NotFound = "NotFound",
    }
}
