//! Events from the modems: received SMS, status reports and state changes.
//!
//! Every event is stored durably (with its webhook event, in the same transaction) *before* its
//! acknowledgement fires, so the modem deletes an SMS from the SIM only once the gateway has it.
//! Parts of a concatenated SMS are kept as durable fragments until the message is complete (or times
//! out and is stored incomplete), so a restart in between loses nothing.
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{Notify, Semaphore, mpsc};
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

use super::Gateway;
use crate::modem::{ModemEvent, ModemId, ModemPhase, ModemState, StoredAck};
use crate::pdu;
use crate::store::{AccountId, InboxId, ModemUpdate, NewInbox, StatusReportIn};

/// How long the parts of a concatenated SMS are awaited before it is stored incomplete.
pub const REASSEMBLY_TIMEOUT: Duration = Duration::from_secs(3600);
/// Events handled concurrently (they share the store's group commit).
const CONCURRENT_EVENTS: usize = 64;
/// Depth of the event channel from the modem actors.
pub(crate) const EVENT_QUEUE: usize = 1024;

/// How often the recorded modem states are compared with the actors' own (watched) states. Actors never
/// block on state events (`try_send`), so a burst of changes larger than [`EVENT_QUEUE`] (hundreds of modems
/// coming up at once) drops some; the actors' watches always hold the latest, and this puts it on record.
const STATE_RESYNC: Duration = Duration::from_secs(2);

/// A modem whose only change is its counters (parts sent, SMS received, errors) is recorded at most this
/// often: every send changes a counter, and a durable write per send for a panel figure is not worth it.
/// Phase, identity, signal and registration changes are recorded at once.
pub(super) const COUNTERS_EVERY: Duration = Duration::from_secs(5);

/// Identity of a concatenated message being reassembled, as the codec keys it.
type FragmentKey = (String, u16, u8);

/// Reassembly state shared by the event handlers.
pub(crate) struct InboundState {
    reassembler: Mutex<pdu::Reassembler>,
    /// Durable fragment row ids of each message being reassembled.
    fragments: Mutex<HashMap<FragmentKey, Vec<i64>>>,
    /// Modem id → routing group, for inbox ownership.
    groups: Mutex<HashMap<ModemId, String>>,
    sender: mpsc::Sender<ModemEvent>,
    receiver: Mutex<Option<mpsc::Receiver<ModemEvent>>>,
    /// Latest unrecorded state of each modem by port, with its arrival number: a burst of changes is
    /// recorded once per modem (the latest), all modems together in one group commit.
    states: Mutex<HashMap<String, (u64, ModemState)>>,
    /// Arrival counter of `states`.
    states_seq: std::sync::atomic::AtomicU64,
    /// Wakes the state recorder.
    states_due: Notify,
    pub(crate) stop: CancellationToken,
}

impl InboundState {
    pub(crate) fn new() -> InboundState {
        let (sender, receiver) = mpsc::channel(EVENT_QUEUE);
        InboundState {
            reassembler: Mutex::new(pdu::Reassembler::new(REASSEMBLY_TIMEOUT)),
            fragments: Mutex::new(HashMap::new()),
            groups: Mutex::new(HashMap::new()),
            sender,
            receiver: Mutex::new(Some(receiver)),
            states: Mutex::new(HashMap::new()),
            states_seq: std::sync::atomic::AtomicU64::new(0),
            states_due: Notify::new(),
            stop: CancellationToken::new(),
        }
    }

    pub(crate) fn set_group(&self, modem: ModemId, group: String) {
        lock(&self.groups).insert(modem, group);
    }

    /// Queues a modem state for the recorder; a newer state of the same port replaces an unrecorded one.
    fn queue_state(&self, state: ModemState) {
        let seq = self.states_seq.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        lock(&self.states).insert(state.port.clone(), (seq, state));
        self.states_due.notify_one();
    }

