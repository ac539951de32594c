//! Retry policy: bounded attempts, exponential backoff with jitter, and a separate time budget
//! for a busy resource.
//!
//! Full jitter (a delay drawn uniformly from zero to the exponential bound) spreads the retries
//! of many reconcilers that were throttled at the same moment, instead of having them come back
//! together and be throttled again.
//!
//! A busy resource (a CLB locked by its running task, an EIP with a task on it, a NAT gateway
//! answering "busy") is different: it clears by itself after a while that the caller cannot
//! know, and retrying is the only way through. The cloud keeps a CLB locked for seconds after a
//! large batch (tke-extend-network-controller retries `ResourceInOperating` for about 15 s), so
//! busy answers are retried for a span of time ([`RetryConfig::busy_budget`]) rather than a
//! number of attempts, with their own, shorter backoff.
use std::time::Duration;

use crate::error::{Error, ErrorKind};

#[derive(Debug, Clone, PartialEq)]
pub struct RetryConfig {
    /// Attempts in all, the first one included, counting every failure except busy answers
    /// (those are bounded by `busy_budget`); 1 disables these retries.
    pub max_attempts: u32,
    /// Bound of the delay after the first failed attempt; doubles with every attempt.
    pub base_delay: Duration,
    /// The bound never grows beyond this.
    pub max_delay: Duration,
    /// Retry writes after a failure that may have happened after the server acted (a timeout
    /// once the request was sent, HTTP 5xx, `InternalError`). Off by default: resending a
    /// create can create twice (two EIPs billed, or a port conflict with our own listener);
    /// the caller's reconcile loop is better placed to look at the state first.
    pub retry_ambiguous_writes: bool,
    /// How long, from the first attempt, a call keeps retrying while the cloud answers that
    /// the resource is busy ([`ErrorKind::Busy`]). Zero: busy answers are not retried.
    pub busy_budget: Duration,
    /// Bound of the delay after the first busy answer; doubles with every busy answer.
    pub busy_base_delay: Duration,
    /// The busy delay's bound never grows beyond this: a lock that clears is noticed soon.
    pub busy_max_delay: Duration,
}

impl Default for RetryConfig {
    fn default() -> Self {
        Self {
            max_attempts: 6,
            base_delay: Duration::from_millis(200),
            max_delay: Duration::from_secs(8),
            retry_ambiguous_writes: false,
            // Covers the ~15 s upstream rides out, and the 10 s batch lock of the emulator's
            // realistic profile with room to spare.
            busy_budget: Duration::from_secs(20),
            busy_base_delay: Duration::from_millis(250),
            busy_max_delay: Duration::from_secs(2),
        }
    }
}

/// Where a call's retries stand after a failed attempt.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Attempts {
    /// Failed attempts other than busy answers, the last one included if it was one.
    pub failed: u32,
    /// Busy answers, the last one included if it was one.
    pub busy: u32,
    /// Since the first attempt was sent.
    pub elapsed: Duration,
}

impl RetryConfig {
    /// No retries at all.
    pub fn none() -> Self {
        Self {
            max_attempts: 1,
            busy_budget: Duration::ZERO,
            ..Self::default()
        }
    }

    /// The upper bound of the delay after failed attempt number `attempt` (1-based).
    pub fn delay_bound(&self, attempt: u32) -> Duration {
        let factor = 2u32.saturating_pow(attempt.saturating_sub(1));
        self.base_delay.saturating_mul(factor).min(self.max_delay)
    }

    /// The delay to sleep after failed attempt `attempt`: uniform in `[0, bound]`.
    pub fn backoff(&self, attempt: u32) -> Duration {
        let bound = self.delay_bound(attempt);
        bound.mul_f64(rand::random::<f64>())
    }

    /// The upper bound of the delay after busy answer number `busy` (1-based).
    pub fn busy_delay_bound(&self, busy: u32) -> Duration {
        let factor = 2u32.saturating_pow(busy.saturating_sub(1));
        self.busy_base_delay
            .saturating_mul(factor)
            .min(self.busy_max_delay)
    }

    /// The delay after busy answer `busy`: in `[bound / 2, bound]`, so that a caller never
    /// hammers a locked resource, while callers locked out together still spread.
    pub fn busy_backoff(&self, busy: u32) -> Duration {
        let bound = self.busy_delay_bound(busy);
        bound / 2 + (bound / 2).mul_f64(rand::random::<f64>())
    }

