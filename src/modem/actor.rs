//! The modem actor: one task per modem that owns its port and runs its life cycle
//! (open → probe → init → identity → PIN → network → ready), serves send/USSD/raw-AT requests one at a
//! time, turns URCs into events, polls health, sweeps the storage, and recovers from hangs, reboots and
//! unplugs on its own.
//!
//! Invariants:
//! - Only this task touches the port; everyone else talks to it through [`ModemHandle`].
//! - A received SMS is deleted from the SIM (or acknowledged with `+CNMA`) only after the gateway fired the
//!   event's ack; a dropped ack leaves it on the SIM for the next sweep, and a slot is never announced twice
//!   while its ack is pending.
//! - A part whose PDU was written but not answered is reported as [`SendError::Uncertain`] and never resent
//!   here; recovery never resends anything.
use std::collections::{BTreeSet, HashSet, VecDeque};
use std::path::Path;
use std::time::Duration;

use futures::future::BoxFuture;
use futures::stream::FuturesUnordered;
use futures::{FutureExt, StreamExt};
use tokio::sync::{broadcast, mpsc, oneshot, watch};
use tokio::time::{Instant, sleep, sleep_until, timeout_at};
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

use super::config::ModemConfig;
use super::overrides::SimSettings;
use super::port::{Port, is_gone};
use super::types::*;
use crate::at::codec::{CTRL_Z, ESC};
use crate::at::command::{
    AtCommand, CMGL_ALL, Identity, ListMessages, OperatorQuery, OwnNumber, PinQuery, PinRetries, PinState,
    Raw, ReadMessage, RegistrationQuery, ServiceQuery, SetStorage, SignalQuality, Simple, reg_stat,
};
use crate::at::{CmeError, CmsError, Expect, FinalResult, Frame, Urc};

// The actor's methods, by concern; this file keeps the handle, the types and the run loop.
mod bring_up;
mod commands;
mod receive;
mod recovery;
mod send;
mod serve;

/// TP-Message-Type-Indicator mask of the first TPDU octet (3GPP TS 23.040 §9.2.3.1).
const TP_MTI_MASK: u8 = 0x03;
/// TP-MTI of an SMS-STATUS-REPORT in the SC → MS direction (23.040 §9.2.3.1).
const TP_MTI_STATUS_REPORT: u8 = 0x02;
/// `<stat>` values 2 and 3 of 27.005 §3.1: stored outgoing messages, not ours to deliver.
const STAT_STORED_UNSENT: u8 = 2;
const STAT_STORED_SENT: u8 = 3;
/// `+CUSD` `<m>` = 1: "further user action required" (27.007 §7.15): the session stays open.
pub const USSD_ACTION_REQUIRED: u8 = 1;
/// How long to read and discard after ESC before probing again, so late answers do not match new commands.
const DRAIN_AFTER_ESC: Duration = Duration::from_millis(300);
/// Requests waiting for the actor.
const REQUEST_QUEUE: usize = 32;
/// How often the presence of an absent device node is checked.
const ABSENT_POLL: Duration = Duration::from_millis(250);
/// Restarts in a row without reaching service before a restart counts as a failure (with backoff).
const MAX_QUICK_RESTARTS: u32 = 3;
/// How long to wait for the SIM to become ready after the PIN was accepted.
const SIM_READY_POLL: Duration = Duration::from_millis(500);

/// A USSD answer from the network (27.007 §7.15).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct UssdReply {
    /// `<m>`: 0 no further action, 1 further action required (reply with another code), 2 terminated by
    /// network, 3 other client responded, 4 not supported, 5 network timeout.
    pub status: u8,
    /// The text, decoded from UCS-2 hex when the DCS says so.
    pub text: Option<String>,
    /// Data coding scheme (3GPP TS 23.038 §5).
    pub dcs: Option<u8>,
}

/// The answer to a raw AT command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AtReply {
    /// Information lines.
    pub lines: Vec<String>,
    /// The final result code.
    pub result: FinalResult,
}

/// Why a request to the modem failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ModemError {
    /// The modem is not in service (still starting, recovering, failed or absent).
    #[error("modem not ready ({phase:?})")]
    NotReady {
        /// Its phase at the time.
        phase: ModemPhase,
    },
    /// The actor has stopped (shutdown).
    #[error("modem actor stopped")]
    Stopped,
    /// The modem did not answer in time; it is being recovered.
    #[error("no answer to {0} in time")]
    Timeout(String),
    /// The modem answered with an error.
    #[error("{command} failed: {result}")]
    Rejected {
        /// The command (secrets masked).
        command: String,
        /// Its final result.
        result: FinalResult,
    },
    /// The answer could not be understood.
    #[error("{0}")]
    Parse(String),
    /// The device went away or the port failed.
    #[error("port: {0}")]
    Port(String),
    /// The network did not answer a USSD request.
    #[error("no USSD reply within {0:?}")]
    NoUssdReply(Duration),
}

