//! The web panel under `/panel`: server-rendered pages (askama templates in `templates/`, a stylesheet
//! and a little JavaScript from `static/`, all compiled into the binary: the appliance has no internet)
//! for clients (dashboard, send with CSV upload, history, inbox, certificates, IP pool, account, deletion
//! request) and operators (modem bank, one modem's control page, accounts, audit log), in English and Polish.
//!
//! It is another surface over [`crate::app::Gateway`], like the REST API: every page calls the same
//! gateway methods with the same [`Principal`], so scoping (a client sees only its own rows) and role
//! checks live in one place. Login runs the API's own authentication ([`super::caller::authenticate`]:
//! password check, backoff and lockout, audit of failures).
//!
//! Security: sessions are server-side ([`session`]); cookies are `__Host-`, Secure, HttpOnly,
//! SameSite=Strict; every state-changing request is a POST whose body is read through [`CsrfForm`], which
//! refuses it unless it carries the session's CSRF token (so a handler cannot forget the check); pages
//! are sent with a strict Content-Security-Policy (no inline script or style) and `no-store`.
// Handlers return `Result<_, PanelError>`, a small enum; the lint fires on the shared API error type.
#![allow(clippy::result_large_err)]
mod backups;
mod bulk;
mod certs;
#[cfg(test)]
mod client_tests;
pub mod i18n;
mod modem_pages;
pub mod multipart;
mod ops;
mod pages;
mod retention;
pub mod session;
mod tls;

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Instant;

use askama::Template;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use serde::de::DeserializeOwned;
use tower_http::set_header::SetResponseHeaderLayer;

use super::ApiState;
use super::caller::peer_of;
use crate::app::{AppError, Principal};
use i18n::{Lang, Tr};
use session::{LANG_COOKIE, SESSION_COOKIE, Session, Sessions, cookie};

/// Content-Security-Policy of panel pages: only this origin's files; no inline code, no framing.
pub const PANEL_CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; \
     connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// Name of the form field carrying the CSRF token.
pub const CSRF_FIELD: &str = "csrf";

/// The stylesheet.
pub const PANEL_CSS: &str = include_str!("static/panel.css");
/// The script: live character counter and modem table polling.
pub const PANEL_JS: &str = include_str!("static/panel.js");

/// Template sources, for the test that checks every translation key they use exists.
pub const TEMPLATE_SOURCES: &[(&str, &str)] = &[
    ("base.html", include_str!("templates/base.html")),
    ("login.html", include_str!("templates/login.html")),
    ("dashboard.html", include_str!("templates/dashboard.html")),
    ("send.html", include_str!("templates/send.html")),
    ("send_csv.html", include_str!("templates/send_csv.html")),
    ("messages.html", include_str!("templates/messages.html")),
    ("message_table.html", include_str!("templates/message_table.html")),
    ("message.html", include_str!("templates/message.html")),
    ("inbox.html", include_str!("templates/inbox.html")),
    ("modems.html", include_str!("templates/modems.html")),
    ("modem_rows.html", include_str!("templates/modem_rows.html")),
    ("modem.html", include_str!("templates/modem.html")),
    ("accounts.html", include_str!("templates/accounts.html")),
    ("account.html", include_str!("templates/account.html")),
    ("certs.html", include_str!("templates/certs.html")),
    ("ip_pool.html", include_str!("templates/ip_pool.html")),
    ("audit.html", include_str!("templates/audit.html")),
    ("tokens.html", include_str!("templates/tokens.html")),
    ("webhooks.html", include_str!("templates/webhooks.html")),
    ("error.html", include_str!("templates/error.html")),
    ("retention.html", include_str!("templates/retention.html")),
    ("backups.html", include_str!("templates/backups.html")),
    ("tls.html", include_str!("templates/tls.html")),
    ("system.html", include_str!("templates/system.html")),
    ("routing.html", include_str!("templates/routing.html")),
    (
        "routing_confirm.html",
        include_str!("templates/routing_confirm.html"),
    ),
];

/// The panel's routes, with a fresh session store; merged into the HTTPS router.
pub fn router() -> Router<ApiState> {
    router_with(Arc::new(Sessions::default()))
}

