//! Login throttling and lockout, per account and per source address, with exponential backoff.
//!
//! Pure state machine with an explicit clock: [`LoginThrottle::check`] before verifying a credential,
//! [`LoginThrottle::record_failure`] / [`LoginThrottle::record_success`] after. Keys for logins that do
//! not exist are tracked like real ones, so the answers do not reveal which logins exist.
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

/// Limits for one kind of key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ThrottlePolicy {
    /// Failures allowed without any delay.
    pub free_failures: u32,
    /// Delay after the first failure beyond the free ones; doubles with each further failure.
    pub base_delay: Duration,
    /// Upper bound of the backoff delay.
    pub max_delay: Duration,
    /// Failures (within `window`) after which the key is locked for `lockout`.
    pub lockout_after: u32,
    /// Duration of a lockout.
    pub lockout: Duration,
    /// Failures older than this are forgotten.
    pub window: Duration,
}

impl ThrottlePolicy {
    /// Defaults for accounts: 3 free tries, backoff from 1 s, locked 15 min after 10 failures.
    pub const ACCOUNT: ThrottlePolicy = ThrottlePolicy {
        free_failures: 3,
        base_delay: Duration::from_secs(1),
        max_delay: Duration::from_secs(60),
        lockout_after: 10,
        lockout: Duration::from_secs(15 * 60),
        window: Duration::from_secs(15 * 60),
    };
    /// Defaults for source addresses: more generous (one address may serve many users behind NAT).
    pub const ADDRESS: ThrottlePolicy = ThrottlePolicy {
        free_failures: 10,
        base_delay: Duration::from_secs(1),
        max_delay: Duration::from_secs(60),
        lockout_after: 50,
        lockout: Duration::from_secs(15 * 60),
        window: Duration::from_secs(15 * 60),
    };

    /// Delay imposed after `failures` failures.
    pub fn delay_after(&self, failures: u32) -> Duration {
        if failures >= self.lockout_after {
            return self.lockout;
        }
        let Some(over) = failures.checked_sub(self.free_failures).filter(|n| *n > 0) else {
            return Duration::ZERO;
        };
        let factor = 1u32.checked_shl(over - 1).unwrap_or(u32::MAX);
        self.base_delay.saturating_mul(factor).min(self.max_delay)
    }
}

/// What is being throttled.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ThrottleKey {
    /// A login name (lower-cased), whether or not the account exists.
    Login(String),
    /// A source address.
    Address(IpAddr),
}

#[derive(Debug, Clone, Copy)]
struct Record {
    failures: u32,
    last_failure: Instant,
    blocked_until: Instant,
}

/// The verdict of [`LoginThrottle::check`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Go ahead and verify the credential.
    Allow,
    /// Refuse without verifying; try again after this long. `locked` is true for a lockout (as opposed to
    /// a backoff delay).
    Wait { retry_after: Duration, locked: bool },
}

/// Throttle state for accounts and addresses.
#[derive(Debug)]
pub struct LoginThrottle {
    account: ThrottlePolicy,
    address: ThrottlePolicy,
    max_keys: usize,
    records: Mutex<HashMap<ThrottleKey, Record>>,
}

/// Default bound on tracked keys; beyond it expired records are pruned.
const DEFAULT_MAX_KEYS: usize = 100_000;

impl Default for LoginThrottle {
    fn default() -> Self {
        LoginThrottle::new(ThrottlePolicy::ACCOUNT, ThrottlePolicy::ADDRESS)
    }
}

impl LoginThrottle {
    /// A throttle with the given policies.
    pub fn new(account: ThrottlePolicy, address: ThrottlePolicy) -> Self {
        LoginThrottle {
            account,
            address,
            max_keys: DEFAULT_MAX_KEYS,
            records: Mutex::new(HashMap::new()),
        }
    }

