//! The reconcilers and how they are wired to the API server's watches.
mod allocate;
mod binding;
pub mod cached_pod;
mod children;
mod events;
mod gameserverset;
mod labels;
mod ledger;
mod listener;
mod pod_address;
mod pod_mapping;
mod pods;
mod pool;
mod service;
mod service_status;
mod sets;
mod status;
pub mod sweep;
pub mod watch;

pub use labels::{ADDRESS_POD_ANNOTATION, FINALIZER, MANAGER, POD, SERVICE};

use crate::config::{AccessConfig, ClusterConfig, ControllerConfig, SweepConfig};
use crate::crd::{CLBPortPool, DedicatedCLBListener, DedicatedCLBService};
use crate::http::Readiness;
use crate::metrics::Metrics;
use crate::registry::ProviderRegistry;
use crate::{Error, Result};
use cached_pod::CachedPod;
use futures::{FutureExt, StreamExt};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::events::{Recorder, Reporter};
use kube::runtime::reflector::{ObjectRef, Store};
use kube::runtime::{PredicateConfig, WatchStreamExt};
use kube::{Api, Client, ResourceExt};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// What every reconcile shares.
pub struct Context {
    pub client: Client,
    pub registry: ProviderRegistry,
    pub cluster: ClusterConfig,
    pub sweep: SweepConfig,
    pub access: AccessConfig,
    pub metrics: Metrics,
    pub recorder: Recorder,
    /// Resources that share frontends must not pick the same free slot at the same time, so
    /// planning happens under this lock, which also holds the creates the caches do not show yet.
    pub allocation_lock: tokio::sync::Mutex<ledger::Ledger>,
    /// The namespace this controller watches; `None`: all.
    pub namespace: Option<String>,
    /// Reconciles of one kind at once (`kubernetes.maxReconcilesInFlight`).
    pub reconciles_in_flight: u16,
    /// Listener status writes the watch cache does not show yet.
    pub listener_writes: status::PendingWrites,
    /// StatefulSets' wanted ordinals as listeners of terminating Pods read them.
    pub recent_ordinals: sets::RecentOrdinals,
    /// Listeners waiting for their service to delete them.
    pub handovers: sets::Handovers,
    /// Consecutive failures per object, for exponential requeue backoff.
    failures: Mutex<HashMap<String, u32>>,
    /// Frontends the cloud has called gone, and since when.
    gone_sightings: Mutex<crate::frontends::GoneSightings>,
    /// The shared watch caches every reconcile reads from.
    pub stores: watch::Stores,
    /// Their writing ends, until [`run`] starts the watches.
    watches: Mutex<Option<watch::Watches>>,
    /// Agones' `GameServer` kind, once discovered (Agones may be installed after us).
    agones: std::sync::OnceLock<kube::core::ApiResource>,
    /// Pods whose addresses were all bound once already (the time-to-address metric counts
    /// each Pod once).
    addressed: Mutex<std::collections::HashSet<String>>,
    /// Regions resources have used since start (the sweep looks for CLBs made there).
    regions_seen: Mutex<std::collections::BTreeSet<Option<String>>>,
}

impl Context {
    pub fn new(
        client: Client,
        registry: ProviderRegistry,
        config: &ControllerConfig,
        metrics: Metrics,
        namespace: Option<String>,
    ) -> Self {
        let (stores, watches) = watch::stores();
        let reporter = Reporter {
            controller: labels::MANAGER.into(),
            instance: std::env::var("POD_NAME").ok(),
        };
        Self {
            recorder: Recorder::new(client.clone(), reporter),
            client,
            registry,
            cluster: config.cluster.clone(),
            sweep: config.sweep.clone(),
            access: config.access.clone(),
            metrics,
            allocation_lock: tokio::sync::Mutex::default(),
            namespace,
            reconciles_in_flight: config.kubernetes.max_reconciles_in_flight,
            listener_writes: status::PendingWrites::default(),
            recent_ordinals: sets::RecentOrdinals::default(),
            handovers: sets::Handovers::default(),
            failures: Mutex::default(),
            gone_sightings: Mutex::default(),
            stores,
            watches: Mutex::new(Some(watches)),
            agones: std::sync::OnceLock::new(),
            addressed: Mutex::default(),
            regions_seen: Mutex::default(),
        }
    }

