//! Received SMS: durable fragments of concatenated messages waiting for their siblings, and the
//! reassembled inbox, scoped to the owning account.
use rusqlite::types::Value;
use rusqlite::{Connection, OptionalExtension, Row, params, params_from_iter};
use serde_json::json;

use super::webhooks::{Audience, emit};
use super::{
    AccountId, EventType, InboxId, InboxMessage, Page, Scope, Store, StoreError, StoreResult, ms_to_datetime,
};

/// A received SMS to store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewInbox {
    pub id: InboxId,
    pub account_id: Option<AccountId>,
    pub originator: String,
    pub text: String,
    pub modem: String,
    /// Unix ms.
    pub received_at: i64,
    pub parts: u32,
    pub incomplete: bool,
}

/// A stored part of a concatenated SMS whose other parts have not all arrived.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InboxFragment {
    pub id: i64,
    pub modem: String,
    /// Raw SMS-DELIVER PDU incl. SMSC field.
    pub pdu: Vec<u8>,
    pub received_at: i64,
}

/// Paging for [`Store::inbox`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InboxFilter {
    pub originator: Option<String>,
    /// Cursor: only entries older than this id.
    pub before: Option<InboxId>,
    /// Page size (clamped to 1..=1000).
    pub limit: u32,
}

const INBOX_COLS: &str = "id, account_id, originator, text, modem, received_at, parts, incomplete";

fn inbox_from_row(r: &Row<'_>) -> rusqlite::Result<InboxMessage> {
    let id: String = r.get(0)?;
    Ok(InboxMessage {
        id: id.parse().map_err(|e| {
            rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, Box::new(e))
        })?,
        account_id: r.get::<_, Option<i64>>(1)?.map(AccountId),
        originator: r.get(2)?,
        text: r.get(3)?,
        modem: r.get(4)?,
        received_at: ms_to_datetime(r.get(5)?),
        parts: r.get(6)?,
        incomplete: r.get(7)?,
    })
}

fn scope_clause(scope: Scope, args: &mut Vec<Value>) -> &'static str {
    match scope {
        Scope::All => "",
        Scope::Account(a) => {
            args.push(Value::Integer(a.0));
            " AND account_id = ?"
        }
    }
}

fn load(conn: &Connection, scope: Scope, id: InboxId) -> StoreResult<Option<InboxMessage>> {
    let mut args = vec![Value::Text(id.to_string())];
    let clause = scope_clause(scope, &mut args);
    let sql = format!("SELECT {INBOX_COLS} FROM inbox WHERE id = ?{clause}");
    Ok(conn
        .prepare_cached(&sql)?
        .query_row(params_from_iter(args), inbox_from_row)
        .optional()?)
}

impl Store {
    /// Durably keeps one received part (before the modem deletes it from the SIM).
    pub async fn add_inbox_fragment(&self, modem: String, pdu: Vec<u8>, now: i64) -> StoreResult<i64> {
        self.write(move |conn| {
            Ok(conn
                .prepare_cached(
                    "INSERT INTO inbox_fragments (modem, pdu, received_at) VALUES (?1, ?2, ?3) RETURNING id",
                )?
                .query_row(params![modem, hex::encode(pdu), now], |r| r.get(0))?)
        })
        .await
    }

    /// All fragments still waiting (to rebuild the reassembler after a restart), oldest first.
    pub async fn inbox_fragments(&self) -> StoreResult<Vec<InboxFragment>> {
        self.read(|conn| {
            let rows = conn
                .prepare("SELECT id, modem, pdu, received_at FROM inbox_fragments ORDER BY id")?
                .query_map([], |r| {
                    Ok((
                        r.get::<_, i64>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, String>(2)?,
                        r.get::<_, i64>(3)?,
                    ))
                })?
                .collect::<Result<Vec<_>, _>>()?;
            rows.into_iter()
                .map(|(id, modem, pdu, received_at)| {
                    let pdu = hex::decode(pdu).map_err(|_| StoreError::bad_row("fragment pdu hex"))?;
                    Ok(InboxFragment {
                        id,
                        modem,
                        pdu,
                        received_at,
                    })
                })
                .collect()
        })
        .await
    }

