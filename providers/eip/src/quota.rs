//! The allocation gate: checks the account's EIP quota and daily allocation limit
//! (DescribeAddressQuota: `TOTAL_EIP_QUOTA`, `DAILY_EIP_APPLY`) before AllocateAddresses, so that
//! Pods beyond the quota get `EIPQuotaExceeded` at once instead of each spending an allocation
//! call (and the daily limit counts every EIP ever allocated, so a loop of failing allocations
//! is exactly what must never happen).
//!
//! One answer is reused for a while; in between, allocations in flight are reserved against it
//! and our own allocations and releases are counted, so that 20 concurrent Pods with room for 10
//! make 10 allocations and 10 quick refusals, not 20 calls.
use std::sync::Mutex;
use std::time::Duration;

use dac_provider_api::ProviderError;
use dac_tencentcloud::VpcApi;
use dac_tencentcloud::models::vpc::DescribeAddressQuotaRequest;
use tokio::time::Instant;

use crate::errors::{self, Stage};

const TOTAL: &str = "TOTAL_EIP_QUOTA";
const DAILY: &str = "DAILY_EIP_APPLY";

/// The two limits as last read and counted since.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct View {
    total_used: i64,
    total_limit: i64,
    daily_used: i64,
    daily_limit: i64,
}

#[derive(Debug, Default)]
struct GateState {
    view: Option<View>,
    fetched: Option<Instant>,
    /// EIPs reserved by allocations that have not answered yet.
    in_flight: i64,
    /// The cloud refused an allocation for quota since the last read: its message, given to
    /// everyone until the next read instead of trying again.
    refused: Option<String>,
}

/// One region's gate.
#[derive(Debug)]
pub(crate) struct QuotaGate {
    region: String,
    ttl: Duration,
    state: Mutex<GateState>,
    /// One DescribeAddressQuota at a time; the others wait for its answer.
    fetch: tokio::sync::Mutex<()>,
}

/// How an allocation that held a permit ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// It allocated this many EIPs.
    Allocated(u32),
    /// The cloud refused it for quota.
    Refused,
    /// It may or may not have allocated (a timeout): read the quota again next time.
    Unknown,
    /// It certainly allocated nothing.
    Nothing,
}

/// Room for `granted` EIPs, reserved until settled (or dropped, which frees it).
#[derive(Debug)]
pub(crate) struct Permit<'a> {
    gate: &'a QuotaGate,
    pub granted: u32,
    settled: bool,
}