pub(crate) enum Request {
    Send {
        request: SendRequest,
        reply: oneshot::Sender<Result<Vec<PartSent>, SendError>>,
    },
    Ussd {
        code: String,
        reply: oneshot::Sender<Result<UssdReply, ModemError>>,
    },
    At {
        line: String,
        /// How long to wait for the final result.
        limit: Duration,
        reply: oneshot::Sender<Result<AtReply, ModemError>>,
    },
    /// Start a new session (re-init from the probe on), as after a reboot.
    Restart { reply: oneshot::Sender<()> },
    /// Re-read the run-time SIM settings and apply what can be applied now (SMSC).
    Reconfigure {
        reply: oneshot::Sender<Result<(), ModemError>>,
    },
}

/// The way to talk to one modem actor. Cheap to clone.
#[derive(Clone)]
pub struct ModemHandle {
    tx: mpsc::Sender<Request>,
    /// Default limit of raw AT commands.
    network_timeout: Duration,
    state: watch::Receiver<ModemState>,
    ussd: broadcast::Sender<UssdReply>,
}

impl std::fmt::Debug for ModemHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ModemHandle")
            .field("id", &self.state.borrow().id)
            .finish_non_exhaustive()
    }
}

impl ModemHandle {
    /// Watch the modem's state (phase, identity, signal, counters).
    pub fn state(&self) -> watch::Receiver<ModemState> {
        self.state.clone()
    }

    /// The current state.
    pub fn snapshot(&self) -> ModemState {
        self.state.borrow().clone()
    }

    /// Sends a USSD code (or the next answer of an open USSD session) and waits for the network's reply.
    pub async fn ussd(&self, code: &str) -> Result<UssdReply, ModemError> {
        let (reply, rx) = oneshot::channel();
        self.request(
            Request::Ussd {
                code: code.to_owned(),
                reply,
            },
            rx,
        )
        .await
    }

    /// Runs a raw AT command line (for diagnosis) and returns its lines and final result, waiting up to
    /// the network timeout.
    pub async fn at(&self, line: &str) -> Result<AtReply, ModemError> {
        let limit = self.network_timeout;
        self.at_within(line, limit).await
    }

    /// [`ModemHandle::at`] with its own limit for the final result. The command waits its turn in the
    /// actor's queue, so it never interleaves with a send.
    pub async fn at_within(&self, line: &str, limit: Duration) -> Result<AtReply, ModemError> {
        let (reply, rx) = oneshot::channel();
        self.request(
            Request::At {
                line: line.to_owned(),
                limit,
                reply,
            },
            rx,
        )
        .await
    }

    /// Asks the actor to start over: close the port, probe and initialise again. Resolves when the
    /// actor took the request (the modem comes back through its phases; watch [`ModemHandle::state`]).
    pub async fn restart(&self) -> Result<(), ModemError> {
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(Request::Restart { reply })
            .await
            .map_err(|_| ModemError::Stopped)?;
        rx.await.map_err(|_| ModemError::Stopped)
    }

    /// Asks the actor to apply changed run-time SIM settings ([`super::OverrideTable`]): the SMSC at
    /// once when in service, the PIN at the next PIN request (a failed or waiting modem retries now).
    pub async fn reconfigure(&self) -> Result<(), ModemError> {
        let (reply, rx) = oneshot::channel();
        self.request(Request::Reconfigure { reply }, rx).await
    }

    /// Requests waiting in the actor's queue (sends, USSD, raw AT).
    pub fn pending_requests(&self) -> usize {
        self.tx.max_capacity() - self.tx.capacity()
    }

    /// USSD messages the network sent on its own (network-initiated sessions).
    pub fn ussd_notifications(&self) -> broadcast::Receiver<UssdReply> {
        self.ussd.subscribe()
    }

    /// Resolves when the actor has stopped.
    pub async fn stopped(&self) {
        let mut state = self.state.clone();
        while state.changed().await.is_ok() {}
    }

