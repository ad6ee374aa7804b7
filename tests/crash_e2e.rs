//! Crash semantics of the whole binary: `smsgate serve` is killed with SIGKILL while clients are posting
//! messages and modems are sending. After a restart on the same data directory every message that got a
//! 202 is sent (or queued) or `uncertain`, none is lost, and none went on air twice. The simulated modems
//! live in this test process, so what they put on the air survives the gateway's death.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers outside #[test] fns

mod common;

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use hw_sim::{Bank, BankConfig, DelayProfile};
use serde_json::Value;
use tokio::sync::Mutex;

const PASSWORD: &str = "crash test operator passphrase";
const PLANNED: usize = 5_000;
const KILL_AFTER_ACCEPTED: usize = 2_000;
const MODEMS: usize = 4;

struct Serve {
    child: Child,
    base: String,
    ca: String,
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn spawn(config: &Path) -> Serve {
    let mut child = Command::new(env!("CARGO_BIN_EXE_smsgate"))
        .args(["serve", "--config"])
        .arg(config)
        .env("SMSGATE_ADMIN_PASSWORD", PASSWORD)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let (mut base, mut ca) = (None, None);
    while base.is_none() || ca.is_none() {
        let line = lines.next().expect("serve printed its URLs").unwrap();
        if let Some(rest) = line.split("https://").nth(1).filter(|_| line.contains("API:")) {
            base = rest.split("/api/v1").next().map(str::to_owned);
        }
        if line.contains("appliance CA certificate") {
            ca = line.rsplit_once(": ").map(|(_, p)| p.to_owned());
        }
    }
    // Keep draining stdout so the child never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines.map_while(Result::ok) {});
    Serve {
        child,
        base: base.unwrap(),
        ca: ca.unwrap(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_while_posting_and_sending_loses_nothing_and_sends_nothing_twice() {
    let dir = tempfile::tempdir().unwrap();
    // A little network delay keeps sends in flight when the gateway dies.
    let bank = Bank::start(BankConfig {
        count: MODEMS,
        dir: dir.path().join("modems"),
        delay: DelayProfile::Fixed { ms: 20 },
        ..BankConfig::default()
    })
    .await
    .unwrap();
    let mut config = format!(
        "version = 1\ndata_dir = {:?}\n[http]\nlisten = [\"127.0.0.1:0\"]\n",
        dir.path().join("data").display().to_string()
    );
    for m in bank.modems() {
        config.push_str(&format!(
            "[[modem]]\nname = \"m{}\"\nport = {:?}\n",
            m.index,
            m.link.display().to_string()
        ));
    }
    let config_path = dir.path().join("smsgate.toml");
    std::fs::write(&config_path, config).unwrap();

    let serve = spawn(&config_path);
    let client = common::client(Path::new(&serve.ca));
    let url = format!("https://{}/api/v1/messages", serve.base);

    // Clients post until the gateway dies under them.
    let accepted: Arc<Mutex<HashMap<String, String>>> = Arc::default();
    let next = Arc::new(AtomicUsize::new(0));
    let dead = Arc::new(AtomicBool::new(false));
    let mut posters = Vec::new();
    for _ in 0..8 {
        let (client, url, accepted, next, dead) = (
            client.clone(),
            url.clone(),
            accepted.clone(),
            next.clone(),
            dead.clone(),
        );
        posters.push(tokio::spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::SeqCst);
                if i >= PLANNED || dead.load(Ordering::SeqCst) {
                    return;
                }
                let text = format!("crash-test message {i}");
                let sent = client
                    .post(&url)
                    .basic_auth("admin", Some(PASSWORD))
                    .json(&serde_json::json!({"to": "+48510000001", "text": text}))
                    .send()
                    .await;
                match sent {
                    Ok(r) if r.status() == 202 => {
                        let body: Value = r.json().await.unwrap_or(Value::Null);
                        // A 202 whose body was cut by the kill still counts as accepted only if we read its id.
                        if let Some(id) = body["messages"][0]["id"].as_str() {
                            accepted.lock().await.insert(id.to_owned(), text);
                        }
                    }
                    Ok(r) => panic!("unexpected answer {} before the kill", r.status()),
                    Err(_) => return, // the gateway is gone
                }
            }
        }));
    }
    let deadline = Instant::now() + Duration::from_secs(300);
    while accepted.lock().await.len() < KILL_AFTER_ACCEPTED {
        assert!(Instant::now() < deadline, "gateway too slow to accept");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let mut serve = serve;
    serve.child.kill().unwrap(); // SIGKILL: no shutdown path runs
    serve.child.wait().unwrap();
    dead.store(true, Ordering::SeqCst);
    for p in posters {
        p.await.unwrap();
    }
    let accepted = accepted.lock().await.clone();
    let on_air_before_restart: usize = (0..MODEMS)
        .map(|i| bank.control().sent_texts(i).unwrap().len())
        .sum();
    assert!(
        on_air_before_restart < accepted.len(),
        "the kill must hit work in flight"
    );

    // Restart on the same data directory; everything accepted must come out.
    let serve = spawn(&config_path);
    let client = common::client(Path::new(&serve.ca));
    let mut statuses: HashMap<String, String> = HashMap::new();
    let deadline = Instant::now() + Duration::from_secs(600);
    for id in accepted.keys() {
        loop {
            let m: Value = client
                .get(format!("https://{}/api/v1/messages/{id}", serve.base))
                .basic_auth("admin", Some(PASSWORD))
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            let status = m["status"]
                .as_str()
                .unwrap_or_else(|| panic!("message {id} lost: {m}"))
                .to_owned();
            if matches!(status.as_str(), "sent" | "delivered" | "uncertain" | "failed") {
                statuses.insert(id.clone(), status);
                break;
            }
            assert!(Instant::now() < deadline, "message {id} still {status}");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    let mut on_air: HashMap<String, usize> = HashMap::new();
    for i in 0..MODEMS {
        for m in bank.control().sent_texts(i).unwrap() {
            *on_air.entry(m.text).or_default() += 1;
        }
    }
    let mut uncertain = 0;
    for (id, text) in &accepted {
        let times = on_air.get(text).copied().unwrap_or(0);
        match statuses[id].as_str() {
            "sent" | "delivered" => assert_eq!(
                times, 1,
                "{id} ({text}) is {} but was on air {times}x",
                statuses[id]
            ),
            "uncertain" => {
                uncertain += 1;
                assert!(times <= 1, "{id} ({text}) uncertain but on air {times}x");
            }
            other => panic!("{id} ended {other}"),
        }
    }
    assert!(on_air.values().all(|&n| n == 1), "a message went on air twice");
    eprintln!(
        "accepted {} before SIGKILL, {} on air before restart, {} uncertain after restart",
        accepted.len(),
        on_air_before_restart,
        uncertain
    );
    drop(serve);
    bank.shutdown().await;
}
