//! Operations glue: logging (journald under systemd, human-readable on a terminal) and the systemd
//! notification protocol (readiness, status line, watchdog), and allocator settings.
pub mod logging;
pub mod memory;
pub mod systemd;
