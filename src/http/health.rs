//! Liveness and readiness probes for load balancers, systemd and monitoring. `/healthz` answers while the
//! process serves HTTPS; `/readyz` answers 200 only when the database commits and at least one modem is
//! ready to send, else 503 saying which. Neither needs credentials, so neither names an account or a SIM.
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use super::ApiState;
pub use crate::app::health::DATABASE_PROBE_TIMEOUT;
pub use crate::ops::health::{Readiness, assess};

/// `GET /healthz`: the process is alive and serving.
pub async fn healthz() -> Response {
    Json(serde_json::json!({ "status": "ok" })).into_response()
}

/// `GET /readyz`: 200 when the database commits and a modem is ready, else 503 with the reasons.
pub async fn readyz(State(state): State<ApiState>) -> Response {
    let verdict = state.gateway.readiness().await;
    let status = if verdict.ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(verdict)).into_response()
}
