#!/usr/bin/env bash
# End-to-end test of the web panel in a real browser: starts `smsgate serve --sim 2` on a free loopback
# port with its own data directory, then drives the panel with Playwright (npm playwright-core) in
# Debian's Chromium (tests/e2e/panel/panel.mjs). Screenshots go to target/screenshots/.
# Needs: node + npm, chromium (tests/run-all.sh installs it), python3 (free port).
set -euo pipefail
cd "$(dirname "$0")/../.."

fail() { echo "panel e2e: $*" >&2; exit 1; }
CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
[ -x "$CHROMIUM" ] || fail "$CHROMIUM is missing (apt-get install chromium; tests/run-all.sh installs it)"
for tool in node npm python3 curl openssl; do
  command -v "$tool" >/dev/null || fail "$tool is missing"
done

(cd tests/e2e/panel && npm ci --no-audit --no-fund --silent) || fail "npm ci failed (playwright-core)"

cargo build --quiet --locked --bin smsgate
BIN=target/debug/smsgate

WORK=$(mktemp -d)
SERVER_PID=""
cleanup() {
  if [ -n "$SERVER_PID" ]; then kill "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT

PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
cat >"$WORK/smsgate.toml" <<EOT
version = 1
data_dir = "$WORK/data"
[http]
listen = ["127.0.0.1:$PORT"]
# A config-file routing rule: the routing page lists it read-only after the panel's own rules.
[[dispatch.route]]
prefix = "+44"
group = "default"
EOT
ADMIN_PASSWORD="Panel-e2e-$(date +%s)-Pw!"
SMSGATE_ADMIN_PASSWORD="$ADMIN_PASSWORD" RUST_LOG=warn \
  "$BIN" serve --config "$WORK/smsgate.toml" --sim 2 >"$WORK/serve.out" 2>"$WORK/serve.err" &
SERVER_PID=$!

BASE="https://127.0.0.1:$PORT"
for _ in $(seq 1 120); do
  curl -ksS -o /dev/null "$BASE/panel/login" 2>/dev/null && break
  kill -0 "$SERVER_PID" 2>/dev/null || { cat "$WORK/serve.err" >&2; fail "smsgate serve exited"; }
  sleep 0.5
done

# An operator's certificate for the TLS page (the browser installs it; a new connection must get it).
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 -subj /CN=panel-e2e.example \
  -addext subjectAltName=DNS:panel-e2e.example -keyout "$WORK/op-key.pem" -out "$WORK/op.pem" 2>/dev/null \
  || fail "openssl could not make a test certificate"

mkdir -p target/screenshots
TLS_CERT="$WORK/op.pem" TLS_KEY="$WORK/op-key.pem" BASE="$BASE" ADMIN_PASSWORD="$ADMIN_PASSWORD" SCREENSHOTS="$PWD/target/screenshots" CHROMIUM="$CHROMIUM" \
  node tests/e2e/panel/panel.mjs || { tail -n 30 "$WORK/serve.err" >&2; fail "browser checks failed"; }
echo "panel e2e: screenshots in target/screenshots/"
