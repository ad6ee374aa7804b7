//! Panel page of backups (admins only): take one now, list them (time, size, schema version, last good
//! verification), download (audited; the file stays encrypted), verify with the appliance's key, and
//! restore.
//!
//! Restore is staged, not done under the running service: replacing the database file would pull it
//! away from the writer, the readers, the dispatcher's queue and every open session. Like appliances that
//! "restore and reboot", the panel checks the chosen backup completely, records it, and the service
//! restores it at its next start — after saving the database it replaces as a new backup. The admin
//! confirms by typing the backup's name; the page says how to restart and how to cancel.
use askama::Template;
use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::i18n::Tr;
use super::retention::fmt_time;
use super::{Chrome, CsrfForm, PanelError, PanelUser, html};
use crate::app::AppError;
use crate::http::ApiState;
use crate::ops::human::bytes as fmt_bytes;

/// Bytes read per chunk when streaming a backup to the browser.
const DOWNLOAD_CHUNK: usize = 64 * 1024;

struct Row {
    name: String,
    created: String,
    size: String,
    schema: String,
    verified: String,
}

#[derive(Template)]
#[template(path = "backups.html")]
struct BackupsPage {
    c: Chrome,
    rows: Vec<Row>,
    dir: String,
    keep_days: u32,
    interval_hours: u32,
    own_key: bool,
    staged: Option<String>,
}

#[derive(Debug, Deserialize, Default)]
pub struct BackupsQuery {
    #[serde(default)]
    done: Option<String>,
}

async fn render(
    state: &ApiState,
    user: &PanelUser,
    notice: Option<String>,
    error: Option<String>,
    status: StatusCode,
) -> Result<Response, PanelError> {
    let lang = user.lang;
    let gw = &state.gateway;
    let list = gw
        .backups(&user.principal)
        .await
        .map_err(|e| PanelError::app(e, lang))?;
    let staged = gw
        .staged_restore(&user.principal)
        .map_err(|e| PanelError::app(e, lang))?
        .map(|s| {
            format!(
                "{} ({} {}, {})",
                s.backup
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default(),
                s.requested_by,
                fmt_time(s.requested_at),
                s.schema_version
            )
        });
    let none = Tr(lang).s("common.none").to_owned();
    let rows = list
        .into_iter()
        .map(|b| Row {
            created: fmt_time(b.info.created_at),
            size: fmt_bytes(b.info.bytes),
            schema: b
                .sidecar
                .as_ref()
                .map(|s| s.schema_version.to_string())
                .unwrap_or_else(|| none.clone()),
            verified: b
                .sidecar
                .and_then(|s| s.verified_at)
                .map(fmt_time)
                .unwrap_or_else(|| none.clone()),
            name: b.name,
        })
        .collect();
    let settings = gw.settings();
    let mut c = Chrome::of(user, "backups");
    c.notice = notice;
    c.error = error;
    let page = BackupsPage {
        c,
        rows,
        dir: settings.backup_dir().display().to_string(),
        keep_days: gw.backup_keep_days(),
        interval_hours: settings.backup.interval_hours,
        own_key: settings.backup.recipients.is_empty(),
        staged,
    };
    Ok((status, html(&page)?).into_response())
}

/// `GET /panel/backups`.
pub async fn backups(
    State(state): State<ApiState>,
    user: PanelUser,
    Query(q): Query<BackupsQuery>,
) -> Result<Response, PanelError> {
    let t = Tr(user.lang);
    let notice = q.done.as_deref().map(|d| match d {
        "created" => t.s("bak.created").to_owned(),
        "staged" => t.s("bak.staged").to_owned(),
        "cancelled" => t.s("bak.cancelled").to_owned(),
        _ => t.s("bak.verified").to_owned(),
    });
    render(&state, &user, notice, None, StatusCode::OK).await
}

/// A form with only the CSRF token.
#[derive(Debug, Deserialize)]
pub struct EmptyForm {}

