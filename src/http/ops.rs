//! Operations surfaces on the HTTPS listeners: Prometheus `/metrics` (its own bearer token and/or
//! address list from `[metrics]`, independent of accounts), `GET /api/v1/system` (system health for
//! operators; what `smsgate status` shows), `GET/PUT /api/v1/routing` (run-time routing rules), and the
//! middleware that counts and times every request by route template.
use std::net::IpAddr;
use std::time::Instant;

use axum::Json;
use axum::extract::{MatchedPath, Request, State};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::ApiState;
use super::caller::{Caller, client_of};
use super::extract::StrictJson;
use super::problem::Problem;
use crate::auth::Scope;
use crate::config::MetricsSettings;
use crate::ops::metrics::{CONTENT_TYPE, UNMATCHED_ROUTE};
use crate::store::StoredRouteRule;

/// Why a scrape was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScrapeRefusal {
    /// `[metrics]` sets neither a token nor addresses: `/metrics` does not exist (404).
    Disabled,
    /// The client address is not in `metrics.allow` (403).
    Address,
    /// The bearer token is missing or wrong (401).
    Token,
}

fn token_matches(expected: &str, given: &str) -> bool {
    // Compare digests so that neither the length nor the content leaks through timing.
    let a = Sha256::digest(expected.as_bytes());
    let b = Sha256::digest(given.as_bytes());
    bool::from(a.ct_eq(&b))
}

/// Decides a scrape from the settings, the client address and the `Authorization` header (pure).
pub fn check_scrape(
    settings: &MetricsSettings,
    client: IpAddr,
    authorization: Option<&str>,
) -> Result<(), ScrapeRefusal> {
    if !settings.enabled() {
        return Err(ScrapeRefusal::Disabled);
    }
    let client = match client {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(client, IpAddr::V4),
        v4 => v4,
    };
    if !settings.allow.is_empty() && !settings.allow.iter().any(|n| n.contains(&client)) {
        return Err(ScrapeRefusal::Address);
    }
    if !settings.token.is_empty() {
        let given = authorization
            .and_then(|h| {
                let (scheme, rest) = h.split_once(' ')?;
                scheme.eq_ignore_ascii_case("bearer").then(|| rest.trim())
            })
            .unwrap_or("");
        if given.is_empty() || !token_matches(&settings.token, given) {
            return Err(ScrapeRefusal::Token);
        }
    }
    Ok(())
}

/// `GET /metrics`: the Prometheus text format, for scrapers with `metrics.token` and/or from
/// `metrics.allow`.
pub async fn metrics(State(state): State<ApiState>, parts: Parts) -> Response {
    let settings = &state.gateway.settings().metrics;
    let client = client_of(&state, &parts);
    let authorization = parts
        .headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    match check_scrape(settings, client, authorization) {
        Ok(()) => {}
        Err(ScrapeRefusal::Disabled) => {
            return Problem::not_found("resource")
                .detail("metrics are not enabled ([metrics] in the config)")
                .into_response();
        }
        Err(ScrapeRefusal::Address) => {
            tracing::warn!(peer = %client, "metrics scrape from an address outside metrics.allow refused");
            return Problem::forbidden("this address may not read the metrics").into_response();
        }
        Err(ScrapeRefusal::Token) => {
            tracing::warn!(peer = %client, "metrics scrape without the metrics token refused");
            let mut r = Problem::unauthorized().into_response();
            r.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                header::HeaderValue::from_static("Bearer realm=\"smsgate metrics\""),
            );
            return r;
        }
    }
    match state.gateway.metrics_text().await {
        Ok(text) => ([(header::CONTENT_TYPE, CONTENT_TYPE)], text).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "cannot collect metrics");
            Problem::unavailable("metrics cannot be collected now").into_response()
        }
    }
}

/// `GET /api/v1/system`: readiness, version, uptime, database, queue, backups, disk, certificate and
/// the modem bank (admin or technician; token scope `modems:read`).
pub async fn system(State(state): State<ApiState>, caller: Caller) -> Result<Response, Problem> {
    caller.require(Scope::ModemsRead)?;
    Ok(Json(state.gateway.system_health(&caller.principal).await?).into_response())
}

