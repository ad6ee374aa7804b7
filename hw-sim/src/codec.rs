//! The bridge between the simulator and smsgate's PDU codec (`smsgate-pdu`): decoding what DTEs submit,
//! turning a submitted part into the DELIVER the recipient gets (the network copies PID, DCS and user
//! data unchanged, TS 23.040 §9.2.2.1/§9.2.2.2), building STATUS-REPORTs, and text-mode views.
use std::sync::atomic::{AtomicU16, Ordering};

/// TS 23.040 §9.2.3.5: TP-SRR, bit 5 of the first octet of an SMS-SUBMIT.
pub const TP_SRR_BIT: u8 = 0x20;
/// TS 23.040 §9.2.3.23: TP-UDHI, bit 6 of the first octet.
pub const TP_UDHI_BIT: u8 = 0x40;
/// TS 23.040 §9.2.3.3: TP-VPF, bits 4..3 of an SMS-SUBMIT's first octet.
const TP_VPF_MASK: u8 = 0x18;
/// TP-VPF value: relative validity period (one octet).
const TP_VPF_RELATIVE: u8 = 0x10;
/// TP-VPF values with a 7-octet validity period (enhanced, absolute).
const TP_VP_LONG_OCTETS: usize = 7;

use smsgate_pdu::{
    Address, DeliverOptions, Pdu, PduError, Status, StatusReportOptions, SubmitOptions, TP_MTI_DELIVER,
    TextOptions, UserData, decode, encode_deliver, encode_status_report, encode_submit,
};

/// TS 23.040 §9.2.3.2: TP-MMS set means "no more messages are waiting" in a DELIVER.
const TP_MMS_NO_MORE: u8 = 0x04;
/// TS 24.008 §10.5.4.7 type of address: international, ISDN numbering plan.
const TOA_INTERNATIONAL: u8 = 0x91;
/// Type of address: unknown type, ISDN numbering plan.
const TOA_UNKNOWN: u8 = 0x81;
/// Type of address: alphanumeric (TS 23.040 §9.1.2.5 TON 101), unknown numbering plan.
const TOA_ALPHANUMERIC: u8 = 0xD0;

/// Why a PDU could not be decoded or built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CodecError {
    /// The TPDU ended early.
    #[error("TPDU truncated at octet {0}")]
    Truncated(usize),
    /// Not the expected message type.
    #[error("not an SMS-SUBMIT (first octet {0:#04x})")]
    NotSubmit(u8),
    /// The codec refused the PDU or text.
    #[error("{0}")]
    Codec(String),
}

/// An SMS-SUBMIT as the simulator needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodedSubmit {
    /// Destination address (`+` prefix when international).
    pub to: String,
    /// Text of this part.
    pub text: String,
    /// TP-SRR.
    pub status_report: bool,
    /// Concatenation (reference, total, sequence).
    pub concat: Option<(u16, u8, u8)>,
}

/// Offsets of the fields of an SMS-SUBMIT TPDU (TS 23.040 §9.2.2.2).
struct SubmitLayout {
    first: u8,
    pid: usize,
    dcs: usize,
    /// Start of TP-UDL.
    udl: usize,
}

fn layout(tpdu: &[u8]) -> Result<SubmitLayout, CodecError> {
    let first = *tpdu.first().ok_or(CodecError::Truncated(0))?;
    if first & 0x03 != 0x01 {
        return Err(CodecError::NotSubmit(first));
    }
    let da_start = 2;
    let da_digits = usize::from(*tpdu.get(da_start).ok_or(CodecError::Truncated(da_start))?);
    // TS 23.040 §9.1.2.5: the address length counts semi-octets; add the length and TOA octets.
    let da_end = da_start + 2 + da_digits.div_ceil(2);
    let pid = da_end;
    let dcs = pid + 1;
    let vp_len = match first & TP_VPF_MASK {
        0 => 0,
        TP_VPF_RELATIVE => 1,
        _ => TP_VP_LONG_OCTETS,
    };
    let udl = dcs + 1 + vp_len;
    if tpdu.len() <= udl {
        return Err(CodecError::Truncated(tpdu.len()));
    }
    Ok(SubmitLayout { first, pid, dcs, udl })
}

