SUMMARY = "smsgate appliance integration: A/B slot switching, boot assessment, first boot"
DESCRIPTION = "The RAUC custom bootloader backend over systemd-boot loader entries with boot \
counting, the post-install handler that puts the new slot's kernel on the ESP, the boot check that \
decides when a boot counts as good, and the first-boot setup (root and panel admin passwords, \
console notice). Shared with the Debian image (image/slot, image/debian/rootfs)."
SECTION = "base"

require recipes-smsgate/smsgate/smsgate-source.inc

inherit allarch systemd

SYSTEMD_SERVICE:${PN} = "smsgate-boot-check.service smsgate-firstboot.service smsgate-issue-cleanup.path"
SYSTEMD_AUTO_ENABLE:${PN} = "enable"

do_configure[noexec] = "1"
do_compile[noexec] = "1"

APPLIANCE = "${S}/image/debian/rootfs"

do_install() {
    install -d ${D}${nonarch_libdir}/smsgate ${D}${systemd_system_unitdir}
    install -m 0755 ${S}/image/slot/smsgate-boot ${D}${nonarch_libdir}/smsgate/smsgate-boot
    install -m 0755 ${S}/image/slot/smsgate-boot-post-install ${D}${nonarch_libdir}/smsgate/
    install -m 0644 ${S}/image/slot/smsgate-boot-check.service ${D}${systemd_system_unitdir}/
    install -m 0755 ${APPLIANCE}/usr/lib/smsgate/smsgate-firstboot ${D}${nonarch_libdir}/smsgate/
    install -m 0755 ${APPLIANCE}/usr/lib/smsgate/smsgate-issue-cleanup ${D}${nonarch_libdir}/smsgate/
    install -m 0644 ${APPLIANCE}/usr/lib/systemd/system/smsgate-firstboot.service ${D}${systemd_system_unitdir}/
    install -m 0644 ${APPLIANCE}/usr/lib/systemd/system/smsgate-issue-cleanup.service ${D}${systemd_system_unitdir}/
    install -m 0644 ${APPLIANCE}/usr/lib/systemd/system/smsgate-issue-cleanup.path ${D}${systemd_system_unitdir}/
    install -d ${D}${sysconfdir}/systemd/system/smsgate.service.d ${D}${sysconfdir}/smsgate
    install -m 0644 ${APPLIANCE}/etc/systemd/system/smsgate.service.d/10-data-partition.conf \
        ${D}${sysconfdir}/systemd/system/smsgate.service.d/
    install -m 0644 ${APPLIANCE}/etc/systemd/system/smsgate.service.d/20-first-admin.conf \
        ${D}${sysconfdir}/systemd/system/smsgate.service.d/
    install -m 0644 ${APPLIANCE}/etc/smsgate/boot.conf ${D}${sysconfdir}/smsgate/boot.conf
}

FILES:${PN} += "${nonarch_libdir}/smsgate ${systemd_system_unitdir}"
CONFFILES:${PN} = "${sysconfdir}/smsgate/boot.conf"
RDEPENDS:${PN} = "e2fsprogs-e2fsck e2fsprogs-resize2fs shadow smsgate util-linux-agetty util-linux-mount"
