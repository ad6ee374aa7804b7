//! The SOAP contract: the WSDL is stable (golden file) and consistent with the operations the server
//! implements; the XSD is a valid schema (checked by `xmllint --schema`, libxml2-utils) that accepts the
//! sample requests the server accepts, rejects the ones the server rejects, and accepts every response
//! and fault detail the server writes.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::Command;

use smsgate::app::{MAX_CLIENT_REF, MAX_IDEMPOTENCY_KEY, MAX_RECIPIENTS, MessageStatus, PRIORITY_RANGE};
use smsgate::http::soap::envelope::SoapVersion;
use smsgate::http::soap::ops::{
    AccountView, DELETION_STATUSES, DeletionAcceptedView, InboxView, MessageView, ModemView, Operation,
    PENDING_DELETION_STATUSES, PendingDeletionView, Response, parse_request,
};
use smsgate::http::soap::xml::{Element, Limits, parse};
use smsgate::http::soap::{Fault, FaultCode, TNS, XSD, wsdl};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

const XSD_PATH: &str = "src/http/soap/smsgate.xsd";
const GOLDEN_WSDL: &str = "tests/soap/golden/smsgate.wsdl";
const SAMPLES: &str = "tests/soap/requests";
const WSDL_NS: &str = "http://schemas.xmlsoap.org/wsdl/";
const WSDL_SOAP11_NS: &str = "http://schemas.xmlsoap.org/wsdl/soap/";
const WSDL_SOAP12_NS: &str = "http://schemas.xmlsoap.org/wsdl/soap12/";
const XS_NS: &str = "http://www.w3.org/2001/XMLSchema";

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Runs `xmllint --noout --schema smsgate.xsd file`; true when the file validates.
fn xmllint_validates(file: &Path) -> (bool, String) {
    let out = Command::new("xmllint")
        .arg("--noout")
        .arg("--nonet")
        .arg("--schema")
        .arg(root().join(XSD_PATH))
        .arg(file)
        .output()
        .unwrap_or_else(|e| {
            panic!("cannot run xmllint ({e}): install libxml2-utils (tests/run-all.sh does)")
        });
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    // An unusable schema is a failure of this test, not a rejected document.
    assert!(
        !stderr.contains("failed to compile") && !stderr.contains("WXS schema"),
        "the XSD does not compile: {stderr}"
    );
    (out.status.success(), stderr)
}

fn write_temp(dir: &tempfile::TempDir, name: &str, text: &str) -> PathBuf {
    let path = dir.path().join(name);
    std::fs::write(&path, text).unwrap();
    path
}

fn samples() -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = std::fs::read_dir(root().join(SAMPLES))
        .unwrap()
        .map(|e| {
            let path = e.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read_to_string(&path).unwrap())
        })
        .collect();
    out.sort();
    out
}

#[test]
fn sample_requests_validate_and_are_accepted_by_the_server() {
    let samples = samples();
    let mut covered = Vec::new();
    for (name, text) in &samples {
        let (ok, stderr) = xmllint_validates(&root().join(SAMPLES).join(name));
        assert!(ok, "{name} does not validate: {stderr}");
        let element = parse(text.as_bytes(), &Limits::SOAP).unwrap();
        let (op, _) = parse_request(&element).unwrap_or_else(|f| panic!("{name}: {f:?}"));
        covered.push(op);
    }
    for op in Operation::ALL {
        assert!(covered.contains(&op), "no sample request for {}", op.name());
    }
}

