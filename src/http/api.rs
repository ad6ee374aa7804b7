//! REST API v1 handlers (`/api/v1/...`). Request bodies are strict JSON ([`StrictJson`]); query strings
//! are strict too ([`StrictQuery`]); every error is a problem document naming the field.
//!
//! A client sees only its own messages and inbox: ids of other accounts' rows answer 404, exactly like
//! ids that do not exist (no IDOR, no existence oracle).
use std::collections::BTreeSet;

use axum::Json;
use axum::extract::{FromRequestParts, Path, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::ApiState;
use super::caller::Caller;
use super::extract::StrictJson;
use super::problem::Problem;
use crate::app::{AppError, EncodingChoice, NewToken, NewWebhook, SubmitRequest};
use crate::auth::{Scope, Scopes, token};
use crate::store::{
    EventType, InboxFilter, InboxId, MessageFilter, MessageId, MessageStatus, TokenId, WebhookId,
};

/// Maps a gateway error to a problem; `field_map` renames gateway field names to this API's.
pub fn app_problem(error: AppError, field_map: &dyn Fn(&str) -> String) -> Problem {
    match error {
        AppError::Validation { field, message } => Problem::invalid_field(field_map(&field), message),
        AppError::NotFound(what) => Problem::not_found(what),
        AppError::Conflict(m) => Problem::conflict(m),
        AppError::Forbidden(m) => Problem::forbidden(m),
        AppError::RateLimited { retry_after } => Problem::rate_limited(retry_after),
        AppError::Unavailable(m) => Problem::unavailable(m),
        AppError::Internal(e) => {
            tracing::error!(error = %e, "internal error");
            Problem::internal()
        }
    }
}

fn same(field: &str) -> String {
    field.to_owned()
}

impl From<AppError> for Problem {
    fn from(error: AppError) -> Self {
        app_problem(error, &same)
    }
}

/// Query-string extraction that rejects unknown parameters and names the bad one.
#[derive(Debug)]
pub struct StrictQuery<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for StrictQuery<T> {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let query = parts.uri.query().unwrap_or("");
        let de = serde_urlencoded::Deserializer::new(form_urlencoded_parse(query));
        serde_path_to_error::deserialize(de)
            .map(StrictQuery)
            .map_err(|err| {
                let message = err.inner().to_string();
                let path = err.path().to_string();
                let field = ["unknown field `", "missing field `"]
                    .iter()
                    .find_map(|p| message.strip_prefix(p))
                    .and_then(|rest| rest.split_once('`'))
                    .map_or(path, |(name, _)| name.to_owned());
                Problem::invalid_field(field, message)
            })
    }
}

fn form_urlencoded_parse(query: &str) -> form_urlencoded::Parse<'_> {
    form_urlencoded::parse(query.as_bytes())
}

// ---------------------------------------------------------------------------------------------------------
// messages

/// `to`: one number or a list.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum Recipients {
    One(String),
    Many(Vec<String>),
}

/// Options shared by a single send and each batch item.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SendItem {
    pub to: Option<Recipients>,
    pub text: Option<String>,
    #[serde(default)]
    pub group: Option<String>,
    #[serde(default)]
    pub encoding: Option<EncodingChoice>,
    #[serde(default)]
    pub priority: Option<i32>,
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub send_at: Option<OffsetDateTime>,
    #[serde(default)]
    pub validity_seconds: Option<u64>,
    #[serde(default)]
    pub delivery_report: Option<bool>,
    #[serde(default)]
    pub client_ref: Option<String>,
}

/// `POST /messages` body: a single send ([`SendItem`] fields at top level) or `{"messages": [...]}`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SendBody {
    pub to: Option<Recipients>,
    pub text: Option<String>,
    #[serde(default)]
    pub group: Option<String>,
    #[serde(default)]
    pub encoding: Option<EncodingChoice>,
    #[serde(default)]
    pub priority: Option<i32>,
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub send_at: Option<OffsetDateTime>,
    #[serde(default)]
    pub validity_seconds: Option<u64>,
    #[serde(default)]
    pub delivery_report: Option<bool>,
    #[serde(default)]
    pub client_ref: Option<String>,
    /// Batch form: each item is a send of its own; all are accepted or none.
    #[serde(default)]
    pub messages: Option<Vec<SendItem>>,
}

impl SendBody {
    fn single(self) -> SendItem {
        SendItem {
            to: self.to,
            text: self.text,
            group: self.group,
            encoding: self.encoding,
            priority: self.priority,
            send_at: self.send_at,
            validity_seconds: self.validity_seconds,
            delivery_report: self.delivery_report,
            client_ref: self.client_ref,
        }
    }

    fn has_single_fields(&self) -> bool {
        self.to.is_some() || self.text.is_some()
    }
}

