//! The store's queue domain on both backends: the same cases run on SQLite (one appliance) and on
//! PostgreSQL (a cluster node: SQLite for its own data, the shared queue in a real PostgreSQL server
//! over TLS with client certificates). Then the cluster-only behaviour with two nodes on one database:
//! disjoint claims (`SKIP LOCKED`), lease expiry and renewal, fencing by epoch, takeover of `sending`
//! work, webhook deliveries claimed by one node at a time, and wake-ups through LISTEN/NOTIFY.
//!
//! The unit cases of `src/store/tests.rs` that concern shared data run here on both backends too
//! (idempotency per account, scoping of details, MR-wrap pairing, a report overtaking its send record,
//! expiry of queued messages only, account deletion, one attempt at a time with a retry keeping the rest);
//! the others test the SQLite engine itself (WAL and `synchronous = FULL` pragmas, the single writer's
//! group commit and per-job rollback, `close`) or node-local tables (inbox fragments), or are already
//! covered by a case here (accounts and tokens, retention, modem events, crash recovery → takeover).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod pg_harness;

use std::sync::Arc;

use pg_harness::TestPg;
use smsgate::config::UncertainPolicy;
use smsgate::store::pg::PgStore;
use smsgate::store::*;

const MODEM: &str = "m1";

struct Node {
    _dir: tempfile::TempDir,
    store: Store,
    pg: Option<Arc<PgStore>>,
}

async fn sqlite_node() -> Node {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("smsgate.db")).unwrap();
    Node {
        _dir: dir,
        store,
        pg: None,
    }
}

async fn pg_node(pg: &TestPg, db: &str, node: &str, lease_ms: i64) -> Node {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("smsgate.db")).unwrap();
    let shared = Arc::new(
        PgStore::connect_with(&pg.url(db), pg.tls(node), TestPg::node(node, lease_ms))
            .await
            .unwrap(),
    );
    assert!(store.attach_cluster(shared.clone()));
    Node {
        _dir: dir,
        store,
        pg: Some(shared),
    }
}

impl Node {
    /// What the dispatcher gets: all queued messages (SQLite) or this node's claim (PostgreSQL).
    async fn queued(&self, now: i64) -> Vec<QueuedRow> {
        match &self.pg {
            None => self.store.queued_messages().await.unwrap(),
            Some(pg) => pg
                .claim(&["default".into()], &[MODEM.into()], 1000, now, 0)
                .await
                .unwrap(),
        }
    }
}

