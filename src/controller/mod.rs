//! The reconcilers and how they are wired to the API server's watches.
mod children;
mod events;
mod labels;
mod listener;
mod pods;
mod service;
mod service_status;
mod status;
mod sweep;

pub use labels::{ADDRESS_POD_ANNOTATION, FINALIZER, POD, SERVICE};

use crate::config::ClusterConfig;
use crate::crd::{DedicatedCLBListener, DedicatedCLBService};
use crate::http::Readiness;
use crate::metrics::Metrics;
use crate::registry::ProviderRegistry;
use crate::{Error, Result};
use futures::{FutureExt, StreamExt};
use k8s_openapi::api::core::v1::Pod;
use kube::runtime::controller::{Action, Controller};
use kube::runtime::events::{Recorder, Reporter};
use kube::runtime::reflector::ObjectRef;
use kube::runtime::watcher;
use kube::{Api, Client, ResourceExt};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How often the orphan sweep looks for cloud resources no listener claims.
const SWEEP_EVERY: Duration = Duration::from_secs(600);

/// What every reconcile shares.
pub struct Context {
    pub client: Client,
    pub registry: ProviderRegistry,
    pub cluster: ClusterConfig,
    pub metrics: Metrics,
    pub recorder: Recorder,
    /// Services that share frontends must not pick the same free slot at the same time, so
    /// reading the taken slots and creating children happens under this lock.
    pub allocation_lock: tokio::sync::Mutex<()>,
    /// The namespace this controller watches; `None`: all.
    pub namespace: Option<String>,
    /// Consecutive failures per object, for exponential requeue backoff.
    failures: Mutex<HashMap<String, u32>>,
}

impl Context {
    pub fn new(
        client: Client,
        registry: ProviderRegistry,
        cluster: ClusterConfig,
        metrics: Metrics,
        namespace: Option<String>,
    ) -> Self {
        let reporter = Reporter {
            controller: labels::MANAGER.into(),
            instance: std::env::var("POD_NAME").ok(),
        };
        Self {
            recorder: Recorder::new(client.clone(), reporter),
            client,
            registry,
            cluster,
            metrics,
            allocation_lock: tokio::sync::Mutex::new(()),
            namespace,
            failures: Mutex::default(),
        }
    }

    /// 1 s, 2 s, 4 s ... up to 5 min, or the cloud's own hint.
    fn backoff(&self, key: String, error: &Error) -> Duration {
        let mut failures = self
            .failures
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let count = failures.entry(key).or_insert(0);
        *count = count.saturating_add(1);
        let exponential =
            Duration::from_secs(1u64 << (*count - 1).min(8)).min(Duration::from_secs(300));
        match error {
            Error::Provider(provider_error) => {
                provider_error.retry_after_hint().unwrap_or(exponential)
            }
            _ => exponential,
        }
    }

    fn succeeded(&self, key: &str) {
        self.failures
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .remove(key);
    }
}

/// Runs a reconcile and forgets the object's failure count when it succeeds.
async fn tracking<K, F, Fut>(
    kind: &'static str,
    object: Arc<K>,
    ctx: Arc<Context>,
    reconcile: F,
) -> Result<Action>
where
    K: ResourceExt,
    F: FnOnce(Arc<K>, Arc<Context>) -> Fut,
    Fut: std::future::Future<Output = Result<Action>>,
{
    let key = failure_key(kind, object.as_ref());
    let result = reconcile(object, ctx.clone()).await;
    if result.is_ok() {
        ctx.succeeded(&key);
    }
    result
}

fn failure_key<K: ResourceExt>(kind: &str, object: &K) -> String {
    format!(
        "{kind}/{}/{}",
        object.namespace().unwrap_or_default(),
        object.name_any()
    )
}

fn error_policy<K: ResourceExt>(
    kind: &'static str,
) -> impl Fn(Arc<K>, &Error, Arc<Context>) -> Action {
    move |object, error, ctx| {
        let key = failure_key(kind, object.as_ref());
        ctx.metrics.reconcile_failed(kind, error.class());
        let delay = ctx.backoff(key, error);
        tracing::warn!(kind, object = %object.name_any(), %error, retry_in = ?delay, "reconcile failed");
        Action::requeue(delay)
    }
}

