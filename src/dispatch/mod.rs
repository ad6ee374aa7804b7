//! The dispatcher: gives queued messages to modems.
//!
//! [`core`] decides (pure); this module is the thin async shell around it: one sender task per modem
//! pulls work when its modem is free, so a slow or hung modem only ever holds up itself (no head-of-line
//! blocking), plus one timer task that expires messages whose validity ended.
//!
//! One send, in order:
//! 1. the modem's task asks the core for a message ([`core::Scheduler::pick`]);
//! 2. the store durably marks it `sending` and opens an attempt, returning the parts still to send
//!    (if the message was cancelled meanwhile, the assignment is dropped);
//! 3. the parts go to the modem through [`ModemSender`], bounded by `dispatch.send_timeout_seconds`;
//! 4. the core resolves the answer (sent / retry with backoff and failover / failed / uncertain), the
//!    store records it with its webhook event in one transaction, and only then a retried message
//!    becomes pickable again.
//!
//! If the process dies between 2 and 4 the message stays `sending` on disk; the next start turns it
//! into `uncertain` (or re-queues it, by `dispatch.uncertain_policy`).
pub mod core;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::sync::Notify;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

use self::core::{Job, ModemLimits, Pick, Policy, Resolution, Scheduler, SendResult, SentCounts};
use crate::clock::Clock;
use crate::modem::{ModemId, ModemSender, OutgoingPart, SendError, SendRequest};
use crate::ops::metrics::{Histogram, Metrics};
use crate::store::{AttemptEnd, AttemptOutcome, MessageId, QueuedRow, Store, StoreResult};

/// A modem's sender task and how to wake it.
struct ModemTask {
    notify: Arc<Notify>,
    handle: JoinHandle<()>,
}

struct Shared {
    core: Mutex<Scheduler>,
    store: Store,
    clock: Clock,
    send_timeout: Duration,
    tasks: Mutex<HashMap<ModemId, ModemTask>>,
    stop: CancellationToken,
    /// Wakes the expiry task when a nearer validity end is queued.
    timer: Notify,
    /// Signalled after every state change that may have written webhook events.
    events_written: Arc<Notify>,
    /// Send latency histograms (one handle per modem task).
    metrics: Arc<Metrics>,
}

/// Handle to the dispatcher; cheap to clone.
#[derive(Clone)]
pub struct Dispatcher {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for Dispatcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Dispatcher").finish_non_exhaustive()
    }
}

impl Job {
    /// The dispatcher's view of a stored queued message.
    pub fn from_row(row: &QueuedRow) -> Job {
        Job {
            id: row.id,
            account: row.account_id,
            priority: row.priority,
            group: row.group.clone(),
            parts: row.pending_parts,
            send_at: row.send_at.unwrap_or(0),
            valid_until: row.valid_until,
            attempts: row.attempts,
            retry_at: row.next_attempt_at.unwrap_or(0),
            avoid: Vec::new(),
            pinned: row.pinned_modem.clone().map(ModemId),
        }
    }
}

impl Dispatcher {
    /// A dispatcher with no modems yet; starts its expiry task.
    pub fn new(
        store: Store,
        policy: Policy,
        clock: Clock,
        send_timeout: Duration,
        events_written: Arc<Notify>,
        metrics: Arc<Metrics>,
    ) -> Dispatcher {
        let shared = Arc::new(Shared {
            core: Mutex::new(Scheduler::new(policy)),
            store,
            clock,
            send_timeout,
            tasks: Mutex::new(HashMap::new()),
            stop: CancellationToken::new(),
            timer: Notify::new(),
            events_written,
            metrics,
        });
        let timer_shared = shared.clone();
        tokio::spawn(async move { expiry_loop(timer_shared).await });
        Dispatcher { shared }
    }

