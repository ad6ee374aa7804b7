//! Configurations of the peer daemons the harness runs on the same simulated bank, generated from the
//! knowledge in hw-sim's peer tests (`hw-sim/tests/{smstools,gammu_smsd,kannel}.rs`), in two variants:
//! `recommended` (the projects' documented defaults for timing) and `tuned` (their loop/poll intervals
//! cut to the minimum the daemons accept, receiving and status polling off).
use std::fmt::Write as _;
use std::ops::Range;
use std::path::Path;

use serde::{Deserialize, Serialize};

/// Which configuration of a peer to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Variant {
    /// Documented defaults for timing and polling.
    Recommended,
    /// Poll and sleep intervals at their minimum, receiving and status checks off.
    Tuned,
}

impl Variant {
    /// Name used in tables.
    pub fn name(self) -> &'static str {
        match self {
            Variant::Recommended => "recommended",
            Variant::Tuned => "tuned",
        }
    }
}

/// Spool subdirectories smstools needs.
pub const SMSTOOLS_DIRS: [&str; 6] = ["outgoing", "incoming", "checked", "failed", "sent", "report"];

/// Most devices one smsd takes: smstools 3 fixes the number at build time (`NUMBER_OF_MODEMS` in
/// `src/Makefile`, 64 in Debian's 3.1.21-4 build); with 65 devices smsd refuses to start ("Too many devices
/// specified. Increase NUMBER_OF_MODEMS value in src/Makefile.").
pub const SMSTOOLS_MAX_DEVICES: usize = 64;

/// How an operator runs smstools on a bank larger than one smsd takes: the fewest instances of at most
/// `max` devices each (`max` 0 counts as 1), sizes as even as possible. Each range holds the bank indices
/// of one instance's devices; a bank of 0 modems needs no instance.
pub fn smstools_instances(devices: usize, max: usize) -> Vec<Range<usize>> {
    let max = max.max(1);
    let count = devices.div_ceil(max);
    let mut out = Vec::with_capacity(count);
    let mut start = 0;
    for i in 0..count {
        // The first `devices % count` instances take one device more.
        let len = devices / count + usize::from(i < devices % count);
        out.push(start..start + len);
        start += len;
    }
    out
}

/// `smsd.conf` for one smsd driving `devices` (`devices = GSM1,…`), with its spool under `dir`.
pub fn smstools_conf(dir: &Path, devices: &[&Path], variant: Variant) -> String {
    let d = dir.display();
    let names: Vec<String> = (1..=devices.len()).map(|i| format!("GSM{i}")).collect();
    // smsd(8) defaults: delaytime 10 s (modem process idle sleep), delaytime_mainprocess = delaytime.
    let (delay, main_delay, incoming) = match variant {
        Variant::Recommended => (10, 10, "yes"),
        Variant::Tuned => (1, 1, "no"),
    };
    let mut c = format!(
        "devices = {}\nlogfile = {d}/smsd.log\nloglevel = 5\noutgoing = {d}/outgoing\nchecked = {d}/checked\n\
         incoming = {d}/incoming\nfailed = {d}/failed\nsent = {d}/sent\nreport = {d}/report\n\
         infofile = {d}/smsd.running\npidfile = {d}/smsd.pid\nincoming_utf8 = yes\ndelaytime = {delay}\n\
         delaytime_mainprocess = {main_delay}\nautosplit = 3\n",
        names.join(",")
    );
    for (name, dev) in names.iter().zip(devices) {
        let _ = write!(
            c,
            "\n[{name}]\ndevice = {}\nincoming = {incoming}\nbaudrate = 115200\ncheck_memory_method = 1\n",
            dev.display()
        );
    }
    c
}

/// One smstools outgoing spool file (smsd(8) "SMS file format").
pub fn smstools_file(to: &str, text: &str) -> String {
    format!("To: {}\nAlphabet: UTF-8\n\n{text}", to.trim_start_matches('+'))
}

/// Folders of one gammu-smsd files backend.
pub const GAMMU_DIRS: [&str; 4] = ["inbox", "outbox", "sent", "error"];

