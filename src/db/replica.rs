//! Reads that tolerate staleness, routed to a PostgreSQL streaming replica when it can serve
//! them, else to the primary.
//!
//! A replica replays the primary's write-ahead log some time after the primary wrote it. A
//! read may go there only when the replica has replayed every change the reader must see: the
//! caller passes the primary's WAL position it needs (recorded when it learnt of the change,
//! see [`wal_position`]), and [`ReadDb::for_reading`] answers the primary until the replica's
//! replay position has reached it. A monitor compares the two positions every
//! [`PROBE_INTERVAL`]: a replica that does not answer, or that has not replayed WAL the
//! primary wrote longer ago than the allowed lag, is skipped altogether until it catches up.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use diesel::sql_types::BigInt;
use diesel::{QueryResult, RunQueryDsl};

use super::{Db, DbConnection, DbError};

/// How often the monitor compares the replica's replay position with the primary's.
pub const PROBE_INTERVAL: Duration = Duration::from_millis(200);

/// Primary positions the monitor remembers while the replica has not replayed them (at one
/// per probe, over half an hour); past that, the oldest stay and the newest are not noted,
/// which keeps the measured lag growing.
const MAX_SAMPLES: usize = 10_000;

/// The end of the last record the primary inserted into its WAL, as a byte position.
///
/// `pg_current_wal_insert_lsn()` is read, not `pg_current_wal_lsn()`: a commit is inserted
/// before it becomes visible, so a change this connection sees is always at or before it,
/// whatever `synchronous_commit` says. When no record has started on the current page yet, it
/// points past that page's header; the replica reports the end of the record it replayed,
/// before the header. The header is taken off so an idle primary and its replica agree.
const WAL_POSITION: &str = "SELECT CASE WHEN p % s = 40 THEN p - 40 WHEN p % b = 24 THEN p - 24 \
    ELSE p END AS lsn FROM (SELECT (pg_current_wal_insert_lsn() - '0/0'::pg_lsn)::bigint AS p, \
    pg_size_bytes(current_setting('wal_segment_size')) AS s, \
    current_setting('wal_block_size')::bigint AS b) w";

/// How far a replica has replayed; a server that is not in recovery (a read URL naming the
/// primary itself) has everything.
const REPLAY_POSITION: &str = "SELECT COALESCE(CASE WHEN pg_is_in_recovery() \
    THEN pg_last_wal_replay_lsn() - '0/0'::pg_lsn \
    ELSE pg_current_wal_insert_lsn() - '0/0'::pg_lsn END, 0)::bigint AS lsn";

#[derive(diesel::QueryableByName)]
struct Position {
    #[diesel(sql_type = BigInt)]
    lsn: i64,
}

fn position(conn: &mut DbConnection, sql: &str) -> QueryResult<u64> {
    let row: Position = diesel::sql_query(sql).get_result(conn)?;
    Ok(row.lsn.unsigned_abs())
}

/// The primary's WAL position now, for a read that must see every change committed so far;
/// `None` on SQLite (no replica).
pub fn wal_position(conn: &mut DbConnection) -> QueryResult<Option<u64>> {
    match conn {
        DbConnection::Sqlite(_) => Ok(None),
        DbConnection::Postgres(_) => position(conn, WAL_POSITION).map(Some),
    }
}

/// Where a read went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadSource {
    Primary,
    Replica,
}

impl ReadSource {
    pub fn label(self) -> &'static str {
        match self {
            Self::Primary => "primary",
            Self::Replica => "replica",
        }
    }
}

/// The replica as the readiness probe reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplicaHealth {
    /// No replica is configured.
    Absent,
    /// It answers and is within the allowed lag.
    Serving,
    /// It does not answer, or lags too far: every read goes to the primary.
    Skipped,
}

/// What the monitor last found, shared with every request.
#[derive(Default)]
struct State {
    usable: AtomicBool,
    replayed: AtomicU64,
    lag_ms: AtomicU64,
    replica_reads: AtomicU64,
    primary_reads: AtomicU64,
}

#[derive(Clone)]
struct Replica {
    db: Db,
    max_lag: Duration,
    state: Arc<State>,
}

/// The databases reads that tolerate staleness go to.
#[derive(Clone)]
pub struct ReadDb {
    primary: Db,
    replica: Option<Replica>,
    /// Counts primary reads when there is no replica (then `replica` is `None`).
    counts: Arc<State>,
}

impl ReadDb {
    /// Every read goes to `primary`.
    pub fn primary_only(primary: Db) -> Self {
        Self {
            primary,
            replica: None,
            counts: Arc::default(),
        }
    }

    /// Reads go to `replica` while it keeps within `max_lag` of `primary` (after
    /// [`ReadDb::probe`] or the monitor found so).
    pub fn with_replica(primary: Db, replica: Db, max_lag: Duration) -> Self {
        let state = Arc::new(State::default());
        Self {
            primary,
            replica: Some(Replica {
                db: replica,
                max_lag,
                state: state.clone(),
            }),
            counts: state,
        }
    }

