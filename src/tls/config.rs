//! rustls server configuration: TLS 1.2 + 1.3 only, aws-lc-rs AEAD suites, ALPN h2/http1.1, and a
//! certificate resolver whose certificate can be swapped while connections keep running (SIGHUP reload).
use std::fmt;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use rustls::ServerConfig;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;

use super::{TlsError, client_cert::RequestClientCert, provider};

/// ALPN identifiers (RFC 7301 registry): HTTP/2 over TLS, then HTTP/1.1.
pub const ALPN_H2: &[u8] = b"h2";
/// ALPN identifier of HTTP/1.1.
pub const ALPN_HTTP11: &[u8] = b"http/1.1";

/// Where the server certificate and key come from. Both are PEM files re-read on every reload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertSource {
    /// Certificate chain, leaf first.
    pub cert: PathBuf,
    /// Private key (PKCS#8, PKCS#1 or SEC1).
    pub key: PathBuf,
}

/// Whether the TLS layer asks clients for a certificate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ClientCertMode {
    /// Never ask.
    Off,
    /// Ask, but do not require: the chain is handed to the request for per-account binding checks.
    #[default]
    Request,
}

/// A [`ResolvesServerCert`] holding the current certificate; [`CertResolver::reload`] swaps it atomically,
/// so handshakes in progress keep the old one and new ones get the new one: rotation without downtime.
pub struct CertResolver {
    /// Swapped by [`CertResolver::set_source`] (a certificate installed from the panel).
    source: RwLock<CertSource>,
    current: RwLock<Arc<CertifiedKey>>,
}

impl fmt::Debug for CertResolver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CertResolver")
            .field("source", &self.source())
            .finish_non_exhaustive()
    }
}

impl CertResolver {
    /// Loads the certificate from `source`.
    pub fn new(source: CertSource) -> Result<Self, TlsError> {
        let key = load_certified_key(&source)?;
        Ok(CertResolver {
            source: RwLock::new(source),
            current: RwLock::new(Arc::new(key)),
        })
    }

    /// Where the certificate is read from now.
    pub fn source(&self) -> CertSource {
        match self.source.read() {
            Ok(guard) => guard.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Re-reads the files. On error the old certificate stays in use and the error is returned.
    pub fn reload(&self) -> Result<(), TlsError> {
        let key = Arc::new(load_certified_key(&self.source())?);
        self.swap(key);
        Ok(())
    }

    /// Serves the certificate of other files from now on (new handshakes; running connections keep
    /// theirs). The files are loaded and checked first: on error nothing changes.
    pub fn set_source(&self, source: CertSource) -> Result<(), TlsError> {
        let key = Arc::new(load_certified_key(&source)?);
        match self.source.write() {
            Ok(mut guard) => *guard = source,
            Err(poisoned) => *poisoned.into_inner() = source,
        }
        self.swap(key);
        Ok(())
    }

    fn swap(&self, key: Arc<CertifiedKey>) {
        match self.current.write() {
            Ok(mut guard) => *guard = key,
            Err(poisoned) => *poisoned.into_inner() = key,
        }
    }

    /// The certificate chain served now (leaf first).
    pub fn current_chain(&self) -> Vec<CertificateDer<'static>> {
        self.current_key().cert.clone()
    }

    fn current_key(&self) -> Arc<CertifiedKey> {
        match self.current.read() {
            Ok(guard) => Arc::clone(&guard),
            Err(poisoned) => Arc::clone(&poisoned.into_inner()),
        }
    }
}

impl ResolvesServerCert for CertResolver {
    fn resolve(&self, _client_hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.current_key())
    }
}

/// Reads a PEM chain and key and checks that they belong together.
pub fn load_certified_key(source: &CertSource) -> Result<CertifiedKey, TlsError> {
    let chain = read_certs(&source.cert)?;
    let key = read_key(&source.key)?;
    CertifiedKey::from_der(chain, key, &provider()).map_err(|e| TlsError::BadPem {
        path: source.key.clone(),
        reason: format!("key does not match certificate {}: {e}", source.cert.display()),
    })
}

