//! Encrypted backups of the database: taken with SQLite's online backup API while the service runs,
//! encrypted with age (X25519 recipients, or a passphrase), listed, expired after `backup.keep_days`, and
//! restored only into a stopped service's data directory after the decrypted copy has passed its checksum
//! and SQLite's integrity check.
//!
//! A backup file `smsgate-<UTC time>.db.age` decrypts to one JSON manifest line (format, time, schema
//! version, SHA-256 and size of the database) followed by the database file. Clients have no way to reach
//! backups: there is no API for them; only the CLI (root / service user) and the service itself touch them.
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, BufWriter, Read, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::Duration;

use age::secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;
use tracing::{info, warn};

use super::Gateway;
use crate::config::Settings;
use crate::store::{SCHEMA_VERSION, StoreError, backup as db};

/// Value of [`Manifest::format`].
pub const BACKUP_FORMAT: &str = "smsgate-backup-1";
/// File name of the appliance's own backup key pair inside the data directory.
pub const IDENTITY_FILE: &str = "backup-identity.txt";
/// Longest manifest line accepted (a real one is ~200 bytes): a foreign file is refused quickly.
const MAX_MANIFEST: usize = 4096;
const FILE_PREFIX: &str = "smsgate-";
const FILE_SUFFIX: &str = ".db.age";
/// `20261125T091500123Z`: sorts by time, millisecond resolution so two backups never collide.
const NAME_TIME: &[time::format_description::FormatItem<'static>] =
    time::macros::format_description!("[year][month][day]T[hour][minute][second][subsecond digits:3]Z");
const DAY: Duration = Duration::from_secs(86_400);

/// Why a backup operation failed.
#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("database: {0}")]
    Store(#[from] StoreError),
    #[error("bad backup key: {0}")]
    BadKey(String),
    #[error("encryption failed: {0}")]
    Encrypt(String),
    /// The key given does not open this backup.
    #[error("this backup cannot be decrypted with the given key (wrong identity or passphrase)")]
    WrongKey,
    /// Not an age file, or not one of ours, or cut short / altered.
    #[error("not a valid smsgate backup: {0}")]
    Invalid(String),
    #[error("the backup has schema version {found}; this build supports up to {supported}")]
    NewerSchema { found: usize, supported: usize },
    /// Restoring under a running service would pull its database away from under it.
    #[error("the service is running on {0} (stop it first: systemctl stop smsgate)")]
    ServiceRunning(PathBuf),
}

type Result<T> = std::result::Result<T, BackupError>;

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> BackupError + '_ {
    move |source| BackupError::Io {
        path: path.to_owned(),
        source,
    }
}

/// The first line inside every backup.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    pub format: String,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    pub schema_version: usize,
    /// SHA-256 of the database bytes, hex.
    pub sha256: String,
    pub db_bytes: u64,
}

/// Whom a new backup is encrypted to.
pub enum BackupKey {
    /// age X25519 public keys.
    Recipients(Vec<age::x25519::Recipient>),
    /// A passphrase (scrypt).
    Passphrase(SecretString),
}

/// What opens a backup.
pub enum RestoreKey {
    /// age X25519 secret keys.
    Identities(Vec<age::x25519::Identity>),
    Passphrase(SecretString),
}

/// A backup file found in the backup directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackupInfo {
    pub path: PathBuf,
    pub created_at: OffsetDateTime,
    pub bytes: u64,
}

/// Creates `path` readable by the owner only (it will hold secrets or database content).
fn create_private(path: &Path) -> Result<File> {
    OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(io(path))
}

/// A file removed when dropped (plaintext copies of the database never outlive the operation).
struct TempFile(PathBuf);

