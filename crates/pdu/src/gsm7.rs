//! GSM 7-bit default alphabet, its extension table and the national language shift tables of
//! TS 23.038 §6.2.1 and Annex A (Turkish, Spanish, Portuguese), plus septet packing (TS 23.038 §6.1.2.1).
use std::sync::OnceLock;

/// Escape to the (single shift) extension table, TS 23.038 §6.2.1.
pub const GSM7_ESCAPE: u8 = 0x1B;

/// Number of code points in a 7-bit table.
const TABLE_SIZE: usize = 128;

/// Marks "no character at this code" in a shift table.
const NONE: char = '\0';

/// A national language of TS 23.038 §6.2.1.2.4 for which this codec has shift tables. Serialises as
/// `turkish`, `spanish`, `portuguese`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NationalLanguage {
    /// Turkish: locking and single shift tables (TS 23.038 A.2.1, A.3.1).
    Turkish,
    /// Spanish: single shift table only (TS 23.038 A.2.2).
    Spanish,
    /// Portuguese: locking and single shift tables (TS 23.038 A.2.3, A.3.3).
    Portuguese,
}

impl NationalLanguage {
    /// All languages with tables, in identifier order.
    pub const ALL: [NationalLanguage; 3] = [
        NationalLanguage::Turkish,
        NationalLanguage::Spanish,
        NationalLanguage::Portuguese,
    ];

    /// National language identifier carried in the shift IEs (TS 23.038 §6.2.1.2.4).
    pub fn id(self) -> u8 {
        match self {
            NationalLanguage::Turkish => 1,
            NationalLanguage::Spanish => 2,
            NationalLanguage::Portuguese => 3,
        }
    }

    /// Language for an identifier, if this codec has its tables.
    pub fn from_id(id: u8) -> Option<NationalLanguage> {
        match id {
            1 => Some(NationalLanguage::Turkish),
            2 => Some(NationalLanguage::Spanish),
            3 => Some(NationalLanguage::Portuguese),
            _ => None,
        }
    }

    /// Whether the language has a locking shift table (Spanish has only a single shift table).
    pub fn has_locking_table(self) -> bool {
        !matches!(self, NationalLanguage::Spanish)
    }
}

/// TS 23.038 §6.2.1: the default alphabet. 0x1B (escape) is never produced by the encoder.
const DEFAULT_TABLE: [char; TABLE_SIZE] = [
    '@', '£', '$', '¥', 'è', 'é', 'ù', 'ì', 'ò', 'Ç', '\n', 'Ø', 'ø', '\r', 'Å', 'å', //
    'Δ', '_', 'Φ', 'Γ', 'Λ', 'Ω', 'Π', 'Ψ', 'Σ', 'Θ', 'Ξ', '\u{1B}', 'Æ', 'æ', 'ß', 'É', //
    ' ', '!', '"', '#', '¤', '%', '&', '\'', '(', ')', '*', '+', ',', '-', '.', '/', //
    '0', '1', '2', '3', '4', '5', '6', '7', '8', '9', ':', ';', '<', '=', '>', '?', //
    '¡', 'A', 'B', 'C', 'D', 'E', 'F', 'G', 'H', 'I', 'J', 'K', 'L', 'M', 'N', 'O', //
    'P', 'Q', 'R', 'S', 'T', 'U', 'V', 'W', 'X', 'Y', 'Z', 'Ä', 'Ö', 'Ñ', 'Ü', '§', //
    '¿', 'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j', 'k', 'l', 'm', 'n', 'o', //
    'p', 'q', 'r', 's', 't', 'u', 'v', 'w', 'x', 'y', 'z', 'ä', 'ö', 'ñ', 'ü', 'à', //
];

