//! The appliance's settings: a versioned TOML file (`version = 1`) with a default for every key,
//! validated once at start-up so that a bad value stops the service with a message naming the key.
//!
//! Every section rejects unknown keys: a typo must not silently fall back to a default.
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Deserializer, Serialize};

/// The only schema version this build understands.
pub const CONFIG_VERSION: u32 = 1;

/// Why settings could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The file is not valid TOML or a key has the wrong type / is unknown (the message names it).
    #[error("config file {path}: {message}")]
    Parse { path: PathBuf, message: String },
    /// A value is out of range or inconsistent with another.
    #[error("config key `{key}`: {message}")]
    Invalid { key: String, message: String },
}

fn invalid(key: &str, message: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        key: key.to_owned(),
        message: message.into(),
    }
}

/// Root of the configuration file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Settings {
    /// Schema version of the file; must be 1.
    pub version: u32,
    /// Directory holding the database, the appliance CA and certificates. Created on first start.
    pub data_dir: PathBuf,
    /// HTTPS listeners and request limits.
    pub http: HttpSettings,
    /// Server certificate.
    pub tls: TlsSettings,
    /// Password and lockout settings.
    pub auth: AuthSettings,
    /// Statically configured modems (`[[modem]]` entries).
    #[serde(rename = "modem")]
    pub modems: Vec<ModemEntry>,
    /// Modem discovery.
    #[serde(rename = "modems")]
    pub modem_discovery: ModemDiscoverySettings,
    /// Queue, retries, limits and routing of outgoing messages.
    pub dispatch: DispatchSettings,
    /// In-process simulated modems (hw-sim).
    pub sim: SimSettings,
    /// Outgoing webhook delivery.
    pub webhooks: WebhookSettings,
    /// How long data is kept.
    pub retention: RetentionSettings,
    /// Encrypted backups of the database.
    pub backup: BackupSettings,
    /// Multi-site cluster on a shared PostgreSQL queue (off by default: one appliance on SQLite).
    pub cluster: ClusterSettings,
    /// Prometheus `/metrics` access.
    pub metrics: MetricsSettings,
}

/// `[http]`: where the HTTPS API listens.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HttpSettings {
    /// `http.listen`: HTTPS listen addresses (default `["0.0.0.0:8443"]`).
    pub listen: Vec<SocketAddr>,
    /// `http.redirect_listen`: plain-HTTP addresses that only redirect to HTTPS (default none).
    pub redirect_listen: Vec<SocketAddr>,
    /// `http.public_hostnames`: names clients use to reach the appliance; they go into the server
    /// certificate and the redirect target (default `["localhost"]`).
    pub public_hostnames: Vec<String>,
    /// `http.max_body_bytes`: largest accepted request body; bigger ones get 413 (default 1 MiB).
    pub max_body_bytes: usize,
    /// `http.requests_per_second`: API and Kannel requests allowed per account and second (bursts of two
    /// seconds' worth); more get 429 with `Retry-After`. 0 = no limit (default).
    pub requests_per_second: u32,
    /// `http.trusted_proxies`: addresses or CIDR ranges of reverse proxies whose `X-Forwarded-For` is
    /// believed for IP pools (default none: the socket peer is the client).
    pub trusted_proxies: Vec<ipnet::IpNet>,
}

/// `[metrics]`: who may scrape `/metrics` on the HTTPS listeners. `/metrics` is off (404) while both
/// `token` and `allow` are empty; when both are set a scrape needs both.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct MetricsSettings {
    /// `metrics.token`: bearer token Prometheus sends (`Authorization: Bearer ...`); at least 16
    /// characters. Empty = no token required (then `allow` must name the scrapers).
    pub token: String,
    /// `metrics.allow`: addresses or CIDR ranges that may scrape; empty = any address (then `token` is
    /// required). These addresses are also let through the pre-TLS IP-pool admission.
    pub allow: Vec<ipnet::IpNet>,
}

impl MetricsSettings {
    /// Whether `/metrics` is served at all.
    pub fn enabled(&self) -> bool {
        !self.token.is_empty() || !self.allow.is_empty()
    }
}

impl std::fmt::Debug for MetricsSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the token.
        f.debug_struct("MetricsSettings")
            .field("token", &if self.token.is_empty() { "" } else { "<set>" })
            .field("allow", &self.allow)
            .finish()
    }
}

/// Shortest accepted `metrics.token`.
pub const MIN_METRICS_TOKEN: usize = 16;

/// `[tls]`: the server certificate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct TlsSettings {
    /// `tls.cert`: operator-provided PEM certificate chain; empty means the appliance CA issues one.
    #[serde(deserialize_with = "empty_path_as_none")]
    pub cert: Option<PathBuf>,
    /// `tls.key`: PEM private key for `tls.cert`; required exactly when `tls.cert` is set.
    #[serde(deserialize_with = "empty_path_as_none")]
    pub key: Option<PathBuf>,
    /// `tls.san`: extra subject alternative names (DNS names or IP addresses) for the appliance-issued
    /// certificate, in addition to `http.public_hostnames`.
    pub san: Vec<String>,
}

