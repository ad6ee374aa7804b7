//! Typed AT commands: each knows its command line, what the framer should expect, its timeout class and
//! how to parse its information lines into a typed response (the `atat` idea, without the embedded
//! constraints). References: 3GPP TS 27.007 (general, network, SIM), TS 27.005 (SMS, PDU mode), V.250.
use thiserror::Error;

use super::codec::Expect;
use super::params::{self, Field};

/// How long a command may take, by what it waits for. The actor maps classes to configured durations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TimeoutClass {
    /// Answered by the modem itself (settings, identity): a few seconds.
    Local,
    /// Needs the SIM (PIN, storage, `+CIMI`): SIM access can take seconds, more during SIM init.
    Sim,
    /// Needs the network (`+COPS`, USSD): tens of seconds.
    Network,
    /// `AT+CMGS`: the network's answer to an SMS submission, 60–120 s in bad coverage (27.005 §3.5.1).
    Send,
}

/// The information lines of a command could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("unexpected response to {command}: {detail}")]
pub struct ParseError {
    /// The command line.
    pub command: String,
    /// What was wrong.
    pub detail: String,
}

/// An AT command with a typed response.
pub trait AtCommand {
    /// What a successful (`OK`) response means.
    type Response;
    /// The command line without the terminating CR.
    fn line(&self) -> String;
    /// What the framer expects while the command is pending.
    fn expect(&self) -> Expect {
        Expect::for_command(&self.line())
    }
    /// The timeout class.
    fn timeout(&self) -> TimeoutClass {
        TimeoutClass::Local
    }
    /// Parses the information lines of an `OK` response.
    fn parse(&self, info: &[String]) -> Result<Self::Response, ParseError>;
    /// Whether the command line carries a secret (a PIN) and must not be logged.
    fn is_secret(&self) -> bool {
        false
    }
}

fn err(cmd: &impl AtCommand, detail: impl Into<String>) -> ParseError {
    ParseError {
        command: cmd.line(),
        detail: detail.into(),
    }
}

/// Fields of the first information line starting with `prefix:`.
fn prefixed<'a>(info: &'a [String], prefix: &str) -> Option<Vec<Field<'a>>> {
    info.iter().find_map(|line| {
        let (p, fields) = params::split_prefixed(line)?;
        p.eq_ignore_ascii_case(prefix).then_some(fields)
    })
}

/// A command with no information lines of interest (`AT`, `ATE0`, `AT+CMGF=0`, `AT+CMGD=3` ...).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Simple {
    line: String,
    timeout: TimeoutClass,
}

