//! TP-User-Data-Header (TS 23.040 §9.2.3.24): concatenation (8- and 16-bit reference), application port
//! addressing, national language shifts; any other information element is kept raw.
use crate::error::{Field, PduError};
use crate::gsm7::NationalLanguage;

/// IEI: concatenated short messages, 8-bit reference (TS 23.040 §9.2.3.24.1).
pub const IEI_CONCAT_8: u8 = 0x00;
/// IEI: application port addressing, 8-bit ports (§9.2.3.24.3).
pub const IEI_PORTS_8: u8 = 0x04;
/// IEI: application port addressing, 16-bit ports (§9.2.3.24.4).
pub const IEI_PORTS_16: u8 = 0x05;
/// IEI: concatenated short messages, 16-bit reference (§9.2.3.24.8).
pub const IEI_CONCAT_16: u8 = 0x08;
/// IEI: national language single shift (§9.2.3.24.15).
pub const IEI_NATIONAL_SINGLE_SHIFT: u8 = 0x24;
/// IEI: national language locking shift (§9.2.3.24.16).
pub const IEI_NATIONAL_LOCKING_SHIFT: u8 = 0x25;

const CONCAT_8_LEN: usize = 3;
const CONCAT_16_LEN: usize = 4;
const PORTS_8_LEN: usize = 2;
const PORTS_16_LEN: usize = 4;
const NATIONAL_SHIFT_LEN: usize = 1;

/// Position of one part in a concatenated message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Concat {
    /// Reference shared by all parts of the message.
    pub reference: u16,
    /// Number of parts (1..=255).
    pub total: u8,
    /// This part's number (1..=total).
    pub seq: u8,
    /// Whether the 16-bit reference IE (0x08) carries it, rather than the 8-bit one (0x00).
    pub wide: bool,
}

/// Application port addressing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Ports {
    /// Destination port.
    pub destination: u16,
    /// Originator port.
    pub source: u16,
    /// Whether the 16-bit port IE (0x05) carries them, rather than the 8-bit one (0x04).
    pub wide: bool,
}

/// One information element of a UDH.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum InformationElement {
    /// Concatenation (IE 0x00 or 0x08).
    Concat(Concat),
    /// Application port addressing (IE 0x04 or 0x05).
    Ports(Ports),
    /// National language single shift (IE 0x24); `Err(id)` for a language without tables here.
    SingleShift(Result<NationalLanguage, u8>),
    /// National language locking shift (IE 0x25); `Err(id)` for a language without tables here.
    LockingShift(Result<NationalLanguage, u8>),
    /// Any other element (or a malformed known one), kept as is.
    Other {
        /// Information element identifier.
        id: u8,
        /// Its data.
        data: Vec<u8>,
    },
}

/// A parsed user data header.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct Udh {
    /// The elements in the order they appear.
    pub elements: Vec<InformationElement>,
}

impl Udh {
    /// The concatenation element, if any.
    pub fn concat(&self) -> Option<Concat> {
        self.elements.iter().find_map(|e| match e {
            InformationElement::Concat(c) => Some(*c),
            _ => None,
        })
    }

    /// The port addressing element, if any.
    pub fn ports(&self) -> Option<Ports> {
        self.elements.iter().find_map(|e| match e {
            InformationElement::Ports(p) => Some(*p),
            _ => None,
        })
    }

    /// Language of the single shift table to use, if one with tables here is given.
    pub fn single_shift(&self) -> Option<NationalLanguage> {
        self.elements.iter().find_map(|e| match e {
            InformationElement::SingleShift(Ok(l)) => Some(*l),
            _ => None,
        })
    }

    /// Language of the locking shift table to use, if one with tables here is given.
    pub fn locking_shift(&self) -> Option<NationalLanguage> {
        self.elements.iter().find_map(|e| match e {
            InformationElement::LockingShift(Ok(l)) => Some(*l),
            _ => None,
        })
    }

    /// Parses the header octets after the UDHL octet. `offset` is the offset of the first of them in the
    /// input, for error messages.
    pub(crate) fn parse(mut data: &[u8], offset: usize) -> Result<Udh, PduError> {
        let mut elements = Vec::new();
        let mut pos = offset;
        while !data.is_empty() {
            let [id, len, rest @ ..] = data else {
                return Err(PduError::Truncated {
                    field: Field::UserDataHeader,
                    offset: pos + data.len(),
                    needed: 1,
                });
            };
            let (id, len) = (*id, usize::from(*len));
            if rest.len() < len {
                return Err(PduError::BadLength {
                    field: Field::UserDataHeader,
                    offset: pos + 1,
                    declared: len,
                    reason: "information element longer than the header",
                });
            }
            let body = &rest[..len];
            elements.push(element(id, body));
            data = &rest[len..];
            pos += 2 + len;
        }
        Ok(Udh { elements })
    }

