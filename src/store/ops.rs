//! Operational views of the store for monitoring (`/metrics`, the panel's system page, `smsgate
//! status`): queue depth by routing group and the age of the oldest waiting message.
//!
//! Both queries read only unfinished messages through the `messages_unfinished` partial index (their
//! `WHERE` repeats the index's condition word for word, which is what lets SQLite use it), so a scrape
//! costs the size of the queue, not of two years of history.
use super::{Store, StoreResult};

/// Queued and in-flight messages.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QueueStats {
    /// Queued messages per routing group (`None`: any modem), ordered by group.
    pub by_group: Vec<(Option<String>, u64)>,
    /// Messages handed to a modem and not yet answered.
    pub sending: u64,
    /// When the oldest queued message became due (created, or its `send_at`), UTC ms; messages
    /// scheduled for later than `now` are not waiting yet and do not count.
    pub oldest_due_at: Option<i64>,
}

impl QueueStats {
    /// All queued messages.
    pub fn queued(&self) -> u64 {
        self.by_group.iter().map(|(_, n)| n).sum()
    }
}

impl Store {
    /// Queue depth by group, messages in flight, and the oldest due message (at `now`, UTC ms).
    pub async fn queue_stats(&self, now: i64) -> StoreResult<QueueStats> {
        self.read(move |conn| {
            let mut stats = QueueStats::default();
            let mut stmt = conn.prepare_cached(
                "SELECT status, route_group, count(*),
                        min(CASE WHEN coalesce(send_at, 0) <= ?1 THEN max(created_at, coalesce(send_at, 0)) END)
                 FROM messages WHERE status IN ('queued', 'sending')
                 GROUP BY status, route_group ORDER BY route_group",
            )?;
            let mut rows = stmt.query([now])?;
            while let Some(r) = rows.next()? {
                let status: String = r.get(0)?;
                let n = r.get::<_, i64>(2)?.max(0) as u64;
                if status == "sending" {
                    stats.sending += n;
                    continue;
                }
                stats.by_group.push((r.get(1)?, n));
                if let Some(due) = r.get::<_, Option<i64>>(3)? {
                    stats.oldest_due_at = Some(stats.oldest_due_at.map_or(due, |o: i64| o.min(due)));
                }
            }
            Ok(stats)
        })
        .await
    }
}
