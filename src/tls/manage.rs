//! Run-time management of the server certificate (the panel's TLS page): describe the certificate being
//! served, install an operator's certificate and key, or go back to a freshly issued appliance
//! certificate. Every change goes through [`CertResolver::set_source`], so it applies to the next TLS
//! handshake without a restart, and a pair that does not load leaves the served certificate as it was.
//!
//! Files (in the appliance's TLS directory, `<data_dir>/tls`): `installed.pem` and `installed-key.pem`
//! (mode 0600) hold an installed pair and are preferred at start; regenerating deletes them. When the
//! config file names `tls.cert`/`tls.key`, those files rule: the panel shows the certificate but does not
//! replace it (the operator replaces the files and sends SIGHUP).
use std::fs;
use std::net::IpAddr;
use std::path::Path;

use sha2::{Digest, Sha256};
use time::OffsetDateTime;

use super::config::{CertSource, load_certified_key};
use super::pki::{ApplianceCerts, write_file};
use super::{ServerCertificate, TlsError};

const INSTALLED_CERT: &str = "installed.pem";
const INSTALLED_KEY: &str = "installed-key.pem";
const PRIVATE_MODE: u32 = 0o600;
/// Largest PEM accepted from an upload (a chain of a few certificates is a few KiB).
pub const MAX_PEM_BYTES: usize = 64 * 1024;

/// Where the served certificate comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CertOrigin {
    /// Issued by the appliance's own CA (self-signed trust root).
    Appliance,
    /// Installed from the panel.
    Installed,
    /// The files named in the config file (`tls.cert`, `tls.key`).
    ConfigFiles,
}

impl CertOrigin {
    /// Machine-readable name (templates, audit).
    pub fn as_str(self) -> &'static str {
        match self {
            CertOrigin::Appliance => "appliance",
            CertOrigin::Installed => "installed",
            CertOrigin::ConfigFiles => "config",
        }
    }
}

/// The served certificate, as people read it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertificateView {
    pub subject: String,
    pub issuer: String,
    pub names: Vec<String>,
    pub not_before: OffsetDateTime,
    pub not_after: OffsetDateTime,
    /// SHA-256 of the leaf's DER, lowercase hex with colons.
    pub sha256: String,
    /// Certificates in the chain (leaf first).
    pub chain_len: usize,
    pub origin: CertOrigin,
}

/// The installed pair in `dir`, if both files are there.
pub fn installed_source(dir: &Path) -> Option<CertSource> {
    let source = CertSource {
        cert: dir.join(INSTALLED_CERT),
        key: dir.join(INSTALLED_KEY),
    };
    (source.cert.is_file() && source.key.is_file()).then_some(source)
}

fn bad(what: &str, reason: impl Into<String>) -> TlsError {
    TlsError::BadPem {
        path: what.into(),
        reason: reason.into(),
    }
}

/// Reads a DER certificate into a [`CertificateView`] (origin filled by the caller).
fn view_of(der: &[u8], chain_len: usize, origin: CertOrigin) -> Result<CertificateView, TlsError> {
    let (_, cert) =
        x509_parser::parse_x509_certificate(der).map_err(|e| bad("certificate", e.to_string()))?;
    let mut names = Vec::new();
    if let Ok(Some(ext)) = cert.subject_alternative_name() {
        for name in &ext.value.general_names {
            match name {
                x509_parser::extensions::GeneralName::DNSName(d) => names.push((*d).to_owned()),
                x509_parser::extensions::GeneralName::IPAddress(bytes) => {
                    let ip = match bytes.len() {
                        4 => <[u8; 4]>::try_from(*bytes).ok().map(IpAddr::from),
                        16 => <[u8; 16]>::try_from(*bytes).ok().map(IpAddr::from),
                        _ => None,
                    };
                    if let Some(ip) = ip {
                        names.push(ip.to_string());
                    }
                }
                _ => {}
            }
        }
    }
    let digest = Sha256::digest(der);
    Ok(CertificateView {
        subject: cert.subject().to_string(),
        issuer: cert.issuer().to_string(),
        names,
        not_before: cert.validity().not_before.to_datetime(),
        not_after: cert.validity().not_after.to_datetime(),
        sha256: digest
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<Vec<_>>()
            .join(":"),
        chain_len,
        origin,
    })
}

