//! Test double: a scripted modem speaking just enough AT (27.005 PDU mode, 27.007 basics) over any byte
//! pipe, plus a real PTY pair to run it on. Faults are switched on through [`FakeState`].
use std::collections::BTreeMap;
use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, ready};
use std::time::Duration;

use tokio::io::unix::AsyncFd;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::sync::mpsc;

/// What the fake does; tests change it while it runs.
#[derive(Debug, Clone)]
pub struct FakeState {
    pub echo: bool,
    /// Reads and answers nothing.
    pub hung: bool,
    pub pin: Option<String>,
    pub pin_tries: u8,
    pub unlocked: bool,
    pub sim_present: bool,
    pub reg_stat: u8,
    /// Slot → (stat, PDU incl. SMSC).
    pub stored: BTreeMap<u32, (u8, Vec<u8>)>,
    pub capacity: u32,
    /// PDUs received after the prompt.
    pub sent: Vec<Vec<u8>>,
    pub next_mr: u8,
    /// Answer `+CMGS` with this `+CMS ERROR`.
    pub cmgs_error: Option<u16>,
    /// Take the PDU and never answer.
    pub cmgs_silent: bool,
    /// Delay before answering `+CMGS`.
    pub cmgs_delay: Duration,
    pub ussd_reply: String,
    /// Every command line received.
    pub log: Vec<String>,
    /// Require `+CNMA` (phase 2+).
    pub csms_service: u8,
}

impl Default for FakeState {
    fn default() -> Self {
        FakeState {
            echo: true,
            hung: false,
            pin: None,
            pin_tries: 3,
            unlocked: true,
            sim_present: true,
            reg_stat: 1,
            stored: BTreeMap::new(),
            capacity: 30,
            sent: Vec::new(),
            next_mr: 0,
            cmgs_error: None,
            cmgs_silent: false,
            cmgs_delay: Duration::ZERO,
            ussd_reply: "+CUSD: 0,\"Balance 5.00\",15".into(),
            log: Vec::new(),
            csms_service: 0,
        }
    }
}

pub type Shared = Arc<Mutex<FakeState>>;

fn ok(lines: &[String]) -> Vec<u8> {
    let mut out = Vec::new();
    for l in lines {
        out.extend_from_slice(format!("\r\n{l}\r\n").as_bytes());
    }
    out.extend_from_slice(b"\r\nOK\r\n");
    out
}

fn error(s: &str) -> Vec<u8> {
    format!("\r\n{s}\r\n").into_bytes()
}

enum Reply {
    Bytes(Vec<u8>),
    Prompt,
}

