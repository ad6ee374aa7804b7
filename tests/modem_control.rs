//! Technician control of the modems of a running gateway over real HTTPS, against the in-process hw-sim
//! bank: live list and detail, raw AT (admins only, refused when it would break the actor's setup,
//! audited with who/where/what), USSD, a test SMS pinned to a modem, settings stored by IMEI and applied
//! live, restart, and what clients and technicians may not do.
#![allow(clippy::unwrap_used, clippy::expect_used)]
mod common;

use std::time::{Duration, Instant};

use common::{PASSWORD, assert_problem, start_with};
use serde_json::{Value, json};
use smsgate::app::Role;
use smsgate::auth::PasswordHasher;

async fn wait_for<T>(what: &str, limit: Duration, mut probe: impl AsyncFnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(v) = probe().await {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn technicians_control_modems_of_a_running_gateway() {
    let gw = start_with(|s| s.sim.count = 2, true).await;
    gw.gateway
        .create_account(
            None,
            "tech",
            PasswordHasher::insecure_fast().hash(PASSWORD).unwrap(),
            Role::Technician,
        )
        .await
        .unwrap();
    let http = gw.http();
    let get = |who: &'static str, path: String| {
        let r = http
            .get(gw.url(&format!("/api/v1{path}")))
            .basic_auth(who, Some(PASSWORD));
        async move { r.send().await.unwrap() }
    };
    let post = |who: &'static str, path: String, body: Value| {
        let r = http
            .post(gw.url(&format!("/api/v1{path}")))
            .basic_auth(who, Some(PASSWORD))
            .json(&body);
        async move { r.send().await.unwrap() }
    };

    // Both simulated modems come up and are listed with their live state.
    let modems: Vec<Value> = wait_for("two modems up", Duration::from_secs(30), async || {
        let list: Value = get("root", "/modems".into()).await.json().await.unwrap();
        let items = list["items"].as_array().unwrap().clone();
        (items.len() == 2
            && items
                .iter()
                .all(|m| m["up"] == true && m["state"]["operator"].is_string()))
        .then_some(items)
    })
    .await;
    let sim = gw.gateway.sim_control().await.unwrap();
    let imei = modems[0]["id"].as_str().unwrap().to_owned();
    let index = sim.modems().iter().position(|m| m.imei == imei).unwrap();
    for m in &modems {
        assert_eq!(m["live"], true);
        assert_eq!(m["state"]["phase"], "ready");
        assert!(m["state"]["iccid"].is_string(), "{m}");
        assert!(m["queue_depth"].is_u64());
        assert_eq!(m["settings"]["pin_set"], false);
    }
    let detail: Value = get("tech", format!("/modems/{imei}")).await.json().await.unwrap();
    assert_eq!(detail["state"]["imei"], imei.as_str());
    assert!(detail["state"]["signal"].is_u64(), "{detail}");
    // Clients see the bank but no SIM identities and no settings.
    let seen: Value = get("alice", format!("/modems/{imei}"))
        .await
        .json()
        .await
        .unwrap();
    assert!(seen["state"].get("iccid").is_none(), "{seen}");
    assert!(seen.get("settings").is_none(), "{seen}");
    assert_problem(get("root", "/modems/nope".into()).await, 404, None).await;

    // Raw AT: admins only; the answer is the modem's, an ERROR is not an HTTP error.
    let r = post(
        "root",
        format!("/modems/{imei}/at"),
        json!({"command": "AT+CGSN"}),
    )
    .await;
    assert_eq!(r.status(), 200);
    let at: Value = r.json().await.unwrap();
    assert_eq!(at["lines"], json!([imei]));
    assert_eq!(at["result"], "OK");
    assert_eq!(at["ok"], true);
    let at: Value = post(
        "root",
        format!("/modems/{imei}/at"),
        json!({"command": "AT+NOSUCH"}),
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(at["ok"], false, "{at}");
    let r = post("tech", format!("/modems/{imei}/at"), json!({"command": "AT+CSQ"})).await;
    assert_problem(r, 403, None).await;
    let r = post(
        "alice",
        format!("/modems/{imei}/at"),
        json!({"command": "AT+CSQ"}),
    )
    .await;
    assert_problem(r, 403, None).await;
    // Commands that would break the actor's setup are refused, naming the command and the reason.
    for bad in [
        "ATE1",
        "AT+CMGF=1",
        "AT+CNMI=1,1,0,0,0",
        "AT+CFUN=0",
        "AT+CSQ;+CMGD=1",
    ] {
        let r = post("root", format!("/modems/{imei}/at"), json!({"command": bad})).await;
        let p = assert_problem(r, 422, Some("command")).await;
        assert!(p["detail"].as_str().unwrap().contains("refused"), "{bad}: {p}");
    }
    let r = post(
        "root",
        format!("/modems/{imei}/at"),
        json!({"command": "AT", "timeout_seconds": 100000}),
    )
    .await;
    assert_problem(r, 422, Some("timeout_seconds")).await;
    // The modem still works after the refusals: PDU mode is untouched.
    let at: Value = post(
        "root",
        format!("/modems/{imei}/at"),
        json!({"command": "AT+CMGF?"}),
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(at["lines"], json!(["+CMGF: 0"]));

    // USSD through the modem, for operators.
    let r = post("tech", format!("/modems/{imei}/ussd"), json!({"code": "*100#"})).await;
    assert_eq!(r.status(), 200);
    let ussd: Value = r.json().await.unwrap();
    assert!(ussd["text"].as_str().unwrap().contains("balance"), "{ussd}");
    let r = post("alice", format!("/modems/{imei}/ussd"), json!({"code": "*100#"})).await;
    assert_problem(r, 403, None).await;
    let r = post("tech", format!("/modems/{imei}/ussd"), json!({"code": "rm -rf"})).await;
    assert_problem(r, 422, Some("code")).await;

    // A test SMS goes through the queue, through this modem only.
    for _ in 0..3 {
        let r = post(
            "tech",
            format!("/modems/{imei}/sms"),
            json!({"to": "+48600100200", "text": "test przez modem"}),
        )
        .await;
        assert_eq!(r.status(), 202);
    }
    let sent = wait_for("three test SMS sent", Duration::from_secs(30), async || {
        let texts = sim.sent_texts(index).unwrap();
        (texts.iter().filter(|t| t.text == "test przez modem").count() == 3).then_some(texts)
    })
    .await;
    assert!(sent.iter().all(|t| t.to == "+48600100200"));
    let other = sim.sent_texts(1 - index).unwrap();
    assert!(
        other.iter().all(|t| t.text != "test przez modem"),
        "pinned to the chosen modem"
    );
    let r = post(
        "alice",
        format!("/modems/{imei}/sms"),
        json!({"to": "+48600100200", "text": "x"}),
    )
    .await;
    assert_problem(r, 403, None).await;
    let r = post(
        "tech",
        format!("/modems/{imei}/sms"),
        json!({"to": "bogus", "text": "x"}),
    )
    .await;
    assert_problem(r, 422, Some("to")).await;

    // Settings: stored by IMEI, the SMSC applied on the modem at once, the PIN never shown.
    let put = |who: &'static str, body: Value| {
        let r = http
            .put(gw.url(&format!("/api/v1/modems/{imei}/settings")))
            .basic_auth(who, Some(PASSWORD))
            .json(&body);
        async move { r.send().await.unwrap() }
    };
    let r = put(
        "tech",
        json!({"pin": "2468", "smsc": "+48601000310", "per_minute": 30, "daily_quota": 1000, "group": "tests"}),
    )
    .await;
    assert_eq!(r.status(), 200);
    let s: Value = r.json().await.unwrap();
    assert_eq!(s["pin_set"], true);
    assert_eq!(s["smsc"], "+48601000310");
    assert_eq!(s["updated_by"], "tech");
    assert!(!s.to_string().contains("2468"));
    let s: Value = get("tech", format!("/modems/{imei}/settings"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        (s["per_minute"].clone(), s["group"].clone()),
        (json!(30), json!("tests"))
    );
    let at: Value = post(
        "root",
        format!("/modems/{imei}/at"),
        json!({"command": "AT+CSCA?"}),
    )
    .await
    .json()
    .await
    .unwrap();
    assert!(at["lines"][0].as_str().unwrap().contains("+48601000310"), "{at}");
    let r = put("tech", json!({"pin": "12"})).await;
    assert_problem(r, 422, Some("pin")).await;
    let r = put("alice", json!({})).await;
    assert_problem(r, 403, None).await;
    let r = put("tech", json!({"colour": "red"})).await;
    assert_problem(r, 422, Some("colour")).await;
    // The modem now serves group "tests": a message routed there goes through it.
    let listed: Value = get("tech", format!("/modems/{imei}")).await.json().await.unwrap();
    assert_eq!(listed["group"], "tests");

    // Restart: the modem comes back into service by itself.
    let r = post("tech", format!("/modems/{imei}/restart"), json!({})).await;
    assert_eq!(r.status(), 202);
    wait_for("the modem back in service", Duration::from_secs(30), async || {
        let m: Value = get("tech", format!("/modems/{imei}")).await.json().await.unwrap();
        (m["state"]["phase"] == "ready").then_some(())
    })
    .await;
    let r = post("alice", format!("/modems/{imei}/restart"), json!({})).await;
    assert_problem(r, 403, None).await;

    // Every action is in the audit log with who, from where and what; the PIN never.
    let audit: Value = get("root", "/audit?limit=200".into()).await.json().await.unwrap();
    let entries = audit["items"].as_array().unwrap();
    let find = |action: &str| {
        entries
            .iter()
            .filter(|e| e["action"] == action)
            .cloned()
            .collect::<Vec<_>>()
    };
    let ats = find("modem.at");
    assert!(ats.iter().any(|e| e["actor"] == "root"
        && e["source_ip"] == "127.0.0.1"
        && e["details"].as_str().unwrap().contains("AT+CGSN")));
    assert_eq!(find("modem.at.refused").len(), 5);
    assert_eq!(find("modem.ussd").len(), 1);
    assert_eq!(find("modem.test_sms").len(), 3);
    assert_eq!(find("modem.restart").len(), 1);
    let settings = find("modem.settings");
    assert_eq!(settings.len(), 1);
    assert!(settings[0]["details"].as_str().unwrap().contains("pin=set"));
    assert!(!audit.to_string().contains("2468"));
}
