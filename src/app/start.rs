//! Starting and stopping the gateway core: store, crash recovery, dispatcher, modem event loop, modem
//! actors (configured and discovered) and the in-process simulated bank.
//!
//! Modems join the dispatcher once identified: the first state event that carries an IMEI attaches the
//! modem (as a [`BankSender`] that looks up the modem's current actor at every send, so an actor
//! restarted after an unplug is used without re-attaching).
use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use super::events::InboundState;
use super::{AppError, AppResult, Gateway, Inner, Principal};
use crate::clock::Clock;
use crate::config::Settings;
use crate::dispatch::Dispatcher;
use crate::dispatch::core::Policy;
use crate::modem::discovery::{DiscoveryConfig, ModemBank};
use crate::modem::{
    ModemId, ModemSender, ModemState, OverrideTable, SendError, SendFuture, SendRequest, UssdReply,
};
use crate::store::Store;

/// Group of modems that are not configured with one (discovered and simulated modems).
pub const DEFAULT_GROUP: &str = "default";
/// Subdirectory of the data directory holding the simulated modems' links.
const SIM_DIR: &str = "hw-sim";

/// What [`Gateway::open`] / [`Gateway::start`] found and started.
#[derive(Debug, Default)]
pub struct GatewayHandles {
    /// Messages found `sending` at start (left by a crash) and marked uncertain.
    pub recovered_uncertain: usize,
    /// Messages found `sending` at start and queued again (policy `resend`).
    pub recovered_requeued: usize,
    /// Queued messages loaded into the dispatcher at start.
    pub loaded: usize,
    /// Links of the simulated modems (`<data_dir>/hw-sim/modemN`), when a simulated bank runs.
    pub sim_links: Vec<PathBuf>,
}

/// Modem actors and the simulated bank owned by the gateway.
#[derive(Default)]
pub(crate) struct ModemRuntime {
    stop: CancellationToken,
    pub(super) bank: OnceLock<ModemBank>,
    sim: tokio::sync::Mutex<Option<hw_sim::Bank>>,
    /// Modems already attached to the dispatcher.
    attached: Mutex<HashSet<ModemId>>,
    /// Technicians' SIM settings by IMEI, shared with every actor.
    pub(super) overrides: OverrideTable,
}

/// A dispatcher-side sender for a modem of the bank, by identity: every send goes to the modem's current
/// actor (it may have been restarted after an unplug).
struct BankSender {
    id: ModemId,
    bank: ModemBank,
}

impl ModemSender for BankSender {
    fn id(&self) -> ModemId {
        self.id.clone()
    }

