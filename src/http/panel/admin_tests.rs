//! Router-level tests of the admin pages for retention, backups and the TLS certificate: role checks,
//! CSRF, validation shown on the page, audit entries, staged restore, certificate swap.
use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use tower::ServiceExt;

use super::session::{LOGIN_CSRF_COOKIE, SESSION_COOKIE};
use crate::app::{Gateway, Role};
use crate::auth::{Authenticator, AuthenticatorSettings, LoginThrottle, PasswordHasher};
use crate::config::Settings;
use crate::http::caller::GatewayDirectory;
use crate::http::{ApiState, router};
use crate::tls::ServerCertificate;

const PASSWORD: &str = "correct horse battery";

struct App {
    router: axum::Router,
    gw: Gateway,
    cert: Arc<ServerCertificate>,
    dir: tempfile::TempDir,
}

async fn app() -> App {
    let dir = tempfile::tempdir().unwrap();
    let settings = Settings::default_with_data_dir(dir.path());
    let (gw, _) = Gateway::open(settings).await.unwrap();
    let hasher = PasswordHasher::insecure_fast();
    for (login, role) in [
        ("root", Role::Admin),
        ("tech", Role::Technician),
        ("alice", Role::Client),
    ] {
        gw.create_account(None, login, hasher.hash(PASSWORD).unwrap(), role)
            .await
            .unwrap();
    }
    let auth = Arc::new(Authenticator::new(
        Box::new(GatewayDirectory(gw.clone())),
        hasher,
        LoginThrottle::default(),
        &AuthenticatorSettings::default(),
    ));
    let cert = Arc::new(ServerCertificate::prepare(None, &dir.path().join("tls"), &[]).unwrap());
    let router = router(ApiState {
        gateway: gw.clone(),
        auth,
        max_body_bytes: 1 << 20,
        rate_limit: None,
    })
    .layer(axum::Extension(Arc::clone(&cert)));
    App {
        router,
        gw,
        cert,
        dir,
    }
}

async fn text(r: axum::response::Response) -> String {
    let b = axum::body::to_bytes(r.into_body(), 1 << 24).await.unwrap();
    String::from_utf8_lossy(&b).into_owned()
}

fn cookie_of(r: &axum::response::Response, name: &str) -> Option<String> {
    r.headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|c| {
            c.strip_prefix(&format!("{name}="))
                .map(|v| v.split(';').next().unwrap_or("").to_owned())
        })
}

fn csrf_in(html: &str) -> String {
    let i = html.find("name=\"csrf\" value=\"").unwrap() + 19;
    html[i..].split('"').next().unwrap().to_owned()
}

/// Logs in; returns (session cookie, CSRF token of the session).
async fn login(app: &App, login: &str) -> (String, String) {
    let page = app
        .router
        .clone()
        .oneshot(Request::get("/panel/login").body(Body::empty()).unwrap())
        .await
        .unwrap();
    let pre = cookie_of(&page, LOGIN_CSRF_COOKIE).unwrap();
    let body = format!("login={login}&password={}&csrf={pre}", PASSWORD.replace(' ', "+"));
    let r = app
        .router
        .clone()
        .oneshot(
            Request::post("/panel/login")
                .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                .header(header::COOKIE, format!("{LOGIN_CSRF_COOKIE}={pre}"))
                .body(Body::from(body))
                .unwrap(),
        )
        .await
        .unwrap();
    let session = cookie_of(&r, SESSION_COOKIE).unwrap();
    let dash = text(get(app, "/panel/dashboard", &session).await).await;
    (session, csrf_in(&dash))
}

