//! Transcript tables for the framer: each case is what the gateway writes and what a modem answers, with
//! the frames expected. Every case is also fed split at every byte boundary, byte by byte, and with URCs
//! injected at every line boundary.
use bytes::BytesMut;
use tokio_util::codec::Decoder;

use super::codec::{AtCodec, Expect, FinalResult, Frame, InvalidFrame};
use super::error::{CmeError, CmsError};
use super::urc::{RegKind, Urc};

/// One step of a transcript.
#[derive(Clone, Copy)]
enum Step {
    /// The gateway writes this command (the framer is told what it expects).
    Cmd(&'static str),
    /// The modem sends these bytes.
    Rx(&'static [u8]),
}
use Step::{Cmd, Rx};

const DELIVER_PDU: &str = "07911326040000F0040B911346610089F60000208062917314080CC8F71D14969741F977FD07";
const REPORT_PDU: &str = "07911326040000F006D60B911326880736F4111011719551401110117195714000";

fn ok() -> Frame {
    Frame::Final(FinalResult::Ok)
}
fn info(s: &str) -> Frame {
    Frame::Info(s.to_owned())
}
fn echo(s: &str) -> Frame {
    Frame::Echo(s.to_owned())
}
fn boot(s: &str) -> Frame {
    Frame::Urc(Urc::Boot(s.to_owned()))
}
fn hex(s: &str) -> Vec<u8> {
    hex::decode(s).unwrap()
}

/// Cuts the received chunk of a step (by index) into pieces.
type Splitter<'a> = &'a dyn Fn(usize, &[u8]) -> Vec<Vec<u8>>;

/// Feeds the transcript, cutting received chunks with `split`.
fn run(steps: &[Step], split: Splitter<'_>) -> Vec<Frame> {
    let mut codec = AtCodec::new();
    let mut buf = BytesMut::new();
    let mut frames = Vec::new();
    for (i, step) in steps.iter().enumerate() {
        match step {
            Cmd(c) => codec.expect(Expect::for_command(c)),
            Rx(bytes) => {
                for piece in split(i, bytes) {
                    buf.extend_from_slice(&piece);
                    while let Some(f) = codec.decode(&mut buf).unwrap() {
                        frames.push(f);
                    }
                }
            }
        }
    }
    while let Some(f) = codec.decode_eof(&mut buf).unwrap() {
        frames.push(f);
    }
    frames
}

fn whole(_: usize, b: &[u8]) -> Vec<Vec<u8>> {
    vec![b.to_vec()]
}

fn check(name: &str, steps: &[Step], expect: &[Frame]) {
    check_with(name, steps, expect, true);
}

/// `every_split`: also feed each chunk split in two at every offset, and inject three kinds of URC (long
/// captured transcripts use byte-by-byte feeding and one URC kind instead, to stay fast).
fn check_with(name: &str, steps: &[Step], expect: &[Frame], every_split: bool) {
    let got = run(steps, &whole);
    assert_eq!(got, expect, "case {name}: whole chunks");

    let bytewise = run(steps, &|_, b| b.iter().map(|&x| vec![x]).collect());
    assert_eq!(bytewise, expect, "case {name}: byte by byte");

    for (target, step) in steps.iter().enumerate().filter(|_| every_split) {
        let Rx(bytes) = step else { continue };
        for at in 1..bytes.len() {
            let got = run(steps, &|i, b| {
                if i == target {
                    vec![b[..at].to_vec(), b[at..].to_vec()]
                } else {
                    vec![b.to_vec()]
                }
            });
            assert_eq!(got, expect, "case {name}: step {target} split at {at}");
        }
    }

    let urcs: &[&[u8]] = if every_split {
        &[b"\r\n+CMTI: \"SM\",9\r\n", b"\r\n^RSSI:12\r\n", b"\r\nRING\r\n"]
    } else {
        &[b"\r\n+CMTI: \"SM\",9\r\n"]
    };
    // Whether the modem's output before each step ends at a line boundary (a URC never cuts a line).
    let mut at_line_start = Vec::with_capacity(steps.len());
    let mut last = b'\n';
    for step in steps {
        at_line_start.push(last == b'\n');
        if let Rx(bytes) = step {
            last = bytes.last().copied().unwrap_or(last);
        }
    }
    for &urc_bytes in urcs {
        let injected = match run(&[Rx(urc_bytes)], &whole).as_slice() {
            [f] => f.clone(),
            other => panic!("injected URC frames {other:?}"),
        };
        let baseline = expect.iter().filter(|f| **f == injected).count();
        for (target, step) in steps.iter().enumerate() {
            let Rx(bytes) = step else { continue };
            for at in line_starts(bytes)
                .into_iter()
                .filter(|&at| at > 0 || at_line_start[target])
            {
                let got = run(steps, &|i, b| {
                    if i == target {
                        vec![b[..at].to_vec(), urc_bytes.to_vec(), b[at..].to_vec()]
                    } else {
                        vec![b.to_vec()]
                    }
                });
                let injected_count = got.iter().filter(|f| **f == injected).count();
                let rest: Vec<Frame> = got.iter().filter(|f| **f != injected).cloned().collect();
                let want: Vec<Frame> = expect.iter().filter(|f| **f != injected).cloned().collect();
                assert_eq!(
                    injected_count,
                    baseline + 1,
                    "case {name}: URC at step {target} offset {at}"
                );
                assert_eq!(rest, want, "case {name}: URC at step {target} offset {at}");
            }
        }
    }
}

/// Offsets where a URC may start: the chunk start and after every LF, except right after the header of a
/// two-line URC (a modem never puts anything between `+CMT:` and its PDU).
fn line_starts(bytes: &[u8]) -> Vec<usize> {
    let mut starts = vec![0];
    let mut line_start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        if b == b'\n' {
            let line = &bytes[line_start..i];
            let text = String::from_utf8_lossy(line);
            let text = text.trim();
            let header = ["+CMT:", "+CDS:", "+CBM:"].iter().any(|h| text.starts_with(h));
            if !header || text.is_empty() {
                starts.push(i + 1);
            }
            if !text.is_empty() {
                line_start = i + 1;
            }
        }
    }
    starts.dedup();
    starts
}

#[test]
fn probe_with_echo_and_boot_urcs() {
    check(
        "quectel boot",
        &[
            Rx(b"\r\nRDY\r\n\r\n+CFUN: 1\r\n\r\n+CPIN: READY\r\n\r\n+QIND: SMS DONE\r\n"),
            Cmd("AT"),
            Rx(b"AT\r\r\nOK\r\n"),
            Cmd("ATE0"),
            Rx(b"ATE0\r\r\nOK\r\n"),
            Cmd("AT+CMEE=1"),
            Rx(b"\r\nOK\r\n"),
        ],
        &[
            boot("RDY"),
            boot("+CFUN: 1"),
            boot("+CPIN: READY"),
            boot("+QIND: SMS DONE"),
            echo("AT"),
            ok(),
            echo("ATE0"),
            ok(),
            ok(),
        ],
    );
    check(
        "simcom boot",
        &[Rx(
            b"\r\nRDY\r\n\r\n+CFUN: 1\r\n\r\nSMS Ready\r\n\r\nCall Ready\r\n",
        )],
        &[
            boot("RDY"),
            boot("+CFUN: 1"),
            boot("SMS Ready"),
            boot("Call Ready"),
        ],
    );
    check(
        "huawei boot",
        &[Rx(
            b"\r\n^BOOT:20251125,0,0,0,72\r\n\r\n^RSSI:18\r\n\r\n^MODE:5,4\r\n",
        )],
        &[
            boot("^BOOT:20251125,0,0,0,72"),
            Frame::Urc(Urc::Signal { rssi: 18 }),
            Frame::Urc(Urc::Vendor("^MODE:5,4".into())),
        ],
    );
}

#[test]
fn information_lines_and_same_prefix_urcs() {
    check(
        "creg query vs urc",
        &[
            Cmd("AT+CREG?"),
            Rx(b"\r\n+CREG: 0,1\r\n\r\nOK\r\n\r\n+CREG: 5\r\n"),
        ],
        &[
            info("+CREG: 0,1"),
            ok(),
            Frame::Urc(Urc::Registration {
                kind: RegKind::Cs,
                stat: 5,
                lac: None,
                ci: None,
            }),
        ],
    );
    check(
        "identity",
        &[
            Cmd("AT+CGMI"),
            Rx(b"\r\nQuectel\r\n\r\nOK\r\n"),
            Cmd("AT+CGSN"),
            Rx(b"\r\n866758040000001\r\n\r\nOK\r\n"),
            Cmd("AT+CSQ"),
            Rx(b"\r\n+CSQ: 21,99\r\n\r\nOK\r\n"),
            Cmd("AT+COPS?"),
            Rx(b"\r\n+COPS: 0,0,\"Plus PL\",7\r\n\r\nOK\r\n"),
            Cmd("AT+CPMS=\"SM\",\"SM\",\"SR\""),
            Rx(b"\r\n+CPMS: 2,30,2,30,0,20\r\n\r\nOK\r\n"),
        ],
        &[
            info("Quectel"),
            ok(),
            info("866758040000001"),
            ok(),
            info("+CSQ: 21,99"),
            ok(),
            info("+COPS: 0,0,\"Plus PL\",7"),
            ok(),
            info("+CPMS: 2,30,2,30,0,20"),
            ok(),
        ],
    );
    check(
        "cpin query and sim urc",
        &[
            Cmd("AT+CPIN?"),
            Rx(b"\r\n+CPIN: SIM PIN\r\n\r\nOK\r\n\r\n+CPIN: NOT INSERTED\r\n"),
        ],
        &[
            info("+CPIN: SIM PIN"),
            ok(),
            Frame::Urc(Urc::SimStatus("NOT INSERTED".into())),
        ],
    );
}

#[test]
fn send_pdu() {
    check(
        "cmgs prompt with space",
        &[
            Cmd("AT+CMGS=23"),
            Rx(b"\r\n> "),
            Rx(b"\r\n+CMGS: 42\r\n\r\nOK\r\n"),
        ],
        &[Frame::Prompt, info("+CMGS: 42"), ok()],
    );
    check(
        "cmgs prompt without space, echo on, pdu echoed",
        &[
            Cmd("AT+CMGS=23"),
            Rx(b"AT+CMGS=23\r\r\n>"),
            Rx(b"0011000B916407281553F80000AA0AE8329BFD4697D9EC37\x1a\r\n+CMGS: 7\r\n\r\nOK\r\n"),
        ],
        &[
            echo("AT+CMGS=23"),
            Frame::Prompt,
            echo("0011000B916407281553F80000AA0AE8329BFD4697D9EC37"),
            info("+CMGS: 7"),
            ok(),
        ],
    );
    check(
        "cmgs network error",
        &[Cmd("AT+CMGS=23"), Rx(b"\r\n> "), Rx(b"\r\n+CMS ERROR: 331\r\n")],
        &[
            Frame::Prompt,
            Frame::Final(FinalResult::CmsError(CmsError::NoNetworkService)),
        ],
    );
    check(
        "cmgs cancelled with esc",
        &[Cmd("AT+CMGS=23"), Rx(b"\r\n> "), Rx(b"\r\nOK\r\n")],
        &[Frame::Prompt, ok()],
    );
}

#[test]
fn receive() {
    let cmgr: &'static [u8] = Box::leak(
        format!("\r\n+CMGR: 0,,38\r\n{DELIVER_PDU}\r\n\r\nOK\r\n")
            .into_bytes()
            .into_boxed_slice(),
    );
    check(
        "cmgr",
        &[Cmd("AT+CMGR=3"), Rx(cmgr)],
        &[info("+CMGR: 0,,38"), info(DELIVER_PDU), ok()],
    );
    let cmgl: &'static [u8] = Box::leak(
        format!("\r\n+CMGL: 1,0,,38\r\n{DELIVER_PDU}\r\n+CMGL: 4,1,,38\r\n{DELIVER_PDU}\r\n\r\nOK\r\n")
            .into_bytes()
            .into_boxed_slice(),
    );
    check(
        "cmgl",
        &[Cmd("AT+CMGL=4"), Rx(cmgl)],
        &[
            info("+CMGL: 1,0,,38"),
            info(DELIVER_PDU),
            info("+CMGL: 4,1,,38"),
            info(DELIVER_PDU),
            ok(),
        ],
    );
    let cmt: &'static [u8] = Box::leak(
        format!("\r\n+CMT: ,38\r\n{DELIVER_PDU}\r\n")
            .into_bytes()
            .into_boxed_slice(),
    );
    check(
        "cmt direct",
        &[Rx(cmt)],
        &[Frame::Urc(Urc::Message {
            length: 38,
            pdu: hex(DELIVER_PDU),
        })],
    );
    let cds: &'static [u8] = Box::leak(
        format!("\r\n+CDS: 25\r\n{REPORT_PDU}\r\n")
            .into_bytes()
            .into_boxed_slice(),
    );
    check(
        "cds direct",
        &[Rx(cds)],
        &[Frame::Urc(Urc::StatusReport {
            length: 25,
            pdu: hex(REPORT_PDU),
        })],
    );
    // A +CMT arriving while a command is pending is still a URC.
    let cmt_mid: &'static [u8] = Box::leak(
        format!("\r\n+CSQ: 20,99\r\n\r\n+CMT: ,38\r\n{DELIVER_PDU}\r\n\r\nOK\r\n")
            .into_bytes()
            .into_boxed_slice(),
    );
    check(
        "cmt inside a response",
        &[Cmd("AT+CSQ"), Rx(cmt_mid)],
        &[
            info("+CSQ: 20,99"),
            Frame::Urc(Urc::Message {
                length: 38,
                pdu: hex(DELIVER_PDU),
            }),
            ok(),
        ],
    );
    check(
        "cmti and cdsi",
        &[Rx(b"\r\n+CMTI: \"SM\",3\r\n\r\n+CDSI: \"SR\",1\r\n")],
        &[
            Frame::Urc(Urc::NewMessage {
                mem: "SM".into(),
                index: 3,
            }),
            Frame::Urc(Urc::StatusReportIndex {
                mem: "SR".into(),
                index: 1,
            }),
        ],
    );
    check(
        "empty slot answers cms 321",
        &[Cmd("AT+CMGR=9"), Rx(b"\r\n+CMS ERROR: 321\r\n")],
        &[Frame::Final(FinalResult::CmsError(CmsError::InvalidMemoryIndex))],
    );
}

