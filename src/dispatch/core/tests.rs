//! Decision-core tests: pure, time is a number.
use super::*;

const T0: i64 = 1_767_225_600_000; // 2026-01-01T00:00:00Z

fn policy() -> Policy {
    Policy {
        max_attempts: 3,
        retry_base_ms: 10_000,
        retry_max_ms: 60_000,
        per_minute: 0,
        daily: 0,
        monthly: 0,
        uncertain: UncertainPolicy::Report,
        long_first_window_ms: 10_000,
    }
}

fn m(name: &str) -> ModemId {
    ModemId(name.into())
}

fn job(n: u128, account: i64) -> Job {
    Job {
        id: MessageId(uuid::Uuid::from_u128(n)),
        account: AccountId(account),
        priority: 0,
        group: None,
        parts: 1,
        send_at: 0,
        valid_until: None,
        attempts: 0,
        retry_at: 0,
        avoid: Vec::new(),
        pinned: None,
    }
}

fn id(n: u128) -> MessageId {
    MessageId(uuid::Uuid::from_u128(n))
}

fn sched(policy: Policy, modems: &[(&str, &str)]) -> Scheduler {
    let mut s = Scheduler::new(policy);
    for (name, group) in modems {
        s.add_modem(m(name), (*group).into(), true, T0, SentCounts::default());
    }
    s
}

/// Picks for `modem` and completes the send at once with `result`; returns the picked id.
fn send(s: &mut Scheduler, modem: &str, now: i64, result: SendResult) -> Option<(MessageId, Resolution)> {
    match s.pick(&m(modem), now) {
        Pick::Send(a) => {
            let sent = if result == SendResult::Ok { a.parts } else { 0 };
            let r = s.complete(a.id, &m(modem), sent, result, now);
            if matches!(r, Resolution::Retry { .. }) {
                s.settle(a.id, now);
            }
            Some((a.id, r))
        }
        Pick::Wait(_) => None,
    }
}

fn drain(s: &mut Scheduler, modem: &str, now: i64) -> Vec<u128> {
    let mut order = Vec::new();
    while let Some((id, _)) = send(s, modem, now, SendResult::Ok) {
        order.push(id.0.as_u128());
    }
    order
}

#[test]
fn backoff_doubles_and_caps() {
    let p = policy();
    let table = [(1, 10_000), (2, 20_000), (3, 40_000), (4, 60_000), (40, 60_000)];
    for (attempts, expect) in table {
        assert_eq!(p.backoff_ms(attempts), expect, "attempts {attempts}");
    }
}

#[test]
fn higher_priority_goes_first() {
    let mut s = sched(policy(), &[("a", "default")]);
    for n in 1..=3 {
        s.enqueue(job(n, 1), T0);
    }
    s.enqueue(
        Job {
            priority: 10,
            ..job(4, 1)
        },
        T0,
    );
    s.enqueue(
        Job {
            priority: -5,
            ..job(5, 1)
        },
        T0,
    );
    assert_eq!(drain(&mut s, "a", T0), vec![4, 1, 2, 3, 5]);
}

#[test]
fn accounts_take_turns_within_a_priority() {
    let mut s = sched(policy(), &[("a", "default")]);
    for n in 1..=6 {
        s.enqueue(job(n, 1), T0); // a bulk batch of account 1
    }
    s.enqueue(job(7, 2), T0);
    s.enqueue(job(8, 2), T0);
    let order = drain(&mut s, "a", T0);
    assert_eq!(order, vec![1, 7, 2, 8, 3, 4, 5, 6]);
}

