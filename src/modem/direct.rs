//! Direct access to a modem's port without an actor, for technicians diagnosing a modem that may not
//! come into service at all (no SIM, no network): raw AT commands and an identity/health report. The port
//! must not be in use by a running gateway at the same time.
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Serialize;
use tokio::time::{Instant, timeout_at};

use super::actor::AtReply;
use super::config::Timeouts;
use super::port::Port;
use crate::at::codec::ESC;
use crate::at::command::{
    AtCommand, Identity, OperatorQuery, OwnNumber, PinQuery, RegistrationQuery, SetStorage, SignalQuality,
    SmscQuery,
};
use crate::at::{Expect, FinalResult, Frame, Urc};

/// Why a direct session failed.
#[derive(Debug, thiserror::Error)]
pub enum DirectError {
    /// The port could not be opened.
    #[error("cannot open {path}: {source}")]
    Open {
        /// The port.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// No answer in time.
    #[error("no answer to {0} in time")]
    Timeout(String),
    /// The port failed or went away.
    #[error("port: {0}")]
    Io(String),
    /// The modem refused a command.
    #[error("{command} failed: {result}")]
    Rejected {
        /// The command.
        command: String,
        /// Its final result.
        result: FinalResult,
    },
    /// The answer could not be understood.
    #[error("{0}")]
    Parse(String),
}

/// What `smsgate modem info` shows. Fields the modem would not tell are `None`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct InfoReport {
    /// `+CGMI`.
    pub manufacturer: Option<String>,
    /// `+CGMM`.
    pub model: Option<String>,
    /// `+CGMR`.
    pub firmware: Option<String>,
    /// `+CGSN`.
    pub imei: Option<String>,
    /// `+CPIN?` (or the error it gave).
    pub sim: Option<String>,
    /// `+CIMI`.
    pub imsi: Option<String>,
    /// `+CCID`.
    pub iccid: Option<String>,
    /// `+CNUM`.
    pub own_number: Option<String>,
    /// `+CSCA?`.
    pub smsc: Option<String>,
    /// `+CSQ` RSSI 0..31.
    pub signal: Option<u8>,
    /// `+CREG?` stat.
    pub registration: Option<u8>,
    /// `+COPS?`.
    pub operator: Option<String>,
    /// `+CPMS?`: (used, total) of the read memory.
    pub storage: Option<(u32, u32)>,
}

/// An open port with a prober modem behind it.
pub struct DirectSession {
    port: Port,
    timeouts: Timeouts,
    urcs: Vec<Urc>,
}

