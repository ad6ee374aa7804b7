#!/usr/bin/env bash
# Static checks of meta-smsgate, run by CI (tests/e2e/image.sh): the crate list matches Cargo.lock,
# the layer's own consistency checks (lint-layer.py), and oelint-adv (pinned, from PyPI, in a venv
# under target/). A full Yocto build is out of CI's reach; see image/README.md.
set -euo pipefail
LAYER=$(cd "$(dirname "$0")/.." && pwd)
REPO=$(cd "$LAYER/../.." && pwd)
VENV="$REPO/target/oelint-venv"
OELINT_VERSION=9.11.2

if [ ! -x "$VENV/bin/oelint-adv" ] || [ "$("$VENV/bin/oelint-adv" --version 2>/dev/null)" != "oelint-adv $OELINT_VERSION" ]; then
	command -v python3 >/dev/null || { echo "lint.sh: python3 missing" >&2; exit 1; }
	python3 -m venv "$VENV" || { echo "lint.sh: python3 -m venv failed (package python3-venv)" >&2; exit 1; }
	"$VENV/bin/pip" install -q "oelint-adv==$OELINT_VERSION" pyyaml
fi

"$VENV/bin/python" "$LAYER/scripts/gen-crates.py" --check
"$VENV/bin/python" "$LAYER/scripts/lint-layer.py"

# Rules left out, with the reason:
#   oelint.vars.homepageping  needs the network (and the project's home page is a placeholder).
# Info-level findings (style suggestions such as BBCLASSEXTEND) are not failures.
cd "$LAYER"
mapfile -t recipes < <(find . -name '*.bb' -o -name '*.bbappend' | sort)
"$VENV/bin/oelint-adv" --release wrynose --extra-layer rauc \
	--constantmods +scripts/oelint-constants.json \
	--suppress oelint.vars.homepageping \
	--hide info --relpaths --quiet "${recipes[@]}"
echo "lint.sh: oelint-adv clean on ${#recipes[@]} recipes"
