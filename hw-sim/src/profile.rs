//! Profiles of real modem families: identity strings, boot URCs, prompt shape, empty-slot answers,
//! storage sizes, URC floods and the "storage full" indication. Each quirk is listed with its source in
//! hw-sim/README.md.
use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Name of a modem family profile.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum ProfileName {
    /// A plain 3GPP TS 27.005/27.007 modem without vendor URCs.
    #[default]
    Generic,
    /// Quectel EC25 (LTE Cat 4): `RDY`, `+CPIN: READY`, `+QIND: SMS DONE` at boot, four ports.
    QuectelEc25,
    /// SIMCom SIM800 (2G): `RDY`, `Call Ready`, `SMS Ready`; `+CMGR` on an empty slot answers ERROR.
    SimcomSim800,
    /// Huawei E3372 (LTE stick): `^BOOT`, `^RSSI`, `^MODE` URC floods, also in the middle of responses.
    HuaweiE3372,
    /// Wavecom/Fargo (old 2G): `>` prompt without a space, `+WIND` URCs.
    Wavecom,
    /// Telit (GE/HE/LE910): `#` vendor commands, `+CMS ERROR: 321` on an empty slot.
    Telit,
    /// Sierra Wireless (MC73xx/EM74xx): `!` vendor commands, `+CMS ERROR: 321` on an empty slot.
    Sierra,
}

impl ProfileName {
    /// All profiles, for `--help` and the manifest.
    pub const ALL: [ProfileName; 7] = [
        ProfileName::Generic,
        ProfileName::QuectelEc25,
        ProfileName::SimcomSim800,
        ProfileName::HuaweiE3372,
        ProfileName::Wavecom,
        ProfileName::Telit,
        ProfileName::Sierra,
    ];

    /// The command-line / JSON name.
    pub fn as_str(self) -> &'static str {
        match self {
            ProfileName::Generic => "generic",
            ProfileName::QuectelEc25 => "quectel-ec25",
            ProfileName::SimcomSim800 => "simcom-sim800",
            ProfileName::HuaweiE3372 => "huawei-e3372",
            ProfileName::Wavecom => "wavecom",
            ProfileName::Telit => "telit",
            ProfileName::Sierra => "sierra",
        }
    }
}

impl fmt::Display for ProfileName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An unknown profile name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown profile {0:?} (known: generic, quectel-ec25, simcom-sim800, huawei-e3372, wavecom, telit, sierra)"
)]
pub struct UnknownProfile(pub String);

impl FromStr for ProfileName {
    type Err = UnknownProfile;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ProfileName::ALL
            .into_iter()
            .find(|p| p.as_str().eq_ignore_ascii_case(s))
            .ok_or_else(|| UnknownProfile(s.to_string()))
    }
}

/// What `AT+CMGR=<i>` answers for an empty slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EmptyRead {
    /// `OK` with no data.
    Ok,
    /// `+CMS ERROR: 321` (invalid memory index, 27.005 §3.2.5).
    InvalidIndex,
    /// A bare `ERROR`.
    Error,
}

/// Periodic vendor URCs (Huawei's `^RSSI` etc.).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Flood {
    /// Lines sent each period.
    pub lines: &'static [&'static str],
    /// Period between bursts.
    pub every: Duration,
}

/// How often a flooding family interrupts a response with a URC (every n-th response with information text).
pub const MID_RESPONSE_PERIOD: u64 = 4;

/// Everything that makes one modem family look like itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Profile {
    /// Which profile this is.
    pub name: ProfileName,
    /// `+CGMI` answer.
    pub manufacturer: &'static str,
    /// `+CGMM` answer.
    pub model: &'static str,
    /// `+CGMR` answer.
    pub revision: &'static str,
    /// The `> ` prompt after `+CMGS`/`+CMGW` (Wavecom: no space).
    pub prompt: &'static [u8],
    /// URCs the modem prints after power-up, in order.
    pub boot_urcs: &'static [&'static str],
    /// Empty-slot behaviour of `+CMGR`.
    pub empty_read: EmptyRead,
    /// URC when SMS storage becomes full (`{mem}` is replaced by the memory name).
    pub storage_full_urc: &'static str,
    /// Periodic URCs, if the family floods (switched off by `AT^CURC=0` on Huawei).
    pub flood: Option<Flood>,
    /// A URC the family slips between a response's information text and its final result code (every
    /// [`MID_RESPONSE_PERIOD`]th response with information text).
    pub mid_response_urc: Option<&'static str>,
    /// Power-up `+CNMI` setting: mode, mt, bm, ds, bfr.
    pub default_cnmi: [u8; 5],
    /// Capacity of the SIM memory `SM`.
    pub sm_capacity: usize,
    /// Capacity of the modem memory `ME`.
    pub me_capacity: usize,
    /// Capacity of the status-report memory `SR`.
    pub sr_capacity: usize,
    /// Extra ports beside the AT port (Quectel exposes DM, NMEA, AT, modem): they open but never answer.
    pub extra_ports: usize,
    /// `ATI` lines.
    pub ati: &'static [&'static str],
}

