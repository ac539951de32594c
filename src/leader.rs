//! One writer at a time: leader election on a `coordination.k8s.io/v1` Lease.
//!
//! Built on kube's `Api<Lease>` rather than a crate: the rule we need is "a leader that cannot
//! renew stops before its lease can expire", measured on the leader's own monotonic clock, and
//! the maintained crate for kube 5 (kube-lease-manager) keeps reporting leadership while its
//! renewals fail and judges expiry from the holder's timestamps. The protocol is client-go's:
//!
//! - the holder renews every `retry` and gives up leading once `renew_deadline` has passed
//!   since its last successful renewal (`renew_deadline` < `duration`, so it stops before any
//!   follower may take over);
//! - a follower takes over only after the Lease record has not changed for `duration` by its
//!   own clock (no trust in other machines' clocks), or when it has no holder;
//! - every write is a replace with the read `resourceVersion`, so two candidates never both win;
//! - on a clean shutdown the holder empties the record, so a follower takes over at once.
//!
//! [`LeaseRecord::decide`] is the whole decision, a plain function tested without a cluster.
use crate::Result;
use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime;
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, ObjectMeta, PostParams};
use std::time::Duration;
use tokio::time::Instant;

/// How long a lease lasts and how often it is renewed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LeaseTimings {
    /// A follower takes over after the record has not changed for this long.
    pub duration: Duration,
    /// The leader gives up when it has not renewed for this long; less than `duration`.
    pub renew_deadline: Duration,
    /// How often the leader renews and a follower looks.
    pub retry: Duration,
}

impl Default for LeaseTimings {
    /// client-go's defaults.
    fn default() -> Self {
        Self {
            duration: Duration::from_secs(15),
            renew_deadline: Duration::from_secs(10),
            retry: Duration::from_secs(2),
        }
    }
}

/// What a Lease says about its holder, as far as the election cares.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LeaseRecord {
    pub holder: Option<String>,
    pub renew_time: Option<Timestamp>,
    pub transitions: i32,
}

/// What a candidate does after reading the Lease.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    /// It holds the lease: write a new renew time.
    Renew,
    /// Nobody holds it, or the holder stopped renewing: write itself in as the holder.
    TakeOver,
    /// Someone else holds it and renews it: wait.
    Follow,
}

impl LeaseRecord {
    fn from_lease(lease: &Lease) -> Self {
        let spec = lease.spec.clone().unwrap_or_default();
        Self {
            holder: spec.holder_identity.filter(|h| !h.is_empty()),
            renew_time: spec.renew_time.map(|t| t.0),
            transitions: spec.lease_transitions.unwrap_or(0),
        }
    }

    /// `unchanged_for`: how long this same record has been seen, on the reader's clock.
    pub fn decide(&self, me: &str, unchanged_for: Duration, timings: &LeaseTimings) -> Decision {
        match &self.holder {
            Some(holder) if holder == me => Decision::Renew,
            Some(_) if unchanged_for < timings.duration => Decision::Follow,
            _ => Decision::TakeOver,
        }
    }
}

/// Lost, or could not keep, the lease.
#[derive(Debug, thiserror::Error)]
#[error("lost the leader lease {name}: {why}")]
pub struct LostLease {
    pub name: String,
    pub why: String,
}

/// A candidate for one Lease.
pub struct Elector {
    api: Api<Lease>,
    name: String,
    identity: String,
    timings: LeaseTimings,
    /// The record last read and since when it has looked the same.
    observed: Option<(LeaseRecord, Instant)>,
    last_renewed: Option<Instant>,
}

impl Elector {
    pub fn new(
        api: Api<Lease>,
        name: impl Into<String>,
        identity: impl Into<String>,
        timings: LeaseTimings,
    ) -> Self {
        Self {
            api,
            name: name.into(),
            identity: identity.into(),
            timings,
            observed: None,
            last_renewed: None,
        }
    }

    pub fn identity(&self) -> &str {
        &self.identity
    }

    /// Tries until it holds the lease. `on_read` is told whether the API server answered, so a
    /// follower's readiness can say it is able to take over.
    pub async fn acquire(&mut self, on_read: impl Fn(bool)) {
        loop {
            match self.try_acquire_or_renew().await {
                Ok(true) => {
                    on_read(true);
                    return;
                }
                Ok(false) => on_read(true),
                Err(error) => {
                    on_read(false);
                    tracing::warn!(lease = %self.name, %error, "cannot read the leader lease");
                }
            }
            tokio::time::sleep(self.timings.retry).await;
        }
    }

    /// Renews until it can no longer be sure it holds the lease; returns why. Returns *before*
    /// the lease could expire for a follower, so the caller must stop writing at once.
    pub async fn keep_renewing(&mut self) -> LostLease {
        let mut last_error = String::from("the API server did not answer");
        loop {
            let deadline =
                self.last_renewed.unwrap_or_else(Instant::now) + self.timings.renew_deadline;
            tokio::time::sleep_until((Instant::now() + self.timings.retry).min(deadline)).await;
            let why = match tokio::time::timeout_at(deadline, self.try_acquire_or_renew()).await {
                Ok(Ok(true)) => continue,
                Ok(Ok(false)) => "another candidate holds it now".to_string(),
                Ok(Err(error)) => {
                    tracing::warn!(lease = %self.name, %error, "cannot renew the leader lease; retrying");
                    last_error = error.to_string();
                    if Instant::now() < deadline {
                        continue;
                    }
                    format!(
                        "no renewal within {:?}: {last_error}",
                        self.timings.renew_deadline
                    )
                }
                Err(_) => format!(
                    "no renewal within {:?}: {last_error}",
                    self.timings.renew_deadline
                ),
            };
            self.last_renewed = None;
            return LostLease {
                name: self.name.clone(),
                why,
            };
        }
    }

