//! Backend selection from the URL scheme, and an r2d2 manager that opens the right connection.
//!
//! diesel's derived `MultiConnection::establish` tries each backend in turn and hides the real
//! error (a wrong PostgreSQL password reads as "invalid URL"), so the backend is chosen here.

use std::path::PathBuf;

use diesel::connection::SimpleConnection;
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

pub struct ConnectionManager {
    url: DatabaseUrl,
}

impl ConnectionManager {
    pub fn new(url: DatabaseUrl) -> anyhow::Result<Self> {
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
        Ok(Self { url })
    }
}

/// Per-connection SQLite settings. `synchronous = FULL` keeps an acknowledged order on disk
/// even across a power loss; `busy_timeout` lets concurrent writers queue instead of failing.
const SQLITE_PRAGMAS: &str = "PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 5000; \
                              PRAGMA synchronous = FULL;";

impl r2d2::ManageConnection for ConnectionManager {
    type Connection = DbConnection;
    type Error = ConnectionError;

    fn connect(&self) -> Result<DbConnection, ConnectionError> {
        match &self.url {
            DatabaseUrl::Postgres(raw) => PgConnection::establish(raw).map(DbConnection::Postgres),
            DatabaseUrl::SqliteMemory => {
                let mut conn = SqliteConnection::establish(":memory:")?;
                conn.batch_execute(SQLITE_PRAGMAS)
                    .map_err(ConnectionError::CouldntSetupConfiguration)?;
                Ok(DbConnection::Sqlite(conn))
            }
            DatabaseUrl::SqliteFile(path) => {
                let mut conn = SqliteConnection::establish(&path.to_string_lossy())?;
                conn.batch_execute(SQLITE_PRAGMAS)
                    .map_err(ConnectionError::CouldntSetupConfiguration)?;
                Ok(DbConnection::Sqlite(conn))
            }
        }
    }

    fn is_valid(&self, conn: &mut DbConnection) -> Result<(), ConnectionError> {
        conn.batch_execute("SELECT 1")
            .map_err(ConnectionError::CouldntSetupConfiguration)
    }

    fn has_broken(&self, _conn: &mut DbConnection) -> bool {
        false
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