    fn send<'a>(&'a self, request: SendRequest) -> SendFuture<'a> {
        Box::pin(async move {
            match self.bank.get(&self.id.0) {
                Some(handle) => handle.send(request).await,
                None => Err(SendError::Temporary {
                    reason: "modem absent".into(),
                    sent: Vec::new(),
                }),
            }
        })
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Gateway {
    /// Opens the gateway core without modems: the database (created and migrated as needed), crash
    /// recovery (`sending` → `uncertain` or re-queued, by policy), the dispatcher with every queued
    /// message, and the modem event loop. Modems can be attached with [`Gateway::attach_modem`].
    pub async fn open(settings: Settings) -> AppResult<(Gateway, GatewayHandles)> {
        Self::open_with_clock(settings, Clock::System).await
    }

    /// [`Gateway::open`] for administration commands next to a running service (`smsgate account`): on a
    /// cluster node it neither recovers the node's interrupted sends nor claims work, so it cannot
    /// disturb the running node's leases. A single appliance opens as with [`Gateway::open`].
    pub async fn open_for_admin(settings: Settings) -> AppResult<(Gateway, GatewayHandles)> {
        Self::open_inner(settings, Clock::System, true).await
    }

    /// [`Gateway::open`] with a given clock (tests drive time with `tokio::time::pause`).
    pub async fn open_with_clock(settings: Settings, clock: Clock) -> AppResult<(Gateway, GatewayHandles)> {
        Self::open_inner(settings, clock, false).await
    }

    async fn open_inner(
        settings: Settings,
        clock: Clock,
        admin: bool,
    ) -> AppResult<(Gateway, GatewayHandles)> {
        settings
            .validate()
            .map_err(|e| AppError::validation("config", e.to_string()))?;
        let path = settings.database_path();
        let store = tokio::task::spawn_blocking(move || Store::open(&path))
            .await
            .map_err(|e| AppError::Internal(e.to_string()))??;
        Self::connect_cluster(&settings, &store, !admin).await?;
        let admin_on_cluster = admin && store.cluster().is_some();
        let recovered = if admin_on_cluster {
            crate::store::Recovered::default()
        } else {
            store
                .recover_interrupted(settings.dispatch.uncertain_policy, clock.now_ms())
                .await?
        };
        if !recovered.uncertain.is_empty() || !recovered.requeued.is_empty() {
            info!(
                uncertain = recovered.uncertain.len(),
                requeued = recovered.requeued.len(),
                "recovered messages interrupted by the previous stop"
            );
        }
        let webhooks_due = Arc::new(Notify::new());
        let metrics = Arc::new(crate::ops::metrics::Metrics::new());
        let dispatcher = Dispatcher::new(
            store.clone(),
            Policy::from_settings(&settings.dispatch),
            clock,
            Duration::from_secs(settings.dispatch.send_timeout_seconds),
            webhooks_due.clone(),
            metrics.clone(),
        );
        // A cluster node does not load the shared queue: it claims its share as its modems get ready.
        let loaded = if store.cluster().is_some() {
            0
        } else {
            dispatcher.load().await?
        };
        let retention = super::retention::RetentionState::load(&store, &settings.retention).await?;
        let routes = store.route_rules().await?;
        let gateway = Gateway {
            inner: Arc::new(Inner {
                settings,
                store,
                dispatcher,
                clock,
                webhooks_due,
                inbound: InboundState::new(),
                modems: ModemRuntime::default(),
                erased: Default::default(),
                cluster: Default::default(),
                retention,
                metrics,
                started: std::time::SystemTime::now(),
                routes: arc_swap::ArcSwap::from_pointee(routes),
                routes_edit: tokio::sync::Mutex::new(()),
            }),
        };
        gateway.spawn_event_loop();
        gateway.spawn_retention();
        gateway.spawn_deletions();
        gateway.spawn_backups();
        if !admin_on_cluster {
            gateway.spawn_cluster();
        }
        info!(loaded, "gateway core open");
        Ok((
            gateway,
            GatewayHandles {
                recovered_uncertain: recovered.uncertain.len(),
                recovered_requeued: recovered.requeued.len(),
                loaded,
                sim_links: Vec::new(),
            },
        ))
    }

    /// Starts the whole gateway core: [`Gateway::open`], then with `sim` (or `[sim] count > 0`) a bank of
    /// `max(sim.count, 1)` simulated modems in-process, and a modem actor for every `[[modem]]` entry,
    /// every device in `[modems] discover_dir` and every simulated modem. Modems join the dispatcher
    /// once identified.
    pub async fn start(settings: Settings, sim: bool) -> AppResult<(Gateway, GatewayHandles)> {
        let (gateway, mut handles) = Self::open(settings).await?;
        let settings = gateway.settings().clone();
        let mut dirs: Vec<PathBuf> = settings.modem_discovery.discover_dir.iter().cloned().collect();
        if sim || settings.sim.count > 0 {
            let dir = settings.data_dir.join(SIM_DIR);
            let profile = settings
                .sim
                .profile
                .parse::<hw_sim::ProfileName>()
                .map_err(|e| AppError::validation("sim.profile", e.to_string()))?;
            let bank = hw_sim::Bank::start(hw_sim::BankConfig {
                count: settings.sim.count.max(1) as usize,
                profile,
                dir: dir.clone(),
                ..hw_sim::BankConfig::default()
            })
            .await
            .map_err(|e| AppError::Unavailable(format!("cannot start the simulated modems: {e}")))?;
            handles.sim_links = bank.modems().into_iter().map(|m| m.link).collect();
            info!(count = handles.sim_links.len(), dir = %dir.display(), "simulated modems started");
            *gateway.inner.modems.sim.lock().await = Some(bank);
            dirs.push(dir);
        }
        // Technicians' settings (PIN, SMSC by IMEI) are in place before any actor asks for them.
        gateway.load_modem_settings().await?;
        let overrides = gateway.inner.modems.overrides.clone();
        let configured = settings
            .modems
            .iter()
            .map(|m| crate::modem::ModemConfig {
                overrides: overrides.clone(),
                ..m.to_modem_config()
            })
            .collect();
        let mut discovery = DiscoveryConfig {
            dirs,
            udev: settings.modem_discovery.udev,
            ..DiscoveryConfig::default()
        };
        discovery.template.overrides = overrides;
        let bank = crate::modem::discovery::run(
            configured,
            discovery,
            gateway.event_sink(),
            gateway.inner.modems.stop.clone(),
        );
        if gateway.inner.modems.bank.set(bank).is_err() {
            warn!("modem bank started twice");
        }
        Ok((gateway, handles))
    }

    /// Lets the dispatcher send through `sender` (a modem actor's handle or a test double), as a member
    /// of modem group `group`. `ready` = may send at once (real modems become ready by their state events).
    pub async fn attach_modem(
        &self,
        sender: Arc<dyn ModemSender>,
        group: &str,
        ready: bool,
    ) -> AppResult<()> {
        let id = sender.id();
        self.inner.inbound.set_group(id.clone(), group.to_owned());
        lock(&self.inner.modems.attached).insert(id);
        self.inner
            .dispatcher
            .add_modem(sender, group.to_owned(), ready)
            .await?;
        Ok(())
    }

    /// The routing group of a modem by its port: its `[[modem]]` entry's, else [`DEFAULT_GROUP`].
    pub(super) fn group_for_port(&self, port: &str) -> String {
        self.inner
            .settings
            .modems
            .iter()
            .find(|m| m.port == port)
            .map(|m| m.group.clone())
            .unwrap_or_else(|| DEFAULT_GROUP.to_owned())
    }

    /// Attaches a modem of the bank to the dispatcher the first time it reports an identity.
    pub(crate) async fn ensure_attached(&self, state: &ModemState) {
        let Some(bank) = self.inner.modems.bank.get() else {
            return;
        };
        // Claimed before the await, so two states of one modem recorded at once attach it once.
        if state.imei.is_none() || !lock(&self.inner.modems.attached).insert(state.id.clone()) {
            return;
        }
        let sender = Arc::new(BankSender {
            id: state.id.clone(),
            bank: bank.clone(),
        });
        let (stored_group, limits) = self.stored_routing(&state.id.0).await;
        let group = stored_group.unwrap_or_else(|| self.group_for_port(&state.port));
        info!(modem = %state.id, port = %state.port, group = %group, "modem joins the dispatcher");
        if let Err(e) = self.attach_modem(sender, &group, false).await {
            warn!(modem = %state.id, error = %e, "cannot attach the modem");
            lock(&self.inner.modems.attached).remove(&state.id);
            return;
        }
        self.inner.dispatcher.set_modem_limits(&state.id, limits);
    }

    /// Whether modem actors run (a bank was started by [`Gateway::start`]).
    pub(crate) fn has_modem_bank(&self) -> bool {
        self.inner.modems.bank.get().is_some()
    }

    /// The current state of every modem actor (their watches: always the latest).
    pub(crate) fn bank_states(&self) -> Vec<ModemState> {
        self.inner
            .modems
            .bank
            .get()
            .map(|bank| bank.list())
            .unwrap_or_default()
    }

    /// The simulated bank's control (inject SMS, faults, unplug), when one runs.
    pub async fn sim_control(&self) -> Option<hw_sim::Control> {
        self.inner.modems.sim.lock().await.as_ref().map(|b| b.control())
    }

    /// Sends a USSD code through a modem (by IMEI, name or port) and returns the network's answer.
    /// Operators only; audited (see [`Gateway::modem_ussd`], which also records the caller's address).
    pub async fn ussd(&self, who: &Principal, modem: &str, code: &str) -> AppResult<UssdReply> {
        self.modem_ussd(super::Requester { who, source: None }, modem, code)
            .await
    }

    /// Stops in order: no new sends; sends under way finish (or, after `dispatch.shutdown_grace_seconds`,
    /// are abandoned and become `uncertain` at the next start); modem actors and the simulated bank stop;
    /// the event loop stops; the writer commits what is queued and closes.
    pub async fn shutdown(&self) {
        let grace = Duration::from_secs(self.inner.settings.dispatch.shutdown_grace_seconds);
        self.inner.dispatcher.shutdown(grace).await;
        self.inner.modems.stop.cancel();
        if let Some(bank) = self.inner.modems.bank.get() {
            for handle in bank.handles() {
                if tokio::time::timeout(grace.max(Duration::from_secs(1)), handle.stopped())
                    .await
                    .is_err()
                {
                    warn!("a modem actor did not stop in time");
                }
            }
        }
        if let Some(sim) = self.inner.modems.sim.lock().await.take() {
            sim.shutdown().await;
        }
        self.inner.inbound.stop.cancel();
        if let Err(e) = self.inner.store.flush().await {
            warn!(error = %e, "final flush failed");
        }
        if let Err(e) = self.inner.store.close().await {
            warn!(error = %e, "closing the store failed");
        }
        if let Some(pg) = self.inner.store.cluster() {
            pg.close();
        }
        info!("gateway core stopped");
    }
}
