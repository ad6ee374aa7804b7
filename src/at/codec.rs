//! The AT byte-stream framer: a [`tokio_util::codec::Decoder`] that cuts what a modem sends into
//! [`Frame`]s — echoed command lines, information lines of the pending command, final result codes, the
//! `> ` prompt, URCs (also in the middle of a response) and invalid input.
//!
//! A line such as `+CREG: 0,1` is an information line when it answers `AT+CREG?` and a URC otherwise, so
//! the framer is told what the pending command expects ([`Expect`]): its response prefixes, whether it
//! waits for a prompt and its echo. The pending expectation ends by itself at the final result code.
//!
//! Incomplete input (no line end yet) waits for more bytes; invalid input (control characters, a line
//! longer than the bound, a two-line URC without its body) becomes [`Frame::Invalid`] and the framer
//! resynchronises at the next line end. It never returns an error for bad input and never panics, so one
//! noisy burst cannot end the stream.
use std::borrow::Cow;

use bytes::{Buf, Bytes, BytesMut};
use tokio_util::codec::Decoder;

use super::error::{CmeError, CmsError};
use super::urc::{self, BodyHeader, Urc, UrcStart};

/// Longest line accepted. The longest legitimate lines are PDU lines (a 176-octet TPDU plus SMSC
/// is < 400 hex digits) and `+COPS=?` operator lists; 8 KiB leaves room and bounds memory.
pub const DEFAULT_MAX_LINE: usize = 8 * 1024;

/// Carriage return, the V.250 command line terminator (S3, V.250 §6.2.1) and first half of the response
/// line ending (S3 S4).
const CR: u8 = b'\r';
/// Line feed (S4, V.250 §6.2.2).
const LF: u8 = b'\n';
/// The PDU prompt's first character (27.005 §3.5.1: `<CR><LF><greater_than><space>`).
const PROMPT: u8 = b'>';
/// Ends a PDU written after the prompt (27.005 §3.5.1); it only appears when the modem echoes the PDU.
pub const CTRL_Z: u8 = 0x1a;
/// Cancels a PDU after the prompt (27.005 §3.5.1).
pub const ESC: u8 = 0x1b;

/// V.250 §6.2.5 numeric result codes (ATV0), Table 1.
const NUMERIC_OK: &str = "0";
const NUMERIC_CONNECT: &str = "1";
const NUMERIC_RING: &str = "2";
const NUMERIC_NO_CARRIER: &str = "3";
const NUMERIC_ERROR: &str = "4";
const NUMERIC_NO_DIALTONE: &str = "6";
const NUMERIC_BUSY: &str = "7";
const NUMERIC_NO_ANSWER: &str = "8";

/// A final result code: the end of a command's response (V.250 §5.7.1, 27.007 §9.2, 27.005 §3.2.5).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FinalResult {
    /// `OK` / `0`.
    Ok,
    /// `CONNECT [<text>]` / `1`.
    Connect(Option<String>),
    /// `ERROR` / `4` (also vendor wordings like `COMMAND NOT SUPPORT`).
    Error,
    /// `+CME ERROR: <err>`.
    CmeError(CmeError),
    /// `+CMS ERROR: <err>`.
    CmsError(CmsError),
    /// `NO CARRIER` / `3`.
    NoCarrier,
    /// `BUSY` / `7`.
    Busy,
    /// `NO ANSWER` / `8`.
    NoAnswer,
    /// `NO DIALTONE` / `6`.
    NoDialtone,
}

impl FinalResult {
    /// Whether the command succeeded.
    pub fn is_ok(&self) -> bool {
        matches!(self, FinalResult::Ok | FinalResult::Connect(_))
    }

