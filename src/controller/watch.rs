//! One watch per kind, shared: every controller that needs Pods (or listeners, or services)
//! reads the same reflector store and is woken from the same watch, so the API server serves
//! one watch per kind and the process keeps one copy of each object, trimmed to what the
//! controller reads.
//!
//! The fan-out is ours, through unbounded channels, rather than kube's shared-stream
//! subscriptions (an unstable feature): those never deliver deletions, and a subscriber whose
//! object vanished before it was polled stalls until something else wakes it.
use super::cached_pod::CachedPod;
use crate::crd::{
    CLBListenerConfig, CLBPodBinding, CLBPortPool, DedicatedCLBListener, DedicatedCLBService,
};
use futures::channel::mpsc::{UnboundedReceiver, UnboundedSender};
use futures::{Stream, StreamExt};
use kube::runtime::reflector::{self, Store};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Api, Client, Resource};
use serde::de::DeserializeOwned;
use std::fmt::Debug;
use std::hash::Hash;
use std::sync::{Arc, Mutex};

/// The watch caches every reconcile reads from.
#[derive(Clone)]
pub struct Stores {
    pub pods: Store<CachedPod>,
    pub listeners: Store<DedicatedCLBListener>,
    pub services: Store<DedicatedCLBService>,
    pub pools: Store<CLBPortPool>,
    pub bindings: Store<CLBPodBinding>,
    pub listener_configs: Store<CLBListenerConfig>,
}

/// The writing ends of [`Stores`] and the feeds of their changes; [`Watches::run`] drives them.
pub struct Watches {
    pods: reflector::store::Writer<CachedPod>,
    listeners: reflector::store::Writer<DedicatedCLBListener>,
    services: reflector::store::Writer<DedicatedCLBService>,
    pools: reflector::store::Writer<CLBPortPool>,
    bindings: reflector::store::Writer<CLBPodBinding>,
    listener_configs: reflector::store::Writer<CLBListenerConfig>,
    pub feeds: Feeds,
}

/// Every change the watches see, for controllers to be woken by.
#[derive(Clone, Default)]
pub struct Feeds {
    pub pods: Feed<CachedPod>,
    pub listeners: Feed<DedicatedCLBListener>,
    pub services: Feed<DedicatedCLBService>,
    pub pools: Feed<CLBPortPool>,
    pub bindings: Feed<CLBPodBinding>,
    pub listener_configs: Feed<CLBListenerConfig>,
}

/// An object that was added or changed, or deleted.
#[derive(Debug)]
pub enum Change<K> {
    Applied(Arc<K>),
    Deleted(Arc<K>),
}

impl<K> Change<K> {
    pub fn object(&self) -> &K {
        match self {
            Change::Applied(object) | Change::Deleted(object) => object,
        }
    }
}

/// The changes of one kind, fanned out to every subscriber.
pub struct Feed<K> {
    senders: Arc<Mutex<Vec<Subscriber<K>>>>,
}

type Subscriber<K> = UnboundedSender<Arc<Change<K>>>;

impl<K> Clone for Feed<K> {
    fn clone(&self) -> Self {
        Self {
            senders: Arc::clone(&self.senders),
        }
    }
}

impl<K> Default for Feed<K> {
    fn default() -> Self {
        Self {
            senders: Arc::default(),
        }
    }
}

impl<K: Clone + Send + Sync + 'static> Feed<K> {
    /// Every change from now on.
    pub fn subscribe(&self) -> UnboundedReceiver<Arc<Change<K>>> {
        let (sender, receiver) = futures::channel::mpsc::unbounded();
        self.senders
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .push(sender);
        receiver
    }

    /// Objects added or changed, as a controller's primary stream.
    pub fn applied(&self) -> impl Stream<Item = Result<K, watcher::Error>> + Send + 'static {
        self.subscribe().filter_map(|change| {
            futures::future::ready(match change.as_ref() {
                Change::Applied(object) => Some(Ok(K::clone(object))),
                Change::Deleted(_) => None,
            })
        })
    }

    fn publish(&self, change: Change<K>) {
        let change = Arc::new(change);
        let mut senders = self
            .senders
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        senders.retain(|sender| sender.unbounded_send(Arc::clone(&change)).is_ok());
    }
}

