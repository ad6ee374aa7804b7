//! Decoded TPDUs (SMS-DELIVER, SMS-SUBMIT, SMS-STATUS-REPORT of TS 23.040 §9.2.2) and the decoder.
use time::OffsetDateTime;

use crate::address::Address;
use crate::dcs::{Alphabet, Dcs, MessageClass};
use crate::error::{Field, PduError};
use crate::gsm7::{self, Gsm7Tables};
use crate::reader::Reader;
use crate::scts;
use crate::status::Status;
use crate::udh::Udh;
use crate::validity::{self, ENHANCED_VP_OCTETS, Validity};

/// TP-MTI values, bits 1..0 of the first octet (TS 23.040 §9.2.3.1), as seen by a mobile station.
pub const TP_MTI_DELIVER: u8 = 0b00;
/// SMS-SUBMIT.
pub const TP_MTI_SUBMIT: u8 = 0b01;
/// SMS-STATUS-REPORT.
pub const TP_MTI_STATUS_REPORT: u8 = 0b10;
pub(crate) const TP_MTI_MASK: u8 = 0b11;
/// TP-MMS (DELIVER, STATUS-REPORT) and TP-RD (SUBMIT), bit 2.
pub(crate) const BIT_MMS_RD: u8 = 0x04;
/// TP-LP, bit 3 (DELIVER, STATUS-REPORT).
pub(crate) const BIT_LP: u8 = 0x08;
/// TP-VPF, bits 4..3 (SUBMIT).
pub(crate) const VPF_SHIFT: u8 = 3;
/// TP-SRR (SUBMIT), TP-SRI (DELIVER), TP-SRQ (STATUS-REPORT), bit 5.
pub(crate) const BIT_SR: u8 = 0x20;
/// TP-UDHI, bit 6.
pub(crate) const BIT_UDHI: u8 = 0x40;
/// TP-RP, bit 7 (SUBMIT, DELIVER).
pub(crate) const BIT_RP: u8 = 0x80;
/// TP-PI bits (TS 23.040 §9.2.3.27).
const PI_PID: u8 = 0x01;
const PI_DCS: u8 = 0x02;
const PI_UDL: u8 = 0x04;
const PI_EXTENSION: u8 = 0x80;
/// Most octets of TP-UD and most septets (TS 23.040 §9.2.3.16).
const MAX_UD_OCTETS: usize = crate::split::MAX_UD_OCTETS;
const MAX_UD_SEPTETS: usize = crate::split::MAX_UD_SEPTETS;

/// User data of a message: text (GSM-7, UCS-2) or bytes (8-bit data, compressed text).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum UserData {
    /// Decoded text.
    Text(String),
    /// Raw octets (after the UDH).
    Binary(Vec<u8>),
}

impl UserData {
    /// The text, if this is text.
    pub fn text(&self) -> Option<&str> {
        match self {
            UserData::Text(t) => Some(t),
            UserData::Binary(_) => None,
        }
    }

    /// The octets, if this is binary.
    pub fn bytes(&self) -> Option<&[u8]> {
        match self {
            UserData::Text(_) => None,
            UserData::Binary(b) => Some(b),
        }
    }
}

/// An SMS-DELIVER: a message arriving at the mobile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deliver {
    /// Service centre that delivered it.
    pub smsc: Option<Address>,
    /// TP-MMS: more messages are waiting at the service centre.
    pub more_messages: bool,
    /// TP-LP: loop prevention.
    pub loop_prevention: bool,
    /// TP-SRI: the sender asked for a status report.
    pub status_report_indication: bool,
    /// TP-RP: reply path set.
    pub reply_path: bool,
    /// TP-OA: the sender.
    pub originator: Address,
    /// TP-PID.
    pub pid: u8,
    /// TP-DCS.
    pub dcs: Dcs,
    /// TP-SCTS: when the service centre received it.
    pub scts: OffsetDateTime,
    /// TP-UDH, if TP-UDHI was set.
    pub udh: Option<Udh>,
    /// The text or data.
    pub user_data: UserData,
}

