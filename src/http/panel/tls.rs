//! Panel page of the server certificate (admins only): what is served (subject, names, issuer, validity,
//! fingerprint, where it comes from), the appliance CA for clients to trust, installing an operator's
//! certificate and key (PEM, pasted), or going back to a fresh appliance certificate. Changes apply to
//! the next TLS handshake without a restart ([`crate::tls::ServerCertificate`]'s resolver is swapped)
//! and are audited.
//!
//! The page needs the running service's certificate, handed to the router as an
//! `Extension<Arc<ServerCertificate>>` by `smsgate serve`; without it the page says so.
use std::sync::Arc;

use askama::Template;
use axum::Extension;
use axum::extract::{Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::i18n::Tr;
use super::retention::fmt_time;
use super::{Chrome, CsrfForm, PanelError, PanelUser, html};
use crate::app::{AppError, Principal};
use crate::http::ApiState;
use crate::tls::ServerCertificate;
use crate::tls::manage::CertificateView;

/// Days before expiry from which the page warns.
const EXPIRY_WARNING_DAYS: i64 = 30;

struct CertRow {
    subject: String,
    issuer: String,
    names: String,
    not_before: String,
    not_after: String,
    days_left: i64,
    sha256: String,
    origin: &'static str,
    chain_len: usize,
}

impl CertRow {
    fn of(v: CertificateView) -> CertRow {
        CertRow {
            days_left: (v.not_after - time::OffsetDateTime::now_utc()).whole_days(),
            subject: v.subject,
            issuer: v.issuer,
            names: v.names.join(", "),
            not_before: fmt_time(v.not_before),
            not_after: fmt_time(v.not_after),
            sha256: v.sha256,
            origin: v.origin.as_str(),
            chain_len: v.chain_len,
        }
    }
}

#[derive(Template)]
#[template(path = "tls.html")]
struct TlsPage {
    c: Chrome,
    cert: Option<CertRow>,
    managed: bool,
    has_ca: bool,
    warn_days: i64,
}

fn require_admin(p: &Principal) -> Result<(), AppError> {
    if p.role == crate::app::Role::Admin {
        Ok(())
    } else {
        Err(AppError::Forbidden("needs the admin role".into()))
    }
}

fn render(
    user: &PanelUser,
    cert: Option<&Arc<ServerCertificate>>,
    notice: Option<String>,
    error: Option<String>,
    status: StatusCode,
) -> Result<Response, PanelError> {
    let mut c = Chrome::of(user, "tls");
    c.notice = notice;
    c.error = error;
    let page = TlsPage {
        c,
        cert: cert.and_then(|s| s.describe().ok()).map(CertRow::of),
        managed: cert.is_some_and(|s| s.origin() != crate::tls::manage::CertOrigin::ConfigFiles),
        has_ca: cert.is_some_and(|s| s.ca_cert.is_some()),
        warn_days: EXPIRY_WARNING_DAYS,
    };
    Ok((status, html(&page)?).into_response())
}

#[derive(Debug, Deserialize, Default)]
pub struct TlsQuery {
    #[serde(default)]
    done: Option<String>,
}

/// `GET /panel/tls`.
pub async fn tls(
    user: PanelUser,
    cert: Option<Extension<Arc<ServerCertificate>>>,
    Query(q): Query<TlsQuery>,
) -> Result<Response, PanelError> {
    require_admin(&user.principal).map_err(|e| PanelError::app(e, user.lang))?;
    let notice = q.done.map(|_| Tr(user.lang).s("tls.applied").to_owned());
    render(&user, cert.as_ref().map(|e| &e.0), notice, None, StatusCode::OK)
}

/// `GET /panel/tls/ca.pem`: the appliance CA certificate (public; clients install it as a trust root).
pub async fn ca_pem(
    user: PanelUser,
    cert: Option<Extension<Arc<ServerCertificate>>>,
) -> Result<Response, PanelError> {
    let pem = cert
        .and_then(|c| c.0.ca_pem())
        .ok_or(PanelError::app(AppError::NotFound("appliance CA"), user.lang))?;
    Ok((
        [
            (header::CONTENT_TYPE, "application/x-pem-file"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"smsgate-ca.pem\"",
            ),
        ],
        pem,
    )
        .into_response())
}

#[derive(Debug, Deserialize)]
pub struct InstallForm {
    cert: String,
    key: String,
}

fn unavailable() -> AppError {
    AppError::Unavailable("certificate management needs the running service (smsgate serve)".into())
}

/// `POST /panel/tls/install`.
pub async fn install(
    State(state): State<ApiState>,
    cert: Option<Extension<Arc<ServerCertificate>>>,
    f: CsrfForm<InstallForm>,
) -> Result<Response, PanelError> {
    let CsrfForm { user, form } = f;
    require_admin(&user.principal).map_err(|e| PanelError::app(e, user.lang))?;
    let served = cert
        .map(|e| e.0)
        .ok_or_else(|| PanelError::app(unavailable(), user.lang))?;
    let now = time::OffsetDateTime::now_utc();
    let outcome = {
        let served = served.clone();
        tokio::task::spawn_blocking(move || served.install(form.cert.as_bytes(), form.key.as_bytes(), now))
            .await
            .map_err(|e| PanelError::app(AppError::Internal(e.to_string()), user.lang))?
    };
    finish(&state, &user, &served, outcome, "tls.certificate_installed").await
}

#[derive(Debug, Deserialize)]
pub struct RegenerateForm {
    /// The "I understand" box: clients that pinned the current certificate will need the new one.
    #[serde(default)]
    confirm: Option<String>,
}

/// `POST /panel/tls/regenerate`.
pub async fn regenerate(
    State(state): State<ApiState>,
    cert: Option<Extension<Arc<ServerCertificate>>>,
    f: CsrfForm<RegenerateForm>,
) -> Result<Response, PanelError> {
    let CsrfForm { user, form } = f;
    require_admin(&user.principal).map_err(|e| PanelError::app(e, user.lang))?;
    let served = cert
        .map(|e| e.0)
        .ok_or_else(|| PanelError::app(unavailable(), user.lang))?;
    if form.confirm.as_deref() != Some("yes") {
        let message = Tr(user.lang).s("tls.confirm_needed").to_owned();
        return render(
            &user,
            Some(&served),
            None,
            Some(message),
            StatusCode::UNPROCESSABLE_ENTITY,
        );
    }
    let outcome = {
        let served = served.clone();
        tokio::task::spawn_blocking(move || served.regenerate())
            .await
            .map_err(|e| PanelError::app(AppError::Internal(e.to_string()), user.lang))?
    };
    finish(&state, &user, &served, outcome, "tls.certificate_regenerated").await
}

/// Audits a change (or its refusal) and answers: back to the page, or the page with the reason.
async fn finish(
    state: &ApiState,
    user: &PanelUser,
    served: &Arc<ServerCertificate>,
    outcome: Result<CertificateView, crate::tls::TlsError>,
    action: &'static str,
) -> Result<Response, PanelError> {
    let peer = Some(user.peer.to_string());
    match outcome {
        Ok(view) => {
            let details = format!(
                "subject={} not_after={} sha256={}",
                view.subject, view.not_after, view.sha256
            );
            state
                .gateway
                .audit(Some(&user.principal), None, peer, action, Some(details))
                .await;
            Ok(Redirect::to("/panel/tls?done=1").into_response())
        }
        Err(e) => {
            state
                .gateway
                .audit(
                    Some(&user.principal),
                    None,
                    peer,
                    "tls.certificate_refused",
                    Some(e.to_string()),
                )
                .await;
            render(
                user,
                Some(served),
                None,
                Some(e.to_string()),
                StatusCode::UNPROCESSABLE_ENTITY,
            )
        }
    }
}
