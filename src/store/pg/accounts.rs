//! Accounts shared by every node, on PostgreSQL: logins and password hashes, API tokens, the
//! authentication stages (client certificates, IP pools), deletion requests and tombstones. Same
//! behaviour as the SQLite store; a login created on one node authenticates on all of them.
use tokio_postgres::Row;
use tokio_postgres::error::SqlState;

use super::super::{
    Account, AccountCert, AccountId, ApiToken, CertKind, DeletionRequest, ErasureStep, NewAccount,
    NewAccountCert, NewDeletionRequest, NewToken, Role, StageSettings, StoreError, StoreResult, TokenId,
    ms_to_datetime, now_ms,
};
use super::PgStore;

const ACCOUNT_COLS: &str = "id, login, password_hash, role, disabled, created_at";
const TOKEN_COLS: &str = "id, account_id, name, scopes, expires_at, revoked, created_at";
const CERT_COLS: &str = "id, account_id, kind, fingerprint, der, subject, not_after, revoked_at, created_at";
const REQUEST_COLS: &str = "account_id, requested_at, requested_by, source_ip, execute_after";

fn account_from_row(r: &Row, base: usize) -> StoreResult<Account> {
    Ok(Account {
        id: AccountId(r.try_get(base)?),
        login: r.try_get(base + 1)?,
        password_hash: r.try_get(base + 2)?,
        role: r.try_get::<_, &str>(base + 3)?.parse().unwrap_or(Role::Client),
        disabled: r.try_get(base + 4)?,
        created_at: ms_to_datetime(r.try_get(base + 5)?),
    })
}

fn token_from_row(r: &Row) -> StoreResult<ApiToken> {
    Ok(ApiToken {
        id: TokenId(r.try_get(0)?),
        account_id: AccountId(r.try_get(1)?),
        name: r.try_get(2)?,
        scopes: r.try_get(3)?,
        expires_at: r.try_get::<_, Option<i64>>(4)?.map(ms_to_datetime),
        revoked: r.try_get(5)?,
        created_at: ms_to_datetime(r.try_get(6)?),
    })
}

fn cert_from_row(r: &Row) -> StoreResult<AccountCert> {
    let kind = match r.try_get::<_, &str>(2)? {
        "issued" => CertKind::Issued,
        "ca" => CertKind::Ca,
        _ => CertKind::Pinned,
    };
    Ok(AccountCert {
        id: r.try_get(0)?,
        account_id: AccountId(r.try_get(1)?),
        kind,
        fingerprint: r.try_get(3)?,
        der: r.try_get(4)?,
        subject: r.try_get(5)?,
        not_after: ms_to_datetime(r.try_get(6)?),
        revoked_at: r.try_get::<_, Option<i64>>(7)?.map(ms_to_datetime),
        created_at: ms_to_datetime(r.try_get(8)?),
    })
}

fn request_from_row(r: &Row) -> StoreResult<DeletionRequest> {
    Ok(DeletionRequest {
        account_id: AccountId(r.try_get(0)?),
        requested_at: ms_to_datetime(r.try_get(1)?),
        requested_by: r.try_get(2)?,
        source_ip: r.try_get(3)?,
        execute_after: ms_to_datetime(r.try_get(4)?),
    })
}

/// A unique violation with a readable reason; other errors as they are.
fn conflict(e: tokio_postgres::Error, what: &str) -> StoreError {
    if e.code() == Some(&SqlState::UNIQUE_VIOLATION) || e.code() == Some(&SqlState::FOREIGN_KEY_VIOLATION) {
        StoreError::Conflict(what.to_owned())
    } else {
        StoreError::from(e)
    }
}