#[test]
fn invalid_requests_are_rejected_by_schema_and_server_alike() {
    let dir = tempfile::tempdir().unwrap();
    let cases: &[(&str, &str, &str)] = &[
        ("no-text", "<SendSms><recipient>1</recipient></SendSms>", "text"),
        ("no-recipient", "<SendSms><text>x</text></SendSms>", "recipient"),
        (
            "bad-encoding",
            "<SendSms><text>x</text><recipient>1</recipient><encoding>latin1</encoding></SendSms>",
            "encoding",
        ),
        (
            "bad-priority",
            "<SendSms><text>x</text><recipient>1</recipient><priority>999</priority></SendSms>",
            "priority",
        ),
        (
            "bad-send-at",
            "<SendSms><text>x</text><recipient>1</recipient><sendAt>soon</sendAt></SendSms>",
            "sendAt",
        ),
        (
            "bad-validity",
            "<SendSms><text>x</text><recipient>1</recipient><validity>2h</validity></SendSms>",
            "validity",
        ),
        (
            "bad-report",
            "<SendSms><text>x</text><recipient>1</recipient><deliveryReport>yes</deliveryReport></SendSms>",
            "deliveryReport",
        ),
        (
            "unknown-element",
            "<SendSms><text>x</text><recipient>1</recipient><fax>1</fax></SendSms>",
            "fax",
        ),
        (
            "page-too-big",
            "<ListMessages><limit>5000</limit></ListMessages>",
            "limit",
        ),
        (
            "bad-status",
            "<ListMessages><status>lost</status></ListMessages>",
            "status",
        ),
        ("no-id", "<GetMessageStatus/>", "id"),
        ("no-ids", "<DeleteInbox/>", "id"),
        ("no-code", "<SendUssd><modem>m</modem></SendUssd>", "code"),
        (
            "bad-account-id",
            "<RequestAccountDeletion><accountId>me</accountId></RequestAccountDeletion>",
            "accountId",
        ),
        (
            "two-account-ids",
            "<CancelAccountDeletion><accountId>1</accountId><accountId>2</accountId></CancelAccountDeletion>",
            "accountId",
        ),
        (
            "unknown-in-deletion",
            "<GetAccountDeletion><grace>PT1H</grace></GetAccountDeletion>",
            "grace",
        ),
    ];
    for (name, body, field) in cases {
        let doc = in_service_namespace(body);
        let path = write_temp(&dir, &format!("{name}.xml"), &doc);
        let (ok, _) = xmllint_validates(&path);
        assert!(!ok, "{name}: the schema accepts {doc}");
        let element = parse(doc.as_bytes(), &Limits::SOAP).unwrap();
        match parse_request(&element) {
            Err(fault) => {
                assert_eq!(fault.code, FaultCode::Validation, "{name}");
                assert_eq!(fault.field.as_deref(), Some(*field), "{name}");
            }
            Ok(r) => panic!("{name}: the server accepts {doc} as {r:?}"),
        }
    }
}

