//! A small map whose entries expire, for cloud reads that change slowly (a CLB's VIP, a
//! gateway's EIPs, how many listeners or rules others hold) and would otherwise cost a call on
//! every reconcile against the rate limits the writes need.
use std::collections::HashMap;
use std::hash::Hash;
use std::sync::Mutex;
use std::time::Duration;

// Tokio's clock, not std's: tests pause and advance it.
use tokio::time::Instant;

/// A map whose entries expire `ttl` after they were written.
#[derive(Debug)]
pub struct TtlCache<K, V> {
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
        let (at, value) = entries.get(key)?;
        (at.elapsed() < self.ttl).then(|| value.clone())
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
