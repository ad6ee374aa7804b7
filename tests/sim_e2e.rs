//! End-to-end over real HTTPS against the gateway driving simulated modems (hw-sim on PTYs, real modem
//! actors speaking AT): messages in ASCII, Polish, emoji and 500 characters go out and come back
//! delivered; an SMS injected in hw-sim reaches the owner's inbox and a signed webhook; USSD through the
//! API; a Kannel `dlr-url` hears "delivered".
#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers outside #[test] fns

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::http::HeaderMap;
use common::{PASSWORD, assert_problem, start_with, tool};
use serde_json::{Value, json};
use smsgate::http::webhooks;
use tokio::net::TcpListener;
use tokio::time::Instant;

/// Polls `check` every 200 ms until it returns `Some`, failing after `secs`.
async fn eventually<T, F, Fut>(secs: u64, what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn send_receive_ussd_and_dlr_through_simulated_modems() {
    let gw = start_with(|s| s.sim.count = 2, true).await;
    let http = gw.http();

    // A plain-HTTP receiver for webhooks and Kannel DLRs.
    let hooks: Arc<Mutex<Vec<(HeaderMap, String)>>> = Arc::default();
    let dlrs: Arc<Mutex<Vec<String>>> = Arc::default();
    let app = Router::new()
        .route(
            "/hook",
            axum::routing::post({
                let hooks = hooks.clone();
                move |headers: HeaderMap, body: String| async move {
                    hooks.lock().unwrap().push((headers, body));
                    "ok"
                }
            }),
        )
        .route(
            "/dlr",
            axum::routing::get({
                let dlrs = dlrs.clone();
                move |uri: axum::http::Uri| async move {
                    dlrs.lock().unwrap().push(uri.query().unwrap_or("").to_owned());
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
    let client = smsgate::http::client::outbound_client(&[], Duration::from_secs(5)).unwrap();
    tokio::spawn(webhooks::run_worker(
        gw.gateway.clone(),
        client.clone(),
        gw.shutdown.clone(),
    ));
    tokio::spawn(smsgate::http::kannel::run_dlr_worker(
        gw.gateway.clone(),
        client,
        gw.shutdown.clone(),
    ));
    let hook = http
        .post(gw.url("/api/v1/webhooks"))
        .basic_auth("alice", Some(PASSWORD))
        .json(&json!({"url": format!("http://127.0.0.1:{port}/hook"), "events": ["sms:received", "sms:delivered"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(hook.status(), 201);
    let secret = hook.json::<Value>().await.unwrap()["secret"]
        .as_str()
        .unwrap()
        .to_owned();

    // Four texts that exercise the codec: GSM-7, Polish (UCS-2 under `auto`), emoji, and a long one.
    let long: String =
        "Lorem ipsum dolor sit amet, consectetur adipiscing elit. ".repeat(9)[..500].to_owned();
    let texts = [
        "Hello from smsgate",
        "Zażółć gęślą jaźń",
        "Emoji 😀👍",
        long.as_str(),
    ];
    let mut ids = Vec::new();
    for text in texts {
        let r = gw
            .send_as(
                "alice",
                json!({"to": "+48600100200", "text": text, "delivery_report": true}),
            )
            .await;
        assert_eq!(r.status(), 202);
        ids.push(
            r.json::<Value>().await.unwrap()["messages"][0]["id"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    for (id, text) in ids.iter().zip(texts) {
        let detail: Value = eventually(90, &format!("{text:?} delivered"), || {
            let http = http.clone();
            let url = gw.url(&format!("/api/v1/messages/{id}"));
            async move {
                let m: Value = http
                    .get(url)
                    .basic_auth("alice", Some(PASSWORD))
                    .send()
                    .await
                    .ok()?
                    .json()
                    .await
                    .ok()?;
                (m["status"] == "delivered").then_some(m)
            }
        })
        .await;
        assert_eq!(detail["text"], text);
        let parts = detail["part_list"].as_array().unwrap();
        assert_eq!(parts.len() as u64, detail["parts"].as_u64().unwrap());
        assert!(
            parts
                .iter()
                .all(|p| p["status"] == "delivered" && p["mr"].is_number()),
            "{detail}"
        );
    }
    let long_detail: Value = http
        .get(gw.url(&format!("/api/v1/messages/{}", ids[3])))
        .basic_auth("alice", Some(PASSWORD))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        long_detail["parts"], 4,
        "500 GSM-7 characters need 4 concatenated parts"
    );

    // An incoming reply injected in the simulated network lands in Alice's inbox (she wrote to that number).
    let sim = gw.gateway.sim_control().await.unwrap();
    sim.inject_sms(0, "+48600100200", "Reply: dziękuję 😀").unwrap();
    let item: Value = eventually(30, "the reply in the inbox", || {
        let http = http.clone();
        let url = gw.url("/api/v1/inbox");
        async move {
            let page: Value = http
                .get(url)
                .basic_auth("alice", Some(PASSWORD))
                .send()
                .await
                .ok()?
                .json()
                .await
                .ok()?;
            page["items"]
                .as_array()?
                .iter()
                .find(|i| i["text"] == "Reply: dziękuję 😀")
                .cloned()
        }
    })
    .await;
    assert_eq!(item["originator"], "+48600100200");
    let inbox_url = gw.url(&format!("/api/v1/inbox/{}", item["id"].as_str().unwrap()));
    assert_problem(
        http.get(&inbox_url)
            .basic_auth("bob", Some(PASSWORD))
            .send()
            .await
            .unwrap(),
        404,
        None,
    )
    .await;

    // ... and as a signed webhook.
    let (headers, body) = eventually(30, "the sms:received webhook", || {
        let hooks = hooks.clone();
        async move {
            hooks
                .lock()
                .unwrap()
                .iter()
                .find(|(_, b)| b.contains("sms:received"))
                .cloned()
        }
    })
    .await;
    let ts: i64 = headers["x-timestamp"].to_str().unwrap().parse().unwrap();
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let sig = headers["x-signature"].to_str().unwrap();
    assert!(webhooks::verify(
        secret.as_bytes(),
        ts,
        body.as_bytes(),
        sig,
        now,
        Duration::from_secs(300)
    ));
    assert!(
        hooks
            .lock()
            .unwrap()
            .iter()
            .any(|(_, b)| b.contains("sms:delivered"))
    );
    let delete = http
        .delete(&inbox_url)
        .basic_auth("alice", Some(PASSWORD))
        .send()
        .await
        .unwrap();
    assert_eq!(delete.status(), 204);
    assert_problem(
        http.get(&inbox_url)
            .basic_auth("alice", Some(PASSWORD))
            .send()
            .await
            .unwrap(),
        404,
        None,
    )
    .await;

    // Modems are listed; USSD works for operators only.
    let modems: Value = http
        .get(gw.url("/api/v1/modems"))
        .basic_auth("root", Some(PASSWORD))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let modem_id = modems["items"][0]["id"].as_str().unwrap().to_owned();
    let one = http
        .get(gw.url(&format!("/api/v1/modems/{modem_id}")))
        .basic_auth("alice", Some(PASSWORD))
        .send()
        .await
        .unwrap();
    assert_eq!(one.status(), 200);
    let ussd = |login: &'static str, code: &'static str| {
        http.post(gw.url("/api/v1/ussd"))
            .basic_auth(login, Some(PASSWORD))
            .json(&json!({"modem": modem_id, "code": code}))
            .send()
    };
    let answer = ussd("root", "*100#").await.unwrap();
    assert_eq!(answer.status(), 200);
    let answer: Value = answer.json().await.unwrap();
    assert!(answer["text"].as_str().is_some_and(|t| !t.is_empty()), "{answer}");
    assert_problem(ussd("alice", "*100#").await.unwrap(), 403, None).await;
    assert_problem(ussd("root", "*100#; rm").await.unwrap(), 422, Some("code")).await;

    // Kannel with a delivered-only mask: the callback says type 1.
    let (ca, gw_port) = (gw.ca.clone(), gw.addr.port());
    let code = tokio::task::spawn_blocking(move || {
        let out = tool("curl")
            .args(["-sS", "--cacert"])
            .arg(&ca)
            .args(["-G", "-w", " %{http_code}", "--data-urlencode", "username=alice"])
            .args([
                "--data-urlencode",
                &format!("password={PASSWORD}"),
                "--data-urlencode",
                "to=+48600100201",
            ])
            .args([
                "--data-urlencode",
                "text=via kannel",
                "--data-urlencode",
                "dlr-mask=1",
                "--data-urlencode",
            ])
            .arg(format!("dlr-url=http://127.0.0.1:{port}/dlr?t=%d&p=%p"))
            .arg(format!("https://localhost:{gw_port}/cgi-bin/sendsms"))
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    })
    .await
    .unwrap();
    assert_eq!(code, "0: Accepted for delivery 202");
    let dlr = eventually(90, "the Kannel DLR", || {
        let dlrs = dlrs.clone();
        async move { dlrs.lock().unwrap().first().cloned() }
    })
    .await;
    assert_eq!(dlr, "t=1&p=%2B48600100201");
    gw.gateway.shutdown().await;
}
