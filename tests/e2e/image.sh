#!/usr/bin/env bash
# The appliance's packaging and image, as CI checks them:
#   1. the Yocto layer: crate list in sync with Cargo.lock, layer consistency, oelint-adv;
#   2. the image scripts: shellcheck;
#   3. the .deb (cargo deb): file list, modes, control fields, conffile, maintainer scripts, lintian;
#   4. the Debian image build (image/debian/build.sh: mmdebstrap + the .deb + A/B disk + RAUC bundle),
#      then in its rootfs: the service user, file owners and modes, the unit enabled, and a purge and
#      reinstall of the package;
#   5. the qemu boot smoke test (image/debian/smoke.sh): one boot under TCG with two simulated modems
#      (SMSGATE_IMAGE_SMOKE=boot, the default), the A/B update and fallback as well
#      (SMSGATE_IMAGE_SMOKE=full, or `--full`), or none (SMSGATE_IMAGE_SMOKE=none).
# Missing tools are installed (apt, cargo, pip); nothing is skipped silently.
# SMSGATE_DEB_PROFILE selects the cargo profile of the packaged binary: default dev, the build the
# tests already made (the package and image are what is tested here, not the optimiser); release for
# a package to ship (or image/debian/build.sh on its own, which builds release).
set -euo pipefail
cd "$(dirname "$0")/../.."
REPO=$PWD
OUT="$REPO/target/image"
SMOKE=${SMSGATE_IMAGE_SMOKE:-boot}
[ "${1:-}" = "--full" ] && SMOKE=full
case "$SMOKE" in boot | full | none) ;; *) echo "image.sh: SMSGATE_IMAGE_SMOKE must be boot, full or none" >&2; exit 2 ;; esac
PROFILE=${SMSGATE_DEB_PROFILE:-dev}
T0=$(date +%s)
lap() { echo "image.sh: $1 done at $(($(date +%s) - T0)) s"; }
fail() { echo "image.sh: FAIL: $*" >&2; exit 1; }

[ "$(id -u)" -eq 0 ] || fail "run as root (package install, chroot)"