impl Simple {
    /// `AT`: is anybody there.
    pub fn attention() -> Simple {
        Simple {
            line: "AT".into(),
            timeout: TimeoutClass::Local,
        }
    }
    /// `ATE0`: echo off (V.250 §6.2.4).
    pub fn echo_off() -> Simple {
        Simple {
            line: "ATE0".into(),
            timeout: TimeoutClass::Local,
        }
    }
    /// `ATV1`: verbose result codes (V.250 §6.2.6), in case a previous user left `ATV0`.
    pub fn verbose_results() -> Simple {
        Simple {
            line: "ATV1".into(),
            timeout: TimeoutClass::Local,
        }
    }
    /// `AT+CMEE=<n>`: 1 numeric, 2 verbose `+CME ERROR` (27.007 §9.1).
    pub fn cmee(mode: u8) -> Simple {
        Simple {
            line: format!("AT+CMEE={mode}"),
            timeout: TimeoutClass::Local,
        }
    }
    /// `AT+CMGF=0`: PDU mode (27.005 §3.2.3).
    pub fn pdu_mode() -> Simple {
        Simple {
            line: "AT+CMGF=0".into(),
            timeout: TimeoutClass::Local,
        }
    }
    /// `AT+CNMI=<mode>,<mt>,<bm>,<ds>,<bfr>`: where new messages and reports go (27.005 §3.4.1).
    pub fn cnmi(settings: &str) -> Simple {
        Simple {
            line: format!("AT+CNMI={settings}"),
            timeout: TimeoutClass::Local,
        }
    }
    /// `AT+CSCA="<number>"`: SMSC address (27.005 §3.3.1).
    pub fn set_smsc(number: &str) -> Simple {
        Simple {
            line: format!("AT+CSCA=\"{number}\""),
            timeout: TimeoutClass::Sim,
        }
    }
    /// `AT+CREG=<n>` / `+CGREG` / `+CEREG`: registration URCs on (27.007 §7.2).
    pub fn registration_urc(prefix: &str, n: u8) -> Simple {
        Simple {
            line: format!("AT{prefix}={n}"),
            timeout: TimeoutClass::Local,
        }
    }
    /// `AT+COPS=3,0`: report the operator as a long alphanumeric name (27.007 §7.3).
    pub fn operator_format_long() -> Simple {
        Simple {
            line: "AT+COPS=3,0".into(),
            timeout: TimeoutClass::Local,
        }
    }
    /// `AT+CPIN="<pin>"` (27.007 §8.3). Never logged (see [`AtCommand::is_secret`]).
    pub fn enter_pin(pin: &str) -> Simple {
        Simple {
            line: format!("AT+CPIN=\"{pin}\""),
            timeout: TimeoutClass::Sim,
        }
    }
    /// `AT+CMGD=<index>`: delete a stored message (27.005 §3.5.4).
    pub fn delete(index: u32) -> Simple {
        Simple {
            line: format!("AT+CMGD={index}"),
            timeout: TimeoutClass::Sim,
        }
    }
    /// `AT+CNMA`: acknowledge a `+CMT`/`+CDS` routed directly (27.005 §3.4.4).
    pub fn new_message_ack() -> Simple {
        Simple {
            line: "AT+CNMA".into(),
            timeout: TimeoutClass::Local,
        }
    }
    /// `AT+CUSD=1,"<code>",15`: send a USSD string; the reply comes as `+CUSD` URC (27.007 §7.15).
    pub fn ussd(code: &str) -> Simple {
        Simple {
            line: format!("AT+CUSD=1,\"{code}\",{USSD_DCS_GSM7}"),
            timeout: TimeoutClass::Network,
        }
    }
    /// `AT+CUSD=2`: end the USSD session.
    pub fn ussd_cancel() -> Simple {
        Simple {
            line: "AT+CUSD=2".into(),
            timeout: TimeoutClass::Network,
        }
    }
    /// `AT+CFUN=1,1`: full functionality with a reset (27.007 §8.2).
    pub fn reset() -> Simple {
        Simple {
            line: "AT+CFUN=1,1".into(),
            timeout: TimeoutClass::Network,
        }
    }
}

/// USSD data coding scheme "GSM 7 bit default alphabet, language unspecified" (3GPP TS 23.038 §5).
pub const USSD_DCS_GSM7: u8 = 15;
/// USSD data coding scheme for UCS2 (3GPP TS 23.038 §5, 0x48).
pub const USSD_DCS_UCS2: u8 = 72;

impl AtCommand for Simple {
    type Response = ();
    fn line(&self) -> String {
        self.line.clone()
    }
    fn timeout(&self) -> TimeoutClass {
        self.timeout
    }
    fn parse(&self, _info: &[String]) -> Result<(), ParseError> {
        Ok(())
    }
    fn is_secret(&self) -> bool {
        self.line.starts_with("AT+CPIN=")
    }
}

/// A raw command typed by a technician: all information lines are returned as they are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Raw(pub String);

impl AtCommand for Raw {
    type Response = Vec<String>;
    fn line(&self) -> String {
        self.0.trim().to_owned()
    }
    fn timeout(&self) -> TimeoutClass {
        TimeoutClass::Network
    }
    fn parse(&self, info: &[String]) -> Result<Vec<String>, ParseError> {
        Ok(info.to_vec())
    }
}

/// Identity queries answered by one bare line (or `+CGSN: <imei>` on some firmwares).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Identity {
    /// `AT+CGMI` manufacturer (27.007 §5.1).
    Manufacturer,
    /// `AT+CGMM` model (27.007 §5.2).
    Model,
    /// `AT+CGMR` firmware revision (27.007 §5.3).
    Revision,
    /// `AT+CGSN` IMEI (27.007 §5.4).
    Imei,
    /// `AT+CIMI` IMSI (27.007 §5.6).
    Imsi,
    /// `AT+CCID` ICCID (vendor, widespread; `+CCID:`, `+ICCID:` or a bare line).
    Iccid,
}

