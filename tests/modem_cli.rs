//! `smsgate modem at|info|send|ussd --port` against a hw-sim bank on PTYs, through the real binary.
#![allow(clippy::unwrap_used, clippy::expect_used)]
use std::time::Duration;

use hw_sim::{Bank, BankConfig, ProfileName};

async fn smsgate(args: &[&str]) -> (bool, String, String) {
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_smsgate"));
    cmd.args(args).kill_on_drop(true);
    let out = tokio::time::timeout(Duration::from_secs(60), cmd.output())
        .await
        .expect("finishes")
        .expect("runs");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn technician_commands_on_a_port() {
    let dir = tempfile::tempdir().unwrap();
    let bank = Bank::start(BankConfig {
        count: 2,
        profiles: vec![ProfileName::QuectelEc25, ProfileName::HuaweiE3372],
        dir: dir.path().join("dev"),
        pin: Some("2468".into()),
        ..BankConfig::default()
    })
    .await
    .unwrap();
    let infos = bank.modems();
    let port0 = infos[0].link.to_str().unwrap().to_owned();
    let port1 = infos[1].link.to_str().unwrap().to_owned();

    let (ok, out, err) = smsgate(&["modem", "at", "--port", &port0, "AT+CGSN"]).await;
    assert!(ok, "{out}{err}");
    assert_eq!(out.lines().collect::<Vec<_>>(), [infos[0].imei.as_str(), "OK"]);

    let (ok, out, _) = smsgate(&["modem", "at", "--port", &port0, "AT+NOSUCH"]).await;
    assert!(!ok);
    assert!(out.trim_end().ends_with("ERROR"), "{out}");

    let (ok, out, err) = smsgate(&["modem", "info", "--port", &port1, "--json"]).await;
    assert!(ok, "{out}{err}");
    let info: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(info["imei"], infos[1].imei.as_str());
    assert_eq!(info["sim"], "SimPin");

    let (ok, out, err) = smsgate(&[
        "modem",
        "send",
        "--port",
        &port0,
        "--pin",
        "2468",
        "+48600999888",
        "Hello żółw",
    ])
    .await;
    assert!(ok, "{out}{err}");
    assert!(out.contains("part 1: sent, TP-MR"), "{out}");
    let sent = bank.control().sent_texts(0).unwrap();
    assert_eq!(sent[0].text, "Hello żółw");
    assert_eq!(sent[0].to, "+48600999888");

    let (ok, out, err) = smsgate(&["modem", "ussd", "--port", &port1, "--pin", "2468", "*100#"]).await;
    assert!(ok, "{out}{err}");
    assert!(!out.trim().is_empty());

    // After a power cycle the SIM asks again; a wrong PIN fails with a clear reason and nothing is sent.
    bank.control().set_fault(1, hw_sim::Fault::Reboot).await.unwrap();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let (ok, _, err) = smsgate(&[
        "modem",
        "send",
        "--port",
        &port1,
        "--pin",
        "0000",
        "+48600999888",
        "x",
    ])
    .await;
    assert!(!ok);
    assert!(err.contains("SIM PIN rejected"), "{err}");
    assert!(bank.control().sent_messages(1).unwrap().is_empty());
    bank.shutdown().await;
}
