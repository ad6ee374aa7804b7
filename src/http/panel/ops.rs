//! Operator pages of the panel: system health (readiness, version, uptime, database and WAL, queue depth
//! and age, last backup, disk, TLS certificate expiry) and the run-time routing rules (view, edit with a
//! preview and an explicit confirmation, audited). Both read the same application services as
//! `/metrics`, `/api/v1/system` and `/api/v1/routing`.
use askama::Template;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::i18n::Tr;
use super::{Chrome, CsrfForm, PanelError, PanelUser, html};
use crate::app::AppError;
use crate::app::health::SystemHealth;
use crate::app::routing::{RoutingRules, parse_rules, rules_text};
use crate::http::ApiState;
use crate::ops::human::{bytes, duration};
use crate::store::StoredRouteRule;

/// Days before expiry from which the certificate is shown as a warning (the appliance re-issues its
/// own certificate 30 days before expiry, see `tls::pki::SERVER_RENEW_BEFORE`).
const CERT_WARN_DAYS: i64 = 30;

fn fmt_time(t: time::OffsetDateTime) -> String {
    let f = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]:[second] UTC");
    t.to_offset(time::UtcOffset::UTC)
        .format(&f)
        .unwrap_or_else(|_| t.to_string())
}

// ---- system health ----

/// The system page, as text ready to show.
struct SystemView {
    ready: bool,
    problems: Vec<String>,
    version: String,
    started: String,
    uptime: String,
    modems: String,
    database: String,
    database_path: String,
    wal: String,
    disk: String,
    queued: u64,
    sending: u64,
    oldest: String,
    groups: Vec<(String, u64)>,
    backup: String,
    backup_warn: bool,
    certificate: String,
    certificate_warn: bool,
}

fn system_view(h: &SystemHealth, t: Tr) -> SystemView {
    let none = t.s("common.none").to_owned();
    let backup = match (&h.backup.error, h.backup.last_at, h.backup.age_seconds) {
        (Some(e), _, _) => format!("{}: {e}", h.backup.dir.display()),
        (None, Some(at), Some(age)) => format!(
            "{} ({} {}) · {} {} · {}",
            fmt_time(at),
            duration(age),
            t.s("sys.ago"),
            h.backup.count,
            t.s("sys.kept"),
            bytes(h.backup.last_bytes.unwrap_or(0))
        ),
        _ => t.s("sys.no_backup").to_owned(),
    };
    // A backup older than two intervals (or none while backups are scheduled) needs attention.
    let backup_warn = h.backup.error.is_some()
        || (h.backup.interval_hours > 0
            && h.backup
                .age_seconds
                .is_none_or(|a| a > 2 * 3600 * u64::from(h.backup.interval_hours)));
    let (certificate, certificate_warn) = match (&h.tls.error, h.tls.not_after, h.tls.days_left) {
        (Some(e), _, _) => (format!("{}: {e}", h.tls.certificate.display()), true),
        (None, Some(at), Some(days)) => (
            format!("{} ({days} {})", fmt_time(at), t.s("sys.days_left")),
            days < CERT_WARN_DAYS,
        ),
        _ => (none.clone(), true),
    };
    SystemView {
        ready: h.readiness.ready,
        problems: h.readiness.problems.clone(),
        version: h.version.clone(),
        started: fmt_time(h.started_at),
        uptime: duration(h.uptime_seconds),
        modems: format!("{} / {}", h.readiness.modems_ready, h.readiness.modems_total),
        database: bytes(h.database.bytes),
        database_path: h.database.path.display().to_string(),
        wal: bytes(h.database.wal_bytes),
        disk: h.disk.as_ref().map_or(none, |d| {
            format!("{} / {}", bytes(d.free_bytes), bytes(d.total_bytes))
        }),
        queued: h.queue.queued,
        sending: h.queue.sending,
        oldest: duration(h.queue.oldest_age_seconds as u64),
        groups: h
            .queue
            .by_group
            .iter()
            .map(|g| {
                (
                    g.group.clone().unwrap_or_else(|| t.s("sys.any_modem").to_owned()),
                    g.queued,
                )
            })
            .collect(),
        backup,
        backup_warn,
        certificate,
        certificate_warn,
    }
}

#[derive(Template)]
#[template(path = "system.html")]
struct SystemPage {
    c: Chrome,
    s: SystemView,
}

