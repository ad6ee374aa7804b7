#!/usr/bin/env python3
"""End-to-end test of the SOAP API with a real SOAP toolkit (zeep).

Loads the WSDL over HTTPS from a running gateway, calls every operation through the SOAP 1.1 port
(WS-Security UsernameToken) and the SOAP 1.2 port (HTTP Basic), and checks the faults: stable codes in
the SmsGateFault detail, validation faults naming the element, XXE / billion laughs / huge bodies
refused with nothing stored.

Configuration (environment):
  SOAP_BASE           https://127.0.0.1:PORT (no trailing slash)
  SOAP_CA             PEM file of the CA that signed the gateway's certificate
  SOAP_USER, SOAP_PASSWORD            the account to work as
  SOAP_USER_ROLE      optional: its role (checked by GetAccountInfo)
  SOAP_ADMIN_USER, SOAP_ADMIN_PASSWORD  an admin account (USSD, modem details)
  SOAP_SIM_CONTROL    optional: base URL of the hw-sim control API, to inject an incoming SMS
  SOAP_INBOX_ORIGINATOR, SOAP_INBOX_TEXT
                      optional: an SMS the caller already injected (e.g. through the panel's simulator
                      form), expected in the admin's inbox
  SOAP_CERT_USER, SOAP_CERT_PASSWORD, SOAP_CLIENT_CERT, SOAP_CLIENT_KEY
                      optional: an account that requires a client certificate, and one of its certs
  SOAP_DELETE_USER, SOAP_DELETE_PASSWORD, SOAP_DELETION_GRACE_HOURS
                      optional: a throwaway client account (erased by the check) and the gateway's
                      retention.deletion_grace_hours (at least 1)

Prints one line per check and ends with "N passed, N failed"; exits non-zero on any failure.
"""
import datetime
import os
import sys
import time
import traceback
import urllib.parse
import uuid

import requests
from lxml import etree
from zeep import Client, Settings
from zeep.exceptions import Fault
from zeep.transports import Transport
from zeep.wsse.username import UsernameToken

TNS = "urn:smsgate:soap:v1"
SOAP11 = "http://schemas.xmlsoap.org/soap/envelope/"
SOAP12 = "http://www.w3.org/2003/05/soap-envelope"

BASE = os.environ["SOAP_BASE"].rstrip("/")
CA = os.environ["SOAP_CA"]
USER = os.environ["SOAP_USER"]
PASSWORD = os.environ["SOAP_PASSWORD"]
ADMIN_USER = os.environ.get("SOAP_ADMIN_USER")
ADMIN_PASSWORD = os.environ.get("SOAP_ADMIN_PASSWORD")
SIM_CONTROL = os.environ.get("SOAP_SIM_CONTROL")
INBOX_FROM = os.environ.get("SOAP_INBOX_ORIGINATOR", "+48600999888")
INBOX_TEXT = os.environ.get("SOAP_INBOX_TEXT", "reply via SOAP")
INJECTED = bool(os.environ.get("SOAP_INBOX_ORIGINATOR"))
WSDL = f"{BASE}/soap/v1?wsdl"
ENDPOINT = f"{BASE}/soap/v1"

passed = 0
failed = 0


def check(name):
    """Decorator: runs the check now, counts and reports it."""

    def run(fn):
        global passed, failed
        try:
            fn()
            passed += 1
            print(f"ok   {name}", flush=True)
        except Exception:  # noqa: BLE001 - every failure is reported, then counted
            failed += 1
            print(f"FAIL {name}", flush=True)
            traceback.print_exc()
        return fn

    return run


def session(auth=None, cert=None):
    s = requests.Session()
    # Environment settings (REQUESTS_CA_BUNDLE, proxies) would override the appliance CA below.
    s.trust_env = False
    s.verify = CA
    s.auth = auth
    s.cert = cert
    return s


def client(wsse_user=None, wsse_password=None, basic=None, cert=None, port="SmsGateSoap11"):
    transport = Transport(session=session(auth=basic, cert=cert), timeout=30, operation_timeout=60)
    wsse = UsernameToken(wsse_user, wsse_password) if wsse_user else None
    c = Client(WSDL, transport=transport, wsse=wsse, settings=Settings(strict=True))
    return c.bind("SmsGateService", port)


