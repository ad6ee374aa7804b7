//! Unsolicited result codes: what a modem says on its own, at any time, even between a command and its
//! response (3GPP TS 27.005 §3.4.1 and §3.4.3, TS 27.007 §7.2, §7.15, §8.2, and vendor codes of the common
//! modem families). Pure parsing of lines; the framer decides which lines are URCs.
use super::params::{self, Field};

/// Which registration the `+CxREG` URC is about (3GPP TS 27.007 §7.2, §10.1.20, §10.1.22).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RegKind {
    /// `+CREG`: circuit-switched (what SMS over the CS domain needs).
    Cs,
    /// `+CGREG`: GPRS.
    Gprs,
    /// `+CEREG`: EPS (LTE).
    Eps,
}

/// An unsolicited result code, typed where the gateway acts on it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Urc {
    /// `+CMTI: <mem>,<index>`: an SMS was stored (27.005 §3.4.1).
    NewMessage { mem: String, index: u32 },
    /// `+CMT: [<alpha>],<length>` + PDU line: an SMS routed directly to the TE (27.005 §3.4.1, PDU mode).
    Message { length: usize, pdu: Vec<u8> },
    /// `+CMT: ...` + text line (text mode; the gateway uses PDU mode, kept so nothing is lost).
    TextMessage { header: String, body: String },
    /// `+CDS: <length>` + PDU line: a status report routed directly to the TE (27.005 §3.4.1).
    StatusReport { length: usize, pdu: Vec<u8> },
    /// `+CDSI: <mem>,<index>`: a status report was stored.
    StatusReportIndex { mem: String, index: u32 },
    /// `+CBM: <length>` + PDU line: a cell broadcast page.
    CellBroadcast { length: usize, pdu: Vec<u8> },
    /// `+CREG: <stat>[,<lac>,<ci>[,<AcT>]]` and its GPRS/EPS siblings (27.007 §7.2).
    Registration {
        kind: RegKind,
        stat: u8,
        lac: Option<String>,
        ci: Option<String>,
    },
    /// `+CUSD: <m>[,<str>,<dcs>]` (27.007 §7.15).
    Ussd {
        status: u8,
        text: Option<String>,
        dcs: Option<u8>,
    },
    /// `RING` / `+CRING: <type>`: an incoming call.
    Ring,
    /// `+CPIN: <code>` sent on its own: the SIM state changed (inserted, removed, ready).
    SimStatus(String),
    /// Signal notices (`^RSSI: <n>`, `+CSQN: <n>,<ber>`): RSSI 0..31 like `+CSQ`.
    Signal { rssi: u8 },
    /// Start-up and readiness notices: `RDY`, `^BOOT`, `SMS Ready`, `Call Ready`, `PB DONE`, `SMS DONE`,
    /// `+PACSP<n>`, `^SYSSTART`, `+CFUN: 1`, `+QIND: SMS DONE` ... A modem that says these while in service
    /// has rebooted.
    Boot(String),
    /// The message storage is full (`^SMMEMFULL`, `+QIND: "smsfull"`, `+CIEV: "SMSFULL",1`): new messages
    /// are refused by the modem until stored ones are read and deleted.
    StorageFull(String),
    /// Another vendor notice the gateway does not act on (`^MODE`, `^DSFLOWRPT`, `+QIND`, `+CIEV` ...).
    Vendor(String),
    /// A line nobody asked for and nobody knows.
    Unknown(String),
}

/// How the framer must treat a line that starts a URC.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UrcStart {
    /// The URC is complete in this line.
    Complete(Urc),
    /// A header whose body follows on the next line.
    NeedsBody(BodyHeader),
}

/// A two-line URC waiting for its second line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BodyHeader {
    /// The header line as received.
    pub line: String,
    /// What the body is.
    pub kind: BodyKind,
    /// The announced TPDU length (PDU mode).
    pub length: usize,
}

/// The kind of body a two-line URC carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyKind {
    /// `+CMT` in PDU mode: hex PDU.
    MessagePdu,
    /// `+CMT` in text mode: text.
    MessageText,
    /// `+CDS` in PDU mode: hex PDU.
    StatusReportPdu,
    /// `+CBM` in PDU mode: hex PDU.
    CellBroadcastPdu,
}

/// Lines that are whole URCs of their own (vendor boot and readiness notices).
const BOOT_LINES: &[&str] = &[
    "RDY",
    "SMS Ready",
    "Call Ready",
    "PB DONE",
    "SMS DONE",
    "+PACSP0",
    "+PACSP1",
    "^SYSSTART",
    "+CPIN: READY",
];

/// Prefixes (before the `:`) of vendor URCs the gateway only logs.
const VENDOR_PREFIXES: &[&str] = &[
    "^MODE",
    "^DSFLOWRPT",
    "^SRVST",
    "^SIMST",
    "^HCSQ",
    "^SYSINFOEX",
    "^NDISSTAT",
    "^CEND",
    "^ORIG",
    "^CONF",
    "^CONN",
    "+QIND",
    "+QUSIM",
    "+CIEV",
    "+CGEV",
    "+CLIP",
    "+CTZV",
    "+CTZE",
    "+CTZU",
    "*PSUTTZ",
    "DST",
    "+NITZ",
    "+QNITZ",
    "+STIN",
    "+CBMI",
    "+SIMCARD",
    "+CPSI",
    "+QSTK",
    "#QSS",
    "+CSMINS",
];

