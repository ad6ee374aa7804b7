//! Debian's real `kannel` (bearerbox + smsbox, AT driver) against hw-sim: `sendsms` over smsbox's HTTP
//! port on loopback reaches the simulated network with a status report requested, the `+CDS` report
//! becomes a delivery report on the dlr-url (delivered, then a failure after the network is told to
//! fail), and an SMS the network delivers with `+CMT` reaches the sms-service URL.
#![allow(clippy::expect_used, clippy::unwrap_used)] // test code: a failed expectation is the test failing
mod common;

use std::time::Duration;

use common::{HttpSink, bank, free_port, http_get, query_param, require, urlencode, wait_for};
use tokio::process::Command;

/// Kannel's own modem definitions: a generic one matched by our `ATI`, and its stock Wavecom entry, which
/// it picks by autodetection (`ATI` answers `WAVECOM MODEM`) and which copes with the `>` prompt without a
/// space.
const MODEMS_GENERIC: &str = "group = modems\nid = hwsim\nname = \"hw-sim\"\ndetect-string = \"hw-sim\"\ninit-string = \"AT+CNMI=1,2,0,1,0\"\nmessage-storage = \"SM\"\n";
const MODEMS_WAVECOM: &str = "group = modems\nid = wavecom\nname = Wavecom\ndetect-string = \"WAVECOM\"\ninit-string = \"AT+CNMI=1,2,0,1,0\"\n\ngroup = modems\nid = generic\nname = \"Generic Modem\"\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kannel_sendsms_with_delivery_reports_and_receive() {
    kannel_round_trip(hw_sim::ProfileName::Generic, "hwsim", MODEMS_GENERIC).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kannel_autodetects_wavecom_and_sends_after_a_bare_prompt() {
    kannel_round_trip(hw_sim::ProfileName::Wavecom, "auto", MODEMS_WAVECOM).await;
}

async fn kannel_round_trip(profile: hw_sim::ProfileName, modemtype: &str, modems_groups: &str) {
    let (bank, dir) = bank(2, |c| c.profiles = vec![profile, hw_sim::ProfileName::Generic]).await;
    let modems = bank.modems();
    let d = dir.path();
    let sink = HttpSink::start().await;
    let (admin, smsbox_port, sendsms) = (free_port(), free_port(), free_port());
    let conf = d.join("kannel.conf");
    std::fs::write(
        &conf,
        format!(
            r#"group = core
admin-port = {admin}
admin-password = adminpw
admin-interface = 127.0.0.1
smsbox-port = {smsbox_port}
smsbox-interface = 127.0.0.1
box-allow-ip = 127.0.0.1
log-file = "{d}/bearerbox.log"
log-level = 0
dlr-storage = internal

group = smsc
smsc = at
smsc-id = sim0
modemtype = {modemtype}
device = {dev}
my-number = "{number}"
sms-center = "+48601000310"
speed = 115200
keepalive = 30

{modems_groups}

group = smsbox
bearerbox-host = 127.0.0.1
bearerbox-port = {smsbox_port}
sendsms-port = {sendsms}
sendsms-interface = 127.0.0.1
log-file = "{d}/smsbox.log"
log-level = 0
global-sender = "{number}"

group = sendsms-user
username = tester
password = secret

group = sms-service
keyword = default
catch-all = yes
max-messages = 0
get-url = "http://127.0.0.1:{sink}/mo?from=%p&to=%P&text=%a"
"#,
            dev = modems[0].link.display(),
            number = modems[0].number,
            d = d.display(),
            sink = sink.port,
        ),
    )
    .unwrap();
    let quiet = || std::process::Stdio::null();
    let mut bearerbox = Command::new(require("bearerbox"))
        .arg(&conf)
        .kill_on_drop(true)
        .stdout(quiet())
        .stderr(quiet())
        .spawn()
        .expect("bearerbox starts");
    // smsbox gives up at once when bearerbox is not listening yet.
    let start = tokio::time::Instant::now();
    while tokio::net::TcpStream::connect(("127.0.0.1", smsbox_port))
        .await
        .is_err()
    {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "bearerbox never listened on {smsbox_port}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let mut smsbox = Command::new(require("smsbox"))
        .arg(&conf)
        .kill_on_drop(true)
        .stdout(quiet())
        .stderr(quiet())
        .spawn()
        .expect("smsbox starts");

    let to = modems[1].number.clone();
    let send = |text: &'static str, tag: &'static str| {
        let to = to.clone();
        let sink_port = sink.port;
        async move {
            let dlr_url = format!("http://127.0.0.1:{sink_port}/dlr?tag={tag}&status=%d&answer=%A");
            let target = format!(
                "/cgi-bin/sendsms?username=tester&password=secret&to={}&text={}&dlr-mask=3&dlr-url={}",
                urlencode(&to),
                urlencode(text),
                urlencode(&dlr_url)
            );
            // smsbox needs a moment to connect to bearerbox; retry until it accepts.
            let start = tokio::time::Instant::now();
            loop {
                match http_get(sendsms, &target).await {
                    Ok((code, _)) if (200..300).contains(&code) => break,
                    Ok(answer) => panic!("sendsms refused: {answer:?}"),
                    Err(e) if start.elapsed() > Duration::from_secs(20) => panic!("sendsms unreachable: {e}"),
                    Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
                }
            }
        }
    };

    send("Hello from kannel [ok]", "one").await;
    let control = bank.control();
    let sent = wait_for("kannel to send", Duration::from_secs(40), || {
        control.sent_texts(0).ok().filter(|v| !v.is_empty())
    })
    .await;
    assert_eq!(sent[0].text, "Hello from kannel [ok]");
    assert_eq!(sent[0].to, to);
    assert!(
        control.sent_messages(0).unwrap()[0].status_report,
        "dlr-mask asks for TP-SRR"
    );
    let dlr = wait_for("a delivery report", Duration::from_secs(30), || {
        sink.matching("/dlr?tag=one").first().cloned()
    })
    .await;
    assert_eq!(query_param(&dlr, "status").as_deref(), Some("1"), "{dlr}");

    // The network now reports "unknown subscriber" (TS 23.040 §9.2.3.15, 0x45): a failed DLR.
    control.set_report_status(0, 0x45).unwrap();
    send("Second from kannel", "two").await;
    let dlr = wait_for("a failed delivery report", Duration::from_secs(40), || {
        sink.matching("/dlr?tag=two").first().cloned()
    })
    .await;
    assert_eq!(query_param(&dlr, "status").as_deref(), Some("2"), "{dlr}");

    // Receive: the network delivers an SMS, kannel (CNMI mt=2) hands it to the sms-service.
    control.inject_sms(0, "+48500100200", "Reply to kannel").unwrap();
    let mo = wait_for("the MO request", Duration::from_secs(30), || {
        sink.matching("/mo?").first().cloned()
    })
    .await;
    assert_eq!(
        query_param(&mo, "text").as_deref(),
        Some("Reply to kannel"),
        "{mo}"
    );
    assert_eq!(query_param(&mo, "from").as_deref(), Some("+48500100200"), "{mo}");

    smsbox.kill().await.ok();
    bearerbox.kill().await.ok();
    bank.shutdown().await;
}