/// `GET /panel/system` (operators).
pub async fn system(State(state): State<ApiState>, user: PanelUser) -> Result<Response, PanelError> {
    let health = state
        .gateway
        .system_health(&user.principal)
        .await
        .map_err(|e| PanelError::app(e, user.lang))?;
    html(&SystemPage {
        s: system_view(&health, Tr(user.lang)),
        c: Chrome::of(&user, "system"),
    })
}

// ---- routing rules ----

/// One rule as the page lists it.
struct RuleRow {
    position: usize,
    matches: String,
    group: String,
    source: &'static str,
}

#[derive(Template)]
#[template(path = "routing.html")]
struct RoutingPage {
    c: Chrome,
    rows: Vec<RuleRow>,
    text: String,
    revision: String,
    groups: String,
}

#[derive(Template)]
#[template(path = "routing_confirm.html")]
struct RoutingConfirmPage {
    c: Chrome,
    before: Vec<StoredRouteRule>,
    after: Vec<StoredRouteRule>,
    text: String,
    revision: String,
}

fn rows_of(r: &RoutingRules, t: Tr) -> Vec<RuleRow> {
    let runtime = r
        .rules
        .iter()
        .map(|rule| (format!("{} …", rule.prefix), rule.group.clone(), "panel"));
    let configured = r.configured.iter().map(|rule| {
        let mut m = Vec::new();
        if let Some(a) = &rule.account {
            m.push(format!("{} {a}", t.s("route.account")));
        }
        if let Some(p) = &rule.prefix {
            m.push(format!("{p} …"));
        }
        (m.join(" + "), rule.group.clone(), "config")
    });
    runtime
        .chain(configured)
        .enumerate()
        .map(|(i, (matches, group, source))| RuleRow {
            position: i + 1,
            matches,
            group,
            source,
        })
        .collect()
}

fn routing_page(
    user: &PanelUser,
    rules: &RoutingRules,
    text: String,
    notice: Option<String>,
    error: Option<String>,
    status: StatusCode,
) -> Result<Response, PanelError> {
    let mut c = Chrome::of(user, "routing");
    c.notice = notice;
    c.error = error;
    let page = RoutingPage {
        rows: rows_of(rules, Tr(user.lang)),
        text,
        revision: rules.revision.clone(),
        groups: rules.groups.join(", "),
        c,
    };
    Ok((status, html(&page)?).into_response())
}

#[derive(Deserialize, Default)]
pub struct RoutingQuery {
    #[serde(default)]
    saved: Option<String>,
}

/// `GET /panel/routing` (operators): the effective list and the editor.
pub async fn routing(
    State(state): State<ApiState>,
    user: PanelUser,
    Query(q): Query<RoutingQuery>,
) -> Result<Response, PanelError> {
    let rules = state
        .gateway
        .routing_rules(&user.principal)
        .await
        .map_err(|e| PanelError::app(e, user.lang))?;
    let notice = q.saved.map(|_| Tr(user.lang).s("route.saved").to_owned());
    let text = rules_text(&rules.rules);
    routing_page(&user, &rules, text, notice, None, StatusCode::OK)
}

/// The editor form: the rules as text and the revision they were edited from.
#[derive(Deserialize)]
pub struct RoutingForm {
    rules: String,
    revision: String,
    /// Present (`yes`) only on the confirmation page's button.
    #[serde(default)]
    confirm: Option<String>,
}

/// Validation errors re-render the editor with the operator's text and the message (422).
async fn rejected(
    state: &ApiState,
    user: &PanelUser,
    text: String,
    e: AppError,
) -> Result<Response, PanelError> {
    let rules = state
        .gateway
        .routing_rules(&user.principal)
        .await
        .map_err(|e| PanelError::app(e, user.lang))?;
    let (status, message) = match e {
        AppError::Validation { field, message } => {
            (StatusCode::UNPROCESSABLE_ENTITY, format!("{field}: {message}"))
        }
        AppError::Conflict(m) => (StatusCode::CONFLICT, m),
        other => return Err(PanelError::app(other, user.lang)),
    };
    routing_page(user, &rules, text, None, Some(message), status)
}

