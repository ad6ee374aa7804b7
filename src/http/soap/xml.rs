//! A hardened XML reader for SOAP requests: turns at most [`Limits::max_bytes`] of UTF-8 into a small,
//! namespace-resolved element tree, and refuses everything a SOAP message must not contain.
//!
//! Why a tree: SOAP requests are small and the limits below bound the tree to a few times the input size,
//! while a tree lets the envelope and operation code look elements up by (namespace, local name) instead of
//! juggling a pull parser's borrow rules.
//!
//! What is refused, and why:
//! - a document type declaration (`<!DOCTYPE`), SOAP 1.1 §3 / SOAP 1.2 part 1 §5 ("MUST NOT contain a
//!   Document Type Declaration"): without a DTD there are no external entities (XXE) and no entity
//!   expansion (billion laughs) — the declaration is rejected before anything in it is looked at;
//! - entity references other than the five predefined ones and character references (XML 1.0 §4.6);
//! - processing instructions (SOAP 1.2 part 1 §5 "MUST NOT contain processing instruction information
//!   items"), unbound namespace prefixes, more than one root, non-UTF-8 input;
//! - inputs larger, deeper or with more elements than [`Limits`] allows.
//!
//! Names are resolved with quick-xml's namespace resolver, so any prefix (or a default namespace) works.
use std::borrow::Cow;

use quick_xml::escape::{resolve_predefined_entity, unescape};
use quick_xml::events::{BytesStart, Event};
use quick_xml::name::ResolveResult;
use quick_xml::reader::NsReader;
use thiserror::Error;

/// Bounds on what one request may make the parser allocate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest accepted input, in bytes.
    pub max_bytes: usize,
    /// Deepest accepted element nesting (the envelope counts as depth 1).
    pub max_depth: usize,
    /// Most elements in one document.
    pub max_elements: usize,
    /// Most attributes (namespace declarations included) on one element. Bounds the work of duplicate
    /// checks and namespace lookups, which grow with the attributes and bindings in scope: without it a
    /// 1 MiB element with 100 000 attributes costs minutes of CPU.
    pub max_attributes: usize,
}

impl Limits {
    /// The limits of the SOAP endpoint: 1 MiB covers a SendSms to 1000 recipients with room to spare.
    pub const SOAP: Limits = Limits {
        max_bytes: 1024 * 1024,
        max_depth: 32,
        max_elements: 20_000,
        max_attributes: 32,
    };
}

impl Default for Limits {
    fn default() -> Self {
        Limits::SOAP
    }
}

/// Why a document was refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum XmlError {
    /// The input is larger than the limit.
    #[error("the request is larger than {limit} bytes")]
    TooLarge {
        /// The limit in bytes.
        limit: usize,
    },
    /// The document carries a `<!DOCTYPE>`.
    #[error("document type declarations (DTDs) are not allowed")]
    Doctype,
    /// An entity reference other than the predefined ones.
    #[error("entity reference &{0}; is not allowed (only the predefined XML entities are)")]
    Entity(String),
    /// A processing instruction other than the XML declaration.
    #[error("processing instructions are not allowed")]
    ProcessingInstruction,
    /// Nesting deeper than the limit.
    #[error("elements are nested deeper than {limit} levels")]
    TooDeep {
        /// The limit in levels.
        limit: usize,
    },
    /// More elements than the limit.
    #[error("the document has more than {limit} elements")]
    TooManyElements {
        /// The limit in elements.
        limit: usize,
    },
    /// More attributes on one element than the limit.
    #[error("an element has more than {limit} attributes")]
    TooManyAttributes {
        /// The limit in attributes.
        limit: usize,
    },
    /// A prefix used without a namespace declaration in scope.
    #[error("namespace prefix '{0}' is not declared")]
    UnboundPrefix(String),
    /// The input is not UTF-8, or declares another encoding.
    #[error("the request must be encoded in UTF-8")]
    Encoding,
    /// No root element.
    #[error("the document has no root element")]
    NoRoot,
    /// Content after the root element, or text outside it.
    #[error("content outside the root element")]
    OutsideRoot,
    /// Anything else the XML parser refuses (not well-formed).
    #[error("malformed XML: {0}")]
    Malformed(String),
}

