//! Receiving: reading announced slots, handing messages and reports to the gateway with an ack,
//! deleting only after the ack, the storage sweep.
use super::*;

impl Actor {
    pub(super) async fn select_mem(&mut self, mem: &str) -> Result<(), CmdError> {
        if self.current_mem.as_deref() == Some(mem) {
            return Ok(());
        }
        self.exec(&SetStorage {
            mems: vec![mem.to_owned()],
        })
        .await?;
        self.current_mem = Some(mem.to_owned());
        Ok(())
    }

    pub(super) async fn read_slot(&mut self, slot: Slot) -> Result<(), CmdError> {
        if self.pending.contains(&slot) || self.acked.contains(&slot) {
            return Ok(());
        }
        self.select_mem(&slot.mem).await?;
        match self.exec(&ReadMessage(slot.index)).await {
            Ok(Some(stored)) => {
                self.emit(AckFor::Stored(slot), stored.pdu).await;
                Ok(())
            }
            // Empty slot: `OK` with no data on many modems, `+CMS ERROR: 321` on others.
            Ok(None)
            | Err(CmdError::Rejected {
                result: FinalResult::CmsError(CmsError::InvalidMemoryIndex),
                ..
            }) => Ok(()),
            Err(CmdError::Rejected { command, result }) => {
                warn!(%command, %result, "could not read announced message; the sweep will retry");
                Ok(())
            }
            Err(CmdError::Parse(p)) => {
                warn!(error = %p, "unreadable stored message left on the SIM");
                Ok(())
            }
            Err(e) => Err(e),
        }
    }

    /// Hands a message or report to the gateway with an ack to fire once stored.
    pub(super) async fn emit(&mut self, what: AckFor, pdu: Vec<u8>) {
        let (ack, stored) = oneshot::channel();
        let modem = self.state.id.clone();
        let event = if tpdu_mti(&pdu) == Some(TP_MTI_STATUS_REPORT) {
            ModemEvent::StatusReport { modem, pdu, ack }
        } else {
            ModemEvent::Received { modem, pdu, ack }
        };
        tokio::select! {
            _ = self.shutdown.cancelled() => return,
            r = self.events.send(event) => if r.is_err() {
                warn!("event receiver gone; message stays on the modem");
                return;
            }
        }
        if let AckFor::Stored(slot) = &what {
            self.pending.insert(slot.clone());
        }
        self.state.received += 1;
        self.publish();
        self.acks
            .push(async move { (what, stored.await.is_ok()) }.boxed());
    }

    pub(super) async fn on_ack(&mut self, what: AckFor, stored: bool) -> Result<(), CmdError> {
        match what {
            AckFor::Stored(slot) => {
                self.pending.remove(&slot);
                if stored {
                    self.acked.insert(slot.clone());
                    self.delete_slot(slot).await?;
                } else {
                    debug!(?slot, "ack dropped; message stays on the SIM for the next sweep");
                }
            }
            AckFor::Direct if stored && self.cnma_required => {
                if let Err(e) = self.exec(&Simple::new_message_ack()).await {
                    match e {
                        CmdError::Rejected { .. } => {
                            warn!(error = %e, "+CNMA refused; the network will redeliver")
                        }
                        other => return Err(other),
                    }
                }
            }
            AckFor::Direct => {}
        }
        Ok(())
    }

    pub(super) async fn delete_slot(&mut self, slot: Slot) -> Result<(), CmdError> {
        self.select_mem(&slot.mem).await?;
        match self.exec(&Simple::delete(slot.index)).await {
            Ok(())
            | Err(CmdError::Rejected {
                result: FinalResult::CmsError(CmsError::InvalidMemoryIndex),
                ..
            }) => {
                self.acked.remove(&slot);
                Ok(())
            }
            Err(CmdError::Rejected { command, result }) => {
                warn!(%command, %result, "delete refused; will retry at the next sweep");
                Ok(())
            }
            Err(e) => Err(e),
        }
    }

    /// Reads every stored message: announces those not announced yet, deletes those already stored.
    pub(super) async fn sweep(&mut self) -> Result<(), CmdError> {
        let acked: Vec<Slot> = self.acked.iter().cloned().collect();
        for slot in acked {
            self.delete_slot(slot).await?;
        }
        let mems: Vec<String> = self.mems.iter().cloned().collect();
        for mem in mems {
            match self.select_mem(&mem).await {
                Ok(()) => {}
                Err(CmdError::Rejected { .. }) => continue,
                Err(e) => return Err(e),
            }
            let list = match self.exec(&ListMessages(CMGL_ALL)).await {
                Ok(list) => list,
                Err(CmdError::Rejected { .. } | CmdError::Parse(_)) => continue,
                Err(e) => return Err(e),
            };
            for stored in list {
                let slot = Slot {
                    mem: mem.clone(),
                    index: stored.index,
                };
                if matches!(stored.stat, STAT_STORED_UNSENT | STAT_STORED_SENT)
                    || self.pending.contains(&slot)
                    || self.acked.contains(&slot)
                {
                    continue;
                }
                debug!(?slot, "sweep found a message");
                self.emit(AckFor::Stored(slot), stored.pdu).await;
            }
        }
        Ok(())
    }
}
