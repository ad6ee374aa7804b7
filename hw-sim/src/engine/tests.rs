//! Table-driven tests of the AT dialect: each case feeds bytes and compares the exact bytes answered.
use super::*;
use crate::fault::Fault;
use crate::profile::ProfileName;

fn engine(profile: ProfileName) -> (Engine, Instant) {
    let now = Instant::now();
    let cfg = EngineConfig {
        profile: Profile::get(profile),
        identity: Identity::generate(0, 1, "+48600000000"),
        pin: None,
        puk: "12345678".into(),
        delay: DelayProfile::Instant,
        seed: 7,
        smsc: "+48601000310".into(),
    };
    (Engine::new(cfg, now), now)
}

/// Feeds each input in turn to a fresh generic modem with echo off and compares the answers.
fn check(profile: ProfileName, cases: &[(&str, &str)]) {
    let (mut e, now) = engine(profile);
    e.input(b"ATE0\r", now);
    for (input, expect) in cases {
        let out = e.input(input.as_bytes(), now).output;
        assert_eq!(String::from_utf8_lossy(&out), *expect, "input {input:?}");
    }
}

#[test]
fn echo_is_on_at_power_up_and_ate0_turns_it_off() {
    let (mut e, now) = engine(ProfileName::Generic);
    assert_eq!(e.input(b"AT\r", now).output, b"AT\r\r\nOK\r\n");
    assert_eq!(e.input(b"ATE0\r", now).output, b"ATE0\r\r\nOK\r\n");
    assert_eq!(e.input(b"AT\r", now).output, b"\r\nOK\r\n");
}

#[test]
fn v250_framing_and_result_codes() {
    check(
        ProfileName::Generic,
        &[
            ("AT\r", "\r\nOK\r\n"),
            ("at\r\n", "\r\nOK\r\n"),
            ("AT+CGMI\r", "\r\nhw-sim\r\n\r\nOK\r\n"),
            ("AT+NOPE\r", "\r\nERROR\r\n"),
            ("ATV0\r", "0\r"),
            ("AT+CGMI\r", "hw-sim\r\n0\r"),
            ("AT+NOPE\r", "4\r"),
            ("ATV1\r", "\r\nOK\r\n"),
            // Noise before the prefix is ignored.
            ("\x00\x7fxxAT\r", "\r\nOK\r\n"),
            // Backspace edits the line.
            ("ATX\x08\r", "\r\nOK\r\n"),
            // A/ repeats the last line.
            ("AT+CGMI\r", "\r\nhw-sim\r\n\r\nOK\r\n"),
            ("A/", "\r\nhw-sim\r\n\r\nOK\r\n"),
            // Bytes split across reads.
            ("AT+C", ""),
            ("GMM\r", "\r\nSimulated GSM modem\r\n\r\nOK\r\n"),
        ],
    );
}

#[test]
fn several_commands_on_one_line() {
    check(
        ProfileName::Generic,
        &[
            ("AT+CMEE=1;+CREG=2\r", "\r\nOK\r\n"),
            (
                "AT+CMEE?;+CREG?\r",
                "\r\n+CMEE: 1\r\n\r\n+CREG: 2,1,\"00C3\",\"0000A13F\"\r\n\r\nOK\r\n",
            ),
            // The first error stops the line.
            ("AT+CMEE=1;+BOGUS;+CGMI\r", "\r\nERROR\r\n"),
            ("ATE0V1+CMGF=0\r", "\r\nOK\r\n"),
        ],
    );
}

#[test]
fn error_reporting_follows_cmee() {
    let mut e = engine(ProfileName::Generic).0;
    let now = Instant::now();
    e.input(b"ATE0\r", now);
    e.set_fault(&Fault::SimRemoved, now);
    let mut ask = |line: &str| String::from_utf8_lossy(&e.input(line.as_bytes(), now).output).to_string();
    assert!(ask("AT+CPIN?\r").ends_with("\r\nERROR\r\n"));
    ask("AT+CMEE=1\r");
    assert!(ask("AT+CPIN?\r").ends_with("\r\n+CME ERROR: 10\r\n"));
    ask("AT+CMEE=2\r");
    assert!(ask("AT+CPIN?\r").ends_with("\r\n+CME ERROR: SIM not inserted\r\n"));
}

