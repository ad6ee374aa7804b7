//! Versioned schema migrations. The database's `user_version` records how far it is migrated; a new
//! migration is appended to [`MIGRATIONS`], never edited once released.
use rusqlite::Connection;
use rusqlite_migration::{M, Migrations};

use super::StoreResult;

/// Version 1: the whole first schema. All times are UTC unix milliseconds.
const V1: &str = r#"
CREATE TABLE accounts (
    id            INTEGER PRIMARY KEY,
    login         TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    role          TEXT NOT NULL CHECK (role IN ('admin', 'technician', 'client')),
    disabled      INTEGER NOT NULL DEFAULT 0,
    created_at    INTEGER NOT NULL
);

CREATE TABLE api_tokens (
    id           INTEGER PRIMARY KEY,
    account_id   INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    token_hash   TEXT NOT NULL UNIQUE,
    name         TEXT NOT NULL,
    scopes       TEXT NOT NULL DEFAULT '',
    expires_at   INTEGER,
    revoked      INTEGER NOT NULL DEFAULT 0,
    created_at   INTEGER NOT NULL
);
CREATE INDEX api_tokens_account ON api_tokens(account_id);

CREATE TABLE messages (
    id              TEXT PRIMARY KEY,
    account_id      INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    recipient       TEXT NOT NULL,
    route_group     TEXT,
    text            TEXT NOT NULL,
    encoding        TEXT NOT NULL,
    status          TEXT NOT NULL CHECK (status IN ('queued', 'sending', 'sent', 'delivered', 'failed',
                                                     'expired', 'cancelled', 'uncertain')),
    priority        INTEGER NOT NULL DEFAULT 0,
    send_at         INTEGER,
    valid_until     INTEGER,
    srr             INTEGER NOT NULL DEFAULT 0,
    client_ref      TEXT,
    parts           INTEGER NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER,
    modem           TEXT,
    error           TEXT,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL
);
-- UUID v7 ids grow with time: (account_id, id) pages an account's messages in creation order.
CREATE INDEX messages_account_id ON messages(account_id, id);
CREATE INDEX messages_unfinished ON messages(status) WHERE status IN ('queued', 'sending');
CREATE INDEX messages_created ON messages(created_at);
-- Replies: who last wrote to this number owns the answer.
CREATE INDEX messages_recipient ON messages(recipient, id);

-- One idempotency key covers one submission (possibly many recipients). The request fingerprint lets a
-- replay with a different body be refused instead of silently answered with the first result.
CREATE TABLE idempotency_keys (
    account_id   INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    key          TEXT NOT NULL,
    request_hash TEXT NOT NULL,
    message_ids  TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    PRIMARY KEY (account_id, key)
) WITHOUT ROWID;

CREATE TABLE message_parts (
    message_id    TEXT NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
    seq           INTEGER NOT NULL,
    pdu           TEXT NOT NULL,
    tpdu_len      INTEGER NOT NULL,
    status        TEXT NOT NULL CHECK (status IN ('pending', 'sent', 'delivered', 'failed')),
    mr            INTEGER,
    modem         TEXT,
    sent_at       INTEGER,
    delivered_at  INTEGER,
    report_status INTEGER,
    PRIMARY KEY (message_id, seq)
) WITHOUT ROWID;
-- Pairing a status report: (modem, MR) then the most recent send.
CREATE INDEX message_parts_mr ON message_parts(modem, mr, sent_at) WHERE mr IS NOT NULL;

CREATE TABLE attempts (
    id          INTEGER PRIMARY KEY,
    message_id  TEXT NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
    modem       TEXT NOT NULL,
    started_at  INTEGER NOT NULL,
    finished_at INTEGER,
    outcome     TEXT,
    error       TEXT
);
CREATE INDEX attempts_message ON attempts(message_id);

CREATE TABLE delivery_reports (
    id          INTEGER PRIMARY KEY,
    modem       TEXT NOT NULL,
    pdu         TEXT NOT NULL,
    received_at INTEGER NOT NULL,
    mr          INTEGER,
    recipient   TEXT,
    status      INTEGER,
    message_id  TEXT REFERENCES messages(id) ON DELETE CASCADE,
    part_seq    INTEGER
);
CREATE INDEX delivery_reports_message ON delivery_reports(message_id);
CREATE INDEX delivery_reports_received ON delivery_reports(received_at);

