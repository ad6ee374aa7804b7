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

/// The first file of `dir` once a daemon has finished writing it: non-empty and the same size on two
/// consecutive polls (spoolers write in place, so a file can be seen while it is still empty).
pub fn settled_file(dir: &Path, last: &mut Option<(PathBuf, u64)>) -> Option<PathBuf> {
    let file = files_in(dir).into_iter().next()?;
    let len = std::fs::metadata(&file).map(|m| m.len()).unwrap_or(0);
    let seen = last.replace((file.clone(), len));
    (len > 0 && seen == Some((file.clone(), len))).then_some(file)
}

/// A free TCP port on loopback.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

/// Records HTTP requests (request line) sent to a loopback port and answers 200 with an empty body.
pub struct HttpSink {
    /// The port it listens on.
    pub port: u16,
    /// Request targets received so far (`/path?query`).
    pub requests: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
    task: tokio::task::JoinHandle<()>,
}

impl HttpSink {
    /// Starts the sink on a free loopback port.
    pub async fn start() -> HttpSink {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let requests = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let seen = requests.clone();
        let task = tokio::spawn(async move {
            while let Ok((mut sock, _)) = listener.accept().await {
                let seen = seen.clone();
                tokio::spawn(async move {
                    let mut buf = Vec::new();
                    let mut chunk = [0u8; 1024];
                    while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
                        match sock.read(&mut chunk).await {
                            Ok(0) | Err(_) => break,
                            Ok(n) => buf.extend_from_slice(&chunk[..n]),
                        }
                    }
                    let head = String::from_utf8_lossy(&buf).to_string();
                    if let Some(target) = head.lines().next().and_then(|l| l.split_whitespace().nth(1)) {
                        seen.lock().unwrap().push(target.to_string());
                    }
                    let _ = sock
                        .write_all(
                            b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 0\r\n\r\n",
                        )
                        .await;
                });
            }
        });
        HttpSink { port, requests, task }
    }

    /// Requests whose target starts with `prefix`.
    pub fn matching(&self, prefix: &str) -> Vec<String> {
        self.requests
            .lock()
            .unwrap()
            .iter()
            .filter(|r| r.starts_with(prefix))
            .cloned()
            .collect()
    }
}

impl Drop for HttpSink {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A plain HTTP/1.0 GET on loopback; returns status code and body.
pub async fn http_get(port: u16, target: &str) -> std::io::Result<(u16, String)> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(("127.0.0.1", port)).await?;
    s.write_all(format!("GET {target} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").as_bytes())
        .await?;
    let mut out = Vec::new();
    s.read_to_end(&mut out).await?;
    let text = String::from_utf8_lossy(&out).to_string();
    let code = text
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    Ok((code, body))
}

/// Percent-encodes a query value (RFC 3986 unreserved characters stay).
pub fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Decodes a percent-encoded query value (`+` is a space).
pub fn urldecode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => {
                let v = u8::from_str_radix(&s[i + 1..i + 3], 16).unwrap_or(b'?');
                out.push(v);
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).to_string()
}

/// The value of `key` in a request target's query string.
pub fn query_param(target: &str, key: &str) -> Option<String> {
    let query = target.split_once('?')?.1;
    query.split('&').find_map(|kv| {
        let (k, v) = kv.split_once('=')?;
        (k == key).then(|| urldecode(v))
    })
}

/// A DTE on a simulated modem's port: writes command lines, collects what the modem answers.
pub struct AtPort {
    port: tokio_serial::SerialStream,
    /// Everything read and not yet consumed.
    pub pending: Vec<u8>,
}

/// Final result codes that end a command's answer (V.250 §5.7, 27.007 §9.2, 27.005 §3.2.5).
fn final_result_at_end(text: &str) -> bool {
    if text.ends_with("\r\n> ") || text.ends_with("\r\n>") {
        return true;
    }
    if !text.ends_with("\r\n") {
        return false;
    }
    let t = text.trim_end_matches(['\r', '\n']);
    let last = t.rsplit("\r\n").next().unwrap_or("");
    last == "OK" || last == "ERROR" || last.starts_with("+CME ERROR") || last.starts_with("+CMS ERROR")
}

