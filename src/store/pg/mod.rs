//! The cluster's shared store in PostgreSQL: the queue domain (messages, parts, attempts, delivery
//! reports, inbox, webhook subscriptions and outbox) that every node of a multi-site cluster sees.
//!
//! Shape:
//! - **Connections**: a deadpool pool of tokio-postgres connections over TLS ([`tls::PgTls`]: verify-full
//!   against the cluster CA, client certificate of the node). A multi-host URL with
//!   `target_session_attrs=read-write` makes new connections find the current primary after a failover.
//! - **Claims and leases**: a node claims queued messages for its own modems with
//!   `FOR UPDATE SKIP LOCKED` (two nodes never claim the same row and never wait for each other); a
//!   claim sets `lease_node`, a lease end and a fresh `lease_epoch`. The node renews its leases on every
//!   heartbeat. Every state change a node makes to a claimed message names the epoch it claimed, so a
//!   node that lost its lease (partitioned, paused, presumed dead) cannot overwrite the new holder's
//!   work (fencing).
//! - **Takeover**: a queued message whose lease ended is claimable by anyone; a `sending` message whose
//!   lease ended may have gone out, so it becomes `uncertain` (or queued again with
//!   `dispatch.uncertain_policy = "resend"`), as after a crash of a single appliance.
//! - Every write is one PostgreSQL transaction, committed before the caller is answered (an accepted
//!   message is durable in the cluster before 202).
mod accounts;
mod kannel;
pub mod listen;
mod queue;
mod retention;
pub mod schema;
pub mod tls;

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use tokio_postgres::config::SslMode;
use tokio_postgres::error::SqlState;

pub use self::queue::{ClusterStatus, NodeStatus};
use super::{MessageId, StoreError, StoreResult};
use crate::config::Settings;

/// Connections per node: the writers of the dispatcher, the API and the background workers share them.
const POOL_SIZE: usize = 16;

impl From<tokio_postgres::Error> for StoreError {
    fn from(e: tokio_postgres::Error) -> Self {
        if e.code() == Some(&SqlState::UNIQUE_VIOLATION) {
            return StoreError::Conflict("already exists".into());
        }
        StoreError::Postgres(e.to_string())
    }
}

impl From<deadpool_postgres::PoolError> for StoreError {
    fn from(e: deadpool_postgres::PoolError) -> Self {
        StoreError::Postgres(format!("no connection to PostgreSQL: {e}"))
    }
}

/// Who this node is and how long its claims last.
#[derive(Debug, Clone)]
pub struct NodeIdentity {
    /// `cluster.node_id`.
    pub node_id: String,
    /// `cluster.site`.
    pub site: String,
    /// `cluster.lease_seconds` in ms.
    pub lease_ms: i64,
}

/// Handle to the shared PostgreSQL store of one node.
pub struct PgStore {
    pool: Pool,
    /// How to connect (for the notification connection, which lives outside the pool).
    config: tokio_postgres::Config,
    tls: tls::PgTls,
    node: NodeIdentity,
    /// Messages this node holds, with the epoch of its claim (the fencing token of every write).
    claims: Mutex<HashMap<MessageId, i64>>,
}

impl std::fmt::Debug for PgStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgStore")
            .field("node", &self.node.node_id)
            .finish_non_exhaustive()
    }
}

/// Time to open a TCP connection to one host of the URL before the next host is tried. Without it a
/// primary that vanished (power cut, link down: no RST) holds every new connection for the kernel's
/// SYN retries (about two minutes) before the standby is even asked.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Unacknowledged data on a connection fails it after this long (`TCP_USER_TIMEOUT`), so a query
/// sent to a primary that vanished mid-transaction errors out instead of waiting for TCP's minutes
/// of retransmissions.
const TCP_USER_TIMEOUT: Duration = Duration::from_secs(15);
/// An idle pooled connection to a vanished server is found dead after idle + interval × retries.
const KEEPALIVE_IDLE: Duration = Duration::from_secs(10);
const KEEPALIVE_INTERVAL: Duration = Duration::from_secs(5);
const KEEPALIVE_RETRIES: u32 = 3;

/// Failover-friendly link settings for whatever `url` leaves unset: bounded connect attempts per
/// host, bounded waits for acknowledgements, and keepalives that notice a silent peer.
fn link_defaults(config: &mut tokio_postgres::Config, url: &str) {
    if config.get_connect_timeout().is_none() {
        config.connect_timeout(CONNECT_TIMEOUT);
    }
    if config.get_tcp_user_timeout().is_none() {
        config.tcp_user_timeout(TCP_USER_TIMEOUT);
    }
    // The keepalive getters cannot tell "unset" from the default, so look at the URL itself.
    if !url.contains("keepalives") {
        config
            .keepalives(true)
            .keepalives_idle(KEEPALIVE_IDLE)
            .keepalives_interval(KEEPALIVE_INTERVAL)
            .keepalives_retries(KEEPALIVE_RETRIES);
    }
}