def fault_detail(fault):
    """(code, field) from the SmsGateFault detail of a zeep Fault."""
    detail = fault.detail
    assert detail is not None, f"fault without detail: {fault.message}"
    node = detail.find(f"{{{TNS}}}SmsGateFault")
    assert node is not None, etree.tostring(detail)
    return node.findtext(f"{{{TNS}}}code"), node.findtext(f"{{{TNS}}}field")


def expect_fault(call, code, field=None):
    try:
        result = call()
    except Fault as f:
        got_code, got_field = fault_detail(f)
        assert got_code == code, f"fault code {got_code!r} ({f.message}), expected {code!r}"
        if field is not None:
            assert got_field == field, f"fault field {got_field!r}, expected {field!r}"
        return f
    raise AssertionError(f"expected a {code} fault, got {result!r}")


def raw_post(body, content_type="text/xml; charset=utf-8", auth=(USER, PASSWORD), headers=None):
    h = {"Content-Type": content_type}
    h.update(headers or {})
    return session(auth=auth).post(ENDPOINT, data=body, headers=h, timeout=60)


def raw_fault_code(response):
    doc = etree.fromstring(response.content)
    node = doc.find(f".//{{{TNS}}}SmsGateFault/{{{TNS}}}code")
    if node is not None:
        return node.text
    # SOAP-defined codes (VersionMismatch, MustUnderstand) carry no detail.
    code = doc.findtext(".//faultcode") or doc.findtext(f".//{{{SOAP12}}}Value")
    return code.split(":")[-1] if code else None


def message_count(svc):
    count, cursor = 0, None
    while True:
        page = svc.ListMessages(limit=1000, cursor=cursor)
        count += len(page.message or [])
        cursor = page.nextCursor
        if not cursor:
            return count


def wait_status(svc, message_id, wanted, seconds=60):
    deadline = time.monotonic() + seconds
    status = None
    while time.monotonic() < deadline:
        status = svc.GetMessageStatus(id=message_id).status
        if status in wanted:
            return status
        time.sleep(0.5)
    raise AssertionError(f"message {message_id} stayed {status}, wanted one of {wanted}")


soap11 = client(USER, PASSWORD)
soap12 = client(basic=(USER, PASSWORD), port="SmsGateSoap12")
state = {}


@check("WSDL over HTTPS: service address uses the request's host, XSD imported, both ports")
def _():
    text = session().get(WSDL, timeout=30).text
    host = urllib.parse.urlsplit(BASE).netloc
    assert f'location="https://{host}/soap/v1"' in text, text[:400]
    assert f'schemaLocation="https://{host}/soap/v1?xsd=smsgate.xsd"' in text
    names = [b.name.localname for b in Client(WSDL, transport=Transport(session=session())).wsdl.bindings.values()]
    assert sorted(names) == ["SmsGateSoap11Binding", "SmsGateSoap12Binding"], names


@check("GetAccountInfo (SOAP 1.1, WS-Security UsernameToken)")
def _():
    account = soap11.GetAccountInfo()
    assert account.login == USER and account.role in ("admin", "technician", "client"), account
    if os.environ.get("SOAP_USER_ROLE"):
        assert account.role == os.environ["SOAP_USER_ROLE"], account
    state["account"] = account.id


@check("GetAccountInfo (SOAP 1.2, HTTP Basic)")
def _():
    assert soap12.GetAccountInfo().login == USER


@check("ListModems")
def _():
    modems = soap11.ListModems()
    assert len(modems) >= 1, modems
    state["modem"] = modems[0].id
    for m in modems:
        assert m.id and m.state, m


state["before"] = message_count(soap11)


