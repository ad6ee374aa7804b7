SUMMARY = "smsgate: secure multi-tenant SMS gateway for banks of GSM modems"
DESCRIPTION = "Turns banks of USB/serial GSM/LTE modems into an SMS gateway with a REST/JSON and SOAP \
API over TLS, a Kannel-compatible sendsms URL and a web panel. Runs as a hardened systemd service \
under its own user; udev rules give the modems stable names and keep ModemManager away."
SECTION = "net"

require smsgate-source.inc
# Every crates.io dependency, pinned by Cargo.lock (scripts/gen-crates.py writes this file).
require smsgate-crates.inc

inherit cargo pkgconfig

inherit systemd useradd

# The root package of the workspace: `cargo build` there builds the smsgate binary only.
CARGO_SRC_DIR = ""

# aws-lc-sys (rustls' crypto provider) builds its C code with CMake; rusqlite's bundled SQLite with cc.
DEPENDS += "cmake-native"
# The modem hotplug monitor (tokio-udev -> libudev-sys) links libudev, found through pkg-config.
DEPENDS += "udev"

SYSTEMD_SERVICE:${PN} = "smsgate.service"
SYSTEMD_AUTO_ENABLE:${PN} = "enable"

# Same user as config/smsgate.sysusers.conf (which is installed as well, for systemd-sysusers).
USERADD_PACKAGES = "${PN}"
USERADD_PARAM:${PN} = "--system --user-group --home-dir ${localstatedir}/lib/smsgate --no-create-home \
    --shell ${base_sbindir}/nologin --groups dialout smsgate"

do_install:append() {
    install -d ${D}${systemd_system_unitdir}
    install -m 0644 ${S}/config/smsgate.service ${D}${systemd_system_unitdir}/smsgate.service
    install -d ${D}${nonarch_libdir}/sysusers.d ${D}${nonarch_libdir}/tmpfiles.d
    install -m 0644 ${S}/config/smsgate.sysusers.conf ${D}${nonarch_libdir}/sysusers.d/smsgate.conf
    install -m 0644 ${S}/config/smsgate.tmpfiles.conf ${D}${nonarch_libdir}/tmpfiles.d/smsgate.conf
    install -d ${D}${nonarch_base_libdir}/udev/rules.d
    install -m 0644 ${S}/udev/80-smsgate-modems.rules ${D}${nonarch_base_libdir}/udev/rules.d/
    install -d -m 0750 ${D}${sysconfdir}/smsgate
    install -m 0640 -g smsgate ${S}/config/appliance.toml ${D}${sysconfdir}/smsgate/smsgate.toml
}

FILES:${PN} += "${systemd_system_unitdir}/smsgate.service \
    ${nonarch_libdir}/sysusers.d/smsgate.conf \
    ${nonarch_libdir}/tmpfiles.d/smsgate.conf \
    ${nonarch_base_libdir}/udev/rules.d/80-smsgate-modems.rules"
CONFFILES:${PN} = "${sysconfdir}/smsgate/smsgate.toml"

RDEPENDS:${PN} = "udev"
# The kernel drivers that carry modem AT ports; an image without them sees no modem.
RRECOMMENDS:${PN} = "kernel-module-usbserial kernel-module-option kernel-module-cdc-acm \
    kernel-module-qcserial kernel-module-ftdi-sio kernel-module-pl2303 kernel-module-cp210x \
    kernel-module-ch341"