    /// Serialises the elements (without the UDHL octet).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        for e in &self.elements {
            push_element(e, &mut out);
        }
        out
    }
}

fn element(id: u8, body: &[u8]) -> InformationElement {
    let other = || InformationElement::Other {
        id,
        data: body.to_vec(),
    };
    match (id, body.len()) {
        (IEI_CONCAT_8, CONCAT_8_LEN) | (IEI_CONCAT_16, CONCAT_16_LEN) => {
            let wide = id == IEI_CONCAT_16;
            let (reference, total, seq) = if wide {
                (u16::from_be_bytes([body[0], body[1]]), body[2], body[3])
            } else {
                (u16::from(body[0]), body[1], body[2])
            };
            // TS 23.040 §9.2.3.24.1: a zero total, a zero sequence number or one above the total means
            // the receiver ignores the element; it is kept raw so nothing is lost.
            if total == 0 || seq == 0 || seq > total {
                return other();
            }
            InformationElement::Concat(Concat {
                reference,
                total,
                seq,
                wide,
            })
        }
        (IEI_PORTS_8, PORTS_8_LEN) => InformationElement::Ports(Ports {
            destination: u16::from(body[0]),
            source: u16::from(body[1]),
            wide: false,
        }),
        (IEI_PORTS_16, PORTS_16_LEN) => InformationElement::Ports(Ports {
            destination: u16::from_be_bytes([body[0], body[1]]),
            source: u16::from_be_bytes([body[2], body[3]]),
            wide: true,
        }),
        (IEI_NATIONAL_SINGLE_SHIFT, NATIONAL_SHIFT_LEN) => {
            InformationElement::SingleShift(NationalLanguage::from_id(body[0]).ok_or(body[0]))
        }
        (IEI_NATIONAL_LOCKING_SHIFT, NATIONAL_SHIFT_LEN) => {
            InformationElement::LockingShift(NationalLanguage::from_id(body[0]).ok_or(body[0]))
        }
        _ => other(),
    }
}

pub(crate) fn push_element(e: &InformationElement, out: &mut Vec<u8>) {
    match e {
        InformationElement::Concat(c) if c.wide => {
            let [hi, lo] = c.reference.to_be_bytes();
            out.extend_from_slice(&[IEI_CONCAT_16, CONCAT_16_LEN as u8, hi, lo, c.total, c.seq]);
        }
        InformationElement::Concat(c) => {
            out.extend_from_slice(&[
                IEI_CONCAT_8,
                CONCAT_8_LEN as u8,
                c.reference as u8,
                c.total,
                c.seq,
            ]);
        }
        InformationElement::Ports(p) if p.wide => {
            let [d1, d2] = p.destination.to_be_bytes();
            let [s1, s2] = p.source.to_be_bytes();
            out.extend_from_slice(&[IEI_PORTS_16, PORTS_16_LEN as u8, d1, d2, s1, s2]);
        }
        InformationElement::Ports(p) => {
            out.extend_from_slice(&[
                IEI_PORTS_8,
                PORTS_8_LEN as u8,
                p.destination as u8,
                p.source as u8,
            ]);
        }
        InformationElement::SingleShift(l) => {
            let id = match l {
                Ok(l) => l.id(),
                Err(id) => *id,
            };
            out.extend_from_slice(&[IEI_NATIONAL_SINGLE_SHIFT, NATIONAL_SHIFT_LEN as u8, id]);
        }
        InformationElement::LockingShift(l) => {
            let id = match l {
                Ok(l) => l.id(),
                Err(id) => *id,
            };
            out.extend_from_slice(&[IEI_NATIONAL_LOCKING_SHIFT, NATIONAL_SHIFT_LEN as u8, id]);
        }
        InformationElement::Other { id, data } => {
            out.push(*id);
            out.push(data.len().min(usize::from(u8::MAX)) as u8);
            out.extend_from_slice(&data[..data.len().min(usize::from(u8::MAX))]);
        }
    }
}
