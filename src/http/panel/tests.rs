//! Router-level tests of the panel's security rules: sessions, CSRF, scoping, cookies.
use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use tower::ServiceExt;

use super::session::{LOGIN_CSRF_COOKIE, SESSION_COOKIE};
use crate::app::{Gateway, Role, SubmitRequest};
use crate::auth::{Authenticator, AuthenticatorSettings, LoginThrottle, PasswordHasher};
use crate::config::Settings;
use crate::http::caller::GatewayDirectory;
use crate::http::{ApiState, router};

pub(super) const PASSWORD: &str = "correct horse battery";

pub(super) async fn app() -> (axum::Router, Gateway, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let settings = Settings::default_with_data_dir(dir.path());
    let (gateway, _) = Gateway::open(settings).await.unwrap();
    let hasher = PasswordHasher::insecure_fast();
    for (login, role) in [
        ("alice", Role::Client),
        ("bob", Role::Client),
        ("tech", Role::Technician),
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
    let app = router(ApiState {
        gateway: gateway.clone(),
        auth,
        max_body_bytes: 1 << 20,
        rate_limit: None,
    });
    (app, gateway, dir)
}

pub(super) async fn body_text(r: axum::response::Response) -> String {
    let b = axum::body::to_bytes(r.into_body(), 1 << 20).await.unwrap();
    String::from_utf8_lossy(&b).into_owned()
}

pub(super) fn set_cookie_value(r: &axum::response::Response, name: &str) -> Option<String> {
    r.headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|c| {
            c.strip_prefix(&format!("{name}="))
                .map(|v| v.split(';').next().unwrap_or("").to_owned())
        })
}

pub(super) fn hidden_csrf(html: &str) -> String {
    let i = html.find("name=\"csrf\" value=\"").unwrap() + 19;
    html[i..].split('"').next().unwrap().to_owned()
}

/// Logs in through the form; returns the session cookie value.
pub(super) async fn login(app: &axum::Router, login: &str, password: &str) -> (StatusCode, Option<String>) {
    let page = app
        .clone()
        .oneshot(Request::get("/panel/login").body(Body::empty()).unwrap())
        .await
        .unwrap();
    let pre = set_cookie_value(&page, LOGIN_CSRF_COOKIE).unwrap();
    let csrf = hidden_csrf(&body_text(page).await);
    assert_eq!(pre, csrf);
    let body = format!(
        "login={login}&password={}&csrf={csrf}",
        password.replace(' ', "+")
    );
    let r = app
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
    (r.status(), set_cookie_value(&r, SESSION_COOKIE))
}

