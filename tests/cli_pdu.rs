#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers outside #[test] fns
//! `smsgate pdu encode|decode` run as the built binary: JSON shape, text output, exit status on bad input.
use std::process::{Command, Output};

use serde_json::Value;

fn smsgate(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_smsgate"))
        .args(args)
        .output()
        .expect("run smsgate")
}

fn json(args: &[&str]) -> Value {
    let out = smsgate(args);
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("JSON on stdout")
}

#[test]
fn decode_deliver_json() {
    let v = json(&[
        "pdu",
        "decode",
        "--json",
        "07917283010010F5040BC87238880900F10000993092516195800AE8329BFD4697D9EC37",
    ]);
    assert_eq!(v["type"], "SMS-DELIVER");
    assert_eq!(v["smsc"], "+27381000015");
    assert_eq!(v["address"], "27838890001");
    assert_eq!(v["encoding"], "gsm7");
    assert_eq!(v["text"], "hellohello");
    assert_eq!(v["udh"], Value::Null);
    assert_eq!(v["class"], Value::Null);
    assert_eq!(v["timestamp"], "1999-03-29T15:16:59+02:00");
    assert_eq!(v["srr"], false);
    assert_eq!(v["mr"], Value::Null);
    assert_eq!(v["status"], Value::Null);
}

#[test]
fn decode_submit_json() {
    let v = json(&[
        "pdu",
        "decode",
        "--json",
        "0011000B916407281553F80000AA0AE8329BFD4697D9EC37",
    ]);
    assert_eq!(v["type"], "SMS-SUBMIT");
    assert_eq!(v["smsc"], Value::Null);
    assert_eq!(v["address"], "+46708251358");
    assert_eq!(v["validity"]["relative_seconds"], 4 * 86400);
    assert_eq!(v["mr"], 0);
    assert_eq!(v["srr"], false);
}

#[test]
fn decode_status_report_json() {
    let v = json(&[
        "pdu",
        "decode",
        "--json",
        "07918406010013F0062A0B918406100002F0621152805100406211528051704046",
    ]);
    assert_eq!(v["type"], "SMS-STATUS-REPORT");
    assert_eq!(v["address"], "+48600100200");
    assert_eq!(v["mr"], 42);
    assert_eq!(v["status"]["code"], 0x46);
    assert_eq!(v["status"]["category"], "permanent_failure");
    assert_eq!(v["status"]["meaning"], "SM validity period expired");
    assert_eq!(v["timestamp"], "2026-11-25T08:15:00+01:00");
    assert_eq!(v["discharge_time"], "2026-11-25T08:15:07+01:00");
}

#[test]
fn decode_8bit_and_concat() {
    let v = json(&[
        "pdu",
        "decode",
        "--json",
        "00440B918406100002F00004621152805100400A050003CC0201CAFEBABE",
    ]);
    assert_eq!(v["encoding"], "8bit");
    assert_eq!(v["text"], Value::Null);
    assert_eq!(v["data_hex"], "CAFEBABE");
    assert_eq!(v["udh"]["concat"]["ref"], 0xCC);
    assert_eq!(v["udh"]["concat"]["total"], 2);
    assert_eq!(v["udh"]["concat"]["seq"], 1);
}

#[test]
fn encode_json_round_trips_through_decode() {
    let text = "Zażółć gęślą jaźń 😀 ".repeat(8);
    let v = json(&[
        "pdu",
        "encode",
        "--to",
        "+48600100200",
        "--text",
        &text,
        "--smsc",
        "+48601000310",
        "--srr",
        "--validity",
        "2d",
        "--class",
        "1",
        "--json",
    ]);
    let parts = v.as_array().unwrap();
    assert!(parts.len() > 1);
    let mut joined = String::new();
    for (i, p) in parts.iter().enumerate() {
        let hex = p["pdu"].as_str().unwrap();
        let len = p["length"].as_u64().unwrap() as usize;
        assert_eq!(len, hex.len() / 2 - 8, "length excludes the 8-octet SMSC field");
        let d = json(&["pdu", "decode", "--json", hex]);
        assert_eq!(d["type"], "SMS-SUBMIT");
        assert_eq!(d["smsc"], "+48601000310");
        assert_eq!(d["address"], "+48600100200");
        assert_eq!(d["encoding"], "ucs2");
        assert_eq!(d["srr"], true);
        assert_eq!(d["class"], 1);
        assert_eq!(d["validity"]["relative_seconds"], 2 * 86400);
        assert_eq!(d["udh"]["concat"]["seq"], i + 1);
        joined.push_str(d["text"].as_str().unwrap());
    }
    assert_eq!(joined, text);
}

