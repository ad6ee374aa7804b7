//! Data retention and the client's own data: the hourly purge of data older than `retention.days` (audit
//! entries: `retention.audit_days`), followed by giving the freed space back to the file system in small
//! steps; the retention periods an admin may change at run time (validated, audited, kept in the
//! database so they survive restarts and travel with backups); and the machine-readable export a client
//! may take before asking for deletion.
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Mutex, RwLock};
use std::time::Duration;

use serde::Serialize;
use time::OffsetDateTime;
use tracing::{info, warn};

use super::{
    Account, AccountId, ApiToken, AppError, AppResult, Gateway, InboxFilter, InboxMessage, MessageDetail,
    MessageFilter, Principal, Webhook,
};
use crate::config::{ConfigError, RetentionSettings};
use crate::store::{Purged, Scope, Space, Store, VACUUM_STEP_PAGES};

/// How often the retention sweep runs.
pub const RETENTION_INTERVAL: Duration = Duration::from_secs(3600);
const DAY_MS: i64 = 86_400_000;
/// Key of the retention periods among the run-time settings.
const RETENTION_KEY: &str = "retention";
/// Upper bound of incremental-vacuum steps after one purge (8 GiB at 4 KiB pages): the loop ends even if
/// another writer keeps freeing pages meanwhile; the next sweep continues.
const MAX_VACUUM_STEPS: u32 = 4096;

/// The retention periods in force and what the sweep did last.
#[derive(Debug)]
pub(crate) struct RetentionState {
    current: RwLock<RetentionSettings>,
    /// When the next sweep is due (unix ms).
    next_purge_ms: AtomicI64,
    last: Mutex<Option<LastPurge>>,
}

impl RetentionState {
    pub(crate) fn new(current: RetentionSettings) -> Self {
        RetentionState {
            current: RwLock::new(current),
            next_purge_ms: AtomicI64::new(0),
            last: Mutex::new(None),
        }
    }

    /// The config file's periods, replaced by those an admin saved at run time (if still valid).
    pub(crate) async fn load(store: &Store, from_config: &RetentionSettings) -> AppResult<Self> {
        let stored = store.runtime_setting(RETENTION_KEY).await?;
        let current = match stored.map(|json| serde_json::from_str::<RetentionSettings>(&json)) {
            None => from_config.clone(),
            Some(Ok(saved)) if saved.validate().is_ok() => {
                if &saved != from_config {
                    info!(
                        ?saved,
                        "retention periods set in the panel override the config file"
                    );
                }
                saved
            }
            Some(other) => {
                warn!(
                    ?other,
                    "stored retention periods unusable; the config file's apply"
                );
                from_config.clone()
            }
        };
        Ok(RetentionState::new(current))
    }
}

/// The last sweep that deleted something.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct LastPurge {
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    #[serde(skip)]
    pub purged: Purged,
    /// Pages handed back to the file system after it.
    pub pages_reclaimed: u64,
}

