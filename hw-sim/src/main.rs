//! `hw-sim` command line: start a bank of simulated modems (and print how to point gammu, smstools and
//! kannel at them), or drive a running bank through its control API (`hw-sim ctl ...`).
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::{Parser, Subcommand};
use hw_sim::{Bank, BankConfig, DelayProfile, FaultSpec, ProfileName};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A bank of simulated GSM modems on pseudo-terminals.
#[derive(Debug, Parser)]
#[command(name = "hw-sim", version, args_conflicts_with_subcommands = true)]
struct Cli {
    #[command(subcommand)]
    command: Option<Sub>,
    #[command(flatten)]
    run: RunArgs,
}

#[derive(Debug, clap::Args)]
struct RunArgs {
    /// Number of modems.
    #[arg(long, short = 'n', default_value_t = 4)]
    count: usize,
    /// Modem family, or a comma-separated list used round-robin (generic, quectel-ec25, simcom-sim800,
    /// huawei-e3372, wavecom, telit, sierra).
    #[arg(long, short = 'p', default_value = "generic", value_delimiter = ',')]
    profile: Vec<ProfileName>,
    /// Directory for the links modem0.. and manifest.json.
    #[arg(long, short = 'd', default_value = "/tmp/hw-sim")]
    dir: PathBuf,
    /// Control API address (port 0 picks a free port).
    #[arg(long, default_value = "127.0.0.1:0")]
    control: SocketAddr,
    /// Phone number of modem 0; modem N gets this plus N.
    #[arg(long, default_value = "+48600000000")]
    number_base: String,
    /// Seed for identities, jitter and fault probabilities.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Network delay before +CMGS answers: instant, realistic (2s+-500ms), 1500, 2s, 2000+-500.
    #[arg(long, default_value = "instant")]
    delay: DelayProfile,
    /// Fault at start, `<index|all>:<fault>` (repeatable): delay=MS[+-MS], cms-every=K[:CODE],
    /// cms-prob=P[:CODE], hung, garbage[=P], unplug, sim-removed, no-registration[=STAT], storage-full,
    /// slow-baud=BAUD.
    #[arg(long = "fault")]
    faults: Vec<FaultSpec>,
    /// PIN every SIM asks for at power-up.
    #[arg(long)]
    pin: Option<String>,
    /// Milliseconds between the network accepting an SMS and its status report.
    #[arg(long, default_value_t = 200)]
    report_delay_ms: u64,
    /// TP-Status of status reports (0 delivered; 69 = 0x45 unknown subscriber, TS 23.040 §9.2.3.15).
    #[arg(long, default_value_t = 0)]
    report_status: u8,
    /// Append every event as a JSON line to this file.
    #[arg(long)]
    event_log: Option<PathBuf>,
    /// Print the manifest as JSON instead of the human-readable summary.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Subcommand)]
enum Sub {
    /// Drive a running bank through its control API.
    Ctl {
        /// Base URL of the control API, e.g. http://127.0.0.1:8780
        #[arg(long, env = "HW_SIM_URL")]
        url: String,
        #[command(subcommand)]
        op: CtlOp,
    },
}

#[derive(Debug, Subcommand)]
enum CtlOp {
    /// List the modems.
    Modems,
    /// Counters, faults and identity of a modem.
    Status { index: usize },
    /// Deliver an SMS to a modem.
    Inject {
        index: usize,
        #[arg(long)]
        from: String,
        #[arg(long)]
        text: String,
    },
    /// Send an unsolicited result code.
    Urc { index: usize, text: String },
    /// Switch a fault on (same spelling as --fault, without the index).
    Fault { index: usize, spec: String },
    /// Switch all faults off.
    Clear { index: usize },
    /// Unplug a modem.
    Unplug { index: usize },
    /// Plug a modem back in.
    Replug { index: usize },
    /// Reboot a modem.
    Reboot { index: usize },
    /// TP-Status of future status reports for this modem's SMS (0 delivered, 69 unknown subscriber...).
    ReportStatus { index: usize, status: u8 },
    /// SMS a modem has sent (parts, decoded).
    Sent { index: usize },
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "hw_sim=info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    match cli.command {
        Some(Sub::Ctl { url, op }) => ctl(&url, op).await,
        None => run(cli.run).await,
    }
}

async fn run(args: RunArgs) -> anyhow::Result<()> {
    let profiles = args.profile.clone();
    let bank = Bank::start(BankConfig {
        count: args.count,
        profile: profiles.first().copied().unwrap_or_default(),
        profiles,
        dir: args.dir.clone(),
        control_listen: Some(args.control),
        number_base: args.number_base.clone(),
        seed: args.seed,
        delay: args.delay,
        faults: args.faults.clone(),
        pin: args.pin.clone(),
        report_delay: Duration::from_millis(args.report_delay_ms),
        event_log: args.event_log.clone(),
        report_status: args.report_status,
        ..BankConfig::default()
    })
    .await
    .context("starting the modem bank")?;
    if args.json {
        let text = std::fs::read_to_string(bank.manifest_path()).context("reading the manifest")?;
        println!("{text}");
    } else {
        print_guide(&bank, &args);
    }
    wait_for_signal().await?;
    bank.shutdown().await;
    Ok(())
}

async fn wait_for_signal() -> anyhow::Result<()> {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        r = tokio::signal::ctrl_c() => r?,
        _ = term.recv() => {}
    }
    Ok(())
}

