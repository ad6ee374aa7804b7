//! Stage 1 of authentication: login + password (HTTP Basic, Kannel) or API token, with throttling and the
//! verified-credential cache. The account directory is a trait so this logic is tested without a database;
//! the gateway's store implements it.
use std::future::Future;
use std::net::IpAddr;
use std::pin::Pin;
use std::time::Duration;

use super::Credentials;
use super::cache::CredentialCache;
use super::password::PasswordHasher;
use super::throttle::{LoginThrottle, Verdict};
use super::token::{Scopes, hash_token, is_well_formed};

/// An account as the authenticator needs it.
#[derive(Clone, PartialEq, Eq)]
pub struct AccountRecord {
    pub id: i64,
    pub login: String,
    /// PHC string (argon2id).
    pub password_hash: String,
    /// `admin`, `technician` or `client`.
    pub role: String,
    pub disabled: bool,
}

impl std::fmt::Debug for AccountRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccountRecord")
            .field("id", &self.id)
            .field("login", &self.login)
            .finish_non_exhaustive()
    }
}

/// An API token as the authenticator needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRecord {
    pub id: i64,
    pub scopes: Scopes,
    /// Not revoked and not expired now.
    pub usable: bool,
}

/// Boxed future of the directory (object-safe, Send).
pub type DirFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, DirectoryError>> + Send + 'a>>;

/// The directory failed (database unavailable): answered 503, never 401.
#[derive(Debug, Clone, thiserror::Error)]
#[error("account directory unavailable: {0}")]
pub struct DirectoryError(pub String);

/// Where accounts and tokens are looked up.
pub trait AccountDirectory: Send + Sync {
    /// The account with this login (exact match), if any.
    fn account_by_login<'a>(&'a self, login: &'a str) -> DirFuture<'a, Option<AccountRecord>>;
    /// The token whose hash is `hash`, with its account.
    fn token_by_hash<'a>(&'a self, hash: &'a str) -> DirFuture<'a, Option<(TokenRecord, AccountRecord)>>;
}

/// How the caller authenticated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthMethod {
    Password,
    Token { id: i64 },
}

/// Who the caller is, after stage 1.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub account_id: i64,
    pub login: String,
    pub role: String,
    pub method: AuthMethod,
    /// Token scopes; empty (all) for password logins.
    pub scopes: Scopes,
    /// True when the password was verified by this call (not answered from the cache): the moment to
    /// audit a successful login without one entry per request.
    pub fresh: bool,
}

/// Why authentication failed. The HTTP answer reveals only the class (401 / 429 / 503); the log and
/// audit record the detail.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthFailure {
    #[error("invalid credentials ({reason})")]
    Invalid {
        reason: &'static str,
        login: Option<String>,
    },
    #[error("too many failed attempts; retry after {retry_after:?}")]
    Throttled { retry_after: Duration, locked: bool },
    #[error("{0}")]
    Unavailable(String),
}

/// Settings of the authenticator.
#[derive(Debug, Clone)]
pub struct AuthenticatorSettings {
    /// How long a verified login + password is remembered (0 disables the cache).
    pub cache_ttl: Duration,
    /// Bound on cached credentials.
    pub cache_entries: usize,
}

impl Default for AuthenticatorSettings {
    fn default() -> Self {
        AuthenticatorSettings {
            cache_ttl: Duration::from_secs(60),
            cache_entries: 10_000,
        }
    }
}

/// Stage-1 authenticator.
pub struct Authenticator {
    directory: Box<dyn AccountDirectory>,
    hasher: PasswordHasher,
    cache: CredentialCache<Identity>,
    throttle: LoginThrottle,
    /// A valid hash of a random password, verified when the login does not exist so that unknown and known
    /// logins take the same time.
    dummy_hash: String,
}

impl std::fmt::Debug for Authenticator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Authenticator").finish_non_exhaustive()
    }
}

impl Authenticator {
    /// An authenticator over `directory`.
    pub fn new(
        directory: Box<dyn AccountDirectory>,
        hasher: PasswordHasher,
        throttle: LoginThrottle,
        settings: &AuthenticatorSettings,
    ) -> Self {
        let dummy_hash = hasher
            .hash(&super::password::generate_password())
            .unwrap_or_default();
        Authenticator {
            directory,
            hasher,
            cache: CredentialCache::new(settings.cache_ttl, settings.cache_entries),
            throttle,
            dummy_hash,
        }
    }

