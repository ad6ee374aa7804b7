//! Kannel-compatible `sendsms` (`GET/POST /cgi-bin/sendsms`), so integrations written for Kannel's smsbox
//! only change the host they point at.
//!
//! Parameters (GET query, or POST `application/x-www-form-urlencoded`; or POST with a `text/plain` body and
//! `X-Kannel-*` headers): `username` (`user`), `password` (`pass`), `to` (several numbers separated by
//! spaces), `text`, `from`, `coding` (0 = 7-bit, 1 = 8-bit, 2 = UCS-2), `charset` (of `text`; default
//! UTF-8, or UTF-16BE with coding 2), `dlr-mask`, `dlr-url` (`%d %p %P %T %A %i %I %%` substituted when a
//! report arrives). Answers are Kannel 1.4.5 smsbox's, byte for byte: `202 0: Accepted for delivery`,
//! `403 Authorization failed for sendsms`, `400 Missing receiver number, rejected`, ...
//!
//! Deviations, on purpose: `from` may be omitted (a modem sends with its SIM's own number, Kannel would
//! answer "Sender missing and no global set"); a `to` list with an invalid number is refused as a whole
//! (Kannel would send to the valid ones), so a request either is accepted entirely or stores nothing.
use std::borrow::Cow;

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use percent_encoding::{NON_ALPHANUMERIC, percent_decode, utf8_percent_encode};

/// Kannel's sendsms reply bodies (gw/smsbox.c, Kannel 1.4.5).
pub mod replies {
    pub const ACCEPTED: &str = "0: Accepted for delivery";
    pub const QUEUED: &str = "3: Queued for later delivery";
    pub const AUTH_FAILED: &str = "Authorization failed for sendsms";
    pub const MISSING_TO: &str = "Missing receiver number, rejected";
    pub const EMPTY_TO: &str = "Empty receiver number not allowed, rejected";
    pub const DENIED: &str = "Number(s) has/have been denied by white- and/or black-lists.";
    pub const DLR_URL: &str = "DLR-URL field misformed, rejected";
    pub const DLR_MASK: &str = "DLR-Mask field misformed, rejected";
    pub const CODING: &str = "Coding field misformed, rejected";
    pub const CHARSET: &str = "Charset or body misformed, rejected";
    pub const CONTENT_TYPE: &str = "Unsupported content-type, rejected";
    pub const TEMPORARY: &str = "Temporal failure, try again later.";
    pub const FAILED: &str = "Sending failed.";
}

/// Characters Kannel accepts in `to` (`SENDSMS_DEFAULT_CHARS`); space separates numbers.
const NUMBER_CHARS: &str = "0123456789+-";
/// Largest `dlr-mask` Kannel accepts (all DLR type bits: 1|2|4|8|16|32).
const DLR_MASK_MAX: i64 = 63;
/// Longest `dlr-url` accepted (bounded so a report callback cannot be made arbitrarily large).
const DLR_URL_MAX: usize = 2048;

/// An answer in Kannel's format: status + `text/html` body + no-cache headers, like smsbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KannelReply {
    pub status: StatusCode,
    pub body: Cow<'static, str>,
}

impl KannelReply {
    /// A reply with a fixed body.
    pub const fn new(status: StatusCode, body: &'static str) -> Self {
        KannelReply {
            status,
            body: Cow::Borrowed(body),
        }
    }
    /// 400 with `body`.
    pub const fn bad(body: &'static str) -> Self {
        KannelReply::new(StatusCode::BAD_REQUEST, body)
    }
}

impl IntoResponse for KannelReply {
    fn into_response(self) -> Response {
        let mut response = (self.status, self.body.into_owned()).into_response();
        let h = response.headers_mut();
        h.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html"));
        h.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
        response
    }
}

/// Kannel's `coding` values (DCS alphabet).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Coding {
    /// 0: GSM 7-bit default alphabet.
    SevenBit,
    /// 1: 8-bit data.
    EightBit,
    /// 2: UCS-2.
    Ucs2,
}

/// A parsed, not yet authenticated, sendsms request.
#[derive(Clone, PartialEq, Eq)]
pub struct SendSms {
    pub username: String,
    pub password: String,
    pub to: Vec<String>,
    pub text: String,
    pub from: Option<String>,
    pub coding: Option<Coding>,
    pub dlr_mask: Option<u8>,
    pub dlr_url: Option<String>,
}

