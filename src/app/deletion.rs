//! Deletion of an account's data on request (the client's own, or an admin's): the request is audited
//! (who, when, from where), waits `retention.deletion_grace_hours` during which the client may cancel it,
//! and is then carried out by a scheduled task: the account's queued messages are cancelled first, then
//! everything of the account is physically deleted in small batches (sending of other accounts goes on
//! between them), its uploaded files are removed, and the WAL is checkpointed so no copy of the deleted
//! rows is left in the database files. What remains is the audit log and an anonymous tombstone.
//!
//! The same entry points serve every surface: REST, SOAP and the panel call
//! [`Gateway::request_account_deletion`], [`Gateway::cancel_account_deletion`] and
//! [`Gateway::account_deletion`]; the CLI calls [`Gateway::erase_account_now`].
use std::time::Duration;

use serde::Serialize;
use tracing::{info, warn};

use super::{AccountId, AppError, AppResult, Gateway, Principal};
use crate::store::{DeletionRequest, Erased, ErasureStep, NewDeletionRequest};

/// How often requests recorded by another process (the CLI while the service runs) are looked for: with
/// the retention sweep. Requests made through the gateway wake the scheduler directly.
pub const DELETION_INTERVAL: Duration = super::retention::RETENTION_INTERVAL;
/// Rows deleted per write job: small enough that other accounts' writes wait only milliseconds.
pub const ERASE_BATCH: u32 = 500;
/// How long an immediate erasure waits for the account's in-flight sends before leaving the rest to the
/// scheduler.
const INLINE_WAIT: Duration = Duration::from_secs(5);
/// Pause between checks for in-flight sends.
const SEND_POLL: Duration = Duration::from_millis(100);
const HOUR_MS: i64 = 3_600_000;
/// Attempts at a complete WAL checkpoint (a reader in the middle of a query blocks it briefly).
const CHECKPOINT_TRIES: u32 = 20;

/// Accounts erased since the service started: surfaces check it to refuse a login answered from a
/// credential cache for an account that no longer exists.
#[derive(Debug, Default)]
pub(crate) struct ErasedAccounts(
    std::sync::RwLock<std::collections::HashSet<AccountId>>,
    /// Wakes the scheduler when a request with a grace period is recorded.
    tokio::sync::Notify,
);

/// Answer to a deletion request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeletionAccepted {
    /// The recorded request.
    pub request: DeletionRequest,
    /// True when the data is already gone (no grace period); otherwise it goes at `execute_after`.
    pub erased: bool,
}

impl Gateway {
    /// Asks for all data of account `id` to be deleted: the account itself or an admin. The request is
    /// audited with `source_ip`; it runs after `retention.deletion_grace_hours` (at once when 0, or when an
    /// admin asks for another account).
    pub async fn request_account_deletion(
        &self,
        who: &Principal,
        id: AccountId,
        source_ip: Option<String>,
    ) -> AppResult<DeletionAccepted> {
        let own = who.account_id == id;
        if !own {
            who.require_admin()?;
        }
        let grace_ms = if own {
            i64::from(self.retention().deletion_grace_hours) * HOUR_MS
        } else {
            0
        };
        self.record_and_maybe_erase(who, id, source_ip, grace_ms).await
    }

    /// Deletes all data of account `id` now, without a grace period: the account itself (confirming in the
    /// panel) or an admin.
    pub async fn delete_account(&self, who: &Principal, id: AccountId) -> AppResult<()> {
        if who.account_id != id {
            who.require_admin()?;
        }
        let accepted = self.record_and_maybe_erase(who, id, None, 0).await?;
        if !accepted.erased {
            info!(
                account = id.0,
                "erasure waits for sends in progress; the scheduler finishes it"
            );
        }
        Ok(())
    }

    async fn record_and_maybe_erase(
        &self,
        who: &Principal,
        id: AccountId,
        source_ip: Option<String>,
        grace_ms: i64,
    ) -> AppResult<DeletionAccepted> {
        let accounts = self.inner.store.accounts().await?;
        let admins = accounts.iter().filter(|a| a.role == super::Role::Admin).count();
        if admins == 1
            && accounts
                .iter()
                .any(|a| a.id == id && a.role == super::Role::Admin)
        {
            return Err(AppError::Conflict(
                "the last admin account cannot be deleted (create another admin first)".into(),
            ));
        }
        let now = self.now_ms();
        let request = self
            .inner
            .store
            .request_deletion(NewDeletionRequest {
                account_id: id,
                requested_by: Some(who.login.clone()),
                source_ip: source_ip.clone(),
                requested_at: now,
                execute_after: now + grace_ms,
            })
            .await?
            .ok_or(AppError::NotFound("account"))?;
        self.audit(
            Some(who),
            Some(id),
            source_ip,
            "account.deletion_requested",
            Some(format!(
                "execute_after={}",
                crate::store::datetime_to_ms(request.execute_after)
            )),
        )
        .await;
        let erased = if grace_ms == 0 {
            self.erase_account_now(id, INLINE_WAIT).await?.is_some()
        } else {
            self.inner.erased.1.notify_one();
            false
        };
        Ok(DeletionAccepted { request, erased })
    }

