#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers outside #[test] fns
//! Encoding rules: alphabet choice, extension table, national tables, transliteration, splitting
//! (escape sequences and surrogate pairs kept whole, fill bits, 8/16-bit references, 255 parts).
use smsgate_pdu::*;

fn to() -> Address {
    Address::parse("+48600100200").unwrap()
}

fn submit_opts(text: TextOptions) -> SubmitOptions {
    let mut o = SubmitOptions::new(to());
    o.text = text;
    o
}

/// Encodes, decodes every part, checks the parts agree with `count`, returns (count, part texts, parts).
fn round_trip(text: &str, opts: &TextOptions) -> (TextCount, Vec<String>, Vec<Submit>) {
    let so = submit_opts(opts.clone());
    let parts = encode_submit(text, &so).unwrap();
    let c = count(text, opts).unwrap();
    assert_eq!(parts.len(), c.parts, "count and encoder disagree for {text:?}");
    let mut texts = Vec::new();
    let mut submits = Vec::new();
    for p in &parts {
        assert_eq!(p.tpdu_len, p.pdu.len() - 1, "no SMSC → one 00 octet");
        let Pdu::Submit(s) = decode(&p.pdu).unwrap() else {
            panic!("not a submit")
        };
        assert_eq!(s.dcs.alphabet, c.alphabet);
        texts.push(s.user_data.text().unwrap().to_string());
        submits.push(s);
    }
    if parts.len() > 1 {
        for (i, s) in submits.iter().enumerate() {
            let cc = s.udh.as_ref().unwrap().concat().unwrap();
            assert_eq!(
                (cc.total as usize, cc.seq as usize, cc.reference),
                (parts.len(), i + 1, opts.concat_ref)
            );
        }
    }
    (c, texts, submits)
}

#[test]
fn alphabet_choice() {
    // (text, alphabet, parts, units)
    let cases: &[(&str, Alphabet, usize, usize)] = &[
        ("", Alphabet::Gsm7, 1, 0),
        ("hello", Alphabet::Gsm7, 1, 5),
        (
            "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./",
            Alphabet::Gsm7,
            1,
            47,
        ),
        ("¡ÄÖÑÜ§¿äöñüà", Alphabet::Gsm7, 1, 12),
        // Extension table: each costs two septets (TS 23.038 §6.2.1.1), incl. form feed.
        ("€[]{}~|^\\\u{0C}", Alphabet::Gsm7, 1, 20),
        ("Zażółć", Alphabet::Ucs2, 1, 6),
        ("ç", Alphabet::Ucs2, 1, 1),
        ("😀", Alphabet::Ucs2, 1, 2),
        ("Привет", Alphabet::Ucs2, 1, 6),
    ];
    for &(text, alphabet, parts, units) in cases {
        let (c, texts, _) = round_trip(text, &TextOptions::default());
        assert_eq!(
            (c.alphabet, c.parts, c.units),
            (alphabet, parts, units),
            "{text:?}"
        );
        assert_eq!(texts.concat(), text);
    }
}

#[test]
fn part_boundaries() {
    let a = |n: usize| "a".repeat(n);
    let euro = |n: usize| "€".repeat(n);
    let z = |n: usize| "ż".repeat(n);
    let emoji = |n: usize| "😀".repeat(n);
    // (text, parts, remaining units in the last part)
    let cases: Vec<(String, usize, usize)> = vec![
        (a(160), 1, 0),
        (a(161), 2, 153 - 8),
        (a(306), 2, 0),
        (a(307), 3, 152),
        (euro(80), 1, 0),
        // 81 € = 162 septets; 153 would end inside an escape, so part 1 takes 152 (76 €), part 2 10.
        (euro(81), 2, 153 - 10),
        (z(70), 1, 0),
        (z(71), 2, 67 - 4),
        (z(134), 2, 0),
        (emoji(35), 1, 0),
        // 36 emoji = 72 units; unit 67 is a high surrogate, so part 1 takes 66 units (33 emoji).
        (emoji(36), 2, 67 - 6),
    ];
    for (text, parts, remaining) in cases {
        let (c, texts, _) = round_trip(&text, &TextOptions::default());
        assert_eq!(
            (c.parts, c.remaining),
            (parts, remaining),
            "{} chars of {:?}",
            text.chars().count(),
            text.chars().next()
        );
        assert_eq!(texts.concat(), text);
    }
}

