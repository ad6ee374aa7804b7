//! The HTTPS accept loop: TCP accept → admission by peer address (before any TLS work) → TLS handshake
//! with a deadline → HTTP/1.1 or HTTP/2 served by hyper, with a [`ConnectionInfo`] (peer address, client
//! certificate chain, TLS version) inserted into every request's extensions.
//!
//! Shutdown: when the token is cancelled the loop stops accepting, every connection is told to finish its
//! in-flight requests and close (`graceful_shutdown`), and [`TlsServer::run`] returns once all have closed.
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder;
use hyper_util::service::TowerToHyperService;
use rustls::ServerConfig;
use rustls::pki_types::CertificateDer;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// How long a client may take to complete the TLS handshake.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a client may take to send the request header (slowloris guard).
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(30);
/// Pause after a failed `accept` (e.g. EMFILE) so the loop does not spin.
const ACCEPT_ERROR_BACKOFF: Duration = Duration::from_millis(50);

/// What the HTTP layer knows about the connection a request came on.
#[derive(Debug, Clone)]
pub struct ConnectionInfo {
    /// Peer address as seen by the socket (before any trusted-proxy processing).
    pub peer: SocketAddr,
    /// Client certificate chain presented in the handshake (leaf first), if any. Only its key possession is
    /// proven by TLS; binding to an account is checked per request.
    pub client_chain: Option<Arc<Vec<CertificateDer<'static>>>>,
    /// Negotiated TLS version, `None` on the plain redirect listener.
    pub tls_version: Option<rustls::ProtocolVersion>,
    /// Server name the client asked for (SNI).
    pub sni: Option<String>,
}

impl ConnectionInfo {
    /// True when the request came over TLS.
    pub fn is_tls(&self) -> bool {
        self.tls_version.is_some()
    }
}

/// Decides, from the peer address alone, whether a connection may proceed to the TLS handshake. The IP
/// pools of issue 7 plug in here: an address no account could use is dropped before any TLS work.
pub trait Admission: Send + Sync + 'static {
    /// True to accept the connection.
    fn admit(&self, peer: IpAddr) -> bool;
}

/// Admits every address (no IP pools configured).
#[derive(Debug, Clone, Copy, Default)]
pub struct AdmitAll;

impl Admission for AdmitAll {
    fn admit(&self, _peer: IpAddr) -> bool {
        true
    }
}

/// An HTTPS server: rustls configuration + admission policy.
#[derive(Clone)]
pub struct TlsServer {
    acceptor: TlsAcceptor,
    admission: Arc<dyn Admission>,
}

impl TlsServer {
    /// A server with the given TLS configuration that admits every address.
    pub fn new(config: Arc<ServerConfig>) -> Self {
        TlsServer {
            acceptor: TlsAcceptor::from(config),
            admission: Arc::new(AdmitAll),
        }
    }

    /// Replaces the admission policy.
    pub fn with_admission(mut self, admission: Arc<dyn Admission>) -> Self {
        self.admission = admission;
        self
    }

    /// Serves `app` over TLS on `listener` until `shutdown` is cancelled and in-flight requests are done.
    pub async fn run(self, listener: TcpListener, app: Router, shutdown: CancellationToken) {
        let connections = TaskTracker::new();
        loop {
            let (tcp, peer) = tokio::select! {
                () = shutdown.cancelled() => break,
                accepted = listener.accept() => match accepted {
                    Ok(pair) => pair,
                    Err(error) => {
                        tracing::warn!(%error, "accept failed");
                        tokio::time::sleep(ACCEPT_ERROR_BACKOFF).await;
                        continue;
                    }
                },
            };
            if !self.admission.admit(peer.ip()) {
                tracing::info!(%peer, "connection refused before TLS: address not admitted");
                continue;
            }
            let acceptor = self.acceptor.clone();
            let app = app.clone();
            let shutdown = shutdown.clone();
            connections.spawn(async move {
                let tls = match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
                    Ok(Ok(tls)) => tls,
                    Ok(Err(error)) => {
                        tracing::debug!(%peer, %error, "TLS handshake failed");
                        return;
                    }
                    Err(_) => {
                        tracing::debug!(%peer, "TLS handshake timed out");
                        return;
                    }
                };
                let (_, session) = tls.get_ref();
                let info = ConnectionInfo {
                    peer,
                    client_chain: session
                        .peer_certificates()
                        .map(|chain| Arc::new(chain.iter().map(|c| c.clone().into_owned()).collect())),
                    tls_version: session.protocol_version(),
                    sni: session.server_name().map(str::to_owned),
                };
                serve_connection(tls, info, app, shutdown).await;
            });
        }
        drop(listener);
        connections.close();
        connections.wait().await;
    }
}

/// Serves plain HTTP (the redirect listener) with the same shutdown behaviour as [`TlsServer::run`].
pub async fn run_plain(listener: TcpListener, app: Router, shutdown: CancellationToken) {
    let connections = TaskTracker::new();
    loop {
        let (tcp, peer) = tokio::select! {
            () = shutdown.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(error) => {
                    tracing::warn!(%error, "accept failed");
                    tokio::time::sleep(ACCEPT_ERROR_BACKOFF).await;
                    continue;
                }
            },
        };
        let info = ConnectionInfo {
            peer,
            client_chain: None,
            tls_version: None,
            sni: None,
        };
        connections.spawn(serve_connection(tcp, info, app.clone(), shutdown.clone()));
    }
    drop(listener);
    connections.close();
    connections.wait().await;
}

async fn serve_connection<I>(io: I, info: ConnectionInfo, app: Router, shutdown: CancellationToken)
where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let peer = info.peer;
    let service = tower::service_fn(move |mut request: hyper::Request<Incoming>| {
        request.extensions_mut().insert(info.clone());
        request.extensions_mut().insert(ConnectInfo(peer));
        let mut app = app.clone();
        // The router's error type is `Infallible`: every failure is already an HTTP response.
        tower::Service::call(&mut app, request)
    });
    let mut builder = Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT);
    let connection =
        builder.serve_connection_with_upgrades(TokioIo::new(io), TowerToHyperService::new(service));
    tokio::pin!(connection);
    tokio::select! {
        result = connection.as_mut() => {
            if let Err(error) = result {
                tracing::debug!(%peer, %error, "connection ended with error");
            }
        }
        () = shutdown.cancelled() => {
            connection.as_mut().graceful_shutdown();
            if let Err(error) = connection.await {
                tracing::debug!(%peer, %error, "connection ended with error during shutdown");
            }
        }
    }
}
