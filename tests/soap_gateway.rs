//! The SOAP API inside the whole gateway, over real HTTPS on a loopback port (the shared harness of
//! `tests/common`): TLS acceptor, router, authentication, a gateway core with two simulated modems,
//! real accounts, password hashing and API tokens. Covers what
//! the zeep suite cannot reach from outside: client-role accounts (IDOR), an incoming SMS in the inbox,
//! atomic DeleteInbox, USSD refused to clients, API token scopes, and account deletion (grace period,
//! cancelling, immediate erasure, other accounts refused).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use smsgate::app::{Gateway, NewToken, Principal};
use smsgate::auth::token;
use smsgate::http::soap::xml::{Element, Limits, parse};

use common::{Gw, PASSWORD};

const TNS: &str = "urn:smsgate:soap:v1";
const SOAP11: &str = "http://schemas.xmlsoap.org/soap/envelope/";
const WSSE: &str = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd";

/// The whole stack on a loopback port with two simulated modems, once they are ready.
async fn rig() -> Gw {
    let gw = common::start_with(|s| s.sim.count = 2, true).await;
    let root = principal(&gw.gateway, "root").await;
    wait_for(|| async {
        let modems = gw.gateway.modems(&root).await.unwrap();
        modems.len() == 2 && modems.iter().all(|m| m.up)
    })
    .await;
    gw
}

async fn principal(gateway: &Gateway, login: &str) -> Principal {
    Principal::of(&gateway.find_account_by_login(login).await.unwrap().unwrap())
}

async fn wait_for<F: Future<Output = bool>>(mut condition: impl FnMut() -> F) {
    for _ in 0..200 {
        if condition().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("condition not met in 10 s");
}

/// How a call authenticates.
enum As<'a> {
    UsernameToken(&'a str),
    Bearer(&'a str),
}

struct Answer {
    status: u16,
    root: Element,
}

impl Answer {
    fn payload(&self) -> &Element {
        &self.root.children.last().unwrap().children[0]
    }

    fn fault_code(&self) -> Option<String> {
        find(&self.root, "SmsGateFault")
            .and_then(|f| f.child(TNS, "code"))
            .map(|c| c.text.clone())
    }

    fn texts(&self, path: &[&str]) -> Vec<String> {
        fn go(e: &Element, path: &[&str], out: &mut Vec<String>) {
            match path.split_first() {
                None => out.push(e.text.clone()),
                Some((first, rest)) => e.children_named(TNS, first).for_each(|c| go(c, rest, out)),
            }
        }
        let mut out = Vec::new();
        go(self.payload(), path, &mut out);
        out
    }
}

fn find<'a>(e: &'a Element, local: &str) -> Option<&'a Element> {
    if e.local == local {
        return Some(e);
    }
    e.children.iter().find_map(|c| find(c, local))
}

async fn call(rig: &Gw, who: As<'_>, payload: &str) -> Answer {
    let (header, authorization) = match who {
        As::UsernameToken(login) => (
            format!(
                r#"<w:Security xmlns:w="{WSSE}"><w:UsernameToken><w:Username>{login}</w:Username><w:Password>{PASSWORD}</w:Password></w:UsernameToken></w:Security>"#
            ),
            None,
        ),
        As::Bearer(token) => (String::new(), Some(format!("Bearer {token}"))),
    };
    let body = format!(
        r#"<s:Envelope xmlns:s="{SOAP11}"><s:Header>{header}</s:Header><s:Body>{payload}</s:Body></s:Envelope>"#
    );
    let mut request = rig
        .http()
        .post(rig.url("/soap/v1"))
        .header("content-type", "text/xml; charset=utf-8")
        .body(body);
    if let Some(value) = authorization {
        request = request.header("authorization", value);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let bytes = response.bytes().await.unwrap();
    let root =
        parse(&bytes, &Limits::SOAP).unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&bytes)));
    Answer { status, root }
}

