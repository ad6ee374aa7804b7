//! The three authentication stages end to end over real TLS (issue 7): `curl` with and without client
//! certificates, bound to 127.0.0.1 or 127.0.0.2, against the REST API, the Kannel shim and SOAP. Every
//! refusal must be byte-for-byte the answer a wrong password gets on that surface, while the audit log
//! names the stage that failed.
//!
//! | account | stages                        | refused when                                         |
//! |---------|-------------------------------|------------------------------------------------------|
//! | alice   | password + certificate        | no cert, bob's cert, revoked, expired, foreign CA    |
//! | bob     | password                      | (password only; any certificate is ignored)          |
//! | carol   | password + IP pool 127.0.0.2  | connecting from 127.0.0.1                            |
//! | dave    | password + certificate + pool | wrong address with cert, right address without cert |
//! | erin    | password + customer CA        | a certificate from another CA, a revoked leaf        |
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use common::{PASSWORD, start, tool};
use smsgate::app::{Gateway, Principal, Role};
use smsgate::store::AccountId;
use smsgate::tls::ApplianceCa;
use smsgate::tls::config::read_certs;
use time::{Duration, OffsetDateTime};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Surface {
    Rest,
    Kannel,
    Soap,
}

const SURFACES: [Surface; 3] = [Surface::Rest, Surface::Kannel, Surface::Soap];

/// A client certificate and key on disk.
#[derive(Debug, Clone)]
struct Pem {
    cert: PathBuf,
    key: PathBuf,
}

fn write_pem(dir: &Path, name: &str, cert: &str, key: &str) -> Pem {
    let pem = Pem {
        cert: dir.join(format!("{name}.crt.pem")),
        key: dir.join(format!("{name}.key.pem")),
    };
    std::fs::write(&pem.cert, cert).unwrap();
    std::fs::write(&pem.key, key).unwrap();
    pem
}

/// One request with curl: (HTTP status, body).
fn curl(
    ca: &Path,
    port: u16,
    surface: Surface,
    login: &str,
    password: &str,
    cert: Option<&Pem>,
    from: &str,
) -> (u16, String) {
    let mut cmd = tool("curl");
    cmd.args(["-sS", "--cacert"])
        .arg(ca)
        .args(["--resolve", &format!("localhost:{port}:127.0.0.1")])
        .args(["--interface", from])
        .args(["-w", "\n%{http_code}"]);
    if let Some(pem) = cert {
        cmd.arg("--cert").arg(&pem.cert).arg("--key").arg(&pem.key);
    }
    let base = format!("https://localhost:{port}");
    match surface {
        Surface::Rest => {
            cmd.args(["-u", &format!("{login}:{password}")])
                .arg(format!("{base}/api/v1/me"));
        }
        Surface::Kannel => {
            cmd.args(["-G", "--data-urlencode", &format!("username={login}")])
                .args(["--data-urlencode", &format!("password={password}")])
                .args([
                    "--data-urlencode",
                    "to=+48600100200",
                    "--data-urlencode",
                    "text=stage test",
                ])
                .arg(format!("{base}/cgi-bin/sendsms"));
        }
        Surface::Soap => {
            let envelope = format!(
                r#"<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Header><w:Security xmlns:w="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"><w:UsernameToken><w:Username>{login}</w:Username><w:Password>{password}</w:Password></w:UsernameToken></w:Security></s:Header><s:Body><ListModems xmlns="urn:smsgate:soap:v1"/></s:Body></s:Envelope>"#
            );
            cmd.args([
                "-H",
                "content-type: text/xml; charset=utf-8",
                "--data-binary",
                &envelope,
            ])
            .arg(format!("{base}/soap/v1"));
        }
    }
    let out = cmd.output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (body, code) = text
        .rsplit_once('\n')
        .unwrap_or_else(|| panic!("curl failed: {}", String::from_utf8_lossy(&out.stderr)));
    (code.parse().unwrap_or(0), body.to_owned())
}

async fn id(gw: &Gateway, login: &str) -> AccountId {
    gw.find_account_by_login(login).await.unwrap().unwrap().id
}

async fn admin(gw: &Gateway) -> Principal {
    Principal::of(&gw.find_account_by_login("root").await.unwrap().unwrap())
}

