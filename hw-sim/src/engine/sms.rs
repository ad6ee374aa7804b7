//! TS 27.005 SMS commands of the dialect: settings (`+CSCA`, `+CSCS`, `+CSMS`, `+CMGF`, `+CPMS`, `+CNMI`,
//! `+CSMP`, `+CMMS`, `+CNMA`), sending (`+CMGS`, `+CMSS`), storage (`+CMGW`, `+CMGR`, `+CMGL`, `+CMGD`).
use super::*;

impl Engine {
    /// Runs an SMS command; `Ok(None)` when `name` is not one of them.
    #[allow(clippy::too_many_lines)]
    pub(super) fn sms_command(
        &mut self,
        name: &str,
        kind: &ExtKind,
        args: &[Arg],
        lines: &mut Vec<String>,
        now: Instant,
        step: &mut Step,
    ) -> Result<Option<Flow>, Final> {
        use ExtKind::{Action, Read, Set, Test};
        let arg = |i: usize| args.get(i).cloned().unwrap_or(Arg::Empty);
        match (name, kind) {
            // ---- SMS settings
            ("+CSCA", Read) => lines.push(format!("+CSCA: \"{}\",145", self.settings.smsc)),
            ("+CSCA", Set(_)) => {
                self.settings.smsc = arg(0).text().unwrap_or("").to_string();
            }
            ("+CSCA", Test) => {}
            ("+CSCS", Read) => lines.push(format!("+CSCS: \"{}\"", self.settings.charset)),
            ("+CSCS", Test) => lines.push("+CSCS: (\"GSM\",\"IRA\",\"UCS2\",\"HEX\",\"8859-1\")".into()),
            ("+CSCS", Set(_)) => {
                let cs = arg(0).text().unwrap_or("").to_ascii_uppercase();
                if !["GSM", "IRA", "UCS2", "HEX", "8859-1", "PCCP437"].contains(&cs.as_str()) {
                    return Err(Final::Cme(cme::OPERATION_NOT_SUPPORTED));
                }
                self.settings.charset = cs;
            }
            ("+CSMS", Read) => lines.push(format!("+CSMS: {},1,1,1", self.settings.csms)),
            ("+CSMS", Test) => lines.push("+CSMS: (0,1)".into()),
            ("+CSMS", Set(_)) => {
                let s = arg(0).num().unwrap_or(0);
                if s > 1 {
                    return Err(Final::Cms(cms::OPERATION_NOT_SUPPORTED));
                }
                self.settings.csms = s as u8;
                lines.push("+CSMS: 1,1,1".into());
            }
            ("+CMGF", Read) => lines.push(format!("+CMGF: {}", u8::from(self.settings.text_mode))),
            ("+CMGF", Test) => lines.push("+CMGF: (0,1)".into()),
            ("+CMGF", Set(_)) => match arg(0).num() {
                Some(0) => self.settings.text_mode = false,
                Some(1) => self.settings.text_mode = true,
                _ => return Err(Final::Cms(cms::OPERATION_NOT_SUPPORTED)),
            },
            ("+CPMS", Test) => {
                lines.push("+CPMS: (\"SM\",\"ME\",\"SR\"),(\"SM\",\"ME\"),(\"SM\",\"ME\")".into())
            }
            ("+CPMS", Read) => {
                self.sms_gate()?;
                let parts: Vec<String> = self
                    .settings
                    .mem
                    .iter()
                    .map(|m| {
                        format!(
                            "\"{}\",{},{}",
                            m.name(),
                            self.memory(*m).used(),
                            self.memory(*m).total()
                        )
                    })
                    .collect();
                lines.push(format!("+CPMS: {}", parts.join(",")));
            }
            ("+CPMS", Set(_)) => {
                self.sms_gate()?;
                let mut mem = self.settings.mem;
                for (i, slot) in mem.iter_mut().enumerate() {
                    if let Some(t) = arg(i).text() {
                        let m = Mem::parse(t).ok_or(Final::Cms(cms::OPERATION_NOT_SUPPORTED))?;
                        // 27.005 §3.2.2: mem2 and mem3 are for writing/receiving, SR holds reports only.
                        if i > 0 && m == Mem::Sr {
                            return Err(Final::Cms(cms::OPERATION_NOT_SUPPORTED));
                        }
                        *slot = m;
                    }
                }
                self.settings.mem = mem;
                let parts: Vec<String> = mem
                    .iter()
                    .map(|m| format!("{},{}", self.memory(*m).used(), self.memory(*m).total()))
                    .collect();
                lines.push(format!("+CPMS: {}", parts.join(",")));
            }
            ("+CNMI", Read) => {
                let c = self.settings.cnmi;
                lines.push(format!("+CNMI: {},{},{},{},{}", c[0], c[1], c[2], c[3], c[4]));
            }
            ("+CNMI", Test) => lines.push("+CNMI: (0-2),(0-3),(0,2),(0-2),(0,1)".into()),
            ("+CNMI", Set(_)) => {
                const MAX: [u32; 5] = [3, 3, 3, 2, 1];
                let mut c = self.settings.cnmi;
                for (i, max) in MAX.iter().enumerate() {
                    if let Some(v) = arg(i).num() {
                        if v > *max {
                            return Err(Final::Cms(cms::OPERATION_NOT_SUPPORTED));
                        }
                        c[i] = v as u8;
                    }
                }
                self.settings.cnmi = c;
            }
            ("+CNMA", Action | Set(_)) => {}
            ("+CNMA", Test) => lines.push("+CNMA: (0-2)".into()),
            ("+CSMP", Read) => {
                let c = self.settings.csmp;
                lines.push(format!("+CSMP: {},{},{},{}", c[0], c[1], c[2], c[3]));
            }
            ("+CSMP", Set(_)) => {
                for i in 0..4 {
                    if let Some(v) = arg(i).num() {
                        self.settings.csmp[i] = v.min(255) as u8;
                    }
                }
            }
            ("+CSMP", Test) => {}
            ("+CMMS", Read) => lines.push(format!("+CMMS: {}", self.settings.cmms)),
            ("+CMMS", Test) => lines.push("+CMMS: (0-2)".into()),
            ("+CMMS", Set(_)) => {
                let v = arg(0).num().unwrap_or(0);
                if v > 2 {
                    return Err(Final::Cms(cms::OPERATION_NOT_SUPPORTED));
                }
                self.settings.cmms = v as u8;
            }
            // ---- sending
            ("+CMGS" | "+CMGW" | "+CMGR" | "+CMGL" | "+CMGD" | "+CMSS", Test) => {
                if name == "+CMGL" {
                    lines.push(if self.settings.text_mode {
                        "+CMGL: (\"REC UNREAD\",\"REC READ\",\"STO UNSENT\",\"STO SENT\",\"ALL\")".into()
                    } else {
                        "+CMGL: (0-4)".into()
                    });
                }
                if name == "+CMGD" {
                    lines.push(format!(
                        "+CMGD: (1-{}),(0-4)",
                        self.memory(self.settings.mem[0]).total()
                    ));
                }
            }
            ("+CMGS", Set(_)) => {
                self.sms_gate()?;
                let purpose = if self.settings.text_mode {
                    let to = arg(0)
                        .text()
                        .ok_or(Final::Cms(cms::INVALID_TEXT_PARAMETER))?
                        .to_string();
                    PromptFor::SendText { to }
                } else {
                    let len = arg(0).num().ok_or(Final::Cms(cms::INVALID_PDU_PARAMETER))? as usize;
                    PromptFor::SendPdu { len }
                };
                self.enter_prompt(purpose, step);
                return Ok(Some(Flow::Suspended));
            }
            ("+CMGW", Set(_) | Action) => {
                self.sms_gate()?;
                let purpose = if self.settings.text_mode {
                    let to = arg(0).text().unwrap_or("").to_string();
                    let stat = text_stat(arg(2).text()).unwrap_or(stat::STO_UNSENT);
                    PromptFor::WriteText { to, stat }
                } else {
                    let len = arg(0).num().ok_or(Final::Cms(cms::INVALID_PDU_PARAMETER))? as usize;
                    let stat = arg(1).num().map(|s| s as u8).unwrap_or(stat::STO_UNSENT);
                    PromptFor::WritePdu { len, stat }
                };
                if self.faults.storage_full {
                    return Err(Final::Cms(cms::MEMORY_FULL));
                }
                self.enter_prompt(purpose, step);
                return Ok(Some(Flow::Suspended));
            }
            ("+CMSS", Set(_)) => {
                self.sms_gate()?;
                let index = arg(0).num().ok_or(Final::Cms(cms::INVALID_MEMORY_INDEX))? as usize;
                let mem = self.settings.mem[1];
                let msg = self
                    .memory_mut(mem)
                    .get_mut(index)
                    .and_then(|s| s.clone())
                    .ok_or(Final::Cms(cms::INVALID_MEMORY_INDEX))?;
                let tpdu = msg.pdu.get(smsc_len(&msg.pdu)..).unwrap_or(&[]).to_vec();
                if let Some(Some(slot)) = self.memory_mut(mem).get_mut(index) {
                    slot.stat = stat::STO_SENT;
                }
                self.start_send(tpdu, "+CMSS", now, step);
                return Ok(Some(Flow::Suspended));
            }
            ("+CMGR", Set(_)) => {
                self.sms_gate()?;
                let index = arg(0).num().ok_or(Final::Cms(cms::INVALID_MEMORY_INDEX))? as usize;
                let mem = self.settings.mem[0];
                let text_mode = self.settings.text_mode;
                let empty = self.cfg.profile.empty_read;
                let Some(slot) = self.memory_mut(mem).get_mut(index) else {
                    return Err(Final::Cms(cms::INVALID_MEMORY_INDEX));
                };
                let Some(msg) = slot.as_mut() else {
                    return match empty {
                        EmptyRead::Ok => Ok(Some(Flow::Done(Final::Ok))),
                        EmptyRead::InvalidIndex => Err(Final::Cms(cms::INVALID_MEMORY_INDEX)),
                        EmptyRead::Error => Err(Final::Error),
                    };
                };
                let shown = msg.clone();
                if msg.stat == stat::REC_UNREAD {
                    msg.stat = stat::REC_READ;
                }
                if text_mode {
                    lines.extend(
                        codec::text_mode_read(&shown.pdu, shown.stat)
                            .ok_or(Final::Cms(cms::OPERATION_NOT_SUPPORTED))?,
                    );
                } else {
                    lines.push(format!("+CMGR: {},,{}", shown.stat, shown.tpdu_len));
                    lines.push(hex::encode_upper(&shown.pdu));
                }
            }
            ("+CMGL", Set(_) | Action) => {
                self.sms_gate()?;
                let filter = if self.settings.text_mode {
                    text_stat(arg(0).text()).unwrap_or(stat::REC_UNREAD)
                } else {
                    arg(0).num().map(|n| n as u8).unwrap_or(stat::REC_UNREAD)
                };
                if filter > stat::ALL {
                    return Err(Final::Cms(cms::OPERATION_NOT_SUPPORTED));
                }
                let mem = self.settings.mem[0];
                let text_mode = self.settings.text_mode;
                let memory = self.memory_mut(mem);
                for (i, slot) in memory.slots.iter_mut().enumerate() {
                    let Some(msg) = slot else { continue };
                    if filter != stat::ALL && msg.stat != filter {
                        continue;
                    }
                    if text_mode {
                        if let Some(l) = codec::text_mode_list(i + 1, &msg.pdu, msg.stat) {
                            lines.extend(l);
                        }
                    } else {
                        lines.push(format!("+CMGL: {},{},,{}", i + 1, msg.stat, msg.tpdu_len));
                        lines.push(hex::encode_upper(&msg.pdu));
                    }
                    if msg.stat == stat::REC_UNREAD {
                        msg.stat = stat::REC_READ;
                    }
                }
            }
            ("+CMGD", Set(_)) => {
                self.sms_gate()?;
                let index = arg(0).num().unwrap_or(0) as usize;
                let flag = arg(1).num().unwrap_or(0);
                let mem = self.settings.mem[0];
                let memory = self.memory_mut(mem);
                if flag == 0 {
                    let slot = memory
                        .get_mut(index)
                        .ok_or(Final::Cms(cms::INVALID_MEMORY_INDEX))?;
                    *slot = None;
                } else {
                    // 27.005 §3.5.4 <delflag>: 1 read, 2 read+sent, 3 read+sent+unsent, 4 all.
                    let doomed: &[u8] = match flag {
                        1 => &[stat::REC_READ],
                        2 => &[stat::REC_READ, stat::STO_SENT],
                        3 => &[stat::REC_READ, stat::STO_SENT, stat::STO_UNSENT],
                        4 => &[stat::REC_READ, stat::STO_SENT, stat::STO_UNSENT, stat::REC_UNREAD],
                        _ => return Err(Final::Cms(cms::OPERATION_NOT_SUPPORTED)),
                    };
                    for slot in &mut memory.slots {
                        if slot.as_ref().is_some_and(|m| doomed.contains(&m.stat)) {
                            *slot = None;
                        }
                    }
                }
                if self.memory(mem).used() < self.memory(mem).total() && !self.faults.storage_full {
                    self.storage_full_announced = false;
                }
            }
            _ => return Ok(None),
        }
        Ok(Some(Flow::Done(Final::Ok)))
    }