    fn core(&self) -> MutexGuard<'_, Scheduler> {
        lock(&self.shared.core)
    }

    /// Loads every queued message from the store (at start-up, after crash recovery).
    pub async fn load(&self) -> StoreResult<usize> {
        let rows = self.shared.store.queued_messages().await?;
        let n = rows.len();
        self.enqueue(rows.iter().map(Job::from_row).collect());
        Ok(n)
    }

    /// Adds accepted messages and wakes modems that can take them.
    pub fn enqueue(&self, jobs: Vec<Job>) {
        if jobs.is_empty() {
            return;
        }
        let now = self.shared.clock.now_ms();
        let mut wake: Vec<ModemId> = Vec::new();
        {
            let mut core = self.core();
            let mut groups: Vec<(Option<String>, usize)> = Vec::new();
            for job in jobs {
                // A pinned message can go through one modem only: wake that one, not any of its group.
                if let Some(modem) = &job.pinned {
                    wake.push(modem.clone());
                } else {
                    match groups.iter_mut().find(|(g, _)| *g == job.group) {
                        Some((_, n)) => *n += 1,
                        None => groups.push((job.group.clone(), 1)),
                    }
                }
                core.enqueue(job, now);
            }
            for (g, n) in groups {
                wake.extend(core.modems_to_wake(g.as_deref(), n, now));
            }
        }
        self.wake(&wake);
        self.shared.timer.notify_one();
    }

    fn wake(&self, modems: &[ModemId]) {
        let tasks = lock(&self.shared.tasks);
        for m in modems {
            if let Some(t) = tasks.get(m) {
                t.notify.notify_one();
            }
        }
    }

    /// Drops a cancelled message from the queue (a send already under way is not interrupted).
    pub fn cancel(&self, id: MessageId) {
        self.core().cancel(id);
    }

    /// Every modem with its group and whether it is ready.
    pub fn modem_roster(&self) -> Vec<(ModemId, String, bool)> {
        self.core().modem_roster()
    }

    /// Number of messages the dispatcher holds (queued, in flight, settling).
    pub fn queued(&self) -> usize {
        self.core().len()
    }

    /// Starts a sender task for a modem serving `group`. Its rate window and quotas are seeded with
    /// what it already sent (from the store).
    pub async fn add_modem(
        &self,
        sender: Arc<dyn ModemSender>,
        group: String,
        ready: bool,
    ) -> StoreResult<()> {
        let id = sender.id();
        let now = self.shared.clock.now_ms();
        let counts = self.sent_counts(&id, now).await?;
        self.core().add_modem(id.clone(), group, ready, now, counts);
        let notify = Arc::new(Notify::new());
        let shared = self.shared.clone();
        let task_notify = notify.clone();
        // Spawn while holding the task table: the task's first step checks that it is registered, and
        // on a multi-threaded runtime it may run before an insert made after the spawn.
        let mut tasks = lock(&self.shared.tasks);
        let handle = tokio::spawn(async move { modem_loop(shared, sender, task_notify).await });
        let old = tasks.insert(id, ModemTask { notify, handle });
        drop(tasks);
        if let Some(old) = old {
            old.handle.abort();
        }
        Ok(())
    }

    async fn sent_counts(&self, id: &ModemId, now: i64) -> StoreResult<SentCounts> {
        let store = &self.shared.store;
        let month_start = {
            let t = crate::store::ms_to_datetime(now);
            time::Date::from_calendar_date(t.year(), t.month(), 1)
                .map(|d| crate::store::datetime_to_ms(d.midnight().assume_utc()))
                .unwrap_or(now)
        };
        let day_start = now - now.rem_euclid(86_400_000);
        let count = |m: HashMap<String, u32>| m.get(&id.0).copied().unwrap_or(0);
        Ok(SentCounts {
            last_minute: count(store.sent_parts_since(now - core::RATE_WINDOW_MS).await?),
            today: count(store.sent_parts_since(day_start).await?),
            this_month: count(store.sent_parts_since(month_start).await?),
        })
    }

    /// Marks a modem ready (registered, able to send) or not.
    pub fn set_ready(&self, id: &ModemId, ready: bool) {
        let changed = self.core().set_ready(id, ready);
        if changed && ready {
            self.wake(std::slice::from_ref(id));
        }
    }

    /// Sets a modem's own rate limit and quotas (live: the next pick uses them) and wakes it, since a
    /// higher limit may let it send now.
    pub fn set_modem_limits(&self, id: &ModemId, limits: ModemLimits) {
        self.core().set_limits(id, limits);
        self.wake(std::slice::from_ref(id));
    }

    /// Moves a modem to another routing group (live) and wakes it for that group's messages.
    pub fn set_modem_group(&self, id: &ModemId, group: String) {
        self.core().set_group(id, group);
        self.wake(std::slice::from_ref(id));
    }

    /// The group a modem serves, if it is attached.
    pub fn modem_group(&self, id: &ModemId) -> Option<String> {
        self.core().group_of_modem(id).map(str::to_owned)
    }

    /// Messages waiting that this modem could send, plus the one it is sending (for display).
    pub fn queue_depth(&self, id: &ModemId) -> usize {
        self.core().queue_depth(id)
    }

    /// Stops a modem's sender task (after its current send) and forgets the modem.
    pub fn remove_modem(&self, id: &ModemId) {
        self.core().remove_modem(id);
        if let Some(task) = lock(&self.shared.tasks).remove(id) {
            task.notify.notify_one();
        }
    }

    /// Stops dispatching: no new sends start; sends under way get `grace` to finish and be recorded,
    /// then their tasks are aborted (those messages stay `sending` and become `uncertain` at the next
    /// start).
    pub async fn shutdown(&self, grace: Duration) {
        self.shared.stop.cancel();
        let tasks: Vec<(ModemId, ModemTask)> = lock(&self.shared.tasks).drain().collect();
        let deadline = tokio::time::Instant::now() + grace;
        for (id, task) in tasks {
            task.notify.notify_one();
            let abort = task.handle.abort_handle();
            if tokio::time::timeout_at(deadline, task.handle).await.is_err() {
                warn!(modem = %id, "send still running at shutdown; aborted");
                abort.abort();
            }
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding the lock cannot leave the scheduler half-updated in a way that matters more
    // than stopping would: keep serving.
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

async fn modem_loop(shared: Arc<Shared>, sender: Arc<dyn ModemSender>, notify: Arc<Notify>) {
    let id = sender.id();
    // Looked up once: recording a send is then a few atomic adds.
    let latency = shared.metrics.send_latency(&id.0);
    debug!(modem = %id, "sender task started");
    let mut recording: Option<JoinHandle<()>> = None;
    loop {
        if shared.stop.is_cancelled() || !lock(&shared.tasks).contains_key(&id) {
            break;
        }
        let now = shared.clock.now_ms();
        let pick = lock(&shared.core).pick(&id, now);
        match pick {
            Pick::Send(assignment) => {
                send_one(
                    &shared,
                    sender.as_ref(),
                    &id,
                    assignment.id,
                    &latency,
                    &mut recording,
                )
                .await
            }
            Pick::Wait(until) => {
                let sleep = async {
                    match until {
                        Some(t) => tokio::time::sleep_until(shared.clock.instant_at(t)).await,
                        None => std::future::pending().await,
                    }
                };
                tokio::select! {
                    _ = notify.notified() => {}
                    _ = sleep => {}
                    _ = shared.stop.cancelled() => break,
                }
            }
        }
    }
    if let Some(last) = recording {
        let _ = last.await;
    }
    debug!(modem = %id, "sender task stopped");
}

/// What the modem answered: the parts it sent (as indexes into the request) and the result.
fn classify(
    answer: Option<Result<Vec<crate::modem::PartSent>, SendError>>,
    timeout: Duration,
) -> (Vec<(usize, u8)>, SendResult) {
    match answer {
        None => (
            Vec::new(),
            SendResult::Uncertain(format!("the modem did not answer within {}s", timeout.as_secs())),
        ),
        Some(Ok(sent)) => (sent.iter().map(|p| (p.index, p.mr)).collect(), SendResult::Ok),
        Some(Err(e)) => {
            let sent = e.sent().iter().map(|p| (p.index, p.mr)).collect();
            let result = match e {
                SendError::Temporary { reason, .. } => SendResult::Temporary(reason),
                SendError::Permanent { reason, .. } => SendResult::Permanent(reason),
                SendError::Uncertain { reason, .. } => SendResult::Uncertain(reason),
            };
            (sent, result)
        }
    }
}

async fn send_one(
    shared: &Arc<Shared>,
    sender: &dyn ModemSender,
    modem: &ModemId,
    id: MessageId,
    latency: &Histogram,
    recording: &mut Option<JoinHandle<()>>,
) {
    let now = shared.clock.now_ms();
    let start = match shared.store.begin_attempt(id, modem.0.clone(), now).await {
        Ok(Some(start)) => start,
        Ok(None) => {
            debug!(modem = %modem, msg_id = %id, "message no longer queued; dropped");
            lock(&shared.core).abandon(id, modem);
            return;
        }
        Err(e) => {
            // Nothing was sent; treat like a temporary modem failure so the message is retried later.
            warn!(modem = %modem, msg_id = %id, error = %e, "cannot start an attempt");
            let mut core = lock(&shared.core);
            if let Resolution::Retry { .. } =
                core.complete(id, modem, 0, SendResult::Temporary(e.to_string()), now)
            {
                core.settle(id, now);
            }
            return;
        }
    };
    lock(&shared.core).started(modem, start.parts.len() as u32, shared.clock.now_ms());
    let request = SendRequest {
        parts: start
            .parts
            .iter()
            .map(|p| OutgoingPart {
                pdu: p.pdu.clone(),
                tpdu_len: p.tpdu_len,
            })
            .collect(),
    };
    debug!(modem = %modem, msg_id = %id, parts = request.parts.len(), attempt = start.attempt_no, "sending");
    let answer = if request.parts.is_empty() {
        Some(Ok(Vec::new()))
    } else {
        let started = std::time::Instant::now();
        let answer = tokio::time::timeout(shared.send_timeout, sender.send(request))
            .await
            .ok();
        latency.observe(started.elapsed());
        answer
    };
    let (sent, result) = classify(answer, shared.send_timeout);
    let sent: Vec<(u32, u8)> = sent
        .into_iter()
        .filter_map(|(index, mr)| start.parts.get(index).map(|p| (p.seq, mr)))
        .collect();
    let now = shared.clock.now_ms();
    let resolution = lock(&shared.core).complete(id, modem, sent.len() as u32, result, now);
    let outcome = match &resolution {
        Resolution::Sent => AttemptOutcome::Sent,
        Resolution::Retry { retry_at, error } => AttemptOutcome::Retry {
            next_attempt_at: *retry_at,
            error: error.clone(),
        },
        Resolution::Failed { error } => AttemptOutcome::Failed { error: error.clone() },
        Resolution::Uncertain { error } => AttemptOutcome::Uncertain { error: error.clone() },
    };
    match &outcome {
        AttemptOutcome::Sent => debug!(modem = %modem, msg_id = %id, "sent"),
        other => info!(modem = %modem, msg_id = %id, outcome = ?other, "send did not complete"),
    }
    let end = AttemptEnd {
        attempt_id: start.attempt_id,
        message_id: id,
        modem: modem.0.clone(),
        sent,
        outcome,
        now,
    };
    // Recording runs beside the modem's next pick, so that this record and the next attempt's start
    // share one group commit (one fsync per cycle, not two). At most one record per modem is pending.
    if let Some(previous) = recording.take() {
        let _ = previous.await;
    }
    let task_shared = shared.clone();
    let task_modem = modem.clone();
    *recording = Some(tokio::spawn(async move {
        record(task_shared, task_modem, id, end, resolution, now).await;
    }));
}

/// Persists an attempt's end and, for a retry, makes the message pickable again afterwards.
async fn record(
    shared: Arc<Shared>,
    modem: ModemId,
    id: MessageId,
    end: AttemptEnd,
    resolution: Resolution,
    now: i64,
) {
    if let Err(e) = shared.store.finish_attempt(end).await {
        // The message stays `sending` on disk and becomes uncertain at the next start: never resent
        // silently.
        warn!(modem = %modem, msg_id = %id, error = %e, "cannot record the attempt");
        lock(&shared.core).cancel(id);
    }
    shared.events_written.notify_waiters();
    if let Resolution::Retry { .. } = resolution {
        let wake = {
            let mut core = lock(&shared.core);
            let group = core.group_of(id);
            if core.settle(id, now) {
                shared.timer.notify_one();
                group
                    .map(|g| core.idle_modems_for(g.as_deref()))
                    .unwrap_or_default()
            } else {
                Vec::new()
            }
        };
        let tasks = lock(&shared.tasks);
        for m in wake {
            if let Some(t) = tasks.get(&m) {
                t.notify.notify_one();
            }
        }
    }
}

async fn expiry_loop(shared: Arc<Shared>) {
    loop {
        let now = shared.clock.now_ms();
        let expired = lock(&shared.core).take_expired(now);
        if !expired.is_empty() {
            match shared.store.expire_messages(expired, now).await {
                Ok(done) => {
                    for m in &done {
                        info!(msg_id = %m.id, "expired before it could be sent");
                    }
                    shared.events_written.notify_waiters();
                }
                Err(e) => warn!(error = %e, "cannot mark messages expired"),
            }
        }
        let next = lock(&shared.core).next_expiry();
        let sleep = async {
            match next {
                Some(t) => tokio::time::sleep_until(shared.clock.instant_at(t)).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = shared.timer.notified() => {}
            _ = sleep => {}
            _ = shared.stop.cancelled() => break,
        }
    }
}

#[cfg(test)]
mod tests;
