//! Accepting messages: the request shape, its validation (every error names its field), routing to a
//! modem group, and encoding the SMS-SUBMIT parts at accept time, so a message that cannot be sent is
//! refused now instead of failing later.
use std::time::Duration;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;

use super::{AppError, numbers};
use crate::config::Settings;
use crate::pdu;
use crate::store::{MessageId, NewMessage, NewPart, StoredRouteRule, TextEncoding, datetime_to_ms};

/// Most recipients in one request.
pub const MAX_RECIPIENTS: usize = 1000;
/// Priority range; higher goes first (an OTP at 10 overtakes a bulk batch at 0).
pub const PRIORITY_RANGE: std::ops::RangeInclusive<i32> = -10..=10;
/// Longest client reference.
pub const MAX_CLIENT_REF: usize = 256;
/// Longest idempotency key.
pub const MAX_IDEMPOTENCY_KEY: usize = 255;
/// Shortest validity period a network honours (TS 23.040 §9.2.3.12.1: relative TP-VP steps of 5 min).
pub const MIN_VALIDITY: Duration = Duration::from_secs(5 * 60);
/// Longest relative validity period (TS 23.040 §9.2.3.12.1: 63 weeks).
pub const MAX_VALIDITY: Duration = Duration::from_secs(63 * 7 * 24 * 3600);
/// How far ahead a send may be scheduled.
pub const MAX_SCHEDULE_AHEAD: Duration = Duration::from_secs(366 * 24 * 3600);

/// How the text is encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum EncodingChoice {
    /// GSM-7 when every character fits, else UCS-2.
    #[default]
    Auto,
    /// Always UCS-2.
    Ucs2,
    /// GSM-7 only; a character outside it is a validation error.
    Gsm7,
    /// Replace characters outside GSM-7 by look-alikes (`ż` → `z`) when that makes the text fit.
    Gsm7Transliterate,
}

impl EncodingChoice {
    fn policy(self) -> pdu::EncodingPolicy {
        match self {
            EncodingChoice::Auto => pdu::EncodingPolicy::Auto,
            EncodingChoice::Ucs2 => pdu::EncodingPolicy::Ucs2,
            EncodingChoice::Gsm7 => pdu::EncodingPolicy::Gsm7,
            EncodingChoice::Gsm7Transliterate => pdu::EncodingPolicy::Gsm7Transliterate,
        }
    }
}

/// A request to send one text to one or more recipients (each becomes its own message).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubmitRequest {
    /// E.164 numbers, or national numbers in the default country.
    pub recipients: Vec<String>,
    /// The text (any Unicode; emoji go as UCS-2).
    pub text: String,
    /// Modem group to send through (the "sender"); `None` = routing rules, then any modem.
    #[serde(default)]
    pub group: Option<String>,
    /// Alphabet policy.
    #[serde(default)]
    pub encoding: EncodingChoice,
    /// -10..=10, higher first (default 0).
    #[serde(default)]
    pub priority: i32,
    /// Send not before this time (RFC 3339).
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub send_at: Option<OffsetDateTime>,
    /// Validity in seconds from acceptance (or from `send_at`): not sent after it ends, and the network
    /// is told to drop it then (TP-VP).
    #[serde(default)]
    pub validity_seconds: Option<u64>,
    /// Ask the network for a delivery report.
    #[serde(default)]
    pub delivery_report: bool,
    /// The client's own reference, echoed in views and webhooks.
    #[serde(default)]
    pub client_ref: Option<String>,
}

impl SubmitRequest {
    /// A plain request: `text` to `recipients`, every option at its default.
    pub fn new(recipients: Vec<String>, text: impl Into<String>) -> SubmitRequest {
        SubmitRequest {
            recipients,
            text: text.into(),
            group: None,
            encoding: EncodingChoice::Auto,
            priority: 0,
            send_at: None,
            validity_seconds: None,
            delivery_report: false,
            client_ref: None,
        }
    }

    /// Fingerprint of the request, to tell an idempotent replay from a reuse of the key.
    pub(crate) fn fingerprint(&self) -> String {
        let canonical = serde_json::to_string(self).unwrap_or_default();
        hex::encode(Sha256::digest(canonical.as_bytes()))
    }
}

/// What an accepted request turns into, before it is stored.
pub(crate) struct Prepared {
    pub messages: Vec<NewMessage>,
}

/// Checks an idempotency key's form.
pub(crate) fn check_idempotency_key(key: &str) -> Result<(), AppError> {
    if key.is_empty() || key.len() > MAX_IDEMPOTENCY_KEY {
        return Err(AppError::validation(
            "Idempotency-Key",
            format!("must be 1 to {MAX_IDEMPOTENCY_KEY} characters"),
        ));
    }
    if !key.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(AppError::validation(
            "Idempotency-Key",
            "must be printable ASCII without spaces",
        ));
    }
    Ok(())
}

/// Picks the modem group: the explicit one, else the first matching run-time rule (see
/// [`super::routing`]), else the first matching `[[dispatch.route]]` rule, else any modem.
fn route(
    settings: &Settings,
    runtime: &[StoredRouteRule],
    login: &str,
    recipient: &str,
    explicit: Option<&str>,
) -> Option<String> {
    if let Some(g) = explicit {
        return Some(g.to_owned());
    }
    if let Some(r) = super::routing::first_match(runtime, recipient) {
        return Some(r.group.clone());
    }
    settings
        .dispatch
        .routes
        .iter()
        .find(|r| {
            r.account.as_deref().is_none_or(|a| a == login)
                && r.prefix.as_deref().is_none_or(|p| recipient.starts_with(p))
        })
        .map(|r| r.group.clone())
}