    async fn request<T>(
        &self,
        request: Request,
        rx: oneshot::Receiver<Result<T, ModemError>>,
    ) -> Result<T, ModemError> {
        self.tx.send(request).await.map_err(|_| ModemError::Stopped)?;
        rx.await.map_err(|_| ModemError::Stopped)?
    }
}

impl ModemSender for ModemHandle {
    fn id(&self) -> ModemId {
        self.state.borrow().id.clone()
    }

    fn send<'a>(&'a self, request: SendRequest) -> SendFuture<'a> {
        Box::pin(async move {
            let phase = self.state.borrow().phase;
            if phase != ModemPhase::Ready {
                return Err(SendError::Temporary {
                    reason: format!("modem not ready ({phase:?})"),
                    sent: vec![],
                });
            }
            let (reply, rx) = oneshot::channel();
            let stopped = || SendError::Temporary {
                reason: "modem actor stopped".into(),
                sent: vec![],
            };
            self.tx
                .send(Request::Send { request, reply })
                .await
                .map_err(|_| stopped())?;
            rx.await.map_err(|_| stopped())?
        })
    }
}

/// Opens the port of a modem: `Port::open` for real devices; tests plug in-memory pipes here.
pub type Opener = std::sync::Arc<dyn Fn(&Path, u32) -> std::io::Result<Port> + Send + Sync>;

/// Starts the actor for one modem. It runs until `shutdown` is cancelled, reporting received SMS, status
/// reports and state changes on `events`.
pub fn spawn(
    config: ModemConfig,
    events: mpsc::Sender<ModemEvent>,
    shutdown: CancellationToken,
) -> ModemHandle {
    spawn_with_opener(config, events, shutdown, std::sync::Arc::new(Port::open))
}

/// [`spawn`] with another way to open the port.
pub fn spawn_with_opener(
    config: ModemConfig,
    events: mpsc::Sender<ModemEvent>,
    shutdown: CancellationToken,
    opener: Opener,
) -> ModemHandle {
    let (tx, rx) = mpsc::channel(REQUEST_QUEUE);
    let name = ModemId(config.display_name());
    let initial = ModemState::new(name, config.port.display().to_string());
    let (state_tx, state_rx) = watch::channel(initial.clone());
    let (ussd, _) = broadcast::channel(8);
    let network_timeout = config.timeouts.network;
    let file_sim = SimSettings {
        pin: config.pin.clone(),
        smsc: config.smsc.clone(),
    };
    let actor = Actor {
        file_sim,
        opener,
        cfg: config,
        state: initial,
        state_tx,
        events,
        rx,
        rx_open: true,
        shutdown,
        ussd: ussd.clone(),
        port: None,
        urcs: VecDeque::new(),
        pending: HashSet::new(),
        acked: HashSet::new(),
        acks: FuturesUnordered::new(),
        mems: BTreeSet::new(),
        current_mem: None,
        pin_attempted: false,
        cnma_required: false,
        registered: false,
        echo_off: false,
        echo_came_back: false,
    };
    let span = tracing::info_span!("modem", modem = %actor.state.id);
    tokio::spawn(tracing::Instrument::instrument(actor.run(), span));
    ModemHandle {
        tx,
        network_timeout,
        state: state_rx,
        ussd,
    }
}

/// A storage slot holding a received message or report.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Slot {
    mem: String,
    index: u32,
}

/// What an ack is for.
#[derive(Debug)]
enum AckFor {
    Stored(Slot),
    /// A `+CMT`/`+CDS` routed directly: acknowledged with `+CNMA`.
    Direct,
}

/// Why a session (one open port) ended.
#[derive(Debug)]
enum Interrupt {
    Shutdown,
    /// The device is gone.
    Unplugged(String),
    /// The modem cannot be brought into service now; retry after a backoff.
    Failed(String),
    /// Start over at once (the modem rebooted or was reset).
    Restart(String),
}

/// Why one command failed.
#[derive(Debug)]
enum CmdError {
    Shutdown,
    NoPort,
    Timeout(String),
    Rejected {
        command: String,
        result: FinalResult,
    },
    Parse(String),
    Gone(String),
    Io(String),
    /// The modem must be brought up again (it rebooted, the SIM changed state).
    Restart(String),
}