async fn get(app: &App, path: &str, session: &str) -> axum::response::Response {
    app.router
        .clone()
        .oneshot(
            Request::get(path)
                .header(header::COOKIE, format!("{SESSION_COOKIE}={session}"))
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap()
}

async fn post(app: &App, path: &str, session: &str, body: &str) -> axum::response::Response {
    app.router
        .clone()
        .oneshot(
            Request::post(path)
                .header(header::COOKIE, format!("{SESSION_COOKIE}={session}"))
                .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                .body(Body::from(body.to_owned()))
                .unwrap(),
        )
        .await
        .unwrap()
}

fn enc(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

async fn actions(gw: &Gateway) -> Vec<String> {
    gw.store()
        .audit_log(None, 200)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.action)
        .collect()
}

#[tokio::test]
async fn retention_page_shows_validates_and_audits_changes() {
    let app = app().await;
    let (root, csrf) = login(&app, "root").await;
    let page = text(get(&app, "/panel/retention", &root).await).await;
    assert!(page.contains("id=\"retention-form\""), "admins get the form");
    assert!(page.contains(">730<") && page.contains(">1825<"), "{page}");

    // Technicians see the periods but not the form, and cannot post it.
    let (tech, tech_csrf) = login(&app, "tech").await;
    let page = text(get(&app, "/panel/retention", &tech).await).await;
    assert!(page.contains("ret-days") && !page.contains("retention-form"));
    let r = post(
        &app,
        "/panel/retention",
        &tech,
        &format!("csrf={tech_csrf}&days=10&audit_days=20&deletion_grace_hours=0"),
    )
    .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    // Clients do not see it at all.
    let (alice, _) = login(&app, "alice").await;
    assert_eq!(
        get(&app, "/panel/retention", &alice).await.status(),
        StatusCode::FORBIDDEN
    );

    // Without the CSRF token: refused. With an audit period shorter than the message period: the page
    // names the key and keeps what was typed.
    let r = post(
        &app,
        "/panel/retention",
        &root,
        "days=10&audit_days=20&deletion_grace_hours=0",
    )
    .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let r = post(
        &app,
        "/panel/retention",
        &root,
        &format!("csrf={csrf}&days=400&audit_days=300&deletion_grace_hours=0"),
    )
    .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let page = text(r).await;
    assert!(page.contains("retention.audit_days"), "{page}");
    assert!(page.contains("value=\"300\""));
    assert!(
        page.contains("id=\"ret-days\">730<"),
        "the facts show the periods in force"
    );
    let r = post(
        &app,
        "/panel/retention",
        &root,
        &format!("csrf={csrf}&days=abc&audit_days=300&deletion_grace_hours=0"),
    )
    .await;
    assert!(text(r).await.contains("retention.days: must be a whole number"));
    assert_eq!(app.gw.retention().days, 730, "nothing changed");

    let r = post(
        &app,
        "/panel/retention",
        &root,
        &format!("csrf={csrf}&days=400&audit_days=2000&deletion_grace_hours=48"),
    )
    .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        (app.gw.retention().days, app.gw.retention().audit_days),
        (400, 2000)
    );
    let page = text(get(&app, "/panel/retention?saved=1", &root).await).await;
    assert!(page.contains(">400<") && page.contains("overridden in the panel"));
    assert!(actions(&app.gw).await.contains(&"retention.changed".to_owned()));
    app.gw.shutdown().await;
}

#[tokio::test]
async fn backups_page_takes_verifies_downloads_and_stages_a_restore() {
    let app = app().await;
    let (root, csrf) = login(&app, "root").await;
    let (tech, tech_csrf) = login(&app, "tech").await;
    assert_eq!(
        get(&app, "/panel/backups", &tech).await.status(),
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        post(&app, "/panel/backups/create", &tech, &format!("csrf={tech_csrf}"))
            .await
            .status(),
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        post(&app, "/panel/backups/create", &root, "").await.status(),
        StatusCode::FORBIDDEN
    );

    let r = post(&app, "/panel/backups/create", &root, &format!("csrf={csrf}")).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let list = app
        .gw
        .backups(&crate::app::Principal::of(
            &app.gw.find_account_by_login("root").await.unwrap().unwrap(),
        ))
        .await
        .unwrap();
    assert_eq!(list.len(), 1);
    let name = list[0].name.clone();
    let page = text(get(&app, "/panel/backups", &root).await).await;
    assert!(page.contains(&name));
    assert!(
        page.contains(&format!("<td>{}</td>", crate::store::SCHEMA_VERSION)),
        "the schema version is listed"
    );

    // Verify: records the time on the list.
    let r = post(
        &app,
        &format!("/panel/backups/{name}/verify"),
        &root,
        &format!("csrf={csrf}"),
    )
    .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert!(
        crate::app::backup::read_sidecar(&list[0].info.path)
            .unwrap()
            .verified_at
            .is_some()
    );

    // Download: admins only, the encrypted bytes, audited.
    assert_eq!(
        get(&app, &format!("/panel/backups/{name}/download"), &tech)
            .await
            .status(),
        StatusCode::FORBIDDEN
    );
    let r = get(&app, &format!("/panel/backups/{name}/download"), &root).await;
    assert_eq!(r.status(), StatusCode::OK);
    let bytes = axum::body::to_bytes(r.into_body(), 1 << 26).await.unwrap();
    assert_eq!(
        bytes.as_ref(),
        std::fs::read(&list[0].info.path).unwrap().as_slice()
    );
    assert!(bytes.starts_with(b"age-encryption.org/v1"), "still encrypted");
    // Names outside the backup directory are not found.
    for bad in [
        "..%2Fsmsgate.db",
        "smsgate.db",
        "smsgate-20260101T000000000Z.db.age",
    ] {
        let r = get(&app, &format!("/panel/backups/{bad}/download"), &root).await;
        assert_eq!(r.status(), StatusCode::NOT_FOUND, "{bad}");
    }

    // Restore: the name must be typed; then it is staged for the next start, and can be cancelled.
    let r = post(
        &app,
        &format!("/panel/backups/{name}/restore"),
        &root,
        &format!("csrf={csrf}&confirm=yes"),
    )
    .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(crate::app::backup::staged_restore(app.dir.path()).is_none());
    let r = post(
        &app,
        &format!("/panel/backups/{name}/restore"),
        &root,
        &format!("csrf={csrf}&confirm={}", enc(&name)),
    )
    .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let staged = crate::app::backup::staged_restore(app.dir.path()).unwrap();
    assert_eq!(staged.requested_by, "root");
    let page = text(get(&app, "/panel/backups", &root).await).await;
    assert!(page.contains("id=\"staged-restore\""));
    let r = post(
        &app,
        "/panel/backups/staged/cancel",
        &root,
        &format!("csrf={csrf}"),
    )
    .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert!(crate::app::backup::staged_restore(app.dir.path()).is_none());

    let log = actions(&app.gw).await;
    for action in [
        "backup.created",
        "backup.verified",
        "backup.downloaded",
        "backup.restore_staged",
        "backup.restore_cancelled",
    ] {
        assert!(log.contains(&action.to_owned()), "{action} missing in {log:?}");
    }
    app.gw.shutdown().await;
}

