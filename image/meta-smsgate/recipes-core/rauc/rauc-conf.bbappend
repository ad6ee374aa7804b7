# RAUC's system description and keyring for the smsgate appliance (distro smsgate only).
FILESEXTRAPATHS:prepend:smsgate := "${THISDIR}/files:"

SRC_URI:append:smsgate = " file://system.conf"
RAUC_KEYRING_FILE:smsgate = "${SMSGATE_RAUC_CERT}"
