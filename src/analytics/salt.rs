//! Day salts: one random 256-bit salt per UTC day, wrapped by the master key, destroyed once
//! the day and its grace period are over.
//!
//! A visitor hash is HMAC-SHA256(salt of the day, session string), truncated to 16 bytes.
//! Once a day's salt is gone, nobody — the shop included — can compute that day's hash of a
//! session again, so hashes of different days cannot be linked to each other or to a person
//! who later reveals their session string.
//!
//! The grace: a session still browsing when the UTC day ends keeps the previous day's hash
//! for [`GRACE`] after midnight (its events count for the previous day), so one visit is not
//! split in two at midnight. The previous day's salt is needed only for that and is
//! destroyed when the grace ends.

use std::sync::Mutex;

use chrono::{NaiveDate, NaiveDateTime, NaiveTime};
use diesel::prelude::*;
use ring::hmac;

use super::model::Session;
use crate::crypto::{Crypto, CryptoError};
use crate::db::schema::analytics_salts;
use crate::db::DbConnection;

/// How long after midnight a session seen the day before keeps that day's hash.
pub const GRACE: chrono::Duration = chrono::Duration::minutes(30);
/// Bytes kept of a visitor hash: ample to tell a day's sessions apart.
pub const HASH_LEN: usize = 16;

/// A day's salt, unwrapped. Never stored unwrapped; kept in memory only by [`SaltCache`],
/// until its destruction time.
#[derive(Clone)]
pub struct Salt(hmac::Key);

impl Salt {
    fn new(secret: &[u8]) -> Self {
        Self(hmac::Key::new(hmac::HMAC_SHA256, secret))
    }

    pub fn visitor_hash(&self, session: &Session) -> Vec<u8> {
        hmac::sign(&self.0, session.as_bytes()).as_ref()[..HASH_LEN].to_vec()
    }
}

/// The additional data binding a wrapped salt to its day (a salt copied to another day's row
/// fails to unwrap); key rotation re-wraps salts with the same.
pub use crate::crypto::rotation::salt_aad as aad;

/// The salt of `day` if it still exists.
pub fn existing(
    conn: &mut DbConnection,
    crypto: &Crypto,
    day: NaiveDate,
) -> Result<Option<Salt>, CryptoError> {
    let row: Option<(String, Vec<u8>)> = analytics_salts::table
        .find(day)
        .select((analytics_salts::kek_id, analytics_salts::wrapped))
        .first(conn)
        .optional()?;
    row.map(|(kek_id, wrapped)| {
        crypto
            .unwrap_secret(&kek_id, &aad(day), &wrapped)
            .map(|secret| Salt::new(&secret))
    })
    .transpose()
}

/// The salt of `day`, created on first use. Call it outside a transaction: when processes
/// race to create it, the loser's insert fails and it reads the winner's salt.
pub fn for_day(
    conn: &mut DbConnection,
    crypto: &Crypto,
    day: NaiveDate,
) -> Result<Salt, CryptoError> {
    if let Some(salt) = existing(conn, crypto, day)? {
        return Ok(salt);
    }
    let secret = Crypto::random_secret()?;
    let (kek_id, wrapped) = crypto.wrap_secret(&aad(day), &secret)?;
    let inserted = diesel::insert_into(analytics_salts::table)
        .values((
            analytics_salts::day.eq(day),
            analytics_salts::kek_id.eq(&kek_id),
            analytics_salts::wrapped.eq(&wrapped),
        ))
        .execute(conn);
    match inserted {
        Ok(_) => Ok(Salt::new(&secret)),
        Err(e) if crate::db::is_unique_violation(&e) => {
            existing(conn, crypto, day)?.ok_or(CryptoError::Integrity)
        }
        Err(e) => Err(e.into()),
    }
}

/// Salts of days before this one have outlived their day and its grace at `now`.
pub fn expiry_cutoff(now: NaiveDateTime) -> NaiveDate {
    (now - GRACE).date()
}

/// When the salt of `day` is destroyed: the end of the day plus [`GRACE`] (the first
/// moment [`expiry_cutoff`] is past `day`).
pub fn destruction_time(day: NaiveDate) -> NaiveDateTime {
    match day.succ_opt() {
        Some(next) => next.and_time(NaiveTime::MIN) + GRACE,
        None => NaiveDateTime::MAX,
    }
}