#[test]
fn encode_options() {
    // (extra args, expected encoding, expected text)
    let cases: &[(&[&str], &str, &str)] = &[
        (&[], "ucs2", "Zażółć"),
        (&["--transliterate"], "gsm7", "Zazolc"),
        (&["--encoding", "ucs2"], "ucs2", "Zażółć"),
    ];
    for (extra, encoding, text) in cases {
        let mut args = vec!["pdu", "encode", "--to", "600100200", "--text", "Zażółć", "--json"];
        args.extend_from_slice(extra);
        let v = json(&args);
        let d = json(&["pdu", "decode", "--json", v[0]["pdu"].as_str().unwrap()]);
        assert_eq!(d["encoding"], *encoding, "{extra:?}");
        assert_eq!(d["text"], *text, "{extra:?}");
        assert_eq!(d["address"], "600100200");
    }
    let v = json(&[
        "pdu",
        "encode",
        "--to",
        "+48600100200",
        "--text",
        "hi",
        "--class",
        "0",
        "--json",
    ]);
    assert_eq!(
        json(&["pdu", "decode", "--json", v[0]["pdu"].as_str().unwrap()])["class"],
        0
    );
}

#[test]
fn text_output() {
    let out = smsgate(&[
        "pdu",
        "encode",
        "--to",
        "+46708251358",
        "--text",
        "hellohello",
        "--validity",
        "4d",
    ]);
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        "AT+CMGS=23\n0011000B916407281553F80000AA0AE8329BFD4697D9EC37\n"
    );
    let out = smsgate(&[
        "pdu",
        "decode",
        "0011000B916407281553F80000AA0AE8329BFD4697D9EC37",
    ]);
    let s = String::from_utf8(out.stdout).unwrap();
    assert!(
        s.contains("type: SMS-SUBMIT\n") && s.contains("text: hellohello\n"),
        "{s}"
    );
}

#[test]
fn bad_input_exits_non_zero_with_one_line() {
    let cases: &[(&[&str], &str)] = &[
        (&["pdu", "decode", "001"], "odd number of hex digits"),
        (&["pdu", "decode", "zz"], "not a hex digit"),
        (
            &["pdu", "decode", "0011000B916407281553F80000AA0AE8329BFD4697D9EC"],
            "TP-UD at octet 23",
        ),
        (&["pdu", "decode", "0003"], "TP-MTI"),
        (
            &["pdu", "encode", "--to", "+48abc", "--text", "x"],
            "invalid address",
        ),
        (
            &["pdu", "encode", "--to", "1", "--text", "x", "--validity", "5x"],
            "invalid duration",
        ),
        (
            &["pdu", "encode", "--to", "1", "--text", "ż", "--encoding", "gsm7"],
            "cannot be encoded in GSM 7-bit",
        ),
    ];
    for (args, needle) in cases {
        let out = smsgate(args);
        assert!(!out.status.success(), "{args:?}");
        let err = String::from_utf8(out.stderr).unwrap();
        assert_eq!(err.trim_end().lines().count(), 1, "{args:?}: {err}");
        assert!(err.contains(needle), "{args:?}: {err}");
        assert!(out.stdout.is_empty());
    }
    let out = smsgate(&["pdu", "encode", "--to", "1", "--text", "x", "--class", "4"]);
    assert!(!out.status.success());
}

#[test]
fn validity_durations() {
    // (--validity, seconds the relative TP-VP stands for: rounded up to what TS 23.040 can express)
    let cases: &[(&str, u64)] = &[
        ("30m", 30 * 60),
        ("1h", 3600),
        ("1h30m", 90 * 60),
        ("90s", 5 * 60),
        ("13h", 13 * 3600),
        ("2d", 2 * 86400),
        ("1w", 7 * 86400),
        ("40d", 6 * 7 * 86400),
    ];
    for (arg, secs) in cases {
        let v = json(&[
            "pdu",
            "encode",
            "--to",
            "+48600100200",
            "--text",
            "x",
            "--validity",
            arg,
            "--json",
        ]);
        let d = json(&["pdu", "decode", "--json", v[0]["pdu"].as_str().unwrap()]);
        assert_eq!(d["validity"]["relative_seconds"], *secs, "{arg}");
    }
    for bad in ["", "h", "1", "1x", "m30", "99999999999999999999w"] {
        let out = smsgate(&["pdu", "encode", "--to", "1", "--text", "x", "--validity", bad]);
        assert!(!out.status.success(), "{bad:?}");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("duration"),
            "{bad:?}"
        );
    }
    let out = smsgate(&[
        "pdu",
        "encode",
        "--to",
        "1",
        "--text",
        "x",
        "--transliterate",
        "--encoding",
        "ucs2",
    ]);
    assert!(!out.status.success());
}

#[test]
fn national_tables_on_request() {
    let v = json(&[
        "pdu",
        "encode",
        "--to",
        "+905321234567",
        "--text",
        "Şişli'de güzel",
        "--national",
        "turkish",
        "--json",
    ]);
    let d = json(&["pdu", "decode", "--json", v[0]["pdu"].as_str().unwrap()]);
    assert_eq!(d["encoding"], "gsm7");
    assert_eq!(d["text"], "Şişli'de güzel");
    assert_eq!(d["udh"]["elements"][0]["type"], "locking_shift");
    assert_eq!(d["udh"]["elements"][0]["language"], 1);
    let v = json(&[
        "pdu",
        "encode",
        "--to",
        "+905321234567",
        "--text",
        "Şişli'de güzel",
        "--json",
    ]);
    assert_eq!(
        json(&["pdu", "decode", "--json", v[0]["pdu"].as_str().unwrap()])["encoding"],
        "ucs2"
    );
}
