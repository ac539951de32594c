//! The work behind `ensure` and `release`: which EIP a Pod gets ([`Core::claim`]), binding it
//! to the Pod's IP or unbinding it ([`Core::bind`], [`Core::unbind`]), and what happens to it
//! when the Pod goes ([`Core::release`]).
//!
//! Every step reads or changes the region's [`RegionState`] in one short critical section and
//! does its cloud calls outside it; the per-Pod lock (held by the caller) keeps one Pod's steps
//! in order.
use std::collections::HashMap;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use dac_provider_api::{BindingState, ProviderError, Result};
use dac_tencentcloud::ErrorKind;
use tokio::sync::Notify;
use tokio::time::Instant;

use crate::cloud::{Cloud, TaskEnd};
use crate::config::{EipProviderConfig, Retention};
use crate::errors::{self, BUSY_RETRY_AFTER, Stage, reason};
use crate::inventory::{EipRecord, Holder, RegionState, Status};
use crate::locks::PodLocks;
use crate::marker::{self, PodKey};
use crate::quota::{Outcome, QuotaGate};

/// How soon to look again when another Pod's EIP still sits on this Pod's IP.
const MOVE_RETRY_AFTER: Duration = Duration::from_secs(2);

/// One region: its state, and what serializes its listings and quota reads.
pub(crate) struct Region {
    pub name: String,
    state: Mutex<RegionState>,
    /// One full listing at a time; concurrent callers wait for it and use its result.
    listing: tokio::sync::Mutex<()>,
    pub quota: QuotaGate,
}

impl Region {
    pub fn state(&self) -> MutexGuard<'_, RegionState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// What one binding asks for, read from the [`Binding`](dac_provider_api::Binding).
#[derive(Clone, Debug)]
pub(crate) struct Target {
    pub region: String,
    pub pod: PodKey,
    /// The Pod's IP, when there is one to bind to.
    pub pod_ip: Option<String>,
}

pub(crate) struct Core {
    pub config: EipProviderConfig,
    pub cloud: Cloud,
    regions: Mutex<HashMap<String, Arc<Region>>>,
    pub locks: PodLocks,
    /// Wakes the background task early (a kept EIP to expire, a pool to top up).
    pub wake: Arc<Notify>,
    pub maintenance_started: AtomicBool,
    /// One maintenance round at a time (the background task's, or one run on demand), so
    /// that two rounds never top up or trim the same shortfall twice.
    pub maintaining: tokio::sync::Mutex<()>,
    /// When this provider started: see [`EipProviderConfig::orphan_grace_ms`].
    pub started: Instant,
}

impl Core {
    pub fn new(config: EipProviderConfig, cloud: Cloud) -> Self {
        Self {
            config,
            cloud,
            regions: Mutex::new(HashMap::new()),
            locks: PodLocks::default(),
            wake: Arc::new(Notify::new()),
            maintenance_started: AtomicBool::new(false),
            maintaining: tokio::sync::Mutex::new(()),
            started: Instant::now(),
        }
    }

    pub fn region(&self, name: &str) -> Arc<Region> {
        let mut regions = self.regions.lock().unwrap_or_else(|e| e.into_inner());
        let region = regions.entry(name.to_string()).or_insert_with(|| {
            Arc::new(Region {
                name: name.to_string(),
                state: Mutex::new(RegionState::default()),
                listing: tokio::sync::Mutex::new(()),
                quota: QuotaGate::new(name, self.config.quota_ttl()),
            })
        });
        Arc::clone(region)
    }

    pub fn regions(&self) -> Vec<Arc<Region>> {
        let regions = self.regions.lock().unwrap_or_else(|e| e.into_inner());
        regions.values().cloned().collect()
    }

    fn own_name(&self, pod: &PodKey) -> String {
        marker::for_pod(&self.cloud.cluster, pod)
    }