/// TS 23.038 A.3.1: Turkish locking shift table.
const TURKISH_LOCKING_TABLE: [char; TABLE_SIZE] = [
    '@', '£', '$', '¥', '€', 'é', 'ù', 'ı', 'ò', 'Ç', '\n', 'Ğ', 'ğ', '\r', 'Å', 'å', //
    'Δ', '_', 'Φ', 'Γ', 'Λ', 'Ω', 'Π', 'Ψ', 'Σ', 'Θ', 'Ξ', '\u{1B}', 'Ş', 'ş', 'ß', 'É', //
    ' ', '!', '"', '#', '¤', '%', '&', '\'', '(', ')', '*', '+', ',', '-', '.', '/', //
    '0', '1', '2', '3', '4', '5', '6', '7', '8', '9', ':', ';', '<', '=', '>', '?', //
    'İ', 'A', 'B', 'C', 'D', 'E', 'F', 'G', 'H', 'I', 'J', 'K', 'L', 'M', 'N', 'O', //
    'P', 'Q', 'R', 'S', 'T', 'U', 'V', 'W', 'X', 'Y', 'Z', 'Ä', 'Ö', 'Ñ', 'Ü', '§', //
    'ç', 'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j', 'k', 'l', 'm', 'n', 'o', //
    'p', 'q', 'r', 's', 't', 'u', 'v', 'w', 'x', 'y', 'z', 'ä', 'ö', 'ñ', 'ü', 'à', //
];

/// TS 23.038 A.3.3: Portuguese locking shift table.
const PORTUGUESE_LOCKING_TABLE: [char; TABLE_SIZE] = [
    '@', '£', '$', '¥', 'ê', 'é', 'ú', 'í', 'ó', 'ç', '\n', 'Ô', 'ô', '\r', 'Á', 'á', //
    'Δ', '_', 'ª', 'Ç', 'À', '∞', '^', '\\', '€', 'Ó', '|', '\u{1B}', 'Â', 'â', 'Ê', 'É', //
    ' ', '!', '"', '#', 'º', '%', '&', '\'', '(', ')', '*', '+', ',', '-', '.', '/', //
    '0', '1', '2', '3', '4', '5', '6', '7', '8', '9', ':', ';', '<', '=', '>', '?', //
    'Í', 'A', 'B', 'C', 'D', 'E', 'F', 'G', 'H', 'I', 'J', 'K', 'L', 'M', 'N', 'O', //
    'P', 'Q', 'R', 'S', 'T', 'U', 'V', 'W', 'X', 'Y', 'Z', 'Ã', 'Õ', 'Ú', 'Ü', '§', //
    '~', 'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j', 'k', 'l', 'm', 'n', 'o', //
    'p', 'q', 'r', 's', 't', 'u', 'v', 'w', 'x', 'y', 'z', 'ã', 'õ', '`', 'ü', 'à', //
];

/// Entries shared by every single shift table: form feed, `^ { } \ [ ~ ] |` (TS 23.038 §6.2.1.1).
const COMMON_SHIFT: [(u8, char); 9] = [
    (0x0A, '\u{0C}'),
    (0x14, '^'),
    (0x28, '{'),
    (0x29, '}'),
    (0x2F, '\\'),
    (0x3C, '['),
    (0x3D, '~'),
    (0x3E, ']'),
    (0x40, '|'),
];

/// TS 23.038 §6.2.1.1: the default extension table (common entries plus €).
const DEFAULT_SHIFT: [(u8, char); 1] = [(0x65, '€')];

/// TS 23.038 A.2.1: Turkish single shift table (common entries plus these).
const TURKISH_SHIFT: [(u8, char); 8] = [
    (0x47, 'Ğ'),
    (0x49, 'İ'),
    (0x53, 'Ş'),
    (0x63, 'ç'),
    (0x65, '€'),
    (0x67, 'ğ'),
    (0x69, 'ı'),
    (0x73, 'ş'),
];

/// TS 23.038 A.2.2: Spanish single shift table (common entries plus these).
const SPANISH_SHIFT: [(u8, char); 10] = [
    (0x09, 'ç'),
    (0x41, 'Á'),
    (0x49, 'Í'),
    (0x4F, 'Ó'),
    (0x55, 'Ú'),
    (0x61, 'á'),
    (0x65, '€'),
    (0x69, 'í'),
    (0x6F, 'ó'),
    (0x75, 'ú'),
];

/// TS 23.038 A.2.3: Portuguese single shift table (common entries plus these).
const PORTUGUESE_SHIFT: [(u8, char); 28] = [
    (0x05, 'ê'),
    (0x09, 'ç'),
    (0x0B, 'Ô'),
    (0x0C, 'ô'),
    (0x0E, 'Á'),
    (0x0F, 'á'),
    (0x12, 'Φ'),
    (0x13, 'Γ'),
    (0x15, 'Ω'),
    (0x16, 'Π'),
    (0x17, 'Ψ'),
    (0x18, 'Σ'),
    (0x19, 'Θ'),
    (0x1F, 'Ê'),
    (0x41, 'À'),
    (0x49, 'Í'),
    (0x4F, 'Ó'),
    (0x55, 'Ú'),
    (0x5B, 'Ã'),
    (0x5C, 'Õ'),
    (0x61, 'Â'),
    (0x65, '€'),
    (0x69, 'í'),
    (0x6F, 'ó'),
    (0x75, 'ú'),
    (0x7B, 'ã'),
    (0x7C, 'õ'),
    (0x7F, 'â'),
];

