//! Benchmark harness core for `smsgate bench`: the workload (messages with a unique tag each, a share of
//! multipart and Unicode texts), the accounting that compares what the client got accepted with what the
//! simulated network saw (lost, duplicated, latency), the bank's theoretical capacity and utilisation,
//! CPU/RSS readings from `/proc`, the peers' generated configurations ([`peers`]) and the SVG plot
//! ([`plot`]).
//!
//! Everything here is pure or reads `/proc` only; the orchestration (starting hw-sim, the gateway and the
//! peers as child processes, driving them) lives in the CLI (`src/cli/bench.rs`).
pub mod peers;
pub mod plot;
pub mod procfs;

use std::collections::HashMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Prefix of the tag every benchmark text carries, so a sent text can be matched to its request.
pub const TAG_PREFIX: &str = "#b";
/// GSM-7 characters that fill a text (TS 23.038 default alphabet, no escapes).
const FILLER_GSM: &str = "The quick brown fox jumps over the lazy dog 0123456789. ";
/// UCS-2 filler (Polish diacritics and an emoji force UCS-2, TS 23.038 §6.2.3).
const FILLER_UCS2: &str = "Zażółć gęślą jaźń 😀 ";
/// Characters of a single-part GSM-7 text (TS 23.040: 160 septets max).
const SINGLE_GSM_LEN: usize = 120;
/// Characters of a multipart GSM-7 text: 3 parts of 153 septets (TS 23.040 §9.2.3.24.1 UDH takes 7).
const MULTI_GSM_LEN: usize = 400;
/// Characters of a single-part UCS-2 text (70 UCS-2 characters max).
const SINGLE_UCS2_LEN: usize = 50;

/// One message of the workload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BenchMessage {
    /// Index in the workload.
    pub index: usize,
    /// Unique tag inside the text.
    pub tag: String,
    /// Recipient (E.164).
    pub to: String,
    /// Full text.
    pub text: String,
    /// Number of SMS parts it needs.
    pub parts: usize,
}

/// Shape of a workload.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct WorkloadSpec {
    /// Number of messages.
    pub messages: usize,
    /// Percentage (0..=100) of multipart GSM-7 messages (3 parts each).
    pub multipart_pct: u32,
    /// Percentage (0..=100) of single-part UCS-2 messages (Polish + emoji).
    pub unicode_pct: u32,
}

/// The messages of a workload: deterministic, every text unique (its tag), spread over recipients outside
/// the simulated bank's numbers (`+48500…`).
pub fn workload(spec: WorkloadSpec) -> Vec<BenchMessage> {
    (0..spec.messages)
        .map(|index| {
            let tag = format!("{TAG_PREFIX}{index:06}");
            // Spread the kinds evenly with a per-hundred pattern so small runs keep the shares.
            let slot = (index % 100) as u32;
            let (filler, len, parts) = if slot < spec.multipart_pct {
                (FILLER_GSM, MULTI_GSM_LEN, 3)
            } else if slot < spec.multipart_pct + spec.unicode_pct {
                (FILLER_UCS2, SINGLE_UCS2_LEN, 1)
            } else {
                (FILLER_GSM, SINGLE_GSM_LEN, 1)
            };
            let mut text = format!("{tag} ");
            text.extend(
                filler
                    .chars()
                    .cycle()
                    .take(len.saturating_sub(text.chars().count())),
            );
            BenchMessage {
                index,
                tag,
                to: format!("+48500{:06}", index % 1_000_000),
                text,
                parts,
            }
        })
        .collect()
}

/// The tag inside a sent text, if it carries one.
pub fn tag_of(text: &str) -> Option<&str> {
    let start = text.find(TAG_PREFIX)?;
    let rest = &text[start..];
    let end = rest
        .char_indices()
        .skip(TAG_PREFIX.len())
        .find(|(_, c)| !c.is_ascii_digit())
        .map_or(rest.len(), |(i, _)| i);
    Some(&rest[..end])
}

/// One whole message the network saw, reduced to what the accounting needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeenMessage {
    /// Full text (parts joined).
    pub text: String,
    /// Recipient.
    pub to: String,
    /// Unix time in milliseconds the network accepted its last part.
    pub at_ms: i64,
}