    fn enter_prompt(&mut self, purpose: PromptFor, step: &mut Step) {
        // 27.005 §3.5.1: the TA sends <CR><LF><greater_than><space> (some families without the space).
        step.output.extend_from_slice(b"\r\n");
        step.output.extend_from_slice(self.cfg.profile.prompt);
        self.mode = Mode::Prompt {
            purpose,
            buf: Vec::new(),
        };
    }

    pub(super) fn prompt_done(&mut self, purpose: PromptFor, data: Vec<u8>, now: Instant, step: &mut Step) {
        match purpose {
            PromptFor::SendPdu { len } => match parse_pdu_input(&data, len).and_then(|(pdu, tpdu)| {
                // A modem's firmware parses the TPDU before it goes out; garbage is refused here.
                if is_submit(&tpdu) && codec::decode_submit(&tpdu).is_ok() {
                    Ok((pdu, tpdu))
                } else {
                    Err(cms::INVALID_PDU_PARAMETER)
                }
            }) {
                Ok((_, tpdu)) => self.start_send(tpdu, "+CMGS", now, step),
                Err(code) => {
                    self.counters.send_failures += 1;
                    step.effects.push(Effect::SendFailed { code });
                    self.final_result(&mut step.output, Final::Cms(code));
                }
            },
            PromptFor::SendText { to } => {
                let text = String::from_utf8_lossy(&data).to_string();
                let status_report = self.settings.csmp[0] & codec::TP_SRR_BIT != 0;
                self.start_text_send(&to, &text, status_report, now, step);
            }
            PromptFor::WritePdu { len, stat } => match parse_pdu_input(&data, len) {
                Ok((pdu, _)) => self.write_stored(pdu, len, stat, step),
                Err(code) => self.final_result(&mut step.output, Final::Cms(code)),
            },
            PromptFor::WriteText { to, stat } => {
                let text = String::from_utf8_lossy(&data).to_string();
                match codec::submit_pdu(&to, &text, false) {
                    Some(tpdu) => {
                        let len = tpdu.len();
                        let mut pdu = vec![0u8];
                        pdu.extend(tpdu);
                        self.write_stored(pdu, len, stat, step);
                    }
                    None => self.final_result(&mut step.output, Final::Cms(cms::INVALID_TEXT_PARAMETER)),
                }
            }
        }
    }

