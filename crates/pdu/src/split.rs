//! Chooses the encoding of a text and splits it into parts (TS 23.040 §9.2.3.24.1 concatenation):
//! GSM-7 parts never split an escape sequence, UCS-2 parts never split a surrogate pair, the UDH and
//! its septet fill bits are accounted for exactly. The same plan drives [`count`] and the encoders, so
//! the count a UI shows is the count the encoder produces.
use std::borrow::Cow;

use crate::dcs::Alphabet;
use crate::error::{Field, PduError};
use crate::gsm7::{self, Code, GSM7_ESCAPE, Gsm7Tables, NationalLanguage};
use crate::transliterate::transliterate;
use crate::udh::{IEI_NATIONAL_LOCKING_SHIFT, IEI_NATIONAL_SINGLE_SHIFT};

/// Most octets of TP-UD (TS 23.040 §9.2.3.16).
pub const MAX_UD_OCTETS: usize = 140;
/// Most septets of GSM-7 TP-UD: 140 octets × 8 / 7.
pub const MAX_UD_SEPTETS: usize = 160;
/// Most parts a concatenated message can have (the total is one octet).
pub const MAX_PARTS: usize = 255;
/// Octets of a concatenation IE with 8-bit reference incl. IEI and length (TS 23.040 §9.2.3.24.1).
const CONCAT_8_IE_OCTETS: usize = 5;
/// Octets of a concatenation IE with 16-bit reference (TS 23.040 §9.2.3.24.8).
const CONCAT_16_IE_OCTETS: usize = 6;
/// The UDHL octet itself.
const UDHL_OCTETS: usize = 1;
const BITS_PER_OCTET: usize = 8;
const BITS_PER_SEPTET: usize = 7;
/// Code points from here on need a surrogate pair in UTF-16.
const BMP_END: u32 = 0x1_0000;
/// A high surrogate starts a UTF-16 pair.
const HIGH_SURROGATES: std::ops::RangeInclusive<u16> = 0xD800..=0xDBFF;

/// How the encoder picks the alphabet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum EncodingPolicy {
    /// GSM-7 (default alphabet + extension table, or an enabled national table) when every character
    /// fits, else UCS-2.
    #[default]
    Auto,
    /// GSM-7 only; a character that does not fit is an error.
    Gsm7,
    /// UCS-2 always.
    Ucs2,
    /// Replace characters outside GSM-7 by look-alikes (`Zażółć` → `Zazolc`) when that makes the whole
    /// text fit GSM-7; otherwise behave like `Auto` on the original text (nothing is lost to `?`).
    Gsm7Transliterate,
}

/// Which concatenation IE carries the reference.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ConcatIe {
    /// 8-bit reference IE (0x00) when the reference is below 256, else the 16-bit one (0x08).
    #[default]
    Auto,
    /// Always IE 0x00; the reference must be below 256.
    EightBit,
    /// Always IE 0x08.
    SixteenBit,
}

/// Options that decide encoding and splitting of a text (shared by SUBMIT, DELIVER and [`count`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TextOptions {
    /// Alphabet selection.
    pub encoding: EncodingPolicy,
    /// National language shift tables the encoder may use (opt-in, TS 23.038 Annex A). Empty = none.
    pub national_languages: Vec<NationalLanguage>,
    /// Concatenation reference shared by the parts of this message.
    pub concat_ref: u16,
    /// Which concatenation IE to use.
    pub concat_ie: ConcatIe,
    /// Most parts allowed (1..=255); more is [`PduError::TooManyParts`].
    pub max_parts: usize,
}

impl Default for TextOptions {
    fn default() -> Self {
        TextOptions {
            encoding: EncodingPolicy::Auto,
            national_languages: Vec::new(),
            concat_ref: 0,
            concat_ie: ConcatIe::Auto,
            max_parts: MAX_PARTS,
        }
    }
}

/// What a text costs: computed by the same code as the encoder. Serialisable for API responses.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct TextCount {
    /// Alphabet chosen.
    pub alphabet: Alphabet,
    /// National language tables chosen (GSM-7 only).
    pub tables: Gsm7Tables,
    /// Whether transliteration was applied.
    pub transliterated: bool,
    /// Number of parts.
    pub parts: usize,
    /// Characters (Unicode scalar values) of the text that is encoded.
    pub chars: usize,
    /// Units used in total: septets (GSM-7, escapes count 2), UTF-16 code units (UCS-2), octets (8-bit).
    pub units: usize,
    /// Units one part holds for this message (single-part capacity when `parts == 1`).
    pub part_capacity: usize,
    /// Units still free in the last part.
    pub remaining: usize,
}

