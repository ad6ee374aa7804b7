//! Erasure of an account's data on request: the pending requests (with their grace period), the batched
//! physical deletion of everything the account owns, and the anonymous tombstone left behind.
//!
//! Erasure runs as many small write jobs ([`Store::erase_account_step`]) so that the group-commit writer
//! keeps serving other accounts' sends between batches. Rows are deleted, never flagged; the writer runs
//! with `secure_delete` so their bytes are overwritten, and [`Store::checkpoint_truncate`] then moves the
//! overwritten pages into the database file and empties the WAL, so no copy of the deleted content is left
//! in either file.
use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;
use time::OffsetDateTime;

use super::{AccountId, MessageId, Store, StoreError, StoreResult, ms_to_datetime};

/// Schema version 5: pending deletion requests and the tombstones of erased accounts.
pub(super) const V5_ERASURE: &str = r#"
CREATE TABLE deletion_requests (
    account_id    INTEGER PRIMARY KEY REFERENCES accounts(id) ON DELETE CASCADE,
    requested_at  INTEGER NOT NULL,
    requested_by  TEXT,
    source_ip     TEXT,
    execute_after INTEGER NOT NULL
);
CREATE INDEX deletion_requests_due ON deletion_requests(execute_after);

-- What remains of an erased account: its id (never reused) and when it was erased. Nothing personal.
CREATE TABLE account_tombstones (
    account_id INTEGER PRIMARY KEY,
    deleted_at INTEGER NOT NULL
);
"#;

/// Tables whose rows are not the account's data, or that are erased in batches / kept on purpose.
const NOT_GENERIC: [&str; 7] = [
    "accounts",
    "audit_log",
    "account_tombstones",
    "deletion_requests",
    "messages",
    "inbox",
    "webhook_outbox",
];

/// A deletion request waiting for its grace period to end (or for the scheduler).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeletionRequest {
    pub account_id: AccountId,
    #[serde(with = "time::serde::rfc3339")]
    pub requested_at: OffsetDateTime,
    /// Login of who asked (the client itself or an admin); `None` for the system.
    pub requested_by: Option<String>,
    /// Address the request came from, when it came over the network.
    pub source_ip: Option<String>,
    /// The erasure runs at or after this time; until then the client may cancel.
    #[serde(with = "time::serde::rfc3339")]
    pub execute_after: OffsetDateTime,
}

/// A new deletion request.
#[derive(Debug, Clone)]
pub struct NewDeletionRequest {
    pub account_id: AccountId,
    pub requested_by: Option<String>,
    pub source_ip: Option<String>,
    /// Unix ms.
    pub requested_at: i64,
    /// Unix ms; equal to `requested_at` for an immediate erasure.
    pub execute_after: i64,
}

/// What one erasure step did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ErasureStep {
    /// Deleted `count` rows of `table` (and what cascades from them); call again.
    Deleted { table: &'static str, count: u64 },
    /// Only messages a modem is sending right now are left; try again once they are finished.
    WaitingForSends(u64),
    /// The account row is gone and the tombstone written; `rows` counts the last small tables
    /// (tokens, webhooks, idempotency keys, certificate bindings, ...).
    Finished { rows: u64 },
    /// There is no such account (already erased).
    NoAccount,
}

/// Counts of what an erasure removed, for the audit log.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Erased {
    /// Messages, with their parts, attempts, delivery reports and Kannel DLR subscriptions.
    pub messages: u64,
    pub inbox: u64,
    pub webhook_events: u64,
    /// Rows of the small per-account tables: tokens, webhooks, idempotency keys, certificates, ...
    pub other_rows: u64,
}

fn request_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<DeletionRequest> {
    Ok(DeletionRequest {
        account_id: AccountId(r.get(0)?),
        requested_at: ms_to_datetime(r.get(1)?),
        requested_by: r.get(2)?,
        source_ip: r.get(3)?,
        execute_after: ms_to_datetime(r.get(4)?),
    })
}

