//! `multipart/form-data` (RFC 7578) for the panel's file uploads (CSV recipients, PEM certificates):
//! a small strict parser over a body already read within a size limit, and the extractor that, like
//! [`super::CsrfForm`], refuses the request unless it carries the session's CSRF token.
//!
//! Only what browsers send is accepted: `--boundary` delimiters with CRLF line ends, a
//! `Content-Disposition: form-data; name=…[; filename=…]` header per part. Anything else is a typed error,
//! never a panic; the number of parts and the header size are bounded.
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::header;
use memchr::memmem;

use super::{CSRF_FIELD, PanelError, PanelUser, session};
use crate::app::AppError;
use crate::http::ApiState;

/// Most parts in one form (the panel's forms have fewer than ten fields).
pub const MAX_PARTS: usize = 16;
/// Most bytes of one part's header block.
const MAX_PART_HEADER: usize = 1024;
/// Longest boundary (RFC 2046 §5.1.1: 1 to 70 characters).
const MAX_BOUNDARY: usize = 70;
/// Most bytes of an upload body the panel reads (a CSV of a few thousand rows, or a PEM file).
pub const MAX_UPLOAD_BYTES: usize = 1024 * 1024;

/// One field of a multipart form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Part {
    pub name: String,
    /// The file name a browser gave a file field (empty when no file was chosen).
    pub filename: Option<String>,
    pub data: Vec<u8>,
}

/// Why a multipart body was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MultipartError {
    #[error("the form is not multipart/form-data with a boundary")]
    NotMultipart,
    #[error("the form body is malformed: {0}")]
    Malformed(&'static str),
    #[error("the form has more than {MAX_PARTS} fields")]
    TooManyParts,
}

/// The boundary parameter of a `multipart/form-data` Content-Type.
pub fn boundary(content_type: &str) -> Result<String, MultipartError> {
    let mut params = content_type.split(';');
    let kind = params.next().unwrap_or("").trim();
    if !kind.eq_ignore_ascii_case("multipart/form-data") {
        return Err(MultipartError::NotMultipart);
    }
    let value = params
        .filter_map(|p| p.split_once('='))
        .find(|(k, _)| k.trim().eq_ignore_ascii_case("boundary"))
        .map(|(_, v)| v.trim().trim_matches('"').to_owned())
        .ok_or(MultipartError::NotMultipart)?;
    if value.is_empty() || value.len() > MAX_BOUNDARY {
        return Err(MultipartError::NotMultipart);
    }
    Ok(value)
}

/// Splits `body` into its parts.
pub fn parse(body: &[u8], boundary: &str) -> Result<Vec<Part>, MultipartError> {
    let dash = format!("--{boundary}");
    let delimiter = format!("\r\n--{boundary}");
    // The first delimiter may open the body (no preamble) or follow a preamble and CRLF.
    let mut at = if body.starts_with(dash.as_bytes()) {
        dash.len()
    } else {
        memmem::find(body, delimiter.as_bytes())
            .map(|i| i + delimiter.len())
            .ok_or(MultipartError::Malformed("no boundary"))?
    };
    let mut parts = Vec::new();
    loop {
        let rest = &body[at..];
        if rest.starts_with(b"--") {
            return Ok(parts);
        }
        let rest = rest
            .strip_prefix(b"\r\n")
            .ok_or(MultipartError::Malformed("boundary not followed by a line end"))?;
        let header_end = memmem::find(rest, b"\r\n\r\n")
            .filter(|&i| i <= MAX_PART_HEADER)
            .ok_or(MultipartError::Malformed("part header missing or too long"))?;
        let headers = std::str::from_utf8(&rest[..header_end])
            .map_err(|_| MultipartError::Malformed("part header is not UTF-8"))?;
        let content = &rest[header_end + 4..];
        let end = memmem::find(content, delimiter.as_bytes())
            .ok_or(MultipartError::Malformed("unterminated part"))?;
        if parts.len() == MAX_PARTS {
            return Err(MultipartError::TooManyParts);
        }
        let (name, filename) = disposition(headers)?;
        parts.push(Part {
            name,
            filename,
            data: content[..end].to_vec(),
        });
        at = body.len() - content.len() + end + delimiter.len();
    }
}

