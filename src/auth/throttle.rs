//! Fixed-window counters in the database, shared by every API process.
//!
//! Used for login throttling per (account, client address), per account and per client
//! address. Bucket names hold blind indexes (HMACs), never an email or an IP address.

use chrono::{Duration, NaiveDateTime};
use diesel::prelude::*;

use diesel::sql_types::{Integer, Text, Timestamp};

use crate::db::schema::rate_limits;
use crate::db::{DbConnection, Statement};
use crate::http::error::RateLimit;

#[derive(Debug, Clone, Copy)]
pub struct Limit {
    /// Names the limit in `RateLimit-Policy`.
    pub name: &'static str,
    pub max: i32,
    pub window: Duration,
}

/// Login attempts on one account from one client address: 5 free, then a lock that doubles
/// with each further failure (15 min, 30 min, 1 h … 12 h). Keyed to the pair, so a stranger
/// guessing elsewhere locks only themselves out, never the owner's own device.
pub const LOGIN_PER_PAIR: Backoff = Backoff {
    free: 5,
    first_lock: Duration::minutes(15),
    longest_lock: Duration::hours(12),
    forget_after: Duration::hours(24),
};
/// Login attempts on one account from every address together, per hour: the ceiling for
/// guessing spread over many addresses. One address reaches at most 7 an hour (its pair
/// back-off), so locking an owner out this way takes many addresses, for an hour at most.
pub const LOGIN_PER_ACCOUNT: Limit = Limit {
    name: "login-account",
    max: 50,
    window: Duration::hours(1),
};
/// Login attempts per client address on any accounts, per 15 minutes (several people may
/// share one address).
pub const LOGIN_PER_CLIENT: Limit = Limit {
    name: "login-client",
    max: 30,
    window: Duration::minutes(15),
};

/// A lock that grows with consecutive failures: `free` attempts, then each failure locks
/// for twice as long as the one before, up to `longest_lock`; a success or `forget_after`
/// without a failure starts over.
#[derive(Debug, Clone, Copy)]
pub struct Backoff {
    pub free: i32,
    pub first_lock: Duration,
    pub longest_lock: Duration,
    pub forget_after: Duration,
}

impl Backoff {
    /// Until when `failures` consecutive failures, the last at `last`, lock the next try.
    pub fn locked_until(&self, failures: i32, last: NaiveDateTime) -> Option<NaiveDateTime> {
        let beyond = u32::try_from(failures - self.free).ok()?;
        let doubling = beyond.min(20);
        let lock = self
            .first_lock
            .checked_mul(1 << doubling)
            .unwrap_or(self.longest_lock)
            .min(self.longest_lock);
        Some(last + lock)
    }
}

/// The outcome of asking for one more attempt under a [`Backoff`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Claim {
    /// Counted: this attempt may go ahead. `left` more may follow before a lock.
    Granted { left: i32 },
    /// Locked: nothing was counted.
    Locked { retry_after_secs: u64 },
}

/// Counts an attempt *before* it is made, atomically: of any number of concurrent attempts,
/// exactly as many are granted as the back-off allows; a locked one is not counted. The row
/// holds the consecutive attempts and the time of the last; the count moves by compare-and-
/// set, so concurrent processes never both take the last free attempt.
pub fn claim(
    conn: &mut DbConnection,
    bucket: &str,
    backoff: Backoff,
    now: NaiveDateTime,
) -> QueryResult<Claim> {
    for _ in 0..20 {
        let row: Option<(NaiveDateTime, i32)> = rate_limits::table
            .find(bucket)
            .select((rate_limits::window_start, rate_limits::hits))
            .first(conn)
            .optional()?;
        let Some((last, hits)) = row else {
            if create_bucket(conn, bucket, now, 1)? {
                return Ok(Claim::Granted {
                    left: backoff.free - 1,
                });
            }
            continue; // created by another attempt meanwhile: count on its row
        };
        let streak = if now - last > backoff.forget_after {
            0
        } else {
            hits
        };
        if let Some(until) = backoff.locked_until(streak, last).filter(|u| *u > now) {
            let secs = (until - now).num_seconds().max(1);
            return Ok(Claim::Locked {
                retry_after_secs: u64::try_from(secs).unwrap_or(1),
            });
        }
        let counted = diesel::update(
            rate_limits::table
                .filter(rate_limits::bucket.eq(bucket))
                .filter(rate_limits::hits.eq(hits))
                .filter(rate_limits::window_start.eq(last)),
        )
        .set((
            rate_limits::hits.eq(streak + 1),
            rate_limits::window_start.eq(now),
        ))
        .execute(conn)?;
        if counted == 1 {
            return Ok(Claim::Granted {
                left: (backoff.free - streak - 1).max(0),
            });
        }
        // Another attempt was counted meanwhile: look again.
    }
    Ok(Claim::Locked {
        retry_after_secs: 1,
    })
}