impl AtCommand for Identity {
    type Response = String;
    fn line(&self) -> String {
        match self {
            Identity::Manufacturer => "AT+CGMI",
            Identity::Model => "AT+CGMM",
            Identity::Revision => "AT+CGMR",
            Identity::Imei => "AT+CGSN",
            Identity::Imsi => "AT+CIMI",
            Identity::Iccid => "AT+CCID",
        }
        .to_owned()
    }
    fn expect(&self) -> Expect {
        let mut e = Expect::for_command(&self.line());
        if *self == Identity::Iccid {
            e.prefixes
                .extend(["+ICCID".to_owned(), "^ICCID".to_owned(), "+QCCID".to_owned()]);
        }
        e
    }
    fn timeout(&self) -> TimeoutClass {
        match self {
            Identity::Imsi | Identity::Iccid => TimeoutClass::Sim,
            _ => TimeoutClass::Local,
        }
    }
    fn parse(&self, info: &[String]) -> Result<String, ParseError> {
        let line = info
            .iter()
            .map(|l| l.trim())
            .find(|l| !l.is_empty())
            .ok_or_else(|| err(self, "no answer"))?;
        // `+CGMR: x`, `+CCID: "x"`, `Revision: x` (Sierra): keep the value after the colon when the line
        // has a prefix form.
        let value = match line.split_once(':') {
            Some((head, tail)) if head.starts_with(['+', '^']) || head.eq_ignore_ascii_case("Revision") => {
                tail.trim().trim_matches('"')
            }
            _ => line,
        };
        match self {
            Identity::Imei | Identity::Imsi | Identity::Iccid => {
                let digits = value.trim_end_matches(['F', 'f']);
                if digits.is_empty() || !digits.chars().all(|c| c.is_ascii_digit()) {
                    return Err(err(self, format!("not a number: {value:?}")));
                }
                Ok(digits.to_owned())
            }
            _ => Ok(value.to_owned()),
        }
    }
}

/// `AT+CNUM`: own number(s) stored on the SIM (27.007 §7.1). Often empty.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OwnNumber;

impl AtCommand for OwnNumber {
    type Response = Option<String>;
    fn line(&self) -> String {
        "AT+CNUM".into()
    }
    fn timeout(&self) -> TimeoutClass {
        TimeoutClass::Sim
    }
    fn parse(&self, info: &[String]) -> Result<Option<String>, ParseError> {
        Ok(prefixed(info, "+CNUM").and_then(|f| f.get(1).and_then(Field::non_empty)))
    }
}

/// SIM lock state from `AT+CPIN?` (27.007 §8.3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PinState {
    /// No password needed.
    Ready,
    /// The SIM PIN is needed.
    SimPin,
    /// The SIM is blocked: the PUK is needed (a technician's job).
    SimPuk,
    /// Any other code (`PH-SIM PIN`, `SIM PIN2` ...).
    Other(String),
}

/// `AT+CPIN?`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PinQuery;

impl AtCommand for PinQuery {
    type Response = PinState;
    fn line(&self) -> String {
        "AT+CPIN?".into()
    }
    fn timeout(&self) -> TimeoutClass {
        TimeoutClass::Sim
    }
    fn parse(&self, info: &[String]) -> Result<PinState, ParseError> {
        let fields = prefixed(info, "+CPIN").ok_or_else(|| err(self, "no +CPIN line"))?;
        let code = fields.first().map(|f| f.text.trim()).unwrap_or_default();
        Ok(match code.to_ascii_uppercase().as_str() {
            "READY" => PinState::Ready,
            "SIM PIN" => PinState::SimPin,
            "SIM PUK" => PinState::SimPuk,
            _ => PinState::Other(code.to_owned()),
        })
    }
}

/// Ways modem families tell the remaining SIM PIN attempts. Tried in order until one answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PinRetries {
    /// `AT+CPINR="SIM PIN"` → `+CPINR: SIM PIN,<retries>,<default>` (27.007 §8.65).
    Standard,
    /// Quectel `AT+QPINC="SC"` → `+QPINC: "SC",<pin_counter>,<puk_counter>`.
    Quectel,
    /// SIMCom `AT+SPIC` → `+SPIC: <pin1>,<puk1>,<pin2>,<puk2>`.
    Simcom,
    /// Huawei `AT^CPIN?` → `^CPIN: <code>,[<times>],<puk_times>,<pin_times>,<puk2_times>,<pin2_times>`.
    Huawei,
    /// Telit `AT#PCT` → `#PCT: <n>`.
    Telit,
}