    /// Takes the queued states, grouped by modem id, each group in arrival order.
    fn take_states(&self) -> Vec<Vec<ModemState>> {
        let mut queued: Vec<(u64, ModemState)> = lock(&self.states).drain().map(|(_, v)| v).collect();
        queued.sort_by_key(|(seq, _)| *seq);
        let mut by_id: HashMap<ModemId, Vec<ModemState>> = HashMap::new();
        for (_, state) in queued {
            by_id.entry(state.id.clone()).or_default().push(state);
        }
        by_id.into_values().collect()
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn fragment_key(d: &pdu::Deliver) -> Option<FragmentKey> {
    let c = d.udh.as_ref()?.concat()?;
    Some((d.originator.to_string(), c.reference, c.total))
}

/// Whether `b` differs from `a` in the counters only.
pub(super) fn only_counters_differ(a: &ModemState, b: &ModemState) -> bool {
    let counters = |s: &ModemState| (s.sent_parts, s.received, s.errors);
    if counters(a) == counters(b) {
        return false;
    }
    let mut same = b.clone();
    (same.sent_parts, same.received, same.errors) = counters(a);
    same == *a
}

fn std_now() -> std::time::Instant {
    tokio::time::Instant::now().into_std()
}

/// A summary of one processed inbound event (returned by [`Gateway::handle_event`] for tests/logs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Inbound {
    /// A complete (or timed-out) SMS was stored.
    Stored(InboxId),
    /// A part was stored; more are awaited.
    Fragment,
    /// A status report was stored (paired or not).
    Report,
    /// A modem state was recorded.
    State,
    /// The event could not be stored; it was not acknowledged (the modem keeps it and reports again).
    Failed,
}

impl Gateway {
    /// Where modem actors send their events.
    pub fn event_sink(&self) -> mpsc::Sender<ModemEvent> {
        self.inner.inbound.sender.clone()
    }

    /// Concatenated incoming messages still waiting for parts.
    pub fn pending_fragments(&self) -> usize {
        lock(&self.inner.inbound.reassembler).pending()
    }

    /// Starts the task that consumes modem events (once; later calls do nothing).
    pub(crate) fn spawn_event_loop(&self) {
        let Some(mut rx) = lock(&self.inner.inbound.receiver).take() else {
            return;
        };
        self.spawn_state_recorder();
        let gw = self.clone();
        tokio::spawn(async move {
            let permits = Arc::new(Semaphore::new(CONCURRENT_EVENTS));
            let stop = gw.inner.inbound.stop.clone();
            gw.reload_fragments().await;
            loop {
                let deadline = lock(&gw.inner.inbound.reassembler).next_deadline();
                let timeout = async {
                    match deadline {
                        Some(d) => tokio::time::sleep_until(tokio::time::Instant::from_std(d)).await,
                        None => std::future::pending().await,
                    }
                };
                tokio::select! {
                    ev = rx.recv() => {
                        let Some(ev) = ev else { break };
                        match ev {
                            // To the recorder, which keeps each modem's changes in order (up/down never
                            // swap) and never holds up this loop with a write per change.
                            ModemEvent::State(state) => gw.inner.inbound.queue_state(state),
                            other => {
                                let Ok(permit) = permits.clone().acquire_owned().await else { break };
                                let gw = gw.clone();
                                tokio::spawn(async move {
                                    gw.handle_event(other).await;
                                    drop(permit);
                                });
                            }
                        }
                    }
                    _ = timeout => gw.flush_incomplete().await,
                    _ = stop.cancelled() => break,
                }
            }
            debug!("modem event loop stopped");
        });
    }

