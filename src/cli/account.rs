//! `smsgate account …`: manage accounts and their authentication stages on the data directory, without a
//! running service (usable before the panel exists). Every change is written to the audit log with the
//! actor `cli:<unix user>`.
use std::path::PathBuf;
use std::str::FromStr;

use anyhow::{Context, anyhow, bail};
use clap::{Args, Subcommand};

use super::settings::DataArgs;

use smsgate::app::{Gateway, Principal, Role};
use smsgate::auth::{PasswordHasher, PasswordPolicy, generate_password};
use smsgate::store::AccountId;

/// Environment variable with the password for `create` and `passwd` (otherwise one is generated).
pub const PASSWORD_ENV: &str = "SMSGATE_ACCOUNT_PASSWORD";

/// Arguments of `smsgate account`.
#[derive(Debug, Args)]
pub struct AccountArgs {
    #[command(flatten)]
    pub data: DataArgs,
    #[command(subcommand)]
    pub action: AccountAction,
}

/// What to do.
#[derive(Debug, Subcommand)]
pub enum AccountAction {
    #[command(flatten)]
    Manage(ManageAction),
    /// Delete the account LOGIN and all its data (messages, reports, inbox, tokens, webhooks, files).
    DeleteData {
        /// Login of the account.
        login: String,
    },
}

/// Changes made through the gateway's services on the data directory.
#[derive(Debug, Subcommand)]
pub enum ManageAction {
    /// Create an account (password from $SMSGATE_ACCOUNT_PASSWORD, else generated and printed once).
    Create {
        login: String,
        #[arg(long, default_value = "client", value_parser = ["admin", "technician", "client"])]
        role: String,
    },
    /// List accounts with their stages.
    List,
    /// Set a new password (from $SMSGATE_ACCOUNT_PASSWORD, else generated and printed once).
    Passwd { login: String },
    /// Lock (disable) an account.
    Lock { login: String },
    /// Unlock (enable) an account.
    Unlock { login: String },
    /// Require, or stop requiring, a client certificate.
    RequireCert {
        login: String,
        #[arg(long, action = clap::ArgAction::Set, default_value_t = true)]
        on: bool,
    },
    /// Client certificates of an account.
    #[command(subcommand)]
    Cert(CertAction),
    /// The IP pool of an account.
    #[command(subcommand, name = "ip-pool")]
    IpPool(PoolAction),
}