    /// Lists the region's EIPs again unless the last listing is younger than `max_age`.
    pub async fn refresh_if_older(&self, region: &Region, max_age: Duration) -> Result<()> {
        let fresh = |s: &RegionState| s.listed_at.is_some_and(|t| t.elapsed() < max_age);
        if fresh(&region.state()) {
            return Ok(());
        }
        let _one_at_a_time = region.listing.lock().await;
        if fresh(&region.state()) {
            return Ok(());
        }
        let started = Instant::now();
        let listed = self.cloud.list_ours(&region.name).await?;
        let mut state = region.state();
        state.apply_listing(listed, started);
        state.adopt_kept(unix_now());
        Ok(())
    }

    /// The EIP `id` as it is now: from memory when we saw it settled a moment ago, otherwise
    /// read. `None`: it is gone (or not ours), and forgotten.
    async fn current(&self, region: &Region, id: &str) -> Result<Option<EipRecord>> {
        let known = region.state().records.get(id).cloned();
        if let Some(record) = known
            && !record.status.in_transition()
            && record.seen.elapsed() < self.config.verify_ttl()
        {
            return Ok(Some(record));
        }
        let read = self.cloud.describe(&region.name, id).await?;
        let mut state = region.state();
        match &read {
            Some(record) => state.upsert(record.clone()),
            None => state.forget(id),
        }
        Ok(read)
    }

    /// The Pod's EIP, found or made: the one it holds, else the one the binding's status names
    /// (after a restart), else a free one (see [`RegionState::take_free`]), else a new one.
    pub async fn claim(
        &self,
        region: &Region,
        target: &Target,
        hint: Option<&str>,
    ) -> Result<EipRecord> {
        let pod = &target.pod;
        let held = self.reclaim(region, pod);
        if let Some(id) = held {
            match self.current(region, &id).await? {
                Some(record) => return Ok(record),
                None => {
                    tracing::warn!(%pod, eip = %id, "the Pod's EIP is gone from the cloud; finding another")
                }
            }
        }

        if let Some(id) = hint.filter(|id| !id.is_empty()) {
            let free = region.state().holder(id).is_none();
            if free && let Some(record) = self.current(region, id).await? {
                let usable = record.status != Status::Offlining;
                if usable && region.state().assign(pod, id) {
                    return Ok(record);
                }
            }
        }

        self.refresh_if_older(region, self.config.inventory_ttl())
            .await?;
        // The listing may have found an EIP kept for this Pod before a restart.
        if let Some(id) = self.reclaim(region, pod)
            && let Some(record) = self.current(region, &id).await?
        {
            return Ok(record);
        }
        let own = self.own_name(pod);
        let taken = region
            .state()
            .take_free(pod, target.pod_ip.as_deref(), &own);
        if let Some(record) = taken {
            if self.config.pool.min > 0 {
                self.wake.notify_one();
            }
            return Ok(record);
        }
        self.allocate_for(region, pod, &own).await
    }

    /// The EIP `pod` holds or is kept for it, no longer merely kept: the Pod is back.
    fn reclaim(&self, region: &Region, pod: &PodKey) -> Option<String> {
        let mut state = region.state();
        state.reclaim(pod).or_else(|| {
            state.reclaim_named(pod, |base| {
                marker::names_pod(&self.cloud.cluster, pod, base)
            })
        })
    }

    /// Renames the Pod's EIP to say that the Pod holds it, if it says otherwise (a pool EIP
    /// handed over, a kept one taken back). Best effort: the name is a hint for after a
    /// restart, and the next ensure tries again; never while a task runs on the EIP.
    pub async fn name_held(&self, region: &Region, pod: &PodKey, record: EipRecord) -> EipRecord {
        let name = self.own_name(pod);
        if record.name == name || record.status.in_transition() {
            return record;
        }
        match self.rename(region, &record.id, &name).await {
            Ok(()) => EipRecord { name, ..record },
            Err(error) => {
                tracing::debug!(eip = %record.id, %error, "could not rename the EIP for its Pod");
                record
            }
        }
    }

    /// Renames EIP `id` and notes its new name.
    async fn rename(&self, region: &Region, id: &str, name: &str) -> Result<()> {
        self.cloud
            .rename(&region.name, id, name)
            .await
            .map_err(|e| errors::map(&e, Stage::Rename))?;
        if let Some(record) = region.state().records.get_mut(id) {
            record.name = name.to_string();
            let (_, kept_until) = marker::split_kept(name);
            record.kept_until = kept_until;
        }
        Ok(())
    }