/// Puts the root element (and so, by default namespace, all of them) into the service namespace.
fn in_service_namespace(body: &str) -> String {
    let name_end = body.find(['>', '/']).unwrap();
    format!(r#"{} xmlns="{TNS}"{}"#, &body[..name_end], &body[name_end..])
}

fn t(s: &str) -> OffsetDateTime {
    OffsetDateTime::parse(s, &Rfc3339).unwrap()
}

fn full_message() -> MessageView {
    MessageView {
        id: "019ab8a1-7f3c-7c1e-9d2a-5b7e1f0c3a11".into(),
        recipient: "+48600100200".into(),
        status: "delivered".into(),
        text: Some("Kod: 4711 😀".into()),
        group: Some("otp".into()),
        encoding: Some("ucs2".into()),
        parts: Some(2),
        attempts: Some(1),
        priority: Some(-3),
        delivery_report: Some(true),
        client_reference: Some("order <4711> & co".into()),
        modem: Some("sim0".into()),
        error: Some("none".into()),
        created_at: Some(t("2026-11-25T08:00:00Z")),
        send_at: Some(t("2026-11-25T08:00:00.5+02:00")),
        valid_until: Some(t("2026-11-26T08:00:00Z")),
        updated_at: Some(t("2026-11-25T08:00:03Z")),
    }
}

fn every_response() -> Vec<Response> {
    let minimal = MessageView {
        id: "m".into(),
        recipient: "1".into(),
        status: "queued".into(),
        ..MessageView::default()
    };
    vec![
        Response::SendSms(vec![full_message(), minimal.clone()]),
        Response::GetMessageStatus(full_message()),
        Response::ListMessages {
            messages: vec![minimal.clone(), full_message()],
            next_cursor: Some("c1".into()),
        },
        Response::ListMessages {
            messages: vec![],
            next_cursor: None,
        },
        Response::CancelMessage(minimal),
        Response::GetInbox {
            items: vec![
                InboxView {
                    id: "i1".into(),
                    originator: "+48600100200".into(),
                    text: "Odp: tak 😀\r\n".into(),
                    modem: Some("sim0".into()),
                    received_at: Some(t("2026-11-25T08:00:00Z")),
                    parts: Some(1),
                    complete: Some(true),
                },
                InboxView {
                    id: "i2".into(),
                    originator: "Bank".into(),
                    text: String::new(),
                    received_at: Some(t("2026-11-25T08:00:00Z")),
                    ..InboxView::default()
                },
            ],
            next_cursor: None,
        },
        Response::DeleteInbox { deleted: 2 },
        Response::ListModems(vec![
            ModemView {
                id: "356938035643809".into(),
                name: Some("bank A slot 1".into()),
                state: "ready".into(),
                group: Some("otp".into()),
                operator: Some("Play".into()),
                signal: Some(-71),
                sent_parts: Some(10),
                received: Some(3),
                errors: Some(0),
            },
            ModemView {
                id: "m2".into(),
                state: "initialising".into(),
                ..ModemView::default()
            },
        ]),
        Response::ListModems(vec![]),
        Response::SendUssd {
            reply: "Saldo: 12,34 zł".into(),
            session_open: Some(false),
        },
        Response::GetAccountInfo(AccountView {
            id: 42,
            login: "shop".into(),
            role: "client".into(),
        }),
        Response::RequestAccountDeletion(DeletionAcceptedView {
            erased: false,
            account_id: 42,
            requested_at: t("2026-11-25T08:00:00Z"),
            execute_after: t("2026-11-27T08:00:00Z"),
        }),
        Response::RequestAccountDeletion(DeletionAcceptedView {
            erased: true,
            account_id: 42,
            requested_at: t("2026-11-25T08:00:00.125+01:00"),
            execute_after: t("2026-11-25T08:00:00.125+01:00"),
        }),
        Response::GetAccountDeletion {
            account_id: 42,
            pending: Some(PendingDeletionView {
                requested_at: t("2026-11-25T08:00:00Z"),
                requested_by: Some("shop <&>".into()),
                source_ip: Some("::1".into()),
                execute_after: t("2026-11-27T08:00:00Z"),
            }),
        },
        Response::GetAccountDeletion {
            account_id: 42,
            pending: Some(PendingDeletionView {
                requested_at: t("2026-11-25T08:00:00Z"),
                requested_by: None,
                source_ip: None,
                execute_after: t("2026-11-27T08:00:00Z"),
            }),
        },
        Response::GetAccountDeletion {
            account_id: 42,
            pending: None,
        },
        Response::CancelAccountDeletion { account_id: 42 },
    ]
}

#[test]
fn every_response_validates_against_the_schema() {
    let dir = tempfile::tempdir().unwrap();
    let mut covered = Vec::new();
    for (i, response) in every_response().iter().enumerate() {
        let payload = response.to_payload();
        let path = write_temp(&dir, &format!("response-{i}.xml"), &payload);
        let (ok, stderr) = xmllint_validates(&path);
        assert!(ok, "{payload}\n{stderr}");
        covered.push(response.operation());
    }
    for op in Operation::ALL {
        assert!(covered.contains(&op), "no response sample for {}", op.name());
    }
}

#[test]
fn fault_details_validate_against_the_schema() {
    let dir = tempfile::tempdir().unwrap();
    let faults = [
        Fault::validation("recipient[3]", "not a phone number"),
        Fault {
            retry_after: Some(30),
            ..Fault::new(FaultCode::RateLimited, "slow down")
        },
        Fault::new(FaultCode::NotFound, "no such message"),
        Fault::new(FaultCode::UnsupportedMediaType, "x"),
        Fault::new(FaultCode::PayloadTooLarge, "x"),
        Fault::new(FaultCode::Internal, "x"),
    ];
    for fault in faults {
        for version in [SoapVersion::V11, SoapVersion::V12] {
            let envelope = fault.to_envelope(version);
            let root = parse(envelope.as_bytes(), &Limits::SOAP).unwrap();
            let detail = find(&root, "SmsGateFault").unwrap_or_else(|| panic!("{envelope}"));
            let text = reserialize(detail);
            let path = write_temp(&dir, "fault.xml", &text);
            let (ok, stderr) = xmllint_validates(&path);
            assert!(ok, "{text}\n{stderr}");
        }
    }
}

fn find<'a>(e: &'a Element, local: &str) -> Option<&'a Element> {
    if e.local == local {
        return Some(e);
    }
    e.children.iter().find_map(|c| find(c, local))
}

