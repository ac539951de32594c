//! The orphan sweep never releases what is in use, against the real API server: a provider
//! whose listing is slow enough for a Pod to be bound meanwhile (here: the listing itself
//! creates that Pod's listener, so the window is certain, not a matter of timing) sees its
//! resource kept, while a true orphan is released; the dry run and the per-run cap release
//! nothing beyond what they say.
mod support;

use async_trait::async_trait;
use dac_provider_api::{
    AddressProvider, AllocationMode, Binding, BindingStatus, Frontend, OwnedResource, Protocol,
    ProviderError, Result as ProviderResult, Scope, Slot,
};
use dedicated_address_controller::config::ControllerConfig;
use dedicated_address_controller::controller::Context;
use dedicated_address_controller::controller::sweep::sweep_once;
use dedicated_address_controller::crd::{
    DedicatedCLBListener, DedicatedCLBListenerSpec, DedicatedCLBService,
};
use dedicated_address_controller::metrics::Metrics;
use dedicated_address_controller::registry::ProviderRegistry;
use kube::api::{Api, ObjectMeta, PostParams};
use kube::runtime::reflector;
use kube::runtime::watcher::Event;
use std::sync::{Arc, Mutex};
use support::TestNamespace;
use support::controller::install;

const PROVIDER: &str = "sweep-race";
const FRONTEND: &str = "fe-1";
/// Bound while the sweep lists: must be kept.
const LATE_PORT: u16 = 1000;
/// Nobody's: must be released.
const ORPHAN_PORTS: [u16; 2] = [1001, 1002];

/// A provider whose `list_owned` binds a Pod (creates its listener through the API server)
/// before it answers, as a slow cloud listing lets a real one do.
struct RacingProvider {
    listeners: Api<DedicatedCLBListener>,
    namespace: String,
    released: Mutex<Vec<u16>>,
}

fn slot(port: u16) -> Slot {
    Slot::Port {
        frontend_id: FRONTEND.into(),
        public_ip: None,
        port,
        protocol: Protocol::Tcp,
    }
}

#[async_trait]
impl AddressProvider for RacingProvider {
    fn name(&self) -> &str {
        PROVIDER
    }

    fn allocation_mode(&self) -> AllocationMode {
        AllocationMode::PortPerSlot
    }

    async fn frontends(&self, _: &Scope) -> ProviderResult<Vec<Frontend>> {
        Ok(Vec::new())
    }

    async fn ensure(&self, _: &Binding) -> ProviderResult<BindingStatus> {
        Err(ProviderError::permanent("not used by the sweep"))
    }

    async fn release(&self, _: &Binding) -> ProviderResult<()> {
        Err(ProviderError::permanent(
            "the sweep releases through release_orphan",
        ))
    }

    async fn list_owned(&self, _: &Scope) -> ProviderResult<Vec<OwnedResource>> {
        let late = DedicatedCLBListener {
            metadata: ObjectMeta {
                name: Some("late-pod-tcp-80".into()),
                namespace: Some(self.namespace.clone()),
                ..Default::default()
            },
            spec: serde_json::from_value::<DedicatedCLBListenerSpec>(serde_json::json!({
                "provider": PROVIDER,
                "lbId": FRONTEND,
                "lbPort": LATE_PORT,
                "protocol": "TCP",
                "backendPod": {"podName": "late-pod", "port": 80},
            }))
            .unwrap(),
            status: None,
        };
        self.listeners
            .create(&PostParams::default(), &late)
            .await
            .expect("create the late Pod's listener");
        // Owner-less, as every EIP and every hashed marker is: only the slot says who uses it.
        Ok([LATE_PORT]
            .into_iter()
            .chain(ORPHAN_PORTS)
            .map(|port| OwnedResource {
                resource_id: format!("res-{port}"),
                region: None,
                slot: slot(port),
                owner: None,
                namespace: Some(self.namespace.clone()),
            })
            .collect())
    }

