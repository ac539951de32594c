//! One async lock per Pod. The controller ensures every port of a Pod as its own binding, often
//! at the same moment; they must all end on one EIP, and the steps of one (allocate, wait,
//! associate, wait) must not interleave with another's. Different Pods never wait for each
//! other. Entries are dropped when nobody holds or waits for them, so the map does not grow
//! with every Pod ever seen.
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::OwnedMutexGuard;

use crate::marker::PodKey;

type Key = (String, PodKey);

#[derive(Debug, Default)]
pub(crate) struct PodLocks {
    locks: Mutex<HashMap<Key, Arc<tokio::sync::Mutex<()>>>>,
}

/// Held while one call works on a Pod.
pub(crate) struct PodGuard<'a> {
    owner: &'a PodLocks,
    key: Key,
    guard: Option<OwnedMutexGuard<()>>,
}

impl PodLocks {
    pub async fn lock(&self, region: &str, pod: &PodKey) -> PodGuard<'_> {
        let key = (region.to_string(), pod.clone());
        let lock = {
            let mut locks = self.locks.lock().unwrap_or_else(|e| e.into_inner());
            Arc::clone(locks.entry(key.clone()).or_default())
        };
        PodGuard {
            owner: self,
            key,
            guard: Some(lock.lock_owned().await),
        }
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.locks.lock().unwrap().len()
    }
}

impl Drop for PodGuard<'_> {
    fn drop(&mut self) {
        let mut locks = self.owner.locks.lock().unwrap_or_else(|e| e.into_inner());
        self.guard.take();
        // The map's reference is the only one left: nobody holds or waits. Waiters clone the
        // Arc under the map's mutex, which we hold, so none can appear in between.
        if locks
            .get(&self.key)
            .is_some_and(|lock| Arc::strong_count(lock) == 1)
        {
            locks.remove(&self.key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    #[tokio::test]
    async fn one_pod_at_a_time_others_in_parallel_and_no_leftovers() {
        let locks = Arc::new(PodLocks::default());
        let inside = Arc::new(AtomicUsize::new(0));
        let most = Arc::new(AtomicUsize::new(0));
        let mut tasks = tokio::task::JoinSet::new();
        for i in 0..8 {
            let (locks, inside, most) = (locks.clone(), inside.clone(), most.clone());
            tasks.spawn(async move {
                let pod = PodKey::new("ns", if i % 2 == 0 { "a" } else { "b" });
                let _guard = locks.lock("r", &pod).await;
                let now = inside.fetch_add(1, Ordering::SeqCst) + 1;
                most.fetch_max(now, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(5)).await;
                inside.fetch_sub(1, Ordering::SeqCst);
            });
        }
        tasks.join_all().await;
        assert_eq!(most.load(Ordering::SeqCst), 2, "one per Pod, two Pods");
        assert_eq!(locks.len(), 0);
    }
}
