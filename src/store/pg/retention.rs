//! Retention and erasure of the shared queue domain on PostgreSQL: the same rules as the SQLite store
//! (finished messages, inbox, unpaired reports, webhook events and idempotency keys older than the
//! retention period; everything of an erased account), in batches so no node's writes wait long.
use super::super::{AccountId, ErasureStep, MessageId, Purged, StoreError, StoreResult};
use super::PgStore;

/// Rows deleted per statement.
const PURGE_BATCH: i64 = 2000;

/// Each purge step: delete at most `$2` rows older than `$1`.
const STEPS: [&str; 5] = [
    // Unfinished messages (queued, sending) are never purged: they are still the cluster's job.
    "DELETE FROM messages WHERE id IN (SELECT id FROM messages WHERE created_at < $1
         AND status NOT IN ('queued', 'sending') LIMIT $2)",
    "DELETE FROM inbox WHERE id IN (SELECT id FROM inbox WHERE received_at < $1 LIMIT $2)",
    "DELETE FROM delivery_reports WHERE id IN (SELECT id FROM delivery_reports WHERE received_at < $1 LIMIT $2)",
    "DELETE FROM webhook_outbox WHERE id IN (SELECT id FROM webhook_outbox WHERE created_at < $1 LIMIT $2)",
    "DELETE FROM idempotency_keys WHERE (account_id, key) IN
         (SELECT account_id, key FROM idempotency_keys WHERE created_at < $1 LIMIT $2)",
];

/// The account's rows, biggest tables first: (table name for the report, statement deleting `$2` rows
/// of account `$1`).
const ERASE_STEPS: [(&str, &str); 5] = [
    (
        "messages",
        "DELETE FROM messages WHERE id IN (SELECT id FROM messages WHERE account_id = $1
             AND status <> 'sending' LIMIT $2)",
    ),
    (
        "inbox",
        "DELETE FROM inbox WHERE id IN (SELECT id FROM inbox WHERE account_id = $1 LIMIT $2)",
    ),
    (
        "webhook_outbox",
        "DELETE FROM webhook_outbox WHERE id IN (SELECT id FROM webhook_outbox WHERE account_id = $1 LIMIT $2)",
    ),
    (
        "webhooks",
        "DELETE FROM webhooks WHERE id IN (SELECT id FROM webhooks WHERE account_id = $1 LIMIT $2)",
    ),
    (
        "idempotency_keys",
        "DELETE FROM idempotency_keys WHERE (account_id, key) IN
             (SELECT account_id, key FROM idempotency_keys WHERE account_id = $1 LIMIT $2)",
    ),
];

impl PgStore {
    /// Deletes everything older than `cutoff` (unix ms) that retention covers. Several nodes may run it
    /// at once: the deletes are idempotent.
    pub async fn purge_older_than(&self, cutoff: i64) -> StoreResult<Purged> {
        let client = self.pool.get().await?;
        let mut purged = Purged::default();
        for (i, sql) in STEPS.iter().enumerate() {
            loop {
                let n = client.execute(*sql, &[&cutoff, &PURGE_BATCH]).await?;
                let counter = match i {
                    0 => &mut purged.messages,
                    1 => &mut purged.inbox,
                    2 => &mut purged.reports,
                    3 => &mut purged.webhook_events,
                    _ => &mut purged.idempotency_keys,
                };
                *counter += n;
                if n < PURGE_BATCH as u64 {
                    break;
                }
            }
        }
        Ok(purged)
    }

    /// Cancels the account's queued messages (wherever claimed: the holder's next step finds them
    /// cancelled).
    pub async fn cancel_queued_of_account(
        &self,
        account: AccountId,
        now: i64,
    ) -> StoreResult<Vec<MessageId>> {
        let client = self.pool.get().await?;
        let rows = client
            .query(
                "UPDATE messages SET status = 'cancelled', next_attempt_at = NULL, updated_at = $2,
                     lease_node = NULL, lease_until = NULL
                 WHERE account_id = $1 AND status = 'queued' RETURNING id",
                &[&account.0, &now],
            )
            .await?;
        rows.iter()
            .map(|r| {
                r.try_get::<_, &str>(0)?
                    .parse()
                    .map_err(|_| StoreError::bad_row("message id"))
            })
            .collect()
    }

    /// One erasure step: a batch of the account's rows, the number of its messages still being sent,
    /// or, when nothing else is left, the account row itself with the tombstone.
    pub async fn erase_account_step(
        &self,
        account: AccountId,
        batch: u32,
        now: i64,
    ) -> StoreResult<ErasureStep> {
        let client = self.pool.get().await?;
        let batch = i64::from(batch.max(1));
        for (table, sql) in ERASE_STEPS {
            let count = client.execute(sql, &[&account.0, &batch]).await?;
            if count > 0 {
                return Ok(ErasureStep::Deleted { table, count });
            }
        }
        let sending: i64 = client
            .query_one(
                "SELECT count(*) FROM messages WHERE account_id = $1 AND status = 'sending'",
                &[&account.0],
            )
            .await?
            .try_get(0)?;
        if sending > 0 {
            return Ok(ErasureStep::WaitingForSends(u64::try_from(sending).unwrap_or(0)));
        }
        drop(client);
        self.finish_erasure(account, now).await
    }
}
