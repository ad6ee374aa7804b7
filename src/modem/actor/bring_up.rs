//! Bringing a modem into service: open, probe, init, identity, PIN (never burning the last try), SMS
//! routing and storage.
use super::*;

impl Actor {
    pub(super) fn interrupt(&self, err: CmdError, during: &str) -> Interrupt {
        match err {
            CmdError::Shutdown => Interrupt::Shutdown,
            CmdError::Gone(e) => Interrupt::Unplugged(format!("{during}: {e}")),
            CmdError::Restart(e) => Interrupt::Restart(e),
            other => Interrupt::Failed(format!("{during}: {other}")),
        }
    }

    pub(super) async fn bring_up(&mut self) -> Result<(), Interrupt> {
        self.set_phase(ModemPhase::Opening, None);
        self.echo_off = false;
        self.echo_came_back = false;
        self.registered = false;
        self.urcs.clear();
        match (self.opener)(&self.cfg.port, self.cfg.baud) {
            Ok(port) => self.port = Some(port),
            Err(e) if is_gone(&e) || !self.cfg.port.exists() => {
                return Err(Interrupt::Unplugged(format!(
                    "open {}: {e}",
                    self.cfg.port.display()
                )));
            }
            Err(e) => {
                return Err(Interrupt::Failed(format!(
                    "open {}: {e}",
                    self.cfg.port.display()
                )));
            }
        }

        self.set_phase(ModemPhase::Probing, None);
        let boot = self.cfg.timeouts.boot;
        self.probe(boot).await.map_err(|e| self.interrupt(e, "probe"))?;

        self.set_phase(ModemPhase::Initialising, None);
        self.exec(&Simple::echo_off())
            .await
            .map_err(|e| self.interrupt(e, "ATE0"))?;
        self.echo_off = true;
        // Errors in verbose result form and numeric/verbose CME errors are wanted but not vital.
        let _ = self.exec(&Simple::verbose_results()).await;
        self.soft(Simple::cmee(self.cfg.cmee)).await?;
        self.identity_of_modem().await?;

        self.set_phase(ModemPhase::WaitingForPin, None);
        self.unlock_sim().await?;

        self.set_phase(ModemPhase::Initialising, None);
        self.identity_of_sim().await?;
        self.setup_sms().await?;
        self.state.last_error = None;
        self.publish();
        Ok(())
    }

    /// Runs a command whose refusal is tolerated (logged); timeouts and unplug still interrupt.
    pub(super) async fn soft<C: AtCommand>(&mut self, cmd: C) -> Result<Option<C::Response>, Interrupt> {
        match self.exec(&cmd).await {
            Ok(r) => Ok(Some(r)),
            Err(e @ (CmdError::Rejected { .. } | CmdError::Parse(_))) => {
                debug!(error = %e, "optional command failed");
                Ok(None)
            }
            Err(e) => Err(self.interrupt(e, &cmd.line())),
        }
    }

    pub(super) async fn identity_of_modem(&mut self) -> Result<(), Interrupt> {
        self.state.manufacturer = self.soft(Identity::Manufacturer).await?;
        self.state.model = self.soft(Identity::Model).await?;
        self.state.firmware = self.soft(Identity::Revision).await?;
        let imei = self.soft(Identity::Imei).await?;
        if let Some(imei) = imei {
            if self.state.imei.as_deref() != Some(&imei) {
                info!(%imei, "modem identified");
            }
            self.state.id = ModemId(imei.clone());
            self.state.imei = Some(imei);
            // Known by IMEI now: its run-time SIM settings apply from the PIN on.
            self.apply_overrides();
        }
        self.publish();
        Ok(())
    }

    pub(super) async fn identity_of_sim(&mut self) -> Result<(), Interrupt> {
        self.state.imsi = self.soft(Identity::Imsi).await?;
        let iccid = self.soft(Identity::Iccid).await?;
        if iccid.is_some() && self.state.iccid.is_some() && iccid != self.state.iccid {
            // Another SIM: slots announced for the old one mean nothing now.
            info!("SIM changed; forgetting pending slots");
            self.pending.clear();
            self.acked.clear();
        }
        self.state.iccid = iccid;
        self.state.own_number = self.soft(OwnNumber).await?.flatten();
        self.publish();
        Ok(())
    }

