#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed expectation is the test failing
use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

use super::peers::{self, Variant};
use super::procfs::{cpu_seconds_from_stat, status_kib};
use super::*;

#[test]
fn tags_are_found_in_sent_texts() {
    let check = |text: &str, expect: Option<&str>| assert_eq!(tag_of(text), expect, "{text}");
    check("#b000042 The quick", Some("#b000042"));
    check("#b7", Some("#b7"));
    check("prefix #b000001😀", Some("#b000001"));
    check("no tag here", None);
}

#[test]
fn workload_keeps_shares_and_unique_tags() {
    let w = workload(WorkloadSpec {
        messages: 200,
        multipart_pct: 10,
        unicode_pct: 20,
    });
    assert_eq!(w.len(), 200);
    assert_eq!(w.iter().filter(|m| m.parts == 3).count(), 20);
    let unicode = w.iter().filter(|m| m.text.contains('ż')).count();
    assert_eq!(unicode, 40);
    let tags: std::collections::HashSet<_> = w.iter().map(|m| m.tag.as_str()).collect();
    assert_eq!(tags.len(), 200);
    for m in &w {
        assert_eq!(tag_of(&m.text), Some(m.tag.as_str()));
        // Every text really needs the parts it claims (GSM-7 160/153 septets, UCS-2 70).
        let chars = m.text.chars().count();
        let ucs2 = !m.text.is_ascii();
        match (m.parts, ucs2) {
            (1, false) => assert!(chars <= 160),
            (1, true) => assert!(m.text.encode_utf16().count() <= 70),
            (3, false) => assert!(chars > 2 * 153 && chars <= 3 * 153),
            other => panic!("unexpected {other:?}"),
        }
    }
}

fn seen(m: &BenchMessage, at_ms: i64) -> SeenMessage {
    SeenMessage {
        text: m.text.clone(),
        to: m.to.clone(),
        at_ms,
    }
}

#[test]
fn accounting_finds_lost_duplicated_and_corrupted() {
    let w = workload(WorkloadSpec {
        messages: 5,
        multipart_pct: 0,
        unicode_pct: 0,
    });
    let accepted: HashMap<String, i64> = w[..4].iter().map(|m| (m.tag.clone(), 1_000)).collect();
    let mut altered = seen(&w[2], 1_300);
    altered.text.push('!');
    let network = vec![
        seen(&w[0], 1_100),
        seen(&w[0], 1_500),
        seen(&w[1], 1_200),
        altered,
        seen(&w[4], 1_900), // not accepted: ignored
    ];
    let a = account(&w, &accepted, &network);
    assert_eq!(a.delivered, 2);
    assert_eq!(a.missing, vec![w[3].tag.clone()]);
    assert_eq!(a.duplicated, 1);
    assert_eq!(a.corrupted, 1);
    assert_eq!(a.latencies_ms, vec![100.0, 200.0, 300.0]);
    assert_eq!((a.first_sent_ms, a.last_sent_ms), (Some(1_100), Some(1_900)));
}

#[test]
fn percentiles_by_nearest_rank() {
    let v: Vec<f64> = (1..=100).map(f64::from).collect();
    let check = |p: f64, expect: f64| assert_eq!(percentile(&v, p), Some(expect), "p{p}");
    check(50.0, 50.0);
    check(99.0, 99.0);
    check(100.0, 100.0);
    check(0.0, 1.0);
    assert_eq!(percentile(&[], 50.0), None);
}

#[test]
fn utilisation_and_capacity() {
    let two = Duration::from_secs(2);
    // 4 modems, 100 parts of 2 s: 50 s at full capacity.
    assert_eq!(utilisation_pct(100, 4, two, Duration::from_secs(50)), Some(100.0));
    assert_eq!(utilisation_pct(100, 4, two, Duration::from_secs(100)), Some(50.0));
    assert_eq!(
        utilisation_pct(100, 4, Duration::ZERO, Duration::from_secs(1)),
        None
    );
    assert_eq!(capacity_per_s(64, two), Some(32.0));
    assert_eq!(capacity_per_s(64, Duration::ZERO), None);
}

#[test]
fn nothing_sent_has_no_rates() {
    let two = Duration::from_secs(2);
    let none = Throughput::default();
    let check = |parts, msgs, modems, mean, last: Option<i64>, expect: Throughput| {
        assert_eq!(
            throughput(parts, msgs, modems, mean, 1_000, last),
            expect,
            "{parts} parts, {msgs} msgs, {modems} modems, last {last:?}"
        );
    };
    // The network saw nothing: no drain, no rate, no utilisation (not 1,540 parts / 1 ms).
    check(0, 0, 256, two, None, none);
    check(1540, 1280, 256, two, None, none);
    // Nothing sent after the first submission (a drain of ~0 s) measures nothing either.
    check(1540, 1280, 256, two, Some(1_000), none);
    check(1540, 1280, 256, two, Some(999), none);
    check(0, 0, 256, two, Some(5_000), none);
    // 100 parts of 80 messages on 4 two-second modems in 100 s: 1 part/s, 50 %.
    check(
        100,
        80,
        4,
        two,
        Some(101_000),
        Throughput {
            drain_s: Some(100.0),
            send_rate: Some(1.0),
            message_rate: Some(0.8),
            utilisation_pct: Some(50.0),
        },
    );
    // Instant modems: rates, but no utilisation.
    check(
        500,
        500,
        16,
        Duration::ZERO,
        Some(1_500),
        Throughput {
            drain_s: Some(0.5),
            send_rate: Some(1000.0),
            message_rate: Some(1000.0),
            utilisation_pct: None,
        },
    );
}

