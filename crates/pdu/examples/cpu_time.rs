//! Measures the codec's hot paths in CPU time of the measuring thread (from /proc/thread-self/stat), so
//! the numbers stay meaningful on a machine shared with other work, where criterion's wall-clock times
//! mostly measure the contention. Same inputs as `benches/codec.rs`.
//! Run: `cargo run --release -p smsgate-pdu --example cpu_time`.
use std::error::Error;
use std::hint::black_box;

use smsgate_pdu::{Address, DeliverOptions, SubmitOptions, decode, encode_deliver, encode_submit};

/// Clock ticks per second of /proc CPU times (USER_HZ, 100 on Linux).
const TICKS_PER_SECOND: f64 = 100.0;
/// Fields 14 and 15 of /proc/<pid>/stat (utime, stime), counted after the ")" that ends the name.
const UTIME_FIELD: usize = 11;
const STIME_FIELD: usize = 12;

fn thread_cpu_seconds() -> Result<f64, Box<dyn Error>> {
    let stat = std::fs::read_to_string("/proc/thread-self/stat")?;
    let after_name = stat.rsplit(')').next().ok_or("bad stat line")?;
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    let ticks: f64 = fields.get(UTIME_FIELD).ok_or("no utime")?.parse::<f64>()?
        + fields.get(STIME_FIELD).ok_or("no stime")?.parse::<f64>()?;
    Ok(ticks / TICKS_PER_SECOND)
}

fn measure(name: &str, iterations: u32, mut f: impl FnMut()) -> Result<(), Box<dyn Error>> {
    let start = thread_cpu_seconds()?;
    for _ in 0..iterations {
        f();
    }
    let secs = thread_cpu_seconds()? - start;
    println!(
        "{name:<40} {:>8.0} ns/op CPU  {:>10.0} ops/s per core",
        secs * 1e9 / f64::from(iterations),
        f64::from(iterations) / secs
    );
    Ok(())
}

fn deliver_pdu(text: &str) -> Result<Vec<u8>, Box<dyn Error>> {
    let scts = time::macros::datetime!(2026-11-25 08:15:00 +01:00);
    let mut opts = DeliverOptions::new(Address::parse("+48600100200")?, scts);
    opts.smsc = Some(Address::parse("+48601000310")?);
    let mut parts = encode_deliver(text, &opts)?;
    Ok(parts.remove(0).pdu)
}

fn main() -> Result<(), Box<dyn Error>> {
    let gsm7 = deliver_pdu(&"The quick brown fox jumps over the lazy dog 0123456789. ".repeat(3)[..160])?;
    let ucs2 = deliver_pdu(
        &"Zażółć gęślą jaźń! Дорогой друг. "
            .repeat(3)
            .chars()
            .take(70)
            .collect::<String>(),
    )?;
    let text: String = "Zażółć gęślą jaźń 😀 Dzień dobry, przesyłka nr 12345 jest w drodze 🚚 "
        .chars()
        .cycle()
        .take(1000)
        .collect();
    let opts = SubmitOptions::new(Address::parse("+48600100200")?);
    measure("decode/deliver_gsm7_160", 2_000_000, || {
        let _ = black_box(decode(black_box(&gsm7)));
    })?;
    measure("decode/deliver_ucs2_70", 2_000_000, || {
        let _ = black_box(decode(black_box(&ucs2)));
    })?;
    measure("encode/submit_1000_chars_polish_emoji", 300_000, || {
        let _ = black_box(encode_submit(black_box(&text), &opts));
    })?;
    Ok(())
}
