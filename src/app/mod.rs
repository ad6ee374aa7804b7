//! The application-service layer: what every surface (REST, SOAP, panel, Kannel shim, CLI) calls.
//!
//! [`Gateway`] is a cheap-to-clone handle over the store, the dispatcher and the modem event pipeline.
//! Every method takes the authenticated caller ([`Principal`]) where data is scoped: a client sees and
//! touches only its own rows (the account id is part of every query, so guessing another id yields
//! `NotFound`, never someone else's data); admins and technicians see everything. Errors are
//! [`AppError`]s, which the HTTP layer maps to problem+json.
pub mod backup;
pub mod bulk;
mod cluster;
mod deletion;
mod events;
pub mod health;
mod modems;
pub mod numbers;
mod retention;
pub mod roles;
pub mod routing;
pub mod stages;
mod start;
mod submit;
mod surfaces;

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Notify;

pub use self::deletion::{DELETION_INTERVAL, DeletionAccepted, ERASE_BATCH};
pub use self::events::Inbound;
pub use self::modems::{
    AT_DEFAULT_TIMEOUT, AT_MAX_TIMEOUT, AtOutcome, ModemView, Requester, SettingsInput, SettingsView,
    TEST_SMS_VALIDITY,
};
pub use self::retention::{AccountExport, LastPurge, RETENTION_INTERVAL, RetentionStatus};
pub use self::start::GatewayHandles;
pub use self::submit::{
    EncodingChoice, MAX_CLIENT_REF, MAX_IDEMPOTENCY_KEY, MAX_RECIPIENTS, PRIORITY_RANGE, SubmitRequest,
};
pub use self::surfaces::{BatchError, KannelDlr};
use crate::clock::Clock;
use crate::config::Settings;
use crate::dispatch::Dispatcher;
use crate::store::{self, Store, StoreError};
pub use crate::store::{
    Account, AccountId, ApiToken, AuditEntry, CancelOutcome, EventId, EventType, InboxFilter, InboxId,
    InboxMessage, Message, MessageDetail, MessageFilter, MessageId, MessagePart, MessageStatus, ModemRecord,
    NewAuditEntry, OutboxId, Page, PartStatus, Role, TextEncoding, TokenId, Webhook, WebhookDelivery,
    WebhookId,
};
pub use crate::store::{DeletionRequest, Erased};

/// The authenticated caller of an operation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub account_id: AccountId,
    pub login: String,
    pub role: Role,
}

impl Principal {
    /// The caller for an account.
    pub fn of(account: &Account) -> Principal {
        Principal {
            account_id: account.id,
            login: account.login.clone(),
            role: account.role,
        }
    }

    /// Which rows this caller may see.
    pub fn scope(&self) -> store::Scope {
        match self.role {
            Role::Admin | Role::Technician => store::Scope::All,
            Role::Client => store::Scope::Account(self.account_id),
        }
    }

    /// Admin or technician.
    pub fn is_operator(&self) -> bool {
        matches!(self.role, Role::Admin | Role::Technician)
    }

    fn require_operator(&self) -> Result<(), AppError> {
        if self.is_operator() {
            Ok(())
        } else {
            Err(AppError::Forbidden("needs the admin or technician role".into()))
        }
    }

    fn require_admin(&self) -> Result<(), AppError> {
        if self.role == Role::Admin {
            Ok(())
        } else {
            Err(AppError::Forbidden("needs the admin role".into()))
        }
    }
}

/// Errors of the application layer; each maps to one HTTP status.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AppError {
    /// Bad input (400/422): `field` names the request field (`text`, `recipients[2]`, `Idempotency-Key`).
    #[error("{field}: {message}")]
    Validation { field: String, message: String },
    /// No such thing visible to the caller (404).
    #[error("{0} not found")]
    NotFound(&'static str),
    /// The request clashes with the current state (409): reused idempotency key, taken login,
    /// message no longer cancellable.
    #[error("{0}")]
    Conflict(String),
    /// The caller's role does not allow it (403).
    #[error("forbidden: {0}")]
    Forbidden(String),
    /// Too many requests (429); retry after the given time.
    #[error("rate limited; retry after {}s", retry_after.as_secs())]
    RateLimited { retry_after: Duration },
    /// A needed part is not available (503): the store is closing, the modem is absent.
    #[error("unavailable: {0}")]
    Unavailable(String),
    /// A bug or an I/O failure (500); details are logged, not shown.
    #[error("internal error: {0}")]
    Internal(String),
}

