//! `smsgate bench`: the benchmark harness. Starts a hw-sim bank in this process, then the system under
//! test as child processes on that bank — smsgate (`smsgate serve` with a temporary data directory,
//! driven over its HTTPS API with keep-alive connections) or a peer (smstools, gammu-smsd, Kannel, with
//! generated configurations) — submits a fixed workload, waits until the simulated network has seen
//! every message, and reports rates, utilisation, latency, CPU, RSS, lost and duplicated messages.
//!
//! The children's CPU and RSS come from `/proc/<pid>` of every process they started (smstools forks a
//! process per modem); the harness itself (load generator + hw-sim) is not counted. The harness stops
//! only the processes it started (by pid).
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::Args;
use hw_sim::{Bank, BankConfig, DelayProfile, Fault};
use indicatif::{ProgressBar, ProgressStyle};
use tokio::process::{Child, Command};

use smsgate::bench::peers::{self, KannelPorts, Variant};
use smsgate::bench::{self, BenchMessage, Percentiles, RunResult, SeenMessage, System, WorkloadSpec, procfs};

/// Password of the benchmark's admin account (the gateway's first admin).
const BENCH_PASSWORD: &str = "bench-password-0123456789";
/// Seconds without any new message on the network after which the drain phase gives up.
const STALL_SECS: u64 = 60;
/// Peers get this long to open and initialise their modems before the workload starts (smsgate is
/// instead asked until every modem is up).
const PEER_WARMUP: Duration = Duration::from_secs(8);
/// How often the drain phase reads hw-sim's sent logs.
const POLL: Duration = Duration::from_millis(250);
/// `+CMS ERROR` code of the 1 % fault (TS 27.005 §3.2.5: 500 unknown error, a temporary failure).
const FAULT_CMS_CODE: u16 = 500;
/// Share of the workload sent before one modem hangs in the fault run.
const HANG_AFTER_FRACTION: f64 = 0.1;
/// How long smsgate may take to bring the bank up: a base plus a share per modem (each modem's bring-up is
/// a dozen AT round trips; 256 of them on a busy 2-core machine take minutes).
const READY_BASE: Duration = Duration::from_secs(60);
/// See [`READY_BASE`].
const READY_PER_MODEM: Duration = Duration::from_secs(2);
/// smsgate's send timeout in the benchmark: a hung modem's send becomes `uncertain` after this.
const BENCH_SEND_TIMEOUT_S: u64 = 20;

/// Latency profile of the simulated modems.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Profile {
    /// Modems answer `+CMGS` at once.
    Instant,
    /// 2 s ± 100 ms per part.
    #[value(name = "2s")]
    TwoSeconds,
    /// 2 s ± 500 ms per part (a typical live network).
    Realistic,
}

impl Profile {
    fn delay(self) -> DelayProfile {
        match self {
            Profile::Instant => DelayProfile::Instant,
            Profile::TwoSeconds => DelayProfile::Jitter {
                ms: 2000,
                jitter_ms: 100,
            },
            Profile::Realistic => DelayProfile::REALISTIC,
        }
    }
    /// Mean time of one send (the jitter is symmetric).
    fn mean(self) -> Duration {
        match self {
            Profile::Instant => Duration::ZERO,
            Profile::TwoSeconds | Profile::Realistic => Duration::from_secs(2),
        }
    }
    fn name(self) -> &'static str {
        match self {
            Profile::Instant => "instant",
            Profile::TwoSeconds => "2s",
            Profile::Realistic => "realistic",
        }
    }
}

/// Fault profile of a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Faults {
    /// No faults.
    None,
    /// 1 % of sends answer `+CMS ERROR: 500`, and one modem hangs after a tenth of the workload.
    CmsHung,
}

/// Arguments of `smsgate bench`.
#[derive(Debug, Args)]
pub struct BenchArgs {
    /// Systems to measure (comma-separated).
    #[arg(long, value_delimiter = ',', default_value = "smsgate")]
    pub system: Vec<System>,
    /// Modem counts (comma-separated), e.g. `4,16,64,256`.
    #[arg(long, value_delimiter = ',', default_value = "4")]
    pub modems: Vec<usize>,
    /// Latency profiles (comma-separated): instant, 2s, realistic.
    #[arg(long, value_delimiter = ',', default_value = "2s")]
    pub profile: Vec<Profile>,
    /// Fault profile.
    #[arg(long, value_enum, default_value = "none")]
    pub faults: Faults,
    /// Peer configurations (comma-separated): recommended, tuned. smsgate runs with its defaults.
    #[arg(long, value_delimiter = ',', default_value = "recommended")]
    pub variant: Vec<Variant>,
    /// Messages per run.
    #[arg(long, default_value_t = 500)]
    pub messages: usize,
    /// Percentage of 3-part GSM-7 messages.
    #[arg(long, default_value_t = 10)]
    pub multipart_pct: u32,
    /// Percentage of UCS-2 (Polish + emoji) messages.
    #[arg(long, default_value_t = 20)]
    pub unicode_pct: u32,
    /// Concurrent HTTPS keep-alive connections submitting to smsgate (and HTTP ones to Kannel).
    #[arg(long, default_value_t = 8)]
    pub connections: usize,
    /// Seconds a run may take before it is reported as timed out.
    #[arg(long, default_value_t = 900)]
    pub deadline: u64,
    /// JSON results file; results of this invocation are appended to the runs already in it.
    #[arg(long, default_value = "bench-results.json")]
    pub out: PathBuf,
    /// Also write an SVG plot of every run in the results file.
    #[arg(long)]
    pub svg: Option<PathBuf>,
    /// The smsgate binary to benchmark (default: this executable).
    #[arg(long)]
    pub gateway_bin: Option<PathBuf>,
    /// Exit with an error if any run lost or duplicated a message, or timed out (altered texts, e.g. a
    /// peer dropping emoji, are reported but do not fail).
    #[arg(long)]
    pub check: bool,
    /// No progress bars (CI logs).
    #[arg(long)]
    pub quiet: bool,
    /// Devices per smsd: a bank larger than this runs several smsd instances, each with its own spool
    /// (smstools' compiled-in `NUMBER_OF_MODEMS`, 64 in Debian's build).
    #[arg(long, default_value_t = peers::SMSTOOLS_MAX_DEVICES)]
    pub smstools_max_devices: usize,
    /// Keep each run's working directory (generated configurations, spools, the daemons' logs) and print
    /// where it is, instead of deleting it at the end of the run.
    #[arg(long)]
    pub keep: bool,
    /// Run nothing: print the Markdown table of the results file (and write `--svg`).
    #[arg(long)]
    pub report_only: bool,
}