/// Runs both controllers until `shutdown` resolves.
pub async fn run(
    ctx: Arc<Context>,
    readiness: Readiness,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) {
    let client = ctx.client.clone();
    let namespace = ctx.namespace.as_deref();
    let services: Api<DedicatedCLBService> = scoped(&client, namespace);
    let listeners: Api<DedicatedCLBListener> = scoped(&client, namespace);
    let pods: Api<Pod> = scoped(&client, namespace);
    let shutdown = futures::future::FutureExt::shared(Box::pin(shutdown));

    let service_controller = Controller::new(services, watcher::Config::default());
    let service_store = service_controller.store();
    let service_cache = service_store.clone();
    let service_controller = service_controller
        .owns(listeners.clone(), watcher::Config::default())
        .watches(pods.clone(), watcher::Config::default(), move |pod: Pod| {
            // A Pod event concerns every service in its namespace whose selector matches it.
            let labels = pod.labels().clone();
            service_store
                .state()
                .iter()
                .filter(|service| service.namespace() == pod.namespace())
                .filter(|service| {
                    service
                        .spec
                        .selector
                        .iter()
                        .all(|(k, v)| labels.get(k) == Some(v))
                })
                .map(|service| ObjectRef::from_obj(service.as_ref()))
                .collect::<Vec<_>>()
        })
        .graceful_shutdown_on(shutdown.clone())
        .run(
            |service, ctx: Arc<Context>| tracking(service::KIND, service, ctx, service::reconcile),
            error_policy(service::KIND),
            ctx.clone(),
        )
        .for_each(|result| async {
            log_outcome(
                result
                    .map(|(object, _)| object.name)
                    .map_err(|e| e.to_string()),
            );
        });

    let listener_controller = Controller::new(listeners, watcher::Config::default());
    let listener_store = listener_controller.store();
    let listener_cache = listener_store.clone();
    let listener_ctx = ctx.clone();
    let listener_controller = listener_controller
        .watches(pods, watcher::Config::default(), move |pod: Pod| {
            // A Pod event (new IP, deleted) concerns the listeners whose backend it is.
            let name = pod.name_any();
            listener_store
                .state()
                .iter()
                .filter(|listener| listener.namespace() == pod.namespace())
                .filter(|listener| {
                    listener
                        .spec
                        .backend_pod
                        .as_ref()
                        .is_some_and(|b| b.pod_name == name)
                })
                .map(|listener| ObjectRef::from_obj(listener.as_ref()))
                .collect::<Vec<_>>()
        })
        .graceful_shutdown_on(shutdown)
        .run(
            |listener, ctx: Arc<Context>| {
                tracking(listener::KIND, listener, ctx, listener::reconcile)
            },
            error_policy(listener::KIND),
            listener_ctx,
        )
        .for_each(|result| async {
            log_outcome(
                result
                    .map(|(object, _)| object.name)
                    .map_err(|e| e.to_string()),
            );
        });

    let metrics = ctx.metrics.clone();
    let ctx_for_metrics = ctx.clone();
    let ready = async move {
        if service_cache.wait_until_ready().await.is_ok()
            && listener_cache.wait_until_ready().await.is_ok()
        {
            readiness.set_ready();
            tracing::info!("caches synced; ready");
        }
        let mut last_sweep: Option<std::time::Instant> = None;
        loop {
            // Counted from the cache rather than on transitions, so a restart starts from the truth.
            count_bound(&metrics, &ctx_for_metrics.registry, &listener_cache.state());
            if last_sweep.is_none_or(|at| at.elapsed() >= SWEEP_EVERY) {
                sweep::sweep_once(&ctx_for_metrics, &service_cache, &listener_cache).await;
                last_sweep = Some(std::time::Instant::now());
            }
            tokio::time::sleep(Duration::from_secs(5)).await;
        }
    };
    futures::select! {
        _ = futures::future::join(service_controller, listener_controller).fuse() => {}
        _ = Box::pin(ready).fuse() => {}
    }
}

fn count_bound(
    metrics: &Metrics,
    registry: &ProviderRegistry,
    listeners: &[Arc<DedicatedCLBListener>],
) {
    // Every enabled provider is reported, so one whose last address went shows 0, not its past.
    let mut bound: HashMap<&str, i64> = registry.names().map(|name| (name, 0)).collect();
    for listener in listeners {
        let count = bound.entry(listener.spec.provider.as_str()).or_default();
        if listener.status.as_ref().and_then(|s| s.state) == Some(crate::crd::ListenerState::Bound)
        {
            *count += 1;
        }
    }
    for (provider, count) in bound {
        let labels = crate::metrics::ProviderLabels {
            provider: provider.to_string(),
        };
        metrics.bound_addresses.get_or_create(&labels).set(count);
    }
}

pub(crate) fn scoped<K>(client: &Client, namespace: Option<&str>) -> Api<K>
where
    K: kube::Resource<Scope = kube::core::NamespaceResourceScope>,
    K::DynamicType: Default,
{
    match namespace {
        Some(namespace) => Api::namespaced(client.clone(), namespace),
        None => Api::all(client.clone()),
    }
}

fn log_outcome(result: std::result::Result<String, String>) {
    match result {
        Ok(name) => tracing::debug!(object = %name, "reconciled"),
        Err(error) => tracing::debug!(%error, "reconcile error"),
    }
}