/// The panel's routes over a given session store (tests shorten the timeouts).
pub fn router_with(sessions: Arc<Sessions>) -> Router<ApiState> {
    Router::new()
        .route("/panel", get(|| async { Redirect::to("/panel/dashboard") }))
        .route("/panel/", get(|| async { Redirect::to("/panel/dashboard") }))
        .route("/panel/login", get(pages::login_page).post(pages::login))
        .route("/panel/logout", post(pages::logout))
        .route("/panel/lang", get(pages::set_language))
        .route("/panel/dashboard", get(pages::dashboard))
        .route("/panel/send", get(pages::send_page).post(pages::send))
        .route("/panel/send/csv", get(bulk::preview).post(bulk::upload))
        .route("/panel/send/csv/confirm", post(bulk::confirm))
        .route("/panel/count", post(pages::count))
        .route("/panel/messages", get(pages::messages))
        .route("/panel/messages/{id}", get(pages::message))
        .route("/panel/messages/{id}/cancel", post(pages::cancel))
        .route("/panel/inbox", get(pages::inbox))
        .route("/panel/modems", get(pages::modems))
        .route("/panel/modems/rows", get(pages::modem_rows))
        .route("/panel/modems/{id}", get(modem_pages::modem))
        .route("/panel/modems/{id}/ussd", post(modem_pages::ussd))
        .route("/panel/modems/{id}/at", post(modem_pages::at))
        .route("/panel/modems/{id}/sms", post(modem_pages::test_sms))
        .route("/panel/modems/{id}/settings", post(modem_pages::settings))
        .route("/panel/modems/{id}/restart", post(modem_pages::restart))
        .route("/panel/sim/inject", post(pages::sim_inject))
        .route("/panel/sim/plug", post(pages::sim_plug))
        .route("/panel/tokens", get(pages::tokens).post(pages::create_token))
        .route("/panel/tokens/{id}/revoke", post(pages::revoke_token))
        .route(
            "/panel/webhooks",
            get(pages::webhooks).post(pages::create_webhook),
        )
        .route("/panel/webhooks/{id}/delete", post(pages::delete_webhook))
        .route("/panel/certs", get(certs::certs))
        .route("/panel/certs/issue", post(certs::issue))
        .route("/panel/certs/download", get(certs::download))
        .route("/panel/certs/upload", post(certs::upload))
        .route("/panel/certs/required", post(certs::set_required))
        .route("/panel/certs/{id}/revoke", post(certs::revoke))
        .route("/panel/ip-pool", get(certs::ip_pool).post(certs::save_ip_pool))
        .route(
            "/panel/accounts",
            get(pages::accounts).post(pages::create_account),
        )
        .route("/panel/accounts/{id}/state", post(pages::set_account_state))
        .route("/panel/account", get(pages::account))
        .route("/panel/account/password", post(pages::change_password))
        .route("/panel/account/delete", post(pages::delete_account))
        .route("/panel/account/export", get(pages::export))
        .route("/panel/audit", get(pages::audit))
        .route(
            "/panel/retention",
            get(retention::retention).post(retention::save_retention),
        )
        .route("/panel/backups", get(backups::backups))
        .route("/panel/backups/create", post(backups::create))
        .route("/panel/backups/staged/cancel", post(backups::cancel_restore))
        .route("/panel/backups/{name}/download", get(backups::download))
        .route("/panel/backups/{name}/verify", post(backups::verify))
        .route("/panel/backups/{name}/restore", post(backups::restore))
        .route("/panel/tls", get(tls::tls))
        .route("/panel/tls/ca.pem", get(tls::ca_pem))
        .route("/panel/tls/install", post(tls::install))
        .route("/panel/tls/regenerate", post(tls::regenerate))
        .route("/panel/system", get(ops::system))
        .route("/panel/routing", get(ops::routing).post(ops::routing_save))
        .route("/panel/routing/preview", post(ops::routing_preview))
        .route("/panel/static/panel.css", get(css))
        .route("/panel/static/panel.js", get(js))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(PANEL_CSP),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::CACHE_CONTROL,
            HeaderValue::from_static("no-store"),
        ))
        .layer(axum::Extension(sessions))
}

async fn css() -> Response {
    static_file("text/css; charset=utf-8", PANEL_CSS)
}

