//! TLS for every client-facing listener: the appliance CA and its server certificate ([`pki`]), the rustls
//! server configuration with a hot-swappable certificate ([`config`]), the optional client-certificate
//! request ([`client_cert`]) and the accept loop that serves HTTP over TLS ([`acceptor`]).
//!
//! Invariants: only TLS 1.2 and 1.3 with the AEAD suites of the aws-lc-rs provider are ever offered; the
//! peer address is known before the handshake (so an IP pool can drop a connection before any TLS work);
//! the peer certificate chain, if any, travels with every request as a [`acceptor::ConnectionInfo`].
pub mod acceptor;
pub mod client_cert;
pub mod config;
pub mod pki;

use std::path::PathBuf;

pub use acceptor::{Admission, AdmitAll, ConnectionInfo, TlsServer};
pub use config::{CertResolver, CertSource, ClientCertMode, server_config};
pub use pki::{ApplianceCa, ApplianceCerts};

/// Everything that can go wrong while preparing certificates or the TLS configuration.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("cannot read or write {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: {reason}")]
    BadPem { path: PathBuf, reason: String },
    #[error("certificate generation failed: {0}")]
    Generate(#[from] rcgen::Error),
    #[error("TLS configuration rejected: {0}")]
    Rustls(#[from] rustls::Error),
    #[error("invalid subject alternative name {name:?}: {reason}")]
    BadSan { name: String, reason: String },
}

impl TlsError {
    fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        TlsError::Io {
            path: path.into(),
            source,
        }
    }
}

/// The one crypto provider smsgate uses everywhere (server, webhook client): aws-lc-rs.
pub fn provider() -> std::sync::Arc<rustls::crypto::CryptoProvider> {
    std::sync::Arc::new(rustls::crypto::aws_lc_rs::default_provider())
}