impl std::fmt::Debug for SendSms {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Neither password nor text in logs.
        f.debug_struct("SendSms")
            .field("username", &self.username)
            .field("to", &self.to)
            .finish_non_exhaustive()
    }
}

/// Raw arguments: name → raw (percent-decoded) bytes, first occurrence wins like Kannel's `http_cgi_variable`.
#[derive(Debug, Default, Clone)]
pub struct RawArgs(Vec<(String, Vec<u8>)>);

impl RawArgs {
    /// Parses `a=b&c=d` (query string or form body), keeping values as bytes so `charset` can apply.
    pub fn parse(query: &[u8]) -> Self {
        let pairs = query
            .split(|b| *b == b'&')
            .filter(|p| !p.is_empty())
            .map(|pair| {
                let (name, value) = match pair.iter().position(|b| *b == b'=') {
                    Some(i) => (&pair[..i], &pair[i + 1..]),
                    None => (pair, &[][..]),
                };
                (
                    String::from_utf8_lossy(&form_decode(name)).into_owned(),
                    form_decode(value),
                )
            })
            .collect();
        RawArgs(pairs)
    }

    /// Adds an argument unless present.
    pub fn set_default(&mut self, name: &str, value: Vec<u8>) {
        if self.get(name).is_none() {
            self.0.push((name.to_owned(), value));
        }
    }

    /// First value of `name`.
    pub fn get(&self, name: &str) -> Option<&[u8]> {
        self.0.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_slice())
    }

    fn text(&self, names: &[&str]) -> Option<String> {
        names
            .iter()
            .find_map(|n| self.get(n))
            .map(|v| String::from_utf8_lossy(v).trim().to_owned())
    }

    /// Builds arguments from a POST with `X-Kannel-*` headers and the message text as the body.
    pub fn from_headers(headers: &HeaderMap, body: &[u8]) -> Self {
        const MAP: [(&str, &str); 7] = [
            ("x-kannel-username", "username"),
            ("x-kannel-password", "password"),
            ("x-kannel-to", "to"),
            ("x-kannel-from", "from"),
            ("x-kannel-coding", "coding"),
            ("x-kannel-dlr-mask", "dlr-mask"),
            ("x-kannel-dlr-url", "dlr-url"),
        ];
        let mut args = RawArgs::default();
        for (header_name, arg) in MAP {
            if let Some(v) = headers.get(header_name) {
                args.0.push((arg.to_owned(), v.as_bytes().to_vec()));
            }
        }
        let charset = headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(content_type_charset);
        if let Some(charset) = charset {
            args.0.push(("charset".to_owned(), charset.into_bytes()));
        }
        args.0.push(("text".to_owned(), body.to_vec()));
        args
    }
}

/// `application/x-www-form-urlencoded` decoding: `+` is a space, then percent-decoding.
fn form_decode(raw: &[u8]) -> Vec<u8> {
    let plus: Vec<u8> = raw.iter().map(|b| if *b == b'+' { b' ' } else { *b }).collect();
    percent_decode(&plus).collect()
}

/// The `charset` parameter of a Content-Type value.
fn content_type_charset(value: &str) -> Option<String> {
    value.split(';').skip(1).find_map(|p| {
        let (k, v) = p.split_once('=')?;
        k.trim()
            .eq_ignore_ascii_case("charset")
            .then(|| v.trim().trim_matches('"').to_owned())
    })
}

/// Credentials of a sendsms request, checked first (Kannel authorises before looking at anything else).
pub fn credentials(args: &RawArgs) -> Option<(String, String)> {
    let user = args.text(&["username", "user"])?;
    let pass = names_raw(args, &["password", "pass"])?;
    Some((user, pass))
}

fn names_raw(args: &RawArgs, names: &[&str]) -> Option<String> {
    // The password is not trimmed: spaces may be part of it.
    names
        .iter()
        .find_map(|n| args.get(n))
        .map(|v| String::from_utf8_lossy(v).into_owned())
}