#[test]
fn results_errors_and_numeric_mode() {
    check(
        "cme verbose",
        &[
            Cmd("AT+CPIN=\"0000\""),
            Rx(b"\r\n+CME ERROR: incorrect password\r\n"),
        ],
        &[Frame::Final(FinalResult::CmeError(CmeError::IncorrectPassword))],
    );
    check(
        "cme numeric",
        &[Cmd("AT+CIMI"), Rx(b"\r\n+CME ERROR: 10\r\n")],
        &[Frame::Final(FinalResult::CmeError(CmeError::SimNotInserted))],
    );
    check(
        "atv0 numeric codes",
        &[Cmd("ATV0"), Rx(b"0\r"), Cmd("AT+FOO"), Rx(b"4\r"), Rx(b"2\r")],
        &[ok(), Frame::Final(FinalResult::Error), Frame::Urc(Urc::Ring)],
    );
    check(
        "dial results",
        &[
            Cmd("ATD123;"),
            Rx(b"\r\nNO CARRIER\r\n"),
            Cmd("ATD123;"),
            Rx(b"\r\nBUSY\r\n"),
        ],
        &[
            Frame::Final(FinalResult::NoCarrier),
            Frame::Final(FinalResult::Busy),
        ],
    );
    check(
        "vendor error wording",
        &[Cmd("AT^FOO"), Rx(b"\r\nCOMMAND NOT SUPPORT\r\n")],
        &[Frame::Final(FinalResult::Error)],
    );
}