fn op(name: &str, inner: &str) -> String {
    format!(r#"<{name} xmlns="{TNS}">{inner}</{name}>"#)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn soap_inside_the_gateway() {
    let rig = rig().await;
    let shop_login = "alice";

    // A client sends; the simulated network takes it.
    let sent = call(
        &rig,
        As::UsernameToken(shop_login),
        &op(
            "SendSms",
            "<text>Your order shipped</text><recipient>+48600100200</recipient><deliveryReport>true</deliveryReport>",
        ),
    )
    .await;
    assert_eq!(sent.status, 200, "{:?}", sent.root);
    let id = sent.texts(&["message", "id"]).remove(0);
    wait_for(|| async {
        let status = call(
            &rig,
            As::UsernameToken(shop_login),
            &op("GetMessageStatus", &format!("<id>{id}</id>")),
        )
        .await
        .texts(&["message", "status"]);
        status == ["sent"] || status == ["delivered"]
    })
    .await;

    // Another client cannot see or cancel it: not found, as if it did not exist.
    for operation in ["GetMessageStatus", "CancelMessage"] {
        let answer = call(
            &rig,
            As::UsernameToken("bob"),
            &op(operation, &format!("<id>{id}</id>")),
        )
        .await;
        assert_eq!(answer.fault_code().as_deref(), Some("not-found"), "{operation}");
    }
    let theirs = call(&rig, As::UsernameToken("bob"), &op("ListMessages", "")).await;
    assert!(theirs.texts(&["message", "id"]).is_empty());

    // The recipient answers; the reply lands in the inbox (visible to the admin at least).
    let control = rig.gateway.sim_control().await.unwrap();
    control.inject_sms(0, "+48600100200", "Thanks, received").unwrap();
    let mut inbox = None;
    for _ in 0..200 {
        let page = call(
            &rig,
            As::UsernameToken("root"),
            &op("GetInbox", "<originator>+48600100200</originator>"),
        )
        .await;
        if !page.texts(&["item", "id"]).is_empty() {
            inbox = Some(page);
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let inbox = inbox.expect("the injected SMS never reached the inbox");
    assert_eq!(inbox.texts(&["item", "text"]), ["Thanks, received"]);
    assert_eq!(inbox.texts(&["item", "complete"]), ["true"]);
    let inbox_id = inbox.texts(&["item", "id"]).remove(0);

    // DeleteInbox is all or nothing: one unknown id deletes none.
    let unknown = uuid::Uuid::now_v7();
    let refused = call(
        &rig,
        As::UsernameToken("root"),
        &op("DeleteInbox", &format!("<id>{inbox_id}</id><id>{unknown}</id>")),
    )
    .await;
    assert_eq!(refused.fault_code().as_deref(), Some("not-found"));
    let still = call(&rig, As::UsernameToken("root"), &op("GetInbox", "")).await;
    assert!(still.texts(&["item", "id"]).contains(&inbox_id));
    let deleted = call(
        &rig,
        As::UsernameToken("root"),
        &op("DeleteInbox", &format!("<id>{inbox_id}</id>")),
    )
    .await;
    assert_eq!(deleted.texts(&["deleted"]), ["1"]);
    let gone = call(&rig, As::UsernameToken("root"), &op("GetInbox", "")).await;
    assert!(!gone.texts(&["item", "id"]).contains(&inbox_id));

    // USSD: operators only.
    let modems = call(&rig, As::UsernameToken(shop_login), &op("ListModems", "")).await;
    let modem = modems.texts(&["modem", "id"]).remove(0);
    let ussd = op("SendUssd", &format!("<modem>{modem}</modem><code>*100#</code>"));
    let refused = call(&rig, As::UsernameToken(shop_login), &ussd).await;
    assert_eq!(refused.fault_code().as_deref(), Some("forbidden"));
    let reply = call(&rig, As::UsernameToken("root"), &ussd).await;
    assert_eq!(reply.status, 200, "{:?}", reply.root);
    assert!(!reply.texts(&["reply"])[0].is_empty());

    // An API token works as Bearer, within its scopes only.
    let shop = principal(&rig.gateway, shop_login).await;
    let secret = token::generate();
    rig.gateway
        .create_token(
            &shop,
            NewToken {
                token_hash: secret.hash.clone(),
                name: "read-only".into(),
                scopes: "messages:read".into(),
                expires_at: None,
            },
        )
        .await
        .unwrap();
    let read = call(
        &rig,
        As::Bearer(&secret.plaintext),
        &op("GetMessageStatus", &format!("<id>{id}</id>")),
    )
    .await;
    assert_eq!(read.texts(&["message", "id"]), [id]);
    let send = call(
        &rig,
        As::Bearer(&secret.plaintext),
        &op("SendSms", "<text>x</text><recipient>+48600100200</recipient>"),
    )
    .await;
    assert_eq!(send.fault_code().as_deref(), Some("forbidden"));
    let account = call(&rig, As::Bearer(&secret.plaintext), &op("GetAccountInfo", "")).await;
    assert_eq!(account.texts(&["account", "login"]), [shop_login]);
    assert_eq!(account.texts(&["account", "role"]), ["client"]);

    // The WSDL names the address the client used; bodies over `http.max_body_bytes` are refused.
    let wsdl = rig
        .http()
        .get(rig.url("/soap/v1?wsdl"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(wsdl.contains(&format!(r#"location="{}/soap/v1""#, rig.base)));
    let big = call(
        &rig,
        As::UsernameToken(shop_login),
        &op(
            "SendSms",
            &format!(
                "<text>{}</text><recipient>+48600100200</recipient>",
                "x".repeat(common::MAX_BODY)
            ),
        ),
    )
    .await;
    assert_eq!(big.status, 413);
    assert_eq!(big.fault_code().as_deref(), Some("too-large"));

    rig.gateway.shutdown().await;
}

#[tokio::test]
async fn soap_calls_count_against_the_account_request_rate() {
    let gw = common::start_with(|s| s.http.requests_per_second = 1, false).await;
    let mut limited = None;
    for _ in 0..10 {
        let answer = call(&gw, As::UsernameToken("alice"), &op("GetAccountInfo", "")).await;
        if answer.fault_code().as_deref() == Some("rate-limited") {
            limited = Some(answer);
            break;
        }
        assert_eq!(answer.status, 200);
    }
    let limited = limited.expect("ten calls at once stayed under 1 request per second");
    assert_eq!(
        limited.status, 500,
        "SOAP 1.1 faults travel as 500 (WS-I BP R1126)"
    );
    let retry_after = find(&limited.root, "retryAfter").map(|e| e.text.clone());
    assert!(retry_after.is_some_and(|s| s.parse::<u64>().is_ok_and(|n| n >= 1)));
    // Another account has its own budget.
    let other = call(&gw, As::UsernameToken("bob"), &op("GetAccountInfo", "")).await;
    assert_eq!(other.status, 200);
}

/// The actions audited for account `id`, as `action:actor`.
async fn audited(gw: &Gw, id: smsgate::app::AccountId) -> Vec<String> {
    gw.gateway
        .store()
        .audit_log(None, 1000)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.account_id == Some(id))
        .map(|e| {
            format!(
                "{}:{}:{}",
                e.action,
                e.actor.unwrap_or_default(),
                e.source_ip.unwrap_or_default()
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn account_deletion_with_a_grace_period_is_pending_until_cancelled() {
    let gw = common::start_with(|s| s.retention.deletion_grace_hours = 48, false).await;
    let carol = principal(&gw.gateway, "carol").await;
    let bob = principal(&gw.gateway, "bob").await;
    let request = op("RequestAccountDeletion", "");
    let status = op("GetAccountDeletion", "");
    let cancel = op("CancelAccountDeletion", "");

    let none = call(&gw, As::UsernameToken("carol"), &status).await;
    assert_eq!(none.status, 200, "{:?}", none.root);
    assert_eq!(none.texts(&["status"]), ["none"]);
    assert_eq!(none.texts(&["accountId"]), [carol.account_id.0.to_string()]);
    assert!(none.texts(&["executeAfter"]).is_empty());

    let asked = call(&gw, As::UsernameToken("carol"), &request).await;
    assert_eq!(asked.status, 200, "{:?}", asked.root);
    assert_eq!(asked.texts(&["status"]), ["scheduled"]);
    let requested_at = time::OffsetDateTime::parse(
        &asked.texts(&["requestedAt"])[0],
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap();
    let execute_after = time::OffsetDateTime::parse(
        &asked.texts(&["executeAfter"])[0],
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap();
    assert_eq!(execute_after - requested_at, time::Duration::hours(48));

    let pending = call(&gw, As::UsernameToken("carol"), &status).await;
    assert_eq!(pending.texts(&["status"]), ["pending"]);
    assert_eq!(pending.texts(&["requestedBy"]), ["carol"]);
    assert_eq!(pending.texts(&["sourceIp"]), ["127.0.0.1"]);
    assert_eq!(pending.texts(&["executeAfter"]), asked.texts(&["executeAfter"]));

    // Another client can neither see, cancel nor request it: forbidden, as in REST.
    for name in [
        "GetAccountDeletion",
        "CancelAccountDeletion",
        "RequestAccountDeletion",
    ] {
        let other = call(
            &gw,
            As::UsernameToken("bob"),
            &op(name, &format!("<accountId>{}</accountId>", carol.account_id.0)),
        )
        .await;
        assert_eq!(other.fault_code().as_deref(), Some("forbidden"), "{name}");
    }
    // An admin sees it by account id.
    let by_admin = call(
        &gw,
        As::UsernameToken("root"),
        &op(
            "GetAccountDeletion",
            &format!("<accountId>{}</accountId>", carol.account_id.0),
        ),
    )
    .await;
    assert_eq!(by_admin.texts(&["status"]), ["pending"]);

    // An API token cannot ask for or withdraw its account's erasure (a password login is needed).
    let secret = token::generate();
    gw.gateway
        .create_token(
            &carol,
            NewToken {
                token_hash: secret.hash.clone(),
                name: "all".into(),
                scopes: "messages:read".into(),
                expires_at: None,
            },
        )
        .await
        .unwrap();
    for payload in [&request, &cancel] {
        let refused = call(&gw, As::Bearer(&secret.plaintext), payload).await;
        assert_eq!(refused.fault_code().as_deref(), Some("forbidden"), "{payload}");
    }
    let seen = call(&gw, As::Bearer(&secret.plaintext), &status).await;
    assert_eq!(seen.texts(&["status"]), ["pending"]);

    // Not due yet: nothing runs; the client withdraws it.
    assert_eq!(gw.gateway.run_due_deletions().await.unwrap(), 0);
    let cancelled = call(&gw, As::UsernameToken("carol"), &cancel).await;
    assert_eq!(cancelled.status, 200, "{:?}", cancelled.root);
    assert_eq!(cancelled.texts(&["accountId"]), [carol.account_id.0.to_string()]);
    let after = call(&gw, As::UsernameToken("carol"), &status).await;
    assert_eq!(after.texts(&["status"]), ["none"]);
    let again = call(&gw, As::UsernameToken("carol"), &cancel).await;
    assert_eq!(again.fault_code().as_deref(), Some("not-found"));
    let still = call(&gw, As::UsernameToken("carol"), &op("GetAccountInfo", "")).await;
    assert_eq!(still.texts(&["account", "login"]), ["carol"]);

    let actions = audited(&gw, carol.account_id).await;
    for expected in [
        "account.deletion_requested:carol:127.0.0.1",
        "account.deletion_cancelled:carol:127.0.0.1",
    ] {
        assert!(
            actions.iter().any(|a| a == expected),
            "{expected} missing in {actions:?}"
        );
    }
    assert!(
        audited(&gw, bob.account_id)
            .await
            .iter()
            .all(|a| !a.contains("deletion"))
    );
    gw.gateway.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn account_deletion_without_a_grace_period_erases_at_once() {
    let gw = common::start_with(|s| s.retention.deletion_grace_hours = 0, false).await;
    let alice = principal(&gw.gateway, "alice").await;
    let sent = call(
        &gw,
        As::UsernameToken("alice"),
        &op("SendSms", "<text>hello</text><recipient>+48600100200</recipient>"),
    )
    .await;
    assert_eq!(sent.status, 200, "{:?}", sent.root);

    // A client cannot erase another account, even without a grace period.
    let bob = principal(&gw.gateway, "bob").await;
    let refused = call(
        &gw,
        As::UsernameToken("alice"),
        &op(
            "RequestAccountDeletion",
            &format!("<accountId>{}</accountId>", bob.account_id.0),
        ),
    )
    .await;
    assert_eq!(refused.fault_code().as_deref(), Some("forbidden"));
    assert!(gw.gateway.find_account(bob.account_id).await.unwrap().is_some());

    let erased = call(&gw, As::UsernameToken("alice"), &op("RequestAccountDeletion", "")).await;
    assert_eq!(erased.status, 200, "{:?}", erased.root);
    assert_eq!(erased.texts(&["status"]), ["erased"]);
    assert_eq!(erased.texts(&["requestedAt"]), erased.texts(&["executeAfter"]));
    assert!(gw.gateway.find_account(alice.account_id).await.unwrap().is_none());

    // The account is gone: its credentials no longer work (SOAP or REST).
    let after = call(&gw, As::UsernameToken("alice"), &op("GetAccountInfo", "")).await;
    assert_eq!(after.fault_code().as_deref(), Some("unauthorized"));
    let rest = gw
        .http()
        .get(gw.url("/api/v1/messages"))
        .basic_auth("alice", Some(PASSWORD))
        .send()
        .await
        .unwrap();
    assert_eq!(rest.status(), 401);
    let actions = audited(&gw, alice.account_id).await;
    assert!(
        actions
            .iter()
            .any(|a| a == "account.deletion_requested:alice:127.0.0.1"),
        "{actions:?}"
    );
    assert!(
        actions.iter().any(|a| a.starts_with("account.erased:")),
        "{actions:?}"
    );

    // The last admin cannot erase itself: the same conflict as REST.
    let last = call(&gw, As::UsernameToken("root"), &op("RequestAccountDeletion", "")).await;
    assert_eq!(last.fault_code().as_deref(), Some("conflict"));
    gw.gateway.shutdown().await;
}
