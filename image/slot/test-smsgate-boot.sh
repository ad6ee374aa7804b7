#!/usr/bin/env bash
# Table of slot-switching cases for smsgate-boot, on an ESP that is a plain directory. systemd-boot's
# part (spending a try on each boot attempt, blessing) is done by renaming the entry files exactly as
# systemd-boot and systemd-bless-boot do. Run by tests/e2e/image.sh; takes well under a second.
set -euo pipefail
TOOL="$(cd "$(dirname "$0")" && pwd)/smsgate-boot"
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
export SMSGATE_ESP="$WORK/esp"
E="$SMSGATE_ESP/loader/entries"
failures=0

check() { # DESCRIPTION EXPECTED COMMAND...
	local what=$1 want=$2 got
	shift 2
	got=$("$@" 2>&1) || got="exit $?: $got"
	if [ "$got" = "$want" ]; then
		echo "ok   $what"
	else
		echo "FAIL $what: want '$want', got '$got'"
		failures=$((failures + 1))
	fi
}
entries() { find "$E" -mindepth 1 -printf '%f\n' | sort | tr '\n' ' '; }
boot_attempt() { # what systemd-boot does to a counted entry before it starts the kernel: +L-D -> +(L-1)-(D+1)
	local f counter left spent
	f=$(find "$E" -name "smsgate-$1+*.conf" -printf '%f')
	counter=${f#*+}
	counter=${counter%.conf}
	left=${counter%-*}
	spent=0
	case "$counter" in *-*) spent=${counter#*-} ;; esac
	mv "$E/$f" "$E/smsgate-$1+$((left - 1))-$((spent + 1)).conf"
}
bless() { mv "$E"/smsgate-"$1"+*.conf "$E/smsgate-$1.conf"; }

check "no ESP: a clear error" "exit 1: smsgate-boot: no loader entries in $E (ESP not mounted?)" "$TOOL" get-primary

mkdir -p "$WORK/root/boot"
echo kernel-6.1 >"$WORK/root/boot/vmlinuz-6.1.0-1-amd64"
echo initrd-6.1 >"$WORK/root/boot/initrd.img-6.1.0-1-amd64"
echo kernel-6.12 >"$WORK/root/boot/vmlinuz-6.12.0-1-amd64"
echo initrd-6.12 >"$WORK/root/boot/initrd.img-6.12.0-1-amd64"
"$TOOL" install-kernel a "$WORK/root"
"$TOOL" install-kernel b "$WORK/root"
check "install-kernel copies the newest kernel" "kernel-6.12" cat "$SMSGATE_ESP/smsgate/a/vmlinuz"
check "entry boots its own slot's root" "options root=PARTLABEL=rootfs_b ro rootwait console=tty0 console=ttyS0,115200 panic=10 quiet smsgate.slot=b" \
	grep '^options' "$E/smsgate-b.conf"
sed -i 's/^version .*/version 1/' "$E/smsgate-a.conf"
check "factory image: a first" a "$TOOL" get-primary
check "both good" "good good" sh -c "echo \$('$TOOL' get-state a) \$('$TOOL' get-state b)"

"$TOOL" set-primary b
check "update: b primary with 3 tries" "smsgate-a.conf smsgate-b+3.conf " entries
check "update: b has the highest version" "version 2" grep '^version' "$E/smsgate-b+3.conf"
check "update: next boot b" b "$TOOL" get-primary
boot_attempt b
check "first try spent, b still next" b "$TOOL" get-primary
bless b
check "good boot: b blessed" "smsgate-a.conf smsgate-b.conf " entries
check "blessed b stays primary" b "$TOOL" get-primary

SMSGATE_BOOT_TRIES=2 "$TOOL" set-primary a
boot_attempt a
boot_attempt a
check "a failed twice: no tries left" "smsgate-a+0-2.conf smsgate-b.conf " entries
check "a is bad" bad "$TOOL" get-state a
check "fallback: b boots" b "$TOOL" get-primary

"$TOOL" set-state a good
check "set-state good drops the counter" "smsgate-a.conf smsgate-b.conf " entries
check "a good again, highest version: next" a "$TOOL" get-primary
"$TOOL" set-state a bad
check "set-state bad: no tries" "smsgate-a+0.conf smsgate-b.conf " entries
check "b boots when a is bad" b "$TOOL" get-primary
check "unknown slot refused" "exit 1: smsgate-boot: unknown slot 'c' (a or b)" "$TOOL" set-primary c
check "unknown state refused" "exit 1: smsgate-boot: state must be good or bad, not 'fine'" "$TOOL" set-state b fine
"$TOOL" set-state b bad
check "both bad: no bootable slot" "exit 1: smsgate-boot: no bootable slot entry in $E" "$TOOL" get-primary

if [ "$failures" -ne 0 ]; then
	echo "test-smsgate-boot: $failures failed"
	exit 1
fi
echo "test-smsgate-boot: all cases passed"