/// Classifies a complete, non-empty line as the start of a URC, or `None` when it is not a known URC.
pub fn classify(line: &str) -> Option<UrcStart> {
    if line == "RING" {
        return Some(UrcStart::Complete(Urc::Ring));
    }
    if BOOT_LINES.iter().any(|b| line.eq_ignore_ascii_case(b)) || line.starts_with("^BOOT") {
        return Some(UrcStart::Complete(Urc::Boot(line.to_owned())));
    }
    let (prefix, fields) = params::split_prefixed(line)?;
    let complete = |urc| Some(UrcStart::Complete(urc));
    match prefix {
        "+CMTI" => complete(stored_index(&fields).map_or_else(
            || Urc::Unknown(line.to_owned()),
            |(mem, index)| Urc::NewMessage { mem, index },
        )),
        "+CDSI" => complete(stored_index(&fields).map_or_else(
            || Urc::Unknown(line.to_owned()),
            |(mem, index)| Urc::StatusReportIndex { mem, index },
        )),
        "+CMT" => {
            // PDU mode: `+CMT: [<alpha>],<length>`; text mode has the originator first and a quoted time.
            let length = fields
                .last()
                .filter(|f| !f.quoted)
                .and_then(Field::number::<usize>);
            let (kind, length) = match (fields.len(), length) {
                (1 | 2, Some(length)) => (BodyKind::MessagePdu, length),
                _ => (BodyKind::MessageText, 0),
            };
            Some(UrcStart::NeedsBody(BodyHeader {
                line: line.to_owned(),
                kind,
                length,
            }))
        }
        "+CDS" | "+CBM" => match (fields.len(), fields.first().and_then(Field::number::<usize>)) {
            (1, Some(length)) => {
                let kind = if prefix == "+CDS" {
                    BodyKind::StatusReportPdu
                } else {
                    BodyKind::CellBroadcastPdu
                };
                Some(UrcStart::NeedsBody(BodyHeader {
                    line: line.to_owned(),
                    kind,
                    length,
                }))
            }
            // Text-mode status report: one line, kept as is.
            _ => complete(Urc::Vendor(line.to_owned())),
        },
        "+CREG" => complete(registration(RegKind::Cs, &fields, line)),
        "+CGREG" => complete(registration(RegKind::Gprs, &fields, line)),
        "+CEREG" => complete(registration(RegKind::Eps, &fields, line)),
        "+CUSD" => complete(ussd(&fields).unwrap_or_else(|| Urc::Unknown(line.to_owned()))),
        "+CRING" => complete(Urc::Ring),
        "+CPIN" => complete(Urc::SimStatus(
            fields.first().map(|f| f.text.to_owned()).unwrap_or_default(),
        )),
        "^RSSI" | "+CSQN" => complete(
            fields
                .first()
                .and_then(Field::number::<u8>)
                .map_or_else(|| Urc::Vendor(line.to_owned()), |rssi| Urc::Signal { rssi }),
        ),
        "+CFUN" => complete(Urc::Boot(line.to_owned())),
        "^SMMEMFULL" => complete(Urc::StorageFull(line.to_owned())),
        "+QIND" | "+CIEV"
            if fields
                .first()
                .is_some_and(|f| f.text.eq_ignore_ascii_case("smsfull")) =>
        {
            complete(Urc::StorageFull(line.to_owned()))
        }
        "+QIND"
            if fields
                .first()
                .is_some_and(|f| f.text.eq_ignore_ascii_case("SMS DONE")) =>
        {
            complete(Urc::Boot(line.to_owned()))
        }
        p if VENDOR_PREFIXES.contains(&p) => complete(Urc::Vendor(line.to_owned())),
        _ => None,
    }
}

/// Builds the URC from its header and body line. `None` when the body does not fit (then the framer reports
/// the header as incomplete and treats the line on its own).
pub fn with_body(header: &BodyHeader, body: &str) -> Option<Urc> {
    match header.kind {
        BodyKind::MessageText => Some(Urc::TextMessage {
            header: header.line.clone(),
            body: body.to_owned(),
        }),
        BodyKind::MessagePdu => Some(Urc::Message {
            length: header.length,
            pdu: decode_hex(body)?,
        }),
        BodyKind::StatusReportPdu => Some(Urc::StatusReport {
            length: header.length,
            pdu: decode_hex(body)?,
        }),
        BodyKind::CellBroadcastPdu => Some(Urc::CellBroadcast {
            length: header.length,
            pdu: decode_hex(body)?,
        }),
    }
}

/// Decodes a PDU line (hex, even length, no separators).
pub fn decode_hex(line: &str) -> Option<Vec<u8>> {
    if line.is_empty() {
        return None;
    }
    hex::decode(line).ok()
}

