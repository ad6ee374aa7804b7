//! Encrypted backups: taken while writes continue, restored into a wiped data directory with every row
//! back; wrong keys, corrupted and truncated backups refused with nothing overwritten; restore refused
//! while the service holds the data directory; the `smsgate backup` and `smsgate account` commands;
//! backups of older schema versions restored and migrated, of newer ones refused.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers outside #[test] fns

mod common;

use std::path::Path;
use std::process::Command;

use smsgate::app::backup::{
    BackupError, BackupKey, IDENTITY_FILE, RestoreKey, configured_key, create_backup, expire_backups,
    list_backups, lock_data_dir, restore_backup, verify_backup,
};
use smsgate::app::{Gateway, MessageFilter, Principal, Role, SubmitRequest};
use smsgate::config::Settings;
use smsgate::store::Scope;

fn now() -> time::OffsetDateTime {
    time::OffsetDateTime::now_utc()
}

async fn all_messages(gw: &Gateway) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut before = None;
    loop {
        let page = gw
            .store()
            .list_messages(
                Scope::All,
                MessageFilter {
                    before,
                    limit: 1000,
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        out.extend(page.items.iter().map(|m| (m.id.to_string(), m.recipient.clone())));
        match page.next_cursor.and_then(|c| c.parse().ok()) {
            Some(c) => before = Some(c),
            None => break,
        }
    }
    out.sort();
    out
}

fn smsgate() -> Command {
    Command::new(env!("CARGO_BIN_EXE_smsgate"))
}

fn run_ok(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn run_err(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap();
    assert!(!out.status.success(), "{cmd:?} should fail");
    String::from_utf8(out.stderr).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backup_while_writing_then_restore_into_a_wiped_data_dir() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let settings = Settings::default_with_data_dir(&data);
    let (gw, _) = Gateway::open(settings.clone()).await.unwrap();
    let shop = Principal::of(
        &gw.create_account(None, "shop", "h".into(), Role::Client)
            .await
            .unwrap(),
    );
    for i in 0..50 {
        gw.submit(
            &shop,
            SubmitRequest::new(vec![format!("+4869900{i:04}")], "before"),
            None,
        )
        .await
        .unwrap();
    }
    // Writes go on while the backup is taken.
    let writer = {
        let gw = gw.clone();
        let shop = shop.clone();
        tokio::spawn(async move {
            for i in 0..300 {
                gw.submit(
                    &shop,
                    SubmitRequest::new(vec![format!("+4869911{i:04}")], "during"),
                    None,
                )
                .await
                .unwrap();
            }
        })
    };
    let key = configured_key(&settings).unwrap();
    assert!(
        data.join(IDENTITY_FILE).exists(),
        "the appliance key pair is created on first use"
    );
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(data.join(IDENTITY_FILE))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let s = settings.clone();
    let info = tokio::task::spawn_blocking(move || create_backup(&s, &key, None, now()))
        .await
        .unwrap()
        .unwrap();
    writer.await.unwrap();
    assert_eq!(list_backups(&settings.backup_dir()).unwrap(), vec![info.clone()]);

    // What the backup holds: a consistent prefix of the writes (whole submissions, never a torn one).
    let own_key =
        RestoreKey::Identities(smsgate::app::backup::read_identities(&data.join(IDENTITY_FILE)).unwrap());
    let manifest = verify_backup(&info.path, &own_key, dir.path()).unwrap();
    assert_eq!(manifest.schema_version, smsgate::store::SCHEMA_VERSION);
    let live_after = all_messages(&gw).await;
    assert_eq!(live_after.len(), 350);

    // The running service holds the lock: restore is refused and nothing changes.
    let service_lock = lock_data_dir(&data).unwrap();
    assert!(matches!(
        restore_backup(&settings, &info.path, &own_key),
        Err(BackupError::ServiceRunning(_))
    ));
    drop(service_lock);
    gw.shutdown().await;

    // Disk dies: keep only the backup and the key, wipe the data directory, restore.
    let keep = dir.path().join("keep");
    std::fs::create_dir_all(&keep).unwrap();
    std::fs::copy(&info.path, keep.join("b.age")).unwrap();
    std::fs::copy(data.join(IDENTITY_FILE), keep.join("id.txt")).unwrap();
    std::fs::remove_dir_all(&data).unwrap();
    std::fs::create_dir_all(&data).unwrap();
    let key = RestoreKey::Identities(smsgate::app::backup::read_identities(&keep.join("id.txt")).unwrap());

    // Damaged backups are refused clearly, and nothing is written.
    let bytes = std::fs::read(keep.join("b.age")).unwrap();
    let truncated = keep.join("truncated.age");
    std::fs::write(&truncated, &bytes[..bytes.len() / 2]).unwrap();
    let mut flipped = bytes.clone();
    let at = bytes.len() - 100;
    flipped[at] ^= 0x55;
    let corrupted = keep.join("corrupted.age");
    std::fs::write(&corrupted, &flipped).unwrap();
    let garbage = keep.join("garbage.age");
    std::fs::write(&garbage, b"not a backup at all").unwrap();
    for bad in [&truncated, &corrupted, &garbage] {
        let err = restore_backup(&settings, bad, &key).unwrap_err();
        assert!(matches!(err, BackupError::Invalid(_)), "{bad:?}: {err}");
        assert!(
            !settings.database_path().exists(),
            "{bad:?} left a database behind"
        );
    }
    let wrong = RestoreKey::Identities(vec![age::x25519::Identity::generate()]);
    let err = restore_backup(&settings, &keep.join("b.age"), &wrong).unwrap_err();
    assert!(matches!(err, BackupError::WrongKey), "{err}");
    assert!(err.to_string().contains("wrong identity or passphrase"));
    assert!(!settings.database_path().exists());

    restore_backup(&settings, &keep.join("b.age"), &key).unwrap();
    let (gw, _) = Gateway::open(settings.clone()).await.unwrap();
    let restored = all_messages(&gw).await;
    assert!(restored.len() >= 50, "{}", restored.len());
    assert!(
        restored.iter().all(|m| live_after.contains(m)),
        "the backup holds only rows that were written"
    );
    assert!(gw.find_account_by_login("shop").await.unwrap().is_some());
    gw.shutdown().await;
}

#[test]
fn passphrase_backups_and_expiry() {
    let dir = tempfile::tempdir().unwrap();
    let settings = Settings::default_with_data_dir(dir.path());
    let store_dir = settings.data_dir.clone();
    // A database to back up.
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let (gw, _) = Gateway::open(settings.clone()).await.unwrap();
        gw.create_account(None, "x", "h".into(), Role::Client)
            .await
            .unwrap();
        gw.shutdown().await;
    });
    let pass = BackupKey::Passphrase("correct horse battery".to_owned().into());
    let old = create_backup(&settings, &pass, None, now() - time::Duration::days(800)).unwrap();
    let new = create_backup(&settings, &pass, None, now()).unwrap();
    let right = RestoreKey::Passphrase("correct horse battery".to_owned().into());
    verify_backup(&new.path, &right, &store_dir).unwrap();
    // The progress callback sees the whole file go by (the CLI's progress bar).
    let seen = std::sync::atomic::AtomicU64::new(0);
    smsgate::app::backup::verify_backup_with(&new.path, &right, &store_dir, &|n| {
        seen.fetch_max(n, std::sync::atomic::Ordering::Relaxed);
    })
    .unwrap();
    assert_eq!(seen.into_inner(), new.bytes);
    let wrong = RestoreKey::Passphrase("wrong".to_owned().into());
    assert!(matches!(
        verify_backup(&new.path, &wrong, &store_dir),
        Err(BackupError::WrongKey)
    ));
    let gone = expire_backups(&settings.backup_dir(), settings.backup_keep_days(), now()).unwrap();
    assert_eq!(gone, vec![old.path]);
    assert_eq!(list_backups(&settings.backup_dir()).unwrap(), vec![new]);
}

