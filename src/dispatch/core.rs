//! The dispatcher's decision core: pure, no I/O, no clock of its own (every call gets `now`, UTC ms).
//!
//! Model: each modem *pulls* work when it is free ([`Scheduler::pick`]), so the least-loaded modem is
//! simply the one asking, and a slow modem only delays itself. For a modem the core picks:
//! 1. only messages routed to the modem's group or to no group, whose `send_at` has come, that are not
//!    expired, not pinned to another modem (a partly sent message stays on its modem so the handset
//!    can reassemble it), and not waiting for a retry *on this modem* (failover: other modems may take
//!    a temporarily failed message at once);
//! 2. the highest priority first; within a priority the account served least recently (fairness), and
//!    within an account the oldest message;
//! 3. only if the modem's SIM has room for all parts in its per-minute window and its daily/monthly
//!    quota; otherwise it says how long to wait.
//!
//! After a send, [`Scheduler::complete`] turns the modem's answer into a resolution (sent, retry with
//! exponential backoff, failed, uncertain); the shell persists it and then calls [`Scheduler::settle`]
//! to make a retried message pickable again — never before its new state is on disk.
use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};

use crate::config::{DispatchSettings, UncertainPolicy};
use crate::modem::ModemId;
use crate::store::{AccountId, MessageId};

/// Length of the per-SIM rate window.
pub const RATE_WINDOW_MS: i64 = 60_000;
const DAY_MS: i64 = 86_400_000;

/// Limits and retry rules, from `[dispatch]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    pub max_attempts: u32,
    pub retry_base_ms: i64,
    pub retry_max_ms: i64,
    /// Parts per SIM per minute; 0 = unlimited.
    pub per_minute: u32,
    /// Parts per SIM per UTC day; 0 = unlimited.
    pub daily: u32,
    /// Parts per SIM per UTC month; 0 = unlimited.
    pub monthly: u32,
    pub uncertain: UncertainPolicy,
    /// Arrival window within which longer messages go first; 0 = strict arrival order.
    pub long_first_window_ms: i64,
}

impl Policy {
    /// The policy configured in `[dispatch]`.
    pub fn from_settings(s: &DispatchSettings) -> Policy {
        Policy {
            max_attempts: s.max_attempts,
            retry_base_ms: (s.retry_base_seconds as i64).saturating_mul(1000),
            retry_max_ms: (s.retry_max_seconds as i64).saturating_mul(1000),
            per_minute: s.per_sim_per_minute,
            daily: s.daily_quota,
            monthly: s.monthly_quota,
            uncertain: s.uncertain_policy,
            long_first_window_ms: (s.long_first_window_seconds as i64).saturating_mul(1000),
        }
    }

    /// Delay before attempt `attempts + 1` after `attempts` failed: base·2^(attempts−1), capped.
    pub fn backoff_ms(&self, attempts: u32) -> i64 {
        let shift = attempts.saturating_sub(1).min(30);
        self.retry_base_ms
            .saturating_mul(1i64 << shift)
            .min(self.retry_max_ms)
    }
}

/// A message waiting to be sent, as the core sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Job {
    pub id: MessageId,
    pub account: AccountId,
    /// Higher goes first.
    pub priority: i32,
    /// Modem group; `None` = any modem.
    pub group: Option<String>,
    /// Parts still to send.
    pub parts: u32,
    /// Not before (UTC ms); 0 = at once.
    pub send_at: i64,
    /// Expires at (UTC ms).
    pub valid_until: Option<i64>,
    /// Attempts made so far.
    pub attempts: u32,
    /// A failed modem may retry it only from this time on.
    pub retry_at: i64,
    /// Modems whose attempt failed temporarily; they wait for `retry_at`, others need not.
    pub avoid: Vec<ModemId>,
    /// Some parts went out through this modem: the rest must too.
    pub pinned: Option<ModemId>,
}

/// What a modem should do now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pick {
    /// Send this message.
    Send(Assignment),
    /// Nothing to do; ask again at this time (UTC ms) or when woken (`None` = only when woken).
    Wait(Option<i64>),
}

/// A message assigned to a modem.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assignment {
    pub id: MessageId,
    pub account: AccountId,
    /// Parts reserved in the rate window and quotas.
    pub parts: u32,
}

