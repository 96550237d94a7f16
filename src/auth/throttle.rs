//! Fixed-window counters in the database, shared by every API process.
//!
//! Used for login throttling per account and per client address. Bucket names hold blind
//! indexes (HMACs), never an email or an IP address.

use chrono::{Duration, NaiveDateTime};
use diesel::prelude::*;

use crate::db::schema::rate_limits;
use crate::db::DbConnection;
use crate::http::error::RateLimit;

#[derive(Debug, Clone, Copy)]
pub struct Limit {
    pub max: i32,
    pub window: Duration,
}

/// Failed logins per account, per 15 minutes.
pub const LOGIN_PER_ACCOUNT: Limit = Limit {
    max: 5,
    window: Duration::minutes(15),
};
/// Failed logins per client address, per 15 minutes (several accounts behind one NAT).
pub const LOGIN_PER_CLIENT: Limit = Limit {
    max: 30,
    window: Duration::minutes(15),
};

fn state(limit: Limit, hits: i32, window_start: NaiveDateTime, now: NaiveDateTime) -> RateLimit {
    let reset = (window_start + limit.window - now).num_seconds().max(0) as u64;
    let remaining = (limit.max - hits).max(0) as u32;
    RateLimit {
        limit: limit.max as u32,
        remaining,
        reset_secs: reset,
        retry_after_secs: if remaining == 0 { reset.max(1) } else { 0 },
    }
}

/// The bucket's state without counting a hit.
pub fn peek(
    conn: &mut DbConnection,
    bucket: &str,
    limit: Limit,
    now: NaiveDateTime,
) -> QueryResult<RateLimit> {
    let row: Option<(NaiveDateTime, i32)> = rate_limits::table
        .find(bucket)
        .select((rate_limits::window_start, rate_limits::hits))
        .first(conn)
        .optional()?;
    Ok(match row {
        Some((start, hits)) if start + limit.window > now => state(limit, hits, start, now),
        _ => state(limit, 0, now, now),
    })
}

/// Counts one hit atomically (concurrent processes never lose a count) and returns the state.
pub fn hit(
    conn: &mut DbConnection,
    bucket: &str,
    limit: Limit,
    now: NaiveDateTime,
) -> QueryResult<RateLimit> {
    let window_open = now - limit.window;
    for _ in 0..3 {
        let counted = diesel::update(
            rate_limits::table
                .filter(rate_limits::bucket.eq(bucket))
                .filter(rate_limits::window_start.gt(window_open)),
        )
        .set(rate_limits::hits.eq(rate_limits::hits + 1))
        .execute(conn)?;
        if counted == 0 {
            let restarted = diesel::update(
                rate_limits::table
                    .filter(rate_limits::bucket.eq(bucket))
                    .filter(rate_limits::window_start.le(window_open)),
            )
            .set((rate_limits::hits.eq(1), rate_limits::window_start.eq(now)))
            .execute(conn)?;
            if restarted == 0 {
                let inserted = diesel::insert_into(rate_limits::table)
                    .values((
                        rate_limits::bucket.eq(bucket),
                        rate_limits::window_start.eq(now),
                        rate_limits::hits.eq(1),
                    ))
                    .execute(conn);
                match inserted {
                    Ok(_) => {}
                    // Another process created the bucket first: count again on its row.
                    Err(diesel::result::Error::DatabaseError(
                        diesel::result::DatabaseErrorKind::UniqueViolation,
                        _,
                    )) => continue,
                    Err(e) => return Err(e),
                }
            }
        }
        return peek(conn, bucket, limit, now);
    }
    peek(conn, bucket, limit, now)
}

pub fn clear(conn: &mut DbConnection, bucket: &str) -> QueryResult<()> {
    diesel::delete(rate_limits::table.find(bucket)).execute(conn)?;
    Ok(())
}