CREATE TABLE inbox (
    id          TEXT PRIMARY KEY,
    account_id  INTEGER REFERENCES accounts(id) ON DELETE CASCADE,
    originator  TEXT NOT NULL,
    text        TEXT NOT NULL,
    modem       TEXT NOT NULL,
    received_at INTEGER NOT NULL,
    parts       INTEGER NOT NULL,
    incomplete  INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX inbox_account_id ON inbox(account_id, id);

-- Received parts of concatenated messages still waiting for their siblings: kept durably so that the
-- modem can delete them from the SIM at once and a restart loses nothing.
CREATE TABLE inbox_fragments (
    id          INTEGER PRIMARY KEY,
    modem       TEXT NOT NULL,
    pdu         TEXT NOT NULL,
    received_at INTEGER NOT NULL
);

CREATE TABLE modems (
    id           TEXT PRIMARY KEY,        -- the IMEI once known
    name         TEXT,
    port         TEXT,
    route_group  TEXT,
    sent_parts   INTEGER NOT NULL DEFAULT 0,
    received     INTEGER NOT NULL DEFAULT 0,
    errors       INTEGER NOT NULL DEFAULT 0,
    up           INTEGER NOT NULL DEFAULT 0,
    state        TEXT,
    updated_at   INTEGER NOT NULL
);

CREATE TABLE webhooks (
    id         INTEGER PRIMARY KEY,
    account_id INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    url        TEXT NOT NULL,
    secret     TEXT NOT NULL,
    events     TEXT NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE INDEX webhooks_account ON webhooks(account_id);

CREATE TABLE webhook_outbox (
    id              INTEGER PRIMARY KEY,
    event_id        TEXT NOT NULL,
    account_id      INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    webhook_id      INTEGER NOT NULL REFERENCES webhooks(id) ON DELETE CASCADE,
    event_type      TEXT NOT NULL,
    payload         TEXT NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    created_at      INTEGER NOT NULL,
    next_attempt_at INTEGER NOT NULL,
    delivered_at    INTEGER,
    gave_up_at      INTEGER,
    last_error      TEXT,
    UNIQUE (event_id, webhook_id)
);
CREATE INDEX webhook_outbox_due ON webhook_outbox(next_attempt_at)
    WHERE delivered_at IS NULL AND gave_up_at IS NULL;

CREATE TABLE audit_log (
    id         INTEGER PRIMARY KEY,
    at         INTEGER NOT NULL,
    actor      TEXT,
    account_id INTEGER,
    source_ip  TEXT,
    action     TEXT NOT NULL,
    details    TEXT
);
CREATE INDEX audit_log_at ON audit_log(at);
"#;

const MIGRATION_LIST: &[M<'static>] = &[
    M::up(V1),
    M::up(super::kannel::V2_KANNEL_DLR),
    M::up(super::retention::V3_RETENTION_INDEXES),
    M::up(super::stages::V4_ACCOUNT_STAGES),
    M::up(super::erasure::V5_ERASURE),
    M::up(super::modem_settings::V6_MODEM_SETTINGS),
    M::up(super::settings::V7_RUNTIME_SETTINGS),
    M::up(super::routing::V8_ROUTING_RULES),
];

/// All migrations, oldest first.
pub const MIGRATIONS: Migrations<'static> = Migrations::from_slice(MIGRATION_LIST);

/// Number of the newest schema version.
pub const SCHEMA_VERSION: usize = MIGRATION_LIST.len();

/// Brings the database to the newest schema version.
pub fn migrate(conn: &mut Connection) -> StoreResult<()> {
    MIGRATIONS.to_latest(conn)?;
    Ok(())
}

/// Creates a database file at `path` migrated only up to `version` (1..=[`SCHEMA_VERSION`]), as an older
/// build would have left it: for tests of restoring and opening old databases.
#[doc(hidden)]
pub fn create_database_at_version(path: &std::path::Path, version: usize) -> StoreResult<()> {
    let mut conn = Connection::open(path)?;
    MIGRATIONS.to_version(&mut conn, version)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrations_are_valid() {
        MIGRATIONS.validate().unwrap();
    }

    #[test]
    fn migrates_from_empty_and_is_idempotent() {
        let mut conn = Connection::open_in_memory().unwrap();
        migrate(&mut conn).unwrap();
        let v: i64 = conn
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .unwrap();
        assert_eq!(v as usize, SCHEMA_VERSION);
        migrate(&mut conn).unwrap();
        let tables: i64 = conn
            .query_row(
                "SELECT count(*) FROM sqlite_master WHERE type = 'table'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(tables, 21);
    }
}
