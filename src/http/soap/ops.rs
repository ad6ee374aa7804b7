//! The operations of the service: each wrapper element of the XSD read into a typed [`Request`] (every
//! value checked, a bad one reported as a validation fault naming its element), and each typed
//! [`Response`] written as the matching `…Response` element, in the XSD's element order.
//!
//! Field paths in faults are the element names below the operation element; repeated elements carry a
//! zero-based index (`recipient[2]`), as the REST API's JSON paths do.
use std::time::Duration;

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::TNS;
use super::fault::{Fault, FaultCode};
use super::writer::Payload;
use super::xml::Element;

/// XML Schema instance namespace, for `xsi:nil` (XML Schema part 1 §2.6.2).
const XSI_NS: &str = "http://www.w3.org/2001/XMLSchema-instance";
/// Most ids in one DeleteInbox (the XSD's `maxOccurs`).
pub const MAX_DELETE_IDS: usize = 1000;
/// Largest page of ListMessages / GetInbox (the XSD's `PageSize`).
pub const MAX_PAGE_SIZE: u32 = 1000;
/// Longest group name, cursor or USSD code (the XSD's `Token`).
const MAX_TOKEN_LEN: usize = 128;
// Recipients per SendSms, priority bounds, clientReference and idempotencyKey lengths are the
// application's (the same as REST's); the XSD states them too and `tests/soap_contract.rs` keeps the two
// equal.
pub use crate::app::{MAX_CLIENT_REF, MAX_IDEMPOTENCY_KEY, MAX_RECIPIENTS, PRIORITY_RANGE};

/// The operations, in WSDL order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Operation {
    /// Queue SMS to one or many recipients.
    SendSms,
    /// One outgoing message.
    GetMessageStatus,
    /// Page through outgoing messages.
    ListMessages,
    /// Cancel a message not sent yet.
    CancelMessage,
    /// Page through received messages.
    GetInbox,
    /// Delete received messages.
    DeleteInbox,
    /// The modems and their state.
    ListModems,
    /// A USSD code through one modem.
    SendUssd,
    /// The authenticated account.
    GetAccountInfo,
    /// Ask for an account's data to be deleted.
    RequestAccountDeletion,
    /// An account's pending deletion request.
    GetAccountDeletion,
    /// Withdraw an account's pending deletion request.
    CancelAccountDeletion,
}

impl Operation {
    /// Every operation, in WSDL order.
    pub const ALL: [Operation; 12] = [
        Operation::SendSms,
        Operation::GetMessageStatus,
        Operation::ListMessages,
        Operation::CancelMessage,
        Operation::GetInbox,
        Operation::DeleteInbox,
        Operation::ListModems,
        Operation::SendUssd,
        Operation::GetAccountInfo,
        Operation::RequestAccountDeletion,
        Operation::GetAccountDeletion,
        Operation::CancelAccountDeletion,
    ];

    /// The operation name, which is also the request wrapper element's local name.
    pub fn name(self) -> &'static str {
        match self {
            Operation::SendSms => "SendSms",
            Operation::GetMessageStatus => "GetMessageStatus",
            Operation::ListMessages => "ListMessages",
            Operation::CancelMessage => "CancelMessage",
            Operation::GetInbox => "GetInbox",
            Operation::DeleteInbox => "DeleteInbox",
            Operation::ListModems => "ListModems",
            Operation::SendUssd => "SendUssd",
            Operation::GetAccountInfo => "GetAccountInfo",
            Operation::RequestAccountDeletion => "RequestAccountDeletion",
            Operation::GetAccountDeletion => "GetAccountDeletion",
            Operation::CancelAccountDeletion => "CancelAccountDeletion",
        }
    }

    /// The operation whose request element has this local name.
    pub fn from_name(name: &str) -> Option<Operation> {
        Operation::ALL.into_iter().find(|op| op.name() == name)
    }

    /// The `soapAction` the WSDL declares for the operation.
    pub fn action(self) -> String {
        format!("{TNS}#{}", self.name())
    }

    /// The response wrapper element's local name.
    pub fn response_name(self) -> String {
        format!("{}Response", self.name())
    }
}

/// The encoding policy of SendSms (XSD `EncodingPolicy`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EncodingPolicy {
    /// GSM 7-bit when the text fits, else UCS-2.
    Auto,
    /// GSM 7-bit only; text that needs UCS-2 is refused.
    Gsm7,
    /// Always UCS-2.
    Ucs2,
    /// GSM 7-bit with look-alikes for characters outside it.
    Gsm7Transliterate,
}

/// A SendSms request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendSms {
    /// The message text.
    pub text: String,
    /// One or more recipients.
    pub recipients: Vec<String>,
    /// Routing group of modems to send through.
    pub group: Option<String>,
    /// Encoding policy.
    pub encoding: Option<EncodingPolicy>,
    /// Priority (higher first).
    pub priority: Option<i32>,
    /// Do not send before this time.
    pub send_at: Option<OffsetDateTime>,
    /// Give up when not sent within this time.
    pub validity: Option<Duration>,
    /// Ask the network for a delivery report.
    pub delivery_report: Option<bool>,
    /// The client's own reference, echoed back.
    pub client_reference: Option<String>,
    /// Makes retries of the same request safe.
    pub idempotency_key: Option<String>,
}

/// Paging parameters.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Page {
    /// Page size.
    pub limit: Option<u32>,
    /// Cursor from the previous page's `nextCursor`.
    pub cursor: Option<String>,
}

