//! The HTTP side of the SOAP API: `GET /soap/v1?wsdl` (and `?xsd=smsgate.xsd`) serve the contract with
//! the request's host in it; `POST /soap/v1` reads the envelope, authenticates (WS-Security
//! UsernameToken, else the `Authorization` header), reads the operation and hands it to the backend,
//! then answers in the request's SOAP version with that version's content type.
//!
//! The backend ([`SoapBackend`]) is the seam to the rest of the gateway: authentication and the
//! application services. The gateway implements it over its authenticator and `app::Gateway`; tests
//! implement it with fakes, so everything here is tested over real HTTP semantics without a database.
use std::future::Future;

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use super::envelope::{self, RequestEnvelope, SoapVersion, UsernameToken};
use super::fault::{Fault, FaultCode};
use super::ops::{self, Operation};
use super::xml::Limits;
use super::{PATH, XSD, XSD_NAME, valid_host, writer, wsdl};

/// Header of the SOAP 1.1 action (SOAP 1.1 §6.1.1).
const SOAP_ACTION: &str = "soapaction";
/// Scheme of the service address: the gateway serves its APIs over TLS only.
const SCHEME: &str = "https";

/// The credentials a SOAP request presents.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SoapCredentials {
    /// From the WS-Security header.
    UsernameToken(UsernameToken),
    /// The raw `Authorization` header value (HTTP Basic, or a Bearer API token).
    Authorization(String),
}

/// What the SOAP layer needs from the rest of the gateway.
pub trait SoapBackend: Clone + Send + Sync + 'static {
    /// An authenticated caller.
    type Caller: Send + Sync;

    /// Runs every authentication stage (password or token, client certificate, IP pool) for
    /// `credentials` presented on the connection described by `parts` (its extensions carry the peer
    /// address and certificate).
    fn authenticate(
        &self,
        credentials: SoapCredentials,
        parts: &Parts,
    ) -> impl Future<Output = Result<Self::Caller, Fault>> + Send;

    /// Runs one operation for `caller` through the application services.
    fn execute(
        &self,
        caller: &Self::Caller,
        request: ops::Request,
    ) -> impl Future<Output = Result<ops::Response, Fault>> + Send;

    /// Largest request body accepted, in bytes (never more than [`Limits::SOAP`] allows).
    fn max_body_bytes(&self) -> usize {
        Limits::SOAP.max_bytes
    }
}

/// The `/soap/v1` routes, to be merged into a router whose state is the backend.
pub fn soap_router<B: SoapBackend>() -> Router<B> {
    Router::new().route(PATH, get(contract).post(endpoint::<B>))
}

/// `GET /soap/v1?wsdl` and `GET /soap/v1?xsd=smsgate.xsd`.
async fn contract(request: Request) -> Response {
    let query = request.uri().query().unwrap_or("");
    let wants_wsdl = query.split('&').any(|p| {
        p.split('=')
            .next()
            .is_some_and(|k| k.eq_ignore_ascii_case("wsdl"))
    });
    let wants_xsd = query.split('&').any(|p| p == format!("xsd={XSD_NAME}"));
    if wants_xsd {
        return xml_document(XSD.to_owned());
    }
    if !wants_wsdl {
        return (
            StatusCode::NOT_FOUND,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            format!("the SOAP API's description is at {PATH}?wsdl\n"),
        )
            .into_response();
    }
    let host = request
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .map(str::to_owned)
        .or_else(|| request.uri().authority().map(|a| a.to_string()));
    match host {
        Some(host) if valid_host(&host) => xml_document(wsdl(&format!("{SCHEME}://{host}{PATH}"))),
        _ => (
            StatusCode::BAD_REQUEST,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            "a valid Host header is required to describe the service address\n",
        )
            .into_response(),
    }
}

fn xml_document(text: String) -> Response {
    ([(header::CONTENT_TYPE, "text/xml; charset=utf-8")], text).into_response()
}

