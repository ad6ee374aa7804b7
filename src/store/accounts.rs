//! Accounts and API tokens.
use rusqlite::{Connection, OptionalExtension, Row, params};

use super::{
    Account, AccountId, ApiToken, Role, Store, StoreError, StoreResult, TokenId, ms_to_datetime, now_ms,
};

/// A new account; the password is hashed by the caller (auth owns the hash).
#[derive(Debug, Clone)]
pub struct NewAccount {
    pub login: String,
    pub password_hash: String,
    pub role: Role,
}

/// A new API token; only the hash of the secret is stored.
#[derive(Debug, Clone)]
pub struct NewToken {
    pub account_id: AccountId,
    pub token_hash: String,
    pub name: String,
    pub scopes: String,
    /// Unix milliseconds, or `None` for no expiry.
    pub expires_at: Option<i64>,
}

const ACCOUNT_COLS: &str = "id, login, password_hash, role, disabled, created_at";
const TOKEN_COLS: &str = "id, account_id, name, scopes, expires_at, revoked, created_at";

fn account_from_row(r: &Row<'_>) -> rusqlite::Result<Account> {
    let role: String = r.get(3)?;
    Ok(Account {
        id: AccountId(r.get(0)?),
        login: r.get(1)?,
        password_hash: r.get(2)?,
        role: role.parse().unwrap_or(Role::Client),
        disabled: r.get(4)?,
        created_at: ms_to_datetime(r.get(5)?),
    })
}

fn token_from_row(r: &Row<'_>, base: usize) -> rusqlite::Result<ApiToken> {
    Ok(ApiToken {
        id: TokenId(r.get(base)?),
        account_id: AccountId(r.get(base + 1)?),
        name: r.get(base + 2)?,
        scopes: r.get(base + 3)?,
        expires_at: r.get::<_, Option<i64>>(base + 4)?.map(ms_to_datetime),
        revoked: r.get(base + 5)?,
        created_at: ms_to_datetime(r.get(base + 6)?),
    })
}

/// Maps a UNIQUE violation to [`StoreError::Conflict`] with a readable reason.
pub(crate) fn unique_to_conflict(e: rusqlite::Error, what: &str) -> StoreError {
    match &e {
        rusqlite::Error::SqliteFailure(f, _) if f.code == rusqlite::ErrorCode::ConstraintViolation => {
            StoreError::Conflict(what.to_owned())
        }
        _ => StoreError::Sqlite(e),
    }
}

fn account_by(conn: &Connection, clause: &str, value: &dyn rusqlite::ToSql) -> StoreResult<Option<Account>> {
    let sql = format!("SELECT {ACCOUNT_COLS} FROM accounts WHERE {clause}");
    Ok(conn.query_row(&sql, [value], account_from_row).optional()?)
}

impl Store {
    /// Creates an account; a taken login is a [`StoreError::Conflict`].
    pub async fn create_account(&self, new: NewAccount) -> StoreResult<Account> {
        if let Some(pg) = self.cluster() {
            return pg.create_account(new).await;
        }
        self.write_affecting_stages(move |conn| {
            let now = now_ms();
            let id = conn
                .query_row(
                    // The id is past every erased account's tombstone too: an id is never reused, so
                    // audit entries and backups keep pointing at the account they were written for.
                    "INSERT INTO accounts (id, login, password_hash, role, created_at)
                     VALUES (max(coalesce((SELECT max(id) FROM accounts), 0),
                                 coalesce((SELECT max(account_id) FROM account_tombstones), 0)) + 1,
                             ?1, ?2, ?3, ?4)
                     RETURNING id",
                    params![new.login, new.password_hash, new.role.as_str(), now],
                    |r| r.get::<_, i64>(0),
                )
                .map_err(|e| unique_to_conflict(e, "login already taken"))?;
            Ok(Account {
                id: AccountId(id),
                login: new.login,
                password_hash: new.password_hash,
                role: new.role,
                disabled: false,
                created_at: ms_to_datetime(now),
            })
        })
        .await
    }

    /// The account with this login (case-sensitive), if any.
    pub async fn account_by_login(&self, login: &str) -> StoreResult<Option<Account>> {
        if let Some(pg) = self.cluster() {
            return pg.account_by_login(login).await;
        }
        let login = login.to_owned();
        self.read(move |conn| account_by(conn, "login = ?1", &login))
            .await
    }

    /// The account with this id, if any.
    pub async fn account(&self, id: AccountId) -> StoreResult<Option<Account>> {
        if let Some(pg) = self.cluster() {
            return pg.account(id).await;
        }
        self.read(move |conn| account_by(conn, "id = ?1", &id.0)).await
    }

    /// All accounts, by id.
    pub async fn accounts(&self) -> StoreResult<Vec<Account>> {
        if let Some(pg) = self.cluster() {
            return pg.accounts().await;
        }
        self.read(|conn| {
            let mut stmt = conn.prepare(&format!("SELECT {ACCOUNT_COLS} FROM accounts ORDER BY id"))?;
            let rows = stmt
                .query_map([], account_from_row)?
                .collect::<Result<Vec<_>, _>>()?;
            Ok(rows)
        })
        .await
    }

