#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers outside #[test] fns
//! Decoding: header fields, DCS groups, UDH elements, status reports, and bad input that must give a
//! typed error naming the field and offset (never a panic).
use smsgate_pdu::*;

fn deliver(hex: &str) -> Deliver {
    match decode_hex(hex).unwrap() {
        Pdu::Deliver(d) => d,
        other => panic!("not a deliver: {other:?}"),
    }
}

/// A DELIVER from +48600100200 with the given first octet, DCS and user data (UDL + UD hex),
/// SCTS 2026-11-25 08:15:00 +01:00.
fn deliver_hex(fo: &str, dcs: &str, udl_ud: &str) -> String {
    format!("00{fo}0B918406100002F000{dcs}62115280510040{udl_ud}")
}

#[test]
fn dcs_groups() {
    // (DCS, alphabet, class, waiting (active, kind, store), auto_delete, compressed)
    type Expect = (
        Alphabet,
        Option<u8>,
        Option<(bool, WaitingKind, bool)>,
        bool,
        bool,
    );
    let cases: &[(u8, Expect)] = &[
        (0x00, (Alphabet::Gsm7, None, None, false, false)),
        (0x04, (Alphabet::EightBit, None, None, false, false)),
        (0x08, (Alphabet::Ucs2, None, None, false, false)),
        (0x0C, (Alphabet::Gsm7, None, None, false, false)), // reserved alphabet → GSM-7
        (0x10, (Alphabet::Gsm7, Some(0), None, false, false)),
        (0x11, (Alphabet::Gsm7, Some(1), None, false, false)),
        (0x12, (Alphabet::Gsm7, Some(2), None, false, false)),
        (0x13, (Alphabet::Gsm7, Some(3), None, false, false)),
        (0x18, (Alphabet::Ucs2, Some(0), None, false, false)),
        (0x20, (Alphabet::Gsm7, None, None, false, true)),
        (0x40, (Alphabet::Gsm7, None, None, true, false)),
        (0x48, (Alphabet::Ucs2, None, None, true, false)),
        (0x80, (Alphabet::Gsm7, None, None, false, false)), // reserved group → GSM-7
        (
            0xC0,
            (
                Alphabet::Gsm7,
                None,
                Some((false, WaitingKind::Voicemail, false)),
                false,
                false,
            ),
        ),
        (
            0xC8,
            (
                Alphabet::Gsm7,
                None,
                Some((true, WaitingKind::Voicemail, false)),
                false,
                false,
            ),
        ),
        (
            0xD9,
            (
                Alphabet::Gsm7,
                None,
                Some((true, WaitingKind::Fax, true)),
                false,
                false,
            ),
        ),
        (
            0xEA,
            (
                Alphabet::Ucs2,
                None,
                Some((true, WaitingKind::Email, true)),
                false,
                false,
            ),
        ),
        (
            0xE3,
            (
                Alphabet::Ucs2,
                None,
                Some((false, WaitingKind::Other, true)),
                false,
                false,
            ),
        ),
        (0xF0, (Alphabet::Gsm7, Some(0), None, false, false)),
        (0xF1, (Alphabet::Gsm7, Some(1), None, false, false)),
        (0xF6, (Alphabet::EightBit, Some(2), None, false, false)),
    ];
    for &(raw, (alphabet, class, waiting, auto_delete, compressed)) in cases {
        let d = Dcs::from_byte(raw);
        let got = (
            d.alphabet,
            d.class.map(MessageClass::number),
            d.waiting.map(|w| (w.active, w.kind, w.store)),
            d.auto_delete,
            d.compressed,
        );
        assert_eq!(
            got,
            (alphabet, class, waiting, auto_delete, compressed),
            "DCS {raw:02X}"
        );
        assert_eq!(d.raw, raw);
    }
}

