//! The modem actor against hw-sim on PTYs: every modem family profile comes up, sends a multipart SMS
//! with one MR per part and receives with delete-after-ack; every fault hw-sim can inject either recovers
//! within a bounded time with visible state changes or ends in `Failed` with its reason, and no recovery
//! loses a message or sends one twice (except a send reported as uncertain).
#![allow(clippy::unwrap_used, clippy::expect_used)]
use std::time::Duration;

use hw_sim::{Bank, BankConfig, Fault, ProfileName};
use smsgate::modem::{
    ModemConfig, ModemEvent, ModemHandle, ModemPhase, ModemSender, ModemState, OutgoingPart, SendError,
    SendRequest, Timeouts,
};
use smsgate::pdu::{self, Address, SubmitOptions};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// Longest time any state change may take in these tests.
const BOUND: Duration = Duration::from_secs(30);

struct Rig {
    bank: Option<Bank>,
    _dir: tempfile::TempDir,
    handle: ModemHandle,
    events: mpsc::Receiver<ModemEvent>,
    shutdown: CancellationToken,
    imei: String,
}

impl Rig {
    fn ctl(&self) -> hw_sim::Control {
        self.bank.as_ref().unwrap().control()
    }
}

impl Drop for Rig {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

fn timeouts() -> Timeouts {
    Timeouts {
        local: Duration::from_secs(1),
        sim: Duration::from_secs(3),
        network: Duration::from_secs(5),
        send: Duration::from_secs(5),
        prompt: Duration::from_secs(2),
        boot: Duration::from_secs(6),
    }
}

async fn rig(
    profile: ProfileName,
    tune: impl FnOnce(&mut BankConfig),
    cfg: impl FnOnce(&mut ModemConfig),
) -> Rig {
    let dir = tempfile::tempdir().unwrap();
    let mut bank_cfg = BankConfig {
        count: 1,
        profile,
        dir: dir.path().join("dev"),
        ..BankConfig::default()
    };
    tune(&mut bank_cfg);
    let bank = Bank::start(bank_cfg).await.unwrap();
    let info = bank.modems().remove(0);
    let mut config = ModemConfig {
        timeouts: timeouts(),
        health_interval: Duration::from_secs(1),
        sweep_interval: Duration::from_secs(3),
        registration_poll: Duration::from_millis(300),
        backoff_initial: Duration::from_millis(200),
        backoff_max: Duration::from_secs(2),
        ..ModemConfig::for_port(&info.link)
    };
    cfg(&mut config);
    let (tx, events) = mpsc::channel(256);
    let shutdown = CancellationToken::new();
    let handle = smsgate::modem::spawn(config, tx, shutdown.clone());
    Rig {
        bank: Some(bank),
        _dir: dir,
        handle,
        events,
        shutdown,
        imei: info.imei,
    }
}

async fn until(h: &ModemHandle, what: &str, f: impl Fn(&ModemState) -> bool) -> ModemState {
    let mut rx = h.state();
    let found = tokio::time::timeout(BOUND, async {
        loop {
            {
                let s = rx.borrow_and_update();
                if f(&s) {
                    return s.clone();
                }
            }
            rx.changed().await.expect("actor running");
        }
    })
    .await;
    found.unwrap_or_else(|_| panic!("no {what} within {BOUND:?}: {:?}", h.snapshot()))
}

async fn ready(h: &ModemHandle) -> ModemState {
    until(h, "ready", |s| s.phase == ModemPhase::Ready).await
}

fn submit(text: &str) -> SendRequest {
    let opts = SubmitOptions::new(Address::parse("+48600111222").unwrap());
    let parts = pdu::encode_submit(text, &opts).unwrap();
    SendRequest {
        parts: parts
            .into_iter()
            .map(|p| OutgoingPart {
                pdu: p.pdu,
                tpdu_len: p.tpdu_len,
            })
            .collect(),
    }
}

async fn next_message(events: &mut mpsc::Receiver<ModemEvent>) -> ModemEvent {
    let got = tokio::time::timeout(BOUND, async {
        loop {
            match events.recv().await.expect("events open") {
                ModemEvent::State(_) => continue,
                other => return other,
            }
        }
    })
    .await;
    got.expect("a message event")
}

fn text_of(pdu_bytes: &[u8]) -> String {
    match pdu::decode(pdu_bytes).unwrap() {
        pdu::Pdu::Deliver(d) => d.user_data.text().unwrap_or_default().to_owned(),
        other => panic!("not a DELIVER: {other:?}"),
    }
}

const LONG: &str = "This message is longer than one SMS can carry, so it is split into parts with a \
                    concatenation header, and every part gets its own TP-MR from the modem. Zażółć gęślą jaźń.";

async fn sim_count(h: &ModemHandle) -> usize {
    let reply = h.at("AT+CMGL=4").await.unwrap();
    reply.lines.iter().filter(|l| l.starts_with("+CMGL:")).count()
}

async fn profile_round_trip(profile: ProfileName) {
    let mut r = rig(profile, |_| {}, |_| {}).await;
    let s = ready(&r.handle).await;
    assert_eq!(s.imei.as_deref(), Some(r.imei.as_str()), "{profile}");
    assert_eq!(r.handle.id().0, r.imei);

    let request = submit(LONG);
    let n = request.parts.len();
    assert!(n >= 2);
    let sent = r
        .handle
        .send(request)
        .await
        .unwrap_or_else(|e| panic!("{profile}: {e}"));
    assert_eq!(sent.len(), n);
    let texts = r.ctl().sent_texts(0).unwrap();
    assert_eq!(texts.len(), 1, "{profile}: {texts:?}");
    assert_eq!(texts[0].text, LONG);
    assert_eq!(
        texts[0].mrs,
        sent.iter().map(|p| p.mr).collect::<Vec<_>>(),
        "{profile}: MR per part"
    );

    r.ctl()
        .inject_sms(0, "+48500600700", "hello from the network")
        .unwrap();
    let ModemEvent::Received { pdu, ack, .. } = next_message(&mut r.events).await else {
        panic!("{profile}")
    };
    assert_eq!(text_of(&pdu), "hello from the network");
    assert_eq!(sim_count(&r.handle).await, 1, "{profile}: kept until the ack");
    ack.send(()).unwrap();
    let h = r.handle.clone();
    tokio::time::timeout(BOUND, async {
        while sim_count(&h).await != 0 {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await
    .unwrap_or_else(|_| panic!("{profile}: not deleted after the ack"));

    let reply = r.handle.at("AT+CSQ").await.unwrap();
    assert!(reply.result.is_ok(), "{profile}: {reply:?}");
}

/// Reboot, then unplug and replug: the modem is back in service each time by itself, with the same
/// identity, and sends again.
async fn profile_survives_reboot_and_replug(profile: ProfileName) {
    let r = rig(profile, |_| {}, |_| {}).await;
    ready(&r.handle).await;
    r.ctl().set_fault(0, Fault::Reboot).await.unwrap();
    until(&r.handle, "reboot noticed", |s| s.phase != ModemPhase::Ready).await;
    ready(&r.handle).await;
    r.ctl().unplug(0).await.unwrap();
    until(&r.handle, "absent", |s| s.phase == ModemPhase::Absent).await;
    r.ctl().replug(0).await.unwrap();
    let s = ready(&r.handle).await;
    assert_eq!(s.imei.as_deref(), Some(r.imei.as_str()), "{profile}");
    r.handle
        .send(submit("still here"))
        .await
        .unwrap_or_else(|e| panic!("{profile}: {e}"));
    assert_eq!(
        r.ctl().sent_messages(0).unwrap().len(),
        1,
        "{profile}: sent exactly once"
    );
}

macro_rules! profile_tests {
    ($($name:ident, $faults:ident => $profile:expr),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                profile_round_trip($profile).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $faults() {
                profile_survives_reboot_and_replug($profile).await;
            }
        )*
    };
}

profile_tests! {
    profile_generic, recovery_generic => ProfileName::Generic,
    profile_quectel_ec25, recovery_quectel_ec25 => ProfileName::QuectelEc25,
    profile_simcom_sim800, recovery_simcom_sim800 => ProfileName::SimcomSim800,
    profile_huawei_e3372, recovery_huawei_e3372 => ProfileName::HuaweiE3372,
    profile_wavecom, recovery_wavecom => ProfileName::Wavecom,
    profile_telit, recovery_telit => ProfileName::Telit,
    profile_sierra, recovery_sierra => ProfileName::Sierra,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pin_from_config() {
    let r = rig(
        ProfileName::QuectelEc25,
        |b| b.pin = Some("4321".into()),
        |c| c.pin = Some("4321".into()),
    )
    .await;
    ready(&r.handle).await;
    drop(r);
    let r = rig(
        ProfileName::Generic,
        |b| b.pin = Some("4321".into()),
        |c| c.pin = Some("0000".into()),
    )
    .await;
    let s = until(&r.handle, "failed", |s| s.phase == ModemPhase::Failed).await;
    assert!(
        s.last_error.unwrap_or_default().contains("PIN"),
        "{:?}",
        r.handle.snapshot()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fault_hung_then_cleared() {
    let r = rig(ProfileName::Generic, |_| {}, |_| {}).await;
    ready(&r.handle).await;
    r.ctl().set_fault(0, Fault::Hung).await.unwrap();
    until(&r.handle, "recovering", |s| s.phase == ModemPhase::Recovering).await;
    let s = until(&r.handle, "failed", |s| s.phase == ModemPhase::Failed).await;
    assert!(s.last_error.unwrap_or_default().contains("no answer"));
    let err = r.handle.send(submit("queued while failed")).await.unwrap_err();
    assert!(matches!(err, SendError::Temporary { .. }), "{err:?}");
    r.ctl().clear_faults(0).unwrap();
    ready(&r.handle).await;
    r.handle.send(submit("after the hang")).await.unwrap();
    assert_eq!(
        r.ctl().sent_messages(0).unwrap().len(),
        1,
        "nothing resent by the recovery"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fault_hung_during_send_is_uncertain_once() {
    let r = rig(
        ProfileName::Generic,
        |b| b.delay = hw_sim::DelayProfile::Fixed { ms: 1500 },
        |_| {},
    )
    .await;
    ready(&r.handle).await;
    let h = r.handle.clone();
    let send = tokio::spawn(async move { h.send(submit("lost in the network")).await });
    tokio::time::sleep(Duration::from_millis(700)).await;
    r.ctl().set_fault(0, Fault::Hung).await.unwrap();
    let err = send.await.unwrap().unwrap_err();
    assert!(matches!(err, SendError::Uncertain { .. }), "{err:?}");
    r.ctl().clear_faults(0).unwrap();
    ready(&r.handle).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(r.ctl().sent_messages(0).unwrap().len() <= 1, "never resent");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fault_garbage_never_duplicates() {
    let r = rig(ProfileName::Generic, |_| {}, |_| {}).await;
    ready(&r.handle).await;
    r.ctl().set_fault(0, Fault::Garbage { p: 0.3 }).await.unwrap();
    let (mut ok, mut uncertain) = (0, 0);
    for i in 0..6 {
        match r.handle.send(submit(&format!("through the noise {i}"))).await {
            Ok(parts) => ok += parts.len(),
            Err(SendError::Uncertain { sent, .. }) => {
                ok += sent.len();
                uncertain += 1;
            }
            Err(e) => ok += e.sent().len(),
        }
    }
    r.ctl().clear_faults(0).unwrap();
    ready(&r.handle).await;
    let on_air = r.ctl().sent_messages(0).unwrap().len();
    assert!(
        on_air >= ok && on_air <= ok + uncertain,
        "on air {on_air}, ok {ok}, uncertain {uncertain}"
    );
    r.handle.send(submit("clean again")).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fault_reboot_reinitialises() {
    for profile in [
        ProfileName::Generic,
        ProfileName::QuectelEc25,
        ProfileName::HuaweiE3372,
    ] {
        let mut r = rig(profile, |_| {}, |_| {}).await;
        ready(&r.handle).await;
        r.ctl().set_fault(0, Fault::Reboot).await.unwrap();
        until(&r.handle, "noticed reboot", |s| s.phase != ModemPhase::Ready).await;
        ready(&r.handle).await;
        // Routing was restored: a new SMS is announced again.
        r.ctl().inject_sms(0, "+48500600700", "after reboot").unwrap();
        let ModemEvent::Received { pdu, ack, .. } = next_message(&mut r.events).await else {
            panic!()
        };
        assert_eq!(text_of(&pdu), "after reboot", "{profile}");
        ack.send(()).unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fault_unplug_replug() {
    let r = rig(ProfileName::QuectelEc25, |_| {}, |_| {}).await;
    ready(&r.handle).await;
    r.ctl().unplug(0).await.unwrap();
    let s = until(&r.handle, "absent", |s| s.phase == ModemPhase::Absent).await;
    assert!(s.last_error.is_some());
    let err = r.handle.send(submit("while unplugged")).await.unwrap_err();
    assert!(matches!(err, SendError::Temporary { .. }));
    r.ctl().replug(0).await.unwrap();
    let s = ready(&r.handle).await;
    assert_eq!(s.imei.as_deref(), Some(r.imei.as_str()));
    r.handle.send(submit("after replug")).await.unwrap();
    assert_eq!(r.ctl().sent_messages(0).unwrap().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fault_cms_errors_classified() {
    let r = rig(ProfileName::Generic, |_| {}, |_| {}).await;
    ready(&r.handle).await;
    r.ctl()
        .set_fault(0, Fault::CmsEvery { k: 1, code: 1 })
        .await
        .unwrap();
    let err = r.handle.send(submit("to nowhere")).await.unwrap_err();
    assert!(matches!(err, SendError::Permanent { .. }), "{err:?}");
    r.ctl()
        .set_fault(0, Fault::CmsEvery { k: 1, code: 38 })
        .await
        .unwrap();
    let err = r.handle.send(submit("network down")).await.unwrap_err();
    assert!(matches!(err, SendError::Temporary { .. }), "{err:?}");
    // Failure on the second part keeps the first one's MR.
    r.ctl()
        .set_fault(0, Fault::CmsEvery { k: 2, code: 42 })
        .await
        .unwrap();
    let request = submit(LONG);
    match r.handle.send(request).await {
        Err(SendError::Temporary { sent, .. }) => assert_eq!(sent.len(), 1),
        other => panic!("{other:?}"),
    }
    r.ctl().clear_faults(0).unwrap();
    assert_eq!(r.handle.snapshot().phase, ModemPhase::Ready);
    r.handle.send(submit("fine again")).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fault_sim_removed() {
    let r = rig(ProfileName::SimcomSim800, |_| {}, |_| {}).await;
    ready(&r.handle).await;
    r.ctl().set_fault(0, Fault::SimRemoved).await.unwrap();
    let s = until(&r.handle, "failed", |s| s.phase == ModemPhase::Failed).await;
    assert!(
        s.last_error.unwrap_or_default().contains("SIM not inserted"),
        "{:?}",
        r.handle.snapshot()
    );
    r.ctl().clear_faults(0).unwrap();
    ready(&r.handle).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fault_lost_registration() {
    let r = rig(ProfileName::Telit, |_| {}, |_| {}).await;
    ready(&r.handle).await;
    r.ctl()
        .set_fault(0, Fault::NoRegistration { stat: 2 })
        .await
        .unwrap();
    let s = until(&r.handle, "waiting for network", |s| {
        s.phase == ModemPhase::WaitingForNetwork
    })
    .await;
    assert_eq!(s.registration, Some(2));
    let err = r.handle.send(submit("no network")).await.unwrap_err();
    assert!(matches!(err, SendError::Temporary { .. }));
    assert!(r.ctl().sent_messages(0).unwrap().is_empty());
    r.ctl().clear_faults(0).unwrap();
    ready(&r.handle).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn storage_full_is_drained_after_acks() {
    let mut r = rig(ProfileName::Wavecom, |_| {}, |_| {}).await;
    ready(&r.handle).await;
    // Hold the acks: everything stays on the SIM.
    let mut held = Vec::new();
    for i in 0..3 {
        r.ctl()
            .inject_sms(0, "+48500600700", &format!("held {i}"))
            .unwrap();
        let ModemEvent::Received { ack, .. } = next_message(&mut r.events).await else {
            panic!()
        };
        held.push(ack);
    }
    r.ctl().set_fault(0, Fault::StorageFull).await.unwrap();
    assert_eq!(sim_count(&r.handle).await, 3);
    for ack in held {
        ack.send(()).unwrap();
    }
    let h = r.handle.clone();
    tokio::time::timeout(BOUND, async {
        while sim_count(&h).await != 0 {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await
    .expect("drained");
    r.ctl().clear_faults(0).unwrap();
    r.ctl().inject_sms(0, "+48500600700", "room again").unwrap();
    let ModemEvent::Received { pdu, .. } = next_message(&mut r.events).await else {
        panic!()
    };
    assert_eq!(text_of(&pdu), "room again");
    assert_eq!(r.handle.snapshot().phase, ModemPhase::Ready);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_left_on_sim_are_swept_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let bank = Bank::start(BankConfig {
        count: 1,
        dir: dir.path().join("dev"),
        ..BankConfig::default()
    })
    .await
    .unwrap();
    let ctl = bank.control();
    // Delivered before any gateway runs: with factory CNMI the modem stores them silently.
    ctl.inject_sms(0, "+48500600700", "waiting 1").unwrap();
    ctl.inject_sms(0, "+48500600700", "waiting 2").unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let link = bank.modems()[0].link.clone();
    let (tx, mut events) = mpsc::channel(16);
    let shutdown = CancellationToken::new();
    let config = ModemConfig {
        timeouts: timeouts(),
        ..ModemConfig::for_port(&link)
    };
    let handle = smsgate::modem::spawn(config, tx, shutdown.clone());
    let mut texts = Vec::new();
    for _ in 0..2 {
        let ModemEvent::Received { pdu, ack, .. } = next_message(&mut events).await else {
            panic!()
        };
        texts.push(text_of(&pdu));
        ack.send(()).unwrap();
    }
    texts.sort();
    assert_eq!(texts, ["waiting 1", "waiting 2"]);
    ready(&handle).await;
    shutdown.cancel();
    bank.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ussd_round_trip() {
    let r = rig(ProfileName::HuaweiE3372, |_| {}, |_| {}).await;
    ready(&r.handle).await;
    let reply = r.handle.ussd("*100#").await.unwrap();
    assert!(reply.text.is_some(), "{reply:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn discovery_starts_retires_and_reidentifies() {
    use smsgate::modem::discovery::{self, DiscoveryConfig};
    let dir = tempfile::tempdir().unwrap();
    let dev = dir.path().join("dev");
    std::fs::create_dir_all(&dev).unwrap();
    let (tx, _events) = mpsc::channel(256);
    let shutdown = CancellationToken::new();
    let template = ModemConfig {
        timeouts: timeouts(),
        backoff_initial: Duration::from_millis(200),
        backoff_max: Duration::from_secs(1),
        ..ModemConfig::default()
    };
    // A second name of the first modem (as a udev link and a configured path can be): one device, one
    // actor.
    let alias = dir.path().join("alias");
    std::fs::create_dir_all(&alias).unwrap();
    std::os::unix::fs::symlink(dev.join("modem0"), alias.join("modem-alias")).unwrap();
    let modems = discovery::run(
        vec![],
        DiscoveryConfig {
            dirs: vec![dev.clone(), alias],
            prefixes: vec!["modem".into()],
            interval: Duration::from_millis(200),
            template,
            retire_after: Duration::from_secs(1),
            udev: false,
        },
        tx,
        shutdown.clone(),
    );
    assert!(modems.list().is_empty());
    let bank = Bank::start(BankConfig {
        count: 2,
        dir: dev.clone(),
        ..BankConfig::default()
    })
    .await
    .unwrap();
    let imeis: Vec<String> = bank.modems().iter().map(|m| m.imei.clone()).collect();
    let all_ready = |want: usize| {
        let modems = modems.clone();
        async move {
            tokio::time::timeout(BOUND, async {
                loop {
                    let list = modems.list();
                    if list.len() == want && list.iter().all(|s| s.phase == ModemPhase::Ready) {
                        return list;
                    }
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            })
            .await
            .unwrap_or_else(|_| panic!("not {want} ready: {:?}", modems.list()))
        }
    };
    let list = all_ready(2).await;
    let mut ids: Vec<String> = list.iter().map(|s| s.id.0.clone()).collect();
    ids.sort();
    let mut want = imeis.clone();
    want.sort();
    assert_eq!(ids, want, "known by IMEI");

    bank.control().unplug(1).await.unwrap();
    all_ready(1).await;
    assert!(modems.get(&imeis[1]).is_none());
    bank.control().replug(1).await.unwrap();
    all_ready(2).await;
    let back = modems.get(&imeis[1]).expect("found by IMEI");
    assert_eq!(back.snapshot().phase, ModemPhase::Ready);
    shutdown.cancel();
    bank.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_reports_reach_the_gateway_with_the_part_mr() {
    for (profile, cnmi) in [
        (ProfileName::Generic, smsgate::modem::CnmiMode::Store),
        (ProfileName::QuectelEc25, smsgate::modem::CnmiMode::Store),
        (ProfileName::HuaweiE3372, smsgate::modem::CnmiMode::Direct),
        (ProfileName::SimcomSim800, smsgate::modem::CnmiMode::Direct),
    ] {
        let mut r = rig(profile, |_| {}, |c| c.cnmi = cnmi).await;
        ready(&r.handle).await;
        let mut opts = SubmitOptions::new(Address::parse("+48600111222").unwrap());
        opts.srr = true;
        let parts = pdu::encode_submit("report please", &opts).unwrap();
        let request = SendRequest {
            parts: parts
                .into_iter()
                .map(|p| OutgoingPart {
                    pdu: p.pdu,
                    tpdu_len: p.tpdu_len,
                })
                .collect(),
        };
        let sent = r.handle.send(request).await.unwrap();
        let ModemEvent::StatusReport { pdu: report, ack, .. } = next_message(&mut r.events).await else {
            panic!("{profile}: expected a status report")
        };
        match pdu::decode(&report).unwrap() {
            pdu::Pdu::StatusReport(sr) => assert_eq!(sr.mr, sent[0].mr, "{profile}"),
            other => panic!("{profile}: {other:?}"),
        }
        ack.send(()).unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_line_with_a_long_listing_is_not_a_hang() {
    let mut r = rig(ProfileName::Generic, |_| {}, |_| {}).await;
    ready(&r.handle).await;
    let mut held = Vec::new();
    for i in 0..6 {
        r.ctl()
            .inject_sms(
                0,
                "+48500600700",
                &format!("message number {i} waiting on the SIM"),
            )
            .unwrap();
        let ModemEvent::Received { ack, .. } = next_message(&mut r.events).await else {
            panic!()
        };
        held.push(ack);
    }
    // The listing (~750 bytes) trickles out for longer than the 3 s SIM timeout as a whole.
    r.ctl()
        .set_fault(0, Fault::SlowBaud { baud: 2400 })
        .await
        .unwrap();
    let mut state = r.handle.state();
    let watcher = tokio::spawn(async move {
        let mut phases = Vec::new();
        while state.changed().await.is_ok() {
            phases.push(state.borrow_and_update().phase);
        }
        phases
    });
    let h = r.handle.clone();
    tokio::time::sleep(Duration::from_secs(4)).await; // a sweep is listing by now
    let reply = h.at("AT+CMGL=4").await.unwrap();
    assert_eq!(
        reply.lines.iter().filter(|l| l.starts_with("+CMGL:")).count(),
        6,
        "{reply:?}"
    );
    r.shutdown.cancel();
    let phases = watcher.await.unwrap();
    assert!(!phases.contains(&ModemPhase::Recovering), "{phases:?}");
    drop(held);
}