    /// Number of accounts (first start creates the admin when this is 0).
    pub async fn account_count(&self) -> StoreResult<u64> {
        if let Some(pg) = self.cluster() {
            return pg.account_count().await;
        }
        self.read(|conn| {
            Ok(conn.query_row("SELECT count(*) FROM accounts", [], |r| r.get::<_, i64>(0))? as u64)
        })
        .await
    }

    /// Replaces an account's password hash. Returns false if there is no such account.
    pub async fn set_password_hash(&self, id: AccountId, hash: String) -> StoreResult<bool> {
        if let Some(pg) = self.cluster() {
            return pg.set_password_hash(id, hash).await;
        }
        self.write(move |conn| {
            Ok(conn.execute(
                "UPDATE accounts SET password_hash = ?2 WHERE id = ?1",
                params![id.0, hash],
            )? == 1)
        })
        .await
    }

    /// Enables or disables an account. Returns false if there is no such account.
    pub async fn set_account_disabled(&self, id: AccountId, disabled: bool) -> StoreResult<bool> {
        if let Some(pg) = self.cluster() {
            return pg.set_account_disabled(id, disabled).await;
        }
        self.write_affecting_stages(move |conn| {
            Ok(conn.execute(
                "UPDATE accounts SET disabled = ?2 WHERE id = ?1",
                params![id.0, disabled],
            )? == 1)
        })
        .await
    }

    /// Physically deletes an account and everything that belongs to it (messages, parts, attempts, reports,
    /// inbox, tokens, webhooks, outbox) in one transaction. Returns false if absent. A client's deletion
    /// request goes through [`Store::erase_account_step`] instead (batched, with a tombstone).
    pub async fn delete_account(&self, id: AccountId) -> StoreResult<bool> {
        if let Some(pg) = self.cluster() {
            return pg.delete_account(id).await;
        }
        self.write_affecting_stages(move |conn| {
            Ok(conn.execute("DELETE FROM accounts WHERE id = ?1", [id.0])? == 1)
        })
        .await
    }

    /// Stores a new API token; a duplicate hash is a [`StoreError::Conflict`].
    pub async fn create_token(&self, new: NewToken) -> StoreResult<ApiToken> {
        if let Some(pg) = self.cluster() {
            return pg.create_token(new).await;
        }
        self.write(move |conn| {
            let now = now_ms();
            let id = conn
                .query_row(
                    "INSERT INTO api_tokens (account_id, token_hash, name, scopes, expires_at, created_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6) RETURNING id",
                    params![
                        new.account_id.0,
                        new.token_hash,
                        new.name,
                        new.scopes,
                        new.expires_at,
                        now
                    ],
                    |r| r.get::<_, i64>(0),
                )
                .map_err(|e| unique_to_conflict(e, "token already exists"))?;
            Ok(ApiToken {
                id: TokenId(id),
                account_id: new.account_id,
                name: new.name,
                scopes: new.scopes,
                expires_at: new.expires_at.map(ms_to_datetime),
                revoked: false,
                created_at: ms_to_datetime(now),
            })
        })
        .await
    }

    /// The token with this hash and its account (whether usable is for the caller to check).
    pub async fn token_by_hash(&self, hash: &str) -> StoreResult<Option<(ApiToken, Account)>> {
        if let Some(pg) = self.cluster() {
            return pg.token_by_hash(hash).await;
        }
        let hash = hash.to_owned();
        self.read(move |conn| {
            let sql = format!(
                "SELECT {}, {} FROM api_tokens t JOIN accounts a ON a.id = t.account_id WHERE t.token_hash = ?1",
                TOKEN_COLS.split(", ").map(|c| format!("t.{c}")).collect::<Vec<_>>().join(", "),
                ACCOUNT_COLS.split(", ").map(|c| format!("a.{c}")).collect::<Vec<_>>().join(", "),
            );
            let found = conn
                .query_row(&sql, [hash], |r| {
                    let token = token_from_row(r, 0)?;
                    let role: String = r.get(10)?;
                    let account = Account {
                        id: AccountId(r.get(7)?),
                        login: r.get(8)?,
                        password_hash: r.get(9)?,
                        role: role.parse().unwrap_or(Role::Client),
                        disabled: r.get(11)?,
                        created_at: ms_to_datetime(r.get(12)?),
                    };
                    Ok((token, account))
                })
                .optional()?;
            Ok(found)
        })
        .await
    }

    /// Tokens of an account, newest first.
    pub async fn tokens(&self, account: AccountId) -> StoreResult<Vec<ApiToken>> {
        if let Some(pg) = self.cluster() {
            return pg.tokens(account).await;
        }
        self.read(move |conn| {
            let mut stmt = conn.prepare(&format!(
                "SELECT {TOKEN_COLS} FROM api_tokens WHERE account_id = ?1 ORDER BY id DESC"
            ))?;
            let rows = stmt
                .query_map([account.0], |r| token_from_row(r, 0))?
                .collect::<Result<Vec<_>, _>>()?;
            Ok(rows)
        })
        .await
    }

    /// Revokes a token of `account`. Returns false if that account has no such token.
    pub async fn revoke_token(&self, account: AccountId, id: TokenId) -> StoreResult<bool> {
        if let Some(pg) = self.cluster() {
            return pg.revoke_token(account, id).await;
        }
        self.write(move |conn| {
            Ok(conn.execute(
                "UPDATE api_tokens SET revoked = 1 WHERE id = ?1 AND account_id = ?2",
                params![id.0, account.0],
            )? == 1)
        })
        .await
    }
}