/// `POST /soap/v1`.
async fn endpoint<B: SoapBackend>(State(backend): State<B>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let content_type = header_str(&parts.headers, header::CONTENT_TYPE.as_str()).unwrap_or("");
    let Some(announced_version) = SoapVersion::from_content_type(content_type) else {
        let fault = Fault::new(
            FaultCode::UnsupportedMediaType,
            "send SOAP 1.1 as text/xml or SOAP 1.2 as application/soap+xml",
        );
        return fault_response(SoapVersion::V11, &fault);
    };
    let limits = Limits {
        max_bytes: backend.max_body_bytes().min(Limits::SOAP.max_bytes),
        ..Limits::SOAP
    };
    let bytes = match read_body(body, limits.max_bytes).await {
        Ok(bytes) => bytes,
        Err(fault) => return fault_response(announced_version, &fault),
    };
    let envelope = match parse_off_runtime(bytes, limits).await {
        Ok(envelope) => envelope,
        Err(e) => {
            tracing::info!(code = e.fault.code.as_str(), "soap request refused");
            return fault_response(e.version.unwrap_or(announced_version), &e.fault);
        }
    };
    let version = envelope.version;
    match process(&backend, &parts, content_type, &envelope).await {
        Ok(response) => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, version.content_type())],
            writer::envelope(version, &response.to_payload()),
        )
            .into_response(),
        Err(refusal) => refusal.into_response(version),
    }
}

/// A fault, and whether it refuses HTTP-level credentials (none at all, or a failed `Authorization`).
/// Those are answered `401 Unauthorized` with a `WWW-Authenticate` challenge (RFC 9110 §11.6.1): SOAP
/// stacks such as .NET's and Java's send HTTP Basic credentials only after that challenge. A refused
/// WS-Security token is a SOAP-level fault and keeps the fault's status.
struct Refusal {
    fault: Fault,
    challenge: bool,
}

impl From<Fault> for Refusal {
    fn from(fault: Fault) -> Self {
        Refusal {
            fault,
            challenge: false,
        }
    }
}

impl Refusal {
    fn into_response(self, version: SoapVersion) -> Response {
        let mut response = fault_response(version, &self.fault);
        if self.challenge {
            *response.status_mut() = StatusCode::UNAUTHORIZED;
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static(r#"Basic realm="smsgate", charset="UTF-8""#),
            );
        }
        response
    }
}

async fn process<B: SoapBackend>(
    backend: &B,
    parts: &Parts,
    content_type: &str,
    envelope: &RequestEnvelope,
) -> Result<ops::Response, Refusal> {
    let credentials = match envelope::username_token(envelope)? {
        Some(token) => SoapCredentials::UsernameToken(token),
        None => match header_str(&parts.headers, header::AUTHORIZATION.as_str()) {
            Some(value) => SoapCredentials::Authorization(value.to_owned()),
            None => {
                return Err(Refusal {
                    fault: Fault::new(
                        FaultCode::Unauthorized,
                        "credentials are required: a WS-Security UsernameToken, HTTP Basic or a Bearer API token",
                    ),
                    challenge: true,
                });
            }
        },
    };
    let over_http = matches!(credentials, SoapCredentials::Authorization(_));
    let caller = backend
        .authenticate(credentials, parts)
        .await
        .map_err(|fault| Refusal {
            challenge: over_http && fault.code == FaultCode::Unauthorized,
            fault,
        })?;
    let (op, request) = ops::parse_request(&envelope.payload)?;
    check_action(envelope.version, parts, content_type, op)?;
    let started = std::time::Instant::now();
    let result = backend.execute(&caller, request).await;
    tracing::info!(
        operation = op.name(),
        outcome = match &result {
            Ok(_) => "ok",
            Err(f) => f.code.as_str(),
        },
        elapsed_ms = started.elapsed().as_millis() as u64,
        "soap operation"
    );
    Ok(result?)
}

/// A non-empty action must name the operation in the Body (WS-I BP 1.1 R2744 requires clients to send
/// the WSDL's soapAction; a mismatch means the client and the Body disagree about what to do).
fn check_action(version: SoapVersion, parts: &Parts, content_type: &str, op: Operation) -> Result<(), Fault> {
    let header = header_str(&parts.headers, SOAP_ACTION);
    match envelope::announced_action(version, header, content_type) {
        Some(action) if action != op.action() => Err(Fault::malformed(format!(
            "the action {action} does not match the operation {} in the Body (expected {})",
            op.name(),
            op.action()
        ))),
        _ => Ok(()),
    }
}

/// Bodies above this size are parsed on the blocking pool: a megabyte of XML takes long enough to stall
/// the other connections served by the same runtime thread.
const INLINE_PARSE_MAX: usize = 64 * 1024;

