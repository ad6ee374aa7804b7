//! Authentication stages 2 and 3 of each account (issue 7): whether a client certificate is required,
//! which certificates or CAs are bound to the account (with revocation), and the account's IP pool.
//! The checks themselves are pure ([`crate::auth::stages`]); this module only stores what they need.
use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use rusqlite::{Connection, OptionalExtension, params};

use super::{AccountId, Store, StoreError, StoreResult, ms_to_datetime, now_ms};

/// Schema version 4: per-account stage settings and certificate bindings. Rows go with their account.
pub(super) const V4_ACCOUNT_STAGES: &str = r#"
CREATE TABLE account_stages (
    account_id    INTEGER PRIMARY KEY REFERENCES accounts(id) ON DELETE CASCADE,
    cert_required INTEGER NOT NULL DEFAULT 0,
    -- Comma-separated CIDR list; empty means no IP pool (any address).
    ip_pool       TEXT NOT NULL DEFAULT ''
);

CREATE TABLE account_certs (
    id          INTEGER PRIMARY KEY,
    account_id  INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    -- issued: by the appliance CA; pinned: an uploaded end-entity certificate; ca: an uploaded CA whose
    -- end-entity certificates are accepted.
    kind        TEXT NOT NULL CHECK (kind IN ('issued', 'pinned', 'ca')),
    -- Lowercase hex SHA-256 of the certificate's DER.
    fingerprint TEXT NOT NULL,
    der         BLOB NOT NULL,
    subject     TEXT NOT NULL,
    not_after   INTEGER NOT NULL,
    revoked_at  INTEGER,
    created_at  INTEGER NOT NULL,
    UNIQUE (account_id, fingerprint)
);
CREATE INDEX account_certs_account ON account_certs(account_id);
"#;

/// How a certificate is bound to an account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CertKind {
    /// Issued by the appliance CA for the account.
    Issued,
    /// A customer's end-entity certificate, pinned by fingerprint.
    Pinned,
    /// A customer's CA: end-entity certificates chaining to it are accepted.
    Ca,
}

impl CertKind {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            CertKind::Issued => "issued",
            CertKind::Pinned => "pinned",
            CertKind::Ca => "ca",
        }
    }

    fn parse(s: &str) -> CertKind {
        match s {
            "issued" => CertKind::Issued,
            "ca" => CertKind::Ca,
            _ => CertKind::Pinned,
        }
    }
}

/// A certificate bound to an account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountCert {
    pub id: i64,
    pub account_id: AccountId,
    pub kind: CertKind,
    pub fingerprint: String,
    pub der: Vec<u8>,
    pub subject: String,
    pub not_after: time::OffsetDateTime,
    pub revoked_at: Option<time::OffsetDateTime>,
    pub created_at: time::OffsetDateTime,
}

/// A certificate to bind.
#[derive(Debug, Clone)]
pub struct NewAccountCert {
    pub account_id: AccountId,
    pub kind: CertKind,
    pub fingerprint: String,
    pub der: Vec<u8>,
    pub subject: String,
    /// Unix milliseconds.
    pub not_after: i64,
}

/// Everything stages 2 and 3 need about one account.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StageSettings {
    pub cert_required: bool,
    /// CIDR strings as stored (validated when set).
    pub ip_pool: Vec<String>,
    pub certs: Vec<AccountCert>,
}

const CERT_COLS: &str = "id, account_id, kind, fingerprint, der, subject, not_after, revoked_at, created_at";

fn cert_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<AccountCert> {
    let kind: String = r.get(2)?;
    Ok(AccountCert {
        id: r.get(0)?,
        account_id: AccountId(r.get(1)?),
        kind: CertKind::parse(&kind),
        fingerprint: r.get(3)?,
        der: r.get(4)?,
        subject: r.get(5)?,
        not_after: ms_to_datetime(r.get(6)?),
        revoked_at: r.get::<_, Option<i64>>(7)?.map(ms_to_datetime),
        created_at: ms_to_datetime(r.get(8)?),
    })
}

