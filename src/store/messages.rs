//! Outgoing messages: acceptance (with idempotency keys), queries scoped to an account, cancellation,
//! the dispatcher's attempt bookkeeping, expiry, crash recovery and delivery-report pairing.
use std::collections::HashMap;

use rusqlite::types::Value;
use rusqlite::{Connection, OptionalExtension, Row, params, params_from_iter};
use serde_json::json;

use super::webhooks::{Audience, emit};
use super::{
    AccountId, Attempt, EventType, Message, MessageDetail, MessageId, MessagePart, MessageStatus, Page,
    PartStatus, Scope, Store, StoreError, StoreResult, ms_to_datetime,
};
use crate::config::UncertainPolicy;

/// One encoded SMS-SUBMIT part of a new message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewPart {
    /// Whole PDU including the SMSC field.
    pub pdu: Vec<u8>,
    /// TPDU length in octets (the `AT+CMGS` argument).
    pub tpdu_len: usize,
}

/// A message to store at acceptance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewMessage {
    pub id: MessageId,
    pub recipient: String,
    pub group: Option<String>,
    pub text: String,
    pub encoding: super::TextEncoding,
    pub priority: i32,
    /// Unix ms; `None` = now.
    pub send_at: Option<i64>,
    /// Unix ms; `None` = no expiry.
    pub valid_until: Option<i64>,
    pub delivery_report: bool,
    pub client_ref: Option<String>,
    pub parts: Vec<NewPart>,
}

/// An idempotency key with a fingerprint of the request it was first used with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyKey {
    pub key: String,
    pub request_hash: String,
}

/// Outcome of [`Store::submit`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Submitted {
    /// Newly stored.
    Created(Vec<Message>),
    /// The idempotency key was used before with the same request: these are the messages it created.
    Replayed(Vec<MessageId>),
}

/// Filters and paging for [`Store::list_messages`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MessageFilter {
    pub status: Option<MessageStatus>,
    pub recipient: Option<String>,
    pub client_ref: Option<String>,
    /// Created at or after (unix ms).
    pub created_from: Option<i64>,
    /// Created before (unix ms).
    pub created_to: Option<i64>,
    /// Cursor: only messages older than this id (newest first paging).
    pub before: Option<MessageId>,
    /// Page size (clamped to 1..=1000).
    pub limit: u32,
}

/// Outcome of [`Store::cancel_message`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CancelOutcome {
    Cancelled(Box<Message>),
    /// Not visible in the scope.
    NotFound,
    /// Already past the point of no return.
    TooLate(MessageStatus),
}

/// A queued message as the dispatcher needs it at start-up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueuedRow {
    pub id: MessageId,
    pub account_id: AccountId,
    pub priority: i32,
    pub group: Option<String>,
    pub recipient: String,
    pub send_at: Option<i64>,
    pub valid_until: Option<i64>,
    pub attempts: u32,
    pub next_attempt_at: Option<i64>,
    /// Parts still to send.
    pub pending_parts: u32,
    /// Modem that already sent some parts: the rest must go through it too.
    pub pinned_modem: Option<String>,
}

/// A part to hand to the modem.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingPart {
    pub seq: u32,
    pub pdu: Vec<u8>,
    pub tpdu_len: usize,
}

/// A started attempt: the parts still to send, durably marked `sending`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttemptStart {
    pub attempt_id: i64,
    /// Attempt number (1 = first).
    pub attempt_no: u32,
    pub parts: Vec<PendingPart>,
}

/// How an attempt ended, as the dispatcher decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AttemptOutcome {
    /// All parts accepted by the network.
    Sent,
    /// Temporary failure: queued again for `next_attempt_at` (unix ms).
    Retry { next_attempt_at: i64, error: String },
    /// Gave up (permanent error or attempts exhausted).
    Failed { error: String },
    /// The outcome is unknown; not resent.
    Uncertain { error: String },
}

impl AttemptOutcome {
    fn name(&self) -> &'static str {
        match self {
            AttemptOutcome::Sent => "sent",
            AttemptOutcome::Retry { .. } => "retry",
            AttemptOutcome::Failed { .. } => "failed",
            AttemptOutcome::Uncertain { .. } => "uncertain",
        }
    }
}

/// Result of an attempt, to record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttemptEnd {
    pub attempt_id: i64,
    pub message_id: MessageId,
    pub modem: String,
    /// Parts the network accepted in this attempt: (seq, TP-MR).
    pub sent: Vec<(u32, u8)>,
    pub outcome: AttemptOutcome,
    pub now: i64,
}