/// Name and file name from a part's `Content-Disposition: form-data; name="…"; filename="…"`.
fn disposition(headers: &str) -> Result<(String, Option<String>), MultipartError> {
    let line = headers
        .split("\r\n")
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.trim().eq_ignore_ascii_case("content-disposition").then_some(v)
        })
        .ok_or(MultipartError::Malformed("part without Content-Disposition"))?;
    let mut items = split_params(line).into_iter();
    if !items
        .next()
        .is_some_and(|k| k.trim().eq_ignore_ascii_case("form-data"))
    {
        return Err(MultipartError::Malformed("part is not form-data"));
    }
    let mut name = None;
    let mut filename = None;
    for item in items {
        let Some((k, v)) = item.split_once('=') else {
            continue;
        };
        let v = unquote(v.trim());
        match k.trim().to_ascii_lowercase().as_str() {
            "name" => name = Some(v),
            "filename" => filename = Some(v),
            _ => {}
        }
    }
    let name = name.ok_or(MultipartError::Malformed("part without a name"))?;
    Ok((name, filename))
}

/// Splits at `;` outside double quotes.
fn split_params(s: &str) -> Vec<String> {
    let mut out = vec![String::new()];
    let mut quoted = false;
    let mut escaped = false;
    for c in s.chars() {
        match c {
            _ if escaped => escaped = false,
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            ';' if !quoted => {
                out.push(String::new());
                continue;
            }
            _ => {}
        }
        if let Some(last) = out.last_mut() {
            last.push(c);
        }
    }
    out
}

fn unquote(v: &str) -> String {
    match v.strip_prefix('"').and_then(|v| v.strip_suffix('"')) {
        Some(inner) => {
            let mut out = String::with_capacity(inner.len());
            let mut chars = inner.chars();
            while let Some(c) = chars.next() {
                if c == '\\' {
                    if let Some(n) = chars.next() {
                        out.push(n);
                    }
                } else {
                    out.push(c);
                }
            }
            out
        }
        None => v.to_owned(),
    }
}

/// A multipart form posted by a logged-in user with the session's CSRF token (read within
/// [`MAX_UPLOAD_BYTES`]); the upload counterpart of [`super::CsrfForm`].
pub struct CsrfMultipart {
    pub user: PanelUser,
    pub parts: Vec<Part>,
}

impl CsrfMultipart {
    /// The first field `name` as text (lossy UTF-8; empty when absent).
    pub fn text(&self, name: &str) -> String {
        self.parts
            .iter()
            .find(|p| p.name == name)
            .map(|p| String::from_utf8_lossy(&p.data).into_owned())
            .unwrap_or_default()
    }

    /// The first file field `name` with a chosen file (a browser sends an empty part without one).
    pub fn file(&self, name: &str) -> Option<&Part> {
        self.parts
            .iter()
            .find(|p| p.name == name && p.filename.as_deref().is_some_and(|f| !f.is_empty()))
    }
}

impl FromRequest<ApiState> for CsrfMultipart {
    type Rejection = PanelError;

