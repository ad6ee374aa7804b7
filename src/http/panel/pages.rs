//! Panel page handlers: each reads its input, calls one or two [`crate::app::Gateway`] methods as the
//! logged-in [`PanelUser`], and renders a template. POSTs answer with a redirect (post/redirect/get) or
//! re-render the form with the error and the user's input.
use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use askama::Template;
use axum::Extension;
use axum::extract::{FromRequestParts, Path, Query, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use time::OffsetDateTime;

use super::i18n::{Lang, Tr};
use super::session::{self, LANG_COOKIE, LOGIN_CSRF_COOKIE, SESSION_COOKIE, Sessions, set_cookie};
use super::{Chrome, CsrfForm, PanelError, PanelUser, html};
use crate::app::{
    AppError, EncodingChoice, InboxFilter, MessageFilter, MessageId, MessageStatus, Role, SubmitRequest,
};
use crate::auth::{Credentials, PasswordPolicy};
use crate::http::ApiState;
use crate::http::caller::{authenticate, peer_of};
use crate::pdu;
use crate::store::AccountId;

/// Lifetime of the language cookie.
const LANG_COOKIE_AGE: Duration = Duration::from_secs(365 * 24 * 3600);
/// Most rows a list page shows.
const LIST_LIMIT: u32 = 100;
/// Most messages the dashboard counts over (the store pages at 1000).
const DASHBOARD_LIMIT: u32 = 1000;
/// Rows of the audit page.
const AUDIT_LIMIT: u32 = 200;

/// The request's language, from its cookie.
pub struct PageLang(pub Lang);

impl<S: Send + Sync> FromRequestParts<S> for PageLang {
    type Rejection = std::convert::Infallible;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(PageLang(super::lang_of(parts)))
    }
}

/// The socket peer of the request.
pub struct Peer(pub IpAddr);

impl<S: Send + Sync> FromRequestParts<S> for Peer {
    type Rejection = std::convert::Infallible;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Peer(peer_of(parts)))
    }
}

pub(super) fn fmt_time(t: OffsetDateTime) -> String {
    let f = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]:[second] UTC");
    t.to_offset(time::UtcOffset::UTC)
        .format(&f)
        .unwrap_or_else(|_| t.to_string())
}

fn fmt_opt(t: Option<OffsetDateTime>) -> String {
    t.map(fmt_time).unwrap_or_else(|| "—".into())
}

pub(super) trait OrPanel<T> {
    fn or_panel(self, lang: Lang) -> Result<T, PanelError>;
}

impl<T> OrPanel<T> for Result<T, AppError> {
    fn or_panel(self, lang: Lang) -> Result<T, PanelError> {
        self.map_err(|e| PanelError::app(e, lang))
    }
}

pub(super) fn see_other(to: &str) -> Response {
    Redirect::to(to).into_response()
}

// ---- login / logout / language ----

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage {
    c: Chrome,
    login: String,
}

#[derive(Debug, Deserialize, Default)]
pub struct LoginQuery {
    #[serde(default)]
    expired: Option<String>,
    #[serde(default)]
    out: Option<String>,
    #[serde(default)]
    changed: Option<String>,
    #[serde(default)]
    deleted: Option<String>,
}

/// Renders the login form with a fresh double-submit CSRF token (cookie + hidden field).
fn login_form(
    lang: Lang,
    login: String,
    notice: Option<String>,
    error: Option<String>,
    status: StatusCode,
) -> Result<Response, PanelError> {
    let token = session::random_token();
    let mut c = Chrome::public(lang, "login");
    c.csrf = token.clone();
    c.notice = notice;
    c.error = error;
    let page = LoginPage { c, login };
    Ok((
        status,
        [(header::SET_COOKIE, set_cookie(LOGIN_CSRF_COOKIE, &token, None))],
        axum::response::Html(page.render()?),
    )
        .into_response())
}

pub async fn login_page(
    PageLang(lang): PageLang,
    Query(q): Query<LoginQuery>,
) -> Result<Response, PanelError> {
    let t = Tr(lang);
    let notice = if q.expired.is_some() {
        Some(t.s("login.expired"))
    } else if q.out.is_some() {
        Some(t.s("login.logged_out"))
    } else if q.changed.is_some() {
        Some(t.s("me.changed"))
    } else if q.deleted.is_some() {
        Some(t.s("del.done"))
    } else {
        None
    };
    login_form(
        lang,
        String::new(),
        notice.map(str::to_owned),
        None,
        StatusCode::OK,
    )
}

#[derive(Deserialize)]
pub struct LoginForm {
    login: String,
    password: String,
    #[serde(default)]
    csrf: String,
}