/// Whether `at` is in the grace after midnight, when a session seen the day before keeps
/// that day's hash.
pub fn in_grace(at: NaiveDateTime) -> bool {
    at.time() < NaiveTime::MIN + GRACE
}

/// The salts a batch received at one moment may be hashed with: today's, and in the grace
/// after midnight yesterday's, if it exists.
#[derive(Clone)]
pub struct DaySalts {
    pub today: (NaiveDate, Salt),
    pub yesterday: Option<(NaiveDate, Salt)>,
}

/// The salts for a batch received at `at`, from the database (today's created on first use).
/// Call it outside a transaction (see [`for_day`]).
pub fn day_salts(
    conn: &mut DbConnection,
    crypto: &Crypto,
    at: NaiveDateTime,
) -> Result<DaySalts, CryptoError> {
    let today = at.date();
    let yesterday = match today.pred_opt().filter(|_| in_grace(at)) {
        Some(day) => existing(conn, crypto, day)?.map(|salt| (day, salt)),
        None => None,
    };
    Ok(DaySalts {
        today: (today, for_day(conn, crypto, today)?),
        yesterday,
    })
}

/// Day salts kept in memory, so hashing a batch needs no database read. It never holds a
/// salt at or past its [`destruction_time`]: a lookup then misses (and drops it), and the
/// ingest flusher calls [`SaltCache::evict_expired`] on every tick, so the copy in memory
/// goes with the one in the database (or before it: the worker destroys those on its own
/// interval). Yesterday's salt is also remembered as absent, since after midnight nobody
/// creates it.
#[derive(Default)]
pub struct SaltCache {
    days: Mutex<Vec<(NaiveDate, Option<Salt>)>>,
}

/// What the cache knows of a day's salt: `None` when it must be read from the database.
type Known = Option<Option<Salt>>;

impl SaltCache {
    /// The salts for `at` as far as the cache knows them; `None` when a read is needed.
    pub fn day_salts(&self, at: NaiveDateTime) -> Option<DaySalts> {
        let today = at.date();
        let today_salt = self.lookup(today, at)??;
        let yesterday = match today.pred_opt().filter(|_| in_grace(at)) {
            Some(day) => self.lookup(day, at)?.map(|salt| (day, salt)),
            None => None,
        };
        Some(DaySalts {
            today: (today, today_salt),
            yesterday,
        })
    }

    /// Keeps the salts read at `at` (yesterday's as absent when it is); nothing already
    /// past its destruction time.
    pub fn keep(&self, salts: &DaySalts, at: NaiveDateTime) {
        let mut days = self.lock();
        days.retain(|(day, _)| destruction_time(*day) > at);
        let mut put = |day: NaiveDate, salt: Option<Salt>| {
            if destruction_time(day) <= at {
                return;
            }
            days.retain(|(d, _)| *d != day);
            days.push((day, salt));
        };
        put(salts.today.0, Some(salts.today.1.clone()));
        if in_grace(at) {
            if let Some(yesterday) = salts.today.0.pred_opt() {
                let salt = salts.yesterday.as_ref().map(|(_, salt)| salt.clone());
                put(yesterday, salt);
            }
        }
    }

    /// Drops every salt whose destruction time has come at `now`; returns how many days went.
    pub fn evict_expired(&self, now: NaiveDateTime) -> usize {
        let mut days = self.lock();
        let before = days.len();
        days.retain(|(day, _)| destruction_time(*day) > now);
        before - days.len()
    }

