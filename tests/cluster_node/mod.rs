//! A cluster node for the multi-site tests: a real `smsgate serve` child process, its HTTPS base URL
//! and a client that trusts its appliance CA. Shared by `cluster_e2e` and `cluster_failover`.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use super::common;

/// A running node; killed when dropped.
pub struct Node {
    pub child: Child,
    pub base: String,
    pub client: reqwest::Client,
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The smsgate binary under test.
pub fn smsgate() -> Command {
    Command::new(env!("CARGO_BIN_EXE_smsgate"))
}

/// Starts `smsgate serve --config <config>` with `password` for the first admin and waits until it
/// serves on `ip`. Its log goes to `<config>.log` (kept for a failing run).
pub fn spawn(config: &Path, ip: &str, password: &str) -> Node {
    let mut child = smsgate()
        .args(["serve", "--config"])
        .arg(config)
        .env("SMSGATE_ADMIN_PASSWORD", password)
        .env("RUST_LOG", "smsgate=info")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let (mut base, mut ca) = (None, None);
    while base.is_none() || ca.is_none() {
        let line = lines
            .next()
            .unwrap_or_else(|| {
                panic!(
                    "node on {ip} stopped before serving (see its config {})",
                    config.display()
                )
            })
            .unwrap();
        if line.contains("API:")
            && let Some(rest) = line.split("https://").nth(1)
            && rest.starts_with(ip)
        {
            base = rest.split("/api/v1").next().map(str::to_owned);
        }
        if line.contains("appliance CA certificate") {
            ca = line.rsplit_once(": ").map(|(_, p)| PathBuf::from(p));
        }
    }
    let log = config.with_extension("log");
    std::thread::spawn(move || {
        let mut f = std::fs::File::create(log).unwrap();
        for l in lines.map_while(Result::ok) {
            let _ = writeln!(f, "{l}");
        }
    });
    Node {
        child,
        base: base.unwrap(),
        client: common::client(&ca.unwrap()),
    }
}