impl TempFile {
    fn beside(dir: &Path, what: &str) -> TempFile {
        TempFile(dir.join(format!(".{what}-{}.tmp", uuid::Uuid::new_v4())))
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Reads the secret keys of an age identity file (lines `AGE-SECRET-KEY-1...`; `#` comments).
pub fn read_identities(path: &Path) -> Result<Vec<age::x25519::Identity>> {
    let text = std::fs::read_to_string(path).map_err(io(path))?;
    let ids = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| {
            l.parse::<age::x25519::Identity>()
                .map_err(|e| BackupError::BadKey(format!("{}: {e}", path.display())))
        })
        .collect::<Result<Vec<_>>>()?;
    if ids.is_empty() {
        return Err(BackupError::BadKey(format!(
            "{}: no key in the file",
            path.display()
        )));
    }
    Ok(ids)
}

/// The appliance's own key pair (`<data_dir>/backup-identity.txt`), created with mode 0600 on first use.
pub fn load_or_create_identity(data_dir: &Path) -> Result<age::x25519::Identity> {
    let path = data_dir.join(IDENTITY_FILE);
    if path.exists() {
        return read_identities(&path)?
            .into_iter()
            .next()
            .ok_or_else(|| BackupError::BadKey(path.display().to_string()));
    }
    std::fs::create_dir_all(data_dir).map_err(io(data_dir))?;
    let identity = age::x25519::Identity::generate();
    let mut file = create_private(&path)?;
    let text = format!(
        "# smsgate backup key: keep a copy OFF the appliance, restores need it\n# public key: {}\n{}\n",
        identity.to_public(),
        identity.to_string().expose_secret()
    );
    file.write_all(text.as_bytes()).map_err(io(&path))?;
    file.sync_all().map_err(io(&path))?;
    info!(path = %path.display(), "backup key pair created");
    Ok(identity)
}

/// The key new backups are encrypted to: `backup.recipients`, else the appliance's own key pair.
pub fn configured_key(settings: &Settings) -> Result<BackupKey> {
    if settings.backup.recipients.is_empty() {
        let id = load_or_create_identity(&settings.data_dir)?;
        return Ok(BackupKey::Recipients(vec![id.to_public()]));
    }
    let recipients = settings
        .backup
        .recipients
        .iter()
        .map(|r| r.parse().map_err(|e: &str| BackupError::BadKey(e.to_owned())))
        .collect::<Result<Vec<_>>>()?;
    Ok(BackupKey::Recipients(recipients))
}

/// The appliance's own key pair as a restore key (`<data_dir>/backup-identity.txt`).
pub fn own_restore_key(data_dir: &Path) -> Result<RestoreKey> {
    Ok(RestoreKey::Identities(read_identities(
        &data_dir.join(IDENTITY_FILE),
    )?))
}

fn backup_name(at: OffsetDateTime) -> String {
    let stamp = at
        .to_offset(time::UtcOffset::UTC)
        .format(NAME_TIME)
        .unwrap_or_else(|_| at.unix_timestamp().to_string());
    format!("{FILE_PREFIX}{stamp}{FILE_SUFFIX}")
}

fn time_of_name(name: &str) -> Option<OffsetDateTime> {
    let stamp = name.strip_prefix(FILE_PREFIX)?.strip_suffix(FILE_SUFFIX)?;
    time::PrimitiveDateTime::parse(stamp, NAME_TIME)
        .ok()
        .map(|t| t.assume_utc())
}

fn sha256_of(path: &Path) -> Result<(String, u64)> {
    let mut file = File::open(path).map_err(io(path))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    let mut total = 0u64;
    loop {
        let n = file.read(&mut buf).map_err(io(path))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        total += n as u64;
    }
    Ok((hex::encode(hasher.finalize()), total))
}

/// Takes a backup of the database at `settings.database_path()` (the service may be running) into `out`,
/// or into `backup.dir` under a time-stamped name. Blocking: call from a blocking thread.
pub fn create_backup(
    settings: &Settings,
    key: &BackupKey,
    out: Option<&Path>,
    now: OffsetDateTime,
) -> Result<BackupInfo> {
    let db_path = settings.database_path();
    if !db_path.exists() {
        return Err(BackupError::Io {
            path: db_path,
            source: std::io::Error::new(std::io::ErrorKind::NotFound, "no database to back up"),
        });
    }
    let target = match out {
        Some(p) => p.to_owned(),
        None => {
            let dir = settings.backup_dir();
            std::fs::create_dir_all(&dir).map_err(io(&dir))?;
            std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).map_err(io(&dir))?;
            dir.join(backup_name(now))
        }
    };
    // The file name has millisecond resolution; so does the recorded time, so listings compare equal.
    let now = now
        .replace_nanosecond(now.nanosecond() / 1_000_000 * 1_000_000)
        .unwrap_or(now);
    // The plaintext snapshot stays inside the data directory (service user only) and is removed after.
    let plain = TempFile::beside(&settings.data_dir, "backup");
    db::snapshot(&db_path, &plain.0)?;
    let schema_version = db::verify_database(&plain.0)?;
    let (sha256, db_bytes) = sha256_of(&plain.0)?;
    let manifest = Manifest {
        format: BACKUP_FORMAT.to_owned(),
        created_at: now,
        schema_version,
        sha256,
        db_bytes,
    };
    let partial = TempFile(target.with_extension("partial"));
    {
        let file = create_private(&partial.0)?;
        let encryptor = match key {
            BackupKey::Recipients(rs) => {
                age::Encryptor::with_recipients(rs.iter().map(|r| r as &dyn age::Recipient))
                    .map_err(|e| BackupError::Encrypt(e.to_string()))?
            }
            BackupKey::Passphrase(p) => age::Encryptor::with_user_passphrase(p.clone()),
        };
        let mut writer = encryptor
            .wrap_output(BufWriter::new(file))
            .map_err(io(&partial.0))?;
        let line = serde_json::to_string(&manifest).map_err(|e| BackupError::Encrypt(e.to_string()))?;
        writer.write_all(line.as_bytes()).map_err(io(&partial.0))?;
        writer.write_all(b"\n").map_err(io(&partial.0))?;
        let mut src = File::open(&plain.0).map_err(io(&plain.0))?;
        std::io::copy(&mut src, &mut writer).map_err(io(&partial.0))?;
        let buffered = writer.finish().map_err(io(&partial.0))?;
        let file = buffered.into_inner().map_err(|e| BackupError::Io {
            path: partial.0.clone(),
            source: e.into_error(),
        })?;
        file.sync_all().map_err(io(&partial.0))?;
    }
    // Appears under its final name only when complete.
    std::fs::rename(&partial.0, &target).map_err(io(&target))?;
    write_sidecar(
        &target,
        &Sidecar {
            schema_version: manifest.schema_version,
            db_bytes: manifest.db_bytes,
            verified_at: None,
        },
    );
    let bytes = std::fs::metadata(&target).map_err(io(&target))?.len();
    info!(path = %target.display(), bytes, "backup written");
    Ok(BackupInfo {
        path: target,
        created_at: now,
        bytes,
    })
}