/// Checks the password with the API's authenticator (same backoff, lockout and audit), then starts a
/// session with a new id.
pub async fn login(
    State(state): State<ApiState>,
    Extension(sessions): Extension<Arc<Sessions>>,
    PageLang(lang): PageLang,
    Peer(peer): Peer,
    origin: crate::http::caller::Origin,
    headers: HeaderMap,
    axum::Form(form): axum::Form<LoginForm>,
) -> Result<Response, PanelError> {
    let t = Tr(lang);
    let cookie_token = headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|h| session::cookie(h, LOGIN_CSRF_COOKIE))
        .unwrap_or_default();
    if !session::tokens_match(cookie_token, &form.csrf) {
        return Err(PanelError::Csrf(lang));
    }
    let credentials = Credentials::Password {
        login: form.login.clone(),
        password: form.password,
    };
    // All three stages, as on every other surface; a refused stage reads like a wrong password.
    let authenticated = match authenticate(&state, &credentials, origin.client).await {
        Ok(caller) => crate::http::caller::enforce_origin(&state, &caller.principal, &origin)
            .await
            .map(|()| caller),
        Err(problem) => Err(problem),
    };
    match authenticated {
        Ok(caller) => {
            let (id, _) = sessions.create(caller.principal.account_id, Instant::now());
            state
                .gateway
                .audit(
                    Some(&caller.principal),
                    Some(caller.principal.account_id),
                    Some(peer.to_string()),
                    "panel.login",
                    None,
                )
                .await;
            let mut response = see_other("/panel/dashboard");
            let h = response.headers_mut();
            for c in [
                set_cookie(SESSION_COOKIE, &id, None),
                set_cookie(LOGIN_CSRF_COOKIE, "", Some(Duration::ZERO)),
            ] {
                if let Ok(v) = c.parse() {
                    h.append(header::SET_COOKIE, v);
                }
            }
            Ok(response)
        }
        Err(problem) => {
            let (status, message) = match problem.status {
                StatusCode::TOO_MANY_REQUESTS => (
                    StatusCode::TOO_MANY_REQUESTS,
                    format!(
                        "{} {} {}",
                        t.s("login.locked"),
                        problem.retry_after.unwrap_or(1),
                        t.s("login.seconds")
                    ),
                ),
                StatusCode::SERVICE_UNAVAILABLE => (
                    StatusCode::SERVICE_UNAVAILABLE,
                    t.s("login.unavailable").to_owned(),
                ),
                _ => (StatusCode::UNAUTHORIZED, t.s("login.failed").to_owned()),
            };
            login_form(lang, form.login, None, Some(message), status)
        }
    }
}

#[derive(Deserialize)]
pub struct Empty {}

pub async fn logout(State(state): State<ApiState>, f: CsrfForm<Empty>) -> Response {
    let user = f.user;
    user.sessions.remove(&user.session_id);
    state
        .gateway
        .audit(
            Some(&user.principal),
            Some(user.principal.account_id),
            Some(user.peer.to_string()),
            "panel.logout",
            None,
        )
        .await;
    (
        [(
            header::SET_COOKIE,
            set_cookie(SESSION_COOKIE, "", Some(Duration::ZERO)),
        )],
        Redirect::to("/panel/login?out=1"),
    )
        .into_response()
}

#[derive(Deserialize)]
pub struct LangQuery {
    set: String,
    #[serde(default)]
    next: String,
}

/// Sets the language cookie and goes back to the page (only panel paths: no open redirect).
pub async fn set_language(Query(q): Query<LangQuery>) -> Response {
    let lang = Lang::parse(&q.set).unwrap_or_default();
    let next = if q.next.starts_with("/panel/") && !q.next.starts_with("//") && !q.next.contains('\\') {
        q.next
    } else {
        "/panel/dashboard".to_owned()
    };
    (
        [(
            header::SET_COOKIE,
            set_cookie(LANG_COOKIE, lang.code(), Some(LANG_COOKIE_AGE)),
        )],
        Redirect::to(&next),
    )
        .into_response()
}

// ---- dashboard ----

struct Row {
    id: String,
    recipient: String,
    status: String,
    parts: u32,
    created: String,
    text: String,
}

fn row(m: &crate::app::Message) -> Row {
    Row {
        id: m.id.to_string(),
        recipient: m.recipient.clone(),
        status: m.status.as_str().to_owned(),
        parts: m.parts,
        created: fmt_time(m.created_at),
        text: preview(&m.text),
    }
}

/// First characters of a text for a list.
fn preview(text: &str) -> String {
    const PREVIEW_CHARS: usize = 60;
    let mut s: String = text.chars().take(PREVIEW_CHARS).collect();
    if text.chars().count() > PREVIEW_CHARS {
        s.push('…');
    }
    s
}

#[derive(Template)]
#[template(path = "dashboard.html")]
struct DashboardPage {
    c: Chrome,
    sent_today: usize,
    sent_month: usize,
    delivery_rate: String,
    received: usize,
    modems_up: String,
    capped: bool,
    recent: Vec<Row>,
}

/// Counts of the month so far (UTC) and today, over the newest [`DASHBOARD_LIMIT`] messages.
pub async fn dashboard(State(state): State<ApiState>, user: PanelUser) -> Result<Response, PanelError> {
    let lang = user.lang;
    let now = OffsetDateTime::now_utc();
    let today = now.replace_time(time::Time::MIDNIGHT);
    let month = today.replace_day(1).unwrap_or(today);
    let page = state
        .gateway
        .list_messages(
            &user.principal,
            MessageFilter {
                created_from: Some(crate::store::datetime_to_ms(month)),
                limit: DASHBOARD_LIMIT,
                ..MessageFilter::default()
            },
        )
        .await
        .or_panel(lang)?;
    let sent = |m: &&crate::app::Message| {
        matches!(m.status, MessageStatus::Sent | MessageStatus::Delivered)
            || (m.status == MessageStatus::Failed && m.attempts > 0)
    };
    let sent_month = page.items.iter().filter(sent).count();
    let sent_today = page
        .items
        .iter()
        .filter(sent)
        .filter(|m| m.created_at >= today)
        .count();
    let reported: Vec<_> = page.items.iter().filter(|m| m.delivery_report).collect();
    let delivered = reported
        .iter()
        .filter(|m| m.status == MessageStatus::Delivered)
        .count();
    let concluded = reported
        .iter()
        .filter(|m| matches!(m.status, MessageStatus::Delivered | MessageStatus::Failed))
        .count();
    let delivery_rate = if concluded == 0 {
        "—".to_owned()
    } else {
        format!("{:.0} %", 100.0 * delivered as f64 / concluded as f64)
    };
    let inbox = state
        .gateway
        .inbox(
            &user.principal,
            InboxFilter {
                limit: DASHBOARD_LIMIT,
                ..InboxFilter::default()
            },
        )
        .await
        .or_panel(lang)?;
    let modems = state.gateway.modems(&user.principal).await.or_panel(lang)?;
    let up = modems.iter().filter(|m| m.up).count();
    html(&DashboardPage {
        c: Chrome::of(&user, "dashboard"),
        sent_today,
        sent_month,
        delivery_rate,
        received: inbox.items.len(),
        modems_up: format!("{up} / {}", modems.len()),
        capped: page.next_cursor.is_some(),
        recent: page.items.iter().take(5).map(row).collect(),
    })
}

