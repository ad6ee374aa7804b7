//! Deletion of an account's data on request, proven end to end: over the HTTPS API against simulated
//! modems, after the erasure no API call returns anything of the account, the raw database and WAL files
//! no longer contain a marker text that was in its messages, and a backup taken before still has it but
//! cannot be read without the key.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers outside #[test] fns

mod common;

use std::time::Duration;

use common::{PASSWORD, assert_problem, start_with};
use serde_json::{Value, json};
use smsgate::app::backup::{BackupError, BackupKey, RestoreKey, create_backup, decrypt_backup};
use smsgate::app::{AccountId, MessageStatus};
use smsgate::store::Scope;

async fn wait<T>(what: &str, mut probe: impl AsyncFnMut() -> Option<T>) -> T {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(v) = probe().await {
            return v;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    memchr::memmem::find(haystack, needle.as_bytes()).is_some()
}

/// A number's digits as semi-octets in hex, as they appear inside a PDU (`+48699000007` → `8496090000f7`, lowercase as the store keeps it).
fn semi_octets(number: &str) -> String {
    let digits: Vec<char> = number.trim_start_matches('+').chars().collect();
    digits
        .chunks(2)
        .map(|pair| match pair {
            [a, b] => format!("{b}{a}"),
            [a] => format!("f{a}"),
            _ => String::new(),
        })
        .collect()
}

/// Logs into the panel over HTTPS; returns the `Cookie` header of the session.
async fn panel_session(gw: &common::Gw, login: &str) -> String {
    use smsgate::http::panel::session::{LOGIN_CSRF_COOKIE, SESSION_COOKIE};
    // The login answers 303 with the session cookie: do not follow it.
    let http = common::client_with(&gw.ca, reqwest::redirect::Policy::none());
    let page = http.get(gw.url("/panel/login")).send().await.unwrap();
    let pre = page
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|c| c.strip_prefix(&format!("{LOGIN_CSRF_COOKIE}=")))
        .and_then(|v| v.split(';').next())
        .unwrap()
        .to_owned();
    let r = http
        .post(gw.url("/panel/login"))
        .header("cookie", format!("{LOGIN_CSRF_COOKIE}={pre}"))
        .form(&[("login", login), ("password", PASSWORD), ("csrf", &pre)])
        .send()
        .await
        .unwrap();
    let session = r
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|c| c.strip_prefix(&format!("{SESSION_COOKIE}=")))
        .and_then(|v| v.split(';').next())
        .unwrap_or_else(|| panic!("panel login of {login} failed: {}", r.status()))
        .to_owned();
    format!("{SESSION_COOKIE}={session}")
}

