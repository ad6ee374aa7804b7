//! `smsgate status`: the running gateway at a glance in a terminal: a table of modems (name, IMEI,
//! operator, signal bars, state, queue, sent/failed, last error) and one line each for readiness, queue,
//! database, backup and TLS certificate. It asks the gateway's `GET /api/v1/system` over HTTPS, as an
//! operator (API token in `SMSGATE_TOKEN`, or `--user` with the password in `SMSGATE_PASSWORD`).
//!
//! Exit status 0 when the gateway is ready, 1 when it is not (the table is printed either way) or cannot
//! be reached.
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::Args;
use smsgate::app::health::{ModemHealth, SystemHealth};
use smsgate::config::Settings;
use smsgate::ops::human::{bytes, duration};

use super::settings::DataArgs;

/// Environment variable with an API token (`smsg_...`) of an admin or technician.
pub const TOKEN_ENV: &str = "SMSGATE_TOKEN";
/// Environment variable with the password for `--user`.
pub const PASSWORD_ENV: &str = "SMSGATE_PASSWORD";
/// How long the whole request may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// Longest last-error text shown in the table (the panel shows it whole).
const MAX_ERROR_WIDTH: usize = 40;

/// Arguments of `smsgate status`.
#[derive(Debug, Args)]
pub struct StatusArgs {
    #[command(flatten)]
    pub data: DataArgs,
    /// Base URL of the gateway. Default: https://localhost:<port of the first http.listen>.
    #[arg(long, value_name = "URL")]
    pub url: Option<String>,
    /// CA certificate to trust. Default: the appliance CA `<data_dir>/tls/ca.pem` when present, plus the
    /// system bundle.
    #[arg(long, value_name = "FILE")]
    pub ca: Option<PathBuf>,
    /// Log in with this login (password in SMSGATE_PASSWORD) instead of the token in SMSGATE_TOKEN.
    #[arg(long, value_name = "LOGIN")]
    pub user: Option<String>,
    /// Print the gateway's answer as JSON instead of the table.
    #[arg(long)]
    pub json: bool,
}

/// The URL to use when none is given: the first HTTPS listener, by a name its certificate carries.
fn default_url(settings: &Settings) -> String {
    let addr = settings
        .http
        .listen
        .first()
        .copied()
        .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 443)));
    let host = if addr.ip().is_unspecified() || addr.ip().is_loopback() {
        // The appliance certificate always names localhost.
        "localhost".to_owned()
    } else if addr.is_ipv6() {
        format!("[{}]", addr.ip())
    } else {
        addr.ip().to_string()
    };
    format!("https://{host}:{}", addr.port())
}

pub fn run(args: StatusArgs) -> anyhow::Result<()> {
    let settings = args.data.settings()?;
    let url = args.url.clone().unwrap_or_else(|| default_url(&settings));
    let ca = args.ca.clone().or_else(|| {
        let own = settings.data_dir.join("tls").join("ca.pem");
        own.exists().then_some(own)
    });
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let health = runtime.block_on(fetch(&url, ca, args.user.as_deref()))?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&health)?);
    } else {
        print!("{}", render(&health));
    }
    if !health.readiness.ready {
        bail!(
            "the gateway is not ready: {}",
            health.readiness.problems.join("; ")
        );
    }
    Ok(())
}

async fn fetch(base: &str, ca: Option<PathBuf>, user: Option<&str>) -> anyhow::Result<SystemHealth> {
    let roots = match &ca {
        Some(path) => smsgate::tls::config::read_certs(path)
            .with_context(|| format!("cannot read the CA certificate {}", path.display()))?,
        None => Vec::new(),
    };
    let client = smsgate::http::client::outbound_client(&roots, REQUEST_TIMEOUT)?;
    let url = format!("{}/api/v1/system", base.trim_end_matches('/'));
    let request = client.get(&url);
    let request = match user {
        Some(login) => {
            let password = std::env::var(PASSWORD_ENV)
                .with_context(|| format!("--user needs the password in {PASSWORD_ENV}"))?;
            request.basic_auth(login, Some(password))
        }
        None => {
            let token = std::env::var(TOKEN_ENV).with_context(|| {
                format!("set {TOKEN_ENV} to an admin or technician API token, or use --user LOGIN with {PASSWORD_ENV}")
            })?;
            request.bearer_auth(token.trim())
        }
    };
    let response = request
        .send()
        .await
        .with_context(|| format!("cannot reach the gateway at {url}"))?;
    let status = response.status();
    if !status.is_success() {
        let body = response.text().await.unwrap_or_default();
        let detail = serde_json::from_str::<serde_json::Value>(&body)
            .ok()
            .and_then(|v| v["detail"].as_str().or(v["title"].as_str()).map(str::to_owned))
            .unwrap_or(body);
        bail!("{url}: {status}: {detail}");
    }
    response
        .json::<SystemHealth>()
        .await
        .with_context(|| format!("{url} did not answer with system health"))
}