/// How a send ended, as the modem reported it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SendResult {
    Ok,
    Temporary(String),
    Permanent(String),
    Uncertain(String),
}

/// What to record for a finished send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resolution {
    /// Every part is out.
    Sent,
    /// Queue again; a failed modem waits until `retry_at` (UTC ms).
    Retry { retry_at: i64, error: String },
    /// Give up.
    Failed { error: String },
    /// May or may not have gone out; not resent.
    Uncertain { error: String },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum JobState {
    /// In the ready index or the scheduled set.
    Queued,
    /// Assigned to a modem.
    InFlight,
    /// Resolved as retry; waiting for the shell to persist that before it is pickable again.
    Settling,
}

#[derive(Debug)]
struct Entry {
    job: Job,
    state: JobState,
    key: QueueKey,
    cancelled: bool,
}

/// Where a message stands in its account's queue (within one group and priority): arrival window first,
/// then the longest message, then arrival. Serving the longest first within a window keeps a bulk send
/// from ending with a few modems still working through multipart messages while the rest of the bank is
/// idle (longest-processing-time-first); the windows keep arrival order, so the reordering is bounded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct QueueKey {
    window: i64,
    longest: Reverse<u32>,
    seq: u64,
}

/// Per-modem limits set by a technician; `None` keeps the `[dispatch]` value (0 there = unlimited).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ModemLimits {
    /// Parts per minute.
    pub per_minute: Option<u32>,
    /// Parts per UTC day.
    pub daily: Option<u32>,
    /// Parts per UTC month.
    pub monthly: Option<u32>,
}

impl ModemLimits {
    /// The limits in force for a modem: its own where set, else the policy's.
    fn effective(&self, p: &Policy) -> (u32, u32, u32) {
        (
            self.per_minute.unwrap_or(p.per_minute),
            self.daily.unwrap_or(p.daily),
            self.monthly.unwrap_or(p.monthly),
        )
    }
}

#[derive(Debug)]
struct ModemSlot {
    group: String,
    limits: ModemLimits,
    ready: bool,
    busy: Option<MessageId>,
    /// Woken for new work and not yet asked for it: not woken again meanwhile, so a burst of messages
    /// wakes different modems.
    woken: bool,
    /// Send times of parts in the last minute (one entry per part).
    window: VecDeque<i64>,
    day: (i64, u32),
    month: (i64, u32),
}

type AccountQueues = BTreeMap<AccountId, BTreeSet<(QueueKey, MessageId)>>;

/// The dispatcher's state: queued messages and modems.
#[derive(Debug)]
pub struct Scheduler {
    policy: Policy,
    jobs: HashMap<MessageId, Entry>,
    /// Pickable messages: group → priority (highest first) → account → (queue position, id).
    ready: HashMap<Option<String>, BTreeMap<Reverse<i32>, AccountQueues>>,
    /// Messages whose `send_at` has not come yet.
    scheduled: BTreeSet<(i64, MessageId)>,
    /// Queued messages with a validity end.
    expiry: BTreeSet<(i64, MessageId)>,
    modems: HashMap<ModemId, ModemSlot>,
    /// Service order of accounts (fairness): a higher tick = served more recently.
    served: HashMap<AccountId, u64>,
    tick: u64,
    seq: u64,
}

/// UTC day number of a time.
fn day_of(ms: i64) -> i64 {
    ms.div_euclid(DAY_MS)
}

/// UTC month number (year·12 + month−1) of a time.
fn month_of(ms: i64) -> i64 {
    let t = crate::store::ms_to_datetime(ms);
    i64::from(t.year()) * 12 + i64::from(u8::from(t.month())) - 1
}

/// Start (UTC ms) of the month after month number `m`.
fn next_month_start(m: i64) -> i64 {
    let next = m + 1;
    let (year, month) = (next.div_euclid(12), next.rem_euclid(12) as u8 + 1);
    let month = time::Month::try_from(month).unwrap_or(time::Month::January);
    time::Date::from_calendar_date(year as i32, month, 1)
        .map(|d| crate::store::datetime_to_ms(d.midnight().assume_utc()))
        .unwrap_or(i64::MAX)
}

