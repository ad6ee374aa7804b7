//! Technician settings of modems, by IMEI (so a modem keeps them when it moves to another USB port), and
//! test messages pinned to one modem.
use rusqlite::{Connection, OptionalExtension, Row, params};
use serde::Serialize;
use time::OffsetDateTime;

use super::messages::insert_submission;
use super::{AccountId, NewMessage, Store, StoreResult, Submitted, ms_to_datetime};

/// Schema version 6: per-modem settings, and a message's pinned modem (a technician's test SMS goes
/// through the modem chosen for it, also after a restart).
pub(super) const V6_MODEM_SETTINGS: &str = r#"
CREATE TABLE modem_settings (
    imei          TEXT PRIMARY KEY,
    pin           TEXT,
    smsc          TEXT,
    per_minute    INTEGER,
    daily_quota   INTEGER,
    monthly_quota INTEGER,
    route_group   TEXT,
    updated_at    INTEGER NOT NULL,
    updated_by    TEXT
);

ALTER TABLE messages ADD COLUMN pinned_modem TEXT;
"#;

/// Settings of one modem; `None` keeps the config file's (or `[dispatch]`'s) value.
#[derive(Clone, Default, PartialEq, Eq, Serialize)]
pub struct ModemSettings {
    /// SIM PIN. Stored because it must be entered after every power cycle; never shown (only whether
    /// one is set).
    #[serde(skip)]
    pub pin: Option<String>,
    /// SMSC number.
    pub smsc: Option<String>,
    /// Parts per minute (0 = unlimited).
    pub per_minute: Option<u32>,
    /// Parts per UTC day (0 = unlimited).
    pub daily_quota: Option<u32>,
    /// Parts per UTC month (0 = unlimited).
    pub monthly_quota: Option<u32>,
    /// Routing group.
    pub group: Option<String>,
}

/// The PIN is a secret: never printed.
impl std::fmt::Debug for ModemSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ModemSettings")
            .field("pin", &self.pin.as_ref().map(|_| "<redacted>"))
            .field("smsc", &self.smsc)
            .field("per_minute", &self.per_minute)
            .field("daily_quota", &self.daily_quota)
            .field("monthly_quota", &self.monthly_quota)
            .field("group", &self.group)
            .finish()
    }
}

/// Stored settings of a modem with when and by whom they were last changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StoredModemSettings {
    pub imei: String,
    #[serde(flatten)]
    pub settings: ModemSettings,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
    pub updated_by: Option<String>,
}

fn settings_from_row(r: &Row<'_>) -> rusqlite::Result<StoredModemSettings> {
    Ok(StoredModemSettings {
        imei: r.get(0)?,
        settings: ModemSettings {
            pin: r.get(1)?,
            smsc: r.get(2)?,
            per_minute: r.get(3)?,
            daily_quota: r.get(4)?,
            monthly_quota: r.get(5)?,
            group: r.get(6)?,
        },
        updated_at: ms_to_datetime(r.get(7)?),
        updated_by: r.get(8)?,
    })
}

const SETTINGS_COLS: &str =
    "imei, pin, smsc, per_minute, daily_quota, monthly_quota, route_group, updated_at, updated_by";

fn pin_message(conn: &Connection, submitted: &Submitted, modem: &str) -> StoreResult<()> {
    if let Submitted::Created(messages) = submitted {
        for m in messages {
            conn.prepare_cached("UPDATE messages SET pinned_modem = ?2 WHERE id = ?1")?
                .execute(params![m.id.to_string(), modem])?;
        }
    }
    Ok(())
}

impl Store {
    /// Settings of every modem that has any.
    pub async fn all_modem_settings(&self) -> StoreResult<Vec<StoredModemSettings>> {
        self.read(|conn| {
            let rows = conn
                .prepare(&format!(
                    "SELECT {SETTINGS_COLS} FROM modem_settings ORDER BY imei"
                ))?
                .query_map([], settings_from_row)?
                .collect::<Result<Vec<_>, _>>()?;
            Ok(rows)
        })
        .await
    }

    /// Settings of one modem.
    pub async fn modem_settings(&self, imei: &str) -> StoreResult<Option<StoredModemSettings>> {
        let imei = imei.to_owned();
        self.read(move |conn| {
            Ok(conn
                .prepare_cached(&format!(
                    "SELECT {SETTINGS_COLS} FROM modem_settings WHERE imei = ?1"
                ))?
                .query_row([imei], settings_from_row)
                .optional()?)
        })
        .await
    }