/// Counts parts and units of `text` exactly as the encoder would split it.
///
/// ```
/// use smsgate_pdu::{count, Alphabet, TextOptions};
/// let c = count(&"a".repeat(161), &TextOptions::default())?;
/// assert_eq!((c.alphabet, c.parts, c.part_capacity, c.remaining), (Alphabet::Gsm7, 2, 153, 145));
/// let c = count("Zażółć 😀", &TextOptions::default())?;
/// assert_eq!((c.alphabet, c.parts, c.units, c.remaining), (Alphabet::Ucs2, 1, 9, 61));
/// # Ok::<(), smsgate_pdu::PduError>(())
/// ```
pub fn count(text: &str, opts: &TextOptions) -> Result<TextCount, PduError> {
    let plan = plan_text(text, opts, &[])?;
    Ok(plan.count())
}

/// The encoded payload of a message and where it is split.
#[derive(Debug)]
pub(crate) struct Plan<'a> {
    pub alphabet: Alphabet,
    pub tables: Gsm7Tables,
    pub transliterated: bool,
    pub chars: usize,
    /// Unpacked septets (GSM-7), UTF-16BE octets (UCS-2) or data octets (8-bit).
    pub payload: Cow<'a, [u8]>,
    /// Ranges of `payload` per part.
    pub bounds: Vec<(usize, usize)>,
    /// IEs in every part (shift tables, ports), serialised.
    pub fixed_ies: Vec<u8>,
    /// Concatenation reference and whether it is 16-bit, when there is more than one part.
    pub concat: Option<(u16, bool)>,
    pub part_capacity: usize,
}

impl Plan<'_> {
    fn units_of(&self, len: usize) -> usize {
        match self.alphabet {
            Alphabet::Ucs2 => len / 2,
            _ => len,
        }
    }

    pub(crate) fn count(&self) -> TextCount {
        let units = self.units_of(self.payload.len());
        let last = self.bounds.last().map_or(0, |&(s, e)| self.units_of(e - s));
        TextCount {
            alphabet: self.alphabet,
            tables: self.tables,
            transliterated: self.transliterated,
            parts: self.bounds.len(),
            chars: self.chars,
            units,
            part_capacity: self.part_capacity,
            remaining: self.part_capacity.saturating_sub(last),
        }
    }

    /// Whether the parts carry a user data header (TP-UDHI).
    pub(crate) fn has_udh(&self) -> bool {
        self.concat.is_some() || !self.fixed_ies.is_empty()
    }

    /// Appends TP-UDL and TP-UD of part `index` (0-based) to `out`, writing straight into the PDU.
    pub(crate) fn write_user_data(&self, index: usize, out: &mut Vec<u8>) {
        let (s, e) = self.bounds.get(index).copied().unwrap_or((0, 0));
        let body = &self.payload[s..e];
        let udl_at = out.len();
        out.push(0);
        let ud_start = out.len();
        if self.has_udh() {
            out.push(0);
            if let Some((reference, wide)) = self.concat {
                let total = self.bounds.len() as u8;
                let seq = (index + 1) as u8;
                let ie = crate::udh::InformationElement::Concat(crate::udh::Concat {
                    reference,
                    total,
                    seq,
                    wide,
                });
                crate::udh::push_element(&ie, out);
            }
            out.extend_from_slice(&self.fixed_ies);
            out[ud_start] = (out.len() - ud_start - UDHL_OCTETS) as u8;
        }
        let udh_octets = out.len() - ud_start;
        let udl = match self.alphabet {
            Alphabet::Gsm7 => {
                let header_septets = (udh_octets * BITS_PER_OCTET).div_ceil(BITS_PER_SEPTET);
                let fill_bits = header_septets * BITS_PER_SEPTET - udh_octets * BITS_PER_OCTET;
                gsm7::pack_into(body, fill_bits, out);
                header_septets + body.len()
            }
            _ => {
                out.extend_from_slice(body);
                out.len() - ud_start
            }
        };
        out[udl_at] = udl as u8;
    }
}

/// Capacity of one part in units given the UDH size in octets (incl. UDHL; 0 = no UDH).
fn capacity(alphabet: Alphabet, udh_octets: usize) -> usize {
    match alphabet {
        Alphabet::Gsm7 => MAX_UD_SEPTETS - (udh_octets * BITS_PER_OCTET).div_ceil(BITS_PER_SEPTET),
        Alphabet::Ucs2 => (MAX_UD_OCTETS - udh_octets) / 2,
        Alphabet::EightBit => MAX_UD_OCTETS - udh_octets,
    }
}