const REQUEST_COLS: &str = "account_id, requested_at, requested_by, source_ip, execute_after";

fn load_request(conn: &Connection, account: AccountId) -> StoreResult<Option<DeletionRequest>> {
    Ok(conn
        .query_row(
            &format!("SELECT {REQUEST_COLS} FROM deletion_requests WHERE account_id = ?1"),
            [account.0],
            request_from_row,
        )
        .optional()?)
}

/// Every table other than the special ones that has an `account_id` column: found from the schema, so
/// tables added by later migrations (certificate bindings, IP pools, ...) are erased without changes here.
fn per_account_tables(conn: &Connection) -> StoreResult<Vec<String>> {
    let mut stmt = conn.prepare_cached(
        "SELECT m.name FROM sqlite_master m
         WHERE m.type = 'table'
           AND EXISTS (SELECT 1 FROM pragma_table_info(m.name) c WHERE c.name = 'account_id')
         ORDER BY m.name",
    )?;
    let names = stmt
        .query_map([], |r| r.get::<_, String>(0))?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(names
        .into_iter()
        .filter(|n| !NOT_GENERIC.contains(&n.as_str()))
        .collect())
}

/// Quotes an SQL identifier read from the schema.
fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// Batched deletes of the big tables, in order: `?1` account, `?2` batch size.
const BATCH_STEPS: [(&str, &str); 3] = [
    // Messages a modem is sending right now are left until the send finishes (the dispatcher still
    // writes their outcome); everything hanging off a message goes with it by ON DELETE CASCADE.
    (
        "messages",
        "DELETE FROM messages WHERE id IN (SELECT id FROM messages WHERE account_id = ?1
             AND status != 'sending' LIMIT ?2)",
    ),
    (
        "inbox",
        "DELETE FROM inbox WHERE id IN (SELECT id FROM inbox WHERE account_id = ?1 LIMIT ?2)",
    ),
    (
        "webhook_outbox",
        "DELETE FROM webhook_outbox WHERE id IN (SELECT id FROM webhook_outbox WHERE account_id = ?1 LIMIT ?2)",
    ),
];

fn erase_step(conn: &Connection, account: AccountId, batch: u32, now: i64) -> StoreResult<ErasureStep> {
    let exists: Option<i64> = conn
        .query_row("SELECT id FROM accounts WHERE id = ?1", [account.0], |r| r.get(0))
        .optional()?;
    if exists.is_none() {
        return Ok(ErasureStep::NoAccount);
    }
    for (table, sql) in BATCH_STEPS {
        let n = conn.prepare_cached(sql)?.execute(params![account.0, batch])? as u64;
        if n > 0 {
            return Ok(ErasureStep::Deleted { table, count: n });
        }
    }
    let sending: i64 = conn.query_row(
        "SELECT count(*) FROM messages WHERE account_id = ?1",
        [account.0],
        |r| r.get(0),
    )?;
    if sending > 0 {
        return Ok(ErasureStep::WaitingForSends(sending as u64));
    }
    let mut rows = 0u64;
    for table in per_account_tables(conn)? {
        let sql = format!("DELETE FROM {} WHERE account_id = ?1", quote_ident(&table));
        rows += conn.execute(&sql, [account.0])? as u64;
    }
    conn.execute("DELETE FROM accounts WHERE id = ?1", [account.0])?;
    conn.execute(
        "INSERT OR REPLACE INTO account_tombstones (account_id, deleted_at) VALUES (?1, ?2)",
        params![account.0, now],
    )?;
    Ok(ErasureStep::Finished { rows })
}

