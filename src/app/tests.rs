//! Application-layer tests: validation naming fields, idempotency, IDOR, roles, inbound events.
use super::*;
use crate::config::RouteRule;
use crate::modem::{ModemEvent, ModemId, ModemPhase, ModemState};
use crate::pdu;
use crate::store::Scope;

async fn gateway(settings: impl FnOnce(&mut Settings)) -> (tempfile::TempDir, Gateway) {
    let dir = tempfile::tempdir().unwrap();
    let mut s = Settings::default_with_data_dir(dir.path());
    settings(&mut s);
    let (gw, _) = Gateway::open(s).await.unwrap();
    (dir, gw)
}

async fn principal(gw: &Gateway, login: &str, role: Role) -> Principal {
    let a = gw.create_account(None, login, "hash".into(), role).await.unwrap();
    Principal::of(&a)
}

fn req(recipients: &[&str], text: &str) -> SubmitRequest {
    SubmitRequest::new(recipients.iter().map(|s| s.to_string()).collect(), text)
}

#[tokio::test]
async fn submit_validation_errors_name_the_field() {
    let (_d, gw) = gateway(|_| {}).await;
    let p = principal(&gw, "shop", Role::Client).await;
    async fn check(gw: &Gateway, p: &Principal, r: SubmitRequest, key: Option<&str>, field: &str) {
        match gw.submit(p, r.clone(), key).await {
            Err(AppError::Validation { field: f, message }) => {
                assert_eq!(f, field, "request {r:?} failed with {message:?}")
            }
            other => panic!("request {r:?} should fail on {field}, got {other:?}"),
        }
    }
    check(&gw, &p, req(&[], "hi"), None, "recipients").await;
    check(&gw, &p, req(&["+48600100200"], ""), None, "text").await;
    check(
        &gw,
        &p,
        req(&["+48600100200", "hello"], "hi"),
        None,
        "recipients[1]",
    )
    .await;
    check(
        &gw,
        &p,
        req(&["+48600100200", "+1234"], "hi"),
        None,
        "recipients[1]",
    )
    .await;
    check(
        &gw,
        &p,
        req(&["+48600100200"], &"x".repeat(153 * 10 + 1)),
        None,
        "text",
    )
    .await;
    check(
        &gw,
        &p,
        SubmitRequest {
            encoding: EncodingChoice::Gsm7,
            ..req(&["+48600100200"], "emoji 😀")
        },
        None,
        "text",
    )
    .await;
    check(
        &gw,
        &p,
        SubmitRequest {
            priority: 11,
            ..req(&["+48600100200"], "hi")
        },
        None,
        "priority",
    )
    .await;
    check(
        &gw,
        &p,
        SubmitRequest {
            group: Some("nope".into()),
            ..req(&["+48600100200"], "hi")
        },
        None,
        "group",
    )
    .await;
    check(
        &gw,
        &p,
        SubmitRequest {
            validity_seconds: Some(10),
            ..req(&["+48600100200"], "hi")
        },
        None,
        "validity_seconds",
    )
    .await;
    check(
        &gw,
        &p,
        SubmitRequest {
            client_ref: Some("r".repeat(300)),
            ..req(&["+48600100200"], "hi")
        },
        None,
        "client_ref",
    )
    .await;
    let far = time::OffsetDateTime::now_utc() + time::Duration::days(400);
    check(
        &gw,
        &p,
        SubmitRequest {
            send_at: Some(far),
            ..req(&["+48600100200"], "hi")
        },
        None,
        "send_at",
    )
    .await;
    check(
        &gw,
        &p,
        req(&["+48600100200"], "hi"),
        Some("has space"),
        "Idempotency-Key",
    )
    .await;
    check(&gw, &p, req(&["+48600100200"], "hi"), Some(""), "Idempotency-Key").await;
    // Nothing of the refused requests was stored.
    let page = gw.list_messages(&p, MessageFilter::default()).await.unwrap();
    assert!(page.items.is_empty());
}

