//! Rendered catalog responses, cached in-process.
//!
//! Browsing outnumbers buying by orders of magnitude, so listing pages are served from
//! rendered bytes keyed by the normalised query. An entry is valid while the catalog version
//! it was rendered under is current (every catalog change bumps it in the database; each
//! instance sees the bump within ~0.5 s) and fresh for one second. Checkout never reads
//! from here.
//!
//! When an entry turns stale, the first request to ask renders it again and the others keep
//! getting the stale one meanwhile, for at most one more second (stale-while-revalidate).
//! Without that, every request in flight at that moment rendered the same page: on
//! PostgreSQL under load, dozens of identical queries at once, each through a blocking thread
//! and a database process fighting for the cores with the busy workers, stalled those
//! requests once a second (the measured stalls are in BENCHMARKS.md, under "Latency").
//! Listed availability is thus at most two seconds old.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use actix_web::http::header::HeaderValue;
use actix_web::web::Bytes;

/// How long an entry is fresh.
pub const MAX_AGE: Duration = Duration::from_secs(1);
/// How long past [`MAX_AGE`] a stale entry is still served while one request refreshes it.
const STALE_GRACE: Duration = Duration::from_secs(1);
/// Entries kept at most: bounds the keys (each under a kilobyte) and the bookkeeping.
const MAX_ENTRIES: usize = 4096;
/// Body bytes kept at most. A default list page (20 products) is ~25 KiB, a page of 100
/// ~125 KiB: bounded by entries alone the cache could reach ~500 MiB (memory measured under
/// load is in BENCHMARKS.md, under "RSS"). 16 MiB still holds ~650 default pages, far
/// more than the hot ones (first pages of common filters) that are asked for within a second
/// of each other, so a burst of distinct deep pages or `q` searches no longer grows an
/// instance's memory. Keys are bounded by the entry count and not counted here.
const MAX_BODY_BYTES: usize = 16 * 1024 * 1024;

/// A rendered response: its bytes and their strong ETag, computed once (as a header value,
/// which a response shares instead of copying).
#[derive(Debug, Clone)]
pub struct Rendered {
    pub body: Bytes,
    pub etag: HeaderValue,
}

impl Rendered {
    pub fn new(body: Bytes) -> Self {
        let etag = crate::http::cache::etag_of(&body);
        // Quotes and hex digits: always a valid header value.
        let etag = HeaderValue::from_maybe_shared(Bytes::from(etag))
            .unwrap_or(HeaderValue::from_static("\"-\""));
        Self { body, etag }
    }
}

struct Entry {
    born: Instant,
    /// Position in [`State::order`].
    seq: u64,
    rendered: Rendered,
    /// A request is rendering this entry again (it was stale when that request asked).
    refreshing: bool,
}

impl Entry {
    fn fresh(&self, now: Instant) -> bool {
        now.saturating_duration_since(self.born) < MAX_AGE
    }

    /// Whether the entry may still be served (fresh, or stale within the grace).
    fn servable(&self, now: Instant) -> bool {
        now.saturating_duration_since(self.born) < MAX_AGE + STALE_GRACE
    }
}

#[derive(Default)]
struct State {
    version: i64,
    entries: HashMap<String, Entry>,
    /// Keys by insertion: entries are born in this order, so its front holds the expired
    /// ones first and then the oldest live ones, the eviction order.
    order: BTreeMap<u64, String>,
    next_seq: u64,
    /// Sum of the entries' body lengths.
    body_bytes: usize,
}

impl State {
    fn clear(&mut self) {
        self.entries.clear();
        self.order.clear();
        self.body_bytes = 0;
    }

    fn remove(&mut self, key: &str) {
        if let Some(entry) = self.take(key) {
            self.order.remove(&entry.seq);
        }
    }

    /// Evicts the oldest entry; false when there is none.
    fn evict_oldest(&mut self) -> bool {
        match self.order.pop_first() {
            Some((_, key)) => {
                self.take(&key);
                true
            }
            None => false,
        }
    }

    /// Removes an entry and its bytes from the count (not its place in `order`).
    fn take(&mut self, key: &str) -> Option<Entry> {
        let entry = self.entries.remove(key)?;
        self.body_bytes = self.body_bytes.saturating_sub(entry.rendered.body.len());
        Some(entry)
    }

    fn oldest_is_expired(&self, now: Instant) -> bool {
        self.order
            .first_key_value()
            .and_then(|(_, key)| self.entries.get(key))
            .is_some_and(|e| !e.servable(now))
    }
}