/// A request, read from its wrapper element.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    /// SendSms.
    SendSms(SendSms),
    /// GetMessageStatus.
    GetMessageStatus {
        /// Message id.
        id: String,
    },
    /// ListMessages.
    ListMessages {
        /// Only messages in this status (an XSD `MessageStatus` value).
        status: Option<String>,
        /// Only messages to this recipient.
        recipient: Option<String>,
        /// Only messages with this client reference.
        client_reference: Option<String>,
        /// Paging.
        page: Page,
    },
    /// CancelMessage.
    CancelMessage {
        /// Message id.
        id: String,
    },
    /// GetInbox.
    GetInbox {
        /// Only messages from this originator.
        originator: Option<String>,
        /// Paging.
        page: Page,
    },
    /// DeleteInbox.
    DeleteInbox {
        /// Inbox item ids.
        ids: Vec<String>,
    },
    /// ListModems.
    ListModems,
    /// SendUssd.
    SendUssd {
        /// Modem id.
        modem: String,
        /// USSD code such as `*100#`.
        code: String,
    },
    /// GetAccountInfo.
    GetAccountInfo,
    /// RequestAccountDeletion.
    RequestAccountDeletion {
        /// Account whose data goes; `None` for the caller's own.
        account_id: Option<i64>,
    },
    /// GetAccountDeletion.
    GetAccountDeletion {
        /// Account asked about; `None` for the caller's own.
        account_id: Option<i64>,
    },
    /// CancelAccountDeletion.
    CancelAccountDeletion {
        /// Account whose request is withdrawn; `None` for the caller's own.
        account_id: Option<i64>,
    },
}

/// The message statuses of the XSD's `MessageStatus`.
pub const MESSAGE_STATUSES: [&str; 8] = [
    "queued",
    "sending",
    "sent",
    "delivered",
    "failed",
    "expired",
    "cancelled",
    "uncertain",
];

/// The XSD's `DeletionStatus`: a RequestAccountDeletion that waits for the grace period, or one carried
/// out at once (the same words as REST's `status`).
pub const DELETION_STATUSES: [&str; 2] = [DELETION_SCHEDULED, DELETION_ERASED];
const DELETION_SCHEDULED: &str = "scheduled";
const DELETION_ERASED: &str = "erased";
/// The XSD's `PendingDeletionStatus`: whether GetAccountDeletion found a pending request.
pub const PENDING_DELETION_STATUSES: [&str; 2] = [DELETION_NONE, DELETION_PENDING];
const DELETION_NONE: &str = "none";
const DELETION_PENDING: &str = "pending";

/// Reads the request carried by a Body payload element.
pub fn parse_request(payload: &Element) -> Result<(Operation, Request), Fault> {
    let op = match payload.ns.as_deref() {
        Some(TNS) => Operation::from_name(&payload.local),
        _ => None,
    }
    .ok_or_else(|| {
        Fault::new(
            FaultCode::UnsupportedOperation,
            format!("no operation {} in namespace {TNS}", payload.qualified_name()),
        )
    })?;
    if !payload.text.trim().is_empty() {
        return Err(Fault::malformed(format!(
            "{} must not contain character data",
            op.name()
        )));
    }
    let request = match op {
        Operation::SendSms => {
            let f = Fields::read(
                payload,
                &[
                    ("text", 1),
                    ("recipient", MAX_RECIPIENTS),
                    ("group", 1),
                    ("encoding", 1),
                    ("priority", 1),
                    ("sendAt", 1),
                    ("validity", 1),
                    ("deliveryReport", 1),
                    ("clientReference", 1),
                    ("idempotencyKey", 1),
                ],
            )?;
            let text = f.required("text")?.text.clone().replace("\r\n", "\n");
            if text.is_empty() {
                return Err(Fault::validation("text", "must not be empty"));
            }
            let recipients = f.many_required("recipient")?;
            Request::SendSms(SendSms {
                text,
                recipients,
                group: f.opt_string("group", MAX_TOKEN_LEN)?,
                encoding: f.opt_parsed("encoding", parse_encoding)?,
                priority: f.opt_parsed("priority", parse_priority)?,
                send_at: f.opt_parsed("sendAt", parse_date_time)?,
                validity: f.opt_parsed("validity", parse_duration)?,
                delivery_report: f.opt_parsed("deliveryReport", parse_bool)?,
                client_reference: f.opt_string("clientReference", MAX_CLIENT_REF)?,
                idempotency_key: f.opt_parsed("idempotencyKey", parse_idempotency_key)?,
            })
        }
        Operation::GetMessageStatus | Operation::CancelMessage => {
            let f = Fields::read(payload, &[("id", 1)])?;
            let id = f.required_string("id")?;
            if op == Operation::CancelMessage {
                Request::CancelMessage { id }
            } else {
                Request::GetMessageStatus { id }
            }
        }
        Operation::ListMessages => {
            let f = Fields::read(
                payload,
                &[
                    ("status", 1),
                    ("recipient", 1),
                    ("clientReference", 1),
                    ("limit", 1),
                    ("cursor", 1),
                ],
            )?;
            Request::ListMessages {
                status: f.opt_parsed("status", parse_status)?,
                recipient: f.opt_string("recipient", MAX_TOKEN_LEN)?,
                client_reference: f.opt_string("clientReference", MAX_CLIENT_REF)?,
                page: f.page()?,
            }
        }
        Operation::GetInbox => {
            let f = Fields::read(payload, &[("originator", 1), ("limit", 1), ("cursor", 1)])?;
            Request::GetInbox {
                originator: f.opt_string("originator", MAX_TOKEN_LEN)?,
                page: f.page()?,
            }
        }
        Operation::DeleteInbox => {
            let f = Fields::read(payload, &[("id", MAX_DELETE_IDS)])?;
            Request::DeleteInbox {
                ids: f.many_required("id")?,
            }
        }
        Operation::ListModems => {
            Fields::read(payload, &[])?;
            Request::ListModems
        }
        Operation::SendUssd => {
            let f = Fields::read(payload, &[("modem", 1), ("code", 1)])?;
            let code = f.required_string("code")?;
            if code.len() > MAX_TOKEN_LEN {
                return Err(Fault::validation(
                    "code",
                    format!("must be at most {MAX_TOKEN_LEN} characters"),
                ));
            }
            Request::SendUssd {
                modem: f.required_string("modem")?,
                code,
            }
        }
        Operation::GetAccountInfo => {
            Fields::read(payload, &[])?;
            Request::GetAccountInfo
        }
        Operation::RequestAccountDeletion
        | Operation::GetAccountDeletion
        | Operation::CancelAccountDeletion => {
            let f = Fields::read(payload, &[("accountId", 1)])?;
            let account_id = f.opt_parsed("accountId", parse_account_id)?;
            match op {
                Operation::RequestAccountDeletion => Request::RequestAccountDeletion { account_id },
                Operation::GetAccountDeletion => Request::GetAccountDeletion { account_id },
                _ => Request::CancelAccountDeletion { account_id },
            }
        }
    };
    Ok((op, request))
}

