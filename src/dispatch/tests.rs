//! Dispatcher shell tests: the whole gateway core (store, dispatcher, events) with fake modems.
//! Timing tests run on tokio's paused clock; "does not wait for" tests use real time with short bounds.
use std::collections::VecDeque;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::Duration;

use tokio::time::Instant;

use super::*;
use crate::app::{Gateway, Principal, SubmitRequest};
use crate::config::Settings;
use crate::modem::{ModemEvent, PartSent, SendFuture};
use crate::store::{EventType, MessageStatus, NewWebhook, Role, Scope};

/// How a fake modem answers a send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Behaviour {
    Ok,
    Temporary,
    Permanent,
    Hang,
    /// The first part goes out, then a temporary error.
    FirstPartThenTemporary,
}

#[derive(Debug, Clone)]
struct Sent {
    at: Instant,
    parts: usize,
}

struct FakeModem {
    id: ModemId,
    script: Mutex<VecDeque<Behaviour>>,
    default: Behaviour,
    delay: Duration,
    sends: Mutex<Vec<Sent>>,
    mr: AtomicU8,
}

impl FakeModem {
    fn new(id: &str, default: Behaviour, delay: Duration) -> Arc<FakeModem> {
        Arc::new(FakeModem {
            id: ModemId(id.into()),
            script: Mutex::new(VecDeque::new()),
            default,
            delay,
            sends: Mutex::new(Vec::new()),
            mr: AtomicU8::new(0),
        })
    }

    fn sends(&self) -> Vec<Sent> {
        self.sends.lock().unwrap().clone()
    }
}

impl ModemSender for FakeModem {
    fn id(&self) -> ModemId {
        self.id.clone()
    }

    fn send<'a>(&'a self, request: SendRequest) -> SendFuture<'a> {
        Box::pin(async move {
            let behaviour = self.script.lock().unwrap().pop_front().unwrap_or(self.default);
            self.sends.lock().unwrap().push(Sent {
                at: Instant::now(),
                parts: request.parts.len(),
            });
            tokio::time::sleep(self.delay).await;
            let next_mr = || self.mr.fetch_add(1, Ordering::Relaxed);
            match behaviour {
                Behaviour::Ok => Ok((0..request.parts.len())
                    .map(|index| PartSent { index, mr: next_mr() })
                    .collect()),
                Behaviour::Temporary => Err(SendError::Temporary {
                    reason: "no network".into(),
                    sent: vec![],
                }),
                Behaviour::Permanent => Err(SendError::Permanent {
                    reason: "+CMS ERROR: 21".into(),
                    sent: vec![],
                }),
                Behaviour::Hang => std::future::pending().await,
                Behaviour::FirstPartThenTemporary => Err(SendError::Temporary {
                    reason: "timeout on part 2".into(),
                    sent: vec![PartSent {
                        index: 0,
                        mr: next_mr(),
                    }],
                }),
            }
        })
    }
}

const T0: i64 = 1_767_225_600_000; // 2026-01-01T00:00:00Z

async fn setup(configure: impl FnOnce(&mut Settings)) -> (tempfile::TempDir, Gateway, Principal) {
    let dir = tempfile::tempdir().unwrap();
    let mut s = Settings::default_with_data_dir(dir.path());
    configure(&mut s);
    let (gw, _) = Gateway::open_with_clock(s, Clock::tokio_at(T0)).await.unwrap();
    let account = gw
        .create_account(None, "shop", "h".into(), Role::Client)
        .await
        .unwrap();
    (dir, gw, Principal::of(&account))
}

async fn submit(gw: &Gateway, p: &Principal, req: SubmitRequest) -> Vec<MessageId> {
    gw.submit(p, req, None)
        .await
        .unwrap()
        .iter()
        .map(|m| m.id)
        .collect()
}

fn text_to(n: usize, text: &str) -> SubmitRequest {
    SubmitRequest::new((0..n).map(|i| format!("+4860010{i:04}")).collect(), text)
}

