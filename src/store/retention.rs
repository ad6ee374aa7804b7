//! Retention: data older than `retention.days` is physically deleted, in small batches so the writer
//! never stalls accepted messages behind one huge delete.
use rusqlite::params;

use super::{Store, StoreResult};

/// Schema version 3: indexes the retention sweep needs.
pub(super) const V3_RETENTION_INDEXES: &str = r#"
CREATE INDEX inbox_received ON inbox(received_at);
CREATE INDEX inbox_fragments_received ON inbox_fragments(received_at);
CREATE INDEX webhook_outbox_created ON webhook_outbox(created_at);
CREATE INDEX idempotency_keys_created ON idempotency_keys(created_at);
"#;

/// Rows deleted per write job.
const PURGE_BATCH: i64 = 2000;

/// What one purge removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Purged {
    /// Finished messages (with their parts, attempts, paired reports and subscriptions).
    pub messages: u64,
    pub inbox: u64,
    /// Status reports that never paired with a message.
    pub reports: u64,
    /// Webhook events (delivered, given up or not).
    pub webhook_events: u64,
    /// Idempotency keys.
    pub idempotency_keys: u64,
    /// Fragments of incoming messages that never completed.
    pub fragments: u64,
}

/// Each purge step: a DELETE of at most [`PURGE_BATCH`] rows older than `?1`, limited by `?2`.
const STEPS: [&str; 6] = [
    // Unfinished messages (queued, sending) are never purged: they are still the gateway's job.
    "DELETE FROM messages WHERE id IN (SELECT id FROM messages WHERE created_at < ?1
         AND status NOT IN ('queued', 'sending') LIMIT ?2)",
    "DELETE FROM inbox WHERE id IN (SELECT id FROM inbox WHERE received_at < ?1 LIMIT ?2)",
    "DELETE FROM delivery_reports WHERE id IN (SELECT id FROM delivery_reports WHERE received_at < ?1 LIMIT ?2)",
    "DELETE FROM webhook_outbox WHERE id IN (SELECT id FROM webhook_outbox WHERE created_at < ?1 LIMIT ?2)",
    "DELETE FROM idempotency_keys WHERE (account_id, key) IN
         (SELECT account_id, key FROM idempotency_keys WHERE created_at < ?1 LIMIT ?2)",
    "DELETE FROM inbox_fragments WHERE id IN (SELECT id FROM inbox_fragments WHERE received_at < ?1 LIMIT ?2)",
];

impl Store {
    /// Deletes everything older than `cutoff` (unix ms) that retention covers. The audit log is kept.
    pub async fn purge_older_than(&self, cutoff: i64) -> StoreResult<Purged> {
        let mut purged = Purged::default();
        // In a cluster the shared tables are purged in PostgreSQL; only the node's own fragments are
        // left here (the last step).
        let local_steps = match self.cluster() {
            Some(pg) => {
                purged = pg.purge_older_than(cutoff).await?;
                STEPS.len() - 1
            }
            None => 0,
        };
        for (i, sql) in STEPS.iter().enumerate().skip(local_steps) {
            loop {
                let n = self
                    .write(move |conn| {
                        Ok(conn.prepare_cached(sql)?.execute(params![cutoff, PURGE_BATCH])? as u64)
                    })
                    .await?;
                let counter = match i {
                    0 => &mut purged.messages,
                    1 => &mut purged.inbox,
                    2 => &mut purged.reports,
                    3 => &mut purged.webhook_events,
                    4 => &mut purged.idempotency_keys,
                    _ => &mut purged.fragments,
                };
                *counter += n;
                if n < PURGE_BATCH as u64 {
                    break;
                }
            }
        }
        Ok(purged)
    }
}
