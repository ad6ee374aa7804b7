//! Strict request-body extraction: JSON only with the right content type (415 otherwise), within the body
//! limit (413), and deserialised so that every error names its field (unknown fields included: every
//! request type uses `#[serde(deny_unknown_fields)]`).
use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::{StatusCode, header};
use serde::de::DeserializeOwned;

use super::problem::{FieldError, Problem};

/// A JSON body parsed strictly; rejections are [`Problem`]s.
#[derive(Debug, Clone)]
pub struct StrictJson<T>(pub T);

/// True for `application/json` and `application/*+json`, with any parameters (e.g. `charset=utf-8`).
pub fn is_json_content_type(value: &str) -> bool {
    let essence = value.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    essence == "application/json" || (essence.starts_with("application/") && essence.ends_with("+json"))
}

impl<T, S> FromRequest<S> for StrictJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = Problem;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let json = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(is_json_content_type);
        if !json {
            return Err(Problem::unsupported_media_type("application/json"));
        }
        let limit = body_limit_of(&req);
        let bytes = Bytes::from_request(req, state).await.map_err(|rejection| {
            if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                Problem::too_large(limit)
            } else {
                Problem::malformed(rejection.body_text())
            }
        })?;
        parse_json(&bytes).map(StrictJson)
    }
}

/// The body limit configured for this router (see [`BodyLimit`]); used only for the 413 message.
fn body_limit_of(req: &Request) -> usize {
    req.extensions().get::<BodyLimit>().map_or(0, |l| l.0)
}

/// The configured maximum body size, put into request extensions by the router so 413 can name it.
#[derive(Debug, Clone, Copy)]
pub struct BodyLimit(pub usize);

/// Deserialises `bytes`, turning serde errors into problems that name the field.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, Problem> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let result: Result<T, _> = serde_path_to_error::deserialize(&mut de);
    let value = result.map_err(|err| {
        let inner = err.inner();
        let message = inner.to_string();
        match inner.classify() {
            serde_json::error::Category::Syntax
            | serde_json::error::Category::Eof
            | serde_json::error::Category::Io => {
                Problem::malformed(format!("body is not valid JSON: {message}"))
            }
            serde_json::error::Category::Data => {
                let field = field_path(&err.path().to_string(), &message);
                Problem::invalid_field(field, strip_position(&message))
            }
        }
    })?;
    de.end()
        .map_err(|e| Problem::malformed(format!("trailing data after the JSON value: {e}")))?;
    Ok(value)
}

/// The path of the field at fault. For unknown and missing fields serde reports the *parent* path and
/// names the field in the message (``unknown field `x` ``); join them.
fn field_path(path: &str, message: &str) -> String {
    let named = ["unknown field `", "missing field `", "duplicate field `"]
        .iter()
        .find_map(|prefix| message.strip_prefix(prefix))
        .and_then(|rest| rest.split_once('`'))
        .map(|(name, _)| name);
    match (path, named) {
        // serde_path_to_error already appends unknown fields to the path.
        (p, Some(name)) if p == name || p.ends_with(&format!(".{name}")) => p.to_owned(),
        (".", Some(name)) | ("", Some(name)) => name.to_owned(),
        (parent, Some(name)) => format!("{parent}.{name}"),
        (".", None) | ("", None) => "body".to_owned(),
        (path, None) => path.to_owned(),
    }
}

/// serde_json appends " at line 1 column 17"; the field already says where.
fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(i) => message[..i].to_owned(),
        None => message.to_owned(),
    }
}

/// Collects several field errors into one 422 problem (used by validators that check everything at once).
pub fn invalid_fields(errors: Vec<FieldError>) -> Problem {
    let detail = errors
        .iter()
        .map(|e| format!("{}: {}", e.field, e.message))
        .collect::<Vec<_>>()
        .join("; ");
    Problem::invalid_field("", "").with_errors(errors).detail(detail)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Inner {
        n: u8,
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Body {
        to: Vec<String>,
        text: String,
        #[serde(default)]
        inner: Option<Inner>,
    }

    #[test]
    fn content_types() {
        let check = |ct: &str, ok: bool| assert_eq!(is_json_content_type(ct), ok, "{ct}");
        check("application/json", true);
        check("Application/JSON; charset=utf-8", true);
        check("application/merge-patch+json", true);
        check("text/plain", false);
        check("application/x-www-form-urlencoded", false);
        check("", false);
    }

    #[test]
    fn errors_name_the_field() {
        let check = |body: &str, status: u16, field: Option<&str>| {
            let p = parse_json::<Body>(body.as_bytes()).unwrap_err();
            assert_eq!(p.status.as_u16(), status, "{body}: {p:?}");
            assert_eq!(p.field.as_deref(), field, "{body}: {p:?}");
        };
        check(r#"{"to":["1"],"text":"x","extra":1}"#, 422, Some("extra"));
        check(r#"{"to":["1"]}"#, 422, Some("text"));
        check(r#"{"to":["1",2],"text":"x"}"#, 422, Some("to[1]"));
        check(r#"{"to":["1"],"text":5}"#, 422, Some("text"));
        check(
            r#"{"to":["1"],"text":"x","inner":{"n":300}}"#,
            422,
            Some("inner.n"),
        );
        check(r#"{"to":["1"],"text":"x","inner":{"m":1}}"#, 422, Some("inner.m"));
        check(r#"{"to":["1"],"text":"x""#, 400, None);
        check(r#"{"to":["1"],"text":"x"} {}"#, 400, None);
        check("[]", 422, Some("body"));
        assert!(parse_json::<Body>(br#"{"to":["1"],"text":"x"}"#).is_ok());
    }

    #[test]
    fn messages_have_no_positions() {
        let p = parse_json::<Body>(br#"{"to":["1"],"text":5}"#).unwrap_err();
        assert!(!p.errors[0].message.contains("line"), "{p:?}");
    }
}
