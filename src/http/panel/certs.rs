//! The account holder's own authentication stages 2 and 3 in the panel: client certificates (list,
//! request one from the appliance CA and download it once as PKCS#12 under a password of the user's
//! choice, upload an own certificate or CA, revoke) and the IP pool editor.
//!
//! Every change goes through the gateway's self-service operations (audited, always on the caller's own
//! account); an admin opens the same pages for another account with `?account=ID` (from the accounts
//! page), which use the admin operations instead and add the switch that requires a certificate. Before a change that would refuse the very connection making it (the pool no longer holds
//! the caller's address, or the certificate in use is revoked while one is required), the page explains
//! what will happen and asks again; only a second, explicit confirmation applies it.
use std::net::IpAddr;
use std::time::Instant;

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::i18n::Tr;
use super::multipart::CsrfMultipart;
use super::pages::{OrPanel, fmt_time, see_other};
use super::{Chrome, CsrfForm, PanelError, PanelUser};
use crate::app::AppError;
use crate::app::stages::{MAX_CLIENT_CERT_DAYS, admits};
use crate::auth::stages::fingerprint;
use crate::http::ApiState;
use crate::http::caller::Origin;
use crate::store::{AccountId, CertKind, Role, StageSettings};

/// Session slot of a PKCS#12 bundle between its issue (POST) and its one download (GET).
const P12_FLASH: &str = "pkcs12";
/// Default validity offered for a new certificate (days).
const DEFAULT_DAYS: u32 = 365;
/// Most bytes of an uploaded PEM/DER certificate.
const MAX_CERT_BYTES: usize = 64 * 1024;

/// A bundle waiting for its download.
struct P12Download {
    filename: String,
    bytes: Vec<u8>,
}

/// Whose stages a page manages: the user's own account, or (admins, `?account=ID`) another one.
struct Target {
    id: AccountId,
    login: String,
    own: bool,
}

impl Target {
    /// `path` with the flag (`issued=1`) and, for another account, `account=ID`.
    fn url(&self, path: &str, flag: Option<&str>) -> String {
        let mut query: Vec<String> = flag.map(str::to_owned).into_iter().collect();
        if !self.own {
            query.push(format!("account={}", self.id.0));
        }
        if query.is_empty() {
            path.to_owned()
        } else {
            format!("{path}?{}", query.join("&"))
        }
    }
}

/// The `account` query parameter of the stage pages and their forms.
#[derive(Deserialize, Default)]
pub struct TargetQuery {
    #[serde(default)]
    account: Option<i64>,
}

/// The account `account` names: the user's own when absent; another one only for admins.
async fn target_of(state: &ApiState, user: &PanelUser, account: Option<i64>) -> Result<Target, PanelError> {
    let own = user.principal.account_id;
    match account.map(AccountId).filter(|id| *id != own) {
        None => Ok(Target {
            id: own,
            login: user.principal.login.clone(),
            own: true,
        }),
        Some(id) => {
            if user.principal.role != Role::Admin {
                return Err(PanelError::app(
                    AppError::Forbidden("needs the admin role".into()),
                    user.lang,
                ));
            }
            let account = state
                .gateway
                .find_account(id)
                .await
                .or_panel(user.lang)?
                .ok_or_else(|| PanelError::app(AppError::NotFound("account"), user.lang))?;
            Ok(Target {
                id,
                login: account.login,
                own: false,
            })
        }
    }
}

/// The leaf certificate the connection presented, by fingerprint.
fn presented(origin: &Origin) -> Option<String> {
    origin
        .chain
        .as_deref()
        .and_then(|c| c.first())
        .map(|leaf| fingerprint(leaf))
}

/// Whether `proposed` would refuse this connection although the current settings admit it.
fn locks_out(
    gateway_now_ms: i64,
    current: &StageSettings,
    proposed: &StageSettings,
    origin: &Origin,
) -> bool {
    let chain = origin.chain.as_deref().map(Vec::as_slice);
    admits(current, origin.client, chain, gateway_now_ms).is_ok()
        && admits(proposed, origin.client, chain, gateway_now_ms).is_err()
}

// ---- certificates ----

struct CertRow {
    id: i64,
    kind: &'static str,
    subject: String,
    fingerprint: String,
    not_after: String,
    state: &'static str,
    in_use: bool,
}