fn respond(st: &mut FakeState, line: &str) -> Reply {
    let up = line.to_ascii_uppercase();
    let needs_sim = ["AT+CIMI", "AT+CCID", "AT+CMG", "AT+CPMS", "AT+CNUM"]
        .iter()
        .any(|p| up.starts_with(p));
    if needs_sim && !st.sim_present {
        return Reply::Bytes(error("+CME ERROR: 10"));
    }
    if needs_sim && !st.unlocked {
        return Reply::Bytes(error("+CME ERROR: 11"));
    }
    let used = st.stored.len();
    let cap = st.capacity;
    let bytes = match up.as_str() {
        "AT" | "ATV1" => ok(&[]),
        "ATE0" => {
            st.echo = false;
            ok(&[])
        }
        "AT+CGMI" => ok(&["FakeCo".into()]),
        "AT+CGMM" => ok(&["Fake-1".into()]),
        "AT+CGMR" => ok(&["1.0".into()]),
        "AT+CGSN" => ok(&["490154203237518".into()]),
        "AT+CIMI" => ok(&["260011234567890".into()]),
        "AT+CCID" => ok(&["+CCID: 89480100000000000017".into()]),
        "AT+CNUM" => ok(&[]),
        "AT+CPIN?" if !st.sim_present => error("+CME ERROR: 10"),
        "AT+CPIN?" if st.unlocked => ok(&["+CPIN: READY".into()]),
        "AT+CPIN?" if st.pin_tries == 0 => ok(&["+CPIN: SIM PUK".into()]),
        "AT+CPIN?" => ok(&["+CPIN: SIM PIN".into()]),
        "AT+CPINR=\"SIM PIN\"" => ok(&[format!("+CPINR: SIM PIN,{},3", st.pin_tries)]),
        "AT+CSMS?" => ok(&[format!("+CSMS: {},1,1,1", st.csms_service)]),
        "AT+CPMS?" => ok(&[format!(
            "+CPMS: \"SM\",{used},{cap},\"SM\",{used},{cap},\"SM\",{used},{cap}"
        )]),
        "AT+CSQ" => ok(&["+CSQ: 20,99".into()]),
        "AT+CREG?" => ok(&[format!("+CREG: 1,{}", st.reg_stat)]),
        "AT+CEREG?" => error("ERROR"),
        "AT+COPS?" if st.reg_stat == 1 => ok(&["+COPS: 0,0,\"Fake Net\",2".into()]),
        "AT+COPS?" => ok(&["+COPS: 0".into()]),
        "AT+CMGL=4" => {
            let mut lines = Vec::new();
            for (i, (stat, pdu)) in &st.stored {
                lines.push(format!(
                    "+CMGL: {i},{stat},,{}",
                    pdu.len().saturating_sub(1 + usize::from(pdu[0]))
                ));
                lines.push(hex::encode_upper(pdu));
            }
            ok(&lines)
        }
        _ if up.starts_with("AT+CPIN=") => {
            let given = line[8..].trim_matches('"');
            if st.pin.as_deref() == Some(given) {
                st.unlocked = true;
                st.pin_tries = 3;
                ok(&[])
            } else {
                st.pin_tries = st.pin_tries.saturating_sub(1);
                error("+CME ERROR: 16")
            }
        }
        _ if up.starts_with("AT+CPMS=") => ok(&[format!("+CPMS: {used},{cap},{used},{cap},{used},{cap}")]),
        _ if up.starts_with("AT+CMGS=") => return Reply::Prompt,
        _ if up.starts_with("AT+CMGR=") => {
            match up[8..].parse::<u32>().ok().and_then(|i| st.stored.get(&i)) {
                Some((stat, pdu)) => ok(&[
                    format!(
                        "+CMGR: {stat},,{}",
                        pdu.len().saturating_sub(1 + usize::from(pdu[0]))
                    ),
                    hex::encode_upper(pdu),
                ]),
                None => ok(&[]),
            }
        }
        _ if up.starts_with("AT+CMGD=") => match up[8..].parse::<u32>() {
            Ok(i) => {
                st.stored.remove(&i);
                ok(&[])
            }
            Err(_) => error("ERROR"),
        },
        _ if up.starts_with("AT+CUSD=1") => {
            let mut out = ok(&[]);
            out.extend_from_slice(format!("\r\n{}\r\n", st.ussd_reply).as_bytes());
            out
        }
        _ if up.starts_with("AT+CMEE=")
            || up.starts_with("AT+CMGF=")
            || up.starts_with("AT+CNMI=")
            || up.starts_with("AT+CREG=")
            || up.starts_with("AT+COPS=")
            || up.starts_with("AT+CSCA=")
            || up == "AT+CNMA"
            || up.starts_with("AT+CUSD=") =>
        {
            ok(&[])
        }
        _ => error("ERROR"),
    };
    Reply::Bytes(bytes)
}

/// Runs the fake on `io` until it closes. `inject` writes unsolicited bytes (URCs).
pub async fn run<T: AsyncRead + AsyncWrite + Unpin>(
    mut io: T,
    state: Shared,
    mut inject: mpsc::UnboundedReceiver<Vec<u8>>,
) {
    let mut line = Vec::new();
    let mut pdu: Option<Vec<u8>> = None;
    let mut buf = [0u8; 512];
    loop {
        let n = tokio::select! {
            r = io.read(&mut buf) => match r {
                Ok(0) | Err(_) => return,
                Ok(n) => n,
            },
            Some(bytes) = inject.recv() => {
                if io.write_all(&bytes).await.is_err() { return; }
                continue;
            }
        };
        if state.lock().unwrap().hung {
            continue;
        }
        for &b in &buf[..n] {
            let echo = state.lock().unwrap().echo;
            if echo && b != 0x1a {
                let _ = io.write_all(&[b]).await;
            }
            if let Some(p) = pdu.as_mut() {
                match b {
                    0x1a => {
                        let hexpdu = std::mem::take(p);
                        pdu = None;
                        let (reply, delay) = {
                            let mut st = state.lock().unwrap();
                            let decoded = hex::decode(&hexpdu).unwrap_or_default();
                            let delay = st.cmgs_delay;
                            let reply = if st.cmgs_silent {
                                st.sent.push(decoded);
                                None
                            } else if let Some(code) = st.cmgs_error {
                                Some(error(&format!("+CMS ERROR: {code}")))
                            } else {
                                st.sent.push(decoded);
                                let mr = st.next_mr;
                                st.next_mr = st.next_mr.wrapping_add(1);
                                Some(ok(&[format!("+CMGS: {mr}")]))
                            };
                            (reply, delay)
                        };
                        if let Some(reply) = reply {
                            tokio::time::sleep(delay).await;
                            let _ = io.write_all(&reply).await;
                        }
                    }
                    0x1b => {
                        pdu = None;
                        let _ = io.write_all(b"\r\nOK\r\n").await;
                    }
                    _ => p.push(b),
                }
                continue;
            }
            match b {
                b'\r' => {
                    let cmd = String::from_utf8_lossy(&line).trim().to_owned();
                    line.clear();
                    if cmd.is_empty() {
                        continue;
                    }
                    let reply = {
                        let mut st = state.lock().unwrap();
                        st.log.push(cmd.clone());
                        respond(&mut st, &cmd)
                    };
                    match reply {
                        Reply::Bytes(b) => {
                            let _ = io.write_all(&b).await;
                        }
                        Reply::Prompt => {
                            pdu = Some(Vec::new());
                            let _ = io.write_all(b"\r\n> ").await;
                        }
                    }
                }
                b'\n' | 0x1b => {}
                _ => line.push(b),
            }
        }
    }
}

