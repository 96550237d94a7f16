//! Values every API process must agree on within a second, without a query per request.
//!
//! Each process keeps the current values in atomics and re-reads them from the database every
//! [`POLL_INTERVAL`]; a publish in one process is visible in all of them within that time.
//! The rooms that own the values publish how to read them ([`Sources`]); this module knows
//! none of them.

use std::sync::atomic::{AtomicI32, AtomicI64, AtomicU64, Ordering};
use std::time::Duration;

use diesel::QueryResult;

use crate::db::{Db, DbConnection};

pub const POLL_INTERVAL: Duration = Duration::from_millis(500);

/// How each shared value is read from the database, given by the room that owns it.
#[derive(Debug, Clone, Copy)]
pub struct Sources {
    /// The published privacy-policy version.
    pub policy: fn(&mut DbConnection) -> QueryResult<i32>,
    /// The catalogue version.
    pub catalog: fn(&mut DbConnection) -> QueryResult<i64>,
    /// The principals version (bumped by any change to what an account's tokens may do).
    pub principals: fn(&mut DbConnection) -> QueryResult<i64>,
}

#[derive(Debug)]
pub struct Versions {
    sources: Sources,
    policy: AtomicI32,
    catalog: AtomicI64,
    /// The primary's WAL position when this process learnt of its catalog version (0: none
    /// yet, or SQLite): a catalogue read rendered on a replica that has not replayed that far
    /// could show the previous version's data and be cached under the new one.
    catalog_wal: AtomicU64,
    principals: AtomicI64,
}

impl Versions {
    pub fn load(conn: &mut DbConnection, sources: Sources) -> QueryResult<Self> {
        let versions = Self {
            sources,
            policy: AtomicI32::new(0),
            catalog: AtomicI64::new(0),
            catalog_wal: AtomicU64::new(0),
            principals: AtomicI64::new(0),
        };
        versions.refresh(conn)?;
        Ok(versions)
    }

    /// The published privacy-policy version (`X-Policy-Version`).
    pub fn policy(&self) -> i32 {
        self.policy.load(Ordering::Relaxed)
    }

    /// The catalog version (bumped by every catalog or stock change by an admin).
    pub fn catalog(&self) -> i64 {
        self.catalog.load(Ordering::Acquire)
    }

    /// The catalog version and the primary's WAL position a read must see to render it
    /// (`None` on SQLite, or before any version). The position is stored before the version
    /// and read after it, so a version never comes with an older position.
    pub fn catalog_read(&self) -> (i64, Option<u64>) {
        let version = self.catalog.load(Ordering::Acquire);
        let wal = self.catalog_wal.load(Ordering::Acquire);
        (version, (wal > 0).then_some(wal))
    }

    /// Moves this instance to a catalog version it has just written, committed at or before
    /// the primary's WAL position `wal` (read-your-writes for the instance that made a
    /// change, on the primary or a replica that has replayed it; the others follow within a
    /// poll).
    pub fn observe_catalog(&self, version: i64, wal: Option<u64>) {
        if let Some(wal) = wal {
            self.catalog_wal.fetch_max(wal, Ordering::AcqRel);
        }
        self.catalog.fetch_max(version, Ordering::AcqRel);
    }

    /// Moves this instance to a policy version it has just published.
    pub fn observe_policy(&self, version: i32) {
        self.policy.fetch_max(version, Ordering::Relaxed);
    }

    /// The principals version: what this process remembers of accounts (see
    /// `auth::principals`) holds only while it stays the same.
    pub fn principals(&self) -> i64 {
        self.principals.load(Ordering::Acquire)
    }

    pub fn refresh(&self, conn: &mut DbConnection) -> QueryResult<()> {
        let principals = (self.sources.principals)(conn)?;
        self.principals.fetch_max(principals, Ordering::AcqRel);
        let policy = (self.sources.policy)(conn)?;
        self.policy.store(policy, Ordering::Relaxed);
        let catalog = (self.sources.catalog)(conn)?;
        if catalog > self.catalog() {
            // Read after the version: the change that made it is at or before this position.
            let wal = crate::db::replica::wal_position(conn)?;
            self.observe_catalog(catalog, wal);
        }
        Ok(())
    }
}

/// Keeps `versions` fresh until the returned task is aborted.
pub fn spawn_watcher(
    db: Db,
    versions: actix_web::web::Data<Versions>,
) -> actix_web::rt::task::JoinHandle<()> {
    actix_web::rt::spawn(async move {
        let mut tick = actix_web::rt::time::interval(POLL_INTERVAL);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let v = versions.clone();
            let result: Result<(), anyhow::Error> = db
                .run(move |conn| v.refresh(conn).map_err(anyhow::Error::from))
                .await;
            if let Err(e) = result {
                tracing::warn!("could not refresh shared versions: {e:#}");
            }
        }
    })
}
