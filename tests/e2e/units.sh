#!/usr/bin/env bash
# Static checks of the appliance's system integration files with the real tools:
# udev parses the modem rules without a diagnostic, systemd verifies the unit and rates its exposure <= 2.0.
set -euo pipefail
cd "$(dirname "$0")/../.."

command -v udevadm >/dev/null || { echo "udevadm missing (package udev)"; exit 1; }
command -v systemd-analyze >/dev/null || { echo "systemd-analyze missing (package systemd)"; exit 1; }

rules=udev/80-smsgate-modems.rules
mkdir -p /run/udev/rules.d
cp "$rules" /run/udev/rules.d/
trap 'rm -f /run/udev/rules.d/80-smsgate-modems.rules' EXIT
out=$(udevadm test --action=add /class/net/lo 2>&1 || true)
echo "$out" | grep -q "Reading rules file: /run/udev/rules.d/80-smsgate-modems.rules" \
  || { echo "udev did not read the rules file"; echo "$out" | head -20; exit 1; }
if echo "$out" | grep -E "80-smsgate-modems.rules:[0-9]+" ; then
  echo "udev reports problems in $rules"; exit 1
fi
echo "udev rules: parsed cleanly"

bin="$PWD/target/debug/smsgate"
[ -x "$bin" ] || cargo build --quiet --bin smsgate
tmp=$(mktemp -d); trap 'rm -rf "$tmp"; rm -f /run/udev/rules.d/80-smsgate-modems.rules' EXIT
sed "s#/usr/bin/smsgate#$bin#" config/smsgate.service > "$tmp/smsgate.service"
systemd-analyze verify "$tmp/smsgate.service"
score=$(systemd-analyze security --offline=true --no-pager "$tmp/smsgate.service" | sed -n 's/.*Overall exposure level for smsgate.service: \([0-9.]*\).*/\1/p')
echo "systemd exposure: $score"
awk -v s="$score" 'BEGIN { exit !(s != "" && s <= 2.0) }' || { echo "exposure $score > 2.0"; exit 1; }
echo "units: ok"
