//! What the provider knows about one region: this cluster's EIPs as last read or written, and
//! who holds each of them. Plain data behind a `std` mutex, never held across an `.await`:
//! every decision that two tasks could race on (taking a pool EIP, expiring a kept one) is one
//! call here, so it is atomic.
//!
//! Holding is the provider's memory, rebuilt after a restart from what the cloud and the
//! controller say (an EIP bound to a Pod's IP, a binding's `resource_id`, the name an EIP was
//! allocated under); see [`crate::marker`] for why the name alone cannot say it.
use std::collections::{BTreeMap, HashMap};

use dac_tencentcloud::models::vpc;
use tokio::time::Instant;

use crate::marker::{self, Origin, PodKey};

/// `AddressStatus`, as far as this provider cares.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    Creating,
    Binding,
    /// `BIND`, or `BIND_ENI` (bound to an ENI that no CVM holds).
    Bound,
    Unbinding,
    Unbound,
    Offlining,
    /// A status this provider does not know: left alone until it settles.
    Other,
}

impl Status {
    pub fn parse(status: &str) -> Self {
        match status {
            "CREATING" => Self::Creating,
            "BINDING" => Self::Binding,
            "BIND" | "BIND_ENI" => Self::Bound,
            "UNBINDING" => Self::Unbinding,
            "UNBIND" => Self::Unbound,
            "OFFLINING" => Self::Offlining,
            _ => Self::Other,
        }
    }

    /// A task is (or may be) running on the EIP: writes would be refused.
    pub fn in_transition(self) -> bool {
        !matches!(self, Self::Bound | Self::Unbound)
    }
}

/// One of this cluster's EIPs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EipRecord {
    pub id: String,
    /// The public IP; unknown for a moment after AllocateAddresses, which answers with ids only.
    pub ip: Option<String>,
    pub name: String,
    pub origin: Origin,
    pub status: Status,
    /// The private IP it is bound to.
    pub private_ip: Option<String>,
    /// When this was last read from the cloud or set by a write of ours that succeeded.
    pub seen: Instant,
}

impl EipRecord {
    /// The record of `address` if it carries `cluster`'s marker.
    pub fn from_model(cluster: &str, address: &vpc::Address, seen: Instant) -> Option<Self> {
        let id = address.address_id.clone().filter(|id| !id.is_empty())?;
        let name = address.address_name.clone().unwrap_or_default();
        let origin = marker::parse(cluster, &name);
        if !origin.is_ours() {
            return None;
        }
        let status = Status::parse(address.address_status.as_deref().unwrap_or_default());
        Some(Self {
            id,
            ip: address.address_ip.clone().filter(|ip| !ip.is_empty()),
            name,
            origin,
            status,
            private_ip: address
                .private_address_ip
                .clone()
                .filter(|ip| !ip.is_empty() && status != Status::Unbound),
            seen,
        })
    }

    /// A record for EIPs we just allocated, before the cloud has told us their IPs.
    pub fn allocated(id: String, name: String, origin: Origin, seen: Instant) -> Self {
        Self {
            id,
            ip: None,
            name,
            origin,
            status: Status::Creating,
            private_ip: None,
            seen,
        }
    }

    pub fn bound_to(&self, ip: &str) -> bool {
        self.status == Status::Bound && self.private_ip.as_deref() == Some(ip)
    }
}

/// Who holds an EIP.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Holder {
    Pod(PodKey),
    /// The background task is releasing it: nobody may take it.
    Maintenance,
}

/// A Pod's hold on an EIP.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Claim {
    pub eip: String,
    /// Set while the EIP is kept for a Pod that is gone (retention `KeepFor`).
    pub kept_until: Option<Instant>,
}

/// One region's EIPs and holds.
#[derive(Debug, Default)]
pub struct RegionState {
    pub records: BTreeMap<String, EipRecord>,
    /// When the last full listing started.
    pub listed_at: Option<Instant>,
    holders: HashMap<String, Holder>,
    claims: HashMap<PodKey, Claim>,
    /// The ClientToken of an AllocateAddresses whose outcome is unknown (a timeout), by Pod:
    /// sent again with the next attempt, so that the cloud answers with what the first one
    /// created instead of allocating again.
    pub tokens: HashMap<PodKey, String>,
}

