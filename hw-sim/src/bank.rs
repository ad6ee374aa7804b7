//! The bank: one task per simulated modem, each owning its PTY and its [`Engine`], a writer task per
//! PTY (so a DTE that stops reading never stalls the modem), stable links `DIR/modemN` with a JSON
//! manifest, and the virtual network that carries SMS and status reports between modems.
//!
//! Nothing polls: a modem task sleeps until its PTY is readable, a control command arrives, or its
//! engine's next deadline passes.
use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::json;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::SimError;
use crate::codec;
use crate::engine::{Counters, Effect, Engine, EngineConfig, Step};
use crate::events::EventSink;
use crate::fault::{DelayProfile, Fault, FaultSet, FaultSpec};
use crate::identity::Identity;
use crate::profile::{Profile, ProfileName};
use crate::pty::Pty;

/// Output chunks queued for one PTY before further output is dropped (nobody is reading).
const WRITE_QUEUE: usize = 256;
/// Bits per byte on an 8N1 serial line (start + 8 data + stop), for the slow-baud fault.
const BITS_PER_BYTE: u64 = 10;
/// Sent messages kept per modem for [`Control::sent_messages`]; older ones are dropped.
pub const SENT_LOG_CAP: usize = 10_000;
/// TS 23.040 §9.2.3.15: TP-Status 0x00, "short message received by the SME".
pub const STATUS_DELIVERED: u8 = 0x00;

/// How to start a bank.
#[derive(Debug, Clone)]
pub struct BankConfig {
    /// Number of modems.
    pub count: usize,
    /// Profile of every modem unless `profiles` says otherwise.
    pub profile: ProfileName,
    /// Per-modem profiles, used round-robin when not empty (`[generic, wavecom]` alternates).
    pub profiles: Vec<ProfileName>,
    /// Directory for the links `modemN` and `manifest.json`.
    pub dir: PathBuf,
    /// Where the control HTTP API listens (port 0 picks a free port), if at all.
    pub control_listen: Option<SocketAddr>,
    /// Number of modem 0; modem N gets this plus N.
    pub number_base: String,
    /// Seed for identities, jitter and fault probabilities.
    pub seed: u64,
    /// Network delay of every modem unless a fault overrides it.
    pub delay: DelayProfile,
    /// Faults switched on at start.
    pub faults: Vec<FaultSpec>,
    /// PIN each SIM asks for at power-up (none: SIMs are unlocked).
    pub pin: Option<String>,
    /// PUK that unblocks a SIM.
    pub puk: String,
    /// SMSC address the modems report.
    pub smsc: String,
    /// Time between the network accepting an SMS and its status report.
    pub report_delay: Duration,
    /// JSON-lines event log, if wanted.
    pub event_log: Option<PathBuf>,
    /// TP-Status of status reports at start (0 = delivered; TS 23.040 §9.2.3.15), changeable per modem
    /// with [`Control::set_report_status`].
    pub report_status: u8,
}

impl Default for BankConfig {
    fn default() -> Self {
        BankConfig {
            count: 1,
            profile: ProfileName::Generic,
            profiles: Vec::new(),
            dir: PathBuf::from("/tmp/hw-sim"),
            control_listen: None,
            number_base: "+48600000000".into(),
            seed: 1,
            delay: DelayProfile::Instant,
            faults: Vec::new(),
            pin: None,
            puk: "12345678".into(),
            smsc: "+48601000310".into(),
            report_delay: Duration::from_millis(200),
            event_log: None,
            report_status: STATUS_DELIVERED,
        }
    }
}

/// Where one modem is and who it is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModemInfo {
    /// Index in the bank.
    pub index: usize,
    /// Stable link (`DIR/modemN`) to point DTEs at.
    pub link: PathBuf,
    /// Current PTY slave path (changes on replug).
    pub pty: PathBuf,
    /// IMEI.
    pub imei: String,
    /// IMSI.
    pub imsi: String,
    /// ICCID.
    pub iccid: String,
    /// Subscriber number.
    pub number: String,
    /// Modem family.
    pub profile: ProfileName,
    /// Whether the device is plugged in.
    pub plugged: bool,
    /// Links of the family's other ports (`modemN.portK`: Quectel's DM, NMEA and modem ports), which
    /// open but never answer AT.
    pub extra_ports: Vec<PathBuf>,
}

