//! Kannel `dlr-url` subscriptions: which messages accepted through the Kannel shim want an HTTP callback
//! on delivery events, and which events have been called back already.
use rusqlite::{Connection, params};

use super::messages::insert_submission;
use super::{AccountId, MessageId, MessageStatus, NewMessage, Store, StoreError, StoreResult, Submitted};

/// Schema version 2: the subscriptions. Rows go with their message (`ON DELETE CASCADE`), so deleting an
/// account's data deletes them too.
pub(super) const V2_KANNEL_DLR: &str = r#"
CREATE TABLE kannel_dlr (
    message_id  TEXT PRIMARY KEY REFERENCES messages(id) ON DELETE CASCADE,
    url         TEXT NOT NULL,
    mask        INTEGER NOT NULL,
    sender      TEXT,
    reported    INTEGER NOT NULL DEFAULT 0,
    seen_status TEXT NOT NULL DEFAULT 'queued',
    attempts    INTEGER NOT NULL DEFAULT 0,
    next_at     INTEGER NOT NULL DEFAULT 0
);
"#;

/// A `dlr-url` subscription for every message of one sendsms request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewKannelDlr {
    pub url: String,
    pub mask: u8,
    pub sender: Option<String>,
}

/// A subscription whose message changed since it was last looked at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KannelDlrDue {
    pub message_id: MessageId,
    pub url: String,
    pub mask: u8,
    pub sender: Option<String>,
    /// DLR type bits already handled.
    pub reported: u8,
    pub attempts: u32,
    pub recipient: String,
    pub status: MessageStatus,
    pub delivery_report: bool,
    pub error: Option<String>,
    pub modem: Option<String>,
}

impl Store {
    /// [`Store::submit`] plus a DLR subscription for each created message, in one transaction.
    pub async fn submit_with_dlr(
        &self,
        account: AccountId,
        messages: Vec<NewMessage>,
        dlr: Option<NewKannelDlr>,
        now: i64,
    ) -> StoreResult<Submitted> {
        if let Some(pg) = self.cluster() {
            return pg.submit_with_dlr(account, messages, dlr, now).await;
        }
        self.write(move |conn| {
            let submitted = insert_submission(conn, account, None, messages, now)?;
            if let (Some(d), Submitted::Created(created)) = (&dlr, &submitted) {
                let mut insert = conn.prepare_cached(
                    "INSERT INTO kannel_dlr (message_id, url, mask, sender) VALUES (?1, ?2, ?3, ?4)",
                )?;
                for m in created {
                    insert.execute(params![m.id.to_string(), d.url, d.mask, d.sender])?;
                }
            }
            Ok(submitted)
        })
        .await
    }

    /// Subscriptions whose message changed status since last handled and which are due at `now`.
    pub async fn kannel_dlr_due(&self, now: i64, limit: u32) -> StoreResult<Vec<KannelDlrDue>> {
        if let Some(pg) = self.cluster() {
            return pg.kannel_dlr_due(now, limit).await;
        }
        self.read(move |conn| due(conn, now, limit)).await
    }

    /// Records that the DLR types `reported` are handled for the message at `status`; `finished` removes
    /// the subscription.
    pub async fn kannel_dlr_reported(
        &self,
        id: MessageId,
        reported: u8,
        status: MessageStatus,
        finished: bool,
    ) -> StoreResult<()> {
        if let Some(pg) = self.cluster() {
            return pg.kannel_dlr_reported(id, reported, status, finished).await;
        }
        self.write(move |conn| {
            if finished {
                conn.prepare_cached("DELETE FROM kannel_dlr WHERE message_id = ?1")?
                    .execute(params![id.to_string()])?;
            } else {
                conn.prepare_cached(
                    "UPDATE kannel_dlr SET reported = ?2, seen_status = ?3, attempts = 0, next_at = 0
                     WHERE message_id = ?1",
                )?
                .execute(params![id.to_string(), reported, status.as_str()])?;
            }
            Ok(())
        })
        .await
    }

    /// Records a failed callback: the types in `reported` are handled (called back before the failure);
    /// retry the rest at `next_at`, or drop the subscription (`None`: gave up).
    pub async fn kannel_dlr_failed(
        &self,
        id: MessageId,
        reported: u8,
        next_at: Option<i64>,
    ) -> StoreResult<()> {
        if let Some(pg) = self.cluster() {
            return pg.kannel_dlr_failed(id, reported, next_at).await;
        }
        self.write(move |conn| {
            match next_at {
                Some(at) => conn
                    .prepare_cached(
                        "UPDATE kannel_dlr SET reported = ?2, attempts = attempts + 1, next_at = ?3
                         WHERE message_id = ?1",
                    )?
                    .execute(params![id.to_string(), reported, at])?,
                None => conn
                    .prepare_cached("DELETE FROM kannel_dlr WHERE message_id = ?1")?
                    .execute(params![id.to_string()])?,
            };
            Ok(())
        })
        .await
    }
}

fn due(conn: &Connection, now: i64, limit: u32) -> StoreResult<Vec<KannelDlrDue>> {
    // The limit is written into the SQL: SQLite re-prepares a statement at every run when `LIMIT` is a
    // bound parameter (the planner uses its value), and this query runs after every batch of sends.
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT d.message_id, d.url, d.mask, d.sender, d.reported, d.attempts, m.recipient, m.status, m.srr,
                m.error, m.modem
         FROM kannel_dlr d JOIN messages m ON m.id = d.message_id
         WHERE m.status NOT IN ('queued', 'sending') AND m.status != d.seen_status AND d.next_at <= ?1
         ORDER BY d.next_at LIMIT {limit}"
    ))?;
    let rows = stmt.query_map(params![now], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, u8>(2)?,
            r.get::<_, Option<String>>(3)?,
            r.get::<_, u8>(4)?,
            r.get::<_, u32>(5)?,
            r.get::<_, String>(6)?,
            r.get::<_, String>(7)?,
            r.get::<_, bool>(8)?,
            r.get::<_, Option<String>>(9)?,
            r.get::<_, Option<String>>(10)?,
        ))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (id, url, mask, sender, reported, attempts, recipient, status, delivery_report, error, modem) =
            row?;
        out.push(KannelDlrDue {
            message_id: id
                .parse()
                .map_err(|_| StoreError::bad_row("kannel_dlr message id"))?,
            url,
            mask,
            sender,
            reported,
            attempts,
            recipient,
            status: status
                .parse()
                .map_err(|_| StoreError::bad_row("message status"))?,
            delivery_report,
            error,
            modem,
        });
    }
    Ok(out)
}