// ---- send ----

#[derive(Template)]
#[template(path = "send.html")]
struct SendPage {
    c: Chrome,
    recipients: String,
    text: String,
    encoding: String,
    delivery_report: bool,
}

pub async fn send_page(user: PanelUser) -> Result<Response, PanelError> {
    html(&SendPage {
        c: Chrome::of(&user, "send"),
        recipients: String::new(),
        text: String::new(),
        encoding: "auto".into(),
        delivery_report: true,
    })
}

#[derive(Deserialize)]
pub struct SendForm {
    recipients: String,
    text: String,
    #[serde(default)]
    encoding: String,
    #[serde(default)]
    delivery_report: Option<String>,
}

/// Splits the recipients field: one per line or separated by commas or semicolons.
pub fn split_recipients(field: &str) -> Vec<String> {
    field
        .split(['\n', ',', ';'])
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

pub(super) fn encoding_choice(s: &str) -> EncodingChoice {
    match s {
        "ucs2" => EncodingChoice::Ucs2,
        "gsm7" => EncodingChoice::Gsm7,
        "gsm7-transliterate" => EncodingChoice::Gsm7Transliterate,
        _ => EncodingChoice::Auto,
    }
}

pub async fn send(State(state): State<ApiState>, f: CsrfForm<SendForm>) -> Result<Response, PanelError> {
    let CsrfForm { user, form } = f;
    let mut request = SubmitRequest::new(split_recipients(&form.recipients), form.text.clone());
    request.encoding = encoding_choice(&form.encoding);
    request.delivery_report = form.delivery_report.is_some();
    let result = if request.recipients.is_empty() {
        Err(AppError::validation(
            "recipients",
            "at least one number is needed",
        ))
    } else {
        state.gateway.submit(&user.principal, request, None).await
    };
    match result {
        Ok(messages) => match messages.as_slice() {
            [one] => Ok(see_other(&format!("/panel/messages/{}?sent=1", one.id))),
            many => Ok(see_other(&format!("/panel/messages?sent={}", many.len()))),
        },
        Err(AppError::Validation { field, message }) => {
            let mut c = Chrome::of(&user, "send");
            c.error = Some(format!("{field}: {message}"));
            let page = SendPage {
                c,
                recipients: form.recipients,
                text: form.text,
                encoding: form.encoding,
                delivery_report: form.delivery_report.is_some(),
            };
            Ok((
                StatusCode::UNPROCESSABLE_ENTITY,
                axum::response::Html(page.render()?),
            )
                .into_response())
        }
        Err(e) => Err(PanelError::app(e, user.lang)),
    }
}

#[derive(Deserialize)]
pub struct CountForm {
    text: String,
    #[serde(default)]
    encoding: String,
}

/// The live counter: the encoder's own count (`pdu::count`) with the options a submit uses, so the
/// panel shows exactly the parts that will be sent.
pub async fn count(State(state): State<ApiState>, f: CsrfForm<CountForm>) -> Response {
    let opts = pdu::TextOptions {
        encoding: match encoding_choice(&f.form.encoding) {
            EncodingChoice::Auto => pdu::EncodingPolicy::Auto,
            EncodingChoice::Ucs2 => pdu::EncodingPolicy::Ucs2,
            EncodingChoice::Gsm7 => pdu::EncodingPolicy::Gsm7,
            EncodingChoice::Gsm7Transliterate => pdu::EncodingPolicy::Gsm7Transliterate,
        },
        max_parts: state.gateway.settings().dispatch.max_parts as usize,
        ..pdu::TextOptions::default()
    };
    let body = match pdu::count(&f.form.text, &opts) {
        Ok(c) => serde_json::json!({
            "alphabet": match c.alphabet { pdu::Alphabet::Gsm7 => "GSM-7", pdu::Alphabet::Ucs2 => "UCS-2", _ => "8-bit" },
            "chars": c.chars,
            "units": c.units,
            "parts": c.parts,
            "part_capacity": c.part_capacity,
            "remaining": c.remaining,
            "transliterated": c.transliterated,
        }),
        Err(e) => serde_json::json!({ "error": e.to_string() }),
    };
    axum::Json(body).into_response()
}

// ---- messages ----

#[derive(Template)]
#[template(path = "messages.html")]
struct MessagesPage {
    c: Chrome,
    rows: Vec<Row>,
    statuses: Vec<&'static str>,
    status: String,
    recipient: String,
}

#[derive(Deserialize, Default)]
pub struct MessagesQuery {
    #[serde(default)]
    status: String,
    #[serde(default)]
    recipient: String,
    #[serde(default)]
    sent: Option<usize>,
}

pub async fn messages(
    State(state): State<ApiState>,
    user: PanelUser,
    Query(q): Query<MessagesQuery>,
) -> Result<Response, PanelError> {
    let lang = user.lang;
    let status = q.status.parse::<MessageStatus>().ok();
    let page = state
        .gateway
        .list_messages(
            &user.principal,
            MessageFilter {
                status,
                recipient: Some(q.recipient.trim().to_owned()).filter(|r| !r.is_empty()),
                limit: LIST_LIMIT,
                ..MessageFilter::default()
            },
        )
        .await
        .or_panel(lang)?;
    let mut c = Chrome::of(&user, "messages");
    c.notice = q.sent.map(|n| format!("{}: {n}", Tr(lang).s("send.accepted")));
    html(&MessagesPage {
        c,
        rows: page.items.iter().map(row).collect(),
        statuses: MessageStatus::ALL.iter().map(|s| s.as_str()).collect(),
        status: status.map(|s| s.as_str().to_owned()).unwrap_or_default(),
        recipient: q.recipient,
    })
}

struct PartRow {
    seq: u32,
    status: String,
    modem: String,
    sent_at: String,
    delivered_at: String,
    report: String,
}

struct AttemptRow {
    modem: String,
    started: String,
    finished: String,
    error: String,
}

#[derive(Template)]
#[template(path = "message.html")]
struct MessagePage {
    c: Chrome,
    id: String,
    recipient: String,
    status: String,
    encoding: String,
    text: String,
    created: String,
    delivery_report: bool,
    cancellable: bool,
    parts: Vec<PartRow>,
    attempts: Vec<AttemptRow>,
}

fn parse_message_id(id: &str, lang: Lang) -> Result<MessageId, PanelError> {
    id.parse::<MessageId>()
        .map_err(|_| PanelError::app(AppError::NotFound("message"), lang))
}

pub async fn message(
    State(state): State<ApiState>,
    user: PanelUser,
    Path(id): Path<String>,
    Query(q): Query<MessagesQuery>,
) -> Result<Response, PanelError> {
    let lang = user.lang;
    let id = parse_message_id(&id, lang)?;
    // Scoped by the gateway: another client's id is NotFound, never its data.
    let d = state.gateway.message(&user.principal, id).await.or_panel(lang)?;
    let mut c = Chrome::of(&user, "messages");
    c.notice = q.sent.map(|_| Tr(lang).s("send.accepted").to_owned());
    let m = &d.message;
    html(&MessagePage {
        c,
        id: m.id.to_string(),
        recipient: m.recipient.clone(),
        status: m.status.as_str().to_owned(),
        encoding: m.encoding.as_str().to_owned(),
        text: m.text.clone(),
        created: fmt_time(m.created_at),
        delivery_report: m.delivery_report,
        cancellable: m.status == MessageStatus::Queued,
        parts: d
            .part_list
            .iter()
            .map(|p| PartRow {
                seq: p.seq,
                status: p.status.as_str().to_owned(),
                modem: p.modem.clone().unwrap_or_else(|| "—".into()),
                sent_at: fmt_opt(p.sent_at),
                delivered_at: fmt_opt(p.delivered_at),
                report: p
                    .report_status
                    .map(|s| format!("0x{s:02X}"))
                    .unwrap_or_else(|| "—".into()),
            })
            .collect(),
        attempts: d
            .attempt_list
            .iter()
            .map(|a| AttemptRow {
                modem: a.modem.clone(),
                started: fmt_time(a.started_at),
                finished: fmt_opt(a.finished_at),
                error: a.error.clone().unwrap_or_default(),
            })
            .collect(),
    })
}

pub async fn cancel(
    State(state): State<ApiState>,
    Path(id): Path<String>,
    f: CsrfForm<Empty>,
) -> Result<Response, PanelError> {
    let lang = f.user.lang;
    let id = parse_message_id(&id, lang)?;
    state
        .gateway
        .cancel_message(&f.user.principal, id)
        .await
        .or_panel(lang)?;
    Ok(see_other(&format!("/panel/messages/{id}")))
}

// ---- inbox ----

struct InboxRow {
    from: String,
    text: String,
    received: String,
    modem: String,
    incomplete: bool,
    /// `true` for our own outgoing messages in a conversation view.
    outgoing: bool,
    status: String,
}

#[derive(Template)]
#[template(path = "inbox.html")]
struct InboxPage {
    c: Chrome,
    rows: Vec<InboxRow>,
    conversation: Option<String>,
}

#[derive(Deserialize, Default)]
pub struct InboxQuery {
    #[serde(default)]
    from: String,
}

/// The inbox; with `from`, a conversation: what that number sent and what was sent to it, by time.
pub async fn inbox(
    State(state): State<ApiState>,
    user: PanelUser,
    Query(q): Query<InboxQuery>,
) -> Result<Response, PanelError> {
    let lang = user.lang;
    let from = Some(q.from.trim().to_owned()).filter(|f| !f.is_empty());
    let page = state
        .gateway
        .inbox(
            &user.principal,
            InboxFilter {
                originator: from.clone(),
                limit: LIST_LIMIT,
                ..InboxFilter::default()
            },
        )
        .await
        .or_panel(lang)?;
    let mut rows: Vec<(OffsetDateTime, InboxRow)> = page
        .items
        .iter()
        .map(|m| {
            (
                m.received_at,
                InboxRow {
                    from: m.originator.clone(),
                    text: m.text.clone(),
                    received: fmt_time(m.received_at),
                    modem: m.modem.clone(),
                    incomplete: m.incomplete,
                    outgoing: false,
                    status: String::new(),
                },
            )
        })
        .collect();
    if let Some(number) = &from {
        let sent = state
            .gateway
            .list_messages(
                &user.principal,
                MessageFilter {
                    recipient: Some(number.clone()),
                    limit: LIST_LIMIT,
                    ..MessageFilter::default()
                },
            )
            .await
            .or_panel(lang)?;
        rows.extend(sent.items.iter().map(|m| {
            (
                m.created_at,
                InboxRow {
                    from: m.recipient.clone(),
                    text: m.text.clone(),
                    received: fmt_time(m.created_at),
                    modem: String::new(),
                    incomplete: false,
                    outgoing: true,
                    status: m.status.as_str().to_owned(),
                },
            )
        }));
        rows.sort_by_key(|(t, _)| *t);
    }
    html(&InboxPage {
        c: Chrome::of(&user, "inbox"),
        rows: rows.into_iter().map(|(_, r)| r).collect(),
        conversation: from,
    })
}

// ---- modems (operators) ----

/// One modem as the bank table shows it.
pub struct ModemRow {
    /// Id (IMEI once known) for the link to the modem's page.
    id: String,
    name: String,
    up: bool,
    phase: String,
    signal: String,
    bars: u8,
    operator: String,
    registration: String,
    imei: String,
    iccid: String,
    group: String,
    sent: u64,
    received: u64,
    errors: u64,
    last_error: String,
    updated: String,
}

/// Signal bars (0–4) for `+CSQ` RSSI 0..31 (TS 27.007 §8.5: 0 ≤ −113 dBm … 31 ≥ −51 dBm).
pub fn signal_bars(rssi: Option<u8>) -> u8 {
    /// RSSI thresholds of 1, 2, 3 and 4 bars (≈ −107, −97, −87, −77 dBm).
    const BAR_THRESHOLDS: [u8; 4] = [3, 8, 13, 18];
    match rssi {
        Some(r) if r <= 31 => BAR_THRESHOLDS.iter().filter(|&&t| r >= t).count() as u8,
        _ => 0,
    }
}

/// `+CREG` stat as words (TS 27.007 §7.2).
fn registration(stat: Option<u64>) -> &'static str {
    match stat {
        Some(1) => "home",
        Some(5) => "roaming",
        Some(2) => "searching",
        Some(3) => "denied",
        Some(0) => "not registered",
        _ => "—",
    }
}