/// One SMS-SUBMIT (one part) a modem sent, as the network saw it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SentMessage {
    /// Sending modem.
    pub modem: usize,
    /// TP-MR the modem answered.
    pub mr: u8,
    /// The TPDU in hex.
    pub tpdu: String,
    /// Destination address, if decoded.
    pub to: Option<String>,
    /// Text of this part, if decoded.
    pub text: Option<String>,
    /// Whether a status report was requested.
    pub status_report: bool,
    /// Concatenation (reference, total, sequence), if this is one part of several.
    pub concat: Option<(u16, u8, u8)>,
    /// Why decoding failed, if it did.
    pub decode_error: Option<String>,
    /// RFC 3339 time the network accepted it.
    pub at: String,
}

/// A whole message a modem sent: its parts joined.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AssembledMessage {
    /// Destination address.
    pub to: String,
    /// Full text.
    pub text: String,
    /// Number of parts.
    pub parts: usize,
    /// TP-MRs of the parts in order.
    pub mrs: Vec<u8>,
}

/// Run-time view of one modem.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModemStatus {
    /// Where and who.
    pub info: ModemInfo,
    /// Counters.
    pub counters: Counters,
    /// Faults switched on.
    pub faults: FaultSet,
}

/// Commands to a modem task.
#[derive(Debug)]
enum ModemCmd {
    Deliver { pdu: Vec<u8>, tpdu_len: usize },
    StatusReport { pdu: Vec<u8>, tpdu_len: usize },
    Urc(String),
    Fault(Fault, oneshot::Sender<Result<(), SimError>>),
    ClearFaults,
    ReportStatus(u8),
    Status(oneshot::Sender<ModemStatus>),
    Shutdown,
}

/// What every task shares.
#[derive(Debug)]
struct Shared {
    slots: Vec<Slot>,
    numbers: HashMap<String, usize>,
    events: EventSink,
    dir: PathBuf,
    report_delay: Duration,
    smsc: String,
    tasks_stop: CancellationToken,
}

#[derive(Debug)]
struct Slot {
    info: Mutex<ModemInfo>,
    tx: mpsc::UnboundedSender<ModemCmd>,
    sent: Mutex<Vec<SentMessage>>,
}

/// A running bank of simulated modems.
#[derive(Debug)]
pub struct Bank {
    shared: Arc<Shared>,
    tasks: Vec<JoinHandle<()>>,
    control_addr: Option<SocketAddr>,
    control_task: Option<JoinHandle<()>>,
    events_task: Option<JoinHandle<()>>,
}

/// A cheap, cloneable handle that tests, the CLI and the HTTP API use to drive the bank.
#[derive(Debug, Clone)]
pub struct Control {
    shared: Arc<Shared>,
}

