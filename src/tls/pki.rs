//! The appliance's own PKI: a CA created on first start, and the server certificate it issues for the
//! configured hostnames and addresses. Files live in one directory (by default `<data-dir>/tls`):
//!
//! | file | content | mode |
//! |---|---|---|
//! | `ca.pem` | appliance CA certificate (give it to clients as their trust root) | 0644 |
//! | `ca-key.pem` | CA private key (PKCS#8) | 0600 |
//! | `server.pem` | server certificate issued by the CA | 0644 |
//! | `server-key.pem` | server private key (PKCS#8) | 0600 |
//!
//! The server certificate is re-issued when it is missing, unreadable, close to expiry, or does not cover
//! every wanted subject alternative name; the CA is never replaced automatically (clients pinned to it would
//! break). Later the same CA issues client certificates (issue 7), hence [`ApplianceCa::issuer`].
use std::collections::BTreeSet;
use std::fs;
use std::io::Write;
use std::net::IpAddr;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer,
    KeyPair, KeyUsagePurpose, SanType, SerialNumber,
};
use time::{Duration, OffsetDateTime};

use super::TlsError;

/// Lifetime of the appliance CA.
pub const CA_VALIDITY: Duration = Duration::days(3650);
/// Lifetime of an issued server certificate (the CA/Browser Forum maximum of 397 days, so browsers that
/// trust the appliance CA never reject it for its age).
pub const SERVER_VALIDITY: Duration = Duration::days(397);
/// Re-issue the server certificate when it has less than this left.
pub const SERVER_RENEW_BEFORE: Duration = Duration::days(30);
/// Backdating of `notBefore`, so clients with a slightly slow clock accept a fresh certificate.
const CLOCK_SKEW: Duration = Duration::hours(1);
/// Serial numbers: 16 random octets, top bit cleared so the DER INTEGER stays positive (RFC 5280 §4.1.2.2
/// allows up to 20 octets).
const SERIAL_OCTETS: usize = 16;
/// Names every appliance certificate covers, so the appliance is reachable locally out of the box.
pub const DEFAULT_SANS: [&str; 3] = ["localhost", "127.0.0.1", "::1"];

const CA_CERT_FILE: &str = "ca.pem";
const CA_KEY_FILE: &str = "ca-key.pem";
const SERVER_CERT_FILE: &str = "server.pem";
const SERVER_KEY_FILE: &str = "server-key.pem";
const PRIVATE_MODE: u32 = 0o600;
const PUBLIC_MODE: u32 = 0o644;

/// The appliance CA: its certificate and signing key.
pub struct ApplianceCa {
    cert_pem: String,
    key: KeyPair,
}

impl std::fmt::Debug for ApplianceCa {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the key.
        f.debug_struct("ApplianceCa").finish_non_exhaustive()
    }
}

/// Paths of the appliance certificate files after [`ApplianceCerts::ensure`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApplianceCerts {
    pub ca_cert: PathBuf,
    pub server_cert: PathBuf,
    pub server_key: PathBuf,
    /// True when this call created the CA (first start).
    pub created_ca: bool,
    /// True when this call (re-)issued the server certificate.
    pub issued_server: bool,
}

impl ApplianceCa {
    /// Loads the CA from `dir`, or creates it (and `dir`) when absent.
    pub fn load_or_create(dir: &Path) -> Result<(Self, bool), TlsError> {
        let cert_path = dir.join(CA_CERT_FILE);
        let key_path = dir.join(CA_KEY_FILE);
        if cert_path.exists() && key_path.exists() {
            let cert_pem = fs::read_to_string(&cert_path).map_err(|e| TlsError::io(&cert_path, e))?;
            let key_pem = fs::read_to_string(&key_path).map_err(|e| TlsError::io(&key_path, e))?;
            let key = KeyPair::from_pem(&key_pem).map_err(|e| TlsError::BadPem {
                path: key_path.clone(),
                reason: e.to_string(),
            })?;
            // Parse once now so a corrupt file is reported at start, not at first issue.
            Issuer::from_ca_cert_pem(&cert_pem, &key).map_err(|e| TlsError::BadPem {
                path: cert_path.clone(),
                reason: e.to_string(),
            })?;
            return Ok((ApplianceCa { cert_pem, key }, false));
        }
        fs::create_dir_all(dir).map_err(|e| TlsError::io(dir, e))?;
        let ca = Self::generate(OffsetDateTime::now_utc())?;
        write_file(&key_path, ca.key.serialize_pem().as_bytes(), PRIVATE_MODE)?;
        write_file(&cert_path, ca.cert_pem.as_bytes(), PUBLIC_MODE)?;
        Ok((ca, true))
    }