impl Store {
    /// Records a deletion request for an existing account (`None` if there is no such account). A second
    /// request keeps the first one's details but the earlier execution time, so an admin can bring a
    /// client's pending request forward.
    pub async fn request_deletion(&self, new: NewDeletionRequest) -> StoreResult<Option<DeletionRequest>> {
        if let Some(pg) = self.cluster() {
            return pg.request_deletion(new).await;
        }
        self.write(move |conn| {
            let exists: Option<i64> = conn
                .query_row("SELECT id FROM accounts WHERE id = ?1", [new.account_id.0], |r| {
                    r.get(0)
                })
                .optional()?;
            if exists.is_none() {
                return Ok(None);
            }
            conn.prepare_cached(
                "INSERT INTO deletion_requests (account_id, requested_at, requested_by, source_ip, execute_after)
                 VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (account_id) DO UPDATE
                 SET execute_after = min(execute_after, excluded.execute_after)",
            )?
            .execute(params![
                new.account_id.0,
                new.requested_at,
                new.requested_by,
                new.source_ip,
                new.execute_after
            ])?;
            load_request(conn, new.account_id)
        })
        .await
    }

    /// Withdraws a pending deletion request. Returns false if there was none.
    pub async fn cancel_deletion(&self, account: AccountId) -> StoreResult<bool> {
        if let Some(pg) = self.cluster() {
            return pg.cancel_deletion(account).await;
        }
        self.write(move |conn| {
            Ok(conn.execute("DELETE FROM deletion_requests WHERE account_id = ?1", [account.0])? == 1)
        })
        .await
    }

    /// The pending deletion request of an account, if any.
    pub async fn deletion_request(&self, account: AccountId) -> StoreResult<Option<DeletionRequest>> {
        if let Some(pg) = self.cluster() {
            return pg.deletion_request(account).await;
        }
        self.read(move |conn| load_request(conn, account)).await
    }

    /// Requests whose grace period has ended at `now` (unix ms), oldest first.
    pub async fn due_deletions(&self, now: i64) -> StoreResult<Vec<DeletionRequest>> {
        if let Some(pg) = self.cluster() {
            return pg.due_deletions(now).await;
        }
        self.read(move |conn| {
            let mut stmt = conn.prepare_cached(&format!(
                "SELECT {REQUEST_COLS} FROM deletion_requests WHERE execute_after <= ?1 ORDER BY execute_after"
            ))?;
            let rows = stmt
                .query_map([now], request_from_row)?
                .collect::<Result<Vec<_>, _>>()?;
            Ok(rows)
        })
        .await
    }

    /// When the earliest pending request is due (unix ms), if any.
    pub async fn next_deletion_due(&self) -> StoreResult<Option<i64>> {
        if let Some(pg) = self.cluster() {
            return pg.next_deletion_due().await;
        }
        self.read(|conn| {
            Ok(
                conn.query_row("SELECT min(execute_after) FROM deletion_requests", [], |r| {
                    r.get::<_, Option<i64>>(0)
                })?,
            )
        })
        .await
    }

    /// Cancels every queued message of the account (the first step of an erasure, so the dispatcher hands
    /// none of them to a modem any more); returns their ids.
    pub async fn cancel_queued_of_account(
        &self,
        account: AccountId,
        now: i64,
    ) -> StoreResult<Vec<MessageId>> {
        if let Some(pg) = self.cluster() {
            return pg.cancel_queued_of_account(account, now).await;
        }
        self.write(move |conn| {
            let mut stmt = conn.prepare_cached(
                "UPDATE messages SET status = 'cancelled', next_attempt_at = NULL, updated_at = ?2
                 WHERE account_id = ?1 AND status = 'queued' RETURNING id",
            )?;
            let ids = stmt
                .query_map(params![account.0, now], |r| r.get::<_, String>(0))?
                .collect::<Result<Vec<_>, _>>()?;
            ids.iter()
                .map(|s| s.parse().map_err(|_| StoreError::bad_row("message id")))
                .collect()
        })
        .await
    }

