//! Technician control of the modems of a running gateway: the live view of each modem, raw AT for
//! diagnosis (admins, audited, checked by [`crate::modem::guard`]), restart, USSD, a test SMS through a
//! chosen modem, and per-modem settings (PIN, SMSC, rate limit, quotas, group) kept by IMEI and applied
//! live. One implementation for REST, panel and CLI (which goes through REST).
//!
//! Everything that talks to a modem goes through its actor's request queue, so a technician's command
//! never interleaves with a send. Every action is written to the audit log with who, from where and
//! what (PIN arguments masked), also when it is refused or fails.
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tracing::{info, warn};

use super::submit::{self, SubmitRequest};
use super::{AppError, AppResult, Gateway, Message, ModemRecord, Principal, redact_modem};
use crate::dispatch::core::{Job, ModemLimits};
use crate::modem::{ModemError, ModemHandle, ModemId, ModemPhase, SimSettings, UssdReply, guard};
use crate::store::{self, ModemSettings, StoredModemSettings};

/// Raw AT: how long a command may take when the caller does not say.
pub const AT_DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
/// Raw AT: the longest a caller may ask for (a network command such as `AT+COPS=?` takes minutes on
/// some modems; longer would hold the modem's queue).
pub const AT_MAX_TIMEOUT: Duration = Duration::from_secs(180);
/// How long a test SMS may wait in the queue before it expires (the modem may be down).
pub const TEST_SMS_VALIDITY: Duration = Duration::from_secs(15 * 60);
/// Highest per-modem limit accepted (parts per minute, day or month).
pub const MAX_LIMIT: u32 = 10_000_000;
/// Longest group name.
const MAX_GROUP: usize = 64;

/// A modem as technicians see it: the stored record (identity, counters, last reported state) with the
/// live state of its actor, its queue and its settings.
#[derive(Debug, Clone, Serialize)]
pub struct ModemView {
    #[serde(flatten)]
    pub record: ModemRecord,
    /// An actor runs for it in this process now.
    pub live: bool,
    /// Messages waiting that this modem could send, plus the one it is sending.
    pub queue_depth: usize,
    /// Requests (sends, USSD, AT) waiting in the actor's queue.
    pub pending_requests: usize,
    /// Technician settings (operators only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub settings: Option<SettingsView>,
}

/// Stored settings as shown: the PIN only as set or not.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SettingsView {
    pub imei: String,
    pub pin_set: bool,
    pub smsc: Option<String>,
    pub per_minute: Option<u32>,
    pub daily_quota: Option<u32>,
    pub monthly_quota: Option<u32>,
    pub group: Option<String>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub updated_at: Option<time::OffsetDateTime>,
    pub updated_by: Option<String>,
}

impl SettingsView {
    fn of(imei: &str, stored: Option<StoredModemSettings>) -> SettingsView {
        match stored {
            None => SettingsView {
                imei: imei.to_owned(),
                ..SettingsView::default()
            },
            Some(s) => SettingsView {
                imei: s.imei,
                pin_set: s.settings.pin.is_some(),
                smsc: s.settings.smsc,
                per_minute: s.settings.per_minute,
                daily_quota: s.settings.daily_quota,
                monthly_quota: s.settings.monthly_quota,
                group: s.settings.group,
                updated_at: Some(s.updated_at),
                updated_by: s.updated_by,
            },
        }
    }
}

/// New settings of a modem. Every field but `pin` replaces the stored value (`null`/absent = use the
/// config file's or `[dispatch]`'s). `pin`: absent keeps the stored PIN, `""` removes it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SettingsInput {
    #[serde(default)]
    pub pin: Option<String>,
    #[serde(default)]
    pub smsc: Option<String>,
    #[serde(default)]
    pub per_minute: Option<u32>,
    #[serde(default)]
    pub daily_quota: Option<u32>,
    #[serde(default)]
    pub monthly_quota: Option<u32>,
    #[serde(default)]
    pub group: Option<String>,
}

