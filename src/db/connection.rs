//! Backend selection from the URL scheme, and an r2d2 manager that opens the right connection.
//!
//! diesel's derived `MultiConnection::establish` tries each backend in turn and hides the real
//! error (a wrong PostgreSQL password reads as "invalid URL"), so the backend is chosen here.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use diesel::connection::{Instrumentation, InstrumentationEvent, SimpleConnection};
use diesel::{Connection, ConnectionError, PgConnection, SqliteConnection};

#[derive(diesel::MultiConnection)]
pub enum DbConnection {
    Postgres(PgConnection),
    Sqlite(SqliteConnection),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn name(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }

    /// The OpenTelemetry name of the database system (`db.system.name`).
    pub fn system_name(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgresql",
        }
    }
}

/// A parsed `DATABASE_URL`. `Debug` never prints a PostgreSQL password.
#[derive(Clone, PartialEq, Eq)]
pub enum DatabaseUrl {
    SqliteFile(PathBuf),
    SqliteMemory,
    Postgres(String),
}

impl std::fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.redacted())
    }
}

impl DatabaseUrl {
    /// Accepts `sqlite://PATH`, `sqlite:PATH`, `sqlite::memory:` and `postgres://…` /
    /// `postgresql://…`.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let raw = raw.trim();
        if raw == "sqlite::memory:" || raw == "sqlite://:memory:" {
            return Ok(Self::SqliteMemory);
        }
        if let Some(rest) = raw.strip_prefix("sqlite:") {
            let path = rest.strip_prefix("//").unwrap_or(rest);
            if path.is_empty() {
                return Err(
                    "a sqlite URL needs a file path, e.g. sqlite://./data/valise.db".into(),
                );
            }
            return Ok(Self::SqliteFile(PathBuf::from(path)));
        }
        if raw.starts_with("postgres://") || raw.starts_with("postgresql://") {
            url::Url::parse(raw).map_err(|e| format!("not a valid PostgreSQL URL ({e})"))?;
            return Ok(Self::Postgres(raw.to_owned()));
        }
        Err("expected sqlite://PATH, sqlite::memory: or postgres://…".into())
    }

    pub fn backend(&self) -> Backend {
        match self {
            Self::Postgres(_) => Backend::Postgres,
            _ => Backend::Sqlite,
        }
    }

    pub fn is_sqlite_memory(&self) -> bool {
        matches!(self, Self::SqliteMemory)
    }

    /// The URL as `DATABASE_URL` would hold it, credentials included (for child processes).
    pub fn to_env_value(&self) -> String {
        match self {
            Self::SqliteFile(p) => format!("sqlite://{}", p.display()),
            Self::SqliteMemory => "sqlite::memory:".into(),
            Self::Postgres(raw) => raw.clone(),
        }
    }

    /// The URL with any password replaced, safe for logs.
    pub fn redacted(&self) -> String {
        match self {
            Self::SqliteFile(p) => format!("sqlite://{}", p.display()),
            Self::SqliteMemory => "sqlite::memory:".into(),
            Self::Postgres(raw) => match url::Url::parse(raw) {
                Ok(mut u) => {
                    if u.password().is_some() {
                        let _ = u.set_password(Some("***"));
                    }
                    u.to_string()
                }
                Err(_) => "postgres://…".into(),
            },
        }
    }
}

/// Whether PostgreSQL connections keep diesel's prepared statements between queries
/// (`VALISE_DB_PREPARED_STATEMENTS`).
///
/// diesel names each statement it prepares and reuses it later on the same connection. Behind
/// a pooler in transaction mode (PgBouncer) consecutive transactions of one client run on
/// different server connections: a named statement is then missing on the next one ("prepared
/// statement does not exist") or already there from another client ("already exists").
/// `Unnamed` sends every query as an unnamed statement, prepared and run within one round
/// trip, which any pooler passes. SQLite ignores it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatementCache {
    Named,
    Unnamed,
}

pub struct ConnectionManager {
    url: DatabaseUrl,
    statements: StatementCache,
    counted: Arc<AtomicU64>,
}

impl ConnectionManager {
    /// `counted` adds up the statements every connection of this manager sends (see
    /// [`count_statements`]).
    pub fn new(
        url: DatabaseUrl,
        statements: StatementCache,
        counted: Arc<AtomicU64>,
    ) -> anyhow::Result<Self> {
        if let DatabaseUrl::SqliteFile(path) = &url {
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir).map_err(|e| {
                    anyhow::anyhow!("cannot create database directory {}: {e}", dir.display())
                })?;
            }
            // WAL is a property of the file: set it once, before the pool opens connections.
            let mut conn = SqliteConnection::establish(&path.to_string_lossy())?;
            conn.batch_execute("PRAGMA journal_mode = WAL;")?;
        }
        Ok(Self {
            url,
            statements,
            counted,
        })
    }
}

