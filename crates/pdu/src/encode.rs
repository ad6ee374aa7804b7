//! Encoders: SMS-SUBMIT (what the gateway sends), SMS-DELIVER and SMS-STATUS-REPORT (what a simulated
//! network sends to a simulated modem). Each returns complete PDUs with the SMSC field, ready for
//! `AT+CMGS=<tpdu_len>` or a `+CMT:`/`+CDS:` line.
use time::OffsetDateTime;

use crate::address::Address;
use crate::dcs::{Dcs, MessageClass};
use crate::error::{Field, PduError};
use crate::pdu::{
    BIT_MMS_RD, BIT_RP, BIT_SR, BIT_UDHI, TP_MTI_DELIVER, TP_MTI_STATUS_REPORT, TP_MTI_SUBMIT, VPF_SHIFT,
};
use crate::scts;
use crate::split::{self, Plan, TextCount, TextOptions};
use crate::status::Status;
use crate::udh::{InformationElement, Ports, push_element};
use crate::validity::{self, Validity};

/// TP-PID 0x00: plain short message (TS 23.040 §9.2.3.9).
pub const PID_DEFAULT: u8 = 0x00;

/// One encoded PDU: the octets a modem takes after the `> ` prompt (or gives in `+CMT`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct EncodedPdu {
    /// The whole PDU including the SMSC field (`00` when none is given).
    pub pdu: Vec<u8>,
    /// TPDU octets without the SMSC field: the value of `AT+CMGS=<length>`.
    pub tpdu_len: usize,
}

/// One part of an encoded SMS-SUBMIT.
pub type SubmitPart = EncodedPdu;

impl EncodedPdu {
    /// Upper-case hex of the whole PDU, as typed after the prompt.
    pub fn hex(&self) -> String {
        hex::encode_upper(&self.pdu)
    }

    /// The TPDU without the SMSC field.
    pub fn tpdu(&self) -> &[u8] {
        &self.pdu[self.pdu.len().saturating_sub(self.tpdu_len)..]
    }
}

/// Everything an SMS-SUBMIT carries besides the text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubmitOptions {
    /// TP-DA: the recipient.
    pub to: Address,
    /// SMSC address; `None` writes `00` so the modem uses its configured SMSC.
    pub smsc: Option<Address>,
    /// TP-SRR: ask for a status report.
    pub srr: bool,
    /// TP-VP.
    pub validity: Validity,
    /// TP-RD: the SC rejects a duplicate (same MR and destination).
    pub reject_duplicates: bool,
    /// TP-RP: reply path.
    pub reply_path: bool,
    /// TP-MR of the first part; part `i` uses `mr + i` (modems usually assign their own).
    pub mr: u8,
    /// TP-PID.
    pub pid: u8,
    /// Message class (class 0 = flash); `None` = no class.
    pub class: Option<MessageClass>,
    /// Alphabet selection, national tables, concatenation reference and limits.
    pub text: TextOptions,
    /// Application ports, repeated in every part (mostly for 8-bit data).
    pub ports: Option<Ports>,
}

impl SubmitOptions {
    /// Defaults: no SMSC, no report, no validity, MR 0, PID 0, no class, automatic alphabet.
    pub fn new(to: Address) -> SubmitOptions {
        SubmitOptions {
            to,
            smsc: None,
            srr: false,
            validity: Validity::None,
            reject_duplicates: false,
            reply_path: false,
            mr: 0,
            pid: PID_DEFAULT,
            class: None,
            text: TextOptions::default(),
            ports: None,
        }
    }
}

/// Everything an SMS-DELIVER carries besides the text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliverOptions {
    /// TP-OA: the sender (numeric or alphanumeric).
    pub from: Address,
    /// SMSC address written in front; `None` writes `00`.
    pub smsc: Option<Address>,
    /// TP-SCTS.
    pub scts: OffsetDateTime,
    /// TP-PID.
    pub pid: u8,
    /// Message class.
    pub class: Option<MessageClass>,
    /// TP-SRI.
    pub status_report_indication: bool,
    /// TP-MMS: more messages waiting.
    pub more_messages: bool,
    /// TP-RP.
    pub reply_path: bool,
    /// Alphabet selection, national tables, concatenation reference and limits.
    pub text: TextOptions,
    /// Application ports, repeated in every part.
    pub ports: Option<Ports>,
}

