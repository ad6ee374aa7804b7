//! SOAP operations over the application services: each [`Request`] becomes the same `app::Gateway` call
//! the REST API makes (no second implementation of sending, listing or cancelling), and each
//! `AppError` or REST problem becomes the fault with the same code.
//!
//! Field names differ between the surfaces (REST `recipients[2]`, `send_at`; SOAP `recipient[2]`,
//! `sendAt`); [`soap_field`] translates the application's names so validation faults name the element
//! the SOAP client sent.
use std::str::FromStr;

use super::fault::{Fault, FaultCode, PROBLEM_TYPE_PREFIX};
use super::ops::{
    AccountView, DeletionAcceptedView, EncodingPolicy, InboxView, MessageView, ModemView, Page,
    PendingDeletionView, Request, Response,
};
use crate::app::{
    AccountId, AppError, EncodingChoice, Gateway, InboxFilter, InboxId, InboxMessage, Message, MessageFilter,
    MessageId, MessageStatus, ModemRecord, Principal, SubmitRequest,
};
use crate::http::problem::Problem;
use crate::modem::UssdReply;

/// Runs one operation for `who` through the gateway's application services (no caller address for the
/// audit log: [`execute_from`] records one).
pub async fn execute(gateway: &Gateway, who: &Principal, request: Request) -> Result<Response, Fault> {
    execute_from(gateway, who, None, request).await
}

/// Runs one operation for `who`, who called from `source_ip` (recorded in the audit log of the
/// operations that audit, as REST records it).
pub async fn execute_from(
    gateway: &Gateway,
    who: &Principal,
    source_ip: Option<String>,
    request: Request,
) -> Result<Response, Fault> {
    match request {
        Request::SendSms(send) => {
            let submit = SubmitRequest {
                recipients: send.recipients,
                text: send.text,
                group: send.group,
                encoding: match send.encoding {
                    None | Some(EncodingPolicy::Auto) => EncodingChoice::Auto,
                    Some(EncodingPolicy::Gsm7) => EncodingChoice::Gsm7,
                    Some(EncodingPolicy::Ucs2) => EncodingChoice::Ucs2,
                    Some(EncodingPolicy::Gsm7Transliterate) => EncodingChoice::Gsm7Transliterate,
                },
                priority: send.priority.unwrap_or(0),
                send_at: send.send_at,
                // Validity is kept in whole seconds, as in REST; a fraction cannot change the TP-VP.
                validity_seconds: send.validity.map(|d| d.as_secs()),
                delivery_report: send.delivery_report.unwrap_or(false),
                client_ref: send.client_reference,
            };
            let messages = gateway
                .submit(who, submit, send.idempotency_key.as_deref())
                .await
                .map_err(app_fault)?;
            Ok(Response::SendSms(messages.iter().map(message_view).collect()))
        }
        Request::GetMessageStatus { id } => {
            let detail = gateway
                .message(who, parse_id::<MessageId>("id", &id)?)
                .await
                .map_err(app_fault)?;
            Ok(Response::GetMessageStatus(message_view(&detail.message)))
        }
        Request::ListMessages {
            status,
            recipient,
            client_reference,
            page,
        } => {
            let status = status
                .map(|s| MessageStatus::from_str(&s))
                .transpose()
                .map_err(|_| Fault::validation("status", "unknown message status"))?;
            let filter = MessageFilter {
                status,
                recipient,
                client_ref: client_reference,
                before: cursor::<MessageId>(&page)?,
                limit: page.limit.unwrap_or(0),
                ..MessageFilter::default()
            };
            let found = gateway.list_messages(who, filter).await.map_err(app_fault)?;
            Ok(Response::ListMessages {
                messages: found.items.iter().map(message_view).collect(),
                next_cursor: found.next_cursor,
            })
        }
        Request::CancelMessage { id } => {
            let message = gateway
                .cancel_message(who, parse_id::<MessageId>("id", &id)?)
                .await
                .map_err(app_fault)?;
            Ok(Response::CancelMessage(message_view(&message)))
        }
        Request::GetInbox { originator, page } => {
            let filter = InboxFilter {
                originator,
                before: cursor::<InboxId>(&page)?,
                limit: page.limit.unwrap_or(0),
            };
            let found = gateway.inbox(who, filter).await.map_err(app_fault)?;
            Ok(Response::GetInbox {
                items: found.items.iter().map(inbox_view).collect(),
                next_cursor: found.next_cursor,
            })
        }
        Request::DeleteInbox { ids } => {
            let ids = ids
                .iter()
                .enumerate()
                .map(|(i, id)| parse_id::<InboxId>(&format!("id[{i}]"), id))
                .collect::<Result<Vec<_>, _>>()?;
            // Every id must be visible to the caller before anything is deleted, so a typo in the
            // third id does not leave the first two gone and the client unsure what happened.
            for id in &ids {
                gateway.inbox_item(who, *id).await.map_err(app_fault)?;
            }
            let mut deleted = 0u32;
            for id in ids {
                gateway.delete_inbox(who, id).await.map_err(app_fault)?;
                deleted += 1;
            }
            Ok(Response::DeleteInbox { deleted })
        }
        Request::ListModems => {
            let modems = gateway.modems(who).await.map_err(app_fault)?;
            Ok(Response::ListModems(modems.iter().map(modem_view).collect()))
        }
        Request::SendUssd { modem, code } => {
            let reply = gateway.ussd(who, &modem, &code).await.map_err(app_fault)?;
            ussd_response(reply)
        }
        Request::GetAccountInfo => Ok(Response::GetAccountInfo(AccountView {
            id: who.account_id.0,
            login: who.login.clone(),
            role: who.role.as_str().to_owned(),
        })),
        // The account operations run the same services as REST's `/account/deletion` (no accountId)
        // and `/accounts/{id}/deletion` (an admin naming the account).
        Request::RequestAccountDeletion { account_id } => {
            let id = account_id.map_or(who.account_id, AccountId);
            let a = gateway
                .request_account_deletion(who, id, source_ip)
                .await
                .map_err(app_fault)?;
            Ok(Response::RequestAccountDeletion(DeletionAcceptedView {
                erased: a.erased,
                account_id: a.request.account_id.0,
                requested_at: a.request.requested_at,
                execute_after: a.request.execute_after,
            }))
        }
        Request::GetAccountDeletion { account_id } => {
            let id = account_id.map_or(who.account_id, AccountId);
            let pending = gateway
                .account_deletion(who, id)
                .await
                .map_err(app_fault)?
                .map(|r| PendingDeletionView {
                    requested_at: r.requested_at,
                    requested_by: r.requested_by,
                    source_ip: r.source_ip,
                    execute_after: r.execute_after,
                });
            Ok(Response::GetAccountDeletion {
                account_id: id.0,
                pending,
            })
        }
        Request::CancelAccountDeletion { account_id } => {
            let id = account_id.map_or(who.account_id, AccountId);
            gateway
                .cancel_account_deletion(who, id, source_ip)
                .await
                .map_err(app_fault)?;
            Ok(Response::CancelAccountDeletion { account_id: id.0 })
        }
    }
}

