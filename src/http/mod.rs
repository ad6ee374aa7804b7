//! HTTP surfaces over TLS: the REST API under `/api/v1`, the Kannel-compatible `sendsms` shim, the API
//! documentation, the SOAP API under `/soap/v1`, the plain-HTTP redirect listener, and webhook delivery.
// Handlers return `Result<_, Problem>`; a problem is built at most once per failed request, so its size
// (a few strings) costs nothing worth boxing for.
#![allow(clippy::result_large_err)]
pub mod account;
pub mod accounts;
pub mod client;
pub mod extract;
pub mod health;
pub mod kannel;
pub mod modems;
pub mod ops;
pub mod panel;
pub mod problem;
pub mod ratelimit;
pub mod redirect;
pub mod soap;
pub mod webhooks;

use axum::Router;
use axum::http::{HeaderValue, header};
use tower_http::set_header::SetResponseHeaderLayer;

/// `Strict-Transport-Security` for every HTTPS response: one year, subdomains included (RFC 6797 §6.1).
pub const HSTS: &str = "max-age=31536000; includeSubDomains";

/// Adds the headers every HTTPS response carries: HSTS, `nosniff`, no framing, no referrer leaks.
pub fn with_security_headers<S: Clone + Send + Sync + 'static>(router: Router<S>) -> Router<S> {
    router
        .layer(SetResponseHeaderLayer::overriding(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static(HSTS),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::X_FRAME_OPTIONS,
            HeaderValue::from_static("DENY"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        ))
}

pub mod api;
pub mod caller;

use std::sync::Arc;

use axum::extract::DefaultBodyLimit;
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, get, post};

use crate::app::Gateway;
use crate::auth::Authenticator;
use problem::Problem;

/// Shared state of every handler.
#[derive(Clone)]
pub struct ApiState {
    pub gateway: Gateway,
    pub auth: Arc<Authenticator>,
    /// `http.max_body_bytes`.
    pub max_body_bytes: usize,
    /// `http.requests_per_second` per account (`None`: no limit).
    pub rate_limit: Option<Arc<ratelimit::AccountRateLimiter>>,
}

/// The OpenAPI 3 document (hand-written; `tests::openapi_matches_router` keeps it in sync with the router).
pub const OPENAPI_JSON: &str = include_str!("openapi.json");
/// The API documentation page (self-contained: no CDN).
pub const DOCS_HTML: &str = include_str!("docs.html");

/// Every route of `/api/v1` (path relative to it) with its handlers. The router and the OpenAPI sync
/// test both read this table.
pub fn api_routes() -> Vec<(&'static str, MethodRouter<ApiState>)> {
    vec![
        ("/messages", post(api::send).get(api::list_messages)),
        (
            "/messages/{id}",
            get(api::get_message).delete(api::cancel_message),
        ),
        ("/inbox", get(api::list_inbox)),
        ("/inbox/{id}", get(api::get_inbox).delete(api::delete_inbox)),
        ("/modems", get(modems::list)),
        ("/modems/{id}", get(modems::get)),
        ("/modems/{id}/at", post(modems::at)),
        ("/modems/{id}/restart", post(modems::restart)),
        ("/modems/{id}/ussd", post(modems::ussd)),
        ("/modems/{id}/sms", post(modems::test_sms)),
        (
            "/modems/{id}/settings",
            get(modems::get_settings).put(modems::put_settings),
        ),
        ("/system", get(ops::system)),
        ("/routing", get(ops::get_routing).put(ops::put_routing)),
        ("/ussd", post(api::ussd)),
        ("/me", get(api::me)),
        ("/tokens", post(api::create_token).get(api::list_tokens)),
        ("/tokens/{id}", axum::routing::delete(api::revoke_token)),
        ("/webhooks", post(api::create_webhook).get(api::list_webhooks)),
        ("/webhooks/{id}", axum::routing::delete(api::delete_webhook)),
        ("/accounts", get(accounts::list).post(accounts::create)),
        (
            "/accounts/{id}/auth",
            get(accounts::get_stages).put(accounts::put_stages),
        ),
        (
            "/accounts/{id}/certificates",
            get(accounts::list_certs).post(accounts::issue_cert),
        ),
        ("/accounts/{id}/certificates/upload", post(accounts::upload_cert)),
        (
            "/accounts/{id}/certificates/{cert}",
            axum::routing::delete(accounts::revoke_cert),
        ),
        ("/audit", get(accounts::audit)),
        (
            "/account/deletion",
            post(account::request_own)
                .get(account::status_own)
                .delete(account::cancel_own),
        ),
        (
            "/accounts/{id}/deletion",
            post(account::request_for)
                .get(account::status_for)
                .delete(account::cancel_for),
        ),
        ("/openapi.json", get(openapi)),
        ("/docs", get(docs)),
    ]
}

async fn openapi() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI_JSON).into_response()
}

async fn docs() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            // The page runs only its own inline script and fetches only from this origin.
            (
                header::CONTENT_SECURITY_POLICY,
                "default-src 'self'; script-src 'unsafe-inline'; style-src 'unsafe-inline'",
            ),
        ],
        DOCS_HTML,
    )
        .into_response()
}

async fn not_found() -> Problem {
    Problem::new(axum::http::StatusCode::NOT_FOUND, "not-found", "Not found").detail("no such resource")
}

async fn method_not_allowed() -> Problem {
    Problem::new(
        axum::http::StatusCode::METHOD_NOT_ALLOWED,
        "method-not-allowed",
        "Method not allowed",
    )
}

/// The HTTPS application: `/api/v1/...`, `/cgi-bin/sendsms`, `/soap/v1` (+ `?wsdl`), `/docs` → API docs;
/// with security headers.
pub fn router(state: ApiState) -> Router {
    let mut api = Router::new();
    for (path, handlers) in api_routes() {
        api = api.route(path, handlers);
    }
    let limit = state.max_body_bytes;
    let app = Router::new()
        .nest("/api/v1", api)
        .route("/cgi-bin/sendsms", get(kannel::sendsms).post(kannel::sendsms))
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/metrics", get(ops::metrics))
        .merge(soap::soap_router())
        .merge(panel::router())
        .route(
            "/",
            get(|| async { axum::response::Redirect::to("/api/v1/docs") }),
        )
        .route(
            "/docs",
            get(|| async { axum::response::Redirect::to("/api/v1/docs") }),
        )
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(limit))
        .layer(axum::Extension(extract::BodyLimit(limit)))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            ops::track_requests,
        ))
        .with_state(state);
    with_security_headers(app)
}
