//! Benchmark of the retention purge (run: `cargo bench --bench purge`; `PURGE_ROWS=200000` for a
//! shorter run): a database with `PURGE_ROWS` finished messages (one part each) past the retention
//! period, then the purge as the service runs it, phase by phase (batched DELETEs, incremental vacuum in
//! steps, WAL checkpoint), while a client keeps submitting messages. Reports wall and CPU time, rows/s,
//! file size before and after, and the latency of the submits before and during the purge: the purge
//! must not block sending.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a benchmark harness: failing loudly is the point

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use smsgate::app::{Gateway, Principal, Role, SubmitRequest};
use smsgate::clock::Clock;
use smsgate::config::Settings;

/// Finished messages inserted per transaction while preparing the database.
const FILL_CHUNK: usize = 50_000;
/// Pause between two submits of the concurrent client (about 200 submits/s).
const SUBMIT_GAP: Duration = Duration::from_millis(5);
/// How long the submit latency is measured before the purge starts.
const BASELINE: Duration = Duration::from_secs(3);
const DAY_MS: i64 = 86_400_000;

fn cpu_seconds() -> f64 {
    std::fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|s| smsgate::bench::procfs::cpu_seconds_from_stat(&s))
        .unwrap_or(f64::NAN)
}

/// Sizes of the database file and of its WAL, in MiB.
fn file_mib(path: &std::path::Path) -> (f64, f64) {
    let mut wal = path.as_os_str().to_owned();
    wal.push("-wal");
    let mib = |p: &std::path::Path| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0) as f64 / 1_048_576.0;
    (mib(path), mib(std::path::Path::new(&wal)))
}

fn fill(db: &std::path::Path, account: i64, rows: usize) {
    let mut conn = rusqlite::Connection::open(db).unwrap();
    conn.pragma_update(None, "synchronous", "OFF").unwrap();
    let old = smsgate::store::now_ms() - 10 * DAY_MS;
    let text = "Your verification code is 123456. It expires in 5 minutes. Do not share it with anyone.";
    let mut done = 0;
    while done < rows {
        let tx = conn.transaction().unwrap();
        {
            let mut msg = tx
                .prepare(
                    "INSERT INTO messages (id, account_id, recipient, text, encoding, status, parts,
                         attempts, modem, created_at, updated_at)
                     VALUES (?1, ?2, ?3, ?4, 'gsm7', 'delivered', 1, 1, 'imei-1', ?5, ?5)",
                )
                .unwrap();
            let mut part = tx
                .prepare(
                    "INSERT INTO message_parts (message_id, seq, pdu, tpdu_len, status, mr, modem, sent_at,
                         delivered_at) VALUES (?1, 1, '0011000B914806001002F00000AA', 14, 'delivered', ?2,
                         'imei-1', ?3, ?3)",
                )
                .unwrap();
            for i in done..(done + FILL_CHUNK).min(rows) {
                // Time-ordered ids like the UUID v7 the gateway uses.
                let id = format!("{:016x}-0000-7000-8000-{:012x}", old + i as i64, i);
                let at = old + i as i64;
                msg.execute(rusqlite::params![
                    id,
                    account,
                    format!("+48600{:06}", i % 1_000_000),
                    text,
                    at
                ])
                .unwrap();
                part.execute(rusqlite::params![id, (i % 256) as i64, at]).unwrap();
            }
        }
        tx.commit().unwrap();
        done = (done + FILL_CHUNK).min(rows);
    }
    conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE)").unwrap();
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[i]
}

fn describe(label: &str, mut lat: Vec<Duration>) {
    lat.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "{label:<22} submits={:<6} p50={:.1} ms  p99={:.1} ms  max={:.1} ms",
        lat.len(),
        ms(percentile(&lat, 0.5)),
        ms(percentile(&lat, 0.99)),
        ms(lat.last().copied().unwrap_or_default())
    );
}

/// Submits one message every [`SUBMIT_GAP`] until `stop`, returning each submit's latency.
fn client(gw: Gateway, who: Principal, stop: Arc<AtomicBool>) -> tokio::task::JoinHandle<Vec<Duration>> {
    tokio::spawn(async move {
        let mut lat = Vec::new();
        let mut i = 0u32;
        while !stop.load(Ordering::Relaxed) {
            let started = Instant::now();
            gw.submit(
                &who,
                SubmitRequest::new(vec![format!("+48699{:06}", i % 1_000_000)], "during the purge"),
                None,
            )
            .await
            .unwrap();
            lat.push(started.elapsed());
            i += 1;
            tokio::time::sleep(SUBMIT_GAP).await;
        }
        lat
    })
}

