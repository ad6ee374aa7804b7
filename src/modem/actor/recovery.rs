//! Recovery from a modem that stopped answering: ESC and probe, port reopen, `AT+CFUN=1,1`, else
//! failed with the reason.
use super::*;

impl Actor {
    /// A command timed out: ESC and re-probe; then reopen the port; then `AT+CFUN=1,1`; else give up with
    /// the reason (the run loop retries with backoff). Work is never resent here.
    pub(super) async fn recover(&mut self, reason: String) -> Result<(), Interrupt> {
        warn!(%reason, "modem not answering; recovering");
        self.state.errors += 1;
        self.set_phase(ModemPhase::Recovering, Some(reason.clone()));
        let local = self.cfg.timeouts.local;

        // 1. Cancel whatever it waits for and ask again.
        match self.probe(local * 2).await {
            Ok(()) => {
                info!("modem answers again after ESC");
                return self.back_in_service().await;
            }
            Err(CmdError::Gone(e)) => return Err(Interrupt::Unplugged(e)),
            Err(CmdError::Shutdown) => return Err(Interrupt::Shutdown),
            Err(_) => {}
        }

        // 2. Reopen the port (a wedged driver or USB-serial bridge often recovers this way).
        self.port = None;
        match (self.opener)(&self.cfg.port, self.cfg.baud) {
            Ok(port) => self.port = Some(port),
            Err(e) if is_gone(&e) => return Err(Interrupt::Unplugged(format!("reopen: {e}"))),
            Err(e) => return Err(Interrupt::Failed(format!("{reason}; reopen failed: {e}"))),
        }
        match self.probe(local * 2).await {
            Ok(()) => {
                return Err(Interrupt::Restart(format!(
                    "{reason}; answered after reopening the port"
                )));
            }
            Err(CmdError::Gone(e)) => return Err(Interrupt::Unplugged(e)),
            Err(CmdError::Shutdown) => return Err(Interrupt::Shutdown),
            Err(_) => {}
        }

        // 3. Reset the modem.
        if self.cfg.reset_on_hang {
            let line = Simple::reset().line();
            let _ = self
                .write(format!("{line}\r").as_bytes(), Instant::now() + local)
                .await;
            match self.probe(self.cfg.timeouts.boot).await {
                Ok(()) => {
                    return Err(Interrupt::Restart(format!(
                        "{reason}; answered after AT+CFUN=1,1"
                    )));
                }
                Err(CmdError::Gone(e)) => return Err(Interrupt::Unplugged(e)),
                Err(CmdError::Shutdown) => return Err(Interrupt::Shutdown),
                Err(_) => {}
            }
        }
        Err(Interrupt::Failed(format!(
            "{reason}; no answer after ESC, port reopen and reset"
        )))
    }

    pub(super) async fn back_in_service(&mut self) -> Result<(), Interrupt> {
        if self.echo_came_back {
            return Err(Interrupt::Restart(
                "command echo came back: the modem rebooted".into(),
            ));
        }
        match self.exec(&RegistrationQuery("+CREG")).await {
            Ok(stat) => self.set_registered(stat),
            Err(CmdError::Rejected { .. } | CmdError::Parse(_)) => {
                self.set_registered(reg_stat::NOT_REGISTERED)
            }
            Err(e) => return Err(self.interrupt(e, "after recovery")),
        }
        Ok(())
    }
}
