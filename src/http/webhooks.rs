//! Webhook delivery: signing, the retry schedule, the HTTPS client and the delivery worker.
//!
//! Each event is a row of the persisted outbox (written by the gateway in the same transaction as the change
//! it reports, so it survives a restart). The worker POSTs due rows as JSON with the headers below and marks
//! them delivered on any 2xx; anything else is retried with exponential backoff until
//! [`RETRY_FOR`] after the event was created. Delivery is at-least-once: receivers deduplicate by
//! `X-Event-Id` (also in the body as `id`).
//!
//! Signature: `X-Signature: sha256=<hex HMAC-SHA256(secret, X-Timestamp + "." + body)>`, where
//! `X-Timestamp` is Unix seconds. A receiver recomputes it over the raw body and rejects stale timestamps
//! (replays); [`verify`] is the reference implementation.
use std::time::Duration;

use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

type HmacSha256 = Hmac<Sha256>;

/// Header carrying the signature.
pub const SIGNATURE_HEADER: &str = "x-signature";
/// Header carrying the signing time (Unix seconds).
pub const TIMESTAMP_HEADER: &str = "x-timestamp";
/// Header carrying the event id (same as the body's `id`), for deduplication.
pub const EVENT_ID_HEADER: &str = "x-event-id";
/// Header carrying the event type (`sms:received`, ...).
pub const EVENT_TYPE_HEADER: &str = "x-event-type";
/// Prefix naming the signature algorithm.
pub const SIGNATURE_PREFIX: &str = "sha256=";

/// Retries stop this long after the event was created (default of `webhooks.retry_hours`).
pub const RETRY_FOR: Duration = Duration::from_secs(24 * 60 * 60);
/// Delay before the first retry; doubles with each further failure.
pub const FIRST_RETRY: Duration = Duration::from_secs(5);
/// Longest delay between two attempts.
pub const MAX_RETRY_DELAY: Duration = Duration::from_secs(60 * 60);
/// How long one delivery attempt may take.
pub const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(10);

/// The signature header value for `body` signed at `timestamp`.
pub fn sign(secret: &[u8], timestamp: i64, body: &[u8]) -> String {
    format!("{SIGNATURE_PREFIX}{}", hex::encode(mac(secret, timestamp, body)))
}

fn mac(secret: &[u8], timestamp: i64, body: &[u8]) -> [u8; 32] {
    let mut mac = match HmacSha256::new_from_slice(secret) {
        Ok(mac) => mac,
        // HMAC takes keys of any length; unreachable.
        Err(_) => return [0; 32],
    };
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    mac.finalize().into_bytes().into()
}

/// Receiver side: true when `signature` is valid for `body` at `timestamp` and the timestamp is within
/// `tolerance` of `now` (both Unix seconds).
pub fn verify(
    secret: &[u8],
    timestamp: i64,
    body: &[u8],
    signature: &str,
    now: i64,
    tolerance: Duration,
) -> bool {
    let fresh = now.abs_diff(timestamp) <= tolerance.as_secs();
    let Some(presented) = signature
        .strip_prefix(SIGNATURE_PREFIX)
        .and_then(|h| hex::decode(h).ok())
    else {
        return false;
    };
    let expected = mac(secret, timestamp, body);
    fresh && bool::from(presented.ct_eq(&expected))
}

/// When to try again after `failures` failed attempts (1 = the first attempt failed), for an event created
/// `age` ago, giving up `retry_for` after creation. `jitter` in [0, 1) spreads retries of many events
/// (±20 %). `None`: give up.
pub fn next_retry(failures: u32, age: Duration, retry_for: Duration, jitter: f64) -> Option<Duration> {
    let exponent = failures.saturating_sub(1).min(31);
    let base = FIRST_RETRY.saturating_mul(1u32 << exponent).min(MAX_RETRY_DELAY);
    let factor = 0.8 + 0.4 * jitter.clamp(0.0, 1.0);
    let delay = base.mul_f64(factor);
    (age + delay <= retry_for).then_some(delay)
}

// ---------------------------------------------------------------------------------------------------------
// the delivery worker

use futures::StreamExt;
use tokio_util::sync::CancellationToken;

use crate::app::Gateway;
use crate::store::WebhookDelivery;

/// Due deliveries fetched per round.
const BATCH: u32 = 64;
/// Deliveries in flight at once.
const CONCURRENCY: usize = 16;
/// Longest sleep when nothing is due (new events also wake the worker through the gateway's notifier).
const MAX_IDLE: Duration = Duration::from_secs(30);
/// After a wake-up, how long to let more events gather before reading the outbox: under load every sent SMS
/// writes an event, and one read per batch instead of per event keeps the outbox off the hot path.
const WAKE_COALESCE: Duration = Duration::from_millis(50);
/// Pause after a store error.
const ERROR_PAUSE: Duration = Duration::from_secs(1);

