//! Published and hand-verified PDU vectors: decode them, and re-encode where the codec can produce them.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers outside #[test] fns
use std::time::Duration;

use smsgate_pdu::*;
use time::macros::datetime;

fn bytes(hex: &str) -> Vec<u8> {
    hex_to_bytes(hex).unwrap()
}

/// The classic "hellohello" SUBMIT (dreamfabric.com SMS PDU tutorial).
const HELLO_SUBMIT: &str = "0011000B916407281553F80000AA0AE8329BFD4697D9EC37";
/// The classic "hellohello" DELIVER from the same tutorial.
const HELLO_DELIVER: &str = "07917283010010F5040BC87238880900F10000993092516195800AE8329BFD4697D9EC37";

#[test]
fn hellohello_submit_encodes_exactly() {
    let mut opts = SubmitOptions::new(Address::parse("+46708251358").unwrap());
    opts.validity = Validity::Relative(Duration::from_secs(4 * 24 * 3600));
    let parts = encode_submit("hellohello", &opts).unwrap();
    assert_eq!(parts.len(), 1);
    assert_eq!(parts[0].hex(), HELLO_SUBMIT);
    assert_eq!(parts[0].tpdu_len, HELLO_SUBMIT.len() / 2 - 1);
}

#[test]
fn hellohello_submit_decodes() {
    let Pdu::Submit(s) = decode_hex(HELLO_SUBMIT).unwrap() else {
        panic!("not a submit")
    };
    assert_eq!(s.smsc, None);
    assert_eq!(s.destination.to_string(), "+46708251358");
    assert_eq!(s.validity, Validity::Relative(Duration::from_secs(4 * 24 * 3600)));
    assert_eq!(s.user_data, UserData::Text("hellohello".into()));
    assert_eq!(s.mr, 0);
    assert!(!s.srr);
}

#[test]
fn hellohello_deliver_decodes() {
    let Pdu::Deliver(d) = decode_hex(HELLO_DELIVER).unwrap() else {
        panic!("not a deliver")
    };
    assert_eq!(d.smsc.as_ref().unwrap().to_string(), "+27381000015");
    assert_eq!(d.originator.value, "27838890001");
    assert_eq!(d.originator.ton, TypeOfNumber::Subscriber);
    assert_eq!(d.originator.npi, NumberingPlan::National);
    assert_eq!(d.scts, datetime!(1999-03-29 15:16:59 +02:00));
    assert_eq!(d.user_data.text(), Some("hellohello"));
    assert!(!d.more_messages);
}

#[test]
fn hellohello_deliver_reencodes_exactly() {
    let from = Address {
        ton: TypeOfNumber::Subscriber,
        npi: NumberingPlan::National,
        value: "27838890001".into(),
    };
    let mut opts = DeliverOptions::new(from, datetime!(1999-03-29 15:16:59 +02:00));
    opts.smsc = Some(Address::parse("+27381000015").unwrap());
    let parts = encode_deliver("hellohello", &opts).unwrap();
    assert_eq!(parts.len(), 1);
    assert_eq!(parts[0].hex(), HELLO_DELIVER);
}

/// Septet packing examples of TS 23.038 §6.1.2.1.1 style, verified by hand.
#[test]
fn septet_packing() {
    fn check(text: &str, expect: &str) {
        let septets = gsm7::encode_default(text).unwrap();
        assert_eq!(bytes_to_hex(&gsm7::pack(&septets)), expect, "{text}");
        assert_eq!(
            gsm7::decode_default(&gsm7::unpack(&bytes(expect), septets.len())),
            text
        );
    }
    check("hellohello", "E8329BFD4697D9EC37");
    check("How are you?", "C8F71D14969741F977FD07");
    check("Hello", "C8329BFD06");
    check("12345678", "31D98C56B3DD70");
    check("1234567", "31D98C56B3DD00");
    check("@", "00");
    // ESC 0x1B then 0x65: first octet 0x1B | (0x65 & 1) << 7 = 0x9B, second 0x65 >> 1 = 0x32.
    check("€", "9B32");
    // Form feed: ESC then 0x0A → 0x1B | 0 << 7, 0x0A >> 1.
    check("\u{0C}", "1B05");
}

