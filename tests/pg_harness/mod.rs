//! A throw-away PostgreSQL server for tests: `initdb` in a temporary directory, TLS on with a server
//! certificate from a fresh appliance CA, client-certificate authentication only (`hostssl … cert`),
//! on 127.0.0.1 and a free port. Stopped (immediate) and deleted on drop.
//!
//! PostgreSQL refuses to run as root, so when the tests run as root (CI containers) the server runs as
//! the `postgres` user (created by the Debian package) or, failing that, `nobody`, via `runuser`.
//! Needs the Debian `postgresql` package (tests/run-all.sh installs it); without it the test fails
//! with a message saying so.
#![allow(clippy::unwrap_used, clippy::expect_used, dead_code)]

use std::net::TcpListener;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use smsgate::store::pg::NodeIdentity;
use smsgate::store::pg::tls::PgTls;
use smsgate::tls::ApplianceCa;

/// Database user every node maps to (pg_ident maps any certificate CN of the CA to it).
pub const DB_USER: &str = "smsgate";
/// `application_name` of the standby (what `synchronous_standby_names` names).
pub const STANDBY_NAME: &str = "standby";

pub struct TestPg {
    pub dir: tempfile::TempDir,
    pub port: u16,
    pub ca: Arc<ApplianceCa>,
    /// PEM of the CA, for clients.
    pub ca_path: PathBuf,
    bin: PathBuf,
    run_as: Option<String>,
    data: PathBuf,
}

fn pg_bin() -> PathBuf {
    let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|d| d.filter_map(Result::ok).map(|e| e.path().join("bin")).collect())
        .unwrap_or_default();
    versions.retain(|p| p.join("initdb").exists());
    versions.sort();
    versions.pop().unwrap_or_else(|| {
        panic!("PostgreSQL server binaries not found under /usr/lib/postgresql/*/bin: install the Debian `postgresql` package (tests/run-all.sh does)")
    })
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

fn user_exists(name: &str) -> bool {
    Command::new("id")
        .arg(name)
        .output()
        .is_ok_and(|o| o.status.success())
}

impl TestPg {
    /// Starts a server; `clients` are the node ids to issue client certificates for
    /// (`<dir>/<node>.pem`, `<dir>/<node>.key`).
    pub fn start() -> TestPg {
        Self::start_with_ca(ApplianceCa::generate(time::OffsetDateTime::now_utc()).unwrap())
    }

    /// Starts a server whose certificate `ca` issues (e.g. an appliance CA made by
    /// `smsgate cluster issue-cert`).
    pub fn start_with_ca(ca: ApplianceCa) -> TestPg {
        let pg = Self::prepare(Arc::new(ca));
        let out = pg
            .command("initdb")
            .args(["-D"])
            .arg(&pg.data)
            .args([
                "-U",
                DB_USER,
                "--auth-local=trust",
                "--auth-host=reject",
                "-E",
                "UTF8",
                "--no-sync",
            ])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "initdb failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        pg.append(&pg.data.join("postgresql.conf"), &pg.own_conf());
        // Only TLS with a certificate of our CA; any CN maps to the one database user, which (as the
        // superuser initdb made) may also stream WAL to a standby.
        std::fs::write(
            pg.data.join("pg_hba.conf"),
            format!(
                "local all all trust\nhostssl all {DB_USER} 127.0.0.1/32 cert map=nodes\n\
                 hostssl replication {DB_USER} 127.0.0.1/32 cert map=nodes\n"
            ),
        )
        .unwrap();
        std::fs::write(
            pg.data.join("pg_ident.conf"),
            format!("nodes /^(.*)$ {DB_USER}\n"),
        )
        .unwrap();
        pg.chown_data();
        pg.pg_ctl_start();
        pg
    }

