//! The custom resources, group `networking.cloud.tencent.com`, version `v1alpha1`.
//!
//! Seed 000's kinds are the API for every provider; `spec.provider` (default `clb`) picks who
//! makes the addresses:
//!
//! - [`DedicatedCLBService`]: selects Pods and names their ports; the controller allocates a slot
//!   per Pod port and creates one [`DedicatedCLBListener`] child for it.
//! - [`DedicatedCLBListener`]: one Pod port's public address. For `clb` a listener (lbId, lbPort,
//!   protocol) whose only target is PodIP:targetPort; for `natgw` a DNAT rule (gateway `lbId`,
//!   `publicIp`, `lbPort`, protocol) -> PodIP:targetPort; for `eip` the Pod's own EIP, reached at
//!   EIP:targetPort (one EIP per Pod, shared by the Pod's children).
//! - [`CLBListenerConfig`]: CreateListener settings (health check, scheduler, session
//!   persistence) that a service or a listener names in `listenerConfig`.
//!
//! Beside them, the pool API of tke-extend-network-controller v2.x (same field names and
//! annotation keys), served by the same engine:
//!
//! - [`CLBPortPool`]: a cluster-wide pool of public ports on CLBs (or, ours, NAT gateways).
//! - [`CLBPodBinding`]: one annotated Pod's ports and the slots they got; see
//!   [`crate::port_mapping`] for the annotations.
//!
//! All of them are in the `dedicated-address` category: `kubectl get dedicated-address`.
//! `deploy/crds/crds.yaml` is generated from these types by `cargo run --bin crdgen`; a test
//! fails when it drifts.

pub mod condition;
mod listener;
mod listener_config;
mod pod_binding;
mod port_pool;
mod service;

pub use listener::{
    BackendPod, DedicatedCLBListener, DedicatedCLBListenerSpec, DedicatedCLBListenerStatus,
    ListenerState,
};
pub use listener_config::{
    CLBListenerConfig, CLBListenerConfigSpec, HealthCheck, HealthCheckType, HttpCheckMethod,
    HttpVersion, ProbeContextType, Scheduler, SessionType,
};
pub use pod_binding::{
    BindingPort, BindingProtocol, BindingState, CLBPodBinding, CLBPodBindingSpec,
    CLBPodBindingStatus, PortBinding, UnknownProtocol, sort_port_bindings,
};
pub use port_pool::{
    AddressIpVersion, AutoCreate, BandwidthPkgSubType, CLBPortPool, CLBPortPoolSpec,
    CLBPortPoolStatus, CreateLbParameters, InternetAccessible, InternetChargeType, LbChargeType,
    LbPolicy, LbTag, ListenerPrecreate, LoadBalancerState, LoadBalancerType,
    PoolLoadBalancerStatus, PoolState, SlaType, VipIsp,
};
pub use service::{
    DedicatedCLBService, DedicatedCLBServiceSpec, DedicatedCLBServiceStatus, EipOptions,
    EipRetention, EipRetentionPolicy, ServicePort,
};

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::CustomResourceExt;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The API group of every kind here.
pub const GROUP: &str = "networking.cloud.tencent.com";
/// The only version so far.
pub const VERSION: &str = "v1alpha1";
/// `kubectl get dedicated-address` lists all kinds.
pub const CATEGORY: &str = "dedicated-address";
/// The provider a resource gets when it names none: seed 000's CLB listeners.
pub const DEFAULT_PROVIDER: &str = "clb";

/// Transport protocol of a Pod port and of its public port.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
pub enum Protocol {
    #[serde(rename = "TCP")]
    Tcp,
    #[serde(rename = "UDP")]
    Udp,
}

impl Protocol {
    /// The spelling the CRDs and the cloud APIs use.
    pub fn as_str(self) -> &'static str {
        dac_provider_api::Protocol::from(self).as_str()
    }
}

impl std::fmt::Display for Protocol {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl From<Protocol> for dac_provider_api::Protocol {
    fn from(protocol: Protocol) -> Self {
        match protocol {
            Protocol::Tcp => Self::Tcp,
            Protocol::Udp => Self::Udp,
        }
    }
}

impl From<dac_provider_api::Protocol> for Protocol {
    fn from(protocol: dac_provider_api::Protocol) -> Self {
        match protocol {
            dac_provider_api::Protocol::Tcp => Self::Tcp,
            dac_provider_api::Protocol::Udp => Self::Udp,
        }
    }
}

/// Ports are `u16` in Rust but `int32` in the schema: Kubernetes knows no `uint16` format, and a
/// port is 1-65535, never 0.
fn port_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({
        "type": "integer",
        "format": "int32",
        "minimum": 1,
        "maximum": 65535,
    })
}

/// A `matchLabels`-style map: 1-32 entries, keys and values in label syntax, checked by the API
/// server (CEL: structural schemas cannot constrain map keys).
fn label_selector_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({
        "type": "object",
        "minProperties": 1,
        "maxProperties": 32,
        "additionalProperties": {
            "type": "string",
            "maxLength": 63,
        },
        "x-kubernetes-validations": [
            {
                "rule": LABEL_KEYS_RULE,
                "message": "selector keys must be label keys: an optional DNS-subdomain prefix and '/', then 1-63 of [A-Za-z0-9-_.] starting and ending alphanumeric",
            },
            {
                "rule": LABEL_VALUES_RULE,
                "message": "selector values must be label values: empty, or 1-63 of [A-Za-z0-9-_.] starting and ending alphanumeric",
            },
        ],
    })
}

/// Every key of the map is a label key.
const LABEL_KEYS_RULE: &str = r"self.all(k, size(k) <= 317 && k.matches('^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$'))";
/// Every value of the map is a label value.
const LABEL_VALUES_RULE: &str =
    r"self.all(k, self[k].matches('^(([A-Za-z0-9][-A-Za-z0-9_.]{0,61})?[A-Za-z0-9])?$'))";

fn default_provider() -> String {
    DEFAULT_PROVIDER.to_string()
}

/// The seed API's CRDs, in the order `deploy/crds/crds.yaml` lists them first.
pub fn all() -> Vec<CustomResourceDefinition> {
    vec![
        DedicatedCLBService::crd(),
        DedicatedCLBListener::crd(),
        CLBListenerConfig::crd(),
        CLBPortPool::crd(),
        CLBPodBinding::crd(),
    ]
}

/// Every CRD as one multi-document YAML stream: what `crdgen` prints and `deploy/crds/crds.yaml`
/// holds.
pub fn to_yaml() -> Result<String, serde_saphyr::SerializeError> {
    let mut out = String::from(
        "# Generated by `cargo run --bin crdgen > deploy/crds/crds.yaml` from src/crd. Do not edit.\n",
    );
    for crd in all() {
        out.push_str("---\n");
        out.push_str(&serde_saphyr::to_string(&crd)?);
    }
    Ok(out)
}

#[cfg(test)]
mod pool_tests;
#[cfg(test)]
mod tests;