    fn write_stored(&mut self, pdu: Vec<u8>, tpdu_len: usize, stat: u8, step: &mut Step) {
        let mem = self.settings.mem[1];
        if self.faults.storage_full {
            self.final_result(&mut step.output, Final::Cms(cms::MEMORY_FULL));
            return;
        }
        match self.memory_mut(mem).store(Stored { stat, pdu, tpdu_len }) {
            Some(index) => {
                self.info(&mut step.output, &[format!("+CMGW: {index}")]);
                self.final_result(&mut step.output, Final::Ok);
            }
            None => self.final_result(&mut step.output, Final::Cms(cms::MEMORY_FULL)),
        }
    }

    /// Decides what the network will answer and when; the answer itself comes from [`Engine::on_timer`].
    pub(super) fn start_send(
        &mut self,
        mut tpdu: Vec<u8>,
        verb: &'static str,
        now: Instant,
        step: &mut Step,
    ) {
        let mr = self.next_mr;
        self.next_mr = self.next_mr.wrapping_add(1);
        // TS 23.040 §9.2.3.6: the MS assigns TP-MR; it is the second octet of an SMS-SUBMIT.
        if let Some(b) = tpdu.get_mut(1) {
            *b = mr;
        }
        let effect = Effect::Submitted { mr, tpdu };
        self.schedule_send(mr, effect, verb, now, step);
    }