impl AppError {
    /// A validation error for `field`.
    pub fn validation(field: &str, message: impl Into<String>) -> AppError {
        AppError::Validation {
            field: field.to_owned(),
            message: message.into(),
        }
    }
}

impl From<StoreError> for AppError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Conflict(m) => AppError::Conflict(m),
            StoreError::Closed => AppError::Unavailable("the database is closed".into()),
            other => {
                tracing::error!(error = %other, "store failure");
                AppError::Internal(other.to_string())
            }
        }
    }
}

/// Result type of the application layer.
pub type AppResult<T> = Result<T, AppError>;

struct Inner {
    settings: Settings,
    store: Store,
    dispatcher: Dispatcher,
    clock: Clock,
    /// Signalled whenever webhook events may have been written.
    webhooks_due: Arc<Notify>,
    inbound: events::InboundState,
    /// Modem actors and the simulated bank, when started by [`Gateway::start`].
    modems: start::ModemRuntime,
    /// Accounts erased since start.
    erased: deletion::ErasedAccounts,
    /// The claimer of a cluster node (idle when not in a cluster).
    cluster: cluster::ClusterRuntime,
    /// Retention periods in force (changeable at run time) and the sweep's state.
    retention: retention::RetentionState,
    /// In-process metrics (send latency per modem, HTTP requests).
    metrics: Arc<crate::ops::metrics::Metrics>,
    /// When the gateway started (uptime).
    started: std::time::SystemTime,
    /// Run-time routing rules (see [`routing`]); read lock-free by every submit.
    routes: arc_swap::ArcSwap<Vec<crate::store::StoredRouteRule>>,
    /// Serialises edits of `routes` (check revision, store, swap).
    routes_edit: tokio::sync::Mutex<()>,
}

/// The gateway core; cheap to clone, shareable across tasks.
#[derive(Clone)]
pub struct Gateway {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Gateway {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Gateway")
            .field("store", &self.inner.store)
            .finish_non_exhaustive()
    }
}

/// A new API token; only the hash of its secret is given (auth creates and hashes the secret).
#[derive(Debug, Clone)]
pub struct NewToken {
    pub token_hash: String,
    pub name: String,
    pub scopes: String,
    pub expires_at: Option<time::OffsetDateTime>,
}

/// A new webhook subscription.
#[derive(Debug, Clone)]
pub struct NewWebhook {
    pub url: String,
    /// HMAC key for `X-Signature`.
    pub secret: String,
    pub events: Vec<EventType>,
}

impl Gateway {
    /// The settings the gateway runs with.
    pub fn settings(&self) -> &Settings {
        &self.inner.settings
    }

    /// The store (for surfaces that need a query the gateway does not wrap, e.g. the CLI).
    pub fn store(&self) -> &Store {
        &self.inner.store
    }

    /// The dispatcher (to attach modems).
    pub fn dispatcher(&self) -> &Dispatcher {
        &self.inner.dispatcher
    }

    /// Now, in UTC unix milliseconds, by the gateway's clock.
    pub fn now_ms(&self) -> i64 {
        self.inner.clock.now_ms()
    }

    /// Notified (`notify_waiters`) whenever new webhook events or Kannel DLRs may be due. Two workers wait
    /// on it (webhooks and the Kannel DLR callbacks): each creates its `notified()` before reading what is
    /// due, so a wake between its read and its wait is never lost, and one worker cannot take the other's.
    pub fn webhooks_due(&self) -> Arc<Notify> {
        self.inner.webhooks_due.clone()
    }

    // ---- messages ----

    /// Accepts a text for one or more recipients. Validates everything (errors name the field), encodes
    /// the parts, stores all messages atomically and durably, queues them, and only then returns their
    /// views. With an idempotency key, a repeat of the same request returns the same messages; the same
    /// key with a different request is a `Conflict`.
    pub async fn submit(
        &self,
        who: &Principal,
        request: SubmitRequest,
        idempotency_key: Option<&str>,
    ) -> AppResult<Vec<Message>> {
        let key = match idempotency_key {
            Some(k) => {
                submit::check_idempotency_key(k)?;
                Some(store::IdempotencyKey {
                    key: k.to_owned(),
                    request_hash: request.fingerprint(),
                })
            }
            None => None,
        };
        let now = self.now_ms();
        let routes = self.live_route_rules();
        let prepared = submit::prepare(&self.inner.settings, &routes, &who.login, &request, now)?;
        let submitted = self
            .inner
            .store
            .submit(who.account_id, key, prepared.messages, now)
            .await?;
        self.enqueue_submitted(who, submitted).await
    }