const fn shift_table(extra: &[(u8, char)]) -> [char; TABLE_SIZE] {
    let mut t = [NONE; TABLE_SIZE];
    let mut i = 0;
    while i < COMMON_SHIFT.len() {
        t[COMMON_SHIFT[i].0 as usize] = COMMON_SHIFT[i].1;
        i += 1;
    }
    let mut i = 0;
    while i < extra.len() {
        t[extra[i].0 as usize] = extra[i].1;
        i += 1;
    }
    t
}

const DEFAULT_SHIFT_TABLE: [char; TABLE_SIZE] = shift_table(&DEFAULT_SHIFT);
const TURKISH_SHIFT_TABLE: [char; TABLE_SIZE] = shift_table(&TURKISH_SHIFT);
const SPANISH_SHIFT_TABLE: [char; TABLE_SIZE] = shift_table(&SPANISH_SHIFT);
const PORTUGUESE_SHIFT_TABLE: [char; TABLE_SIZE] = shift_table(&PORTUGUESE_SHIFT);

/// Code of a character in a pair of tables: one septet, or escape + one septet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Code {
    Basic(u8),
    Shifted(u8),
}

/// Characters below this code point are looked up in a direct array; the few above (€, ∞) by search.
const DIRECT_RANGE: usize = 0x400;

/// Reverse lookup of one 7-bit table: char → code, fast for the Latin/Greek range.
struct Reverse {
    /// code + 1, 0 = not present.
    direct: Box<[u8; DIRECT_RANGE]>,
    /// (char, code) for chars at or above [`DIRECT_RANGE`].
    high: Vec<(char, u8)>,
}

impl Reverse {
    fn build(table: &[char; TABLE_SIZE]) -> Reverse {
        let mut direct = Box::new([0u8; DIRECT_RANGE]);
        let mut high = Vec::new();
        for (code, &ch) in table.iter().enumerate() {
            // The escape code is never a character of its own; unmapped slots are NONE.
            if code == usize::from(GSM7_ESCAPE) || ch == NONE {
                continue;
            }
            let code = code as u8;
            let cp = ch as usize;
            if cp < DIRECT_RANGE {
                if direct[cp] == 0 {
                    direct[cp] = code + 1;
                }
            } else if !high.iter().any(|&(c, _)| c == ch) {
                high.push((ch, code));
            }
        }
        Reverse { direct, high }
    }

    #[inline]
    fn get(&self, ch: char) -> Option<u8> {
        let cp = ch as usize;
        if cp < DIRECT_RANGE {
            let v = self.direct[cp];
            if v == 0 { None } else { Some(v - 1) }
        } else {
            self.high.iter().find(|&&(c, _)| c == ch).map(|&(_, code)| code)
        }
    }
}

/// Which locking and single shift tables a GSM-7 text uses (`None` = the default table).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, serde::Serialize, serde::Deserialize)]
pub struct Gsm7Tables {
    /// Locking shift table (TS 23.038 A.3), replacing the default alphabet.
    pub locking: Option<NationalLanguage>,
    /// Single shift table (TS 23.038 A.2), replacing the default extension table.
    pub single: Option<NationalLanguage>,
}

fn locking_table(lang: Option<NationalLanguage>) -> &'static [char; TABLE_SIZE] {
    match lang {
        Some(NationalLanguage::Turkish) => &TURKISH_LOCKING_TABLE,
        Some(NationalLanguage::Portuguese) => &PORTUGUESE_LOCKING_TABLE,
        // Spanish has no locking shift table: the default alphabet applies (TS 23.038 A.3).
        Some(NationalLanguage::Spanish) | None => &DEFAULT_TABLE,
    }
}

fn single_table(lang: Option<NationalLanguage>) -> &'static [char; TABLE_SIZE] {
    match lang {
        Some(NationalLanguage::Turkish) => &TURKISH_SHIFT_TABLE,
        Some(NationalLanguage::Spanish) => &SPANISH_SHIFT_TABLE,
        Some(NationalLanguage::Portuguese) => &PORTUGUESE_SHIFT_TABLE,
        None => &DEFAULT_SHIFT_TABLE,
    }
}

