//! systemd notification protocol (`Type=notify`): readiness, a status line and the watchdog keep-alive.
//! Outside systemd (`NOTIFY_SOCKET` unset) every call is a no-op.
use std::time::Duration;

use sd_notify::NotifyState;
use tokio_util::sync::CancellationToken;

/// Tells systemd the service is ready, with a one-line status.
pub fn ready(status: &str) {
    // Failing to notify is not fatal: without NOTIFY_SOCKET the call does nothing.
    if let Err(e) = sd_notify::notify(false, &[NotifyState::Ready, NotifyState::Status(status)]) {
        tracing::warn!(error = %e, "systemd readiness notification failed");
    }
}

/// Updates the status line shown by `systemctl status`.
pub fn status(status: &str) {
    if let Err(e) = sd_notify::notify(false, &[NotifyState::Status(status)]) {
        tracing::debug!(error = %e, "systemd status notification failed");
    }
}

/// Tells systemd the service is stopping.
pub fn stopping() {
    if let Err(e) = sd_notify::notify(false, &[NotifyState::Stopping]) {
        tracing::debug!(error = %e, "systemd stopping notification failed");
    }
}

/// The keep-alive period to use: half the watchdog interval systemd asked for, or `None` when the
/// watchdog is off.
pub fn watchdog_period() -> Option<Duration> {
    let mut usec = 0u64;
    if sd_notify::watchdog_enabled(false, &mut usec) && usec > 0 {
        Some(Duration::from_micros(usec / 2))
    } else {
        None
    }
}

/// Sends the watchdog keep-alive until `shutdown`. `healthy` decides each beat: a gateway whose event loop
/// is stuck stops beating and systemd restarts it.
pub async fn run_watchdog<F>(period: Duration, healthy: F, shutdown: CancellationToken)
where
    F: Fn() -> bool + Send + 'static,
{
    let mut tick = tokio::time::interval(period);
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tick.tick() => {
                if healthy() {
                    if let Err(e) = sd_notify::notify(false, &[NotifyState::Watchdog]) {
                        tracing::debug!(error = %e, "watchdog notification failed");
                    }
                } else {
                    tracing::warn!("health check failed: watchdog keep-alive withheld");
                }
            }
        }
    }
}