impl QuotaGate {
    pub fn new(region: impl Into<String>, ttl: Duration) -> Self {
        Self {
            region: region.into(),
            ttl,
            state: Mutex::new(GateState::default()),
            fetch: tokio::sync::Mutex::new(()),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, GateState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn fresh(&self, state: &GateState) -> bool {
        state.view.is_some() && state.fetched.is_some_and(|t| t.elapsed() < self.ttl)
    }

    /// Reserves room for up to `wanted` EIPs (at least one), or says why there is none.
    pub async fn reserve(
        &self,
        api: &dyn VpcApi,
        wanted: u32,
    ) -> Result<Permit<'_>, ProviderError> {
        if !self.fresh(&self.state()) {
            let _one_at_a_time = self.fetch.lock().await;
            if !self.fresh(&self.state()) {
                let view = self.read(api).await?;
                let mut state = self.state();
                state.view = Some(view);
                state.fetched = Some(Instant::now());
                state.refused = None;
            }
        }
        let mut state = self.state();
        if let Some(message) = &state.refused {
            return Err(errors::quota_exceeded(message.clone()));
        }
        let view = state.view.unwrap_or_default();
        let total_room = view.total_limit - view.total_used - state.in_flight;
        let daily_room = view.daily_limit - view.daily_used - state.in_flight;
        let room = total_room.min(daily_room);
        if room < 1 {
            return Err(errors::quota_exceeded(self.explain(
                &view,
                state.in_flight,
                total_room <= daily_room,
            )));
        }
        let granted = u32::try_from(room.min(i64::from(wanted.max(1)))).unwrap_or(1);
        state.in_flight += i64::from(granted);
        Ok(Permit {
            gate: self,
            granted,
            settled: false,
        })
    }

    /// Counts EIPs we released: room in the account quota again (not in the daily limit,
    /// which counts allocations).
    pub fn released(&self, count: u32) {
        if let Some(view) = self.state().view.as_mut() {
            view.total_used = (view.total_used - i64::from(count)).max(0);
        }
    }

    async fn read(&self, api: &dyn VpcApi) -> Result<View, ProviderError> {
        let resp = api
            .describe_address_quota(&self.region, &DescribeAddressQuotaRequest {})
            .await
            .map_err(|e| errors::map(&e, Stage::Read))?;
        let find = |id: &str| {
            resp.quota_set
                .iter()
                .find(|q| q.quota_id.as_deref() == Some(id))
                .map(|q| (q.quota_current.unwrap_or(0), q.quota_limit.unwrap_or(0)))
        };
        let (Some((total_used, total_limit)), Some((daily_used, daily_limit))) =
            (find(TOTAL), find(DAILY))
        else {
            return Err(ProviderError::permanent(format!(
                "DescribeAddressQuota in {} lacks {TOTAL} or {DAILY}",
                self.region
            )));
        };
        Ok(View {
            total_used,
            total_limit,
            daily_used,
            daily_limit,
        })
    }

    fn explain(&self, view: &View, in_flight: i64, total: bool) -> String {
        let pending = if in_flight > 0 {
            format!(" ({in_flight} more being allocated)")
        } else {
            String::new()
        };
        if total {
            format!(
                "the account has {} of its {} EIPs in region {} ({TOTAL}){pending}; release EIPs \
                 it does not need, lower the warm pool's maximum, or ask for a higher quota",
                view.total_used, view.total_limit, self.region
            )
        } else {
            format!(
                "{} of the {} EIPs the account may allocate per day in region {} are allocated \
                 ({DAILY}){pending}; allocation resumes tomorrow. A larger warm pool or a \
                 KeepFor retention reuses EIPs instead of allocating new ones",
                view.daily_used, view.daily_limit, self.region
            )
        }
    }

    fn settle_raw(&self, granted: u32, outcome: Outcome, message: Option<String>) {
        let mut state = self.state();
        state.in_flight = (state.in_flight - i64::from(granted)).max(0);
        match outcome {
            Outcome::Allocated(n) => {
                if let Some(view) = state.view.as_mut() {
                    view.total_used += i64::from(n);
                    view.daily_used += i64::from(n);
                }
            }
            Outcome::Refused => state.refused = message,
            Outcome::Unknown => state.fetched = None,
            Outcome::Nothing => {}
        }
    }
}

impl Permit<'_> {
    /// Ends the reservation with what the allocation did. `message`: the cloud's refusal.
    pub fn settle(mut self, outcome: Outcome, message: Option<String>) {
        self.settled = true;
        self.gate.settle_raw(self.granted, outcome, message);
    }
}

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        // A caller cancelled between reserving and settling: we cannot know what the call
        // did, so the quota is read again next time.
        if !self.settled {
            self.gate.settle_raw(self.granted, Outcome::Unknown, None);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use dac_provider_api::reason;
    use dac_tencentcloud::MockVpcApi;
    use dac_tencentcloud::models::vpc::{DescribeAddressQuotaResponse, Quota};

    fn answer(total: (i64, i64), daily: (i64, i64)) -> DescribeAddressQuotaResponse {
        let quota = |id: &str, (current, limit)| Quota {
            quota_id: Some(id.into()),
            quota_current: Some(current),
            quota_limit: Some(limit),
            quota_group: None,
        };
        DescribeAddressQuotaResponse {
            quota_set: vec![quota(TOTAL, total), quota(DAILY, daily)],
            ..Default::default()
        }
    }

    fn mock(total: (i64, i64), daily: (i64, i64), reads: usize) -> MockVpcApi {
        let mut mock = MockVpcApi::new();
        mock.expect_describe_address_quota()
            .times(reads)
            .returning(move |_, _| Ok(answer(total, daily)));
        mock
    }

    #[tokio::test]
    async fn reserves_within_the_room_and_refuses_beyond_it() {
        let api = mock((17, 20), (0, 40), 1);
        let gate = QuotaGate::new("ap-guangzhou", Duration::from_secs(60));
        let a = gate.reserve(&api, 2).await.unwrap();
        assert_eq!(a.granted, 2);
        let b = gate.reserve(&api, 5).await.unwrap();
        assert_eq!(b.granted, 1, "only one left");
        let err = gate.reserve(&api, 1).await.unwrap_err();
        assert_eq!(err.reason(), reason::EIP_QUOTA_EXCEEDED);
        assert!(
            err.message().contains("17 of its 20 EIPs"),
            "{}",
            err.message()
        );
        assert!(
            err.message().contains("3 more being allocated"),
            "{}",
            err.message()
        );
        assert!(err.message().contains("TOTAL_EIP_QUOTA"));
        // An allocation that certainly did nothing gives its room back.
        b.settle(Outcome::Nothing, None);
        let c = gate.reserve(&api, 1).await.unwrap();
        c.settle(Outcome::Allocated(1), None);
        a.settle(Outcome::Allocated(2), None);
        assert!(gate.reserve(&api, 1).await.is_err());
        gate.released(1);
        assert!(gate.reserve(&api, 1).await.is_ok());
    }

    #[tokio::test]
    async fn the_daily_limit_counts_too() {
        let api = mock((3, 20), (40, 40), 1);
        let gate = QuotaGate::new("ap-guangzhou", Duration::from_secs(60));
        let err = gate.reserve(&api, 1).await.unwrap_err();
        assert!(
            err.message().contains("DAILY_EIP_APPLY"),
            "{}",
            err.message()
        );
        // Releasing frees account quota, not the day's allocations.
        gate.released(3);
        assert!(gate.reserve(&api, 1).await.is_err());
    }

    #[tokio::test]
    async fn a_refusal_from_the_cloud_holds_until_the_next_read() {
        let api = mock((0, 20), (0, 40), 2);
        let gate = QuotaGate::new("r", Duration::from_millis(50));
        let permit = gate.reserve(&api, 1).await.unwrap();
        permit.settle(Outcome::Refused, Some("AddressQuotaLimitExceeded".into()));
        let err = gate.reserve(&api, 1).await.unwrap_err();
        assert_eq!(err.message(), "AddressQuotaLimitExceeded");
        tokio::time::sleep(Duration::from_millis(60)).await;
        gate.reserve(&api, 1)
            .await
            .unwrap()
            .settle(Outcome::Nothing, None);
    }

    #[tokio::test]
    async fn unknown_outcomes_and_dropped_permits_read_again() {
        let api = mock((0, 20), (0, 40), 3);
        let gate = QuotaGate::new("r", Duration::from_secs(60));
        gate.reserve(&api, 1)
            .await
            .unwrap()
            .settle(Outcome::Unknown, None);
        drop(gate.reserve(&api, 1).await.unwrap());
        gate.reserve(&api, 1)
            .await
            .unwrap()
            .settle(Outcome::Nothing, None);
    }
}
