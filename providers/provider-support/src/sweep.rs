//! What keeps the orphan sweep from releasing something an `ensure` took up after the sweep
//! listed it.
//!
//! The controller lists a provider's resources (`list_owned`), checks each against the API
//! server, and releases those that no binding claims (`release_orphan`). Between the listing
//! and the release a binding may appear and its `ensure` adopt that very resource. A provider
//! notes here every resource it lists and every one an `ensure` adopts, each with a number from
//! one sequence; its `release_orphan` then releases only what was listed, still carries the
//! marker it carried then, and was not adopted since. The check runs inside the provider's
//! serialisation of the frontend (its write queue), so no `ensure` can come in between the
//! check and the delete.
use std::collections::HashMap;
use std::sync::Mutex;

/// What a listing saw of one resource.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Listing {
    /// Its place in the sequence of listings and adoptions.
    pub seq: u64,
    /// The marker (listener name, rule description) it carried.
    pub marker: String,
}

#[derive(Debug, Default)]
struct Entry {
    listed: Option<Listing>,
    /// The sequence number of the last adoption, 0 if none.
    adopted: u64,
}

/// Listings and adoptions of resources, by a key the provider chooses (region, frontend and
/// resource id).
#[derive(Debug, Default)]
pub struct SweepGuard {
    next: Mutex<u64>,
    entries: Mutex<HashMap<String, Entry>>,
}

impl SweepGuard {
    fn next_seq(&self) -> u64 {
        let mut next = self.next.lock().unwrap_or_else(|e| e.into_inner());
        *next += 1;
        *next
    }

    fn with_entry<T>(&self, key: &str, f: impl FnOnce(&mut Entry) -> T) -> T {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        f(entries.entry(key.to_string()).or_default())
    }

    /// `list_owned` reported the resource `key`, carrying `marker`.
    pub fn listed(&self, key: &str, marker: &str) {
        let seq = self.next_seq();
        self.with_entry(key, |e| {
            e.listed = Some(Listing {
                seq,
                marker: marker.to_string(),
            });
        });
    }

    /// An `ensure` uses the resource `key` (adopted it, created it, pointed it at its backend).
    pub fn adopted(&self, key: &str) {
        let seq = self.next_seq();
        self.with_entry(key, |e| e.adopted = seq);
    }

    /// The resource is gone: nothing more to guard.
    pub fn forget(&self, key: &str) {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        entries.remove(key);
    }

    /// What the last listing saw of `key`, if a listing reported it.
    pub fn listing(&self, key: &str) -> Option<Listing> {
        let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        entries.get(key).and_then(|e| e.listed.clone())
    }

    /// Whether the resource `key`, now carrying `current_marker`, may still be released as the
    /// orphan `listing` saw; `Err` says why not.
    pub fn releasable(
        &self,
        key: &str,
        listing: &Listing,
        current_marker: &str,
    ) -> Result<(), &'static str> {
        if current_marker != listing.marker {
            return Err("its marker changed since it was listed");
        }
        let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        match entries.get(key) {
            Some(e) if e.adopted > listing.seq => {
                Err("a binding's ensure took it up after it was listed")
            }
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_what_was_listed_and_not_adopted_since_is_releasable() {
        let guard = SweepGuard::default();
        assert_eq!(guard.listing("lbl-1"), None);
        guard.adopted("lbl-1");
        guard.listed("lbl-1", "dac_c_ns_a");
        let listing = guard.listing("lbl-1").unwrap();
        assert_eq!(guard.releasable("lbl-1", &listing, "dac_c_ns_a"), Ok(()));
        assert!(guard.releasable("lbl-1", &listing, "dac_c_ns_b").is_err());
        guard.adopted("lbl-1");
        assert!(guard.releasable("lbl-1", &listing, "dac_c_ns_a").is_err());
        // A new listing after the adoption may release it again.
        guard.listed("lbl-1", "dac_c_ns_a");
        let again = guard.listing("lbl-1").unwrap();
        assert_eq!(guard.releasable("lbl-1", &again, "dac_c_ns_a"), Ok(()));
        guard.forget("lbl-1");
        assert_eq!(guard.listing("lbl-1"), None);
    }
}