impl PinRetries {
    /// Every known form, most standard first.
    pub const ALL: [PinRetries; 5] = [
        PinRetries::Standard,
        PinRetries::Quectel,
        PinRetries::Simcom,
        PinRetries::Huawei,
        PinRetries::Telit,
    ];
}

impl AtCommand for PinRetries {
    type Response = u8;
    fn line(&self) -> String {
        match self {
            PinRetries::Standard => "AT+CPINR=\"SIM PIN\"",
            PinRetries::Quectel => "AT+QPINC=\"SC\"",
            PinRetries::Simcom => "AT+SPIC",
            PinRetries::Huawei => "AT^CPIN?",
            PinRetries::Telit => "AT#PCT",
        }
        .to_owned()
    }
    fn timeout(&self) -> TimeoutClass {
        TimeoutClass::Sim
    }
    fn parse(&self, info: &[String]) -> Result<u8, ParseError> {
        let (prefix, index) = match self {
            PinRetries::Standard => ("+CPINR", 1),
            PinRetries::Quectel => ("+QPINC", 1),
            PinRetries::Simcom => ("+SPIC", 0),
            PinRetries::Huawei => ("^CPIN", 3),
            PinRetries::Telit => ("#PCT", 0),
        };
        prefixed(info, prefix)
            .and_then(|f| f.get(index).and_then(Field::number))
            .ok_or_else(|| err(self, "no retry counter"))
    }
}

/// `AT+CSQ` → RSSI 0..31 or `None` for 99 "not known" (27.007 §8.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SignalQuality;

/// `+CSQ` RSSI value meaning "not known or not detectable" (27.007 §8.5).
pub const CSQ_RSSI_UNKNOWN: u8 = 99;

impl AtCommand for SignalQuality {
    type Response = Option<u8>;
    fn line(&self) -> String {
        "AT+CSQ".into()
    }
    fn parse(&self, info: &[String]) -> Result<Option<u8>, ParseError> {
        let rssi: u8 = prefixed(info, "+CSQ")
            .and_then(|f| f.first().and_then(Field::number))
            .ok_or_else(|| err(self, "no +CSQ line"))?;
        Ok((rssi != CSQ_RSSI_UNKNOWN).then_some(rssi))
    }
}

/// `AT+CREG?` / `AT+CGREG?` / `AT+CEREG?` → registration stat (27.007 §7.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RegistrationQuery(pub &'static str);

/// `+CREG` stat values (27.007 §7.2).
pub mod reg_stat {
    /// Not registered, not searching.
    pub const NOT_REGISTERED: u8 = 0;
    /// Registered, home network.
    pub const HOME: u8 = 1;
    /// Not registered, searching.
    pub const SEARCHING: u8 = 2;
    /// Registration denied.
    pub const DENIED: u8 = 3;
    /// Registered, roaming.
    pub const ROAMING: u8 = 5;
    /// Registered for "SMS only", home (27.007 §7.2, stat 6).
    pub const SMS_ONLY_HOME: u8 = 6;
    /// Registered for "SMS only", roaming (stat 7).
    pub const SMS_ONLY_ROAMING: u8 = 7;

    /// Whether SMS can be sent in this state.
    pub fn is_registered(stat: u8) -> bool {
        matches!(stat, HOME | ROAMING | SMS_ONLY_HOME | SMS_ONLY_ROAMING)
    }
}

impl AtCommand for RegistrationQuery {
    type Response = u8;
    fn line(&self) -> String {
        format!("AT{}?", self.0)
    }
    fn parse(&self, info: &[String]) -> Result<u8, ParseError> {
        // Solicited form is `<n>,<stat>[,...]`; a URC of the same prefix (`<stat>[,<lac>,<ci>]`) may have
        // been taken for an information line, so prefer lines with the solicited shape.
        let mut best = None;
        for line in info {
            let Some((p, fields)) = params::split_prefixed(line) else {
                continue;
            };
            if !p.eq_ignore_ascii_case(self.0) {
                continue;
            }
            let solicited = fields.len() >= 2 && !fields.get(1).is_some_and(|f| f.quoted);
            let stat = if solicited { fields.get(1) } else { fields.first() }.and_then(Field::number);
            if let Some(stat) = stat {
                if solicited || best.is_none() {
                    best = Some(stat);
                }
            }
        }
        best.ok_or_else(|| err(self, "no registration line"))
    }
}