impl Scheduler {
    /// An empty scheduler.
    pub fn new(policy: Policy) -> Scheduler {
        Scheduler {
            policy,
            jobs: HashMap::new(),
            ready: HashMap::new(),
            scheduled: BTreeSet::new(),
            expiry: BTreeSet::new(),
            modems: HashMap::new(),
            served: HashMap::new(),
            tick: 0,
            seq: 0,
        }
    }

    /// The policy in force.
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// Messages the core holds (queued, in flight or settling).
    pub fn len(&self) -> usize {
        self.jobs.len()
    }

    /// Whether the core holds no message.
    pub fn is_empty(&self) -> bool {
        self.jobs.is_empty()
    }

    /// Whether the message is known and currently assigned to a modem.
    pub fn is_in_flight(&self, id: MessageId) -> bool {
        self.jobs.get(&id).is_some_and(|e| e.state == JobState::InFlight)
    }

    /// Adds or replaces a modem. `sent_today` / `sent_this_month` / `sent_last_minute` seed its quotas
    /// and rate window from the database after a restart.
    pub fn add_modem(&mut self, id: ModemId, group: String, ready: bool, now: i64, counts: SentCounts) {
        let mut window = VecDeque::new();
        for _ in 0..counts.last_minute {
            window.push_back(now);
        }
        self.modems.insert(
            id,
            ModemSlot {
                group,
                limits: ModemLimits::default(),
                ready,
                busy: None,
                woken: false,
                window,
                day: (day_of(now), counts.today),
                month: (month_of(now), counts.this_month),
            },
        );
    }

    /// Removes a modem (unplugged for good).
    pub fn remove_modem(&mut self, id: &ModemId) {
        self.modems.remove(id);
    }

    /// Sets a modem's own rate limit and quotas.
    pub fn set_limits(&mut self, id: &ModemId, limits: ModemLimits) {
        if let Some(m) = self.modems.get_mut(id) {
            m.limits = limits;
        }
    }

    /// Moves a modem to another group (routing); a message it is sending finishes there.
    pub fn set_group(&mut self, id: &ModemId, group: String) {
        if let Some(m) = self.modems.get_mut(id) {
            m.group = group;
        }
    }

    /// The group a modem serves.
    pub fn group_of_modem(&self, id: &ModemId) -> Option<&str> {
        self.modems.get(id).map(|m| m.group.as_str())
    }

    /// Messages this modem could be given: pickable or scheduled ones of its group and of no group not
    /// pinned to another modem, plus the one it is sending. Counted for display, not for decisions.
    pub fn queue_depth(&self, id: &ModemId) -> usize {
        let Some(slot) = self.modems.get(id) else {
            return 0;
        };
        let group = Some(slot.group.clone());
        self.jobs
            .values()
            .filter(|e| e.state != JobState::Settling && !e.cancelled)
            .filter(|e| e.job.group.is_none() || e.job.group == group)
            .filter(|e| e.job.pinned.as_ref().is_none_or(|p| p == id))
            .filter(|e| e.state == JobState::Queued || slot.busy == Some(e.job.id))
            .count()
    }

    /// Marks a modem ready or not; returns whether it changed.
    pub fn set_ready(&mut self, id: &ModemId, ready: bool) -> bool {
        match self.modems.get_mut(id) {
            Some(m) if m.ready != ready => {
                m.ready = ready;
                true
            }
            _ => false,
        }
    }

    /// Every modem with its group and whether it is ready (a cluster node publishes these and claims
    /// work for them).
    pub fn modem_roster(&self) -> Vec<(ModemId, String, bool)> {
        let mut out: Vec<_> = self
            .modems
            .iter()
            .map(|(id, m)| (id.clone(), m.group.clone(), m.ready))
            .collect();
        out.sort();
        out
    }

    /// Ids of ready modems that are idle and could take a message of `group` (to wake them).
    pub fn idle_modems_for(&self, group: Option<&str>) -> Vec<ModemId> {
        self.modems
            .iter()
            .filter(|(_, m)| m.ready && m.busy.is_none() && group.is_none_or(|g| g == m.group))
            .map(|(id, _)| id.clone())
            .collect()
    }