/// The answer to a raw AT command: what the modem said, also when it said `ERROR`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AtOutcome {
    /// The line sent (PIN arguments masked).
    pub command: String,
    /// Information lines.
    pub lines: Vec<String>,
    /// The final result code (`OK`, `ERROR`, `+CME ERROR: 10`, ...).
    pub result: String,
    /// Whether the final result is a success.
    pub ok: bool,
}

/// Who asked, for the audit log.
#[derive(Debug, Clone, Copy)]
pub struct Requester<'a> {
    pub who: &'a Principal,
    /// Client address as the surface saw it.
    pub source: Option<&'a str>,
}

fn modem_error(e: ModemError) -> AppError {
    match e {
        ModemError::NotReady { phase } => {
            AppError::Unavailable(format!("the modem is not in service ({phase:?})"))
        }
        other => AppError::Unavailable(other.to_string()),
    }
}

/// Validates settings input into what is stored (`keep_pin` is the stored PIN, kept when `pin` is
/// absent).
pub fn validate_settings(input: &SettingsInput, keep_pin: Option<String>) -> AppResult<ModemSettings> {
    let pin = match input.pin.as_deref().map(str::trim) {
        None => keep_pin,
        Some("") => None,
        Some(p) => {
            // A SIM PIN is 4 to 8 digits (ETSI TS 102 221, PIN verification data).
            if !(4..=8).contains(&p.len()) || !p.bytes().all(|b| b.is_ascii_digit()) {
                return Err(AppError::validation("pin", "a SIM PIN is 4 to 8 digits"));
            }
            Some(p.to_owned())
        }
    };
    let smsc = match input.smsc.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(s) => {
            let digits = s.strip_prefix('+').unwrap_or(s);
            // An SMSC address is at most 20 digits (TS 23.040 §9.1.2.5: 10 octets of semi-octets).
            if digits.is_empty() || digits.len() > 20 || !digits.bytes().all(|b| b.is_ascii_digit()) {
                return Err(AppError::validation(
                    "smsc",
                    "an SMSC number is + and up to 20 digits, e.g. +48601000310",
                ));
            }
            Some(s.to_owned())
        }
    };
    for (field, value) in [
        ("per_minute", input.per_minute),
        ("daily_quota", input.daily_quota),
        ("monthly_quota", input.monthly_quota),
    ] {
        if value.is_some_and(|v| v > MAX_LIMIT) {
            return Err(AppError::validation(
                field,
                format!("at most {MAX_LIMIT} (0 = unlimited)"),
            ));
        }
    }
    let group = match input.group.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(g) => {
            let ok = g.len() <= MAX_GROUP
                && g.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b));
            if !ok {
                return Err(AppError::validation(
                    "group",
                    format!("1 to {MAX_GROUP} letters, digits, '.', '_' or '-'"),
                ));
            }
            Some(g.to_owned())
        }
    };
    Ok(ModemSettings {
        pin,
        smsc,
        per_minute: input.per_minute,
        daily_quota: input.daily_quota,
        monthly_quota: input.monthly_quota,
        group,
    })
}

fn limits_of(s: &ModemSettings) -> ModemLimits {
    ModemLimits {
        per_minute: s.per_minute,
        daily: s.daily_quota,
        monthly: s.monthly_quota,
    }
}

fn sim_of(s: &ModemSettings) -> SimSettings {
    SimSettings {
        pin: s.pin.clone(),
        smsc: s.smsc.clone(),
    }
}

impl Gateway {
    /// The running actor of a modem named by IMEI, name or port (also a stored modem's name).
    async fn modem_handle(&self, id: &str) -> AppResult<ModemHandle> {
        let bank = self
            .inner
            .modems
            .bank
            .get()
            .ok_or_else(|| AppError::Unavailable("no modems run in this process".into()))?;
        if let Some(h) = bank.get(id) {
            return Ok(h);
        }
        let record = self
            .inner
            .store
            .modem(id)
            .await?
            .ok_or(AppError::NotFound("modem"))?;
        bank.get(&record.id)
            .or_else(|| record.port.as_deref().and_then(|p| bank.get(p)))
            .ok_or_else(|| AppError::Unavailable(format!("modem {} is not running", record.id)))
    }

