//! Per-account request rate limit (`http.requests_per_second`): a token bucket per account, refilled at
//! the configured rate with a burst of two seconds' worth. An account over its rate gets 429 with
//! `Retry-After` on the API (Kannel's "Temporal failure" 503 on the shim); other accounts are unaffected.
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

/// Seconds of rate a bucket holds (its burst).
const BURST_SECONDS: f64 = 2.0;
/// Buckets idle longer than this are forgotten when the table is pruned.
const IDLE_FORGET: Duration = Duration::from_secs(600);
/// Table size that triggers pruning of idle buckets.
const PRUNE_AT: usize = 10_000;

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    last: Instant,
}

/// The limiter.
#[derive(Debug)]
pub struct AccountRateLimiter {
    per_second: f64,
    burst: f64,
    buckets: Mutex<HashMap<i64, Bucket>>,
}

impl AccountRateLimiter {
    /// `per_second` requests per second per account; `None` when 0 (no limit).
    pub fn new(per_second: u32) -> Option<Self> {
        (per_second > 0).then(|| {
            let per_second = f64::from(per_second);
            AccountRateLimiter {
                per_second,
                burst: (per_second * BURST_SECONDS).max(1.0),
                buckets: Mutex::new(HashMap::new()),
            }
        })
    }

    /// Takes one request's token for `account`, or says how long until one is available.
    pub fn check(&self, account: i64) -> Result<(), Duration> {
        let now = Instant::now();
        let mut buckets = self
            .buckets
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if buckets.len() >= PRUNE_AT {
            buckets.retain(|_, b| now.duration_since(b.last) < IDLE_FORGET);
        }
        let bucket = buckets.entry(account).or_insert(Bucket {
            tokens: self.burst,
            last: now,
        });
        let refill = now.duration_since(bucket.last).as_secs_f64() * self.per_second;
        bucket.tokens = (bucket.tokens + refill).min(self.burst);
        bucket.last = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - bucket.tokens) / self.per_second))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn burst_then_rate_per_account() {
        assert!(AccountRateLimiter::new(0).is_none());
        let limiter = AccountRateLimiter::new(5).unwrap();
        for _ in 0..10 {
            limiter.check(1).unwrap();
        }
        let wait = limiter.check(1).unwrap_err();
        assert_eq!(wait, Duration::from_millis(200));
        limiter.check(2).unwrap();
        tokio::time::advance(Duration::from_millis(200)).await;
        limiter.check(1).unwrap();
        assert!(limiter.check(1).is_err());
        tokio::time::advance(Duration::from_secs(10)).await;
        for _ in 0..10 {
            limiter.check(1).unwrap();
        }
        assert!(limiter.check(1).is_err(), "burst is capped");
    }
}