/// Bars as a four-character gauge, e.g. `▂▄▆_` for 3 of 4.
fn bars(n: u8) -> String {
    const STEPS: [char; 4] = ['▂', '▄', '▆', '█'];
    STEPS
        .iter()
        .enumerate()
        .map(|(i, c)| if (i as u8) < n { *c } else { '_' })
        .collect()
}

fn clip(s: &str, width: usize) -> String {
    if s.chars().count() <= width {
        s.to_owned()
    } else {
        let mut out: String = s.chars().take(width.saturating_sub(1)).collect();
        out.push('…');
        out
    }
}

fn row(m: &ModemHealth) -> Vec<String> {
    let dash = || "-".to_owned();
    vec![
        m.name.clone(),
        m.imei.clone().unwrap_or_else(dash),
        m.operator.clone().unwrap_or_else(dash),
        format!(
            "{} {}",
            bars(m.bars),
            m.signal.map_or_else(dash, |s| s.to_string())
        ),
        m.state.clone(),
        m.queue.to_string(),
        format!("{}/{}", m.sent_parts, m.failed_attempts),
        clip(m.last_error.as_deref().unwrap_or(""), MAX_ERROR_WIDTH),
    ]
}

/// The table and summary lines (pure, so it is tested without a gateway).
pub fn render(h: &SystemHealth) -> String {
    let mut out = String::new();
    let r = &h.readiness;
    let verdict = if r.ready { "READY" } else { "NOT READY" };
    out.push_str(&format!(
        "smsgate {}: {verdict} ({}/{} modems ready), up {}\n",
        h.version,
        r.modems_ready,
        r.modems_total,
        duration(h.uptime_seconds)
    ));
    for p in &r.problems {
        out.push_str(&format!("  ! {p}\n"));
    }
    out.push('\n');
    let header: Vec<String> = [
        "MODEM",
        "IMEI",
        "OPERATOR",
        "SIGNAL",
        "STATE",
        "QUEUE",
        "SENT/FAILED",
        "LAST ERROR",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect();
    let rows: Vec<Vec<String>> = std::iter::once(header).chain(h.modems.iter().map(row)).collect();
    let widths: Vec<usize> = (0..rows[0].len())
        .map(|c| rows.iter().map(|r| r[c].chars().count()).max().unwrap_or(0))
        .collect();
    for r in &rows {
        let line: Vec<String> = r
            .iter()
            .zip(&widths)
            .map(|(cell, w)| format!("{cell}{}", " ".repeat(w - cell.chars().count())))
            .collect();
        out.push_str(line.join("  ").trim_end());
        out.push('\n');
    }
    if h.modems.is_empty() {
        out.push_str("(no modem configured or discovered)\n");
    }
    out.push('\n');
    let q = &h.queue;
    out.push_str(&format!(
        "queue:    {} queued, {} sending, oldest waiting {}\n",
        q.queued,
        q.sending,
        duration(q.oldest_age_seconds as u64)
    ));
    let disk = h.disk.as_ref().map_or_else(
        || "disk free unknown".to_owned(),
        |d| format!("{} free of {}", bytes(d.free_bytes), bytes(d.total_bytes)),
    );
    out.push_str(&format!(
        "database: {} (WAL {}), {disk}\n",
        bytes(h.database.bytes),
        bytes(h.database.wal_bytes)
    ));
    let b = &h.backup;
    let backup = match (&b.error, b.last_at, b.age_seconds) {
        (Some(e), _, _) => format!("cannot read {}: {e}", b.dir.display()),
        (None, Some(at), Some(age)) => format!(
            "last {} ({} ago), {} kept",
            at.format(&time::format_description::well_known::Rfc3339)
                .unwrap_or_default(),
            duration(age),
            b.count
        ),
        _ if b.interval_hours == 0 => "none (scheduled backups are off)".to_owned(),
        _ => format!("none yet (every {} h)", b.interval_hours),
    };
    out.push_str(&format!("backup:   {backup}\n"));
    let tls = match (&h.tls.error, h.tls.not_after, h.tls.days_left) {
        (Some(e), _, _) => format!("cannot read {}: {e}", h.tls.certificate.display()),
        (None, Some(at), Some(days)) => format!(
            "expires {} ({days} days)",
            at.format(&time::format_description::well_known::Rfc3339)
                .unwrap_or_default()
        ),
        _ => "unknown".to_owned(),
    };
    out.push_str(&format!("TLS:      {tls}\n"));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use smsgate::app::health::{BackupHealth, DatabaseHealth, QueueHealth, TlsHealth};
    use smsgate::ops::health::assess;

    fn modem(name: &str, bars: u8, state: &str, error: Option<&str>) -> ModemHealth {
        ModemHealth {
            id: format!("86{name}"),
            name: name.into(),
            imei: Some("860000000000001".into()),
            operator: Some("Sim Net".into()),
            model: None,
            port: None,
            group: Some("default".into()),
            state: state.into(),
            up: state == "ready",
            signal: Some(bars * 5),
            bars,
            queue: 4,
            sent_parts: 12,
            failed_attempts: 1,
            received: 0,
            last_error: error.map(str::to_owned),
        }
    }

    fn health(modems: Vec<ModemHealth>) -> SystemHealth {
        let ready = modems.iter().filter(|m| m.up).count();
        SystemHealth {
            version: "0.1.0".into(),
            started_at: time::OffsetDateTime::UNIX_EPOCH,
            uptime_seconds: 3720,
            readiness: assess(Ok(()), ready, modems.len()),
            database: DatabaseHealth {
                path: "/var/lib/smsgate/smsgate.db".into(),
                bytes: 1536 * 1024,
                wal_bytes: 0,
            },
            disk: None,
            queue: QueueHealth {
                queued: 4,
                sending: 1,
                oldest_age_seconds: 75.0,
                by_group: Vec::new(),
            },
            backup: BackupHealth {
                dir: "/var/lib/smsgate/backups".into(),
                count: 0,
                last_at: None,
                last_bytes: None,
                age_seconds: None,
                interval_hours: 24,
                error: None,
            },
            tls: TlsHealth {
                certificate: "/var/lib/smsgate/tls/server.pem".into(),
                not_after: None,
                days_left: None,
                error: Some("missing".into()),
            },
            modems,
        }
    }

    #[test]
    fn table_and_summary() {
        let cases: &[(Vec<ModemHealth>, &[&str])] = &[
            (
                vec![modem("sim1", 3, "ready", None)],
                &[
                    "READY (1/1 modems ready), up 1 h 2 min",
                    "MODEM  IMEI             OPERATOR  SIGNAL   STATE  QUEUE  SENT/FAILED  LAST ERROR",
                    "sim1   860000000000001  Sim Net   ▂▄▆_ 15  ready  4      12/1",
                    "queue:    4 queued, 1 sending, oldest waiting 1 min 15 s",
                    "database: 1.5 MiB (WAL 0 B), disk free unknown",
                    "backup:   none yet (every 24 h)",
                    "TLS:      cannot read /var/lib/smsgate/tls/server.pem: missing",
                ],
            ),
            (
                vec![modem("sim2", 0, "absent", Some(&"x".repeat(60)))],
                &[
                    "NOT READY (0/1 modems ready)",
                    "  ! none of 1 modems is ready",
                    "absent",
                    "xxx…",
                ],
            ),
            (
                Vec::new(),
                &["(no modem configured or discovered)", "! no modem configured"],
            ),
        ];
        for (modems, expect) in cases {
            let text = render(&health(modems.clone()));
            for e in *expect {
                assert!(text.contains(e), "{e:?} missing in\n{text}");
            }
        }
    }

    #[test]
    fn formats() {
        for (n, s) in [(0, "____"), (2, "▂▄__"), (4, "▂▄▆█")] {
            assert_eq!(bars(n), s);
        }
        for (n, s) in [(512, "512 B"), (2048, "2.0 KiB"), (5 << 30, "5.0 GiB")] {
            assert_eq!(bytes(n), s);
        }
        for (n, s) in [(59, "59 s"), (3600, "1 h 0 min"), (90_000, "1 d 1 h")] {
            assert_eq!(duration(n), s);
        }
        let mut s = Settings::default();
        assert_eq!(default_url(&s), "https://localhost:8443");
        s.http.listen = vec!["192.0.2.7:443".parse().unwrap()];
        assert_eq!(default_url(&s), "https://192.0.2.7:443");
    }
}