fn modem_row(m: &crate::app::ModemRecord) -> ModemRow {
    let s = &m.state;
    let text = |k: &str| s.get(k).and_then(|v| v.as_str()).unwrap_or("—").to_owned();
    let rssi = s
        .get("signal")
        .and_then(|v| v.as_u64())
        .and_then(|v| u8::try_from(v).ok());
    ModemRow {
        id: m.id.clone(),
        name: m.name.clone().unwrap_or_else(|| m.id.clone()),
        up: m.up,
        phase: text("phase"),
        signal: rssi.map(|r| r.to_string()).unwrap_or_else(|| "—".into()),
        bars: signal_bars(rssi),
        operator: text("operator"),
        registration: registration(s.get("registration").and_then(|v| v.as_u64())).to_owned(),
        imei: text("imei"),
        iccid: text("iccid"),
        group: m.group.clone().unwrap_or_else(|| "—".into()),
        sent: m.sent_parts,
        received: m.received,
        errors: m.errors,
        last_error: s
            .get("last_error")
            .and_then(|v| v.as_str())
            .unwrap_or("")
            .to_owned(),
        updated: fmt_time(m.updated_at),
    }
}

#[derive(Template)]
#[template(path = "modems.html")]
struct ModemsPage {
    c: Chrome,
    t: Tr,
    rows: Vec<ModemRow>,
    sim_count: u32,
}