fn check_options(opts: &TextOptions) -> Result<(u16, bool), PduError> {
    if opts.max_parts == 0 || opts.max_parts > MAX_PARTS {
        return Err(PduError::InvalidOption {
            field: Field::Options,
            reason: "max_parts must be 1..=255",
        });
    }
    let wide = match opts.concat_ie {
        ConcatIe::Auto => opts.concat_ref > u16::from(u8::MAX),
        ConcatIe::EightBit if opts.concat_ref > u16::from(u8::MAX) => {
            return Err(PduError::InvalidOption {
                field: Field::Options,
                reason: "an 8-bit concatenation reference must be below 256",
            });
        }
        ConcatIe::EightBit => false,
        ConcatIe::SixteenBit => true,
    };
    Ok((opts.concat_ref, wide))
}

/// Splits `payload` (units of `unit` octets) into parts: one if it fits `single`, else parts of `multi`,
/// never ending a part where `keep_together(payload, end)` says the unit before `end` must not be
/// separated from the next.
fn split(
    payload: &[u8],
    unit: usize,
    single: usize,
    multi: usize,
    keep_together: impl Fn(&[u8], usize) -> bool,
) -> Vec<(usize, usize)> {
    let n = payload.len();
    if n <= single * unit {
        return vec![(0, n)];
    }
    let mut bounds = Vec::with_capacity(n / (multi * unit) + 1);
    let mut start = 0;
    while start < n {
        let mut end = (start + multi * unit).min(n);
        if end < n && keep_together(payload, end) {
            end -= unit;
        }
        bounds.push((start, end));
        start = end;
    }
    bounds
}

fn concat_ie_octets(wide: bool) -> usize {
    if wide {
        CONCAT_16_IE_OCTETS
    } else {
        CONCAT_8_IE_OCTETS
    }
}

/// Plans a GSM-7 encoding with given tables; `Err((index, char))` for the first character that does not fit.
fn plan_gsm7<'a>(
    text: &str,
    tables: Gsm7Tables,
    extra_ies: &[u8],
    concat: (u16, bool),
) -> Result<Plan<'a>, (usize, char)> {
    let mut septets = Vec::with_capacity(text.len());
    let mut chars = 0;
    for (i, ch) in text.chars().enumerate() {
        match gsm7::lookup(ch, tables) {
            Some(Code::Basic(c)) => septets.push(c),
            Some(Code::Shifted(c)) => {
                septets.push(GSM7_ESCAPE);
                septets.push(c);
            }
            None => return Err((i, ch)),
        }
        chars += 1;
    }
    let mut fixed_ies = extra_ies.to_vec();
    if let Some(l) = tables.locking {
        fixed_ies.extend_from_slice(&[IEI_NATIONAL_LOCKING_SHIFT, 1, l.id()]);
    }
    if let Some(l) = tables.single {
        fixed_ies.extend_from_slice(&[IEI_NATIONAL_SINGLE_SHIFT, 1, l.id()]);
    }
    Ok(finish(
        Alphabet::Gsm7,
        tables,
        chars,
        Cow::Owned(septets),
        fixed_ies,
        concat,
    ))
}

fn finish<'a>(
    alphabet: Alphabet,
    tables: Gsm7Tables,
    chars: usize,
    payload: Cow<'a, [u8]>,
    fixed_ies: Vec<u8>,
    (reference, wide): (u16, bool),
) -> Plan<'a> {
    let fixed_udh = if fixed_ies.is_empty() {
        0
    } else {
        fixed_ies.len() + UDHL_OCTETS
    };
    let single = capacity(alphabet, fixed_udh);
    let multi = capacity(alphabet, fixed_ies.len() + UDHL_OCTETS + concat_ie_octets(wide));
    let unit = if alphabet == Alphabet::Ucs2 { 2 } else { 1 };
    let bounds = match alphabet {
        // An escape and the code after it travel together (TS 23.038 §6.2.1.1).
        Alphabet::Gsm7 => split(&payload, unit, single, multi, |p, end| p[end - 1] == GSM7_ESCAPE),
        // A high surrogate and its low surrogate travel together.
        Alphabet::Ucs2 => split(&payload, unit, single, multi, |p, end| {
            HIGH_SURROGATES.contains(&u16::from_be_bytes([p[end - 2], p[end - 1]]))
        }),
        Alphabet::EightBit => split(&payload, unit, single, multi, |_, _| false),
    };
    let multipart = bounds.len() > 1;
    Plan {
        alphabet,
        tables,
        transliterated: false,
        chars,
        payload,
        part_capacity: if multipart { multi } else { single },
        bounds,
        fixed_ies,
        concat: multipart.then_some((reference, wide)),
    }
}