impl CmdError {
    fn to_modem_error(&self) -> ModemError {
        match self {
            CmdError::Shutdown => ModemError::Stopped,
            CmdError::NoPort => ModemError::Port("not open".into()),
            CmdError::Timeout(c) => ModemError::Timeout(c.clone()),
            CmdError::Rejected { command, result } => ModemError::Rejected {
                command: command.clone(),
                result: result.clone(),
            },
            CmdError::Parse(p) => ModemError::Parse(p.clone()),
            CmdError::Gone(e) | CmdError::Io(e) => ModemError::Port(e.clone()),
            CmdError::Restart(e) => ModemError::Port(format!("modem restarting: {e}")),
        }
    }
}

impl std::fmt::Display for CmdError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CmdError::Shutdown => f.write_str("shutting down"),
            CmdError::NoPort => f.write_str("port not open"),
            CmdError::Timeout(c) => write!(f, "no answer to {c}"),
            CmdError::Rejected { command, result } => write!(f, "{command}: {result}"),
            CmdError::Parse(p) => f.write_str(p),
            CmdError::Gone(e) => write!(f, "device gone: {e}"),
            CmdError::Io(e) => write!(f, "port error: {e}"),
            CmdError::Restart(e) => f.write_str(e),
        }
    }
}

/// How a part failed.
enum PartFailure {
    /// The modem refused before or after the PDU (`+CMS ERROR`), so nothing went out.
    Rejected(FinalResult),
    /// Failed before the PDU was written: nothing went out.
    BeforePdu(CmdError),
    /// The PDU was written and no answer came: it may have gone out.
    AfterPdu(CmdError),
}

/// What to do after a request was answered.
enum FollowUp {
    Nothing,
    Recover(String),
    Interrupt(Interrupt),
}

/// What woke the serving loop.
enum Wake {
    Shutdown,
    Ack(AckFor, bool),
    Frame(Option<std::io::Result<Frame>>),
    Request(Option<Request>),
    Health,
    Sweep,
}

struct Actor {
    /// PIN and SMSC from the config file, under the run-time overrides.
    file_sim: SimSettings,
    opener: Opener,
    cfg: ModemConfig,
    state: ModemState,
    state_tx: watch::Sender<ModemState>,
    events: mpsc::Sender<ModemEvent>,
    rx: mpsc::Receiver<Request>,
    /// False once every handle is gone; the actor keeps receiving.
    rx_open: bool,
    shutdown: CancellationToken,
    ussd: broadcast::Sender<UssdReply>,
    port: Option<Port>,
    /// URCs seen while a command was running, handled after it.
    urcs: VecDeque<Urc>,
    /// Slots announced to the gateway whose ack is pending.
    pending: HashSet<Slot>,
    /// Slots acked (stored) but not yet deleted (the port was away or the delete failed).
    acked: HashSet<Slot>,
    acks: FuturesUnordered<BoxFuture<'static, (AckFor, bool)>>,
    /// Memories that hold received messages or reports (swept periodically).
    mems: BTreeSet<String>,
    /// The memory `AT+CPMS` currently reads from (mem1).
    current_mem: Option<String>,
    /// The PIN was entered once in this actor's life and not accepted: never again (it would burn tries).
    pin_attempted: bool,
    cnma_required: bool,
    registered: bool,
    /// `ATE0` succeeded in this session: a command echo afterwards means the modem rebooted.
    echo_off: bool,
    echo_came_back: bool,
}

impl Actor {
    async fn run(mut self) {
        let mut backoff = self.cfg.backoff_initial;
        let mut quick_restarts = 0;
        info!(port = %self.cfg.port.display(), "modem actor started");
        loop {
            let end = self.session().await;
            self.port = None;
            self.current_mem = None;
            let reached_service = matches!(
                self.state.phase,
                ModemPhase::Ready | ModemPhase::WaitingForNetwork
            );
            if reached_service {
                backoff = self.cfg.backoff_initial;
                quick_restarts = 0;
            }
            let wait = match end {
                Interrupt::Shutdown => break,
                Interrupt::Restart(reason) if quick_restarts < MAX_QUICK_RESTARTS => {
                    quick_restarts += 1;
                    info!(%reason, "restarting modem session");
                    self.set_phase(ModemPhase::Recovering, Some(reason));
                    continue;
                }
                Interrupt::Restart(reason) | Interrupt::Failed(reason) => {
                    warn!(%reason, retry_in = ?backoff, "modem failed");
                    self.state.errors += 1;
                    self.set_phase(ModemPhase::Failed, Some(reason));
                    backoff
                }
                Interrupt::Unplugged(reason) => {
                    warn!(%reason, "modem unplugged");
                    self.set_phase(ModemPhase::Absent, Some(reason));
                    if self.wait_for_device().await.is_err() {
                        break;
                    }
                    backoff
                }
            };
            if self.idle(wait).await.is_err() {
                break;
            }
            backoff = (backoff * 2).min(self.cfg.backoff_max);
        }
        info!("modem actor stopped");
    }