    fn new_client_token(&self) -> String {
        format!("dac-{}-{:016x}", self.cloud.cluster, rand::random::<u64>())
    }

    /// Allocates an EIP named for `pod`, within the quota.
    async fn allocate_for(&self, region: &Region, pod: &PodKey, name: &str) -> Result<EipRecord> {
        let permit = region.quota.reserve(self.cloud.api.as_ref(), 1).await?;
        let token = region.state().tokens.get(pod).cloned();
        let token = token.unwrap_or_else(|| self.new_client_token());
        let charge = (
            self.config.internet_charge_type.clone(),
            self.config.internet_max_bandwidth_out,
        );
        let mut sent = self
            .cloud
            .allocate(&region.name, 1, name, &token, charge.clone())
            .await;
        if let Err(e) = &sent
            && e.is_ambiguous()
        {
            // The answer was lost: the same ClientToken again gets what the first call created
            // (the cloud answers a repeated token with its first answer), or creates it now if
            // the first never arrived; never a second EIP.
            tracing::info!(%pod, error = %e, "resending an allocation whose answer was lost");
            sent = self
                .cloud
                .allocate(&region.name, 1, name, &token, charge)
                .await;
        }
        let resp = match sent {
            Ok(resp) => resp,
            Err(e) if e.kind() == ErrorKind::QuotaOrLimit => {
                permit.settle(Outcome::Refused, Some(e.to_string()));
                // A definite refusal: a token whose order failed stays failed in the cloud
                // ("update the ClientToken and retry"), so the next attempt needs a new one.
                region.state().tokens.remove(pod);
                return Err(errors::map(&e, Stage::Allocate));
            }
            // Still busy after the client's budget: with `IdempotentProcessing` the first call
            // with this token is still being processed, so it may yet create the EIP. Not a
            // refusal: the token is kept, or the next attempt could allocate a second EIP.
            Err(e) if e.is_ambiguous() || e.kind() == ErrorKind::Busy => {
                permit.settle(Outcome::Unknown, None);
                return self.recover_allocation(region, pod, name, token, &e).await;
            }
            Err(e) => {
                permit.settle(Outcome::Nothing, None);
                region.state().tokens.remove(pod);
                return Err(errors::map(&e, Stage::Allocate));
            }
        };
        let count = u32::try_from(resp.address_set.len()).unwrap_or(u32::MAX);
        permit.settle(Outcome::Allocated(count), None);
        let Some(id) = resp.address_set.first().cloned() else {
            return Err(ProviderError::permanent(
                "AllocateAddresses answered without an EIP id",
            ));
        };
        {
            let mut state = region.state();
            state.tokens.remove(pod);
            let origin = marker::parse(&self.cloud.cluster, name);
            state.upsert(EipRecord::allocated(
                id.clone(),
                name.to_string(),
                origin,
                Instant::now(),
            ));
            state.assign(pod, &id);
        }
        tracing::info!(%pod, eip = %id, "allocated an EIP");
        match self
            .cloud
            .wait(&region.name, resp.task_id.as_deref(), Stage::Allocate)
            .await
        {
            TaskEnd::Done => {}
            // Held by the Pod already; `bind` reads it again and answers Pending meanwhile.
            TaskEnd::Running => return Ok(self.record_of(region, &id)),
            TaskEnd::Failed(e) => return Err(e),
        }
        // AllocateAddresses answers with ids only; the address comes from a read.
        match self.cloud.describe(&region.name, &id).await? {
            Some(record) => {
                region.state().upsert(record.clone());
                Ok(record)
            }
            None => {
                region.state().forget(&id);
                Err(ProviderError::retryable(format!(
                    "EIP {id} vanished right after it was allocated"
                )))
            }
        }
    }