async fn js() -> Response {
    static_file("text/javascript; charset=utf-8", PANEL_JS)
}

fn static_file(content_type: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        body,
    )
        .into_response()
}

/// Why a panel request failed; each renders a page (or a redirect to the login).
#[derive(Debug)]
pub enum PanelError {
    /// No valid session: go to the login page.
    LoggedOut,
    /// The form lacked the session's CSRF token.
    Csrf(Lang),
    /// An application error, shown in the user's language.
    App(AppError, Lang),
    /// A template failed to render (a bug).
    Render(String),
}

impl PanelError {
    /// An application error for a user.
    pub fn app(e: AppError, lang: Lang) -> PanelError {
        PanelError::App(e, lang)
    }
}

impl From<askama::Error> for PanelError {
    fn from(e: askama::Error) -> Self {
        PanelError::Render(e.to_string())
    }
}

/// The error page.
#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage {
    c: Chrome,
    message: String,
}

impl IntoResponse for PanelError {
    fn into_response(self) -> Response {
        let (status, lang, message) = match self {
            PanelError::LoggedOut => return Redirect::to("/panel/login?expired=1").into_response(),
            PanelError::Csrf(lang) => (StatusCode::FORBIDDEN, lang, Tr(lang).s("err.csrf").to_owned()),
            PanelError::App(e, lang) => {
                let t = Tr(lang);
                match e {
                    AppError::Validation { field, message } => (
                        StatusCode::UNPROCESSABLE_ENTITY,
                        lang,
                        format!("{field}: {message}"),
                    ),
                    AppError::NotFound(_) => (StatusCode::NOT_FOUND, lang, t.s("err.not_found").into()),
                    AppError::Forbidden(_) => (StatusCode::FORBIDDEN, lang, t.s("err.forbidden").into()),
                    AppError::Conflict(m) => (StatusCode::CONFLICT, lang, m),
                    AppError::RateLimited { retry_after } => (
                        StatusCode::TOO_MANY_REQUESTS,
                        lang,
                        format!("rate limited; retry after {}s", retry_after.as_secs()),
                    ),
                    AppError::Unavailable(m) => (StatusCode::SERVICE_UNAVAILABLE, lang, m),
                    AppError::Internal(m) => {
                        tracing::error!(error = %m, "panel request failed");
                        (StatusCode::INTERNAL_SERVER_ERROR, lang, "internal error".into())
                    }
                }
            }
            PanelError::Render(m) => {
                tracing::error!(error = %m, "panel template failed");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    Lang::En,
                    "internal error".into(),
                )
            }
        };
        let page = ErrorPage {
            c: Chrome::public(lang, "dashboard"),
            message,
        };
        match page.render() {
            Ok(html) => (status, axum::response::Html(html)).into_response(),
            Err(_) => status.into_response(),
        }
    }
}

/// What every page's layout needs: translations, the user (if logged in), the CSRF token for its forms.
#[derive(Debug, Clone)]
pub struct Chrome {
    pub t: Tr,
    pub user: Option<UserView>,
    pub csrf: String,
    /// Which navigation entry is current.
    pub nav: &'static str,
    /// A one-line success notice.
    pub notice: Option<String>,
    /// A one-line error shown above the form.
    pub error: Option<String>,
}

/// The logged-in user as the layout shows it.
#[derive(Debug, Clone)]
pub struct UserView {
    pub login: String,
    pub role: String,
    pub operator: bool,
    pub admin: bool,
}

impl Chrome {
    /// Layout for pages without a session (login, errors).
    pub fn public(lang: Lang, nav: &'static str) -> Chrome {
        Chrome {
            t: Tr(lang),
            user: None,
            csrf: String::new(),
            nav,
            notice: None,
            error: None,
        }
    }

    /// Layout for a logged-in user.
    pub fn of(user: &PanelUser, nav: &'static str) -> Chrome {
        Chrome {
            t: Tr(user.lang),
            user: Some(UserView {
                login: user.principal.login.clone(),
                role: user.principal.role.as_str().to_owned(),
                operator: user.principal.is_operator(),
                admin: user.principal.role == crate::app::Role::Admin,
            }),
            csrf: user.session.csrf.clone(),
            nav,
            notice: None,
            error: None,
        }
    }
}

