#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers outside #[test] fns
//! Reassembly of concatenated DELIVERs: any order, duplicates, interleaved messages, timeouts.
use std::time::{Duration, Instant};

use smsgate_pdu::*;

fn parts(from: &str, text: &str, concat_ref: u16) -> Vec<Deliver> {
    let scts = time::macros::datetime!(2026-11-25 08:15:00 +01:00);
    let mut o = DeliverOptions::new(Address::parse(from).unwrap(), scts);
    o.text.concat_ref = concat_ref;
    encode_deliver(text, &o)
        .unwrap()
        .into_iter()
        .map(|p| match decode(&p.pdu).unwrap() {
            Pdu::Deliver(d) => d,
            other => panic!("{other:?}"),
        })
        .collect()
}

const TIMEOUT: Duration = Duration::from_secs(600);

#[test]
fn any_order_with_duplicates() {
    let text = "Część! ".repeat(40);
    let p = parts("+48600100200", &text, 77);
    assert_eq!(p.len(), 5);
    let t0 = Instant::now();
    // (order of pushes, index at which the message completes)
    let orders: &[&[usize]] = &[
        &[0, 1, 2, 3, 4],
        &[4, 3, 2, 1, 0],
        &[2, 0, 2, 4, 0, 1, 3],
        &[1, 1, 1, 3, 4, 2, 0],
    ];
    for order in orders {
        let mut r = Reassembler::new(TIMEOUT);
        let mut done = None;
        for (n, &i) in order.iter().enumerate() {
            if let Some(m) = r.push(p[i].clone(), t0) {
                assert!(done.is_none(), "completed twice");
                assert_eq!(n, order.len() - 1, "completes with the last new part");
                done = Some(m);
            }
        }
        let m = done.expect("complete");
        assert!(m.is_complete());
        assert_eq!(m.text(), text);
        assert_eq!(m.reference, Some(77));
        assert_eq!(m.total, 5);
        assert_eq!(r.pending(), 0);
    }
}

#[test]
fn single_part_passes_through() {
    let mut r = Reassembler::new(TIMEOUT);
    let p = parts("MyShop", "hi", 0);
    let m = r.push(p[0].clone(), Instant::now()).unwrap();
    assert_eq!((m.reference, m.total, m.text()), (None, 1, "hi".to_string()));
}

#[test]
fn interleaved_messages_are_kept_apart() {
    let a = parts("+48600100200", &"a".repeat(200), 5);
    let b = parts("+48600100201", &"b".repeat(200), 5); // same ref, other sender
    let c = parts("+48600100200", &"c".repeat(400), 5); // same sender and ref, other total
    let t0 = Instant::now();
    let mut r = Reassembler::new(TIMEOUT);
    let mut out = Vec::new();
    for i in 0..3 {
        for set in [&a, &b, &c] {
            if let Some(p) = set.get(i)
                && let Some(m) = r.push(p.clone(), t0)
            {
                out.push(m.text());
            }
        }
    }
    out.sort();
    assert_eq!(out, vec!["a".repeat(200), "b".repeat(200), "c".repeat(400)]);
}

#[test]
fn timeout_delivers_what_arrived() {
    let p = parts("+48600100200", &"x".repeat(500), 9);
    assert_eq!(p.len(), 4);
    let t0 = Instant::now();
    let mut r = Reassembler::new(TIMEOUT);
    assert!(r.push(p[0].clone(), t0).is_none());
    assert!(r.push(p[2].clone(), t0 + Duration::from_secs(30)).is_none());
    assert_eq!(r.next_deadline(), Some(t0 + TIMEOUT));
    assert!(r.expire(t0 + TIMEOUT - Duration::from_secs(1)).is_empty());
    let out = r.expire(t0 + TIMEOUT);
    assert_eq!(out.len(), 1);
    let m = &out[0];
    assert!(!m.is_complete());
    assert_eq!(m.missing, vec![2, 4]);
    assert_eq!(m.parts.len(), 2);
    assert_eq!(m.text(), format!("{}{}", "x".repeat(153), "x".repeat(153)));
    assert_eq!(r.pending(), 0);
    assert!(r.expire(t0 + TIMEOUT * 2).is_empty());
}

#[test]
fn pending_bound_evicts_oldest() {
    let t0 = Instant::now();
    let mut r = Reassembler::new(TIMEOUT).with_max_pending(2);
    for (i, reference) in [1u16, 2, 3].into_iter().enumerate() {
        let p = parts("+48600100200", &"y".repeat(200), reference);
        assert!(r.push(p[0].clone(), t0 + Duration::from_secs(i as u64)).is_none());
    }
    assert_eq!(r.pending(), 2);
    let out = r.expire(t0);
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].reference, Some(1));
    assert_eq!(out[0].missing, vec![2]);
}

#[test]
fn binary_parts_join_as_bytes() {
    let scts = time::macros::datetime!(2026-11-25 08:15:00 +01:00);
    let mut o = DeliverOptions::new(Address::parse("+48600100200").unwrap(), scts);
    o.text.concat_ref = 3;
    let data: Vec<u8> = (0..300u16).map(|v| v as u8).collect();
    let mut r = Reassembler::new(TIMEOUT);
    let mut got = None;
    for p in encode_deliver_data(&data, &o).unwrap() {
        let Pdu::Deliver(d) = decode(&p.pdu).unwrap() else {
            panic!()
        };
        got = r.push(d, Instant::now()).or(got);
    }
    assert_eq!(got.unwrap().user_data(), UserData::Binary(data));
}
