//! Actor tests against the scripted fake modem on real PTYs: life cycle, send outcomes, receive with
//! acks, PIN safety, and recovery from hangs, unplugs, reboots, SIM removal and lost registration.
use std::time::Duration;

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::fake::{FakeModem, FakeState};
use super::*;

const DELIVER_PDU: &str = "07911326040000F0040B911346610089F60000208062917314080CC8F71D14969741F977FD07";
const REPORT_PDU: &str = "07911326040000F006D60B911326880736F4111011719551401110117195714000";
const WAIT: Duration = Duration::from_secs(20);

struct Rig {
    _dir: tempfile::TempDir,
    fake: FakeModem,
    handle: ModemHandle,
    events: mpsc::Receiver<ModemEvent>,
    shutdown: CancellationToken,
}

impl Drop for Rig {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

fn config(port: &std::path::Path) -> ModemConfig {
    ModemConfig {
        timeouts: Timeouts::fast(),
        health_interval: Duration::from_secs(1),
        sweep_interval: Duration::from_secs(2),
        registration_poll: Duration::from_millis(200),
        backoff_initial: Duration::from_millis(100),
        backoff_max: Duration::from_secs(1),
        ..ModemConfig::for_port(port)
    }
}

fn rig_with(state: FakeState, tweak: impl FnOnce(&mut ModemConfig)) -> Rig {
    let dir = tempfile::tempdir().unwrap();
    let fake = FakeModem::start(dir.path(), "modem0", state);
    let mut cfg = config(&fake.link);
    tweak(&mut cfg);
    let (tx, events) = mpsc::channel(64);
    let shutdown = CancellationToken::new();
    let handle = spawn(cfg, tx, shutdown.clone());
    Rig {
        _dir: dir,
        fake,
        handle,
        events,
        shutdown,
    }
}

fn rig() -> Rig {
    rig_with(FakeState::default(), |_| {})
}

async fn until(h: &ModemHandle, what: &str, f: impl Fn(&ModemState) -> bool) -> ModemState {
    let mut rx = h.state();
    let found = tokio::time::timeout(WAIT, async {
        loop {
            {
                let s = rx.borrow_and_update();
                if f(&s) {
                    return s.clone();
                }
            }
            if rx.changed().await.is_err() {
                panic!("actor stopped");
            }
        }
    })
    .await;
    found.unwrap_or_else(|_| panic!("timed out waiting for {what}: {:?}", h.snapshot()))
}

async fn ready(h: &ModemHandle) -> ModemState {
    until(h, "ready", |s| s.phase == ModemPhase::Ready).await
}

/// The next SMS or report event (state events skipped).
async fn next_message(events: &mut mpsc::Receiver<ModemEvent>) -> ModemEvent {
    let got = tokio::time::timeout(WAIT, async {
        loop {
            match events.recv().await {
                Some(ModemEvent::State(_)) => continue,
                Some(other) => return other,
                None => panic!("events closed"),
            }
        }
    })
    .await;
    got.expect("no message event")
}

fn part(pdu_hex: &str) -> OutgoingPart {
    let pdu = hex::decode(pdu_hex).unwrap();
    let tpdu_len = pdu.len() - 1 - usize::from(pdu[0]);
    OutgoingPart { pdu, tpdu_len }
}

const SUBMIT_1: &str = "0011000B916407281553F80000AA0AE8329BFD4697D9EC37";
const SUBMIT_2: &str = "0011000B916407281553F80000AA03C8F40A";

async fn eventually(what: &str, f: impl Fn() -> bool) {
    let deadline = tokio::time::Instant::now() + WAIT;
    while !f() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn comes_up_identified_and_healthy() {
    let r = rig();
    let s = ready(&r.handle).await;
    assert_eq!(s.id, ModemId("490154203237518".into()));
    assert_eq!(s.imei.as_deref(), Some("490154203237518"));
    assert_eq!(s.manufacturer.as_deref(), Some("FakeCo"));
    assert_eq!(s.imsi.as_deref(), Some("260011234567890"));
    assert_eq!(s.iccid.as_deref(), Some("89480100000000000017"));
    let s = until(&r.handle, "health", |s| {
        s.signal.is_some() && s.operator.is_some()
    })
    .await;
    assert_eq!(s.signal, Some(20));
    assert_eq!(s.operator.as_deref(), Some("Fake Net"));
    assert_eq!(r.handle.id(), ModemId("490154203237518".into()));
    let log = r.fake.with(|f| f.log.clone());
    for cmd in [
        "ATE0",
        "AT+CMGF=0",
        "AT+CNMI=2,1,0,2,0",
        "AT+CPMS=\"SM\",\"SM\",\"SM\"",
    ] {
        assert!(log.iter().any(|l| l == cmd), "{cmd} not sent: {log:?}");
    }
}

#[tokio::test]
async fn sends_every_part_with_its_mr() {
    let r = rig();
    ready(&r.handle).await;
    r.fake.with(|f| f.next_mr = 254);
    let sent = r
        .handle
        .send(SendRequest {
            parts: vec![part(SUBMIT_1), part(SUBMIT_2)],
        })
        .await
        .unwrap();
    assert_eq!(
        sent,
        vec![PartSent { index: 0, mr: 254 }, PartSent { index: 1, mr: 255 }]
    );
    let pdus = r.fake.with(|f| f.sent.clone());
    assert_eq!(
        pdus,
        vec![hex::decode(SUBMIT_1).unwrap(), hex::decode(SUBMIT_2).unwrap()]
    );
    assert!(r.fake.with(|f| f.log.contains(&"AT+CMGS=23".to_owned())));
    until(&r.handle, "counter", |s| s.sent_parts == 2).await;
}

#[tokio::test]
async fn cms_errors_are_classified() {
    let r = rig();
    ready(&r.handle).await;
    // (code, permanent?)
    for (code, permanent) in [(1u16, true), (10, true), (42, false), (331, false), (500, false)] {
        r.fake.with(|f| f.cmgs_error = Some(code));
        let err = r
            .handle
            .send(SendRequest {
                parts: vec![part(SUBMIT_1)],
            })
            .await
            .unwrap_err();
        match (&err, permanent) {
            (SendError::Permanent { sent, .. }, true) | (SendError::Temporary { sent, .. }, false) => {
                assert!(sent.is_empty())
            }
            _ => panic!("code {code}: {err:?}"),
        }
    }
    // A failure on the second part keeps the first one's MR.
    r.fake.with(|f| f.cmgs_error = None);
    let h = r.handle.clone();
    let fake_state = r.fake.state.clone();
    let send = tokio::spawn(async move {
        h.send(SendRequest {
            parts: vec![part(SUBMIT_1), part(SUBMIT_2)],
        })
        .await
    });
    eventually("first part", || !fake_state.lock().unwrap().sent.is_empty()).await;
    r.fake.with(|f| f.cmgs_error = Some(1));
    match send.await.unwrap() {
        Ok(_) => {} // the second part went through before the switch; nothing to check
        Err(e) => assert_eq!(e.sent(), &[PartSent { index: 0, mr: 0 }]),
    }
}

#[tokio::test]
async fn unanswered_pdu_is_uncertain_and_never_resent() {
    let r = rig();
    ready(&r.handle).await;
    r.fake.with(|f| f.cmgs_silent = true);
    let err = r
        .handle
        .send(SendRequest {
            parts: vec![part(SUBMIT_1), part(SUBMIT_2)],
        })
        .await
        .unwrap_err();
    assert!(
        matches!(err, SendError::Uncertain { ref sent, .. } if sent.is_empty()),
        "{err:?}"
    );
    r.fake.with(|f| f.cmgs_silent = false);
    // Recovery: ESC, probe, back in service; the PDU went to the modem exactly once.
    ready(&r.handle).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(r.fake.with(|f| f.sent.len()), 1);
    let sent = r
        .handle
        .send(SendRequest {
            parts: vec![part(SUBMIT_2)],
        })
        .await
        .unwrap();
    assert_eq!(sent.len(), 1);
}

#[tokio::test]
async fn slow_network_answer_within_send_timeout_is_success() {
    let r = rig_with(
        FakeState {
            cmgs_delay: Duration::from_millis(1500),
            ..FakeState::default()
        },
        |c| {
            c.timeouts.send = Duration::from_secs(4);
        },
    );
    ready(&r.handle).await;
    let sent = r
        .handle
        .send(SendRequest {
            parts: vec![part(SUBMIT_1)],
        })
        .await
        .unwrap();
    assert_eq!(sent.len(), 1);
}

#[tokio::test]
async fn stored_sms_deleted_only_after_ack() {
    let mut r = rig();
    ready(&r.handle).await;
    r.fake
        .with(|f| f.stored.insert(3, (0, hex::decode(DELIVER_PDU).unwrap())));
    r.fake.urc("\r\n+CMTI: \"SM\",3\r\n");
    let ModemEvent::Received { pdu, ack, modem } = next_message(&mut r.events).await else {
        panic!("not an SMS")
    };
    assert_eq!(pdu, hex::decode(DELIVER_PDU).unwrap());
    assert_eq!(modem, ModemId("490154203237518".into()));
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        r.fake.with(|f| f.stored.contains_key(&3)),
        "deleted before the ack"
    );
    ack.send(()).unwrap();
    let state = r.fake.state.clone();
    eventually("delete after ack", || {
        !state.lock().unwrap().stored.contains_key(&3)
    })
    .await;
}

#[tokio::test]
async fn dropped_ack_keeps_sms_for_the_sweep() {
    let mut r = rig();
    ready(&r.handle).await;
    r.fake
        .with(|f| f.stored.insert(5, (0, hex::decode(DELIVER_PDU).unwrap())));
    r.fake.urc("\r\n+CMTI: \"SM\",5\r\n");
    let ModemEvent::Received { ack, .. } = next_message(&mut r.events).await else {
        panic!()
    };
    // While the ack is pending the slot is not announced again, even by the sweep.
    r.fake.urc("\r\n+CMTI: \"SM\",5\r\n");
    let again = tokio::time::timeout(Duration::from_secs(3), next_message(&mut r.events)).await;
    assert!(again.is_err(), "announced twice while pending");
    drop(ack);
    let ModemEvent::Received { ack, .. } = next_message(&mut r.events).await else {
        panic!()
    };
    assert!(r.fake.with(|f| f.stored.contains_key(&5)));
    ack.send(()).unwrap();
    let state = r.fake.state.clone();
    eventually("delete after second ack", || {
        state.lock().unwrap().stored.is_empty()
    })
    .await;
}

#[tokio::test]
async fn sweep_finds_messages_left_on_the_sim() {
    let mut state = FakeState::default();
    state.stored.insert(1, (1, hex::decode(DELIVER_PDU).unwrap()));
    state.stored.insert(2, (0, hex::decode(REPORT_PDU).unwrap()));
    state.stored.insert(4, (3, hex::decode(SUBMIT_1).unwrap()));
    let mut r = rig_with(state, |_| {});
    let mut kinds = Vec::new();
    for _ in 0..2 {
        match next_message(&mut r.events).await {
            ModemEvent::Received { ack, .. } => {
                kinds.push("sms");
                ack.send(()).unwrap();
            }
            ModemEvent::StatusReport { ack, .. } => {
                kinds.push("report");
                ack.send(()).unwrap();
            }
            ModemEvent::State(_) => unreachable!(),
        }
    }
    kinds.sort();
    assert_eq!(kinds, ["report", "sms"]);
    let st = r.fake.state.clone();
    eventually("both deleted, outgoing kept", || {
        st.lock().unwrap().stored.keys().copied().collect::<Vec<_>>() == vec![4]
    })
    .await;
}

#[tokio::test]
async fn direct_delivery_acknowledged_with_cnma_after_ack() {
    let mut r = rig_with(
        FakeState {
            csms_service: 1,
            ..FakeState::default()
        },
        |c| c.cnmi = CnmiMode::Direct,
    );
    ready(&r.handle).await;
    assert!(r.fake.with(|f| f.log.contains(&"AT+CNMI=2,2,0,1,0".to_owned())));
    r.fake.urc(&format!("\r\n+CMT: ,38\r\n{DELIVER_PDU}\r\n"));
    let ModemEvent::Received { ack, .. } = next_message(&mut r.events).await else {
        panic!()
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        !r.fake.with(|f| f.log.contains(&"AT+CNMA".to_owned())),
        "CNMA before the ack"
    );
    ack.send(()).unwrap();
    let st = r.fake.state.clone();
    eventually("CNMA", || st.lock().unwrap().log.contains(&"AT+CNMA".to_owned())).await;
    // A dropped ack is never acknowledged: the network redelivers.
    r.fake.urc(&format!("\r\n+CDS: 25\r\n{REPORT_PDU}\r\n"));
    let ModemEvent::StatusReport { ack, .. } = next_message(&mut r.events).await else {
        panic!()
    };
    drop(ack);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        r.fake.with(|f| f.log.iter().filter(|l| *l == "AT+CNMA").count()),
        1
    );
}

