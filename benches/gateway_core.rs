//! Benchmarks of the gateway core without HTTP (run: `cargo bench --bench gateway_core`):
//! 1. accept rate and latency of `Gateway::submit` with durable (fsync'd, group-committed) writes;
//! 2. end-to-end dispatch rate through 16 instant modems;
//! 3. modem utilisation with modems that take 2 s per send, at 4, 64 and 256 modems.
//!
//! Modems are in-process doubles of `ModemSender`, so the numbers are the core's own ceiling.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a benchmark harness: failing loudly is the point

use std::sync::Arc;
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use smsgate::app::{Gateway, Principal, Role, SubmitRequest};
use smsgate::config::Settings;
use smsgate::modem::{ModemId, ModemSender, PartSent, SendFuture, SendRequest};

struct Modem {
    id: ModemId,
    delay: Duration,
    sent: Arc<AtomicU64>,
    mr: AtomicU8,
    /// When each send started, to measure the gap the dispatcher leaves between sends.
    starts: Arc<std::sync::Mutex<Vec<Instant>>>,
}

impl ModemSender for Modem {
    fn id(&self) -> ModemId {
        self.id.clone()
    }
    fn send<'a>(&'a self, request: SendRequest) -> SendFuture<'a> {
        Box::pin(async move {
            self.starts.lock().unwrap().push(Instant::now());
            if !self.delay.is_zero() {
                tokio::time::sleep(self.delay).await;
            }
            self.sent.fetch_add(request.parts.len() as u64, Ordering::Relaxed);
            Ok((0..request.parts.len())
                .map(|index| PartSent {
                    index,
                    mr: self.mr.fetch_add(1, Ordering::Relaxed),
                })
                .collect())
        })
    }
}

async fn gateway(dir: &std::path::Path) -> (Gateway, Principal) {
    let (gw, _) = Gateway::open(Settings::default_with_data_dir(dir)).await.unwrap();
    let a = gw
        .create_account(None, "bench", "h".into(), Role::Client)
        .await
        .unwrap();
    (gw, Principal::of(&a))
}

async fn accept_rate(total: usize, concurrency: usize) {
    let dir = tempfile::tempdir().unwrap();
    let (gw, p) = gateway(dir.path()).await;
    let start = Instant::now();
    let mut tasks = Vec::new();
    for w in 0..concurrency {
        let gw = gw.clone();
        let p = p.clone();
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            for i in (w..total).step_by(concurrency) {
                let t = Instant::now();
                let req = SubmitRequest::new(vec![format!("+486{:08}", i)], "Your code is 123456");
                gw.submit(&p, req, None).await.unwrap();
                lat.push(t.elapsed());
            }
            lat
        }));
    }
    let mut lat: Vec<Duration> = Vec::new();
    for t in tasks {
        lat.extend(t.await.unwrap());
    }
    let elapsed = start.elapsed();
    lat.sort();
    let p = |q: f64| lat[((lat.len() as f64 * q) as usize).min(lat.len() - 1)];
    let commits = gw.store().stats().commits.load(Ordering::Relaxed);
    println!(
        "accept: {total} messages, {concurrency} concurrent: {:.0} msg/s, p50 {:?}, p99 {:?}, {commits} commits ({:.1} msg/commit)",
        total as f64 / elapsed.as_secs_f64(),
        p(0.5),
        p(0.99),
        total as f64 / commits as f64
    );
    gw.shutdown().await;
}

async fn dispatch_rate(modems: usize, delay: Duration, run: Duration) {
    let dir = tempfile::tempdir().unwrap();
    let (gw, p) = gateway(dir.path()).await;
    let sent = Arc::new(AtomicU64::new(0));
    // Enough work queued up front that no modem ever waits for input.
    let backlog = if delay.is_zero() {
        20_000
    } else {
        (modems as f64 * run.as_secs_f64() / delay.as_secs_f64() * 1.5) as usize + modems * 2
    };
    let mut queued = 0;
    while queued < backlog {
        let n = (backlog - queued).min(1000);
        let req = SubmitRequest::new(
            (0..n).map(|i| format!("+487{:08}", queued + i)).collect(),
            "hello",
        );
        gw.submit(&p, req, None).await.unwrap();
        queued += n;
    }
    let mut starts = Vec::new();
    for i in 0..modems {
        let log = Arc::new(std::sync::Mutex::new(Vec::new()));
        starts.push(log.clone());
        let m = Modem {
            id: ModemId(format!("m{i}")),
            delay,
            sent: sent.clone(),
            mr: AtomicU8::new(0),
            starts: log,
        };
        gw.attach_modem(Arc::new(m), "default", true).await.unwrap();
    }
    let start = Instant::now();
    let base = sent.load(Ordering::Relaxed);
    tokio::time::sleep(run).await;
    let done = sent.load(Ordering::Relaxed) - base;
    let elapsed = start.elapsed().as_secs_f64();
    if delay.is_zero() {
        println!(
            "dispatch: {modems} instant modems: {:.0} SMS/s sent (recorded durably)",
            done as f64 / elapsed
        );
    } else {
        // Utilisation = send time / cycle time, the cycle measured between consecutive send starts on
        // each modem (so it is exact however the run window cuts the cycles).
        let (mut cycles, mut total) = (0u64, Duration::ZERO);
        for log in &starts {
            let log = log.lock().unwrap();
            if log.len() >= 2 {
                cycles += (log.len() - 1) as u64;
                total += log[log.len() - 1] - log[0];
            }
        }
        let mean_cycle = total.as_secs_f64() / cycles.max(1) as f64;
        println!(
            "utilisation: {modems} modems at {:?}/send: {done} sent in {elapsed:.1}s, mean cycle {:.4}s, {:.2}% of capacity",
            delay,
            mean_cycle,
            100.0 * delay.as_secs_f64() / mean_cycle
        );
    }
    gw.shutdown().await;
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        accept_rate(20_000, 64).await;
        accept_rate(20_000, 256).await;
        dispatch_rate(16, Duration::ZERO, Duration::from_secs(5)).await;
        for modems in [4, 64, 256] {
            dispatch_rate(modems, Duration::from_secs(2), Duration::from_secs(20)).await;
        }
    });
}
