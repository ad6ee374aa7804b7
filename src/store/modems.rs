//! The modems table: identity, routing group, counters and the last reported state, keyed by IMEI.
use rusqlite::{Connection, OptionalExtension, Row, params};
use serde_json::json;

use super::webhooks::{Audience, emit};
use super::{EventType, ModemRecord, Store, StoreResult, ms_to_datetime};

/// A modem's current state as reported by its actor.
#[derive(Debug, Clone, PartialEq)]
pub struct ModemUpdate {
    /// IMEI once known, else name / port.
    pub id: String,
    pub name: Option<String>,
    pub port: Option<String>,
    pub group: Option<String>,
    /// Ready to send.
    pub up: bool,
    /// Full state for display.
    pub state: serde_json::Value,
}

const MODEM_COLS: &str = "id, name, port, route_group, up, sent_parts, received, errors, state, updated_at";

fn modem_from_row(r: &Row<'_>) -> rusqlite::Result<ModemRecord> {
    let state: Option<String> = r.get(8)?;
    Ok(ModemRecord {
        id: r.get(0)?,
        name: r.get(1)?,
        port: r.get(2)?,
        group: r.get(3)?,
        up: r.get(4)?,
        sent_parts: r.get::<_, i64>(5)? as u64,
        received: r.get::<_, i64>(6)? as u64,
        errors: r.get::<_, i64>(7)? as u64,
        state: state
            .and_then(|s| serde_json::from_str(&s).ok())
            .unwrap_or(serde_json::Value::Null),
        updated_at: ms_to_datetime(r.get(9)?),
    })
}

/// Adds `sent` parts and `errors` to a modem's counters (no-op for an unknown modem).
pub(crate) fn count_sends(conn: &Connection, modem: &str, sent: usize, errors: usize) -> StoreResult<()> {
    conn.prepare_cached(
        "UPDATE modems SET sent_parts = sent_parts + ?2, errors = errors + ?3 WHERE id = ?1",
    )?
    .execute(params![modem, sent as i64, errors as i64])?;
    Ok(())
}

impl Store {
    /// Records a modem's state. When it went up or down (or first appeared up) the `modem:up` /
    /// `modem:down` event for operators is written in the same transaction and returned.
    pub async fn upsert_modem(&self, update: ModemUpdate, now: i64) -> StoreResult<Option<EventType>> {
        // On a cluster node the modem row is the node's own, but operators' webhooks are shared: the
        // event goes to PostgreSQL right after the local commit.
        let shared = self.cluster().map(|_| {
            json!({"modem": update.id, "port": update.port, "group": update.group, "state": update.state})
        });
        let event = self.write(move |conn| {
            let was_up: Option<bool> = conn
                .prepare_cached("SELECT up FROM modems WHERE id = ?1")?
                .query_row([&update.id], |r| r.get(0))
                .optional()?;
            conn.prepare_cached(
                "INSERT INTO modems (id, name, port, route_group, up, state, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
                 ON CONFLICT (id) DO UPDATE SET name = coalesce(excluded.name, name),
                     port = coalesce(excluded.port, port), route_group = coalesce(excluded.route_group, route_group),
                     up = excluded.up, state = excluded.state, updated_at = excluded.updated_at",
            )?
            .execute(params![
                update.id,
                update.name,
                update.port,
                update.group,
                update.up,
                update.state.to_string(),
                now
            ])?;
            if let Some(port) = &update.port {
                // The row written while the modem was known only by its name/port gives way to the one
                // keyed by its IMEI.
                conn.prepare_cached(
                    "DELETE FROM modems WHERE port = ?1 AND id != ?2 AND json_extract(state, '$.imei') IS NULL",
                )?
                .execute(params![port, update.id])?;
            }
            let event = match (was_up, update.up) {
                (None, true) | (Some(false), true) => Some(EventType::ModemUp),
                (Some(true), false) => Some(EventType::ModemDown),
                _ => None,
            };
            if let Some(event) = event {
                let data = || {
                    json!({"modem": update.id, "port": update.port, "group": update.group,
                           "state": update.state})
                };
                emit(conn, Audience::Operators, event, data, now)?;
            }
            Ok(event)
        })
        .await?;
        if let (Some(pg), Some(event), Some(data)) = (self.cluster(), event, shared) {
            pg.emit_to_operators(event, data, now).await?;
        }
        Ok(event)
    }

    /// All known modems, by id.
    pub async fn modems(&self) -> StoreResult<Vec<ModemRecord>> {
        self.read(|conn| {
            let rows = conn
                .prepare(&format!("SELECT {MODEM_COLS} FROM modems ORDER BY id"))?
                .query_map([], modem_from_row)?
                .collect::<Result<Vec<_>, _>>()?;
            Ok(rows)
        })
        .await
    }

    /// One modem by id (IMEI) or name.
    pub async fn modem(&self, id: &str) -> StoreResult<Option<ModemRecord>> {
        let id = id.to_owned();
        self.read(move |conn| {
            Ok(conn
                .prepare_cached(&format!(
                    "SELECT {MODEM_COLS} FROM modems WHERE id = ?1 OR name = ?1 LIMIT 1"
                ))?
                .query_row([id], modem_from_row)
                .optional()?)
        })
        .await
    }
}
