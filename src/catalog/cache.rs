//! Rendered catalog responses, cached in-process.
//!
//! Browsing outnumbers buying by orders of magnitude, so listing pages are served from
//! rendered bytes keyed by the normalised query. An entry is valid while the catalog version
//! it was rendered under is current (every catalog change bumps it in the database; each
//! instance sees the bump within ~0.5 s) and for at most one second, which bounds how stale
//! listed availability can be. Checkout never reads from here.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use actix_web::web::Bytes;

pub const MAX_AGE: Duration = Duration::from_secs(1);
const MAX_ENTRIES: usize = 4096;

/// A rendered response: its bytes and their strong ETag, computed once.
#[derive(Debug, Clone)]
pub struct Rendered {
    pub body: Bytes,
    pub etag: std::sync::Arc<str>,
}

impl Rendered {
    pub fn new(body: Bytes) -> Self {
        let etag = crate::http::cache::etag_of(&body).into();
        Self { body, etag }
    }
}

#[derive(Default)]
struct State {
    version: i64,
    entries: HashMap<String, (Instant, Rendered)>,
}

#[derive(Default)]
pub struct ResponseCache {
    state: Mutex<State>,
}

impl ResponseCache {
    pub fn get(&self, version: i64, key: &str) -> Option<Rendered> {
        let state = self.state.lock().ok()?;
        if state.version != version {
            return None;
        }
        state
            .entries
            .get(key)
            .filter(|(born, _)| born.elapsed() < MAX_AGE)
            .map(|(_, rendered)| rendered.clone())
    }

    pub fn put(&self, version: i64, key: String, rendered: Rendered) {
        let Ok(mut state) = self.state.lock() else {
            return;
        };
        if state.version != version {
            // A newer catalog: everything rendered before it is stale.
            state.version = version;
            state.entries.clear();
        }
        if state.entries.len() >= MAX_ENTRIES {
            state
                .entries
                .retain(|_, (born, _)| born.elapsed() < MAX_AGE);
            if state.entries.len() >= MAX_ENTRIES {
                state.entries.clear();
            }
        }
        state.entries.insert(key, (Instant::now(), rendered));
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
}
