//! The SOAP envelope of a request: which SOAP version it speaks (by the envelope namespace, not by a
//! prefix), its header blocks (mustUnderstand checked, WS-Security UsernameToken read), the one payload
//! element of its Body, and the action the HTTP layer announced for it.
use super::fault::{Fault, FaultCode};
use super::xml::{self, Element, Limits, XmlError};

/// SOAP 1.1 envelope namespace (SOAP 1.1 §4.1.2).
pub const SOAP11_ENV_NS: &str = "http://schemas.xmlsoap.org/soap/envelope/";
/// SOAP 1.2 envelope namespace (SOAP 1.2 part 1 §5.1).
pub const SOAP12_ENV_NS: &str = "http://www.w3.org/2003/05/soap-envelope";
/// SOAP 1.1 actor addressing "the next node", which includes the ultimate receiver (§4.2.2).
const SOAP11_ACTOR_NEXT: &str = "http://schemas.xmlsoap.org/soap/actor/next";
/// SOAP 1.2 roles that this node plays (part 1 §2.2).
const SOAP12_ROLES_PLAYED: [&str; 2] = [
    "http://www.w3.org/2003/05/soap-envelope/role/next",
    "http://www.w3.org/2003/05/soap-envelope/role/ultimateReceiver",
];
/// WS-Security 1.0 `wsse` namespace (OASIS WSS SOAP Message Security 1.0 §4).
pub const WSSE_NS: &str = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd";
/// UsernameToken Profile 1.0 §3.1 password type for a clear-text password (the only one accepted: the
/// password must be verified against a slow hash, which a digest cannot be).
pub const WSSE_PASSWORD_TEXT: &str =
    "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0#PasswordText";
/// UsernameToken Profile 1.0 §3.1 digest password type (refused, see [`WSSE_PASSWORD_TEXT`]).
pub const WSSE_PASSWORD_DIGEST: &str =
    "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0#PasswordDigest";

/// Media type of SOAP 1.1 over HTTP (SOAP 1.1 §6.1.1).
const SOAP11_MEDIA_TYPE: &str = "text/xml";
/// Media type of SOAP 1.2 (RFC 3902).
const SOAP12_MEDIA_TYPE: &str = "application/soap+xml";

/// The two SOAP versions the service speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SoapVersion {
    /// SOAP 1.1 (W3C Note, 2000).
    V11,
    /// SOAP 1.2 (W3C Recommendation, 2007).
    V12,
}

impl SoapVersion {
    /// The envelope namespace of this version.
    pub fn envelope_ns(self) -> &'static str {
        match self {
            SoapVersion::V11 => SOAP11_ENV_NS,
            SoapVersion::V12 => SOAP12_ENV_NS,
        }
    }

    /// The `Content-Type` of a response in this version.
    pub fn content_type(self) -> &'static str {
        match self {
            SoapVersion::V11 => "text/xml; charset=utf-8",
            SoapVersion::V12 => "application/soap+xml; charset=utf-8",
        }
    }

    /// The version a request `Content-Type` announces; `None` for a media type that is not SOAP.
    pub fn from_content_type(content_type: &str) -> Option<SoapVersion> {
        let media_type = content_type.split(';').next().unwrap_or("").trim();
        if media_type.eq_ignore_ascii_case(SOAP11_MEDIA_TYPE) {
            Some(SoapVersion::V11)
        } else if media_type.eq_ignore_ascii_case(SOAP12_MEDIA_TYPE) {
            Some(SoapVersion::V12)
        } else {
            None
        }
    }
}

/// The action a request announced: the `SOAPAction` header in SOAP 1.1 (§6.1.1), the `action` parameter
/// of the media type in SOAP 1.2 (RFC 3902 §1). Quotes are removed; empty means "not given".
pub fn announced_action(
    version: SoapVersion,
    soap_action_header: Option<&str>,
    content_type: &str,
) -> Option<String> {
    let raw = match version {
        SoapVersion::V11 => soap_action_header.map(str::to_owned),
        SoapVersion::V12 => content_type.split(';').skip(1).find_map(|param| {
            let (key, value) = param.split_once('=')?;
            key.trim()
                .eq_ignore_ascii_case("action")
                .then(|| value.trim().to_owned())
        }),
    }?;
    let unquoted = raw.trim().trim_matches('"').trim();
    (!unquoted.is_empty()).then(|| unquoted.to_owned())
}

