//! Faults a simulated modem can be told to show, and network delay profiles. Faults are set from the
//! command line (`--fault 2:cms-every=3:38`) or at run time over the control API, and are seen the way a
//! real modem shows them (error codes, silence, noise, a vanished device).
use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// How long the network takes to accept a submitted SMS (time between Ctrl-Z and `+CMGS: <mr>`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum DelayProfile {
    /// Answer at once.
    #[default]
    Instant,
    /// Always the same delay.
    Fixed {
        /// Delay in milliseconds.
        ms: u64,
    },
    /// `ms` ± `jitter_ms`, uniformly distributed.
    Jitter {
        /// Mean delay in milliseconds.
        ms: u64,
        /// Maximum deviation in milliseconds.
        jitter_ms: u64,
    },
}

impl DelayProfile {
    /// A typical live network: 2 s ± 500 ms.
    pub const REALISTIC: DelayProfile = DelayProfile::Jitter {
        ms: 2000,
        jitter_ms: 500,
    };

    /// Picks one delay, using `unit` (a uniform sample in [0, 1)) for the jitter.
    pub fn sample(self, unit: f64) -> Duration {
        match self {
            DelayProfile::Instant => Duration::ZERO,
            DelayProfile::Fixed { ms } => Duration::from_millis(ms),
            DelayProfile::Jitter { ms, jitter_ms } => {
                let offset = (unit * 2.0 - 1.0) * jitter_ms as f64;
                let total = (ms as f64 + offset).max(0.0);
                Duration::from_millis(total as u64)
            }
        }
    }
}

/// A malformed delay or fault specification.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {what} {text:?}: {why}")]
pub struct SpecError {
    /// What was being parsed ("delay", "fault").
    pub what: &'static str,
    /// The text given.
    pub text: String,
    /// What is wrong with it.
    pub why: String,
}

fn spec_err(what: &'static str, text: &str, why: impl Into<String>) -> SpecError {
    SpecError {
        what,
        text: text.to_string(),
        why: why.into(),
    }
}

/// Parses a millisecond value with an optional `ms` or `s` suffix.
fn parse_ms(text: &str) -> Option<u64> {
    let t = text.trim();
    if let Some(v) = t.strip_suffix("ms") {
        v.trim().parse().ok()
    } else if let Some(v) = t.strip_suffix('s') {
        v.trim().parse::<f64>().ok().map(|s| (s * 1000.0) as u64)
    } else {
        t.parse().ok()
    }
}

impl FromStr for DelayProfile {
    type Err = SpecError;
    /// `instant`, `realistic` (2 s ± 500 ms), `1500` / `1500ms` / `2s` (fixed), `2000+-500` or `2s~500ms`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let t = s.trim();
        if t.eq_ignore_ascii_case("instant") || t == "0" {
            return Ok(DelayProfile::Instant);
        }
        if t.eq_ignore_ascii_case("realistic") {
            return Ok(DelayProfile::REALISTIC);
        }
        let split = t
            .split_once("+-")
            .or_else(|| t.split_once('~'))
            .or_else(|| t.split_once('±'));
        if let Some((mean, jitter)) = split {
            let ms = parse_ms(mean).ok_or_else(|| spec_err("delay", s, "bad mean"))?;
            let jitter_ms = parse_ms(jitter).ok_or_else(|| spec_err("delay", s, "bad jitter"))?;
            return Ok(DelayProfile::Jitter { ms, jitter_ms });
        }
        parse_ms(t)
            .map(|ms| DelayProfile::Fixed { ms })
            .ok_or_else(|| spec_err("delay", s, "expected instant, realistic, <ms>, or <ms>+-<ms>"))
    }
}

impl fmt::Display for DelayProfile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DelayProfile::Instant => f.write_str("instant"),
            DelayProfile::Fixed { ms } => write!(f, "{ms}ms"),
            DelayProfile::Jitter { ms, jitter_ms } => write!(f, "{ms}ms+-{jitter_ms}ms"),
        }
    }
}

