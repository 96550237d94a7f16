//! The accounts access tokens have named, remembered between requests, so a signed-in read
//! (`GET /v1/me`, an order) does not pay a database round trip to learn its caller's role.
//!
//! What a token may do depends on its account's role and status. Any change to those of an
//! account that tokens admit bumps the principals version in the same transaction (a trigger
//! on `users`); every process polls that version with the others ([`crate::versions`]) and
//! drops everything it remembered when it moves. The process that makes a change also drops
//! everything at once ([`PrincipalCache::forget_all`]), so a disabled account, a role taken
//! away or an erasure request stops at once on the instance that made it and within a poll
//! on the others. Only admissions are remembered: a refused token is looked up again.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{PoisonError, RwLock};

use super::Role;

/// What a token's account is admitted as: its role, and whether its erasure is pending.
pub type Admission = (Role, bool);

/// The most accounts remembered; past it, the cache starts over (a signed-in working set
/// of a shop is far smaller, and starting over costs one lookup per account).
const CAPACITY: usize = 100_000;

/// The state of knowledge a lookup was made in: the principals version this process knew,
/// and how many times it had forgotten everything itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Generation {
    version: i64,
    forgets: u64,
}

#[derive(Debug, Default)]
pub struct PrincipalCache {
    forgets: AtomicU64,
    entries: RwLock<Entries>,
}

#[derive(Debug, Default)]
struct Entries {
    generation: Option<Generation>,
    by_account: HashMap<String, Admission>,
}

impl PrincipalCache {
    /// The generation of a lookup made now, given the principals version this process knows.
    pub fn generation(&self, version: i64) -> Generation {
        Generation {
            version,
            forgets: self.forgets.load(Ordering::Acquire),
        }
    }

    /// The account's admission, if it was looked up in this very generation.
    pub fn get(&self, generation: Generation, account: &str) -> Option<Admission> {
        let entries = self.entries.read().unwrap_or_else(PoisonError::into_inner);
        if entries.generation != Some(generation) {
            return None;
        }
        entries.by_account.get(account).copied()
    }

    /// Remembers what a lookup begun in `began` found, if the generation is still `now`: a
    /// change committed while the lookup ran may not be in what it read.
    pub fn put(&self, began: Generation, now: Generation, account: &str, admission: Admission) {
        if began != now {
            return;
        }
        let mut entries = self.entries.write().unwrap_or_else(PoisonError::into_inner);
        match entries.generation {
            Some(held) if held == now => {}
            // Entries of an older generation go; a lookup older than the entries is dropped.
            Some(held) if held.version > now.version || held.forgets > now.forgets => return,
            _ => {
                entries.by_account.clear();
                entries.generation = Some(now);
            }
        }
        if entries.by_account.len() >= CAPACITY {
            entries.by_account.clear();
        }
        entries.by_account.insert(account.to_owned(), admission);
    }

    /// Forgets every account: called by this process right after it committed a change to an
    /// account's role or status (the other processes learn of it from the version).
    pub fn forget_all(&self) {
        self.forgets.fetch_add(1, Ordering::AcqRel);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ADMITTED: Admission = (Role::Customer, false);

    #[test]
    fn remembers_within_a_generation_only() {
        let cache = PrincipalCache::default();
        let g = cache.generation(1);
        assert_eq!(cache.get(g, "usr_a"), None);
        cache.put(g, g, "usr_a", ADMITTED);
        assert_eq!(cache.get(g, "usr_a"), Some(ADMITTED));
        assert_eq!(cache.get(cache.generation(2), "usr_a"), None);
    }

    #[test]
    fn forgetting_drops_every_account_at_once() {
        let cache = PrincipalCache::default();
        let g = cache.generation(1);
        cache.put(g, g, "usr_a", ADMITTED);
        cache.forget_all();
        assert_eq!(cache.get(cache.generation(1), "usr_a"), None);
    }

    #[test]
    fn a_lookup_that_straddles_a_change_is_not_remembered() {
        let cache = PrincipalCache::default();
        let began = cache.generation(1);
        cache.forget_all();
        let now = cache.generation(1);
        cache.put(began, now, "usr_a", ADMITTED);
        assert_eq!(cache.get(now, "usr_a"), None);
        // Nor one older than what the cache already holds.
        cache.put(now, now, "usr_b", ADMITTED);
        let old = Generation {
            version: 0,
            forgets: now.forgets,
        };
        cache.put(old, old, "usr_c", ADMITTED);
        assert_eq!(cache.get(now, "usr_b"), Some(ADMITTED));
        assert_eq!(cache.get(old, "usr_c"), None);
    }
}
