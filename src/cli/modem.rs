//! `smsgate modem list|info|at|send|ussd|restart`: technician tools. Through a running gateway's API
//! (the default; see [`super::modem_remote`]) the modem is named by IMEI, name or port; with `--port`
//! the commands work directly on a modem's serial port (the gateway must not be using that port then),
//! for a modem that does not come into service at all.
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use smsgate::modem::direct::DirectSession;
use smsgate::modem::{
    ModemConfig, ModemHandle, ModemPhase, ModemSender, OutgoingPart, SendRequest, Timeouts, config,
};
use smsgate::pdu::{self, Address, SubmitOptions};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::modem_remote::{self, Remote};

/// `smsgate modem ...`
#[derive(Debug, Args)]
pub struct ModemArgs {
    #[command(subcommand)]
    pub command: ModemCommand,
}

/// Technician commands. With `--port` they open the modem's serial port directly (the gateway must not
/// be using it); without, they go to a running gateway's API (`--url`, credentials, CA) and name the
/// modem by IMEI, name or port there.
#[derive(Debug, Subcommand)]
pub enum ModemCommand {
    /// List the modems of a running gateway: state, signal, operator, registration, queue, counters.
    List {
        #[command(flatten)]
        remote: Remote,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Run one raw AT command and print the modem's answer (lines, then the final result).
    /// Gateway: `modem at <ID> <COMMAND>` (admins; refused when it would break the gateway's setup of
    /// the modem); direct: `modem at --port <PORT> <COMMAND>`.
    At {
        #[command(flatten)]
        target: Target,
        /// How long to wait for the final result.
        #[arg(long, default_value = "60s", value_parser = config::parse_duration)]
        timeout: Duration,
        /// `[ID] COMMAND`, e.g. `860000000000001 AT+CSQ`.
        #[arg(required = true, num_args = 1..=2, value_name = "[ID] COMMAND")]
        words: Vec<String>,
    },
    /// Show identity, SIM state, signal, registration, operator (and, through a gateway, queue,
    /// counters and settings). Gateway: `modem info <ID>`; direct: `modem info --port <PORT>`.
    Info {
        #[command(flatten)]
        target: Target,
        /// Print JSON.
        #[arg(long)]
        json: bool,
        /// The modem (IMEI, name or port) of the gateway.
        #[arg(num_args = 0..=1, value_name = "ID")]
        words: Vec<String>,
    },
    /// Send an SMS. Gateway: `modem send <ID> <NUMBER> <TEXT>` queues a test SMS through that modem;
    /// direct: `modem send --port <PORT> <NUMBER> <TEXT>` sends it at once and prints each part's TP-MR.
    Send {
        #[command(flatten)]
        target: Target,
        /// Ask for a delivery report (direct; the gateway always asks for test SMS).
        #[arg(long)]
        report: bool,
        /// Gateway: how long to follow the message until it is sent (0 = just queue it).
        #[arg(long, default_value = "60s", value_parser = config::parse_duration)]
        wait: Duration,
        /// `[ID] NUMBER TEXT`; the number as +48600100200, 600100200 or a short code (a text starting with
        /// `-` goes after `--`).
        #[arg(required = true, num_args = 2..=3, value_name = "[ID] NUMBER TEXT")]
        words: Vec<String>,
    },
    /// Send a USSD code (e.g. "*100#") and print the network's reply.
    /// Gateway: `modem ussd <ID> <CODE>`; direct: `modem ussd --port <PORT> <CODE>`.
    Ussd {
        #[command(flatten)]
        target: Target,
        /// `[ID] CODE`.
        #[arg(required = true, num_args = 1..=2, value_name = "[ID] CODE")]
        words: Vec<String>,
    },
    /// Restart a modem of a running gateway (it is initialised again from the probe on).
    Restart {
        #[command(flatten)]
        remote: Remote,
        /// The modem (IMEI, name or port).
        id: String,
    },
}

/// Which modem to talk to: a serial port opened directly (`--port`), else a running gateway.
#[derive(Debug, Args)]
pub struct Target {
    /// Serial device of the modem (e.g. /dev/gsm/modem0 or a hw-sim link): talk to it directly.
    #[arg(long)]
    pub port: Option<PathBuf>,
    /// Line speed (direct).
    #[arg(long, default_value_t = config::DEFAULT_BAUD)]
    pub baud: u32,
    /// SIM PIN, entered once if the SIM asks for it, never when only one try is left (direct).
    #[arg(long, env = "SMSGATE_MODEM_PIN", hide_env_values = true)]
    pub pin: Option<String>,
    /// How long the modem may take to come into service (direct send, ussd).
    #[arg(long, default_value = "120s", value_parser = config::parse_duration)]
    pub ready_within: Duration,
    #[command(flatten)]
    pub remote: Remote,
}

/// A port opened directly.
struct Direct {
    port: PathBuf,
    baud: u32,
    pin: Option<String>,
    ready_within: Duration,
}

/// Where a command goes, with its positional words checked against the mode.
enum Mode<'a> {
    Direct(Direct),
    /// The gateway, and the modem id.
    Gateway(&'a Remote, String),
}

/// Splits `words` by mode: direct mode takes exactly `n` words, gateway mode an id and `n` words.
fn mode<'a>(
    target: &'a Target,
    mut words: Vec<String>,
    n: usize,
    usage: &str,
) -> anyhow::Result<(Mode<'a>, Vec<String>)> {
    match &target.port {
        Some(port) => {
            if words.len() != n {
                bail!("with --port: smsgate modem {usage} (no modem id)");
            }
            let direct = Direct {
                port: port.clone(),
                baud: target.baud,
                pin: target.pin.clone(),
                ready_within: target.ready_within,
            };
            Ok((Mode::Direct(direct), words))
        }
        None => {
            if words.len() != n + 1 {
                bail!(
                    "through a gateway: smsgate modem {} <ID> ... (or --port for direct access)",
                    usage.split(' ').next().unwrap_or(usage)
                );
            }
            let id = words.remove(0);
            Ok((Mode::Gateway(&target.remote, id), words))
        }
    }
}