impl RegionState {
    /// Takes in a full listing that started at `started`. Records written after that are newer
    /// than the listing and kept; records the listing lacks and that are older are gone.
    pub fn apply_listing(&mut self, listed: Vec<EipRecord>, started: Instant) {
        let mut listed: BTreeMap<String, EipRecord> =
            listed.into_iter().map(|r| (r.id.clone(), r)).collect();
        let known: Vec<String> = self.records.keys().cloned().collect();
        for id in known {
            let newer = self.records[&id].seen > started;
            match listed.remove(&id) {
                Some(_) if newer => {}
                Some(record) => {
                    self.records.insert(id, record);
                }
                None if newer => {}
                None => self.forget(&id),
            }
        }
        self.records.extend(listed);
        self.listed_at = Some(started);
    }

    /// Records what a read or write of one EIP showed.
    pub fn upsert(&mut self, record: EipRecord) {
        self.records.insert(record.id.clone(), record);
    }

    /// The EIP is gone from the cloud: drop it, and any hold on it.
    pub fn forget(&mut self, id: &str) {
        self.records.remove(id);
        if let Some(Holder::Pod(pod)) = self.holders.remove(id) {
            self.claims.remove(&pod);
        }
    }

    pub fn holder(&self, id: &str) -> Option<&Holder> {
        self.holders.get(id)
    }

    pub fn claim(&self, pod: &PodKey) -> Option<&Claim> {
        self.claims.get(pod)
    }

    /// The EIP `pod` holds, no longer merely kept: the Pod is back.
    pub fn reclaim(&mut self, pod: &PodKey) -> Option<String> {
        let claim = self.claims.get_mut(pod)?;
        claim.kept_until = None;
        Some(claim.eip.clone())
    }

    /// Gives `id` to `pod` unless someone else holds it.
    pub fn assign(&mut self, pod: &PodKey, id: &str) -> bool {
        match self.holders.get(id) {
            Some(Holder::Pod(holder)) if holder == pod => {}
            Some(_) => return false,
            None => {}
        }
        if let Some(old) = self.claims.get(pod)
            && old.eip != id
        {
            self.holders.remove(&old.eip);
        }
        self.holders
            .insert(id.to_string(), Holder::Pod(pod.clone()));
        self.claims.insert(
            pod.clone(),
            Claim {
                eip: id.to_string(),
                kept_until: None,
            },
        );
        true
    }

    /// `pod` lets go of its EIP, which becomes free (a pool EIP, if unbound).
    pub fn unassign(&mut self, pod: &PodKey) -> Option<String> {
        let claim = self.claims.remove(pod)?;
        self.holders.remove(&claim.eip);
        Some(claim.eip)
    }

    /// Keeps `pod`'s EIP until `until`. A second release of the same Pod (the controller
    /// retrying, or its orphan sweep) does not push the deadline out.
    pub fn keep(&mut self, pod: &PodKey, until: Instant) {
        if let Some(claim) = self.claims.get_mut(pod) {
            claim.kept_until.get_or_insert(until);
        }
    }

    /// Picks a free EIP for `pod` and gives it to it, best first:
    /// 1. one of ours left bound to the Pod's IP (after a restart, or a lost answer);
    /// 2. an unbound one allocated for this Pod (`own_name`): its old address comes back;
    /// 3. an unbound pool EIP;
    /// 4. any other unbound free one (allocated for a Pod that let it go).
    pub fn take_free(
        &mut self,
        pod: &PodKey,
        pod_ip: Option<&str>,
        own_name: &str,
    ) -> Option<EipRecord> {
        let free = |r: &&EipRecord| !self.holders.contains_key(&r.id);
        let rank = |r: &EipRecord| {
            if pod_ip.is_some_and(|ip| r.bound_to(ip)) {
                Some(0)
            } else if r.status != Status::Unbound || r.ip.is_none() {
                None
            } else if r.name == own_name {
                Some(1)
            } else if r.origin == Origin::Pool {
                Some(2)
            } else {
                Some(3)
            }
        };
        let best = self
            .records
            .values()
            .filter(free)
            .filter(|r| rank(r).is_some())
            .min_by_key(|r| rank(r))
            .cloned()?;
        self.assign(pod, &best.id);
        Some(best)
    }