/// `[auth]`: password verification and lockout.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuthSettings {
    /// `auth.password_cache_seconds`: how long a verified password stays in the keyed in-memory cache, so
    /// HTTP Basic clients do not pay the slow hash on every request (default 60; 0 disables the cache).
    pub password_cache_seconds: u64,
    /// `auth.lockout_failures`: failed logins in a row after which an account is locked (default 5).
    pub lockout_failures: u32,
    /// `auth.lockout_seconds`: how long a locked account stays locked (default 300).
    pub lockout_seconds: u64,
}

/// One `[[modem]]` entry: a modem on a fixed port. Turned into the modem engine's
/// [`crate::modem::ModemConfig`] by [`ModemEntry::to_modem_config`] (engine tuning keeps its defaults).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModemEntry {
    /// `modem.name`: a short name shown until the IMEI is known.
    pub name: String,
    /// `modem.port`: serial device path, e.g. `/dev/serial/by-id/...` or `/dev/ttyUSB2`.
    pub port: String,
    /// `modem.group`: routing group the modem serves (default `default`).
    #[serde(default = "default_group")]
    pub group: String,
    /// `modem.pin`: SIM PIN, if the SIM asks for one.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "empty_str_as_none"
    )]
    pub pin: Option<String>,
    /// `modem.smsc`: SMSC number to use instead of the one stored on the SIM.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "empty_str_as_none"
    )]
    pub smsc: Option<String>,
    /// `modem.baud`: line speed (default 115200; USB modems ignore it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub baud: Option<u32>,
}

impl ModemEntry {
    /// The modem engine's configuration for this entry.
    pub fn to_modem_config(&self) -> crate::modem::ModemConfig {
        let mut c = crate::modem::ModemConfig::for_port(&self.port);
        c.name = self.name.clone();
        c.pin = self.pin.clone();
        c.smsc = self.smsc.clone();
        if let Some(b) = self.baud {
            c.baud = b;
        }
        c
    }
}

/// The PIN is a secret: never printed.
impl std::fmt::Debug for ModemEntry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ModemEntry")
            .field("name", &self.name)
            .field("port", &self.port)
            .field("group", &self.group)
            .field("pin", &self.pin.as_ref().map(|_| "<redacted>"))
            .field("smsc", &self.smsc)
            .field("baud", &self.baud)
            .finish()
    }
}

/// `[modems]`: modem discovery.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ModemDiscoverySettings {
    /// `modems.discover_dir`: a directory watched for modem device links (udev's stable names or hw-sim's
    /// links); every link appearing there gets a modem actor. Empty disables discovery.
    #[serde(deserialize_with = "empty_path_as_none")]
    pub discover_dir: Option<PathBuf>,
    /// `modems.udev`: follow udev's device events, so a modem's AT port (as marked by
    /// `udev/80-smsgate-modems.rules`) gets an actor the moment it is plugged in (default true). Where
    /// udev does not run, this is logged once and the directory watch alone is used.
    pub udev: bool,
}

impl Default for ModemDiscoverySettings {
    fn default() -> Self {
        ModemDiscoverySettings {
            discover_dir: None,
            udev: true,
        }
    }
}

/// What to do with a message whose PDU may or may not have gone out (the modem never answered).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum UncertainPolicy {
    /// Mark it `uncertain` and tell the client; never resend (no duplicates).
    #[default]
    Report,
    /// Queue it again (at most once more per attempt budget); the recipient may get it twice.
    Resend,
}

/// One `[[dispatch.route]]` rule: messages of an account, or to numbers with a prefix, go to a modem group.
/// Rules are tried in file order; the first match wins. A message's explicit group overrides all rules.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouteRule {
    /// `dispatch.route.account`: login of the account this rule applies to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
    /// `dispatch.route.prefix`: E.164 prefix of the recipient, with `+` (e.g. `+4860`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefix: Option<String>,
    /// `dispatch.route.group`: modem group the matching messages are sent through.
    pub group: String,
}

