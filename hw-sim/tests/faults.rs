//! Every fault, seen from a DTE on the PTY the way a real modem shows it: late or failed `+CMGS`, silence,
//! line noise, reboot URCs, a vanished device, SIM and registration errors, full storage, slow output.
//! Also the virtual network between two modems over their PTYs, and faults given at start.
#![allow(clippy::expect_used, clippy::unwrap_used)] // test code: a failed expectation is the test failing
mod common;

use std::time::{Duration, Instant};

use common::{AtPort, bank};
use hw_sim::{DelayProfile, Fault, FaultSpec, ProfileName};

const SHORT: Duration = Duration::from_millis(600);

async fn ready(link: &std::path::Path) -> AtPort {
    let mut p = AtPort::open(link);
    let a = p.cmd("ATE0").await;
    assert!(a.ends_with("OK\r\n"), "{a:?}");
    assert_eq!(p.cmd("AT+CMEE=1").await, "\r\nOK\r\n");
    p
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn network_delay_does_not_block_other_modems() {
    let (bank, _dir) = bank(2, |_| {}).await;
    let m = bank.modems();
    let c = bank.control();
    c.set_fault(
        0,
        Fault::Delay {
            delay: DelayProfile::Fixed { ms: 1500 },
        },
    )
    .await
    .unwrap();
    let mut slow = ready(&m[0].link).await;
    let mut fast = ready(&m[1].link).await;
    let to = m[1].number.clone();
    let started = Instant::now();
    let slow_send = tokio::spawn(async move {
        let a = slow.send_sms(&to, "late", false).await;
        (a, started.elapsed())
    });
    tokio::time::sleep(Duration::from_millis(200)).await;
    let quick = fast.send_sms("+48500000001", "quick", false).await;
    assert!(quick.contains("+CMGS: 0"), "{quick:?}");
    assert!(
        started.elapsed() < Duration::from_millis(1200),
        "the other modem answered at once"
    );
    let (late, took) = slow_send.await.unwrap();
    assert!(late.contains("+CMGS: 0"), "{late:?}");
    assert!(took >= Duration::from_millis(1500), "answered after {took:?}");
    bank.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cms_errors_every_kth_and_with_probability() {
    let (bank, _dir) = bank(1, |_| {}).await;
    let c = bank.control();
    let mut p = ready(&bank.modems()[0].link).await;
    c.set_fault(0, Fault::CmsEvery { k: 3, code: 38 }).await.unwrap();
    let answers = [
        p.send_sms("+48500000001", "a", false).await,
        p.send_sms("+48500000001", "b", false).await,
        p.send_sms("+48500000001", "c", false).await,
    ];
    assert!(
        answers[0].contains("+CMGS:") && answers[1].contains("+CMGS:"),
        "{answers:?}"
    );
    assert_eq!(answers[2], "\r\n+CMS ERROR: 38\r\n");
    c.clear_faults(0).unwrap();
    c.set_fault(0, Fault::CmsProbability { p: 1.0, code: 21 })
        .await
        .unwrap();
    assert_eq!(
        p.send_sms("+48500000001", "d", false).await,
        "\r\n+CMS ERROR: 21\r\n"
    );
    c.set_fault(0, Fault::CmsProbability { p: 1.0, code: 1 })
        .await
        .unwrap();
    assert_eq!(
        p.send_sms("+48500000001", "e", false).await,
        "\r\n+CMS ERROR: 1\r\n"
    );
    assert_eq!(
        c.sent_messages(0).unwrap().len(),
        2,
        "failed sends never reach the network"
    );
    let counters = c.counters(0).await.unwrap();
    assert_eq!((counters.sent, counters.send_failures), (2, 3));
    bank.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hung_modem_reads_but_never_answers() {
    let (bank, _dir) = bank(1, |_| {}).await;
    let c = bank.control();
    let mut p = ready(&bank.modems()[0].link).await;
    c.set_fault(0, Fault::Hung).await.unwrap();
    p.write(b"AT\r").await;
    assert!(p.answer(SHORT).await.is_none(), "a hung modem says nothing");
    let before = c.counters(0).await.unwrap().bytes_in;
    p.write(b"AT+CGMI\r").await;
    assert!(p.answer(SHORT).await.is_none());
    assert!(c.counters(0).await.unwrap().bytes_in > before, "it still reads");
    c.clear_faults(0).unwrap();
    // A round trip through the modem's command queue: once it answers, the clear has been applied (the
    // modem task may otherwise read the next line from the port before it sees the clear).
    c.status(0).await.unwrap();
    assert_eq!(p.cmd("AT").await, "\r\nOK\r\n");
    bank.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_on_the_line() {
    let (bank, _dir) = bank(1, |_| {}).await;
    let c = bank.control();
    let mut p = ready(&bank.modems()[0].link).await;
    c.set_fault(0, Fault::Garbage { p: 1.0 }).await.unwrap();
    p.write(b"AT\r").await;
    let answer = p.read_until("\r\nOK\r\n", 1, Duration::from_secs(5)).await;
    assert!(answer.ends_with("\r\nOK\r\n"), "{answer:?}");
    assert!(answer.len() > 6, "noise before the answer: {answer:?}");
    bank.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unsolicited_reboot_sends_boot_urcs_and_resets_state() {
    let (bank, _dir) = bank(1, |c| c.profile = ProfileName::SimcomSim800).await;
    let c = bank.control();
    let mut p = ready(&bank.modems()[0].link).await;
    assert_eq!(p.cmd("AT+CMGF=1").await, "\r\nOK\r\n");
    c.set_fault(0, Fault::Reboot).await.unwrap();
    let boot = p.read_until("SMS Ready", 1, Duration::from_secs(5)).await;
    assert!(
        boot.contains("RDY") && boot.contains("SMS Ready") && boot.contains("Call Ready"),
        "{boot:?}"
    );
    // Echo is on again and text mode is gone.
    assert_eq!(p.cmd("AT+CMGF?").await, "AT+CMGF?\r\r\n+CMGF: 0\r\n\r\nOK\r\n");
    assert_eq!(c.counters(0).await.unwrap().reboots, 1);
    bank.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unplug_closes_the_port_and_replug_brings_it_back() {
    let (bank, _dir) = bank(1, |_| {}).await;
    let c = bank.control();
    let link = bank.modems()[0].link.clone();
    let p = ready(&link).await;
    c.unplug(0).await.unwrap();
    assert!(!link.exists(), "the link disappears");
    assert!(!bank.modems()[0].plugged);
    // The DTE's read ends: EIO or end of file, as with a USB modem pulled out.
    let mut port = p;
    let r = tokio::time::timeout(Duration::from_secs(2), async {
        let mut buf = [0u8; 64];
        loop {
            match port.read_raw(&mut buf).await {
                Ok(0) => return "eof".to_string(),
                Ok(_) => continue,
                Err(e) => return format!("error {e}"),
            }
        }
    })
    .await
    .expect("the read ends after unplug");
    assert!(r == "eof" || r.contains("error"), "{r}");
    c.replug(0).await.unwrap();
    assert!(link.exists(), "the link is back");
    let info = &bank.modems()[0];
    assert!(info.plugged);
    let mut p = AtPort::open(&link);
    // The replugged modem boots (echo on again).
    tokio::time::sleep(Duration::from_millis(400)).await;
    let a = p.cmd("AT").await;
    assert!(a.ends_with("\r\nOK\r\n"), "{a:?}");
    bank.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sim_removed_and_lost_registration() {
    let (bank, _dir) = bank(1, |_| {}).await;
    let c = bank.control();
    let mut p = ready(&bank.modems()[0].link).await;
    assert_eq!(p.cmd("AT+CREG=1").await, "\r\nOK\r\n");
    c.set_fault(0, Fault::NoRegistration { stat: 2 }).await.unwrap();
    let urc = p.read_until("+CREG: 2\r\n", 1, Duration::from_secs(5)).await;
    assert_eq!(urc, "\r\n+CREG: 2\r\n");
    assert_eq!(p.cmd("AT+CREG?").await, "\r\n+CREG: 1,2\r\n\r\nOK\r\n");
    assert_eq!(
        p.send_sms("+48500000001", "x", false).await,
        "\r\n+CMS ERROR: 331\r\n"
    );
    c.clear_faults(0).unwrap();
    let urc = p.read_until("+CREG: 1\r\n", 1, Duration::from_secs(5)).await;
    assert_eq!(urc, "\r\n+CREG: 1\r\n");

    c.set_fault(0, Fault::SimRemoved).await.unwrap();
    let _urc = p
        .read_until("+CPIN: NOT INSERTED\r\n", 1, Duration::from_secs(5))
        .await;
    assert_eq!(p.cmd("AT+CPIN?").await, "\r\n+CME ERROR: 10\r\n");
    assert_eq!(p.cmd("AT+CIMI").await, "\r\n+CME ERROR: 10\r\n");
    assert_eq!(p.cmd("AT+CMGL=4").await, "\r\n+CMS ERROR: 310\r\n");
    bank.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_storage() {
    let (bank, _dir) = bank(1, |c| c.profile = ProfileName::HuaweiE3372).await;
    let c = bank.control();
    let mut p = ready(&bank.modems()[0].link).await;
    assert_eq!(p.cmd("AT+CNMI=2,1,0,0,0").await, "\r\nOK\r\n");
    c.set_fault(0, Fault::StorageFull).await.unwrap();
    let urc = p
        .read_until("^SMMEMFULL: \"SM\"", 1, Duration::from_secs(5))
        .await;
    assert!(urc.contains("^SMMEMFULL: \"SM\""), "{urc:?}");
    c.inject_sms(0, "+48500100200", "lost").unwrap();
    let after = String::from_utf8_lossy(&p.read_for(Duration::from_millis(300)).await).to_string();
    assert!(!after.contains("+CMTI"), "nothing stored: {after:?}");
    assert!(p.cmd("AT+CMGW=19").await.ends_with("+CMS ERROR: 322\r\n"));
    assert_eq!(c.counters(0).await.unwrap().rejected, 1);
    bank.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_baud_trickles_bytes() {
    let (bank, _dir) = bank(1, |_| {}).await;
    let c = bank.control();
    let mut p = ready(&bank.modems()[0].link).await;
    // 300 baud = 30 bytes/s: "\r\nhw-sim\r\n\r\nOK\r\n" (16 bytes) takes about half a second.
    c.set_fault(0, Fault::SlowBaud { baud: 300 }).await.unwrap();
    let start = Instant::now();
    let a = p.cmd("AT+CGMI").await;
    let took = start.elapsed();
    assert_eq!(a, "\r\nhw-sim\r\n\r\nOK\r\n");
    assert!(took >= Duration::from_millis(450), "took {took:?}");
    bank.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn faults_from_the_command_line_apply_at_start() {
    let (bank, _dir) = bank(2, |c| {
        c.faults = vec![
            "1:hung".parse::<FaultSpec>().unwrap(),
            "all:cms-every=1:21".parse().unwrap(),
        ];
    })
    .await;
    let m = bank.modems();
    let mut p0 = ready(&m[0].link).await;
    assert_eq!(
        p0.send_sms("+48500000001", "x", false).await,
        "\r\n+CMS ERROR: 21\r\n"
    );
    let mut p1 = AtPort::open(&m[1].link);
    p1.write(b"AT\r").await;
    assert!(p1.answer(SHORT).await.is_none());
    bank.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_modems_talk_and_status_reports_follow_cnmi() {
    let (bank, _dir) = bank(2, |_| {}).await;
    let m = bank.modems();
    let mut a = ready(&m[0].link).await;
    let mut b = ready(&m[1].link).await;
    assert_eq!(a.cmd("AT+CNMI=2,1,0,1,0").await, "\r\nOK\r\n");
    assert_eq!(b.cmd("AT+CNMI=2,1,0,0,0").await, "\r\nOK\r\n");
    let long = "Concatenated across the virtual network. ".repeat(5);
    let answer = a.send_sms(&m[1].number, &long, true).await;
    assert!(answer.contains("+CMGS: 1"), "two parts, MR 0 and 1: {answer:?}");
    let urcs = b.read_until("+CMTI:", 2, Duration::from_secs(5)).await;
    assert_eq!(urcs, "\r\n+CMTI: \"SM\",1\r\n\r\n+CMTI: \"SM\",2\r\n");
    let listing = b.cmd("AT+CMGL=4").await;
    let mut parts = Vec::new();
    for line in listing
        .lines()
        .filter(|l| !l.is_empty() && !l.starts_with('+') && *l != "OK")
    {
        let pdu = smsgate_pdu::decode_hex(line).expect("valid DELIVER");
        let smsgate_pdu::Pdu::Deliver(d) = pdu else {
            panic!("not a DELIVER: {line}")
        };
        assert_eq!(d.originator.to_string(), m[0].number);
        parts.push(d.user_data.text().unwrap_or_default().to_string());
    }
    assert_eq!(parts.concat(), long);
    // ds=1: reports come as +CDS with the matching MR.
    let cds = a.read_until("+CDS: ", 2, Duration::from_secs(5)).await;
    let cds = cds + &String::from_utf8_lossy(&a.read_for(Duration::from_millis(100)).await);
    assert_eq!(cds.matches("+CDS: ").count(), 2, "{cds:?}");
    let mut mrs = Vec::new();
    for pdu_line in cds.lines().filter(|l| l.starts_with("07")) {
        let smsgate_pdu::Pdu::StatusReport(r) = smsgate_pdu::decode_hex(pdu_line).unwrap() else {
            panic!("not a report")
        };
        assert_eq!(r.recipient.to_string(), m[1].number);
        assert_eq!(r.status.0, 0);
        mrs.push(r.mr);
    }
    // The network does not promise order; each part's report carries its own MR.
    mrs.sort_unstable();
    assert_eq!(mrs, vec![0, 1]);
    bank.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn control_api_over_http() {
    let (bank, _dir) = bank(1, |c| c.control_listen = Some("127.0.0.1:0".parse().unwrap())).await;
    let port = bank.control_addr().unwrap().port();
    let post = |path: &'static str, body: &'static str| async move {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut s = tokio::net::TcpStream::connect(("127.0.0.1", port)).await.unwrap();
        let req = format!(
            "POST {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        s.write_all(req.as_bytes()).await.unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).await.unwrap();
        out
    };
    let mut p = ready(&bank.modems()[0].link).await;
    assert!(
        post("/modems/0/fault", r#"{"spec":"hung"}"#)
            .await
            .starts_with("HTTP/1.1 204")
    );
    p.write(b"AT\r").await;
    assert!(p.answer(SHORT).await.is_none());
    assert!(
        post("/modems/0/fault", r#"{"kind":"cms-every","k":1,"code":38}"#)
            .await
            .starts_with("HTTP/1.1 204")
    );
    let (code, _) = common::http_get(port, "/health").await.unwrap();
    assert_eq!(code, 200);
    assert!(
        post("/modems/9/urc", r#"{"text":"RING"}"#)
            .await
            .starts_with("HTTP/1.1 404")
    );
    assert!(
        post("/modems/0/fault", r#"{"spec":"melt"}"#)
            .await
            .starts_with("HTTP/1.1 400")
    );
    let status = bank.control().status(0).await.unwrap();
    assert!(status.faults.hung);
    assert_eq!(status.faults.cms_every, Some((1, 38)));
    let (code, body) = common::http_get(port, "/modems").await.unwrap();
    assert_eq!(code, 200);
    assert!(body.contains(&bank.modems()[0].imei), "{body}");
    bank.shutdown().await;
}
