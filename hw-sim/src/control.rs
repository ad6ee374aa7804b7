//! The control API over HTTP/JSON (axum): list modems, inject SMS and URCs, set and clear faults,
//! unplug/replug, read sent messages and counters. Served by [`run`] on a listener the caller binds, so
//! tests start it on port 0.
use std::future::Future;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;

use crate::SimError;
use crate::bank::Control;
use crate::fault::Fault;

/// Serves the control API until `shutdown` completes.
pub async fn run(
    listener: tokio::net::TcpListener,
    control: Control,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(control))
        .with_graceful_shutdown(shutdown)
        .await
}

/// The routes, for embedding into another server.
pub fn router(control: Control) -> Router {
    Router::new()
        .route("/health", get(|| async { Json(json!({ "status": "ok" })) }))
        .route("/modems", get(list))
        .route("/modems/{index}", get(status))
        .route("/modems/{index}/counters", get(counters))
        .route("/modems/{index}/sms", post(inject_sms))
        .route("/modems/{index}/pdu", post(inject_pdu))
        .route("/modems/{index}/urc", post(urc))
        .route("/modems/{index}/fault", post(set_fault).delete(clear_faults))
        .route("/modems/{index}/unplug", post(unplug))
        .route("/modems/{index}/replug", post(replug))
        .route("/modems/{index}/reboot", post(reboot))
        .route("/modems/{index}/report-status", post(report_status))
        .route("/modems/{index}/sent", get(sent))
        .route("/modems/{index}/sent/texts", get(sent_texts))
        .with_state(control)
}

/// A [`SimError`] as an HTTP answer with a JSON body.
struct ApiError(SimError);

impl From<SimError> for ApiError {
    fn from(e: SimError) -> Self {
        ApiError(e)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = match self.0 {
            SimError::NoSuchModem(_) => StatusCode::NOT_FOUND,
            SimError::Encode(_) | SimError::Config(_) => StatusCode::BAD_REQUEST,
            SimError::ModemGone(_) => StatusCode::SERVICE_UNAVAILABLE,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        };
        (status, Json(json!({ "error": self.0.to_string() }))).into_response()
    }
}

type ApiResult<T> = Result<T, ApiError>;

async fn list(State(c): State<Control>) -> impl IntoResponse {
    Json(c.modems())
}

async fn status(State(c): State<Control>, Path(index): Path<usize>) -> ApiResult<impl IntoResponse> {
    Ok(Json(c.status(index).await?))
}

async fn counters(State(c): State<Control>, Path(index): Path<usize>) -> ApiResult<impl IntoResponse> {
    Ok(Json(c.counters(index).await?))
}

/// Body of `POST /modems/{i}/sms`.
#[derive(Debug, Deserialize)]
struct InjectSms {
    from: String,
    text: String,
}

async fn inject_sms(
    State(c): State<Control>,
    Path(index): Path<usize>,
    Json(body): Json<InjectSms>,
) -> ApiResult<impl IntoResponse> {
    let parts = c.inject_sms(index, &body.from, &body.text)?;
    Ok(Json(json!({ "parts": parts })))
}

/// Body of `POST /modems/{i}/pdu`.
#[derive(Debug, Deserialize)]
struct InjectPdu {
    pdu: String,
}

async fn inject_pdu(
    State(c): State<Control>,
    Path(index): Path<usize>,
    Json(body): Json<InjectPdu>,
) -> ApiResult<impl IntoResponse> {
    c.inject_pdu(index, &body.pdu)?;
    Ok(StatusCode::NO_CONTENT)
}

/// Body of `POST /modems/{i}/urc`.
#[derive(Debug, Deserialize)]
struct Urc {
    text: String,
}

async fn urc(
    State(c): State<Control>,
    Path(index): Path<usize>,
    Json(body): Json<Urc>,
) -> ApiResult<impl IntoResponse> {
    c.send_urc(index, &body.text)?;
    Ok(StatusCode::NO_CONTENT)
}

/// Body of `POST /modems/{i}/fault`: a fault object (`{"kind":"cms-every","k":3,"code":38}`) or the
/// command-line spelling (`{"spec":"cms-every=3:38"}`).
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum FaultBody {
    Spec { spec: String },
    Fault(Fault),
}

async fn set_fault(
    State(c): State<Control>,
    Path(index): Path<usize>,
    Json(body): Json<FaultBody>,
) -> ApiResult<impl IntoResponse> {
    let fault = match body {
        FaultBody::Fault(f) => f,
        FaultBody::Spec { spec } => spec
            .parse()
            .map_err(|e: crate::fault::SpecError| SimError::Config(e.to_string()))?,
    };
    c.set_fault(index, fault).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn clear_faults(State(c): State<Control>, Path(index): Path<usize>) -> ApiResult<impl IntoResponse> {
    c.clear_faults(index)?;
    Ok(StatusCode::NO_CONTENT)
}

async fn unplug(State(c): State<Control>, Path(index): Path<usize>) -> ApiResult<impl IntoResponse> {
    c.unplug(index).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn replug(State(c): State<Control>, Path(index): Path<usize>) -> ApiResult<impl IntoResponse> {
    c.replug(index).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn reboot(State(c): State<Control>, Path(index): Path<usize>) -> ApiResult<impl IntoResponse> {
    c.set_fault(index, Fault::Reboot).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Body of `POST /modems/{i}/report-status`.
#[derive(Debug, Deserialize)]
struct ReportStatus {
    status: u8,
}

async fn report_status(
    State(c): State<Control>,
    Path(index): Path<usize>,
    Json(body): Json<ReportStatus>,
) -> ApiResult<impl IntoResponse> {
    c.set_report_status(index, body.status)?;
    Ok(StatusCode::NO_CONTENT)
}

async fn sent(State(c): State<Control>, Path(index): Path<usize>) -> ApiResult<impl IntoResponse> {
    Ok(Json(c.sent_messages(index)?))
}

async fn sent_texts(State(c): State<Control>, Path(index): Path<usize>) -> ApiResult<impl IntoResponse> {
    Ok(Json(c.sent_texts(index)?))
}