fn plan_ucs2<'a>(text: &str, extra_ies: &[u8], concat: (u16, bool)) -> Plan<'a> {
    // UTF-8 is never shorter than UTF-16 in code units, so this never reallocates.
    let mut payload = Vec::with_capacity(text.len() * 2);
    let mut chars = 0;
    for ch in text.chars() {
        let cp = ch as u32;
        if cp < BMP_END {
            payload.push((cp >> 8) as u8);
            payload.push(cp as u8);
        } else {
            let mut buf = [0u16; 2];
            for u in ch.encode_utf16(&mut buf) {
                let [hi, lo] = u.to_be_bytes();
                payload.push(hi);
                payload.push(lo);
            }
        }
        chars += 1;
    }
    finish(
        Alphabet::Ucs2,
        Gsm7Tables::default(),
        chars,
        Cow::Owned(payload),
        extra_ies.to_vec(),
        concat,
    )
}

/// Best GSM-7 plan over the default tables and the enabled national ones: fewest parts, then fewest
/// septets, then fewest shift IEs.
fn best_gsm7<'a>(
    text: &str,
    opts: &TextOptions,
    extra_ies: &[u8],
    concat: (u16, bool),
) -> Result<Plan<'a>, (usize, char)> {
    let first = match plan_gsm7(text, Gsm7Tables::default(), extra_ies, concat) {
        Ok(p) => return Ok(p),
        Err(e) => e,
    };
    let mut best: Option<Plan<'a>> = None;
    let lockings = std::iter::once(None).chain(
        opts.national_languages
            .iter()
            .filter(|l| l.has_locking_table())
            .map(|&l| Some(l)),
    );
    for locking in lockings {
        let singles = std::iter::once(None).chain(opts.national_languages.iter().map(|&l| Some(l)));
        for single in singles {
            if locking.is_none() && single.is_none() {
                continue;
            }
            let Ok(plan) = plan_gsm7(text, Gsm7Tables { locking, single }, extra_ies, concat) else {
                continue;
            };
            let key = |p: &Plan<'_>| (p.bounds.len(), p.payload.len(), p.fixed_ies.len());
            if best.as_ref().is_none_or(|b| key(&plan) < key(b)) {
                best = Some(plan);
            }
        }
    }
    best.ok_or(first)
}

fn check_parts<'a>(plan: Plan<'a>, opts: &TextOptions) -> Result<Plan<'a>, PduError> {
    if plan.bounds.len() > opts.max_parts {
        return Err(PduError::TooManyParts {
            needed: plan.bounds.len(),
            max: opts.max_parts,
        });
    }
    Ok(plan)
}

/// Plans the encoding of a text; `extra_ies` (serialised IEs, e.g. ports) go into every part.
pub(crate) fn plan_text<'a>(text: &str, opts: &TextOptions, extra_ies: &[u8]) -> Result<Plan<'a>, PduError> {
    let concat = check_options(opts)?;
    let plan = match opts.encoding {
        EncodingPolicy::Ucs2 => plan_ucs2(text, extra_ies, concat),
        EncodingPolicy::Gsm7 => best_gsm7(text, opts, extra_ies, concat)
            .map_err(|(index, ch)| PduError::Unencodable { ch, index })?,
        EncodingPolicy::Auto => match best_gsm7(text, opts, extra_ies, concat) {
            Ok(p) => p,
            Err(_) => plan_ucs2(text, extra_ies, concat),
        },
        EncodingPolicy::Gsm7Transliterate => {
            let translit = transliterate(text);
            let changed = matches!(translit, Cow::Owned(_));
            match best_gsm7(&translit, opts, extra_ies, concat) {
                Ok(mut p) => {
                    p.transliterated = changed;
                    p
                }
                Err(_) => plan_ucs2(text, extra_ies, concat),
            }
        }
    };
    check_parts(plan, opts)
}

/// Plans 8-bit data, with optional IEs (e.g. ports) repeated in every part.
pub(crate) fn plan_data<'a>(
    data: &'a [u8],
    opts: &TextOptions,
    fixed_ies: Vec<u8>,
) -> Result<Plan<'a>, PduError> {
    let concat = check_options(opts)?;
    let plan = finish(
        Alphabet::EightBit,
        Gsm7Tables::default(),
        data.len(),
        Cow::Borrowed(data),
        fixed_ies,
        concat,
    );
    check_parts(plan, opts)
}
