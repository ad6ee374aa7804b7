//! Liveness and readiness probes for load balancers, systemd and monitoring. `/healthz` answers while the
//! process serves HTTPS; `/readyz` answers 200 only when the database commits and at least one modem is
//! ready to send, else 503 saying which. Neither needs credentials, so neither names an account or a SIM.
use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use super::ApiState;

/// Longest a readiness probe waits for the database writer.
const DATABASE_PROBE_TIMEOUT: Duration = Duration::from_secs(5);

/// `GET /healthz`: the process is alive and serving.
pub async fn healthz() -> Response {
    Json(serde_json::json!({ "status": "ok" })).into_response()
}

/// What `/readyz` reports.
#[derive(Debug, Serialize, PartialEq, Eq)]
pub struct Readiness {
    pub ready: bool,
    /// `ok`, or why the database cannot take writes.
    pub database: String,
    pub modems_ready: usize,
    pub modems_total: usize,
    /// Why the gateway is not ready (empty when it is).
    pub problems: Vec<String>,
}

/// Combines the probes into a verdict (pure, so the rules are tested without a database).
pub fn assess(database: Result<(), String>, modems_ready: usize, modems_total: usize) -> Readiness {
    let mut problems = Vec::new();
    let database = match database {
        Ok(()) => "ok".to_owned(),
        Err(e) => {
            problems.push(format!("database: {e}"));
            e
        }
    };
    if modems_ready == 0 {
        problems.push(if modems_total == 0 {
            "no modem configured or discovered".to_owned()
        } else {
            format!("none of {modems_total} modems is ready")
        });
    }
    Readiness {
        ready: problems.is_empty(),
        database,
        modems_ready,
        modems_total,
        problems,
    }
}

/// `GET /readyz`: 200 when the database commits and a modem is ready, else 503 with the reasons.
pub async fn readyz(State(state): State<ApiState>) -> Response {
    let store = state.gateway.store();
    let database = match tokio::time::timeout(DATABASE_PROBE_TIMEOUT, store.flush()).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err(format!("no commit within {} s", DATABASE_PROBE_TIMEOUT.as_secs())),
    };
    let (ready, total) = match store.modems().await {
        Ok(modems) => (modems.iter().filter(|m| m.up).count(), modems.len()),
        Err(_) => (0, 0),
    };
    let verdict = assess(database, ready, total);
    let status = if verdict.ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(verdict)).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verdicts() {
        let cases = [
            (Ok(()), 2, 4, true, 0),
            (Ok(()), 0, 4, false, 1),
            (Ok(()), 0, 0, false, 1),
            (Err("disk I/O error".to_owned()), 3, 3, false, 1),
            (Err("closed".to_owned()), 0, 1, false, 2),
        ];
        for (db, up, total, ready, problems) in cases {
            let v = assess(db.clone(), up, total);
            assert_eq!(
                (v.ready, v.problems.len()),
                (ready, problems),
                "{db:?} {up}/{total}: {v:?}"
            );
        }
        assert_eq!(assess(Ok(()), 0, 4).problems, ["none of 4 modems is ready"]);
    }
}