/// The modem groups a message may name: configured modems' groups, routing targets, and `default`
/// (discovered and simulated modems).
pub(crate) fn known_groups(settings: &Settings) -> Vec<String> {
    let mut groups = vec!["default".to_owned()];
    groups.extend(settings.modems.iter().map(|m| m.group.clone()));
    groups.extend(settings.dispatch.routes.iter().map(|r| r.group.clone()));
    groups.sort();
    groups.dedup();
    groups
}

fn text_error(e: &pdu::PduError, max_parts: u32) -> AppError {
    match e {
        pdu::PduError::TooManyParts { needed, .. } => AppError::validation(
            "text",
            format!("is too long: it needs {needed} SMS parts, the maximum is {max_parts}"),
        ),
        pdu::PduError::Unencodable { ch, index } => AppError::validation(
            "text",
            format!("character {ch:?} at position {index} is not in the GSM 7-bit alphabet (encoding gsm7)"),
        ),
        other => AppError::validation("text", other.to_string()),
    }
}

/// Validates a request and encodes every message's parts.
pub(crate) fn prepare(
    settings: &Settings,
    runtime_routes: &[StoredRouteRule],
    login: &str,
    req: &SubmitRequest,
    now: i64,
) -> Result<Prepared, AppError> {
    let d = &settings.dispatch;
    if req.recipients.is_empty() {
        return Err(AppError::validation("recipients", "needs at least one number"));
    }
    if req.recipients.len() > MAX_RECIPIENTS {
        return Err(AppError::validation(
            "recipients",
            format!("at most {MAX_RECIPIENTS} per request"),
        ));
    }
    if req.text.is_empty() {
        return Err(AppError::validation("text", "must not be empty"));
    }
    if !PRIORITY_RANGE.contains(&req.priority) {
        return Err(AppError::validation(
            "priority",
            format!(
                "must be between {} and {}",
                PRIORITY_RANGE.start(),
                PRIORITY_RANGE.end()
            ),
        ));
    }
    if let Some(g) = &req.group
        && !known_groups(settings).contains(g)
    {
        return Err(AppError::validation(
            "group",
            format!("unknown modem group {g:?}"),
        ));
    }
    if let Some(r) = &req.client_ref
        && r.chars().count() > MAX_CLIENT_REF
    {
        return Err(AppError::validation(
            "client_ref",
            format!("at most {MAX_CLIENT_REF} characters"),
        ));
    }
    let send_at = match req.send_at {
        Some(t) => {
            let ms = datetime_to_ms(t);
            if ms > now + MAX_SCHEDULE_AHEAD.as_millis() as i64 {
                return Err(AppError::validation("send_at", "may be at most one year ahead"));
            }
            // A time in the past means "now".
            (ms > now).then_some(ms)
        }
        None => None,
    };
    let validity = match req.validity_seconds {
        Some(s) => {
            let v = Duration::from_secs(s);
            if !(MIN_VALIDITY..=MAX_VALIDITY).contains(&v) {
                return Err(AppError::validation(
                    "validity_seconds",
                    format!(
                        "must be between {} and {}",
                        MIN_VALIDITY.as_secs(),
                        MAX_VALIDITY.as_secs()
                    ),
                ));
            }
            Some(v)
        }
        None => None,
    };
    let valid_until = validity.map(|v| send_at.unwrap_or(now) + v.as_millis() as i64);
    let mut recipients = Vec::with_capacity(req.recipients.len());
    for (i, r) in req.recipients.iter().enumerate() {
        let n = numbers::normalize(r, &d.default_country_code)
            .map_err(|e| AppError::validation(&format!("recipients[{i}]"), format!("{r:?} {e}")))?;
        recipients.push(n);
    }
    let mut messages = Vec::with_capacity(recipients.len());
    for (i, recipient) in recipients.into_iter().enumerate() {
        let to = pdu::Address::parse(&recipient)
            .map_err(|e| AppError::validation(&format!("recipients[{i}]"), e.to_string()))?;
        let mut opts = pdu::SubmitOptions::new(to);
        opts.srr = req.delivery_report;
        if let Some(v) = validity {
            opts.validity = pdu::Validity::Relative(v);
        }
        opts.text.encoding = req.encoding.policy();
        opts.text.max_parts = d.max_parts as usize;
        // A random reference keeps parts of different messages to one handset apart (8-bit IE).
        opts.text.concat_ref = u16::from(rand::random::<u8>());
        let count = pdu::count_submit(&req.text, &opts).map_err(|e| text_error(&e, d.max_parts))?;
        let parts = pdu::encode_submit(&req.text, &opts).map_err(|e| text_error(&e, d.max_parts))?;
        let encoding = match count.alphabet {
            pdu::Alphabet::Gsm7 => TextEncoding::Gsm7,
            _ => TextEncoding::Ucs2,
        };
        messages.push(NewMessage {
            id: MessageId::new(),
            group: route(settings, runtime_routes, login, &recipient, req.group.as_deref()),
            recipient,
            text: req.text.clone(),
            encoding,
            priority: req.priority,
            send_at,
            valid_until,
            delivery_report: req.delivery_report,
            client_ref: req.client_ref.clone(),
            parts: parts
                .into_iter()
                .map(|p| NewPart {
                    pdu: p.pdu,
                    tpdu_len: p.tpdu_len,
                })
                .collect(),
        });
    }
    Ok(Prepared { messages })
}