/// An attribute with its namespace resolved (`None` for unprefixed attributes, XML Namespaces §6.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attribute {
    /// Namespace URI, if the attribute is prefixed.
    pub ns: Option<String>,
    /// Local name.
    pub local: String,
    /// Value with references resolved.
    pub value: String,
}

/// An element with its namespace resolved, its attributes (namespace declarations left out), its child
/// elements and the concatenation of its character data.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Element {
    /// Namespace URI (`None` when the element is in no namespace).
    pub ns: Option<String>,
    /// Local name.
    pub local: String,
    /// Attributes other than `xmlns` declarations.
    pub attrs: Vec<Attribute>,
    /// Child elements in document order.
    pub children: Vec<Element>,
    /// Character data directly inside this element (text, CDATA and resolved references).
    pub text: String,
}

impl Element {
    /// True when the element has this namespace and local name.
    pub fn is(&self, ns: &str, local: &str) -> bool {
        self.ns.as_deref() == Some(ns) && self.local == local
    }

    /// Child elements with this namespace and local name.
    pub fn children_named<'a>(
        &'a self,
        ns: &'a str,
        local: &'a str,
    ) -> impl Iterator<Item = &'a Element> + 'a {
        self.children.iter().filter(move |c| c.is(ns, local))
    }

    /// The first child with this namespace and local name.
    pub fn child(&self, ns: &str, local: &str) -> Option<&Element> {
        self.children.iter().find(|c| c.is(ns, local))
    }

    /// The value of the attribute with this namespace (`None`: unprefixed) and local name.
    pub fn attr(&self, ns: Option<&str>, local: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|a| a.ns.as_deref() == ns && a.local == local)
            .map(|a| a.value.as_str())
    }

    /// The `{namespace}local` form used in messages.
    pub fn qualified_name(&self) -> String {
        match &self.ns {
            Some(ns) => format!("{{{ns}}}{}", self.local),
            None => self.local.clone(),
        }
    }
}

/// Parses `input` into its root element under `limits`.
pub fn parse(input: &[u8], limits: &Limits) -> Result<Element, XmlError> {
    if input.len() > limits.max_bytes {
        return Err(XmlError::TooLarge {
            limit: limits.max_bytes,
        });
    }
    let text = std::str::from_utf8(input).map_err(|_| XmlError::Encoding)?;
    // A UTF-8 byte order mark is allowed before the declaration (XML 1.0 §4.3.3).
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut reader = NsReader::from_str(text);
    let config = reader.config_mut();
    config.check_end_names = true;
    config.check_comments = true;
    config.allow_unmatched_ends = false;
    config.expand_empty_elements = false;

    let mut stack: Vec<Element> = Vec::new();
    let mut root: Option<Element> = None;
    let mut elements = 0usize;
    loop {
        let event = reader.read_event().map_err(malformed)?;
        if root.is_some() && matches!(event, Event::Start(_) | Event::Empty(_)) {
            return Err(XmlError::OutsideRoot);
        }
        match event {
            Event::Start(start) => {
                elements += 1;
                check_counts(elements, stack.len() + 1, limits)?;
                stack.push(open_element(&reader, &start, limits)?);
            }
            Event::Empty(start) => {
                elements += 1;
                check_counts(elements, stack.len() + 1, limits)?;
                let element = open_element(&reader, &start, limits)?;
                close_element(element, &mut stack, &mut root);
            }
            Event::End(_) => {
                // check_end_names guarantees the name matches the open element.
                let element = stack.pop().ok_or(XmlError::OutsideRoot)?;
                close_element(element, &mut stack, &mut root);
            }
            Event::Text(t) => {
                let content = t.xml10_content().map_err(|_| XmlError::Encoding)?;
                push_text(&mut stack, &content)?;
            }
            Event::CData(c) => {
                let content = c.xml10_content().map_err(|_| XmlError::Encoding)?;
                push_text(&mut stack, &content)?;
            }
            Event::GeneralRef(r) => {
                let resolved = if r.is_char_ref() {
                    r.resolve_char_ref()
                        .map_err(malformed)?
                        .map(String::from)
                        .ok_or_else(|| XmlError::Malformed("bad character reference".into()))?
                } else {
                    let name = r.decode().map_err(|_| XmlError::Encoding)?;
                    resolve_predefined_entity(&name)
                        .map(String::from)
                        .ok_or_else(|| XmlError::Entity(name.into_owned()))?
                };
                push_text(&mut stack, &resolved)?;
            }
            Event::Decl(decl) => check_declaration(&decl)?,
            Event::DocType(_) => return Err(XmlError::Doctype),
            Event::PI(_) => return Err(XmlError::ProcessingInstruction),
            Event::Comment(_) => {}
            Event::Eof => break,
        }
    }
    if !stack.is_empty() {
        return Err(XmlError::Malformed("unexpected end of input".into()));
    }
    root.ok_or(XmlError::NoRoot)
}

