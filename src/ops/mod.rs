//! Operations glue: logging (journald under systemd, human-readable on a terminal), the systemd
//! notification protocol (readiness, status line, watchdog), readiness rules and Prometheus metrics.
pub mod health;
pub mod human;
pub mod journald;
pub mod logging;
/// Allocator settings (glibc mmap threshold).
pub mod memory;
pub mod metrics;
pub mod systemd;
