//! Fuzz target: the PDU decoder (raw octets and hex text) must never panic, and whatever it decodes
//! as an SMS-DELIVER must re-encode to a PDU that decodes to the same text.
#![no_main]

use libfuzzer_sys::fuzz_target;
use smsgate_pdu::{DeliverOptions, Pdu, UserData, decode, decode_hex, encode_deliver};

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = decode_hex(text);
    }
    let Ok(Pdu::Deliver(d)) = decode(data) else { return };
    // Re-encoding may legitimately fail (e.g. an originator our encoder does not write); when it
    // succeeds, the text must survive (lossless alphabets only: a lone UCS-2 surrogate became U+FFFD).
    let UserData::Text(text) = &d.user_data else {
        return;
    };
    let mut opts = DeliverOptions::new(d.originator.clone(), d.scts);
    opts.text.encoding = smsgate_pdu::EncodingPolicy::Auto;
    if let Ok(parts) = encode_deliver(text, &opts) {
        let mut joined = String::new();
        for p in parts {
            match decode(&p.pdu) {
                Ok(Pdu::Deliver(back)) => joined.push_str(back.user_data.text().unwrap_or_default()),
                other => panic!("re-encoded DELIVER does not decode: {other:?}"),
            }
        }
        assert_eq!(&joined, text);
    }
});
