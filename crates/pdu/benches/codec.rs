//! Criterion benches of the codec hot paths: decoding a full single-part DELIVER (160 GSM-7 characters,
//! 70 UCS-2 characters) and encoding + splitting a 1,000-character Polish/emoji text into SUBMITs.
use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use smsgate_pdu::{Address, DeliverOptions, SubmitOptions, count, decode, encode_deliver, encode_submit};

fn deliver_pdu(text: &str) -> Vec<u8> {
    let scts = time::macros::datetime!(2026-11-25 08:15:00 +01:00);
    let mut opts = DeliverOptions::new(
        Address::parse("+48600100200").unwrap_or_else(|e| panic!("{e}")),
        scts,
    );
    opts.smsc = Some(Address::parse("+48601000310").unwrap_or_else(|e| panic!("{e}")));
    let mut parts = encode_deliver(text, &opts).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(parts.len(), 1);
    parts.remove(0).pdu
}

fn mixed_text() -> String {
    let base = "Zażółć gęślą jaźń 😀 Dzień dobry, przesyłka nr 12345 jest w drodze 🚚 ";
    base.chars().cycle().take(1000).collect()
}

fn benches(c: &mut Criterion) {
    let gsm7 = deliver_pdu(&"The quick brown fox jumps over the lazy dog 0123456789. ".repeat(3)[..160]);
    let ucs2 = deliver_pdu(
        &"Zażółć gęślą jaźń! Дорогой друг. "
            .repeat(3)
            .chars()
            .take(70)
            .collect::<String>(),
    );
    let mut g = c.benchmark_group("decode");
    g.throughput(Throughput::Elements(1));
    g.bench_function("deliver_gsm7_160", |b| b.iter(|| decode(black_box(&gsm7))));
    g.bench_function("deliver_ucs2_70", |b| b.iter(|| decode(black_box(&ucs2))));
    g.finish();

    let text = mixed_text();
    let opts = SubmitOptions::new(Address::parse("+48600100200").unwrap_or_else(|e| panic!("{e}")));
    let mut g = c.benchmark_group("encode");
    g.throughput(Throughput::Elements(1));
    g.bench_function("submit_1000_chars_polish_emoji", |b| {
        b.iter(|| encode_submit(black_box(&text), &opts))
    });
    g.bench_function("count_1000_chars_polish_emoji", |b| {
        b.iter(|| count(black_box(&text), &opts.text))
    });
    g.finish();
}

criterion_group!(codec, benches);
criterion_main!(codec);