#[derive(Template)]
#[template(path = "certs.html")]
struct CertsPage {
    c: Chrome,
    /// Login of the account shown (another one's for an admin).
    target_login: String,
    own: bool,
    /// `?account=ID` for the forms when the account is not the user's own, else empty.
    account_q: String,
    /// Admins get the switch that requires a certificate.
    admin: bool,
    cert_required: bool,
    presented: String,
    rows: Vec<CertRow>,
    download_ready: bool,
    max_days: u32,
    days: u32,
    /// A revocation waiting for the second confirmation (it would lock this connection out).
    confirm_revoke: Option<i64>,
    /// Requiring a certificate waits for the second confirmation (this connection has none bound).
    confirm_require: bool,
}

/// A change that would lock this connection out, waiting for its second confirmation.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Pending {
    Nothing,
    Revoke(i64),
    Require,
}

#[derive(Deserialize, Default)]
pub struct CertsQuery {
    #[serde(default)]
    issued: Option<String>,
    #[serde(default)]
    uploaded: Option<String>,
    #[serde(default)]
    revoked: Option<String>,
    #[serde(default)]
    required: Option<String>,
    #[serde(default)]
    account: Option<i64>,
}

async fn certs_page(
    state: &ApiState,
    user: &PanelUser,
    target: &Target,
    origin: &Origin,
    mut c: Chrome,
    status: StatusCode,
    pending: Pending,
) -> Result<Response, PanelError> {
    let lang = user.lang;
    let settings = state
        .gateway
        .stage_settings(&user.principal, target.id)
        .await
        .or_panel(lang)?;
    let now = time::OffsetDateTime::now_utc();
    let presented = presented(origin);
    c.nav = "certs";
    let page = CertsPage {
        c,
        target_login: target.login.clone(),
        own: target.own,
        account_q: target.url("", None),
        admin: user.principal.role == Role::Admin,
        cert_required: settings.cert_required,
        presented: presented.clone().unwrap_or_default(),
        rows: settings
            .certs
            .iter()
            .map(|cert| CertRow {
                id: cert.id,
                kind: match cert.kind {
                    CertKind::Issued => "cert.kind_issued",
                    CertKind::Pinned => "cert.kind_pinned",
                    CertKind::Ca => "cert.kind_ca",
                },
                subject: cert.subject.clone(),
                fingerprint: cert.fingerprint.clone(),
                not_after: fmt_time(cert.not_after),
                state: if cert.revoked_at.is_some() {
                    "cert.revoked"
                } else if cert.not_after <= now {
                    "cert.expired"
                } else {
                    "cert.valid"
                },
                in_use: target.own && presented.as_deref() == Some(cert.fingerprint.as_str()),
            })
            .collect(),
        download_ready: user
            .sessions
            .peek_flash::<P12Download>(&user.session_id, P12_FLASH, Instant::now())
            .is_some(),
        max_days: MAX_CLIENT_CERT_DAYS,
        days: DEFAULT_DAYS,
        confirm_revoke: match pending {
            Pending::Revoke(id) => Some(id),
            _ => None,
        },
        confirm_require: pending == Pending::Require,
    };
    Ok((status, axum::response::Html(page.render()?)).into_response())
}

/// `GET /panel/certs`.
pub async fn certs(
    State(state): State<ApiState>,
    user: PanelUser,
    origin: Origin,
    Query(q): Query<CertsQuery>,
) -> Result<Response, PanelError> {
    let t = Tr(user.lang);
    let target = target_of(&state, &user, q.account).await?;
    let mut c = Chrome::of(&user, "certs");
    c.notice = if q.issued.is_some() {
        Some(t.s("cert.issued").to_owned())
    } else if q.uploaded.is_some() {
        Some(t.s("cert.uploaded").to_owned())
    } else if q.revoked.is_some() {
        Some(t.s("cert.revoked_done").to_owned())
    } else if q.required.is_some() {
        Some(t.s("cert.required_saved").to_owned())
    } else {
        None
    };
    certs_page(
        &state,
        &user,
        &target,
        &origin,
        c,
        StatusCode::OK,
        Pending::Nothing,
    )
    .await
}

async fn certs_error(
    state: &ApiState,
    user: &PanelUser,
    target: &Target,
    origin: &Origin,
    message: String,
) -> Result<Response, PanelError> {
    let mut c = Chrome::of(user, "certs");
    c.error = Some(message);
    certs_page(
        state,
        user,
        target,
        origin,
        c,
        StatusCode::UNPROCESSABLE_ENTITY,
        Pending::Nothing,
    )
    .await
}