    /// Withdraws the pending deletion request of account `id` (the account itself or an admin). Fails with
    /// `NotFound` when there is none (never asked, or already carried out).
    pub async fn cancel_account_deletion(
        &self,
        who: &Principal,
        id: AccountId,
        source_ip: Option<String>,
    ) -> AppResult<()> {
        if who.account_id != id {
            who.require_admin()?;
        }
        if !self.inner.store.cancel_deletion(id).await? {
            return Err(AppError::NotFound("deletion request"));
        }
        self.audit(Some(who), Some(id), source_ip, "account.deletion_cancelled", None)
            .await;
        Ok(())
    }

    /// The pending deletion request of account `id`, if any (the account itself or an admin).
    pub async fn account_deletion(
        &self,
        who: &Principal,
        id: AccountId,
    ) -> AppResult<Option<DeletionRequest>> {
        if who.account_id != id {
            who.require_admin()?;
        }
        Ok(self.inner.store.deletion_request(id).await?)
    }

    /// Carries out the erasure of account `id` now: cancels its queued messages, deletes everything in
    /// batches, removes its files, writes the tombstone and the audit entry with the counts, checkpoints
    /// the WAL. Waits up to `wait_for_sends` for messages a modem is sending; returns `None` if some are
    /// still in flight then (a later call finishes the job), or if the account does not exist.
    pub async fn erase_account_now(
        &self,
        id: AccountId,
        wait_for_sends: Duration,
    ) -> AppResult<Option<Erased>> {
        let store = &self.inner.store;
        let cancelled = store.cancel_queued_of_account(id, self.now_ms()).await?;
        for m in &cancelled {
            self.inner.dispatcher.cancel(*m);
        }
        let deadline = tokio::time::Instant::now() + wait_for_sends;
        let mut erased = Erased::default();
        loop {
            match store.erase_account_step(id, ERASE_BATCH, self.now_ms()).await? {
                ErasureStep::Deleted { table, count } => match table {
                    "messages" => erased.messages += count,
                    "inbox" => erased.inbox += count,
                    _ => erased.webhook_events += count,
                },
                ErasureStep::WaitingForSends(n) => {
                    if tokio::time::Instant::now() >= deadline {
                        info!(
                            account = id.0,
                            in_flight = n,
                            "erasure waits for sends in progress"
                        );
                        return Ok(None);
                    }
                    tokio::time::sleep(SEND_POLL).await;
                }
                ErasureStep::Finished { rows } => {
                    erased.other_rows += rows;
                    break;
                }
                ErasureStep::NoAccount => return Ok(None),
            }
        }
        if let Ok(mut set) = self.inner.erased.0.write() {
            set.insert(id);
        }
        self.remove_account_files(id).await;
        info!(account = id.0, ?erased, "account data erased");
        self.audit(
            None,
            Some(id),
            None,
            "account.erased",
            Some(format!(
                "messages={} inbox={} webhook_events={} other_rows={} cancelled_queued={}",
                erased.messages,
                erased.inbox,
                erased.webhook_events,
                erased.other_rows,
                cancelled.len()
            )),
        )
        .await;
        self.reclaim_space().await;
        self.checkpoint().await;
        Ok(Some(erased))
    }

    /// True when account `id` was erased while this gateway runs (a cached login for it must be refused).
    pub fn was_erased(&self, id: AccountId) -> bool {
        self.inner
            .erased
            .0
            .read()
            .map(|s| s.contains(&id))
            .unwrap_or(false)
    }

    /// Removes `<data_dir>/accounts/<id>` (uploaded certificates and other files of the account).
    async fn remove_account_files(&self, id: AccountId) {
        let dir = self.inner.settings.account_files_dir(id.0);
        match tokio::fs::remove_dir_all(&dir).await {
            Ok(()) => info!(account = id.0, "account files removed"),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => warn!(account = id.0, error = %e, "cannot remove the account's files"),
        }
    }

