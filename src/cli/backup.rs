//! `smsgate backup create|list|verify|restore`: encrypted backups of the service's database. `create`
//! works while the service runs (SQLite online backup); `restore` refuses while it runs.
use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, Subcommand};
use smsgate::app::backup::{
    BackupKey, IDENTITY_FILE, RestoreKey, Rotation, configured_key, create_backup, expire_backups_rotated,
    list_backups, read_identities, read_sidecar, restore_backup_with, verify_backup_with,
};
use smsgate::config::Settings;

use super::settings::DataArgs;

/// Environment variable holding the passphrase for `--passphrase`.
pub const PASSPHRASE_ENV: &str = "SMSGATE_BACKUP_PASSPHRASE";

#[derive(Debug, Args)]
pub struct BackupArgs {
    #[command(flatten)]
    pub data: DataArgs,
    #[command(subcommand)]
    pub command: BackupCommand,
}

/// How to open a backup.
#[derive(Debug, Args)]
pub struct KeyArgs {
    /// age identity file with the secret key (default: `<data_dir>/backup-identity.txt`).
    #[arg(long, value_name = "FILE")]
    pub identity: Option<PathBuf>,
    /// Use the passphrase in the environment variable SMSGATE_BACKUP_PASSPHRASE instead of a key.
    #[arg(long)]
    pub passphrase: bool,
}

#[derive(Debug, Subcommand)]
pub enum BackupCommand {
    /// Take an encrypted backup now (the service may keep running).
    Create {
        /// Write the backup here instead of `backup.dir` (then no old backups are expired).
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
        /// Encrypt with the passphrase in SMSGATE_BACKUP_PASSPHRASE instead of the configured keys.
        #[arg(long)]
        passphrase: bool,
    },
    /// List the backups in `backup.dir`, oldest first.
    List,
    /// Decrypt and check a backup (checksum, SQLite integrity, schema) without restoring it.
    Verify {
        file: PathBuf,
        #[command(flatten)]
        key: KeyArgs,
    },
    /// Replace the database of the stopped service with a backup (checked first; nothing is overwritten
    /// when the check fails).
    Restore {
        file: PathBuf,
        #[command(flatten)]
        key: KeyArgs,
    },
}

fn passphrase() -> anyhow::Result<age::secrecy::SecretString> {
    let p = std::env::var(PASSPHRASE_ENV).with_context(|| format!("--passphrase needs {PASSPHRASE_ENV}"))?;
    anyhow::ensure!(!p.is_empty(), "{PASSPHRASE_ENV} is empty");
    Ok(p.into())
}

fn restore_key(settings: &Settings, key: &KeyArgs) -> anyhow::Result<RestoreKey> {
    if key.passphrase {
        return Ok(RestoreKey::Passphrase(passphrase()?));
    }
    let path = key
        .identity
        .clone()
        .unwrap_or_else(|| settings.data_dir.join(IDENTITY_FILE));
    Ok(RestoreKey::Identities(read_identities(&path)?))
}

/// A progress bar over the bytes of `file` on stderr (hidden when stderr is not a terminal).
fn progress_bar(file: &std::path::Path) -> indicatif::ProgressBar {
    let len = std::fs::metadata(file).map(|m| m.len()).unwrap_or(0);
    let bar = indicatif::ProgressBar::new(len);
    if let Ok(style) =
        indicatif::ProgressStyle::with_template("{msg} [{bar:40}] {bytes}/{total_bytes} ({eta})")
    {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.set_message(file.display().to_string());
    bar
}

pub fn run(args: BackupArgs) -> anyhow::Result<()> {
    let settings = args.data.settings()?;
    match args.command {
        BackupCommand::Create { out, passphrase: p } => {
            let key = if p {
                BackupKey::Passphrase(passphrase()?)
            } else {
                configured_key(&settings)?
            };
            let now = time::OffsetDateTime::now_utc();
            let info = create_backup(&settings, &key, out.as_deref(), now)?;
            println!("{} ({} bytes)", info.path.display(), info.bytes);
            if out.is_none() {
                let dir = settings.backup_dir();
                let rotation = Rotation::of(&settings);
                for gone in expire_backups_rotated(&dir, settings.backup_keep_days(), rotation, now)? {
                    println!("expired {}", gone.display());
                }
            }
        }
        BackupCommand::List => {
            for b in list_backups(&settings.backup_dir())? {
                let at = b
                    .created_at
                    .format(&time::format_description::well_known::Rfc3339)
                    .unwrap_or_default();
                // Schema and last verification from the sidecar (unknown for backups of older builds).
                let side = read_sidecar(&b.path);
                let schema = side
                    .as_ref()
                    .map_or_else(|| "?".to_owned(), |s| format!("v{}", s.schema_version));
                let verified = side
                    .and_then(|s| s.verified_at)
                    .and_then(|t| t.format(&time::format_description::well_known::Rfc3339).ok())
                    .map_or_else(|| "not verified".to_owned(), |t| format!("verified {t}"));
                println!(
                    "{at}  {:>12}  {schema:>4}  {verified:<33}  {}",
                    b.bytes,
                    b.path.display()
                );
            }
        }
        BackupCommand::Verify { file, key } => {
            let key = restore_key(&settings, &key)?;
            let bar = progress_bar(&file);
            let m = verify_backup_with(&file, &key, &settings.data_dir, &|n| bar.set_position(n));
            bar.finish_and_clear();
            let m = m?;
            println!(
                "{}: valid (taken {}, schema version {}, {} database bytes)",
                file.display(),
                m.created_at,
                m.schema_version,
                m.db_bytes
            );
        }
        BackupCommand::Restore { file, key } => {
            let key = restore_key(&settings, &key)?;
            let bar = progress_bar(&file);
            let m = restore_backup_with(&settings, &file, &key, &|n| bar.set_position(n));
            bar.finish_and_clear();
            let m = m?;
            println!(
                "restored {} (taken {}, schema version {}) into {}",
                file.display(),
                m.created_at,
                m.schema_version,
                settings.database_path().display()
            );
        }
    }
    Ok(())
}