#[test]
fn escape_never_split_and_parts_are_whole_characters() {
    // 150 + 6 × 2 = 162 septets: the escape of the second € would be septet 153, so it moves on.
    let text = format!("{}{}", "a".repeat(150), "€".repeat(6));
    let (_, texts, _) = round_trip(&text, &TextOptions::default());
    assert_eq!(texts, vec![format!("{}€", "a".repeat(150)), "€".repeat(5)]);
    // 66 + 2 + 3 = 71 units: the high surrogate would be unit 67, so the pair moves on.
    let text = format!("{}😀xxx", "ż".repeat(66));
    let (_, texts, _) = round_trip(&text, &TextOptions::default());
    assert_eq!(texts, vec!["ż".repeat(66), "😀xxx".to_string()]);
}

#[test]
fn fill_bits_after_udh() {
    // 8-bit reference: UDH is 6 octets = 48 bits, so 1 fill bit puts the text on septet 7.
    let opts = TextOptions {
        concat_ref: 0xCC,
        ..TextOptions::default()
    };
    let parts = encode_submit(&"h".repeat(200), &submit_opts(opts)).unwrap();
    let tpdu = parts[0].tpdu();
    // FO, MR, DA(2 + 6), PID, DCS, UDL, then UD.
    let ud = &tpdu[1 + 1 + 8 + 1 + 1 + 1..];
    assert_eq!(tpdu[12], 160, "UDL counts 7 header septets + 153 text septets");
    assert_eq!(&ud[..6], &[0x05, 0x00, 0x03, 0xCC, 0x02, 0x01]);
    assert_eq!(ud[6], 0x68 << 1, "first septet after one fill bit");
    assert_eq!(ud.len(), 140);
    // 16-bit reference: UDH is 7 octets = 56 bits = 8 septets exactly, no fill bits.
    let opts = TextOptions {
        concat_ref: 0x1234,
        ..TextOptions::default()
    };
    let parts = encode_submit(&"h".repeat(200), &submit_opts(opts)).unwrap();
    let ud = &parts[0].tpdu()[13..];
    assert_eq!(parts[0].tpdu()[12], 160, "8 header septets + 152 text septets");
    assert_eq!(&ud[..7], &[0x06, 0x08, 0x04, 0x12, 0x34, 0x02, 0x01]);
    assert_eq!(ud[7], 0x68);
}

#[test]
fn concat_reference_width() {
    fn check(concat_ref: u16, concat_ie: ConcatIe, expect: Result<(bool, usize), ()>) {
        let opts = TextOptions {
            concat_ref,
            concat_ie,
            ..TextOptions::default()
        };
        let text = "x".repeat(400);
        match (count(&text, &opts), expect) {
            (Ok(c), Ok((wide, cap))) => {
                assert_eq!(c.part_capacity, cap);
                let parts = encode_submit(&text, &submit_opts(opts)).unwrap();
                let Pdu::Submit(s) = decode(&parts[0].pdu).unwrap() else {
                    panic!()
                };
                let cc = s.udh.unwrap().concat().unwrap();
                assert_eq!((cc.wide, cc.reference), (wide, concat_ref));
            }
            (Err(e), Err(())) => assert_eq!(e.field(), Field::Options),
            (got, want) => panic!("{concat_ref} {concat_ie:?}: got {got:?}, want {want:?}"),
        }
    }
    check(7, ConcatIe::Auto, Ok((false, 153)));
    check(255, ConcatIe::Auto, Ok((false, 153)));
    check(256, ConcatIe::Auto, Ok((true, 152)));
    check(7, ConcatIe::SixteenBit, Ok((true, 152)));
    check(7, ConcatIe::EightBit, Ok((false, 153)));
    check(300, ConcatIe::EightBit, Err(()));
}