/// Converts one item to a gateway request; `prefix` is its JSON path (`""` or `messages[3].`).
fn submit_request(item: SendItem, prefix: &str) -> Result<SubmitRequest, Problem> {
    let recipients = match item.to {
        Some(Recipients::One(n)) => vec![n],
        Some(Recipients::Many(list)) if !list.is_empty() => list,
        Some(Recipients::Many(_)) => {
            return Err(Problem::invalid_field(format!("{prefix}to"), "must not be empty"));
        }
        None => {
            return Err(Problem::invalid_field(
                format!("{prefix}to"),
                "missing field `to`",
            ));
        }
    };
    let text = item
        .text
        .ok_or_else(|| Problem::invalid_field(format!("{prefix}text"), "missing field `text`"))?;
    let mut request = SubmitRequest::new(recipients, text);
    request.group = item.group;
    request.encoding = item.encoding.unwrap_or_default();
    request.priority = item.priority.unwrap_or(0);
    request.send_at = item.send_at;
    request.validity_seconds = item.validity_seconds;
    request.delivery_report = item.delivery_report.unwrap_or(false);
    request.client_ref = item.client_ref;
    Ok(request)
}

/// Gateway field names → this API's (`recipients[2]` → `to[2]`), under `prefix`.
pub fn api_field(prefix: &str, field: &str) -> String {
    if field == "Idempotency-Key" {
        return field.to_owned();
    }
    let renamed = match field.strip_prefix("recipients") {
        Some(rest) => format!("to{rest}"),
        None => field.to_owned(),
    };
    format!("{prefix}{renamed}")
}

/// `POST /api/v1/messages`.
pub async fn send(
    State(state): State<ApiState>,
    caller: Caller,
    headers: HeaderMap,
    StrictJson(body): StrictJson<SendBody>,
) -> Result<Response, Problem> {
    caller.require(Scope::MessagesSend)?;
    let idempotency_key = match headers.get("idempotency-key") {
        Some(v) => Some(
            v.to_str()
                .map_err(|_| Problem::invalid_field("Idempotency-Key", "must be visible ASCII"))?
                .to_owned(),
        ),
        None => None,
    };
    let batch = body.messages.is_some();
    let requests = match (body.has_single_fields(), body.messages.clone()) {
        (true, Some(_)) => {
            return Err(Problem::invalid_field(
                "messages",
                "give either `to` + `text` or `messages`, not both",
            ));
        }
        (false, None) => return Err(Problem::invalid_field("to", "missing field `to`")),
        (false, Some(items)) if items.is_empty() => {
            return Err(Problem::invalid_field("messages", "must not be empty"));
        }
        (false, Some(items)) => items
            .into_iter()
            .enumerate()
            .map(|(i, item)| submit_request(item, &format!("messages[{i}].")))
            .collect::<Result<Vec<_>, _>>()?,
        (true, None) => vec![submit_request(body.single(), "")?],
    };
    let messages = state
        .gateway
        .submit_batch(&caller.principal, requests, idempotency_key.as_deref())
        .await
        .map_err(|crate::app::BatchError { index, error }| {
            let prefix = match (batch, index) {
                (true, Some(i)) => format!("messages[{i}]."),
                _ => String::new(),
            };
            app_problem(error, &|f| api_field(&prefix, f))
        })?;
    /// The 202 body, serialised straight from the stored messages (no intermediate JSON tree).
    #[derive(Serialize)]
    struct Accepted {
        messages: Vec<crate::store::Message>,
    }
    Ok((StatusCode::ACCEPTED, Json(Accepted { messages })).into_response())
}

/// `GET /api/v1/messages` query.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MessageQuery {
    pub status: Option<String>,
    pub to: Option<String>,
    pub client_ref: Option<String>,
    pub created_from: Option<String>,
    pub created_to: Option<String>,
    pub cursor: Option<String>,
    pub limit: Option<u32>,
}

/// Largest page.
const MAX_PAGE: u32 = 1000;

fn parse_time(field: &str, value: Option<&str>) -> Result<Option<i64>, Problem> {
    value
        .map(|v| {
            OffsetDateTime::parse(v, &time::format_description::well_known::Rfc3339)
                .map(|t| (t.unix_timestamp_nanos() / 1_000_000) as i64)
                .map_err(|_| {
                    Problem::invalid_field(field, "must be an RFC 3339 date-time, e.g. 2026-01-31T12:00:00Z")
                })
        })
        .transpose()
}

fn parse_limit(limit: Option<u32>) -> Result<u32, Problem> {
    match limit {
        None => Ok(0),
        Some(n) if (1..=MAX_PAGE).contains(&n) => Ok(n),
        Some(_) => Err(Problem::invalid_field(
            "limit",
            format!("must be 1 to {MAX_PAGE}"),
        )),
    }
}