/// Gives back an attempt counted by [`hit`] that turned out not to be a failure.
pub fn refund(conn: &mut DbConnection, bucket: &str) -> QueryResult<()> {
    diesel::update(
        rate_limits::table
            .filter(rate_limits::bucket.eq(bucket))
            .filter(rate_limits::hits.gt(0)),
    )
    .set(rate_limits::hits.eq(rate_limits::hits - 1))
    .execute(conn)?;
    Ok(())
}

/// The state of a fixed window holding `hits` since `window_start`, as sent in headers.
pub fn state(
    limit: Limit,
    hits: i32,
    window_start: NaiveDateTime,
    now: NaiveDateTime,
) -> RateLimit {
    let reset = (window_start + limit.window - now).num_seconds().max(0) as u64;
    let remaining = (limit.max - hits).max(0) as u32;
    RateLimit {
        limit: limit.max as u32,
        remaining,
        reset_secs: reset,
        retry_after_secs: if remaining == 0 { reset.max(1) } else { 0 },
        policy: Some((limit.name, limit.window.num_seconds().unsigned_abs())),
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

/// Counts one attempt before it is made: `Ok` with the state when it is within the limit,
/// `Err` with the state when it is over (counted all the same; the window ends regardless).
pub fn take(
    conn: &mut DbConnection,
    bucket: &str,
    limit: Limit,
    now: NaiveDateTime,
) -> QueryResult<Result<RateLimit, RateLimit>> {
    hit(conn, bucket, limit, now)?;
    let row: Option<(NaiveDateTime, i32)> = rate_limits::table
        .find(bucket)
        .select((rate_limits::window_start, rate_limits::hits))
        .first(conn)
        .optional()?;
    Ok(match row {
        Some((start, hits)) if hits > limit.max => Err(state(limit, hits, start, now)),
        Some((start, hits)) => Ok(state(limit, hits, start, now)),
        None => Ok(state(limit, 0, now, now)),
    })
}

/// Counts one hit atomically and returns the state. Two statements, neither of which can
/// fail or lose a count under concurrency, inside a transaction or not: the bucket's row is
/// created if missing (a conflict does nothing, so no error aborts a PostgreSQL
/// transaction), then one UPDATE counts the hit or restarts an expired window — its row lock
/// orders concurrent hits, each of which reads the count after its own.
pub fn hit(
    conn: &mut DbConnection,
    bucket: &str,
    limit: Limit,
    now: NaiveDateTime,
) -> QueryResult<RateLimit> {
    create_bucket(conn, bucket, now, 0)?;
    let window_open = now - limit.window;
    Statement::sql("UPDATE rate_limits SET hits = CASE WHEN window_start > ")
        .bind::<Timestamp, _>(window_open)
        .then(" THEN hits + 1 ELSE 1 END, window_start = CASE WHEN window_start > ")
        .bind::<Timestamp, _>(window_open)
        .then(" THEN window_start ELSE ")
        .bind::<Timestamp, _>(now)
        .then(" END WHERE bucket = ")
        .bind::<Text, _>(bucket)
        .execute(conn)?;
    peek(conn, bucket, limit, now)
}

/// Creates the bucket's row unless it exists; true when this call created it.
fn create_bucket(
    conn: &mut DbConnection,
    bucket: &str,
    now: NaiveDateTime,
    hits: i32,
) -> QueryResult<bool> {
    let created = Statement::sql("INSERT INTO rate_limits (bucket, window_start, hits) VALUES (")
        .bind::<Text, _>(bucket)
        .then(", ")
        .bind::<Timestamp, _>(now)
        .then(", ")
        .bind::<Integer, _>(hits)
        .then(") ON CONFLICT (bucket) DO NOTHING")
        .execute(conn)?;
    Ok(created == 1)
}

pub fn clear(conn: &mut DbConnection, bucket: &str) -> QueryResult<()> {
    diesel::delete(rate_limits::table.find(bucket)).execute(conn)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lock_starts_after_the_free_attempts_and_doubles_up_to_its_cap() {
        let last = chrono::NaiveDate::from_ymd_opt(2026, 1, 1)
            .unwrap()
            .and_hms_opt(12, 0, 0)
            .unwrap();
        let lock = |failures| {
            LOGIN_PER_PAIR
                .locked_until(failures, last)
                .map(|until| (until - last).num_minutes())
        };
        assert_eq!((0..5).map(lock).collect::<Vec<_>>(), vec![None; 5]);
        assert_eq!(lock(5), Some(15));
        assert_eq!(lock(6), Some(30));
        assert_eq!(lock(7), Some(60));
        assert_eq!(lock(11), Some(720), "capped at 12 hours");
        assert_eq!(lock(i32::MAX), Some(720));
    }
}
