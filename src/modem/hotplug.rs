//! Hotplug of modems through udev: the kernel's device events, as udev rewrote them after running the
//! appliance's rules (`udev/80-smsgate-modems.rules`), become discovery actions.
//!
//! Only the AT port of a known modem counts: the rules mark it `SMSGATE_AT_PORT=1` and give it stable
//! links under `/dev/gsm/at/`. The actor gets the most stable name of the device (by serial number,
//! which survives a move to another USB socket; else by socket; else the kernel's node), so an unplugged
//! modem that comes back finds its actor waiting on the same path.
//!
//! Pure core ([`action_for`], tested from tables) and a thin shell ([`start`]): a thread that owns the
//! udev monitor socket (libudev's socket is not `Send`, so it cannot move between tokio workers) and
//! forwards actions over a channel. Where udev is not running (containers, CI) the shell says so once
//! and discovery keeps to its directory watch, which also serves hw-sim's links.
use std::path::{Path, PathBuf};

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

/// udev's control socket: present while `systemd-udevd` runs. Without it a monitor would open but
/// never hear anything (the events it relays come from udevd, not the kernel).
pub const UDEVD_CONTROL: &str = "/run/udev/control";
/// Property the appliance's rules set on the AT port of a known modem.
pub const AT_PORT_PROPERTY: &str = "SMSGATE_AT_PORT";
/// Link directories made by the rules, most stable first.
pub const STABLE_LINK_DIRS: [&str; 2] = ["/dev/gsm/at/by-serial/", "/dev/gsm/at/by-port/"];

/// A udev device event, reduced to what discovery needs.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DeviceEvent {
    /// `add`, `remove`, `change`, `bind`, ... (`ACTION`).
    pub action: String,
    /// `SUBSYSTEM`.
    pub subsystem: String,
    /// `DEVNAME`, e.g. `/dev/ttyUSB2`.
    pub devnode: Option<PathBuf>,
    /// `DEVLINKS`: the symlinks udev made for it.
    pub devlinks: Vec<PathBuf>,
    /// The rules marked it as a modem's AT port.
    pub at_port: bool,
}

impl DeviceEvent {
    /// Splits udev's space-separated `DEVLINKS` property.
    pub fn parse_devlinks(value: &str) -> Vec<PathBuf> {
        value.split_whitespace().map(PathBuf::from).collect()
    }
}

/// What discovery should do about a device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HotplugAction {
    /// A modem's AT port is there: run an actor on this path.
    Add(PathBuf),
    /// These paths are gone.
    Remove(Vec<PathBuf>),
}

/// The path an actor should open for a device: its most stable link, else its node.
pub fn preferred_path(devnode: Option<&Path>, devlinks: &[PathBuf]) -> Option<PathBuf> {
    STABLE_LINK_DIRS
        .iter()
        .find_map(|dir| devlinks.iter().find(|l| l.starts_with(dir)))
        .cloned()
        .or_else(|| devnode.map(Path::to_path_buf))
}

/// The discovery action for one udev event, if any.
pub fn action_for(ev: &DeviceEvent) -> Option<HotplugAction> {
    if ev.subsystem != "tty" {
        return None;
    }
    match ev.action.as_str() {
        // `change` re-announces a device whose properties changed (e.g. rules reloaded and triggered).
        "add" | "change" if ev.at_port => {
            preferred_path(ev.devnode.as_deref(), &ev.devlinks).map(HotplugAction::Add)
        }
        "remove" => {
            let mut gone: Vec<PathBuf> = ev.devnode.iter().cloned().collect();
            gone.extend(
                ev.devlinks
                    .iter()
                    .filter(|l| STABLE_LINK_DIRS.iter().any(|d| l.starts_with(d)))
                    .cloned(),
            );
            (!gone.is_empty()).then_some(HotplugAction::Remove(gone))
        }
        _ => None,
    }
}

fn event_of(action: &str, device: &tokio_udev::Device) -> DeviceEvent {
    let prop = |name: &str| {
        device
            .property_value(name)
            .map(|v| v.to_string_lossy().into_owned())
    };
    DeviceEvent {
        action: action.to_owned(),
        subsystem: device
            .subsystem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default(),
        devnode: device.devnode().map(Path::to_path_buf),
        devlinks: prop("DEVLINKS")
            .map(|l| DeviceEvent::parse_devlinks(&l))
            .unwrap_or_default(),
        at_port: prop(AT_PORT_PROPERTY).as_deref() == Some("1"),
    }
}

fn action_name(t: tokio_udev::EventType) -> &'static str {
    match t {
        tokio_udev::EventType::Add => "add",
        tokio_udev::EventType::Remove => "remove",
        tokio_udev::EventType::Change => "change",
        tokio_udev::EventType::Bind => "bind",
        tokio_udev::EventType::Unbind => "unbind",
        _ => "unknown",
    }
}

/// AT ports present now (udev's database), as `add` actions.
fn enumerate() -> std::io::Result<Vec<HotplugAction>> {
    let mut e = tokio_udev::Enumerator::new()?;
    e.match_subsystem("tty")?;
    e.match_property(AT_PORT_PROPERTY, "1")?;
    Ok(e.scan_devices()?
        .filter_map(|d| action_for(&event_of("add", &d)))
        .collect())
}