/// Backups in `dir`, oldest first (by the time in their names).
pub fn list_backups(dir: &Path) -> Result<Vec<BackupInfo>> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(io(dir)(e)),
    };
    let mut out = Vec::new();
    for entry in entries {
        let entry = entry.map_err(io(dir))?;
        let name = entry.file_name();
        let Some(created_at) = name.to_str().and_then(time_of_name) else {
            continue;
        };
        let bytes = entry.metadata().map_err(io(&entry.path()))?.len();
        out.push(BackupInfo {
            path: entry.path(),
            created_at,
            bytes,
        });
    }
    out.sort_by_key(|b| b.created_at);
    Ok(out)
}

/// Which backups rotation keeps within the age limit (`backup.keep_daily`, `keep_weekly`, `keep_monthly`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Rotation {
    pub daily: u32,
    pub weekly: u32,
    pub monthly: u32,
}

impl Rotation {
    /// The rotation of the config file.
    pub fn of(settings: &Settings) -> Rotation {
        Rotation {
            daily: settings.backup.keep_daily,
            weekly: settings.backup.keep_weekly,
            monthly: settings.backup.keep_monthly,
        }
    }
}

/// A calendar period of a UTC time, as (year, number within the year): its day, ISO week or month.
type PeriodOf = fn(OffsetDateTime) -> (i32, u32);

/// The backups to delete at `now`: every one older than `keep_days`; of the others, with a rotation, all
/// but the newest backup overall and the newest of each of the last `daily` days, `weekly` ISO weeks and
/// `monthly` months that have a backup (UTC). Pure.
pub fn rotation_victims(
    backups: &[BackupInfo],
    keep_days: u32,
    rotation: Rotation,
    now: OffsetDateTime,
) -> Vec<PathBuf> {
    let cutoff = now - DAY * keep_days;
    let mut young: Vec<&BackupInfo> = backups.iter().filter(|b| b.created_at >= cutoff).collect();
    young.sort_by_key(|b| std::cmp::Reverse(b.created_at));
    let mut keep: std::collections::HashSet<&Path> = std::collections::HashSet::new();
    if rotation == Rotation::default() {
        keep.extend(young.iter().map(|b| b.path.as_path()));
    } else {
        if let Some(newest) = young.first() {
            keep.insert(&newest.path);
        }
        let periods: [(u32, PeriodOf); 3] = [
            (rotation.daily, |t| (t.year(), u32::from(t.ordinal()))),
            (rotation.weekly, |t| {
                let (year, week, _) = t.to_iso_week_date();
                (year, u32::from(week))
            }),
            (rotation.monthly, |t| (t.year(), u32::from(u8::from(t.month())))),
        ];
        for (count, period_of) in periods {
            let mut seen = Vec::new();
            for b in &young {
                let period = period_of(b.created_at.to_offset(time::UtcOffset::UTC));
                if seen.contains(&period) {
                    continue;
                }
                if seen.len() as u32 >= count {
                    break;
                }
                seen.push(period);
                keep.insert(&b.path);
            }
        }
    }
    backups
        .iter()
        .filter(|b| !keep.contains(b.path.as_path()))
        .map(|b| b.path.clone())
        .collect()
}

/// Deletes backups in `dir` older than `keep_days` at `now`; returns what was deleted.
pub fn expire_backups(dir: &Path, keep_days: u32, now: OffsetDateTime) -> Result<Vec<PathBuf>> {
    expire_backups_rotated(dir, keep_days, Rotation::default(), now)
}

/// Deletes the backups in `dir` that [`rotation_victims`] names; returns what was deleted.
pub fn expire_backups_rotated(
    dir: &Path,
    keep_days: u32,
    rotation: Rotation,
    now: OffsetDateTime,
) -> Result<Vec<PathBuf>> {
    let all = list_backups(dir)?;
    let victims = rotation_victims(&all, keep_days, rotation, now);
    let mut gone = Vec::new();
    for b in all {
        if victims.contains(&b.path) {
            std::fs::remove_file(&b.path).map_err(io(&b.path))?;
            let _ = std::fs::remove_file(sidecar_path(&b.path));
            info!(path = %b.path.display(), "expired backup deleted");
            gone.push(b.path);
        }
    }
    Ok(gone)
}