#[test]
fn ussd_reply_after_ok() {
    check(
        "ussd",
        &[
            Cmd("AT+CUSD=1,\"*100#\",15"),
            Rx(b"\r\nOK\r\n\r\n+CUSD: 1,\"Balance: 5,00. Reply 1 for more\",15\r\n"),
        ],
        &[
            ok(),
            Frame::Urc(Urc::Ussd {
                status: 1,
                text: Some("Balance: 5,00. Reply 1 for more".into()),
                dcs: Some(15),
            }),
        ],
    );
}

#[test]
fn garbage_resyncs() {
    check(
        "noise then answer",
        &[Cmd("AT"), Rx(b"\x00\x13\xff\xfe\r\nOK\r\n")],
        &[
            Frame::Invalid(InvalidFrame::Garbage(bytes::Bytes::from_static(
                b"\x00\x13\xff\xfe",
            ))),
            ok(),
        ],
    );
    check(
        "cmt header without body",
        &[Rx(b"\r\n+CMT: ,38\r\nOK\r\n")],
        &[
            Frame::Invalid(InvalidFrame::MissingBody("+CMT: ,38".into())),
            ok(),
        ],
    );
}

#[test]
fn overlong_line_is_bounded() {
    let mut codec = AtCodec::with_max_line(64);
    let mut buf = BytesMut::new();
    let mut frames = Vec::new();
    for _ in 0..100 {
        buf.extend_from_slice(&[b'A'; 50]);
        while let Some(f) = codec.decode(&mut buf).unwrap() {
            frames.push(f);
        }
        assert!(buf.len() <= 128, "buffer grew to {}", buf.len());
    }
    buf.extend_from_slice(b"\r\nOK\r\n");
    while let Some(f) = codec.decode(&mut buf).unwrap() {
        frames.push(f);
    }
    assert_eq!(frames, vec![Frame::Invalid(InvalidFrame::TooLong), ok()]);
}

