//! SOAP SSL API (`/soap/v1`): a hand-written WSDL 1.1 (document/literal wrapped, SOAP 1.1 and 1.2
//! bindings) over the same application services as the REST API.
//!
//! Layers, outermost first:
//! - the axum handler (served at `/soap/v1`, `?wsdl` and `?xsd=smsgate.xsd` for the contract);
//! - [`envelope`]: SOAP version by namespace, header blocks, WS-Security UsernameToken;
//! - [`xml`]: the hardened XML reader (no DTDs, no entities, size/depth/count limits);
//! - [`ops`]: operation wrapper elements ↔ typed requests and responses, validation naming the element;
//! - [`backend`]: the gateway (`http::ApiState`) as the handler's backend: REST's authentication and scopes;
//! - [`gateway`]: operations over the application services (`app::Gateway`), errors mapped to faults;
//! - [`fault`]: one error type for the surface, rendered as SOAP 1.1 or 1.2 Fault;
//! - [`writer`]: response envelopes.

pub mod backend;
pub mod envelope;
pub mod fault;
pub mod gateway;
pub mod handler;
pub mod ops;
pub mod writer;
pub mod xml;

pub use fault::{Fault, FaultCode};
pub use handler::{SoapBackend, SoapCredentials, soap_router};

/// Target namespace of the service's WSDL and schema.
pub const TNS: &str = "urn:smsgate:soap:v1";
/// Local name of the fault detail element.
pub const FAULT_ELEMENT: &str = "SmsGateFault";
/// Path of the endpoint.
pub const PATH: &str = "/soap/v1";
/// Query value naming the schema (`/soap/v1?xsd=smsgate.xsd`).
pub const XSD_NAME: &str = "smsgate.xsd";

/// The WSDL as shipped; `{{BASE}}` stands for the endpoint URL of the request's host.
const WSDL_TEMPLATE: &str = include_str!("smsgate.wsdl");
/// The schema of every message, served as is.
pub const XSD: &str = include_str!("smsgate.xsd");
/// Placeholder in [`WSDL_TEMPLATE`].
const BASE_PLACEHOLDER: &str = "{{BASE}}";

/// The WSDL with its service address and schema location set to `base` (e.g.
/// `https://gw.example:8443/soap/v1`), so it works on whatever name and port the client used.
pub fn wsdl(base: &str) -> String {
    WSDL_TEMPLATE.replace(BASE_PLACEHOLDER, &writer::escape_text(base))
}

/// Checks a `Host` header value before it goes into the WSDL: a host name, IPv4 or bracketed IPv6
/// address, with an optional port (RFC 9110 §7.2, RFC 3986 §3.2.2). Anything else could inject markup
/// or redirect clients, so it is refused.
pub fn valid_host(host: &str) -> bool {
    const MAX_HOST_LEN: usize = 255;
    !host.is_empty()
        && host.len() <= MAX_HOST_LEN
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':' | b'[' | b']'))
}
