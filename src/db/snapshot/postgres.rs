//! PostgreSQL snapshots through `pg_dump` and `pg_restore` (postgresql-client).

use std::path::Path;
use std::process::{Command, Output};

use anyhow::Context;
use diesel::connection::SimpleConnection;
use diesel::sql_types::BigInt;
use diesel::{Connection, PgConnection, RunQueryDsl};

use super::one_line;
use crate::db::DbConnection;

/// Where the tools connect: the URL without its password, which goes in `PGPASSWORD` instead
/// (a command line is visible to every user of the machine in `ps`).
struct Target {
    url: String,
    password: Option<String>,
}

impl Target {
    fn parse(raw: &str) -> anyhow::Result<Self> {
        let mut url =
            url::Url::parse(raw).map_err(|e| anyhow::anyhow!("invalid PostgreSQL URL: {e}"))?;
        let password = url.password().map(percent_decode);
        if password.is_some() {
            url.set_password(None)
                .map_err(|()| anyhow::anyhow!("invalid PostgreSQL URL"))?;
        }
        Ok(Self {
            url: url.to_string(),
            password,
        })
    }
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Runs a postgresql-client tool; a failure is one line with the tool's own message.
fn run(tool: &str, args: &[&str], target: Option<&Target>) -> anyhow::Result<Output> {
    let mut command = Command::new(tool);
    command.args(args);
    if let Some(password) = target.and_then(|t| t.password.as_deref()) {
        command.env("PGPASSWORD", password);
    }
    let output = command.output().map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            anyhow::anyhow!(
                "{tool} is not on PATH: install postgresql-client (its major version at least \
                 the server's)"
            )
        } else {
            anyhow::anyhow!("cannot run {tool}: {e}")
        }
    })?;
    if !output.status.success() {
        anyhow::bail!("{tool} failed: {}", one_line(&output.stderr));
    }
    Ok(output)
}

pub(super) fn take(raw: &str, out: &Path) -> anyhow::Result<()> {
    let target = Target::parse(raw)?;
    let file = format!("--file={}", out.display());
    let dbname = format!("--dbname={}", target.url);
    // pg_dump reads every table inside one repeatable-read transaction: a consistent
    // snapshot while the API goes on writing. Owners and grants are left to the target.
    run(
        "pg_dump",
        &[
            "--format=custom",
            "--no-owner",
            "--no-privileges",
            &file,
            &dbname,
        ],
        Some(&target),
    )?;
    Ok(())
}

pub(super) fn inspect(path: &Path) -> anyhow::Result<Option<String>> {
    let archive = path.to_string_lossy();
    run("pg_restore", &["--list", &archive], None)
        .context("the snapshot is not a readable pg_dump archive")?;
    let data = run(
        "pg_restore",
        &[
            "--data-only",
            "--table=__diesel_schema_migrations",
            "--file=-",
            &archive,
        ],
        None,
    )?;
    Ok(newest_migration(&String::from_utf8_lossy(&data.stdout)))
}

/// The newest version in the `COPY … __diesel_schema_migrations … FROM stdin;` block of a
/// plain-text restore script.
fn newest_migration(script: &str) -> Option<String> {
    let mut lines = script.lines();
    lines.find(|l| l.starts_with("COPY ") && l.contains("__diesel_schema_migrations"))?;
    lines
        .take_while(|l| *l != "\\.")
        .filter_map(|l| l.split('\t').next())
        .filter(|v| !v.is_empty())
        .map(str::to_owned)
        .max_by(|a, b| crate::db::migrations::compare_versions(a, b))
}

#[derive(diesel::QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

