//! SMS TPDU codec (3GPP TS 23.040, alphabets of TS 23.038): encode SMS-SUBMIT, decode SMS-DELIVER,
//! SMS-SUBMIT and SMS-STATUS-REPORT, split and reassemble concatenated messages. Pure: no I/O.
#![warn(missing_docs)]
//!
//! - [`encode_submit`] turns a text into SUBMIT PDUs (one per part) for `AT+CMGS`; [`count`] /
//!   [`count_submit`] tell a UI or a validator how many parts and characters that takes, using the same
//!   code path.
//! - [`decode`] / [`decode_hex`] read what a modem gives in PDU mode (SMSC field first).
//! - [`encode_deliver`] and [`encode_status_report`] build what a network sends (for simulators/tests).
//! - [`Reassembler`] joins concatenated parts.
//!
//! Every error is a [`PduError`] naming the field and, when decoding, the octet offset; no input panics.
//!
//! ```
//! use smsgate_pdu::{Address, SubmitOptions, decode, encode_submit, Pdu};
//! let opts = SubmitOptions::new(Address::parse("+48600100200")?);
//! let parts = encode_submit("Zażółć gęślą jaźń", &opts)?;
//! assert_eq!(parts.len(), 1);
//! let Pdu::Submit(s) = decode(&parts[0].pdu)? else { panic!("not a SUBMIT") };
//! assert_eq!(s.user_data.text(), Some("Zażółć gęślą jaźń"));
//! # Ok::<(), smsgate_pdu::PduError>(())
//! ```
mod address;
mod dcs;
mod encode;
mod error;
pub mod gsm7;
mod pdu;
mod reader;
mod reassembly;
mod scts;
mod split;
mod status;
mod transliterate;
mod udh;
mod validity;

pub use address::{Address, MAX_ADDRESS_DIGITS, MAX_ALPHANUMERIC_CHARS, NumberingPlan, TypeOfNumber};
pub use dcs::{Alphabet, Dcs, MessageClass, MessageWaiting, WaitingKind};
pub use encode::{
    DeliverOptions, EncodedPdu, PID_DEFAULT, StatusReportOptions, SubmitOptions, SubmitPart, count_submit,
    deliver_from_submit, encode_deliver, encode_deliver_data, encode_status_report, encode_submit,
    encode_submit_data, encode_timestamp,
};
pub use error::{Field, PduError};
pub use gsm7::{Gsm7Tables, NationalLanguage};
pub use pdu::{
    Deliver, Pdu, StatusReport, Submit, TP_MTI_DELIVER, TP_MTI_STATUS_REPORT, TP_MTI_SUBMIT, UserData,
    bytes_to_hex, decode, decode_hex, decode_tpdu, hex_to_bytes,
};
pub use reassembly::{DEFAULT_MAX_PENDING, Reassembled, Reassembler, ReassemblyKey};
pub use split::{
    ConcatIe, EncodingPolicy, MAX_PARTS, MAX_UD_OCTETS, MAX_UD_SEPTETS, TextCount, TextOptions, count,
};
pub use status::{Status, StatusCategory};
pub use transliterate::{transliterate, transliterate_char};
pub use udh::{
    Concat, IEI_CONCAT_8, IEI_CONCAT_16, IEI_NATIONAL_LOCKING_SHIFT, IEI_NATIONAL_SINGLE_SHIFT, IEI_PORTS_8,
    IEI_PORTS_16, InformationElement, Ports, Udh,
};
pub use validity::{ENHANCED_VP_OCTETS, Validity, relative_code, relative_duration};