async fn parse_off_runtime(
    bytes: axum::body::Bytes,
    limits: Limits,
) -> Result<RequestEnvelope, envelope::EnvelopeError> {
    if bytes.len() <= INLINE_PARSE_MAX {
        return envelope::parse_envelope(&bytes, &limits);
    }
    tokio::task::spawn_blocking(move || envelope::parse_envelope(&bytes, &limits))
        .await
        .unwrap_or_else(|e| {
            tracing::error!(error = %e, "SOAP parser task failed");
            Err(envelope::EnvelopeError {
                version: None,
                fault: Fault::new(FaultCode::Internal, "internal error"),
            })
        })
}

fn header_str<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// How much of an over-size body is read and thrown away before the 413 fault is sent, and for how long.
/// An HTTP/1.1 client that is still sending when the server answers and closes sees a broken connection
/// instead of the fault (most SOAP stacks do not read the answer before they finished sending), so a
/// moderately over-size body is drained first; memory stays constant, and anything larger or slower is
/// cut off.
const OVERSIZE_DRAIN_BYTES: usize = 16 * 1024 * 1024;
const OVERSIZE_DRAIN_TIME: std::time::Duration = std::time::Duration::from_secs(10);

/// Reads at most `limit` bytes of the body; a longer body is refused without being buffered whole.
async fn read_body(body: Body, limit: usize) -> Result<axum::body::Bytes, Fault> {
    use futures::StreamExt;

    let too_large = || {
        Fault::new(
            FaultCode::PayloadTooLarge,
            format!("the request is larger than {limit} bytes"),
        )
    };
    let unreadable = || Fault::malformed("the request body could not be read");
    let mut stream = body.into_data_stream();
    let mut buffer = Vec::new();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|_| unreadable())?;
        if buffer.len() + chunk.len() > limit {
            let mut drained = buffer.len() + chunk.len();
            let _ = tokio::time::timeout(OVERSIZE_DRAIN_TIME, async {
                while drained <= OVERSIZE_DRAIN_BYTES {
                    match stream.next().await {
                        Some(Ok(more)) => drained += more.len(),
                        _ => break,
                    }
                }
            })
            .await;
            return Err(too_large());
        }
        buffer.extend_from_slice(&chunk);
    }
    Ok(buffer.into())
}

