//! Two smsgate nodes (the real binary, on 127.0.0.2 and 127.0.0.3) on one PostgreSQL server (TLS,
//! client certificates from the appliance CA made by `smsgate cluster issue-cert`), each with its own
//! bank of simulated modems. The banks live in this test process, so what went on air survives a node's
//! death.
//!
//! Messages posted to either node go out through both nodes' modems; node A is killed with SIGKILL
//! while it holds claimed work; node B sends that work after A's lease ends; nothing is lost and nothing
//! goes on air twice outside `uncertain`; A restarts, rejoins and sends again.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod cluster_node;
mod common;
mod pg_harness;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use cluster_node::{Node, smsgate};
use hw_sim::{Bank, BankConfig, DelayProfile};
use pg_harness::TestPg;
use serde_json::Value;

const PASSWORD: &str = "cluster test operator passphrase";
const MODEMS_PER_NODE: usize = 2;
const FIRST_BATCH: usize = 160;
const AFTER_RESTART: usize = 20;
const DB: &str = "cluster";
/// Messages and per-send delay of the throughput comparison (modem-bound, as with real modems).
const BENCH_MESSAGES: usize = 400;
const BENCH_SEND_MS: u64 = 250;

/// Writes a node's config: its modems (links of its own bank), listener, and the cluster section.
fn write_config(dir: &Path, name: &str, ip: &str, bank: &Bank, pg: &TestPg, certs: &Path) -> PathBuf {
    write_config_db(dir, name, ip, bank, pg, certs, DB)
}

fn write_config_db(
    dir: &Path,
    name: &str,
    ip: &str,
    bank: &Bank,
    pg: &TestPg,
    certs: &Path,
    db: &str,
) -> PathBuf {
    let mut config = format!(
        "version = 1\ndata_dir = {data:?}\n[http]\nlisten = [\"{ip}:0\"]\npublic_hostnames = [\"{ip}\"]\n\
         [dispatch]\nsend_timeout_seconds = 30\n\
         [cluster]\nenabled = true\nnode_id = \"{name}\"\nsite = \"site-{name}\"\npostgres_url = {url:?}\n\
         ca = {ca:?}\ncert = {cert:?}\nkey = {key:?}\nlease_seconds = 4\nheartbeat_seconds = 1\nclaim_batch = 4\n",
        data = dir.join(format!("data-{name}")).display().to_string(),
        url = pg.url(db),
        ca = certs.join("tls").join("ca.pem").display().to_string(),
        cert = certs.join(format!("{name}.pem")).display().to_string(),
        key = certs.join(format!("{name}.key")).display().to_string(),
    );
    for m in bank.modems() {
        config.push_str(&format!(
            "[[modem]]\nname = \"{name}{}\"\nport = {:?}\n",
            m.index,
            m.link.display().to_string()
        ));
    }
    let path = dir.join(format!("{name}-{db}.toml"));
    std::fs::write(&path, config).unwrap();
    path
}