impl DeliverOptions {
    /// Defaults: no SMSC, PID 0, no class, automatic alphabet.
    pub fn new(from: Address, scts: OffsetDateTime) -> DeliverOptions {
        DeliverOptions {
            from,
            smsc: None,
            scts,
            pid: PID_DEFAULT,
            class: None,
            status_report_indication: false,
            more_messages: false,
            reply_path: false,
            text: TextOptions::default(),
            ports: None,
        }
    }
}

/// Fields of an SMS-STATUS-REPORT.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusReportOptions {
    /// SMSC address written in front; `None` writes `00`.
    pub smsc: Option<Address>,
    /// TP-MR of the submitted message.
    pub mr: u8,
    /// TP-RA: recipient of the submitted message.
    pub recipient: Address,
    /// TP-SCTS of the submitted message.
    pub scts: OffsetDateTime,
    /// TP-DT.
    pub discharge_time: OffsetDateTime,
    /// TP-ST.
    pub status: Status,
    /// TP-MMS: more messages waiting.
    pub more_messages: bool,
}

/// The SMSC field: the address, or a single `00` octet so the modem uses its configured SMSC.
fn push_smsc(smsc: Option<&Address>, out: &mut Vec<u8>) -> Result<(), PduError> {
    match smsc {
        Some(a) => a.encode_smsc(out),
        None => {
            out.push(0);
            Ok(())
        }
    }
}

/// The serialised application port addressing IE, or nothing.
fn ports_ie(ports: Option<Ports>) -> Vec<u8> {
    let mut v = Vec::new();
    if let Some(p) = ports {
        push_element(&InformationElement::Ports(p), &mut v);
    }
    v
}

/// Plans a text whose every part also carries the ports IE (when given), so capacity accounts for it.
fn plan_with_ports<'a>(text: &str, opts: &TextOptions, ports: Option<Ports>) -> Result<Plan<'a>, PduError> {
    split::plan_text(text, opts, &ports_ie(ports))
}

/// Encodes a text as one or more SMS-SUBMIT PDUs.
pub fn encode_submit(text: &str, opts: &SubmitOptions) -> Result<Vec<SubmitPart>, PduError> {
    let plan = plan_with_ports(text, &opts.text, opts.ports)?;
    build_submits(&plan, opts)
}

/// Encodes 8-bit data as one or more SMS-SUBMIT PDUs.
pub fn encode_submit_data(data: &[u8], opts: &SubmitOptions) -> Result<Vec<SubmitPart>, PduError> {
    let plan = split::plan_data(data, &opts.text, ports_ie(opts.ports))?;
    build_submits(&plan, opts)
}

/// Counts the parts of a text with the options of a SUBMIT (ports included), exactly as
/// [`encode_submit`] splits it.
pub fn count_submit(text: &str, opts: &SubmitOptions) -> Result<TextCount, PduError> {
    Ok(plan_with_ports(text, &opts.text, opts.ports)?.count())
}

