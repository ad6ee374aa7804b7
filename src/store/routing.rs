//! Routing rules edited at run time (panel, API): an ordered list of recipient prefix → modem group,
//! tried before the `[[dispatch.route]]` rules of the config file. The list is replaced as a whole in
//! one transaction, so a reader never sees half an edit.
use rusqlite::params;

use super::{Store, StoreResult};

/// Schema migration: the run-time routing rules (integrator: renumber to the next free version).
pub const V8_ROUTING_RULES: &str = r#"
CREATE TABLE route_rules (
    position    INTEGER PRIMARY KEY,  -- 0-based; the first matching rule wins
    prefix      TEXT NOT NULL,        -- E.164 prefix with '+'
    route_group TEXT NOT NULL,
    updated_at  INTEGER NOT NULL
);
"#;

/// One stored rule: recipients starting with `prefix` go through modem group `group`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct StoredRouteRule {
    pub prefix: String,
    pub group: String,
}

impl Store {
    /// The run-time routing rules in order.
    pub async fn route_rules(&self) -> StoreResult<Vec<StoredRouteRule>> {
        self.read(|conn| {
            let rows = conn
                .prepare_cached("SELECT prefix, route_group FROM route_rules ORDER BY position")?
                .query_map([], |r| {
                    Ok(StoredRouteRule {
                        prefix: r.get(0)?,
                        group: r.get(1)?,
                    })
                })?
                .collect::<Result<Vec<_>, _>>()?;
            Ok(rows)
        })
        .await
    }

    /// Replaces the whole list (validated by the caller) in one transaction.
    pub async fn replace_route_rules(&self, rules: Vec<StoredRouteRule>, now: i64) -> StoreResult<()> {
        self.write(move |conn| {
            conn.execute("DELETE FROM route_rules", [])?;
            let mut insert = conn.prepare_cached(
                "INSERT INTO route_rules (position, prefix, route_group, updated_at) VALUES (?1, ?2, ?3, ?4)",
            )?;
            for (i, r) in rules.iter().enumerate() {
                insert.execute(params![i as i64, r.prefix, r.group, now])?;
            }
            Ok(())
        })
        .await
    }
}
