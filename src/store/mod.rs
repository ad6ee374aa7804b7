//! Durable state of the gateway in SQLite: the only module that contains SQL.
//!
//! Shape:
//! - **One writer.** A dedicated thread owns the only read-write connection. Callers send it jobs over a
//!   channel; it takes everything waiting (up to [`MAX_BATCH`]) into ONE transaction, so many accepted
//!   messages share one fsync ("group commit"), and answers each caller only after the commit. Each job
//!   runs inside its own savepoint, so a job that fails is rolled back alone and the others still commit.
//! - **Readers in a pool.** A few read-only connections used through `spawn_blocking`; WAL lets them read
//!   while the writer writes.
//! - **Durability.** WAL with `synchronous=FULL`: once a write job has answered, its rows survive a crash
//!   or power loss (an accepted message is on disk before the API says 202).
//! - **Migrations** are versioned ([`schema`]) and run before anything else touches the database.
//!
//! Times are stored as UTC unix milliseconds (`INTEGER`), identifiers of messages and inbox entries as
//! UUID v7 text (time ordered, so paging by id is paging by creation time).
mod accounts;
mod audit;
pub mod backup;
mod erasure;
mod inbox;
mod kannel;
mod messages;
pub mod model;
mod modem_settings;
mod modems;
mod ops;
pub mod pg;
mod retention;
mod routing;
mod schema;
mod settings;
mod stages;
pub use schema::{SCHEMA_VERSION, create_database_at_version};
mod webhooks;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};
use tokio::sync::{Semaphore, mpsc, oneshot};

pub use accounts::*;
pub use audit::*;
pub use erasure::*;
pub use inbox::*;
pub use kannel::*;
pub use messages::*;
pub use model::*;
pub use modem_settings::{ModemSettings, StoredModemSettings};
pub use modems::*;
pub use ops::QueueStats;
pub use retention::{Purged, Space, VACUUM_STEP_PAGES};
pub use routing::StoredRouteRule;
pub use stages::*;
pub use webhooks::*;

/// Most jobs folded into one transaction: bounds the latency a job waits behind others.
pub const MAX_BATCH: usize = 512;
/// Read-only connections in the reader pool.
const READERS: usize = 4;
/// How long a connection waits for a lock before reporting busy.
pub(crate) const BUSY_TIMEOUT: Duration = Duration::from_secs(10);
/// Depth of the writer's queue; callers wait (backpressure) when it is full.
const WRITE_QUEUE: usize = 4096;

/// What can go wrong in the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// SQLite reported an error.
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// A migration failed.
    #[error("database migration failed: {0}")]
    Migration(#[from] rusqlite_migration::Error),
    /// The data directory could not be prepared.
    #[error("cannot prepare data directory {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A unique constraint (login, token, idempotency key) was hit.
    #[error("already exists: {0}")]
    Conflict(String),
    /// A row read back does not fit the model (corrupt or foreign data).
    #[error("bad row: {0}")]
    BadRow(String),
    /// The writer thread has stopped (shutdown or a fatal error).
    #[error("the store is closed")]
    Closed,
    /// The batch transaction could not be started or committed; nothing of the job was stored.
    #[error("transaction failed: {0}")]
    Transaction(String),
    /// PostgreSQL (the cluster's shared store) reported an error or cannot be reached.
    #[error("PostgreSQL: {0}")]
    Postgres(String),
}

impl StoreError {
    pub(crate) fn bad_row(what: impl Into<String>) -> Self {
        StoreError::BadRow(what.into())
    }
}

/// Result of one job: its value, or why it failed.
pub type StoreResult<T> = Result<T, StoreError>;

/// A job for the writer: runs on the write connection inside the batch transaction and returns the
/// function that delivers its answer once the commit outcome is known.
/// Called with `None` when the batch's transaction could not even begin: the job then only answers.
type JobFn = Box<dyn FnOnce(Option<&Connection>) -> (bool, Reply) + Send>;
type Reply = Box<dyn FnOnce(StoreResult<()>) + Send>;

