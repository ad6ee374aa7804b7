//! End-to-end tests of the TLS layer over real sockets on 127.0.0.1: protocol versions (with the `openssl`
//! and `curl` binaries), HSTS, optional client certificates reaching the request, certificate reload
//! without downtime, the plain-HTTP redirect listener and graceful shutdown.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers outside #[test] fns

use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::Extension;
use axum::routing::get;
use rustls::pki_types::CertificateDer;
use smsgate::http::{redirect, with_security_headers};
use smsgate::tls::acceptor::run_plain;
use smsgate::tls::config::read_certs;
use smsgate::tls::{
    ApplianceCa, ApplianceCerts, CertResolver, CertSource, ClientCertMode, ConnectionInfo, TlsServer,
};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

struct Server {
    addr: SocketAddr,
    dir: tempfile::TempDir,
    certs: ApplianceCerts,
    resolver: Arc<CertResolver>,
    shutdown: CancellationToken,
    task: tokio::task::JoinHandle<()>,
}

async fn whoami(Extension(info): Extension<ConnectionInfo>) -> String {
    format!(
        "peer={} tls={:?} client_cert={}",
        info.peer.ip(),
        info.tls_version,
        info.client_chain.as_ref().map_or(0, |c| c.len())
    )
}

async fn slow() -> &'static str {
    tokio::time::sleep(Duration::from_millis(500)).await;
    "slow done"
}

async fn start() -> Server {
    let dir = tempfile::tempdir().unwrap();
    let certs = ApplianceCerts::ensure(&dir.path().join("tls"), &["gw.test".into()]).unwrap();
    let resolver = Arc::new(
        CertResolver::new(CertSource {
            cert: certs.server_cert.clone(),
            key: certs.server_key.clone(),
        })
        .unwrap(),
    );
    let config = smsgate::tls::server_config(Arc::clone(&resolver), ClientCertMode::Request).unwrap();
    let app = with_security_headers(
        Router::new()
            .route("/whoami", get(whoami))
            .route("/slow", get(slow)),
    );
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let shutdown = CancellationToken::new();
    let task = tokio::spawn(TlsServer::new(Arc::new(config)).run(listener, app, shutdown.clone()));
    Server {
        addr,
        dir,
        certs,
        resolver,
        shutdown,
        task,
    }
}

fn client(ca: &Path) -> reqwest::Client {
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
        .build()
        .unwrap()
}

