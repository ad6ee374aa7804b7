//! Account administration over REST (issue 7): accounts, their authentication stages (client
//! certificate requirement, bound certificates, IP pool) and the audit log. Admin only (clients may read
//! their own stage settings); every change is audited with who, when and from which address. Changing
//! credentials needs a password login, never an API token.
use std::str::FromStr;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::Deserialize;
use serde_json::{Value, json};

use super::ApiState;
use super::caller::Caller;
use super::extract::StrictJson;
use super::problem::Problem;
use crate::app::stages::MAX_CLIENT_CERT_DAYS;
use crate::store::{AccountCert, AccountId, Role, StageSettings};

fn account_id(raw: &str) -> Result<AccountId, Problem> {
    raw.parse()
        .map(AccountId)
        .map_err(|_| Problem::not_found("account"))
}

fn cert_view(c: &AccountCert) -> Value {
    json!({
        "id": c.id,
        "kind": c.kind.as_str(),
        "sha256": c.fingerprint,
        "subject": c.subject,
        "not_after": c.not_after.unix_timestamp(),
        "revoked": c.revoked_at.is_some(),
        "revoked_at": c.revoked_at.map(|t| t.unix_timestamp()),
        "created_at": c.created_at.unix_timestamp(),
    })
}

fn stages_view(s: &StageSettings) -> Value {
    json!({
        "cert_required": s.cert_required,
        "ip_pool": s.ip_pool,
        "certificates": s.certs.iter().map(cert_view).collect::<Vec<_>>(),
    })
}

/// `POST /api/v1/accounts` body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewAccountBody {
    pub login: String,
    pub password: String,
    #[serde(default = "client_role")]
    pub role: String,
}

fn client_role() -> String {
    Role::Client.as_str().to_owned()
}

/// `GET /api/v1/accounts` (admin).
pub async fn list(State(state): State<ApiState>, caller: Caller) -> Result<Response, Problem> {
    let accounts = state.gateway.accounts(&caller.principal).await?;
    Ok(Json(json!({ "items": accounts })).into_response())
}

/// `POST /api/v1/accounts` (admin): password checked against the policy.
pub async fn create(
    State(state): State<ApiState>,
    caller: Caller,
    StrictJson(body): StrictJson<NewAccountBody>,
) -> Result<Response, Problem> {
    caller.require_password_login()?;
    let role = Role::from_str(&body.role)
        .map_err(|_| Problem::invalid_field("role", "must be admin, technician or client"))?;
    crate::auth::PasswordPolicy::default()
        .check(&body.login, &body.password)
        .map_err(|e| Problem::invalid_field("password", e.to_string()))?;
    let hash = state
        .auth
        .hasher()
        .hash_blocking(body.password)
        .await
        .map_err(|_| Problem::internal())?;
    let account = state
        .gateway
        .create_account(Some(&caller.principal), &body.login, hash, role)
        .await?;
    Ok((StatusCode::CREATED, Json(account)).into_response())
}

/// `GET /api/v1/accounts/{id}/auth`: the account's stages (admin, or the account itself).
pub async fn get_stages(
    State(state): State<ApiState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, Problem> {
    let settings = state
        .gateway
        .stage_settings(&caller.principal, account_id(&id)?)
        .await?;
    Ok(Json(stages_view(&settings)).into_response())
}

/// `PUT /api/v1/accounts/{id}/auth` body: fields left out stay as they are.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StagesBody {
    #[serde(default)]
    pub cert_required: Option<bool>,
    /// Addresses or CIDR ranges; `[]` clears the pool.
    #[serde(default)]
    pub ip_pool: Option<Vec<String>>,
}

/// `PUT /api/v1/accounts/{id}/auth` (admin).
pub async fn put_stages(
    State(state): State<ApiState>,
    caller: Caller,
    Path(id): Path<String>,
    StrictJson(body): StrictJson<StagesBody>,
) -> Result<Response, Problem> {
    caller.require_password_login()?;
    let id = account_id(&id)?;
    let (who, from) = (&caller.principal, Some(caller.peer));
    if let Some(pool) = &body.ip_pool {
        state.gateway.set_ip_pool(who, from, id, pool).await?;
    }
    if let Some(required) = body.cert_required {
        state.gateway.set_cert_required(who, from, id, required).await?;
    }
    let settings = state.gateway.stage_settings(who, id).await?;
    Ok(Json(stages_view(&settings)).into_response())
}

