//! Per-modem settings: the `[[modem]]` section of the config file. Every field has a default, so a modem
//! needs only its `port`.
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Deserializer};

use super::overrides::OverrideTable;
use crate::at::command::TimeoutClass;

/// Default line speed: 115200 8N1, what USB modems ignore and real UARTs of GSM modules default to.
pub const DEFAULT_BAUD: u32 = 115_200;

/// Where the modem routes new messages and status reports (`AT+CNMI`, 27.005 §3.4.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum CnmiMode {
    /// Store on the SIM and announce with `+CMTI`/`+CDSI` (`AT+CNMI=2,1,0,2,0`): nothing is lost while the
    /// gateway is down, the periodic sweep finds leftovers.
    #[default]
    Store,
    /// Route to the gateway as `+CMT`/`+CDS` (`AT+CNMI=2,2,0,1,0`), acknowledged with `+CNMA` after
    /// storing; the network redelivers what is not acknowledged.
    Direct,
}

impl CnmiMode {
    /// `AT+CNMI` parameter sets to try in order: the wanted one, then forms older firmwares accept.
    pub fn settings(self) -> &'static [&'static str] {
        match self {
            CnmiMode::Store => &["2,1,0,2,0", "2,1,0,2", "1,1,0,2,0", "2,1,0,0,0", "2,1"],
            CnmiMode::Direct => &["2,2,0,1,0", "2,2,0,1", "1,2,0,1,0", "2,2,0,0,0", "2,2"],
        }
    }
}

/// Command timeouts by class (see [`TimeoutClass`]).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Timeouts {
    /// Commands the modem answers itself.
    #[serde(deserialize_with = "duration")]
    pub local: Duration,
    /// Commands that need the SIM.
    #[serde(deserialize_with = "duration")]
    pub sim: Duration,
    /// Commands that need the network (operator, USSD reply).
    #[serde(deserialize_with = "duration")]
    pub network: Duration,
    /// From writing the PDU to `+CMGS: <mr>`: the network's answer, up to minutes in bad coverage.
    #[serde(deserialize_with = "duration")]
    pub send: Duration,
    /// From `AT+CMGS=<n>` to the `> ` prompt.
    #[serde(deserialize_with = "duration")]
    pub prompt: Duration,
    /// After `AT+CFUN=1,1` or a reopen: how long the modem may take to boot and answer `AT`.
    #[serde(deserialize_with = "duration")]
    pub boot: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            local: Duration::from_secs(5),
            sim: Duration::from_secs(20),
            network: Duration::from_secs(60),
            send: Duration::from_secs(120),
            prompt: Duration::from_secs(20),
            boot: Duration::from_secs(30),
        }
    }
}

impl Timeouts {
    /// The timeout of a command class.
    pub fn of(&self, class: TimeoutClass) -> Duration {
        match class {
            TimeoutClass::Local => self.local,
            TimeoutClass::Sim => self.sim,
            TimeoutClass::Network => self.network,
            TimeoutClass::Send => self.send,
        }
    }

    /// All timeouts scaled down, for tests against instant simulated modems.
    pub fn fast() -> Timeouts {
        Timeouts {
            local: Duration::from_millis(500),
            sim: Duration::from_millis(800),
            network: Duration::from_secs(2),
            send: Duration::from_secs(2),
            prompt: Duration::from_millis(800),
            boot: Duration::from_secs(3),
        }
    }
}

/// One modem: the `[[modem]]` section of the config file.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ModemConfig {
    /// Name shown until the IMEI is known (defaults to the port path).
    pub name: String,
    /// Serial device, preferably a stable udev name (`/dev/gsm/<imei>`).
    pub port: PathBuf,
    /// Line speed.
    pub baud: u32,
    /// SIM PIN, entered at most once per start and never when the SIM reports one try left.
    pub pin: Option<String>,
    /// SMSC number to set with `AT+CSCA` (the SIM's own is used when absent).
    pub smsc: Option<String>,
    /// Where new messages go.
    pub cnmi: CnmiMode,
    /// Message memory to read, write and receive into (`AT+CPMS`): `SM` (SIM), `ME`, `MT`.
    pub storage: String,
    /// `+CME ERROR` format: 1 numeric, 2 verbose.
    pub cmee: u8,
    /// Command timeouts.
    pub timeouts: Timeouts,
    /// How often signal, registration and operator are polled.
    #[serde(deserialize_with = "duration")]
    pub health_interval: Duration,
    /// How often `AT+CMGL=4` sweeps the storage for messages a URC did not announce.
    #[serde(deserialize_with = "duration")]
    pub sweep_interval: Duration,
    /// How often registration is polled while the modem waits for the network.
    #[serde(deserialize_with = "duration")]
    pub registration_poll: Duration,
    /// First pause before retrying a failed or absent modem; doubles up to `backoff_max`.
    #[serde(deserialize_with = "duration")]
    pub backoff_initial: Duration,
    /// Longest pause between retries.
    #[serde(deserialize_with = "duration")]
    pub backoff_max: Duration,
    /// Whether to try `AT+CFUN=1,1` when the modem stops answering (after ESC and a port reopen failed).
    pub reset_on_hang: bool,
    /// SIM settings set at run time by IMEI (PIN, SMSC); they win over `pin` and `smsc`. Not part of
    /// the file: the gateway shares one table with every actor.
    #[serde(skip)]
    pub overrides: OverrideTable,
}