/// What happened to messages left `sending` by a previous run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Recovered {
    /// Marked `uncertain`.
    pub uncertain: Vec<MessageId>,
    /// Queued again (policy `resend`).
    pub requeued: Vec<MessageId>,
}

/// What a status report says about its part (TP-Status classes, TS 23.040 §9.2.3.15).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReportKind {
    /// Transaction completed: delivered.
    Delivered,
    /// SC still trying.
    Pending,
    /// Permanent error, or temporary error with the SC no longer trying.
    Failed,
}

/// A received SMS-STATUS-REPORT.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusReportIn {
    pub modem: String,
    /// Raw PDU (kept for the record).
    pub pdu: Vec<u8>,
    pub mr: u8,
    /// TP-Recipient-Address as reported (any format).
    pub recipient: Option<String>,
    pub status: u8,
    pub kind: ReportKind,
    pub now: i64,
}

/// Where a status report went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportPaired {
    pub message_id: MessageId,
    pub seq: u32,
    /// The message's status after the report.
    pub status: MessageStatus,
}

pub(crate) const MESSAGE_COLS: &str = "id, account_id, recipient, route_group, text, encoding, status, priority, \
     send_at, valid_until, srr, client_ref, parts, attempts, modem, error, created_at, updated_at";

fn parse_id(text: &str) -> rusqlite::Result<MessageId> {
    text.parse()
        .map_err(|e| rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, Box::new(e)))
}

fn parse_enum<T: std::str::FromStr<Err = super::UnknownValue>>(
    idx: usize,
    text: &str,
) -> rusqlite::Result<T> {
    text.parse()
        .map_err(|e| rusqlite::Error::FromSqlConversionFailure(idx, rusqlite::types::Type::Text, Box::new(e)))
}

pub(crate) fn message_from_row(r: &Row<'_>) -> rusqlite::Result<Message> {
    Ok(Message {
        id: parse_id(&r.get::<_, String>(0)?)?,
        account_id: AccountId(r.get(1)?),
        recipient: r.get(2)?,
        group: r.get(3)?,
        text: r.get(4)?,
        encoding: parse_enum(5, &r.get::<_, String>(5)?)?,
        status: parse_enum(6, &r.get::<_, String>(6)?)?,
        priority: r.get(7)?,
        send_at: r.get::<_, Option<i64>>(8)?.map(ms_to_datetime),
        valid_until: r.get::<_, Option<i64>>(9)?.map(ms_to_datetime),
        delivery_report: r.get(10)?,
        client_ref: r.get(11)?,
        parts: r.get(12)?,
        attempts: r.get(13)?,
        modem: r.get(14)?,
        error: r.get(15)?,
        created_at: ms_to_datetime(r.get(16)?),
        updated_at: ms_to_datetime(r.get(17)?),
    })
}

/// `AND account_id = ?` for a client's scope; the value is pushed onto `args`.
fn scope_clause(scope: Scope, args: &mut Vec<Value>) -> &'static str {
    match scope {
        Scope::All => "",
        Scope::Account(a) => {
            args.push(Value::Integer(a.0));
            " AND account_id = ?"
        }
    }
}

fn load_message(conn: &Connection, scope: Scope, id: MessageId) -> StoreResult<Option<Message>> {
    let mut args = vec![Value::Text(id.to_string())];
    let clause = scope_clause(scope, &mut args);
    let sql = format!("SELECT {MESSAGE_COLS} FROM messages WHERE id = ?{clause}");
    Ok(conn
        .prepare_cached(&sql)?
        .query_row(params_from_iter(args), message_from_row)
        .optional()?)
}

pub(super) fn event_data(m: &Message) -> serde_json::Value {
    json!({
        "message_id": m.id,
        "status": m.status,
        "recipient": m.recipient,
        "client_ref": m.client_ref,
        "parts": m.parts,
        "modem": m.modem,
        "error": m.error,
    })
}

/// Writes the status change event of `m` (by its current status) into the outbox.
fn emit_status(conn: &Connection, m: &Message, now: i64) -> StoreResult<()> {
    let event = match m.status {
        MessageStatus::Sent => EventType::SmsSent,
        MessageStatus::Delivered => EventType::SmsDelivered,
        MessageStatus::Failed | MessageStatus::Expired | MessageStatus::Uncertain => EventType::SmsFailed,
        _ => return Ok(()),
    };
    emit(
        conn,
        Audience::Account(m.account_id),
        event,
        || event_data(m),
        now,
    )?;
    Ok(())
}