    /// Empties the WAL into the database file so deleted rows leave no old copies in it.
    pub(crate) async fn checkpoint(&self) {
        for _ in 0..CHECKPOINT_TRIES {
            match self.inner.store.checkpoint_truncate().await {
                Ok(true) => return,
                Ok(false) => tokio::time::sleep(SEND_POLL).await,
                Err(e) => {
                    warn!(error = %e, "WAL checkpoint failed");
                    return;
                }
            }
        }
        warn!("WAL checkpoint kept being blocked by readers; the next one completes it");
    }

    /// Carries out every deletion request whose grace period has ended; returns how many finished.
    pub async fn run_due_deletions(&self) -> AppResult<usize> {
        let due = self.inner.store.due_deletions(self.now_ms()).await?;
        let mut done = 0;
        for request in due {
            if self
                .erase_account_now(request.account_id, Duration::ZERO)
                .await?
                .is_some()
            {
                done += 1;
            }
        }
        Ok(done)
    }

    /// Starts the scheduler of deletion requests; it stops with the gateway. It sleeps until the earliest
    /// pending request is due and wakes when a request is recorded here. Requests queued by
    /// `smsgate account delete-data` from another process are picked up by the hourly retention sweep.
    /// With nothing pending it holds no timer at all.
    pub(crate) fn spawn_deletions(&self) {
        let gw = self.clone();
        let stop = self.inner.inbound.stop.clone();
        tokio::spawn(async move {
            let mut next_due: Option<i64> = None;
            loop {
                let wake = gw.inner.erased.1.notified();
                match next_due {
                    Some(at) => {
                        let ahead = (at - gw.now_ms()).max(0) as u64;
                        tokio::select! {
                            _ = tokio::time::sleep(Duration::from_millis(ahead)) => {
                                if let Err(e) = gw.run_due_deletions().await {
                                    warn!(error = %e, "deletion scheduler failed");
                                }
                            }
                            _ = wake => {}
                            _ = stop.cancelled() => break,
                        }
                    }
                    None => {
                        tokio::select! {
                            _ = wake => {}
                            _ = stop.cancelled() => break,
                        }
                    }
                }
                next_due = match gw.inner.store.next_deletion_due().await {
                    Ok(n) => n,
                    Err(e) => {
                        warn!(error = %e, "deletion scheduler cannot read pending requests");
                        None
                    }
                };
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::{Role, SubmitRequest};
    use crate::clock::Clock;
    use crate::config::Settings;

    const DAY_MS: i64 = 86_400_000;

    /// The retention purge removes old rows with their bytes, and says what it removed in the audit log.
    #[tokio::test]
    async fn retention_purge_overwrites_and_audits_counts() {
        let dir = tempfile::tempdir().unwrap();
        let mut settings = Settings::default_with_data_dir(dir.path());
        settings.retention.days = 1;
        let marker = format!("OLD-{}", uuid::Uuid::new_v4().simple());
        let (gw, _) = Gateway::open(settings.clone()).await.unwrap();
        let a = gw
            .create_account(None, "a", "h".into(), Role::Client)
            .await
            .unwrap();
        let who = Principal::of(&a);
        let m = gw
            .submit(
                &who,
                SubmitRequest::new(vec!["+48600100200".into()], &marker),
                None,
            )
            .await
            .unwrap();
        gw.cancel_message(&who, m[0].id).await.unwrap();
        gw.shutdown().await;

        // Two days later.
        let later = Clock::tokio_at(crate::store::now_ms() + 2 * DAY_MS);
        let (gw, _) = Gateway::open_with_clock(settings.clone(), later).await.unwrap();
        gw.purge_expired_data().await.unwrap();
        let log = gw.store().audit_log(None, 100).await.unwrap();
        let entry = log
            .iter()
            .find(|e| e.action == "retention.purged")
            .expect("the purge is audited");
        assert!(
            entry.details.as_deref().unwrap_or("").contains("messages=1"),
            "{entry:?}"
        );
        assert!(gw.store().checkpoint_truncate().await.unwrap());
        let db = std::fs::read(settings.database_path()).unwrap();
        assert!(
            memchr::memmem::find(&db, marker.as_bytes()).is_none(),
            "the purged text is still in the file"
        );
        assert!(
            gw.find_account(a.id).await.unwrap().is_some(),
            "accounts are not purged"
        );
        gw.shutdown().await;
    }
}
