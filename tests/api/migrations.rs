//! Both migration trees must describe the same database.

use std::collections::BTreeSet;

use diesel::prelude::*;
use diesel::sql_types::{Integer, Text};
use valise::db::{migrations, DatabaseUrl, Db, DbConnection};

use crate::helpers::{postgres_admin_url, TestDatabase};

fn migration_names(backend: &str) -> BTreeSet<String> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/migrations/").to_owned() + backend;
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect()
}

#[test]
fn both_trees_hold_the_same_migrations() {
    let sqlite = migration_names("sqlite");
    assert!(!sqlite.is_empty());
    assert_eq!(sqlite, migration_names("postgres"));
}

/// diesel keys a migration by the digits before the first `_` of its name: two migrations of
/// one version would leave the second silently unapplied.
#[test]
fn every_migration_has_its_own_version() {
    let names = migration_names("sqlite");
    let versions: BTreeSet<String> = names
        .iter()
        .map(|n| n.split('_').next().unwrap().replace('-', ""))
        .collect();
    assert_eq!(versions.len(), names.len(), "{names:?}");
}

#[derive(QueryableByName, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct ColumnInfo {
    #[diesel(sql_type = Text)]
    table_name: String,
    #[diesel(sql_type = Text)]
    column_name: String,
    #[diesel(sql_type = Text)]
    data_type: String,
    #[diesel(sql_type = Integer)]
    nullable: i32,
}

/// Declared types reduced to the families diesel maps them to.
fn family(data_type: &str) -> &'static str {
    match data_type.to_ascii_lowercase().as_str() {
        "integer" | "int" | "int4" => "integer",
        "bigint" | "int8" => "bigint",
        "smallint" | "int2" => "smallint",
        "text" | "character varying" | "varchar" => "text",
        "blob" | "bytea" => "binary",
        "timestamp" | "timestamp without time zone" => "timestamp",
        "date" => "date",
        "boolean" | "bool" => "boolean",
        "double precision" | "real" | "double" => "double",
        other => panic!("unmapped column type {other}"),
    }
}

fn columns(conn: &mut DbConnection) -> BTreeSet<(String, String, &'static str, bool)> {
    let query = match conn {
        DbConnection::Sqlite(_) => {
            "SELECT m.name AS table_name, p.name AS column_name, p.type AS data_type, \
             CASE WHEN p.\"notnull\" = 1 OR p.pk > 0 THEN 0 ELSE 1 END AS nullable \
             FROM sqlite_master m JOIN pragma_table_info(m.name) p \
             WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%' \
             AND m.name <> '__diesel_schema_migrations'"
        }
        DbConnection::Postgres(_) => {
            "SELECT table_name::text AS table_name, column_name::text AS column_name, \
             data_type::text AS data_type, \
             CASE WHEN is_nullable = 'YES' THEN 1 ELSE 0 END AS nullable \
             FROM information_schema.columns \
             WHERE table_schema = 'public' AND table_name <> '__diesel_schema_migrations'"
        }
    };
    diesel::sql_query(query)
        .load::<ColumnInfo>(conn)
        .unwrap()
        .into_iter()
        .map(|c| {
            (
                c.table_name,
                c.column_name,
                family(&c.data_type),
                c.nullable == 1,
            )
        })
        .collect()
}

fn migrated_columns(url: DatabaseUrl) -> BTreeSet<(String, String, &'static str, bool)> {
    let db = Db::connect(&url, 1).unwrap();
    let mut conn = db.get().unwrap();
    migrations::run_pending(&mut conn).unwrap();
    // A second run finds nothing to do.
    assert!(migrations::run_pending(&mut conn).unwrap().is_empty());
    columns(&mut conn)
}

#[test]
fn sqlite_and_postgres_trees_produce_the_same_tables_and_columns() {
    if postgres_admin_url().is_none() {
        eprintln!("skipped: needs TEST_DATABASE_URL=postgres://… (CI runs it on PostgreSQL)");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let sqlite_url =
        DatabaseUrl::parse(&format!("sqlite://{}/p.db", dir.path().display())).unwrap();
    let sqlite = migrated_columns(sqlite_url);

    let (pg_url, _guard) = TestDatabase::create();
    let postgres = migrated_columns(pg_url);

    assert!(!sqlite.is_empty());
    let only_sqlite: Vec<_> = sqlite.difference(&postgres).collect();
    let only_postgres: Vec<_> = postgres.difference(&sqlite).collect();
    assert!(
        only_sqlite.is_empty() && only_postgres.is_empty(),
        "schemas differ\nonly in SQLite: {only_sqlite:#?}\nonly in PostgreSQL: {only_postgres:#?}"
    );
}
