#!/usr/bin/env bash
# Builds the smsgate Debian appliance image: a Debian rootfs (mmdebstrap, Debian packages only) with
# the smsgate .deb installed, on a GPT disk with an ESP (systemd-boot, boot counting), two root slots
# (rootfs_a, rootfs_b) and a data partition, plus a RAUC bundle of the same rootfs for A/B updates.
#
#   image/debian/build.sh [--deb FILE] [--out DIR] [--suite SUITE] [--mirror URL] [--reuse-rootfs]
#
# --reuse-rootfs keeps DIR/rootfs from the last build and only re-applies the appliance files
# (customize.sh) before making the disk: for iterating on image/ without another mmdebstrap run.
#
# Output (default target/image/): smsgate-debian.img (raw disk, sparse), rootfs.ext4 (the slot
# image), smsgate-update.raucb (RAUC bundle of rootfs.ext4), rauc-dev/ (development signing key:
# replace for production), build-times.txt. Runs as root (mmdebstrap in root mode, chroot); needs no
# loop devices or mounts: file systems are made from directories (mkfs.ext4 -d, mtools).
set -euo pipefail

REPO=$(cd "$(dirname "$0")/../.." && pwd)
HERE="$REPO/image/debian"
OUT="$REPO/target/image"
SUITE=bookworm
MIRROR=http://deb.debian.org/debian
DEB=""
REUSE=0

while [ $# -gt 0 ]; do
	case "$1" in
	--deb) DEB=$(realpath "$2"); shift 2 ;;
	--out) OUT=$(realpath -m "$2"); shift 2 ;;
	--suite) SUITE=$2; shift 2 ;;
	--mirror) MIRROR=$2; shift 2 ;;
	--reuse-rootfs) REUSE=1; shift ;;
	-h | --help) sed -n '2,15p' "$0"; exit 0 ;;
	*) echo "build.sh: unknown argument $1" >&2; exit 2 ;;
	esac
done

# Partition sizes in MiB. A slot holds the whole OS (~700 MiB with the kernel's modules) with room
# for growth; the ESP holds systemd-boot and one kernel + initrd per slot.
ESP_MIB=256
SLOT_MIB=1536
DATA_MIB=512

# Packages of the appliance besides the minbase set. systemd-boot: the boot loader and
# systemd-bless-boot (boot counting); rauc: A/B updates; qemu-guest-agent: lets a hypervisor (and the
# smoke test) query a VM appliance.
GUEST_PACKAGES=(systemd systemd-sysv udev dbus kmod iproute2 linux-image-amd64 systemd-boot
	systemd-boot-efi systemd-resolved systemd-timesyncd rauc rauc-service e2fsprogs dosfstools ca-certificates curl less procps qemu-guest-agent zstd)

# libudev-dev and pkg-config: `cargo deb` builds smsgate, which links libudev (modem hotplug).
HOST_PACKAGES=(mmdebstrap dosfstools mtools e2fsprogs fdisk rauc squashfs-tools openssl libudev-dev pkg-config)

[ "$(id -u)" -eq 0 ] || { echo "build.sh: run as root (mmdebstrap root mode, chroot)" >&2; exit 1; }

STEP_T0=$(date +%s)
step() {
	local now
	now=$(date +%s)
	if [ -n "${STEP_NAME:-}" ]; then
		printf '%-28s %4d s\n' "$STEP_NAME" $((now - STEP_T0)) | tee -a "$OUT/build-times.txt"
	fi
	STEP_NAME=$1
	STEP_T0=$now
	echo "== build.sh: $1"
}

