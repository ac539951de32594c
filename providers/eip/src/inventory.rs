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
    /// Until when (Unix seconds) its name says it is kept for a Pod ([`marker::kept`]).
    pub kept_until: Option<u64>,
    /// When this was last read from the cloud or set by a write of ours that succeeded.
    pub seen: Instant,
}

impl EipRecord {
    /// The record of `address` if it carries `cluster`'s marker.
    pub fn from_model(cluster: &str, address: &vpc::Address, seen: Instant) -> Option<Self> {
        let id = address.address_id.clone().filter(|id| !id.is_empty())?;
        let name = address.address_name.clone().unwrap_or_default();
        let origin = marker::parse(cluster, &name);
        let kept_until = marker::split_kept(&name).1;
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
            kept_until,
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
            kept_until: None,
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
    /// The name it carries while kept, with the deadline in it, so that the deadline
    /// survives a restart.
    pub kept_name: Option<String>,
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
    /// What the last `list_owned` reported of each EIP, for `release_orphan`.
    swept: HashMap<String, Swept>,
    /// The last ensure of each Pod, numbered in the same sequence as `swept`.
    ensured: HashMap<PodKey, u64>,
    seq: u64,
}

/// What `list_owned` saw of an EIP it offered to the orphan sweep.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Swept {
    seq: u64,
    pub status: Status,
    pub private_ip: Option<String>,
    /// The Pod that held it then, if any.
    pub holder: Option<PodKey>,
}

