//! `wg-quick` configuration files for a full mesh of cluster nodes: every node gets an address in the
//! VPN subnet, its own Curve25519 key pair and a `[Peer]` for every other node. The PostgreSQL link (and
//! any other traffic between sites) then runs inside WireGuard, with TLS on top.
//!
//! Keys are kept in a directory (one `<node>.key` per node, mode 0600) so that running the command
//! again after adding a node keeps the existing nodes' keys.
use std::net::{IpAddr, Ipv4Addr};
use std::path::Path;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use x25519_dalek::{PublicKey, StaticSecret};

/// Default UDP port of WireGuard.
pub const DEFAULT_PORT: u16 = 51820;
/// Keepalive that holds NAT mappings open between sites (seconds; the value `wg-quick` docs suggest).
pub const KEEPALIVE_SECONDS: u16 = 25;

/// Errors of the WireGuard helper.
#[derive(Debug, thiserror::Error)]
pub enum WgError {
    #[error("node {0:?}: expected NAME=HOST or NAME=HOST:PORT")]
    BadNode(String),
    #[error("duplicate node name {0:?}")]
    Duplicate(String),
    #[error("subnet {0} has room for fewer addresses than there are nodes")]
    SubnetTooSmall(ipnet::Ipv4Net),
    #[error("key file {path}: {reason}")]
    Key { path: String, reason: String },
}

/// A node as given on the command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WgNode {
    /// Node id (the same as `cluster.node_id`).
    pub name: String,
    /// Public address other sites reach it at.
    pub endpoint_host: String,
    pub port: u16,
}

impl std::str::FromStr for WgNode {
    type Err = WgError;

    fn from_str(s: &str) -> Result<Self, WgError> {
        let bad = || WgError::BadNode(s.to_owned());
        let (name, endpoint) = s.split_once('=').ok_or_else(bad)?;
        let valid_name = !name.is_empty()
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
        if !valid_name || endpoint.is_empty() {
            return Err(bad());
        }
        // An IPv6 endpoint is written [addr]:port or bare.
        let (host, port) = if let Some(rest) = endpoint.strip_prefix('[') {
            let (h, p) = rest.split_once(']').ok_or_else(bad)?;
            let port = match p.strip_prefix(':') {
                Some(p) => p.parse().map_err(|_| bad())?,
                None if p.is_empty() => DEFAULT_PORT,
                None => return Err(bad()),
            };
            (h.to_owned(), port)
        } else if endpoint.parse::<IpAddr>().is_ok() {
            (endpoint.to_owned(), DEFAULT_PORT)
        } else {
            match endpoint.rsplit_once(':') {
                Some((h, p)) => (h.to_owned(), p.parse().map_err(|_| bad())?),
                None => (endpoint.to_owned(), DEFAULT_PORT),
            }
        };
        Ok(WgNode {
            name: name.to_owned(),
            endpoint_host: host,
            port,
        })
    }
}

/// A node's key pair, base64 as `wg` writes them.
#[derive(Clone)]
pub struct WgKeys {
    pub private: String,
    pub public: String,
}

impl std::fmt::Debug for WgKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WgKeys")
            .field("public", &self.public)
            .finish_non_exhaustive()
    }
}

/// A fresh key pair; the private key is clamped as `wg genkey` does (RFC 7748 §5).
pub fn generate_keys() -> WgKeys {
    let mut raw: [u8; 32] = rand::random();
    raw[0] &= 248;
    raw[31] &= 127;
    raw[31] |= 64;
    keys_from_private(raw)
}

fn keys_from_private(raw: [u8; 32]) -> WgKeys {
    let secret = StaticSecret::from(raw);
    let public = PublicKey::from(&secret);
    WgKeys {
        private: B64.encode(raw),
        public: B64.encode(public.as_bytes()),
    }
}

/// Loads `<dir>/<node>.key` or creates it (mode 0600).
pub fn load_or_create_keys(dir: &Path, node: &str) -> Result<WgKeys, WgError> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let path = dir.join(format!("{node}.key"));
    let err = |reason: String| WgError::Key {
        path: path.display().to_string(),
        reason,
    };
    if let Ok(text) = std::fs::read_to_string(&path) {
        let raw = B64.decode(text.trim()).map_err(|e| err(e.to_string()))?;
        let raw: [u8; 32] = raw.try_into().map_err(|_| err("not a 32-byte key".into()))?;
        return Ok(keys_from_private(raw));
    }
    std::fs::create_dir_all(dir).map_err(|e| err(e.to_string()))?;
    let keys = generate_keys();
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&path)
        .map_err(|e| err(e.to_string()))?;
    writeln!(f, "{}", keys.private).map_err(|e| err(e.to_string()))?;
    Ok(keys)
}

/// VPN address of the `index`-th node: the subnet's hosts in order.
fn address(subnet: ipnet::Ipv4Net, index: usize) -> Result<Ipv4Addr, WgError> {
    subnet.hosts().nth(index).ok_or(WgError::SubnetTooSmall(subnet))
}