/// `AT+COPS?` → operator name, `None` when not registered (27.007 §7.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OperatorQuery;

impl AtCommand for OperatorQuery {
    type Response = Option<String>;
    fn line(&self) -> String {
        "AT+COPS?".into()
    }
    fn timeout(&self) -> TimeoutClass {
        TimeoutClass::Network
    }
    fn parse(&self, info: &[String]) -> Result<Option<String>, ParseError> {
        let fields = prefixed(info, "+COPS").ok_or_else(|| err(self, "no +COPS line"))?;
        Ok(fields.get(2).and_then(Field::non_empty))
    }
}

/// `AT+CSCA?` → the SMSC address stored in the SIM/modem (27.005 §3.3.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SmscQuery;

impl AtCommand for SmscQuery {
    type Response = Option<String>;
    fn line(&self) -> String {
        "AT+CSCA?".into()
    }
    fn timeout(&self) -> TimeoutClass {
        TimeoutClass::Sim
    }
    fn parse(&self, info: &[String]) -> Result<Option<String>, ParseError> {
        let fields = prefixed(info, "+CSCA").ok_or_else(|| err(self, "no +CSCA line"))?;
        Ok(fields.first().and_then(Field::non_empty))
    }
}

/// `AT+CSMS?` → whether the modem is in phase 2+ SMS service, where a `+CMT`/`+CDS` routed to the TE must
/// be acknowledged with `+CNMA` (27.005 §3.2.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServiceQuery;

impl AtCommand for ServiceQuery {
    type Response = bool;
    fn line(&self) -> String {
        "AT+CSMS?".into()
    }
    fn parse(&self, info: &[String]) -> Result<bool, ParseError> {
        let service: u8 = prefixed(info, "+CSMS")
            .and_then(|f| f.first().and_then(Field::number))
            .ok_or_else(|| err(self, "no +CSMS line"))?;
        Ok(service == 1)
    }
}

/// Usage of one message memory from `+CPMS` (27.005 §3.2.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct MemoryUsage {
    /// Messages stored.
    pub used: u32,
    /// Capacity.
    pub total: u32,
}

impl MemoryUsage {
    /// Whether no slot is free.
    pub fn is_full(&self) -> bool {
        self.total > 0 && self.used >= self.total
    }
}

/// `AT+CPMS="<mem1>"[,"<mem2>"[,"<mem3>"]]` → usage of the memories set (mem1: read/delete, mem2:
/// write/send, mem3: receive). With no memory given it is the query `AT+CPMS?`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetStorage {
    /// Memories to set, in order; empty for the query.
    pub mems: Vec<String>,
}

impl AtCommand for SetStorage {
    type Response = Vec<MemoryUsage>;
    fn line(&self) -> String {
        if self.mems.is_empty() {
            return "AT+CPMS?".into();
        }
        let quoted: Vec<String> = self.mems.iter().map(|m| format!("\"{m}\"")).collect();
        format!("AT+CPMS={}", quoted.join(","))
    }
    fn timeout(&self) -> TimeoutClass {
        TimeoutClass::Sim
    }
    fn parse(&self, info: &[String]) -> Result<Vec<MemoryUsage>, ParseError> {
        let fields = prefixed(info, "+CPMS").ok_or_else(|| err(self, "no +CPMS line"))?;
        // Set form answers `used1,total1,used2,total2,used3,total3`; some firmwares repeat the memory names.
        let numbers: Vec<u32> = fields
            .iter()
            .filter(|f| !f.quoted)
            .filter_map(Field::number)
            .collect();
        Ok(numbers
            .chunks_exact(2)
            .map(|c| MemoryUsage {
                used: c[0],
                total: c[1],
            })
            .collect())
    }
}

/// `AT+CMGS=<length>` then PDU and CTRL-Z → TP-MR (27.005 §3.5.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SendPdu {
    /// TPDU octets without the SMSC field.
    pub tpdu_len: usize,
}

impl AtCommand for SendPdu {
    type Response = u8;
    fn line(&self) -> String {
        format!("AT+CMGS={}", self.tpdu_len)
    }
    fn timeout(&self) -> TimeoutClass {
        TimeoutClass::Send
    }
    fn parse(&self, info: &[String]) -> Result<u8, ParseError> {
        prefixed(info, "+CMGS")
            .and_then(|f| f.first().and_then(Field::number))
            .ok_or_else(|| err(self, "no +CMGS: <mr> line"))
    }
}