    /// The database for a read that must see every change up to the primary's WAL position
    /// `required` (`None`: nothing in particular, e.g. on SQLite): the replica when it is
    /// usable and has replayed that far, else the primary.
    pub fn for_reading(&self, required: Option<u64>) -> (&Db, ReadSource) {
        let source = match &self.replica {
            Some(r)
                if r.state.usable.load(Ordering::Acquire)
                    && required.unwrap_or(0) <= r.state.replayed.load(Ordering::Acquire) =>
            {
                (&r.db, ReadSource::Replica)
            }
            _ => (&self.primary, ReadSource::Primary),
        };
        match source.1 {
            ReadSource::Replica => &self.counts.replica_reads,
            ReadSource::Primary => &self.counts.primary_reads,
        }
        .fetch_add(1, Ordering::Relaxed);
        source
    }

    /// Reads sent to `source` so far (for the metrics).
    pub fn reads(&self, source: ReadSource) -> u64 {
        match source {
            ReadSource::Replica => &self.counts.replica_reads,
            ReadSource::Primary => &self.counts.primary_reads,
        }
        .load(Ordering::Relaxed)
    }

    pub fn health(&self) -> ReplicaHealth {
        match &self.replica {
            None => ReplicaHealth::Absent,
            Some(r) if r.state.usable.load(Ordering::Acquire) => ReplicaHealth::Serving,
            Some(_) => ReplicaHealth::Skipped,
        }
    }

    /// How long the replica has not replayed WAL the primary wrote (0 when caught up), as of
    /// the last probe; `None` without a replica.
    pub fn replica_lag(&self) -> Option<Duration> {
        self.replica
            .as_ref()
            .map(|r| Duration::from_millis(r.state.lag_ms.load(Ordering::Relaxed)))
    }

    /// Probes the replica once, so a new instance knows at once whether it may use it.
    pub async fn probe(&self) {
        if let Some(replica) = &self.replica {
            let mut samples = VecDeque::new();
            probe(&self.primary, replica, &mut samples).await;
        }
    }

    /// Probes the replica every [`PROBE_INTERVAL`] until the returned task is aborted;
    /// `None` without a replica.
    pub fn spawn_monitor(&self) -> Option<actix_web::rt::task::JoinHandle<()>> {
        let replica = self.replica.clone()?;
        let primary = self.primary.clone();
        Some(actix_web::rt::spawn(async move {
            let mut samples = VecDeque::new();
            let mut tick = actix_web::rt::time::interval(PROBE_INTERVAL);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                probe(&primary, &replica, &mut samples).await;
            }
        }))
    }
}

/// One comparison. `samples` holds the primary's positions the replica had not replayed at
/// the earlier probes, oldest first, each with when it was read: the lag is the age of the
/// oldest one still not replayed. An idle primary writes nothing, so its replica is not
/// behind however long ago it last replayed.
async fn probe(primary: &Db, replica: &Replica, samples: &mut VecDeque<(Instant, u64)>) {
    let written = primary
        .run(|conn| position(conn, WAL_POSITION).map_err(DbError::from))
        .await;
    let now = Instant::now();
    if let Ok(lsn) = written {
        let newer = samples.back().is_none_or(|&(_, last)| lsn > last);
        if newer && samples.len() < MAX_SAMPLES {
            samples.push_back((now, lsn));
        }
    }
    let replayed = replica
        .db
        .run(|conn| position(conn, REPLAY_POSITION).map_err(DbError::from))
        .await;
    let state = &replica.state;
    match replayed {
        Ok(replayed) => {
            while samples.front().is_some_and(|&(_, lsn)| lsn <= replayed) {
                samples.pop_front();
            }
            let lag = samples
                .front()
                .map_or(Duration::ZERO, |&(at, _)| now.saturating_duration_since(at));
            state.replayed.store(replayed, Ordering::Release);
            state.lag_ms.store(
                u64::try_from(lag.as_millis()).unwrap_or(u64::MAX),
                Ordering::Relaxed,
            );
            let usable = lag <= replica.max_lag;
            if state.usable.swap(usable, Ordering::AcqRel) != usable {
                if usable {
                    tracing::info!(
                        "the read replica serves reads again (lag {} ms)",
                        lag.as_millis()
                    );
                } else {
                    tracing::warn!(
                        "the read replica is {} ms behind (more than {} ms): reads go to the primary",
                        lag.as_millis(),
                        replica.max_lag.as_millis()
                    );
                }
            }
        }
        Err(e) => {
            if state.usable.swap(false, Ordering::AcqRel) {
                tracing::warn!("the read replica does not answer, reads go to the primary: {e}");
            }
            // Unknown: the time since the oldest position it has not been seen to replay.
            let lag = samples
                .front()
                .map_or(Duration::ZERO, |&(at, _)| now.saturating_duration_since(at));
            state.lag_ms.store(
                u64::try_from(lag.as_millis()).unwrap_or(u64::MAX),
                Ordering::Relaxed,
            );
        }
    }
}