impl Bank {
    /// Opens the PTYs, creates the links and the manifest, starts the modem tasks and (if asked) the
    /// control API.
    pub async fn start(config: BankConfig) -> Result<Bank, SimError> {
        if config.count == 0 {
            return Err(SimError::Config("count must be at least 1".into()));
        }
        std::fs::create_dir_all(&config.dir).map_err(|source| SimError::Link {
            path: config.dir.clone(),
            source,
        })?;
        let stop = CancellationToken::new();
        let (events, events_task) = match &config.event_log {
            Some(path) => {
                let (sink, task) = EventSink::open(path, stop.clone()).await?;
                (sink, Some(task))
            }
            None => (EventSink::none(), None),
        };
        let now = Instant::now();
        let mut engines = Vec::new();
        let mut ptys = Vec::new();
        let mut slots = Vec::new();
        let mut receivers = Vec::new();
        let mut numbers = HashMap::new();
        for index in 0..config.count {
            let profile_name = if config.profiles.is_empty() {
                config.profile
            } else {
                config.profiles[index % config.profiles.len()]
            };
            let identity = Identity::generate(index, config.seed, &config.number_base);
            let pty = Pty::open()?;
            let link = config.dir.join(format!("modem{index}"));
            make_link(pty.path(), &link)?;
            let info = ModemInfo {
                index,
                link,
                pty: pty.path().clone(),
                imei: identity.imei.clone(),
                imsi: identity.imsi.clone(),
                iccid: identity.iccid.clone(),
                number: identity.number.clone(),
                profile: profile_name,
                plugged: true,
                extra_ports: Vec::new(),
            };
            numbers.insert(normalise_number(&identity.number), index);
            let mut engine = Engine::new(
                EngineConfig {
                    profile: Profile::get(profile_name),
                    identity,
                    pin: config.pin.clone(),
                    puk: config.puk.clone(),
                    delay: config.delay,
                    seed: config.seed.wrapping_add(index as u64),
                    smsc: config.smsc.clone(),
                },
                now,
            );
            for spec in &config.faults {
                if spec.modem.is_none_or(|m| m == index) {
                    // Start-up faults shape the initial state; their output goes nowhere yet.
                    let _ = engine.set_fault(&spec.fault, now);
                }
            }
            let (tx, rx) = mpsc::unbounded_channel();
            slots.push(Slot {
                info: Mutex::new(info),
                tx,
                sent: Mutex::new(Vec::new()),
            });
            engines.push(engine);
            ptys.push(pty);
            receivers.push(rx);
        }
        let shared = Arc::new(Shared {
            slots,
            numbers,
            events,
            dir: config.dir.clone(),
            report_delay: config.report_delay,
            smsc: config.smsc.clone(),
            tasks_stop: stop,
        });
        let mut tasks = Vec::new();
        for (index, ((engine, pty), rx)) in engines.into_iter().zip(ptys).zip(receivers).enumerate() {
            let unplugged = config
                .faults
                .iter()
                .any(|s| s.modem.is_none_or(|m| m == index) && s.fault == Fault::Unplug);
            let extra = ExtraPorts::open(&shared, index)?;
            let task = ModemTask {
                index,
                shared: shared.clone(),
                engine,
                port: Some(Port::new(pty)),
                extra,
                rx,
                report_status: config.report_status,
            };
            tasks.push(tokio::spawn(task.run(unplugged)));
        }
        shared.write_manifest();
        let mut bank = Bank {
            shared,
            tasks,
            control_addr: None,
            control_task: None,
            events_task,
        };
        if let Some(addr) = config.control_listen {
            let listener = tokio::net::TcpListener::bind(addr)
                .await
                .map_err(|source| SimError::Listen { addr, source })?;
            bank.control_addr = listener.local_addr().ok();
            let control = bank.control();
            let stop = bank.shared.tasks_stop.clone();
            bank.control_task = Some(tokio::spawn(async move {
                if let Err(e) = crate::control::run(listener, control, stop.cancelled_owned()).await {
                    tracing::warn!(error = %e, "control API stopped");
                }
            }));
        }
        Ok(bank)
    }

    /// Where each modem is.
    pub fn modems(&self) -> Vec<ModemInfo> {
        self.control().modems()
    }

    /// A handle to drive the bank.
    pub fn control(&self) -> Control {
        Control {
            shared: self.shared.clone(),
        }
    }

    /// Where the control API listens, if it was started.
    pub fn control_addr(&self) -> Option<SocketAddr> {
        self.control_addr
    }

    /// Path of the JSON manifest.
    pub fn manifest_path(&self) -> PathBuf {
        self.shared.dir.join("manifest.json")
    }

    /// Stops every task, closes the PTYs and removes the links and the manifest.
    pub async fn shutdown(mut self) {
        self.stop_tasks();
        for task in std::mem::take(&mut self.tasks) {
            let _ = task.await;
        }
        self.shared.tasks_stop.cancel();
        if let Some(t) = self.control_task.take() {
            let _ = t.await;
        }
        self.remove_files();
        if let Some(t) = self.events_task.take() {
            let _ = t.await;
        }
    }

