//! Serving a modem in service: the wake-up loop, registration, health polls, URCs and requests.
use super::*;

impl Actor {
    pub(super) async fn serve(&mut self) -> Interrupt {
        // Acks that arrived while the port was away: delete those messages now.
        let mut health_at = Instant::now();
        let mut sweep_at = Instant::now();
        loop {
            if let Err(i) = self.handle_urcs().await {
                return i;
            }
            if self.echo_came_back {
                return Interrupt::Restart("command echo came back: the modem rebooted".into());
            }
            let wake = {
                let port = self.port.as_mut();
                tokio::select! {
                    biased;
                    _ = self.shutdown.cancelled() => Wake::Shutdown,
                    Some((what, stored)) = self.acks.next(), if !self.acks.is_empty() => Wake::Ack(what, stored),
                    frame = next_or_pending(port) => Wake::Frame(frame),
                    _ = sleep_until(health_at) => Wake::Health,
                    _ = sleep_until(sweep_at), if self.registered => Wake::Sweep,
                    req = self.rx.recv(), if self.rx_open => Wake::Request(req),
                }
            };
            let outcome: Result<(), CmdError> = match wake {
                Wake::Shutdown => return Interrupt::Shutdown,
                Wake::Ack(what, stored) => self.on_ack(what, stored).await,
                Wake::Frame(None) => Err(CmdError::Gone("end of stream".into())),
                Wake::Frame(Some(Err(e))) if is_gone(&e) => Err(CmdError::Gone(e.to_string())),
                Wake::Frame(Some(Err(e))) => Err(CmdError::Io(e.to_string())),
                Wake::Frame(Some(Ok(frame))) => {
                    self.side_frame(frame);
                    Ok(())
                }
                Wake::Health => {
                    let r = self.health().await;
                    let every = if self.registered {
                        self.cfg.health_interval
                    } else {
                        self.cfg.registration_poll
                    };
                    health_at = Instant::now() + every;
                    r
                }
                Wake::Sweep => {
                    let r = self.sweep().await;
                    sweep_at = Instant::now() + self.cfg.sweep_interval;
                    r
                }
                Wake::Request(None) => {
                    self.rx_open = false;
                    Ok(())
                }
                Wake::Request(Some(req)) => match self.on_request(req).await {
                    FollowUp::Nothing => Ok(()),
                    FollowUp::Recover(reason) => match self.recover(reason).await {
                        Ok(()) => Ok(()),
                        Err(i) => return i,
                    },
                    FollowUp::Interrupt(i) => return i,
                },
            };
            match outcome {
                Ok(()) => {}
                Err(CmdError::Timeout(what)) => {
                    if let Err(i) = self.recover(format!("no answer to {what}")).await {
                        return i;
                    }
                }
                Err(e) => return self.interrupt(e, "serving"),
            }
        }
    }

    pub(super) fn set_registered(&mut self, stat: u8) {
        let registered = reg_stat::is_registered(stat);
        self.state.registration = Some(stat);
        if registered != self.registered {
            info!(stat, registered, "registration changed");
        }
        self.registered = registered;
        let phase = if registered {
            ModemPhase::Ready
        } else {
            ModemPhase::WaitingForNetwork
        };
        let error = (stat == reg_stat::DENIED).then(|| "network registration denied".to_owned());
        self.set_phase(phase, error);
    }

