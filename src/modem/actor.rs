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
use super::port::{Port, is_gone};
use super::types::*;
use crate::at::codec::{CTRL_Z, ESC};
use crate::at::command::{
    AtCommand, CMGL_ALL, Identity, ListMessages, OperatorQuery, OwnNumber, PinQuery, PinRetries, PinState,
    Raw, ReadMessage, RegistrationQuery, ServiceQuery, SetStorage, SignalQuality, Simple, reg_stat,
};
use crate::at::{CmeError, CmsError, Expect, FinalResult, Frame, Urc};

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
        reply: oneshot::Sender<Result<AtReply, ModemError>>,
    },
}

/// The way to talk to one modem actor. Cheap to clone.
#[derive(Clone)]
pub struct ModemHandle {
    tx: mpsc::Sender<Request>,
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

    /// Runs a raw AT command line (for diagnosis) and returns its lines and final result.
    pub async fn at(&self, line: &str) -> Result<AtReply, ModemError> {
        let (reply, rx) = oneshot::channel();
        self.request(
            Request::At {
                line: line.to_owned(),
                reply,
            },
            rx,
        )
        .await
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
    let actor = Actor {
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
                    Some(Request::At { line, reply }) => {
                        let result = self.raw_at_offline(&line).await;
                        let _ = reply.send(result);
                    }
                    Some(req) => self.reject(req),
                    None => self.rx_open = false,
                },
            }
        }
    }

    /// Raw AT while the modem is out of service (failed: no SIM, PIN rejected, PUK needed): technicians
    /// need exactly then to talk to it. The port is opened for this one command.
    async fn raw_at_offline(&mut self, line: &str) -> Result<AtReply, ModemError> {
        let port = (self.opener)(&self.cfg.port, self.cfg.baud)
            .map_err(|e| ModemError::Port(format!("open {}: {e}", self.cfg.port.display())))?;
        self.port = Some(port);
        let cmd = Raw(line.to_owned());
        let secret = is_pin_command(line);
        let result = self
            .transact(&cmd.line(), cmd.expect(), self.cfg.timeouts.network, secret)
            .await;
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
        }
    }

    /// Absent: waits until the device node exists again.
    async fn wait_for_device(&mut self) -> Result<(), ()> {
        while !Path::new(&self.cfg.port).exists() {
            self.idle(ABSENT_POLL).await?;
        }
        Ok(())
    }

    // ----- commands -------------------------------------------------------------------------------------

    async fn write(&mut self, bytes: &[u8], deadline: Instant) -> Result<(), CmdError> {
        let port = self.port.as_mut().ok_or(CmdError::NoPort)?;
        match timeout_at(deadline, port.write(bytes)).await {
            Err(_) => Err(CmdError::Timeout("write".into())),
            Ok(Err(e)) if is_gone(&e) => Err(CmdError::Gone(e.to_string())),
            Ok(Err(e)) => Err(CmdError::Io(e.to_string())),
            Ok(Ok(())) => Ok(()),
        }
    }

    async fn next_frame(&mut self, deadline: Instant, what: &str) -> Result<Frame, CmdError> {
        let port = self.port.as_mut().ok_or(CmdError::NoPort)?;
        tokio::select! {
            _ = self.shutdown.cancelled() => Err(CmdError::Shutdown),
            r = timeout_at(deadline, port.next()) => match r {
                Err(_) => Err(CmdError::Timeout(what.to_owned())),
                Ok(None) => Err(CmdError::Gone("end of stream".into())),
                Ok(Some(Err(e))) if is_gone(&e) => Err(CmdError::Gone(e.to_string())),
                Ok(Some(Err(e))) => Err(CmdError::Io(e.to_string())),
                Ok(Some(Ok(frame))) => Ok(frame),
            },
        }
    }

    /// Frames that are not part of the pending command's answer.
    fn side_frame(&mut self, frame: Frame) {
        match frame {
            Frame::Urc(urc) => self.urcs.push_back(urc),
            Frame::Echo(line) => {
                if self.echo_off && line.get(..2).is_some_and(|at| at.eq_ignore_ascii_case("AT")) {
                    self.echo_came_back = true;
                }
            }
            Frame::Invalid(invalid) => debug!(?invalid, "invalid input from modem"),
            other => debug!(?other, "stray frame"),
        }
    }

    /// Writes a command line and collects its information lines up to the final result.
    async fn transact(
        &mut self,
        line: &str,
        expect: Expect,
        limit: Duration,
        secret: bool,
    ) -> Result<(Vec<String>, FinalResult), CmdError> {
        let shown = if secret { "AT+CPIN=<redacted>" } else { line };
        debug!(command = shown, "->");
        let deadline = Instant::now() + limit;
        if let Some(port) = self.port.as_mut() {
            port.codec_mut().expect(expect);
        }
        let mut bytes = Vec::with_capacity(line.len() + 1);
        bytes.extend_from_slice(line.as_bytes());
        bytes.push(b'\r');
        let result = match self.write(&bytes, deadline).await {
            Ok(()) => self.read_final(deadline, limit, shown).await,
            Err(e) => Err(e),
        };
        if result.is_err() {
            if let Some(port) = self.port.as_mut() {
                port.codec_mut().clear_expect();
            }
        }
        result
    }

    /// Reads up to the final result. Each information line moves the deadline to at least `per_line` from
    /// now: a long listing on a slow line is progress, not a hang.
    async fn read_final(
        &mut self,
        deadline: Instant,
        per_line: Duration,
        what: &str,
    ) -> Result<(Vec<String>, FinalResult), CmdError> {
        let mut info = Vec::new();
        let mut deadline = deadline;
        loop {
            match self.next_frame(deadline, what).await? {
                Frame::Final(result) => {
                    debug!(command = what, %result, lines = info.len(), "<-");
                    return Ok((info, result));
                }
                Frame::Info(line) => {
                    deadline = deadline.max(Instant::now() + per_line);
                    info.push(line);
                }
                Frame::Prompt => {
                    // A prompt nobody asked for would swallow the next command as PDU text: cancel it.
                    let _ = self.write(&[ESC], deadline).await;
                }
                other => self.side_frame(other),
            }
        }
    }

    async fn exec<C: AtCommand>(&mut self, cmd: &C) -> Result<C::Response, CmdError> {
        let line = cmd.line();
        let limit = self.cfg.timeouts.of(cmd.timeout());
        let (info, result) = self.transact(&line, cmd.expect(), limit, cmd.is_secret()).await?;
        let command = if cmd.is_secret() {
            "AT+CPIN=<redacted>".to_owned()
        } else {
            line
        };
        if !result.is_ok() {
            return Err(CmdError::Rejected { command, result });
        }
        cmd.parse(&info).map_err(|e| CmdError::Parse(e.to_string()))
    }

    /// Reads and drops whatever arrives for `duration` (late answers after a cancel). URCs are kept.
    async fn drain(&mut self, duration: Duration) -> Result<(), CmdError> {
        let until = Instant::now() + duration;
        if let Some(port) = self.port.as_mut() {
            port.codec_mut().clear_expect();
        }
        loop {
            match self.next_frame(until, "drain").await {
                Ok(Frame::Urc(urc)) => self.urcs.push_back(urc),
                Ok(_) => {}
                Err(CmdError::Timeout(_)) => return Ok(()),
                Err(e) => return Err(e),
            }
        }
    }

    /// `AT` until `OK`, within `limit`; survives echo, boot URCs and garbage.
    async fn probe(&mut self, limit: Duration) -> Result<(), CmdError> {
        let deadline = Instant::now() + limit;
        // ESC first: a previous user may have left the modem waiting for a PDU after `> `.
        self.write(&[ESC], deadline).await?;
        self.drain(DRAIN_AFTER_ESC.min(limit)).await?;
        let attempt = self.cfg.timeouts.local.min(Duration::from_secs(1));
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(CmdError::Timeout(format!("AT (probe, {limit:?})")));
            }
            match self
                .transact("AT", Expect::for_command("AT"), attempt.min(left), false)
                .await
            {
                Ok((_, FinalResult::Ok)) => return Ok(()),
                Ok((_, other)) => debug!(%other, "probe answered"),
                Err(CmdError::Timeout(_)) => {}
                Err(e) => return Err(e),
            }
            if Instant::now() < deadline {
                sleep(Duration::from_millis(100).min(deadline.saturating_duration_since(Instant::now())))
                    .await;
            }
        }
    }

    // ----- bring-up -------------------------------------------------------------------------------------

    fn interrupt(&self, err: CmdError, during: &str) -> Interrupt {
        match err {
            CmdError::Shutdown => Interrupt::Shutdown,
            CmdError::Gone(e) => Interrupt::Unplugged(format!("{during}: {e}")),
            CmdError::Restart(e) => Interrupt::Restart(e),
            other => Interrupt::Failed(format!("{during}: {other}")),
        }
    }

    async fn bring_up(&mut self) -> Result<(), Interrupt> {
        self.set_phase(ModemPhase::Opening, None);
        self.echo_off = false;
        self.echo_came_back = false;
        self.registered = false;
        self.urcs.clear();
        match (self.opener)(&self.cfg.port, self.cfg.baud) {
            Ok(port) => self.port = Some(port),
            Err(e) if is_gone(&e) || !self.cfg.port.exists() => {
                return Err(Interrupt::Unplugged(format!(
                    "open {}: {e}",
                    self.cfg.port.display()
                )));
            }
            Err(e) => {
                return Err(Interrupt::Failed(format!(
                    "open {}: {e}",
                    self.cfg.port.display()
                )));
            }
        }

        self.set_phase(ModemPhase::Probing, None);
        let boot = self.cfg.timeouts.boot;
        self.probe(boot).await.map_err(|e| self.interrupt(e, "probe"))?;

        self.set_phase(ModemPhase::Initialising, None);
        self.exec(&Simple::echo_off())
            .await
            .map_err(|e| self.interrupt(e, "ATE0"))?;
        self.echo_off = true;
        // Errors in verbose result form and numeric/verbose CME errors are wanted but not vital.
        let _ = self.exec(&Simple::verbose_results()).await;
        self.soft(Simple::cmee(self.cfg.cmee)).await?;
        self.identity_of_modem().await?;

        self.set_phase(ModemPhase::WaitingForPin, None);
        self.unlock_sim().await?;

        self.set_phase(ModemPhase::Initialising, None);
        self.identity_of_sim().await?;
        self.setup_sms().await?;
        self.state.last_error = None;
        self.publish();
        Ok(())
    }

    /// Runs a command whose refusal is tolerated (logged); timeouts and unplug still interrupt.
    async fn soft<C: AtCommand>(&mut self, cmd: C) -> Result<Option<C::Response>, Interrupt> {
        match self.exec(&cmd).await {
            Ok(r) => Ok(Some(r)),
            Err(e @ (CmdError::Rejected { .. } | CmdError::Parse(_))) => {
                debug!(error = %e, "optional command failed");
                Ok(None)
            }
            Err(e) => Err(self.interrupt(e, &cmd.line())),
        }
    }

    async fn identity_of_modem(&mut self) -> Result<(), Interrupt> {
        self.state.manufacturer = self.soft(Identity::Manufacturer).await?;
        self.state.model = self.soft(Identity::Model).await?;
        self.state.firmware = self.soft(Identity::Revision).await?;
        let imei = self.soft(Identity::Imei).await?;
        if let Some(imei) = imei {
            if self.state.imei.as_deref() != Some(&imei) {
                info!(%imei, "modem identified");
            }
            self.state.id = ModemId(imei.clone());
            self.state.imei = Some(imei);
        }
        self.publish();
        Ok(())
    }

    async fn identity_of_sim(&mut self) -> Result<(), Interrupt> {
        self.state.imsi = self.soft(Identity::Imsi).await?;
        let iccid = self.soft(Identity::Iccid).await?;
        if iccid.is_some() && self.state.iccid.is_some() && iccid != self.state.iccid {
            // Another SIM: slots announced for the old one mean nothing now.
            info!("SIM changed; forgetting pending slots");
            self.pending.clear();
            self.acked.clear();
        }
        self.state.iccid = iccid;
        self.state.own_number = self.soft(OwnNumber).await?.flatten();
        self.publish();
        Ok(())
    }

    /// PIN entry that never burns the last try: read the state, check the remaining tries where the
    /// family tells, enter the PIN at most once per actor life, stop with a reason otherwise.
    async fn unlock_sim(&mut self) -> Result<(), Interrupt> {
        let deadline = Instant::now() + self.cfg.timeouts.sim;
        let state = loop {
            match self.exec(&PinQuery).await {
                Ok(state) => break state,
                // Right after boot the SIM is still initialising.
                Err(CmdError::Rejected {
                    result: FinalResult::CmeError(CmeError::SimBusy),
                    ..
                }) if Instant::now() < deadline => {
                    sleep(SIM_READY_POLL).await;
                }
                Err(CmdError::Rejected {
                    result: FinalResult::CmeError(e),
                    ..
                }) => {
                    return Err(Interrupt::Failed(format!("SIM: {e}")));
                }
                Err(e) => return Err(self.interrupt(e, "AT+CPIN?")),
            }
        };
        match state {
            PinState::Ready => Ok(()),
            PinState::SimPuk => Err(Interrupt::Failed(
                "SIM blocked: PUK required (enter it by hand)".into(),
            )),
            PinState::Other(code) => Err(Interrupt::Failed(format!("SIM asks for {code}"))),
            PinState::SimPin => {
                let Some(pin) = self.cfg.pin.clone() else {
                    return Err(Interrupt::Failed("SIM PIN required but none configured".into()));
                };
                if self.pin_attempted {
                    return Err(Interrupt::Failed(
                        "SIM PIN was rejected before; not entering it again (it would burn a try)".into(),
                    ));
                }
                if let Some(left) = self.pin_tries_left().await? {
                    if left <= 1 {
                        return Err(Interrupt::Failed(format!(
                            "only {left} SIM PIN try left; not risking it (enter the PIN by hand)"
                        )));
                    }
                }
                self.pin_attempted = true;
                match self.exec(&Simple::enter_pin(&pin)).await {
                    Ok(()) => {}
                    Err(CmdError::Rejected { result, .. }) => {
                        return Err(Interrupt::Failed(format!("SIM PIN rejected: {result}")));
                    }
                    Err(e) => return Err(self.interrupt(e, "AT+CPIN=<redacted>")),
                }
                self.pin_attempted = false;
                // The SIM takes a moment to become ready after the PIN.
                let deadline = Instant::now() + self.cfg.timeouts.sim;
                loop {
                    match self.exec(&PinQuery).await {
                        Ok(PinState::Ready) => return Ok(()),
                        Ok(_) | Err(CmdError::Rejected { .. }) if Instant::now() < deadline => {
                            sleep(SIM_READY_POLL).await;
                        }
                        Ok(other) => {
                            return Err(Interrupt::Failed(format!("SIM not ready after PIN: {other:?}")));
                        }
                        Err(e) => return Err(self.interrupt(e, "AT+CPIN?")),
                    }
                }
            }
        }
    }

    async fn pin_tries_left(&mut self) -> Result<Option<u8>, Interrupt> {
        for form in PinRetries::ALL {
            if let Some(left) = self.soft(form).await? {
                return Ok(Some(left));
            }
        }
        Ok(None)
    }

    async fn setup_sms(&mut self) -> Result<(), Interrupt> {
        // PDU mode is the one thing the gateway cannot do without.
        let deadline = Instant::now() + self.cfg.timeouts.sim;
        loop {
            match self.exec(&Simple::pdu_mode()).await {
                Ok(()) => break,
                // SIM still initialising its SMS part (`+CMS ERROR: 314` / `+CME ERROR: 14`).
                Err(CmdError::Rejected { .. }) if Instant::now() < deadline => sleep(SIM_READY_POLL).await,
                Err(e) => return Err(self.interrupt(e, "AT+CMGF=0")),
            }
        }
        self.cnma_required = self.soft(ServiceQuery).await?.unwrap_or(false);
        let mem = self.cfg.storage.clone();
        if let Some(usage) = self
            .soft(SetStorage {
                mems: vec![mem.clone(), mem.clone(), mem.clone()],
            })
            .await?
        {
            self.current_mem = Some(mem.clone());
            if usage.first().is_some_and(|u| u.is_full()) {
                warn!(storage = %mem, "message storage full; sweeping");
            }
        }
        self.mems.insert(mem);
        let mut routed = false;
        for settings in self.cfg.cnmi.settings() {
            if self.soft(Simple::cnmi(settings)).await?.is_some() {
                debug!(cnmi = settings, "new message routing set");
                routed = true;
                break;
            }
        }
        if !routed {
            warn!("no AT+CNMI form accepted; relying on the storage sweep");
        }
        if let Some(smsc) = self.cfg.smsc.clone() {
            self.soft(Simple::set_smsc(&smsc)).await?;
        }
        self.soft(Simple::registration_urc("+CREG", 1)).await?;
        self.soft(Simple::operator_format_long()).await?;
        Ok(())
    }

    // ----- serving --------------------------------------------------------------------------------------

    async fn serve(&mut self) -> Interrupt {
        // Acks that arrived while the port was away: delete those messages now.
        let mut health_at = Instant::now();
        let mut sweep_at = Instant::now();
        loop {
            if let Err(i) = self.handle_urcs().await {
                return i;
            }
            if self.echo_came_back {
                return Interrupt::Restart("command echo came back: the modem rebooted".into());
            }
            let wake = {
                let port = self.port.as_mut();
                tokio::select! {
                    biased;
                    _ = self.shutdown.cancelled() => Wake::Shutdown,
                    Some((what, stored)) = self.acks.next(), if !self.acks.is_empty() => Wake::Ack(what, stored),
                    frame = next_or_pending(port) => Wake::Frame(frame),
                    _ = sleep_until(health_at) => Wake::Health,
                    _ = sleep_until(sweep_at), if self.registered => Wake::Sweep,
                    req = self.rx.recv(), if self.rx_open => Wake::Request(req),
                }
            };
            let outcome: Result<(), CmdError> = match wake {
                Wake::Shutdown => return Interrupt::Shutdown,
                Wake::Ack(what, stored) => self.on_ack(what, stored).await,
                Wake::Frame(None) => Err(CmdError::Gone("end of stream".into())),
                Wake::Frame(Some(Err(e))) if is_gone(&e) => Err(CmdError::Gone(e.to_string())),
                Wake::Frame(Some(Err(e))) => Err(CmdError::Io(e.to_string())),
                Wake::Frame(Some(Ok(frame))) => {
                    self.side_frame(frame);
                    Ok(())
                }
                Wake::Health => {
                    let r = self.health().await;
                    let every = if self.registered {
                        self.cfg.health_interval
                    } else {
                        self.cfg.registration_poll
                    };
                    health_at = Instant::now() + every;
                    r
                }
                Wake::Sweep => {
                    let r = self.sweep().await;
                    sweep_at = Instant::now() + self.cfg.sweep_interval;
                    r
                }
                Wake::Request(None) => {
                    self.rx_open = false;
                    Ok(())
                }
                Wake::Request(Some(req)) => match self.on_request(req).await {
                    FollowUp::Nothing => Ok(()),
                    FollowUp::Recover(reason) => match self.recover(reason).await {
                        Ok(()) => Ok(()),
                        Err(i) => return i,
                    },
                    FollowUp::Interrupt(i) => return i,
                },
            };
            match outcome {
                Ok(()) => {}
                Err(CmdError::Timeout(what)) => {
                    if let Err(i) = self.recover(format!("no answer to {what}")).await {
                        return i;
                    }
                }
                Err(e) => return self.interrupt(e, "serving"),
            }
        }
    }

    fn set_registered(&mut self, stat: u8) {
        let registered = reg_stat::is_registered(stat);
        self.state.registration = Some(stat);
        if registered != self.registered {
            info!(stat, registered, "registration changed");
        }
        self.registered = registered;
        let phase = if registered {
            ModemPhase::Ready
        } else {
            ModemPhase::WaitingForNetwork
        };
        let error = (stat == reg_stat::DENIED).then(|| "network registration denied".to_owned());
        self.set_phase(phase, error);
    }

    async fn health(&mut self) -> Result<(), CmdError> {
        match self.exec(&SignalQuality).await {
            Ok(signal) => self.state.signal = signal,
            Err(CmdError::Rejected { .. } | CmdError::Parse(_)) => {}
            Err(e) => return Err(e),
        }
        let mut stat = match self.exec(&RegistrationQuery("+CREG")).await {
            Ok(stat) => Some(stat),
            Err(CmdError::Rejected { .. } | CmdError::Parse(_)) => None,
            Err(e) => return Err(e),
        };
        if !stat.is_some_and(reg_stat::is_registered) {
            // LTE-only modems register in EPS and carry SMS over SGs/IMS.
            match self.exec(&RegistrationQuery("+CEREG")).await {
                Ok(eps) if reg_stat::is_registered(eps) => stat = Some(eps),
                Ok(_) | Err(CmdError::Rejected { .. } | CmdError::Parse(_)) => {}
                Err(e) => return Err(e),
            }
        }
        self.set_registered(stat.unwrap_or(reg_stat::NOT_REGISTERED));
        if !self.registered {
            // No network may mean no SIM: say so instead of waiting for a network forever.
            match self.exec(&PinQuery).await {
                Ok(PinState::Ready) | Err(CmdError::Parse(_)) => {}
                Ok(other) => return Err(CmdError::Restart(format!("SIM state {other:?}"))),
                Err(CmdError::Rejected { result, .. }) => {
                    return Err(CmdError::Restart(format!("SIM: {result}")));
                }
                Err(e) => return Err(e),
            }
        }
        match self.exec(&OperatorQuery).await {
            Ok(op) => self.state.operator = op,
            Err(CmdError::Rejected { .. } | CmdError::Parse(_)) => {}
            Err(e) => return Err(e),
        }
        self.publish();
        if self.registered {
            match self.exec(&SetStorage { mems: vec![] }).await {
                Ok(usage) if usage.first().is_some_and(|u| u.is_full()) => {
                    warn!("message storage full; sweeping now");
                    self.sweep().await?;
                }
                Ok(_) | Err(CmdError::Rejected { .. } | CmdError::Parse(_)) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    async fn handle_urcs(&mut self) -> Result<(), Interrupt> {
        while let Some(urc) = self.urcs.pop_front() {
            let result = self.on_urc(urc).await;
            match result {
                Ok(()) => {}
                Err(CmdError::Timeout(what)) => self.recover(format!("no answer to {what}")).await?,
                Err(e) => return Err(self.interrupt(e, "handling URC")),
            }
        }
        Ok(())
    }

    async fn on_urc(&mut self, urc: Urc) -> Result<(), CmdError> {
        match urc {
            Urc::NewMessage { mem, index } | Urc::StatusReportIndex { mem, index } => {
                self.mems.insert(mem.clone());
                self.read_slot(Slot { mem, index }).await
            }
            Urc::Message { pdu, .. } | Urc::StatusReport { pdu, .. } => {
                self.emit(AckFor::Direct, pdu).await;
                Ok(())
            }
            Urc::Registration {
                kind: crate::at::RegKind::Cs,
                stat,
                ..
            } => {
                self.set_registered(stat);
                Ok(())
            }
            Urc::Registration { .. } => Ok(()),
            Urc::Signal { rssi } => {
                self.state.signal = (rssi != crate::at::command::CSQ_RSSI_UNKNOWN).then_some(rssi);
                self.publish();
                Ok(())
            }
            Urc::Ussd { status, text, dcs } => {
                let reply = ussd_reply(status, text, dcs);
                info!(status = reply.status, "network-initiated USSD");
                let _ = self.ussd.send(reply);
                Ok(())
            }
            Urc::SimStatus(status) if !status.eq_ignore_ascii_case("READY") => {
                // Not an unplug: start over so the SIM checks run again and report the reason.
                Err(CmdError::Restart(format!("SIM state changed to {status}")))
            }
            Urc::StorageFull(line) => {
                warn!(%line, "modem storage full; sweeping");
                self.sweep().await
            }
            Urc::Boot(line) if is_reboot_notice(&line) => {
                Err(CmdError::Restart(format!("modem restarted ({line})")))
            }
            other => {
                debug!(?other, "URC ignored");
                Ok(())
            }
        }
    }

    async fn select_mem(&mut self, mem: &str) -> Result<(), CmdError> {
        if self.current_mem.as_deref() == Some(mem) {
            return Ok(());
        }
        self.exec(&SetStorage {
            mems: vec![mem.to_owned()],
        })
        .await?;
        self.current_mem = Some(mem.to_owned());
        Ok(())
    }

    async fn read_slot(&mut self, slot: Slot) -> Result<(), CmdError> {
        if self.pending.contains(&slot) || self.acked.contains(&slot) {
            return Ok(());
        }
        self.select_mem(&slot.mem).await?;
        match self.exec(&ReadMessage(slot.index)).await {
            Ok(Some(stored)) => {
                self.emit(AckFor::Stored(slot), stored.pdu).await;
                Ok(())
            }
            // Empty slot: `OK` with no data on many modems, `+CMS ERROR: 321` on others.
            Ok(None)
            | Err(CmdError::Rejected {
                result: FinalResult::CmsError(CmsError::InvalidMemoryIndex),
                ..
            }) => Ok(()),
            Err(CmdError::Rejected { command, result }) => {
                warn!(%command, %result, "could not read announced message; the sweep will retry");
                Ok(())
            }
            Err(CmdError::Parse(p)) => {
                warn!(error = %p, "unreadable stored message left on the SIM");
                Ok(())
            }
            Err(e) => Err(e),
        }
    }

    /// Hands a message or report to the gateway with an ack to fire once stored.
    async fn emit(&mut self, what: AckFor, pdu: Vec<u8>) {
        let (ack, stored) = oneshot::channel();
        let modem = self.state.id.clone();
        let event = if tpdu_mti(&pdu) == Some(TP_MTI_STATUS_REPORT) {
            ModemEvent::StatusReport { modem, pdu, ack }
        } else {
            ModemEvent::Received { modem, pdu, ack }
        };
        tokio::select! {
            _ = self.shutdown.cancelled() => return,
            r = self.events.send(event) => if r.is_err() {
                warn!("event receiver gone; message stays on the modem");
                return;
            }
        }
        if let AckFor::Stored(slot) = &what {
            self.pending.insert(slot.clone());
        }
        self.state.received += 1;
        self.publish();
        self.acks
            .push(async move { (what, stored.await.is_ok()) }.boxed());
    }

    async fn on_ack(&mut self, what: AckFor, stored: bool) -> Result<(), CmdError> {
        match what {
            AckFor::Stored(slot) => {
                self.pending.remove(&slot);
                if stored {
                    self.acked.insert(slot.clone());
                    self.delete_slot(slot).await?;
                } else {
                    debug!(?slot, "ack dropped; message stays on the SIM for the next sweep");
                }
            }
            AckFor::Direct if stored && self.cnma_required => {
                if let Err(e) = self.exec(&Simple::new_message_ack()).await {
                    match e {
                        CmdError::Rejected { .. } => {
                            warn!(error = %e, "+CNMA refused; the network will redeliver")
                        }
                        other => return Err(other),
                    }
                }
            }
            AckFor::Direct => {}
        }
        Ok(())
    }

    async fn delete_slot(&mut self, slot: Slot) -> Result<(), CmdError> {
        self.select_mem(&slot.mem).await?;
        match self.exec(&Simple::delete(slot.index)).await {
            Ok(())
            | Err(CmdError::Rejected {
                result: FinalResult::CmsError(CmsError::InvalidMemoryIndex),
                ..
            }) => {
                self.acked.remove(&slot);
                Ok(())
            }
            Err(CmdError::Rejected { command, result }) => {
                warn!(%command, %result, "delete refused; will retry at the next sweep");
                Ok(())
            }
            Err(e) => Err(e),
        }
    }

    /// Reads every stored message: announces those not announced yet, deletes those already stored.
    async fn sweep(&mut self) -> Result<(), CmdError> {
        let acked: Vec<Slot> = self.acked.iter().cloned().collect();
        for slot in acked {
            self.delete_slot(slot).await?;
        }
        let mems: Vec<String> = self.mems.iter().cloned().collect();
        for mem in mems {
            match self.select_mem(&mem).await {
                Ok(()) => {}
                Err(CmdError::Rejected { .. }) => continue,
                Err(e) => return Err(e),
            }
            let list = match self.exec(&ListMessages(CMGL_ALL)).await {
                Ok(list) => list,
                Err(CmdError::Rejected { .. } | CmdError::Parse(_)) => continue,
                Err(e) => return Err(e),
            };
            for stored in list {
                let slot = Slot {
                    mem: mem.clone(),
                    index: stored.index,
                };
                if matches!(stored.stat, STAT_STORED_UNSENT | STAT_STORED_SENT)
                    || self.pending.contains(&slot)
                    || self.acked.contains(&slot)
                {
                    continue;
                }
                debug!(?slot, "sweep found a message");
                self.emit(AckFor::Stored(slot), stored.pdu).await;
            }
        }
        Ok(())
    }

    async fn on_request(&mut self, req: Request) -> FollowUp {
        match req {
            Request::Send { request, reply } => {
                if !self.registered {
                    self.reject(Request::Send { request, reply });
                    return FollowUp::Nothing;
                }
                let (result, follow) = self.send_all(&request).await;
                let _ = reply.send(result);
                follow
            }
            Request::Ussd { code, reply } => {
                let (result, follow) = self.ussd(&code).await;
                let _ = reply.send(result);
                follow
            }
            Request::At { line, reply } => {
                let limit = self.cfg.timeouts.network;
                let cmd = Raw(line);
                let secret = is_pin_command(&cmd.0);
                let result = self.transact(&cmd.line(), cmd.expect(), limit, secret).await;
                let follow = follow_up(&result);
                let _ = reply.send(
                    result
                        .map(|(lines, result)| AtReply { lines, result })
                        .map_err(|e| e.to_modem_error()),
                );
                follow
            }
        }
    }

    async fn send_all(&mut self, request: &SendRequest) -> (Result<Vec<PartSent>, SendError>, FollowUp) {
        let mut sent = Vec::with_capacity(request.parts.len());
        for (index, part) in request.parts.iter().enumerate() {
            match self.send_part(part).await {
                Ok(mr) => {
                    debug!(part = index, mr, "part sent");
                    sent.push(PartSent { index, mr });
                    self.state.sent_parts += 1;
                    self.publish();
                }
                Err(PartFailure::Rejected(result)) => {
                    let reason = format!("part {index}: {result}");
                    self.state.errors += 1;
                    self.publish();
                    let err = match &result {
                        FinalResult::CmsError(e) if e.is_permanent() => SendError::Permanent { reason, sent },
                        _ => SendError::Temporary { reason, sent },
                    };
                    return (Err(err), FollowUp::Nothing);
                }
                Err(PartFailure::BeforePdu(e)) => {
                    let reason = format!("part {index}: {e}");
                    let follow = follow_up::<()>(&Err(e));
                    return (Err(SendError::Temporary { reason, sent }), follow);
                }
                Err(PartFailure::AfterPdu(e)) => {
                    let reason = format!("part {index}: PDU written, then {e}");
                    warn!(%reason, "send outcome uncertain");
                    let follow = follow_up::<()>(&Err(e));
                    return (Err(SendError::Uncertain { reason, sent }), follow);
                }
            }
        }
        (Ok(sent), FollowUp::Nothing)
    }

    /// `AT+CMGS=<n>`, wait for `> `, write the PDU and CTRL-Z, wait for `+CMGS: <mr>`.
    async fn send_part(&mut self, part: &OutgoingPart) -> Result<u8, PartFailure> {
        let cmd = crate::at::command::SendPdu {
            tpdu_len: part.tpdu_len,
        };
        let line = cmd.line();
        let prompt_deadline = Instant::now() + self.cfg.timeouts.prompt;
        if let Some(port) = self.port.as_mut() {
            port.codec_mut().expect(cmd.expect());
        }
        let mut bytes = line.clone().into_bytes();
        bytes.push(b'\r');
        self.write(&bytes, prompt_deadline)
            .await
            .map_err(PartFailure::BeforePdu)?;
        loop {
            match self.next_frame(prompt_deadline, &line).await {
                Ok(Frame::Prompt) => break,
                Ok(Frame::Final(result)) => return Err(PartFailure::Rejected(result)),
                Ok(Frame::Info(l)) => debug!(line = %l, "unexpected line before prompt"),
                Ok(other) => self.side_frame(other),
                Err(e) => {
                    // Cancel a prompt that may still come, so the modem does not take later bytes as PDU.
                    let _ = self.write(&[ESC], Instant::now() + self.cfg.timeouts.local).await;
                    return Err(PartFailure::BeforePdu(e));
                }
            }
        }
        let mut body = hex::encode_upper(&part.pdu).into_bytes();
        body.push(CTRL_Z);
        let send_deadline = Instant::now() + self.cfg.timeouts.send;
        self.write(&body, send_deadline)
            .await
            .map_err(PartFailure::BeforePdu)?;
        let (info, result) = self
            .read_final(send_deadline, self.cfg.timeouts.send, &line)
            .await
            .map_err(PartFailure::AfterPdu)?;
        if !result.is_ok() {
            return Err(PartFailure::Rejected(result));
        }
        cmd.parse(&info)
            .map_err(|e| PartFailure::AfterPdu(CmdError::Parse(e.to_string())))
    }

    async fn ussd(&mut self, code: &str) -> (Result<UssdReply, ModemError>, FollowUp) {
        let cmd = Simple::ussd(code);
        if let Err(e) = self.exec(&cmd).await {
            let follow = FollowUp::Nothing.and_for(&e);
            return (Err(e.to_modem_error()), follow);
        }
        let limit = self.cfg.timeouts.network;
        let deadline = Instant::now() + limit;
        loop {
            // The reply may have come before the `OK` and been queued.
            if let Some(pos) = self.urcs.iter().position(|u| matches!(u, Urc::Ussd { .. })) {
                if let Some(Urc::Ussd { status, text, dcs }) = self.urcs.remove(pos) {
                    return (Ok(ussd_reply(status, text, dcs)), FollowUp::Nothing);
                }
            }
            match self.next_frame(deadline, "+CUSD").await {
                Ok(Frame::Urc(Urc::Ussd { status, text, dcs })) => {
                    return (Ok(ussd_reply(status, text, dcs)), FollowUp::Nothing);
                }
                Ok(other) => self.side_frame(other),
                // No reply is the network's silence, not a hung modem.
                Err(CmdError::Timeout(_)) => return (Err(ModemError::NoUssdReply(limit)), FollowUp::Nothing),
                Err(e) => {
                    let follow = FollowUp::Nothing.and_for(&e);
                    return (Err(e.to_modem_error()), follow);
                }
            }
        }
    }

    // ----- recovery -------------------------------------------------------------------------------------

    /// A command timed out: ESC and re-probe; then reopen the port; then `AT+CFUN=1,1`; else give up with
    /// the reason (the run loop retries with backoff). Work is never resent here.
    async fn recover(&mut self, reason: String) -> Result<(), Interrupt> {
        warn!(%reason, "modem not answering; recovering");
        self.state.errors += 1;
        self.set_phase(ModemPhase::Recovering, Some(reason.clone()));
        let local = self.cfg.timeouts.local;

        // 1. Cancel whatever it waits for and ask again.
        match self.probe(local * 2).await {
            Ok(()) => {
                info!("modem answers again after ESC");
                return self.back_in_service().await;
            }
            Err(CmdError::Gone(e)) => return Err(Interrupt::Unplugged(e)),
            Err(CmdError::Shutdown) => return Err(Interrupt::Shutdown),
            Err(_) => {}
        }

        // 2. Reopen the port (a wedged driver or USB-serial bridge often recovers this way).
        self.port = None;
        match (self.opener)(&self.cfg.port, self.cfg.baud) {
            Ok(port) => self.port = Some(port),
            Err(e) if is_gone(&e) => return Err(Interrupt::Unplugged(format!("reopen: {e}"))),
            Err(e) => return Err(Interrupt::Failed(format!("{reason}; reopen failed: {e}"))),
        }
        match self.probe(local * 2).await {
            Ok(()) => {
                return Err(Interrupt::Restart(format!(
                    "{reason}; answered after reopening the port"
                )));
            }
            Err(CmdError::Gone(e)) => return Err(Interrupt::Unplugged(e)),
            Err(CmdError::Shutdown) => return Err(Interrupt::Shutdown),
            Err(_) => {}
        }

        // 3. Reset the modem.
        if self.cfg.reset_on_hang {
            let line = Simple::reset().line();
            let _ = self
                .write(format!("{line}\r").as_bytes(), Instant::now() + local)
                .await;
            match self.probe(self.cfg.timeouts.boot).await {
                Ok(()) => {
                    return Err(Interrupt::Restart(format!(
                        "{reason}; answered after AT+CFUN=1,1"
                    )));
                }
                Err(CmdError::Gone(e)) => return Err(Interrupt::Unplugged(e)),
                Err(CmdError::Shutdown) => return Err(Interrupt::Shutdown),
                Err(_) => {}
            }
        }
        Err(Interrupt::Failed(format!(
            "{reason}; no answer after ESC, port reopen and reset"
        )))
    }

    async fn back_in_service(&mut self) -> Result<(), Interrupt> {
        if self.echo_came_back {
            return Err(Interrupt::Restart(
                "command echo came back: the modem rebooted".into(),
            ));
        }
        match self.exec(&RegistrationQuery("+CREG")).await {
            Ok(stat) => self.set_registered(stat),
            Err(CmdError::Rejected { .. } | CmdError::Parse(_)) => {
                self.set_registered(reg_stat::NOT_REGISTERED)
            }
            Err(e) => return Err(self.interrupt(e, "after recovery")),
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