/// `[dispatch]`: retries, limits and routing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DispatchSettings {
    /// `dispatch.max_attempts`: send attempts per message before it fails (default 5).
    pub max_attempts: u32,
    /// `dispatch.retry_base_seconds`: first retry delay after a temporary error; doubles per attempt
    /// (default 10).
    pub retry_base_seconds: u64,
    /// `dispatch.retry_max_seconds`: cap of the retry delay (default 600).
    pub retry_max_seconds: u64,
    /// `dispatch.per_sim_per_minute`: SMS parts one SIM may send per minute; 0 = unlimited (default 0).
    pub per_sim_per_minute: u32,
    /// `dispatch.daily_quota`: SMS parts one SIM may send per UTC day; 0 = unlimited (default 0).
    pub daily_quota: u32,
    /// `dispatch.monthly_quota`: SMS parts one SIM may send per UTC calendar month; 0 = unlimited.
    pub monthly_quota: u32,
    /// `dispatch.uncertain_policy`: `report` (default) or `resend`, see [`UncertainPolicy`].
    pub uncertain_policy: UncertainPolicy,
    /// `dispatch.default_country_code`: country calling code for national numbers (default `48`).
    pub default_country_code: String,
    /// `dispatch.max_parts`: most SMS parts one message may be split into (default 10, max 255).
    pub max_parts: u32,
    /// `dispatch.send_timeout_seconds`: a send the modem has not answered after this long is treated as
    /// uncertain, freeing the dispatcher's slot (default 300).
    pub send_timeout_seconds: u64,
    /// `dispatch.shutdown_grace_seconds`: on shutdown, how long sends under way may take to finish before
    /// they are abandoned (they become `uncertain` at the next start) (default 10).
    pub shutdown_grace_seconds: u64,
    /// `dispatch.long_first_window_seconds`: messages of one account and priority that arrived within the
    /// same window of this many seconds go out longest first, so a bulk send does not end with one modem
    /// still working through a multipart message while the others are idle; windows stay in arrival
    /// order, so no message waits behind later ones for longer than one window. 0 = strict arrival order
    /// (default 10, max 3600).
    pub long_first_window_seconds: u64,
    /// `[[dispatch.route]]`: routing rules, see [`RouteRule`].
    #[serde(rename = "route")]
    pub routes: Vec<RouteRule>,
}

/// Longest `dispatch.long_first_window_seconds`: a short message never waits behind longer ones that
/// arrived more than an hour after it.
pub const MAX_LONG_FIRST_WINDOW_SECONDS: u64 = 3600;

/// `[sim]`: simulated modems started inside the gateway (like `smsgate serve --sim N`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SimSettings {
    /// `sim.count`: number of simulated modems; 0 = none (default).
    pub count: u32,
    /// `sim.profile`: hw-sim modem family profile (default `generic`).
    pub profile: String,
}

/// `[webhooks]`: delivery of webhook events.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WebhookSettings {
    /// `webhooks.timeout_seconds`: per-request timeout (default 10).
    pub timeout_seconds: u64,
    /// `webhooks.retry_hours`: how long an undelivered event is retried with backoff (default 24).
    pub retry_hours: u64,
}

/// `[retention]`: data retention.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RetentionSettings {
    /// `retention.days`: messages, reports and inbox older than this are purged (default 730 = 2 years).
    pub days: u32,
    /// `retention.deletion_grace_hours`: how long a client's request to delete its account's data waits
    /// before it is carried out; the client can cancel it meanwhile. 0 = carried out at once (default).
    pub deletion_grace_hours: u32,
    /// `retention.audit_days`: audit entries older than this are purged (default 1825 = 5 years). Never
    /// shorter than `retention.days`: the audit log is the proof that data was purged or erased, so it must
    /// outlive the data and the backups (capped at `retention.days`) that still hold it.
    pub audit_days: u32,
}

/// Longest grace period of a deletion request (`retention.deletion_grace_hours`): 30 days. A request
/// that waits longer would defeat the client's right to have its data erased without undue delay.
pub const MAX_DELETION_GRACE_HOURS: u32 = 30 * 24;

impl RetentionSettings {
    /// Checks the retention periods on their own and against each other; the error names the key.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.days == 0 {
            return Err(invalid("retention.days", "must be at least 1"));
        }
        if self.audit_days < self.days {
            return Err(invalid(
                "retention.audit_days",
                format!(
                    "must be at least retention.days ({}): the audit log proves the purges and erasures",
                    self.days
                ),
            ));
        }
        if self.deletion_grace_hours > MAX_DELETION_GRACE_HOURS {
            return Err(invalid(
                "retention.deletion_grace_hours",
                format!("must be at most {MAX_DELETION_GRACE_HOURS} (30 days)"),
            ));
        }
        Ok(())
    }
}

/// `[backup]`: encrypted backups of the database (age, X25519).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BackupSettings {
    /// `backup.dir`: where backups are written; empty = `<data_dir>/backups` (default).
    #[serde(deserialize_with = "empty_path_as_none")]
    pub dir: Option<PathBuf>,
    /// `backup.recipients`: age public keys (`age1...`) backups are encrypted to. Empty = the key pair in
    /// `<data_dir>/backup-identity.txt`, created on first use and readable by the service user only
    /// (default). With recipients set, keep the matching identities off the appliance.
    pub recipients: Vec<String>,
    /// `backup.interval_hours`: the service takes a backup this often; 0 = no scheduled backups
    /// (default 24).
    pub interval_hours: u32,
    /// `backup.keep_days`: backups older than this are deleted; never more than `retention.days` (a larger
    /// value is capped), so data purged or erased from the live system leaves the backups too
    /// (default 730).
    pub keep_days: u32,
    /// `backup.keep_daily`: rotation keeps the newest backup of each of the last N days that have one
    /// (default 14). With `keep_daily`, `keep_weekly` and `keep_monthly` all 0 every backup younger than
    /// `keep_days` is kept.
    pub keep_daily: u32,
    /// `backup.keep_weekly`: ... and of each of the last N ISO weeks (default 8).
    pub keep_weekly: u32,
    /// `backup.keep_monthly`: ... and of each of the last N months (default 24); never past `keep_days`.
    pub keep_monthly: u32,
}

