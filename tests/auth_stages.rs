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
type Case = (&'static str, Option<Pem>, &'static str, bool, Option<&'static str>);

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