    /// One erasure step: deletes up to `batch` rows of the account's biggest remaining table, or, when
    /// only the small tables are left, those, the account row and its pending request, and writes the
    /// tombstone (at `now`, unix ms).
    pub async fn erase_account_step(
        &self,
        account: AccountId,
        batch: u32,
        now: i64,
    ) -> StoreResult<ErasureStep> {
        // A cluster's accounts and their data live in PostgreSQL; the node's own database keeps none of
        // the account's rows (its audit log is kept on purpose, as on a single appliance).
        if let Some(pg) = self.cluster() {
            return pg.erase_account_step(account, batch, now).await;
        }
        self.write_affecting_stages(move |conn| erase_step(conn, account, batch, now))
            .await
    }

    /// When the account was erased, if it was.
    pub async fn tombstone(&self, account: AccountId) -> StoreResult<Option<OffsetDateTime>> {
        if let Some(pg) = self.cluster() {
            return pg.tombstone(account).await;
        }
        self.read(move |conn| {
            Ok(conn
                .query_row(
                    "SELECT deleted_at FROM account_tombstones WHERE account_id = ?1",
                    [account.0],
                    |r| r.get::<_, i64>(0),
                )
                .optional()?
                .map(ms_to_datetime))
        })
        .await
    }

    /// Copies every committed page from the WAL into the database file and truncates the WAL to zero
    /// bytes, so that old versions of deleted rows are not left in it. Returns false if a reader kept
    /// the checkpoint from completing (it is then retried by the next call).
    pub async fn checkpoint_truncate(&self) -> StoreResult<bool> {
        self.write_direct(|conn| {
            let busy: i64 = conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| r.get(0))?;
            Ok(busy == 0)
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{NewAccount, NewMessage, NewPart, Role, Submitted, TextEncoding};

    async fn open() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("smsgate.db")).unwrap();
        (dir, store)
    }

    async fn account(store: &Store, login: &str) -> AccountId {
        store
            .create_account(NewAccount {
                login: login.into(),
                password_hash: "h".into(),
                role: Role::Client,
            })
            .await
            .unwrap()
            .id
    }

    async fn submit(store: &Store, account: AccountId, n: usize) -> Vec<MessageId> {
        let messages = (0..n)
            .map(|i| NewMessage {
                id: MessageId::new(),
                recipient: format!("+4860010{i:04}"),
                group: None,
                text: "secret".into(),
                encoding: TextEncoding::Gsm7,
                priority: 0,
                send_at: None,
                valid_until: None,
                delivery_report: false,
                client_ref: None,
                parts: vec![NewPart {
                    pdu: vec![0, 1],
                    tpdu_len: 2,
                }],
            })
            .collect();
        match store.submit(account, None, messages, 1_000).await.unwrap() {
            Submitted::Created(v) => v.into_iter().map(|m| m.id).collect(),
            other => panic!("{other:?}"),
        }
    }

    async fn count(store: &Store, sql: &'static str, account: AccountId) -> i64 {
        store
            .read(move |c| Ok(c.query_row(sql, [account.0], |r| r.get(0))?))
            .await
            .unwrap()
    }

    /// Erases in steps of `batch` until finished; returns the steps taken.
    async fn erase_all(store: &Store, account: AccountId, batch: u32) -> Vec<ErasureStep> {
        let mut steps = Vec::new();
        loop {
            let step = store.erase_account_step(account, batch, 5_000).await.unwrap();
            let last = !matches!(step, ErasureStep::Deleted { .. });
            steps.push(step);
            if last {
                return steps;
            }
        }
    }