#[test]
fn identity_commands() {
    let id = Identity::generate(0, 1, "+48600000000");
    check(
        ProfileName::QuectelEc25,
        &[
            ("AT+CGSN\r", &format!("\r\n{}\r\n\r\nOK\r\n", id.imei)),
            ("AT+CIMI\r", &format!("\r\n{}\r\n\r\nOK\r\n", id.imsi)),
            ("AT+QCCID\r", &format!("\r\n+QCCID: {}\r\n\r\nOK\r\n", id.iccid)),
            ("AT+CNUM\r", "\r\n+CNUM: \"\",\"+48600000000\",145\r\n\r\nOK\r\n"),
            (
                "ATI\r",
                "\r\nQuectel\r\nEC25\r\nRevision: EC25EFAR06A06M4G\r\n\r\nOK\r\n",
            ),
        ],
    );
}

#[test]
fn pin_then_puk() {
    let now = Instant::now();
    let cfg = EngineConfig {
        profile: Profile::get(ProfileName::Generic),
        identity: Identity::generate(0, 1, "+48600000000"),
        pin: Some("1234".into()),
        puk: "12345678".into(),
        delay: DelayProfile::Instant,
        seed: 1,
        smsc: "+48601000310".into(),
    };
    let mut e = Engine::new(cfg, now);
    let mut ask = |line: &str| String::from_utf8_lossy(&e.input(line.as_bytes(), now).output).to_string();
    ask("ATE0;+CMEE=1\r");
    let cases = [
        ("AT+CPIN?\r", "\r\n+CPIN: SIM PIN\r\n\r\nOK\r\n"),
        ("AT+CIMI\r", "\r\n+CME ERROR: 11\r\n"),
        ("AT+CPIN=\"0000\"\r", "\r\n+CME ERROR: 16\r\n"),
        ("AT+CPIN=\"0000\"\r", "\r\n+CME ERROR: 16\r\n"),
        ("AT+CPIN=\"0000\"\r", "\r\n+CME ERROR: 12\r\n"),
        ("AT+CPIN?\r", "\r\n+CPIN: SIM PUK\r\n\r\nOK\r\n"),
        ("AT+CPIN=\"12345678\",\"4321\"\r", "\r\nOK\r\n"),
        ("AT+CPIN?\r", "\r\n+CPIN: READY\r\n\r\nOK\r\n"),
    ];
    for (input, expect) in cases {
        assert_eq!(ask(input), expect, "{input}");
    }
}

/// A 7-bit SMS-SUBMIT to +48600000001, "hello", no SRR (SMSC field 00).
const SUBMIT_HEX: &str = "0011000B918406000000F10000FF05E8329BFD06";

#[test]
fn cmgs_pdu_prompt_and_answer() {
    let (mut e, now) = engine(ProfileName::Generic);
    e.input(b"ATE0\r", now);
    assert_eq!(e.input(b"AT+CMGS=19\r", now).output, b"\r\n> ");
    let step = e.input(format!("{SUBMIT_HEX}\x1a").as_bytes(), now);
    assert_eq!(
        String::from_utf8_lossy(&step.output),
        "\r\n+CMGS: 0\r\n\r\nOK\r\n"
    );
    assert!(matches!(&step.effects[..], [Effect::Submitted { mr: 0, tpdu }] if tpdu.len() == 19));
    // Wrong length: 27.005 §3.5.1 invalid PDU parameter.
    e.input(b"AT+CMGS=18\r", now);
    let step = e.input(format!("{SUBMIT_HEX}\x1a").as_bytes(), now);
    assert_eq!(String::from_utf8_lossy(&step.output), "\r\n+CMS ERROR: 304\r\n");
    // ESC cancels.
    e.input(b"AT+CMGS=19\r", now);
    assert_eq!(e.input(b"0011\x1b", now).output, b"\r\nOK\r\n");
    // Next MR is 1.
    e.input(b"AT+CMGS=19\r", now);
    let step = e.input(format!("{SUBMIT_HEX}\x1a").as_bytes(), now);
    assert_eq!(
        String::from_utf8_lossy(&step.output),
        "\r\n+CMGS: 1\r\n\r\nOK\r\n"
    );
}