#[tokio::test]
async fn submit_encodes_and_stores_before_answering() {
    let (_d, gw) = gateway(|_| {}).await;
    let p = principal(&gw, "shop", Role::Client).await;
    let long = "Zażółć gęślą jaźń 😀 ".repeat(20);
    let cases: &[(&str, TextEncoding, u32)] = &[
        ("Hello", TextEncoding::Gsm7, 1),
        ("Zażółć gęślą jaźń", TextEncoding::Ucs2, 1),
        (&long, TextEncoding::Ucs2, 7),
        (&"a".repeat(500), TextEncoding::Gsm7, 4),
    ];
    for (text, encoding, parts) in cases {
        let msgs = gw.submit(&p, req(&["600100200"], text), None).await.unwrap();
        assert_eq!(msgs.len(), 1);
        let m = &msgs[0];
        assert_eq!(
            (m.encoding, m.parts, m.status),
            (*encoding, *parts, MessageStatus::Queued),
            "{text}"
        );
        assert_eq!(m.recipient, "+48600100200");
        // On disk, with its parts.
        let d = gw.message(&p, m.id).await.unwrap();
        assert_eq!(d.part_list.len() as u32, *parts);
        assert_eq!(d.message.text, *text);
    }
    let translit = SubmitRequest {
        encoding: EncodingChoice::Gsm7Transliterate,
        ..req(&["600100200"], "Zażółć")
    };
    assert_eq!(
        gw.submit(&p, translit, None).await.unwrap()[0].encoding,
        TextEncoding::Gsm7
    );
    assert_eq!(gw.dispatcher().queued(), 5);
}

#[tokio::test]
async fn one_request_many_recipients_and_routing() {
    let (_d, gw) = gateway(|s| {
        s.dispatch.routes = vec![
            RouteRule {
                account: Some("bank".into()),
                prefix: None,
                group: "otp".into(),
            },
            RouteRule {
                account: None,
                prefix: Some("+44".into()),
                group: "uk".into(),
            },
        ];
    })
    .await;
    let bank = principal(&gw, "bank", Role::Client).await;
    let shop = principal(&gw, "shop", Role::Client).await;
    let msgs = gw
        .submit(&bank, req(&["+48600100200", "+447700900123"], "code 1234"), None)
        .await
        .unwrap();
    assert_eq!(
        msgs.iter().map(|m| m.group.as_deref()).collect::<Vec<_>>(),
        vec![Some("otp"), Some("otp")]
    );
    let msgs = gw
        .submit(&shop, req(&["+48600100200", "+447700900123"], "sale"), None)
        .await
        .unwrap();
    assert_eq!(
        msgs.iter().map(|m| m.group.as_deref()).collect::<Vec<_>>(),
        vec![None, Some("uk")]
    );
    let explicit = SubmitRequest {
        group: Some("otp".into()),
        ..req(&["+447700900123"], "x")
    };
    assert_eq!(
        gw.submit(&shop, explicit, None).await.unwrap()[0]
            .group
            .as_deref(),
        Some("otp")
    );
}

#[tokio::test]
async fn idempotency_key_returns_the_same_messages() {
    let (_d, gw) = gateway(|_| {}).await;
    let p = principal(&gw, "shop", Role::Client).await;
    let r = req(&["+48600100200", "+48600100201"], "once");
    let first = gw.submit(&p, r.clone(), Some("order-17")).await.unwrap();
    let again = gw.submit(&p, r.clone(), Some("order-17")).await.unwrap();
    assert_eq!(
        first.iter().map(|m| m.id).collect::<Vec<_>>(),
        again.iter().map(|m| m.id).collect::<Vec<_>>()
    );
    assert_eq!(gw.dispatcher().queued(), 2, "the replay queued nothing");
    let other = gw
        .submit(&p, req(&["+48600100200"], "different"), Some("order-17"))
        .await;
    assert!(matches!(other, Err(AppError::Conflict(_))), "{other:?}");
    // Another account may use the same key independently.
    let q = principal(&gw, "other", Role::Client).await;
    let theirs = gw.submit(&q, r, Some("order-17")).await.unwrap();
    assert_ne!(theirs[0].id, first[0].id);
}

