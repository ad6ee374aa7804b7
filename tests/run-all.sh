#!/usr/bin/env bash
# Runs every test of smsgate: installs the system packages the tests drive (real SMS daemons, openssl,
# curl, ...) when they are missing, then the Rust unit and integration tests, then the end-to-end suites.
# Nothing is skipped silently: a missing tool is installed or the run fails.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(gammu gammu-smsd smstools kannel socat openssl curl python3 sqlite3 udev systemd libxml2-utils python3-zeep)

missing=()
# The PDU codec's interop tests (crates/pdu/tests/gammu_interop.rs) decode and encode with libgammu.
APT_PACKAGES+=(python3-gammu)
# The modem hotplug monitor (tokio-udev) links libudev: headers and pkg-config for the build.
APT_PACKAGES+=(libudev-dev pkg-config)
# The metrics test (tests/ops_e2e.rs) checks /metrics with Prometheus' own `promtool check metrics`.
APT_PACKAGES+=(prometheus)
# The panel's browser test (tests/e2e/panel.sh) drives Debian's Chromium with Playwright (npm).
APT_PACKAGES+=(chromium)
# The cluster tests (tests/store_pg.rs, tests/cluster_e2e.rs) start a real PostgreSQL server in a temp dir.
APT_PACKAGES+=(postgresql)
# WireGuard between nodes in network namespaces (tests/e2e/wireguard.sh): the userspace implementation
# (no kernel module needed), wg, and ip for namespaces and veth pairs.
APT_PACKAGES+=(wireguard-go wireguard-tools iproute2)
# Node.js and npm drive the panel's browser test. Machines that already have them from another source
# (e.g. a nodesource build, which bundles npm) must not get Debian's npm on top: it conflicts.
command -v npm >/dev/null 2>&1 || APT_PACKAGES+=(nodejs npm)
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  # Keep the packaged daemons (smstools, kannel) from starting as services: the tests start their own.
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' | $SUDO tee /usr/sbin/policy-rc.d >/dev/null
    $SUDO chmod +x /usr/sbin/policy-rc.d
  fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# Make sure no packaged daemon holds a port or a modem the tests use.
for d in smsd bearerbox smsbox gammu-smsd; do pkill -x "$d" 2>/dev/null || true; done

echo "== cargo test (workspace)"
# Benches are compiled by clippy --all-targets; running them is for `cargo bench` (release), not here.
cargo test --workspace --lib --bins --tests --examples --locked
cargo test --workspace --doc --locked

# Fuzzing budget per target in this run (tests/e2e/fuzz.sh defaults to 60 s when run on its own).
export FUZZ_SECONDS="${FUZZ_SECONDS:-30}"

if [ -d tests/e2e ]; then
  for suite in tests/e2e/*.sh; do
    [ -e "$suite" ] || continue
    echo "== end-to-end: $suite"
    bash "$suite"
  done
fi
echo "all tests passed"