/// An SMS-SUBMIT: a message a mobile sends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Submit {
    /// Service centre field (`None` = the modem's default).
    pub smsc: Option<Address>,
    /// TP-RD: reject duplicates.
    pub reject_duplicates: bool,
    /// TP-VP.
    pub validity: Validity,
    /// TP-SRR: status report requested.
    pub srr: bool,
    /// TP-RP: reply path.
    pub reply_path: bool,
    /// TP-MR.
    pub mr: u8,
    /// TP-DA.
    pub destination: Address,
    /// TP-PID.
    pub pid: u8,
    /// TP-DCS.
    pub dcs: Dcs,
    /// TP-UDH, if TP-UDHI was set.
    pub udh: Option<Udh>,
    /// The text or data.
    pub user_data: UserData,
}

/// An SMS-STATUS-REPORT: what happened to a message submitted with TP-SRR.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusReport {
    /// Service centre that sent the report.
    pub smsc: Option<Address>,
    /// TP-MMS: more messages are waiting at the service centre.
    pub more_messages: bool,
    /// TP-LP: loop prevention.
    pub loop_prevention: bool,
    /// TP-SRQ: the report is the result of an SMS-COMMAND (false: of an SMS-SUBMIT).
    pub command_result: bool,
    /// TP-MR of the submitted message (what `+CMGS: <mr>` answered).
    pub mr: u8,
    /// TP-RA: the recipient of the submitted message.
    pub recipient: Address,
    /// TP-SCTS of the submitted message.
    pub scts: OffsetDateTime,
    /// TP-DT: when the status was reached (delivery time, or time of the last attempt).
    pub discharge_time: OffsetDateTime,
    /// TP-ST.
    pub status: Status,
    /// TP-PID, if TP-PI says it is present.
    pub pid: Option<u8>,
    /// TP-DCS, if present.
    pub dcs: Option<Dcs>,
    /// TP-UDH, if present.
    pub udh: Option<Udh>,
    /// TP-UD, if present.
    pub user_data: Option<UserData>,
}

/// A decoded TPDU. The direction comes from TP-MTI.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pdu {
    /// TP-MTI 00.
    Deliver(Deliver),
    /// TP-MTI 01.
    Submit(Submit),
    /// TP-MTI 10.
    StatusReport(StatusReport),
}

impl Pdu {
    /// `SMS-DELIVER`, `SMS-SUBMIT` or `SMS-STATUS-REPORT`.
    pub fn type_name(&self) -> &'static str {
        match self {
            Pdu::Deliver(_) => "SMS-DELIVER",
            Pdu::Submit(_) => "SMS-SUBMIT",
            Pdu::StatusReport(_) => "SMS-STATUS-REPORT",
        }
    }

    /// The service centre field.
    pub fn smsc(&self) -> Option<&Address> {
        match self {
            Pdu::Deliver(d) => d.smsc.as_ref(),
            Pdu::Submit(s) => s.smsc.as_ref(),
            Pdu::StatusReport(r) => r.smsc.as_ref(),
        }
    }

    /// Originator of a DELIVER, destination of a SUBMIT, recipient of a STATUS-REPORT.
    pub fn address(&self) -> &Address {
        match self {
            Pdu::Deliver(d) => &d.originator,
            Pdu::Submit(s) => &s.destination,
            Pdu::StatusReport(r) => &r.recipient,
        }
    }

    /// TP-DCS, if present.
    pub fn dcs(&self) -> Option<Dcs> {
        match self {
            Pdu::Deliver(d) => Some(d.dcs),
            Pdu::Submit(s) => Some(s.dcs),
            Pdu::StatusReport(r) => r.dcs,
        }
    }

    /// Alphabet of the user data (GSM-7 when there is no DCS).
    pub fn alphabet(&self) -> Alphabet {
        self.dcs().map_or(Alphabet::Gsm7, |d| d.alphabet)
    }

    /// Message class, if any.
    pub fn class(&self) -> Option<MessageClass> {
        self.dcs().and_then(|d| d.class)
    }

    /// The user data header, if any.
    pub fn udh(&self) -> Option<&Udh> {
        match self {
            Pdu::Deliver(d) => d.udh.as_ref(),
            Pdu::Submit(s) => s.udh.as_ref(),
            Pdu::StatusReport(r) => r.udh.as_ref(),
        }
    }

    /// The user data, if any.
    pub fn user_data(&self) -> Option<&UserData> {
        match self {
            Pdu::Deliver(d) => Some(&d.user_data),
            Pdu::Submit(s) => Some(&s.user_data),
            Pdu::StatusReport(r) => r.user_data.as_ref(),
        }
    }
}