#[test]
fn up_to_255_parts() {
    let opts = TextOptions::default();
    let c = count(&"a".repeat(153 * 255), &opts).unwrap();
    assert_eq!(c.parts, 255);
    let err = count(&"a".repeat(153 * 255 + 1), &opts).unwrap_err();
    assert_eq!(
        err,
        PduError::TooManyParts {
            needed: 256,
            max: 255
        }
    );
    let parts = encode_submit(&"a".repeat(153 * 255), &submit_opts(opts)).unwrap();
    let Pdu::Submit(last) = decode(&parts[254].pdu).unwrap() else {
        panic!()
    };
    let cc = last.udh.unwrap().concat().unwrap();
    assert_eq!((cc.seq, cc.total), (255, 255));
    let few = TextOptions {
        max_parts: 3,
        ..TextOptions::default()
    };
    assert_eq!(
        count(&"a".repeat(600), &few).unwrap_err(),
        PduError::TooManyParts { needed: 4, max: 3 }
    );
    let bad = TextOptions {
        max_parts: 0,
        ..TextOptions::default()
    };
    assert!(matches!(count("a", &bad), Err(PduError::InvalidOption { .. })));
}

#[test]
fn strict_gsm7_names_the_character() {
    let opts = TextOptions {
        encoding: EncodingPolicy::Gsm7,
        ..TextOptions::default()
    };
    assert_eq!(
        count("abcż", &opts).unwrap_err(),
        PduError::Unencodable { ch: 'ż', index: 3 }
    );
    let forced = TextOptions {
        encoding: EncodingPolicy::Ucs2,
        ..TextOptions::default()
    };
    assert_eq!(count("abc", &forced).unwrap().alphabet, Alphabet::Ucs2);
}

#[test]
fn transliteration() {
    let opts = TextOptions {
        encoding: EncodingPolicy::Gsm7Transliterate,
        ..TextOptions::default()
    };
    let cases: &[(&str, &str, Alphabet)] = &[
        ("Zażółć gęślą jaźń", "Zazolc gesla jazn", Alphabet::Gsm7),
        ("ZAŻÓŁĆ GĘŚLĄ JAŹŃ", "ZAZOLC GESLA JAZN", Alphabet::Gsm7),
        (
            "Crème brûlée à la française",
            "Crème brulée à la francaise",
            Alphabet::Gsm7,
        ),
        ("Škoda Čeština Řeka", "Skoda Cestina Reka", Alphabet::Gsm7),
        ("„Cytat” – koniec…", "\"Cytat\" - koniec...", Alphabet::Gsm7),
        ("São Paulo", "Sao Paulo", Alphabet::Gsm7),
        // An emoji cannot be transliterated: the original text goes as UCS-2, nothing lost.
        ("Zażółć 😀", "Zażółć 😀", Alphabet::Ucs2),
    ];
    for &(input, expect, alphabet) in cases {
        let (c, texts, _) = round_trip(input, &opts);
        assert_eq!(c.alphabet, alphabet, "{input}");
        assert_eq!(texts.concat(), expect, "{input}");
    }
    // ç is not in the default alphabet (0x09 is Ç): transliterated to c.
    assert_eq!(transliterate("ça"), "ca");
    assert_eq!(transliterate("abc"), std::borrow::Cow::Borrowed("abc"));
}