/// One `wg-quick` file per node (in the order given): `(node name, VPN address, file text)`.
pub fn mesh_configs(
    nodes: &[WgNode],
    keys: &[WgKeys],
    subnet: ipnet::Ipv4Net,
) -> Result<Vec<(String, Ipv4Addr, String)>, WgError> {
    let mut seen = std::collections::HashSet::new();
    for n in nodes {
        if !seen.insert(n.name.as_str()) {
            return Err(WgError::Duplicate(n.name.clone()));
        }
    }
    let addrs = (0..nodes.len())
        .map(|i| address(subnet, i))
        .collect::<Result<Vec<_>, _>>()?;
    let mut out = Vec::with_capacity(nodes.len());
    for (i, (node, key)) in nodes.iter().zip(keys).enumerate() {
        let mut text = format!(
            "# smsgate cluster node {name}: wg-quick up ./{name}.conf (or /etc/wireguard/smsgate.conf)\n\
             [Interface]\nAddress = {addr}/{len}\nListenPort = {port}\nPrivateKey = {key}\n",
            name = node.name,
            addr = addrs[i],
            len = subnet.prefix_len(),
            port = node.port,
            key = key.private,
        );
        for (j, (peer, peer_key)) in nodes.iter().zip(keys).enumerate() {
            if i == j {
                continue;
            }
            let host = if peer.endpoint_host.contains(':') {
                format!("[{}]", peer.endpoint_host)
            } else {
                peer.endpoint_host.clone()
            };
            text.push_str(&format!(
                "\n[Peer]\n# {name}\nPublicKey = {public}\nEndpoint = {host}:{port}\nAllowedIPs = {addr}/32\n\
                 PersistentKeepalive = {KEEPALIVE_SECONDS}\n",
                name = peer.name,
                public = peer_key.public,
                port = peer.port,
                addr = addrs[j],
            ));
        }
        out.push((node.name.clone(), addrs[i], text));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_arguments_parse() {
        fn check(input: &str, expect: Option<(&str, &str, u16)>) {
            let got = input.parse::<WgNode>().ok();
            let want = expect.map(|(n, h, p)| WgNode {
                name: n.into(),
                endpoint_host: h.into(),
                port: p,
            });
            assert_eq!(got, want, "{input}");
        }
        check("a=203.0.113.1", Some(("a", "203.0.113.1", DEFAULT_PORT)));
        check("a=203.0.113.1:51000", Some(("a", "203.0.113.1", 51000)));
        check(
            "waw-1=gw.example.com",
            Some(("waw-1", "gw.example.com", DEFAULT_PORT)),
        );
        check("b=[2001:db8::1]:5000", Some(("b", "2001:db8::1", 5000)));
        check("b=2001:db8::1", Some(("b", "2001:db8::1", DEFAULT_PORT)));
        check("noequals", None);
        check("=1.2.3.4", None);
        check("a b=1.2.3.4", None);
        check("a=1.2.3.4:notaport", None);
    }

    #[test]
    fn mesh_gives_every_node_every_other_peer() {
        let nodes: Vec<WgNode> = ["a=192.0.2.1", "b=192.0.2.2:51000", "c=[2001:db8::3]"]
            .iter()
            .map(|s| s.parse().unwrap())
            .collect();
        let keys: Vec<WgKeys> = nodes.iter().map(|_| generate_keys()).collect();
        let subnet: ipnet::Ipv4Net = "10.77.0.0/24".parse().unwrap();
        let confs = mesh_configs(&nodes, &keys, subnet).unwrap();
        assert_eq!(confs.len(), 3);
        assert_eq!(confs[0].1, Ipv4Addr::new(10, 77, 0, 1));
        assert_eq!(confs[2].1, Ipv4Addr::new(10, 77, 0, 3));
        let a = &confs[0].2;
        assert!(a.contains(&format!("PrivateKey = {}", keys[0].private)));
        assert!(!a.contains(&keys[0].public), "a node is not its own peer");
        assert!(a.contains(&format!("PublicKey = {}", keys[1].public)));
        assert!(a.contains("Endpoint = 192.0.2.2:51000"));
        assert!(a.contains("Endpoint = [2001:db8::3]:51820"));
        assert!(a.contains("AllowedIPs = 10.77.0.3/32"));
        assert_eq!(a.matches("[Peer]").count(), 2);
        assert!(confs[1].2.contains("ListenPort = 51000"));
        let dup = vec![nodes[0].clone(), nodes[0].clone()];
        assert!(matches!(
            mesh_configs(&dup, &keys[..2], subnet),
            Err(WgError::Duplicate(_))
        ));
        let tiny: ipnet::Ipv4Net = "10.0.0.0/31".parse().unwrap();
        assert!(matches!(
            mesh_configs(&nodes, &keys, tiny),
            Err(WgError::SubnetTooSmall(_))
        ));
    }

    #[test]
    fn keys_are_curve25519_and_persist() {
        let k = generate_keys();
        let raw = B64.decode(&k.private).unwrap();
        assert_eq!(raw.len(), 32);
        assert_eq!(raw[0] & 7, 0, "clamped");
        assert_eq!(B64.decode(&k.public).unwrap().len(), 32);
        let dir = tempfile::tempdir().unwrap();
        let first = load_or_create_keys(dir.path(), "a").unwrap();
        let again = load_or_create_keys(dir.path(), "a").unwrap();
        assert_eq!(first.private, again.private);
        assert_eq!(first.public, again.public);
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.path().join("a.key"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}