fn write_config(dir: &Path) -> std::path::PathBuf {
    let path = dir.join("smsgate.toml");
    std::fs::write(
        &path,
        format!("version = 1\ndata_dir = \"{}\"\n", dir.join("data").display()),
    )
    .unwrap();
    path
}

#[test]
fn cli_backup_and_account_deletion() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path());
    let settings = Settings::load(&config).unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let (gw, _) = Gateway::open(settings.clone()).await.unwrap();
        let a = gw
            .create_account(None, "gone", "h".into(), Role::Client)
            .await
            .unwrap();
        gw.submit(
            &Principal::of(&a),
            SubmitRequest::new(vec!["+48699000001".into()], "bye"),
            None,
        )
        .await
        .unwrap();
        gw.create_account(None, "stays", "h".into(), Role::Client)
            .await
            .unwrap();
        gw.shutdown().await;
    });
    let out = run_ok(smsgate().args(["backup", "create", "--config"]).arg(&config));
    assert!(out.contains(".db.age"), "{out}");
    let listed = run_ok(smsgate().args(["backup", "list", "--config"]).arg(&config));
    assert_eq!(listed.lines().count(), 1, "{listed}");
    assert!(
        listed.contains(&format!("v{}", smsgate::store::SCHEMA_VERSION)) && listed.contains("not verified"),
        "{listed}"
    );
    let file = listed.split_whitespace().last().unwrap().to_owned();
    run_ok(
        smsgate()
            .args(["backup", "verify", &file, "--config"])
            .arg(&config),
    );
    let listed = run_ok(smsgate().args(["backup", "list", "--config"]).arg(&config));
    assert!(listed.contains("verified 20"), "{listed}");

    // Offline deletion: erased at once and audited with the CLI user.
    let out = run_ok(
        smsgate()
            .args(["account", "delete-data", "gone", "--config"])
            .arg(&config),
    );
    assert!(out.contains("deleted"), "{out}");
    let err = run_err(
        smsgate()
            .args(["account", "delete-data", "nobody", "--config"])
            .arg(&config),
    );
    assert!(err.contains("no account"), "{err}");

    // With the service running (it holds the lock) restore is refused; the deletion is queued.
    let lock = lock_data_dir(&settings.data_dir).unwrap();
    let err = run_err(
        smsgate()
            .args(["backup", "restore", &file, "--config"])
            .arg(&config),
    );
    assert!(err.contains("running"), "{err}");
    let out = run_ok(
        smsgate()
            .args(["account", "delete-data", "stays", "--config"])
            .arg(&config),
    );
    assert!(out.contains("queued"), "{out}");
    drop(lock);

    rt.block_on(async {
        let (gw, _) = Gateway::open(settings.clone()).await.unwrap();
        assert!(gw.find_account_by_login("gone").await.unwrap().is_none());
        let log = gw.store().audit_log(None, 100).await.unwrap();
        assert!(
            log.iter().any(|e| e.action == "account.deletion_requested"
                && e.actor.as_deref().is_some_and(|a| a.starts_with("cli:"))),
            "{log:?}"
        );
        // The queued request is carried out by the service's scheduler (its first tick may beat us).
        gw.run_due_deletions().await.unwrap();
        assert!(gw.find_account_by_login("stays").await.unwrap().is_none());
        gw.shutdown().await;
    });

    // Restore with the service stopped: both accounts are back.
    run_ok(
        smsgate()
            .args(["backup", "restore", &file, "--config"])
            .arg(&config),
    );
    rt.block_on(async {
        let (gw, _) = Gateway::open(settings.clone()).await.unwrap();
        assert!(gw.find_account_by_login("gone").await.unwrap().is_some());
        assert!(gw.find_account_by_login("stays").await.unwrap().is_some());
        gw.shutdown().await;
    });
}

