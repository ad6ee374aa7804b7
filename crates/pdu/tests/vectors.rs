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
    check("12345678", "31D98C56B3DD70");
    check("1234567", "31D98C56B3DD00");
    check("@", "00");
    // ESC 0x1B then 0x65: first octet 0x1B | (0x65 & 1) << 7 = 0x9B, second 0x65 >> 1 = 0x32.
    check("€", "9B32");
    // Form feed: ESC then 0x0A → 0x1B | 0 << 7, 0x0A >> 1.
    check("\u{0C}", "1B05");
}
