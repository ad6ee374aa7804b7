//! Data retention and the client's own data: the daily purge of data older than `retention.days`, and
//! the machine-readable export a client may take before asking for deletion.
use std::time::Duration;

use serde::Serialize;
use time::OffsetDateTime;
use tracing::{info, warn};

use super::{
    Account, AccountId, ApiToken, AppError, AppResult, Gateway, InboxFilter, InboxMessage, MessageDetail,
    MessageFilter, Principal, Webhook,
};
use crate::store::{Purged, Scope};

/// How often the retention sweep runs.
pub const RETENTION_INTERVAL: Duration = Duration::from_secs(3600);
const DAY_MS: i64 = 86_400_000;
/// Page size when collecting an export.
const EXPORT_PAGE: u32 = 500;

/// Everything stored for one account, as JSON.
#[derive(Debug, Clone, Serialize)]
pub struct AccountExport {
    #[serde(with = "time::serde::rfc3339")]
    pub exported_at: OffsetDateTime,
    pub account: Account,
    pub messages: Vec<MessageDetail>,
    pub inbox: Vec<InboxMessage>,
    pub tokens: Vec<ApiToken>,
    pub webhooks: Vec<Webhook>,
}

impl Gateway {
    /// Deletes data older than `retention.days` now (also run hourly in the background).
    pub async fn purge_expired_data(&self) -> AppResult<Purged> {
        let cutoff = self.now_ms() - i64::from(self.inner.settings.retention.days) * DAY_MS;
        let purged = self.inner.store.purge_older_than(cutoff).await?;
        if purged != Purged::default() {
            info!(?purged, "retention: old data deleted");
            self.audit(
                None,
                None,
                None,
                "retention.purged",
                Some(format!(
                    "cutoff={cutoff} messages={} inbox={} reports={} webhook_events={} idempotency_keys={} \
                     fragments={}",
                    purged.messages,
                    purged.inbox,
                    purged.reports,
                    purged.webhook_events,
                    purged.idempotency_keys,
                    purged.fragments
                )),
            )
            .await;
            // Purged rows are overwritten in their pages (secure_delete); the checkpoint also drops the
            // WAL's older copies of those pages.
            self.checkpoint().await;
        }
        Ok(purged)
    }

    /// Starts the hourly retention sweep; it stops with the gateway.
    pub(crate) fn spawn_retention(&self) {
        let gw = self.clone();
        let stop = self.inner.inbound.stop.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(RETENTION_INTERVAL);
            loop {
                tokio::select! {
                    _ = tick.tick() => {
                        if let Err(e) = gw.purge_expired_data().await {
                            warn!(error = %e, "retention sweep failed");
                        }
                        // Deletion requests queued by the CLI while the service runs.
                        if let Err(e) = gw.run_due_deletions().await {
                            warn!(error = %e, "deletion sweep failed");
                        }
                    }
                    _ = stop.cancelled() => break,
                }
            }
        });
    }

    /// All data of an account, machine-readable: the account itself or an admin.
    pub async fn export_account(&self, who: &Principal, id: AccountId) -> AppResult<AccountExport> {
        if who.account_id != id {
            who.require_admin()?;
        }
        let store = &self.inner.store;
        let account = store.account(id).await?.ok_or(AppError::NotFound("account"))?;
        let scope = Scope::Account(id);
        let mut messages = Vec::new();
        let mut before = None;
        loop {
            let page = store
                .list_messages(
                    scope,
                    MessageFilter {
                        before,
                        limit: EXPORT_PAGE,
                        ..Default::default()
                    },
                )
                .await?;
            for m in &page.items {
                if let Some(d) = store.message_detail(scope, m.id).await? {
                    messages.push(d);
                }
            }
            match page.next_cursor.and_then(|c| c.parse().ok()) {
                Some(c) => before = Some(c),
                None => break,
            }
        }
        let mut inbox = Vec::new();
        let mut before = None;
        loop {
            let page = store
                .inbox(
                    scope,
                    InboxFilter {
                        before,
                        limit: EXPORT_PAGE,
                        ..Default::default()
                    },
                )
                .await?;
            inbox.extend(page.items);
            match page.next_cursor.and_then(|c| c.parse().ok()) {
                Some(c) => before = Some(c),
                None => break,
            }
        }
        let export = AccountExport {
            exported_at: crate::store::ms_to_datetime(self.now_ms()),
            account,
            messages,
            inbox,
            tokens: store.tokens(id).await?,
            webhooks: store.webhooks(id).await?,
        };
        self.audit(Some(who), Some(id), None, "account.exported", None)
            .await;
        Ok(export)
    }
}
