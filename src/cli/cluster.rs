//! `smsgate cluster status|issue-cert|wg-config`: the multi-site cluster from the command line: what
//! the shared database says about nodes, modems, leases and lag; certificates from the appliance CA for
//! PostgreSQL and the nodes; WireGuard files for the VPN between sites.
use std::io::Write;
use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use smsgate::cluster::wireguard::{self, WgNode};
use smsgate::store::pg::{ClusterStatus, PgStore};
use smsgate::tls::ApplianceCa;

use super::settings::DataArgs;

/// Arguments of `smsgate cluster`.
#[derive(Debug, Args)]
pub struct ClusterArgs {
    #[command(flatten)]
    pub data: DataArgs,
    #[command(subcommand)]
    pub action: ClusterAction,
}

/// What to do.
#[derive(Debug, Subcommand)]
pub enum ClusterAction {
    /// Nodes with their site, heartbeat and modems; leases; queue lag; PostgreSQL standbys.
    Status {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Issue a certificate from the appliance CA (<data_dir>/tls): a node's client certificate for
    /// PostgreSQL (CN = NAME), or with --server the PostgreSQL server's (SANs = NAME and --san).
    IssueCert {
        /// Node id (client) or the server's main host name (server).
        name: String,
        /// Issue a server certificate (for PostgreSQL) instead of a client certificate.
        #[arg(long)]
        server: bool,
        /// Further host names or addresses of the server.
        #[arg(long)]
        san: Vec<String>,
        /// Validity in days of a client certificate (a server certificate gets the appliance's usual
        /// server validity).
        #[arg(long, default_value_t = 825)]
        days: u32,
        /// Path prefix: writes <out>.pem, <out>.key (0600) and <out>-ca.pem. Default: the name.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Print (or write with --out) a wg-quick configuration for every node of a WireGuard mesh.
    WgConfig {
        /// A node: NAME=PUBLIC_HOST[:PORT]; give one per node, in a fixed order (it picks the addresses).
        #[arg(long = "node", required = true)]
        nodes: Vec<WgNode>,
        /// VPN subnet; node N gets its N-th host address.
        #[arg(long, default_value = "10.77.0.0/24")]
        subnet: ipnet::Ipv4Net,
        /// Where the nodes' private keys are kept (created, 0600 files); default <data_dir>/cluster/wireguard.
        #[arg(long)]
        keys_dir: Option<PathBuf>,
        /// Write <dir>/<node>.conf (0600) instead of printing.
        #[arg(long)]
        out: Option<PathBuf>,
    },
}

/// Runs `smsgate cluster`.
pub fn run(args: ClusterArgs) -> anyhow::Result<()> {
    let settings = args.data.settings()?;
    match args.action {
        ClusterAction::Status { json } => {
            if !settings.cluster.enabled {
                bail!("this node is not part of a cluster ([cluster] enabled = false)");
            }
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            let status = runtime.block_on(async {
                let pg = PgStore::connect(&settings).await?;
                let status = pg.status(smsgate::store::now_ms()).await;
                pg.close();
                status
            })?;
            if json {
                println!("{}", serde_json::to_string_pretty(&status)?);
            } else {
                print!("{}", render_status(&status));
            }
            Ok(())
        }
        ClusterAction::IssueCert {
            name,
            server,
            san,
            days,
            out,
        } => {
            let (ca, _) = ApplianceCa::load_or_create(&settings.data_dir.join("tls"))
                .context("cannot open the appliance CA")?;
            let now = time::OffsetDateTime::now_utc();
            let validity = time::Duration::days(i64::from(days));
            let (cert, key) = if server {
                let mut sans = vec![name.clone()];
                sans.extend(san);
                ca.issue_server(&sans, now)?
            } else {
                ca.issue_client(&name, validity, now)?
            };
            let prefix = out.unwrap_or_else(|| PathBuf::from(&name));
            let with = |suffix: &str| {
                let mut p = prefix.clone().into_os_string();
                p.push(suffix);
                PathBuf::from(p)
            };
            write_file(&with(".pem"), &cert, 0o644)?;
            write_file(&with(".key"), &key, 0o600)?;
            write_file(&with("-ca.pem"), ca.cert_pem(), 0o644)?;
            println!(
                "wrote {} {} {}",
                with(".pem").display(),
                with(".key").display(),
                with("-ca.pem").display()
            );
            Ok(())
        }
        ClusterAction::WgConfig {
            nodes,
            subnet,
            keys_dir,
            out,
        } => {
            let keys_dir = keys_dir.unwrap_or_else(|| settings.data_dir.join("cluster").join("wireguard"));
            let keys = nodes
                .iter()
                .map(|n| wireguard::load_or_create_keys(&keys_dir, &n.name))
                .collect::<Result<Vec<_>, _>>()?;
            let confs = wireguard::mesh_configs(&nodes, &keys, subnet)?;
            match out {
                Some(dir) => {
                    std::fs::create_dir_all(&dir)
                        .with_context(|| format!("cannot create {}", dir.display()))?;
                    for (name, addr, text) in &confs {
                        let path = dir.join(format!("{name}.conf"));
                        write_file(&path, text, 0o600)?;
                        println!("{name}: {addr} -> {}", path.display());
                    }
                }
                None => {
                    let mut stdout = std::io::stdout().lock();
                    for (name, _, text) in &confs {
                        writeln!(stdout, "### {name}.conf\n{text}")?;
                    }
                }
            }
            Ok(())
        }
    }
}

fn write_file(path: &std::path::Path, contents: &str, mode: u32) -> anyhow::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(mode)
        .open(path)
        .with_context(|| format!("cannot write {}", path.display()))?;
    f.write_all(contents.as_bytes())?;
    Ok(())
}

fn ago(now: i64, then: i64) -> String {
    let s = (now - then).max(0) as f64 / 1000.0;
    format!("{s:.1}s ago")
}

/// The status as a table for a terminal.
fn render_status(s: &ClusterStatus) -> String {
    let mut out = format!(
        "schema v{}\n\nNODE  SITE  HEARTBEAT  LEASED  SENDING  MODEMS (ready/all)\n",
        s.schema_version
    );
    for n in &s.nodes {
        let modems = n.modems.as_array().map(Vec::as_slice).unwrap_or(&[]);
        let ready = modems
            .iter()
            .filter(|m| m.get("ready").and_then(serde_json::Value::as_bool) == Some(true))
            .count();
        out.push_str(&format!(
            "{}  {}  {}  {}  {}  {}/{}\n",
            n.node_id,
            if n.site.is_empty() { "-" } else { &n.site },
            ago(s.now, n.heartbeat_at),
            n.leased,
            n.sending,
            ready,
            modems.len()
        ));
        for m in modems {
            out.push_str(&format!(
                "    modem {} group {} {}\n",
                m.get("id").and_then(serde_json::Value::as_str).unwrap_or("?"),
                m.get("group").and_then(serde_json::Value::as_str).unwrap_or("?"),
                if m.get("ready").and_then(serde_json::Value::as_bool) == Some(true) {
                    "ready"
                } else {
                    "not ready"
                }
            ));
        }
    }
    out.push_str(&format!(
        "\nqueue: {} unclaimed, {} with an ended lease, lag {:.1}s\n",
        s.unclaimed,
        s.expired_leases,
        s.oldest_queued_ms as f64 / 1000.0
    ));
    if s.replicas.is_empty() {
        out.push_str("standbys: none connected to this server\n");
    }
    for (name, state, lag) in &s.replicas {
        let lag = lag.map(|l| format!("{l} ms")).unwrap_or_else(|| "-".into());
        out.push_str(&format!("standby {name}: {state}, replay lag {lag}\n"));
    }
    out
}
