//! Shared harness of the HTTPS end-to-end tests: the whole stack (TLS acceptor, router, authentication,
//! gateway, SQLite store) on 127.0.0.1:0 with a fresh data directory and four accounts.
#![allow(clippy::unwrap_used, clippy::expect_used, dead_code)] // helpers; not every test file uses each

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;

use serde_json::Value;
use smsgate::app::{Gateway, Role};
use smsgate::auth::{Authenticator, AuthenticatorSettings, LoginThrottle, PasswordHasher};
use smsgate::config::Settings;
use smsgate::http::caller::GatewayDirectory;
use smsgate::http::{ApiState, router};
use smsgate::tls::config::read_certs;
use smsgate::tls::{ClientCertMode, ServerCertificate, TlsServer, server_config};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

pub const PASSWORD: &str = "correct horse battery staple";
pub const MAX_BODY: usize = 64 * 1024;

pub struct Gw {
    pub base: String,
    pub addr: SocketAddr,
    pub ca: PathBuf,
    pub gateway: Gateway,
    pub shutdown: CancellationToken,
    pub dir: tempfile::TempDir,
}

impl Drop for Gw {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

pub async fn start() -> Gw {
    start_with(|_| {}, false).await
}

/// Starts with adjusted settings; `modems` = `Gateway::start` (with the simulated bank when `[sim]` asks),
/// else `Gateway::open` (no modems).
pub async fn start_with(adjust: impl FnOnce(&mut Settings), modems: bool) -> Gw {
    start_in(tempfile::tempdir().unwrap(), adjust, modems).await
}

/// [`start_with`] over a data directory that may already hold a database (e.g. a restored backup).
pub async fn start_in(dir: tempfile::TempDir, adjust: impl FnOnce(&mut Settings), modems: bool) -> Gw {
    let mut settings = Settings::default_with_data_dir(dir.path());
    settings.http.max_body_bytes = MAX_BODY;
    adjust(&mut settings);
    let settings_rate = settings.http.requests_per_second;
    let (gateway, _) = if modems {
        Gateway::start(settings, false).await.unwrap()
    } else {
        Gateway::open(settings).await.unwrap()
    };
    let hasher = PasswordHasher::insecure_fast();
    for (login, role) in [
        ("alice", Role::Client),
        ("bob", Role::Client),
        ("carol", Role::Client),
        ("root", Role::Admin),
    ] {
        gateway
            .create_account(None, login, hasher.hash(PASSWORD).unwrap(), role)
            .await
            .unwrap();
    }
    let auth = Arc::new(Authenticator::new(
        Box::new(GatewayDirectory(gateway.clone())),
        hasher,
        LoginThrottle::default(),
        &AuthenticatorSettings::default(),
    ));
    let certificate = ServerCertificate::prepare(None, &dir.path().join("tls"), &[]).unwrap();
    let tls = Arc::new(server_config(Arc::clone(&certificate.resolver), ClientCertMode::Request).unwrap());
    let rate_limit = smsgate::http::ratelimit::AccountRateLimiter::new(settings_rate).map(Arc::new);
    let app = router(ApiState {
        gateway: gateway.clone(),
        auth,
        max_body_bytes: MAX_BODY,
        rate_limit,
    });
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let shutdown = CancellationToken::new();
    tokio::spawn(TlsServer::new(tls).run(listener, app, shutdown.clone()));
    Gw {
        base: format!("https://localhost:{}", addr.port()),
        addr,
        ca: certificate.ca_cert.clone().unwrap(),
        gateway,
        shutdown,
        dir,
    }
}

pub fn client(ca: &std::path::Path) -> reqwest::Client {
    client_with(ca, reqwest::redirect::Policy::default())
}

/// [`client`] with a redirect policy (e.g. `none` to see a login's `303` and its cookies).
pub fn client_with(ca: &std::path::Path, redirect: reqwest::redirect::Policy) -> reqwest::Client {
    let mut roots = rustls::RootCertStore::empty();
    for c in read_certs(ca).unwrap() {
        roots.add(c).unwrap();
    }
    let config = rustls::ClientConfig::builder_with_provider(smsgate::tls::provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    reqwest::Client::builder()
        .use_preconfigured_tls(config)
        .redirect(redirect)
        .build()
        .unwrap()
}

impl Gw {
    pub fn http(&self) -> reqwest::Client {
        client(&self.ca)
    }
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }
    pub async fn send_as(&self, login: &str, body: Value) -> reqwest::Response {
        self.http()
            .post(self.url("/api/v1/messages"))
            .basic_auth(login, Some(PASSWORD))
            .json(&body)
            .send()
            .await
            .unwrap()
    }
    pub async fn list_as(&self, login: &str, query: &str) -> Value {
        let r = self
            .http()
            .get(self.url(&format!("/api/v1/messages{query}")))
            .basic_auth(login, Some(PASSWORD))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        r.json().await.unwrap()
    }
}

/// Asserts a problem+json answer with `status` naming `field`.
pub async fn assert_problem(response: reqwest::Response, status: u16, field: Option<&str>) -> Value {
    assert_eq!(response.status().as_u16(), status, "{:?}", response.headers());
    assert_eq!(response.headers()["content-type"], "application/problem+json");
    let json: Value = response.json().await.unwrap();
    assert_eq!(json["status"], status);
    if let Some(f) = field {
        assert_eq!(json["field"], f, "{json}");
    }
    json
}

pub fn tool(name: &str) -> Command {
    let found = Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {name}"))
        .output()
        .unwrap();
    assert!(
        found.status.success(),
        "`{name}` is required by this test: install it (tests/run-all.sh does)"
    );
    Command::new(name)
}