    /// One message with its parts and attempts.
    pub async fn message(&self, who: &Principal, id: MessageId) -> AppResult<MessageDetail> {
        let mut detail = self
            .inner
            .store
            .message_detail(who.scope(), id)
            .await?
            .ok_or(AppError::NotFound("message"))?;
        roles::redact_message(who, &mut detail.message);
        Ok(detail)
    }

    /// A page of messages, newest first. `limit` 0 means 100.
    pub async fn list_messages(
        &self,
        who: &Principal,
        mut filter: MessageFilter,
    ) -> AppResult<Page<Message>> {
        if filter.limit == 0 {
            filter.limit = 100;
        }
        let mut page = self.inner.store.list_messages(who.scope(), filter).await?;
        page.items.iter_mut().for_each(|m| roles::redact_message(who, m));
        Ok(page)
    }

    /// Cancels a message that has not been handed to a modem yet.
    pub async fn cancel_message(&self, who: &Principal, id: MessageId) -> AppResult<Message> {
        roles::require_not_technician(who, "cancel client messages")?;
        match self
            .inner
            .store
            .cancel_message(who.scope(), id, self.now_ms())
            .await?
        {
            CancelOutcome::Cancelled(m) => {
                self.inner.dispatcher.cancel(id);
                self.audit(
                    Some(who),
                    Some(m.account_id),
                    None,
                    "message.cancelled",
                    Some(format!("msg_id={id}")),
                )
                .await;
                Ok(*m)
            }
            CancelOutcome::NotFound => Err(AppError::NotFound("message")),
            CancelOutcome::TooLate(status) => Err(AppError::Conflict(format!(
                "the message is {status} and can no longer be cancelled"
            ))),
        }
    }

    // ---- inbox ----

    /// A page of received SMS, newest first. `limit` 0 means 100.
    pub async fn inbox(&self, who: &Principal, mut filter: InboxFilter) -> AppResult<Page<InboxMessage>> {
        if filter.limit == 0 {
            filter.limit = 100;
        }
        let mut page = self.inner.store.inbox(who.scope(), filter).await?;
        page.items.iter_mut().for_each(|m| roles::redact_inbox(who, m));
        Ok(page)
    }

    /// One received SMS.
    pub async fn inbox_item(&self, who: &Principal, id: InboxId) -> AppResult<InboxMessage> {
        let mut item = self
            .inner
            .store
            .inbox_item(who.scope(), id)
            .await?
            .ok_or(AppError::NotFound("inbox message"))?;
        roles::redact_inbox(who, &mut item);
        Ok(item)
    }

    /// Deletes a received SMS (physically).
    pub async fn delete_inbox(&self, who: &Principal, id: InboxId) -> AppResult<()> {
        roles::require_not_technician(who, "delete received messages")?;
        if self.inner.store.delete_inbox(who.scope(), id).await? {
            Ok(())
        } else {
            Err(AppError::NotFound("inbox message"))
        }
    }

    // ---- modems ----

    /// Every known modem. Clients see the list too (they choose groups), but not the SIM identities.
    pub async fn modems(&self, who: &Principal) -> AppResult<Vec<ModemRecord>> {
        let mut modems = self.inner.store.modems().await?;
        if !who.is_operator() {
            modems.iter_mut().for_each(redact_modem);
        }
        Ok(modems)
    }

    /// One modem by id (IMEI) or name.
    pub async fn modem(&self, who: &Principal, id: &str) -> AppResult<ModemRecord> {
        let mut m = self
            .inner
            .store
            .modem(id)
            .await?
            .ok_or(AppError::NotFound("modem"))?;
        if !who.is_operator() {
            redact_modem(&mut m);
        }
        Ok(m)
    }

    // ---- accounts and tokens (used by auth) ----

    /// The account with this login.
    pub async fn find_account_by_login(&self, login: &str) -> AppResult<Option<Account>> {
        Ok(self.inner.store.account_by_login(login).await?)
    }

    /// The account with this id.
    pub async fn find_account(&self, id: AccountId) -> AppResult<Option<Account>> {
        Ok(self.inner.store.account(id).await?)
    }