#[derive(Template)]
#[template(path = "modem_rows.html")]
struct ModemRowsFragment {
    t: Tr,
    rows: Vec<ModemRow>,
}

async fn modem_rows_of(state: &ApiState, user: &PanelUser) -> Result<Vec<ModemRow>, PanelError> {
    state
        .gateway
        .require_operator(&user.principal)
        .or_panel(user.lang)?;
    let modems = state.gateway.modems(&user.principal).await.or_panel(user.lang)?;
    Ok(modems.iter().map(modem_row).collect())
}

#[derive(Deserialize, Default)]
pub struct ModemsQuery {
    #[serde(default)]
    injected: Option<String>,
}

pub async fn modems(
    State(state): State<ApiState>,
    user: PanelUser,
    Query(q): Query<ModemsQuery>,
) -> Result<Response, PanelError> {
    let rows = modem_rows_of(&state, &user).await?;
    let mut c = Chrome::of(&user, "modems");
    c.notice = q.injected.map(|_| Tr(user.lang).s("sim.done").to_owned());
    let sim_count = if state.gateway.sim_control().await.is_some() {
        state.gateway.settings().sim.count.max(1)
    } else {
        0
    };
    html(&ModemsPage {
        c,
        t: Tr(user.lang),
        rows,
        sim_count,
    })
}

/// The table body alone, polled by the modems page.
pub async fn modem_rows(State(state): State<ApiState>, user: PanelUser) -> Result<Response, PanelError> {
    let rows = modem_rows_of(&state, &user).await?;
    html(&ModemRowsFragment {
        t: Tr(user.lang),
        rows,
    })
}

#[derive(Deserialize)]
pub struct InjectForm {
    modem: usize,
    from: String,
    text: String,
}

/// Operators, simulated bank only: delivers an SMS to a simulated modem as if the network sent it.
pub async fn sim_inject(
    State(state): State<ApiState>,
    f: CsrfForm<InjectForm>,
) -> Result<Response, PanelError> {
    let CsrfForm { user, form } = f;
    let lang = user.lang;
    state.gateway.require_operator(&user.principal).or_panel(lang)?;
    let control = state
        .gateway
        .sim_control()
        .await
        .ok_or_else(|| PanelError::app(AppError::NotFound("simulated modem bank"), lang))?;
    control
        .inject_sms(form.modem, &form.from, &form.text)
        .map_err(|e| PanelError::app(AppError::validation("modem", e.to_string()), lang))?;
    state
        .gateway
        .audit(
            Some(&user.principal),
            None,
            Some(user.peer.to_string()),
            "sim.inject",
            Some(format!("modem={} from={}", form.modem, form.from)),
        )
        .await;
    Ok(see_other("/panel/modems?injected=1"))
}

#[derive(Deserialize)]
pub struct PlugForm {
    modem: usize,
    action: String,
}