/// Runs a `smsgate modem` command.
pub fn run(args: ModemArgs) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(dispatch(args.command))
}

async fn dispatch(command: ModemCommand) -> anyhow::Result<()> {
    match command {
        ModemCommand::List { remote, json } => modem_remote::list(&remote, json).await,
        ModemCommand::Restart { remote, id } => modem_remote::restart(&remote, &id).await,
        ModemCommand::At {
            target,
            timeout,
            words,
        } => match mode(&target, words, 1, "at <COMMAND>")? {
            (Mode::Gateway(remote, id), w) => modem_remote::at(remote, &id, &w[0], timeout).await,
            (Mode::Direct(d), w) => {
                let command = &w[0];
                let mut session = open(&d).await?;
                let reply = session.raw(command, timeout).await?;
                for urc in session.take_urcs() {
                    eprintln!("URC: {urc:?}");
                }
                for line in &reply.lines {
                    println!("{line}");
                }
                println!("{}", reply.result);
                if !reply.result.is_ok() {
                    bail!("the modem answered {}", reply.result);
                }
                Ok(())
            }
        },
        ModemCommand::Info { target, json, words } => match mode(&target, words, 0, "info")? {
            (Mode::Gateway(remote, id), _) => modem_remote::info(remote, &id, json).await,
            (Mode::Direct(d), _) => {
                let mut session = open(&d).await?;
                let info = session.info().await?;
                if json {
                    println!("{}", serde_json::to_string_pretty(&info)?);
                    return Ok(());
                }
                let show = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".into());
                println!("manufacturer  {}", show(&info.manufacturer));
                println!("model         {}", show(&info.model));
                println!("firmware      {}", show(&info.firmware));
                println!("IMEI          {}", show(&info.imei));
                println!("SIM           {}", show(&info.sim));
                println!("IMSI          {}", show(&info.imsi));
                println!("ICCID         {}", show(&info.iccid));
                println!("own number    {}", show(&info.own_number));
                println!("SMSC          {}", show(&info.smsc));
                println!(
                    "signal (CSQ)  {}",
                    info.signal.map_or("-".into(), |s| s.to_string())
                );
                println!(
                    "registration  {}",
                    info.registration.map_or("-".into(), describe_registration)
                );
                println!("operator      {}", show(&info.operator));
                println!(
                    "storage       {}",
                    info.storage.map_or("-".into(), |(u, t)| format!("{u}/{t}"))
                );
                Ok(())
            }
        },
        ModemCommand::Send {
            target,
            report,
            wait,
            words,
        } => match mode(&target, words, 2, "send <NUMBER> <TEXT>")? {
            (Mode::Gateway(remote, id), w) => modem_remote::send(remote, &id, &w[0], &w[1], wait).await,
            (Mode::Direct(d), w) => {
                let (number, text) = (&w[0], &w[1]);
                let to = Address::parse(number).with_context(|| format!("recipient {number:?}"))?;
                let mut opts = SubmitOptions::new(to);
                opts.srr = report;
                let parts = pdu::encode_submit(text, &opts).context("encoding the message")?;
                let request = SendRequest {
                    parts: parts
                        .into_iter()
                        .map(|p| OutgoingPart {
                            pdu: p.pdu,
                            tpdu_len: p.tpdu_len,
                        })
                        .collect(),
                };
                with_actor(&d, |modem| async move {
                    let sent = modem.send(request).await?;
                    for part in sent {
                        println!("part {}: sent, TP-MR {}", part.index + 1, part.mr);
                    }
                    Ok(())
                })
                .await
            }
        },
        ModemCommand::Ussd { target, words } => match mode(&target, words, 1, "ussd <CODE>")? {
            (Mode::Gateway(remote, id), w) => modem_remote::ussd(remote, &id, &w[0]).await,
            (Mode::Direct(d), w) => {
                let code = w[0].clone();
                with_actor(&d, |modem| async move {
                    let reply = modem.ussd(&code).await?;
                    println!("{}", reply.text.as_deref().unwrap_or("(no text)"));
                    if reply.status == smsgate::modem::actor::USSD_ACTION_REQUIRED {
                        eprintln!("(the network expects an answer)");
                    }
                    Ok(())
                })
                .await
            }
        },
    }
}