#[tokio::test]
async fn pin_entered_once_and_never_burnt() {
    // Right PIN.
    let locked = FakeState {
        pin: Some("1234".into()),
        unlocked: false,
        ..FakeState::default()
    };
    let r = rig_with(locked.clone(), |c| c.pin = Some("1234".into()));
    ready(&r.handle).await;
    drop(r);

    // Wrong PIN: one try used, then the actor refuses to try again and says why.
    let r = rig_with(locked.clone(), |c| c.pin = Some("9999".into()));
    let s = until(&r.handle, "failed", |s| s.phase == ModemPhase::Failed).await;
    assert!(s.last_error.unwrap().contains("PIN rejected"));
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(r.fake.with(|f| f.pin_tries), 2);
    let s = r.handle.snapshot();
    assert_eq!(s.phase, ModemPhase::Failed);
    assert!(s.last_error.unwrap().contains("not entering it again"));
    drop(r);

    // One try left: not touched.
    let r = rig_with(
        FakeState {
            pin_tries: 1,
            ..locked.clone()
        },
        |c| c.pin = Some("1234".into()),
    );
    let s = until(&r.handle, "failed", |s| s.phase == ModemPhase::Failed).await;
    assert!(s.last_error.unwrap().contains("only 1 SIM PIN try left"));
    assert_eq!(r.fake.with(|f| f.pin_tries), 1);
    drop(r);

    // No PIN configured: the technician enters it by raw AT while the modem is failed, and it comes up.
    let r = rig_with(locked, |_| {});
    let s = until(&r.handle, "failed", |s| s.phase == ModemPhase::Failed).await;
    assert!(s.last_error.unwrap().contains("none configured"));
    let reply = r.handle.at("AT+CPIN=\"1234\"").await.unwrap();
    assert_eq!(reply.result, crate::at::FinalResult::Ok);
    ready(&r.handle).await;
}