    fn start_text_send(&mut self, to: &str, text: &str, status_report: bool, now: Instant, step: &mut Step) {
        // The modem builds the SMS-SUBMIT itself in text mode (27.005 §3.5.1); one part at most.
        match codec::submit_pdu(to, text, status_report) {
            Some(tpdu) => self.start_send(tpdu, "+CMGS", now, step),
            None => {
                self.counters.send_failures += 1;
                step.effects.push(Effect::SendFailed {
                    code: cms::INVALID_TEXT_PARAMETER,
                });
                self.final_result(&mut step.output, Final::Cms(cms::INVALID_TEXT_PARAMETER));
            }
        }
    }

    fn schedule_send(&mut self, mr: u8, effect: Effect, verb: &'static str, now: Instant, step: &mut Step) {
        self.send_attempts += 1;
        if let Err(code) = self.network_ready() {
            // Refused by the modem itself: no network round trip.
            self.counters.send_failures += 1;
            step.effects.push(Effect::SendFailed { code });
            self.final_result(&mut step.output, Final::Cms(code));
            return;
        }
        let mut answer = NetworkAnswer::Accepted { mr, effect, verb };
        if let Some((k, code)) = self.faults.cms_every
            && self.send_attempts % u64::from(k) == 0
        {
            answer = NetworkAnswer::Failed { code };
        }
        if let Some((p, code)) = self.faults.cms_probability
            && self.rng.random_bool(p.clamp(0.0, 1.0))
        {
            answer = NetworkAnswer::Failed { code };
        }
        let delay = self.faults.delay.unwrap_or(self.cfg.delay);
        let unit: f64 = self.rng.random();
        let until = now + delay.sample(unit);
        self.mode = Mode::Network { until, answer };
        if until <= now {
            // Instant network: answer within this step.
            let mut rest = self.on_timer_inner(now);
            step.output.append(&mut rest.output);
            step.effects.append(&mut rest.effects);
        }
    }

