//! The gateway core end to end on simulated modems: `Gateway::start` with an in-process hw-sim bank
//! driven by the real modem actors over PTYs. Sends (ASCII, Polish, emoji, long), delivery reports,
//! an incoming multipart SMS into the inbox and the webhook outbox, modem state, USSD, a `+CMS ERROR`
//! fault failing over to the other modem, and a clean shutdown.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a test: a failed unwrap is a failed assertion

use std::time::{Duration, Instant};

use smsgate::app::{Gateway, InboxFilter, MessageStatus, NewWebhook, Principal, Role, SubmitRequest};
use smsgate::config::Settings;
use smsgate::store::{EventType, Scope};

async fn wait<T>(what: &str, limit: Duration, mut probe: impl AsyncFnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(v) = probe().await {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn wait_status(gw: &Gateway, id: smsgate::app::MessageId, status: MessageStatus) {
    wait(
        &format!("message {id} to be {status}"),
        Duration::from_secs(30),
        async || {
            let m = gw.store().message(Scope::All, id).await.unwrap().unwrap();
            (m.status == status).then_some(())
        },
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gateway_on_simulated_modems() {
    let dir = tempfile::tempdir().unwrap();
    let mut settings = Settings::default_with_data_dir(dir.path());
    settings.sim.count = 2;
    settings.dispatch.retry_base_seconds = 1;
    let (gw, handles) = Gateway::start(settings, true).await.unwrap();
    assert_eq!(handles.sim_links.len(), 2);
    let sim = gw.sim_control().await.expect("a simulated bank runs");
    let admin = Principal::of(
        &gw.create_account(None, "root", "h".into(), Role::Admin)
            .await
            .unwrap(),
    );
    let shop = Principal::of(
        &gw.create_account(None, "shop", "h".into(), Role::Client)
            .await
            .unwrap(),
    );
    gw.create_webhook(
        &shop,
        NewWebhook {
            url: "https://127.0.0.1:9/hook".into(),
            secret: "0123456789abcdef".into(),
            events: vec![
                EventType::SmsSent,
                EventType::SmsDelivered,
                EventType::SmsReceived,
            ],
        },
    )
    .await
    .unwrap();

    // Both modems come up, identified by IMEI.
    let modems = wait("two modems up", Duration::from_secs(30), async || {
        let m = gw.modems(&admin).await.unwrap();
        (m.iter().filter(|m| m.up).count() == 2).then_some(m)
    })
    .await;
    let imeis: Vec<String> = sim.modems().iter().map(|m| m.imei.clone()).collect();
    for m in &modems {
        assert!(imeis.contains(&m.id), "modem id {} is an IMEI of the bank", m.id);
    }

    // Sends of every kind, one with a delivery report.
    let long = "Zażółć gęślą jaźń, 😀! ".repeat(12);
    let texts = [
        "Hello from smsgate",
        "Zażółć gęślą jaźń",
        "emoji 😀👍",
        long.as_str(),
        &"x".repeat(500),
    ];
    let mut ids = Vec::new();
    for (i, text) in texts.iter().enumerate() {
        let req = SubmitRequest {
            delivery_report: i == 0,
            ..SubmitRequest::new(vec![format!("+4869900000{i}")], *text)
        };
        ids.push(gw.submit(&shop, req, None).await.unwrap()[0].id);
    }
    for id in &ids[1..] {
        wait_status(&gw, *id, MessageStatus::Sent).await;
    }
    wait_status(&gw, ids[0], MessageStatus::Delivered).await;
    let mut seen: Vec<(String, String)> = Vec::new();
    for i in 0..2 {
        for m in sim.sent_texts(i).unwrap() {
            seen.push((m.to, m.text));
        }
    }
    for (i, text) in texts.iter().enumerate() {
        let to = format!("+4869900000{i}");
        assert!(
            seen.iter().any(|(t, x)| *t == to && x == text),
            "{to} did not get {text:?}; the network saw {seen:?}"
        );
    }
    let d = gw.message(&shop, ids[3]).await.unwrap();
    assert!(
        d.part_list.len() > 1
            && d.part_list
                .iter()
                .all(|p| p.mr.is_some() && p.modem == d.message.modem)
    );

    // A reply from a number the shop wrote to lands in the shop's inbox, reassembled, with a webhook event.
    let reply = "Dziękuję, odpowiedź przyszła w kilku częściach. ".repeat(5);
    sim.inject_sms(0, "+48699000001", &reply).unwrap();
    let item = wait("the reply in the inbox", Duration::from_secs(30), async || {
        gw.inbox(&shop, InboxFilter::default())
            .await
            .unwrap()
            .items
            .into_iter()
            .next()
    })
    .await;
    assert_eq!(item.text, reply);
    assert!(item.parts > 1 && !item.incomplete);
    let due = gw.due_webhooks(i64::MAX, 100).await.unwrap();
    for kind in [
        EventType::SmsSent,
        EventType::SmsDelivered,
        EventType::SmsReceived,
    ] {
        assert!(
            due.iter().any(|d| d.event_type == kind),
            "no {kind} event in {due:?}"
        );
    }

    // USSD through a modem.
    let answer = gw.ussd(&admin, &modems[0].id, "*100#").await.unwrap();
    assert!(answer.text.is_some(), "{answer:?}");
    assert!(
        gw.ussd(&shop, &modems[0].id, "*100#").await.is_err(),
        "clients may not send USSD"
    );

    // A modem answering +CMS ERROR: the message fails over to the other one.
    sim.set_fault(0, hw_sim::Fault::CmsEvery { k: 1, code: 38 })
        .await
        .unwrap();
    let mut sent_after_fault = Vec::new();
    for i in 0..4 {
        let req = SubmitRequest::new(vec![format!("+4869911111{i}")], "after the fault");
        sent_after_fault.push(gw.submit(&shop, req, None).await.unwrap()[0].id);
    }
    let faulty = &sim.modems()[0].imei;
    for id in &sent_after_fault {
        wait_status(&gw, *id, MessageStatus::Sent).await;
        let m = gw.store().message(Scope::All, *id).await.unwrap().unwrap();
        assert_ne!(m.modem.as_ref(), Some(faulty), "sent through the failing modem");
    }
    gw.shutdown().await;
}