#[test]
fn groups_route_messages_to_their_modems() {
    let mut s = sched(policy(), &[("otp1", "otp"), ("bulk1", "default")]);
    s.enqueue(
        Job {
            group: Some("otp".into()),
            ..job(1, 1)
        },
        T0,
    );
    s.enqueue(job(2, 1), T0);
    // The bulk modem never takes the otp message; the otp modem also serves ungrouped messages.
    assert_eq!(drain(&mut s, "bulk1", T0), vec![2]);
    s.enqueue(job(3, 1), T0);
    assert_eq!(drain(&mut s, "otp1", T0), vec![1, 3]);
    // Wake-ups go only to modems that can take the message.
    assert_eq!(s.idle_modems_for(Some("otp")), vec![m("otp1")]);
    let mut all = s.idle_modems_for(None);
    all.sort();
    assert_eq!(all, vec![m("bulk1"), m("otp1")]);
}

#[test]
fn scheduled_messages_wait_for_send_at() {
    let mut s = sched(policy(), &[("a", "default")]);
    s.enqueue(
        Job {
            send_at: T0 + 30_000,
            ..job(1, 1)
        },
        T0,
    );
    assert_eq!(s.pick(&m("a"), T0), Pick::Wait(Some(T0 + 30_000)));
    assert_eq!(s.pick(&m("a"), T0 + 29_999), Pick::Wait(Some(T0 + 30_000)));
    assert!(matches!(s.pick(&m("a"), T0 + 30_000), Pick::Send(a) if a.id == id(1)));
}

#[test]
fn expired_messages_are_never_sent() {
    let mut s = sched(policy(), &[("a", "default")]);
    s.enqueue(
        Job {
            valid_until: Some(T0 + 1_000),
            ..job(1, 1)
        },
        T0,
    );
    s.enqueue(job(2, 1), T0);
    assert_eq!(s.next_expiry(), Some(T0 + 1_000));
    // Past its validity the message is skipped even before the expiry sweep runs.
    assert_eq!(drain(&mut s, "a", T0 + 1_000), vec![2]);
    assert_eq!(s.take_expired(T0 + 1_000), vec![id(1)]);
    assert!(s.is_empty());
    assert_eq!(s.next_expiry(), None);
}

#[test]
fn per_minute_rate_limit_per_sim() {
    let mut s = sched(
        Policy {
            per_minute: 2,
            ..policy()
        },
        &[("a", "default"), ("b", "default")],
    );
    for n in 1..=5 {
        s.enqueue(job(n, 1), T0);
    }
    assert_eq!(drain(&mut s, "a", T0).len(), 2);
    assert_eq!(s.pick(&m("a"), T0 + 1), Pick::Wait(Some(T0 + RATE_WINDOW_MS)));
    // Another SIM has its own window.
    assert_eq!(drain(&mut s, "b", T0 + 1).len(), 2);
    assert_eq!(drain(&mut s, "a", T0 + RATE_WINDOW_MS).len(), 1);
}

#[test]
fn multipart_messages_need_room_for_all_parts() {
    let mut s = sched(
        Policy {
            per_minute: 4,
            ..policy()
        },
        &[("a", "default")],
    );
    s.enqueue(
        Job {
            parts: 3,
            ..job(1, 1)
        },
        T0,
    );
    s.enqueue(
        Job {
            parts: 3,
            ..job(2, 1)
        },
        T0,
    );
    s.enqueue(job(3, 1), T0);
    // 3 parts fit, the next 3-part message does not (1 left): the 1-part one goes instead.
    assert_eq!(drain(&mut s, "a", T0), vec![1, 3]);
    assert_eq!(s.pick(&m("a"), T0), Pick::Wait(Some(T0 + RATE_WINDOW_MS)));
    assert_eq!(drain(&mut s, "a", T0 + RATE_WINDOW_MS), vec![2]);
    // A message longer than the whole budget goes alone once the window is empty.
    s.enqueue(
        Job {
            parts: 6,
            ..job(4, 1)
        },
        T0,
    );
    assert_eq!(drain(&mut s, "a", T0 + 2 * RATE_WINDOW_MS), vec![4]);
}

