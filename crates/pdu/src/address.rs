//! Addresses of TS 23.040 §9.1.2.5 (TP-OA, TP-DA, TP-RA) and the SMSC address of TS 24.011 §8.2.5.1:
//! type of number, numbering plan, semi-octet digits or GSM-7 packed alphanumeric text.
use std::fmt;
use std::str::FromStr;

use crate::error::{Field, PduError};
use crate::gsm7;
use crate::reader::Reader;

/// Bit 7 of the type-of-address octet is always 1 (TS 23.040 §9.1.2.5).
const TOA_EXTENSION_BIT: u8 = 0x80;
/// Semi-octet filler in the last octet of an odd number of digits.
const FILLER_NIBBLE: u8 = 0x0F;
/// Most digits an address field may carry (TS 23.040 §9.1.2.5: at most 12 octets incl. length and type).
pub const MAX_ADDRESS_DIGITS: usize = 20;
/// Most characters of an alphanumeric address: 10 octets of packed septets.
pub const MAX_ALPHANUMERIC_CHARS: usize = 11;

/// Type of number (TS 23.040 §9.1.2.5, bits 6..4 of the type-of-address octet).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TypeOfNumber {
    /// 000: unknown (the network decides; used for national numbers and short codes).
    Unknown,
    /// 001: international number (shown with a leading `+`).
    International,
    /// 010: national number.
    National,
    /// 011: network specific number.
    NetworkSpecific,
    /// 100: subscriber number.
    Subscriber,
    /// 101: alphanumeric, GSM-7 packed (TS 23.038).
    Alphanumeric,
    /// 110: abbreviated number.
    Abbreviated,
    /// 111: reserved for extension.
    Reserved,
}

impl TypeOfNumber {
    /// The 3-bit value.
    pub fn bits(self) -> u8 {
        match self {
            TypeOfNumber::Unknown => 0,
            TypeOfNumber::International => 1,
            TypeOfNumber::National => 2,
            TypeOfNumber::NetworkSpecific => 3,
            TypeOfNumber::Subscriber => 4,
            TypeOfNumber::Alphanumeric => 5,
            TypeOfNumber::Abbreviated => 6,
            TypeOfNumber::Reserved => 7,
        }
    }

    /// From the 3-bit value (higher bits ignored).
    pub fn from_bits(bits: u8) -> TypeOfNumber {
        match bits & 0x07 {
            0 => TypeOfNumber::Unknown,
            1 => TypeOfNumber::International,
            2 => TypeOfNumber::National,
            3 => TypeOfNumber::NetworkSpecific,
            4 => TypeOfNumber::Subscriber,
            5 => TypeOfNumber::Alphanumeric,
            6 => TypeOfNumber::Abbreviated,
            _ => TypeOfNumber::Reserved,
        }
    }
}

/// Numbering plan identification (TS 23.040 §9.1.2.5, bits 3..0 of the type-of-address octet).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NumberingPlan {
    /// 0000: unknown.
    Unknown,
    /// 0001: ISDN/telephone numbering plan (E.164/E.163).
    Isdn,
    /// 0011: data numbering plan (X.121).
    Data,
    /// 0100: telex numbering plan.
    Telex,
    /// 0101: service centre specific plan 1.
    ServiceCentreSpecific1,
    /// 0110: service centre specific plan 2.
    ServiceCentreSpecific2,
    /// 1000: national numbering plan.
    National,
    /// 1001: private numbering plan.
    Private,
    /// 1010: ERMES numbering plan.
    Ermes,
    /// Any other (reserved) value, kept as is.
    Reserved(u8),
}

impl NumberingPlan {
    /// The 4-bit value.
    pub fn bits(self) -> u8 {
        match self {
            NumberingPlan::Unknown => 0,
            NumberingPlan::Isdn => 1,
            NumberingPlan::Data => 3,
            NumberingPlan::Telex => 4,
            NumberingPlan::ServiceCentreSpecific1 => 5,
            NumberingPlan::ServiceCentreSpecific2 => 6,
            NumberingPlan::National => 8,
            NumberingPlan::Private => 9,
            NumberingPlan::Ermes => 10,
            NumberingPlan::Reserved(v) => v & 0x0F,
        }
    }