@check("SendSms to two recipients with every option")
def _():
    key = f"e2e-{uuid.uuid4()}"
    messages = soap11.SendSms(
        text="Zażółć gęślą jaźń 😀 SOAP e2e",
        recipient=["+48600100200", "+48600100201"],
        encoding="auto",
        priority=5,
        validity=datetime.timedelta(hours=2),
        deliveryReport=True,
        clientReference="soap-e2e",
        idempotencyKey=key,
    )
    assert len(messages) == 2, messages
    assert [m.recipient for m in messages] == ["+48600100200", "+48600100201"], messages
    for m in messages:
        assert m.status in ("queued", "sending", "sent", "delivered"), m.status
        assert m.clientReference == "soap-e2e" and m.deliveryReport is True and m.priority == 5, m
        assert m.encoding == "ucs2", m.encoding
    state["sent"] = [m.id for m in messages]
    state["key"] = key


@check("SendSms replay with the same idempotency key returns the same messages")
def _():
    again = soap11.SendSms(
        text="Zażółć gęślą jaźń 😀 SOAP e2e",
        recipient=["+48600100200", "+48600100201"],
        encoding="auto",
        priority=5,
        validity=datetime.timedelta(hours=2),
        deliveryReport=True,
        clientReference="soap-e2e",
        idempotencyKey=state["key"],
    )
    assert [m.id for m in again] == state["sent"], (again, state["sent"])


@check("SendSms reusing the idempotency key for another request: conflict fault")
def _():
    expect_fault(
        lambda: soap11.SendSms(text="different", recipient=["+48600100200"], idempotencyKey=state["key"]),
        "conflict",
    )


@check("GetMessageStatus follows the message until the simulated network took it")
def _():
    status = wait_status(soap11, state["sent"][0], ("sent", "delivered"))
    m = soap11.GetMessageStatus(id=state["sent"][0])
    assert m.id == state["sent"][0] and m.status == status and m.parts >= 1, m


@check("SendSms through SOAP 1.2 (HTTP Basic)")
def _():
    [m] = soap12.SendSms(text="hello over SOAP 1.2", recipient=["+48600100202"])
    assert m.status in ("queued", "sending", "sent", "delivered") and m.encoding == "gsm7", m


@check("CancelMessage of a scheduled message, then of a sent one (conflict)")
def _():
    later = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(hours=1)
    [m] = soap11.SendSms(text="later", recipient=["+48600100203"], sendAt=later)
    cancelled = soap11.CancelMessage(id=m.id)
    assert cancelled.id == m.id and cancelled.status == "cancelled", cancelled
    assert soap11.GetMessageStatus(id=m.id).status == "cancelled"
    expect_fault(lambda: soap11.CancelMessage(id=state["sent"][0]), "conflict")


@check("ListMessages pages with a cursor, newest first, filters by clientReference")
def _():
    first = soap11.ListMessages(limit=1)
    assert len(first.message) == 1 and first.nextCursor, first
    second = soap11.ListMessages(limit=1, cursor=first.nextCursor)
    assert len(second.message) == 1 and second.message[0].id != first.message[0].id
    tagged = soap11.ListMessages(clientReference="soap-e2e", limit=10)
    assert sorted(m.id for m in tagged.message) == sorted(state["sent"]), tagged
    delivered_or_sent = soap11.ListMessages(status="cancelled", limit=10)
    assert all(m.status == "cancelled" for m in delivered_or_sent.message)


@check("GetMessageStatus of an unknown id: not-found fault")
def _():
    expect_fault(lambda: soap11.GetMessageStatus(id=str(uuid.uuid4())), "not-found")


@check("validation faults name the element")
def _():
    expect_fault(lambda: soap11.SendSms(text="x", recipient=["not-a-number"]), "validation", "recipient[0]")
    expect_fault(lambda: soap11.SendSms(text="", recipient=["+48600100200"]), "validation", "text")
    expect_fault(lambda: soap11.SendSms(text="😀", recipient=["+48600100200"], encoding="gsm7"), "validation", "text")
    expect_fault(lambda: soap11.ListMessages(cursor="not-a-cursor"), "validation", "cursor")


