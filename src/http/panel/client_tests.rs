//! Router-level tests of the client pages added for issue 9: CSV upload → preview → confirm, the
//! certificate page (issue, one-time PKCS#12 download, upload, revoke), the IP pool editor (per-line
//! errors, lockout confirmation), post/redirect/get of secrets, and the audit of destructive actions.
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use tower::ServiceExt;

use super::session::SESSION_COOKIE;
use super::tests::{PASSWORD, app, body_text, get, hidden_csrf, login, post};
use crate::app::{Gateway, MessageFilter, Principal};

const BOUNDARY: &str = "----smsgateTestBoundary";

/// A multipart body of text fields and one optional file.
fn multipart(fields: &[(&str, &str)], file: Option<(&str, &str, &[u8])>) -> Vec<u8> {
    let mut body = Vec::new();
    for (name, value) in fields {
        body.extend_from_slice(
            format!("--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n")
                .as_bytes(),
        );
    }
    if let Some((name, filename, data)) = file {
        body.extend_from_slice(
            format!(
                "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{name}\"; filename=\"{filename}\"\r\n\
                 Content-Type: text/csv\r\n\r\n"
            )
            .as_bytes(),
        );
        body.extend_from_slice(data);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{BOUNDARY}--\r\n").as_bytes());
    body
}

async fn post_multipart(
    app: &axum::Router,
    path: &str,
    session: &str,
    body: Vec<u8>,
) -> axum::response::Response {
    app.clone()
        .oneshot(
            Request::post(path)
                .header(header::COOKIE, format!("{SESSION_COOKIE}={session}"))
                .header(
                    header::CONTENT_TYPE,
                    format!("multipart/form-data; boundary={BOUNDARY}"),
                )
                .body(Body::from(body))
                .unwrap(),
        )
        .await
        .unwrap()
}

fn location(r: &axum::response::Response) -> String {
    r.headers()[header::LOCATION].to_str().unwrap().to_owned()
}

/// A logged-in client: (session, CSRF token).
async fn client(app: &axum::Router, who: &str) -> (String, String) {
    let (_, session) = login(app, who, PASSWORD).await;
    let session = session.unwrap();
    let page = body_text(get(app, "/panel/dashboard", &session).await).await;
    (session.clone(), hidden_csrf(&page))
}

async fn principal(gw: &Gateway, login: &str) -> Principal {
    Principal::of(&gw.find_account_by_login(login).await.unwrap().unwrap())
}

async fn message_count(gw: &Gateway, who: &Principal) -> usize {
    gw.list_messages(who, MessageFilter::default())
        .await
        .unwrap()
        .items
        .len()
}

async fn audit_actions(gw: &Gateway) -> Vec<String> {
    let root = Principal {
        account_id: crate::store::AccountId(0),
        login: "test".into(),
        role: crate::app::Role::Admin,
    };
    gw.audit_log(&root, None, 500)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.action)
        .collect()
}