    /// After an allocation whose answer was lost: look for what it created (by the name it
    /// was to carry) instead of allocating again; keep its ClientToken for the next attempt,
    /// so that the cloud answers a resend with the first attempt's EIP.
    async fn recover_allocation(
        &self,
        region: &Region,
        pod: &PodKey,
        name: &str,
        token: String,
        cause: &dac_tencentcloud::Error,
    ) -> Result<EipRecord> {
        {
            let mut state = region.state();
            state.tokens.insert(pod.clone(), token);
            // Whatever it created must show up in the next listing.
            state.listed_at = None;
        }
        let found = self.cloud.find_named(&region.name, name).await?;
        let mut state = region.state();
        for record in found {
            if record.status == Status::Offlining || state.holder(&record.id).is_some() {
                continue;
            }
            state.upsert(record.clone());
            if state.assign(pod, &record.id) {
                state.tokens.remove(pod);
                tracing::info!(%pod, eip = %record.id, "found the EIP of an allocation whose answer was lost");
                return Ok(record);
            }
        }
        Err(errors::map(cause, Stage::Allocate))
    }

    fn record_of(&self, region: &Region, id: &str) -> EipRecord {
        let known = region.state().records.get(id).cloned();
        known.unwrap_or_else(|| {
            EipRecord::allocated(
                id.to_string(),
                String::new(),
                marker::Origin::Unknown,
                Instant::now(),
            )
        })
    }

    /// Makes sure nothing trusts this record without reading it again.
    fn mark_stale(&self, region: &Region, id: &str) {
        if let Some(record) = region.state().records.get_mut(id) {
            record.status = Status::Other;
        }
    }

    /// Reads a record in transition again: `Ok(None)` while its task still runs.
    async fn settled(&self, region: &Region, record: EipRecord) -> Result<Option<EipRecord>> {
        if !record.status.in_transition() {
            return Ok(Some(record));
        }
        let Some(read) = self.cloud.describe(&region.name, &record.id).await? else {
            region.state().forget(&record.id);
            return Err(ProviderError::retryable(format!(
                "EIP {} vanished from the cloud",
                record.id
            )));
        };
        region.state().upsert(read.clone());
        Ok((!read.status.in_transition()).then_some(read))
    }

    /// Binds the Pod's EIP to `ip`, moving it off an older IP of the Pod first.
    pub async fn bind(
        &self,
        region: &Region,
        pod: &PodKey,
        record: EipRecord,
        ip: &str,
    ) -> Result<(BindingState, EipRecord)> {
        let Some(mut record) = self.settled(region, record.clone()).await? else {
            return Ok((BindingState::Pending, record));
        };
        if record.bound_to(ip) {
            return Ok((BindingState::Bound, record));
        }
        if record.status == Status::Bound {
            tracing::info!(%pod, eip = %record.id, from = ?record.private_ip, to = ip, "moving the Pod's EIP to its new IP");
            match self.disassociate(region, &record).await? {
                Some(unbound) => record = unbound,
                None => return Ok((BindingState::Pending, record)),
            }
        }
        let Some(eni) = self.cloud.find_eni(&region.name, ip).await? else {
            return Err(ProviderError::user_fixable(
                reason::POD_IP_NOT_IN_VPC,
                format!(
                    "no ENI in region {} holds Pod IP {ip}, and an EIP can only be bound to an \
                     ENI's IP; give the Pod a VPC IP (`tke.cloud.tencent.com/networks: \
                     tke-route-eni`). EIP {} stays reserved for the Pod meanwhile",
                    region.name, record.id
                ),
            ));
        };
        let task = match self
            .cloud
            .associate(&region.name, &record.id, &eni, ip)
            .await
        {
            Ok(task) => task,
            Err(e) if errors::is_ip_taken(&e) => {
                return Err(self.ip_taken(region, pod, ip).await);
            }
            Err(e) => {
                self.mark_stale(region, &record.id);
                return Err(errors::map(&e, Stage::Associate));
            }
        };
        match self
            .cloud
            .wait(&region.name, task.as_deref(), Stage::Associate)
            .await
        {
            TaskEnd::Done => {
                record.status = Status::Bound;
                record.private_ip = Some(ip.to_string());
                record.seen = Instant::now();
                region.state().upsert(record.clone());
                Ok((BindingState::Bound, record))
            }
            TaskEnd::Running => {
                self.mark_stale(region, &record.id);
                Ok((BindingState::Pending, record))
            }
            TaskEnd::Failed(e) => {
                self.mark_stale(region, &record.id);
                Err(e)
            }
        }
    }

