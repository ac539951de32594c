//! Proves the test ground is a real cluster: controllers, the scheduler and kwok make
//! StatefulSet Pods Running with Pod IPs; CRDs, status subresources and finalizers behave;
//! RBAC is enforced for a ServiceAccount token from the TokenRequest API.
//! Needs `hack/cluster.sh up`; without it every test fails saying so.
#![deny(warnings)]

mod support;

use std::collections::BTreeSet;
use std::net::Ipv4Addr;
use std::time::Duration;

use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::authentication::v1::{SelfSubjectReview, TokenRequest, TokenRequestSpec};
use k8s_openapi::api::core::v1::{ConfigMap, Pod, Secret, Service, ServiceAccount};
use k8s_openapi::api::rbac::v1::{Role, RoleBinding};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{
    ApiResource, DeleteParams, DynamicObject, GroupVersionKind, ListParams, Patch, PatchParams,
    PostParams,
};
use kube::config::AuthInfo;
use kube::{Api, Client};
use serde_json::json;
use support::{TestNamespace, eventually};

const WAIT: Duration = Duration::from_secs(60);

fn from_json<T: serde::de::DeserializeOwned>(value: serde_json::Value) -> T {
    serde_json::from_value(value).expect("test fixture matches the API type")
}

/// True for addresses in the ground's Pod CIDR, 10.244.0.0/16.
fn in_pod_cidr(ip: &str) -> bool {
    ip.parse::<Ipv4Addr>()
        .is_ok_and(|ip| ip.octets()[..2] == [10, 244])
}

/// "name phase ip" for each Pod, for failure messages.
fn describe(pods: &[Pod]) -> String {
    let lines: Vec<String> = pods
        .iter()
        .map(|p| {
            let status = p.status.as_ref();
            format!(
                "{} {} {}",
                p.metadata.name.as_deref().unwrap_or("?"),
                status.and_then(|s| s.phase.as_deref()).unwrap_or("-"),
                status.and_then(|s| s.pod_ip.as_deref()).unwrap_or("-"),
            )
        })
        .collect();
    format!("{} pods [{}]", pods.len(), lines.join(", "))
}

/// Waits until the Pods matching `selector` are exactly `names`, all Running, with distinct
/// Pod IPs in the Pod CIDR; returns the IPs.
async fn wait_for_running_pods(
    pods: &Api<Pod>,
    selector: &str,
    names: &[&str],
) -> BTreeSet<String> {
    let want: BTreeSet<&str> = names.iter().copied().collect();
    eventually(
        WAIT,
        &format!("pods {want:?} Running with distinct Pod IPs"),
        || async {
            let list = pods
                .list(&ListParams::default().labels(selector))
                .await
                .map_err(|e| e.to_string())?;
            let seen = describe(&list.items);
            let got: BTreeSet<&str> = list
                .items
                .iter()
                .filter_map(|p| p.metadata.name.as_deref())
                .collect();
            let ips: BTreeSet<String> = list
                .items
                .iter()
                .filter(|p| p.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running"))
                .filter_map(|p| p.status.as_ref()?.pod_ip.clone())
                .filter(|ip| in_pod_cidr(ip))
                .collect();
            if got == want && ips.len() == want.len() {
                Ok(ips)
            } else {
                Err(seen)
            }
        },
    )
    .await
}

#[tokio::test]
async fn statefulset_pods_run_with_distinct_pod_ips_and_scale_down() {
    let client = support::client().await;
    let ns = TestNamespace::create(&client, "ground-sts").await;
    let labels = json!({"app": "web"});
    // A headless Service gives the StatefulSet's Pods their stable network identity.
    let service: Service = from_json(json!({
        "metadata": {"name": "web"},
        "spec": {"clusterIP": "None", "selector": labels, "ports": [{"port": 80}]}
    }));
    Api::<Service>::namespaced(client.clone(), ns.name())
        .create(&PostParams::default(), &service)
        .await
        .expect("create headless service");
    // The image is never pulled: kwok plays the kubelet.
    let sts: StatefulSet = from_json(json!({
        "metadata": {"name": "web"},
        "spec": {
            "replicas": 3,
            "serviceName": "web",
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {"containers": [{"name": "web", "image": "registry.invalid/web:1"}]}
            }
        }
    }));
    let statefulsets = Api::<StatefulSet>::namespaced(client.clone(), ns.name());
    statefulsets
        .create(&PostParams::default(), &sts)
        .await
        .expect("create statefulset");

    let pods = Api::<Pod>::namespaced(client.clone(), ns.name());
    let ips = wait_for_running_pods(&pods, "app=web", &["web-0", "web-1", "web-2"]).await;
    assert_eq!(ips.len(), 3, "distinct Pod IPs: {ips:?}");

    statefulsets
        .patch_scale(
            "web",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"replicas": 1}})),
        )
        .await
        .expect("scale statefulset to 1");
    let ips = wait_for_running_pods(&pods, "app=web", &["web-0"]).await;
    assert_eq!(ips.len(), 1);
    let sts = statefulsets.get("web").await.expect("get statefulset");
    assert_eq!(sts.spec.and_then(|s| s.replicas), Some(1));
}

