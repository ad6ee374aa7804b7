//! Retention: data older than `retention.days` (audit entries: `retention.audit_days`) is physically
//! deleted, in small batches so the writer never stalls accepted messages behind one huge delete; the
//! pages freed are then handed back to the file system by incremental vacuum, also in small steps.
//!
//! Space: the database runs with `auto_vacuum = INCREMENTAL` (set when the file is created, or converted
//! once by a `VACUUM` at the first start of a build that knows it, see [`super::open_writer`]), so pages
//! freed by a purge or an erasure go to the free list and [`Store::reclaim_free_pages`] moves them to the
//! end of the file and truncates it. `secure_delete` has already zeroed the deleted content.
use rusqlite::{Connection, params};

use super::{Store, StoreResult};

/// Schema version 3: indexes the retention sweep needs.
pub(super) const V3_RETENTION_INDEXES: &str = r#"
CREATE INDEX inbox_received ON inbox(received_at);
CREATE INDEX inbox_fragments_received ON inbox_fragments(received_at);
CREATE INDEX webhook_outbox_created ON webhook_outbox(created_at);
CREATE INDEX idempotency_keys_created ON idempotency_keys(created_at);
"#;

/// Rows deleted per write job. A message takes its part, attempts and reports with it (ON DELETE CASCADE)
/// and every index entry, so one job of 500 costs about 10–20 ms; a message submitted meanwhile waits at
/// most that long for its commit (`benches/purge.rs`: 2000 per job put the median submit at 30–60 ms
/// during a purge).
const PURGE_BATCH: i64 = 500;
/// Free pages handed back per write job (2 MiB with 4 KiB pages): one step costs a few milliseconds, so
/// messages accepted meanwhile wait at most that long for their commit.
pub const VACUUM_STEP_PAGES: u32 = 512;
/// `PRAGMA auto_vacuum` value of incremental mode (sqlite.org/pragma.html#pragma_auto_vacuum).
pub(super) const AUTO_VACUUM_INCREMENTAL: i64 = 2;

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
    /// Audit entries older than `retention.audit_days`.
    pub audit_entries: u64,
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

    /// Deletes audit entries older than `cutoff` (unix ms), in batches; returns how many went.
    pub async fn purge_audit_older_than(&self, cutoff: i64) -> StoreResult<u64> {
        let mut total = 0;
        loop {
            let n = self
                .write(move |conn| {
                    Ok(conn
                        .prepare_cached(
                            "DELETE FROM audit_log WHERE id IN
                                 (SELECT id FROM audit_log WHERE at < ?1 LIMIT ?2)",
                        )?
                        .execute(params![cutoff, PURGE_BATCH])? as u64)
                })
                .await?;
            total += n;
            if n < PURGE_BATCH as u64 {
                return Ok(total);
            }
        }
    }

    /// Hands up to `pages` free pages back to the file system (one incremental-vacuum step inside the
    /// normal group commit) and returns how many free pages are left.
    pub async fn reclaim_free_pages(&self, pages: u32) -> StoreResult<u64> {
        self.write(move |conn| {
            // The pragma frees one page per step of the statement (each step yields an empty row), so it
            // must be stepped to the end; a single execute would free one page only.
            let mut stmt = conn.prepare_cached(&format!("PRAGMA incremental_vacuum({pages})"))?;
            let mut rows = stmt.query([])?;
            while rows.next()?.is_some() {}
            drop(rows);
            free_pages(conn)
        })
        .await
    }

    /// Space of the database: pages in use, free pages, page size and the `auto_vacuum` mode.
    pub async fn space(&self) -> StoreResult<Space> {
        self.read(|conn| {
            Ok(Space {
                page_count: pragma_u64(conn, "page_count")?,
                free_pages: free_pages(conn)?,
                page_size: pragma_u64(conn, "page_size")?,
                auto_vacuum: pragma_u64(conn, "auto_vacuum")?,
            })
        })
        .await
    }
}

/// How much of the database file is used (for the panel, the metrics and tests).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Space {
    /// Pages in the file (used and free).
    pub page_count: u64,
    /// Pages on the free list (reused by later inserts, or returned by incremental vacuum).
    pub free_pages: u64,
    pub page_size: u64,
    /// 0 none, 1 full, 2 incremental.
    pub auto_vacuum: u64,
}

fn pragma_u64(conn: &Connection, name: &str) -> StoreResult<u64> {
    let v: i64 = conn.pragma_query_value(None, name, |r| r.get(0))?;
    Ok(u64::try_from(v).unwrap_or(0))
}

fn free_pages(conn: &Connection) -> StoreResult<u64> {
    pragma_u64(conn, "freelist_count")
}

/// Switches an existing database to incremental auto-vacuum: SQLite only changes the mode of a file with
/// tables by rebuilding it (`VACUUM`). Runs once, at open, before the writer serves anyone; it needs free
/// disk space of about the database's size and takes roughly a second per 100 MB. If it fails (disk
/// full), the database stays as it was and keeps working; freed pages are then reused, not returned.
pub(super) fn convert_to_incremental_vacuum(conn: &Connection) {
    let started = std::time::Instant::now();
    let result = conn
        .pragma_update(None, "auto_vacuum", AUTO_VACUUM_INCREMENTAL)
        .and_then(|()| conn.execute_batch("VACUUM"));
    match result {
        Ok(()) => tracing::info!(
            elapsed_ms = started.elapsed().as_millis() as u64,
            "database converted to incremental auto-vacuum (one-time VACUUM)"
        ),
        Err(e) => tracing::warn!(
            error = %e,
            "cannot convert the database to incremental auto-vacuum; space freed by purges is reused \
             but not returned to the file system"
        ),
    }
}