/// Delivers due webhook events until `shutdown`; deliveries in flight when it fires are finished.
pub async fn run_worker(gateway: Gateway, client: reqwest::Client, shutdown: CancellationToken) {
    let retry_for = Duration::from_secs(gateway.settings().webhooks.retry_hours.saturating_mul(3600));
    let notify = gateway.webhooks_due();
    loop {
        // Registered before the query so an event written meanwhile is not missed.
        let notified = notify.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        let now = gateway.now_ms();
        let due = match gateway.due_webhooks(now, BATCH).await {
            Ok(due) => due,
            Err(error) => {
                tracing::warn!(%error, "cannot read the webhook outbox");
                tokio::select! {
                    () = shutdown.cancelled() => return,
                    () = tokio::time::sleep(ERROR_PAUSE) => continue,
                }
            }
        };
        if due.is_empty() {
            let idle = match gateway.next_webhook_due().await {
                Ok(Some(at)) => Duration::from_millis(u64::try_from(at - now).unwrap_or(0)).min(MAX_IDLE),
                _ => MAX_IDLE,
            };
            tokio::select! {
                () = shutdown.cancelled() => return,
                () = &mut notified => {
                    tokio::select! {
                        () = shutdown.cancelled() => return,
                        () = tokio::time::sleep(WAKE_COALESCE) => {}
                    }
                }
                () = tokio::time::sleep(idle) => {}
            }
            continue;
        }
        futures::stream::iter(due)
            .for_each_concurrent(CONCURRENCY, |delivery| {
                deliver(&gateway, &client, delivery, retry_for)
            })
            .await;
        if shutdown.is_cancelled() {
            return;
        }
    }
}

/// One attempt: POST, then record success or schedule the next try.
async fn deliver(gateway: &Gateway, client: &reqwest::Client, d: WebhookDelivery, retry_for: Duration) {
    let timestamp = time::OffsetDateTime::now_utc().unix_timestamp();
    let signature = sign(d.secret.as_bytes(), timestamp, d.payload.as_bytes());
    let result = client
        .post(&d.url)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .header(EVENT_ID_HEADER, d.event_id.to_string())
        .header(EVENT_TYPE_HEADER, d.event_type.as_str())
        .header(TIMESTAMP_HEADER, timestamp.to_string())
        .header(SIGNATURE_HEADER, signature)
        .body(d.payload.clone())
        .send()
        .await;
    let failure = match result {
        Ok(response) if response.status().is_success() => None,
        Ok(response) => Some(format!("HTTP {}", response.status().as_u16())),
        Err(error) => Some(error.without_url().to_string()),
    };
    let outcome = match failure {
        None => {
            tracing::debug!(event = %d.event_id, webhook = d.webhook_id.0, "webhook delivered");
            gateway.mark_webhook_delivered(d.id).await
        }
        Some(error) => {
            let age = (time::OffsetDateTime::now_utc() - d.created_at).unsigned_abs();
            let next = next_retry(
                d.attempts.saturating_add(1),
                age,
                retry_for,
                rand::random::<f64>(),
            );
            match next {
                Some(delay) => {
                    tracing::info!(event = %d.event_id, webhook = d.webhook_id.0, %error, retry_in = ?delay, "webhook failed");
                }
                None => {
                    tracing::warn!(event = %d.event_id, webhook = d.webhook_id.0, %error, "webhook given up");
                }
            }
            let next_ms = next.map(|delay| {
                gateway
                    .now_ms()
                    .saturating_add(i64::try_from(delay.as_millis()).unwrap_or(i64::MAX))
            });
            gateway.reschedule_webhook(d.id, next_ms, error).await
        }
    };
    if let Err(error) = outcome {
        tracing::warn!(%error, event = %d.event_id, "cannot record webhook outcome");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sign_and_verify() {
        let secret = b"whsec_test";
        let body = br#"{"id":"e1","type":"sms:received"}"#;
        let sig = sign(secret, 1_700_000_000, body);
        assert!(sig.starts_with("sha256=") && sig.len() == 7 + 64);
        let tol = Duration::from_secs(300);
        assert!(verify(secret, 1_700_000_000, body, &sig, 1_700_000_100, tol));
        assert!(
            !verify(secret, 1_700_000_000, body, &sig, 1_700_001_000, tol),
            "stale"
        );
        assert!(
            !verify(secret, 1_700_000_001, body, &sig, 1_700_000_000, tol),
            "other timestamp"
        );
        assert!(
            !verify(b"other", 1_700_000_000, body, &sig, 1_700_000_000, tol),
            "other secret"
        );
        assert!(
            !verify(secret, 1_700_000_000, b"{}", &sig, 1_700_000_000, tol),
            "other body"
        );
        assert!(
            !verify(secret, 1_700_000_000, body, &sig[7..], 1_700_000_000, tol),
            "no prefix"
        );
    }

    #[test]
    fn known_vector() {
        // HMAC-SHA256(key="key", "1.hello") computed independently with `openssl dgst -sha256 -hmac key`.
        assert_eq!(
            sign(b"key", 1, b"hello"),
            "sha256=9233658ef5e21fe59dba8abb099c978547d7626f87090a6a585c26a2a98a91f8"
        );
    }

    #[test]
    fn retry_schedule() {
        let check = |failures: u32, age_s: u64, expect: Option<u64>| {
            let got = next_retry(failures, Duration::from_secs(age_s), RETRY_FOR, 0.5).map(|d| d.as_secs());
            assert_eq!(got, expect, "failures={failures} age={age_s}");
        };
        check(1, 0, Some(5));
        check(2, 5, Some(10));
        check(3, 15, Some(20));
        check(10, 3000, Some(2560));
        check(11, 3000, Some(3600));
        check(40, 3000, Some(3600));
        check(30, 24 * 3600 - 100, None);
        check(1, 24 * 3600, None);
        // Jitter stays within ±20 %.
        assert_eq!(
            next_retry(1, Duration::ZERO, RETRY_FOR, 0.0),
            Some(Duration::from_secs(4))
        );
        assert_eq!(
            next_retry(1, Duration::ZERO, RETRY_FOR, 1.0),
            Some(Duration::from_secs(6))
        );
    }
}