    /// A hot standby of this server, copied with `pg_basebackup -R -X stream` over TLS with a client
    /// certificate (as docs/cluster.md does), on its own port with its own server certificate of the
    /// same CA. With `synchronous`, this server then waits for the standby on every commit
    /// (`synchronous_standby_names`, `synchronous_commit = on`: "accepted means on two servers").
    pub fn start_standby(&self, synchronous: bool) -> TestPg {
        let sb = Self::prepare(self.ca.clone());
        let (cert, key) = sb.client_cert(STANDBY_NAME);
        // libpq reads the key as the server's user and wants it private.
        let (rc, rk) = (
            sb.server_dir().join("replicator.pem"),
            sb.server_dir().join("replicator.key"),
        );
        std::fs::rename(&cert, &rc).unwrap();
        std::fs::rename(&key, &rk).unwrap();
        std::fs::set_permissions(&rk, std::fs::Permissions::from_mode(0o600)).unwrap();
        sb.chown(&sb.server_dir());
        let conninfo = format!(
            "host=127.0.0.1 port={} user={DB_USER} sslmode=verify-full sslrootcert={} sslcert={} \
             sslkey={} application_name={STANDBY_NAME}",
            self.port,
            sb.server_dir().join("ca.pem").display(),
            rc.display(),
            rk.display()
        );
        let out = sb
            .command("pg_basebackup")
            .arg("-D")
            .arg(&sb.data)
            .args(["-R", "-X", "stream", "-c", "fast", "--no-sync", "-d", &conninfo])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "pg_basebackup failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        // The copy carries the primary's settings; the last line wins, so this names its own port,
        // socket and certificate.
        sb.append(&sb.data.join("postgresql.conf"), &sb.own_conf());
        sb.chown_data();
        sb.pg_ctl_start();
        // Streaming before the caller goes on (and before commits wait for it).
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        while self.psql(
            "postgres",
            &format!("SELECT count(*) FROM pg_stat_replication WHERE application_name = '{STANDBY_NAME}' AND state = 'streaming'"),
        ) != "1"
        {
            assert!(std::time::Instant::now() < deadline, "the standby never streamed");
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        if synchronous {
            self.psql(
                "postgres",
                &format!("ALTER SYSTEM SET synchronous_standby_names = '{STANDBY_NAME}'"),
            );
            self.psql("postgres", "ALTER SYSTEM SET synchronous_commit = 'on'");
            self.psql("postgres", "SELECT pg_reload_conf()");
            while self.psql(
                "postgres",
                &format!(
                    "SELECT sync_state FROM pg_stat_replication WHERE application_name = '{STANDBY_NAME}'"
                ),
            ) != "sync"
            {
                assert!(
                    std::time::Instant::now() < deadline,
                    "the standby never became synchronous"
                );
                std::thread::sleep(std::time::Duration::from_millis(100));
            }
        }
        sb
    }

    /// Stops the server at once (`pg_ctl stop -m immediate`: like a power cut, no shutdown checkpoint).
    pub fn stop_immediate(&self) {
        let out = self
            .command("pg_ctl")
            .arg("-D")
            .arg(&self.data)
            .args(["-m", "immediate", "-w", "stop"])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "pg_ctl stop failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Promotes a standby to primary (`pg_ctl promote`) and waits until it accepts writes.
    pub fn promote(&self) {
        let out = self
            .command("pg_ctl")
            .arg("-D")
            .arg(&self.data)
            .args(["-w", "promote"])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "pg_ctl promote failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(self.psql("postgres", "SELECT pg_is_in_recovery()"), "f");
    }

    /// Directories, server certificate and the user the server runs as; no cluster yet.
    fn prepare(ca: Arc<ApplianceCa>) -> TestPg {
        let bin = pg_bin();
        let dir = tempfile::Builder::new().prefix("smsgate-pg").tempdir().unwrap();
        // The server user must reach its files inside our temporary directory.
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        let run_as = if is_root() {
            Some(
                if user_exists("postgres") {
                    "postgres"
                } else {
                    "nobody"
                }
                .to_owned(),
            )
        } else {
            None
        };
        let ca_path = dir.path().join("ca.pem");
        std::fs::write(&ca_path, ca.cert_pem()).unwrap();
        let data = dir.path().join("data");
        let port = free_port();
        let pg = TestPg {
            dir,
            port,
            ca,
            ca_path,
            bin,
            run_as,
            data,
        };
        let server_dir = pg.server_dir();
        std::fs::create_dir(&server_dir).unwrap();
        let (cert, key) = pg
            .ca
            .issue_server(
                &["localhost".into(), "127.0.0.1".into()],
                time::OffsetDateTime::now_utc(),
            )
            .unwrap();
        std::fs::write(server_dir.join("server.pem"), cert).unwrap();
        std::fs::write(server_dir.join("server.key"), key).unwrap();
        std::fs::write(server_dir.join("ca.pem"), pg.ca.cert_pem()).unwrap();
        std::fs::set_permissions(
            server_dir.join("server.key"),
            std::fs::Permissions::from_mode(0o600),
        )
        .unwrap();
        pg.chown(&server_dir);
        std::fs::create_dir(&pg.data).unwrap();
        std::fs::set_permissions(&pg.data, std::fs::Permissions::from_mode(0o700)).unwrap();
        pg.chown(&pg.data);
        std::fs::create_dir(pg.socket_dir()).unwrap();
        pg.chown(&pg.socket_dir());
        pg
    }

    /// This server's own lines of postgresql.conf (port, socket, TLS files).
    fn own_conf(&self) -> String {
        format!(
            "\nlisten_addresses = '127.0.0.1'\nport = {port}\nunix_socket_directories = '{sock}'\n\
             ssl = on\nssl_cert_file = '{s}/server.pem'\nssl_key_file = '{s}/server.key'\n\
             ssl_ca_file = '{s}/ca.pem'\nssl_min_protocol_version = 'TLSv1.2'\nfsync = off\n\
             max_connections = 200\n",
            port = self.port,
            sock = self.socket_dir().display(),
            s = self.server_dir().display()
        )
    }

    fn server_dir(&self) -> PathBuf {
        self.dir.path().join("server")
    }

    /// Gives `path` (recursively) to the server's user when the tests run as root.
    fn chown(&self, path: &Path) {
        if let Some(user) = &self.run_as {
            let st = Command::new("chown")
                .args(["-R", &format!("{user}:")])
                .arg(path)
                .status()
                .unwrap();
            assert!(st.success(), "chown {} failed", path.display());
        }
    }

    fn chown_data(&self) {
        self.chown(&self.data);
    }

    fn pg_ctl_start(&self) {
        let out = self
            .command("pg_ctl")
            .arg("-D")
            .arg(&self.data)
            .arg("-l")
            .arg(self.log_path())
            .args(["-w", "-t", "60", "start"])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "pg_ctl start failed: {}\n{}",
            String::from_utf8_lossy(&out.stderr),
            std::fs::read_to_string(self.log_path()).unwrap_or_default()
        );
    }

    /// Socket and log: a directory the server's user owns.
    fn socket_dir(&self) -> PathBuf {
        self.dir.path().join("run")
    }

    fn log_path(&self) -> PathBuf {
        self.socket_dir().join("server.log")
    }

    fn append(&self, path: &Path, text: &str) {
        use std::io::Write;
        let mut f = std::fs::OpenOptions::new().append(true).open(path).unwrap();
        f.write_all(text.as_bytes()).unwrap();
    }

    /// A PostgreSQL program run as the server's user.
    fn command(&self, program: &str) -> Command {
        let path = self.bin.join(program);
        match &self.run_as {
            Some(user) => {
                let mut c = Command::new("runuser");
                c.args(["-u", user, "--"]).arg(path);
                c
            }
            None => Command::new(path),
        }
    }

    /// Runs SQL as the superuser over the local socket.
    pub fn psql(&self, db: &str, sql: &str) -> String {
        let out = self
            .command("psql")
            .args(["-h"])
            .arg(self.socket_dir())
            .args([
                "-p",
                &self.port.to_string(),
                "-U",
                DB_USER,
                "-d",
                db,
                "-At",
                "-v",
                "ON_ERROR_STOP=1",
                "-c",
                sql,
            ])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "psql {sql}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    }

    /// Creates an empty database and returns its name.
    pub fn create_db(&self, name: &str) -> String {
        self.psql("postgres", &format!("CREATE DATABASE {name}"));
        name.to_owned()
    }

    /// The URL nodes use (TLS, client certificate; no password).
    pub fn url(&self, db: &str) -> String {
        format!("postgresql://{DB_USER}@127.0.0.1:{}/{db}", self.port)
    }

    /// The URL of a node that follows the primary: both servers, the first that accepts writes wins.
    pub fn failover_url(primary: &TestPg, standby: &TestPg, db: &str) -> String {
        format!(
            "postgresql://{DB_USER}@127.0.0.1:{},127.0.0.1:{}/{db}?target_session_attrs=read-write",
            primary.port, standby.port
        )
    }

    /// Issues a client certificate for `node` into the temp dir; returns (cert, key) paths.
    pub fn client_cert(&self, node: &str) -> (PathBuf, PathBuf) {
        let (cert, key) = self
            .ca
            .issue_client(node, time::Duration::days(1), time::OffsetDateTime::now_utc())
            .unwrap();
        let c = self.dir.path().join(format!("{node}.pem"));
        let k = self.dir.path().join(format!("{node}.key"));
        std::fs::write(&c, cert).unwrap();
        std::fs::write(&k, key).unwrap();
        (c, k)
    }

    /// TLS settings of a node.
    pub fn tls(&self, node: &str) -> PgTls {
        let (c, k) = self.client_cert(node);
        PgTls::from_files(&self.ca_path, &c, &k).unwrap()
    }

    /// Identity of a test node with a lease of `lease_ms`.
    pub fn node(node: &str, lease_ms: i64) -> NodeIdentity {
        NodeIdentity {
            node_id: node.into(),
            site: format!("site-{node}"),
            lease_ms,
        }
    }
}

impl Drop for TestPg {
    fn drop(&mut self) {
        let _ = self
            .command("pg_ctl")
            .arg("-D")
            .arg(&self.data)
            .args(["-m", "immediate", "-w", "stop"])
            .output();
    }
}
