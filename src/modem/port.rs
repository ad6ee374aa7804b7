//! The serial port of one modem, framed by [`AtCodec`]. Only the modem's actor holds it.
use std::io;
use std::path::Path;

use futures::StreamExt;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio_serial::SerialPortBuilderExt;
use tokio_util::codec::Framed;

use crate::at::{AtCodec, Frame};

/// Anything the actor can talk AT over: a serial port, a PTY, an in-memory pipe in tests.
pub trait Transport: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Transport for T {}

/// A framed connection to a modem.
pub struct Port {
    framed: Framed<Box<dyn Transport>, AtCodec>,
}

impl std::fmt::Debug for Port {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Port").finish_non_exhaustive()
    }
}

impl Port {
    /// Opens `path` at `baud`, 8N1, no flow control (what USB modems and GSM module UARTs use).
    pub fn open(path: &Path, baud: u32) -> io::Result<Port> {
        let stream = tokio_serial::new(path.to_string_lossy(), baud)
            .data_bits(tokio_serial::DataBits::Eight)
            .parity(tokio_serial::Parity::None)
            .stop_bits(tokio_serial::StopBits::One)
            .flow_control(tokio_serial::FlowControl::None)
            .open_native_async()
            .map_err(io::Error::from)?;
        Ok(Port::from_transport(Box::new(stream)))
    }

    /// Wraps an already open transport.
    pub fn from_transport(transport: Box<dyn Transport>) -> Port {
        Port {
            framed: Framed::new(transport, AtCodec::new()),
        }
    }

    /// The framer, to tell it about the pending command.
    pub fn codec_mut(&mut self) -> &mut AtCodec {
        self.framed.codec_mut()
    }

    /// Writes bytes. No flush: tokio-serial's flush is a blocking `tcdrain`, and writes to a tty go to
    /// the driver directly.
    pub async fn write(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.framed.get_mut().write_all(bytes).await
    }

    /// The next frame; `None` at end of stream (the device went away).
    pub async fn next(&mut self) -> Option<io::Result<Frame>> {
        self.framed.next().await
    }
}

/// Whether an I/O error means the device is gone (unplugged) rather than a transient failure.
pub fn is_gone(err: &io::Error) -> bool {
    use nix::errno::Errno;
    matches!(
        err.kind(),
        io::ErrorKind::NotFound | io::ErrorKind::BrokenPipe | io::ErrorKind::UnexpectedEof
    ) || err.raw_os_error().is_some_and(|code| {
        [Errno::EIO, Errno::ENXIO, Errno::ENODEV, Errno::ENOENT].contains(&Errno::from_raw(code))
    })
}
