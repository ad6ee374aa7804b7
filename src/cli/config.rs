//! `smsgate config check FILE` and `smsgate config defaults`: validate a configuration file with a clear
//! message naming the offending key, or print the default configuration.
use std::path::PathBuf;

use clap::{Args, Subcommand};
use smsgate::config::Settings;

#[derive(Debug, Args)]
pub struct ConfigArgs {
    #[command(subcommand)]
    pub command: ConfigCommand,
}

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Parse and validate a config file; exit status 1 with the reason when it is invalid.
    Check {
        /// The file to check, e.g. /etc/smsgate/smsgate.toml.
        file: PathBuf,
    },
    /// Print the default configuration as TOML.
    Defaults,
}

pub fn run(args: ConfigArgs) -> anyhow::Result<()> {
    match args.command {
        ConfigCommand::Check { file } => {
            let settings = Settings::load(&file)?;
            println!(
                "{}: valid (schema version {}, data_dir {}, {} configured modem(s), HTTPS on {})",
                file.display(),
                settings.version,
                settings.data_dir.display(),
                settings.modems.len(),
                settings
                    .http
                    .listen
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            Ok(())
        }
        ConfigCommand::Defaults => {
            print!("{}", Settings::default().to_toml()?);
            Ok(())
        }
    }
}
