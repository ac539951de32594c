//! `CLBPodBinding`: the pool API's record of one annotated Pod. The controller creates it (same
//! name and namespace as the Pod) from the Pod's `clb-port-mapping` annotation, allocates a slot
//! per (port, protocol, pool) from the named `CLBPortPool`s, and records every slot in
//! `status.portBindings`.
//!
//! The JSON names, the required lists and the state values are those of
//! tke-extend-network-controller v2.5.2, so bindings written by that controller read back through
//! these types unchanged. `conditions`, `observedGeneration` and `portBindings[].publicIp` are
//! ours.
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The ports one Pod asks for, and the slots it got.
// clippy takes the repeated `printcolumn(type_ = ...)` for duplicated attributes.
#[allow(clippy::duplicated_attributes)]
#[derive(CustomResource, KubeSchema, Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[kube(
    group = "networking.cloud.tencent.com",
    version = "v1alpha1",
    kind = "CLBPodBinding",
    namespaced,
    status = "CLBPodBindingStatus",
    derive = "PartialEq",
    shortname = "cpb",
    category = "dedicated-address",
    doc = "The public ports one Pod gets from CLBPortPools, named by its clb-port-mapping annotation",
    printcolumn(
        name = "State",
        type_ = "string",
        description = "State",
        json_path = ".status.state"
    ),
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
pub struct CLBPodBindingSpec {
    /// `true` isolates the Pod: its targets are taken off every address, while the slots (and
    /// the listeners or rules) stay reserved for it. The Pod's `enable-clb-port-mapping: "false"`
    /// sets it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disabled: Option<bool>,

    /// One entry per line of the Pod's `clb-port-mapping` annotation.
    pub ports: Vec<BindingPort>,
}

impl CLBPodBindingSpec {
    /// Whether the Pod is isolated (`disabled: true`).
    pub fn is_disabled(&self) -> bool {
        self.disabled == Some(true)
    }
}

/// A Pod port that wants a public port from each of `pools`.
#[derive(KubeSchema, Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BindingPort {
    /// The port the container listens on.
    #[schemars(schema_with = "super::port_schema")]
    pub port: u16,

    /// `TCPUDP` asks for a TCP and a UDP slot; `TCP_SSL` and `QUIC` terminate TLS on the CLB
    /// with `certSecretName`'s certificate (not supported by the engine yet).
    pub protocol: BindingProtocol,

    /// Names of `CLBPortPool`s; the Pod gets one public port from each.
    pub pools: Vec<String>,

    /// With several pools: take the same public port number in all of them (e.g. one port on
    /// every ISP's address).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub use_same_port_across_pools: Option<bool>,

    /// `TCP_SSL`/`QUIC`: a Secret in the binding's namespace whose `qcloud_cert_id` key holds
    /// the id of a certificate uploaded to Tencent Cloud.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cert_secret_name: Option<String>,
}

impl BindingPort {
    /// Whether `useSamePortAcrossPools: true`.
    pub fn same_port_across_pools(&self) -> bool {
        self.use_same_port_across_pools == Some(true)
    }
}

/// The protocol of a binding's port, as the pool API spells it.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
pub enum BindingProtocol {
    #[serde(rename = "TCP")]
    Tcp,
    #[serde(rename = "UDP")]
    Udp,
    /// Both TCP and UDP: two slots, recorded as a `TCP` and a `UDP` port binding.
    #[serde(rename = "TCPUDP")]
    TcpUdp,
    /// TCP with TLS terminated on the CLB (a TCP slot).
    #[serde(rename = "TCP_SSL")]
    TcpSsl,
    /// QUIC with TLS terminated on the CLB (a UDP slot).
    #[serde(rename = "QUIC")]
    Quic,
}

impl BindingProtocol {
    /// Every spelling, in the order the schema lists them.
    pub const ALL: [BindingProtocol; 5] =
        [Self::Tcp, Self::Udp, Self::TcpUdp, Self::TcpSsl, Self::Quic];