#[tokio::test]
async fn hung_modem_fails_with_reason_and_comes_back() {
    let r = rig();
    ready(&r.handle).await;
    r.fake.with(|f| f.hung = true);
    until(&r.handle, "recovering", |s| s.phase == ModemPhase::Recovering).await;
    let s = until(&r.handle, "failed", |s| s.phase == ModemPhase::Failed).await;
    assert!(
        s.last_error.as_deref().unwrap_or_default().contains("no answer"),
        "{s:?}"
    );
    // Work is handed back while failed.
    let err = r
        .handle
        .send(SendRequest {
            parts: vec![part(SUBMIT_1)],
        })
        .await
        .unwrap_err();
    assert!(matches!(err, SendError::Temporary { .. }));
    assert!(r.fake.with(|f| f.log.iter().any(|l| l == "AT+CFUN=1,1")) || r.fake.with(|f| f.hung));
    r.fake.with(|f| f.hung = false);
    ready(&r.handle).await;
}

#[tokio::test]
async fn unplug_then_replug() {
    let mut r = rig();
    ready(&r.handle).await;
    r.fake.unplug();
    let s = until(&r.handle, "absent", |s| s.phase == ModemPhase::Absent).await;
    assert!(s.last_error.is_some());
    let err = r
        .handle
        .send(SendRequest {
            parts: vec![part(SUBMIT_1)],
        })
        .await
        .unwrap_err();
    assert!(matches!(err, SendError::Temporary { .. }));
    r.fake.with(|f| f.echo = true);
    r.fake.plug();
    ready(&r.handle).await;
    let sent = r
        .handle
        .send(SendRequest {
            parts: vec![part(SUBMIT_1)],
        })
        .await
        .unwrap();
    assert_eq!(sent.len(), 1);
}

