//! `smsgate serve`: the appliance service. Opens (or creates) the data directory, the database, the
//! appliance CA and server certificate, bootstraps the first admin account, serves HTTPS (and optionally a
//! plain-HTTP redirect), delivers webhooks, reloads the certificate on SIGHUP and shuts down gracefully on
//! SIGTERM/SIGINT: stop accepting, finish in-flight requests, stop sends, flush the database.
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::Args;
use tokio::net::TcpListener;
use tokio::signal::unix::{SignalKind, signal};
use tokio_util::sync::CancellationToken;

use smsgate::app::{Gateway, Role};
use smsgate::auth::{
    Authenticator, AuthenticatorSettings, LoginThrottle, PasswordHasher, PasswordPolicy, ThrottlePolicy,
    generate_password,
};
use smsgate::config::Settings;
use smsgate::http::caller::GatewayDirectory;
use smsgate::http::{ApiState, redirect, router};
use smsgate::tls::acceptor::run_plain;
use smsgate::tls::{ClientCertMode, ServerCertificate, TlsServer, server_config};

/// Environment variable with the first admin's password (otherwise one is generated and printed once).
pub const ADMIN_PASSWORD_ENV: &str = "SMSGATE_ADMIN_PASSWORD";
/// Login of the first admin account.
pub const ADMIN_LOGIN: &str = "admin";
/// Data directory used when neither `--data-dir` nor a config file names one.
pub const DEFAULT_DATA_DIR: &str = "./data";
/// How long in-flight HTTP requests may take to finish after a shutdown signal.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(30);
/// Timeout of one outgoing webhook request.
const WEBHOOK_TIMEOUT_DEFAULT: Duration = Duration::from_secs(10);

/// Arguments of `smsgate serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Configuration file (TOML, `version = 1`). Without it every setting has its default.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Data directory (database, certificates). Overrides `data_dir` from the config file.
    /// Default: `./data` without a config file.
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Start N simulated modems (hw-sim) in-process and send through them.
    #[arg(long, value_name = "N")]
    pub sim: Option<u32>,
}

/// Runs the service until SIGTERM/SIGINT.
pub fn run(args: ServeArgs) -> anyhow::Result<()> {
    // Before any thread or large allocation exists (see the module's reasons).
    smsgate::ops::memory::tune_allocator();
    // Logs go to journald under systemd, else stderr; stdout carries the banner only.
    smsgate::ops::logging::init();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("smsgate")
        .build()?;
    runtime.block_on(serve(args))
}

fn load_settings(args: &ServeArgs) -> anyhow::Result<Settings> {
    let mut settings = match &args.config {
        Some(path) => Settings::load(path)?,
        None => Settings::default_with_data_dir(DEFAULT_DATA_DIR),
    };
    if let Some(dir) = &args.data_dir {
        settings.data_dir = dir.clone();
    }
    if let Some(n) = args.sim {
        settings.sim.count = n;
    }
    settings.validate()?;
    Ok(settings)
}

/// Creates the data directory readable by the service user only.
fn prepare_data_dir(dir: &Path) -> anyhow::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let existed = dir.exists();
    std::fs::create_dir_all(dir)
        .with_context(|| format!("cannot create data directory {}", dir.display()))?;
    if !existed {
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
            .with_context(|| format!("cannot restrict {}", dir.display()))?;
    }
    Ok(())
}

/// The first admin's password from the environment, checked against the policy before anything starts.
fn admin_password_from_env() -> anyhow::Result<Option<String>> {
    match std::env::var(ADMIN_PASSWORD_ENV) {
        Ok(p) => {
            PasswordPolicy::default()
                .check(ADMIN_LOGIN, &p)
                .with_context(|| format!("{ADMIN_PASSWORD_ENV} does not satisfy the password policy"))?;
            Ok(Some(p))
        }
        Err(_) => Ok(None),
    }
}