    fn policy(&self, key: &ThrottleKey) -> &ThrottlePolicy {
        match key {
            ThrottleKey::Login(_) => &self.account,
            ThrottleKey::Address(_) => &self.address,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<ThrottleKey, Record>> {
        self.records
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// May an attempt for `login` from `addr` be verified now? The longer of the two waits wins.
    pub fn check(&self, login: &str, addr: IpAddr) -> Verdict {
        let now = Instant::now();
        let records = self.lock();
        let mut verdict = Verdict::Allow;
        for key in [
            ThrottleKey::Login(login.to_lowercase()),
            ThrottleKey::Address(addr),
        ] {
            let Some(record) = records.get(&key) else { continue };
            if record.blocked_until > now {
                let retry_after = record.blocked_until - now;
                let locked = record.failures >= self.policy(&key).lockout_after;
                verdict = match verdict {
                    Verdict::Wait {
                        retry_after: other,
                        locked: l,
                    } if other >= retry_after => Verdict::Wait {
                        retry_after: other,
                        locked: l || locked,
                    },
                    _ => Verdict::Wait { retry_after, locked },
                };
            }
        }
        verdict
    }

    /// Records a failed attempt; returns the resulting verdict for the next attempt.
    pub fn record_failure(&self, login: &str, addr: IpAddr) -> Verdict {
        let now = Instant::now();
        {
            let mut records = self.lock();
            if records.len() >= self.max_keys {
                let account = self.account;
                let address = self.address;
                records.retain(|k, r| {
                    let policy = if matches!(k, ThrottleKey::Login(_)) {
                        account
                    } else {
                        address
                    };
                    r.blocked_until > now || now.duration_since(r.last_failure) < policy.window
                });
            }
            for key in [
                ThrottleKey::Login(login.to_lowercase()),
                ThrottleKey::Address(addr),
            ] {
                let policy = *self.policy(&key);
                let record = records.entry(key).or_insert(Record {
                    failures: 0,
                    last_failure: now,
                    blocked_until: now,
                });
                if now.duration_since(record.last_failure) >= policy.window && record.blocked_until <= now {
                    record.failures = 0;
                }
                record.failures = record.failures.saturating_add(1);
                record.last_failure = now;
                record.blocked_until = now + policy.delay_after(record.failures);
            }
        }
        self.check(login, addr)
    }

    /// Records a successful login: the account's and the address's failures are forgotten. A locked
    /// account stays locked (a success cannot be observed while locked, since attempts are refused).
    pub fn record_success(&self, login: &str, addr: IpAddr) {
        let mut records = self.lock();
        records.remove(&ThrottleKey::Login(login.to_lowercase()));
        records.remove(&ThrottleKey::Address(addr));
    }

    /// Like [`LoginThrottle::check`] for requests that name no login (API tokens).
    pub fn check_address(&self, addr: IpAddr) -> Verdict {
        let now = Instant::now();
        match self.lock().get(&ThrottleKey::Address(addr)) {
            Some(r) if r.blocked_until > now => Verdict::Wait {
                retry_after: r.blocked_until - now,
                locked: r.failures >= self.address.lockout_after,
            },
            _ => Verdict::Allow,
        }
    }

    /// Records a failure that names no login (a bad API token).
    pub fn record_address_failure(&self, addr: IpAddr) {
        let now = Instant::now();
        let policy = self.address;
        let mut records = self.lock();
        let record = records.entry(ThrottleKey::Address(addr)).or_insert(Record {
            failures: 0,
            last_failure: now,
            blocked_until: now,
        });
        if now.duration_since(record.last_failure) >= policy.window && record.blocked_until <= now {
            record.failures = 0;
        }
        record.failures = record.failures.saturating_add(1);
        record.last_failure = now;
        record.blocked_until = now + policy.delay_after(record.failures);
    }

    /// Clears a lockout (admin `account unlock`).
    pub fn unlock(&self, login: &str) {
        self.lock().remove(&ThrottleKey::Login(login.to_lowercase()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(192, 0, 2, 1));
    const B: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(192, 0, 2, 2));

    #[test]
    fn delay_schedule() {
        let p = ThrottlePolicy::ACCOUNT;
        let check = |failures: u32, secs: u64| {
            assert_eq!(p.delay_after(failures), Duration::from_secs(secs), "{failures}")
        };
        check(0, 0);
        check(3, 0);
        check(4, 1);
        check(5, 2);
        check(6, 4);
        check(9, 32);
        check(10, 900);
        check(1000, 900);
        let steep = ThrottlePolicy {
            lockout_after: u32::MAX,
            ..p
        };
        assert_eq!(steep.delay_after(200), p.max_delay, "no overflow");
    }

    #[tokio::test(start_paused = true)]
    async fn backoff_then_lockout_then_window() {
        let t = LoginThrottle::default();
        for _ in 0..3 {
            assert_eq!(t.check("alice", A), Verdict::Allow);
            assert_eq!(t.record_failure("alice", A), Verdict::Allow);
        }
        assert_eq!(
            t.record_failure("Alice", A),
            Verdict::Wait {
                retry_after: Duration::from_secs(1),
                locked: false
            },
            "login is case-insensitive"
        );
        // Another address is throttled too: the account is the key.
        assert!(matches!(t.check("alice", B), Verdict::Wait { .. }));
        // Another account from the same address is not (address allows more).
        assert_eq!(t.check("bob", A), Verdict::Allow);
        tokio::time::advance(Duration::from_secs(1)).await;
        assert_eq!(t.check("alice", A), Verdict::Allow);
        for _ in 4..10 {
            t.record_failure("alice", A);
        }
        assert_eq!(
            t.check("alice", B),
            Verdict::Wait {
                retry_after: Duration::from_secs(900),
                locked: true
            }
        );
        tokio::time::advance(Duration::from_secs(900)).await;
        assert_eq!(t.check("alice", B), Verdict::Allow);
        // After the lockout, the window has passed: counting starts over.
        assert_eq!(t.record_failure("alice", B), Verdict::Allow);
    }

    #[tokio::test(start_paused = true)]
    async fn address_throttled_across_logins_and_success_resets() {
        let t = LoginThrottle::default();
        for i in 0..10 {
            t.record_failure(&format!("user{i}"), A);
        }
        assert_eq!(t.check("fresh", A), Verdict::Allow);
        t.record_failure("fresh2", A);
        assert!(matches!(
            t.check("anyone", A),
            Verdict::Wait { locked: false, .. }
        ));
        assert_eq!(t.check("anyone", B), Verdict::Allow);
        t.record_success("anyone", A);
        assert_eq!(t.check("anyone", A), Verdict::Allow);
        for _ in 0..10 {
            t.record_failure("carol", B);
        }
        t.unlock("carol");
        t.record_success("x", B);
        assert_eq!(t.check("carol", B), Verdict::Allow);
    }
}
