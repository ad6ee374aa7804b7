//! System health: one collection of everything an operator watches (readiness, version, uptime,
//! database and WAL size, queue depth and age, last backup, free disk, TLS certificate expiry, the
//! modem bank), shared by `/metrics`, `GET /api/v1/system`, the panel's system page and `smsgate
//! status`, so the four never disagree.
//!
//! Nothing here names an account or a phone number: it is safe to show to technicians and to export to
//! a monitoring system.
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::{AppResult, Gateway, ModemRecord, Principal};
use crate::ops::health::{Readiness, assess};
use crate::ops::metrics::{Metrics, ModemSample, Snapshot};
use crate::store::QueueStats;

/// Longest a readiness probe waits for the database writer.
pub const DATABASE_PROBE_TIMEOUT: Duration = Duration::from_secs(5);
/// Name of the appliance-issued server certificate in `<data_dir>/tls/` (see `tls::pki`).
const APPLIANCE_SERVER_CERT: &str = "tls/server.pem";

/// Everything the system page, `smsgate status` and `/api/v1/system` show.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SystemHealth {
    pub version: String,
    #[serde(with = "time::serde::rfc3339")]
    pub started_at: OffsetDateTime,
    pub uptime_seconds: u64,
    pub readiness: Readiness,
    pub database: DatabaseHealth,
    /// Free space on the data directory's file system (`None` if it cannot be read).
    pub disk: Option<DiskHealth>,
    pub queue: QueueHealth,
    pub backup: BackupHealth,
    pub tls: TlsHealth,
    pub modems: Vec<ModemHealth>,
}

/// The SQLite files.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct DatabaseHealth {
    pub path: PathBuf,
    pub bytes: u64,
    pub wal_bytes: u64,
}

/// The data directory's file system.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct DiskHealth {
    /// Bytes the service may still write.
    pub free_bytes: u64,
    pub total_bytes: u64,
}

/// The outgoing queue.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct QueueHealth {
    pub queued: u64,
    pub sending: u64,
    /// Seconds the oldest due message has waited (0 when none waits).
    pub oldest_age_seconds: f64,
    pub by_group: Vec<GroupQueue>,
}

/// Queued messages of one routing group.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct GroupQueue {
    /// `None`: any modem.
    pub group: Option<String>,
    pub queued: u64,
}

/// The encrypted backups.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct BackupHealth {
    pub dir: PathBuf,
    pub count: u64,
    #[serde(with = "time::serde::rfc3339::option")]
    pub last_at: Option<OffsetDateTime>,
    pub last_bytes: Option<u64>,
    pub age_seconds: Option<u64>,
    /// `backup.interval_hours` (0: no scheduled backups).
    pub interval_hours: u32,
    /// Why the backup directory could not be read, if it could not.
    pub error: Option<String>,
}

/// The served TLS server certificate.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct TlsHealth {
    pub certificate: PathBuf,
    #[serde(with = "time::serde::rfc3339::option")]
    pub not_after: Option<OffsetDateTime>,
    pub days_left: Option<i64>,
    /// Why the certificate could not be read, if it could not.
    pub error: Option<String>,
}

/// One modem at a glance.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ModemHealth {
    /// Modem id (IMEI once known).
    pub id: String,
    pub name: String,
    pub imei: Option<String>,
    pub operator: Option<String>,
    pub model: Option<String>,
    pub port: Option<String>,
    pub group: Option<String>,
    /// Actor phase (`ready`, `absent`, ...).
    pub state: String,
    pub up: bool,
    /// `+CSQ` RSSI 0..31.
    pub signal: Option<u8>,
    /// 0–4.
    pub bars: u8,
    /// Messages this modem may take now: its group's queue plus messages for any modem.
    pub queue: u64,
    pub sent_parts: u64,
    pub failed_attempts: u64,
    pub received: u64,
    pub last_error: Option<String>,
}

/// Signal bars (0–4) for `+CSQ` RSSI 0..31 (TS 27.007 §8.5: 0 ≤ −113 dBm … 31 ≥ −51 dBm).
pub fn signal_bars(rssi: Option<u8>) -> u8 {
    /// RSSI thresholds of 1, 2, 3 and 4 bars (≈ −107, −97, −87, −77 dBm).
    const BAR_THRESHOLDS: [u8; 4] = [3, 8, 13, 18];
    /// `+CSQ` RSSI range; 99 is "not known" (TS 27.007 §8.5).
    const RSSI_MAX: u8 = 31;
    match rssi {
        Some(r) if r <= RSSI_MAX => BAR_THRESHOLDS.iter().filter(|&&t| r >= t).count() as u8,
        _ => 0,
    }
}

