//! Writing commands and reading their answers: one command at a time, deadlines, side frames (URCs,
//! echo, noise), the `AT` probe.
use super::*;

impl Actor {
    pub(super) async fn write(&mut self, bytes: &[u8], deadline: Instant) -> Result<(), CmdError> {
        let port = self.port.as_mut().ok_or(CmdError::NoPort)?;
        match timeout_at(deadline, port.write(bytes)).await {
            Err(_) => Err(CmdError::Timeout("write".into())),
            Ok(Err(e)) if is_gone(&e) => Err(CmdError::Gone(e.to_string())),
            Ok(Err(e)) => Err(CmdError::Io(e.to_string())),
            Ok(Ok(())) => Ok(()),
        }
    }

    pub(super) async fn next_frame(&mut self, deadline: Instant, what: &str) -> Result<Frame, CmdError> {
        let port = self.port.as_mut().ok_or(CmdError::NoPort)?;
        tokio::select! {
            _ = self.shutdown.cancelled() => Err(CmdError::Shutdown),
            r = timeout_at(deadline, port.next()) => match r {
                Err(_) => Err(CmdError::Timeout(what.to_owned())),
                Ok(None) => Err(CmdError::Gone("end of stream".into())),
                Ok(Some(Err(e))) if is_gone(&e) => Err(CmdError::Gone(e.to_string())),
                Ok(Some(Err(e))) => Err(CmdError::Io(e.to_string())),
                Ok(Some(Ok(frame))) => Ok(frame),
            },
        }
    }

    /// Frames that are not part of the pending command's answer.
    pub(super) fn side_frame(&mut self, frame: Frame) {
        match frame {
            Frame::Urc(urc) => self.urcs.push_back(urc),
            Frame::Echo(line) => {
                if self.echo_off && line.get(..2).is_some_and(|at| at.eq_ignore_ascii_case("AT")) {
                    self.echo_came_back = true;
                }
            }
            Frame::Invalid(invalid) => debug!(?invalid, "invalid input from modem"),
            other => debug!(?other, "stray frame"),
        }
    }

    /// Writes a command line and collects its information lines up to the final result.
    pub(super) async fn transact(
        &mut self,
        line: &str,
        expect: Expect,
        limit: Duration,
        secret: bool,
    ) -> Result<(Vec<String>, FinalResult), CmdError> {
        let shown = if secret { "AT+CPIN=<redacted>" } else { line };
        debug!(command = shown, "->");
        let deadline = Instant::now() + limit;
        if let Some(port) = self.port.as_mut() {
            port.codec_mut().expect(expect);
        }
        let mut bytes = Vec::with_capacity(line.len() + 1);
        bytes.extend_from_slice(line.as_bytes());
        bytes.push(b'\r');
        let result = match self.write(&bytes, deadline).await {
            Ok(()) => self.read_final(deadline, limit, shown).await,
            Err(e) => Err(e),
        };
        if result.is_err() {
            if let Some(port) = self.port.as_mut() {
                port.codec_mut().clear_expect();
            }
        }
        result
    }

    /// Reads up to the final result. Each information line moves the deadline to at least `per_line` from
    /// now: a long listing on a slow line is progress, not a hang.
    pub(super) async fn read_final(
        &mut self,
        deadline: Instant,
        per_line: Duration,
        what: &str,
    ) -> Result<(Vec<String>, FinalResult), CmdError> {
        let mut info = Vec::new();
        let mut deadline = deadline;
        loop {
            match self.next_frame(deadline, what).await? {
                Frame::Final(result) => {
                    debug!(command = what, %result, lines = info.len(), "<-");
                    return Ok((info, result));
                }
                Frame::Info(line) => {
                    deadline = deadline.max(Instant::now() + per_line);
                    info.push(line);
                }
                Frame::Prompt => {
                    // A prompt nobody asked for would swallow the next command as PDU text: cancel it.
                    let _ = self.write(&[ESC], deadline).await;
                }
                other => self.side_frame(other),
            }
        }
    }

    pub(super) async fn exec<C: AtCommand>(&mut self, cmd: &C) -> Result<C::Response, CmdError> {
        let line = cmd.line();
        let limit = self.cfg.timeouts.of(cmd.timeout());
        let (info, result) = self.transact(&line, cmd.expect(), limit, cmd.is_secret()).await?;
        let command = if cmd.is_secret() {
            "AT+CPIN=<redacted>".to_owned()
        } else {
            line
        };
        if !result.is_ok() {
            return Err(CmdError::Rejected { command, result });
        }
        cmd.parse(&info).map_err(|e| CmdError::Parse(e.to_string()))
    }

    /// Reads and drops whatever arrives for `duration` (late answers after a cancel). URCs are kept.
    pub(super) async fn drain(&mut self, duration: Duration) -> Result<(), CmdError> {
        let until = Instant::now() + duration;
        if let Some(port) = self.port.as_mut() {
            port.codec_mut().clear_expect();
        }
        loop {
            match self.next_frame(until, "drain").await {
                Ok(Frame::Urc(urc)) => self.urcs.push_back(urc),
                Ok(_) => {}
                Err(CmdError::Timeout(_)) => return Ok(()),
                Err(e) => return Err(e),
            }
        }
    }

    /// `AT` until `OK`, within `limit`; survives echo, boot URCs and garbage.
    pub(super) async fn probe(&mut self, limit: Duration) -> Result<(), CmdError> {
        let deadline = Instant::now() + limit;
        // ESC first: a previous user may have left the modem waiting for a PDU after `> `.
        self.write(&[ESC], deadline).await?;
        self.drain(DRAIN_AFTER_ESC.min(limit)).await?;
        let attempt = self.cfg.timeouts.local.min(Duration::from_secs(1));
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(CmdError::Timeout(format!("AT (probe, {limit:?})")));
            }
            match self
                .transact("AT", Expect::for_command("AT"), attempt.min(left), false)
                .await
            {
                Ok((_, FinalResult::Ok)) => return Ok(()),
                Ok((_, other)) => debug!(%other, "probe answered"),
                Err(CmdError::Timeout(_)) => {}
                Err(e) => return Err(e),
            }
            if Instant::now() < deadline {
                sleep(Duration::from_millis(100).min(deadline.saturating_duration_since(Instant::now())))
                    .await;
            }
        }
    }
}