fn map_decrypt(e: age::DecryptError) -> BackupError {
    match e {
        // At the header stage, DecryptionFailed is a passphrase that does not open the scrypt stanza;
        // damage to the payload shows up later as a read error.
        age::DecryptError::NoMatchingKeys
        | age::DecryptError::KeyDecryptionFailed
        | age::DecryptError::DecryptionFailed => BackupError::WrongKey,
        age::DecryptError::Io(e) => BackupError::Invalid(e.to_string()),
        other => BackupError::Invalid(other.to_string()),
    }
}

/// Decrypts `file` into a new database file `dest` and checks it: manifest, size, SHA-256, SQLite
/// integrity, schema not newer than this build. Returns the manifest.
fn decrypt_to(file: &Path, key: &RestoreKey, dest: &Path) -> Result<Manifest> {
    decrypt_to_with(file, key, dest, &|_| {})
}

/// Told how many bytes of the backup file have been read so far (for a progress bar).
pub type Progress<'a> = &'a (dyn Fn(u64) + Sync);

/// A reader that reports the bytes read through it.
struct Counting<'a, R> {
    inner: R,
    read: u64,
    progress: Progress<'a>,
}

impl<R: Read> Read for Counting<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read += n as u64;
        (self.progress)(self.read);
        Ok(n)
    }
}

fn decrypt_to_with(file: &Path, key: &RestoreKey, dest: &Path, progress: Progress<'_>) -> Result<Manifest> {
    let input = BufReader::new(Counting {
        inner: File::open(file).map_err(io(file))?,
        read: 0,
        progress,
    });
    let decryptor = age::Decryptor::new_buffered(input).map_err(map_decrypt)?;
    let scrypt_id;
    let identities: Vec<&dyn age::Identity> = match key {
        RestoreKey::Identities(ids) => ids.iter().map(|i| i as &dyn age::Identity).collect(),
        RestoreKey::Passphrase(p) => {
            scrypt_id = age::scrypt::Identity::new(p.clone());
            vec![&scrypt_id as &dyn age::Identity]
        }
    };
    let reader = decryptor.decrypt(identities.into_iter()).map_err(map_decrypt)?;
    let mut reader = BufReader::new(reader);
    let mut line = Vec::new();
    reader
        .by_ref()
        .take(MAX_MANIFEST as u64)
        .read_until(b'\n', &mut line)
        .map_err(|e| BackupError::Invalid(e.to_string()))?;
    let manifest: Manifest =
        serde_json::from_slice(&line).map_err(|e| BackupError::Invalid(format!("bad manifest: {e}")))?;
    if manifest.format != BACKUP_FORMAT {
        return Err(BackupError::Invalid(format!(
            "unknown format {:?}",
            manifest.format
        )));
    }
    if manifest.schema_version > SCHEMA_VERSION {
        return Err(BackupError::NewerSchema {
            found: manifest.schema_version,
            supported: SCHEMA_VERSION,
        });
    }
    {
        let mut out = BufWriter::new(create_private(dest)?);
        std::io::copy(&mut reader, &mut out).map_err(|e| BackupError::Invalid(e.to_string()))?;
        let file = out.into_inner().map_err(|e| BackupError::Io {
            path: dest.to_owned(),
            source: e.into_error(),
        })?;
        file.sync_all().map_err(io(dest))?;
    }
    let (sha, bytes) = sha256_of(dest)?;
    if bytes != manifest.db_bytes || sha != manifest.sha256 {
        return Err(BackupError::Invalid("checksum mismatch".into()));
    }
    let version = db::verify_database(dest)
        .map_err(|e| BackupError::Invalid(format!("the database inside fails its check: {e}")))?;
    if version != manifest.schema_version {
        return Err(BackupError::Invalid(
            "schema version differs from the manifest".into(),
        ));
    }
    Ok(manifest)
}

/// Decrypts and checks a backup into the new file `dest` (e.g. to inspect it with `sqlite3`); `dest`
/// is left behind only when every check passed.
pub fn decrypt_backup(file: &Path, key: &RestoreKey, dest: &Path) -> Result<Manifest> {
    let result = decrypt_to(file, key, dest);
    if result.is_err() {
        let _ = std::fs::remove_file(dest);
    }
    result
}

/// Decrypts and checks a backup without restoring it; a pass is recorded beside a backup of the service's
/// own naming (see [`Sidecar`]).
pub fn verify_backup(file: &Path, key: &RestoreKey, scratch_dir: &Path) -> Result<Manifest> {
    verify_backup_with(file, key, scratch_dir, &|_| {})
}