#[test]
fn wavecom_prompt_has_no_space() {
    let (mut e, now) = engine(ProfileName::Wavecom);
    e.input(b"ATE0\r", now);
    assert_eq!(e.input(b"AT+CMGS=19\r", now).output, b"\r\n>");
}

#[test]
fn network_delay_answers_later_and_holds_input() {
    let (mut e, now) = engine(ProfileName::Generic);
    e.input(b"ATE0\r", now);
    e.set_fault(
        &Fault::Delay {
            delay: DelayProfile::Fixed { ms: 2000 },
        },
        now,
    );
    e.input(b"AT+CMGS=19\r", now);
    let step = e.input(format!("{SUBMIT_HEX}\x1a").as_bytes(), now);
    assert!(step.output.is_empty());
    assert_eq!(e.next_deadline(), Some(now + Duration::from_secs(2)));
    // A command typed meanwhile waits for the answer.
    assert!(e.input(b"AT\r", now).output.is_empty());
    let step = e.on_timer(now + Duration::from_secs(2));
    assert_eq!(
        String::from_utf8_lossy(&step.output),
        "\r\n+CMGS: 0\r\n\r\nOK\r\n\r\nOK\r\n"
    );
}

#[test]
fn cms_every_kth_send() {
    let (mut e, now) = engine(ProfileName::Generic);
    e.input(b"ATE0\r", now);
    e.set_fault(&Fault::CmsEvery { k: 2, code: 38 }, now);
    let mut results = Vec::new();
    for _ in 0..4 {
        e.input(b"AT+CMGS=19\r", now);
        let out = e.input(format!("{SUBMIT_HEX}\x1a").as_bytes(), now).output;
        results.push(String::from_utf8_lossy(&out).to_string());
    }
    assert_eq!(results[0], "\r\n+CMGS: 0\r\n\r\nOK\r\n");
    assert_eq!(results[1], "\r\n+CMS ERROR: 38\r\n");
    assert_eq!(results[2], "\r\n+CMGS: 2\r\n\r\nOK\r\n");
    assert_eq!(results[3], "\r\n+CMS ERROR: 38\r\n");
}

#[test]
fn lost_registration_refuses_sends() {
    let (mut e, now) = engine(ProfileName::Generic);
    e.input(b"ATE0;+CREG=1\r", now);
    let step = e.set_fault(&Fault::NoRegistration { stat: 2 }, now);
    assert_eq!(step.output, b"\r\n+CREG: 2\r\n");
    assert_eq!(
        e.input(b"AT+CREG?\r", now).output,
        b"\r\n+CREG: 1,2\r\n\r\nOK\r\n"
    );
    e.input(b"AT+CMGS=19\r", now);
    let out = e.input(format!("{SUBMIT_HEX}\x1a").as_bytes(), now).output;
    assert_eq!(out, b"\r\n+CMS ERROR: 331\r\n");
    assert_eq!(e.clear_faults().output, b"\r\n+CREG: 1\r\n");
}

#[test]
fn hung_modem_says_nothing() {
    let (mut e, now) = engine(ProfileName::Generic);
    e.set_fault(&Fault::Hung, now);
    assert!(e.input(b"AT\r", now).output.is_empty());
    assert!(e.push_urc("RING").output.is_empty());
    e.clear_faults();
    assert_eq!(e.input(b"AT\r", now).output, b"AT\r\r\nOK\r\n");
}