    fn stop_tasks(&self) {
        for slot in &self.shared.slots {
            let _ = slot.tx.send(ModemCmd::Shutdown);
        }
    }

    fn remove_files(&self) {
        for slot in &self.shared.slots {
            if let Ok(info) = slot.info.lock() {
                let _ = std::fs::remove_file(&info.link);
                for extra in &info.extra_ports {
                    let _ = std::fs::remove_file(extra);
                }
            }
        }
        let _ = std::fs::remove_file(self.shared.dir.join("manifest.json"));
    }
}

impl Drop for Bank {
    /// A bank dropped without [`Bank::shutdown`] still stops its tasks (they close their PTYs on their own)
    /// and removes its links, so no stale `modemN` points at a dead PTY.
    fn drop(&mut self) {
        if self.tasks.is_empty() {
            return;
        }
        self.stop_tasks();
        self.shared.tasks_stop.cancel();
        self.remove_files();
    }
}

/// Creates or replaces a symlink atomically (a DTE never sees it missing while it is being replaced).
fn make_link(target: &Path, link: &Path) -> Result<(), SimError> {
    let mut tmp_name = link.file_name().unwrap_or_default().to_os_string();
    tmp_name.push(".new");
    let tmp = link.with_file_name(tmp_name);
    let _ = std::fs::remove_file(&tmp);
    let err = |source| SimError::Link {
        path: link.to_path_buf(),
        source,
    };
    std::os::unix::fs::symlink(target, &tmp).map_err(err)?;
    std::fs::rename(&tmp, link).map_err(err)
}

/// Numbers are looked up without `+` and spaces, so `+48600000001` and `48600000001` match.
fn normalise_number(n: &str) -> String {
    n.chars().filter(char::is_ascii_alphanumeric).collect()
}

impl Shared {
    fn slot(&self, index: usize) -> Result<&Slot, SimError> {
        self.slots.get(index).ok_or(SimError::NoSuchModem(index))
    }

    fn infos(&self) -> Vec<ModemInfo> {
        self.slots
            .iter()
            .filter_map(|s| s.info.lock().ok().map(|i| i.clone()))
            .collect()
    }

    fn write_manifest(&self) {
        let path = self.dir.join("manifest.json");
        let tmp = self.dir.join("manifest.json.new");
        match serde_json::to_vec_pretty(&json!({ "modems": self.infos() })) {
            Ok(data) => {
                if let Err(e) = std::fs::write(&tmp, data).and_then(|()| std::fs::rename(&tmp, &path)) {
                    tracing::warn!(error = %e, "cannot write manifest");
                }
            }
            Err(e) => tracing::warn!(error = %e, "cannot serialise manifest"),
        }
    }

    fn send(&self, index: usize, cmd: ModemCmd) -> Result<(), SimError> {
        self.slot(index)?
            .tx
            .send(cmd)
            .map_err(|_| SimError::ModemGone(index))
    }