fn tool(name: &str) -> Command {
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

/// Runs `openssl s_client` with extra args; returns (handshake completed, combined output).
fn s_client(addr: SocketAddr, ca: &Path, args: &[&str]) -> (bool, String) {
    let out = tool("openssl")
        .args([
            "s_client",
            "-connect",
            &addr.to_string(),
            "-servername",
            "localhost",
            "-CAfile",
        ])
        .arg(ca)
        .args(args)
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let completed = text.contains("Verify return code: 0 (ok)") && !text.contains("Cipher is (NONE)");
    (completed, text)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn protocol_versions_hsts_and_client_certs() {
    let server = start().await;
    let url = format!("https://localhost:{}/whoami", server.addr.port());
    let response = client(&server.certs.ca_cert).get(&url).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["strict-transport-security"],
        smsgate::http::HSTS
    );
    let body = response.text().await.unwrap();
    assert!(
        body.contains("peer=127.0.0.1") && body.contains("client_cert=0"),
        "{body}"
    );

    let (addr, ca) = (server.addr, server.certs.ca_cert.clone());
    let results = tokio::task::spawn_blocking(move || {
        // SECLEVEL=0 lets this OpenSSL offer TLS 1.0/1.1 at all, so the refusal tested is the server's.
        let old = ["-cipher", "DEFAULT@SECLEVEL=0"];
        vec![
            ("1.0", s_client(addr, &ca, &[&["-tls1"][..], &old].concat())),
            ("1.1", s_client(addr, &ca, &[&["-tls1_1"][..], &old].concat())),
            ("1.2", s_client(addr, &ca, &["-tls1_2"])),
            ("1.3", s_client(addr, &ca, &["-tls1_3"])),
        ]
    })
    .await
    .unwrap();
    for (version, (completed, output)) in results {
        match version {
            "1.0" | "1.1" => {
                assert!(!completed, "TLS {version} must be refused:\n{output}");
                // The ClientHello went out and the server answered with a fatal alert (rustls sends
                // handshake_failure or protocol_version): the refusal is the server's, not the client's.
                let server_alert =
                    output.contains("SSL alert number 40") || output.contains("SSL alert number 70");
                assert!(server_alert, "TLS {version}: server refusal expected:\n{output}");
            }
            _ => {
                assert!(completed, "TLS {version} must be accepted:\n{output}");
                assert!(output.contains(&format!("TLSv{version}")), "{output}");
            }
        }
    }

    // curl: refuses to go below 1.2 against us, and a client certificate issued by the appliance CA reaches
    // the request (the TLS layer asks for one without requiring it).
    let (ca, _) = ApplianceCa::load_or_create(&server.dir.path().join("tls")).unwrap();
    let (cert_pem, key_pem) = ca
        .issue_client("alice", time::Duration::days(30), time::OffsetDateTime::now_utc())
        .unwrap();
    let cert_path = server.dir.path().join("alice.pem");
    let key_path = server.dir.path().join("alice-key.pem");
    std::fs::write(&cert_path, cert_pem).unwrap();
    std::fs::write(&key_path, key_pem).unwrap();
    let ca_path = server.certs.ca_cert.clone();
    let url2 = url.clone();
    let (old_tls, with_cert) = tokio::task::spawn_blocking(move || {
        let old_tls = tool("curl")
            .args(["-sS", "--cacert"])
            .arg(&ca_path)
            .args([
                "--tlsv1.0",
                "--tls-max",
                "1.1",
                "--ciphers",
                "DEFAULT@SECLEVEL=0",
                &url2,
            ])
            .output()
            .unwrap();
        let with_cert = tool("curl")
            .args(["-sS", "--fail", "--cacert"])
            .arg(&ca_path)
            .arg("--cert")
            .arg(&cert_path)
            .arg("--key")
            .arg(&key_path)
            .arg(&url2)
            .output()
            .unwrap();
        (old_tls, with_cert)
    })
    .await
    .unwrap();
    assert!(!old_tls.status.success(), "curl with TLS ≤ 1.1 must fail");
    let body = String::from_utf8_lossy(&with_cert.stdout);
    assert!(
        with_cert.status.success(),
        "{}",
        String::from_utf8_lossy(&with_cert.stderr)
    );
    assert!(
        body.contains("client_cert=") && !body.contains("client_cert=0"),
        "{body}"
    );

    server.shutdown.cancel();
    server.task.await.unwrap();
}

/// The certificate the server presents on a fresh connection.
async fn presented_cert(addr: SocketAddr, ca: &Path) -> CertificateDer<'static> {
    let mut roots = rustls::RootCertStore::empty();
    for c in read_certs(ca).unwrap() {
        roots.add(c).unwrap();
    }
    let config = rustls::ClientConfig::builder_with_provider(smsgate::tls::provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let tls = connector
        .connect("localhost".try_into().unwrap(), tcp)
        .await
        .unwrap();
    tls.get_ref().1.peer_certificates().unwrap()[0]
        .clone()
        .into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reload_without_downtime_and_graceful_shutdown() {
    let server = start().await;
    let before = presented_cert(server.addr, &server.certs.ca_cert).await;
    let http = client(&server.certs.ca_cert);
    let base = format!("https://localhost:{}", server.addr.port());
    // A keep-alive connection opened before the reload keeps working after it.
    assert_eq!(
        http.get(format!("{base}/whoami")).send().await.unwrap().status(),
        200
    );

    ApplianceCerts::ensure(
        &server.dir.path().join("tls"),
        &["gw.test".into(), "10.9.8.7".into()],
    )
    .unwrap();
    server.resolver.reload().unwrap();
    let after = presented_cert(server.addr, &server.certs.ca_cert).await;
    assert_ne!(before, after, "new connections get the new certificate");
    assert_eq!(
        http.get(format!("{base}/whoami")).send().await.unwrap().status(),
        200
    );

    // Shutdown while a request is in flight: it completes, then the server stops.
    let in_flight = tokio::spawn({
        let http = http.clone();
        let url = format!("{base}/slow");
        async move { http.get(url).send().await.unwrap().text().await.unwrap() }
    });
    tokio::time::sleep(Duration::from_millis(150)).await;
    server.shutdown.cancel();
    assert_eq!(in_flight.await.unwrap(), "slow done");
    tokio::time::timeout(Duration::from_secs(5), server.task)
        .await
        .unwrap()
        .unwrap();
    assert!(
        tokio::net::TcpStream::connect(server.addr).await.is_err(),
        "no longer accepting"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_http_only_redirects() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let shutdown = CancellationToken::new();
    let target = redirect::RedirectTarget {
        https_port: 8443,
        fallback_host: "gw.test".into(),
    };
    let task = tokio::spawn(run_plain(listener, redirect::router(target), shutdown.clone()));
    let out = tokio::task::spawn_blocking(move || {
        tool("curl")
            .args(["-sS", "-i", "-X", "POST", "-d", "x=1"])
            .arg(format!("http://127.0.0.1:{}/api/v1/messages?a=b", addr.port()))
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.starts_with("HTTP/1.1 308"), "{text}");
    assert!(
        text.to_ascii_lowercase()
            .contains("location: https://127.0.0.1:8443/api/v1/messages?a=b"),
        "{text}"
    );
    shutdown.cancel();
    task.await.unwrap();
}
