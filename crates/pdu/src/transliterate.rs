//! Opt-in transliteration to the GSM 7-bit alphabet for clients who prefer 160-character parts to UCS-2:
//! Polish, Czech, Slovak, Hungarian, Romanian, Turkish, Nordic and common Western accents, typographic
//! quotes, dashes and spaces. Characters that are already GSM-7 stay as they are.
use std::borrow::Cow;

use crate::gsm7::is_gsm7_default;

/// Look-alike for a character outside GSM-7, if there is one.
pub fn transliterate_char(c: char) -> Option<&'static str> {
    Some(match c {
        // Polish
        'ą' => "a",
        'ć' => "c",
        'ę' => "e",
        'ł' => "l",
        'ń' => "n",
        'ó' => "o",
        'ś' => "s",
        'ź' | 'ż' => "z",
        'Ą' => "A",
        'Ć' => "C",
        'Ę' => "E",
        'Ł' => "L",
        'Ń' => "N",
        'Ó' => "O",
        'Ś' => "S",
        'Ź' | 'Ż' => "Z",
        // Western accents not in the default alphabet
        'á' | 'â' | 'ã' | 'ā' | 'ă' => "a",
        'Á' | 'Â' | 'Ã' | 'À' | 'Ā' | 'Ă' => "A",
        'ç' | 'č' => "c",
        'Č' => "C",
        'ď' => "d",
        'Ď' => "D",
        'ê' | 'ë' | 'ě' | 'ē' => "e",
        'È' | 'Ê' | 'Ë' | 'Ě' | 'Ē' => "E",
        'ğ' => "g",
        'Ğ' => "G",
        'í' | 'î' | 'ï' | 'ı' | 'ī' => "i",
        'Í' | 'Î' | 'Ï' | 'Ì' | 'İ' | 'Ī' => "I",
        'ľ' | 'ĺ' => "l",
        'Ľ' | 'Ĺ' => "L",
        'ň' => "n",
        'Ň' => "N",
        'ô' | 'õ' | 'ő' | 'ō' => "o",
        'Ô' | 'Õ' | 'Ò' | 'Ő' | 'Ō' => "O",
        'ř' | 'ŕ' => "r",
        'Ř' | 'Ŕ' => "R",
        'š' | 'ş' | 'ș' => "s",
        'Š' | 'Ş' | 'Ș' => "S",
        'ť' | 'ţ' | 'ț' => "t",
        'Ť' | 'Ţ' | 'Ț' => "T",
        'ú' | 'û' | 'ů' | 'ű' | 'ū' => "u",
        'Ú' | 'Û' | 'Ù' | 'Ů' | 'Ű' | 'Ū' => "U",
        'ý' | 'ÿ' => "y",
        'Ý' | 'Ÿ' => "Y",
        'ž' => "z",
        'Ž' => "Z",
        'đ' => "d",
        'Đ' => "D",
        'œ' => "oe",
        'Œ' => "OE",
        // Typography
        '\u{2018}' | '\u{2019}' | '\u{201A}' | '\u{2032}' | '`' | '´' => "'",
        '\u{201C}' | '\u{201D}' | '\u{201E}' | '«' | '»' | '\u{2033}' => "\"",
        '\u{2010}' | '\u{2011}' | '\u{2012}' | '\u{2013}' | '\u{2014}' | '\u{2212}' => "-",
        '\u{2026}' => "...",
        '\u{00A0}' | '\u{2007}' | '\u{202F}' | '\u{2009}' | '\u{200A}' | '\t' => " ",
        '\u{2022}' => "*",
        _ => return None,
    })
}

/// Replaces every character outside the GSM-7 default alphabet (and its extension table) that has a
/// look-alike; others are kept. Borrows when nothing changes.
pub fn transliterate(text: &str) -> Cow<'_, str> {
    let needs = text
        .chars()
        .any(|c| !is_gsm7_default(c) && transliterate_char(c).is_some());
    if !needs {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match (is_gsm7_default(c), transliterate_char(c)) {
            (false, Some(s)) => out.push_str(s),
            _ => out.push(c),
        }
    }
    Cow::Owned(out)
}