    /// Parses a final result code line, `None` when the line is something else.
    pub fn parse(line: &str) -> Option<FinalResult> {
        let result = match line {
            "OK" | NUMERIC_OK => FinalResult::Ok,
            "ERROR" | NUMERIC_ERROR | "COMMAND NOT SUPPORT" | "TOO MANY PARAMETERS" => FinalResult::Error,
            "NO CARRIER" | NUMERIC_NO_CARRIER => FinalResult::NoCarrier,
            "BUSY" | NUMERIC_BUSY => FinalResult::Busy,
            "NO ANSWER" | NUMERIC_NO_ANSWER => FinalResult::NoAnswer,
            "NO DIALTONE" | "NO DIAL TONE" | NUMERIC_NO_DIALTONE => FinalResult::NoDialtone,
            "CONNECT" | NUMERIC_CONNECT => FinalResult::Connect(None),
            _ => {
                if let Some(arg) = line.strip_prefix("+CME ERROR:") {
                    FinalResult::CmeError(CmeError::parse(arg))
                } else if let Some(arg) = line.strip_prefix("+CMS ERROR:") {
                    FinalResult::CmsError(CmsError::parse(arg))
                } else if let Some(arg) = line.strip_prefix("CONNECT ") {
                    FinalResult::Connect(Some(arg.trim().to_owned()))
                } else {
                    return None;
                }
            }
        };
        Some(result)
    }
}

impl std::fmt::Display for FinalResult {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FinalResult::Ok => f.write_str("OK"),
            FinalResult::Connect(None) => f.write_str("CONNECT"),
            FinalResult::Connect(Some(t)) => write!(f, "CONNECT {t}"),
            FinalResult::Error => f.write_str("ERROR"),
            FinalResult::CmeError(e) => write!(f, "+CME ERROR: {e}"),
            FinalResult::CmsError(e) => write!(f, "+CMS ERROR: {e}"),
            FinalResult::NoCarrier => f.write_str("NO CARRIER"),
            FinalResult::Busy => f.write_str("BUSY"),
            FinalResult::NoAnswer => f.write_str("NO ANSWER"),
            FinalResult::NoDialtone => f.write_str("NO DIALTONE"),
        }
    }
}

/// What the pending command expects, so that its information lines are not mistaken for URCs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Expect {
    /// Response prefixes without the colon (`+CREG`, `^ICCID`). Lines starting with `<prefix>:` are
    /// information lines of this command even when the same prefix is also a URC.
    pub prefixes: Vec<String>,
    /// The command waits for the `> ` prompt (`AT+CMGS`, `AT+CMGW`).
    pub prompt: bool,
    /// The command line as written, to recognise its echo.
    pub echo: Option<String>,
}

impl Expect {
    /// Derives the expectation from a raw command line: `AT+CSQ` expects `+CSQ:` lines, `AT+CMGS=..`
    /// a prompt, compound lines (`AT+CSQ;+CREG?`) all their prefixes. Set commands of `+CUSD` expect no
    /// prefix: their answer arrives as a URC.
    pub fn for_command(command: &str) -> Expect {
        let trimmed = command.trim();
        let body = match trimmed.get(..2) {
            Some(at) if at.eq_ignore_ascii_case("AT") => &trimmed[2..],
            _ => trimmed,
        };
        let mut expect = Expect {
            echo: Some(trimmed.to_owned()),
            ..Expect::default()
        };
        for part in body.split(';') {
            let part = part.trim();
            let Some(first) = part.chars().next() else {
                continue;
            };
            if !matches!(first, '+' | '^' | '$' | '#' | '*' | '%') {
                continue;
            }
            let end = part.find(['=', '?']).unwrap_or(part.len());
            let name = part[..end].to_ascii_uppercase();
            let is_set = part[end..].starts_with('=') && !part[end..].starts_with("=?");
            if is_set && (name == "+CMGS" || name == "+CMGW") {
                expect.prompt = true;
            }
            if is_set && name == "+CUSD" {
                continue;
            }
            expect.prefixes.push(name);
        }
        expect
    }

    fn matches_prefix(&self, line: &str) -> bool {
        self.prefixes.iter().any(|p| {
            line.len() > p.len()
                && line
                    .as_bytes()
                    .get(..p.len())
                    .is_some_and(|head| head.eq_ignore_ascii_case(p.as_bytes()))
                && line.as_bytes().get(p.len()) == Some(&b':')
        })
    }
}

/// Input the framer could not make sense of. It has been consumed; framing continues after it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InvalidFrame {
    /// A line containing control characters (line noise, baud mismatch, a modem rebooting).
    Garbage(Bytes),
    /// A line longer than the bound; it was dropped up to its end.
    TooLong,
    /// A two-line URC header (`+CMT`, `+CDS`, `+CBM`) whose next line was not its body. The next line is
    /// framed on its own.
    MissingBody(String),
    /// Bytes left without a line end when the stream ended.
    Truncated(Bytes),
}