    /// One session: bring the modem up on a fresh port and serve until something ends it.
    async fn session(&mut self) -> Interrupt {
        match self.bring_up().await {
            Ok(()) => self.serve().await,
            Err(interrupt) => interrupt,
        }
    }

    // ----- state -------------------------------------------------------------------------------------

    fn set_phase(&mut self, phase: ModemPhase, error: Option<String>) {
        if self.state.phase != phase {
            info!(from = ?self.state.phase, to = ?phase, "modem phase");
        }
        self.state.phase = phase;
        if let Some(e) = error {
            self.state.last_error = Some(e);
        }
        self.publish();
    }

    /// Takes the run-time SIM settings of this modem (by IMEI) over the config file's. Returns whether
    /// the SMSC changed. A changed PIN may be entered once more.
    fn apply_overrides(&mut self) -> bool {
        let over = self
            .state
            .imei
            .as_deref()
            .and_then(|imei| self.cfg.overrides.get(imei))
            .unwrap_or_default();
        let pin = over.pin.or_else(|| self.file_sim.pin.clone());
        let smsc = over.smsc.or_else(|| self.file_sim.smsc.clone());
        if pin != self.cfg.pin {
            info!("SIM PIN setting changed");
            self.pin_attempted = false;
            self.cfg.pin = pin;
        }
        let smsc_changed = smsc != self.cfg.smsc;
        self.cfg.smsc = smsc;
        smsc_changed
    }

    fn publish(&mut self) {
        let changed = *self.state_tx.borrow() != self.state;
        if changed {
            self.state_tx.send_replace(self.state.clone());
            // State events are a convenience (the watch has the latest): never block on them.
            let _ = self.events.try_send(ModemEvent::State(self.state.clone()));
        }
    }

    // ----- waiting without a port -----------------------------------------------------------------------

    /// Waits `duration` while answering requests with "not ready" and recording acks.
    async fn idle(&mut self, duration: Duration) -> Result<(), ()> {
        let until = Instant::now() + duration;
        loop {
            tokio::select! {
                _ = self.shutdown.cancelled() => return Err(()),
                _ = sleep_until(until) => return Ok(()),
                Some((what, stored)) = self.acks.next(), if !self.acks.is_empty() => {
                    self.note_ack_offline(what, stored);
                }
                req = self.rx.recv(), if self.rx_open => match req {
                    Some(Request::At { reply, .. }) if reply.is_closed() => {}
                    Some(Request::At { line, limit, reply }) => {
                        let result = self.raw_at_offline(&line, limit).await;
                        let _ = reply.send(result);
                    }
                    // A technician's restart or new SIM settings: retry now instead of after the backoff.
                    Some(Request::Restart { reply }) => {
                        info!("restart requested while out of service");
                        let _ = reply.send(());
                        return Ok(());
                    }
                    Some(Request::Reconfigure { reply }) => {
                        self.apply_overrides();
                        let _ = reply.send(Ok(()));
                        return Ok(());
                    }
                    Some(req) => self.reject(req),
                    None => self.rx_open = false,
                },
            }
        }
    }

    /// Raw AT while the modem is out of service (failed: no SIM, PIN rejected, PUK needed): technicians
    /// need exactly then to talk to it. The port is opened for this one command.
    async fn raw_at_offline(&mut self, line: &str, limit: Duration) -> Result<AtReply, ModemError> {
        let port = (self.opener)(&self.cfg.port, self.cfg.baud)
            .map_err(|e| ModemError::Port(format!("open {}: {e}", self.cfg.port.display())))?;
        self.port = Some(port);
        let cmd = Raw(line.to_owned());
        let secret = is_pin_command(line);
        let result = self.transact(&cmd.line(), cmd.expect(), limit, secret).await;
        self.port = None;
        self.urcs.clear();
        result
            .map(|(lines, result)| AtReply { lines, result })
            .map_err(|e| e.to_modem_error())
    }

    fn note_ack_offline(&mut self, what: AckFor, stored: bool) {
        if let AckFor::Stored(slot) = what {
            self.pending.remove(&slot);
            if stored {
                self.acked.insert(slot);
            }
        }
    }