    /// How many days the cache holds (salts or known absences).
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lookup(&self, day: NaiveDate, at: NaiveDateTime) -> Known {
        let mut days = self.lock();
        days.retain(|(d, _)| destruction_time(*d) > at);
        days.iter()
            .find(|(d, _)| *d == day)
            .map(|(_, salt)| salt.clone())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<(NaiveDate, Option<Salt>)>> {
        // A panic while holding the lock cannot leave the list half-changed.
        self.days
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Destroys every salt whose day and grace are over at `now`; returns how many. Idempotent;
/// the analytics worker calls it on every pass, and the retention engine may too.
pub fn destroy_expired_salts(conn: &mut DbConnection, now: NaiveDateTime) -> QueryResult<usize> {
    diesel::delete(analytics_salts::table.filter(analytics_salts::day.lt(expiry_cutoff(now))))
        .execute(conn)
}

/// How many salts [`destroy_expired_salts`] would destroy at `now` (for dry runs).
pub fn count_expired_salts(conn: &mut DbConnection, now: NaiveDateTime) -> QueryResult<i64> {
    analytics_salts::table
        .filter(analytics_salts::day.lt(expiry_cutoff(now)))
        .count()
        .get_result(conn)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S").unwrap()
    }

    #[test]
    fn a_salt_outlives_its_day_by_the_grace_only() {
        let day = NaiveDate::from_ymd_opt(2026, 11, 25).unwrap();
        assert!(expiry_cutoff(at("2026-11-25 23:59:59")) <= day);
        assert!(expiry_cutoff(at("2026-11-26 00:29:59")) <= day);
        assert!(expiry_cutoff(at("2026-11-26 00:30:00")) > day);
        assert_eq!(destruction_time(day), at("2026-11-26 00:30:00"));
    }

    fn salts(today: &str, yesterday: Option<u8>) -> DaySalts {
        let day = NaiveDate::parse_from_str(today, "%Y-%m-%d").unwrap();
        DaySalts {
            today: (day, Salt::new(&[7; 32])),
            yesterday: yesterday.map(|b| (day.pred_opt().unwrap(), Salt::new(&[b; 32]))),
        }
    }

    #[test]
    fn the_cache_never_holds_a_salt_past_its_destruction_time() {
        let cache = SaltCache::default();
        cache.keep(&salts("2026-11-25", None), at("2026-11-25 12:00:00"));
        assert!(cache.day_salts(at("2026-11-25 23:59:59")).is_some());
        assert_eq!(cache.len(), 1);
        // After midnight the cache knows nothing of the new day, and in the grace it still
        // has the old day's salt, but not a moment later.
        assert!(cache.day_salts(at("2026-11-26 00:10:00")).is_none());
        cache.keep(&salts("2026-11-26", Some(1)), at("2026-11-26 00:10:00"));
        let in_grace = cache.day_salts(at("2026-11-26 00:29:59")).unwrap();
        assert!(in_grace.yesterday.is_some());
        assert_eq!(cache.evict_expired(at("2026-11-26 00:29:59")), 0);
        assert_eq!(cache.evict_expired(at("2026-11-26 00:30:00")), 1);
        assert_eq!(cache.len(), 1, "only the new day's salt is left");
        let after = cache.day_salts(at("2026-11-26 00:30:00")).unwrap();
        assert!(after.yesterday.is_none());
        // A lookup at the destruction time drops the salt even without an eviction pass.
        assert!(cache.day_salts(at("2026-11-27 00:30:00")).is_none());
        assert!(cache.is_empty());
    }

    #[test]
    fn an_expired_salt_is_never_kept_and_an_absent_one_is_remembered_in_the_grace() {
        let cache = SaltCache::default();
        // Read just before its destruction, kept after it: refused.
        cache.keep(&salts("2026-11-25", None), at("2026-11-26 00:30:00"));
        assert!(cache.is_empty());
        cache.keep(&salts("2026-11-26", None), at("2026-11-26 00:05:00"));
        let known = cache.day_salts(at("2026-11-26 00:06:00")).unwrap();
        assert!(
            known.yesterday.is_none(),
            "no salt yesterday: no read needed"
        );
        assert_eq!(cache.len(), 2);
        assert_eq!(cache.evict_expired(at("2026-11-26 00:30:00")), 1);
    }

    #[test]
    fn hashes_depend_on_the_salt_and_the_session() {
        let s = |raw: &str| Session::parse(raw.to_owned()).unwrap();
        let (a, b) = (Salt::new(&[1; 32]), Salt::new(&[2; 32]));
        assert_eq!(
            a.visitor_hash(&s("session-1")),
            a.visitor_hash(&s("session-1"))
        );
        assert_ne!(
            a.visitor_hash(&s("session-1")),
            b.visitor_hash(&s("session-1"))
        );
        assert_ne!(
            a.visitor_hash(&s("session-1")),
            a.visitor_hash(&s("session-2"))
        );
        assert_eq!(a.visitor_hash(&s("session-1")).len(), HASH_LEN);
    }
}
