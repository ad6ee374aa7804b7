//! TP-Status of an SMS-STATUS-REPORT (TS 23.040 §9.2.3.15): what happened to a submitted message.
use std::fmt;

/// Category of a TP-Status value. Serialises as its [`StatusCategory::name`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StatusCategory {
    /// Transaction completed: the message was delivered (or replaced). Final.
    Delivered,
    /// Temporary error, the service centre is still trying. Not final: another report may follow.
    StillTrying,
    /// Permanent error, the service centre is not making any more attempts. Final.
    PermanentFailure,
    /// Temporary error, but the service centre is not making any more attempts. Final.
    TemporaryFailureGaveUp,
}

impl StatusCategory {
    /// Short machine name: `delivered`, `still_trying`, `permanent_failure`, `temporary_failure_gave_up`.
    pub fn name(self) -> &'static str {
        match self {
            StatusCategory::Delivered => "delivered",
            StatusCategory::StillTrying => "still_trying",
            StatusCategory::PermanentFailure => "permanent_failure",
            StatusCategory::TemporaryFailureGaveUp => "temporary_failure_gave_up",
        }
    }
}

/// A TP-Status octet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Status(pub u8);

/// Ranges of TS 23.040 §9.2.3.15 (bits 6..5 give the class of outcome).
const COMPLETED_END: u8 = 0x1F;
const STILL_TRYING_END: u8 = 0x3F;
const PERMANENT_END: u8 = 0x5F;
const GAVE_UP_END: u8 = 0x7F;
/// Where the service-centre-specific values of each range start (low nibble 0x10..0x1F of each range).
const SC_SPECIFIC_BIT: u8 = 0x10;

impl Status {
    /// Short message received by the SME.
    pub const DELIVERED: Status = Status(0x00);
    /// Forwarded by the SC to the SME, but delivery could not be confirmed.
    pub const FORWARDED_UNCONFIRMED: Status = Status(0x01);
    /// Replaced by the SC.
    pub const REPLACED: Status = Status(0x02);
    /// Still trying: SME busy.
    pub const SME_BUSY_TRYING: Status = Status(0x21);
    /// Permanent: validity period expired.
    pub const VALIDITY_EXPIRED: Status = Status(0x46);
    /// Gave up: service rejected. Reserved values are read as this (TS 23.040 §9.2.3.15).
    pub const SERVICE_REJECTED: Status = Status(0x63);

    /// What the status means, per TS 23.040 §9.2.3.15.
    pub fn meaning(self) -> &'static str {
        match self.0 {
            0x00 => "short message received by the SME",
            0x01 => "short message forwarded by the SC to the SME but the SC is unable to confirm delivery",
            0x02 => "short message replaced by the SC",
            0x20 | 0x60 => "congestion",
            0x21 | 0x61 => "SME busy",
            0x22 | 0x62 => "no response from SME",
            0x23 | 0x63 => "service rejected",
            0x24 | 0x44 | 0x64 => "quality of service not available",
            0x25 | 0x65 => "error in SME",
            0x40 => "remote procedure error",
            0x41 => "incompatible destination",
            0x42 => "connection rejected by SME",
            0x43 => "not obtainable",
            0x45 => "no interworking available",
            0x46 => "SM validity period expired",
            0x47 => "SM deleted by originating SME",
            0x48 => "SM deleted by SC administration",
            0x49 => "SM does not exist",
            v if v <= GAVE_UP_END && v & SC_SPECIFIC_BIT != 0 => "SC specific value",
            _ => "reserved (treated as service rejected)",
        }
    }

    fn is_reserved(self) -> bool {
        self.meaning().starts_with("reserved")
    }

    /// The category. Reserved values count as "service rejected" (TS 23.040 §9.2.3.15).
    pub fn category(self) -> StatusCategory {
        if self.is_reserved() {
            return StatusCategory::TemporaryFailureGaveUp;
        }
        match self.0 {
            v if v <= COMPLETED_END => StatusCategory::Delivered,
            v if v <= STILL_TRYING_END => StatusCategory::StillTrying,
            v if v <= PERMANENT_END => StatusCategory::PermanentFailure,
            _ => StatusCategory::TemporaryFailureGaveUp,
        }
    }

    /// Whether no further report will follow for this message.
    pub fn is_final(self) -> bool {
        self.category() != StatusCategory::StillTrying
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "0x{:02X} {} ({})",
            self.0,
            self.meaning(),
            self.category().name()
        )
    }
}