/// `smsgate account cert …`.
#[derive(Debug, Subcommand)]
pub enum CertAction {
    /// Issue a client certificate from the appliance CA; writes <out>.crt.pem, <out>.key.pem, <out>.ca.pem.
    Issue {
        login: String,
        #[arg(long, default_value_t = 365)]
        days: u32,
        /// Path prefix of the files written (default: the login).
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Pin a customer's certificate (PEM/DER), or with --ca accept every certificate of a customer CA.
    Upload {
        login: String,
        file: PathBuf,
        #[arg(long)]
        ca: bool,
    },
    /// Revoke a bound certificate by id (see `cert list`), or by certificate file with --file.
    Revoke {
        login: String,
        id: Option<i64>,
        #[arg(long)]
        file: Option<PathBuf>,
    },
    /// List the certificates bound to an account.
    List { login: String },
}

/// `smsgate account ip-pool …`.
#[derive(Debug, Subcommand)]
pub enum PoolAction {
    /// Replace the pool: addresses or CIDR ranges (IPv4/IPv6); no entry clears it.
    Set { login: String, entries: Vec<String> },
    /// Show the pool.
    Show { login: String },
}

/// Runs `smsgate account`.
pub fn run(args: AccountArgs) -> anyhow::Result<()> {
    let settings = args.data.settings()?;
    match args.action {
        AccountAction::DeleteData { login } => super::account_delete::delete_data(settings, &login),
        AccountAction::Manage(action) => {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            runtime.block_on(run_async(settings, action))
        }
    }
}

fn cli_actor() -> Principal {
    let user = std::env::var("USER").unwrap_or_else(|_| "unknown".into());
    Principal {
        account_id: AccountId(0),
        login: format!("cli:{user}"),
        role: Role::Admin,
    }
}

async fn account_id(gateway: &Gateway, login: &str) -> anyhow::Result<AccountId> {
    gateway
        .find_account_by_login(login)
        .await?
        .map(|a| a.id)
        .ok_or_else(|| anyhow!("no account with login {login:?}"))
}

fn password_for(login: &str) -> anyhow::Result<(String, bool)> {
    match std::env::var(PASSWORD_ENV) {
        Ok(p) => {
            PasswordPolicy::default()
                .check(login, &p)
                .with_context(|| format!("{PASSWORD_ENV} does not satisfy the password policy"))?;
            Ok((p, false))
        }
        Err(_) => Ok((generate_password(), true)),
    }
}

async fn run_async(settings: smsgate::config::Settings, action: ManageAction) -> anyhow::Result<()> {
    std::fs::create_dir_all(&settings.data_dir)
        .with_context(|| format!("cannot create {}", settings.data_dir.display()))?;
    let (gateway, _handles) = Gateway::open_for_admin(settings).await?;
    let result = act(&gateway, action).await;
    gateway.shutdown().await;
    result
}

async fn act(gateway: &Gateway, action: ManageAction) -> anyhow::Result<()> {
    let who = cli_actor();
    let hasher = PasswordHasher::default();
    match action {
        ManageAction::Create { login, role } => {
            let role = Role::from_str(&role).map_err(|_| anyhow!("unknown role {role}"))?;
            let (password, generated) = password_for(&login)?;
            let hash = hasher.hash_blocking(password.clone()).await?;
            let account = gateway.create_account(Some(&who), &login, hash, role).await?;
            println!(
                "created account {} ({}) id {}",
                account.login,
                role.as_str(),
                account.id.0
            );
            if generated {
                println!("password: {password}");
            }
        }
        ManageAction::List => {
            for a in gateway.accounts(&who).await? {
                let stages = gateway.stage_settings(&who, a.id).await?;
                let live = stages.certs.iter().filter(|c| c.revoked_at.is_none()).count();
                println!(
                    "{:>4}  {:<24} {:<10} {:<8} cert_required={} certs={} ip_pool={}",
                    a.id.0,
                    a.login,
                    a.role.as_str(),
                    if a.disabled { "locked" } else { "active" },
                    stages.cert_required,
                    live,
                    if stages.ip_pool.is_empty() {
                        "-".into()
                    } else {
                        stages.ip_pool.join(",")
                    },
                );
            }
        }
        ManageAction::Passwd { login } => {
            let id = account_id(gateway, &login).await?;
            let (password, generated) = password_for(&login)?;
            let hash = hasher.hash_blocking(password.clone()).await?;
            gateway.set_password_hash(&who, id, hash).await?;
            println!("password of {login} changed");
            if generated {
                println!("password: {password}");
            }
        }
        ManageAction::Lock { login } => {
            let id = account_id(gateway, &login).await?;
            gateway.set_account_disabled(&who, id, true).await?;
            println!("{login} locked");
        }
        ManageAction::Unlock { login } => {
            let id = account_id(gateway, &login).await?;
            gateway.set_account_disabled(&who, id, false).await?;
            println!("{login} unlocked");
        }
        ManageAction::RequireCert { login, on } => {
            let id = account_id(gateway, &login).await?;
            gateway.set_cert_required(&who, None, id, on).await?;
            println!("{login}: client certificate required = {on}");
        }
        ManageAction::Cert(cert) => cert_action(gateway, &who, cert).await?,
        ManageAction::IpPool(PoolAction::Set { login, entries }) => {
            let id = account_id(gateway, &login).await?;
            let pool = gateway.set_ip_pool(&who, None, id, &entries).await?;
            if pool.is_empty() {
                println!("{login}: IP pool cleared (any address)");
            } else {
                println!("{login}: IP pool = {}", pool.join(","));
            }
        }
        ManageAction::IpPool(PoolAction::Show { login }) => {
            let id = account_id(gateway, &login).await?;
            let stages = gateway.stage_settings(&who, id).await?;
            println!("{}", stages.ip_pool.join("\n"));
        }
    }
    Ok(())
}

async fn cert_action(gateway: &Gateway, who: &Principal, action: CertAction) -> anyhow::Result<()> {
    match action {
        CertAction::Issue { login, days, out } => {
            let id = account_id(gateway, &login).await?;
            let issued = gateway.issue_client_cert(who, None, id, days).await?;
            let prefix = out.unwrap_or_else(|| PathBuf::from(&login));
            let path = |suffix: &str| PathBuf::from(format!("{}{suffix}", prefix.display()));
            write_private(&path(".key.pem"), &issued.key_pem)?;
            std::fs::write(path(".crt.pem"), &issued.cert_pem)?;
            std::fs::write(path(".ca.pem"), &issued.ca_pem)?;
            println!(
                "issued certificate {} for {login}, valid until {}, sha256 {}",
                issued.cert.id, issued.cert.not_after, issued.cert.fingerprint
            );
            println!(
                "wrote {} {} {} (the key is not kept by the appliance)",
                path(".crt.pem").display(),
                path(".key.pem").display(),
                path(".ca.pem").display()
            );
        }
        CertAction::Upload { login, file, ca } => {
            let id = account_id(gateway, &login).await?;
            let bytes = std::fs::read(&file).with_context(|| format!("cannot read {}", file.display()))?;
            let cert = gateway.upload_client_cert(who, None, id, &bytes, ca).await?;
            println!(
                "bound {} {} to {login}: sha256 {}",
                cert.kind.as_str(),
                cert.id,
                cert.fingerprint
            );
        }
        CertAction::Revoke {
            login,
            id: cert_id,
            file,
        } => {
            let id = account_id(gateway, &login).await?;
            match (cert_id, file) {
                (Some(c), None) => {
                    gateway.revoke_client_cert(who, None, id, c).await?;
                    println!("certificate {c} of {login} revoked");
                }
                (None, Some(f)) => {
                    let bytes = std::fs::read(&f).with_context(|| format!("cannot read {}", f.display()))?;
                    let cert = gateway.revoke_fingerprint(who, None, id, &bytes).await?;
                    println!("certificate sha256 {} of {login} revoked", cert.fingerprint);
                }
                _ => bail!("give either a certificate id or --file"),
            }
        }
        CertAction::List { login } => {
            let id = account_id(gateway, &login).await?;
            for c in gateway.account_certs(who, id).await? {
                println!(
                    "{:>4}  {:<7} {} not_after={} {} {}",
                    c.id,
                    c.kind.as_str(),
                    c.fingerprint,
                    c.not_after,
                    if c.revoked_at.is_some() {
                        "REVOKED"
                    } else {
                        "valid"
                    },
                    c.subject
                );
            }
        }
    }
    Ok(())
}

fn write_private(path: &std::path::Path, contents: &str) -> anyhow::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("cannot write {}", path.display()))?;
    file.write_all(contents.as_bytes())?;
    Ok(())
}