/// Work that must run outside any transaction (a WAL checkpoint); runs after the batch before it.
type DirectFn = Box<dyn FnOnce(&Connection) + Send>;

enum WriterMsg {
    Job(JobFn),
    Direct(DirectFn),
    Stop(oneshot::Sender<()>),
}

/// Counters of the writer, for tests and metrics.
#[derive(Debug, Default)]
pub struct WriterStats {
    /// Transactions committed.
    pub commits: AtomicU64,
    /// Jobs executed (committed or rolled back).
    pub jobs: AtomicU64,
}

struct ReaderPool {
    conns: std::sync::Mutex<Vec<Connection>>,
    permits: Semaphore,
}

struct StoreInner {
    writer: mpsc::Sender<WriterMsg>,
    readers: ReaderPool,
    stats: Arc<WriterStats>,
    path: PathBuf,
    writer_thread: std::sync::Mutex<Option<std::thread::JoinHandle<()>>>,
    /// In a cluster: the shared PostgreSQL store that holds the queue domain instead of SQLite.
    cluster: std::sync::OnceLock<Arc<pg::PgStore>>,
    /// Stage settings by account, read for every authenticated request.
    stage_cache: stages::StageCache,
}

/// Handle to the database; cheap to clone.
#[derive(Clone)]
pub struct Store {
    inner: Arc<StoreInner>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("path", &self.inner.path).finish()
    }
}

fn open_writer(path: &Path) -> StoreResult<Connection> {
    let mut conn = Connection::open(path)?;
    conn.busy_timeout(BUSY_TIMEOUT)?;
    // A new file gets incremental auto-vacuum for free, before its first table (see [`retention`]).
    let page_count: i64 = conn.pragma_query_value(None, "page_count", |r| r.get(0))?;
    if page_count == 0 {
        conn.pragma_update(None, "auto_vacuum", retention::AUTO_VACUUM_INCREMENTAL)?;
    }
    conn.pragma_update(None, "journal_mode", "WAL")?;
    // FULL: a commit is on disk when it returns, also in WAL mode (NORMAL may lose the last commits on
    // power loss, which would break "accepted means stored").
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    // Deleted rows (retention purges, account erasure) are overwritten with zeros instead of lingering in
    // free space of pages, so that deleted message texts cannot be recovered from the file.
    conn.pragma_update(None, "secure_delete", "ON")?;
    schema::migrate(&mut conn)?;
    let auto_vacuum: i64 = conn.pragma_query_value(None, "auto_vacuum", |r| r.get(0))?;
    if auto_vacuum != retention::AUTO_VACUUM_INCREMENTAL {
        retention::convert_to_incremental_vacuum(&conn);
    }
    Ok(conn)
}

fn open_reader(path: &Path) -> StoreResult<Connection> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX | OpenFlags::SQLITE_OPEN_URI,
    )?;
    conn.busy_timeout(BUSY_TIMEOUT)?;
    Ok(conn)
}

impl Store {
    /// Opens (creating if needed) the database at `path`, runs migrations and starts the writer.
    pub fn open(path: &Path) -> StoreResult<Store> {
        if let Some(dir) = path.parent()
            && !dir.as_os_str().is_empty()
        {
            std::fs::create_dir_all(dir).map_err(|source| StoreError::Io {
                path: dir.to_owned(),
                source,
            })?;
        }
        let writer_conn = open_writer(path)?;
        restrict_permissions(path)?;
        let mut readers = Vec::with_capacity(READERS);
        for _ in 0..READERS {
            readers.push(open_reader(path)?);
        }
        let (tx, rx) = mpsc::channel(WRITE_QUEUE);
        let stats = Arc::new(WriterStats::default());
        let thread_stats = stats.clone();
        let thread = std::thread::Builder::new()
            .name("store-writer".into())
            .spawn(move || writer_loop(writer_conn, rx, &thread_stats))
            .map_err(|source| StoreError::Io {
                path: path.to_owned(),
                source,
            })?;
        Ok(Store {
            inner: Arc::new(StoreInner {
                writer: tx,
                readers: ReaderPool {
                    conns: std::sync::Mutex::new(readers),
                    permits: Semaphore::new(READERS),
                },
                stats,
                path: path.to_owned(),
                writer_thread: std::sync::Mutex::new(Some(thread)),
                cluster: std::sync::OnceLock::new(),
                stage_cache: stages::StageCache::default(),
            }),
        })
    }