    /// Creates a fresh CA in memory.
    pub fn generate(now: OffsetDateTime) -> Result<Self, TlsError> {
        let key = KeyPair::generate()?;
        let mut params = CertificateParams::default();
        let mut dn = DistinguishedName::new();
        // A random suffix keeps the CAs of different appliances apart in a client's trust store.
        let suffix: [u8; 4] = rand::random();
        dn.push(
            DnType::CommonName,
            format!("smsgate appliance CA {}", hex::encode(suffix)),
        );
        dn.push(DnType::OrganizationName, "smsgate");
        params.distinguished_name = dn;
        // Path length 0: the CA issues end-entity certificates (server, clients) only.
        params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        params.not_before = now - CLOCK_SKEW;
        params.not_after = now + CA_VALIDITY;
        params.serial_number = Some(random_serial());
        let cert = params.self_signed(&key)?;
        Ok(ApplianceCa {
            cert_pem: cert.pem(),
            key,
        })
    }

    /// The CA certificate in PEM.
    pub fn cert_pem(&self) -> &str {
        &self.cert_pem
    }

    /// An rcgen issuer for signing certificates with this CA.
    pub fn issuer(&self) -> Result<Issuer<'static, &KeyPair>, TlsError> {
        Ok(Issuer::from_ca_cert_pem(&self.cert_pem, &self.key)?)
    }

    /// Issues a server certificate for `sans` (DNS names and IP addresses); returns (cert PEM, key PEM).
    pub fn issue_server(&self, sans: &[String], now: OffsetDateTime) -> Result<(String, String), TlsError> {
        let mut params = CertificateParams::default();
        params.subject_alt_names = sans.iter().map(|s| parse_san(s)).collect::<Result<_, _>>()?;
        let mut dn = DistinguishedName::new();
        dn.push(
            DnType::CommonName,
            sans.first().map(String::as_str).unwrap_or("smsgate"),
        );
        dn.push(DnType::OrganizationName, "smsgate");
        params.distinguished_name = dn;
        params.is_ca = IsCa::ExplicitNoCa;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        params.use_authority_key_identifier_extension = true;
        params.not_before = now - CLOCK_SKEW;
        params.not_after = now + SERVER_VALIDITY;
        params.serial_number = Some(random_serial());
        let key = KeyPair::generate()?;
        let cert = params.signed_by(&key, &self.issuer()?)?;
        Ok((cert.pem(), key.serialize_pem()))
    }
}

impl ApplianceCa {
    /// Issues a client certificate (EKU clientAuth) with `common_name` as subject CN, valid for `validity`;
    /// returns (cert PEM, key PEM). Binding it to an account is the caller's business (issue 7).
    pub fn issue_client(
        &self,
        common_name: &str,
        validity: Duration,
        now: OffsetDateTime,
    ) -> Result<(String, String), TlsError> {
        let mut params = CertificateParams::default();
        let mut dn = DistinguishedName::new();
        dn.push(DnType::CommonName, common_name);
        dn.push(DnType::OrganizationName, "smsgate client");
        params.distinguished_name = dn;
        params.is_ca = IsCa::ExplicitNoCa;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        params.use_authority_key_identifier_extension = true;
        params.not_before = now - CLOCK_SKEW;
        params.not_after = now + validity;
        params.serial_number = Some(random_serial());
        let key = KeyPair::generate()?;
        let cert = params.signed_by(&key, &self.issuer()?)?;
        Ok((cert.pem(), key.serialize_pem()))
    }
}

impl ApplianceCerts {
    /// Makes sure `dir` holds a CA and a valid server certificate covering `wanted_sans` plus
    /// [`DEFAULT_SANS`]; creates or re-issues what is missing.
    pub fn ensure(dir: &Path, wanted_sans: &[String]) -> Result<Self, TlsError> {
        Self::ensure_at(dir, wanted_sans, OffsetDateTime::now_utc())
    }

