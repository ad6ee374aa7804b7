SUMMARY = "RAUC update bundle of the smsgate appliance"
DESCRIPTION = "Writes smsgate-image's root filesystem to the inactive slot; the slot becomes primary \
with three boot tries, and a boot that never reaches boot-complete.target falls back."
HOMEPAGE = "https://example.invalid/smsgate"
BUGTRACKER = "https://example.invalid/smsgate/issues"
CVE_PRODUCT = "smsgate"
SECTION = "base"
LICENSE = "MIT"
# The bundle class takes its payload from the image recipe named below, not from a source.
# nooelint: oelint.var.mandatoryvar.SRC_URI
SRC_URI = ""

inherit bundle

RAUC_BUNDLE_COMPATIBLE = "smsgate-x86_64"
RAUC_BUNDLE_VERSION = "${DISTRO_VERSION}-${DATETIME}"
RAUC_BUNDLE_VERSION[vardepsexclude] = "DATETIME"
RAUC_BUNDLE_DESCRIPTION = "smsgate appliance update"
RAUC_BUNDLE_FORMAT = "verity"

RAUC_BUNDLE_SLOTS = "rootfs"
RAUC_SLOT_rootfs = "smsgate-image"
RAUC_SLOT_rootfs[fstype] = "ext4"

# Development signing key; a product build points these at its own PKI (see image/README.md).
RAUC_KEY_FILE ?= "${SMSGATE_RAUC_KEY}"
RAUC_CERT_FILE ?= "${SMSGATE_RAUC_CERT}"
