//! The node's side of a multi-site cluster: it claims queued messages from the shared PostgreSQL queue
//! for its own modems and hands them to its dispatcher, renews its leases and heartbeat, and takes over
//! what dead nodes left `sending`.
//!
//! How much a node claims: up to `cluster.claim_batch` messages per ready modem, minus what its
//! dispatcher already holds. A node with more free modems therefore asks for more, which spreads the
//! load by capacity across the cluster (the least loaded node takes the next message), while a node
//! never hoards work another node's idle modems could send.
use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use tokio::sync::Notify;
use tracing::{debug, info, warn};

use super::Gateway;
use crate::dispatch::core::Job;
use crate::store::pg::PgStore;
use crate::store::pg::listen::Wakeup;

/// How often a node looks for claimable work between nudges (its own acceptances, other nodes' through
/// NOTIFY): bounds the delay when a notification was lost.
pub const CLAIM_POLL: Duration = Duration::from_millis(250);
/// Pause after a database error (PostgreSQL restarting or failing over to the standby).
const ERROR_PAUSE: Duration = Duration::from_secs(1);

/// Wakes the claimer at once (a message was accepted here, a modem became ready).
#[derive(Debug, Default)]
pub(crate) struct ClusterRuntime {
    pub(crate) nudge: Notify,
}

impl Gateway {
    /// Connects the shared store when `[cluster] enabled`; called by [`Gateway::open`] before anything
    /// touches the queue. `as_node`: this process is the node (not an administration command), so it
    /// registers in `cluster_nodes`.
    pub(crate) async fn connect_cluster(
        settings: &crate::config::Settings,
        store: &crate::store::Store,
        as_node: bool,
    ) -> super::AppResult<()> {
        if !settings.cluster.enabled {
            return Ok(());
        }
        let pg = PgStore::connect(settings).await.map_err(|e| {
            super::AppError::Unavailable(format!("cannot connect to the cluster database: {e}"))
        })?;
        if as_node {
            pg.register(crate::store::now_ms()).await?;
            info!(node = %settings.cluster.node_id, site = %settings.cluster.site, "joined the cluster");
        }
        store.attach_cluster(Arc::new(pg));
        Ok(())
    }

    /// Starts the claim / heartbeat / takeover loop when this node is part of a cluster.
    pub(crate) fn spawn_cluster(&self) {
        let Some(pg) = self.inner.store.cluster().cloned() else {
            return;
        };
        let gw = self.clone();
        let stop = self.inner.inbound.stop.clone();
        // Other nodes' acceptances and webhook events wake this node at once (LISTEN/NOTIFY); the
        // polls below stay as the fallback for a lost notification.
        let woken = self.clone();
        pg.spawn_listener(
            move |w| match w {
                Wakeup::Queue => woken.nudge_cluster(),
                Wakeup::Outbox => woken.inner.webhooks_due.notify_one(),
            },
            stop.clone(),
        );
        tokio::spawn(async move {
            let heartbeat = Duration::from_secs(gw.inner.settings.cluster.heartbeat_seconds);
            let mut beat = tokio::time::interval(heartbeat);
            beat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    _ = stop.cancelled() => break,
                    _ = beat.tick() => {
                        if let Err(e) = gw.cluster_heartbeat(&pg).await {
                            warn!(error = %e, "cluster heartbeat failed");
                            tokio::time::sleep(ERROR_PAUSE).await;
                        }
                    }
                    _ = gw.inner.cluster.nudge.notified() => {}
                    _ = tokio::time::sleep(CLAIM_POLL) => {}
                }
                if let Err(e) = gw.cluster_claim(&pg).await {
                    warn!(error = %e, "cannot claim work from the cluster queue");
                    tokio::time::sleep(ERROR_PAUSE).await;
                }
            }
            debug!("cluster loop stopped");
        });
    }

    /// Renews leases and the node's row, settles what dead nodes left `sending` and expires what nobody
    /// held past its validity.
    async fn cluster_heartbeat(&self, pg: &PgStore) -> crate::store::StoreResult<()> {
        let roster: Vec<_> = self
            .inner
            .dispatcher
            .modem_roster()
            .into_iter()
            .map(|(id, group, ready)| json!({"id": id.0, "group": group, "ready": ready}))
            .collect();
        let now = self.now_ms();
        pg.heartbeat(json!(roster), now).await?;
        let taken = pg
            .take_over_expired(self.inner.settings.dispatch.uncertain_policy, now)
            .await?;
        if !taken.uncertain.is_empty() || !taken.requeued.is_empty() {
            info!(
                uncertain = taken.uncertain.len(),
                requeued = taken.requeued.len(),
                "took over messages a lost node left while sending"
            );
            self.inner.webhooks_due.notify_one();
        }
        let expired = pg.expire_unclaimed(now).await?;
        if !expired.is_empty() {
            info!(
                count = expired.len(),
                "expired messages no node could send in time"
            );
            self.inner.webhooks_due.notify_one();
        }
        Ok(())
    }

    /// Claims work for this node's ready modems, up to its share, and queues it in the dispatcher.
    async fn cluster_claim(&self, pg: &PgStore) -> crate::store::StoreResult<()> {
        let roster = self.inner.dispatcher.modem_roster();
        let ready: Vec<_> = roster.iter().filter(|(_, _, ready)| *ready).collect();
        let per_modem = self.inner.settings.cluster.claim_batch as usize;
        let room = (ready.len() * per_modem).saturating_sub(self.inner.dispatcher.queued());
        if room == 0 {
            return Ok(());
        }
        let mut groups: Vec<String> = ready.iter().map(|(_, g, _)| g.clone()).collect();
        groups.sort();
        groups.dedup();
        let modems: Vec<String> = roster.iter().map(|(id, _, _)| id.0.clone()).collect();
        let now = self.now_ms();
        let horizon = i64::try_from(CLAIM_POLL.as_millis()).unwrap_or(0);
        let limit = u32::try_from(room).unwrap_or(u32::MAX);
        let rows = pg.claim(&groups, &modems, limit, now, horizon).await?;
        if rows.is_empty() {
            return Ok(());
        }
        debug!(claimed = rows.len(), "claimed from the cluster queue");
        self.inner
            .dispatcher
            .enqueue(rows.iter().map(Job::from_row).collect());
        Ok(())
    }

    /// Wakes the claimer (after an acceptance on this node).
    pub(crate) fn nudge_cluster(&self) {
        self.inner.cluster.nudge.notify_one();
    }

    /// Whether this node runs as part of a cluster.
    pub fn in_cluster(&self) -> bool {
        self.inner.store.cluster().is_some()
    }
}