fn print_guide(bank: &Bank, args: &RunArgs) {
    let modems = bank.modems();
    let url = bank
        .control_addr()
        .map(|a| format!("http://{a}"))
        .unwrap_or_else(|| "(control API off)".into());
    println!(
        "hw-sim: {} simulated modem(s), delay {}",
        modems.len(),
        args.delay
    );
    println!();
    println!(
        "{:<4} {:<24} {:<14} {:<14} {:<16} {:<16}",
        "#", "link", "pty", "number", "imei", "profile"
    );
    for m in &modems {
        println!(
            "{:<4} {:<24} {:<14} {:<14} {:<16} {:<16}",
            m.index,
            m.link.display(),
            m.pty.display(),
            m.number,
            m.imei,
            m.profile
        );
    }
    let Some(m0) = modems.first() else { return };
    let dev = m0.link.display();
    println!();
    println!("manifest:     {}", bank.manifest_path().display());
    println!("control API:  {url}   (export HW_SIM_URL={url}; hw-sim ctl --help)");
    println!();
    println!(
        "# gammu: gammu -c gammurc identify ; gammu -c gammurc sendsms TEXT {} -text hello",
        modems.last().map(|m| m.number.as_str()).unwrap_or("")
    );
    println!("[gammu]\ndevice = {dev}\nconnection = at\n");
    println!("# gammu-smsd (files backend): gammu-smsd -c smsdrc");
    println!(
        "[gammu]\ndevice = {dev}\nconnection = at\n[smsd]\nservice = files\ninboxpath = /tmp/smsd/inbox/\noutboxpath = /tmp/smsd/outbox/\nsentsmspath = /tmp/smsd/sent/\nerrorsmspath = /tmp/smsd/error/\n"
    );
    println!(
        "# smstools: smsd -c smsd.conf -t   (spool dirs must exist; report = yes asks for status reports)"
    );
    println!(
        "devices = GSM1\noutgoing = /tmp/sms/outgoing\nincoming = /tmp/sms/incoming\nchecked = /tmp/sms/checked\nfailed = /tmp/sms/failed\nsent = /tmp/sms/sent\n[GSM1]\ndevice = {dev}\nincoming = yes\nreport = yes\n"
    );
    println!("# kannel (bearerbox + smsbox): smsc group and a modem definition that matches hw-sim's ATI");
    println!(
        "group = smsc\nsmsc = at\nsmsc-id = sim0\nmodemtype = hwsim\ndevice = {dev}\nmy-number = \"{}\"\nsms-center = \"+48601000310\"\nspeed = 115200\n\ngroup = modems\nid = hwsim\nname = \"hw-sim\"\ndetect-string = \"hw-sim\"\ninit-string = \"AT+CNMI=1,2,0,1,0\"\n",
        m0.number
    );
    println!("# control API");
    println!("curl -s {url}/modems");
    println!(
        "curl -s -XPOST {url}/modems/0/sms -H 'content-type: application/json' -d '{{\"from\":\"+48500100200\",\"text\":\"hello\"}}'"
    );
    println!(
        "curl -s -XPOST {url}/modems/0/fault -H 'content-type: application/json' -d '{{\"spec\":\"cms-every=3:38\"}}'"
    );
    println!("curl -s {url}/modems/0/sent");
    println!();
    println!("Ctrl-C stops the bank.");
}

/// Minimal HTTP/1.1 client for the control API (loopback only, `Connection: close`).
async fn http(
    url: &str,
    method: &str,
    path: &str,
    body: Option<serde_json::Value>,
) -> anyhow::Result<String> {
    let authority = url
        .strip_prefix("http://")
        .context("the control URL must start with http://")?
        .trim_end_matches('/');
    let mut stream = tokio::net::TcpStream::connect(authority)
        .await
        .with_context(|| format!("connecting to {authority}"))?;
    let body = body.map(|b| b.to_string()).unwrap_or_default();
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {authority}\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response).await?;
    let text = String::from_utf8_lossy(&response).to_string();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status_line = head.lines().next().unwrap_or("");
    let code: u16 = status_line
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    if !(200..300).contains(&code) {
        bail!("{status_line}: {body}");
    }
    Ok(body.to_string())
}

async fn ctl(url: &str, op: CtlOp) -> anyhow::Result<()> {
    use serde_json::json;
    let out = match op {
        CtlOp::Modems => http(url, "GET", "/modems", None).await?,
        CtlOp::Status { index } => http(url, "GET", &format!("/modems/{index}"), None).await?,
        CtlOp::Inject { index, from, text } => {
            http(
                url,
                "POST",
                &format!("/modems/{index}/sms"),
                Some(json!({ "from": from, "text": text })),
            )
            .await?
        }
        CtlOp::Urc { index, text } => {
            http(
                url,
                "POST",
                &format!("/modems/{index}/urc"),
                Some(json!({ "text": text })),
            )
            .await?
        }
        CtlOp::Fault { index, spec } => {
            http(
                url,
                "POST",
                &format!("/modems/{index}/fault"),
                Some(json!({ "spec": spec })),
            )
            .await?
        }
        CtlOp::Clear { index } => http(url, "DELETE", &format!("/modems/{index}/fault"), None).await?,
        CtlOp::Unplug { index } => http(url, "POST", &format!("/modems/{index}/unplug"), None).await?,
        CtlOp::Replug { index } => http(url, "POST", &format!("/modems/{index}/replug"), None).await?,
        CtlOp::Reboot { index } => http(url, "POST", &format!("/modems/{index}/reboot"), None).await?,
        CtlOp::ReportStatus { index, status } => {
            http(
                url,
                "POST",
                &format!("/modems/{index}/report-status"),
                Some(json!({ "status": status })),
            )
            .await?
        }
        CtlOp::Sent { index } => http(url, "GET", &format!("/modems/{index}/sent"), None).await?,
    };
    if !out.is_empty() {
        println!("{out}");
    }
    Ok(())
}
