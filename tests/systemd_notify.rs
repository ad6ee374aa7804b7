//! The systemd notification protocol over a real datagram socket, as systemd provides it.
use std::os::unix::net::UnixDatagram;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use smsgate::ops::systemd;
use tokio_util::sync::CancellationToken;

fn recv(sock: &UnixDatagram) -> String {
    let mut buf = [0u8; 512];
    let n = sock.recv(&mut buf).unwrap_or_else(|e| panic!("no datagram: {e}"));
    String::from_utf8_lossy(&buf[..n]).into_owned()
}

// One test only in this binary: it sets process-wide environment variables.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readiness_status_and_watchdog_reach_the_notify_socket() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("notify");
    let sock = UnixDatagram::bind(&path).unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    // SAFETY: this test binary has a single test, so no other thread reads the environment concurrently.
    unsafe {
        std::env::set_var("NOTIFY_SOCKET", &path);
        std::env::set_var("WATCHDOG_USEC", "200000");
        std::env::set_var("WATCHDOG_PID", std::process::id().to_string());
    }

    systemd::ready("4 modems ready");
    assert_eq!(recv(&sock), "READY=1\nSTATUS=4 modems ready\n");

    let period = systemd::watchdog_period().expect("watchdog enabled");
    assert_eq!(period, Duration::from_millis(100));

    let healthy = Arc::new(AtomicBool::new(true));
    let flag = healthy.clone();
    let shutdown = CancellationToken::new();
    let task = tokio::spawn(systemd::run_watchdog(
        period,
        move || flag.load(Ordering::SeqCst),
        shutdown.clone(),
    ));
    assert_eq!(recv(&sock), "WATCHDOG=1\n");
    assert_eq!(recv(&sock), "WATCHDOG=1\n");

    // An unhealthy gateway withholds the keep-alive.
    healthy.store(false, Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(150)).await;
    sock.set_nonblocking(true).unwrap();
    let mut buf = [0u8; 64];
    while sock.recv(&mut buf).is_ok() {}
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(sock.recv(&mut buf).is_err(), "no keep-alive while unhealthy");

    shutdown.cancel();
    task.await.unwrap();
    systemd::stopping();
    sock.set_nonblocking(false).unwrap();
    assert_eq!(recv(&sock), "STOPPING=1\n");

    // A long start (staged restore, one-time VACUUM) extends systemd's start timeout until dropped.
    {
        let _keepalive = systemd::StartupKeepAlive::start("starting: preparing the database");
        assert_eq!(
            recv(&sock),
            "EXTEND_TIMEOUT_USEC=60000000\nSTATUS=starting: preparing the database\n"
        );
    }
    sock.set_nonblocking(true).unwrap();
    assert!(
        sock.recv(&mut buf).is_err(),
        "nothing after the keep-alive is dropped"
    );
}