/// `GET /api/v1/accounts/{id}/certificates`.
pub async fn list_certs(
    State(state): State<ApiState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, Problem> {
    let certs = state
        .gateway
        .account_certs(&caller.principal, account_id(&id)?)
        .await?;
    Ok(Json(json!({ "items": certs.iter().map(cert_view).collect::<Vec<_>>() })).into_response())
}

/// `POST /api/v1/accounts/{id}/certificates` body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IssueBody {
    #[serde(default = "default_days")]
    pub days: u32,
    /// When given, the answer also carries a PKCS#12 bundle (base64) protected by this password.
    #[serde(default)]
    pub pkcs12_password: Option<String>,
}

fn default_days() -> u32 {
    365
}

/// `POST /api/v1/accounts/{id}/certificates` (admin): issues a client certificate from the appliance
/// CA. The private key is in this answer once (PEM, and PKCS#12 on request) and is not kept.
pub async fn issue_cert(
    State(state): State<ApiState>,
    caller: Caller,
    Path(id): Path<String>,
    StrictJson(body): StrictJson<IssueBody>,
) -> Result<Response, Problem> {
    caller.require_password_login()?;
    if body.days == 0 || body.days > MAX_CLIENT_CERT_DAYS {
        return Err(Problem::invalid_field(
            "days",
            format!("must be 1 to {MAX_CLIENT_CERT_DAYS}"),
        ));
    }
    if let Some(p) = &body.pkcs12_password
        && p.chars().count() < crate::tls::pkcs12::MIN_PASSWORD_LEN
    {
        return Err(Problem::invalid_field(
            "pkcs12_password",
            format!(
                "needs at least {} characters",
                crate::tls::pkcs12::MIN_PASSWORD_LEN
            ),
        ));
    }
    let id = account_id(&id)?;
    let issued = state
        .gateway
        .issue_client_cert(&caller.principal, Some(caller.peer), id, body.days)
        .await?;
    let mut view = cert_view(&issued.cert);
    view["certificate_pem"] = json!(issued.cert_pem);
    view["private_key_pem"] = json!(issued.key_pem);
    view["ca_pem"] = json!(issued.ca_pem);
    if let Some(password) = &body.pkcs12_password {
        let p12 = crate::tls::pkcs12::bundle(
            &issued.cert.subject,
            &issued.cert_pem,
            &issued.key_pem,
            &issued.ca_pem,
            password,
        )
        .map_err(|_| Problem::internal())?;
        view["pkcs12_base64"] = json!(STANDARD.encode(p12));
    }
    Ok((StatusCode::CREATED, Json(view)).into_response())
}

/// `POST /api/v1/accounts/{id}/certificates/upload` body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UploadBody {
    /// The certificate in PEM.
    pub pem: String,
    /// True: a CA whose certificates are all accepted; false: this certificate only.
    #[serde(default)]
    pub ca: bool,
}

/// `POST /api/v1/accounts/{id}/certificates/upload` (admin): pins a customer's certificate or CA.
pub async fn upload_cert(
    State(state): State<ApiState>,
    caller: Caller,
    Path(id): Path<String>,
    StrictJson(body): StrictJson<UploadBody>,
) -> Result<Response, Problem> {
    caller.require_password_login()?;
    let cert = state
        .gateway
        .upload_client_cert(
            &caller.principal,
            Some(caller.peer),
            account_id(&id)?,
            body.pem.as_bytes(),
            body.ca,
        )
        .await?;
    Ok((StatusCode::CREATED, Json(cert_view(&cert))).into_response())
}

/// `DELETE /api/v1/accounts/{id}/certificates/{cert}` (admin): revokes at once, also on open
/// connections.
pub async fn revoke_cert(
    State(state): State<ApiState>,
    caller: Caller,
    Path((id, cert)): Path<(String, String)>,
) -> Result<Response, Problem> {
    caller.require_password_login()?;
    let cert: i64 = cert.parse().map_err(|_| Problem::not_found("certificate"))?;
    state
        .gateway
        .revoke_client_cert(&caller.principal, Some(caller.peer), account_id(&id)?, cert)
        .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `GET /api/v1/audit` query.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditQuery {
    #[serde(default)]
    pub before: Option<i64>,
    #[serde(default)]
    pub limit: Option<u32>,
}

/// `GET /api/v1/audit` (admin): the audit log, newest first; page with `before=<id>`.
pub async fn audit(
    State(state): State<ApiState>,
    caller: Caller,
    Query(q): Query<AuditQuery>,
) -> Result<Response, Problem> {
    let entries = state
        .gateway
        .audit_log(&caller.principal, q.before, q.limit.unwrap_or(100))
        .await?;
    Ok(Json(json!({ "items": entries })).into_response())
}