fn pool_of(text: &str) -> Vec<String> {
    text.split(',')
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

impl PgStore {
    /// Creates an account; a taken login is a [`StoreError::Conflict`].
    pub async fn create_account(&self, new: NewAccount) -> StoreResult<Account> {
        let now = now_ms();
        let client = self.pool.get().await?;
        let id: i64 = client
            .query_one(
                "INSERT INTO accounts (login, password_hash, role, created_at) VALUES ($1, $2, $3, $4)
                 RETURNING id",
                &[&new.login, &new.password_hash, &new.role.as_str(), &now],
            )
            .await
            .map_err(|e| conflict(e, "login already taken"))?
            .try_get(0)?;
        Ok(Account {
            id: AccountId(id),
            login: new.login,
            password_hash: new.password_hash,
            role: new.role,
            disabled: false,
            created_at: ms_to_datetime(now),
        })
    }

    async fn account_where(
        &self,
        clause: &str,
        value: &(dyn tokio_postgres::types::ToSql + Sync),
    ) -> StoreResult<Option<Account>> {
        let client = self.pool.get().await?;
        client
            .query_opt(
                &format!("SELECT {ACCOUNT_COLS} FROM accounts WHERE {clause}"),
                &[value],
            )
            .await?
            .map(|r| account_from_row(&r, 0))
            .transpose()
    }

    /// The account with this login, if any.
    pub async fn account_by_login(&self, login: &str) -> StoreResult<Option<Account>> {
        self.account_where("login = $1", &login).await
    }

    /// The account with this id, if any.
    pub async fn account(&self, id: AccountId) -> StoreResult<Option<Account>> {
        self.account_where("id = $1", &id.0).await
    }

    /// All accounts, by id.
    pub async fn accounts(&self) -> StoreResult<Vec<Account>> {
        let client = self.pool.get().await?;
        client
            .query(&format!("SELECT {ACCOUNT_COLS} FROM accounts ORDER BY id"), &[])
            .await?
            .iter()
            .map(|r| account_from_row(r, 0))
            .collect()
    }

    /// Number of accounts.
    pub async fn account_count(&self) -> StoreResult<u64> {
        let client = self.pool.get().await?;
        let n: i64 = client
            .query_one("SELECT count(*) FROM accounts", &[])
            .await?
            .try_get(0)?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    async fn update_account(
        &self,
        sql: &str,
        params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
    ) -> StoreResult<bool> {
        let client = self.pool.get().await?;
        Ok(client.execute(sql, params).await? == 1)
    }

    /// Replaces an account's password hash. False if there is no such account.
    pub async fn set_password_hash(&self, id: AccountId, hash: String) -> StoreResult<bool> {
        self.update_account(
            "UPDATE accounts SET password_hash = $2 WHERE id = $1",
            &[&id.0, &hash],
        )
        .await
    }

    /// Enables or disables an account. False if there is no such account.
    pub async fn set_account_disabled(&self, id: AccountId, disabled: bool) -> StoreResult<bool> {
        self.update_account(
            "UPDATE accounts SET disabled = $2 WHERE id = $1",
            &[&id.0, &disabled],
        )
        .await
    }

    /// Deletes an account and its rows in the shared tables, in one transaction.
    pub async fn delete_account(&self, id: AccountId) -> StoreResult<bool> {
        let mut client = self.pool.get().await?;
        let tx = client.transaction().await?;
        for sql in [
            "DELETE FROM messages WHERE account_id = $1",
            "DELETE FROM inbox WHERE account_id = $1",
            "DELETE FROM webhook_outbox WHERE account_id = $1",
            "DELETE FROM webhooks WHERE account_id = $1",
            "DELETE FROM idempotency_keys WHERE account_id = $1",
        ] {
            tx.execute(sql, &[&id.0]).await?;
        }
        let gone = tx.execute("DELETE FROM accounts WHERE id = $1", &[&id.0]).await? == 1;
        tx.commit().await?;
        Ok(gone)
    }

    /// Stores a new API token; a duplicate hash is a [`StoreError::Conflict`].
    pub async fn create_token(&self, new: NewToken) -> StoreResult<ApiToken> {
        let now = now_ms();
        let client = self.pool.get().await?;
        let id: i64 = client
            .query_one(
                "INSERT INTO api_tokens (account_id, token_hash, name, scopes, expires_at, created_at)
                 VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
                &[
                    &new.account_id.0,
                    &new.token_hash,
                    &new.name,
                    &new.scopes,
                    &new.expires_at,
                    &now,
                ],
            )
            .await
            .map_err(|e| conflict(e, "token already exists"))?
            .try_get(0)?;
        Ok(ApiToken {
            id: TokenId(id),
            account_id: new.account_id,
            name: new.name,
            scopes: new.scopes,
            expires_at: new.expires_at.map(ms_to_datetime),
            revoked: false,
            created_at: ms_to_datetime(now),
        })
    }

    /// The token with this hash and its account.
    pub async fn token_by_hash(&self, hash: &str) -> StoreResult<Option<(ApiToken, Account)>> {
        let cols = |prefix: &str, cols: &str| {
            cols.split(", ")
                .map(|c| format!("{prefix}.{c}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let sql = format!(
            "SELECT {}, {} FROM api_tokens t JOIN accounts a ON a.id = t.account_id WHERE t.token_hash = $1",
            cols("t", TOKEN_COLS),
            cols("a", ACCOUNT_COLS)
        );
        let client = self.pool.get().await?;
        let Some(r) = client.query_opt(&sql, &[&hash]).await? else {
            return Ok(None);
        };
        Ok(Some((token_from_row(&r)?, account_from_row(&r, 7)?)))
    }

    /// Tokens of an account, newest first.
    pub async fn tokens(&self, account: AccountId) -> StoreResult<Vec<ApiToken>> {
        let client = self.pool.get().await?;
        client
            .query(
                &format!("SELECT {TOKEN_COLS} FROM api_tokens WHERE account_id = $1 ORDER BY id DESC"),
                &[&account.0],
            )
            .await?
            .iter()
            .map(token_from_row)
            .collect()
    }

    /// Revokes a token of `account`. False if that account has no such token.
    pub async fn revoke_token(&self, account: AccountId, id: TokenId) -> StoreResult<bool> {
        self.update_account(
            "UPDATE api_tokens SET revoked = TRUE WHERE id = $1 AND account_id = $2",
            &[&id.0, &account.0],
        )
        .await
    }

    /// The stage settings of `account` (defaults when none were ever set).
    pub async fn stage_settings(&self, account: AccountId) -> StoreResult<StageSettings> {
        let client = self.pool.get().await?;
        let row = client
            .query_opt(
                "SELECT cert_required, ip_pool FROM account_stages WHERE account_id = $1",
                &[&account.0],
            )
            .await?;
        let (cert_required, pool) = match row {
            Some(r) => (r.try_get::<_, bool>(0)?, pool_of(r.try_get(1)?)),
            None => (false, Vec::new()),
        };
        Ok(StageSettings {
            cert_required,
            ip_pool: pool,
            certs: self.account_certs(account).await?,
        })
    }

    /// Sets whether `account` requires a client certificate. False if there is no such account.
    pub async fn set_cert_required(&self, account: AccountId, required: bool) -> StoreResult<bool> {
        let client = self.pool.get().await?;
        Ok(client
            .execute(
                "INSERT INTO account_stages (account_id, cert_required) SELECT id, $2 FROM accounts WHERE id = $1
                 ON CONFLICT (account_id) DO UPDATE SET cert_required = excluded.cert_required",
                &[&account.0, &required],
            )
            .await?
            == 1)
    }

    /// Replaces the IP pool of `account`. False if there is no such account.
    pub async fn set_ip_pool(&self, account: AccountId, pool: Vec<String>) -> StoreResult<bool> {
        let client = self.pool.get().await?;
        Ok(client
            .execute(
                "INSERT INTO account_stages (account_id, ip_pool) SELECT id, $2 FROM accounts WHERE id = $1
                 ON CONFLICT (account_id) DO UPDATE SET ip_pool = excluded.ip_pool",
                &[&account.0, &pool.join(",")],
            )
            .await?
            == 1)
    }

    /// Binds a certificate to an account; the same certificate twice is a [`StoreError::Conflict`].
    pub async fn add_account_cert(&self, new: NewAccountCert) -> StoreResult<AccountCert> {
        let now = now_ms();
        let client = self.pool.get().await?;
        let id: i64 = client
            .query_one(
                "INSERT INTO account_certs (account_id, kind, fingerprint, der, subject, not_after, created_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
                &[
                    &new.account_id.0,
                    &new.kind.as_str(),
                    &new.fingerprint,
                    &new.der,
                    &new.subject,
                    &new.not_after,
                    &now,
                ],
            )
            .await
            .map_err(|e| conflict(e, "certificate already bound to this account or no such account"))?
            .try_get(0)?;
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
    }

    /// Certificates bound to `account`, oldest first.
    pub async fn account_certs(&self, account: AccountId) -> StoreResult<Vec<AccountCert>> {
        let client = self.pool.get().await?;
        client
            .query(
                &format!("SELECT {CERT_COLS} FROM account_certs WHERE account_id = $1 ORDER BY id"),
                &[&account.0],
            )
            .await?
            .iter()
            .map(cert_from_row)
            .collect()
    }

    /// Revokes certificate `id` of `account` (idempotent). False if the account has no such certificate.
    pub async fn revoke_account_cert(&self, account: AccountId, id: i64) -> StoreResult<bool> {
        self.update_account(
            "UPDATE account_certs SET revoked_at = coalesce(revoked_at, $3) WHERE id = $1 AND account_id = $2",
            &[&id, &account.0, &now_ms()],
        )
        .await
    }

    /// The IP pool of every enabled account.
    pub async fn all_ip_pools(&self) -> StoreResult<Vec<Vec<String>>> {
        let client = self.pool.get().await?;
        client
            .query(
                "SELECT coalesce(s.ip_pool, '') FROM accounts a
                 LEFT JOIN account_stages s ON s.account_id = a.id WHERE NOT a.disabled",
                &[],
            )
            .await?
            .iter()
            .map(|r| Ok(pool_of(r.try_get(0)?)))
            .collect()
    }

    /// Records (or brings forward) a deletion request. `None` if there is no such account.
    pub async fn request_deletion(&self, new: NewDeletionRequest) -> StoreResult<Option<DeletionRequest>> {
        let client = self.pool.get().await?;
        client
            .query_opt(
                &format!(
                    "INSERT INTO deletion_requests (account_id, requested_at, requested_by, source_ip, execute_after)
                     SELECT id, $2, $3, $4, $5 FROM accounts WHERE id = $1
                     ON CONFLICT (account_id) DO UPDATE
                     SET execute_after = least(deletion_requests.execute_after, excluded.execute_after)
                     RETURNING {REQUEST_COLS}"
                ),
                &[
                    &new.account_id.0,
                    &new.requested_at,
                    &new.requested_by,
                    &new.source_ip,
                    &new.execute_after,
                ],
            )
            .await?
            .map(|r| request_from_row(&r))
            .transpose()
    }

    /// Withdraws a pending request. False if there was none.
    pub async fn cancel_deletion(&self, account: AccountId) -> StoreResult<bool> {
        self.update_account(
            "DELETE FROM deletion_requests WHERE account_id = $1",
            &[&account.0],
        )
        .await
    }

    /// The pending deletion request of an account, if any.
    pub async fn deletion_request(&self, account: AccountId) -> StoreResult<Option<DeletionRequest>> {
        let client = self.pool.get().await?;
        client
            .query_opt(
                &format!("SELECT {REQUEST_COLS} FROM deletion_requests WHERE account_id = $1"),
                &[&account.0],
            )
            .await?
            .map(|r| request_from_row(&r))
            .transpose()
    }

    /// Requests whose grace period has ended at `now`, oldest first.
    pub async fn due_deletions(&self, now: i64) -> StoreResult<Vec<DeletionRequest>> {
        let client = self.pool.get().await?;
        client
            .query(
                &format!(
                    "SELECT {REQUEST_COLS} FROM deletion_requests WHERE execute_after <= $1 ORDER BY execute_after"
                ),
                &[&now],
            )
            .await?
            .iter()
            .map(request_from_row)
            .collect()
    }

    /// When the earliest pending request is due, if any.
    pub async fn next_deletion_due(&self) -> StoreResult<Option<i64>> {
        let client = self.pool.get().await?;
        Ok(client
            .query_one("SELECT min(execute_after) FROM deletion_requests", &[])
            .await?
            .try_get(0)?)
    }

    /// When the account was erased, if it was.
    pub async fn tombstone(&self, account: AccountId) -> StoreResult<Option<time::OffsetDateTime>> {
        let client = self.pool.get().await?;
        Ok(client
            .query_opt(
                "SELECT deleted_at FROM account_tombstones WHERE account_id = $1",
                &[&account.0],
            )
            .await?
            .map(|r| r.try_get::<_, i64>(0))
            .transpose()?
            .map(ms_to_datetime))
    }

    /// The last erasure step: the account row (its tokens, stages, certificates and request go with it)
    /// and the tombstone, in one transaction. `NoAccount` if it is already gone.
    pub(super) async fn finish_erasure(&self, account: AccountId, now: i64) -> StoreResult<ErasureStep> {
        let mut client = self.pool.get().await?;
        let tx = client.transaction().await?;
        let mut rows = 0;
        for sql in [
            "DELETE FROM api_tokens WHERE account_id = $1",
            "DELETE FROM account_stages WHERE account_id = $1",
            "DELETE FROM account_certs WHERE account_id = $1",
            "DELETE FROM deletion_requests WHERE account_id = $1",
        ] {
            rows += tx.execute(sql, &[&account.0]).await?;
        }
        if tx
            .execute("DELETE FROM accounts WHERE id = $1", &[&account.0])
            .await?
            == 0
        {
            return Ok(ErasureStep::NoAccount);
        }
        tx.execute(
            "INSERT INTO account_tombstones (account_id, deleted_at) VALUES ($1, $2)
             ON CONFLICT (account_id) DO NOTHING",
            &[&account.0, &now],
        )
        .await?;
        tx.commit().await?;
        Ok(ErasureStep::Finished { rows })
    }
}