/// `smsdrc` for one gammu-smsd on one modem (files backend under `dir`).
pub fn gammu_smsdrc(dir: &Path, device: &Path, phone_id: &str, variant: Variant) -> String {
    let d = dir.display();
    // gammu-smsdrc(5) defaults: loopsleep 1, receivefrequency 15, statusfrequency 60, commtimeout 30,
    // checksignal/checkbattery on.
    let timing = match variant {
        Variant::Recommended => {
            "loopsleep = 1\nreceivefrequency = 15\nstatusfrequency = 60\ncommtimeout = 30\n"
        }
        Variant::Tuned => {
            "loopsleep = 0\nreceivefrequency = 3600\nstatusfrequency = 0\ncommtimeout = 0\ncheckbattery = 0\n\
             checksignal = 0\ncheckSecurity = 0\nresetfrequency = 0\n"
        }
    };
    format!(
        "[gammu]\ndevice = {dev}\nconnection = at\n\n[smsd]\nservice = files\nlogfile = {d}/smsd.log\ndebuglevel = 0\n\
         inboxpath = {d}/inbox/\noutboxpath = {d}/outbox/\nsentsmspath = {d}/sent/\nerrorsmspath = {d}/error/\n\
         inboxformat = unicode\ntransmitformat = auto\nsendtimeout = 30\nphoneid = {phone_id}\n{timing}",
        dev = device.display(),
    )
}

/// TCP ports a Kannel run uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KannelPorts {
    /// bearerbox admin HTTP.
    pub admin: u16,
    /// bearerbox ↔ smsbox.
    pub smsbox: u16,
    /// smsbox sendsms HTTP.
    pub sendsms: u16,
}

/// Modem group hw-sim's generic profile is detected as (from hw-sim's Kannel test).
const KANNEL_MODEMS_GENERIC: &str = "group = modems\nid = hwsim\nname = \"hw-sim\"\ndetect-string = \"hw-sim\"\n\
                                     init-string = \"AT+CNMI=1,2,0,1,0\"\nmessage-storage = \"SM\"\n";
/// sendsms user of the generated configuration.
pub const KANNEL_USER: &str = "bench";
/// Its password.
pub const KANNEL_PASSWORD: &str = "benchpw";

/// `kannel.conf`: bearerbox with one AT smsc per modem, smsbox with a sendsms user.
pub fn kannel_conf(dir: &Path, modems: &[(&Path, &str)], ports: KannelPorts, variant: Variant) -> String {
    let d = dir.display();
    let mut c = format!(
        "group = core\nadmin-port = {}\nadmin-password = adminpw\nadmin-interface = 127.0.0.1\nsmsbox-port = {}\n\
         smsbox-interface = 127.0.0.1\nbox-allow-ip = 127.0.0.1\nlog-file = \"{d}/bearerbox.log\"\nlog-level = 1\n\
         dlr-storage = internal\n",
        ports.admin, ports.smsbox
    );
    // kannel userguide: the AT driver's keepalive polls the modem; `sim-buffering` polls SIM storage.
    let extra = match variant {
        Variant::Recommended => "keepalive = 30\n",
        Variant::Tuned => "keepalive = 0\nmax-error-count = 0\n",
    };
    for (i, (dev, number)) in modems.iter().enumerate() {
        let _ = write!(
            c,
            "\ngroup = smsc\nsmsc = at\nsmsc-id = sim{i}\nmodemtype = hwsim\ndevice = {}\nmy-number = \"{number}\"\n\
             sms-center = \"+48601000310\"\nspeed = 115200\n{extra}",
            dev.display()
        );
    }
    let _ = write!(
        c,
        "\n{KANNEL_MODEMS_GENERIC}\ngroup = smsbox\nbearerbox-host = 127.0.0.1\nbearerbox-port = {}\nsendsms-port = {}\n\
         global-sender = \"{sender}\"\nsendsms-interface = 127.0.0.1\nlog-file = \"{d}/smsbox.log\"\nlog-level = 1\nmax-pending-requests = 4096\n\n\
         group = sendsms-user\nusername = {KANNEL_USER}\npassword = {KANNEL_PASSWORD}\nmax-messages = 10\nconcatenation = true\n",
        ports.smsbox,
        ports.sendsms,
        sender = modems.first().map_or("", |m| m.1),
    );
    c
}