/// 27.005 §3.2.5 `+CMS ERROR` codes the simulator uses.
pub mod cms {
    /// TS 24.011 cause 1: unassigned (unallocated) number (permanent).
    pub const UNASSIGNED_NUMBER: u16 = 1;
    /// TS 24.011 cause 21: short message transfer rejected (permanent).
    pub const TRANSFER_REJECTED: u16 = 21;
    /// TS 24.011 cause 38: network out of order (temporary).
    pub const NETWORK_OUT_OF_ORDER: u16 = 38;
    /// 27.005: ME failure.
    pub const ME_FAILURE: u16 = 300;
    /// 27.005: operation not allowed.
    pub const OPERATION_NOT_ALLOWED: u16 = 302;
    /// 27.005: operation not supported.
    pub const OPERATION_NOT_SUPPORTED: u16 = 303;
    /// 27.005: invalid PDU mode parameter.
    pub const INVALID_PDU_PARAMETER: u16 = 304;
    /// 27.005: invalid text mode parameter.
    pub const INVALID_TEXT_PARAMETER: u16 = 305;
    /// 27.005: SIM not inserted.
    pub const SIM_NOT_INSERTED: u16 = 310;
    /// 27.005: SIM PIN required.
    pub const SIM_PIN_REQUIRED: u16 = 311;
    /// 27.005: memory failure.
    pub const MEMORY_FAILURE: u16 = 320;
    /// 27.005: invalid memory index.
    pub const INVALID_MEMORY_INDEX: u16 = 321;
    /// 27.005: memory full.
    pub const MEMORY_FULL: u16 = 322;
    /// 27.005: SMSC address unknown.
    pub const SMSC_UNKNOWN: u16 = 330;
    /// 27.005: no network service.
    pub const NO_NETWORK_SERVICE: u16 = 331;
    /// 27.005: network timeout.
    pub const NETWORK_TIMEOUT: u16 = 332;
    /// 27.005: unknown error.
    pub const UNKNOWN: u16 = 500;
}

/// One fault to switch on for a modem (or an action such as reboot/unplug).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Fault {
    /// Network delay for `+CMGS` answers.
    Delay {
        /// The delay profile.
        delay: DelayProfile,
    },
    /// Every k-th send fails with `+CMS ERROR: <code>`.
    CmsEvery {
        /// Period (1 = every send).
        k: u32,
        /// The `+CMS ERROR` code.
        code: u16,
    },
    /// Each send fails with probability `p` with `+CMS ERROR: <code>`.
    CmsProbability {
        /// Probability in [0, 1].
        p: f64,
        /// The `+CMS ERROR` code.
        code: u16,
    },
    /// The modem stops answering anything (it still reads).
    Hung,
    /// Random garbage bytes are mixed into the output with probability `p` per response and a burst is
    /// sent at once.
    Garbage {
        /// Probability per output chunk in [0, 1].
        p: f64,
    },
    /// Unsolicited reboot: state dropped, boot URCs sent again (a one-shot action).
    Reboot,
    /// The device disappears: the PTY is closed (the reader sees EIO/HUP) and the link is removed.
    Unplug,
    /// The device comes back on a new PTY with the same link name and identity.
    Replug,
    /// The SIM is taken out: `+CPIN?` answers `+CME ERROR: 10`.
    SimRemoved,
    /// Registration lost: `+CREG: <n>,<stat>` with stat 0 (not searching) or 2 (searching); sends fail
    /// with `+CMS ERROR: 331`.
    NoRegistration {
        /// The registration status to report (0 or 2).
        stat: u8,
    },
    /// SIM storage full: incoming SMS are not stored, `+CMGW` answers `+CMS ERROR: 322`, the family's
    /// "memory full" URC is sent.
    StorageFull,
    /// Output trickles at this baud rate (10 bits per byte).
    SlowBaud {
        /// Bits per second.
        baud: u32,
    },
}

impl FromStr for Fault {
    type Err = SpecError;
    /// `delay=2000+-500`, `cms-every=3[:38]`, `cms-prob=0.2[:38]`, `hung`, `garbage[=0.3]`, `reboot`,
    /// `unplug`, `replug`, `sim-removed`, `no-registration[=2]`, `storage-full`, `slow-baud=1200`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (name, value) = match s.split_once('=') {
            Some((n, v)) => (n.trim(), Some(v.trim())),
            None => (s.trim(), None),
        };
        let bad = |why: &str| spec_err("fault", s, why);
        let code_of = |rest: Option<&str>| -> Result<u16, SpecError> {
            rest.map(|c| c.parse().map_err(|_| bad("bad error code")))
                .unwrap_or(Ok(cms::NETWORK_OUT_OF_ORDER))
        };
        match name {
            "delay" => Ok(Fault::Delay {
                delay: value.ok_or_else(|| bad("delay needs a value"))?.parse()?,
            }),
            "cms-every" => {
                let v = value.ok_or_else(|| bad("cms-every needs k"))?;
                let (k, code) = match v.split_once(':') {
                    Some((k, c)) => (k, Some(c)),
                    None => (v, None),
                };
                let k: u32 = k.parse().map_err(|_| bad("k must be a positive number"))?;
                if k == 0 {
                    return Err(bad("k must be at least 1"));
                }
                Ok(Fault::CmsEvery {
                    k,
                    code: code_of(code)?,
                })
            }
            "cms-prob" => {
                let v = value.ok_or_else(|| bad("cms-prob needs p"))?;
                let (p, code) = match v.split_once(':') {
                    Some((p, c)) => (p, Some(c)),
                    None => (v, None),
                };
                let p: f64 = p.parse().map_err(|_| bad("p must be a number"))?;
                if !(0.0..=1.0).contains(&p) {
                    return Err(bad("p must be within 0..1"));
                }
                Ok(Fault::CmsProbability {
                    p,
                    code: code_of(code)?,
                })
            }
            "hung" => Ok(Fault::Hung),
            "garbage" => {
                let p = match value {
                    Some(v) => v.parse().map_err(|_| bad("p must be a number"))?,
                    None => 0.5,
                };
                Ok(Fault::Garbage { p })
            }
            "reboot" => Ok(Fault::Reboot),
            "unplug" => Ok(Fault::Unplug),
            "replug" => Ok(Fault::Replug),
            "sim-removed" => Ok(Fault::SimRemoved),
            "no-registration" => {
                let stat = match value {
                    Some(v) => v.parse().map_err(|_| bad("stat must be 0 or 2"))?,
                    None => 0,
                };
                Ok(Fault::NoRegistration { stat })
            }
            "storage-full" => Ok(Fault::StorageFull),
            "slow-baud" => Ok(Fault::SlowBaud {
                baud: value
                    .ok_or_else(|| bad("slow-baud needs a rate"))?
                    .parse()
                    .map_err(|_| bad("baud must be a number"))?,
            }),
            _ => Err(bad("unknown fault")),
        }
    }
}