/// The child elements of an operation element, grouped by name after checking that each is known,
/// in the service namespace, and not repeated beyond its `maxOccurs`.
struct Fields<'a> {
    found: Vec<(&'static str, Vec<&'a Element>)>,
}

impl<'a> Fields<'a> {
    fn read(payload: &'a Element, allowed: &[(&'static str, usize)]) -> Result<Fields<'a>, Fault> {
        let mut found: Vec<(&'static str, Vec<&'a Element>)> =
            allowed.iter().map(|(name, _)| (*name, Vec::new())).collect();
        for child in &payload.children {
            let slot = match child.ns.as_deref() {
                Some(TNS) => allowed.iter().position(|(name, _)| *name == child.local),
                _ => None,
            };
            let Some(slot) = slot else {
                let hint = if child.ns.as_deref() != Some(TNS) {
                    format!(" (elements must be in namespace {TNS})")
                } else {
                    String::new()
                };
                return Err(Fault::validation(
                    child.local.clone(),
                    format!(
                        "unexpected element {} in {}{hint}",
                        child.qualified_name(),
                        payload.local
                    ),
                ));
            };
            let (name, max) = allowed[slot];
            let entries = &mut found[slot].1;
            if entries.len() == max {
                return Err(Fault::validation(
                    name,
                    if max == 1 {
                        "may appear only once".to_owned()
                    } else {
                        format!("may appear at most {max} times")
                    },
                ));
            }
            // xsi:nil="true" means "no value": treat it as absent.
            let nil = child
                .attr(Some(XSI_NS), "nil")
                .is_some_and(|v| matches!(v.trim(), "true" | "1"));
            if !nil {
                if !child.children.is_empty() {
                    return Err(Fault::validation(
                        name,
                        "must be a simple value, not contain elements",
                    ));
                }
                entries.push(child);
            }
        }
        Ok(Fields { found })
    }

    fn all(&self, name: &str) -> &[&'a Element] {
        self.found
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_slice())
            .unwrap_or(&[])
    }

    fn required(&self, name: &'static str) -> Result<&'a Element, Fault> {
        self.all(name)
            .first()
            .copied()
            .ok_or_else(|| Fault::validation(name, "is required"))
    }

    fn required_string(&self, name: &'static str) -> Result<String, Fault> {
        let value = self.required(name)?.text.trim();
        if value.is_empty() {
            return Err(Fault::validation(name, "must not be empty"));
        }
        Ok(value.to_owned())
    }

    /// All values of a repeated element, at least one, each non-empty.
    fn many_required(&self, name: &'static str) -> Result<Vec<String>, Fault> {
        let all = self.all(name);
        if all.is_empty() {
            return Err(Fault::validation(name, "at least one is required"));
        }
        all.iter()
            .enumerate()
            .map(|(i, e)| {
                let value = e.text.trim();
                if value.is_empty() {
                    Err(Fault::validation(format!("{name}[{i}]"), "must not be empty"))
                } else {
                    Ok(value.to_owned())
                }
            })
            .collect()
    }

    fn opt_string(&self, name: &'static str, max_len: usize) -> Result<Option<String>, Fault> {
        self.opt_parsed(name, |v| {
            if v.chars().count() > max_len {
                Err(format!("must be at most {max_len} characters"))
            } else {
                Ok(v.to_owned())
            }
        })
    }

    fn opt_parsed<T>(
        &self,
        name: &'static str,
        parse: impl Fn(&str) -> Result<T, String>,
    ) -> Result<Option<T>, Fault> {
        match self.all(name).first() {
            None => Ok(None),
            Some(e) => {
                let value = e.text.trim();
                if value.is_empty() {
                    return Err(Fault::validation(name, "must not be empty"));
                }
                parse(value)
                    .map(Some)
                    .map_err(|message| Fault::validation(name, message))
            }
        }
    }

    fn page(&self) -> Result<Page, Fault> {
        Ok(Page {
            limit: self.opt_parsed("limit", parse_page_size)?,
            cursor: self.opt_string("cursor", MAX_TOKEN_LEN * 4)?,
        })
    }
}

fn parse_encoding(v: &str) -> Result<EncodingPolicy, String> {
    match v {
        "auto" => Ok(EncodingPolicy::Auto),
        "gsm7" => Ok(EncodingPolicy::Gsm7),
        "ucs2" => Ok(EncodingPolicy::Ucs2),
        "gsm7-transliterate" => Ok(EncodingPolicy::Gsm7Transliterate),
        _ => Err("must be one of auto, gsm7, ucs2, gsm7-transliterate".into()),
    }
}

fn parse_idempotency_key(v: &str) -> Result<String, String> {
    if v.len() > MAX_IDEMPOTENCY_KEY || !v.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(format!(
            "must be 1 to {MAX_IDEMPOTENCY_KEY} printable ASCII characters without spaces"
        ));
    }
    Ok(v.to_owned())
}

fn parse_priority(v: &str) -> Result<i32, String> {
    v.parse::<i32>()
        .ok()
        .filter(|p| PRIORITY_RANGE.contains(p))
        .ok_or_else(|| {
            format!(
                "must be an integer from {} to {}",
                PRIORITY_RANGE.start(),
                PRIORITY_RANGE.end()
            )
        })
}

/// `xs:long` (XML Schema part 2 §3.3.16) naming an account.
fn parse_account_id(v: &str) -> Result<i64, String> {
    v.parse::<i64>()
        .map_err(|_| "must be an account id (an integer)".to_owned())
}

fn parse_page_size(v: &str) -> Result<u32, String> {
    v.parse::<u32>()
        .ok()
        .filter(|n| (1..=MAX_PAGE_SIZE).contains(n))
        .ok_or_else(|| format!("must be an integer from 1 to {MAX_PAGE_SIZE}"))
}