fn certs_of(conn: &Connection, account: AccountId) -> StoreResult<Vec<AccountCert>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {CERT_COLS} FROM account_certs WHERE account_id = ?1 ORDER BY id"
    ))?;
    let rows = stmt
        .query_map([account.0], cert_from_row)?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}

fn account_exists(conn: &Connection, account: AccountId) -> StoreResult<bool> {
    Ok(conn
        .query_row("SELECT 1 FROM accounts WHERE id = ?1", [account.0], |_| Ok(()))
        .optional()?
        .is_some())
}

/// Stage settings by account, so that an authenticated request does not need a database read (a trip to
/// the blocking pool: about 6 % of the CPU of an accepted SMS). Every write that can change what
/// [`Store::stage_settings`] answers goes through [`Store::write_affecting_stages`], which invalidates
/// the whole cache after the write; an entry is tagged with the generation seen before its read, so a
/// read racing a write is never served after that write returned.
#[derive(Debug, Default)]
pub(super) struct StageCache {
    generation: AtomicU64,
    entries: Mutex<HashMap<i64, (u64, StageSettings)>>,
}

impl StageCache {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<i64, (u64, StageSettings)>> {
        self.entries.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The current generation and the cached settings of `account` if they belong to it.
    fn get(&self, account: AccountId) -> (u64, Option<StageSettings>) {
        let generation = self.generation.load(Ordering::Acquire);
        let hit = self
            .lock()
            .get(&account.0)
            .filter(|(g, _)| *g == generation)
            .map(|(_, s)| s.clone());
        (generation, hit)
    }

    fn put(&self, generation: u64, account: AccountId, settings: StageSettings) {
        if generation == self.generation.load(Ordering::Acquire) {
            self.lock().insert(account.0, (generation, settings));
        }
    }