#[test]
fn expect_from_command_line() {
    let e = Expect::for_command("AT+CMGS=23");
    assert_eq!(e.prefixes, vec!["+CMGS".to_owned()]);
    assert!(e.prompt);
    let e = Expect::for_command("at+csq;+creg?");
    assert_eq!(e.prefixes, vec!["+CSQ".to_owned(), "+CREG".to_owned()]);
    assert!(!e.prompt);
    let e = Expect::for_command("AT+CUSD=1,\"*100#\",15");
    assert!(e.prefixes.is_empty());
    let e = Expect::for_command("AT^ICCID?");
    assert_eq!(e.prefixes, vec!["^ICCID".to_owned()]);
    assert_eq!(Expect::for_command("ATI").prefixes, Vec::<String>::new());
}

proptest::proptest! {
    #[test]
    fn never_panics_and_stays_bounded(chunks in proptest::collection::vec(proptest::collection::vec(proptest::num::u8::ANY, 0..200), 0..20), prompt: bool) {
        let mut codec = AtCodec::with_max_line(256);
        if prompt {
            codec.expect(Expect::for_command("AT+CMGS=10"));
        }
        let mut buf = BytesMut::new();
        for chunk in chunks {
            buf.extend_from_slice(&chunk);
            while codec.decode(&mut buf).unwrap().is_some() {}
            proptest::prop_assert!(buf.len() <= 256 + 200);
        }
        while codec.decode_eof(&mut buf).unwrap().is_some() {}
        proptest::prop_assert!(buf.is_empty());
    }
}