    /// Up to `count` idle, ready modems serving `group` whose SIM has room now: the ones worth waking for
    /// `count` new messages (waking every idle modem for each message would make them all contend for it).
    pub fn modems_to_wake(&mut self, group: Option<&str>, count: usize, now: i64) -> Vec<ModemId> {
        let p = &self.policy;
        let chosen: Vec<ModemId> = self
            .modems
            .iter()
            .filter(|(_, m)| m.ready && m.busy.is_none() && !m.woken && group.is_none_or(|g| g == m.group))
            .filter(|(_, m)| {
                let (per_minute, daily, monthly) = m.limits.effective(p);
                let recent = m.window.iter().filter(|t| **t > now - RATE_WINDOW_MS).count() as u32;
                let day_used = if m.day.0 == day_of(now) { m.day.1 } else { 0 };
                let month_used = if m.month.0 == month_of(now) { m.month.1 } else { 0 };
                (per_minute == 0 || recent < per_minute)
                    && (daily == 0 || day_used < daily)
                    && (monthly == 0 || month_used < monthly)
            })
            .take(count)
            .map(|(id, _)| id.clone())
            .collect();
        for id in &chosen {
            if let Some(m) = self.modems.get_mut(id) {
                m.woken = true;
            }
        }
        chosen
    }

    /// Adds a message to the queue.
    pub fn enqueue(&mut self, job: Job, now: i64) {
        let id = job.id;
        self.seq += 1;
        if let Some(v) = job.valid_until {
            self.expiry.insert((v, id));
        }
        // Without a window every message shares window 0 and length 0: plain arrival order.
        let w = self.policy.long_first_window_ms;
        let (window, parts) = if w > 0 {
            (now.div_euclid(w), job.parts)
        } else {
            (0, 0)
        };
        let key = QueueKey {
            window,
            longest: Reverse(parts),
            seq: self.seq,
        };
        let entry = Entry {
            job,
            state: JobState::Queued,
            key,
            cancelled: false,
        };
        self.jobs.insert(id, entry);
        self.place(id, now);
    }

    /// Puts a queued job into the ready index or the scheduled set.
    fn place(&mut self, id: MessageId, now: i64) {
        let Some(e) = self.jobs.get(&id) else { return };
        let start = e
            .job
            .send_at
            .max(if e.job.pinned.is_some() { e.job.retry_at } else { 0 });
        if start > now {
            self.scheduled.insert((start, id));
            return;
        }
        self.ready
            .entry(e.job.group.clone())
            .or_default()
            .entry(Reverse(e.job.priority))
            .or_default()
            .entry(e.job.account)
            .or_default()
            .insert((e.key, id));
    }

    fn unready(&mut self, id: MessageId) {
        let Some(e) = self.jobs.get(&id) else { return };
        let (group, prio, account, key) = (
            e.job.group.clone(),
            Reverse(e.job.priority),
            e.job.account,
            (e.key, id),
        );
        if let Some(levels) = self.ready.get_mut(&group) {
            if let Some(accounts) = levels.get_mut(&prio) {
                if let Some(set) = accounts.get_mut(&account) {
                    set.remove(&key);
                    if set.is_empty() {
                        accounts.remove(&account);
                    }
                }
                if accounts.is_empty() {
                    levels.remove(&prio);
                }
            }
            if levels.is_empty() {
                self.ready.remove(&group);
            }
        }
        let start = e.job.send_at.max(e.job.retry_at);
        self.scheduled.remove(&(start, id));
        self.scheduled.remove(&(e.job.send_at, id));
    }

    fn forget(&mut self, id: MessageId) -> Option<Job> {
        self.unready(id);
        let e = self.jobs.remove(&id)?;
        if let Some(v) = e.job.valid_until {
            self.expiry.remove(&(v, id));
        }
        Some(e.job)
    }

    /// Removes a message (cancelled). A message in flight is marked so that it is dropped when its send
    /// ends. Returns whether it was queued (not in flight).
    pub fn cancel(&mut self, id: MessageId) -> bool {
        match self.jobs.get_mut(&id) {
            Some(e) if e.state == JobState::Queued => {
                self.forget(id);
                true
            }
            Some(e) => {
                e.cancelled = true;
                false
            }
            None => false,
        }
    }

