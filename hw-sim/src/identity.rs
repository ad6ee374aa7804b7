//! Stable, valid-looking identities for simulated modems: IMEI (TS 23.003 §6.2, Luhn check digit),
//! IMSI (MCC 001 / MNC 01, the 3GPP test network), ICCID (ITU-T E.118, Luhn) and an MSISDN derived from
//! the bank's number base. The same index and seed always give the same identity.
use serde::{Deserialize, Serialize};

/// TS 23.003 §2.2: the test network MCC+MNC used for IMSIs, so a simulated SIM never looks like a real one.
const TEST_PLMN: &str = "00101";
/// Type Allocation Code prefix used for simulated IMEIs (8 digits, TS 23.003 §6.2.1).
const SIM_TAC: &str = "35000019";
/// ICCID prefix: 89 (telecom, E.118) + country code 48 + issuer 99.
const ICCID_PREFIX: &str = "894899";

/// Identity of one simulated modem and its SIM.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Identity {
    /// 15-digit IMEI with Luhn check digit.
    pub imei: String,
    /// 15-digit IMSI.
    pub imsi: String,
    /// 19-digit ICCID with Luhn check digit.
    pub iccid: String,
    /// Subscriber number in international format (`+48600000000`).
    pub number: String,
}

/// The Luhn check digit of a digit string.
pub fn luhn_digit(digits: &str) -> u8 {
    let mut sum = 0u32;
    for (i, c) in digits.bytes().rev().enumerate() {
        let mut d = u32::from(c.wrapping_sub(b'0')) % 10;
        if i % 2 == 0 {
            d *= 2;
            if d > 9 {
                d -= 9;
            }
        }
        sum += d;
    }
    ((10 - sum % 10) % 10) as u8
}

/// Adds `offset` to a phone number given as `+` and digits, keeping its width.
pub fn number_at(base: &str, offset: u64) -> String {
    let plus = base.starts_with('+');
    let digits: String = base.chars().filter(char::is_ascii_digit).collect();
    let width = digits.len();
    let value: u128 = digits.parse().unwrap_or(0);
    let n = value + u128::from(offset);
    format!("{}{:0width$}", if plus { "+" } else { "" }, n)
}

impl Identity {
    /// The identity of modem `index` in a bank with this seed and number base.
    pub fn generate(index: usize, seed: u64, number_base: &str) -> Identity {
        // Mix seed and index so that two banks with different seeds do not share identities.
        let serial = (seed.wrapping_mul(1_000_003).wrapping_add(index as u64)) % 1_000_000;
        let imei_body = format!("{SIM_TAC}{serial:06}");
        let imei = format!("{imei_body}{}", luhn_digit(&imei_body));
        let msin = (seed.wrapping_mul(7919).wrapping_add(index as u64)) % 10_000_000_000;
        let imsi = format!("{TEST_PLMN}{msin:010}");
        let iccid_body = format!("{ICCID_PREFIX}{:012}", msin % 1_000_000_000_000);
        let iccid = format!("{iccid_body}{}", luhn_digit(&iccid_body));
        Identity {
            imei,
            imsi,
            iccid,
            number: number_at(number_base, index as u64),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn luhn() {
        // Known-good IMEI from TS 23.003 Annex B example: 49015420323751 → check digit 8.
        assert_eq!(luhn_digit("49015420323751"), 8);
        assert_eq!(luhn_digit("7992739871"), 3);
    }

    #[test]
    fn identities_are_stable_and_distinct() {
        let a = Identity::generate(0, 1, "+48600000000");
        let b = Identity::generate(1, 1, "+48600000000");
        assert_eq!(a, Identity::generate(0, 1, "+48600000000"));
        assert_ne!(a.imei, b.imei);
        assert_eq!(a.imei.len(), 15);
        assert_eq!(a.imsi.len(), 15);
        assert_eq!(a.iccid.len(), 19);
        assert_eq!(b.number, "+48600000001");
        assert_eq!(number_at("48600000099", 1), "48600000100");
    }
}
