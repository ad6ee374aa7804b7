//! TP-Data-Coding-Scheme (TS 23.038 §4): alphabet, message class, compression, automatic deletion and
//! message waiting indication groups.

/// Character set of the user data. Serialises as `gsm7`, `8bit` or `ucs2`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum Alphabet {
    /// GSM 7-bit default alphabet (or a national language table), septets packed.
    #[serde(rename = "gsm7")]
    Gsm7,
    /// 8-bit data, kept as bytes.
    #[serde(rename = "8bit")]
    EightBit,
    /// UCS-2 / UTF-16BE (surrogate pairs decoded).
    #[serde(rename = "ucs2")]
    Ucs2,
}

impl Alphabet {
    /// Short name: `gsm7`, `8bit` or `ucs2`.
    pub fn name(self) -> &'static str {
        match self {
            Alphabet::Gsm7 => "gsm7",
            Alphabet::EightBit => "8bit",
            Alphabet::Ucs2 => "ucs2",
        }
    }
}

/// Message class (TS 23.038 §4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MessageClass {
    /// Class 0, "flash": shown immediately, not stored.
    Class0,
    /// Class 1: ME specific.
    Class1,
    /// Class 2: SIM specific.
    Class2,
    /// Class 3: TE specific.
    Class3,
}

impl MessageClass {
    /// 0..=3.
    pub fn number(self) -> u8 {
        match self {
            MessageClass::Class0 => 0,
            MessageClass::Class1 => 1,
            MessageClass::Class2 => 2,
            MessageClass::Class3 => 3,
        }
    }

    /// From 0..=3 (higher bits ignored).
    pub fn from_number(n: u8) -> MessageClass {
        match n & CLASS_MASK {
            0 => MessageClass::Class0,
            1 => MessageClass::Class1,
            2 => MessageClass::Class2,
            _ => MessageClass::Class3,
        }
    }
}

/// Kind of message waiting (TS 23.038 §4, coding groups 1100..1110, bits 1..0).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum WaitingKind {
    /// Voicemail message waiting.
    Voicemail,
    /// Fax message waiting.
    Fax,
    /// Electronic mail message waiting.
    Email,
    /// Other message waiting.
    Other,
}

/// Message waiting indication carried in the DCS.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct MessageWaiting {
    /// Indication active (set) or inactive (cleared).
    pub active: bool,
    /// What is waiting.
    pub kind: WaitingKind,
    /// Whether the message itself is to be stored (groups 1101, 1110) or may be discarded (1100).
    pub store: bool,
}

/// A decoded TP-DCS octet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Dcs {
    /// The raw octet.
    pub raw: u8,
    /// Alphabet of the user data. Reserved codings are read as GSM-7, as TS 23.038 §4 requires.
    pub alphabet: Alphabet,
    /// Message class, if the DCS gives one.
    pub class: Option<MessageClass>,
    /// Text compressed (TS 23.042); such user data is kept as bytes.
    pub compressed: bool,
    /// Message marked for automatic deletion (coding group 01xx).
    pub auto_delete: bool,
    /// Message waiting indication group.
    pub waiting: Option<MessageWaiting>,
}

const CLASS_MASK: u8 = 0x03;
/// General data coding groups 00xx/01xx: bit 5 compressed, bit 4 class present, bits 3..2 alphabet.
const GENERAL_GROUP_MASK: u8 = 0x80;
const AUTO_DELETE_BIT: u8 = 0x40;
const COMPRESSED_BIT: u8 = 0x20;
const CLASS_PRESENT_BIT: u8 = 0x10;
const ALPHABET_SHIFT: u8 = 2;
const ALPHABET_GSM7: u8 = 0b00;
const ALPHABET_8BIT: u8 = 0b01;
const ALPHABET_UCS2: u8 = 0b10;
/// Coding groups in the high nibble.
const GROUP_MWI_DISCARD: u8 = 0xC;
const GROUP_MWI_STORE_GSM7: u8 = 0xD;
const GROUP_MWI_STORE_UCS2: u8 = 0xE;
const GROUP_DATA_CLASS: u8 = 0xF;
/// Group 1111 bit 2: 8-bit data instead of GSM-7.
const DATA_CLASS_8BIT_BIT: u8 = 0x04;
/// MWI groups bit 3: indication active.
const MWI_ACTIVE_BIT: u8 = 0x08;

impl Dcs {
    /// Decodes a DCS octet. Never fails: reserved codings read as GSM-7 (TS 23.038 §4).
    pub fn from_byte(raw: u8) -> Dcs {
        let mut d = Dcs {
            raw,
            alphabet: Alphabet::Gsm7,
            class: None,
            compressed: false,
            auto_delete: false,
            waiting: None,
        };
        if raw & GENERAL_GROUP_MASK == 0 {
            d.auto_delete = raw & AUTO_DELETE_BIT != 0;
            d.compressed = raw & COMPRESSED_BIT != 0;
            if raw & CLASS_PRESENT_BIT != 0 {
                d.class = Some(MessageClass::from_number(raw));
            }
            d.alphabet = match (raw >> ALPHABET_SHIFT) & 0x03 {
                ALPHABET_8BIT => Alphabet::EightBit,
                ALPHABET_UCS2 => Alphabet::Ucs2,
                _ => Alphabet::Gsm7,
            };
            return d;
        }
        let group = raw >> 4;
        match group {
            GROUP_MWI_DISCARD | GROUP_MWI_STORE_GSM7 | GROUP_MWI_STORE_UCS2 => {
                let kind = match raw & 0x03 {
                    0 => WaitingKind::Voicemail,
                    1 => WaitingKind::Fax,
                    2 => WaitingKind::Email,
                    _ => WaitingKind::Other,
                };
                d.waiting = Some(MessageWaiting {
                    active: raw & MWI_ACTIVE_BIT != 0,
                    kind,
                    store: group != GROUP_MWI_DISCARD,
                });
                if group == GROUP_MWI_STORE_UCS2 {
                    d.alphabet = Alphabet::Ucs2;
                }
            }
            GROUP_DATA_CLASS => {
                d.class = Some(MessageClass::from_number(raw));
                if raw & DATA_CLASS_8BIT_BIT != 0 {
                    d.alphabet = Alphabet::EightBit;
                }
            }
            // 1000..1011 are reserved coding groups: GSM-7.
            _ => {}
        }
        d
    }

    /// The DCS an encoder uses for an alphabet and optional class (general data coding group 00xx).
    pub fn for_alphabet(alphabet: Alphabet, class: Option<MessageClass>) -> Dcs {
        let alpha = match alphabet {
            Alphabet::Gsm7 => ALPHABET_GSM7,
            Alphabet::EightBit => ALPHABET_8BIT,
            Alphabet::Ucs2 => ALPHABET_UCS2,
        };
        let mut raw = alpha << ALPHABET_SHIFT;
        if let Some(c) = class {
            raw |= CLASS_PRESENT_BIT | c.number();
        }
        Dcs::from_byte(raw)
    }
}