ensure_host_packages() {
	local missing=() p
	for p in "$@"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	echo "build.sh: installing ${missing[*]}"
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

mkdir -p "$OUT"
: >"$OUT/build-times.txt"
BUILD_T0=$(date +%s)

step "host packages"
ensure_host_packages "${HOST_PACKAGES[@]}"

step "smsgate .deb"
if [ -z "$DEB" ]; then
	command -v cargo-deb >/dev/null || cargo install cargo-deb --version 3.8.0 --locked
	(cd "$REPO" && cargo deb --locked -o "$OUT/")
	DEB=$(find "$OUT" -maxdepth 1 -name "smsgate_*.deb" -printf "%T@ %p\n" | sort -n | tail -n 1 | cut -d" " -f2-)
fi
[ -f "$DEB" ] || { echo "build.sh: no .deb at $DEB" >&2; exit 1; }
echo "package: $DEB"

step "RAUC signing key"
RAUC_DEV="$OUT/rauc-dev"
# A development CA, made once per output directory. A product build brings its own key and keyring.
[ -f "$RAUC_DEV/key.pem" ] || "$HERE/rauc-dev-ca.sh" "$RAUC_DEV"

step "rootfs (mmdebstrap)"
ROOT="$OUT/rootfs"
if [ "$REUSE" = 1 ] && [ -x "$ROOT/usr/bin/smsgate" ]; then
	echo "build.sh: reusing $ROOT"
	"$HERE/customize.sh" "$ROOT" "$REPO" "$RAUC_DEV/cert.pem"
else
	# An interrupted mmdebstrap can leave /proc, /sys or /dev/pts mounted in the old tree: never rm -rf
	# through a mount.
	if findmnt -rn -o TARGET | grep -q "^$ROOT/"; then
		echo "build.sh: file systems still mounted under $ROOT (another build running?): unmount them first" >&2
		exit 1
fi
rm -rf "$ROOT"
include=$(IFS=,; echo "${GUEST_PACKAGES[*]}")
# Documentation and translations stay out: nobody reads them on an appliance, and they cost space
# in both slots. Copyright files stay.
# file-mirror-automount makes the local .deb visible inside the chroot, where apt's dpkg runs.
mmdebstrap --mode=root --variant=minbase --components=main \
	--hook-dir=/usr/share/mmdebstrap/hooks/file-mirror-automount \
	--include="$include,$DEB" \
	--dpkgopt='path-exclude=/usr/share/man/*' \
	--dpkgopt='path-exclude=/usr/share/locale/*' \
	--dpkgopt='path-include=/usr/share/locale/locale.alias' \
	--dpkgopt='path-exclude=/usr/share/doc/*' \
	--dpkgopt='path-include=/usr/share/doc/*/copyright' \
	--dpkgopt='path-include=/usr/share/doc/smsgate/*' \
	--customize-hook="$HERE/customize.sh \"\$1\" \"$REPO\" \"$RAUC_DEV/cert.pem\"" \
	"$SUITE" "$ROOT" "$MIRROR"
fi

step "slot images (mkfs.ext4 -d)"
# The kernels go to the ESP, not stay only in the slot: copy them out before the slot images are made.
ESP_DIR="$OUT/esp"
rm -rf "$ESP_DIR"
mkdir -p "$ESP_DIR/EFI/BOOT" "$ESP_DIR/loader/entries"
cp "$ROOT/usr/lib/systemd/boot/efi/systemd-bootx64.efi" "$ESP_DIR/EFI/BOOT/BOOTX64.EFI"
# timeout 0: boot at once; holding a key at power-on shows the menu (pick the other slot by hand).
printf 'default smsgate-*\ntimeout 0\nconsole-mode keep\neditor no\n' >"$ESP_DIR/loader/loader.conf"
SMSGATE_ESP="$ESP_DIR" "$REPO/image/slot/smsgate-boot" install-kernel a "$ROOT"
SMSGATE_ESP="$ESP_DIR" "$REPO/image/slot/smsgate-boot" install-kernel b "$ROOT"
# Slot a is the factory slot: it boots first. Slot b holds the same system as a fallback until the
# first update overwrites it.
sed -i 's/^version .*/version 1/' "$ESP_DIR/loader/entries/smsgate-a.conf"

rm -f "$OUT/rootfs.ext4" "$OUT/rootfs_b.ext4" "$OUT/data.ext4" "$OUT/esp.vfat"
# One label for every slot's file system: the same image goes to either slot by RAUC; the slots
# themselves are told apart by GPT partition name.
mkfs.ext4 -q -L smsgate-root -d "$ROOT" "$OUT/rootfs.ext4" "${SLOT_MIB}M"
mkfs.ext4 -q -L smsgate-root -d "$ROOT" "$OUT/rootfs_b.ext4" "${SLOT_MIB}M"
mkfs.ext4 -q -L data "$OUT/data.ext4" "${DATA_MIB}M"

step "ESP (mtools)"
mkfs.vfat -F 32 -n ESP -C "$OUT/esp.vfat" $((ESP_MIB * 1024)) >/dev/null
MTOOLS_SKIP_CHECK=1 mcopy -s -i "$OUT/esp.vfat" "$ESP_DIR"/* ::/

step "disk (GPT)"
IMG="$OUT/smsgate-debian.img"
rm -f "$IMG"
# 1 MiB alignment, 1 MiB spare at the end for the backup GPT.
total=$((1 + ESP_MIB + 2 * SLOT_MIB + DATA_MIB + 1))
truncate -s "${total}M" "$IMG"
sfdisk --quiet "$IMG" <<EOF
label: gpt
unit: sectors
start=2048, size=$((ESP_MIB * 2048)), type=C12A7328-F81F-11D2-BA4B-00A0C93EC93B, name="esp"
size=$((SLOT_MIB * 2048)), type=4F68BCE3-E8CD-4DB1-96E7-FBCAF984B709, name="rootfs_a"
size=$((SLOT_MIB * 2048)), type=4F68BCE3-E8CD-4DB1-96E7-FBCAF984B709, name="rootfs_b"
size=$((DATA_MIB * 2048)), type=0FC63DAF-8483-4772-8E79-3D69D8477DE4, name="data"
EOF
off=1
for part in esp.vfat rootfs.ext4 rootfs_b.ext4 data.ext4; do
	dd if="$OUT/$part" of="$IMG" bs=1M seek=$off conv=notrunc,sparse status=none
	off=$((off + $(stat -c %s "$OUT/$part") / 1048576))
done
rm -f "$OUT/rootfs_b.ext4" "$OUT/data.ext4" "$OUT/esp.vfat"

step "RAUC bundle"
BUNDLE_DIR="$OUT/bundle"
rm -rf "$BUNDLE_DIR" "$OUT/smsgate-update.raucb"
mkdir -p "$BUNDLE_DIR"
# The bundle carries the slot file system, shrunk to its content: RAUC writes it to whichever slot
# is inactive, and the post-install handler grows it to the partition again.
cp --sparse=always "$OUT/rootfs.ext4" "$BUNDLE_DIR/rootfs.ext4"
e2fsck -fy "$BUNDLE_DIR/rootfs.ext4" >/dev/null
resize2fs -M "$BUNDLE_DIR/rootfs.ext4" >/dev/null 2>&1
cat >"$BUNDLE_DIR/manifest.raucm" <<EOF
[update]
compatible=smsgate-x86_64
version=$(dpkg-deb -f "$DEB" Version)-$(date -u +%Y%m%d%H%M%S)
description=smsgate Debian appliance

[bundle]
format=verity

[image.rootfs]
filename=rootfs.ext4
EOF
# zstd: several times faster to make than the default gzip at a similar size; Debian's kernel reads it.
rauc bundle --cert="$RAUC_DEV/cert.pem" --key="$RAUC_DEV/key.pem" \
	--mksquashfs-args="-comp zstd -Xcompression-level 3" \
	"$BUNDLE_DIR" "$OUT/smsgate-update.raucb" >/dev/null
rm -rf "$BUNDLE_DIR"

step "done"
echo "image:  $IMG ($(du -h --apparent-size "$IMG" | cut -f1) apparent, $(du -h "$IMG" | cut -f1) on disk)"
echo "bundle: $OUT/smsgate-update.raucb ($(du -h "$OUT/smsgate-update.raucb" | cut -f1))"
printf '%-28s %4d s\n' "total" $(($(date +%s) - BUILD_T0)) | tee -a "$OUT/build-times.txt"
