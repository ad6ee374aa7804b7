//! The gateway as the SOAP backend: the same authentication as REST (`caller::authenticate`: password
//! or API token, throttling, audit of failures), the same per-account request rate, the same token
//! scopes per operation, and the operations through [`super::gateway::execute`].
use axum::http::request::Parts;

use super::fault::{Fault, FaultCode};
use super::gateway::{execute_from, problem_fault};
use super::handler::{SoapBackend, SoapCredentials};
use super::ops::{Request, Response};
use crate::auth::{Credentials, Scope, parse_authorization};
use crate::http::ApiState;
use crate::http::caller::{self, Caller};
use crate::http::problem::Problem;

/// What an unauthenticated caller is told: which credentials work, nothing about which part failed.
const UNAUTHORIZED: &str =
    "valid credentials are required: a WS-Security UsernameToken, HTTP Basic or a Bearer API token";

impl SoapBackend for ApiState {
    type Caller = Caller;

    async fn authenticate(&self, credentials: SoapCredentials, parts: &Parts) -> Result<Caller, Fault> {
        let unauthorized = || Fault::new(FaultCode::Unauthorized, UNAUTHORIZED);
        let credentials = match credentials {
            SoapCredentials::UsernameToken(token) => Credentials::Password {
                login: token.username,
                password: token.password,
            },
            SoapCredentials::Authorization(value) => {
                parse_authorization(&value).map_err(|_| unauthorized())?
            }
        };
        let caller = caller::authenticate_request(self, &credentials, parts)
            .await
            .map_err(|problem| {
                let fault = problem_fault(&problem);
                if fault.code == FaultCode::Unauthorized {
                    unauthorized()
                } else {
                    fault
                }
            })?;
        // The per-account request rate (`http.requests_per_second`) counts SOAP calls like REST calls.
        caller::check_rate(self, &caller)
            .map_err(|retry_after| problem_fault(&Problem::rate_limited(retry_after)))?;
        Ok(caller)
    }

    /// `http.max_body_bytes`, the same limit as the REST API's.
    fn max_body_bytes(&self) -> usize {
        self.max_body_bytes
    }

    async fn execute(&self, caller: &Caller, request: Request) -> Result<Response, Fault> {
        if let Some(scope) = required_scope(&request) {
            caller.require(scope).map_err(|p| problem_fault(&p))?;
        }
        if needs_password_login(&request) {
            caller.require_password_login().map_err(|p| problem_fault(&p))?;
        }
        execute_from(
            &self.gateway,
            &caller.principal,
            Some(caller.peer.to_string()),
            request,
        )
        .await
    }
}

/// The API token scope an operation needs, as its REST counterpart does (password logins have all).
fn required_scope(request: &Request) -> Option<Scope> {
    match request {
        Request::SendSms(_) | Request::CancelMessage { .. } => Some(Scope::MessagesSend),
        Request::GetMessageStatus { .. } | Request::ListMessages { .. } => Some(Scope::MessagesRead),
        Request::GetInbox { .. } => Some(Scope::InboxRead),
        Request::DeleteInbox { .. } => Some(Scope::InboxWrite),
        Request::ListModems => Some(Scope::ModemsRead),
        Request::SendUssd { .. } => Some(Scope::Ussd),
        Request::GetAccountInfo
        | Request::RequestAccountDeletion { .. }
        | Request::GetAccountDeletion { .. }
        | Request::CancelAccountDeletion { .. } => None,
    }
}

/// Operations REST allows only after a password login: an API token cannot ask for its own account to
/// be erased, nor withdraw such a request.
fn needs_password_login(request: &Request) -> bool {
    matches!(
        request,
        Request::RequestAccountDeletion { .. } | Request::CancelAccountDeletion { .. }
    )
}