/// A parsed request envelope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestEnvelope {
    /// The SOAP version, from the envelope namespace.
    pub version: SoapVersion,
    /// Header blocks addressed to this node (others are left out).
    pub headers: Vec<Element>,
    /// The single child of `Body`: the operation's wrapper element.
    pub payload: Element,
}

/// Credentials from a WS-Security UsernameToken.
#[derive(Clone, PartialEq, Eq)]
pub struct UsernameToken {
    /// The login.
    pub username: String,
    /// The clear-text password.
    pub password: String,
}

impl std::fmt::Debug for UsernameToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UsernameToken")
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .finish()
    }
}

/// An envelope refused before its version is known, or the XML in it: which version to answer in is
/// taken from the request's content type (SOAP 1.1 when that says nothing).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvelopeError {
    /// The version to answer in, if the envelope showed it.
    pub version: Option<SoapVersion>,
    /// The fault to answer.
    pub fault: Fault,
}

/// Parses a request body into its envelope.
pub fn parse_envelope(body: &[u8], limits: &Limits) -> Result<RequestEnvelope, EnvelopeError> {
    let unknown_version = |fault: Fault| EnvelopeError { version: None, fault };
    let root = xml::parse(body, limits).map_err(|e| unknown_version(xml_fault(e)))?;
    let version = match (root.local.as_str(), root.ns.as_deref()) {
        ("Envelope", Some(SOAP11_ENV_NS)) => SoapVersion::V11,
        ("Envelope", Some(SOAP12_ENV_NS)) => SoapVersion::V12,
        _ => {
            // SOAP 1.1 §4.4.1 / SOAP 1.2 part 1 §5.4.7: anything but a known Envelope is a
            // VersionMismatch.
            return Err(unknown_version(Fault::new(
                FaultCode::VersionMismatch,
                format!(
                    "expected a SOAP 1.1 or 1.2 Envelope, found {}",
                    root.qualified_name()
                ),
            )));
        }
    };
    let known = |fault: Fault| EnvelopeError {
        version: Some(version),
        fault,
    };
    let env_ns = version.envelope_ns();
    no_text(&root, "Envelope").map_err(known)?;
    let mut children = root.children.into_iter();
    let mut next = children.next();
    let mut headers = Vec::new();
    if let Some(header) = next.take_if(|e| e.is(env_ns, "Header")) {
        no_text(&header, "Header").map_err(known)?;
        for block in header.children {
            if !addressed_to_us(version, &block) {
                continue;
            }
            if must_understand(version, &block) && !understood(&block) {
                return Err(known(Fault::new(
                    FaultCode::MustUnderstand,
                    format!(
                        "header block {} is marked mustUnderstand and is not understood",
                        block.qualified_name()
                    ),
                )));
            }
            headers.push(block);
        }
        next = children.next();
    }
    let body = match next {
        Some(body) if body.is(env_ns, "Body") => body,
        Some(other) => {
            return Err(known(Fault::malformed(format!(
                "expected the SOAP Body, found {}",
                other.qualified_name()
            ))));
        }
        None => return Err(known(Fault::malformed("the envelope has no Body"))),
    };
    // SOAP 1.2 part 1 §5.1: nothing may follow the Body. SOAP 1.1 allowed trailers; nobody uses them.
    if let Some(extra) = children.next() {
        return Err(known(Fault::malformed(format!(
            "unexpected {} after the Body",
            extra.qualified_name()
        ))));
    }
    no_text(&body, "Body").map_err(known)?;
    // WS-I BP 1.1 R2712 (document/literal): the Body holds exactly the one wrapper element.
    let mut payloads = body.children.into_iter();
    let payload = payloads
        .next()
        .ok_or_else(|| known(Fault::malformed("the Body is empty: no operation element")))?;
    if payloads.next().is_some() {
        return Err(known(Fault::malformed(
            "the Body must hold exactly one operation element",
        )));
    }
    Ok(RequestEnvelope {
        version,
        headers,
        payload,
    })
}

/// Maps a refusal of the XML reader to its fault.
pub fn xml_fault(error: XmlError) -> Fault {
    match error {
        XmlError::TooLarge { .. } => Fault::new(FaultCode::PayloadTooLarge, error.to_string()),
        other => Fault::malformed(other.to_string()),
    }
}