fn parse_status(v: &str) -> Result<String, String> {
    if MESSAGE_STATUSES.contains(&v) {
        Ok(v.to_owned())
    } else {
        Err(format!("must be one of {}", MESSAGE_STATUSES.join(", ")))
    }
}

/// `xs:boolean` (XML Schema part 2 §3.2.2.1): true, false, 1, 0.
pub fn parse_bool(v: &str) -> Result<bool, String> {
    match v {
        "true" | "1" => Ok(true),
        "false" | "0" => Ok(false),
        _ => Err("must be true or false".into()),
    }
}

/// `xs:dateTime` with a time zone (XML Schema part 2 §3.2.7). A time without zone is refused: the
/// gateway cannot guess which local time the client meant.
pub fn parse_date_time(v: &str) -> Result<OffsetDateTime, String> {
    OffsetDateTime::parse(v, &Rfc3339)
        .map_err(|_| "must be a date and time with a time zone, e.g. 2026-11-25T08:00:00Z".to_owned())
}

/// `xs:duration` (XML Schema part 2 §3.2.6) in days, hours, minutes and (fractional) seconds, e.g.
/// `PT30M`, `P1DT12H`. Years and months are refused: their length in seconds depends on the calendar.
pub fn parse_duration(v: &str) -> Result<Duration, String> {
    const SECONDS_PER_MINUTE: u64 = 60;
    const SECONDS_PER_HOUR: u64 = 3600;
    const SECONDS_PER_DAY: u64 = 86_400;
    let bad = || "must be an xs:duration such as PT30M or P1DT12H".to_owned();
    if v.starts_with('-') {
        return Err("must not be negative".into());
    }
    let rest = v.strip_prefix('P').ok_or_else(bad)?;
    let (date, time) = match rest.split_once('T') {
        Some((_, "")) => return Err(bad()),
        Some((date, time)) => (date, Some(time)),
        None => (rest, None),
    };
    if date.is_empty() && time.is_none() {
        return Err(bad());
    }
    let mut total = Duration::ZERO;
    let mut add = |amount: Duration| -> Result<(), String> {
        total = total.checked_add(amount).ok_or_else(bad)?;
        Ok(())
    };
    for (number, designator) in components(date).ok_or_else(bad)? {
        match designator {
            'D' => add(Duration::from_secs(
                whole(number)?.checked_mul(SECONDS_PER_DAY).ok_or_else(bad)?,
            ))?,
            'Y' | 'M' => {
                return Err("years and months are not allowed (use days, e.g. P30D)".into());
            }
            _ => return Err(bad()),
        }
    }
    let mut last_rank = 0;
    for (number, designator) in components(time.unwrap_or("")).ok_or_else(bad)? {
        let (rank, unit) = match designator {
            'H' => (1, SECONDS_PER_HOUR),
            'M' => (2, SECONDS_PER_MINUTE),
            'S' => (3, 1),
            _ => return Err(bad()),
        };
        if rank <= last_rank {
            return Err(bad());
        }
        last_rank = rank;
        if designator == 'S' {
            let seconds: f64 = number.parse().map_err(|_| bad())?;
            add(Duration::try_from_secs_f64(seconds).map_err(|_| bad())?)?;
        } else {
            add(Duration::from_secs(
                whole(number)?.checked_mul(unit).ok_or_else(bad)?,
            ))?;
        }
    }
    Ok(total)
}

fn whole(number: &str) -> Result<u64, String> {
    number
        .parse::<u64>()
        .map_err(|_| "must be an xs:duration such as PT30M or P1DT12H".to_owned())
}

/// Splits `12H30M` into `[("12", 'H'), ("30", 'M')]`; `None` when a number or designator is missing.
fn components(s: &str) -> Option<Vec<(&str, char)>> {
    let mut out = Vec::new();
    let mut start = 0;
    for (i, c) in s.char_indices() {
        if c.is_ascii_alphabetic() {
            let number = &s[start..i];
            if number.is_empty() || !number.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
                return None;
            }
            out.push((number, c));
            start = i + c.len_utf8();
        }
    }
    (start == s.len()).then_some(out)
}

/// An outgoing message as the XSD's `Message` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MessageView {
    /// Message id.
    pub id: String,
    /// Recipient number.
    pub recipient: String,
    /// Status (an XSD `MessageStatus` value).
    pub status: String,
    /// The text.
    pub text: Option<String>,
    /// Routing group.
    pub group: Option<String>,
    /// Encoding used (gsm7 / ucs2).
    pub encoding: Option<String>,
    /// Number of SMS parts.
    pub parts: Option<u32>,
    /// Send attempts so far.
    pub attempts: Option<u32>,
    /// Priority.
    pub priority: Option<i32>,
    /// Whether a delivery report was requested.
    pub delivery_report: Option<bool>,
    /// The client's reference.
    pub client_reference: Option<String>,
    /// Modem that sent it.
    pub modem: Option<String>,
    /// Last error, when failed.
    pub error: Option<String>,
    /// When it was accepted.
    pub created_at: Option<OffsetDateTime>,
    /// Scheduled time.
    pub send_at: Option<OffsetDateTime>,
    /// End of validity.
    pub valid_until: Option<OffsetDateTime>,
    /// Last change.
    pub updated_at: Option<OffsetDateTime>,
}

/// A received message as the XSD's `InboxMessage` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct InboxView {
    /// Inbox item id.
    pub id: String,
    /// Sender number.
    pub originator: String,
    /// Text (concatenated parts).
    pub text: String,
    /// Modem that received it.
    pub modem: Option<String>,
    /// When it was received.
    pub received_at: Option<OffsetDateTime>,
    /// Number of parts.
    pub parts: Option<u32>,
    /// False when parts are still missing.
    pub complete: Option<bool>,
}

/// A modem as the XSD's `Modem` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ModemView {
    /// Modem id.
    pub id: String,
    /// Display name.
    pub name: Option<String>,
    /// State word.
    pub state: String,
    /// Routing group.
    pub group: Option<String>,
    /// Network operator.
    pub operator: Option<String>,
    /// Signal in dBm.
    pub signal: Option<i32>,
    /// SMS parts sent.
    pub sent_parts: Option<u64>,
    /// SMS received.
    pub received: Option<u64>,
    /// Errors counted.
    pub errors: Option<u64>,
}