    /// The spelling in the CRDs and annotations.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Tcp => "TCP",
            Self::Udp => "UDP",
            Self::TcpUdp => "TCPUDP",
            Self::TcpSsl => "TCP_SSL",
            Self::Quic => "QUIC",
        }
    }

    /// The protocols of the port bindings this asks for: `TCPUDP` is two (`TCP`, `UDP`),
    /// everything else itself.
    pub fn split(self) -> &'static [BindingProtocol] {
        match self {
            Self::Tcp => &[Self::Tcp],
            Self::Udp => &[Self::Udp],
            Self::TcpUdp => &[Self::Tcp, Self::Udp],
            Self::TcpSsl => &[Self::TcpSsl],
            Self::Quic => &[Self::Quic],
        }
    }

    /// The transport protocol a slot of this protocol occupies (`TCP_SSL` is TCP, `QUIC` is
    /// UDP); `None` for `TCPUDP`, which occupies one of each (see [`Self::split`]).
    pub fn transport(self) -> Option<super::Protocol> {
        match self {
            Self::Tcp | Self::TcpSsl => Some(super::Protocol::Tcp),
            Self::Udp | Self::Quic => Some(super::Protocol::Udp),
            Self::TcpUdp => None,
        }
    }

    /// Whether the CLB terminates TLS, so the port needs a certificate.
    pub fn needs_certificate(self) -> bool {
        matches!(self, Self::TcpSsl | Self::Quic)
    }
}

impl std::fmt::Display for BindingProtocol {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for BindingProtocol {
    type Err = UnknownProtocol;

    /// Exact spelling only: `tcp` is not `TCP`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|p| p.as_str() == s)
            .ok_or_else(|| UnknownProtocol(s.to_string()))
    }
}

/// A protocol spelling outside `TCP`, `UDP`, `TCPUDP`, `TCP_SSL`, `QUIC`.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown protocol {0:?}: expected one of TCP, UDP, TCPUDP, TCP_SSL, QUIC")]
pub struct UnknownProtocol(pub String);

/// A string-valued state whose schema is a plain string: the known values are variants, and a
/// value this version does not know (written by another controller, or a newer one) is kept
/// verbatim in `Other` rather than failing the whole object's deserialization.
macro_rules! open_string_enum {
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident {
            $( $(#[$variant_meta:meta])* $variant:ident = $text:literal, )*
        }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Debug, PartialEq, Eq, Hash)]
        $vis enum $name {
            $( $(#[$variant_meta])* $variant, )*
            /// A value not listed above, kept as written.
            Other(String),
        }

        impl $name {
            /// The value as written in the object.
            pub fn as_str(&self) -> &str {
                match self {
                    $( Self::$variant => $text, )*
                    Self::Other(text) => text,
                }
            }
        }

        impl From<&str> for $name {
            fn from(text: &str) -> Self {
                match text {
                    $( $text => Self::$variant, )*
                    other => Self::Other(other.to_string()),
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
                Ok(Self::from(text.as_ref()))
            }
        }

        impl schemars::JsonSchema for $name {
            fn inline_schema() -> bool {
                true
            }

            fn schema_name() -> std::borrow::Cow<'static, str> {
                stringify!($name).into()
            }

            fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
                schemars::json_schema!({ "type": "string" })
            }
        }
    };
}
pub(crate) use open_string_enum;

open_string_enum! {
    /// Where a binding is. The schema takes any string, as upstream's does; these are the values
    /// the pool API uses.
    #[derive(Default)]
    pub enum BindingState {
        /// Not looked at yet, or waiting for something not covered below.
        #[default]
        Pending = "Pending",
        /// Every wanted slot is reserved; the addresses are being made.
        Allocated = "Allocated",
        /// Every address exists and forwards to the Pod; the result annotation is written.
        Bound = "Bound",
        /// The Pod is gone (a retained binding waits for a Pod of the same name).
        NoBackend = "NoBackend",
        /// The Pod exists but is not scheduled or has no IP yet.
        WaitBackend = "WaitBackend",
        /// `spec.disabled`: the slots are kept, the Pod is taken off them.
        Disabled = "Disabled",
        /// A cloud or provider error; `message` says which.
        Failed = "Failed",
        /// A pool named in `spec.ports` does not exist.
        PortPoolNotFound = "PortPoolNotFound",
        /// A pool has no free slot left for a port.
        NoPortAvailable = "NoPortAvailable",
        /// A pool exists but is not `Active`.
        PortPoolNotAllocatable = "PortPoolNotAllocatable",
        /// The binding is being deleted and its addresses released.
        Deleting = "Deleting",
    }
}