/// [`verify_backup`], reporting the bytes of `file` read so far to `progress`.
pub fn verify_backup_with(
    file: &Path,
    key: &RestoreKey,
    scratch_dir: &Path,
    progress: Progress<'_>,
) -> Result<Manifest> {
    std::fs::create_dir_all(scratch_dir).map_err(io(scratch_dir))?;
    let tmp = TempFile::beside(scratch_dir, "verify");
    let manifest = decrypt_to_with(file, key, &tmp.0, progress)?;
    // Only beside the service's own backups: verifying a copy elsewhere (a USB stick) leaves no trace.
    if file
        .file_name()
        .and_then(|n| n.to_str())
        .and_then(time_of_name)
        .is_some()
    {
        write_sidecar(
            file,
            &Sidecar {
                schema_version: manifest.schema_version,
                db_bytes: manifest.db_bytes,
                verified_at: Some(OffsetDateTime::now_utc()),
            },
        );
    }
    Ok(manifest)
}

/// What is known about a backup without decrypting it, kept in `<backup>.json` beside it: written when
/// the backup is taken and again when it passes a verification. Holds no data of the database (schema
/// version, size, time of the last good verification), so it may sit unencrypted next to the backup.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sidecar {
    pub schema_version: usize,
    pub db_bytes: u64,
    #[serde(with = "time::serde::rfc3339::option", default)]
    pub verified_at: Option<OffsetDateTime>,
}

fn sidecar_path(backup: &Path) -> PathBuf {
    let mut p = backup.as_os_str().to_owned();
    p.push(".json");
    PathBuf::from(p)
}

/// Best effort: a missing sidecar only means the panel shows "unknown" until the next verification.
fn write_sidecar(backup: &Path, sidecar: &Sidecar) {
    let path = sidecar_path(backup);
    let written = serde_json::to_vec(sidecar)
        .map_err(std::io::Error::other)
        .and_then(|json| {
            let tmp = path.with_extension("json.tmp");
            let _ = std::fs::remove_file(&tmp);
            let mut f = OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&tmp)?;
            f.write_all(&json)?;
            std::fs::rename(&tmp, &path)
        });
    if let Err(e) = written {
        warn!(path = %path.display(), error = %e, "cannot write the backup's sidecar");
    }
}

/// The sidecar of `backup`, if present and readable.
pub fn read_sidecar(backup: &Path) -> Option<Sidecar> {
    let bytes = std::fs::read(sidecar_path(backup)).ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// The backup called `name` in `dir`: only names the service itself gives (`smsgate-<time>.db.age`),
/// so a request cannot point outside the backup directory.
pub fn backup_by_name(dir: &Path, name: &str) -> Option<PathBuf> {
    time_of_name(name)?;
    if name.contains('/') || name.contains('\\') {
        return None;
    }
    let path = dir.join(name);
    path.is_file().then_some(path)
}

/// An exclusive lock on the data directory held by the running service (`<data_dir>/smsgate.lock`).
#[derive(Debug)]
pub struct DataDirLock {
    _lock: nix::fcntl::Flock<File>,
}

/// Takes the data directory's lock; `ServiceRunning` if someone (the service) holds it.
pub fn lock_data_dir(data_dir: &Path) -> Result<DataDirLock> {
    std::fs::create_dir_all(data_dir).map_err(io(data_dir))?;
    let path = data_dir.join("smsgate.lock");
    let file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .open(&path)
        .map_err(io(&path))?;
    nix::fcntl::Flock::lock(file, nix::fcntl::FlockArg::LockExclusiveNonblock)
        .map(|lock| DataDirLock { _lock: lock })
        .map_err(|(_, errno)| match errno {
            nix::errno::Errno::EWOULDBLOCK => BackupError::ServiceRunning(data_dir.to_owned()),
            other => BackupError::Io {
                path,
                source: std::io::Error::from(other),
            },
        })
}

/// Replaces the database of a stopped service with the backup `file`. Everything is checked on a
/// decrypted copy first; the live database is replaced (atomically, by rename) only if all checks pass,
/// so a wrong key or a damaged backup leaves it untouched. An older schema is migrated at the next start.
pub fn restore_backup(settings: &Settings, file: &Path, key: &RestoreKey) -> Result<Manifest> {
    restore_backup_with(settings, file, key, &|_| {})
}

/// [`restore_backup`], reporting the bytes of `file` read so far to `progress`.
pub fn restore_backup_with(
    settings: &Settings,
    file: &Path,
    key: &RestoreKey,
    progress: Progress<'_>,
) -> Result<Manifest> {
    let _lock = lock_data_dir(&settings.data_dir)?;
    restore_unlocked(settings, file, key, progress)
}

/// [`restore_backup`] for a caller that already holds the data directory's lock.
fn restore_unlocked(
    settings: &Settings,
    file: &Path,
    key: &RestoreKey,
    progress: Progress<'_>,
) -> Result<Manifest> {
    let tmp = TempFile::beside(&settings.data_dir, "restore");
    let manifest = decrypt_to_with(file, key, &tmp.0, progress)?;
    let db_path = settings.database_path();
    for suffix in ["-wal", "-shm"] {
        let mut side = db_path.clone().into_os_string();
        side.push(suffix);
        match std::fs::remove_file(&side) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(io(Path::new(&side))(e)),
        }
    }
    std::fs::rename(&tmp.0, &db_path).map_err(io(&db_path))?;
    info!(from = %file.display(), "database restored from backup");
    Ok(manifest)
}

