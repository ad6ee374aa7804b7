//! Prometheus metrics: the few in-process instruments (send latency per modem, HTTP requests per route
//! template) and the text exposition format (version 0.0.4) that `/metrics` serves.
//!
//! Why hand-written instead of `metrics` + `metrics-exporter-prometheus`: almost everything smsgate
//! exports is already counted durably by the store (per-modem sent/received/failed counters survive a
//! restart) or is a gauge read at scrape time (modem state, queue depth and age, backup age, database
//! size). What is left is two histograms and one counter family, and for those the hot path must stay
//! a few atomic adds: the facade crate looks a key up in a registry (hashing the labels) on every
//! record unless handles are cached, and the exporter brings its own HTTP stack and a dozen crates into
//! an appliance image whose every crate is listed for Yocto. Here the dispatcher holds its modem's
//! [`Histogram`] from the moment the modem joins (no lookup, lock or allocation per SMS), and an HTTP
//! request finds its route's counters in an immutable map swapped only when a route is seen for the
//! first time ([`arc_swap`]).
//!
//! Labels never name an account or a phone number: modems are labelled by their id (the IMEI, a device
//! identity), HTTP requests by method, route *template* (`/api/v1/messages/{id}`, never the raw path)
//! and status.
use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use arc_swap::ArcSwap;

/// Upper bounds (seconds) of the send latency buckets: a part takes about a second on a real modem,
/// a long message or a congested network tens of seconds; `dispatch.send_timeout_seconds` is 300.
pub const SEND_BUCKETS: &[f64] = &[0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0];
/// Upper bounds (seconds) of the HTTP request duration buckets (an accepted message waits for its
/// group commit; a password login for argon2).
pub const HTTP_BUCKETS: &[f64] = &[0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];

/// Route label of requests that matched no route (404s of unknown paths), so scanners cannot mint
/// label values.
pub const UNMATCHED_ROUTE: &str = "unmatched";

/// HTTP status codes 100..=599 each get a counter slot (RFC 9110 §15: three digits, first 1–5).
const STATUS_MIN: u16 = 100;
const STATUS_SLOTS: usize = 500;

/// A cumulative histogram with fixed buckets, updated with atomic adds only.
#[derive(Debug)]
pub struct Histogram {
    bounds: &'static [f64],
    /// Per-bucket (not cumulative) counts; the last slot is `+Inf`.
    buckets: Box<[AtomicU64]>,
    count: AtomicU64,
    /// Sum of observations in microseconds (u64 µs overflow after 584,000 years of latency).
    sum_micros: AtomicU64,
}

impl Histogram {
    /// An empty histogram over `bounds` (ascending upper bounds in seconds).
    pub fn new(bounds: &'static [f64]) -> Histogram {
        Histogram {
            bounds,
            buckets: (0..=bounds.len()).map(|_| AtomicU64::new(0)).collect(),
            count: AtomicU64::new(0),
            sum_micros: AtomicU64::new(0),
        }
    }

    /// Records one observation.
    pub fn observe(&self, elapsed: Duration) {
        let secs = elapsed.as_secs_f64();
        let slot = self
            .bounds
            .iter()
            .position(|&b| secs <= b)
            .unwrap_or(self.bounds.len());
        if let Some(b) = self.buckets.get(slot) {
            b.fetch_add(1, Ordering::Relaxed);
        }
        self.count.fetch_add(1, Ordering::Relaxed);
        let micros = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX);
        self.sum_micros.fetch_add(micros, Ordering::Relaxed);
    }

    /// Number of observations.
    pub fn count(&self) -> u64 {
        self.count.load(Ordering::Relaxed)
    }

    /// Cumulative counts per bound, then the total (`+Inf`).
    fn cumulative(&self) -> Vec<(f64, u64)> {
        let mut acc = 0;
        let mut out = Vec::with_capacity(self.buckets.len());
        for (i, b) in self.buckets.iter().enumerate() {
            acc += b.load(Ordering::Relaxed);
            out.push((self.bounds.get(i).copied().unwrap_or(f64::INFINITY), acc));
        }
        out
    }

    fn sum_seconds(&self) -> f64 {
        self.sum_micros.load(Ordering::Relaxed) as f64 / 1e6
    }
}

