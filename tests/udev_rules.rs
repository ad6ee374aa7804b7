//! Table-driven check of the modem udev rules: a small evaluator of the rule subset the file uses runs
//! each device of the table through `udev/80-smsgate-modems.rules` and compares the outcome (modem port?
//! AT port? ModemManager ignored?) with what the vendor documentation says.
#![allow(clippy::expect_used)] // test-only parser: a malformed rules file should fail loudly

use std::collections::HashMap;

const RULES: &str = include_str!("../udev/80-smsgate-modems.rules");

/// One key/operator/value triple of a rule line.
#[derive(Debug)]
struct Term {
    key: String,
    op: String,
    value: String,
}

fn parse_line(line: &str) -> Vec<Term> {
    let mut terms = Vec::new();
    let mut rest = line.trim();
    while !rest.is_empty() {
        let op_at = rest.find(['=', '!', '+']).expect("operator");
        let key = rest[..op_at].trim().to_string();
        let after = &rest[op_at..];
        let op_len = if after.starts_with("==") || after.starts_with("!=") || after.starts_with("+=") {
            2
        } else {
            1
        };
        let op = after[..op_len].to_string();
        let quoted = &after[op_len..];
        assert!(quoted.starts_with('"'), "value must be quoted in: {line}");
        let end = quoted[1..].find('"').expect("closing quote") + 1;
        terms.push(Term {
            key,
            op,
            value: quoted[1..end].to_string(),
        });
        rest = quoted[end + 1..].trim_start_matches([',', ' ']);
    }
    terms
}

/// udev glob subset used by the rules: `|` alternatives, `?*` (non-empty), `[0-9]*` suffixes.
fn glob(pattern: &str, value: &str) -> bool {
    pattern.split('|').any(|alt| match alt {
        "?*" => !value.is_empty(),
        _ if alt.ends_with("[0-9]*") => {
            let prefix = &alt[..alt.len() - "[0-9]*".len()];
            value
                .strip_prefix(prefix)
                .is_some_and(|d| d.starts_with(|c: char| c.is_ascii_digit()))
        }
        _ => alt == value,
    })
}

struct Device {
    kernel: &'static str,
    attrs: HashMap<&'static str, &'static str>,
}

fn substitute(value: &str, dev: &Device, env: &HashMap<String, String>) -> String {
    let mut out = value.to_string();
    for (name, v) in &dev.attrs {
        out = out.replace(&format!("$attr{{{name}}}"), v);
    }
    for (name, v) in env {
        out = out.replace(&format!("$env{{{name}}}"), v);
    }
    out
}

/// Runs the rules over a device; returns the resulting environment (and symlinks under `SYMLINK`).
fn evaluate(dev: &Device) -> HashMap<String, String> {
    let mut env: HashMap<String, String> = HashMap::new();
    env.insert("ID_PATH".into(), "pci-0000:00:14.0-usb-0:1.4:1.0".into());
    for raw in RULES.lines() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with("LABEL=") {
            continue;
        }
        let terms = parse_line(line);
        let matches = terms.iter().filter(|t| t.op == "==" || t.op == "!=").all(|t| {
            let actual = match t.key.as_str() {
                "ACTION" => "add".to_string(),
                "SUBSYSTEM" => "tty".to_string(),
                "SUBSYSTEMS" => "usb".to_string(),
                "KERNEL" => dev.kernel.to_string(),
                k if k.starts_with("ATTRS{") => dev
                    .attrs
                    .get(&k[6..k.len() - 1])
                    .copied()
                    .unwrap_or_default()
                    .to_string(),
                k if k.starts_with("ENV{") => env.get(&k[4..k.len() - 1]).cloned().unwrap_or_default(),
                other => panic!("key {other} not understood by the evaluator"),
            };
            glob(&t.value, &actual) == (t.op == "==")
        });
        if !matches {
            continue;
        }
        for t in terms.iter().filter(|t| t.op == "=" || t.op == "+=") {
            let value = substitute(&t.value, dev, &env);
            match t.key.as_str() {
                "GOTO" => return env,
                k if k.starts_with("ENV{") => {
                    env.insert(k[4..k.len() - 1].to_string(), value);
                }
                "SYMLINK" => {
                    let links = env.entry("SYMLINK".into()).or_default();
                    links.push_str(&value);
                    links.push(' ');
                }
                k => {
                    env.insert(k.to_string(), value);
                }
            }
        }
    }
    env
}