fn build_submits(plan: &Plan<'_>, opts: &SubmitOptions) -> Result<Vec<SubmitPart>, PduError> {
    let mut smsc = Vec::with_capacity(12);
    push_smsc(opts.smsc.as_ref(), &mut smsc)?;
    let mut da = Vec::with_capacity(12);
    opts.to.encode_tp(&mut da)?;
    let (vpf, vp) = match opts.validity {
        Validity::None => (validity::VPF_NONE, Vec::new()),
        Validity::Relative(d) => (validity::VPF_RELATIVE, vec![validity::relative_code(d)]),
        Validity::Absolute(t) => {
            let mut v = Vec::with_capacity(scts::SCTS_OCTETS);
            scts::encode(t, Field::ValidityPeriod, &mut v)?;
            (validity::VPF_ABSOLUTE, v)
        }
        Validity::Enhanced(raw) => (validity::VPF_ENHANCED, raw.to_vec()),
    };
    let dcs = Dcs::for_alphabet(plan.alphabet, opts.class).raw;
    let mut parts = Vec::with_capacity(plan.bounds.len());
    for i in 0..plan.bounds.len() {
        let udhi = plan.has_udh();
        let mut pdu = Vec::with_capacity(smsc.len() + da.len() + vp.len() + split::MAX_UD_OCTETS + 6);
        pdu.extend_from_slice(&smsc);
        let mut fo = TP_MTI_SUBMIT | vpf << VPF_SHIFT;
        if opts.reject_duplicates {
            fo |= BIT_MMS_RD;
        }
        if opts.srr {
            fo |= BIT_SR;
        }
        if udhi {
            fo |= BIT_UDHI;
        }
        if opts.reply_path {
            fo |= BIT_RP;
        }
        pdu.push(fo);
        pdu.push(opts.mr.wrapping_add(i as u8));
        pdu.extend_from_slice(&da);
        pdu.push(opts.pid);
        pdu.push(dcs);
        pdu.extend_from_slice(&vp);
        plan.write_user_data(i, &mut pdu);
        parts.push(EncodedPdu {
            tpdu_len: pdu.len() - smsc.len(),
            pdu,
        });
    }
    Ok(parts)
}

/// Encodes a text as one or more SMS-DELIVER PDUs (concatenated when long), as a network delivers it.
pub fn encode_deliver(text: &str, opts: &DeliverOptions) -> Result<Vec<EncodedPdu>, PduError> {
    let plan = plan_with_ports(text, &opts.text, opts.ports)?;
    build_delivers(&plan, opts)
}

/// Encodes 8-bit data as one or more SMS-DELIVER PDUs.
pub fn encode_deliver_data(data: &[u8], opts: &DeliverOptions) -> Result<Vec<EncodedPdu>, PduError> {
    let plan = split::plan_data(data, &opts.text, ports_ie(opts.ports))?;
    build_delivers(&plan, opts)
}

fn build_delivers(plan: &Plan<'_>, opts: &DeliverOptions) -> Result<Vec<EncodedPdu>, PduError> {
    let mut smsc = Vec::with_capacity(12);
    push_smsc(opts.smsc.as_ref(), &mut smsc)?;
    let mut oa = Vec::with_capacity(12);
    opts.from.encode_tp(&mut oa)?;
    let mut ts = Vec::with_capacity(scts::SCTS_OCTETS);
    scts::encode(opts.scts, Field::ServiceCentreTimeStamp, &mut ts)?;
    let dcs = Dcs::for_alphabet(plan.alphabet, opts.class).raw;
    let mut out = Vec::with_capacity(plan.bounds.len());
    for i in 0..plan.bounds.len() {
        let udhi = plan.has_udh();
        let mut pdu = Vec::with_capacity(smsc.len() + oa.len() + ts.len() + split::MAX_UD_OCTETS + 4);
        pdu.extend_from_slice(&smsc);
        let mut fo = TP_MTI_DELIVER;
        if !opts.more_messages {
            fo |= BIT_MMS_RD;
        }
        if opts.status_report_indication {
            fo |= BIT_SR;
        }
        if udhi {
            fo |= BIT_UDHI;
        }
        if opts.reply_path {
            fo |= BIT_RP;
        }
        pdu.push(fo);
        pdu.extend_from_slice(&oa);
        pdu.push(opts.pid);
        pdu.push(dcs);
        pdu.extend_from_slice(&ts);
        plan.write_user_data(i, &mut pdu);
        out.push(EncodedPdu {
            tpdu_len: pdu.len() - smsc.len(),
            pdu,
        });
    }
    Ok(out)
}