#[test]
fn national_language_tables() {
    let tr = TextOptions {
        national_languages: vec![NationalLanguage::Turkish],
        ..TextOptions::default()
    };
    let es = TextOptions {
        national_languages: vec![NationalLanguage::Spanish],
        ..TextOptions::default()
    };
    let pt = TextOptions {
        national_languages: vec![NationalLanguage::Portuguese],
        ..TextOptions::default()
    };
    let all = TextOptions {
        national_languages: NationalLanguage::ALL.to_vec(),
        ..TextOptions::default()
    };
    let none = TextOptions::default();
    let tr_es = TextOptions {
        national_languages: vec![NationalLanguage::Turkish, NationalLanguage::Spanish],
        ..TextOptions::default()
    };
    let cases: Vec<(&str, &TextOptions, Alphabet, Gsm7Tables)> = vec![
        (
            "Şişli'de güzel bir gün, İstanbul ığdır",
            &tr,
            Alphabet::Gsm7,
            Gsm7Tables {
                locking: Some(NationalLanguage::Turkish),
                single: None,
            },
        ),
        (
            "ığdır Á",
            &tr_es,
            Alphabet::Gsm7,
            Gsm7Tables {
                locking: Some(NationalLanguage::Turkish),
                single: Some(NationalLanguage::Spanish),
            },
        ),
        (
            "ş",
            &tr,
            Alphabet::Gsm7,
            Gsm7Tables {
                locking: Some(NationalLanguage::Turkish),
                single: None,
            },
        ),
        (
            "Ústed está aquí, Ó",
            &es,
            Alphabet::Gsm7,
            Gsm7Tables {
                locking: None,
                single: Some(NationalLanguage::Spanish),
            },
        ),
        (
            "Ação, não, avô, três",
            &pt,
            Alphabet::Gsm7,
            Gsm7Tables {
                locking: Some(NationalLanguage::Portuguese),
                single: None,
            },
        ),
        (
            "Ação €",
            &all,
            Alphabet::Gsm7,
            Gsm7Tables {
                locking: Some(NationalLanguage::Portuguese),
                single: None,
            },
        ),
        // Not opted in: UCS-2.
        ("Şişli", &none, Alphabet::Ucs2, Gsm7Tables::default()),
        // Not covered by the enabled tables: UCS-2.
        ("Şişli 😀", &tr, Alphabet::Ucs2, Gsm7Tables::default()),
    ];
    for (text, opts, alphabet, tables) in cases {
        let (c, texts, submits) = round_trip(text, opts);
        assert_eq!((c.alphabet, c.tables), (alphabet, tables), "{text}");
        assert_eq!(texts.concat(), text);
        let udh = submits[0].udh.clone().unwrap_or_default();
        assert_eq!(udh.locking_shift(), tables.locking);
        assert_eq!(udh.single_shift(), tables.single);
    }
}

/// Hand-verified: "ş" with the Turkish locking shift table is septet 0x1D after the UDH 03 25 01 01,
/// which is 4 octets = 32 bits, so 3 fill bits: 0x1D << 3 = 0xE8; UDL = 5 header septets + 1.
#[test]
fn turkish_locking_shift_vector() {
    let opts = TextOptions {
        national_languages: vec![NationalLanguage::Turkish],
        ..TextOptions::default()
    };
    let parts = encode_submit("ş", &submit_opts(opts)).unwrap();
    assert_eq!(
        bytes_to_hex(parts[0].tpdu()),
        "41000B918406100002F000000603250101E800"
    );
}

#[test]
fn national_tables_split_with_their_headers() {
    let tr = TextOptions {
        national_languages: vec![NationalLanguage::Turkish],
        ..TextOptions::default()
    };
    let text = "ş".repeat(400);
    let (c, texts, _) = round_trip(&text, &tr);
    // Locking shift IE (3 octets) + concat IE (5) + UDHL = 9 octets = 72 bits → 11 septets.
    assert_eq!(c.part_capacity, 160 - 11);
    assert_eq!(c.parts, 3);
    assert_eq!(texts.concat(), text);
}

#[test]
fn submit_header_fields() {
    let mut o = SubmitOptions::new(Address::parse("600100200").unwrap());
    o.smsc = Some(Address::parse("+48601000310").unwrap());
    o.srr = true;
    o.reject_duplicates = true;
    o.mr = 0x2A;
    o.pid = 0x00;
    o.class = Some(MessageClass::Class0);
    o.validity = Validity::Relative(std::time::Duration::from_secs(3600));
    let parts = encode_submit("flash", &o).unwrap();
    let p = &parts[0];
    assert_eq!(
        p.pdu.len() - p.tpdu_len,
        8,
        "SMSC field: length, type, 6 digit octets"
    );
    let Pdu::Submit(s) = decode(&p.pdu).unwrap() else {
        panic!()
    };
    assert_eq!(s.smsc.unwrap().to_string(), "+48601000310");
    assert_eq!(s.destination.to_string(), "600100200");
    assert_eq!(s.destination.ton, TypeOfNumber::Unknown);
    assert!(s.srr && s.reject_duplicates);
    assert_eq!(s.mr, 0x2A);
    assert_eq!(s.dcs.class, Some(MessageClass::Class0));
    assert_eq!(s.dcs.raw, 0x10);
    assert_eq!(
        s.validity,
        Validity::Relative(std::time::Duration::from_secs(3600))
    );
    assert_eq!(s.user_data.text(), Some("flash"));
}