    /// Replaces the settings of a modem (durably, before they are applied).
    pub async fn put_modem_settings(
        &self,
        imei: &str,
        settings: ModemSettings,
        by: Option<String>,
        now: i64,
    ) -> StoreResult<StoredModemSettings> {
        let imei = imei.to_owned();
        self.write(move |conn| {
            let s = &settings;
            conn.prepare_cached(
                "INSERT INTO modem_settings
                     (imei, pin, smsc, per_minute, daily_quota, monthly_quota, route_group, updated_at, updated_by)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
                 ON CONFLICT (imei) DO UPDATE SET pin = excluded.pin, smsc = excluded.smsc,
                     per_minute = excluded.per_minute, daily_quota = excluded.daily_quota,
                     monthly_quota = excluded.monthly_quota, route_group = excluded.route_group,
                     updated_at = excluded.updated_at, updated_by = excluded.updated_by",
            )?
            .execute(params![
                imei,
                s.pin,
                s.smsc,
                s.per_minute,
                s.daily_quota,
                s.monthly_quota,
                s.group,
                now,
                by
            ])?;
            if let Some(group) = &s.group {
                conn.prepare_cached("UPDATE modems SET route_group = ?2 WHERE id = ?1")?
                    .execute(params![imei, group])?;
            }
            Ok(StoredModemSettings {
                imei,
                settings,
                updated_at: ms_to_datetime(now),
                updated_by: by,
            })
        })
        .await
    }

    /// Stores one message that must go through `modem` only (a technician's test SMS), in one
    /// transaction with its pin.
    pub async fn submit_pinned(
        &self,
        account: AccountId,
        message: NewMessage,
        modem: &str,
        now: i64,
    ) -> StoreResult<Submitted> {
        if let Some(pg) = self.cluster() {
            return pg.submit_pinned(account, message, modem, now).await;
        }
        let modem = modem.to_owned();
        self.write(move |conn| {
            let submitted = insert_submission(conn, account, None, vec![message], now)?;
            pin_message(conn, &submitted, &modem)?;
            Ok(submitted)
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{MessageId, NewAccount, NewPart, Role, TextEncoding};

    #[tokio::test]
    async fn settings_round_trip_and_pinned_messages_stay_pinned() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("smsgate.db")).unwrap();
        assert_eq!(store.modem_settings("860000000000001").await.unwrap(), None);
        let settings = ModemSettings {
            pin: Some("2468".into()),
            smsc: Some("+48601000310".into()),
            per_minute: Some(6),
            daily_quota: None,
            monthly_quota: Some(1000),
            group: Some("orange".into()),
        };
        store
            .put_modem_settings("860000000000001", settings.clone(), Some("root".into()), 5_000)
            .await
            .unwrap();
        let got = store.modem_settings("860000000000001").await.unwrap().unwrap();
        assert_eq!(got.settings, settings);
        assert_eq!(got.updated_by.as_deref(), Some("root"));
        let json = serde_json::to_string(&got).unwrap();
        assert!(!json.contains("2468"), "{json}");
        assert!(!format!("{got:?}").contains("2468"));
        let cleared = ModemSettings::default();
        store
            .put_modem_settings("860000000000001", cleared.clone(), None, 6_000)
            .await
            .unwrap();
        assert_eq!(store.all_modem_settings().await.unwrap()[0].settings, cleared);

        let account = store
            .create_account(NewAccount {
                login: "tech".into(),
                password_hash: "h".into(),
                role: Role::Technician,
            })
            .await
            .unwrap()
            .id;
        let message = NewMessage {
            id: MessageId::new(),
            recipient: "+48600100200".into(),
            group: None,
            text: "test".into(),
            encoding: TextEncoding::Gsm7,
            priority: 0,
            send_at: None,
            valid_until: None,
            delivery_report: false,
            client_ref: None,
            parts: vec![NewPart {
                pdu: vec![0, 0x11],
                tpdu_len: 1,
            }],
        };
        store
            .submit_pinned(account, message, "860000000000001", 7_000)
            .await
            .unwrap();
        let queued = store.queued_messages().await.unwrap();
        assert_eq!(queued.len(), 1);
        assert_eq!(queued[0].pinned_modem.as_deref(), Some("860000000000001"));
    }
}
