//! Which modems run: reconciles the wanted set (configured ports, serial devices appearing in watched
//! directories such as a hw-sim link directory or `/dev/gsm`, and modems' AT ports reported by udev,
//! see [`super::hotplug`]) with the running actors, in the style of a controller loop: a udev event only
//! changes the wanted set and triggers a pass at once, the periodic pass catches everything else. Modems are known by IMEI once identified, so a
//! modem that shows up on another path keeps its identity: the stale actor on the old path is retired.
use std::collections::{BTreeMap, BTreeSet};
use std::os::unix::fs::FileTypeExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::info;

use super::actor::{ModemHandle, spawn};
use super::config::ModemConfig;
use super::hotplug::{self, HotplugAction};
use super::types::{ModemEvent, ModemPhase, ModemState};

/// How to find modems at run time.
#[derive(Debug, Clone)]
pub struct DiscoveryConfig {
    /// Directories to watch for serial devices (symlinks are followed).
    pub dirs: Vec<PathBuf>,
    /// Only names starting with one of these are taken (`modem`, `ttyUSB`, `ttyACM`); empty = all.
    pub prefixes: Vec<String>,
    /// How often the directories are scanned.
    pub interval: Duration,
    /// Settings for discovered modems (the port is filled in).
    pub template: ModemConfig,
    /// A discovered modem whose device is gone this long is retired.
    pub retire_after: Duration,
    /// Also follow udev's device events (modems' AT ports marked by the appliance's rules). Where udev
    /// does not run, the directory watch alone finds modems.
    pub udev: bool,
}

impl Default for DiscoveryConfig {
    fn default() -> Self {
        DiscoveryConfig {
            dirs: Vec::new(),
            prefixes: Vec::new(),
            interval: Duration::from_secs(1),
            template: ModemConfig::default(),
            retire_after: Duration::from_secs(30),
            udev: false,
        }
    }
}

struct Running {
    handle: ModemHandle,
    stop: CancellationToken,
    configured: bool,
    gone_since: Option<Instant>,
}

/// The running modems, by port path.
#[derive(Clone, Default)]
pub struct ModemBank {
    running: Arc<Mutex<BTreeMap<PathBuf, Running>>>,
}

impl std::fmt::Debug for ModemBank {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ModemBank")
            .field("modems", &self.list().len())
            .finish()
    }
}

impl ModemBank {
    /// State of every running modem, ordered by port.
    pub fn list(&self) -> Vec<ModemState> {
        self.with(|r| r.values().map(|m| m.handle.snapshot()).collect())
    }

    /// Every handle (for the dispatcher).
    pub fn handles(&self) -> Vec<ModemHandle> {
        self.with(|r| r.values().map(|m| m.handle.clone()).collect())
    }

    /// A modem by id (IMEI), configured name or port path; an actor in service wins over a stale one.
    /// The dispatcher calls this for every send: states are looked at in place, not cloned.
    pub fn get(&self, key: &str) -> Option<ModemHandle> {
        self.with(|r| {
            let mut found: Option<&Running> = None;
            for (path, m) in r.iter() {
                let watch = m.handle.state();
                let s = watch.borrow();
                if s.id.0 != key && s.imei.as_deref() != Some(key) && path.as_os_str() != key {
                    continue;
                }
                if s.phase == ModemPhase::Ready {
                    return Some(m.handle.clone());
                }
                found = found.or(Some(m));
            }
            found.map(|m| m.handle.clone())
        })
    }

    fn with<T>(&self, f: impl FnOnce(&mut BTreeMap<PathBuf, Running>) -> T) -> T {
        match self.running.lock() {
            Ok(mut guard) => f(&mut guard),
            Err(poisoned) => f(&mut poisoned.into_inner()),
        }
    }
}

/// Starts the configured modems and the discovery loop. Everything stops when `shutdown` is cancelled.
pub fn run(
    configured: Vec<ModemConfig>,
    discovery: DiscoveryConfig,
    events: mpsc::Sender<ModemEvent>,
    shutdown: CancellationToken,
) -> ModemBank {
    let bank = ModemBank::default();
    for config in configured {
        start(&bank, config, true, &events, &shutdown);
    }
    let task_bank = bank.clone();
    let (hotplug_tx, mut hotplug_rx) = mpsc::channel(HOTPLUG_QUEUE);
    if discovery.udev {
        hotplug::start(hotplug_tx, shutdown.clone());
    } else {
        drop(hotplug_tx);
    }
    tokio::spawn(async move {
        // AT ports udev reported present: wanted like devices in the watched directories.
        let mut hotplugged: BTreeSet<PathBuf> = BTreeSet::new();
        loop {
            reconcile(&task_bank, &discovery, &hotplugged, &events, &shutdown);
            tokio::select! {
                _ = shutdown.cancelled() => break,
                _ = tokio::time::sleep(discovery.interval) => {}
                Some(action) = hotplug_rx.recv() => apply(&mut hotplugged, action),
            }
        }
    });
    bank
}

