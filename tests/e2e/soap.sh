#!/usr/bin/env bash
# End-to-end test of the SOAP API: starts `smsgate serve --sim 2` on a free loopback port with its own
# data directory, validates the served WSDL/XSD and the sample requests with xmllint, makes raw SOAP 1.2
# and SOAP 1.1 calls with curl, then runs the zeep suite (tests/e2e/soap_e2e.py) over HTTPS, including an
# account that requires a client certificate and a throwaway account whose deletion is requested,
# cancelled and carried out (both created with `smsgate account`).
# Needs: curl, xmllint (libxml2-utils), python3 with zeep (python3-zeep); installs zeep when missing.
set -euo pipefail
cd "$(dirname "$0")/../.."

fail() { echo "soap e2e: $*" >&2; exit 1; }
for tool in curl xmllint; do
  command -v "$tool" >/dev/null || fail "$tool is missing (tests/run-all.sh installs it: curl, libxml2-utils)"
done

# zeep: the Debian package for the system python, else pip.
PYTHON=/usr/bin/python3
[ -x "$PYTHON" ] || PYTHON=$(command -v python3) || fail "python3 is missing"
if ! "$PYTHON" -c 'import zeep' 2>/dev/null; then
  echo "installing zeep"
  if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends python3-zeep >/dev/null || true
  fi
  "$PYTHON" -c 'import zeep' 2>/dev/null || "$PYTHON" -m pip install --quiet zeep \
    || fail "cannot install zeep (apt python3-zeep or pip zeep)"
  "$PYTHON" -c 'import zeep' || fail "zeep is not importable by $PYTHON"
fi

cargo build --quiet --locked --bin smsgate
BIN=target/debug/smsgate

