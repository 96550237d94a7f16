//! Raw events: storing a batch under the day's visitor hash, and purging old days.

use std::collections::{BTreeSet, HashMap};

use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;

use super::model::{Batch, Event};
use super::salt::{self, DaySalts};
use crate::crypto::Crypto;
use crate::db::schema::{analytics_events, analytics_rollups};
use crate::db::{is_unique_violation, write_transaction, DbConnection};
use crate::http::error::ApiError;

/// Where a batch was stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stored {
    /// The day its events count for (the previous one for a session crossing midnight).
    pub day: NaiveDate,
    pub events: usize,
}

/// A day and a visitor's hash for it.
pub type Visitor = (NaiveDate, Vec<u8>);

/// A batch ready to store: its events and its visitor's hash for each day it may count
/// for. It holds no session string and no salt.
#[derive(Debug, Clone)]
pub struct Prepared {
    /// The day it was received and the visitor's hash for it.
    pub today: Visitor,
    /// In the grace after midnight, when yesterday's salt exists: yesterday and the
    /// visitor's hash for it. The batch counts for yesterday if that visitor has events of
    /// yesterday (the visit goes on), else for today.
    pub yesterday: Option<Visitor>,
    pub events: Vec<Event>,
}

impl Prepared {
    /// Hashes the batch's session under the salts of its moment; the session goes.
    pub fn new(salts: &DaySalts, batch: Batch) -> Self {
        let Batch { session, events } = batch;
        let (today, salt) = &salts.today;
        Self {
            today: (*today, salt.visitor_hash(&session)),
            yesterday: salts
                .yesterday
                .as_ref()
                .map(|(day, salt)| (*day, salt.visitor_hash(&session))),
            events,
        }
    }

    pub fn len(&self) -> usize {
        self.events.len()
    }

    pub fn is_empty(&self) -> bool {
        self.events.is_empty()
    }
}

/// Stores a batch received at `at` (UTC; injectable so tests can move between days) at
/// once, its salts read from the database.
pub fn ingest(
    conn: &mut DbConnection,
    crypto: &Crypto,
    batch: &Batch,
    at: NaiveDateTime,
) -> Result<Stored, ApiError> {
    let salts = salt::day_salts(conn, crypto, at)?;
    let stored = write(conn, &[Prepared::new(&salts, batch.clone())])?;
    stored
        .into_iter()
        .next()
        .ok_or_else(|| ApiError::Internal(anyhow::anyhow!("a stored batch went missing")))
}

/// Stores batches in one transaction, in their order, with multi-row INSERTs; returns where
/// each went. A visitor's events are numbered (`seq`) after those already stored.
pub fn write(conn: &mut DbConnection, batches: &[Prepared]) -> QueryResult<Vec<Stored>> {
    // Days take turns (see `mark_pending`), so two writers never pick the same `seq`;
    // should one still meet the primary key, the transaction runs again.
    let mut attempt = 0;
    loop {
        attempt += 1;
        match write_transaction(conn, |conn| write_once(conn, batches)) {
            Err(e) if is_unique_violation(&e) && attempt < 3 => continue,
            other => return other,
        }
    }
}

/// Rows bound per INSERT: 7 parameters each, well under both backends' limits.
const ROWS_PER_INSERT: usize = 500;
/// Hashes asked about per query.
const HASHES_PER_QUERY: usize = 500;

fn write_once(conn: &mut DbConnection, batches: &[Prepared]) -> QueryResult<Vec<Stored>> {
    let visitors = choose_days(conn, batches)?;
    // In day order, so two writers marking the same days never wait for each other in a
    // circle.
    let days: BTreeSet<NaiveDate> = visitors.iter().map(|(day, _)| *day).collect();
    for day in &days {
        mark_pending(conn, *day)?;
    }
    // After the marks: what other writers of these days stored is committed now.
    let mut next_seq: HashMap<Visitor, i32> = HashMap::new();
    for day in &days {
        let hashes: BTreeSet<&Vec<u8>> = visitors
            .iter()
            .filter(|(d, _)| d == day)
            .map(|(_, hash)| hash)
            .collect();
        let hashes: Vec<&Vec<u8>> = hashes.into_iter().collect();
        for chunk in hashes.chunks(HASHES_PER_QUERY) {
            for (hash, last) in last_seqs(conn, *day, chunk)? {
                next_seq.insert((*day, hash), last.unwrap_or(0) + 1);
            }
        }
    }
    let mut rows = Vec::with_capacity(batches.iter().map(Prepared::len).sum());
    for (visitor, batch) in visitors.iter().zip(batches) {
        let seq = next_seq.entry(visitor.clone()).or_insert(1);
        for event in &batch.events {
            rows.push((visitor, *seq, event));
            *seq += 1;
        }
    }
    for chunk in rows.chunks(ROWS_PER_INSERT) {
        insert_rows(conn, chunk)?;
    }
    Ok(visitors
        .iter()
        .zip(batches)
        .map(|((day, _), batch)| Stored {
            day: *day,
            events: batch.len(),
        })
        .collect())
}