#[test]
fn daily_and_monthly_quotas() {
    let mut s = sched(
        Policy {
            daily: 2,
            monthly: 3,
            ..policy()
        },
        &[("a", "default")],
    );
    for n in 1..=5 {
        s.enqueue(job(n, 1), T0);
    }
    assert_eq!(drain(&mut s, "a", T0).len(), 2);
    let next_day = T0 + 86_400_000;
    assert_eq!(s.pick(&m("a"), T0 + 5), Pick::Wait(Some(next_day)));
    assert_eq!(drain(&mut s, "a", next_day).len(), 1);
    // Monthly quota reached: wait for February.
    let feb = 1_769_904_000_000; // 2026-02-01T00:00:00Z
    assert_eq!(s.pick(&m("a"), next_day + 86_400_000), Pick::Wait(Some(feb)));
    assert_eq!(drain(&mut s, "a", feb).len(), 2);
}

#[test]
fn quotas_are_seeded_after_a_restart() {
    let mut s = Scheduler::new(Policy { daily: 5, ..policy() });
    s.add_modem(
        m("a"),
        "default".into(),
        true,
        T0,
        SentCounts {
            last_minute: 0,
            today: 5,
            this_month: 5,
        },
    );
    s.enqueue(job(1, 1), T0);
    assert_eq!(s.pick(&m("a"), T0), Pick::Wait(Some(T0 + 86_400_000)));
}

#[test]
fn temporary_failure_fails_over_at_once_and_backs_off_on_the_same_modem() {
    let mut s = sched(policy(), &[("a", "default"), ("b", "default")]);
    s.enqueue(job(1, 1), T0);
    let (_, r) = send(&mut s, "a", T0, SendResult::Temporary("no network".into())).unwrap();
    assert_eq!(
        r,
        Resolution::Retry {
            retry_at: T0 + 10_000,
            error: "no network".into()
        }
    );
    // Modem a waits for the backoff; b may take it now.
    assert_eq!(s.pick(&m("a"), T0 + 1), Pick::Wait(Some(T0 + 10_000)));
    assert!(matches!(
        send(&mut s, "b", T0 + 1, SendResult::Ok),
        Some((_, Resolution::Sent))
    ));
    assert!(s.is_empty());
}

#[test]
fn temporary_failures_give_up_after_max_attempts() {
    let mut s = sched(policy(), &[("a", "default")]);
    s.enqueue(job(1, 1), T0);
    let mut now = T0;
    let mut last = None;
    for _ in 0..3 {
        let (_, r) = send(&mut s, "a", now, SendResult::Temporary("busy".into())).unwrap();
        if let Resolution::Retry { retry_at, .. } = r {
            now = retry_at;
        }
        last = Some(r);
    }
    assert_eq!(
        last,
        Some(Resolution::Failed {
            error: "busy (gave up after 3 attempts)".into()
        })
    );
    assert!(s.is_empty());
}

#[test]
fn permanent_failure_fails_at_once() {
    let mut s = sched(policy(), &[("a", "default"), ("b", "default")]);
    s.enqueue(job(1, 1), T0);
    let (_, r) = send(&mut s, "a", T0, SendResult::Permanent("+CMS ERROR: 21".into())).unwrap();
    assert_eq!(
        r,
        Resolution::Failed {
            error: "+CMS ERROR: 21".into()
        }
    );
    assert_eq!(s.pick(&m("b"), T0), Pick::Wait(None));
}

#[test]
fn uncertain_follows_the_policy() {
    let mut s = sched(policy(), &[("a", "default")]);
    s.enqueue(job(1, 1), T0);
    let (_, r) = send(&mut s, "a", T0, SendResult::Uncertain("no answer".into())).unwrap();
    assert_eq!(
        r,
        Resolution::Uncertain {
            error: "no answer".into()
        }
    );
    assert!(s.is_empty());
    let mut s = sched(
        Policy {
            uncertain: UncertainPolicy::Resend,
            ..policy()
        },
        &[("a", "default")],
    );
    s.enqueue(job(1, 1), T0);
    let (_, r) = send(&mut s, "a", T0, SendResult::Uncertain("no answer".into())).unwrap();
    assert!(matches!(r, Resolution::Retry { .. }));
}

