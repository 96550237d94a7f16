//! SQLite writers of this process take turns, first come first served.
//!
//! SQLite lets one transaction write a database file at a time. A second `BEGIN IMMEDIATE`
//! waits in SQLite's busy handler, which sleeps and retries: it is not first-come-first-
//! served, so under sustained writes (32 clients sending analytics batches) one writer can
//! lose every retry until `busy_timeout` runs out and its request fails with "database is
//! locked". Writers of one process therefore queue on a fair lock per database file, taken
//! before `BEGIN IMMEDIATE` and handed to the longest waiter at `COMMIT`. At most as many
//! threads wait as the pool has connections, so a turn comes within a few transactions;
//! the busy timeout still covers another process writing the same file.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use diesel::prelude::*;
use diesel::result::{DatabaseErrorKind, Error};
use diesel::sql_types::Text;
use parking_lot::{ArcMutexGuard, Mutex, RawMutex};

/// Longer than any write transaction has a reason to take; a writer that waited this long
/// fails as SQLite's busy timeout would (the client is told to retry).
const PATIENCE: Duration = Duration::from_secs(10);

type Lock = Arc<Mutex<()>>;

fn locks() -> &'static Mutex<HashMap<String, Lock>> {
    static LOCKS: OnceLock<Mutex<HashMap<String, Lock>>> = OnceLock::new();
    LOCKS.get_or_init(Default::default)
}

#[derive(QueryableByName)]
struct Attached {
    #[diesel(sql_type = Text)]
    name: String,
    #[diesel(sql_type = Text)]
    file: String,
}

/// The lock of the file `conn` writes (in-memory databases share one: each has a single
/// connection, so nothing ever waits on it).
fn lock_of(conn: &mut SqliteConnection) -> QueryResult<Lock> {
    let attached: Vec<Attached> = diesel::sql_query("PRAGMA database_list").load(conn)?;
    let file = attached
        .into_iter()
        .find(|a| a.name == "main")
        .map(|a| a.file)
        .unwrap_or_default();
    Ok(locks().lock().entry(file).or_default().clone())
}

/// This process's turn to write the file of a connection; the next waiter's when dropped.
pub struct Turn(Option<ArcMutexGuard<RawMutex, ()>>);

impl Drop for Turn {
    fn drop(&mut self) {
        if let Some(guard) = self.0.take() {
            ArcMutexGuard::unlock_fair(guard);
        }
    }
}

/// Waits for this process's turn to write the file of `conn` (at most [`PATIENCE`], then
/// "database is locked", as SQLite's own busy timeout reports it).
pub fn wait(conn: &mut SqliteConnection) -> QueryResult<Turn> {
    lock_of(conn)?
        .try_lock_arc_for(PATIENCE)
        .map(|guard| Turn(Some(guard)))
        .ok_or_else(|| {
            Error::DatabaseError(
                DatabaseErrorKind::Unknown,
                Box::new(String::from("database is locked")),
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writers_of_one_file_share_a_lock_and_other_files_do_not() {
        let dir = tempfile::tempdir().unwrap();
        let open = |name: &str| {
            SqliteConnection::establish(dir.path().join(name).to_str().unwrap()).unwrap()
        };
        let (mut a1, mut a2, mut b) = (open("a.db"), open("a.db"), open("b.db"));
        let (la1, la2, lb) = (
            lock_of(&mut a1).unwrap(),
            lock_of(&mut a2).unwrap(),
            lock_of(&mut b).unwrap(),
        );
        assert!(Arc::ptr_eq(&la1, &la2));
        assert!(!Arc::ptr_eq(&la1, &lb));
        let held = la1.lock();
        assert!(la2.try_lock().is_none(), "one writer at a time per file");
        assert!(lb.try_lock().is_some(), "another file is not blocked");
        drop(held);
    }
}
