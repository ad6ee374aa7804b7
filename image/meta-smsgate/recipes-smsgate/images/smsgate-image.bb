SUMMARY = "smsgate appliance image"
DESCRIPTION = "systemd, the smsgate service with its udev rules and default configuration, the USB \
serial drivers modems need, and RAUC for A/B updates with systemd-boot boot counting."
HOMEPAGE = "https://example.invalid/smsgate"
BUGTRACKER = "https://example.invalid/smsgate/issues"
CVE_PRODUCT = "smsgate"
SECTION = "base"
LICENSE = "MIT"

inherit core-image

IMAGE_INSTALL = "packagegroup-core-boot \
    smsgate \
    smsgate-boot \
    rauc \
    e2fsprogs-mke2fs \
    ${CORE_IMAGE_EXTRA_INSTALL}"

# An appliance: no package manager on the target, updates come as signed RAUC bundles.
IMAGE_FEATURES:remove = "package-management"
IMAGE_LINGUAS = ""

# GPT: ESP (systemd-boot, one kernel per slot), rootfs_a, rootfs_b, data. The same partition labels as
# the Debian image (image/debian/build.sh), so RAUC's system.conf and the slot tool are shared.
IMAGE_FSTYPES = "ext4 wic.zst"
WKS_FILE = "smsgate-ab.wks"
EFI_PROVIDER = "systemd-boot"
# The bundle recipe takes the ext4 image as the rootfs slot payload.
IMAGE_ROOTFS_SIZE = "786432"
IMAGE_OVERHEAD_FACTOR = "1.0"