fn file_bytes(path: &std::path::Path) -> Vec<u8> {
    std::fs::read(path).unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleted_account_is_gone_from_api_and_database_files_but_not_from_an_earlier_backup() {
    let gw = start_with(
        |s| {
            s.sim.count = 1;
            s.dispatch.retry_base_seconds = 1;
        },
        true,
    )
    .await;
    let http = gw.http();
    let marker = format!("MARKER-{}", uuid::Uuid::new_v4().simple());
    let alice_number = "+48699000007";
    let alice = gw.gateway.find_account_by_login("alice").await.unwrap().unwrap();

    // Alice's data: a delivered message, a queued (scheduled) one, a received reply, a token, a webhook.
    let sent: Value = gw
        .send_as(
            "alice",
            json!({"to": alice_number, "text": format!("{marker} sent"), "delivery_report": true}),
        )
        .await
        .json()
        .await
        .unwrap();
    let sent_id = sent["messages"][0]["id"].as_str().unwrap().to_owned();
    let later = time::OffsetDateTime::now_utc() + time::Duration::days(1);
    let queued = gw
        .send_as(
            "alice",
            json!({"to": "+48699000008", "text": format!("{marker} queued"),
                   "send_at": later.format(&time::format_description::well_known::Rfc3339).unwrap()}),
        )
        .await;
    assert_eq!(queued.status(), 202);
    let token: Value = http
        .post(gw.url("/api/v1/tokens"))
        .basic_auth("alice", Some(PASSWORD))
        .json(&json!({"name": "machine"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = token["token"].as_str().unwrap().to_owned();
    let hook = http
        .post(gw.url("/api/v1/webhooks"))
        .basic_auth("alice", Some(PASSWORD))
        .json(&json!({"url": "https://127.0.0.1:9/hook", "events": ["sms:received"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(hook.status(), 201);
    // Bob's message must survive.
    let bob_text = format!("BOB-KEEP-{}", uuid::Uuid::new_v4().simple());
    assert_eq!(
        gw.send_as("bob", json!({"to": "+48699000009", "text": bob_text}))
            .await
            .status(),
        202
    );
    let id: smsgate::app::MessageId = sent_id.parse().unwrap();
    wait("alice's message delivered", async || {
        let m = gw.gateway.store().message(Scope::All, id).await.unwrap()?;
        (m.status == MessageStatus::Delivered).then_some(())
    })
    .await;
    let sim = gw.gateway.sim_control().await.unwrap();
    sim.inject_sms(0, alice_number, &format!("{marker} reply"))
        .unwrap();
    wait("the reply in alice's inbox", async || {
        let r: Value = http
            .get(gw.url("/api/v1/inbox"))
            .basic_auth("alice", Some(PASSWORD))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        r.to_string().contains(&marker).then_some(())
    })
    .await;

    // A backup before the deletion, to the appliance's own key.
    let data_dir = gw.dir.path().to_owned();
    let mut settings = gw.gateway.settings().clone();
    settings.data_dir = data_dir.clone();
    let identity = age::x25519::Identity::generate();
    let backup_file = data_dir.join("before.db.age");
    let settings_b = settings.clone();
    let key = BackupKey::Recipients(vec![identity.to_public()]);
    let backup_file_b = backup_file.clone();
    tokio::task::spawn_blocking(move || {
        create_backup(
            &settings_b,
            &key,
            Some(&backup_file_b),
            time::OffsetDateTime::now_utc(),
        )
    })
    .await
    .unwrap()
    .unwrap();

    // The client asks; no grace period is configured, so the data goes at once.
    let asked = http
        .post(gw.url("/api/v1/account/deletion"))
        .basic_auth("alice", Some(PASSWORD))
        .send()
        .await
        .unwrap();
    assert_eq!(asked.status(), 202);
    let asked: Value = asked.json().await.unwrap();
    assert_eq!(asked["status"], "erased", "{asked}");

    // No API call returns any of it.
    for (path, who) in [
        ("/api/v1/me", "alice"),
        ("/api/v1/messages", "alice"),
        ("/api/v1/inbox", "alice"),
    ] {
        let r = http
            .get(gw.url(path))
            .basic_auth(who, Some(PASSWORD))
            .send()
            .await
            .unwrap();
        assert_problem(r, 401, None).await;
    }
    let r = http
        .get(gw.url("/api/v1/me"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_problem(r, 401, None).await;
    for path in [
        "/api/v1/messages?limit=1000".to_owned(),
        "/api/v1/inbox?limit=1000".to_owned(),
        format!("/api/v1/messages/{sent_id}"),
        format!("/api/v1/accounts/{}/deletion", alice.id.0),
    ] {
        let r = http
            .get(gw.url(&path))
            .basic_auth("root", Some(PASSWORD))
            .send()
            .await
            .unwrap();
        let body = r.text().await.unwrap();
        assert!(
            !body.contains(&marker),
            "{path} still shows the deleted text: {body}"
        );
        assert!(
            !body.contains(alice_number),
            "{path} still shows alice's number: {body}"
        );
    }
    let bob: Value = gw.list_as("bob", "").await;
    assert!(bob.to_string().contains(&bob_text), "bob's data is untouched");

    // Nor any SOAP call (the admin sees every account's rows there), nor any panel page of the admin.
    for (operation, inner) in [
        ("ListMessages", "<limit>1000</limit>"),
        ("GetInbox", "<limit>1000</limit>"),
        ("GetMessageStatus", &*format!("<messageId>{sent_id}</messageId>")),
    ] {
        let envelope = format!(
            r#"<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Header><w:Security xmlns:w="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"><w:UsernameToken><w:Username>root</w:Username><w:Password>{PASSWORD}</w:Password></w:UsernameToken></w:Security></s:Header><s:Body><{operation} xmlns="urn:smsgate:soap:v1">{inner}</{operation}></s:Body></s:Envelope>"#
        );
        let body = http
            .post(gw.url("/soap/v1"))
            .header("content-type", "text/xml; charset=utf-8")
            .body(envelope)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(body.contains("Envelope"), "{operation}: {body}");
        assert!(
            !body.contains(&marker),
            "SOAP {operation} shows the deleted text: {body}"
        );
        assert!(
            !body.contains(alice_number),
            "SOAP {operation} shows alice's number: {body}"
        );
    }
    let panel = panel_session(&gw, "root").await;
    for path in [
        "/panel/messages".to_owned(),
        format!("/panel/messages?recipient={}", alice_number.replace('+', "%2B")),
        "/panel/inbox".to_owned(),
        format!("/panel/messages/{sent_id}"),
        "/panel/accounts".to_owned(),
        "/panel/audit".to_owned(),
        "/panel/dashboard".to_owned(),
    ] {
        let r = http
            .get(gw.url(&path))
            .header("cookie", &panel)
            .send()
            .await
            .unwrap();
        let status = r.status();
        // The search form echoes what was searched for; only the results count.
        let body = r
            .text()
            .await
            .unwrap()
            .replace(&format!("value=\"{alice_number}\""), "");
        assert!(status == 200 || status == 404, "{path}: {status}");
        assert!(!body.contains(&marker), "panel {path} shows the deleted text");
        assert!(!body.contains(alice_number), "panel {path} shows alice's number");
    }

    // What remains: the audit entries (who, when, from where) and the tombstone.
    let root = gw.gateway.find_account_by_login("root").await.unwrap().unwrap();
    let log = gw
        .gateway
        .audit_log(&smsgate::app::Principal::of(&root), None, 1000)
        .await
        .unwrap();
    let requested = log
        .iter()
        .find(|e| e.action == "account.deletion_requested" && e.account_id == Some(alice.id))
        .expect("the request is audited");
    assert_eq!(requested.actor.as_deref(), Some("alice"));
    assert_eq!(requested.source_ip.as_deref(), Some("127.0.0.1"));
    let erased = log
        .iter()
        .find(|e| e.action == "account.erased" && e.account_id == Some(alice.id))
        .expect("the erasure is audited with counts");
    assert!(
        erased.details.as_deref().unwrap().contains("messages=2"),
        "{erased:?}"
    );
    assert!(gw.gateway.store().tombstone(alice.id).await.unwrap().is_some());
    assert!(gw.gateway.find_account(alice.id).await.unwrap().is_none());

    // The bytes are gone from the database file and the WAL.
    assert!(gw.gateway.store().checkpoint_truncate().await.unwrap());
    let db = settings.database_path();
    let mut wal = db.clone().into_os_string();
    wal.push("-wal");
    let live = [file_bytes(&db), file_bytes(std::path::Path::new(&wal))].concat();
    assert!(contains(&live, &bob_text), "the search itself works");
    assert!(
        !contains(&live, &marker),
        "the deleted text is still in the database files"
    );
    // Nor her number: as text, nor as the semi-octets of the PDUs (TS 23.040 §9.1.2.3, hex in the store).
    assert!(
        !contains(&live, alice_number),
        "the deleted number is still in the database files"
    );
    assert!(
        contains(&live, &semi_octets("+48699000009")),
        "the semi-octet search finds bob's number in his PDU"
    );
    assert!(
        !contains(&live, &semi_octets(alice_number)),
        "the deleted number is still in a stored PDU"
    );
    // Free pages are handed back to the file system (incremental vacuum), so none linger in the file.
    let space = gw.gateway.store().space().await.unwrap();
    assert_eq!((space.auto_vacuum, space.free_pages), (2, 0), "{space:?}");

    // The backup taken before still has it, but only for the key's holder.
    let raw = std::fs::read(&backup_file).unwrap();
    assert!(!contains(&raw, &marker), "the backup file is encrypted");
    let wrong = RestoreKey::Identities(vec![age::x25519::Identity::generate()]);
    assert!(matches!(
        decrypt_backup(&backup_file, &wrong, &data_dir.join("wrong.db")),
        Err(BackupError::WrongKey)
    ));
    assert!(!data_dir.join("wrong.db").exists());
    let right = RestoreKey::Identities(vec![identity]);
    decrypt_backup(&backup_file, &right, &data_dir.join("old.db")).unwrap();
    assert!(contains(
        &std::fs::read(data_dir.join("old.db")).unwrap(),
        &marker
    ));

    // A new account never gets the erased account's id.
    let newcomer = gw
        .gateway
        .create_account(None, "dave", "h".into(), smsgate::app::Role::Client)
        .await
        .unwrap();
    assert!(newcomer.id.0 > AccountId(4).0 && newcomer.id != alice.id);
    gw.gateway.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grace_period_request_can_be_cancelled_and_is_carried_out_when_due() {
    let gw = start_with(|s| s.retention.deletion_grace_hours = 48, false).await;
    let http = gw.http();
    assert_eq!(
        gw.send_as("carol", json!({"to": "+48699000001", "text": "hello"}))
            .await
            .status(),
        202
    );
    let ask = async || {
        http.post(gw.url("/api/v1/account/deletion"))
            .basic_auth("carol", Some(PASSWORD))
            .send()
            .await
            .unwrap()
    };
    let asked: Value = ask().await.json().await.unwrap();
    assert_eq!(asked["status"], "scheduled");
    let status: Value = http
        .get(gw.url("/api/v1/account/deletion"))
        .basic_auth("carol", Some(PASSWORD))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(status["requested_by"], "carol");
    // A token cannot ask for its own account's erasure.
    let token: Value = http
        .post(gw.url("/api/v1/tokens"))
        .basic_auth("carol", Some(PASSWORD))
        .json(&json!({"name": "t"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let by_token = http
        .post(gw.url("/api/v1/account/deletion"))
        .bearer_auth(token["token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_problem(by_token, 403, None).await;
    // Another client cannot see or touch it.
    let carol = gw.gateway.find_account_by_login("carol").await.unwrap().unwrap();
    let peek = http
        .get(gw.url(&format!("/api/v1/accounts/{}/deletion", carol.id.0)))
        .basic_auth("bob", Some(PASSWORD))
        .send()
        .await
        .unwrap();
    assert_problem(peek, 403, None).await;

    // Not yet due: the scheduler leaves it.
    assert_eq!(gw.gateway.run_due_deletions().await.unwrap(), 0);
    let cancel = http
        .delete(gw.url("/api/v1/account/deletion"))
        .basic_auth("carol", Some(PASSWORD))
        .send()
        .await
        .unwrap();
    assert_eq!(cancel.status(), 204);
    let again = http
        .delete(gw.url("/api/v1/account/deletion"))
        .basic_auth("carol", Some(PASSWORD))
        .send()
        .await
        .unwrap();
    assert_problem(again, 404, None).await;
    assert_eq!(
        gw.list_as("carol", "").await["items"].as_array().unwrap().len(),
        1
    );

    // The only admin cannot erase itself (the appliance would be left without one).
    let root = gw.gateway.find_account_by_login("root").await.unwrap().unwrap();
    let last_admin = http
        .post(gw.url(&format!("/api/v1/accounts/{}/deletion", root.id.0)))
        .basic_auth("root", Some(PASSWORD))
        .send()
        .await
        .unwrap();
    assert_problem(last_admin, 409, None).await;

    // Asked again, then an admin brings it forward: carried out at once.
    assert_eq!(ask().await.status(), 202);
    let forced: Value = http
        .post(gw.url(&format!("/api/v1/accounts/{}/deletion", carol.id.0)))
        .basic_auth("root", Some(PASSWORD))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(forced["status"], "erased", "{forced}");
    assert!(gw.gateway.find_account(carol.id).await.unwrap().is_none());
    let actions: Vec<String> = gw
        .gateway
        .store()
        .audit_log(None, 1000)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.account_id == Some(carol.id))
        .map(|e| format!("{}:{}", e.action, e.actor.unwrap_or_default()))
        .collect();
    for expected in [
        "account.deletion_requested:carol",
        "account.deletion_cancelled:carol",
        "account.deletion_requested:root",
        "account.erased:",
    ] {
        assert!(
            actions.iter().any(|a| a == expected),
            "{expected} missing in {actions:?}"
        );
    }
}