#[tokio::test]
async fn csv_upload_previews_refused_rows_and_sends_only_once_confirmed() {
    let (app, gw, _dir) = app().await;
    let (session, csrf) = client(&app, "alice").await;
    let alice = principal(&gw, "alice").await;
    let csv = "Name;Telefon;Treść\n\
               Jan;600 100 200;\n\
               Ola;+48600100201;Cześć Ola 😀\n\
               Zły;12ab;\n\
               Jan again;0048600100200;\n";
    let body = multipart(
        &[
            ("csrf", &csrf),
            ("text", "Hello from a CSV"),
            ("encoding", "auto"),
        ],
        Some(("file", "list.csv", csv.as_bytes())),
    );
    let r = post_multipart(&app, "/panel/send/csv", &session, body).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&r), "/panel/send/csv");
    assert_eq!(
        message_count(&gw, &alice).await,
        0,
        "nothing sent before confirmation"
    );

    let preview = get(&app, "/panel/send/csv", &session).await;
    assert_eq!(preview.status(), StatusCode::OK);
    let html = body_text(preview).await;
    for expect in [
        "id=\"csv-valid\">2<",
        "id=\"csv-invalid\">2<",
        "id=\"csv-recipient-column\">Telefon<",
        "&#34;12ab&#34;",
        "same number and text as line 2",
        "+48600100201",
    ] {
        assert!(html.contains(expect), "{expect} missing in {html}");
    }
    let id = html
        .split("name=\"id\" value=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .unwrap()
        .to_owned();

    // A confirm for another upload id is refused; the right one sends the two valid rows once.
    let r = post(
        &app,
        "/panel/send/csv/confirm",
        &session,
        format!("csrf={csrf}&id=other&action=send"),
    )
    .await;
    assert_eq!(r.status(), StatusCode::CONFLICT);
    assert_eq!(message_count(&gw, &alice).await, 0);
    let r = post(
        &app,
        "/panel/send/csv/confirm",
        &session,
        format!("csrf={csrf}&id={id}&action=send"),
    )
    .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&r), "/panel/messages?sent=2");
    let sent = gw
        .list_messages(&alice, MessageFilter::default())
        .await
        .unwrap()
        .items;
    let mut got: Vec<_> = sent
        .iter()
        .map(|m| (m.recipient.as_str(), m.text.as_str()))
        .collect();
    got.sort();
    assert_eq!(
        got,
        [
            ("+48600100200", "Hello from a CSV"),
            ("+48600100201", "Cześć Ola 😀")
        ]
    );
    let r = post(
        &app,
        "/panel/send/csv/confirm",
        &session,
        format!("csrf={csrf}&id={id}&action=send"),
    )
    .await;
    assert_eq!(
        r.status(),
        StatusCode::CONFLICT,
        "a replayed confirmation sends nothing"
    );
    assert_eq!(message_count(&gw, &alice).await, 2);
    assert!(audit_actions(&gw).await.contains(&"panel.csv_sent".to_owned()));
    // The preview is gone with the send.
    assert_eq!(
        location(&get(&app, "/panel/send/csv", &session).await),
        "/panel/send"
    );
}

#[tokio::test]
async fn csv_upload_needs_the_csrf_token_a_file_and_a_usable_file() {
    let (app, gw, _dir) = app().await;
    let (session, csrf) = client(&app, "alice").await;
    let file = Some(("file", "a.csv", b"phone\n600100200\n".as_slice()));
    let r = post_multipart(
        &app,
        "/panel/send/csv",
        &session,
        multipart(&[("text", "x")], file),
    )
    .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let r = post_multipart(
        &app,
        "/panel/send/csv",
        &session,
        multipart(&[("csrf", "forged"), ("text", "x")], file),
    )
    .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let r = post_multipart(
        &app,
        "/panel/send/csv",
        &session,
        multipart(&[("csrf", &csrf)], None),
    )
    .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let r = post_multipart(
        &app,
        "/panel/send/csv",
        &session,
        multipart(&[("csrf", &csrf)], Some(("file", "a.csv", b"a,b\nc,d\n"))),
    )
    .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(body_text(r).await.contains("no column of phone numbers"));
    let big = vec![b'6'; super::multipart::MAX_UPLOAD_BYTES + 1];
    let r = post_multipart(
        &app,
        "/panel/send/csv",
        &session,
        multipart(&[("csrf", &csrf)], Some(("file", "big.csv", &big))),
    )
    .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(body_text(r).await.contains("larger than"));
    assert_eq!(message_count(&gw, &principal(&gw, "alice").await).await, 0);
}

