#!/usr/bin/env bash
# mmdebstrap customize hook of image/debian/build.sh: turns the Debian rootfs ROOT (with smsgate
# already installed from its .deb) into the appliance: overlay files, the A/B slot tool, RAUC config,
# enabled/masked units, no package-manager timers.
#   customize.sh ROOT REPO RAUC_KEYRING
set -euo pipefail
ROOT=$1
REPO=$2
KEYRING=$3
HERE="$REPO/image/debian"

cp -a --no-preserve=ownership "$HERE/rootfs/." "$ROOT/"

install -D -m 0755 "$REPO/image/slot/smsgate-boot" "$ROOT/usr/lib/smsgate/smsgate-boot"
install -D -m 0755 "$REPO/image/slot/smsgate-boot-post-install" "$ROOT/usr/lib/smsgate/smsgate-boot-post-install"
install -D -m 0644 "$REPO/image/slot/smsgate-boot-check.service" "$ROOT/usr/lib/systemd/system/smsgate-boot-check.service"
install -D -m 0644 "$REPO/image/meta-smsgate/recipes-core/rauc/files/system.conf" "$ROOT/etc/rauc/system.conf"
install -D -m 0644 "$KEYRING" "$ROOT/etc/rauc/keyring.pem"

# Mount points of the ESP and the data partition (fstab).
mkdir -p "$ROOT/boot/efi" "$ROOT/var/lib/smsgate"
echo smsgate >"$ROOT/etc/hostname"
printf '127.0.0.1\tlocalhost\n127.0.1.1\tsmsgate\n::1\t\tlocalhost ip6-localhost ip6-loopback\n' >"$ROOT/etc/hosts"
# Every appliance gets its own machine id on first boot.
echo uninitialized >"$ROOT/etc/machine-id"
rm -f "$ROOT/var/lib/dbus/machine-id"

# The boot assessment requires smsgate to be up, but only when this build's smsgate can serve at all
# (an early development build without `serve` would otherwise fail every boot and fall back).
if chroot "$ROOT" /usr/bin/smsgate serve --help >/dev/null 2>&1; then
	sed -i 's/^REQUIRE_SERVICE=.*/REQUIRE_SERVICE=yes/' "$ROOT/etc/smsgate/boot.conf"
else
	echo "customize.sh: this smsgate has no 'serve' command: boot assessment checks the system only"
	sed -i 's/^REQUIRE_SERVICE=.*/REQUIRE_SERVICE=no/' "$ROOT/etc/smsgate/boot.conf"
fi
chroot "$ROOT" chgrp smsgate /etc/smsgate/boot.conf
chmod 0640 "$ROOT/etc/smsgate/boot.conf"

# Kernel modules an SMS appliance never loads (graphics, sound, radio, cameras, exotic buses): both
# slots, every bundle and every update carry less. The initramfs was made before, with what booting
# needs; depmod makes the module index match what is left.
for kdir in "$ROOT"/usr/lib/modules/*/kernel; do
	rm -rf "$kdir/sound" "$kdir/drivers/gpu" "$kdir/drivers/media" "$kdir/drivers/net/wireless" \
		"$kdir/drivers/infiniband" "$kdir/drivers/staging" "$kdir/drivers/bluetooth" "$kdir/drivers/iio" \
		"$kdir/drivers/isdn" "$kdir/drivers/net/ethernet/mellanox" "$kdir/drivers/scsi/qla2xxx" \
		"$kdir/drivers/scsi/lpfc" "$kdir/net/wireless" "$kdir/net/mac80211" "$kdir/net/bluetooth" \
		"$kdir/fs/ocfs2" "$kdir/fs/gfs2" "$kdir/fs/xfs" "$kdir/fs/btrfs"
	kver=$(basename "$(dirname "$kdir")")
	chroot "$ROOT" depmod -a "$kver"
done

# Kernels and boot entries are the slot tool's business (one kernel per slot on the ESP): the
# systemd-boot package's kernel-install hooks would add entries of their own.
rm -f "$ROOT/etc/kernel/postinst.d/zz-systemd-boot" "$ROOT/etc/kernel/postrm.d/zz-systemd-boot" \
	"$ROOT/etc/initramfs/post-update.d/systemd-boot"

chroot "$ROOT" systemctl enable systemd-networkd.service systemd-resolved.service \
	systemd-timesyncd.service smsgate-firstboot.service smsgate-issue-cleanup.path \
	smsgate-boot-check.service smsgate.service
# Updates arrive as RAUC bundles, not through apt; the boot loader binary is updated with the slot
# tool, not behind its back; RAUC's own mark-good would bless a slot before the boot check ran.
chroot "$ROOT" systemctl mask apt-daily.timer apt-daily-upgrade.timer systemd-boot-update.service \
	e2scrub_all.timer e2scrub_reap.service
if [ -e "$ROOT/usr/lib/systemd/system/rauc-mark-good.service" ]; then
	chroot "$ROOT" systemctl mask rauc-mark-good.service
fi
ln -sf /run/systemd/resolve/stub-resolv.conf "$ROOT/etc/resolv.conf"
# The overlay copy above gives its directories the checkout's modes (/etc/smsgate 0755): put the
# package's (config/smsgate.tmpfiles.conf) back.
chmod 0750 "$ROOT/etc/smsgate"
chroot "$ROOT" chgrp smsgate /etc/smsgate
