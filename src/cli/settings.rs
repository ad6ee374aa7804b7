//! Settings for the offline administration commands (`backup`, `account`): the same `--config` /
//! `--data-dir` rules as `smsgate serve`, so they act on the data directory the service uses.
use std::path::PathBuf;

use clap::Args;
use smsgate::config::Settings;

use super::serve::DEFAULT_DATA_DIR;

/// Where the service's data is.
#[derive(Debug, Args)]
pub struct DataArgs {
    /// Configuration file of the service (TOML). Without it every setting has its default.
    #[arg(long, value_name = "FILE", global = true)]
    pub config: Option<PathBuf>,
    /// Data directory; overrides `data_dir` from the config file. Default: `./data` without a config file.
    #[arg(long, value_name = "DIR", global = true)]
    pub data_dir: Option<PathBuf>,
}

impl DataArgs {
    /// The settings these arguments select, validated.
    pub fn settings(&self) -> anyhow::Result<Settings> {
        let mut settings = match &self.config {
            Some(path) => Settings::load(path)?,
            None => Settings::default_with_data_dir(DEFAULT_DATA_DIR),
        };
        if let Some(dir) = &self.data_dir {
            settings.data_dir = dir.clone();
        }
        settings.validate()?;
        Ok(settings)
    }
}

/// Who runs a command, for the audit log.
pub fn cli_actor() -> String {
    let user = std::env::var("SUDO_USER")
        .or_else(|_| std::env::var("USER"))
        .unwrap_or_else(|_| "unknown".to_owned());
    format!("cli:{user}")
}