impl RegionState {
    /// Takes in a full listing that started at `started`. Records written after that are newer
    /// than the listing and kept; records the listing lacks and that are older are gone,
    /// except those a Pod holds or keeps (or the pool maintenance is releasing): a listing is
    /// paged by offset, and EIPs allocated or released meanwhile shift the pages, so one
    /// listing may miss an EIP that exists. Such a record is only marked unsettled, so that
    /// whoever uses it next reads it by id ([`crate::engine`]), which forgets it if it is
    /// really gone.
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
                None if self.holders.contains_key(&id) => {
                    if let Some(record) = self.records.get_mut(&id) {
                        record.status = Status::Other;
                    }
                }
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
        self.swept.remove(id);
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
        claim.kept_name = None;
        Some(claim.eip.clone())
    }

    /// The EIP kept, since a restart, for a Pod whose name could not be read from it (a hashed
    /// name): `pod` gets it if `names_pod` says the name is `pod`'s.
    pub fn reclaim_named(
        &mut self,
        pod: &PodKey,
        names_pod: impl Fn(&str) -> bool,
    ) -> Option<String> {
        let placeholder = self
            .claims
            .keys()
            .find(|p| p.namespace.is_empty() && names_pod(&p.name))
            .cloned()?;
        let claim = self.claims.remove(&placeholder)?;
        self.holders.remove(&claim.eip);
        self.assign(pod, &claim.eip).then_some(claim.eip)
    }

    /// After a restart: EIPs whose name says they are kept for a Pod until a time (Unix
    /// seconds; `now_unix` is now) are held for that Pod until then again, unbound ones only
    /// (a kept EIP is unbound; one that is bound has been taken up since). A hashed name holds
    /// it for a placeholder Pod named by the name, which the real Pod takes over
    /// ([`RegionState::reclaim_named`]).
    pub fn adopt_kept(&mut self, now_unix: u64) {
        let now = Instant::now();
        let kept: Vec<(String, String, Origin, u64)> = self
            .records
            .values()
            .filter(|r| r.status == Status::Unbound && !self.holders.contains_key(&r.id))
            .filter_map(|r| {
                Some((
                    r.id.clone(),
                    r.name.clone(),
                    r.origin.clone(),
                    r.kept_until?,
                ))
            })
            .collect();
        for (id, name, origin, until) in kept {
            let pod = match origin {
                Origin::Pod(pod) => pod,
                _ => PodKey::new("", marker::split_kept(&name).0),
            };
            if self.claims.contains_key(&pod) || !self.assign(&pod, &id) {
                continue;
            }
            let left = std::time::Duration::from_secs(until.saturating_sub(now_unix));
            if let Some(claim) = self.claims.get_mut(&pod) {
                claim.kept_until = Some(now + left);
                claim.kept_name = Some(name);
            }
        }
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
                kept_name: None,
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
    pub fn keep(&mut self, pod: &PodKey, until: Instant, name: String) {
        if let Some(claim) = self.claims.get_mut(pod) {
            if claim.kept_until.is_none() {
                claim.kept_name = Some(name);
            }
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
            } else if marker::split_kept(&r.name).0 == own_name {
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

    fn next_seq(&mut self) -> u64 {
        self.seq += 1;
        self.seq
    }

    /// An ensure of `pod` is working on it (and so on its EIP).
    pub fn note_ensure(&mut self, pod: &PodKey) {
        let seq = self.next_seq();
        self.ensured.insert(pod.clone(), seq);
    }

    /// `list_owned` offers `record` to the orphan sweep.
    pub fn note_swept(&mut self, record: &EipRecord) {
        let seq = self.next_seq();
        let holder = match self.holders.get(&record.id) {
            Some(Holder::Pod(pod)) => Some(pod.clone()),
            _ => None,
        };
        self.swept.insert(
            record.id.clone(),
            Swept {
                seq,
                status: record.status,
                private_ip: record.private_ip.clone(),
                holder,
            },
        );
    }

    /// What the last listing offered of EIP `id` to the sweep, if it did.
    pub fn swept(&self, id: &str) -> Option<&Swept> {
        self.swept.get(id)
    }

    /// Why the sweep must leave EIP `id` that it listed as `swept`, if it must: a binding's
    /// ensure worked on the Pod that held it since, or someone else holds it now.
    pub fn orphan_claimed(&self, id: &str, swept: &Swept) -> Option<&'static str> {
        if let Some(pod) = &swept.holder
            && self.ensured.get(pod).is_some_and(|seq| *seq > swept.seq)
        {
            return Some("its Pod was ensured again after the listing");
        }
        match self.holders.get(id) {
            Some(Holder::Pod(pod)) if Some(pod) != swept.holder.as_ref() => {
                Some("another Pod took it after the listing")
            }
            Some(Holder::Maintenance) => Some("the pool maintenance is releasing it"),
            _ => None,
        }
    }

    /// What the controller's orphan sweep should look at, with the Pod each EIP serves, when
    /// known:
    /// - EIPs a Pod holds and uses (not merely kept): an orphan if no binding serves that Pod;
    /// - EIPs still bound that nobody holds: left behind by a Pod this process has not seen.
    ///   Only once `settled` (every live Pod has been ensured since start), because until
    ///   then they are as likely to be a live Pod's EIP that was not looked at yet.
    ///
    /// Pool EIPs and EIPs kept for a Pod's name are left out: they are not orphans, and this
    /// provider keeps them within bounds itself (the pool's maximum, the keep deadline).
    pub fn sweepable(&self, settled: bool) -> Vec<(EipRecord, Option<PodKey>)> {
        self.records
            .values()
            .filter_map(|r| match self.holders.get(&r.id) {
                Some(Holder::Pod(pod)) => {
                    let kept = self.claims.get(pod).is_some_and(|c| c.kept_until.is_some());
                    (!kept).then(|| (r.clone(), Some(pod.clone())))
                }
                Some(Holder::Maintenance) => None,
                None if settled && r.status != Status::Unbound => {
                    let pod = match &r.origin {
                        Origin::Pod(pod) => Some(pod.clone()),
                        _ => None,
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
            kept_until: marker::split_kept(name).1,
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
        state.keep(&a, now + Duration::from_secs(10), "k10".into());
        state.keep(&a, now + Duration::from_secs(99), "k99".into());
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
        // Held, so not forgotten on one listing's word: read again at its next use.
        assert_eq!(state.records["eip-old"].status, Status::Other);
        assert!(state.claim(&a).is_some());
        assert_eq!(state.records["eip-new"].status, Status::Creating);
        // What that read says settles it.
        state.forget("eip-old");
        assert_eq!(state.claim(&a), None);
    }

    #[test]
    fn a_listing_that_misses_a_held_or_kept_eip_does_not_forget_it() {
        let (a, b) = (pod("a"), pod("b"));
        let mut state = RegionState::default();
        state.upsert(record(
            "eip-held",
            &own(&a),
            Status::Bound,
            Some("10.0.0.1"),
        ));
        state.upsert(record("eip-kept", &own(&b), Status::Unbound, None));
        state.upsert(record("eip-free", "dac_c1_pool", Status::Unbound, None));
        state.assign(&a, "eip-held");
        state.assign(&b, "eip-kept");
        state.keep(&b, Instant::now() + Duration::from_secs(60), "kb".into());
        std::thread::sleep(Duration::from_millis(2));
        // A listing whose pages shifted: it saw none of them.
        state.apply_listing(Vec::new(), Instant::now());
        assert_eq!(state.claim(&a).map(|c| c.eip.as_str()), Some("eip-held"));
        assert_eq!(state.claim(&b).map(|c| c.eip.as_str()), Some("eip-kept"));
        // Kept, but to be read again before anyone trusts it.
        assert_eq!(state.records["eip-held"].status, Status::Other);
        assert!(state.records["eip-held"].status.in_transition());
        // A free one nobody holds is simply gone from memory.
        assert!(!state.records.contains_key("eip-free"));
        // Once seen again, it is as the cloud says.
        let listed = vec![record(
            "eip-held",
            &own(&a),
            Status::Bound,
            Some("10.0.0.1"),
        )];
        std::thread::sleep(Duration::from_millis(2));
        state.apply_listing(
            listed
                .into_iter()
                .map(|r| EipRecord {
                    seen: Instant::now(),
                    ..r
                })
                .collect(),
            Instant::now(),
        );
        assert_eq!(state.records["eip-held"].status, Status::Bound);
    }

    #[test]
    fn kept_names_hold_the_eip_again_after_a_restart() {
        let a = pod("a");
        let long = PodKey::new("ns", "x".repeat(120));
        let mut state = RegionState::default();
        let kept_a = marker::kept(CLUSTER, &a, 1_000_100);
        let kept_long = marker::kept(CLUSTER, &long, 1_000_050);
        state.upsert(record("eip-a", &kept_a, Status::Unbound, None));
        state.upsert(record("eip-long", &kept_long, Status::Unbound, None));
        // Bound since: taken up, not kept any more.
        state.upsert(record(
            "eip-bound",
            &marker::kept(CLUSTER, &pod("b"), 1_000_100),
            Status::Bound,
            Some("10.0.0.1"),
        ));
        state.adopt_kept(1_000_000);
        let claim = state.claim(&a).unwrap().clone();
        assert_eq!(claim.eip, "eip-a");
        let left = claim.kept_until.unwrap() - Instant::now();
        assert!(
            left > Duration::from_secs(95) && left <= Duration::from_secs(100),
            "{left:?}"
        );
        assert_eq!(claim.kept_name.as_deref(), Some(kept_a.as_str()));
        assert_eq!(state.claim(&pod("b")), None);
        // Not free for anyone else meanwhile.
        assert_eq!(state.take_free(&pod("c"), None, &own(&pod("c"))), None);
        // The long-named Pod takes its EIP back by name.
        let names_long = |base: &str| marker::names_pod(CLUSTER, &long, base);
        assert_eq!(
            state.reclaim_named(&long, names_long).as_deref(),
            Some("eip-long")
        );
        assert_eq!(state.claim(&long).unwrap().kept_until, None);
        // Past deadlines expire at once.
        let mut late = RegionState::default();
        late.upsert(record("eip-a", &kept_a, Status::Unbound, None));
        late.adopt_kept(2_000_000);
        assert_eq!(late.expired(Instant::now()), vec![a]);
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
        state.keep(&c, Instant::now(), "kc".into());
        let seen = |settled| -> Vec<(String, String)> {
            state
                .sweepable(settled)
                .into_iter()
                .map(|(r, p)| (r.id, p.map(|p| p.name).unwrap_or_default()))
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
