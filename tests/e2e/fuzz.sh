#!/usr/bin/env bash
# Fuzzes the SMS PDU decoder, the reassembler, the encoder and the AT framer for a bounded time each
# (FUZZ_SECONDS, default 60) on
# stable Rust: `-s none` builds without a sanitizer, which needs no nightly. Installs cargo-fuzz when
# missing. Any crash fails the run; libFuzzer leaves the crashing input under fuzz/artifacts/<target>/.
# New inputs go to a scratch directory so the committed seed corpus (fuzz/corpus/<target>) stays small.
set -euo pipefail
cd "$(dirname "$0")/../.."

FUZZ_SECONDS="${FUZZ_SECONDS:-60}"
TARGETS=(decode reassembly encode at_framer)

if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "installing cargo-fuzz"
  cargo install cargo-fuzz --locked
fi

scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT

for target in "${TARGETS[@]}"; do
  echo "== fuzz $target for ${FUZZ_SECONDS}s"
  mkdir -p "$scratch/$target"
  # The first corpus directory receives new inputs; the committed corpus is read as seeds.
  cargo fuzz run -s none "$target" "$scratch/$target" "fuzz/corpus/$target" -- \
    -max_total_time="$FUZZ_SECONDS" -print_final_stats=1
done
echo "fuzzing finished without crashes"
