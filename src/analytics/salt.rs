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

use chrono::{NaiveDate, NaiveDateTime};
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

/// A day's salt, unwrapped for one request. Never stored unwrapped.
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