/// `[cluster]`: several appliances (nodes) share one queue in PostgreSQL; each node sends through its own
/// modems and claims work with leases, so another node takes over when one dies.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ClusterSettings {
    /// `cluster.enabled`: use the shared PostgreSQL queue (default false: SQLite only).
    pub enabled: bool,
    /// `cluster.node_id`: this node's name, unique in the cluster (letters, digits, `-`, `_`, `.`).
    pub node_id: String,
    /// `cluster.site`: where the node stands (server room, city); shown by `smsgate cluster status`.
    pub site: String,
    /// `cluster.postgres_url`: libpq-style URL or key=value string; several hosts are allowed
    /// (`postgresql://db1:5432,db2:5432/smsgate?target_session_attrs=read-write`), and the node then
    /// follows the primary after a failover. TLS is always on with verify-full: `sslmode` is ignored.
    pub postgres_url: String,
    /// `cluster.ca`: PEM of the CA that issued the PostgreSQL server certificate (the CA of the appliance
    /// that issues the cluster's certificates); empty = `<data_dir>/cluster/ca.pem`.
    #[serde(deserialize_with = "empty_path_as_none")]
    pub ca: Option<PathBuf>,
    /// `cluster.cert`: this node's client certificate (PEM) for PostgreSQL; empty =
    /// `<data_dir>/cluster/node.pem` (issued by `smsgate cluster issue-cert`).
    #[serde(deserialize_with = "empty_path_as_none")]
    pub cert: Option<PathBuf>,
    /// `cluster.key`: the client certificate's private key (PEM); empty = `<data_dir>/cluster/node.key`.
    #[serde(deserialize_with = "empty_path_as_none")]
    pub key: Option<PathBuf>,
    /// `cluster.lease_seconds`: a node's claim on a message lasts this long without a heartbeat; after it,
    /// another node takes the message over (default 30).
    pub lease_seconds: u64,
    /// `cluster.heartbeat_seconds`: how often a node renews its leases and looks for new work
    /// (default 5); must be well below `lease_seconds`.
    pub heartbeat_seconds: u64,
    /// `cluster.claim_batch`: most messages a node holds claimed per modem it has ready (default 8).
    pub claim_batch: u32,
}

impl std::fmt::Debug for ClusterSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The URL may carry a password: never print it.
        f.debug_struct("ClusterSettings")
            .field("enabled", &self.enabled)
            .field("node_id", &self.node_id)
            .field("site", &self.site)
            .field("lease_seconds", &self.lease_seconds)
            .field("heartbeat_seconds", &self.heartbeat_seconds)
            .finish_non_exhaustive()
    }
}

impl Default for ClusterSettings {
    fn default() -> Self {
        ClusterSettings {
            enabled: false,
            node_id: String::new(),
            site: String::new(),
            postgres_url: String::new(),
            ca: None,
            cert: None,
            key: None,
            lease_seconds: 30,
            heartbeat_seconds: 5,
            claim_batch: 8,
        }
    }
}

/// Longest node id: it is stored with every lease and shown in status tables.
pub const MAX_NODE_ID: usize = 64;

impl ClusterSettings {
    fn validate(&self) -> Result<(), ConfigError> {
        if self.lease_seconds < 2 {
            return Err(invalid("cluster.lease_seconds", "must be at least 2"));
        }
        if self.heartbeat_seconds == 0 {
            return Err(invalid("cluster.heartbeat_seconds", "must be at least 1"));
        }
        // A heartbeat that comes later than half the lease risks losing the lease to one delay.
        if self.heartbeat_seconds * 2 > self.lease_seconds {
            return Err(invalid(
                "cluster.heartbeat_seconds",
                "must be at most half of cluster.lease_seconds",
            ));
        }
        if self.claim_batch == 0 {
            return Err(invalid("cluster.claim_batch", "must be at least 1"));
        }
        if !self.enabled {
            return Ok(());
        }
        let id_ok = !self.node_id.is_empty()
            && self.node_id.len() <= MAX_NODE_ID
            && self
                .node_id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
        if !id_ok {
            return Err(invalid(
                "cluster.node_id",
                format!(
                    "needs 1 to {MAX_NODE_ID} letters, digits, '-', '_' or '.' when the cluster is enabled"
                ),
            ));
        }
        if self.postgres_url.trim().is_empty() {
            return Err(invalid(
                "cluster.postgres_url",
                "must be set when the cluster is enabled",
            ));
        }
        if let Err(e) = self.postgres_url.parse::<tokio_postgres::Config>() {
            return Err(invalid(
                "cluster.postgres_url",
                format!("not a PostgreSQL connection string: {e}"),
            ));
        }
        Ok(())
    }
}

fn default_group() -> String {
    "default".to_owned()
}

fn empty_path_as_none<'de, D: Deserializer<'de>>(d: D) -> Result<Option<PathBuf>, D::Error> {
    let s = Option::<String>::deserialize(d)?;
    Ok(s.filter(|s| !s.is_empty()).map(PathBuf::from))
}

