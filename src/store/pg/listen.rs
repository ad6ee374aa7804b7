//! Wake-ups through PostgreSQL's LISTEN/NOTIFY: one dedicated connection per node (outside the pool,
//! which recycles connections and would drop the subscription) listens on the channels the schema's
//! triggers notify (v4): new claimable work and new webhook deliveries. The node's loops still poll;
//! a notification only makes them run now instead of at their next tick, so a lost notification
//! (connection dropped, failover) costs at most one poll interval.
use std::future::poll_fn;
use std::time::Duration;

use tokio_postgres::AsyncMessage;
use tokio_util::sync::CancellationToken;
use tracing::{debug, warn};

use super::PgStore;

/// Channel of new claimable work (schema v4, `smsgate_notify_queue`).
pub const QUEUE_CHANNEL: &str = "smsgate_queue";
/// Channel of new webhook deliveries (schema v4, `smsgate_notify_outbox`).
pub const OUTBOX_CHANNEL: &str = "smsgate_outbox";
/// Pause before listening again after the connection ended (PostgreSQL restarting, failing over).
const RECONNECT_PAUSE: Duration = Duration::from_secs(1);

/// What a notification (or a reconnection) asks the node to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wakeup {
    /// Look for claimable work.
    Queue,
    /// Look for due webhook deliveries.
    Outbox,
}

impl Wakeup {
    /// The wake-up a notification on `channel` means, if it is one of ours.
    pub fn from_channel(channel: &str) -> Option<Wakeup> {
        match channel {
            QUEUE_CHANNEL => Some(Wakeup::Queue),
            OUTBOX_CHANNEL => Some(Wakeup::Outbox),
            _ => None,
        }
    }
}

impl PgStore {
    /// Listens until `stop`, calling `wake` for every notification; reconnects (to whichever host is
    /// the primary now) when the connection ends. After every (re)connection both wake-ups fire once,
    /// for what was notified while nobody listened.
    pub fn spawn_listener<F>(&self, wake: F, stop: CancellationToken) -> tokio::task::JoinHandle<()>
    where
        F: Fn(Wakeup) + Send + Sync + 'static,
    {
        let config = self.config.clone();
        let tls = self.tls.clone();
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    _ = stop.cancelled() => break,
                    r = listen_once(&config, tls.clone(), &wake) => match r {
                        Ok(()) => debug!("notification connection closed"),
                        Err(e) => warn!(error = %e, "notification connection to PostgreSQL lost"),
                    },
                }
                tokio::select! {
                    _ = stop.cancelled() => break,
                    _ = tokio::time::sleep(RECONNECT_PAUSE) => {}
                }
            }
        })
    }
}

/// One connection's life: LISTEN on both channels, pass notifications on until the connection ends.
async fn listen_once<F: Fn(Wakeup)>(
    config: &tokio_postgres::Config,
    tls: super::tls::PgTls,
    wake: &F,
) -> Result<(), tokio_postgres::Error> {
    let (client, mut connection) = config.connect(tls).await?;
    // The connection must be polled for the LISTEN to complete; its messages come through a channel.
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let driver = tokio::spawn(async move {
        loop {
            match poll_fn(|cx| connection.poll_message(cx)).await {
                Some(Ok(m)) => {
                    if tx.send(Ok(m)).is_err() {
                        break;
                    }
                }
                Some(Err(e)) => {
                    let _ = tx.send(Err(e));
                    break;
                }
                None => break,
            }
        }
    });
    let result = async {
        client
            .batch_execute(&format!("LISTEN {QUEUE_CHANNEL}; LISTEN {OUTBOX_CHANNEL}"))
            .await?;
        debug!("listening for cluster notifications");
        wake(Wakeup::Queue);
        wake(Wakeup::Outbox);
        while let Some(m) = rx.recv().await {
            if let AsyncMessage::Notification(n) = m? {
                if let Some(w) = Wakeup::from_channel(n.channel()) {
                    wake(w);
                }
            }
        }
        Ok(())
    }
    .await;
    driver.abort();
    drop(client);
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn channels_map_to_wakeups() {
        let cases = [
            ("smsgate_queue", Some(Wakeup::Queue)),
            ("smsgate_outbox", Some(Wakeup::Outbox)),
            ("other", None),
        ];
        for (channel, expect) in cases {
            assert_eq!(Wakeup::from_channel(channel), expect, "{channel}");
        }
    }
}
