//! Sending: every part of a message through `AT+CMGS` with its TP-MR, outcomes classified as
//! permanent, temporary or uncertain; USSD requests.
use super::*;

impl Actor {
    pub(super) async fn send_all(
        &mut self,
        request: &SendRequest,
    ) -> (Result<Vec<PartSent>, SendError>, FollowUp) {
        let mut sent = Vec::with_capacity(request.parts.len());
        for (index, part) in request.parts.iter().enumerate() {
            match self.send_part(part).await {
                Ok(mr) => {
                    debug!(part = index, mr, "part sent");
                    sent.push(PartSent { index, mr });
                    self.state.sent_parts += 1;
                    self.publish();
                }
                Err(PartFailure::Rejected(result)) => {
                    let reason = format!("part {index}: {result}");
                    self.state.errors += 1;
                    self.publish();
                    let err = match &result {
                        FinalResult::CmsError(e) if e.is_permanent() => SendError::Permanent { reason, sent },
                        _ => SendError::Temporary { reason, sent },
                    };
                    return (Err(err), FollowUp::Nothing);
                }
                Err(PartFailure::BeforePdu(e)) => {
                    let reason = format!("part {index}: {e}");
                    let follow = follow_up::<()>(&Err(e));
                    return (Err(SendError::Temporary { reason, sent }), follow);
                }
                Err(PartFailure::AfterPdu(e)) => {
                    let reason = format!("part {index}: PDU written, then {e}");
                    warn!(%reason, "send outcome uncertain");
                    let follow = follow_up::<()>(&Err(e));
                    return (Err(SendError::Uncertain { reason, sent }), follow);
                }
            }
        }
        (Ok(sent), FollowUp::Nothing)
    }

    /// `AT+CMGS=<n>`, wait for `> `, write the PDU and CTRL-Z, wait for `+CMGS: <mr>`.
    pub(super) async fn send_part(&mut self, part: &OutgoingPart) -> Result<u8, PartFailure> {
        let cmd = crate::at::command::SendPdu {
            tpdu_len: part.tpdu_len,
        };
        let line = cmd.line();
        let prompt_deadline = Instant::now() + self.cfg.timeouts.prompt;
        if let Some(port) = self.port.as_mut() {
            port.codec_mut().expect(cmd.expect());
        }
        let mut bytes = line.clone().into_bytes();
        bytes.push(b'\r');
        self.write(&bytes, prompt_deadline)
            .await
            .map_err(PartFailure::BeforePdu)?;
        loop {
            match self.next_frame(prompt_deadline, &line).await {
                Ok(Frame::Prompt) => break,
                Ok(Frame::Final(result)) => return Err(PartFailure::Rejected(result)),
                Ok(Frame::Info(l)) => debug!(line = %l, "unexpected line before prompt"),
                Ok(other) => self.side_frame(other),
                Err(e) => {
                    // Cancel a prompt that may still come, so the modem does not take later bytes as PDU.
                    let _ = self.write(&[ESC], Instant::now() + self.cfg.timeouts.local).await;
                    return Err(PartFailure::BeforePdu(e));
                }
            }
        }
        let mut body = hex::encode_upper(&part.pdu).into_bytes();
        body.push(CTRL_Z);
        let send_deadline = Instant::now() + self.cfg.timeouts.send;
        self.write(&body, send_deadline)
            .await
            .map_err(PartFailure::BeforePdu)?;
        let (info, result) = self
            .read_final(send_deadline, self.cfg.timeouts.send, &line)
            .await
            .map_err(PartFailure::AfterPdu)?;
        if !result.is_ok() {
            return Err(PartFailure::Rejected(result));
        }
        cmd.parse(&info)
            .map_err(|e| PartFailure::AfterPdu(CmdError::Parse(e.to_string())))
    }

    pub(super) async fn ussd(&mut self, code: &str) -> (Result<UssdReply, ModemError>, FollowUp) {
        let cmd = Simple::ussd(code);
        if let Err(e) = self.exec(&cmd).await {
            let follow = FollowUp::Nothing.and_for(&e);
            return (Err(e.to_modem_error()), follow);
        }
        let limit = self.cfg.timeouts.network;
        let deadline = Instant::now() + limit;
        loop {
            // The reply may have come before the `OK` and been queued.
            if let Some(pos) = self.urcs.iter().position(|u| matches!(u, Urc::Ussd { .. })) {
                if let Some(Urc::Ussd { status, text, dcs }) = self.urcs.remove(pos) {
                    return (Ok(ussd_reply(status, text, dcs)), FollowUp::Nothing);
                }
            }
            match self.next_frame(deadline, "+CUSD").await {
                Ok(Frame::Urc(Urc::Ussd { status, text, dcs })) => {
                    return (Ok(ussd_reply(status, text, dcs)), FollowUp::Nothing);
                }
                Ok(other) => self.side_frame(other),
                // No reply is the network's silence, not a hung modem.
                Err(CmdError::Timeout(_)) => return (Err(ModemError::NoUssdReply(limit)), FollowUp::Nothing),
                Err(e) => {
                    let follow = FollowUp::Nothing.and_for(&e);
                    return (Err(e.to_modem_error()), follow);
                }
            }
        }
    }
}
