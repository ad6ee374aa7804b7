//! Webhook subscriptions and the transactional outbox of webhook events.
//!
//! Events are written by [`emit`] inside the same transaction as the state change they report, so an
//! event exists exactly when its change does; the delivery worker reads due rows, POSTs them and marks
//! them delivered or reschedules them (at least once; receivers drop duplicates by event id).
use rusqlite::{Connection, params};
use serde_json::json;

use super::{
    AccountId, EventId, EventType, OutboxId, Store, StoreError, StoreResult, Webhook, WebhookDelivery,
    WebhookId, ms_to_datetime, now_ms,
};

/// A new webhook subscription.
#[derive(Debug, Clone)]
pub struct NewWebhook {
    pub account_id: AccountId,
    pub url: String,
    pub secret: String,
    pub events: Vec<EventType>,
}

pub(super) fn events_to_text(events: &[EventType]) -> String {
    events.iter().map(|e| e.as_str()).collect::<Vec<_>>().join(",")
}

pub(super) fn events_from_text(text: &str) -> Vec<EventType> {
    text.split(',').filter_map(|e| e.parse().ok()).collect()
}

/// Who receives an event.
pub(crate) enum Audience {
    /// The webhooks of one account.
    Account(AccountId),
    /// The webhooks of every admin and technician account (modem events).
    Operators,
}

/// Writes `event` into the outbox for every matching webhook, in the caller's transaction. The payload is
/// `{"id", "type", "created_at", "data"}`; `data` is built only when some webhook wants the event (most
/// sends have none). Returns the number of outbox rows written.
pub(crate) fn emit(
    conn: &Connection,
    audience: Audience,
    event: EventType,
    data: impl FnOnce() -> serde_json::Value,
    now: i64,
) -> StoreResult<usize> {
    let (sql, param): (&str, Option<i64>) = match audience {
        Audience::Account(a) => (
            "SELECT id, account_id, events FROM webhooks WHERE account_id = ?1",
            Some(a.0),
        ),
        Audience::Operators => (
            "SELECT w.id, w.account_id, w.events FROM webhooks w JOIN accounts a ON a.id = w.account_id
             WHERE a.role IN ('admin', 'technician') AND a.disabled = 0",
            None,
        ),
    };
    let mut stmt = conn.prepare_cached(sql)?;
    let map = |r: &rusqlite::Row<'_>| Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?, r.get::<_, String>(2)?));
    let hooks: Vec<(i64, i64, String)> = match param {
        Some(p) => stmt.query_map([p], map)?.collect::<Result<_, _>>()?,
        None => stmt.query_map([], map)?.collect::<Result<_, _>>()?,
    };
    let mut written = 0;
    let mut data = Some(data);
    let mut event_id: Option<(EventId, String)> = None;
    for (webhook, account, events) in hooks {
        if !events_from_text(&events).contains(&event) {
            continue;
        }
        // One event id per event, shared by all its deliveries.
        let (id, payload) = event_id.get_or_insert_with(|| {
            let id = EventId::new();
            let created = ms_to_datetime(now)
                .format(&time::format_description::well_known::Rfc3339)
                .unwrap_or_default();
            let data = data.take().map_or(serde_json::Value::Null, |build| build());
            let payload = json!({"id": id, "type": event.as_str(), "created_at": created, "data": data});
            (id, payload.to_string())
        });
        conn.prepare_cached(
            "INSERT INTO webhook_outbox (event_id, account_id, webhook_id, event_type, payload, created_at,
                                         next_attempt_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6)",
        )?
        .execute(params![
            id.to_string(),
            account,
            webhook,
            event.as_str(),
            &*payload,
            now
        ])?;
        written += 1;
    }
    Ok(written)
}

fn webhook_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Webhook> {
    Ok(Webhook {
        id: WebhookId(r.get(0)?),
        account_id: AccountId(r.get(1)?),
        url: r.get(2)?,
        secret: r.get(3)?,
        events: events_from_text(&r.get::<_, String>(4)?),
        created_at: ms_to_datetime(r.get(5)?),
    })
}

impl Store {
    /// Adds a webhook subscription.
    pub async fn create_webhook(&self, new: NewWebhook) -> StoreResult<Webhook> {
        if let Some(pg) = self.cluster() {
            return pg.create_webhook(new).await;
        }
        self.write(move |conn| {
            let now = now_ms();
            let id = conn.query_row(
                "INSERT INTO webhooks (account_id, url, secret, events, created_at) VALUES (?1, ?2, ?3, ?4, ?5)
                 RETURNING id",
                params![new.account_id.0, new.url, new.secret, events_to_text(&new.events), now],
                |r| r.get::<_, i64>(0),
            )?;
            Ok(Webhook {
                id: WebhookId(id),
                account_id: new.account_id,
                url: new.url,
                secret: new.secret,
                events: new.events,
                created_at: ms_to_datetime(now),
            })
        })
        .await
    }

