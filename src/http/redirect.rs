//! The optional plain-HTTP listener: it serves nothing but a permanent redirect to the same path on HTTPS
//! (so no credential or message ever travels in clear from a client that follows it).
use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};

/// Default HTTPS port (RFC 9110 §4.2.2): omitted from redirect URLs.
const HTTPS_DEFAULT_PORT: u16 = 443;

/// Where redirects point.
#[derive(Debug, Clone)]
pub struct RedirectTarget {
    /// Port of the HTTPS listener.
    pub https_port: u16,
    /// Host used when the request has no usable `Host` header.
    pub fallback_host: String,
}

/// Router answering every request with `308 Permanent Redirect` to HTTPS (308 keeps the method and body,
/// RFC 9110 §15.4.9; clients must still re-send them, now encrypted).
pub fn router(target: RedirectTarget) -> Router {
    Router::new().fallback(redirect).with_state(target)
}

async fn redirect(State(target): State<RedirectTarget>, request: Request) -> Response {
    let host = request
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .and_then(host_without_port)
        .unwrap_or(target.fallback_host.as_str())
        .to_owned();
    let location = https_location(&host, target.https_port, request.uri());
    match HeaderValue::from_str(&location) {
        Ok(value) => (
            StatusCode::PERMANENT_REDIRECT,
            [(header::LOCATION, value)],
            "use HTTPS\n",
        )
            .into_response(),
        Err(_) => (StatusCode::BAD_REQUEST, "bad Host header\n").into_response(),
    }
}

/// The host part of a `Host` header (IPv6 literals keep their brackets); `None` when it is not a plain
/// host name or address (so a hostile `Host` cannot inject anything into `Location`).
pub fn host_without_port(host: &str) -> Option<&str> {
    let host = host.trim();
    let name = if host.starts_with('[') {
        let end = host.find(']')?;
        &host[..=end]
    } else {
        host.rsplit_once(':').map_or(host, |(h, _port)| h)
    };
    let ok = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '[' | ']' | ':'));
    ok.then_some(name)
}

/// `https://host[:port]/path?query`.
pub fn https_location(host: &str, port: u16, uri: &Uri) -> String {
    let path = uri.path_and_query().map_or("/", |p| p.as_str());
    if port == HTTPS_DEFAULT_PORT {
        format!("https://{host}{path}")
    } else {
        format!("https://{host}:{port}{path}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts() {
        let check = |h: &str, expect: Option<&str>| assert_eq!(host_without_port(h), expect, "{h}");
        check("gw.example:8080", Some("gw.example"));
        check("gw.example", Some("gw.example"));
        check("[::1]:80", Some("[::1]"));
        check("127.0.0.1:80", Some("127.0.0.1"));
        check("evil.com/x", None);
        check("a b", None);
        check("", None);
    }

    #[test]
    fn locations() {
        let uri: Uri = "/api/v1/messages?x=1".parse().unwrap();
        assert_eq!(https_location("gw", 443, &uri), "https://gw/api/v1/messages?x=1");
        assert_eq!(
            https_location("[::1]", 8443, &uri),
            "https://[::1]:8443/api/v1/messages?x=1"
        );
    }
}