/// `POST /panel/routing/preview`: validates the edit and shows the old and new list for confirmation;
/// nothing is saved yet.
pub async fn routing_preview(
    State(state): State<ApiState>,
    f: CsrfForm<RoutingForm>,
) -> Result<Response, PanelError> {
    let CsrfForm { user, form } = f;
    let parsed = parse_rules(&form.rules);
    let after = match parsed {
        Ok(r) => r,
        Err(e) => return rejected(&state, &user, form.rules, e).await,
    };
    if let Err(e) = state.gateway.check_routing_rules(&user.principal, &after).await {
        return rejected(&state, &user, form.rules, e).await;
    }
    let current = state
        .gateway
        .routing_rules(&user.principal)
        .await
        .map_err(|e| PanelError::app(e, user.lang))?;
    if current.revision != form.revision {
        let e = AppError::Conflict(Tr(user.lang).s("route.conflict").to_owned());
        return rejected(&state, &user, form.rules, e).await;
    }
    html(&RoutingConfirmPage {
        c: Chrome::of(&user, "routing"),
        before: current.rules,
        text: rules_text(&after),
        after,
        revision: form.revision,
    })
}

/// `POST /panel/routing`: saves a previewed edit; refused without the confirmation or when the rules
/// changed since the editor was opened. Audited by the gateway (`routing.changed`).
pub async fn routing_save(
    State(state): State<ApiState>,
    f: CsrfForm<RoutingForm>,
) -> Result<Response, PanelError> {
    let CsrfForm { user, form } = f;
    if form.confirm.as_deref() != Some("yes") {
        let e = AppError::validation("confirm", Tr(user.lang).s("route.confirm_needed"));
        return rejected(&state, &user, form.rules, e).await;
    }
    let rules = match parse_rules(&form.rules) {
        Ok(r) => r,
        Err(e) => return rejected(&state, &user, form.rules, e).await,
    };
    match state
        .gateway
        .set_routing_rules(
            &user.principal,
            rules,
            &form.revision,
            Some(user.peer.to_string()),
        )
        .await
    {
        Ok(_) => Ok(Redirect::to("/panel/routing?saved=1").into_response()),
        Err(e @ (AppError::Validation { .. } | AppError::Conflict(_))) => {
            rejected(&state, &user, form.rules, e).await
        }
        Err(e) => Err(PanelError::app(e, user.lang)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::health::{BackupHealth, DatabaseHealth, QueueHealth, TlsHealth};

    #[test]
    fn system_view_flags_what_needs_attention() {
        let now = time::OffsetDateTime::UNIX_EPOCH + time::Duration::days(20_000);
        let health = |backup_age: Option<u64>, days_left: Option<i64>| SystemHealth {
            version: "0.1.0".into(),
            started_at: now,
            uptime_seconds: 90,
            readiness: crate::ops::health::assess(Ok(()), 1, 2),
            database: DatabaseHealth {
                path: "/d/smsgate.db".into(),
                bytes: 2048,
                wal_bytes: 0,
            },
            disk: None,
            queue: QueueHealth {
                queued: 3,
                sending: 0,
                oldest_age_seconds: 61.0,
                by_group: vec![crate::app::health::GroupQueue {
                    group: None,
                    queued: 3,
                }],
            },
            backup: BackupHealth {
                dir: "/d/backups".into(),
                count: u64::from(backup_age.is_some()),
                last_at: backup_age.map(|_| now),
                last_bytes: backup_age.map(|_| 10),
                age_seconds: backup_age,
                interval_hours: 24,
                error: None,
            },
            tls: TlsHealth {
                certificate: "/d/tls/server.pem".into(),
                not_after: days_left.map(|d| now + time::Duration::days(d)),
                days_left,
                error: None,
            },
            modems: Vec::new(),
        };
        let cases = [
            (Some(3600), Some(300), false, false),
            (None, Some(300), true, false),
            (Some(3 * 86_400), Some(300), true, false),
            (Some(3600), Some(5), false, true),
            (Some(3600), None, false, true),
        ];
        for (age, days, backup_warn, cert_warn) in cases {
            let v = system_view(&health(age, days), Tr::default());
            assert_eq!(
                (v.backup_warn, v.certificate_warn),
                (backup_warn, cert_warn),
                "{age:?} {days:?}"
            );
            assert_eq!(
                (v.modems.as_str(), v.oldest.as_str(), v.uptime.as_str()),
                ("1 / 2", "1 min 1 s", "1 min 30 s")
            );
        }
    }
}
