//! A `tracing` layer that writes events to the systemd journal with smsgate's structured fields under
//! stable journal names, so an operator can filter by them:
//!
//! | tracing field | journal field | example |
//! |---|---|---|
//! | `modem` | `MODEM_ID` | `journalctl -u smsgate MODEM_ID=350000190000030` |
//! | `msg_id` | `MESSAGE_ID` | `journalctl -u smsgate MESSAGE_ID=0193…` (the id the API shows) |
//! | `account`, `login` | `ACCOUNT` | `journalctl -u smsgate ACCOUNT=shop` |
//! | the message | `MESSAGE` | |
//! | anything else | its name upper-cased (`error` → `ERROR`) | |
//!
//! Fields of enclosing spans (the modem actor runs in a `modem` span) are added to each event. A name
//! that would collide with a field journald itself interprets gets an `F_` prefix.
//!
//! Why not `tracing-journald`: it can only prefix field names (`F_MODEM`, `F_MSG_ID`), not rename them,
//! and the names above are what the appliance documents. Note that systemd reserves `MESSAGE_ID` for
//! catalog ids of message *types*; smsgate uses it for the SMS id so that one id finds a message in the
//! API, the panel and the journal (journalctl's `--catalog` simply finds no entry for it).
//!
//! Protocol (systemd's native journal protocol): one datagram per entry to
//! `/run/systemd/journal/socket`, `NAME=value\n` per field, or `NAME\n` + 64-bit little-endian length
//! + value + `\n` for values containing a newline.
use std::fmt::Write as _;
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};

use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::Layer;
use tracing_subscriber::layer::Context;
use tracing_subscriber::registry::LookupSpan;

/// journald's native protocol socket (systemd-journald.service(8)).
pub const JOURNAL_SOCKET: &str = "/run/systemd/journal/socket";

/// Fields journald interprets itself (systemd.journal-fields(7)); an event field of the same name is
/// prefixed so it cannot change how journald files the entry.
const RESERVED: &[&str] = &[
    "MESSAGE",
    "PRIORITY",
    "CODE_FILE",
    "CODE_LINE",
    "CODE_FUNC",
    "ERRNO",
    "INVOCATION_ID",
    "USER_INVOCATION_ID",
    "SYSLOG_FACILITY",
    "SYSLOG_IDENTIFIER",
    "SYSLOG_PID",
    "SYSLOG_TIMESTAMP",
    "SYSLOG_RAW",
    "DOCUMENTATION",
    "TID",
    "UNIT",
    "USER_UNIT",
    "TARGET",
];

/// syslog(3) priorities journald files entries under.
const PRIORITY_ERR: u8 = 3;
const PRIORITY_WARNING: u8 = 4;
const PRIORITY_INFO: u8 = 6;
const PRIORITY_DEBUG: u8 = 7;

/// The journal name of a tracing field.
pub fn journal_name(field: &str) -> String {
    match field {
        "message" => "MESSAGE".to_owned(),
        "modem" => "MODEM_ID".to_owned(),
        "msg_id" => "MESSAGE_ID".to_owned(),
        "account" | "login" => "ACCOUNT".to_owned(),
        other => {
            // Journal field names: A–Z, 0–9 and `_`, not starting with `_` (reserved for trusted fields).
            let name: String = other
                .chars()
                .map(|c| if c == '.' { '_' } else { c.to_ascii_uppercase() })
                .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
                .skip_while(|c| *c == '_' || c.is_ascii_digit())
                .collect();
            if name.is_empty() || RESERVED.contains(&name.as_str()) {
                format!("F_{name}")
            } else {
                name
            }
        }
    }
}

fn priority(level: &Level) -> u8 {
    match *level {
        Level::ERROR => PRIORITY_ERR,
        Level::WARN => PRIORITY_WARNING,
        Level::INFO => PRIORITY_INFO,
        _ => PRIORITY_DEBUG,
    }
}

/// Appends one field in the native protocol.
pub fn put_field(buf: &mut Vec<u8>, name: &str, value: &str) {
    buf.extend_from_slice(name.as_bytes());
    if value.contains('\n') {
        buf.push(b'\n');
        buf.extend_from_slice(&(value.len() as u64).to_le_bytes());
    } else {
        buf.push(b'=');
    }
    buf.extend_from_slice(value.as_bytes());
    buf.push(b'\n');
}

/// Collects `(journal name, value)` pairs of an event or span.
#[derive(Default)]
struct Fields(Vec<(String, String)>);

impl Visit for Fields {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.push((journal_name(field.name()), value.to_owned()));
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        let mut s = String::new();
        let _ = write!(s, "{value:?}");
        self.0.push((journal_name(field.name()), s));
    }
}

/// The layer. Sending is best effort: a full or missing journal never blocks or fails the service.
pub struct JournaldLayer {
    socket: UnixDatagram,
    path: PathBuf,
    identifier: String,
}

impl JournaldLayer {
    /// A layer writing to journald's socket, entries tagged `SYSLOG_IDENTIFIER=identifier`. Fails when
    /// the socket does not accept datagrams (no journald, e.g. in a container).
    pub fn new(identifier: &str) -> std::io::Result<JournaldLayer> {
        Self::with_socket(Path::new(JOURNAL_SOCKET), identifier)
    }