need=()
for p in shellcheck lintian python3-venv dpkg-dev; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || need+=("$p")
done
if [ ${#need[@]} -gt 0 ]; then
	echo "image.sh: installing ${need[*]}"
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

echo "== image.sh: Yocto layer (static)"
image/meta-smsgate/scripts/lint.sh
lap "layer lint"

echo "== image.sh: shellcheck"
shellcheck -x image/debian/*.sh image/slot/smsgate-boot image/slot/smsgate-boot-post-install image/slot/test-smsgate-boot.sh \
	image/debian/rootfs/usr/lib/smsgate/* image/meta-smsgate/scripts/lint.sh config/debian/postinst \
	config/debian/postrm config/debian/prerm tests/e2e/image.sh
lap "shellcheck"

echo "== image.sh: A/B slot switching (smsgate-boot on a directory ESP)"
image/slot/test-smsgate-boot.sh

echo "== image.sh: .deb"
if ! command -v cargo-deb >/dev/null; then
	cargo install cargo-deb --version 3.8.0 --locked
fi
rm -f target/debian/smsgate_*.deb
if [ "$PROFILE" = release ]; then
	cargo deb --locked -o target/debian/
else
	cargo build --locked --profile "$PROFILE" --bin smsgate
	cargo deb --locked --profile "$PROFILE" --no-build -o target/debian/
fi
DEB=$(ls target/debian/smsgate_*.deb)
lap ".deb build ($PROFILE)"

listing=$(dpkg-deb -c "$DEB")
check_entry() { # MODE OWNER PATH (cargo-deb writes owners as numbers: root/root is 0/0)
	echo "$listing" | awk -v m="$1" -v o="$2" -v p="./$3" '
		{ owner = ($2 == "0/0") ? "root/root" : $2 }
		$1 == m && owner == o && $6 == p { found = 1 } END { exit !found }' \
		|| fail "$DEB: expected $1 $2 $3, listing has: $(echo "$listing" | grep -F "$3" || echo nothing)"
}
check_entry -rwxr-xr-x root/root usr/bin/smsgate
check_entry -rw-r--r-- root/root usr/lib/systemd/system/smsgate.service
check_entry -rw-r--r-- root/root usr/lib/udev/rules.d/80-smsgate-modems.rules
check_entry -rw-r--r-- root/root usr/lib/sysusers.d/smsgate.conf
check_entry -rw-r--r-- root/root usr/lib/tmpfiles.d/smsgate.conf
check_entry -rw-r----- root/root etc/smsgate/smsgate.toml
check_entry -rw-r--r-- root/root usr/share/doc/smsgate/copyright
[ "$(dpkg-deb -f "$DEB" Package)" = smsgate ] || fail "package name"
dpkg-deb -f "$DEB" Depends | grep -q "systemd" || fail "Depends lacks systemd: $(dpkg-deb -f "$DEB" Depends)"
ctrl=$(mktemp -d)
trap 'rm -rf "$ctrl"' EXIT
dpkg-deb -e "$DEB" "$ctrl"
grep -qx /etc/smsgate/smsgate.toml "$ctrl/conffiles" || fail "smsgate.toml is not a conffile"
# Every sysusers/tmpfiles name the maintainer scripts pass must be a file the package installs.
grep -ho 'systemd-\(sysusers\|tmpfiles --create\) [^ ]*\.conf' "$ctrl/postinst" | awk '{print $NF}' | sort -u \
	| while read -r name; do
		echo "$listing" | grep -q "/\(sysusers\|tmpfiles\).d/$name\$" \
			|| fail "postinst calls systemd-sysusers/tmpfiles on $name, which the package does not ship"
	done
grep -q 'deb-systemd-helper enable smsgate.service' "$ctrl/postinst" || fail "postinst does not enable smsgate.service"
for s in postinst prerm postrm; do sh -n "$ctrl/$s" || fail "$s: syntax"; done
# lintian: errors fail the build. Tags that are expected for a cargo-deb package are listed with why.
#   no-changelog, no-manual-page: release notes live in the repository; `smsgate --help` is the manual.
#   statically-linked-binary / embedded-library: Rust links its crates (and SQLite, aws-lc) statically.
#   maintainer-script-calls-systemctl: cargo-deb's generated enable/start block.
lintian --fail-on error --suppress-tags \
	no-changelog,no-manual-page,statically-linked-binary,embedded-library,maintainer-script-calls-systemctl,debian-changelog-file-missing-or-wrong-name,initial-upload-closes-no-bugs,copyright-without-copyright-notice \
	"$DEB"
lap ".deb checks + lintian"

echo "== image.sh: Debian image build (installs the .deb into a fresh rootfs)"
image/debian/build.sh --deb "$DEB" --out "$OUT"
ROOT="$OUT/rootfs"
lap "image build"

echo "== image.sh: the installed package in the image's rootfs"
in_root() { chroot "$ROOT" "$@"; }
in_root dpkg-query -W -f="\${Status}\n" smsgate | grep -qx "install ok installed" || fail "smsgate not installed"
in_root getent passwd smsgate | grep -q ':/var/lib/smsgate:/usr/sbin/nologin$' || fail "user smsgate: $(in_root getent passwd smsgate)"
in_root id -nG smsgate | grep -qw dialout || fail "smsgate is not in dialout"
[ "$(in_root stat -c '%U:%G %a' /etc/smsgate/smsgate.toml)" = "root:smsgate 640" ] || fail "smsgate.toml: $(in_root stat -c '%U:%G %a' /etc/smsgate/smsgate.toml)"
[ "$(in_root stat -c '%U:%G %a' /etc/smsgate)" = "root:smsgate 750" ] || fail "/etc/smsgate: $(in_root stat -c '%U:%G %a' /etc/smsgate)"
[ "$(in_root stat -c '%U:%G %a' /var/lib/smsgate)" = "smsgate:smsgate 700" ] || fail "/var/lib/smsgate: $(in_root stat -c '%U:%G %a' /var/lib/smsgate)"
[ "$(in_root systemctl is-enabled smsgate.service)" = enabled ] || fail "smsgate.service not enabled"
[ "$(in_root systemctl is-enabled smsgate-boot-check.service)" = enabled ] || fail "boot check not enabled"
in_root systemd-analyze verify /usr/lib/systemd/system/smsgate-boot-check.service /usr/lib/systemd/system/smsgate-firstboot.service \
	|| fail "systemd-analyze verify of the image's units"
in_root udevadm verify /usr/lib/udev/rules.d/80-smsgate-modems.rules 2>/dev/null \
	|| in_root test -s /usr/lib/udev/rules.d/80-smsgate-modems.rules || fail "udev rules missing"
for f in usr/lib/smsgate/smsgate-boot etc/rauc/system.conf etc/rauc/keyring.pem boot/efi; do
	[ -e "$ROOT/$f" ] || fail "image lacks /$f"
done
# The slot tool on the ESP staging tree: two entries, slot a first.
[ "$(SMSGATE_ESP="$OUT/esp" image/slot/smsgate-boot get-primary)" = a ] || fail "slot a is not primary in the built image"
sfdisk --dump "$OUT/smsgate-debian.img" | grep -c 'name="\(esp\|rootfs_a\|rootfs_b\|data\)"' | grep -qx 4 || fail "partition table"

# Purge and reinstall: the conffile goes with purge, the user and the data stay (retention), and a
# second install over an existing user works.
# Maintainer scripts run systemd-tmpfiles, which needs /proc.
mount -t proc proc "$ROOT/proc"
trap 'umount "$ROOT/proc" 2>/dev/null || true; rm -rf "$ctrl"' EXIT
in_root dpkg --purge smsgate >/dev/null
[ ! -e "$ROOT/etc/smsgate/smsgate.toml" ] || fail "purge left the conffile"
[ ! -e "$ROOT/usr/bin/smsgate" ] || fail "purge left the binary"
in_root getent passwd smsgate >/dev/null || fail "purge removed the service user (its files stay for retention)"
cp "$DEB" "$ROOT/tmp/smsgate.deb"
in_root dpkg -i /tmp/smsgate.deb >/dev/null
rm -f "$ROOT/tmp/smsgate.deb"
[ "$(in_root stat -c '%U:%G %a' /etc/smsgate/smsgate.toml)" = "root:smsgate 640" ] || fail "reinstall: smsgate.toml owner/mode"
umount "$ROOT/proc"
lap "rootfs checks"

case "$SMOKE" in
boot)
	echo "== image.sh: qemu boot smoke test (one boot; the A/B test: SMSGATE_IMAGE_SMOKE=full)"
	image/debian/smoke.sh --image "$OUT" --no-ab
	lap "qemu smoke (boot)"
	;;
full)
	echo "== image.sh: qemu smoke test with A/B update and fallback"
	image/debian/smoke.sh --image "$OUT"
	lap "qemu smoke (full)"
	;;
none) echo "image.sh: qemu smoke test not run (SMSGATE_IMAGE_SMOKE=none)" ;;
esac
echo "image.sh: all image checks passed in $(($(date +%s) - T0)) s"