    /// Leaves the Pod's EIP reserved but unbound: the Pod has no IP (yet, or any more).
    pub async fn unbind(
        &self,
        region: &Region,
        record: EipRecord,
    ) -> Result<(BindingState, EipRecord)> {
        let Some(record) = self.settled(region, record.clone()).await? else {
            return Ok((BindingState::Pending, record));
        };
        if record.status != Status::Bound {
            return Ok((BindingState::Available, record));
        }
        match self.disassociate(region, &record).await? {
            Some(unbound) => Ok((BindingState::Available, unbound)),
            None => Ok((BindingState::Pending, record)),
        }
    }

    /// Unbinds an EIP and waits: `Ok(None)` when the task outlives the deadline.
    async fn disassociate(&self, region: &Region, record: &EipRecord) -> Result<Option<EipRecord>> {
        let task = match self.cloud.disassociate(&region.name, &record.id).await {
            Ok(task) => task,
            Err(e) => {
                self.mark_stale(region, &record.id);
                return Err(errors::map(&e, Stage::Disassociate));
            }
        };
        match self
            .cloud
            .wait(&region.name, task.as_deref(), Stage::Disassociate)
            .await
        {
            TaskEnd::Done => {
                let unbound = EipRecord {
                    status: Status::Unbound,
                    private_ip: None,
                    seen: Instant::now(),
                    ..record.clone()
                };
                region.state().upsert(unbound.clone());
                Ok(Some(unbound))
            }
            TaskEnd::Running => {
                self.mark_stale(region, &record.id);
                Ok(None)
            }
            TaskEnd::Failed(e) => {
                self.mark_stale(region, &record.id);
                Err(e)
            }
        }
    }

    /// AssociateAddress said the Pod's IP already has an EIP: find out whose, and say what
    /// to do about it.
    async fn ip_taken(&self, region: &Region, pod: &PodKey, ip: &str) -> ProviderError {
        let on_ip = match self.cloud.find_on_ip(&region.name, ip).await {
            Ok(on_ip) => on_ip,
            Err(e) => return e,
        };
        let now = Instant::now();
        for address in on_ip {
            let id = address.address_id.clone().unwrap_or_default();
            let Some(record) = EipRecord::from_model(&self.cloud.cluster, &address, now) else {
                return ProviderError::user_fixable(
                    reason::POD_IP_HAS_OTHER_EIP,
                    format!(
                        "Pod IP {ip} already has EIP {id} ({}), which this cluster did not \
                         allocate; it is left alone. Unbind it to let the Pod have its own",
                        address.address_ip.as_deref().unwrap_or("?")
                    ),
                );
            };
            let holder = {
                let mut state = region.state();
                state.upsert(record.clone());
                state.holder(&id).cloned()
            };
            match holder {
                Some(Holder::Pod(other)) if other != *pod => {
                    // That Pod had this IP before; its next ensure moves its EIP away.
                    return ProviderError::retry_after(
                        format!("Pod IP {ip} still carries EIP {id} of Pod {other}"),
                        MOVE_RETRY_AFTER,
                    );
                }
                _ => {
                    // One of ours that nobody holds, left behind on this IP: take it off.
                    tracing::info!(eip = %id, ip, "unbinding an EIP of ours left on a Pod's IP");
                    if let Err(e) = self.disassociate(region, &record).await {
                        return e;
                    }
                }
            }
        }
        ProviderError::retry_after(
            format!("Pod IP {ip} had another EIP, which is off it now"),
            BUSY_RETRY_AFTER,
        )
    }

