//! Command-line surface of the `smsgate` binary. Each subcommand lives in its own file.
use clap::{Parser, Subcommand};

pub mod account;
pub mod account_delete;
pub mod backup;
pub mod bench;
pub mod cluster;
pub mod config;
pub mod modem;
pub mod modem_remote;
pub mod pdu;
pub mod serve;
pub mod settings;
pub mod status;

/// smsgate: SMS gateway appliance service.
#[derive(Debug, Parser)]
#[command(name = "smsgate", version, about)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Encode or decode SMS PDUs (3GPP TS 23.040).
    Pdu(pdu::PduArgs),
    /// Technician tools for modems: list, info, raw AT, test SMS, USSD, restart (through a running
    /// gateway, or directly on a port with --port).
    Modem(modem::ModemArgs),
    /// Validate a configuration file or print the defaults.
    Config(config::ConfigArgs),
    /// Run the gateway service (HTTPS API, Kannel shim, webhooks) until SIGTERM/SIGINT.
    Serve(serve::ServeArgs),
    /// Manage accounts, client certificates, IP pools and data deletion on the data directory.
    Account(account::AccountArgs),
    /// Benchmark smsgate and peer daemons on a simulated modem bank (see BENCHMARKS.md).
    Bench(bench::BenchArgs),
    /// Encrypted backups: create (while running), list, verify, restore (service stopped).
    Backup(backup::BackupArgs),
    /// Multi-site cluster: status of nodes and leases, certificates for PostgreSQL, WireGuard files.
    Cluster(cluster::ClusterArgs),
    /// The running gateway at a glance: modems, queue, backup, readiness (exit 1 when not ready).
    Status(status::StatusArgs),
}

pub fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Pdu(args) => pdu::run(args),
        Command::Modem(args) => modem::run(args),
        Command::Serve(args) => serve::run(args),
        Command::Config(args) => config::run(args),
        Command::Account(args) => account::run(args),
        Command::Bench(args) => bench::run(args),
        Command::Backup(args) => backup::run(args),
        Command::Cluster(args) => cluster::run(args),
        Command::Status(args) => status::run(args),
    }
}
