//! hw-sim: a bank of simulated GSM modems on pseudo-terminals, speaking the AT dialects of real modem
//! families, with fault injection and a control API.
//!
//! Embed it in-process:
//! ```no_run
//! # async fn demo() -> Result<(), hw_sim::SimError> {
//! let bank = hw_sim::Bank::start(hw_sim::BankConfig {
//!     count: 2,
//!     dir: std::env::temp_dir().join("hw-sim-demo"),
//!     ..hw_sim::BankConfig::default()
//! })
//! .await?;
//! for m in bank.modems() {
//!     println!("{} -> {} ({})", m.link.display(), m.pty.display(), m.number);
//! }
//! bank.shutdown().await;
//! # Ok(())
//! # }
//! ```
//!
//! Layout: [`v250`] parses command lines, [`engine`] is one modem's dialect as a pure state machine (its
//! SMS commands, storage and error codes in submodules),
//! [`profile`] holds the families' quirks, [`fault`] the faults, [`codec`] bridges to smsgate's PDU codec,
//! [`bank`] runs one task per modem on a [`pty`] and links them through a virtual network, [`control`]
//! exposes the bank over HTTP/JSON, [`events`] writes the JSON-lines log.

pub mod bank;
pub mod codec;
pub mod control;
pub mod engine;
pub mod events;
pub mod fault;
pub mod identity;
pub mod profile;
pub mod pty;
pub mod v250;

pub use bank::{AssembledMessage, Bank, BankConfig, Control, ModemInfo, ModemStatus, SentMessage};
pub use engine::Counters;
pub use fault::{DelayProfile, Fault, FaultSet, FaultSpec};
pub use profile::{Profile, ProfileName};

/// Everything that can go wrong when running a bank.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    /// A PTY could not be opened or configured.
    #[error("cannot open a pseudo-terminal: {0}")]
    Pty(#[source] std::io::Error),
    /// The link directory or a link could not be created.
    #[error("cannot create {path}: {source}")]
    Link {
        /// The path.
        path: std::path::PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The control API could not listen.
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        /// The address.
        addr: std::net::SocketAddr,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The event log could not be opened.
    #[error("cannot open event log {path}: {source}")]
    EventLog {
        /// The path.
        path: std::path::PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// No modem has this index.
    #[error("no modem with index {0}")]
    NoSuchModem(usize),
    /// The modem's task has stopped (the bank is shutting down).
    #[error("modem {0} is not running")]
    ModemGone(usize),
    /// The message could not be encoded.
    #[error("cannot encode the message: {0}")]
    Encode(String),
    /// The configuration is invalid.
    #[error("invalid configuration: {0}")]
    Config(String),
}