/// `GET /api/v1/messages`.
pub async fn list_messages(
    State(state): State<ApiState>,
    caller: Caller,
    StrictQuery(q): StrictQuery<MessageQuery>,
) -> Result<Response, Problem> {
    caller.require(Scope::MessagesRead)?;
    let status = q
        .status
        .as_deref()
        .map(|s| s.parse::<MessageStatus>())
        .transpose()
        .map_err(|_| {
            let names: Vec<&str> = MessageStatus::ALL.iter().map(|s| s.as_str()).collect();
            Problem::invalid_field("status", format!("must be one of {}", names.join(", ")))
        })?;
    let before = q
        .cursor
        .as_deref()
        .map(|c| c.parse::<MessageId>())
        .transpose()
        .map_err(|_| Problem::invalid_field("cursor", "must be a cursor returned as `next_cursor`"))?;
    let filter = MessageFilter {
        status,
        recipient: q.to,
        client_ref: q.client_ref,
        created_from: parse_time("created_from", q.created_from.as_deref())?,
        created_to: parse_time("created_to", q.created_to.as_deref())?,
        before,
        limit: parse_limit(q.limit)?,
    };
    let page = state.gateway.list_messages(&caller.principal, filter).await?;
    Ok(Json(page).into_response())
}

fn message_id(id: &str) -> Result<MessageId, Problem> {
    // A malformed id cannot name anything: the same 404 as an unknown or foreign one.
    id.parse().map_err(|_| Problem::not_found("message"))
}