fn table_index(lang: Option<NationalLanguage>) -> usize {
    match lang {
        None => 0,
        Some(NationalLanguage::Turkish) => 1,
        Some(NationalLanguage::Spanish) => 2,
        Some(NationalLanguage::Portuguese) => 3,
    }
}

struct ReverseTables {
    locking: [Reverse; 4],
    single: [Reverse; 4],
}

fn reverse_tables() -> &'static ReverseTables {
    static TABLES: OnceLock<ReverseTables> = OnceLock::new();
    TABLES.get_or_init(|| {
        let langs = [
            None,
            Some(NationalLanguage::Turkish),
            Some(NationalLanguage::Spanish),
            Some(NationalLanguage::Portuguese),
        ];
        ReverseTables {
            locking: langs.map(|l| Reverse::build(locking_table(l))),
            single: langs.map(|l| Reverse::build(single_table(l))),
        }
    })
}

/// Looks up `ch` in the given tables: the locking table first, then the single shift table.
#[inline]
pub(crate) fn lookup(ch: char, tables: Gsm7Tables) -> Option<Code> {
    let rev = reverse_tables();
    if let Some(c) = rev.locking[table_index(tables.locking)].get(ch) {
        return Some(Code::Basic(c));
    }
    rev.single[table_index(tables.single)].get(ch).map(Code::Shifted)
}

/// Septets `ch` costs with the given tables: 1, 2 (escape + code), or `None` when it does not fit.
pub fn char_septets(ch: char, tables: Gsm7Tables) -> Option<usize> {
    lookup(ch, tables).map(|c| match c {
        Code::Basic(_) => 1,
        Code::Shifted(_) => 2,
    })
}

/// Whether `ch` is in the default alphabet or its extension table.
pub fn is_gsm7_default(ch: char) -> bool {
    lookup(ch, Gsm7Tables::default()).is_some()
}

/// A character of a 7-bit table pre-encoded as UTF-8: bytes 0..3 hold the encoding, byte 3 its length
/// (every character of these tables takes at most 3 UTF-8 bytes). Lets the decoder copy 4 bytes per
/// character instead of encoding chars one by one.
type Utf8Table = [u32; TABLE_SIZE];

const fn utf8_entry(c: char) -> u32 {
    let cp = c as u32;
    if cp < 0x80 {
        cp | 1 << 24
    } else if cp < 0x800 {
        (0xC0 | cp >> 6) | (0x80 | (cp & 0x3F)) << 8 | 2 << 24
    } else {
        (0xE0 | cp >> 12) | (0x80 | ((cp >> 6) & 0x3F)) << 8 | (0x80 | (cp & 0x3F)) << 16 | 3 << 24
    }
}

const fn utf8_table(t: &[char; TABLE_SIZE]) -> Utf8Table {
    let mut out = [0u32; TABLE_SIZE];
    let mut i = 0;
    while i < TABLE_SIZE {
        // Unmapped shift-table slots stay 0 (length 0) so the decoder can fall back.
        if t[i] != NONE {
            out[i] = utf8_entry(t[i]);
        }
        i += 1;
    }
    out
}

const DEFAULT_UTF8: Utf8Table = utf8_table(&DEFAULT_TABLE);
const TURKISH_LOCKING_UTF8: Utf8Table = utf8_table(&TURKISH_LOCKING_TABLE);
const PORTUGUESE_LOCKING_UTF8: Utf8Table = utf8_table(&PORTUGUESE_LOCKING_TABLE);
const DEFAULT_SHIFT_UTF8: Utf8Table = utf8_table(&DEFAULT_SHIFT_TABLE);
const TURKISH_SHIFT_UTF8: Utf8Table = utf8_table(&TURKISH_SHIFT_TABLE);
const SPANISH_SHIFT_UTF8: Utf8Table = utf8_table(&SPANISH_SHIFT_TABLE);
const PORTUGUESE_SHIFT_UTF8: Utf8Table = utf8_table(&PORTUGUESE_SHIFT_TABLE);
/// UTF-8 of a space, shown for the reserved escape-escape sequence.
const SPACE_UTF8: u32 = utf8_entry(' ');
const UTF8_LEN_SHIFT: u32 = 24;
/// Bytes written per character (the 4-byte entry; only its length counts).
const ENTRY_BYTES: usize = 4;