/// All frames of `input` fed in `chunks`-sized pieces, then end of stream.
fn frames_of(input: &[u8], cut: usize) -> Vec<Frame> {
    let mut codec = AtCodec::with_max_line(128);
    codec.expect(Expect::for_command("AT+CSQ"));
    let mut buf = BytesMut::new();
    let mut out = Vec::new();
    for piece in input.chunks(cut.max(1)) {
        buf.extend_from_slice(piece);
        while let Some(f) = codec.decode(&mut buf).unwrap() {
            out.push(f);
        }
    }
    while let Some(f) = codec.decode_eof(&mut buf).unwrap() {
        out.push(f);
    }
    out
}

/// Bytes that look like modem output, to reach deep states more often than uniform noise.
fn modem_like() -> impl proptest::strategy::Strategy<Value = Vec<u8>> {
    use proptest::prelude::*;
    let token = prop_oneof![
        Just(b"\r\n".to_vec()),
        Just(b"\r".to_vec()),
        Just(b"OK".to_vec()),
        Just(b"+CSQ: 20,99".to_vec()),
        Just(b"+CMT: ,24".to_vec()),
        Just(b"+CDS: 20".to_vec()),
        Just(b"0791AABB".to_vec()),
        Just(b"+CMTI: \"SM\",1".to_vec()),
        Just(b"> ".to_vec()),
        Just(b"AT+CSQ".to_vec()),
        Just(b"+CMS ERROR: 500".to_vec()),
        Just(vec![0x00, 0x1a, 0x1b, 0xff]),
        proptest::collection::vec(proptest::num::u8::ANY, 0..8),
    ];
    proptest::collection::vec(token, 0..40).prop_map(|t| t.concat())
}

proptest::proptest! {
    /// Without a pending prompt, how the bytes are cut into reads never changes the frames.
    #[test]
    fn framing_does_not_depend_on_read_sizes(input in modem_like(), cut in 1usize..64) {
        proptest::prop_assert_eq!(frames_of(&input, cut), frames_of(&input, input.len().max(1)));
    }
}

