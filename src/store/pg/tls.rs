//! TLS for the PostgreSQL connection: tokio-postgres' `MakeTlsConnect`/`TlsConnect` over tokio-rustls,
//! verifying the server certificate against the cluster CA with full hostname checks (libpq's
//! `verify-full`) and presenting this node's client certificate.
//!
//! Written here rather than taken from `tokio-postgres-rustls` or `postgres-rustls`: those crates depend
//! on `ring` (for the channel-binding digest) or on rustls' default provider, and smsgate builds rustls
//! with the aws-lc-rs provider only (a second provider makes rustls refuse to pick one). The adaptor is
//! small: wrap the socket in a `TlsConnector` for the host name tokio-postgres is connecting to.
use std::future::Future;
use std::io;
use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use rustls::pki_types::ServerName;
use rustls::{ClientConfig, RootCertStore};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio_postgres::tls::{ChannelBinding, MakeTlsConnect, TlsConnect, TlsStream};

use crate::tls::TlsError;

/// Makes TLS connections to the PostgreSQL hosts of the connection string.
#[derive(Clone)]
pub struct PgTls {
    config: Arc<ClientConfig>,
}

impl std::fmt::Debug for PgTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgTls").finish_non_exhaustive()
    }
}

impl PgTls {
    /// Trusts the CA certificates in `ca` (PEM) and authenticates with the chain in `cert` and the key
    /// in `key` (PEM). TLS 1.2 and 1.3 only, like every other smsgate link.
    pub fn from_files(ca: &Path, cert: &Path, key: &Path) -> Result<PgTls, TlsError> {
        let mut roots = RootCertStore::empty();
        for c in crate::tls::config::read_certs(ca)? {
            roots.add(c).map_err(|e| TlsError::BadPem {
                path: ca.to_owned(),
                reason: e.to_string(),
            })?;
        }
        let chain = crate::tls::config::read_certs(cert)?;
        let key_der = crate::tls::config::read_key(key)?;
        let config = ClientConfig::builder_with_provider(crate::tls::provider())
            .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])?
            .with_root_certificates(roots)
            .with_client_auth_cert(chain, key_der)?;
        Ok(PgTls {
            config: Arc::new(config),
        })
    }
}

/// Connects one socket to the host named `domain` (a DNS name or an IP address from the URL).
pub struct PgTlsConnect {
    connector: tokio_rustls::TlsConnector,
    server: ServerName<'static>,
}

impl<S> MakeTlsConnect<S> for PgTls
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    type Stream = PgTlsStream<S>;
    type TlsConnect = PgTlsConnect;
    type Error = io::Error;

    fn make_tls_connect(&mut self, domain: &str) -> Result<PgTlsConnect, io::Error> {
        let server = ServerName::try_from(domain.to_owned())
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, format!("{domain:?}: {e}")))?;
        Ok(PgTlsConnect {
            connector: tokio_rustls::TlsConnector::from(self.config.clone()),
            server,
        })
    }
}

impl<S> TlsConnect<S> for PgTlsConnect
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    type Stream = PgTlsStream<S>;
    type Error = io::Error;
    type Future = Pin<Box<dyn Future<Output = io::Result<PgTlsStream<S>>> + Send>>;

    fn connect(self, stream: S) -> Self::Future {
        Box::pin(async move {
            let tls = self.connector.connect(self.server, stream).await?;
            Ok(PgTlsStream(tls))
        })
    }
}

/// An established TLS stream to PostgreSQL.
pub struct PgTlsStream<S>(tokio_rustls::client::TlsStream<S>);

impl<S> TlsStream for PgTlsStream<S>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    fn channel_binding(&self) -> ChannelBinding {
        // Nodes authenticate with their client certificate (pg_hba `cert`), not SCRAM, so there is no
        // password exchange to bind to the channel.
        ChannelBinding::none()
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncRead for PgTlsStream<S> {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().0).poll_read(cx, buf)
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncWrite for PgTlsStream<S> {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().0).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().0).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().0).poll_shutdown(cx)
    }
}
