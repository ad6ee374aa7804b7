//! The SOAP API inside the whole gateway, over real HTTPS on a loopback port (the shared harness of
//! `tests/common`): TLS acceptor, router, authentication, a gateway core with two simulated modems,
//! real accounts, password hashing and API tokens. Covers what
//! the zeep suite cannot reach from outside: client-role accounts (IDOR), an incoming SMS in the inbox,
//! atomic DeleteInbox, USSD refused to clients, and API token scopes.
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