impl Profile {
    /// The profile with this name.
    pub fn get(name: ProfileName) -> Profile {
        let generic = Profile {
            name,
            manufacturer: "hw-sim",
            model: "Simulated GSM modem",
            revision: "hw-sim 1.0",
            prompt: b"> ",
            boot_urcs: &[],
            empty_read: EmptyRead::Ok,
            storage_full_urc: "+CIEV: 10,1",
            flood: None,
            mid_response_urc: None,
            default_cnmi: [0, 0, 0, 0, 0],
            sm_capacity: 30,
            me_capacity: 100,
            sr_capacity: 20,
            extra_ports: 0,
            ati: &["hw-sim", "Simulated GSM modem", "Revision: hw-sim 1.0"],
        };
        match name {
            ProfileName::Generic => generic,
            ProfileName::QuectelEc25 => Profile {
                manufacturer: "Quectel",
                model: "EC25",
                revision: "EC25EFAR06A06M4G",
                boot_urcs: &[
                    "RDY",
                    "+CFUN: 1",
                    "+CPIN: READY",
                    "+QUSIM: 1",
                    "+QIND: SMS DONE",
                    "+QIND: PB DONE",
                ],
                storage_full_urc: "+QIND: \"smsfull\",\"{mem}\"",
                default_cnmi: [2, 1, 0, 0, 0],
                sm_capacity: 50,
                me_capacity: 255,
                sr_capacity: 50,
                extra_ports: 3,
                ati: &["Quectel", "EC25", "Revision: EC25EFAR06A06M4G"],
                ..generic
            },
            ProfileName::SimcomSim800 => Profile {
                manufacturer: "SIMCOM_Ltd",
                model: "SIMCOM_SIM800",
                revision: "Revision:1418B04SIM800L24",
                boot_urcs: &["RDY", "+CFUN: 1", "+CPIN: READY", "Call Ready", "SMS Ready"],
                empty_read: EmptyRead::Error,
                storage_full_urc: "+CIEV: \"SMSFULL\",1",
                default_cnmi: [2, 1, 0, 0, 0],
                sm_capacity: 30,
                me_capacity: 50,
                sr_capacity: 20,
                ati: &["SIM800 R14.18"],
                ..generic
            },
            ProfileName::HuaweiE3372 => Profile {
                manufacturer: "huawei",
                model: "E3372",
                revision: "22.200.15.00.00",
                boot_urcs: &["^BOOT:20358144,0,0,0,72", "^MODE:5,4", "^RSSI:20"],
                storage_full_urc: "^SMMEMFULL: \"{mem}\"",
                flood: Some(Flood {
                    lines: &["^RSSI:19", "^MODE:5,4", "^BOOT:20358144,0,0,0,72"],
                    every: Duration::from_secs(3),
                }),
                mid_response_urc: Some("^RSSI:19"),
                default_cnmi: [2, 1, 0, 2, 0],
                sm_capacity: 50,
                me_capacity: 500,
                sr_capacity: 50,
                ati: &[
                    "Manufacturer: huawei",
                    "Model: E3372",
                    "Revision: 22.200.15.00.00",
                    "IMEI: {imei}",
                    "+GCAP: +CGSM,+DS,+ES",
                ],
                ..generic
            },
            ProfileName::Wavecom => Profile {
                manufacturer: "WAVECOM MODEM",
                model: "MULTIBAND  900E  1800",
                revision: "R7.46.0.201108091301.FXT009 2254340 080911 13:01",
                prompt: b">",
                boot_urcs: &["+WIND: 1", "+WIND: 3", "+WIND: 7", "+WIND: 4"],
                storage_full_urc: "+CIEV: 7,1",
                sm_capacity: 25,
                me_capacity: 25,
                sr_capacity: 10,
                ati: &["WAVECOM MODEM"],
                ..generic
            },
            ProfileName::Telit => Profile {
                manufacturer: "Telit",
                model: "LE910C1-EU",
                revision: "25.21.660",
                empty_read: EmptyRead::InvalidIndex,
                storage_full_urc: "+CIEV: \"smsfull\",1",
                default_cnmi: [0, 0, 0, 0, 0],
                sm_capacity: 50,
                me_capacity: 99,
                sr_capacity: 30,
                ati: &["Telit", "LE910C1-EU", "25.21.660"],
                ..generic
            },
            ProfileName::Sierra => Profile {
                manufacturer: "Sierra Wireless, Incorporated",
                model: "MC7304",
                revision: "SWI9X15C_05.05.58.00 r27038 carmd-fwbuild1 2015/03/04 21:30:23",
                empty_read: EmptyRead::InvalidIndex,
                storage_full_urc: "+CIEV: \"smsfull\",1",
                sm_capacity: 50,
                me_capacity: 255,
                sr_capacity: 30,
                ati: &[
                    "Manufacturer: Sierra Wireless, Incorporated",
                    "Model: MC7304",
                    "Revision: SWI9X15C_05.05.58.00",
                    "IMEI: {imei}",
                    "+GCAP: +CGSM",
                ],
                ..generic
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for p in ProfileName::ALL {
            assert_eq!(p.as_str().parse::<ProfileName>(), Ok(p));
            assert_eq!(Profile::get(p).name, p);
        }
        assert!("nokia".parse::<ProfileName>().is_err());
    }
}
