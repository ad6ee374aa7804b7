//! REST handlers of technician modem control under `/api/v1/modems`: list and detail with live state,
//! raw AT (admins), restart, USSD, test SMS and settings. Thin: each calls one
//! [`crate::app::Gateway`] method with the caller and the caller's address (for the audit log).
use std::time::Duration;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::ApiState;
use super::caller::Caller;
use super::extract::StrictJson;
use super::problem::Problem;
use crate::app::{Requester, SettingsInput};
use crate::auth::Scope;

fn requester<'a>(caller: &'a Caller, source: &'a str) -> Requester<'a> {
    Requester {
        who: &caller.principal,
        source: Some(source),
    }
}

/// `GET /api/v1/modems`: every known modem with its live state, queue depth and (operators) settings.
pub async fn list(State(state): State<ApiState>, caller: Caller) -> Result<Response, Problem> {
    caller.require(Scope::ModemsRead)?;
    let items = state.gateway.modem_views(&caller.principal).await?;
    Ok(Json(serde_json::json!({ "items": items })).into_response())
}

/// `GET /api/v1/modems/{id}` (IMEI, name or port).
pub async fn get(
    State(state): State<ApiState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, Problem> {
    caller.require(Scope::ModemsRead)?;
    Ok(Json(state.gateway.modem_view(&caller.principal, &id).await?).into_response())
}

/// `POST /api/v1/modems/{id}/at` body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AtBody {
    /// The command line, e.g. `AT+CSQ`.
    pub command: String,
    /// How long to wait for the final result (default 30, at most 180).
    #[serde(default)]
    pub timeout_seconds: Option<u64>,
}

/// `POST /api/v1/modems/{id}/at` (admins): runs a raw AT command through the modem's queue.
pub async fn at(
    State(state): State<ApiState>,
    caller: Caller,
    Path(id): Path<String>,
    StrictJson(body): StrictJson<AtBody>,
) -> Result<Response, Problem> {
    caller.require(Scope::ModemsManage)?;
    let source = caller.peer.to_string();
    let outcome = state
        .gateway
        .modem_at(
            requester(&caller, &source),
            &id,
            &body.command,
            body.timeout_seconds.map(Duration::from_secs),
        )
        .await?;
    Ok(Json(outcome).into_response())
}

/// `POST /api/v1/modems/{id}/restart` (operators): 202, the modem goes through its start-up again.
pub async fn restart(
    State(state): State<ApiState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, Problem> {
    caller.require(Scope::ModemsManage)?;
    let source = caller.peer.to_string();
    state
        .gateway
        .modem_restart(requester(&caller, &source), &id)
        .await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(serde_json::json!({ "modem": id, "status": "restarting" })),
    )
        .into_response())
}

/// `POST /api/v1/modems/{id}/ussd` body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UssdBody {
    /// The code, e.g. `*100#`.
    pub code: String,
}

/// `POST /api/v1/modems/{id}/ussd` (operators): the network's answer.
pub async fn ussd(
    State(state): State<ApiState>,
    caller: Caller,
    Path(id): Path<String>,
    StrictJson(body): StrictJson<UssdBody>,
) -> Result<Response, Problem> {
    caller.require(Scope::Ussd)?;
    let source = caller.peer.to_string();
    let reply = state
        .gateway
        .modem_ussd(requester(&caller, &source), &id, &body.code)
        .await?;
    Ok(Json(reply).into_response())
}

/// `POST /api/v1/modems/{id}/sms` body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TestSmsBody {
    /// Recipient.
    pub to: String,
    /// The text.
    pub text: String,
}

/// `POST /api/v1/modems/{id}/sms` (operators): 202 with the queued message, pinned to this modem.
pub async fn test_sms(
    State(state): State<ApiState>,
    caller: Caller,
    Path(id): Path<String>,
    StrictJson(body): StrictJson<TestSmsBody>,
) -> Result<Response, Problem> {
    caller.require(Scope::ModemsManage)?;
    let source = caller.peer.to_string();
    let message = state
        .gateway
        .modem_test_sms(requester(&caller, &source), &id, &body.to, &body.text)
        .await?;
    Ok((StatusCode::ACCEPTED, Json(message)).into_response())
}

/// `GET /api/v1/modems/{id}/settings` (operators).
pub async fn get_settings(
    State(state): State<ApiState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, Problem> {
    caller.require(Scope::ModemsRead)?;
    Ok(Json(state.gateway.modem_settings(&caller.principal, &id).await?).into_response())
}

/// `PUT /api/v1/modems/{id}/settings` (operators): stored by IMEI, applied live.
pub async fn put_settings(
    State(state): State<ApiState>,
    caller: Caller,
    Path(id): Path<String>,
    StrictJson(body): StrictJson<SettingsInput>,
) -> Result<Response, Problem> {
    caller.require(Scope::ModemsManage)?;
    let source = caller.peer.to_string();
    let view = state
        .gateway
        .set_modem_settings(requester(&caller, &source), &id, body)
        .await?;
    Ok(Json(view).into_response())
}