/// Decodes a PDU as a modem gives it in PDU mode: SMSC field first, then the TPDU.
pub fn decode(bytes: &[u8]) -> Result<Pdu, PduError> {
    let mut r = Reader::new(bytes);
    let smsc = Address::decode_smsc(&mut r)?;
    decode_after_smsc(r, smsc)
}

/// Decodes a bare TPDU (no SMSC field), for modems or files that leave it out. Offsets in errors count
/// from the first octet of the TPDU.
pub fn decode_tpdu(bytes: &[u8]) -> Result<Pdu, PduError> {
    decode_after_smsc(Reader::new(bytes), None)
}

fn decode_after_smsc(mut r: Reader<'_>, smsc: Option<Address>) -> Result<Pdu, PduError> {
    let r = &mut r;
    let fo_offset = r.pos();
    let fo = r.u8(Field::FirstOctet)?;
    let pdu = match fo & TP_MTI_MASK {
        TP_MTI_DELIVER => Pdu::Deliver(decode_deliver(r, smsc, fo)?),
        TP_MTI_SUBMIT => Pdu::Submit(decode_submit(r, smsc, fo)?),
        TP_MTI_STATUS_REPORT => Pdu::StatusReport(decode_status_report(r, smsc, fo)?),
        _ => {
            return Err(PduError::InvalidValue {
                field: Field::FirstOctet,
                offset: fo_offset,
                value: fo,
                reason: "TP-MTI 11 is reserved",
            });
        }
    };
    if r.remaining() > 0 {
        return Err(PduError::TrailingData {
            offset: r.pos(),
            extra: r.remaining(),
        });
    }
    Ok(pdu)
}

/// Decodes a PDU given as hex text (as in `+CMGL`/`+CMT` lines); surrounding whitespace is ignored.
pub fn decode_hex(hex: &str) -> Result<Pdu, PduError> {
    decode(&hex_to_bytes(hex)?)
}

/// Parses hex text (either case) into octets; surrounding whitespace is ignored.
pub fn hex_to_bytes(hex: &str) -> Result<Vec<u8>, PduError> {
    let lead = hex.len() - hex.trim_start().len();
    let t = hex.trim().as_bytes();
    if t.len() % 2 != 0 {
        return Err(PduError::BadHex {
            position: lead + t.len(),
            reason: "odd number of hex digits",
        });
    }
    let nibble = |i: usize| -> Result<u8, PduError> {
        let c = t[i];
        match c {
            b'0'..=b'9' => Ok(c - b'0'),
            b'a'..=b'f' => Ok(c - b'a' + 10),
            b'A'..=b'F' => Ok(c - b'A' + 10),
            _ => Err(PduError::BadHex {
                position: lead + i,
                reason: "not a hex digit",
            }),
        }
    };
    (0..t.len() / 2)
        .map(|i| Ok(nibble(2 * i)? << 4 | nibble(2 * i + 1)?))
        .collect()
}

/// Upper-case hex of octets.
pub fn bytes_to_hex(bytes: &[u8]) -> String {
    hex::encode_upper(bytes)
}

