//! Modem engine: one actor (task) per modem that owns its serial port and speaks AT commands in PDU mode.
//!
//! The types in [`types`] are the contract between the engine and the rest of the gateway (dispatcher,
//! store, HTTP): the dispatcher hands a [`types::SendRequest`] to a [`types::ModemSender`] and gets back
//! per-part outcomes; the engine reports incoming SMS, delivery reports and state changes as
//! [`types::ModemEvent`]s.
pub mod actor;
pub mod config;
pub mod direct;
pub mod discovery;
pub mod guard;
pub mod hotplug;
pub mod overrides;
pub mod port;
pub mod types;

pub use actor::{AtReply, ModemError, ModemHandle, Opener, UssdReply, spawn, spawn_with_opener};
pub use config::{CnmiMode, ModemConfig, Timeouts};
pub use overrides::{OverrideTable, SimSettings};
pub use types::*;

#[cfg(test)]
mod actor_tests;
#[cfg(test)]
pub(crate) mod fake;