/// HTTP methods that get their own label value; anything else counts as `other`.
const METHODS: [&str; 8] = [
    "GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "other",
];

fn method_slot(method: &str) -> usize {
    METHODS[..METHODS.len() - 1]
        .iter()
        .position(|m| *m == method)
        .unwrap_or(METHODS.len() - 1)
}

/// Requests of one (route, method): per-status counts and the duration histogram.
#[derive(Debug)]
struct MethodStats {
    statuses: Box<[AtomicU64]>,
    duration: Histogram,
}

impl MethodStats {
    fn new() -> MethodStats {
        MethodStats {
            statuses: (0..STATUS_SLOTS).map(|_| AtomicU64::new(0)).collect(),
            duration: Histogram::new(HTTP_BUCKETS),
        }
    }
}

/// Requests of one route template, by method (created on a method's first request).
#[derive(Debug, Default)]
struct RouteStats {
    methods: [OnceLock<MethodStats>; METHODS.len()],
}

/// The in-process instruments. One per gateway; cheap to share (`Arc`).
#[derive(Debug)]
pub struct Metrics {
    /// Send latency per modem id. Locked when a modem joins the dispatcher and at scrape time only.
    send_latency: Mutex<BTreeMap<String, Arc<Histogram>>>,
    /// Route template → its counters. Read lock-free per request; replaced (copy + insert) when a
    /// template is seen for the first time, which happens a bounded number of times (the route table).
    http: ArcSwap<HashMap<Box<str>, Arc<RouteStats>>>,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Metrics {
    /// Empty instruments.
    pub fn new() -> Metrics {
        Metrics {
            send_latency: Mutex::new(BTreeMap::new()),
            http: ArcSwap::from_pointee(HashMap::new()),
        }
    }

    /// The send latency histogram of a modem (created on first use). The dispatcher keeps the handle
    /// for the modem's lifetime, so recording a send costs atomic adds only.
    pub fn send_latency(&self, modem: &str) -> Arc<Histogram> {
        Arc::clone(
            lock(&self.send_latency)
                .entry(modem.to_owned())
                .or_insert_with(|| Arc::new(Histogram::new(SEND_BUCKETS))),
        )
    }

    /// Records one HTTP request: `route` is the matched route template (or [`UNMATCHED_ROUTE`]).
    pub fn record_request(&self, method: &str, route: &str, status: u16, elapsed: Duration) {
        let stats = match self.http.load().get(route) {
            Some(s) => Arc::clone(s),
            None => self.add_route(route),
        };
        let m = stats.methods[method_slot(method)].get_or_init(MethodStats::new);
        if let Some(slot) = status
            .checked_sub(STATUS_MIN)
            .and_then(|i| m.statuses.get(usize::from(i)))
        {
            slot.fetch_add(1, Ordering::Relaxed);
        }
        m.duration.observe(elapsed);
    }

    #[cold]
    fn add_route(&self, route: &str) -> Arc<RouteStats> {
        let mut added = None;
        self.http.rcu(|current| {
            let mut next = HashMap::clone(current);
            let entry = next
                .entry(route.into())
                .or_insert_with(|| Arc::new(RouteStats::default()));
            added = Some(Arc::clone(entry));
            next
        });
        added.unwrap_or_default()
    }

    /// Total requests recorded for a route template (all methods and statuses); for tests.
    pub fn requests_for(&self, route: &str) -> u64 {
        self.http.load().get(route).map_or(0, |r| {
            r.methods
                .iter()
                .filter_map(OnceLock::get)
                .map(|m| m.duration.count())
                .sum()
        })
    }
}

// ---- scrape-time view and text encoding ----

/// One modem as the scrape sees it (read from the store: state, identity and its durable counters).
#[derive(Debug, Clone, PartialEq)]
pub struct ModemSample {
    /// Modem id (IMEI once known).
    pub id: String,
    pub name: String,
    pub port: String,
    pub group: String,
    pub operator: String,
    pub model: String,
    pub up: bool,
    /// Actor phase in snake case (`ready`, `absent`, ...).
    pub phase: String,
    /// `+CSQ` RSSI 0..31 when known.
    pub rssi: Option<u8>,
    pub sent_parts: u64,
    pub received: u64,
    pub failed_attempts: u64,
    /// Messages this modem could take now: its group's queue plus the messages for any modem.
    pub queue: u64,
}

/// Every gauge and stored counter of one scrape. Built by the caller; [`render`] is pure.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Snapshot {
    pub version: String,
    /// Seconds since the Unix epoch.
    pub now: f64,
    pub process: Option<ProcessSample>,
    pub ready: bool,
    pub database_ok: bool,
    pub database_bytes: u64,
    pub wal_bytes: u64,
    pub disk_free_bytes: Option<u64>,
    /// Queued messages per routing group (`""`: any modem).
    pub queued_by_group: Vec<(String, u64)>,
    pub sending: u64,
    /// Seconds the oldest due message has waited.
    pub oldest_queued_age: Option<f64>,
    pub backups: u64,
    /// Seconds since the Unix epoch of the newest backup.
    pub last_backup: Option<f64>,
    /// Seconds since the Unix epoch when the served certificate expires.
    pub certificate_not_after: Option<f64>,
    pub modems: Vec<ModemSample>,
}