    /// From the 4-bit value (higher bits ignored).
    pub fn from_bits(bits: u8) -> NumberingPlan {
        match bits & 0x0F {
            0 => NumberingPlan::Unknown,
            1 => NumberingPlan::Isdn,
            3 => NumberingPlan::Data,
            4 => NumberingPlan::Telex,
            5 => NumberingPlan::ServiceCentreSpecific1,
            6 => NumberingPlan::ServiceCentreSpecific2,
            8 => NumberingPlan::National,
            9 => NumberingPlan::Private,
            10 => NumberingPlan::Ermes,
            v => NumberingPlan::Reserved(v),
        }
    }
}

/// An SMS address: a phone number (digits, `*`, `#`, `a`..`c`) or an alphanumeric sender name.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Address {
    /// Type of number.
    pub ton: TypeOfNumber,
    /// Numbering plan.
    pub npi: NumberingPlan,
    /// Digits without the `+` (numeric types), or the text (alphanumeric).
    pub value: String,
}

impl Address {
    /// Parses a user-supplied address:
    /// `+48600100200` → international/ISDN; `600100200`, `8080` → unknown/ISDN (national numbers and
    /// short codes, the network decides); anything else (e.g. `MyShop`) → alphanumeric, at most 11 GSM-7
    /// characters. Spaces, dashes and parentheses inside numbers are ignored.
    pub fn parse(input: &str) -> Result<Address, PduError> {
        let err = |reason| PduError::InvalidAddress {
            input: input.to_string(),
            reason,
        };
        let trimmed = input.trim();
        if trimmed.is_empty() {
            return Err(err("empty"));
        }
        let (international, rest) = match trimmed.strip_prefix('+') {
            Some(r) => (true, r),
            None => (false, trimmed),
        };
        let is_numeric = rest
            .chars()
            .all(|c| c.is_ascii_digit() || matches!(c, '*' | '#' | ' ' | '-' | '(' | ')'));
        if is_numeric {
            let digits: String = rest
                .chars()
                .filter(|c| !matches!(c, ' ' | '-' | '(' | ')'))
                .collect();
            if digits.is_empty() {
                return Err(err("no digits"));
            }
            if digits.len() > MAX_ADDRESS_DIGITS {
                return Err(err("more than 20 digits"));
            }
            let ton = if international {
                TypeOfNumber::International
            } else {
                TypeOfNumber::Unknown
            };
            return Ok(Address {
                ton,
                npi: NumberingPlan::Isdn,
                value: digits,
            });
        }
        if international {
            return Err(err("a number with + may contain only digits"));
        }
        Address::alphanumeric(trimmed)
            .map_err(|_| err("alphanumeric sender needs 1 to 11 GSM 7-bit characters"))
    }

    /// An international number from digits (without `+`).
    pub fn international(digits: &str) -> Result<Address, PduError> {
        Address::numeric(TypeOfNumber::International, digits)
    }

    /// A number of the given type from digits (`0-9`, `*`, `#`, `a`, `b`, `c`).
    pub fn numeric(ton: TypeOfNumber, digits: &str) -> Result<Address, PduError> {
        let err = |reason| PduError::InvalidAddress {
            input: digits.to_string(),
            reason,
        };
        if digits.len() > MAX_ADDRESS_DIGITS {
            return Err(err("more than 20 digits"));
        }
        if let Some(_bad) = digits.chars().find(|&c| digit_nibble(c).is_none()) {
            return Err(err("digits may only be 0-9, *, #, a, b, c"));
        }
        Ok(Address {
            ton,
            npi: NumberingPlan::Isdn,
            value: digits.to_string(),
        })
    }