    pub(super) fn on_timer_inner(&mut self, now: Instant) -> Step {
        // Like on_timer, without the garbage/byte accounting (the caller's step gets that).
        let saved_garbage = self.faults.garbage.take();
        let out_before = self.counters.bytes_out;
        let step = self.on_timer(now);
        self.counters.bytes_out = out_before;
        self.faults.garbage = saved_garbage;
        step
    }
}

/// 27.005 §3.1 text-mode `<stat>` strings.
fn text_stat(s: Option<&str>) -> Option<u8> {
    match s?.to_ascii_uppercase().as_str() {
        "REC UNREAD" => Some(stat::REC_UNREAD),
        "REC READ" => Some(stat::REC_READ),
        "STO UNSENT" => Some(stat::STO_UNSENT),
        "STO SENT" => Some(stat::STO_SENT),
        "ALL" => Some(stat::ALL),
        _ => None,
    }
}

/// Length of the SMSC field at the start of a PDU (TS 27.005 §3.1: its first octet counts the rest).
fn smsc_len(pdu: &[u8]) -> usize {
    pdu.first().map(|n| 1 + usize::from(*n)).unwrap_or(0)
}

/// Checks the hex typed after the prompt against `AT+CMGS=<len>`; returns (whole PDU, TPDU).
fn parse_pdu_input(data: &[u8], len: usize) -> Result<(Vec<u8>, Vec<u8>), u16> {
    let hex_text: String = String::from_utf8_lossy(data)
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    let pdu = hex::decode(&hex_text).map_err(|_| cms::INVALID_PDU_PARAMETER)?;
    let start = smsc_len(&pdu);
    let tpdu = pdu.get(start..).ok_or(cms::INVALID_PDU_PARAMETER)?.to_vec();
    // 27.005 §3.5.1: <length> is the TPDU length in octets, without the SMSC address.
    if tpdu.len() != len || tpdu.is_empty() {
        return Err(cms::INVALID_PDU_PARAMETER);
    }
    Ok((pdu, tpdu))
}