/// Validates the non-credential arguments in Kannel's order, with Kannel's answers.
pub fn parse(args: &RawArgs) -> Result<SendSms, KannelReply> {
    let (username, password) =
        credentials(args).ok_or(KannelReply::new(StatusCode::FORBIDDEN, replies::AUTH_FAILED))?;
    let dlr_mask = match args.text(&["dlr-mask", "dlrmask"]) {
        None => None,
        Some(s) if s.is_empty() => None,
        Some(s) => match s.parse::<i64>() {
            Ok(v) if (0..=DLR_MASK_MAX).contains(&v) => u8::try_from(v).ok(),
            _ => return Err(KannelReply::bad(replies::DLR_MASK)),
        },
    };
    let dlr_url = match args.text(&["dlr-url", "dlrurl"]) {
        None => None,
        Some(s) if s.is_empty() => None,
        Some(s) if s.len() > DLR_URL_MAX || !(s.starts_with("http://") || s.starts_with("https://")) => {
            return Err(KannelReply::bad(replies::DLR_URL));
        }
        Some(s) => Some(s),
    };
    let coding = match args.text(&["coding"]) {
        None => None,
        Some(s) if s.is_empty() => None,
        Some(s) => match s.as_str() {
            "0" => Some(Coding::SevenBit),
            "1" => Some(Coding::EightBit),
            "2" => Some(Coding::Ucs2),
            _ => return Err(KannelReply::bad(replies::CODING)),
        },
    };
    let to_raw = args.text(&["to"]).ok_or(KannelReply::bad(replies::MISSING_TO))?;
    if to_raw.is_empty() {
        return Err(KannelReply::bad(replies::EMPTY_TO));
    }
    let to: Vec<String> = to_raw
        .split(' ')
        .filter(|n| !n.is_empty())
        .map(str::to_owned)
        .collect();
    if to.is_empty() {
        return Err(KannelReply::bad(replies::EMPTY_TO));
    }
    if to.iter().any(|n| !n.chars().all(|c| NUMBER_CHARS.contains(c))) {
        return Err(KannelReply::bad(replies::DENIED));
    }
    let charset = args.text(&["charset"]).filter(|c| !c.is_empty());
    let text = decode_text(args.get("text").unwrap_or_default(), charset.as_deref(), coding)
        .ok_or(KannelReply::bad(replies::CHARSET))?;
    let from = args.text(&["from"]).filter(|f| !f.is_empty());
    Ok(SendSms {
        username,
        password,
        to,
        text,
        from,
        coding,
        dlr_mask,
        dlr_url,
    })
}

/// Converts `text` from `charset` (Kannel's default: UTF-8, or UTF-16BE when coding is UCS-2).
pub fn decode_text(bytes: &[u8], charset: Option<&str>, coding: Option<Coding>) -> Option<String> {
    let default = if coding == Some(Coding::Ucs2) {
        "UTF-16BE"
    } else {
        "UTF-8"
    };
    let charset = charset.unwrap_or(default).to_ascii_uppercase().replace('_', "-");
    match charset.as_str() {
        "UTF-8" | "UTF8" => String::from_utf8(bytes.to_vec()).ok(),
        "ISO-8859-1" | "LATIN1" | "ISO8859-1" | "US-ASCII" | "ASCII" => {
            if charset.contains("ASCII") && !bytes.is_ascii() {
                return None;
            }
            Some(bytes.iter().map(|b| char::from(*b)).collect())
        }
        "UTF-16BE" | "UCS-2" | "UCS-2BE" | "UTF-16" => {
            if bytes.len() % 2 != 0 {
                return None;
            }
            let units: Vec<u16> = bytes
                .chunks_exact(2)
                .map(|c| u16::from_be_bytes([c[0], c[1]]))
                .collect();
            String::from_utf16(&units).ok()
        }
        _ => None,
    }
}

/// Kannel DLR types (the `%d` value and the bits of `dlr-mask`).
pub mod dlr {
    /// Delivered to the phone.
    pub const DELIVERED: u8 = 1;
    /// Not delivered to the phone.
    pub const UNDELIVERED: u8 = 2;
    /// Queued on the SMSC.
    pub const BUFFERED: u8 = 4;
    /// Accepted by the SMSC (sent).
    pub const SMSC_SUCCESS: u8 = 8;
    /// Rejected by the SMSC (failed).
    pub const SMSC_REJECT: u8 = 16;
}

/// Values substituted into a `dlr-url`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DlrValues<'a> {
    /// `%d`: DLR type.
    pub kind: u8,
    /// `%p`: the phone number the message went to.
    pub to: &'a str,
    /// `%P`: the sender given at submission.
    pub from: &'a str,
    /// `%T`: Unix time of the report.
    pub time: i64,
    /// `%A`: the report text (`ACK/`, `NACK/…`, or the status report summary).
    pub reply: &'a str,
    /// `%I` / `%i`: smsgate message id (Kannel: message id / SMSC id).
    pub message_id: &'a str,
    pub smsc: &'a str,
}