/// Sets a message's status (and error) and returns the updated row, if it was in one of `from`. `None`
/// keeps the error on record, except that reaching `sent` clears an earlier attempt's error.
fn transition(
    conn: &Connection,
    id: MessageId,
    from: &[MessageStatus],
    to: MessageStatus,
    error: Option<&str>,
    now: i64,
) -> StoreResult<Option<Message>> {
    let allowed = from
        .iter()
        .map(|s| format!("'{}'", s.as_str()))
        .collect::<Vec<_>>()
        .join(", ");
    let sql = format!(
        "UPDATE messages SET status = ?2,
                error = CASE WHEN ?2 = 'sent' THEN NULL ELSE coalesce(?3, error) END, updated_at = ?4
         WHERE id = ?1 AND status IN ({allowed}) RETURNING {MESSAGE_COLS}"
    );
    Ok(conn
        .prepare_cached(&sql)?
        .query_row(params![id.to_string(), to.as_str(), error, now], message_from_row)
        .optional()?)
}

/// Digits of a phone number, for comparing numbers written in different formats.
fn digits(number: &str) -> String {
    number.chars().filter(char::is_ascii_digit).collect()
}

/// Whether a reported recipient is the number we sent to: the network may report it in national or
/// international format, so the shorter must be a suffix of the longer, and at least
/// [`MIN_MATCH_DIGITS`] long.
pub(super) fn same_number(a: &str, b: &str) -> bool {
    const MIN_MATCH_DIGITS: usize = 6;
    let (a, b) = (digits(a), digits(b));
    let (short, long) = if a.len() <= b.len() { (a, b) } else { (b, a) };
    short.len() >= MIN_MATCH_DIGITS.min(long.len()) && long.ends_with(&short)
}

/// The body of [`Store::submit`], callable inside another write job (the Kannel shim stores its DLR
/// subscription in the same transaction).
pub(super) fn insert_submission(
    conn: &Connection,
    account: AccountId,
    idempotency: Option<IdempotencyKey>,
    messages: Vec<NewMessage>,
    now: i64,
) -> StoreResult<Submitted> {
    if let Some(k) = &idempotency {
        let seen: Option<(String, String)> = conn
            .prepare_cached(
                "SELECT request_hash, message_ids FROM idempotency_keys WHERE account_id = ?1 AND key = ?2",
            )?
            .query_row(params![account.0, k.key], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?;
        if let Some((hash, ids)) = seen {
            if hash != k.request_hash {
                return Err(StoreError::Conflict(
                    "the Idempotency-Key was already used with a different request".into(),
                ));
            }
            let ids: Vec<MessageId> =
                serde_json::from_str(&ids).map_err(|_| StoreError::bad_row("idempotency message ids"))?;
            return Ok(Submitted::Replayed(ids));
        }
    }
    let mut insert_msg = conn.prepare_cached(
        "INSERT INTO messages (id, account_id, recipient, route_group, text, encoding, status, priority,
             send_at, valid_until, srr, client_ref, parts, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'queued', ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?13)",
    )?;
    let mut insert_part = conn.prepare_cached(
        "INSERT INTO message_parts (message_id, seq, pdu, tpdu_len, status) VALUES (?1, ?2, ?3, ?4, 'pending')",
    )?;
    let mut stored = Vec::with_capacity(messages.len());
    for m in messages {
        let id = m.id.to_string();
        insert_msg.execute(params![
            id,
            account.0,
            m.recipient,
            m.group,
            m.text,
            m.encoding.as_str(),
            m.priority,
            m.send_at,
            m.valid_until,
            m.delivery_report,
            m.client_ref,
            m.parts.len() as i64,
            now
        ])?;
        for (i, p) in m.parts.iter().enumerate() {
            insert_part.execute(params![
                id,
                (i + 1) as i64,
                hex::encode(&p.pdu),
                p.tpdu_len as i64
            ])?;
        }
        stored.push(Message {
            id: m.id,
            account_id: account,
            recipient: m.recipient,
            group: m.group,
            text: m.text,
            encoding: m.encoding,
            status: MessageStatus::Queued,
            priority: m.priority,
            send_at: m.send_at.map(ms_to_datetime),
            valid_until: m.valid_until.map(ms_to_datetime),
            delivery_report: m.delivery_report,
            client_ref: m.client_ref,
            parts: m.parts.len() as u32,
            attempts: 0,
            modem: None,
            error: None,
            created_at: ms_to_datetime(now),
            updated_at: ms_to_datetime(now),
        });
    }
    if let Some(k) = idempotency {
        let ids: Vec<MessageId> = stored.iter().map(|m| m.id).collect();
        let ids = serde_json::to_string(&ids).map_err(|_| StoreError::bad_row("message ids"))?;
        conn.prepare_cached(
            "INSERT INTO idempotency_keys (account_id, key, request_hash, message_ids, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5)",
        )?
        .execute(params![account.0, k.key, k.request_hash, ids, now])?;
    }
    Ok(Submitted::Created(stored))
}

