//! Gateway operations needed by the HTTP surfaces beyond the core ones: an all-or-nothing batch submit
//! (REST `{"messages": [...]}`) and the Kannel shim's submit, which remembers each message's `dlr-url`.
use sha2::{Digest, Sha256};

use super::submit::{self, SubmitRequest};
use super::{AppError, Gateway, Principal};
use crate::dispatch::core::Job;
use crate::store::{self, Message};

/// A batch item failed validation (`index` names it; `None` for errors of the whole request).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchError {
    pub index: Option<usize>,
    pub error: AppError,
}

impl From<AppError> for BatchError {
    fn from(error: AppError) -> Self {
        BatchError { index: None, error }
    }
}

/// A Kannel `dlr-url` subscription for the messages of one sendsms request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KannelDlr {
    pub url: String,
    /// Kannel DLR type bits wanted (1 delivered, 2 undelivered, 4 buffered, 8 SMSC ok, 16 SMSC reject).
    pub mask: u8,
    /// `from` as given (for `%P`).
    pub sender: Option<String>,
}

impl Gateway {
    /// Accepts several sends at once: every request is validated first; then all messages are stored in
    /// one transaction and queued, or — on any error — none is. With an idempotency key, a repeat of the
    /// same batch returns the same messages.
    pub async fn submit_batch(
        &self,
        who: &Principal,
        requests: Vec<SubmitRequest>,
        idempotency_key: Option<&str>,
    ) -> Result<Vec<Message>, BatchError> {
        let key = match idempotency_key {
            Some(k) => {
                submit::check_idempotency_key(k)?;
                let mut hash = Sha256::new();
                for r in &requests {
                    hash.update(r.fingerprint().as_bytes());
                }
                Some(store::IdempotencyKey {
                    key: k.to_owned(),
                    request_hash: hex::encode(hash.finalize()),
                })
            }
            None => None,
        };
        let now = self.now_ms();
        let routes = self.live_route_rules();
        let mut all = Vec::new();
        for (index, request) in requests.iter().enumerate() {
            let prepared = submit::prepare(&self.inner.settings, &routes, &who.login, request, now).map_err(
                |error| BatchError {
                    index: Some(index),
                    error,
                },
            )?;
            all.extend(prepared.messages);
        }
        let submitted = self
            .inner
            .store
            .submit(who.account_id, key, all, now)
            .await
            .map_err(AppError::from)?;
        self.enqueue_submitted(who, submitted)
            .await
            .map_err(BatchError::from)
    }

    /// Kannel `sendsms`: [`Gateway::submit`] plus the message's `dlr-url` subscription, stored in the same
    /// transaction as the messages.
    pub async fn submit_kannel(
        &self,
        who: &Principal,
        request: SubmitRequest,
        dlr: Option<KannelDlr>,
    ) -> Result<Vec<Message>, AppError> {
        let now = self.now_ms();
        let routes = self.live_route_rules();
        let prepared = submit::prepare(&self.inner.settings, &routes, &who.login, &request, now)?;
        let dlr = dlr.map(|d| store::NewKannelDlr {
            url: d.url,
            mask: d.mask,
            sender: d.sender,
        });
        let submitted = self
            .inner
            .store
            .submit_with_dlr(who.account_id, prepared.messages, dlr, now)
            .await?;
        self.enqueue_submitted(who, submitted).await
    }

    /// Hands newly created messages to the dispatcher, or reads back the ones an idempotency key replays.
    pub(super) async fn enqueue_submitted(
        &self,
        who: &Principal,
        submitted: store::Submitted,
    ) -> Result<Vec<Message>, AppError> {
        match submitted {
            store::Submitted::Created(messages) if self.in_cluster() => {
                // The shared queue hands the messages to whichever node claims them first; this node
                // looks at once.
                self.nudge_cluster();
                Ok(messages)
            }
            store::Submitted::Created(messages) => {
                let jobs = messages
                    .iter()
                    .map(|m| Job {
                        id: m.id,
                        account: m.account_id,
                        priority: m.priority,
                        group: m.group.clone(),
                        parts: m.parts,
                        send_at: m.send_at.map(store::datetime_to_ms).unwrap_or(0),
                        valid_until: m.valid_until.map(store::datetime_to_ms),
                        attempts: 0,
                        retry_at: 0,
                        avoid: Vec::new(),
                        pinned: None,
                    })
                    .collect();
                self.inner.dispatcher.enqueue(jobs);
                Ok(messages)
            }
            store::Submitted::Replayed(ids) => Ok(self
                .inner
                .store
                .messages_by_ids(store::Scope::Account(who.account_id), ids)
                .await?),
        }
    }
}