/// Counts each statement a connection finishes into `counted`: every round trip, including
/// `BEGIN`, `COMMIT` and a pool's `SELECT 1`, whether it succeeded or not. One relaxed atomic
/// add per statement; the count is what `valise_db_statements_total` exposes and what the
/// benchmark harness divides by the orders of its checkout flow.
fn count_statements(counted: Arc<AtomicU64>) -> impl Instrumentation {
    move |event: InstrumentationEvent<'_>| {
        if matches!(event, InstrumentationEvent::FinishQuery { .. }) {
            counted.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// Per-connection SQLite settings. `synchronous = FULL` keeps an acknowledged order on disk
/// even across a power loss; `busy_timeout` lets concurrent writers queue instead of failing;
/// `secure_delete` zeroes what a delete or update frees, so a shredded key's bytes do not
/// linger in free space of a page (see `db::forget_freed` for the WAL).
const SQLITE_PRAGMAS: &str = "PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 5000; \
                              PRAGMA synchronous = FULL; PRAGMA secure_delete = ON;";

/// How long after a piece of work succeeded on a connection the pool hands it out again
/// without a `SELECT 1` first. A round trip per checkout was 7 of the ~60 statements of a
/// checkout flow; a connection that just worked is as good as proven (HikariCP's
/// `aliveBypassWindowMs` is the same idea, at 500 ms).
const PROVEN_FOR: Duration = Duration::from_secs(1);

/// A pooled connection and when a piece of work last succeeded on it.
pub struct Pooled {
    conn: DbConnection,
    proven_at: Option<Instant>,
}

impl Pooled {
    pub(crate) fn connection(&mut self) -> &mut DbConnection {
        &mut self.conn
    }

    /// Records how the work on this checkout ended: a failure (any error, from a 404 to a
    /// lost server) makes the next checkout test the connection first.
    pub(crate) fn settle(&mut self, succeeded: bool) {
        self.proven_at = succeeded.then(Instant::now);
    }

    fn is_fresh(&self) -> bool {
        self.proven_at.is_some_and(|at| at.elapsed() < PROVEN_FOR)
    }
}

impl std::ops::Deref for Pooled {
    type Target = DbConnection;
    fn deref(&self) -> &DbConnection {
        &self.conn
    }
}

impl std::ops::DerefMut for Pooled {
    fn deref_mut(&mut self) -> &mut DbConnection {
        &mut self.conn
    }
}

impl r2d2::ManageConnection for ConnectionManager {
    type Connection = Pooled;
    type Error = ConnectionError;

    fn connect(&self) -> Result<Pooled, ConnectionError> {
        self.open().map(|conn| Pooled {
            conn,
            proven_at: None,
        })
    }

    /// Tests a connection with `SELECT 1` unless work succeeded on it within [`PROVEN_FOR`].
    fn is_valid(&self, pooled: &mut Pooled) -> Result<(), ConnectionError> {
        if pooled.is_fresh() {
            return Ok(());
        }
        pooled
            .conn
            .batch_execute("SELECT 1")
            .map_err(ConnectionError::CouldntSetupConfiguration)?;
        pooled.proven_at = Some(Instant::now());
        Ok(())
    }

    /// A connection left inside a transaction, or whose transaction state diesel lost
    /// track of (a failed rollback), is closed rather than handed out again.
    fn has_broken(&self, pooled: &mut Pooled) -> bool {
        use diesel::connection::{AnsiTransactionManager, TransactionManager};
        match &mut pooled.conn {
            DbConnection::Postgres(c) => AnsiTransactionManager::is_broken_transaction_manager(c),
            DbConnection::Sqlite(c) => AnsiTransactionManager::is_broken_transaction_manager(c),
        }
    }
}

impl ConnectionManager {
    pub(super) fn open(&self) -> Result<DbConnection, ConnectionError> {
        match &self.url {
            DatabaseUrl::Postgres(raw) => {
                let mut conn = PgConnection::establish(raw)?;
                conn.set_instrumentation(count_statements(self.counted.clone()));
                if self.statements == StatementCache::Unnamed {
                    conn.set_prepared_statement_cache_size(diesel::connection::CacheSize::Disabled);
                }
                Ok(DbConnection::Postgres(conn))
            }
            DatabaseUrl::SqliteMemory => {
                let mut conn = SqliteConnection::establish(":memory:")?;
                conn.set_instrumentation(count_statements(self.counted.clone()));
                conn.batch_execute(SQLITE_PRAGMAS)
                    .map_err(ConnectionError::CouldntSetupConfiguration)?;
                Ok(DbConnection::Sqlite(conn))
            }
            DatabaseUrl::SqliteFile(path) => {
                let mut conn = SqliteConnection::establish(&path.to_string_lossy())?;
                conn.set_instrumentation(count_statements(self.counted.clone()));
                conn.batch_execute(SQLITE_PRAGMAS)
                    .map_err(ConnectionError::CouldntSetupConfiguration)?;
                Ok(DbConnection::Sqlite(conn))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_documented_form() {
        assert_eq!(
            DatabaseUrl::parse("sqlite://./data/valise.db"),
            Ok(DatabaseUrl::SqliteFile("./data/valise.db".into()))
        );
        assert_eq!(
            DatabaseUrl::parse("sqlite:///tmp/x.db"),
            Ok(DatabaseUrl::SqliteFile("/tmp/x.db".into()))
        );
        assert_eq!(
            DatabaseUrl::parse("sqlite::memory:"),
            Ok(DatabaseUrl::SqliteMemory)
        );
        assert_eq!(
            DatabaseUrl::parse("postgres://u:p@127.0.0.1/db").map(|u| u.backend()),
            Ok(Backend::Postgres)
        );
        assert!(DatabaseUrl::parse("mysql://x").is_err());
        assert!(DatabaseUrl::parse("sqlite://").is_err());
    }

    #[test]
    fn redaction_hides_the_password() {
        let url = DatabaseUrl::parse("postgres://valise:hunter2@db:5432/valise").unwrap();
        assert!(!url.redacted().contains("hunter2"));
        assert!(!format!("{url:?}").contains("hunter2"));
    }
}