impl Gateway {
    /// Takes a backup now into `backup.dir` and deletes backups older than `backup.keep_days`.
    pub async fn backup_now(&self) -> std::result::Result<BackupInfo, BackupError> {
        let settings = self.inner.settings.clone();
        let now = crate::store::ms_to_datetime(self.now_ms());
        let keep_days = self.backup_keep_days();
        tokio::task::spawn_blocking(move || {
            let key = configured_key(&settings)?;
            let info = create_backup(&settings, &key, None, now)?;
            expire_backups_rotated(&settings.backup_dir(), keep_days, Rotation::of(&settings), now)?;
            Ok(info)
        })
        .await
        .map_err(|e| BackupError::Encrypt(e.to_string()))?
    }

    /// Deletes backups older than the backup period (`backup.keep_days`, capped at `retention.days`) and
    /// those the rotation (`backup.keep_daily/weekly/monthly`) does not keep, now;
    /// run by the hourly retention sweep too, so backups expire even when none are being taken. The
    /// deleted files are audited (`backup.expired`).
    pub async fn expire_backups_now(&self) -> std::result::Result<Vec<PathBuf>, BackupError> {
        let dir = self.inner.settings.backup_dir();
        let keep_days = self.backup_keep_days();
        let rotation = Rotation::of(&self.inner.settings);
        let now = crate::store::ms_to_datetime(self.now_ms());
        let gone =
            tokio::task::spawn_blocking(move || expire_backups_rotated(&dir, keep_days, rotation, now))
                .await
                .map_err(|e| BackupError::Encrypt(e.to_string()))??;
        if !gone.is_empty() {
            let names: Vec<String> = gone
                .iter()
                .filter_map(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
                .collect();
            self.audit(
                None,
                None,
                None,
                "backup.expired",
                Some(format!("keep_days={keep_days} files={}", names.join(","))),
            )
            .await;
        }
        Ok(gone)
    }

    /// Starts the scheduled backups (`backup.interval_hours`, first one an interval after start).
    pub(crate) fn spawn_backups(&self) {
        let hours = self.inner.settings.backup.interval_hours;
        if hours == 0 {
            return;
        }
        let period = Duration::from_secs(u64::from(hours) * 3600);
        let gw = self.clone();
        let stop = self.inner.inbound.stop.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
            loop {
                tokio::select! {
                    _ = tick.tick() => {
                        match gw.backup_now().await {
                            Ok(b) => {
                                gw.audit(None, None, None, "backup.created",
                                    Some(format!("file={} bytes={}", b.path.display(), b.bytes))).await;
                            }
                            Err(e) => warn!(error = %e, "scheduled backup failed"),
                        }
                    }
                    _ = stop.cancelled() => break,
                }
            }
        });
    }
}

/// File in the data directory naming a backup to restore at the next start of the service (staged from
/// the panel: replacing the database under the running service would pull it away from every task).
pub const STAGED_RESTORE_FILE: &str = "restore-staged.json";

/// A restore staged from the panel, carried out at the next start.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StagedRestore {
    pub backup: PathBuf,
    pub requested_by: String,
    #[serde(with = "time::serde::rfc3339")]
    pub requested_at: OffsetDateTime,
    pub source_ip: Option<String>,
    /// Schema version of the backup (checked when staged).
    pub schema_version: usize,
}

