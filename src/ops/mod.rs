//! Operations glue: logging (journald under systemd, human-readable on a terminal) and the systemd
//! notification protocol (readiness, status line, watchdog).
pub mod logging;
pub mod systemd;
/// Allocator settings (glibc mmap threshold).
pub mod memory;