impl ServerCertificate {
    /// Where the served certificate comes from now.
    pub fn origin(&self) -> CertOrigin {
        match &self.appliance {
            None => CertOrigin::ConfigFiles,
            Some((dir, _)) => match installed_source(dir) {
                Some(s) if s == self.resolver.source() => CertOrigin::Installed,
                _ => CertOrigin::Appliance,
            },
        }
    }

    /// The certificate served now.
    pub fn describe(&self) -> Result<CertificateView, TlsError> {
        let chain = self.resolver.current_chain();
        let leaf = chain.first().ok_or_else(|| bad("certificate", "empty chain"))?;
        view_of(leaf.as_ref(), chain.len(), self.origin())
    }

    /// The appliance CA certificate (PEM) clients install as their trust root; `None` when the config
    /// file's certificate is used.
    pub fn ca_pem(&self) -> Option<Vec<u8>> {
        fs::read(self.ca_cert.as_ref()?).ok()
    }

    fn appliance_dir(&self) -> Result<&Path, TlsError> {
        self.appliance.as_ref().map(|(d, _)| d.as_path()).ok_or_else(|| {
            bad(
                "tls.cert",
                "the certificate is set in the config file (tls.cert, tls.key): replace those files and \
                 reload the service (SIGHUP)",
            )
        })
    }

    /// Installs an operator's certificate chain and key (PEM) and serves it from the next handshake.
    /// Refused, with nothing changed, when the key does not match, the leaf is expired or not yet valid,
    /// or the certificate comes from the config file.
    pub fn install(
        &self,
        cert_pem: &[u8],
        key_pem: &[u8],
        now: OffsetDateTime,
    ) -> Result<CertificateView, TlsError> {
        let dir = self.appliance_dir()?.to_owned();
        if cert_pem.len() > MAX_PEM_BYTES || key_pem.len() > MAX_PEM_BYTES {
            return Err(bad("upload", format!("larger than {MAX_PEM_BYTES} bytes")));
        }
        // Checked from staging files first; the installed pair is replaced only when it loads.
        let staged = CertSource {
            cert: dir.join("installed.pem.new"),
            key: dir.join("installed-key.pem.new"),
        };
        write_file(&staged.cert, cert_pem, PRIVATE_MODE)?;
        write_file(&staged.key, key_pem, PRIVATE_MODE)?;
        let checked = load_certified_key(&staged).and_then(|key| {
            let leaf = key
                .cert
                .first()
                .ok_or_else(|| bad("certificate", "empty chain"))?;
            let view = view_of(leaf.as_ref(), key.cert.len(), CertOrigin::Installed)?;
            if view.not_after <= now {
                return Err(bad("certificate", format!("expired on {}", view.not_after)));
            }
            if view.not_before > now {
                return Err(bad(
                    "certificate",
                    format!("not valid before {}", view.not_before),
                ));
            }
            Ok(view)
        });
        let view = match checked {
            Ok(v) => v,
            Err(e) => {
                let _ = fs::remove_file(&staged.cert);
                let _ = fs::remove_file(&staged.key);
                return Err(e);
            }
        };
        let installed = CertSource {
            cert: dir.join(INSTALLED_CERT),
            key: dir.join(INSTALLED_KEY),
        };
        fs::rename(&staged.key, &installed.key).map_err(|e| TlsError::Io {
            path: installed.key.clone(),
            source: e,
        })?;
        fs::rename(&staged.cert, &installed.cert).map_err(|e| TlsError::Io {
            path: installed.cert.clone(),
            source: e,
        })?;
        self.resolver.set_source(installed)?;
        tracing::info!(subject = %view.subject, not_after = %view.not_after, "installed server certificate");
        Ok(view)
    }