/// A DELIVER from +48500100200, "hi", with SMSC +48601000310.
const DELIVER_HEX: &str = "07918406010013F0040B918405012002F0000062110170000000 02E834";

fn deliver_pdu() -> (Vec<u8>, usize) {
    let pdu = hex::decode(DELIVER_HEX.replace(' ', "")).unwrap_or_default();
    let len = pdu.len() - 8;
    (pdu, len)
}

#[test]
fn incoming_sms_routing_follows_cnmi() {
    let (mut e, now) = engine(ProfileName::Generic);
    e.input(b"ATE0;+CNMI=2,1,0,0,0\r", now);
    let (pdu, len) = deliver_pdu();
    let hexpdu = hex::encode_upper(&pdu);
    assert_eq!(e.deliver(&pdu, len).output, b"\r\n+CMTI: \"SM\",1\r\n");
    assert_eq!(
        String::from_utf8_lossy(&e.input(b"AT+CMGR=1\r", now).output),
        format!("\r\n+CMGR: 0,,{len}\r\n{hexpdu}\r\n\r\nOK\r\n")
    );
    // Now read.
    assert_eq!(
        String::from_utf8_lossy(&e.input(b"AT+CMGL=4\r", now).output),
        format!("\r\n+CMGL: 1,1,,{len}\r\n{hexpdu}\r\n\r\nOK\r\n")
    );
    assert_eq!(e.input(b"AT+CMGL=0\r", now).output, b"\r\nOK\r\n");
    assert_eq!(e.input(b"AT+CMGD=1\r", now).output, b"\r\nOK\r\n");
    assert_eq!(e.input(b"AT+CMGR=1\r", now).output, b"\r\nOK\r\n");
    // Direct delivery.
    e.input(b"AT+CNMI=2,2,0,0,0\r", now);
    assert_eq!(
        String::from_utf8_lossy(&e.deliver(&pdu, len).output),
        format!("\r\n+CMT: ,{len}\r\n{hexpdu}\r\n")
    );
    // Stored silently with mt=0.
    e.input(b"AT+CNMI=2,0,0,0,0\r", now);
    assert!(e.deliver(&pdu, len).output.is_empty());
    assert_eq!(
        e.input(b"AT+CPMS?\r", now).output,
        b"\r\n+CPMS: \"SM\",1,30,\"SM\",1,30,\"SM\",1,30\r\n\r\nOK\r\n"
    );
}

#[test]
fn status_reports_follow_cnmi_ds() {
    let (mut e, now) = engine(ProfileName::Generic);
    e.input(b"ATE0;+CNMI=2,1,0,1,0\r", now);
    let pdu = vec![0u8, 0x06, 0x05, 0x0B, 0x91];
    assert_eq!(e.status_report(&pdu, 4).output, b"\r\n+CDS: 4\r\n0006050B91\r\n");
    e.input(b"AT+CNMI=2,1,0,2,0\r", now);
    assert_eq!(e.status_report(&pdu, 4).output, b"\r\n+CDSI: \"SR\",1\r\n");
    e.input(b"AT+CPMS=\"SR\"\r", now);
    assert!(String::from_utf8_lossy(&e.input(b"AT+CMGR=1\r", now).output).starts_with("\r\n+CMGR: 0,,4\r\n"));
}

#[test]
fn empty_slot_reads_differ_per_family() {
    for (profile, expect) in [
        (ProfileName::Generic, "\r\nOK\r\n"),
        (ProfileName::SimcomSim800, "\r\nERROR\r\n"),
        (ProfileName::Telit, "\r\n+CMS ERROR: 321\r\n"),
    ] {
        check(profile, &[("AT+CMGR=3\r", expect)]);
    }
}