#[test]
fn validity_codes() {
    use std::time::Duration;
    let m = |n: u64| Duration::from_secs(n * 60);
    // (requested, code, what the code means) per TS 23.040 §9.2.3.12.1, rounding up.
    let cases = [
        (m(0), 0, m(5)),
        (m(5), 0, m(5)),
        (m(6), 1, m(10)),
        (m(30), 5, m(30)),
        (m(60), 11, m(60)),
        (m(720), 143, m(720)),
        (m(721), 144, m(750)),
        (m(1440), 167, m(1440)),
        (m(1441), 168, m(2880)),
        (m(2 * 1440), 168, m(2880)),
        (m(30 * 1440), 196, m(30 * 1440)),
        (m(31 * 1440), 197, m(35 * 1440)),
        (m(63 * 7 * 1440), 255, m(63 * 7 * 1440)),
        (m(100 * 7 * 1440), 255, m(63 * 7 * 1440)),
    ];
    for (d, code, back) in cases {
        assert_eq!(relative_code(d), code, "{d:?}");
        assert_eq!(relative_duration(code), back, "{code}");
    }
    for code in 0..=255u8 {
        assert_eq!(relative_code(relative_duration(code)), code);
    }
}

#[test]
fn absolute_validity_round_trips() {
    let t = time::macros::datetime!(2026-11-25 10:00:00 -03:30);
    let mut o = SubmitOptions::new(to());
    o.validity = Validity::Absolute(t);
    let parts = encode_submit("x", &o).unwrap();
    let Pdu::Submit(s) = decode(&parts[0].pdu).unwrap() else {
        panic!()
    };
    assert_eq!(s.validity, Validity::Absolute(t));
    o.validity = Validity::Absolute(time::macros::datetime!(2026-11-25 10:00:00 +00:10));
    assert!(matches!(
        encode_submit("x", &o),
        Err(PduError::InvalidOption {
            field: Field::ValidityPeriod,
            ..
        })
    ));
}

#[test]
fn eight_bit_data_with_ports() {
    let data: Vec<u8> = (0..=255u8).collect();
    let mut o = SubmitOptions::new(to());
    o.ports = Some(Ports {
        destination: 2948,
        source: 9200,
        wide: true,
    });
    o.text.concat_ref = 9;
    let parts = encode_submit_data(&data, &o).unwrap();
    // Ports IE (6) + concat IE (5) + UDHL = 12 octets of header → 128 data octets per part.
    assert_eq!(parts.len(), 2);
    let mut joined = Vec::new();
    for p in &parts {
        let Pdu::Submit(s) = decode(&p.pdu).unwrap() else {
            panic!()
        };
        assert_eq!(s.dcs.alphabet, Alphabet::EightBit);
        let udh = s.udh.unwrap();
        assert_eq!(
            udh.ports(),
            Some(Ports {
                destination: 2948,
                source: 9200,
                wide: true
            })
        );
        joined.extend_from_slice(s.user_data.bytes().unwrap());
    }
    assert_eq!(joined, data);
    let small = encode_submit_data(&[1, 2, 3], &SubmitOptions::new(to())).unwrap();
    assert_eq!(
        bytes_to_hex(small[0].tpdu()),
        "01000B918406100002F00004030102 03".replace(' ', "")
    );
}

#[test]
fn deliver_concatenated_and_alphanumeric() {
    let scts = time::macros::datetime!(2026-11-25 08:15:00 +01:00);
    let mut o = DeliverOptions::new(Address::parse("MyShop").unwrap(), scts);
    o.text.concat_ref = 0xABCD;
    let text = "Zamówienie 😀 ".repeat(20);
    let parts = encode_deliver(&text, &o).unwrap();
    assert!(parts.len() > 1);
    let mut joined = String::new();
    for p in &parts {
        let Pdu::Deliver(d) = decode(&p.pdu).unwrap() else {
            panic!()
        };
        assert_eq!(d.originator.to_string(), "MyShop");
        assert_eq!(d.originator.ton, TypeOfNumber::Alphanumeric);
        assert_eq!(d.scts, scts);
        assert!(d.udh.unwrap().concat().unwrap().wide);
        joined.push_str(d.user_data.text().unwrap());
    }
    assert_eq!(joined, text);
}