    /// Free EIPs that are unbound or being created: the warm pool, as its limits count it.
    pub fn pool_size(&self) -> usize {
        self.records
            .values()
            .filter(|r| !self.holders.contains_key(&r.id))
            .filter(|r| matches!(r.status, Status::Unbound | Status::Creating))
            .count()
    }

    /// Marks up to `count` free unbound EIPs as being released, and returns them. Pool EIPs
    /// go last: they were allocated to be kept.
    pub fn take_excess(&mut self, count: usize) -> Vec<String> {
        let mut free: Vec<&EipRecord> = self
            .records
            .values()
            .filter(|r| !self.holders.contains_key(&r.id) && r.status == Status::Unbound)
            .collect();
        free.sort_by_key(|r| (r.origin == Origin::Pool, r.id.clone()));
        let ids: Vec<String> = free.iter().take(count).map(|r| r.id.clone()).collect();
        for id in &ids {
            self.holders.insert(id.clone(), Holder::Maintenance);
        }
        ids
    }

    /// Takes `pod`'s EIP from it for release when the pool has no room; otherwise frees it
    /// into the pool. Returns the EIP to release, if any. One step, so that a pool EIP cannot
    /// be taken by a Pod in between.
    pub fn give_back(&mut self, pod: &PodKey, pool_max: usize) -> Option<String> {
        let id = self.unassign(pod)?;
        if self.pool_size() > pool_max {
            self.holders.insert(id.clone(), Holder::Maintenance);
            Some(id)
        } else {
            None
        }
    }

    /// Lets go of EIPs the background task held, after a release that failed: they are pool
    /// EIPs again, to be tried at the next round.
    pub fn unhold(&mut self, ids: &[String]) {
        for id in ids {
            if self.holders.get(id) == Some(&Holder::Maintenance) {
                self.holders.remove(id);
            }
        }
    }

    /// Pods whose kept EIP is due at `now`.
    pub fn expired(&self, now: Instant) -> Vec<PodKey> {
        let mut due: Vec<PodKey> = self
            .claims
            .iter()
            .filter(|(_, c)| c.kept_until.is_some_and(|t| t <= now))
            .map(|(pod, _)| pod.clone())
            .collect();
        due.sort();
        due
    }