#[test]
fn storage_full() {
    let (mut e, now) = engine(ProfileName::QuectelEc25);
    e.input(b"ATE0;+CNMI=2,1,0,0,0\r", now);
    let step = e.set_fault(&Fault::StorageFull, now);
    assert_eq!(step.output, b"\r\n+QIND: \"smsfull\",\"SM\"\r\n");
    let (pdu, len) = deliver_pdu();
    assert!(e.deliver(&pdu, len).output.is_empty());
    assert_eq!(e.input(b"AT+CMGW=19\r", now).output, b"\r\n+CMS ERROR: 322\r\n");
}

#[test]
fn urcs_wait_while_the_dte_types_a_pdu() {
    let (mut e, now) = engine(ProfileName::Generic);
    e.input(b"ATE0\r", now);
    e.input(b"AT+CMGS=19\r", now);
    assert!(e.push_urc("RING").output.is_empty());
    let out = e.input(format!("{SUBMIT_HEX}\x1a").as_bytes(), now).output;
    assert_eq!(
        String::from_utf8_lossy(&out),
        "\r\n+CMGS: 0\r\n\r\nOK\r\n\r\nRING\r\n"
    );
}

#[test]
fn reboot_drops_settings_and_sends_boot_urcs() {
    let (mut e, now) = engine(ProfileName::SimcomSim800);
    e.input(b"ATE0\r", now);
    e.reboot(now);
    assert!(e.input(b"AT\r", now).output.is_empty());
    let later = now + REBOOT_TIME;
    assert_eq!(e.next_deadline(), Some(later));
    let out = e.on_timer(later).output;
    assert_eq!(
        String::from_utf8_lossy(&out),
        "\r\nRDY\r\n+CFUN: 1\r\n+CPIN: READY\r\nCall Ready\r\nSMS Ready\r\n"
    );
    // Echo is back on.
    assert_eq!(e.input(b"AT\r", later).output, b"AT\r\r\nOK\r\n");
}

#[test]
fn huawei_floods_urcs() {
    let (mut e, now) = engine(ProfileName::HuaweiE3372);
    let at = e.next_deadline().unwrap_or(now);
    let out = e.on_timer(at).output;
    assert!(String::from_utf8_lossy(&out).contains("^RSSI:"));
    assert!(e.next_deadline() > Some(at));
}

#[test]
fn ussd_answers_with_a_urc() {
    check(
        ProfileName::Generic,
        &[(
            "AT+CUSD=1,\"*100#\",15\r",
            "\r\nOK\r\n\r\n+CUSD: 0,\"hw-sim +48600000000: balance 12.34 PLN\",15\r\n",
        )],
    );
}

#[test]
fn garbage_fault_adds_noise() {
    let (mut e, now) = engine(ProfileName::Generic);
    let burst = e.set_fault(&Fault::Garbage { p: 1.0 }, now).output;
    assert!(!burst.is_empty());
    let out = e.input(b"AT\r", now).output;
    assert!(out.len() > b"AT\r\r\nOK\r\n".len());
    assert!(out.ends_with(b"AT\r\r\nOK\r\n"));
}

#[test]
fn huawei_slips_urcs_into_responses_until_curc_0() {
    let (mut e, now) = engine(ProfileName::HuaweiE3372);
    e.input(b"ATE0\r", now);
    let answers: Vec<String> = (0..4)
        .map(|_| String::from_utf8_lossy(&e.input(b"AT+CSQ\r", now).output).to_string())
        .collect();
    assert_eq!(answers[0], "\r\n+CSQ: 21,99\r\n\r\nOK\r\n");
    assert_eq!(answers[3], "\r\n+CSQ: 21,99\r\n\r\n^RSSI:19\r\n\r\nOK\r\n");
    assert_eq!(e.input(b"AT^CURC=0\r", now).output, b"\r\nOK\r\n");
    assert_eq!(e.next_deadline(), None, "no more floods");
    for _ in 0..4 {
        assert_eq!(e.input(b"AT+CSQ\r", now).output, b"\r\n+CSQ: 21,99\r\n\r\nOK\r\n");
    }
}