@check("GetInbox and DeleteInbox")
def _():
    if SIM_CONTROL and not INJECTED:
        r = session().post(f"{SIM_CONTROL}/modems/0/sms", json={"from": INBOX_FROM, "text": INBOX_TEXT}, timeout=10)
        assert r.ok, r.text
    if SIM_CONTROL or INJECTED:
        admin = client(ADMIN_USER, ADMIN_PASSWORD)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            items = admin.GetInbox(originator=INBOX_FROM).item or []
            if items:
                break
            time.sleep(0.5)
        items = admin.GetInbox(originator=INBOX_FROM).item or []
        assert items and items[0].text == INBOX_TEXT, items
        assert admin.DeleteInbox(id=[items[0].id]) == 1
        assert not (admin.GetInbox(originator=INBOX_FROM).item or [])
    page = soap11.GetInbox(limit=5)
    assert page.item is None or len(page.item) <= 5
    expect_fault(lambda: soap11.DeleteInbox(id=[str(uuid.uuid4())]), "not-found")


@check("SendUssd through a simulated modem")
def _():
    svc = client(ADMIN_USER, ADMIN_PASSWORD) if ADMIN_USER else soap11
    reply = svc.SendUssd(modem=state["modem"], code="*100#")
    assert reply.reply, reply


@check("wrong password: unauthorized fault (UsernameToken and HTTP Basic)")
def _():
    expect_fault(lambda: client(USER, "wrong-password").GetAccountInfo(), "unauthorized")
    expect_fault(lambda: client(basic=(USER, "wrong-password")).GetAccountInfo(), "unauthorized")


ENV11 = f'<s:Envelope xmlns:s="{SOAP11}"><s:Body>{{}}</s:Body></s:Envelope>'


@check("XXE payload: fault, no file content echoed")
def _():
    body = (
        '<?xml version="1.0"?><!DOCTYPE s:Envelope [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
        + ENV11.format(f'<SendSms xmlns="{TNS}"><text>&xxe;</text><recipient>+48600100200</recipient></SendSms>')
    )
    r = raw_post(body)
    assert r.status_code == 500 and raw_fault_code(r) == "malformed", (r.status_code, r.text)
    assert "root:" not in r.text


@check("billion laughs: fault, fast")
def _():
    lol = "".join(f'<!ENTITY lol{i} "{("&lol" + str(i - 1) + ";") * 10}">' for i in range(1, 10))
    body = f'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol0 "lol">{lol}]>' + ENV11.format(
        f'<SendSms xmlns="{TNS}"><text>&lol9;</text><recipient>+48600100200</recipient></SendSms>'
    )
    started = time.monotonic()
    r = raw_post(body)
    assert r.status_code == 500 and raw_fault_code(r) == "malformed", r.text
    assert time.monotonic() - started < 5


@check("malformed XML, wrong namespace, missing elements, huge body: faults")
def _():
    r = raw_post("<s:Envelope xmlns:s='" + SOAP11 + "'><s:Body><SendSms")
    assert r.status_code == 500 and raw_fault_code(r) == "malformed", r.text
    r = raw_post(f'<s:Envelope xmlns:s="http://example.com/soap"><s:Body/></s:Envelope>')
    assert raw_fault_code(r) == "VersionMismatch", r.text
    r = raw_post(ENV11.format('<SendSms xmlns="urn:other"><text>x</text></SendSms>'))
    assert raw_fault_code(r) == "unsupported-operation", r.text
    r = raw_post(ENV11.format(f'<SendSms xmlns="{TNS}"><text>x</text></SendSms>'))
    assert raw_fault_code(r) == "validation" and "<sg:field>recipient</sg:field>" in r.text, r.text
    huge = ENV11.format(f'<SendSms xmlns="{TNS}"><text>{"x" * (2 * 1024 * 1024)}</text><recipient>1</recipient></SendSms>')
    r = raw_post(huge)
    assert r.status_code == 413 and raw_fault_code(r) == "too-large", (r.status_code, r.text[:300])


@check("SOAP 1.2 fault: Sender/Subcode, 400, application/soap+xml")
def _():
    body = (
        f'<e:Envelope xmlns:e="{SOAP12}"><e:Body><GetMessageStatus xmlns="{TNS}"><id>{uuid.uuid4()}</id>'
        "</GetMessageStatus></e:Body></e:Envelope>"
    )
    r = raw_post(body, content_type=f'application/soap+xml; charset=utf-8; action="{TNS}#GetMessageStatus"')
    assert r.status_code == 400 and r.headers["Content-Type"].startswith("application/soap+xml"), r.headers
    assert raw_fault_code(r) == "not-found" and "<soap:Value>soap:Sender</soap:Value>" in r.text, r.text


