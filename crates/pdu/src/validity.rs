//! TP-Validity-Period (TS 23.040 §9.2.3.12): none, relative (one octet), absolute (a time stamp) or
//! enhanced (seven octets, kept raw).
use std::time::Duration;

use time::OffsetDateTime;

/// TP-VPF values, bits 4..3 of the SMS-SUBMIT first octet (TS 23.040 §9.2.3.3).
pub(crate) const VPF_NONE: u8 = 0b00;
pub(crate) const VPF_ENHANCED: u8 = 0b01;
pub(crate) const VPF_RELATIVE: u8 = 0b10;
pub(crate) const VPF_ABSOLUTE: u8 = 0b11;
/// Octets of the enhanced format (TS 23.040 §9.2.3.12.3).
pub const ENHANCED_VP_OCTETS: usize = 7;

const MINUTE: u64 = 60;
const HOUR: u64 = 60 * MINUTE;
const DAY: u64 = 24 * HOUR;
const WEEK: u64 = 7 * DAY;
/// TS 23.040 §9.2.3.12.1: 0..=143 → (VP + 1) × 5 minutes.
const VP_LAST_5MIN: u8 = 143;
/// 144..=167 → 12 hours + (VP − 143) × 30 minutes.
const VP_LAST_30MIN: u8 = 167;
/// 168..=196 → (VP − 166) days.
const VP_LAST_DAY: u8 = 196;
/// 197..=255 → (VP − 192) weeks.
const VP_DAY_BASE: u8 = 166;
const VP_WEEK_BASE: u8 = 192;

/// How long the service centre keeps trying to deliver.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Validity {
    /// Not given: the service centre's default applies.
    None,
    /// Relative to submission. Encoding rounds up to the next representable period (5 minutes to 63 weeks).
    Relative(Duration),
    /// Until an absolute time.
    Absolute(OffsetDateTime),
    /// Enhanced format (TS 23.040 §9.2.3.12.3), raw octets.
    Enhanced([u8; ENHANCED_VP_OCTETS]),
}

/// The relative TP-VP octet for a duration: the smallest representable period not shorter than `d`
/// (capped at 63 weeks).
pub fn relative_code(d: Duration) -> u8 {
    let s = d.as_secs() + u64::from(d.subsec_nanos() > 0);
    let code = if s <= 12 * HOUR {
        s.div_ceil(5 * MINUTE).max(1) - 1
    } else if s <= DAY {
        u64::from(VP_LAST_5MIN) + (s - 12 * HOUR).div_ceil(30 * MINUTE)
    } else if s <= 30 * DAY {
        u64::from(VP_DAY_BASE) + s.div_ceil(DAY)
    } else {
        (u64::from(VP_WEEK_BASE) + s.div_ceil(WEEK)).min(u64::from(u8::MAX))
    };
    code as u8
}

/// The duration a relative TP-VP octet stands for.
pub fn relative_duration(code: u8) -> Duration {
    let secs = if code <= VP_LAST_5MIN {
        (u64::from(code) + 1) * 5 * MINUTE
    } else if code <= VP_LAST_30MIN {
        12 * HOUR + u64::from(code - VP_LAST_5MIN) * 30 * MINUTE
    } else if code <= VP_LAST_DAY {
        u64::from(code - VP_DAY_BASE) * DAY
    } else {
        u64::from(code - VP_WEEK_BASE) * WEEK
    };
    Duration::from_secs(secs)
}
