//! The one error type of the codec: every failure names the TPDU field it happened in and, when decoding,
//! the octet offset (counted from the first octet of the input, i.e. the SMSC length octet).
use std::fmt;

/// A field of an SMS PDU, used to say where decoding or encoding failed (names of TS 23.040 §9.2.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Field {
    /// The hex text given to [`crate::decode_hex`].
    Hex,
    /// Length octet of the SMSC address (TS 24.011 §8.2.5.1).
    SmscLength,
    /// SMSC address (type and digits).
    Smsc,
    /// First octet: TP-MTI and flags.
    FirstOctet,
    /// TP-Message-Reference.
    MessageReference,
    /// TP-Destination-Address (SMS-SUBMIT).
    DestinationAddress,
    /// TP-Originating-Address (SMS-DELIVER).
    OriginatingAddress,
    /// TP-Recipient-Address (SMS-STATUS-REPORT).
    RecipientAddress,
    /// TP-Protocol-Identifier.
    ProtocolIdentifier,
    /// TP-Data-Coding-Scheme.
    DataCodingScheme,
    /// TP-Validity-Period.
    ValidityPeriod,
    /// TP-Service-Centre-Time-Stamp.
    ServiceCentreTimeStamp,
    /// TP-Discharge-Time.
    DischargeTime,
    /// TP-Status.
    Status,
    /// TP-Parameter-Indicator.
    ParameterIndicator,
    /// TP-User-Data-Length.
    UserDataLength,
    /// TP-User-Data-Header.
    UserDataHeader,
    /// TP-User-Data.
    UserData,
    /// The text or data to encode.
    Text,
    /// An encoding option (concatenation reference, maximum parts, ...).
    Options,
}

impl Field {
    /// Human-readable name, as in TS 23.040.
    pub fn name(self) -> &'static str {
        match self {
            Field::Hex => "hex text",
            Field::SmscLength => "SMSC length",
            Field::Smsc => "SMSC address",
            Field::FirstOctet => "first octet (TP-MTI)",
            Field::MessageReference => "TP-MR",
            Field::DestinationAddress => "TP-DA",
            Field::OriginatingAddress => "TP-OA",
            Field::RecipientAddress => "TP-RA",
            Field::ProtocolIdentifier => "TP-PID",
            Field::DataCodingScheme => "TP-DCS",
            Field::ValidityPeriod => "TP-VP",
            Field::ServiceCentreTimeStamp => "TP-SCTS",
            Field::DischargeTime => "TP-DT",
            Field::Status => "TP-ST",
            Field::ParameterIndicator => "TP-PI",
            Field::UserDataLength => "TP-UDL",
            Field::UserDataHeader => "TP-UDH",
            Field::UserData => "TP-UD",
            Field::Text => "text",
            Field::Options => "options",
        }
    }
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Why a PDU could not be decoded or a message could not be encoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PduError {
    /// The input ended inside `field`.
    #[error("{field} at octet {offset}: input ends early ({needed} more octet(s) needed)")]
    Truncated {
        /// Field being read.
        field: Field,
        /// Offset of the first missing octet.
        offset: usize,
        /// How many more octets the field needs.
        needed: usize,
    },
    /// A value the specification reserves or that cannot occur in this field.
    #[error("{field} at octet {offset}: invalid value 0x{value:02X} ({reason})")]
    InvalidValue {
        /// Field holding the value.
        field: Field,
        /// Offset of the octet.
        offset: usize,
        /// The octet.
        value: u8,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A length field disagrees with the data that follows or with the maximum the field allows.
    #[error("{field} at octet {offset}: length {declared} is invalid ({reason})")]
    BadLength {
        /// Field whose length is wrong.
        field: Field,
        /// Offset of the length octet.
        offset: usize,
        /// Declared length.
        declared: usize,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// Octets remain after the end of the PDU.
    #[error("{extra} octet(s) after the end of the PDU at octet {offset}")]
    TrailingData {
        /// Offset of the first extra octet.
        offset: usize,
        /// Number of extra octets.
        extra: usize,
    },
    /// The hex text is not valid hex.
    #[error("hex text at character {position}: {reason}")]
    BadHex {
        /// Index of the offending character (or the length, for odd length).
        position: usize,
        /// What is wrong.
        reason: &'static str,
    },
    /// An address string could not be parsed or does not fit an address field.
    #[error("invalid address {input:?}: {reason}")]
    InvalidAddress {
        /// The address as given.
        input: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A character cannot be represented in the alphabet that was required.
    #[error("character {ch:?} at position {index} cannot be encoded in GSM 7-bit")]
    Unencodable {
        /// The character.
        ch: char,
        /// Its index (in chars) in the text.
        index: usize,
    },
    /// The message needs more parts than allowed.
    #[error("message needs {needed} parts, more than the maximum of {max}")]
    TooManyParts {
        /// Parts the text needs.
        needed: usize,
        /// Configured maximum.
        max: usize,
    },
    /// An encoding option is out of range.
    #[error("invalid {field}: {reason}")]
    InvalidOption {
        /// Which option.
        field: Field,
        /// What is wrong with it.
        reason: &'static str,
    },
}

impl PduError {
    /// The field the error is about.
    pub fn field(&self) -> Field {
        match self {
            PduError::Truncated { field, .. }
            | PduError::InvalidValue { field, .. }
            | PduError::BadLength { field, .. }
            | PduError::InvalidOption { field, .. } => *field,
            PduError::TrailingData { .. } => Field::UserData,
            PduError::BadHex { .. } => Field::Hex,
            PduError::InvalidAddress { .. } => Field::DestinationAddress,
            PduError::Unencodable { .. } | PduError::TooManyParts { .. } => Field::Text,
        }
    }

    /// Octet offset in the decoded input, when the error comes from decoding.
    pub fn offset(&self) -> Option<usize> {
        match self {
            PduError::Truncated { offset, .. }
            | PduError::InvalidValue { offset, .. }
            | PduError::BadLength { offset, .. }
            | PduError::TrailingData { offset, .. } => Some(*offset),
            _ => None,
        }
    }
}