    /// Stores a received SMS, removes the fragments it was built from and writes the `sms:received`
    /// event for its owner, all in one transaction.
    pub async fn store_inbox(
        &self,
        msg: NewInbox,
        consumed_fragments: Vec<i64>,
    ) -> StoreResult<InboxMessage> {
        if let Some(pg) = self.cluster() {
            // The fragments are this node's (its modem received them): they are deleted from the local
            // database once the message is committed centrally. A crash in between only means the
            // reassembled message is stored again from the fragments at the next start.
            let modem = msg.modem.clone();
            let stored = pg.store_inbox(msg).await?;
            self.write(move |conn| {
                let mut delete = conn.prepare_cached("DELETE FROM inbox_fragments WHERE id = ?1")?;
                for id in consumed_fragments {
                    delete.execute([id])?;
                }
                conn.prepare_cached("UPDATE modems SET received = received + 1 WHERE id = ?1")?
                    .execute([&modem])?;
                Ok(())
            })
            .await?;
            return Ok(stored);
        }
        self.write(move |conn| {
            conn.prepare_cached(
                "INSERT INTO inbox (id, account_id, originator, text, modem, received_at, parts, incomplete)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            )?
            .execute(params![
                msg.id.to_string(),
                msg.account_id.map(|a| a.0),
                msg.originator,
                msg.text,
                msg.modem,
                msg.received_at,
                msg.parts,
                msg.incomplete
            ])?;
            let mut delete = conn.prepare_cached("DELETE FROM inbox_fragments WHERE id = ?1")?;
            for id in consumed_fragments {
                delete.execute([id])?;
            }
            conn.prepare_cached("UPDATE modems SET received = received + 1 WHERE id = ?1")?
                .execute([&msg.modem])?;
            let stored = InboxMessage {
                id: msg.id,
                account_id: msg.account_id,
                originator: msg.originator,
                text: msg.text,
                modem: msg.modem,
                received_at: ms_to_datetime(msg.received_at),
                parts: msg.parts,
                incomplete: msg.incomplete,
            };
            if let Some(account) = stored.account_id {
                let data = json!({
                    "inbox_id": stored.id,
                    "originator": stored.originator,
                    "text": stored.text,
                    "modem": stored.modem,
                    "received_at": stored.received_at.format(&time::format_description::well_known::Rfc3339)
                        .unwrap_or_default(),
                    "parts": stored.parts,
                    "incomplete": stored.incomplete,
                });
                emit(
                    conn,
                    Audience::Account(account),
                    EventType::SmsReceived,
                    || data,
                    msg.received_at,
                )?;
            }
            Ok(stored)
        })
        .await
    }

    /// The account that most recently sent a message to `number`: a reply belongs to it.
    pub async fn last_sender_to(&self, number: &str) -> StoreResult<Option<AccountId>> {
        if let Some(pg) = self.cluster() {
            return pg.last_sender_to(number).await;
        }
        let number = number.to_owned();
        self.read(move |conn| {
            Ok(conn
                .prepare_cached(
                    "SELECT account_id FROM messages WHERE recipient = ?1 ORDER BY id DESC LIMIT 1",
                )?
                .query_row([number], |r| r.get::<_, i64>(0))
                .optional()?
                .map(AccountId))
        })
        .await
    }

    /// A page of the inbox visible in `scope`, newest first.
    pub async fn inbox(&self, scope: Scope, filter: InboxFilter) -> StoreResult<Page<InboxMessage>> {
        if let Some(pg) = self.cluster() {
            return pg.inbox(scope, filter).await;
        }
        self.read(move |conn| {
            let limit = filter.limit.clamp(1, 1000);
            let mut args = Vec::new();
            let mut sql = format!("SELECT {INBOX_COLS} FROM inbox WHERE 1 = 1");
            sql.push_str(scope_clause(scope, &mut args));
            if let Some(o) = filter.originator {
                sql.push_str(" AND originator = ?");
                args.push(Value::Text(o));
            }
            if let Some(b) = filter.before {
                sql.push_str(" AND id < ?");
                args.push(Value::Text(b.to_string()));
            }
            sql.push_str(" ORDER BY id DESC LIMIT ?");
            args.push(Value::Integer(i64::from(limit) + 1));
            let mut items = conn
                .prepare(&sql)?
                .query_map(params_from_iter(args), inbox_from_row)?
                .collect::<Result<Vec<_>, _>>()?;
            let next_cursor = if items.len() > limit as usize {
                items.truncate(limit as usize);
                items.last().map(|m| m.id.to_string())
            } else {
                None
            };
            Ok(Page { items, next_cursor })
        })
        .await
    }

    /// One inbox entry, if visible in `scope`.
    pub async fn inbox_item(&self, scope: Scope, id: InboxId) -> StoreResult<Option<InboxMessage>> {
        if let Some(pg) = self.cluster() {
            return pg.inbox_item(scope, id).await;
        }
        self.read(move |conn| load(conn, scope, id)).await
    }

    /// Physically deletes an inbox entry visible in `scope`. False if there is none.
    pub async fn delete_inbox(&self, scope: Scope, id: InboxId) -> StoreResult<bool> {
        if let Some(pg) = self.cluster() {
            return pg.delete_inbox(scope, id).await;
        }
        self.write(move |conn| {
            let mut args = vec![Value::Text(id.to_string())];
            let clause = scope_clause(scope, &mut args);
            Ok(conn.execute(
                &format!("DELETE FROM inbox WHERE id = ?{clause}"),
                params_from_iter(args),
            )? == 1)
        })
        .await
    }
}