fn empty_str_as_none<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    let s = Option::<String>::deserialize(d)?;
    Ok(s.filter(|s| !s.is_empty()))
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            version: CONFIG_VERSION,
            data_dir: PathBuf::from("/var/lib/smsgate"),
            http: HttpSettings::default(),
            tls: TlsSettings::default(),
            auth: AuthSettings::default(),
            modems: Vec::new(),
            modem_discovery: ModemDiscoverySettings::default(),
            dispatch: DispatchSettings::default(),
            sim: SimSettings::default(),
            webhooks: WebhookSettings::default(),
            retention: RetentionSettings::default(),
            backup: BackupSettings::default(),
            cluster: ClusterSettings::default(),
            metrics: MetricsSettings::default(),
        }
    }
}

impl Default for HttpSettings {
    fn default() -> Self {
        HttpSettings {
            listen: vec![SocketAddr::from(([0, 0, 0, 0], 8443))],
            redirect_listen: Vec::new(),
            public_hostnames: vec!["localhost".to_owned()],
            max_body_bytes: 1024 * 1024,
            requests_per_second: 0,
            trusted_proxies: Vec::new(),
        }
    }
}

impl Default for AuthSettings {
    fn default() -> Self {
        AuthSettings {
            password_cache_seconds: 60,
            lockout_failures: 5,
            lockout_seconds: 300,
        }
    }
}

impl Default for DispatchSettings {
    fn default() -> Self {
        DispatchSettings {
            max_attempts: 5,
            retry_base_seconds: 10,
            retry_max_seconds: 600,
            per_sim_per_minute: 0,
            daily_quota: 0,
            monthly_quota: 0,
            uncertain_policy: UncertainPolicy::Report,
            default_country_code: "48".to_owned(),
            max_parts: 10,
            send_timeout_seconds: 300,
            shutdown_grace_seconds: 10,
            long_first_window_seconds: 10,
            routes: Vec::new(),
        }
    }
}

impl Default for SimSettings {
    fn default() -> Self {
        SimSettings {
            count: 0,
            profile: "generic".to_owned(),
        }
    }
}

impl Default for WebhookSettings {
    fn default() -> Self {
        WebhookSettings {
            timeout_seconds: 10,
            retry_hours: 24,
        }
    }
}

impl Default for RetentionSettings {
    fn default() -> Self {
        RetentionSettings {
            days: 730,
            deletion_grace_hours: 0,
            audit_days: 1825,
        }
    }
}

impl Default for BackupSettings {
    fn default() -> Self {
        BackupSettings {
            dir: None,
            recipients: Vec::new(),
            interval_hours: 24,
            keep_days: 730,
            keep_daily: 14,
            keep_weekly: 8,
            keep_monthly: 24,
        }
    }
}

/// Longest concatenated message the UDH can express: the part count is one octet (TS 23.040 §9.2.3.24.1).
const MAX_CONCAT_PARTS: u32 = 255;

impl Settings {
    /// Defaults everywhere, with the data directory set (used by `serve --data-dir` and tests).
    pub fn default_with_data_dir(dir: impl Into<PathBuf>) -> Self {
        Settings {
            data_dir: dir.into(),
            ..Settings::default()
        }
    }

