//! CPU time and peak memory of processes, read from `/proc/<pid>/stat` (proc(5): fields 14 `utime` and
//! 15 `stime` in clock ticks) and `/proc/<pid>/status` (`VmHWM`, peak resident set size).
use std::path::Path;

/// Clock ticks per second of `/proc/<pid>/stat` times (`sysconf(_SC_CLK_TCK)`, 100 on Linux).
const CLK_TCK: f64 = 100.0;
/// proc(5): `utime` is field 14, counted from 1; after the `)` that ends `comm` the first field is 3.
const UTIME_AFTER_COMM: usize = 14 - 3;

/// User + system CPU seconds from the text of `/proc/<pid>/stat`; `None` if it cannot be parsed.
pub fn cpu_seconds_from_stat(stat: &str) -> Option<f64> {
    // `comm` may contain spaces and parentheses: split after the last `)`.
    let rest = &stat[stat.rfind(')')? + 1..];
    let mut fields = rest.split_whitespace().skip(UTIME_AFTER_COMM);
    let utime: u64 = fields.next()?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some((utime + stime) as f64 / CLK_TCK)
}

/// A `kB` value of `/proc/<pid>/status` (e.g. `VmHWM`, `VmRSS`) in KiB.
pub fn status_kib(status: &str, key: &str) -> Option<u64> {
    status.lines().find_map(|l| {
        let rest = l.strip_prefix(key)?.strip_prefix(':')?;
        rest.trim().trim_end_matches("kB").trim().parse().ok()
    })
}

/// One reading of a process.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ProcSample {
    /// User + system CPU seconds so far.
    pub cpu_s: f64,
    /// Peak resident set size in KiB.
    pub peak_rss_kib: u64,
}

/// Reads a process (`pid` or `"self"`); `None` if it is gone.
pub fn sample(pid: &str) -> Option<ProcSample> {
    let base = Path::new("/proc").join(pid);
    let stat = std::fs::read_to_string(base.join("stat")).ok()?;
    let status = std::fs::read_to_string(base.join("status")).ok()?;
    Some(ProcSample {
        cpu_s: cpu_seconds_from_stat(&stat)?,
        peak_rss_kib: status_kib(&status, "VmHWM").unwrap_or(0),
    })
}

/// The sum over several processes (those still running).
pub fn sample_all(pids: &[u32]) -> ProcSample {
    pids.iter()
        .filter_map(|p| sample(&p.to_string()))
        .fold(ProcSample::default(), |a, s| ProcSample {
            cpu_s: a.cpu_s + s.cpu_s,
            peak_rss_kib: a.peak_rss_kib + s.peak_rss_kib,
        })
}