#[tokio::test]
async fn lost_registration_holds_sends_until_back() {
    let r = rig();
    ready(&r.handle).await;
    r.fake.with(|f| f.reg_stat = 2);
    r.fake.urc("\r\n+CREG: 2\r\n");
    until(&r.handle, "waiting for network", |s| {
        s.phase == ModemPhase::WaitingForNetwork
    })
    .await;
    let err = r
        .handle
        .send(SendRequest {
            parts: vec![part(SUBMIT_1)],
        })
        .await
        .unwrap_err();
    assert!(matches!(err, SendError::Temporary { .. }), "{err:?}");
    assert!(r.fake.with(|f| f.sent.is_empty()));
    r.fake.with(|f| f.reg_stat = 1);
    // No URC this time: the registration poll finds it.
    ready(&r.handle).await;
}

#[tokio::test]
async fn reboot_is_noticed_and_modem_reinitialised() {
    let r = rig();
    ready(&r.handle).await;
    r.fake.with(|f| f.echo = true);
    r.fake.urc("\r\nRDY\r\n");
    until(&r.handle, "recovering", |s| s.phase != ModemPhase::Ready).await;
    ready(&r.handle).await;
    assert_eq!(r.fake.with(|f| f.log.iter().filter(|l| *l == "ATE0").count()), 2);
}

