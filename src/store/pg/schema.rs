//! Versioned PostgreSQL migrations of the cluster's shared database. `smsgate_schema` records every
//! applied version; a new migration is appended to [`MIGRATIONS`], never edited once released. Nodes
//! starting at the same time serialise on an advisory lock, so each migration runs exactly once.
//!
//! The tables mirror the SQLite schema of the queue domain (messages, parts, attempts, delivery reports,
//! inbox, webhook subscriptions and outbox) with the cluster's additions: a lease on every message
//! (`lease_node`, `lease_epoch`, `lease_until`), a claim on every outbox row, and the node registry.
//! Times are UTC unix milliseconds (`BIGINT`), as in SQLite.
use tokio_postgres::Client;

use super::super::StoreResult;

/// Key of the advisory lock migrations hold (any constant unique to smsgate).
const MIGRATION_LOCK: i64 = 0x736d_7367_6174_6501;

/// Version 1: the shared queue.
const V1_QUEUE: &str = r#"
CREATE TABLE messages (
    id              TEXT PRIMARY KEY,
    account_id      BIGINT NOT NULL,
    recipient       TEXT NOT NULL,
    route_group     TEXT,
    text            TEXT NOT NULL,
    encoding        TEXT NOT NULL,
    status          TEXT NOT NULL CHECK (status IN ('queued', 'sending', 'sent', 'delivered', 'failed',
                                                     'expired', 'cancelled', 'uncertain')),
    priority        INTEGER NOT NULL DEFAULT 0,
    send_at         BIGINT,
    valid_until     BIGINT,
    srr             BOOLEAN NOT NULL DEFAULT FALSE,
    client_ref      TEXT,
    parts           INTEGER NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at BIGINT,
    modem           TEXT,
    error           TEXT,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL,
    -- The node holding the message (claimed for its modems), until when, and the claim's number:
    -- every claim increments the epoch, and a node writes only under the epoch it claimed (fencing).
    lease_node      TEXT,
    lease_epoch     BIGINT NOT NULL DEFAULT 0,
    lease_until     BIGINT
);
CREATE INDEX messages_account_id ON messages(account_id, id);
CREATE INDEX messages_claimable ON messages(priority DESC, id) WHERE status = 'queued';
CREATE INDEX messages_leased ON messages(lease_node) WHERE status IN ('queued', 'sending');
CREATE INDEX messages_created ON messages(created_at);
CREATE INDEX messages_recipient ON messages(recipient, id);

CREATE TABLE idempotency_keys (
    account_id   BIGINT NOT NULL,
    key          TEXT NOT NULL,
    request_hash TEXT NOT NULL,
    message_ids  TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    PRIMARY KEY (account_id, key)
);

CREATE TABLE message_parts (
    message_id    TEXT NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
    seq           INTEGER NOT NULL,
    pdu           TEXT NOT NULL,
    tpdu_len      INTEGER NOT NULL,
    status        TEXT NOT NULL CHECK (status IN ('pending', 'sent', 'delivered', 'failed')),
    mr            INTEGER,
    modem         TEXT,
    sent_at       BIGINT,
    delivered_at  BIGINT,
    report_status INTEGER,
    PRIMARY KEY (message_id, seq)
);
CREATE INDEX message_parts_mr ON message_parts(modem, mr, sent_at) WHERE mr IS NOT NULL;
CREATE INDEX message_parts_sent ON message_parts(sent_at) WHERE sent_at IS NOT NULL;

CREATE TABLE attempts (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    message_id  TEXT NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
    modem       TEXT NOT NULL,
    node        TEXT NOT NULL,
    epoch       BIGINT NOT NULL,
    started_at  BIGINT NOT NULL,
    finished_at BIGINT,
    outcome     TEXT,
    error       TEXT
);
CREATE INDEX attempts_message ON attempts(message_id);

CREATE TABLE delivery_reports (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    modem       TEXT NOT NULL,
    node        TEXT NOT NULL,
    pdu         TEXT NOT NULL,
    received_at BIGINT NOT NULL,
    mr          INTEGER,
    recipient   TEXT,
    status      INTEGER,
    message_id  TEXT REFERENCES messages(id) ON DELETE CASCADE,
    part_seq    INTEGER
);
CREATE INDEX delivery_reports_message ON delivery_reports(message_id);
CREATE INDEX delivery_reports_unpaired ON delivery_reports(modem, mr) WHERE message_id IS NULL;