const GROUP: &str = "ground.test.dedicated-address.io";
const FINALIZER: &str = "ground.test.dedicated-address.io/hold";

/// A namespaced test CRD `Widget` with a status subresource.
fn widget_crd() -> CustomResourceDefinition {
    from_json(json!({
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": format!("widgets.{GROUP}")},
        "spec": {
            "group": GROUP,
            "scope": "Namespaced",
            "names": {"kind": "Widget", "plural": "widgets", "singular": "widget", "listKind": "WidgetList"},
            "versions": [{
                "name": "v1",
                "served": true,
                "storage": true,
                "subresources": {"status": {}},
                "schema": {"openAPIV3Schema": {
                    "type": "object",
                    "properties": {
                        "spec": {"type": "object", "properties": {"size": {"type": "integer"}}},
                        "status": {"type": "object", "properties": {"phase": {"type": "string"}}}
                    }
                }}
            }]
        }
    }))
}

fn phase(obj: &DynamicObject) -> Option<&str> {
    obj.data.pointer("/status/phase").and_then(|v| v.as_str())
}

#[tokio::test]
async fn crd_status_subresource_and_finalizer() {
    let client = support::client().await;
    let ns = TestNamespace::create(&client, "ground-crd").await;

    // Server-side apply: idempotent, so reruns reuse the CRD. It is cluster-scoped and
    // harmless, and deleting it would race the next run's apply, so it stays.
    let crds = Api::<CustomResourceDefinition>::all(client.clone());
    let crd_name = format!("widgets.{GROUP}");
    crds.patch(
        &crd_name,
        &PatchParams::apply("ground-test").force(),
        &Patch::Apply(widget_crd()),
    )
    .await
    .expect("apply CRD");
    eventually(WAIT, "the Widget CRD to be Established", || async {
        let crd = crds.get(&crd_name).await.map_err(|e| e.to_string())?;
        let conditions = crd.status.and_then(|s| s.conditions).unwrap_or_default();
        let established = conditions
            .iter()
            .any(|c| c.type_ == "Established" && c.status == "True");
        if established {
            Ok(())
        } else {
            Err(format!("conditions {conditions:?}"))
        }
    })
    .await;

    let resource = ApiResource::from_gvk(&GroupVersionKind::gvk(GROUP, "v1", "Widget"));
    let widgets = Api::<DynamicObject>::namespaced_with(client.clone(), ns.name(), &resource);
    let widget: DynamicObject = from_json(json!({
        "apiVersion": format!("{GROUP}/v1"),
        "kind": "Widget",
        "metadata": {"name": "w", "finalizers": [FINALIZER]},
        "spec": {"size": 3}
    }));
    // Discovery of a fresh CRD can lag its Established condition by a moment.
    let pp = PostParams::default();
    eventually(WAIT, "creating a Widget", || widgets.create(&pp, &widget)).await;

    // Status is a subresource: the main resource ignores status, the subresource sets it.
    let ignored = widgets
        .patch(
            "w",
            &PatchParams::default(),
            &Patch::Merge(json!({"status": {"phase": "Ignored"}})),
        )
        .await
        .expect("patch widget");
    assert_eq!(
        phase(&ignored),
        None,
        "status written through the main resource: {ignored:?}"
    );
    widgets
        .patch_status(
            "w",
            &PatchParams::default(),
            &Patch::Merge(json!({"status": {"phase": "Ready"}})),
        )
        .await
        .expect("patch widget status");
    let got = widgets.get("w").await.expect("get widget");
    assert_eq!(phase(&got), Some("Ready"));
    assert_eq!(got.data.pointer("/spec/size"), Some(&json!(3)));

    // The finalizer holds deletion: the object stays, marked for deletion.
    widgets
        .delete("w", &DeleteParams::default())
        .await
        .expect("delete widget");
    tokio::time::sleep(Duration::from_secs(1)).await;
    let held = widgets
        .get("w")
        .await
        .expect("widget is still there while the finalizer holds it");
    assert!(
        held.metadata.deletion_timestamp.is_some(),
        "not marked for deletion: {held:?}"
    );
    assert_eq!(
        held.metadata.finalizers.as_deref(),
        Some(&[FINALIZER.to_string()][..])
    );

    // Removing the finalizer lets the deletion finish.
    widgets
        .patch(
            "w",
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"finalizers": null}})),
        )
        .await
        .expect("remove finalizer");
    eventually(WAIT, "the Widget to be gone", || async {
        match widgets.get_opt("w").await {
            Ok(None) => Ok(()),
            Ok(Some(w)) => Err(format!("still there: {:?}", w.metadata)),
            Err(e) => Err(e.to_string()),
        }
    })
    .await;
}

