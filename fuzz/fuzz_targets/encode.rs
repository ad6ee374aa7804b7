//! Fuzz target: any text, with options taken from the first input octet, encodes without panicking,
//! every part decodes, the parts join to the (possibly transliterated) text, and the count agrees.
#![no_main]

use libfuzzer_sys::fuzz_target;
use smsgate_pdu::{
    Address, ConcatIe, EncodingPolicy, NationalLanguage, Pdu, SubmitOptions, count, decode, encode_submit,
    transliterate,
};

fuzz_target!(|data: &[u8]| {
    let Some((&flags, rest)) = data.split_first() else {
        return;
    };
    let Ok(text) = std::str::from_utf8(rest) else {
        return;
    };
    let Ok(to) = Address::parse("+48600100200") else {
        return;
    };
    let mut opts = SubmitOptions::new(to);
    opts.text.encoding = match flags & 0b11 {
        0 => EncodingPolicy::Auto,
        1 => EncodingPolicy::Gsm7,
        2 => EncodingPolicy::Ucs2,
        _ => EncodingPolicy::Gsm7Transliterate,
    };
    opts.text.concat_ie = if flags & 0b100 != 0 {
        ConcatIe::SixteenBit
    } else {
        ConcatIe::Auto
    };
    if flags & 0b1000 != 0 {
        opts.text.national_languages = NationalLanguage::ALL.to_vec();
    }
    opts.text.concat_ref = u16::from(flags);
    let counted = count(text, &opts.text);
    let parts = match encode_submit(text, &opts) {
        Ok(p) => p,
        Err(e) => {
            assert_eq!(Err(e), counted.map(|_| ()), "count and encoder disagree");
            return;
        }
    };
    let Ok(c) = counted else {
        panic!("count failed where the encoder succeeded")
    };
    assert_eq!(c.parts, parts.len());
    let mut joined = String::new();
    for p in &parts {
        match decode(&p.pdu) {
            Ok(Pdu::Submit(s)) => joined.push_str(s.user_data.text().unwrap_or_default()),
            other => panic!("encoded part does not decode: {other:?}"),
        }
    }
    if c.transliterated {
        assert_eq!(joined, transliterate(text));
    } else {
        assert_eq!(joined, text);
    }
});
