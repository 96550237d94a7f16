//! The snapshots that rotation keeps, recorded in the database they are snapshots of: the
//! retention engine keeps the erasure ledger back to the oldest of them (a subject erased
//! after a snapshot was taken must be shredded again when it is restored). One row a kept
//! snapshot; rotation removes the row with the files, so the table does not grow.

use diesel::prelude::*;

use crate::db::schema::backups;
use crate::db::DbConnection;

/// Records a snapshot rotation now keeps.
pub fn record(
    conn: &mut DbConnection,
    file: &str,
    created_at: chrono::NaiveDateTime,
) -> QueryResult<()> {
    diesel::insert_into(backups::table)
        .values((backups::file.eq(file), backups::created_at.eq(created_at)))
        .execute(conn)?;
    Ok(())
}

/// Forgets snapshots rotation deleted.
pub fn forget(conn: &mut DbConnection, files: &[String]) -> QueryResult<()> {
    diesel::delete(backups::table.filter(backups::file.eq_any(files))).execute(conn)?;
    Ok(())
}

/// When the oldest kept snapshot was taken; `None` while rotation has recorded none.
pub fn oldest_kept(conn: &mut DbConnection) -> QueryResult<Option<chrono::NaiveDateTime>> {
    backups::table
        .select(diesel::dsl::min(backups::created_at))
        .first(conn)
}
