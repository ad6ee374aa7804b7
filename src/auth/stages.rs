//! Stages 2 and 3 of authentication (issue 7): the client certificate and the IP pool of an account,
//! checked after stage 1 (password or token) has named the account, on every surface and every request
//! (so a revocation or a pool change applies at once, also to connections that are already open).
//!
//! Pure: the caller supplies the account's [`StagePolicy`] (from the store), the client's address and the
//! certificate chain the TLS handshake proved possession of, and the current time. The outcome names the
//! stage that failed ([`StageError::stage`]) for the audit log; surfaces answer every failure with the same
//! generic refusal they use for a wrong password.
use std::net::IpAddr;
use std::sync::Arc;

use ipnet::IpNet;
use rustls::RootCertStore;
use rustls::pki_types::{CertificateDer, UnixTime};
use rustls::server::WebPkiClientVerifier;
use sha2::{Digest, Sha256};

/// The three stages, in the order they are checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// Login + password or API token.
    Password,
    /// The account's IP pool.
    IpPool,
    /// A client certificate bound to the account.
    Certificate,
}

impl Stage {
    /// Name used in the audit log (`stage=…`).
    pub fn as_str(self) -> &'static str {
        match self {
            Stage::Password => "password",
            Stage::IpPool => "ip-pool",
            Stage::Certificate => "certificate",
        }
    }
}

/// How a certificate is bound to the account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Binding {
    /// This exact certificate (appliance-issued or uploaded), by SHA-256 fingerprint of its DER.
    Exact { fingerprint: String },
    /// Any end-entity certificate that chains to this CA (DER) and is valid now.
    Ca { der: Vec<u8> },
}

/// One certificate binding of an account; a revoked binding refuses its certificate (for a CA binding:
/// every certificate under it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BoundCert {
    pub binding: Binding,
    pub revoked: bool,
}

/// What stages 2 and 3 require of an account.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StagePolicy {
    /// Every request must come on a connection whose verified client certificate is bound to the account.
    pub cert_required: bool,
    /// Allowed client addresses; empty means any.
    pub ip_pool: Vec<IpNet>,
    pub certs: Vec<BoundCert>,
    /// Fingerprints the appliance has revoked for this account (refused even under a CA binding).
    pub revoked_fingerprints: Vec<String>,
}

/// Why stage 2 or 3 refused a request. Only for logs and the audit trail: callers must not show it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StageError {
    #[error("address {0} is outside the account's IP pool")]
    AddressNotInPool(IpAddr),
    #[error("no client certificate presented")]
    CertificateMissing,
    #[error("client certificate cannot be parsed")]
    CertificateInvalid,
    #[error("client certificate is expired or not yet valid")]
    CertificateExpired,
    #[error("client certificate is revoked")]
    CertificateRevoked,
    #[error("client certificate is not bound to this account")]
    CertificateNotBound,
}

impl StageError {
    /// The stage that failed.
    pub fn stage(&self) -> Stage {
        match self {
            StageError::AddressNotInPool(_) => Stage::IpPool,
            _ => Stage::Certificate,
        }
    }

    /// Short reason for the audit log.
    pub fn reason(&self) -> &'static str {
        match self {
            StageError::AddressNotInPool(_) => "address not in pool",
            StageError::CertificateMissing => "no certificate",
            StageError::CertificateInvalid => "unparsable certificate",
            StageError::CertificateExpired => "certificate expired or not yet valid",
            StageError::CertificateRevoked => "certificate revoked",
            StageError::CertificateNotBound => "certificate not bound to account",
        }
    }
}

/// Lowercase hex SHA-256 of a certificate's DER: the fingerprint certificates are pinned by.
pub fn fingerprint(der: &[u8]) -> String {
    hex::encode(Sha256::digest(der))
}

/// Parses an IP pool entry: a CIDR (`10.0.0.0/8`, `2001:db8::/32`) or a single address (`/32`, `/128`).
pub fn parse_pool_entry(entry: &str) -> Result<IpNet, String> {
    let entry = entry.trim();
    if let Ok(net) = entry.parse::<IpNet>() {
        return Ok(net.trunc());
    }
    entry
        .parse::<IpAddr>()
        .map(IpNet::from)
        .map_err(|_| format!("{entry:?} is neither an IP address nor a CIDR range"))
}

/// The address a request comes from. Only when the socket peer is a trusted reverse proxy is
/// `X-Forwarded-For` believed: walking it from the right, the first address that is not itself a trusted
/// proxy is the client (entries left of it could be forged by the client).
pub fn client_address(peer: IpAddr, forwarded_for: Option<&str>, trusted_proxies: &[IpNet]) -> IpAddr {
    let trusted = |ip: &IpAddr| trusted_proxies.iter().any(|n| n.contains(ip));
    if !trusted(&peer) {
        return peer;
    }
    let Some(header) = forwarded_for else {
        return peer;
    };
    let mut client = peer;
    for hop in header.rsplit(',') {
        match hop.trim().parse::<IpAddr>() {
            Ok(ip) => {
                client = ip;
                if !trusted(&ip) {
                    break;
                }
            }
            // An unreadable hop ends the trustworthy part of the list.
            Err(_) => break,
        }
    }
    client
}

