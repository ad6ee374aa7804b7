//! Benchmarks: AT framer throughput over a realistic modem transcript (target ≥ 200 MB/s), and one modem
//! actor's raw `AT` round trips per second against an instant hw-sim modem on a PTY.
#![allow(clippy::unwrap_used, clippy::expect_used)]
use std::hint::black_box;
use std::time::{Duration, Instant};

use bytes::BytesMut;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use smsgate::at::{AtCodec, Expect};
use tokio_util::codec::Decoder;

const PDU: &str = "07911326040000F0040B911346610089F60000208062917314080CC8F71D14969741F977FD07";

/// One read's worth of what a busy modem says: a storage listing with URCs in between, health answers, a
/// send, a direct delivery.
fn block() -> Vec<u8> {
    let mut block = Vec::new();
    block.extend_from_slice(b"\r\n^RSSI:18\r\n\r\n+CMTI: \"SM\",3\r\n");
    for i in 0..8 {
        block.extend_from_slice(format!("\r\n+CMGL: {i},1,,38\r\n{PDU}").as_bytes());
    }
    block.extend_from_slice(b"\r\n\r\nOK\r\n");
    block.extend_from_slice(format!("\r\n+CMT: ,38\r\n{PDU}\r\n").as_bytes());
    block
}

/// CPU time consumed by the calling thread.
fn thread_cpu_time() -> Duration {
    let t = nix::time::clock_gettime(nix::time::ClockId::CLOCK_THREAD_CPUTIME_ID).unwrap();
    Duration::new(t.tv_sec() as u64, t.tv_nsec() as u32)
}

/// About 1 MiB of blocks.
const BLOCKS: usize = (1 << 20) / 1100;

fn framer(c: &mut Criterion) {
    let block = block();
    let total = block.len() * BLOCKS;
    let mut group = c.benchmark_group("at_framer");
    group.throughput(Throughput::Bytes(total as u64));
    // As the actor uses it: the pending command is known when its answer is read.
    let responses = |block: &[u8]| {
        let mut codec = AtCodec::new();
        let mut buf = BytesMut::with_capacity(8192);
        let mut frames = 0usize;
        for _ in 0..BLOCKS {
            codec.expect(Expect::for_command("AT+CMGL=4"));
            buf.extend_from_slice(block);
            while let Some(frame) = codec.decode(&mut buf).unwrap() {
                black_box(&frame);
                frames += 1;
            }
        }
        frames
    };
    group.bench_function("decode_1MiB_responses", |b| b.iter(|| responses(&block)));
    // The same on this thread's CPU clock: on a shared machine wall time mostly measures the neighbours.
    group.bench_function("decode_1MiB_responses_cpu_time", |b| {
        b.iter_custom(|iters| {
            let start = thread_cpu_time();
            for _ in 0..iters {
                black_box(responses(&block));
            }
            thread_cpu_time().saturating_sub(start)
        })
    });
    // Worst case: nothing pending, every line classified as a possible URC, reads cut anywhere.
    let stream: Vec<u8> = block.iter().copied().cycle().take(total).collect();
    group.bench_function("decode_1MiB_unsolicited_in_4KiB_reads", |b| {
        b.iter(|| {
            let mut codec = AtCodec::new();
            let mut buf = BytesMut::with_capacity(8192);
            let mut frames = 0usize;
            for chunk in stream.chunks(4096) {
                buf.extend_from_slice(chunk);
                while let Some(frame) = codec.decode(&mut buf).unwrap() {
                    black_box(&frame);
                    frames += 1;
                }
            }
            frames
        })
    });
    group.finish();
}

fn actor(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (bank, handle, shutdown) = runtime.block_on(async {
        let bank = hw_sim::Bank::start(hw_sim::BankConfig {
            count: 1,
            dir: dir.path().join("dev"),
            ..hw_sim::BankConfig::default()
        })
        .await
        .unwrap();
        let link = bank.modems()[0].link.clone();
        let (tx, _rx) = tokio::sync::mpsc::channel(16);
        let shutdown = tokio_util::sync::CancellationToken::new();
        let config = smsgate::modem::ModemConfig {
            health_interval: Duration::from_secs(3600),
            sweep_interval: Duration::from_secs(3600),
            ..smsgate::modem::ModemConfig::for_port(link)
        };
        let handle = smsgate::modem::spawn(config, tx, shutdown.clone());
        let mut state = handle.state();
        while state.borrow_and_update().phase != smsgate::modem::ModemPhase::Ready {
            state.changed().await.unwrap();
        }
        (bank, handle, shutdown)
    });
    let mut group = c.benchmark_group("modem_actor");
    group.throughput(Throughput::Elements(1));
    group.sample_size(20);
    group.bench_function("raw_AT_round_trip_instant_hwsim", |b| {
        b.iter_custom(|iters| {
            runtime.block_on(async {
                let start = Instant::now();
                for _ in 0..iters {
                    let reply = handle.at("AT").await.unwrap();
                    assert!(reply.result.is_ok());
                }
                start.elapsed()
            })
        })
    });
    group.finish();
    shutdown.cancel();
    runtime.block_on(bank.shutdown());
}

criterion_group!(benches, framer, actor);
criterion_main!(benches);