#[derive(Deserialize)]
pub struct IssueForm {
    days: String,
    password: String,
    password_again: String,
}

/// `POST /panel/certs/issue`: issues a certificate from the appliance CA for the user's own account and
/// keeps its PKCS#12 bundle in the session for one download (the key is not stored anywhere else).
pub async fn issue(
    State(state): State<ApiState>,
    Query(q): Query<TargetQuery>,
    origin: Origin,
    f: CsrfForm<IssueForm>,
) -> Result<Response, PanelError> {
    let CsrfForm { user, form } = f;
    let t = Tr(user.lang);
    let target = target_of(&state, &user, q.account).await?;
    let days = match form.days.trim().parse::<u32>() {
        Ok(d) if (1..=MAX_CLIENT_CERT_DAYS).contains(&d) => d,
        _ => {
            let m = format!("{} 1–{MAX_CLIENT_CERT_DAYS}", t.s("cert.days_range"));
            return certs_error(&state, &user, &target, &origin, m).await;
        }
    };
    if form.password != form.password_again {
        return certs_error(
            &state,
            &user,
            &target,
            &origin,
            t.s("cert.pw_mismatch").to_owned(),
        )
        .await;
    }
    if form.password.chars().count() < crate::tls::pkcs12::MIN_PASSWORD_LEN {
        let m = format!(
            "{} {}",
            t.s("cert.pw_short"),
            crate::tls::pkcs12::MIN_PASSWORD_LEN
        );
        return certs_error(&state, &user, &target, &origin, m).await;
    }
    let from = Some(origin.client);
    let issued = if target.own {
        state
            .gateway
            .issue_own_client_cert(&user.principal, from, days)
            .await
    } else {
        state
            .gateway
            .issue_client_cert(&user.principal, from, target.id, days)
            .await
    }
    .or_panel(user.lang)?;
    let password = form.password;
    let bundle = tokio::task::spawn_blocking(move || {
        crate::tls::pkcs12::bundle(
            &issued.cert.subject,
            &issued.cert_pem,
            &issued.key_pem,
            &issued.ca_pem,
            &password,
        )
    })
    .await
    .map_err(|e| PanelError::app(AppError::Internal(e.to_string()), user.lang))?
    .map_err(|e| PanelError::app(AppError::Internal(e.to_string()), user.lang))?;
    user.sessions.put_flash(
        &user.session_id,
        P12_FLASH,
        P12Download {
            filename: format!("smsgate-{}.p12", safe_name(&target.login)),
            bytes: bundle,
        },
        Instant::now(),
    );
    Ok(see_other(&target.url("/panel/certs", Some("issued=1"))))
}

/// A login reduced to characters safe in a Content-Disposition file name.
fn safe_name(login: &str) -> String {
    login
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// `GET /panel/certs/download`: the PKCS#12 bundle just issued, once.
pub async fn download(user: PanelUser) -> Result<Response, PanelError> {
    let Some(p12) = user
        .sessions
        .take_flash::<P12Download>(&user.session_id, P12_FLASH, Instant::now())
    else {
        return Err(PanelError::app(
            AppError::NotFound("certificate download"),
            user.lang,
        ));
    };
    Ok((
        [
            (header::CONTENT_TYPE, "application/x-pkcs12".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{}\"", p12.filename),
            ),
        ],
        p12.bytes.clone(),
    )
        .into_response())
}

