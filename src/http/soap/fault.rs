//! SOAP Faults: the one error type of the SOAP surface, with a stable code per error (the same codes as
//! the REST problem types) and its rendering as a SOAP 1.1 or SOAP 1.2 Fault.
//!
//! SOAP 1.1 (§4.4): `faultcode` is a namespace-qualified code `sg:<code>` (WS-I Basic Profile 1.1 R1004
//! prefers qualified codes to the "Client.Xxx" dot notation), `faultstring` the readable message, `detail`
//! an [`SmsGateFault`](FAULT_ELEMENT) element.
//! SOAP 1.2 (part 1 §5.4): `Code/Value` is `env:Sender` or `env:Receiver`, `Code/Subcode/Value` is
//! `sg:<code>`, `Reason/Text` the message, `Detail` the same element as in 1.1.
use std::fmt::Write as _;

use super::envelope::{SOAP11_ENV_NS, SOAP12_ENV_NS, SoapVersion};
use super::writer::escape_text;
use super::{FAULT_ELEMENT, TNS};

/// The stable error codes. `as_str` is part of the API contract (the XSD's `FaultCode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FaultCode {
    /// A request element has a bad value or is missing; `field` names it.
    Validation,
    /// No credentials, or wrong ones.
    Unauthorized,
    /// Authenticated, but not allowed (role, certificate, IP pool).
    Forbidden,
    /// The addressed message, inbox item or modem does not exist for this account.
    NotFound,
    /// The request conflicts with the current state (e.g. cancelling a sent message, idempotency key
    /// reused with another request).
    Conflict,
    /// Too many requests; `retry_after` says when to come back.
    RateLimited,
    /// The request body is over the size limit.
    PayloadTooLarge,
    /// The request's content type is not a SOAP media type.
    UnsupportedMediaType,
    /// Not a SOAP envelope we can read (XML refused, no Body, ...).
    MalformedRequest,
    /// The Body names an operation this service does not have.
    UnsupportedOperation,
    /// A dependency (modem, database) cannot serve the request right now.
    Unavailable,
    /// A bug or unexpected failure on the gateway side.
    Internal,
    /// The envelope is not SOAP 1.1 nor SOAP 1.2 (SOAP-defined code `VersionMismatch`).
    VersionMismatch,
    /// A header block marked mustUnderstand is not understood (SOAP-defined code `MustUnderstand`).
    MustUnderstand,
}

impl FaultCode {
    /// Every code.
    pub const ALL: [FaultCode; 14] = [
        FaultCode::Validation,
        FaultCode::Unauthorized,
        FaultCode::Forbidden,
        FaultCode::NotFound,
        FaultCode::Conflict,
        FaultCode::RateLimited,
        FaultCode::PayloadTooLarge,
        FaultCode::UnsupportedMediaType,
        FaultCode::MalformedRequest,
        FaultCode::UnsupportedOperation,
        FaultCode::Unavailable,
        FaultCode::Internal,
        FaultCode::VersionMismatch,
        FaultCode::MustUnderstand,
    ];

    /// The stable code string (also the last segment of the REST problem type).
    pub fn as_str(self) -> &'static str {
        match self {
            FaultCode::Validation => "validation",
            FaultCode::Unauthorized => "unauthorized",
            FaultCode::Forbidden => "forbidden",
            FaultCode::NotFound => "not-found",
            FaultCode::Conflict => "conflict",
            FaultCode::RateLimited => "rate-limited",
            FaultCode::PayloadTooLarge => "too-large",
            FaultCode::MalformedRequest => "malformed",
            FaultCode::UnsupportedMediaType => "unsupported-media-type",
            FaultCode::UnsupportedOperation => "unsupported-operation",
            FaultCode::Unavailable => "unavailable",
            FaultCode::Internal => "internal",
            FaultCode::VersionMismatch => "VersionMismatch",
            FaultCode::MustUnderstand => "MustUnderstand",
        }
    }

    /// True when the sender is at fault (SOAP 1.1 `Client` class, SOAP 1.2 `env:Sender`), false when the
    /// gateway is (`Server` / `env:Receiver`): a receiver fault may succeed when retried unchanged.
    pub fn is_sender_fault(self) -> bool {
        !matches!(
            self,
            FaultCode::Unavailable | FaultCode::Internal | FaultCode::RateLimited
        )
    }

    /// The codes SOAP itself defines; they are rendered in the envelope namespace, without detail
    /// (SOAP 1.1 §4.4: detail is only for errors in processing the Body).
    pub fn is_soap_defined(self) -> bool {
        matches!(self, FaultCode::VersionMismatch | FaultCode::MustUnderstand)
    }

    /// The problem type URI shared with REST.
    pub fn problem_type(self) -> String {
        format!("{PROBLEM_TYPE_PREFIX}{}", self.as_str())
    }
}