/// Encodes an SMS-STATUS-REPORT (without the optional TP-PI and what follows it).
pub fn encode_status_report(opts: &StatusReportOptions) -> Result<EncodedPdu, PduError> {
    let mut pdu = Vec::with_capacity(32);
    push_smsc(opts.smsc.as_ref(), &mut pdu)?;
    let smsc_len = pdu.len();
    let mut fo = TP_MTI_STATUS_REPORT;
    if !opts.more_messages {
        fo |= BIT_MMS_RD;
    }
    pdu.push(fo);
    pdu.push(opts.mr);
    opts.recipient.encode_tp(&mut pdu)?;
    scts::encode(opts.scts, Field::ServiceCentreTimeStamp, &mut pdu)?;
    scts::encode(opts.discharge_time, Field::DischargeTime, &mut pdu)?;
    pdu.push(opts.status.0);
    Ok(EncodedPdu {
        tpdu_len: pdu.len() - smsc_len,
        pdu,
    })
}

/// What a network does with a submitted message (TS 23.040 §9.2.2.1/§9.2.2.2): the SMS-DELIVER the
/// recipient gets carries the SUBMIT's TP-PID, TP-DCS, TP-UDHI and user data unchanged (octet for octet,
/// whatever the alphabet or header), the sender as originator, TP-SRI set when TP-SRR was, and the given
/// service centre time stamp. For simulators and tests; `submit` is a whole PDU with its SMSC field.
pub fn deliver_from_submit(
    submit: &[u8],
    originator: &Address,
    scts: OffsetDateTime,
    smsc: Option<&Address>,
) -> Result<EncodedPdu, PduError> {
    // Validate the whole SUBMIT first, so the raw copy below only walks a well-formed PDU.
    let decoded = crate::pdu::decode(submit)?;
    let smsc_len = 1 + usize::from(submit.first().copied().unwrap_or(0));
    let tpdu = submit.get(smsc_len..).unwrap_or_default();
    let fo = tpdu.first().copied().unwrap_or(0);
    let crate::pdu::Pdu::Submit(decoded) = decoded else {
        return Err(PduError::InvalidValue {
            field: Field::FirstOctet,
            offset: smsc_len,
            value: fo,
            reason: "not an SMS-SUBMIT",
        });
    };
    // FO, MR, DA (length in semi-octets + type), PID, DCS, then TP-VP by TP-VPF.
    let da_len = usize::from(tpdu.get(2).copied().unwrap_or(0));
    let pid_at = 2 + 2 + da_len.div_ceil(2);
    let vp_len = match (fo >> VPF_SHIFT) & 0b11 {
        validity::VPF_NONE => 0,
        validity::VPF_RELATIVE => 1,
        _ => scts::SCTS_OCTETS,
    };
    let ud_from = pid_at + 2 + vp_len;
    let user_data = tpdu.get(ud_from..).unwrap_or_default();
    let mut pdu = Vec::with_capacity(submit.len() + 16);
    push_smsc(smsc, &mut pdu)?;
    let smsc_out = pdu.len();
    let mut out_fo = TP_MTI_DELIVER | BIT_MMS_RD | (fo & BIT_UDHI) | (fo & BIT_RP);
    if decoded.srr {
        out_fo |= BIT_SR;
    }
    pdu.push(out_fo);
    originator.encode_tp(&mut pdu)?;
    pdu.push(decoded.pid);
    pdu.push(decoded.dcs.raw);
    scts::encode(scts, Field::ServiceCentreTimeStamp, &mut pdu)?;
    pdu.extend_from_slice(user_data);
    Ok(EncodedPdu {
        tpdu_len: pdu.len() - smsc_out,
        pdu,
    })
}

/// The 7-octet time stamp field (TP-SCTS, TP-DT, absolute TP-VP) for a time (TS 23.040 §9.2.3.11).
pub fn encode_timestamp(t: OffsetDateTime) -> Result<[u8; scts::SCTS_OCTETS], PduError> {
    let mut v = Vec::with_capacity(scts::SCTS_OCTETS);
    scts::encode(t, Field::ServiceCentreTimeStamp, &mut v)?;
    let mut out = [0u8; scts::SCTS_OCTETS];
    out.copy_from_slice(&v);
    Ok(out)
}