    /// The IMEI of a modem named by IMEI, name or port: from its actor, else from its stored state.
    async fn modem_imei(&self, id: &str) -> AppResult<String> {
        if let Some(bank) = self.inner.modems.bank.get()
            && let Some(imei) = bank.get(id).and_then(|h| h.snapshot().imei)
        {
            return Ok(imei);
        }
        let record = self
            .inner
            .store
            .modem(id)
            .await?
            .ok_or(AppError::NotFound("modem"))?;
        record
            .state
            .get("imei")
            .and_then(|v| v.as_str())
            .map(str::to_owned)
            .ok_or_else(|| AppError::Conflict("the modem has not told its IMEI yet".into()))
    }

    fn view_of(&self, mut record: ModemRecord, settings: Option<SettingsView>) -> ModemView {
        let handle = self.inner.modems.bank.get().and_then(|b| {
            b.get(&record.id)
                .or_else(|| record.port.as_deref().and_then(|p| b.get(p)))
        });
        let mut pending_requests = 0;
        if let Some(h) = &handle {
            let live = h.snapshot();
            record.up = live.phase == ModemPhase::Ready;
            record.sent_parts = record.sent_parts.max(live.sent_parts);
            record.state = serde_json::to_value(&live).unwrap_or(record.state);
            pending_requests = h.pending_requests();
        }
        let queue_depth = self.inner.dispatcher.queue_depth(&ModemId(record.id.clone()));
        ModemView {
            record,
            live: handle.is_some(),
            queue_depth,
            pending_requests,
            settings,
        }
    }

    /// Every known modem with its live state. Clients see no SIM identities and no settings.
    pub async fn modem_views(&self, who: &Principal) -> AppResult<Vec<ModemView>> {
        let records = self.inner.store.modems().await?;
        let settings = if who.is_operator() {
            self.inner.store.all_modem_settings().await?
        } else {
            Vec::new()
        };
        Ok(records
            .into_iter()
            .map(|mut r| {
                let s = who.is_operator().then(|| {
                    let imei = r.state.get("imei").and_then(|v| v.as_str()).unwrap_or(&r.id);
                    let stored = settings.iter().find(|s| s.imei == imei).cloned();
                    SettingsView::of(imei, stored)
                });
                if !who.is_operator() {
                    redact_modem(&mut r);
                }
                let mut v = self.view_of(r, s);
                if !who.is_operator() {
                    redact_modem(&mut v.record);
                }
                v
            })
            .collect())
    }

    /// One modem (by IMEI, name or port) with its live state.
    pub async fn modem_view(&self, who: &Principal, id: &str) -> AppResult<ModemView> {
        let record = match self.inner.store.modem(id).await? {
            Some(r) => r,
            None => {
                // Known by its port only (e.g. before it told its IMEI).
                let handle = self
                    .modem_handle(id)
                    .await
                    .map_err(|_| AppError::NotFound("modem"))?;
                let s = handle.snapshot();
                self.inner
                    .store
                    .modem(&s.id.0)
                    .await?
                    .ok_or(AppError::NotFound("modem"))?
            }
        };
        let settings = if who.is_operator() {
            let imei = record
                .state
                .get("imei")
                .and_then(|v| v.as_str())
                .unwrap_or(&record.id)
                .to_owned();
            let stored = self.inner.store.modem_settings(&imei).await?;
            Some(SettingsView::of(&imei, stored))
        } else {
            None
        };
        let mut v = self.view_of(record, settings);
        if !who.is_operator() {
            redact_modem(&mut v.record);
        }
        Ok(v)
    }