fn modem_health(m: &ModemRecord, queue: &QueueStats) -> ModemHealth {
    let text = |k: &str| m.state.get(k).and_then(|v| v.as_str()).map(str::to_owned);
    let signal = m
        .state
        .get("signal")
        .and_then(|v| v.as_u64())
        .and_then(|v| u8::try_from(v).ok());
    let queued_for = |g: Option<&str>| {
        queue
            .by_group
            .iter()
            .filter(|(group, _)| group.as_deref() == g)
            .map(|(_, n)| n)
            .sum::<u64>()
    };
    let group_queue = match m.group.as_deref() {
        Some(g) => queued_for(Some(g)),
        None => 0,
    };
    ModemHealth {
        id: m.id.clone(),
        // A modem without a configured name is known by its port's last component (the udev link).
        name: m.name.clone().unwrap_or_else(|| {
            m.port
                .as_deref()
                .and_then(|p| Path::new(p).file_name())
                .map_or_else(|| m.id.clone(), |f| f.to_string_lossy().into_owned())
        }),
        imei: text("imei"),
        operator: text("operator"),
        model: text("model"),
        port: m.port.clone(),
        group: m.group.clone(),
        state: text("phase").unwrap_or_else(|| "unknown".into()),
        up: m.up,
        signal,
        bars: signal_bars(signal),
        queue: group_queue + queued_for(None),
        sent_parts: m.sent_parts,
        failed_attempts: m.errors,
        received: m.received,
        last_error: text("last_error").filter(|e| !e.is_empty()),
    }
}

fn file_len(path: &Path) -> u64 {
    std::fs::metadata(path).map_or(0, |m| m.len())
}

fn disk_of(dir: &Path) -> Option<DiskHealth> {
    let s = nix::sys::statvfs::statvfs(dir).ok()?;
    let frag = s.fragment_size() as u64;
    Some(DiskHealth {
        free_bytes: (s.blocks_available() as u64).saturating_mul(frag),
        total_bytes: (s.blocks() as u64).saturating_mul(frag),
    })
}

fn certificate_not_after(path: &Path) -> Result<OffsetDateTime, String> {
    let certs = crate::tls::config::read_certs(path).map_err(|e| e.to_string())?;
    let leaf = certs.first().ok_or("no certificate in the file")?;
    let (_, cert) = x509_parser::parse_x509_certificate(leaf).map_err(|e| e.to_string())?;
    Ok(cert.validity().not_after.to_datetime())
}

/// What the blocking file-system probes found.
struct FileFacts {
    database: DatabaseHealth,
    disk: Option<DiskHealth>,
    backup: BackupHealth,
    tls: TlsHealth,
}

fn file_facts(
    db: PathBuf,
    data_dir: &Path,
    backup_dir: PathBuf,
    interval_hours: u32,
    cert: PathBuf,
    now: OffsetDateTime,
) -> FileFacts {
    let mut wal = db.clone().into_os_string();
    wal.push("-wal");
    let database = DatabaseHealth {
        bytes: file_len(&db),
        wal_bytes: file_len(Path::new(&wal)),
        path: db,
    };
    let (backups, backup_error) = match super::backup::list_backups(&backup_dir) {
        Ok(b) => (b, None),
        Err(e) => (Vec::new(), Some(e.to_string())),
    };
    let last = backups.iter().max_by_key(|b| b.created_at);
    let backup = BackupHealth {
        count: backups.len() as u64,
        last_at: last.map(|b| b.created_at),
        last_bytes: last.map(|b| b.bytes),
        age_seconds: last.map(|b| (now - b.created_at).whole_seconds().max(0) as u64),
        interval_hours,
        error: backup_error,
        dir: backup_dir,
    };
    let tls = match certificate_not_after(&cert) {
        Ok(t) => TlsHealth {
            not_after: Some(t),
            days_left: Some((t - now).whole_days()),
            error: None,
            certificate: cert,
        },
        Err(e) => TlsHealth {
            not_after: None,
            days_left: None,
            error: Some(e),
            certificate: cert,
        },
    };
    FileFacts {
        database,
        disk: disk_of(data_dir),
        backup,
        tls,
    }
}

fn unix_seconds(t: OffsetDateTime) -> f64 {
    t.unix_timestamp_nanos() as f64 / 1e9
}