/// `/proc/self` readings (proc(5)).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ProcessSample {
    pub cpu_seconds: f64,
    pub resident_bytes: u64,
    pub virtual_bytes: u64,
    pub open_fds: u64,
    pub max_fds: Option<u64>,
    pub threads: u64,
    /// Seconds since the Unix epoch.
    pub start_time: f64,
}

/// Modem phases, each exported as a `state` label value (one series is 1, the others 0).
pub const MODEM_PHASES: [&str; 9] = [
    "opening",
    "probing",
    "initialising",
    "waiting_for_pin",
    "waiting_for_network",
    "ready",
    "recovering",
    "failed",
    "absent",
];

/// `+CSQ` RSSI 0 is −113 dBm, each step 2 dB (TS 27.007 §8.5).
const RSSI_ZERO_DBM: f64 = -113.0;
const RSSI_STEP_DB: f64 = 2.0;

/// Content type of the text exposition format.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Writes the text format: one `# HELP`/`# TYPE` header per family, then its samples.
struct Encoder {
    out: String,
}

fn escape_label(v: &str) -> String {
    let mut s = String::with_capacity(v.len());
    for c in v.chars() {
        match c {
            '\\' => s.push_str("\\\\"),
            '"' => s.push_str("\\\""),
            '\n' => s.push_str("\\n"),
            c => s.push(c),
        }
    }
    s
}

fn fmt_value(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v == f64::INFINITY {
        "+Inf".into()
    } else if v == f64::NEG_INFINITY {
        "-Inf".into()
    } else {
        format!("{v}")
    }
}

impl Encoder {
    fn family(&mut self, name: &str, kind: &str, help: &str) {
        let _ = writeln!(self.out, "# HELP {name} {help}");
        let _ = writeln!(self.out, "# TYPE {name} {kind}");
    }

    fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: f64) {
        self.out.push_str(name);
        if !labels.is_empty() {
            self.out.push('{');
            for (i, (k, v)) in labels.iter().enumerate() {
                if i > 0 {
                    self.out.push(',');
                }
                let _ = write!(self.out, "{k}=\"{}\"", escape_label(v));
            }
            self.out.push('}');
        }
        let _ = writeln!(self.out, " {}", fmt_value(value));
    }

    fn gauge(&mut self, name: &str, help: &str, value: f64) {
        self.family(name, "gauge", help);
        self.sample(name, &[], value);
    }

    fn histogram(&mut self, name: &str, labels: &[(&str, &str)], h: &Histogram) {
        let bucket = format!("{name}_bucket");
        for (bound, count) in h.cumulative() {
            let le = fmt_value(bound);
            let mut with_le: Vec<(&str, &str)> = labels.to_vec();
            with_le.push(("le", &le));
            self.sample(&bucket, &with_le, count as f64);
        }
        self.sample(&format!("{name}_sum"), labels, h.sum_seconds());
        self.sample(&format!("{name}_count"), labels, h.count() as f64);
    }
}