    /// Starts the task that records modem states: the latest state of every modem that changed, all of
    /// them in one group commit; each modem's states in arrival order; changes of the counters alone at
    /// most every [`COUNTERS_EVERY`] per modem. With a modem bank it also compares
    /// what is recorded with the actors' watched states every [`STATE_RESYNC`] and records what differs
    /// (a state event dropped under a burst).
    fn spawn_state_recorder(&self) {
        let gw = self.clone();
        tokio::spawn(async move {
            let inbound = &gw.inner.inbound;
            // Per port: the state on record and when it was written.
            let mut recorded: HashMap<String, (ModemState, tokio::time::Instant)> = HashMap::new();
            // Counter-only changes waiting for their modem's next slot, and the earliest slot.
            let mut deferred: HashMap<String, ModemState> = HashMap::new();
            let mut deferred_until: Option<tokio::time::Instant> = None;
            let mut resync_at = tokio::time::Instant::now() + STATE_RESYNC;
            loop {
                let resync = gw.has_modem_bank();
                let flush_at = deferred_until.unwrap_or(resync_at);
                tokio::select! {
                    _ = inbound.states_due.notified() => {}
                    _ = tokio::time::sleep_until(resync_at), if resync => {
                        resync_at = tokio::time::Instant::now() + STATE_RESYNC;
                        for state in gw.bank_states() {
                            if recorded.get(&state.port).map(|(r, _)| r) != Some(&state) {
                                inbound.queue_state(state);
                            }
                        }
                    }
                    _ = tokio::time::sleep_until(flush_at), if deferred_until.is_some() => {
                        deferred_until = None;
                        for (_, state) in deferred.drain() {
                            inbound.queue_state(state);
                        }
                    }
                    _ = inbound.stop.cancelled() => break,
                }
                let now = tokio::time::Instant::now();
                let mut groups = inbound.take_states();
                for states in &mut groups {
                    states.retain(|state| {
                        let Some((on_record, at)) = recorded.get(&state.port) else {
                            return true;
                        };
                        let slot = *at + COUNTERS_EVERY;
                        if now < slot && only_counters_differ(on_record, state) {
                            deferred.insert(state.port.clone(), state.clone());
                            deferred_until = Some(deferred_until.map_or(slot, |d| d.min(slot)));
                            return false;
                        }
                        deferred.remove(&state.port);
                        true
                    });
                }
                let record = groups.into_iter().map(|states| {
                    let gw = &gw;
                    async move {
                        let mut done = Vec::new();
                        for state in states {
                            gw.on_state(state.clone()).await;
                            done.push(state);
                        }
                        done
                    }
                });
                for states in futures::future::join_all(record).await {
                    for state in states {
                        recorded.insert(state.port.clone(), (state, now));
                    }
                }
            }
            debug!("modem state recorder stopped");
        });
    }

    /// Rebuilds the reassembler from durable fragments after a restart.
    async fn reload_fragments(&self) {
        let fragments = match self.inner.store.inbox_fragments().await {
            Ok(f) => f,
            Err(e) => {
                warn!(error = %e, "cannot load stored SMS fragments");
                return;
            }
        };
        for f in fragments {
            if let Ok(pdu::Pdu::Deliver(d)) = pdu::decode(&f.pdu) {
                self.push_fragment(ModemId(f.modem), f.id, d).await;
            }
        }
    }

    /// Processes one modem event: stores it, then acknowledges it.
    pub async fn handle_event(&self, event: ModemEvent) -> Inbound {
        match event {
            ModemEvent::Received { modem, pdu, ack } => self.on_received(modem, pdu, ack).await,
            ModemEvent::StatusReport { modem, pdu, ack } => self.on_status_report(modem, pdu, ack).await,
            ModemEvent::State(state) => self.on_state(state).await,
        }
    }

