//! Panel page of data retention (operators see it, admins change it): the periods in force and those of
//! the config file, when the next sweep runs, what the last one removed, and how much of the database
//! file is in use. Changes go through [`crate::app::Gateway::set_retention`]: validated with the key
//! named, audited, kept in the database.
use askama::Template;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use time::OffsetDateTime;

use super::i18n::Tr;
use super::{Chrome, CsrfForm, PanelError, PanelUser, html};
use crate::app::{AppError, RetentionStatus};
use crate::config::RetentionSettings;
use crate::http::ApiState;

/// `2026-11-25 10:00:00 UTC`.
pub(super) fn fmt_time(t: OffsetDateTime) -> String {
    let f = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]:[second] UTC");
    t.to_offset(time::UtcOffset::UTC)
        .format(&f)
        .unwrap_or_else(|_| t.to_string())
}

#[derive(Template)]
#[template(path = "retention.html")]
struct RetentionPage {
    c: Chrome,
    /// Periods in force.
    current: RetentionSettings,
    /// Values in the form (in force, or what the admin typed when refused).
    form: RetentionSettings,
    from_config: RetentionSettings,
    overridden: bool,
    backup_keep_days: u32,
    next_purge: String,
    last_purge: Option<String>,
    last_counts: String,
    db_size: String,
    free_size: String,
    auto_vacuum: &'static str,
}

fn page(user: &PanelUser, status: RetentionStatus, form: Option<RetentionSettings>) -> RetentionPage {
    let page_size = status.space.page_size;
    let last_counts = status
        .last_purge
        .map(|l| {
            format!(
                "messages={} inbox={} reports={} webhook_events={} audit_entries={} pages_reclaimed={}",
                l.purged.messages,
                l.purged.inbox,
                l.purged.reports,
                l.purged.webhook_events,
                l.purged.audit_entries,
                l.pages_reclaimed
            )
        })
        .unwrap_or_default();
    RetentionPage {
        c: Chrome::of(user, "retention"),
        overridden: status.current != status.from_config,
        form: form.unwrap_or_else(|| status.current.clone()),
        current: status.current.clone(),
        from_config: status.from_config,
        backup_keep_days: status.backup_keep_days,
        next_purge: fmt_time(status.next_purge),
        last_purge: status.last_purge.map(|l| fmt_time(l.at)),
        last_counts,
        db_size: crate::ops::human::bytes(status.space.page_count * page_size),
        free_size: crate::ops::human::bytes(status.space.free_pages * page_size),
        auto_vacuum: match status.space.auto_vacuum {
            2 => "incremental",
            1 => "full",
            _ => "none",
        },
    }
}

#[derive(Debug, Deserialize, Default)]
pub struct RetentionQuery {
    #[serde(default)]
    saved: Option<String>,
}

/// `GET /panel/retention`.
pub async fn retention(
    State(state): State<ApiState>,
    user: PanelUser,
    Query(q): Query<RetentionQuery>,
) -> Result<Response, PanelError> {
    let status = state
        .gateway
        .retention_status(&user.principal)
        .await
        .map_err(|e| PanelError::app(e, user.lang))?;
    let mut p = page(&user, status, None);
    p.c.notice = q.saved.map(|_| Tr(user.lang).s("ret.saved").to_owned());
    html(&p)
}

#[derive(Debug, Deserialize)]
pub struct RetentionForm {
    days: String,
    audit_days: String,
    deletion_grace_hours: String,
}

fn number(field: &str, value: &str) -> Result<u32, AppError> {
    value
        .trim()
        .parse()
        .map_err(|_| AppError::validation(field, "must be a whole number"))
}

/// `POST /panel/retention`: admins change the periods; a refused value re-renders the form with it.
pub async fn save_retention(
    State(state): State<ApiState>,
    f: CsrfForm<RetentionForm>,
) -> Result<Response, PanelError> {
    let CsrfForm { user, form } = f;
    let parsed = (|| {
        Ok::<_, AppError>(RetentionSettings {
            days: number("retention.days", &form.days)?,
            audit_days: number("retention.audit_days", &form.audit_days)?,
            deletion_grace_hours: number("retention.deletion_grace_hours", &form.deletion_grace_hours)?,
        })
    })();
    let result = match &parsed {
        Ok(new) => {
            state
                .gateway
                .set_retention(&user.principal, new.clone(), Some(user.peer.to_string()))
                .await
        }
        Err(e) => Err(e.clone()),
    };
    match result {
        Ok(()) => Ok(Redirect::to("/panel/retention?saved=1").into_response()),
        Err(AppError::Validation { field, message }) => {
            let status = state
                .gateway
                .retention_status(&user.principal)
                .await
                .map_err(|e| PanelError::app(e, user.lang))?;
            let current = status.current.clone();
            let mut p = page(&user, status, Some(parsed.unwrap_or(current)));
            p.c.error = Some(format!("{field}: {message}"));
            Ok((StatusCode::UNPROCESSABLE_ENTITY, html(&p)?).into_response())
        }
        Err(e) => Err(PanelError::app(e, user.lang)),
    }
}