    /// The virtual network accepted an SMS-SUBMIT from `from`: record it, carry it to a simulated
    /// recipient, and schedule its status report.
    fn submitted(self: &Arc<Self>, from: usize, mr: u8, tpdu: &[u8], report_status: u8) {
        let at = now_rfc3339();
        let sent = match codec::decode_submit(tpdu) {
            Ok(s) => SentMessage {
                modem: from,
                mr,
                tpdu: hex::encode_upper(tpdu),
                to: Some(s.to.clone()),
                text: Some(s.text.clone()),
                status_report: s.status_report,
                concat: s.concat,
                decode_error: None,
                at,
            },
            Err(e) => SentMessage {
                modem: from,
                mr,
                tpdu: hex::encode_upper(tpdu),
                to: None,
                text: None,
                status_report: false,
                concat: None,
                decode_error: Some(e.to_string()),
                at,
            },
        };
        tracing::debug!(modem = from, mr, "network accepted SMS-SUBMIT");
        self.events.emit(
            from,
            "sent",
            json!({ "mr": mr, "to": sent.to, "text": sent.text, "concat": sent.concat, "tpdu": sent.tpdu,
                    "status_report": sent.status_report, "decode_error": sent.decode_error }),
        );
        if let Ok(slot) = self.slot(from)
            && let Ok(mut log) = slot.sent.lock()
        {
            if log.len() >= SENT_LOG_CAP {
                // A long-running bank keeps the newest messages only.
                let excess = log.len() + 1 - SENT_LOG_CAP;
                log.drain(..excess);
            }
            log.push(sent.clone());
        }
        let Some(to) = sent.to.clone() else { return };
        let from_number = self
            .slot(from)
            .ok()
            .and_then(|s| s.info.lock().ok().map(|i| i.number.clone()))
            .unwrap_or_default();
        if let Some(&dest) = self.numbers.get(&normalise_number(&to)) {
            match codec::deliver_from_submit(tpdu, &from_number, &self.smsc) {
                Ok((pdu, tpdu_len)) => {
                    self.events
                        .emit(dest, "delivered", json!({ "from": from_number, "mr": mr }));
                    let _ = self.send(dest, ModemCmd::Deliver { pdu, tpdu_len });
                }
                Err(e) => {
                    tracing::warn!(modem = from, error = %e, "cannot build DELIVER for a simulated recipient")
                }
            }
        }
        if sent.status_report {
            let shared = self.clone();
            let delay = self.report_delay;
            tokio::spawn(async move {
                tokio::time::sleep(delay).await;
                match codec::status_report(mr, &to, report_status, &shared.smsc) {
                    Ok((pdu, tpdu_len)) => {
                        shared.events.emit(
                            from,
                            "status-report",
                            json!({ "mr": mr, "to": to, "status": report_status }),
                        );
                        let _ = shared.send(from, ModemCmd::StatusReport { pdu, tpdu_len });
                    }
                    Err(e) => tracing::warn!(modem = from, error = %e, "cannot build STATUS-REPORT"),
                }
            });
        }
    }
}

fn now_rfc3339() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

impl Control {
    /// Where each modem is.
    pub fn modems(&self) -> Vec<ModemInfo> {
        self.shared.infos()
    }

    /// Number of modems.
    pub fn count(&self) -> usize {
        self.shared.slots.len()
    }

    /// Delivers an SMS from `from` (a number or an alphanumeric sender) to modem `index`, split into
    /// concatenated parts when it does not fit one.
    pub fn inject_sms(&self, index: usize, from: &str, text: &str) -> Result<usize, SimError> {
        self.shared.slot(index)?;
        let parts = codec::deliver_parts(from, text, &self.shared.smsc)
            .map_err(|e| SimError::Encode(e.to_string()))?;
        let n = parts.len();
        self.shared.events.emit(
            index,
            "inject",
            json!({ "from": from, "parts": n, "chars": text.chars().count() }),
        );
        for (pdu, tpdu_len) in parts {
            self.shared.send(index, ModemCmd::Deliver { pdu, tpdu_len })?;
        }
        Ok(n)
    }

    /// Delivers a ready-made SMS-DELIVER PDU (hex, including the SMSC field) to modem `index`.
    pub fn inject_pdu(&self, index: usize, pdu_hex: &str) -> Result<(), SimError> {
        let pdu = hex::decode(pdu_hex.trim()).map_err(|e| SimError::Encode(e.to_string()))?;
        let smsc = pdu.first().map(|n| 1 + usize::from(*n)).unwrap_or(0);
        let tpdu_len = pdu
            .len()
            .checked_sub(smsc)
            .filter(|l| *l > 0)
            .ok_or_else(|| SimError::Encode("PDU too short".into()))?;
        self.shared.send(index, ModemCmd::Deliver { pdu, tpdu_len })
    }

    /// Sends an unsolicited result code (one or more lines) to modem `index`'s DTE.
    pub fn send_urc(&self, index: usize, text: &str) -> Result<(), SimError> {
        self.shared.send(index, ModemCmd::Urc(text.to_string()))
    }

