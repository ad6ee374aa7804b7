//! Who is calling: the `Caller` extractor runs stage 1 of authentication (HTTP Basic or Bearer token) for
//! every API request, and [`GatewayDirectory`] lets the authenticator look accounts up in the gateway.
//!
//! Failures answer 401 (no hint which part was wrong), 429 with `Retry-After` while throttled, 503 when
//! the account store is unavailable. The audit log gets the exact reason and the source address.
use std::net::{IpAddr, Ipv4Addr};
use std::str::FromStr;
use std::sync::Arc;

use rustls::pki_types::CertificateDer;

use axum::extract::FromRequestParts;
use axum::http::header;
use axum::http::request::Parts;

use super::ApiState;
use super::problem::Problem;
use crate::app::{Gateway, Principal};
use crate::auth::{
    AccountDirectory, AccountRecord, AuthFailure, AuthMethod, Credentials, DirFuture, DirectoryError,
    Identity, Scope, TokenRecord, parse_authorization,
};
use crate::store::{Account, AccountId, Role};
use crate::tls::ConnectionInfo;

/// An authenticated caller.
#[derive(Debug, Clone)]
pub struct Caller {
    pub principal: Principal,
    pub identity: Identity,
    pub peer: IpAddr,
}

impl Caller {
    /// Fails with 403 unless the caller's credential allows `scope` (password logins allow everything
    /// their role allows; tokens only their scopes).
    pub fn require(&self, scope: Scope) -> Result<(), Problem> {
        if self.identity.scopes.allows(scope) {
            Ok(())
        } else {
            Err(Problem::forbidden(format!(
                "this API token lacks the scope `{scope}`"
            )))
        }
    }

    /// Fails with 403 unless the caller logged in with a password (tokens cannot mint tokens).
    pub fn require_password_login(&self) -> Result<(), Problem> {
        match self.identity.method {
            AuthMethod::Password => Ok(()),
            AuthMethod::Token { .. } => {
                Err(Problem::forbidden("managing credentials needs a password login"))
            }
        }
    }
}

/// The socket peer of the request (loopback when unknown, which only happens in unit tests of routers).
pub fn peer_of(parts: &Parts) -> IpAddr {
    parts
        .extensions
        .get::<ConnectionInfo>()
        .map_or(IpAddr::V4(Ipv4Addr::LOCALHOST), |c| c.peer.ip())
}

impl FromRequestParts<ApiState> for Caller {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &ApiState) -> Result<Self, Self::Rejection> {
        let header_value = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok());
        let Some(value) = header_value else {
            return Err(Problem::unauthorized());
        };
        let credentials = parse_authorization(value).map_err(|_| Problem::unauthorized())?;
        let caller = authenticate_request(state, &credentials, parts).await?;
        check_rate(state, &caller).map_err(Problem::rate_limited)?;
        Ok(caller)
    }
}

/// The per-account request rate (`http.requests_per_second`): `Err(retry_after)` when over it.
pub fn check_rate(state: &ApiState, caller: &Caller) -> Result<(), std::time::Duration> {
    match &state.rate_limit {
        Some(limiter) => limiter.check(caller.principal.account_id.0),
        None => Ok(()),
    }
}

/// All three stages for a request: stage 1 ([`authenticate`]) then [`enforce_stages`]. Every surface
/// (REST, Kannel shim, SOAP, panel) calls this, so no surface can skip a stage.
pub async fn authenticate_request(
    state: &ApiState,
    credentials: &Credentials,
    parts: &Parts,
) -> Result<Caller, Problem> {
    let caller = verify_credentials(state, credentials, client_of(state, parts)).await?;
    enforce_stages(state, &caller, parts).await?;
    audit_login(state, &caller, "stage=password,ip-pool,certificate").await;
    Ok(caller)
}

/// Audits a successful login once per verification (the cache answers repeats), not once per request.
async fn audit_login(state: &ApiState, caller: &Caller, stages: &str) {
    if caller.identity.fresh {
        let principal = &caller.principal;
        tracing::info!(peer = %caller.peer, login = %principal.login, "login");
        state
            .gateway
            .audit(
                Some(principal),
                Some(principal.account_id),
                Some(caller.peer.to_string()),
                "login.ok",
                Some(stages.to_owned()),
            )
            .await;
    }
}

/// The client address of a request: the socket peer, or, when the peer is one of `http.trusted_proxies`,
/// the client named by `X-Forwarded-For`.
pub fn client_of(state: &ApiState, parts: &Parts) -> IpAddr {
    let forwarded = parts.headers.get("x-forwarded-for").and_then(|v| v.to_str().ok());
    crate::auth::stages::client_address(
        peer_of(parts),
        forwarded,
        &state.gateway.settings().http.trusted_proxies,
    )
}

/// Stages 2 and 3 (client certificate, IP pool) for an already authenticated `caller`, on the connection
/// `parts` came on. Call after stage 1 on every request (also for sessions: a revoked certificate or a
/// changed pool then applies at once). A refusal is the same 401 a wrong password gets; the audit log
/// names the stage.
pub async fn enforce_stages(state: &ApiState, caller: &Caller, parts: &Parts) -> Result<(), Problem> {
    enforce_origin(state, &caller.principal, &Origin::of(state, parts)).await
}

/// Where a request comes from, as stages 2 and 3 see it: the client address (after trusted-proxy
/// processing) and the client certificate chain of its connection. An extractor, for surfaces (the
/// panel) whose handlers do not hold the request parts.
#[derive(Debug, Clone)]
pub struct Origin {
    pub client: IpAddr,
    pub chain: Option<Arc<Vec<CertificateDer<'static>>>>,
}