    /// Moves messages whose `send_at` came into the ready index.
    fn promote(&mut self, now: i64) {
        while let Some(&(at, id)) = self.scheduled.first() {
            if at > now {
                break;
            }
            self.scheduled.pop_first();
            if let Some(e) = self.jobs.get_mut(&id)
                && e.state == JobState::Queued
            {
                // Past its start now: place it in the ready index.
                let key = e.key;
                let job = &e.job;
                self.ready
                    .entry(job.group.clone())
                    .or_default()
                    .entry(Reverse(job.priority))
                    .or_default()
                    .entry(job.account)
                    .or_default()
                    .insert((key, id));
            }
        }
    }

    /// Removes and returns queued messages whose validity ended at `now` (to be marked expired).
    pub fn take_expired(&mut self, now: i64) -> Vec<MessageId> {
        let mut out = Vec::new();
        let due: Vec<(i64, MessageId)> = self
            .expiry
            .iter()
            .take_while(|(at, _)| *at <= now)
            .copied()
            .collect();
        for (at, id) in due {
            let queued = self.jobs.get(&id).is_some_and(|e| e.state == JobState::Queued);
            if queued {
                self.forget(id);
                out.push(id);
            } else {
                // In flight: it expires only if the attempt is retried; checked again at settle.
                self.expiry.remove(&(at, id));
            }
        }
        out
    }

