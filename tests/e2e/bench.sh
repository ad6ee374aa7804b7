#!/usr/bin/env bash
# CI-sized run of the benchmark harness (`smsgate bench`) so it never rots: 4 simulated modems, smsgate with
# 500 messages (10 % multipart, 20 % UCS-2) and smstools as the peer on the same bank, asserting 0 lost and 0
# duplicated (--check). Not a performance gate: the numbers land in $out for reading only.
# Uses target/release/smsgate when present (SMSGATE_BIN overrides), else builds the debug binary.
set -euo pipefail
cd "$(dirname "$0")/../.."

command -v smsd >/dev/null || { echo "smsd missing (package smstools; tests/run-all.sh installs it)"; exit 1; }

bin="${SMSGATE_BIN:-}"
if [ -z "$bin" ]; then
  if [ -x target/release/smsgate ]; then bin="$PWD/target/release/smsgate"
  else cargo build --quiet --bin smsgate; bin="$PWD/target/debug/smsgate"; fi
fi
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
out="$tmp/bench.json"

start=$(date +%s)
# smsgate: instant modems measure the software path; 500 messages drain in seconds.
"$bin" bench --quiet --check --system smsgate --modems 4 --profile instant --messages 500 --out "$out"
# smstools needs about a second per message per modem: 40 messages keep the run short. Two devices per smsd
# make the harness split the bank over two instances, as it does with 256 modems (64 per smsd).
"$bin" bench --quiet --check --system smstools --variant tuned --modems 4 --smstools-max-devices 2 \
  --profile instant --messages 40 --out "$out" --svg "$tmp/bench.svg"
echo "bench: $(( $(date +%s) - start ))s"

python3 - "$out" <<'PY'
import json, sys
runs = json.load(open(sys.argv[1]))
assert len(runs) == 2, runs
assert any("2 smsd instances" in n for n in runs[1]["notes"]), runs[1]["notes"]
for r in runs:
    print(f"{r['system']:10} {r['variant']:11} accepted {r['accepted']}/{r['messages']} "
          f"sent {r['send_rate'] or 0:.1f} parts/s lost {r['lost']} dup {r['duplicated']}")
    assert "error" not in r, r
    assert r["send_rate"] and r["send_rate"] > 0, r
    assert r["accepted"] == r["messages"], r
    assert r["lost"] == 0 and r["duplicated"] == 0, r
PY
grep -q "<polyline" "$tmp/bench.svg" || { echo "plot has no lines"; exit 1; }
echo "bench: ok"