    /// An alphanumeric sender (TON 5), at most 11 characters of the GSM 7-bit default alphabet.
    pub fn alphanumeric(text: &str) -> Result<Address, PduError> {
        let err = |reason| PduError::InvalidAddress {
            input: text.to_string(),
            reason,
        };
        let septets = gsm7::encode_default(text).map_err(|_| err("not in the GSM 7-bit default alphabet"))?;
        if septets.is_empty() {
            return Err(err("empty"));
        }
        if septets.len() > MAX_ALPHANUMERIC_CHARS {
            return Err(err("longer than 11 GSM 7-bit characters"));
        }
        Ok(Address {
            ton: TypeOfNumber::Alphanumeric,
            npi: NumberingPlan::Unknown,
            value: text.to_string(),
        })
    }

    /// Whether this is an international number.
    pub fn is_international(&self) -> bool {
        self.ton == TypeOfNumber::International
    }

    /// The type-of-address octet.
    pub fn toa(&self) -> u8 {
        TOA_EXTENSION_BIT | self.ton.bits() << 4 | self.npi.bits()
    }

    /// The TP-OA/TP-DA/TP-RA field: length in semi-octets, type, digits or packed text.
    pub fn to_tp_field(&self) -> Result<Vec<u8>, PduError> {
        let mut out = Vec::with_capacity(12);
        self.encode_tp(&mut out)?;
        Ok(out)
    }

    /// The SMSC field that starts a PDU: length in octets, type, digits (TS 24.011 §8.2.5.1).
    pub fn to_smsc_field(&self) -> Result<Vec<u8>, PduError> {
        let mut out = Vec::with_capacity(12);
        self.encode_smsc(&mut out)?;
        Ok(out)
    }

    /// Encodes as TP-OA/TP-DA/TP-RA: length in semi-octets, type, value (TS 23.040 §9.1.2.5).
    pub(crate) fn encode_tp(&self, out: &mut Vec<u8>) -> Result<(), PduError> {
        if self.ton == TypeOfNumber::Alphanumeric {
            let septets = gsm7::encode_default(&self.value).map_err(|_| PduError::InvalidAddress {
                input: self.value.clone(),
                reason: "not in the GSM 7-bit default alphabet",
            })?;
            if septets.len() > MAX_ALPHANUMERIC_CHARS {
                return Err(PduError::InvalidAddress {
                    input: self.value.clone(),
                    reason: "longer than 11 characters",
                });
            }
            let packed = gsm7::pack(&septets);
            // The length counts the semi-octets that carry the septets (TS 23.040 §9.1.2.5).
            out.push((septets.len() * 7).div_ceil(4) as u8);
            out.push(self.toa());
            out.extend_from_slice(&packed);
        } else {
            let digits = self.bcd_digits()?;
            out.push(digits.len() as u8);
            out.push(self.toa());
            push_bcd(&digits, out);
        }
        Ok(())
    }

    /// Encodes as the SMSC field: length in octets (type + digits), type, digits (TS 24.011 §8.2.5.1).
    pub(crate) fn encode_smsc(&self, out: &mut Vec<u8>) -> Result<(), PduError> {
        let digits = self.bcd_digits()?;
        if digits.is_empty() {
            return Err(PduError::InvalidAddress {
                input: self.value.clone(),
                reason: "SMSC address needs digits",
            });
        }
        out.push(1 + digits.len().div_ceil(2) as u8);
        out.push(self.toa());
        push_bcd(&digits, out);
        Ok(())
    }

    fn bcd_digits(&self) -> Result<Vec<u8>, PduError> {
        if self.value.len() > MAX_ADDRESS_DIGITS {
            return Err(PduError::InvalidAddress {
                input: self.value.clone(),
                reason: "more than 20 digits",
            });
        }
        self.value
            .chars()
            .map(|c| {
                digit_nibble(c).ok_or_else(|| PduError::InvalidAddress {
                    input: self.value.clone(),
                    reason: "digits may only be 0-9, *, #, a, b, c",
                })
            })
            .collect()
    }