#[tokio::test]
async fn clients_cannot_reach_other_accounts_data() {
    let (_d, gw) = gateway(|_| {}).await;
    let a = principal(&gw, "a", Role::Client).await;
    let b = principal(&gw, "b", Role::Client).await;
    let admin = principal(&gw, "root", Role::Admin).await;
    let m = gw
        .submit(&a, req(&["+48600100200"], "mine"), None)
        .await
        .unwrap()
        .remove(0);
    assert_eq!(
        gw.message(&b, m.id).await.unwrap_err(),
        AppError::NotFound("message")
    );
    assert_eq!(
        gw.cancel_message(&b, m.id).await.unwrap_err(),
        AppError::NotFound("message")
    );
    assert!(
        gw.list_messages(&b, MessageFilter::default())
            .await
            .unwrap()
            .items
            .is_empty()
    );
    assert_eq!(gw.message(&admin, m.id).await.unwrap().message.id, m.id);
    assert_eq!(
        gw.message(&a, m.id).await.unwrap().message.status,
        MessageStatus::Queued
    );
    // The owner cancels; a second cancel is a conflict, and the dispatcher dropped it.
    assert_eq!(
        gw.cancel_message(&a, m.id).await.unwrap().status,
        MessageStatus::Cancelled
    );
    assert!(matches!(
        gw.cancel_message(&a, m.id).await,
        Err(AppError::Conflict(_))
    ));
    assert_eq!(gw.dispatcher().queued(), 0);
    // Inbox: an SMS owned by a is invisible to b.
    let item = gw
        .store()
        .store_inbox(
            store::NewInbox {
                id: InboxId::new(),
                account_id: Some(a.account_id),
                originator: "+48600100200".into(),
                text: "reply".into(),
                modem: "m".into(),
                received_at: 1,
                parts: 1,
                incomplete: false,
            },
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(
        gw.inbox_item(&b, item.id).await.unwrap_err(),
        AppError::NotFound("inbox message")
    );
    assert_eq!(
        gw.delete_inbox(&b, item.id).await.unwrap_err(),
        AppError::NotFound("inbox message")
    );
    assert_eq!(gw.inbox(&a, InboxFilter::default()).await.unwrap().items.len(), 1);
    assert!(
        gw.inbox(&b, InboxFilter::default())
            .await
            .unwrap()
            .items
            .is_empty()
    );
    // Tokens and webhooks are per account too.
    let t = gw
        .create_token(
            &a,
            NewToken {
                token_hash: "h1".into(),
                name: "ci".into(),
                scopes: String::new(),
                expires_at: None,
            },
        )
        .await
        .unwrap();
    assert_eq!(
        gw.revoke_token(&b, t.id).await.unwrap_err(),
        AppError::NotFound("token")
    );
    let w = gw
        .create_webhook(
            &a,
            NewWebhook {
                url: "https://x.test/h".into(),
                secret: "0123456789abcdef".into(),
                events: vec![EventType::SmsSent],
            },
        )
        .await
        .unwrap();
    assert_eq!(
        gw.delete_webhook(&b, w.id).await.unwrap_err(),
        AppError::NotFound("webhook")
    );
    assert!(gw.webhooks(&b).await.unwrap().is_empty());
}

#[tokio::test]
async fn roles_gate_account_administration() {
    let (_d, gw) = gateway(|_| {}).await;
    let admin = principal(&gw, "root", Role::Admin).await;
    let tech = principal(&gw, "tech", Role::Technician).await;
    let client = principal(&gw, "c", Role::Client).await;
    assert!(matches!(
        gw.create_account(Some(&client), "x", "h".into(), Role::Admin)
            .await,
        Err(AppError::Forbidden(_))
    ));
    assert!(matches!(
        gw.create_account(Some(&tech), "x", "h".into(), Role::Client)
            .await,
        Err(AppError::Forbidden(_))
    ));
    assert!(matches!(
        gw.create_account(Some(&admin), "bad login", "h".into(), Role::Client).await,
        Err(AppError::Validation { field, .. }) if field == "login"
    ));
    let created = gw
        .create_account(Some(&admin), "new", "h".into(), Role::Client)
        .await
        .unwrap();
    assert!(matches!(
        gw.create_account(Some(&admin), "new", "h".into(), Role::Client)
            .await,
        Err(AppError::Conflict(_))
    ));
    assert!(matches!(gw.accounts(&client).await, Err(AppError::Forbidden(_))));
    assert_eq!(gw.accounts(&admin).await.unwrap().len(), 4);
    assert!(matches!(
        gw.set_account_disabled(&client, created.id, true).await,
        Err(AppError::Forbidden(_))
    ));
    gw.set_account_disabled(&admin, created.id, true).await.unwrap();
    assert!(gw.find_account(created.id).await.unwrap().unwrap().disabled);
    assert!(matches!(
        gw.audit_log(&client, None, 10).await,
        Err(AppError::Forbidden(_))
    ));
    let log = gw.audit_log(&admin, None, 100).await.unwrap();
    assert!(
        log.iter()
            .any(|e| e.action == "account.disabled" && e.actor.as_deref() == Some("root"))
    );
    // A client may delete its own account (and all its data).
    gw.delete_account(&client, client.account_id).await.unwrap();
    assert!(gw.find_account_by_login("c").await.unwrap().is_none());
}

fn deliver_pdu(from: &str, text: &str, reference: u16) -> Vec<Vec<u8>> {
    let mut opts = pdu::DeliverOptions::new(
        pdu::Address::parse(from).unwrap(),
        time::macros::datetime!(2026-01-02 03:04:05 UTC),
    );
    opts.text.concat_ref = reference;
    pdu::encode_deliver(text, &opts)
        .unwrap()
        .into_iter()
        .map(|p| p.pdu)
        .collect()
}

#[tokio::test]
async fn received_sms_are_reassembled_stored_then_acknowledged() {
    let (_d, gw) = gateway(|_| {}).await;
    let a = principal(&gw, "a", Role::Client).await;
    gw.create_webhook(
        &a,
        NewWebhook {
            url: "https://x.test/h".into(),
            secret: "0123456789abcdef".into(),
            events: vec![EventType::SmsReceived],
        },
    )
    .await
    .unwrap();
    // a wrote to this number before: the reply is a's.
    gw.submit(&a, req(&["+48600100200"], "question"), None)
        .await
        .unwrap();
    let modem = ModemId("imei-1".into());
    let long = "odpowiedź ".repeat(20);
    let parts = deliver_pdu("+48600100200", &long, 77);
    assert_eq!(parts.len(), 3);
    let mut results = Vec::new();
    for p in parts.into_iter().rev() {
        let (ack, acked) = tokio::sync::oneshot::channel();
        results.push(
            gw.handle_event(ModemEvent::Received {
                modem: modem.clone(),
                pdu: p,
                ack,
            })
            .await,
        );
        assert!(acked.await.is_ok(), "every part is acknowledged once stored");
    }
    assert_eq!(&results[..2], &[Inbound::Fragment, Inbound::Fragment]);
    let Inbound::Stored(id) = results[2] else {
        panic!("{results:?}")
    };
    let item = gw.inbox_item(&a, id).await.unwrap();
    assert_eq!(
        (item.text.as_str(), item.parts, item.incomplete),
        (long.as_str(), 3, false)
    );
    assert_eq!(item.originator, "+48600100200");
    assert!(gw.store().inbox_fragments().await.unwrap().is_empty());
    let due = gw.due_webhooks(i64::MAX, 10).await.unwrap();
    assert_eq!(due.len(), 1);
    assert_eq!(due[0].event_type, EventType::SmsReceived);
    // A single-part SMS from an unknown number belongs to no client; operators see it.
    let (ack, _acked) = tokio::sync::oneshot::channel();
    let single = deliver_pdu("+48700000000", "hello", 0).remove(0);
    let Inbound::Stored(id) = gw
        .handle_event(ModemEvent::Received {
            modem: modem.clone(),
            pdu: single,
            ack,
        })
        .await
    else {
        panic!()
    };
    assert!(gw.inbox_item(&a, id).await.is_err());
    let admin = principal(&gw, "root", Role::Admin).await;
    assert_eq!(gw.inbox_item(&admin, id).await.unwrap().text, "hello");
    // Garbage is kept visibly, not dropped.
    let (ack, _acked) = tokio::sync::oneshot::channel();
    let Inbound::Stored(id) = gw
        .handle_event(ModemEvent::Received {
            modem,
            pdu: vec![0xFF, 0x01],
            ack,
        })
        .await
    else {
        panic!()
    };
    assert!(
        gw.inbox_item(&admin, id)
            .await
            .unwrap()
            .text
            .starts_with("[undecodable PDU")
    );
}

#[tokio::test]
async fn fragments_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let settings = Settings::default_with_data_dir(dir.path());
    let parts = deliver_pdu("+48600100200", &"x".repeat(200), 9);
    let modem = ModemId("imei-1".into());
    {
        let (gw, _) = Gateway::open(settings.clone()).await.unwrap();
        let (ack, _a) = tokio::sync::oneshot::channel();
        let first = parts[0].clone();
        assert_eq!(
            gw.handle_event(ModemEvent::Received {
                modem: modem.clone(),
                pdu: first,
                ack
            })
            .await,
            Inbound::Fragment
        );
        gw.shutdown().await;
    }
    let (gw, _) = Gateway::open(settings).await.unwrap();
    // The event loop reloads stored fragments; give it a moment to run.
    for _ in 0..100 {
        if lock_pending(&gw) == 1 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    let (ack, _a) = tokio::sync::oneshot::channel();
    let second = parts[1].clone();
    let Inbound::Stored(id) = gw
        .handle_event(ModemEvent::Received {
            modem,
            pdu: second,
            ack,
        })
        .await
    else {
        panic!("the restart lost the first part")
    };
    let admin = principal(&gw, "root", Role::Admin).await;
    assert_eq!(gw.inbox_item(&admin, id).await.unwrap().text, "x".repeat(200));
}

fn lock_pending(gw: &Gateway) -> usize {
    gw.pending_fragments()
}

#[tokio::test]
async fn modem_state_is_recorded_and_redacted_for_clients() {
    let (_d, gw) = gateway(|_| {}).await;
    let admin = principal(&gw, "root", Role::Admin).await;
    let client = principal(&gw, "c", Role::Client).await;
    let mut state = ModemState::new(ModemId("351234".into()), "/dev/ttyUSB0".into());
    state.phase = ModemPhase::Ready;
    state.imsi = Some("260011234567890".into());
    assert_eq!(gw.handle_event(ModemEvent::State(state)).await, Inbound::State);
    let seen = gw.modem(&admin, "351234").await.unwrap();
    assert!(seen.up);
    assert_eq!(seen.state["imsi"], "260011234567890");
    let redacted = gw.modem(&client, "351234").await.unwrap();
    assert!(redacted.state.get("imsi").is_none());
    assert_eq!(gw.modems(&client).await.unwrap().len(), 1);
    assert_eq!(
        gw.modem(&client, "nope").await.unwrap_err(),
        AppError::NotFound("modem")
    );
    let _ = Scope::All;
}

#[tokio::test]
async fn a_client_exports_its_own_data_only() {
    let (_d, gw) = gateway(|_| {}).await;
    let a = principal(&gw, "a", Role::Client).await;
    let b = principal(&gw, "b", Role::Client).await;
    gw.submit(&a, req(&["+48600100200", "+48600100201"], "mine"), None)
        .await
        .unwrap();
    gw.submit(&b, req(&["+48600100202"], "theirs"), None)
        .await
        .unwrap();
    let export = gw.export_account(&a, a.account_id).await.unwrap();
    assert_eq!(export.account.login, "a");
    assert_eq!(export.messages.len(), 2);
    assert!(
        export
            .messages
            .iter()
            .all(|m| m.message.account_id == a.account_id && !m.part_list.is_empty())
    );
    let json = serde_json::to_value(&export).unwrap();
    assert!(
        json["account"].get("password_hash").is_none(),
        "no secrets in the export"
    );
    assert!(matches!(
        gw.export_account(&a, b.account_id).await,
        Err(AppError::Forbidden(_))
    ));
    assert_eq!(
        gw.purge_expired_data().await.unwrap(),
        crate::store::Purged::default()
    );
}

/// Hundreds of modems coming up at once change state faster than state events are recorded, and actors
/// never block on state events (the channel drops what does not fit). Every modem must still end up
/// recorded `up` and ready in the dispatcher, within seconds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bank_of_256_modems_comes_up_and_is_recorded() {
    const MODEMS: usize = 256;
    let dir = tempfile::tempdir().unwrap();
    let mut s = Settings::default_with_data_dir(dir.path());
    s.sim.count = MODEMS as u32;
    let (gw, handles) = Gateway::start(s, true).await.unwrap();
    assert_eq!(handles.sim_links.len(), MODEMS);
    let admin = principal(&gw, "root", Role::Admin).await;
    let started = std::time::Instant::now();
    let limit = Duration::from_secs(60);
    loop {
        let modems = gw.modems(&admin).await.unwrap();
        let up = modems.iter().filter(|m| m.up).count();
        if up == MODEMS {
            break;
        }
        assert!(
            started.elapsed() < limit,
            "{up} of {MODEMS} modems recorded up after {limit:?} ({} rows)",
            modems.len()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    gw.shutdown().await;
}

/// Every send bumps a modem's counters; those changes alone are recorded at most every few seconds per
/// modem (the latest value wins), while a phase change is recorded at once.
#[tokio::test(start_paused = true)]
async fn counter_only_modem_changes_are_recorded_at_most_every_few_seconds() {
    let (_d, gw) = gateway(|_| {}).await;
    let admin = principal(&gw, "root", Role::Admin).await;
    let sink = gw.event_sink();
    let recorded = |gw: &Gateway, admin: &Principal| {
        let (gw, admin) = (gw.clone(), admin.clone());
        async move {
            gw.modem(&admin, "351234")
                .await
                .ok()
                .map(|m| (m.up, m.state["sent_parts"].as_u64().unwrap_or(0)))
        }
    };
    let mut state = ModemState::new(ModemId("351234".into()), "/dev/ttyUSB0".into());
    state.phase = ModemPhase::Ready;
    sink.send(ModemEvent::State(state.clone())).await.unwrap();
    while recorded(&gw, &admin).await != Some((true, 0)) {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    for sent in 1..=50 {
        state.sent_parts = sent;
        sink.send(ModemEvent::State(state.clone())).await.unwrap();
    }
    let sent_at = tokio::time::Instant::now();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(recorded(&gw, &admin).await, Some((true, 0)), "counters wait");
    while recorded(&gw, &admin).await != Some((true, 50)) {
        assert!(
            sent_at.elapsed() < Duration::from_secs(30),
            "latest counters never recorded"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let waited = sent_at.elapsed();
    assert!(
        waited >= super::events::COUNTERS_EVERY - Duration::from_secs(1),
        "{waited:?}"
    );
    state.sent_parts = 51;
    state.phase = ModemPhase::Recovering;
    sink.send(ModemEvent::State(state)).await.unwrap();
    let changed_at = tokio::time::Instant::now();
    while recorded(&gw, &admin).await != Some((false, 51)) {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(
        changed_at.elapsed() < Duration::from_secs(1),
        "a phase change at once"
    );
}

#[test]
fn counters_alone_are_told_apart() {
    let a = ModemState::new(ModemId("1".into()), "/dev/a".into());
    let mut b = a.clone();
    assert!(!super::events::only_counters_differ(&a, &b), "equal");
    b.sent_parts = 3;
    b.errors = 1;
    assert!(super::events::only_counters_differ(&a, &b));
    b.signal = Some(20);
    assert!(!super::events::only_counters_differ(&a, &b), "signal changed too");
}