impl AtPort {
    /// Opens the port (the link path) like a DTE does.
    pub fn open(path: &Path) -> AtPort {
        use tokio_serial::SerialPortBuilderExt;
        let port = tokio_serial::new(path.to_string_lossy(), 115_200)
            .open_native_async()
            .unwrap_or_else(|e| panic!("open {}: {e}", path.display()));
        AtPort {
            port,
            pending: Vec::new(),
        }
    }

    /// Writes raw bytes.
    pub async fn write(&mut self, bytes: &[u8]) {
        use tokio::io::AsyncWriteExt;
        self.port.write_all(bytes).await.expect("write to the modem");
    }

    /// Reads for `dur` and returns everything that came.
    pub async fn read_for(&mut self, dur: Duration) -> Vec<u8> {
        use tokio::io::AsyncReadExt;
        let deadline = tokio::time::Instant::now() + dur;
        let mut buf = [0u8; 1024];
        loop {
            match tokio::time::timeout_at(deadline, self.port.read(&mut buf)).await {
                Ok(Ok(n)) if n > 0 => self.pending.extend_from_slice(&buf[..n]),
                _ => break,
            }
        }
        std::mem::take(&mut self.pending)
    }

    /// Reads until the answer ends with a final result code or a prompt; `None` on timeout.
    pub async fn answer(&mut self, dur: Duration) -> Option<String> {
        use tokio::io::AsyncReadExt;
        let deadline = tokio::time::Instant::now() + dur;
        let mut buf = [0u8; 1024];
        loop {
            let text = String::from_utf8_lossy(&self.pending).to_string();
            if final_result_at_end(&text) {
                self.pending.clear();
                return Some(text);
            }
            match tokio::time::timeout_at(deadline, self.port.read(&mut buf)).await {
                Ok(Ok(n)) if n > 0 => self.pending.extend_from_slice(&buf[..n]),
                _ => return None,
            }
        }
    }

    /// Sends a command line and returns the answer (fails the test after 5 s of silence).
    pub async fn cmd(&mut self, line: &str) -> String {
        self.write(format!("{line}\r").as_bytes()).await;
        self.answer(Duration::from_secs(5))
            .await
            .unwrap_or_else(|| panic!("no answer to {line:?}"))
    }

    /// Sends one SMS in PDU mode and returns the final answer to the PDU.
    pub async fn send_sms(&mut self, to: &str, text: &str, srr: bool) -> String {
        let mut opts = smsgate_pdu::SubmitOptions::new(smsgate_pdu::Address::parse(to).expect("address"));
        opts.srr = srr;
        let parts = smsgate_pdu::encode_submit(text, &opts).expect("encode");
        let mut last = String::new();
        for p in parts {
            let prompt = self.cmd(&format!("AT+CMGS={}", p.tpdu_len)).await;
            assert!(prompt.ends_with("> "), "no prompt: {prompt:?}");
            self.write(format!("{}\x1a", p.hex()).as_bytes()).await;
            last = self
                .answer(Duration::from_secs(10))
                .await
                .expect("answer to the PDU");
        }
        last
    }
}

impl AtPort {
    /// One raw read (for tests that watch the port end).
    pub async fn read_raw(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        use tokio::io::AsyncReadExt;
        self.port.read(buf).await
    }
}

impl AtPort {
    /// Reads until `needle` has been seen `times` times (then returns everything read), or fails after
    /// `dur`: robust against a loaded machine, unlike fixed read windows.
    pub async fn read_until(&mut self, needle: &str, times: usize, dur: Duration) -> String {
        use tokio::io::AsyncReadExt;
        let deadline = tokio::time::Instant::now() + dur;
        let mut buf = [0u8; 1024];
        loop {
            let text = String::from_utf8_lossy(&self.pending).to_string();
            if text.matches(needle).count() >= times {
                self.pending.clear();
                return text;
            }
            match tokio::time::timeout_at(deadline, self.port.read(&mut buf)).await {
                Ok(Ok(n)) if n > 0 => self.pending.extend_from_slice(&buf[..n]),
                _ => panic!("waited {dur:?} for {times}× {needle:?}, got {text:?}"),
            }
        }
    }
}
