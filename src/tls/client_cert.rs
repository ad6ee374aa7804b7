//! Asking for (not requiring) a client certificate.
//!
//! Which certificates are acceptable depends on the account a request is for (issue 7: certificates issued by
//! the appliance CA, uploaded and pinned certificates, customer CAs), and the account is only known after
//! HTTP authentication. So the TLS layer accepts any well-formed chain whose owner proves possession of the
//! key (the handshake signature *is* verified here), and the chain travels with each request in
//! [`super::ConnectionInfo::client_chain`]; the per-account binding, expiry and revocation checks happen
//! there. A request for an account without "certificate required" ignores the chain.
use std::sync::Arc;

use rustls::client::danger::HandshakeSignatureValid;
use rustls::crypto::{
    CryptoProvider, WebPkiSupportedAlgorithms, verify_tls12_signature, verify_tls13_signature,
};
use rustls::pki_types::{CertificateDer, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{DigitallySignedStruct, DistinguishedName, SignatureScheme};

/// Client-certificate verifier that offers client authentication, makes it optional and defers trust
/// decisions to the per-account checks.
#[derive(Debug)]
pub struct RequestClientCert {
    algorithms: WebPkiSupportedAlgorithms,
}

impl RequestClientCert {
    /// Uses the signature algorithms of `provider` to check the client's handshake signature.
    pub fn new(provider: &Arc<CryptoProvider>) -> Self {
        RequestClientCert {
            algorithms: provider.signature_verification_algorithms,
        }
    }
}

impl ClientCertVerifier for RequestClientCert {
    fn offer_client_auth(&self) -> bool {
        true
    }

    fn client_auth_mandatory(&self) -> bool {
        false
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        // No hints: a client may hold a certificate from the appliance CA or from its own CA.
        &[]
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        // Only well-formedness here; binding to an account (chain, pin, expiry, revocation) is checked per
        // request, where the account is known.
        x509_parser::parse_x509_certificate(end_entity.as_ref())
            .map(|_| ClientCertVerified::assertion())
            .map_err(|_| rustls::Error::InvalidCertificate(rustls::CertificateError::BadEncoding))
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}