/// Encodes an address field (length in semi-octets, TOA, BCD digits) for a number or an alphanumeric
/// sender (TS 23.040 §9.1.2.5).
fn encode_address(addr: &str) -> Result<Vec<u8>, CodecError> {
    let digits: String = addr
        .trim_start_matches('+')
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    if !digits.is_empty() && digits.chars().all(|c| c.is_ascii_digit()) {
        let toa = if addr.starts_with('+') {
            TOA_INTERNATIONAL
        } else {
            TOA_UNKNOWN
        };
        let mut out = vec![digits.len() as u8, toa];
        let bytes = digits.as_bytes();
        for pair in bytes.chunks(2) {
            let lo = pair[0] - b'0';
            let hi = pair.get(1).map(|d| d - b'0').unwrap_or(0x0F);
            out.push(hi << 4 | lo);
        }
        return Ok(out);
    }
    let septets = smsgate_pdu::gsm7::encode_default(addr)
        .map_err(|(_, c)| CodecError::Codec(format!("{c:?} cannot appear in an alphanumeric sender")))?;
    // TS 23.040 §9.1.2.5: for alphanumeric addresses the length counts the semi-octets the packed
    // septets occupy.
    let semi_octets = (septets.len() * 7).div_ceil(4);
    let mut out = vec![semi_octets as u8, TOA_ALPHANUMERIC];
    out.extend(smsgate_pdu::gsm7::pack(&septets));
    Ok(out)
}

/// An SMSC field for the start of a PDU shown to the DTE.
fn smsc_field(smsc: &str) -> Vec<u8> {
    match encode_address(smsc) {
        Ok(a) if a.len() > 2 => {
            // The SMSC field's length counts octets (TOA + digits), not semi-octets (27.005 §3.1 <pdu>).
            let mut out = vec![(a.len() - 1) as u8];
            out.extend_from_slice(&a[1..]);
            out
        }
        _ => vec![0],
    }
}

/// TS 23.040 §9.2.3.11: service-centre time stamp, now, in semi-octets (UTC, zone 0).
fn scts_now() -> [u8; 7] {
    let now = time::OffsetDateTime::now_utc();
    let swap = |v: u8| ((v % 10) << 4) | (v / 10);
    [
        swap((now.year() % 100) as u8),
        swap(u8::from(now.month())),
        swap(now.day()),
        swap(now.hour()),
        swap(now.minute()),
        swap(now.second()),
        0,
    ]
}

/// Turns one submitted part into the DELIVER its recipient gets (PDU with SMSC field, TPDU length).
pub fn deliver_from_submit(tpdu: &[u8], from: &str, smsc: &str) -> Result<(Vec<u8>, usize), CodecError> {
    let l = layout(tpdu)?;
    let mut t = vec![TP_MTI_DELIVER | TP_MMS_NO_MORE | (l.first & TP_UDHI_BIT)];
    t.extend(encode_address(from)?);
    t.push(tpdu[l.pid]);
    t.push(tpdu[l.dcs]);
    t.extend_from_slice(&scts_now());
    t.extend_from_slice(&tpdu[l.udl..]);
    let tpdu_len = t.len();
    let mut pdu = smsc_field(smsc);
    pdu.extend(t);
    Ok((pdu, tpdu_len))
}

/// An SMS-STATUS-REPORT for the submit with TP-MR `mr` to `recipient` (TS 23.040 §9.2.2.3).
pub fn status_report(
    mr: u8,
    recipient: &str,
    status: u8,
    smsc: &str,
) -> Result<(Vec<u8>, usize), CodecError> {
    let now = time::OffsetDateTime::now_utc();
    let opts = StatusReportOptions {
        smsc: Address::parse(smsc).ok(),
        mr,
        recipient: Address::parse(recipient).map_err(codec_err)?,
        scts: now,
        discharge_time: now,
        status: Status(status),
        more_messages: false,
    };
    let e = encode_status_report(&opts).map_err(codec_err)?;
    Ok((e.pdu, e.tpdu_len))
}

fn codec_err(e: PduError) -> CodecError {
    CodecError::Codec(e.to_string())
}

/// Decodes an SMS-SUBMIT TPDU (no SMSC field).
pub fn decode_submit(tpdu: &[u8]) -> Result<DecodedSubmit, CodecError> {
    let mut pdu = Vec::with_capacity(tpdu.len() + 1);
    pdu.push(0);
    pdu.extend_from_slice(tpdu);
    match decode(&pdu).map_err(codec_err)? {
        Pdu::Submit(s) => Ok(DecodedSubmit {
            to: s.destination.to_string(),
            text: user_text(&s.user_data),
            status_report: s.srr,
            concat: s
                .udh
                .as_ref()
                .and_then(|u| u.concat())
                .map(|c| (c.reference, c.total, c.seq)),
        }),
        _ => Err(CodecError::NotSubmit(tpdu.first().copied().unwrap_or(0))),
    }
}

