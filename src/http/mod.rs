//! HTTP surfaces over TLS: the REST API under `/api/v1`, the Kannel-compatible `sendsms` shim, the API
//! documentation, the SOAP API under `/soap/v1`, the plain-HTTP redirect listener, and webhook delivery.
pub mod client;
pub mod extract;
pub mod kannel;
pub mod problem;
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