/// The class of a TP-Status (TS 23.040 §9.2.3.15), as the codec reads it (reserved values count as
/// failures).
pub fn report_kind(status: u8) -> ReportKind {
    match smsgate_pdu::Status(status).category() {
        smsgate_pdu::StatusCategory::Delivered => ReportKind::Delivered,
        smsgate_pdu::StatusCategory::StillTrying => ReportKind::Pending,
        _ => ReportKind::Failed,
    }
}

/// Applies a status report to its part and, when all parts are delivered (or one failed), to the message
/// with its webhook event. Returns the message's status afterwards.
fn apply_report(
    conn: &Connection,
    id: MessageId,
    seq: u32,
    kind: ReportKind,
    tp_status: u8,
    now: i64,
) -> StoreResult<MessageStatus> {
    let key = id.to_string();
    let part_status = match kind {
        ReportKind::Delivered => PartStatus::Delivered,
        ReportKind::Pending => PartStatus::Sent,
        ReportKind::Failed => PartStatus::Failed,
    };
    conn.prepare_cached(
        "UPDATE message_parts SET status = ?3, report_status = ?4,
             delivered_at = CASE WHEN ?3 = 'delivered' THEN ?5 ELSE delivered_at END
         WHERE message_id = ?1 AND seq = ?2",
    )?
    .execute(params![key, seq, part_status.as_str(), tp_status, now])?;
    let (total, delivered, failed): (u32, u32, u32) = conn
        .prepare_cached(
            "SELECT count(*), sum(status = 'delivered'), sum(status = 'failed') FROM message_parts
             WHERE message_id = ?1",
        )?
        .query_row([&key], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
    let changed = if failed > 0 {
        let error = format!("delivery failed (TP-Status {tp_status:#04x})");
        let from = [MessageStatus::Sent, MessageStatus::Delivered];
        transition(conn, id, &from, MessageStatus::Failed, Some(&error), now)?
    } else if delivered == total {
        transition(
            conn,
            id,
            &[MessageStatus::Sent],
            MessageStatus::Delivered,
            None,
            now,
        )?
    } else {
        None
    };
    if let Some(m) = &changed {
        emit_status(conn, m, now)?;
    }
    Ok(match changed {
        Some(m) => m.status,
        None => load_message(conn, Scope::All, id)?
            .map(|m| m.status)
            .unwrap_or(MessageStatus::Sent),
    })
}

/// Pairs status reports that arrived before this attempt's MRs were recorded (a fast network can report
/// before the dispatcher has written the send): same modem and MR, received since the attempt started,
/// not yet paired, matching recipient. Returns whether any was paired (the message may have changed).
fn pair_early_reports(conn: &Connection, end: &AttemptEnd, recipient: &str) -> StoreResult<bool> {
    let started: Option<i64> = conn
        .prepare_cached("SELECT started_at FROM attempts WHERE id = ?1")?
        .query_row([end.attempt_id], |r| r.get(0))
        .optional()?;
    let Some(started) = started else { return Ok(false) };
    let mut paired = false;
    for (seq, mr) in &end.sent {
        let early: Option<(i64, u8, Option<String>)> = conn
            .prepare_cached(
                "SELECT id, status, recipient FROM delivery_reports
                 WHERE message_id IS NULL AND modem = ?1 AND mr = ?2 AND received_at >= ?3
                 ORDER BY id DESC LIMIT 1",
            )?
            .query_row(params![end.modem, mr, started], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })
            .optional()?;
        let Some((report_id, tp_status, reported_to)) = early else {
            continue;
        };
        if reported_to.as_deref().is_some_and(|r| !same_number(r, recipient)) {
            continue;
        }
        conn.prepare_cached("UPDATE delivery_reports SET message_id = ?2, part_seq = ?3 WHERE id = ?1")?
            .execute(params![report_id, end.message_id.to_string(), seq])?;
        apply_report(
            conn,
            end.message_id,
            *seq,
            report_kind(tp_status),
            tp_status,
            end.now,
        )?;
        paired = true;
    }
    Ok(paired)
}