    /// The hasher (for setting passwords with the same costs).
    pub fn hasher(&self) -> &PasswordHasher {
        &self.hasher
    }

    /// The throttle (admin unlock).
    pub fn throttle(&self) -> &LoginThrottle {
        &self.throttle
    }

    /// Forgets cached verifications of `account_id` (password changed, account disabled or deleted).
    pub fn forget_account(&self, account_id: i64) {
        self.cache
            .invalidate(|identity| identity.account_id == account_id);
    }

    /// Authenticates `credentials` presented from `peer`.
    pub async fn authenticate(
        &self,
        credentials: &Credentials,
        peer: IpAddr,
    ) -> Result<Identity, AuthFailure> {
        match credentials {
            Credentials::Password { login, password } => self.password(login, password, peer).await,
            Credentials::Token(token) => self.token(token, peer).await,
        }
    }

    async fn password(&self, login: &str, password: &str, peer: IpAddr) -> Result<Identity, AuthFailure> {
        if let Verdict::Wait { retry_after, locked } = self.throttle.check(login, peer) {
            return Err(AuthFailure::Throttled { retry_after, locked });
        }
        if let Some(identity) = self.cache.get(login, password) {
            return Ok(Identity {
                fresh: false,
                ..identity
            });
        }
        let account = self
            .directory
            .account_by_login(login)
            .await
            .map_err(|e| AuthFailure::Unavailable(e.to_string()))?;
        let (stored, reason) = match &account {
            Some(a) if !a.disabled => (a.password_hash.clone(), "wrong password"),
            Some(_) => (self.dummy_hash.clone(), "account disabled"),
            None => (self.dummy_hash.clone(), "unknown login"),
        };
        let matches = self
            .hasher
            .verify_blocking(stored, password.to_owned())
            .await
            .map_err(|e| AuthFailure::Unavailable(e.to_string()))?;
        match account {
            Some(a) if matches && !a.disabled => {
                self.throttle.record_success(login, peer);
                let identity = Identity {
                    account_id: a.id,
                    login: a.login,
                    role: a.role,
                    method: AuthMethod::Password,
                    scopes: Scopes::default(),
                    fresh: true,
                };
                self.cache.put(login, password, identity.clone());
                Ok(identity)
            }
            _ => {
                self.throttle.record_failure(login, peer);
                Err(AuthFailure::Invalid {
                    reason,
                    login: Some(login.to_owned()),
                })
            }
        }
    }

