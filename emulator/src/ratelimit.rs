//! Per-action, per-SecretId token buckets answering `RequestLimitExceeded`, as the cloud does.
use std::collections::{BTreeMap, HashMap};
use std::time::Instant;

use crate::dispatch::default_rate_limit;
use crate::error::ApiError;

#[derive(Debug)]
struct Bucket {
    tokens: f64,
    last: Instant,
}

#[derive(Debug, Default)]
pub struct RateLimiter {
    /// Requests per second by action; `*` covers actions with neither an entry nor a built-in
    /// default; 0 = unlimited.
    overrides: BTreeMap<String, f64>,
    buckets: HashMap<(String, String), Bucket>,
}

impl RateLimiter {
    pub fn new(overrides: BTreeMap<String, f64>) -> Self {
        Self {
            overrides,
            buckets: HashMap::new(),
        }
    }

    /// The limit in force for `action`, `None` when unlimited.
    pub fn limit_for(&self, action: &str) -> Option<f64> {
        self.overrides
            .get(action)
            .copied()
            .or_else(|| default_rate_limit(action))
            .or_else(|| self.overrides.get("*").copied())
            .filter(|rate| *rate > 0.0)
    }

    pub fn overrides(&self) -> &BTreeMap<String, f64> {
        &self.overrides
    }

    /// Changes limits at run time; buckets start full again.
    pub fn set_overrides(&mut self, overrides: BTreeMap<String, f64>) {
        self.overrides = overrides;
        self.buckets.clear();
    }

    /// Takes a token for one call; the bucket holds one second's worth, so a burst of `rate`
    /// calls passes and the next in the same second does not.
    pub fn check(&mut self, secret_id: &str, action: &str, now: Instant) -> Result<(), ApiError> {
        let Some(rate) = self.limit_for(action) else {
            return Ok(());
        };
        let capacity = rate.max(1.0);
        let bucket = self
            .buckets
            .entry((secret_id.to_string(), action.to_string()))
            .or_insert(Bucket {
                tokens: capacity,
                last: now,
            });
        let elapsed = now.saturating_duration_since(bucket.last).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * rate).min(capacity);
        bucket.last = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            return Ok(());
        }
        Err(ApiError::new(
            "RequestLimitExceeded",
            format!(
                "Your requests to {action} exceed the frequency limit of {rate} per second. Please reduce the frequency of calls."
            ),
        ))
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn bursts_then_refills() {
        let mut limiter = RateLimiter::new(BTreeMap::new());
        let t0 = Instant::now();
        for _ in 0..10 {
            limiter.check("AKID", "AssociateAddress", t0).unwrap();
        }
        let err = limiter.check("AKID", "AssociateAddress", t0).unwrap_err();
        assert_eq!(err.code, "RequestLimitExceeded");
        // Another SecretId has its own bucket; unlisted actions are unlimited.
        limiter.check("OTHER", "AssociateAddress", t0).unwrap();
        for _ in 0..1000 {
            limiter.check("AKID", "DescribeAddresses", t0).unwrap();
        }
        limiter
            .check("AKID", "AssociateAddress", t0 + Duration::from_millis(150))
            .unwrap();
    }

    #[test]
    fn overrides_win() {
        let limiter = RateLimiter::new(BTreeMap::from([
            ("CreateListener".to_string(), 0.0),
            ("*".to_string(), 5.0),
        ]));
        assert_eq!(limiter.limit_for("CreateListener"), None);
        assert_eq!(limiter.limit_for("DescribeAddresses"), Some(5.0));
        assert_eq!(limiter.limit_for("AssociateAddress"), Some(10.0));
    }
}
