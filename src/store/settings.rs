//! Settings changed at run time (from the panel) that outlive a restart: stored as JSON values under a
//! key, on top of the config file's values. Kept in the database so that a backup carries them too.
use rusqlite::{OptionalExtension, params};

use super::{Store, StoreResult};

/// Schema version 7: run-time overrides of settings.
pub(super) const V7_RUNTIME_SETTINGS: &str = r#"
CREATE TABLE runtime_settings (
    key        TEXT PRIMARY KEY,
    value      TEXT NOT NULL,   -- JSON
    updated_at INTEGER NOT NULL,
    updated_by TEXT
);
"#;

impl Store {
    /// The stored JSON value of run-time setting `key`, if one was ever saved.
    pub async fn runtime_setting(&self, key: &'static str) -> StoreResult<Option<String>> {
        self.read(move |conn| {
            Ok(conn
                .prepare_cached("SELECT value FROM runtime_settings WHERE key = ?1")?
                .query_row(params![key], |r| r.get(0))
                .optional()?)
        })
        .await
    }

    /// Saves the JSON value of run-time setting `key` (replacing an earlier one).
    pub async fn put_runtime_setting(
        &self,
        key: &'static str,
        value: String,
        by: Option<String>,
        now: i64,
    ) -> StoreResult<()> {
        self.write(move |conn| {
            conn.prepare_cached(
                "INSERT INTO runtime_settings (key, value, updated_at, updated_by) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at,
                     updated_by = excluded.updated_by",
            )?
            .execute(params![key, value, now, by])?;
            Ok(())
        })
        .await
    }
}