/// Result of comparing the workload with what the network saw.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Accounting {
    /// Accepted messages the network saw exactly once with the right text and recipient.
    pub delivered: usize,
    /// Accepted messages the network never saw.
    pub missing: Vec<String>,
    /// Tags the network saw more than once (extra copies counted).
    pub duplicated: usize,
    /// Messages whose text or recipient arrived altered.
    pub corrupted: usize,
    /// The first altered message, for the notes.
    pub corrupted_example: Option<String>,
    /// Accept → sent latency of each delivered message, in milliseconds.
    pub latencies_ms: Vec<f64>,
    /// Unix ms of the last part the network accepted.
    pub last_sent_ms: Option<i64>,
    /// Unix ms of the first part the network accepted.
    pub first_sent_ms: Option<i64>,
}

/// Compares accepted messages (tag → accept time in Unix ms) with the messages the network saw.
pub fn account(
    workload: &[BenchMessage],
    accepted: &HashMap<String, i64>,
    seen: &[SeenMessage],
) -> Accounting {
    let mut by_tag: HashMap<&str, Vec<&SeenMessage>> = HashMap::new();
    let mut acc = Accounting::default();
    for s in seen {
        acc.last_sent_ms = Some(acc.last_sent_ms.map_or(s.at_ms, |t| t.max(s.at_ms)));
        acc.first_sent_ms = Some(acc.first_sent_ms.map_or(s.at_ms, |t| t.min(s.at_ms)));
        if let Some(tag) = tag_of(&s.text) {
            by_tag.entry(tag).or_default().push(s);
        }
    }
    for m in workload {
        let Some(&accepted_at) = accepted.get(&m.tag) else {
            continue;
        };
        match by_tag.get(m.tag.as_str()) {
            None => acc.missing.push(m.tag.clone()),
            Some(copies) => {
                acc.duplicated += copies.len() - 1;
                let first = copies[0];
                if first.text != m.text || first.to != m.to {
                    acc.corrupted += 1;
                    if acc.corrupted_example.is_none() {
                        acc.corrupted_example = Some(format!(
                            "sent {:?} to {}, network saw {:?} to {}",
                            m.text, m.to, first.text, first.to
                        ));
                    }
                } else {
                    acc.delivered += 1;
                }
                let sent = copies.iter().map(|c| c.at_ms).min().unwrap_or(first.at_ms);
                acc.latencies_ms.push((sent - accepted_at).max(0) as f64);
            }
        }
    }
    acc
}

/// The `p`-th percentile (0..=100) by nearest rank; `None` for no samples.
pub fn percentile(samples: &[f64], p: f64) -> Option<f64> {
    if samples.is_empty() {
        return None;
    }
    let mut v = samples.to_vec();
    v.sort_by(f64::total_cmp);
    let rank = ((p / 100.0) * v.len() as f64).ceil() as usize;
    Some(v[rank.clamp(1, v.len()) - 1])
}

/// Percentiles of a latency sample, in milliseconds.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Percentiles {
    /// Median.
    pub p50: Option<f64>,
    /// 90th percentile.
    pub p90: Option<f64>,
    /// 99th percentile.
    pub p99: Option<f64>,
    /// Maximum.
    pub max: Option<f64>,
}

impl Percentiles {
    /// Percentiles of `samples`.
    pub fn of(samples: &[f64]) -> Percentiles {
        Percentiles {
            p50: percentile(samples, 50.0),
            p90: percentile(samples, 90.0),
            p99: percentile(samples, 99.0),
            max: percentile(samples, 100.0),
        }
    }
}

/// Utilisation of a bank: the busy time the parts needed (`parts × mean send time`) over the time the
/// bank had (`modems × drain time`), in percent. `None` for instant modems (no send time to fill).
pub fn utilisation_pct(parts: usize, modems: usize, mean_send: Duration, drain: Duration) -> Option<f64> {
    if mean_send.is_zero() || modems == 0 || drain.is_zero() {
        return None;
    }
    let busy = parts as f64 * mean_send.as_secs_f64();
    Some(100.0 * busy / (modems as f64 * drain.as_secs_f64()))
}

/// Rates of a run's drain phase. Every field is `None` when the network saw nothing, or saw it no later
/// than the first submission: a rate over a window of ~0 s is a division artefact, not a measurement
/// (a run that sent nothing once reported 1,540,000 parts/s and 1,203,125 % utilisation).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Throughput {
    /// Seconds from the first submission to the last part on the network.
    pub drain_s: Option<f64>,
    /// Parts the network saw per second of drain.
    pub send_rate: Option<f64>,
    /// Whole messages the network saw per second of drain.
    pub message_rate: Option<f64>,
    /// Utilisation of the bank ([`utilisation_pct`]) over the parts the network saw.
    pub utilisation_pct: Option<f64>,
}

