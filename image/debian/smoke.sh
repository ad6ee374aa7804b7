#!/usr/bin/env bash
# Boots the smsgate Debian appliance image in qemu-system-x86_64 (TCG: software emulation, no KVM)
# with two simulated modems attached as USB serial devices, and checks it from the host:
#   1. the guest boots from slot a, the boot assessment passes, smsgate's user and unit are in place;
#   2. the modems appear as /dev/ttyUSB*, udev names them (/dev/gsm/at/by-port/...), keeps
#      ModemManager away and gives them to group dialout;
#   3. smsgate is active and its HTTPS port answers through the forwarded port (when this build's
#      smsgate has `serve`), and an SMS sent through the API arrives in hw-sim (when hw-sim has its
#      control API); `smsgate status` in the guest shows both modems ready and the journal carries the
#      MODEM_ID and ACCOUNT fields; detaching a modem (hot-unplug) leaves the service running and
#      `smsgate status` shows that modem absent;
#   4. A/B: the RAUC bundle installs into slot b, the appliance reboots into b, and a slot that
#      cannot boot (a, corrupted, made primary with one try) falls back to b by itself.
#
#   image/debian/smoke.sh [--image DIR] [--no-ab] [--keep]   (DIR: build.sh's output, default target/image)
#
# --no-ab stops after 3 (one boot instead of three and a failed one). HW_SIM_BIN=PATH uses that hw-sim.
# The disk image is not modified: the VM runs on a copy-on-write overlay in a temporary directory.
# Every phase prints its wall time; the serial console is kept in DIR/smoke-console.log.
set -euo pipefail

REPO=$(cd "$(dirname "$0")/../.." && pwd)
HERE="$REPO/image/debian"
IMGDIR="$REPO/target/image"
KEEP=0
AB=1
while [ $# -gt 0 ]; do
	case "$1" in
	--image) IMGDIR=$(realpath "$2"); shift 2 ;;
	--keep) KEEP=1; shift ;;
	--no-ab) AB=0; shift ;;
	-h | --help) sed -n '2,19p' "$0"; exit 0 ;;
	*) echo "smoke.sh: unknown argument $1" >&2; exit 2 ;;
	esac
done

IMG="$IMGDIR/smsgate-debian.img"
BUNDLE="$IMGDIR/smsgate-update.raucb"
[ -f "$IMG" ] || { echo "smoke.sh: no image at $IMG: run image/debian/build.sh first" >&2; exit 1; }
[ "$AB" = 0 ] || [ -f "$BUNDLE" ] || { echo "smoke.sh: no RAUC bundle at $BUNDLE: run image/debian/build.sh first" >&2; exit 1; }

HOST_PACKAGES=(qemu-system-x86 qemu-utils ovmf socat e2fsprogs python3 curl)
ensure_host_packages() {
	local missing=() p
	for p in "$@"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	echo "smoke.sh: installing ${missing[*]}"
	apt-get update -qq
	# Debian 12 machines may carry qemu-utils from bookworm-backports; qemu-system-x86 must match it.
	if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null; then
		# shellcheck source=/dev/null
		. /etc/os-release
		echo "smoke.sh: retrying from ${VERSION_CODENAME}-backports"
		cat >/etc/apt/sources.list.d/smsgate-backports.sources <<-EOF
			Types: deb
			URIs: http://deb.debian.org/debian
			Suites: ${VERSION_CODENAME}-backports
			Components: main
			Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
		EOF
		apt-get update -qq
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
			-t "${VERSION_CODENAME}-backports" "${missing[@]}" >/dev/null
	fi
}
ensure_host_packages "${HOST_PACKAGES[@]}"
OVMF=/usr/share/ovmf/OVMF.fd
[ -f "$OVMF" ] || { echo "smoke.sh: $OVMF missing (package ovmf)" >&2; exit 1; }

