//! The JSON-lines event log: one object per line for every command line, send, delivery, status report,
//! fault and plug event, written by one task so that modem tasks never wait on the disk.
use std::path::Path;

use serde::Serialize;
use serde_json::Value;
use tokio::io::AsyncWriteExt;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

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

    /// Opens (appends to) the log file and starts its writer task, which stops (after writing what is
    /// queued) when `stop` is cancelled, even while handles to the sink are still alive.
    pub async fn open(
        path: &Path,
        stop: CancellationToken,
    ) -> Result<(EventSink, tokio::task::JoinHandle<()>), SimError> {
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
            loop {
                let ev = tokio::select! {
                    ev = rx.recv() => ev,
                    () = stop.cancelled() => {
                        // Write what is already queued, then stop.
                        while let Ok(ev) = rx.try_recv() {
                            write_event(&mut file, &ev).await;
                        }
                        break;
                    }
                };
                let Some(ev) = ev else { break };
                write_event(&mut file, &ev).await;
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

async fn write_event(file: &mut tokio::fs::File, ev: &Event) {
    let mut line = match serde_json::to_vec(ev) {
        Ok(l) => l,
        Err(e) => {
            tracing::warn!(error = %e, "cannot serialise event");
            return;
        }
    };
    line.push(b'\n');
    if let Err(e) = file.write_all(&line).await {
        tracing::warn!(error = %e, "cannot write event log");
    }
}
