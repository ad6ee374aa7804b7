//! The queue domain on PostgreSQL: acceptance, queries, claims with leases, fenced attempts, expiry,
//! takeover of dead nodes' work, delivery reports, inbox and the webhook outbox (claimed by one node at
//! a time). The logic follows the SQLite store statement by statement (same statuses, same events);
//! what is added is the lease on each message.
use std::collections::HashMap;

use serde_json::json;
use tokio_postgres::Transaction;
use tokio_postgres::types::ToSql;

use super::super::messages::{event_data, report_kind, same_number};
use super::super::webhooks::{events_from_text, events_to_text};
use super::super::{
    AccountId, Attempt, AttemptEnd, AttemptOutcome, AttemptStart, CancelOutcome, EventId, EventType,
    IdempotencyKey, InboxFilter, InboxId, InboxMessage, Message, MessageDetail, MessageFilter, MessageId,
    MessagePart, MessageStatus, NewInbox, NewMessage, NewWebhook, OutboxId, Page, PartStatus, PendingPart,
    QueuedRow, Recovered, ReportKind, ReportPaired, Scope, StatusReportIn, StoreError, StoreResult,
    Submitted, Webhook, WebhookDelivery, WebhookId, ms_to_datetime, now_ms,
};
use super::PgStore;
use crate::config::UncertainPolicy;

type Param = Box<dyn ToSql + Sync + Send>;

const MESSAGE_COLS: &str = "id, account_id, recipient, route_group, text, encoding, status, priority, \
     send_at, valid_until, srr, client_ref, parts, attempts, modem, error, created_at, updated_at";

fn parse<T: std::str::FromStr>(what: &str, text: &str) -> StoreResult<T> {
    text.parse()
        .map_err(|_| StoreError::bad_row(format!("{what}: {text:?}")))
}

fn to_u32(v: i32) -> u32 {
    u32::try_from(v).unwrap_or(0)
}

fn message_from_row(r: &tokio_postgres::Row) -> StoreResult<Message> {
    Ok(Message {
        id: parse("message id", r.try_get::<_, &str>(0)?)?,
        account_id: AccountId(r.try_get(1)?),
        recipient: r.try_get(2)?,
        group: r.try_get(3)?,
        text: r.try_get(4)?,
        encoding: parse("encoding", r.try_get::<_, &str>(5)?)?,
        status: parse("status", r.try_get::<_, &str>(6)?)?,
        priority: r.try_get(7)?,
        send_at: r.try_get::<_, Option<i64>>(8)?.map(ms_to_datetime),
        valid_until: r.try_get::<_, Option<i64>>(9)?.map(ms_to_datetime),
        delivery_report: r.try_get(10)?,
        client_ref: r.try_get(11)?,
        parts: to_u32(r.try_get(12)?),
        attempts: to_u32(r.try_get(13)?),
        modem: r.try_get(14)?,
        error: r.try_get(15)?,
        created_at: ms_to_datetime(r.try_get(16)?),
        updated_at: ms_to_datetime(r.try_get(17)?),
    })
}

/// `AND account_id = $n` for a client's scope.
fn scope_clause(scope: Scope, args: &mut Vec<Param>) -> String {
    match scope {
        Scope::All => String::new(),
        Scope::Account(a) => {
            args.push(Box::new(a.0));
            format!(" AND account_id = ${}", args.len())
        }
    }
}

fn refs(args: &[Param]) -> Vec<&(dyn ToSql + Sync)> {
    args.iter().map(|a| a.as_ref() as &(dyn ToSql + Sync)).collect()
}

async fn load_message(tx: &Transaction<'_>, scope: Scope, id: MessageId) -> StoreResult<Option<Message>> {
    let mut args: Vec<Param> = vec![Box::new(id.to_string())];
    let clause = scope_clause(scope, &mut args);
    let sql = format!("SELECT {MESSAGE_COLS} FROM messages WHERE id = $1{clause}");
    tx.query_opt(&sql, &refs(&args))
        .await?
        .map(|r| message_from_row(&r))
        .transpose()
}

/// Writes `event` into the outbox for every webhook of `account` subscribed to it.
async fn emit(
    tx: &Transaction<'_>,
    account: AccountId,
    event: EventType,
    data: serde_json::Value,
    now: i64,
) -> StoreResult<usize> {
    let hooks = tx
        .query(
            "SELECT id, events, account_id FROM webhooks WHERE account_id = $1",
            &[&account.0],
        )
        .await?;
    write_outbox(tx, hooks, event, data, now).await
}

/// Writes `event` for every subscribed webhook among `hooks` (rows of id, events, account id), all
/// deliveries sharing one event id.
async fn write_outbox(
    tx: &Transaction<'_>,
    hooks: Vec<tokio_postgres::Row>,
    event: EventType,
    data: serde_json::Value,
    now: i64,
) -> StoreResult<usize> {
    let mut written = 0;
    let mut event_id: Option<(EventId, String)> = None;
    for h in hooks {
        let webhook: i64 = h.try_get(0)?;
        let account: i64 = h.try_get(2)?;
        if !events_from_text(h.try_get(1)?).contains(&event) {
            continue;
        }
        let (id, payload) = event_id.get_or_insert_with(|| {
            let id = EventId::new();
            let created = ms_to_datetime(now)
                .format(&time::format_description::well_known::Rfc3339)
                .unwrap_or_default();
            let payload = json!({"id": id, "type": event.as_str(), "created_at": created, "data": data});
            (id, payload.to_string())
        });
        tx.execute(
            "INSERT INTO webhook_outbox (event_id, account_id, webhook_id, event_type, payload, created_at,
                                         next_attempt_at)
             VALUES ($1, $2, $3, $4, $5, $6, $6)",
            &[
                &id.to_string(),
                &account,
                &webhook,
                &event.as_str(),
                &&**payload,
                &now,
            ],
        )
        .await?;
        written += 1;
    }
    Ok(written)
}

async fn emit_status(tx: &Transaction<'_>, m: &Message, now: i64) -> StoreResult<()> {
    let event = match m.status {
        MessageStatus::Sent => EventType::SmsSent,
        MessageStatus::Delivered => EventType::SmsDelivered,
        MessageStatus::Failed | MessageStatus::Expired | MessageStatus::Uncertain => EventType::SmsFailed,
        _ => return Ok(()),
    };
    emit(tx, m.account_id, event, event_data(m), now).await?;
    Ok(())
}

/// Whether a status ends the message's life in the queue (its lease is then dropped).
fn is_final(s: MessageStatus) -> bool {
    !matches!(s, MessageStatus::Queued | MessageStatus::Sending)
}

/// Sets a message's status (and error) if it is in one of `from`; a final status drops the lease.
async fn transition(
    tx: &Transaction<'_>,
    id: MessageId,
    from: &[MessageStatus],
    to: MessageStatus,
    error: Option<&str>,
    now: i64,
) -> StoreResult<Option<Message>> {
    let from: Vec<&str> = from.iter().map(|s| s.as_str()).collect();
    let release = if is_final(to) {
        ", lease_node = NULL, lease_until = NULL"
    } else {
        ""
    };
    let sql = format!(
        "UPDATE messages SET status = $2, error = coalesce($3, error), updated_at = $4{release}
         WHERE id = $1 AND status = ANY($5) RETURNING {MESSAGE_COLS}"
    );
    tx.query_opt(&sql, &[&id.to_string(), &to.as_str(), &error, &now, &from])
        .await?
        .map(|r| message_from_row(&r))
        .transpose()
}

