//! Writes SOAP response envelopes: a small append-only XML builder whose output is always well-formed
//! (escaped text, characters XML 1.0 cannot carry replaced), in the envelope namespace of the request's
//! SOAP version, with the payload in the service namespace as the default namespace.
use std::fmt::Write as _;

use super::TNS;
use super::envelope::SoapVersion;

/// Escapes character data for element content or attribute values and replaces what XML 1.0 cannot
/// carry (XML 1.0 §2.2 `Char`: C0 controls except TAB/LF/CR, U+FFFE, U+FFFF) with U+FFFD.
/// CR is written as a reference so that it survives end-of-line normalisation (§2.11).
pub fn escape_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\r' => out.push_str("&#13;"),
            '\t' | '\n' => out.push(c),
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

/// Builds the payload of a response (the child of `Body`).
#[derive(Debug, Default)]
pub struct Payload {
    buf: String,
}

impl Payload {
    /// Starts the payload with its root element (in the service namespace).
    pub fn new(root: &str) -> Payload {
        let mut buf = String::with_capacity(256);
        let _ = write!(buf, r#"<{root} xmlns="{TNS}">"#);
        Payload { buf }
    }

    /// Opens a child element.
    pub fn open(&mut self, name: &str) -> &mut Self {
        let _ = write!(self.buf, "<{name}>");
        self
    }

    /// Closes a child element.
    pub fn close(&mut self, name: &str) -> &mut Self {
        let _ = write!(self.buf, "</{name}>");
        self
    }

    /// Writes `<name>value</name>`, escaping the value.
    pub fn leaf(&mut self, name: &str, value: impl std::fmt::Display) -> &mut Self {
        let text = value.to_string();
        let _ = write!(self.buf, "<{name}>{}</{name}>", escape_text(&text));
        self
    }

    /// Writes the leaf when there is a value; absent values are left out (the XSD makes them optional).
    pub fn opt_leaf<T: std::fmt::Display>(&mut self, name: &str, value: Option<T>) -> &mut Self {
        if let Some(value) = value {
            self.leaf(name, value);
        }
        self
    }

    /// Closes the root and returns the payload text.
    pub fn finish(mut self, root: &str) -> String {
        let _ = write!(self.buf, "</{root}>");
        self.buf
    }
}

/// Wraps a payload into a complete response envelope of this SOAP version.
pub fn envelope(version: SoapVersion, payload: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?><soap:Envelope xmlns:soap="{}"><soap:Body>{payload}</soap:Body></soap:Envelope>"#,
        version.envelope_ns()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_keeps_xml_well_formed() {
        let check = |input: &str, expect: &str| assert_eq!(escape_text(input), expect, "{input:?}");
        check("plain", "plain");
        check("a<b>&\"c'", "a&lt;b&gt;&amp;&quot;c'");
        check("line\r\nnext\ttab", "line&#13;\nnext\ttab");
        check("nul\0bell\x07", "nul\u{FFFD}bell\u{FFFD}");
        check("zażółć 😀 \u{FFFF}", "zażółć 😀 \u{FFFD}");
    }

    #[test]
    fn payload_builds_nested_elements_in_the_service_namespace() {
        let mut p = Payload::new("FooResponse");
        p.open("item")
            .leaf("id", "a&b")
            .opt_leaf("x", None::<u32>)
            .opt_leaf("n", Some(3))
            .close("item");
        assert_eq!(
            envelope(SoapVersion::V12, &p.finish("FooResponse")),
            concat!(
                r#"<?xml version="1.0" encoding="UTF-8"?><soap:Envelope xmlns:soap="http://www.w3.org/2003/05/soap-envelope">"#,
                r#"<soap:Body><FooResponse xmlns="urn:smsgate:soap:v1"><item><id>a&amp;b</id><n>3</n></item></FooResponse>"#,
                "</soap:Body></soap:Envelope>"
            )
        );
    }

    proptest::proptest! {
        #[test]
        fn any_text_round_trips_through_the_parser(text in proptest::prelude::any::<String>()) {
            let doc = format!("<a>{}</a>", escape_text(&text));
            let parsed = super::super::xml::parse(doc.as_bytes(), &super::super::xml::Limits::SOAP);
            let expect: String = text
                .chars()
                .map(|c| match c {
                    '\t' | '\n' | '\r' => c,
                    c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => '\u{FFFD}',
                    c => c,
                })
                .collect();
            proptest::prop_assert_eq!(parsed.map(|e| e.text), Ok(expect));
        }
    }
}
