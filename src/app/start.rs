//! Starting and stopping the gateway core: store, crash recovery, dispatcher, modem event loop.
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Notify;
use tracing::info;

use super::events::InboundState;
use super::{AppError, AppResult, Gateway, Inner};
use crate::clock::Clock;
use crate::config::Settings;
use crate::dispatch::Dispatcher;
use crate::dispatch::core::Policy;
use crate::modem::ModemSender;
use crate::store::Store;

/// How long shutdown waits for sends under way before abandoning them (they become `uncertain`).
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// Background parts started with the gateway that the caller keeps alive and stops with it.
#[derive(Debug, Default)]
pub struct GatewayHandles {
    /// Messages found `sending` at start (left by a crash) and marked uncertain.
    pub recovered_uncertain: usize,
    /// Messages found `sending` at start and queued again (policy `resend`).
    pub recovered_requeued: usize,
    /// Queued messages loaded into the dispatcher at start.
    pub loaded: usize,
}

impl Gateway {
    /// Opens the gateway core without modems: the database (created and migrated as needed), crash
    /// recovery (`sending` → `uncertain` or re-queued, by policy), the dispatcher with every queued
    /// message, and the modem event loop. Modems are attached with [`Gateway::attach_modem`].
    pub async fn open(settings: Settings) -> AppResult<(Gateway, GatewayHandles)> {
        Self::open_with_clock(settings, Clock::System).await
    }

    /// [`Gateway::open`] with a given clock (tests drive time with `tokio::time::pause`).
    pub async fn open_with_clock(settings: Settings, clock: Clock) -> AppResult<(Gateway, GatewayHandles)> {
        settings
            .validate()
            .map_err(|e| AppError::validation("config", e.to_string()))?;
        let path = settings.database_path();
        let store = tokio::task::spawn_blocking(move || Store::open(&path))
            .await
            .map_err(|e| AppError::Internal(e.to_string()))??;
        let recovered = store
            .recover_interrupted(settings.dispatch.uncertain_policy, clock.now_ms())
            .await?;
        if !recovered.uncertain.is_empty() || !recovered.requeued.is_empty() {
            info!(
                uncertain = recovered.uncertain.len(),
                requeued = recovered.requeued.len(),
                "recovered messages interrupted by the previous stop"
            );
        }
        let webhooks_due = Arc::new(Notify::new());
        let dispatcher = Dispatcher::new(
            store.clone(),
            Policy::from_settings(&settings.dispatch),
            clock,
            Duration::from_secs(settings.dispatch.send_timeout_seconds),
            webhooks_due.clone(),
        );
        let loaded = dispatcher.load().await?;
        let gateway = Gateway {
            inner: Arc::new(Inner {
                settings,
                store,
                dispatcher,
                clock,
                webhooks_due,
                inbound: InboundState::new(),
            }),
        };
        gateway.spawn_event_loop();
        info!(loaded, "gateway core open");
        Ok((
            gateway,
            GatewayHandles {
                recovered_uncertain: recovered.uncertain.len(),
                recovered_requeued: recovered.requeued.len(),
                loaded,
            },
        ))
    }

    /// Starts the whole gateway core: [`Gateway::open`], then a modem actor per configured modem and,
    /// with `sim` (or `[sim] count > 0`), the in-process simulated modem bank.
    ///
    /// The modem engine is wired in by the integration of the modem and hw-sim branches; until then a
    /// configuration that asks for modems is refused with a clear error instead of starting without them.
    pub async fn start(settings: Settings, sim: bool) -> AppResult<(Gateway, GatewayHandles)> {
        if sim
            || settings.sim.count > 0
            || !settings.modems.is_empty()
            || settings.modem_discovery.discover_dir.is_some()
        {
            return Err(AppError::Unavailable(
                "this build has no modem engine wired in yet: attach modems with Gateway::attach_modem"
                    .into(),
            ));
        }
        Self::open(settings).await
    }

    /// Lets the dispatcher send through `sender` (a modem actor's handle or a test double), as a member
    /// of modem group `group`. `ready` = may send at once (real modems start not ready and become ready
    /// by their state events).
    pub async fn attach_modem(
        &self,
        sender: Arc<dyn ModemSender>,
        group: &str,
        ready: bool,
    ) -> AppResult<()> {
        self.inner.inbound.set_group(sender.id(), group.to_owned());
        self.inner
            .dispatcher
            .add_modem(sender, group.to_owned(), ready)
            .await?;
        Ok(())
    }

    /// Stops in order: no new sends; sends under way finish (or, after a grace period, are abandoned and
    /// become `uncertain` at the next start); the event loop stops; the writer commits what is queued and
    /// closes.
    pub async fn shutdown(&self) {
        self.inner.dispatcher.shutdown(SHUTDOWN_GRACE).await;
        self.inner.inbound.stop.cancel();
        if let Err(e) = self.inner.store.flush().await {
            tracing::warn!(error = %e, "final flush failed");
        }
        if let Err(e) = self.inner.store.close().await {
            tracing::warn!(error = %e, "closing the store failed");
        }
        info!("gateway core stopped");
    }
}