    /// Runs a raw AT command on a modem (admins only) through its actor's queue, within `timeout`
    /// (default [`AT_DEFAULT_TIMEOUT`], at most [`AT_MAX_TIMEOUT`]). Lines that would break the actor's
    /// setup are refused ([`guard`]). Every call is audited, refused and failed ones too.
    pub async fn modem_at(
        &self,
        by: Requester<'_>,
        id: &str,
        line: &str,
        timeout: Option<Duration>,
    ) -> AppResult<AtOutcome> {
        by.who.require_admin()?;
        let shown = guard::redact(line);
        let limit = timeout.unwrap_or(AT_DEFAULT_TIMEOUT);
        if limit.is_zero() || limit > AT_MAX_TIMEOUT {
            return Err(AppError::validation(
                "timeout_seconds",
                format!("must be 1 to {}", AT_MAX_TIMEOUT.as_secs()),
            ));
        }
        let checked = match guard::check(line) {
            Ok(l) => l,
            Err(refusal) => {
                self.audit_modem(
                    by,
                    "modem.at.refused",
                    id,
                    format!("command={shown} reason={}", refusal.reason),
                )
                .await;
                return Err(AppError::validation("command", refusal.to_string()));
            }
        };
        let handle = self.modem_handle(id).await?;
        // The whole call is bounded, queue wait included; the actor drops a command whose caller left.
        let result = match tokio::time::timeout(limit, handle.at_within(&checked, limit)).await {
            Ok(r) => r.map_err(modem_error),
            Err(_) => Err(AppError::Unavailable(format!(
                "no answer within {}s",
                limit.as_secs()
            ))),
        };
        let details = match &result {
            Ok(reply) => format!("command={shown} result={}", reply.result),
            Err(e) => format!("command={shown} error={e}"),
        };
        self.audit_modem(by, "modem.at", id, details).await;
        let reply = result?;
        Ok(AtOutcome {
            command: shown,
            ok: reply.result.is_ok(),
            result: reply.result.to_string(),
            lines: reply.lines,
        })
    }

    /// Restarts a modem's session (operators): the actor closes the port and brings the modem up again
    /// (probe, init, identity, PIN, network), as after a reboot.
    pub async fn modem_restart(&self, by: Requester<'_>, id: &str) -> AppResult<()> {
        by.who.require_operator()?;
        let handle = self.modem_handle(id).await?;
        let result = handle.restart().await.map_err(modem_error);
        let details = match &result {
            Ok(()) => "requested".to_owned(),
            Err(e) => format!("error={e}"),
        };
        self.audit_modem(by, "modem.restart", id, details).await;
        result
    }

    /// Sends a USSD code through a modem (operators) and returns the network's answer; audited.
    pub async fn modem_ussd(&self, by: Requester<'_>, id: &str, code: &str) -> AppResult<UssdReply> {
        by.who.require_operator()?;
        let valid = !code.is_empty()
            && code.len() <= 160
            && code.bytes().all(|b| b.is_ascii_digit() || b == b'*' || b == b'#');
        if !valid {
            return Err(AppError::validation(
                "code",
                "a USSD code has only digits, * and # (e.g. *100#)",
            ));
        }
        let handle = self.modem_handle(id).await?;
        let result = handle.ussd(code).await.map_err(modem_error);
        let details = match &result {
            Ok(r) => format!("code={code} status={}", r.status),
            Err(e) => format!("code={code} error={e}"),
        };
        self.audit_modem(by, "modem.ussd", id, details).await;
        result
    }