impl DirectSession {
    /// Opens the port and waits until the modem answers `AT` (within the boot timeout).
    pub async fn open(path: &Path, baud: u32, timeouts: Timeouts) -> Result<DirectSession, DirectError> {
        let port = Port::open(path, baud).map_err(|source| DirectError::Open {
            path: path.to_owned(),
            source,
        })?;
        let mut session = DirectSession {
            port,
            timeouts,
            urcs: Vec::new(),
        };
        // ESC first: a previous user may have left the modem waiting for a PDU.
        session
            .write(&[ESC], Instant::now() + session.timeouts.local)
            .await?;
        let deadline = Instant::now() + session.timeouts.boot;
        loop {
            let attempt = (Instant::now() + session.timeouts.local.min(Duration::from_secs(1))).min(deadline);
            match session.transact("AT", attempt).await {
                Ok(reply) if reply.result.is_ok() => return Ok(session),
                Ok(_) | Err(DirectError::Timeout(_)) if Instant::now() < deadline => {}
                Ok(reply) => {
                    return Err(DirectError::Rejected {
                        command: "AT".into(),
                        result: reply.result,
                    });
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Runs a raw command line and returns its lines and final result (an error result is not an error
    /// here: it is what the technician wants to see).
    pub async fn raw(&mut self, line: &str, limit: Duration) -> Result<AtReply, DirectError> {
        self.transact(line.trim(), Instant::now() + limit).await
    }

    /// Runs a typed command.
    pub async fn exec<C: AtCommand>(&mut self, cmd: &C) -> Result<C::Response, DirectError> {
        let line = cmd.line();
        let deadline = Instant::now() + self.timeouts.of(cmd.timeout());
        self.port.codec_mut().expect(cmd.expect());
        let reply = self.transact_expecting(&line, deadline).await?;
        if !reply.result.is_ok() {
            return Err(DirectError::Rejected {
                command: line,
                result: reply.result,
            });
        }
        cmd.parse(&reply.lines)
            .map_err(|e| DirectError::Parse(e.to_string()))
    }

    /// URCs seen so far (drained).
    pub fn take_urcs(&mut self) -> Vec<Urc> {
        std::mem::take(&mut self.urcs)
    }

    /// Collects identity, SIM and network state; a field the modem refuses stays empty.
    pub async fn info(&mut self) -> Result<InfoReport, DirectError> {
        let mut r = InfoReport {
            manufacturer: self.optional(&Identity::Manufacturer).await?,
            model: self.optional(&Identity::Model).await?,
            firmware: self.optional(&Identity::Revision).await?,
            imei: self.optional(&Identity::Imei).await?,
            ..InfoReport::default()
        };
        r.sim = match self.exec(&PinQuery).await {
            Ok(state) => Some(format!("{state:?}")),
            Err(DirectError::Rejected { result, .. }) => Some(result.to_string()),
            Err(DirectError::Parse(p)) => Some(p),
            Err(e) => return Err(e),
        };
        r.imsi = self.optional(&Identity::Imsi).await?;
        r.iccid = self.optional(&Identity::Iccid).await?;
        r.own_number = self.optional(&OwnNumber).await?.flatten();
        r.smsc = self.optional(&SmscQuery).await?.flatten();
        r.signal = self.optional(&SignalQuality).await?.flatten();
        r.registration = self.optional(&RegistrationQuery("+CREG")).await?;
        r.operator = self.optional(&OperatorQuery).await?.flatten();
        r.storage = self
            .optional(&SetStorage { mems: vec![] })
            .await?
            .and_then(|usage| usage.first().map(|u| (u.used, u.total)));
        Ok(r)
    }

    async fn optional<C: AtCommand>(&mut self, cmd: &C) -> Result<Option<C::Response>, DirectError> {
        match self.exec(cmd).await {
            Ok(r) => Ok(Some(r)),
            Err(DirectError::Rejected { .. } | DirectError::Parse(_)) => Ok(None),
            Err(e) => Err(e),
        }
    }

    async fn write(&mut self, bytes: &[u8], deadline: Instant) -> Result<(), DirectError> {
        match timeout_at(deadline, self.port.write(bytes)).await {
            Err(_) => Err(DirectError::Timeout("write".into())),
            Ok(Err(e)) => Err(DirectError::Io(e.to_string())),
            Ok(Ok(())) => Ok(()),
        }
    }

    async fn transact(&mut self, line: &str, deadline: Instant) -> Result<AtReply, DirectError> {
        self.port.codec_mut().expect(Expect::for_command(line));
        self.transact_expecting(line, deadline).await
    }

    async fn transact_expecting(&mut self, line: &str, deadline: Instant) -> Result<AtReply, DirectError> {
        let mut bytes = line.as_bytes().to_vec();
        bytes.push(b'\r');
        self.write(&bytes, deadline).await?;
        let mut lines = Vec::new();
        loop {
            let frame = match timeout_at(deadline, self.port.next()).await {
                Err(_) => {
                    self.port.codec_mut().clear_expect();
                    return Err(DirectError::Timeout(line.to_owned()));
                }
                Ok(None) => return Err(DirectError::Io("end of stream".into())),
                Ok(Some(Err(e))) => return Err(DirectError::Io(e.to_string())),
                Ok(Some(Ok(frame))) => frame,
            };
            match frame {
                Frame::Final(result) => return Ok(AtReply { lines, result }),
                Frame::Info(l) => lines.push(l),
                Frame::Urc(u) => self.urcs.push(u),
                Frame::Prompt => {
                    // A raw `AT+CMGS` from the command line has no PDU to follow: cancel it.
                    self.write(&[ESC], deadline).await?;
                }
                Frame::Echo(_) | Frame::Invalid(_) => {}
            }
        }
    }
}