/// Runs the harness.
pub fn run(args: BenchArgs) -> anyhow::Result<()> {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .try_init();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("bench")
        .build()?;
    runtime.block_on(run_all(args))
}

async fn run_all(args: BenchArgs) -> anyhow::Result<()> {
    let mut all: Vec<RunResult> = match std::fs::read(&args.out) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .with_context(|| format!("{} is not a results file", args.out.display()))?,
        Err(_) => Vec::new(),
    };
    let mut failures = Vec::new();
    let systems: &[System] = if args.report_only { &[] } else { &args.system };
    for &system in systems {
        let variants: Vec<Option<Variant>> = if system == System::Smsgate {
            vec![None]
        } else {
            args.variant.iter().copied().map(Some).collect()
        };
        for &modems in &args.modems {
            for &profile in &args.profile {
                for &variant in &variants {
                    let label = format!(
                        "{} {} {modems} modems {}",
                        system.name(),
                        variant.map_or("default", Variant::name),
                        profile.name()
                    );
                    eprintln!("== {label}: {} messages", args.messages);
                    let result = run_one(&args, system, variant, modems, profile)
                        .await
                        .with_context(|| format!("run {label}"))?;
                    print_result(&result);
                    if result.lost + result.duplicated > 0 || result.timed_out || result.error.is_some() {
                        failures.push(label);
                    }
                    all.push(result);
                    std::fs::write(&args.out, serde_json::to_vec_pretty(&all)?)
                        .with_context(|| format!("cannot write {}", args.out.display()))?;
                }
            }
        }
    }
    if let Some(svg) = &args.svg {
        std::fs::write(svg, bench::plot::svg(&all))
            .with_context(|| format!("cannot write {}", svg.display()))?;
    }
    println!("{}", bench::markdown_table(&all));
    eprintln!("results: {}", args.out.display());
    if args.check && !failures.is_empty() {
        bail!(
            "runs that failed, lost or duplicated messages, or timed out: {}",
            failures.join("; ")
        );
    }
    Ok(())
}

fn print_result(r: &RunResult) {
    let opt = bench::opt;
    if let Some(error) = &r.error {
        eprintln!("   FAILED: {error}");
    }
    eprintln!(
        "   accepted {}/{} at {:.0}/s (p99 {} ms); sent {} parts/s, drain {} s (ideal {}), utilisation {} %; \
         latency p50 {} p99 {} ms; CPU {} s/1000; peak RSS {:.1} MiB; lost {} (reported unsent {}), dup {}, altered {}{}",
        r.accepted,
        r.messages,
        r.accept_rate,
        opt(r.accept_latency_ms.p99, 1),
        opt(r.send_rate, 1),
        opt(r.drain_s, 1),
        opt(r.ideal_drain_s, 1),
        opt(r.utilisation_pct, 1),
        opt(r.latency_ms.p50, 1),
        opt(r.latency_ms.p99, 1),
        opt(r.cpu_s_per_1000, 3),
        r.peak_rss_mib,
        r.lost,
        r.reported_unsent,
        r.duplicated,
        r.corrupted,
        if r.timed_out { " — TIMED OUT" } else { "" }
    );
}

/// A file in the run's directory for a child's stderr (read with `--keep`; what a daemon prints before its
/// own log is open, e.g. a configuration error, lands only there).
fn output_log(dir: &Path, name: &str) -> anyhow::Result<(Stdio, PathBuf)> {
    let path = dir.join(name);
    let file = std::fs::File::create(&path).with_context(|| format!("cannot create {}", path.display()))?;
    Ok((Stdio::from(file), path))
}

/// An error and its sources on one line (`error sending request: connection refused`).
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        s.push_str(": ");
        s.push_str(&cause.to_string());
        source = cause.source();
    }
    s
}