/// One unit of modem output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    /// The modem echoing a command line (echo is on at power-up, V.250 §6.2.4) or the PDU after the prompt.
    Echo(String),
    /// An information line of the pending command (or a PDU line following one).
    Info(String),
    /// The end of the pending command's response.
    Final(FinalResult),
    /// The `> ` prompt for a PDU (also accepted without the space).
    Prompt,
    /// An unsolicited result code.
    Urc(Urc),
    /// Input that could not be framed; already skipped.
    Invalid(InvalidFrame),
}

/// The framer. Keep one per port; tell it about each command written with [`AtCodec::expect`].
#[derive(Debug)]
pub struct AtCodec {
    expect: Option<Expect>,
    body_for: Option<BodyHeader>,
    /// A line to frame again after reporting a two-line URC without its body.
    replay: Option<Bytes>,
    discarding: bool,
    max_line: usize,
}

impl Default for AtCodec {
    fn default() -> Self {
        AtCodec::new()
    }
}

impl AtCodec {
    /// A framer with the default line bound and no pending command.
    pub fn new() -> AtCodec {
        AtCodec::with_max_line(DEFAULT_MAX_LINE)
    }

    /// A framer with another line bound (at least 16 bytes).
    pub fn with_max_line(max_line: usize) -> AtCodec {
        AtCodec {
            expect: None,
            body_for: None,
            replay: None,
            discarding: false,
            max_line: max_line.max(16),
        }
    }

    /// A command was written: classify lines against its expectation until its final result code.
    pub fn expect(&mut self, expect: Expect) {
        self.expect = Some(expect);
    }

    /// Forget the pending command (it timed out or was cancelled).
    pub fn clear_expect(&mut self) {
        self.expect = None;
    }

    /// The pending command's expectation, if any.
    pub fn expecting(&self) -> Option<&Expect> {
        self.expect.as_ref()
    }

    /// Classifies one complete line (without its terminator). `None` when it produced no frame (empty, or
    /// a two-line URC header now waiting for its body).
    fn line(&mut self, raw: &[u8]) -> Option<Frame> {
        let trimmed = trim(raw);
        if trimmed.is_empty() {
            return None;
        }
        // One branch-free pass finds the rare lines that need a closer look (vectorises).
        let special = trimmed
            .iter()
            .fold(false, |acc, &b| acc | (b < 0x20) | (b == 0x7f));
        let mut pdu_echo = false;
        if special {
            if trimmed.iter().any(|&b| is_noise(b)) {
                self.body_for = None;
                return Some(Frame::Invalid(InvalidFrame::Garbage(Bytes::copy_from_slice(raw))));
            }
            pdu_echo = trimmed.iter().any(|&b| b == CTRL_Z || b == ESC);
        }
        // Classify on the borrowed text; allocate only for the frame that carries it.
        let text: Cow<'_, str> = match std::str::from_utf8(trimmed) {
            Ok(s) => Cow::Borrowed(s),
            // Operator names and USSD texts may come in Latin-1; keep them readable rather than drop them.
            Err(_) => String::from_utf8_lossy(trimmed),
        };
        if let Some(header) = self.body_for.take() {
            return match urc::with_body(&header, &text) {
                Some(urc) => Some(Frame::Urc(urc)),
                None => {
                    self.replay = Some(Bytes::copy_from_slice(raw));
                    Some(Frame::Invalid(InvalidFrame::MissingBody(header.line)))
                }
            };
        }
        if pdu_echo {
            let echo: String = text
                .chars()
                .filter(|&c| c != CTRL_Z as char && c != ESC as char)
                .collect();
            return Some(Frame::Echo(echo));
        }
        if let Some(result) = FinalResult::parse(&text) {
            self.expect = None;
            return Some(Frame::Final(result));
        }
        if text == NUMERIC_RING {
            return Some(Frame::Urc(Urc::Ring));
        }
        if let Some(expect) = &self.expect {
            if expect.matches_prefix(&text) {
                return Some(Frame::Info(text.into_owned()));
            }
            if expect
                .echo
                .as_deref()
                .is_some_and(|e| e.eq_ignore_ascii_case(&text))
            {
                return Some(Frame::Echo(text.into_owned()));
            }
        }
        if text.get(..2).is_some_and(|at| at.eq_ignore_ascii_case("AT")) {
            return Some(Frame::Echo(text.into_owned()));
        }
        let text = text.into_owned();
        match urc::classify(&text) {
            Some(UrcStart::Complete(urc)) => Some(Frame::Urc(urc)),
            Some(UrcStart::NeedsBody(header)) => {
                self.body_for = Some(header);
                None
            }
            None if self.expect.is_some() => Some(Frame::Info(text)),
            None => Some(Frame::Urc(Urc::Unknown(text))),
        }
    }
}