async fn apply_report(
    tx: &Transaction<'_>,
    id: MessageId,
    seq: i32,
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
    tx.execute(
        "UPDATE message_parts SET status = $3, report_status = $4,
             delivered_at = CASE WHEN $3 = 'delivered' THEN $5 ELSE delivered_at END
         WHERE message_id = $1 AND seq = $2",
        &[&key, &seq, &part_status.as_str(), &i32::from(tp_status), &now],
    )
    .await?;
    let row = tx
        .query_one(
            "SELECT count(*), count(*) FILTER (WHERE status = 'delivered'),
                    count(*) FILTER (WHERE status = 'failed')
             FROM message_parts WHERE message_id = $1",
            &[&key],
        )
        .await?;
    let (total, delivered, failed): (i64, i64, i64) = (row.try_get(0)?, row.try_get(1)?, row.try_get(2)?);
    let changed = if failed > 0 {
        let error = format!("delivery failed (TP-Status {tp_status:#04x})");
        let from = [MessageStatus::Sent, MessageStatus::Delivered];
        transition(tx, id, &from, MessageStatus::Failed, Some(&error), now).await?
    } else if delivered == total {
        transition(
            tx,
            id,
            &[MessageStatus::Sent],
            MessageStatus::Delivered,
            None,
            now,
        )
        .await?
    } else {
        None
    };
    if let Some(m) = &changed {
        emit_status(tx, m, now).await?;
    }
    Ok(match changed {
        Some(m) => m.status,
        None => load_message(tx, Scope::All, id)
            .await?
            .map(|m| m.status)
            .unwrap_or(MessageStatus::Sent),
    })
}

/// Pairs reports that arrived before the attempt's MRs were recorded (see the SQLite store).
async fn pair_early_reports(tx: &Transaction<'_>, end: &AttemptEnd, recipient: &str) -> StoreResult<()> {
    let started: Option<i64> = tx
        .query_opt(
            "SELECT started_at FROM attempts WHERE id = $1",
            &[&end.attempt_id],
        )
        .await?
        .map(|r| r.try_get(0))
        .transpose()?;
    let Some(started) = started else { return Ok(()) };
    for (seq, mr) in &end.sent {
        let early = tx
            .query_opt(
                "SELECT id, status, recipient FROM delivery_reports
                 WHERE message_id IS NULL AND modem = $1 AND mr = $2 AND received_at >= $3
                 ORDER BY id DESC LIMIT 1",
                &[&end.modem, &i32::from(*mr), &started],
            )
            .await?;
        let Some(early) = early else { continue };
        let report_id: i64 = early.try_get(0)?;
        let tp_status = u8::try_from(early.try_get::<_, Option<i32>>(1)?.unwrap_or(0)).unwrap_or(0);
        let reported_to: Option<String> = early.try_get(2)?;
        if reported_to.as_deref().is_some_and(|r| !same_number(r, recipient)) {
            continue;
        }
        let seq = i32::try_from(*seq).unwrap_or(i32::MAX);
        tx.execute(
            "UPDATE delivery_reports SET message_id = $2, part_seq = $3 WHERE id = $1",
            &[&report_id, &end.message_id.to_string(), &seq],
        )
        .await?;
        apply_report(
            tx,
            end.message_id,
            seq,
            report_kind(tp_status),
            tp_status,
            end.now,
        )
        .await?;
    }
    Ok(())
}

/// The body of [`PgStore::submit`], callable inside another transaction (the Kannel shim stores its DLR
/// subscription in the same one).
pub(super) async fn insert_submission(
    tx: &Transaction<'_>,
    account: AccountId,
    idempotency: Option<IdempotencyKey>,
    messages: Vec<NewMessage>,
    now: i64,
) -> StoreResult<Submitted> {
    if let Some(k) = &idempotency {
        let seen = tx
            .query_opt(
                "SELECT request_hash, message_ids FROM idempotency_keys WHERE account_id = $1 AND key = $2",
                &[&account.0, &k.key],
            )
            .await?;
        if let Some(seen) = seen {
            let hash: String = seen.try_get(0)?;
            if hash != k.request_hash {
                return Err(StoreError::Conflict(
                    "the Idempotency-Key was already used with a different request".into(),
                ));
            }
            let ids: Vec<MessageId> = serde_json::from_str(seen.try_get(1)?)
                .map_err(|_| StoreError::bad_row("idempotency message ids"))?;
            return Ok(Submitted::Replayed(ids));
        }
    }
    let insert_msg = tx
        .prepare(
            "INSERT INTO messages (id, account_id, recipient, route_group, text, encoding, status, priority,
                 send_at, valid_until, srr, client_ref, parts, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, 'queued', $7, $8, $9, $10, $11, $12, $13, $13)",
        )
        .await?;
    let insert_part = tx
        .prepare(
            "INSERT INTO message_parts (message_id, seq, pdu, tpdu_len, status)
             VALUES ($1, $2, $3, $4, 'pending')",
        )
        .await?;
    let mut stored = Vec::with_capacity(messages.len());
    for m in messages {
        let id = m.id.to_string();
        let parts = i32::try_from(m.parts.len()).unwrap_or(i32::MAX);
        tx.execute(
            &insert_msg,
            &[
                &id,
                &account.0,
                &m.recipient,
                &m.group,
                &m.text,
                &m.encoding.as_str(),
                &m.priority,
                &m.send_at,
                &m.valid_until,
                &m.delivery_report,
                &m.client_ref,
                &parts,
                &now,
            ],
        )
        .await?;
        for (i, p) in m.parts.iter().enumerate() {
            let seq = i32::try_from(i + 1).unwrap_or(i32::MAX);
            let len = i32::try_from(p.tpdu_len).unwrap_or(i32::MAX);
            tx.execute(&insert_part, &[&id, &seq, &hex::encode(&p.pdu), &len])
                .await?;
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
        tx.execute(
            "INSERT INTO idempotency_keys (account_id, key, request_hash, message_ids, created_at)
             VALUES ($1, $2, $3, $4, $5)",
            &[&account.0, &k.key, &k.request_hash, &ids, &now],
        )
        .await?;
    }
    Ok(Submitted::Created(stored))
}

fn queued_row(r: &tokio_postgres::Row) -> StoreResult<(QueuedRow, i64)> {
    let row = QueuedRow {
        id: parse("message id", r.try_get::<_, &str>(0)?)?,
        account_id: AccountId(r.try_get(1)?),
        priority: r.try_get(2)?,
        group: r.try_get(3)?,
        recipient: r.try_get(4)?,
        send_at: r.try_get(5)?,
        valid_until: r.try_get(6)?,
        attempts: to_u32(r.try_get(7)?),
        next_attempt_at: r.try_get(8)?,
        pending_parts: u32::try_from(r.try_get::<_, i64>(9)?).unwrap_or(0),
        pinned_modem: r.try_get(10)?,
    };
    Ok((row, r.try_get(11)?))
}