WORK=$(mktemp -d)
SERVER_PID=""
cleanup() {
  if [ -n "$SERVER_PID" ]; then kill "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT

PORT=$("$PYTHON" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
cat >"$WORK/smsgate.toml" <<EOF
version = 1
data_dir = "$WORK/data"
[http]
listen = ["127.0.0.1:$PORT"]
[retention]
# A grace period, so the deletion check sees a pending request it can cancel (an admin's request for
# another account still erases at once).
deletion_grace_hours = 1
EOF
ADMIN_PASSWORD="Soap-e2e-$(date +%s)-Pw!"
SMSGATE_ADMIN_PASSWORD="$ADMIN_PASSWORD" RUST_LOG=warn \
  "$BIN" serve --config "$WORK/smsgate.toml" --sim 2 >"$WORK/serve.out" 2>"$WORK/serve.err" &
SERVER_PID=$!

BASE="https://127.0.0.1:$PORT"
CA="$WORK/data/tls/ca.pem"
for _ in $(seq 1 120); do
  if [ -s "$CA" ] && curl -fsS --cacert "$CA" -o /dev/null "$BASE/soap/v1?wsdl" 2>/dev/null; then break; fi
  kill -0 "$SERVER_PID" 2>/dev/null || { cat "$WORK/serve.err" >&2; fail "smsgate serve exited"; }
  sleep 0.5
done
curl -fsS --cacert "$CA" -o "$WORK/smsgate.wsdl" "$BASE/soap/v1?wsdl" || fail "no WSDL at $BASE/soap/v1?wsdl"
# The modems must be up before messages can be sent.
for _ in $(seq 1 120); do
  n=$(curl -fsS --cacert "$CA" -u "admin:$ADMIN_PASSWORD" -H 'Content-Type: text/xml; charset=utf-8' \
        --data '<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body><ListModems xmlns="urn:smsgate:soap:v1"/></s:Body></s:Envelope>' \
        "$BASE/soap/v1" | grep -o '<state>ready</state>' | wc -l) || n=0
  [ "$n" -ge 2 ] && break
  sleep 0.5
done
[ "$n" -ge 2 ] || fail "the simulated modems did not become ready"

# A client account that requires a client certificate, with one certificate issued by the appliance CA,
# made with the offline CLI on the service's data directory (as an operator would): the zeep suite proves
# it is refused without the certificate and served with it (issue 8, three stages on SOAP).
CERT_USER=soapcert
CERT_PASSWORD="Soap-cert-$(date +%s)-Pw!"
account() { "$BIN" account --config "$WORK/smsgate.toml" "$@" >>"$WORK/account.log" 2>&1; }
SMSGATE_ACCOUNT_PASSWORD="$CERT_PASSWORD" account create "$CERT_USER" --role client \
  || { cat "$WORK/account.log" >&2; fail "smsgate account create failed"; }
account require-cert "$CERT_USER" || { cat "$WORK/account.log" >&2; fail "smsgate account require-cert failed"; }
account cert issue "$CERT_USER" --days 2 --out "$WORK/$CERT_USER" \
  || { cat "$WORK/account.log" >&2; fail "smsgate account cert issue failed"; }
[ -s "$WORK/$CERT_USER.crt.pem" ] && [ -s "$WORK/$CERT_USER.key.pem" ] || fail "no certificate files written"

# A throwaway client account for the account-deletion operations: the suite erases it at the end, so no
# other check may use it.
DELETE_USER=soapdel
DELETE_PASSWORD="Soap-del-$(date +%s)-Pw!"
SMSGATE_ACCOUNT_PASSWORD="$DELETE_PASSWORD" account create "$DELETE_USER" --role client \
  || { cat "$WORK/account.log" >&2; fail "smsgate account create $DELETE_USER failed"; }

# An incoming SMS for GetInbox/DeleteInbox: `serve --sim` has no separate simulator API, so it is injected
# through the panel's simulator form as the admin (curl with a cookie jar: login, then the form's token).
INBOX_FROM="+48600999888"
INBOX_TEXT="reply via SOAP"
inject_sms() {
  local jar="$WORK/cookies" csrf code
  curl -fsS --cacert "$CA" -c "$jar" -b "$jar" -o "$WORK/login.html" "$BASE/panel/login" || return 1
  csrf=$(grep -o 'name="csrf" value="[^"]*"' "$WORK/login.html" | head -n 1 | sed 's/.*value="//; s/"$//')
  code=$(curl -sS --cacert "$CA" -c "$jar" -b "$jar" -o /dev/null -w '%{http_code}' \
    --data-urlencode login=admin --data-urlencode "password=$ADMIN_PASSWORD" --data-urlencode "csrf=$csrf" \
    "$BASE/panel/login") || return 1
  [ "$code" = 303 ] || { echo "panel login: HTTP $code"; return 1; }
  curl -fsS --cacert "$CA" -c "$jar" -b "$jar" -o "$WORK/modems.html" "$BASE/panel/modems" || return 1
  csrf=$(grep -o 'name="csrf" value="[^"]*"' "$WORK/modems.html" | head -n 1 | sed 's/.*value="//; s/"$//')
  code=$(curl -sS --cacert "$CA" -c "$jar" -b "$jar" -o /dev/null -w '%{http_code}' \
    --data modem=0 --data-urlencode "from=$INBOX_FROM" --data-urlencode "text=$INBOX_TEXT" \
    --data-urlencode "csrf=$csrf" "$BASE/panel/sim/inject") || return 1
  [ "$code" = 303 ] || { echo "panel sim inject: HTTP $code"; return 1; }
}
inject_sms || fail "could not inject an incoming SMS through the panel"

passed=0
failed=0
step() { # step NAME COMMAND...: runs a check and counts it
  local name=$1; shift
  if "$@"; then passed=$((passed + 1)); echo "ok   $name"; else failed=$((failed + 1)); echo "FAIL $name"; fi
}

check_contract() {
  curl -fsS --cacert "$CA" -o "$WORK/smsgate.xsd" "$BASE/soap/v1?xsd=smsgate.xsd" &&
    xmllint --noout "$WORK/smsgate.wsdl" &&
    grep -q "location=\"$BASE/soap/v1\"" "$WORK/smsgate.wsdl" &&
    xmllint --noout --nonet --schema "$WORK/smsgate.xsd" tests/soap/requests/*.xml 2>"$WORK/xmllint.log" ||
    { cat "$WORK/xmllint.log"; return 1; }
}
step "served WSDL is well-formed with the request's address; served XSD validates the sample requests" check_contract

SOAP12_SEND='<?xml version="1.0" encoding="UTF-8"?>
<env:Envelope xmlns:env="http://www.w3.org/2003/05/soap-envelope" xmlns:sg="urn:smsgate:soap:v1">
  <env:Body>
    <sg:SendSms>
      <sg:text>Hello from curl over SOAP 1.2</sg:text>
      <sg:recipient>+48600100200</sg:recipient>
      <sg:deliveryReport>true</sg:deliveryReport>
    </sg:SendSms>
  </env:Body>
</env:Envelope>'

soap12_curl() {
  local headers="$WORK/h12" body="$WORK/b12"
  curl -sS --cacert "$CA" -u "admin:$ADMIN_PASSWORD" -D "$headers" -o "$body" \
    -H 'Content-Type: application/soap+xml; charset=utf-8; action="urn:smsgate:soap:v1#SendSms"' \
    --data-binary "$SOAP12_SEND" "$BASE/soap/v1" || return 1
  grep -qi '^HTTP/[0-9.]* 200' "$headers" || { cat "$headers" "$body"; return 1; }
  grep -qi '^content-type: application/soap+xml' "$headers" || return 1
  MESSAGE_ID=$(xmllint --xpath 'string(//*[local-name()="SendSmsResponse"]/*[local-name()="message"]/*[local-name()="id"])' "$body")
  [ -n "$MESSAGE_ID" ] || { cat "$body"; return 1; }
}
step "SOAP 1.2 SendSms with curl (HTTP Basic, action parameter)" soap12_curl

soap11_curl() {
  local body="$WORK/b11" status
  status=$(curl -sS --cacert "$CA" -o "$body" -w '%{http_code} %{content_type}' \
    -H 'Content-Type: text/xml; charset=utf-8' -H 'SOAPAction: "urn:smsgate:soap:v1#GetMessageStatus"' \
    --data-binary "<soapenv:Envelope xmlns:soapenv=\"http://schemas.xmlsoap.org/soap/envelope/\">
  <soapenv:Header>
    <wsse:Security soapenv:mustUnderstand=\"1\" xmlns:wsse=\"http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd\">
      <wsse:UsernameToken>
        <wsse:Username>admin</wsse:Username>
        <wsse:Password Type=\"http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0#PasswordText\">$ADMIN_PASSWORD</wsse:Password>
      </wsse:UsernameToken>
    </wsse:Security>
  </soapenv:Header>
  <soapenv:Body><m:GetMessageStatus xmlns:m=\"urn:smsgate:soap:v1\"><m:id>$MESSAGE_ID</m:id></m:GetMessageStatus></soapenv:Body>
</soapenv:Envelope>" "$BASE/soap/v1") || return 1
  [ "$status" = "200 text/xml; charset=utf-8" ] || { echo "$status"; cat "$body"; return 1; }
  grep -q "<id>$MESSAGE_ID</id>" "$body"
}
step "SOAP 1.1 GetMessageStatus with curl (WS-Security UsernameToken, SOAPAction)" soap11_curl

soap12_fault_curl() {
  local body="$WORK/bf" status
  status=$(curl -sS --cacert "$CA" -u "admin:$ADMIN_PASSWORD" -o "$body" -w '%{http_code}' \
    -H 'Content-Type: application/soap+xml; charset=utf-8' \
    --data-binary '<e:Envelope xmlns:e="http://www.w3.org/2003/05/soap-envelope"><e:Body><SendSms xmlns="urn:smsgate:soap:v1"><text>x</text><recipient>12ab</recipient></SendSms></e:Body></e:Envelope>' \
    "$BASE/soap/v1") || return 1
  [ "$status" = 400 ] && grep -q '<sg:code>validation</sg:code>' "$body" && grep -q '<sg:field>recipient\[0\]</sg:field>' "$body" \
    || { echo "$status"; cat "$body"; return 1; }
}
step "SOAP 1.2 validation fault with curl names the element" soap12_fault_curl

echo "curl checks: $passed passed, $failed failed"

zeep_status=0
SOAP_BASE="$BASE" SOAP_CA="$CA" SOAP_USER=admin SOAP_PASSWORD="$ADMIN_PASSWORD" SOAP_USER_ROLE=admin \
  SOAP_ADMIN_USER=admin SOAP_ADMIN_PASSWORD="$ADMIN_PASSWORD" \
  SOAP_CERT_USER="$CERT_USER" SOAP_CERT_PASSWORD="$CERT_PASSWORD" \
  SOAP_CLIENT_CERT="$WORK/$CERT_USER.crt.pem" SOAP_CLIENT_KEY="$WORK/$CERT_USER.key.pem" SOAP_REQUIRE_CERT_CHECK=1 \
  SOAP_INBOX_ORIGINATOR="$INBOX_FROM" SOAP_INBOX_TEXT="$INBOX_TEXT" \
  SOAP_DELETE_USER="$DELETE_USER" SOAP_DELETE_PASSWORD="$DELETE_PASSWORD" SOAP_DELETION_GRACE_HOURS=1 \
  "$PYTHON" tests/e2e/soap_e2e.py || zeep_status=$?

if [ "$failed" -ne 0 ] || [ "$zeep_status" -ne 0 ]; then
  echo "--- smsgate serve stderr (last lines)" >&2
  tail -n 40 "$WORK/serve.err" >&2
  exit 1
fi
