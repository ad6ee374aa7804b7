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

/// How far each start-up keep-alive pushes systemd's start timeout.
const START_EXTENSION: Duration = Duration::from_secs(60);
/// How often the start-up keep-alive speaks (well inside [`START_EXTENSION`]).
const START_BEAT: Duration = Duration::from_secs(20);

/// Keeps systemd from killing a start that takes long for a good reason (a staged restore, the one-time
/// conversion of a large database to incremental vacuum, migrations): while it lives, a thread extends the
/// start timeout (`EXTEND_TIMEOUT_USEC`) every 20 s with a status line. Dropping it stops the thread.
pub struct StartupKeepAlive {
    stop: std::sync::Arc<(std::sync::Mutex<bool>, std::sync::Condvar)>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl StartupKeepAlive {
    /// Starts extending the start timeout, showing `status`.
    pub fn start(status: &'static str) -> StartupKeepAlive {
        let stop = std::sync::Arc::new((std::sync::Mutex::new(false), std::sync::Condvar::new()));
        let flag = stop.clone();
        let usec = u32::try_from(START_EXTENSION.as_micros()).unwrap_or(u32::MAX);
        let thread = std::thread::Builder::new()
            .name("startup-keepalive".into())
            .spawn(move || {
                let (lock, wake) = &*flag;
                let mut stopped = lock.lock().unwrap_or_else(|p| p.into_inner());
                while !*stopped {
                    let _ = sd_notify::notify(
                        false,
                        &[NotifyState::ExtendTimeoutUsec(usec), NotifyState::Status(status)],
                    );
                    stopped = wake
                        .wait_timeout(stopped, START_BEAT)
                        .map(|(g, _)| g)
                        .unwrap_or_else(|p| p.into_inner().0);
                }
            })
            .ok();
        StartupKeepAlive { stop, thread }
    }
}

impl Drop for StartupKeepAlive {
    fn drop(&mut self) {
        let (lock, wake) = &*self.stop;
        *lock.lock().unwrap_or_else(|p| p.into_inner()) = true;
        wake.notify_all();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
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
