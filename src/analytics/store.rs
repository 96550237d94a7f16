//! Raw events: storing a batch under the day's visitor hash, and purging old days.

use chrono::{NaiveDate, NaiveDateTime, NaiveTime};
use diesel::prelude::*;

use super::model::{Batch, Session};
use super::salt::{self, GRACE};
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

/// Stores a batch received at `at` (UTC; injectable so tests can move between days).
pub fn ingest(
    conn: &mut DbConnection,
    crypto: &Crypto,
    batch: &Batch,
    at: NaiveDateTime,
) -> Result<Stored, ApiError> {
    let (day, hash) = visitor_day(conn, crypto, &batch.session, at)?;
    // Batches of one day take turns (see `mark_pending`), so two never pick the same `seq`;
    // should one still meet the primary key, its transaction runs again.
    let mut attempt = 0;
    loop {
        attempt += 1;
        let stored = write_transaction(conn, |conn| insert_events(conn, day, &hash, batch));
        match stored {
            Err(e) if is_unique_violation(&e) && attempt < 3 => continue,
            Err(e) => return Err(e.into()),
            Ok(()) => {
                return Ok(Stored {
                    day,
                    events: batch.events.len(),
                })
            }
        }
    }
}

/// The day a batch counts for, and the visitor's hash for that day.
fn visitor_day(
    conn: &mut DbConnection,
    crypto: &Crypto,
    session: &Session,
    at: NaiveDateTime,
) -> Result<(NaiveDate, Vec<u8>), ApiError> {
    let today = at.date();
    let in_grace = at.time() < NaiveTime::MIN + GRACE;
    if let Some(yesterday) = today.pred_opt().filter(|_| in_grace) {
        if let Some(salt) = salt::existing(conn, crypto, yesterday)? {
            let hash = salt.visitor_hash(session);
            if last_seq(conn, yesterday, &hash)?.is_some() {
                return Ok((yesterday, hash));
            }
        }
    }
    let salt = salt::for_day(conn, crypto, today)?;
    Ok((today, salt.visitor_hash(session)))
}

fn last_seq(conn: &mut DbConnection, day: NaiveDate, hash: &[u8]) -> QueryResult<Option<i32>> {
    analytics_events::table
        .filter(analytics_events::day.eq(day))
        .filter(analytics_events::visitor_hash.eq(hash))
        .select(diesel::dsl::max(analytics_events::seq))
        .first(conn)
}

fn insert_events(
    conn: &mut DbConnection,
    day: NaiveDate,
    hash: &[u8],
    batch: &Batch,
) -> QueryResult<()> {
    use diesel::sql_types::{Binary, Date, Integer, Nullable, Text};
    mark_pending(conn, day)?;
    let first = last_seq(conn, day, hash)?.unwrap_or(0) + 1;
    // One statement for the batch: on PostgreSQL each statement is a round trip.
    let sql = format!(
        "INSERT INTO analytics_events (day, visitor_hash, seq, event_type, path, product_id, \
         dwell_ms) VALUES {}",
        crate::db::values_list(conn, "(?, ?, ?, ?, ?, ?, ?)", batch.events.len())
    );
    let mut query = diesel::sql_query(sql).into_boxed();
    for (seq, event) in (first..).zip(&batch.events) {
        query = query
            .bind::<Date, _>(day)
            .bind::<Binary, _>(hash)
            .bind::<Integer, _>(seq)
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