#[tokio::test]
async fn tls_page_installs_and_regenerates_without_restart() {
    let app = app().await;
    let (root, csrf) = login(&app, "root").await;
    let (tech, _) = login(&app, "tech").await;
    assert_eq!(
        get(&app, "/panel/tls", &tech).await.status(),
        StatusCode::FORBIDDEN
    );
    let page = text(get(&app, "/panel/tls", &root).await).await;
    assert!(page.contains("id=\"tls-origin\">appliance"), "{page}");
    let ca = text(get(&app, "/panel/tls/ca.pem", &root).await).await;
    assert!(ca.starts_with("-----BEGIN CERTIFICATE-----"));

    let other =
        crate::tls::pki::ApplianceCerts::ensure(&app.dir.path().join("other"), &["gw.example".into()])
            .unwrap();
    let cert = std::fs::read_to_string(&other.server_cert).unwrap();
    let key = std::fs::read_to_string(&other.server_key).unwrap();
    // A mismatched pair is refused on the page, audited, and nothing changes.
    let before = app.cert.describe().unwrap().sha256;
    let wrong_key = std::fs::read_to_string(app.cert.resolver.source().key).unwrap();
    let r = post(
        &app,
        "/panel/tls/install",
        &root,
        &format!("csrf={csrf}&cert={}&key={}", enc(&cert), enc(&wrong_key)),
    )
    .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(text(r).await.contains("does not match"));
    assert_eq!(app.cert.describe().unwrap().sha256, before);

    let r = post(
        &app,
        "/panel/tls/install",
        &root,
        &format!("csrf={csrf}&cert={}&key={}", enc(&cert), enc(&key)),
    )
    .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let page = text(get(&app, "/panel/tls", &root).await).await;
    assert!(
        page.contains("gw.example") && page.contains("id=\"tls-origin\">installed"),
        "{page}"
    );

    // Regenerating needs the confirmation box.
    let r = post(&app, "/panel/tls/regenerate", &root, &format!("csrf={csrf}")).await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let r = post(
        &app,
        "/panel/tls/regenerate",
        &root,
        &format!("csrf={csrf}&confirm=yes"),
    )
    .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(app.cert.origin(), crate::tls::manage::CertOrigin::Appliance);
    let log = actions(&app.gw).await;
    for action in [
        "tls.certificate_refused",
        "tls.certificate_installed",
        "tls.certificate_regenerated",
    ] {
        assert!(log.contains(&action.to_owned()), "{action} missing in {log:?}");
    }
    app.gw.shutdown().await;
}