#[tokio::test]
async fn created_token_and_webhook_secrets_are_shown_once_after_a_redirect() {
    let (app, gw, _dir) = app().await;
    let (session, csrf) = client(&app, "alice").await;
    let r = post(
        &app,
        "/panel/tokens",
        &session,
        format!("csrf={csrf}&name=crm&scope=messages%3Asend"),
    )
    .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "post/redirect/get");
    assert_eq!(location(&r), "/panel/tokens");
    let first = body_text(get(&app, "/panel/tokens", &session).await).await;
    assert!(first.contains("id=\"new-token\">smsg_"), "{first}");
    let again = body_text(get(&app, "/panel/tokens", &session).await).await;
    assert!(!again.contains("new-token"), "shown once");
    assert_eq!(gw.tokens(&principal(&gw, "alice").await).await.unwrap().len(), 1);

    let r = post(
        &app,
        "/panel/webhooks",
        &session,
        format!("csrf={csrf}&url=https%3A%2F%2F127.0.0.1%3A9%2Fhook&event=sms%3Adelivered"),
    )
    .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let first = body_text(get(&app, "/panel/webhooks", &session).await).await;
    assert!(first.contains("whsec_"), "{first}");
    assert!(
        !body_text(get(&app, "/panel/webhooks", &session).await)
            .await
            .contains("whsec_")
    );
    let hooks = gw.webhooks(&principal(&gw, "alice").await).await.unwrap();
    let r = post(
        &app,
        &format!("/panel/webhooks/{}/delete", hooks[0].id.0),
        &session,
        format!("csrf={csrf}"),
    )
    .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert!(audit_actions(&gw).await.contains(&"webhook.deleted".to_owned()));
}

#[tokio::test]
async fn ip_pool_editor_shows_line_errors_and_asks_before_a_lockout() {
    // Router requests come from 127.0.0.1.
    let (app, gw, _dir) = app().await;
    let (session, csrf) = client(&app, "alice").await;
    let alice = principal(&gw, "alice").await;
    let r = post(
        &app,
        "/panel/ip-pool",
        &session,
        format!("csrf={csrf}&entries=127.0.0.0%2F8%0Anonsense%0A10.0.0.0%2F33"),
    )
    .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = body_text(r).await;
    assert!(html.contains("Line 2: <code>nonsense</code>"), "{html}");
    assert!(html.contains("Line 3: <code>10.0.0.0/33</code>"), "{html}");
    assert!(
        gw.stage_settings(&alice, alice.account_id)
            .await
            .unwrap()
            .ip_pool
            .is_empty()
    );

    // A pool with this address saves; one without it asks again, and only the confirmation applies it.
    let r = post(
        &app,
        "/panel/ip-pool",
        &session,
        format!("csrf={csrf}&entries=127.0.0.0%2F8%0A%3A%3A1"),
    )
    .await;
    assert_eq!(location(&r), "/panel/ip-pool?saved=1");
    assert_eq!(
        gw.stage_settings(&alice, alice.account_id).await.unwrap().ip_pool,
        ["127.0.0.0/8", "::1/128"]
    );
    let r = post(
        &app,
        "/panel/ip-pool",
        &session,
        format!("csrf={csrf}&entries=192.0.2.0%2F24"),
    )
    .await;
    assert_eq!(r.status(), StatusCode::CONFLICT);
    let html = body_text(r).await;
    assert!(
        html.contains("pool-save-anyway") && html.contains("127.0.0.1"),
        "{html}"
    );
    assert_eq!(
        gw.stage_settings(&alice, alice.account_id)
            .await
            .unwrap()
            .ip_pool
            .len(),
        2
    );
    let r = post(
        &app,
        "/panel/ip-pool",
        &session,
        format!("csrf={csrf}&entries=192.0.2.0%2F24&confirm_lockout=1"),
    )
    .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        gw.stage_settings(&alice, alice.account_id).await.unwrap().ip_pool,
        ["192.0.2.0/24"]
    );
    // The session ends at its next request.
    assert_eq!(
        location(&get(&app, "/panel/ip-pool", &session).await),
        "/panel/login?expired=1"
    );
    assert!(
        audit_actions(&gw)
            .await
            .contains(&"account.ip_pool_changed".to_owned())
    );
}