/// Writes an element (in the service namespace) back as a standalone document.
fn reserialize(e: &Element) -> String {
    fn go(e: &Element, out: &mut String, top: bool) {
        let ns = if top {
            format!(r#" xmlns="{TNS}""#)
        } else {
            String::new()
        };
        out.push_str(&format!("<{}{ns}>", e.local));
        out.push_str(&quick_escape(&e.text));
        for c in &e.children {
            go(c, out, false);
        }
        out.push_str(&format!("</{}>", e.local));
    }
    let mut out = String::new();
    go(e, &mut out, true);
    out
}

fn quick_escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;")
}

#[test]
fn wsdl_matches_the_golden_file() {
    let rendered = wsdl("https://gateway.example:8443/soap/v1");
    let golden_path = root().join(GOLDEN_WSDL);
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::create_dir_all(golden_path.parent().unwrap()).unwrap();
        std::fs::write(&golden_path, &rendered).unwrap();
    }
    let golden = std::fs::read_to_string(&golden_path)
        .unwrap_or_else(|e| panic!("{GOLDEN_WSDL}: {e} (run with UPDATE_GOLDEN=1 to create it)"));
    assert_eq!(
        rendered, golden,
        "the WSDL changed: clients depend on it. If the change is intended, run with UPDATE_GOLDEN=1"
    );
}

#[test]
fn wsdl_describes_exactly_the_implemented_operations() {
    let text = wsdl("https://h/soap/v1");
    let defs = parse(text.as_bytes(), &Limits::SOAP).unwrap();
    assert!(defs.is(WSDL_NS, "definitions"));
    assert_eq!(defs.attr(None, "targetNamespace"), Some(TNS));

    let schema = parse(XSD.as_bytes(), &Limits::SOAP).unwrap();
    let xsd_elements: Vec<&str> = schema
        .children_named(XS_NS, "element")
        .filter_map(|e| e.attr(None, "name"))
        .collect();

    let port_type = defs.child(WSDL_NS, "portType").unwrap();
    let port_ops: Vec<&str> = port_type
        .children_named(WSDL_NS, "operation")
        .filter_map(|o| o.attr(None, "name"))
        .collect();
    let implemented: Vec<&str> = Operation::ALL.iter().map(|o| o.name()).collect();
    assert_eq!(port_ops, implemented);

    let messages: Vec<&Element> = defs.children_named(WSDL_NS, "message").collect();
    let message_element = |name: &str| -> String {
        let message = messages
            .iter()
            .find(|m| m.attr(None, "name") == Some(name))
            .unwrap_or_else(|| panic!("no message {name}"));
        let part = message.child(WSDL_NS, "part").unwrap();
        // WS-I BP R2204: document/literal parts use element=, never type=.
        assert!(part.attr(None, "type").is_none());
        part.attr(None, "element").unwrap().to_owned()
    };
    for op in Operation::ALL {
        let operation = port_type
            .children_named(WSDL_NS, "operation")
            .find(|o| o.attr(None, "name") == Some(op.name()))
            .unwrap();
        let msg = |kind: &str| {
            let reference = operation
                .child(WSDL_NS, kind)
                .unwrap()
                .attr(None, "message")
                .unwrap();
            message_element(reference.trim_start_matches("tns:"))
        };
        assert_eq!(msg("input"), format!("tns:{}", op.name()));
        assert_eq!(msg("output"), format!("tns:{}", op.response_name()));
        assert_eq!(msg("fault"), "tns:SmsGateFault");
        assert!(xsd_elements.contains(&op.name()), "XSD lacks {}", op.name());
        assert!(xsd_elements.contains(&op.response_name().as_str()));
    }

    let bindings: Vec<&Element> = defs.children_named(WSDL_NS, "binding").collect();
    assert_eq!(bindings.len(), 2);
    for (binding, soap_ns) in bindings.iter().zip([WSDL_SOAP11_NS, WSDL_SOAP12_NS]) {
        let b = binding.child(soap_ns, "binding").unwrap();
        assert_eq!(b.attr(None, "style"), Some("document"));
        assert_eq!(
            b.attr(None, "transport"),
            Some("http://schemas.xmlsoap.org/soap/http")
        );
        let ops: Vec<&Element> = binding.children_named(WSDL_NS, "operation").collect();
        assert_eq!(ops.len(), Operation::ALL.len());
        for (operation, op) in ops.iter().zip(Operation::ALL) {
            assert_eq!(operation.attr(None, "name"), Some(op.name()));
            let action = operation.child(soap_ns, "operation").unwrap();
            assert_eq!(action.attr(None, "soapAction"), Some(op.action().as_str()));
            for kind in ["input", "output"] {
                let body = operation
                    .child(WSDL_NS, kind)
                    .unwrap()
                    .child(soap_ns, "body")
                    .unwrap();
                assert_eq!(body.attr(None, "use"), Some("literal"));
            }
            let fault = operation
                .child(WSDL_NS, "fault")
                .unwrap()
                .child(soap_ns, "fault")
                .unwrap();
            assert_eq!(fault.attr(None, "use"), Some("literal"));
        }
    }

    let service = defs.child(WSDL_NS, "service").unwrap();
    let ports: Vec<&Element> = service.children_named(WSDL_NS, "port").collect();
    assert_eq!(ports.len(), 2);
    for (port, soap_ns) in ports.iter().zip([WSDL_SOAP11_NS, WSDL_SOAP12_NS]) {
        let address = port.child(soap_ns, "address").unwrap();
        assert_eq!(address.attr(None, "location"), Some("https://h/soap/v1"));
    }
}