/// The master side of a PTY as an async byte pipe.
pub struct PtyMaster(AsyncFd<OwnedFd>);

impl AsyncRead for PtyMaster {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        loop {
            let mut guard = ready!(self.0.poll_read_ready(cx))?;
            let unfilled = buf.initialize_unfilled();
            match guard
                .try_io(|fd| nix::unistd::read(fd.get_ref().as_fd(), unfilled).map_err(io::Error::from))
            {
                Ok(Ok(n)) => {
                    buf.advance(n);
                    return Poll::Ready(Ok(()));
                }
                // EIO: no slave open right now (the actor is reopening); not an end for the fake.
                Ok(Err(e)) if e.raw_os_error() == Some(nix::errno::Errno::EIO as i32) => {
                    cx.waker().wake_by_ref();
                    return Poll::Pending;
                }
                Ok(Err(e)) => return Poll::Ready(Err(e)),
                Err(_would_block) => continue,
            }
        }
    }
}

impl AsyncWrite for PtyMaster {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        loop {
            let mut guard = ready!(self.0.poll_write_ready(cx))?;
            match guard.try_io(|fd| nix::unistd::write(fd.get_ref().as_fd(), buf).map_err(io::Error::from)) {
                Ok(r) => return Poll::Ready(r),
                Err(_would_block) => continue,
            }
        }
    }
    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

/// A raw-mode PTY pair. The slave stays open here so the master never sees EIO while the actor reopens.
pub struct Pty {
    pub master: PtyMaster,
    pub slave: OwnedFd,
    pub slave_path: PathBuf,
}

pub fn open_pty() -> Pty {
    use nix::fcntl::{FcntlArg, OFlag, fcntl};
    use nix::sys::termios::{SetArg, cfmakeraw, tcgetattr, tcsetattr};
    let pty = nix::pty::openpty(None, None).unwrap();
    let mut t = tcgetattr(&pty.slave).unwrap();
    cfmakeraw(&mut t);
    tcsetattr(&pty.slave, SetArg::TCSANOW, &t).unwrap();
    fcntl(&pty.master, FcntlArg::F_SETFL(OFlag::O_NONBLOCK)).unwrap();
    let slave_path = nix::unistd::ttyname(&pty.slave).unwrap();
    // The fd is an OwnedFd that only this AsyncFd uses, which is what `register`'s safety contract asks.
    #[allow(deprecated)]
    Pty {
        master: PtyMaster(AsyncFd::new(pty.master).unwrap()),
        slave: pty.slave,
        slave_path,
    }
}

/// A fake modem on a PTY reachable through a symlink (like a udev name), which can be unplugged and
/// plugged back.
pub struct FakeModem {
    pub link: PathBuf,
    pub state: Shared,
    inject: mpsc::UnboundedSender<Vec<u8>>,
    task: Option<tokio::task::JoinHandle<()>>,
    _slave: Option<OwnedFd>,
}

impl FakeModem {
    pub fn start(dir: &Path, name: &str, state: FakeState) -> FakeModem {
        let mut m = FakeModem {
            link: dir.join(name),
            state: Arc::new(Mutex::new(state)),
            inject: mpsc::unbounded_channel().0,
            task: None,
            _slave: None,
        };
        m.plug();
        m
    }

    /// Creates a new PTY behind the link and runs the fake on it.
    pub fn plug(&mut self) {
        let pty = open_pty();
        let _ = std::fs::remove_file(&self.link);
        std::os::unix::fs::symlink(&pty.slave_path, &self.link).unwrap();
        let (tx, rx) = mpsc::unbounded_channel();
        self.inject = tx;
        self._slave = Some(pty.slave);
        self.task = Some(tokio::spawn(run(pty.master, self.state.clone(), rx)));
    }

    /// Closes the PTY and removes the link: the actor's reads fail like on a USB unplug.
    pub fn unplug(&mut self) {
        if let Some(t) = self.task.take() {
            t.abort();
        }
        self._slave = None;
        let _ = std::fs::remove_file(&self.link);
    }

    /// Sends unsolicited bytes.
    pub fn urc(&self, bytes: &str) {
        let _ = self.inject.send(bytes.as_bytes().to_vec());
    }

    pub fn with<R>(&self, f: impl FnOnce(&mut FakeState) -> R) -> R {
        f(&mut self.state.lock().unwrap())
    }
}

impl Drop for FakeModem {
    fn drop(&mut self) {
        self.unplug();
    }
}
