//! Debian's real `smstools` (`smsd` with spool directories) against hw-sim: a file dropped into the
//! outgoing spool reaches the simulated network with a status report requested, the report comes back
//! into the report spool (read from storage with CNMI ds=0), and an SMS the network delivers lands in the
//! incoming spool.
#![allow(clippy::expect_used, clippy::unwrap_used)] // test code: a failed expectation is the test failing
mod common;

use std::time::Duration;

use common::{bank, require, settled_file, wait_for};
use tokio::process::Command;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn smstools_sends_receives_and_gets_a_status_report() {
    let (bank, dir) = bank(2, |_| {}).await;
    let modems = bank.modems();
    let d = dir.path();
    for sub in ["outgoing", "incoming", "checked", "failed", "sent", "report"] {
        std::fs::create_dir_all(d.join(sub)).unwrap();
    }
    let conf = d.join("smsd.conf");
    std::fs::write(
        &conf,
        format!(
            "devices = GSM1\nlogfile = {d}/smsd.log\nloglevel = 7\noutgoing = {d}/outgoing\nchecked = {d}/checked\n\
             incoming = {d}/incoming\nfailed = {d}/failed\nsent = {d}/sent\nreport = {d}/report\n\
             infofile = {d}/smsd.running\npidfile = {d}/smsd.pid\nincoming_utf8 = yes\ndelaytime = 1\n\n\
             [GSM1]\ndevice = {dev}\nincoming = yes\nreport = yes\nbaudrate = 115200\ncheck_memory_method = 1\n",
            dev = modems[0].link.display(),
            d = d.display()
        ),
    )
    .unwrap();
    let mut daemon = Command::new(require("smsd"))
        .arg(format!("-c{}", conf.display()))
        .arg("-t")
        .kill_on_drop(true)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("smsd starts");

    // Send with a status report (report = yes sets TP-SRR).
    let to = modems[1].number.clone();
    let body = "Hello from smstools: zażółć [€]";
    std::fs::write(
        d.join("checked-by-test"),
        format!("To: {}\nAlphabet: UTF-8\n\n{body}", to.trim_start_matches('+')),
    )
    .unwrap();
    // Move it in atomically so smsd never reads half a file.
    std::fs::rename(d.join("checked-by-test"), d.join("outgoing").join("msg1")).unwrap();
    let control = bank.control();
    let sent = wait_for("smsd to send", Duration::from_secs(40), || {
        control.sent_texts(0).ok().filter(|v| !v.is_empty())
    })
    .await;
    assert_eq!(sent[0].text, body);
    assert_eq!(sent[0].to, to);
    let parts = control.sent_messages(0).unwrap();
    assert!(parts[0].status_report, "smstools asked for a status report");
    let mut last = None;
    let sent_file = wait_for("the sent spool file", Duration::from_secs(20), || {
        settled_file(&d.join("sent"), &mut last)
    })
    .await;
    let sent_text = std::fs::read_to_string(sent_file).unwrap();
    assert!(
        sent_text.contains(&format!("Message_id: {}", sent[0].mrs[0])),
        "{sent_text}"
    );

    let mut last = None;
    let report = wait_for("the status report", Duration::from_secs(40), || {
        settled_file(&d.join("report"), &mut last)
    })
    .await;
    let report = std::fs::read_to_string(report).unwrap();
    assert!(report.contains("SMS STATUS REPORT"), "{report}");
    assert!(
        report.contains(&format!("Message_id: {}", sent[0].mrs[0])),
        "{report}"
    );
    assert!(report.contains("Status: 0,"), "{report}");

    // Receive.
    control
        .inject_sms(0, "+48500100200", "Reply to smstools: ąę OK")
        .unwrap();
    let mut last = None;
    let file = wait_for("the incoming spool file", Duration::from_secs(40), || {
        settled_file(&d.join("incoming"), &mut last)
    })
    .await;
    let raw = std::fs::read(file).unwrap();
    let split = raw
        .windows(2)
        .position(|w| w == b"\n\n")
        .expect("header and body");
    let header = String::from_utf8_lossy(&raw[..split]).to_string();
    let body = &raw[split + 2..];
    assert!(header.contains("From: 48500100200"), "{header}");
    // smstools stores UCS-2 bodies as big-endian UCS-2 unless it converts them.
    let text = if header.contains("Alphabet: UCS2") {
        let units: Vec<u16> = body
            .chunks(2)
            .map(|c| u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)]))
            .collect();
        String::from_utf16_lossy(&units)
    } else {
        String::from_utf8_lossy(body).to_string()
    };
    assert_eq!(text.trim_end(), "Reply to smstools: ąę OK");

    daemon.kill().await.ok();
    bank.shutdown().await;
}