WORK=$(mktemp -d /tmp/smsgate-smoke.XXXXXX)
CONSOLE="$IMGDIR/smoke-console.log"
QEMU_PID=""
SIM_PIDS=()
cleanup() {
	if [ -n "$QEMU_PID" ]; then kill "$QEMU_PID" 2>/dev/null || true; fi
	for pid in "${SIM_PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
	wait 2>/dev/null || true
	if [ "$KEEP" = 1 ]; then echo "smoke.sh: kept $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

T0=$(date +%s)
PHASE_T0=$T0
phase() {
	local now
	now=$(date +%s)
	[ -n "${PHASE:-}" ] && printf 'smoke: %-40s %4d s\n' "$PHASE" $((now - PHASE_T0)) | tee -a "$WORK/times"
	PHASE=$1
	PHASE_T0=$now
	echo "== smoke.sh: $1"
}
fail() {
	echo "smoke.sh: FAIL: $*" >&2
	echo "--- last console lines ($CONSOLE):" >&2
	tail -n 40 "$CONSOLE" >&2 || true
	exit 1
}
QGA="$WORK/qga.sock"
QMP="$WORK/qmp.sock"
guest() { python3 "$HERE/vmctl.py" qga "$QGA" exec "${GUEST_TIMEOUT:-120}" "$1"; }
qmp() { python3 "$HERE/vmctl.py" qmp "$QMP" "$@"; }

phase "simulated modems"
MODEMS="$WORK/modems"
mkdir -p "$MODEMS"
# hw-sim when it can make linked PTYs (--dir); otherwise bare PTY pairs from socat, which still let the
# guest see and name two USB serial modems (nothing answers AT on them then).
# HW_SIM_BIN picks another hw-sim binary (default: this workspace's, built here).
HWSIM_BIN=${HW_SIM_BIN:-$REPO/target/debug/hw-sim}
SIM_KIND=socat
SIM_URL=""
if [ -z "${HW_SIM_BIN:-}" ]; then (cd "$REPO" && cargo build --quiet -p hw-sim 2>/dev/null) || true; fi
if grep -q -- "--dir" <<<"$("$HWSIM_BIN" --help 2>/dev/null || true)"; then
	SIM_PORT=$((40000 + RANDOM % 20000))
	"$HWSIM_BIN" --count 2 --dir "$MODEMS" --control "127.0.0.1:$SIM_PORT" >"$WORK/hw-sim.log" 2>&1 &
	SIM_PIDS+=($!)
	SIM_KIND=hw-sim
	SIM_URL="http://127.0.0.1:$SIM_PORT"
else
	for i in 0 1; do
		socat "PTY,link=$MODEMS/modem$i,raw,echo=0" "PTY,link=$MODEMS/peer$i,raw,echo=0" &
		SIM_PIDS+=($!)
	done
fi
for _ in $(seq 50); do [ -e "$MODEMS/modem1" ] && break; sleep 0.2; done
if [ ! -e "$MODEMS/modem0" ] || [ ! -e "$MODEMS/modem1" ]; then fail "no modem PTYs in $MODEMS"; fi
echo "modems: $SIM_KIND, $(readlink "$MODEMS/modem0") $(readlink "$MODEMS/modem1")"

phase "start qemu (TCG)"
qemu-img create -q -f qcow2 -F raw -b "$IMG" "$WORK/disk.qcow2"
# The bundle reaches the guest on a second disk holding an ext4 file system with the .raucb.
mkdir -p "$WORK/bundle"
if [ "$AB" = 1 ]; then
	ln "$BUNDLE" "$WORK/bundle/update.raucb" 2>/dev/null || cp "$BUNDLE" "$WORK/bundle/update.raucb"
fi
mkfs.ext4 -q -L bundle -d "$WORK/bundle" "$WORK/bundle.ext4" $(($(du -sm "$WORK/bundle" | cut -f1) + 64))M
HTTPS_PORT=$((20000 + RANDOM % 20000))
: >"$CONSOLE"
qemu-system-x86_64 -machine q35,accel=tcg -cpu max -smp 2 -m 1536 \
	-bios "$OVMF" \
	-drive file="$WORK/disk.qcow2",if=virtio,format=qcow2 \
	-drive file="$WORK/bundle.ext4",if=virtio,format=raw,readonly=on \
	-nic user,model=virtio-net-pci,restrict=on,hostfwd=tcp:127.0.0.1:$HTTPS_PORT-:443 \
	-device qemu-xhci,id=xhci \
	-chardev serial,id=modem0,path="$MODEMS/modem0" -device usb-serial,bus=xhci.0,chardev=modem0,id=modem0 \
	-chardev serial,id=modem1,path="$MODEMS/modem1" -device usb-serial,bus=xhci.0,chardev=modem1,id=modem1 \
	-chardev socket,path="$QGA",server=on,wait=off,id=qga0 \
	-device virtio-serial -device virtserialport,chardev=qga0,name=org.qemu.guest_agent.0 \
	-qmp unix:"$QMP",server=on,wait=off \
	-serial file:"$CONSOLE" -display none -monitor none &
QEMU_PID=$!

phase "boot 1 (slot a)"
python3 "$HERE/vmctl.py" qga "$QGA" wait 600 || fail "guest did not come up"
SERVE=0
if guest "/usr/bin/smsgate serve --help >/dev/null 2>&1"; then SERVE=1; fi
state=$(GUEST_TIMEOUT=600 guest "systemctl is-system-running --wait" || true)
failed=$(guest "systemctl list-units --failed --no-legend --plain | cut -d' ' -f1 | sort | tr '\n' ' '" || true)
echo "system state: $state; failed units: ${failed:-none}"
# A development build without `serve` cannot start smsgate.service: that one failure is expected.
if [ "$state" != running ] && ! { [ "$SERVE" = 0 ] && [ "$failed" = "smsgate.service " ]; }; then
	fail "system is $state (failed: $failed)"
fi

phase "system checks"
[ "$(guest "/usr/lib/smsgate/smsgate-boot get-current")" = a ] || fail "not booted from slot a"
guest "/usr/lib/smsgate/smsgate-boot status"
guest "systemctl is-active smsgate-boot-check.service" >/dev/null || fail "boot assessment did not pass"
guest "getent passwd smsgate && id -nG smsgate | grep -qw dialout" || fail "service user smsgate missing or not in dialout"
guest "systemctl is-enabled smsgate.service" >/dev/null || fail "smsgate.service is not enabled"
guest "findmnt -n -o SOURCE,FSTYPE /var/lib/smsgate" || fail "data partition not mounted"
guest "test -f /etc/issue.d/50-smsgate.issue && test -s /root/initial-password" || fail "first-boot setup did not run"

phase "modems in the guest"
guest "udevadm settle; ls -l /dev/ttyUSB0 /dev/ttyUSB1" || fail "guest has no /dev/ttyUSB0 and /dev/ttyUSB1"
links=$(guest "ls /dev/gsm/at/by-port/ | wc -l")
[ "$links" = 2 ] || { guest "ls -lR /dev/gsm" || true; fail "expected 2 AT port links in /dev/gsm/at/by-port, got $links"; }
guest "ls -l /dev/gsm/at/by-port/"
guest "udevadm info -q property /dev/ttyUSB0 | grep -qx ID_MM_DEVICE_IGNORE=1" || fail "ModemManager not kept away from ttyUSB0"
[ "$(guest "stat -c %G:%a /dev/ttyUSB0")" = dialout:660 ] || fail "ttyUSB0 not dialout 0660"

if [ "$SERVE" = 1 ]; then
	phase "smsgate service and HTTPS"
	guest "systemctl is-active smsgate.service" || { guest "journalctl -u smsgate -n 50 --no-pager" || true; fail "smsgate.service not active"; }
	# Any HTTP answer over TLS shows the listener is up (the SMS below shows it works); 000 is no answer.
	code=$(curl -sk -o /dev/null -w '%{http_code}' --max-time 30 "https://127.0.0.1:$HTTPS_PORT/healthz" || true)
	echo "GET /healthz over HTTPS through the forwarded port: $code"
	[ "$code" != 000 ] || fail "no HTTPS answer on the forwarded port"
	if [ -n "$SIM_URL" ]; then
		phase "SMS through the guest's HTTPS API into hw-sim"
		# The first admin's password, generated on the appliance's first boot. The first request pays
		# the slow password hash, which takes minutes in a debug build under TCG: hence the long timeout.
		admin_pw=$(guest "sed -n 's/^SMSGATE_ADMIN_PASSWORD=//p' /etc/smsgate/admin.env")
		[ -n "$admin_pw" ] || fail "no first-admin password on the appliance"
		text="smoke $(date +%s) from the appliance image"
		resp=$(curl -sSk --max-time 400 -u "admin:$admin_pw" -H 'Content-Type: application/json' \
			-d "{\"to\":\"+48600111222\",\"text\":\"$text\"}" -w ' HTTP %{http_code}' \
			"https://127.0.0.1:$HTTPS_PORT/api/v1/messages" 2>&1 || true)
		echo "POST /api/v1/messages: $resp"
		case "$resp" in
		*"HTTP 202") ;;
		*)
			guest "journalctl -u smsgate -n 30 --no-pager" || true
			fail "send was not accepted: $resp"
			;;
		esac
		found=0
		for _ in $(seq 90); do
			# Both lists first, then the search: `grep -q` stops reading at the first match, and under
			# pipefail the second list's writer failing on the closed pipe would turn a find into a miss.
			sent=$({ "$HWSIM_BIN" ctl --url "$SIM_URL" sent 0; "$HWSIM_BIN" ctl --url "$SIM_URL" sent 1; } 2>/dev/null || true)
			if grep -qF "$text" <<<"$sent"; then
				found=1
				break
			fi
			sleep 2
		done
		[ "$found" = 1 ] || { guest "journalctl -u smsgate -n 40 --no-pager" || true; fail "the SMS did not reach hw-sim"; }
		echo "hw-sim received: $text"
		# An API token for `smsgate status` below, while the password check above is still cached
		# (auth.password_cache_seconds): a token costs a SHA-256, not another slow hash under TCG.
		token=$(curl -sSk --max-time 400 -u "admin:$admin_pw" -H 'Content-Type: application/json' \
			-d '{"name":"smoke-status"}' "https://127.0.0.1:$HTTPS_PORT/api/v1/tokens" \
			| python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])') || fail "no API token for smsgate status"
		phase "smsgate status and journald fields in the guest"
		out=$(guest "SMSGATE_TOKEN=$token smsgate status --config /etc/smsgate/smsgate.toml") \
			|| fail "smsgate status in the guest failed: $out"
		echo "$out"
		echo "$out" | grep -q "READY (2/2 modems ready)" || fail "smsgate status does not show two ready modems"
		# Structured fields under their journal names (src/ops/journald.rs): the modem that joined, the
		# account that logged in.
		guest "journalctl -u smsgate -o verbose --no-pager | grep -q '^    MODEM_ID='" || fail "no MODEM_ID field in the journal"
		guest "journalctl -u smsgate --no-pager ACCOUNT=admin | grep -q login" || fail "no ACCOUNT=admin entry in the journal"
	fi
	phase "hot-unplug of modem1"
	qmp device_del '{"id":"modem1"}' >/dev/null
	for _ in $(seq 30); do guest "test ! -e /dev/ttyUSB1" 2>/dev/null && break; sleep 1; done
	guest "test ! -e /dev/ttyUSB1" || fail "ttyUSB1 still present after device_del"
	sleep 5
	guest "systemctl is-active smsgate.service" || fail "smsgate.service did not survive the unplug"
	if [ -n "${token:-}" ]; then
		# The service noticed: the unplugged modem is absent, the other one still serves.
		absent=0
		for _ in $(seq 30); do
			out=$(guest "SMSGATE_TOKEN=$token smsgate status --config /etc/smsgate/smsgate.toml" || true)
			if echo "$out" | grep -q "READY (1/2 modems ready)" && echo "$out" | grep -q " absent "; then absent=1; break; fi
			sleep 2
		done
		echo "$out"
		[ "$absent" = 1 ] || fail "smsgate status does not show the unplugged modem absent"
		guest "journalctl -u smsgate --no-pager -o verbose | grep -q '^    MODEM_ID='" || fail "no MODEM_ID in the journal after the unplug"
	fi