/// Checks stages 3 (IP pool) and 2 (client certificate) of one request. `chain` is the verified-possession
/// chain from the TLS handshake (leaf first).
pub fn enforce(
    policy: &StagePolicy,
    client: IpAddr,
    chain: Option<&[CertificateDer<'static>]>,
    now: UnixTime,
) -> Result<(), StageError> {
    let client = canonical(client);
    if !policy.ip_pool.is_empty() && !policy.ip_pool.iter().any(|net| net.contains(&client)) {
        return Err(StageError::AddressNotInPool(client));
    }
    if !policy.cert_required {
        return Ok(());
    }
    let Some((leaf, intermediates)) = chain.and_then(|c| c.split_first()) else {
        return Err(StageError::CertificateMissing);
    };
    let leaf_fp = fingerprint(leaf.as_ref());
    if policy.revoked_fingerprints.contains(&leaf_fp) {
        return Err(StageError::CertificateRevoked);
    }
    let mut outcome = Err(StageError::CertificateNotBound);
    for bound in &policy.certs {
        let result = match &bound.binding {
            Binding::Exact { fingerprint } if *fingerprint == leaf_fp => check_validity(leaf, now),
            Binding::Exact { .. } => continue,
            Binding::Ca { der } => match chains_to(der, leaf, intermediates, now) {
                Some(result) => result,
                None => continue,
            },
        };
        let result = result.and(if bound.revoked {
            Err(StageError::CertificateRevoked)
        } else {
            Ok(())
        });
        match result {
            Ok(()) => return Ok(()),
            // Remember the most telling refusal; another binding may still accept the certificate.
            Err(e) => outcome = Err(e),
        }
    }
    outcome
}

/// IPv4-mapped IPv6 addresses (`::ffff:127.0.0.2`, seen on dual-stack sockets) count as IPv4.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

fn check_validity(leaf: &CertificateDer<'_>, now: UnixTime) -> Result<(), StageError> {
    let (_, cert) =
        x509_parser::parse_x509_certificate(leaf.as_ref()).map_err(|_| StageError::CertificateInvalid)?;
    let now = i64::try_from(now.as_secs()).unwrap_or(i64::MAX);
    let validity = cert.validity();
    if now < validity.not_before.timestamp() || now > validity.not_after.timestamp() {
        return Err(StageError::CertificateExpired);
    }
    Ok(())
}

/// `None` when `leaf` was not issued under the CA at all; otherwise whether the chain is valid now
/// (signature, validity, client-auth usage), checked by webpki.
fn chains_to(
    ca_der: &[u8],
    leaf: &CertificateDer<'_>,
    intermediates: &[CertificateDer<'static>],
    now: UnixTime,
) -> Option<Result<(), StageError>> {
    let mut roots = RootCertStore::empty();
    roots.add(CertificateDer::from(ca_der.to_vec())).ok()?;
    let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), crate::tls::provider())
        .build()
        .ok()?;
    match verifier.verify_client_cert(leaf, intermediates, now) {
        Ok(_) => Some(Ok(())),
        Err(rustls::Error::InvalidCertificate(
            rustls::CertificateError::Expired
            | rustls::CertificateError::ExpiredContext { .. }
            | rustls::CertificateError::NotValidYet
            | rustls::CertificateError::NotValidYetContext { .. },
        )) => Some(Err(StageError::CertificateExpired)),
        Err(rustls::Error::InvalidCertificate(rustls::CertificateError::Revoked)) => {
            Some(Err(StageError::CertificateRevoked))
        }
        Err(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tls::ApplianceCa;
    use std::time::Duration as StdDuration;
    use time::{Duration, OffsetDateTime};

    fn der_of(pem: &str) -> CertificateDer<'static> {
        let mut reader = pem.as_bytes();
        rustls_pemfile::certs(&mut reader).next().unwrap().unwrap()
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn now() -> UnixTime {
        UnixTime::since_unix_epoch(StdDuration::from_secs(
            OffsetDateTime::now_utc().unix_timestamp() as u64
        ))
    }

    #[test]
    fn client_address_table() {
        let proxies = vec![parse_pool_entry("10.0.0.0/8").unwrap()];
        let check = |peer: &str, xff: Option<&str>, trusted: &[IpNet], expect: &str| {
            assert_eq!(
                client_address(ip(peer), xff, trusted),
                ip(expect),
                "{peer} {xff:?}"
            );
        };
        // No trusted proxy configured: the header is ignored.
        check("192.0.2.1", Some("198.51.100.7"), &[], "192.0.2.1");
        // From an untrusted peer the header is ignored.
        check("192.0.2.1", Some("198.51.100.7"), &proxies, "192.0.2.1");
        // Behind a trusted proxy, the rightmost untrusted hop is the client.
        check("10.0.0.1", Some("198.51.100.7"), &proxies, "198.51.100.7");
        check(
            "10.0.0.1",
            Some("6.6.6.6, 198.51.100.7, 10.0.0.2"),
            &proxies,
            "198.51.100.7",
        );
        check("10.0.0.1", None, &proxies, "10.0.0.1");
        check("10.0.0.1", Some("garbage"), &proxies, "10.0.0.1");
    }

    #[test]
    fn pool_entry_table() {
        let check = |s: &str, expect: Option<&str>| {
            assert_eq!(
                parse_pool_entry(s).ok().map(|n| n.to_string()),
                expect.map(str::to_owned),
                "{s}"
            );
        };
        check("127.0.0.2", Some("127.0.0.2/32"));
        check("10.1.2.3/8", Some("10.0.0.0/8"));
        check("::1", Some("::1/128"));
        check("2001:db8::/32", Some("2001:db8::/32"));
        check("10.0.0.0/33", None);
        check("host.example", None);
    }

    #[test]
    fn ip_pool_stage() {
        let policy = StagePolicy {
            ip_pool: vec![
                parse_pool_entry("127.0.0.2").unwrap(),
                parse_pool_entry("2001:db8::/32").unwrap(),
            ],
            ..StagePolicy::default()
        };
        let check = |addr: &str, ok: bool| {
            assert_eq!(enforce(&policy, ip(addr), None, now()).is_ok(), ok, "{addr}");
        };
        check("127.0.0.2", true);
        check("::ffff:127.0.0.2", true);
        check("2001:db8::5", true);
        check("127.0.0.1", false);
        check("::1", false);
        assert_eq!(
            enforce(&policy, ip("127.0.0.1"), None, now())
                .unwrap_err()
                .stage(),
            Stage::IpPool
        );
    }

    #[test]
    fn certificate_stage_table() {
        let t0 = OffsetDateTime::now_utc();
        let ca = ApplianceCa::generate(t0).unwrap();
        let other_ca = ApplianceCa::generate(t0).unwrap();
        let issue = |ca: &ApplianceCa, cn: &str, from: OffsetDateTime| {
            der_of(&ca.issue_client(cn, Duration::days(1), from).unwrap().0)
        };
        let good = issue(&ca, "alice", t0);
        let expired = issue(&ca, "alice", t0 - Duration::days(3));
        let revoked = issue(&ca, "alice", t0);
        let someone_else = issue(&ca, "bob", t0);
        let foreign = issue(&other_ca, "alice", t0);
        let customer_leaf = issue(&other_ca, "alice-device", t0);
        let customer_expired = issue(&other_ca, "old-device", t0 - Duration::days(3));
        let customer_revoked = issue(&other_ca, "lost-device", t0);
        let exact = |c: &CertificateDer<'_>, revoked| BoundCert {
            binding: Binding::Exact {
                fingerprint: fingerprint(c.as_ref()),
            },
            revoked,
        };
        let issued_policy = StagePolicy {
            cert_required: true,
            certs: vec![exact(&good, false), exact(&expired, false), exact(&revoked, true)],
            ..StagePolicy::default()
        };
        let ca_policy = StagePolicy {
            cert_required: true,
            certs: vec![BoundCert {
                binding: Binding::Ca {
                    der: der_of(other_ca.cert_pem()).to_vec(),
                },
                revoked: false,
            }],
            revoked_fingerprints: vec![fingerprint(customer_revoked.as_ref())],
            ..StagePolicy::default()
        };
        let check =
            |policy: &StagePolicy, cert: Option<&CertificateDer<'static>>, expect: Result<(), StageError>| {
                let chain = cert.map(|c| vec![c.clone()]);
                assert_eq!(
                    enforce(policy, ip("127.0.0.1"), chain.as_deref(), now()),
                    expect,
                    "{cert:?}"
                );
            };
        check(&issued_policy, Some(&good), Ok(()));
        check(&issued_policy, None, Err(StageError::CertificateMissing));
        check(
            &issued_policy,
            Some(&expired),
            Err(StageError::CertificateExpired),
        );
        check(
            &issued_policy,
            Some(&revoked),
            Err(StageError::CertificateRevoked),
        );
        check(
            &issued_policy,
            Some(&someone_else),
            Err(StageError::CertificateNotBound),
        );
        check(
            &issued_policy,
            Some(&foreign),
            Err(StageError::CertificateNotBound),
        );
        check(&ca_policy, Some(&customer_leaf), Ok(()));
        check(
            &ca_policy,
            Some(&customer_expired),
            Err(StageError::CertificateExpired),
        );
        check(
            &ca_policy,
            Some(&customer_revoked),
            Err(StageError::CertificateRevoked),
        );
        check(&ca_policy, Some(&good), Err(StageError::CertificateNotBound));
        check(&ca_policy, None, Err(StageError::CertificateMissing));
        // Not required: any or no certificate passes.
        check(&StagePolicy::default(), None, Ok(()));
        check(&StagePolicy::default(), Some(&foreign), Ok(()));
    }
}