CREATE TABLE inbox (
    id          TEXT PRIMARY KEY,
    account_id  BIGINT,
    originator  TEXT NOT NULL,
    text        TEXT NOT NULL,
    modem       TEXT NOT NULL,
    node        TEXT NOT NULL,
    received_at BIGINT NOT NULL,
    parts       INTEGER NOT NULL,
    incomplete  BOOLEAN NOT NULL DEFAULT FALSE
);
CREATE INDEX inbox_account_id ON inbox(account_id, id);

CREATE TABLE webhooks (
    id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    account_id BIGINT NOT NULL,
    url        TEXT NOT NULL,
    secret     TEXT NOT NULL,
    events     TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX webhooks_account ON webhooks(account_id);

CREATE TABLE webhook_outbox (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    event_id        TEXT NOT NULL,
    account_id      BIGINT NOT NULL,
    webhook_id      BIGINT NOT NULL REFERENCES webhooks(id) ON DELETE CASCADE,
    event_type      TEXT NOT NULL,
    payload         TEXT NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    created_at      BIGINT NOT NULL,
    next_attempt_at BIGINT NOT NULL,
    delivered_at    BIGINT,
    gave_up_at      BIGINT,
    last_error      TEXT,
    -- One node delivers a row at a time: it claims the row until `claim_until`.
    claim_node      TEXT,
    claim_until     BIGINT,
    UNIQUE (event_id, webhook_id)
);
CREATE INDEX webhook_outbox_due ON webhook_outbox(next_attempt_at)
    WHERE delivered_at IS NULL AND gave_up_at IS NULL;

CREATE TABLE cluster_nodes (
    node_id      TEXT PRIMARY KEY,
    site         TEXT NOT NULL,
    started_at   BIGINT NOT NULL,
    heartbeat_at BIGINT NOT NULL,
    -- The node's modems as JSON: [{"id", "group", "ready"}].
    modems       TEXT NOT NULL DEFAULT '[]',
    version      TEXT NOT NULL
);
"#;

/// Version 2: Kannel `dlr-url` subscriptions (as SQLite's version 2), claimed by one node at a time.
const V2_KANNEL_DLR: &str = r#"
CREATE TABLE kannel_dlr (
    message_id  TEXT PRIMARY KEY REFERENCES messages(id) ON DELETE CASCADE,
    url         TEXT NOT NULL,
    mask        INTEGER NOT NULL,
    sender      TEXT,
    reported    INTEGER NOT NULL DEFAULT 0,
    seen_status TEXT NOT NULL DEFAULT 'queued',
    attempts    INTEGER NOT NULL DEFAULT 0,
    next_at     BIGINT NOT NULL DEFAULT 0,
    claim_node  TEXT,
    claim_until BIGINT
);
"#;

/// Version 3: accounts shared by all nodes (as SQLite's versions 1, 4 and 5): logins, password hashes,
/// API tokens, authentication stages, deletion requests and tombstones. Ids come from a sequence, so an
/// id is never reused, also not after an erasure.
const V3_ACCOUNTS: &str = r#"
CREATE SEQUENCE account_ids;
CREATE TABLE accounts (
    id            BIGINT PRIMARY KEY DEFAULT nextval('account_ids'),
    login         TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    role          TEXT NOT NULL CHECK (role IN ('admin', 'technician', 'client')),
    disabled      BOOLEAN NOT NULL DEFAULT FALSE,
    created_at    BIGINT NOT NULL
);

CREATE TABLE api_tokens (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    account_id  BIGINT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    token_hash  TEXT NOT NULL UNIQUE,
    name        TEXT NOT NULL,
    scopes      TEXT NOT NULL DEFAULT '',
    expires_at  BIGINT,
    revoked     BOOLEAN NOT NULL DEFAULT FALSE,
    created_at  BIGINT NOT NULL
);
CREATE INDEX api_tokens_account ON api_tokens(account_id);

CREATE TABLE account_stages (
    account_id    BIGINT PRIMARY KEY REFERENCES accounts(id) ON DELETE CASCADE,
    cert_required BOOLEAN NOT NULL DEFAULT FALSE,
    ip_pool       TEXT NOT NULL DEFAULT ''
);

CREATE TABLE account_certs (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    account_id  BIGINT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    kind        TEXT NOT NULL CHECK (kind IN ('issued', 'pinned', 'ca')),
    fingerprint TEXT NOT NULL,
    der         BYTEA NOT NULL,
    subject     TEXT NOT NULL,
    not_after   BIGINT NOT NULL,
    revoked_at  BIGINT,
    created_at  BIGINT NOT NULL,
    UNIQUE (account_id, fingerprint)
);

CREATE TABLE deletion_requests (
    account_id    BIGINT PRIMARY KEY REFERENCES accounts(id) ON DELETE CASCADE,
    requested_at  BIGINT NOT NULL,
    requested_by  TEXT,
    source_ip     TEXT,
    execute_after BIGINT NOT NULL
);

CREATE TABLE account_tombstones (
    account_id BIGINT PRIMARY KEY,
    deleted_at BIGINT NOT NULL
);
"#;

/// Version 4: wake-ups. Work that becomes claimable (a message accepted as `queued`, or given back to
/// the queue by a retry or a takeover) and new webhook deliveries notify the channels every node
/// LISTENs on ([`super::listen`]), so other nodes' claim loops and an idle node's webhook worker start
/// at once instead of at their next poll. PostgreSQL delivers a notification at commit and folds
/// identical ones of one transaction into one, so a batch costs one wake-up.
const V4_WAKEUPS: &str = r#"
CREATE FUNCTION smsgate_notify_queue() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('smsgate_queue', '');
    RETURN NULL;
END $$;
CREATE FUNCTION smsgate_notify_outbox() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('smsgate_outbox', '');
    RETURN NULL;
END $$;
CREATE TRIGGER messages_queued_insert AFTER INSERT ON messages
    FOR EACH ROW WHEN (NEW.status = 'queued') EXECUTE FUNCTION smsgate_notify_queue();
CREATE TRIGGER messages_queued_again AFTER UPDATE OF status, lease_node ON messages
    FOR EACH ROW WHEN (NEW.status = 'queued' AND NEW.lease_node IS NULL
                       AND (OLD.status <> 'queued' OR OLD.lease_node IS NOT NULL))
    EXECUTE FUNCTION smsgate_notify_queue();
CREATE TRIGGER webhook_outbox_new AFTER INSERT ON webhook_outbox
    FOR EACH STATEMENT EXECUTE FUNCTION smsgate_notify_outbox();
"#;

/// Version 5: a message may be pinned to one modem (a technician's test SMS); only the node that has
/// that modem claims it.
const V5_PINNED_MODEM: &str = r#"
ALTER TABLE messages ADD COLUMN pinned_modem TEXT;
"#;

/// All migrations, oldest first; version N is `MIGRATIONS[N - 1]`.
pub const MIGRATIONS: &[&str] = &[V1_QUEUE, V2_KANNEL_DLR, V3_ACCOUNTS, V4_WAKEUPS, V5_PINNED_MODEM];

/// Number of the newest schema version.
pub const PG_SCHEMA_VERSION: usize = MIGRATIONS.len();

/// Brings the database to the newest version; returns the version found before.
pub async fn migrate(client: &mut Client) -> StoreResult<usize> {
    let tx = client.transaction().await?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
        .await?;
    tx.batch_execute(
        "CREATE TABLE IF NOT EXISTS smsgate_schema (version INTEGER PRIMARY KEY, applied_at BIGINT NOT NULL)",
    )
    .await?;
    let current: i32 = tx
        .query_one("SELECT coalesce(max(version), 0) FROM smsgate_schema", &[])
        .await?
        .get(0);
    let current = usize::try_from(current).unwrap_or(0);
    if current > MIGRATIONS.len() {
        return Err(super::super::StoreError::Transaction(format!(
            "the PostgreSQL schema is at version {current}, newer than this build ({}): upgrade this node",
            MIGRATIONS.len()
        )));
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(current) {
        tx.batch_execute(sql).await?;
        let version = i32::try_from(i + 1).unwrap_or(i32::MAX);
        tx.execute(
            "INSERT INTO smsgate_schema (version, applied_at) VALUES ($1, $2)",
            &[&version, &super::super::now_ms()],
        )
        .await?;
    }
    tx.commit().await?;
    Ok(current)
}
