//! Server-side panel sessions and CSRF tokens: the pure core (no HTTP types beyond header values).
//!
//! A session id is 32 random bytes (base64url) sent only in a `__Host-` cookie (Secure, HttpOnly,
//! SameSite=Strict, Path=/). The store keeps the SHA-256 of the id, never the id itself, so a memory dump
//! or a log line cannot be replayed. A session ends after [`IDLE_TIMEOUT`] without a request, after
//! [`ABSOLUTE_TIMEOUT`] in any case, at logout, or when the account is disabled or deleted (checked by
//! the extractor on every request). Each session has its own CSRF token (synchronizer pattern) that every
//! form carries; the login form, which has no session yet, uses a double-submit cookie instead.
//!
//! A session can also hold short-lived *flashes*: values one request leaves for a later one (a secret
//! shown once after a post/redirect/get, a parsed CSV waiting for confirmation). They live beside the
//! session, end with it, and expire after [`FLASH_TTL`].
use std::any::Any;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::store::AccountId;

/// Name of the session cookie; the `__Host-` prefix makes browsers insist on Secure, Path=/ and no
/// Domain (RFC 6265bis §4.1.3.2).
pub const SESSION_COOKIE: &str = "__Host-smsgate_session";
/// Name of the pre-login CSRF cookie (double-submit for the login form).
pub const LOGIN_CSRF_COOKIE: &str = "__Host-smsgate_login";
/// Name of the language cookie.
pub const LANG_COOKIE: &str = "__Host-smsgate_lang";
/// A session without requests for this long ends.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(30 * 60);
/// A session ends this long after login, active or not.
pub const ABSOLUTE_TIMEOUT: Duration = Duration::from_secs(12 * 3600);
/// Most sessions kept; beyond it expired ones are swept, then the oldest evicted.
pub const MAX_SESSIONS: usize = 10_000;
/// How long a flash waits for the request that reads it.
pub const FLASH_TTL: Duration = Duration::from_secs(10 * 60);
/// Random bytes in session ids and CSRF tokens.
const TOKEN_BYTES: usize = 32;

/// A fresh random token (session id or CSRF token), base64url without padding.
pub fn random_token() -> String {
    let bytes: [u8; TOKEN_BYTES] = rand::random();
    URL_SAFE_NO_PAD.encode(bytes)
}

fn key_of(id: &str) -> [u8; 32] {
    Sha256::digest(id.as_bytes()).into()
}

/// Whether `given` equals `expected`, in time independent of where they differ; empty never matches.
pub fn tokens_match(expected: &str, given: &str) -> bool {
    !expected.is_empty() && bool::from(expected.as_bytes().ct_eq(given.as_bytes()))
}

/// A live session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub account_id: AccountId,
    /// The token every form of this session must carry.
    pub csrf: String,
    created: Instant,
    last_seen: Instant,
}

impl Session {
    fn expired(&self, now: Instant, idle: Duration, absolute: Duration) -> bool {
        now.saturating_duration_since(self.last_seen) >= idle
            || now.saturating_duration_since(self.created) >= absolute
    }
}

/// A value left in a session for a later request.
struct Flash {
    value: Arc<dyn Any + Send + Sync>,
    expires: Instant,
}

/// The session store (in memory: a restart logs everyone out, which is what an appliance update wants).
pub struct Sessions {
    map: Mutex<HashMap<[u8; 32], Session>>,
    /// Flashes by (session key, slot); each slot holds one value, a new one replaces it.
    flashes: Mutex<HashMap<([u8; 32], &'static str), Flash>>,
    idle: Duration,
    absolute: Duration,
    max: usize,
}

impl std::fmt::Debug for Sessions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sessions")
            .field("sessions", &self.len())
            .finish_non_exhaustive()
    }
}

impl Default for Sessions {
    fn default() -> Self {
        Sessions::new(IDLE_TIMEOUT, ABSOLUTE_TIMEOUT, MAX_SESSIONS)
    }
}

