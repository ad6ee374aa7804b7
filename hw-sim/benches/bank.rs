//! Bench harness for a bank of 256 simulated modems (`cargo bench -p hw-sim --bench bank`).
//!
//! Runs the release `hw-sim` binary as a child process (so its CPU time and RSS are measured alone, not
//! mixed with the load generator's), then measures: idle CPU and RSS, AT command round trips per second
//! across the bank with one DTE per modem, and `+CMGS` sends with the 2 s ± 500 ms network profile.
//! Prints a Markdown table for BENCHMARKS.md.
#![allow(clippy::expect_used, clippy::unwrap_used)] // bench harness: a failure is the bench failing

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_serial::SerialPortBuilderExt;

const MODEMS: usize = 256;
const IDLE_WINDOW: Duration = Duration::from_secs(10);
const BUSY_WINDOW: Duration = Duration::from_secs(10);
/// proc(5): /proc/<pid>/stat times are in USER_HZ ticks, 100 per second on Linux.
const USER_HZ: f64 = 100.0;
const SEND_WINDOW: Duration = Duration::from_secs(12);

/// CPU seconds (user + system) a process has used, from /proc/<pid>/stat.
fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("stat");
    // Fields after the command name, which is in parentheses and may contain spaces.
    let rest = &stat[stat.rfind(')').expect("comm") + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = f[11].parse::<f64>().unwrap() + f[12].parse::<f64>().unwrap();
    ticks / USER_HZ
}

/// Resident set size in MiB, from /proc/<pid>/status.
fn rss_mib(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("status");
    let kb: f64 = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0);
    kb / 1024.0
}

fn links(dir: &Path) -> Vec<PathBuf> {
    (0..MODEMS).map(|i| dir.join(format!("modem{i}"))).collect()
}

async fn wait_answer(port: &mut tokio_serial::SerialStream, buf: &mut Vec<u8>, want: &[u8]) {
    let mut chunk = [0u8; 512];
    loop {
        if let Some(pos) = buf.windows(want.len()).position(|w| w == want) {
            buf.drain(..pos + want.len());
            return;
        }
        let n = port.read(&mut chunk).await.expect("read");
        assert!(n > 0, "port closed");
        buf.extend_from_slice(&chunk[..n]);
    }
}

async fn measure_window(pid: u32, window: Duration) -> (f64, f64) {
    let cpu0 = cpu_seconds(pid);
    let t0 = Instant::now();
    tokio::time::sleep(window).await;
    let cpu = (cpu_seconds(pid) - cpu0) / t0.elapsed().as_secs_f64() * 100.0;
    (cpu, rss_mib(pid))
}