/// Client sessions on the current database besides this one. A server just stopped may take
/// a moment to leave, so a few seconds pass before any is counted as a user.
fn other_sessions(conn: &mut DbConnection) -> diesel::QueryResult<i64> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        let counted: Vec<Count> = diesel::sql_query(
            "SELECT COUNT(*) AS n FROM pg_stat_activity WHERE datname = current_database() \
             AND pid <> pg_backend_pid() AND backend_type = 'client backend'",
        )
        .load(conn)?;
        let others = counted.first().map_or(0, |c| c.n);
        if others == 0 || std::time::Instant::now() >= deadline {
            return Ok(others);
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

/// Drops every table of the schema, and the functions the migrations created there (trigger
/// functions, which take no argument; not an extension's): a snapshot brings its own, and
/// restoring over one fails.
fn drop_all_tables(conn: &mut DbConnection) -> anyhow::Result<()> {
    let tables = super::table_names(conn)?;
    let quote = |name: &str| format!("\"{}\"", name.replace('"', "\"\""));
    if !tables.is_empty() {
        let quoted: Vec<String> = tables.iter().map(|t| quote(t)).collect();
        conn.batch_execute(&format!(
            "DROP TABLE IF EXISTS {} CASCADE",
            quoted.join(", ")
        ))?;
    }
    #[derive(diesel::QueryableByName)]
    struct Function {
        #[diesel(sql_type = diesel::sql_types::Text)]
        name: String,
    }
    let functions: Vec<Function> = diesel::sql_query(
        "SELECT p.proname AS name FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace \
         WHERE n.nspname = current_schema() AND p.prokind = 'f' AND p.pronargs = 0 \
         AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = p.oid AND d.deptype = 'e')",
    )
    .load(conn)?;
    for f in functions {
        conn.batch_execute(&format!(
            "DROP FUNCTION IF EXISTS {}() CASCADE",
            quote(&f.name)
        ))?;
    }
    Ok(())
}

fn connect(raw: &str) -> anyhow::Result<DbConnection> {
    PgConnection::establish(raw)
        .map(DbConnection::Postgres)
        .map_err(|e| anyhow::anyhow!("cannot open the target database: {e}"))
}

pub(super) fn load<T>(
    raw: &str,
    snapshot: &Path,
    ensure_empty: impl FnOnce(&mut DbConnection) -> anyhow::Result<()>,
    finish: impl FnOnce(&mut DbConnection) -> anyhow::Result<T>,
) -> anyhow::Result<T> {
    let target = Target::parse(raw)?;
    let mut conn = connect(raw)?;
    ensure_empty(&mut conn)?;
    let others = other_sessions(&mut conn)?;
    if others > 0 {
        anyhow::bail!(
            "the target database is in use ({others} other connection(s)): stop every process \
             using it first"
        );
    }
    // Empty, but perhaps migrated: those tables come from the snapshot instead.
    conn.transaction(drop_all_tables)
        .context("clearing the empty target")?;
    drop(conn);

    let dbname = format!("--dbname={}", target.url);
    let archive = snapshot.to_string_lossy();
    run(
        "pg_restore",
        &[
            "--no-owner",
            "--no-privileges",
            "--single-transaction",
            "--exit-on-error",
            &dbname,
            &archive,
        ],
        Some(&target),
    )?;
    let mut conn = connect(raw)?;
    match finish(&mut conn) {
        Ok(value) => Ok(value),
        Err(e) => {
            // Nothing half-restored stays behind: the database is empty again.
            match conn.transaction(drop_all_tables) {
                Ok(()) => Err(anyhow::anyhow!(
                    "{e:#}; the restored tables were dropped again"
                )),
                Err(cleanup) => Err(anyhow::anyhow!(
                    "{e:#}; and the restored tables could not be dropped ({cleanup:#}): drop \
                     them by hand before serving this database"
                )),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_password_leaves_the_url_for_the_environment() {
        let t = Target::parse("postgres://valise:p%40ss%2Fw@db:5432/shop?sslmode=require").unwrap();
        assert_eq!(t.password.as_deref(), Some("p@ss/w"));
        assert!(!t.url.contains("p%40ss"), "{}", t.url);
        assert!(
            t.url.contains("valise@db:5432/shop?sslmode=require"),
            "{}",
            t.url
        );
        let t = Target::parse("postgres://postgres@127.0.0.1/x").unwrap();
        assert_eq!(t.password, None);
    }

    #[test]
    fn the_newest_migration_is_read_from_a_restore_script() {
        let script = "SET x = 1;\n\nCOPY public.__diesel_schema_migrations (version, run_on) \
                      FROM stdin;\n20261125000001\t2026-11-25 10:00:00\n20261125000010\t\
                      2026-11-25 10:00:00\n20261125000002\t2026-11-25 10:00:00\n\\.\n\n";
        assert_eq!(newest_migration(script).as_deref(), Some("20261125000010"));
        assert_eq!(newest_migration("SET x = 1;\n"), None);
    }
}