    /// Number of accounts (0 on a fresh install: create the first admin).
    pub async fn account_count(&self) -> AppResult<u64> {
        Ok(self.inner.store.account_count().await?)
    }

    /// Creates an account with an already hashed password. `actor` is `None` only for bootstrap (the
    /// first admin); otherwise it must be an admin. A taken login is a `Conflict`.
    pub async fn create_account(
        &self,
        actor: Option<&Principal>,
        login: &str,
        password_hash: String,
        role: Role,
    ) -> AppResult<Account> {
        if let Some(a) = actor {
            a.require_admin()?;
        }
        check_login(login)?;
        let account = self
            .inner
            .store
            .create_account(store::NewAccount {
                login: login.to_owned(),
                password_hash,
                role,
            })
            .await?;
        self.audit(
            actor,
            Some(account.id),
            None,
            "account.created",
            Some(format!("login={login} role={role}")),
        )
        .await;
        Ok(account)
    }

    /// All accounts (admin only).
    pub async fn accounts(&self, who: &Principal) -> AppResult<Vec<Account>> {
        who.require_admin()?;
        Ok(self.inner.store.accounts().await?)
    }

    /// Replaces the password hash of an account: the account itself or an admin.
    pub async fn set_password_hash(&self, who: &Principal, id: AccountId, hash: String) -> AppResult<()> {
        if who.account_id != id {
            who.require_admin()?;
        }
        if !self.inner.store.set_password_hash(id, hash).await? {
            return Err(AppError::NotFound("account"));
        }
        self.audit(Some(who), Some(id), None, "account.password_changed", None)
            .await;
        Ok(())
    }

    /// Enables or disables an account (admin only).
    pub async fn set_account_disabled(
        &self,
        who: &Principal,
        id: AccountId,
        disabled: bool,
    ) -> AppResult<()> {
        who.require_admin()?;
        if !self.inner.store.set_account_disabled(id, disabled).await? {
            return Err(AppError::NotFound("account"));
        }
        let action = if disabled {
            "account.disabled"
        } else {
            "account.enabled"
        };
        self.audit(Some(who), Some(id), None, action, None).await;
        Ok(())
    }

    /// Stores a new API token for the caller's own account.
    pub async fn create_token(&self, who: &Principal, token: NewToken) -> AppResult<ApiToken> {
        if token.name.trim().is_empty() {
            return Err(AppError::validation("name", "must not be empty"));
        }
        let t = self
            .inner
            .store
            .create_token(store::NewToken {
                account_id: who.account_id,
                token_hash: token.token_hash,
                name: token.name,
                scopes: token.scopes,
                expires_at: token.expires_at.map(store::datetime_to_ms),
            })
            .await?;
        self.audit(
            Some(who),
            Some(who.account_id),
            None,
            "token.created",
            Some(format!("id={}", t.id.0)),
        )
        .await;
        Ok(t)
    }

    /// The token with this hash and its account, if the token exists (check
    /// [`ApiToken::is_usable`] and [`Account::disabled`]).
    pub async fn find_token_by_hash(&self, hash: &str) -> AppResult<Option<(ApiToken, Account)>> {
        Ok(self.inner.store.token_by_hash(hash).await?)
    }

    /// The caller's tokens.
    pub async fn tokens(&self, who: &Principal) -> AppResult<Vec<ApiToken>> {
        Ok(self.inner.store.tokens(who.account_id).await?)
    }

    /// Revokes one of the caller's tokens.
    pub async fn revoke_token(&self, who: &Principal, id: TokenId) -> AppResult<()> {
        if !self.inner.store.revoke_token(who.account_id, id).await? {
            return Err(AppError::NotFound("token"));
        }
        self.audit(
            Some(who),
            Some(who.account_id),
            None,
            "token.revoked",
            Some(format!("id={}", id.0)),
        )
        .await;
        Ok(())
    }

    // ---- webhooks ----