fn decode_deliver(r: &mut Reader<'_>, smsc: Option<Address>, fo: u8) -> Result<Deliver, PduError> {
    let originator = Address::decode_tp(r, Field::OriginatingAddress)?;
    let pid = r.u8(Field::ProtocolIdentifier)?;
    let dcs = Dcs::from_byte(r.u8(Field::DataCodingScheme)?);
    let scts = scts::decode(r, Field::ServiceCentreTimeStamp)?;
    let (udh, user_data) = decode_user_data(r, &dcs, fo & BIT_UDHI != 0)?;
    Ok(Deliver {
        smsc,
        more_messages: fo & BIT_MMS_RD == 0,
        loop_prevention: fo & BIT_LP != 0,
        status_report_indication: fo & BIT_SR != 0,
        reply_path: fo & BIT_RP != 0,
        originator,
        pid,
        dcs,
        scts,
        udh,
        user_data,
    })
}

fn decode_submit(r: &mut Reader<'_>, smsc: Option<Address>, fo: u8) -> Result<Submit, PduError> {
    let mr = r.u8(Field::MessageReference)?;
    let destination = Address::decode_tp(r, Field::DestinationAddress)?;
    let pid = r.u8(Field::ProtocolIdentifier)?;
    let dcs = Dcs::from_byte(r.u8(Field::DataCodingScheme)?);
    let validity = match (fo >> VPF_SHIFT) & 0b11 {
        validity::VPF_NONE => Validity::None,
        validity::VPF_RELATIVE => {
            Validity::Relative(validity::relative_duration(r.u8(Field::ValidityPeriod)?))
        }
        validity::VPF_ABSOLUTE => Validity::Absolute(scts::decode(r, Field::ValidityPeriod)?),
        _ => {
            let raw = r.take(ENHANCED_VP_OCTETS, Field::ValidityPeriod)?;
            let mut vp = [0u8; ENHANCED_VP_OCTETS];
            vp.copy_from_slice(raw);
            Validity::Enhanced(vp)
        }
    };
    let (udh, user_data) = decode_user_data(r, &dcs, fo & BIT_UDHI != 0)?;
    Ok(Submit {
        smsc,
        reject_duplicates: fo & BIT_MMS_RD != 0,
        validity,
        srr: fo & BIT_SR != 0,
        reply_path: fo & BIT_RP != 0,
        mr,
        destination,
        pid,
        dcs,
        udh,
        user_data,
    })
}

fn decode_status_report(r: &mut Reader<'_>, smsc: Option<Address>, fo: u8) -> Result<StatusReport, PduError> {
    let mr = r.u8(Field::MessageReference)?;
    let recipient = Address::decode_tp(r, Field::RecipientAddress)?;
    let scts = scts::decode(r, Field::ServiceCentreTimeStamp)?;
    let discharge_time = scts::decode(r, Field::DischargeTime)?;
    let status = Status(r.u8(Field::Status)?);
    let mut report = StatusReport {
        smsc,
        more_messages: fo & BIT_MMS_RD == 0,
        loop_prevention: fo & BIT_LP != 0,
        command_result: fo & BIT_SR != 0,
        mr,
        recipient,
        scts,
        discharge_time,
        status,
        pid: None,
        dcs: None,
        udh: None,
        user_data: None,
    };
    // TP-PI and what it announces are optional (TS 23.040 §9.2.2.3).
    if r.remaining() == 0 {
        return Ok(report);
    }
    let pi = r.u8(Field::ParameterIndicator)?;
    let mut ext = pi;
    while ext & PI_EXTENSION != 0 {
        ext = r.u8(Field::ParameterIndicator)?;
    }
    if pi & PI_PID != 0 {
        report.pid = Some(r.u8(Field::ProtocolIdentifier)?);
    }
    if pi & PI_DCS != 0 {
        report.dcs = Some(Dcs::from_byte(r.u8(Field::DataCodingScheme)?));
    }
    if pi & PI_UDL != 0 {
        let dcs = report.dcs.unwrap_or_else(|| Dcs::from_byte(0));
        let (udh, ud) = decode_user_data(r, &dcs, fo & BIT_UDHI != 0)?;
        report.udh = udh;
        report.user_data = Some(ud);
    }
    Ok(report)
}