/// Unix time in milliseconds.
fn now_ms() -> i64 {
    (time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as i64
}

/// A free TCP port on loopback (bound and released; the child binds it right after).
fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// One process a run started.
struct Started {
    child: Child,
    /// What it is, for messages (`smsd 2/4`, `bearerbox`).
    what: String,
    /// Its log or stderr file, if any: says why it stopped.
    log: Option<PathBuf>,
}

/// The processes a run started; stopped by pid (SIGTERM, then SIGKILL), never by name.
#[derive(Default)]
struct Children {
    list: Vec<Started>,
}

impl Children {
    /// Starts `cmd`; `log` names the file that says why it stopped (its log or stderr), if any.
    fn spawn(&mut self, cmd: &mut Command, what: &str, log: Option<PathBuf>) -> anyhow::Result<u32> {
        let child = cmd
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("cannot start {what} (is it installed?)"))?;
        let pid = child.id().context("child has no pid")?;
        self.list.push(Started {
            child,
            what: what.to_string(),
            log,
        });
        Ok(pid)
    }

    /// The first started process that is no longer running: what it was, how it ended and what its log
    /// says about it.
    fn first_stopped(&mut self) -> Option<String> {
        for s in &mut self.list {
            let Ok(Some(status)) = s.child.try_wait() else {
                continue;
            };
            let text = s.log.as_ref().and_then(|p| std::fs::read_to_string(p).ok());
            return Some(match text.as_deref().and_then(bench::last_words) {
                Some(line) => format!("{} exited ({status}): {line}", s.what),
                None => format!("{} exited ({status})", s.what),
            });
        }
        None
    }

    /// Pids of the children and everything they forked.
    fn tree(&self) -> Vec<u32> {
        let roots: Vec<u32> = self.list.iter().filter_map(|s| s.child.id()).collect();
        procfs_descendants(&roots)
    }

    async fn stop(&mut self) {
        for s in &self.list {
            if let Some(pid) = s.child.id() {
                let _ = nix::sys::signal::kill(
                    nix::unistd::Pid::from_raw(pid as i32),
                    nix::sys::signal::Signal::SIGTERM,
                );
            }
        }
        for s in &mut self.list {
            if tokio::time::timeout(Duration::from_secs(15), s.child.wait())
                .await
                .is_err()
            {
                let _ = s.child.kill().await;
            }
        }
        self.list.clear();
    }
}

/// `roots` and all their descendants (from the parent pid in `/proc/<pid>/stat`).
fn procfs_descendants(roots: &[u32]) -> Vec<u32> {
    let mut parent_of: Vec<(u32, u32)> = Vec::new();
    if let Ok(entries) = std::fs::read_dir("/proc") {
        for e in entries.filter_map(Result::ok) {
            let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
                continue;
            };
            let Ok(stat) = std::fs::read_to_string(e.path().join("stat")) else {
                continue;
            };
            let ppid = stat
                .rfind(')')
                .and_then(|i| stat[i + 1..].split_whitespace().nth(1))
                .and_then(|p| p.parse::<u32>().ok());
            if let Some(ppid) = ppid {
                parent_of.push((pid, ppid));
            }
        }
    }
    let mut out: Vec<u32> = roots.to_vec();
    let mut i = 0;
    while i < out.len() {
        let p = out[i];
        for &(c, pp) in &parent_of {
            if pp == p && !out.contains(&c) {
                out.push(c);
            }
        }
        i += 1;
    }
    out
}

/// Tracks CPU and peak RSS of a changing set of processes (forks come and go).
struct ProcMeter {
    start_cpu: HashMap<u32, f64>,
    last_cpu: HashMap<u32, f64>,
    peak_rss_kib: u64,
}

impl ProcMeter {
    fn start(pids: &[u32]) -> ProcMeter {
        let start_cpu: HashMap<u32, f64> = pids
            .iter()
            .filter_map(|&p| procfs::sample(&p.to_string()).map(|s| (p, s.cpu_s)))
            .collect();
        ProcMeter {
            last_cpu: start_cpu.clone(),
            start_cpu,
            peak_rss_kib: 0,
        }
    }
    fn sample(&mut self, pids: &[u32]) {
        let mut rss = 0;
        for &p in pids {
            if let Some(s) = procfs::sample(&p.to_string()) {
                self.last_cpu.insert(p, s.cpu_s);
                rss += s.peak_rss_kib;
            }
        }
        self.peak_rss_kib = self.peak_rss_kib.max(rss);
    }
    fn cpu_s(&self) -> f64 {
        self.last_cpu
            .iter()
            .map(|(p, c)| c - self.start_cpu.get(p).copied().unwrap_or(0.0))
            .sum()
    }
}

/// What a system-specific driver reports back from the submission phase.
struct Submitted {
    /// tag → Unix ms accepted.
    accepted: HashMap<String, i64>,
    /// tag → id the system gave (smsgate), for status queries of unsent messages.
    ids: HashMap<String, String>,
    accept_latency_ms: Vec<f64>,
    started: Instant,
    started_ms: i64,
    finished: Instant,
    /// Submissions the system refused or that failed, and the first one's error.
    refused: usize,
    first_refusal: Option<String>,
}

impl Submitted {
    /// An empty submission starting now.
    fn start() -> Submitted {
        let started = Instant::now();
        Submitted {
            accepted: HashMap::new(),
            ids: HashMap::new(),
            accept_latency_ms: Vec::new(),
            started,
            started_ms: now_ms(),
            finished: started,
            refused: 0,
            first_refusal: None,
        }
    }

    /// Counts a refused or failed submission.
    fn refuse(&mut self, why: String) {
        self.refused += 1;
        self.first_refusal.get_or_insert(why);
    }
}