/// `+CUSD` `<m>` values (3GPP TS 27.007 §7.15).
const USSD_FURTHER_ACTION: u8 = 1;
const USSD_NOT_SUPPORTED: u8 = 4;
const USSD_NETWORK_TIMEOUT: u8 = 5;

fn ussd_response(reply: UssdReply) -> Result<Response, Fault> {
    match reply.status {
        USSD_NOT_SUPPORTED => Err(Fault::new(
            FaultCode::Unavailable,
            "the network does not support this USSD code",
        )),
        USSD_NETWORK_TIMEOUT => Err(Fault::new(
            FaultCode::Unavailable,
            "the network did not answer the USSD code in time",
        )),
        status => Ok(Response::SendUssd {
            reply: reply.text.unwrap_or_default(),
            session_open: Some(status == USSD_FURTHER_ACTION),
        }),
    }
}

fn parse_id<T: FromStr>(field: &str, value: &str) -> Result<T, Fault> {
    T::from_str(value).map_err(|_| Fault::validation(field, "is not a valid id (a UUID)"))
}

fn cursor<T: FromStr>(page: &Page) -> Result<Option<T>, Fault> {
    page.cursor
        .as_deref()
        .map(|c| {
            T::from_str(c).map_err(|_| Fault::validation("cursor", "is not a cursor from a previous page"))
        })
        .transpose()
}