pub fn stores() -> (Stores, Watches) {
    let (pods, pods_writer) = reflector::store();
    let (listeners, listeners_writer) = reflector::store();
    let (services, services_writer) = reflector::store();
    let (pools, pools_writer) = reflector::store();
    let (bindings, bindings_writer) = reflector::store();
    let (listener_configs, listener_configs_writer) = reflector::store();
    (
        Stores {
            pods,
            listeners,
            services,
            pools,
            bindings,
            listener_configs,
        },
        Watches {
            pods: pods_writer,
            listeners: listeners_writer,
            services: services_writer,
            pools: pools_writer,
            bindings: bindings_writer,
            listener_configs: listener_configs_writer,
            feeds: Feeds::default(),
        },
    )
}

impl Stores {
    /// Resolves once every store holds its first full listing.
    pub async fn wait_until_ready(&self) -> bool {
        self.pods.wait_until_ready().await.is_ok()
            && self.listeners.wait_until_ready().await.is_ok()
            && self.services.wait_until_ready().await.is_ok()
            && self.pools.wait_until_ready().await.is_ok()
            && self.bindings.wait_until_ready().await.is_ok()
            && self.listener_configs.wait_until_ready().await.is_ok()
    }
}

impl Watches {
    /// The watches that feed the stores and the feeds; must be polled for anything to move.
    pub fn run(
        self,
        client: &Client,
        namespace: Option<&str>,
    ) -> impl Stream<Item = ()> + Send + 'static {
        let pods = shared(
            super::scoped::<CachedPod>(client, namespace),
            self.pods,
            CachedPod::trim,
            self.feeds.pods,
        );
        let listeners = shared(
            super::scoped::<DedicatedCLBListener>(client, namespace),
            self.listeners,
            drop_managed_fields,
            self.feeds.listeners,
        );
        let services = shared(
            super::scoped::<DedicatedCLBService>(client, namespace),
            self.services,
            drop_managed_fields,
            self.feeds.services,
        );
        let bindings = shared(
            super::scoped::<CLBPodBinding>(client, namespace),
            self.bindings,
            drop_managed_fields,
            self.feeds.bindings,
        );
        let listener_configs = shared(
            super::scoped::<CLBListenerConfig>(client, namespace),
            self.listener_configs,
            drop_managed_fields,
            self.feeds.listener_configs,
        );
        // Pools are cluster-scoped: read by every controller, whatever it serves.
        let pools = shared(
            Api::<CLBPortPool>::all(client.clone()),
            self.pools,
            drop_managed_fields,
            self.feeds.pools,
        );
        futures::stream::select_all([
            pods.boxed(),
            listeners.boxed(),
            services.boxed(),
            pools.boxed(),
            bindings.boxed(),
            listener_configs.boxed(),
        ])
    }
}

fn shared<K>(
    api: Api<K>,
    writer: reflector::store::Writer<K>,
    trim: fn(&mut K),
    feed: Feed<K>,
) -> impl Stream<Item = ()> + Send + 'static
where
    K: Resource + Clone + DeserializeOwned + Debug + Send + Sync + 'static,
    K::DynamicType: Eq + Hash + Clone + Default,
{
    let store = writer.as_reader();
    reflector::reflector(
        writer,
        watcher(api, watcher::Config::default())
            .default_backoff()
            .modify(trim),
    )
    .map(move |event| match event {
        Ok(watcher::Event::Apply(object)) => feed.publish(Change::Applied(Arc::new(object))),
        Ok(watcher::Event::Delete(object)) => feed.publish(Change::Deleted(Arc::new(object))),
        // A (re)listing reaches the store whole at its end, so it is announced then: a
        // controller woken earlier would not find the object yet.
        Ok(watcher::Event::InitDone) => {
            for object in store.state() {
                feed.publish(Change::Applied(object));
            }
        }
        Ok(watcher::Event::Init | watcher::Event::InitApply(_)) => {}
        Err(error) => tracing::warn!(%error, "watch failed; retrying with backoff"),
    })
}

fn drop_managed_fields<K: Resource>(object: &mut K) {
    object.meta_mut().managed_fields = None;
}