    /// Switches a fault on (or performs reboot / unplug / replug).
    pub async fn set_fault(&self, index: usize, fault: Fault) -> Result<(), SimError> {
        let (tx, rx) = oneshot::channel();
        self.shared.send(index, ModemCmd::Fault(fault, tx))?;
        rx.await.map_err(|_| SimError::ModemGone(index))?
    }

    /// Switches every fault of modem `index` off.
    pub fn clear_faults(&self, index: usize) -> Result<(), SimError> {
        self.shared.send(index, ModemCmd::ClearFaults)
    }

    /// TP-Status that status reports for SMS sent by modem `index` will carry (0 = delivered; e.g.
    /// 0x41 incompatible destination, 0x45 unknown subscriber … TS 23.040 §9.2.3.15).
    pub fn set_report_status(&self, index: usize, status: u8) -> Result<(), SimError> {
        self.shared.send(index, ModemCmd::ReportStatus(status))
    }

    /// Unplugs modem `index`: its PTY closes (the DTE reads EIO/HUP) and its link disappears.
    pub async fn unplug(&self, index: usize) -> Result<(), SimError> {
        self.set_fault(index, Fault::Unplug).await
    }

    /// Plugs modem `index` back in on a new PTY behind the same link.
    pub async fn replug(&self, index: usize) -> Result<(), SimError> {
        self.set_fault(index, Fault::Replug).await
    }

    /// Every SMS-SUBMIT part modem `index` has sent so far.
    pub fn sent_messages(&self, index: usize) -> Result<Vec<SentMessage>, SimError> {
        let slot = self.shared.slot(index)?;
        Ok(slot.sent.lock().map(|l| l.clone()).unwrap_or_default())
    }

    /// The messages modem `index` has sent, with concatenated parts joined (complete messages only).
    pub fn sent_texts(&self, index: usize) -> Result<Vec<AssembledMessage>, SimError> {
        Ok(assemble(&self.sent_messages(index)?))
    }

    /// Counters, faults and identity of modem `index`.
    pub async fn status(&self, index: usize) -> Result<ModemStatus, SimError> {
        let (tx, rx) = oneshot::channel();
        self.shared.send(index, ModemCmd::Status(tx))?;
        rx.await.map_err(|_| SimError::ModemGone(index))
    }

    /// Counters of modem `index`.
    pub async fn counters(&self, index: usize) -> Result<Counters, SimError> {
        Ok(self.status(index).await?.counters)
    }
}

/// Joins concatenated parts (by destination and reference) in the order they complete.
pub fn assemble(parts: &[SentMessage]) -> Vec<AssembledMessage> {
    let mut out = Vec::new();
    let mut pending: HashMap<(String, u16), Vec<&SentMessage>> = HashMap::new();
    for p in parts {
        let (Some(to), Some(text)) = (&p.to, &p.text) else {
            continue;
        };
        match p.concat {
            None => out.push(AssembledMessage {
                to: to.clone(),
                text: text.clone(),
                parts: 1,
                mrs: vec![p.mr],
            }),
            Some((reference, total, _)) => {
                let key = (to.clone(), reference);
                let entry = pending.entry(key.clone()).or_default();
                entry.push(p);
                if entry.len() == usize::from(total) {
                    let mut got = pending.remove(&key).unwrap_or_default();
                    got.sort_by_key(|m| m.concat.map(|c| c.2).unwrap_or(0));
                    out.push(AssembledMessage {
                        to: to.clone(),
                        text: got.iter().filter_map(|m| m.text.clone()).collect(),
                        parts: got.len(),
                        mrs: got.iter().map(|m| m.mr).collect(),
                    });
                }
            }
        }
    }
    out
}

/// One incarnation of a modem's device: the PTY and its writer task.
struct Port {
    pty: Arc<Pty>,
    tx: mpsc::Sender<(Vec<u8>, Option<Duration>)>,
    writer: JoinHandle<()>,
}