    /// PIN entry that never burns the last try: read the state, check the remaining tries where the
    /// family tells, enter the PIN at most once per actor life, stop with a reason otherwise.
    pub(super) async fn unlock_sim(&mut self) -> Result<(), Interrupt> {
        let deadline = Instant::now() + self.cfg.timeouts.sim;
        let state = loop {
            match self.exec(&PinQuery).await {
                Ok(state) => break state,
                // Right after boot the SIM is still initialising.
                Err(CmdError::Rejected {
                    result: FinalResult::CmeError(CmeError::SimBusy),
                    ..
                }) if Instant::now() < deadline => {
                    sleep(SIM_READY_POLL).await;
                }
                Err(CmdError::Rejected {
                    result: FinalResult::CmeError(e),
                    ..
                }) => {
                    return Err(Interrupt::Failed(format!("SIM: {e}")));
                }
                Err(e) => return Err(self.interrupt(e, "AT+CPIN?")),
            }
        };
        match state {
            PinState::Ready => Ok(()),
            PinState::SimPuk => Err(Interrupt::Failed(
                "SIM blocked: PUK required (enter it by hand)".into(),
            )),
            PinState::Other(code) => Err(Interrupt::Failed(format!("SIM asks for {code}"))),
            PinState::SimPin => {
                let Some(pin) = self.cfg.pin.clone() else {
                    return Err(Interrupt::Failed("SIM PIN required but none configured".into()));
                };
                if self.pin_attempted {
                    return Err(Interrupt::Failed(
                        "SIM PIN was rejected before; not entering it again (it would burn a try)".into(),
                    ));
                }
                if let Some(left) = self.pin_tries_left().await? {
                    if left <= 1 {
                        return Err(Interrupt::Failed(format!(
                            "only {left} SIM PIN try left; not risking it (enter the PIN by hand)"
                        )));
                    }
                }
                self.pin_attempted = true;
                match self.exec(&Simple::enter_pin(&pin)).await {
                    Ok(()) => {}
                    Err(CmdError::Rejected { result, .. }) => {
                        return Err(Interrupt::Failed(format!("SIM PIN rejected: {result}")));
                    }
                    Err(e) => return Err(self.interrupt(e, "AT+CPIN=<redacted>")),
                }
                self.pin_attempted = false;
                // The SIM takes a moment to become ready after the PIN.
                let deadline = Instant::now() + self.cfg.timeouts.sim;
                loop {
                    match self.exec(&PinQuery).await {
                        Ok(PinState::Ready) => return Ok(()),
                        Ok(_) | Err(CmdError::Rejected { .. }) if Instant::now() < deadline => {
                            sleep(SIM_READY_POLL).await;
                        }
                        Ok(other) => {
                            return Err(Interrupt::Failed(format!("SIM not ready after PIN: {other:?}")));
                        }
                        Err(e) => return Err(self.interrupt(e, "AT+CPIN?")),
                    }
                }
            }
        }
    }

    pub(super) async fn pin_tries_left(&mut self) -> Result<Option<u8>, Interrupt> {
        for form in PinRetries::ALL {
            if let Some(left) = self.soft(form).await? {
                return Ok(Some(left));
            }
        }
        Ok(None)
    }

    pub(super) async fn setup_sms(&mut self) -> Result<(), Interrupt> {
        // PDU mode is the one thing the gateway cannot do without.
        let deadline = Instant::now() + self.cfg.timeouts.sim;
        loop {
            match self.exec(&Simple::pdu_mode()).await {
                Ok(()) => break,
                // SIM still initialising its SMS part (`+CMS ERROR: 314` / `+CME ERROR: 14`).
                Err(CmdError::Rejected { .. }) if Instant::now() < deadline => sleep(SIM_READY_POLL).await,
                Err(e) => return Err(self.interrupt(e, "AT+CMGF=0")),
            }
        }
        self.cnma_required = self.soft(ServiceQuery).await?.unwrap_or(false);
        let mem = self.cfg.storage.clone();
        if let Some(usage) = self
            .soft(SetStorage {
                mems: vec![mem.clone(), mem.clone(), mem.clone()],
            })
            .await?
        {
            self.current_mem = Some(mem.clone());
            if usage.first().is_some_and(|u| u.is_full()) {
                warn!(storage = %mem, "message storage full; sweeping");
            }
        }
        self.mems.insert(mem);
        let mut routed = false;
        for settings in self.cfg.cnmi.settings() {
            if self.soft(Simple::cnmi(settings)).await?.is_some() {
                debug!(cnmi = settings, "new message routing set");
                routed = true;
                break;
            }
        }
        if !routed {
            warn!("no AT+CNMI form accepted; relying on the storage sweep");
        }
        if let Some(smsc) = self.cfg.smsc.clone() {
            self.soft(Simple::set_smsc(&smsc)).await?;
        }
        self.soft(Simple::registration_urc("+CREG", 1)).await?;
        self.soft(Simple::operator_format_long()).await?;
        Ok(())
    }
}