/// Operators, simulated bank only: unplugs or replugs a simulated modem (to rehearse failures).
pub async fn sim_plug(State(state): State<ApiState>, f: CsrfForm<PlugForm>) -> Result<Response, PanelError> {
    let CsrfForm { user, form } = f;
    let lang = user.lang;
    state.gateway.require_operator(&user.principal).or_panel(lang)?;
    let control = state
        .gateway
        .sim_control()
        .await
        .ok_or_else(|| PanelError::app(AppError::NotFound("simulated modem bank"), lang))?;
    let result = match form.action.as_str() {
        "unplug" => control.unplug(form.modem).await,
        "replug" => control.replug(form.modem).await,
        _ => {
            return Err(PanelError::app(
                AppError::validation("action", "must be unplug or replug"),
                lang,
            ));
        }
    };
    result.map_err(|e| PanelError::app(AppError::validation("modem", e.to_string()), lang))?;
    state
        .gateway
        .audit(
            Some(&user.principal),
            None,
            Some(user.peer.to_string()),
            &format!("sim.{}", form.action),
            Some(format!("modem={}", form.modem)),
        )
        .await;
    Ok(see_other("/panel/modems"))
}

// ---- API tokens ----

struct TokenRow {
    id: String,
    name: String,
    scopes: String,
    expires: String,
    revoked: bool,
}

#[derive(Template)]
#[template(path = "tokens.html")]
struct TokensPage {
    c: Chrome,
    rows: Vec<TokenRow>,
    scopes: Vec<&'static str>,
    /// The plaintext of a token just created (shown once).
    created: Option<String>,
}

async fn tokens_page(
    state: &ApiState,
    user: &PanelUser,
    c: Chrome,
    created: Option<String>,
) -> Result<Response, PanelError> {
    let tokens = state.gateway.tokens(&user.principal).await.or_panel(user.lang)?;
    html(&TokensPage {
        c,
        rows: tokens
            .iter()
            .map(|t| TokenRow {
                id: t.id.0.to_string(),
                name: t.name.clone(),
                scopes: t.scopes.clone(),
                expires: t
                    .expires_at
                    .map(fmt_time)
                    .unwrap_or_else(|| Tr(user.lang).s("tok.never").to_owned()),
                revoked: t.revoked,
            })
            .collect(),
        scopes: crate::auth::Scope::ALL.iter().map(|s| s.as_str()).collect(),
        created,
    })
}

/// Session slot of a token's plaintext between its creation (POST) and the page showing it once (GET).
const NEW_TOKEN_FLASH: &str = "new_token";
/// Session slot of a webhook's signing secret, likewise.
const NEW_WEBHOOK_FLASH: &str = "new_webhook_secret";

pub async fn tokens(State(state): State<ApiState>, user: PanelUser) -> Result<Response, PanelError> {
    let c = Chrome::of(&user, "tokens");
    // Taken, not read: a reload of the page no longer shows the plaintext.
    let created = user
        .sessions
        .take_flash::<String>(&user.session_id, NEW_TOKEN_FLASH, Instant::now())
        .map(|s| s.as_ref().clone());
    tokens_page(&state, &user, c, created).await
}

/// Longest token lifetime offered (days); the API allows the same ten years.
const MAX_TOKEN_DAYS: u64 = 3660;

/// Creates a token: the body is read as pairs because `scope` repeats (one per ticked box).
pub async fn create_token(
    State(state): State<ApiState>,
    f: CsrfForm<Vec<(String, String)>>,
) -> Result<Response, PanelError> {
    let CsrfForm { user, form } = f;
    let lang = user.lang;
    let field = |name: &str| {
        form.iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.trim().to_owned())
            .unwrap_or_default()
    };
    let mut scopes = std::collections::BTreeSet::new();
    for (_, v) in form.iter().filter(|(k, _)| k == "scope") {
        scopes.insert(
            v.parse::<crate::auth::Scope>()
                .map_err(|m| PanelError::app(AppError::validation("scope", m), lang))?,
        );
    }
    let days = field("expires_days");
    let expires_at = match days.parse::<u64>() {
        _ if days.is_empty() => None,
        Ok(d) if (1..=MAX_TOKEN_DAYS).contains(&d) => {
            Some(OffsetDateTime::now_utc() + time::Duration::days(d as i64))
        }
        _ => {
            return Err(PanelError::app(
                AppError::validation("expires_days", format!("must be 1 to {MAX_TOKEN_DAYS}")),
                lang,
            ));
        }
    };
    let new = crate::auth::token::generate();
    let result = state
        .gateway
        .create_token(
            &user.principal,
            crate::app::NewToken {
                token_hash: new.hash,
                name: field("name"),
                scopes: crate::auth::Scopes(scopes).to_string(),
                expires_at,
            },
        )
        .await;
    let mut c = Chrome::of(&user, "tokens");
    match result {
        // Post/redirect/get: the plaintext waits in the session for the one GET that shows it, so a
        // reload neither creates a second token nor shows this one again.
        Ok(_) => {
            user.sessions
                .put_flash(&user.session_id, NEW_TOKEN_FLASH, new.plaintext, Instant::now());
            Ok(see_other("/panel/tokens"))
        }
        Err(AppError::Validation { field, message }) => {
            c.error = Some(format!("{field}: {message}"));
            tokens_page(&state, &user, c, None).await
        }
        Err(e) => Err(PanelError::app(e, lang)),
    }
}

pub async fn revoke_token(
    State(state): State<ApiState>,
    Path(id): Path<String>,
    f: CsrfForm<Empty>,
) -> Result<Response, PanelError> {
    let lang = f.user.lang;
    let id = id
        .parse::<i64>()
        .map(crate::app::TokenId)
        .map_err(|_| PanelError::app(AppError::NotFound("token"), lang))?;
    state
        .gateway
        .revoke_token(&f.user.principal, id)
        .await
        .or_panel(lang)?;
    Ok(see_other("/panel/tokens"))
}

// ---- webhooks ----

struct WebhookRow {
    id: i64,
    url: String,
    events: String,
    created: String,
}