    #[tokio::test]
    async fn erasure_runs_in_batches_and_reaches_tables_added_later() {
        let (_dir, store) = open().await;
        let a = account(&store, "a").await;
        let b = account(&store, "b").await;
        submit(&store, a, 7).await;
        submit(&store, b, 2).await;
        // A table added by a later migration (say, certificate bindings) is found by its column.
        store
            .write(move |c| {
                c.execute_batch(
                    "CREATE TABLE account_certificates (id INTEGER PRIMARY KEY, account_id INTEGER, pem TEXT)",
                )?;
                c.execute(
                    "INSERT INTO account_certificates (account_id, pem) VALUES (?1, 'a'), (?2, 'b')",
                    params![a.0, b.0],
                )?;
                Ok(())
            })
            .await
            .unwrap();
        let steps = erase_all(&store, a, 3).await;
        let batches: Vec<u64> = steps
            .iter()
            .filter_map(|s| match s {
                ErasureStep::Deleted { count, .. } => Some(*count),
                _ => None,
            })
            .collect();
        assert_eq!(batches, vec![3, 3, 1], "{steps:?}");
        assert_eq!(steps.last(), Some(&ErasureStep::Finished { rows: 1 }));
        assert!(store.account(a).await.unwrap().is_none());
        assert!(store.tombstone(a).await.unwrap().is_some());
        for sql in [
            "SELECT count(*) FROM messages WHERE account_id = ?1",
            "SELECT count(*) FROM account_certificates WHERE account_id = ?1",
        ] {
            assert_eq!(count(&store, sql, a).await, 0, "{sql}");
            assert!(count(&store, sql, b).await > 0, "{sql} for the other account");
        }
        assert_eq!(
            count(
                &store,
                "SELECT count(*) FROM message_parts WHERE ?1 IS NOT NULL",
                a
            )
            .await,
            2,
            "only b's parts remain"
        );
        assert_eq!(
            store.erase_account_step(a, 3, 6_000).await.unwrap(),
            ErasureStep::NoAccount
        );
    }

    #[tokio::test]
    async fn queued_are_cancelled_and_sends_in_flight_are_waited_for() {
        let (_dir, store) = open().await;
        let a = account(&store, "a").await;
        let ids = submit(&store, a, 3).await;
        store.begin_attempt(ids[0], "imei".into(), 2_000).await.unwrap();
        let cancelled = store.cancel_queued_of_account(a, 3_000).await.unwrap();
        assert_eq!(cancelled.len(), 2);
        assert!(!cancelled.contains(&ids[0]), "the one being sent is not queued");
        let steps = erase_all(&store, a, 100).await;
        assert_eq!(steps.last(), Some(&ErasureStep::WaitingForSends(1)));
        assert!(store.account(a).await.unwrap().is_some());
        store
            .write(move |c| {
                c.execute(
                    "UPDATE messages SET status = 'sent' WHERE id = ?1",
                    [ids[0].to_string()],
                )?;
                Ok(())
            })
            .await
            .unwrap();
        let steps = erase_all(&store, a, 100).await;
        assert!(
            matches!(steps.last(), Some(ErasureStep::Finished { .. })),
            "{steps:?}"
        );
    }

    #[tokio::test]
    async fn requests_keep_the_earliest_time_and_ids_are_never_reused() {
        let (_dir, store) = open().await;
        let a = account(&store, "a").await;
        let ask = |at: i64, after: i64, by: &str| NewDeletionRequest {
            account_id: a,
            requested_by: Some(by.into()),
            source_ip: None,
            requested_at: at,
            execute_after: after,
        };
        let first = store
            .request_deletion(ask(1_000, 90_000, "a"))
            .await
            .unwrap()
            .unwrap();
        let second = store
            .request_deletion(ask(2_000, 5_000, "root"))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            second.requested_by.as_deref(),
            Some("a"),
            "the first request's details stay"
        );
        assert!(second.execute_after < first.execute_after, "brought forward");
        assert!(store.due_deletions(4_999).await.unwrap().is_empty());
        assert_eq!(store.due_deletions(5_000).await.unwrap().len(), 1);
        assert!(store.cancel_deletion(a).await.unwrap());
        assert!(!store.cancel_deletion(a).await.unwrap());
        assert!(
            store
                .request_deletion(NewDeletionRequest {
                    account_id: AccountId(999),
                    ..ask(1, 1, "x")
                })
                .await
                .unwrap()
                .is_none()
        );
        erase_all(&store, a, 10).await;
        let next = account(&store, "b").await;
        assert!(
            next.0 > a.0,
            "the erased id {a:?} is not handed out again ({next:?})"
        );
    }
}
