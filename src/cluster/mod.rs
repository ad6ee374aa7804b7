//! Multi-site cluster helpers that are not storage: the WireGuard configuration of the nodes' VPN.
//! The shared queue itself is `store::pg`; the node's claim loop is `app::cluster`.
pub mod wireguard;