fn malformed(e: impl std::fmt::Display) -> XmlError {
    XmlError::Malformed(e.to_string())
}

fn check_counts(elements: usize, depth: usize, limits: &Limits) -> Result<(), XmlError> {
    if elements > limits.max_elements {
        return Err(XmlError::TooManyElements {
            limit: limits.max_elements,
        });
    }
    if depth > limits.max_depth {
        return Err(XmlError::TooDeep {
            limit: limits.max_depth,
        });
    }
    Ok(())
}

/// Only XML 1.0 in UTF-8: the declaration may say so, or say nothing about the encoding.
fn check_declaration(decl: &quick_xml::events::BytesDecl<'_>) -> Result<(), XmlError> {
    let version = decl.version().map_err(malformed)?;
    if version.as_ref() != b"1.0" {
        return Err(XmlError::Malformed(format!(
            "XML version {} is not supported",
            String::from_utf8_lossy(&version)
        )));
    }
    if let Some(encoding) = decl.encoding() {
        let encoding = encoding.map_err(malformed)?;
        if !encoding.eq_ignore_ascii_case(b"utf-8") {
            return Err(XmlError::Encoding);
        }
    }
    Ok(())
}

fn push_text(stack: &mut [Element], content: &str) -> Result<(), XmlError> {
    match stack.last_mut() {
        Some(top) => {
            top.text.push_str(content);
            Ok(())
        }
        // Whitespace around the root is allowed (XML 1.0 §2.1 Misc), anything else is not.
        None if content.trim().is_empty() => Ok(()),
        None => Err(XmlError::OutsideRoot),
    }
}

fn close_element(element: Element, stack: &mut [Element], root: &mut Option<Element>) {
    match stack.last_mut() {
        Some(parent) => parent.children.push(element),
        None => *root = Some(element),
    }
}

fn open_element(
    reader: &NsReader<&[u8]>,
    start: &BytesStart<'_>,
    limits: &Limits,
) -> Result<Element, XmlError> {
    // Counted before anything else looks at the attributes: the duplicate check below is quadratic.
    if start.attributes().with_checks(false).count() > limits.max_attributes {
        return Err(XmlError::TooManyAttributes {
            limit: limits.max_attributes,
        });
    }
    let (resolved, local) = reader.resolver().resolve_element(start.name());
    let ns = namespace(resolved)?;
    let local = utf8(local.as_ref())?;
    let mut attrs = Vec::new();
    for attr in start.attributes().with_checks(true) {
        let attr = attr.map_err(malformed)?;
        if attr.key.as_namespace_binding().is_some() {
            continue;
        }
        let (resolved, attr_local) = reader.resolver().resolve_attribute(attr.key);
        let raw = utf8(&attr.value)?;
        let value = unescape_attribute(&raw)?;
        attrs.push(Attribute {
            ns: namespace(resolved)?,
            local: utf8(attr_local.as_ref())?,
            value,
        });
    }
    Ok(Element {
        ns,
        local,
        attrs,
        children: Vec::new(),
        text: String::new(),
    })
}

fn namespace(resolved: ResolveResult<'_>) -> Result<Option<String>, XmlError> {
    match resolved {
        ResolveResult::Bound(ns) => Ok(Some(utf8(ns.as_ref())?)),
        ResolveResult::Unbound => Ok(None),
        ResolveResult::Unknown(prefix) => Err(XmlError::UnboundPrefix(
            String::from_utf8_lossy(&prefix).into_owned(),
        )),
    }
}

fn utf8(bytes: &[u8]) -> Result<String, XmlError> {
    std::str::from_utf8(bytes)
        .map(str::to_owned)
        .map_err(|_| XmlError::Encoding)
}