/// Bounds of a [`ResponseCache`]; the constants above outside tests.
struct Limits {
    entries: usize,
    body_bytes: usize,
}

pub struct ResponseCache {
    state: Mutex<State>,
    limits: Limits,
}

impl Default for ResponseCache {
    fn default() -> Self {
        Self {
            state: Mutex::default(),
            limits: Limits {
                entries: MAX_ENTRIES,
                body_bytes: MAX_BODY_BYTES,
            },
        }
    }
}

impl ResponseCache {
    /// The entry to serve for `key`, or `None`: then the caller renders it and
    /// [`Self::put`]s it. Of the requests that find an entry stale, only the first gets
    /// `None`; the others get the stale entry until it is replaced (or out of its grace).
    pub fn get(&self, version: i64, key: &str) -> Option<Rendered> {
        self.get_at(Instant::now(), version, key)
    }

    fn get_at(&self, now: Instant, version: i64, key: &str) -> Option<Rendered> {
        let mut state = self.state.lock().ok()?;
        if state.version != version {
            return None;
        }
        let entry = state.entries.get_mut(key)?;
        if entry.fresh(now) || (entry.refreshing && entry.servable(now)) {
            return Some(entry.rendered.clone());
        }
        // Stale and nobody refreshing it (or the refresh outlived the grace): this caller
        // renders it.
        entry.refreshing = true;
        None
    }

    pub fn put(&self, version: i64, key: String, rendered: Rendered) {
        self.put_at(Instant::now(), version, key, rendered);
    }