#[tokio::test]
async fn sim_removed_then_inserted() {
    let r = rig();
    ready(&r.handle).await;
    r.fake.with(|f| f.sim_present = false);
    r.fake.urc("\r\n+CPIN: NOT INSERTED\r\n");
    let s = until(&r.handle, "failed", |s| s.phase == ModemPhase::Failed).await;
    assert!(s.last_error.unwrap().contains("SIM not inserted"));
    r.fake.with(|f| f.sim_present = true);
    ready(&r.handle).await;
}

#[tokio::test]
async fn ussd_and_raw_at() {
    let r = rig();
    ready(&r.handle).await;
    let reply = r.handle.ussd("*100#").await.unwrap();
    assert_eq!(
        reply,
        UssdReply {
            status: 0,
            text: Some("Balance 5.00".into()),
            dcs: Some(15)
        }
    );
    let at = r.handle.at("AT+CSQ").await.unwrap();
    assert_eq!(
        at,
        AtReply {
            lines: vec!["+CSQ: 20,99".into()],
            result: crate::at::FinalResult::Ok
        }
    );
    let at = r.handle.at("AT+BOGUS").await.unwrap();
    assert_eq!(at.result, crate::at::FinalResult::Error);
}

#[tokio::test]
async fn shutdown_stops_the_actor() {
    let r = rig();
    ready(&r.handle).await;
    r.shutdown.cancel();
    tokio::time::timeout(Duration::from_secs(5), r.handle.stopped())
        .await
        .unwrap();
}

/// The fake on an in-memory pipe, so timing runs on tokio's paused clock without kernel I/O in between.
fn memory_rig(
    state: FakeState,
) -> (
    ModemHandle,
    super::fake::Shared,
    mpsc::Receiver<ModemEvent>,
    CancellationToken,
) {
    use std::sync::{Arc, Mutex};
    let shared = Arc::new(Mutex::new(state));
    let fake_state = shared.clone();
    let opener: Opener = Arc::new(move |_: &std::path::Path, _| {
        let (ours, theirs) = tokio::io::duplex(4096);
        let (_no_urcs, rx) = mpsc::unbounded_channel();
        tokio::spawn(super::fake::run(theirs, fake_state.clone(), rx));
        Ok(super::port::Port::from_transport(Box::new(ours)))
    });
    let (tx, events) = mpsc::channel(64);
    let shutdown = CancellationToken::new();
    let handle = spawn_with_opener(
        ModemConfig::for_port("/dev/in-memory"),
        tx,
        shutdown.clone(),
        opener,
    );
    (handle, shared, events, shutdown)
}

#[tokio::test(start_paused = true)]
async fn send_timeout_is_the_networks_not_a_second() {
    let (h, fake, _events, stop) = memory_rig(FakeState {
        cmgs_delay: Duration::from_secs(100),
        ..FakeState::default()
    });
    ready(&h).await;
    // Default timeouts: a network answer after 100 s is a success.
    let t0 = tokio::time::Instant::now();
    let sent = h
        .send(SendRequest {
            parts: vec![part(SUBMIT_1)],
        })
        .await
        .unwrap();
    assert_eq!(sent.len(), 1);
    assert!(t0.elapsed() >= Duration::from_secs(100));
    // No answer at all: uncertain exactly when the configured 120 s have passed.
    fake.lock().unwrap().cmgs_silent = true;
    let t0 = tokio::time::Instant::now();
    let err = h
        .send(SendRequest {
            parts: vec![part(SUBMIT_1)],
        })
        .await
        .unwrap_err();
    let waited = t0.elapsed();
    assert!(matches!(err, SendError::Uncertain { .. }), "{err:?}");
    assert!(
        waited >= Duration::from_secs(120) && waited < Duration::from_secs(121),
        "{waited:?}"
    );
    assert_eq!(
        fake.lock().unwrap().sent.len(),
        2,
        "written once each, never resent"
    );
    stop.cancel();
}