/// A message read from storage in PDU mode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredPdu {
    /// Slot index in the memory.
    pub index: u32,
    /// `<stat>`: 0 received unread, 1 received read, 2 stored unsent, 3 stored sent (27.005 §3.1).
    pub stat: u8,
    /// PDU octets including the SMSC field.
    pub pdu: Vec<u8>,
}

/// `AT+CMGR=<index>` → the message, `None` for an empty slot answered with a bare `OK` (27.005 §3.4.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReadMessage(pub u32);

impl AtCommand for ReadMessage {
    type Response = Option<StoredPdu>;
    fn line(&self) -> String {
        format!("AT+CMGR={}", self.0)
    }
    fn timeout(&self) -> TimeoutClass {
        TimeoutClass::Sim
    }
    fn parse(&self, info: &[String]) -> Result<Option<StoredPdu>, ParseError> {
        let Some(pos) = info.iter().position(|l| l.starts_with("+CMGR:")) else {
            return Ok(None);
        };
        let header = &info[pos];
        let stat = params::split_prefixed(header)
            .and_then(|(_, f)| f.first().and_then(Field::number))
            .ok_or_else(|| err(self, format!("bad header {header:?}")))?;
        let pdu = info
            .get(pos + 1)
            .and_then(|l| hex::decode(l.trim()).ok())
            .ok_or_else(|| err(self, "missing or bad PDU line"))?;
        Ok(Some(StoredPdu {
            index: self.0,
            stat,
            pdu,
        }))
    }
}

/// `AT+CMGL=<stat>` in PDU mode → every stored message of that status; 4 = all (27.005 §3.4.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ListMessages(pub u8);

/// `<stat>` value "all messages" for `AT+CMGL` in PDU mode (27.005 §3.1).
pub const CMGL_ALL: u8 = 4;