    /// [`ApplianceCerts::ensure`] with an explicit clock (tests).
    pub fn ensure_at(dir: &Path, wanted_sans: &[String], now: OffsetDateTime) -> Result<Self, TlsError> {
        let sans = all_sans(wanted_sans)?;
        let (ca, created_ca) = ApplianceCa::load_or_create(dir)?;
        let cert_path = dir.join(SERVER_CERT_FILE);
        let key_path = dir.join(SERVER_KEY_FILE);
        let current_ok = !created_ca
            && key_path.exists()
            && fs::read_to_string(&cert_path)
                .ok()
                .is_some_and(|pem| server_cert_still_good(&pem, &sans, now));
        if !current_ok {
            let (cert_pem, key_pem) = ca.issue_server(&sans, now)?;
            write_file(&key_path, key_pem.as_bytes(), PRIVATE_MODE)?;
            write_file(&cert_path, cert_pem.as_bytes(), PUBLIC_MODE)?;
            tracing::info!(sans = ?sans, path = %cert_path.display(), "issued appliance server certificate");
        }
        Ok(ApplianceCerts {
            ca_cert: dir.join(CA_CERT_FILE),
            server_cert: cert_path,
            server_key: key_path,
            created_ca,
            issued_server: !current_ok,
        })
    }
}

/// `wanted` plus the defaults, deduplicated, order kept (the first becomes the certificate's CN).
pub fn all_sans(wanted: &[String]) -> Result<Vec<String>, TlsError> {
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    for name in wanted
        .iter()
        .map(|s| s.trim().to_ascii_lowercase())
        .chain(DEFAULT_SANS.map(String::from))
    {
        if name.is_empty() {
            continue;
        }
        let key = canonical_san(&name)?;
        if seen.insert(key) {
            out.push(name);
        }
    }
    Ok(out)
}

fn parse_san(name: &str) -> Result<SanType, TlsError> {
    match name.parse::<IpAddr>() {
        Ok(ip) => Ok(SanType::IpAddress(ip)),
        Err(_) => {
            let dns = name
                .to_string()
                .try_into()
                .map_err(|e: rcgen::Error| TlsError::BadSan {
                    name: name.into(),
                    reason: e.to_string(),
                })?;
            if !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '*'))
            {
                return Err(TlsError::BadSan {
                    name: name.into(),
                    reason: "a host name has letters, digits, '-', '.' (and a leading '*.') only".into(),
                });
            }
            Ok(SanType::DnsName(dns))
        }
    }
}

/// A comparable form of one SAN: IPs in canonical text, names lower-cased.
fn canonical_san(name: &str) -> Result<String, TlsError> {
    parse_san(name)?;
    Ok(match name.parse::<IpAddr>() {
        Ok(ip) => ip.to_string(),
        Err(_) => name.to_ascii_lowercase(),
    })
}

/// True when the PEM certificate parses, is valid for at least [`SERVER_RENEW_BEFORE`] and covers `sans`.
fn server_cert_still_good(pem: &str, sans: &[String], now: OffsetDateTime) -> bool {
    let Ok((_, parsed)) = x509_parser::pem::parse_x509_pem(pem.as_bytes()) else {
        return false;
    };
    let Ok(cert) = parsed.parse_x509() else {
        return false;
    };
    let not_after = cert.validity().not_after.to_datetime();
    if not_after - now < SERVER_RENEW_BEFORE {
        return false;
    }
    let mut have = BTreeSet::new();
    if let Ok(Some(ext)) = cert.subject_alternative_name() {
        for name in &ext.value.general_names {
            match name {
                x509_parser::extensions::GeneralName::DNSName(d) => {
                    have.insert(d.to_ascii_lowercase());
                }
                x509_parser::extensions::GeneralName::IPAddress(bytes) => {
                    let ip = match bytes.len() {
                        4 => <[u8; 4]>::try_from(*bytes).ok().map(IpAddr::from),
                        16 => <[u8; 16]>::try_from(*bytes).ok().map(IpAddr::from),
                        _ => None,
                    };
                    if let Some(ip) = ip {
                        have.insert(ip.to_string());
                    }
                }
                _ => {}
            }
        }
    }
    sans.iter()
        .all(|s| canonical_san(s).is_ok_and(|c| have.contains(&c)))
}