#[derive(Template)]
#[template(path = "webhooks.html")]
struct WebhooksPage {
    c: Chrome,
    rows: Vec<WebhookRow>,
    events: Vec<&'static str>,
    /// The signing secret of a webhook just created (shown once).
    created: Option<String>,
}

async fn webhooks_page(
    state: &ApiState,
    user: &PanelUser,
    c: Chrome,
    created: Option<String>,
) -> Result<Response, PanelError> {
    let hooks = state
        .gateway
        .webhooks(&user.principal)
        .await
        .or_panel(user.lang)?;
    html(&WebhooksPage {
        c,
        rows: hooks
            .iter()
            .map(|w| WebhookRow {
                id: w.id.0,
                url: w.url.clone(),
                events: w.events.iter().map(|e| e.as_str()).collect::<Vec<_>>().join(" "),
                created: fmt_time(w.created_at),
            })
            .collect(),
        events: crate::app::EventType::ALL.iter().map(|e| e.as_str()).collect(),
        created,
    })
}

pub async fn webhooks(State(state): State<ApiState>, user: PanelUser) -> Result<Response, PanelError> {
    let c = Chrome::of(&user, "webhooks");
    let created = user
        .sessions
        .take_flash::<String>(&user.session_id, NEW_WEBHOOK_FLASH, Instant::now())
        .map(|s| s.as_ref().clone());
    webhooks_page(&state, &user, c, created).await
}

/// Creates a webhook with a generated signing secret (`event` repeats: one per ticked box).
pub async fn create_webhook(
    State(state): State<ApiState>,
    f: CsrfForm<Vec<(String, String)>>,
) -> Result<Response, PanelError> {
    let CsrfForm { user, form } = f;
    let lang = user.lang;
    let mut events = Vec::new();
    for (_, v) in form.iter().filter(|(k, _)| k == "event") {
        events.push(
            v.parse::<crate::app::EventType>()
                .map_err(|e| PanelError::app(AppError::validation("event", e.to_string()), lang))?,
        );
    }
    let url = form
        .iter()
        .find(|(k, _)| k == "url")
        .map(|(_, v)| v.trim().to_owned())
        .unwrap_or_default();
    let secret = format!("whsec_{}", session::random_token());
    let result = state
        .gateway
        .create_webhook(
            &user.principal,
            crate::app::NewWebhook {
                url,
                secret: secret.clone(),
                events,
            },
        )
        .await;
    let mut c = Chrome::of(&user, "webhooks");
    match result {
        Ok(_) => {
            user.sessions
                .put_flash(&user.session_id, NEW_WEBHOOK_FLASH, secret, Instant::now());
            Ok(see_other("/panel/webhooks"))
        }
        Err(AppError::Validation { field, message }) => {
            c.error = Some(format!("{field}: {message}"));
            webhooks_page(&state, &user, c, None).await
        }
        Err(e) => Err(PanelError::app(e, lang)),
    }
}

pub async fn delete_webhook(
    State(state): State<ApiState>,
    Path(id): Path<i64>,
    f: CsrfForm<Empty>,
) -> Result<Response, PanelError> {
    state
        .gateway
        .delete_webhook(&f.user.principal, crate::app::WebhookId(id))
        .await
        .or_panel(f.user.lang)?;
    Ok(see_other("/panel/webhooks"))
}

// ---- accounts (admin) ----

struct AccountRow {
    id: i64,
    login: String,
    role: String,
    disabled: bool,
    created: String,
}

#[derive(Template)]
#[template(path = "accounts.html")]
struct AccountsPage {
    c: Chrome,
    rows: Vec<AccountRow>,
}

async fn accounts_page(
    state: &ApiState,
    user: &PanelUser,
    mut c: Chrome,
    status: StatusCode,
) -> Result<Response, PanelError> {
    let accounts = state
        .gateway
        .accounts(&user.principal)
        .await
        .or_panel(user.lang)?;
    c.nav = "accounts";
    let page = AccountsPage {
        c,
        rows: accounts
            .iter()
            .map(|a| AccountRow {
                id: a.id.0,
                login: a.login.clone(),
                role: a.role.as_str().to_owned(),
                disabled: a.disabled,
                created: fmt_time(a.created_at),
            })
            .collect(),
    };
    Ok((status, axum::response::Html(page.render()?)).into_response())
}

#[derive(Deserialize, Default)]
pub struct AccountsQuery {
    #[serde(default)]
    created: Option<String>,
}

pub async fn accounts(
    State(state): State<ApiState>,
    user: PanelUser,
    Query(q): Query<AccountsQuery>,
) -> Result<Response, PanelError> {
    let mut c = Chrome::of(&user, "accounts");
    c.notice = q.created.map(|_| Tr(user.lang).s("acc.created").to_owned());
    accounts_page(&state, &user, c, StatusCode::OK).await
}

#[derive(Deserialize)]
pub struct NewAccountForm {
    login: String,
    password: String,
    role: String,
}

pub async fn create_account(
    State(state): State<ApiState>,
    f: CsrfForm<NewAccountForm>,
) -> Result<Response, PanelError> {
    let CsrfForm { user, form } = f;
    let lang = user.lang;
    let result: Result<(), AppError> = async {
        let role = form
            .role
            .parse::<Role>()
            .map_err(|e| AppError::validation("role", e.to_string()))?;
        PasswordPolicy::default()
            .check(&form.login, &form.password)
            .map_err(|e| AppError::validation("password", e.to_string()))?;
        let hash = state
            .auth
            .hasher()
            .hash_blocking(form.password.clone())
            .await
            .map_err(|e| AppError::Internal(e.to_string()))?;
        state
            .gateway
            .create_account(Some(&user.principal), &form.login, hash, role)
            .await?;
        Ok(())
    }
    .await;
    match result {
        Ok(()) => Ok(see_other("/panel/accounts?created=1")),
        Err(e @ (AppError::Validation { .. } | AppError::Conflict(_))) => {
            let mut c = Chrome::of(&user, "accounts");
            c.error = Some(match e {
                AppError::Validation { field, message } => format!("{field}: {message}"),
                other => other.to_string(),
            });
            accounts_page(&state, &user, c, StatusCode::UNPROCESSABLE_ENTITY).await
        }
        Err(e) => Err(PanelError::app(e, lang)),
    }
}

