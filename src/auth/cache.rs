//! Short-lived cache of verified credentials, so an HTTP Basic client does not pay argon2 on every request.
//!
//! The key is HMAC-SHA256 under a random per-process secret over the login and password; neither is
//! stored, and the key is useless outside this process (it cannot be brute-forced offline without the
//! secret). Entries expire after the configured time and are dropped at once when the account's
//! credentials change ([`CredentialCache::invalidate`]). Only successful verifications are cached.
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use hmac::{Hmac, Mac};
use sha2::Sha256;
use tokio::time::Instant;

type HmacSha256 = Hmac<Sha256>;
/// Length of the per-process cache secret (the HMAC-SHA256 block-size-independent recommended key size).
const CACHE_SECRET_OCTETS: usize = 32;

/// Cache key: a keyed hash of login + password.
pub type CacheKey = [u8; 32];

struct Entry<V> {
    value: V,
    expires: Instant,
}

/// The cache. `V` is what a successful verification produced (the principal).
pub struct CredentialCache<V> {
    secret: [u8; CACHE_SECRET_OCTETS],
    ttl: Duration,
    max_entries: usize,
    entries: Mutex<HashMap<CacheKey, Entry<V>>>,
}

impl<V> std::fmt::Debug for CredentialCache<V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CredentialCache")
            .field("ttl", &self.ttl)
            .finish_non_exhaustive()
    }
}

impl<V: Clone> CredentialCache<V> {
    /// A cache whose entries live `ttl` (zero disables caching), holding at most `max_entries`.
    pub fn new(ttl: Duration, max_entries: usize) -> Self {
        CredentialCache {
            secret: rand::random(),
            ttl,
            max_entries,
            entries: Mutex::new(HashMap::new()),
        }
    }

    /// The keyed hash of one credential pair. The login is length-prefixed so ("ab","c") ≠ ("a","bc").
    pub fn key(&self, login: &str, password: &str) -> CacheKey {
        let mut mac = match HmacSha256::new_from_slice(&self.secret) {
            Ok(mac) => mac,
            // HMAC accepts keys of any length; this arm cannot be reached with a 32-octet key.
            Err(_) => return [0; 32],
        };
        mac.update(&(login.len() as u64).to_be_bytes());
        mac.update(login.as_bytes());
        mac.update(password.as_bytes());
        mac.finalize().into_bytes().into()
    }

    /// The cached principal for this login + password, if verified within the last `ttl`.
    pub fn get(&self, login: &str, password: &str) -> Option<V> {
        if self.ttl.is_zero() {
            return None;
        }
        let key = self.key(login, password);
        let now = Instant::now();
        let mut entries = self.lock();
        match entries.get(&key) {
            Some(entry) if entry.expires > now => Some(entry.value.clone()),
            Some(_) => {
                entries.remove(&key);
                None
            }
            None => None,
        }
    }

    /// Remembers a successful verification.
    pub fn put(&self, login: &str, password: &str, value: V) {
        if self.ttl.is_zero() {
            return;
        }
        let key = self.key(login, password);
        let now = Instant::now();
        let mut entries = self.lock();
        if entries.len() >= self.max_entries {
            entries.retain(|_, e| e.expires > now);
            if entries.len() >= self.max_entries {
                // Still full of live entries: start over rather than grow without bound.
                entries.clear();
            }
        }
        entries.insert(
            key,
            Entry {
                value,
                expires: now + self.ttl,
            },
        );
    }

    /// Drops every entry whose principal matches `pred` (password changed, account locked or deleted).
    pub fn invalidate(&self, pred: impl Fn(&V) -> bool) {
        self.lock().retain(|_, e| !pred(&e.value));
    }

    /// Number of entries (live or not yet pruned).
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<CacheKey, Entry<V>>> {
        // A panic while holding the lock leaves the map consistent (single inserts/removes).
        self.entries
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn hit_expire_invalidate() {
        let cache = CredentialCache::new(Duration::from_secs(60), 100);
        assert_eq!(cache.get("alice", "pw"), None);
        cache.put("alice", "pw", 1u32);
        cache.put("bob", "pw", 2u32);
        assert_eq!(cache.get("alice", "pw"), Some(1));
        assert_eq!(cache.get("alice", "pw2"), None, "other password misses");
        tokio::time::advance(Duration::from_secs(59)).await;
        assert_eq!(cache.get("alice", "pw"), Some(1));
        tokio::time::advance(Duration::from_secs(2)).await;
        assert_eq!(cache.get("alice", "pw"), None, "expired");
        cache.put("alice", "pw", 1);
        cache.put("bob", "pw", 2);
        cache.invalidate(|v| *v == 1);
        assert_eq!(cache.get("alice", "pw"), None);
        assert_eq!(cache.get("bob", "pw"), Some(2));
    }

    #[test]
    fn key_is_keyed_and_unambiguous() {
        let a = CredentialCache::<u8>::new(Duration::from_secs(1), 10);
        let b = CredentialCache::<u8>::new(Duration::from_secs(1), 10);
        assert_ne!(a.key("ab", "c"), a.key("a", "bc"));
        assert_ne!(a.key("alice", "pw"), b.key("alice", "pw"), "per-process secret");
        assert_eq!(a.key("alice", "pw"), a.key("alice", "pw"));
    }

    #[tokio::test(start_paused = true)]
    async fn bounded_and_disabled() {
        let cache = CredentialCache::new(Duration::from_secs(60), 3);
        for i in 0..10u8 {
            cache.put(&format!("u{i}"), "pw", i);
            assert!(cache.len() <= 3);
        }
        let off = CredentialCache::new(Duration::ZERO, 3);
        off.put("a", "b", 1u8);
        assert_eq!(off.get("a", "b"), None);
    }
}