#[tokio::test(start_paused = true)]
async fn health_polls_at_the_configured_interval() {
    let (h, fake, _events, stop) = memory_rig(FakeState::default());
    ready(&h).await;
    let csq = || fake.lock().unwrap().log.iter().filter(|l| *l == "AT+CSQ").count();
    let before = csq();
    tokio::time::sleep(Duration::from_secs(30 * 4 + 1)).await;
    assert_eq!(csq() - before, 4, "one health poll per 30 s");
    stop.cancel();
}

#[tokio::test]
async fn ussd_menu_continuation_and_network_initiated() {
    let r = rig_with(
        FakeState {
            ussd_reply: "+CUSD: 1,\"1 Balance 2 Offers\",15".into(),
            ..FakeState::default()
        },
        |_| {},
    );
    ready(&r.handle).await;
    let menu = r.handle.ussd("*100#").await.unwrap();
    assert_eq!(menu.status, actor::USSD_ACTION_REQUIRED);
    assert_eq!(menu.text.as_deref(), Some("1 Balance 2 Offers"));
    // The answer to the menu goes out the same way and closes the session.
    r.fake
        .with(|f| f.ussd_reply = "+CUSD: 0,\"Balance 5.00\",15".into());
    let answer = r.handle.ussd("1").await.unwrap();
    assert_eq!((answer.status, answer.text.as_deref()), (0, Some("Balance 5.00")));
    assert!(r.fake.with(|f| f.log.contains(&"AT+CUSD=1,\"1\",15".to_owned())));
    // A session the network starts on its own reaches the subscribers.
    let mut pushed = r.handle.ussd_notifications();
    r.fake.urc("\r\n+CUSD: 1,\"Reply 1 to confirm\",15\r\n");
    let got = tokio::time::timeout(WAIT, pushed.recv()).await.unwrap().unwrap();
    assert_eq!(got.text.as_deref(), Some("Reply 1 to confirm"));
}

#[tokio::test]
async fn technician_restart_and_run_time_pin() {
    // No PIN in the config: the modem fails; a PIN set at run time (by IMEI) and a reconfigure bring
    // it up without waiting for the backoff.
    let locked = FakeState {
        pin: Some("1234".into()),
        unlocked: false,
        ..FakeState::default()
    };
    let table = OverrideTable::default();
    let shared = table.clone();
    let mut r = rig_with(locked, move |c| {
        c.overrides = shared;
        c.backoff_initial = Duration::from_secs(30);
        c.backoff_max = Duration::from_secs(30);
    });
    let s = until(&r.handle, "failed", |s| s.phase == ModemPhase::Failed).await;
    assert!(s.last_error.unwrap().contains("none configured"));
    table.set(
        "490154203237518",
        SimSettings {
            pin: Some("1234".into()),
            smsc: Some("+48601000310".into()),
        },
    );
    r.handle.reconfigure().await.unwrap();
    ready(&r.handle).await;
    let log = r.fake.with(|f| f.log.clone());
    assert!(log.iter().any(|l| l == "AT+CSCA=\"+48601000310\""), "{log:?}");

    // Restart: the session starts over (probe, echo off, PDU mode) and comes back by itself.
    let before = r
        .fake
        .with(|f| f.log.iter().filter(|l| *l == "AT+CMGF=0").count());
    while r.events.try_recv().is_ok() {}
    let events = &mut r.events;
    r.handle.restart().await.unwrap();
    let phases = tokio::time::timeout(WAIT, async {
        let mut seen = Vec::new();
        while let Some(ev) = events.recv().await {
            if let ModemEvent::State(s) = ev {
                seen.push(s.phase);
                if s.phase == ModemPhase::Ready && seen.contains(&ModemPhase::Probing) {
                    return seen;
                }
            }
        }
        seen
    })
    .await
    .unwrap();
    assert!(phases.contains(&ModemPhase::Recovering), "{phases:?}");
    let after = r
        .fake
        .with(|f| f.log.iter().filter(|l| *l == "AT+CMGF=0").count());
    assert_eq!(after, before + 1);

    // A raw command gets its own limit and goes through the queue.
    let reply = r
        .handle
        .at_within("AT+CSQ", Duration::from_secs(2))
        .await
        .unwrap();
    assert_eq!(reply.result, crate::at::FinalResult::Ok);
    assert_eq!(r.handle.pending_requests(), 0);
    r.shutdown.cancel();
}
