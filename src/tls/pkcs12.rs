//! PKCS#12 bundles of appliance-issued client certificates: the form browsers, Windows, Java and .NET
//! import. PBES2 (PBKDF2-HMAC-SHA256 + AES-256-CBC) with an HMAC-SHA256 MAC (RFC 7292, RFC 8018); the
//! legacy RC2/3DES schemes are not compiled in.
use p12_keystore::{Certificate, KeyStore, KeyStoreEntry, LocalKeyId, PrivateKey, PrivateKeyChain};

use super::TlsError;

/// Shortest password accepted for a bundle (it protects a private key in transit and at rest).
pub const MIN_PASSWORD_LEN: usize = 8;

fn bad(reason: impl Into<String>) -> TlsError {
    TlsError::BadPem {
        path: "pkcs12".into(),
        reason: reason.into(),
    }
}

fn first_cert(pem: &str) -> Result<Vec<u8>, TlsError> {
    let mut reader = pem.as_bytes();
    rustls_pemfile::certs(&mut reader)
        .next()
        .and_then(Result::ok)
        .map(|c| c.to_vec())
        .ok_or_else(|| bad("no certificate in PEM"))
}

/// Bundles the client certificate, its key (PKCS#8 PEM) and the issuing CA under `password`.
pub fn bundle(
    friendly_name: &str,
    cert_pem: &str,
    key_pem: &str,
    ca_pem: &str,
    password: &str,
) -> Result<Vec<u8>, TlsError> {
    if password.chars().count() < MIN_PASSWORD_LEN {
        return Err(bad(format!(
            "the PKCS#12 password needs at least {MIN_PASSWORD_LEN} characters"
        )));
    }
    let leaf = first_cert(cert_pem)?;
    let ca = first_cert(ca_pem)?;
    let mut reader = key_pem.as_bytes();
    let key = match rustls_pemfile::private_key(&mut reader) {
        Ok(Some(rustls::pki_types::PrivateKeyDer::Pkcs8(k))) => k.secret_pkcs8_der().to_vec(),
        _ => return Err(bad("the key is not a PKCS#8 PEM private key")),
    };
    let certs = [
        Certificate::from_der(&leaf).map_err(|e| bad(e.to_string()))?,
        Certificate::from_der(&ca).map_err(|e| bad(e.to_string()))?,
    ];
    let key = PrivateKey::from_der(&key).map_err(|e| bad(e.to_string()))?;
    // The local key id ties key and certificate together in importers; the leaf's fingerprint is unique.
    let key_id = LocalKeyId(crate::auth::stages::fingerprint(&leaf).into_bytes());
    let mut store = KeyStore::new();
    store.add_entry(
        friendly_name,
        KeyStoreEntry::PrivateKeyChain(PrivateKeyChain::new(key_id, key, certs)),
    );
    store.writer(password).write().map_err(|e| bad(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tls::ApplianceCa;

    #[test]
    fn bundle_round_trips_and_needs_a_password() {
        let now = time::OffsetDateTime::now_utc();
        let ca = ApplianceCa::generate(now).unwrap();
        let (cert, key) = ca.issue_client("alice", time::Duration::days(1), now).unwrap();
        assert!(bundle("alice", &cert, &key, ca.cert_pem(), "short").is_err());
        let p12 = bundle("alice", &cert, &key, ca.cert_pem(), "long enough pw").unwrap();
        let store =
            KeyStore::from_pkcs12(&p12, "long enough pw", p12_keystore::Pkcs12ImportPolicy::Relaxed).unwrap();
        let (_, chain) = store.private_key_chain().unwrap();
        assert_eq!(chain.certs()[0].as_der(), first_cert(&cert).unwrap());
        assert!(
            KeyStore::from_pkcs12(&p12, "wrong password!", p12_keystore::Pkcs12ImportPolicy::Relaxed)
                .is_err()
        );
    }
}
