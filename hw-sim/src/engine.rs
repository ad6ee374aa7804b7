//! The AT dialect of one simulated modem as a pure state machine: bytes from the DTE go in, bytes for
//! the DTE and [`Effect`]s for the bank come out. Time is passed in (`now`), timers are exposed through
//! [`Engine::next_deadline`], randomness comes from a seeded generator: every behaviour is unit-testable
//! without PTYs or a runtime.
//!
//! Follows V.250 (command line, echo, result codes), 3GPP TS 27.007 (identity, PIN, registration,
//! signal, operator, USSD) and TS 27.005 (SMS in PDU and text mode, storage, routing of new messages).
use std::collections::VecDeque;
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tokio::time::Instant;

use crate::codec;
use crate::fault::{DelayProfile, FaultSet, cms};
use crate::identity::Identity;
use crate::profile::{EmptyRead, MID_RESPONSE_PERIOD, Profile};
use crate::v250::{self, Arg, Command, ExtKind};

mod codes;
mod sms;
mod storage;

use codes::{cme, cme_text, cms_text};
use storage::{Mem, Memory, Stored};

/// V.250 §6.2.1: S3, the command line termination character.
const S3_CR: u8 = b'\r';
/// V.250 §6.2.2: S4, the response formatting character.
const S4_LF: u8 = b'\n';
/// V.250 §6.2.3: S5, the command line editing character (backspace).
const S5_BS: u8 = 0x08;
/// TS 27.005 §3.5.1: Ctrl-Z ends the PDU or text after the prompt.
const CTRL_Z: u8 = 0x1A;
/// TS 27.005 §3.5.1: ESC cancels the message after the prompt.
const ESC: u8 = 0x1B;
/// A command line longer than this is discarded (V.250 §5.2.1 requires at least 40 characters).
const MAX_LINE: usize = 4096;
/// Longest hex PDU or text accepted after the prompt (SMSC 12 + TPDU 164 octets, doubled, with slack).
const MAX_PROMPT_INPUT: usize = 1024;
/// TS 23.040 §9.2.3.1: TP-MTI value of SMS-SUBMIT (bits 1..0 of the first octet).
const TP_MTI_SUBMIT: u8 = 0b01;
/// TS 23.040 §9.2.3.1: mask of TP-MTI.
const TP_MTI_MASK: u8 = 0b11;
/// How long a modem takes to come back after a reboot before it answers again.
const REBOOT_TIME: Duration = Duration::from_millis(300);
/// Wrong PINs before the SIM asks for the PUK (TS 27.007 §8.3, SIM behaviour).
const PIN_ATTEMPTS: u8 = 3;
/// Wrong PUKs before the SIM is blocked.
const PUK_ATTEMPTS: u8 = 10;
/// TS 27.007 §7.2 registration status values.
mod reg {
    pub const NOT_SEARCHING: u8 = 0;
    pub const HOME: u8 = 1;
}
/// TS 27.005 §3.1 `<stat>` values in PDU mode.
mod stat {
    pub const REC_UNREAD: u8 = 0;
    pub const REC_READ: u8 = 1;
    pub const STO_UNSENT: u8 = 2;
    pub const STO_SENT: u8 = 3;
    pub const ALL: u8 = 4;
}

/// The final result of one command (V.250 §5.7.1, TS 27.007 §9.2, TS 27.005 §3.2.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Final {
    /// `OK` / `0`.
    Ok,
    /// `ERROR` / `4`.
    Error,
    /// `+CME ERROR: <n>`.
    Cme(u16),
    /// `+CMS ERROR: <n>`.
    Cms(u16),
}

/// Something the bank must act on.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    /// The network accepted an SMS-SUBMIT (TPDU without SMSC, with the modem's TP-MR patched in).
    Submitted {
        /// TP-Message-Reference answered in `+CMGS`.
        mr: u8,
        /// The TPDU octets.
        tpdu: Vec<u8>,
    },
    /// A send failed with this `+CMS ERROR`.
    SendFailed {
        /// The error code.
        code: u16,
    },
    /// A command line was executed.
    CommandLine {
        /// The line as received.
        line: String,
        /// Number of commands on it.
        commands: usize,
    },
    /// A command the dialect does not know (answered ERROR).
    UnknownCommand(String),
    /// An incoming message was stored at this index of this memory.
    Stored {
        /// Memory name.
        memory: &'static str,
        /// Index in it.
        index: usize,
    },
    /// An incoming message was lost because storage is full.
    Rejected {
        /// Why.
        reason: &'static str,
    },
    /// A USSD request was answered.
    Ussd {
        /// The request string.
        request: String,
    },
    /// The modem rebooted itself (CFUN=1,1 or a fault).
    Rebooted,
}

/// Output and effects of one step.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Step {
    /// Bytes for the DTE, in order.
    pub output: Vec<u8>,
    /// Things the bank must do.
    pub effects: Vec<Effect>,
}

/// Counters kept per modem.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Counters {
    /// Command lines executed.
    pub command_lines: u64,
    /// Individual commands executed.
    pub commands: u64,
    /// Commands answered with an error.
    pub errors: u64,
    /// SMS accepted by the network.
    pub sent: u64,
    /// Sends failed.
    pub send_failures: u64,
    /// Incoming SMS (parts) received from the network.
    pub received: u64,
    /// Incoming SMS lost (storage full).
    pub rejected: u64,
    /// Status reports received.
    pub status_reports: u64,
    /// Unknown commands.
    pub unknown_commands: u64,
    /// Bytes read from the DTE.
    pub bytes_in: u64,
    /// Bytes written to the DTE.
    pub bytes_out: u64,
    /// Reboots.
    pub reboots: u64,
}

