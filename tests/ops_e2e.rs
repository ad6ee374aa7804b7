//! Monitoring end to end through the real binary: `smsgate serve --sim 2` with a `[metrics]` token;
//! `/metrics` over HTTPS refuses scrapes without the token, serves the text format with it (checked by a
//! small parser here and by Prometheus' own `promtool check metrics`), and its counters move after an
//! SMS goes out through a simulated modem; no account login or phone number appears in it.
//! `smsgate status` prints the modem table from the same gateway, with a password and with a token.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers outside #[test] fns

mod common;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use serde_json::{Value, json};

const ADMIN_PASSWORD: &str = "ops-e2e operator secret 42";
const METRICS_TOKEN: &str = "metrics-token-0123456789abcdef";
/// A client whose login and recipient must never show up in the metrics.
const CLIENT_LOGIN: &str = "zoe-private-login";
const RECIPIENT: &str = "+48699123456";

struct Serve {
    child: Child,
    lines: mpsc::Receiver<String>,
    seen: Vec<String>,
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Serve {
    fn start(config: &Path) -> Serve {
        let mut child = Command::new(env!("CARGO_BIN_EXE_smsgate"))
            .args(["serve", "--sim", "2", "--config"])
            .arg(config)
            .env("SMSGATE_ADMIN_PASSWORD", ADMIN_PASSWORD)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Serve {
            child,
            lines,
            seen: Vec::new(),
        }
    }

    fn wait_for(&mut self, needle: &str) -> String {
        loop {
            if let Some(line) = self.seen.iter().find(|l| l.contains(needle)) {
                return line.clone();
            }
            match self.lines.recv_timeout(Duration::from_secs(60)) {
                Ok(line) => self.seen.push(line),
                Err(_) => panic!("`{needle}` not printed; got {:?}", self.seen),
            }
        }
    }
}

/// A sample's name with its labels sorted (`name{a="1",b="2"}`) → value. Fails on any line that is not
/// a comment, a blank line or `name{labels} value`.
fn parse_text_format(text: &str) -> BTreeMap<String, f64> {
    let mut out = BTreeMap::new();
    let mut typed = std::collections::HashSet::new();
    for line in text.lines() {
        if line.is_empty() {
            continue;
        }
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let mut it = rest.split(' ');
            let name = it.next().unwrap();
            let kind = it.next().unwrap();
            assert!(
                ["counter", "gauge", "histogram", "summary", "untyped"].contains(&kind),
                "{line}"
            );
            assert!(typed.insert(name.to_owned()), "TYPE twice for {name}");
            continue;
        }
        if line.starts_with('#') {
            assert!(line.starts_with("# HELP "), "unknown comment {line}");
            continue;
        }
        let (series, value) = line.rsplit_once(' ').unwrap();
        let value: f64 = match value {
            "+Inf" => f64::INFINITY,
            "-Inf" => f64::NEG_INFINITY,
            v => v.parse().unwrap_or_else(|_| panic!("bad value in {line}")),
        };
        let (name, labels) = match series.split_once('{') {
            Some((n, l)) => (n, l.strip_suffix('}').unwrap_or_else(|| panic!("{line}"))),
            None => (series, ""),
        };
        assert!(
            name.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':'),
            "bad metric name in {line}"
        );
        let mut pairs: Vec<String> = Vec::new();
        let mut rest = labels;
        while !rest.is_empty() {
            let (key, after) = rest.split_once("=\"").unwrap_or_else(|| panic!("{line}"));
            // The value ends at the first quote not escaped by a backslash.
            let mut end = None;
            let mut escaped = false;
            for (i, c) in after.char_indices() {
                match c {
                    '\\' if !escaped => escaped = true,
                    '"' if !escaped => {
                        end = Some(i);
                        break;
                    }
                    _ => escaped = false,
                }
            }
            let end = end.unwrap_or_else(|| panic!("unterminated label in {line}"));
            pairs.push(format!("{key}=\"{}\"", &after[..end]));
            rest = after[end + 1..].strip_prefix(',').unwrap_or(&after[end + 1..]);
        }
        pairs.sort();
        let key = if pairs.is_empty() {
            name.to_owned()
        } else {
            format!("{name}{{{}}}", pairs.join(","))
        };
        assert!(out.insert(key.clone(), value).is_none(), "duplicate series {key}");
    }
    out
}

/// Sum of every series of `name` whose labels contain all of `with`.
fn sum(samples: &BTreeMap<String, f64>, name: &str, with: &[&str]) -> f64 {
    samples
        .iter()
        .filter(|(k, _)| {
            (k.as_str() == name || k.starts_with(&format!("{name}{{"))) && with.iter().all(|w| k.contains(w))
        })
        .map(|(_, v)| v)
        .sum()
}