impl AtCommand for ListMessages {
    type Response = Vec<StoredPdu>;
    fn line(&self) -> String {
        format!("AT+CMGL={}", self.0)
    }
    fn timeout(&self) -> TimeoutClass {
        TimeoutClass::Sim
    }
    fn parse(&self, info: &[String]) -> Result<Vec<StoredPdu>, ParseError> {
        let mut out = Vec::new();
        let mut lines = info.iter();
        while let Some(line) = lines.next() {
            let Some((prefix, fields)) = params::split_prefixed(line) else {
                continue;
            };
            if prefix != "+CMGL" {
                continue;
            }
            let (Some(index), Some(stat)) = (
                fields.first().and_then(Field::number),
                fields.get(1).and_then(Field::number),
            ) else {
                return Err(err(self, format!("bad header {line:?}")));
            };
            let pdu = lines
                .next()
                .and_then(|l| hex::decode(l.trim()).ok())
                .ok_or_else(|| err(self, format!("missing PDU after {line:?}")))?;
            out.push(StoredPdu { index, stat, pdu });
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(s: &[&str]) -> Vec<String> {
        s.iter().map(|l| l.to_string()).collect()
    }

    #[test]
    fn parses() {
        assert_eq!(SignalQuality.parse(&lines(&["+CSQ: 21,99"])), Ok(Some(21)));
        assert_eq!(SignalQuality.parse(&lines(&["+CSQ: 99,99"])), Ok(None));
        assert!(SignalQuality.parse(&lines(&["junk"])).is_err());
        assert_eq!(RegistrationQuery("+CREG").parse(&lines(&["+CREG: 0,1"])), Ok(1));
        assert_eq!(
            RegistrationQuery("+CREG").parse(&lines(&["+CREG: 2,5,\"00C3\",\"1A2B\",7"])),
            Ok(5)
        );
        assert_eq!(
            RegistrationQuery("+CREG").parse(&lines(&["+CREG: 2", "+CREG: 0,1"])),
            Ok(1)
        );
        assert_eq!(
            OperatorQuery.parse(&lines(&["+COPS: 0,0,\"Plus PL\",7"])),
            Ok(Some("Plus PL".into()))
        );
        assert_eq!(OperatorQuery.parse(&lines(&["+COPS: 0"])), Ok(None));
        assert_eq!(
            Identity::Imei.parse(&lines(&["866758040000001"])),
            Ok("866758040000001".into())
        );
        assert_eq!(
            Identity::Imei.parse(&lines(&["+CGSN: 866758040000001"])),
            Ok("866758040000001".into())
        );
        assert_eq!(
            Identity::Iccid.parse(&lines(&["+CCID: \"8948010000000000001F\""])),
            Ok("8948010000000000001".into())
        );
        assert_eq!(
            Identity::Iccid.parse(&lines(&["^ICCID: 8948010000000000001"])),
            Ok("8948010000000000001".into())
        );
        assert_eq!(
            Identity::Revision.parse(&lines(&["Revision: EC25EFAR06A03M4G"])),
            Ok("EC25EFAR06A03M4G".into())
        );
        assert_eq!(
            Identity::Manufacturer.parse(&lines(&["Quectel"])),
            Ok("Quectel".into())
        );
        assert!(Identity::Imsi.parse(&lines(&["ERROR-ish"])).is_err());
        assert_eq!(
            OwnNumber.parse(&lines(&["+CNUM: \"\",\"+48600100200\",145"])),
            Ok(Some("+48600100200".into()))
        );
        assert_eq!(OwnNumber.parse(&lines(&[])), Ok(None));
        assert_eq!(PinQuery.parse(&lines(&["+CPIN: SIM PIN"])), Ok(PinState::SimPin));
        assert_eq!(PinQuery.parse(&lines(&["+CPIN: READY"])), Ok(PinState::Ready));
        assert_eq!(
            PinRetries::Standard.parse(&lines(&["+CPINR: SIM PIN,3,3"])),
            Ok(3)
        );
        assert_eq!(PinRetries::Quectel.parse(&lines(&["+QPINC: \"SC\",2,10"])), Ok(2));
        assert_eq!(PinRetries::Simcom.parse(&lines(&["+SPIC: 1,10,3,10"])), Ok(1));
        assert_eq!(
            PinRetries::Huawei.parse(&lines(&["^CPIN: SIM PIN,3,10,3,10,3"])),
            Ok(3)
        );
        assert_eq!(PinRetries::Telit.parse(&lines(&["#PCT: 3"])), Ok(3));
        assert_eq!(
            SmscQuery.parse(&lines(&["+CSCA: \"+48601000310\",145"])),
            Ok(Some("+48601000310".into()))
        );
        assert_eq!(ServiceQuery.parse(&lines(&["+CSMS: 1,1,1,1"])), Ok(true));
        assert_eq!(
            SetStorage {
                mems: vec!["SM".into(), "SM".into(), "SM".into()]
            }
            .parse(&lines(&["+CPMS: 2,30,2,30,30,30"])),
            Ok(vec![
                MemoryUsage { used: 2, total: 30 },
                MemoryUsage { used: 2, total: 30 },
                MemoryUsage { used: 30, total: 30 }
            ])
        );
        assert_eq!(SendPdu { tpdu_len: 23 }.parse(&lines(&["+CMGS: 42"])), Ok(42));
        assert_eq!(ReadMessage(3).parse(&lines(&[])), Ok(None));
        assert_eq!(
            ReadMessage(3).parse(&lines(&["+CMGR: 0,,3", "00AABB"])),
            Ok(Some(StoredPdu {
                index: 3,
                stat: 0,
                pdu: vec![0, 0xaa, 0xbb]
            }))
        );
        assert_eq!(
            ListMessages(4).parse(&lines(&["+CMGL: 1,0,,3", "00AABB", "+CMGL: 7,1,,1", "01"])),
            Ok(vec![
                StoredPdu {
                    index: 1,
                    stat: 0,
                    pdu: vec![0, 0xaa, 0xbb]
                },
                StoredPdu {
                    index: 7,
                    stat: 1,
                    pdu: vec![1]
                }
            ])
        );
        assert!(ListMessages(4).parse(&lines(&["+CMGL: 1,0,,3"])).is_err());
    }

    #[test]
    fn secrets_are_flagged() {
        assert!(Simple::enter_pin("1234").is_secret());
        assert!(!Simple::attention().is_secret());
        assert_eq!(Simple::ussd("*100#").line(), "AT+CUSD=1,\"*100#\",15");
        assert!(Simple::ussd("*100#").expect().prefixes.is_empty());
    }
}