fn bar(args: &BenchArgs, len: usize, what: &str) -> ProgressBar {
    if args.quiet {
        return ProgressBar::hidden();
    }
    let pb = ProgressBar::new(len as u64);
    let style =
        ProgressStyle::with_template("   {msg:10} [{elapsed_precise}] {wide_bar} {pos}/{len} ({per_sec})")
            .unwrap_or_else(|_| ProgressStyle::default_bar());
    pb.set_style(style);
    pb.set_message(what.to_string());
    pb
}

async fn run_one(
    args: &BenchArgs,
    system: System,
    variant: Option<Variant>,
    modems: usize,
    profile: Profile,
) -> anyhow::Result<RunResult> {
    let tmp = tempfile::Builder::new().prefix("smsgate-bench-").tempdir()?;
    let bank_dir = tmp.path().join("bank");
    let bank = Bank::start(BankConfig {
        count: modems,
        dir: bank_dir.clone(),
        delay: profile.delay(),
        seed: 7,
        ..BankConfig::default()
    })
    .await
    .context("cannot start hw-sim")?;
    let work = bench::workload(WorkloadSpec {
        messages: args.messages,
        multipart_pct: args.multipart_pct,
        unicode_pct: args.unicode_pct,
    });
    let mut children = Children::default();
    // Ctrl-C stops the run's children before exiting (they are ours to stop, nobody else's).
    let outcome = tokio::select! {
        r = drive(args, system, variant, &bank, tmp.path(), &work, profile, &mut children) => r,
        _ = tokio::signal::ctrl_c() => Err(anyhow::anyhow!("interrupted")),
    };
    children.stop().await;
    bank.shutdown().await;
    if args.keep {
        eprintln!("   kept {}", tmp.keep().display());
    }
    let mut result = outcome?;
    result.system = system.name().into();
    result.variant = variant.map_or("default", Variant::name).into();
    result.modems = modems;
    result.profile = profile.name().into();
    result.faults = match args.faults {
        Faults::None => "none".into(),
        Faults::CmsHung => "cms1pct+hung".into(),
    };
    Ok(result)
}