/// Expands `%x` escapes in a `dlr-url`, URL-encoding each value (as Kannel does). Unknown escapes are kept.
pub fn expand_dlr_url(template: &str, v: &DlrValues<'_>) -> String {
    let enc = |s: &str| utf8_percent_encode(s, NON_ALPHANUMERIC).to_string();
    let mut out = String::with_capacity(template.len() + 32);
    let mut chars = template.chars();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('d') => out.push_str(&v.kind.to_string()),
            Some('p') => out.push_str(&enc(v.to)),
            Some('P') => out.push_str(&enc(v.from)),
            Some('T') => out.push_str(&v.time.to_string()),
            Some('A') => out.push_str(&enc(v.reply)),
            Some('I') => out.push_str(&enc(v.message_id)),
            Some('i') => out.push_str(&enc(v.smsc)),
            Some('%') => out.push('%'),
            Some(other) => {
                out.push('%');
                out.push(other);
            }
            None => out.push('%'),
        }
    }
    out
}

// ---------------------------------------------------------------------------------------------------------
// the handler

use axum::extract::{Request, State};

use super::ApiState;
use super::caller::{authenticate_request, check_rate};
use crate::app::{AppError, EncodingChoice, KannelDlr, SubmitRequest};
use crate::auth::{Credentials, Scope};

/// `GET/POST /cgi-bin/sendsms`.
pub async fn sendsms(State(state): State<ApiState>, request: Request) -> Response {
    let (parts, body) = request.into_parts();

    let args = if parts.method == axum::http::Method::POST {
        let content_type = parts
            .headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(|v| v.split(';').next().unwrap_or("").trim().to_ascii_lowercase())
            .unwrap_or_default();
        let Ok(bytes) = axum::body::to_bytes(body, state.max_body_bytes).await else {
            return KannelReply::new(StatusCode::PAYLOAD_TOO_LARGE, "Request body too large").into_response();
        };
        match content_type.as_str() {
            "application/x-www-form-urlencoded" => {
                let mut args = RawArgs::parse(&bytes);
                // Kannel also reads the query string of a POST.
                for (k, v) in RawArgs::parse(parts.uri.query().unwrap_or("").as_bytes()).0 {
                    args.set_default(&k, v);
                }
                args
            }
            "" | "text/plain" | "application/octet-stream" => RawArgs::from_headers(&parts.headers, &bytes),
            _ => return KannelReply::bad(replies::CONTENT_TYPE).into_response(),
        }
    } else {
        RawArgs::parse(parts.uri.query().unwrap_or("").as_bytes())
    };

    // Kannel authorises first, before it looks at any other argument.
    let Some((username, password)) = credentials(&args) else {
        return KannelReply::new(StatusCode::FORBIDDEN, replies::AUTH_FAILED).into_response();
    };
    let caller = match authenticate_request(
        &state,
        &Credentials::Password {
            login: username,
            password,
        },
        &parts,
    )
    .await
    {
        Ok(caller) => caller,
        Err(problem) if problem.status == StatusCode::SERVICE_UNAVAILABLE => {
            return KannelReply::new(StatusCode::SERVICE_UNAVAILABLE, replies::TEMPORARY).into_response();
        }
        Err(_) => return KannelReply::new(StatusCode::FORBIDDEN, replies::AUTH_FAILED).into_response(),
    };
    if check_rate(&state, &caller).is_err() {
        return KannelReply::new(StatusCode::SERVICE_UNAVAILABLE, replies::TEMPORARY).into_response();
    }
    if caller.require(Scope::MessagesSend).is_err() {
        return KannelReply::new(StatusCode::FORBIDDEN, replies::AUTH_FAILED).into_response();
    }
    let sms = match parse(&args) {
        Ok(sms) => sms,
        Err(reply) => return reply.into_response(),
    };
    let encoding = match sms.coding {
        None => EncodingChoice::Auto,
        // Kannel's 7-bit coding replaces what GSM-7 cannot represent; transliteration is the kinder cousin.
        Some(Coding::SevenBit) => EncodingChoice::Gsm7Transliterate,
        Some(Coding::Ucs2) => EncodingChoice::Ucs2,
        // 8-bit data messages are not offered by this gateway.
        Some(Coding::EightBit) => return KannelReply::bad(replies::CODING).into_response(),
    };
    let mut request = SubmitRequest::new(sms.to.clone(), sms.text.clone());
    request.encoding = encoding;
    // Kannel's mask bits 1 (delivered) and 2 (undelivered) need a status report from the network.
    request.delivery_report = sms
        .dlr_mask
        .is_some_and(|m| m & (dlr::DELIVERED | dlr::UNDELIVERED) != 0);
    let result = state
        .gateway
        .submit_kannel(
            &caller.principal,
            request,
            sms.dlr_url
                .clone()
                .filter(|_| sms.dlr_mask.is_some_and(|m| m != 0))
                .map(|url| KannelDlr {
                    url,
                    // Kannel calls back only for the types in the mask; no mask means no callback.
                    mask: sms.dlr_mask.unwrap_or(0),
                    sender: sms.from.clone(),
                }),
        )
        .await;
    match result {
        Ok(messages) => {
            tracing::info!(login = %caller.principal.login, count = messages.len(), "sendsms accepted");
            KannelReply::new(StatusCode::ACCEPTED, replies::ACCEPTED).into_response()
        }
        Err(error) => kannel_error(error).into_response(),
    }
}

