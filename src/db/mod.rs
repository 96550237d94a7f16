//! Storage plumbing: one diesel query layer over SQLite (default) and PostgreSQL.
//!
//! Nothing outside this module names a backend. Queries elsewhere are written once against
//! [`DbConnection`]; the few statements that differ per backend live in a `match` here.

mod connection;
pub mod migrations;
pub mod replica;
pub mod schema;
pub mod snapshot;
mod sqlite_turn;
mod statement;

use std::sync::atomic::AtomicU64;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use scheduled_thread_pool::ScheduledThreadPool;

pub use connection::{Backend, DatabaseUrl, DbConnection, StatementCache};
pub use statement::Statement;

/// A pooled connection as handed out by [`Db::get`]; derefs to [`DbConnection`]. It is tested
/// again at its next checkout (the pool cannot tell how synchronous work on it ended).
pub struct PooledConnection(r2d2::PooledConnection<connection::ConnectionManager>);

impl std::ops::Deref for PooledConnection {
    type Target = DbConnection;
    fn deref(&self) -> &DbConnection {
        &self.0
    }
}

impl std::ops::DerefMut for PooledConnection {
    fn deref_mut(&mut self) -> &mut DbConnection {
        self.0.connection()
    }
}

impl Drop for PooledConnection {
    fn drop(&mut self) {
        forget_if_destroyed(self.0.connection());
    }
}

