//! Logging setup. Under systemd (`JOURNAL_STREAM` set) events go to journald with their structured fields
//! as journal fields (`MODEM_ID`, `MESSAGE_ID`, `ACCOUNT`, ...; see [`super::journald`]); on a terminal
//! they are printed for humans; `SMSGATE_LOG_FORMAT=json` prints JSON lines. The level comes from
//! `RUST_LOG` (default `info`).
//!
//! Message bodies, passwords and keys are never logged at `info` or above: call sites log ids and sizes.
use tracing_subscriber::EnvFilter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

/// Where log events go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogTarget {
    Journald,
    Terminal,
    Json,
}

/// Picks the target from the environment: journald when systemd connected stderr to the journal.
pub fn detect_target() -> LogTarget {
    detect_target_from(
        std::env::var_os("JOURNAL_STREAM").is_some(),
        std::env::var("SMSGATE_LOG_FORMAT").ok().as_deref(),
    )
}

fn detect_target_from(journal_stream: bool, format: Option<&str>) -> LogTarget {
    match format {
        Some("json") => LogTarget::Json,
        Some("journald") => LogTarget::Journald,
        Some("text") => LogTarget::Terminal,
        _ if journal_stream => LogTarget::Journald,
        _ => LogTarget::Terminal,
    }
}

/// Installs the global subscriber. Safe to call once; later calls (tests) are ignored.
pub fn init() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let registry = tracing_subscriber::registry().with(filter);
    let installed = match detect_target() {
        LogTarget::Journald => match super::journald::JournaldLayer::new("smsgate") {
            Ok(layer) => registry.with(layer).try_init(),
            // The journal socket is missing (e.g. in a container): fall back to stderr.
            Err(_) => registry
                .with(tracing_subscriber::fmt::layer().with_writer(std::io::stderr))
                .try_init(),
        },
        LogTarget::Json => registry
            .with(
                tracing_subscriber::fmt::layer()
                    .json()
                    .with_writer(std::io::stderr),
            )
            .try_init(),
        LogTarget::Terminal => {
            // Colours only on a terminal: redirected logs stay plain text.
            let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
            registry
                .with(
                    tracing_subscriber::fmt::layer()
                        .with_ansi(ansi)
                        .with_writer(std::io::stderr),
                )
                .try_init()
        }
    };
    // A subscriber already installed (tests, embedding) is fine.
    drop(installed);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn target_follows_environment() {
        let cases = [
            (false, None, LogTarget::Terminal),
            (true, None, LogTarget::Journald),
            (true, Some("json"), LogTarget::Json),
            (false, Some("journald"), LogTarget::Journald),
            (true, Some("text"), LogTarget::Terminal),
            (false, Some("unknown"), LogTarget::Terminal),
        ];
        for (stream, format, expect) in cases {
            assert_eq!(detect_target_from(stream, format), expect, "{stream} {format:?}");
        }
    }
}