/// The restore staged in `data_dir`, if any.
pub fn staged_restore(data_dir: &Path) -> Option<StagedRestore> {
    let bytes = std::fs::read(data_dir.join(STAGED_RESTORE_FILE)).ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// What [`apply_staged_restore`] did, for the audit log of the restored database.
#[derive(Debug, Clone)]
pub struct AppliedRestore {
    pub staged: StagedRestore,
    /// The database replaced, saved as a backup first.
    pub previous: BackupInfo,
    pub manifest: Manifest,
}

/// At service start, with the data directory's lock held and before the database is opened: carries out a
/// restore staged from the panel. The database about to be replaced is first saved as a new backup (a
/// wrong choice can be undone), then the staged backup is checked and restored exactly as by
/// `smsgate backup restore`. The marker is removed first, whatever the outcome, so a failing restore
/// cannot repeat at every start.
pub fn apply_staged_restore(settings: &Settings) -> Result<Option<AppliedRestore>> {
    let marker = settings.data_dir.join(STAGED_RESTORE_FILE);
    let Some(staged) = staged_restore(&settings.data_dir) else {
        if marker.exists() {
            warn!(path = %marker.display(), "unreadable staged restore ignored and removed");
            std::fs::remove_file(&marker).map_err(io(&marker))?;
        }
        return Ok(None);
    };
    std::fs::remove_file(&marker).map_err(io(&marker))?;
    if !staged.backup.is_file() {
        return Err(io(&staged.backup)(std::io::Error::new(
            std::io::ErrorKind::NotFound,
            "the staged backup is gone",
        )));
    }
    let key = own_restore_key(&settings.data_dir)?;
    let previous = create_backup(
        settings,
        &configured_key(settings)?,
        None,
        OffsetDateTime::now_utc(),
    )?;
    let manifest = restore_unlocked(settings, &staged.backup, &key, &|_| {})?;
    info!(backup = %staged.backup.display(), by = %staged.requested_by, "staged restore carried out");
    Ok(Some(AppliedRestore {
        staged,
        previous,
        manifest,
    }))
}

/// One backup as the panel lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackupEntry {
    pub name: String,
    pub info: BackupInfo,
    /// Schema and last good verification, when known.
    pub sidecar: Option<Sidecar>,
}

impl From<BackupError> for super::AppError {
    fn from(e: BackupError) -> Self {
        match e {
            BackupError::WrongKey
            | BackupError::Invalid(_)
            | BackupError::NewerSchema { .. }
            | BackupError::BadKey(_)
            | BackupError::ServiceRunning(_) => super::AppError::validation("backup", e.to_string()),
            other => super::AppError::Internal(other.to_string()),
        }
    }
}

impl Gateway {
    /// The backups in `backup.dir`, newest first: admins only.
    pub async fn backups(&self, who: &super::Principal) -> super::AppResult<Vec<BackupEntry>> {
        who.require_admin()?;
        let dir = self.inner.settings.backup_dir();
        let mut list = tokio::task::spawn_blocking(move || list_backups(&dir))
            .await
            .map_err(|e| super::AppError::Internal(e.to_string()))??;
        list.reverse();
        Ok(list
            .into_iter()
            .map(|info| BackupEntry {
                name: info
                    .path
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default(),
                sidecar: read_sidecar(&info.path),
                info,
            })
            .collect())
    }

    /// Takes a backup now on an admin's request (audited `backup.created` with the admin's name).
    pub async fn take_backup(
        &self,
        who: &super::Principal,
        source_ip: Option<String>,
    ) -> super::AppResult<BackupInfo> {
        who.require_admin()?;
        let info = self.backup_now().await?;
        self.audit(
            Some(who),
            None,
            source_ip,
            "backup.created",
            Some(format!("file={} bytes={}", info.path.display(), info.bytes)),
        )
        .await;
        Ok(info)
    }

    fn named_backup(&self, name: &str) -> super::AppResult<PathBuf> {
        backup_by_name(&self.inner.settings.backup_dir(), name).ok_or(super::AppError::NotFound("backup"))
    }

    /// Decrypts and checks a backup with the appliance's own key (audited either way).
    pub async fn verify_named_backup(
        &self,
        who: &super::Principal,
        name: &str,
        source_ip: Option<String>,
    ) -> super::AppResult<Manifest> {
        who.require_admin()?;
        let path = self.named_backup(name)?;
        let data_dir = self.inner.settings.data_dir.clone();
        let result = tokio::task::spawn_blocking(move || {
            let key = own_restore_key(&data_dir)?;
            verify_backup(&path, &key, &data_dir)
        })
        .await
        .map_err(|e| super::AppError::Internal(e.to_string()))?;
        let (action, details) = match &result {
            Ok(m) => (
                "backup.verified",
                format!("file={name} schema={}", m.schema_version),
            ),
            Err(e) => ("backup.verify_failed", format!("file={name} error={e}")),
        };
        self.audit(Some(who), None, source_ip, action, Some(details))
            .await;
        Ok(result?)
    }

    /// The file of a backup for download: admins only, audited (`backup.downloaded`). The file stays
    /// encrypted; without the key it is unreadable.
    pub async fn backup_for_download(
        &self,
        who: &super::Principal,
        name: &str,
        source_ip: Option<String>,
    ) -> super::AppResult<PathBuf> {
        who.require_admin()?;
        let path = self.named_backup(name)?;
        self.audit(
            Some(who),
            None,
            source_ip,
            "backup.downloaded",
            Some(format!("file={name}")),
        )
        .await;
        Ok(path)
    }

