//! AT command layer: a pure byte-stream framer ([`codec`]), typed commands that know their response and
//! timeout ([`command`]), URCs ([`urc`]) and the `+CME`/`+CMS` error enums ([`error`]). No I/O here: the
//! modem actor owns the port and feeds bytes through these.
pub mod codec;
pub mod command;
pub mod error;
pub mod params;
pub mod urc;

pub use codec::{AtCodec, Expect, FinalResult, Frame, InvalidFrame};
pub use error::{CmeError, CmsError};
pub use urc::{RegKind, Urc};

#[cfg(test)]
mod codec_tests;