/// The account as the XSD's `Account` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AccountView {
    /// Account id.
    pub id: i64,
    /// Login.
    pub login: String,
    /// Role (admin, technician, client).
    pub role: String,
}

/// What RequestAccountDeletion answers (the XSD's `DeletionStatus` and the recorded request).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeletionAcceptedView {
    /// True when the data is already gone (`erased`), false when it goes at `execute_after` (`scheduled`).
    pub erased: bool,
    /// The account.
    pub account_id: i64,
    /// When the request was recorded.
    pub requested_at: OffsetDateTime,
    /// When the erasure runs (equal to `requested_at` without a grace period).
    pub execute_after: OffsetDateTime,
}

/// A pending deletion request as GetAccountDeletion shows it (status `pending`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingDeletionView {
    /// When the request was recorded.
    pub requested_at: OffsetDateTime,
    /// Login of who asked.
    pub requested_by: Option<String>,
    /// Address the request came from.
    pub source_ip: Option<String>,
    /// When the erasure runs; until then it can be cancelled.
    pub execute_after: OffsetDateTime,
}

/// A response, written as the operation's `…Response` element.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Response {
    /// SendSms: one message per recipient.
    SendSms(Vec<MessageView>),
    /// GetMessageStatus.
    GetMessageStatus(MessageView),
    /// ListMessages.
    ListMessages {
        /// The page.
        messages: Vec<MessageView>,
        /// Cursor of the next page; `None` on the last.
        next_cursor: Option<String>,
    },
    /// CancelMessage: the message after cancelling.
    CancelMessage(MessageView),
    /// GetInbox.
    GetInbox {
        /// The page.
        items: Vec<InboxView>,
        /// Cursor of the next page; `None` on the last.
        next_cursor: Option<String>,
    },
    /// DeleteInbox: how many were deleted.
    DeleteInbox {
        /// Count.
        deleted: u32,
    },
    /// ListModems.
    ListModems(Vec<ModemView>),
    /// SendUssd.
    SendUssd {
        /// The network's answer.
        reply: String,
        /// Whether the network expects a further answer.
        session_open: Option<bool>,
    },
    /// GetAccountInfo.
    GetAccountInfo(AccountView),
    /// RequestAccountDeletion.
    RequestAccountDeletion(DeletionAcceptedView),
    /// GetAccountDeletion: status `none` when `pending` is `None`.
    GetAccountDeletion {
        /// The account asked about.
        account_id: i64,
        /// The pending request, if any.
        pending: Option<PendingDeletionView>,
    },
    /// CancelAccountDeletion.
    CancelAccountDeletion {
        /// The account whose request was withdrawn.
        account_id: i64,
    },
}

impl Response {
    /// The operation this response answers.
    pub fn operation(&self) -> Operation {
        match self {
            Response::SendSms(_) => Operation::SendSms,
            Response::GetMessageStatus(_) => Operation::GetMessageStatus,
            Response::ListMessages { .. } => Operation::ListMessages,
            Response::CancelMessage(_) => Operation::CancelMessage,
            Response::GetInbox { .. } => Operation::GetInbox,
            Response::DeleteInbox { .. } => Operation::DeleteInbox,
            Response::ListModems(_) => Operation::ListModems,
            Response::SendUssd { .. } => Operation::SendUssd,
            Response::GetAccountInfo(_) => Operation::GetAccountInfo,
            Response::RequestAccountDeletion(_) => Operation::RequestAccountDeletion,
            Response::GetAccountDeletion { .. } => Operation::GetAccountDeletion,
            Response::CancelAccountDeletion { .. } => Operation::CancelAccountDeletion,
        }
    }

    /// The response element (the Body's child).
    pub fn to_payload(&self) -> String {
        let root = self.operation().response_name();
        let mut p = Payload::new(&root);
        match self {
            Response::SendSms(messages) => {
                for m in messages {
                    write_message(&mut p, "message", m);
                }
            }
            Response::GetMessageStatus(m) | Response::CancelMessage(m) => {
                write_message(&mut p, "message", m);
            }
            Response::ListMessages {
                messages,
                next_cursor,
            } => {
                for m in messages {
                    write_message(&mut p, "message", m);
                }
                p.opt_leaf("nextCursor", next_cursor.as_deref());
            }
            Response::GetInbox { items, next_cursor } => {
                for item in items {
                    p.open("item")
                        .leaf("id", &item.id)
                        .leaf("originator", &item.originator)
                        .leaf("text", &item.text)
                        .opt_leaf("modem", item.modem.as_deref())
                        .opt_leaf("receivedAt", item.received_at.map(DateTime))
                        .opt_leaf("parts", item.parts)
                        .opt_leaf("complete", item.complete)
                        .close("item");
                }
                p.opt_leaf("nextCursor", next_cursor.as_deref());
            }
            Response::DeleteInbox { deleted } => {
                p.leaf("deleted", deleted);
            }
            Response::ListModems(modems) => {
                for m in modems {
                    p.open("modem")
                        .leaf("id", &m.id)
                        .opt_leaf("name", m.name.as_deref())
                        .leaf("state", &m.state)
                        .opt_leaf("group", m.group.as_deref())
                        .opt_leaf("operator", m.operator.as_deref())
                        .opt_leaf("signal", m.signal)
                        .opt_leaf("sentParts", m.sent_parts)
                        .opt_leaf("received", m.received)
                        .opt_leaf("errors", m.errors)
                        .close("modem");
                }
            }
            Response::SendUssd { reply, session_open } => {
                p.leaf("reply", reply).opt_leaf("sessionOpen", *session_open);
            }
            Response::GetAccountInfo(a) => {
                p.open("account")
                    .leaf("id", a.id)
                    .leaf("login", &a.login)
                    .leaf("role", &a.role)
                    .close("account");
            }
            Response::RequestAccountDeletion(a) => {
                p.leaf(
                    "status",
                    if a.erased {
                        DELETION_ERASED
                    } else {
                        DELETION_SCHEDULED
                    },
                )
                .leaf("accountId", a.account_id)
                .leaf("requestedAt", DateTime(a.requested_at))
                .leaf("executeAfter", DateTime(a.execute_after));
            }
            Response::GetAccountDeletion { account_id, pending } => {
                p.leaf(
                    "status",
                    if pending.is_some() {
                        DELETION_PENDING
                    } else {
                        DELETION_NONE
                    },
                )
                .leaf("accountId", account_id);
                if let Some(r) = pending {
                    p.leaf("requestedAt", DateTime(r.requested_at))
                        .opt_leaf("requestedBy", r.requested_by.as_deref())
                        .opt_leaf("sourceIp", r.source_ip.as_deref())
                        .leaf("executeAfter", DateTime(r.execute_after));
                }
            }
            Response::CancelAccountDeletion { account_id } => {
                p.leaf("accountId", account_id);
            }
        }
        p.finish(&root)
    }
}