fn flag(b: bool) -> f64 {
    if b { 1.0 } else { 0.0 }
}

/// Renders a scrape: the snapshot's gauges and stored counters, then the in-process instruments.
pub fn render(s: &Snapshot, metrics: &Metrics) -> String {
    let mut e = Encoder {
        out: String::with_capacity(16 * 1024),
    };
    if let Some(p) = &s.process {
        e.family(
            "process_cpu_seconds_total",
            "counter",
            "Total user and system CPU time spent in seconds.",
        );
        e.sample("process_cpu_seconds_total", &[], p.cpu_seconds);
        e.gauge(
            "process_resident_memory_bytes",
            "Resident memory size in bytes.",
            p.resident_bytes as f64,
        );
        e.gauge(
            "process_virtual_memory_bytes",
            "Virtual memory size in bytes.",
            p.virtual_bytes as f64,
        );
        e.gauge(
            "process_open_fds",
            "Number of open file descriptors.",
            p.open_fds as f64,
        );
        if let Some(max) = p.max_fds {
            e.gauge(
                "process_max_fds",
                "Maximum number of open file descriptors.",
                max as f64,
            );
        }
        e.gauge(
            "process_threads",
            "Number of OS threads in the process.",
            p.threads as f64,
        );
        e.gauge(
            "process_start_time_seconds",
            "Start time of the process since unix epoch in seconds.",
            p.start_time,
        );
    }
    e.family(
        "smsgate_build_info",
        "gauge",
        "Version of the running smsgate; always 1.",
    );
    e.sample("smsgate_build_info", &[("version", &s.version)], 1.0);
    e.gauge(
        "smsgate_ready",
        "1 when the database commits and at least one modem is ready (as /readyz).",
        flag(s.ready),
    );
    e.gauge(
        "smsgate_database_up",
        "1 when the database writer commits.",
        flag(s.database_ok),
    );
    e.family(
        "smsgate_database_size_bytes",
        "gauge",
        "Size of the SQLite database files.",
    );
    e.sample(
        "smsgate_database_size_bytes",
        &[("file", "main")],
        s.database_bytes as f64,
    );
    e.sample(
        "smsgate_database_size_bytes",
        &[("file", "wal")],
        s.wal_bytes as f64,
    );
    if let Some(free) = s.disk_free_bytes {
        e.gauge(
            "smsgate_data_dir_free_bytes",
            "Bytes available to the service on the data directory's file system.",
            free as f64,
        );
    }
    e.family(
        "smsgate_queue_messages",
        "gauge",
        "Messages waiting to be sent, by routing group (group=\"\": any modem).",
    );
    for (group, n) in &s.queued_by_group {
        e.sample("smsgate_queue_messages", &[("group", group)], *n as f64);
    }
    e.gauge(
        "smsgate_messages_sending",
        "Messages handed to a modem and not yet answered.",
        s.sending as f64,
    );
    e.gauge(
        "smsgate_queue_oldest_age_seconds",
        "How long the oldest due message has been waiting (0 when none is).",
        s.oldest_queued_age.unwrap_or(0.0),
    );
    e.gauge(
        "smsgate_backups",
        "Encrypted backups in backup.dir.",
        s.backups as f64,
    );
    if let Some(t) = s.last_backup {
        e.gauge(
            "smsgate_backup_last_timestamp_seconds",
            "When the newest backup was taken (seconds since the epoch).",
            t,
        );
        e.gauge(
            "smsgate_backup_age_seconds",
            "Age of the newest backup.",
            (s.now - t).max(0.0),
        );
    }
    if let Some(t) = s.certificate_not_after {
        e.gauge(
            "smsgate_tls_certificate_expiry_timestamp_seconds",
            "When the served TLS server certificate expires (seconds since the epoch).",
            t,
        );
    }
    render_modems(&mut e, s);
    render_instruments(&mut e, metrics);
    e.out
}

