//! Technician pages of one modem: its live state, settings (PIN, SMSC, rate limit, quotas, group), a
//! test SMS, USSD, the raw AT console (admins only) and restart (confirmed twice: a required checkbox
//! checked by the server, and a dialog in the browser).
//!
//! Every form is a POST read through [`CsrfForm`]; each calls the same [`crate::app::Gateway`] method
//! as the REST API, so roles, the AT guard and the audit log (with the caller's address) are the same.
//! USSD and AT answers are shown on the page they were asked from; the other forms redirect
//! (post/redirect/get) with a notice.
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::i18n::Tr;
use super::pages::signal_bars;
use super::{Chrome, CsrfForm, PanelError, PanelUser, html};
use crate::app::{AppError, ModemView, Requester, Role, SettingsInput, SettingsView};
use crate::http::ApiState;

/// The modem as the detail page shows it.
struct ModemFacts {
    id: String,
    name: String,
    up: bool,
    phase: String,
    port: String,
    signal: String,
    bars: u8,
    operator: String,
    registration: String,
    imei: String,
    imsi: String,
    iccid: String,
    own_number: String,
    hardware: String,
    group: String,
    queue: usize,
    sent: u64,
    received: u64,
    errors: u64,
    last_error: String,
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

fn facts(v: &ModemView) -> ModemFacts {
    let s = &v.record.state;
    let text = |k: &str| s.get(k).and_then(|x| x.as_str()).unwrap_or("—").to_owned();
    let rssi = s
        .get("signal")
        .and_then(|x| x.as_u64())
        .and_then(|x| u8::try_from(x).ok());
    let hardware = ["manufacturer", "model", "firmware"]
        .iter()
        .filter_map(|k| s.get(*k).and_then(|x| x.as_str()))
        .collect::<Vec<_>>()
        .join(" · ");
    ModemFacts {
        id: v.record.id.clone(),
        name: v.record.name.clone().unwrap_or_else(|| v.record.id.clone()),
        up: v.record.up,
        phase: text("phase"),
        port: v.record.port.clone().unwrap_or_else(|| "—".into()),
        signal: rssi.map_or_else(|| "—".into(), |r| r.to_string()),
        bars: signal_bars(rssi),
        operator: text("operator"),
        registration: registration(s.get("registration").and_then(|x| x.as_u64())).to_owned(),
        imei: text("imei"),
        imsi: text("imsi"),
        iccid: text("iccid"),
        own_number: text("own_number"),
        hardware: if hardware.is_empty() {
            "—".into()
        } else {
            hardware
        },
        group: v.record.group.clone().unwrap_or_else(|| "—".into()),
        queue: v.queue_depth,
        sent: v.record.sent_parts,
        received: v.record.received,
        errors: v.record.errors,
        last_error: s
            .get("last_error")
            .and_then(|x| x.as_str())
            .unwrap_or("")
            .to_owned(),
    }
}

/// The settings form's values (empty = not set).
struct SettingsForm {
    pin_set: bool,
    smsc: String,
    per_minute: String,
    daily_quota: String,
    monthly_quota: String,
    group: String,
}

fn settings_form(s: Option<&SettingsView>) -> SettingsForm {
    let n = |v: Option<u32>| v.map(|x| x.to_string()).unwrap_or_default();
    match s {
        None => SettingsForm {
            pin_set: false,
            smsc: String::new(),
            per_minute: String::new(),
            daily_quota: String::new(),
            monthly_quota: String::new(),
            group: String::new(),
        },
        Some(s) => SettingsForm {
            pin_set: s.pin_set,
            smsc: s.smsc.clone().unwrap_or_default(),
            per_minute: n(s.per_minute),
            daily_quota: n(s.daily_quota),
            monthly_quota: n(s.monthly_quota),
            group: s.group.clone().unwrap_or_default(),
        },
    }
}

#[derive(Template)]
#[template(path = "modem.html")]
struct ModemPage {
    c: Chrome,
    m: ModemFacts,
    s: SettingsForm,
    admin: bool,
    ussd_code: String,
    ussd_reply: Option<String>,
    at_command: String,
    at_reply: Option<String>,
}

/// What a POST wants shown on the re-rendered page.
#[derive(Default)]
struct Shown {
    notice: Option<String>,
    error: Option<String>,
    ussd_code: Option<String>,
    ussd_reply: Option<String>,
    at_command: Option<String>,
    at_reply: Option<String>,
}

async fn render(state: &ApiState, user: &PanelUser, id: &str, shown: Shown) -> Result<Response, PanelError> {
    let lang = user.lang;
    state
        .gateway
        .require_operator(&user.principal)
        .map_err(|e| PanelError::app(e, lang))?;
    let view = state
        .gateway
        .modem_view(&user.principal, id)
        .await
        .map_err(|e| PanelError::app(e, lang))?;
    let mut c = Chrome::of(user, "modems");
    c.notice = shown.notice;
    c.error = shown.error;
    html(&ModemPage {
        c,
        m: facts(&view),
        s: settings_form(view.settings.as_ref()),
        admin: user.principal.role == Role::Admin,
        ussd_code: shown.ussd_code.unwrap_or_else(|| "*100#".into()),
        ussd_reply: shown.ussd_reply,
        at_command: shown.at_command.unwrap_or_else(|| "AT+CSQ".into()),
        at_reply: shown.at_reply,
    })
}

/// Errors the page shows above its forms (bad input, a modem out of service); the rest are error pages.
/// The modem page again with `e` shown above the forms (validation and availability errors; others
/// become the error page).
async fn render_error(
    state: &ApiState,
    user: &PanelUser,
    id: &str,
    e: AppError,
) -> Result<Response, PanelError> {
    let error = Some(shown_error(e, user.lang)?);
    render(
        state,
        user,
        id,
        Shown {
            error,
            ..Shown::default()
        },
    )
    .await
}

fn shown_error(e: AppError, lang: super::i18n::Lang) -> Result<String, PanelError> {
    match e {
        AppError::Validation { field, message } => Ok(format!("{field}: {message}")),
        AppError::Unavailable(m) | AppError::Conflict(m) => Ok(m),
        other => Err(PanelError::app(other, lang)),
    }
}

fn requester<'a>(user: &'a PanelUser, source: &'a str) -> Requester<'a> {
    Requester {
        who: &user.principal,
        source: Some(source),
    }
}

/// Which notice a redirect shows.
#[derive(Deserialize, Default)]
pub struct DoneQuery {
    #[serde(default)]
    done: Option<String>,
}

/// `GET /panel/modems/{id}`.
pub async fn modem(
    State(state): State<ApiState>,
    user: PanelUser,
    Path(id): Path<String>,
    Query(q): Query<DoneQuery>,
) -> Result<Response, PanelError> {
    let t = Tr(user.lang);
    let notice = match q.done.as_deref() {
        Some("settings") => Some(t.s("modem.saved").to_owned()),
        Some("sms") => Some(t.s("modem.test_sms_queued").to_owned()),
        Some("restart") => Some(t.s("modem.restarting").to_owned()),
        _ => None,
    };
    render(
        &state,
        &user,
        &id,
        Shown {
            notice,
            ..Shown::default()
        },
    )
    .await
}

fn back(id: &str, done: &str) -> Response {
    let id = percent_encoding::utf8_percent_encode(id, percent_encoding::NON_ALPHANUMERIC);
    Redirect::to(&format!("/panel/modems/{id}?done={done}")).into_response()
}

/// The USSD form.
#[derive(Deserialize)]
pub struct UssdForm {
    code: String,
}

/// `POST /panel/modems/{id}/ussd`: the answer is shown on the page.
pub async fn ussd(
    State(state): State<ApiState>,
    Path(id): Path<String>,
    f: CsrfForm<UssdForm>,
) -> Result<Response, PanelError> {
    let CsrfForm { user, form } = f;
    let source = user.peer.to_string();
    let mut shown = Shown {
        ussd_code: Some(form.code.clone()),
        ..Shown::default()
    };
    match state
        .gateway
        .modem_ussd(requester(&user, &source), &id, form.code.trim())
        .await
    {
        Ok(reply) => {
            shown.ussd_reply = Some(reply.text.unwrap_or_else(|| "(no text)".into()));
        }
        Err(e) => shown.error = Some(shown_error(e, user.lang)?),
    }
    render(&state, &user, &id, shown).await
}

/// The AT console form.
#[derive(Deserialize)]
pub struct AtForm {
    command: String,
}

/// `POST /panel/modems/{id}/at` (admins): the modem's answer is shown on the page; refused commands
/// say why. Audited like the API's.
pub async fn at(
    State(state): State<ApiState>,
    Path(id): Path<String>,
    f: CsrfForm<AtForm>,
) -> Result<Response, PanelError> {
    let CsrfForm { user, form } = f;
    let source = user.peer.to_string();
    let mut shown = Shown {
        at_command: Some(form.command.clone()),
        ..Shown::default()
    };
    match state
        .gateway
        .modem_at(requester(&user, &source), &id, &form.command, None)
        .await
    {
        Ok(outcome) => {
            let mut text = outcome.lines.join("\n");
            if !text.is_empty() {
                text.push('\n');
            }
            text.push_str(&outcome.result);
            shown.at_reply = Some(text);
        }
        Err(e) => shown.error = Some(shown_error(e, user.lang)?),
    }
    render(&state, &user, &id, shown).await
}

/// The test SMS form.
#[derive(Deserialize)]
pub struct TestSmsForm {
    to: String,
    text: String,
}

/// `POST /panel/modems/{id}/sms`.
pub async fn test_sms(
    State(state): State<ApiState>,
    Path(id): Path<String>,
    f: CsrfForm<TestSmsForm>,
) -> Result<Response, PanelError> {
    let CsrfForm { user, form } = f;
    let source = user.peer.to_string();
    match state
        .gateway
        .modem_test_sms(requester(&user, &source), &id, &form.to, &form.text)
        .await
    {
        Ok(_) => Ok(back(&id, "sms")),
        Err(e) => render_error(&state, &user, &id, e).await,
    }
}

/// The settings form: empty fields mean "not set".
#[derive(Deserialize)]
pub struct SettingsFormIn {
    #[serde(default)]
    pin: String,
    #[serde(default)]
    clear_pin: Option<String>,
    #[serde(default)]
    smsc: String,
    #[serde(default)]
    per_minute: String,
    #[serde(default)]
    daily_quota: String,
    #[serde(default)]
    monthly_quota: String,
    #[serde(default)]
    group: String,
}

fn number(field: &str, text: &str) -> Result<Option<u32>, AppError> {
    let t = text.trim();
    if t.is_empty() {
        return Ok(None);
    }
    t.parse()
        .map(Some)
        .map_err(|_| AppError::validation(field, "a whole number (0 = unlimited), or empty"))
}

fn settings_input(f: &SettingsFormIn) -> Result<SettingsInput, AppError> {
    let text = |s: &str| {
        let t = s.trim();
        (!t.is_empty()).then(|| t.to_owned())
    };
    Ok(SettingsInput {
        pin: if f.clear_pin.is_some() {
            Some(String::new())
        } else {
            text(&f.pin)
        },
        smsc: text(&f.smsc),
        per_minute: number("per_minute", &f.per_minute)?,
        daily_quota: number("daily_quota", &f.daily_quota)?,
        monthly_quota: number("monthly_quota", &f.monthly_quota)?,
        group: text(&f.group),
    })
}

/// `POST /panel/modems/{id}/settings`.
pub async fn settings(
    State(state): State<ApiState>,
    Path(id): Path<String>,
    f: CsrfForm<SettingsFormIn>,
) -> Result<Response, PanelError> {
    let CsrfForm { user, form } = f;
    let source = user.peer.to_string();
    let result = match settings_input(&form) {
        Ok(input) => {
            state
                .gateway
                .set_modem_settings(requester(&user, &source), &id, input)
                .await
        }
        Err(e) => Err(e),
    };
    match result {
        Ok(_) => Ok(back(&id, "settings")),
        Err(e) => render_error(&state, &user, &id, e).await,
    }
}

/// The restart form: the checkbox must be ticked (the browser's dialog alone is not enough: it needs
/// JavaScript).
#[derive(Deserialize)]
pub struct RestartForm {
    #[serde(default)]
    confirm: Option<String>,
}

/// `POST /panel/modems/{id}/restart`.
pub async fn restart(
    State(state): State<ApiState>,
    Path(id): Path<String>,
    f: CsrfForm<RestartForm>,
) -> Result<Response, PanelError> {
    let CsrfForm { user, form } = f;
    let source = user.peer.to_string();
    let result = if form.confirm.as_deref() == Some("yes") {
        state.gateway.modem_restart(requester(&user, &source), &id).await
    } else {
        state
            .gateway
            .require_operator(&user.principal)
            .and(Err(AppError::validation(
                "confirm",
                Tr(user.lang).s("modem.restart_check"),
            )))
    };
    match result {
        Ok(()) => Ok(back(&id, "restart")),
        Err(e) => render_error(&state, &user, &id, e).await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_form_fields() {
        let form = |pin: &str, clear: bool, per_minute: &str| SettingsFormIn {
            pin: pin.into(),
            clear_pin: clear.then(|| "1".into()),
            smsc: " +48601000310 ".into(),
            per_minute: per_minute.into(),
            daily_quota: String::new(),
            monthly_quota: "0".into(),
            group: String::new(),
        };
        let i = settings_input(&form("", false, "")).unwrap();
        assert_eq!(i.pin, None, "an empty PIN field keeps the stored PIN");
        assert_eq!(i.smsc.as_deref(), Some("+48601000310"));
        assert_eq!(
            (i.per_minute, i.daily_quota, i.monthly_quota),
            (None, None, Some(0))
        );
        assert_eq!(i.group, None);
        assert_eq!(
            settings_input(&form("1234", true, "")).unwrap().pin.as_deref(),
            Some("")
        );
        assert_eq!(
            settings_input(&form("1234", false, "6")).unwrap().pin.as_deref(),
            Some("1234")
        );
        assert!(matches!(
            settings_input(&form("", false, "many")),
            Err(AppError::Validation { field, .. }) if field == "per_minute"
        ));
    }
}