/// The fault for an application error: the same code as the REST problem type it maps to.
pub fn app_fault(error: AppError) -> Fault {
    match error {
        AppError::Validation { field, message } => Fault::validation(soap_field(&field), message),
        AppError::NotFound(what) => Fault::new(FaultCode::NotFound, format!("no such {what}")),
        AppError::Conflict(message) => Fault::new(FaultCode::Conflict, message),
        AppError::Forbidden(message) => Fault::new(FaultCode::Forbidden, message),
        AppError::RateLimited { retry_after } => Fault {
            // Rounded up, as REST's Retry-After: retrying early only earns another refusal.
            retry_after: Some(retry_after.as_secs() + u64::from(retry_after.subsec_nanos() > 0)),
            ..Fault::new(FaultCode::RateLimited, "too many requests; retry later")
        },
        AppError::Unavailable(message) => Fault::new(FaultCode::Unavailable, message),
        AppError::Internal(detail) => {
            // Details go to the log only, as in REST.
            tracing::error!(error = %detail, "internal error in a SOAP operation");
            Fault::new(FaultCode::Internal, "internal error")
        }
    }
}

/// The fault for a REST problem (what the shared authentication answers).
pub fn problem_fault(problem: &Problem) -> Fault {
    let kind = problem
        .type_uri
        .strip_prefix(PROBLEM_TYPE_PREFIX)
        .unwrap_or("internal");
    let code = match kind {
        "validation" => FaultCode::Validation,
        "unauthorized" => FaultCode::Unauthorized,
        "forbidden" => FaultCode::Forbidden,
        "not-found" => FaultCode::NotFound,
        "conflict" => FaultCode::Conflict,
        "rate-limited" => FaultCode::RateLimited,
        "too-large" => FaultCode::PayloadTooLarge,
        "malformed" => FaultCode::MalformedRequest,
        "unsupported-media-type" => FaultCode::UnsupportedMediaType,
        "unavailable" => FaultCode::Unavailable,
        _ => FaultCode::Internal,
    };
    Fault {
        code,
        message: problem.detail.clone().unwrap_or_else(|| problem.title.clone()),
        field: problem.field.as_deref().map(soap_field),
        retry_after: problem.retry_after,
    }
}

/// The SOAP element path for an application field path: `recipients[2]` → `recipient[2]`,
/// `send_at` → `sendAt`. Names the two surfaces share pass through.
pub fn soap_field(field: &str) -> String {
    const RENAMES: [(&str, &str); 6] = [
        ("recipients", "recipient"),
        ("send_at", "sendAt"),
        ("validity_seconds", "validity"),
        ("client_ref", "clientReference"),
        ("delivery_report", "deliveryReport"),
        ("Idempotency-Key", "idempotencyKey"),
    ];
    let (name, index) = match field.find('[') {
        Some(at) => field.split_at(at),
        None => (field, ""),
    };
    let name = RENAMES
        .iter()
        .find(|(app, _)| *app == name)
        .map_or(name, |(_, soap)| soap);
    format!("{name}{index}")
}

fn message_view(m: &Message) -> MessageView {
    MessageView {
        id: m.id.to_string(),
        recipient: m.recipient.clone(),
        status: m.status.as_str().to_owned(),
        text: Some(m.text.clone()),
        group: m.group.clone(),
        encoding: Some(m.encoding.as_str().to_owned()),
        parts: Some(m.parts),
        attempts: Some(m.attempts),
        priority: Some(m.priority),
        delivery_report: Some(m.delivery_report),
        client_reference: m.client_ref.clone(),
        modem: m.modem.clone(),
        error: m.error.clone(),
        created_at: Some(m.created_at),
        send_at: m.send_at,
        valid_until: m.valid_until,
        updated_at: Some(m.updated_at),
    }
}

fn inbox_view(m: &InboxMessage) -> InboxView {
    InboxView {
        id: m.id.to_string(),
        originator: m.originator.clone(),
        text: m.text.clone(),
        modem: Some(m.modem.clone()),
        received_at: Some(m.received_at),
        parts: Some(m.parts),
        complete: Some(!m.incomplete),
    }
}

/// `+CSQ` RSSI as dBm (3GPP TS 27.007 §8.5: 0 is -113 dBm or less, each step 2 dB, 31 is -51 dBm or
/// more; 99 is unknown and is stored as absent).
fn rssi_dbm(rssi: u64) -> Option<i32> {
    const RSSI_MAX: u64 = 31;
    const DBM_AT_ZERO: i32 = -113;
    const DB_PER_STEP: i32 = 2;
    (rssi <= RSSI_MAX).then(|| DBM_AT_ZERO + DB_PER_STEP * rssi as i32)
}