async fn account(store: &Store, login: &str) -> AccountId {
    store
        .create_account(NewAccount {
            login: login.into(),
            password_hash: "h".into(),
            role: Role::Client,
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

async fn submit(store: &Store, account: AccountId, msgs: Vec<NewMessage>, now: i64) -> Vec<Message> {
    match store.submit(account, None, msgs, now).await.unwrap() {
        Submitted::Created(v) => v,
        other => panic!("{other:?}"),
    }
}

async fn events(store: &Store) -> Vec<String> {
    store
        .due_webhooks(i64::MAX / 2, 1000)
        .await
        .unwrap()
        .into_iter()
        .map(|d| d.event_type.as_str().to_owned())
        .collect()
}

fn end(
    start: &AttemptStart,
    id: MessageId,
    sent: Vec<(u32, u8)>,
    outcome: AttemptOutcome,
    now: i64,
) -> AttemptEnd {
    AttemptEnd {
        attempt_id: start.attempt_id,
        message_id: id,
        modem: MODEM.into(),
        sent,
        outcome,
        now,
    }
}

// ---- the cases both backends must pass ----

async fn case_submit_query_cancel(n: &Node) {
    let alice = account(&n.store, "alice").await;
    let bob = account(&n.store, "bob").await;
    let key = IdempotencyKey {
        key: "k1".into(),
        request_hash: "h1".into(),
    };
    let msgs = vec![new_message("+48600000001", 1), new_message("+48600000002", 1)];
    let ids: Vec<MessageId> = msgs.iter().map(|m| m.id).collect();
    let created = n
        .store
        .submit(alice, Some(key.clone()), msgs, 1_000)
        .await
        .unwrap();
    assert!(matches!(created, Submitted::Created(ref v) if v.len() == 2));
    let replay = n
        .store
        .submit(
            alice,
            Some(key.clone()),
            vec![new_message("+48600000009", 1)],
            1_001,
        )
        .await
        .unwrap();
    assert_eq!(replay, Submitted::Replayed(ids.clone()));
    let other = IdempotencyKey {
        key: "k1".into(),
        request_hash: "different".into(),
    };
    let conflict = n
        .store
        .submit(alice, Some(other), vec![new_message("+1", 1)], 1_002)
        .await;
    assert!(matches!(conflict, Err(StoreError::Conflict(_))), "{conflict:?}");

    let m = n
        .store
        .message(Scope::Account(alice), ids[0])
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (m.status, m.parts, m.recipient.as_str()),
        (MessageStatus::Queued, 1, "+48600000001")
    );
    assert!(
        n.store
            .message(Scope::Account(bob), ids[0])
            .await
            .unwrap()
            .is_none(),
        "IDOR"
    );
    assert_eq!(
        n.store
            .messages_by_ids(Scope::Account(bob), ids.clone())
            .await
            .unwrap()
            .len(),
        0
    );
    submit(&n.store, alice, vec![new_message("+48600000003", 1)], 1_003).await;
    let page = n
        .store
        .list_messages(
            Scope::Account(alice),
            MessageFilter {
                limit: 2,
                ..MessageFilter::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(page.items.len(), 2);
    let cursor: MessageId = page.next_cursor.unwrap().parse().unwrap();
    let rest = n
        .store
        .list_messages(
            Scope::Account(alice),
            MessageFilter {
                limit: 2,
                before: Some(cursor),
                ..MessageFilter::default()
            },
        )
        .await
        .unwrap();
    assert_eq!((rest.items.len(), rest.next_cursor), (1, None));
    assert_eq!(rest.items[0].id, ids[0], "newest first");
    let filtered = n
        .store
        .list_messages(
            Scope::All,
            MessageFilter {
                recipient: Some("+48600000002".into()),
                limit: 10,
                ..MessageFilter::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(filtered.items.len(), 1);

    match n
        .store
        .cancel_message(Scope::Account(bob), ids[1], 2_000)
        .await
        .unwrap()
    {
        CancelOutcome::NotFound => {}
        other => panic!("bob cancelled alice's message: {other:?}"),
    }
    match n
        .store
        .cancel_message(Scope::Account(alice), ids[1], 2_000)
        .await
        .unwrap()
    {
        CancelOutcome::Cancelled(m) => assert_eq!(m.status, MessageStatus::Cancelled),
        other => panic!("{other:?}"),
    }
    match n
        .store
        .cancel_message(Scope::Account(alice), ids[1], 2_001)
        .await
        .unwrap()
    {
        CancelOutcome::TooLate(MessageStatus::Cancelled) => {}
        other => panic!("{other:?}"),
    }
    let queued = n.queued(3_000).await;
    assert_eq!(queued.len(), 2, "the cancelled one is not queued");
    assert!(
        queued
            .iter()
            .all(|q| q.pending_parts == 1 && q.account_id == alice)
    );
}

async fn case_send_cycle_reports_and_events(n: &Node) {
    let alice = account(&n.store, "alice").await;
    n.store
        .create_webhook(NewWebhook {
            account_id: alice,
            url: "https://hooks.invalid/x".into(),
            secret: "s".into(),
            events: vec![EventType::SmsSent, EventType::SmsDelivered],
        })
        .await
        .unwrap();
    let m = submit(&n.store, alice, vec![new_message("+48600100200", 2)], 1_000)
        .await
        .remove(0);
    let q = n.queued(1_000).await;
    assert_eq!(q.len(), 1);
    assert_eq!((q[0].id, q[0].pending_parts, q[0].attempts), (m.id, 2, 0));
    let start = n
        .store
        .begin_attempt(m.id, MODEM.into(), 1_100)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((start.attempt_no, start.parts.len()), (1, 2));
    assert_eq!(start.parts[1].pdu, vec![0, 0x11, 1]);
    assert!(
        n.store
            .begin_attempt(m.id, MODEM.into(), 1_101)
            .await
            .unwrap()
            .is_none(),
        "a message being sent cannot start again"
    );
    // A fast network: the report of part 2 arrives before the send is recorded.
    let early = n
        .store
        .record_status_report(StatusReportIn {
            modem: MODEM.into(),
            pdu: vec![1, 2],
            mr: 8,
            recipient: Some("600100200".into()),
            status: 0,
            kind: ReportKind::Delivered,
            now: 1_150,
        })
        .await
        .unwrap();
    assert_eq!(early, None);
    let done = n
        .store
        .finish_attempt(end(
            &start,
            m.id,
            vec![(1, 7), (2, 8)],
            AttemptOutcome::Sent,
            1_200,
        ))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(done.status, MessageStatus::Sent);
    let paired = n
        .store
        .record_status_report(StatusReportIn {
            modem: MODEM.into(),
            pdu: vec![1, 2],
            mr: 7,
            recipient: Some("+48600100200".into()),
            status: 0,
            kind: ReportKind::Delivered,
            now: 1_300,
        })
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (paired.message_id, paired.seq, paired.status),
        (m.id, 1, MessageStatus::Delivered)
    );
    let detail = n
        .store
        .message_detail(Scope::Account(alice), m.id)
        .await
        .unwrap()
        .unwrap();
    assert!(detail.part_list.iter().all(|p| p.status == PartStatus::Delivered));
    assert_eq!(detail.part_list[0].mr, Some(7));
    assert_eq!(detail.attempt_list.len(), 1);
    assert_eq!(detail.attempt_list[0].outcome.as_deref(), Some("sent"));
    assert_eq!(events(&n.store).await, vec!["sms:sent", "sms:delivered"]);
    let counts = n.store.sent_parts_since(0).await.unwrap();
    assert_eq!(counts.get(MODEM), Some(&2));
    assert!(n.queued(5_000).await.is_empty());
}

async fn case_retry_fail_expire_recover(n: &Node) {
    let alice = account(&n.store, "alice").await;
    let mut expiring = new_message("+48600000005", 1);
    expiring.valid_until = Some(5_000);
    let msgs = vec![
        new_message("+48600000004", 1),
        expiring,
        new_message("+48600000006", 1),
    ];
    let [retried, expiring, crashed] = [msgs[0].id, msgs[1].id, msgs[2].id];
    submit(&n.store, alice, msgs, 1_000).await;
    assert_eq!(n.queued(1_000).await.len(), 3);

    let start = n
        .store
        .begin_attempt(retried, MODEM.into(), 1_100)
        .await
        .unwrap()
        .unwrap();
    let retry = AttemptOutcome::Retry {
        next_attempt_at: 9_000,
        error: "network busy".into(),
    };
    let m = n
        .store
        .finish_attempt(end(&start, retried, vec![], retry, 1_200))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (m.status, m.error.as_deref()),
        (MessageStatus::Queued, Some("network busy"))
    );
    // Due again: on a cluster the lease was given back, so any node (here this one) claims it anew.
    let due = n.queued(9_000).await;
    assert!(due.iter().any(|q| q.id == retried && q.attempts == 1), "{due:?}");
    let again = n
        .store
        .begin_attempt(retried, MODEM.into(), 9_000)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(again.attempt_no, 2);
    let failed = AttemptOutcome::Failed {
        error: "barred".into(),
    };
    let m = n
        .store
        .finish_attempt(end(&again, retried, vec![], failed, 9_100))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(m.status, MessageStatus::Failed);

    let expired = n
        .store
        .expire_messages(vec![expiring, retried], 6_000)
        .await
        .unwrap();
    assert_eq!(expired.len(), 1, "only a queued message expires");
    assert_eq!(expired[0].status, MessageStatus::Expired);

    n.store
        .begin_attempt(crashed, MODEM.into(), 7_000)
        .await
        .unwrap()
        .unwrap();
    let recovered = n
        .store
        .recover_interrupted(UncertainPolicy::Report, 8_000)
        .await
        .unwrap();
    assert_eq!(recovered.uncertain, vec![crashed]);
    let m = n.store.message(Scope::All, crashed).await.unwrap().unwrap();
    assert_eq!(m.status, MessageStatus::Uncertain);
    let detail = n
        .store
        .message_detail(Scope::All, crashed)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(detail.attempt_list[0].outcome.as_deref(), Some("interrupted"));
}

async fn case_inbox(n: &Node) {
    let alice = account(&n.store, "alice").await;
    let bob = account(&n.store, "bob").await;
    submit(&n.store, alice, vec![new_message("+48600000007", 1)], 1_000).await;
    assert_eq!(n.store.last_sender_to("+48600000007").await.unwrap(), Some(alice));
    assert_eq!(n.store.last_sender_to("+48999").await.unwrap(), None);
    let fragment = n
        .store
        .add_inbox_fragment(MODEM.into(), vec![1, 2, 3], 1_500)
        .await
        .unwrap();
    let stored = n
        .store
        .store_inbox(
            NewInbox {
                id: InboxId::new(),
                account_id: Some(alice),
                originator: "+48600000007".into(),
                text: "reply".into(),
                modem: MODEM.into(),
                received_at: 2_000,
                parts: 2,
                incomplete: false,
            },
            vec![fragment],
        )
        .await
        .unwrap();
    assert!(
        n.store.inbox_fragments().await.unwrap().is_empty(),
        "fragments consumed"
    );
    let page = n
        .store
        .inbox(
            Scope::Account(alice),
            InboxFilter {
                limit: 10,
                ..InboxFilter::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(page.items.len(), 1);
    assert_eq!(page.items[0].text, "reply");
    assert!(
        n.store
            .inbox_item(Scope::Account(bob), stored.id)
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        !n.store
            .delete_inbox(Scope::Account(bob), stored.id)
            .await
            .unwrap()
    );
    assert!(
        n.store
            .delete_inbox(Scope::Account(alice), stored.id)
            .await
            .unwrap()
    );
    assert!(n.store.inbox_item(Scope::All, stored.id).await.unwrap().is_none());
}

async fn case_retention_and_erasure(n: &Node) {
    let alice = account(&n.store, "alice").await;
    let bob = account(&n.store, "bob").await;
    let msgs = vec![new_message("+48600000001", 1), new_message("+48600000002", 1)];
    let (finished, waiting) = (msgs[0].id, msgs[1].id);
    submit(&n.store, alice, msgs, 1_000).await;
    let bobs = submit(&n.store, bob, vec![new_message("+48600000003", 1)], 1_000).await;
    assert_eq!(n.queued(1_000).await.len(), 3);
    let start = n
        .store
        .begin_attempt(finished, MODEM.into(), 1_100)
        .await
        .unwrap()
        .unwrap();
    n.store
        .finish_attempt(end(&start, finished, vec![(1, 3)], AttemptOutcome::Sent, 1_200))
        .await
        .unwrap();
    let inbox = NewInbox {
        id: InboxId::new(),
        account_id: Some(alice),
        originator: "+48600000001".into(),
        text: "old".into(),
        modem: MODEM.into(),
        received_at: 1_000,
        parts: 1,
        incomplete: false,
    };
    n.store.store_inbox(inbox, vec![]).await.unwrap();
    let purged = n.store.purge_older_than(5_000).await.unwrap();
    assert_eq!((purged.messages, purged.inbox), (1, 1), "{purged:?}");
    assert!(n.store.message(Scope::All, finished).await.unwrap().is_none());
    assert!(
        n.store.message(Scope::All, waiting).await.unwrap().is_some(),
        "queued work is never purged"
    );

    let cancelled = n.store.cancel_queued_of_account(alice, 6_000).await.unwrap();
    assert_eq!(cancelled, vec![waiting]);
    let mut steps = 0;
    loop {
        steps += 1;
        assert!(steps < 50, "erasure does not finish");
        match n.store.erase_account_step(alice, 500, 7_000).await.unwrap() {
            ErasureStep::Finished { .. } => break,
            ErasureStep::Deleted { .. } => {}
            other => panic!("{other:?}"),
        }
    }
    assert!(
        n.store.message(Scope::All, waiting).await.unwrap().is_none(),
        "erased"
    );
    assert!(n.store.tombstone(alice).await.unwrap().is_some());
    assert!(
        n.store.message(Scope::All, bobs[0].id).await.unwrap().is_some(),
        "other accounts keep theirs"
    );
}

async fn case_kannel_dlr(n: &Node) {
    let alice = account(&n.store, "alice").await;
    let dlr = NewKannelDlr {
        url: "http://127.0.0.1:9/dlr?id=%i&type=%d".into(),
        mask: 1 | 2,
        sender: Some("shop".into()),
    };
    let created = match n
        .store
        .submit_with_dlr(alice, vec![new_message("+48600000001", 1)], Some(dlr), 1_000)
        .await
        .unwrap()
    {
        Submitted::Created(v) => v,
        other => panic!("{other:?}"),
    };
    let id = created[0].id;
    assert!(
        n.store.kannel_dlr_due(2_000, 10).await.unwrap().is_empty(),
        "nothing happened yet"
    );
    assert_eq!(
        n.queued(1_000).await.len(),
        1,
        "a Kannel submission is queued like any other"
    );
    let start = n
        .store
        .begin_attempt(id, MODEM.into(), 1_100)
        .await
        .unwrap()
        .unwrap();
    n.store
        .finish_attempt(end(&start, id, vec![(1, 4)], AttemptOutcome::Sent, 1_200))
        .await
        .unwrap();
    let due = n.store.kannel_dlr_due(2_000, 10).await.unwrap();
    assert_eq!(due.len(), 1);
    assert_eq!(
        (due[0].message_id, due[0].status, due[0].mask),
        (id, MessageStatus::Sent, 3)
    );
    n.store.kannel_dlr_failed(id, 0, Some(3_000)).await.unwrap();
    assert!(
        n.store.kannel_dlr_due(2_500, 10).await.unwrap().is_empty(),
        "retry not due yet"
    );
    assert_eq!(n.store.kannel_dlr_due(3_000, 10).await.unwrap()[0].attempts, 1);
    n.store
        .kannel_dlr_reported(id, 2, MessageStatus::Sent, true)
        .await
        .unwrap();
    assert!(
        n.store.kannel_dlr_due(9_000, 10).await.unwrap().is_empty(),
        "finished"
    );
}

async fn case_accounts_tokens_stages(n: &Node) {
    let s = &n.store;
    let alice = account(s, "alice").await;
    let dup = s
        .create_account(NewAccount {
            login: "alice".into(),
            password_hash: "x".into(),
            role: Role::Admin,
        })
        .await;
    assert!(matches!(dup, Err(StoreError::Conflict(_))), "{dup:?}");
    let bob = account(s, "bob").await;
    assert_eq!(s.account_by_login("alice").await.unwrap().unwrap().id, alice);
    assert!(
        s.account_by_login("ALICE").await.unwrap().is_none(),
        "logins are case-sensitive"
    );
    assert_eq!(s.account(bob).await.unwrap().unwrap().login, "bob");
    assert_eq!(s.accounts().await.unwrap().len(), 2);
    assert_eq!(s.account_count().await.unwrap(), 2);
    assert!(s.set_password_hash(alice, "new".into()).await.unwrap());
    assert_eq!(s.account(alice).await.unwrap().unwrap().password_hash, "new");
    assert!(!s.set_password_hash(AccountId(999), "new".into()).await.unwrap());

    let token = s
        .create_token(NewToken {
            account_id: alice,
            token_hash: "th1".into(),
            name: "ci".into(),
            scopes: "send".into(),
            expires_at: Some(9_000),
        })
        .await
        .unwrap();
    let again = s
        .create_token(NewToken {
            account_id: bob,
            token_hash: "th1".into(),
            name: "x".into(),
            scopes: String::new(),
            expires_at: None,
        })
        .await;
    assert!(matches!(again, Err(StoreError::Conflict(_))));
    let (found, owner) = s.token_by_hash("th1").await.unwrap().unwrap();
    assert_eq!(
        (found.id, owner.id, found.scopes.as_str()),
        (token.id, alice, "send")
    );
    assert!(!s.revoke_token(bob, token.id).await.unwrap(), "not bob's token");
    assert!(s.revoke_token(alice, token.id).await.unwrap());
    assert!(s.tokens(alice).await.unwrap()[0].revoked);

    assert_eq!(s.stage_settings(alice).await.unwrap(), StageSettings::default());
    assert!(s.set_cert_required(alice, true).await.unwrap());
    assert!(
        s.set_ip_pool(alice, vec!["10.0.0.0/8".into(), "2001:db8::/32".into()])
            .await
            .unwrap()
    );
    assert!(!s.set_ip_pool(AccountId(999), vec![]).await.unwrap());
    let cert = s
        .add_account_cert(NewAccountCert {
            account_id: alice,
            kind: CertKind::Pinned,
            fingerprint: "ab".into(),
            der: vec![1, 2, 3],
            subject: "CN=shop".into(),
            not_after: 99_000,
        })
        .await
        .unwrap();
    let twice = s
        .add_account_cert(NewAccountCert {
            account_id: alice,
            kind: CertKind::Pinned,
            fingerprint: "ab".into(),
            der: vec![1, 2, 3],
            subject: "CN=shop".into(),
            not_after: 99_000,
        })
        .await;
    assert!(matches!(twice, Err(StoreError::Conflict(_))));
    let st = s.stage_settings(alice).await.unwrap();
    assert!(st.cert_required);
    assert_eq!(st.ip_pool, vec!["10.0.0.0/8", "2001:db8::/32"]);
    assert_eq!((st.certs.len(), st.certs[0].der.clone()), (1, vec![1, 2, 3]));
    assert!(s.revoke_account_cert(alice, cert.id).await.unwrap());
    assert!(s.account_certs(alice).await.unwrap()[0].revoked_at.is_some());
    assert!(!s.revoke_account_cert(bob, cert.id).await.unwrap());
    assert!(s.set_account_disabled(bob, true).await.unwrap());
    let pools = s.all_ip_pools().await.unwrap();
    assert_eq!(pools.len(), 1, "a disabled account's pool does not admit anyone");

    let req = s
        .request_deletion(NewDeletionRequest {
            account_id: bob,
            requested_by: Some("admin".into()),
            source_ip: None,
            requested_at: 1_000,
            execute_after: 5_000,
        })
        .await
        .unwrap()
        .unwrap();
    assert_eq!(req.account_id, bob);
    assert_eq!(s.next_deletion_due().await.unwrap(), Some(5_000));
    assert!(s.due_deletions(4_999).await.unwrap().is_empty());
    assert_eq!(s.due_deletions(5_000).await.unwrap().len(), 1);
    assert!(s.cancel_deletion(bob).await.unwrap());
    assert!(s.deletion_request(bob).await.unwrap().is_none());
    loop {
        match s.erase_account_step(bob, 500, 6_000).await.unwrap() {
            ErasureStep::Finished { .. } => break,
            ErasureStep::Deleted { .. } => {}
            other => panic!("{other:?}"),
        }
    }
    assert!(s.account(bob).await.unwrap().is_none());
    let carol = account(s, "carol").await;
    assert!(carol.0 > bob.0, "an erased account's id is never reused");
}

async fn case_modem_events_reach_operators(n: &Node) {
    let s = &n.store;
    let admin = s
        .create_account(NewAccount {
            login: "root".into(),
            password_hash: "h".into(),
            role: Role::Admin,
        })
        .await
        .unwrap()
        .id;
    let client = account(s, "c").await;
    for account_id in [admin, client] {
        s.create_webhook(NewWebhook {
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
    assert_eq!(s.upsert_modem(update(false), 1).await.unwrap(), None);
    assert_eq!(
        s.upsert_modem(update(true), 2).await.unwrap(),
        Some(EventType::ModemUp)
    );
    assert_eq!(
        s.upsert_modem(update(false), 3).await.unwrap(),
        Some(EventType::ModemDown)
    );
    let due = s.due_webhooks(i64::MAX / 2, 10).await.unwrap();
    assert_eq!(due.len(), 2);
    assert!(
        due.iter().all(|d| d.account_id == admin),
        "clients get no modem events"
    );
    assert!(
        !s.modem("m1").await.unwrap().unwrap().up,
        "the modem row is the node's own"
    );
}

// ---- cases ported from the SQLite-only unit tests (src/store/tests.rs) that concern shared data ----

async fn one(n: &Node, account: AccountId, recipient: &str, parts: usize, now: i64) -> Message {
    submit(&n.store, account, vec![new_message(recipient, parts)], now)
        .await
        .remove(0)
}

/// Claims what is queued (PostgreSQL) and starts an attempt of `id` on [`MODEM`].
async fn begin(n: &Node, id: MessageId, now: i64) -> AttemptStart {
    n.queued(now).await;
    n.store
        .begin_attempt(id, MODEM.into(), now)
        .await
        .unwrap()
        .unwrap()
}

async fn case_idempotency_keys_are_per_account(n: &Node) {
    let a = account(&n.store, "a").await;
    let b = account(&n.store, "b").await;
    let key = |h: &str| {
        Some(IdempotencyKey {
            key: "k1".into(),
            request_hash: h.into(),
        })
    };
    n.store
        .submit(a, key("h1"), vec![new_message("+48600100200", 1)], 1)
        .await
        .unwrap();
    let clash = n
        .store
        .submit(a, key("h2"), vec![new_message("+48600100201", 1)], 2)
        .await;
    assert!(matches!(clash, Err(StoreError::Conflict(_))), "{clash:?}");
    assert!(matches!(
        n.store
            .submit(b, key("h2"), vec![new_message("+48600100202", 1)], 3)
            .await
            .unwrap(),
        Submitted::Created(_)
    ));
    let all = n
        .store
        .list_messages(
            Scope::All,
            MessageFilter {
                limit: 10,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(all.items.len(), 2, "the conflicting request wrote nothing");
    let m = &all.items[0];
    assert!(
        n.store
            .message_detail(Scope::Account(if m.account_id == a { b } else { a }), m.id)
            .await
            .unwrap()
            .is_none(),
        "detail is scoped too"
    );
}

async fn case_status_reports_pair_despite_mr_wrap(n: &Node) {
    let a = account(&n.store, "a").await;
    n.store
        .create_webhook(NewWebhook {
            account_id: a,
            url: "https://example.test/h".into(),
            secret: "s".repeat(16),
            events: vec![EventType::SmsDelivered],
        })
        .await
        .unwrap();
    let send = async |m: MessageId, at: i64, mr: u8| {
        let s = begin(n, m, at).await;
        let sent = s
            .parts
            .iter()
            .map(|p| (p.seq, mr.wrapping_add(p.seq as u8 - 1)))
            .collect();
        n.store
            .finish_attempt(end(&s, m, sent, AttemptOutcome::Sent, at))
            .await
            .unwrap();
    };
    // An old message got MR 5; 256 sends later the MR wrapped and a new message got 5 and 6 again.
    let old = one(n, a, "+48600100200", 1, 50).await;
    send(old.id, 100, 5).await;
    let new = one(n, a, "+48600100200", 2, 8_000).await;
    send(new.id, 9_000, 5).await;
    let report = |mr: u8, kind, status| StatusReportIn {
        modem: MODEM.into(),
        pdu: vec![1, 2, 3],
        mr,
        recipient: Some("600100200".into()),
        status,
        kind,
        now: 10_000,
    };
    let r = n
        .store
        .record_status_report(report(5, ReportKind::Delivered, 0))
        .await
        .unwrap()
        .unwrap();
    assert_eq!((r.message_id, r.seq, r.status), (new.id, 1, MessageStatus::Sent));
    let r = n
        .store
        .record_status_report(report(6, ReportKind::Delivered, 0))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (r.message_id, r.seq, r.status),
        (new.id, 2, MessageStatus::Delivered)
    );
    assert_eq!(
        n.store.message(Scope::All, old.id).await.unwrap().unwrap().status,
        MessageStatus::Sent
    );
    let mut stray = report(5, ReportKind::Delivered, 0);
    stray.recipient = Some("+48999999999".into());
    assert!(n.store.record_status_report(stray).await.unwrap().is_none());
    assert_eq!(events(&n.store).await, vec!["sms:delivered"]);
    let r = n
        .store
        .record_status_report(report(5, ReportKind::Failed, 0x41))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(r.status, MessageStatus::Failed);
}

async fn case_report_overtaking_the_send_record(n: &Node) {
    let a = account(&n.store, "a").await;
    let m = one(n, a, "+48600100200", 1, 1).await;
    let s = begin(n, m.id, 10).await;
    let early = StatusReportIn {
        modem: MODEM.into(),
        pdu: vec![0],
        mr: 77,
        recipient: Some("+48600100200".into()),
        status: 0,
        kind: ReportKind::Delivered,
        now: 15,
    };
    assert!(n.store.record_status_report(early).await.unwrap().is_none());
    let after = n
        .store
        .finish_attempt(end(&s, m.id, vec![(1, 77)], AttemptOutcome::Sent, 20))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(after.status, MessageStatus::Delivered, "paired once recorded");
    // A stale unpaired report from before the attempt is not taken.
    let m2 = one(n, a, "+48600100200", 1, 25).await;
    let s2 = begin(n, m2.id, 30).await;
    let r = n
        .store
        .finish_attempt(end(&s2, m2.id, vec![(1, 78)], AttemptOutcome::Sent, 40))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(r.status, MessageStatus::Sent);
}

async fn case_expiry_and_account_deletion(n: &Node) {
    let a = account(&n.store, "a").await;
    let m1 = one(n, a, "+48600100200", 1, 1).await;
    let m2 = one(n, a, "+48600100201", 2, 1).await;
    begin(n, m2.id, 10).await;
    let expired = n.store.expire_messages(vec![m1.id, m2.id], 20).await.unwrap();
    assert_eq!(expired.iter().map(|m| m.id).collect::<Vec<_>>(), vec![m1.id]);
    assert_eq!(expired[0].status, MessageStatus::Expired);
    assert!(n.store.delete_account(a).await.unwrap());
    for id in [m1.id, m2.id] {
        assert!(n.store.message(Scope::All, id).await.unwrap().is_none());
        assert!(n.store.message_detail(Scope::All, id).await.unwrap().is_none());
    }
}

async fn case_one_attempt_at_a_time_retry_keeps_the_rest(n: &Node) {
    let a = account(&n.store, "a").await;
    let m = one(n, a, "+48600100200", 2, 1).await;
    let start = begin(n, m.id, 10).await;
    assert_eq!((start.attempt_no, start.parts.len()), (1, 2));
    assert!(
        n.store
            .begin_attempt(m.id, MODEM.into(), 11)
            .await
            .unwrap()
            .is_none(),
        "a second attempt cannot start while one runs"
    );
    // Part 1 went out, then a temporary error: retry later with only part 2, on the same modem.
    let retry = AttemptOutcome::Retry {
        next_attempt_at: 500,
        error: "network busy".into(),
    };
    let after = n
        .store
        .finish_attempt(end(&start, m.id, vec![(1, 7)], retry, 20))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (after.status, after.error.as_deref()),
        (MessageStatus::Queued, Some("network busy"))
    );
    let queued = n.queued(600).await;
    assert_eq!(queued.len(), 1);
    assert_eq!(
        (
            queued[0].pending_parts,
            queued[0].pinned_modem.as_deref(),
            queued[0].next_attempt_at
        ),
        (1, Some(MODEM), Some(500))
    );
    let start = n
        .store
        .begin_attempt(m.id, MODEM.into(), 600)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(start.attempt_no, 2);
    assert_eq!(start.parts.iter().map(|p| p.seq).collect::<Vec<_>>(), vec![2]);
    let done = n
        .store
        .finish_attempt(end(&start, m.id, vec![(2, 8)], AttemptOutcome::Sent, 610))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(done.status, MessageStatus::Sent);
    let detail = n
        .store
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
}

macro_rules! run_cases {
    ($make:expr, $($case:ident),+) => {
        $(
            let node = $make(stringify!($case)).await;
            $case(&node).await;
            eprintln!("ok: {}", stringify!($case));
        )+
    };
}

#[tokio::test]
async fn queue_cases_on_sqlite() {
    run_cases!(
        |_: &str| sqlite_node(),
        case_submit_query_cancel,
        case_send_cycle_reports_and_events,
        case_retry_fail_expire_recover,
        case_inbox,
        case_retention_and_erasure,
        case_kannel_dlr,
        case_accounts_tokens_stages,
        case_modem_events_reach_operators,
        case_idempotency_keys_are_per_account,
        case_status_reports_pair_despite_mr_wrap,
        case_report_overtaking_the_send_record,
        case_expiry_and_account_deletion,
        case_one_attempt_at_a_time_retry_keeps_the_rest
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queue_cases_on_postgresql_and_two_nodes() {
    let pg = TestPg::start();
    let make = |case: &str| {
        let db = pg.create_db(case);
        let pg = &pg;
        async move { pg_node(pg, &db, "a", 60_000).await }
    };
    run_cases!(
        make,
        case_submit_query_cancel,
        case_send_cycle_reports_and_events,
        case_retry_fail_expire_recover,
        case_inbox,
        case_retention_and_erasure,
        case_kannel_dlr,
        case_accounts_tokens_stages,
        case_modem_events_reach_operators,
        case_idempotency_keys_are_per_account,
        case_status_reports_pair_despite_mr_wrap,
        case_report_overtaking_the_send_record,
        case_expiry_and_account_deletion,
        case_one_attempt_at_a_time_retry_keeps_the_rest
    );
    two_nodes_claim_disjoint_sets(&pg).await;
    leases_expire_renew_and_fence(&pg).await;
    takeover_of_sending_work(&pg).await;
    webhook_rows_go_to_one_node_at_a_time(&pg).await;
    other_nodes_wake_up_through_notify(&pg).await;
    let status_db = pg.create_db("status");
    let a = pg_node(&pg, &status_db, "a", 1_000).await;
    let shared = a.pg.clone().unwrap();
    shared.register(1_000).await.unwrap();
    let alice = account(&a.store, "alice").await;
    submit(&a.store, alice, vec![new_message("+48600000001", 1)], 1_000).await;
    a.store.flush().await.unwrap();
    let status = shared.status(2_000).await.unwrap();
    assert_eq!(status.nodes.len(), 1);
    assert_eq!((status.unclaimed, status.oldest_queued_ms), (1, 1_000));
    assert_eq!(
        status.schema_version,
        smsgate::store::pg::schema::PG_SCHEMA_VERSION as i64
    );
}

async fn two_nodes_claim_disjoint_sets(pg: &TestPg) {
    let db = pg.create_db("disjoint");
    let a = pg_node(pg, &db, "a", 60_000).await;
    let b = pg_node(pg, &db, "b", 60_000).await;
    let alice = account(&a.store, "alice").await;
    let seen = b.store.account_by_login("alice").await.unwrap().unwrap();
    assert_eq!(seen.id, alice, "accounts are shared by the nodes");
    let msgs: Vec<NewMessage> = (0..60)
        .map(|i| new_message(&format!("+4860000{i:04}"), 1))
        .collect();
    submit(&a.store, alice, msgs, 1_000).await;
    let mut all = std::collections::HashSet::new();
    let groups = ["default".to_owned()];
    let (ma, mb) = ([MODEM.to_owned()], ["m2".to_owned()]);
    for _ in 0..3 {
        let (x, y) = tokio::join!(
            a.pg.as_ref().unwrap().claim(&groups, &ma, 11, 2_000, 0),
            b.pg.as_ref().unwrap().claim(&groups, &mb, 11, 2_000, 0),
        );
        for row in x.unwrap().into_iter().chain(y.unwrap()) {
            assert!(all.insert(row.id), "{} claimed twice", row.id);
        }
    }
    assert_eq!(all.len(), 60, "every message claimed exactly once");
    assert!(a.queued(2_000).await.is_empty());
    // Routing: a message for group "otp" goes only to a node with such a modem.
    let mut otp = new_message("+48600009999", 1);
    otp.group = Some("otp".into());
    submit(&a.store, alice, vec![otp], 3_000).await;
    assert!(a.queued(3_000).await.is_empty());
    let got =
        b.pg.as_ref()
            .unwrap()
            .claim(&["otp".into()], &["m2".into()], 10, 3_000, 0)
            .await
            .unwrap();
    assert_eq!(got.len(), 1);
    // Pinning: a technician's test SMS for modem "m2" is claimed only by the node that has it.
    let pinned = b
        .store
        .submit_pinned(alice, new_message("+48600008888", 1), "m2", 4_000)
        .await
        .unwrap();
    let Submitted::Created(pinned) = pinned else {
        panic!("pinned message not created")
    };
    assert!(
        a.queued(4_000).await.is_empty(),
        "a node without the modem leaves the pinned message"
    );
    let got =
        b.pg.as_ref()
            .unwrap()
            .claim(&groups, &mb, 10, 4_000, 0)
            .await
            .unwrap();
    assert_eq!(got.len(), 1);
    assert_eq!(
        (got[0].id, got[0].pinned_modem.as_deref()),
        (pinned[0].id, Some("m2"))
    );
    eprintln!("ok: two_nodes_claim_disjoint_sets");
}

async fn leases_expire_renew_and_fence(pg: &TestPg) {
    let db = pg.create_db("fence");
    let a = pg_node(pg, &db, "a", 1_000).await;
    let b = pg_node(pg, &db, "b", 1_000).await;
    let alice = account(&a.store, "alice").await;
    let m = submit(&a.store, alice, vec![new_message("+48600000001", 1)], 10_000)
        .await
        .remove(0);
    assert_eq!(a.queued(10_000).await.len(), 1, "a claims it until 11 000");
    assert!(b.queued(10_500).await.is_empty(), "the lease holds");
    // a renews its lease on its heartbeat: now until 11 900.
    assert_eq!(
        a.pg.as_ref()
            .unwrap()
            .heartbeat(serde_json::json!([]), 10_900)
            .await
            .unwrap(),
        1
    );
    assert!(b.queued(11_500).await.is_empty(), "the renewed lease holds");
    let taken = b.queued(12_000).await;
    assert_eq!(taken.len(), 1, "after the lease another node claims it");
    // a comes back (paused, partitioned): its claim is fenced off.
    assert!(
        a.store
            .begin_attempt(m.id, MODEM.into(), 12_001)
            .await
            .unwrap()
            .is_none()
    );
    let start = b
        .store
        .begin_attempt(m.id, "m2".into(), 12_002)
        .await
        .unwrap()
        .unwrap();
    let mut e = end(&start, m.id, vec![(1, 5)], AttemptOutcome::Sent, 12_100);
    e.modem = "m2".into();
    let sent = b.store.finish_attempt(e).await.unwrap().unwrap();
    assert_eq!(sent.status, MessageStatus::Sent);
    let detail = a.store.message_detail(Scope::All, m.id).await.unwrap().unwrap();
    assert_eq!(detail.attempt_list.len(), 1, "only b's attempt exists");
    assert_eq!(detail.attempt_list[0].modem, "m2");
    eprintln!("ok: leases_expire_renew_and_fence");
}

async fn takeover_of_sending_work(pg: &TestPg) {
    let db = pg.create_db("takeover");
    let a = pg_node(pg, &db, "a", 1_000).await;
    let b = pg_node(pg, &db, "b", 1_000).await;
    let alice = account(&a.store, "alice").await;
    let msgs = vec![new_message("+48600000001", 1), new_message("+48600000002", 1)];
    let (sending, waiting) = (msgs[0].id, msgs[1].id);
    submit(&a.store, alice, msgs, 20_000).await;
    assert_eq!(a.queued(20_000).await.len(), 2);
    let start = a
        .store
        .begin_attempt(sending, MODEM.into(), 20_100)
        .await
        .unwrap()
        .unwrap();
    // a dies. Before the lease ends nothing moves.
    let early =
        b.pg.as_ref()
            .unwrap()
            .take_over_expired(UncertainPolicy::Report, 20_500)
            .await
            .unwrap();
    assert!(early.uncertain.is_empty());
    let taken =
        b.pg.as_ref()
            .unwrap()
            .take_over_expired(UncertainPolicy::Report, 21_200)
            .await
            .unwrap();
    assert_eq!(
        taken.uncertain,
        vec![sending],
        "a message that may have gone out is never resent"
    );
    let claimed = b.queued(21_200).await;
    assert_eq!(
        claimed.iter().map(|r| r.id).collect::<Vec<_>>(),
        vec![waiting],
        "claimed-but-unsent work moves"
    );
    // a's late record does not overwrite the takeover.
    let late = a
        .store
        .finish_attempt(end(&start, sending, vec![(1, 9)], AttemptOutcome::Sent, 21_300))
        .await
        .unwrap();
    assert_eq!(late, None);
    let m = b.store.message(Scope::All, sending).await.unwrap().unwrap();
    assert_eq!(m.status, MessageStatus::Uncertain);
    // a restarts: nothing of its own is left to recover, and it claims new work again.
    let recovered = a
        .store
        .recover_interrupted(UncertainPolicy::Report, 22_000)
        .await
        .unwrap();
    assert!(recovered.uncertain.is_empty());
    submit(&a.store, alice, vec![new_message("+48600000003", 1)], 22_000).await;
    assert_eq!(a.queued(22_000).await.len(), 1);
    // With policy "resend", taken-over sends are queued again for any node.
    let c = pg_node(pg, &db, "c", 1_000).await;
    let m4 = submit(&c.store, alice, vec![new_message("+48600000004", 1)], 30_000)
        .await
        .remove(0);
    // Every lease above has ended by now: c takes all three queued messages.
    assert_eq!(c.queued(30_000).await.len(), 3);
    c.store
        .begin_attempt(m4.id, MODEM.into(), 30_001)
        .await
        .unwrap()
        .unwrap();
    let requeued =
        b.pg.as_ref()
            .unwrap()
            .take_over_expired(UncertainPolicy::Resend, 31_500)
            .await
            .unwrap();
    assert_eq!(requeued.requeued, vec![m4.id]);
    let again = b.queued(31_500).await;
    assert_eq!(again.len(), 3, "m4 and the two c held (their leases ended too)");
    assert!(again.iter().any(|r| r.id == m4.id && r.attempts == 1));
    // Nobody can send a message for group "nowhere": it expires on any node's heartbeat.
    let mut stuck = new_message("+48600000008", 1);
    stuck.group = Some("nowhere".into());
    stuck.valid_until = Some(40_000);
    let stuck = submit(&a.store, alice, vec![stuck], 35_000).await.remove(0);
    assert!(
        b.pg.as_ref()
            .unwrap()
            .expire_unclaimed(39_999)
            .await
            .unwrap()
            .is_empty()
    );
    let expired = b.pg.as_ref().unwrap().expire_unclaimed(40_000).await.unwrap();
    assert_eq!(
        expired.iter().map(|m| (m.id, m.status)).collect::<Vec<_>>(),
        vec![(stuck.id, MessageStatus::Expired)]
    );
    eprintln!("ok: takeover_of_sending_work");
}

async fn webhook_rows_go_to_one_node_at_a_time(pg: &TestPg) {
    let db = pg.create_db("hooks");
    let a = pg_node(pg, &db, "a", 1_000).await;
    let b = pg_node(pg, &db, "b", 1_000).await;
    let alice = account(&a.store, "alice").await;
    b.store
        .create_webhook(NewWebhook {
            account_id: alice,
            url: "https://hooks.invalid/x".into(),
            secret: "s".into(),
            events: vec![EventType::SmsFailed],
        })
        .await
        .unwrap();
    let msgs: Vec<NewMessage> = (0..6)
        .map(|i| new_message(&format!("+4860000000{i}"), 1))
        .collect();
    let ids: Vec<MessageId> = msgs.iter().map(|m| m.id).collect();
    submit(&a.store, alice, msgs, 1_000).await;
    // Expiry on node a writes the events; either node may deliver them.
    assert_eq!(a.store.expire_messages(ids, 2_000).await.unwrap().len(), 6);
    let (x, y) = tokio::join!(a.store.due_webhooks(3_000, 3), b.store.due_webhooks(3_000, 3));
    let (x, y) = (x.unwrap(), y.unwrap());
    assert_eq!((x.len(), y.len()), (3, 3), "each event claimed once");
    let xs: std::collections::HashSet<_> = x.iter().map(|d| d.id).collect();
    assert!(y.iter().all(|d| !xs.contains(&d.id)));
    assert!(
        a.store.due_webhooks(3_500, 100).await.unwrap().is_empty(),
        "claimed rows are not handed out again"
    );
    for d in &x {
        a.store.mark_webhook_delivered(d.id, 3_600).await.unwrap();
    }
    // The node holding y died without delivering: after the claim ends another node retries.
    let retried = a.store.due_webhooks(4_100, 100).await.unwrap();
    assert_eq!(retried.len(), y.len());
    assert_eq!(
        a.store.next_webhook_due().await.unwrap(),
        Some(5_100),
        "the retry's claim ends at 5 100"
    );
    for d in &retried {
        a.store
            .reschedule_webhook(d.id, None, "gone".into(), 4_200)
            .await
            .unwrap();
    }
    assert_eq!(a.store.next_webhook_due().await.unwrap(), None);
    eprintln!("ok: webhook_rows_go_to_one_node_at_a_time");
}

/// Node b listens; node a's acceptance, retry and webhook event wake b at once (LISTEN/NOTIFY), and
/// b's listener comes back after its connection is killed.
async fn other_nodes_wake_up_through_notify(pg: &TestPg) {
    use smsgate::store::pg::listen::Wakeup;
    use std::time::Duration;
    let db = pg.create_db("wakeups");
    let a = pg_node(pg, &db, "a", 60_000).await;
    let b = pg_node(pg, &db, "b", 60_000).await;
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let stop = tokio_util::sync::CancellationToken::new();
    let listener = b.pg.as_ref().unwrap().spawn_listener(
        move |w| {
            let _ = tx.send(w);
        },
        stop.clone(),
    );
    // Listening starts with one catch-up of each.
    let mut first = vec![next_wake(&mut rx).await, next_wake(&mut rx).await];
    first.sort_by_key(|w| format!("{w:?}"));
    assert_eq!(first, vec![Some(Wakeup::Outbox), Some(Wakeup::Queue)]);

    let alice = account(&a.store, "alice").await;
    a.store
        .create_webhook(NewWebhook {
            account_id: alice,
            url: "https://hooks.invalid/x".into(),
            secret: "s".into(),
            events: vec![EventType::SmsFailed],
        })
        .await
        .unwrap();
    let msgs: Vec<NewMessage> = (0..3)
        .map(|i| new_message(&format!("+4860000001{i}"), 1))
        .collect();
    let ids: Vec<MessageId> = msgs.iter().map(|m| m.id).collect();
    submit(&a.store, alice, msgs, 1_000).await;
    assert_eq!(
        next_wake(&mut rx).await,
        Some(Wakeup::Queue),
        "accepted on a, b woken"
    );
    assert_eq!(
        tokio::time::timeout(Duration::from_millis(300), rx.recv())
            .await
            .ok(),
        None,
        "one batch, one wake-up"
    );
    // A claim is no new work; an expiry writes webhook events.
    a.queued(1_000).await;
    assert_eq!(a.store.expire_messages(ids, 2_000).await.unwrap().len(), 3);
    assert_eq!(
        next_wake(&mut rx).await,
        Some(Wakeup::Outbox),
        "webhook event on a, b woken"
    );

    // The listener survives its connection's death (as in a failover) and listens again.
    pg.psql(
        "postgres",
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query LIKE 'LISTEN%'",
    );
    let mut again = vec![next_wake(&mut rx).await, next_wake(&mut rx).await];
    again.sort_by_key(|w| format!("{w:?}"));
    assert_eq!(
        again,
        vec![Some(Wakeup::Outbox), Some(Wakeup::Queue)],
        "listening again"
    );
    submit(&a.store, alice, vec![new_message("+48600000020", 1)], 3_000).await;
    assert_eq!(
        next_wake(&mut rx).await,
        Some(Wakeup::Queue),
        "woken after the reconnect"
    );
    stop.cancel();
    listener.await.unwrap();
    eprintln!("ok: other_nodes_wake_up_through_notify");
}

/// The next wake-up within 5 s, or None (the node polls at 250 ms and 30 s, but nothing polls here:
/// only a notification fills the channel).
async fn next_wake(
    rx: &mut tokio::sync::mpsc::UnboundedReceiver<smsgate::store::pg::listen::Wakeup>,
) -> Option<smsgate::store::pg::listen::Wakeup> {
    tokio::time::timeout(std::time::Duration::from_secs(5), rx.recv())
        .await
        .ok()
        .flatten()
}