/// Asserts `result` is the API server's 403 Forbidden.
fn assert_forbidden<T: std::fmt::Debug>(what: &str, result: kube::Result<T>) {
    match result {
        Err(kube::Error::Api(status)) if status.code == 403 => {}
        other => panic!("{what}: expected 403 Forbidden, got {other:?}"),
    }
}

#[tokio::test]
async fn service_account_token_is_confined_by_rbac() {
    let client = support::client().await;
    let ns = TestNamespace::create(&client, "ground-rbac").await;
    let ns_name = ns.name();
    let pp = PostParams::default();

    let sa: ServiceAccount = from_json(json!({"metadata": {"name": "narrow"}}));
    Api::<ServiceAccount>::namespaced(client.clone(), ns_name)
        .create(&pp, &sa)
        .await
        .expect("create sa");
    let role: Role = from_json(json!({
        "metadata": {"name": "configmap-reader"},
        "rules": [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get", "list"]}]
    }));
    Api::<Role>::namespaced(client.clone(), ns_name)
        .create(&pp, &role)
        .await
        .expect("create role");
    let binding: RoleBinding = from_json(json!({
        "metadata": {"name": "narrow-reads-configmaps"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "configmap-reader"},
        "subjects": [{"kind": "ServiceAccount", "name": "narrow", "namespace": ns_name}]
    }));
    Api::<RoleBinding>::namespaced(client.clone(), ns_name)
        .create(&pp, &binding)
        .await
        .expect("create binding");
    let cm: ConfigMap =
        from_json(json!({"metadata": {"name": "settings"}, "data": {"color": "blue"}}));
    Api::<ConfigMap>::namespaced(client.clone(), ns_name)
        .create(&pp, &cm)
        .await
        .expect("create configmap");

    // A token for the ServiceAccount through the TokenRequest API (the `token` subresource).
    let request = TokenRequest {
        spec: TokenRequestSpec {
            expiration_seconds: Some(600),
            ..TokenRequestSpec::default()
        },
        ..TokenRequest::default()
    };
    let issued: TokenRequest = Api::<ServiceAccount>::namespaced(client.clone(), ns_name)
        .create_subresource("token", "narrow", &pp, &request)
        .await
        .expect("request a token");
    let token = issued.status.expect("token request status").token;
    assert!(!token.is_empty(), "empty token");

    // Same server and CA, but only the bearer token as credentials.
    let mut config = support::config().await;
    config.auth_info = from_json::<AuthInfo>(json!({"token": token}));
    let sa_client = Client::try_from(config).expect("client with the token");

    // The token authenticates as the ServiceAccount (a 403 for anonymous would prove nothing).
    let review = Api::<SelfSubjectReview>::all(sa_client.clone())
        .create(&pp, &SelfSubjectReview::default())
        .await
        .expect("self subject review with the token");
    let username = review
        .status
        .and_then(|s| s.user_info)
        .and_then(|u| u.username);
    assert_eq!(
        username,
        Some(format!("system:serviceaccount:{ns_name}:narrow"))
    );

    // Inside the Role: reading ConfigMaps of its namespace (RBAC caches may lag a moment).
    let own_configmaps = Api::<ConfigMap>::namespaced(sa_client.clone(), ns_name);
    let settings = eventually(
        WAIT,
        "the ServiceAccount to read its namespace's ConfigMap",
        || own_configmaps.get("settings"),
    )
    .await;
    assert_eq!(
        settings
            .data
            .and_then(|d| d.get("color").cloned())
            .as_deref(),
        Some("blue")
    );
    let listed = own_configmaps
        .list(&ListParams::default())
        .await
        .expect("list configmaps");
    assert!(
        listed
            .items
            .iter()
            .any(|c| c.metadata.name.as_deref() == Some("settings"))
    );

    // Outside the Role: other verbs, other resources, other namespaces.
    assert_forbidden("create a configmap", own_configmaps.create(&pp, &cm).await);
    assert_forbidden(
        "list secrets in its namespace",
        Api::<Secret>::namespaced(sa_client.clone(), ns_name)
            .list(&ListParams::default())
            .await,
    );
    assert_forbidden(
        "list configmaps in kube-system",
        Api::<ConfigMap>::namespaced(sa_client.clone(), "kube-system")
            .list(&ListParams::default())
            .await,
    );
    assert_forbidden(
        "list pods in its namespace",
        Api::<Pod>::namespaced(sa_client, ns_name)
            .list(&ListParams::default())
            .await,
    );
}