impl Port {
    fn new(pty: Pty) -> Port {
        let pty = Arc::new(pty);
        let (tx, mut rx) = mpsc::channel::<(Vec<u8>, Option<Duration>)>(WRITE_QUEUE);
        let writer_pty = pty.clone();
        let writer = tokio::spawn(async move {
            while let Some((bytes, byte_time)) = rx.recv().await {
                if let Err(e) = writer_pty.write_all(&bytes, byte_time).await {
                    tracing::debug!(error = %e, "PTY write failed");
                    break;
                }
            }
        });
        Port { pty, tx, writer }
    }
}

impl Drop for Port {
    fn drop(&mut self) {
        // The writer may be parked on a full PTY buffer; it must not keep the PTY open.
        self.writer.abort();
    }
}

/// The family's non-AT ports of one device incarnation: PTYs whose input is read and dropped.
struct ExtraPorts {
    stop: CancellationToken,
}

impl ExtraPorts {
    fn open(shared: &Arc<Shared>, index: usize) -> Result<ExtraPorts, SimError> {
        let stop = CancellationToken::new();
        let slot = shared.slot(index)?;
        let profile = slot.info.lock().map(|i| i.profile).unwrap_or_default();
        let mut links = Vec::new();
        for k in 1..=Profile::get(profile).extra_ports {
            let pty = Pty::open()?;
            let link = shared.dir.join(format!("modem{index}.port{k}"));
            make_link(pty.path(), &link)?;
            links.push(link);
            let stop = stop.clone();
            tokio::spawn(async move {
                let mut buf = [0u8; 256];
                loop {
                    tokio::select! {
                        () = stop.cancelled() => break,
                        r = pty.read(&mut buf) => if r.is_err() { break },
                    }
                }
            });
        }
        if let Ok(mut info) = slot.info.lock() {
            info.extra_ports = links;
        }
        Ok(ExtraPorts { stop })
    }

    fn close(&self, shared: &Shared, index: usize) {
        self.stop.cancel();
        if let Some(slot) = shared.slots.get(index)
            && let Ok(info) = slot.info.lock()
        {
            for link in &info.extra_ports {
                let _ = std::fs::remove_file(link);
            }
        }
    }
}

impl Drop for ExtraPorts {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

struct ModemTask {
    index: usize,
    shared: Arc<Shared>,
    engine: Engine,
    port: Option<Port>,
    extra: ExtraPorts,
    rx: mpsc::UnboundedReceiver<ModemCmd>,
    report_status: u8,
}

impl ModemTask {
    async fn run(mut self, start_unplugged: bool) {
        if start_unplugged {
            self.unplug();
        }
        let mut buf = vec![0u8; 4096];
        loop {
            let deadline = self.engine.next_deadline();
            let pty = self.port.as_ref().map(|p| p.pty.clone());
            let step = tokio::select! {
                r = async {
                    match &pty {
                        Some(p) => p.read(&mut buf).await,
                        None => std::future::pending().await,
                    }
                } => match r {
                    Ok(0) => continue,
                    Ok(n) => self.engine.input(&buf[..n], Instant::now()),
                    Err(e) => {
                        tracing::warn!(modem = self.index, error = %e, "PTY read failed; unplugging");
                        self.unplug();
                        continue;
                    }
                },
                cmd = self.rx.recv() => match cmd {
                    None | Some(ModemCmd::Shutdown) => break,
                    Some(cmd) => self.command(cmd),
                },
                () = async {
                    match deadline {
                        Some(d) => tokio::time::sleep_until(d).await,
                        None => std::future::pending().await,
                    }
                } => self.engine.on_timer(Instant::now()),
            };
            self.apply(step);
        }
    }