async fn post(node: &Node, text: &str) -> String {
    let r = node
        .client
        .post(format!("https://{}/api/v1/messages", node.base))
        .basic_auth("admin", Some(PASSWORD))
        .json(&serde_json::json!({"to": "+48510000001", "text": text}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202, "post to {}", node.base);
    let body: Value = r.json().await.unwrap();
    body["messages"][0]["id"].as_str().unwrap().to_owned()
}

async fn bank(dir: &Path, name: &str) -> Bank {
    // Slow enough that a node always holds claimed work while the test runs.
    bank_with_delay(dir, name, 60).await
}

async fn bank_with_delay(dir: &Path, name: &str, ms: u64) -> Bank {
    Bank::start(BankConfig {
        count: MODEMS_PER_NODE,
        dir: dir.join(format!("modems-{name}")),
        delay: DelayProfile::Fixed { ms },
        // Distinct identities per bank: modems are known cluster-wide by IMEI.
        seed: u64::from(name.as_bytes()[0]),
        ..BankConfig::default()
    })
    .await
    .unwrap()
}

fn on_air(banks: &[&Bank]) -> HashMap<String, usize> {
    let mut out = HashMap::new();
    for b in banks {
        for i in 0..MODEMS_PER_NODE {
            for m in b.control().sent_texts(i).unwrap() {
                *out.entry(m.text).or_default() += 1;
            }
        }
    }
    out
}

fn count(pg: &TestPg, sql: &str) -> i64 {
    count_in(pg, DB, sql)
}

fn count_in(pg: &TestPg, db: &str, sql: &str) -> i64 {
    pg.psql(db, sql).parse().unwrap()
}

/// Waits until every message is in a final state; returns id → status.
fn wait_final(pg: &TestPg, expect: usize, within: Duration) -> HashMap<String, String> {
    let deadline = Instant::now() + within;
    loop {
        let open = count(
            pg,
            "SELECT count(*) FROM messages WHERE status IN ('queued', 'sending')",
        );
        let all = count(pg, "SELECT count(*) FROM messages");
        if open == 0 && all as usize == expect {
            break;
        }
        assert!(Instant::now() < deadline, "{open} of {all} messages still open");
        std::thread::sleep(Duration::from_millis(200));
    }
    pg.psql(DB, "SELECT id || ' ' || status FROM messages")
        .lines()
        .map(|l| {
            let (id, s) = l.split_once(' ').unwrap();
            (id.to_owned(), s.to_owned())
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_share_the_queue_and_survive_a_kill() {
    let dir = tempfile::tempdir().unwrap();
    // The appliance CA and the nodes' client certificates, made the documented way.
    let certs = dir.path().join("ca-home");
    for node in ["a", "b"] {
        let out = smsgate()
            .args(["cluster", "--data-dir"])
            .arg(&certs)
            .args(["issue-cert", node, "--out"])
            .arg(certs.join(node))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "issue-cert: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let (ca, _) = smsgate::tls::ApplianceCa::load_or_create(&certs.join("tls")).unwrap();
    let pg = TestPg::start_with_ca(ca);
    pg.create_db(DB);

    let bank_a = bank(dir.path(), "a").await;
    let bank_b = bank(dir.path(), "b").await;
    let config_a = write_config(dir.path(), "a", "127.0.0.2", &bank_a, &pg, &certs);
    let config_b = write_config(dir.path(), "b", "127.0.0.3", &bank_b, &pg, &certs);
    let node_a = cluster_node::spawn(&config_a, "127.0.0.2", PASSWORD);
    let node_b = cluster_node::spawn(&config_b, "127.0.0.3", PASSWORD);

    // Post alternately to both nodes; texts are unique so the air can be audited.
    let mut texts: HashMap<String, String> = HashMap::new();
    for i in 0..FIRST_BATCH {
        let text = format!("cluster message {i}");
        let node = if i % 2 == 0 { &node_a } else { &node_b };
        texts.insert(post(node, &text).await, text);
    }

    // Kill A while it holds claimed, unsent work (and after both nodes have sent).
    let deadline = Instant::now() + Duration::from_secs(120);
    let held_by_a: Vec<String> = loop {
        let sent_by = |n: &str| count(&pg, &format!("SELECT count(*) FROM attempts WHERE node = '{n}'"));
        let held = pg.psql(
            DB,
            "SELECT id FROM messages WHERE lease_node = 'a' AND status = 'queued'",
        );
        if sent_by("a") > 0 && sent_by("b") > 0 && !held.is_empty() {
            break held.lines().map(str::to_owned).collect();
        }
        assert!(Instant::now() < deadline, "node A never held claimed work");
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut node_a = node_a;
    node_a.child.kill().unwrap(); // SIGKILL: no shutdown path runs
    node_a.child.wait().unwrap();
    let killed_at = Instant::now();

    let statuses = wait_final(&pg, FIRST_BATCH, Duration::from_secs(180));
    let takeover = killed_at.elapsed();
    let by_b: Vec<&String> = held_by_a
        .iter()
        .filter(|id| {
            count(
                &pg,
                &format!("SELECT count(*) FROM attempts WHERE message_id = '{id}' AND node = 'b' AND outcome = 'sent'"),
            ) == 1
        })
        .collect();
    assert!(
        !by_b.is_empty(),
        "node B sent none of the {} messages A held",
        held_by_a.len()
    );

    let air = on_air(&[&bank_a, &bank_b]);
    let mut uncertain = 0;
    for (id, text) in &texts {
        let times = air.get(text).copied().unwrap_or(0);
        match statuses.get(id).map(String::as_str) {
            Some("sent" | "delivered") => assert_eq!(times, 1, "{id} ({text}) on air {times}x"),
            Some("uncertain") => {
                uncertain += 1;
                assert!(times <= 1, "{id} ({text}) uncertain but on air {times}x");
            }
            other => panic!("{id} lost or failed: {other:?}"),
        }
    }
    assert!(air.values().all(|&n| n == 1), "a message went on air twice");
    let via = |b: &Bank| {
        (0..MODEMS_PER_NODE)
            .map(|i| b.control().sent_texts(i).unwrap().len())
            .sum::<usize>()
    };
    let (via_a, via_b) = (via(&bank_a), via(&bank_b));
    assert!(
        via_a > 0 && via_b > 0,
        "both nodes' modems sent ({via_a}/{via_b})"
    );

    // A restarts on its data directory and rejoins: it claims and sends again.
    let node_a = cluster_node::spawn(&config_a, "127.0.0.2", PASSWORD);
    let mut more = HashMap::new();
    for i in 0..AFTER_RESTART {
        let text = format!("after restart {i}");
        more.insert(post(&node_a, &text).await, text);
    }
    let statuses = wait_final(&pg, FIRST_BATCH + AFTER_RESTART, Duration::from_secs(120));
    let air = on_air(&[&bank_a, &bank_b]);
    for (id, text) in &more {
        assert!(
            matches!(statuses[id].as_str(), "sent" | "delivered"),
            "{id}: {}",
            statuses[id]
        );
        assert_eq!(air.get(text), Some(&1), "{text}");
    }
    assert!(via(&bank_a) > via_a, "the restarted node sends again");

    // Accounts are shared: one created through node A's CLI (while A runs) works on node B at once,
    // and its messages are visible through either node, to it only.
    let out = smsgate()
        .args(["account", "--config"])
        .arg(&config_a)
        .args(["create", "shop"])
        .env("SMSGATE_ACCOUNT_PASSWORD", "retail long cluster passphrase")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "account create: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let r = node_b
        .client
        .post(format!("https://{}/api/v1/messages", node_b.base))
        .basic_auth("shop", Some("retail long cluster passphrase"))
        .json(&serde_json::json!({"to": "+48510000002", "text": "from the shop"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    let id = r.json::<Value>().await.unwrap()["messages"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let seen = node_a
        .client
        .get(format!("https://{}/api/v1/messages/{id}", node_a.base))
        .basic_auth("shop", Some("retail long cluster passphrase"))
        .send()
        .await
        .unwrap();
    assert_eq!(seen.status(), 200, "the shop's message through the other node");
    let denied = node_a
        .client
        .get(format!(
            "https://{}/api/v1/messages/{}",
            node_a.base,
            more.keys().next().unwrap()
        ))
        .basic_auth("shop", Some("retail long cluster passphrase"))
        .send()
        .await
        .unwrap();
    assert_eq!(denied.status(), 404, "the admin's message is not the shop's");
    wait_final(&pg, FIRST_BATCH + AFTER_RESTART + 1, Duration::from_secs(60));

    let status = smsgate()
        .args(["cluster", "--config"])
        .arg(&config_b)
        .args(["status", "--json"])
        .output()
        .unwrap();
    assert!(
        status.status.success(),
        "cluster status: {}",
        String::from_utf8_lossy(&status.stderr)
    );
    let status: Value = serde_json::from_slice(&status.stdout).unwrap();
    let nodes: Vec<&str> = status["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["node_id"].as_str().unwrap())
        .collect();
    assert_eq!(nodes, vec!["a", "b"]);
    assert_eq!(
        status["nodes"][0]["modems"].as_array().unwrap().len(),
        MODEMS_PER_NODE
    );
    let text = smsgate()
        .args(["cluster", "--config"])
        .arg(&config_b)
        .arg("status")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(text.contains("site-a") && text.contains("lag"), "{text}");

    eprintln!(
        "{} + {} messages; node A held {} when killed, B sent {} of them; all settled {:.1}s after the kill; \
         {uncertain} uncertain; on air via A {via_a}, via B {via_b} before the restart",
        FIRST_BATCH,
        AFTER_RESTART,
        held_by_a.len(),
        by_b.len(),
        takeover.as_secs_f64()
    );
    drop(node_a);
    drop(node_b);
    bank_a.shutdown().await;
    bank_b.shutdown().await;
}

/// Sends [`BENCH_MESSAGES`] through `nodes` nodes of [`MODEMS_PER_NODE`] modems each (every send takes
/// [`BENCH_SEND_MS`] on the simulated network) and returns messages per second from the moment they
/// all became due to the last send.
async fn throughput(pg: &TestPg, certs: &Path, nodes: usize) -> f64 {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("bench{nodes}");
    pg.create_db(&db);
    let names = ["a", "b"];
    let ips = ["127.0.0.2", "127.0.0.3"];
    let mut banks = Vec::new();
    let mut running = Vec::new();
    for i in 0..nodes {
        let bank = bank_with_delay(dir.path(), names[i], BENCH_SEND_MS).await;
        let config = write_config_db(dir.path(), names[i], ips[i], &bank, pg, certs, &db);
        running.push(cluster_node::spawn(&config, ips[i], PASSWORD));
        banks.push(bank);
    }
    // Every node's modems are ready before the clock starts.
    let deadline = Instant::now() + Duration::from_secs(60);
    while count_in(
        pg,
        &db,
        "SELECT count(*) FROM cluster_nodes WHERE modems LIKE '%\"ready\":true%'",
    ) < nodes as i64
    {
        assert!(Instant::now() < deadline, "nodes not ready");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Everything is accepted first and becomes due at one moment, so the number measures sending
    // (claims, leases, modems), not how fast this loaded test machine can post.
    let send_at = time::OffsetDateTime::now_utc() + time::Duration::seconds(40);
    let send_at_ms = (send_at.unix_timestamp_nanos() / 1_000_000) as i64;
    let send_at_text = send_at
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    let mut posts = Vec::new();
    for i in 0..BENCH_MESSAGES {
        let node = &running[i % nodes];
        let (client, base, at) = (node.client.clone(), node.base.clone(), send_at_text.clone());
        posts.push(tokio::spawn(async move {
            let r = client
                .post(format!("https://{base}/api/v1/messages"))
                .basic_auth("admin", Some(PASSWORD))
                .json(&serde_json::json!({"to": "+48510000001", "text": format!("bench {i}"), "send_at": at}))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 202);
        }));
        if posts.len() >= 8 {
            for p in posts.drain(..) {
                p.await.unwrap();
            }
        }
    }
    for p in posts {
        p.await.unwrap();
    }
    assert!(
        time::OffsetDateTime::now_utc() < send_at,
        "posting took longer than the head start"
    );
    let deadline = Instant::now() + Duration::from_secs(600);
    while count_in(
        pg,
        &db,
        "SELECT count(*) FROM messages WHERE status IN ('sent', 'delivered')",
    ) < BENCH_MESSAGES as i64
    {
        assert!(Instant::now() < deadline, "bench messages not all sent");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let last = count_in(pg, &db, "SELECT max(finished_at) FROM attempts");
    let rate = BENCH_MESSAGES as f64 * 1000.0 / (last - send_at_ms) as f64;
    eprintln!(
        "{nodes} node(s): per modem (attempts, mean send ms, mean gap ms between sends): {}",
        pg.psql(
            &db,
            "SELECT string_agg(modem || ' ' || n || ' ' || send || ' ' || gap, ', ') FROM (
                 SELECT modem, count(*) n, avg(finished_at - started_at)::int send,
                        avg(started_at - prev)::int gap
                 FROM (SELECT modem, started_at, finished_at,
                              lag(finished_at) OVER (PARTITION BY modem ORDER BY started_at) prev
                       FROM attempts) x GROUP BY modem) y"
        )
    );
    drop(running);
    for b in banks {
        b.shutdown().await;
    }
    rate
}

/// The throughput of two nodes against one (BENCHMARKS.md, "Multi-site cluster"); a benchmark, so not
/// part of the default run: `cargo test --release --test cluster_e2e -- --ignored --nocapture`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "benchmark; run with --ignored --nocapture"]
async fn two_nodes_send_about_twice_as_fast_as_one() {
    let dir = tempfile::tempdir().unwrap();
    let certs = dir.path().join("ca-home");
    for node in ["a", "b"] {
        let out = smsgate()
            .args(["cluster", "--data-dir"])
            .arg(&certs)
            .args(["issue-cert", node, "--out"])
            .arg(certs.join(node))
            .output()
            .unwrap();
        assert!(out.status.success());
    }
    let (ca, _) = smsgate::tls::ApplianceCa::load_or_create(&certs.join("tls")).unwrap();
    let pg = TestPg::start_with_ca(ca);
    let one = throughput(&pg, &certs, 1).await;
    let two = throughput(&pg, &certs, 2).await;
    let ideal = (MODEMS_PER_NODE as f64) * 1000.0 / BENCH_SEND_MS as f64;
    eprintln!(
        "{BENCH_MESSAGES} messages, {MODEMS_PER_NODE} modems per node, {BENCH_SEND_MS} ms per send: \
         one node {one:.1}/s ({:.0}% of its modems' capacity {ideal:.1}/s), two nodes {two:.1}/s = {:.2}x",
        100.0 * one / ideal,
        two / one
    );
    assert!(two / one >= 1.8, "two nodes {two:.1}/s vs one {one:.1}/s");
}