#[allow(clippy::too_many_arguments)] // one run's whole context; a struct would only rename it
async fn drive(
    args: &BenchArgs,
    system: System,
    variant: Option<Variant>,
    bank: &Bank,
    dir: &Path,
    work: &[BenchMessage],
    profile: Profile,
    children: &mut Children,
) -> anyhow::Result<RunResult> {
    let control = bank.control();
    let infos = bank.modems();
    let variant = variant.unwrap_or(Variant::Recommended);
    let mut notes = Vec::new();
    // A system that does not come up is a failed run with the reason, not an aborted benchmark.
    let target = match start_system(args, system, variant, bank, dir, children, &mut notes).await {
        Ok(target) => target,
        Err(e) => return Ok(failed_run(work, format!("{e:#}"), notes)),
    };
    if system != System::Smsgate {
        tokio::time::sleep(PEER_WARMUP).await;
        notes.push(format!("{}s warm-up before the workload", PEER_WARMUP.as_secs()));
    }
    if let Some(stopped) = children.first_stopped() {
        let error =
            bench::run_error(work.len(), 0, 0, Some(&stopped), None).unwrap_or_else(|| stopped.clone());
        return Ok(failed_run(work, error, notes));
    }
    if args.faults == Faults::CmsHung {
        for i in 0..infos.len() {
            control
                .set_fault(
                    i,
                    Fault::CmsProbability {
                        p: 0.01,
                        code: FAULT_CMS_CODE,
                    },
                )
                .await?;
        }
    }
    let mut meter = ProcMeter::start(&children.tree());

    // Fault run: hang the last modem once a tenth of the workload is on the network.
    let hang_task = (args.faults == Faults::CmsHung).then(|| {
        let control = control.clone();
        let n = infos.len();
        let threshold = ((work.len() as f64) * HANG_AFTER_FRACTION) as usize;
        tokio::spawn(async move {
            loop {
                let seen: usize = (0..n).map(|i| control.sent_texts(i).map_or(0, |v| v.len())).sum();
                if seen >= threshold {
                    let _ = control.set_fault(n - 1, Fault::Hung).await;
                    return;
                }
                tokio::time::sleep(POLL).await;
            }
        })
    });

    let submitted = match &target {
        Target::Gateway(g) => submit_smsgate(args, g, work).await?,
        Target::Smstools(outgoing) => submit_smstools(args, dir, outgoing, work).await?,
        Target::Gammu(daemons) => submit_gammu(args, dir, *daemons, work).await?,
        Target::Kannel(port) => submit_kannel(args, *port, work).await?,
    };
    if let Some(first) = &submitted.first_refusal {
        eprintln!(
            "   {} submissions were refused or failed; first: {first}",
            submitted.refused
        );
        notes.push(format!(
            "{} submissions refused; first: {first}",
            submitted.refused
        ));
    }
    let accepted_n = submitted.accepted.len();
    let accept_secs = submitted.finished.duration_since(submitted.started).as_secs_f64();

    // Drain: wait until the network saw every accepted message, nothing moved for STALL_SECS, or the
    // deadline passed.
    let pb = bar(args, accepted_n, "sent");
    let deadline = submitted.started + Duration::from_secs(args.deadline);
    let mut last_progress = Instant::now();
    let mut last_count = 0;
    let mut timed_out = false;
    let seen = loop {
        meter.sample(&children.tree());
        let seen = seen_messages(&control, infos.len());
        let count = seen
            .iter()
            .filter(|s| bench::tag_of(&s.text).is_some_and(|t| submitted.accepted.contains_key(t)))
            .count();
        pb.set_position(count.min(accepted_n) as u64);
        if count >= accepted_n {
            break seen;
        }
        if count != last_count {
            last_count = count;
            last_progress = Instant::now();
        }
        if last_progress.elapsed() > Duration::from_secs(STALL_SECS) {
            notes.push(format!("no progress for {STALL_SECS}s; stopped waiting"));
            break seen;
        }
        if Instant::now() > deadline {
            timed_out = true;
            break seen;
        }
        tokio::time::sleep(POLL).await;
    };
    pb.finish_and_clear();
    if let Some(t) = hang_task {
        t.abort();
    }
    // Let late duplicates show up before counting.
    tokio::time::sleep(Duration::from_millis(500)).await;
    meter.sample(&children.tree());
    let seen = {
        let later = seen_messages(&control, infos.len());
        if later.len() > seen.len() { later } else { seen }
    };
    let acc = bench::account(work, &submitted.accepted, &seen);
    if let Some(example) = &acc.corrupted_example {
        notes.push(format!("altered: {example}"));
        eprintln!("   altered: {example}");
    }

    // Unsent messages: smsgate may report them (uncertain after the hung modem, failed); peers cannot.
    let mut reported_unsent = 0;
    if let Target::Gateway(g) = &target {
        for tag in &acc.missing {
            if let Some(id) = submitted.ids.get(tag)
                && let Ok(status) = g.status(id).await
                && matches!(status.as_str(), "uncertain" | "failed" | "expired")
            {
                reported_unsent += 1;
            }
        }
    }
    let accepted_parts: usize = work
        .iter()
        .filter(|m| submitted.accepted.contains_key(&m.tag))
        .map(|m| m.parts)
        .sum();
    // What the network saw of the accepted messages (altered ones included: they were sent).
    let missing: std::collections::HashSet<&str> = acc.missing.iter().map(String::as_str).collect();
    let (sent_messages, sent_parts) = work
        .iter()
        .filter(|m| submitted.accepted.contains_key(&m.tag) && !missing.contains(m.tag.as_str()))
        .fold((0, 0), |(n, p), m| (n + 1, p + m.parts));
    let mean = profile.mean();
    let rates = bench::throughput(
        sent_parts,
        sent_messages,
        infos.len(),
        mean,
        submitted.started_ms,
        acc.last_sent_ms,
    );
    let ideal = bench::capacity_per_s(infos.len(), mean).map(|cap| accepted_parts as f64 / cap);
    // A process that stopped while messages were still being sent is worth a note; if nothing at all was
    // accepted or sent, it is the reason.
    let stopped = children.first_stopped();
    if let Some(s) = &stopped {
        notes.push(format!("stopped during the run: {s}"));
    }
    let error = bench::run_error(
        work.len(),
        accepted_n,
        sent_messages,
        stopped
            .as_deref()
            .filter(|_| accepted_n == 0 || sent_messages == 0),
        submitted.first_refusal.as_deref(),
    );
    let cpu = meter.cpu_s();
    Ok(RunResult {
        messages: work.len(),
        parts: accepted_parts,
        accepted: accepted_n,
        accept_rate: accepted_n as f64 / accept_secs.max(1e-3),
        accept_latency_ms: Percentiles::of(&submitted.accept_latency_ms),
        send_rate: rates.send_rate,
        message_rate: rates.message_rate,
        drain_s: rates.drain_s,
        ideal_drain_s: ideal,
        utilisation_pct: rates.utilisation_pct,
        latency_ms: Percentiles::of(&acc.latencies_ms),
        cpu_s_per_1000: (sent_parts > 0).then(|| 1000.0 * cpu / sent_parts as f64),
        peak_rss_mib: meter.peak_rss_kib as f64 / 1024.0,
        lost: acc.missing.len() - reported_unsent,
        reported_unsent,
        duplicated: acc.duplicated,
        corrupted: acc.corrupted,
        timed_out,
        notes,
        error,
        ..RunResult::default()
    })
}

/// The result of a run whose system under test failed before the workload: the reason and nothing
/// measured.
fn failed_run(work: &[BenchMessage], error: String, notes: Vec<String>) -> RunResult {
    RunResult {
        messages: work.len(),
        notes,
        error: Some(error),
        ..RunResult::default()
    }
}

/// How to submit to a started system.
enum Target {
    /// smsgate's HTTPS API.
    Gateway(GatewayClient),
    /// The `outgoing` spool directory of each smsd instance.
    Smstools(Vec<PathBuf>),
    /// Number of gammu-smsd daemons (one per modem, `gammu<i>/smsdrc`).
    Gammu(usize),
    /// smsbox's sendsms port.
    Kannel(u16),
}