/// Prefix of the problem type URIs (REST `type` member of problem+json, SOAP `SmsGateFault/type`);
/// the same as `http::problem`'s.
pub const PROBLEM_TYPE_PREFIX: &str = "urn:smsgate:problem:";

/// A SOAP Fault to send back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fault {
    /// The stable code.
    pub code: FaultCode,
    /// A readable message for humans (never contains secrets or message bodies).
    pub message: String,
    /// For validation faults: the request element at fault, as a path below the operation element
    /// (`recipient[2]`, `sendAt`).
    pub field: Option<String>,
    /// For rate-limited faults: seconds to wait before retrying.
    pub retry_after: Option<u64>,
}

impl Fault {
    /// A fault with a code and a message.
    pub fn new(code: FaultCode, message: impl Into<String>) -> Fault {
        Fault {
            code,
            message: message.into(),
            field: None,
            retry_after: None,
        }
    }

    /// A validation fault naming the element at fault.
    pub fn validation(field: impl Into<String>, message: impl Into<String>) -> Fault {
        Fault {
            field: Some(field.into()),
            ..Fault::new(FaultCode::Validation, message)
        }
    }

    /// A malformed-request fault.
    pub fn malformed(message: impl Into<String>) -> Fault {
        Fault::new(FaultCode::MalformedRequest, message)
    }

    /// The HTTP status that carries this fault: WS-I BP 1.1 R1126 wants 500 for every SOAP 1.1 fault;
    /// the SOAP 1.2 HTTP binding (part 2 §7.5.2.2) maps `env:Sender` to 400 and others to 500. An
    /// over-size body (413) or a body that is not SOAP (415) is refused before it is read as SOAP.
    pub fn http_status(&self, version: SoapVersion) -> u16 {
        const INTERNAL_SERVER_ERROR: u16 = 500;
        const BAD_REQUEST: u16 = 400;
        const PAYLOAD_TOO_LARGE: u16 = 413;
        const UNSUPPORTED_MEDIA_TYPE: u16 = 415;
        match self.code {
            FaultCode::PayloadTooLarge => return PAYLOAD_TOO_LARGE,
            FaultCode::UnsupportedMediaType => return UNSUPPORTED_MEDIA_TYPE,
            _ => {}
        }
        match version {
            SoapVersion::V11 => INTERNAL_SERVER_ERROR,
            SoapVersion::V12 if self.code.is_sender_fault() => BAD_REQUEST,
            SoapVersion::V12 => INTERNAL_SERVER_ERROR,
        }
    }