/// Decodes the escapes of a transcript file line (`\r`, `\n`, `\\`, `\xNN`).
fn unescape(s: &str) -> Vec<u8> {
    let mut out = Vec::new();
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && i + 1 < b.len() {
            match b[i + 1] {
                b'r' => out.push(b'\r'),
                b'n' => out.push(b'\n'),
                b'\\' => out.push(b'\\'),
                b'x' => {
                    out.push(u8::from_str_radix(&s[i + 2..i + 4], 16).unwrap());
                    i += 2;
                }
                other => panic!("bad escape \\{}", other as char),
            }
            i += 2;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    out
}

/// Turns a captured peer ⇄ modem exchange into steps: each command line the peer starts writing becomes a
/// `Cmd` (the framer learns it when the line starts, as the actor tells it when it writes), each modem
/// chunk an `Rx`. The peer's bytes themselves are not framed.
fn transcript_steps(text: &'static str) -> (Vec<Step>, usize) {
    let chunks: Vec<(char, Vec<u8>)> = text
        .lines()
        .filter(|l| l.starts_with("> ") || l.starts_with("< "))
        .map(|l| (l.chars().next().unwrap(), unescape(&l[2..])))
        .collect();
    let mut steps = Vec::new();
    let mut commands = 0;
    let mut in_line = false;
    for (i, (dir, bytes)) in chunks.iter().enumerate() {
        if *dir == '<' {
            steps.push(Rx(Box::leak(bytes.clone().into_boxed_slice())));
            continue;
        }
        if !in_line {
            // Collect the whole line the peer is about to write.
            let mut line = Vec::new();
            for (d, b) in &chunks[i..] {
                if *d != '>' {
                    continue;
                }
                line.extend_from_slice(b);
                if b.contains(&b'\r') || b.contains(&0x1a) {
                    break;
                }
            }
            let end = line
                .iter()
                .position(|&c| c == b'\r' || c == 0x1a)
                .unwrap_or(line.len());
            let line = String::from_utf8_lossy(&line[..end]).into_owned();
            if line.get(..2).is_some_and(|at| at.eq_ignore_ascii_case("AT")) {
                steps.push(Cmd(Box::leak(line.into_boxed_str())));
                commands += 1;
            }
        }
        in_line = !(bytes.contains(&b'\r') || bytes.contains(&0x1a));
    }
    (steps, commands)
}

fn check_transcript(name: &str, text: &'static str, must_contain: &[Frame]) {
    let (steps, commands) = transcript_steps(text);
    let frames = run(&steps, &whole);
    for want in must_contain {
        assert!(frames.contains(want), "{name}: no {want:?}");
    }
    let invalid: Vec<&Frame> = frames.iter().filter(|f| matches!(f, Frame::Invalid(_))).collect();
    assert!(invalid.is_empty(), "{name}: invalid frames {invalid:?}");
    let finals = frames.iter().filter(|f| matches!(f, Frame::Final(_))).count();
    assert_eq!(finals, commands, "{name}: every command answered once");
    let unknown: Vec<&Frame> = frames
        .iter()
        .filter(|f| matches!(f, Frame::Urc(Urc::Unknown(_))))
        .collect();
    assert!(
        unknown.is_empty(),
        "{name}: lines taken for unknown URCs {unknown:?}"
    );
    check_with(name, &steps, &frames, false);
}

#[test]
fn gammu_transcript_simcom() {
    check_transcript(
        "gammu simcom",
        include_str!("transcripts/gammu_simcom_sim800.txt"),
        &[
            Frame::Urc(Urc::NewMessage {
                mem: "SM".into(),
                index: 3,
            }),
            Frame::Prompt,
            info("+CMGS: 0"),
            info("+CMGL: 4,0,,25"),
            info("+CSCA: \"+48601000310\",145"),
            echo("AT+CMGD=4"),
        ],
    );
}

#[test]
fn gammu_transcript_huawei() {
    check_transcript(
        "gammu huawei",
        include_str!("transcripts/gammu_huawei_e3372.txt"),
        &[
            Frame::Urc(Urc::Signal { rssi: 19 }),
            boot("^BOOT:20358144,0,0,0,72"),
            info("+CSCS: \"HEX\""),
            info("22.200.15.00.00"),
        ],
    );
}