fn promtool_check(text: &str) {
    let mut child = common::tool("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(text.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "promtool check metrics failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

async fn scrape(http: &reqwest::Client, base: &str, token: Option<&str>) -> reqwest::Response {
    let mut r = http.get(format!("{base}/metrics"));
    if let Some(t) = token {
        r = r.bearer_auth(t);
    }
    r.send().await.unwrap()
}

async fn wait<T>(what: &str, mut probe: impl AsyncFnMut() -> Option<T>) -> T {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(v) = probe().await {
            return v;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn status(config: &Path, base: &str, env: &[(&str, &str)], extra: &[&str]) -> (bool, String, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_smsgate"));
    cmd.arg("status")
        .arg("--config")
        .arg(config)
        .args(["--url", base])
        .args(extra)
        .env_remove("SMSGATE_TOKEN")
        .env_remove("SMSGATE_PASSWORD");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_over_https_and_status_from_the_real_binary() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let config = dir.path().join("smsgate.toml");
    std::fs::write(
        &config,
        format!(
            "version = 1\ndata_dir = {:?}\n[http]\nlisten = [\"127.0.0.1:0\"]\n[metrics]\ntoken = \"{METRICS_TOKEN}\"\n",
            data.display().to_string()
        ),
    )
    .unwrap();
    let mut serve = Serve::start(&config);
    let api = serve.wait_for("API:");
    let base = api
        .split_whitespace()
        .find(|w| w.starts_with("https://"))
        .unwrap()
        .trim_end_matches("/api/v1/")
        .to_owned();
    assert!(serve.wait_for("Metrics:").contains("/metrics"));
    let http = common::client(&data.join("tls/ca.pem"));

    // Refused without the token, or with a wrong one; the refusal says nothing about the gateway.
    for token in [None, Some("wrong-token-0123456789abcdef")] {
        let r = scrape(&http, &base, token).await;
        assert_eq!(r.status(), 401, "{token:?}");
        assert!(!r.text().await.unwrap().contains("smsgate_"));
    }

    wait("a simulated modem ready", async || {
        let r = http.get(format!("{base}/readyz")).send().await.ok()?;
        (r.status() == 200).then_some(())
    })
    .await;
    let r = scrape(&http, &base, Some(METRICS_TOKEN)).await;
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.headers()["content-type"],
        "text/plain; version=0.0.4; charset=utf-8"
    );
    let before_text = r.text().await.unwrap();
    let before = parse_text_format(&before_text);
    promtool_check(&before_text);
    assert_eq!(sum(&before, "smsgate_ready", &[]), 1.0);
    assert_eq!(sum(&before, "smsgate_modems", &[]), 2.0);
    assert!(sum(&before, "smsgate_modem_state", &["state=\"ready\""]) >= 1.0);
    assert!(sum(&before, "smsgate_modem_signal_rssi", &[]) > 0.0);
    assert!(sum(&before, "process_resident_memory_bytes", &[]) > 0.0);
    assert!(sum(&before, "smsgate_tls_certificate_expiry_timestamp_seconds", &[]) > 1.7e9);

    // A client sends through the simulated modems; the counters and histograms move.
    let admin = ("admin", ADMIN_PASSWORD);
    let created = http
        .post(format!("{base}/api/v1/accounts"))
        .basic_auth(admin.0, Some(admin.1))
        .json(&json!({"login": CLIENT_LOGIN, "password": "zoe's long password 77", "role": "client"}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201, "{}", created.text().await.unwrap());
    let sent: Value = http
        .post(format!("{base}/api/v1/messages"))
        .basic_auth(CLIENT_LOGIN, Some("zoe's long password 77"))
        .json(&json!({"to": RECIPIENT, "text": "metrics e2e"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = sent["messages"][0]["id"].as_str().unwrap().to_owned();
    wait("the message sent", async || {
        let m: Value = http
            .get(format!("{base}/api/v1/messages/{id}"))
            .basic_auth(CLIENT_LOGIN, Some("zoe's long password 77"))
            .send()
            .await
            .ok()?
            .json()
            .await
            .ok()?;
        ["sent", "delivered"]
            .contains(&m["status"].as_str()?)
            .then_some(())
    })
    .await;
    let after_text = scrape(&http, &base, Some(METRICS_TOKEN))
        .await
        .text()
        .await
        .unwrap();
    let after = parse_text_format(&after_text);
    promtool_check(&after_text);
    let parts = |s: &BTreeMap<String, f64>| sum(s, "smsgate_modem_sent_parts_total", &[]);
    assert_eq!(parts(&after), parts(&before) + 1.0, "one part sent");
    assert!(
        sum(&after, "smsgate_modem_send_duration_seconds_count", &[])
            >= sum(&before, "smsgate_modem_send_duration_seconds_count", &[]) + 1.0
    );
    assert!(
        sum(
            &after,
            "smsgate_http_requests_total",
            &["method=\"POST\"", "route=\"/api/v1/messages\"", "status=\"202\""]
        ) >= 1.0,
        "request counted by route template"
    );
    assert!(
        sum(
            &after,
            "smsgate_http_requests_total",
            &["route=\"/api/v1/messages/{id}\"", "status=\"200\""]
        ) >= 1.0,
        "the raw path with the id is never a label"
    );
    assert!(!after_text.contains(&id), "no message id in the metrics");
    assert!(
        !after_text.contains(CLIENT_LOGIN),
        "no account login in the metrics"
    );
    assert!(
        !after_text.contains(&RECIPIENT[1..]),
        "no phone number in the metrics"
    );
    // The scrape refused above is counted too, under its route template.
    assert!(
        sum(
            &after,
            "smsgate_http_requests_total",
            &["route=\"/metrics\"", "status=\"401\""]
        ) >= 2.0
    );

    // `smsgate status` through the binary: with the admin's password ...
    let (ok, out, err) = status(
        &config,
        &base,
        &[("SMSGATE_PASSWORD", ADMIN_PASSWORD)],
        &["--user", "admin"],
    );
    assert!(ok, "{out}{err}");
    assert!(out.contains("READY (2/2 modems ready)"), "{out}");
    assert!(out.contains("MODEM") && out.contains("SENT/FAILED"), "{out}");
    let modem_lines = out.lines().filter(|l| l.contains(" ready ")).count();
    assert_eq!(modem_lines, 2, "{out}");
    assert!(out.contains("TLS:      expires"), "{out}");
    // ... with an operator's API token, as JSON ...
    let token: Value = http
        .post(format!("{base}/api/v1/tokens"))
        .basic_auth(admin.0, Some(admin.1))
        .json(&json!({"name": "status"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = token["token"].as_str().unwrap();
    let (ok, out, err) = status(&config, &base, &[("SMSGATE_TOKEN", token)], &["--json"]);
    assert!(ok, "{out}{err}");
    let json: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(json["modems"].as_array().unwrap().len(), 2);
    assert!(
        json["modems"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["sent_parts"].as_u64().unwrap())
            .sum::<u64>()
            >= 1
    );
    // ... refused for a client, and a clear message without credentials.
    let (ok, _, err) = status(
        &config,
        &base,
        &[("SMSGATE_PASSWORD", "zoe's long password 77")],
        &["--user", CLIENT_LOGIN],
    );
    assert!(!ok && err.contains("403"), "{err}");
    let (ok, _, err) = status(&config, &base, &[], &[]);
    assert!(!ok && err.contains("SMSGATE_TOKEN"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_off_by_default_and_address_list_enforced() {
    let off = common::start().await;
    let r = scrape(&off.http(), &off.base, Some(METRICS_TOKEN)).await;
    assert_eq!(r.status(), 404);

    // Only 192.0.2.0/24 may scrape; the test connects from 127.0.0.1.
    let elsewhere =
        common::start_with(|s| s.metrics.allow = vec!["192.0.2.0/24".parse().unwrap()], false).await;
    assert_eq!(
        scrape(&elsewhere.http(), &elsewhere.base, None).await.status(),
        403
    );
    let here = common::start_with(|s| s.metrics.allow = vec!["127.0.0.0/8".parse().unwrap()], false).await;
    let r = scrape(&here.http(), &here.base, None).await;
    assert_eq!(r.status(), 200);
    let text = r.text().await.unwrap();
    parse_text_format(&text);
    assert!(text.contains("smsgate_ready 0\n"), "no modem: not ready");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn routing_rules_over_the_rest_api() {
    let gw = common::start().await;
    let http = gw.http();
    let url = gw.url("/api/v1/routing");
    let current: Value = http
        .get(&url)
        .basic_auth("root", Some(common::PASSWORD))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(current["rules"], json!([]));
    let revision = current["revision"].as_str().unwrap().to_owned();
    let body = json!({"rules": [{"prefix": "+4860", "group": "default"}], "revision": revision});
    // Clients may not, an invalid rule is named, a stale revision conflicts.
    let r = http
        .put(&url)
        .basic_auth("alice", Some(common::PASSWORD))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let bad = json!({"rules": [{"prefix": "4860", "group": "default"}], "revision": revision});
    let r = http
        .put(&url)
        .basic_auth("root", Some(common::PASSWORD))
        .json(&bad)
        .send()
        .await
        .unwrap();
    common::assert_problem(r, 422, Some("rules[0].prefix")).await;
    let r = http
        .put(&url)
        .basic_auth("root", Some(common::PASSWORD))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let saved: Value = r.json().await.unwrap();
    assert_eq!(saved["rules"][0]["prefix"], "+4860");
    let r = http
        .put(&url)
        .basic_auth("root", Some(common::PASSWORD))
        .json(&body)
        .send()
        .await
        .unwrap();
    common::assert_problem(r, 409, None).await;
    // The next message follows the rule.
    let sent: Value = gw
        .send_as("alice", json!({"to": "+48601000111", "text": "routed"}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(sent["messages"][0]["group"], "default");
}
