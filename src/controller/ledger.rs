//! Children this process created that the watch cache may not show yet. Allocation reads the
//! cache; without this, a reconcile right after a create could hand the same slot out again
//! (client-go calls the same idea "expectations"). Held under the allocation lock, so it is
//! the leader's alone, and rebuilt from nothing after a restart (the cache is then complete).
use crate::allocation::{Allocation, PortSlot};
use std::time::{Duration, Instant};

/// After this long a create the cache still does not show is assumed lost (it failed, or the
/// object was deleted at once) and stops holding its slot.
const FORGET_AFTER: Duration = Duration::from_secs(60);

#[derive(Debug, Default)]
pub struct Ledger {
    entries: Vec<Entry>,
}

#[derive(Debug)]
struct Entry {
    namespace: String,
    child: String,
    /// The uid of the resource (service, binding) whose child it is.
    owner: String,
    allocation: Allocation,
    created: Instant,
}

impl Ledger {
    pub fn record(&mut self, namespace: &str, child: &str, owner: &str, allocation: Allocation) {
        self.entries.push(Entry {
            namespace: namespace.to_string(),
            child: child.to_string(),
            owner: owner.to_string(),
            allocation,
            created: Instant::now(),
        });
    }

    /// Forgets a create that did not happen.
    pub fn forget(&mut self, namespace: &str, child: &str) {
        self.entries
            .retain(|entry| !(entry.namespace == namespace && entry.child == child));
    }

    /// Forgets what the cache shows now (`visible(namespace, name)`), and what is too old.
    pub fn prune(&mut self, visible: impl Fn(&str, &str) -> bool) {
        self.entries.retain(|entry| {
            entry.created.elapsed() < FORGET_AFTER && !visible(&entry.namespace, &entry.child)
        });
    }

    /// `owner`'s allocations that the cache does not show yet.
    pub fn pending_of(&self, owner: &str) -> Vec<Allocation> {
        self.entries
            .iter()
            .filter(|entry| entry.owner == owner)
            .map(|entry| entry.allocation.clone())
            .collect()
    }

    /// Slots others' not-yet-visible children hold.
    pub fn pending_slots_not_of(&self, owner: &str) -> Vec<PortSlot> {
        self.entries
            .iter()
            .filter(|entry| entry.owner != owner)
            .map(|entry| entry.allocation.slot.clone())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::allocation::AllocationKey;
    use dac_provider_api::Protocol;

    fn allocation(port: u16) -> Allocation {
        Allocation {
            key: AllocationKey::new("gs-0", Protocol::Tcp, 80),
            slot: PortSlot {
                frontend_id: "lb-1".into(),
                public_ip: None,
                port,
                protocol: Protocol::Tcp,
            },
        }
    }

    #[test]
    fn creates_hold_their_slots_until_the_cache_shows_them() {
        let mut ledger = Ledger::default();
        ledger.record("ns", "a-gs-0-tcp-80", "uid-a", allocation(501));
        ledger.record("ns", "b-gs-0-tcp-80", "uid-b", allocation(502));
        assert_eq!(ledger.pending_of("uid-a"), [allocation(501)]);
        assert_eq!(ledger.pending_slots_not_of("uid-a"), [allocation(502).slot]);
        ledger.prune(|_, name| name == "a-gs-0-tcp-80");
        assert!(ledger.pending_of("uid-a").is_empty());
        assert_eq!(ledger.pending_of("uid-b").len(), 1);
    }
}