/// A gateway error in Kannel's words.
fn kannel_error(error: AppError) -> KannelReply {
    match error {
        AppError::Validation { field, message } => {
            tracing::info!(%field, %message, "sendsms rejected");
            if field.starts_with("recipients") {
                KannelReply::bad(replies::DENIED)
            } else {
                KannelReply::bad(replies::CHARSET)
            }
        }
        AppError::Forbidden(_) => KannelReply::new(StatusCode::FORBIDDEN, replies::AUTH_FAILED),
        AppError::RateLimited { .. } | AppError::Unavailable(_) | AppError::Conflict(_) => {
            KannelReply::new(StatusCode::SERVICE_UNAVAILABLE, replies::TEMPORARY)
        }
        AppError::NotFound(_) | AppError::Internal(_) => {
            tracing::error!(%error, "sendsms failed");
            KannelReply::new(StatusCode::INTERNAL_SERVER_ERROR, replies::FAILED)
        }
    }
}

// ---------------------------------------------------------------------------------------------------------
// dlr-url callbacks

use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::app::Gateway;
use crate::store::{KannelDlrDue, MessageStatus};

/// How often subscriptions are checked when nothing wakes the worker earlier.
const DLR_POLL: Duration = Duration::from_secs(1);
/// After a wake-up, how long to let more status changes gather before reading the subscriptions (one read
/// per batch of sent messages instead of one per message).
const DLR_WAKE_COALESCE: Duration = Duration::from_millis(50);
/// Callback attempts before a subscription is dropped.
const DLR_MAX_ATTEMPTS: u32 = 10;
/// First retry delay of a failed callback; doubles per attempt.
const DLR_FIRST_RETRY: Duration = Duration::from_secs(5);
/// Subscriptions handled per round.
const DLR_BATCH: u32 = 100;

/// The DLR types a message at `status` stands for, in the order Kannel reports them, minus the types in
/// `reported`; and whether the message can produce no further report.
pub fn dlr_events(status: MessageStatus, delivery_report: bool, reported: u8) -> (Vec<u8>, bool) {
    let (events, finished): (Vec<u8>, bool) = match status {
        MessageStatus::Queued | MessageStatus::Sending => (vec![], false),
        MessageStatus::Sent => (vec![dlr::SMSC_SUCCESS], !delivery_report),
        MessageStatus::Delivered => (vec![dlr::SMSC_SUCCESS, dlr::DELIVERED], true),
        // After an SMSC success, a failure can only come from the status report: undelivered.
        MessageStatus::Failed if reported & dlr::SMSC_SUCCESS != 0 => (vec![dlr::UNDELIVERED], true),
        MessageStatus::Failed | MessageStatus::Expired | MessageStatus::Cancelled => {
            (vec![dlr::SMSC_REJECT], true)
        }
        // Nobody knows whether it went out: nothing truthful to report.
        MessageStatus::Uncertain => (vec![], true),
    };
    (
        events.into_iter().filter(|t| reported & t == 0).collect(),
        finished,
    )
}

