//! RFC 9457 problem details: the one error shape of the REST API (`application/problem+json`).
//!
//! Every error names what went wrong in `title`/`detail` and, for bad input, the offending field in
//! `field` (a JSON path such as `to[2]` or `send_at`) and in `errors` (all fields, when several are bad).
use std::time::Duration;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

/// Media type of problem details (RFC 9457 §3).
pub const PROBLEM_JSON: &str = "application/problem+json";
/// Prefix of the `type` URIs smsgate defines (a URN: no network lookup is implied).
const TYPE_PREFIX: &str = "urn:smsgate:problem:";

/// One invalid field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

/// A problem details document plus the headers some problems carry (`Retry-After`, `WWW-Authenticate`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    #[serde(rename = "type")]
    pub type_uri: String,
    pub title: String,
    #[serde(serialize_with = "serialize_status")]
    pub status: StatusCode,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// The (first) field at fault, as a JSON path.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
    /// Seconds, for 429 and 503.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_after: Option<u64>,
    #[serde(skip)]
    pub www_authenticate: bool,
}

fn serialize_status<S: serde::Serializer>(status: &StatusCode, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_u16(status.as_u16())
}

impl Problem {
    /// A problem of kind `kind` (the tail of its `type` URI).
    pub fn new(status: StatusCode, kind: &str, title: impl Into<String>) -> Self {
        Problem {
            type_uri: format!("{TYPE_PREFIX}{kind}"),
            title: title.into(),
            status,
            detail: None,
            field: None,
            errors: Vec::new(),
            retry_after: None,
            www_authenticate: false,
        }
    }

    /// Adds a human-readable explanation.
    pub fn detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = Some(detail.into());
        self
    }

    /// 422: one field is invalid.
    pub fn invalid_field(field: impl Into<String>, message: impl Into<String>) -> Self {
        let field = field.into();
        let message = message.into();
        Problem::new(StatusCode::UNPROCESSABLE_ENTITY, "validation", "Invalid request")
            .detail(format!("{field}: {message}"))
            .with_errors(vec![FieldError { field, message }])
    }

    /// Sets `errors` (and `field` to the first one).
    pub fn with_errors(mut self, errors: Vec<FieldError>) -> Self {
        self.field = errors.first().map(|e| e.field.clone());
        self.errors = errors;
        self
    }

    /// 400: the body is not the JSON it should be (syntax, not a single field).
    pub fn malformed(detail: impl Into<String>) -> Self {
        Problem::new(StatusCode::BAD_REQUEST, "malformed", "Malformed request").detail(detail)
    }

    /// 401 with `WWW-Authenticate`. Deliberately vague: the caller learns nothing about which part failed.
    pub fn unauthorized() -> Self {
        let mut p = Problem::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "Authentication required",
        )
        .detail("valid credentials (HTTP Basic or a Bearer API token) are required");
        p.www_authenticate = true;
        p
    }

    /// 403.
    pub fn forbidden(detail: impl Into<String>) -> Self {
        Problem::new(StatusCode::FORBIDDEN, "forbidden", "Forbidden").detail(detail)
    }

    /// 404 (also used where "exists but is not yours", so ids of other accounts are not revealed).
    pub fn not_found(what: &str) -> Self {
        Problem::new(StatusCode::NOT_FOUND, "not-found", "Not found").detail(format!("no such {what}"))
    }

    /// 409.
    pub fn conflict(detail: impl Into<String>) -> Self {
        Problem::new(StatusCode::CONFLICT, "conflict", "Conflict").detail(detail)
    }

    /// 413.
    pub fn too_large(limit: usize) -> Self {
        Problem::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too-large",
            "Request body too large",
        )
        .detail(format!("the body must not exceed {limit} bytes"))
    }

    /// 415.
    pub fn unsupported_media_type(expected: &str) -> Self {
        Problem::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported-media-type",
            "Unsupported media type",
        )
        .detail(format!("send the body as {expected}"))
    }

    /// 429 with `Retry-After`.
    pub fn rate_limited(retry_after: Duration) -> Self {
        let mut p = Problem::new(StatusCode::TOO_MANY_REQUESTS, "rate-limited", "Too many requests")
            .detail("slow down and retry later");
        p.retry_after = Some(retry_after_secs(retry_after));
        p
    }

    /// 503, optionally with `Retry-After`.
    pub fn unavailable(detail: impl Into<String>) -> Self {
        Problem::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            "Service unavailable",
        )
        .detail(detail)
    }

    /// 500. The detail never contains internals; they go to the log.
    pub fn internal() -> Self {
        Problem::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", "Internal error")
            .detail("the request could not be completed; it has been logged")
    }
}

/// `Retry-After` in whole seconds, rounded up, at least 1 (RFC 9110 §10.2.3).
pub fn retry_after_secs(d: Duration) -> u64 {
    d.as_secs() + u64::from(d.subsec_nanos() > 0).max(u64::from(d.as_secs() == 0))
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let body = match serde_json::to_vec(&self) {
            Ok(body) => body,
            Err(_) => b"{\"type\":\"about:blank\",\"status\":500}".to_vec(),
        };
        let mut response = (self.status, body).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
        if let Some(secs) = self.retry_after {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        if self.www_authenticate {
            headers.insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"smsgate\", charset=\"UTF-8\""),
            );
            headers.append(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"smsgate\""),
            );
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_rounding() {
        let check =
            |ms: u64, secs: u64| assert_eq!(retry_after_secs(Duration::from_millis(ms)), secs, "{ms}");
        check(0, 1);
        check(1, 1);
        check(1000, 1);
        check(1001, 2);
        check(59_999, 60);
    }

    #[tokio::test]
    async fn problem_response_shape() {
        let response = Problem::invalid_field("to[1]", "not an E.164 number").into_response();
        assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(response.headers()[header::CONTENT_TYPE], PROBLEM_JSON);
        let body = axum::body::to_bytes(response.into_body(), 10_000).await.unwrap();
        let json: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(json["type"], "urn:smsgate:problem:validation");
        assert_eq!(json["status"], 422);
        assert_eq!(json["field"], "to[1]");
        assert_eq!(json["errors"][0]["message"], "not an E.164 number");

        let response = Problem::rate_limited(Duration::from_millis(1500)).into_response();
        assert_eq!(response.headers()[header::RETRY_AFTER], "2");
        let response = Problem::unauthorized().into_response();
        assert_eq!(
            response
                .headers()
                .get_all(header::WWW_AUTHENTICATE)
                .iter()
                .count(),
            2
        );
    }
}
