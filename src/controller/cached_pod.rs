//! A Pod as the watch cache holds it: only what the controller reads.
//!
//! Why a type of its own rather than a trimmed `Pod`: `k8s_openapi`'s `Pod` is about 2 KiB
//! before it holds anything (every field of `PodSpec` and `PodStatus` is inline), and a
//! cluster of 10,000 Pods the controller mostly does not select kept ~4.4 KiB per Pod. This
//! one is deserialized straight from the watch, so the fields it lacks are never even built.
use k8s_openapi::api::core::v1::{PodCondition, PodReadinessGate};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_openapi::{Metadata, NamespaceResourceScope, Resource};
use serde::{Deserialize, Serialize};

/// An annotation that can be large and that nothing here reads.
const LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";

/// Metadata (labels, owners, annotations), the readiness gates, and the phase, IP and
/// readiness-gate conditions.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
pub struct CachedPod {
    pub metadata: ObjectMeta,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spec: Option<CachedPodSpec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<CachedPodStatus>,
}

#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CachedPodSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub readiness_gates: Option<Vec<PodReadinessGate>>,
}

#[derive(Clone, Debug, Default, Deserialize, Serialize)]
pub struct CachedPodStatus {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<String>,
    #[serde(default, rename = "podIP", skip_serializing_if = "Option::is_none")]
    pub pod_ip: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conditions: Option<Vec<PodCondition>>,
}

impl Resource for CachedPod {
    const API_VERSION: &'static str = "v1";
    const GROUP: &'static str = "";
    const KIND: &'static str = "Pod";
    const VERSION: &'static str = "v1";
    const URL_PATH_SEGMENT: &'static str = "pods";
    type Scope = NamespaceResourceScope;
}

impl Metadata for CachedPod {
    type Ty = ObjectMeta;

    fn metadata(&self) -> &ObjectMeta {
        &self.metadata
    }

    fn metadata_mut(&mut self) -> &mut ObjectMeta {
        &mut self.metadata
    }
}

impl CachedPod {
    /// Drops, after reading, what the watch must send but nothing here reads: managed fields,
    /// kubectl's last-applied copy, readiness gates and conditions of other types than the
    /// ones declared as gates (Kubernetes' own five conditions are most of a Pod's status).
    pub fn trim(&mut self) {
        self.metadata.managed_fields = None;
        if let Some(annotations) = self.metadata.annotations.as_mut() {
            annotations.remove(LAST_APPLIED);
        }
        let gates: Vec<&str> = self
            .spec
            .as_ref()
            .and_then(|spec| spec.readiness_gates.as_deref())
            .unwrap_or_default()
            .iter()
            .map(|gate| gate.condition_type.as_str())
            .collect();
        if let Some(conditions) = self.status.as_mut().and_then(|s| s.conditions.as_mut()) {
            conditions.retain(|c| gates.contains(&c.type_.as_str()));
            conditions.shrink_to_fit();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const GATE: &str = "networking.cloud.tencent.com/address-ready";

    #[test]
    fn a_cached_pod_keeps_what_the_controller_reads() {
        let mut pod: CachedPod = serde_json::from_value(json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {
                "name": "gs-0", "namespace": "games", "labels": {"app": "gs"},
                "annotations": {LAST_APPLIED: "{...}", "networking.cloud.tencent.com/clb-port-mapping": "80 TCP pool"},
                "managedFields": [{"manager": "kubectl"}],
                "ownerReferences": [{"apiVersion": "apps/v1", "kind": "StatefulSet", "name": "gs", "uid": "u", "controller": true}],
            },
            "spec": {
                "nodeName": "node-1",
                "readinessGates": [{"conditionType": GATE}],
                "containers": [{"name": "server", "image": "gameserver:latest"}],
            },
            "status": {"phase": "Running", "podIP": "10.0.0.5", "hostIP": "192.168.0.1",
                       "conditions": [{"type": "Ready", "status": "False"}, {"type": GATE, "status": "True"}],
                       "containerStatuses": [{"name": "server", "image": "x", "imageID": "y", "ready": true, "restartCount": 0}]},
        }))
        .unwrap();
        pod.trim();
        let cached = serde_json::to_value(&pod).unwrap();
        assert_eq!(
            cached,
            json!({
                "metadata": {
                    "name": "gs-0", "namespace": "games", "labels": {"app": "gs"},
                    "annotations": {"networking.cloud.tencent.com/clb-port-mapping": "80 TCP pool"},
                    "ownerReferences": [{"apiVersion": "apps/v1", "kind": "StatefulSet", "name": "gs", "uid": "u", "controller": true}],
                },
                "spec": {"readinessGates": [{"conditionType": GATE}]},
                "status": {"phase": "Running", "podIP": "10.0.0.5",
                           "conditions": [{"type": GATE, "status": "True"}]},
            })
        );
    }

    #[test]
    fn a_cached_pod_is_a_fraction_of_a_pod() {
        // What every Pod in the cluster costs before it holds anything.
        let (cached, full) = (
            std::mem::size_of::<CachedPod>(),
            std::mem::size_of::<k8s_openapi::api::core::v1::Pod>(),
        );
        assert!(cached * 3 < full, "{cached} B against {full} B");
    }
}
