//! The JSON-lines event log: one object per line for every command line, send, delivery, status report,
//! fault and plug event, written by one task so that modem tasks never wait on the disk.
use std::path::Path;

use serde::Serialize;
use serde_json::Value;
use tokio::io::AsyncWriteExt;
use tokio::sync::mpsc;

use crate::SimError;

/// One logged event.
#[derive(Debug, Clone, Serialize)]
pub struct Event {
    /// RFC 3339 time.
    pub ts: String,
    /// Modem index.
    pub modem: usize,
    /// What happened (`command`, `sent`, `delivered`, `status-report`, `fault`, `unplug`, ...).
    pub kind: &'static str,
    /// Details.
    pub detail: Value,
}

/// Where modem tasks drop events; cheap to clone, never blocks.
#[derive(Debug, Clone)]
pub struct EventSink {
    tx: Option<mpsc::UnboundedSender<Event>>,
}

impl EventSink {
    /// A sink that discards everything.
    pub fn none() -> EventSink {
        EventSink { tx: None }
    }

    /// Opens (appends to) the log file and starts its writer task.
    pub async fn open(path: &Path) -> Result<(EventSink, tokio::task::JoinHandle<()>), SimError> {
        let mut file = tokio::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .await
            .map_err(|source| SimError::EventLog {
                path: path.to_path_buf(),
                source,
            })?;
        let (tx, mut rx) = mpsc::unbounded_channel::<Event>();
        let task = tokio::spawn(async move {
            while let Some(ev) = rx.recv().await {
                let mut line = match serde_json::to_vec(&ev) {
                    Ok(l) => l,
                    Err(e) => {
                        tracing::warn!(error = %e, "cannot serialise event");
                        continue;
                    }
                };
                line.push(b'\n');
                if let Err(e) = file.write_all(&line).await {
                    tracing::warn!(error = %e, "cannot write event log");
                }
                if rx.is_empty() {
                    let _ = file.flush().await;
                }
            }
            let _ = file.flush().await;
        });
        Ok((EventSink { tx: Some(tx) }, task))
    }

    /// Whether events are recorded at all (lets callers skip building details).
    pub fn enabled(&self) -> bool {
        self.tx.is_some()
    }

    /// Records an event.
    pub fn emit(&self, modem: usize, kind: &'static str, detail: Value) {
        if let Some(tx) = &self.tx {
            let ts = time::OffsetDateTime::now_utc()
                .format(&time::format_description::well_known::Rfc3339)
                .unwrap_or_default();
            let _ = tx.send(Event {
                ts,
                modem,
                kind,
                detail,
            });
        }
    }
}
