//! `smsgate modem ...` against a running gateway: the technician commands go through its REST API
//! (`/api/v1/modems/...`) over HTTPS, so the gateway keeps owning the ports and every action is checked
//! and audited there. The server is trusted through a CA file: `--ca`, else the data directory's own CA
//! (`<data_dir>/tls/ca.pem`, found with `--config`/`--data-dir` like `smsgate account`).
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, anyhow, bail};
use clap::Args;
use serde_json::{Value, json};
use smsgate::tls::config::read_certs;

use super::settings::DataArgs;

/// How to reach a running gateway.
#[derive(Debug, Args)]
pub struct Remote {
    /// Base URL of the gateway, e.g. https://gateway.example:8443. Default: the first `http.listen`
    /// address of the configuration (0.0.0.0 as localhost).
    #[arg(long, env = "SMSGATE_URL")]
    pub url: Option<String>,
    /// Login (HTTP Basic) of an admin or technician account.
    #[arg(long, env = "SMSGATE_USER")]
    pub user: Option<String>,
    /// Password of `--user`.
    #[arg(long, env = "SMSGATE_PASSWORD", hide_env_values = true)]
    pub password: Option<String>,
    /// API token instead of a login (`smsg_...`).
    #[arg(long, env = "SMSGATE_TOKEN", hide_env_values = true, conflicts_with = "user")]
    pub token: Option<String>,
    /// CA certificate (PEM) that signed the gateway's certificate. Default: `<data_dir>/tls/ca.pem`.
    #[arg(long, env = "SMSGATE_CA", value_name = "FILE")]
    pub ca: Option<PathBuf>,
    #[command(flatten)]
    pub data: DataArgs,
}

/// A logged-in REST client of one gateway.
pub struct Client {
    http: reqwest::Client,
    base: String,
    auth: Auth,
}

enum Auth {
    Basic(String, String),
    Bearer(String),
}

/// Longest a request may take: the longest raw AT command (180 s) plus the queue and the network.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(200);

impl Client {
    /// Connects per the flags, environment and configuration.
    pub fn new(remote: &Remote) -> anyhow::Result<Client> {
        let needs_settings = remote.url.is_none() || remote.ca.is_none();
        let settings = if needs_settings {
            Some(remote.data.settings()?)
        } else {
            None
        };
        let base = match (&remote.url, &settings) {
            (Some(u), _) => u.trim_end_matches('/').to_owned(),
            (None, Some(s)) => {
                let addr = s
                    .http
                    .listen
                    .first()
                    .ok_or_else(|| anyhow!("no http.listen address configured: pass --url"))?;
                let host = if addr.ip().is_unspecified() {
                    "localhost".to_owned()
                } else if addr.is_ipv6() {
                    format!("[{}]", addr.ip())
                } else {
                    addr.ip().to_string()
                };
                format!("https://{host}:{}", addr.port())
            }
            (None, None) => bail!("pass --url"),
        };
        let ca = match (&remote.ca, &settings) {
            (Some(ca), _) => ca.clone(),
            (None, Some(s)) => s.data_dir.join("tls").join("ca.pem"),
            (None, None) => bail!("pass --ca"),
        };
        let mut roots = rustls::RootCertStore::empty();
        let certs = read_certs(&ca).with_context(|| {
            format!(
                "reading the gateway's CA {} (pass --ca, or --config/--data-dir of the gateway)",
                ca.display()
            )
        })?;
        for c in certs {
            roots.add(c).context("adding the CA certificate")?;
        }
        let tls = rustls::ClientConfig::builder_with_provider(smsgate::tls::provider())
            .with_safe_default_protocol_versions()
            .context("TLS setup")?
            .with_root_certificates(roots)
            .with_no_client_auth();
        let http = reqwest::Client::builder()
            .use_preconfigured_tls(tls)
            .timeout(REQUEST_TIMEOUT)
            .build()
            .context("HTTP client")?;
        let auth = match (&remote.token, &remote.user, &remote.password) {
            (Some(t), _, _) => Auth::Bearer(t.clone()),
            (None, Some(u), Some(p)) => Auth::Basic(u.clone(), p.clone()),
            (None, Some(_), None) => bail!("--user needs --password (or SMSGATE_PASSWORD)"),
            (None, None, _) => bail!("pass --user and --password, or --token (or their SMSGATE_* variables)"),
        };
        Ok(Client { http, base, auth })
    }

    fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        let r = self.http.request(method, format!("{}/api/v1{path}", self.base));
        match &self.auth {
            Auth::Basic(u, p) => r.basic_auth(u, Some(p)),
            Auth::Bearer(t) => r.bearer_auth(t),
        }
    }

    /// Sends a request and returns the JSON answer; a problem document becomes an error naming it.
    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> anyhow::Result<Value> {
        let mut r = self.request(method, path);
        if let Some(b) = body {
            r = r.json(&b);
        }
        let response = r
            .send()
            .await
            .with_context(|| format!("cannot reach the gateway at {}", self.base))?;
        let status = response.status();
        let text = response.text().await.context("reading the answer")?;
        let json: Value = serde_json::from_str(&text).unwrap_or(Value::String(text));
        if status.is_success() {
            return Ok(json);
        }
        let title = json["title"].as_str().unwrap_or("request failed");
        match json["detail"].as_str() {
            Some(detail) => bail!("{title} ({}): {detail}", status.as_u16()),
            None => bail!("{title} ({})", status.as_u16()),
        }
    }

    async fn get(&self, path: &str) -> anyhow::Result<Value> {
        self.call(reqwest::Method::GET, path, None).await
    }

    async fn post(&self, path: &str, body: Value) -> anyhow::Result<Value> {
        self.call(reqwest::Method::POST, path, Some(body)).await
    }
}

/// The id as a path segment.
fn seg(id: &str) -> String {
    percent_encoding::utf8_percent_encode(id, percent_encoding::NON_ALPHANUMERIC).to_string()
}

fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => "-".into(),
        other => other.to_string(),
    }
}