    async fn from_request(req: Request, state: &ApiState) -> Result<Self, Self::Rejection> {
        let (mut parts, body) = req.into_parts();
        let user = PanelUser::from_request_parts(&mut parts, state).await?;
        let lang = user.lang;
        let invalid = |m: String| PanelError::app(AppError::validation("form", m), lang);
        let content_type = parts
            .headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        let boundary = boundary(content_type).map_err(|e| invalid(e.to_string()))?;
        let bytes = axum::body::to_bytes(body, MAX_UPLOAD_BYTES).await.map_err(|_| {
            PanelError::app(
                AppError::validation(
                    "file",
                    format!("the upload is larger than {} KiB", MAX_UPLOAD_BYTES / 1024),
                ),
                lang,
            )
        })?;
        let fields = parse(&bytes, &boundary).map_err(|e| invalid(e.to_string()))?;
        let given = fields
            .iter()
            .find(|p| p.name == CSRF_FIELD)
            .map(|p| String::from_utf8_lossy(&p.data).into_owned())
            .unwrap_or_default();
        if !session::tokens_match(&user.session.csrf, &given) {
            tracing::warn!(peer = %user.peer, login = %user.principal.login, "panel upload without a valid CSRF token refused");
            return Err(PanelError::Csrf(lang));
        }
        Ok(CsrfMultipart { user, parts: fields })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn part(name: &str, filename: Option<&str>, data: &str) -> Part {
        Part {
            name: name.into(),
            filename: filename.map(str::to_owned),
            data: data.as_bytes().to_vec(),
        }
    }

    #[test]
    fn boundary_table() {
        let check = |ct: &str, expect: Result<&str, MultipartError>| {
            assert_eq!(boundary(ct), expect.map(str::to_owned), "{ct}");
        };
        check("multipart/form-data; boundary=abc", Ok("abc"));
        check("Multipart/Form-Data;boundary=\"a b\"", Ok("a b"));
        check(
            "multipart/form-data; charset=utf-8; boundary=----WebKitFormBoundaryX",
            Ok("----WebKitFormBoundaryX"),
        );
        check(
            "application/x-www-form-urlencoded",
            Err(MultipartError::NotMultipart),
        );
        check("multipart/form-data", Err(MultipartError::NotMultipart));
        check(
            "multipart/form-data; boundary=",
            Err(MultipartError::NotMultipart),
        );
        check(
            &format!("multipart/form-data; boundary={}", "x".repeat(71)),
            Err(MultipartError::NotMultipart),
        );
    }

    #[test]
    fn parse_table() {
        let check = |body: &str, expect: Result<Vec<Part>, MultipartError>| {
            assert_eq!(parse(body.as_bytes(), "B"), expect, "{body:?}");
        };
        check(
            "--B\r\nContent-Disposition: form-data; name=\"csrf\"\r\n\r\ntok\r\n--B\r\n\
             Content-Disposition: form-data; name=\"file\"; filename=\"a;b \\\"x\\\".csv\"\r\n\
             Content-Type: text/csv\r\n\r\nphone\r\n+48 600\r\n\r\n--B--\r\n",
            Ok(vec![
                part("csrf", None, "tok"),
                part("file", Some("a;b \"x\".csv"), "phone\r\n+48 600\r\n"),
            ]),
        );
        check(
            "preamble\r\n--B\r\ncontent-disposition: form-data; name=f; filename=\"\"\r\n\r\n\r\n--B--",
            Ok(vec![part("f", Some(""), "")]),
        );
        check("--B--\r\n", Ok(vec![]));
        check("nothing here", Err(MultipartError::Malformed("no boundary")));
        check(
            "--B\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nopen",
            Err(MultipartError::Malformed("unterminated part")),
        );
        check(
            "--B\r\nContent-Type: text/plain\r\n\r\nx\r\n--B--",
            Err(MultipartError::Malformed("part without Content-Disposition")),
        );
        check(
            "--B\r\nContent-Disposition: attachment; name=\"a\"\r\n\r\nx\r\n--B--",
            Err(MultipartError::Malformed("part is not form-data")),
        );
        check(
            "--B\r\nContent-Disposition: form-data\r\n\r\nx\r\n--B--",
            Err(MultipartError::Malformed("part without a name")),
        );
        check(
            "--BX\r\n",
            Err(MultipartError::Malformed("boundary not followed by a line end")),
        );
        check(
            &format!("--B\r\nX: {}\r\n\r\nx\r\n--B--", "y".repeat(2000)),
            Err(MultipartError::Malformed("part header missing or too long")),
        );
        let many: String = (0..=MAX_PARTS)
            .map(|i| format!("--B\r\nContent-Disposition: form-data; name=\"f{i}\"\r\n\r\nv\r\n"))
            .collect::<String>()
            + "--B--";
        check(&many, Err(MultipartError::TooManyParts));
    }

    proptest::proptest! {
        #[test]
        fn never_panics(body in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..400)) {
            let _ = parse(&body, "B");
        }

        #[test]
        fn round_trips_what_a_browser_sends(
            fields in proptest::collection::vec(("[a-z]{1,8}", proptest::collection::vec(proptest::prelude::any::<u8>(), 0..64)), 0..MAX_PARTS)
        ) {
            let boundary = "----formboundary7MA4YWxkTrZu0gW";
            let mut body = Vec::new();
            for (name, data) in &fields {
                body.extend_from_slice(format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n").as_bytes());
                body.extend_from_slice(data);
                body.extend_from_slice(b"\r\n");
            }
            body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
            let parsed = parse(&body, boundary);
            // A field's bytes could contain the delimiter itself; browsers choose boundaries that do not
            // occur, and so does this generator (random bytes cannot spell it in 64 bytes).
            let expect: Vec<Part> = fields.iter().map(|(n, d)| Part { name: n.clone(), filename: None, data: d.clone() }).collect();
            proptest::prop_assert_eq!(parsed, Ok(expect));
        }
    }
}