#[tokio::test]
async fn certificates_are_issued_downloaded_once_uploaded_and_revoked_for_the_own_account_only() {
    let (app, gw, dir) = app().await;
    let (session, csrf) = client(&app, "alice").await;
    let alice = principal(&gw, "alice").await;
    let r = post(
        &app,
        "/panel/certs/issue",
        &session,
        format!("csrf={csrf}&days=30&password=p12-password&password_again=other-password"),
    )
    .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(body_text(r).await.contains("The two passwords differ."));
    let r = post(
        &app,
        "/panel/certs/issue",
        &session,
        format!("csrf={csrf}&days=30&password=p12-password&password_again=p12-password"),
    )
    .await;
    assert_eq!(location(&r), "/panel/certs?issued=1");
    let page = body_text(get(&app, "/panel/certs?issued=1", &session).await).await;
    assert!(
        page.contains("p12-download") && page.contains("CN=alice"),
        "{page}"
    );
    let download = get(&app, "/panel/certs/download", &session).await;
    assert_eq!(download.status(), StatusCode::OK);
    assert_eq!(download.headers()[header::CONTENT_TYPE], "application/x-pkcs12");
    let p12 = axum::body::to_bytes(download.into_body(), 1 << 20).await.unwrap();
    let store =
        p12_keystore::KeyStore::from_pkcs12(&p12, "p12-password", p12_keystore::Pkcs12ImportPolicy::Relaxed)
            .unwrap();
    let (_, chain) = store.private_key_chain().unwrap();
    let leaf = crate::auth::stages::fingerprint(chain.certs()[0].as_der());
    let certs = gw.account_certs(&alice, alice.account_id).await.unwrap();
    assert_eq!(certs.len(), 1);
    assert_eq!(
        certs[0].fingerprint, leaf,
        "the bundle holds the bound certificate"
    );
    assert_eq!(
        get(&app, "/panel/certs/download", &session).await.status(),
        StatusCode::NOT_FOUND,
        "downloadable once"
    );

    // Upload the appliance CA as the customer's own CA.
    let ca_pem = std::fs::read(dir.path().join("tls").join("ca.pem")).unwrap();
    let r = post_multipart(
        &app,
        "/panel/certs/upload",
        &session,
        multipart(
            &[("csrf", &csrf), ("kind", "ca")],
            Some(("file", "ca.pem", &ca_pem)),
        ),
    )
    .await;
    assert_eq!(location(&r), "/panel/certs?uploaded=1");
    let r = post_multipart(
        &app,
        "/panel/certs/upload",
        &session,
        multipart(
            &[("csrf", &csrf), ("kind", "cert"), ("pem", "not a certificate")],
            None,
        ),
    )
    .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);

    // Bob cannot revoke Alice's certificate; Alice can.
    let id = certs[0].id;
    let (bob, bob_csrf) = client(&app, "bob").await;
    let r = post(
        &app,
        &format!("/panel/certs/{id}/revoke"),
        &bob,
        format!("csrf={bob_csrf}"),
    )
    .await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let r = post(
        &app,
        &format!("/panel/certs/{id}/revoke"),
        &session,
        format!("csrf={csrf}"),
    )
    .await;
    assert_eq!(location(&r), "/panel/certs?revoked=1");
    let certs = gw.account_certs(&alice, alice.account_id).await.unwrap();
    assert!(certs.iter().find(|c| c.id == id).unwrap().revoked_at.is_some());
    assert_eq!(certs.len(), 2);
    let actions = audit_actions(&gw).await;
    assert_eq!(actions.iter().filter(|a| *a == "account.cert_bound").count(), 2);
    assert!(actions.contains(&"account.cert_revoked".to_owned()));
}