fn locking_utf8(lang: Option<NationalLanguage>) -> &'static Utf8Table {
    match lang {
        Some(NationalLanguage::Turkish) => &TURKISH_LOCKING_UTF8,
        Some(NationalLanguage::Portuguese) => &PORTUGUESE_LOCKING_UTF8,
        Some(NationalLanguage::Spanish) | None => &DEFAULT_UTF8,
    }
}

fn single_utf8(lang: Option<NationalLanguage>) -> &'static Utf8Table {
    match lang {
        Some(NationalLanguage::Turkish) => &TURKISH_SHIFT_UTF8,
        Some(NationalLanguage::Spanish) => &SPANISH_SHIFT_UTF8,
        Some(NationalLanguage::Portuguese) => &PORTUGUESE_SHIFT_UTF8,
        None => &DEFAULT_SHIFT_UTF8,
    }
}

/// Decodes unpacked septets into text using the given tables. Unknown extension codes fall back to the
/// locking table's character (TS 23.038 §6.2.1.1 note); escape-escape shows a space; a trailing lone
/// escape is dropped.
pub(crate) fn decode_septets(septets: &[u8], tables: Gsm7Tables, out: &mut String) {
    let lock = locking_utf8(tables.locking);
    let single = single_utf8(tables.single);
    // At most 3 UTF-8 bytes per septet, plus room for the last 4-byte write; on the stack for a
    // user data field, on the heap only for longer input given to the public helpers.
    let needed = septets.len() * 3 + ENTRY_BYTES;
    let mut stack = [0u8; MAX_SEPTETS_BUFFER * 3 + ENTRY_BYTES];
    let mut heap = Vec::new();
    let buf: &mut [u8] = if needed <= stack.len() {
        &mut stack
    } else {
        heap.resize(needed, 0);
        &mut heap
    };
    let mut n = 0;
    let mut escaped = false;
    for &s in septets {
        let s = usize::from(s & 0x7F);
        let entry = if escaped {
            escaped = false;
            match single[s] {
                0 if s == usize::from(GSM7_ESCAPE) => SPACE_UTF8,
                0 => lock[s],
                e => e,
            }
        } else if s == usize::from(GSM7_ESCAPE) {
            escaped = true;
            continue;
        } else {
            lock[s]
        };
        buf[n..n + ENTRY_BYTES].copy_from_slice(&entry.to_le_bytes());
        n += (entry >> UTF8_LEN_SHIFT) as usize;
    }
    // Always valid: the tables hold whole UTF-8 sequences; the lossy path only avoids a panic.
    match std::str::from_utf8(&buf[..n]) {
        Ok(s) => out.push_str(s),
        Err(_) => out.push_str(&String::from_utf8_lossy(&buf[..n])),
    }
}

/// Septets in one group of 7 octets (TS 23.038 §6.1.2.1.1: 8 septets fill 7 octets exactly).
const SEPTETS_PER_GROUP: usize = 8;
const OCTETS_PER_GROUP: usize = 7;
/// Largest septet count of a user data field, rounded up to a whole group.
const MAX_SEPTETS_BUFFER: usize = 160;

/// Decodes packed septets `skip..count` of a user data field straight into text. Septet `k` starts at
/// bit `7k` of the field, so the field is unpacked 7 octets → 8 septets at a time from its start and the
/// first `skip` (the UDH and its fill bits) are dropped. This is the hot path of every incoming SMS.
/// Missing octets read as 0; the caller checks the length.
pub(crate) fn decode_packed(octets: &[u8], skip: usize, count: usize, tables: Gsm7Tables, out: &mut String) {
    let count = count.min(MAX_SEPTETS_BUFFER);
    let mut septets = [0u8; MAX_SEPTETS_BUFFER];
    for (g, chunk) in septets[..count.div_ceil(SEPTETS_PER_GROUP) * SEPTETS_PER_GROUP]
        .chunks_exact_mut(SEPTETS_PER_GROUP)
        .enumerate()
    {
        let start = g * OCTETS_PER_GROUP;
        // Fast path: a whole group of 7 octets is there.
        let v = match octets.get(start..start + OCTETS_PER_GROUP) {
            Some(b) => u64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], 0]),
            None => {
                let mut word = [0u8; 8];
                let avail = octets.get(start..).unwrap_or_default();
                let n = avail.len().min(OCTETS_PER_GROUP);
                word[..n].copy_from_slice(&avail[..n]);
                u64::from_le_bytes(word)
            }
        };
        for (i, s) in chunk.iter_mut().enumerate() {
            *s = ((v >> (7 * i)) & 0x7F) as u8;
        }
    }
    decode_septets(&septets[skip.min(count)..count], tables, out);
}