#[test]
fn partly_sent_message_stays_on_its_modem() {
    let mut s = sched(policy(), &[("a", "default"), ("b", "default")]);
    s.enqueue(
        Job {
            parts: 3,
            ..job(1, 1)
        },
        T0,
    );
    let Pick::Send(a) = s.pick(&m("a"), T0) else {
        panic!()
    };
    assert_eq!(a.parts, 3);
    let r = s.complete(a.id, &m("a"), 1, SendResult::Temporary("timeout".into()), T0);
    assert!(matches!(r, Resolution::Retry { .. }));
    assert!(s.settle(a.id, T0));
    // b may never take it; a takes the remaining 2 parts after the backoff.
    assert!(matches!(s.pick(&m("b"), T0 + 100_000), Pick::Wait(_)));
    assert_eq!(s.pick(&m("a"), T0 + 1), Pick::Wait(Some(T0 + 10_000)));
    let Pick::Send(again) = s.pick(&m("a"), T0 + 10_000) else {
        panic!()
    };
    assert_eq!(again.parts, 2);
}

#[test]
fn a_busy_modem_is_not_given_a_second_message() {
    let mut s = sched(policy(), &[("a", "default"), ("b", "default")]);
    s.enqueue(job(1, 1), T0);
    s.enqueue(job(2, 1), T0);
    let Pick::Send(first) = s.pick(&m("a"), T0) else {
        panic!()
    };
    assert_eq!(s.pick(&m("a"), T0), Pick::Wait(None));
    assert!(s.is_in_flight(first.id));
    assert!(matches!(s.pick(&m("b"), T0), Pick::Send(x) if x.id == id(2)));
}

#[test]
fn cancel_while_in_flight_drops_at_settle() {
    let mut s = sched(policy(), &[("a", "default")]);
    s.enqueue(job(1, 1), T0);
    let Pick::Send(a) = s.pick(&m("a"), T0) else {
        panic!()
    };
    assert!(!s.cancel(a.id));
    s.complete(a.id, &m("a"), 0, SendResult::Temporary("x".into()), T0);
    assert!(!s.settle(a.id, T0));
    assert!(s.is_empty());
    // Cancelling a queued message removes it at once.
    s.enqueue(job(2, 1), T0);
    assert!(s.cancel(id(2)));
    assert_eq!(s.pick(&m("a"), T0), Pick::Wait(None));
}

#[test]
fn not_ready_modems_get_nothing() {
    let mut s = sched(policy(), &[("a", "default")]);
    s.enqueue(job(1, 1), T0);
    assert!(s.set_ready(&m("a"), false));
    assert_eq!(s.pick(&m("a"), T0), Pick::Wait(None));
    assert!(s.idle_modems_for(None).is_empty());
    assert!(s.set_ready(&m("a"), true));
    assert!(matches!(s.pick(&m("a"), T0), Pick::Send(_)));
}

#[test]
fn abandoned_assignment_refunds_the_rate_window() {
    let mut s = sched(
        Policy {
            per_minute: 1,
            ..policy()
        },
        &[("a", "default")],
    );
    s.enqueue(job(1, 1), T0);
    s.enqueue(job(2, 1), T0);
    let Pick::Send(a) = s.pick(&m("a"), T0) else {
        panic!()
    };
    s.abandon(a.id, &m("a"));
    assert!(matches!(s.pick(&m("a"), T0), Pick::Send(x) if x.id == id(2)));
}