/// What the controller last saw and did.
#[derive(KubeSchema, Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CLBPodBindingStatus {
    /// Where the binding is: `Pending` until the controller has looked, then `Allocated`,
    /// `Bound`, `NoBackend`, `WaitBackend`, `Disabled`, `Failed`, `PortPoolNotFound`,
    /// `NoPortAvailable`, `PortPoolNotAllocatable` or `Deleting`.
    #[serde(default)]
    pub state: BindingState,

    /// Why the state is what it is, when that needs words (e.g. the cloud's error).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,

    /// The slots: one per (port, concrete protocol, pool); `TCPUDP` ports have a `TCP` and a
    /// `UDP` entry.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub port_bindings: Vec<PortBinding>,

    /// `Ready` (every wanted port bound) and, when `False`, why: a reason per problem, including
    /// annotation lines that could not be parsed. Ours; upstream has none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[x_kube(merge_strategy = ListMerge::Map(vec!["type".into()]))]
    pub conditions: Vec<Condition>,

    /// The `metadata.generation` this status describes. Ours.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
}

/// One slot of a binding: a public port on one frontend of one pool, for one Pod port and
/// protocol.
#[derive(KubeSchema, Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PortBinding {
    /// The container port.
    #[schemars(schema_with = "super::port_schema")]
    pub port: u16,

    /// The slot's protocol: never `TCPUDP`.
    pub protocol: BindingProtocol,

    /// `TCP_SSL`/`QUIC`: the certificate id the listener uses.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cert_id: Option<String>,

    /// The `CLBPortPool` the slot came from.
    pub pool: String,

    /// The region of the frontend.
    pub region: String,

    /// The frontend: a CLB instance id, or for `provider: natgw` pools a NAT gateway id.
    /// (Lowercase `d`, unlike the pool status's `loadbalancerID`.)
    pub loadbalancer_id: String,

    /// The public port: the listener's port, or the DNAT rule's public port.
    #[schemars(schema_with = "super::port_schema")]
    pub loadbalancer_port: u16,

    /// The last public port of a port-range listener (pools with `segmentLength` > 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "super::port_schema")]
    pub loadbalancer_end_port: Option<u16>,

    /// The listener id (clb) or DNAT rule key (natgw); empty until it exists.
    pub listener_id: String,

    /// `IPV4`, `IPV6` or `IPv6FullChain`, as the frontend reports it.
    #[serde(
        default,
        rename = "addressIPVersion",
        skip_serializing_if = "Option::is_none"
    )]
    pub address_ip_version: Option<String>,

    /// `provider: natgw` pools: the gateway EIP this slot is on (a gateway may have several).
    /// Ours; never set for CLB slots.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public_ip: Option<String>,
}

impl PortBinding {
    /// The last container port a port-range slot covers: `port` plus the range's width;
    /// `None` for single-port slots (no `loadbalancerEndPort`, or 0).
    pub fn end_port(&self) -> Option<u16> {
        let end = self.loadbalancer_end_port.filter(|end| *end != 0)?;
        let width = end.checked_sub(self.loadbalancer_port)?;
        self.port.checked_add(width)
    }

    /// The order `status.portBindings` (and so the result annotation) is kept in: pool,
    /// frontend, public port, container port, protocol, listener id, cert id, end port, region.
    pub fn sort_key(&self) -> impl Ord + '_ {
        (
            (
                self.pool.as_str(),
                self.loadbalancer_id.as_str(),
                self.loadbalancer_port,
                self.port,
                self.protocol.as_str(),
            ),
            (
                self.listener_id.as_str(),
                self.cert_id.as_deref(),
                self.loadbalancer_end_port,
                self.region.as_str(),
            ),
        )
    }
}

/// Sorts port bindings into the order the status and the result annotation use
/// ([`PortBinding::sort_key`]).
pub fn sort_port_bindings(bindings: &mut [PortBinding]) {
    bindings.sort_by(|a, b| a.sort_key().cmp(&b.sort_key()));
}
