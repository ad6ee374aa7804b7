//! `+CME ERROR` (3GPP TS 27.007 §9.2) and `+CMS ERROR` (3GPP TS 27.005 §3.2.5) codes as enums with their
//! meanings, parsed from the numeric (`AT+CMEE=1`) or verbose (`AT+CMEE=2`) form.
//!
//! The CMS table also says how a failed `AT+CMGS` should be treated by the dispatcher: a *permanent* cause
//! (unassigned number, barred, malformed PDU) fails on any modem; everything else is worth a retry, possibly
//! on another modem.
use std::fmt;

/// Defines an error enum from a `(code, Variant, "spec text")` table, with lookups both ways.
macro_rules! error_table {
    (
        $(#[$meta:meta])*
        $name:ident { $( $code:literal => $variant:ident : $text:literal ),* $(,)? }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        pub enum $name {
            $(
                #[doc = $text]
                $variant,
            )*
            /// A number the table does not know.
            Unknown(u16),
            /// A verbose text the table does not know (vendor wording).
            Verbose(String),
        }

        impl $name {
            /// Looks a numeric code up; unknown numbers are kept.
            pub fn from_code(code: u16) -> Self {
                match code {
                    $( $code => $name::$variant, )*
                    other => $name::Unknown(other),
                }
            }

            /// Looks a verbose text up (case-insensitive, as in the spec tables); unknown texts are kept.
            pub fn from_text(text: &str) -> Self {
                let t = text.trim();
                $( if t.eq_ignore_ascii_case($text) { return $name::$variant; } )*
                $name::Verbose(t.to_owned())
            }

            /// Parses the argument of the result code: a number or a verbose text.
            pub fn parse(arg: &str) -> Self {
                let arg = arg.trim().trim_matches('"');
                match arg.parse::<u16>() {
                    Ok(code) => Self::from_code(code),
                    Err(_) => Self::from_text(arg),
                }
            }

            /// The numeric code, when known.
            pub fn code(&self) -> Option<u16> {
                match self {
                    $( $name::$variant => Some($code), )*
                    $name::Unknown(code) => Some(*code),
                    $name::Verbose(_) => None,
                }
            }

            /// The meaning as written in the spec (or the vendor text).
            pub fn text(&self) -> &str {
                match self {
                    $( $name::$variant => $text, )*
                    $name::Unknown(_) => "unknown error code",
                    $name::Verbose(t) => t,
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                match self.code() {
                    Some(code) => write!(f, "{} ({})", self.text(), code),
                    None => f.write_str(self.text()),
                }
            }
        }
    };
}

error_table! {
    /// Mobile equipment error, `+CME ERROR: <err>` (3GPP TS 27.007 §9.2.1 and §9.2.2).
    CmeError {
        0 => PhoneFailure: "phone failure",
        1 => NoConnectionToPhone: "no connection to phone",
        2 => PhoneAdaptorLinkReserved: "phone-adaptor link reserved",
        3 => OperationNotAllowed: "operation not allowed",
        4 => OperationNotSupported: "operation not supported",
        5 => PhSimPinRequired: "PH-SIM PIN required",
        6 => PhFsimPinRequired: "PH-FSIM PIN required",
        7 => PhFsimPukRequired: "PH-FSIM PUK required",
        10 => SimNotInserted: "SIM not inserted",
        11 => SimPinRequired: "SIM PIN required",
        12 => SimPukRequired: "SIM PUK required",
        13 => SimFailure: "SIM failure",
        14 => SimBusy: "SIM busy",
        15 => SimWrong: "SIM wrong",
        16 => IncorrectPassword: "incorrect password",
        17 => SimPin2Required: "SIM PIN2 required",
        18 => SimPuk2Required: "SIM PUK2 required",
        20 => MemoryFull: "memory full",
        21 => InvalidIndex: "invalid index",
        22 => NotFound: "not found",
        23 => MemoryFailure: "memory failure",
        24 => TextStringTooLong: "text string too long",
        25 => InvalidCharactersInTextString: "invalid characters in text string",
        26 => DialStringTooLong: "dial string too long",
        27 => InvalidCharactersInDialString: "invalid characters in dial string",
        30 => NoNetworkService: "no network service",
        31 => NetworkTimeout: "network timeout",
        32 => EmergencyCallsOnly: "network not allowed - emergency calls only",
        40 => NetworkPersonalisationPinRequired: "network personalization PIN required",
        41 => NetworkPersonalisationPukRequired: "network personalization PUK required",
        100 => UnknownError: "unknown",
        103 => IllegalMs: "Illegal MS",
        106 => IllegalMe: "Illegal ME",
        107 => GprsNotAllowed: "GPRS services not allowed",
        111 => PlmnNotAllowed: "PLMN not allowed",
        112 => LocationAreaNotAllowed: "Location area not allowed",
        113 => RoamingNotAllowed: "Roaming not allowed in this location area",
    }
}

impl CmeError {
    /// The SIM is missing or broken: waiting does not help, a technician must act.
    pub fn is_sim_problem(&self) -> bool {
        matches!(
            self,
            CmeError::SimNotInserted | CmeError::SimFailure | CmeError::SimWrong | CmeError::SimPukRequired
        )
    }
}

error_table! {
    /// Message service error, `+CMS ERROR: <err>` (3GPP TS 27.005 §3.2.5). 0..=127 are RP cause values
    /// (3GPP TS 24.011 §8.2.5.4, Table 8.4), 128..=255 TP-Failure-Cause values (3GPP TS 23.040 §9.2.3.22),
    /// 300.. the ME/TA errors of 27.005.
    CmsError {
        1 => UnassignedNumber: "unassigned (unallocated) number",
        8 => OperatorDeterminedBarring: "operator determined barring",
        10 => CallBarred: "call barred",
        21 => TransferRejected: "short message transfer rejected",
        22 => MemoryCapacityExceededRp: "memory capacity exceeded",
        27 => DestinationOutOfService: "destination out of service",
        28 => UnidentifiedSubscriber: "unidentified subscriber",
        29 => FacilityRejected: "facility rejected",
        30 => UnknownSubscriber: "unknown subscriber",
        38 => NetworkOutOfOrder: "network out of order",
        41 => TemporaryFailure: "temporary failure",
        42 => Congestion: "congestion",
        47 => ResourcesUnavailable: "resources unavailable, unspecified",
        50 => FacilityNotSubscribed: "requested facility not subscribed",
        69 => FacilityNotImplemented: "requested facility not implemented",
        81 => InvalidTransferReference: "invalid short message transfer reference value",
        95 => InvalidMessage: "invalid message, unspecified",
        96 => InvalidMandatoryInformation: "invalid mandatory information",
        97 => MessageTypeNonExistent: "message type non-existent or not implemented",
        98 => MessageNotCompatible: "message not compatible with short message protocol state",
        99 => InformationElementNonExistent: "information element non-existent or not implemented",
        111 => ProtocolError: "protocol error, unspecified",
        127 => Interworking: "interworking, unspecified",
        128 => TelematicInterworkingNotSupported: "telematic interworking not supported",
        129 => ShortMessageType0NotSupported: "short message type 0 not supported",
        130 => CannotReplaceShortMessage: "cannot replace short message",
        143 => UnspecifiedPidError: "unspecified TP-PID error",
        144 => DcsNotSupported: "data coding scheme (alphabet) not supported",
        145 => MessageClassNotSupported: "message class not supported",
        159 => UnspecifiedDcsError: "unspecified TP-DCS error",
        160 => CommandCannotBeActioned: "command cannot be actioned",
        161 => CommandUnsupported: "command unsupported",
        175 => UnspecifiedCommandError: "unspecified TP-Command error",
        176 => TpduNotSupported: "TPDU not supported",
        192 => ScBusy: "SC busy",
        193 => NoScSubscription: "no SC subscription",
        194 => ScSystemFailure: "SC system failure",
        195 => InvalidSmeAddress: "invalid SME address",
        196 => DestinationSmeBarred: "destination SME barred",
        197 => DuplicateRejected: "SM rejected-duplicate SM",
        198 => VpfNotSupported: "TP-VPF not supported",
        199 => VpNotSupported: "TP-VP not supported",
        208 => SimStorageFull: "D0 SIM SMS storage full",
        209 => NoSimStorage: "no SMS storage capability in SIM",
        210 => ErrorInMs: "error in MS",
        211 => MemoryCapacityExceeded: "memory capacity exceeded",
        212 => SimToolkitBusy: "SIM application toolkit busy",
        213 => SimDataDownloadError: "SIM data download error",
        255 => UnspecifiedFailure: "unspecified error cause",
        300 => MeFailure: "ME failure",
        301 => SmsServiceReserved: "SMS service of ME reserved",
        302 => OperationNotAllowed: "operation not allowed",
        303 => OperationNotSupported: "operation not supported",
        304 => InvalidPduModeParameter: "invalid PDU mode parameter",
        305 => InvalidTextModeParameter: "invalid text mode parameter",
        310 => SimNotInserted: "SIM not inserted",
        311 => SimPinRequired: "SIM PIN required",
        312 => PhSimPinRequired: "PH-SIM PIN required",
        313 => SimFailure: "SIM failure",
        314 => SimBusy: "SIM busy",
        315 => SimWrong: "SIM wrong",
        316 => SimPukRequired: "SIM PUK required",
        317 => SimPin2Required: "SIM PIN2 required",
        318 => SimPuk2Required: "SIM PUK2 required",
        320 => MemoryFailure: "memory failure",
        321 => InvalidMemoryIndex: "invalid memory index",
        322 => MemoryFull: "memory full",
        330 => SmscAddressUnknown: "SMSC address unknown",
        331 => NoNetworkService: "no network service",
        332 => NetworkTimeout: "network timeout",
        340 => NoCnmaExpected: "no +CNMA acknowledgement expected",
        500 => UnknownError: "unknown error",
    }
}

impl CmsError {
    /// True when a failed submission will fail again on any modem: the destination is invalid or barred, or
    /// the PDU itself is rejected. Everything else (network, congestion, SIM, modem state, unknown codes) is
    /// temporary, so the dispatcher may retry or fail over.
    pub fn is_permanent(&self) -> bool {
        use CmsError::*;
        matches!(
            self,
            UnassignedNumber
                | OperatorDeterminedBarring
                | CallBarred
                | TransferRejected
                | FacilityNotSubscribed
                | FacilityNotImplemented
                | InvalidMessage
                | InvalidMandatoryInformation
                | MessageTypeNonExistent
                | MessageNotCompatible
                | InformationElementNonExistent
                | TelematicInterworkingNotSupported
                | ShortMessageType0NotSupported
                | CannotReplaceShortMessage
                | UnspecifiedPidError
                | DcsNotSupported
                | MessageClassNotSupported
                | UnspecifiedDcsError
                | CommandCannotBeActioned
                | CommandUnsupported
                | UnspecifiedCommandError
                | TpduNotSupported
                | InvalidSmeAddress
                | DestinationSmeBarred
                | DuplicateRejected
                | VpfNotSupported
                | VpNotSupported
                | InvalidPduModeParameter
                | InvalidTextModeParameter
        )
    }

    /// The SIM's message storage is full: reading and deleting messages frees it.
    pub fn is_storage_full(&self) -> bool {
        matches!(
            self,
            CmsError::MemoryFull | CmsError::SimStorageFull | CmsError::MemoryCapacityExceeded
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cms_numeric_verbose_and_class() {
        // (argument, expected error, permanent?)
        let table: &[(&str, CmsError, bool)] = &[
            ("1", CmsError::UnassignedNumber, true),
            ("10", CmsError::CallBarred, true),
            ("42", CmsError::Congestion, false),
            ("38", CmsError::NetworkOutOfOrder, false),
            ("195", CmsError::InvalidSmeAddress, true),
            ("304", CmsError::InvalidPduModeParameter, true),
            ("331", CmsError::NoNetworkService, false),
            ("332", CmsError::NetworkTimeout, false),
            ("500", CmsError::UnknownError, false),
            ("999", CmsError::Unknown(999), false),
            ("SMSC address unknown", CmsError::SmscAddressUnknown, false),
            (
                "\"invalid PDU mode parameter\"",
                CmsError::InvalidPduModeParameter,
                true,
            ),
            ("Call barred", CmsError::CallBarred, true),
            (
                "Some vendor text",
                CmsError::Verbose("Some vendor text".into()),
                false,
            ),
        ];
        for (arg, want, permanent) in table {
            let got = CmsError::parse(arg);
            assert_eq!(&got, want, "{arg}");
            assert_eq!(got.is_permanent(), *permanent, "{arg}");
        }
    }

    #[test]
    fn cme_numeric_and_verbose() {
        let table: &[(&str, CmeError)] = &[
            ("10", CmeError::SimNotInserted),
            ("SIM not inserted", CmeError::SimNotInserted),
            ("11", CmeError::SimPinRequired),
            ("16", CmeError::IncorrectPassword),
            ("incorrect password", CmeError::IncorrectPassword),
            ("30", CmeError::NoNetworkService),
            ("777", CmeError::Unknown(777)),
        ];
        for (arg, want) in table {
            assert_eq!(&CmeError::parse(arg), want, "{arg}");
        }
        assert_eq!(CmeError::SimNotInserted.to_string(), "SIM not inserted (10)");
        assert_eq!(CmeError::SimNotInserted.code(), Some(10));
    }
}