fn write_message(p: &mut Payload, name: &str, m: &MessageView) {
    p.open(name)
        .leaf("id", &m.id)
        .leaf("recipient", &m.recipient)
        .leaf("status", &m.status)
        .opt_leaf("text", m.text.as_deref())
        .opt_leaf("group", m.group.as_deref())
        .opt_leaf("encoding", m.encoding.as_deref())
        .opt_leaf("parts", m.parts)
        .opt_leaf("attempts", m.attempts)
        .opt_leaf("priority", m.priority)
        .opt_leaf("deliveryReport", m.delivery_report)
        .opt_leaf("clientReference", m.client_reference.as_deref())
        .opt_leaf("modem", m.modem.as_deref())
        .opt_leaf("error", m.error.as_deref())
        .opt_leaf("createdAt", m.created_at.map(DateTime))
        .opt_leaf("sendAt", m.send_at.map(DateTime))
        .opt_leaf("validUntil", m.valid_until.map(DateTime))
        .opt_leaf("updatedAt", m.updated_at.map(DateTime))
        .close(name);
}

/// Writes an `xs:dateTime` in UTC (RFC 3339 is a profile of it).
struct DateTime(OffsetDateTime);

impl std::fmt::Display for DateTime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let utc = self.0.to_offset(time::UtcOffset::UTC);
        match utc.format(&Rfc3339) {
            Ok(s) => f.write_str(&s),
            Err(_) => Err(std::fmt::Error),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::xml::{Limits, parse};
    use super::*;

    fn request(body: &str) -> Result<(Operation, Request), Fault> {
        let doc = match parse(body.as_bytes(), &Limits::SOAP) {
            Ok(d) => d,
            Err(e) => panic!("{body}: {e}"),
        };
        parse_request(&doc)
    }

    fn ok(body: &str) -> Request {
        match request(body) {
            Ok((_, r)) => r,
            Err(f) => panic!("{body}: {f:?}"),
        }
    }

    fn t(s: &str) -> OffsetDateTime {
        match OffsetDateTime::parse(s, &Rfc3339) {
            Ok(t) => t,
            Err(e) => panic!("{s}: {e}"),
        }
    }

    #[test]
    fn send_sms_with_every_option() {
        let got = ok(r#"<s:SendSms xmlns:s="urn:smsgate:soap:v1">
              <s:text>Zażółć &amp; 😀
line 2</s:text>
              <s:recipient> +48600100200 </s:recipient>
              <s:recipient>+48600100201</s:recipient>
              <s:group>bulk</s:group>
              <s:encoding>ucs2</s:encoding>
              <s:priority>5</s:priority>
              <s:sendAt>2026-11-25T09:00:00+01:00</s:sendAt>
              <s:validity>P1DT2H30M15.5S</s:validity>
              <s:deliveryReport>1</s:deliveryReport>
              <s:clientReference>order-17</s:clientReference>
              <s:idempotencyKey>k-1</s:idempotencyKey>
            </s:SendSms>"#);
        assert_eq!(
            got,
            Request::SendSms(SendSms {
                text: "Zażółć & 😀\nline 2".into(),
                recipients: vec!["+48600100200".into(), "+48600100201".into()],
                group: Some("bulk".into()),
                encoding: Some(EncodingPolicy::Ucs2),
                priority: Some(5),
                send_at: Some(t("2026-11-25T08:00:00Z")),
                validity: Some(Duration::from_secs_f64(86_400.0 + 9_015.5)),
                delivery_report: Some(true),
                client_reference: Some("order-17".into()),
                idempotency_key: Some("k-1".into()),
            })
        );
    }

    #[test]
    fn send_sms_minimal_with_default_namespace_and_nil() {
        let got = ok(
            r#"<SendSms xmlns="urn:smsgate:soap:v1" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
              <text> hi </text><recipient>600100200</recipient><group xsi:nil="true"/></SendSms>"#,
        );
        assert_eq!(
            got,
            Request::SendSms(SendSms {
                text: " hi ".into(),
                recipients: vec!["600100200".into()],
                group: None,
                encoding: None,
                priority: None,
                send_at: None,
                validity: None,
                delivery_report: None,
                client_reference: None,
                idempotency_key: None,
            })
        );
    }

    #[test]
    fn every_operation_parses() {
        let cases: &[(&str, Request)] = &[
            (
                "<GetMessageStatus><id>m1</id></GetMessageStatus>",
                Request::GetMessageStatus { id: "m1".into() },
            ),
            (
                "<CancelMessage><id> m2 </id></CancelMessage>",
                Request::CancelMessage { id: "m2".into() },
            ),
            (
                "<ListMessages><status>delivered</status><limit>10</limit><cursor>c</cursor></ListMessages>",
                Request::ListMessages {
                    status: Some("delivered".into()),
                    recipient: None,
                    client_reference: None,
                    page: Page {
                        limit: Some(10),
                        cursor: Some("c".into()),
                    },
                },
            ),
            (
                "<ListMessages/>",
                Request::ListMessages {
                    status: None,
                    recipient: None,
                    client_reference: None,
                    page: Page::default(),
                },
            ),
            (
                "<GetInbox><limit>1</limit></GetInbox>",
                Request::GetInbox {
                    originator: None,
                    page: Page {
                        limit: Some(1),
                        cursor: None,
                    },
                },
            ),
            (
                "<DeleteInbox><id>a</id><id>b</id></DeleteInbox>",
                Request::DeleteInbox {
                    ids: vec!["a".into(), "b".into()],
                },
            ),
            ("<ListModems/>", Request::ListModems),
            (
                "<SendUssd><modem>m</modem><code>*100#</code></SendUssd>",
                Request::SendUssd {
                    modem: "m".into(),
                    code: "*100#".into(),
                },
            ),
            ("<GetAccountInfo></GetAccountInfo>", Request::GetAccountInfo),
            (
                "<RequestAccountDeletion/>",
                Request::RequestAccountDeletion { account_id: None },
            ),
            (
                "<GetAccountDeletion><accountId> 7 </accountId></GetAccountDeletion>",
                Request::GetAccountDeletion { account_id: Some(7) },
            ),
            (
                "<CancelAccountDeletion><accountId>12</accountId></CancelAccountDeletion>",
                Request::CancelAccountDeletion { account_id: Some(12) },
            ),
        ];
        for (body, expect) in cases {
            // Puts the root element into the service namespace.
            let name_end = body.find(['>', '/']).unwrap_or(body.len());
            let doc = format!(
                r#"{} xmlns="urn:smsgate:soap:v1"{}"#,
                &body[..name_end],
                &body[name_end..]
            );
            assert_eq!(&ok(&doc), expect, "{doc}");
        }
    }

    #[test]
    fn validation_faults_name_the_element() {
        let send = |inner: &str| format!(r#"<SendSms xmlns="urn:smsgate:soap:v1">{inner}</SendSms>"#);
        let base = "<text>x</text><recipient>1</recipient>";
        let cases: Vec<(String, &str)> = vec![
            (send("<recipient>1</recipient>"), "text"),
            (send("<text></text><recipient>1</recipient>"), "text"),
            (send("<text>x</text>"), "recipient"),
            (
                send("<text>x</text><recipient>1</recipient><recipient> </recipient>"),
                "recipient[1]",
            ),
            (send(&format!("{base}<encoding>latin1</encoding>")), "encoding"),
            (send(&format!("{base}<priority>high</priority>")), "priority"),
            (send(&format!("{base}<priority>11</priority>")), "priority"),
            (
                send(&format!("{base}<idempotencyKey>a b</idempotencyKey>")),
                "idempotencyKey",
            ),
            (
                send(&format!("{base}<sendAt>2026-11-25T09:00:00</sendAt>")),
                "sendAt",
            ),
            (send(&format!("{base}<sendAt>tomorrow</sendAt>")), "sendAt"),
            (send(&format!("{base}<validity>P1M</validity>")), "validity"),
            (send(&format!("{base}<validity>-PT1H</validity>")), "validity"),
            (send(&format!("{base}<validity>3600</validity>")), "validity"),
            (
                send(&format!("{base}<deliveryReport>yes</deliveryReport>")),
                "deliveryReport",
            ),
            (
                send(&format!(
                    "{base}<clientReference>{}</clientReference>",
                    "r".repeat(257)
                )),
                "clientReference",
            ),
            (send(&format!("{base}<idempotencyKey/>")), "idempotencyKey"),
            (send(&format!("{base}<text>again</text>")), "text"),
            (send(&format!("{base}<colour>red</colour>")), "colour"),
            (
                send(&format!(r#"{base}<x:group xmlns:x="urn:other">g</x:group>"#)),
                "group",
            ),
            (send("<text><b>bold</b></text><recipient>1</recipient>"), "text"),
            (
                send(&format!(
                    "<text>x</text>{}",
                    "<recipient>1</recipient>".repeat(1001)
                )),
                "recipient",
            ),
            (
                r#"<ListMessages xmlns="urn:smsgate:soap:v1"><limit>0</limit></ListMessages>"#.into(),
                "limit",
            ),
            (
                r#"<ListMessages xmlns="urn:smsgate:soap:v1"><status>lost</status></ListMessages>"#.into(),
                "status",
            ),
            (r#"<GetMessageStatus xmlns="urn:smsgate:soap:v1"/>"#.into(), "id"),
            (
                r#"<DeleteInbox xmlns="urn:smsgate:soap:v1"></DeleteInbox>"#.into(),
                "id",
            ),
            (
                r#"<SendUssd xmlns="urn:smsgate:soap:v1"><modem>m</modem></SendUssd>"#.into(),
                "code",
            ),
            (
                r#"<ListModems xmlns="urn:smsgate:soap:v1"><all>1</all></ListModems>"#.into(),
                "all",
            ),
            (
                r#"<RequestAccountDeletion xmlns="urn:smsgate:soap:v1"><accountId>me</accountId></RequestAccountDeletion>"#.into(),
                "accountId",
            ),
            (
                r#"<CancelAccountDeletion xmlns="urn:smsgate:soap:v1"><accountId/></CancelAccountDeletion>"#.into(),
                "accountId",
            ),
            (
                r#"<GetAccountDeletion xmlns="urn:smsgate:soap:v1"><accountId>1</accountId><accountId>2</accountId></GetAccountDeletion>"#.into(),
                "accountId",
            ),
        ];
        for (body, field) in cases {
            match request(&body) {
                Err(f) => {
                    assert_eq!(f.code, FaultCode::Validation, "{body}: {f:?}");
                    assert_eq!(f.field.as_deref(), Some(field), "{body}: {f:?}");
                }
                Ok(r) => panic!("{body}: accepted as {r:?}"),
            }
        }
    }

    #[test]
    fn unknown_operations_or_namespaces_are_unsupported() {
        for body in [
            r#"<SendFax xmlns="urn:smsgate:soap:v1"/>"#,
            r#"<SendSms xmlns="urn:smsgate:soap:v2"><text>x</text></SendSms>"#,
            "<SendSms><text>x</text></SendSms>",
        ] {
            match request(body) {
                Err(f) => assert_eq!(f.code, FaultCode::UnsupportedOperation, "{body}"),
                Ok(r) => panic!("{body}: accepted as {r:?}"),
            }
        }
    }

    #[test]
    fn durations() {
        let check = |input: &str, expect: Option<f64>| {
            let got = parse_duration(input).ok().map(|d| d.as_secs_f64());
            assert_eq!(got, expect, "{input}");
        };
        check("PT30M", Some(1800.0));
        check("P1D", Some(86_400.0));
        check("P2DT1H", Some(176_400.0));
        check("PT0S", Some(0.0));
        check("PT1.25S", Some(1.25));
        check("PT90M", Some(5400.0));
        check("P", None);
        check("PT", None);
        check("P1DT", None);
        check("PT1M1H", None);
        check("PT1H1H", None);
        check("P1Y", None);
        check("P1M", None);
        check("PTXS", None);
        check("PT1", None);
        check("1H", None);
        check("P99999999999999999999D", None);
        check("P999999999999999D", None);
    }

    #[test]
    fn responses_follow_the_xsd_order() {
        let m = MessageView {
            id: "0190-a".into(),
            recipient: "+48600100200".into(),
            status: "queued".into(),
            parts: Some(1),
            priority: Some(0),
            delivery_report: Some(false),
            created_at: Some(t("2026-11-25T08:00:00.250+01:00")),
            ..MessageView::default()
        };
        assert_eq!(
            Response::GetMessageStatus(m).to_payload(),
            concat!(
                r#"<GetMessageStatusResponse xmlns="urn:smsgate:soap:v1"><message><id>0190-a</id>"#,
                "<recipient>+48600100200</recipient><status>queued</status><parts>1</parts><priority>0</priority>",
                "<deliveryReport>false</deliveryReport><createdAt>2026-11-25T07:00:00.25Z</createdAt>",
                "</message></GetMessageStatusResponse>"
            )
        );
        assert_eq!(
            Response::DeleteInbox { deleted: 2 }.to_payload(),
            r#"<DeleteInboxResponse xmlns="urn:smsgate:soap:v1"><deleted>2</deleted></DeleteInboxResponse>"#
        );
        assert_eq!(
            Response::RequestAccountDeletion(DeletionAcceptedView {
                erased: false,
                account_id: 3,
                requested_at: t("2026-11-25T08:00:00Z"),
                execute_after: t("2026-11-26T08:00:00Z"),
            })
            .to_payload(),
            concat!(
                r#"<RequestAccountDeletionResponse xmlns="urn:smsgate:soap:v1"><status>scheduled</status>"#,
                "<accountId>3</accountId><requestedAt>2026-11-25T08:00:00Z</requestedAt>",
                "<executeAfter>2026-11-26T08:00:00Z</executeAfter></RequestAccountDeletionResponse>"
            )
        );
        assert_eq!(
            Response::GetAccountDeletion {
                account_id: 3,
                pending: Some(PendingDeletionView {
                    requested_at: t("2026-11-25T08:00:00Z"),
                    requested_by: Some("acme".into()),
                    source_ip: None,
                    execute_after: t("2026-11-26T08:00:00Z"),
                }),
            }
            .to_payload(),
            concat!(
                r#"<GetAccountDeletionResponse xmlns="urn:smsgate:soap:v1"><status>pending</status>"#,
                "<accountId>3</accountId><requestedAt>2026-11-25T08:00:00Z</requestedAt>",
                "<requestedBy>acme</requestedBy><executeAfter>2026-11-26T08:00:00Z</executeAfter>",
                "</GetAccountDeletionResponse>"
            )
        );
        assert_eq!(
            Response::GetAccountDeletion {
                account_id: 3,
                pending: None
            }
            .to_payload(),
            concat!(
                r#"<GetAccountDeletionResponse xmlns="urn:smsgate:soap:v1"><status>none</status>"#,
                "<accountId>3</accountId></GetAccountDeletionResponse>"
            )
        );
        assert_eq!(
            Response::ListMessages {
                messages: vec![],
                next_cursor: None
            }
            .to_payload(),
            r#"<ListMessagesResponse xmlns="urn:smsgate:soap:v1"></ListMessagesResponse>"#
        );
    }

    proptest::proptest! {
        /// Any mix of known, repeated and unknown children with any text is either a request or a
        /// fault; validation faults always name an element.
        #[test]
        fn random_children_never_panic(
            op in proptest::sample::select(Operation::ALL.to_vec()),
            children in proptest::collection::vec(
                (
                    proptest::sample::select(vec![
                        "text", "recipient", "group", "encoding", "priority", "sendAt", "validity",
                        "deliveryReport", "clientReference", "idempotencyKey", "id", "status",
                        "limit", "cursor", "originator", "modem", "code", "accountId", "bogus",
                    ]),
                    proptest::prop_oneof![
                        proptest::strategy::Just(String::new()),
                        "[0-9+PTHMSDY:.-]{0,12}",
                        "\\PC{0,24}",
                    ],
                ),
                0..8,
            ),
        ) {
            let inner: String = children
                .iter()
                .map(|(name, value)| {
                    format!("<{name}>{}</{name}>", super::super::writer::escape_text(value))
                })
                .collect();
            let doc = format!(r#"<{0} xmlns="urn:smsgate:soap:v1">{inner}</{0}>"#, op.name());
            let element = parse(doc.as_bytes(), &Limits::SOAP);
            proptest::prop_assert!(element.is_ok(), "{doc}");
            if let Ok(element) = element {
                match parse_request(&element) {
                    Ok((got, _)) => proptest::prop_assert_eq!(got, op),
                    Err(f) => {
                        proptest::prop_assert_eq!(f.code, FaultCode::Validation, "{:?}", f);
                        proptest::prop_assert!(f.field.is_some(), "{:?}", f);
                    }
                }
            }
        }
    }

    #[test]
    fn operation_names_round_trip() {
        for op in Operation::ALL {
            assert_eq!(Operation::from_name(op.name()), Some(op));
            assert_eq!(op.action(), format!("urn:smsgate:soap:v1#{}", op.name()));
        }
        assert_eq!(Operation::from_name("SendSmsResponse"), None);
    }
}