fn no_text(element: &Element, name: &str) -> Result<(), Fault> {
    if element.text.trim().is_empty() {
        Ok(())
    } else {
        Err(Fault::malformed(format!(
            "the {name} must not contain character data"
        )))
    }
}

fn addressed_to_us(version: SoapVersion, block: &Element) -> bool {
    match version {
        SoapVersion::V11 => block
            .attr(Some(SOAP11_ENV_NS), "actor")
            .is_none_or(|actor| actor.trim() == SOAP11_ACTOR_NEXT),
        SoapVersion::V12 => block
            .attr(Some(SOAP12_ENV_NS), "role")
            .is_none_or(|role| SOAP12_ROLES_PLAYED.contains(&role.trim())),
    }
}

fn must_understand(version: SoapVersion, block: &Element) -> bool {
    // xs:boolean lexical space: "1"/"true" (SOAP 1.1 §4.2.3 only names "1"; toolkits also send "true").
    block
        .attr(Some(version.envelope_ns()), "mustUnderstand")
        .is_some_and(|v| matches!(v.trim(), "1" | "true"))
}

fn understood(block: &Element) -> bool {
    block.is(WSSE_NS, "Security")
}

/// Reads the WS-Security UsernameToken of the envelope, if it carries one.
pub fn username_token(envelope: &RequestEnvelope) -> Result<Option<UsernameToken>, Fault> {
    let mut security = envelope.headers.iter().filter(|h| h.is(WSSE_NS, "Security"));
    let Some(header) = security.next() else {
        return Ok(None);
    };
    // WSS 1.0 §6.1: at most one Security header per role.
    if security.next().is_some() {
        return Err(Fault::malformed("more than one wsse:Security header"));
    }
    let Some(token) = header.child(WSSE_NS, "UsernameToken") else {
        return Ok(None);
    };
    let unauthorized = |m: &str| Fault::new(FaultCode::Unauthorized, m);
    let username = token
        .child(WSSE_NS, "Username")
        .map(|u| u.text.trim().to_owned())
        .filter(|u| !u.is_empty())
        .ok_or_else(|| unauthorized("the UsernameToken has no Username"))?;
    let password = token
        .child(WSSE_NS, "Password")
        .ok_or_else(|| unauthorized("the UsernameToken has no Password"))?;
    match password.attr(None, "Type").map(str::trim) {
        None | Some(WSSE_PASSWORD_TEXT) => {}
        Some(WSSE_PASSWORD_DIGEST) => {
            return Err(unauthorized(
                "PasswordDigest is not supported: send the password as PasswordText (the connection is TLS)",
            ));
        }
        Some(_) => return Err(unauthorized("unknown UsernameToken password type")),
    }
    Ok(Some(UsernameToken {
        username,
        password: password.text.clone(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    const TNS: &str = super::super::TNS;

    fn parse(doc: &str) -> Result<RequestEnvelope, EnvelopeError> {
        parse_envelope(doc.as_bytes(), &Limits::SOAP)
    }

    fn fault_of(doc: &str) -> (Option<SoapVersion>, FaultCode, String) {
        match parse(doc) {
            Ok(env) => panic!("{doc}: accepted as {env:?}"),
            Err(e) => (e.version, e.fault.code, e.fault.message),
        }
    }

    #[test]
    fn both_versions_with_any_prefix() {
        let cases: &[(&str, SoapVersion)] = &[
            (
                r#"<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body><GetAccountInfo xmlns="urn:smsgate:soap:v1"/></soap:Body></soap:Envelope>"#,
                SoapVersion::V11,
            ),
            (
                r#"<E:Envelope xmlns:E="http://www.w3.org/2003/05/soap-envelope" xmlns:s="urn:smsgate:soap:v1"><E:Header/><E:Body><s:GetAccountInfo/></E:Body></E:Envelope>"#,
                SoapVersion::V12,
            ),
            (
                r#"<Envelope xmlns="http://www.w3.org/2003/05/soap-envelope"><Body><x:GetAccountInfo xmlns:x="urn:smsgate:soap:v1"/></Body></Envelope>"#,
                SoapVersion::V12,
            ),
            (
                r#"<?xml version="1.0"?>
                <zz9:Envelope xmlns:zz9="http://schemas.xmlsoap.org/soap/envelope/">
                  <!-- comment -->
                  <zz9:Body>
                    <GetAccountInfo xmlns="urn:smsgate:soap:v1"></GetAccountInfo>
                  </zz9:Body>
                </zz9:Envelope>"#,
                SoapVersion::V11,
            ),
        ];
        for (doc, version) in cases {
            let env = match parse(doc) {
                Ok(env) => env,
                Err(e) => panic!("{doc}: {e:?}"),
            };
            assert_eq!(env.version, *version, "{doc}");
            assert!(env.payload.is(TNS, "GetAccountInfo"), "{doc}");
        }
    }

    #[test]
    fn refused_envelopes_name_the_problem() {
        let v11 = "http://schemas.xmlsoap.org/soap/envelope/";
        let cases: &[(String, Option<SoapVersion>, FaultCode)] = &[
            // wrong envelope namespace, or no envelope at all
            (
                r#"<soap:Envelope xmlns:soap="http://example.com/soap"><soap:Body/></soap:Envelope>"#.into(),
                None,
                FaultCode::VersionMismatch,
            ),
            (
                r#"<GetAccountInfo xmlns="urn:smsgate:soap:v1"/>"#.into(),
                None,
                FaultCode::VersionMismatch,
            ),
            (
                // the prefix "soap" does not make it SOAP: the namespace does
                r#"<soap:Envelope xmlns:soap="urn:smsgate:soap:v1"><soap:Body/></soap:Envelope>"#.into(),
                None,
                FaultCode::VersionMismatch,
            ),
            (
                "<soap:Envelope><soap:Body/></soap:Envelope>".into(),
                None,
                FaultCode::MalformedRequest,
            ),
            (
                format!(r#"<s:Envelope xmlns:s="{v11}"></s:Envelope>"#),
                Some(SoapVersion::V11),
                FaultCode::MalformedRequest,
            ),
            (
                format!(r#"<s:Envelope xmlns:s="{v11}"><s:Body/></s:Envelope>"#),
                Some(SoapVersion::V11),
                FaultCode::MalformedRequest,
            ),
            (
                format!(
                    r#"<s:Envelope xmlns:s="{v11}"><s:Body><a xmlns="urn:smsgate:soap:v1"/><b/></s:Body></s:Envelope>"#
                ),
                Some(SoapVersion::V11),
                FaultCode::MalformedRequest,
            ),
            (
                format!(r#"<s:Envelope xmlns:s="{v11}"><s:Body>text</s:Body></s:Envelope>"#),
                Some(SoapVersion::V11),
                FaultCode::MalformedRequest,
            ),
            (
                format!(
                    r#"<s:Envelope xmlns:s="{v11}"><s:Body><a/></s:Body><s:Header/></s:Envelope>"#
                ),
                Some(SoapVersion::V11),
                FaultCode::MalformedRequest,
            ),
            (
                format!(
                    r#"<s:Envelope xmlns:s="{v11}"><s:Header><x:Tx xmlns:x="urn:x" s:mustUnderstand="1"/></s:Header><s:Body><a/></s:Body></s:Envelope>"#
                ),
                Some(SoapVersion::V11),
                FaultCode::MustUnderstand,
            ),
            (
                r#"<e:Envelope xmlns:e="http://www.w3.org/2003/05/soap-envelope"><e:Header><x:Tx xmlns:x="urn:x" e:mustUnderstand="true"/></e:Header><e:Body><a/></e:Body></e:Envelope>"#.into(),
                Some(SoapVersion::V12),
                FaultCode::MustUnderstand,
            ),
            (
                format!(
                    r#"<!DOCTYPE s:Envelope [<!ENTITY x SYSTEM "file:///etc/passwd">]><s:Envelope xmlns:s="{v11}"><s:Body><a>&x;</a></s:Body></s:Envelope>"#
                ),
                None,
                FaultCode::MalformedRequest,
            ),
            ("<s:Envelope".into(), None, FaultCode::MalformedRequest),
        ];
        for (doc, version, code) in cases {
            let (got_version, got_code, message) = fault_of(doc);
            assert_eq!((got_version, got_code), (*version, *code), "{doc}: {message}");
            assert!(!message.is_empty());
        }
    }

    #[test]
    fn header_blocks_for_other_roles_are_ignored() {
        let doc = r#"<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Header>
            <x:Tx xmlns:x="urn:x" s:mustUnderstand="1" s:actor="urn:some-proxy"/>
            <x:Info xmlns:x="urn:x" s:mustUnderstand="0"/>
          </s:Header><s:Body><a/></s:Body></s:Envelope>"#;
        let env = match parse(doc) {
            Ok(env) => env,
            Err(e) => panic!("{e:?}"),
        };
        assert_eq!(env.headers.len(), 1);
        assert!(env.headers[0].is("urn:x", "Info"));
    }

    fn security(token: &str) -> String {
        format!(
            r#"<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/">
              <soapenv:Header><sec:Security xmlns:sec="{WSSE_NS}" soapenv:mustUnderstand="1">{token}</sec:Security></soapenv:Header>
              <soapenv:Body><a/></soapenv:Body></soapenv:Envelope>"#
        )
    }

    #[test]
    fn username_token_password_text() {
        let check = |token: &str, expect: Result<Option<(&str, &str)>, FaultCode>| {
            let doc = security(token);
            let env = match parse(&doc) {
                Ok(env) => env,
                Err(e) => panic!("{doc}: {e:?}"),
            };
            let got = username_token(&env)
                .map(|t| t.map(|t| (t.username, t.password)))
                .map_err(|f| f.code);
            let expect = expect.map(|o| o.map(|(u, p)| (u.to_owned(), p.to_owned())));
            assert_eq!(got, expect, "{token}");
        };
        check(
            &format!(
                r#"<sec:UsernameToken><sec:Username> alice </sec:Username><sec:Password Type="{WSSE_PASSWORD_TEXT}">s3cr&amp;t </sec:Password></sec:UsernameToken>"#
            ),
            Ok(Some(("alice", "s3cr&t "))),
        );
        check(
            &format!(
                r#"<w:UsernameToken xmlns:w="{WSSE_NS}"><w:Username>bob</w:Username><w:Password>pw</w:Password></w:UsernameToken>"#
            ),
            Ok(Some(("bob", "pw"))),
        );
        check(r#"<t:Timestamp xmlns:t="urn:t"/>"#, Ok(None));
        check(
            &format!(
                r#"<sec:UsernameToken><sec:Username>a</sec:Username><sec:Password Type="{WSSE_PASSWORD_DIGEST}">x</sec:Password></sec:UsernameToken>"#
            ),
            Err(FaultCode::Unauthorized),
        );
        check(
            "<sec:UsernameToken><sec:Password>x</sec:Password></sec:UsernameToken>",
            Err(FaultCode::Unauthorized),
        );
        check(
            "<sec:UsernameToken><sec:Username>a</sec:Username></sec:UsernameToken>",
            Err(FaultCode::Unauthorized),
        );
        // Username in another namespace is not the WS-Security one.
        check(
            r#"<sec:UsernameToken><Username xmlns="urn:x">a</Username><sec:Password>x</sec:Password></sec:UsernameToken>"#,
            Err(FaultCode::Unauthorized),
        );
    }

    #[test]
    fn token_debug_output_hides_the_password() {
        let token = UsernameToken {
            username: "alice".into(),
            password: "hunter2".into(),
        };
        assert!(!format!("{token:?}").contains("hunter2"));
    }

    #[test]
    fn content_type_and_action() {
        let check = |ct: &str, version: Option<SoapVersion>| {
            assert_eq!(SoapVersion::from_content_type(ct), version, "{ct}");
        };
        check("text/xml", Some(SoapVersion::V11));
        check("Text/XML; charset=utf-8", Some(SoapVersion::V11));
        check(
            r#"application/soap+xml;charset=UTF-8;action="urn:a#B""#,
            Some(SoapVersion::V12),
        );
        check("application/json", None);
        check("", None);

        let v12 = |ct: &str| announced_action(SoapVersion::V12, None, ct);
        assert_eq!(
            v12(r#"application/soap+xml; charset=utf-8; action="urn:smsgate:soap:v1#SendSms""#),
            Some("urn:smsgate:soap:v1#SendSms".into())
        );
        assert_eq!(v12("application/soap+xml; Action=urn:x"), Some("urn:x".into()));
        assert_eq!(v12("application/soap+xml; charset=utf-8"), None);
        let v11 = |h: Option<&str>| announced_action(SoapVersion::V11, h, "text/xml");
        assert_eq!(v11(Some("\"urn:x#Y\"")), Some("urn:x#Y".into()));
        assert_eq!(v11(Some("\"\"")), None);
        assert_eq!(v11(None), None);
    }
}