/// The drain's rates from what the network saw: `parts_sent` parts of `messages_sent` accepted messages,
/// the last one at `last_sent_ms`, the workload's first submission at `started_ms` (Unix ms).
pub fn throughput(
    parts_sent: usize,
    messages_sent: usize,
    modems: usize,
    mean_send: Duration,
    started_ms: i64,
    last_sent_ms: Option<i64>,
) -> Throughput {
    let Some(last) = last_sent_ms else {
        return Throughput::default();
    };
    if parts_sent == 0 || messages_sent == 0 || last <= started_ms {
        return Throughput::default();
    }
    let drain = Duration::from_millis((last - started_ms) as u64);
    let secs = drain.as_secs_f64();
    Throughput {
        drain_s: Some(secs),
        send_rate: Some(parts_sent as f64 / secs),
        message_rate: Some(messages_sent as f64 / secs),
        utilisation_pct: utilisation_pct(parts_sent, modems, mean_send, drain),
    }
}

/// Why a run measured nothing worth a row of numbers, if it did not: the system under test stopped
/// (`stopped`: which process, how, what it said last), accepted none of the `messages`, or accepted some
/// and the network saw none of them. `first_refusal` is the first submission error, if any.
pub fn run_error(
    messages: usize,
    accepted: usize,
    sent: usize,
    stopped: Option<&str>,
    first_refusal: Option<&str>,
) -> Option<String> {
    let refusal = first_refusal.map_or(String::new(), |r| format!(" (first refusal: {r})"));
    if let Some(stopped) = stopped {
        Some(format!("system under test stopped: {stopped}"))
    } else if messages > 0 && accepted == 0 {
        Some(format!("accepted none of {messages} messages{refusal}"))
    } else if accepted > 0 && sent == 0 {
        Some(format!(
            "accepted {accepted} messages but the network saw none of them"
        ))
    } else {
        None
    }
}

/// Words that mark a daemon's log line as the reason it stopped.
const FATAL_MARKERS: [&str; 6] = ["error", "too many", "fatal", "panic", "cannot", "***"];

/// The line of a daemon's log or stderr that most likely says why it stopped: the last one with an error
/// marker (smsd ends its log with "Smsd mainprocess terminated." after the actual reason), else the last
/// non-empty line.
pub fn last_words(log: &str) -> Option<&str> {
    let lines = || log.lines().rev().map(str::trim).filter(|l| !l.is_empty());
    lines()
        .find(|l| {
            let lower = l.to_lowercase();
            FATAL_MARKERS.iter().any(|m| lower.contains(m))
        })
        .or_else(|| lines().next())
}

/// Parts per second a bank can send at most (`None` for instant modems: no modem-side limit).
pub fn capacity_per_s(modems: usize, mean_send: Duration) -> Option<f64> {
    (!mean_send.is_zero()).then(|| modems as f64 / mean_send.as_secs_f64())
}

/// Which system a run measured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum System {
    /// smsgate over its HTTPS API.
    Smsgate,
    /// smstools' smsd with spool files.
    Smstools,
    /// gammu-smsd, one daemon per modem, files backend.
    GammuSmsd,
    /// Kannel bearerbox + smsbox, sendsms HTTP.
    Kannel,
}

impl System {
    /// Name used in tables and the plot.
    pub fn name(self) -> &'static str {
        match self {
            System::Smsgate => "smsgate",
            System::Smstools => "smstools",
            System::GammuSmsd => "gammu-smsd",
            System::Kannel => "kannel",
        }
    }
}

