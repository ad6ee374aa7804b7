//! PostgreSQL failover under a running node: a primary and a streaming standby made with
//! `pg_basebackup -R` (TLS and client certificates on both, synchronous commit to the standby as
//! docs/cluster.md recommends), one smsgate node (the real binary) whose `postgres_url` names both
//! servers with `target_session_attrs=read-write`.
//!
//! Messages flow; the primary is stopped (immediate, like a power cut); `/readyz` reports not-ready
//! while no primary is reachable; the standby is promoted; the node finds it on its own and keeps
//! accepting and sending. Every message answered 202 before, during or after the switch is on the new
//! primary and settles; none goes on air twice, and one that might have gone out is `uncertain`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod cluster_node;
mod common;
mod pg_harness;

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use cluster_node::{Node, smsgate};
use hw_sim::{Bank, BankConfig, DelayProfile};
use pg_harness::TestPg;
use serde_json::Value;
use tokio::sync::Mutex;

const PASSWORD: &str = "cluster failover operator passphrase";
const MODEMS: usize = 2;
const DB: &str = "failover";
/// How long no primary is reachable before the standby is promoted.
const OUTAGE: Duration = Duration::from_secs(3);
/// Pause between two posts of the load generator.
const POST_EVERY: Duration = Duration::from_millis(40);
/// One request never waits longer than this (a node that hangs on a lost database fails the test).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(15);

/// What the load generator saw: accepted id → text, and how many posts were refused or timed out.
#[derive(Default)]
struct Posted {
    accepted: HashMap<String, String>,
    /// (time of the answer, accepted?) of every post.
    answers: Vec<(Instant, bool)>,
    /// Statuses of the refusals (0: no HTTP answer).
    refusals: Vec<u16>,
}

/// The id of the accepted message, or the status of the refusal (0: no HTTP answer).
async fn post(client: &reqwest::Client, base: &str, text: &str) -> Result<String, u16> {
    let r = client
        .post(format!("https://{base}/api/v1/messages"))
        .basic_auth("admin", Some(PASSWORD))
        .json(&serde_json::json!({"to": "+48510000001", "text": text}))
        .timeout(REQUEST_TIMEOUT)
        .send()
        .await
        .map_err(|_| 0u16)?;
    if r.status() != 202 {
        return Err(r.status().as_u16());
    }
    let body: Value = r.json().await.map_err(|_| 0u16)?;
    body["messages"][0]["id"].as_str().map(str::to_owned).ok_or(0)
}

async fn ready(node: &Node) -> bool {
    node.client
        .get(format!("https://{}/readyz", node.base))
        .timeout(REQUEST_TIMEOUT)
        .send()
        .await
        .is_ok_and(|r| r.status() == 200)
}