/// `POST /panel/certs/upload` (multipart: `file` or `pem`, `kind` = `cert` | `ca`).
pub async fn upload(
    State(state): State<ApiState>,
    Query(q): Query<TargetQuery>,
    origin: Origin,
    form: CsrfMultipart,
) -> Result<Response, PanelError> {
    let t = Tr(form.user.lang);
    let target = target_of(&state, &form.user, q.account).await?;
    let bytes = match form.file("file") {
        Some(f) => f.data.clone(),
        None => form.text("pem").trim().as_bytes().to_vec(),
    };
    let user = &form.user;
    if bytes.is_empty() {
        return certs_error(
            &state,
            user,
            &target,
            &origin,
            t.s("cert.upload_missing").to_owned(),
        )
        .await;
    }
    if bytes.len() > MAX_CERT_BYTES {
        let m = format!("{} {} KiB", t.s("cert.upload_large"), MAX_CERT_BYTES / 1024);
        return certs_error(&state, user, &target, &origin, m).await;
    }
    let ca = form.text("kind") == "ca";
    let from = Some(origin.client);
    let result = if target.own {
        state
            .gateway
            .upload_own_client_cert(&user.principal, from, &bytes, ca)
            .await
    } else {
        state
            .gateway
            .upload_client_cert(&user.principal, from, target.id, &bytes, ca)
            .await
    };
    match result {
        Ok(_) => Ok(see_other(&target.url("/panel/certs", Some("uploaded=1")))),
        Err(AppError::Validation { message, .. }) => {
            certs_error(&state, user, &target, &origin, message).await
        }
        Err(e) => Err(PanelError::app(e, user.lang)),
    }
}

#[derive(Deserialize)]
pub struct RevokeForm {
    #[serde(default)]
    confirm_lockout: Option<String>,
}

/// `POST /panel/certs/{id}/revoke`. When the revocation would refuse this very connection, the page
/// asks again (409) unless `confirm_lockout` is set.
pub async fn revoke(
    State(state): State<ApiState>,
    Path(id): Path<i64>,
    Query(q): Query<TargetQuery>,
    origin: Origin,
    f: CsrfForm<RevokeForm>,
) -> Result<Response, PanelError> {
    let CsrfForm { user, form } = f;
    let lang = user.lang;
    let target = target_of(&state, &user, q.account).await?;
    let current = state
        .gateway
        .stage_settings(&user.principal, target.id)
        .await
        .or_panel(lang)?;
    if !current.certs.iter().any(|c| c.id == id) {
        return Err(PanelError::app(AppError::NotFound("certificate"), lang));
    }
    let mut proposed = current.clone();
    let now = time::OffsetDateTime::now_utc();
    for c in proposed.certs.iter_mut().filter(|c| c.id == id) {
        c.revoked_at.get_or_insert(now);
    }
    if target.own
        && form.confirm_lockout.is_none()
        && locks_out(state.gateway.now_ms(), &current, &proposed, &origin)
    {
        let mut c = Chrome::of(&user, "certs");
        c.error = Some(Tr(lang).s("cert.lockout").to_owned());
        return certs_page(
            &state,
            &user,
            &target,
            &origin,
            c,
            StatusCode::CONFLICT,
            Pending::Revoke(id),
        )
        .await;
    }
    let from = Some(origin.client);
    if target.own {
        state
            .gateway
            .revoke_own_client_cert(&user.principal, from, id)
            .await
    } else {
        state
            .gateway
            .revoke_client_cert(&user.principal, from, target.id, id)
            .await
    }
    .or_panel(lang)?;
    Ok(see_other(&target.url("/panel/certs", Some("revoked=1"))))
}

#[derive(Deserialize)]
pub struct RequiredForm {
    required: String,
    #[serde(default)]
    confirm_lockout: Option<String>,
}

/// `POST /panel/certs/required` (admins): requires, or stops requiring, a client certificate for the
/// account. Requiring one on the admin's own account from a connection without a bound certificate asks
/// again first.
pub async fn set_required(
    State(state): State<ApiState>,
    Query(q): Query<TargetQuery>,
    origin: Origin,
    f: CsrfForm<RequiredForm>,
) -> Result<Response, PanelError> {
    let CsrfForm { user, form } = f;
    let lang = user.lang;
    if user.principal.role != Role::Admin {
        return Err(PanelError::app(
            AppError::Forbidden("needs the admin role".into()),
            lang,
        ));
    }
    let target = target_of(&state, &user, q.account).await?;
    let required = form.required == "1";
    let current = state
        .gateway
        .stage_settings(&user.principal, target.id)
        .await
        .or_panel(lang)?;
    let proposed = StageSettings {
        cert_required: required,
        ..current.clone()
    };
    if target.own
        && form.confirm_lockout.is_none()
        && locks_out(state.gateway.now_ms(), &current, &proposed, &origin)
    {
        let mut c = Chrome::of(&user, "certs");
        c.error = Some(Tr(lang).s("cert.require_lockout").to_owned());
        return certs_page(
            &state,
            &user,
            &target,
            &origin,
            c,
            StatusCode::CONFLICT,
            Pending::Require,
        )
        .await;
    }
    state
        .gateway
        .set_cert_required(&user.principal, Some(origin.client), target.id, required)
        .await
        .or_panel(lang)?;
    Ok(see_other(&target.url("/panel/certs", Some("required=1"))))
}