/// `+CREG` stat with its meaning (TS 27.007 §7.2).
pub(super) fn describe_registration(stat: u8) -> String {
    let meaning = match stat {
        0 => "not registered",
        1 => "home network",
        2 => "searching",
        3 => "denied",
        5 => "roaming",
        6 | 7 => "SMS only",
        _ => "unknown",
    };
    format!("{stat} ({meaning})")
}

async fn open(target: &Direct) -> anyhow::Result<DirectSession> {
    DirectSession::open(&target.port, target.baud, Timeouts::default())
        .await
        .with_context(|| format!("modem on {}", target.port.display()))
}

/// Runs the modem's actor until it is in service, then `work`, then stops it. Messages that arrive in the
/// meantime are not acknowledged, so they stay on the SIM for the gateway.
async fn with_actor<F, Fut>(target: &Direct, work: F) -> anyhow::Result<()>
where
    F: FnOnce(ModemHandle) -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<()>>,
{
    let config = ModemConfig {
        baud: target.baud,
        pin: target.pin.clone(),
        ..ModemConfig::for_port(&target.port)
    };
    // No receiver: events fail at once, so received messages are never acknowledged and stay on the SIM.
    let (events, _) = mpsc::channel(1);
    let shutdown = CancellationToken::new();
    let modem = smsgate::modem::spawn(config, events, shutdown.clone());
    let result = async {
        let mut state = modem.state();
        let wait = async {
            let mut shown = None;
            loop {
                let s = state.borrow_and_update().clone();
                match s.phase {
                    ModemPhase::Ready => return Ok(()),
                    ModemPhase::Failed | ModemPhase::Absent => {
                        bail!("modem {:?}: {}", s.phase, s.last_error.unwrap_or_default())
                    }
                    phase if shown != Some(phase) => {
                        eprintln!("modem: {phase:?}");
                        shown = Some(phase);
                    }
                    _ => {}
                }
                state.changed().await.context("modem actor stopped")?;
            }
        };
        tokio::time::timeout(target.ready_within, wait)
            .await
            .map_err(|_| {
                let s = modem.snapshot();
                anyhow::anyhow!(
                    "modem not ready within {:?}: {:?} {}",
                    target.ready_within,
                    s.phase,
                    s.last_error.unwrap_or_default()
                )
            })??;
        work(modem.clone()).await
    }
    .await;
    shutdown.cancel();
    modem.stopped().await;
    result
}
