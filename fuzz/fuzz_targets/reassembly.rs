//! Fuzz target: the reassembler, driven by a byte script of pushes (decoded PDUs and hand-made parts
//! with arbitrary concatenation fields, including invalid ones) and clock advances. It must never
//! panic, never hand out a message twice, and respect its pending bound.
#![no_main]

use std::time::{Duration, Instant};

use libfuzzer_sys::fuzz_target;
use smsgate_pdu::{
    Address, Concat, Dcs, Deliver, InformationElement, NumberingPlan, Pdu, Reassembler, TypeOfNumber, Udh,
    UserData, decode,
};

const MAX_PENDING: usize = 8;

fn part(originator: u8, reference: u8, total: u8, seq: u8) -> Deliver {
    Deliver {
        smsc: None,
        more_messages: false,
        loop_prevention: false,
        status_report_indication: false,
        reply_path: false,
        originator: Address {
            ton: TypeOfNumber::International,
            npi: NumberingPlan::Isdn,
            value: format!("4860010020{}", originator % 3),
        },
        pid: 0,
        dcs: Dcs::from_byte(0),
        scts: time::OffsetDateTime::UNIX_EPOCH,
        udh: Some(Udh {
            elements: vec![InformationElement::Concat(Concat {
                reference: u16::from(reference % 4),
                total: total % 6,
                seq: seq % 7,
                wide: false,
            })],
        }),
        user_data: UserData::Text(format!("{seq}")),
    }
}

fuzz_target!(|data: &[u8]| {
    let start = Instant::now();
    let mut now = start;
    let mut r = Reassembler::new(Duration::from_secs(60)).with_max_pending(MAX_PENDING);
    let mut bytes = data.iter().copied();
    while let Some(op) = bytes.next() {
        match op % 3 {
            0 => {
                let (Some(o), Some(f), Some(t), Some(s)) =
                    (bytes.next(), bytes.next(), bytes.next(), bytes.next())
                else {
                    break;
                };
                if let Some(m) = r.push(part(o, f, t, s), now) {
                    assert!(m.is_complete());
                    assert_eq!(m.parts.len(), usize::from(m.total));
                }
            }
            1 => {
                let Some(len) = bytes.next() else { break };
                let pdu: Vec<u8> = bytes.by_ref().take(usize::from(len)).collect();
                if let Ok(Pdu::Deliver(d)) = decode(&pdu) {
                    let _ = r.push(d, now);
                }
            }
            _ => {
                let Some(secs) = bytes.next() else { break };
                now += Duration::from_secs(u64::from(secs));
                for m in r.expire(now) {
                    assert!(m.parts.len() <= usize::from(m.total));
                    assert_eq!(m.parts.len() + m.missing.len(), usize::from(m.total));
                }
            }
        }
        assert!(r.pending() <= MAX_PENDING);
    }
});