    /// Earliest time something timed becomes due: a scheduled start or a validity end.
    pub fn next_timer(&self) -> Option<i64> {
        let s = self.scheduled.first().map(|(at, _)| *at);
        let e = self.expiry.first().map(|(at, _)| *at);
        match (s, e) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Earliest validity end of a queued message.
    pub fn next_expiry(&self) -> Option<i64> {
        self.expiry.first().map(|(at, _)| *at)
    }

    /// Room (parts) the modem's SIM has right now, and when more room appears if it has none.
    fn room(&mut self, modem: &ModemId, now: i64) -> (u32, Option<i64>) {
        let Some(slot) = self.modems.get_mut(modem) else {
            return (0, None);
        };
        let (per_minute, daily, monthly) = slot.limits.effective(&self.policy);
        while slot.window.front().is_some_and(|t| *t <= now - RATE_WINDOW_MS) {
            slot.window.pop_front();
        }
        if slot.day.0 != day_of(now) {
            slot.day = (day_of(now), 0);
        }
        if slot.month.0 != month_of(now) {
            slot.month = (month_of(now), 0);
        }
        let mut room = u32::MAX;
        let mut wake: Option<i64> = None;
        if per_minute > 0 {
            let used = slot.window.len() as u32;
            room = room.min(per_minute.saturating_sub(used));
            if let Some(first) = slot.window.front() {
                wake = Some(first + RATE_WINDOW_MS);
            }
        }
        if daily > 0 {
            let left = daily.saturating_sub(slot.day.1);
            if left == 0 {
                wake = Some((slot.day.0 + 1) * DAY_MS);
            }
            room = room.min(left);
        }
        if monthly > 0 {
            let left = monthly.saturating_sub(slot.month.1);
            if left == 0 {
                wake = Some(next_month_start(slot.month.0));
            }
            room = room.min(left);
        }
        (room, wake)
    }

    /// Chooses the next message for `modem` at `now`.
    pub fn pick(&mut self, modem: &ModemId, now: i64) -> Pick {
        self.promote(now);
        if let Some(slot) = self.modems.get_mut(modem) {
            slot.woken = false;
        }
        let Some(slot) = self.modems.get(modem) else {
            return Pick::Wait(None);
        };
        if !slot.ready || slot.busy.is_some() {
            return Pick::Wait(None);
        }
        let group = slot.group.clone();
        let (room, room_wake) = self.room(modem, now);
        let window_empty = self.modems.get(modem).is_some_and(|m| m.window.is_empty());
        let mut wake = self.next_timer();
        let mut note = |t: i64| wake = Some(wake.map_or(t, |w| w.min(t)));
        if room == 0 {
            if let Some(t) = room_wake {
                note(t);
            }
            return Pick::Wait(wake);
        }
        let per_minute = self
            .modems
            .get(modem)
            .map_or(self.policy.per_minute, |m| m.limits.effective(&self.policy).0);
        let queues: Vec<&BTreeMap<Reverse<i32>, AccountQueues>> =
            [self.ready.get(&Some(group.clone())), self.ready.get(&None)]
                .into_iter()
                .flatten()
                .collect();
        let mut priorities: Vec<Reverse<i32>> = queues.iter().flat_map(|q| q.keys().copied()).collect();
        priorities.sort();
        priorities.dedup();
        let mut chosen: Option<MessageId> = None;
        let mut rate_blocked = false;
        'levels: for prio in priorities {
            let mut accounts: Vec<AccountId> = queues
                .iter()
                .filter_map(|q| q.get(&prio))
                .flat_map(|a| a.keys().copied())
                .collect();
            accounts.sort_by_key(|a| (self.served.get(a).copied().unwrap_or(0), *a));
            accounts.dedup();
            for account in accounts {
                // The account's messages for this modem's group and for any modem, merged lazily in
                // queue order: a pick stops at the first eligible one instead of sorting the backlog.
                let sets: Vec<&BTreeSet<(QueueKey, MessageId)>> = queues
                    .iter()
                    .filter_map(|q| q.get(&prio).and_then(|a| a.get(&account)))
                    .collect();
                let candidates =
                    MergeInOrder::new(sets.iter().map(|s| s.iter().copied().peekable()).collect());
                for (_, id) in candidates {
                    let Some(e) = self.jobs.get(&id) else { continue };
                    let job = &e.job;
                    if job.valid_until.is_some_and(|v| v <= now) {
                        continue; // take_expired removes it
                    }
                    if job.pinned.as_ref().is_some_and(|p| p != modem) {
                        continue;
                    }
                    if job.retry_at > now && (job.avoid.contains(modem) || job.pinned.is_some()) {
                        note(job.retry_at);
                        continue;
                    }
                    // A message longer than the whole per-minute budget goes out alone in an empty window.
                    let fits =
                        job.parts <= room || (per_minute > 0 && job.parts > per_minute && window_empty);
                    if !fits {
                        rate_blocked = true;
                        continue;
                    }
                    chosen = Some(id);
                    break 'levels;
                }
            }
        }
        let Some(id) = chosen else {
            if rate_blocked && let Some(t) = room_wake {
                note(t);
            }
            return Pick::Wait(wake);
        };
        self.unready(id);
        self.tick += 1;
        let Some(e) = self.jobs.get_mut(&id) else {
            return Pick::Wait(wake);
        };
        e.state = JobState::InFlight;
        e.job.attempts += 1;
        let (account, parts) = (e.job.account, e.job.parts);
        self.served.insert(account, self.tick);
        if let Some(slot) = self.modems.get_mut(modem) {
            slot.busy = Some(id);
            for _ in 0..parts {
                slot.window.push_back(now);
            }
            slot.day.1 += parts;
            slot.month.1 += parts;
        }
        Pick::Send(Assignment { id, account, parts })
    }

    /// Re-stamps the rate-window entries of the assignment `modem` is about to send with the time the
    /// send really starts (the attempt was persisted first), so the window measures sends, not picks.
    pub fn started(&mut self, modem: &ModemId, parts: u32, now: i64) {
        if let Some(slot) = self.modems.get_mut(modem) {
            let n = slot.window.len();
            for t in slot.window.iter_mut().skip(n.saturating_sub(parts as usize)) {
                *t = (*t).max(now);
            }
        }
    }

    /// Gives an assignment back untouched (e.g. the store refused to start the attempt because the
    /// message was cancelled meanwhile): frees the modem and refunds its reservations.
    pub fn abandon(&mut self, id: MessageId, modem: &ModemId) {
        let parts = self.jobs.get(&id).map(|e| e.job.parts).unwrap_or(0);
        self.release_modem(modem, parts);
        self.forget(id);
    }

    fn release_modem(&mut self, modem: &ModemId, unsent: u32) {
        if let Some(slot) = self.modems.get_mut(modem) {
            slot.busy = None;
            for _ in 0..unsent {
                slot.window.pop_back();
            }
            slot.day.1 = slot.day.1.saturating_sub(unsent);
            slot.month.1 = slot.month.1.saturating_sub(unsent);
        }
    }

