//! Embedded migrations, one tree per backend with the same names (a test checks that both
//! trees produce the same tables and columns).

use diesel::RunQueryDsl;
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};

use super::DbConnection;

const SQLITE: EmbeddedMigrations = embed_migrations!("migrations/sqlite");
const POSTGRES: EmbeddedMigrations = embed_migrations!("migrations/postgres");

/// Arbitrary but fixed key for `pg_advisory_xact_lock`: diesel takes no lock of its own, and
/// two processes (or parallel tests) migrating one database at once would collide.
const MIGRATION_LOCK_KEY: i64 = 0x7661_6c69_7365; // "valise"

/// Applies every pending migration and returns the versions it applied.
///
/// On PostgreSQL every pending migration runs in one transaction that first takes a
/// transaction-level advisory lock: a second process waits for it, then finds nothing
/// pending. The lock is the transaction's, not the session's, so it also holds behind a
/// pooler in transaction mode (PgBouncer), where a session lock taken in one statement and
/// released in another may meet two different server connections. A failing migration rolls
/// back every migration of the run with it.
pub fn run_pending(conn: &mut DbConnection) -> anyhow::Result<Vec<String>> {
    let applied = match conn {
        DbConnection::Sqlite(c) => c
            .run_pending_migrations(SQLITE)
            .map_err(|e| anyhow::anyhow!("running SQLite migrations: {e}"))?
            .iter()
            .map(|v| v.to_string())
            .collect(),
        DbConnection::Postgres(c) => {
            use diesel::Connection;
            c.transaction(|c| {
                diesel::sql_query(format!(
                    "SELECT pg_advisory_xact_lock({MIGRATION_LOCK_KEY})"
                ))
                .execute(c)?;
                c.run_pending_migrations(POSTGRES)
                    .map(|vs| vs.iter().map(|v| v.to_string()).collect::<Vec<_>>())
                    .map_err(|e| anyhow::anyhow!("running PostgreSQL migrations: {e}"))
            })?
        }
    };
    Ok(applied)
}

/// The versions of the migrations this binary carries, oldest first. Both trees hold the same
/// names (a test checks it), so the SQLite tree answers for both.
pub fn known_versions() -> anyhow::Result<Vec<String>> {
    use diesel::migration::MigrationSource;
    let migrations = MigrationSource::<diesel::sqlite::Sqlite>::migrations(&SQLITE)
        .map_err(|e| anyhow::anyhow!("reading the embedded migrations: {e}"))?;
    let mut versions: Vec<String> = migrations
        .iter()
        .map(|m| m.name().version().to_string())
        .collect();
    versions.sort_by(|a, b| compare_versions(a, b));
    Ok(versions)
}

/// Orders migration versions (`20261125000006`): by length, then by digits, so a version with
/// more digits is newer.
pub fn compare_versions(a: &str, b: &str) -> std::cmp::Ordering {
    a.len().cmp(&b.len()).then_with(|| a.cmp(b))
}

#[derive(diesel::QueryableByName)]
struct AppliedVersion {
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Text>)]
    version: Option<String>,
}

/// The newest migration applied to this database; `None` when it has no migrations table or
/// an empty one.
pub fn applied_version(conn: &mut DbConnection) -> diesel::QueryResult<Option<String>> {
    let has_table = crate::db::snapshot::table_names(conn)?
        .iter()
        .any(|t| t == "__diesel_schema_migrations");
    if !has_table {
        return Ok(None);
    }
    let versions: Vec<AppliedVersion> =
        diesel::sql_query("SELECT version FROM __diesel_schema_migrations").load(conn)?;
    Ok(versions
        .into_iter()
        .filter_map(|v| v.version)
        .max_by(|a, b| compare_versions(a, b)))
}