impl Default for ModemConfig {
    fn default() -> Self {
        ModemConfig {
            name: String::new(),
            port: PathBuf::new(),
            baud: DEFAULT_BAUD,
            pin: None,
            smsc: None,
            cnmi: CnmiMode::default(),
            storage: "SM".into(),
            cmee: 1,
            timeouts: Timeouts::default(),
            health_interval: Duration::from_secs(30),
            sweep_interval: Duration::from_secs(300),
            registration_poll: Duration::from_secs(3),
            backoff_initial: Duration::from_secs(1),
            backoff_max: Duration::from_secs(60),
            reset_on_hang: true,
            overrides: OverrideTable::default(),
        }
    }
}

impl ModemConfig {
    /// A config for `port` with defaults everywhere else.
    pub fn for_port(port: impl Into<PathBuf>) -> ModemConfig {
        ModemConfig {
            port: port.into(),
            ..ModemConfig::default()
        }
    }

    /// The name to show before the IMEI is known.
    pub fn display_name(&self) -> String {
        if self.name.is_empty() {
            self.port.display().to_string()
        } else {
            self.name.clone()
        }
    }
}

/// The PIN is a secret: never printed.
impl fmt::Debug for ModemConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ModemConfig")
            .field("name", &self.name)
            .field("port", &self.port)
            .field("baud", &self.baud)
            .field("pin", &self.pin.as_ref().map(|_| "<redacted>"))
            .field("smsc", &self.smsc)
            .field("cnmi", &self.cnmi)
            .field("storage", &self.storage)
            .field("cmee", &self.cmee)
            .field("timeouts", &self.timeouts)
            .field("health_interval", &self.health_interval)
            .field("sweep_interval", &self.sweep_interval)
            .field("registration_poll", &self.registration_poll)
            .field("backoff_initial", &self.backoff_initial)
            .field("backoff_max", &self.backoff_max)
            .field("reset_on_hang", &self.reset_on_hang)
            .finish()
    }
}

/// Parses a duration written as seconds (`30`) or with a unit (`500ms`, `90s`, `2m`, `1h`).
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let t = text.trim();
    let split = t
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(t.len());
    let (number, unit) = t.split_at(split);
    let value: f64 = number
        .parse()
        .map_err(|_| format!("bad duration {text:?}: expected e.g. 30s, 500ms, 2m"))?;
    let scale = match unit.trim() {
        "" | "s" => 1.0,
        "ms" => 0.001,
        "m" | "min" => 60.0,
        "h" => 3600.0,
        other => {
            return Err(format!(
                "bad duration unit {other:?} in {text:?}: use ms, s, m or h"
            ));
        }
    };
    Duration::try_from_secs_f64(value * scale).map_err(|e| format!("bad duration {text:?}: {e}"))
}

fn duration<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        Seconds(u64),
        Text(String),
    }
    match Raw::deserialize(d)? {
        Raw::Seconds(s) => Ok(Duration::from_secs(s)),
        Raw::Text(t) => parse_duration(&t).map_err(serde::de::Error::custom),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        for (text, want) in [
            ("30", Some(Duration::from_secs(30))),
            ("500ms", Some(Duration::from_millis(500))),
            ("90s", Some(Duration::from_secs(90))),
            ("2m", Some(Duration::from_secs(120))),
            ("1.5s", Some(Duration::from_millis(1500))),
            ("fast", None),
            ("5 parsecs", None),
        ] {
            assert_eq!(parse_duration(text).ok(), want, "{text}");
        }
    }

    #[test]
    fn toml_section_with_defaults() {
        #[derive(Deserialize)]
        struct File {
            modem: Vec<ModemConfig>,
        }
        let f: File = toml::from_str(
            r#"
            [[modem]]
            port = "/dev/gsm/a"
            pin = "1234"
            cnmi = "direct"
            health_interval = "10s"
            timeouts = { send = "90s" }

            [[modem]]
            port = "/dev/gsm/b"
            "#,
        )
        .unwrap();
        assert_eq!(f.modem[0].cnmi, CnmiMode::Direct);
        assert_eq!(f.modem[0].timeouts.send, Duration::from_secs(90));
        assert_eq!(f.modem[0].timeouts.local, Timeouts::default().local);
        assert_eq!(f.modem[0].health_interval, Duration::from_secs(10));
        assert_eq!(f.modem[1].baud, DEFAULT_BAUD);
        assert!(!format!("{:?}", f.modem[0]).contains("1234"));
        assert!(toml::from_str::<File>("[[modem]]\nport = \"x\"\nbogus = 1\n").is_err());
    }
}
