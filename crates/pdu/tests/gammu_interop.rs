#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers outside #[test] fns
//! Interop with libgammu (python3-gammu), the PDU code behind gammu and gammu-smsd: what we encode gammu
//! decodes to the same text, and what gammu encodes (SUBMIT and DELIVER, concatenated) we decode and
//! reassemble to the same text. Needs python3-gammu (tests/run-all.sh installs it); fails, never skips,
//! when it is missing.
use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use smsgate_pdu::*;

const PYTHON: &str = "/usr/bin/python3";

fn gammu(request: Value) -> Value {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/gammu_interop.py");
    let mut child = Command::new(PYTHON)
        .arg(script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {PYTHON} (needed with python3-gammu for this test): {e}"));
    child
        .stdin
        .take()
        .unwrap()
        .write_all(request.to_string().as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "gammu interop helper failed (is python3-gammu installed? tests/run-all.sh installs it): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

const TEXTS: &[&str] = &[
    "hellohello",
    "Zażółć gęślą jaźń",
    "€ [x] {y} ~ | ^ \\ end",
    "Zażółć 😀 👍",
    "Ελληνικά και Русский",
];

fn long_texts() -> Vec<String> {
    vec![
        "The quick brown fox jumps over the lazy dog. ".repeat(9),
        "€uro [brackets] ".repeat(25),
        "Zażółć gęślą jaźń 😀 ".repeat(12),
    ]
}

#[test]
fn gammu_decodes_what_we_encode() {
    let mut all: Vec<String> = TEXTS.iter().map(|s| s.to_string()).collect();
    all.extend(long_texts());
    let mut hexes = Vec::new();
    // (text index, number of parts, this part's text as we decode it)
    let mut expect = Vec::new();
    for (i, text) in all.iter().enumerate() {
        let mut o = SubmitOptions::new(Address::parse("+48600100200").unwrap());
        o.smsc = Some(Address::parse("+48601000310").unwrap());
        o.validity = Validity::Relative(Duration::from_secs(2 * 86400));
        o.text.concat_ref = i as u16 + 1;
        let parts = encode_submit(text, &o).unwrap();
        let n = parts.len();
        for p in parts {
            let Pdu::Submit(s) = decode(&p.pdu).unwrap() else {
                panic!("not a submit")
            };
            hexes.push(p.hex());
            expect.push((i, n, s.user_data.text().unwrap().to_string()));
        }
    }
    let v = gammu(json!({ "decode": hexes }));
    let decoded = v["decoded"].as_array().unwrap();
    let mut joined = vec![String::new(); all.len()];
    for (d, (i, n, part)) in decoded.iter().zip(&expect) {
        assert_eq!(d["number"], "+48600100200");
        assert_eq!(d["validity"], "2D");
        if *n > 1 {
            assert_eq!(d["parts"], *n);
        }
        // libgammu 1.42 reports one extra character per escape sequence (it takes the septet count as the
        // character count; its own PDUs decode the same way), so compare the characters the part holds.
        let text: String = d["text"]
            .as_str()
            .unwrap()
            .chars()
            .take(part.chars().count())
            .collect();
        assert_eq!(&text, part);
        joined[*i].push_str(&text);
    }
    for (got, want) in joined.iter().zip(&all) {
        assert_eq!(got, want);
    }
}

#[test]
fn we_decode_and_reassemble_what_gammu_encodes() {
    let mut all: Vec<(String, bool)> = TEXTS
        .iter()
        .map(|s| (s.to_string(), !s.chars().all(gsm7::is_gsm7_default)))
        .collect();
    all.extend(long_texts().into_iter().map(|s| {
        let unicode = !s.chars().all(gsm7::is_gsm7_default);
        (s, unicode)
    }));
    for layout in ["Submit", "Deliver"] {
        let req: Vec<Value> = all
            .iter()
            .map(|(text, unicode)| json!({ "text": text, "unicode": unicode, "layout": layout }))
            .collect();
        let v = gammu(json!({ "encode": req }));
        for ((text, _), parts) in all.iter().zip(v["encoded"].as_array().unwrap()) {
            let mut reassembler = Reassembler::new(Duration::from_secs(60));
            let mut joined = String::new();
            let mut complete = None;
            for hex in parts.as_array().unwrap() {
                let pdu = decode_hex(hex.as_str().unwrap()).unwrap_or_else(|e| panic!("{layout} {hex}: {e}"));
                assert_eq!(pdu.address().to_string(), "+48600100200");
                match pdu {
                    Pdu::Submit(s) => joined.push_str(s.user_data.text().unwrap()),
                    Pdu::Deliver(d) => {
                        if let Some(m) = reassembler.push(d, Instant::now()) {
                            complete = Some(m.text());
                        }
                    }
                    other => panic!("unexpected {other:?}"),
                }
            }
            let got = complete.unwrap_or(joined);
            assert_eq!(&got, text, "{layout}");
        }
    }
}

#[test]
fn gammu_decodes_our_status_reports() {
    let statuses = [
        Status::DELIVERED,
        Status::SME_BUSY_TRYING,
        Status::VALIDITY_EXPIRED,
        Status::SERVICE_REJECTED,
    ];
    let hexes: Vec<String> = statuses
        .iter()
        .enumerate()
        .map(|(i, &status)| {
            encode_status_report(&StatusReportOptions {
                smsc: Some(Address::parse("+48601000310").unwrap()),
                mr: 40 + i as u8,
                recipient: Address::parse("+48600100200").unwrap(),
                scts: time::macros::datetime!(2026-11-25 08:15:00 +01:00),
                discharge_time: time::macros::datetime!(2026-11-25 08:15:07 +01:00),
                status,
                more_messages: false,
            })
            .unwrap()
            .hex()
        })
        .collect();
    let v = gammu(json!({ "decode": hexes }));
    for (i, (d, status)) in v["decoded"].as_array().unwrap().iter().zip(statuses).enumerate() {
        assert_eq!(d["type"], "Status_Report");
        assert_eq!(d["number"], "+48600100200");
        assert_eq!(d["mr"], 40 + i);
        assert_eq!(d["status"], status.0);
    }
}