struct Rig {
    gw: common::Gw,
    certs: tempfile::TempDir,
    alice: Pem,
    alice_revoked: Pem,
    alice_expired: Pem,
    bob: Pem,
    foreign: Pem,
    dave: Pem,
    erin: Pem,
    erin_revoked: Pem,
}

async fn rig() -> Rig {
    let gw = start().await;
    let g = &gw.gateway;
    let root = admin(g).await;
    let hash = smsgate::auth::PasswordHasher::insecure_fast()
        .hash(PASSWORD)
        .unwrap();
    for login in ["dave", "erin"] {
        g.create_account(Some(&root), login, hash.clone(), Role::Client)
            .await
            .unwrap();
    }
    let certs = tempfile::tempdir().unwrap();
    let dir = certs.path();
    let from = Some("127.0.0.1".parse::<IpAddr>().unwrap());
    let issue = |login: &'static str, name: &'static str| {
        let root = root.clone();
        async move {
            let account = id(g, login).await;
            let issued = g.issue_client_cert(&root, from, account, 30).await.unwrap();
            (
                write_pem(dir, name, &issued.cert_pem, &issued.key_pem),
                issued.cert.id,
            )
        }
    };
    let (alice, _) = issue("alice", "alice").await;
    let (alice_revoked, revoked_id) = issue("alice", "alice-revoked").await;
    let (bob, _) = issue("bob", "bob").await;
    let (dave, _) = issue("dave", "dave").await;
    let alice_id = id(g, "alice").await;
    g.revoke_client_cert(&root, from, alice_id, revoked_id)
        .await
        .unwrap();

    // An appliance-CA certificate that expired yesterday, pinned to alice.
    let (ca, _) = ApplianceCa::load_or_create(&gw.dir.path().join("tls")).unwrap();
    let (cert, key) = ca
        .issue_client(
            "alice",
            Duration::days(1),
            OffsetDateTime::now_utc() - Duration::days(3),
        )
        .unwrap();
    let alice_expired = write_pem(dir, "alice-expired", &cert, &key);
    g.upload_client_cert(&root, from, alice_id, cert.as_bytes(), false)
        .await
        .unwrap();

    // Another CA: its certificate says CN=alice but means nothing to alice; erin pins that CA.
    let other = ApplianceCa::generate(OffsetDateTime::now_utc()).unwrap();
    let (cert, key) = other
        .issue_client("alice", Duration::days(1), OffsetDateTime::now_utc())
        .unwrap();
    let foreign = write_pem(dir, "foreign", &cert, &key);
    let customer = ApplianceCa::generate(OffsetDateTime::now_utc()).unwrap();
    let (cert, key) = customer
        .issue_client("erin-device", Duration::days(1), OffsetDateTime::now_utc())
        .unwrap();
    let erin = write_pem(dir, "erin", &cert, &key);
    let (lost_cert, lost_key) = customer
        .issue_client("erin-lost", Duration::days(1), OffsetDateTime::now_utc())
        .unwrap();
    let erin_revoked = write_pem(dir, "erin-lost", &lost_cert, &lost_key);
    let erin_id = id(g, "erin").await;
    g.upload_client_cert(&root, from, erin_id, customer.cert_pem().as_bytes(), true)
        .await
        .unwrap();
    g.revoke_fingerprint(&root, from, erin_id, lost_cert.as_bytes())
        .await
        .unwrap();

    let pool = vec!["127.0.0.2".to_owned()];
    for login in ["alice", "dave", "erin"] {
        g.set_cert_required(&root, from, id(g, login).await, true)
            .await
            .unwrap();
    }
    for login in ["carol", "dave"] {
        g.set_ip_pool(&root, from, id(g, login).await, &pool)
            .await
            .unwrap();
    }
    Rig {
        gw,
        certs,
        alice,
        alice_revoked,
        alice_expired,
        bob,
        foreign,
        dave,
        erin,
        erin_revoked,
    }
}

