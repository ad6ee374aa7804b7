#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers outside #[test] fns
//! Property tests: any text survives encode → decode; part counts are minimal; decode never panics.
use proptest::prelude::*;
use smsgate_pdu::*;

/// Texts mixing GSM-7, extension characters, Polish, Turkish, Portuguese, Cyrillic, emoji and any char.
fn text() -> impl Strategy<Value = String> {
    let pieces = prop_oneof![
        "[a-zA-Z0-9 .,!?@£$]{0,20}",
        "[€\\[\\]{}~|^\\\\\u{0C}]{0,5}",
        "[ąćęłńóśźżĄĆĘŁŃÓŚŹŻ]{0,5}",
        "[şğıİŞĞçÇãõâêôÁÍÓÚáíóú]{0,5}",
        "[😀🎉👍🇵🇱]{0,5}",
        "[а-яА-Я]{0,5}",
        any::<String>(),
    ];
    prop::collection::vec(pieces, 0..12).prop_map(|v| v.concat())
}

fn units(c: char, alphabet: Alphabet, tables: Gsm7Tables) -> usize {
    match alphabet {
        Alphabet::Ucs2 => c.len_utf16(),
        _ => gsm7::char_septets(c, tables).unwrap(),
    }
}

fn options() -> impl Strategy<Value = TextOptions> {
    (
        any::<u16>(),
        prop::bool::ANY,
        prop::sample::subsequence(NationalLanguage::ALL.to_vec(), 0..=3),
    )
        .prop_map(|(concat_ref, transliterate, national_languages)| TextOptions {
            encoding: if transliterate {
                EncodingPolicy::Gsm7Transliterate
            } else {
                EncodingPolicy::Auto
            },
            national_languages,
            concat_ref,
            ..TextOptions::default()
        })
}

proptest! {
    // 400 cases by default; PROPTEST_CASES raises it for a longer soak.
    #![proptest_config(ProptestConfig {
        cases: std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(400),
        ..ProptestConfig::default()
    })]

    #[test]
    fn submit_round_trip(text in text(), opts in options()) {
        let mut so = SubmitOptions::new(Address::parse("+48600100200").unwrap());
        so.text = opts.clone();
        let c = count(&text, &opts).unwrap();
        let parts = encode_submit(&text, &so).unwrap();
        prop_assert_eq!(parts.len(), c.parts);
        let mut decoded = Vec::new();
        for p in &parts {
            prop_assert!(p.pdu.len() <= 1 + 176, "PDU within the 140-octet UD limit plus header");
            let Pdu::Submit(s) = decode(&p.pdu).unwrap() else { panic!("not a submit") };
            decoded.push(s.user_data.text().unwrap().to_string());
        }
        let joined = decoded.concat();
        if c.transliterated {
            prop_assert_eq!(joined, transliterate(&text).into_owned());
        } else {
            prop_assert_eq!(&joined, &text);
        }
        // Minimal: each part but the last is full — the first character of the next part did not fit.
        let cap = c.part_capacity;
        for pair in decoded.windows(2) {
            let used: usize = pair[0].chars().map(|ch| units(ch, c.alphabet, c.tables)).sum();
            let next = pair[1].chars().next().map_or(0, |ch| units(ch, c.alphabet, c.tables));
            prop_assert!(used <= cap);
            prop_assert!(used + next > cap, "part not full: {} + {} <= {}", used, next, cap);
        }
    }

    #[test]
    fn deliver_round_trip_and_reassembly(text in text(), concat_ref in any::<u16>()) {
        let scts = time::macros::datetime!(2026-11-25 08:15:00 +01:00);
        let mut o = DeliverOptions::new(Address::parse("Shop").unwrap(), scts);
        o.text.concat_ref = concat_ref;
        let parts = encode_deliver(&text, &o).unwrap();
        let mut r = Reassembler::new(std::time::Duration::from_secs(60));
        let now = std::time::Instant::now();
        let mut done = None;
        for p in parts.iter().rev() {
            let Pdu::Deliver(d) = decode(&p.pdu).unwrap() else { panic!("not a deliver") };
            if let Some(m) = r.push(d, now) { done = Some(m); }
        }
        prop_assert_eq!(done.unwrap().text(), text);
    }

    #[test]
    fn decode_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..200)) {
        let _ = decode(&bytes);
    }

    #[test]
    fn decode_of_mutated_valid_pdu_never_panics(text in text(), flips in prop::collection::vec((any::<usize>(), any::<u8>()), 1..4)) {
        let so = SubmitOptions::new(Address::parse("+48600100200").unwrap());
        for p in encode_submit(&text, &so).unwrap() {
            let mut pdu = p.pdu.clone();
            for &(i, v) in &flips {
                let n = pdu.len();
                pdu[i % n] = v;
            }
            let _ = decode(&pdu);
        }
    }
}