/// The day and hash each batch counts under: yesterday's when it is a candidate and the
/// visitor has events of yesterday, stored or earlier in `batches`; else today's.
fn choose_days(conn: &mut DbConnection, batches: &[Prepared]) -> QueryResult<Vec<Visitor>> {
    let mut candidates: HashMap<NaiveDate, BTreeSet<&Vec<u8>>> = HashMap::new();
    for (day, hash) in batches.iter().filter_map(|b| b.yesterday.as_ref()) {
        candidates.entry(*day).or_default().insert(hash);
    }
    let mut seen: BTreeSet<Visitor> = BTreeSet::new();
    for (day, hashes) in candidates {
        let hashes: Vec<&Vec<u8>> = hashes.into_iter().collect();
        for chunk in hashes.chunks(HASHES_PER_QUERY) {
            for (hash, last) in last_seqs(conn, day, chunk)? {
                if last.is_some() {
                    seen.insert((day, hash));
                }
            }
        }
    }
    Ok(batches
        .iter()
        .map(|batch| match &batch.yesterday {
            Some(yesterday) if seen.contains(yesterday) => yesterday.clone(),
            _ => {
                seen.insert(batch.today.clone());
                batch.today.clone()
            }
        })
        .collect())
}

/// The last `seq` stored on `day` for each of `hashes` (`None`: none stored).
///
/// One primary-key probe per visitor (the highest `(day, visitor_hash, seq)` of the pair),
/// whatever the planner believes about the day: a `visitor_hash IN (…)` filter next to
/// `day = ?` was planned on PostgreSQL from statistics that did not know today yet (the day's
/// first rows, or autovacuum not yet come by), as a scan of all of the day's rows filtered
/// by hash, so each group of the flusher cost time in proportion to the day's events (51 ms
/// at 150,000 events instead of 1 ms for 500 visitors), and its writing rate collapsed as
/// the day filled up.
fn last_seqs(
    conn: &mut DbConnection,
    day: NaiveDate,
    hashes: &[&Vec<u8>],
) -> QueryResult<Vec<(Vec<u8>, Option<i32>)>> {
    use diesel::sql_types::{Binary, Date, Integer, Nullable};
    #[derive(QueryableByName)]
    struct Last {
        #[diesel(sql_type = Binary)]
        hash: Vec<u8>,
        #[diesel(sql_type = Nullable<Integer>)]
        last: Option<i32>,
    }
    if hashes.is_empty() {
        return Ok(Vec::new());
    }
    let sql = format!(
        "WITH wanted (hash) AS (VALUES {}) SELECT hash, (SELECT max(seq) FROM analytics_events \
         WHERE day = {} AND visitor_hash = wanted.hash) AS last FROM wanted",
        crate::db::values_list(conn, "(?)", hashes.len()),
        crate::db::placeholder(conn, hashes.len() + 1),
    );
    let mut query = diesel::sql_query(sql).into_boxed();
    for hash in hashes {
        query = query.bind::<Binary, _>(hash.as_slice());
    }
    let rows: Vec<Last> = query.bind::<Date, _>(day).load(conn)?;
    Ok(rows.into_iter().map(|r| (r.hash, r.last)).collect())
}