fn start(
    bank: &ModemBank,
    config: ModemConfig,
    configured: bool,
    events: &mpsc::Sender<ModemEvent>,
    shutdown: &CancellationToken,
) {
    let stop = shutdown.child_token();
    let path = config.port.clone();
    info!(port = %path.display(), configured, "starting modem actor");
    let handle = spawn(config, events.clone(), stop.clone());
    bank.with(|r| {
        r.insert(
            path,
            Running {
                handle,
                stop,
                configured,
                gone_since: None,
            },
        )
    });
}

/// Hotplug actions waiting for the discovery loop.
const HOTPLUG_QUEUE: usize = 64;

/// Changes the wanted set by a udev action.
fn apply(hotplugged: &mut BTreeSet<PathBuf>, action: HotplugAction) {
    match action {
        HotplugAction::Add(path) => {
            if hotplugged.insert(path.clone()) {
                info!(port = %path.display(), "udev: modem AT port appeared");
            }
        }
        HotplugAction::Remove(paths) => {
            for p in paths {
                if hotplugged.remove(&p) {
                    info!(port = %p.display(), "udev: modem AT port removed");
                }
            }
        }
    }
}

/// Whether an actor already runs on `path` or on another name of the same device (a udev link and a
/// configured path may both point at `/dev/ttyUSB2`: one device, one actor).
fn already_running(running: &BTreeMap<PathBuf, Running>, path: &Path) -> bool {
    if running.contains_key(path) {
        return true;
    }
    let Ok(device) = std::fs::canonicalize(path) else {
        return false;
    };
    running
        .keys()
        .any(|p| std::fs::canonicalize(p).is_ok_and(|d| d == device))
}

/// One pass: start actors for new devices, retire discovered ones that are gone or now live elsewhere.
fn reconcile(
    bank: &ModemBank,
    discovery: &DiscoveryConfig,
    hotplugged: &BTreeSet<PathBuf>,
    events: &mpsc::Sender<ModemEvent>,
    shutdown: &CancellationToken,
) {
    let from_udev = hotplugged.iter().filter(|p| is_serial_device(p)).cloned();
    let from_dirs = discovery
        .dirs
        .iter()
        .flat_map(|dir| serial_devices(dir, &discovery.prefixes));
    for path in from_dirs.chain(from_udev).collect::<Vec<_>>() {
        {
            if bank.with(|r| already_running(r, &path)) {
                continue;
            }
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let config = ModemConfig {
                name,
                port: path,
                ..discovery.template.clone()
            };
            start(bank, config, false, events, shutdown);
        }
    }
    let now = Instant::now();
    bank.with(|r| {
        // IMEIs that have an actor in service somewhere.
        let live: Vec<String> = r
            .values()
            .map(|m| m.handle.snapshot())
            .filter(|s| s.phase != ModemPhase::Absent)
            .filter_map(|s| s.imei)
            .collect();
        let mut retire = Vec::new();
        for (path, m) in r.iter_mut() {
            if m.configured {
                continue;
            }
            let state = m.handle.snapshot();
            let present = path.exists();
            m.gone_since = if present {
                None
            } else {
                Some(m.gone_since.unwrap_or(now))
            };
            let moved =
                state.phase == ModemPhase::Absent && state.imei.as_ref().is_some_and(|i| live.contains(i));
            let gone_long = m
                .gone_since
                .is_some_and(|t| now.duration_since(t) >= discovery.retire_after);
            if moved || gone_long {
                retire.push(path.clone());
            }
        }
        for path in retire {
            if let Some(m) = r.remove(&path) {
                info!(port = %path.display(), "retiring modem actor");
                m.stop.cancel();
            }
        }
    });
}

/// A character device (after following symlinks).
fn is_serial_device(path: &Path) -> bool {
    std::fs::metadata(path).is_ok_and(|m| m.file_type().is_char_device())
}

/// Character devices (after following symlinks) in `dir` whose names start with one of `prefixes`.
fn serial_devices(dir: &Path, prefixes: &[String]) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut found: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .filter(|e| {
            let name = e.file_name();
            let name = name.to_string_lossy();
            prefixes.is_empty() || prefixes.iter().any(|p| name.starts_with(p.as_str()))
        })
        .map(|e| e.path())
        .filter(|p| is_serial_device(p))
        .collect();
    found.sort();
    found
}
