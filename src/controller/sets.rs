//! What the StatefulSets behind Pods want: which ordinals they keep Pods for.
//!
//! The service reads a set fresh on each reconcile (it releases ports by it). Listeners only ask
//! whether their terminating Pod is being scaled away, many at once when a fleet scales down, so
//! they share a read for a second ([`RecentOrdinals`]).
use super::pods::{SetRef, WantedOrdinals};
use crate::Result;
use dac_provider_support::ttl_cache::TtlCache;
use kube::Client;
use kube::api::{Api, DynamicObject};
use kube::core::{ApiResource, GroupVersionKind};
use std::time::Duration;

/// The ordinals a StatefulSet of either kind wants now; none when it is gone (or its kind is
/// not installed).
pub async fn wanted_ordinals(
    client: &Client,
    namespace: &str,
    set: &SetRef,
) -> Result<WantedOrdinals> {
    let (group, version) = set
        .api_version
        .split_once('/')
        .unwrap_or(("", set.api_version.as_str()));
    let resource = ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk(group, version, "StatefulSet"),
        "statefulsets",
    );
    let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), namespace, &resource);
    let found = match api.get_opt(&set.name).await {
        Ok(found) => found,
        // The kind is not installed (no OpenKruise in this cluster): nothing is wanted.
        Err(kube::Error::Api(status)) if status.code == 404 => None,
        Err(error) => return Err(error.into()),
    };
    Ok(found
        .and_then(|set| serde_json::to_value(set).ok())
        .map(|set| WantedOrdinals::of_set(&set))
        .unwrap_or_default())
}

/// [`wanted_ordinals`] read at most once a second per set, however many ask at once.
pub struct RecentOrdinals {
    cache: TtlCache<String, WantedOrdinals>,
    /// Held while reading, so that callers arriving together wait for one read.
    reading: tokio::sync::Mutex<()>,
}

impl Default for RecentOrdinals {
    fn default() -> Self {
        Self {
            cache: TtlCache::new(Duration::from_secs(1)),
            reading: tokio::sync::Mutex::new(()),
        }
    }
}

impl RecentOrdinals {
    pub async fn get(
        &self,
        client: &Client,
        namespace: &str,
        set: &SetRef,
    ) -> Result<WantedOrdinals> {
        let key = format!("{namespace}/{}", set.to_annotation());
        if let Some(wanted) = self.cache.get(&key) {
            return Ok(wanted);
        }
        let _reading = self.reading.lock().await;
        if let Some(wanted) = self.cache.get(&key) {
            return Ok(wanted);
        }
        let wanted = wanted_ordinals(client, namespace, set).await?;
        self.cache.insert(key, wanted.clone());
        Ok(wanted)
    }
}

/// Since when each listener (by `namespace/name`) has waited for its service to delete it.
#[derive(Default)]
pub struct Handovers(std::sync::Mutex<std::collections::HashMap<String, tokio::time::Instant>>);

impl Handovers {
    /// `waits`: whether the listener is to wait for its deletion now. Returns how much longer it
    /// waits: `None` when it does not, or has waited `limit` already (then it acts itself).
    pub fn waiting(&self, key: &str, waits: bool, limit: Duration) -> Option<Duration> {
        let mut since = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if !waits {
            since.remove(key);
            return None;
        }
        let first = *since
            .entry(key.to_string())
            .or_insert_with(tokio::time::Instant::now);
        limit
            .checked_sub(first.elapsed())
            .filter(|left| !left.is_zero())
    }

    /// The listener is gone.
    pub fn forget(&self, key: &str) {
        let mut since = self.0.lock().unwrap_or_else(|p| p.into_inner());
        since.remove(key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_listener_waits_for_its_deletion_once_and_only_so_long() {
        let handovers = Handovers::default();
        let limit = Duration::from_secs(15);
        assert_eq!(handovers.waiting("ns/a", false, limit), None);
        assert_eq!(handovers.waiting("ns/a", true, limit), Some(limit));
        tokio::time::advance(Duration::from_secs(10)).await;
        assert_eq!(
            handovers.waiting("ns/a", true, limit),
            Some(Duration::from_secs(5)),
            "the wait counts from the first time"
        );
        tokio::time::advance(Duration::from_secs(5)).await;
        assert_eq!(
            handovers.waiting("ns/a", true, limit),
            None,
            "waited enough"
        );
        assert_eq!(
            handovers.waiting("ns/a", true, limit),
            None,
            "and does not start over"
        );
        // Wanted again (scaled back up): a later scale-down waits afresh.
        assert_eq!(handovers.waiting("ns/a", false, limit), None);
        assert_eq!(handovers.waiting("ns/a", true, limit), Some(limit));
        handovers.forget("ns/a");
        assert_eq!(handovers.waiting("ns/a", true, limit), Some(limit));
    }
}