    fn command(&mut self, cmd: ModemCmd) -> Step {
        let now = Instant::now();
        match cmd {
            ModemCmd::Deliver { pdu, tpdu_len } => self.engine.deliver(&pdu, tpdu_len),
            ModemCmd::StatusReport { pdu, tpdu_len } => self.engine.status_report(&pdu, tpdu_len),
            ModemCmd::Urc(text) => self.engine.push_urc(&text),
            ModemCmd::ClearFaults => {
                self.shared.events.emit(self.index, "fault-clear", json!({}));
                self.engine.clear_faults()
            }
            ModemCmd::ReportStatus(s) => {
                self.report_status = s;
                Step::default()
            }
            ModemCmd::Status(reply) => {
                let info = self.shared.slots[self.index].info.lock().map(|i| i.clone()).ok();
                if let Some(info) = info {
                    let _ = reply.send(ModemStatus {
                        info,
                        counters: self.engine.counters(),
                        faults: self.engine.faults().clone(),
                    });
                }
                Step::default()
            }
            ModemCmd::Fault(fault, reply) => {
                self.shared.events.emit(
                    self.index,
                    "fault",
                    serde_json::to_value(&fault).unwrap_or_default(),
                );
                tracing::info!(modem = self.index, fault = ?fault, "fault injected");
                let (step, result) = match fault {
                    Fault::Unplug => {
                        self.unplug();
                        (Step::default(), Ok(()))
                    }
                    Fault::Replug => match self.replug() {
                        Ok(()) => (self.engine.reboot(now), Ok(())),
                        Err(e) => (Step::default(), Err(e)),
                    },
                    other => (self.engine.set_fault(&other, now), Ok(())),
                };
                let _ = reply.send(result);
                step
            }
            ModemCmd::Shutdown => Step::default(),
        }
    }

    fn unplug(&mut self) {
        self.port = None;
        self.extra.close(&self.shared, self.index);
        let slot = &self.shared.slots[self.index];
        if let Ok(mut info) = slot.info.lock() {
            info.plugged = false;
            let _ = std::fs::remove_file(&info.link);
        }
        self.shared.events.emit(self.index, "unplug", json!({}));
        self.shared.write_manifest();
    }

    fn replug(&mut self) -> Result<(), SimError> {
        if self.port.is_some() {
            return Ok(());
        }
        let pty = Pty::open()?;
        let slot = &self.shared.slots[self.index];
        if let Ok(mut info) = slot.info.lock() {
            make_link(pty.path(), &info.link)?;
            info.pty = pty.path().clone();
            info.plugged = true;
        }
        self.port = Some(Port::new(pty));
        self.extra = ExtraPorts::open(&self.shared, self.index)?;
        self.shared.events.emit(self.index, "replug", json!({}));
        self.shared.write_manifest();
        Ok(())
    }

    fn apply(&mut self, step: Step) {
        if !step.output.is_empty()
            && let Some(port) = &self.port
        {
            let byte_time = self
                .engine
                .faults()
                .slow_baud
                .filter(|b| *b > 0)
                .map(|baud| Duration::from_micros(BITS_PER_BYTE * 1_000_000 / u64::from(baud)));
            if port.tx.try_send((step.output, byte_time)).is_err() {
                tracing::debug!(modem = self.index, "output dropped: nobody reads the port");
            }
        }
        let events = &self.shared.events;
        for effect in step.effects {
            match effect {
                Effect::Submitted { mr, tpdu } => {
                    self.shared.submitted(self.index, mr, &tpdu, self.report_status)
                }
                Effect::UnknownCommand(cmd) => {
                    tracing::info!(modem = self.index, command = %cmd, "unknown AT command answered ERROR");
                    events.emit(self.index, "unknown-command", json!({ "command": cmd }));
                }
                Effect::CommandLine { line, commands } => {
                    if events.enabled() {
                        events.emit(
                            self.index,
                            "command",
                            json!({ "line": line, "commands": commands }),
                        );
                    }
                }
                Effect::SendFailed { code } => events.emit(self.index, "send-failed", json!({ "cms": code })),
                Effect::Stored { memory, index } => {
                    events.emit(self.index, "stored", json!({ "memory": memory, "index": index }));
                }
                Effect::Rejected { reason } => {
                    events.emit(self.index, "rejected", json!({ "reason": reason }))
                }
                Effect::Ussd { request } => events.emit(self.index, "ussd", json!({ "request": request })),
                Effect::Rebooted => events.emit(self.index, "reboot", json!({})),
            }
        }
    }
}
