//! The audit log: logins, failures, configuration, credential and deletion events.
use rusqlite::params;

use super::{AccountId, AuditEntry, Store, StoreResult, ms_to_datetime};

/// A new audit record.
#[derive(Debug, Clone, Default)]
pub struct NewAuditEntry {
    /// Login of who acted, `None` for the system.
    pub actor: Option<String>,
    /// Account the action concerns.
    pub account_id: Option<AccountId>,
    pub source_ip: Option<String>,
    /// Short machine-readable action name, e.g. `login.failed`, `account.erased`.
    pub action: String,
    /// Free-form details (never passwords or message bodies).
    pub details: Option<String>,
}

impl Store {
    /// Appends an audit record at `now` (unix ms).
    pub async fn audit(&self, entry: NewAuditEntry, now: i64) -> StoreResult<()> {
        self.write(move |conn| {
            conn.prepare_cached(
                "INSERT INTO audit_log (at, actor, account_id, source_ip, action, details)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )?
            .execute(params![
                now,
                entry.actor,
                entry.account_id.map(|a| a.0),
                entry.source_ip,
                entry.action,
                entry.details
            ])?;
            Ok(())
        })
        .await
    }

    /// Audit records, newest first, older than the entry id `before` if given.
    pub async fn audit_log(&self, before: Option<i64>, limit: u32) -> StoreResult<Vec<AuditEntry>> {
        self.read(move |conn| {
            let mut stmt = conn.prepare(
                "SELECT id, at, actor, account_id, source_ip, action, details FROM audit_log
                 WHERE id < ?1 ORDER BY id DESC LIMIT ?2",
            )?;
            let rows = stmt
                .query_map(params![before.unwrap_or(i64::MAX), limit], |r| {
                    Ok(AuditEntry {
                        id: r.get(0)?,
                        at: ms_to_datetime(r.get(1)?),
                        actor: r.get(2)?,
                        account_id: r.get::<_, Option<i64>>(3)?.map(AccountId),
                        source_ip: r.get(4)?,
                        action: r.get(5)?,
                        details: r.get(6)?,
                    })
                })?
                .collect::<Result<Vec<_>, _>>()?;
            Ok(rows)
        })
        .await
    }
}