/// What the text typed after the prompt is for.
#[derive(Debug, Clone, PartialEq)]
enum PromptFor {
    SendPdu { len: usize },
    SendText { to: String },
    WritePdu { len: usize, stat: u8 },
    WriteText { to: String, stat: u8 },
}

/// SIM lock state (TS 27.007 §8.3 `+CPIN`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SimLock {
    Ready,
    Pin { attempts: u8 },
    Puk { attempts: u8 },
    Blocked,
}

/// What the modem is doing.
#[derive(Debug, Clone, PartialEq)]
enum Mode {
    /// Rebooting: input is lost until `until`.
    Booting { until: Instant },
    /// Waiting for a command line.
    Command,
    /// After `> `: collecting a PDU or text.
    Prompt { purpose: PromptFor, buf: Vec<u8> },
    /// A send is with the network; the answer comes at `until`.
    Network { until: Instant, answer: NetworkAnswer },
}

/// The answer the network will give to a pending send.
#[derive(Debug, Clone, PartialEq)]
enum NetworkAnswer {
    Accepted {
        mr: u8,
        effect: Effect,
        verb: &'static str,
    },
    Failed {
        code: u16,
    },
}

/// Settings that `ATZ`/`AT&F`/reboot restore.
#[derive(Debug, Clone)]
struct Settings {
    echo: bool,
    verbose: bool,
    quiet: bool,
    cmee: u8,
    text_mode: bool,
    charset: String,
    creg_n: u8,
    cgreg_n: u8,
    cereg_n: u8,
    cnmi: [u8; 5],
    mem: [Mem; 3],
    csmp: [u8; 4],
    csms: u8,
    cmms: u8,
    cfun: u8,
    smsc: String,
    /// Huawei `^CURC`: periodic vendor URCs on.
    curc: bool,
}

/// Static configuration of one engine.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// Modem family.
    pub profile: Profile,
    /// IMEI, IMSI, ICCID, number.
    pub identity: Identity,
    /// PIN the SIM asks for at power-up, if any.
    pub pin: Option<String>,
    /// PUK that unblocks the SIM.
    pub puk: String,
    /// Network delay unless a fault overrides it.
    pub delay: DelayProfile,
    /// Seed for jitter, fault probabilities and garbage.
    pub seed: u64,
    /// SMSC address reported by `+CSCA?`.
    pub smsc: String,
}

/// One simulated modem's AT dialect.
#[derive(Debug)]
pub struct Engine {
    cfg: EngineConfig,
    settings: Settings,
    mode: Mode,
    line: Vec<u8>,
    last_line: String,
    /// Input that arrived while a send was with the network; processed afterwards.
    held_input: VecDeque<u8>,
    /// URCs held back while the DTE is typing after the prompt.
    held_urcs: Vec<String>,
    sim: SimLock,
    sm: Memory,
    me: Memory,
    sr: Memory,
    next_mr: u8,
    send_attempts: u64,
    faults: FaultSet,
    rng: StdRng,
    next_flood: Option<Instant>,
    counters: Counters,
    storage_full_announced: bool,
    /// Responses with information text so far (for mid-response URCs).
    info_responses: u64,
}

impl Engine {
    /// A powered-up modem, ready for commands (no boot URCs: a USB modem's port appears after boot).
    pub fn new(cfg: EngineConfig, now: Instant) -> Engine {
        let settings = Engine::factory(&cfg);
        let next_flood = cfg.profile.flood.as_ref().map(|f| now + f.every);
        Engine {
            sim: Engine::sim_at_power_up(&cfg),
            sm: Memory::new(cfg.profile.sm_capacity),
            me: Memory::new(cfg.profile.me_capacity),
            sr: Memory::new(cfg.profile.sr_capacity),
            rng: StdRng::seed_from_u64(cfg.seed),
            settings,
            mode: Mode::Command,
            line: Vec::new(),
            last_line: String::new(),
            held_input: VecDeque::new(),
            held_urcs: Vec::new(),
            next_mr: 0,
            send_attempts: 0,
            faults: FaultSet::default(),
            next_flood,
            counters: Counters::default(),
            storage_full_announced: false,
            info_responses: 0,
            cfg,
        }
    }

    fn factory(cfg: &EngineConfig) -> Settings {
        Settings {
            echo: true,
            verbose: true,
            quiet: false,
            cmee: 0,
            text_mode: false,
            charset: "GSM".into(),
            creg_n: 0,
            cgreg_n: 0,
            cereg_n: 0,
            cnmi: cfg.profile.default_cnmi,
            mem: [Mem::Sm, Mem::Sm, Mem::Sm],
            csmp: [17, 167, 0, 0],
            csms: 0,
            cmms: 0,
            cfun: 1,
            smsc: cfg.smsc.clone(),
            curc: true,
        }
    }

    fn sim_at_power_up(cfg: &EngineConfig) -> SimLock {
        if cfg.pin.is_some() {
            SimLock::Pin {
                attempts: PIN_ATTEMPTS,
            }
        } else {
            SimLock::Ready
        }
    }

    /// The identity this modem reports.
    pub fn identity(&self) -> &Identity {
        &self.cfg.identity
    }

    /// The counters so far.
    pub fn counters(&self) -> Counters {
        self.counters
    }

    /// The faults switched on.
    pub fn faults(&self) -> &FaultSet {
        &self.faults
    }