impl Gateway {
    /// The in-process metrics (send latency, HTTP requests).
    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.inner.metrics
    }

    /// When this gateway started.
    pub fn started_at(&self) -> SystemTime {
        self.inner.started
    }

    /// `/readyz`'s verdict: the database commits within [`DATABASE_PROBE_TIMEOUT`] and a modem is ready.
    pub async fn readiness(&self) -> Readiness {
        let store = &self.inner.store;
        let database = match tokio::time::timeout(DATABASE_PROBE_TIMEOUT, store.flush()).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(e.to_string()),
            Err(_) => Err(format!("no commit within {} s", DATABASE_PROBE_TIMEOUT.as_secs())),
        };
        let (ready, total) = match store.modems().await {
            Ok(modems) => (modems.iter().filter(|m| m.up).count(), modems.len()),
            Err(_) => (0, 0),
        };
        assess(database, ready, total)
    }

    /// System health for operators (admin or technician).
    pub async fn system_health(&self, who: &Principal) -> AppResult<SystemHealth> {
        who.require_operator()?;
        self.collect_health().await
    }

    /// System health without a caller: for `/metrics`, which has its own token and address checks.
    pub async fn collect_health(&self) -> AppResult<SystemHealth> {
        let settings = &self.inner.settings;
        let now_ms = self.now_ms();
        let now = crate::store::ms_to_datetime(now_ms);
        let readiness = self.readiness().await;
        let queue = self.inner.store.queue_stats(now_ms).await?;
        let modems = self.inner.store.modems().await?;
        let cert = settings
            .tls
            .cert
            .clone()
            .unwrap_or_else(|| settings.data_dir.join(APPLIANCE_SERVER_CERT));
        let facts = {
            let db = self.inner.store.path().to_path_buf();
            let data_dir = settings.data_dir.clone();
            let backup_dir = settings.backup_dir();
            let interval = settings.backup.interval_hours;
            tokio::task::spawn_blocking(move || file_facts(db, &data_dir, backup_dir, interval, cert, now))
                .await
                .map_err(|e| super::AppError::Internal(e.to_string()))?
        };
        let started_at = OffsetDateTime::from(self.inner.started);
        let uptime = SystemTime::now()
            .duration_since(self.inner.started)
            .unwrap_or_default();
        let oldest_age_seconds = queue
            .oldest_due_at
            .map_or(0.0, |t| ((now_ms - t).max(0)) as f64 / 1000.0);
        Ok(SystemHealth {
            version: env!("CARGO_PKG_VERSION").to_owned(),
            started_at,
            uptime_seconds: uptime.as_secs(),
            readiness,
            database: facts.database,
            disk: facts.disk,
            queue: QueueHealth {
                queued: queue.queued(),
                sending: queue.sending,
                oldest_age_seconds,
                by_group: queue
                    .by_group
                    .iter()
                    .map(|(g, n)| GroupQueue {
                        group: g.clone(),
                        queued: *n,
                    })
                    .collect(),
            },
            backup: facts.backup,
            tls: facts.tls,
            modems: modems.iter().map(|m| modem_health(m, &queue)).collect(),
        })
    }

    /// The Prometheus text exposition of this gateway (see [`crate::ops::metrics`]).
    pub async fn metrics_text(&self) -> AppResult<String> {
        let h = self.collect_health().await?;
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs_f64();
        let snapshot = Snapshot {
            version: h.version.clone(),
            now,
            process: crate::ops::metrics::process_sample(unix_seconds(h.started_at)),
            ready: h.readiness.ready,
            database_ok: h.readiness.database == "ok",
            database_bytes: h.database.bytes,
            wal_bytes: h.database.wal_bytes,
            disk_free_bytes: h.disk.as_ref().map(|d| d.free_bytes),
            queued_by_group: h
                .queue
                .by_group
                .iter()
                .map(|g| (g.group.clone().unwrap_or_default(), g.queued))
                .collect(),
            sending: h.queue.sending,
            oldest_queued_age: Some(h.queue.oldest_age_seconds),
            backups: h.backup.count,
            last_backup: h.backup.last_at.map(unix_seconds),
            certificate_not_after: h.tls.not_after.map(unix_seconds),
            modems: h
                .modems
                .iter()
                .map(|m| ModemSample {
                    id: m.id.clone(),
                    name: m.name.clone(),
                    port: m.port.clone().unwrap_or_default(),
                    group: m.group.clone().unwrap_or_default(),
                    operator: m.operator.clone().unwrap_or_default(),
                    model: m.model.clone().unwrap_or_default(),
                    up: m.up,
                    phase: m.state.clone(),
                    rssi: m.signal,
                    sent_parts: m.sent_parts,
                    received: m.received,
                    failed_attempts: m.failed_attempts,
                    queue: m.queue,
                })
                .collect(),
        };
        Ok(crate::ops::metrics::render(&snapshot, self.metrics()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bars_follow_rssi() {
        let cases = [
            (None, 0),
            (Some(0), 0),
            (Some(3), 1),
            (Some(12), 2),
            (Some(13), 3),
            (Some(31), 4),
            (Some(99), 0),
        ];
        for (rssi, bars) in cases {
            assert_eq!(signal_bars(rssi), bars, "{rssi:?}");
        }
    }

    #[test]
    fn modem_queue_counts_its_group_and_the_shared_queue() {
        let queue = QueueStats {
            by_group: vec![(None, 2), (Some("otp".into()), 5), (Some("uk".into()), 7)],
            sending: 0,
            oldest_due_at: None,
        };
        let record = |group: Option<&str>| ModemRecord {
            id: "860000000000001".into(),
            name: None,
            port: Some("/dev/gsm/a".into()),
            group: group.map(str::to_owned),
            up: true,
            sent_parts: 1,
            received: 2,
            errors: 3,
            state: serde_json::json!({"phase": "ready", "signal": 20, "operator": "Sim", "last_error": ""}),
            updated_at: OffsetDateTime::UNIX_EPOCH,
        };
        let cases = [(Some("otp"), 7), (Some("uk"), 9), (Some("default"), 2), (None, 2)];
        for (group, expect) in cases {
            let h = modem_health(&record(group), &queue);
            assert_eq!(h.queue, expect, "{group:?}");
            assert_eq!((h.bars, h.last_error.as_deref(), h.name.as_str()), (4, None, "a"));
        }
    }
}
