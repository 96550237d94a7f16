//! The per-instance limit on event batches per client address: fixed one-minute windows in
//! memory, keyed by the blind index of the address (never the address), with the same quota
//! and headers as the database counter it replaced. Analytics events are anonymous and
//! loss-tolerant, so a limit that N instances enforce separately (N × the quota in all) is
//! worth not writing a database row per batch.

use std::collections::HashMap;
use std::sync::Mutex;

use chrono::NaiveDateTime;

use crate::auth::throttle::{self, Limit};
use crate::http::error::RateLimit;

/// Bytes of the blind index that name a bucket.
pub const KEY_LEN: usize = 16;
/// The most buckets kept: about 64 bytes each, a few megabytes at most. Buckets whose window
/// is over are forgotten first; beyond that, the oldest window goes (a flood of more
/// addresses than this within one window lets the oldest start over early).
pub const MAX_BUCKETS: usize = 100_000;

/// A bucket key: the first [`KEY_LEN`] bytes of the client address's blind index.
pub type Key = [u8; KEY_LEN];

#[derive(Debug, Clone, Copy)]
struct Window {
    start: NaiveDateTime,
    hits: i32,
}

/// Fixed-window counters per key, in memory.
pub struct Limiter {
    limit: Limit,
    max_buckets: usize,
    buckets: Mutex<HashMap<Key, Window>>,
}

impl Limiter {
    pub fn new(limit: Limit) -> Self {
        Self::bounded(limit, MAX_BUCKETS)
    }

    /// A limiter keeping at most `max_buckets` buckets.
    pub fn bounded(limit: Limit, max_buckets: usize) -> Self {
        Self {
            limit,
            max_buckets: max_buckets.max(1),
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Counts a batch from `key` at `now`: `Ok` with the state after it, or `Err` with the
    /// state to answer 429 with (a refused batch is not counted).
    pub fn hit(&self, key: Key, now: NaiveDateTime) -> Result<RateLimit, RateLimit> {
        let limit = self.limit;
        let mut buckets = self.lock();
        if buckets.len() >= self.max_buckets && !buckets.contains_key(&key) {
            make_room(&mut buckets, limit, now, self.max_buckets);
        }
        let window = buckets.entry(key).or_insert(Window {
            start: now,
            hits: 0,
        });
        if window.start + limit.window <= now {
            *window = Window {
                start: now,
                hits: 0,
            };
        }
        if window.hits >= limit.max {
            return Err(throttle::state(limit, window.hits, window.start, now));
        }
        window.hits += 1;
        Ok(throttle::state(limit, window.hits, window.start, now))
    }

    /// Forgets every bucket whose window is over at `now` (it would start afresh anyway).
    pub fn sweep(&self, now: NaiveDateTime) {
        let limit = self.limit;
        let mut buckets = self.lock();
        buckets.retain(|_, w| w.start + limit.window > now);
        if buckets.capacity() > 2 * buckets.len().max(1024) {
            buckets.shrink_to_fit();
        }
    }

    /// How many buckets are held.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Key, Window>> {
        // Counters stay consistent whatever panicked while holding the lock.
        self.buckets
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Frees room for a newcomer: the buckets whose window is over, else the oldest tenth of
/// them at once (at least one). A flood of new keys (many addresses within a window) then
/// pays one pass over the map per tenth of it, not two passes per key: evicting one bucket
/// at a time cost two scans of 100,000 buckets per batch under the lock, and ingestion fell
/// to ~1,000 batches a second once the map was full of live windows.
fn make_room(buckets: &mut HashMap<Key, Window>, limit: Limit, now: NaiveDateTime, max: usize) {
    buckets.retain(|_, w| w.start + limit.window > now);
    if buckets.len() < max {
        return;
    }
    let evict = (max / 10).clamp(1, buckets.len());
    let mut starts: Vec<NaiveDateTime> = buckets.values().map(|w| w.start).collect();
    let cutoff = *starts.select_nth_unstable(evict - 1).1;
    // Every bucket older than the cutoff, then as many of its age as make up the tenth.
    let before = buckets.len();
    buckets.retain(|_, w| w.start >= cutoff);
    let mut left = evict.saturating_sub(before - buckets.len());
    buckets.retain(|_, w| {
        if left > 0 && w.start == cutoff {
            left -= 1;
            false
        } else {
            true
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S").unwrap()
    }

    const LIMIT: Limit = Limit {
        name: "analytics-client",
        max: 2,
        window: chrono::Duration::minutes(1),
    };

    #[test]
    fn a_key_gets_its_quota_per_window_and_refusals_are_not_counted() {
        let limiter = Limiter::new(LIMIT);
        let a = [1; KEY_LEN];
        assert_eq!(
            limiter.hit(a, at("2026-01-01 12:00:00")).unwrap().remaining,
            1
        );
        assert_eq!(
            limiter.hit(a, at("2026-01-01 12:00:10")).unwrap().remaining,
            0
        );
        let refused = limiter.hit(a, at("2026-01-01 12:00:20")).unwrap_err();
        assert_eq!((refused.remaining, refused.retry_after_secs), (0, 40));
        assert_eq!(refused.reset_secs, 40);
        assert!(limiter.hit([2; KEY_LEN], at("2026-01-01 12:00:20")).is_ok());
        // The window ends a minute after its first hit.
        let next = limiter.hit(a, at("2026-01-01 12:01:00")).unwrap();
        assert_eq!((next.remaining, next.reset_secs), (1, 60));
    }

    #[test]
    fn memory_is_bounded_by_forgetting_old_buckets() {
        let limiter = Limiter::bounded(LIMIT, 3);
        for i in 0..3u8 {
            let when = at("2026-01-01 12:00:00") + chrono::Duration::seconds(i.into());
            limiter.hit([i; KEY_LEN], when).unwrap();
        }
        // Full of live windows: the oldest (key 0) goes for a newcomer.
        limiter
            .hit([9; KEY_LEN], at("2026-01-01 12:00:30"))
            .unwrap();
        assert_eq!(limiter.len(), 3);
        limiter
            .hit([1; KEY_LEN], at("2026-01-01 12:00:31"))
            .unwrap();
        assert!(
            limiter
                .hit([1; KEY_LEN], at("2026-01-01 12:00:32"))
                .is_err(),
            "key 1 was kept with its count"
        );
        // Windows that are over are swept.
        limiter.sweep(at("2026-01-01 12:01:20"));
        assert_eq!(limiter.len(), 1, "only key 9's window is still open");
        limiter.sweep(at("2026-01-01 12:01:30"));
        assert!(limiter.is_empty());
    }

    #[test]
    fn a_full_map_of_live_windows_frees_its_oldest_tenth_at_once() {
        let limiter = Limiter::bounded(LIMIT, 100);
        let start = at("2026-01-01 12:00:00");
        for i in 0..100u8 {
            limiter
                .hit(
                    [i; KEY_LEN],
                    start + chrono::Duration::milliseconds(i.into()),
                )
                .unwrap();
        }
        limiter
            .hit([200; KEY_LEN], at("2026-01-01 12:00:30"))
            .unwrap();
        assert_eq!(limiter.len(), 91, "ten went, the newcomer came");
        let buckets = limiter.lock();
        assert!((0..10u8).all(|i| !buckets.contains_key(&[i; KEY_LEN])));
        assert!((10..100u8).all(|i| buckets.contains_key(&[i; KEY_LEN])));
    }
}