    /// The Pod is gone: unbind its EIP and keep it for the Pod or give it back.
    ///
    /// The controller's orphan sweep names no namespace (its bindings have no child object):
    /// then the EIP `hint` is released if it is free, or if the Pod that holds it has the
    /// binding's Pod name; a Pod name that is empty as well means an EIP nobody holds.
    pub async fn release(
        &self,
        region: &Region,
        pod: &PodKey,
        hint: Option<&str>,
        retention: Retention,
    ) -> Result<()> {
        let mut pod = pod.clone();
        // What to do: release the EIP `Some(id)`, nothing (`None`), or (`Err`) only rename a
        // kept EIP whose deadline is not in its name yet.
        let id: std::result::Result<Option<String>, (String, String)> = {
            let state = region.state();
            match state.claim(&pod) {
                // Released before and kept: a repeated release changes nothing, except that
                // a rename the first one could not make (the deadline in the name) is tried
                // again.
                Some(claim) if claim.kept_until.is_some() => {
                    let has = state.records.get(&claim.eip).map(|r| &r.name);
                    match &claim.kept_name {
                        Some(want) if has != Some(want) => Err((claim.eip.clone(), want.clone())),
                        _ => return Ok(()),
                    }
                }
                Some(claim) => Ok(Some(claim.eip.clone())),
                None => Ok(match hint.filter(|id| !id.is_empty()) {
                    Some(id) => match state.holder(id) {
                        // Given back already, by an earlier release for this Pod: the ports
                        // of a Pod that goes are released together, each seeing the others
                        // going, and each would otherwise rename the pool EIP again.
                        None if !pod.namespace.is_empty()
                            && state.records.get(id).is_some_and(|r| {
                                r.status == Status::Unbound
                                    && r.name == marker::pool(&self.cloud.cluster)
                            }) =>
                        {
                            return Ok(());
                        }
                        None => Some(id.to_string()),
                        Some(Holder::Pod(holder))
                            if pod.namespace.is_empty() && holder.name == pod.name =>
                        {
                            let kept = state.claim(holder).is_some_and(|c| c.kept_until.is_some());
                            if kept {
                                return Ok(());
                            }
                            // Its Pod has no binding left (that is what made it an orphan),
                            // so no ensure of it runs under the Pod's own lock meanwhile.
                            pod = holder.clone();
                            Some(id.to_string())
                        }
                        Some(_) => None,
                    },
                    None => None,
                }),
            }
        };
        let id = match id {
            Ok(id) => id,
            Err((eip, name)) => return self.rename(region, &eip, &name).await,
        };
        let pod = &pod;
        let Some(id) = id else {
            return Ok(());
        };
        let Some(record) = self.current(region, &id).await? else {
            return Ok(());
        };
        if !region.state().assign(pod, &id) {
            // Taken by someone else while we read it: not ours to release any more.
            return Ok(());
        }
        self.unbind_held(region, record).await?;
        match retention {
            Retention::KeepFor(duration) if !pod.name.is_empty() => {
                // The deadline goes into the EIP's name too: it is what keeps the EIP kept
                // across a restart of this provider.
                let until = unix_now().saturating_add(duration.as_secs());
                let name = marker::kept(&self.cloud.cluster, pod, until);
                region
                    .state()
                    .keep(pod, Instant::now() + duration, name.clone());
                tracing::info!(%pod, eip = %id, ?duration, "keeping the EIP for the Pod's name");
                self.wake.notify_one();
                self.rename(region, &id, &name).await
            }
            // See `Retention::KeepWhileNameExists`: by now the name is no longer expected.
            _ => {
                self.give_back(region, pod).await;
                Ok(())
            }
        }
    }

    /// Unbinds an EIP the caller's Pod now holds, once no task runs on it.
    async fn unbind_held(&self, region: &Region, record: EipRecord) -> Result<()> {
        let id = record.id.clone();
        let Some(record) = self.settled(region, record).await? else {
            return Err(ProviderError::retry_after(
                format!("EIP {id} is busy; it is released once its task ends"),
                BUSY_RETRY_AFTER,
            ));
        };
        if record.status == Status::Bound && self.disassociate(region, &record).await?.is_none() {
            return Err(ProviderError::retry_after(
                format!("EIP {id} is still being unbound"),
                BUSY_RETRY_AFTER,
            ));
        }
        Ok(())
    }