impl Sessions {
    /// A store with the given timeouts and capacity.
    pub fn new(idle: Duration, absolute: Duration, max: usize) -> Sessions {
        Sessions {
            map: Mutex::new(HashMap::new()),
            flashes: Mutex::new(HashMap::new()),
            idle,
            absolute,
            max: max.max(1),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<[u8; 32], Session>> {
        self.map.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Starts a session for `account`; returns the id to put in the cookie (a new id at every login, so
    /// a planted cookie is never promoted to a logged-in one).
    pub fn create(&self, account: AccountId, now: Instant) -> (String, Session) {
        let id = random_token();
        let session = Session {
            account_id: account,
            csrf: random_token(),
            created: now,
            last_seen: now,
        };
        let mut map = self.lock();
        if map.len() >= self.max {
            map.retain(|_, s| !s.expired(now, self.idle, self.absolute));
        }
        if map.len() >= self.max {
            let oldest = map.iter().min_by_key(|(_, s)| s.created).map(|(k, _)| *k);
            if let Some(k) = oldest {
                map.remove(&k);
            }
        }
        map.insert(key_of(&id), session.clone());
        (id, session)
    }

    /// The session with this id, if it is still valid; records the activity. Expired sessions are
    /// removed when met.
    pub fn lookup(&self, id: &str, now: Instant) -> Option<Session> {
        let key = key_of(id);
        let mut map = self.lock();
        let session = map.get_mut(&key)?;
        if session.expired(now, self.idle, self.absolute) {
            map.remove(&key);
            return None;
        }
        session.last_seen = now;
        Some(session.clone())
    }

    /// Ends the session with this id (logout).
    pub fn remove(&self, id: &str) {
        let key = key_of(id);
        self.lock().remove(&key);
        self.flash_lock().retain(|(k, _), _| *k != key);
    }

    /// Ends every session of an account (password change, deletion, disabling).
    pub fn remove_account(&self, account: AccountId) {
        let mut map = self.lock();
        map.retain(|_, s| s.account_id != account);
        self.flash_lock().retain(|(k, _), _| map.contains_key(k));
    }

    fn flash_lock(&self) -> std::sync::MutexGuard<'_, HashMap<([u8; 32], &'static str), Flash>> {
        self.flashes.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Leaves `value` in slot `slot` of session `id` for a later request (replacing what was there);
    /// expired flashes of every session are swept on the way.
    pub fn put_flash<T: Any + Send + Sync>(&self, id: &str, slot: &'static str, value: T, now: Instant) {
        let mut flashes = self.flash_lock();
        flashes.retain(|_, f| f.expires > now);
        flashes.insert(
            (key_of(id), slot),
            Flash {
                value: Arc::new(value),
                expires: now + FLASH_TTL,
            },
        );
    }

    /// Takes the flash in `slot` of session `id`: it is gone afterwards (shown once).
    pub fn take_flash<T: Any + Send + Sync>(
        &self,
        id: &str,
        slot: &'static str,
        now: Instant,
    ) -> Option<Arc<T>> {
        let flash = self.flash_lock().remove(&(key_of(id), slot))?;
        (flash.expires > now)
            .then(|| flash.value.downcast::<T>().ok())
            .flatten()
    }

    /// The flash in `slot` of session `id`, left in place (a preview page that may be reloaded).
    pub fn peek_flash<T: Any + Send + Sync>(
        &self,
        id: &str,
        slot: &'static str,
        now: Instant,
    ) -> Option<Arc<T>> {
        let flashes = self.flash_lock();
        let flash = flashes.get(&(key_of(id), slot))?;
        (flash.expires > now)
            .then(|| flash.value.clone().downcast::<T>().ok())
            .flatten()
    }

    /// Number of sessions held (expired ones included until met or swept).
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// No sessions held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The value of cookie `name` in a `Cookie` header value (RFC 6265 §5.4: `a=b; c=d`).
pub fn cookie<'a>(header: &'a str, name: &str) -> Option<&'a str> {
    header.split(';').find_map(|pair| {
        let (k, v) = pair.trim().split_once('=')?;
        (k == name).then_some(v.trim())
    })
}

/// A `Set-Cookie` value for a `__Host-` cookie: Secure, HttpOnly, SameSite=Strict, Path=/.
/// `max_age` `None` makes a browser-session cookie; `Some(0)` deletes the cookie.
pub fn set_cookie(name: &str, value: &str, max_age: Option<Duration>) -> String {
    let mut s = format!("{name}={value}; Path=/; Secure; HttpOnly; SameSite=Strict");
    if let Some(age) = max_age {
        s.push_str(&format!("; Max-Age={}", age.as_secs()));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: Duration = Duration::from_secs(60);

    #[test]
    fn session_lifecycle() {
        let store = Sessions::new(10 * MIN, 60 * MIN, 100);
        let t0 = Instant::now();
        let (id, s) = store.create(AccountId(7), t0);
        assert_eq!(s.account_id, AccountId(7));
        assert_ne!(id, s.csrf);
        // (offset from login, still valid?) with a request at each step: activity extends the idle
        // window, never the absolute one.
        let check = |at: Duration, valid: bool| {
            assert_eq!(store.lookup(&id, t0 + at).is_some(), valid, "at {at:?}");
        };
        check(9 * MIN, true);
        check(18 * MIN, true);
        check(27 * MIN, true);
        check(36 * MIN, true);
        check(45 * MIN, true);
        check(54 * MIN, true);
        check(60 * MIN, false);
        assert!(store.is_empty(), "expired session removed when met");
    }

    #[test]
    fn idle_timeout_ends_session() {
        let store = Sessions::new(10 * MIN, 60 * MIN, 100);
        let t0 = Instant::now();
        let (id, _) = store.create(AccountId(1), t0);
        assert!(store.lookup(&id, t0 + 10 * MIN).is_none());
    }

    #[test]
    fn unknown_logged_out_and_foreign_ids_fail() {
        let store = Sessions::default();
        let t0 = Instant::now();
        let (a, _) = store.create(AccountId(1), t0);
        let (b, _) = store.create(AccountId(2), t0);
        let (c, _) = store.create(AccountId(1), t0);
        assert!(store.lookup("nonsense", t0).is_none());
        assert!(store.lookup("", t0).is_none());
        store.remove(&a);
        assert!(store.lookup(&a, t0).is_none());
        assert!(store.lookup(&b, t0).is_some());
        store.remove_account(AccountId(1));
        assert!(store.lookup(&c, t0).is_none());
        assert_eq!(store.lookup(&b, t0).map(|s| s.account_id), Some(AccountId(2)));
    }

    #[test]
    fn ids_and_tokens_are_fresh_and_long() {
        let store = Sessions::default();
        let t0 = Instant::now();
        let (a, sa) = store.create(AccountId(1), t0);
        let (b, sb) = store.create(AccountId(1), t0);
        assert_ne!(a, b);
        assert_ne!(sa.csrf, sb.csrf);
        assert_eq!(a.len(), 43, "32 bytes base64url");
    }

    #[test]
    fn capacity_evicts_expired_then_oldest() {
        let store = Sessions::new(MIN, 60 * MIN, 2);
        let t0 = Instant::now();
        let (a, _) = store.create(AccountId(1), t0);
        let (b, _) = store.create(AccountId(2), t0 + Duration::from_secs(1));
        let (c, _) = store.create(AccountId(3), t0 + Duration::from_secs(2));
        assert_eq!(store.len(), 2);
        let now = t0 + Duration::from_secs(3);
        assert!(store.lookup(&a, now).is_none(), "oldest evicted");
        assert!(store.lookup(&b, now).is_some());
        assert!(store.lookup(&c, now).is_some());
    }

    #[test]
    fn flashes_are_per_session_typed_once_and_expire() {
        let store = Sessions::default();
        let t0 = Instant::now();
        let (a, _) = store.create(AccountId(1), t0);
        let (b, _) = store.create(AccountId(2), t0);
        store.put_flash(&a, "secret", "s3cret".to_owned(), t0);
        assert!(
            store.take_flash::<String>(&b, "secret", t0).is_none(),
            "other session"
        );
        assert!(store.peek_flash::<u32>(&a, "secret", t0).is_none(), "other type");
        assert_eq!(
            store
                .peek_flash::<String>(&a, "secret", t0)
                .as_deref()
                .map(String::as_str),
            Some("s3cret")
        );
        assert_eq!(
            store
                .take_flash::<String>(&a, "secret", t0)
                .as_deref()
                .map(String::as_str),
            Some("s3cret")
        );
        assert!(
            store.take_flash::<String>(&a, "secret", t0).is_none(),
            "shown once"
        );
        store.put_flash(&a, "secret", "late".to_owned(), t0);
        assert!(
            store.take_flash::<String>(&a, "secret", t0 + FLASH_TTL).is_none(),
            "expired"
        );
        store.put_flash(&a, "secret", "x".to_owned(), t0);
        store.remove(&a);
        assert!(
            store.peek_flash::<String>(&a, "secret", t0).is_none(),
            "ends with the session"
        );
        store.put_flash(&b, "secret", "y".to_owned(), t0);
        store.remove_account(AccountId(2));
        assert!(
            store.peek_flash::<String>(&b, "secret", t0).is_none(),
            "ends with the account"
        );
    }

    #[test]
    fn csrf_comparison() {
        let check = |expected: &str, given: &str, ok: bool| {
            assert_eq!(tokens_match(expected, given), ok, "{expected:?} vs {given:?}");
        };
        check("abc", "abc", true);
        check("abc", "abd", false);
        check("abc", "ab", false);
        check("abc", "", false);
        check("", "", false);
    }

    #[test]
    fn cookie_parsing() {
        let check = |header: &str, name: &str, expect: Option<&str>| {
            assert_eq!(cookie(header, name), expect, "{header:?} {name}");
        };
        check("a=1; b=2", "b", Some("2"));
        check("a=1;b=2", "a", Some("1"));
        check("a=1; ab=2", "b", None);
        check("x", "x", None);
        check("", "a", None);
        check("a==x", "a", Some("=x"));
    }

    #[test]
    fn cookies_are_locked_down() {
        let c = set_cookie(SESSION_COOKIE, "v", None);
        for attr in ["Secure", "HttpOnly", "SameSite=Strict", "Path=/"] {
            assert!(c.contains(attr), "{c}");
        }
        assert!(set_cookie("a", "", Some(Duration::ZERO)).ends_with("Max-Age=0"));
    }
}