    /// Hands the lease over on a clean shutdown, so a follower need not wait for it to expire.
    pub async fn release(&mut self) {
        let Ok(Some(mut lease)) = self.api.get_opt(&self.name).await else {
            return;
        };
        if LeaseRecord::from_lease(&lease).holder.as_deref() != Some(self.identity.as_str()) {
            return;
        }
        let spec = lease.spec.get_or_insert_with(Default::default);
        spec.holder_identity = None;
        spec.acquire_time = None;
        spec.renew_time = Some(MicroTime(Timestamp::now()));
        spec.lease_duration_seconds = Some(1);
        match self
            .api
            .replace(&self.name, &PostParams::default(), &lease)
            .await
        {
            Ok(_) => tracing::info!(lease = %self.name, "leader lease released"),
            Err(error) => {
                tracing::warn!(lease = %self.name, %error, "could not release the leader lease")
            }
        }
    }

    /// One round: read, decide, write. `Ok(true)` when it holds the lease afterwards.
    async fn try_acquire_or_renew(&mut self) -> Result<bool> {
        let now = Timestamp::now();
        let Some(mut lease) = self.api.get_opt(&self.name).await? else {
            let lease = Lease {
                metadata: ObjectMeta {
                    name: Some(self.name.clone()),
                    ..Default::default()
                },
                spec: Some(self.holder_spec(now, now, 0)),
            };
            return self.written(self.api.create(&PostParams::default(), &lease).await);
        };
        let record = LeaseRecord::from_lease(&lease);
        let seen_since = match &self.observed {
            Some((seen, since)) if *seen == record => *since,
            _ => Instant::now(),
        };
        self.observed = Some((record.clone(), seen_since));
        match record.decide(&self.identity, seen_since.elapsed(), &self.timings) {
            Decision::Follow => Ok(false),
            Decision::Renew => {
                let spec = lease.spec.get_or_insert_with(Default::default);
                spec.renew_time = Some(MicroTime(now));
                spec.lease_duration_seconds = Some(self.lease_seconds());
                let written = self
                    .api
                    .replace(&self.name, &PostParams::default(), &lease)
                    .await;
                self.written(written)
            }
            Decision::TakeOver => {
                tracing::info!(lease = %self.name, previous = ?record.holder, "taking over the leader lease");
                lease.spec = Some(self.holder_spec(now, now, record.transitions + 1));
                let written = self
                    .api
                    .replace(&self.name, &PostParams::default(), &lease)
                    .await;
                self.written(written)
            }
        }
    }

    fn holder_spec(&self, acquired: Timestamp, renewed: Timestamp, transitions: i32) -> LeaseSpec {
        LeaseSpec {
            holder_identity: Some(self.identity.clone()),
            acquire_time: Some(MicroTime(acquired)),
            renew_time: Some(MicroTime(renewed)),
            lease_duration_seconds: Some(self.lease_seconds()),
            lease_transitions: Some(transitions),
            ..Default::default()
        }
    }

    fn lease_seconds(&self) -> i32 {
        i32::try_from(self.timings.duration.as_secs().max(1)).unwrap_or(i32::MAX)
    }

    /// A write's outcome: a conflict means another candidate wrote first (not an error).
    fn written(&mut self, result: kube::Result<Lease>) -> Result<bool> {
        match result {
            Ok(lease) => {
                self.observed = Some((LeaseRecord::from_lease(&lease), Instant::now()));
                self.last_renewed = Some(Instant::now());
                Ok(true)
            }
            Err(kube::Error::Api(status)) if status.code == 409 => Ok(false),
            Err(error) => Err(error.into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn held_by(holder: Option<&str>) -> LeaseRecord {
        LeaseRecord {
            holder: holder.map(str::to_string),
            renew_time: Some(Timestamp::now()),
            transitions: 3,
        }
    }

    #[test]
    fn the_holder_renews_and_others_follow_until_it_goes_quiet() {
        let timings = LeaseTimings::default();
        let record = held_by(Some("a"));
        assert_eq!(
            record.decide("a", Duration::ZERO, &timings),
            Decision::Renew
        );
        assert_eq!(
            record.decide("b", Duration::from_secs(14), &timings),
            Decision::Follow
        );
        assert_eq!(
            record.decide("b", Duration::from_secs(15), &timings),
            Decision::TakeOver
        );
    }

    #[test]
    fn an_empty_lease_is_taken_at_once() {
        let timings = LeaseTimings::default();
        assert_eq!(
            held_by(None).decide("b", Duration::ZERO, &timings),
            Decision::TakeOver
        );
    }

    #[test]
    fn the_leader_gives_up_before_a_follower_may_take_over() {
        let timings = LeaseTimings::default();
        assert!(timings.renew_deadline < timings.duration);
        assert!(timings.retry < timings.renew_deadline);
    }
}