fn stored_index(fields: &[Field<'_>]) -> Option<(String, u32)> {
    match fields {
        [mem, index, ..] => Some((mem.text.to_owned(), index.number()?)),
        _ => None,
    }
}

/// `+CREG: <stat>[,<lac>,<ci>[,<AcT>]]` as URC. (The solicited form `+CREG: <n>,<stat>...` is parsed by
/// the command; a URC has the stat first.)
fn registration(kind: RegKind, fields: &[Field<'_>], line: &str) -> Urc {
    match fields.first().and_then(Field::number::<u8>) {
        Some(stat) => Urc::Registration {
            kind,
            stat,
            lac: fields.get(1).and_then(Field::non_empty),
            ci: fields.get(2).and_then(Field::non_empty),
        },
        None => Urc::Unknown(line.to_owned()),
    }
}

fn ussd(fields: &[Field<'_>]) -> Option<Urc> {
    let status = fields.first()?.number()?;
    let text = fields.get(1).map(|f| f.text.to_owned());
    let dcs = fields.get(2).and_then(Field::number);
    Some(Urc::Ussd { status, text, dcs })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(line: &str, expect: Option<Urc>) {
        let got = match classify(line) {
            Some(UrcStart::Complete(u)) => Some(u),
            Some(UrcStart::NeedsBody(h)) => panic!("{line:?} wants a body: {h:?}"),
            None => None,
        };
        assert_eq!(got, expect, "{line:?}");
    }

    #[test]
    fn single_line_urcs() {
        check(
            "+CMTI: \"SM\",3",
            Some(Urc::NewMessage {
                mem: "SM".into(),
                index: 3,
            }),
        );
        check(
            "+CMTI: \"ME\", 12",
            Some(Urc::NewMessage {
                mem: "ME".into(),
                index: 12,
            }),
        );
        check(
            "+CDSI: \"SR\",1",
            Some(Urc::StatusReportIndex {
                mem: "SR".into(),
                index: 1,
            }),
        );
        check(
            "+CREG: 1",
            Some(Urc::Registration {
                kind: RegKind::Cs,
                stat: 1,
                lac: None,
                ci: None,
            }),
        );
        check(
            "+CGREG: 5,\"00C3\",\"1A2B\"",
            Some(Urc::Registration {
                kind: RegKind::Gprs,
                stat: 5,
                lac: Some("00C3".into()),
                ci: Some("1A2B".into()),
            }),
        );
        check(
            "+CUSD: 0,\"Balance: 5,00 PLN\",15",
            Some(Urc::Ussd {
                status: 0,
                text: Some("Balance: 5,00 PLN".into()),
                dcs: Some(15),
            }),
        );
        check(
            "+CUSD: 2",
            Some(Urc::Ussd {
                status: 2,
                text: None,
                dcs: None,
            }),
        );
        check("RING", Some(Urc::Ring));
        check("^RSSI: 17", Some(Urc::Signal { rssi: 17 }));
        check("^RSSI:17", Some(Urc::Signal { rssi: 17 }));
        check("RDY", Some(Urc::Boot("RDY".into())));
        check("SMS Ready", Some(Urc::Boot("SMS Ready".into())));
        check(
            "^BOOT:12345,0,0,0,6",
            Some(Urc::Boot("^BOOT:12345,0,0,0,6".into())),
        );
        check("+QIND: SMS DONE", Some(Urc::Boot("+QIND: SMS DONE".into())));
        check(
            "+QIND: \"csq\",20,99",
            Some(Urc::Vendor("+QIND: \"csq\",20,99".into())),
        );
        check("+CPIN: NOT INSERTED", Some(Urc::SimStatus("NOT INSERTED".into())));
        check("^MODE:5,4", Some(Urc::Vendor("^MODE:5,4".into())));
        check(
            "^SMMEMFULL: \"SM\"",
            Some(Urc::StorageFull("^SMMEMFULL: \"SM\"".into())),
        );
        check(
            "+QIND: \"smsfull\",\"SM\"",
            Some(Urc::StorageFull("+QIND: \"smsfull\",\"SM\"".into())),
        );
        check(
            "+CIEV: \"SMSFULL\",1",
            Some(Urc::StorageFull("+CIEV: \"SMSFULL\",1".into())),
        );
        check("+CMTI: garbage", Some(Urc::Unknown("+CMTI: garbage".into())));
        check("+CSQ: 20,99", None);
        check("hello", None);
    }

    #[test]
    fn two_line_headers() {
        let h = |line: &str| match classify(line) {
            Some(UrcStart::NeedsBody(h)) => (h.kind, h.length),
            other => panic!("{line:?}: {other:?}"),
        };
        assert_eq!(h("+CMT: ,24"), (BodyKind::MessagePdu, 24));
        assert_eq!(h("+CMT: \"alpha\",24"), (BodyKind::MessagePdu, 24));
        assert_eq!(
            h("+CMT: \"+4860\",,\"24/11/25,10:00:00+04\""),
            (BodyKind::MessageText, 0)
        );
        assert_eq!(h("+CDS: 25"), (BodyKind::StatusReportPdu, 25));
        assert_eq!(h("+CBM: 88"), (BodyKind::CellBroadcastPdu, 88));
    }
}
