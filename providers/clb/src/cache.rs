//! Short-lived caches of slow-changing reads (CLB VIPs, the listener quota, how many listeners
//! others hold), so that every reconcile does not cost a DescribeLoadBalancers and a
//! DescribeQuota against the per-account rate limits the writes need.
use std::collections::HashMap;
use std::hash::Hash;
use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

/// A map whose entries expire `ttl` after they were written.
#[derive(Debug)]
pub(crate) struct TtlCache<K, V> {
    ttl: Duration,
    entries: Mutex<HashMap<K, (Instant, V)>>,
}

impl<K: Eq + Hash, V: Clone> TtlCache<K, V> {
    pub fn new(ttl: Duration) -> Self {
        Self {
            ttl,
            entries: Mutex::new(HashMap::new()),
        }
    }

    /// The value, unless it is missing or older than the TTL.
    pub fn get(&self, key: &K) -> Option<V> {
        let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        entries
            .get(key)
            .filter(|(at, _)| at.elapsed() < self.ttl)
            .map(|(_, v)| v.clone())
    }

    pub fn insert(&self, key: K, value: V) {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        entries.insert(key, (Instant::now(), value));
    }

    pub fn remove(&self, key: &K) {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        entries.remove(key);
    }
}

/// What the provider needs to know about a CLB instance.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct LoadBalancerInfo {
    /// The first VIP: the address the bindings' `IP:port` uses. `None` while the cloud has not
    /// assigned one yet.
    pub vip: Option<String>,
}

/// The caches one provider shares with its workers. Keys are (region, load balancer id), or
/// the region for the quota (the listener quota is per instance but the same for all of them).
#[derive(Debug)]
pub(crate) struct Caches {
    pub load_balancers: TtlCache<(String, String), LoadBalancerInfo>,
    pub listener_quota: TtlCache<String, u32>,
    /// Listeners on an instance that are not this cluster's: the part of the quota we cannot use.
    pub foreign_listeners: TtlCache<(String, String), u32>,
}

impl Caches {
    pub fn new(config: &crate::ClbProviderConfig) -> Self {
        Self {
            load_balancers: TtlCache::new(config.load_balancer_cache_ttl()),
            listener_quota: TtlCache::new(config.quota_cache_ttl()),
            foreign_listeners: TtlCache::new(config.listener_count_cache_ttl()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn entries_expire_after_the_ttl() {
        let cache = TtlCache::new(Duration::from_secs(10));
        cache.insert("lb-1", 3u32);
        assert_eq!(cache.get(&"lb-1"), Some(3));
        tokio::time::advance(Duration::from_secs(9)).await;
        assert_eq!(cache.get(&"lb-1"), Some(3));
        tokio::time::advance(Duration::from_secs(2)).await;
        assert_eq!(cache.get(&"lb-1"), None);
        cache.insert("lb-1", 4);
        cache.remove(&"lb-1");
        assert_eq!(cache.get(&"lb-1"), None);
    }
}