    /// How long to wait before sending `action` again after `err`, or `None` to give up.
    /// `attempts` counts `err` already.
    pub fn retry_delay(&self, action: &str, err: &Error, attempts: &Attempts) -> Option<Duration> {
        match err.kind() {
            ErrorKind::Busy => {
                let delay = self.busy_backoff(attempts.busy);
                (attempts.elapsed + delay <= self.busy_budget).then_some(delay)
            }
            ErrorKind::Throttled if attempts.failed < self.max_attempts => {
                Some(self.backoff(attempts.failed))
            }
            kind if kind.is_retryable()
                && attempts.failed < self.max_attempts
                && (!err.is_ambiguous() || is_read_only(action) || self.retry_ambiguous_writes) =>
            {
                Some(self.backoff(attempts.failed))
            }
            _ => None,
        }
    }
}

/// Describe* actions change nothing, so they are always safe to resend.
pub fn is_read_only(action: &str) -> bool {
    action.starts_with("Describe") || action.starts_with("Inquir")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failed(n: u32) -> Attempts {
        Attempts {
            failed: n,
            ..Attempts::default()
        }
    }

    fn busy(n: u32, elapsed: Duration) -> Attempts {
        Attempts {
            failed: 0,
            busy: n,
            elapsed,
        }
    }

    #[test]
    fn bounds_grow_exponentially_up_to_the_cap() {
        let cfg = RetryConfig::default();
        let bounds: Vec<_> = (1..=8).map(|a| cfg.delay_bound(a).as_millis()).collect();
        assert_eq!(bounds, [200, 400, 800, 1600, 3200, 6400, 8000, 8000]);
        assert_eq!(cfg.delay_bound(u32::MAX), cfg.max_delay);
        let busy: Vec<_> = (1..=5)
            .map(|a| cfg.busy_delay_bound(a).as_millis())
            .collect();
        assert_eq!(busy, [250, 500, 1000, 2000, 2000]);
    }

    #[test]
    fn backoff_stays_within_the_bound() {
        let cfg = RetryConfig::default();
        for attempt in 1..10 {
            for _ in 0..50 {
                assert!(cfg.backoff(attempt) <= cfg.delay_bound(attempt));
                let busy = cfg.busy_backoff(attempt);
                let bound = cfg.busy_delay_bound(attempt);
                assert!(bound / 2 <= busy && busy <= bound, "{busy:?}");
            }
        }
    }

    #[test]
    fn retries_only_retryable_errors_within_the_bound() {
        let cfg = RetryConfig::default();
        let throttled = Error::api("CreateListener", "RequestLimitExceeded", "", "r");
        let invalid = Error::api("CreateListener", "InvalidParameter", "", "r");
        assert!(
            cfg.retry_delay("CreateListener", &throttled, &failed(1))
                .is_some()
        );
        assert!(
            cfg.retry_delay("CreateListener", &throttled, &failed(5))
                .is_some()
        );
        assert!(
            cfg.retry_delay("CreateListener", &throttled, &failed(6))
                .is_none()
        );
        assert!(
            cfg.retry_delay("CreateListener", &invalid, &failed(1))
                .is_none()
        );
    }

    #[test]
    fn busy_answers_are_retried_for_the_busy_budget_whatever_their_number() {
        let cfg = RetryConfig::default();
        let locked = Error::api(
            "CreateListener",
            "FailedOperation.ResourceInOperating",
            "",
            "r",
        );
        // Far more than max_attempts busy answers, still within the budget: retried.
        let delay = cfg
            .retry_delay(
                "CreateListener",
                &locked,
                &busy(30, Duration::from_secs(15)),
            )
            .unwrap();
        assert!(delay <= cfg.busy_max_delay);
        // Past the budget: given up.
        assert!(
            cfg.retry_delay("CreateListener", &locked, &busy(3, Duration::from_secs(20)))
                .is_none()
        );
        assert!(
            RetryConfig::none()
                .retry_delay("CreateListener", &locked, &busy(1, Duration::ZERO))
                .is_none()
        );
    }

    #[test]
    fn ambiguous_failures_are_retried_for_reads_only_by_default() {
        let internal = Error::api("X", "InternalError", "", "r");
        let cfg = RetryConfig::default();
        assert!(
            cfg.retry_delay("DescribeListeners", &internal, &failed(1))
                .is_some()
        );
        assert!(
            cfg.retry_delay("CreateListener", &internal, &failed(1))
                .is_none()
        );
        let eager = RetryConfig {
            retry_ambiguous_writes: true,
            ..cfg
        };
        assert!(
            eager
                .retry_delay("CreateListener", &internal, &failed(1))
                .is_some()
        );
    }
}
