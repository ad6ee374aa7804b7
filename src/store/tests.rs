//! Store tests: migrations, group commit, per-job rollback, crash recovery, scoping, idempotency,
//! status-report pairing and the webhook outbox.
use rusqlite::params;
use std::sync::atomic::Ordering;

use super::*;
use crate::config::UncertainPolicy;

async fn open() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("db").join("smsgate.db")).unwrap();
    (dir, store)
}

async fn account(store: &Store, login: &str, role: Role) -> AccountId {
    store
        .create_account(NewAccount {
            login: login.into(),
            password_hash: "h".into(),
            role,
        })
        .await
        .unwrap()
        .id
}

fn new_message(recipient: &str, parts: usize) -> NewMessage {
    NewMessage {
        id: MessageId::new(),
        recipient: recipient.into(),
        group: None,
        text: "hello".into(),
        encoding: TextEncoding::Gsm7,
        priority: 0,
        send_at: None,
        valid_until: None,
        delivery_report: true,
        client_ref: Some("ref-1".into()),
        parts: (0..parts)
            .map(|i| NewPart {
                pdu: vec![0, 0x11, i as u8],
                tpdu_len: 2,
            })
            .collect(),
    }
}

async fn submit_one(store: &Store, account: AccountId, recipient: &str, parts: usize) -> Message {
    match store
        .submit(account, None, vec![new_message(recipient, parts)], 1_000)
        .await
        .unwrap()
    {
        Submitted::Created(mut v) => v.remove(0),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn migrates_from_empty_with_wal_and_full_sync() {
    let (dir, store) = open().await;
    let path = dir.path().join("db").join("smsgate.db");
    assert!(path.exists());
    let (mode, version) = store
        .read(|c| {
            let mode: String = c.pragma_query_value(None, "journal_mode", |r| r.get(0))?;
            let version: i64 = c.pragma_query_value(None, "user_version", |r| r.get(0))?;
            Ok((mode, version))
        })
        .await
        .unwrap();
    assert_eq!(mode, "wal");
    assert_eq!(version as usize, SCHEMA_VERSION);
    let sync: i64 = store
        .write(|c| Ok(c.pragma_query_value(None, "synchronous", |r| r.get(0))?))
        .await
        .unwrap();
    assert_eq!(sync, 2, "synchronous must be FULL");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
        0o600
    );
    store.close().await.unwrap();
    // Reopening an up-to-date database runs no migration and keeps the data.
    let store = Store::open(&path).unwrap();
    assert_eq!(store.account_count().await.unwrap(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn group_commit_batches_concurrent_writes() {
    let (_dir, store) = open().await;
    let a = account(&store, "a", Role::Client).await;
    let before = store.stats().commits.load(Ordering::Relaxed);
    // Hold the writer busy so that the next writes queue up behind it and share one transaction.
    let blocker = store.clone();
    let blocked = tokio::spawn(async move {
        blocker
            .write(|_| {
                std::thread::sleep(std::time::Duration::from_millis(200));
                Ok(())
            })
            .await
    });
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    let mut writes = Vec::new();
    for i in 0..200 {
        let store = store.clone();
        writes.push(tokio::spawn(async move {
            store
                .submit(a, None, vec![new_message(&format!("+4860010{i:04}"), 1)], 1)
                .await
        }));
    }
    blocked.await.unwrap().unwrap();
    for w in writes {
        assert!(matches!(w.await.unwrap().unwrap(), Submitted::Created(_)));
    }
    let commits = store.stats().commits.load(Ordering::Relaxed) - before;
    assert!(
        commits <= 5,
        "201 writes took {commits} transactions: no group commit"
    );
    let page = store
        .list_messages(
            Scope::All,
            MessageFilter {
                limit: 1000,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(page.items.len(), 200);
}

#[tokio::test]
async fn a_failing_job_rolls_back_alone() {
    let (_dir, store) = open().await;
    let s1 = store.clone();
    let s2 = store.clone();
    let (bad, good) = tokio::join!(
        s1.write(|c| {
            c.execute("INSERT INTO accounts (login, password_hash, role, created_at) VALUES ('bad', 'h', 'client', 0)", [])?;
            Err::<(), _>(StoreError::Conflict("refused".into()))
        }),
        s2.write(|c| {
            c.execute("INSERT INTO accounts (login, password_hash, role, created_at) VALUES ('good', 'h', 'client', 0)", [])?;
            Ok(())
        })
    );
    assert!(bad.is_err());
    good.unwrap();
    assert!(store.account_by_login("bad").await.unwrap().is_none());
    assert!(store.account_by_login("good").await.unwrap().is_some());
    // The role CHECK holds in the database itself.
    let err = store
        .write(|c| {
            Ok(c.execute(
                "INSERT INTO accounts (login, password_hash, role, created_at) VALUES ('x','h','root',0)",
                [],
            )?)
        })
        .await;
    assert!(err.is_err());
}

#[tokio::test]
async fn accounts_and_tokens() {
    let (_dir, store) = open().await;
    let a = account(&store, "shop", Role::Client).await;
    let dup = store
        .create_account(NewAccount {
            login: "shop".into(),
            password_hash: "x".into(),
            role: Role::Admin,
        })
        .await;
    assert!(matches!(dup, Err(StoreError::Conflict(_))));
    let t = store
        .create_token(NewToken {
            account_id: a,
            token_hash: "th".into(),
            name: "ci".into(),
            scopes: "send".into(),
            expires_at: None,
        })
        .await
        .unwrap();
    let (found, acc) = store.token_by_hash("th").await.unwrap().unwrap();
    assert_eq!(found, t);
    assert_eq!(acc.login, "shop");
    assert!(found.is_usable(time::OffsetDateTime::now_utc()));
    let other = account(&store, "other", Role::Client).await;
    assert!(
        !store.revoke_token(other, t.id).await.unwrap(),
        "another account cannot revoke it"
    );
    assert!(store.revoke_token(a, t.id).await.unwrap());
    assert!(
        !store
            .token_by_hash("th")
            .await
            .unwrap()
            .unwrap()
            .0
            .is_usable(time::OffsetDateTime::now_utc())
    );
}

#[tokio::test]
async fn idempotency_keys_replay_or_conflict() {
    let (_dir, store) = open().await;
    let a = account(&store, "a", Role::Client).await;
    let b = account(&store, "b", Role::Client).await;
    let key = |h: &str| {
        Some(IdempotencyKey {
            key: "k1".into(),
            request_hash: h.into(),
        })
    };
    let first = store
        .submit(
            a,
            key("h1"),
            vec![new_message("+48600100200", 1), new_message("+48600100201", 1)],
            1,
        )
        .await
        .unwrap();
    let Submitted::Created(created) = first else {
        panic!()
    };
    let ids: Vec<MessageId> = created.iter().map(|m| m.id).collect();
    let again = store
        .submit(a, key("h1"), vec![new_message("+48600100200", 1)], 2)
        .await
        .unwrap();
    assert_eq!(again, Submitted::Replayed(ids));
    let clash = store
        .submit(a, key("h2"), vec![new_message("+48600100200", 1)], 3)
        .await;
    assert!(matches!(clash, Err(StoreError::Conflict(_))));
    // Keys are per account.
    assert!(matches!(
        store
            .submit(b, key("h2"), vec![new_message("+48600100200", 1)], 3)
            .await
            .unwrap(),
        Submitted::Created(_)
    ));
    let all = store
        .list_messages(
            Scope::All,
            MessageFilter {
                limit: 10,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(all.items.len(), 3, "the conflicting request wrote nothing");
}

#[tokio::test]
async fn scope_hides_other_accounts_rows() {
    let (_dir, store) = open().await;
    let a = account(&store, "a", Role::Client).await;
    let b = account(&store, "b", Role::Client).await;
    let m = submit_one(&store, a, "+48600100200", 1).await;
    assert!(store.message(Scope::Account(a), m.id).await.unwrap().is_some());
    assert!(store.message(Scope::Account(b), m.id).await.unwrap().is_none());
    assert!(
        store
            .message_detail(Scope::Account(b), m.id)
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(
        store.cancel_message(Scope::Account(b), m.id, 5).await.unwrap(),
        CancelOutcome::NotFound
    );
    let listed = store
        .list_messages(
            Scope::Account(b),
            MessageFilter {
                limit: 10,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert!(listed.items.is_empty());
    assert!(matches!(
        store.cancel_message(Scope::Account(a), m.id, 5).await.unwrap(),
        CancelOutcome::Cancelled(_)
    ));
    assert_eq!(
        store.cancel_message(Scope::Account(a), m.id, 6).await.unwrap(),
        CancelOutcome::TooLate(MessageStatus::Cancelled)
    );
}

#[tokio::test]
async fn list_pages_with_a_cursor() {
    let (_dir, store) = open().await;
    let a = account(&store, "a", Role::Client).await;
    let mut ids = Vec::new();
    for i in 0..7 {
        ids.push(submit_one(&store, a, &format!("+4860010020{i}"), 1).await.id);
    }
    ids.reverse();
    let mut seen = Vec::new();
    let mut before = None;
    loop {
        let page = store
            .list_messages(
                Scope::Account(a),
                MessageFilter {
                    limit: 3,
                    before,
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        seen.extend(page.items.iter().map(|m| m.id));
        match page.next_cursor {
            Some(c) => before = Some(c.parse().unwrap()),
            None => break,
        }
    }
    assert_eq!(seen, ids);
    let filtered = store
        .list_messages(
            Scope::Account(a),
            MessageFilter {
                recipient: Some("+48600100203".into()),
                limit: 10,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(filtered.items.len(), 1);
}

#[tokio::test]
async fn attempts_record_parts_status_and_events_atomically() {
    let (_dir, store) = open().await;
    let a = account(&store, "a", Role::Client).await;
    store
        .create_webhook(NewWebhook {
            account_id: a,
            url: "https://example.test/h".into(),
            secret: "s".repeat(16),
            events: vec![EventType::SmsSent, EventType::SmsDelivered, EventType::SmsFailed],
        })
        .await
        .unwrap();
    let m = submit_one(&store, a, "+48600100200", 2).await;
    let start = store
        .begin_attempt(m.id, "imei-1".into(), 10)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(start.attempt_no, 1);
    assert_eq!(start.parts.len(), 2);
    assert_eq!(
        store.message(Scope::All, m.id).await.unwrap().unwrap().status,
        MessageStatus::Sending
    );
    // A second attempt cannot start while one runs.
    assert!(
        store
            .begin_attempt(m.id, "imei-2".into(), 11)
            .await
            .unwrap()
            .is_none()
    );
    // Part 1 went out, then a temporary error: retry later with only part 2.
    let end = AttemptEnd {
        attempt_id: start.attempt_id,
        message_id: m.id,
        modem: "imei-1".into(),
        sent: vec![(1, 7)],
        outcome: AttemptOutcome::Retry {
            next_attempt_at: 500,
            error: "network busy".into(),
        },
        now: 20,
    };
    let after = store.finish_attempt(end).await.unwrap().unwrap();
    assert_eq!(after.status, MessageStatus::Queued);
    assert_eq!(after.error.as_deref(), Some("network busy"));
    let queued = store.queued_messages().await.unwrap();
    assert_eq!(queued[0].pending_parts, 1);
    assert_eq!(queued[0].pinned_modem.as_deref(), Some("imei-1"));
    assert_eq!(queued[0].next_attempt_at, Some(500));
    let start = store
        .begin_attempt(m.id, "imei-1".into(), 600)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(start.attempt_no, 2);
    assert_eq!(start.parts.iter().map(|p| p.seq).collect::<Vec<_>>(), vec![2]);
    let end = AttemptEnd {
        attempt_id: start.attempt_id,
        message_id: m.id,
        modem: "imei-1".into(),
        sent: vec![(2, 8)],
        outcome: AttemptOutcome::Sent,
        now: 610,
    };
    let sent = store.finish_attempt(end).await.unwrap().unwrap();
    assert_eq!(sent.status, MessageStatus::Sent);
    assert_eq!(sent.error, None, "sent clears the first attempt's error");
    let detail = store
        .message_detail(Scope::Account(a), m.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        detail.part_list.iter().map(|p| p.mr).collect::<Vec<_>>(),
        vec![Some(7), Some(8)]
    );
    assert_eq!(detail.attempt_list.len(), 2);
    assert_eq!(detail.attempt_list[0].outcome.as_deref(), Some("retry"));
    let due = store.due_webhooks(1_000_000, 10).await.unwrap();
    assert_eq!(due.len(), 1, "only the final sent event, not the retry");
    assert_eq!(due[0].event_type, EventType::SmsSent);
    let payload: serde_json::Value = serde_json::from_str(&due[0].payload).unwrap();
    assert_eq!(payload["type"], "sms:sent");
    assert_eq!(payload["id"], due[0].event_id.to_string());
    assert_eq!(payload["data"]["message_id"], m.id.to_string());
    assert_eq!(payload["data"]["client_ref"], "ref-1");
    // Delivery bookkeeping.
    store
        .reschedule_webhook(due[0].id, Some(2_000_000), "HTTP 500".into(), 1_000_000)
        .await
        .unwrap();
    assert!(store.due_webhooks(1_500_000, 10).await.unwrap().is_empty());
    assert_eq!(store.next_webhook_due().await.unwrap(), Some(2_000_000));
    let due = store.due_webhooks(2_000_000, 10).await.unwrap();
    assert_eq!(due[0].attempts, 1);
    store.mark_webhook_delivered(due[0].id, 2_000_001).await.unwrap();
    assert!(store.due_webhooks(i64::MAX, 10).await.unwrap().is_empty());
    assert_eq!(store.next_webhook_due().await.unwrap(), None);
}

#[tokio::test]
async fn status_reports_pair_with_the_most_recent_part_despite_mr_wrap() {
    let (_dir, store) = open().await;
    let a = account(&store, "a", Role::Client).await;
    store
        .create_webhook(NewWebhook {
            account_id: a,
            url: "https://example.test/h".into(),
            secret: "s".repeat(16),
            events: vec![EventType::SmsDelivered],
        })
        .await
        .unwrap();
    let send = |m: MessageId, at: i64, mr: u8| {
        let store = store.clone();
        async move {
            let s = store
                .begin_attempt(m, "imei-1".into(), at)
                .await
                .unwrap()
                .unwrap();
            let end = AttemptEnd {
                attempt_id: s.attempt_id,
                message_id: m,
                modem: "imei-1".into(),
                sent: s
                    .parts
                    .iter()
                    .map(|p| (p.seq, mr.wrapping_add(p.seq as u8 - 1)))
                    .collect(),
                outcome: AttemptOutcome::Sent,
                now: at,
            };
            store.finish_attempt(end).await.unwrap();
        }
    };
    // An old message got MR 5; 256 sends later the MR wrapped and a new message got 5 and 6 again.
    let old = submit_one(&store, a, "+48600100200", 1).await;
    send(old.id, 100, 5).await;
    let new = submit_one(&store, a, "+48600100200", 2).await;
    send(new.id, 9_000, 5).await;
    let report = |mr: u8, kind, status| StatusReportIn {
        modem: "imei-1".into(),
        pdu: vec![1, 2, 3],
        mr,
        recipient: Some("600100200".into()),
        status,
        kind,
        now: 10_000,
    };
    let r = store
        .record_status_report(report(5, ReportKind::Delivered, 0))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (r.message_id, r.seq, r.status),
        (new.id, 1, MessageStatus::Sent),
        "one of two parts delivered"
    );
    let r = store
        .record_status_report(report(6, ReportKind::Delivered, 0))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (r.message_id, r.seq, r.status),
        (new.id, 2, MessageStatus::Delivered)
    );
    assert_eq!(
        store.message(Scope::All, old.id).await.unwrap().unwrap().status,
        MessageStatus::Sent
    );
    // A report for another recipient or modem pairs with nothing, and is still kept.
    let mut stray = report(5, ReportKind::Delivered, 0);
    stray.recipient = Some("+48999999999".into());
    assert!(store.record_status_report(stray).await.unwrap().is_none());
    let kept: i64 = store
        .read(|c| Ok(c.query_row("SELECT count(*) FROM delivery_reports", [], |r| r.get(0))?))
        .await
        .unwrap();
    assert_eq!(kept, 3);
    let due = store.due_webhooks(i64::MAX, 10).await.unwrap();
    assert_eq!(due.len(), 1);
    assert_eq!(due[0].event_type, EventType::SmsDelivered);
    // A permanent error report fails the message.
    let r = store
        .record_status_report(report(5, ReportKind::Failed, 0x41))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(r.status, MessageStatus::Failed);
}

#[tokio::test]
async fn crash_while_sending_leaves_uncertain_after_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("smsgate.db");
    let (sending, queued) = {
        let store = Store::open(&path).unwrap();
        let a = account(&store, "a", Role::Client).await;
        store
            .create_webhook(NewWebhook {
                account_id: a,
                url: "https://example.test/h".into(),
                secret: "s".repeat(16),
                events: vec![EventType::SmsFailed],
            })
            .await
            .unwrap();
        let m1 = submit_one(&store, a, "+48600100200", 1).await;
        let m2 = submit_one(&store, a, "+48600100201", 1).await;
        store
            .begin_attempt(m1.id, "imei-1".into(), 10)
            .await
            .unwrap()
            .unwrap();
        // No close: the process "dies" with m1 handed to a modem.
        drop(store);
        (m1.id, m2.id)
    };
    let store = Store::open(&path).unwrap();
    let rec = store
        .recover_interrupted(UncertainPolicy::Report, 99)
        .await
        .unwrap();
    assert_eq!(rec.uncertain, vec![sending]);
    let m = store.message(Scope::All, sending).await.unwrap().unwrap();
    assert_eq!(m.status, MessageStatus::Uncertain);
    assert!(m.error.unwrap().contains("may or may not"));
    let d = store.message_detail(Scope::All, sending).await.unwrap().unwrap();
    assert_eq!(d.attempt_list[0].outcome.as_deref(), Some("interrupted"));
    assert_eq!(
        store.message(Scope::All, queued).await.unwrap().unwrap().status,
        MessageStatus::Queued
    );
    assert_eq!(store.queued_messages().await.unwrap().len(), 1);
    assert_eq!(
        store.due_webhooks(i64::MAX, 10).await.unwrap()[0].event_type,
        EventType::SmsFailed
    );
    // Recovery is idempotent.
    assert_eq!(
        store
            .recover_interrupted(UncertainPolicy::Report, 100)
            .await
            .unwrap(),
        Recovered::default()
    );
}

#[tokio::test]
async fn crash_while_sending_requeues_under_resend_policy() {
    let (_dir, store) = open().await;
    let a = account(&store, "a", Role::Client).await;
    let m = submit_one(&store, a, "+48600100200", 1).await;
    store
        .begin_attempt(m.id, "imei-1".into(), 10)
        .await
        .unwrap()
        .unwrap();
    let rec = store
        .recover_interrupted(UncertainPolicy::Resend, 99)
        .await
        .unwrap();
    assert_eq!(rec.requeued, vec![m.id]);
    assert_eq!(store.queued_messages().await.unwrap()[0].id, m.id);
}

#[tokio::test]
async fn inbox_fragments_and_scoping() {
    let (_dir, store) = open().await;
    let a = account(&store, "a", Role::Client).await;
    let b = account(&store, "b", Role::Client).await;
    store
        .create_webhook(NewWebhook {
            account_id: a,
            url: "https://example.test/h".into(),
            secret: "s".repeat(16),
            events: vec![EventType::SmsReceived],
        })
        .await
        .unwrap();
    let f1 = store
        .add_inbox_fragment("imei-1".into(), vec![0, 4], 1)
        .await
        .unwrap();
    let f2 = store
        .add_inbox_fragment("imei-1".into(), vec![0, 5], 2)
        .await
        .unwrap();
    assert_eq!(store.inbox_fragments().await.unwrap().len(), 2);
    let msg = NewInbox {
        id: InboxId::new(),
        account_id: Some(a),
        originator: "+48600100200".into(),
        text: "hi there".into(),
        modem: "imei-1".into(),
        received_at: 3,
        parts: 2,
        incomplete: false,
    };
    let stored = store.store_inbox(msg, vec![f1, f2]).await.unwrap();
    assert!(store.inbox_fragments().await.unwrap().is_empty());
    assert_eq!(
        store
            .inbox_item(Scope::Account(a), stored.id)
            .await
            .unwrap()
            .unwrap()
            .text,
        "hi there"
    );
    assert!(
        store
            .inbox_item(Scope::Account(b), stored.id)
            .await
            .unwrap()
            .is_none()
    );
    assert!(store.inbox_item(Scope::All, stored.id).await.unwrap().is_some());
    assert_eq!(
        store.due_webhooks(i64::MAX, 10).await.unwrap()[0].event_type,
        EventType::SmsReceived
    );
    assert!(!store.delete_inbox(Scope::Account(b), stored.id).await.unwrap());
    assert!(store.delete_inbox(Scope::Account(a), stored.id).await.unwrap());
    assert!(store.inbox_item(Scope::All, stored.id).await.unwrap().is_none());
}

#[tokio::test]
async fn modem_up_down_events_go_to_operators() {
    let (_dir, store) = open().await;
    let admin = account(&store, "root", Role::Admin).await;
    let client = account(&store, "c", Role::Client).await;
    for account_id in [admin, client] {
        store
            .create_webhook(NewWebhook {
                account_id,
                url: "https://example.test/h".into(),
                secret: "s".repeat(16),
                events: vec![EventType::ModemUp, EventType::ModemDown],
            })
            .await
            .unwrap();
    }
    let update = |up| ModemUpdate {
        id: "351234".into(),
        name: Some("m1".into()),
        port: Some("/dev/ttyUSB0".into()),
        group: Some("default".into()),
        up,
        state: serde_json::json!({"phase": if up { "ready" } else { "failed" }}),
    };
    assert_eq!(store.upsert_modem(update(false), 1).await.unwrap(), None);
    assert_eq!(
        store.upsert_modem(update(true), 2).await.unwrap(),
        Some(EventType::ModemUp)
    );
    assert_eq!(store.upsert_modem(update(true), 3).await.unwrap(), None);
    assert_eq!(
        store.upsert_modem(update(false), 4).await.unwrap(),
        Some(EventType::ModemDown)
    );
    let due = store.due_webhooks(i64::MAX, 10).await.unwrap();
    assert_eq!(due.len(), 2);
    assert!(
        due.iter().all(|d| d.account_id == admin),
        "clients get no modem events"
    );
    let m = store.modem("m1").await.unwrap().unwrap();
    assert_eq!(m.id, "351234");
    assert!(!m.up);
    assert_eq!(m.state["phase"], "failed");
}

#[tokio::test]
async fn deleting_an_account_removes_its_data() {
    let (_dir, store) = open().await;
    let a = account(&store, "a", Role::Client).await;
    let m = submit_one(&store, a, "+48600100200", 2).await;
    store.begin_attempt(m.id, "imei-1".into(), 10).await.unwrap();
    assert!(store.delete_account(a).await.unwrap());
    let counts: (i64, i64, i64) = store
        .read(|c| {
            Ok(c.query_row(
                "SELECT (SELECT count(*) FROM messages), (SELECT count(*) FROM message_parts),
                        (SELECT count(*) FROM attempts)",
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )?)
        })
        .await
        .unwrap();
    assert_eq!(counts, (0, 0, 0));
}

#[tokio::test]
async fn expiry_only_touches_queued_messages() {
    let (_dir, store) = open().await;
    let a = account(&store, "a", Role::Client).await;
    let m1 = submit_one(&store, a, "+48600100200", 1).await;
    let m2 = submit_one(&store, a, "+48600100201", 1).await;
    store.begin_attempt(m2.id, "imei-1".into(), 10).await.unwrap();
    let expired = store.expire_messages(vec![m1.id, m2.id], 20).await.unwrap();
    assert_eq!(expired.iter().map(|m| m.id).collect::<Vec<_>>(), vec![m1.id]);
    assert_eq!(expired[0].status, MessageStatus::Expired);
}

#[tokio::test]
async fn closed_store_refuses_writes() {
    let (_dir, store) = open().await;
    store.close().await.unwrap();
    assert!(matches!(store.flush().await, Err(StoreError::Closed)));
}

#[tokio::test]
async fn retention_purges_old_finished_data_only() {
    let (_dir, store) = open().await;
    let a = account(&store, "a", Role::Client).await;
    let old_done = submit_one(&store, a, "+48600100200", 2).await;
    let old_queued = submit_one(&store, a, "+48600100201", 1).await;
    let s = store
        .begin_attempt(old_done.id, "imei-1".into(), 10)
        .await
        .unwrap()
        .unwrap();
    let end = AttemptEnd {
        attempt_id: s.attempt_id,
        message_id: old_done.id,
        modem: "imei-1".into(),
        sent: vec![(1, 1), (2, 2)],
        outcome: AttemptOutcome::Sent,
        now: 20,
    };
    store.finish_attempt(end).await.unwrap();
    let recent = match store
        .submit(a, None, vec![new_message("+48600100202", 1)], 5_000)
        .await
        .unwrap()
    {
        Submitted::Created(mut v) => v.remove(0),
        other => panic!("{other:?}"),
    };
    let inbox = |at| NewInbox {
        id: InboxId::new(),
        account_id: Some(a),
        originator: "+48600100200".into(),
        text: "x".into(),
        modem: "imei-1".into(),
        received_at: at,
        parts: 1,
        incomplete: false,
    };
    store.store_inbox(inbox(100), vec![]).await.unwrap();
    let kept_inbox = store.store_inbox(inbox(6_000), vec![]).await.unwrap();
    let purged = store.purge_older_than(4_000).await.unwrap();
    assert_eq!((purged.messages, purged.inbox), (1, 1));
    assert!(store.message(Scope::All, old_done.id).await.unwrap().is_none());
    assert!(
        store.message(Scope::All, old_queued.id).await.unwrap().is_some(),
        "queued messages are kept"
    );
    assert!(store.message(Scope::All, recent.id).await.unwrap().is_some());
    assert!(
        store
            .inbox_item(Scope::All, kept_inbox.id)
            .await
            .unwrap()
            .is_some()
    );
    let parts: i64 = store
        .read(|c| Ok(c.query_row("SELECT count(*) FROM message_parts", [], |r| r.get(0))?))
        .await
        .unwrap();
    assert_eq!(parts, 2, "the purged message's parts went with it");
    assert_eq!(store.purge_older_than(4_000).await.unwrap(), Purged::default());
}

#[tokio::test]
async fn a_report_that_overtakes_the_send_record_is_paired_later() {
    let (_dir, store) = open().await;
    let a = account(&store, "a", Role::Client).await;
    let m = submit_one(&store, a, "+48600100200", 1).await;
    let s = store
        .begin_attempt(m.id, "imei-1".into(), 10)
        .await
        .unwrap()
        .unwrap();
    // The network reports delivery before the dispatcher has recorded the MR.
    let early = StatusReportIn {
        modem: "imei-1".into(),
        pdu: vec![0],
        mr: 77,
        recipient: Some("+48600100200".into()),
        status: 0,
        kind: report_kind(0),
        now: 15,
    };
    assert!(store.record_status_report(early).await.unwrap().is_none());
    let end = AttemptEnd {
        attempt_id: s.attempt_id,
        message_id: m.id,
        modem: "imei-1".into(),
        sent: vec![(1, 77)],
        outcome: AttemptOutcome::Sent,
        now: 20,
    };
    let after = store.finish_attempt(end).await.unwrap().unwrap();
    assert_eq!(after.status, MessageStatus::Delivered);
    // A stale unpaired report from before the attempt is not taken.
    let m2 = submit_one(&store, a, "+48600100200", 1).await;
    let s2 = store
        .begin_attempt(m2.id, "imei-1".into(), 30)
        .await
        .unwrap()
        .unwrap();
    let end = AttemptEnd {
        attempt_id: s2.attempt_id,
        message_id: m2.id,
        modem: "imei-1".into(),
        sent: vec![(1, 78)],
        outcome: AttemptOutcome::Sent,
        now: 40,
    };
    assert_eq!(
        store.finish_attempt(end).await.unwrap().unwrap().status,
        MessageStatus::Sent
    );
}

#[test]
fn tp_status_classes() {
    let table = [
        (0x00, ReportKind::Delivered),
        (0x02, ReportKind::Delivered),
        (0x20, ReportKind::Pending),
        (0x21, ReportKind::Pending),
        (0x41, ReportKind::Failed),
        (0x63, ReportKind::Failed),
    ];
    for (status, kind) in table {
        assert_eq!(report_kind(status), kind, "TP-Status {status:#04x}");
    }
}

#[tokio::test]
async fn audit_entries_are_purged_by_their_own_cutoff() {
    let (_dir, store) = open().await;
    for at in [100, 200, 9_000] {
        store
            .audit(
                NewAuditEntry {
                    action: "login.failed".into(),
                    ..Default::default()
                },
                at,
            )
            .await
            .unwrap();
    }
    // The data purge leaves the audit log alone; the audit purge takes only what is older than its cutoff.
    store.purge_older_than(10_000).await.unwrap();
    assert_eq!(store.audit_log(None, 10).await.unwrap().len(), 3);
    assert_eq!(store.purge_audit_older_than(1_000).await.unwrap(), 2);
    let left = store.audit_log(None, 10).await.unwrap();
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].at, ms_to_datetime(9_000));
}

/// Bytes of the database file plus its WAL.
fn file_bytes(path: &Path) -> u64 {
    let wal = {
        let mut p = path.as_os_str().to_owned();
        p.push("-wal");
        PathBuf::from(p)
    };
    std::fs::metadata(path).map(|m| m.len()).unwrap_or(0)
        + std::fs::metadata(wal).map(|m| m.len()).unwrap_or(0)
}

#[tokio::test]
async fn a_new_database_uses_incremental_vacuum_and_a_purge_gives_space_back() {
    let (dir, store) = open().await;
    let path = dir.path().join("db").join("smsgate.db");
    assert_eq!(
        store.space().await.unwrap().auto_vacuum,
        2,
        "incremental from the start"
    );
    let a = account(&store, "a", Role::Client).await;
    // ~8 MB of finished messages, old enough to be purged.
    let big = "x".repeat(2_000);
    for chunk in 0..40 {
        let text = big.clone();
        store
            .write(move |c| {
                let mut stmt = c.prepare_cached(
                    "INSERT INTO messages (id, account_id, recipient, text, encoding, status, parts, created_at,
                         updated_at) VALUES (?1, ?2, '+48600100200', ?3, 'gsm7', 'sent', 1, 10, 10)",
                )?;
                for i in 0..100 {
                    stmt.execute(params![format!("m{chunk:03}-{i:03}"), a.0, text])?;
                }
                Ok(())
            })
            .await
            .unwrap();
    }
    store.checkpoint_truncate().await.unwrap();
    let full = file_bytes(&path);
    assert!(full > 8_000_000, "{full}");
    let purged = store.purge_older_than(1_000).await.unwrap();
    assert_eq!(purged.messages, 4_000);
    store.checkpoint_truncate().await.unwrap();
    let space = store.space().await.unwrap();
    assert!(space.free_pages > 1_500, "the purge frees pages: {space:?}");
    assert_eq!(
        file_bytes(&path),
        full,
        "without a vacuum the file keeps its size"
    );
    // Step by step: each step returns at most VACUUM_STEP_PAGES.
    let mut left = space.free_pages;
    let mut steps = 0;
    while left > 0 {
        let next = store.reclaim_free_pages(VACUUM_STEP_PAGES).await.unwrap();
        assert_eq!(
            next,
            left.saturating_sub(u64::from(VACUUM_STEP_PAGES)),
            "each step returns a full step of pages"
        );
        left = next;
        steps += 1;
    }
    assert_eq!(steps, space.free_pages.div_ceil(u64::from(VACUUM_STEP_PAGES)));
    store.checkpoint_truncate().await.unwrap();
    let after = file_bytes(&path);
    assert!(after < full / 8, "the file shrinks: {full} -> {after}");
    assert_eq!(store.space().await.unwrap().free_pages, 0);
    // Refilling and purging again does not grow the file beyond the first peak.
    store.close().await.unwrap();
}

#[tokio::test]
async fn an_existing_database_without_auto_vacuum_is_converted_once_at_open() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("smsgate.db");
    {
        // As an older build created it: auto_vacuum NONE, at the current schema, with data.
        let mut conn = Connection::open(&path).unwrap();
        conn.pragma_update(None, "journal_mode", "WAL").unwrap();
        schema::migrate(&mut conn).unwrap();
        conn.execute(
            "INSERT INTO accounts (login, password_hash, role, created_at) VALUES ('old', 'h', 'client', 1)",
            [],
        )
        .unwrap();
        let mode: i64 = conn
            .pragma_query_value(None, "auto_vacuum", |r| r.get(0))
            .unwrap();
        assert_eq!(mode, 0);
    }
    let store = Store::open(&path).unwrap();
    let space = store.space().await.unwrap();
    assert_eq!(space.auto_vacuum, 2);
    assert!(store.account_by_login("old").await.unwrap().is_some());
    store.close().await.unwrap();
    // Opening again does not rebuild it (the mode is already right).
    let store = Store::open(&path).unwrap();
    assert_eq!(store.space().await.unwrap().auto_vacuum, 2);
    store.close().await.unwrap();
}

#[tokio::test]
async fn runtime_settings_are_saved_and_replaced() {
    let (_dir, store) = open().await;
    assert_eq!(store.runtime_setting("retention").await.unwrap(), None);
    store
        .put_runtime_setting("retention", "{\"days\":1}".into(), Some("root".into()), 5)
        .await
        .unwrap();
    store
        .put_runtime_setting("retention", "{\"days\":2}".into(), None, 6)
        .await
        .unwrap();
    assert_eq!(
        store.runtime_setting("retention").await.unwrap().as_deref(),
        Some("{\"days\":2}")
    );
}

/// Stage settings are cached per account; every change (pool, certificate requirement, the account
/// itself being deleted and its id reused) is seen by the next read.
#[tokio::test]
async fn cached_stage_settings_follow_every_change() {
    let (_d, store) = open().await;
    let a = account(&store, "shop", Role::Client).await;
    assert!(store.stage_settings(a).await.unwrap().ip_pool.is_empty());
    assert!(
        store.stage_settings(a).await.unwrap().ip_pool.is_empty(),
        "cached"
    );
    assert!(store.set_ip_pool(a, vec!["10.0.0.0/8".into()]).await.unwrap());
    assert_eq!(store.stage_settings(a).await.unwrap().ip_pool, ["10.0.0.0/8"]);
    assert!(store.set_cert_required(a, true).await.unwrap());
    assert!(store.stage_settings(a).await.unwrap().cert_required);
    assert!(store.delete_account(a).await.unwrap());
    let b = account(&store, "other", Role::Client).await;
    let settings = store.stage_settings(b).await.unwrap();
    assert!(
        !settings.cert_required && settings.ip_pool.is_empty(),
        "{b:?} {settings:?}"
    );
}