fn render_modems(e: &mut Encoder, s: &Snapshot) {
    e.gauge(
        "smsgate_modems",
        "Modems known to the gateway.",
        s.modems.len() as f64,
    );
    e.family(
        "smsgate_modem_info",
        "gauge",
        "Identity of a modem (always 1): name, port, routing group, operator, model.",
    );
    for m in &s.modems {
        e.sample(
            "smsgate_modem_info",
            &[
                ("modem", &m.id),
                ("name", &m.name),
                ("port", &m.port),
                ("group", &m.group),
                ("operator", &m.operator),
                ("model", &m.model),
            ],
            1.0,
        );
    }
    per_modem(
        e,
        &s.modems,
        ("smsgate_modem_up", "gauge"),
        "1 when the modem is registered and can send.",
        |m| Some(flag(m.up)),
    );
    e.family(
        "smsgate_modem_state",
        "gauge",
        "Life-cycle phase of the modem actor: the current phase is 1, the others 0.",
    );
    for m in &s.modems {
        for phase in MODEM_PHASES {
            e.sample(
                "smsgate_modem_state",
                &[("modem", &m.id), ("state", phase)],
                flag(m.phase == phase),
            );
        }
    }
    per_modem(
        e,
        &s.modems,
        ("smsgate_modem_signal_rssi", "gauge"),
        "Received signal strength as +CSQ reports it (0..31; TS 27.007 8.5).",
        |m| m.rssi.map(f64::from),
    );
    per_modem(
        e,
        &s.modems,
        ("smsgate_modem_signal_dbm", "gauge"),
        "Received signal strength in dBm.",
        |m| m.rssi.map(|r| RSSI_ZERO_DBM + RSSI_STEP_DB * f64::from(r)),
    );
    per_modem(
        e,
        &s.modems,
        ("smsgate_modem_sent_parts_total", "counter"),
        "SMS parts the network accepted from this modem (kept across restarts).",
        |m| Some(m.sent_parts as f64),
    );
    per_modem(
        e,
        &s.modems,
        ("smsgate_modem_failed_attempts_total", "counter"),
        "Send attempts on this modem that did not end sent (retried, failed or uncertain).",
        |m| Some(m.failed_attempts as f64),
    );
    per_modem(
        e,
        &s.modems,
        ("smsgate_modem_received_total", "counter"),
        "SMS received on this modem and stored (kept across restarts).",
        |m| Some(m.received as f64),
    );
    per_modem(
        e,
        &s.modems,
        ("smsgate_modem_queue_messages", "gauge"),
        "Messages this modem may take now: its group's queue plus messages for any modem.",
        |m| Some(m.queue as f64),
    );
}

/// One family with a sample per modem (labelled `modem`); a modem without a value (`None`) has no sample.
fn per_modem(
    e: &mut Encoder,
    modems: &[ModemSample],
    (name, kind): (&str, &str),
    help: &str,
    value: impl Fn(&ModemSample) -> Option<f64>,
) {
    e.family(name, kind, help);
    for m in modems {
        if let Some(v) = value(m) {
            e.sample(name, &[("modem", &m.id)], v);
        }
    }
}