/// Most UTF-8 octets one UTF-16 code unit can need (a BMP character; a pair needs 4 for 2 units).
const UTF8_PER_UNIT: usize = 3;

/// UTF-16BE to text. A lone surrogate (a sender that split a pair across parts) becomes U+FFFD rather
/// than an error, so the rest of the message is kept.
fn decode_ucs2(body: &[u8]) -> String {
    let mut text = String::with_capacity(body.len() / 2 * UTF8_PER_UNIT);
    let units = body.chunks_exact(2).map(|c| u16::from_be_bytes([c[0], c[1]]));
    for c in char::decode_utf16(units) {
        text.push(c.unwrap_or(char::REPLACEMENT_CHARACTER));
    }
    text
}

/// Decodes TP-UDL and TP-UD (with the UDH when `udhi`).
fn decode_user_data(r: &mut Reader<'_>, dcs: &Dcs, udhi: bool) -> Result<(Option<Udh>, UserData), PduError> {
    let udl_offset = r.pos();
    let udl = usize::from(r.u8(Field::UserDataLength)?);
    let septets = dcs.alphabet == Alphabet::Gsm7 && !dcs.compressed;
    let (max, octets) = if septets {
        (MAX_UD_SEPTETS, (udl * 7).div_ceil(8))
    } else {
        (MAX_UD_OCTETS, udl)
    };
    if udl > max {
        return Err(PduError::BadLength {
            field: Field::UserDataLength,
            offset: udl_offset,
            declared: udl,
            reason: if septets {
                "more than 160 septets"
            } else {
                "more than 140 octets"
            },
        });
    }
    let ud_offset = r.pos();
    let ud = r.take(octets, Field::UserData)?;
    let (udh, udh_octets) = if udhi {
        let Some(&udhl) = ud.first() else {
            return Err(PduError::Truncated {
                field: Field::UserDataHeader,
                offset: ud_offset,
                needed: 1,
            });
        };
        let udhl = usize::from(udhl);
        if 1 + udhl > ud.len() {
            return Err(PduError::BadLength {
                field: Field::UserDataHeader,
                offset: ud_offset,
                declared: udhl,
                reason: "header longer than the user data",
            });
        }
        (Some(Udh::parse(&ud[1..1 + udhl], ud_offset + 1)?), 1 + udhl)
    } else {
        (None, 0)
    };
    let data = if septets {
        let header_septets = (udh_octets * 8).div_ceil(7);
        if header_septets > udl {
            return Err(PduError::BadLength {
                field: Field::UserDataLength,
                offset: udl_offset,
                declared: udl,
                reason: "shorter than the user data header",
            });
        }
        let tables = Gsm7Tables {
            locking: udh.as_ref().and_then(Udh::locking_shift),
            single: udh.as_ref().and_then(Udh::single_shift),
        };
        let mut text = String::new();
        gsm7::decode_packed(ud, header_septets, udl, tables, &mut text);
        UserData::Text(text)
    } else {
        let body = &ud[udh_octets..];
        if dcs.alphabet == Alphabet::Ucs2 && !dcs.compressed {
            if body.len() % 2 != 0 {
                return Err(PduError::BadLength {
                    field: Field::UserData,
                    offset: udl_offset,
                    declared: udl,
                    reason: "UCS-2 text needs an even number of octets",
                });
            }
            UserData::Text(decode_ucs2(body))
        } else {
            UserData::Binary(body.to_vec())
        }
    };
    Ok((udh, data))
}