    /// Webhooks of an account.
    pub async fn webhooks(&self, account: AccountId) -> StoreResult<Vec<Webhook>> {
        if let Some(pg) = self.cluster() {
            return pg.webhooks(account).await;
        }
        self.read(move |conn| {
            let mut stmt = conn.prepare(
                "SELECT id, account_id, url, secret, events, created_at FROM webhooks WHERE account_id = ?1
                 ORDER BY id",
            )?;
            Ok(stmt
                .query_map([account.0], webhook_from_row)?
                .collect::<Result<Vec<_>, _>>()?)
        })
        .await
    }

    /// Deletes a webhook of `account` (and its pending deliveries). False if the account has no such one.
    pub async fn delete_webhook(&self, account: AccountId, id: WebhookId) -> StoreResult<bool> {
        if let Some(pg) = self.cluster() {
            return pg.delete_webhook(account, id).await;
        }
        self.write(move |conn| {
            Ok(conn.execute(
                "DELETE FROM webhooks WHERE id = ?1 AND account_id = ?2",
                params![id.0, account.0],
            )? == 1)
        })
        .await
    }

    /// Deliveries due at `now` (not delivered, not given up, next attempt reached), oldest first.
    pub async fn due_webhooks(&self, now: i64, limit: u32) -> StoreResult<Vec<WebhookDelivery>> {
        if let Some(pg) = self.cluster() {
            return pg.due_webhooks(now, limit).await;
        }
        self.read(move |conn| {
            // The limit is written into the SQL: SQLite re-prepares a statement at every run when `LIMIT`
            // is a bound parameter (the planner uses its value), and this query runs after every batch
            // of events.
            let mut stmt = conn.prepare_cached(&format!(
                "SELECT o.id, o.event_id, o.event_type, o.account_id, o.webhook_id, w.url, w.secret, o.payload,
                        o.attempts, o.created_at
                 FROM webhook_outbox o JOIN webhooks w ON w.id = o.webhook_id
                 WHERE o.delivered_at IS NULL AND o.gave_up_at IS NULL AND o.next_attempt_at <= ?1
                 ORDER BY o.next_attempt_at, o.id LIMIT {limit}"
            ))?;
            let rows = stmt
                .query_map(params![now], |r| {
                    Ok((
                        r.get::<_, i64>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, String>(2)?,
                        r.get::<_, i64>(3)?,
                        r.get::<_, i64>(4)?,
                        r.get::<_, String>(5)?,
                        r.get::<_, String>(6)?,
                        r.get::<_, String>(7)?,
                        r.get::<_, i64>(8)?,
                        r.get::<_, i64>(9)?,
                    ))
                })?
                .collect::<Result<Vec<_>, _>>()?;
            rows.into_iter()
                .map(|(id, event_id, event_type, account, webhook, url, secret, payload, attempts, created)| {
                    Ok(WebhookDelivery {
                        id: OutboxId(id),
                        event_id: event_id.parse().map_err(|_| StoreError::bad_row("outbox event id"))?,
                        event_type: event_type.parse().map_err(|_| StoreError::bad_row("outbox event type"))?,
                        account_id: AccountId(account),
                        webhook_id: WebhookId(webhook),
                        url,
                        secret,
                        payload,
                        attempts: attempts as u32,
                        created_at: ms_to_datetime(created),
                    })
                })
                .collect()
        })
        .await
    }

    /// The earliest `next_attempt_at` of any pending delivery, so the worker knows how long to sleep.
    pub async fn next_webhook_due(&self) -> StoreResult<Option<i64>> {
        if let Some(pg) = self.cluster() {
            return pg.next_webhook_due().await;
        }
        self.read(|conn| {
            Ok(conn.query_row(
                "SELECT min(next_attempt_at) FROM webhook_outbox WHERE delivered_at IS NULL AND gave_up_at IS NULL",
                [],
                |r| r.get::<_, Option<i64>>(0),
            )?)
        })
        .await
    }

    /// Records a successful delivery.
    pub async fn mark_webhook_delivered(&self, id: OutboxId, now: i64) -> StoreResult<()> {
        if let Some(pg) = self.cluster() {
            return pg.mark_webhook_delivered(id, now).await;
        }
        self.write(move |conn| {
            conn.execute(
                "UPDATE webhook_outbox SET delivered_at = ?2, attempts = attempts + 1, last_error = NULL
                 WHERE id = ?1",
                params![id.0, now],
            )?;
            Ok(())
        })
        .await
    }

    /// Records a failed delivery: try again at `next_attempt_at`, or give up when that is `None`.
    pub async fn reschedule_webhook(
        &self,
        id: OutboxId,
        next_attempt_at: Option<i64>,
        error: String,
        now: i64,
    ) -> StoreResult<()> {
        if let Some(pg) = self.cluster() {
            return pg.reschedule_webhook(id, next_attempt_at, error, now).await;
        }
        self.write(move |conn| {
            match next_attempt_at {
                Some(at) => conn.execute(
                    "UPDATE webhook_outbox SET attempts = attempts + 1, next_attempt_at = ?2, last_error = ?3
                     WHERE id = ?1",
                    params![id.0, at, error],
                )?,
                None => conn.execute(
                    "UPDATE webhook_outbox SET attempts = attempts + 1, gave_up_at = ?2, last_error = ?3
                     WHERE id = ?1",
                    params![id.0, now, error],
                )?,
            };
            Ok(())
        })
        .await
    }
}