/// A database as a build at schema `version` left it, with one client, a delivered message, an inbox
/// item and an audit entry written with that version's columns only (all exist since version 1).
fn legacy_database(settings: &Settings, version: usize) {
    std::fs::create_dir_all(&settings.data_dir).unwrap();
    let db = settings.database_path();
    smsgate::store::create_database_at_version(&db, version).unwrap();
    let hash = smsgate::auth::PasswordHasher::insecure_fast()
        .hash(common::PASSWORD)
        .unwrap();
    let conn = rusqlite::Connection::open(&db).unwrap();
    conn.execute_batch(&format!(
        "INSERT INTO accounts (id, login, password_hash, role, created_at)
             VALUES (77, 'legacy', '{hash}', 'client', 1000);
         INSERT INTO messages (id, account_id, recipient, text, encoding, status, parts, created_at, updated_at)
             VALUES ('{LEGACY_MSG}', 77, '+48600555111', 'sent by an old build', 'gsm7', 'delivered', 1,
                     {t}, {t});
         INSERT INTO message_parts (message_id, seq, pdu, tpdu_len, status)
             VALUES ('{LEGACY_MSG}', 1, '0011000B914806551511F10000AA', 14, 'delivered');
         INSERT INTO inbox (id, account_id, originator, text, modem, received_at, parts)
             VALUES ('{LEGACY_INBOX}', 77, '+48600555111', 'answer kept by an old build', 'imei-1', {t}, 1);
         INSERT INTO audit_log (at, actor, action) VALUES ({t}, 'legacy', 'login.ok');",
        t = smsgate::store::now_ms() - 60_000,
    ))
    .unwrap();
    let version_in_file: i64 = conn
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .unwrap();
    assert_eq!(version_in_file as usize, version);
}

const LEGACY_MSG: &str = "01890a5d-ac96-774b-bcce-b302099a8057";
const LEGACY_INBOX: &str = "01890a5d-ac96-774b-bcce-b302099a8058";

