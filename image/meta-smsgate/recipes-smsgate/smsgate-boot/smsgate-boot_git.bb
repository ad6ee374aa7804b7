SUMMARY = "A/B slot switching of the smsgate appliance: systemd-boot boot counting for RAUC"
DESCRIPTION = "The RAUC custom bootloader backend over systemd-boot loader entries with boot \
counting, the post-install handler that puts the new slot's kernel on the ESP, and the boot check \
that decides when a boot counts as good."
SECTION = "base"

require recipes-smsgate/smsgate/smsgate-source.inc

inherit allarch systemd

SYSTEMD_SERVICE:${PN} = "smsgate-boot-check.service"
SYSTEMD_AUTO_ENABLE:${PN} = "enable"

do_configure[noexec] = "1"
do_compile[noexec] = "1"

do_install() {
    install -d ${D}${nonarch_libdir}/smsgate
    install -m 0755 ${S}/image/slot/smsgate-boot ${D}${nonarch_libdir}/smsgate/smsgate-boot
    install -m 0755 ${S}/image/slot/smsgate-boot-post-install ${D}${nonarch_libdir}/smsgate/
    install -d ${D}${systemd_system_unitdir}
    install -m 0644 ${S}/image/slot/smsgate-boot-check.service ${D}${systemd_system_unitdir}/
}

FILES:${PN} += "${nonarch_libdir}/smsgate ${systemd_system_unitdir}/smsgate-boot-check.service"
RDEPENDS:${PN} = "e2fsprogs util-linux-mount"
