//! The bank as a whole: links and manifest, the families' extra ports, the JSON-lines event log, and the
//! `hw-sim` binary with its `ctl` subcommand.
#![allow(clippy::expect_used, clippy::unwrap_used)] // test code: a failed expectation is the test failing
mod common;

use std::time::Duration;

use common::{AtPort, bank, free_port, wait_for};
use hw_sim::ProfileName;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn links_manifest_and_shutdown() {
    let (bank, _dir) = bank(3, |c| {
        c.profiles = vec![ProfileName::Generic, ProfileName::Wavecom]
    })
    .await;
    let modems = bank.modems();
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(bank.manifest_path()).unwrap()).unwrap();
    let listed = manifest["modems"].as_array().unwrap();
    assert_eq!(listed.len(), 3);
    for (m, j) in modems.iter().zip(listed) {
        assert_eq!(std::fs::read_link(&m.link).unwrap(), m.pty);
        assert_eq!(j["imei"], m.imei.as_str());
        assert_eq!(j["number"], m.number.as_str());
        assert_eq!(j["iccid"], m.iccid.as_str());
        assert_eq!(j["imsi"], m.imsi.as_str());
    }
    assert_eq!(modems[1].profile, ProfileName::Wavecom);
    assert_eq!(j_profile(&listed[2]), "generic");
    let links: Vec<_> = modems.iter().map(|m| m.link.clone()).collect();
    let manifest_path = bank.manifest_path();
    bank.shutdown().await;
    assert!(links.iter().all(|l| !l.exists()), "links removed on shutdown");
    assert!(!manifest_path.exists());
}

fn j_profile(v: &serde_json::Value) -> String {
    v["profile"].as_str().unwrap_or_default().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quectel_has_silent_extra_ports_and_one_at_port() {
    let (bank, _dir) = bank(1, |c| c.profile = ProfileName::QuectelEc25).await;
    let m = &bank.modems()[0];
    assert_eq!(m.extra_ports.len(), 3);
    for port in &m.extra_ports {
        let mut p = AtPort::open(port);
        p.write(b"AT\r").await;
        assert!(
            p.answer(Duration::from_millis(300)).await.is_none(),
            "{} answered AT",
            port.display()
        );
    }
    let mut at = AtPort::open(&m.link);
    assert!(at.cmd("AT").await.ends_with("OK\r\n"));
    bank.control().unplug(0).await.unwrap();
    assert!(
        m.extra_ports.iter().all(|p| !p.exists()),
        "the whole device goes away"
    );
    bank.control().replug(0).await.unwrap();
    assert!(m.extra_ports.iter().all(|p| p.exists()));
    bank.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_event_goes_to_the_json_lines_log() {
    let log = tempfile::NamedTempFile::new().unwrap();
    let path = log.path().to_path_buf();
    let (bank, _dir) = bank(2, |c| c.event_log = Some(path.clone())).await;
    let m = bank.modems();
    let mut p = AtPort::open(&m[0].link);
    p.cmd("ATE0").await;
    p.send_sms(&m[1].number, "logged", true).await;
    bank.control().inject_sms(0, "ACME", "hello").unwrap();
    bank.control().set_fault(1, hw_sim::Fault::Hung).await.unwrap();
    let kinds = wait_for("events", Duration::from_secs(5), || {
        let text = std::fs::read_to_string(&path).ok()?;
        let kinds: Vec<String> = text
            .lines()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).expect("each line is JSON"))
            .map(|v| v["kind"].as_str().unwrap_or_default().to_string())
            .collect();
        ["command", "sent", "delivered", "status-report", "inject", "fault"]
            .iter()
            .all(|k| kinds.iter().any(|x| x == k))
            .then_some(kinds)
    })
    .await;
    assert!(kinds.contains(&"stored".to_string()), "{kinds:?}");
    // A handle still alive must not keep shutdown (or the log writer) waiting.
    let held = bank.control();
    tokio::time::timeout(Duration::from_secs(5), bank.shutdown())
        .await
        .expect("shutdown finishes");
    assert!(held.inject_sms(0, "x", "y").is_err(), "the bank is gone");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn binary_prints_the_guide_and_ctl_drives_it() {
    use tokio::io::AsyncBufReadExt;
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let url = format!("http://127.0.0.1:{port}");
    let bin = env!("CARGO_BIN_EXE_hw-sim");
    let mut child = tokio::process::Command::new(bin)
        .args(["--count", "2", "--control", &format!("127.0.0.1:{port}"), "--dir"])
        .arg(dir.path())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = tokio::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let mut guide = String::new();
    while let Ok(Ok(Some(line))) = tokio::time::timeout(Duration::from_secs(10), lines.next_line()).await {
        guide.push_str(&line);
        guide.push('\n');
        if line.starts_with("Ctrl-C") {
            break;
        }
    }
    for needle in [
        "modem0",
        "[gammu]",
        "connection = at",
        "group = smsc",
        "devices = GSM1",
        &url,
    ] {
        assert!(guide.contains(needle), "guide lacks {needle}: {guide}");
    }
    let ctl = |args: Vec<String>| {
        let url = url.clone();
        async move {
            let out = tokio::process::Command::new(bin)
                .arg("ctl")
                .arg("--url")
                .arg(&url)
                .args(&args)
                .output()
                .await
                .unwrap();
            assert!(
                out.status.success(),
                "ctl {args:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            String::from_utf8_lossy(&out.stdout).to_string()
        }
    };
    let listed = ctl(vec!["modems".into()]).await;
    assert!(listed.contains("+48600000001"), "{listed}");
    let mut p = AtPort::open(&dir.path().join("modem0"));
    p.cmd("ATE0;+CNMI=2,1,0,0,0").await;
    let injected = ctl(vec![
        "inject".into(),
        "0".into(),
        "--from".into(),
        "+48500100200".into(),
        "--text".into(),
        "from ctl".into(),
    ])
    .await;
    assert!(injected.contains("\"parts\":1"), "{injected}");
    let urc = p.read_until("+CMTI:", 1, Duration::from_secs(5)).await;
    assert_eq!(urc, "\r\n+CMTI: \"SM\",1\r\n");
    ctl(vec!["fault".into(), "0".into(), "sim-removed".into()]).await;
    let _ = p.read_until("NOT INSERTED\r\n", 1, Duration::from_secs(5)).await;
    assert_eq!(p.cmd("AT+CPIN?").await, "\r\nERROR\r\n");
    ctl(vec!["clear".into(), "0".into()]).await;
    let status = ctl(vec!["status".into(), "0".into()]).await;
    assert!(status.contains("\"sim_removed\":false"), "{status}");
    child.kill().await.ok();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_the_bank_removes_its_links_and_closes_ports() {
    let (bank, _dir) = bank(1, |_| {}).await;
    let link = bank.modems()[0].link.clone();
    let mut p = AtPort::open(&link);
    assert!(p.cmd("AT").await.ends_with("OK\r\n"));
    drop(bank);
    assert!(!link.exists());
    let mut buf = [0u8; 16];
    let ended = tokio::time::timeout(Duration::from_secs(2), async {
        loop {
            match p.read_raw(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    })
    .await;
    assert!(ended.is_ok(), "the port closes when the bank goes away");
}