/// Creates the first admin on an empty database; returns its password if it was generated.
async fn bootstrap_admin(
    gateway: &Gateway,
    hasher: &PasswordHasher,
    from_env: Option<String>,
) -> anyhow::Result<Option<String>> {
    if gateway.account_count().await? > 0 {
        return Ok(None);
    }
    let generated = from_env.is_none();
    let password = from_env.unwrap_or_else(generate_password);
    let hash = hasher.hash_blocking(password.clone()).await?;
    match gateway.create_account(None, ADMIN_LOGIN, hash, Role::Admin).await {
        Ok(_) => Ok(generated.then_some(password)),
        // Another cluster node starting at the same moment created it first: the shared one counts.
        Err(smsgate::app::AppError::Conflict(_)) if gateway.in_cluster() => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// The account throttle from `[auth]`: backoff from the 3rd failure, locked after `lockout_failures`.
fn account_policy(settings: &Settings) -> ThrottlePolicy {
    let lockout_after = settings.auth.lockout_failures.max(1);
    ThrottlePolicy {
        free_failures: ThrottlePolicy::ACCOUNT
            .free_failures
            .min(lockout_after.saturating_sub(1)),
        lockout_after,
        lockout: Duration::from_secs(settings.auth.lockout_seconds),
        ..ThrottlePolicy::ACCOUNT
    }
}

/// Host names to print in URLs for a listener bound to `addr`.
fn url_hosts(addr: SocketAddr, settings: &Settings) -> Vec<String> {
    if addr.ip().is_unspecified() {
        settings.http.public_hostnames.clone()
    } else if addr.is_ipv6() {
        vec![format!("[{}]", addr.ip())]
    } else {
        vec![addr.ip().to_string()]
    }
}

async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let settings = load_settings(&args)?;
    let admin_password = admin_password_from_env()?;
    prepare_data_dir(&settings.data_dir)?;
    // Held while the service runs: `smsgate backup restore` refuses to replace the database under it.
    let _data_lock = smsgate::app::backup::lock_data_dir(&settings.data_dir)?;
    // A staged restore, the one-time conversion of a large database to incremental vacuum, or migrations
    // may take longer than systemd's start timeout: keep extending it until the gateway is up.
    let keepalive = smsgate::ops::systemd::StartupKeepAlive::start("starting: preparing the database");
    // A restore staged in the panel replaces the database now, before anything opens it. If it fails the
    // current database is untouched and the service starts with it.
    let restored = smsgate::app::backup::apply_staged_restore(&settings);
    if let Err(error) = &restored {
        tracing::error!(%error, "the staged restore failed; starting with the current database");
    }
    let sim = args.sim.is_some_and(|n| n > 0);
    let (gateway, handles) = Gateway::start(settings.clone(), sim)
        .await
        .context("cannot start the gateway")?;
    drop(keepalive);
    tracing::info!(?handles, "gateway started");
    match restored {
        Ok(Some(r)) => {
            let details = format!(
                "file={} schema={} requested_by={} requested_at={} previous_saved_as={}",
                r.staged.backup.display(),
                r.manifest.schema_version,
                r.staged.requested_by,
                r.staged.requested_at,
                r.previous.path.display()
            );
            gateway
                .audit(None, None, r.staged.source_ip, "backup.restored", Some(details))
                .await;
        }
        Ok(None) => {}
        Err(e) => {
            gateway
                .audit(None, None, None, "backup.restore_failed", Some(e.to_string()))
                .await;
        }
    }
    let result = run_started(&settings, &gateway, admin_password).await;
    // Whatever happened after the start, stop sends and flush the database before exiting.
    gateway.shutdown().await;
    result?;
    println!("smsgate stopped");
    Ok(())
}

/// Everything after the gateway core is up: certificate, listeners, workers, signals.
async fn run_started(
    settings: &Settings,
    gateway: &Gateway,
    admin_password: Option<String>,
) -> anyhow::Result<()> {
    let hasher = PasswordHasher::default();
    let generated_password = bootstrap_admin(gateway, &hasher, admin_password).await?;

    let mut sans = settings.http.public_hostnames.clone();
    sans.extend(settings.tls.san.iter().cloned());
    let operator = match (&settings.tls.cert, &settings.tls.key) {
        (Some(c), Some(k)) => Some((c.clone(), k.clone())),
        (None, None) => None,
        _ => bail!("tls.cert and tls.key must be given together"),
    };
    let certificate = Arc::new(
        ServerCertificate::prepare(operator, &settings.data_dir.join("tls"), &sans)
            .context("cannot prepare the server certificate")?,
    );
    let tls = Arc::new(server_config(
        Arc::clone(&certificate.resolver),
        ClientCertMode::Request,
    )?);

    let auth = Arc::new(Authenticator::new(
        Box::new(GatewayDirectory(gateway.clone())),
        hasher,
        LoginThrottle::new(account_policy(settings), ThrottlePolicy::ADDRESS),
        &AuthenticatorSettings {
            cache_ttl: Duration::from_secs(settings.auth.password_cache_seconds),
            ..AuthenticatorSettings::default()
        },
    ));
    let app = router(ApiState {
        gateway: gateway.clone(),
        auth,
        max_body_bytes: settings.http.max_body_bytes,
        rate_limit: smsgate::http::ratelimit::AccountRateLimiter::new(settings.http.requests_per_second)
            .map(Arc::new),
    })
    // The panel's TLS page manages the certificate this service serves.
    .layer(axum::Extension(Arc::clone(&certificate)));

    let shutdown = CancellationToken::new();
    let admission = spawn_pool_admission(gateway.clone(), settings, shutdown.clone()).await;
    let mut servers = tokio::task::JoinSet::new();
    let mut https_addrs = Vec::new();
    for addr in &settings.http.listen {
        let listener = TcpListener::bind(addr)
            .await
            .with_context(|| format!("cannot listen on {addr}"))?;
        let bound = listener.local_addr()?;
        https_addrs.push(bound);
        servers.spawn(
            TlsServer::new(Arc::clone(&tls))
                .with_admission(admission.clone())
                .run(listener, app.clone(), shutdown.clone()),
        );
    }
    let https_port = https_addrs.first().map_or(443, SocketAddr::port);
    let mut redirect_addrs = Vec::new();
    for addr in &settings.http.redirect_listen {
        let listener = TcpListener::bind(addr)
            .await
            .with_context(|| format!("cannot listen on {addr}"))?;
        redirect_addrs.push(listener.local_addr()?);
        let target = redirect::RedirectTarget {
            https_port,
            fallback_host: settings
                .http
                .public_hostnames
                .first()
                .cloned()
                .unwrap_or_else(|| "localhost".into()),
        };
        servers.spawn(run_plain(listener, redirect::router(target), shutdown.clone()));
    }

    let webhook_timeout = match settings.webhooks.timeout_seconds {
        0 => WEBHOOK_TIMEOUT_DEFAULT,
        s => Duration::from_secs(s),
    };
    let client = smsgate::http::client::outbound_client(&[], webhook_timeout)?;
    let worker = tokio::spawn(smsgate::http::webhooks::run_worker(
        gateway.clone(),
        client.clone(),
        shutdown.clone(),
    ));
    let dlr_worker = tokio::spawn(smsgate::http::kannel::run_dlr_worker(
        gateway.clone(),
        client,
        shutdown.clone(),
    ));

    print_banner(
        settings,
        &https_addrs,
        &redirect_addrs,
        certificate.ca_cert.as_deref(),
        generated_password,
    );
    smsgate::ops::systemd::ready(&format!("serving HTTPS on {https_addrs:?}"));
    if let Some(period) = smsgate::ops::systemd::watchdog_period() {
        spawn_watchdog(gateway.clone(), period, shutdown.clone());
    }

    let mut hangup = signal(SignalKind::hangup())?;
    let mut terminate = signal(SignalKind::terminate())?;
    let mut interrupt = signal(SignalKind::interrupt())?;
    loop {
        tokio::select! {
            _ = hangup.recv() => match certificate.reload() {
                Ok(()) => tracing::info!("server certificate reloaded"),
                Err(error) => tracing::error!(%error, "certificate reload failed; keeping the current one"),
            },
            _ = terminate.recv() => break,
            _ = interrupt.recv() => break,
        }
    }
    tracing::info!("shutting down: no new connections, finishing requests in flight");
    smsgate::ops::systemd::stopping();
    shutdown.cancel();
    let drained = tokio::time::timeout(DRAIN_TIMEOUT, async {
        while servers.join_next().await.is_some() {}
        let _ = worker.await;
        let _ = dlr_worker.await;
    })
    .await;
    if drained.is_err() {
        tracing::warn!("requests still running after {DRAIN_TIMEOUT:?}; closing them");
        servers.abort_all();
    }
    Ok(())
}

/// Keeps systemd's watchdog fed while the database answers: a probe reads from the store every period and
/// the keep-alive is withheld when no probe succeeded for three periods (a wedged writer or runtime gets
/// the service restarted).
/// How often the pre-handshake admission re-reads the accounts' IP pools (changes made by the CLI in
/// another process included). Requests are checked against the current pool regardless.
const ADMISSION_REFRESH: Duration = Duration::from_secs(5);

/// Drops connections before TLS from addresses no account could use; refreshed from the store.
async fn spawn_pool_admission(
    gateway: Gateway,
    settings: &Settings,
    shutdown: CancellationToken,
) -> Arc<smsgate::auth::admission::PoolAdmission> {
    let admission = Arc::new(smsgate::auth::admission::PoolAdmission::new());
    let trusted = settings.http.trusted_proxies.clone();
    // Prometheus scrapers in `metrics.allow` must get through even when every account has a pool.
    let scrapers = settings.metrics.allow.clone();
    let refresh = {
        let admission = Arc::clone(&admission);
        move |mut pools: Vec<Vec<ipnet::IpNet>>| {
            if !scrapers.is_empty() {
                pools.push(scrapers.clone());
            }
            admission.update(&pools, &trusted)
        }
    };
    if let Ok(pools) = gateway.all_ip_pools().await {
        refresh(pools);
    }
    tokio::spawn(async move {
        loop {
            tokio::select! {
                () = shutdown.cancelled() => break,
                () = tokio::time::sleep(ADMISSION_REFRESH) => {}
            }
            match gateway.all_ip_pools().await {
                Ok(pools) => refresh(pools),
                Err(error) => tracing::warn!(%error, "cannot refresh the IP pool admission"),
            }
        }
    });
    admission
}

fn spawn_watchdog(gateway: Gateway, period: Duration, shutdown: CancellationToken) {
    use std::sync::atomic::{AtomicU64, Ordering};
    let started = std::time::Instant::now();
    let last_ok = Arc::new(AtomicU64::new(0));
    let probe_ok = Arc::clone(&last_ok);
    let probe_shutdown = shutdown.clone();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(period);
        loop {
            tokio::select! {
                () = probe_shutdown.cancelled() => return,
                _ = tick.tick() => {
                    if let Ok(Ok(_)) = tokio::time::timeout(period, gateway.account_count()).await {
                        let elapsed = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
                        probe_ok.store(elapsed, Ordering::Relaxed);
                    }
                }
            }
        }
    });
    let limit = u64::try_from(period.saturating_mul(3).as_millis()).unwrap_or(u64::MAX);
    let healthy = move || {
        let now = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        now.saturating_sub(last_ok.load(Ordering::Relaxed)) <= limit
    };
    tokio::spawn(smsgate::ops::systemd::run_watchdog(period, healthy, shutdown));
}