impl PgStore {
    /// Connects with the `[cluster]` settings (TLS verify-full, client certificate), runs the
    /// migrations and returns the store. Fails when PostgreSQL cannot be reached or refuses us.
    pub async fn connect(settings: &Settings) -> StoreResult<PgStore> {
        let c = &settings.cluster;
        let (cert, key) = settings.cluster_client_cert();
        let tls = tls::PgTls::from_files(&settings.cluster_ca(), &cert, &key)
            .map_err(|e| StoreError::Postgres(format!("cluster TLS: {e}")))?;
        let node = NodeIdentity {
            node_id: c.node_id.clone(),
            site: c.site.clone(),
            lease_ms: i64::try_from(c.lease_seconds.saturating_mul(1000)).unwrap_or(i64::MAX),
        };
        Self::connect_with(&c.postgres_url, tls, node).await
    }

    /// Connects to `url` with `tls` as `node`.
    pub async fn connect_with(url: &str, tls: tls::PgTls, node: NodeIdentity) -> StoreResult<PgStore> {
        let mut config: tokio_postgres::Config = url
            .parse()
            .map_err(|e| StoreError::Postgres(format!("cluster.postgres_url: {e}")))?;
        // verify-full is done by rustls (CA + host name); never fall back to plain text.
        config.ssl_mode(SslMode::Require);
        link_defaults(&mut config, url);
        if config.get_application_name().is_none() {
            config.application_name(format!("smsgate {}", node.node_id));
        }
        let manager = Manager::from_config(
            config.clone(),
            tls.clone(),
            ManagerConfig {
                // Verified recycling: a connection to a primary that became a standby is noticed.
                recycling_method: RecyclingMethod::Verified,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(POOL_SIZE)
            .build()
            .map_err(|e| StoreError::Postgres(e.to_string()))?;
        let store = PgStore {
            pool,
            config,
            tls,
            node,
            claims: Mutex::new(HashMap::new()),
        };
        let mut client = store.pool.get().await?;
        let before = schema::migrate(&mut client).await?;
        if before < schema::PG_SCHEMA_VERSION {
            tracing::info!(
                from = before,
                to = schema::PG_SCHEMA_VERSION,
                "PostgreSQL schema migrated"
            );
        }
        Ok(store)
    }

    /// Fails unless the database answers on a connection that accepts writes (a primary, not a
    /// standby still in recovery).
    pub async fn check_writable(&self) -> StoreResult<()> {
        let client = self.pool.get().await?;
        let standby: bool = client
            .query_one("SELECT pg_is_in_recovery()", &[])
            .await?
            .try_get(0)?;
        if standby {
            return Err(StoreError::Postgres(
                "connected to a standby: no primary reachable".into(),
            ));
        }
        Ok(())
    }

    /// This node's identity.
    pub fn node(&self) -> &NodeIdentity {
        &self.node
    }

    /// Closes the pool (the connections end once their users return them).
    pub fn close(&self) {
        self.pool.close();
    }

    fn claims(&self) -> std::sync::MutexGuard<'_, HashMap<MessageId, i64>> {
        self.claims.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The epoch this node claimed `id` under, if it holds it.
    fn epoch_of(&self, id: MessageId) -> Option<i64> {
        self.claims().get(&id).copied()
    }

    /// Number of messages this node holds.
    pub fn held(&self) -> usize {
        self.claims().len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn link_defaults_fill_only_what_the_url_leaves_open() {
        let check = |url: &str, connect: u64, user: u64, idle: u64| {
            let mut c: tokio_postgres::Config = url.parse().unwrap();
            link_defaults(&mut c, url);
            assert_eq!(
                (
                    c.get_connect_timeout().map(Duration::as_secs),
                    c.get_tcp_user_timeout().map(Duration::as_secs),
                    c.get_keepalives_idle().as_secs()
                ),
                (Some(connect), Some(user), idle),
                "{url}"
            );
        };
        check(
            "postgresql://u@h1:5432,h2:5432/db?target_session_attrs=read-write",
            5,
            15,
            10,
        );
        check("postgresql://u@h1/db?connect_timeout=2", 2, 15, 10);
        check(
            "postgresql://u@h1/db?keepalives_idle=60&tcp_user_timeout=3",
            5,
            3,
            60,
        );
    }
}
