//! Debian's real `gammu` against hw-sim: identify, sendsms (ASCII, GSM-7 extension, Polish UCS-2,
//! 300-character concatenated), getallsms of injected SMS. Asserts what hw-sim's network saw and what
//! gammu printed.
#![allow(clippy::expect_used, clippy::unwrap_used)] // test code: a failed expectation is the test failing
mod common;

use std::path::Path;
use std::time::Duration;

use common::{bank, require, run, text};
use tokio::process::Command;

// Generous: the tests run in parallel with the rest of the suite on small CI machines; a hang still fails.
const DEADLINE: Duration = Duration::from_secs(90);

fn gammurc(dir: &Path, device: &Path) -> std::path::PathBuf {
    let rc = dir.join("gammurc");
    std::fs::write(
        &rc,
        format!(
            "[gammu]\ndevice = {}\nconnection = at\nlogformat = textalldate\nlogfile = {}\n",
            device.display(),
            dir.join("gammu.log").display()
        ),
    )
    .expect("write gammurc");
    rc
}

async fn gammu(rc: &Path, args: &[&str]) -> String {
    let out = run(
        Command::new(require("gammu")).arg("-c").arg(rc).args(args),
        DEADLINE,
    )
    .await;
    let t = text(&out);
    assert!(out.status.success(), "gammu {args:?} failed: {t}");
    t
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gammu_identify() {
    let (bank, dir) = bank(1, |c| c.profile = hw_sim::ProfileName::QuectelEc25).await;
    let m = &bank.modems()[0];
    let rc = gammurc(dir.path(), &m.link);
    let out = gammu(&rc, &["identify"]).await;
    assert!(out.contains("Quectel"), "{out}");
    assert!(out.contains(&m.imei), "{out}");
    assert!(out.contains(&m.imsi), "{out}");
    bank.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gammu_sendsms_ascii_extension_ucs2_and_concatenated() {
    let (bank, dir) = bank(2, |_| {}).await;
    let modems = bank.modems();
    let rc = gammurc(dir.path(), &modems[0].link);
    let to = modems[1].number.clone();
    let long: String = (0..300).map(|i| char::from(b'a' + (i % 26) as u8)).collect();
    let cases = [
        ("Hello from gammu".to_string(), vec![]),
        ("Price: 5€ [ok] {x} ~^|\\".to_string(), vec![]),
        ("Zażółć gęślą jaźń".to_string(), vec!["-unicode"]),
        (long.clone(), vec!["-len", "400"]),
    ];
    for (text, extra) in &cases {
        let mut args = vec!["sendsms", "TEXT", to.as_str(), "-text", text.as_str()];
        args.extend(extra.iter().copied());
        let out = gammu(&rc, &args).await;
        assert!(out.contains("OK, message reference="), "{out}");
    }
    let sent = bank.control().sent_texts(0).expect("sent");
    let texts: Vec<&str> = sent.iter().map(|m| m.text.as_str()).collect();
    assert_eq!(texts, cases.iter().map(|c| c.0.as_str()).collect::<Vec<_>>());
    assert!(sent.iter().all(|m| m.to == to), "{sent:?}");
    assert_eq!(sent[3].parts, 2, "300 GSM-7 characters take 2 parts of 153");
    // The virtual network delivered them to modem 1, which stored them (default CNMI mt=0): read them
    // there as a DTE would and join the parts.
    let counters = bank.control().counters(1).await.expect("counters");
    assert_eq!(counters.received, 1 + 1 + 1 + 2);
    let mut port = common::AtPort::open(&modems[1].link);
    port.cmd("ATE0").await;
    let listing = port.cmd("AT+CMGL=4").await;
    let mut reassembler = smsgate_pdu::Reassembler::new(Duration::from_secs(60));
    let mut received = Vec::new();
    for line in listing
        .lines()
        .filter(|l| !l.is_empty() && !l.starts_with('+') && *l != "OK")
    {
        let smsgate_pdu::Pdu::Deliver(d) = smsgate_pdu::decode_hex(line).expect("a DELIVER") else {
            panic!("not a DELIVER: {line}")
        };
        assert_eq!(d.originator.to_string(), modems[0].number);
        if let Some(done) = reassembler.push(d, std::time::Instant::now()) {
            received.push(done.text());
        }
    }
    assert_eq!(received, cases.iter().map(|c| c.0.clone()).collect::<Vec<_>>());
    bank.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gammu_getallsms_reads_injected_messages() {
    let (bank, dir) = bank(1, |_| {}).await;
    let m = &bank.modems()[0];
    let rc = gammurc(dir.path(), &m.link);
    let control = bank.control();
    control
        .inject_sms(0, "+48500100200", "Hi from the network")
        .expect("inject");
    control
        .inject_sms(0, "ACME", "Ąę alphanumeric sender")
        .expect("inject");
    let long = "Long message. ".repeat(20);
    assert_eq!(control.inject_sms(0, "+48500100200", &long).expect("inject"), 2);
    let out = gammu(&rc, &["getallsms"]).await;
    assert!(out.contains("Hi from the network"), "{out}");
    assert!(out.contains("+48500100200"), "{out}");
    assert!(out.contains("ACME"), "{out}");
    assert!(out.contains("Ąę alphanumeric sender"), "{out}");
    assert!(out.contains("Long message. Long message."), "{out}");
    assert!(
        out.contains("3 SMS parts in 2 SMS sequences") || out.matches("Long message.").count() >= 20,
        "{out}"
    );
    bank.shutdown().await;
}

/// gammu knows the families' quirks (it sends `AT^CURC=0` and `AT^PORTSEL=1` to Huawei, copes with
/// `ERROR` on SIMCom's empty slots): each profile sends and reads SMS with it.
async fn gammu_with_profile(profile: hw_sim::ProfileName) {
    let (bank, dir) = bank(2, |c| c.profiles = vec![profile, hw_sim::ProfileName::Generic]).await;
    let modems = bank.modems();
    let rc = gammurc(dir.path(), &modems[0].link);
    let out = gammu(
        &rc,
        &["sendsms", "TEXT", &modems[1].number, "-text", "via a real family"],
    )
    .await;
    assert!(out.contains("OK, message reference="), "{out}");
    let sent = bank.control().sent_texts(0).expect("sent");
    assert_eq!(sent[0].text, "via a real family");
    bank.control()
        .inject_sms(0, "+48500100200", "inbound to the family")
        .expect("inject");
    let out = gammu(&rc, &["getallsms"]).await;
    assert!(out.contains("inbound to the family"), "{profile}: {out}");
    bank.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gammu_with_quectel() {
    gammu_with_profile(hw_sim::ProfileName::QuectelEc25).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gammu_with_simcom() {
    gammu_with_profile(hw_sim::ProfileName::SimcomSim800).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gammu_with_huawei() {
    gammu_with_profile(hw_sim::ProfileName::HuaweiE3372).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gammu_with_telit() {
    gammu_with_profile(hw_sim::ProfileName::Telit).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gammu_with_sierra() {
    gammu_with_profile(hw_sim::ProfileName::Sierra).await;
}