pub(super) async fn get(app: &axum::Router, path: &str, session: &str) -> axum::response::Response {
    app.clone()
        .oneshot(
            Request::get(path)
                .header(header::COOKIE, format!("{SESSION_COOKIE}={session}"))
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap()
}

pub(super) async fn post(
    app: &axum::Router,
    path: &str,
    session: &str,
    body: String,
) -> axum::response::Response {
    app.clone()
        .oneshot(
            Request::post(path)
                .header(header::COOKIE, format!("{SESSION_COOKIE}={session}"))
                .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                .body(Body::from(body))
                .unwrap(),
        )
        .await
        .unwrap()
}

#[tokio::test]
async fn login_sets_a_locked_down_session_cookie_and_wrong_passwords_fail() {
    let (app, _gw, _dir) = app().await;
    let (status, cookie) = login(&app, "alice", "wrong password!!").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(cookie.is_none());

    let page = app
        .clone()
        .oneshot(Request::get("/panel/login").body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert!(
        page.headers()[header::CONTENT_SECURITY_POLICY]
            .to_str()
            .unwrap()
            .contains("script-src 'self'")
    );
    let (status, cookie) = login(&app, "alice", PASSWORD).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let session = cookie.unwrap();
    let dash = get(&app, "/panel/dashboard", &session).await;
    assert_eq!(dash.status(), StatusCode::OK);
    assert!(body_text(dash).await.contains("alice (client)"));
}

#[tokio::test]
async fn login_form_needs_its_double_submit_token() {
    let (app, _gw, _dir) = app().await;
    let r = app
        .clone()
        .oneshot(
            Request::post("/panel/login")
                .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                .body(Body::from(format!(
                    "login=alice&password={}&csrf=x",
                    PASSWORD.replace(' ', "+")
                )))
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn pages_without_a_session_redirect_to_login() {
    let (app, _gw, _dir) = app().await;
    for path in ["/panel/dashboard", "/panel/messages", "/panel/modems"] {
        let r = get(&app, path, "forged").await;
        assert_eq!(r.status(), StatusCode::SEE_OTHER, "{path}");
        assert_eq!(r.headers()[header::LOCATION], "/panel/login?expired=1");
    }
}

#[tokio::test]
async fn posts_without_the_session_csrf_token_are_refused() {
    let (app, gw, _dir) = app().await;
    let (_, session) = login(&app, "alice", PASSWORD).await;
    let session = session.unwrap();
    let form = "recipients=%2B48600100200&text=hi";
    let check = |extra: &'static str| {
        let app = app.clone();
        let session = session.clone();
        async move {
            post(&app, "/panel/send", &session, format!("{form}{extra}"))
                .await
                .status()
        }
    };
    assert_eq!(check("").await, StatusCode::FORBIDDEN);
    assert_eq!(check("&csrf=").await, StatusCode::FORBIDDEN);
    assert_eq!(check("&csrf=guess").await, StatusCode::FORBIDDEN);
    let alice = crate::app::Principal::of(&gw.find_account_by_login("alice").await.unwrap().unwrap());
    assert!(
        gw.list_messages(&alice, Default::default())
            .await
            .unwrap()
            .items
            .is_empty(),
        "nothing sent"
    );

    let page = body_text(get(&app, "/panel/send", &session).await).await;
    let csrf = hidden_csrf(&page);
    assert_eq!(
        check(Box::leak(format!("&csrf={csrf}").into_boxed_str())).await,
        StatusCode::SEE_OTHER
    );
    assert_eq!(
        gw.list_messages(&alice, Default::default())
            .await
            .unwrap()
            .items
            .len(),
        1
    );
}

#[tokio::test]
async fn logout_ends_the_session_and_clients_cannot_see_others_messages() {
    let (app, gw, _dir) = app().await;
    let bob = crate::app::Principal::of(&gw.find_account_by_login("bob").await.unwrap().unwrap());
    let sent = gw
        .submit(
            &bob,
            SubmitRequest::new(vec!["+48600100200".into()], "bob's secret"),
            None,
        )
        .await
        .unwrap();
    let path = format!("/panel/messages/{}", sent[0].id);

    let (_, bob_session) = login(&app, "bob", PASSWORD).await;
    let bob_session = bob_session.unwrap();
    assert_eq!(get(&app, &path, &bob_session).await.status(), StatusCode::OK);

    let (_, alice_session) = login(&app, "alice", PASSWORD).await;
    let alice_session = alice_session.unwrap();
    let r = get(&app, &path, &alice_session).await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    assert!(!body_text(r).await.contains("bob's secret"));
    // Clients do not get the modem bank.
    assert_eq!(
        get(&app, "/panel/modems", &alice_session).await.status(),
        StatusCode::FORBIDDEN
    );
    let (_, tech) = login(&app, "tech", PASSWORD).await;
    assert_eq!(
        get(&app, "/panel/modems", &tech.unwrap()).await.status(),
        StatusCode::OK
    );

    let csrf = hidden_csrf(&body_text(get(&app, "/panel/dashboard", &bob_session).await).await);
    let r = post(&app, "/panel/logout", &bob_session, format!("csrf={csrf}")).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        get(&app, &path, &bob_session).await.status(),
        StatusCode::SEE_OTHER,
        "session gone"
    );
}

#[tokio::test]
async fn disabling_an_account_ends_its_sessions() {
    let (app, gw, _dir) = app().await;
    let (_, session) = login(&app, "alice", PASSWORD).await;
    let session = session.unwrap();
    let alice = gw.find_account_by_login("alice").await.unwrap().unwrap();
    let admin = gw
        .create_account(
            None,
            "root",
            PasswordHasher::insecure_fast().hash(PASSWORD).unwrap(),
            Role::Admin,
        )
        .await
        .unwrap();
    gw.set_account_disabled(&crate::app::Principal::of(&admin), alice.id, true)
        .await
        .unwrap();
    assert_eq!(
        get(&app, "/panel/dashboard", &session).await.status(),
        StatusCode::SEE_OTHER
    );
}

#[tokio::test]
async fn panel_login_and_sessions_pass_the_certificate_and_ip_pool_stages() {
    // Router-level requests come from 127.0.0.1 without a client certificate.
    let (app, gw, _dir) = app().await;
    let admin = gw
        .create_account(
            None,
            "root",
            PasswordHasher::insecure_fast().hash(PASSWORD).unwrap(),
            Role::Admin,
        )
        .await
        .unwrap();
    let admin = crate::app::Principal::of(&admin);
    let alice = gw.find_account_by_login("alice").await.unwrap().unwrap().id;
    let (ok, session) = login(&app, "alice", PASSWORD).await;
    assert_eq!(ok, StatusCode::SEE_OTHER);
    let session = session.unwrap();

    // A pool without 127.0.0.1 ends the open session and refuses a new login like a wrong password.
    gw.set_ip_pool(&admin, None, alice, &["127.0.0.2".into()])
        .await
        .unwrap();
    assert_eq!(
        get(&app, "/panel/dashboard", &session).await.status(),
        StatusCode::SEE_OTHER
    );
    let (refused, none) = login(&app, "alice", PASSWORD).await;
    let (wrong, _) = login(&app, "bob", "wrong password!!").await;
    assert_eq!((refused, none), (wrong, None));

    // Requiring a certificate refuses a connection without one.
    gw.set_ip_pool(&admin, None, alice, &[]).await.unwrap();
    gw.set_cert_required(&admin, None, alice, true).await.unwrap();
    assert_eq!(login(&app, "alice", PASSWORD).await, (wrong, None));
    gw.set_cert_required(&admin, None, alice, false).await.unwrap();
    assert_eq!(login(&app, "alice", PASSWORD).await.0, StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn counter_is_the_encoders_count() {
    let (app, _gw, _dir) = app().await;
    let (_, session) = login(&app, "alice", PASSWORD).await;
    let session = session.unwrap();
    let csrf = hidden_csrf(&body_text(get(&app, "/panel/send", &session).await).await);
    let check = |text: &'static str, alphabet: &'static str, parts: u64| {
        let (app, session, csrf) = (app.clone(), session.clone(), csrf.clone());
        async move {
            let body = format!(
                "csrf={csrf}&text={}",
                percent_encoding::utf8_percent_encode(text, percent_encoding::NON_ALPHANUMERIC)
            );
            let r = post(&app, "/panel/count", &session, body).await;
            let v: serde_json::Value = serde_json::from_str(&body_text(r).await).unwrap();
            assert_eq!(
                (v["alphabet"].as_str().unwrap(), v["parts"].as_u64().unwrap()),
                (alphabet, parts),
                "{text}"
            );
        }
    };
    check("hello", "GSM-7", 1).await;
    check("Zażółć gęślą jaźń", "UCS-2", 1).await;
    check("😀", "UCS-2", 1).await;
    check(Box::leak("a".repeat(161).into_boxed_str()), "GSM-7", 2).await;
    check(Box::leak("ż".repeat(71).into_boxed_str()), "UCS-2", 2).await;
}

#[test]
fn signal_bars_table() {
    let check = |rssi: Option<u8>, bars: u8| assert_eq!(super::pages::signal_bars(rssi), bars, "{rssi:?}");
    check(None, 0);
    check(Some(0), 0);
    check(Some(3), 1);
    check(Some(10), 2);
    check(Some(15), 3);
    check(Some(31), 4);
    check(Some(99), 0);
}

#[test]
fn recipients_split() {
    let check =
        |field: &str, expect: &[&str]| assert_eq!(super::pages::split_recipients(field), expect, "{field:?}");
    check("+48600100200", &["+48600100200"]);
    check(
        "+48600100200\n+48600100201\r\n",
        &["+48600100200", "+48600100201"],
    );
    check("1, 2;3", &["1", "2", "3"]);
    check(" \n ,", &[]);
}

#[tokio::test]
async fn repeated_failures_lock_the_panel_login_like_the_api() {
    let (app, _gw, _dir) = app().await;
    let mut statuses = Vec::new();
    for _ in 0..6 {
        statuses.push(login(&app, "alice", "wrong password!!").await.0);
    }
    assert!(statuses.contains(&StatusCode::TOO_MANY_REQUESTS), "{statuses:?}");
    // While throttled even the right password does not open a session, and the page says why.
    let (status, cookie) = login(&app, "alice", PASSWORD).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert!(cookie.is_none());
}