    /// Makes this store a cluster node's: from now on the queue domain (messages, parts, attempts,
    /// delivery reports, inbox, webhook subscriptions and outbox) lives in `cluster`, shared with the
    /// other nodes; the node's own data (accounts, audit log, modems, inbox fragments) stays in SQLite.
    /// Call once, right after opening, before anything is written. False if a cluster store was
    /// already attached.
    pub fn attach_cluster(&self, cluster: Arc<pg::PgStore>) -> bool {
        self.inner.cluster.set(cluster).is_ok()
    }

    /// The shared PostgreSQL store, when this node is part of a cluster.
    pub fn cluster(&self) -> Option<&Arc<pg::PgStore>> {
        self.inner.cluster.get()
    }

    /// Path of the database file.
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// Writer counters (transactions committed, jobs run).
    pub fn stats(&self) -> &WriterStats {
        &self.inner.stats
    }

    /// Runs `f` on the write connection inside the current group-commit transaction and returns its
    /// result once that transaction is committed. If `f` fails, only its own changes are rolled back.
    pub(crate) async fn write<T, F>(&self, f: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> StoreResult<T> + Send + 'static,
    {
        let (tx, rx) = oneshot::channel::<StoreResult<T>>();
        let job: JobFn = Box::new(move |conn| {
            let result = match conn {
                Some(conn) => f(conn),
                None => Err(StoreError::Closed),
            };
            let ok = result.is_ok();
            let reply: Reply = Box::new(move |committed| {
                // The caller may have gone away (request cancelled); its data is committed regardless.
                let _ = tx.send(committed.and(result));
            });
            (ok, reply)
        });
        self.inner
            .writer
            .send(WriterMsg::Job(job))
            .await
            .map_err(|_| StoreError::Closed)?;
        rx.await.map_err(|_| StoreError::Closed)?
    }

    /// Runs `f` on a pooled read-only connection on the blocking thread pool.
    pub(crate) async fn read<T, F>(&self, f: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> StoreResult<T> + Send + 'static,
    {
        let inner = self.inner.clone();
        let _permit = self
            .inner
            .readers
            .permits
            .acquire()
            .await
            .map_err(|_| StoreError::Closed)?;
        tokio::task::spawn_blocking(move || {
            let conn = inner.readers.conns.lock().map_err(|_| StoreError::Closed)?.pop();
            let conn = match conn {
                Some(c) => c,
                None => open_reader(&inner.path)?,
            };
            let result = f(&conn);
            if let Ok(mut pool) = inner.readers.conns.lock() {
                pool.push(conn);
            }
            result
        })
        .await
        .map_err(|_| StoreError::Closed)?
    }

    /// Runs `f` on the write connection outside any transaction, after everything queued before it is
    /// committed (for work SQLite refuses inside a transaction, such as a WAL checkpoint).
    pub(crate) async fn write_direct<T, F>(&self, f: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> StoreResult<T> + Send + 'static,
    {
        let (tx, rx) = oneshot::channel::<StoreResult<T>>();
        let job: DirectFn = Box::new(move |conn| {
            let _ = tx.send(f(conn));
        });
        self.inner
            .writer
            .send(WriterMsg::Direct(job))
            .await
            .map_err(|_| StoreError::Closed)?;
        rx.await.map_err(|_| StoreError::Closed)?
    }

    /// Returns once every write sent before this call is committed; on a cluster node also checks that
    /// the shared database answers and accepts writes (so `/readyz` reports a lost primary).
    pub async fn flush(&self) -> StoreResult<()> {
        self.write(|_| Ok(())).await?;
        if let Some(pg) = self.cluster() {
            pg.check_writable().await?;
        }
        Ok(())
    }

    /// Commits what is queued, stops the writer thread and waits for it. Later writes fail with
    /// [`StoreError::Closed`].
    pub async fn close(&self) -> StoreResult<()> {
        let (tx, rx) = oneshot::channel();
        if self.inner.writer.send(WriterMsg::Stop(tx)).await.is_ok() {
            let _ = rx.await;
        }
        let thread = self
            .inner
            .writer_thread
            .lock()
            .map_err(|_| StoreError::Closed)?
            .take();
        if let Some(thread) = thread {
            tokio::task::spawn_blocking(move || thread.join())
                .await
                .map_err(|_| StoreError::Closed)?
                .ok();
        }
        Ok(())
    }
}

/// The database holds message bodies and password hashes: only the service user may read it.
fn restrict_permissions(path: &Path) -> StoreResult<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).map_err(|source| StoreError::Io {
        path: path.to_owned(),
        source,
    })
}

fn writer_loop(conn: Connection, mut rx: mpsc::Receiver<WriterMsg>, stats: &WriterStats) {
    let mut batch: Vec<JobFn> = Vec::with_capacity(MAX_BATCH);
    let mut stop: Option<oneshot::Sender<()>> = None;
    while stop.is_none() {
        let mut direct: Option<DirectFn> = None;
        match rx.blocking_recv() {
            Some(WriterMsg::Job(job)) => batch.push(job),
            Some(WriterMsg::Direct(job)) => direct = Some(job),
            Some(WriterMsg::Stop(done)) => stop = Some(done),
            None => break,
        }
        while batch.len() < MAX_BATCH && stop.is_none() && direct.is_none() {
            match rx.try_recv() {
                Ok(WriterMsg::Job(job)) => batch.push(job),
                Ok(WriterMsg::Direct(job)) => direct = Some(job),
                Ok(WriterMsg::Stop(done)) => stop = Some(done),
                Err(_) => break,
            }
        }
        if !batch.is_empty() {
            run_batch(&conn, &mut batch, stats);
        }
        if let Some(job) = direct {
            job(&conn);
        }
    }
    if let Some(done) = stop {
        let _ = done.send(());
    }
    if let Err(e) = conn.close() {
        tracing::error!(error = %e.1, "closing the write connection failed");
    }
}

fn run_batch(conn: &Connection, batch: &mut Vec<JobFn>, stats: &WriterStats) {
    let mut replies: Vec<Reply> = Vec::with_capacity(batch.len());
    let begun = conn.execute_batch("BEGIN IMMEDIATE");
    if let Err(e) = begun {
        tracing::error!(error = %e, "cannot begin a write transaction");
        for job in batch.drain(..) {
            let (_, reply) = job(None);
            reply(Err(StoreError::Transaction(e.to_string())));
        }
        return;
    }
    for job in batch.drain(..) {
        stats.jobs.fetch_add(1, Ordering::Relaxed);
        if let Err(e) = conn.execute_batch("SAVEPOINT job") {
            tracing::error!(error = %e, "cannot open a savepoint");
        }
        let (ok, reply) = job(Some(conn));
        let end = if ok {
            "RELEASE job"
        } else {
            "ROLLBACK TO job; RELEASE job"
        };
        if let Err(e) = conn.execute_batch(end) {
            tracing::error!(error = %e, "cannot close a savepoint");
        }
        replies.push(reply);
    }
    let committed = conn.execute_batch("COMMIT");
    match committed {
        Ok(()) => {
            stats.commits.fetch_add(1, Ordering::Relaxed);
            for reply in replies {
                reply(Ok(()));
            }
        }
        Err(e) => {
            tracing::error!(error = %e, "group commit failed; the batch is rolled back");
            let _ = conn.execute_batch("ROLLBACK");
            for reply in replies {
                reply(Err(StoreError::Transaction(e.to_string())));
            }
        }
    }
}

/// Current UTC time as unix milliseconds.
pub fn now_ms() -> i64 {
    let now = time::OffsetDateTime::now_utc();
    (now.unix_timestamp_nanos() / 1_000_000) as i64
}

#[cfg(test)]
mod tests;