    fn reject(&self, req: Request) {
        let phase = self.state.phase;
        match req {
            Request::Send { reply, .. } => {
                let _ = reply.send(Err(SendError::Temporary {
                    reason: format!("modem not ready ({phase:?})"),
                    sent: vec![],
                }));
            }
            Request::Ussd { reply, .. } => {
                let _ = reply.send(Err(ModemError::NotReady { phase }));
            }
            Request::At { reply, .. } => {
                let _ = reply.send(Err(ModemError::NotReady { phase }));
            }
            Request::Restart { reply } => {
                let _ = reply.send(());
            }
            Request::Reconfigure { reply } => {
                let _ = reply.send(Err(ModemError::NotReady { phase }));
            }
        }
    }

    /// Absent: waits until the device node exists again.
    async fn wait_for_device(&mut self) -> Result<(), ()> {
        while !Path::new(&self.cfg.port).exists() {
            self.idle(ABSENT_POLL).await?;
        }
        Ok(())
    }
}

impl FollowUp {
    /// Adds the follow-up a command error calls for.
    fn and_for(self, err: &CmdError) -> FollowUp {
        match err {
            CmdError::Timeout(what) => FollowUp::Recover(format!("no answer to {what}")),
            CmdError::Gone(e) => FollowUp::Interrupt(Interrupt::Unplugged(e.clone())),
            CmdError::Shutdown => FollowUp::Interrupt(Interrupt::Shutdown),
            CmdError::Restart(e) => FollowUp::Interrupt(Interrupt::Restart(e.clone())),
            _ => self,
        }
    }
}

fn follow_up<T>(result: &Result<T, CmdError>) -> FollowUp {
    match result {
        Ok(_) => FollowUp::Nothing,
        Err(e) => FollowUp::Nothing.and_for(e),
    }
}

async fn next_or_pending(port: Option<&mut Port>) -> Option<std::io::Result<Frame>> {
    match port {
        Some(port) => port.next().await,
        None => std::future::pending().await,
    }
}

/// Whether a raw command line carries a PIN or PUK (never logged).
fn is_pin_command(line: &str) -> bool {
    let up = line.trim_start().to_ascii_uppercase();
    up.starts_with("AT+CPIN=")
        || up.starts_with("AT+CPIN2=")
        || up.starts_with("AT+CLCK")
        || up.starts_with("AT+CPWD")
}

/// Boot notices that only come after a (re)start, unlike `^BOOT` (Huawei keep-alive) or `SMS DONE` (late
/// SIM init).
fn is_reboot_notice(line: &str) -> bool {
    ["RDY", "^SYSSTART", "START"]
        .iter()
        .any(|n| line.eq_ignore_ascii_case(n))
}

/// TP-MTI of a PDU that starts with the SMSC field.
fn tpdu_mti(pdu: &[u8]) -> Option<u8> {
    let smsc_len = usize::from(*pdu.first()?);
    pdu.get(1 + smsc_len).map(|first| first & TP_MTI_MASK)
}

fn ussd_reply(status: u8, text: Option<String>, dcs: Option<u8>) -> UssdReply {
    let text = text.map(|t| decode_ussd_text(&t, dcs));
    UssdReply { status, text, dcs }
}

/// Modems hand UCS-2 USSD texts over as hex (DCS 72, 3GPP TS 23.038 §5); GSM-7 texts come as text in the
/// TE character set.
fn decode_ussd_text(text: &str, dcs: Option<u8>) -> String {
    if dcs == Some(crate::at::command::USSD_DCS_UCS2) && text.len() % 4 == 0 {
        if let Ok(bytes) = hex::decode(text) {
            let units: Vec<u16> = bytes
                .chunks_exact(2)
                .map(|c| u16::from_be_bytes([c[0], c[1]]))
                .collect();
            return String::from_utf16_lossy(&units);
        }
    }
    text.to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mti_and_ussd_text() {
        assert_eq!(tpdu_mti(&[0x00, 0x06, 0x01]), Some(TP_MTI_STATUS_REPORT));
        assert_eq!(tpdu_mti(&[0x07, 0x91, 1, 2, 3, 4, 5, 6, 0x04]), Some(0));
        assert_eq!(tpdu_mti(&[0x07, 0x91]), None);
        assert_eq!(tpdu_mti(&[]), None);
        assert_eq!(decode_ussd_text("004F004B", Some(72)), "OK");
        assert_eq!(decode_ussd_text("Balance 5", Some(15)), "Balance 5");
        assert!(is_reboot_notice("RDY"));
        assert!(!is_reboot_notice("^BOOT:1,0,0,0,72"));
    }
}