    /// Stages a restore of backup `name` for the next start of the service, after checking it completely
    /// (decryption with the appliance's key, checksum, integrity, schema). Audited `backup.restore_staged`.
    pub async fn stage_restore(
        &self,
        who: &super::Principal,
        name: &str,
        source_ip: Option<String>,
    ) -> super::AppResult<StagedRestore> {
        let manifest = self.verify_named_backup(who, name, source_ip.clone()).await?;
        let staged = StagedRestore {
            backup: self.named_backup(name)?,
            requested_by: who.login.clone(),
            requested_at: crate::store::ms_to_datetime(self.now_ms()),
            source_ip: source_ip.clone(),
            schema_version: manifest.schema_version,
        };
        let marker = self.inner.settings.data_dir.join(STAGED_RESTORE_FILE);
        let json = serde_json::to_vec(&staged).map_err(|e| super::AppError::Internal(e.to_string()))?;
        tokio::task::spawn_blocking(move || -> Result<()> {
            let tmp = marker.with_extension("tmp");
            let _ = std::fs::remove_file(&tmp);
            let mut f = create_private(&tmp)?;
            f.write_all(&json).map_err(io(&tmp))?;
            f.sync_all().map_err(io(&tmp))?;
            std::fs::rename(&tmp, &marker).map_err(io(&marker))
        })
        .await
        .map_err(|e| super::AppError::Internal(e.to_string()))??;
        self.audit(
            Some(who),
            None,
            source_ip,
            "backup.restore_staged",
            Some(format!("file={name} schema={}", manifest.schema_version)),
        )
        .await;
        Ok(staged)
    }

    /// The restore staged for the next start, if any (admins only).
    pub fn staged_restore(&self, who: &super::Principal) -> super::AppResult<Option<StagedRestore>> {
        who.require_admin()?;
        Ok(staged_restore(&self.inner.settings.data_dir))
    }

    /// Withdraws a staged restore (audited `backup.restore_cancelled`).
    pub async fn cancel_staged_restore(
        &self,
        who: &super::Principal,
        source_ip: Option<String>,
    ) -> super::AppResult<()> {
        who.require_admin()?;
        let marker = self.inner.settings.data_dir.join(STAGED_RESTORE_FILE);
        match std::fs::remove_file(&marker) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(super::AppError::NotFound("staged restore"));
            }
            Err(e) => return Err(super::AppError::Internal(e.to_string())),
        }
        self.audit(Some(who), None, source_ip, "backup.restore_cancelled", None)
            .await;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(days_ago: i64, hour: u8) -> BackupInfo {
        // Wednesday 2026-11-25 12:00 UTC is "now"; ages count back from midnight of that day.
        let base = time::macros::datetime!(2026-11-25 00:00 UTC);
        let t = base - time::Duration::days(days_ago) + time::Duration::hours(i64::from(hour));
        BackupInfo {
            path: PathBuf::from(format!("b-{days_ago}-{hour}")),
            created_at: t,
            bytes: 1,
        }
    }

    fn names(v: &[PathBuf]) -> Vec<String> {
        let mut n: Vec<String> = v.iter().map(|p| p.display().to_string()).collect();
        n.sort();
        n
    }

    #[test]
    fn rotation_keeps_the_newest_of_each_period() {
        let now = time::macros::datetime!(2026-11-25 12:00 UTC);
        let check = |backups: Vec<BackupInfo>, keep_days: u32, r: (u32, u32, u32), expect: &[&str]| {
            let rotation = Rotation {
                daily: r.0,
                weekly: r.1,
                monthly: r.2,
            };
            let mut want: Vec<String> = expect.iter().map(|s| s.to_string()).collect();
            want.sort();
            assert_eq!(
                names(&rotation_victims(&backups, keep_days, rotation, now)),
                want,
                "{r:?}"
            );
        };
        // No rotation: only the age limit.
        check(vec![at(0, 1), at(0, 2), at(40, 0)], 30, (0, 0, 0), &["b-40-0"]);
        // Daily: the newest of each of the last 2 days with backups; the third day goes.
        check(
            vec![at(0, 1), at(0, 2), at(1, 5), at(2, 5)],
            730,
            (2, 0, 0),
            &["b-0-1", "b-2-5"],
        );
        // Weekly on top: 2026-11-25 is in ISO week 48; 10 and 17 days back are weeks 46 and 45.
        check(
            vec![at(0, 1), at(1, 1), at(10, 1), at(17, 1), at(18, 1)],
            730,
            (1, 3, 0),
            &["b-1-1", "b-18-1"],
        );
        // Monthly: the newest of each of the last 2 months (November, October); September goes; and
        // nothing survives past keep_days, whatever the rotation.
        check(
            vec![at(0, 1), at(30, 1), at(40, 1), at(70, 1)],
            730,
            (0, 0, 2),
            &["b-40-1", "b-70-1"],
        );
        check(vec![at(0, 1), at(70, 1)], 60, (0, 0, 24), &["b-70-1"]);
        // The newest backup is always kept.
        check(vec![at(3, 1)], 730, (1, 0, 0), &[]);
        check(vec![], 730, (14, 8, 24), &[]);
    }
}