/// Answers an application error on the page itself (validation problems of a backup are shown there).
async fn or_page(
    state: &ApiState,
    user: &PanelUser,
    result: Result<&'static str, AppError>,
) -> Result<Response, PanelError> {
    match result {
        Ok(done) => Ok(Redirect::to(&format!("/panel/backups?done={done}")).into_response()),
        Err(AppError::Validation { message, .. }) => {
            render(state, user, None, Some(message), StatusCode::UNPROCESSABLE_ENTITY).await
        }
        Err(e) => Err(PanelError::app(e, user.lang)),
    }
}

/// `POST /panel/backups/create`.
pub async fn create(State(state): State<ApiState>, f: CsrfForm<EmptyForm>) -> Result<Response, PanelError> {
    let user = f.user;
    let r = state
        .gateway
        .take_backup(&user.principal, Some(user.peer.to_string()))
        .await
        .map(|_| "created");
    or_page(&state, &user, r).await
}

/// `POST /panel/backups/{name}/verify`.
pub async fn verify(
    State(state): State<ApiState>,
    Path(name): Path<String>,
    f: CsrfForm<EmptyForm>,
) -> Result<Response, PanelError> {
    let user = f.user;
    let r = state
        .gateway
        .verify_named_backup(&user.principal, &name, Some(user.peer.to_string()))
        .await
        .map(|_| "verified");
    or_page(&state, &user, r).await
}

#[derive(Debug, Deserialize)]
pub struct RestoreForm {
    /// The backup's name typed again: a restore replaces every account, message and setting.
    confirm: String,
}

/// `POST /panel/backups/{name}/restore`: checks the backup and stages it for the next start.
pub async fn restore(
    State(state): State<ApiState>,
    Path(name): Path<String>,
    f: CsrfForm<RestoreForm>,
) -> Result<Response, PanelError> {
    let CsrfForm { user, form } = f;
    if form.confirm.trim() != name {
        let message = Tr(user.lang).s("bak.mismatch").to_owned();
        return render(
            &state,
            &user,
            None,
            Some(message),
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    }
    let r = state
        .gateway
        .stage_restore(&user.principal, &name, Some(user.peer.to_string()))
        .await
        .map(|_| "staged");
    or_page(&state, &user, r).await
}

/// `POST /panel/backups/staged/cancel`.
pub async fn cancel_restore(
    State(state): State<ApiState>,
    f: CsrfForm<EmptyForm>,
) -> Result<Response, PanelError> {
    let user = f.user;
    let r = state
        .gateway
        .cancel_staged_restore(&user.principal, Some(user.peer.to_string()))
        .await
        .map(|()| "cancelled");
    or_page(&state, &user, r).await
}

/// `GET /panel/backups/{name}/download`: admins only, audited; streamed (backups can be large).
pub async fn download(
    State(state): State<ApiState>,
    Path(name): Path<String>,
    user: PanelUser,
) -> Result<Response, PanelError> {
    let lang = user.lang;
    let path = state
        .gateway
        .backup_for_download(&user.principal, &name, Some(user.peer.to_string()))
        .await
        .map_err(|e| PanelError::app(e, lang))?;
    let file = tokio::fs::File::open(&path)
        .await
        .map_err(|e| PanelError::app(AppError::Internal(e.to_string()), lang))?;
    let len = file.metadata().await.map(|m| m.len()).ok();
    let stream = futures::stream::unfold(file, |mut file| async move {
        use tokio::io::AsyncReadExt;
        let mut buf = vec![0u8; DOWNLOAD_CHUNK];
        match file.read(&mut buf).await {
            Ok(0) => None,
            Ok(n) => {
                buf.truncate(n);
                Some((Ok::<_, std::io::Error>(buf), file))
            }
            Err(e) => Some((Err(e), file)),
        }
    });
    let mut response = (
        [
            (header::CONTENT_TYPE, "application/octet-stream".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}\""),
            ),
        ],
        Body::from_stream(stream),
    )
        .into_response();
    if let Some(len) = len
        && let Ok(v) = header::HeaderValue::from_str(&len.to_string())
    {
        response.headers_mut().insert(header::CONTENT_LENGTH, v);
    }
    Ok(response)
}