fn random_serial() -> SerialNumber {
    let mut bytes: [u8; SERIAL_OCTETS] = rand::random();
    bytes[0] &= 0x7f;
    // A leading zero octet would be dropped by DER; keep the length stable.
    bytes[0] |= 0x01;
    SerialNumber::from_slice(&bytes)
}

/// Writes `content` to `path` atomically (temp file + rename) with `mode`.
pub(crate) fn write_file(path: &Path, content: &[u8], mode: u32) -> Result<(), TlsError> {
    let tmp = path.with_extension("tmp");
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(mode)
        .open(&tmp)
        .map_err(|e| TlsError::io(&tmp, e))?;
    file.write_all(content).map_err(|e| TlsError::io(&tmp, e))?;
    file.sync_all().map_err(|e| TlsError::io(&tmp, e))?;
    fs::rename(&tmp, path).map_err(|e| TlsError::io(path, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn all_sans_adds_defaults_and_dedups() {
        let check = |input: &[&str], expect: &[&str]| assert_eq!(all_sans(&s(input)).unwrap(), s(expect));
        check(&[], &["localhost", "127.0.0.1", "::1"]);
        check(
            &["gw.example.com"],
            &["gw.example.com", "localhost", "127.0.0.1", "::1"],
        );
        check(
            &["LOCALHOST", "0:0::1", "10.0.0.1"],
            &["localhost", "0:0::1", "10.0.0.1", "127.0.0.1"],
        );
        check(
            &["*.example.com", " "],
            &["*.example.com", "localhost", "127.0.0.1", "::1"],
        );
    }

    #[test]
    fn bad_san_is_refused() {
        for bad in ["exa mple.com", "a/b", "host_name"] {
            assert!(
                matches!(all_sans(&s(&[bad])), Err(TlsError::BadSan { .. })),
                "{bad}"
            );
        }
    }

    #[test]
    fn ensure_creates_then_keeps_then_reissues() {
        let dir = tempfile::tempdir().unwrap();
        let now = OffsetDateTime::now_utc();
        let first = ApplianceCerts::ensure_at(dir.path(), &s(&["gw.example"]), now).unwrap();
        assert!(first.created_ca && first.issued_server);
        let mode = fs::metadata(&first.server_key).unwrap();
        assert_eq!(
            std::os::unix::fs::PermissionsExt::mode(&mode.permissions()) & 0o777,
            0o600
        );
        let ca_before = fs::read(&first.ca_cert).unwrap();

        let again = ApplianceCerts::ensure_at(dir.path(), &s(&["gw.example"]), now).unwrap();
        assert!(!again.created_ca && !again.issued_server);

        let more = ApplianceCerts::ensure_at(dir.path(), &s(&["gw.example", "10.1.2.3"]), now).unwrap();
        assert!(!more.created_ca && more.issued_server, "new SAN forces re-issue");

        let later = now + SERVER_VALIDITY - Duration::days(10);
        let renewed = ApplianceCerts::ensure_at(dir.path(), &s(&["gw.example", "10.1.2.3"]), later).unwrap();
        assert!(renewed.issued_server, "near expiry forces re-issue");
        assert_eq!(
            fs::read(&renewed.ca_cert).unwrap(),
            ca_before,
            "CA is never replaced"
        );

        let pem = fs::read_to_string(&renewed.server_cert).unwrap();
        assert!(server_cert_still_good(
            &pem,
            &all_sans(&s(&["10.1.2.3"])).unwrap(),
            now
        ));
    }

    #[test]
    fn server_cert_chains_to_ca() {
        let ca = ApplianceCa::generate(OffsetDateTime::now_utc()).unwrap();
        let (cert_pem, _key) = ca
            .issue_server(&s(&["localhost"]), OffsetDateTime::now_utc())
            .unwrap();
        let (_, ca_pem) = x509_parser::pem::parse_x509_pem(ca.cert_pem().as_bytes()).unwrap();
        let ca_cert = ca_pem.parse_x509().unwrap();
        let (_, srv_pem) = x509_parser::pem::parse_x509_pem(cert_pem.as_bytes()).unwrap();
        let srv = srv_pem.parse_x509().unwrap();
        assert_eq!(srv.issuer(), ca_cert.subject());
        assert!(ca_cert.is_ca());
        assert!(!srv.is_ca());
    }
}