/// Resolves the predefined entities and character references in an attribute value; any other entity
/// is refused as in text.
fn unescape_attribute(raw: &str) -> Result<String, XmlError> {
    match unescape(raw) {
        Ok(Cow::Borrowed(s)) => Ok(s.to_owned()),
        Ok(Cow::Owned(s)) => Ok(s),
        Err(quick_xml::escape::EscapeError::UnrecognizedEntity(_, name)) => Err(XmlError::Entity(name)),
        Err(e) => Err(malformed(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NS: &str = "urn:t";

    fn parse_ok(input: &str) -> Element {
        match parse(input.as_bytes(), &Limits::SOAP) {
            Ok(e) => e,
            Err(e) => panic!("{input}: {e}"),
        }
    }

    fn parse_err(input: &str) -> XmlError {
        match parse(input.as_bytes(), &Limits::SOAP) {
            Ok(e) => panic!("{input}: accepted as {e:?}"),
            Err(e) => e,
        }
    }

    #[test]
    fn namespaces_resolve_whatever_the_prefix() {
        for doc in [
            r#"<a xmlns="urn:t"><b>x</b></a>"#,
            r#"<p:a xmlns:p="urn:t"><p:b>x</p:b></p:a>"#,
            r#"<weird_Prefix-1:a xmlns:weird_Prefix-1="urn:t"><q:b xmlns:q="urn:t">x</q:b></weird_Prefix-1:a>"#,
            r#"<p:a xmlns:p="urn:other" xmlns="urn:t"><b xmlns:p="urn:t">x</b></p:a>"#,
        ] {
            let root = parse_ok(doc);
            assert_eq!(root.local, "a", "{doc}");
            let b = root.child(NS, "b");
            assert_eq!(b.map(|b| b.text.as_str()), Some("x"), "{doc}");
        }
    }

    #[test]
    fn same_prefix_bound_to_another_namespace_is_not_matched() {
        let root = parse_ok(r#"<p:a xmlns:p="urn:t"><p:b xmlns:p="urn:other">x</p:b></p:a>"#);
        assert!(root.child(NS, "b").is_none());
        assert!(root.child("urn:other", "b").is_some());
    }

    #[test]
    fn text_references_and_cdata() {
        let root =
            parse_ok("<a>&lt;&amp;&gt;&quot;&apos; &#x1F600;&#65;<![CDATA[<raw&>]]>\r\nz<!-- c --></a>");
        assert_eq!(root.text, "<&>\"' \u{1F600}A<raw&>\nz");
    }

    #[test]
    fn attributes_resolve_namespaces_and_references() {
        let root = parse_ok(r#"<a xmlns:x="urn:x" x:k="1&amp;2" plain="&#x41;"/>"#);
        assert_eq!(root.attr(Some("urn:x"), "k"), Some("1&2"));
        assert_eq!(root.attr(None, "plain"), Some("A"));
        assert_eq!(root.attrs.len(), 2, "xmlns declarations are not attributes");
    }

    #[test]
    fn declaration_and_bom() {
        parse_ok("\u{feff}<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<a/>\n");
        parse_ok("<?xml version='1.0'?><a/>");
    }

    #[test]
    fn bad_inputs_are_refused_with_their_reason() {
        let xxe =
            r#"<?xml version="1.0"?><!DOCTYPE a [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><a>&xxe;</a>"#;
        let laughs = concat!(
            r#"<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">"#,
            r#"<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">"#,
            r#"<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>"#,
            "<lolz>&lol3;</lolz>"
        );
        let cases: &[(&str, XmlError)] = &[
            (xxe, XmlError::Doctype),
            (laughs, XmlError::Doctype),
            ("<!DOCTYPE a SYSTEM \"http://evil/\"><a/>", XmlError::Doctype),
            ("<a>&xxe;</a>", XmlError::Entity("xxe".into())),
            ("<a>&nbsp;</a>", XmlError::Entity("nbsp".into())),
            ("<a k=\"&xxe;\"/>", XmlError::Entity("xxe".into())),
            ("<a><?php echo 1 ?></a>", XmlError::ProcessingInstruction),
            ("<p:a/>", XmlError::UnboundPrefix("p".into())),
            (
                "<a xmlns:p=\"urn:p\"><p:b/><q:c/></a>",
                XmlError::UnboundPrefix("q".into()),
            ),
            ("<a/><b/>", XmlError::OutsideRoot),
            ("<a/>text", XmlError::OutsideRoot),
            ("", XmlError::NoRoot),
            ("   ", XmlError::NoRoot),
            (
                "<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?><a/>",
                XmlError::Encoding,
            ),
        ];
        for (input, expect) in cases {
            assert_eq!(&parse_err(input), expect, "{input}");
        }
    }

    #[test]
    fn malformed_documents_are_refused() {
        for input in [
            "<a>",
            "<a></b>",
            "<a><b></a></b>",
            "</a>",
            "<a k='1' k='2'/>",
            "<a k=1/>",
            "<a>&#0;</a>",
            "<a>&#xD800;</a>",
            "<a>& b</a>",
            "<a><!-- -- --></a>",
            "not xml at all",
        ] {
            match parse_err(input) {
                XmlError::Malformed(_) | XmlError::OutsideRoot | XmlError::NoRoot => {}
                other => panic!("{input}: unexpected {other:?}"),
            }
        }
    }

    #[test]
    fn non_utf8_input_is_refused() {
        assert_eq!(parse(b"<a>\xff\xfe</a>", &Limits::SOAP), Err(XmlError::Encoding));
    }

    #[test]
    fn limits_are_enforced() {
        let limits = Limits {
            max_bytes: 64,
            max_depth: 3,
            max_elements: 4,
            max_attributes: 2,
        };
        let check = |input: &str, expect: Result<(), XmlError>| {
            assert_eq!(parse(input.as_bytes(), &limits).map(|_| ()), expect, "{input}");
        };
        check("<a><b><c/></b></a>", Ok(()));
        check("<a><b><c><d/></c></b></a>", Err(XmlError::TooDeep { limit: 3 }));
        check("<a><b/><b/><b/></a>", Ok(()));
        check(
            "<a><b/><b/><b/><b/></a>",
            Err(XmlError::TooManyElements { limit: 4 }),
        );
        check(
            &format!("<a>{}</a>", "x".repeat(60)),
            Err(XmlError::TooLarge { limit: 64 }),
        );
        check(r#"<a x="1" xmlns:p="urn:p"/>"#, Ok(()));
        check(
            r#"<a x="1" y="2" xmlns:p="urn:p"/>"#,
            Err(XmlError::TooManyAttributes { limit: 2 }),
        );
    }

    #[test]
    fn deep_nesting_bomb_stops_at_the_depth_limit() {
        let input = format!("{}{}", "<a>".repeat(100_000), "</a>".repeat(100_000));
        let limits = Limits {
            max_bytes: input.len(),
            ..Limits::SOAP
        };
        assert_eq!(
            parse(input.as_bytes(), &limits),
            Err(XmlError::TooDeep {
                limit: Limits::SOAP.max_depth
            })
        );
    }

    /// A megabyte of attributes, or of namespace declarations in scope of many elements, once cost
    /// minutes of CPU (quadratic duplicate checks and namespace lookups); now it is refused at once.
    #[test]
    fn attribute_and_namespace_floods_are_refused_quickly() {
        let mut attributes = String::from("<a ");
        let mut namespaces = String::from("<a ");
        for i in 0.. {
            if attributes.len() > 1_000_000 {
                break;
            }
            attributes.push_str(&format!("a{i}=\"\" "));
            namespaces.push_str(&format!("xmlns:p{i}=\"u\" "));
        }
        attributes.push_str("/>");
        namespaces.push('>');
        namespaces.push_str(&"<p1:b/>".repeat(10_000));
        namespaces.push_str("</a>");
        for doc in [attributes, namespaces] {
            let limits = Limits {
                max_bytes: doc.len(),
                ..Limits::SOAP
            };
            let started = std::time::Instant::now();
            assert_eq!(
                parse(doc.as_bytes(), &limits),
                Err(XmlError::TooManyAttributes {
                    limit: Limits::SOAP.max_attributes
                })
            );
            assert!(started.elapsed() < std::time::Duration::from_secs(5));
        }
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..512)) {
            let _ = parse(&bytes, &Limits::SOAP);
        }

        #[test]
        fn text_round_trips_through_escaping(text in "\\PC{0,64}") {
            let doc = format!("<a>{}</a>", quick_xml::escape::escape(text.as_str()));
            let root = parse(doc.as_bytes(), &Limits::SOAP);
            proptest::prop_assert_eq!(root.map(|r| r.text), Ok(text));
        }
    }
}