    /// What the controller's orphan sweep should look at, with the name of the Pod each EIP
    /// serves (empty when unknown):
    /// - EIPs a Pod holds and uses (not merely kept): an orphan if no binding serves that Pod;
    /// - EIPs still bound that nobody holds: left behind by a Pod this process has not seen.
    ///   Only once `settled` (every live Pod has been ensured since start), because until
    ///   then they are as likely to be a live Pod's EIP that was not looked at yet.
    ///
    /// Pool EIPs and EIPs kept for a Pod's name are left out: they are not orphans, and this
    /// provider keeps them within bounds itself (the pool's maximum, the keep deadline).
    pub fn sweepable(&self, settled: bool) -> Vec<(EipRecord, String)> {
        self.records
            .values()
            .filter_map(|r| match self.holders.get(&r.id) {
                Some(Holder::Pod(pod)) => {
                    let kept = self.claims.get(pod).is_some_and(|c| c.kept_until.is_some());
                    (!kept).then(|| (r.clone(), pod.name.clone()))
                }
                Some(Holder::Maintenance) => None,
                None if settled && r.status != Status::Unbound => {
                    let pod = match &r.origin {
                        Origin::Pod(pod) => pod.name.clone(),
                        _ => String::new(),
                    };
                    Some((r.clone(), pod))
                }
                None => None,
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    const CLUSTER: &str = "c1";

    fn record(id: &str, name: &str, status: Status, private_ip: Option<&str>) -> EipRecord {
        EipRecord {
            id: id.into(),
            ip: Some(format!("198.51.100.{}", id.len())),
            name: name.into(),
            origin: marker::parse(CLUSTER, name),
            status,
            private_ip: private_ip.map(Into::into),
            seen: Instant::now(),
        }
    }

    fn pod(name: &str) -> PodKey {
        PodKey::new("ns", name)
    }

    fn own(p: &PodKey) -> String {
        marker::for_pod(CLUSTER, p)
    }

    #[test]
    fn reads_only_our_addresses() {
        let now = Instant::now();
        let ours = vpc::Address {
            address_id: Some("eip-1".into()),
            address_name: Some("dac_c1_pool".into()),
            address_status: Some("UNBIND".into()),
            address_ip: Some("198.51.100.1".into()),
            private_address_ip: Some("".into()),
            ..Default::default()
        };
        let record = EipRecord::from_model(CLUSTER, &ours, now).unwrap();
        assert_eq!(record.origin, Origin::Pool);
        assert_eq!(record.status, Status::Unbound);
        assert_eq!(record.private_ip, None);
        let nat = vpc::Address {
            address_name: Some("nat-eip".into()),
            ..ours.clone()
        };
        assert_eq!(EipRecord::from_model(CLUSTER, &nat, now), None);
        let bound_eni = vpc::Address {
            address_status: Some("BIND_ENI".into()),
            private_address_ip: Some("10.0.0.5".into()),
            ..ours
        };
        let record = EipRecord::from_model(CLUSTER, &bound_eni, now).unwrap();
        assert!(record.bound_to("10.0.0.5"));
    }

    #[test]
    fn free_eips_are_picked_in_order_of_preference() {
        let (a, b) = (pod("a"), pod("b"));
        let mut state = RegionState::default();
        state.upsert(record("eip-other", &own(&b), Status::Unbound, None));
        state.upsert(record("eip-pool", "dac_c1_pool", Status::Unbound, None));
        state.upsert(record("eip-mine", &own(&a), Status::Unbound, None));
        state.upsert(record(
            "eip-left",
            "dac_c1_pool",
            Status::Bound,
            Some("10.0.0.1"),
        ));
        state.upsert(record("eip-busy", "dac_c1_pool", Status::Creating, None));

        let got = |s: &mut RegionState, p: &PodKey, ip| s.take_free(p, ip, &own(p)).map(|r| r.id);
        assert_eq!(
            got(&mut state, &a, Some("10.0.0.1")).as_deref(),
            Some("eip-left")
        );
        state.unassign(&a);
        assert_eq!(
            got(&mut state, &a, Some("10.0.0.9")).as_deref(),
            Some("eip-mine")
        );
        let c = pod("c");
        assert_eq!(got(&mut state, &c, None).as_deref(), Some("eip-pool"));
        let d = pod("d");
        assert_eq!(got(&mut state, &d, None).as_deref(), Some("eip-other"));
        // Nothing unbound and free is left: one is bound to another IP, one is being created.
        assert_eq!(got(&mut state, &pod("e"), Some("10.0.0.7")), None);
        assert_eq!(
            state.pool_size(),
            1,
            "the one being created counts for the pool"
        );
    }

    #[test]
    fn a_held_eip_is_never_given_to_another_pod() {
        let (a, b) = (pod("a"), pod("b"));
        let mut state = RegionState::default();
        state.upsert(record("eip-1", "dac_c1_pool", Status::Unbound, None));
        assert!(state.assign(&a, "eip-1"));
        assert!(!state.assign(&b, "eip-1"));
        assert!(state.assign(&a, "eip-1"), "idempotent");
        assert_eq!(state.take_free(&b, None, &own(&b)), None);
        assert_eq!(state.unassign(&a).as_deref(), Some("eip-1"));
        assert!(state.assign(&b, "eip-1"));
    }

    #[test]
    fn kept_eips_expire_once_and_come_back_to_their_pod() {
        let a = pod("a");
        let mut state = RegionState::default();
        state.upsert(record("eip-1", &own(&a), Status::Unbound, None));
        state.assign(&a, "eip-1");
        let now = Instant::now();
        state.keep(&a, now + Duration::from_secs(10));
        state.keep(&a, now + Duration::from_secs(99));
        assert_eq!(
            state.claim(&a).unwrap().kept_until,
            Some(now + Duration::from_secs(10))
        );
        assert!(state.expired(now).is_empty());
        assert_eq!(
            state.expired(now + Duration::from_secs(10)),
            vec![a.clone()]
        );
        assert_eq!(state.reclaim(&a).as_deref(), Some("eip-1"));
        assert!(state.expired(now + Duration::from_secs(60)).is_empty());
    }

    #[test]
    fn giving_back_respects_the_pool_maximum() {
        let (a, b) = (pod("a"), pod("b"));
        let mut state = RegionState::default();
        state.upsert(record("eip-1", &own(&a), Status::Unbound, None));
        state.upsert(record("eip-2", &own(&b), Status::Unbound, None));
        state.assign(&a, "eip-1");
        state.assign(&b, "eip-2");
        assert_eq!(state.give_back(&a, 1), None, "room in the pool");
        assert_eq!(state.give_back(&b, 1).as_deref(), Some("eip-2"));
        assert_eq!(state.holder("eip-2"), Some(&Holder::Maintenance));
        assert_eq!(state.pool_size(), 1);
        state.unhold(&["eip-2".to_string()]);
        assert_eq!(state.pool_size(), 2);
        assert_eq!(state.take_excess(1), vec!["eip-1".to_string()]);
    }

    #[test]
    fn listings_keep_newer_writes_and_drop_what_vanished() {
        let a = pod("a");
        let mut state = RegionState::default();
        state.upsert(record("eip-old", &own(&a), Status::Bound, Some("10.0.0.1")));
        state.assign(&a, "eip-old");
        let started = Instant::now();
        std::thread::sleep(Duration::from_millis(2));
        state.upsert(record("eip-new", "dac_c1_pool", Status::Creating, None));
        // The listing started before eip-new was allocated, and eip-old was released by hand.
        let stale_new = EipRecord {
            seen: started,
            ..record("eip-new", "dac_c1_pool", Status::Offlining, None)
        };
        state.apply_listing(vec![stale_new], started);
        assert!(!state.records.contains_key("eip-old"));
        assert_eq!(state.claim(&a), None);
        assert_eq!(state.records["eip-new"].status, Status::Creating);
    }

    #[test]
    fn what_the_sweep_sees() {
        let (a, b, c) = (pod("a"), pod("b"), pod("c"));
        let mut state = RegionState::default();
        state.upsert(record("eip-1", &own(&a), Status::Bound, Some("10.0.0.1")));
        state.upsert(record("eip-2", &own(&b), Status::Unbound, None));
        state.upsert(record(
            "eip-3",
            "dac_c1_pool",
            Status::Bound,
            Some("10.0.0.3"),
        ));
        state.upsert(record("eip-4", &own(&c), Status::Unbound, None));
        state.upsert(record(
            "eip-5",
            "dac_c1_pool",
            Status::Bound,
            Some("10.0.0.5"),
        ));
        state.assign(&b, "eip-3");
        state.assign(&c, "eip-4");
        state.keep(&c, Instant::now());
        let seen = |settled| -> Vec<(String, String)> {
            state
                .sweepable(settled)
                .into_iter()
                .map(|(r, p)| (r.id, p))
                .collect()
        };
        // Held and in use: eip-3 (for b). Kept (eip-4) and pool (eip-2): never.
        assert_eq!(seen(false), vec![("eip-3".into(), "b".into())]);
        // Once settled, bound ones nobody holds too, named by the Pod they were allocated for.
        assert_eq!(
            seen(true),
            vec![
                ("eip-1".into(), "a".into()),
                ("eip-3".into(), "b".into()),
                ("eip-5".into(), String::new()),
            ]
        );
    }
}