    fn invalidate(&self) {
        self.generation.fetch_add(1, Ordering::AcqRel);
        self.lock().clear();
    }
}

impl Store {
    /// [`Store::write`] for a job that may change an account's stage settings, certificates or the
    /// account itself (ids can be reused after a deletion): the stage cache is invalidated afterwards,
    /// whatever the outcome.
    pub(super) async fn write_affecting_stages<T, F>(&self, f: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> StoreResult<T> + Send + 'static,
    {
        let result = self.write(f).await;
        self.inner.stage_cache.invalidate();
        result
    }

    /// The stage settings of `account` (defaults when none were ever set).
    pub async fn stage_settings(&self, account: AccountId) -> StoreResult<StageSettings> {
        if let Some(pg) = self.cluster() {
            return pg.stage_settings(account).await;
        }
        let (generation, cached) = self.inner.stage_cache.get(account);
        if let Some(settings) = cached {
            return Ok(settings);
        }
        let settings = self.stage_settings_uncached(account).await?;
        self.inner.stage_cache.put(generation, account, settings.clone());
        Ok(settings)
    }

    async fn stage_settings_uncached(&self, account: AccountId) -> StoreResult<StageSettings> {
        self.read(move |conn| {
            // Read for every authenticated request: a cached statement.
            let row = conn
                .prepare_cached("SELECT cert_required, ip_pool FROM account_stages WHERE account_id = ?1")?
                .query_row([account.0], |r| {
                    Ok((r.get::<_, bool>(0)?, r.get::<_, String>(1)?))
                })
                .optional()?;
            let (cert_required, pool) = row.unwrap_or_default();
            Ok(StageSettings {
                cert_required,
                ip_pool: pool
                    .split(',')
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .collect(),
                certs: certs_of(conn, account)?,
            })
        })
        .await
    }

    /// Sets whether `account` requires a client certificate. Returns false if there is no such account.
    pub async fn set_cert_required(&self, account: AccountId, required: bool) -> StoreResult<bool> {
        if let Some(pg) = self.cluster() {
            return pg.set_cert_required(account, required).await;
        }
        self.write_affecting_stages(move |conn| {
            if !account_exists(conn, account)? {
                return Ok(false);
            }
            conn.execute(
                "INSERT INTO account_stages (account_id, cert_required) VALUES (?1, ?2)
                 ON CONFLICT (account_id) DO UPDATE SET cert_required = excluded.cert_required",
                params![account.0, required],
            )?;
            Ok(true)
        })
        .await
    }

    /// Replaces the IP pool of `account` (empty: no pool). Returns false if there is no such account.
    pub async fn set_ip_pool(&self, account: AccountId, pool: Vec<String>) -> StoreResult<bool> {
        if let Some(pg) = self.cluster() {
            return pg.set_ip_pool(account, pool).await;
        }
        self.write_affecting_stages(move |conn| {
            if !account_exists(conn, account)? {
                return Ok(false);
            }
            conn.execute(
                "INSERT INTO account_stages (account_id, ip_pool) VALUES (?1, ?2)
                 ON CONFLICT (account_id) DO UPDATE SET ip_pool = excluded.ip_pool",
                params![account.0, pool.join(",")],
            )?;
            Ok(true)
        })
        .await
    }

    /// Binds a certificate to an account; the same certificate twice is a [`StoreError::Conflict`].
    pub async fn add_account_cert(&self, new: NewAccountCert) -> StoreResult<AccountCert> {
        if let Some(pg) = self.cluster() {
            return pg.add_account_cert(new).await;
        }
        self.write_affecting_stages(move |conn| {
            let now = now_ms();
            let id = conn
                .query_row(
                    "INSERT INTO account_certs (account_id, kind, fingerprint, der, subject, not_after, created_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) RETURNING id",
                    params![
                        new.account_id.0,
                        new.kind.as_str(),
                        new.fingerprint,
                        new.der,
                        new.subject,
                        new.not_after,
                        now
                    ],
                    |r| r.get::<_, i64>(0),
                )
                .map_err(|e| match &e {
                    rusqlite::Error::SqliteFailure(f, _)
                        if f.code == rusqlite::ErrorCode::ConstraintViolation =>
                    {
                        StoreError::Conflict("certificate already bound to this account or no such account".into())
                    }
                    _ => StoreError::Sqlite(e),
                })?;
            Ok(AccountCert {
                id,
                account_id: new.account_id,
                kind: new.kind,
                fingerprint: new.fingerprint,
                der: new.der,
                subject: new.subject,
                not_after: ms_to_datetime(new.not_after),
                revoked_at: None,
                created_at: ms_to_datetime(now),
            })
        })
        .await
    }

    /// Certificates bound to `account`, oldest first.
    pub async fn account_certs(&self, account: AccountId) -> StoreResult<Vec<AccountCert>> {
        if let Some(pg) = self.cluster() {
            return pg.account_certs(account).await;
        }
        self.read(move |conn| certs_of(conn, account)).await
    }

    /// Revokes certificate `id` of `account` (idempotent). Returns false if the account has no such
    /// certificate.
    pub async fn revoke_account_cert(&self, account: AccountId, id: i64) -> StoreResult<bool> {
        if let Some(pg) = self.cluster() {
            return pg.revoke_account_cert(account, id).await;
        }
        self.write_affecting_stages(move |conn| {
            let now = now_ms();
            Ok(conn.execute(
                "UPDATE account_certs SET revoked_at = coalesce(revoked_at, ?3) WHERE id = ?1 AND account_id = ?2",
                params![id, account.0, now],
            )? == 1)
        })
        .await
    }
}

impl Store {
    /// The IP pool of every enabled account (empty: no pool), for pre-handshake admission.
    pub async fn all_ip_pools(&self) -> StoreResult<Vec<Vec<String>>> {
        if let Some(pg) = self.cluster() {
            return pg.all_ip_pools().await;
        }
        self.read(|conn| {
            let mut stmt = conn.prepare(
                "SELECT coalesce(s.ip_pool, '') FROM accounts a
                 LEFT JOIN account_stages s ON s.account_id = a.id WHERE a.disabled = 0",
            )?;
            let rows = stmt
                .query_map([], |r| r.get::<_, String>(0))?
                .map(|pool| {
                    pool.map(|p| {
                        p.split(',')
                            .filter(|s| !s.is_empty())
                            .map(str::to_owned)
                            .collect()
                    })
                })
                .collect::<Result<Vec<_>, _>>()?;
            Ok(rows)
        })
        .await
    }
}
