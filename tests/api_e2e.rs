//! End-to-end tests of the HTTPS API over real sockets: the whole stack (TLS acceptor, router,
//! authentication, gateway, SQLite store) on 127.0.0.1:0, driven with reqwest (trusting the appliance CA)
//! and the `curl` binary. Modems are test doubles attached to the dispatcher.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers outside #[test] fns

mod common;

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use common::{MAX_BODY, PASSWORD, assert_problem, start, tool};
use serde_json::{Value, json};
use smsgate::http::{OPENAPI_JSON, api_routes, webhooks};
use smsgate::modem::{ModemId, ModemSender, PartSent, SendFuture, SendRequest};
use smsgate::tls::config::read_certs;
use smsgate::tls::{ClientCertMode, ServerCertificate, TlsServer, server_config};
use tokio::net::TcpListener;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_with_basic_and_token_and_failures() {
    let gw = start().await;
    let http = gw.http();
    let me = http
        .get(gw.url("/api/v1/me"))
        .basic_auth("alice", Some(PASSWORD))
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), 200);
    assert_eq!(me.headers()["strict-transport-security"], smsgate::http::HSTS);
    assert_eq!(me.json::<Value>().await.unwrap()["login"], "alice");

    let wrong = http
        .get(gw.url("/api/v1/me"))
        .basic_auth("alice", Some("nope"))
        .send()
        .await
        .unwrap();
    assert!(wrong.headers().contains_key("www-authenticate"));
    assert_problem(wrong, 401, None).await;
    assert_problem(http.get(gw.url("/api/v1/me")).send().await.unwrap(), 401, None).await;
    let unknown = http
        .get(gw.url("/api/v1/me"))
        .basic_auth("nobody", Some(PASSWORD))
        .send()
        .await
        .unwrap();
    assert_problem(unknown, 401, None).await;

    // A token with one scope: shown once, works as Bearer, limited to its scope, revocable.
    let created = http
        .post(gw.url("/api/v1/tokens"))
        .basic_auth("alice", Some(PASSWORD))
        .json(&json!({"name": "reader", "scopes": ["messages:read"], "expires_in_seconds": 3600}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    let created: Value = created.json().await.unwrap();
    let token = created["token"].as_str().unwrap().to_owned();
    assert!(token.starts_with("smsg_"));
    let listed: Value = http
        .get(gw.url("/api/v1/tokens"))
        .basic_auth("alice", Some(PASSWORD))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        !listed.to_string().contains(&token),
        "a token is never shown again"
    );
    let me = http
        .get(gw.url("/api/v1/me"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(me.json::<Value>().await.unwrap()["login"], "alice");
    assert_eq!(
        http.get(gw.url("/api/v1/messages"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    let send = http
        .post(gw.url("/api/v1/messages"))
        .bearer_auth(&token)
        .json(&json!({"to": "+48600100200", "text": "x"}))
        .send()
        .await
        .unwrap();
    assert_problem(send, 403, None).await;
    let mint = http
        .post(gw.url("/api/v1/tokens"))
        .bearer_auth(&token)
        .json(&json!({"name": "again"}))
        .send()
        .await
        .unwrap();
    assert_problem(mint, 403, None).await;
    let id = created["id"].as_i64().unwrap();
    let revoke = http
        .delete(gw.url(&format!("/api/v1/tokens/{id}")))
        .basic_auth("alice", Some(PASSWORD))
        .send()
        .await
        .unwrap();
    assert_eq!(revoke.status(), 204);
    assert_problem(
        http.get(gw.url("/api/v1/me"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap(),
        401,
        None,
    )
    .await;
    assert_problem(
        http.get(gw.url("/api/v1/me"))
            .bearer_auth("smsg_forged")
            .send()
            .await
            .unwrap(),
        401,
        None,
    )
    .await;

    // Repeated failures: throttled with 429 + Retry-After, even with the right password now.
    for _ in 0..4 {
        let _ = http
            .get(gw.url("/api/v1/me"))
            .basic_auth("carol", Some("guess"))
            .send()
            .await
            .unwrap();
    }
    let throttled = http
        .get(gw.url("/api/v1/me"))
        .basic_auth("carol", Some(PASSWORD))
        .send()
        .await
        .unwrap();
    assert!(throttled.headers().contains_key("retry-after"));
    assert_problem(throttled, 429, None).await;

    // The audit log has the verified logins (once, not per request) and each failure with its stage.
    let root = gw.gateway.find_account_by_login("root").await.unwrap().unwrap();
    let log = gw
        .gateway
        .audit_log(&smsgate::app::Principal::of(&root), None, 1000)
        .await
        .unwrap();
    let count = |action: &str, detail: &str| {
        log.iter()
            .filter(|e| e.action == action && e.details.as_deref().unwrap_or("").contains(detail))
            .count()
    };
    assert_eq!(
        count("login.ok", "stage=password"),
        1,
        "alice verified once, then cached: {log:?}"
    );
    assert!(count("login.failed", "reason=wrong password login=alice") >= 1);
    assert!(count("login.failed", "reason=unknown login login=nobody") >= 1);
    assert!(count("login.failed", "stage=throttle") >= 1);
    assert!(
        log.iter()
            .filter(|e| e.action.starts_with("login"))
            .all(|e| e.source_ip.as_deref() == Some("127.0.0.1"))
    );
    assert!(
        !format!("{log:?}").contains(PASSWORD),
        "no password in the audit log"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn per_account_rate_limit_answers_429_with_retry_after() {
    let gw = common::start_with(|s| s.http.requests_per_second = 2, false).await;
    let http = gw.http();
    let me = || {
        http.get(gw.url("/api/v1/me"))
            .basic_auth("alice", Some(PASSWORD))
            .send()
    };
    // Burst of two seconds' worth, then 429 — for Alice only.
    for _ in 0..4 {
        assert_eq!(me().await.unwrap().status(), 200);
    }
    let limited = me().await.unwrap();
    let retry: u64 = limited.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=2).contains(&retry), "{retry}");
    assert_problem(limited, 429, None).await;
    assert_eq!(
        http.get(gw.url("/api/v1/me"))
            .basic_auth("bob", Some(PASSWORD))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    // The Kannel shim answers like Kannel under load: 503 "Temporal failure".
    let kannel = http
        .get(gw.url(&format!(
            "/cgi-bin/sendsms?username=alice&password={}&to=1&text=x",
            PASSWORD.replace(' ', "+")
        )))
        .send()
        .await
        .unwrap();
    assert_eq!(kannel.status(), 503);
    assert_eq!(kannel.text().await.unwrap(), "Temporal failure, try again later.");
    tokio::time::sleep(Duration::from_secs(retry)).await;
    assert_eq!(me().await.unwrap().status(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_https_answer_carries_hsts_and_errors_are_problems() {
    let gw = start().await;
    let http = gw.http();
    let answers = vec![
        http.get(gw.url("/api/v1/me")).send().await.unwrap(),
        http.get(gw.url("/nowhere")).send().await.unwrap(),
        http.put(gw.url("/api/v1/messages"))
            .basic_auth("alice", Some(PASSWORD))
            .send()
            .await
            .unwrap(),
        http.get(gw.url("/cgi-bin/sendsms?username=alice&password=x&to=1&text=x"))
            .send()
            .await
            .unwrap(),
        http.get(gw.url("/api/v1/docs")).send().await.unwrap(),
        http.get(gw.url("/")).send().await.unwrap(),
    ];
    for r in answers {
        assert_eq!(
            r.headers()["strict-transport-security"],
            smsgate::http::HSTS,
            "{}",
            r.url()
        );
        assert_eq!(r.headers()["x-content-type-options"], "nosniff");
    }
    let r = http
        .put(gw.url("/api/v1/messages"))
        .basic_auth("alice", Some(PASSWORD))
        .send()
        .await
        .unwrap();
    assert_problem(r, 405, None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_bad_input_is_named_and_nothing_is_stored() {
    let gw = start().await;
    let http = gw.http();
    let long_text = "x".repeat(160 * 11);
    let cases: Vec<(Value, u16, &str)> = vec![
        (json!({"to": "12ab", "text": "x"}), 422, "to[0]"),
        (json!({"to": ["+48600100200", "+1"], "text": "x"}), 422, "to[1]"),
        (json!({"to": [], "text": "x"}), 422, "to"),
        (json!({"text": "x"}), 422, "to"),
        (json!({"to": "+48600100200", "text": ""}), 422, "text"),
        (json!({"to": "+48600100200"}), 422, "text"),
        (json!({"to": "+48600100200", "text": long_text}), 422, "text"),
        (
            json!({"to": "+48600100200", "text": "x", "colour": "red"}),
            422,
            "colour",
        ),
        (json!({"to": "+48600100200", "text": 5}), 422, "text"),
        (
            json!({"to": "+48600100200", "text": "x", "send_at": "tomorrow"}),
            422,
            "send_at",
        ),
        (
            json!({"to": "+48600100200", "text": "x", "priority": 99}),
            422,
            "priority",
        ),
        (
            json!({"to": "+48600100200", "text": "x", "encoding": "ebcdic"}),
            422,
            "encoding",
        ),
        (
            json!({"to": "+48600100200", "text": "ż", "encoding": "gsm7"}),
            422,
            "text",
        ),
        (
            json!({"messages": [{"to": "+48600100200", "text": "ok"}, {"to": "bad", "text": "x"}]}),
            422,
            "messages[1].to[0]",
        ),
        (
            json!({"messages": [{"to": "+48600100200", "text": "ok", "x": 1}]}),
            422,
            "messages[0].x",
        ),
        (
            json!({"to": "+48600100200", "text": "x", "messages": []}),
            422,
            "messages",
        ),
    ];
    for (body, status, field) in cases {
        let r = gw.send_as("alice", body.clone()).await;
        let p = assert_problem(r, status, Some(field)).await;
        assert!(p["detail"].as_str().is_some_and(|d| !d.is_empty()), "{body}: {p}");
    }
    // Wrong content type, oversized body, broken JSON, bad Idempotency-Key, bad query parameters.
    let r = http
        .post(gw.url("/api/v1/messages"))
        .basic_auth("alice", Some(PASSWORD))
        .header("content-type", "text/plain")
        .body(r#"{"to":"+48600100200","text":"x"}"#)
        .send()
        .await
        .unwrap();
    assert_problem(r, 415, None).await;
    let huge = json!({"to": "+48600100200", "text": "y".repeat(MAX_BODY + 1)});
    assert_problem(gw.send_as("alice", huge).await, 413, None).await;
    let r = http
        .post(gw.url("/api/v1/messages"))
        .basic_auth("alice", Some(PASSWORD))
        .header("content-type", "application/json")
        .body(r#"{"to":"+48600100200","text":"x""#)
        .send()
        .await
        .unwrap();
    assert_problem(r, 400, None).await;
    let r = http
        .post(gw.url("/api/v1/messages"))
        .basic_auth("alice", Some(PASSWORD))
        .header("idempotency-key", "k".repeat(500))
        .json(&json!({"to": "+48600100200", "text": "x"}))
        .send()
        .await
        .unwrap();
    assert_problem(r, 422, Some("Idempotency-Key")).await;
    for (query, field) in [
        ("?status=lost", "status"),
        ("?limit=0", "limit"),
        ("?bogus=1", "bogus"),
        ("?cursor=zz", "cursor"),
    ] {
        let r = http
            .get(gw.url(&format!("/api/v1/messages{query}")))
            .basic_auth("alice", Some(PASSWORD))
            .send()
            .await
            .unwrap();
        assert_problem(r, 422, Some(field)).await;
    }
    // Nothing of the above was stored.
    assert_eq!(
        gw.list_as("alice", "").await["items"].as_array().unwrap().len(),
        0
    );
    // The same valid request is accepted.
    let ok = gw
        .send_as("alice", json!({"to": "+48600100200", "text": "x"}))
        .await;
    assert_eq!(ok.status(), 202);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_see_only_their_own_messages() {
    let gw = start().await;
    let http = gw.http();
    let sent = gw
        .send_as(
            "alice",
            json!({"to": ["+48600100200", "600100201"], "text": "Zażółć 😀", "client_ref": "a-1"}),
        )
        .await;
    assert_eq!(sent.status(), 202);
    let sent: Value = sent.json().await.unwrap();
    let messages = sent["messages"].as_array().unwrap();
    assert_eq!(messages.len(), 2);
    assert_eq!(
        messages[1]["recipient"], "+48600100201",
        "national numbers get the default country"
    );
    let id = messages[0]["id"].as_str().unwrap();

    let own = http
        .get(gw.url(&format!("/api/v1/messages/{id}")))
        .basic_auth("alice", Some(PASSWORD))
        .send()
        .await
        .unwrap();
    assert_eq!(own.status(), 200);
    assert_eq!(own.json::<Value>().await.unwrap()["encoding"], "ucs2");
    // Bob: by id, by cancel, by list, by filter, by paging — nothing of Alice's.
    let by_id = http
        .get(gw.url(&format!("/api/v1/messages/{id}")))
        .basic_auth("bob", Some(PASSWORD))
        .send()
        .await
        .unwrap();
    assert_problem(by_id, 404, None).await;
    let cancel = http
        .delete(gw.url(&format!("/api/v1/messages/{id}")))
        .basic_auth("bob", Some(PASSWORD))
        .send()
        .await
        .unwrap();
    assert_problem(cancel, 404, None).await;
    assert_eq!(gw.list_as("bob", "").await["items"].as_array().unwrap().len(), 0);
    assert_eq!(
        gw.list_as("bob", "?client_ref=a-1").await["items"]
            .as_array()
            .unwrap()
            .len(),
        0
    );
    assert_eq!(
        gw.list_as("bob", "?to=%2B48600100200").await["items"]
            .as_array()
            .unwrap()
            .len(),
        0
    );
    assert_eq!(
        gw.list_as("bob", &format!("?cursor={id}")).await["items"]
            .as_array()
            .unwrap()
            .len(),
        0
    );
    // Alice pages through her own; the admin sees everything.
    let page = gw.list_as("alice", "?limit=1").await;
    assert_eq!(page["items"].as_array().unwrap().len(), 1);
    let cursor = page["next_cursor"].as_str().unwrap();
    let page2 = gw.list_as("alice", &format!("?limit=1&cursor={cursor}")).await;
    assert_eq!(page2["items"].as_array().unwrap().len(), 1);
    assert_eq!(gw.list_as("root", "").await["items"].as_array().unwrap().len(), 2);
    // Alice cancels her own (no modem attached: still queued).
    let cancel = http
        .delete(gw.url(&format!("/api/v1/messages/{id}")))
        .basic_auth("alice", Some(PASSWORD))
        .send()
        .await
        .unwrap();
    assert_eq!(cancel.status(), 200);
    assert_eq!(cancel.json::<Value>().await.unwrap()["status"], "cancelled");
    // Inbox, modems, webhooks of others are equally invisible.
    let inbox = http
        .get(gw.url("/api/v1/inbox/0190a0b0-0000-7000-8000-000000000000"))
        .basic_auth("bob", Some(PASSWORD))
        .send()
        .await
        .unwrap();
    assert_problem(inbox, 404, None).await;
    let hooks: Value = http
        .get(gw.url("/api/v1/webhooks"))
        .basic_auth("bob", Some(PASSWORD))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(hooks["items"].as_array().unwrap().len(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idempotency_key_replays() {
    let gw = start().await;
    let http = gw.http();
    let send = |text: &'static str| {
        http.post(gw.url("/api/v1/messages"))
            .basic_auth("alice", Some(PASSWORD))
            .header("idempotency-key", "order-17")
            .json(&json!({"to": "+48600100200", "text": text}))
            .send()
    };
    let first: Value = send("once").await.unwrap().json().await.unwrap();
    let again: Value = send("once").await.unwrap().json().await.unwrap();
    assert_eq!(first["messages"][0]["id"], again["messages"][0]["id"]);
    assert_problem(send("different").await.unwrap(), 409, None).await;
    assert_eq!(
        gw.list_as("alice", "").await["items"].as_array().unwrap().len(),
        1
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kannel_sendsms_with_curl() {
    let gw = start().await;
    let (ca, port) = (gw.ca.clone(), gw.addr.port());
    let run = move |args: Vec<String>| {
        let out = tool("curl")
            .args(["-sS", "--cacert"])
            .arg(&ca)
            .args(["-w", "\n%{http_code}"])
            .args(args)
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let (body, code) = text.rsplit_once('\n').unwrap();
        (code.to_owned(), body.to_owned())
    };
    let base = format!("https://localhost:{port}/cgi-bin/sendsms");
    let results = tokio::task::spawn_blocking(move || {
        let get = |q: &str| run(vec![format!("{base}?{q}")]);
        let pw = "correct+horse+battery+staple";
        vec![
            get(&format!(
                "username=alice&password={pw}&to=%2B48600100200&text=Hello+Kannel"
            )),
            get("username=alice&password=wrong&to=%2B48600100200&text=x"),
            get(&format!("username=alice&password={pw}&text=x")),
            get(&format!("username=alice&password={pw}&to=&text=x")),
            get(&format!("username=alice&password={pw}&to=12ab&text=x")),
            get(&format!(
                "username=alice&password={pw}&to=600100200&text=x&coding=7"
            )),
            get(&format!(
                "username=alice&password={pw}&to=600100200&text=%00A%D8%3D%DE%00&coding=2"
            )),
            run(vec![
                "--data-urlencode".into(),
                "username=alice".into(),
                "--data-urlencode".into(),
                format!("password={PASSWORD}"),
                "--data-urlencode".into(),
                "to=+48600100202 +48600100203".into(),
                "--data-urlencode".into(),
                "text=Zażółć gęślą jaźń".into(),
                "--data-urlencode".into(),
                "dlr-mask=31".into(),
                "--data-urlencode".into(),
                "dlr-url=http://127.0.0.1:9/dlr?type=%d&to=%p".into(),
                base.clone(),
            ]),
        ]
    })
    .await
    .unwrap();
    let expect = [
        ("202", "0: Accepted for delivery"),
        ("403", "Authorization failed for sendsms"),
        ("400", "Missing receiver number, rejected"),
        ("400", "Empty receiver number not allowed, rejected"),
        (
            "400",
            "Number(s) has/have been denied by white- and/or black-lists.",
        ),
        ("400", "Coding field misformed, rejected"),
        ("202", "0: Accepted for delivery"),
        ("202", "0: Accepted for delivery"),
    ];
    for (i, ((code, body), (want_code, want_body))) in results.iter().zip(expect).enumerate() {
        assert_eq!((code.as_str(), body.as_str()), (want_code, want_body), "case {i}");
    }
    let items = gw.list_as("alice", "").await;
    let texts: BTreeSet<String> = items["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["text"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        texts,
        ["Hello Kannel", "A😀", "Zażółć gęślą jaźń"]
            .iter()
            .map(|s| s.to_string())
            .collect::<BTreeSet<_>>()
    );
    assert_eq!(items["items"].as_array().unwrap().len(), 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kannel_dlr_url_is_called_back() {
    let gw = start().await;
    // A plain-HTTP DLR receiver, like most Kannel integrations run.
    let hits: Arc<Mutex<Vec<String>>> = Arc::default();
    let app = Router::new().route(
        "/dlr",
        axum::routing::get({
            let hits = hits.clone();
            move |uri: axum::http::Uri| async move {
                hits.lock().unwrap().push(uri.query().unwrap_or("").to_owned());
                "ok"
            }
        }),
    );
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let dlr_port = listener.local_addr().unwrap().port();
    tokio::spawn(smsgate::tls::acceptor::run_plain(
        listener,
        app,
        gw.shutdown.clone(),
    ));
    let client = smsgate::http::client::outbound_client(&[], Duration::from_secs(5)).unwrap();
    tokio::spawn(smsgate::http::kannel::run_dlr_worker(
        gw.gateway.clone(),
        client,
        gw.shutdown.clone(),
    ));
    gw.gateway
        .attach_modem(Arc::new(InstantModem), "default", true)
        .await
        .unwrap();

    let (ca, port) = (gw.ca.clone(), gw.addr.port());
    let status = tokio::task::spawn_blocking(move || {
        let dlr_url = format!("http://127.0.0.1:{dlr_port}/dlr?type=%d&to=%p&from=%P&answer=%A&ts=%T");
        let send = |mask: &str, to: &str| {
            let out = tool("curl")
                .args(["-sS", "--cacert"])
                .arg(&ca)
                .args(["-G", "-w", "%{http_code}"])
                .args([
                    "--data-urlencode",
                    "username=alice",
                    "--data-urlencode",
                    &format!("password={PASSWORD}"),
                ])
                .args([
                    "--data-urlencode",
                    &format!("to={to}"),
                    "--data-urlencode",
                    "text=dlr me",
                    "--data-urlencode",
                ])
                .arg(format!("dlr-mask={mask}"))
                .args([
                    "--data-urlencode",
                    &format!("dlr-url={dlr_url}"),
                    "--data-urlencode",
                    "from=Shop",
                ])
                .arg(format!("https://localhost:{port}/cgi-bin/sendsms"))
                .output()
                .unwrap();
            String::from_utf8_lossy(&out.stdout).into_owned()
        };
        // Mask 8 (SMSC success) is called back; mask 16 (SMSC reject) is not, since the send succeeds.
        (send("8", "+48600100200"), send("16", "+48600100201"))
    })
    .await
    .unwrap();
    assert_eq!(
        status,
        (
            "0: Accepted for delivery202".into(),
            "0: Accepted for delivery202".into()
        )
    );
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while hits.lock().unwrap().is_empty() {
        assert!(tokio::time::Instant::now() < deadline, "no DLR callback");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let hits = hits.lock().unwrap().clone();
    assert_eq!(hits.len(), 1, "{hits:?}");
    assert!(
        hits[0].starts_with("type=8&to=%2B48600100200&from=Shop&answer=ACK%2F&ts="),
        "{}",
        hits[0]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openapi_document_matches_router_and_docs_need_no_cdn() {
    let gw = start().await;
    let http = gw.http();
    let doc: Value = serde_json::from_str(OPENAPI_JSON).unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    let documented: BTreeSet<String> = doc["paths"].as_object().unwrap().keys().cloned().collect();
    let routed: BTreeSet<String> = api_routes().into_iter().map(|(p, _)| p.to_owned()).collect();
    assert_eq!(
        documented, routed,
        "every route documented, every documented path routed"
    );
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys().filter(|m| *m != "parameters") {
            let url = gw.url(&format!("/api/v1{}", path.replace("{id}", "1")));
            let r = http
                .request(method.to_uppercase().parse().unwrap(), &url)
                .send()
                .await
                .unwrap();
            assert!(
                ![404, 405].contains(&r.status().as_u16()),
                "{method} {path} → {}",
                r.status()
            );
        }
    }
    let served: Value = http
        .get(gw.url("/api/v1/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(served, doc);
    let page = http.get(gw.url("/api/v1/docs")).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains("openapi.json"));
    for external in ["<script src", "<link", "cdn", "@import"] {
        assert!(
            !html.contains(external),
            "docs page must be self-contained: found {external}"
        );
    }
    let r = http.get(gw.url("/no/such/thing")).send().await.unwrap();
    assert_problem(r, 404, None).await;
}

/// A modem double: every part goes out at once, with increasing message references.
struct InstantModem;

impl ModemSender for InstantModem {
    fn id(&self) -> ModemId {
        ModemId("instant-1".into())
    }
    fn send<'a>(&'a self, request: SendRequest) -> SendFuture<'a> {
        Box::pin(async move {
            Ok((0..request.parts.len())
                .map(|index| PartSent {
                    index,
                    mr: index as u8,
                })
                .collect())
        })
    }
}

/// What the webhook receiver got: (headers, body).
type Received = Arc<Mutex<Vec<(HeaderMap, String)>>>;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhook_is_signed_delivered_over_https_and_retried_after_500() {
    let gw = start().await;
    let http = gw.http();

    // An HTTPS receiver with a certificate from its own CA (not the gateway's): answers 500 once, then 200.
    let receiver_dir = tempfile::tempdir().unwrap();
    let receiver_cert = ServerCertificate::prepare(None, receiver_dir.path(), &[]).unwrap();
    let received: Received = Arc::default();
    let calls = Arc::new(Mutex::new(0u32));
    let app = Router::new().route(
        "/hook",
        post({
            let received = received.clone();
            let calls = calls.clone();
            move |headers: HeaderMap, body: String| async move {
                let n = {
                    let mut c = calls.lock().unwrap();
                    *c += 1;
                    *c
                };
                received.lock().unwrap().push((headers, body));
                if n == 1 {
                    StatusCode::INTERNAL_SERVER_ERROR
                } else {
                    StatusCode::OK
                }
            }
        }),
    );
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let hook_port = listener.local_addr().unwrap().port();
    let tls = Arc::new(server_config(Arc::clone(&receiver_cert.resolver), ClientCertMode::Off).unwrap());
    tokio::spawn(TlsServer::new(tls).run(listener, app, gw.shutdown.clone()));

    let created = http
        .post(gw.url("/api/v1/webhooks"))
        .basic_auth("alice", Some(PASSWORD))
        .json(&json!({"url": format!("https://localhost:{hook_port}/hook"), "events": ["sms:sent"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    let secret = created.json::<Value>().await.unwrap()["secret"]
        .as_str()
        .unwrap()
        .to_owned();

    let roots = read_certs(receiver_cert.ca_cert.as_deref().unwrap()).unwrap();
    let client = smsgate::http::client::outbound_client(&roots, Duration::from_secs(5)).unwrap();
    tokio::spawn(webhooks::run_worker(
        gw.gateway.clone(),
        client,
        gw.shutdown.clone(),
    ));
    gw.gateway
        .attach_modem(Arc::new(InstantModem), "default", true)
        .await
        .unwrap();

    let sent = gw
        .send_as("alice", json!({"to": "+48600100200", "text": "hook me"}))
        .await;
    let id = sent.json::<Value>().await.unwrap()["messages"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();

    // First attempt gets 500; the retry comes after the first backoff step (4–6 s).
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while received.lock().unwrap().len() < 2 {
        if tokio::time::Instant::now() >= deadline {
            let m = gw
                .gateway
                .store()
                .message(smsgate::store::Scope::All, id.parse().unwrap())
                .await
                .unwrap();
            let due = gw.gateway.due_webhooks(i64::MAX / 2, 10).await.unwrap();
            panic!(
                "webhook not retried: {:?}; message {m:?}; due {due:?}",
                received.lock().unwrap()
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let got = received.lock().unwrap().clone();
    let (first, second) = (&got[0], &got[1]);
    assert_eq!(first.1, second.1, "the retry carries the same event");
    assert_eq!(
        first.0["x-event-id"], second.0["x-event-id"],
        "same event id for dedup"
    );
    let body: Value = serde_json::from_str(&second.1).unwrap();
    assert_eq!(body["type"], "sms:sent");
    assert!(second.1.contains(&id), "{}", second.1);
    assert_eq!(
        body["id"].as_str().unwrap(),
        second.0["x-event-id"].to_str().unwrap()
    );

    // The signature verifies, with our reference and with openssl.
    let ts: i64 = second.0["x-timestamp"].to_str().unwrap().parse().unwrap();
    let sig = second.0["x-signature"].to_str().unwrap().to_owned();
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    assert!(webhooks::verify(
        secret.as_bytes(),
        ts,
        second.1.as_bytes(),
        &sig,
        now,
        Duration::from_secs(300)
    ));
    let mut openssl = tool("openssl")
        .args(["dgst", "-sha256", "-hmac", &secret])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    openssl
        .stdin
        .take()
        .unwrap()
        .write_all(format!("{ts}.{}", second.1).as_bytes())
        .unwrap();
    let out = String::from_utf8(openssl.wait_with_output().unwrap().stdout).unwrap();
    assert!(
        out.trim().ends_with(sig.trim_start_matches("sha256=")),
        "openssl: {out} vs {sig}"
    );

    // The message itself went through the modem double.
    let m: Value = http
        .get(gw.url(&format!("/api/v1/messages/{id}")))
        .basic_auth("alice", Some(PASSWORD))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(m["status"], "sent");
    // No third delivery: the 200 ended it.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(received.lock().unwrap().len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhook_outbox_survives_a_restart() {
    let gw = start().await;
    let http = gw.http();
    let received: Arc<Mutex<Vec<String>>> = Arc::default();
    let app = Router::new().route(
        "/hook",
        post({
            let received = received.clone();
            move |body: String| async move {
                received.lock().unwrap().push(body);
                "ok"
            }
        }),
    );
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(smsgate::tls::acceptor::run_plain(
        listener,
        app,
        gw.shutdown.clone(),
    ));
    let created = http
        .post(gw.url("/api/v1/webhooks"))
        .basic_auth("alice", Some(PASSWORD))
        .json(&json!({"url": format!("http://127.0.0.1:{port}/hook"), "events": ["sms:sent"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    // The event is produced while no delivery worker runs; then the gateway stops.
    gw.gateway
        .attach_modem(Arc::new(InstantModem), "default", true)
        .await
        .unwrap();
    let sent = gw
        .send_as("alice", json!({"to": "+48600100200", "text": "before restart"}))
        .await;
    let id = sent.json::<Value>().await.unwrap()["messages"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while gw.gateway.next_webhook_due().await.unwrap().is_none() {
        assert!(tokio::time::Instant::now() < deadline, "no outbox row");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    gw.gateway.shutdown().await;

    // A new process (gateway) on the same data directory delivers it.
    let settings = smsgate::config::Settings::default_with_data_dir(gw.dir.path());
    let (reopened, _) = smsgate::app::Gateway::open(settings).await.unwrap();
    let client = smsgate::http::client::outbound_client(&[], Duration::from_secs(5)).unwrap();
    let stop = tokio_util::sync::CancellationToken::new();
    tokio::spawn(webhooks::run_worker(reopened.clone(), client, stop.clone()));
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while received.lock().unwrap().is_empty() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "not delivered after restart"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(received.lock().unwrap()[0].contains(&id));
    stop.cancel();
    reopened.shutdown().await;
}