#[test]
fn failed_runs_say_why() {
    let check =
        |messages, accepted, sent, stopped: Option<&str>, refusal: Option<&str>, expect: Option<&str>| {
            assert_eq!(
                run_error(messages, accepted, sent, stopped, refusal).as_deref(),
                expect,
                "{messages} messages, {accepted} accepted, {sent} sent, {stopped:?}, {refusal:?}"
            );
        };
    check(1280, 1280, 1280, None, None, None);
    check(1280, 1000, 900, None, Some("503"), None);
    check(0, 0, 0, None, None, None);
    check(
        1280,
        0,
        0,
        None,
        Some("sendsms: connection refused"),
        Some("accepted none of 1280 messages (first refusal: sendsms: connection refused)"),
    );
    check(1280, 0, 0, None, None, Some("accepted none of 1280 messages"));
    check(
        1280,
        1280,
        0,
        None,
        None,
        Some("accepted 1280 messages but the network saw none of them"),
    );
    check(
        1280,
        0,
        0,
        Some("bearerbox exited (signal: 6)"),
        Some("refused"),
        Some("system under test stopped: bearerbox exited (signal: 6)"),
    );
}

#[test]
fn last_words_find_the_reason() {
    let check = |log: &str, expect: Option<&str>| assert_eq!(last_words(log), expect, "{log}");
    let smsd = "2026-11-25 13:32:56,2, smsd: Smsd v3.1.21 started.\n\
                2026-11-25 13:32:56,2, smsd: There was 1 error while reading the config file:\n\
                2026-11-25 13:32:56,2, smsd: - Too many devices specified. Increase NUMBER_OF_MODEMS value in src/Makefile.\n\
                2026-11-25 13:32:56,2, smsd: There was 1 major problem found.\n\
                2026-11-25 13:32:56,2, smsd: Smsd mainprocess terminated.\n";
    check(
        smsd,
        Some(
            "2026-11-25 13:32:56,2, smsd: - Too many devices specified. Increase NUMBER_OF_MODEMS value in src/Makefile.",
        ),
    );
    check(
        "INFO: AT2[sim163]: Logging in\n*** bit out of range 0 - FD_SETSIZE on fd_set ***: terminated\n\n",
        Some("*** bit out of range 0 - FD_SETSIZE on fd_set ***: terminated"),
    );
    check("started\nstopping\n", Some("stopping"));
    check("\n  \n", None);
}

#[test]
fn failed_run_rows_name_the_error() {
    let failed = RunResult {
        system: "kannel".into(),
        variant: "recommended".into(),
        modems: 256,
        profile: "2s".into(),
        faults: "none".into(),
        messages: 1280,
        error: Some("accepted none of 1280 messages (first refusal: a|b)".into()),
        ..RunResult::default()
    };
    let ok = RunResult {
        error: None,
        accepted: 4,
        parts: 4,
        send_rate: None,
        ..failed.clone()
    };
    let table = markdown_table(&[failed, ok]);
    let rows: Vec<&str> = table.lines().collect();
    assert_eq!(rows.len(), 4, "{table}");
    let cells = |row: &str| row.matches('|').count() - row.matches("\\|").count();
    assert_eq!(cells(rows[2]), cells(rows[0]), "{table}");
    assert_eq!(cells(rows[3]), cells(rows[0]), "{table}");
    assert!(
        rows[2].contains("| 0 / 0 | **failed**: accepted none of 1280 messages (first refusal: a\\|b) | – |"),
        "{table}"
    );
    // A run without rates shows dashes, not zeros.
    assert!(rows[3].contains("| 4 / 4 | 0 | – | – | – (–) | – |"), "{table}");
    // Failed runs are not drawn.
    let svg = plot::svg(&[RunResult {
        error: Some("x".into()),
        send_rate: Some(1.0),
        ..RunResult::default()
    }]);
    assert_eq!(svg.matches("<polyline").count(), 0, "{svg}");
}