/// `%A` for a DLR type: Kannel's SMSC answer texts.
fn dlr_reply(kind: u8, error: Option<&str>) -> String {
    match kind {
        dlr::DELIVERED => "DELIVRD".to_owned(),
        dlr::UNDELIVERED => format!("UNDELIV/{}", error.unwrap_or("")),
        dlr::SMSC_SUCCESS => "ACK/".to_owned(),
        _ => format!("NACK/{}", error.unwrap_or("")),
    }
}

/// Calls `dlr-url`s (HTTP GET, any HTTP answer counts as done, as in Kannel) until `shutdown`.
pub async fn run_dlr_worker(gateway: Gateway, client: reqwest::Client, shutdown: CancellationToken) {
    let notify = gateway.webhooks_due();
    loop {
        let notified = notify.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        match gateway.store().kannel_dlr_due(gateway.now_ms(), DLR_BATCH).await {
            Ok(due) => {
                for d in due {
                    handle_dlr(&gateway, &client, d).await;
                }
            }
            Err(error) => tracing::warn!(%error, "cannot read Kannel DLR subscriptions"),
        }
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = &mut notified => {
                tokio::select! {
                    () = shutdown.cancelled() => return,
                    () = tokio::time::sleep(DLR_WAKE_COALESCE) => {}
                }
            }
            () = tokio::time::sleep(DLR_POLL) => {}
        }
    }
}