/// Starts the system under test on the bank with generated configurations under `dir`.
async fn start_system(
    args: &BenchArgs,
    system: System,
    variant: Variant,
    bank: &Bank,
    dir: &Path,
    children: &mut Children,
    notes: &mut Vec<String>,
) -> anyhow::Result<Target> {
    let infos = bank.modems();
    Ok(match system {
        System::Smsgate => Target::Gateway(start_smsgate(args, dir, bank, children).await?),
        System::Smstools => {
            // One smsd takes at most NUMBER_OF_MODEMS devices: a larger bank gets several instances,
            // each with its own spool and configuration, as an operator would run them.
            let instances = peers::smstools_instances(infos.len(), args.smstools_max_devices);
            if instances.len() > 1 {
                notes.push(format!(
                    "{} smsd instances of at most {} devices each",
                    instances.len(),
                    args.smstools_max_devices
                ));
            }
            let mut outgoing = Vec::new();
            for (k, range) in instances.iter().enumerate() {
                let d = dir.join(format!("smstools{k}"));
                for sub in peers::SMSTOOLS_DIRS {
                    std::fs::create_dir_all(d.join(sub))?;
                }
                let links: Vec<&Path> = infos[range.clone()].iter().map(|m| m.link.as_path()).collect();
                let conf = d.join("smsd.conf");
                std::fs::write(&conf, peers::smstools_conf(&d, &links, variant))?;
                // smsd writes why it stopped to its log file (stderr only says "See the log file").
                let (stderr, _) = output_log(&d, "smsd.stderr")?;
                children.spawn(
                    Command::new("smsd")
                        .arg(format!("-c{}", conf.display()))
                        .arg("-t")
                        .stdout(Stdio::null())
                        .stderr(stderr),
                    &format!("smsd {}/{}", k + 1, instances.len()),
                    Some(d.join("smsd.log")),
                )?;
                outgoing.push(d.join("outgoing"));
            }
            Target::Smstools(outgoing)
        }
        System::GammuSmsd => {
            for (i, m) in infos.iter().enumerate() {
                let d = dir.join(format!("gammu{i}"));
                for sub in peers::GAMMU_DIRS {
                    std::fs::create_dir_all(d.join(sub))?;
                }
                let rc = d.join("smsdrc");
                std::fs::write(&rc, peers::gammu_smsdrc(&d, &m.link, &format!("sim{i}"), variant))?;
                children.spawn(
                    Command::new("gammu-smsd")
                        .arg("-c")
                        .arg(&rc)
                        .stdout(Stdio::null())
                        .stderr(Stdio::null()),
                    &format!("gammu-smsd {i}"),
                    None,
                )?;
            }
            Target::Gammu(infos.len())
        }
        System::Kannel => {
            let d = dir.join("kannel");
            std::fs::create_dir_all(&d)?;
            let ports = KannelPorts {
                admin: free_port()?,
                smsbox: free_port()?,
                sendsms: free_port()?,
            };
            let list: Vec<(&Path, &str)> = infos
                .iter()
                .map(|m| (m.link.as_path(), m.number.as_str()))
                .collect();
            let conf = d.join("kannel.conf");
            std::fs::write(&conf, peers::kannel_conf(&d, &list, ports, variant))?;
            let (stderr, stderr_path) = output_log(&d, "bearerbox.stderr")?;
            children.spawn(
                Command::new("bearerbox")
                    .arg(&conf)
                    .stdout(Stdio::null())
                    .stderr(stderr),
                "bearerbox",
                Some(stderr_path),
            )?;
            wait_port(ports.smsbox, Duration::from_secs(30)).await?;
            let (stderr, stderr_path) = output_log(&d, "smsbox.stderr")?;
            children.spawn(
                Command::new("smsbox")
                    .arg(&conf)
                    .stdout(Stdio::null())
                    .stderr(stderr),
                "smsbox",
                Some(stderr_path),
            )?;
            wait_port(ports.sendsms, Duration::from_secs(30)).await?;
            Target::Kannel(ports.sendsms)
        }
    })
}

/// Whole messages every modem sent so far, with the time of their last part.
fn seen_messages(control: &hw_sim::Control, modems: usize) -> Vec<SeenMessage> {
    let mut out = Vec::new();
    for i in 0..modems {
        let Ok(parts) = control.sent_messages(i) else {
            continue;
        };
        let at_of: HashMap<u8, i64> = parts.iter().map(|p| (p.mr, parse_rfc3339_ms(&p.at))).collect();
        for m in hw_sim::bank::assemble(&parts) {
            let at_ms = m
                .mrs
                .iter()
                .filter_map(|mr| at_of.get(mr))
                .copied()
                .max()
                .unwrap_or(0);
            out.push(SeenMessage {
                text: m.text,
                to: m.to,
                at_ms,
            });
        }
    }
    out
}

fn parse_rfc3339_ms(s: &str) -> i64 {
    time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
        .map(|t| (t.unix_timestamp_nanos() / 1_000_000) as i64)
        .unwrap_or(0)
}