#[test]
fn wsdl_is_well_formed_for_xmllint() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_temp(&dir, "smsgate.wsdl", &wsdl("https://h:1/soap/v1"));
    let out = Command::new("xmllint")
        .arg("--noout")
        .arg(&path)
        .output()
        .unwrap_or_else(|e| panic!("cannot run xmllint ({e}): install libxml2-utils"));
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}

/// The facets and value sets of the XSD are the application's: a new message status, a changed limit
/// or a new fault code must change the published contract too (and so the golden WSDL review).
#[test]
fn xsd_value_sets_and_limits_match_the_application() {
    let schema = parse(XSD.as_bytes(), &Limits::SOAP).unwrap();
    let simple_type = |name: &str| -> Element {
        schema
            .children_named(XS_NS, "simpleType")
            .find(|t| t.attr(None, "name") == Some(name))
            .unwrap_or_else(|| panic!("no simpleType {name}"))
            .child(XS_NS, "restriction")
            .unwrap()
            .clone()
    };
    let facet = |name: &str, facet: &str| -> String {
        simple_type(name)
            .child(XS_NS, facet)
            .and_then(|f| f.attr(None, "value"))
            .unwrap_or_else(|| panic!("{name} has no {facet}"))
            .to_owned()
    };
    let enumeration = |name: &str| -> Vec<String> {
        simple_type(name)
            .children_named(XS_NS, "enumeration")
            .filter_map(|e| e.attr(None, "value"))
            .map(str::to_owned)
            .collect()
    };

    let statuses: Vec<String> = MessageStatus::ALL.iter().map(|s| s.as_str().to_owned()).collect();
    assert_eq!(enumeration("MessageStatus"), statuses);
    assert_eq!(enumeration("DeletionStatus"), DELETION_STATUSES);
    assert_eq!(enumeration("PendingDeletionStatus"), PENDING_DELETION_STATUSES);

    let codes: Vec<String> = FaultCode::ALL
        .iter()
        .filter(|c| !c.is_soap_defined())
        .map(|c| c.as_str().to_owned())
        .collect();
    let mut xsd_codes = enumeration("FaultCode");
    xsd_codes.sort();
    let mut sorted = codes.clone();
    sorted.sort();
    assert_eq!(xsd_codes, sorted);

    assert_eq!(
        facet("Priority", "minInclusive"),
        PRIORITY_RANGE.start().to_string()
    );
    assert_eq!(
        facet("Priority", "maxInclusive"),
        PRIORITY_RANGE.end().to_string()
    );
    assert_eq!(facet("ClientReference", "maxLength"), MAX_CLIENT_REF.to_string());
    assert_eq!(
        facet("IdempotencyKey", "pattern"),
        format!("[!-~]{{1,{MAX_IDEMPOTENCY_KEY}}}")
    );

    let send_sms = schema
        .children_named(XS_NS, "element")
        .find(|e| e.attr(None, "name") == Some("SendSms"))
        .unwrap();
    let recipient = find_named(send_sms, "recipient").unwrap();
    assert_eq!(
        recipient.attr(None, "maxOccurs"),
        Some(MAX_RECIPIENTS.to_string().as_str())
    );
}

fn find_named<'a>(e: &'a Element, name: &str) -> Option<&'a Element> {
    if e.local == "element" && e.attr(None, "name") == Some(name) {
        return Some(e);
    }
    e.children.iter().find_map(|c| find_named(c, name))
}