/// Starts the udev monitor thread: first the AT ports present now, then every change, as actions on
/// `tx`, until `shutdown`. Returns `false` (after saying why, once) when udev cannot be used here;
/// discovery then relies on its directory watch.
pub fn start(tx: mpsc::Sender<HotplugAction>, shutdown: CancellationToken) -> bool {
    if !Path::new(UDEVD_CONTROL).exists() {
        info!(
            control = UDEVD_CONTROL,
            "udev is not running here: modem hotplug by directory watch only"
        );
        return false;
    }
    // The monitor socket is opened on its thread: libudev's handles may not change threads.
    let spawned = std::thread::Builder::new()
        .name("udev-monitor".into())
        .spawn(move || monitor_thread(tx, shutdown));
    match spawned {
        Ok(_) => true,
        Err(e) => {
            warn!(error = %e, "cannot start the udev monitor thread: modem hotplug by directory watch only");
            false
        }
    }
}

fn monitor_thread(tx: mpsc::Sender<HotplugAction>, shutdown: CancellationToken) {
    let socket = match tokio_udev::MonitorBuilder::new()
        .and_then(|b| b.match_subsystem("tty"))
        .and_then(|b| b.listen())
    {
        Ok(s) => s,
        Err(e) => {
            warn!(error = %e, "cannot open a udev monitor: modem hotplug by directory watch only");
            return;
        }
    };
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_io().build() {
        Ok(r) => r,
        Err(e) => {
            warn!(error = %e, "udev monitor: no runtime; directory watch only");
            return;
        }
    };
    info!("watching udev for modem hotplug");
    runtime.block_on(async move {
        // Listening before listing: a modem plugged in between is seen by one or the other.
        match enumerate() {
            Ok(present) => {
                for action in present {
                    if tx.send(action).await.is_err() {
                        return;
                    }
                }
            }
            Err(e) => warn!(error = %e, "udev: cannot list present devices"),
        }
        let mut monitor = match tokio_udev::AsyncMonitorSocket::new(socket) {
            Ok(m) => m,
            Err(e) => {
                warn!(error = %e, "udev monitor unusable: directory watch only");
                return;
            }
        };
        loop {
            let event = tokio::select! {
                _ = shutdown.cancelled() => return,
                e = futures::StreamExt::next(&mut monitor) => e,
            };
            match event {
                None => {
                    warn!("udev monitor closed: directory watch only");
                    return;
                }
                Some(Err(e)) => debug!(error = %e, "udev monitor read failed"),
                Some(Ok(event)) => {
                    let ev = event_of(action_name(event.event_type()), &event);
                    if let Some(action) = action_for(&ev) {
                        debug!(?action, "udev");
                        if tx.send(action).await.is_err() {
                            return;
                        }
                    }
                }
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(action: &str, subsystem: &str, node: &str, links: &str, at_port: bool) -> DeviceEvent {
        DeviceEvent {
            action: action.into(),
            subsystem: subsystem.into(),
            devnode: (!node.is_empty()).then(|| PathBuf::from(node)),
            devlinks: DeviceEvent::parse_devlinks(links),
            at_port,
        }
    }

    fn add(p: &str) -> Option<HotplugAction> {
        Some(HotplugAction::Add(PathBuf::from(p)))
    }

    fn remove(ps: &[&str]) -> Option<HotplugAction> {
        Some(HotplugAction::Remove(ps.iter().map(PathBuf::from).collect()))
    }

    #[test]
    fn udev_events_to_discovery_actions() {
        const BY_SERIAL: &str = "/dev/gsm/at/by-serial/Quectel_EC25_0123";
        const BY_PORT: &str = "/dev/gsm/at/by-port/pci-0000:00:14.0-usb-0:2:1.2";
        let all_links =
            format!("/dev/serial/by-id/usb-Quectel-if02 /dev/gsm/by-port/x-if02 {BY_PORT} {BY_SERIAL}");
        let table: Vec<(DeviceEvent, Option<HotplugAction>)> = vec![
            // The AT port appears: the by-serial link wins (it survives a move to another socket).
            (ev("add", "tty", "/dev/ttyUSB2", &all_links, true), add(BY_SERIAL)),
            // No serial number: the by-socket link.
            (ev("add", "tty", "/dev/ttyUSB2", BY_PORT, true), add(BY_PORT)),
            // Marked, but no link (rules without ID_PATH): the node itself.
            (ev("add", "tty", "/dev/ttyACM0", "", true), add("/dev/ttyACM0")),
            (ev("change", "tty", "/dev/ttyUSB2", BY_PORT, true), add(BY_PORT)),
            // Other ports of the modem (DIAG, NMEA) and other serial devices are not modems' AT ports.
            (
                ev("add", "tty", "/dev/ttyUSB0", "/dev/gsm/by-port/x-if00", false),
                None,
            ),
            (ev("add", "tty", "/dev/ttyS0", "", false), None),
            // Not a tty.
            (ev("add", "usb", "/dev/bus/usb/001/004", "", true), None),
            (ev("bind", "tty", "/dev/ttyUSB2", BY_PORT, true), None),
            // Gone: the node and its stable links (others are not ours).
            (
                ev("remove", "tty", "/dev/ttyUSB2", &all_links, true),
                remove(&["/dev/ttyUSB2", BY_PORT, BY_SERIAL]),
            ),
            // Remove events may come without the rules' properties.
            (
                ev("remove", "tty", "/dev/ttyUSB2", "", false),
                remove(&["/dev/ttyUSB2"]),
            ),
            (ev("remove", "tty", "", "", false), None),
            (ev("remove", "net", "", "", false), None),
        ];
        for (event, expect) in table {
            assert_eq!(action_for(&event), expect, "{event:?}");
        }
    }

    #[test]
    fn devlinks_split_on_whitespace() {
        assert_eq!(
            DeviceEvent::parse_devlinks(" /dev/a  /dev/b\n"),
            vec![PathBuf::from("/dev/a"), PathBuf::from("/dev/b")]
        );
        assert!(DeviceEvent::parse_devlinks("").is_empty());
    }
}