/// The language from the cookie (English when absent or unknown).
pub fn lang_of(parts: &Parts) -> Lang {
    cookie_in(parts, LANG_COOKIE)
        .and_then(Lang::parse)
        .unwrap_or_default()
}

fn cookie_in<'a>(parts: &'a Parts, name: &str) -> Option<&'a str> {
    parts
        .headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|h| cookie(h, name))
}

fn sessions_of(parts: &Parts) -> Result<Arc<Sessions>, PanelError> {
    parts
        .extensions
        .get::<Arc<Sessions>>()
        .cloned()
        .ok_or_else(|| PanelError::Render("panel router without its session store".into()))
}

/// A logged-in panel user: a valid session whose account still exists and is enabled.
#[derive(Debug, Clone)]
pub struct PanelUser {
    pub principal: Principal,
    pub session: Session,
    /// The session id (to end it at logout).
    pub session_id: String,
    pub lang: Lang,
    pub peer: IpAddr,
    pub sessions: Arc<Sessions>,
}

impl FromRequestParts<ApiState> for PanelUser {
    type Rejection = PanelError;

    async fn from_request_parts(parts: &mut Parts, state: &ApiState) -> Result<Self, Self::Rejection> {
        let sessions = sessions_of(parts)?;
        let lang = lang_of(parts);
        let id = cookie_in(parts, SESSION_COOKIE).ok_or(PanelError::LoggedOut)?;
        let session = sessions.lookup(id, Instant::now()).ok_or(PanelError::LoggedOut)?;
        // The account is read at every request so that disabling or deleting it, or changing its role,
        // takes effect on open sessions at once.
        let account = state
            .gateway
            .find_account(session.account_id)
            .await
            .map_err(|e| PanelError::app(e, lang))?;
        let Some(account) = account.filter(|a| !a.disabled) else {
            sessions.remove(id);
            return Err(PanelError::LoggedOut);
        };
        let principal = Principal::of(&account);
        // Stages 2 and 3 on every request of the session: a revoked certificate, another connection
        // without it, or an address outside the pool ends the session at once.
        let origin = crate::http::caller::Origin::of(state, parts);
        if crate::http::caller::enforce_origin(state, &principal, &origin)
            .await
            .is_err()
        {
            sessions.remove(id);
            return Err(PanelError::LoggedOut);
        }
        Ok(PanelUser {
            principal,
            session,
            session_id: id.to_owned(),
            lang,
            peer: peer_of(parts),
            sessions,
        })
    }
}

/// A form posted by a logged-in user with the session's CSRF token; the only way panel handlers read a
/// POST body, so none can skip the check.
pub struct CsrfForm<T> {
    pub user: PanelUser,
    pub form: T,
}

impl<T: DeserializeOwned> FromRequest<ApiState> for CsrfForm<T> {
    type Rejection = PanelError;

    async fn from_request(req: Request, state: &ApiState) -> Result<Self, Self::Rejection> {
        let (mut parts, body) = req.into_parts();
        let user = PanelUser::from_request_parts(&mut parts, state).await?;
        let lang = user.lang;
        let req = Request::from_parts(parts, body);
        let bytes = Bytes::from_request(req, state)
            .await
            .map_err(|r| PanelError::app(AppError::validation("body", r.body_text()), lang))?;
        let given = form_field(&bytes, CSRF_FIELD).unwrap_or_default();
        if !session::tokens_match(&user.session.csrf, &given) {
            tracing::warn!(peer = %user.peer, login = %user.principal.login, "panel form without a valid CSRF token refused");
            return Err(PanelError::Csrf(lang));
        }
        let form = serde_urlencoded::from_bytes::<T>(&bytes)
            .map_err(|e| PanelError::app(AppError::validation("form", e.to_string()), lang))?;
        Ok(CsrfForm { user, form })
    }
}

/// The first value of `name` in an `application/x-www-form-urlencoded` body.
pub fn form_field(body: &[u8], name: &str) -> Option<String> {
    form_urlencoded::parse(body)
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

/// Renders a template into an HTML response.
pub fn html<T: Template>(page: &T) -> Result<Response, PanelError> {
    Ok(axum::response::Html(page.render()?).into_response())
}

#[cfg(test)]
mod admin_tests;
#[cfg(test)]
mod tests;
