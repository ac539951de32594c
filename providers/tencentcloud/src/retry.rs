//! Retry policy: bounded attempts, exponential backoff with full jitter.
//!
//! Full jitter (a delay drawn uniformly from zero to the exponential bound) spreads the retries
//! of many reconcilers that were throttled at the same moment, instead of having them come back
//! together and be throttled again.
use std::time::Duration;

use crate::error::{Error, ErrorKind};

#[derive(Debug, Clone, PartialEq)]
pub struct RetryConfig {
    /// Attempts in all, the first one included; 1 disables retries.
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
}

impl Default for RetryConfig {
    fn default() -> Self {
        Self {
            max_attempts: 6,
            base_delay: Duration::from_millis(200),
            max_delay: Duration::from_secs(8),
            retry_ambiguous_writes: false,
        }
    }
}

impl RetryConfig {
    /// No retries at all.
    pub fn none() -> Self {
        Self {
            max_attempts: 1,
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

    /// Whether to send `action` again after `err` on attempt `attempt`.
    pub fn should_retry(&self, action: &str, err: &Error, attempt: u32) -> bool {
        if attempt >= self.max_attempts || !err.is_retryable() {
            return false;
        }
        match err.kind() {
            ErrorKind::Throttled | ErrorKind::Busy => true,
            _ => !err.is_ambiguous() || is_read_only(action) || self.retry_ambiguous_writes,
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

    #[test]
    fn bounds_grow_exponentially_up_to_the_cap() {
        let cfg = RetryConfig::default();
        let bounds: Vec<_> = (1..=8).map(|a| cfg.delay_bound(a).as_millis()).collect();
        assert_eq!(bounds, [200, 400, 800, 1600, 3200, 6400, 8000, 8000]);
        assert_eq!(cfg.delay_bound(u32::MAX), cfg.max_delay);
    }

    #[test]
    fn backoff_stays_within_the_bound() {
        let cfg = RetryConfig::default();
        for attempt in 1..10 {
            for _ in 0..50 {
                assert!(cfg.backoff(attempt) <= cfg.delay_bound(attempt));
            }
        }
    }

    #[test]
    fn retries_only_retryable_errors_within_the_bound() {
        let cfg = RetryConfig::default();
        let throttled = Error::api("CreateListener", "RequestLimitExceeded", "", "r");
        let busy = Error::api(
            "CreateListener",
            "FailedOperation.ResourceInOperating",
            "",
            "r",
        );
        let invalid = Error::api("CreateListener", "InvalidParameter", "", "r");
        assert!(cfg.should_retry("CreateListener", &throttled, 1));
        assert!(cfg.should_retry("CreateListener", &busy, 5));
        assert!(!cfg.should_retry("CreateListener", &busy, 6));
        assert!(!cfg.should_retry("CreateListener", &invalid, 1));
    }

    #[test]
    fn ambiguous_failures_are_retried_for_reads_only_by_default() {
        let internal = Error::api("X", "InternalError", "", "r");
        let cfg = RetryConfig::default();
        assert!(cfg.should_retry("DescribeListeners", &internal, 1));
        assert!(!cfg.should_retry("CreateListener", &internal, 1));
        let eager = RetryConfig {
            retry_ambiguous_writes: true,
            ..cfg
        };
        assert!(eager.should_retry("CreateListener", &internal, 1));
    }
}
