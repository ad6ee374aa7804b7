//! Wall-clock time for the gateway core, swappable for tests.
//!
//! Scheduling decisions (send_at, validity, backoff, rate windows, quota days) are in UTC unix
//! milliseconds. In production that is the system clock; tests use a clock that advances with tokio's
//! (pausable) time, so `tokio::time::pause()` + `advance()` move the dispatcher's world deterministically.
use tokio::time::Instant;

/// Source of "now" in UTC unix milliseconds.
#[derive(Debug, Clone, Copy)]
pub enum Clock {
    /// The system clock.
    System,
    /// `start_ms` plus the tokio time elapsed since `origin` (follows `tokio::time::pause`/`advance`).
    Tokio { start_ms: i64, origin: Instant },
}

impl Clock {
    /// A clock that starts at `start_ms` and advances with tokio time.
    pub fn tokio_at(start_ms: i64) -> Clock {
        Clock::Tokio {
            start_ms,
            origin: Instant::now(),
        }
    }

    /// Now, as UTC unix milliseconds.
    pub fn now_ms(&self) -> i64 {
        match self {
            Clock::System => crate::store::now_ms(),
            Clock::Tokio { start_ms, origin } => start_ms + origin.elapsed().as_millis() as i64,
        }
    }

    /// The tokio instant at which this clock will read `ms` (now, if that is in the past).
    pub fn instant_at(&self, ms: i64) -> Instant {
        let now = Instant::now();
        let ahead = ms.saturating_sub(self.now_ms());
        if ahead <= 0 {
            now
        } else {
            now + std::time::Duration::from_millis(ahead as u64)
        }
    }
}
