//! End-to-end test of the `smsgate serve` binary: first start on an empty data directory (database, CA,
//! server certificate, admin password printed once), HTTPS login as that admin, the redirect listener,
//! certificate reload on SIGHUP, graceful stop on SIGTERM, and a second start on the same directory.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers outside #[test] fns

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

struct Serve {
    child: Child,
    lines: mpsc::Receiver<String>,
    seen: Vec<String>,
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn spawn(config: &Path, admin_password: Option<&str>) -> Serve {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_smsgate"));
    cmd.arg("serve")
        .arg("--config")
        .arg(config)
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    cmd.env_remove("SMSGATE_ADMIN_PASSWORD");
    if let Some(p) = admin_password {
        cmd.env("SMSGATE_ADMIN_PASSWORD", p);
    }
    let mut child = cmd.spawn().unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, lines) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    Serve {
        child,
        lines,
        seen: Vec::new(),
    }
}

impl Serve {
    /// Waits for a stdout line containing `needle`.
    fn wait_for(&mut self, needle: &str) -> String {
        loop {
            if let Some(line) = self.seen.iter().find(|l| l.contains(needle)) {
                return line.clone();
            }
            match self.lines.recv_timeout(Duration::from_secs(60)) {
                Ok(line) => self.seen.push(line),
                Err(_) => panic!("`{needle}` not printed; got {:?}", self.seen),
            }
        }
    }

    /// Sends a signal by name (`HUP`, `TERM`, `INT`) with the `kill` utility.
    fn signal(&self, name: &str) {
        let ok = Command::new("kill")
            .arg(format!("-{name}"))
            .arg(self.child.id().to_string())
            .status()
            .unwrap();
        assert!(ok.success());
    }
}

fn between<'a>(line: &'a str, start: &str, end: &str) -> &'a str {
    let from = line.find(start).unwrap() + start.len();
    let rest = &line[from..];
    &rest[..rest.find(end).unwrap()]
}

fn curl(args: &[&str]) -> String {
    let found = Command::new("sh")
        .arg("-c")
        .arg("command -v curl")
        .output()
        .unwrap();
    assert!(
        found.status.success(),
        "`curl` is required by this test: install it (tests/run-all.sh does)"
    );
    let out = Command::new("curl").args(args).output().unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn first_start_login_reload_stop_restart() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let config = dir.path().join("smsgate.toml");
    std::fs::write(
        &config,
        format!(
            "version = 1\ndata_dir = {:?}\n[http]\nlisten = [\"127.0.0.1:0\"]\nredirect_listen = [\"127.0.0.1:0\"]\n",
            data.display().to_string()
        ),
    )
    .unwrap();

    let mut serve = spawn(&config, None);
    let api = serve.wait_for("API:");
    let base = between(&api, "https://", "/api/v1/").to_owned();
    let password = between(&serve.wait_for("first admin account created"), "password `", "`").to_owned();
    let ca_line = serve.wait_for("appliance CA certificate");
    let ca = ca_line.rsplit_once(": ").unwrap().1.to_owned();
    let redirect = between(&serve.wait_for("plain HTTP on"), "plain HTTP on ", " ").to_owned();
    assert!(Path::new(&ca).exists() && data.join("smsgate.db").exists());
    let mode = std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(&data).unwrap().permissions());
    assert_eq!(mode & 0o777, 0o700, "data directory is private");

    let me = curl(&[
        "-sS",
        "--fail",
        "--cacert",
        &ca,
        "-u",
        &format!("admin:{password}"),
        &format!("https://{base}/api/v1/me"),
    ]);
    assert!(me.contains("\"role\":\"admin\""), "{me}");
    // Probes need no credentials; without modems the gateway is alive but not ready.
    let health = curl(&["-sS", "--cacert", &ca, &format!("https://{base}/healthz")]);
    assert!(health.contains("\"status\":\"ok\""), "{health}");
    let ready = curl(&[
        "-sS",
        "-w",
        " %{http_code}",
        "--cacert",
        &ca,
        &format!("https://{base}/readyz"),
    ]);
    assert!(
        ready.ends_with(" 503") && ready.contains("no modem configured"),
        "{ready}"
    );
    let wrong = curl(&[
        "-sS",
        "--cacert",
        &ca,
        "-u",
        "admin:wrong",
        &format!("https://{base}/api/v1/me"),
    ]);
    assert!(wrong.contains("\"status\":401"), "{wrong}");
    let head = curl(&["-sS", "-i", &format!("http://{redirect}/api/v1/me")]);
    assert!(head.starts_with("HTTP/1.1 308"), "{head}");
    assert!(
        head.to_ascii_lowercase()
            .contains(&format!("location: https://{base}/api/v1/me")),
        "{head}"
    );

    // SIGHUP reloads the certificate without interrupting service.
    serve.signal("HUP");
    std::thread::sleep(Duration::from_millis(300));
    let again = curl(&[
        "-sS",
        "--fail",
        "--cacert",
        &ca,
        "-u",
        &format!("admin:{password}"),
        &format!("https://{base}/api/v1/me"),
    ]);
    assert!(again.contains("admin"), "{again}");

    serve.signal("TERM");
    serve.wait_for("smsgate stopped");
    let status = serve.child.wait().unwrap();
    assert!(status.success(), "{status}");

    // Second start: same CA, same admin (no new password printed), the old password still works.
    let ca_before = std::fs::read(&ca).unwrap();
    let mut serve = spawn(&config, Some("ignored: that account exists already"));
    let base = between(&serve.wait_for("API:"), "https://", "/api/v1/").to_owned();
    assert!(
        !serve
            .seen
            .iter()
            .any(|l| l.contains("first admin account created"))
    );
    assert_eq!(std::fs::read(&ca).unwrap(), ca_before);
    let me = curl(&[
        "-sS",
        "--fail",
        "--cacert",
        &ca,
        "-u",
        &format!("admin:{password}"),
        &format!("https://{base}/api/v1/me"),
    ]);
    assert!(me.contains("admin"), "{me}");
    serve.signal("INT");
    assert!(serve.child.wait().unwrap().success());
}