    /// Reads, parses and validates a config file.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        Self::from_toml(&text).map_err(|e| match e {
            ConfigError::Parse { message, .. } => ConfigError::Parse {
                path: path.to_owned(),
                message,
            },
            other => other,
        })
    }

    /// Parses and validates settings from TOML text.
    pub fn from_toml(text: &str) -> Result<Self, ConfigError> {
        let settings: Settings = toml::from_str(text).map_err(|e| ConfigError::Parse {
            path: PathBuf::new(),
            message: e.to_string(),
        })?;
        settings.validate()?;
        Ok(settings)
    }

    /// Renders the settings as TOML (e.g. to write a default config file).
    pub fn to_toml(&self) -> Result<String, ConfigError> {
        toml::to_string_pretty(self).map_err(|e| invalid("", e.to_string()))
    }

    /// Directory backups are written to (`backup.dir`, else `<data_dir>/backups`).
    pub fn backup_dir(&self) -> PathBuf {
        self.backup
            .dir
            .clone()
            .unwrap_or_else(|| self.data_dir.join("backups"))
    }

    /// Files an account uploaded (certificates, ...) live under this directory; erasing the account
    /// removes it.
    pub fn account_files_dir(&self, account_id: i64) -> PathBuf {
        self.data_dir.join("accounts").join(account_id.to_string())
    }

    /// Days a backup is kept: `backup.keep_days`, capped at `retention.days`.
    pub fn backup_keep_days(&self) -> u32 {
        self.backup.keep_days.min(self.retention.days)
    }

    /// CA certificate that verifies the PostgreSQL server (`cluster.ca`, else `<data_dir>/cluster/ca.pem`).
    /// Not the node's own `tls/ca.pem`: every node trusts the one CA that issued the cluster's
    /// certificates, while each keeps its own CA for its HTTPS listener.
    pub fn cluster_ca(&self) -> PathBuf {
        self.cluster
            .ca
            .clone()
            .unwrap_or_else(|| self.data_dir.join("cluster").join("ca.pem"))
    }

    /// This node's client certificate and key for PostgreSQL (`cluster.cert`/`cluster.key`, else
    /// `<data_dir>/cluster/node.pem` and `node.key`).
    pub fn cluster_client_cert(&self) -> (PathBuf, PathBuf) {
        let dir = self.data_dir.join("cluster");
        (
            self.cluster.cert.clone().unwrap_or_else(|| dir.join("node.pem")),
            self.cluster.key.clone().unwrap_or_else(|| dir.join("node.key")),
        )
    }

    /// Path of the SQLite database inside the data directory.
    pub fn database_path(&self) -> PathBuf {
        self.data_dir.join("smsgate.db")
    }

    /// Checks ranges and cross-key consistency; the error names the offending key.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.version != CONFIG_VERSION {
            return Err(invalid(
                "version",
                format!(
                    "this build understands version {CONFIG_VERSION}, the file has {}",
                    self.version
                ),
            ));
        }
        if self.data_dir.as_os_str().is_empty() {
            return Err(invalid("data_dir", "must not be empty"));
        }
        if self.http.listen.is_empty() {
            return Err(invalid("http.listen", "needs at least one address"));
        }
        if self.http.public_hostnames.iter().any(|h| h.trim().is_empty()) {
            return Err(invalid("http.public_hostnames", "names must not be empty"));
        }
        if self.http.max_body_bytes < 1024 {
            return Err(invalid("http.max_body_bytes", "must be at least 1024"));
        }
        if self.tls.cert.is_some() != self.tls.key.is_some() {
            return Err(invalid("tls.key", "tls.cert and tls.key must be given together"));
        }
        if self.auth.lockout_failures == 0 {
            return Err(invalid("auth.lockout_failures", "must be at least 1"));
        }
        let mut names = std::collections::HashSet::new();
        for (i, m) in self.modems.iter().enumerate() {
            if m.name.trim().is_empty() {
                return Err(invalid(&format!("modem[{i}].name"), "must not be empty"));
            }
            if m.port.trim().is_empty() {
                return Err(invalid(&format!("modem[{i}].port"), "must not be empty"));
            }
            if m.group.trim().is_empty() {
                return Err(invalid(&format!("modem[{i}].group"), "must not be empty"));
            }
            if !names.insert(m.name.as_str()) {
                return Err(invalid(
                    &format!("modem[{i}].name"),
                    format!("duplicate name {:?}", m.name),
                ));
            }
            if let Some(pin) = &m.pin
                && !(4..=8).contains(&pin.len())
            {
                return Err(invalid(&format!("modem[{i}].pin"), "a SIM PIN has 4 to 8 digits"));
            }
            if let Some(pin) = &m.pin
                && !pin.bytes().all(|b| b.is_ascii_digit())
            {
                return Err(invalid(&format!("modem[{i}].pin"), "a SIM PIN has only digits"));
            }
        }
        let d = &self.dispatch;
        if d.max_attempts == 0 {
            return Err(invalid("dispatch.max_attempts", "must be at least 1"));
        }
        if d.retry_base_seconds == 0 {
            return Err(invalid("dispatch.retry_base_seconds", "must be at least 1"));
        }
        if d.retry_max_seconds < d.retry_base_seconds {
            return Err(invalid(
                "dispatch.retry_max_seconds",
                "must not be below dispatch.retry_base_seconds",
            ));
        }
        if d.default_country_code.is_empty()
            || d.default_country_code.len() > 3
            || !d.default_country_code.bytes().all(|b| b.is_ascii_digit())
            || d.default_country_code.starts_with('0')
        {
            return Err(invalid(
                "dispatch.default_country_code",
                "must be 1 to 3 digits without + (e.g. 48)",
            ));
        }
        if d.max_parts == 0 || d.max_parts > MAX_CONCAT_PARTS {
            return Err(invalid(
                "dispatch.max_parts",
                format!("must be between 1 and {MAX_CONCAT_PARTS}"),
            ));
        }
        if d.send_timeout_seconds == 0 {
            return Err(invalid("dispatch.send_timeout_seconds", "must be at least 1"));
        }
        if d.long_first_window_seconds > MAX_LONG_FIRST_WINDOW_SECONDS {
            return Err(invalid(
                "dispatch.long_first_window_seconds",
                format!("must be at most {MAX_LONG_FIRST_WINDOW_SECONDS} (an hour)"),
            ));
        }
        for (i, r) in d.routes.iter().enumerate() {
            let key = format!("dispatch.route[{i}]");
            if r.account.is_none() && r.prefix.is_none() {
                return Err(invalid(&key, "needs `account` or `prefix`"));
            }
            if r.group.trim().is_empty() {
                return Err(invalid(&format!("{key}.group"), "must not be empty"));
            }
            if let Some(p) = &r.prefix {
                let digits = p.strip_prefix('+').unwrap_or("");
                if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(invalid(
                        &format!("{key}.prefix"),
                        "must be + followed by digits (e.g. +4860)",
                    ));
                }
            }
        }
        if let Err(e) = self.sim.profile.parse::<hw_sim::ProfileName>() {
            let known: Vec<&str> = hw_sim::ProfileName::ALL.iter().map(|p| p.as_str()).collect();
            return Err(invalid(
                "sim.profile",
                format!("{e}; known: {}", known.join(", ")),
            ));
        }
        if self.webhooks.timeout_seconds == 0 {
            return Err(invalid("webhooks.timeout_seconds", "must be at least 1"));
        }
        if self.webhooks.retry_hours == 0 {
            return Err(invalid("webhooks.retry_hours", "must be at least 1"));
        }
        self.retention.validate()?;
        if self.backup.keep_days == 0 {
            return Err(invalid("backup.keep_days", "must be at least 1"));
        }
        if !self.metrics.token.is_empty() && self.metrics.token.chars().count() < MIN_METRICS_TOKEN {
            return Err(invalid(
                "metrics.token",
                format!("must be at least {MIN_METRICS_TOKEN} characters (or empty)"),
            ));
        }
        if self
            .metrics
            .token
            .chars()
            .any(|c| c.is_whitespace() || c.is_control())
        {
            return Err(invalid(
                "metrics.token",
                "must not contain spaces or control characters",
            ));
        }
        for (i, r) in self.backup.recipients.iter().enumerate() {
            if r.parse::<age::x25519::Recipient>().is_err() {
                return Err(invalid(
                    &format!("backup.recipients[{i}]"),
                    "must be an age X25519 public key (age1...)",
                ));
            }
        }
        if self.cluster.cert.is_some() != self.cluster.key.is_some() {
            return Err(invalid(
                "cluster.key",
                "cluster.cert and cluster.key must be given together",
            ));
        }
        self.cluster.validate()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_file_gives_defaults() {
        let s = Settings::from_toml("").unwrap();
        assert_eq!(s, Settings::default());
        assert_eq!(s.dispatch.max_parts, 10);
        assert_eq!(s.retention.days, 730);
        assert_eq!(s.http.listen[0].port(), 8443);
    }

    #[test]
    fn cluster_section_accepts_a_multi_host_url() {
        let s = Settings::from_toml(
            "[cluster]\nenabled = true\nnode_id = \"waw-1\"\nsite = \"Warsaw\"\n\
             postgres_url = \"postgresql://smsgate@db1:5432,db2:5432/smsgate?target_session_attrs=read-write\"\n\
             lease_seconds = 20\nheartbeat_seconds = 4",
        )
        .unwrap();
        assert!(s.cluster.enabled);
        let (cert, key) = s.cluster_client_cert();
        assert!(cert.ends_with("cluster/node.pem") && key.ends_with("cluster/node.key"));
        assert!(s.cluster_ca().ends_with("cluster/ca.pem"));
        let pg: tokio_postgres::Config = s.cluster.postgres_url.parse().unwrap();
        assert_eq!(pg.get_hosts().len(), 2);
        assert_eq!(
            pg.get_target_session_attrs(),
            tokio_postgres::config::TargetSessionAttrs::ReadWrite
        );
        // The URL may carry a password: Debug never shows it.
        assert!(!format!("{:?}", s.cluster).contains("db1"));
    }

    /// The shipped, commented config file states the defaults exactly.
    #[test]
    fn shipped_config_file_is_the_defaults() {
        let shipped = Settings::from_toml(include_str!("../config/smsgate.toml")).unwrap();
        assert_eq!(shipped, Settings::default());
    }

    #[test]
    fn defaults_round_trip_through_toml() {
        let s = Settings::default_with_data_dir("/tmp/x");
        let text = s.to_toml().unwrap();
        assert_eq!(Settings::from_toml(&text).unwrap(), s);
    }

    #[test]
    fn full_file_parses() {
        let text = r#"
            version = 1
            data_dir = "/srv/sms"
            [http]
            listen = ["127.0.0.1:9443", "[::1]:9443"]
            redirect_listen = ["127.0.0.1:8080"]
            public_hostnames = ["sms.example"]
            [tls]
            cert = "/etc/c.pem"
            key = "/etc/k.pem"
            [auth]
            password_cache_seconds = 0
            [[modem]]
            name = "a"
            port = "/dev/ttyUSB0"
            pin = "1234"
            [[modem]]
            name = "b"
            port = "/dev/ttyUSB3"
            group = "otp"
            smsc = ""
            [modems]
            discover_dir = "/run/hw-sim"
            [dispatch]
            uncertain_policy = "resend"
            per_sim_per_minute = 6
            [[dispatch.route]]
            account = "bank"
            group = "otp"
            [[dispatch.route]]
            prefix = "+4860"
            group = "default"
            [sim]
            count = 4
        "#;
        let s = Settings::from_toml(text).unwrap();
        assert_eq!(s.modems.len(), 2);
        assert_eq!(s.modems[0].group, "default");
        assert_eq!(s.modems[0].pin.as_deref(), Some("1234"));
        assert_eq!(s.modems[1].smsc, None);
        assert_eq!(s.dispatch.uncertain_policy, UncertainPolicy::Resend);
        assert_eq!(s.dispatch.routes[1].prefix.as_deref(), Some("+4860"));
        assert_eq!(s.modem_discovery.discover_dir, Some(PathBuf::from("/run/hw-sim")));
        assert_eq!(s.database_path(), PathBuf::from("/srv/sms/smsgate.db"));
    }

    /// Each bad file must be rejected with an error that names the key.
    #[test]
    fn bad_values_name_their_key() {
        fn check(text: &str, key: &str) {
            let err = Settings::from_toml(text).unwrap_err().to_string();
            assert!(
                err.contains(key),
                "error {err:?} should name {key:?} for input {text:?}"
            );
        }
        check("version = 2", "version");
        check("[dispatch]\nmax_parts = 0", "dispatch.max_parts");
        check("[dispatch]\nmax_parts = 256", "dispatch.max_parts");
        check("[dispatch]\nmax_attempts = 0", "dispatch.max_attempts");
        check(
            "[dispatch]\ndefault_country_code = \"+48\"",
            "dispatch.default_country_code",
        );
        check(
            "[dispatch]\nretry_base_seconds = 100\nretry_max_seconds = 10",
            "dispatch.retry_max_seconds",
        );
        check("[dispatch]\nuncertain_policy = \"maybe\"", "uncertain_policy");
        check("[dispatch]\nmax_atempts = 3", "max_atempts");
        check("[[dispatch.route]]\ngroup = \"x\"", "dispatch.route[0]");
        check(
            "[[dispatch.route]]\nprefix = \"48\"\ngroup = \"x\"",
            "dispatch.route[0].prefix",
        );
        check("[tls]\ncert = \"/c.pem\"", "tls.key");
        check("[http]\nlisten = []", "http.listen");
        check("[http]\nlisten = [\"nonsense\"]", "listen");
        check("[[modem]]\nname = \"a\"\nport = \"\"", "modem[0].port");
        check(
            "[[modem]]\nname = \"a\"\nport = \"/x\"\npin = \"12\"",
            "modem[0].pin",
        );
        check(
            "[[modem]]\nname = \"a\"\nport = \"/x\"\n[[modem]]\nname = \"a\"\nport = \"/y\"",
            "modem[1].name",
        );
        check("[retention]\ndays = 0", "retention.days");
        check(
            "[cluster]\nenabled = true\npostgres_url = \"host=db\"",
            "cluster.node_id",
        );
        check(
            "[cluster]\nenabled = true\nnode_id = \"a b\"\npostgres_url = \"host=db\"",
            "cluster.node_id",
        );
        check(
            "[cluster]\nenabled = true\nnode_id = \"a\"",
            "cluster.postgres_url",
        );
        check(
            "[cluster]\nenabled = true\nnode_id = \"a\"\npostgres_url = \"postgresql://db:notaport/x\"",
            "cluster.postgres_url",
        );
        check("[cluster]\nlease_seconds = 1", "cluster.lease_seconds");
        check(
            "[cluster]\nlease_seconds = 10\nheartbeat_seconds = 6",
            "cluster.heartbeat_seconds",
        );
        check("[cluster]\nheartbeat_seconds = 0", "cluster.heartbeat_seconds");
        check("[cluster]\nclaim_batch = 0", "cluster.claim_batch");
        check("[cluster]\ncert = \"/n.pem\"", "cluster.key");
        check("[cluster]\nnode = \"a\"", "node");
        check("[retention]\ndays = 2000", "retention.audit_days");
        check("[retention]\naudit_days = 700", "retention.audit_days");
        check(
            "[retention]\ndeletion_grace_hours = 721",
            "retention.deletion_grace_hours",
        );
        check("[backup]\nkeep_days = 0", "backup.keep_days");
        check("[backup]\nrecipients = [\"ssh-rsa x\"]", "backup.recipients[0]");
        check("[sim]\nprofile = \"nokia3310\"", "sim.profile");
        check("[webhooks]\nretry_hours = 0", "webhooks.retry_hours");
        check("[metrics]\ntoken = \"short\"", "metrics.token");
        check("[metrics]\ntoken = \"0123456789 abcdef\"", "metrics.token");
        check("[metrics]\nallow = [\"10.0.0.300/8\"]", "allow");
        check("bogus = 1", "bogus");
    }

    #[test]
    fn load_reports_missing_file_and_path() {
        let err = Settings::load(Path::new("/nonexistent/smsgate.toml")).unwrap_err();
        assert!(err.to_string().contains("/nonexistent/smsgate.toml"));
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.toml");
        std::fs::write(&path, "[dispatch]\nmax_parts = \"ten\"").unwrap();
        let err = Settings::load(&path).unwrap_err().to_string();
        assert!(err.contains("c.toml") && err.contains("max_parts"), "{err}");
    }
}