#[test]
fn deliver_user_data_kinds() {
    // (DCS, UDHI, UDL+UD, expected user data)
    let cases: Vec<(&str, bool, &str, UserData)> = vec![
        (
            "00",
            false,
            "0AE8329BFD4697D9EC37",
            UserData::Text("hellohello".into()),
        ),
        ("08", false, "04D83DDE00", UserData::Text("😀".into())),
        ("08", false, "0600C5017C0107", UserData::Text("Åżć".into())),
        // A lone surrogate (sender split a pair) becomes U+FFFD, not an error.
        ("08", false, "02D83D", UserData::Text("\u{FFFD}".into())),
        ("04", false, "03010203", UserData::Binary(vec![1, 2, 3])),
        ("F4", false, "02CAFE", UserData::Binary(vec![0xCA, 0xFE])),
        // Concatenation header then "A" after one fill bit: 0x41 << 1 = 0x82.
        ("00", true, "0805000301020182", UserData::Text("A".into())),
        // Extension table: ESC 0x65 → €; ESC 0x0A → form feed.
        ("00", false, "029B32", UserData::Text("€".into())),
        ("00", false, "021B05", UserData::Text("\u{0C}".into())),
        // ESC followed by a code with no extension character shows the base character ('A').
        ("00", false, "029B20", UserData::Text("A".into())),
        // Compressed text is kept as bytes.
        (
            "20",
            false,
            "0411223344",
            UserData::Binary(vec![0x11, 0x22, 0x33, 0x44]),
        ),
        // Empty message.
        ("00", false, "00", UserData::Text(String::new())),
    ];
    for (dcs, udhi, ud, expect) in cases {
        let fo = if udhi { "44" } else { "04" };
        let d = deliver(&deliver_hex(fo, dcs, ud));
        assert_eq!(d.user_data, expect, "DCS {dcs} UD {ud}");
        assert_eq!(d.originator.to_string(), "+48600100200");
        assert_eq!(d.scts, time::macros::datetime!(2026-11-25 08:15:00 +01:00));
    }
}

#[test]
fn udh_elements() {
    // UDH hex (after UDHL) → elements
    let cases: Vec<(&str, Vec<InformationElement>)> = vec![
        (
            "0003CC0201",
            vec![InformationElement::Concat(Concat {
                reference: 0xCC,
                total: 2,
                seq: 1,
                wide: false,
            })],
        ),
        (
            "0804ABCD0302",
            vec![InformationElement::Concat(Concat {
                reference: 0xABCD,
                total: 3,
                seq: 2,
                wide: true,
            })],
        ),
        (
            "0404B8410000",
            vec![InformationElement::Other {
                id: 0x04,
                data: vec![0xB8, 0x41, 0x00, 0x00],
            }],
        ),
        (
            "04021000",
            vec![InformationElement::Ports(Ports {
                destination: 0x10,
                source: 0,
                wide: false,
            })],
        ),
        (
            "05040B8423F0",
            vec![InformationElement::Ports(Ports {
                destination: 2948,
                source: 9200,
                wide: true,
            })],
        ),
        (
            "240101",
            vec![InformationElement::SingleShift(Ok(NationalLanguage::Turkish))],
        ),
        ("25010D", vec![InformationElement::LockingShift(Err(13))]),
        // Invalid concatenation (seq 0, seq > total, total 0) is kept raw (TS 23.040 §9.2.3.24.1).
        (
            "0003CC0200",
            vec![InformationElement::Other {
                id: 0,
                data: vec![0xCC, 2, 0],
            }],
        ),
        (
            "0003CC0203",
            vec![InformationElement::Other {
                id: 0,
                data: vec![0xCC, 2, 3],
            }],
        ),
        (
            "0003CC0000",
            vec![InformationElement::Other {
                id: 0,
                data: vec![0xCC, 0, 0],
            }],
        ),
        (
            "7002AABB0A00",
            vec![
                InformationElement::Other {
                    id: 0x70,
                    data: vec![0xAA, 0xBB],
                },
                InformationElement::Other {
                    id: 0x0A,
                    data: vec![],
                },
            ],
        ),
    ];
    for (hex, elements) in cases {
        let udh_len = hex.len() / 2;
        let ud = format!("{:02X}{:02X}{hex}", udh_len + 1, udh_len);
        let d = deliver(&deliver_hex("44", "04", &ud));
        let udh = d.udh.unwrap();
        assert_eq!(udh.elements, elements, "{hex}");
        assert_eq!(bytes_to_hex(&udh.to_bytes()), hex);
    }
}