    async fn release_orphan(&self, resource: &OwnedResource) -> ProviderResult<()> {
        self.released.lock().unwrap().push(resource.slot.port());
        Ok(())
    }
}

/// Runs one sweep over a namespace holding one service of the racing provider and no
/// listener yet; returns the ports released and the sweep's metrics.
async fn sweep_with(sweep_config: &str) -> (Vec<u16>, String) {
    let client = support::client().await;
    install(&client).await;
    let namespace = TestNamespace::create(&client, "sweep").await;
    let ns = namespace.name().to_string();

    let provider = Arc::new(RacingProvider {
        listeners: Api::namespaced(client.clone(), &ns),
        namespace: ns.clone(),
        released: Mutex::new(Vec::new()),
    });
    let mut registry = ProviderRegistry::new();
    registry.register_custom(provider.clone()).unwrap();
    let config = ControllerConfig::load_from_str(
        &format!("cluster: {{id: sweep-test, region: ap-chengdu}}\nsweep: {sweep_config}\n"),
        ::config::FileFormat::Yaml,
        Default::default(),
    )
    .unwrap();
    let metrics = Metrics::default();
    let ctx = Context::new(
        client.clone(),
        registry,
        &config,
        metrics.clone(),
        Some(ns.clone()),
    );

    let service: DedicatedCLBService = serde_json::from_value(serde_json::json!({
        "apiVersion": "networking.cloud.tencent.com/v1alpha1",
        "kind": "DedicatedCLBService",
        "metadata": {"name": "racing", "namespace": ns, "uid": "u-1"},
        "spec": {
            "provider": PROVIDER, "minPort": 1000, "maxPort": 1100,
            "selector": {"app": "racing"}, "ports": [{"protocol": "TCP", "targetPort": 80}],
            "existedLbIds": [FRONTEND],
        },
    }))
    .unwrap();
    let (services, mut services_writer) = reflector::store::<DedicatedCLBService>();
    services_writer.apply_watcher_event(&Event::Apply(service));
    // The snapshot the sweep starts from: the late Pod's listener does not exist yet.
    let (listeners, _listeners_writer) = reflector::store::<DedicatedCLBListener>();

    sweep_once(&ctx, &services, &listeners).await;
    let released = provider.released.lock().unwrap().clone();
    (released, metrics.render())
}

#[tokio::test]
async fn a_pod_bound_while_the_sweep_lists_keeps_its_address() {
    let (released, metrics) = sweep_with("{}").await;
    assert!(
        !released.contains(&LATE_PORT),
        "the late Pod's address was released: {released:?}"
    );
    assert_eq!(released, ORPHAN_PORTS, "the true orphans are released");
    assert!(
        metrics.contains(
            r#"dedicated_address_orphans_total{provider="sweep-race",outcome="claimed"} 1"#
        ),
        "{metrics}"
    );
}

#[tokio::test]
async fn the_dry_run_releases_nothing_and_says_what_it_would() {
    // What it says goes to the test's output (`--nocapture` shows it).
    let _ = tracing_subscriber::fmt().with_test_writer().try_init();
    let (released, metrics) = sweep_with("{dryRun: true}").await;
    assert!(released.is_empty(), "a dry run released {released:?}");
    assert!(
        metrics.contains(
            r#"dedicated_address_orphans_total{provider="sweep-race",outcome="dry_run"} 2"#
        ),
        "{metrics}"
    );
}

#[tokio::test]
async fn a_run_releases_at_most_its_cap() {
    let (released, metrics) = sweep_with("{maxReleasesPerRun: 1}").await;
    assert_eq!(released, [ORPHAN_PORTS[0]]);
    assert!(
        metrics.contains(
            r#"dedicated_address_orphans_total{provider="sweep-race",outcome="over_cap"} 1"#
        ),
        "{metrics}"
    );
}