fn print_banner(
    settings: &Settings,
    https: &[SocketAddr],
    redirect: &[SocketAddr],
    ca_cert: Option<&Path>,
    generated_password: Option<String>,
) {
    println!("smsgate {} serving", env!("CARGO_PKG_VERSION"));
    println!("  data directory: {}", settings.data_dir.display());
    for addr in https {
        for host in url_hosts(*addr, settings) {
            println!("  API:  https://{host}:{}/api/v1/", addr.port());
            println!("  Docs: https://{host}:{}/api/v1/docs", addr.port());
            println!("  Kannel sendsms: https://{host}:{}/cgi-bin/sendsms", addr.port());
            println!("  SOAP: https://{host}:{}/soap/v1?wsdl", addr.port());
            if settings.metrics.enabled() {
                println!("  Metrics: https://{host}:{}/metrics", addr.port());
            }
        }
    }
    for addr in redirect {
        println!("  plain HTTP on {addr} redirects to HTTPS");
    }
    if let Some(ca) = ca_cert {
        println!(
            "  appliance CA certificate (trust it in clients): {}",
            ca.display()
        );
    }
    if let Some(password) = generated_password {
        println!("  first admin account created: login `{ADMIN_LOGIN}`, password `{password}`");
        println!("  (shown only now; set {ADMIN_PASSWORD_ENV} before the first start to choose it)");
    }
}