    /// Subscribes the caller's account to events.
    pub async fn create_webhook(&self, who: &Principal, hook: NewWebhook) -> AppResult<Webhook> {
        if !(hook.url.starts_with("https://") || hook.url.starts_with("http://")) {
            return Err(AppError::validation("url", "must be an http:// or https:// URL"));
        }
        if hook.events.is_empty() {
            return Err(AppError::validation("events", "needs at least one event type"));
        }
        if hook.secret.len() < 16 {
            return Err(AppError::validation("secret", "must be at least 16 characters"));
        }
        let w = self
            .inner
            .store
            .create_webhook(store::NewWebhook {
                account_id: who.account_id,
                url: hook.url,
                secret: hook.secret,
                events: hook.events,
            })
            .await?;
        self.audit(
            Some(who),
            Some(who.account_id),
            None,
            "webhook.created",
            Some(format!("id={}", w.id.0)),
        )
        .await;
        Ok(w)
    }

    /// The caller's webhooks.
    pub async fn webhooks(&self, who: &Principal) -> AppResult<Vec<Webhook>> {
        Ok(self.inner.store.webhooks(who.account_id).await?)
    }

    /// Deletes one of the caller's webhooks.
    pub async fn delete_webhook(&self, who: &Principal, id: WebhookId) -> AppResult<()> {
        if !self.inner.store.delete_webhook(who.account_id, id).await? {
            return Err(AppError::NotFound("webhook"));
        }
        self.audit(
            Some(who),
            Some(who.account_id),
            None,
            "webhook.deleted",
            Some(format!("id={}", id.0)),
        )
        .await;
        Ok(())
    }

    /// Deliveries due at `now_ms`, oldest first (for the delivery worker).
    pub async fn due_webhooks(&self, now_ms: i64, limit: u32) -> AppResult<Vec<WebhookDelivery>> {
        Ok(self.inner.store.due_webhooks(now_ms, limit).await?)
    }

    /// When the next pending delivery is due (UTC ms), if any.
    pub async fn next_webhook_due(&self) -> AppResult<Option<i64>> {
        Ok(self.inner.store.next_webhook_due().await?)
    }

    /// Records a delivered webhook event.
    pub async fn mark_webhook_delivered(&self, id: OutboxId) -> AppResult<()> {
        Ok(self.inner.store.mark_webhook_delivered(id, self.now_ms()).await?)
    }

    /// Records a failed delivery: retry at `next_attempt_ms`, or give up (`None`, e.g. after
    /// `webhooks.retry_hours`).
    pub async fn reschedule_webhook(
        &self,
        id: OutboxId,
        next_attempt_ms: Option<i64>,
        error: String,
    ) -> AppResult<()> {
        Ok(self
            .inner
            .store
            .reschedule_webhook(id, next_attempt_ms, error, self.now_ms())
            .await?)
    }

    // ---- audit ----

    /// Appends to the audit log; failures are logged, never fail the caller's action.
    pub async fn audit(
        &self,
        actor: Option<&Principal>,
        account_id: Option<AccountId>,
        source_ip: Option<String>,
        action: &str,
        details: Option<String>,
    ) {
        let entry = NewAuditEntry {
            actor: actor.map(|p| p.login.clone()),
            account_id,
            source_ip,
            action: action.to_owned(),
            details,
        };
        if let Err(e) = self.inner.store.audit(entry, self.now_ms()).await {
            tracing::error!(error = %e, action, "cannot write the audit log");
        }
    }

    /// The audit log, newest first (admin only); `before` is an entry id cursor.
    pub async fn audit_log(
        &self,
        who: &Principal,
        before: Option<i64>,
        limit: u32,
    ) -> AppResult<Vec<AuditEntry>> {
        who.require_admin()?;
        Ok(self.inner.store.audit_log(before, limit.clamp(1, 1000)).await?)
    }

    /// Operators only: fails with `Forbidden` for clients (for surfaces that gate whole pages).
    pub fn require_operator(&self, who: &Principal) -> AppResult<()> {
        who.require_operator()
    }
}

/// Longest login.
const MAX_LOGIN: usize = 64;

fn check_login(login: &str) -> AppResult<()> {
    if login.is_empty() || login.len() > MAX_LOGIN {
        return Err(AppError::validation(
            "login",
            format!("must be 1 to {MAX_LOGIN} characters"),
        ));
    }
    if !login
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"._-@".contains(&b))
    {
        return Err(AppError::validation(
            "login",
            "may contain only letters, digits and . _ - @",
        ));
    }
    Ok(())
}

/// Hides SIM identities from clients.
fn redact_modem(m: &mut ModemRecord) {
    if let Some(state) = m.state.as_object_mut() {
        for key in ["imsi", "iccid", "own_number", "last_error"] {
            state.remove(key);
        }
    }
}

#[cfg(test)]
mod tests;