#[test]
fn text_mode_send_and_read() {
    let (mut e, now) = engine(ProfileName::Generic);
    e.input(b"ATE0;+CMGF=1;+CNMI=2,1,0,0,0\r", now);
    assert_eq!(e.input(b"AT+CMGS=\"+48600000001\"\r", now).output, b"\r\n> ");
    // 27.005 §3.5.1: CR inside the text gives a new prompt.
    assert_eq!(e.input(b"line one\r", now).output, b"\r\n> ");
    let step = e.input(b"line two\x1a", now);
    assert_eq!(
        String::from_utf8_lossy(&step.output),
        "\r\n+CMGS: 0\r\n\r\nOK\r\n"
    );
    assert!(matches!(&step.effects[..], [Effect::Submitted { mr: 0, tpdu }]
            if crate::codec::decode_submit(tpdu).is_ok_and(|d| d.to == "+48600000001" && d.text == "line one\nline two")));
    let (pdu, len) = deliver_pdu();
    e.deliver(&pdu, len);
    let read = String::from_utf8_lossy(&e.input(b"AT+CMGR=1\r", now).output).to_string();
    assert!(
        read.starts_with("\r\n+CMGR: \"REC UNREAD\",\"+48501002200\",,\"26/11/10,07:00:00+00\"\r\nhi\r\n"),
        "{read:?}"
    );
    let list = String::from_utf8_lossy(&e.input(b"AT+CMGL=\"ALL\"\r", now).output).to_string();
    assert!(
        list.starts_with("\r\n+CMGL: 1,\"REC READ\",\"+48501002200\""),
        "{list:?}"
    );
}

#[test]
fn undecodable_pdus_are_refused() {
    let (mut e, now) = engine(ProfileName::Generic);
    e.input(b"ATE0\r", now);
    for bad in [
        "00zz\x1a",
        "0000\x1a",
        "0004000B918406000000F10000FF05E8329BFD06\x1a",
    ] {
        e.input(b"AT+CMGS=1\r", now);
        let out = e.input(bad.as_bytes(), now).output;
        assert_eq!(out, b"\r\n+CMS ERROR: 304\r\n", "{bad:?}");
    }
}

proptest::proptest! {
    /// Whatever a DTE writes, the modem answers without panicking and keeps answering `AT` afterwards.
    #[test]
    fn any_input_is_survived(chunks in proptest::collection::vec(proptest::collection::vec(proptest::num::u8::ANY, 0..64), 0..16)) {
        for profile in [ProfileName::Generic, ProfileName::HuaweiE3372] {
            let (mut e, now) = engine(profile);
            for c in &chunks {
                e.input(c, now);
                let _ = e.on_timer(now + Duration::from_secs(10));
            }
            // Leave any prompt and finish any line, then the modem must answer.
            e.input(b"\x1b\r", now);
            let later = now + Duration::from_secs(60);
            let _ = e.on_timer(later);
            let out = e.input(b"AT\r", later).output;
            let text = String::from_utf8_lossy(&out).to_string();
            proptest::prop_assert!(text.ends_with("OK\r\n") || text.ends_with("0\r") || text.is_empty() || text.ends_with("ERROR\r\n"), "{text:?}");
        }
    }

    /// The command-line parser never panics.
    #[test]
    fn parser_never_panics(line in "\\PC{0,80}") {
        let _ = crate::v250::parse_line(&line);
        let _ = crate::v250::split_args(&line);
    }
}

#[test]
fn quiet_mode_drops_result_codes_only() {
    check(
        ProfileName::Generic,
        &[
            ("ATQ1\r", ""),
            ("AT+CGMI\r", "\r\nhw-sim\r\n"),
            ("AT+NOPE\r", ""),
            ("ATQ0\r", "\r\nOK\r\n"),
        ],
    );
}

#[test]
fn text_mode_refuses_what_does_not_fit_one_part() {
    let (mut e, now) = engine(ProfileName::Generic);
    e.input(b"ATE0;+CMGF=1\r", now);
    e.input(b"AT+CMGS=\"+48600000001\"\r", now);
    let long = "x".repeat(200);
    let out = e.input(format!("{long}\x1a").as_bytes(), now).output;
    assert_eq!(out, b"\r\n+CMS ERROR: 305\r\n");
}