#[test]
fn status_report_round_trip() {
    let o = StatusReportOptions {
        smsc: Some(Address::parse("+48601000310").unwrap()),
        mr: 0x42,
        recipient: to(),
        scts: time::macros::datetime!(2026-11-25 08:15:00 +01:00),
        discharge_time: time::macros::datetime!(2026-11-25 08:15:07 +01:00),
        status: Status::DELIVERED,
        more_messages: false,
    };
    let p = encode_status_report(&o).unwrap();
    let Pdu::StatusReport(r) = decode(&p.pdu).unwrap() else {
        panic!()
    };
    assert_eq!(r.mr, 0x42);
    assert_eq!(r.recipient, to());
    assert_eq!(r.scts, o.scts);
    assert_eq!(r.discharge_time, o.discharge_time);
    assert_eq!(r.status.category(), StatusCategory::Delivered);
    assert_eq!(p.tpdu_len, p.pdu.len() - 8);
}

#[test]
fn count_serialises_for_api_responses() {
    let v = serde_json::to_value(count(&"a".repeat(161), &TextOptions::default()).unwrap()).unwrap();
    assert_eq!(
        v,
        serde_json::json!({
            "alphabet": "gsm7",
            "tables": { "locking": null, "single": null },
            "transliterated": false,
            "parts": 2,
            "chars": 161,
            "units": 161,
            "part_capacity": 153,
            "remaining": 145,
        })
    );
    let tr = TextOptions {
        national_languages: vec![NationalLanguage::Turkish],
        ..TextOptions::default()
    };
    let v = serde_json::to_value(count("ş", &tr).unwrap()).unwrap();
    assert_eq!(v["tables"]["locking"], "turkish");
    assert_eq!(
        serde_json::to_value(StatusCategory::TemporaryFailureGaveUp).unwrap(),
        "temporary_failure_gave_up"
    );
}

#[test]
fn network_turns_a_submit_into_the_same_deliver() {
    let scts = time::macros::datetime!(2026-11-25 08:15:00 +01:00);
    let from = Address::parse("+48600999888").unwrap();
    let smsc = Address::parse("+48601000310").unwrap();
    let mut cases: Vec<SubmitPart> = Vec::new();
    let mut o = SubmitOptions::new(to());
    o.srr = true;
    o.validity = Validity::Relative(std::time::Duration::from_secs(3600));
    cases.extend(encode_submit("hello €", &o).unwrap());
    o.text.concat_ref = 0x1234;
    o.class = Some(MessageClass::Class0);
    cases.extend(encode_submit(&"Zażółć 😀 ".repeat(20), &o).unwrap());
    o.ports = Some(Ports {
        destination: 5000,
        source: 0,
        wide: true,
    });
    o.validity = Validity::Absolute(scts);
    cases.extend(encode_submit_data(&[0xCA, 0xFE], &o).unwrap());
    for part in cases {
        let Pdu::Submit(s) = decode(&part.pdu).unwrap() else {
            panic!()
        };
        let d = deliver_from_submit(&part.pdu, &from, scts, Some(&smsc)).unwrap();
        let Pdu::Deliver(d) = decode(&d.pdu).unwrap() else {
            panic!()
        };
        assert_eq!(
            (d.originator, d.scts, d.smsc),
            (from.clone(), scts, Some(smsc.clone()))
        );
        assert_eq!(
            (d.pid, d.dcs, &d.udh, &d.user_data),
            (s.pid, s.dcs, &s.udh, &s.user_data)
        );
        assert_eq!(d.status_report_indication, s.srr);
    }
    let deliver = encode_deliver("x", &DeliverOptions::new(from.clone(), scts)).unwrap();
    let err = deliver_from_submit(&deliver[0].pdu, &from, scts, None).unwrap_err();
    assert_eq!((err.field(), err.offset()), (Field::FirstOctet, Some(1)));
    assert_eq!(
        encode_timestamp(scts).unwrap(),
        [0x62, 0x11, 0x52, 0x80, 0x51, 0x00, 0x40]
    );
    assert_eq!(
        from.to_tp_field().unwrap(),
        vec![0x0B, 0x91, 0x84, 0x06, 0x90, 0x99, 0x88, 0xF8]
    );
    assert_eq!(
        smsc.to_smsc_field().unwrap(),
        vec![0x07, 0x91, 0x84, 0x06, 0x01, 0x00, 0x13, 0xF0]
    );
}