fn render_instruments(e: &mut Encoder, metrics: &Metrics) {
    e.family(
        "smsgate_modem_send_duration_seconds",
        "histogram",
        "Time from handing a message to the modem until its answer (since start).",
    );
    let latency: Vec<(String, Arc<Histogram>)> = lock(&metrics.send_latency)
        .iter()
        .map(|(k, v)| (k.clone(), Arc::clone(v)))
        .collect();
    for (modem, h) in &latency {
        e.histogram("smsgate_modem_send_duration_seconds", &[("modem", modem)], h);
    }
    let routes = metrics.http.load();
    let mut names: Vec<&str> = routes.keys().map(|k| &**k).collect();
    names.sort_unstable();
    e.family(
        "smsgate_http_requests_total",
        "counter",
        "HTTPS requests by method, route template and status (since start).",
    );
    for name in &names {
        let Some(route) = routes.get(*name) else { continue };
        for (method, stats) in METHODS.iter().zip(&route.methods) {
            let Some(stats) = stats.get() else { continue };
            for (i, n) in stats.statuses.iter().enumerate() {
                let n = n.load(Ordering::Relaxed);
                if n > 0 {
                    let status = (usize::from(STATUS_MIN) + i).to_string();
                    e.sample(
                        "smsgate_http_requests_total",
                        &[("method", method), ("route", name), ("status", &status)],
                        n as f64,
                    );
                }
            }
        }
    }
    e.family(
        "smsgate_http_request_duration_seconds",
        "histogram",
        "HTTPS request duration by method and route template (since start).",
    );
    for name in &names {
        let Some(route) = routes.get(*name) else { continue };
        for (method, stats) in METHODS.iter().zip(&route.methods) {
            if let Some(stats) = stats.get() {
                e.histogram(
                    "smsgate_http_request_duration_seconds",
                    &[("method", method), ("route", name)],
                    &stats.duration,
                );
            }
        }
    }
}