/// All certificates in a PEM file.
pub fn read_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let pem = fs::read(path).map_err(|e| TlsError::io(path, e))?;
    let certs = rustls_pemfile::certs(&mut pem.as_slice())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| TlsError::BadPem {
            path: path.into(),
            reason: e.to_string(),
        })?;
    if certs.is_empty() {
        return Err(TlsError::BadPem {
            path: path.into(),
            reason: "no CERTIFICATE block found".into(),
        });
    }
    Ok(certs)
}

/// The private key in a PEM file (PKCS#8, PKCS#1 or SEC1).
pub fn read_key(path: &Path) -> Result<PrivateKeyDer<'static>, TlsError> {
    let pem = fs::read(path).map_err(|e| TlsError::io(path, e))?;
    rustls_pemfile::private_key(&mut pem.as_slice())
        .map_err(|e| TlsError::BadPem {
            path: path.into(),
            reason: e.to_string(),
        })?
        .ok_or_else(|| TlsError::BadPem {
            path: path.into(),
            reason: "no PRIVATE KEY block found".into(),
        })
}

/// The server configuration used by every HTTPS listener.
pub fn server_config(
    resolver: Arc<CertResolver>,
    client_certs: ClientCertMode,
) -> Result<ServerConfig, TlsError> {
    let provider = provider();
    let builder = ServerConfig::builder_with_provider(Arc::clone(&provider))
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])?;
    let builder = match client_certs {
        ClientCertMode::Off => builder.with_no_client_auth(),
        ClientCertMode::Request => {
            builder.with_client_cert_verifier(Arc::new(RequestClientCert::new(&provider)))
        }
    };
    let mut config = builder.with_cert_resolver(resolver);
    config.alpn_protocols = vec![ALPN_H2.to_vec(), ALPN_HTTP11.to_vec()];
    Ok(config)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tls::pki::ApplianceCerts;

    #[test]
    fn reload_swaps_certificate_and_keeps_old_on_error() {
        let dir = tempfile::tempdir().unwrap();
        let certs = ApplianceCerts::ensure(dir.path(), &[]).unwrap();
        let source = CertSource {
            cert: certs.server_cert.clone(),
            key: certs.server_key.clone(),
        };
        let resolver = CertResolver::new(source).unwrap();
        let before = resolver.current_chain();

        // New SAN: the server certificate is re-issued on disk; reload picks it up.
        ApplianceCerts::ensure(dir.path(), &["gw.example".into()]).unwrap();
        resolver.reload().unwrap();
        let after = resolver.current_chain();
        assert_ne!(before, after);

        // A broken file does not take the served certificate away.
        fs::write(&certs.server_cert, "garbage").unwrap();
        assert!(matches!(resolver.reload(), Err(TlsError::BadPem { .. })));
        assert_eq!(resolver.current_chain(), after);
    }

    #[test]
    fn mismatched_key_is_refused() {
        let a = tempfile::tempdir().unwrap();
        let b = tempfile::tempdir().unwrap();
        let ca = ApplianceCerts::ensure(a.path(), &[]).unwrap();
        let cb = ApplianceCerts::ensure(b.path(), &[]).unwrap();
        let err = CertResolver::new(CertSource {
            cert: ca.server_cert,
            key: cb.server_key,
        })
        .unwrap_err();
        assert!(err.to_string().contains("does not match"), "{err}");
    }

    #[test]
    fn only_tls12_and_tls13() {
        let dir = tempfile::tempdir().unwrap();
        let certs = ApplianceCerts::ensure(dir.path(), &[]).unwrap();
        let resolver = Arc::new(
            CertResolver::new(CertSource {
                cert: certs.server_cert,
                key: certs.server_key,
            })
            .unwrap(),
        );
        let config = server_config(resolver, ClientCertMode::Request).unwrap();
        for suite in &config.crypto_provider().cipher_suites {
            let name = format!("{:?}", suite.suite());
            assert!(
                name.contains("GCM") || name.contains("CHACHA20_POLY1305"),
                "non-AEAD suite {name}"
            );
        }
    }
}
