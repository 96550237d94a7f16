//! Whole-database snapshots, the one place that knows how each backend takes and loads them.
//!
//! SQLite: `VACUUM INTO` copies the database inside one read transaction, so writers carry on
//! (WAL) and the copy is a single self-contained file (rollback journal, no `-wal` beside it).
//! PostgreSQL: `pg_dump --format=custom` reads every table in one repeatable-read snapshot;
//! `pg_restore` loads it in a single transaction. The tools come from postgresql-client and
//! must be at least the server's major version.

mod postgres;
mod sqlite;

use std::path::{Path, PathBuf};

use diesel::RunQueryDsl;

use super::{Backend, DatabaseUrl, DbConnection};

/// How a snapshot file is encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SnapshotFormat {
    /// A SQLite database file.
    Sqlite,
    /// A `pg_dump --format=custom` archive.
    PgDumpCustom,
}

impl SnapshotFormat {
    pub fn name(self) -> &'static str {
        match self {
            Self::Sqlite => "sqlite3",
            Self::PgDumpCustom => "pg_dump-custom",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        [Self::Sqlite, Self::PgDumpCustom]
            .into_iter()
            .find(|f| f.name() == name)
    }

    pub fn backend(self) -> Backend {
        match self {
            Self::Sqlite => Backend::Sqlite,
            Self::PgDumpCustom => Backend::Postgres,
        }
    }
}

/// Writes a consistent snapshot of the database at `url` to `out`, which must not exist.
/// The database may be serving traffic meanwhile.
pub fn take(url: &DatabaseUrl, out: &Path) -> anyhow::Result<SnapshotFormat> {
    match url {
        DatabaseUrl::SqliteFile(path) => sqlite::take(path, out).map(|()| SnapshotFormat::Sqlite),
        DatabaseUrl::SqliteMemory => {
            anyhow::bail!("an in-memory SQLite database lives in one process: nothing to back up")
        }
        DatabaseUrl::Postgres(raw) => {
            postgres::take(raw, out).map(|()| SnapshotFormat::PgDumpCustom)
        }
    }
}

/// Checks that a snapshot file is well formed (SQLite: `PRAGMA integrity_check`; PostgreSQL:
/// `pg_restore` reads its table of contents) and returns the newest migration applied in it.
pub fn schema_version(format: SnapshotFormat, path: &Path) -> anyhow::Result<Option<String>> {
    match format {
        SnapshotFormat::Sqlite => sqlite::inspect(path),
        SnapshotFormat::PgDumpCustom => postgres::inspect(path),
    }
}

/// Loads a snapshot into the database at `url`.
///
/// `ensure_empty` runs first, on a connection to the target, and refuses a database that
/// holds data; one that another process has open is refused too. Then `finish` runs on the
/// restored database before anything else can use it: on SQLite the snapshot is copied
/// beside the target, finished there and only then moved into place; on PostgreSQL a failed
/// `finish` drops the restored tables again. Either way a failure leaves no half-restored
/// database behind.
pub fn load<T>(
    url: &DatabaseUrl,
    format: SnapshotFormat,
    snapshot: &Path,
    ensure_empty: impl FnOnce(&mut DbConnection) -> anyhow::Result<()>,
    finish: impl FnOnce(&mut DbConnection) -> anyhow::Result<T>,
) -> anyhow::Result<T> {
    if format.backend() != url.backend() {
        anyhow::bail!(
            "a {} snapshot cannot be restored into a {} database",
            format.backend().name(),
            url.backend().name()
        );
    }
    match url {
        DatabaseUrl::SqliteFile(target) => {
            let mut conn = super::connect_one(url)?;
            ensure_empty(&mut conn)?;
            drop(conn);
            sqlite::load(target, snapshot, finish)
        }
        DatabaseUrl::Postgres(raw) => postgres::load(raw, snapshot, ensure_empty, finish),
        DatabaseUrl::SqliteMemory => {
            anyhow::bail!("cannot restore into an in-memory SQLite database")
        }
    }
}

/// Rewrites storage so that values just overwritten (shredded data keys) leave no copy in
/// free space on disk: SQLite `VACUUM` (the whole file), PostgreSQL `VACUUM FULL` of
/// `tables`. Takes locks that stop traffic: for a database not yet serving.
pub fn compact(conn: &mut DbConnection, tables: &[&str]) -> diesel::QueryResult<()> {
    use diesel::connection::SimpleConnection;
    match conn {
        DbConnection::Sqlite(_) => conn.batch_execute("VACUUM"),
        DbConnection::Postgres(_) => {
            conn.batch_execute(&format!("VACUUM FULL {}", tables.join(", ")))
        }
    }
}

#[derive(diesel::QueryableByName)]
struct TableName {
    #[diesel(sql_type = diesel::sql_types::Text)]
    name: String,
}

/// The tables of the database (PostgreSQL: of the current schema), diesel's own included.
pub fn table_names(conn: &mut DbConnection) -> diesel::QueryResult<Vec<String>> {
    let sql = match conn {
        DbConnection::Sqlite(_) => {
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' \
             ORDER BY name"
        }
        DbConnection::Postgres(_) => {
            "SELECT tablename::text AS name FROM pg_tables \
             WHERE schemaname = current_schema() ORDER BY tablename"
        }
    };
    let rows: Vec<TableName> = diesel::sql_query(sql).load(conn)?;
    Ok(rows.into_iter().map(|r| r.name).collect())
}

/// `PATH` + suffix: the files that belong to another (`db-wal`, `FILE.manifest.json`).
pub fn beside(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

/// Joins a tool's standard error into one line for an error message.
fn one_line(stderr: &[u8]) -> String {
    let text = String::from_utf8_lossy(stderr);
    let lines: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    if lines.is_empty() {
        "no message".to_owned()
    } else {
        lines.join("; ")
    }
}