/// Backup of an older schema → wipe → restore with this build's CLI → the gateway migrates the restored
/// database at start and serves the old data over HTTPS; the old client can keep sending.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_of_an_older_schema_is_restored_and_migrated() {
    for version in 1..smsgate::store::SCHEMA_VERSION {
        let dir = tempfile::tempdir().unwrap();
        let settings = Settings::default_with_data_dir(dir.path());
        legacy_database(&settings, version);
        let key = configured_key(&settings).unwrap();
        let s = settings.clone();
        let info = tokio::task::spawn_blocking(move || create_backup(&s, &key, None, now()))
            .await
            .unwrap()
            .unwrap();
        // Disk dies: only the backup and the key survive.
        let keep = tempfile::tempdir().unwrap();
        std::fs::copy(&info.path, keep.path().join("b.age")).unwrap();
        std::fs::copy(dir.path().join(IDENTITY_FILE), keep.path().join("id.txt")).unwrap();
        for entry in std::fs::read_dir(dir.path()).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                std::fs::remove_dir_all(&path).unwrap();
            } else {
                std::fs::remove_file(&path).unwrap();
            }
        }
        let out = run_ok(
            smsgate()
                .args(["backup", "restore"])
                .arg(keep.path().join("b.age"))
                .arg("--identity")
                .arg(keep.path().join("id.txt"))
                .arg("--data-dir")
                .arg(dir.path()),
        );
        assert!(out.contains(&format!("schema version {version}")), "{out}");

        let gw = common::start_in(dir, |_| {}, false).await;
        let schema: i64 = rusqlite::Connection::open(gw.dir.path().join("smsgate.db"))
            .unwrap()
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .unwrap();
        assert_eq!(
            schema as usize,
            smsgate::store::SCHEMA_VERSION,
            "migrated at start"
        );
        let list = gw.list_as("legacy", "").await;
        let items = list["items"].as_array().unwrap();
        assert_eq!(items.len(), 1, "v{version}: {list}");
        assert_eq!(items[0]["id"], LEGACY_MSG);
        assert_eq!(items[0]["status"], "delivered");
        let inbox: serde_json::Value = gw
            .http()
            .get(gw.url("/api/v1/inbox"))
            .basic_auth("legacy", Some(common::PASSWORD))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(inbox["items"][0]["id"], LEGACY_INBOX, "v{version}: {inbox}");
        let sent = gw
            .send_as(
                "legacy",
                serde_json::json!({"to": ["+48600555112"], "text": "after the restore"}),
            )
            .await;
        assert_eq!(sent.status(), 202, "v{version}");
        let log = gw.gateway.store().audit_log(None, 100).await.unwrap();
        assert!(
            log.iter()
                .any(|e| e.action == "login.ok" && e.actor.as_deref() == Some("legacy"))
        );
    }
}

/// A backup from a newer build is refused by verify and restore with a message naming both versions;
/// a damaged backup is refused too; the live database is not touched by either.
#[test]
fn a_newer_schema_or_a_damaged_backup_never_replaces_the_live_database() {
    let dir = tempfile::tempdir().unwrap();
    let settings = Settings::default_with_data_dir(dir.path());
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let (gw, _) = Gateway::open(settings.clone()).await.unwrap();
        gw.create_account(None, "live", "h".into(), Role::Client)
            .await
            .unwrap();
        gw.shutdown().await;
    });
    let key = configured_key(&settings).unwrap();
    let own = RestoreKey::Identities(
        smsgate::app::backup::read_identities(&dir.path().join(IDENTITY_FILE)).unwrap(),
    );
    // A "future" database: this schema plus one, as a newer build would write it.
    let future = tempfile::tempdir().unwrap();
    let future_settings = Settings::default_with_data_dir(future.path());
    std::fs::create_dir_all(future.path()).unwrap();
    smsgate::store::create_database_at_version(
        &future_settings.database_path(),
        smsgate::store::SCHEMA_VERSION,
    )
    .unwrap();
    rusqlite::Connection::open(future_settings.database_path())
        .unwrap()
        .pragma_update(None, "user_version", smsgate::store::SCHEMA_VERSION as i64 + 1)
        .unwrap();
    let newer = create_backup(&future_settings, &key, None, now()).unwrap();

    let live = std::fs::read(settings.database_path()).unwrap();
    let err = verify_backup(&newer.path, &own, dir.path()).unwrap_err();
    assert!(
        matches!(err, BackupError::NewerSchema { found, supported }
            if found == smsgate::store::SCHEMA_VERSION + 1 && supported == smsgate::store::SCHEMA_VERSION),
        "{err}"
    );
    let err = restore_backup(&settings, &newer.path, &own).unwrap_err();
    assert!(matches!(err, BackupError::NewerSchema { .. }), "{err}");
    assert!(err.to_string().contains("this build supports up to"), "{err}");
    let cli = run_err(
        smsgate()
            .args(["backup", "restore"])
            .arg(&newer.path)
            .arg("--data-dir")
            .arg(dir.path()),
    );
    assert!(cli.contains("schema version"), "{cli}");

    // Truncated and corrupted copies of a good backup: refused, and the live database stays byte for byte.
    let good = create_backup(&settings, &key, None, now()).unwrap();
    let bytes = std::fs::read(&good.path).unwrap();
    let truncated = dir.path().join("truncated.age");
    std::fs::write(&truncated, &bytes[..bytes.len() - 1000]).unwrap();
    let mut flipped = bytes.clone();
    let middle = bytes.len() / 2;
    flipped[middle] ^= 0x01;
    let corrupted = dir.path().join("corrupted.age");
    std::fs::write(&corrupted, &flipped).unwrap();
    for bad in [&truncated, &corrupted] {
        let err = restore_backup(&settings, bad, &own).unwrap_err();
        assert!(matches!(err, BackupError::Invalid(_)), "{bad:?}: {err}");
        let cli = run_err(
            smsgate()
                .args(["backup", "restore"])
                .arg(bad)
                .arg("--data-dir")
                .arg(dir.path()),
        );
        assert!(cli.contains("not a valid smsgate backup"), "{cli}");
    }
    assert_eq!(
        std::fs::read(settings.database_path()).unwrap(),
        live,
        "the live database was touched"
    );
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".tmp"))
        .collect();
    assert!(
        leftovers.is_empty(),
        "no decrypted copies left behind: {leftovers:?}"
    );
}