#[derive(Deserialize)]
pub struct AccountStateForm {
    disabled: String,
}

pub async fn set_account_state(
    State(state): State<ApiState>,
    Path(id): Path<i64>,
    f: CsrfForm<AccountStateForm>,
) -> Result<Response, PanelError> {
    let disabled = f.form.disabled == "1";
    let id = AccountId(id);
    state
        .gateway
        .set_account_disabled(&f.user.principal, id, disabled)
        .await
        .or_panel(f.user.lang)?;
    if disabled {
        f.user.sessions.remove_account(id);
        state.auth.forget_account(id.0);
    }
    Ok(see_other("/panel/accounts"))
}

// ---- own account: password, export, deletion ----

#[derive(Template)]
#[template(path = "account.html")]
struct AccountPage {
    c: Chrome,
}

pub async fn account(user: PanelUser) -> Result<Response, PanelError> {
    html(&AccountPage {
        c: Chrome::of(&user, "account"),
    })
}

fn account_error(user: &PanelUser, message: String) -> Result<Response, PanelError> {
    let mut c = Chrome::of(user, "account");
    c.error = Some(message);
    let page = AccountPage { c };
    Ok((
        StatusCode::UNPROCESSABLE_ENTITY,
        axum::response::Html(page.render()?),
    )
        .into_response())
}

#[derive(Deserialize)]
pub struct PasswordForm {
    current: String,
    new: String,
}

/// Checks the current password the way a login does (throttled, audited), sets the new one and ends
/// every session of the account.
pub async fn change_password(
    State(state): State<ApiState>,
    f: CsrfForm<PasswordForm>,
) -> Result<Response, PanelError> {
    let CsrfForm { user, form } = f;
    let t = Tr(user.lang);
    let credentials = Credentials::Password {
        login: user.principal.login.clone(),
        password: form.current,
    };
    if authenticate(&state, &credentials, user.peer).await.is_err() {
        return account_error(&user, t.s("me.wrong_current").to_owned());
    }
    if let Err(e) = PasswordPolicy::default().check(&user.principal.login, &form.new) {
        return account_error(&user, e.to_string());
    }
    let hash = state
        .auth
        .hasher()
        .hash_blocking(form.new)
        .await
        .map_err(|e| PanelError::app(AppError::Internal(e.to_string()), user.lang))?;
    let id = user.principal.account_id;
    state
        .gateway
        .set_password_hash(&user.principal, id, hash)
        .await
        .or_panel(user.lang)?;
    state.auth.forget_account(id.0);
    user.sessions.remove_account(id);
    Ok((
        [(
            header::SET_COOKIE,
            set_cookie(SESSION_COOKIE, "", Some(Duration::ZERO)),
        )],
        Redirect::to("/panel/login?changed=1"),
    )
        .into_response())
}

#[derive(Deserialize)]
pub struct DeleteForm {
    confirm_login: String,
}

/// The deletion request: after typing the login, the account and its data leave the live system.
pub async fn delete_account(
    State(state): State<ApiState>,
    f: CsrfForm<DeleteForm>,
) -> Result<Response, PanelError> {
    let CsrfForm { user, form } = f;
    if form.confirm_login.trim() != user.principal.login {
        return account_error(&user, Tr(user.lang).s("del.mismatch").to_owned());
    }
    let id = user.principal.account_id;
    state
        .gateway
        .delete_account(&user.principal, id)
        .await
        .or_panel(user.lang)?;
    state.auth.forget_account(id.0);
    user.sessions.remove_account(id);
    Ok((
        [(
            header::SET_COOKIE,
            set_cookie(SESSION_COOKIE, "", Some(Duration::ZERO)),
        )],
        Redirect::to("/panel/login?deleted=1"),
    )
        .into_response())
}

/// All of the user's data as a JSON download.
pub async fn export(State(state): State<ApiState>, user: PanelUser) -> Result<Response, PanelError> {
    let data = state
        .gateway
        .export_account(&user.principal, user.principal.account_id)
        .await
        .or_panel(user.lang)?;
    let body = serde_json::to_vec_pretty(&data)
        .map_err(|e| PanelError::app(AppError::Internal(e.to_string()), user.lang))?;
    Ok((
        [
            (header::CONTENT_TYPE, "application/json".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!(
                    "attachment; filename=\"smsgate-export-{}.json\"",
                    user.principal.login
                ),
            ),
        ],
        body,
    )
        .into_response())
}

// ---- audit (admin) ----

struct AuditRow {
    at: String,
    actor: String,
    action: String,
    source: String,
    details: String,
}

#[derive(Template)]
#[template(path = "audit.html")]
struct AuditPage {
    c: Chrome,
    rows: Vec<AuditRow>,
}

pub async fn audit(State(state): State<ApiState>, user: PanelUser) -> Result<Response, PanelError> {
    let entries = state
        .gateway
        .audit_log(&user.principal, None, AUDIT_LIMIT)
        .await
        .or_panel(user.lang)?;
    html(&AuditPage {
        c: Chrome::of(&user, "audit"),
        rows: entries
            .into_iter()
            .map(|e| AuditRow {
                at: fmt_time(e.at),
                actor: e.actor.unwrap_or_else(|| "system".into()),
                action: e.action,
                source: e.source_ip.unwrap_or_default(),
                details: e.details.unwrap_or_default(),
            })
            .collect(),
    })
}