#[test]
fn a_burst_wakes_different_modems_with_room() {
    let mut s = sched(
        Policy {
            per_minute: 1,
            ..policy()
        },
        &[("a", "default"), ("b", "default"), ("c", "default")],
    );
    s.enqueue(job(1, 1), T0);
    // c has used its minute: not worth waking.
    s.enqueue(job(2, 1), T0);
    assert!(matches!(
        send(&mut s, "c", T0, SendResult::Ok),
        Some((_, Resolution::Sent))
    ));
    let first = s.modems_to_wake(None, 1, T0 + 1);
    let second = s.modems_to_wake(None, 1, T0 + 1);
    assert_eq!((first.len(), second.len()), (1, 1));
    assert_ne!(first, second, "a modem already woken is not woken again");
    assert!(!first.contains(&m("c")) && !second.contains(&m("c")));
    assert!(
        s.modems_to_wake(None, 5, T0 + 1).is_empty(),
        "a and b already woken, c out of room"
    );
    // After asking for work (and finding none), a modem may be woken again.
    assert!(s.cancel(id(2)));
    assert_eq!(s.pick(&first[0], T0 + 1), Pick::Wait(None));
    assert_eq!(s.modems_to_wake(None, 5, T0 + 1), first);
}

#[test]
fn group_and_any_group_queues_are_served_in_arrival_order() {
    // Modem "a" serves group "otp" and takes messages without a group too: the two ready queues are
    // merged by arrival, not one drained before the other.
    let mut s = sched(policy(), &[("a", "otp")]);
    let grouped = |n| Job {
        group: Some("otp".into()),
        ..job(n, 1)
    };
    s.enqueue(job(1, 1), T0);
    s.enqueue(grouped(2), T0);
    s.enqueue(job(3, 1), T0);
    s.enqueue(grouped(4), T0);
    s.enqueue(grouped(5), T0);
    s.enqueue(job(6, 1), T0);
    assert_eq!(drain(&mut s, "a", T0), vec![1, 2, 3, 4, 5, 6]);
}

#[test]
fn per_modem_limits_override_the_policy() {
    let mut p = policy();
    p.per_minute = 10;
    let mut s = sched(p, &[("a", "g"), ("b", "g")]);
    s.set_limits(
        &m("a"),
        ModemLimits {
            per_minute: Some(1),
            ..ModemLimits::default()
        },
    );
    for n in 1..=4 {
        s.enqueue(job(n, 1), T0);
    }
    // `a` may send one part a minute, `b` keeps the policy's ten.
    assert_eq!(drain(&mut s, "a", T0).len(), 1);
    assert_eq!(drain(&mut s, "b", T0).len(), 3);
    // A daily quota of 0 via the modem is "unlimited", like the policy's 0.
    s.set_limits(
        &m("a"),
        ModemLimits {
            per_minute: Some(0),
            daily: Some(2),
            monthly: None,
        },
    );
    for n in 5..=8 {
        s.enqueue(job(n, 1), T0 + 1);
    }
    assert_eq!(
        drain(&mut s, "a", T0 + 1).len(),
        1,
        "one part of the day already used"
    );
}

#[test]
fn group_change_and_queue_depth() {
    let mut s = sched(policy(), &[("a", "g1"), ("b", "g2")]);
    let mut routed = job(1, 1);
    routed.group = Some("g2".into());
    s.enqueue(routed, T0);
    let mut pinned = job(2, 1);
    pinned.pinned = Some(m("b"));
    s.enqueue(pinned, T0);
    s.enqueue(job(3, 1), T0);
    // a: the ungrouped one only (the other ungrouped one is pinned to b); b: all three.
    assert_eq!(s.queue_depth(&m("a")), 1);
    assert_eq!(s.queue_depth(&m("b")), 3);
    assert_eq!(s.queue_depth(&m("nobody")), 0);
    s.set_group(&m("a"), "g2".into());
    assert_eq!(s.group_of_modem(&m("a")), Some("g2"));
    assert_eq!(s.queue_depth(&m("a")), 2);
    let order = drain(&mut s, "a", T0);
    assert_eq!(order, vec![1, 3], "the pinned message waits for b");
    assert_eq!(drain(&mut s, "b", T0), vec![2]);
}

