//! Consistent copies of the database while the service writes to it (SQLite's online backup API), and
//! the checks a copy must pass before it may replace the live database.
use std::path::Path;
use std::time::Duration;

use rusqlite::backup::StepResult;
use rusqlite::{Connection, OpenFlags};

use super::{BUSY_TIMEOUT, StoreError, StoreResult};

/// Copy every page in one step: the copy is one read transaction, so it is a consistent snapshot even
/// while the writer commits (stepping in chunks would restart at every foreign commit under WAL).
const ALL_PAGES: std::os::raw::c_int = -1;
/// Pause before retrying a step that found the source locked.
const RETRY: Duration = Duration::from_millis(50);

/// Copies the database at `db` into a new file `dest` (which must not exist), while other connections
/// may keep writing. The copy is a complete database file of the current schema.
pub fn snapshot(db: &Path, dest: &Path) -> StoreResult<()> {
    let src = Connection::open_with_flags(
        db,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    src.busy_timeout(BUSY_TIMEOUT)?;
    let mut dst = Connection::open(dest)?;
    {
        let backup = rusqlite::backup::Backup::new(&src, &mut dst)?;
        let deadline = std::time::Instant::now() + BUSY_TIMEOUT;
        loop {
            match backup.step(ALL_PAGES)? {
                StepResult::Done => break,
                // More cannot follow a step of all pages; Busy/Locked: the writer is checkpointing.
                _ if std::time::Instant::now() < deadline => std::thread::sleep(RETRY),
                _ => {
                    return Err(StoreError::Transaction(
                        "the database stayed locked during the backup".into(),
                    ));
                }
            }
        }
    }
    // The copy carries the WAL flag of the source; as a stand-alone file it should be self-contained.
    dst.pragma_update(None, "journal_mode", "DELETE")?;
    dst.close().map_err(|(_, e)| StoreError::Sqlite(e))?;
    Ok(())
}

/// Checks a database file that is not in use: SQLite's full integrity check must pass. Returns its
/// schema version (`user_version`).
pub fn verify_database(path: &Path) -> StoreResult<usize> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    let verdict: String = conn.query_row("PRAGMA integrity_check(1)", [], |r| r.get(0))?;
    if verdict != "ok" {
        return Err(StoreError::bad_row(format!("integrity check failed: {verdict}")));
    }
    let version: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
    usize::try_from(version).map_err(|_| StoreError::bad_row("negative schema version"))
}
