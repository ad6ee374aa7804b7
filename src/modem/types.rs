//! Shared vocabulary of the modem engine: identities, send requests and outcomes, events, state.
use std::fmt;
use std::future::Future;
use std::pin::Pin;

use serde::{Deserialize, Serialize};
use tokio::sync::oneshot;

/// Stable identity of a modem. It is the IMEI once the modem has been identified; before that the actor
/// uses its configured name (the port path), so that state can be reported while it is still probing.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ModemId(pub String);

impl fmt::Display for ModemId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// One SMS-SUBMIT ready to be written after the `> ` prompt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutgoingPart {
    /// Whole PDU including the SMSC field (`00` when the modem's SMSC is used), as raw octets.
    pub pdu: Vec<u8>,
    /// TPDU length in octets without the SMSC field: the value of `AT+CMGS=<length>`.
    pub tpdu_len: usize,
}

/// All parts of one message; they always go through the same modem, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendRequest {
    pub parts: Vec<OutgoingPart>,
}

/// A part the network accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartSent {
    /// Index into [`SendRequest::parts`].
    pub index: usize,
    /// TP-Message-Reference the modem answered with (`+CMGS: <mr>`).
    pub mr: u8,
}

/// Why a send did not complete. Parts listed in `sent` went out before the failure.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    /// Worth retrying later or on another modem (network busy, no registration, timeout before the PDU was
    /// written, modem unavailable).
    #[error("temporary failure: {reason}")]
    Temporary { reason: String, sent: Vec<PartSent> },
    /// Will fail on any modem (invalid destination, barred, bad PDU): do not retry.
    #[error("permanent failure: {reason}")]
    Permanent { reason: String, sent: Vec<PartSent> },
    /// The PDU was written but the modem never answered: it may or may not have gone out. Never resent
    /// silently; the operator's policy decides.
    #[error("outcome uncertain: {reason}")]
    Uncertain { reason: String, sent: Vec<PartSent> },
}

impl SendError {
    /// Parts that were accepted by the network before the failure.
    pub fn sent(&self) -> &[PartSent] {
        match self {
            SendError::Temporary { sent, .. }
            | SendError::Permanent { sent, .. }
            | SendError::Uncertain { sent, .. } => sent,
        }
    }
}

/// Boxed future returned by [`ModemSender::send`], so the trait stays object safe.
pub type SendFuture<'a> = Pin<Box<dyn Future<Output = Result<Vec<PartSent>, SendError>> + Send + 'a>>;

/// What the dispatcher needs from a modem. Implemented by the real actor handle and by test doubles.
pub trait ModemSender: Send + Sync {
    fn id(&self) -> ModemId;
    fn send<'a>(&'a self, request: SendRequest) -> SendFuture<'a>;
}

/// Life-cycle phase of a modem actor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ModemPhase {
    Opening,
    Probing,
    Initialising,
    WaitingForPin,
    WaitingForNetwork,
    Ready,
    Recovering,
    /// Gave up: see [`ModemState::last_error`]. The actor keeps retrying with backoff.
    Failed,
    /// The device node is gone (unplugged); waiting for it to return.
    Absent,
}

/// Everything the gateway shows about one modem.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModemState {
    pub id: ModemId,
    /// Port path as configured or discovered.
    pub port: String,
    pub phase: ModemPhase,
    pub manufacturer: Option<String>,
    pub model: Option<String>,
    pub firmware: Option<String>,
    pub imei: Option<String>,
    pub imsi: Option<String>,
    pub iccid: Option<String>,
    pub own_number: Option<String>,
    pub operator: Option<String>,
    /// `+CREG` stat: 1 home, 5 roaming, 2 searching, 3 denied, 0 not registered.
    pub registration: Option<u8>,
    /// `+CSQ` RSSI 0..31, `None` for unknown (99).
    pub signal: Option<u8>,
    pub last_error: Option<String>,
    pub sent_parts: u64,
    pub received: u64,
    pub errors: u64,
}

impl ModemState {
    pub fn new(id: ModemId, port: String) -> Self {
        ModemState {
            id,
            port,
            phase: ModemPhase::Opening,
            manufacturer: None,
            model: None,
            firmware: None,
            imei: None,
            imsi: None,
            iccid: None,
            own_number: None,
            operator: None,
            registration: None,
            signal: None,
            last_error: None,
            sent_parts: 0,
            received: 0,
            errors: 0,
        }
    }
}

/// Acknowledgement the gateway gives once it has stored an event durably. The modem deletes an SMS from
/// the SIM (or acknowledges a `+CMT` with `+CNMA`) only after this fires.
pub type StoredAck = oneshot::Sender<()>;

/// What a modem reports to the gateway.
// `State` is larger than the others; events are few per second, so boxing would only cost clarity.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub enum ModemEvent {
    /// An SMS-DELIVER arrived (one part of a possibly concatenated message), raw octets incl. SMSC field.
    Received {
        modem: ModemId,
        pdu: Vec<u8>,
        ack: StoredAck,
    },
    /// An SMS-STATUS-REPORT arrived, raw octets incl. SMSC field.
    StatusReport {
        modem: ModemId,
        pdu: Vec<u8>,
        ack: StoredAck,
    },
    /// The modem's state changed (phase, signal, identity, ...).
    State(ModemState),
}