fn long(n: u128, account: i64, parts: u32) -> Job {
    Job {
        parts,
        ..job(n, account)
    }
}

#[test]
fn longest_first_within_an_arrival_window() {
    let mut s = sched(policy(), &[("a", "default")]);
    s.enqueue(job(1, 1), T0);
    s.enqueue(long(2, 1, 2), T0 + 10);
    s.enqueue(long(3, 1, 3), T0 + 20);
    s.enqueue(job(4, 1), T0 + 30);
    let order: Vec<MessageId> = (0..4)
        .filter_map(|_| send(&mut s, "a", T0 + 100, SendResult::Ok).map(|(id, _)| id))
        .collect();
    // Longest first; equal lengths keep arrival order.
    assert_eq!(order, vec![id(3), id(2), id(1), id(4)]);
}

#[test]
fn arrival_windows_keep_their_order() {
    let mut s = sched(policy(), &[("a", "default")]);
    s.enqueue(job(1, 1), T0 + 9_999);
    // The next window: it waits behind the short message, however long it is.
    s.enqueue(long(2, 1, 5), T0 + 10_000);
    assert_eq!(
        send(&mut s, "a", T0 + 10_001, SendResult::Ok).map(|(i, _)| i),
        Some(id(1))
    );
    assert_eq!(
        send(&mut s, "a", T0 + 10_001, SendResult::Ok).map(|(i, _)| i),
        Some(id(2))
    );
}

#[test]
fn window_zero_keeps_strict_arrival_order() {
    let strict = Policy {
        long_first_window_ms: 0,
        ..policy()
    };
    let mut s = sched(strict, &[("a", "default")]);
    s.enqueue(job(1, 1), T0);
    s.enqueue(long(2, 1, 3), T0);
    assert_eq!(send(&mut s, "a", T0, SendResult::Ok).map(|(i, _)| i), Some(id(1)));
    assert_eq!(send(&mut s, "a", T0, SendResult::Ok).map(|(i, _)| i), Some(id(2)));
}

/// Drains the queue on modems that need `PART_MS` per part, each picking as soon as it is free; returns
/// when the last part went out.
fn drain_time(s: &mut Scheduler, modems: &[&str]) -> i64 {
    const PART_MS: i64 = 2_000;
    let mut free_at: Vec<(i64, &str)> = modems.iter().map(|name| (T0, *name)).collect();
    let mut end = T0;
    loop {
        free_at.sort();
        let mut progressed = false;
        for slot in free_at.iter_mut() {
            let (now, modem) = *slot;
            if let Pick::Send(a) = s.pick(&m(modem), now) {
                let done = now + PART_MS * i64::from(a.parts);
                s.complete(a.id, &m(modem), a.parts, SendResult::Ok, done);
                *slot = (done, modem);
                end = end.max(done);
                progressed = true;
                break;
            }
        }
        if !progressed {
            return end - T0;
        }
    }
}

#[test]
fn longest_first_shortens_the_tail_of_a_bulk_send() {
    // Four short messages, then a 3-part one, on two modems: in arrival order the 3-part message starts
    // last and one modem idles for 4 s; longest first ends as soon as the work allows.
    let bulk = |s: &mut Scheduler| {
        for n in 1..=4 {
            s.enqueue(job(n, 1), T0);
        }
        s.enqueue(long(5, 1, 3), T0);
    };
    let mut fifo = sched(
        Policy {
            long_first_window_ms: 0,
            ..policy()
        },
        &[("a", "default"), ("b", "default")],
    );
    bulk(&mut fifo);
    assert_eq!(drain_time(&mut fifo, &["a", "b"]), 10_000);
    let mut lpt = sched(policy(), &[("a", "default"), ("b", "default")]);
    bulk(&mut lpt);
    assert_eq!(drain_time(&mut lpt, &["a", "b"]), 8_000);
}