fn fault_response(version: SoapVersion, fault: &Fault) -> Response {
    let status =
        StatusCode::from_u16(fault.http_status(version)).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = (
        status,
        [(header::CONTENT_TYPE, version.content_type())],
        fault.to_envelope(version),
    )
        .into_response();
    let headers = response.headers_mut();
    if let Some(seconds) = fault.retry_after {
        headers.insert(header::RETRY_AFTER, HeaderValue::from(seconds));
    }
    response
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use axum::body::{Body, to_bytes};
    use axum::http::Request;
    use tower::ServiceExt;

    use super::super::envelope::{SOAP11_ENV_NS, SOAP12_ENV_NS, WSSE_NS};
    use super::super::ops::{AccountView, Request as OpRequest, Response as OpResponse};
    use super::super::xml;
    use super::*;

    /// A backend that accepts alice/secret (token or Basic "YWxpY2U6c2VjcmV0") and records requests.
    #[derive(Clone, Default)]
    struct Fake {
        seen: Arc<Mutex<Vec<OpRequest>>>,
    }

    impl SoapBackend for Fake {
        type Caller = String;

        async fn authenticate(&self, credentials: SoapCredentials, _parts: &Parts) -> Result<String, Fault> {
            match credentials {
                SoapCredentials::UsernameToken(t) if t.username == "alice" && t.password == "secret" => {
                    Ok("alice".into())
                }
                SoapCredentials::Authorization(h) if h == "Basic YWxpY2U6c2VjcmV0" => Ok("alice".into()),
                _ => Err(Fault::new(FaultCode::Unauthorized, "invalid credentials")),
            }
        }

        async fn execute(&self, caller: &String, request: OpRequest) -> Result<OpResponse, Fault> {
            if let Ok(mut seen) = self.seen.lock() {
                seen.push(request.clone());
            }
            match request {
                OpRequest::GetAccountInfo => Ok(OpResponse::GetAccountInfo(AccountView {
                    id: 7,
                    login: caller.clone(),
                    role: "client".into(),
                })),
                OpRequest::GetMessageStatus { .. } => Err(Fault::new(FaultCode::NotFound, "no such message")),
                _ => Err(Fault {
                    retry_after: Some(3),
                    ..Fault::new(FaultCode::RateLimited, "slow down")
                }),
            }
        }
    }

    struct Answer {
        status: u16,
        content_type: String,
        headers: HeaderMap,
        body: String,
    }

    async fn call(fake: &Fake, request: Request<Body>) -> Answer {
        let response = match soap_router().with_state(fake.clone()).oneshot(request).await {
            Ok(r) => r,
            Err(e) => match e {},
        };
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let content_type = header_str(&headers, "content-type").unwrap_or("").to_owned();
        let body = to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap_or_default();
        Answer {
            status,
            content_type,
            headers,
            body: String::from_utf8_lossy(&body).into_owned(),
        }
    }

    fn post(content_type: &str, extra: &[(&str, &str)], body: impl Into<Body>) -> Request<Body> {
        let mut builder = Request::post(PATH).header("content-type", content_type);
        for (k, v) in extra {
            builder = builder.header(*k, *v);
        }
        match builder.body(body.into()) {
            Ok(r) => r,
            Err(e) => panic!("{e}"),
        }
    }

    fn envelope(env_ns: &str, header: &str, payload: &str) -> String {
        format!(
            r#"<?xml version="1.0" encoding="UTF-8"?><e:Envelope xmlns:e="{env_ns}"><e:Header>{header}</e:Header><e:Body>{payload}</e:Body></e:Envelope>"#
        )
    }

    fn token(user: &str, password: &str) -> String {
        format!(
            r#"<w:Security xmlns:w="{WSSE_NS}"><w:UsernameToken><w:Username>{user}</w:Username><w:Password>{password}</w:Password></w:UsernameToken></w:Security>"#
        )
    }

    const ACCOUNT_INFO: &str = r#"<GetAccountInfo xmlns="urn:smsgate:soap:v1"/>"#;

    /// The fault code in the answer, read with the same parser the service uses.
    fn fault_code(body: &str) -> Option<String> {
        let root = xml::parse(body.as_bytes(), &Limits::SOAP).ok()?;
        let fault = root.children.first()?.children.first()?;
        fn find<'a>(e: &'a xml::Element, name: &str) -> Option<&'a xml::Element> {
            if e.local == name {
                return Some(e);
            }
            e.children.iter().find_map(|c| find(c, name))
        }
        find(fault, "code").map(|c| c.text.clone())
    }

    #[tokio::test]
    async fn soap11_with_username_token() {
        let fake = Fake::default();
        let body = envelope(SOAP11_ENV_NS, &token("alice", "secret"), ACCOUNT_INFO);
        let answer = call(
            &fake,
            post(
                "text/xml; charset=utf-8",
                &[("SOAPAction", "\"urn:smsgate:soap:v1#GetAccountInfo\"")],
                body,
            ),
        )
        .await;
        assert_eq!(answer.status, 200, "{}", answer.body);
        assert_eq!(answer.content_type, "text/xml; charset=utf-8");
        assert!(answer.body.contains(SOAP11_ENV_NS), "{}", answer.body);
        assert!(
            answer
                .body
                .contains("<account><id>7</id><login>alice</login><role>client</role></account>"),
            "{}",
            answer.body
        );
    }

    #[tokio::test]
    async fn soap12_with_basic_auth_answers_in_soap12() {
        let fake = Fake::default();
        let body = envelope(SOAP12_ENV_NS, "", ACCOUNT_INFO);
        let answer = call(
            &fake,
            post(
                r#"application/soap+xml; charset=utf-8; action="urn:smsgate:soap:v1#GetAccountInfo""#,
                &[("authorization", "Basic YWxpY2U6c2VjcmV0")],
                body,
            ),
        )
        .await;
        assert_eq!(answer.status, 200, "{}", answer.body);
        assert_eq!(answer.content_type, "application/soap+xml; charset=utf-8");
        assert!(answer.body.contains(SOAP12_ENV_NS), "{}", answer.body);
    }

    #[tokio::test]
    async fn faults_carry_code_status_and_headers() {
        let fake = Fake::default();
        struct Case {
            name: &'static str,
            request: Request<Body>,
            status: u16,
            content_type: &'static str,
            code: &'static str,
        }
        let auth = [("authorization", "Basic YWxpY2U6c2VjcmV0")];
        let status_request = r#"<GetMessageStatus xmlns="urn:smsgate:soap:v1"><id>x</id></GetMessageStatus>"#;
        let cases = vec![
            Case {
                name: "no credentials: HTTP challenge",
                request: post("text/xml", &[], envelope(SOAP11_ENV_NS, "", ACCOUNT_INFO)),
                status: 401,
                content_type: "text/xml; charset=utf-8",
                code: "unauthorized",
            },
            Case {
                name: "wrong password in UsernameToken",
                request: post(
                    "application/soap+xml",
                    &[],
                    envelope(SOAP12_ENV_NS, &token("alice", "nope"), ACCOUNT_INFO),
                ),
                status: 400,
                content_type: "application/soap+xml; charset=utf-8",
                code: "unauthorized",
            },
            Case {
                name: "not found from the backend",
                request: post(
                    "application/soap+xml",
                    &auth,
                    envelope(SOAP12_ENV_NS, "", status_request),
                ),
                status: 400,
                content_type: "application/soap+xml; charset=utf-8",
                code: "not-found",
            },
            Case {
                name: "validation before the backend",
                request: post(
                    "text/xml",
                    &auth,
                    envelope(
                        SOAP11_ENV_NS,
                        "",
                        r#"<GetMessageStatus xmlns="urn:smsgate:soap:v1"/>"#,
                    ),
                ),
                status: 500,
                content_type: "text/xml; charset=utf-8",
                code: "validation",
            },
            Case {
                name: "action does not match the body",
                request: post(
                    "text/xml",
                    &[auth[0], ("soapaction", "urn:smsgate:soap:v1#SendSms")],
                    envelope(SOAP11_ENV_NS, "", ACCOUNT_INFO),
                ),
                status: 500,
                content_type: "text/xml; charset=utf-8",
                code: "malformed",
            },
            Case {
                name: "unknown operation",
                request: post(
                    "text/xml",
                    &auth,
                    envelope(SOAP11_ENV_NS, "", r#"<SendFax xmlns="urn:smsgate:soap:v1"/>"#),
                ),
                status: 500,
                content_type: "text/xml; charset=utf-8",
                code: "unsupported-operation",
            },
            Case {
                name: "XXE in a SOAP 1.2 request answers in SOAP 1.2",
                request: post(
                    "application/soap+xml",
                    &auth,
                    format!(
                        r#"<!DOCTYPE e:Envelope [<!ENTITY x SYSTEM "file:///etc/passwd">]>{}"#,
                        envelope(SOAP12_ENV_NS, "", "<a>&x;</a>")
                    ),
                ),
                status: 400,
                content_type: "application/soap+xml; charset=utf-8",
                code: "malformed",
            },
            Case {
                name: "huge body",
                request: post(
                    "text/xml",
                    &auth,
                    envelope(SOAP11_ENV_NS, "", &"<a/>".repeat(Limits::SOAP.max_bytes / 4)),
                ),
                status: 413,
                content_type: "text/xml; charset=utf-8",
                code: "too-large",
            },
            Case {
                name: "not SOAP at all",
                request: post("application/json", &auth, "{}"),
                status: 415,
                content_type: "text/xml; charset=utf-8",
                code: "unsupported-media-type",
            },
        ];
        for case in cases {
            let answer = call(&fake, case.request).await;
            assert_eq!(answer.status, case.status, "{}: {}", case.name, answer.body);
            assert_eq!(answer.content_type, case.content_type, "{}", case.name);
            assert_eq!(
                fault_code(&answer.body).as_deref(),
                Some(case.code),
                "{}: {}",
                case.name,
                answer.body
            );
        }
        // Nothing that was refused reached the application services.
        let seen = fake.seen.lock().map(|s| s.clone()).unwrap_or_default();
        assert_eq!(seen, vec![OpRequest::GetMessageStatus { id: "x".into() }]);
    }

    #[tokio::test]
    async fn rate_limit_fault_sets_retry_after_and_http_credentials_are_challenged() {
        let fake = Fake::default();
        let answer = call(
            &fake,
            post(
                "text/xml",
                &[("authorization", "Basic YWxpY2U6c2VjcmV0")],
                envelope(SOAP11_ENV_NS, "", r#"<ListModems xmlns="urn:smsgate:soap:v1"/>"#),
            ),
        )
        .await;
        assert_eq!(fault_code(&answer.body).as_deref(), Some("rate-limited"));
        assert_eq!(header_str(&answer.headers, "retry-after"), Some("3"));
        let answer = call(
            &fake,
            post("text/xml", &[], envelope(SOAP11_ENV_NS, "", ACCOUNT_INFO)),
        )
        .await;
        assert!(header_str(&answer.headers, "www-authenticate").is_some_and(|v| v.starts_with("Basic")));

        // Wrong HTTP Basic credentials are challenged again; a wrong WS-Security token is a SOAP fault.
        let challenge = |answer: &Answer| {
            (
                answer.status,
                header_str(&answer.headers, "www-authenticate").is_some(),
                fault_code(&answer.body),
            )
        };
        let basic = call(
            &fake,
            post(
                "text/xml",
                &[("authorization", "Basic d3Jvbmc6d3Jvbmc=")],
                envelope(SOAP11_ENV_NS, "", ACCOUNT_INFO),
            ),
        )
        .await;
        assert_eq!(challenge(&basic), (401, true, Some("unauthorized".into())));
        let token = call(
            &fake,
            post(
                "text/xml",
                &[],
                envelope(SOAP11_ENV_NS, &token("alice", "wrong"), ACCOUNT_INFO),
            ),
        )
        .await;
        assert_eq!(challenge(&token), (500, false, Some("unauthorized".into())));
    }

    #[tokio::test]
    async fn oversize_bodies_are_drained_within_bounds_then_refused() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        const CHUNK: usize = 1024 * 1024;
        let pulled = Arc::new(AtomicUsize::new(0));
        let counter = Arc::clone(&pulled);
        let chunk = axum::body::Bytes::from(vec![b'x'; CHUNK]);
        // A 100 MiB upload, produced lazily: only what the reader pulls is ever made.
        let stream = futures::stream::iter((0..100).map(move |_| {
            counter.fetch_add(1, Ordering::SeqCst);
            Ok::<_, std::io::Error>(chunk.clone())
        }));
        let result = read_body(Body::from_stream(stream), CHUNK).await;
        assert_eq!(result.map_err(|f| f.code), Err(FaultCode::PayloadTooLarge));
        let pulled = pulled.load(Ordering::SeqCst);
        assert!(pulled > 2, "the client's excess is drained, not cut at once");
        assert!(pulled <= OVERSIZE_DRAIN_BYTES / CHUNK + 2, "drained {pulled} MiB");

        let small = read_body(Body::from("<a/>"), CHUNK).await;
        assert_eq!(small.ok().as_deref(), Some(&b"<a/>"[..]));
    }

    fn get(uri: &str, host: Option<&str>) -> Request<Body> {
        let mut builder = Request::get(uri);
        if let Some(host) = host {
            builder = builder.header("host", host);
        }
        match builder.body(Body::empty()) {
            Ok(r) => r,
            Err(e) => panic!("{e}"),
        }
    }

    #[tokio::test]
    async fn wsdl_uses_the_request_host() {
        let fake = Fake::default();
        let answer = call(&fake, get("/soap/v1?wsdl", Some("gw.example:8443"))).await;
        assert_eq!(answer.status, 200);
        assert_eq!(answer.content_type, "text/xml; charset=utf-8");
        assert!(
            answer
                .body
                .contains(r#"<soap:address location="https://gw.example:8443/soap/v1"/>"#)
        );
        assert!(
            answer
                .body
                .contains(r#"<soap12:address location="https://gw.example:8443/soap/v1"/>"#)
        );
        assert!(
            answer
                .body
                .contains(r#"schemaLocation="https://gw.example:8443/soap/v1?xsd=smsgate.xsd""#)
        );
        assert!(!answer.body.contains("{{"));

        let answer = call(&fake, get("/soap/v1?WSDL", Some("[::1]:1234"))).await;
        assert!(answer.body.contains("https://[::1]:1234/soap/v1"));

        let answer = call(&fake, get("/soap/v1?wsdl", Some("evil\"><x"))).await;
        assert_eq!(answer.status, 400);

        let answer = call(&fake, get("/soap/v1?xsd=smsgate.xsd", Some("h"))).await;
        assert_eq!(answer.status, 200);
        assert_eq!(answer.body, XSD);

        let answer = call(&fake, get("/soap/v1", Some("h"))).await;
        assert_eq!(answer.status, 404);
    }
}