fn count(pg: &TestPg, sql: &str) -> i64 {
    pg.psql(DB, sql).parse().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_follows_the_promoted_standby() {
    let dir = tempfile::tempdir().unwrap();
    let certs = dir.path().join("ca-home");
    let out = smsgate()
        .args(["cluster", "--data-dir"])
        .arg(&certs)
        .args(["issue-cert", "a", "--out"])
        .arg(certs.join("a"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "issue-cert: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (ca, _) = smsgate::tls::ApplianceCa::load_or_create(&certs.join("tls")).unwrap();
    let primary = TestPg::start_with_ca(ca);
    primary.create_db(DB);
    let standby = primary.start_standby(true);

    let bank = Bank::start(BankConfig {
        count: MODEMS,
        dir: dir.path().join("modems"),
        delay: DelayProfile::Fixed { ms: 60 },
        ..BankConfig::default()
    })
    .await
    .unwrap();
    let mut config = format!(
        "version = 1\ndata_dir = {data:?}\n[http]\nlisten = [\"127.0.0.2:0\"]\npublic_hostnames = [\"127.0.0.2\"]\n\
         [dispatch]\nsend_timeout_seconds = 30\n\
         [cluster]\nenabled = true\nnode_id = \"a\"\nsite = \"site-a\"\npostgres_url = {url:?}\n\
         ca = {ca:?}\ncert = {cert:?}\nkey = {key:?}\nlease_seconds = 4\nheartbeat_seconds = 1\nclaim_batch = 4\n",
        data = dir.path().join("data-a").display().to_string(),
        url = TestPg::failover_url(&primary, &standby, DB),
        ca = certs.join("tls").join("ca.pem").display().to_string(),
        cert = certs.join("a.pem").display().to_string(),
        key = certs.join("a.key").display().to_string(),
    );
    for m in bank.modems() {
        config.push_str(&format!(
            "[[modem]]\nname = \"a{}\"\nport = {:?}\n",
            m.index,
            m.link.display().to_string()
        ));
    }
    let config_path = dir.path().join("a.toml");
    std::fs::write(&config_path, config).unwrap();
    let node = cluster_node::spawn(&config_path, "127.0.0.2", PASSWORD);
    let deadline = Instant::now() + Duration::from_secs(60);
    while !ready(&node).await {
        assert!(Instant::now() < deadline, "node never ready");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // The load: a post every POST_EVERY, all the way through the switch.
    let posted = Arc::new(Mutex::new(Posted::default()));
    let stop = Arc::new(AtomicBool::new(false));
    let load = {
        let (client, base, posted, stop) = (
            node.client.clone(),
            node.base.clone(),
            posted.clone(),
            stop.clone(),
        );
        tokio::spawn(async move {
            let mut i = 0;
            while !stop.load(Ordering::Relaxed) {
                let text = format!("failover message {i}");
                i += 1;
                let id = post(&client, &base, &text).await;
                let mut p = posted.lock().await;
                p.answers.push((Instant::now(), id.is_ok()));
                match id {
                    Ok(id) => {
                        p.accepted.insert(id, text);
                    }
                    Err(status) => p.refusals.push(status),
                }
                drop(p);
                tokio::time::sleep(POST_EVERY).await;
            }
        })
    };

    // Messages flow through the primary first.
    let deadline = Instant::now() + Duration::from_secs(60);
    while count(&primary, "SELECT count(*) FROM attempts WHERE outcome = 'sent'") < 20 {
        assert!(Instant::now() < deadline, "nothing sent before the failover");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let accepted_before = posted.lock().await.accepted.len();
    primary.stop_immediate();
    let stopped = Instant::now();

    // No primary: the standby refuses read-write sessions, so the node is not ready.
    let mut not_ready_seen = false;
    while stopped.elapsed() < OUTAGE {
        if !ready(&node).await {
            not_ready_seen = true;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(
        not_ready_seen,
        "/readyz said ready while no primary was reachable"
    );
    assert!(
        !ready(&node).await,
        "/readyz said ready {:?} after the primary stopped",
        stopped.elapsed()
    );

    standby.promote();
    let promoted = Instant::now();
    let deadline = promoted + Duration::from_secs(60);
    while !ready(&node).await {
        assert!(
            Instant::now() < deadline,
            "the node never found the promoted standby"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let ready_after = promoted.elapsed();
    let deadline = promoted + Duration::from_secs(60);
    let first_accept = loop {
        let first = posted
            .lock()
            .await
            .answers
            .iter()
            .find(|(at, ok)| *ok && *at > promoted)
            .map(|(at, _)| *at - promoted);
        if let Some(d) = first {
            break d;
        }
        assert!(Instant::now() < deadline, "no post accepted after the promotion");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    // Keep going on the new primary for a while, then let everything settle.
    tokio::time::sleep(Duration::from_secs(5)).await;
    stop.store(true, Ordering::Relaxed);
    load.await.unwrap();
    let posted = posted.lock().await;
    let refused = posted.answers.iter().filter(|(_, ok)| !ok).count();
    let after_promotion = posted
        .answers
        .iter()
        .filter(|(at, ok)| *ok && *at > promoted)
        .count();
    assert!(
        posted.refusals.iter().all(|&s| s == 503),
        "refusals during the switch are 503, not {:?}",
        posted.refusals
    );
    assert!(
        after_promotion > 10,
        "only {after_promotion} accepted after the promotion"
    );

    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let open = count(
            &standby,
            "SELECT count(*) FROM messages WHERE status IN ('queued', 'sending')",
        );
        if open == 0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{open} messages still open on the new primary"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let statuses: HashMap<String, String> = standby
        .psql(DB, "SELECT id || ' ' || status FROM messages")
        .lines()
        .map(|l| {
            let (id, s) = l.split_once(' ').unwrap();
            (id.to_owned(), s.to_owned())
        })
        .collect();
    let mut air: HashMap<String, usize> = HashMap::new();
    for i in 0..MODEMS {
        for m in bank.control().sent_texts(i).unwrap() {
            *air.entry(m.text).or_default() += 1;
        }
    }
    let mut uncertain = 0;
    for (id, text) in &posted.accepted {
        let times = air.get(text).copied().unwrap_or(0);
        match statuses.get(id).map(String::as_str) {
            Some("sent" | "delivered") => assert_eq!(times, 1, "{id} ({text}) on air {times}x"),
            Some("uncertain") => {
                uncertain += 1;
                assert!(times <= 1, "{id} ({text}) uncertain but on air {times}x");
            }
            other => panic!("{id} ({text}) accepted but lost or failed after the failover: {other:?}"),
        }
    }
    assert!(air.values().all(|&n| n == 1), "a message went on air twice");
    eprintln!(
        "{} accepted ({accepted_before} before the primary stopped, {after_promotion} after the promotion), \
         {refused} refused during the switch, {uncertain} uncertain; outage {:.1}s; after `pg_ctl promote` \
         the node was ready in {:.2}s and accepted its first post in {:.2}s",
        posted.accepted.len(),
        OUTAGE.as_secs_f64(),
        ready_after.as_secs_f64(),
        first_accept.as_secs_f64()
    );
    drop(node);
    bank.shutdown().await;
}