#[test]
#[allow(clippy::single_range_in_vec_init)] // a list of one instance's device range, not a range of numbers
fn smstools_banks_split_into_instances() {
    let check = |devices, max, expect: &[std::ops::Range<usize>]| {
        assert_eq!(
            peers::smstools_instances(devices, max),
            expect,
            "{devices} devices, max {max}"
        );
    };
    check(0, 64, &[]);
    check(4, 64, &[0..4]);
    check(64, 64, &[0..64]);
    check(65, 64, &[0..33, 33..65]);
    check(256, 64, &[0..64, 64..128, 128..192, 192..256]);
    check(100, 64, &[0..50, 50..100]);
    check(5, 2, &[0..2, 2..4, 4..5]);
    check(3, 0, &[0..1, 1..2, 2..3]);
    // Every device lands in exactly one instance, none above the limit.
    for devices in 0..300 {
        let parts = peers::smstools_instances(devices, peers::SMSTOOLS_MAX_DEVICES);
        assert!(parts.iter().all(|r| r.len() <= peers::SMSTOOLS_MAX_DEVICES));
        assert_eq!(parts.iter().map(|r| r.len()).sum::<usize>(), devices);
        assert_eq!(parts.len(), devices.div_ceil(peers::SMSTOOLS_MAX_DEVICES));
    }
}

#[test]
fn old_results_files_still_load() {
    // Results written before rates became optional (numbers) and before the error field.
    let json = r#"[{"system":"smstools","variant":"tuned","modems":4,"profile":"instant","faults":"none",
        "messages":40,"parts":40,"accepted":40,"accept_rate":10.0,
        "accept_latency_ms":{"p50":null,"p90":null,"p99":null,"max":null},"send_rate":2.8,"message_rate":2.8,
        "drain_s":14.2,"ideal_drain_s":null,"utilisation_pct":null,
        "latency_ms":{"p50":1.0,"p90":2.0,"p99":3.0,"max":4.0},"cpu_s_per_1000":5.5,"peak_rss_mib":28.0,
        "lost":0,"reported_unsent":0,"duplicated":0,"corrupted":0,"timed_out":false,"notes":[]}]"#;
    let runs: Vec<RunResult> = serde_json::from_str(json).unwrap();
    assert_eq!(runs[0].send_rate, Some(2.8));
    assert_eq!(runs[0].cpu_s_per_1000, Some(5.5));
    assert_eq!(runs[0].error, None);
    // A successful run writes no error field.
    assert!(!serde_json::to_string(&runs[0]).unwrap().contains("\"error\""));
}

#[test]
fn proc_files_are_parsed() {
    let stat = "1234 (smsgate (x) y) S 1 1234 1234 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 9 0 100 0 0";
    assert_eq!(cpu_seconds_from_stat(stat), Some(3.0));
    assert_eq!(cpu_seconds_from_stat("garbage"), None);
    let status = "Name:\tsmsgate\nVmPeak:\t  100 kB\nVmHWM:\t   20480 kB\nVmRSS:\t 10240 kB\n";
    assert_eq!(status_kib(status, "VmHWM"), Some(20480));
    assert_eq!(status_kib(status, "VmRSS"), Some(10240));
    assert_eq!(status_kib(status, "VmSwap"), None);
    let me = procfs::sample("self").unwrap();
    assert!(me.peak_rss_kib > 0);
}

#[test]
fn peer_configs_name_every_modem() {
    let dir = Path::new("/tmp/bench");
    let devs = [Path::new("/tmp/bank/modem0"), Path::new("/tmp/bank/modem1")];
    let conf = peers::smstools_conf(dir, &devs, Variant::Tuned);
    assert!(conf.contains("devices = GSM1,GSM2\n"), "{conf}");
    assert!(conf.contains("[GSM2]\ndevice = /tmp/bank/modem1\n"), "{conf}");
    assert!(conf.contains("delaytime = 1\n"));
    assert!(peers::smstools_conf(dir, &devs, Variant::Recommended).contains("delaytime = 10\n"));
    assert_eq!(
        peers::smstools_file("+48500", "hi"),
        "To: 48500\nAlphabet: UTF-8\n\nhi"
    );
    let rc = peers::gammu_smsdrc(dir, devs[1], "sim1", Variant::Recommended);
    assert!(
        rc.contains("device = /tmp/bank/modem1\n") && rc.contains("phoneid = sim1\n"),
        "{rc}"
    );
    let ports = peers::KannelPorts {
        admin: 1,
        smsbox: 2,
        sendsms: 3,
    };
    let k = peers::kannel_conf(
        dir,
        &[(devs[0], "+1"), (devs[1], "+2")],
        ports,
        Variant::Recommended,
    );
    assert_eq!(k.matches("group = smsc\n").count(), 2, "{k}");
    assert!(
        k.contains("smsc-id = sim1\n") && k.contains("sendsms-port = 3\n"),
        "{k}"
    );
}

#[test]
fn svg_has_a_line_per_series() {
    let r = |system: &str, modems, rate, util| RunResult {
        system: system.into(),
        variant: "default".into(),
        profile: "2s".into(),
        faults: "none".into(),
        modems,
        send_rate: Some(rate),
        utilisation_pct: util,
        ..RunResult::default()
    };
    let results = vec![
        r("smsgate", 4, 2.0, Some(99.0)),
        r("smsgate", 16, 8.0, Some(98.0)),
        r("smstools", 4, 1.7, Some(85.0)),
    ];
    let svg = plot::svg(&results);
    assert!(svg.starts_with("<svg"));
    // Two panels, two series each.
    assert_eq!(svg.matches("<polyline").count(), 4, "{svg}");
    assert!(svg.contains("smstools default (2s)"));
}