    /// The orphan sweep's release of EIP `id`, which `list_owned` offered it. Under the lock of
    /// the Pod that held it (else of `fallback`, the Pod its name or the sweep names), it is
    /// left alone if an ensure worked on that Pod since the listing, if someone else holds it
    /// now, or if the cloud no longer shows it as listed (another status or association);
    /// otherwise it is unbound and goes back to the pool or is released, as with `Release`.
    pub async fn release_orphan(&self, region: &Region, id: &str, fallback: PodKey) -> Result<()> {
        let listed = region.state().swept(id).cloned();
        let Some(listed) = listed else {
            tracing::info!(
                eip = id,
                "not releasing an EIP this provider has not listed as an orphan"
            );
            return Ok(());
        };
        let pod = listed.holder.clone().unwrap_or(fallback);
        let _pod = self.locks.lock(&region.name, &pod).await;
        if let Some(why) = region.state().orphan_claimed(id, &listed) {
            tracing::info!(eip = id, %pod, "not releasing the EIP as an orphan: {why}");
            return Ok(());
        }
        let Some(record) = self.cloud.describe(&region.name, id).await? else {
            region.state().forget(id);
            return Ok(());
        };
        region.state().upsert(record.clone());
        if record.status != listed.status || record.private_ip != listed.private_ip {
            tracing::info!(
                eip = id,
                listed = ?(listed.status, &listed.private_ip),
                now = ?(record.status, &record.private_ip),
                "not releasing the EIP as an orphan: it changed since the listing"
            );
            return Ok(());
        }
        if !region.state().assign(&pod, id) {
            return Ok(());
        }
        tracing::info!(eip = id, %pod, "releasing an orphaned EIP");
        self.unbind_held(region, record).await?;
        self.give_back(region, &pod).await;
        Ok(())
    }

    /// Frees the Pod's (unbound) EIP into the pool, or releases it when the pool is full. A
    /// failed release is not the caller's failure: the EIP stays in the pool, whose excess the
    /// background task releases.
    pub async fn give_back(&self, region: &Region, pod: &PodKey) {
        let pool_max = usize::try_from(self.config.pool.max).unwrap_or(usize::MAX);
        let kept_id = region.state().claim(pod).map(|c| c.eip.clone());
        let Some(id) = region.state().give_back(pod, pool_max) else {
            tracing::debug!(%pod, "the Pod's EIP went back to the warm pool");
            // Named for the pool again, so that after a restart any Pod may take it; best
            // effort (a later give-back or release renames or removes it).
            if let Some(id) = kept_id {
                let pool = marker::pool(&self.cloud.cluster);
                if let Err(error) = self.rename(region, &id, &pool).await {
                    tracing::debug!(eip = %id, %error, "could not rename the EIP for the pool");
                }
            }
            return;
        };
        if let Err(e) = self.release_now(region, std::slice::from_ref(&id)).await {
            tracing::warn!(eip = %id, error = %e, "releasing an EIP failed; retrying in the background");
            self.wake.notify_one();
        }
    }

    /// Releases EIPs held for [`Holder::Maintenance`]. On failure they are pool EIPs again.
    pub async fn release_now(&self, region: &Region, ids: &[String]) -> Result<()> {
        let task = match self.cloud.release(&region.name, ids).await {
            Ok(task) => task,
            Err(e) if e.kind() == ErrorKind::NotFound && ids.len() == 1 => {
                region.state().forget(&ids[0]);
                return Ok(());
            }
            Err(e) => {
                let mut state = region.state();
                state.unhold(ids);
                state.listed_at = None;
                return Err(errors::map(&e, Stage::Release));
            }
        };
        region
            .quota
            .released(u32::try_from(ids.len()).unwrap_or(u32::MAX));
        match self
            .cloud
            .wait(&region.name, task.as_deref(), Stage::Release)
            .await
        {
            // Still offlining at the deadline: on its way out all the same.
            TaskEnd::Done | TaskEnd::Running => {
                let mut state = region.state();
                for id in ids {
                    state.forget(id);
                }
                tracing::info!(eips = ?ids, "released EIPs");
                Ok(())
            }
            TaskEnd::Failed(e) => {
                let mut state = region.state();
                state.unhold(ids);
                state.listed_at = None;
                Err(e)
            }
        }
    }
}

/// Now, in Unix seconds (the clock the kept deadlines in EIP names are written in).
fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}
