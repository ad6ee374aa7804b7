//! `smsgate modem at|info|send|ussd`: technician tools working directly on a modem's serial port (the
//! gateway must not be using that port at the same time). The target is chosen in [`Target`]; variants
//! that go through a running gateway's API select a modem by id there instead of `--port`.
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

/// `smsgate modem ...`
#[derive(Debug, Args)]
pub struct ModemArgs {
    #[command(subcommand)]
    pub command: ModemCommand,
}

/// Technician commands.
#[derive(Debug, Subcommand)]
pub enum ModemCommand {
    /// Run one raw AT command and print the modem's answer (lines, then the final result).
    At {
        #[command(flatten)]
        target: Target,
        /// How long to wait for the final result.
        #[arg(long, default_value = "60s", value_parser = config::parse_duration)]
        timeout: Duration,
        /// The command line, e.g. "AT+CSQ".
        command: String,
    },
    /// Show identity, SIM state, signal, registration, operator and storage.
    Info {
        #[command(flatten)]
        target: Target,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Send an SMS (split into concatenated parts when needed) and print the TP-MR of each part.
    Send {
        #[command(flatten)]
        target: Target,
        /// Ask for a delivery report.
        #[arg(long)]
        report: bool,
        /// Recipient: +48600100200, 600100200 or a short code.
        number: String,
        /// The text.
        text: String,
    },
    /// Send a USSD code (e.g. "*100#") and print the network's reply.
    Ussd {
        #[command(flatten)]
        target: Target,
        /// The code.
        code: String,
    },
}

/// Which modem to talk to: a serial port, opened directly.
#[derive(Debug, Args)]
pub struct Target {
    /// Serial device of the modem (e.g. /dev/gsm/modem0 or a hw-sim link).
    #[arg(long)]
    pub port: PathBuf,
    /// Line speed.
    #[arg(long, default_value_t = config::DEFAULT_BAUD)]
    pub baud: u32,
    /// SIM PIN, entered once if the SIM asks for it (never when only one try is left).
    #[arg(long, env = "SMSGATE_MODEM_PIN", hide_env_values = true)]
    pub pin: Option<String>,
    /// How long the modem may take to come into service (send, ussd).
    #[arg(long, default_value = "120s", value_parser = config::parse_duration)]
    pub ready_within: Duration,
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
        ModemCommand::At {
            target,
            timeout,
            command,
        } => {
            let mut session = open(&target).await?;
            let reply = session.raw(&command, timeout).await?;
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
        ModemCommand::Info { target, json } => {
            let mut session = open(&target).await?;
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
        ModemCommand::Send {
            target,
            report,
            number,
            text,
        } => {
            let to = Address::parse(&number).with_context(|| format!("recipient {number:?}"))?;
            let mut opts = SubmitOptions::new(to);
            opts.srr = report;
            let parts = pdu::encode_submit(&text, &opts).context("encoding the message")?;
            let request = SendRequest {
                parts: parts
                    .into_iter()
                    .map(|p| OutgoingPart {
                        pdu: p.pdu,
                        tpdu_len: p.tpdu_len,
                    })
                    .collect(),
            };
            with_actor(&target, |modem| async move {
                let sent = modem.send(request).await?;
                for part in sent {
                    println!("part {}: sent, TP-MR {}", part.index + 1, part.mr);
                }
                Ok(())
            })
            .await
        }
        ModemCommand::Ussd { target, code } => {
            with_actor(&target, |modem| async move {
                let reply = modem.ussd(&code).await?;
                println!("{}", reply.text.as_deref().unwrap_or("(no text)"));
                if reply.status == smsgate::modem::actor::USSD_ACTION_REQUIRED {
                    eprintln!("(the network expects an answer)");
                }
                Ok(())
            })
            .await
        }
    }
}

fn describe_registration(stat: u8) -> String {
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

async fn open(target: &Target) -> anyhow::Result<DirectSession> {
    DirectSession::open(&target.port, target.baud, Timeouts::default())
        .await
        .with_context(|| format!("modem on {}", target.port.display()))
}

/// Runs the modem's actor until it is in service, then `work`, then stops it. Messages that arrive in the
/// meantime are not acknowledged, so they stay on the SIM for the gateway.
async fn with_actor<F, Fut>(target: &Target, work: F) -> anyhow::Result<()>
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