/// A node of the cluster as `smsgate cluster status` shows it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct NodeStatus {
    pub node_id: String,
    pub site: String,
    /// Unix ms of the node's last heartbeat.
    pub heartbeat_at: i64,
    /// Unix ms the node (last) started.
    pub started_at: i64,
    /// The node's modems as it reported them (`[{"id", "group", "ready"}]`).
    pub modems: serde_json::Value,
    /// Messages it holds under a lease (queued or sending).
    pub leased: i64,
    /// Of those, being sent now.
    pub sending: i64,
    /// Build version of the node.
    pub version: String,
}

/// The whole cluster as seen from the shared database.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ClusterStatus {
    /// Unix ms on the database server (the clock leases are compared with is each node's own).
    pub now: i64,
    pub nodes: Vec<NodeStatus>,
    /// Queued messages no node holds.
    pub unclaimed: i64,
    /// Queued messages whose lease has ended (their node is gone or stalled).
    pub expired_leases: i64,
    /// Age in ms of the oldest message queued and due (0 when none): the queue's lag.
    pub oldest_queued_ms: i64,
    /// PostgreSQL replication: (standby name, state, replay lag in ms) as `pg_stat_replication` shows.
    pub replicas: Vec<(String, String, Option<i64>)>,
    /// PostgreSQL schema version.
    pub schema_version: i64,
}

impl PgStore {
    /// Writes an operators' event (`modem:up`, `modem:down`) for the webhooks of every enabled admin and
    /// technician account.
    pub async fn emit_to_operators(
        &self,
        event: EventType,
        data: serde_json::Value,
        now: i64,
    ) -> StoreResult<usize> {
        let mut client = self.pool.get().await?;
        let tx = client.transaction().await?;
        let hooks = tx
            .query(
                "SELECT w.id, w.events, w.account_id FROM webhooks w JOIN accounts a ON a.id = w.account_id
                 WHERE a.role IN ('admin', 'technician') AND NOT a.disabled",
                &[],
            )
            .await?;
        let written = write_outbox(&tx, hooks, event, data, now).await?;
        tx.commit().await?;
        Ok(written)
    }

    /// Stores accepted messages with their parts and the idempotency key, in one transaction.
    pub async fn submit(
        &self,
        account: AccountId,
        idempotency: Option<IdempotencyKey>,
        messages: Vec<NewMessage>,
        now: i64,
    ) -> StoreResult<Submitted> {
        let mut client = self.pool.get().await?;
        let tx = client.transaction().await?;
        let submitted = insert_submission(&tx, account, idempotency, messages, now).await?;
        tx.commit().await?;
        Ok(submitted)
    }

    /// Stores one message that must go through `modem` only (a technician's test SMS), in one
    /// transaction with its pin; only the node that has the modem claims it.
    pub async fn submit_pinned(
        &self,
        account: AccountId,
        message: NewMessage,
        modem: &str,
        now: i64,
    ) -> StoreResult<Submitted> {
        let mut client = self.pool.get().await?;
        let tx = client.transaction().await?;
        let submitted = insert_submission(&tx, account, None, vec![message], now).await?;
        if let Submitted::Created(messages) = &submitted {
            for m in messages {
                tx.execute(
                    "UPDATE messages SET pinned_modem = $2 WHERE id = $1",
                    &[&m.id.to_string(), &modem],
                )
                .await?;
            }
        }
        tx.commit().await?;
        Ok(submitted)
    }

    /// One message, if visible in `scope`.
    pub async fn message(&self, scope: Scope, id: MessageId) -> StoreResult<Option<Message>> {
        let mut client = self.pool.get().await?;
        let tx = client.transaction().await?;
        load_message(&tx, scope, id).await
    }

