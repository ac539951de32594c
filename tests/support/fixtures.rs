//! Objects the end-to-end tests create, as the API server takes them.
use dedicated_address_controller::crd::DedicatedCLBService;
use serde_json::{Value, json};

/// kwok's nodes carry this taint; test Pods tolerate it.
pub fn kwok_toleration() -> Value {
    json!([{ "key": "kwok.x-k8s.io/node", "operator": "Exists", "effect": "NoSchedule" }])
}

/// An `apps/v1` StatefulSet whose Pods are labelled `app: <name>`.
pub fn statefulset(namespace: &str, name: &str, replicas: i32) -> Value {
    json!({
        "apiVersion": "apps/v1", "kind": "StatefulSet",
        "metadata": { "name": name, "namespace": namespace },
        "spec": {
            "replicas": replicas, "serviceName": name,
            "selector": { "matchLabels": { "app": name } },
            "template": {
                "metadata": { "labels": { "app": name } },
                "spec": {
                    "tolerations": kwok_toleration(),
                    "containers": [{ "name": "server", "image": "gameserver:latest" }]
                }
            }
        }
    })
}

/// A `DedicatedCLBService` with `spec` as given.
pub fn service(namespace: &str, name: &str, spec: Value) -> DedicatedCLBService {
    serde_json::from_value(json!({
        "apiVersion": "networking.cloud.tencent.com/v1alpha1", "kind": "DedicatedCLBService",
        "metadata": { "name": name, "namespace": namespace },
        "spec": spec,
    }))
    .expect("a DedicatedCLBService")
}

/// TCP 9000 and UDP 8000, as seed 000's example.
pub fn ports() -> Value {
    json!([{ "protocol": "TCP", "targetPort": 9000 }, { "protocol": "UDP", "targetPort": 8000 }])
}