    pub(super) async fn health(&mut self) -> Result<(), CmdError> {
        match self.exec(&SignalQuality).await {
            Ok(signal) => self.state.signal = signal,
            Err(CmdError::Rejected { .. } | CmdError::Parse(_)) => {}
            Err(e) => return Err(e),
        }
        let mut stat = match self.exec(&RegistrationQuery("+CREG")).await {
            Ok(stat) => Some(stat),
            Err(CmdError::Rejected { .. } | CmdError::Parse(_)) => None,
            Err(e) => return Err(e),
        };
        if !stat.is_some_and(reg_stat::is_registered) {
            // LTE-only modems register in EPS and carry SMS over SGs/IMS.
            match self.exec(&RegistrationQuery("+CEREG")).await {
                Ok(eps) if reg_stat::is_registered(eps) => stat = Some(eps),
                Ok(_) | Err(CmdError::Rejected { .. } | CmdError::Parse(_)) => {}
                Err(e) => return Err(e),
            }
        }
        self.set_registered(stat.unwrap_or(reg_stat::NOT_REGISTERED));
        if !self.registered {
            // No network may mean no SIM: say so instead of waiting for a network forever.
            match self.exec(&PinQuery).await {
                Ok(PinState::Ready) | Err(CmdError::Parse(_)) => {}
                Ok(other) => return Err(CmdError::Restart(format!("SIM state {other:?}"))),
                Err(CmdError::Rejected { result, .. }) => {
                    return Err(CmdError::Restart(format!("SIM: {result}")));
                }
                Err(e) => return Err(e),
            }
        }
        match self.exec(&OperatorQuery).await {
            Ok(op) => self.state.operator = op,
            Err(CmdError::Rejected { .. } | CmdError::Parse(_)) => {}
            Err(e) => return Err(e),
        }
        self.publish();
        if self.registered {
            match self.exec(&SetStorage { mems: vec![] }).await {
                Ok(usage) if usage.first().is_some_and(|u| u.is_full()) => {
                    warn!("message storage full; sweeping now");
                    self.sweep().await?;
                }
                Ok(_) | Err(CmdError::Rejected { .. } | CmdError::Parse(_)) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    pub(super) async fn handle_urcs(&mut self) -> Result<(), Interrupt> {
        while let Some(urc) = self.urcs.pop_front() {
            let result = self.on_urc(urc).await;
            match result {
                Ok(()) => {}
                Err(CmdError::Timeout(what)) => self.recover(format!("no answer to {what}")).await?,
                Err(e) => return Err(self.interrupt(e, "handling URC")),
            }
        }
        Ok(())
    }

    pub(super) async fn on_urc(&mut self, urc: Urc) -> Result<(), CmdError> {
        match urc {
            Urc::NewMessage { mem, index } | Urc::StatusReportIndex { mem, index } => {
                self.mems.insert(mem.clone());
                self.read_slot(Slot { mem, index }).await
            }
            Urc::Message { pdu, .. } | Urc::StatusReport { pdu, .. } => {
                self.emit(AckFor::Direct, pdu).await;
                Ok(())
            }
            Urc::Registration {
                kind: crate::at::RegKind::Cs,
                stat,
                ..
            } => {
                self.set_registered(stat);
                Ok(())
            }
            Urc::Registration { .. } => Ok(()),
            Urc::Signal { rssi } => {
                self.state.signal = (rssi != crate::at::command::CSQ_RSSI_UNKNOWN).then_some(rssi);
                self.publish();
                Ok(())
            }
            Urc::Ussd { status, text, dcs } => {
                let reply = ussd_reply(status, text, dcs);
                info!(status = reply.status, "network-initiated USSD");
                let _ = self.ussd.send(reply);
                Ok(())
            }
            Urc::SimStatus(status) if !status.eq_ignore_ascii_case("READY") => {
                // Not an unplug: start over so the SIM checks run again and report the reason.
                Err(CmdError::Restart(format!("SIM state changed to {status}")))
            }
            Urc::StorageFull(line) => {
                warn!(%line, "modem storage full; sweeping");
                self.sweep().await
            }
            Urc::Boot(line) if is_reboot_notice(&line) => {
                Err(CmdError::Restart(format!("modem restarted ({line})")))
            }
            other => {
                debug!(?other, "URC ignored");
                Ok(())
            }
        }
    }

    pub(super) async fn on_request(&mut self, req: Request) -> FollowUp {
        match req {
            Request::Send { request, reply } => {
                if !self.registered {
                    self.reject(Request::Send { request, reply });
                    return FollowUp::Nothing;
                }
                let (result, follow) = self.send_all(&request).await;
                let _ = reply.send(result);
                follow
            }
            Request::Ussd { code, reply } => {
                let (result, follow) = self.ussd(&code).await;
                let _ = reply.send(result);
                follow
            }
            // The caller gave up while the command waited in the queue: do not run it behind its back.
            Request::At { reply, .. } if reply.is_closed() => FollowUp::Nothing,
            Request::At { line, limit, reply } => {
                let cmd = Raw(line);
                let secret = is_pin_command(&cmd.0);
                let result = self.transact(&cmd.line(), cmd.expect(), limit, secret).await;
                let follow = follow_up(&result);
                let _ = reply.send(
                    result
                        .map(|(lines, result)| AtReply { lines, result })
                        .map_err(|e| e.to_modem_error()),
                );
                follow
            }
            Request::Restart { reply } => {
                info!("restart requested");
                let _ = reply.send(());
                FollowUp::Interrupt(Interrupt::Restart("restart requested".into()))
            }
            Request::Reconfigure { reply } => {
                let result = if self.apply_overrides() {
                    match self.cfg.smsc.clone() {
                        Some(smsc) => self.exec(&Simple::set_smsc(&smsc)).await,
                        None => Ok(()),
                    }
                } else {
                    Ok(())
                };
                let follow = follow_up(&result);
                let _ = reply.send(result.map_err(|e| e.to_modem_error()));
                follow
            }
        }
    }
}