/// A restore staged in the panel happens at the next start, exactly once: the database it replaces is
/// saved as a backup first; a staged backup that vanished leaves the database as it was.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_staged_restore_runs_once_at_the_next_start() {
    use smsgate::app::backup::{apply_staged_restore, staged_restore};
    let dir = tempfile::tempdir().unwrap();
    let settings = Settings::default_with_data_dir(dir.path());
    let (gw, _) = Gateway::open(settings.clone()).await.unwrap();
    let root = Principal::of(
        &gw.create_account(None, "root", "h".into(), Role::Admin)
            .await
            .unwrap(),
    );
    let taken = gw.take_backup(&root, None).await.unwrap();
    gw.create_account(None, "after", "h".into(), Role::Client)
        .await
        .unwrap();
    let name = taken.path.file_name().unwrap().to_str().unwrap().to_owned();
    gw.stage_restore(&root, &name, Some("192.0.2.1".into()))
        .await
        .unwrap();
    gw.shutdown().await;

    let applied = apply_staged_restore(&settings).unwrap().unwrap();
    assert_eq!(applied.staged.requested_by, "root");
    assert!(staged_restore(dir.path()).is_none(), "the marker is gone");
    assert!(apply_staged_restore(&settings).unwrap().is_none(), "runs once");
    let (gw, _) = Gateway::open(settings.clone()).await.unwrap();
    assert!(gw.find_account_by_login("root").await.unwrap().is_some());
    assert!(
        gw.find_account_by_login("after").await.unwrap().is_none(),
        "the database is the backup's"
    );
    assert_eq!(list_backups(&settings.backup_dir()).unwrap().len(), 2);
    gw.shutdown().await;

    // The replaced database was saved: restoring that one brings "after" back.
    restore_backup(
        &settings,
        &applied.previous.path,
        &smsgate::app::backup::own_restore_key(dir.path()).unwrap(),
    )
    .unwrap();
    let (gw, _) = Gateway::open(settings.clone()).await.unwrap();
    assert!(gw.find_account_by_login("after").await.unwrap().is_some());
    let root = Principal::of(&gw.find_account_by_login("root").await.unwrap().unwrap());
    // A staged backup deleted before the start: the restore fails, the database stays.
    let again = gw.take_backup(&root, None).await.unwrap();
    let again_name = again.path.file_name().unwrap().to_str().unwrap().to_owned();
    gw.stage_restore(&root, &again_name, None).await.unwrap();
    gw.shutdown().await;
    std::fs::remove_file(&again.path).unwrap();
    let live = std::fs::read(settings.database_path()).unwrap();
    assert!(apply_staged_restore(&settings).is_err());
    assert!(
        staged_restore(dir.path()).is_none(),
        "a failed restore does not repeat"
    );
    assert_eq!(std::fs::read(settings.database_path()).unwrap(), live);
}