impl Store {
    /// Stores accepted messages with their parts, atomically, and records the idempotency key. Returns
    /// once committed (durable).
    pub async fn submit(
        &self,
        account: AccountId,
        idempotency: Option<IdempotencyKey>,
        messages: Vec<NewMessage>,
        now: i64,
    ) -> StoreResult<Submitted> {
        if let Some(pg) = self.cluster() {
            return pg.submit(account, idempotency, messages, now).await;
        }
        self.write(move |conn| insert_submission(conn, account, idempotency, messages, now))
            .await
    }

    /// One message, if visible in `scope`.
    pub async fn message(&self, scope: Scope, id: MessageId) -> StoreResult<Option<Message>> {
        if let Some(pg) = self.cluster() {
            return pg.message(scope, id).await;
        }
        self.read(move |conn| load_message(conn, scope, id)).await
    }

    /// Messages by id (those visible in `scope`), in the order of `ids`.
    pub async fn messages_by_ids(&self, scope: Scope, ids: Vec<MessageId>) -> StoreResult<Vec<Message>> {
        if let Some(pg) = self.cluster() {
            return pg.messages_by_ids(scope, ids).await;
        }
        self.read(move |conn| {
            let mut out = Vec::with_capacity(ids.len());
            for id in ids {
                if let Some(m) = load_message(conn, scope, id)? {
                    out.push(m);
                }
            }
            Ok(out)
        })
        .await
    }

    /// A message with its parts and attempts, if visible in `scope`.
    pub async fn message_detail(&self, scope: Scope, id: MessageId) -> StoreResult<Option<MessageDetail>> {
        if let Some(pg) = self.cluster() {
            return pg.message_detail(scope, id).await;
        }
        self.read(move |conn| {
            let Some(message) = load_message(conn, scope, id)? else {
                return Ok(None);
            };
            let key = id.to_string();
            let part_list = conn
                .prepare_cached(
                    "SELECT seq, status, mr, modem, sent_at, delivered_at, report_status FROM message_parts
                     WHERE message_id = ?1 ORDER BY seq",
                )?
                .query_map([&key], |r| {
                    Ok(MessagePart {
                        seq: r.get(0)?,
                        status: parse_enum::<PartStatus>(1, &r.get::<_, String>(1)?)?,
                        mr: r.get(2)?,
                        modem: r.get(3)?,
                        sent_at: r.get::<_, Option<i64>>(4)?.map(ms_to_datetime),
                        delivered_at: r.get::<_, Option<i64>>(5)?.map(ms_to_datetime),
                        report_status: r.get(6)?,
                    })
                })?
                .collect::<Result<Vec<_>, _>>()?;
            let attempt_list = conn
                .prepare_cached(
                    "SELECT modem, started_at, finished_at, outcome, error FROM attempts WHERE message_id = ?1
                     ORDER BY id",
                )?
                .query_map([&key], |r| {
                    Ok(Attempt {
                        modem: r.get(0)?,
                        started_at: ms_to_datetime(r.get(1)?),
                        finished_at: r.get::<_, Option<i64>>(2)?.map(ms_to_datetime),
                        outcome: r.get(3)?,
                        error: r.get(4)?,
                    })
                })?
                .collect::<Result<Vec<_>, _>>()?;
            Ok(Some(MessageDetail {
                message,
                part_list,
                attempt_list,
            }))
        })
        .await
    }