// ---- IP pool ----

/// A line of the pool editor that is not an address or range.
struct PoolLineError {
    line: usize,
    text: String,
    reason: String,
}

#[derive(Template)]
#[template(path = "ip_pool.html")]
struct PoolPage {
    c: Chrome,
    target_login: String,
    own: bool,
    account_q: String,
    client: String,
    entries: String,
    errors: Vec<PoolLineError>,
    /// The pool would refuse this connection: ask again before saving.
    confirm_lockout: bool,
}

/// Reads the editor: one entry per line, `#` starts a comment, blank lines ignored. Returns the entries
/// or every line's error.
fn parse_pool(text: &str) -> Result<Vec<String>, Vec<(usize, String, String)>> {
    let mut entries = Vec::new();
    let mut errors = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let entry = raw.split('#').next().unwrap_or("").trim();
        if entry.is_empty() {
            continue;
        }
        match crate::auth::stages::parse_pool_entry(entry) {
            Ok(net) => entries.push(net.to_string()),
            Err(reason) => errors.push((i + 1, entry.to_owned(), reason)),
        }
    }
    if errors.is_empty() {
        Ok(entries)
    } else {
        Err(errors)
    }
}

fn pool_page(
    target: &Target,
    client: IpAddr,
    c: Chrome,
    entries: String,
    errors: Vec<PoolLineError>,
    confirm_lockout: bool,
    status: StatusCode,
) -> Result<Response, PanelError> {
    let page = PoolPage {
        c,
        target_login: target.login.clone(),
        own: target.own,
        account_q: target.url("", None),
        client: client.to_string(),
        entries,
        errors,
        confirm_lockout,
    };
    Ok((status, axum::response::Html(page.render()?)).into_response())
}

#[derive(Deserialize, Default)]
pub struct PoolQuery {
    #[serde(default)]
    saved: Option<String>,
    #[serde(default)]
    account: Option<i64>,
}

/// `GET /panel/ip-pool`.
pub async fn ip_pool(
    State(state): State<ApiState>,
    user: PanelUser,
    origin: Origin,
    Query(q): Query<PoolQuery>,
) -> Result<Response, PanelError> {
    let target = target_of(&state, &user, q.account).await?;
    let settings = state
        .gateway
        .stage_settings(&user.principal, target.id)
        .await
        .or_panel(user.lang)?;
    let mut c = Chrome::of(&user, "ip-pool");
    c.notice = q.saved.map(|_| Tr(user.lang).s("pool.saved").to_owned());
    let mut entries = settings.ip_pool.join("\n");
    if !entries.is_empty() {
        entries.push('\n');
    }
    pool_page(
        &target,
        origin.client,
        c,
        entries,
        Vec::new(),
        false,
        StatusCode::OK,
    )
}

#[derive(Deserialize)]
pub struct PoolForm {
    entries: String,
    #[serde(default)]
    confirm_lockout: Option<String>,
}