    /// Turns a modem's answer into a resolution. `sent` parts went out in this attempt. A retried
    /// message stays unpickable until [`Scheduler::settle`].
    pub fn complete(
        &mut self,
        id: MessageId,
        modem: &ModemId,
        sent: u32,
        result: SendResult,
        now: i64,
    ) -> Resolution {
        let reserved = self.jobs.get(&id).map(|e| e.job.parts).unwrap_or(sent);
        self.release_modem(modem, reserved.saturating_sub(sent));
        let policy = self.policy.clone();
        let Some(e) = self.jobs.get_mut(&id) else {
            return Resolution::Failed {
                error: "unknown message".into(),
            };
        };
        e.job.parts = e.job.parts.saturating_sub(sent);
        if sent > 0 {
            e.job.pinned = Some(modem.clone());
        }
        let attempts = e.job.attempts;
        let retry = |reason: String, e: &mut Entry| {
            if attempts >= policy.max_attempts {
                return Resolution::Failed {
                    error: format!("{reason} (gave up after {attempts} attempts)"),
                };
            }
            let retry_at = now + policy.backoff_ms(attempts);
            if !e.job.avoid.contains(modem) {
                e.job.avoid.push(modem.clone());
            }
            e.job.retry_at = retry_at;
            e.state = JobState::Settling;
            Resolution::Retry {
                retry_at,
                error: reason,
            }
        };
        let resolution = match result {
            SendResult::Ok if e.job.parts == 0 => Resolution::Sent,
            SendResult::Ok => retry("the modem reported fewer parts sent than requested".into(), e),
            SendResult::Permanent(reason) => Resolution::Failed { error: reason },
            SendResult::Uncertain(reason) => match policy.uncertain {
                UncertainPolicy::Report => Resolution::Uncertain { error: reason },
                UncertainPolicy::Resend => retry(reason, e),
            },
            SendResult::Temporary(reason) => retry(reason, e),
        };
        if !matches!(resolution, Resolution::Retry { .. }) {
            self.forget(id);
        }
        resolution
    }

    /// Makes a retried message pickable again once its new state is persisted. Returns false when it
    /// was dropped instead (cancelled meanwhile).
    pub fn settle(&mut self, id: MessageId, now: i64) -> bool {
        match self.jobs.get_mut(&id) {
            Some(e) if e.state == JobState::Settling && !e.cancelled => {
                e.state = JobState::Queued;
                if let Some(v) = e.job.valid_until {
                    // take_expired skipped it while it was in flight.
                    self.expiry.insert((v, id));
                }
                self.place(id, now);
                true
            }
            Some(_) => {
                self.forget(id);
                false
            }
            None => false,
        }
    }

    /// The group a queued message is routed to (to know whom to wake).
    pub fn group_of(&self, id: MessageId) -> Option<Option<String>> {
        self.jobs.get(&id).map(|e| e.job.group.clone())
    }
}

/// Merges ascending iterators into one ascending iterator.
struct MergeInOrder<I: Iterator<Item = (QueueKey, MessageId)>> {
    sources: Vec<std::iter::Peekable<I>>,
}

impl<I: Iterator<Item = (QueueKey, MessageId)>> MergeInOrder<I> {
    fn new(sources: Vec<std::iter::Peekable<I>>) -> Self {
        MergeInOrder { sources }
    }
}

impl<I: Iterator<Item = (QueueKey, MessageId)>> Iterator for MergeInOrder<I> {
    type Item = (QueueKey, MessageId);
    fn next(&mut self) -> Option<Self::Item> {
        let (mut best, mut best_key) = (None, None);
        for (i, s) in self.sources.iter_mut().enumerate() {
            if let Some(item) = s.peek()
                && best_key.is_none_or(|k| *item < k)
            {
                best_key = Some(*item);
                best = Some(i);
            }
        }
        best.and_then(|i| self.sources.get_mut(i)).and_then(|s| s.next())
    }
}

/// Parts a modem already sent, to seed its windows after a restart.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SentCounts {
    pub last_minute: u32,
    pub today: u32,
    pub this_month: u32,
}

#[cfg(test)]
mod tests;
