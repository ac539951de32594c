//! The background task: expires EIPs kept for Pods (retention `KeepFor`), releases pool EIPs
//! beyond the pool's maximum, and allocates up to its minimum within the quota.
//!
//! It is started when the controller starts leading (`AddressProvider::start`), or else by the
//! first `ensure` or `release` (the provider may be built outside a Tokio runtime). Its first
//! round runs at once; then every `maintenanceIntervalMs` or when woken, and holds the provider only
//! weakly, so it ends once the provider is dropped. Its failures are logged and retried at the
//! next round; they never reach a binding.
use std::sync::Arc;
use std::sync::atomic::Ordering;

use dac_provider_api::Result;
use dac_tencentcloud::ErrorKind;
use tokio::time::Instant;

use crate::cloud::TaskEnd;
use crate::config::MAX_ADDRESSES_PER_CALL;
use crate::engine::{Core, Region};
use crate::errors::Stage;
use crate::inventory::EipRecord;
use crate::marker::{self, Origin};
use crate::quota::Outcome;

impl Core {
    /// Starts the background task once.
    pub fn start_maintenance(self: &Arc<Self>) {
        if self.maintenance_started.swap(true, Ordering::SeqCst) {
            return;
        }
        // The default region always has a pool to keep, even before it has seen a binding.
        self.region(&self.config.region);
        let core = Arc::downgrade(self);
        let wake = Arc::clone(&self.wake);
        let interval = self.config.maintenance_interval();
        tokio::spawn(async move {
            loop {
                let Some(strong) = core.upgrade() else {
                    return;
                };
                strong.maintain_all().await;
                drop(strong);
                tokio::select! {
                    () = tokio::time::sleep(interval) => {}
                    () = wake.notified() => {}
                }
            }
        });
    }

    /// One round over every region this provider has seen.
    pub async fn maintain_all(&self) {
        let _one_round_at_a_time = self.maintaining.lock().await;
        for region in self.regions() {
            if let Err(error) = self.maintain(&region).await {
                tracing::warn!(region = %region.name, %error, "EIP pool maintenance failed; retrying next round");
            }
        }
    }

    async fn maintain(&self, region: &Region) -> Result<()> {
        self.expire_kept(region).await;
        self.refresh_if_older(region, self.config.inventory_ttl())
            .await?;
        self.trim_pool(region).await?;
        self.top_up_pool(region).await
    }

    /// Kept EIPs whose time is up go the way of `Release`.
    async fn expire_kept(&self, region: &Region) {
        let due = region.state().expired(Instant::now());
        for pod in due {
            let _pod = self.locks.lock(&region.name, &pod).await;
            // The Pod may have come back while we waited for its lock.
            let still_due = region
                .state()
                .claim(&pod)
                .and_then(|c| c.kept_until)
                .is_some_and(|t| t <= Instant::now());
            if still_due {
                tracing::info!(%pod, "the time to keep the Pod's EIP is up");
                self.give_back(region, &pod).await;
            }
        }
    }

    /// Releases free unbound EIPs beyond the pool's maximum: idle EIPs are billed.
    async fn trim_pool(&self, region: &Region) -> Result<()> {
        let max = usize::try_from(self.config.pool.max).unwrap_or(usize::MAX);
        let excess = region.state().pool_size().saturating_sub(max);
        if excess == 0 {
            return Ok(());
        }
        let ids = region.state().take_excess(excess);
        for chunk in ids.chunks(MAX_ADDRESSES_PER_CALL as usize) {
            self.release_now(region, chunk).await?;
        }
        Ok(())
    }

    /// Allocates pool EIPs up to the minimum, as far as the quota allows.
    async fn top_up_pool(&self, region: &Region) -> Result<()> {
        let size = region.state().pool_size();
        let missing = usize::try_from(self.config.pool.min)
            .unwrap_or(usize::MAX)
            .saturating_sub(size);
        if missing == 0 {
            return Ok(());
        }
        let wanted = u32::try_from(missing)
            .unwrap_or(u32::MAX)
            .min(MAX_ADDRESSES_PER_CALL);
        let permit = match region.quota.reserve(self.cloud.api.as_ref(), wanted).await {
            Ok(permit) => permit,
            Err(error) => {
                // The pool is a nicety; Pods that need an EIP report the quota themselves.
                tracing::debug!(region = %region.name, %error, "not topping up the EIP pool");
                return Ok(());
            }
        };
        let name = marker::pool(&self.cloud.cluster);
        let token = format!("dac-{}-{:016x}", self.cloud.cluster, rand::random::<u64>());
        let charge = (
            self.config.internet_charge_type.clone(),
            self.config.internet_max_bandwidth_out,
        );
        let granted = permit.granted;
        let resp = match self
            .cloud
            .allocate(&region.name, granted, &name, &token, charge)
            .await
        {
            Ok(resp) => resp,
            Err(e) => {
                let outcome = if e.kind() == ErrorKind::QuotaOrLimit {
                    Outcome::Refused
                } else if e.is_ambiguous() {
                    // Pool EIPs carry the pool's name: the next listing finds them.
                    region.state().listed_at = None;
                    Outcome::Unknown
                } else {
                    Outcome::Nothing
                };
                permit.settle(outcome, Some(e.to_string()));
                return Err(crate::errors::map(&e, Stage::Allocate));
            }
        };
        let count = u32::try_from(resp.address_set.len()).unwrap_or(u32::MAX);
        permit.settle(Outcome::Allocated(count), None);
        tracing::info!(region = %region.name, eips = ?resp.address_set, "allocated EIPs for the warm pool");
        {
            let mut state = region.state();
            let now = Instant::now();
            for id in &resp.address_set {
                state.upsert(EipRecord::allocated(
                    id.clone(),
                    name.clone(),
                    Origin::Pool,
                    now,
                ));
            }
        }
        match self
            .cloud
            .wait(&region.name, resp.task_id.as_deref(), Stage::Allocate)
            .await
        {
            TaskEnd::Done | TaskEnd::Running => {}
            TaskEnd::Failed(e) => return Err(e),
        }
        // Their addresses: one listing rather than a read per EIP.
        region.state().listed_at = None;
        self.refresh_if_older(region, self.config.inventory_ttl())
            .await
    }
}