/// `PUT /api/v1/routing` body.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoutingBody {
    /// The new run-time rules, first match wins.
    pub rules: Vec<StoredRouteRule>,
    /// The `revision` of the list this edit started from (from `GET /api/v1/routing`).
    pub revision: String,
}

/// `GET /api/v1/routing`: run-time rules (with their revision), the config file's rules and the
/// groups a rule may name (admin or technician; token scope `modems:read`).
pub async fn get_routing(State(state): State<ApiState>, caller: Caller) -> Result<Response, Problem> {
    caller.require(Scope::ModemsRead)?;
    Ok(Json(state.gateway.routing_rules(&caller.principal).await?).into_response())
}

/// `PUT /api/v1/routing`: replaces the run-time rules; applied to the next accepted message and
/// audited (admin or technician, password login: a token cannot reroute traffic).
pub async fn put_routing(
    State(state): State<ApiState>,
    caller: Caller,
    StrictJson(body): StrictJson<RoutingBody>,
) -> Result<Response, Problem> {
    caller.require_password_login()?;
    let saved = state
        .gateway
        .set_routing_rules(
            &caller.principal,
            body.rules,
            &body.revision,
            Some(caller.peer.to_string()),
        )
        .await?;
    Ok(Json(saved).into_response())
}

/// Counts and times every request by method, route template and status (see
/// [`crate::ops::metrics::Metrics::record_request`]).
pub async fn track_requests(State(state): State<ApiState>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().clone();
    let route = request.extensions().get::<MatchedPath>().cloned();
    let response = next.run(request).await;
    let route = route.as_ref().map_or(UNMATCHED_ROUTE, MatchedPath::as_str);
    state.gateway.metrics().record_request(
        method.as_str(),
        route,
        response.status().as_u16(),
        started.elapsed(),
    );
    response
}

/// Maps a refusal to its status (for tests and docs).
pub fn refusal_status(r: ScrapeRefusal) -> StatusCode {
    match r {
        ScrapeRefusal::Disabled => StatusCode::NOT_FOUND,
        ScrapeRefusal::Address => StatusCode::FORBIDDEN,
        ScrapeRefusal::Token => StatusCode::UNAUTHORIZED,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(token: &str, allow: &[&str]) -> MetricsSettings {
        MetricsSettings {
            token: token.into(),
            allow: allow.iter().map(|a| a.parse().unwrap()).collect(),
        }
    }

    #[test]
    fn scrape_decisions() {
        use ScrapeRefusal::*;
        const T: &str = "0123456789abcdef-token";
        type Case = (
            MetricsSettings,
            &'static str,
            Option<&'static str>,
            Result<(), ScrapeRefusal>,
        );
        let cases: &[Case] = &[
            (settings("", &[]), "127.0.0.1", Some("Bearer x"), Err(Disabled)),
            (
                settings(T, &[]),
                "192.0.2.1",
                Some("Bearer 0123456789abcdef-token"),
                Ok(()),
            ),
            (
                settings(T, &[]),
                "192.0.2.1",
                Some("bearer 0123456789abcdef-token"),
                Ok(()),
            ),
            (
                settings(T, &[]),
                "192.0.2.1",
                Some("Bearer 0123456789abcdef-tokeN"),
                Err(Token),
            ),
            (
                settings(T, &[]),
                "192.0.2.1",
                Some("Basic 0123456789abcdef-token"),
                Err(Token),
            ),
            (settings(T, &[]), "192.0.2.1", None, Err(Token)),
            (settings("", &["10.0.0.0/8"]), "10.1.2.3", None, Ok(())),
            (settings("", &["10.0.0.0/8"]), "::ffff:10.1.2.3", None, Ok(())),
            (settings("", &["10.0.0.0/8"]), "192.0.2.1", None, Err(Address)),
            (settings(T, &["10.0.0.0/8"]), "10.1.2.3", None, Err(Token)),
            (
                settings(T, &["10.0.0.0/8"]),
                "192.0.2.1",
                Some("Bearer 0123456789abcdef-token"),
                Err(Address),
            ),
        ];
        for (s, ip, auth, expect) in cases {
            let ip: IpAddr = ip.parse().unwrap();
            assert_eq!(check_scrape(s, ip, *auth), *expect, "{s:?} {ip} {auth:?}");
        }
        assert_eq!(refusal_status(Token), StatusCode::UNAUTHORIZED);
    }
}
