//! Error codes of the dialect and their verbose texts: `+CME ERROR` (TS 27.007 §9.2) and `+CMS ERROR`
//! (TS 27.005 §3.2.5; the codes themselves live in [`crate::fault::cms`]).
use crate::fault::cms;

/// TS 27.007 §9.2.1 `+CME ERROR` codes.
pub(super) mod cme {
    pub(in crate::engine) const OPERATION_NOT_ALLOWED: u16 = 3;
    pub(in crate::engine) const OPERATION_NOT_SUPPORTED: u16 = 4;
    pub(in crate::engine) const SIM_NOT_INSERTED: u16 = 10;
    pub(in crate::engine) const SIM_PIN_REQUIRED: u16 = 11;
    pub(in crate::engine) const SIM_PUK_REQUIRED: u16 = 12;
    pub(in crate::engine) const SIM_FAILURE: u16 = 13;
    pub(in crate::engine) const INCORRECT_PASSWORD: u16 = 16;
    pub(in crate::engine) const INVALID_INDEX: u16 = 21;
    pub(in crate::engine) const NO_NETWORK_SERVICE: u16 = 30;
    pub(in crate::engine) const INVALID_CHARACTERS: u16 = 25;
    pub(in crate::engine) const UNKNOWN: u16 = 100;
}

/// Verbose text of a `+CME ERROR` code (TS 27.007 §9.2).
pub(super) fn cme_text(code: u16) -> String {
    match code {
        cme::OPERATION_NOT_ALLOWED => "operation not allowed".into(),
        cme::OPERATION_NOT_SUPPORTED => "operation not supported".into(),
        cme::SIM_NOT_INSERTED => "SIM not inserted".into(),
        cme::SIM_PIN_REQUIRED => "SIM PIN required".into(),
        cme::SIM_PUK_REQUIRED => "SIM PUK required".into(),
        cme::SIM_FAILURE => "SIM failure".into(),
        cme::INCORRECT_PASSWORD => "incorrect password".into(),
        cme::INVALID_INDEX => "invalid index".into(),
        cme::INVALID_CHARACTERS => "invalid characters in text string".into(),
        cme::NO_NETWORK_SERVICE => "no network service".into(),
        cme::UNKNOWN => "unknown".into(),
        other => other.to_string(),
    }
}

/// Verbose text of a `+CMS ERROR` code (TS 27.005 §3.2.5, TS 24.011 causes).
pub(super) fn cms_text(code: u16) -> String {
    match code {
        cms::UNASSIGNED_NUMBER => "Unassigned (unallocated) number".into(),
        cms::TRANSFER_REJECTED => "Short message transfer rejected".into(),
        cms::NETWORK_OUT_OF_ORDER => "Network out of order".into(),
        cms::ME_FAILURE => "ME failure".into(),
        cms::OPERATION_NOT_ALLOWED => "operation not allowed".into(),
        cms::OPERATION_NOT_SUPPORTED => "operation not supported".into(),
        cms::INVALID_PDU_PARAMETER => "invalid PDU mode parameter".into(),
        cms::INVALID_TEXT_PARAMETER => "invalid text mode parameter".into(),
        cms::SIM_NOT_INSERTED => "SIM not inserted".into(),
        cms::SIM_PIN_REQUIRED => "SIM PIN required".into(),
        cms::MEMORY_FAILURE => "memory failure".into(),
        cms::INVALID_MEMORY_INDEX => "invalid memory index".into(),
        cms::MEMORY_FULL => "memory full".into(),
        cms::SMSC_UNKNOWN => "SMSC address unknown".into(),
        cms::NO_NETWORK_SERVICE => "no network service".into(),
        cms::NETWORK_TIMEOUT => "network timeout".into(),
        other => other.to_string(),
    }
}