/// Reads `/proc/self` (proc(5)); `None` where it is not available. `fallback_start` (seconds since the
/// epoch) is the start time used when `/proc/stat` is hidden, as it is under the unit's
/// `ProcSubset=pid`.
pub fn process_sample(fallback_start: f64) -> Option<ProcessSample> {
    /// `sysconf(_SC_CLK_TCK)` on Linux.
    const CLK_TCK: f64 = 100.0;
    /// proc(5) `stat`: after the `)` closing `comm`, field 3 is the first; `num_threads` is field 20,
    /// `starttime` field 22 (ticks after boot), `vsize` field 23.
    const AFTER_COMM: usize = 3;
    const NUM_THREADS: usize = 20;
    const START_TIME: usize = 22;
    const VSIZE: usize = 23;
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let field = |n: usize| fields.get(n - AFTER_COMM).and_then(|f| f.parse::<u64>().ok());
    let boot_time = std::fs::read_to_string("/proc/stat").ok().and_then(|s| {
        s.lines()
            .find_map(|l| l.strip_prefix("btime ")?.trim().parse::<u64>().ok())
    });
    let open_fds = std::fs::read_dir("/proc/self/fd").map_or(0, |d| d.count() as u64);
    let max_fds = std::fs::read_to_string("/proc/self/limits").ok().and_then(|l| {
        l.lines()
            .find(|l| l.starts_with("Max open files"))
            .and_then(|l| l.split_whitespace().nth(3))
            .and_then(|v| v.parse().ok())
    });
    Some(ProcessSample {
        cpu_seconds: crate::bench::procfs::cpu_seconds_from_stat(&stat)?,
        resident_bytes: crate::bench::procfs::status_kib(&status, "VmRSS").unwrap_or(0) * 1024,
        virtual_bytes: field(VSIZE).unwrap_or(0),
        open_fds,
        max_fds,
        threads: field(NUM_THREADS).unwrap_or(0),
        start_time: match (boot_time, field(START_TIME)) {
            (Some(boot), Some(ticks)) => boot as f64 + ticks as f64 / CLK_TCK,
            _ => fallback_start,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_buckets_are_cumulative() {
        let h = Histogram::new(&[0.1, 1.0]);
        for ms in [50, 100, 500, 2000] {
            h.observe(Duration::from_millis(ms));
        }
        assert_eq!(h.cumulative(), vec![(0.1, 2), (1.0, 3), (f64::INFINITY, 4)]);
        assert_eq!(h.count(), 4);
        assert!((h.sum_seconds() - 2.65).abs() < 1e-9);
    }

    #[test]
    fn methods_and_statuses_map_to_slots() {
        let cases = [("GET", 0), ("DELETE", 4), ("OPTIONS", 6), ("BREW", 7), ("get", 7)];
        for (method, slot) in cases {
            assert_eq!(method_slot(method), slot, "{method}");
        }
        let m = Metrics::new();
        m.record_request("GET", "/healthz", 200, Duration::from_millis(1));
        m.record_request("GET", "/healthz", 200, Duration::from_millis(1));
        // Out-of-range statuses are timed but not counted by status.
        m.record_request("POST", "/healthz", 99, Duration::from_millis(1));
        assert_eq!(m.requests_for("/healthz"), 3);
        let text = render(&Snapshot::default(), &m);
        assert!(
            text.contains(
                "smsgate_http_requests_total{method=\"GET\",route=\"/healthz\",status=\"200\"} 2\n"
            )
        );
        assert!(!text.contains("status=\"99\""));
    }

    #[test]
    fn labels_are_escaped() {
        let cases = [
            ("plain", "plain"),
            ("a\"b", "a\\\"b"),
            ("back\\slash", "back\\\\slash"),
            ("two\nlines", "two\\nlines"),
        ];
        for (input, expect) in cases {
            assert_eq!(escape_label(input), expect);
        }
        assert_eq!(fmt_value(f64::INFINITY), "+Inf");
        assert_eq!(fmt_value(0.25), "0.25");
        assert_eq!(fmt_value(3.0), "3");
    }

    /// Every family header appears once and every sample follows its own family's header.
    #[test]
    fn families_are_contiguous() {
        let m = Metrics::new();
        m.send_latency("860000000000001")
            .observe(Duration::from_millis(700));
        m.record_request("GET", "/api/v1/messages/{id}", 404, Duration::from_millis(3));
        let snap = Snapshot {
            version: "0.1.0".into(),
            now: 1000.0,
            last_backup: Some(400.0),
            queued_by_group: vec![(String::new(), 3), ("otp".into(), 1)],
            modems: vec![ModemSample {
                id: "860000000000001".into(),
                name: "sim1".into(),
                port: "/dev/gsm/a".into(),
                group: "default".into(),
                operator: "Sim \"Net\"".into(),
                model: "EC25".into(),
                up: true,
                phase: "ready".into(),
                rssi: Some(20),
                sent_parts: 5,
                received: 2,
                failed_attempts: 1,
                queue: 3,
            }],
            ..Snapshot::default()
        };
        let text = render(&snap, &m);
        let mut seen = std::collections::HashSet::new();
        let mut current = String::new();
        for line in text.lines() {
            if let Some(rest) = line.strip_prefix("# TYPE ") {
                let name = rest.split(' ').next().unwrap().to_owned();
                assert!(seen.insert(name.clone()), "family {name} twice");
                current = name;
            } else if !line.starts_with('#') {
                let name = line.split(['{', ' ']).next().unwrap();
                let base = ["_bucket", "_sum", "_count"]
                    .iter()
                    .find_map(|s| name.strip_suffix(s).filter(|b| *b == current))
                    .unwrap_or(name);
                assert_eq!(base, current, "sample {line} outside its family");
            }
        }
        assert!(text.contains("smsgate_backup_age_seconds 600\n"));
        assert!(text.contains("smsgate_modem_signal_dbm{modem=\"860000000000001\"} -73\n"));
        assert!(text.contains("operator=\"Sim \\\"Net\\\"\""));
        assert!(
            text.contains(
                "smsgate_modem_send_duration_seconds_bucket{modem=\"860000000000001\",le=\"1\"} 1\n"
            )
        );
        assert!(text.contains("route=\"/api/v1/messages/{id}\",status=\"404\"} 1\n"));
    }

    #[test]
    fn process_sample_reads_proc_self() {
        let p = process_sample(1.0).unwrap();
        assert!(p.resident_bytes > 0 && p.open_fds > 0 && p.threads >= 1, "{p:?}");
        assert!(p.start_time > 1.0e9, "{p:?}");
    }
}
