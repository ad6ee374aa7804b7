//! Debian's real `gammu-smsd` (files backend) against hw-sim: a message queued with
//! `gammu-smsd-inject` reaches the simulated network, and an SMS the network delivers lands in the
//! daemon's inbox.
#![allow(clippy::expect_used, clippy::unwrap_used)] // test code: a failed expectation is the test failing
mod common;

use std::time::Duration;

use common::{bank, files_in, require, run, settled_file, text, wait_for};
use tokio::process::Command;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gammu_smsd_sends_and_receives() {
    let (bank, dir) = bank(2, |_| {}).await;
    let modems = bank.modems();
    let d = dir.path();
    for sub in ["inbox", "outbox", "sent", "error"] {
        std::fs::create_dir_all(d.join(sub)).unwrap();
    }
    let rc = d.join("smsdrc");
    std::fs::write(
        &rc,
        format!(
            "[gammu]\ndevice = {dev}\nconnection = at\n\n[smsd]\nservice = files\nlogfile = {d}/smsd.log\ndebuglevel = 1\n\
             inboxpath = {d}/inbox/\noutboxpath = {d}/outbox/\nsentsmspath = {d}/sent/\nerrorsmspath = {d}/error/\n\
             inboxformat = unicode\ntransmitformat = auto\nreceivefrequency = 1\ncommtimeout = 1\nsendtimeout = 20\n\
             checkbattery = 0\ncheckSignal = 0\ncheckSecurity = 0\nphoneid = sim0\nloopsleep = 1\n",
            dev = modems[0].link.display(),
            d = d.display()
        ),
    )
    .unwrap();
    let mut daemon = Command::new(require("gammu-smsd"))
        .arg("-c")
        .arg(&rc)
        .kill_on_drop(true)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("gammu-smsd starts");

    // Send: queue with gammu-smsd-inject, expect the network to see it.
    let to = modems[1].number.clone();
    let body = "Zażółć from gammu-smsd [€]";
    let out = run(
        Command::new(require("gammu-smsd-inject"))
            .arg("-c")
            .arg(&rc)
            .args(["TEXT", &to, "-unicode", "-text", body]),
        Duration::from_secs(20),
    )
    .await;
    assert!(out.status.success(), "inject failed: {}", text(&out));
    let control = bank.control();
    let sent = wait_for("gammu-smsd to send", Duration::from_secs(40), || {
        control.sent_texts(0).ok().filter(|v| !v.is_empty())
    })
    .await;
    assert_eq!(sent[0].text, body);
    assert_eq!(sent[0].to, to);
    wait_for("the sent file", Duration::from_secs(20), || {
        files_in(&d.join("sent")).first().cloned()
    })
    .await;

    // Receive: the network delivers an SMS to modem 0; the daemon stores it in its inbox.
    control
        .inject_sms(0, "+48500100200", "Reply to gammu-smsd: OK ąę")
        .unwrap();
    let mut last = None;
    let file = wait_for("the inbox file", Duration::from_secs(40), || {
        settled_file(&d.join("inbox"), &mut last)
    })
    .await;
    let name = file.file_name().unwrap().to_string_lossy().to_string();
    assert!(name.contains("48500100200"), "{name}");
    let raw = std::fs::read(&file).unwrap();
    // inboxformat=unicode: UTF-16 with a byte-order mark.
    let little = raw.starts_with(&[0xFF, 0xFE]);
    let units: Vec<u16> = raw
        .chunks(2)
        .map(|c| {
            let pair = [c[0], *c.get(1).unwrap_or(&0)];
            if little {
                u16::from_le_bytes(pair)
            } else {
                u16::from_be_bytes(pair)
            }
        })
        .collect();
    let content = String::from_utf16_lossy(&units);
    assert!(content.contains("Reply to gammu-smsd: OK ąę"), "{content:?}");
    // And deleted it from the modem.
    let status = control.status(0).await.unwrap();
    assert_eq!(status.counters.received, 1);

    daemon.kill().await.ok();
    bank.shutdown().await;
}