    /// Decodes TP-OA/TP-DA/TP-RA.
    pub(crate) fn decode_tp(r: &mut Reader<'_>, field: Field) -> Result<Address, PduError> {
        let len_offset = r.pos();
        let semi_octets = usize::from(r.u8(field)?);
        if semi_octets > MAX_ADDRESS_DIGITS {
            return Err(PduError::BadLength {
                field,
                offset: len_offset,
                declared: semi_octets,
                reason: "an address has at most 20 semi-octets",
            });
        }
        let toa = r.u8(field)?;
        let body = r.take(semi_octets.div_ceil(2), field)?;
        let ton = TypeOfNumber::from_bits(toa >> 4);
        let npi = NumberingPlan::from_bits(toa);
        let value = if ton == TypeOfNumber::Alphanumeric {
            let septets = gsm7::unpack(body, semi_octets * 4 / 7);
            gsm7::decode_default(&septets)
        } else {
            decode_bcd(body, semi_octets)
        };
        Ok(Address { ton, npi, value })
    }

    /// Decodes the SMSC field; `None` when its length is 0.
    pub(crate) fn decode_smsc(r: &mut Reader<'_>) -> Result<Option<Address>, PduError> {
        let len_offset = r.pos();
        let octets = usize::from(r.u8(Field::SmscLength)?);
        if octets == 0 {
            return Ok(None);
        }
        // Type octet plus at most 10 octets of digits (TS 24.011 §8.2.5.1: the RP address is at most 12 octets).
        if octets > 1 + MAX_ADDRESS_DIGITS / 2 {
            return Err(PduError::BadLength {
                field: Field::SmscLength,
                offset: len_offset,
                declared: octets,
                reason: "the SMSC address has at most 11 octets",
            });
        }
        let toa = r.u8(Field::Smsc)?;
        let body = r.take(octets - 1, Field::Smsc)?;
        let ton = TypeOfNumber::from_bits(toa >> 4);
        let npi = NumberingPlan::from_bits(toa);
        let value = if ton == TypeOfNumber::Alphanumeric {
            gsm7::decode_default(&gsm7::unpack(body, body.len() * 8 / 7))
        } else {
            decode_bcd(body, body.len() * 2)
        };
        // A type octet without digits (gammu writes `01 81` for "modem default") names no SMSC.
        if value.is_empty() {
            return Ok(None);
        }
        Ok(Some(Address { ton, npi, value }))
    }
}

fn digit_nibble(c: char) -> Option<u8> {
    match c {
        '0'..='9' => Some(c as u8 - b'0'),
        '*' => Some(0x0A),
        '#' => Some(0x0B),
        'a' | 'A' => Some(0x0C),
        'b' | 'B' => Some(0x0D),
        'c' | 'C' => Some(0x0E),
        _ => None,
    }
}

fn nibble_digit(n: u8) -> Option<char> {
    match n {
        0..=9 => Some(char::from(b'0' + n)),
        0x0A => Some('*'),
        0x0B => Some('#'),
        0x0C => Some('a'),
        0x0D => Some('b'),
        0x0E => Some('c'),
        _ => None,
    }
}

/// Swapped-nibble BCD (TS 23.040 §9.1.2.3), `F` filler for an odd count.
fn push_bcd(digits: &[u8], out: &mut Vec<u8>) {
    for pair in digits.chunks(2) {
        let lo = pair[0];
        let hi = pair.get(1).copied().unwrap_or(FILLER_NIBBLE);
        out.push(hi << 4 | lo);
    }
}

/// Decodes up to `count` semi-octets; a filler nibble ends the number early.
fn decode_bcd(body: &[u8], count: usize) -> String {
    let mut s = String::with_capacity(count);
    for i in 0..count {
        let Some(&b) = body.get(i / 2) else { break };
        let n = if i % 2 == 0 { b & 0x0F } else { b >> 4 };
        match nibble_digit(n) {
            Some(c) => s.push(c),
            None => break,
        }
    }
    s
}

impl fmt::Display for Address {
    /// `+` and digits for international numbers, the digits or text otherwise.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.ton == TypeOfNumber::International {
            f.write_str("+")?;
        }
        f.write_str(&self.value)
    }
}

impl FromStr for Address {
    type Err = PduError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Address::parse(s)
    }
}