fn main() {
    // Warnings of the store (a failed vacuum step, a blocked checkpoint) belong in the report.
    tracing_subscriber::fmt()
        .with_max_level(tracing::Level::WARN)
        .with_writer(std::io::stderr)
        .init();
    // `cargo bench` passes `--bench`; nothing else to parse.
    let rows: usize = std::env::var("PURGE_ROWS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async move {
        let dir = tempfile::tempdir_in(std::env::var_os("PURGE_DIR").unwrap_or_else(|| ".".into())).unwrap();
        let mut settings = Settings::default_with_data_dir(dir.path());
        settings.retention.days = 1;
        // The bench drives the phases itself; no scheduled backup during it.
        settings.backup.interval_hours = 0;
        let (gw, _) = Gateway::open(settings.clone()).await.unwrap();
        let shop = gw.create_account(None, "shop", "h".into(), Role::Client).await.unwrap();
        gw.shutdown().await;
        let db = settings.database_path();
        let t = Instant::now();
        fill(&db, shop.id.0, rows);
        println!("filled {rows} messages (+{rows} parts) in {:.1} s", t.elapsed().as_secs_f64());
        let before_mib = file_mib(&db);

        // The gateway's own hourly sweep starts at open; with its clock 20 days back it finds nothing to
        // purge, so the phases below are measured alone (with their own cutoff).
        let (gw, _) = Gateway::open_with_clock(
            settings.clone(),
            Clock::tokio_at(smsgate::store::now_ms() - 20 * DAY_MS),
        )
        .await
        .unwrap();
        let who = Principal::of(&shop);
        let stop = Arc::new(AtomicBool::new(false));
        let baseline = client(gw.clone(), who.clone(), stop.clone());
        tokio::time::sleep(BASELINE).await;
        stop.store(true, Ordering::Relaxed);
        let baseline = baseline.await.unwrap();

        let stop = Arc::new(AtomicBool::new(false));
        let during = client(gw.clone(), who.clone(), stop.clone());
        let cutoff = smsgate::store::now_ms() - DAY_MS;
        let cpu0 = cpu_seconds();
        let t0 = Instant::now();
        let purged = gw.store().purge_older_than(cutoff).await.unwrap();
        let t_delete = t0.elapsed();
        let space = gw.store().space().await.unwrap();
        let mid_mib = file_mib(&db);
        let cpu1 = cpu_seconds();
        let t1 = Instant::now();
        let pages = gw.reclaim_space().await;
        let t_vacuum = t1.elapsed();
        let cpu2 = cpu_seconds();
        let t2 = Instant::now();
        let truncated = gw.store().checkpoint_truncate().await.unwrap();
        let t_checkpoint = t2.elapsed();
        let cpu3 = cpu_seconds();
        let total = t0.elapsed();
        stop.store(true, Ordering::Relaxed);
        let during = during.await.unwrap();
        let after_mib = file_mib(&db);

        let purged_rows = purged.messages;
        println!("purged messages: {purged_rows} (their parts went with them by ON DELETE CASCADE)");
        println!(
            "delete phase:     {:>7.2} s wall {:>7.2} s CPU  {:>9.0} messages/s",
            t_delete.as_secs_f64(),
            cpu1 - cpu0,
            purged_rows as f64 / t_delete.as_secs_f64()
        );
        println!(
            "vacuum phase:     {:>7.2} s wall {:>7.2} s CPU  {pages} pages reclaimed",
            t_vacuum.as_secs_f64(),
            cpu2 - cpu1
        );
        println!(
            "checkpoint:       {:>7.2} s wall {:>7.2} s CPU",
            t_checkpoint.as_secs_f64(),
            cpu3 - cpu2
        );
        println!(
            "total:            {:>7.2} s wall {:>7.2} s CPU  {:>9.0} messages/s (process CPU incl. the client)",
            total.as_secs_f64(),
            cpu3 - cpu0,
            purged_rows as f64 / total.as_secs_f64()
        );
        println!(
            "after the deletes: {} free of {} pages; db {:.1} MiB + wal {:.1} MiB",
            space.free_pages, space.page_count, mid_mib.0, mid_mib.1
        );
        println!(
            "file (db + wal):  {:.1} + {:.1} MiB before, {:.1} + {:.1} MiB after (WAL truncated: {truncated})",
            before_mib.0, before_mib.1, after_mib.0, after_mib.1
        );
        describe("submit before purge", baseline);
        describe("submit during purge", during);
        let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
        println!("loadavg: {}", load.trim());
        gw.shutdown().await;
    });
}
