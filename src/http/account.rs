//! REST endpoints for deleting an account's data: `/api/v1/account/deletion` for the caller's own account
//! and `/api/v1/accounts/{id}/deletion` for admins. Requesting or cancelling needs a password login (an
//! API token cannot ask for its own account to be erased). Every request is audited with the caller's
//! address.
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use super::ApiState;
use super::caller::Caller;
use super::problem::Problem;
use crate::app::{AccountId, DeletionAccepted};

fn accepted(a: &DeletionAccepted) -> Response {
    let status = if a.erased { "erased" } else { "scheduled" };
    (
        StatusCode::ACCEPTED,
        Json(serde_json::json!({
            "status": status,
            "account_id": a.request.account_id,
            "requested_at": a.request.requested_at.format(&time::format_description::well_known::Rfc3339).ok(),
            "execute_after": a.request.execute_after.format(&time::format_description::well_known::Rfc3339).ok(),
        })),
    )
        .into_response()
}

fn account_path(id: &str) -> Result<AccountId, Problem> {
    id.parse()
        .map(AccountId)
        .map_err(|_| Problem::not_found("account"))
}

async fn request(state: &ApiState, caller: &Caller, id: AccountId) -> Result<Response, Problem> {
    caller.require_password_login()?;
    let a = state
        .gateway
        .request_account_deletion(&caller.principal, id, Some(caller.peer.to_string()))
        .await?;
    Ok(accepted(&a))
}

async fn status(state: &ApiState, caller: &Caller, id: AccountId) -> Result<Response, Problem> {
    match state.gateway.account_deletion(&caller.principal, id).await? {
        Some(r) => Ok(Json(r).into_response()),
        None => Err(Problem::not_found("deletion request")),
    }
}

async fn cancel(state: &ApiState, caller: &Caller, id: AccountId) -> Result<Response, Problem> {
    caller.require_password_login()?;
    state
        .gateway
        .cancel_account_deletion(&caller.principal, id, Some(caller.peer.to_string()))
        .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `POST /api/v1/account/deletion`: delete all data of the caller's account (after the grace period).
pub async fn request_own(State(state): State<ApiState>, caller: Caller) -> Result<Response, Problem> {
    let id = caller.principal.account_id;
    request(&state, &caller, id).await
}

/// `GET /api/v1/account/deletion`: the caller's pending request (404 if none).
pub async fn status_own(State(state): State<ApiState>, caller: Caller) -> Result<Response, Problem> {
    let id = caller.principal.account_id;
    status(&state, &caller, id).await
}

/// `DELETE /api/v1/account/deletion`: withdraw the caller's pending request within the grace period.
pub async fn cancel_own(State(state): State<ApiState>, caller: Caller) -> Result<Response, Problem> {
    let id = caller.principal.account_id;
    cancel(&state, &caller, id).await
}

/// `POST /api/v1/accounts/{id}/deletion` (admin): delete all data of an account now.
pub async fn request_for(
    State(state): State<ApiState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, Problem> {
    request(&state, &caller, account_path(&id)?).await
}

/// `GET /api/v1/accounts/{id}/deletion` (admin).
pub async fn status_for(
    State(state): State<ApiState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, Problem> {
    status(&state, &caller, account_path(&id)?).await
}

/// `DELETE /api/v1/accounts/{id}/deletion` (admin).
pub async fn cancel_for(
    State(state): State<ApiState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, Problem> {
    cancel(&state, &caller, account_path(&id)?).await
}