/// Retention as the panel shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetentionStatus {
    /// In force now.
    pub current: RetentionSettings,
    /// From the config file (what applies if the run-time values are reset).
    pub from_config: RetentionSettings,
    /// Days a backup is kept (`backup.keep_days`, capped at `retention.days`).
    pub backup_keep_days: u32,
    pub next_purge: OffsetDateTime,
    pub last_purge: Option<LastPurge>,
    pub space: Space,
}
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
    /// The retention periods in force (the config file's, or those an admin set at run time).
    pub fn retention(&self) -> RetentionSettings {
        self.inner
            .retention
            .current
            .read()
            .map(|r| r.clone())
            .unwrap_or_else(|p| p.into_inner().clone())
    }

    /// Days a backup is kept: `backup.keep_days`, capped at the retention period in force.
    pub fn backup_keep_days(&self) -> u32 {
        self.inner.settings.backup.keep_days.min(self.retention().days)
    }

    /// Retention periods, next sweep, last purge and database space: operators only.
    pub async fn retention_status(&self, who: &Principal) -> AppResult<RetentionStatus> {
        who.require_operator()?;
        let last_purge = self
            .inner
            .retention
            .last
            .lock()
            .map(|l| *l)
            .unwrap_or_else(|p| *p.into_inner());
        Ok(RetentionStatus {
            current: self.retention(),
            from_config: self.inner.settings.retention.clone(),
            backup_keep_days: self.backup_keep_days(),
            next_purge: crate::store::ms_to_datetime(
                self.inner.retention.next_purge_ms.load(Ordering::Relaxed),
            ),
            last_purge,
            space: self.inner.store.space().await?,
        })
    }

    /// Changes the retention periods at run time: admins only, validated like the config file (the error
    /// names the key), saved in the database (it outlives restarts and travels with backups) and audited
    /// with the old and new values. Takes effect at the next sweep.
    pub async fn set_retention(
        &self,
        who: &Principal,
        new: RetentionSettings,
        source_ip: Option<String>,
    ) -> AppResult<()> {
        who.require_admin()?;
        new.validate().map_err(|e| match e {
            ConfigError::Invalid { key, message } => AppError::validation(&key, message),
            other => AppError::validation("retention", other.to_string()),
        })?;
        let old = self.retention();
        let json = serde_json::to_string(&new).map_err(|e| AppError::Internal(e.to_string()))?;
        self.inner
            .store
            .put_runtime_setting(RETENTION_KEY, json, Some(who.login.clone()), self.now_ms())
            .await?;
        let details = format!(
            "days={}->{} audit_days={}->{} deletion_grace_hours={}->{}",
            old.days,
            new.days,
            old.audit_days,
            new.audit_days,
            old.deletion_grace_hours,
            new.deletion_grace_hours
        );
        match self.inner.retention.current.write() {
            Ok(mut r) => *r = new,
            Err(p) => *p.into_inner() = new,
        }
        info!(%details, "retention periods changed");
        self.audit(Some(who), None, source_ip, "retention.changed", Some(details))
            .await;
        Ok(())
    }

    /// Deletes data older than `retention.days` and audit entries older than `retention.audit_days` now
    /// (also run hourly in the background), then gives the freed pages back to the file system. The
    /// counts go to the audit log (`retention.purged`).
    pub async fn purge_expired_data(&self) -> AppResult<Purged> {
        let periods = self.retention();
        let now = self.now_ms();
        let cutoff = now - i64::from(periods.days) * DAY_MS;
        let audit_cutoff = now - i64::from(periods.audit_days) * DAY_MS;
        let mut purged = self.inner.store.purge_older_than(cutoff).await?;
        purged.audit_entries = self.inner.store.purge_audit_older_than(audit_cutoff).await?;
        if purged != Purged::default() {
            info!(?purged, "retention: old data deleted");
            let pages_reclaimed = self.reclaim_space().await;
            self.audit(
                None,
                None,
                None,
                "retention.purged",
                Some(format!(
                    "cutoff={cutoff} messages={} inbox={} reports={} webhook_events={} idempotency_keys={} \
                     fragments={} audit_cutoff={audit_cutoff} audit_entries={} pages_reclaimed={pages_reclaimed}",
                    purged.messages,
                    purged.inbox,
                    purged.reports,
                    purged.webhook_events,
                    purged.idempotency_keys,
                    purged.fragments,
                    purged.audit_entries,
                )),
            )
            .await;
            // Purged rows are overwritten in their pages (secure_delete); the checkpoint also drops the
            // WAL's older copies of those pages and lets the file shrink to what the vacuum left.
            self.checkpoint().await;
            let last = LastPurge {
                at: crate::store::ms_to_datetime(now),
                purged,
                pages_reclaimed,
            };
            match self.inner.retention.last.lock() {
                Ok(mut l) => *l = Some(last),
                Err(p) => *p.into_inner() = Some(last),
            }
        }
        Ok(purged)
    }

    /// Hands free pages back to the file system in steps of [`VACUUM_STEP_PAGES`], each its own short
    /// write job, so messages submitted meanwhile commit between the steps. Returns the pages reclaimed.
    pub async fn reclaim_space(&self) -> u64 {
        let store = &self.inner.store;
        let Ok(before) = store.space().await else {
            return 0;
        };
        if before.auto_vacuum != 2 {
            // Not converted (the one-time VACUUM failed): freed pages stay on the free list for reuse.
            return 0;
        }
        let mut left = before.free_pages;
        for _ in 0..MAX_VACUUM_STEPS {
            if left == 0 {
                break;
            }
            match store.reclaim_free_pages(VACUUM_STEP_PAGES).await {
                Ok(n) => left = n,
                Err(e) => {
                    warn!(error = %e, "incremental vacuum failed");
                    break;
                }
            }
            tokio::task::yield_now().await;
        }
        before.free_pages.saturating_sub(left)
    }

    /// Starts the hourly retention sweep; it stops with the gateway.
    pub(crate) fn spawn_retention(&self) {
        let gw = self.clone();
        let stop = self.inner.inbound.stop.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(RETENTION_INTERVAL);
            gw.inner
                .retention
                .next_purge_ms
                .store(gw.now_ms(), Ordering::Relaxed);
            loop {
                tokio::select! {
                    _ = tick.tick() => {
                        // The tick and the stop may be ready together: a closing gateway sweeps nothing.
                        if stop.is_cancelled() {
                            break;
                        }
                        gw.inner.retention.next_purge_ms.store(
                            gw.now_ms() + RETENTION_INTERVAL.as_millis() as i64,
                            Ordering::Relaxed,
                        );
                        if let Err(e) = gw.purge_expired_data().await {
                            warn!(error = %e, "retention sweep failed");
                        }
                        // Backups leave with the data they hold, also when none are being taken.
                        if let Err(e) = gw.expire_backups_now().await {
                            warn!(error = %e, "backup expiry failed");
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::{Role, SubmitRequest};
    use crate::clock::Clock;
    use crate::config::Settings;

    async fn open(settings: &Settings, at_ms: i64) -> Gateway {
        Gateway::open_with_clock(settings.clone(), Clock::tokio_at(at_ms))
            .await
            .unwrap()
            .0
    }

    fn periods(days: u32, audit_days: u32, grace: u32) -> RetentionSettings {
        RetentionSettings {
            days,
            audit_days,
            deletion_grace_hours: grace,
        }
    }

    /// Audit entries live `audit_days`, messages `days`; both counts land in one audit entry.
    #[tokio::test]
    async fn audit_entries_outlive_messages_and_their_purge_is_counted() {
        let dir = tempfile::tempdir().unwrap();
        let mut settings = Settings::default_with_data_dir(dir.path());
        settings.retention = periods(2, 5, 0);
        let t0 = crate::store::now_ms();
        let gw = open(&settings, t0).await;
        let a = gw
            .create_account(None, "a", "h".into(), Role::Client)
            .await
            .unwrap();
        let who = Principal::of(&a);
        let m = gw
            .submit(&who, SubmitRequest::new(vec!["+48600100200".into()], "old"), None)
            .await
            .unwrap();
        gw.cancel_message(&who, m[0].id).await.unwrap();
        gw.audit(Some(&who), None, None, "test.marker", None).await;
        gw.shutdown().await;

        // Three days on: the message is past `days`, the audit entries are not past `audit_days`.
        let gw = open(&settings, t0 + 3 * DAY_MS).await;
        let purged = gw.purge_expired_data().await.unwrap();
        assert_eq!((purged.messages, purged.audit_entries), (1, 0));
        let log = gw.store().audit_log(None, 100).await.unwrap();
        assert!(log.iter().any(|e| e.action == "test.marker"));
        gw.shutdown().await;

        // Six days on: the early audit entries go too, and the purge says how many.
        let gw = open(&settings, t0 + 6 * DAY_MS).await;
        let purged = gw.purge_expired_data().await.unwrap();
        assert!(purged.audit_entries >= 2, "{purged:?}");
        let log = gw.store().audit_log(None, 100).await.unwrap();
        assert!(!log.iter().any(|e| e.action == "test.marker"));
        let entry = log.iter().find(|e| e.action == "retention.purged").unwrap();
        let details = entry.details.as_deref().unwrap();
        assert!(
            details.contains(&format!("audit_entries={}", purged.audit_entries)),
            "{details}"
        );
        gw.shutdown().await;
    }

    /// Admins change the periods at run time: validated with the key named, audited, kept across a
    /// restart; others may not.
    #[tokio::test]
    async fn retention_periods_change_at_run_time() {
        let dir = tempfile::tempdir().unwrap();
        let settings = Settings::default_with_data_dir(dir.path());
        let gw = open(&settings, crate::store::now_ms()).await;
        let admin = Principal::of(
            &gw.create_account(None, "root", "h".into(), Role::Admin)
                .await
                .unwrap(),
        );
        let tech = Principal::of(
            &gw.create_account(None, "tech", "h".into(), Role::Technician)
                .await
                .unwrap(),
        );
        assert_eq!(gw.retention(), settings.retention);
        assert!(matches!(
            gw.set_retention(&tech, periods(10, 20, 0), None).await,
            Err(AppError::Forbidden(_))
        ));
        for (bad, key) in [
            (periods(0, 20, 0), "retention.days"),
            (periods(30, 20, 0), "retention.audit_days"),
            (periods(30, 40, 10_000), "retention.deletion_grace_hours"),
        ] {
            match gw.set_retention(&admin, bad.clone(), None).await {
                Err(AppError::Validation { field, .. }) => assert_eq!(field, key, "{bad:?}"),
                other => panic!("{bad:?}: {other:?}"),
            }
        }
        assert_eq!(
            gw.retention(),
            settings.retention,
            "refused changes change nothing"
        );
        gw.set_retention(&admin, periods(365, 3650, 24), Some("192.0.2.7".into()))
            .await
            .unwrap();
        assert_eq!(gw.retention(), periods(365, 3650, 24));
        assert_eq!(gw.backup_keep_days(), 365, "backups never outlive retention");
        let status = gw.retention_status(&tech).await.unwrap();
        assert_eq!(status.current, periods(365, 3650, 24));
        assert_eq!(status.from_config, settings.retention);
        let log = gw.store().audit_log(None, 10).await.unwrap();
        let entry = log.iter().find(|e| e.action == "retention.changed").unwrap();
        assert_eq!(entry.actor.as_deref(), Some("root"));
        assert_eq!(entry.source_ip.as_deref(), Some("192.0.2.7"));
        assert!(entry.details.as_deref().unwrap().contains("days=730->365"));
        gw.shutdown().await;

        let gw = open(&settings, crate::store::now_ms()).await;
        assert_eq!(gw.retention(), periods(365, 3650, 24), "kept across a restart");
        gw.shutdown().await;
    }

    /// Backups past the backup period go with the hourly sweep even when no new backup is taken, and the
    /// period follows the retention period set at run time.
    #[tokio::test]
    async fn backups_expire_with_the_retention_period() {
        let dir = tempfile::tempdir().unwrap();
        let mut settings = Settings::default_with_data_dir(dir.path());
        settings.backup.interval_hours = 0;
        let gw = open(&settings, crate::store::now_ms()).await;
        let admin = Principal::of(
            &gw.create_account(None, "root", "h".into(), Role::Admin)
                .await
                .unwrap(),
        );
        let key = crate::app::backup::configured_key(&settings).unwrap();
        let now = OffsetDateTime::now_utc();
        let old =
            crate::app::backup::create_backup(&settings, &key, None, now - time::Duration::days(40)).unwrap();
        let young =
            crate::app::backup::create_backup(&settings, &key, None, now - time::Duration::days(5)).unwrap();
        assert!(
            gw.expire_backups_now().await.unwrap().is_empty(),
            "730 days by default"
        );
        gw.set_retention(&admin, periods(30, 1825, 0), None)
            .await
            .unwrap();
        assert_eq!(gw.expire_backups_now().await.unwrap(), vec![old.path.clone()]);
        assert!(!old.path.exists() && young.path.exists());
        let log = gw.store().audit_log(None, 10).await.unwrap();
        assert!(log.iter().any(|e| e.action == "backup.expired"));
        gw.shutdown().await;
    }

    /// A large purge runs as many small jobs: messages submitted meanwhile are accepted (committed) while
    /// it is still running, not after it.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sending_continues_during_a_large_purge() {
        let dir = tempfile::tempdir().unwrap();
        let mut settings = Settings::default_with_data_dir(dir.path());
        settings.retention = periods(1, 1825, 0);
        // The gateway's own sweep sees nothing to purge (its clock is 10 days back).
        let gw = open(&settings, crate::store::now_ms() - 10 * DAY_MS).await;
        let a = gw
            .create_account(None, "a", "h".into(), Role::Client)
            .await
            .unwrap();
        let old = crate::store::now_ms() - 5 * DAY_MS;
        gw.store()
            .write(move |c| {
                let mut stmt = c.prepare(
                    "INSERT INTO messages (id, account_id, recipient, text, encoding, status, parts, created_at,
                         updated_at) VALUES (?1, ?2, '+48600100200', 'old', 'gsm7', 'delivered', 1, ?3, ?3)",
                )?;
                for i in 0..20_000 {
                    stmt.execute(rusqlite::params![format!("old-{i:06}"), a.id.0, old])?;
                }
                Ok(())
            })
            .await
            .unwrap();
        let purge = {
            let store = gw.store().clone();
            tokio::spawn(async move { store.purge_older_than(crate::store::now_ms() - DAY_MS).await })
        };
        let who = Principal::of(&a);
        let mut accepted_during = 0;
        while !purge.is_finished() {
            gw.submit(&who, SubmitRequest::new(vec!["+48600100201".into()], "new"), None)
                .await
                .unwrap();
            if !purge.is_finished() {
                accepted_during += 1;
            }
        }
        let purged = purge.await.unwrap().unwrap();
        assert_eq!(purged.messages, 20_000);
        assert!(
            accepted_during >= 3,
            "only {accepted_during} submits committed during the purge"
        );
        gw.shutdown().await;
    }
}