/// (login, certificate, source address, passes?, what the audit entry of the refusal must say)
type Case = (
    &'static str,
    Option<Pem>,
    &'static str,
    bool,
    Option<&'static str>,
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_surface_refuses_every_failed_stage_alike() {
    let rig = rig().await;
    let (ca, port) = (rig.gw.ca.clone(), rig.gw.addr.port());
    // (login, certificate, source address, passes?, stage the audit log must name when refused)
    let cases: Vec<Case> = vec![
        ("alice", Some(rig.alice.clone()), "127.0.0.1", true, None),
        ("alice", None, "127.0.0.1", false, Some("reason=no certificate")),
        (
            "alice",
            Some(rig.bob.clone()),
            "127.0.0.1",
            false,
            Some("reason=certificate not bound"),
        ),
        (
            "alice",
            Some(rig.alice_revoked.clone()),
            "127.0.0.1",
            false,
            Some("reason=certificate revoked"),
        ),
        (
            "alice",
            Some(rig.alice_expired.clone()),
            "127.0.0.1",
            false,
            Some("reason=certificate expired"),
        ),
        (
            "alice",
            Some(rig.foreign.clone()),
            "127.0.0.1",
            false,
            Some("reason=certificate not bound"),
        ),
        ("bob", None, "127.0.0.1", true, None),
        ("bob", Some(rig.foreign.clone()), "127.0.0.1", true, None),
        ("carol", None, "127.0.0.2", true, None),
        ("carol", None, "127.0.0.1", false, Some("stage=ip-pool")),
        ("dave", Some(rig.dave.clone()), "127.0.0.2", true, None),
        (
            "dave",
            Some(rig.dave.clone()),
            "127.0.0.1",
            false,
            Some("stage=ip-pool"),
        ),
        (
            "dave",
            None,
            "127.0.0.2",
            false,
            Some("stage=certificate reason=no certificate"),
        ),
        ("erin", Some(rig.erin.clone()), "127.0.0.1", true, None),
        (
            "erin",
            Some(rig.foreign.clone()),
            "127.0.0.1",
            false,
            Some("reason=certificate not bound"),
        ),
        (
            "erin",
            Some(rig.erin_revoked.clone()),
            "127.0.0.1",
            false,
            Some("reason=certificate revoked"),
        ),
    ];
    let expected: Vec<_> = cases.iter().map(|c| (c.0, c.3, c.4)).collect();
    let results = tokio::task::spawn_blocking(move || {
        let mut results = Vec::new();
        for surface in SURFACES {
            // The answer an attacker gets for a wrong password is the yardstick for every refusal.
            let wrong = curl(&ca, port, surface, "nobody", "wrong password", None, "127.0.0.1");
            for (login, cert, from, _, _) in &cases {
                let got = curl(&ca, port, surface, login, PASSWORD, cert.as_ref(), from);
                results.push((surface, wrong.clone(), got));
            }
        }
        results
    })
    .await
    .unwrap();
    for (i, (surface, wrong, got)) in results.iter().enumerate() {
        let (login, passes, _) = expected[i % expected.len()];
        let case = &format!("{surface:?} case {} ({login})", i % expected.len());
        // REST 401 problem, Kannel 403 `Authorization failed`, SOAP 1.1 fault (HTTP 500, `sg:unauthorized`).
        let refusal = match surface {
            Surface::Rest => 401,
            Surface::Kannel => 403,
            Surface::Soap => 500,
        };
        assert_eq!(wrong.0, refusal, "{case}: wrong password answered {wrong:?}");
        if passes {
            assert!(
                (200..300).contains(&got.0),
                "{case}: expected success, got {got:?}"
            );
        } else {
            assert_eq!(
                got, wrong,
                "{case}: refusal must look exactly like a wrong password"
            );
        }
    }

    // The audit log tells the admin exactly which stage failed, from where, for which account.
    let root = admin(&rig.gw.gateway).await;
    let log = rig.gw.gateway.audit_log(&root, None, 1000).await.unwrap();
    for (login, _, expect) in &expected {
        if let Some(fragment) = expect {
            assert!(
                log.iter().any(|e| e.action == "login.failed"
                    && e.details
                        .as_deref()
                        .is_some_and(|d| d.contains(fragment) && d.contains(&format!("login={login}")))
                    && e.source_ip.is_some()),
                "no audit entry for {login} with {fragment}: {log:#?}"
            );
        }
    }
    for action in [
        "account.cert_bound",
        "account.cert_revoked",
        "account.ip_pool_changed",
        "account.cert_required_changed",
    ] {
        let entry = log
            .iter()
            .find(|e| e.action == action)
            .unwrap_or_else(|| panic!("{action} not audited"));
        assert_eq!(entry.actor.as_deref(), Some("root"));
        assert_eq!(entry.source_ip.as_deref(), Some("127.0.0.1"));
    }
    drop(rig.certs);
}

fn reqwest_with_cert(ca: &Path, pem: Option<&Pem>, from: &str) -> reqwest::Client {
    let mut roots = rustls::RootCertStore::empty();
    for c in read_certs(ca).unwrap() {
        roots.add(c).unwrap();
    }
    let builder = rustls::ClientConfig::builder_with_provider(smsgate::tls::provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots);
    let config = match pem {
        Some(p) => {
            let key = rustls_pemfile::private_key(&mut std::fs::read(&p.key).unwrap().as_slice())
                .unwrap()
                .unwrap();
            builder
                .with_client_auth_cert(read_certs(&p.cert).unwrap(), key)
                .unwrap()
        }
        None => builder.with_no_client_auth(),
    };
    reqwest::Client::builder()
        .use_preconfigured_tls(config)
        .local_address(from.parse::<IpAddr>().unwrap())
        .resolve("localhost", "127.0.0.1:0".parse().unwrap())
        .build()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revocation_and_pool_changes_apply_to_open_connections() {
    let rig = rig().await;
    let g = &rig.gw.gateway;
    let root = admin(g).await;
    let me = |client: reqwest::Client, login: &'static str| {
        let url = rig.gw.url("/api/v1/me");
        async move {
            client
                .get(url)
                .basic_auth(login, Some(PASSWORD))
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    // One client = one kept-alive connection with alice's certificate.
    let alice = reqwest_with_cert(&rig.gw.ca, Some(&rig.alice), "127.0.0.1");
    assert_eq!(me(alice.clone(), "alice").await, 200);
    let alice_id = id(g, "alice").await;
    let live = g.account_certs(&root, alice_id).await.unwrap();
    let first = live.iter().find(|c| c.revoked_at.is_none()).unwrap().id;
    g.revoke_client_cert(&root, None, alice_id, first).await.unwrap();
    assert_eq!(
        me(alice.clone(), "alice").await,
        401,
        "revoked on a live connection"
    );

    // bob, password only, from 127.0.0.2; then an IP pool without 127.0.0.2 refuses the same connection.
    let bob = reqwest_with_cert(&rig.gw.ca, None, "127.0.0.2");
    assert_eq!(me(bob.clone(), "bob").await, 200);
    let bob_id = id(g, "bob").await;
    g.set_ip_pool(&root, None, bob_id, &["127.0.0.1/32".into(), "::1".into()])
        .await
        .unwrap();
    assert_eq!(me(bob.clone(), "bob").await, 401);
    let bob_local = reqwest_with_cert(&rig.gw.ca, None, "127.0.0.1");
    assert_eq!(me(bob_local, "bob").await, 200);
    // Clearing the pool admits any address again.
    g.set_ip_pool(&root, None, bob_id, &[]).await.unwrap();
    assert_eq!(me(bob, "bob").await, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_issues_pkcs12_over_rest_and_roles_are_enforced() {
    let gw = start().await;
    let g = &gw.gateway;
    let root = admin(g).await;
    let hash = smsgate::auth::PasswordHasher::insecure_fast()
        .hash(PASSWORD)
        .unwrap();
    g.create_account(Some(&root), "tech", hash, Role::Technician)
        .await
        .unwrap();
    let http = gw.http();
    let alice = id(g, "alice").await.0;
    let call =
        |login: &'static str, method: reqwest::Method, path: String, body: Option<serde_json::Value>| {
            let mut r = http
                .request(method, gw.url(&path))
                .basic_auth(login, Some(PASSWORD));
            if let Some(b) = body {
                r = r.json(&b);
            }
            async move { r.send().await.unwrap() }
        };
    use reqwest::Method;
    let auth_path = format!("/api/v1/accounts/{alice}/auth");
    let certs_path = format!("/api/v1/accounts/{alice}/certificates");

    // Clients and technicians manage nothing; a client reads its own stages only.
    for who in ["alice", "tech", "bob"] {
        let r = call(
            who,
            Method::PUT,
            auth_path.clone(),
            Some(serde_json::json!({"ip_pool": []})),
        )
        .await;
        assert_eq!(r.status(), 403, "{who} may not change stages");
        let r = call(
            who,
            Method::POST,
            certs_path.clone(),
            Some(serde_json::json!({"days": 1})),
        )
        .await;
        assert_eq!(r.status(), 403, "{who} may not issue certificates");
    }
    assert_eq!(
        call("alice", Method::GET, auth_path.clone(), None).await.status(),
        200
    );
    assert_eq!(
        call("bob", Method::GET, auth_path.clone(), None).await.status(),
        403
    );
    assert_eq!(
        call("bob", Method::GET, certs_path.clone(), None).await.status(),
        403
    );
    assert_eq!(
        call("tech", Method::GET, "/api/v1/audit".into(), None)
            .await
            .status(),
        403
    );

    // The admin issues a PKCS#12 bundle and requires the certificate.
    let issued: serde_json::Value = call(
        "root",
        Method::POST,
        certs_path.clone(),
        Some(serde_json::json!({"days": 30, "pkcs12_password": "bundle password"})),
    )
    .await
    .json()
    .await
    .unwrap();
    use base64::Engine;
    let p12 = base64::engine::general_purpose::STANDARD
        .decode(issued["pkcs12_base64"].as_str().unwrap())
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let p12_path = dir.path().join("alice.p12");
    std::fs::write(&p12_path, &p12).unwrap();
    let put = call(
        "root",
        Method::PUT,
        auth_path.clone(),
        Some(serde_json::json!({"cert_required": true, "ip_pool": ["127.0.0.0/8", "::1"]})),
    )
    .await;
    assert_eq!(put.status(), 200);
    let stages: serde_json::Value = put.json().await.unwrap();
    assert_eq!(stages["cert_required"], true);
    assert_eq!(stages["ip_pool"], serde_json::json!(["127.0.0.0/8", "::1/128"]));
    let bad = call(
        "root",
        Method::PUT,
        auth_path.clone(),
        Some(serde_json::json!({"ip_pool": ["10.0.0.0/33"]})),
    )
    .await;
    assert_eq!(bad.status(), 422);

    // openssl reads the bundle; curl authenticates with it; without it alice is refused.
    let (ca, port) = (gw.ca.clone(), gw.addr.port());
    let p12_for_curl = p12_path.clone();
    let (openssl_out, with, without) = tokio::task::spawn_blocking(move || {
        let out = tool("openssl")
            .args(["pkcs12", "-in"])
            .arg(&p12_for_curl)
            .args(["-passin", "pass:bundle password", "-nokeys", "-clcerts"])
            .output()
            .unwrap();
        let code = |cert: bool| {
            let mut c = tool("curl");
            c.args(["-sS", "-o", "/dev/null", "-w", "%{http_code}", "--cacert"])
                .arg(&ca)
                .args(["-u", &format!("alice:{PASSWORD}")]);
            if cert {
                c.args(["--cert-type", "P12", "--cert"])
                    .arg(format!("{}:bundle password", p12_for_curl.display()));
            }
            let out = c
                .arg(format!("https://localhost:{port}/api/v1/me"))
                .output()
                .unwrap();
            String::from_utf8_lossy(&out.stdout).into_owned()
        };
        (out, code(true), code(false))
    })
    .await
    .unwrap();
    assert!(
        openssl_out.status.success(),
        "{}",
        String::from_utf8_lossy(&openssl_out.stderr)
    );
    assert!(
        String::from_utf8_lossy(&openssl_out.stdout).contains("CN=alice")
            || String::from_utf8_lossy(&openssl_out.stdout).contains("CN = alice")
    );
    assert_eq!((with.as_str(), without.as_str()), ("200", "401"));

    // The audit log (admin) shows who changed what, from where.
    let log: serde_json::Value = call("root", Method::GET, "/api/v1/audit?limit=50".into(), None)
        .await
        .json()
        .await
        .unwrap();
    let entries = log["items"].as_array().unwrap();
    let changed = entries
        .iter()
        .find(|e| e["action"] == "account.ip_pool_changed")
        .unwrap();
    assert_eq!(changed["actor"], "root");
    assert_eq!(changed["source_ip"], "127.0.0.1");

    // Technicians see message metadata of every account, never the bodies, and cannot cancel.
    let sent = gw
        .send_as(
            "bob",
            serde_json::json!({"to": ["+48600100200"], "text": "secret body"}),
        )
        .await;
    assert_eq!(sent.status(), 202, "{:?}", sent.text().await);
    let listed: serde_json::Value = call("tech", Method::GET, "/api/v1/messages".into(), None)
        .await
        .json()
        .await
        .unwrap();
    let item = &listed["items"][0];
    assert_eq!(item["recipient"], "+48600100200");
    assert!(!listed.to_string().contains("secret body"), "{listed}");
    let id = item["id"].as_str().unwrap().to_owned();
    let one = call("tech", Method::GET, format!("/api/v1/messages/{id}"), None)
        .await
        .text()
        .await
        .unwrap();
    assert!(!one.contains("secret body") && one.contains("redacted"), "{one}");
    assert_eq!(
        call("tech", Method::DELETE, format!("/api/v1/messages/{id}"), None)
            .await
            .status(),
        403
    );
    let own = call("bob", Method::GET, format!("/api/v1/messages/{id}"), None)
        .await
        .text()
        .await
        .unwrap();
    assert!(own.contains("secret body"));
    let admin_view = call("root", Method::GET, format!("/api/v1/messages/{id}"), None)
        .await
        .text()
        .await
        .unwrap();
    assert!(admin_view.contains("secret body"));
}

#[test]
fn cli_manages_accounts_certificates_and_pools_on_the_data_dir() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let run = |args: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_smsgate"))
            .arg("account")
            .arg("--data-dir")
            .arg(&data)
            .args(args)
            .env("SMSGATE_ACCOUNT_PASSWORD", "a long enough password 1")
            .current_dir(dir.path())
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{args:?}: {text}");
        text
    };
    run(&["create", "shop", "--role", "client"]);
    run(&["require-cert", "shop"]);
    let issued = run(&["cert", "issue", "shop", "--days", "10"]);
    assert!(issued.contains("issued certificate 1"), "{issued}");
    assert!(dir.path().join("shop.crt.pem").exists() && dir.path().join("shop.key.pem").exists());
    let out = tool("openssl")
        .args(["verify", "-CAfile"])
        .arg(dir.path().join("shop.ca.pem"))
        .arg(dir.path().join("shop.crt.pem"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    run(&["ip-pool", "set", "shop", "127.0.0.2", "2001:db8::/32"]);
    let listed = run(&["list"]);
    assert!(
        listed.contains("cert_required=true certs=1 ip_pool=127.0.0.2/32,2001:db8::/32"),
        "{listed}"
    );
    run(&["cert", "revoke", "shop", "1"]);
    assert!(run(&["cert", "list", "shop"]).contains("REVOKED"));
    let bad = std::process::Command::new(env!("CARGO_BIN_EXE_smsgate"))
        .args(["account", "--data-dir"])
        .arg(&data)
        .args(["ip-pool", "set", "shop", "not-an-address"])
        .output()
        .unwrap();
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("not-an-address"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn addresses_no_account_could_use_get_no_tls_handshake() {
    use smsgate::auth::admission::PoolAdmission;
    use smsgate::tls::{ClientCertMode, ServerCertificate, TlsServer, server_config};
    let dir = tempfile::tempdir().unwrap();
    let certificate = ServerCertificate::prepare(None, &dir.path().join("tls"), &[]).unwrap();
    let tls = Arc::new(server_config(Arc::clone(&certificate.resolver), ClientCertMode::Request).unwrap());
    let admission = Arc::new(PoolAdmission::new());
    admission.update(&[vec!["127.0.0.2/32".parse().unwrap()]], &[]);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let shutdown = tokio_util::sync::CancellationToken::new();
    let app = axum::Router::new().route("/", axum::routing::get(|| async { "ok" }));
    tokio::spawn(
        TlsServer::new(tls)
            .with_admission(admission.clone())
            .run(listener, app, shutdown.clone()),
    );
    let ca = certificate.ca_cert.clone().unwrap();
    let get = |from: &'static str| {
        let client = reqwest_with_cert(&ca, None, from);
        async move { client.get(format!("https://localhost:{port}/")).send().await }
    };
    assert_eq!(get("127.0.0.2").await.unwrap().status(), 200);
    assert!(get("127.0.0.1").await.is_err(), "dropped before the handshake");
    // An account without a pool opens the door again (its stage 3 admits any address).
    admission.update(&[vec!["127.0.0.2/32".parse().unwrap()], vec![]], &[]);
    assert_eq!(get("127.0.0.1").await.unwrap().status(), 200);
    shutdown.cancel();
}