    async fn on_received(&self, modem: ModemId, raw: Vec<u8>, ack: StoredAck) -> Inbound {
        let now = self.now_ms();
        let deliver = match pdu::decode(&raw) {
            Ok(pdu::Pdu::Deliver(d)) => d,
            other => {
                // Keep what cannot be read, visibly, instead of dropping it.
                let why = match other {
                    Err(e) => e.to_string(),
                    Ok(_) => "not an SMS-DELIVER".to_owned(),
                };
                warn!(modem = %modem, error = %why, "undecodable incoming PDU stored raw");
                let msg = NewInbox {
                    id: InboxId::new(),
                    account_id: None,
                    originator: String::new(),
                    text: format!("[undecodable PDU: {why}] {}", hex::encode_upper(&raw)),
                    modem: modem.0.clone(),
                    received_at: now,
                    parts: 1,
                    incomplete: true,
                };
                return self.store_received(msg, Vec::new(), Some(ack)).await;
            }
        };
        if fragment_key(&deliver).is_none() {
            let owner = self.inbox_owner(&modem, &deliver.originator.to_string()).await;
            let msg = NewInbox {
                id: InboxId::new(),
                account_id: owner,
                originator: deliver.originator.to_string(),
                text: deliver
                    .user_data
                    .text()
                    .map(str::to_owned)
                    .unwrap_or_else(|| binary_text(&deliver)),
                modem: modem.0.clone(),
                received_at: now,
                parts: 1,
                incomplete: false,
            };
            return self.store_received(msg, Vec::new(), Some(ack)).await;
        }
        let fragment_id = match self
            .inner
            .store
            .add_inbox_fragment(modem.0.clone(), raw, now)
            .await
        {
            Ok(id) => id,
            Err(e) => {
                warn!(modem = %modem, error = %e, "cannot store an SMS part; not acknowledged");
                return Inbound::Failed;
            }
        };
        let _ = ack.send(());
        self.push_fragment(modem, fragment_id, deliver).await
    }

    async fn push_fragment(&self, modem: ModemId, fragment_id: i64, deliver: pdu::Deliver) -> Inbound {
        let Some(key) = fragment_key(&deliver) else {
            return Inbound::Fragment;
        };
        lock(&self.inner.inbound.fragments)
            .entry(key.clone())
            .or_default()
            .push(fragment_id);
        let done = lock(&self.inner.inbound.reassembler).push(deliver, std_now());
        match done {
            Some(message) => {
                let ids = lock(&self.inner.inbound.fragments)
                    .remove(&key)
                    .unwrap_or_default();
                self.store_reassembled(modem, message, ids).await
            }
            None => Inbound::Fragment,
        }
    }

    /// Stores messages whose missing parts timed out.
    async fn flush_incomplete(&self) {
        let expired = lock(&self.inner.inbound.reassembler).expire(std_now());
        for message in expired {
            let Some(first) = message.parts.first() else {
                continue;
            };
            let Some(key) = fragment_key(first) else { continue };
            let ids = lock(&self.inner.inbound.fragments)
                .remove(&key)
                .unwrap_or_default();
            let modem = self.fragment_modem(&ids).await;
            info!(modem = %modem, missing = ?message.missing, "storing an SMS with missing parts");
            self.store_reassembled(modem, message, ids).await;
        }
    }

    async fn fragment_modem(&self, ids: &[i64]) -> ModemId {
        let first = ids.first().copied();
        if let (Some(first), Ok(all)) = (first, self.inner.store.inbox_fragments().await)
            && let Some(f) = all.into_iter().find(|f| f.id == first)
        {
            return ModemId(f.modem);
        }
        ModemId(String::new())
    }

    async fn store_reassembled(&self, modem: ModemId, message: pdu::Reassembled, ids: Vec<i64>) -> Inbound {
        let originator = message.originator.to_string();
        let owner = self.inbox_owner(&modem, &originator).await;
        let text = match message.user_data() {
            pdu::UserData::Text(t) => t,
            pdu::UserData::Binary(b) => format!("[binary] {}", hex::encode_upper(b)),
        };
        let msg = NewInbox {
            id: InboxId::new(),
            account_id: owner,
            originator,
            text,
            modem: modem.0,
            received_at: self.now_ms(),
            parts: message.parts.len() as u32,
            incomplete: !message.is_complete(),
        };
        self.store_received(msg, ids, None).await
    }