async fn start_bank(dir: &Path, delay: &str) -> tokio::process::Child {
    let bin = env!("CARGO_BIN_EXE_hw-sim");
    let child = tokio::process::Command::new(bin)
        .args([
            "--count",
            &MODEMS.to_string(),
            "--delay",
            delay,
            "--json",
            "--dir",
        ])
        .arg(dir)
        .env("RUST_LOG", "warn")
        .stdout(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("hw-sim starts");
    let manifest = dir.join("manifest.json");
    let t0 = Instant::now();
    while !manifest.exists() {
        assert!(t0.elapsed() < Duration::from_secs(20), "bank did not start");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    child
}

#[tokio::main]
async fn main() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut child = start_bank(dir.path(), "instant").await;
    let pid = child.id().expect("pid");
    let start_rss = rss_mib(pid);

    // Idle: nobody talks to the modems.
    let (idle_cpu, idle_rss) = measure_window(pid, IDLE_WINDOW).await;

    // Busy: one DTE per modem sends AT round trips as fast as the modem answers.
    let done = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut tasks = Vec::new();
    for link in links(dir.path()) {
        let done = done.clone();
        let stop = stop.clone();
        tasks.push(tokio::spawn(async move {
            let mut port = tokio_serial::new(link.to_string_lossy(), 115_200)
                .open_native_async()
                .expect("open");
            let mut buf = Vec::new();
            port.write_all(b"ATE0\r").await.expect("write");
            wait_answer(&mut port, &mut buf, b"OK\r\n").await;
            while !stop.load(Ordering::Relaxed) {
                port.write_all(b"AT+CSQ\r").await.expect("write");
                wait_answer(&mut port, &mut buf, b"OK\r\n").await;
                done.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    let before = done.load(Ordering::Relaxed);
    let t0 = Instant::now();
    let (busy_cpu, busy_rss) = measure_window(pid, BUSY_WINDOW).await;
    let per_sec = (done.load(Ordering::Relaxed) - before) as f64 / t0.elapsed().as_secs_f64();
    stop.store(true, Ordering::Relaxed);
    for t in tasks {
        let _ = t.await;
    }
    child.kill().await.ok();
    let _ = child.wait().await;

    // Sends with the realistic network: each modem answers +CMGS after 2 s ± 500 ms.
    let dir2 = tempfile::tempdir().expect("temp dir");
    let mut child = start_bank(dir2.path(), "2000+-500").await;
    let pid = child.id().expect("pid");
    let pdu = "0011000B918405000000F10000FF05E8329BFD06"; // "hello" to +48500000001
    let sends = Arc::new(AtomicU64::new(0));
    let worst = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut tasks = Vec::new();
    for link in links(dir2.path()) {
        let (sends, worst, stop) = (sends.clone(), worst.clone(), stop.clone());
        tasks.push(tokio::spawn(async move {
            let mut port = tokio_serial::new(link.to_string_lossy(), 115_200)
                .open_native_async()
                .expect("open");
            let mut buf = Vec::new();
            port.write_all(b"ATE0\r").await.expect("write");
            wait_answer(&mut port, &mut buf, b"OK\r\n").await;
            while !stop.load(Ordering::Relaxed) {
                port.write_all(b"AT+CMGS=19\r").await.expect("write");
                wait_answer(&mut port, &mut buf, b"> ").await;
                let t = Instant::now();
                port.write_all(format!("{pdu}\x1a").as_bytes())
                    .await
                    .expect("write");
                wait_answer(&mut port, &mut buf, b"OK\r\n").await;
                worst.fetch_max(t.elapsed().as_millis() as u64, Ordering::Relaxed);
                sends.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    let t0 = Instant::now();
    let (send_cpu, send_rss) = measure_window(pid, SEND_WINDOW).await;
    let send_rate = sends.load(Ordering::Relaxed) as f64 / t0.elapsed().as_secs_f64();
    stop.store(true, Ordering::Relaxed);
    child.kill().await.ok();
    for t in tasks {
        t.abort();
    }

    let model = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_string())
        })
        .unwrap_or_default();
    let date = time::OffsetDateTime::now_utc().date();
    println!(
        "## hw-sim bank bench, {date}, {model}, {} logical CPUs",
        std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0)
    );
    println!();
    println!("| measurement ({MODEMS} modems, release build) | value |");
    println!("|---|---|");
    println!("| RSS after start | {start_rss:.1} MiB |");
    println!(
        "| idle CPU ({}s window) | {idle_cpu:.2} % of one core |",
        IDLE_WINDOW.as_secs()
    );
    println!("| idle RSS | {idle_rss:.1} MiB |");
    println!("| AT round trips/s across the bank (one DTE per modem, `AT+CSQ`) | {per_sec:.0} |");
    println!("| busy CPU (simulator process) | {busy_cpu:.1} % of one core |");
    println!("| busy RSS | {busy_rss:.1} MiB |");
    println!(
        "| `+CMGS`/s with 2 s ± 500 ms network | {send_rate:.1} (ideal {:.1}) |",
        MODEMS as f64 / 2.0
    );
    println!(
        "| slowest `+CMGS` answer | {} ms |",
        worst.load(Ordering::Relaxed)
    );
    println!("| CPU during sends | {send_cpu:.1} % of one core |");
    println!("| RSS during sends | {send_rss:.1} MiB |");
}