#[test]
fn status_report_fields() {
    // SMSC +48601000310; SR with MR 0x2A; RA +48600100200; SCTS; DT; status; TP-PI absent.
    let base = "07918406010013F0062A0B918406100002F06211528051004062115280517040";
    let cases: &[(&str, u8, StatusCategory, bool)] = &[
        ("00", 0x00, StatusCategory::Delivered, true),
        ("01", 0x01, StatusCategory::Delivered, true),
        ("21", 0x21, StatusCategory::StillTrying, false),
        ("30", 0x30, StatusCategory::StillTrying, false),
        ("46", 0x46, StatusCategory::PermanentFailure, true),
        ("41", 0x41, StatusCategory::PermanentFailure, true),
        ("62", 0x62, StatusCategory::TemporaryFailureGaveUp, true),
        ("03", 0x03, StatusCategory::TemporaryFailureGaveUp, true), // reserved → service rejected
        ("FF", 0xFF, StatusCategory::TemporaryFailureGaveUp, true),
    ];
    for &(st, code, category, final_) in cases {
        let Pdu::StatusReport(r) = decode_hex(&format!("{base}{st}")).unwrap() else {
            panic!()
        };
        assert_eq!(r.mr, 0x2A);
        assert_eq!(r.recipient.to_string(), "+48600100200");
        assert_eq!(r.smsc.unwrap().to_string(), "+48601000310");
        assert_eq!(r.scts, time::macros::datetime!(2026-11-25 08:15:00 +01:00));
        assert_eq!(
            r.discharge_time,
            time::macros::datetime!(2026-11-25 08:15:07 +01:00)
        );
        assert_eq!(r.status, Status(code));
        assert_eq!(r.status.category(), category, "status {st}");
        assert_eq!(r.status.is_final(), final_);
        assert!(!r.status.meaning().is_empty());
    }
    // With TP-PI announcing PID, DCS and UD.
    let Pdu::StatusReport(r) = decode_hex(&format!("{base}0007000005C8329BFD06")).unwrap() else {
        panic!()
    };
    assert_eq!((r.pid, r.dcs.map(|d| d.raw)), (Some(0), Some(0)));
    assert_eq!(r.user_data, Some(UserData::Text("Hello".into())));
}

#[test]
fn addresses() {
    // (input, ton, value, display)
    let ok: &[(&str, TypeOfNumber, &str, &str)] = &[
        (
            "+48600100200",
            TypeOfNumber::International,
            "48600100200",
            "+48600100200",
        ),
        ("600100200", TypeOfNumber::Unknown, "600100200", "600100200"),
        (
            "+48 600-100-200",
            TypeOfNumber::International,
            "48600100200",
            "+48600100200",
        ),
        ("8080", TypeOfNumber::Unknown, "8080", "8080"),
        ("*100#", TypeOfNumber::Unknown, "*100#", "*100#"),
        ("MyShop", TypeOfNumber::Alphanumeric, "MyShop", "MyShop"),
        ("Bank 24", TypeOfNumber::Alphanumeric, "Bank 24", "Bank 24"),
        (
            "ABCDEFGHIJK",
            TypeOfNumber::Alphanumeric,
            "ABCDEFGHIJK",
            "ABCDEFGHIJK",
        ),
    ];
    for &(input, ton, value, display) in ok {
        let a = Address::parse(input).unwrap();
        assert_eq!(
            (a.ton, a.value.as_str(), a.to_string()),
            (ton, value, display.to_string()),
            "{input}"
        );
        // Round trip through an SMS-DELIVER originator field.
        let scts = time::macros::datetime!(2026-11-25 08:15:00 +01:00);
        let p = encode_deliver("x", &DeliverOptions::new(a.clone(), scts)).unwrap();
        let Pdu::Deliver(d) = decode(&p[0].pdu).unwrap() else {
            panic!()
        };
        assert_eq!(d.originator, a, "{input}");
    }
    for bad in [
        "",
        "+",
        "+48abc",
        "ABCDEFGHIJKL",
        "123456789012345678901",
        "Zażółć",
    ] {
        assert!(
            matches!(Address::parse(bad), Err(PduError::InvalidAddress { .. })),
            "{bad:?}"
        );
    }
    // "MyShop" packs to 11 semi-octets (42 bits), type D0 (TON 5).
    let mut o = SubmitOptions::new(Address::parse("MyShop").unwrap());
    o.mr = 0;
    let p = encode_submit("x", &o).unwrap();
    assert_eq!(&bytes_to_hex(p[0].tpdu())[..20], "01000BD0CDFC14FD8603");
}