    fn put_at(&self, now: Instant, version: i64, key: String, rendered: Rendered) {
        let Ok(mut state) = self.state.lock() else {
            return;
        };
        if state.version != version {
            // A newer catalog: everything rendered before it is stale.
            state.version = version;
            state.clear();
        }
        state.remove(&key);
        let size = rendered.body.len();
        if size > self.limits.body_bytes {
            // Larger than the whole budget: served, never kept.
            return;
        }
        while state.oldest_is_expired(now) {
            state.evict_oldest();
        }
        while state.entries.len() >= self.limits.entries
            || state.body_bytes + size > self.limits.body_bytes
        {
            if !state.evict_oldest() {
                break;
            }
        }
        let seq = state.next_seq;
        state.next_seq += 1;
        state.order.insert(seq, key.clone());
        state.body_bytes += size;
        state.entries.insert(
            key,
            Entry {
                born: now,
                seq,
                rendered,
                refreshing: false,
            },
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_die_with_their_catalog_version() {
        let cache = ResponseCache::default();
        cache.put(1, "q".into(), Rendered::new(Bytes::from_static(b"page")));
        assert_eq!(
            cache.get(1, "q").map(|r| r.body),
            Some(Bytes::from_static(b"page"))
        );
        assert!(cache.get(2, "q").is_none());
        cache.put(2, "other".into(), Rendered::new(Bytes::from_static(b"x")));
        assert!(cache.get(1, "q").is_none());
    }

    fn limited(entries: usize, body_bytes: usize) -> ResponseCache {
        ResponseCache {
            state: Mutex::default(),
            limits: Limits {
                entries,
                body_bytes,
            },
        }
    }

    fn body(len: usize) -> Rendered {
        Rendered::new(Bytes::from(vec![b'x'; len]))
    }

    fn kept(cache: &ResponseCache, now: Instant, keys: &[&str]) -> Vec<bool> {
        keys.iter()
            .map(|k| cache.get_at(now, 1, k).is_some())
            .collect()
    }

    fn body_bytes(cache: &ResponseCache) -> usize {
        let state = cache.state.lock().unwrap();
        assert_eq!(
            state.body_bytes,
            state
                .entries
                .values()
                .map(|e| e.rendered.body.len())
                .sum::<usize>()
        );
        assert_eq!(state.order.len(), state.entries.len());
        state.body_bytes
    }

    #[test]
    fn bodies_stay_within_the_byte_budget_by_evicting_the_oldest() {
        let cache = limited(100, 10);
        let now = Instant::now();
        cache.put_at(now, 1, "a".into(), body(4));
        cache.put_at(now, 1, "b".into(), body(4));
        assert_eq!(body_bytes(&cache), 8);
        cache.put_at(now, 1, "c".into(), body(4));
        assert_eq!(kept(&cache, now, &["a", "b", "c"]), [false, true, true]);
        assert_eq!(body_bytes(&cache), 8);
        // One large body pushes out as many old ones as it needs.
        cache.put_at(now, 1, "d".into(), body(9));
        assert_eq!(kept(&cache, now, &["b", "c", "d"]), [false, false, true]);
        assert_eq!(body_bytes(&cache), 9);
    }

    #[test]
    fn expired_entries_are_dropped_even_within_budget() {
        let cache = limited(100, 10);
        let start = Instant::now();
        cache.put_at(start, 1, "old".into(), body(3));
        // Past its grace, "old" can no longer be served: the next write drops it.
        let later = start + MAX_AGE + STALE_GRACE;
        cache.put_at(later - MAX_AGE / 2, 1, "live".into(), body(3));
        cache.put_at(later, 1, "new".into(), body(3));
        assert_eq!(
            kept(&cache, later, &["old", "live", "new"]),
            [false, true, true]
        );
        assert_eq!(body_bytes(&cache), 6);
    }

    #[test]
    fn one_request_refreshes_a_stale_entry_while_the_others_get_it_stale() {
        let cache = limited(100, 100);
        let start = Instant::now();
        cache.put_at(start, 1, "page".into(), body(3));
        let stale = start + MAX_AGE;
        // The first to find it stale renders it; the others are not held up meanwhile.
        assert!(cache.get_at(stale, 1, "page").is_none());
        assert!(cache.get_at(stale, 1, "page").is_some());
        assert!(cache.get_at(stale + STALE_GRACE / 2, 1, "page").is_some());
        // The refresh lands: fresh again, and the next staleness is claimed anew.
        cache.put_at(stale, 1, "page".into(), body(4));
        assert_eq!(
            cache.get_at(stale, 1, "page").map(|r| r.body.len()),
            Some(4)
        );
        assert!(cache.get_at(stale + MAX_AGE, 1, "page").is_none());
        assert!(cache.get_at(stale + MAX_AGE, 1, "page").is_some());
    }

    #[test]
    fn a_stale_entry_is_not_served_past_its_grace() {
        let cache = limited(100, 100);
        let start = Instant::now();
        cache.put_at(start, 1, "page".into(), body(3));
        // Its refresh was claimed but never landed (the render failed): after the grace,
        // the entry is no longer served, and the next request renders it again.
        assert!(cache.get_at(start + MAX_AGE, 1, "page").is_none());
        let past = start + MAX_AGE + STALE_GRACE;
        assert!(cache.get_at(past, 1, "page").is_none());
        // A stale entry of an older catalogue version is never served.
        cache.put_at(start, 1, "other".into(), body(3));
        assert!(cache.get_at(start + MAX_AGE, 2, "other").is_none());
        assert!(cache.get_at(start + MAX_AGE, 2, "other").is_none());
    }

    #[test]
    fn a_body_larger_than_the_budget_is_not_kept_and_evicts_nothing() {
        let cache = limited(100, 10);
        let now = Instant::now();
        cache.put_at(now, 1, "small".into(), body(5));
        cache.put_at(now, 1, "huge".into(), body(11));
        assert_eq!(kept(&cache, now, &["small", "huge"]), [true, false]);
        assert_eq!(body_bytes(&cache), 5);
    }

    #[test]
    fn replacing_an_entry_counts_its_bytes_once() {
        let cache = limited(100, 10);
        let now = Instant::now();
        cache.put_at(now, 1, "a".into(), body(6));
        cache.put_at(now, 1, "a".into(), body(6));
        assert_eq!(body_bytes(&cache), 6);
        assert_eq!(kept(&cache, now, &["a"]), [true]);
        cache.put_at(now, 2, "b".into(), body(2));
        assert_eq!(body_bytes(&cache), 2);
    }

    #[test]
    fn the_entry_count_is_still_bounded() {
        let cache = limited(2, 1000);
        let now = Instant::now();
        for key in ["a", "b", "c"] {
            cache.put_at(now, 1, key.into(), body(1));
        }
        assert_eq!(kept(&cache, now, &["a", "b", "c"]), [false, true, true]);
    }

    #[test]
    fn the_default_budget_is_16_mib_of_bodies() {
        let cache = ResponseCache::default();
        let now = Instant::now();
        let mib = 1024 * 1024;
        for key in ["a", "b", "c", "d", "e"] {
            cache.put_at(now, 1, key.into(), body(4 * mib));
        }
        assert_eq!(body_bytes(&cache), 16 * mib);
        assert_eq!(
            kept(&cache, now, &["a", "b", "c", "d", "e"]),
            [false, true, true, true, true]
        );
    }
}