@check("nothing was stored by refused requests")
def _():
    # Sent: 2 (first SendSms) + 1 (SOAP 1.2) + 1 (scheduled, cancelled).
    assert message_count(soap11) == state["before"] + 4


if os.environ.get("SOAP_REQUIRE_CERT_CHECK") and not os.environ.get("SOAP_CERT_USER"):
    failed += 1
    print("FAIL certificate-required account: SOAP_CERT_USER and its certificate are not set", flush=True)

if os.environ.get("SOAP_CERT_USER"):
    cert = (os.environ["SOAP_CLIENT_CERT"], os.environ["SOAP_CLIENT_KEY"])

    @check("certificate-required account: refused without its certificate, served with it")
    def _():
        user, password = os.environ["SOAP_CERT_USER"], os.environ["SOAP_CERT_PASSWORD"]
        # A refused stage answers like a wrong password (only the audit log names the stage).
        expect_fault(lambda: client(user, password).GetAccountInfo(), "unauthorized")
        expect_fault(lambda: client(basic=(user, password), port="SmsGateSoap12").GetAccountInfo(), "unauthorized")
        assert client(user, password, cert=cert).GetAccountInfo().login == user
        with_cert12 = client(basic=(user, password), cert=cert, port="SmsGateSoap12")
        assert with_cert12.GetAccountInfo().login == user
        sent = with_cert12.SendSms(text="sent with a client certificate", recipient=["+48600100777"])
        assert len(sent) == 1 and sent[0].recipient == "+48600100777", sent


if os.environ.get("SOAP_DELETE_USER"):

    @check("account deletion: request with grace -> pending -> cancel -> none; others refused; admin erases")
    def _():
        user, password = os.environ["SOAP_DELETE_USER"], os.environ["SOAP_DELETE_PASSWORD"]
        grace = datetime.timedelta(hours=int(os.environ["SOAP_DELETION_GRACE_HOURS"]))
        mine11 = client(user, password)
        mine12 = client(basic=(user, password), port="SmsGateSoap12")
        me = mine11.GetAccountInfo()
        assert me.login == user and me.role == "client", me
        status = mine12.GetAccountDeletion()
        assert status.status == "none" and status.accountId == me.id and status.executeAfter is None, status

        asked = mine11.RequestAccountDeletion()
        assert asked.status == "scheduled" and asked.accountId == me.id, asked
        assert asked.executeAfter - asked.requestedAt == grace, asked
        pending = mine12.GetAccountDeletion()
        assert pending.status == "pending" and pending.requestedBy == user, pending
        assert pending.executeAfter == asked.executeAfter and pending.sourceIp == "127.0.0.1", pending

        # A client cannot act on another account (the admin's): forbidden, as in REST.
        admin = client(ADMIN_USER, ADMIN_PASSWORD)
        admin_id = admin.GetAccountInfo().id
        for op in ("RequestAccountDeletion", "GetAccountDeletion", "CancelAccountDeletion"):
            expect_fault(lambda: getattr(mine11, op)(accountId=admin_id), "forbidden")
        assert admin.GetAccountDeletion().status == "none"
        # The admin sees the client's request by its id.
        assert admin.GetAccountDeletion(accountId=me.id).status == "pending"

        # One element in the response: zeep returns its value.
        assert mine12.CancelAccountDeletion() == me.id
        assert mine11.GetAccountDeletion().status == "none"
        expect_fault(lambda: mine11.CancelAccountDeletion(), "not-found")

        # An admin's request for another account erases at once; the account can no longer log in.
        erased = admin.RequestAccountDeletion(accountId=me.id)
        assert erased.status == "erased" and erased.executeAfter == erased.requestedAt, erased
        expect_fault(lambda: client(user, password).GetAccountInfo(), "unauthorized")
        expect_fault(lambda: client(basic=(user, password), port="SmsGateSoap12").GetAccountInfo(), "unauthorized")
        assert admin.GetAccountDeletion(accountId=me.id).status == "none"


print(f"{passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
