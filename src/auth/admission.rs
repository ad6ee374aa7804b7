//! Dropping connections before the TLS handshake from addresses that no account could use (issue 7):
//! when every enabled account has an IP pool, an address outside all pools (and not a trusted proxy) can
//! never pass stage 3, so it gets no TLS work at all. Per-request enforcement stays the authority; this is
//! an early, cheaper refusal. The allowed set is refreshed from the store (see `smsgate serve`).
use std::net::IpAddr;
use std::sync::RwLock;

use ipnet::IpNet;

use crate::tls::Admission;

/// Admission by the union of all accounts' IP pools.
#[derive(Debug, Default)]
pub struct PoolAdmission {
    /// `None`: admit everyone (some account has no pool).
    allowed: RwLock<Option<Vec<IpNet>>>,
}

impl PoolAdmission {
    /// Starts admitting everyone until the first [`PoolAdmission::update`].
    pub fn new() -> Self {
        PoolAdmission::default()
    }

    /// Recomputes the allowed set from each account's pool (an empty pool admits any address) plus the
    /// trusted proxies (whose clients are only known after the handshake).
    pub fn update(&self, pools: &[Vec<IpNet>], trusted_proxies: &[IpNet]) {
        let allowed = if pools.is_empty() || pools.iter().any(Vec::is_empty) {
            None
        } else {
            let mut nets: Vec<IpNet> = pools.iter().flatten().copied().collect();
            nets.extend_from_slice(trusted_proxies);
            Some(IpNet::aggregate(&nets))
        };
        if let Ok(mut guard) = self.allowed.write() {
            *guard = allowed;
        }
    }
}

impl Admission for PoolAdmission {
    fn admit(&self, peer: IpAddr) -> bool {
        let peer = match peer {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(peer, IpAddr::V4),
            v4 => v4,
        };
        match self.allowed.read() {
            Ok(guard) => guard
                .as_ref()
                .is_none_or(|nets| nets.iter().any(|n| n.contains(&peer))),
            // A poisoned lock must not lock everyone out; requests are still checked one by one.
            Err(_) => true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nets(list: &[&str]) -> Vec<IpNet> {
        list.iter().map(|s| s.parse().unwrap()).collect()
    }

    #[test]
    fn admission_table() {
        let a = PoolAdmission::new();
        let check =
            |a: &PoolAdmission, ip: &str, ok: bool| assert_eq!(a.admit(ip.parse().unwrap()), ok, "{ip}");
        check(&a, "192.0.2.1", true);
        a.update(
            &[nets(&["127.0.0.2/32"]), nets(&["2001:db8::/32"])],
            &nets(&["10.0.0.1/32"]),
        );
        check(&a, "127.0.0.2", true);
        check(&a, "::ffff:127.0.0.2", true);
        check(&a, "2001:db8::1", true);
        check(&a, "10.0.0.1", true);
        check(&a, "127.0.0.1", false);
        check(&a, "::1", false);
        // One account without a pool: everyone may try.
        a.update(&[nets(&["127.0.0.2/32"]), vec![]], &[]);
        check(&a, "127.0.0.1", true);
    }
}