fn insert_rows(conn: &mut DbConnection, rows: &[(&Visitor, i32, &Event)]) -> QueryResult<()> {
    use diesel::sql_types::{Binary, Date, Integer, Nullable, Text};
    // One statement for many rows: on PostgreSQL each statement is a round trip.
    let sql = format!(
        "INSERT INTO analytics_events (day, visitor_hash, seq, event_type, path, product_id, \
         dwell_ms) VALUES {}",
        crate::db::values_list(conn, "(?, ?, ?, ?, ?, ?, ?)", rows.len())
    );
    let mut query = diesel::sql_query(sql).into_boxed();
    for ((day, hash), seq, event) in rows {
        query = query
            .bind::<Date, _>(*day)
            .bind::<Binary, _>(hash.as_slice())
            .bind::<Integer, _>(*seq)
            .bind::<Text, _>(event.kind().as_str())
            .bind::<Nullable<Text>, _>(event.path())
            .bind::<Nullable<Text>, _>(event.product_id())
            .bind::<Nullable<Integer>, _>(event.dwell_ms());
    }
    query.execute(conn)?;
    Ok(())
}

/// Marks `day` for the next roll-up, as the first step of the transaction that stores its
/// events.
///
/// The update is unconditional on purpose: it waits for a roll-up that has claimed the day
/// and not yet committed (whose recompute cannot see these events), then marks the day again;
/// and a roll-up that comes later waits for this transaction, so its recompute sees them. A
/// conditional `WHERE NOT pending` would skip the row as its snapshot shows it and lose the
/// events until the day's next batch. Being first, the row lock it takes also makes the
/// day's batches take turns on PostgreSQL, so each reads the session's last `seq` after the
/// previous batch committed (32 concurrent batches of one session collided on the primary
/// key and failed when this came last).
fn mark_pending(conn: &mut DbConnection, day: NaiveDate) -> QueryResult<()> {
    let set = |conn: &mut DbConnection| {
        diesel::update(analytics_rollups::table.filter(analytics_rollups::day.eq(day)))
            .set(analytics_rollups::pending.eq(true))
            .execute(conn)
    };
    if set(conn)? > 0 {
        return Ok(());
    }
    // A savepoint: on PostgreSQL a failed statement would abort the whole transaction.
    let inserted = conn.transaction(|conn| {
        diesel::insert_into(analytics_rollups::table)
            .values((
                analytics_rollups::day.eq(day),
                analytics_rollups::pending.eq(true),
                analytics_rollups::rolled_at.eq(None::<NaiveDateTime>),
            ))
            .execute(conn)
    });
    match inserted {
        // Another batch created the row first; a roll-up may have claimed it since.
        Err(e) if is_unique_violation(&e) => set(conn).map(|_| ()),
        other => other.map(|_| ()),
    }
}

/// The first day whose raw events are kept when they are kept `raw_days` days.
pub fn raw_events_cutoff(today: NaiveDate, raw_days: i64) -> NaiveDate {
    today - chrono::Duration::days(raw_days.max(1) - 1)
}

/// Deletes up to `batch` raw events of days before `before` — only of days already rolled
/// up, so nothing is lost from the aggregates — and returns how many. Each call is one short
/// statement; the retention engine calls it until it returns less than `batch`.
pub fn purge_raw_events(
    conn: &mut DbConnection,
    before: NaiveDate,
    batch: i64,
) -> QueryResult<usize> {
    use diesel::sql_types::{BigInt, Bool, Date};
    diesel::sql_query(
        "DELETE FROM analytics_events WHERE (day, visitor_hash, seq) IN (\
         SELECT day, visitor_hash, seq FROM analytics_events \
         WHERE day < $1 AND day NOT IN (SELECT day FROM analytics_rollups WHERE pending = $2) \
         LIMIT $3)",
    )
    .bind::<Date, _>(before)
    .bind::<Bool, _>(true)
    .bind::<BigInt, _>(batch)
    .execute(conn)
}

/// How many raw events [`purge_raw_events`] would delete (for dry runs).
pub fn count_purgeable_raw_events(conn: &mut DbConnection, before: NaiveDate) -> QueryResult<i64> {
    let pending = analytics_rollups::table
        .filter(analytics_rollups::pending.eq(true))
        .select(analytics_rollups::day);
    analytics_events::table
        .filter(analytics_events::day.lt(before))
        .filter(analytics_events::day.ne_all(pending))
        .count()
        .get_result(conn)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_events_are_kept_for_whole_days() {
        let today = NaiveDate::from_ymd_opt(2026, 11, 30).unwrap();
        assert_eq!(
            raw_events_cutoff(today, 30),
            NaiveDate::from_ymd_opt(2026, 11, 1).unwrap()
        );
        assert_eq!(raw_events_cutoff(today, 1), today);
    }
}