    /// A page of messages visible in `scope`, newest first.
    pub async fn list_messages(&self, scope: Scope, filter: MessageFilter) -> StoreResult<Page<Message>> {
        if let Some(pg) = self.cluster() {
            return pg.list_messages(scope, filter).await;
        }
        self.read(move |conn| {
            let limit = filter.limit.clamp(1, 1000);
            let mut args = Vec::new();
            let mut sql = format!("SELECT {MESSAGE_COLS} FROM messages WHERE 1 = 1");
            sql.push_str(scope_clause(scope, &mut args));
            if let Some(s) = filter.status {
                sql.push_str(" AND status = ?");
                args.push(Value::Text(s.as_str().into()));
            }
            if let Some(r) = filter.recipient {
                sql.push_str(" AND recipient = ?");
                args.push(Value::Text(r));
            }
            if let Some(c) = filter.client_ref {
                sql.push_str(" AND client_ref = ?");
                args.push(Value::Text(c));
            }
            if let Some(t) = filter.created_from {
                sql.push_str(" AND created_at >= ?");
                args.push(Value::Integer(t));
            }
            if let Some(t) = filter.created_to {
                sql.push_str(" AND created_at < ?");
                args.push(Value::Integer(t));
            }
            if let Some(b) = filter.before {
                sql.push_str(" AND id < ?");
                args.push(Value::Text(b.to_string()));
            }
            // One extra row tells whether there is a next page.
            sql.push_str(" ORDER BY id DESC LIMIT ?");
            args.push(Value::Integer(i64::from(limit) + 1));
            let mut items = conn
                .prepare(&sql)?
                .query_map(params_from_iter(args), message_from_row)?
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

    /// Cancels a message that is still queued.
    pub async fn cancel_message(&self, scope: Scope, id: MessageId, now: i64) -> StoreResult<CancelOutcome> {
        if let Some(pg) = self.cluster() {
            return pg.cancel_message(scope, id, now).await;
        }
        self.write(move |conn| {
            let Some(current) = load_message(conn, scope, id)? else {
                return Ok(CancelOutcome::NotFound);
            };
            match transition(
                conn,
                id,
                &[MessageStatus::Queued],
                MessageStatus::Cancelled,
                None,
                now,
            )? {
                Some(m) => Ok(CancelOutcome::Cancelled(Box::new(m))),
                None => Ok(CancelOutcome::TooLate(current.status)),
            }
        })
        .await
    }

    /// Every queued message, oldest first, for the dispatcher at start-up.
    pub async fn queued_messages(&self) -> StoreResult<Vec<QueuedRow>> {
        self.read(|conn| {
            let mut stmt = conn.prepare(
                "SELECT m.id, m.account_id, m.priority, m.route_group, m.recipient, m.send_at, m.valid_until,
                        m.attempts, m.next_attempt_at,
                        (SELECT count(*) FROM message_parts p WHERE p.message_id = m.id AND p.status = 'pending'),
                        coalesce(m.pinned_modem,
                                 (SELECT p.modem FROM message_parts p
                                  WHERE p.message_id = m.id AND p.modem IS NOT NULL LIMIT 1))
                 FROM messages m WHERE m.status = 'queued' ORDER BY m.id",
            )?;
            let rows = stmt
                .query_map([], |r| {
                    Ok(QueuedRow {
                        id: parse_id(&r.get::<_, String>(0)?)?,
                        account_id: AccountId(r.get(1)?),
                        priority: r.get(2)?,
                        group: r.get(3)?,
                        recipient: r.get(4)?,
                        send_at: r.get(5)?,
                        valid_until: r.get(6)?,
                        attempts: r.get(7)?,
                        next_attempt_at: r.get(8)?,
                        pending_parts: r.get(9)?,
                        pinned_modem: r.get(10)?,
                    })
                })?
                .collect::<Result<Vec<_>, _>>()?;
            Ok(rows)
        })
        .await
    }

    /// Parts sent per modem since `since` (unix ms): the start of the rate-limit and quota windows.
    pub async fn sent_parts_since(&self, since: i64) -> StoreResult<HashMap<String, u32>> {
        if let Some(pg) = self.cluster() {
            return pg.sent_parts_since(since).await;
        }
        self.read(move |conn| {
            let mut stmt = conn.prepare(
                "SELECT modem, count(*) FROM message_parts WHERE sent_at >= ?1 AND modem IS NOT NULL GROUP BY modem",
            )?;
            let rows = stmt
                .query_map([since], |r| Ok((r.get::<_, String>(0)?, r.get::<_, u32>(1)?)))?
                .collect::<Result<HashMap<_, _>, _>>()?;
            Ok(rows)
        })
        .await
    }

    /// Start-up recovery: messages a previous run left `sending` had their PDU possibly written. They
    /// become `uncertain` (policy `report`) or `queued` again (policy `resend`); their open attempts are
    /// closed as `interrupted`.
    pub async fn recover_interrupted(&self, policy: UncertainPolicy, now: i64) -> StoreResult<Recovered> {
        if let Some(pg) = self.cluster() {
            return pg.recover_node(policy, now).await;
        }
        self.write(move |conn| {
            let ids: Vec<MessageId> = conn
                .prepare("SELECT id FROM messages WHERE status = 'sending'")?
                .query_map([], |r| parse_id(&r.get::<_, String>(0)?))?
                .collect::<Result<_, _>>()?;
            conn.execute(
                "UPDATE attempts SET finished_at = ?1, outcome = 'interrupted',
                     error = 'the gateway stopped during the send'
                 WHERE finished_at IS NULL",
                [now],
            )?;
            let mut out = Recovered::default();
            for id in ids {
                match policy {
                    UncertainPolicy::Report => {
                        let error = "the gateway stopped during the send; it may or may not have gone out";
                        let to = MessageStatus::Uncertain;
                        if let Some(m) =
                            transition(conn, id, &[MessageStatus::Sending], to, Some(error), now)?
                        {
                            emit_status(conn, &m, now)?;
                        }
                        out.uncertain.push(id);
                    }
                    UncertainPolicy::Resend => {
                        transition(
                            conn,
                            id,
                            &[MessageStatus::Sending],
                            MessageStatus::Queued,
                            None,
                            now,
                        )?;
                        out.requeued.push(id);
                    }
                }
            }
            Ok(out)
        })
        .await
    }

    /// Durably marks a queued message `sending` on `modem` before its PDUs are written, opens an attempt
    /// and returns the parts still to send. `None` when the message is no longer queued (cancelled).
    pub async fn begin_attempt(
        &self,
        id: MessageId,
        modem: String,
        now: i64,
    ) -> StoreResult<Option<AttemptStart>> {
        if let Some(pg) = self.cluster() {
            return pg.begin_attempt(id, modem, now).await;
        }
        self.write(move |conn| {
            let key = id.to_string();
            let attempt_no: Option<u32> = conn
                .prepare_cached(
                    "UPDATE messages SET status = 'sending', modem = ?2, attempts = attempts + 1, updated_at = ?3
                     WHERE id = ?1 AND status = 'queued' RETURNING attempts",
                )?
                .query_row(params![key, modem, now], |r| r.get(0))
                .optional()?;
            let Some(attempt_no) = attempt_no else {
                return Ok(None);
            };
            let attempt_id: i64 = conn
                .prepare_cached("INSERT INTO attempts (message_id, modem, started_at) VALUES (?1, ?2, ?3) RETURNING id")?
                .query_row(params![key, modem, now], |r| r.get(0))?;
            let parts = conn
                .prepare_cached(
                    "SELECT seq, pdu, tpdu_len FROM message_parts WHERE message_id = ?1 AND status = 'pending'
                     ORDER BY seq",
                )?
                .query_map([&key], |r| Ok((r.get::<_, u32>(0)?, r.get::<_, String>(1)?, r.get::<_, i64>(2)?)))?
                .collect::<Result<Vec<_>, _>>()?;
            let parts = parts
                .into_iter()
                .map(|(seq, pdu, len)| {
                    Ok(PendingPart {
                        seq,
                        pdu: hex::decode(pdu).map_err(|_| StoreError::bad_row("part pdu hex"))?,
                        tpdu_len: len as usize,
                    })
                })
                .collect::<StoreResult<Vec<_>>>()?;
            Ok(Some(AttemptStart { attempt_id, attempt_no, parts }))
        })
        .await
    }

    /// Records an attempt's result: sent parts (with their MR), the message's new status and the webhook
    /// event, in one transaction. Returns the updated message.
    pub async fn finish_attempt(&self, end: AttemptEnd) -> StoreResult<Option<Message>> {
        if let Some(pg) = self.cluster() {
            return pg.finish_attempt(end).await;
        }
        self.write(move |conn| {
            let key = end.message_id.to_string();
            let now = end.now;
            {
                let mut part = conn.prepare_cached(
                    "UPDATE message_parts SET status = 'sent', mr = ?3, modem = ?4, sent_at = ?5
                     WHERE message_id = ?1 AND seq = ?2",
                )?;
                for (seq, mr) in &end.sent {
                    part.execute(params![key, seq, mr, end.modem, now])?;
                }
            }
            let failed = usize::from(!matches!(end.outcome, AttemptOutcome::Sent));
            super::modems::count_sends(conn, &end.modem, end.sent.len(), failed)?;
            let error = match &end.outcome {
                AttemptOutcome::Sent => None,
                AttemptOutcome::Retry { error, .. }
                | AttemptOutcome::Failed { error }
                | AttemptOutcome::Uncertain { error } => Some(error.clone()),
            };
            conn.prepare_cached(
                "UPDATE attempts SET finished_at = ?2, outcome = ?3, error = ?4 WHERE id = ?1",
            )?
            .execute(params![end.attempt_id, now, end.outcome.name(), error])?;
            let from = [MessageStatus::Sending];
            let updated = match &end.outcome {
                AttemptOutcome::Sent => {
                    transition(conn, end.message_id, &from, MessageStatus::Sent, None, now)?
                }
                AttemptOutcome::Retry {
                    next_attempt_at,
                    error,
                } => {
                    conn.prepare_cached("UPDATE messages SET next_attempt_at = ?2 WHERE id = ?1")?
                        .execute(params![key, next_attempt_at])?;
                    transition(
                        conn,
                        end.message_id,
                        &from,
                        MessageStatus::Queued,
                        Some(error),
                        now,
                    )?
                }
                AttemptOutcome::Failed { error } => transition(
                    conn,
                    end.message_id,
                    &from,
                    MessageStatus::Failed,
                    Some(error),
                    now,
                )?,
                AttemptOutcome::Uncertain { error } => transition(
                    conn,
                    end.message_id,
                    &from,
                    MessageStatus::Uncertain,
                    Some(error),
                    now,
                )?,
            };
            if let Some(m) = &updated {
                emit_status(conn, m, now)?;
                if m.status == MessageStatus::Sent && pair_early_reports(conn, &end, &m.recipient)? {
                    return load_message(conn, Scope::All, end.message_id);
                }
            }
            Ok(updated)
        })
        .await
    }

    /// Marks queued messages whose validity ended as `expired` (with their events). Returns those changed.
    pub async fn expire_messages(&self, ids: Vec<MessageId>, now: i64) -> StoreResult<Vec<Message>> {
        if let Some(pg) = self.cluster() {
            return pg.expire_messages(ids, now).await;
        }
        self.write(move |conn| {
            let mut out = Vec::new();
            for id in ids {
                let error = Some("validity period ended before it could be sent");
                if let Some(m) = transition(
                    conn,
                    id,
                    &[MessageStatus::Queued],
                    MessageStatus::Expired,
                    error,
                    now,
                )? {
                    emit_status(conn, &m, now)?;
                    out.push(m);
                }
            }
            Ok(out)
        })
        .await
    }

    /// Stores a status report and pairs it with the part it reports on: same modem and MR, matching
    /// recipient, preferring the most recently sent part still waiting for a report (MRs wrap at 256, so
    /// older parts may share the MR). Updates the part and, when all parts are delivered (or one failed),
    /// the message, writing the webhook event in the same transaction.
    pub async fn record_status_report(&self, report: StatusReportIn) -> StoreResult<Option<ReportPaired>> {
        if let Some(pg) = self.cluster() {
            return pg.record_status_report(report).await;
        }
        self.write(move |conn| {
            let now = report.now;
            let candidates: Vec<(String, u32, String, String)> = conn
                .prepare_cached(
                    "SELECT p.message_id, p.seq, m.recipient, p.status FROM message_parts p
                     JOIN messages m ON m.id = p.message_id
                     WHERE p.modem = ?1 AND p.mr = ?2 AND p.sent_at IS NOT NULL
                     ORDER BY p.sent_at DESC, p.message_id DESC LIMIT 32",
                )?
                .query_map(params![report.modem, report.mr], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?
                .collect::<Result<_, _>>()?;
            let matching = |c: &&(String, u32, String, String)| {
                report.recipient.as_deref().is_none_or(|rcpt| same_number(rcpt, &c.2))
            };
            let waiting = PartStatus::Sent.as_str();
            let paired = candidates
                .iter()
                .filter(matching)
                .find(|c| c.3 == waiting)
                .or_else(|| candidates.iter().find(matching));
            let (message_id, seq) = match paired {
                Some((id, seq, _, _)) => (Some(id.clone()), Some(*seq)),
                None => (None, None),
            };
            conn.prepare_cached(
                "INSERT INTO delivery_reports (modem, pdu, received_at, mr, recipient, status, message_id, part_seq)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            )?
            .execute(params![
                report.modem,
                hex::encode(&report.pdu),
                now,
                report.mr,
                report.recipient,
                report.status,
                message_id,
                seq
            ])?;
            let (Some(key), Some(seq)) = (message_id, seq) else {
                return Ok(None);
            };
            let id = parse_id(&key)?;
            let status = apply_report(conn, id, seq, report.kind, report.status, now)?;
            Ok(Some(ReportPaired { message_id: id, seq, status }))
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::same_number;

    #[test]
    fn numbers_match_across_formats() {
        fn check(a: &str, b: &str, expect: bool) {
            assert_eq!(same_number(a, b), expect, "{a} vs {b}");
        }
        check("+48600100200", "+48600100200", true);
        check("+48600100200", "600100200", true);
        check("48600100200", "+48600100200", true);
        check("+48600100200", "+48600100201", false);
        check("+48600100200", "200", false);
        check("12345", "12345", true);
    }
}