/// `GET /api/v1/messages/{id}`.
pub async fn get_message(
    State(state): State<ApiState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, Problem> {
    caller.require(Scope::MessagesRead)?;
    let detail = state.gateway.message(&caller.principal, message_id(&id)?).await?;
    Ok(Json(detail).into_response())
}

/// `DELETE /api/v1/messages/{id}`: cancel a message not yet handed to a modem.
pub async fn cancel_message(
    State(state): State<ApiState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, Problem> {
    caller.require(Scope::MessagesSend)?;
    let message = state
        .gateway
        .cancel_message(&caller.principal, message_id(&id)?)
        .await?;
    Ok(Json(message).into_response())
}

// ---------------------------------------------------------------------------------------------------------
// inbox

/// `GET /api/v1/inbox` query.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InboxQuery {
    pub from: Option<String>,
    pub cursor: Option<String>,
    pub limit: Option<u32>,
}

/// `GET /api/v1/inbox`.
pub async fn list_inbox(
    State(state): State<ApiState>,
    caller: Caller,
    StrictQuery(q): StrictQuery<InboxQuery>,
) -> Result<Response, Problem> {
    caller.require(Scope::InboxRead)?;
    let before = q
        .cursor
        .as_deref()
        .map(|c| c.parse::<InboxId>())
        .transpose()
        .map_err(|_| Problem::invalid_field("cursor", "must be a cursor returned as `next_cursor`"))?;
    let filter = InboxFilter {
        originator: q.from,
        before,
        limit: parse_limit(q.limit)?,
    };
    Ok(Json(state.gateway.inbox(&caller.principal, filter).await?).into_response())
}

fn inbox_id(id: &str) -> Result<InboxId, Problem> {
    id.parse().map_err(|_| Problem::not_found("inbox message"))
}

/// `GET /api/v1/inbox/{id}`.
pub async fn get_inbox(
    State(state): State<ApiState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, Problem> {
    caller.require(Scope::InboxRead)?;
    Ok(Json(
        state
            .gateway
            .inbox_item(&caller.principal, inbox_id(&id)?)
            .await?,
    )
    .into_response())
}

/// `DELETE /api/v1/inbox/{id}`.
pub async fn delete_inbox(
    State(state): State<ApiState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, Problem> {
    caller.require(Scope::InboxWrite)?;
    state
        .gateway
        .delete_inbox(&caller.principal, inbox_id(&id)?)
        .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

// ---------------------------------------------------------------------------------------------------------
// USSD (the modem routes are in `super::modems`)

/// `POST /api/v1/ussd` body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UssdBody {
    /// Modem id (IMEI), name or port.
    pub modem: String,
    /// The code, e.g. `*100#`.
    pub code: String,
}

/// `POST /api/v1/ussd` (operators only): the network's answer.
pub async fn ussd(
    State(state): State<ApiState>,
    caller: Caller,
    StrictJson(body): StrictJson<UssdBody>,
) -> Result<Response, Problem> {
    caller.require(Scope::Ussd)?;
    let source = caller.peer.to_string();
    let by = crate::app::Requester {
        who: &caller.principal,
        source: Some(&source),
    };
    let reply = state.gateway.modem_ussd(by, &body.modem, &body.code).await?;
    Ok(Json(reply).into_response())
}

// ---------------------------------------------------------------------------------------------------------
// the caller's own account, tokens, webhooks

/// `GET /api/v1/me`.
pub async fn me(caller: Caller) -> Response {
    Json(serde_json::json!({
        "account_id": caller.principal.account_id,
        "login": caller.principal.login,
        "role": caller.principal.role,
        "scopes": caller.identity.scopes.to_string(),
    }))
    .into_response()
}

/// `POST /api/v1/tokens` body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenBody {
    pub name: String,
    /// Scopes; empty or absent = everything the account may do.
    #[serde(default)]
    pub scopes: Vec<String>,
    /// Lifetime in seconds; absent = no expiry.
    #[serde(default)]
    pub expires_in_seconds: Option<u64>,
}

/// Longest token lifetime accepted (10 years).
const MAX_TOKEN_LIFETIME_SECS: u64 = 10 * 366 * 24 * 3600;

/// `POST /api/v1/tokens`: the token is in the answer once and never again.
pub async fn create_token(
    State(state): State<ApiState>,
    caller: Caller,
    StrictJson(body): StrictJson<TokenBody>,
) -> Result<Response, Problem> {
    caller.require_password_login()?;
    let mut scopes = BTreeSet::new();
    for (i, s) in body.scopes.iter().enumerate() {
        scopes.insert(
            s.parse::<Scope>()
                .map_err(|m| Problem::invalid_field(format!("scopes[{i}]"), m))?,
        );
    }
    let expires_at = match body.expires_in_seconds {
        None => None,
        Some(s) if (1..=MAX_TOKEN_LIFETIME_SECS).contains(&s) => {
            Some(OffsetDateTime::now_utc() + time::Duration::seconds(s as i64))
        }
        Some(_) => {
            return Err(Problem::invalid_field(
                "expires_in_seconds",
                "must be 1 to 316224000",
            ));
        }
    };
    let new = token::generate();
    let stored = state
        .gateway
        .create_token(
            &caller.principal,
            NewToken {
                token_hash: new.hash,
                name: body.name,
                scopes: Scopes(scopes).to_string(),
                expires_at,
            },
        )
        .await?;
    let mut json = serde_json::to_value(&stored).map_err(|_| Problem::internal())?;
    json["token"] = serde_json::Value::String(new.plaintext);
    Ok((StatusCode::CREATED, Json(json)).into_response())
}

/// `GET /api/v1/tokens`.
pub async fn list_tokens(State(state): State<ApiState>, caller: Caller) -> Result<Response, Problem> {
    Ok(Json(serde_json::json!({ "items": state.gateway.tokens(&caller.principal).await? })).into_response())
}

/// `DELETE /api/v1/tokens/{id}`.
pub async fn revoke_token(
    State(state): State<ApiState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, Problem> {
    let id: i64 = id.parse().map_err(|_| Problem::not_found("token"))?;
    state.gateway.revoke_token(&caller.principal, TokenId(id)).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `POST /api/v1/webhooks` body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookBody {
    pub url: String,
    pub events: Vec<EventType>,
    /// HMAC key for `X-Signature`; generated when absent (then shown once in the answer).
    #[serde(default)]
    pub secret: Option<String>,
}

/// Octets of a generated webhook secret.
const WEBHOOK_SECRET_OCTETS: usize = 32;

/// `POST /api/v1/webhooks`.
pub async fn create_webhook(
    State(state): State<ApiState>,
    caller: Caller,
    StrictJson(body): StrictJson<WebhookBody>,
) -> Result<Response, Problem> {
    caller.require(Scope::Webhooks)?;
    let secret = body.secret.unwrap_or_else(|| {
        format!(
            "whsec_{}",
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .encode(rand::random::<[u8; WEBHOOK_SECRET_OCTETS]>())
        )
    });
    let hook = state
        .gateway
        .create_webhook(
            &caller.principal,
            NewWebhook {
                url: body.url,
                secret: secret.clone(),
                events: body.events,
            },
        )
        .await?;
    let mut json = serde_json::to_value(&hook).map_err(|_| Problem::internal())?;
    json["secret"] = serde_json::Value::String(secret);
    Ok((StatusCode::CREATED, Json(json)).into_response())
}

/// `GET /api/v1/webhooks`.
pub async fn list_webhooks(State(state): State<ApiState>, caller: Caller) -> Result<Response, Problem> {
    caller.require(Scope::Webhooks)?;
    Ok(
        Json(serde_json::json!({ "items": state.gateway.webhooks(&caller.principal).await? }))
            .into_response(),
    )
}

/// `DELETE /api/v1/webhooks/{id}`.
pub async fn delete_webhook(
    State(state): State<ApiState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, Problem> {
    caller.require(Scope::Webhooks)?;
    let id: i64 = id.parse().map_err(|_| Problem::not_found("webhook"))?;
    state
        .gateway
        .delete_webhook(&caller.principal, WebhookId(id))
        .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