    /// Messages by id (those visible in `scope`), in the order of `ids`.
    pub async fn messages_by_ids(&self, scope: Scope, ids: Vec<MessageId>) -> StoreResult<Vec<Message>> {
        let mut client = self.pool.get().await?;
        let tx = client.transaction().await?;
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            if let Some(m) = load_message(&tx, scope, id).await? {
                out.push(m);
            }
        }
        Ok(out)
    }

    /// A message with its parts and attempts, if visible in `scope`.
    pub async fn message_detail(&self, scope: Scope, id: MessageId) -> StoreResult<Option<MessageDetail>> {
        let mut client = self.pool.get().await?;
        let tx = client.transaction().await?;
        let Some(message) = load_message(&tx, scope, id).await? else {
            return Ok(None);
        };
        let key = id.to_string();
        let part_list = tx
            .query(
                "SELECT seq, status, mr, modem, sent_at, delivered_at, report_status FROM message_parts
                 WHERE message_id = $1 ORDER BY seq",
                &[&key],
            )
            .await?
            .iter()
            .map(|r| {
                Ok(MessagePart {
                    seq: to_u32(r.try_get(0)?),
                    status: parse("part status", r.try_get::<_, &str>(1)?)?,
                    mr: r.try_get::<_, Option<i32>>(2)?.and_then(|v| u8::try_from(v).ok()),
                    modem: r.try_get(3)?,
                    sent_at: r.try_get::<_, Option<i64>>(4)?.map(ms_to_datetime),
                    delivered_at: r.try_get::<_, Option<i64>>(5)?.map(ms_to_datetime),
                    report_status: r.try_get::<_, Option<i32>>(6)?.and_then(|v| u8::try_from(v).ok()),
                })
            })
            .collect::<StoreResult<Vec<_>>>()?;
        let attempt_list = tx
            .query(
                "SELECT modem, started_at, finished_at, outcome, error FROM attempts WHERE message_id = $1
                 ORDER BY id",
                &[&key],
            )
            .await?
            .iter()
            .map(|r| {
                Ok(Attempt {
                    modem: r.try_get(0)?,
                    started_at: ms_to_datetime(r.try_get(1)?),
                    finished_at: r.try_get::<_, Option<i64>>(2)?.map(ms_to_datetime),
                    outcome: r.try_get(3)?,
                    error: r.try_get(4)?,
                })
            })
            .collect::<StoreResult<Vec<_>>>()?;
        Ok(Some(MessageDetail {
            message,
            part_list,
            attempt_list,
        }))
    }

    /// A page of messages visible in `scope`, newest first.
    pub async fn list_messages(&self, scope: Scope, filter: MessageFilter) -> StoreResult<Page<Message>> {
        let limit = filter.limit.clamp(1, 1000);
        let mut args: Vec<Param> = Vec::new();
        let mut sql = format!("SELECT {MESSAGE_COLS} FROM messages WHERE TRUE");
        sql.push_str(&scope_clause(scope, &mut args));
        let mut add = |sql: &mut String, cond: &str, v: Param| {
            args.push(v);
            sql.push_str(&format!(" AND {cond} ${}", args.len()));
        };
        if let Some(s) = filter.status {
            add(&mut sql, "status =", Box::new(s.as_str().to_owned()));
        }
        if let Some(r) = filter.recipient {
            add(&mut sql, "recipient =", Box::new(r));
        }
        if let Some(c) = filter.client_ref {
            add(&mut sql, "client_ref =", Box::new(c));
        }
        if let Some(t) = filter.created_from {
            add(&mut sql, "created_at >=", Box::new(t));
        }
        if let Some(t) = filter.created_to {
            add(&mut sql, "created_at <", Box::new(t));
        }
        if let Some(b) = filter.before {
            add(&mut sql, "id <", Box::new(b.to_string()));
        }
        args.push(Box::new(i64::from(limit) + 1));
        sql.push_str(&format!(" ORDER BY id DESC LIMIT ${}", args.len()));
        let client = self.pool.get().await?;
        let mut items = client
            .query(&sql, &refs(&args))
            .await?
            .iter()
            .map(message_from_row)
            .collect::<StoreResult<Vec<_>>>()?;
        let next_cursor = if items.len() > limit as usize {
            items.truncate(limit as usize);
            items.last().map(|m| m.id.to_string())
        } else {
            None
        };
        Ok(Page { items, next_cursor })
    }

    /// Cancels a message that is still queued (on whichever node it is claimed: that node's next step
    /// finds it no longer queued).
    pub async fn cancel_message(&self, scope: Scope, id: MessageId, now: i64) -> StoreResult<CancelOutcome> {
        let mut client = self.pool.get().await?;
        let tx = client.transaction().await?;
        let Some(current) = load_message(&tx, scope, id).await? else {
            return Ok(CancelOutcome::NotFound);
        };
        let out = match transition(
            &tx,
            id,
            &[MessageStatus::Queued],
            MessageStatus::Cancelled,
            None,
            now,
        )
        .await?
        {
            Some(m) => CancelOutcome::Cancelled(Box::new(m)),
            None => CancelOutcome::TooLate(current.status),
        };
        tx.commit().await?;
        self.claims().remove(&id);
        Ok(out)
    }

    /// Claims up to `limit` queued messages for this node's modems: those routed to one of `groups` (or
    /// to any modem), due within `horizon_ms`, not pinned to a modem of another node, and not held under
    /// a live lease. Skips rows another node is claiming at this moment (`SKIP LOCKED`).
    pub async fn claim(
        &self,
        groups: &[String],
        modems: &[String],
        limit: u32,
        now: i64,
        horizon_ms: i64,
    ) -> StoreResult<Vec<QueuedRow>> {
        if limit == 0 || modems.is_empty() {
            return Ok(Vec::new());
        }
        let until = now.saturating_add(self.node.lease_ms);
        let horizon = now.saturating_add(horizon_ms);
        let client = self.pool.get().await?;
        let rows = client
            .query(
                "WITH c AS (
                     SELECT m.id FROM messages m
                     WHERE m.status = 'queued'
                       AND (m.lease_node IS NULL OR m.lease_until < $1)
                       AND (m.route_group IS NULL OR m.route_group = ANY($2))
                       AND coalesce(m.send_at, 0) <= $3 AND coalesce(m.next_attempt_at, 0) <= $3
                       AND NOT EXISTS (SELECT 1 FROM message_parts p WHERE p.message_id = m.id
                                       AND p.modem IS NOT NULL AND p.modem <> ALL($4))
                       AND (m.pinned_modem IS NULL OR m.pinned_modem = ANY($4))
                     ORDER BY m.priority DESC, m.id
                     LIMIT $5
                     FOR UPDATE SKIP LOCKED)
                 UPDATE messages m SET lease_node = $6, lease_epoch = m.lease_epoch + 1, lease_until = $7
                 FROM c WHERE m.id = c.id
                 RETURNING m.id, m.account_id, m.priority, m.route_group, m.recipient, m.send_at, m.valid_until,
                     m.attempts, m.next_attempt_at,
                     (SELECT count(*) FROM message_parts p WHERE p.message_id = m.id AND p.status = 'pending'),
                     coalesce(m.pinned_modem,
                              (SELECT p.modem FROM message_parts p WHERE p.message_id = m.id
                               AND p.modem IS NOT NULL LIMIT 1)),
                     m.lease_epoch",
                &[
                    &now,
                    &groups,
                    &horizon,
                    &modems,
                    &i64::from(limit),
                    &self.node.node_id,
                    &until,
                ],
            )
            .await?;
        let mut out = Vec::with_capacity(rows.len());
        let mut claims = self.claims();
        for r in &rows {
            let (row, epoch) = queued_row(r)?;
            claims.insert(row.id, epoch);
            out.push(row);
        }
        drop(claims);
        out.sort_by_key(|r| r.id);
        Ok(out)
    }

    /// Renews this node's leases and its heartbeat row (with its modems); returns how many messages it
    /// holds in the database. Claims the database gave to another node meanwhile are forgotten here, so
    /// their next step is fenced off.
    pub async fn heartbeat(&self, modems: serde_json::Value, now: i64) -> StoreResult<u64> {
        let until = now.saturating_add(self.node.lease_ms);
        let mut client = self.pool.get().await?;
        let tx = client.transaction().await?;
        tx.execute(
            "INSERT INTO cluster_nodes (node_id, site, started_at, heartbeat_at, modems, version)
             VALUES ($1, $2, $3, $3, $4, $5)
             ON CONFLICT (node_id) DO UPDATE SET site = $2, heartbeat_at = $3, modems = $4, version = $5",
            &[
                &self.node.node_id,
                &self.node.site,
                &now,
                &modems.to_string(),
                &env!("CARGO_PKG_VERSION"),
            ],
        )
        .await?;
        // Only what this process still works on is renewed: a message whose record failed (database
        // error mid-send) is forgotten by `finish_attempt`, so its lease lapses and another node settles
        // it (as `uncertain`) instead of it staying `sending` under a lease renewed forever.
        let snapshot: Vec<(MessageId, i64)> = self.claims().iter().map(|(id, e)| (*id, *e)).collect();
        let ids: Vec<String> = snapshot.iter().map(|(id, _)| id.to_string()).collect();
        let held = tx
            .query(
                "UPDATE messages SET lease_until = $2
                 WHERE lease_node = $1 AND status IN ('queued', 'sending') AND id = ANY($3)
                 RETURNING id, lease_epoch",
                &[&self.node.node_id, &until, &ids],
            )
            .await?;
        tx.commit().await?;
        let mut live: HashMap<MessageId, i64> = HashMap::with_capacity(held.len());
        for r in &held {
            live.insert(parse("message id", r.try_get::<_, &str>(0)?)?, r.try_get(1)?);
        }
        // Claims made while this heartbeat ran are not in the snapshot and stay.
        let checked: std::collections::HashSet<MessageId> = snapshot.iter().map(|(id, _)| *id).collect();
        self.claims()
            .retain(|id, epoch| !checked.contains(id) || live.get(id) == Some(epoch));
        Ok(held.len() as u64)
    }

    /// Marks this node started (its row in `cluster_nodes`).
    pub async fn register(&self, now: i64) -> StoreResult<()> {
        let client = self.pool.get().await?;
        client
            .execute(
                "INSERT INTO cluster_nodes (node_id, site, started_at, heartbeat_at, version)
                 VALUES ($1, $2, $3, $3, $4)
                 ON CONFLICT (node_id) DO UPDATE SET site = $2, started_at = $3, heartbeat_at = $3,
                     version = $4",
                &[
                    &self.node.node_id,
                    &self.node.site,
                    &now,
                    &env!("CARGO_PKG_VERSION"),
                ],
            )
            .await?;
        Ok(())
    }

    /// Start-up of this node: what it left `sending` becomes `uncertain` (or queued, by policy) and what
    /// it held queued is released for any node, as the single appliance does after a crash.
    pub async fn recover_node(&self, policy: UncertainPolicy, now: i64) -> StoreResult<Recovered> {
        self.settle_sending(Some(&self.node.node_id), policy, now).await
    }

    /// Takeover: messages left `sending` under a lease that ended (their node died mid-send) become
    /// `uncertain` (or queued, by policy). Queued messages with an ended lease need nothing: any node
    /// claims them.
    pub async fn take_over_expired(&self, policy: UncertainPolicy, now: i64) -> StoreResult<Recovered> {
        self.settle_sending(None, policy, now).await
    }

    /// Expires queued messages whose validity ended while no node held them (e.g. no node has a modem
    /// of their group); claimed ones are expired by their holder's dispatcher.
    pub async fn expire_unclaimed(&self, now: i64) -> StoreResult<Vec<Message>> {
        let mut client = self.pool.get().await?;
        let tx = client.transaction().await?;
        let ids = tx
            .query(
                "SELECT id FROM messages WHERE status = 'queued' AND valid_until <= $1
                   AND (lease_node IS NULL OR lease_until < $1)
                 FOR UPDATE SKIP LOCKED",
                &[&now],
            )
            .await?
            .iter()
            .map(|r| parse::<MessageId>("message id", r.try_get::<_, &str>(0)?))
            .collect::<StoreResult<Vec<_>>>()?;
        let mut out = Vec::new();
        let error = Some("validity period ended before it could be sent");
        for id in ids {
            if let Some(m) = transition(
                &tx,
                id,
                &[MessageStatus::Queued],
                MessageStatus::Expired,
                error,
                now,
            )
            .await?
            {
                emit_status(&tx, &m, now).await?;
                out.push(m);
            }
        }
        tx.commit().await?;
        Ok(out)
    }

    async fn settle_sending(
        &self,
        node: Option<&str>,
        policy: UncertainPolicy,
        now: i64,
    ) -> StoreResult<Recovered> {
        let mut client = self.pool.get().await?;
        let tx = client.transaction().await?;
        let rows = match node {
            Some(n) => {
                tx.execute(
                    "UPDATE messages SET lease_node = NULL, lease_until = NULL
                     WHERE lease_node = $1 AND status = 'queued'",
                    &[&n],
                )
                .await?;
                tx.query(
                    "SELECT id FROM messages WHERE lease_node = $1 AND status = 'sending' FOR UPDATE",
                    &[&n],
                )
                .await?
            }
            None => {
                tx.query(
                    "SELECT id FROM messages WHERE status = 'sending' AND lease_until < $1
                     FOR UPDATE SKIP LOCKED",
                    &[&now],
                )
                .await?
            }
        };
        let ids = rows
            .iter()
            .map(|r| parse::<MessageId>("message id", r.try_get::<_, &str>(0)?))
            .collect::<StoreResult<Vec<_>>>()?;
        let mut out = Recovered::default();
        for id in ids {
            tx.execute(
                "UPDATE attempts SET finished_at = $2, outcome = 'interrupted',
                     error = 'the node stopped during the send'
                 WHERE message_id = $1 AND finished_at IS NULL",
                &[&id.to_string(), &now],
            )
            .await?;
            match policy {
                UncertainPolicy::Report => {
                    let error = "the node stopped during the send; it may or may not have gone out";
                    let to = MessageStatus::Uncertain;
                    if let Some(m) =
                        transition(&tx, id, &[MessageStatus::Sending], to, Some(error), now).await?
                    {
                        emit_status(&tx, &m, now).await?;
                    }
                    out.uncertain.push(id);
                }
                UncertainPolicy::Resend => {
                    tx.execute(
                        "UPDATE messages SET status = 'queued', lease_node = NULL, lease_until = NULL,
                             updated_at = $2
                         WHERE id = $1 AND status = 'sending'",
                        &[&id.to_string(), &now],
                    )
                    .await?;
                    out.requeued.push(id);
                }
            }
        }
        tx.commit().await?;
        Ok(out)
    }

    /// Parts sent per modem since `since` (unix ms).
    pub async fn sent_parts_since(&self, since: i64) -> StoreResult<HashMap<String, u32>> {
        let client = self.pool.get().await?;
        let rows = client
            .query(
                "SELECT modem, count(*) FROM message_parts WHERE sent_at >= $1 AND modem IS NOT NULL
                 GROUP BY modem",
                &[&since],
            )
            .await?;
        rows.iter()
            .map(|r| {
                Ok((
                    r.try_get::<_, String>(0)?,
                    u32::try_from(r.try_get::<_, i64>(1)?).unwrap_or(u32::MAX),
                ))
            })
            .collect()
    }

    /// Marks a message this node holds `sending` on `modem` (fenced by the claim's epoch), opens an
    /// attempt and returns the parts still to send. `None` when the message is no longer queued or no
    /// longer this node's.
    pub async fn begin_attempt(
        &self,
        id: MessageId,
        modem: String,
        now: i64,
    ) -> StoreResult<Option<AttemptStart>> {
        let Some(epoch) = self.epoch_of(id) else {
            return Ok(None);
        };
        let until = now.saturating_add(self.node.lease_ms);
        let key = id.to_string();
        let mut client = self.pool.get().await?;
        let tx = client.transaction().await?;
        let row = tx
            .query_opt(
                "UPDATE messages SET status = 'sending', modem = $2, attempts = attempts + 1, updated_at = $3,
                     lease_until = $6
                 WHERE id = $1 AND status = 'queued' AND lease_node = $4 AND lease_epoch = $5
                 RETURNING attempts",
                &[&key, &modem, &now, &self.node.node_id, &epoch, &until],
            )
            .await?;
        let Some(row) = row else {
            // Cancelled, taken over, or already being sent: nothing to do. A claim that is no longer
            // this node's is forgotten at the next heartbeat.
            return Ok(None);
        };
        let attempt_no = to_u32(row.try_get(0)?);
        let attempt_id: i64 = tx
            .query_one(
                "INSERT INTO attempts (message_id, modem, node, epoch, started_at) VALUES ($1, $2, $3, $4, $5)
                 RETURNING id",
                &[&key, &modem, &self.node.node_id, &epoch, &now],
            )
            .await?
            .try_get(0)?;
        let parts = tx
            .query(
                "SELECT seq, pdu, tpdu_len FROM message_parts WHERE message_id = $1 AND status = 'pending'
                 ORDER BY seq",
                &[&key],
            )
            .await?
            .iter()
            .map(|r| {
                Ok(PendingPart {
                    seq: to_u32(r.try_get(0)?),
                    pdu: hex::decode(r.try_get::<_, &str>(1)?)
                        .map_err(|_| StoreError::bad_row("part pdu hex"))?,
                    tpdu_len: usize::try_from(r.try_get::<_, i32>(2)?).unwrap_or(0),
                })
            })
            .collect::<StoreResult<Vec<_>>>()?;
        tx.commit().await?;
        Ok(Some(AttemptStart {
            attempt_id,
            attempt_no,
            parts,
        }))
    }

    /// Records an attempt's result. The parts' MRs and the attempt are always written (the PDUs did go
    /// out through this node's modem); the message's status only under the epoch this node claimed it
    /// with: a node whose lease was taken over meanwhile changes nothing else (fencing).
    pub async fn finish_attempt(&self, end: AttemptEnd) -> StoreResult<Option<Message>> {
        let id = end.message_id;
        let result = self.record_attempt(end).await;
        if result.is_err() {
            // Not recorded: the message stays `sending`. Giving up the claim lets its lease end, and the
            // takeover makes it `uncertain` (never resent silently).
            self.claims().remove(&id);
        }
        result
    }

    async fn record_attempt(&self, end: AttemptEnd) -> StoreResult<Option<Message>> {
        let epoch = self.epoch_of(end.message_id);
        let key = end.message_id.to_string();
        let now = end.now;
        let mut client = self.pool.get().await?;
        let tx = client.transaction().await?;
        for (seq, mr) in &end.sent {
            let seq = i32::try_from(*seq).unwrap_or(i32::MAX);
            tx.execute(
                "UPDATE message_parts SET status = 'sent', mr = $3, modem = $4, sent_at = $5
                 WHERE message_id = $1 AND seq = $2",
                &[&key, &seq, &i32::from(*mr), &end.modem, &now],
            )
            .await?;
        }
        let error = match &end.outcome {
            AttemptOutcome::Sent => None,
            AttemptOutcome::Retry { error, .. }
            | AttemptOutcome::Failed { error }
            | AttemptOutcome::Uncertain { error } => Some(error.clone()),
        };
        let outcome = match &end.outcome {
            AttemptOutcome::Sent => "sent",
            AttemptOutcome::Retry { .. } => "retry",
            AttemptOutcome::Failed { .. } => "failed",
            AttemptOutcome::Uncertain { .. } => "uncertain",
        };
        tx.execute(
            "UPDATE attempts SET finished_at = $2, outcome = $3, error = $4 WHERE id = $1 AND finished_at IS NULL",
            &[&end.attempt_id, &now, &outcome, &error],
        )
        .await?;
        let holds = match epoch {
            Some(epoch) => tx
                .query_opt(
                    "SELECT 1 FROM messages WHERE id = $1 AND lease_node = $2 AND lease_epoch = $3 FOR UPDATE",
                    &[&key, &self.node.node_id, &epoch],
                )
                .await?
                .is_some(),
            None => false,
        };
        if !holds {
            tx.commit().await?;
            tracing::warn!(msg_id = %end.message_id, "lease lost before the attempt was recorded; status left to the new holder");
            self.claims().remove(&end.message_id);
            return Ok(None);
        }
        let from = [MessageStatus::Sending];
        let updated = match &end.outcome {
            AttemptOutcome::Sent => {
                tx.execute("UPDATE messages SET error = NULL WHERE id = $1", &[&key])
                    .await?;
                transition(&tx, end.message_id, &from, MessageStatus::Sent, None, now).await?
            }
            AttemptOutcome::Retry {
                next_attempt_at,
                error,
            } => {
                // The lease is given up: when the retry is due, any node may claim it, so a temporary
                // failure at this site (operator outage, all modems failing) fails over to another.
                tx.execute(
                    "UPDATE messages SET next_attempt_at = $2, lease_node = NULL, lease_until = NULL
                     WHERE id = $1",
                    &[&key, next_attempt_at],
                )
                .await?;
                transition(
                    &tx,
                    end.message_id,
                    &from,
                    MessageStatus::Queued,
                    Some(error),
                    now,
                )
                .await?
            }
            AttemptOutcome::Failed { error } => {
                transition(
                    &tx,
                    end.message_id,
                    &from,
                    MessageStatus::Failed,
                    Some(error),
                    now,
                )
                .await?
            }
            AttemptOutcome::Uncertain { error } => {
                transition(
                    &tx,
                    end.message_id,
                    &from,
                    MessageStatus::Uncertain,
                    Some(error),
                    now,
                )
                .await?
            }
        };
        let mut result = updated.clone();
        if let Some(m) = &updated {
            emit_status(&tx, m, now).await?;
            if m.status == MessageStatus::Sent {
                pair_early_reports(&tx, &end, &m.recipient).await?;
                result = load_message(&tx, Scope::All, end.message_id).await?;
            }
        }
        tx.commit().await?;
        // Final or given back for a retry: either way no longer this node's.
        self.claims().remove(&end.message_id);
        Ok(result)
    }

    /// Marks queued messages whose validity ended as `expired` (with their events).
    pub async fn expire_messages(&self, ids: Vec<MessageId>, now: i64) -> StoreResult<Vec<Message>> {
        let mut client = self.pool.get().await?;
        let tx = client.transaction().await?;
        let mut out = Vec::new();
        let error = Some("validity period ended before it could be sent");
        for id in &ids {
            if let Some(m) = transition(
                &tx,
                *id,
                &[MessageStatus::Queued],
                MessageStatus::Expired,
                error,
                now,
            )
            .await?
            {
                emit_status(&tx, &m, now).await?;
                out.push(m);
            }
        }
        tx.commit().await?;
        let mut claims = self.claims();
        for id in ids {
            claims.remove(&id);
        }
        Ok(out)
    }

    /// Stores a status report (received by this node's modem) and pairs it with its part, exactly as
    /// the SQLite store does.
    pub async fn record_status_report(&self, report: StatusReportIn) -> StoreResult<Option<ReportPaired>> {
        let now = report.now;
        let mut client = self.pool.get().await?;
        let tx = client.transaction().await?;
        let candidates = tx
            .query(
                "SELECT p.message_id, p.seq, m.recipient, p.status FROM message_parts p
                 JOIN messages m ON m.id = p.message_id
                 WHERE p.modem = $1 AND p.mr = $2 AND p.sent_at IS NOT NULL
                 ORDER BY p.sent_at DESC, p.message_id DESC LIMIT 32",
                &[&report.modem, &i32::from(report.mr)],
            )
            .await?
            .iter()
            .map(|r| {
                Ok((
                    r.try_get::<_, String>(0)?,
                    r.try_get::<_, i32>(1)?,
                    r.try_get::<_, String>(2)?,
                    r.try_get::<_, String>(3)?,
                ))
            })
            .collect::<StoreResult<Vec<_>>>()?;
        let matching = |c: &&(String, i32, String, String)| {
            report
                .recipient
                .as_deref()
                .is_none_or(|rcpt| same_number(rcpt, &c.2))
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
        tx.execute(
            "INSERT INTO delivery_reports (modem, node, pdu, received_at, mr, recipient, status, message_id, part_seq)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            &[
                &report.modem,
                &self.node.node_id,
                &hex::encode(&report.pdu),
                &now,
                &i32::from(report.mr),
                &report.recipient,
                &i32::from(report.status),
                &message_id,
                &seq,
            ],
        )
        .await?;
        let (Some(key), Some(seq)) = (message_id, seq) else {
            tx.commit().await?;
            return Ok(None);
        };
        let id: MessageId = parse("message id", &key)?;
        let status = apply_report(&tx, id, seq, report.kind, report.status, now).await?;
        tx.commit().await?;
        Ok(Some(ReportPaired {
            message_id: id,
            seq: to_u32(seq),
            status,
        }))
    }

    /// Stores a received SMS centrally with its `sms:received` event. The fragments it was built from
    /// live in the receiving node's own database; the caller deletes them after this commit.
    pub async fn store_inbox(&self, msg: NewInbox) -> StoreResult<InboxMessage> {
        let mut client = self.pool.get().await?;
        let tx = client.transaction().await?;
        let parts = i32::try_from(msg.parts).unwrap_or(i32::MAX);
        tx.execute(
            "INSERT INTO inbox (id, account_id, originator, text, modem, node, received_at, parts, incomplete)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            &[
                &msg.id.to_string(),
                &msg.account_id.map(|a| a.0),
                &msg.originator,
                &msg.text,
                &msg.modem,
                &self.node.node_id,
                &msg.received_at,
                &parts,
                &msg.incomplete,
            ],
        )
        .await?;
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
            emit(&tx, account, EventType::SmsReceived, data, msg.received_at).await?;
        }
        tx.commit().await?;
        Ok(stored)
    }

    /// The account that most recently sent a message to `number` (on any node).
    pub async fn last_sender_to(&self, number: &str) -> StoreResult<Option<AccountId>> {
        let client = self.pool.get().await?;
        Ok(client
            .query_opt(
                "SELECT account_id FROM messages WHERE recipient = $1 ORDER BY id DESC LIMIT 1",
                &[&number],
            )
            .await?
            .map(|r| r.try_get(0))
            .transpose()?
            .map(AccountId))
    }

    /// A page of the inbox visible in `scope`, newest first.
    pub async fn inbox(&self, scope: Scope, filter: InboxFilter) -> StoreResult<Page<InboxMessage>> {
        let limit = filter.limit.clamp(1, 1000);
        let mut args: Vec<Param> = Vec::new();
        let mut sql = format!("SELECT {INBOX_COLS} FROM inbox WHERE TRUE");
        sql.push_str(&scope_clause(scope, &mut args));
        if let Some(o) = filter.originator {
            args.push(Box::new(o));
            sql.push_str(&format!(" AND originator = ${}", args.len()));
        }
        if let Some(b) = filter.before {
            args.push(Box::new(b.to_string()));
            sql.push_str(&format!(" AND id < ${}", args.len()));
        }
        args.push(Box::new(i64::from(limit) + 1));
        sql.push_str(&format!(" ORDER BY id DESC LIMIT ${}", args.len()));
        let client = self.pool.get().await?;
        let mut items = client
            .query(&sql, &refs(&args))
            .await?
            .iter()
            .map(inbox_from_row)
            .collect::<StoreResult<Vec<_>>>()?;
        let next_cursor = if items.len() > limit as usize {
            items.truncate(limit as usize);
            items.last().map(|m| m.id.to_string())
        } else {
            None
        };
        Ok(Page { items, next_cursor })
    }

    /// One inbox entry, if visible in `scope`.
    pub async fn inbox_item(&self, scope: Scope, id: InboxId) -> StoreResult<Option<InboxMessage>> {
        let mut args: Vec<Param> = vec![Box::new(id.to_string())];
        let clause = scope_clause(scope, &mut args);
        let client = self.pool.get().await?;
        client
            .query_opt(
                &format!("SELECT {INBOX_COLS} FROM inbox WHERE id = $1{clause}"),
                &refs(&args),
            )
            .await?
            .map(|r| inbox_from_row(&r))
            .transpose()
    }

    /// Deletes an inbox entry visible in `scope`. False if there is none.
    pub async fn delete_inbox(&self, scope: Scope, id: InboxId) -> StoreResult<bool> {
        let mut args: Vec<Param> = vec![Box::new(id.to_string())];
        let clause = scope_clause(scope, &mut args);
        let client = self.pool.get().await?;
        Ok(client
            .execute(&format!("DELETE FROM inbox WHERE id = $1{clause}"), &refs(&args))
            .await?
            == 1)
    }

    /// Adds a webhook subscription (shared by all nodes: events are written wherever they happen).
    pub async fn create_webhook(&self, new: NewWebhook) -> StoreResult<Webhook> {
        let now = now_ms();
        let client = self.pool.get().await?;
        let id: i64 = client
            .query_one(
                "INSERT INTO webhooks (account_id, url, secret, events, created_at) VALUES ($1, $2, $3, $4, $5)
                 RETURNING id",
                &[&new.account_id.0, &new.url, &new.secret, &events_to_text(&new.events), &now],
            )
            .await?
            .try_get(0)?;
        Ok(Webhook {
            id: WebhookId(id),
            account_id: new.account_id,
            url: new.url,
            secret: new.secret,
            events: new.events,
            created_at: ms_to_datetime(now),
        })
    }

    /// Webhooks of an account.
    pub async fn webhooks(&self, account: AccountId) -> StoreResult<Vec<Webhook>> {
        let client = self.pool.get().await?;
        client
            .query(
                "SELECT id, account_id, url, secret, events, created_at FROM webhooks WHERE account_id = $1
                 ORDER BY id",
                &[&account.0],
            )
            .await?
            .iter()
            .map(|r| {
                Ok(Webhook {
                    id: WebhookId(r.try_get(0)?),
                    account_id: AccountId(r.try_get(1)?),
                    url: r.try_get(2)?,
                    secret: r.try_get(3)?,
                    events: events_from_text(r.try_get(4)?),
                    created_at: ms_to_datetime(r.try_get(5)?),
                })
            })
            .collect()
    }

    /// Deletes a webhook of `account`. False if the account has no such one.
    pub async fn delete_webhook(&self, account: AccountId, id: WebhookId) -> StoreResult<bool> {
        let client = self.pool.get().await?;
        Ok(client
            .execute(
                "DELETE FROM webhooks WHERE id = $1 AND account_id = $2",
                &[&id.0, &account.0],
            )
            .await?
            == 1)
    }

    /// Claims deliveries due at `now` for this node (`SKIP LOCKED`, for one lease): each event goes
    /// out from exactly one node at a time; if that node dies, the claim ends and another retries.
    pub async fn due_webhooks(&self, now: i64, limit: u32) -> StoreResult<Vec<WebhookDelivery>> {
        let until = now.saturating_add(self.node.lease_ms);
        let client = self.pool.get().await?;
        let rows = client
            .query(
                "WITH c AS (
                     SELECT id FROM webhook_outbox
                     WHERE delivered_at IS NULL AND gave_up_at IS NULL AND next_attempt_at <= $1
                       AND (claim_until IS NULL OR claim_until < $1)
                     ORDER BY next_attempt_at, id LIMIT $2
                     FOR UPDATE SKIP LOCKED)
                 UPDATE webhook_outbox o SET claim_node = $3, claim_until = $4
                 FROM c, webhooks w WHERE o.id = c.id AND w.id = o.webhook_id
                 RETURNING o.id, o.event_id, o.event_type, o.account_id, o.webhook_id, w.url, w.secret,
                           o.payload, o.attempts, o.created_at, o.next_attempt_at",
                &[&now, &i64::from(limit), &self.node.node_id, &until],
            )
            .await?;
        let mut out = rows
            .iter()
            .map(|r| {
                Ok((
                    r.try_get::<_, i64>(10)?,
                    WebhookDelivery {
                        id: OutboxId(r.try_get(0)?),
                        event_id: parse("outbox event id", r.try_get::<_, &str>(1)?)?,
                        event_type: parse("outbox event type", r.try_get::<_, &str>(2)?)?,
                        account_id: AccountId(r.try_get(3)?),
                        webhook_id: WebhookId(r.try_get(4)?),
                        url: r.try_get(5)?,
                        secret: r.try_get(6)?,
                        payload: r.try_get(7)?,
                        attempts: to_u32(r.try_get(8)?),
                        created_at: ms_to_datetime(r.try_get(9)?),
                    },
                ))
            })
            .collect::<StoreResult<Vec<_>>>()?;
        out.sort_by_key(|(due, d)| (*due, d.id.0));
        Ok(out.into_iter().map(|(_, d)| d).collect())
    }

    /// The earliest moment a pending delivery becomes due (or its claim ends).
    pub async fn next_webhook_due(&self) -> StoreResult<Option<i64>> {
        let client = self.pool.get().await?;
        Ok(client
            .query_one(
                "SELECT min(greatest(next_attempt_at, coalesce(claim_until, 0))) FROM webhook_outbox
                 WHERE delivered_at IS NULL AND gave_up_at IS NULL",
                &[],
            )
            .await?
            .try_get(0)?)
    }

    /// Records a successful delivery.
    pub async fn mark_webhook_delivered(&self, id: OutboxId, now: i64) -> StoreResult<()> {
        let client = self.pool.get().await?;
        client
            .execute(
                "UPDATE webhook_outbox SET delivered_at = $2, attempts = attempts + 1, last_error = NULL,
                     claim_node = NULL, claim_until = NULL
                 WHERE id = $1",
                &[&id.0, &now],
            )
            .await?;
        Ok(())
    }

    /// Records a failed delivery: again at `next_attempt_at`, or give up when that is `None`.
    pub async fn reschedule_webhook(
        &self,
        id: OutboxId,
        next_attempt_at: Option<i64>,
        error: String,
        now: i64,
    ) -> StoreResult<()> {
        let client = self.pool.get().await?;
        match next_attempt_at {
            Some(at) => {
                client
                    .execute(
                        "UPDATE webhook_outbox SET attempts = attempts + 1, next_attempt_at = $2, last_error = $3,
                             claim_node = NULL, claim_until = NULL
                         WHERE id = $1",
                        &[&id.0, &at, &error],
                    )
                    .await?
            }
            None => {
                client
                    .execute(
                        "UPDATE webhook_outbox SET attempts = attempts + 1, gave_up_at = $2, last_error = $3,
                             claim_node = NULL, claim_until = NULL
                         WHERE id = $1",
                        &[&id.0, &now, &error],
                    )
                    .await?
            }
        };
        Ok(())
    }

    /// Nodes, their modems and leases, and the queue's lag, for `smsgate cluster status`.
    pub async fn status(&self, now: i64) -> StoreResult<ClusterStatus> {
        let client = self.pool.get().await?;
        let nodes = client
            .query(
                "SELECT n.node_id, n.site, n.heartbeat_at, n.started_at, n.modems, n.version,
                        (SELECT count(*) FROM messages m WHERE m.lease_node = n.node_id
                             AND m.status IN ('queued', 'sending')),
                        (SELECT count(*) FROM messages m WHERE m.lease_node = n.node_id AND m.status = 'sending')
                 FROM cluster_nodes n ORDER BY n.node_id",
                &[],
            )
            .await?
            .iter()
            .map(|r| {
                Ok(NodeStatus {
                    node_id: r.try_get(0)?,
                    site: r.try_get(1)?,
                    heartbeat_at: r.try_get(2)?,
                    started_at: r.try_get(3)?,
                    modems: serde_json::from_str(r.try_get(4)?).unwrap_or(serde_json::Value::Null),
                    version: r.try_get(5)?,
                    leased: r.try_get(6)?,
                    sending: r.try_get(7)?,
                })
            })
            .collect::<StoreResult<Vec<_>>>()?;
        let q = client
            .query_one(
                "SELECT count(*) FILTER (WHERE lease_node IS NULL),
                        count(*) FILTER (WHERE lease_until < $1),
                        coalesce($1 - min(greatest(created_at, coalesce(send_at, 0), coalesce(next_attempt_at, 0)))
                            FILTER (WHERE coalesce(send_at, 0) <= $1 AND coalesce(next_attempt_at, 0) <= $1), 0)
                 FROM messages WHERE status = 'queued'",
                &[&now],
            )
            .await?;
        let replicas = client
            .query(
                "SELECT coalesce(application_name, client_addr::text, '?'), coalesce(state, '?'),
                        (extract(epoch FROM replay_lag) * 1000)::bigint
                 FROM pg_stat_replication ORDER BY 1",
                &[],
            )
            .await?
            .iter()
            .map(|r| Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?)))
            .collect::<StoreResult<Vec<_>>>()?;
        let schema_version: i32 = client
            .query_one("SELECT coalesce(max(version), 0) FROM smsgate_schema", &[])
            .await?
            .try_get(0)?;
        Ok(ClusterStatus {
            now,
            nodes,
            unclaimed: q.try_get(0)?,
            expired_leases: q.try_get(1)?,
            oldest_queued_ms: q.try_get(2)?,
            replicas,
            schema_version: i64::from(schema_version),
        })
    }
}

const INBOX_COLS: &str = "id, account_id, originator, text, modem, received_at, parts, incomplete";

fn inbox_from_row(r: &tokio_postgres::Row) -> StoreResult<InboxMessage> {
    Ok(InboxMessage {
        id: parse("inbox id", r.try_get::<_, &str>(0)?)?,
        account_id: r.try_get::<_, Option<i64>>(1)?.map(AccountId),
        originator: r.try_get(2)?,
        text: r.try_get(3)?,
        modem: r.try_get(4)?,
        received_at: ms_to_datetime(r.try_get(5)?),
        parts: to_u32(r.try_get(6)?),
        incomplete: r.try_get(7)?,
    })
}