/// `POST /panel/ip-pool`: validates every line (errors shown per line), asks again when the new pool
/// would refuse the caller's own address, then saves.
pub async fn save_ip_pool(
    State(state): State<ApiState>,
    Query(q): Query<TargetQuery>,
    origin: Origin,
    f: CsrfForm<PoolForm>,
) -> Result<Response, PanelError> {
    let CsrfForm { user, form } = f;
    let lang = user.lang;
    let target = target_of(&state, &user, q.account).await?;
    let entries = match parse_pool(&form.entries) {
        Ok(e) => e,
        Err(errors) => {
            let mut c = Chrome::of(&user, "ip-pool");
            c.error = Some(Tr(lang).s("pool.invalid").to_owned());
            let errors = errors
                .into_iter()
                .map(|(line, text, reason)| PoolLineError { line, text, reason })
                .collect();
            return pool_page(
                &target,
                origin.client,
                c,
                form.entries,
                errors,
                false,
                StatusCode::UNPROCESSABLE_ENTITY,
            );
        }
    };
    let current = state
        .gateway
        .stage_settings(&user.principal, target.id)
        .await
        .or_panel(lang)?;
    let proposed = StageSettings {
        ip_pool: entries.clone(),
        ..current.clone()
    };
    if target.own
        && form.confirm_lockout.is_none()
        && locks_out(state.gateway.now_ms(), &current, &proposed, &origin)
    {
        let mut c = Chrome::of(&user, "ip-pool");
        c.error = Some(format!("{} {}", Tr(lang).s("pool.lockout"), origin.client));
        return pool_page(
            &target,
            origin.client,
            c,
            form.entries,
            Vec::new(),
            true,
            StatusCode::CONFLICT,
        );
    }
    let from = Some(origin.client);
    if target.own {
        state
            .gateway
            .set_own_ip_pool(&user.principal, from, &entries)
            .await
    } else {
        state
            .gateway
            .set_ip_pool(&user.principal, from, target.id, &entries)
            .await
    }
    .or_panel(lang)?;
    Ok(see_other(&target.url("/panel/ip-pool", Some("saved=1"))))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pool_editor_lines() {
        let check = |text: &str, expect: Result<Vec<&str>, Vec<usize>>| {
            let got = parse_pool(text).map_err(|e| e.into_iter().map(|(l, _, _)| l).collect::<Vec<_>>());
            let expect = expect.map(|v| v.into_iter().map(str::to_owned).collect::<Vec<_>>());
            assert_eq!(got, expect, "{text:?}");
        };
        check("", Ok(vec![]));
        check(
            "10.0.0.0/8\n\n# office\n192.0.2.7 # gateway\n2001:db8::/32\n",
            Ok(vec!["10.0.0.0/8", "192.0.2.7/32", "2001:db8::/32"]),
        );
        check("10.1.2.3/8", Ok(vec!["10.0.0.0/8"]));
        check("10.0.0.0/8\nnonsense\n1.2.3.4/33\n::1", Err(vec![2, 3]));
    }

    #[tokio::test]
    async fn revoking_the_certificate_in_use_counts_as_a_lockout_only_when_one_is_required() {
        let dir = tempfile::tempdir().unwrap();
        let settings = crate::config::Settings::default_with_data_dir(dir.path());
        let (gw, _) = crate::app::Gateway::open(settings).await.unwrap();
        let hash = crate::auth::PasswordHasher::insecure_fast().hash("pw").unwrap();
        let account = gw
            .create_account(None, "alice", hash, crate::app::Role::Client)
            .await
            .unwrap();
        let alice = crate::app::Principal::of(&account);
        let issued = gw.issue_own_client_cert(&alice, None, 1).await.unwrap();
        let mut reader = issued.cert_pem.as_bytes();
        let der = rustls_pemfile::certs(&mut reader).next().unwrap().unwrap();
        let with_cert = Origin {
            client: IpAddr::from([127, 0, 0, 1]),
            chain: Some(std::sync::Arc::new(vec![der])),
        };
        let without = Origin {
            client: IpAddr::from([127, 0, 0, 1]),
            chain: None,
        };
        let mut current = gw.stage_settings(&alice, account.id).await.unwrap();
        let revoke = |s: &StageSettings| {
            let mut p = s.clone();
            p.certs[0].revoked_at = Some(time::OffsetDateTime::now_utc());
            p
        };
        let now = gw.now_ms();
        // (certificate required, origin, lockout expected)
        let check = |current: &StageSettings, origin: &Origin, expect: bool| {
            assert_eq!(locks_out(now, current, &revoke(current), origin), expect);
        };
        check(&current, &with_cert, false);
        current.cert_required = true;
        check(&current, &with_cert, true);
        check(&current, &without, false);
        let pool = StageSettings {
            ip_pool: vec!["10.0.0.0/8".into()],
            ..current.clone()
        };
        assert!(locks_out(now, &current, &pool, &with_cert));
    }

    #[test]
    fn keys_chosen_at_run_time_are_translated() {
        for key in [
            "cert.kind_issued",
            "cert.kind_pinned",
            "cert.kind_ca",
            "cert.valid",
            "cert.expired",
            "cert.revoked",
        ] {
            assert!(
                super::super::i18n::TABLE.iter().any(|(k, _, _)| *k == key),
                "{key}"
            );
        }
    }

    #[test]
    fn file_names_are_safe() {
        assert_eq!(safe_name("acme"), "acme");
        assert_eq!(safe_name("a\"b/c d"), "a_b_c_d");
    }
}