impl Origin {
    /// The origin of the request `parts` belong to.
    pub fn of(state: &ApiState, parts: &Parts) -> Origin {
        Origin {
            client: client_of(state, parts),
            chain: parts
                .extensions
                .get::<ConnectionInfo>()
                .and_then(|c| c.client_chain.clone()),
        }
    }
}

impl FromRequestParts<ApiState> for Origin {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &ApiState) -> Result<Self, Self::Rejection> {
        Ok(Origin::of(state, parts))
    }
}

/// Stages 2 and 3 for `principal` from `origin` (see [`enforce_stages`]); for session-based surfaces
/// call it on every request, not only at login.
pub async fn enforce_origin(state: &ApiState, principal: &Principal, origin: &Origin) -> Result<(), Problem> {
    match state
        .gateway
        .check_stages(
            principal.account_id,
            &principal.login,
            origin.client,
            origin.chain.as_deref().map(Vec::as_slice),
        )
        .await
    {
        Ok(Ok(())) => Ok(()),
        Ok(Err(_)) => {
            // The cached password verification must not outlive a refused stage.
            state.auth.forget_account(principal.account_id.0);
            Err(Problem::unauthorized())
        }
        Err(e) => {
            tracing::error!(error = %e, "stage settings unavailable");
            Err(Problem::unavailable("authentication is temporarily unavailable"))
        }
    }
}

/// Runs stage 1 only for `credentials` from `peer`, auditing the outcome. Surfaces call
/// [`authenticate_request`] (all stages) instead; a surface that uses this must call [`enforce_stages`]
/// right after it.
pub async fn authenticate(
    state: &ApiState,
    credentials: &Credentials,
    peer: IpAddr,
) -> Result<Caller, Problem> {
    let caller = verify_credentials(state, credentials, peer).await?;
    audit_login(state, &caller, "stage=password").await;
    Ok(caller)
}

/// Stage 1 without auditing success (failures are audited).
async fn verify_credentials(
    state: &ApiState,
    credentials: &Credentials,
    peer: IpAddr,
) -> Result<Caller, Problem> {
    match state.auth.authenticate(credentials, peer).await {
        Ok(identity) => {
            // The credential cache may still remember an account whose data was erased meanwhile.
            if state.gateway.was_erased(AccountId(identity.account_id)) {
                state.auth.forget_account(identity.account_id);
                return Err(Problem::unauthorized());
            }
            let role = Role::from_str(&identity.role).map_err(|_| Problem::internal())?;
            let principal = Principal {
                account_id: AccountId(identity.account_id),
                login: identity.login.clone(),
                role,
            };

            Ok(Caller {
                principal,
                identity,
                peer,
            })
        }
        Err(failure) => {
            let (login, detail) = match &failure {
                AuthFailure::Invalid { reason, login } => {
                    (login.clone(), format!("stage=password reason={reason}"))
                }
                AuthFailure::Throttled { locked, .. } => (
                    credential_login(credentials),
                    format!("stage=throttle locked={locked}"),
                ),
                AuthFailure::Unavailable(e) => {
                    tracing::error!(error = %e, "authentication backend unavailable");
                    return Err(Problem::unavailable("authentication is temporarily unavailable"));
                }
            };
            tracing::info!(peer = %peer, login = login.as_deref().unwrap_or("-"), %detail, "login failed");
            let account = match &login {
                Some(l) => state
                    .gateway
                    .find_account_by_login(l)
                    .await
                    .ok()
                    .flatten()
                    .map(|a| a.id),
                None => None,
            };
            let details = format!("{detail} login={}", login.as_deref().unwrap_or("-"));
            state
                .gateway
                .audit(
                    None,
                    account,
                    Some(peer.to_string()),
                    "login.failed",
                    Some(details),
                )
                .await;
            Err(match failure {
                AuthFailure::Throttled { retry_after, .. } => Problem::rate_limited(retry_after),
                _ => Problem::unauthorized(),
            })
        }
    }
}

fn credential_login(credentials: &Credentials) -> Option<String> {
    match credentials {
        Credentials::Password { login, .. } => Some(login.clone()),
        Credentials::Token(_) => None,
    }
}

/// The gateway as the authenticator's account directory.
pub struct GatewayDirectory(pub Gateway);

fn record(a: &Account) -> AccountRecord {
    AccountRecord {
        id: a.id.0,
        login: a.login.clone(),
        password_hash: a.password_hash.clone(),
        role: a.role.as_str().to_owned(),
        disabled: a.disabled,
    }
}

impl AccountDirectory for GatewayDirectory {
    fn account_by_login<'a>(&'a self, login: &'a str) -> DirFuture<'a, Option<AccountRecord>> {
        Box::pin(async move {
            let found = self
                .0
                .find_account_by_login(login)
                .await
                .map_err(|e| DirectoryError(e.to_string()))?;
            Ok(found.as_ref().map(record))
        })
    }

    fn token_by_hash<'a>(&'a self, hash: &'a str) -> DirFuture<'a, Option<(TokenRecord, AccountRecord)>> {
        Box::pin(async move {
            let found = self
                .0
                .find_token_by_hash(hash)
                .await
                .map_err(|e| DirectoryError(e.to_string()))?;
            let now = time::OffsetDateTime::now_utc();
            Ok(found.map(|(token, account)| {
                let scopes = crate::auth::Scopes::parse(&token.scopes).unwrap_or_default();
                // A stored scope string that no longer parses grants nothing rather than everything.
                let usable = token.is_usable(now) && crate::auth::Scopes::parse(&token.scopes).is_ok();
                (
                    TokenRecord {
                        id: token.id.0,
                        scopes,
                        usable,
                    },
                    record(&account),
                )
            }))
        })
    }
}