    /// Drops an installed certificate and serves a freshly issued appliance certificate (new key) for
    /// the configured names, from the next handshake.
    pub fn regenerate(&self) -> Result<CertificateView, TlsError> {
        let dir = self.appliance_dir()?.to_owned();
        let sans = self
            .appliance
            .as_ref()
            .map(|(_, s)| s.clone())
            .unwrap_or_default();
        for file in [INSTALLED_CERT, INSTALLED_KEY, "server.pem"] {
            match fs::remove_file(dir.join(file)) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => {
                    return Err(TlsError::Io {
                        path: dir.join(file),
                        source: e,
                    });
                }
            }
        }
        // A missing server certificate is re-issued by the CA.
        let certs = ApplianceCerts::ensure(&dir, &sans)?;
        self.resolver.set_source(CertSource {
            cert: certs.server_cert,
            key: certs.server_key,
        })?;
        tracing::info!("appliance server certificate re-issued");
        self.describe()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn install_regenerate_and_refusals() {
        let dir = tempfile::tempdir().unwrap();
        let tls = dir.path().join("tls");
        let served = ServerCertificate::prepare(None, &tls, &["gw.example".into()]).unwrap();
        let first = served.describe().unwrap();
        assert_eq!(first.origin, CertOrigin::Appliance);
        assert!(first.names.contains(&"gw.example".to_owned()), "{first:?}");
        assert!(
            served
                .ca_pem()
                .unwrap()
                .starts_with(b"-----BEGIN CERTIFICATE-----")
        );

        // An operator's pair (from another CA) is served at once and preferred at the next start.
        let other = ApplianceCerts::ensure(&dir.path().join("other"), &["mail.example".into()]).unwrap();
        let cert = fs::read(&other.server_cert).unwrap();
        let key = fs::read(&other.server_key).unwrap();
        let now = OffsetDateTime::now_utc();
        let view = served.install(&cert, &key, now).unwrap();
        assert_eq!(view.origin, CertOrigin::Installed);
        assert_eq!(served.describe().unwrap().sha256, view.sha256);
        assert_eq!(served.origin(), CertOrigin::Installed);
        let again = ServerCertificate::prepare(None, &tls, &["gw.example".into()]).unwrap();
        assert_eq!(
            again.describe().unwrap().sha256,
            view.sha256,
            "kept across a restart"
        );

        // Refused, nothing changes: a key of another pair, an expired certificate, garbage.
        let wrong_key = fs::read(&again.resolver.source().key).unwrap();
        let third = ApplianceCerts::ensure(&dir.path().join("third"), &[]).unwrap();
        let err = served
            .install(&fs::read(&third.server_cert).unwrap(), &wrong_key, now)
            .unwrap_err();
        assert!(err.to_string().contains("does not match"), "{err}");
        let err = served
            .install(&cert, &key, now + time::Duration::days(4000))
            .unwrap_err();
        assert!(err.to_string().contains("expired"), "{err}");
        assert!(served.install(b"junk", b"junk", now).is_err());
        assert_eq!(served.describe().unwrap().sha256, view.sha256);

        // Back to the appliance: a new certificate from the appliance CA.
        let fresh = served.regenerate().unwrap();
        assert_eq!(fresh.origin, CertOrigin::Appliance);
        assert_ne!(fresh.sha256, first.sha256, "a new certificate, not the old one");
        assert!(installed_source(&tls).is_none());

        // With the config file's certificate the panel cannot replace it.
        let op = ServerCertificate::prepare(
            Some((other.server_cert.clone(), other.server_key.clone())),
            &tls,
            &[],
        )
        .unwrap();
        assert_eq!(op.origin(), CertOrigin::ConfigFiles);
        let err = op.install(&cert, &key, now).unwrap_err();
        assert!(err.to_string().contains("config file"), "{err}");
        assert!(op.regenerate().is_err());
    }
}
