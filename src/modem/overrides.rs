//! SIM settings a technician set for a modem at run time (PIN, SMSC), by IMEI. They take precedence over
//! the config file. The gateway fills the table from the database; every actor holds the same table (in
//! its [`super::ModemConfig`]) and reads its entry once it knows its IMEI (before the PIN is needed), and
//! again when asked to reconfigure.
use std::collections::HashMap;
use std::sync::{Arc, RwLock};

/// SIM settings of one modem; `None` keeps the config file's value.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct SimSettings {
    /// SIM PIN.
    pub pin: Option<String>,
    /// SMSC number (`AT+CSCA`).
    pub smsc: Option<String>,
}

/// The PIN is a secret: never printed.
impl std::fmt::Debug for SimSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimSettings")
            .field("pin", &self.pin.as_ref().map(|_| "<redacted>"))
            .field("smsc", &self.smsc)
            .finish()
    }
}

/// The shared table, by IMEI. Cheap to clone; clones share the table.
#[derive(Clone, Default)]
pub struct OverrideTable(Arc<RwLock<HashMap<String, SimSettings>>>);

impl OverrideTable {
    /// The settings for a modem, if any were set.
    pub fn get(&self, imei: &str) -> Option<SimSettings> {
        let map = self.0.read().unwrap_or_else(|p| p.into_inner());
        map.get(imei).cloned()
    }

    /// Sets (or with the default value, clears) the settings of a modem.
    pub fn set(&self, imei: &str, settings: SimSettings) {
        let mut map = self.0.write().unwrap_or_else(|p| p.into_inner());
        if settings == SimSettings::default() {
            map.remove(imei);
        } else {
            map.insert(imei.to_owned(), settings);
        }
    }
}

/// Two configs are equal when they share the same table (it is state, not configuration).
impl PartialEq for OverrideTable {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl Eq for OverrideTable {}

impl std::fmt::Debug for OverrideTable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let map = self.0.read().unwrap_or_else(|p| p.into_inner());
        f.debug_struct("OverrideTable")
            .field("modems", &map.len())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_get_clear_and_shared() {
        let t = OverrideTable::default();
        let clone = t.clone();
        assert_eq!(t.get("1"), None);
        let s = SimSettings {
            pin: Some("1234".into()),
            smsc: None,
        };
        t.set("1", s.clone());
        assert_eq!(clone.get("1"), Some(s.clone()));
        assert!(!format!("{s:?}").contains("1234"));
        t.set("1", SimSettings::default());
        assert_eq!(clone.get("1"), None);
        assert_eq!(t, clone);
        assert_ne!(t, OverrideTable::default());
    }
}
