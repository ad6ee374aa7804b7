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
pub mod manage;
pub mod pkcs12;
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

/// The server certificate as configured: the operator's PEM files, or the appliance CA's certificate.
#[derive(Debug)]
pub struct ServerCertificate {
    /// Serves the current certificate; swapped by [`ServerCertificate::reload`].
    pub resolver: std::sync::Arc<CertResolver>,
    /// The appliance CA certificate clients should trust (`None` with an operator certificate).
    pub ca_cert: Option<PathBuf>,
    /// Set when the appliance issues the certificate: its directory and wanted SANs.
    appliance: Option<(PathBuf, Vec<String>)>,
    /// True when the appliance CA was created by this start.
    pub created_ca: bool,
}

impl ServerCertificate {
    /// With `operator` = Some((cert, key)) those files are served; otherwise the appliance CA in `dir`
    /// issues (or re-uses) a certificate for `sans` plus localhost, 127.0.0.1 and ::1.
    pub fn prepare(
        operator: Option<(PathBuf, PathBuf)>,
        dir: &std::path::Path,
        sans: &[String],
    ) -> Result<Self, TlsError> {
        match operator {
            Some((cert, key)) => Ok(ServerCertificate {
                resolver: std::sync::Arc::new(CertResolver::new(CertSource { cert, key })?),
                ca_cert: None,
                appliance: None,
                created_ca: false,
            }),
            None => {
                let certs = ApplianceCerts::ensure(dir, sans)?;
                // A certificate installed from the panel wins over the one the appliance CA issues.
                let source = manage::installed_source(dir).unwrap_or(CertSource {
                    cert: certs.server_cert.clone(),
                    key: certs.server_key.clone(),
                });
                Ok(ServerCertificate {
                    resolver: std::sync::Arc::new(CertResolver::new(source)?),
                    ca_cert: Some(certs.ca_cert),
                    appliance: Some((dir.to_path_buf(), sans.to_vec())),
                    created_ca: certs.created_ca,
                })
            }
        }
    }

    /// Re-reads the certificate (SIGHUP): the operator's files as they are now, or the appliance certificate
    /// re-issued if it is close to expiry. Connections keep running; on error the old certificate stays.
    pub fn reload(&self) -> Result<(), TlsError> {
        if let Some((dir, sans)) = &self.appliance {
            ApplianceCerts::ensure(dir, sans)?;
        }
        self.resolver.reload()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operator_certificate_is_served_and_reloaded() {
        let dir = tempfile::tempdir().unwrap();
        // The operator's certificate comes from elsewhere (here: another CA); smsgate only reads the files.
        let elsewhere =
            ApplianceCerts::ensure(&dir.path().join("elsewhere"), &["gw.example".into()]).unwrap();
        let cert = dir.path().join("op.pem");
        let key = dir.path().join("op-key.pem");
        std::fs::copy(&elsewhere.server_cert, &cert).unwrap();
        std::fs::copy(&elsewhere.server_key, &key).unwrap();
        let served =
            ServerCertificate::prepare(Some((cert.clone(), key.clone())), &dir.path().join("tls"), &[])
                .unwrap();
        assert!(served.ca_cert.is_none(), "no appliance CA involved");
        assert!(!dir.path().join("tls").exists(), "nothing generated");
        assert_eq!(
            served.resolver.current_chain(),
            config::read_certs(&cert).unwrap()
        );

        // The operator replaces the files; SIGHUP (reload) serves the new pair.
        let renewed = ApplianceCerts::ensure(
            &dir.path().join("elsewhere"),
            &["gw.example".into(), "10.0.0.9".into()],
        )
        .unwrap();
        std::fs::copy(&renewed.server_cert, &cert).unwrap();
        std::fs::copy(&renewed.server_key, &key).unwrap();
        served.reload().unwrap();
        assert_eq!(
            served.resolver.current_chain(),
            config::read_certs(&cert).unwrap()
        );

        // A key that does not match is refused up front.
        let other = ApplianceCerts::ensure(&dir.path().join("other"), &[]).unwrap();
        let err = ServerCertificate::prepare(Some((cert, other.server_key)), &dir.path().join("tls"), &[])
            .unwrap_err();
        assert!(err.to_string().contains("does not match"), "{err}");
    }
}
