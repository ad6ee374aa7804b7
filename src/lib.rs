//! smsgate: a secure, multi-tenant SMS gateway for banks of USB/serial GSM modems.
//!
//! See ARCHITECTURE.md for the map of modules and the invariants they keep.

/// The SMS TPDU codec (lives in its own crate so that hw-sim can share it).
pub use smsgate_pdu as pdu;

pub mod app;
pub mod at;
pub mod auth;
pub mod bench;
pub mod clock;
pub mod cluster;
pub mod config;
pub mod dispatch;
pub mod http;
pub mod modem;
pub mod ops;
pub mod store;
pub mod tls;