    async fn store_received(&self, msg: NewInbox, fragments: Vec<i64>, ack: Option<StoredAck>) -> Inbound {
        match self.inner.store.store_inbox(msg, fragments).await {
            Ok(stored) => {
                if let Some(ack) = ack {
                    let _ = ack.send(());
                }
                info!(modem = %stored.modem, inbox_id = %stored.id, parts = stored.parts, "SMS received");
                self.inner.webhooks_due.notify_waiters();
                Inbound::Stored(stored.id)
            }
            Err(e) => {
                warn!(error = %e, "cannot store a received SMS; not acknowledged");
                Inbound::Failed
            }
        }
    }

    /// Who owns an SMS received on `modem` from `originator`: the account routed to the modem's group
    /// by a `[[dispatch.route]] account = ...` rule, else the account that last wrote to that number
    /// (a reply), else nobody (operators see it).
    async fn inbox_owner(&self, modem: &ModemId, originator: &str) -> Option<AccountId> {
        let group = lock(&self.inner.inbound.groups).get(modem).cloned();
        if let Some(group) = group {
            let login = self
                .inner
                .settings
                .dispatch
                .routes
                .iter()
                .find(|r| r.group == group && r.prefix.is_none())
                .and_then(|r| r.account.clone());
            if let Some(login) = login
                && let Ok(Some(account)) = self.inner.store.account_by_login(&login).await
            {
                return Some(account.id);
            }
        }
        self.inner.store.last_sender_to(originator).await.ok().flatten()
    }

    async fn on_status_report(&self, modem: ModemId, raw: Vec<u8>, ack: StoredAck) -> Inbound {
        let report = match pdu::decode(&raw) {
            Ok(pdu::Pdu::StatusReport(r)) => r,
            other => {
                warn!(modem = %modem, pdu = %hex::encode_upper(&raw), result = ?other.map(|_| ()),
                      "undecodable status report dropped");
                let _ = ack.send(());
                return Inbound::Report;
            }
        };
        let kind = crate::store::report_kind(report.status.0);
        let input = StatusReportIn {
            modem: modem.0.clone(),
            pdu: raw,
            mr: report.mr,
            recipient: Some(report.recipient.to_string()),
            status: report.status.0,
            kind,
            now: self.now_ms(),
        };
        match self.inner.store.record_status_report(input).await {
            Ok(paired) => {
                let _ = ack.send(());
                match paired {
                    Some(p) => {
                        debug!(modem = %modem, msg_id = %p.message_id, status = %p.status, "status report")
                    }
                    None => info!(modem = %modem, mr = report.mr, "status report matches no sent part"),
                }
                self.inner.webhooks_due.notify_waiters();
                Inbound::Report
            }
            Err(e) => {
                warn!(modem = %modem, error = %e, "cannot store a status report; not acknowledged");
                Inbound::Failed
            }
        }
    }

    async fn on_state(&self, state: ModemState) -> Inbound {
        self.ensure_attached(&state).await;
        let up = state.phase == ModemPhase::Ready;
        let group = lock(&self.inner.inbound.groups).get(&state.id).cloned();
        let update = ModemUpdate {
            id: state.id.0.clone(),
            name: None,
            port: Some(state.port.clone()),
            group,
            up,
            state: serde_json::to_value(&state).unwrap_or(serde_json::Value::Null),
        };
        match self.inner.store.upsert_modem(update, self.now_ms()).await {
            Ok(event) => {
                if let Some(event) = event {
                    info!(modem = %state.id, event = %event, "modem state changed");
                    self.inner.webhooks_due.notify_waiters();
                }
            }
            Err(e) => warn!(modem = %state.id, error = %e, "cannot record modem state"),
        }
        self.inner.dispatcher.set_ready(&state.id, up);
        if up {
            self.nudge_cluster();
        }
        Inbound::State
    }
}

fn binary_text(d: &pdu::Deliver) -> String {
    match &d.user_data {
        pdu::UserData::Binary(b) => format!("[binary] {}", hex::encode_upper(b)),
        pdu::UserData::Text(t) => t.clone(),
    }
}
