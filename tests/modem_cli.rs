//! `smsgate modem at|info|send|ussd --port` against a hw-sim bank on PTYs, and `smsgate modem
//! list|info|at|send|ussd|restart` against a running gateway over HTTPS, through the real binary.
#![allow(clippy::unwrap_used, clippy::expect_used)]
mod common;

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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn technician_commands_against_a_running_gateway() {
    let gw = common::start_with(|s| s.sim.count = 2, true).await;
    let sim = gw.gateway.sim_control().await.unwrap();
    let url = gw.base.clone();
    let ca = gw.ca.to_str().unwrap().to_owned();
    let data_dir = gw.dir.path().to_str().unwrap().to_owned();
    // Credentials from flags, the CA from a file.
    let remote = |args: &[&str]| {
        let mut v: Vec<String> = vec!["modem".into()];
        v.extend(args.iter().map(|a| a.to_string()));
        v.extend(
            [
                "--url",
                &url,
                "--ca",
                &ca,
                "--user",
                "root",
                "--password",
                common::PASSWORD,
            ]
            .map(String::from),
        );
        v
    };
    let run = |args: Vec<String>| async move {
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        smsgate(&refs).await
    };

    let imeis: Vec<String> = sim.modems().iter().map(|m| m.imei.clone()).collect();
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let (ok, out, err) = run(remote(&["list"])).await;
        assert!(ok, "{out}{err}");
        if imeis.iter().all(|i| {
            out.lines()
                .any(|l| l.starts_with(i.as_str()) && l.contains("ready"))
        }) {
            assert!(out.starts_with("ID"), "{out}");
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "modems not listed ready: {out}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let imei = imeis[0].as_str();

    let (ok, out, err) = run(remote(&["info", imei])).await;
    assert!(ok, "{out}{err}");
    assert!(out.contains(&format!("IMEI          {imei}")), "{out}");
    assert!(out.contains("ICCID"), "{out}");
    let (ok, out, _) = run(remote(&["info", imei, "--json"])).await;
    assert!(ok);
    let json: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(json["state"]["imei"], imei);

    let (ok, out, err) = run(remote(&["at", imei, "AT+CGSN"])).await;
    assert!(ok, "{out}{err}");
    assert_eq!(out.lines().collect::<Vec<_>>(), [imei, "OK"]);
    let (ok, out, err) = run(remote(&["at", imei, "AT+CMGF=1"])).await;
    assert!(!ok, "{out}");
    assert!(err.contains("refused") && err.contains("PDU mode"), "{err}");

    let (ok, out, err) = run(remote(&["ussd", imei, "*100#"])).await;
    assert!(ok, "{out}{err}");
    assert!(out.contains("balance"), "{out}");

    let (ok, out, err) = run(remote(&["send", imei, "+48600111222", "Test z CLI"])).await;
    assert!(ok, "{out}{err}");
    assert!(out.contains("queued: message"), "{out}");
    assert!(out.contains(&format!("via {imei}")), "{out}");
    assert!(sim.sent_texts(0).unwrap().iter().any(|t| t.text == "Test z CLI"));

    let (ok, out, err) = run(remote(&["restart", imei])).await;
    assert!(ok, "{out}{err}");

    // The CA of the data directory, credentials from the environment; a client gets 403.
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_smsgate"));
    cmd.args([
        "modem",
        "at",
        imei,
        "AT+CSQ",
        "--url",
        &url,
        "--data-dir",
        &data_dir,
    ])
    .env("SMSGATE_USER", "alice")
    .env("SMSGATE_PASSWORD", common::PASSWORD)
    .kill_on_drop(true);
    let out = cmd.output().await.unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(err.contains("(403)") && err.contains("admin"), "{err}");

    // Without a CA the command says where it looked.
    let (ok, _, err) = smsgate(&[
        "modem",
        "list",
        "--url",
        &url,
        "--data-dir",
        "/nonexistent",
        "--user",
        "root",
        "--password",
        "x",
    ])
    .await;
    assert!(!ok);
    assert!(err.contains("/nonexistent/tls/ca.pem"), "{err}");
    // The direct form still wants no id.
    let (ok, _, err) = smsgate(&["modem", "at", "--port", "/dev/null", "x", "AT"]).await;
    assert!(!ok);
    assert!(err.contains("no modem id"), "{err}");
}