async fn wait_port(port: u16, limit: Duration) -> anyhow::Result<()> {
    let start = Instant::now();
    while tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_err() {
        if start.elapsed() > limit {
            bail!("nothing listens on 127.0.0.1:{port} after {limit:?}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Ok(())
}

/// A running `smsgate serve` child and how to reach it.
struct GatewayClient {
    base: String,
    ca: PathBuf,
}

impl GatewayClient {
    fn client(&self) -> anyhow::Result<reqwest::Client> {
        let mut roots = rustls::RootCertStore::empty();
        for c in smsgate::tls::config::read_certs(&self.ca)? {
            roots.add(c)?;
        }
        let config = rustls::ClientConfig::builder_with_provider(smsgate::tls::provider())
            .with_safe_default_protocol_versions()?
            .with_root_certificates(roots)
            .with_no_client_auth();
        Ok(reqwest::Client::builder()
            .use_preconfigured_tls(config)
            .pool_max_idle_per_host(1)
            .timeout(Duration::from_secs(60))
            .build()?)
    }

    async fn status(&self, id: &str) -> anyhow::Result<String> {
        let v: serde_json::Value = self
            .client()?
            .get(format!("{}/api/v1/messages/{id}", self.base))
            .basic_auth("admin", Some(BENCH_PASSWORD))
            .send()
            .await?
            .json()
            .await?;
        Ok(v["status"].as_str().unwrap_or_default().to_string())
    }
}

async fn start_smsgate(
    args: &BenchArgs,
    dir: &Path,
    bank: &Bank,
    children: &mut Children,
) -> anyhow::Result<GatewayClient> {
    let data = dir.join("smsgate");
    let port = free_port()?;
    let config = dir.join("smsgate.toml");
    std::fs::write(
        &config,
        format!(
            "version = 1\ndata_dir = \"{}\"\n\n[http]\nlisten = [\"127.0.0.1:{port}\"]\npublic_hostnames = [\"localhost\"]\n\n\
             [modems]\ndiscover_dir = \"{}\"\n\n[dispatch]\nsend_timeout_seconds = {BENCH_SEND_TIMEOUT_S}\n",
            data.display(),
            bank.control()
                .modems()
                .first()
                .and_then(|m| m.link.parent().map(Path::to_path_buf))
                .unwrap_or_default()
                .display()
        ),
    )?;
    let exe = match &args.gateway_bin {
        Some(p) => p.clone(),
        None => std::env::current_exe()?,
    };
    let log = std::fs::File::create(dir.join("smsgate.log"))?;
    children.spawn(
        Command::new(exe)
            .arg("serve")
            .arg("--config")
            .arg(&config)
            .env(super::serve::ADMIN_PASSWORD_ENV, BENCH_PASSWORD)
            .env(
                "RUST_LOG",
                std::env::var("SMSGATE_BENCH_LOG").unwrap_or_else(|_| "warn".into()),
            )
            .stdout(Stdio::null())
            .stderr(log),
        "smsgate serve",
        Some(dir.join("smsgate.log")),
    )?;
    let gw = GatewayClient {
        base: format!("https://localhost:{port}"),
        ca: data.join("tls").join("ca.pem"),
    };
    // Ready when the API answers and lists every modem up.
    let start = Instant::now();
    let n = bank.control().count();
    let limit = READY_BASE + READY_PER_MODEM * n as u32;
    loop {
        if start.elapsed() > limit {
            bail!(
                "smsgate did not bring {n} modems up within {limit:?} (see {}/smsgate.log)",
                dir.display()
            );
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
        if !gw.ca.exists() {
            continue;
        }
        let Ok(client) = gw.client() else { continue };
        let Ok(resp) = client
            .get(format!("{}/api/v1/modems", gw.base))
            .basic_auth("admin", Some(BENCH_PASSWORD))
            .send()
            .await
        else {
            continue;
        };
        let Ok(v) = resp.json::<serde_json::Value>().await else {
            continue;
        };
        let up = v["items"]
            .as_array()
            .map_or(0, |a| a.iter().filter(|m| m["up"] == true).count());
        if up >= n {
            return Ok(gw);
        }
    }
}

/// Posts every message with `connections` keep-alive HTTPS clients, one message per request.
async fn submit_smsgate(
    args: &BenchArgs,
    gw: &GatewayClient,
    work: &[BenchMessage],
) -> anyhow::Result<Submitted> {
    let work = Arc::new(work.to_vec());
    let next = Arc::new(AtomicUsize::new(0));
    let pb = bar(args, work.len(), "accepted");
    let mut sub = Submitted::start();
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..args.connections.max(1) {
        let client = gw.client()?;
        let url = format!("{}/api/v1/messages", gw.base);
        let (work, next, pb) = (work.clone(), next.clone(), pb.clone());
        tasks.spawn(async move {
            let mut out: Vec<(String, i64, f64, String)> = Vec::new();
            let mut errors: Vec<String> = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(m) = work.get(i) else { break };
                let t0 = Instant::now();
                let resp = client
                    .post(&url)
                    .basic_auth("admin", Some(BENCH_PASSWORD))
                    .json(&serde_json::json!({ "to": m.to, "text": m.text }))
                    .send()
                    .await;
                let answer = match resp {
                    Ok(r) if r.status().as_u16() == 202 => r
                        .json::<serde_json::Value>()
                        .await
                        .map_err(|e| format!("unreadable 202 answer: {e}")),
                    Ok(r) => {
                        let code = r.status();
                        Err(format!("{code}: {}", r.text().await.unwrap_or_default()))
                    }
                    Err(e) => Err(error_chain(&e)),
                };
                match answer {
                    Ok(v) => {
                        let id = v["messages"][0]["id"].as_str().unwrap_or_default().to_string();
                        out.push((m.tag.clone(), now_ms(), t0.elapsed().as_secs_f64() * 1000.0, id));
                    }
                    Err(e) => errors.push(e),
                }
                pb.inc(1);
            }
            (out, errors)
        });
    }
    while let Some(r) = tasks.join_next().await {
        let (out, errors) = r?;
        for e in errors {
            sub.refuse(e);
        }
        for (tag, at, lat, id) in out {
            sub.accepted.insert(tag.clone(), at);
            sub.ids.insert(tag, id);
            sub.accept_latency_ms.push(lat);
        }
    }
    sub.finished = Instant::now();
    pb.finish_and_clear();
    Ok(sub)
}

/// Drops one spool file per message into the smsd instances' outgoing directories, round-robin (written
/// aside in `dir/staging`, renamed in).
async fn submit_smstools(
    args: &BenchArgs,
    dir: &Path,
    outgoing: &[PathBuf],
    work: &[BenchMessage],
) -> anyhow::Result<Submitted> {
    let pb = bar(args, work.len(), "spooled");
    let mut sub = Submitted::start();
    let staging = dir.join("staging");
    std::fs::create_dir_all(&staging)?;
    for m in work {
        let Some(out) = outgoing.get(m.index % outgoing.len().max(1)) else {
            sub.refuse("no smsd instance (empty bank)".into());
            continue;
        };
        let name = format!("bench{:06}", m.index);
        std::fs::write(staging.join(&name), peers::smstools_file(&m.to, &m.text))?;
        std::fs::rename(staging.join(&name), out.join(&name))?;
        sub.accepted.insert(m.tag.clone(), now_ms());
        pb.inc(1);
    }
    pb.finish_and_clear();
    sub.finished = Instant::now();
    Ok(sub)
}

/// Queues each message with `gammu-smsd-inject` into the daemons' outboxes, round-robin.
async fn submit_gammu(
    args: &BenchArgs,
    dir: &Path,
    daemons: usize,
    work: &[BenchMessage],
) -> anyhow::Result<Submitted> {
    let pb = bar(args, work.len(), "injected");
    let mut sub = Submitted::start();
    for m in work {
        let rc = dir
            .join(format!("gammu{}", m.index % daemons.max(1)))
            .join("smsdrc");
        let mut cmd = Command::new("gammu-smsd-inject");
        cmd.arg("-c").arg(&rc).args(["TEXT", &m.to]);
        if !m.text.is_ascii() {
            cmd.arg("-unicode");
        }
        let t0 = Instant::now();
        let out = cmd
            .args(["-autolen", "1000", "-textutf8", &m.text])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .await
            .context("cannot run gammu-smsd-inject")?;
        if out.success() {
            sub.accepted.insert(m.tag.clone(), now_ms());
            sub.accept_latency_ms.push(t0.elapsed().as_secs_f64() * 1000.0);
        } else {
            sub.refuse(format!("gammu-smsd-inject {out}"));
        }
        pb.inc(1);
    }
    pb.finish_and_clear();
    sub.finished = Instant::now();
    Ok(sub)
}

/// A plain-HTTP client (reqwest is built without a default TLS provider: hand it an unused one).
fn plain_http_client() -> anyhow::Result<reqwest::Client> {
    let config = rustls::ClientConfig::builder_with_provider(smsgate::tls::provider())
        .with_safe_default_protocol_versions()?
        .with_root_certificates(rustls::RootCertStore::empty())
        .with_no_client_auth();
    Ok(reqwest::Client::builder()
        .use_preconfigured_tls(config)
        .pool_max_idle_per_host(1)
        .timeout(Duration::from_secs(60))
        .build()?)
}

/// Calls Kannel's `sendsms` for every message with `connections` keep-alive HTTP clients.
async fn submit_kannel(args: &BenchArgs, port: u16, work: &[BenchMessage]) -> anyhow::Result<Submitted> {
    let work = Arc::new(work.to_vec());
    let next = Arc::new(AtomicUsize::new(0));
    let pb = bar(args, work.len(), "sendsms");
    let mut sub = Submitted::start();
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..args.connections.max(1) {
        let client = plain_http_client()?;
        let (work, next, pb) = (work.clone(), next.clone(), pb.clone());
        tasks.spawn(async move {
            let mut out = Vec::new();
            let mut errors: Vec<String> = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(m) = work.get(i) else { break };
                let mut query = vec![
                    ("username", peers::KANNEL_USER.to_string()),
                    ("password", peers::KANNEL_PASSWORD.to_string()),
                    ("to", m.to.clone()),
                    ("text", m.text.clone()),
                    ("charset", "UTF-8".to_string()),
                ];
                if !m.text.is_ascii() {
                    query.push(("coding", "2".to_string()));
                }
                let t0 = Instant::now();
                let answer = client
                    .get(format!("http://127.0.0.1:{port}/cgi-bin/sendsms"))
                    .query(&query)
                    .send()
                    .await;
                // Errors are counted and the first one reported once (not one log line per message).
                match answer {
                    Ok(r) if r.status().is_success() => {
                        out.push((m.tag.clone(), now_ms(), t0.elapsed().as_secs_f64() * 1000.0));
                    }
                    Ok(r) => {
                        let code = r.status();
                        errors.push(format!("sendsms {code}: {}", r.text().await.unwrap_or_default()));
                    }
                    // The URL carries the sendsms password: report the error without it.
                    Err(e) => errors.push(format!("sendsms: {}", error_chain(&e.without_url()))),
                }
                pb.inc(1);
            }
            (out, errors)
        });
    }
    while let Some(r) = tasks.join_next().await {
        let (out, errors) = r?;
        for e in errors {
            sub.refuse(e);
        }
        for (tag, at, lat) in out {
            sub.accepted.insert(tag, at);
            sub.accept_latency_ms.push(lat);
        }
    }
    sub.finished = Instant::now();
    pb.finish_and_clear();
    Ok(sub)
}