    /// The complete response envelope for this fault.
    pub fn to_envelope(&self, version: SoapVersion) -> String {
        let env = version.envelope_ns();
        let mut out = String::with_capacity(512);
        out.push_str(r#"<?xml version="1.0" encoding="UTF-8"?>"#);
        let _ = write!(out, r#"<soap:Envelope xmlns:soap="{env}" xmlns:sg="{TNS}">"#);
        if self.code == FaultCode::VersionMismatch {
            // SOAP 1.2 part 1 §5.4.7: tell the sender which envelopes this node understands.
            let _ = write!(
                out,
                concat!(
                    r#"<soap:Header><up:Upgrade xmlns:up="{soap12}">"#,
                    r#"<up:SupportedEnvelope qname="v12:Envelope" xmlns:v12="{soap12}"/>"#,
                    r#"<up:SupportedEnvelope qname="v11:Envelope" xmlns:v11="{soap11}"/>"#,
                    "</up:Upgrade></soap:Header>"
                ),
                soap12 = SOAP12_ENV_NS,
                soap11 = SOAP11_ENV_NS,
            );
        }
        out.push_str("<soap:Body><soap:Fault>");
        let qualified_code = if self.code.is_soap_defined() {
            format!("soap:{}", self.code.as_str())
        } else {
            format!("sg:{}", self.code.as_str())
        };
        let message = escape_text(&self.message);
        match version {
            SoapVersion::V11 => {
                // SOAP 1.1 §4.4: faultcode/faultstring/detail are unqualified.
                let _ = write!(
                    out,
                    "<faultcode>{qualified_code}</faultcode><faultstring>{message}</faultstring>"
                );
                if !self.code.is_soap_defined() {
                    out.push_str("<detail>");
                    self.write_detail(&mut out);
                    out.push_str("</detail>");
                }
            }
            SoapVersion::V12 => {
                out.push_str("<soap:Code>");
                if self.code.is_soap_defined() {
                    let _ = write!(out, "<soap:Value>{qualified_code}</soap:Value>");
                } else {
                    let class = if self.code.is_sender_fault() {
                        "soap:Sender"
                    } else {
                        "soap:Receiver"
                    };
                    let _ = write!(
                        out,
                        "<soap:Value>{class}</soap:Value><soap:Subcode><soap:Value>{qualified_code}</soap:Value></soap:Subcode>"
                    );
                }
                let _ = write!(
                    out,
                    r#"</soap:Code><soap:Reason><soap:Text xml:lang="en">{message}</soap:Text></soap:Reason>"#
                );
                if !self.code.is_soap_defined() {
                    out.push_str("<soap:Detail>");
                    self.write_detail(&mut out);
                    out.push_str("</soap:Detail>");
                }
            }
        }
        out.push_str("</soap:Fault></soap:Body></soap:Envelope>");
        out
    }

    fn write_detail(&self, out: &mut String) {
        let _ = write!(
            out,
            "<sg:{FAULT_ELEMENT}><sg:code>{}</sg:code><sg:type>{}</sg:type><sg:message>{}</sg:message>",
            self.code.as_str(),
            self.code.problem_type(),
            escape_text(&self.message)
        );
        if let Some(field) = &self.field {
            let _ = write!(out, "<sg:field>{}</sg:field>", escape_text(field));
        }
        if let Some(seconds) = self.retry_after {
            let _ = write!(out, "<sg:retryAfter>{seconds}</sg:retryAfter>");
        }
        let _ = write!(out, "</sg:{FAULT_ELEMENT}>");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn soap11_fault_has_qualified_code_string_and_detail() {
        let fault = Fault::validation("recipient[1]", "not a phone number: <x>");
        assert_eq!(
            fault.to_envelope(SoapVersion::V11),
            concat!(
                r#"<?xml version="1.0" encoding="UTF-8"?>"#,
                r#"<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/" xmlns:sg="urn:smsgate:soap:v1">"#,
                "<soap:Body><soap:Fault><faultcode>sg:validation</faultcode>",
                "<faultstring>not a phone number: &lt;x&gt;</faultstring>",
                "<detail><sg:SmsGateFault><sg:code>validation</sg:code><sg:type>urn:smsgate:problem:validation</sg:type>",
                "<sg:message>not a phone number: &lt;x&gt;</sg:message><sg:field>recipient[1]</sg:field></sg:SmsGateFault></detail>",
                "</soap:Fault></soap:Body></soap:Envelope>"
            )
        );
        assert_eq!(fault.http_status(SoapVersion::V11), 500);
    }

    #[test]
    fn soap12_fault_has_class_subcode_reason_and_detail() {
        let fault = Fault {
            retry_after: Some(7),
            ..Fault::new(FaultCode::RateLimited, "slow down")
        };
        assert_eq!(
            fault.to_envelope(SoapVersion::V12),
            concat!(
                r#"<?xml version="1.0" encoding="UTF-8"?>"#,
                r#"<soap:Envelope xmlns:soap="http://www.w3.org/2003/05/soap-envelope" xmlns:sg="urn:smsgate:soap:v1">"#,
                "<soap:Body><soap:Fault><soap:Code><soap:Value>soap:Receiver</soap:Value>",
                "<soap:Subcode><soap:Value>sg:rate-limited</soap:Value></soap:Subcode></soap:Code>",
                r#"<soap:Reason><soap:Text xml:lang="en">slow down</soap:Text></soap:Reason>"#,
                "<soap:Detail><sg:SmsGateFault><sg:code>rate-limited</sg:code><sg:type>urn:smsgate:problem:rate-limited</sg:type>",
                "<sg:message>slow down</sg:message><sg:retryAfter>7</sg:retryAfter></sg:SmsGateFault></soap:Detail>",
                "</soap:Fault></soap:Body></soap:Envelope>"
            )
        );
        assert_eq!(fault.http_status(SoapVersion::V12), 500);
    }

    #[test]
    fn soap_defined_codes_use_the_envelope_namespace_and_no_detail() {
        let fault = Fault::new(FaultCode::MustUnderstand, "header x not understood");
        let v11 = fault.to_envelope(SoapVersion::V11);
        assert!(
            v11.contains("<faultcode>soap:MustUnderstand</faultcode>"),
            "{v11}"
        );
        assert!(!v11.contains("detail"), "{v11}");
        let v12 = fault.to_envelope(SoapVersion::V12);
        assert!(
            v12.contains("<soap:Code><soap:Value>soap:MustUnderstand</soap:Value></soap:Code>"),
            "{v12}"
        );
        assert!(!v12.contains("Detail"), "{v12}");
    }

    #[test]
    fn version_mismatch_lists_the_supported_envelopes() {
        let fault = Fault::new(FaultCode::VersionMismatch, "unknown envelope");
        for version in [SoapVersion::V11, SoapVersion::V12] {
            let text = fault.to_envelope(version);
            let root = super::super::xml::parse(text.as_bytes(), &super::super::xml::Limits::SOAP);
            let root = match root {
                Ok(r) => r,
                Err(e) => panic!("{e}: {text}"),
            };
            let upgrade = root
                .child(version.envelope_ns(), "Header")
                .and_then(|h| h.child(SOAP12_ENV_NS, "Upgrade"));
            let supported: Vec<&str> = upgrade
                .map(|u| {
                    u.children_named(SOAP12_ENV_NS, "SupportedEnvelope")
                        .filter_map(|e| e.attr(None, "qname"))
                        .collect()
                })
                .unwrap_or_default();
            assert_eq!(supported, ["v12:Envelope", "v11:Envelope"], "{text}");
        }
    }

    #[test]
    fn http_status_per_version_and_class() {
        let check = |code: FaultCode, v11: u16, v12: u16| {
            let fault = Fault::new(code, "x");
            assert_eq!(fault.http_status(SoapVersion::V11), v11, "{code:?} 1.1");
            assert_eq!(fault.http_status(SoapVersion::V12), v12, "{code:?} 1.2");
        };
        check(FaultCode::Validation, 500, 400);
        check(FaultCode::Unauthorized, 500, 400);
        check(FaultCode::NotFound, 500, 400);
        check(FaultCode::Internal, 500, 500);
        check(FaultCode::Unavailable, 500, 500);
        check(FaultCode::PayloadTooLarge, 413, 413);
        check(FaultCode::UnsupportedMediaType, 415, 415);
    }
}