/// The measured result of one run, as written to the JSON results file.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RunResult {
    /// System measured (`smsgate`, `smstools`, ...).
    pub system: String,
    /// Configuration variant (`recommended`, `tuned`, `default`).
    pub variant: String,
    /// Modems in the bank.
    pub modems: usize,
    /// Latency profile (`instant`, `2s`, `realistic`).
    pub profile: String,
    /// Fault profile (`none`, `cms1pct+hung`).
    pub faults: String,
    /// Messages submitted.
    pub messages: usize,
    /// SMS parts those messages need.
    pub parts: usize,
    /// Messages the system accepted.
    pub accepted: usize,
    /// Messages per second accepted (submission phase).
    pub accept_rate: f64,
    /// Accept latency percentiles (ms), where the interface answers synchronously.
    pub accept_latency_ms: Percentiles,
    /// Parts per second sent, from the first submission to the last part on the network (`None` when
    /// nothing was sent; see [`throughput`]).
    pub send_rate: Option<f64>,
    /// Messages per second sent, same window.
    pub message_rate: Option<f64>,
    /// Seconds from the first submission to the last part on the network.
    pub drain_s: Option<f64>,
    /// Seconds the bank would need at full capacity (`parts × mean / modems`), if modems are not instant.
    pub ideal_drain_s: Option<f64>,
    /// Utilisation of the bank in percent, if modems are not instant.
    pub utilisation_pct: Option<f64>,
    /// Accept → sent latency percentiles (ms).
    pub latency_ms: Percentiles,
    /// CPU seconds (user + system) of the system's processes per 1,000 SMS parts sent (`None` when
    /// nothing was sent).
    pub cpu_s_per_1000: Option<f64>,
    /// Peak resident set size of the system's processes in MiB (sum over processes).
    pub peak_rss_mib: f64,
    /// Accepted messages the network never saw and the system does not report as failed/uncertain.
    pub lost: usize,
    /// Accepted messages the network never saw, reported `uncertain` or `failed` by the system.
    pub reported_unsent: usize,
    /// Extra copies the network saw.
    pub duplicated: usize,
    /// Messages that arrived with an altered text or recipient.
    pub corrupted: usize,
    /// Whether the run ended before everything was sent (deadline).
    pub timed_out: bool,
    /// Free-form notes (what was tuned, what went wrong).
    pub notes: Vec<String>,
    /// Why the run measured nothing (the system under test stopped, accepted nothing or sent nothing);
    /// absent for a run that measured something.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

#[cfg(test)]
mod tests;

/// Columns of [`markdown_table`].
const TABLE_COLUMNS: usize = 17;

/// The cells that name a run (system … msgs / parts), with the leading and trailing `|`.
fn row_head(r: &RunResult) -> String {
    format!(
        "| {} | {} | {} | {} | {} | {} / {} |",
        r.system, r.variant, r.modems, r.profile, r.faults, r.accepted, r.parts
    )
}

/// `v` with `digits` decimals, or `–` when there is no figure.
pub fn opt(v: Option<f64>, digits: usize) -> String {
    v.map_or("–".to_string(), |v| format!("{v:.digits$}"))
}

/// A Markdown table of results, one row per run (for BENCHMARKS.md); a failed run's row says why it failed
/// instead of its numbers.
pub fn markdown_table(results: &[RunResult]) -> String {
    let mut s = String::from(
        "| system | variant | modems | profile | faults | msgs / parts | accept/s | accept p99 ms | sent parts/s | \
         drain s (ideal) | util % | accept→sent p50 / p99 ms | CPU s / 1000 parts | peak RSS MiB | lost | dup | altered |\n\
         |---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n",
    );
    for r in results {
        if let Some(error) = &r.error {
            // A failed run: what failed, not a row of zeros.
            s.push_str(&format!(
                "{} **failed**: {} |{}\n",
                row_head(r),
                error.replace('|', "\\|"),
                " – |".repeat(TABLE_COLUMNS - 7),
            ));
            continue;
        }
        s.push_str(&format!(
            "{} {:.0} | {} | {} | {} ({}) | {} | {} / {} | {} | {:.1} | {}{} | {} | {} |\n",
            row_head(r),
            r.accept_rate,
            opt(r.accept_latency_ms.p99, 1),
            opt(r.send_rate, 1),
            opt(r.drain_s, 1),
            opt(r.ideal_drain_s, 1),
            opt(r.utilisation_pct, 1),
            opt(r.latency_ms.p50, 0),
            opt(r.latency_ms.p99, 0),
            opt(r.cpu_s_per_1000, 3),
            r.peak_rss_mib,
            r.lost,
            if r.reported_unsent > 0 {
                format!(" (+{} reported)", r.reported_unsent)
            } else {
                String::new()
            },
            r.duplicated,
            r.corrupted,
        ));
    }
    s
}