#[test]
fn bad_input_is_a_typed_error() {
    let hello = "0011000B916407281553F80000AA0AE8329BFD4697D9EC37";
    // (hex, field, offset)
    let cases: Vec<(String, Field, Option<usize>)> = vec![
        (String::new(), Field::SmscLength, Some(0)),
        ("00".into(), Field::FirstOctet, Some(1)),
        ("0003".into(), Field::FirstOctet, Some(1)),
        ("0001".into(), Field::MessageReference, Some(2)),
        ("000100".into(), Field::DestinationAddress, Some(3)),
        ("00010015".into(), Field::DestinationAddress, Some(3)),
        ("0C91".into(), Field::SmscLength, Some(0)),
        ("0791448720".into(), Field::Smsc, Some(5)),
        ("001".into(), Field::Hex, None),
        ("0G".into(), Field::Hex, None),
        (hello[..hello.len() - 2].to_string(), Field::UserData, Some(23)),
        (format!("{hello}00"), Field::UserData, Some(24)),
        (hello.replace("AA0AE8", "AAA1E8"), Field::UserDataLength, Some(14)),
        // UDHI set but the header claims more octets than the user data has.
        (
            deliver_hex("44", "04", "03FF0000"),
            Field::UserDataHeader,
            Some(20),
        ),
        // UDHI set, IE longer than the header.
        (
            deliver_hex("44", "04", "0302000A"),
            Field::UserDataHeader,
            Some(22),
        ),
        // GSM-7 UDL shorter than its own header.
        (
            deliver_hex("44", "00", "0605000301020100"),
            Field::UserDataLength,
            Some(19),
        ),
        // UCS-2 with an odd octet count.
        (deliver_hex("04", "08", "03004100"), Field::UserData, Some(19)),
        // SCTS month 13, non-BCD second.
        (
            "00040B918406100002F00000621352805100400100".into(),
            Field::ServiceCentreTimeStamp,
            Some(13),
        ),
        (
            "00040B918406100002F000006211528051F0400100".into(),
            Field::ServiceCentreTimeStamp,
            Some(17),
        ),
        // SUBMIT with enhanced validity cut short.
        (
            "0009000B918406100002F00000010203".into(),
            Field::ValidityPeriod,
            Some(16),
        ),
        // Status report without TP-ST.
        (
            "00062A0B918406100002F06211528051004062115280517040".into(),
            Field::Status,
            Some(25),
        ),
        // TP-DT with 70 seconds.
        (
            "00062A0B918406100002F0621152805100406211528051074000".into(),
            Field::DischargeTime,
            Some(23),
        ),
    ];
    for (hex, field, offset) in cases {
        let err = decode_hex(&hex).expect_err(&hex);
        assert_eq!((err.field(), err.offset()), (field, offset), "{hex}: {err}");
        assert!(!err.to_string().is_empty());
    }
}

#[test]
fn error_messages_name_field_and_offset() {
    let err = decode_hex("0011000B916407281553F80000AA0AE8329BFD4697D9EC").unwrap_err();
    assert_eq!(
        err.to_string(),
        "TP-UD at octet 23: input ends early (1 more octet(s) needed)"
    );
    let err = decode_hex("0003").unwrap_err();
    assert_eq!(
        err.to_string(),
        "first octet (TP-MTI) at octet 1: invalid value 0x03 (TP-MTI 11 is reserved)"
    );
    let err = decode_hex("abc").unwrap_err();
    assert_eq!(
        err.to_string(),
        "hex text at character 3: odd number of hex digits"
    );
}

#[test]
fn every_prefix_of_valid_pdus_is_an_error_not_a_panic() {
    let scts = time::macros::datetime!(2026-11-25 08:15:00 +01:00);
    let mut pdus: Vec<Vec<u8>> = Vec::new();
    let mut d = DeliverOptions::new(Address::parse("MyShop").unwrap(), scts);
    d.smsc = Some(Address::parse("+48601000310").unwrap());
    for text in ["hello", "Zażółć 😀", &"x".repeat(300)] {
        pdus.extend(encode_deliver(text, &d).unwrap().into_iter().map(|p| p.pdu));
        let mut s = SubmitOptions::new(Address::parse("+48600100200").unwrap());
        s.validity = Validity::Absolute(scts);
        pdus.extend(encode_submit(text, &s).unwrap().into_iter().map(|p| p.pdu));
    }
    for pdu in pdus {
        assert!(decode(&pdu).is_ok());
        for cut in 0..pdu.len() {
            assert!(decode(&pdu[..cut]).is_err(), "prefix of {} octets", cut);
        }
    }
}

#[test]
fn every_status_value_has_a_category() {
    for v in 0..=255u8 {
        let s = Status(v);
        let reserved = s.meaning().starts_with("reserved");
        let expect = match v {
            _ if reserved => StatusCategory::TemporaryFailureGaveUp,
            0x00..=0x1F => StatusCategory::Delivered,
            0x20..=0x3F => StatusCategory::StillTrying,
            0x40..=0x5F => StatusCategory::PermanentFailure,
            _ => StatusCategory::TemporaryFailureGaveUp,
        };
        assert_eq!(s.category(), expect, "{v:#04x}");
        assert_eq!(
            reserved,
            matches!(v, 0x03..=0x0F | 0x26..=0x2F | 0x4A..=0x4F | 0x66..=0x6F | 0x80..=0xFF),
            "{v:#04x}"
        );
        assert!(s.to_string().starts_with(&format!("0x{v:02X} ")));
    }
}