/// Control characters other than TAB never appear in modem text output; CTRL-Z and ESC only in an echoed
/// PDU (handled before this check).
fn is_noise(b: u8) -> bool {
    (b < 0x20 && b != b'\t' && b != CTRL_Z && b != ESC) || b == 0x7f
}

fn trim(line: &[u8]) -> &[u8] {
    let is_space = |b: &u8| *b == b' ' || *b == b'\t';
    let start = line.iter().position(|b| !is_space(b)).unwrap_or(line.len());
    let end = line.iter().rposition(|b| !is_space(b)).map_or(start, |i| i + 1);
    line.get(start..end).unwrap_or_default()
}

impl Decoder for AtCodec {
    type Item = Frame;
    type Error = std::io::Error;

    fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<Frame>, std::io::Error> {
        loop {
            if let Some(line) = self.replay.take() {
                if let Some(frame) = self.line(&line) {
                    return Ok(Some(frame));
                }
                continue;
            }
            if self.discarding {
                match memchr::memchr2(CR, LF, buf) {
                    Some(end) => {
                        buf.advance(end);
                        self.discarding = false;
                    }
                    None => {
                        buf.clear();
                        return Ok(None);
                    }
                }
            }
            let blank = buf.iter().take_while(|&&b| b == CR || b == LF).count();
            buf.advance(blank);
            let Some(&first) = buf.first() else {
                return Ok(None);
            };
            if first == PROMPT && self.body_for.is_none() {
                match buf.get(1) {
                    Some(b' ') => {
                        buf.advance(2);
                        return Ok(Some(Frame::Prompt));
                    }
                    Some(&CR) | Some(&LF) => {
                        buf.advance(1);
                        return Ok(Some(Frame::Prompt));
                    }
                    // `>` alone is a prompt without the space when one is expected (some modems);
                    // otherwise wait for the next byte to know.
                    None if self.expect.as_ref().is_some_and(|e| e.prompt) => {
                        buf.advance(1);
                        return Ok(Some(Frame::Prompt));
                    }
                    None => return Ok(None),
                    Some(_) => {}
                }
            }
            match memchr::memchr2(CR, LF, buf) {
                Some(end) if end > self.max_line => {
                    buf.advance(end);
                    self.body_for = None;
                    return Ok(Some(Frame::Invalid(InvalidFrame::TooLong)));
                }
                Some(end) => {
                    let frame = buf.get(..end).and_then(|line| self.line(line));
                    buf.advance(end);
                    if let Some(frame) = frame {
                        return Ok(Some(frame));
                    }
                }
                None if buf.len() > self.max_line => {
                    buf.clear();
                    self.discarding = true;
                    self.body_for = None;
                    return Ok(Some(Frame::Invalid(InvalidFrame::TooLong)));
                }
                None => return Ok(None),
            }
        }
    }

    fn decode_eof(&mut self, buf: &mut BytesMut) -> Result<Option<Frame>, std::io::Error> {
        if let Some(frame) = self.decode(buf)? {
            return Ok(Some(frame));
        }
        if self.discarding {
            buf.clear();
            self.discarding = false;
            return Ok(None);
        }
        if let Some(header) = self.body_for.take() {
            return Ok(Some(Frame::Invalid(InvalidFrame::MissingBody(header.line))));
        }
        if trim(buf).is_empty() {
            buf.clear();
            return Ok(None);
        }
        let rest = buf.split().freeze();
        Ok(Some(Frame::Invalid(InvalidFrame::Truncated(rest))))
    }
}