    pub fn regions_seen(
        &self,
    ) -> std::sync::MutexGuard<'_, std::collections::BTreeSet<Option<String>>> {
        self.regions_seen
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Agones' `GameServer` resource, if Agones is installed.
    pub fn agones_gameservers(&self) -> Option<kube::core::ApiResource> {
        self.agones.get().cloned()
    }

    /// True the first time it is asked about this Pod uid.
    pub fn first_addressed(&self, uid: &str) -> bool {
        let mut seen = self
            .addressed
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        // Bounded: forgetting old Pods only risks counting one twice.
        if seen.len() > 100_000 {
            seen.clear();
        }
        seen.insert(uid.to_string())
    }

    pub fn gone_sightings(&self) -> std::sync::MutexGuard<'_, crate::frontends::GoneSightings> {
        self.gone_sightings
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// 1 s, 2 s, 4 s ... up to 5 min, or the cloud's own hint when that is longer (a hint
    /// alone would retry a throttled call every second forever).
    fn backoff(&self, key: String, error: &Error) -> Duration {
        let mut failures = self
            .failures
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let count = failures.entry(key).or_insert(0);
        *count = count.saturating_add(1);
        retry_delay(*count, error)
    }

    /// How many reconciles of this object failed in a row before the current one.
    pub fn consecutive_failures<K: ResourceExt>(&self, kind: &str, object: &K) -> u32 {
        self.failures
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .get(&failure_key(kind, object))
            .copied()
            .unwrap_or(0)
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

/// The wait before the `failures`-th retry in a row (see [`Context::backoff`]); the hint
/// is found also inside the finalizer helper's errors.
fn retry_delay(failures: u32, error: &Error) -> Duration {
    let exponential =
        Duration::from_secs(1u64 << (failures.max(1) - 1).min(8)).min(Duration::from_secs(300));
    let hint = error
        .provider_error()
        .and_then(|e| e.retry_after_hint())
        .unwrap_or_default();
    exponential.max(hint)
}

fn error_policy<K: ResourceExt>(
    kind: &'static str,
) -> impl Fn(Arc<K>, &Error, Arc<Context>) -> Action {
    move |object, error, ctx| {
        let key = failure_key(kind, object.as_ref());
        if error.is_gone() {
            // Deleted while we worked on it (a finalizer already removed, a binding already
            // collected): nothing is left to do.
            ctx.succeeded(&key);
            return Action::await_change();
        }
        if let Some(retry) = error.cleanup_retry() {
            // Not a failure: the cleanup waits for something (its reason is in the status).
            tracing::debug!(kind, object = %object.name_any(), %error, retry_in = ?retry, "cleanup waits");
            return Action::requeue(retry);
        }
        ctx.metrics.reconcile_failed(kind, error.class());
        let delay = ctx.backoff(key, error);
        tracing::warn!(kind, object = %object.name_any(), %error, retry_in = ?delay, "reconcile failed");
        Action::requeue(delay)
    }
}

/// Runs a controller until `shutdown`: at most `maxReconcilesInFlight` reconciles at once, each
/// tracked for backoff ([`tracking`], [`error_policy`]), each outcome logged.
async fn drive<K, F, Fut>(
    controller: Controller<K>,
    kind: &'static str,
    reconcile: F,
    ctx: Arc<Context>,
    shutdown: impl std::future::Future<Output = ()> + Send + Sync + 'static,
) where
    K: kube::Resource
        + Clone
        + serde::de::DeserializeOwned
        + std::fmt::Debug
        + Send
        + Sync
        + 'static,
    K::DynamicType: Eq + std::hash::Hash + Clone + std::fmt::Debug + Unpin,
    F: Fn(Arc<K>, Arc<Context>) -> Fut + Copy + Send + Sync + 'static,
    Fut: std::future::Future<Output = Result<Action>> + Send + 'static,
{
    let config = kube::runtime::controller::Config::default().concurrency(ctx.reconciles_in_flight);
    controller
        .with_config(config)
        .graceful_shutdown_on(shutdown)
        .run(
            move |object, ctx| tracking(kind, object, ctx, reconcile),
            error_policy(kind),
            ctx,
        )
        .for_each(|result| async {
            log_outcome(
                result
                    .map(|(object, _)| object.name)
                    .map_err(|e| e.to_string()),
            );
        })
        .await;
}

/// Runs the controllers over the shared watches until `shutdown` resolves.
pub async fn run(
    ctx: Arc<Context>,
    readiness: Readiness,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) {
    let watches = ctx
        .watches
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .take()
        .expect("run starts the watches once");
    let feeds = watches.feeds.clone();
    let watching = watches.run(&ctx.client, ctx.namespace.as_deref());
    let shutdown = futures::future::FutureExt::shared(Box::pin(shutdown));

    let services = ctx.stores.services.clone();
    let service_controller = drive(
        Controller::for_stream(feeds.services.applied(), ctx.stores.services.clone())
            .reconcile_on(
                feeds
                    .listeners
                    .subscribe()
                    .flat_map(|change| futures::stream::iter(owning_services(change.object()))),
            )
            .reconcile_on(feeds.pods.subscribe().flat_map(move |change| {
                futures::stream::iter(services_selecting(&services, change.object()))
            })),
        service::KIND,
        service::reconcile,
        ctx.clone(),
        shutdown.clone(),
    );

    let listeners = ctx.stores.listeners.clone();
    let listeners_of_configs = ctx.stores.listeners.clone();
    let listener_controller = drive(
        Controller::for_stream(
            feeds
                .listeners
                .applied()
                .predicate_filter(listener_inputs, PredicateConfig::default()),
            ctx.stores.listeners.clone(),
        )
        .reconcile_on(feeds.pods.subscribe().flat_map(move |change| {
            futures::stream::iter(listeners_of_pod(&listeners, change.object()))
        }))
        .reconcile_on(feeds.listener_configs.subscribe().flat_map(move |change| {
            // An edited CLBListenerConfig reaches the listeners made with it.
            futures::stream::iter(listeners_using_config(
                &listeners_of_configs,
                change.object(),
            ))
        })),
        listener::KIND,
        listener::reconcile,
        ctx.clone(),
        shutdown.clone(),
    );

    // The pool API: annotated Pods -> bindings -> children; pools -> their frontends.
    let pod_controller = drive(
        Controller::for_stream(
            feeds.pods.applied().filter(|pod| {
                futures::future::ready(pod.as_ref().is_ok_and(pod_mapping::concerns))
            }),
            ctx.stores.pods.clone(),
        )
        .reconcile_on(feeds.bindings.subscribe().filter_map(|change| {
            // A binding deleted while its Pod still asks for one is made again.
            futures::future::ready(match change.as_ref() {
                watch::Change::Deleted(binding) => Some(
                    ObjectRef::<CachedPod>::new(&binding.name_any())
                        .within(&binding.namespace().unwrap_or_default()),
                ),
                watch::Change::Applied(_) => None,
            })
        })),
        pod_mapping::KIND,
        pod_mapping::reconcile,
        ctx.clone(),
        shutdown.clone(),
    );

    let bindings_for_pools = ctx.stores.bindings.clone();
    let bindings_for_pods = ctx.stores.bindings.clone();
    let binding_controller = drive(
        Controller::for_stream(feeds.bindings.applied(), ctx.stores.bindings.clone())
            .reconcile_on(feeds.listeners.subscribe().filter_map(|change| {
                futures::future::ready(binding::owning_binding(change.object()))
            }))
            .reconcile_on(feeds.pods.subscribe().filter_map(move |change| {
                let pod = change.object();
                let key =
                    ObjectRef::new(&pod.name_any()).within(&pod.namespace().unwrap_or_default());
                futures::future::ready(bindings_for_pods.get(&key).map(|_| key))
            }))
            .reconcile_on(feeds.pools.subscribe().flat_map(move |change| {
                futures::stream::iter(binding::bindings_using(
                    &bindings_for_pools,
                    &change.object().name_any(),
                ))
            })),
        binding::KIND,
        binding::reconcile,
        ctx.clone(),
        shutdown.clone(),
    );

    let managed_namespace = ctx.namespace.clone();
    let pool_controller = drive(
        Controller::for_stream(
            feeds.pools.applied().filter(move |pool| {
                futures::future::ready(
                    pool.as_ref()
                        .is_ok_and(|pool| pool::manages(pool, managed_namespace.as_deref())),
                )
            }),
            ctx.stores.pools.clone(),
        )
        .reconcile_on(feeds.listeners.subscribe().filter_map(|change| {
            futures::future::ready(
                change
                    .object()
                    .labels()
                    .get(labels::POOL)
                    .map(|pool| ObjectRef::<CLBPortPool>::new(pool)),
            )
        }))
        .reconcile_on(feeds.bindings.subscribe().flat_map(|change| {
            // A binding that found no port may make its pools grow.
            let pools: Vec<ObjectRef<CLBPortPool>> = match change.as_ref() {
                watch::Change::Applied(binding)
                    if binding
                        .status
                        .as_ref()
                        .is_some_and(|s| s.state == crate::crd::BindingState::NoPortAvailable) =>
                {
                    binding
                        .spec
                        .ports
                        .iter()
                        .flat_map(|p| p.pools.iter().map(|n| ObjectRef::new(n)))
                        .collect()
                }
                _ => Vec::new(),
            };
            futures::stream::iter(pools)
        })),
        pool::KIND,
        pool::reconcile,
        ctx.clone(),
        shutdown.clone(),
    );

    let metrics = ctx.metrics.clone();
    let ctx_for_metrics = ctx.clone();
    let ready = async move {
        if ctx_for_metrics.stores.wait_until_ready().await {
            readiness.set_ready();
            tracing::info!("caches synced; ready");
        }
        let mut last_sweep: Option<std::time::Instant> = None;
        loop {
            // Counted from the cache rather than on transitions, so a restart starts from the truth.
            count_bound(
                &metrics,
                &ctx_for_metrics.registry,
                &ctx_for_metrics.stores.listeners.state(),
            );
            if last_sweep.is_none_or(|at| at.elapsed() >= ctx_for_metrics.sweep.interval) {
                let stores = &ctx_for_metrics.stores;
                sweep::sweep_once(&ctx_for_metrics, &stores.services, &stores.listeners).await;
                last_sweep = Some(std::time::Instant::now());
            }
            tokio::time::sleep(Duration::from_secs(5)).await;
        }
    };
    // What Pods are told: one annotation patch per Pod, the readiness gate, Agones. Besides the
    // Pods that ask for the gate or Agones, every Pod some child names as its backend: a Pod
    // recreated under a kept child's name has lost its annotations, and the child may not
    // change again to say so (it stays Bound, at the same address).
    let backends = ctx.stores.listeners.clone();
    let pod_address_controller = drive(
        Controller::for_stream(
            feeds.pods.applied().filter(move |pod| {
                futures::future::ready(pod.as_ref().is_ok_and(|pod| {
                    pod_address::concerns(pod) || pod_address::is_backend(pod, &backends)
                }))
            }),
            ctx.stores.pods.clone(),
        )
        .reconcile_on(feeds.listeners.subscribe().filter_map(move |change| {
            let child = change.object();
            let pod = child.spec.backend_pod.as_ref().map(|backend| {
                ObjectRef::<CachedPod>::new(&backend.pod_name)
                    .within(&child.namespace().unwrap_or_default())
            });
            futures::future::ready(pod)
        }))
        // A binding is named after its Pod; its state tells the gate what a port lacks.
        .reconcile_on(feeds.bindings.subscribe().map(|change| {
            let binding = change.object();
            ObjectRef::<CachedPod>::new(&binding.name_any())
                .within(&binding.namespace().unwrap_or_default())
        })),
        pod_address::KIND,
        pod_address::reconcile,
        ctx.clone(),
        shutdown.clone(),
    );

    // OpenKruise Game and Agones, once (and if) they are installed.
    let okg_ctx = ctx.clone();
    let okg_shutdown = shutdown.clone();
    let okg_controller = async move {
        let resource = gameserverset::discovered(&okg_ctx.client).await;
        let api: Api<kube::api::DynamicObject> = match okg_ctx.namespace.as_deref() {
            Some(namespace) => Api::namespaced_with(okg_ctx.client.clone(), namespace, &resource),
            None => Api::all_with(okg_ctx.client.clone(), &resource),
        };
        drive(
            Controller::new_with(api, kube::runtime::watcher::Config::default(), resource),
            gameserverset::KIND,
            gameserverset::reconcile,
            okg_ctx,
            okg_shutdown,
        )
        .await;
    };
    let agones_ctx = ctx.clone();
    let agones_discovery = async move {
        let gvk = kube::core::GroupVersionKind::gvk("agones.dev", "v1", "GameServer");
        loop {
            if let Ok((resource, _)) = kube::discovery::pinned_kind(&agones_ctx.client, &gvk).await
            {
                tracing::info!("Agones found: GameServers get their Pods' addresses");
                let _ = agones_ctx.agones.set(resource);
                break;
            }
            tokio::time::sleep(Duration::from_secs(60)).await;
        }
        std::future::pending::<()>().await;
    };

    let controllers = futures::future::join_all([
        service_controller.boxed(),
        listener_controller.boxed(),
        pod_controller.boxed(),
        binding_controller.boxed(),
        pool_controller.boxed(),
        pod_address_controller.boxed(),
    ]);
    let discovered = futures::future::join(okg_controller, agones_discovery);
    futures::select! {
        _ = controllers.fuse() => {}
        _ = Box::pin(discovered).fuse() => {}
        _ = Box::pin(ready).fuse() => {}
        _ = watching.collect::<()>().fuse() => {}
    }
}

/// The services in the Pod's namespace whose selector matches it.
fn services_selecting(
    services: &Store<DedicatedCLBService>,
    pod: &CachedPod,
) -> Vec<ObjectRef<DedicatedCLBService>> {
    let labels = pod.labels();
    services
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
        .collect()
}

/// The services a child names as its owner.
fn owning_services(child: &DedicatedCLBListener) -> Vec<ObjectRef<DedicatedCLBService>> {
    let namespace = child.namespace().unwrap_or_default();
    child
        .owner_references()
        .iter()
        .filter(|owner| owner.kind == "DedicatedCLBService")
        .map(|owner| ObjectRef::new(&owner.name).within(&namespace))
        .collect()
}

/// What a listener's reconcile acts on, hashed: all but its status. Its status is its own
/// reconcile's output; reconciling again on each status write (as a controller does by default)
/// doubled the ensures a fleet queued on its frontends.
fn listener_inputs(listener: &DedicatedCLBListener) -> Option<u64> {
    use std::hash::{Hash, Hasher};
    let meta = &listener.metadata;
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    (
        meta.generation,
        &meta.labels,
        &meta.annotations,
        &meta.finalizers,
        meta.deletion_timestamp.as_ref().map(|t| t.0.as_second()),
    )
        .hash(&mut hasher);
    Some(hasher.finish())
}

/// The listeners made with a `CLBListenerConfig`.
fn listeners_using_config(
    listeners: &Store<DedicatedCLBListener>,
    config: &crate::crd::CLBListenerConfig,
) -> Vec<ObjectRef<DedicatedCLBListener>> {
    let name = config.name_any();
    listeners
        .state()
        .iter()
        .filter(|listener| listener.namespace() == config.namespace())
        .filter(|listener| listener.spec.listener_config.as_deref() == Some(name.as_str()))
        .map(|listener| ObjectRef::from_obj(listener.as_ref()))
        .collect()
}

/// The listeners whose backend the Pod is (a new IP, deleted).
fn listeners_of_pod(
    listeners: &Store<DedicatedCLBListener>,
    pod: &CachedPod,
) -> Vec<ObjectRef<DedicatedCLBListener>> {
    let name = pod.name_any();
    listeners
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
        .collect()
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

#[cfg(test)]
mod tests {
    use super::*;
    use dac_provider_api::ProviderError;

    #[test]
    fn the_longer_of_backoff_and_the_clouds_hint_is_waited_also_inside_a_finalizer_error() {
        let plain = Error::Provider(ProviderError::retryable("busy"));
        let delays: Vec<u64> = (1..=10).map(|n| retry_delay(n, &plain).as_secs()).collect();
        assert_eq!(delays, [1, 2, 4, 8, 16, 32, 64, 128, 256, 256]);

        let hinted = || ProviderError::retry_after("throttled", Duration::from_secs(20));
        // A hint longer than the backoff wins; a shorter one does not shorten it.
        assert_eq!(
            retry_delay(1, &Error::Provider(hinted())),
            Duration::from_secs(20)
        );
        assert_eq!(
            retry_delay(7, &Error::Provider(hinted())),
            Duration::from_secs(64)
        );
        // A listener's error comes wrapped by the finalizer helper; its hint still counts.
        let wrapped = Error::Finalizer(Box::new(kube::runtime::finalizer::Error::ApplyFailed(
            Error::Provider(hinted()),
        )));
        assert_eq!(retry_delay(1, &wrapped), Duration::from_secs(20));
    }
}