    async fn token(&self, token: &str, peer: IpAddr) -> Result<Identity, AuthFailure> {
        if let Verdict::Wait { retry_after, locked } = self.throttle.check_address(peer) {
            return Err(AuthFailure::Throttled { retry_after, locked });
        }
        let fail = |reason| {
            self.throttle.record_address_failure(peer);
            Err(AuthFailure::Invalid { reason, login: None })
        };
        if !is_well_formed(token) {
            return fail("malformed token");
        }
        let hash = hash_token(token);
        let found = self
            .directory
            .token_by_hash(&hash)
            .await
            .map_err(|e| AuthFailure::Unavailable(e.to_string()))?;
        match found {
            Some((t, a)) if t.usable && !a.disabled => Ok(Identity {
                account_id: a.id,
                login: a.login,
                role: a.role,
                method: AuthMethod::Token { id: t.id },
                scopes: t.scopes,
                fresh: false,
            }),
            Some(_) => fail("token revoked, expired or account disabled"),
            None => fail("unknown token"),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::net::Ipv4Addr;
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;
    use crate::auth::token;

    #[derive(Default)]
    struct Memory {
        accounts: Mutex<HashMap<String, AccountRecord>>,
        tokens: Mutex<HashMap<String, (TokenRecord, String)>>,
        lookups: AtomicUsize,
    }

    struct Shared(std::sync::Arc<Memory>);

    impl AccountDirectory for Shared {
        fn account_by_login<'a>(&'a self, login: &'a str) -> DirFuture<'a, Option<AccountRecord>> {
            self.0.lookups.fetch_add(1, Ordering::SeqCst);
            let found = self.0.accounts.lock().unwrap().get(login).cloned();
            Box::pin(async move { Ok(found) })
        }
        fn token_by_hash<'a>(&'a self, hash: &'a str) -> DirFuture<'a, Option<(TokenRecord, AccountRecord)>> {
            let found = self.0.tokens.lock().unwrap().get(hash).cloned();
            let accounts = self.0.accounts.lock().unwrap().clone();
            Box::pin(
                async move { Ok(found.and_then(|(t, login)| accounts.get(&login).cloned().map(|a| (t, a)))) },
            )
        }
    }

    const PEER: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

    fn setup() -> (Authenticator, std::sync::Arc<Memory>) {
        let memory = std::sync::Arc::new(Memory::default());
        let hasher = PasswordHasher::insecure_fast();
        let hash = hasher.hash("right password").unwrap();
        memory.accounts.lock().unwrap().insert(
            "alice".into(),
            AccountRecord {
                id: 1,
                login: "alice".into(),
                password_hash: hash.clone(),
                role: "client".into(),
                disabled: false,
            },
        );
        memory.accounts.lock().unwrap().insert(
            "mallory".into(),
            AccountRecord {
                id: 2,
                login: "mallory".into(),
                password_hash: hash,
                role: "client".into(),
                disabled: true,
            },
        );
        let auth = Authenticator::new(
            Box::new(Shared(memory.clone())),
            hasher,
            LoginThrottle::default(),
            &AuthenticatorSettings::default(),
        );
        (auth, memory)
    }

    fn pw(login: &str, password: &str) -> Credentials {
        Credentials::Password {
            login: login.into(),
            password: password.into(),
        }
    }

    #[tokio::test]
    async fn password_table() {
        let (auth, _) = setup();
        let check = |login: &'static str, password: &'static str, ok: bool| {
            let auth = &auth;
            async move {
                let result = auth.authenticate(&pw(login, password), PEER).await;
                assert_eq!(result.is_ok(), ok, "{login}/{password}: {result:?}");
            }
        };
        check("alice", "right password", true).await;
        check("alice", "wrong password", false).await;
        check("nobody", "right password", false).await;
        check("mallory", "right password", false).await;
        check("ALICE", "right password", false).await;
    }

    #[tokio::test]
    async fn cache_skips_directory_and_is_invalidated() {
        let (auth, memory) = setup();
        auth.authenticate(&pw("alice", "right password"), PEER)
            .await
            .unwrap();
        let after_first = memory.lookups.load(Ordering::SeqCst);
        for _ in 0..5 {
            auth.authenticate(&pw("alice", "right password"), PEER)
                .await
                .unwrap();
        }
        assert_eq!(memory.lookups.load(Ordering::SeqCst), after_first, "cached");
        auth.forget_account(1);
        auth.authenticate(&pw("alice", "right password"), PEER)
            .await
            .unwrap();
        assert_eq!(memory.lookups.load(Ordering::SeqCst), after_first + 1);
        // A wrong password never hits the cache.
        assert!(
            auth.authenticate(&pw("alice", "right passwordX"), PEER)
                .await
                .is_err()
        );
    }

    #[tokio::test(start_paused = true)]
    async fn throttled_after_failures() {
        let (auth, _) = setup();
        for _ in 0..4 {
            let _ = auth.authenticate(&pw("alice", "nope"), PEER).await;
        }
        let result = auth.authenticate(&pw("alice", "right password"), PEER).await;
        assert!(matches!(result, Err(AuthFailure::Throttled { .. })), "{result:?}");
    }

    #[tokio::test]
    async fn tokens() {
        let (auth, memory) = setup();
        let good = token::generate();
        let revoked = token::generate();
        memory.tokens.lock().unwrap().insert(
            good.hash.clone(),
            (
                TokenRecord {
                    id: 7,
                    scopes: Scopes::parse("messages:send").unwrap(),
                    usable: true,
                },
                "alice".into(),
            ),
        );
        memory.tokens.lock().unwrap().insert(
            revoked.hash.clone(),
            (
                TokenRecord {
                    id: 8,
                    scopes: Scopes::default(),
                    usable: false,
                },
                "alice".into(),
            ),
        );
        let id = auth
            .authenticate(&Credentials::Token(good.plaintext.clone()), PEER)
            .await
            .unwrap();
        assert_eq!((id.account_id, id.method), (1, AuthMethod::Token { id: 7 }));
        assert!(id.scopes.allows(token::Scope::MessagesSend) && !id.scopes.allows(token::Scope::Ussd));
        for bad in [
            revoked.plaintext.as_str(),
            "smsg_nope",
            &token::generate().plaintext,
        ] {
            let r = auth.authenticate(&Credentials::Token(bad.into()), PEER).await;
            assert!(matches!(r, Err(AuthFailure::Invalid { .. })), "{r:?}");
        }
    }
}
