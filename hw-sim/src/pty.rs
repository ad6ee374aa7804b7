//! Pseudo-terminals for simulated modems: opens a master/slave pair in raw mode, exposes the master to
//! tokio without polling (edge-triggered readiness through `AsyncFd`), and keeps the slave side open so
//! that the master never reads EIO while no DTE has the port open.
use std::io;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::PathBuf;
use std::time::Duration;

use nix::fcntl::{FcntlArg, FdFlag, OFlag, fcntl};
use nix::sys::termios::{self, SetArg};
use tokio::io::unix::AsyncFd;

use crate::SimError;

/// One open PTY pair.
#[derive(Debug)]
pub struct Pty {
    master: AsyncFd<OwnedFd>,
    /// Held so that the line stays up while DTEs open and close the port.
    _slave: OwnedFd,
    path: PathBuf,
}

impl Pty {
    /// Opens a PTY pair in raw mode (no echo, no CR/LF translation, no signals: the line discipline
    /// would otherwise mangle AT traffic).
    pub fn open() -> Result<Pty, SimError> {
        let pair = nix::pty::openpty(None, None).map_err(|e| SimError::Pty(io::Error::from(e)))?;
        for fd in [&pair.master, &pair.slave] {
            let mut t = termios::tcgetattr(fd).map_err(|e| SimError::Pty(e.into()))?;
            termios::cfmakeraw(&mut t);
            termios::tcsetattr(fd, SetArg::TCSANOW, &t).map_err(|e| SimError::Pty(e.into()))?;
        }
        // openpty(3) opens both ends without O_CLOEXEC: every process the host spawns would inherit two
        // descriptors per modem (a 256-modem bank leaks 512 into each child, which pushes a select()-based
        // daemon such as Kannel's bearerbox past FD_SETSIZE and aborts it).
        for fd in [&pair.master, &pair.slave] {
            fcntl(fd, FcntlArg::F_SETFD(FdFlag::FD_CLOEXEC)).map_err(|e| SimError::Pty(e.into()))?;
        }
        let path = nix::unistd::ttyname(&pair.slave).map_err(|e| SimError::Pty(e.into()))?;
        let flags = fcntl(&pair.master, FcntlArg::F_GETFL).map_err(|e| SimError::Pty(e.into()))?;
        let flags = OFlag::from_bits_truncate(flags) | OFlag::O_NONBLOCK;
        fcntl(&pair.master, FcntlArg::F_SETFL(flags)).map_err(|e| SimError::Pty(e.into()))?;
        // SAFETY: the descriptor is an OwnedFd moved into the AsyncFd: it stays open and refers to the same
        // PTY master for the AsyncFd's whole lifetime, and OwnedFd::as_raw_fd always returns it.
        let master = unsafe { AsyncFd::register(pair.master) }.map_err(|e| SimError::Pty(e.into()))?;
        Ok(Pty {
            master,
            _slave: pair.slave,
            path,
        })
    }

    /// The slave device path (`/dev/pts/N`), which DTEs open.
    pub fn path(&self) -> &PathBuf {
        &self.path
    }

    /// Reads what the DTE wrote; waits without polling.
    pub async fn read(&self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            let mut guard = self.master.readable().await?;
            match guard.try_io(|fd| nix::unistd::read(fd.get_ref().as_fd(), buf).map_err(io::Error::from)) {
                Ok(result) => return result,
                Err(_would_block) => continue,
            }
        }
    }

    /// Writes all bytes to the DTE. When `byte_time` is set, bytes go out one at a time with that pause
    /// in between (a slow serial line).
    pub async fn write_all(&self, mut data: &[u8], byte_time: Option<Duration>) -> io::Result<()> {
        while !data.is_empty() {
            let chunk = if byte_time.is_some() { &data[..1] } else { data };
            let mut guard = self.master.writable().await?;
            match guard.try_io(|fd| nix::unistd::write(fd.get_ref(), chunk).map_err(io::Error::from)) {
                Ok(Ok(n)) => {
                    data = &data[n..];
                    if let Some(t) = byte_time
                        && !data.is_empty()
                    {
                        tokio::time::sleep(t).await;
                    }
                }
                Ok(Err(e)) => return Err(e),
                Err(_would_block) => continue,
            }
        }
        Ok(())
    }

    /// The raw master descriptor (for diagnostics).
    pub fn master_fd(&self) -> i32 {
        self.master.get_ref().as_raw_fd()
    }
}