    /// A layer writing to another socket (tests).
    pub fn with_socket(path: &Path, identifier: &str) -> std::io::Result<JournaldLayer> {
        let socket = UnixDatagram::unbound()?;
        // An empty datagram is discarded by journald: it only proves someone listens.
        socket.send_to(&[], path)?;
        Ok(JournaldLayer {
            socket,
            path: path.to_owned(),
            identifier: identifier.to_owned(),
        })
    }

    /// The datagram for an event with `fields` (span fields first, then the event's).
    fn entry(&self, level: &Level, target: &str, fields: &[(String, String)]) -> Vec<u8> {
        let mut buf = Vec::with_capacity(256);
        put_field(&mut buf, "PRIORITY", &priority(level).to_string());
        put_field(&mut buf, "SYSLOG_IDENTIFIER", &self.identifier);
        put_field(&mut buf, "TARGET", target);
        for (name, value) in fields {
            put_field(&mut buf, name, value);
        }
        buf
    }
}

impl<S> Layer<S> for JournaldLayer
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(
        &self,
        attrs: &tracing::span::Attributes<'_>,
        id: &tracing::span::Id,
        ctx: Context<'_, S>,
    ) {
        let mut fields = Fields::default();
        attrs.record(&mut fields);
        if let Some(span) = ctx.span(id) {
            span.extensions_mut().insert(fields);
        }
    }

    fn on_record(&self, id: &tracing::span::Id, values: &tracing::span::Record<'_>, ctx: Context<'_, S>) {
        if let Some(span) = ctx.span(id) {
            let mut ext = span.extensions_mut();
            if let Some(fields) = ext.get_mut::<Fields>() {
                values.record(fields);
            }
        }
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        let mut all = Vec::new();
        if let Some(scope) = ctx.event_scope(event) {
            for span in scope.from_root() {
                if let Some(fields) = span.extensions().get::<Fields>() {
                    all.extend(fields.0.iter().cloned());
                }
            }
        }
        let mut fields = Fields::default();
        event.record(&mut fields);
        all.extend(fields.0);
        let meta = event.metadata();
        let entry = self.entry(meta.level(), meta.target(), &all);
        // Best effort: logging must never take the gateway down.
        let _ = self.socket.send_to(&entry, &self.path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tracing_subscriber::layer::SubscriberExt;

    #[test]
    fn names() {
        let cases = [
            ("modem", "MODEM_ID"),
            ("msg_id", "MESSAGE_ID"),
            ("account", "ACCOUNT"),
            ("login", "ACCOUNT"),
            ("message", "MESSAGE"),
            ("error", "ERROR"),
            ("inbox_id", "INBOX_ID"),
            ("priority", "F_PRIORITY"),
            ("_hidden", "HIDDEN"),
            ("a.b", "A_B"),
            ("9lives", "LIVES"),
            ("ü", "F_"),
        ];
        for (field, expect) in cases {
            assert_eq!(journal_name(field), expect, "{field}");
        }
    }

    #[test]
    fn native_protocol_encoding() {
        let mut buf = Vec::new();
        put_field(&mut buf, "A", "one line");
        put_field(&mut buf, "B", "two\nlines");
        let mut expect = b"A=one line\nB\n".to_vec();
        expect.extend_from_slice(&9u64.to_le_bytes());
        expect.extend_from_slice(b"two\nlines\n");
        assert_eq!(buf, expect);
    }

    /// Events (with their span's fields) arrive on the socket as journal entries.
    #[test]
    fn events_reach_the_socket_with_renamed_fields() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("journal.socket");
        let server = UnixDatagram::bind(&path).unwrap();
        let layer = JournaldLayer::with_socket(&path, "smsgate-test").unwrap();
        let mut probe = [0u8; 16];
        assert_eq!(server.recv(&mut probe).unwrap(), 0, "the liveness probe is empty");
        let subscriber = tracing_subscriber::registry().with(layer);
        tracing::subscriber::with_default(subscriber, || {
            let span = tracing::info_span!("modem", modem = "350000190000030");
            let _entered = span.enter();
            tracing::warn!(
                msg_id = "0193-abc",
                account = "shop",
                error = "line1\nline2",
                "send did not complete"
            );
        });
        let mut buf = vec![0u8; 64 * 1024];
        let n = server.recv(&mut buf).unwrap();
        let entry = &buf[..n];
        let text = String::from_utf8_lossy(entry);
        for expect in [
            "PRIORITY=4\n",
            "SYSLOG_IDENTIFIER=smsgate-test\n",
            "MODEM_ID=350000190000030\n",
            "MESSAGE_ID=0193-abc\n",
            "ACCOUNT=shop\n",
            "MESSAGE=send did not complete\n",
            "ERROR\n",
        ] {
            assert!(text.contains(expect), "{expect:?} missing in {text:?}");
        }
    }

    #[test]
    fn missing_socket_is_an_error_not_a_panic() {
        assert!(JournaldLayer::with_socket(Path::new("/nonexistent/journal.socket"), "x").is_err());
    }
}
