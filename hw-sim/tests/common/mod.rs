//! Shared helpers of the integration tests: a bank in a temp dir, required system tools (a missing one
//! fails the test with instructions, it never skips), running a peer with a deadline, waiting for files.
#![allow(dead_code, clippy::expect_used, clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::Duration;

use hw_sim::{Bank, BankConfig};
use tempfile::TempDir;

/// Starts a bank of `count` modems in a fresh temp dir; `tune` adjusts the configuration.
pub async fn bank(count: usize, tune: impl FnOnce(&mut BankConfig)) -> (Bank, TempDir) {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut config = BankConfig {
        count,
        dir: dir.path().join("dev"),
        ..BankConfig::default()
    };
    tune(&mut config);
    let bank = Bank::start(config).await.expect("bank starts");
    (bank, dir)
}

/// The path of a system tool, or a failure telling how to install it.
pub fn require(tool: &str) -> PathBuf {
    for dir in ["/usr/bin", "/usr/sbin", "/bin", "/sbin", "/usr/local/bin"] {
        let p = Path::new(dir).join(tool);
        if p.exists() {
            return p;
        }
    }
    panic!(
        "{tool} is not installed: run tests/run-all.sh (it apt-installs gammu gammu-smsd smstools kannel socat) or apt-get install the package that provides {tool}"
    );
}

/// Runs a command with a deadline; kills it when the deadline passes.
pub async fn run(cmd: &mut tokio::process::Command, deadline: Duration) -> Output {
    cmd.kill_on_drop(true);
    let child = cmd.output();
    match tokio::time::timeout(deadline, child).await {
        Ok(out) => out.expect("command runs"),
        Err(_) => panic!("command {cmd:?} did not finish within {deadline:?}"),
    }
}

/// Text of a process's stdout and stderr.
pub fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Waits until `check` returns Some, polling every 50 ms (tests only), or fails after `deadline`.
pub async fn wait_for<T>(what: &str, deadline: Duration, mut check: impl FnMut() -> Option<T>) -> T {
    let start = tokio::time::Instant::now();
    loop {
        if let Some(v) = check() {
            return v;
        }
        if start.elapsed() > deadline {
            panic!("timed out after {deadline:?} waiting for {what}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Files in a directory (non-recursive), sorted.
pub fn files_in(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|r| {
            r.filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.is_file())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

/// A free TCP port on loopback.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}