/// Text of user data; binary data is shown as hex.
fn user_text(ud: &UserData) -> String {
    match ud {
        UserData::Text(t) => t.clone(),
        UserData::Binary(b) => hex::encode_upper(b),
    }
}

/// Concatenation references for injected messages: one per message, wrapping.
static NEXT_CONCAT_REF: AtomicU16 = AtomicU16::new(1);

/// SMS-DELIVER parts (PDU with SMSC field, TPDU length) for a text from `from` (number or name).
pub fn deliver_parts(from: &str, text: &str, smsc: &str) -> Result<Vec<(Vec<u8>, usize)>, CodecError> {
    let mut opts = DeliverOptions::new(
        Address::parse(from).map_err(codec_err)?,
        time::OffsetDateTime::now_utc(),
    );
    opts.smsc = Address::parse(smsc).ok();
    opts.text = TextOptions {
        concat_ref: NEXT_CONCAT_REF.fetch_add(1, Ordering::Relaxed),
        ..TextOptions::default()
    };
    let parts = encode_deliver(text, &opts).map_err(codec_err)?;
    Ok(parts.into_iter().map(|p| (p.pdu, p.tpdu_len)).collect())
}

/// A single-part SMS-SUBMIT TPDU for a text-mode send or write; `None` when the text does not fit one
/// part or the address is invalid (a real modem answers `+CMS ERROR` then).
pub fn submit_pdu(to: &str, text: &str, status_report: bool) -> Option<Vec<u8>> {
    let mut opts = SubmitOptions::new(Address::parse(to).ok()?);
    opts.srr = status_report;
    let parts = encode_submit(text, &opts).ok()?;
    match parts.as_slice() {
        [one] => Some(one.tpdu().to_vec()),
        _ => None,
    }
}

/// 27.005 §3.1 text-mode `<stat>` names.
fn stat_name(stat: u8) -> &'static str {
    match stat {
        0 => "REC UNREAD",
        1 => "REC READ",
        2 => "STO UNSENT",
        3 => "STO SENT",
        _ => "ALL",
    }
}

/// 27.005 §3.1 `<scts>` text: `yy/MM/dd,hh:mm:ss±zz` (zone in quarter hours).
fn scts_text(t: time::OffsetDateTime) -> String {
    let quarters = t.offset().whole_minutes() / 15;
    format!(
        "{:02}/{:02}/{:02},{:02}:{:02}:{:02}{}{:02}",
        t.year() % 100,
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        if quarters < 0 { '-' } else { '+' },
        quarters.unsigned_abs()
    )
}

/// Header fields and body of a stored PDU in text mode (27.005 §3.4.2/§3.4.3, +CSDH=0 layout).
fn text_mode_fields(pdu: &[u8], stat: u8) -> Option<(String, String)> {
    let st = stat_name(stat);
    match decode(pdu).ok()? {
        Pdu::Deliver(d) => Some((
            format!("\"{st}\",\"{}\",,\"{}\"", d.originator, scts_text(d.scts)),
            user_text(&d.user_data),
        )),
        Pdu::Submit(s) => Some((
            format!("\"{st}\",\"{}\",", s.destination),
            user_text(&s.user_data),
        )),
        Pdu::StatusReport(r) => Some((
            // 27.005 §3.4.3: <fo>,<mr>,<ra>,<tora>,<scts>,<dt>,<st>
            format!(
                "\"{st}\",6,{},\"{}\",{},\"{}\",\"{}\",{}",
                r.mr,
                r.recipient,
                if r.recipient.is_international() {
                    TOA_INTERNATIONAL
                } else {
                    TOA_UNKNOWN
                },
                scts_text(r.scts),
                scts_text(r.discharge_time),
                r.status.0
            ),
            String::new(),
        )),
    }
}

/// Text-mode `+CMGR` lines for a stored PDU (27.005 §3.4.3).
pub fn text_mode_read(pdu: &[u8], stat: u8) -> Option<Vec<String>> {
    let (head, body) = text_mode_fields(pdu, stat)?;
    let mut lines = vec![format!("+CMGR: {head}")];
    if !body.is_empty() {
        lines.push(body);
    }
    Some(lines)
}

/// Text-mode `+CMGL` lines for a stored PDU (27.005 §3.4.2).
pub fn text_mode_list(index: usize, pdu: &[u8], stat: u8) -> Option<Vec<String>> {
    let (head, body) = text_mode_fields(pdu, stat)?;
    let mut lines = vec![format!("+CMGL: {index},{head}")];
    if !body.is_empty() {
        lines.push(body);
    }
    Some(lines)
}
