//! The outbound HTTPS client (webhooks, Kannel DLR callbacks): reqwest over rustls with the aws-lc-rs
//! provider, TLS 1.2+, trusting the system CA bundle plus explicitly configured roots. Redirects are not
//! followed: a receiver's URL is what the account configured, nothing else.
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use rustls::RootCertStore;
use rustls::pki_types::CertificateDer;

use crate::tls::{TlsError, provider};

/// Debian's (and most distributions') bundle of trusted CAs.
pub const SYSTEM_CA_BUNDLE: &str = "/etc/ssl/certs/ca-certificates.crt";

/// Errors building the client.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error(transparent)]
    Tls(#[from] TlsError),
    #[error("TLS client configuration rejected: {0}")]
    Rustls(#[from] rustls::Error),
    #[error("HTTP client: {0}")]
    Reqwest(#[from] reqwest::Error),
}

/// Builds the client. `extra_roots` are trusted in addition to the system bundle (e.g. a receiver's
/// private CA); `timeout` bounds a whole request.
pub fn outbound_client(
    extra_roots: &[CertificateDer<'static>],
    timeout: Duration,
) -> Result<reqwest::Client, ClientError> {
    let mut roots = RootCertStore::empty();
    let system = Path::new(SYSTEM_CA_BUNDLE);
    if system.exists() {
        // Individual unusable certificates in the bundle are skipped, not fatal.
        let (_added, _ignored) = roots.add_parsable_certificates(crate::tls::config::read_certs(system)?);
    }
    for root in extra_roots {
        roots.add(root.clone())?;
    }
    let config = rustls::ClientConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])?
        .with_root_certificates(Arc::new(roots))
        .with_no_client_auth();
    Ok(reqwest::Client::builder()
        .use_preconfigured_tls(config)
        .redirect(reqwest::redirect::Policy::none())
        .timeout(timeout)
        .user_agent(concat!("smsgate/", env!("CARGO_PKG_VERSION")))
        .build()?)
}