#[test]
fn admin_password_from_environment_must_satisfy_policy() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("smsgate.toml");
    std::fs::write(
        &config,
        format!(
            "version = 1\ndata_dir = {:?}\n[http]\nlisten = [\"127.0.0.1:0\"]\n",
            dir.path().join("d").display().to_string()
        ),
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_smsgate"))
        .args(["serve", "--config"])
        .arg(&config)
        .env("SMSGATE_ADMIN_PASSWORD", "short")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("SMSGATE_ADMIN_PASSWORD"),
        "{out:?}"
    );
}

#[test]
fn serve_with_simulated_modems_sends_for_real() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("smsgate.toml");
    std::fs::write(
        &config,
        format!(
            "version = 1\ndata_dir = {:?}\n[http]\nlisten = [\"127.0.0.1:0\"]\n",
            dir.path().join("data").display().to_string()
        ),
    )
    .unwrap();
    let password = "a long enough operator passphrase";
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_smsgate"));
    cmd.args(["serve", "--sim", "2", "--config"]).arg(&config);
    let mut serve = {
        // Reuse the spawner with the extra flag: build the child by hand.
        cmd.stdout(Stdio::piped())
            .stderr(Stdio::null())
            .env("SMSGATE_ADMIN_PASSWORD", password);
        let mut child = cmd.spawn().unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Serve {
            child,
            lines,
            seen: Vec::new(),
        }
    };
    let base = between(&serve.wait_for("API:"), "https://", "/api/v1/").to_owned();
    let ca_line = serve.wait_for("appliance CA certificate");
    let ca = ca_line.rsplit_once(": ").unwrap().1.to_owned();
    assert!(
        !serve
            .seen
            .iter()
            .any(|l| l.contains("first admin account created")),
        "password came from the env"
    );
    let auth = format!("admin:{password}");
    let sent = curl(&[
        "-sS",
        "--fail",
        "--cacert",
        &ca,
        "-u",
        &auth,
        "-H",
        "content-type: application/json",
        "-d",
        r#"{"to":"+48600100200","text":"Cześć z serve --sim 😀","delivery_report":true}"#,
        &format!("https://{base}/api/v1/messages"),
    ]);
    let id = between(&sent, "\"id\":\"", "\"").to_owned();
    let deadline = std::time::Instant::now() + Duration::from_secs(90);
    loop {
        let m = curl(&[
            "-sS",
            "--cacert",
            &ca,
            "-u",
            &auth,
            &format!("https://{base}/api/v1/messages/{id}"),
        ]);
        if m.contains("\"status\":\"delivered\"") {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "not delivered: {m}");
        std::thread::sleep(Duration::from_millis(300));
    }
    let ready = curl(&[
        "-sS",
        "-w",
        " %{http_code}",
        "--cacert",
        &ca,
        &format!("https://{base}/readyz"),
    ]);
    assert!(
        ready.ends_with(" 200") && ready.contains("\"database\":\"ok\""),
        "{ready}"
    );
    serve.signal("TERM");
    serve.wait_for("smsgate stopped");
    assert!(serve.child.wait().unwrap().success());
}
