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

/// All metrics the controller exports; cheap to clone.
#[derive(Clone)]
pub struct Metrics {
    registry: Arc<Registry>,
    pub reconciles: Family<KindLabels, Counter>,
    pub reconcile_errors: Family<ErrorLabels, Counter>,
    pub reconcile_duration: Family<KindLabels, Histogram>,
    pub cloud_calls: Family<CloudCallLabels, Counter>,
    pub bound_addresses: Family<ProviderLabels, Gauge>,
    pub orphans_released: Counter,
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
        let orphans_released = Counter::default();
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
            "orphans_released",
            "Cloud resources released by the orphan sweep",
            orphans_released.clone(),
        );
        Self {
            registry: Arc::new(registry),
            reconciles,
            reconcile_errors,
            reconcile_duration,
            cloud_calls,
            bound_addresses,
            orphans_released,
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

    /// The text exposition format served at `/metrics`.
    pub fn render(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = encode(&mut out, &self.registry);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