async fn handle_dlr(gateway: &Gateway, client: &reqwest::Client, d: KannelDlrDue) {
    let (events, finished) = dlr_events(d.status, d.delivery_report, d.reported);
    let mut reported = d.reported;
    let message_id = d.message_id.to_string();
    for kind in events {
        if d.mask & kind != 0 {
            let url = expand_dlr_url(
                &d.url,
                &DlrValues {
                    kind,
                    to: &d.recipient,
                    from: d.sender.as_deref().unwrap_or(""),
                    time: time::OffsetDateTime::now_utc().unix_timestamp(),
                    reply: &dlr_reply(kind, d.error.as_deref()),
                    message_id: &message_id,
                    smsc: d.modem.as_deref().unwrap_or(""),
                },
            );
            if let Err(error) = client.get(&url).send().await {
                let attempts = d.attempts.saturating_add(1);
                let next = (attempts < DLR_MAX_ATTEMPTS).then(|| {
                    let delay = DLR_FIRST_RETRY.saturating_mul(1 << attempts.min(16));
                    gateway
                        .now_ms()
                        .saturating_add(i64::try_from(delay.as_millis()).unwrap_or(i64::MAX))
                });
                tracing::info!(msg_id = %d.message_id, error = %error.without_url(), attempts, "dlr-url call failed");
                if let Err(e) = gateway
                    .store()
                    .kannel_dlr_failed(d.message_id, reported, next)
                    .await
                {
                    tracing::warn!(error = %e, "cannot record dlr-url failure");
                }
                return;
            }
        }
        reported |= kind;
    }
    if let Err(e) = gateway
        .store()
        .kannel_dlr_reported(d.message_id, reported, d.status, finished)
        .await
    {
        tracing::warn!(error = %e, "cannot record dlr-url progress");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(q: &str) -> RawArgs {
        RawArgs::parse(q.as_bytes())
    }

    #[test]
    fn parse_table() {
        let check = |q: &str, expect: Result<(&[&str], &str), (u16, &str)>| {
            let got = parse(&args(q));
            match (got, expect) {
                (Ok(s), Ok((to, text))) => {
                    assert_eq!(s.to, to, "{q}");
                    assert_eq!(s.text, text, "{q}");
                }
                (Err(r), Err((status, body))) => {
                    assert_eq!((r.status.as_u16(), r.body.as_ref()), (status, body), "{q}");
                }
                (got, expect) => panic!("{q}: got {got:?}, expected {expect:?}"),
            }
        };
        check(
            "username=u&password=p&to=%2B48600100200&text=Hello+world",
            Ok((&["+48600100200"], "Hello world")),
        );
        check("user=u&pass=p&to=111+222&text=x", Ok((&["111", "222"], "x")));
        check(
            "username=u&password=p&to=1&text=Za%C5%BC%C3%B3%C5%82%C4%87",
            Ok((&["1"], "Zażółć")),
        );
        check(
            "username=u&password=p&to=1&text=%B3&charset=ISO-8859-1",
            Ok((&["1"], "³")),
        );
        check(
            "username=u&password=p&to=1&text=%00A%D8%3D%DE%00&coding=2",
            Ok((&["1"], "A😀")),
        );
        check(
            "username=u&password=p&to=1&text=%D8%3D&coding=2",
            Err((400, replies::CHARSET)),
        );
        check(
            "username=u&password=p&to=1&text=%FF",
            Err((400, replies::CHARSET)),
        );
        check(
            "username=u&password=p&to=1&text=x&charset=KOI8-R",
            Err((400, replies::CHARSET)),
        );
        check("password=p&to=1&text=x", Err((403, replies::AUTH_FAILED)));
        check("username=u&to=1&text=x", Err((403, replies::AUTH_FAILED)));
        check("username=u&password=p&text=x", Err((400, replies::MISSING_TO)));
        check("username=u&password=p&to=&text=x", Err((400, replies::EMPTY_TO)));
        check(
            "username=u&password=p&to=48abc&text=x",
            Err((400, replies::DENIED)),
        );
        check(
            "username=u&password=p&to=1&text=x&coding=3",
            Err((400, replies::CODING)),
        );
        check(
            "username=u&password=p&to=1&text=x&dlr-mask=64",
            Err((400, replies::DLR_MASK)),
        );
        check(
            "username=u&password=p&to=1&text=x&dlr-mask=abc",
            Err((400, replies::DLR_MASK)),
        );
        check(
            "username=u&password=p&to=1&text=x&dlr-url=ftp://x",
            Err((400, replies::DLR_URL)),
        );
    }

    #[test]
    fn options_and_headers() {
        let s = parse(&args(
            "username=u&password=p+q&to=1&text=x&from=Shop&coding=0&dlr-mask=31&dlr-url=http%3A%2F%2Fh%2Fd%3Ft%3D%25d",
        ))
        .unwrap();
        assert_eq!(s.password, "p q");
        assert_eq!(s.from.as_deref(), Some("Shop"));
        assert_eq!(s.coding, Some(Coding::SevenBit));
        assert_eq!(s.dlr_mask, Some(31));
        assert_eq!(s.dlr_url.as_deref(), Some("http://h/d?t=%d"));

        let mut headers = HeaderMap::new();
        headers.insert("x-kannel-username", HeaderValue::from_static("u"));
        headers.insert("x-kannel-password", HeaderValue::from_static("p"));
        headers.insert("x-kannel-to", HeaderValue::from_static("123 456"));
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; charset=ISO-8859-1"),
        );
        let s = parse(&RawArgs::from_headers(&headers, b"caf\xe9")).unwrap();
        assert_eq!((s.to.len(), s.text.as_str()), (2, "café"));
    }

    #[test]
    fn dlr_events_table() {
        use crate::store::MessageStatus as S;
        let check = |status, dr, reported, expect: (&[u8], bool)| {
            assert_eq!(
                dlr_events(status, dr, reported),
                (expect.0.to_vec(), expect.1),
                "{status:?} {dr} {reported}"
            );
        };
        check(S::Sent, true, 0, (&[8], false));
        check(S::Sent, false, 0, (&[8], true));
        check(S::Delivered, true, 0, (&[8, 1], true));
        check(S::Delivered, true, 8, (&[1], true));
        check(S::Failed, true, 8, (&[2], true));
        check(S::Failed, false, 0, (&[16], true));
        check(S::Expired, false, 0, (&[16], true));
        check(S::Uncertain, false, 0, (&[], true));
    }

    #[test]
    fn dlr_url_expansion() {
        let v = DlrValues {
            kind: dlr::DELIVERED,
            to: "+48600100200",
            from: "Shop",
            time: 1_700_000_000,
            reply: "id:1 stat:DELIVRD",
            message_id: "m1",
            smsc: "modem-1",
        };
        let check = |t: &str, expect: &str| assert_eq!(expand_dlr_url(t, &v), expect, "{t}");
        check(
            "http://h/dlr?type=%d&to=%p&ts=%T",
            "http://h/dlr?type=1&to=%2B48600100200&ts=1700000000",
        );
        check(
            "http://h/?a=%A&x=%%&y=%z&id=%I",
            "http://h/?a=id%3A1%20stat%3ADELIVRD&x=%&y=%z&id=m1",
        );
        check("http://h/%", "http://h/%");
    }
}