    /// Queues a test SMS from the caller's account that only this modem may send (operators). It goes
    /// through the normal queue (rate limits, records, delivery report) and expires after
    /// [`TEST_SMS_VALIDITY`] if the modem cannot send it.
    pub async fn modem_test_sms(
        &self,
        by: Requester<'_>,
        id: &str,
        to: &str,
        text: &str,
    ) -> AppResult<Message> {
        by.who.require_operator()?;
        let handle = self.modem_handle(id).await?;
        let state = handle.snapshot();
        if state.imei.is_none() {
            return Err(AppError::Unavailable(
                "the modem has not been identified yet".into(),
            ));
        }
        let modem = state.id;
        let mut request = SubmitRequest::new(vec![to.to_owned()], text);
        request.validity_seconds = Some(TEST_SMS_VALIDITY.as_secs());
        request.delivery_report = true;
        request.client_ref = Some(format!("test via {modem}"));
        let now = self.now_ms();
        let prepared = submit::prepare(
            &self.inner.settings,
            &self.live_route_rules(),
            &by.who.login,
            &request,
            now,
        )
        .map_err(|e| match e {
            AppError::Validation { field, message } if field.starts_with("recipients") => {
                AppError::validation("to", message)
            }
            other => other,
        })?;
        let Some(mut message) = prepared.messages.into_iter().next() else {
            return Err(AppError::validation("to", "needs a number"));
        };
        // Pinned instead of routed: any group, this modem only.
        message.group = None;
        let submitted = self
            .inner
            .store
            .submit_pinned(by.who.account_id, message, &modem.0, now)
            .await?;
        let store::Submitted::Created(mut messages) = submitted else {
            return Err(AppError::Internal("a test SMS was replayed".into()));
        };
        let Some(m) = messages.pop() else {
            return Err(AppError::Internal("a test SMS was not stored".into()));
        };
        self.inner.dispatcher.enqueue(vec![Job {
            id: m.id,
            account: m.account_id,
            priority: m.priority,
            group: None,
            parts: m.parts,
            send_at: 0,
            valid_until: m.valid_until.map(store::datetime_to_ms),
            attempts: 0,
            retry_at: 0,
            avoid: Vec::new(),
            pinned: Some(modem.clone()),
        }]);
        self.audit_modem(
            by,
            "modem.test_sms",
            &modem.0,
            format!("to={} message={}", m.recipient, m.id),
        )
        .await;
        Ok(m)
    }

    /// The stored settings of a modem (operators).
    pub async fn modem_settings(&self, who: &Principal, id: &str) -> AppResult<SettingsView> {
        who.require_operator()?;
        let imei = self.modem_imei(id).await?;
        let stored = self.inner.store.modem_settings(&imei).await?;
        Ok(SettingsView::of(&imei, stored))
    }

    /// Replaces a modem's settings (operators): stored by IMEI first, then applied live — rate limit,
    /// quotas and group in the dispatcher at once, the SMSC on the modem at once when it is in service,
    /// the PIN when the SIM next asks (a modem failed for want of a PIN retries now).
    pub async fn set_modem_settings(
        &self,
        by: Requester<'_>,
        id: &str,
        input: SettingsInput,
    ) -> AppResult<SettingsView> {
        by.who.require_operator()?;
        let imei = self.modem_imei(id).await?;
        let old = self.inner.store.modem_settings(&imei).await?;
        let old_pin = old.as_ref().and_then(|o| o.settings.pin.clone());
        let settings = validate_settings(&input, old_pin.clone())?;
        let pin_change = match (&old_pin, &settings.pin) {
            (a, b) if a == b => "unchanged",
            (_, None) => "removed",
            _ => "set",
        };
        let stored = self
            .inner
            .store
            .put_modem_settings(&imei, settings.clone(), Some(by.who.login.clone()), self.now_ms())
            .await?;
        self.apply_modem_settings(&imei, &settings).await;
        self.audit_modem(
            by,
            "modem.settings",
            &imei,
            format!(
                "pin={pin_change} smsc={} per_minute={:?} daily_quota={:?} monthly_quota={:?} group={:?}",
                settings.smsc.as_deref().unwrap_or("-"),
                settings.per_minute,
                settings.daily_quota,
                settings.monthly_quota,
                settings.group
            ),
        )
        .await;
        Ok(SettingsView::of(&imei, Some(stored)))
    }