fn modem_view(m: &ModemRecord) -> ModemView {
    let state = &m.state;
    let phase = state.get("phase").and_then(|p| p.as_str());
    ModemView {
        id: m.id.clone(),
        name: m.name.clone(),
        state: phase
            .map(str::to_owned)
            .unwrap_or_else(|| if m.up { "ready" } else { "down" }.to_owned()),
        group: m.group.clone(),
        operator: state.get("operator").and_then(|o| o.as_str()).map(str::to_owned),
        signal: state.get("signal").and_then(|s| s.as_u64()).and_then(rssi_dbm),
        sent_parts: Some(m.sent_parts),
        received: Some(m.received),
        errors: Some(m.errors),
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::super::ops::SendSms;
    use super::*;
    use crate::app::Role;
    use crate::config::Settings;

    async fn gateway() -> (tempfile::TempDir, Gateway) {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let settings = Settings::default_with_data_dir(dir.path());
        let (gw, _) = Gateway::open(settings).await.unwrap_or_else(|e| panic!("{e}"));
        (dir, gw)
    }

    async fn principal(gw: &Gateway, login: &str, role: Role) -> Principal {
        let account = gw
            .create_account(None, login, "hash".into(), role)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        Principal::of(&account)
    }

    fn send(recipients: &[&str], text: &str) -> SendSms {
        SendSms {
            text: text.into(),
            recipients: recipients.iter().map(|r| r.to_string()).collect(),
            group: None,
            encoding: None,
            priority: None,
            send_at: None,
            validity: None,
            delivery_report: None,
            client_reference: None,
            idempotency_key: None,
        }
    }

    async fn ok(gw: &Gateway, who: &Principal, request: Request) -> Response {
        execute(gw, who, request.clone())
            .await
            .unwrap_or_else(|f| panic!("{request:?}: {f:?}"))
    }

    async fn fault(gw: &Gateway, who: &Principal, request: Request) -> Fault {
        match execute(gw, who, request.clone()).await {
            Err(f) => f,
            Ok(r) => panic!("{request:?}: answered {r:?}"),
        }
    }

    fn messages(response: Response) -> Vec<MessageView> {
        match response {
            Response::SendSms(m) => m,
            Response::ListMessages { messages, .. } => messages,
            Response::GetMessageStatus(m) | Response::CancelMessage(m) => vec![m],
            other => panic!("not messages: {other:?}"),
        }
    }

    #[tokio::test]
    async fn send_list_status_cancel_through_the_application_services() {
        let (_dir, gw) = gateway().await;
        let shop = principal(&gw, "shop", Role::Client).await;
        let later = time::OffsetDateTime::now_utc() + time::Duration::hours(1);
        let sent = messages(
            ok(
                &gw,
                &shop,
                Request::SendSms(SendSms {
                    priority: Some(5),
                    send_at: Some(later),
                    validity: Some(Duration::from_secs(7200)),
                    delivery_report: Some(true),
                    client_reference: Some("order-1".into()),
                    idempotency_key: Some("k1".into()),
                    ..send(&["+48600100200", "+48600100201"], "Zażółć 😀")
                }),
            )
            .await,
        );
        assert_eq!(sent.len(), 2);
        assert_eq!(sent[0].recipient, "+48600100200");
        assert_eq!(sent[0].status, "queued");
        assert_eq!(sent[0].encoding.as_deref(), Some("ucs2"));
        assert_eq!(sent[0].priority, Some(5));
        assert_eq!(sent[0].delivery_report, Some(true));
        assert_eq!(sent[0].client_reference.as_deref(), Some("order-1"));
        assert!(sent[0].valid_until.is_some());

        // The idempotency key replays the same messages.
        let again = messages(
            ok(
                &gw,
                &shop,
                Request::SendSms(SendSms {
                    priority: Some(5),
                    send_at: Some(later),
                    validity: Some(Duration::from_secs(7200)),
                    delivery_report: Some(true),
                    client_reference: Some("order-1".into()),
                    idempotency_key: Some("k1".into()),
                    ..send(&["+48600100200", "+48600100201"], "Zażółć 😀")
                }),
            )
            .await,
        );
        assert_eq!(
            again.iter().map(|m| &m.id).collect::<Vec<_>>(),
            sent.iter().map(|m| &m.id).collect::<Vec<_>>()
        );
        let reuse = fault(
            &gw,
            &shop,
            Request::SendSms(SendSms {
                idempotency_key: Some("k1".into()),
                ..send(&["+48600100200"], "other")
            }),
        )
        .await;
        assert_eq!(reuse.code, FaultCode::Conflict);

        let status = messages(
            ok(
                &gw,
                &shop,
                Request::GetMessageStatus {
                    id: sent[1].id.clone(),
                },
            )
            .await,
        );
        assert_eq!(status[0].id, sent[1].id);

        // Paging: one per page, newest first, the cursor leads to the other.
        let first = ok(
            &gw,
            &shop,
            Request::ListMessages {
                status: Some("queued".into()),
                recipient: None,
                client_reference: Some("order-1".into()),
                page: Page {
                    limit: Some(1),
                    cursor: None,
                },
            },
        )
        .await;
        let Response::ListMessages {
            messages: page1,
            next_cursor: Some(next),
        } = first
        else {
            panic!("no next page: {first:?}");
        };
        let Response::ListMessages { messages: page2, .. } = ok(
            &gw,
            &shop,
            Request::ListMessages {
                status: None,
                recipient: None,
                client_reference: None,
                page: Page {
                    limit: Some(1),
                    cursor: Some(next),
                },
            },
        )
        .await
        else {
            panic!("not a list");
        };
        assert_eq!(page1.len(), 1);
        assert_eq!(page2.len(), 1);
        assert_ne!(page1[0].id, page2[0].id);

        let cancelled = messages(
            ok(
                &gw,
                &shop,
                Request::CancelMessage {
                    id: sent[0].id.clone(),
                },
            )
            .await,
        );
        assert_eq!(cancelled[0].status, "cancelled");
        let again = fault(
            &gw,
            &shop,
            Request::CancelMessage {
                id: sent[0].id.clone(),
            },
        )
        .await;
        assert_eq!(again.code, FaultCode::Conflict);
    }

    #[tokio::test]
    async fn faults_map_from_application_errors_and_name_soap_elements() {
        let (_dir, gw) = gateway().await;
        let shop = principal(&gw, "shop", Role::Client).await;
        let other = principal(&gw, "other", Role::Client).await;
        let check = async |who: &Principal, request: Request, code: FaultCode, field: Option<&str>| {
            let f = fault(&gw, who, request.clone()).await;
            assert_eq!((f.code, f.field.as_deref()), (code, field), "{request:?}: {f:?}");
        };
        check(
            &shop,
            Request::SendSms(send(&["+48600100200", "hello"], "hi")),
            FaultCode::Validation,
            Some("recipient[1]"),
        )
        .await;
        check(
            &shop,
            Request::SendSms(SendSms {
                encoding: Some(EncodingPolicy::Gsm7),
                ..send(&["+48600100200"], "emoji 😀")
            }),
            FaultCode::Validation,
            Some("text"),
        )
        .await;
        check(
            &shop,
            Request::SendSms(SendSms {
                validity: Some(Duration::from_secs(10)),
                ..send(&["+48600100200"], "hi")
            }),
            FaultCode::Validation,
            Some("validity"),
        )
        .await;
        check(
            &shop,
            Request::SendSms(SendSms {
                group: Some("nope".into()),
                ..send(&["+48600100200"], "hi")
            }),
            FaultCode::Validation,
            Some("group"),
        )
        .await;
        check(
            &shop,
            Request::GetMessageStatus { id: "x".into() },
            FaultCode::Validation,
            Some("id"),
        )
        .await;
        check(
            &shop,
            Request::GetMessageStatus {
                id: MessageId::new().to_string(),
            },
            FaultCode::NotFound,
            None,
        )
        .await;
        check(
            &shop,
            Request::ListMessages {
                status: None,
                recipient: None,
                client_reference: None,
                page: Page {
                    limit: None,
                    cursor: Some("garbage".into()),
                },
            },
            FaultCode::Validation,
            Some("cursor"),
        )
        .await;
        check(
            &shop,
            Request::DeleteInbox {
                ids: vec![InboxId::new().to_string(), "bad".into()],
            },
            FaultCode::Validation,
            Some("id[1]"),
        )
        .await;
        check(
            &shop,
            Request::DeleteInbox {
                ids: vec![InboxId::new().to_string()],
            },
            FaultCode::NotFound,
            None,
        )
        .await;

        // Another client's message is not found, not forbidden: ids of others are not revealed.
        let theirs = messages(ok(&gw, &other, Request::SendSms(send(&["+48600100200"], "x"))).await);
        check(
            &shop,
            Request::GetMessageStatus {
                id: theirs[0].id.clone(),
            },
            FaultCode::NotFound,
            None,
        )
        .await;
        check(
            &shop,
            Request::CancelMessage {
                id: theirs[0].id.clone(),
            },
            FaultCode::NotFound,
            None,
        )
        .await;
    }

    #[tokio::test]
    async fn account_modems_and_empty_inbox() {
        let (_dir, gw) = gateway().await;
        let admin = principal(&gw, "root", Role::Admin).await;
        match ok(&gw, &admin, Request::GetAccountInfo).await {
            Response::GetAccountInfo(a) => {
                assert_eq!((a.login.as_str(), a.role.as_str()), ("root", "admin"));
                assert_eq!(a.id, admin.account_id.0);
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(
            ok(&gw, &admin, Request::ListModems).await,
            Response::ListModems(vec![])
        );
        assert_eq!(
            ok(
                &gw,
                &admin,
                Request::GetInbox {
                    originator: None,
                    page: Page::default()
                }
            )
            .await,
            Response::GetInbox {
                items: vec![],
                next_cursor: None
            }
        );
    }

    #[test]
    fn field_names_translate_to_soap_elements() {
        let check = |app: &str, soap: &str| assert_eq!(soap_field(app), soap, "{app}");
        check("recipients", "recipient");
        check("recipients[12]", "recipient[12]");
        check("send_at", "sendAt");
        check("validity_seconds", "validity");
        check("client_ref", "clientReference");
        check("Idempotency-Key", "idempotencyKey");
        check("text", "text");
        check("group", "group");
    }

    #[test]
    fn ussd_replies() {
        let reply = |status: u8, text: Option<&str>| {
            ussd_response(UssdReply {
                status,
                text: text.map(str::to_owned),
                dcs: None,
            })
        };
        assert_eq!(
            reply(0, Some("Saldo 5 zl")),
            Ok(Response::SendUssd {
                reply: "Saldo 5 zl".into(),
                session_open: Some(false)
            })
        );
        assert_eq!(
            reply(1, Some("1: saldo")),
            Ok(Response::SendUssd {
                reply: "1: saldo".into(),
                session_open: Some(true)
            })
        );
        assert_eq!(reply(4, None).map_err(|f| f.code), Err(FaultCode::Unavailable));
        assert_eq!(reply(5, None).map_err(|f| f.code), Err(FaultCode::Unavailable));
    }

    #[test]
    fn rssi_to_dbm() {
        assert_eq!(rssi_dbm(0), Some(-113));
        assert_eq!(rssi_dbm(15), Some(-83));
        assert_eq!(rssi_dbm(31), Some(-51));
        assert_eq!(rssi_dbm(99), None);
    }

    #[test]
    fn problems_map_to_the_same_codes() {
        let check = |p: Problem, code: FaultCode| {
            let f = problem_fault(&p);
            assert_eq!(f.code, code, "{p:?}");
            f
        };
        check(Problem::unauthorized(), FaultCode::Unauthorized);
        check(Problem::forbidden("no"), FaultCode::Forbidden);
        let f = check(
            Problem::rate_limited(Duration::from_millis(1500)),
            FaultCode::RateLimited,
        );
        assert_eq!(f.retry_after, Some(2));
        check(Problem::unavailable("db"), FaultCode::Unavailable);
        let f = check(
            Problem::invalid_field("client_ref", "too long"),
            FaultCode::Validation,
        );
        assert_eq!(f.field.as_deref(), Some("clientReference"));
        for code in [
            FaultCode::Validation,
            FaultCode::Unauthorized,
            FaultCode::Forbidden,
            FaultCode::NotFound,
            FaultCode::Conflict,
            FaultCode::RateLimited,
            FaultCode::PayloadTooLarge,
            FaultCode::MalformedRequest,
            FaultCode::UnsupportedMediaType,
            FaultCode::Unavailable,
            FaultCode::Internal,
        ] {
            let p = Problem::new(axum::http::StatusCode::BAD_REQUEST, code.as_str(), "t");
            assert_eq!(problem_fault(&p).code, code, "{code:?} round trip");
        }
    }
}