#[test]
fn bare_tpdu_decodes_like_the_full_pdu() {
    let full = bytes(HELLO_SUBMIT);
    assert_eq!(decode_tpdu(&full[1..]).unwrap(), decode(&full).unwrap());
    let err = decode_tpdu(&full[1..full.len() - 1]).unwrap_err();
    assert_eq!((err.field(), err.offset()), (Field::UserData, Some(22)));
}

#[test]
fn smsc_type_without_digits_is_no_smsc() {
    // gammu writes `01 81` (length 1: type octet only) when the modem's SMSC is to be used.
    let Pdu::Submit(s) = decode_hex("018111000B916407281553F80000AA0AE8329BFD4697D9EC37").unwrap() else {
        panic!()
    };
    assert_eq!(s.smsc, None);
    assert_eq!(s.user_data.text(), Some("hellohello"));
}

/// Real DELIVERs posted in public issue trackers of other SMS tools (asterisk-chan-dongle, node-sms-pdu,
/// doublecontact, PDUlib, xlab/at), where those tools decoded them wrongly: alphanumeric originators
/// (incl. TON 5 with NPI 1), time zones east and west, UCS-2 with 8- and 16-bit concatenation.
#[test]
fn real_world_delivers_from_public_bug_reports() {
    // (PDU, originator, SCTS, concat (ref, total, seq), text prefix)
    type Expect = (&'static str, &'static str, Option<(u16, u8, u8)>, &'static str);
    let cases: &[(&str, Expect)] = &[
        (
            "07919720990610F00410D0C8E7945A94BAA4550000218051710140235550E953C82C3641C51828EDA697E5E6F0B83C0705E7F4B23C3D5FB784E5323BED2E83623057CC1573D1404369929A1C0699A06B990C0AD6CFA0580D149BE960395D0D066A4E9720192C2603",
            (
                "HOSTER.RU",
                "2012-08-15T17:10:04+08:00",
                None,
                "PROBLEM E1 interfaces Asterisk-Beeline 10.1.1.4 CRITICAL Wed Aug 15 13:09:50 MSK 2012",
            ),
        ),
        (
            "07913396050066F1240ED1D365D1397542890000619003815474801ED7309B5E968388EFF2BA3C07A5E7A030E82C2F87E9A0733D0F0A01",
            (
                "SKENSNPD",
                "2016-09-30T18:45:47+02:00",
                None,
                "Walter Doekes is a great guy !",
            ),
        ),
        (
            "0791448720003023240DD0E474D81C0EBB010000111011315214000BE474D81C0EBB5DE3771B",
            ("diafaan", "2011-01-11T13:25:41Z", None, "diafaan.com"),
        ),
        (
            "07918350000014F0400ED0D637396C7EBBCB000802601190106321840500038803030020043F0430043A0435044204300020043F043E043F043E0432043D04560442044C00200440043004450443043D043E043A00200432045604340020003100300030002004330440043804320435043D044C0020044204300020043D043004310435044004560442044C0020002A003100300031002A0034003400340023",
            (
                "Vodafone",
                "2020-06-11T09:01:36+03:00",
                Some((136, 3, 3)),
                " пакета поповніть рахунок від 100 гривень та наберіть *101*444#",
            ),
        ),
        (
            "0791246020099990640681991976000832602111455580840500033107010044006F0073006C006500630068006C00690020006A0073006D0065002000730065002C0020007A006500200064006E006500730020006D00610074006500200063006F0020006F0073006C00610076006F007600610074002100200041002000700072006F0074006F007A006500200064006100720065006B00200070",
            (
                "999167",
                "2023-06-12T11:54:55+02:00",
                Some((49, 7, 1)),
                "Doslechli jsme se, ze dnes mate co oslavovat! A protoze darek p",
            ),
        ),
        (
            "07919730071111F1400DD0C272999D7697010019021021902130218B06080478E006020020043C0438043D002004370432043E043D043A043E04320020043D04300020043D043E043C043504400430002004110438043B04300439043D00200420043E0441044104380438002004380020043C043504410442043D044B04350020043C043E04310438043B044C043D044B04350020043D043E043C043504400430002004340440",
            (
                "Beeline",
                "2020-01-12T09:12:03+03:00",
                Some((30944, 6, 2)),
                " мин звонков на номера Билайн России",
            ),
        ),
        (
            "07914150740250F52405C90715F400004250423161226982C8A953076A96DB6F793ACC0611C379D034CC2E8740553888FE06D56025D0DB6C06C55830186C0E7A9B41E6B49B3C7781A0ECFA9C05AA818CEC321E1ACE83DE6E50D95E96E7E9E8B4FB1C024DD16F38C8FDBEEB40683A1D3ED7BD5EE8B9DB15A6D3DD2EBAFD156EDA66F3A533161F8AE92017",
            (
                "70514",
                "2024-05-24T13:16:22-04:00",
                None,
                "HSN: Memorial Day Sale! Up to 50% off",
            ),
        ),
    ];
    let rfc3339 = time::format_description::well_known::Rfc3339;
    for (hex, (from, scts, concat, text)) in cases {
        let Pdu::Deliver(d) = decode_hex(hex).unwrap() else {
            panic!("not a deliver: {hex}")
        };
        assert_eq!(d.originator.to_string(), *from);
        assert_eq!(d.scts.format(&rfc3339).unwrap(), *scts);
        assert_eq!(
            d.udh
                .and_then(|u| u.concat())
                .map(|c| (c.reference, c.total, c.seq)),
            *concat
        );
        assert!(
            d.user_data.text().unwrap().starts_with(text),
            "{from}: {:?}",
            d.user_data
        );
    }
    // A DELIVER whose UDH claims an element longer than the header (python-gsmmodem #51): a typed error
    // at the element's length octet, where that tool printed garbage.
    let err = decode_hex("07912160130320F5440B917130263521F600005160101235458AA005C01BF40201E8E5393D2C1E93CBE633BD3CA787C56372D97CA697E7F4B0784C2E9BCFF4F29C1E168FC965F3995E9ED3C3E231B96C3ED3CB737A583C2697CD677A794E0F8BC7E4B2F94C2FCFE961F1985C369FE9E5393D2C1E93CBE633BD3CA787C56372D97CA697E7F4B0784C2E9BCFF4F29C1E168FC965F3995E9ED3C3E231B96C3ED3CB737A583C2697CD").unwrap_err();
    assert_eq!((err.field(), err.offset()), (Field::UserDataHeader, Some(29)));
}

/// A real exchange logged in python-gsmmodem #44: an incoming DELIVER, the auto-reply SUBMIT (which
/// quotes the DELIVER's time stamp as that library decoded it), `+CMGS: 64`, and the `+CDS: 25` status
/// report that pairs with it by TP-MR and recipient.
#[test]
fn real_exchange_deliver_submit_report() {
    let rfc3339 = time::format_description::well_known::Rfc3339;
    let Pdu::Deliver(d) =
        decode_hex("0791198904100161240C911979099137640000511090718303220BC8B4421174CFD175D014").unwrap()
    else {
        panic!("not a deliver")
    };
    assert_eq!(d.originator.to_string(), "+919790197346");
    assert_eq!(d.user_data.text(), Some("Hi\n\nAnshu S"));
    assert_eq!(d.scts.format(&rfc3339).unwrap(), "2015-01-09T17:38:30+05:30");
    let submit = bytes(
        "0021000C91197909913764000036D3E614242F8FCB697B99AC038964B058AD058BB5603950ECA69BE17433D80A56D3CD603A1032AD5004DD73741D341501",
    );
    assert_eq!(submit.len() - 1, 61, "AT+CMGS=61 in the log");
    let Pdu::Submit(s) = decode(&submit).unwrap() else {
        panic!("not a submit")
    };
    assert!(s.srr);
    assert_eq!(
        s.user_data.text(),
        Some("SMS received: \"2015-01-09 17:38:30+05:30: Hi\n\nAnshu S\"")
    );
    let report = bytes("079119890400202306400C91197909913764511090718384225110907183252200");
    assert_eq!(report.len() - 8, 25, "+CDS: 25 counts the TPDU");
    let Pdu::StatusReport(r) = decode(&report).unwrap() else {
        panic!("not a report")
    };
    assert_eq!(r.mr, 64, "+CMGS: 64");
    assert_eq!(r.recipient, s.destination);
    assert_eq!(r.status.category(), StatusCategory::Delivered);
    assert_eq!(
        r.discharge_time.format(&rfc3339).unwrap(),
        "2015-01-09T17:38:52+05:30"
    );
}