    /// When [`Engine::on_timer`] must be called next.
    pub fn next_deadline(&self) -> Option<Instant> {
        if self.faults.hung {
            // A hung modem does nothing on its own, not even finish a send.
            return None;
        }
        let mode_deadline = match &self.mode {
            Mode::Booting { until } | Mode::Network { until, .. } => Some(*until),
            _ => None,
        };
        match (mode_deadline, self.next_flood) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Whether the SIM and network let an SMS go out; the error otherwise.
    fn network_ready(&self) -> Result<(), u16> {
        if self.faults.sim_removed {
            return Err(cms::SIM_NOT_INSERTED);
        }
        if self.sim != SimLock::Ready {
            return Err(cms::SIM_PIN_REQUIRED);
        }
        if self.registration() != reg::HOME {
            return Err(cms::NO_NETWORK_SERVICE);
        }
        Ok(())
    }

    fn registration(&self) -> u8 {
        if self.faults.sim_removed || self.sim != SimLock::Ready || self.settings.cfun != 1 {
            return reg::NOT_SEARCHING;
        }
        self.faults.no_registration.unwrap_or(reg::HOME)
    }

    // ---------------------------------------------------------------- output helpers

    fn info(&self, out: &mut Vec<u8>, lines: &[String]) {
        // V.250 §6.2.5: ATQ1 suppresses result codes only; information text is still sent.
        if lines.is_empty() {
            return;
        }
        if self.settings.verbose {
            out.extend_from_slice(b"\r\n");
        }
        for line in lines {
            out.extend_from_slice(line.as_bytes());
            out.extend_from_slice(b"\r\n");
        }
    }

    fn final_result(&mut self, out: &mut Vec<u8>, result: Final) {
        if result != Final::Ok {
            self.counters.errors += 1;
        }
        if self.settings.quiet {
            return;
        }
        let text = match result {
            Final::Ok => {
                if self.settings.verbose {
                    "OK".to_string()
                } else {
                    "0".to_string()
                }
            }
            Final::Error => {
                if self.settings.verbose {
                    "ERROR".to_string()
                } else {
                    "4".to_string()
                }
            }
            Final::Cme(code) => match self.settings.cmee {
                0 => {
                    if self.settings.verbose {
                        "ERROR".to_string()
                    } else {
                        "4".to_string()
                    }
                }
                1 => format!("+CME ERROR: {code}"),
                _ => format!("+CME ERROR: {}", cme_text(code)),
            },
            // 27.005 §3.2.5: +CMS ERROR is reported even with +CMEE=0 by the modems we model; verbose
            // text only with +CMEE=2.
            Final::Cms(code) => match self.settings.cmee {
                2 => format!("+CMS ERROR: {}", cms_text(code)),
                _ => format!("+CMS ERROR: {code}"),
            },
        };
        if self.settings.verbose {
            out.extend_from_slice(b"\r\n");
            out.extend_from_slice(text.as_bytes());
            out.extend_from_slice(b"\r\n");
        } else {
            out.extend_from_slice(text.as_bytes());
            out.push(S3_CR);
        }
    }

    fn urc_bytes(&self, out: &mut Vec<u8>, lines: &[String]) {
        out.extend_from_slice(b"\r\n");
        for line in lines {
            out.extend_from_slice(line.as_bytes());
            out.extend_from_slice(b"\r\n");
        }
    }

    /// Emits an unsolicited result code now, or holds it while the DTE types after the prompt.
    fn urc(&mut self, step: &mut Step, lines: &[String]) {
        if self.faults.hung || matches!(self.mode, Mode::Booting { .. }) {
            return;
        }
        if matches!(self.mode, Mode::Prompt { .. }) {
            self.held_urcs.extend(lines.iter().cloned());
            return;
        }
        self.urc_bytes(&mut step.output, lines);
    }

    /// Adds line noise to a step's output when the garbage fault is on.
    fn finish(&mut self, mut step: Step) -> Step {
        if let Some(p) = self.faults.garbage
            && !step.output.is_empty()
            && self.rng.random_bool(p.clamp(0.0, 1.0))
        {
            let mut noisy = self.garbage_burst();
            noisy.extend_from_slice(&step.output);
            step.output = noisy;
        }
        self.counters.bytes_out += step.output.len() as u64;
        step
    }

    fn garbage_burst(&mut self) -> Vec<u8> {
        let n = self.rng.random_range(1..=12);
        (0..n)
            .map(|_| {
                // Line noise: any byte except CR/LF so that it does not forge line boundaries alone.
                let b: u8 = self.rng.random();
                if b == S3_CR || b == S4_LF { 0xFF } else { b }
            })
            .collect()
    }

    // ---------------------------------------------------------------- inputs

    /// Bytes from the DTE.
    pub fn input(&mut self, bytes: &[u8], now: Instant) -> Step {
        self.counters.bytes_in += bytes.len() as u64;
        let mut step = Step::default();
        if self.faults.hung {
            return step;
        }
        match self.mode {
            Mode::Booting { .. } => return step,
            Mode::Network { .. } => {
                self.held_input.extend(bytes);
                return step;
            }
            _ => {}
        }
        self.feed(bytes, now, &mut step);
        self.finish(step)
    }

    fn feed(&mut self, bytes: &[u8], now: Instant, step: &mut Step) {
        let mut i = 0;
        while i < bytes.len() {
            let b = bytes[i];
            i += 1;
            match &mut self.mode {
                Mode::Network { .. } | Mode::Booting { .. } => {
                    // A command on this line started a send: the rest waits for its answer.
                    self.held_input.extend(&bytes[i - 1..]);
                    return;
                }
                Mode::Prompt { purpose, buf } => {
                    match b {
                        CTRL_Z => {
                            let purpose = purpose.clone();
                            let data = std::mem::take(buf);
                            self.mode = Mode::Command;
                            self.prompt_done(purpose, data, now, step);
                            self.release_urcs(step);
                        }
                        ESC => {
                            self.mode = Mode::Command;
                            self.final_result(&mut step.output, Final::Ok);
                            self.release_urcs(step);
                        }
                        S3_CR
                            if matches!(
                                purpose,
                                PromptFor::SendText { .. } | PromptFor::WriteText { .. }
                            ) =>
                        {
                            // 27.005 §3.5.1: a CR in text mode starts a new line with a new prompt.
                            buf.push(b'\n');
                            if self.settings.echo {
                                step.output.push(b);
                            }
                            step.output.extend_from_slice(b"\r\n");
                            step.output.extend_from_slice(self.cfg.profile.prompt);
                        }
                        _ => {
                            if buf.len() < MAX_PROMPT_INPUT {
                                buf.push(b);
                            }
                            if self.settings.echo {
                                step.output.push(b);
                            }
                        }
                    }
                }
                Mode::Command => {
                    if self.settings.echo {
                        step.output.push(b);
                    }
                    match b {
                        S3_CR => {
                            let line = std::mem::take(&mut self.line);
                            self.command_line(&line, now, step);
                        }
                        S4_LF if self.line.is_empty() => {}
                        S5_BS => {
                            self.line.pop();
                        }
                        _ => {
                            if self.line.len() < MAX_LINE {
                                self.line.push(b);
                            } else {
                                self.line.clear();
                            }
                            // V.250 §5.2.4: `A/` repeats the last command line without a terminator.
                            if self.line.eq_ignore_ascii_case(b"A/") {
                                self.line.clear();
                                let last = self.last_line.clone().into_bytes();
                                self.command_line(&last, now, step);
                            }
                        }
                    }
                }
            }
        }
    }

    fn release_urcs(&mut self, step: &mut Step) {
        if !self.held_urcs.is_empty() {
            let held = std::mem::take(&mut self.held_urcs);
            self.urc_bytes(&mut step.output, &held);
        }
    }

    /// Timers: the network's answer to a send, the end of a reboot, URC floods.
    pub fn on_timer(&mut self, now: Instant) -> Step {
        let mut step = Step::default();
        if self.faults.hung {
            return step;
        }
        if let Some(at) = self.next_flood
            && at <= now
        {
            if let Some(flood) = self.cfg.profile.flood.clone() {
                let lines: Vec<String> = flood.lines.iter().map(|s| s.to_string()).collect();
                self.urc(&mut step, &lines);
                self.next_flood = Some(now + flood.every);
            }
        }
        match &self.mode {
            Mode::Booting { until } if *until <= now => {
                self.mode = Mode::Command;
                let lines: Vec<String> = self.cfg.profile.boot_urcs.iter().map(|s| s.to_string()).collect();
                if !lines.is_empty() {
                    self.urc_bytes(&mut step.output, &lines);
                }
            }
            Mode::Network { until, answer } if *until <= now => {
                let answer = answer.clone();
                self.mode = Mode::Command;
                match answer {
                    NetworkAnswer::Accepted { mr, effect, verb } => {
                        self.counters.sent += 1;
                        self.info(&mut step.output, &[format!("{verb}: {mr}")]);
                        self.final_result(&mut step.output, Final::Ok);
                        step.effects.push(effect);
                    }
                    NetworkAnswer::Failed { code } => {
                        self.counters.send_failures += 1;
                        self.final_result(&mut step.output, Final::Cms(code));
                        step.effects.push(Effect::SendFailed { code });
                    }
                }
                let held: Vec<u8> = self.held_input.drain(..).collect();
                self.feed(&held, now, &mut step);
            }
            _ => {}
        }
        self.finish(step)
    }

    /// An SMS-DELIVER from the network (PDU including the SMSC field, TPDU length).
    pub fn deliver(&mut self, pdu: &[u8], tpdu_len: usize) -> Step {
        let mut step = Step::default();
        self.counters.received += 1;
        if self.faults.hung || self.faults.sim_removed || self.registration() != reg::HOME {
            // The network cannot reach this modem; the message is lost for the simulation's purposes.
            self.counters.rejected += 1;
            step.effects.push(Effect::Rejected {
                reason: "not reachable",
            });
            return step;
        }
        let [mode, mt, _, _, _] = self.settings.cnmi;
        if mt == 2 && mode != 0 {
            // 27.005 §3.4.1 mt=2: routed directly to the TE with +CMT.
            let lines = vec![format!("+CMT: ,{tpdu_len}"), hex::encode_upper(pdu)];
            self.urc(&mut step, &lines);
            return self.finish(step);
        }
        let mem = self.settings.mem[2];
        let stored = Stored {
            stat: stat::REC_UNREAD,
            pdu: pdu.to_vec(),
            tpdu_len,
        };
        match self.store_incoming(mem, stored, &mut step) {
            Some(index) => {
                if mt != 0 && mode != 0 {
                    self.urc(&mut step, &[format!("+CMTI: \"{}\",{index}", mem.name())]);
                }
            }
            None => self.counters.rejected += 1,
        }
        self.finish(step)
    }

    /// An SMS-STATUS-REPORT from the network (PDU including the SMSC field, TPDU length).
    pub fn status_report(&mut self, pdu: &[u8], tpdu_len: usize) -> Step {
        let mut step = Step::default();
        self.counters.status_reports += 1;
        if self.faults.hung || self.faults.sim_removed {
            return step;
        }
        let [mode, _, _, ds, _] = self.settings.cnmi;
        let stored = Stored {
            stat: stat::REC_UNREAD,
            pdu: pdu.to_vec(),
            tpdu_len,
        };
        match ds {
            // 27.005 §3.4.1 ds=1: routed directly with +CDS.
            1 if mode != 0 => {
                let lines = vec![format!("+CDS: {tpdu_len}"), hex::encode_upper(pdu)];
                self.urc(&mut step, &lines);
            }
            // ds=2: stored, +CDSI names the slot.
            2 => {
                if let Some(index) = self.store_incoming(Mem::Sr, stored, &mut step)
                    && mode != 0
                {
                    self.urc(&mut step, &[format!("+CDSI: \"SR\",{index}")]);
                }
            }
            // ds=0: not routed to the TE; kept in the receive memory where a CMGL sweep finds it.
            _ => {
                let mem = self.settings.mem[2];
                self.store_incoming(mem, stored, &mut step);
            }
        }
        self.finish(step)
    }

    fn store_incoming(&mut self, mem: Mem, msg: Stored, step: &mut Step) -> Option<usize> {
        if self.faults.storage_full || self.memory(mem).used() >= self.memory(mem).total() {
            self.announce_full(mem, step);
            step.effects.push(Effect::Rejected {
                reason: "storage full",
            });
            return None;
        }
        let index = self.memory_mut(mem).store(msg)?;
        step.effects.push(Effect::Stored {
            memory: mem.name(),
            index,
        });
        if self.memory(mem).used() >= self.memory(mem).total() {
            self.announce_full(mem, step);
        }
        Some(index)
    }

    fn announce_full(&mut self, mem: Mem, step: &mut Step) {
        if self.storage_full_announced {
            return;
        }
        self.storage_full_announced = true;
        let urc = self.cfg.profile.storage_full_urc.replace("{mem}", mem.name());
        self.urc(step, &[urc]);
    }

    /// An unsolicited result code pushed by the control API.
    pub fn push_urc(&mut self, text: &str) -> Step {
        let mut step = Step::default();
        let lines: Vec<String> = text.lines().map(str::to_string).collect();
        self.urc(&mut step, &lines);
        self.finish(step)
    }

    /// Switches a fault on (or performs a one-shot one such as reboot). Unplug/replug are handled by the
    /// bank, which owns the PTY.
    pub fn set_fault(&mut self, fault: &crate::fault::Fault, now: Instant) -> Step {
        use crate::fault::Fault;
        let mut step = Step::default();
        let before = self.registration();
        match *fault {
            Fault::Delay { delay } => self.faults.delay = Some(delay),
            Fault::CmsEvery { k, code } => self.faults.cms_every = Some((k.max(1), code)),
            Fault::CmsProbability { p, code } => self.faults.cms_probability = Some((p, code)),
            Fault::Hung => self.faults.hung = true,
            Fault::Garbage { p } => {
                self.faults.garbage = Some(p);
                step.output = self.garbage_burst();
            }
            Fault::Reboot => return self.reboot(now),
            Fault::Unplug | Fault::Replug => {}
            Fault::SimRemoved => {
                self.faults.sim_removed = true;
                // Modems that report SIM state changes say so (TS 27.007 §8.3 +CPIN URC on some families).
                self.urc(&mut step, &["+CPIN: NOT INSERTED".to_string()]);
            }
            Fault::NoRegistration { stat } => self.faults.no_registration = Some(stat),
            Fault::StorageFull => {
                self.faults.storage_full = true;
                let mem = self.settings.mem[2];
                self.announce_full(mem, &mut step);
            }
            Fault::SlowBaud { baud } => self.faults.slow_baud = Some(baud),
        }
        self.registration_changed(before, &mut step);
        self.finish(step)
    }

    /// Switches every fault off.
    pub fn clear_faults(&mut self) -> Step {
        let before = self.registration();
        let mut step = Step::default();
        self.faults = FaultSet::default();
        self.storage_full_announced = false;
        self.registration_changed(before, &mut step);
        self.finish(step)
    }

    fn registration_changed(&mut self, before: u8, step: &mut Step) {
        let now_stat = self.registration();
        if now_stat == before {
            return;
        }
        let mut lines = Vec::new();
        if self.settings.creg_n > 0 {
            lines.push(self.creg_urc("+CREG", self.settings.creg_n, now_stat));
        }
        if self.settings.cgreg_n > 0 {
            lines.push(self.creg_urc("+CGREG", self.settings.cgreg_n, now_stat));
        }
        if self.settings.cereg_n > 0 {
            lines.push(self.creg_urc("+CEREG", self.settings.cereg_n, now_stat));
        }
        if !lines.is_empty() {
            self.urc(step, &lines);
        }
    }

    fn creg_urc(&self, name: &str, n: u8, stat: u8) -> String {
        if n >= 2 && stat == reg::HOME {
            format!("{name}: {stat},\"00C3\",\"0000A13F\"")
        } else {
            format!("{name}: {stat}")
        }
    }

    /// Power-cycles the modem: settings and pending work are dropped, stored messages stay (they live on
    /// the SIM and in flash), the PIN must be entered again, boot URCs follow after a short while.
    pub fn reboot(&mut self, now: Instant) -> Step {
        self.counters.reboots += 1;
        self.settings = Engine::factory(&self.cfg);
        self.sim = Engine::sim_at_power_up(&self.cfg);
        self.line.clear();
        self.held_input.clear();
        self.held_urcs.clear();
        self.storage_full_announced = false;
        self.faults.hung = false;
        self.mode = Mode::Booting {
            until: now + REBOOT_TIME,
        };
        self.next_flood = self
            .cfg
            .profile
            .flood
            .as_ref()
            .map(|f| now + REBOOT_TIME + f.every);
        Step {
            output: Vec::new(),
            effects: vec![Effect::Rebooted],
        }
    }

    // ---------------------------------------------------------------- command execution

    fn command_line(&mut self, raw: &[u8], now: Instant, step: &mut Step) {
        let text = String::from_utf8_lossy(raw).to_string();
        // V.250 §5.2.1: characters before the "AT" prefix are ignored (line noise, stray bytes).
        let upper = text.to_ascii_uppercase();
        let Some(at) = upper.find("AT") else {
            return;
        };
        let body = text[at + 2..].trim_end().to_string();
        self.last_line = text[at..].to_string();
        self.counters.command_lines += 1;
        let commands = match v250::parse_line(&body) {
            Ok(c) => c,
            Err(_) => {
                step.effects.push(Effect::UnknownCommand(text.clone()));
                self.counters.unknown_commands += 1;
                self.final_result(&mut step.output, Final::Error);
                return;
            }
        };
        step.effects.push(Effect::CommandLine {
            line: text.clone(),
            commands: commands.len(),
        });
        let mut had_info = false;
        for cmd in commands {
            self.counters.commands += 1;
            let mut lines = Vec::new();
            let result = self.execute(&cmd, &mut lines, now, step);
            had_info |= !lines.is_empty();
            self.info(&mut step.output, &lines);
            match result {
                Flow::Done(Final::Ok) => {}
                Flow::Done(other) => {
                    self.final_result(&mut step.output, other);
                    return;
                }
                Flow::Suspended => return,
            }
        }
        if had_info && let Some(urc) = self.cfg.profile.mid_response_urc {
            self.info_responses += 1;
            if self.settings.curc && self.info_responses % MID_RESPONSE_PERIOD == 0 {
                // Huawei sticks are known to slip ^RSSI between the information text and the OK.
                self.urc_bytes(&mut step.output, &[urc.to_string()]);
            }
        }
        self.final_result(&mut step.output, Final::Ok);
    }

    fn execute(&mut self, cmd: &Command, lines: &mut Vec<String>, now: Instant, step: &mut Step) -> Flow {
        match cmd {
            Command::Basic { name, value } => Flow::Done(self.basic(name, *value, lines, now, step)),
            Command::SRegister { set, .. } => {
                if set.is_none() {
                    lines.push("000".into());
                }
                Flow::Done(Final::Ok)
            }
            Command::Dial(s) => {
                if s.ends_with(';') {
                    // Voice call attempt: no voice in the simulation.
                    lines.push("NO CARRIER".into());
                    Flow::Done(Final::Error)
                } else {
                    Flow::Done(Final::Error)
                }
            }
            Command::Extended { name, kind } => self.extended(name, kind, lines, now, step),
        }
    }

    fn basic(
        &mut self,
        name: &str,
        value: Option<u32>,
        lines: &mut Vec<String>,
        now: Instant,
        step: &mut Step,
    ) -> Final {
        let v = value.unwrap_or(0);
        match name {
            "E" => self.settings.echo = v == 1,
            "V" => self.settings.verbose = v == 1,
            "Q" => self.settings.quiet = v == 1,
            "Z" | "&F" => {
                let cfun = self.settings.cfun;
                self.settings = Engine::factory(&self.cfg);
                self.settings.cfun = cfun;
            }
            "I" => {
                let imei = self.cfg.identity.imei.clone();
                lines.extend(self.cfg.profile.ati.iter().map(|l| l.replace("{imei}", &imei)));
            }
            "H" | "&C" | "&D" | "&K" | "&W" | "&V" | "X" | "L" | "M" | "&S" | "\\Q" | "\\N" => {}
            "A" => return Final::Error,
            _ => {
                step.effects.push(Effect::UnknownCommand(name.to_string()));
                self.counters.unknown_commands += 1;
                let _ = now;
                return Final::Error;
            }
        }
        Final::Ok
    }

    /// Gate for commands that need an unlocked SIM (27.007 §9.2.1 codes 10/11/12).
    fn sim_gate(&self) -> Result<(), u16> {
        if self.faults.sim_removed {
            return Err(cme::SIM_NOT_INSERTED);
        }
        match self.sim {
            SimLock::Ready => Ok(()),
            SimLock::Pin { .. } => Err(cme::SIM_PIN_REQUIRED),
            SimLock::Puk { .. } => Err(cme::SIM_PUK_REQUIRED),
            SimLock::Blocked => Err(cme::SIM_FAILURE),
        }
    }

    /// The same gate for SMS commands, which report with +CMS ERROR (27.005 §3.2.5).
    fn sms_gate(&self) -> Result<(), Final> {
        if self.faults.sim_removed {
            return Err(Final::Cms(cms::SIM_NOT_INSERTED));
        }
        if self.sim != SimLock::Ready {
            return Err(Final::Cms(cms::SIM_PIN_REQUIRED));
        }
        Ok(())
    }

    fn memory(&self, mem: Mem) -> &Memory {
        match mem {
            Mem::Sm => &self.sm,
            Mem::Me => &self.me,
            Mem::Sr => &self.sr,
        }
    }

    fn memory_mut(&mut self, mem: Mem) -> &mut Memory {
        match mem {
            Mem::Sm => &mut self.sm,
            Mem::Me => &mut self.me,
            Mem::Sr => &mut self.sr,
        }
    }

    fn extended(
        &mut self,
        name: &str,
        kind: &ExtKind,
        lines: &mut Vec<String>,
        now: Instant,
        step: &mut Step,
    ) -> Flow {
        let args = match kind {
            ExtKind::Set(raw) => v250::split_args(raw),
            _ => Vec::new(),
        };
        let r = self.extended_inner(name, kind, &args, lines, now, step);
        match r {
            Ok(flow) => flow,
            Err(f) => Flow::Done(f),
        }
    }

    #[allow(clippy::too_many_lines)]
    fn extended_inner(
        &mut self,
        name: &str,
        kind: &ExtKind,
        args: &[Arg],
        lines: &mut Vec<String>,
        now: Instant,
        step: &mut Step,
    ) -> Result<Flow, Final> {
        use ExtKind::{Action, Read, Set, Test};
        let arg = |i: usize| args.get(i).cloned().unwrap_or(Arg::Empty);
        let ok = Ok(Flow::Done(Final::Ok));
        let cme_gate = |e: &Engine| e.sim_gate().map_err(Final::Cme);
        if let Some(flow) = self.sms_command(name, kind, args, lines, now, step)? {
            return Ok(flow);
        }
        match (name, kind) {
            // ---- V.250 / 27.007 identity
            ("+CGMI" | "+GMI", Action) => lines.push(self.cfg.profile.manufacturer.into()),
            ("+CGMM" | "+GMM", Action) => lines.push(self.cfg.profile.model.into()),
            ("+CGMR" | "+GMR", Action) => lines.push(self.cfg.profile.revision.into()),
            ("+CGSN" | "+GSN", Action) => lines.push(self.cfg.identity.imei.clone()),
            ("+CGSN", Set(_)) => lines.push(format!("+CGSN: \"{}\"", self.cfg.identity.imei)),
            ("+CGMI" | "+CGMM" | "+CGMR" | "+CGSN" | "+CIMI" | "+GMI" | "+GMM" | "+GMR" | "+GSN", Test) => {}
            ("+GCAP", Action) => lines.push("+GCAP: +CGSM,+FCLASS,+DS".into()),
            ("+CIMI", Action) => {
                cme_gate(self)?;
                lines.push(self.cfg.identity.imsi.clone());
            }
            ("+CCID" | "+ICCID" | "^ICCID" | "+QCCID" | "#CCID" | "+CRSM", _) if !matches!(kind, Test) => {
                if self.faults.sim_removed {
                    return Err(Final::Cme(cme::SIM_NOT_INSERTED));
                }
                let tag = match name {
                    "^ICCID" => "^ICCID",
                    "+QCCID" => "+QCCID",
                    "#CCID" => "#CCID",
                    "+ICCID" => "+ICCID",
                    _ => "+CCID",
                };
                lines.push(format!("{tag}: {}", self.cfg.identity.iccid));
            }
            ("+CNUM", Action) => {
                cme_gate(self)?;
                lines.push(format!("+CNUM: \"\",\"{}\",145", self.cfg.identity.number));
            }
            ("+CMEE", Set(_)) => {
                let n = arg(0).num().unwrap_or(0);
                if n > 2 {
                    return Err(Final::Error);
                }
                self.settings.cmee = n as u8;
            }
            ("+CMEE", Read) => lines.push(format!("+CMEE: {}", self.settings.cmee)),
            ("+CMEE", Test) => lines.push("+CMEE: (0-2)".into()),
            ("+CPAS", Action) => lines.push("+CPAS: 0".into()),
            ("+CLAC", Action) => {
                lines.extend(
                    [
                        "+CGMI", "+CGMM", "+CGMR", "+CGSN", "+CIMI", "+CCID", "+CNUM", "+CMEE", "+CPIN",
                        "+CREG", "+CGREG", "+CEREG", "+CSQ", "+COPS", "+CFUN", "+CSCA", "+CSCS", "+CSMS",
                        "+CPMS", "+CMGF", "+CMGS", "+CMGW", "+CMSS", "+CMGR", "+CMGL", "+CMGD", "+CNMI",
                        "+CNMA", "+CSMP", "+CUSD", "+CMMS",
                    ]
                    .iter()
                    .map(|s| s.to_string()),
                );
            }
            // ---- PIN
            ("+CPIN", Read) => {
                if self.faults.sim_removed {
                    return Err(Final::Cme(cme::SIM_NOT_INSERTED));
                }
                let s = match self.sim {
                    SimLock::Ready => "READY",
                    SimLock::Pin { .. } => "SIM PIN",
                    SimLock::Puk { .. } => "SIM PUK",
                    SimLock::Blocked => return Err(Final::Cme(cme::SIM_FAILURE)),
                };
                lines.push(format!("+CPIN: {s}"));
            }
            ("+CPIN", Test) => {}
            ("+CPIN", Set(_)) => {
                if self.faults.sim_removed {
                    return Err(Final::Cme(cme::SIM_NOT_INSERTED));
                }
                let given = arg(0).text().unwrap_or("").to_string();
                match self.sim {
                    SimLock::Ready => return Err(Final::Cme(cme::OPERATION_NOT_ALLOWED)),
                    SimLock::Pin { attempts } => {
                        if Some(&given) == self.cfg.pin.as_ref() {
                            self.sim = SimLock::Ready;
                        } else if attempts <= 1 {
                            self.sim = SimLock::Puk {
                                attempts: PUK_ATTEMPTS,
                            };
                            return Err(Final::Cme(cme::SIM_PUK_REQUIRED));
                        } else {
                            self.sim = SimLock::Pin {
                                attempts: attempts - 1,
                            };
                            return Err(Final::Cme(cme::INCORRECT_PASSWORD));
                        }
                    }
                    SimLock::Puk { attempts } => {
                        let new_pin = arg(1).text().map(str::to_string);
                        if given == self.cfg.puk && new_pin.is_some() {
                            self.cfg.pin = new_pin;
                            self.sim = SimLock::Ready;
                        } else if attempts <= 1 {
                            self.sim = SimLock::Blocked;
                            return Err(Final::Cme(cme::SIM_FAILURE));
                        } else {
                            self.sim = SimLock::Puk {
                                attempts: attempts - 1,
                            };
                            return Err(Final::Cme(cme::INCORRECT_PASSWORD));
                        }
                    }
                    SimLock::Blocked => return Err(Final::Cme(cme::SIM_FAILURE)),
                }
            }
            // ---- registration
            ("+CREG" | "+CGREG" | "+CEREG", Set(_)) => {
                let n = arg(0).num().unwrap_or(0);
                if n > 2 {
                    return Err(Final::Cme(cme::OPERATION_NOT_SUPPORTED));
                }
                let n = n as u8;
                match name {
                    "+CREG" => self.settings.creg_n = n,
                    "+CGREG" => self.settings.cgreg_n = n,
                    _ => self.settings.cereg_n = n,
                }
            }
            ("+CREG" | "+CGREG" | "+CEREG", Read) => {
                let n = match name {
                    "+CREG" => self.settings.creg_n,
                    "+CGREG" => self.settings.cgreg_n,
                    _ => self.settings.cereg_n,
                };
                let stat = self.registration();
                if n >= 2 && stat == reg::HOME {
                    lines.push(format!("{name}: {n},{stat},\"00C3\",\"0000A13F\""));
                } else {
                    lines.push(format!("{name}: {n},{stat}"));
                }
            }
            ("+CREG" | "+CGREG" | "+CEREG", Test) => lines.push(format!("{name}: (0-2)")),
            ("+CSQ", Action) => {
                if self.registration() == reg::HOME {
                    lines.push("+CSQ: 21,99".into());
                } else {
                    lines.push("+CSQ: 99,99".into());
                }
            }
            ("+CSQ", Test) => lines.push("+CSQ: (0-31,99),(0-7,99)".into()),
            ("+COPS", Read) => {
                if self.registration() == reg::HOME {
                    lines.push("+COPS: 0,0,\"HW-SIM\",7".into());
                } else {
                    lines.push("+COPS: 0".into());
                }
            }
            ("+COPS", Test) => lines.push("+COPS: (2,\"HW-SIM\",\"HWSIM\",\"00101\",7),,(0-4),(0-2)".into()),
            ("+COPS", Set(_)) => {
                cme_gate(self)?;
            }
            ("+CFUN", Read) => lines.push(format!("+CFUN: {}", self.settings.cfun)),
            ("+CFUN", Test) => lines.push("+CFUN: (0,1,4),(0,1)".into()),
            ("+CFUN", Set(_)) => {
                let fun = arg(0).num().unwrap_or(1);
                if ![0, 1, 4].contains(&fun) {
                    return Err(Final::Cme(cme::OPERATION_NOT_SUPPORTED));
                }
                if arg(1).num() == Some(1) {
                    // 27.007 §8.2: <rst>=1 resets the MT before setting the level.
                    self.final_result(&mut step.output, Final::Ok);
                    let reboot = self.reboot(now);
                    step.effects.extend(reboot.effects);
                    return Ok(Flow::Suspended);
                }
                let before = self.registration();
                self.settings.cfun = fun as u8;
                self.registration_changed(before, step);
            }
            // ---- Huawei periodic URC switch (HUAWEI AT Command Interface Specification, ^CURC)
            ("^CURC", Set(_)) => {
                let on = arg(0).num().unwrap_or(1) != 0;
                self.settings.curc = on;
                self.next_flood = match (&self.cfg.profile.flood, on) {
                    (Some(f), true) => Some(now + f.every),
                    _ => None,
                };
            }
            // Huawei ^PORTSEL selects which port gets URCs; gammu sends it to Huawei devices.
            ("^PORTSEL", Set(_) | Test) => {}
            ("^PORTSEL", Read) => lines.push("^PORTSEL: 0".into()),
            ("^CURC", Read) => lines.push(format!("^CURC: {}", u8::from(self.settings.curc))),
            ("^CURC", Test) => lines.push("^CURC: (0-1)".into()),
            // ---- USSD
            ("+CUSD", Read) => lines.push("+CUSD: 1".into()),
            ("+CUSD", Test) => lines.push("+CUSD: (0-2)".into()),
            ("+CUSD", Set(_)) => {
                if let Some(request) = arg(1).text() {
                    self.network_ready()
                        .map_err(|_| Final::Cme(cme::NO_NETWORK_SERVICE))?;
                    let request = request.to_string();
                    let reply = format!("hw-sim {}: balance 12.34 PLN", self.cfg.identity.number);
                    let text = if self.settings.charset == "UCS2" {
                        reply.encode_utf16().map(|u| format!("{u:04X}")).collect()
                    } else {
                        reply
                    };
                    // 27.007 §7.15: the answer is a URC after OK; <m>=0 means no further action needed.
                    self.final_result(&mut step.output, Final::Ok);
                    self.urc_bytes(&mut step.output, &[format!("+CUSD: 0,\"{text}\",15")]);
                    step.effects.push(Effect::Ussd { request });
                    return Ok(Flow::Suspended);
                }
            }
            // ---- indicators and vendor switches that daemons send and that only need an OK
            (
                "+CMER" | "+CIND" | "+CRC" | "+CLIP" | "+CSSN" | "+CR" | "+IFC" | "+ICF" | "+IPR" | "+CTZU"
                | "+CTZR" | "+CSDH" | "+CSCB" | "+CGEREP" | "+CSNS" | "+CVHU" | "+CLTS" | "+CMUX"
                | "+QURCCFG" | "+QINDCFG" | "+CPBS" | "+CGDCONT" | "+WIND" | "+CGSMS" | "+CCLK",
                Set(_) | Test,
            ) => {}
            ("+IPR", Read) => lines.push("+IPR: 115200".into()),
            ("+CSDH", Read) => lines.push("+CSDH: 0".into()),
            ("+CCLK", Read) => lines.push("+CCLK: \"26/01/01,00:00:00+00\"".into()),
            ("+CIND", Read) => lines.push("+CIND: 5,1,0".into()),
            _ => {
                let shown = match kind {
                    Action => name.to_string(),
                    Read => format!("{name}?"),
                    Test => format!("{name}=?"),
                    Set(raw) => format!("{name}={raw}"),
                };
                step.effects.push(Effect::UnknownCommand(shown));
                self.counters.unknown_commands += 1;
                return Err(Final::Error);
            }
        }
        ok
    }
}

/// Whether a command finished (with this result) or left the final result for later.
enum Flow {
    Done(Final),
    Suspended,
}

/// Checks that a TPDU is an SMS-SUBMIT (TS 23.040 §9.2.3.1).
pub fn is_submit(tpdu: &[u8]) -> bool {
    tpdu.first().is_some_and(|b| b & TP_MTI_MASK == TP_MTI_SUBMIT)
}

#[cfg(test)]
mod tests;