else
	echo "smoke.sh: this build's smsgate has no 'serve' command yet: service, HTTPS, SMS and hot-unplug checks not run"
fi

if [ "$AB" = 1 ]; then
	phase "A/B update: rauc install into slot b"
	GUEST_TIMEOUT=900 guest "mkdir -p /run/bundle && mount -o ro /dev/vdb /run/bundle && rauc install /run/bundle/update.raucb" || fail "rauc install failed"
	guest "/usr/lib/smsgate/smsgate-boot status"
	[ "$(guest "/usr/lib/smsgate/smsgate-boot get-primary")" = b ] || fail "slot b is not primary after the update"
	guest "systemctl --no-block reboot" || true
	python3 "$HERE/vmctl.py" qga "$QGA" gone 300 || fail "guest did not go down for the reboot"

	phase "boot 2 (slot b, on probation)"
	python3 "$HERE/vmctl.py" qga "$QGA" wait 600 || fail "guest did not come back after the update"
	GUEST_TIMEOUT=600 guest "systemctl is-system-running --wait" || true
	[ "$(guest "/usr/lib/smsgate/smsgate-boot get-current")" = b ] || fail "did not boot the updated slot b"
	for _ in $(seq 30); do guest "systemctl is-active systemd-bless-boot.service" >/dev/null 2>&1 && break; sleep 2; done
	guest "/usr/lib/smsgate/smsgate-boot status"
	guest "ls /boot/efi/loader/entries/ | grep -qx smsgate-b.conf" || fail "slot b was not blessed (boot counter still on its entry)"

	phase "failed boot falls back"
	# Slot a gets an unbootable root file system and becomes primary with one try: systemd-boot spends the
	# try, the initramfs cannot mount root and reboots (panic=), and the firmware then boots slot b.
	guest "dd if=/dev/zero of=/dev/disk/by-partlabel/rootfs_a bs=1M count=8 conv=fsync status=none && SMSGATE_BOOT_TRIES=1 /usr/lib/smsgate/smsgate-boot set-primary a && /usr/lib/smsgate/smsgate-boot status"
	guest "systemctl --no-block reboot" || true
	python3 "$HERE/vmctl.py" qga "$QGA" gone 300 || fail "guest did not go down for the reboot"
	python3 "$HERE/vmctl.py" qga "$QGA" wait 900 || fail "guest did not come back after the failed boot"
	GUEST_TIMEOUT=600 guest "systemctl is-system-running --wait" || true
	guest "findmnt -n /boot/efi >/dev/null" || fail "ESP not mounted after the fallback"
	guest "/usr/lib/smsgate/smsgate-boot status"
	# systemd-boot spent a's only try (+1 -> +0-1) before the kernel failed.
	guest "ls /boot/efi/loader/entries/ | grep -qx 'smsgate-a+0-1.conf'" || fail "slot a's entry does not show its spent try"
	[ "$(guest "/usr/lib/smsgate/smsgate-boot get-current")" = b ] || fail "did not fall back to slot b"
	[ "$(guest "/usr/lib/smsgate/smsgate-boot get-state a")" = bad ] || fail "slot a not marked bad after its failed boot"
	grep -q "Rebooting automatically due to panic= boot argument" "$CONSOLE" || fail "the failed boot of slot a is not in the console log"
fi

phase "shutdown"
guest "systemctl --no-block poweroff" || true
for _ in $(seq 60); do kill -0 "$QEMU_PID" 2>/dev/null || break; sleep 1; done
kill "$QEMU_PID" 2>/dev/null || true
QEMU_PID=""
phase "end"
cat "$WORK/times"
echo "smoke: total $(($(date +%s) - T0)) s"
echo "smoke.sh: all checks passed"