#[test]
fn write_then_send_from_storage() {
    let (mut e, now) = engine(ProfileName::Generic);
    e.input(b"ATE0\r", now);
    assert_eq!(e.input(b"AT+CMGW=19\r", now).output, b"\r\n> ");
    let out = e.input(format!("{SUBMIT_HEX}\x1a").as_bytes(), now).output;
    assert_eq!(out, b"\r\n+CMGW: 1\r\n\r\nOK\r\n");
    assert_eq!(
        String::from_utf8_lossy(&e.input(b"AT+CMGL=2\r", now).output),
        format!("\r\n+CMGL: 1,2,,19\r\n{SUBMIT_HEX}\r\n\r\nOK\r\n")
    );
    let step = e.input(b"AT+CMSS=1\r", now);
    assert_eq!(step.output, b"\r\n+CMSS: 0\r\n\r\nOK\r\n");
    assert!(matches!(
        &step.effects[..],
        [Effect::CommandLine { .. }, Effect::Submitted { mr: 0, .. }]
    ));
    // Now STO SENT.
    assert!(
        String::from_utf8_lossy(&e.input(b"AT+CMGL=3\r", now).output).starts_with("\r\n+CMGL: 1,3,,19\r\n")
    );
    assert_eq!(e.input(b"AT+CMSS=7\r", now).output, b"\r\n+CMS ERROR: 321\r\n");
}

#[test]
fn delete_flags() {
    let (mut e, now) = engine(ProfileName::Generic);
    e.input(b"ATE0;+CNMI=2,0,0,0,0\r", now);
    let (pdu, len) = deliver_pdu();
    for _ in 0..3 {
        e.deliver(&pdu, len);
    }
    e.input(b"AT+CMGR=1\r", now); // 1 is read now, 2 and 3 unread
    assert_eq!(e.input(b"AT+CMGD=1,1\r", now).output, b"\r\nOK\r\n");
    assert_eq!(
        e.input(b"AT+CPMS?\r", now).output,
        b"\r\n+CPMS: \"SM\",2,30,\"SM\",2,30,\"SM\",2,30\r\n\r\nOK\r\n"
    );
    assert_eq!(e.input(b"AT+CMGD=1,4\r", now).output, b"\r\nOK\r\n");
    assert_eq!(
        e.input(b"AT+CPMS?\r", now).output,
        b"\r\n+CPMS: \"SM\",0,30,\"SM\",0,30,\"SM\",0,30\r\n\r\nOK\r\n"
    );
    assert_eq!(e.input(b"AT+CMGD=99\r", now).output, b"\r\n+CMS ERROR: 321\r\n");
}

#[test]
fn cfun_and_registration_urcs() {
    check(
        ProfileName::Generic,
        &[
            ("AT+CEREG=2;+CGREG=1\r", "\r\nOK\r\n"),
            ("AT+COPS?\r", "\r\n+COPS: 0,0,\"HW-SIM\",7\r\n\r\nOK\r\n"),
            // Radio off: registration is lost while the command runs, so the URCs precede its OK.
            ("AT+CFUN=4\r", "\r\n+CGREG: 0\r\n+CEREG: 0\r\n\r\nOK\r\n"),
            ("AT+CSQ\r", "\r\n+CSQ: 99,99\r\n\r\nOK\r\n"),
            ("AT+COPS?\r", "\r\n+COPS: 0\r\n\r\nOK\r\n"),
            (
                "AT+CFUN=1\r",
                "\r\n+CGREG: 1\r\n+CEREG: 1,\"00C3\",\"0000A13F\"\r\n\r\nOK\r\n",
            ),
            ("AT+CFUN?\r", "\r\n+CFUN: 1\r\n\r\nOK\r\n"),
        ],
    );
}
