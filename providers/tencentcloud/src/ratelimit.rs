//! Client-side rate limiting: one token bucket per action, shared by every clone of a client.
//!
//! The cloud limits each action per account (20 requests/s for most CLB writes). Staying under
//! that ourselves is cheaper than being throttled and backing off, and keeps one busy
//! reconciler from starving the others of the shared budget.
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

#[derive(Debug, Clone, PartialEq)]
pub struct RateLimitConfig {
    /// Requests per second for actions without an override; 0 disables limiting.
    pub default_per_second: f64,
    /// Requests that may go out at once after a quiet spell. 1 paces requests evenly, which
    /// never exceeds a per-second window on the server however its window is aligned.
    pub burst: u32,
    /// Requests per second by action name (0 disables limiting for that action).
    pub per_action: HashMap<String, f64>,
}

impl Default for RateLimitConfig {
    fn default() -> Self {
        Self {
            default_per_second: 20.0,
            burst: 1,
            // The documented limit of AssociateAddress is below the default.
            per_action: HashMap::from([("AssociateAddress".to_string(), 10.0)]),
        }
    }
}

impl RateLimitConfig {
    /// No client-side limit at all.
    pub fn unlimited() -> Self {
        Self {
            default_per_second: 0.0,
            burst: 1,
            per_action: HashMap::new(),
        }
    }

    pub fn rate_for(&self, action: &str) -> f64 {
        self.per_action
            .get(action)
            .copied()
            .unwrap_or(self.default_per_second)
    }
}

#[derive(Debug)]
pub struct RateLimiter {
    config: RateLimitConfig,
    buckets: Mutex<HashMap<String, Bucket>>,
}

#[derive(Debug)]
struct Bucket {
    /// May go negative: each waiting caller reserves its token up front, so callers are served
    /// in arrival order without a queue.
    tokens: f64,
    updated: Instant,
}

impl RateLimiter {
    pub fn new(config: RateLimitConfig) -> Self {
        Self {
            config,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    pub fn config(&self) -> &RateLimitConfig {
        &self.config
    }

    /// How long the caller must wait before sending `action`; the token is taken now.
    pub fn reserve(&self, action: &str) -> Duration {
        let rate = self.config.rate_for(action);
        if rate <= 0.0 || !rate.is_finite() {
            return Duration::ZERO;
        }
        let burst = f64::from(self.config.burst.max(1));
        let now = Instant::now();
        let mut buckets = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        let bucket = buckets.entry(action.to_string()).or_insert(Bucket {
            tokens: burst,
            updated: now,
        });
        let elapsed = now.saturating_duration_since(bucket.updated).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * rate).min(burst);
        bucket.updated = now;
        bucket.tokens -= 1.0;
        if bucket.tokens >= 0.0 {
            Duration::ZERO
        } else {
            Duration::from_secs_f64(-bucket.tokens / rate)
        }
    }

    /// Waits until `action` may be sent.
    pub async fn acquire(&self, action: &str) {
        let wait = self.reserve(action);
        if !wait.is_zero() {
            tracing::trace!(
                action,
                wait_ms = wait.as_millis() as u64,
                "client-side rate limit"
            );
            tokio::time::sleep(wait).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn paces_each_action_at_its_rate() {
        let limiter = RateLimiter::new(RateLimitConfig {
            default_per_second: 10.0,
            burst: 1,
            per_action: HashMap::from([("Fast".to_string(), 100.0), ("Free".to_string(), 0.0)]),
        });
        let start = Instant::now();
        for _ in 0..11 {
            limiter.acquire("Slow").await;
        }
        // The first goes at once, the ten others 100 ms apart.
        assert_eq!(start.elapsed(), Duration::from_secs(1));

        let start = Instant::now();
        for _ in 0..11 {
            limiter.acquire("Fast").await;
        }
        assert_eq!(start.elapsed(), Duration::from_millis(100));

        let start = Instant::now();
        for _ in 0..1000 {
            limiter.acquire("Free").await;
        }
        assert_eq!(start.elapsed(), Duration::ZERO);
    }

    #[tokio::test(start_paused = true)]
    async fn burst_lets_requests_through_at_once_then_paces() {
        let limiter = RateLimiter::new(RateLimitConfig {
            default_per_second: 20.0,
            burst: 5,
            per_action: HashMap::new(),
        });
        let waits: Vec<_> = (0..7).map(|_| limiter.reserve("A").as_millis()).collect();
        assert_eq!(waits, [0, 0, 0, 0, 0, 50, 100]);
    }

    #[tokio::test(start_paused = true)]
    async fn concurrent_callers_share_one_bucket() {
        let limiter = std::sync::Arc::new(RateLimiter::new(RateLimitConfig::default()));
        let start = Instant::now();
        let tasks: Vec<_> = (0..21)
            .map(|_| {
                let limiter = limiter.clone();
                tokio::spawn(async move { limiter.acquire("CreateListener").await })
            })
            .collect();
        for t in tasks {
            t.await.unwrap();
        }
        assert_eq!(start.elapsed(), Duration::from_secs(1));
        // AssociateAddress has its own, lower default.
        assert_eq!(limiter.config().rate_for("AssociateAddress"), 10.0);
    }
}