/// Packs septets into octets starting `fill_bits` bits into the first octet (TS 23.038 §6.1.2.1.1,
/// TS 23.040 §9.2.3.24: fill bits after a UDH so that the text starts on a septet boundary).
pub(crate) fn pack_into(septets: &[u8], fill_bits: usize, out: &mut Vec<u8>) {
    let total_bits = fill_bits + septets.len() * 7;
    let start = out.len();
    out.resize(start + total_bits.div_ceil(8), 0);
    let buf = &mut out[start..];
    let mut bit = fill_bits;
    for &s in septets {
        let s = u16::from(s & 0x7F) << (bit % 8);
        let idx = bit / 8;
        buf[idx] |= (s & 0xFF) as u8;
        if s > 0xFF {
            buf[idx + 1] |= (s >> 8) as u8;
        }
        bit += 7;
    }
}

/// Packs septets with no fill bits.
pub fn pack(septets: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity((septets.len() * 7).div_ceil(8));
    pack_into(septets, 0, &mut out);
    out
}

/// Reads `count` septets starting at bit `start_bit` of `octets`. The caller checks the length.
pub(crate) fn unpack_from(octets: &[u8], start_bit: usize, count: usize, out: &mut Vec<u8>) {
    out.reserve(count);
    let mut bit = start_bit;
    for _ in 0..count {
        let idx = bit / 8;
        let lo = u16::from(octets.get(idx).copied().unwrap_or(0));
        let hi = u16::from(octets.get(idx + 1).copied().unwrap_or(0));
        let v = ((hi << 8 | lo) >> (bit % 8)) & 0x7F;
        out.push(v as u8);
        bit += 7;
    }
}

/// Unpacks `count` septets with no fill bits.
pub fn unpack(octets: &[u8], count: usize) -> Vec<u8> {
    let mut out = Vec::new();
    unpack_from(octets, 0, count, &mut out);
    out
}

/// Encodes text into septets using the default tables; `Err(index)` names the first character that
/// does not fit.
pub fn encode_default(text: &str) -> Result<Vec<u8>, (usize, char)> {
    let mut out = Vec::with_capacity(text.len());
    for (i, ch) in text.chars().enumerate() {
        match lookup(ch, Gsm7Tables::default()) {
            Some(Code::Basic(c)) => out.push(c),
            Some(Code::Shifted(c)) => {
                out.push(GSM7_ESCAPE);
                out.push(c);
            }
            None => return Err((i, ch)),
        }
    }
    Ok(out)
}

/// Decodes septets using the default tables.
pub fn decode_default(septets: &[u8]) -> String {
    let mut s = String::with_capacity(septets.len());
    decode_septets(septets, Gsm7Tables::default(), &mut s);
    s
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        /// The grouped fast unpacker agrees with packing + the plain septet decoder, at any header skip.
        #[test]
        fn decode_packed_matches_reference(septets in prop::collection::vec(0u8..128, 0..=160), skip in 0usize..20) {
            let packed = pack(&septets);
            let skip = skip.min(septets.len());
            let mut fast = String::new();
            decode_packed(&packed, skip, septets.len(), Gsm7Tables::default(), &mut fast);
            let mut reference = String::new();
            decode_septets(&unpack(&packed, septets.len())[skip..], Gsm7Tables::default(), &mut reference);
            prop_assert_eq!(fast, reference);
        }
    }

    #[test]
    fn tables_have_no_duplicate_codes_for_a_char() {
        // Every char of each locking table maps back to its own code (first occurrence wins).
        for lang in [
            None,
            Some(NationalLanguage::Turkish),
            Some(NationalLanguage::Portuguese),
        ] {
            let t = locking_table(lang);
            for (code, &ch) in t.iter().enumerate() {
                if code == usize::from(GSM7_ESCAPE) {
                    continue;
                }
                let tables = Gsm7Tables {
                    locking: lang,
                    single: None,
                };
                assert_eq!(
                    lookup(ch, tables),
                    Some(Code::Basic(code as u8)),
                    "{lang:?} {code:#x} {ch:?}"
                );
            }
        }
    }
}