#[tokio::test]
async fn admins_manage_another_accounts_stages_and_clients_cannot_name_one() {
    let (app, gw, _dir) = app().await;
    let root = gw
        .create_account(
            None,
            "root",
            crate::auth::PasswordHasher::insecure_fast()
                .hash(PASSWORD)
                .unwrap(),
            crate::app::Role::Admin,
        )
        .await
        .unwrap();
    let alice = principal(&gw, "alice").await;
    let a = alice.account_id.0;
    let (bob, bob_csrf) = client(&app, "bob").await;
    for path in [
        format!("/panel/certs?account={a}"),
        format!("/panel/ip-pool?account={a}"),
    ] {
        assert_eq!(
            get(&app, &path, &bob).await.status(),
            StatusCode::FORBIDDEN,
            "{path}"
        );
    }
    let r = post(
        &app,
        &format!("/panel/ip-pool?account={a}"),
        &bob,
        format!("csrf={bob_csrf}&entries=10.0.0.0%2F8"),
    )
    .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let r = post(
        &app,
        &format!("/panel/certs/required?account={a}"),
        &bob,
        format!("csrf={bob_csrf}&required=1"),
    )
    .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let r = post(
        &app,
        "/panel/certs/required",
        &bob,
        format!("csrf={bob_csrf}&required=0"),
    )
    .await;
    assert_eq!(
        r.status(),
        StatusCode::FORBIDDEN,
        "requiring a certificate stays an admin decision"
    );

    let (admin, csrf) = client(&app, "root").await;
    let page = body_text(get(&app, &format!("/panel/certs?account={a}"), &admin).await).await;
    assert!(
        page.contains("id=\"target-login\">alice<") && page.contains("required-form"),
        "{page}"
    );
    let r = post(
        &app,
        &format!("/panel/certs/required?account={a}"),
        &admin,
        format!("csrf={csrf}&required=1"),
    )
    .await;
    assert_eq!(location(&r), format!("/panel/certs?required=1&account={a}"));
    let r = post(
        &app,
        &format!("/panel/ip-pool?account={a}"),
        &admin,
        format!("csrf={csrf}&entries=192.0.2.0%2F24"),
    )
    .await;
    assert_eq!(
        location(&r),
        format!("/panel/ip-pool?saved=1&account={a}"),
        "another account: no lockout question"
    );
    let r = post(
        &app,
        &format!("/panel/certs/issue?account={a}"),
        &admin,
        format!("csrf={csrf}&days=5&password=p12-password&password_again=p12-password"),
    )
    .await;
    assert_eq!(location(&r), format!("/panel/certs?issued=1&account={a}"));
    let download = get(&app, "/panel/certs/download", &admin).await;
    assert!(
        download.headers()[header::CONTENT_DISPOSITION]
            .to_str()
            .unwrap()
            .contains("smsgate-alice.p12")
    );
    let stages = gw.stage_settings(&alice, alice.account_id).await.unwrap();
    assert!(stages.cert_required);
    assert_eq!(stages.ip_pool, ["192.0.2.0/24"]);
    assert_eq!(stages.certs.len(), 1);
    assert!(stages.certs[0].subject.contains("CN=alice"));
    let log = gw.audit_log(&Principal::of(&root), None, 100).await.unwrap();
    assert!(
        log.iter()
            .any(|e| e.action == "account.cert_required_changed" && e.actor.as_deref() == Some("root"))
    );

    // The admin's own account from a connection without a certificate: requiring one asks again.
    let r = post(
        &app,
        "/panel/certs/required",
        &admin,
        format!("csrf={csrf}&required=1"),
    )
    .await;
    assert_eq!(r.status(), StatusCode::CONFLICT);
    assert!(body_text(r).await.contains("name=\"confirm_lockout\""));
    assert!(
        !gw.stage_settings(&Principal::of(&root), root.id)
            .await
            .unwrap()
            .cert_required
    );
}
