//! SQLite snapshots: `VACUUM INTO` a new file, and a copy moved into place on restore.

use std::path::Path;

use anyhow::Context;
use diesel::connection::SimpleConnection;
use diesel::sql_types::Text;
use diesel::{Connection, RunQueryDsl, SqliteConnection};

use super::beside;
use crate::db::{migrations, DbConnection};

fn open(path: &Path) -> anyhow::Result<SqliteConnection> {
    let mut conn = SqliteConnection::establish(&path.to_string_lossy())
        .with_context(|| format!("opening {}", path.display()))?;
    conn.batch_execute("PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 5000;")?;
    Ok(conn)
}

fn remove_if_present(path: &Path) -> anyhow::Result<()> {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            Err(e).with_context(|| format!("removing {}", path.display()))
        }
        _ => Ok(()),
    }
}

pub(super) fn take(database: &Path, out: &Path) -> anyhow::Result<()> {
    if !database.is_file() {
        anyhow::bail!("there is no SQLite database at {}", database.display());
    }
    let mut conn = open(database)?;
    // One read transaction: a consistent copy while writers go on appending to the WAL.
    diesel::sql_query("VACUUM INTO ?")
        .bind::<Text, _>(out.to_string_lossy())
        .execute(&mut conn)
        .with_context(|| format!("VACUUM INTO {}", out.display()))?;
    drop(conn);
    // A self-contained file: never a `-wal` beside it that a copy could leave behind.
    open(out)?.batch_execute("PRAGMA journal_mode = DELETE;")?;
    Ok(())
}

#[derive(diesel::QueryableByName)]
struct IntegrityRow {
    #[diesel(sql_type = Text)]
    integrity_check: String,
}

pub(super) fn inspect(path: &Path) -> anyhow::Result<Option<String>> {
    let absolute =
        std::path::absolute(path).with_context(|| format!("resolving {}", path.display()))?;
    let uri = url::Url::from_file_path(&absolute)
        .map_err(|()| anyhow::anyhow!("{} is not a usable file path", path.display()))?;
    // Read-only: checking a snapshot must never change it.
    let mut conn = SqliteConnection::establish(&format!("{uri}?mode=ro"))
        .with_context(|| format!("opening {}", path.display()))?;
    let rows: Vec<IntegrityRow> = diesel::sql_query("PRAGMA integrity_check")
        .load(&mut conn)
        .context("the snapshot is not a readable SQLite database")?;
    if let Some(problem) = rows.iter().find(|r| r.integrity_check != "ok") {
        anyhow::bail!("PRAGMA integrity_check failed: {}", problem.integrity_check);
    }
    let mut conn = DbConnection::Sqlite(conn);
    Ok(migrations::applied_version(&mut conn)?)
}

pub(super) fn load<T>(
    target: &Path,
    snapshot: &Path,
    finish: impl FnOnce(&mut DbConnection) -> anyhow::Result<T>,
) -> anyhow::Result<T> {
    // The last connection to close removes the WAL; one still there means a process (a
    // server) has the database open, and a file swapped under it would be lost to it.
    let (wal, shm) = (beside(target, "-wal"), beside(target, "-shm"));
    if wal.exists() {
        anyhow::bail!(
            "{} is in use ({} exists): stop every process using it first",
            target.display(),
            wal.display()
        );
    }
    let staged = beside(target, ".restoring");
    let staged_files = ["", "-journal", "-wal", "-shm"].map(|s| beside(&staged, s));
    for file in &staged_files {
        remove_if_present(file)?;
    }
    let finished = (|| {
        std::fs::copy(snapshot, &staged)
            .with_context(|| format!("copying the snapshot to {}", staged.display()))?;
        let mut conn = DbConnection::Sqlite(open(&staged)?);
        let value = finish(&mut conn)?;
        drop(conn);
        std::fs::File::open(&staged)
            .and_then(|f| f.sync_all())
            .with_context(|| format!("syncing {}", staged.display()))?;
        Ok(value)
    })();
    let value = match finished {
        Ok(value) => value,
        Err(e) => {
            for file in &staged_files {
                let _ = std::fs::remove_file(file);
            }
            return Err(e);
        }
    };
    // Stale WAL files of the empty database must not be replayed onto the restored one.
    remove_if_present(&wal)?;
    remove_if_present(&shm)?;
    std::fs::rename(&staged, target)
        .with_context(|| format!("moving the restored database to {}", target.display()))?;
    if let Some(dir) = target.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::File::open(dir)
            .and_then(|d| d.sync_all())
            .with_context(|| format!("syncing {}", dir.display()))?;
    }
    Ok(value)
}
