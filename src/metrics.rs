//! Prometheus metrics: reconciles and their errors by kind, cloud calls by action and result,
//! and addresses currently bound, by provider.
use prometheus_client::encoding::{EncodeLabelSet, text::encode};
use prometheus_client::metrics::{
    counter::Counter, family::Family, gauge::Gauge, histogram::Histogram,
};
use prometheus_client::registry::Registry;
use std::sync::Arc;
use std::time::Duration;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct KindLabels {
    pub kind: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ErrorLabels {
    pub kind: &'static str,
    /// A short, bounded-cardinality error class (never a free-form message).
    pub error: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CloudCallLabels {
    pub action: String,
    /// `ok` or the error code's class.
    pub result: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ProviderLabels {
    pub provider: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OrphanLabels {
    pub provider: String,
    /// `released`, `dry_run` (would have been), `over_cap` (left for the next run),
    /// `claimed` (the last check found an owner), `failed`.
    pub outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct KubeRequestLabels {
    /// get, list, watch, create, update, patch, delete, deletecollection.
    pub verb: &'static str,
    /// e.g. `pods`, `dedicatedclblisteners/status`.
    pub resource: String,
}

/// All metrics the controller exports; cheap to clone.
#[derive(Clone)]
pub struct Metrics {
    registry: Arc<Registry>,
    pub reconciles: Family<KindLabels, Counter>,
    pub reconcile_errors: Family<ErrorLabels, Counter>,
    pub reconcile_duration: Family<KindLabels, Histogram>,
    pub cloud_calls: Family<CloudCallLabels, Counter>,
    pub bound_addresses: Family<ProviderLabels, Gauge>,
    pub orphans: Family<OrphanLabels, Counter>,
    /// 1 while this process holds the leader lease.
    pub leader: Gauge,
    pub kube_requests: Family<KubeRequestLabels, Counter>,
    /// Seconds from a Pod's creation to every one of its ports bound, by provider.
    pub time_to_address: Family<ProviderLabels, Histogram>,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("dedicated_address");
        let reconciles = Family::<KindLabels, Counter>::default();
        let reconcile_errors = Family::<ErrorLabels, Counter>::default();
        let reconcile_duration = Family::<KindLabels, Histogram>::new_with_constructor(|| {
            Histogram::new([0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 15.0])
        });
        let cloud_calls = Family::<CloudCallLabels, Counter>::default();
        let bound_addresses = Family::<ProviderLabels, Gauge>::default();
        let orphans = Family::<OrphanLabels, Counter>::default();
        let leader = Gauge::default();
        let kube_requests = Family::<KubeRequestLabels, Counter>::default();
        let time_to_address = Family::<ProviderLabels, Histogram>::new_with_constructor(|| {
            Histogram::new([0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0, 300.0])
        });
        registry.register(
            "reconciles",
            "Reconciles started, by kind",
            reconciles.clone(),
        );
        registry.register(
            "reconcile_errors",
            "Reconciles that failed, by kind and error class",
            reconcile_errors.clone(),
        );
        registry.register(
            "reconcile_duration_seconds",
            "Reconcile duration, by kind",
            reconcile_duration.clone(),
        );
        registry.register(
            "cloud_calls",
            "Cloud API calls, by action and result",
            cloud_calls.clone(),
        );
        registry.register(
            "bound_addresses",
            "Pod-port addresses currently bound, by provider",
            bound_addresses.clone(),
        );
        registry.register(
            "orphans",
            "Orphans the sweep found, by provider and what it did with them",
            orphans.clone(),
        );
        registry.register(
            "leader",
            "1 while this process holds the leader lease and may write",
            leader.clone(),
        );
        registry.register(
            "time_to_address_seconds",
            "From a Pod's creation to every one of its ports bound, by provider",
            time_to_address.clone(),
        );
        registry.register(
            "kube_requests",
            "Requests this process sent to the Kubernetes API server, by verb and resource",
            kube_requests.clone(),
        );
        Self {
            registry: Arc::new(registry),
            reconciles,
            reconcile_errors,
            reconcile_duration,
            cloud_calls,
            bound_addresses,
            orphans,
            leader,
            kube_requests,
            time_to_address,
        }
    }
}

impl Metrics {
    pub fn reconciled(&self, kind: &'static str, took: Duration) {
        self.reconciles.get_or_create(&KindLabels { kind }).inc();
        self.reconcile_duration
            .get_or_create(&KindLabels { kind })
            .observe(took.as_secs_f64());
    }

    pub fn reconcile_failed(&self, kind: &'static str, error: impl Into<String>) {
        let labels = ErrorLabels {
            kind,
            error: error.into(),
        };
        self.reconcile_errors.get_or_create(&labels).inc();
    }

    pub fn cloud_call(&self, action: &str, result: &str) {
        let labels = CloudCallLabels {
            action: action.to_string(),
            result: result.to_string(),
        };
        self.cloud_calls.get_or_create(&labels).inc();
    }

    pub fn orphan(&self, provider: &str, outcome: &'static str) {
        let labels = OrphanLabels {
            provider: provider.to_string(),
            outcome,
        };
        self.orphans.get_or_create(&labels).inc();
    }

    pub fn time_to_address(&self, provider: &str, seconds: f64) {
        let labels = ProviderLabels {
            provider: provider.to_string(),
        };
        self.time_to_address.get_or_create(&labels).observe(seconds);
    }

    /// Counts one request to the API server (see [`kube_request_labels`]).
    pub fn kube_request(&self, method: &http::Method, uri: &http::Uri) {
        self.kube_requests
            .get_or_create(&kube_request_labels(method, uri))
            .inc();
    }

    /// The text exposition format served at `/metrics`.
    pub fn render(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = encode(&mut out, &self.registry);
        out
    }
}

/// The verb and resource of a request to the API server, read from its method and path
/// (`/api/v1/namespaces/ns/pods/name/status`, `/apis/group/version/resource/name`).
pub fn kube_request_labels(method: &http::Method, uri: &http::Uri) -> KubeRequestLabels {
    let segments: Vec<&str> = uri.path().split('/').filter(|s| !s.is_empty()).collect();
    let rest: &[&str] = match segments.first() {
        Some(&"api") => segments.get(2..).unwrap_or_default(),
        Some(&"apis") => segments.get(3..).unwrap_or_default(),
        _ => &[],
    };
    // `namespaces/<ns>/<resource>...`, except the namespaces themselves.
    let rest = match rest {
        ["namespaces", _, tail @ ..] if !tail.is_empty() => tail,
        other => other,
    };
    let (resource, named) = match rest {
        [] => ("unknown".to_string(), false),
        [resource] => (resource.to_string(), false),
        [resource, _] => (resource.to_string(), true),
        [resource, _, sub, ..] => (format!("{resource}/{sub}"), true),
    };
    let watching = uri
        .query()
        .is_some_and(|q| q.split('&').any(|kv| kv == "watch=true" || kv == "watch=1"));
    let verb = match *method {
        http::Method::GET if watching => "watch",
        http::Method::GET if named => "get",
        http::Method::GET => "list",
        http::Method::POST => "create",
        http::Method::PUT => "update",
        http::Method::PATCH => "patch",
        http::Method::DELETE if named => "delete",
        http::Method::DELETE => "deletecollection",
        _ => "other",
    };
    KubeRequestLabels { verb, resource }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_requests_are_labelled_by_verb_and_resource() {
        let label = |method: http::Method, uri: &str| {
            let l = kube_request_labels(&method, &uri.parse().unwrap());
            (l.verb, l.resource)
        };
        assert_eq!(
            label(
                http::Method::GET,
                "/api/v1/namespaces/a/pods?watch=true&resourceVersion=1"
            ),
            ("watch", "pods".into())
        );
        assert_eq!(
            label(http::Method::GET, "/api/v1/pods?limit=500"),
            ("list", "pods".into())
        );
        assert_eq!(
            label(http::Method::GET, "/api/v1/namespaces/a/pods/gs-0"),
            ("get", "pods".into())
        );
        assert_eq!(
            label(
                http::Method::PATCH,
                "/apis/networking.cloud.tencent.com/v1alpha1/namespaces/a/dedicatedclblisteners/x/status"
            ),
            ("patch", "dedicatedclblisteners/status".into())
        );
        assert_eq!(
            label(
                http::Method::PUT,
                "/apis/coordination.k8s.io/v1/namespaces/s/leases/dac"
            ),
            ("update", "leases".into())
        );
        assert_eq!(
            label(
                http::Method::POST,
                "/apis/events.k8s.io/v1/namespaces/a/events"
            ),
            ("create", "events".into())
        );
        assert_eq!(
            label(http::Method::GET, "/api/v1/namespaces/a"),
            ("get", "namespaces".into())
        );
        assert_eq!(
            label(http::Method::GET, "/version"),
            ("list", "unknown".into())
        );
    }

    #[test]
    fn renders_recorded_values() {
        let metrics = Metrics::default();
        metrics.reconciled("DedicatedCLBListener", Duration::from_millis(20));
        metrics.reconcile_failed("DedicatedCLBListener", "CloudBusy");
        metrics.cloud_call("CreateListener", "ok");
        metrics
            .bound_addresses
            .get_or_create(&ProviderLabels {
                provider: "clb".into(),
            })
            .set(3);
        let text = metrics.render();
        assert!(
            text.contains(r#"dedicated_address_reconciles_total{kind="DedicatedCLBListener"} 1"#),
            "{text}"
        );
        assert!(text.contains(r#"dedicated_address_reconcile_errors_total{kind="DedicatedCLBListener",error="CloudBusy"} 1"#), "{text}");
        assert!(
            text.contains(
                r#"dedicated_address_cloud_calls_total{action="CreateListener",result="ok"} 1"#
            ),
            "{text}"
        );
        assert!(
            text.contains(r#"dedicated_address_bound_addresses{provider="clb"} 3"#),
            "{text}"
        );
    }
}