/// Polls until the message has `status`; panics after `limit` of *real* time (under paused time the
/// tokio clock jumps ahead whenever the runtime waits for the database thread, so it cannot bound
/// waits; timing assertions are lower bounds on tokio time).
async fn wait_status(gw: &Gateway, id: MessageId, status: MessageStatus, limit: Duration) {
    let deadline = std::time::Instant::now() + limit;
    loop {
        let m = gw.store().message(Scope::All, id).await.unwrap().unwrap();
        if m.status == status {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "message {id} is {} (error {:?}), expected {status}",
            m.status,
            m.error
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

async fn wait_until(limit: Duration, mut done: impl FnMut() -> bool) {
    let deadline = std::time::Instant::now() + limit;
    while !done() {
        assert!(
            std::time::Instant::now() < deadline,
            "condition not reached in {limit:?}"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[tokio::test]
async fn temporary_error_fails_over_to_another_modem() {
    let (_d, gw, p) = setup(|_| {}).await;
    let a = FakeModem::new("a", Behaviour::Temporary, Duration::ZERO);
    let b = FakeModem::new("b", Behaviour::Ok, Duration::ZERO);
    gw.attach_modem(a.clone(), "default", true).await.unwrap();
    let id = submit(&gw, &p, text_to(1, "hello")).await[0];
    wait_until(Duration::from_secs(5), || a.sends().len() == 1).await;
    gw.attach_modem(b.clone(), "default", true).await.unwrap();
    wait_status(&gw, id, MessageStatus::Sent, Duration::from_secs(5)).await;
    let d = gw.message(&p, id).await.unwrap();
    let tried: Vec<&str> = d.attempt_list.iter().map(|a| a.modem.as_str()).collect();
    assert_eq!(tried, vec!["a", "b"]);
    assert_eq!(d.attempt_list[0].outcome.as_deref(), Some("retry"));
    assert_eq!(d.message.modem.as_deref(), Some("b"));
    assert_eq!(
        a.sends().len(),
        1,
        "the failing modem waits for its backoff (10 s)"
    );
}

#[tokio::test]
async fn permanent_error_fails_at_once() {
    let (_d, gw, p) = setup(|_| {}).await;
    let a = FakeModem::new("a", Behaviour::Permanent, Duration::ZERO);
    gw.attach_modem(a.clone(), "default", true).await.unwrap();
    let id = submit(&gw, &p, text_to(1, "hello")).await[0];
    wait_status(&gw, id, MessageStatus::Failed, Duration::from_secs(5)).await;
    let d = gw.message(&p, id).await.unwrap();
    assert_eq!(d.attempt_list.len(), 1);
    assert_eq!(d.message.error.as_deref(), Some("+CMS ERROR: 21"));
}

#[tokio::test]
async fn a_hung_modem_does_not_delay_the_others() {
    let (_d, gw, p) = setup(|_| {}).await;
    let hung = FakeModem::new("hung", Behaviour::Hang, Duration::ZERO);
    let fine = FakeModem::new("fine", Behaviour::Ok, Duration::from_millis(1));
    gw.attach_modem(hung.clone(), "default", true).await.unwrap();
    gw.attach_modem(fine.clone(), "default", true).await.unwrap();
    let mut ids = Vec::new();
    for _ in 0..20 {
        ids.extend(submit(&gw, &p, text_to(1, "hi")).await);
    }
    // Real time, far below the 300 s send timeout the hung modem holds its message for.
    wait_until(Duration::from_secs(10), || fine.sends().len() == 19).await;
    assert_eq!(hung.sends().len(), 1);
    for id in &ids {
        let m = gw.store().message(Scope::All, *id).await.unwrap().unwrap();
        if m.modem.as_deref() == Some("fine") {
            wait_status(&gw, *id, MessageStatus::Sent, Duration::from_secs(5)).await;
        }
    }
    let stuck = gw
        .store()
        .list_messages(
            Scope::All,
            crate::store::MessageFilter {
                status: Some(MessageStatus::Sending),
                limit: 10,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(stuck.items.len(), 1);
    assert_eq!(stuck.items[0].modem.as_deref(), Some("hung"));
}

#[tokio::test(start_paused = true)]
async fn a_send_the_modem_never_answers_becomes_uncertain() {
    let (_d, gw, p) = setup(|s| s.dispatch.send_timeout_seconds = 30).await;
    let hung = FakeModem::new("hung", Behaviour::Hang, Duration::ZERO);
    gw.attach_modem(hung.clone(), "default", true).await.unwrap();
    let id = submit(&gw, &p, text_to(1, "hi")).await[0];
    let start = Instant::now();
    wait_status(&gw, id, MessageStatus::Uncertain, Duration::from_secs(20)).await;
    assert!(start.elapsed() >= Duration::from_secs(30));
    assert_eq!(hung.sends().len(), 1, "never resent under the report policy");
}

#[tokio::test(start_paused = true)]
async fn an_otp_overtakes_a_bulk_batch() {
    let (_d, gw, p) = setup(|_| {}).await;
    let slow = FakeModem::new("slow", Behaviour::Ok, Duration::from_secs(2));
    gw.attach_modem(slow.clone(), "default", true).await.unwrap();
    let bulk = submit(&gw, &p, text_to(5, "sale")).await;
    let otp_req = SubmitRequest {
        priority: 10,
        ..SubmitRequest::new(vec!["+48600999999".into()], "code 1234")
    };
    let otp = submit(&gw, &p, otp_req).await[0];
    wait_status(&gw, otp, MessageStatus::Sent, Duration::from_secs(20)).await;
    let otp_done = gw
        .store()
        .message(Scope::All, otp)
        .await
        .unwrap()
        .unwrap()
        .updated_at;
    let mut later = 0;
    for id in &bulk {
        wait_status(&gw, *id, MessageStatus::Sent, Duration::from_secs(20)).await;
        if gw
            .store()
            .message(Scope::All, *id)
            .await
            .unwrap()
            .unwrap()
            .updated_at
            > otp_done
        {
            later += 1;
        }
    }
    assert!(
        later >= 4,
        "only the bulk message already on the modem may finish before the OTP ({later} after)"
    );
}

#[tokio::test(start_paused = true)]
async fn per_sim_rate_limit_spreads_sends_over_minutes() {
    let (_d, gw, p) = setup(|s| s.dispatch.per_sim_per_minute = 2).await;
    let m = FakeModem::new("m", Behaviour::Ok, Duration::ZERO);
    gw.attach_modem(m.clone(), "default", true).await.unwrap();
    let start = Instant::now();
    let ids = submit(&gw, &p, text_to(5, "hi")).await;
    for id in &ids {
        wait_status(&gw, *id, MessageStatus::Sent, Duration::from_secs(20)).await;
    }
    // Paused time may jump ahead while the runtime waits for the database thread, so assert the limit
    // itself: never more than 2 sends in any minute.
    let offsets: Vec<u64> = m
        .sends()
        .iter()
        .map(|s| (s.at - start).as_millis() as u64)
        .collect();
    assert_eq!(offsets.len(), 5);
    for i in 2..offsets.len() {
        assert!(
            offsets[i] - offsets[i - 2] >= 60_000,
            "3 sends within a minute: {offsets:?}"
        );
    }
}

#[tokio::test]
async fn a_multipart_message_goes_to_one_modem_in_one_request() {
    let (_d, gw, p) = setup(|_| {}).await;
    let modems: Vec<_> = (0..3)
        .map(|i| FakeModem::new(&format!("m{i}"), Behaviour::Ok, Duration::ZERO))
        .collect();
    for m in &modems {
        gw.attach_modem(m.clone(), "default", true).await.unwrap();
    }
    let id = submit(&gw, &p, text_to(1, &"a".repeat(500))).await[0];
    wait_status(&gw, id, MessageStatus::Sent, Duration::from_secs(5)).await;
    let sends: Vec<usize> = modems.iter().flat_map(|m| m.sends()).map(|s| s.parts).collect();
    assert_eq!(sends, vec![4]);
    let d = gw.message(&p, id).await.unwrap();
    let used: Vec<_> = d.part_list.iter().map(|x| x.modem.clone()).collect();
    assert!(used.iter().all(|x| x == &used[0]) && used[0].is_some());
}

#[tokio::test]
async fn the_rest_of_a_partly_sent_message_stays_on_its_modem() {
    let (_d, gw, p) = setup(|s| s.dispatch.retry_base_seconds = 1).await;
    let a = FakeModem::new("a", Behaviour::Ok, Duration::ZERO);
    a.script
        .lock()
        .unwrap()
        .push_back(Behaviour::FirstPartThenTemporary);
    let b = FakeModem::new("b", Behaviour::Ok, Duration::ZERO);
    gw.attach_modem(a.clone(), "default", true).await.unwrap();
    let id = submit(&gw, &p, text_to(1, &"a".repeat(300))).await[0];
    wait_until(Duration::from_secs(5), || !a.sends().is_empty()).await;
    gw.attach_modem(b.clone(), "default", true).await.unwrap();
    wait_status(&gw, id, MessageStatus::Sent, Duration::from_secs(10)).await;
    assert!(b.sends().is_empty());
    assert_eq!(a.sends().iter().map(|s| s.parts).collect::<Vec<_>>(), vec![2, 1]);
}

#[tokio::test(start_paused = true)]
async fn a_scheduled_message_waits_for_its_time() {
    let (_d, gw, p) = setup(|_| {}).await;
    let m = FakeModem::new("m", Behaviour::Ok, Duration::ZERO);
    gw.attach_modem(m.clone(), "default", true).await.unwrap();
    let start = Instant::now();
    let at = crate::store::ms_to_datetime(gw.now_ms() + 30_000);
    let id = submit(
        &gw,
        &p,
        SubmitRequest {
            send_at: Some(at),
            ..text_to(1, "later")
        },
    )
    .await[0];
    wait_status(&gw, id, MessageStatus::Sent, Duration::from_secs(20)).await;
    let sent_after = m.sends()[0].at - start;
    assert!(sent_after >= Duration::from_secs(30), "sent after {sent_after:?}");
}

#[tokio::test(start_paused = true)]
async fn a_message_nobody_can_send_expires_with_an_event() {
    let (_d, gw, p) = setup(|_| {}).await;
    gw.store()
        .create_webhook(NewWebhook {
            account_id: p.account_id,
            url: "https://x.test".into(),
            secret: "0123456789abcdef".into(),
            events: vec![EventType::SmsFailed],
        })
        .await
        .unwrap();
    let id = submit(
        &gw,
        &p,
        SubmitRequest {
            validity_seconds: Some(300),
            ..text_to(1, "soon stale")
        },
    )
    .await[0];
    let start = Instant::now();
    wait_status(&gw, id, MessageStatus::Expired, Duration::from_secs(20)).await;
    assert!(start.elapsed() >= Duration::from_secs(299));
    assert_eq!(gw.dispatcher().queued(), 0);
    let due = gw.due_webhooks(i64::MAX, 10).await.unwrap();
    assert_eq!(due.len(), 1);
    assert!(due[0].payload.contains("\"expired\""));
}

#[tokio::test]
async fn restart_turns_an_interrupted_send_into_uncertain() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = Settings::default_with_data_dir(dir.path());
    s.dispatch.shutdown_grace_seconds = 0;
    let (gw, _) = Gateway::open(s.clone()).await.unwrap();
    let account = gw
        .create_account(None, "shop", "h".into(), Role::Client)
        .await
        .unwrap();
    let p = Principal::of(&account);
    let hung = FakeModem::new("hung", Behaviour::Hang, Duration::ZERO);
    gw.attach_modem(hung.clone(), "default", true).await.unwrap();
    let ids = submit(&gw, &p, text_to(2, "hi")).await;
    wait_until(Duration::from_secs(5), || hung.sends().len() == 1).await;
    gw.shutdown().await;
    let (gw, handles) = Gateway::open(s).await.unwrap();
    assert_eq!((handles.recovered_uncertain, handles.loaded), (1, 1));
    let statuses: Vec<MessageStatus> = gw
        .store()
        .messages_by_ids(Scope::All, ids)
        .await
        .unwrap()
        .iter()
        .map(|m| m.status)
        .collect();
    let mut statuses = statuses;
    statuses.sort_by_key(|s| s.as_str());
    assert_eq!(statuses, vec![MessageStatus::Queued, MessageStatus::Uncertain]);
    // The queued one goes out on the next run.
    let fine = FakeModem::new("fine", Behaviour::Ok, Duration::ZERO);
    gw.attach_modem(fine.clone(), "default", true).await.unwrap();
    wait_until(Duration::from_secs(5), || fine.sends().len() == 1).await;
}

#[tokio::test]
async fn delivery_report_marks_the_message_delivered() {
    let (_d, gw, p) = setup(|_| {}).await;
    let m = FakeModem::new("m", Behaviour::Ok, Duration::ZERO);
    m.mr.store(42, Ordering::Relaxed);
    gw.attach_modem(m.clone(), "default", true).await.unwrap();
    let req = SubmitRequest {
        delivery_report: true,
        ..SubmitRequest::new(vec!["600100200".into()], "hi")
    };
    let id = submit(&gw, &p, req).await[0];
    wait_status(&gw, id, MessageStatus::Sent, Duration::from_secs(5)).await;
    let report = crate::pdu::encode_status_report(&crate::pdu::StatusReportOptions {
        smsc: None,
        mr: 42,
        recipient: crate::pdu::Address::parse("+48600100200").unwrap(),
        scts: time::macros::datetime!(2026-01-01 00:00:00 UTC),
        discharge_time: time::macros::datetime!(2026-01-01 00:00:05 UTC),
        status: crate::pdu::Status::DELIVERED,
        more_messages: false,
    })
    .unwrap();
    let (ack, acked) = tokio::sync::oneshot::channel();
    gw.event_sink()
        .send(ModemEvent::StatusReport {
            modem: ModemId("m".into()),
            pdu: report.pdu,
            ack,
        })
        .await
        .unwrap();
    acked.await.unwrap();
    wait_status(&gw, id, MessageStatus::Delivered, Duration::from_secs(5)).await;
    let d = gw.message(&p, id).await.unwrap();
    assert_eq!(d.part_list[0].report_status, Some(0));
    assert!(d.part_list[0].delivered_at.is_some());
}

#[tokio::test]
async fn a_modem_that_is_not_ready_gets_nothing_until_it_is() {
    let (_d, gw, p) = setup(|_| {}).await;
    let m = FakeModem::new("m", Behaviour::Ok, Duration::ZERO);
    gw.attach_modem(m.clone(), "default", false).await.unwrap();
    let id = submit(&gw, &p, text_to(1, "hi")).await[0];
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(m.sends().is_empty());
    let mut state = crate::modem::ModemState::new(ModemId("m".into()), "/dev/pts/9".into());
    state.phase = crate::modem::ModemPhase::Ready;
    gw.handle_event(ModemEvent::State(state)).await;
    wait_status(&gw, id, MessageStatus::Sent, Duration::from_secs(5)).await;
}

#[tokio::test]
async fn a_pinned_message_wakes_its_own_modem() {
    let (_d, gw, p) = setup(|_| {}).await;
    let a = FakeModem::new("a", Behaviour::Ok, Duration::ZERO);
    let b = FakeModem::new("b", Behaviour::Ok, Duration::ZERO);
    gw.attach_modem(a.clone(), "default", true).await.unwrap();
    gw.attach_modem(b.clone(), "default", true).await.unwrap();
    // Waking "any idle modem of the group" would often wake `a`, which may not take it, and `b` would
    // sleep on: every one of these must go out through `b`, promptly.
    for n in 0..8 {
        let prepared = crate::store::NewMessage {
            id: MessageId::new(),
            recipient: format!("+4860020{n:04}"),
            group: None,
            text: "pinned".into(),
            encoding: crate::store::TextEncoding::Gsm7,
            priority: 0,
            send_at: None,
            valid_until: None,
            delivery_report: false,
            client_ref: None,
            parts: vec![crate::store::NewPart {
                pdu: vec![0, 0x11],
                tpdu_len: 1,
            }],
        };
        let id = prepared.id;
        let crate::store::Submitted::Created(mut created) = gw
            .store()
            .submit_pinned(p.account_id, prepared, "b", gw.now_ms())
            .await
            .unwrap()
        else {
            panic!("not created")
        };
        let m = created.remove(0);
        gw.dispatcher().enqueue(vec![Job {
            id: m.id,
            account: m.account_id,
            priority: 0,
            group: None,
            parts: m.parts,
            send_at: 0,
            valid_until: None,
            attempts: 0,
            retry_at: 0,
            avoid: Vec::new(),
            pinned: Some(ModemId("b".into())),
        }]);
        wait_status(&gw, id, MessageStatus::Sent, Duration::from_secs(5)).await;
    }
    assert_eq!(b.sends().len(), 8);
    assert!(a.sends().is_empty());
}