/// The faults currently switched on for one modem.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct FaultSet {
    /// Delay override (else the bank's delay).
    pub delay: Option<DelayProfile>,
    /// `+CMS ERROR` on every k-th send.
    pub cms_every: Option<(u32, u16)>,
    /// `+CMS ERROR` with a probability.
    pub cms_probability: Option<(f64, u16)>,
    /// No answers at all.
    pub hung: bool,
    /// Garbage probability per output chunk.
    pub garbage: Option<f64>,
    /// SIM taken out.
    pub sim_removed: bool,
    /// Registration lost (reported stat).
    pub no_registration: Option<u8>,
    /// Storage full.
    pub storage_full: bool,
    /// Output baud rate.
    pub slow_baud: Option<u32>,
}

/// A fault spec for one modem on the command line: `<index>:<fault>` or `all:<fault>`.
#[derive(Debug, Clone, PartialEq)]
pub struct FaultSpec {
    /// The modem index, or `None` for all.
    pub modem: Option<usize>,
    /// The fault.
    pub fault: Fault,
}

impl FromStr for FaultSpec {
    type Err = SpecError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (who, fault) = s
            .split_once(':')
            .ok_or_else(|| spec_err("fault", s, "expected <index|all>:<fault>"))?;
        let modem = if who == "all" || who == "*" {
            None
        } else {
            Some(
                who.parse()
                    .map_err(|_| spec_err("fault", s, "modem index must be a number or all"))?,
            )
        };
        Ok(FaultSpec {
            modem,
            fault: fault.parse()?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays() {
        let check = |s: &str, d: DelayProfile| assert_eq!(s.parse::<DelayProfile>(), Ok(d), "{s}");
        check("instant", DelayProfile::Instant);
        check("1500", DelayProfile::Fixed { ms: 1500 });
        check("2s", DelayProfile::Fixed { ms: 2000 });
        check(
            "2000+-500",
            DelayProfile::Jitter {
                ms: 2000,
                jitter_ms: 500,
            },
        );
        check(
            "2s~500ms",
            DelayProfile::Jitter {
                ms: 2000,
                jitter_ms: 500,
            },
        );
        check("realistic", DelayProfile::REALISTIC);
        assert!("soon".parse::<DelayProfile>().is_err());
        let j = DelayProfile::Jitter {
            ms: 2000,
            jitter_ms: 500,
        };
        assert_eq!(j.sample(0.0), Duration::from_millis(1500));
        assert_eq!(j.sample(0.5), Duration::from_millis(2000));
    }

    #[test]
    fn faults() {
        let check = |s: &str, f: Fault| assert_eq!(s.parse::<Fault>(), Ok(f), "{s}");
        check("cms-every=3", Fault::CmsEvery { k: 3, code: 38 });
        check("cms-every=1:21", Fault::CmsEvery { k: 1, code: 21 });
        check("cms-prob=0.25:1", Fault::CmsProbability { p: 0.25, code: 1 });
        check("hung", Fault::Hung);
        check("no-registration=2", Fault::NoRegistration { stat: 2 });
        check("slow-baud=1200", Fault::SlowBaud { baud: 1200 });
        check(
            "delay=100",
            Fault::Delay {
                delay: DelayProfile::Fixed { ms: 100 },
            },
        );
        assert!("cms-every=0".parse::<Fault>().is_err());
        assert!("cms-prob=2".parse::<Fault>().is_err());
        assert!("melt".parse::<Fault>().is_err());
        assert_eq!(
            "all:hung".parse::<FaultSpec>(),
            Ok(FaultSpec {
                modem: None,
                fault: Fault::Hung
            })
        );
        assert_eq!(
            "3:storage-full".parse::<FaultSpec>(),
            Ok(FaultSpec {
                modem: Some(3),
                fault: Fault::StorageFull
            })
        );
    }
}