/// `smsgate modem list`.
pub async fn list(remote: &Remote, json_out: bool) -> anyhow::Result<()> {
    let client = Client::new(remote)?;
    let list = client.get("/modems").await?;
    if json_out {
        println!("{}", serde_json::to_string_pretty(&list)?);
        return Ok(());
    }
    let rows: Vec<[String; 9]> = list["items"]
        .as_array()
        .map(|items| {
            items
                .iter()
                .map(|m| {
                    let s = &m["state"];
                    [
                        text(&m["id"]),
                        text(&m["port"]),
                        text(&s["phase"]),
                        text(&s["signal"]),
                        text(&s["operator"]),
                        s["registration"]
                            .as_u64()
                            .and_then(|r| u8::try_from(r).ok())
                            .map_or("-".into(), super::modem::describe_registration),
                        text(&m["queue_depth"]),
                        format!("{}/{}", text(&m["sent_parts"]), text(&m["errors"])),
                        text(&s["last_error"]),
                    ]
                })
                .collect()
        })
        .unwrap_or_default();
    let header = [
        "ID",
        "PORT",
        "STATE",
        "CSQ",
        "OPERATOR",
        "REGISTRATION",
        "QUEUE",
        "SENT/ERR",
        "LAST ERROR",
    ];
    let mut widths = header.map(str::len);
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: &[String]| {
        cells
            .iter()
            .zip(widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect::<Vec<_>>()
            .join("  ")
            .trim_end()
            .to_owned()
    };
    println!("{}", line(&header.map(str::to_owned)));
    for row in &rows {
        println!("{}", line(row));
    }
    if rows.is_empty() {
        eprintln!("(no modems)");
    }
    Ok(())
}

/// `smsgate modem info <id>`.
pub async fn info(remote: &Remote, id: &str, json_out: bool) -> anyhow::Result<()> {
    let client = Client::new(remote)?;
    let m = client.get(&format!("/modems/{}", seg(id))).await?;
    if json_out {
        println!("{}", serde_json::to_string_pretty(&m)?);
        return Ok(());
    }
    let s = &m["state"];
    let settings = &m["settings"];
    let rows = [
        ("id", text(&m["id"])),
        ("port", text(&m["port"])),
        ("state", text(&s["phase"])),
        ("manufacturer", text(&s["manufacturer"])),
        ("model", text(&s["model"])),
        ("firmware", text(&s["firmware"])),
        ("IMEI", text(&s["imei"])),
        ("IMSI", text(&s["imsi"])),
        ("ICCID", text(&s["iccid"])),
        ("own number", text(&s["own_number"])),
        ("operator", text(&s["operator"])),
        (
            "registration",
            s["registration"]
                .as_u64()
                .and_then(|r| u8::try_from(r).ok())
                .map_or("-".into(), super::modem::describe_registration),
        ),
        ("signal (CSQ)", text(&s["signal"])),
        ("group", text(&m["group"])),
        ("queue", text(&m["queue_depth"])),
        ("sent parts", text(&m["sent_parts"])),
        ("received", text(&m["received"])),
        ("errors", text(&m["errors"])),
        ("last error", text(&s["last_error"])),
        ("PIN set", text(&settings["pin_set"])),
        ("SMSC setting", text(&settings["smsc"])),
        ("per minute", text(&settings["per_minute"])),
        ("daily quota", text(&settings["daily_quota"])),
        ("monthly quota", text(&settings["monthly_quota"])),
    ];
    for (k, v) in rows {
        println!("{k:<14}{v}");
    }
    Ok(())
}

/// `smsgate modem at <id> <command>`: prints the lines and the final result; fails when the modem
/// did not answer OK.
pub async fn at(remote: &Remote, id: &str, command: &str, timeout: Duration) -> anyhow::Result<()> {
    let client = Client::new(remote)?;
    let reply = client
        .post(
            &format!("/modems/{}/at", seg(id)),
            json!({"command": command, "timeout_seconds": timeout.as_secs().max(1)}),
        )
        .await?;
    for line in reply["lines"].as_array().into_iter().flatten() {
        println!("{}", text(line));
    }
    println!("{}", text(&reply["result"]));
    if reply["ok"] != Value::Bool(true) {
        bail!("the modem answered {}", text(&reply["result"]));
    }
    Ok(())
}

/// `smsgate modem send <id> <number> <text>`: queues a test SMS through that modem; with `wait`,
/// follows it until it is sent (or fails).
pub async fn send(remote: &Remote, id: &str, number: &str, body: &str, wait: Duration) -> anyhow::Result<()> {
    let client = Client::new(remote)?;
    let m = client
        .post(
            &format!("/modems/{}/sms", seg(id)),
            json!({"to": number, "text": body}),
        )
        .await?;
    let msg = text(&m["id"]);
    println!("queued: message {msg} ({} part(s))", text(&m["parts"]));
    if wait.is_zero() {
        return Ok(());
    }
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        let detail = client.get(&format!("/messages/{}", seg(&msg))).await?;
        let status = text(&detail["status"]);
        match status.as_str() {
            "sent" | "delivered" => {
                println!("{status} via {}", text(&detail["modem"]));
                return Ok(());
            }
            "failed" | "expired" | "cancelled" | "uncertain" => {
                bail!("message {status}: {}", text(&detail["error"]))
            }
            _ => {}
        }
        if tokio::time::Instant::now() >= deadline {
            bail!("still {status} after {}s", wait.as_secs());
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// `smsgate modem ussd <id> <code>`.
pub async fn ussd(remote: &Remote, id: &str, code: &str) -> anyhow::Result<()> {
    let client = Client::new(remote)?;
    let reply = client
        .post(&format!("/modems/{}/ussd", seg(id)), json!({"code": code}))
        .await?;
    println!("{}", reply["text"].as_str().unwrap_or("(no text)"));
    if reply["status"].as_u64() == Some(u64::from(smsgate::modem::actor::USSD_ACTION_REQUIRED)) {
        eprintln!("(the network expects an answer)");
    }
    Ok(())
}

/// `smsgate modem restart <id>`.
pub async fn restart(remote: &Remote, id: &str) -> anyhow::Result<()> {
    let client = Client::new(remote)?;
    client
        .post(&format!("/modems/{}/restart", seg(id)), json!({}))
        .await?;
    println!("restarting {id}");
    Ok(())
}