thread_local! {
    /// Set when work on this thread destroyed data (a shredded key): see [`note_destroyed`].
    static DESTROYED: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Records that the work running on this thread destroyed data (shredded a data key). When
/// the work ends — outside its transaction, which a checkpoint cannot run in — its connection
/// makes the old bytes leave the files ([`forget_freed`]).
pub fn note_destroyed() {
    DESTROYED.with(|d| d.set(true));
}

fn forget_if_destroyed(conn: &mut DbConnection) {
    if DESTROYED.with(|d| d.replace(false)) {
        if let Err(e) = forget_freed(conn, &[]) {
            tracing::warn!("could not purge freed pages after a shred: {e}");
        }
    }
}

/// Makes bytes that deletes and updates freed leave the database's files.
///
/// SQLite zeroes freed cells (`secure_delete`), but the WAL still holds the pages as they
/// were before: a checkpoint copies the current pages into the main file and `TRUNCATE`
/// empties the WAL (it waits, within the busy timeout, for readers of older snapshots).
/// PostgreSQL keeps a deleted or updated row's old version as a dead tuple until VACUUM;
/// `tables` are vacuumed now. Its WAL segments keep the old values until they are recycled
/// (and archives and replicas keep theirs): see the README's "What erasure leaves behind".
/// Must run outside any transaction.
pub fn forget_freed(conn: &mut DbConnection, tables: &[&str]) -> diesel::QueryResult<()> {
    use diesel::connection::SimpleConnection;
    match conn {
        DbConnection::Sqlite(c) => c.batch_execute("PRAGMA wal_checkpoint(TRUNCATE);"),
        DbConnection::Postgres(c) => {
            for table in tables {
                c.batch_execute(&format!("VACUUM {table}"))?;
            }
            Ok(())
        }
    }
}

/// Failures of the plumbing itself (not of a query): the pool could not hand out a connection
/// in time, or the blocking thread pool is gone.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("no database connection available: {0}")]
    Pool(#[from] r2d2::Error),
    #[error("blocking task failed: {0}")]
    Blocking(String),
    #[error("query failed: {0}")]
    Query(#[from] diesel::result::Error),
}

/// The timer threads r2d2 runs its reaper on, one set for the whole process. r2d2 gives each
/// pool three threads of its own by default, and they outlive a dropped pool until its next
/// reaper tick (30 s): a process that opens pools as it goes (the test suite, a CLI task
/// next to a server) piled up hundreds of idle threads. A dropped pool's reaper stays scheduled
/// here and finds nothing to do; pools are opened at start-up, so that is a handful of no-ops.
fn housekeeping_threads() -> Arc<ScheduledThreadPool> {
    static THREADS: OnceLock<Arc<ScheduledThreadPool>> = OnceLock::new();
    THREADS
        .get_or_init(|| {
            Arc::new(
                ScheduledThreadPool::builder()
                    .num_threads(2)
                    .thread_name_pattern("r2d2-housekeeping-{}")
                    .build(),
            )
        })
        .clone()
}

/// The shared database handle: a connection pool plus the knowledge of which backend it serves.
#[derive(Clone)]
pub struct Db {
    pool: r2d2::Pool<connection::ConnectionManager>,
    backend: Backend,
    /// Statements this pool's connections have sent since it opened.
    statements_run: Arc<AtomicU64>,
}

impl Db {
    /// Opens a pool for `url`. For a SQLite file this creates the parent directory and switches
    /// the database to WAL once; every connection gets `foreign_keys` and `busy_timeout`.
    pub fn connect(url: &DatabaseUrl, pool_size: u32) -> anyhow::Result<Self> {
        Self::connect_with(url, pool_size, StatementCache::Named)
    }

    /// As [`Db::connect`], choosing whether PostgreSQL connections keep prepared statements
    /// (not behind a transaction pooler: see [`StatementCache`]).
    pub fn connect_with(
        url: &DatabaseUrl,
        pool_size: u32,
        statements: StatementCache,
    ) -> anyhow::Result<Self> {
        let statements_run = Arc::new(AtomicU64::new(0));
        let manager =
            connection::ConnectionManager::new(url.clone(), statements, statements_run.clone())?;
        let mut builder = r2d2::Pool::builder()
            .connection_timeout(Duration::from_secs(5))
            .thread_pool(housekeeping_threads());
        builder = if url.is_sqlite_memory() {
            // Each `:memory:` connection is its own database: keep exactly one, forever.
            builder
                .max_size(1)
                .min_idle(Some(1))
                .idle_timeout(None)
                .max_lifetime(None)
        } else {
            // Connections open on demand, in the thread that asks. With a minimum idle count,
            // r2d2 reopens connections on its own worker threads; one still connecting
            // (TLS to PostgreSQL) while a short CLI process exits crashed it in libpq's
            // OpenSSL clean-up.
            builder.max_size(pool_size.max(1)).min_idle(Some(0))
        };
        let pool = builder
            .build(manager)
            .map_err(|e| anyhow::anyhow!("cannot open the database: {e}"))?;
        Ok(Self {
            pool,
            backend: url.backend(),
            statements_run,
        })
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Runs blocking diesel work off the async workers (actix workers are current-thread
    /// runtimes, so the work goes to the blocking pool) and returns its result.
    ///
    /// Inside a traced operation (a request, a delivery attempt) the work is a span of its
    /// own, from the wait for a connection to the commit, named by the backend. Work outside
    /// one (the workers' polling) makes no span: an idle instance exports nothing.
    pub async fn run<T, E, F>(&self, work: F) -> Result<T, E>
    where
        F: FnOnce(&mut DbConnection) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<DbError> + Send + 'static,
    {
        let pool = self.pool.clone();
        let span = if tracing::Span::current().is_none() {
            tracing::Span::none()
        } else {
            tracing::info_span!(
                target: "valise::db",
                "db.run",
                otel.kind = "client",
                db.system.name = self.backend.system_name(),
            )
        };
        actix_web::web::block(move || {
            let _entered = span.enter();
            let mut conn = pool.get().map_err(DbError::from)?;
            conn.settle(false);
            let result = work(conn.connection());
            conn.settle(result.is_ok());
            forget_if_destroyed(conn.connection());
            result
        })
        .await
        .map_err(|e| E::from(DbError::Blocking(e.to_string())))?
    }

    /// A connection for synchronous callers (CLI commands, start-up, tests).
    pub fn get(&self) -> Result<PooledConnection, DbError> {
        let mut conn = self.pool.get()?;
        conn.settle(false);
        Ok(PooledConnection(conn))
    }

    /// Number of open and idle connections, for readiness and metrics.
    pub fn pool_state(&self) -> (u32, u32) {
        let state = self.pool.state();
        (state.connections, state.idle_connections)
    }

    /// The most connections this pool opens.
    pub fn pool_max_size(&self) -> u32 {
        self.pool.max_size()
    }

    /// The statements (round trips, `BEGIN` and `COMMIT` included) this pool's connections
    /// have sent since it opened.
    pub fn statements_run(&self) -> u64 {
        self.statements_run
            .load(std::sync::atomic::Ordering::Relaxed)
    }
}

/// One connection outside any pool, set up as the pool would (SQLite: WAL, foreign keys, busy
/// timeout), for commands that must close it before going on (backup, restore).
pub fn connect_one(url: &DatabaseUrl) -> anyhow::Result<DbConnection> {
    let manager =
        connection::ConnectionManager::new(url.clone(), StatementCache::Named, Arc::default())?;
    manager
        .open()
        .map_err(|e| anyhow::anyhow!("cannot open the database: {e}"))
}

/// Current time truncated to microseconds: PostgreSQL keeps micros, SQLite would keep nanos, and
/// a value must read back identically from both.
pub fn now() -> chrono::NaiveDateTime {
    truncate_to_micros(chrono::Utc::now().naive_utc())
}

pub fn truncate_to_micros(t: chrono::NaiveDateTime) -> chrono::NaiveDateTime {
    use chrono::SubsecRound;
    t.trunc_subsecs(6)
}

/// The `VALUES` list of a multi-row INSERT written out by hand (diesel's batch insert does not
/// compile on the multi-backend connection): `row`, with a `?` for each bound parameter,
/// repeated `rows` times, the parameters numbered in order of appearance and none reused.
/// PostgreSQL gets `$1, $2, …`; SQLite gets `?1, ?2, …`, which it resolves by number (it
/// resolves `$n` as a name, searching every earlier name: a 1,000-row INSERT parsed ten
/// times slower per row than a 100-row one). `row` holds no `?` other than placeholders.
pub fn values_list(conn: &DbConnection, row: &str, rows: usize) -> String {
    let sigil = match conn {
        DbConnection::Sqlite(_) => '?',
        DbConnection::Postgres(_) => '$',
    };
    numbered_values(sigil, row, rows)
}

/// The `n`th bound parameter's placeholder in hand-written SQL numbered as [`values_list`]
/// numbers them (`$n` on PostgreSQL, `?n` on SQLite): for a parameter after such a list.
pub fn placeholder(conn: &DbConnection, n: usize) -> String {
    match conn {
        DbConnection::Sqlite(_) => format!("?{n}"),
        DbConnection::Postgres(_) => format!("${n}"),
    }
}

fn numbered_values(sigil: char, row: &str, rows: usize) -> String {
    let mut sql = String::with_capacity((row.len() + 16) * rows);
    let mut n = 0;
    for i in 0..rows {
        if i > 0 {
            sql.push_str(", ");
        }
        for c in row.chars() {
            if c == '?' {
                n += 1;
                sql.push(sigil);
                sql.push_str(&n.to_string());
            } else {
                sql.push(c);
            }
        }
    }
    sql
}

/// Runs `work` in a transaction that intends to write.
///
/// On SQLite it opens with `BEGIN IMMEDIATE`, taking the write lock up front: a deferred
/// transaction that reads first and writes later fails at once with "database is locked"
/// when another writer got there in between (the busy timeout cannot help a lock upgrade).
/// Writers of one process queue for their turn first, fairly (see [`sqlite_turn`]).
/// Inside an outer transaction it is a savepoint, as with `Connection::transaction`.
/// PostgreSQL takes row locks as it goes and needs nothing special.
pub fn write_transaction<T, E, F>(conn: &mut DbConnection, work: F) -> Result<T, E>
where
    F: FnOnce(&mut DbConnection) -> Result<T, E>,
    E: From<diesel::result::Error>,
{
    use diesel::connection::{AnsiTransactionManager, TransactionManager};
    use diesel::Connection;

    let outermost_sqlite = match conn {
        DbConnection::Sqlite(inner) => matches!(
            AnsiTransactionManager::transaction_manager_status_mut(inner).transaction_depth(),
            Ok(None)
        ),
        DbConnection::Postgres(_) => false,
    };
    if !outermost_sqlite {
        return conn.transaction(work);
    }
    // Held until after COMMIT or ROLLBACK (dropped last).
    let mut _turn = None;
    if let DbConnection::Sqlite(inner) = conn {
        _turn = Some(sqlite_turn::wait(inner)?);
        AnsiTransactionManager::begin_transaction_sql(inner, "BEGIN IMMEDIATE")?;
    }
    let result = work(conn);
    let DbConnection::Sqlite(inner) = conn else {
        return result;
    };
    match result {
        Ok(value) => {
            <AnsiTransactionManager as TransactionManager<diesel::SqliteConnection>>::commit_transaction(inner)?;
            Ok(value)
        }
        Err(e) => {
            <AnsiTransactionManager as TransactionManager<diesel::SqliteConnection>>::rollback_transaction(inner)?;
            Err(e)
        }
    }
}

/// Runs `work` in a read-only transaction over one snapshot: what it reads in many queries
/// (an export) is consistent, and it takes no write lock (SQLite's deferred `BEGIN` reads
/// its WAL snapshot; PostgreSQL's `REPEATABLE READ READ ONLY` refuses any write). Inside an
/// outer transaction it simply runs there.
pub fn read_transaction<T, E, F>(conn: &mut DbConnection, work: F) -> Result<T, E>
where
    F: FnOnce(&mut DbConnection) -> Result<T, E>,
    E: From<diesel::result::Error>,
{
    use diesel::connection::{AnsiTransactionManager, TransactionManager};
    fn begin<C>(inner: &mut C, sql: &str) -> diesel::QueryResult<bool>
    where
        C: diesel::Connection<TransactionManager = AnsiTransactionManager>,
    {
        if AnsiTransactionManager::transaction_manager_status_mut(inner)
            .transaction_depth()?
            .is_some()
        {
            return Ok(false);
        }
        AnsiTransactionManager::begin_transaction_sql(inner, sql)?;
        Ok(true)
    }
    fn end<C, T, E>(inner: &mut C, result: Result<T, E>) -> Result<T, E>
    where
        C: diesel::Connection<TransactionManager = AnsiTransactionManager>,
        E: From<diesel::result::Error>,
    {
        match result {
            Ok(value) => {
                AnsiTransactionManager::commit_transaction(inner)?;
                Ok(value)
            }
            Err(e) => {
                AnsiTransactionManager::rollback_transaction(inner)?;
                Err(e)
            }
        }
    }
    let began = match conn {
        DbConnection::Sqlite(inner) => begin(inner, "BEGIN DEFERRED")?,
        DbConnection::Postgres(inner) => {
            begin(inner, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")?
        }
    };
    let result = work(conn);
    if !began {
        return result;
    }
    match conn {
        DbConnection::Sqlite(inner) => end(inner, result),
        DbConnection::Postgres(inner) => end(inner, result),
    }
}

/// When the query planner's statistics are refreshed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Statistics {
    /// At start: SQLite analyses the tables never analysed or whose size changed tenfold
    /// since (`PRAGMA optimize`; nothing otherwise); PostgreSQL's autovacuum does this on
    /// its own.
    AtStart,
    /// After a bulk load (a seeded catalogue): every table, on both backends, before
    /// autovacuum would get to it.
    AfterBulkLoad,
}

/// Refreshes the query planner's statistics.
///
/// Without them the planner cannot know that `status = 'active' AND min_price <= ?` matches
/// most products: both backends then read every match through the price index and sort them
/// all to list one page by newest, so an uncached listing costs time in proportion to the
/// catalogue instead of walking the newest-first index. SQLite never gathers statistics by
/// itself. Its analysis is complete, not sampled (`analysis_limit`): a sample of the
/// low-cardinality `status` column makes it look selective, which brings the bad plan back.
/// A full ANALYZE of 100,000 products takes well under a second.
pub fn refresh_statistics(conn: &mut DbConnection, when: Statistics) -> diesel::QueryResult<()> {
    use diesel::connection::SimpleConnection;
    match (conn, when) {
        (DbConnection::Sqlite(c), Statistics::AtStart) => {
            c.batch_execute("PRAGMA optimize = 0x10002;")
        }
        (DbConnection::Sqlite(c), Statistics::AfterBulkLoad) => c.batch_execute("ANALYZE;"),
        (DbConnection::Postgres(_), Statistics::AtStart) => Ok(()),
        (DbConnection::Postgres(c), Statistics::AfterBulkLoad) => c.batch_execute("ANALYZE"),
    }
}

/// Whether a query failed on a unique constraint (a lost race, or a duplicate value).
pub fn is_unique_violation(e: &diesel::result::Error) -> bool {
    matches!(
        e,
        diesel::result::Error::DatabaseError(diesel::result::DatabaseErrorKind::UniqueViolation, _)
    )
}

/// A queue table that the delivery worker claims rows from. Both have `id`, `status`,
/// `next_attempt_at` and `claimed_by`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Queue {
    Notifications,
    WebhookDeliveries,
}

impl Queue {
    fn table(self) -> &'static str {
        match self {
            Queue::Notifications => "notifications",
            Queue::WebhookDeliveries => "webhook_deliveries",
        }
    }
}

/// Claims up to `limit` due rows of `queue` for `claimer` and returns how many it claimed.
///
/// Due: `pending` with `next_attempt_at <= now`, or `sending` whose lease (`next_attempt_at`)
/// ran out because the worker holding it died. Claimed rows become `sending`, owned by
/// `claimer` until `lease_until`; the caller loads them by `claimed_by` and records each
/// outcome conditionally on still owning it. PostgreSQL skips rows another instance is
/// claiming at this moment (`FOR UPDATE SKIP LOCKED`), so instances never wait on each other
/// nor claim one row twice; SQLite has a single writer, so the one statement is the claim.
/// A plain read goes first: most passes find nothing due, and on SQLite the claim would
/// otherwise take the write lock on every pass of every instance.
pub fn claim_due(
    conn: &mut DbConnection,
    queue: Queue,
    claimer: &str,
    now: chrono::NaiveDateTime,
    lease_until: chrono::NaiveDateTime,
    limit: i64,
) -> diesel::QueryResult<usize> {
    use diesel::sql_types::{BigInt, Text, Timestamp};
    use diesel::RunQueryDsl;

    #[derive(diesel::QueryableByName)]
    struct Due {
        #[diesel(sql_type = Text)]
        #[allow(dead_code)]
        id: String,
    }

    let table = queue.table();
    let postgres = matches!(conn, DbConnection::Postgres(_));
    let param = |n: u8| {
        if postgres {
            format!("${n}")
        } else {
            "?".to_owned()
        }
    };
    let is_due = |n: u8| {
        format!(
            "status IN ('pending', 'sending') AND next_attempt_at <= {}",
            param(n)
        )
    };
    let probe = format!("SELECT id FROM {table} WHERE {} LIMIT 1", is_due(1));
    let skip_locked = if postgres {
        " FOR UPDATE SKIP LOCKED"
    } else {
        ""
    };
    let sql = format!(
        "UPDATE {table} SET status = 'sending', claimed_by = {}, next_attempt_at = {} \
         WHERE id IN (SELECT id FROM {table} WHERE {} \
                      ORDER BY next_attempt_at LIMIT {}{skip_locked})",
        param(1),
        param(2),
        is_due(3),
        param(4),
    );
    let due: Vec<Due> = diesel::sql_query(&probe)
        .bind::<Timestamp, _>(now)
        .load(conn)?;
    if due.is_empty() {
        return Ok(0);
    }
    write_transaction(conn, |conn| {
        diesel::sql_query(&sql)
            .bind::<Text, _>(claimer)
            .bind::<Timestamp, _>(lease_until)
            .bind::<Timestamp, _>(now)
            .bind::<BigInt, _>(limit)
            .execute(conn)
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn values_lists_number_every_placeholder_in_order() {
        assert_eq!(
            super::numbered_values('$', "(?, NULL, ?)", 3),
            "($1, NULL, $2), ($3, NULL, $4), ($5, NULL, $6)"
        );
        assert_eq!(
            super::numbered_values('?', "(?, ?)", 2),
            "(?1, ?2), (?3, ?4)"
        );
        assert_eq!(super::numbered_values('$', "(?)", 0), "");
    }
}