/// (kernel, vendor, product, interface, interface protocol) → (modem port, AT port)
#[rustfmt::skip]
const TABLE: &[(&str, &str, &str, &str, &str, bool, bool)] = &[
    // Quectel EC25: 00 DIAG, 01 NMEA, 02 AT, 03 AT/PPP
    ("ttyUSB0", "2c7c", "0125", "00", "ff", true, false),
    ("ttyUSB1", "2c7c", "0125", "01", "ff", true, false),
    ("ttyUSB2", "2c7c", "0125", "02", "ff", true, true),
    ("ttyUSB3", "2c7c", "0125", "03", "ff", true, false),
    ("ttyUSB2", "2c7c", "0195", "02", "ff", true, true),  // EG95
    ("ttyUSB2", "2c7c", "0296", "02", "ff", true, true),  // BG96
    // SIMCom SIM7600
    ("ttyUSB0", "1e0e", "9001", "00", "ff", true, false),
    ("ttyUSB2", "1e0e", "9001", "02", "ff", true, true),
    ("ttyUSB4", "1e0e", "9001", "04", "ff", true, false),
    // Huawei E3372 stick mode: PC UI has protocol 02; E173 newer firmware 12
    ("ttyUSB0", "12d1", "1506", "00", "01", true, false),
    ("ttyUSB2", "12d1", "1506", "02", "02", true, true),
    ("ttyUSB1", "12d1", "1436", "04", "12", true, true),
    // Sierra MC7455 qcserial: 00 DM, 02 NMEA, 03 AT
    ("ttyUSB0", "1199", "9071", "00", "ff", true, false),
    ("ttyUSB2", "1199", "9071", "03", "ff", true, true),
    // Telit HE910
    ("ttyACM0", "1bc7", "0021", "00", "01", true, true),
    ("ttyACM3", "1bc7", "0021", "06", "01", true, false),
    // u-blox TOBY-L4 AT on 06, LARA-R2 on 00
    ("ttyACM2", "1546", "1010", "06", "01", true, true),
    ("ttyACM0", "1546", "1010", "02", "01", true, false),
    ("ttyACM0", "1546", "110a", "00", "01", true, true),
    // ZTE MF190
    ("ttyUSB2", "19d2", "0031", "02", "ff", true, true),
    // SIM800 on a CH340 / FTDI bridge
    ("ttyUSB0", "1a86", "7523", "00", "00", true, true),
    ("ttyUSB0", "0403", "6001", "00", "ff", true, true),
    // Not a modem: an Arduino (2341) and a random ACM device are left alone
    ("ttyACM0", "2341", "0043", "00", "01", false, false),
    ("ttyUSB0", "0bda", "8153", "00", "ff", false, false),
];

#[test]
fn interface_table_matches_vendor_layouts() {
    for &(kernel, vid, pid, ifnum, proto, modem, at) in TABLE {
        let dev = Device {
            kernel,
            attrs: HashMap::from([
                ("idVendor", vid),
                ("idProduct", pid),
                ("bInterfaceNumber", ifnum),
                ("bInterfaceProtocol", proto),
            ]),
        };
        let env = evaluate(&dev);
        let case = format!("{vid}:{pid} if{ifnum} ({kernel})");
        let ignored = env.get("ID_MM_DEVICE_IGNORE").map(String::as_str) == Some("1");
        assert_eq!(ignored, modem, "{case}: ModemManager ignore flag");
        assert_eq!(
            env.contains_key("GROUP"),
            modem,
            "{case}: group for the service user"
        );
        let is_at = env.get("SMSGATE_AT_PORT").map(String::as_str) == Some("1");
        assert_eq!(is_at, at, "{case}: AT port");
        let links = env.get("SYMLINK").cloned().unwrap_or_default();
        assert_eq!(
            links.contains("gsm/at/by-port/"),
            at,
            "{case}: AT port link in {links}"
        );
        if modem {
            assert!(
                links.contains(&format!("gsm/by-port/pci-0000:00:14.0-usb-0:1.4:1.0-if{ifnum}")),
                "{case}: {links}"
            );
        }
    }
}

#[test]
fn removal_and_other_subsystems_are_untouched() {
    let dev = Device {
        kernel: "ttyS0",
        attrs: HashMap::new(),
    };
    let env = evaluate(&dev);
    assert!(!env.contains_key("ID_MM_DEVICE_IGNORE"));
    assert!(!env.contains_key("SYMLINK"));
}