    /// Applies stored settings to the running parts: the actors' SIM table, the dispatcher's limits
    /// and group, the inbox ownership group; then asks the modem's actor to reconfigure.
    async fn apply_modem_settings(&self, imei: &str, settings: &ModemSettings) {
        self.inner.modems.overrides.set(imei, sim_of(settings));
        let id = ModemId(imei.to_owned());
        self.inner.dispatcher.set_modem_limits(&id, limits_of(settings));
        if self.inner.dispatcher.modem_group(&id).is_some() {
            let port = self
                .inner
                .modems
                .bank
                .get()
                .and_then(|b| b.get(imei))
                .map(|h| h.snapshot().port)
                .unwrap_or_default();
            let group = settings
                .group
                .clone()
                .unwrap_or_else(|| self.group_for_port(&port));
            self.inner.inbound.set_group(id.clone(), group.clone());
            self.inner.dispatcher.set_modem_group(&id, group);
        }
        if let Some(handle) = self.inner.modems.bank.get().and_then(|b| b.get(imei)) {
            match handle.reconfigure().await {
                Ok(()) | Err(ModemError::NotReady { .. }) => {}
                Err(e) => warn!(modem = %imei, error = %e, "new modem settings not applied yet"),
            }
        }
    }

    /// Loads every stored modem setting into the actors' SIM table (at start, before the actors run).
    pub(super) async fn load_modem_settings(&self) -> AppResult<()> {
        for s in self.inner.store.all_modem_settings().await? {
            self.inner.modems.overrides.set(&s.imei, sim_of(&s.settings));
        }
        Ok(())
    }

    /// The stored group and limits of a modem joining the dispatcher.
    pub(super) async fn stored_routing(&self, imei: &str) -> (Option<String>, ModemLimits) {
        match self.inner.store.modem_settings(imei).await {
            Ok(Some(s)) => (s.settings.group.clone(), limits_of(&s.settings)),
            Ok(None) => (None, ModemLimits::default()),
            Err(e) => {
                warn!(modem = %imei, error = %e, "cannot read the modem's settings");
                (None, ModemLimits::default())
            }
        }
    }

    async fn audit_modem(&self, by: Requester<'_>, action: &str, modem: &str, details: String) {
        info!(modem, action, login = %by.who.login, "modem action");
        self.audit(
            Some(by.who),
            None,
            by.source.map(str::to_owned),
            action,
            Some(format!("modem={modem} {details}")),
        )
        .await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(f: impl FnOnce(&mut SettingsInput)) -> SettingsInput {
        let mut i = SettingsInput::default();
        f(&mut i);
        i
    }

    #[test]
    fn settings_validation_table() {
        let check = |i: SettingsInput, keep: Option<&str>, expect: Result<Option<&str>, &str>| {
            let got = validate_settings(&i, keep.map(str::to_owned));
            match (got, expect) {
                (Ok(s), Ok(pin)) => assert_eq!(s.pin.as_deref(), pin, "{i:?}"),
                (Err(AppError::Validation { field, .. }), Err(f)) => assert_eq!(field, f, "{i:?}"),
                (other, want) => panic!("{i:?}: got {other:?}, want {want:?}"),
            }
        };
        check(input(|_| {}), Some("1234"), Ok(Some("1234")));
        check(input(|i| i.pin = Some(String::new())), Some("1234"), Ok(None));
        check(input(|i| i.pin = Some("0000".into())), None, Ok(Some("0000")));
        check(input(|i| i.pin = Some("12".into())), None, Err("pin"));
        check(input(|i| i.pin = Some("12ab".into())), None, Err("pin"));
        check(input(|i| i.smsc = Some("+48601000310".into())), None, Ok(None));
        check(input(|i| i.smsc = Some("+48 601".into())), None, Err("smsc"));
        check(input(|i| i.smsc = Some("+".into())), None, Err("smsc"));
        check(
            input(|i| i.per_minute = Some(MAX_LIMIT + 1)),
            None,
            Err("per_minute"),
        );
        check(input(|i| i.monthly_quota = Some(0)), None, Ok(None));
        check(input(|i| i.group = Some("orange-pl".into())), None, Ok(None));
        check(input(|i| i.group = Some("bad group".into())), None, Err("group"));
        let s = validate_settings(&input(|i| i.group = Some("  ".into())), None).unwrap();
        assert_eq!(s.group, None);
    }
}
