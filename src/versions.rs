//! Values every API process must agree on within a second, without a query per request.
//!
//! Each process keeps the current values in atomics and re-reads them from the database every
//! [`POLL_INTERVAL`]; a publish in one process is visible in all of them within that time.
//! The rooms that own the values publish how to read them ([`Sources`]); this module knows
//! none of them.

use std::sync::atomic::{AtomicI32, AtomicI64, Ordering};
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
}

#[derive(Debug)]
pub struct Versions {
    sources: Sources,
    policy: AtomicI32,
    catalog: AtomicI64,
}

impl Versions {
    pub fn load(conn: &mut DbConnection, sources: Sources) -> QueryResult<Self> {
        let versions = Self {
            sources,
            policy: AtomicI32::new(0),
            catalog: AtomicI64::new(0),
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
        self.catalog.load(Ordering::Relaxed)
    }

    /// Moves this instance to a catalog version it has just written (read-your-writes for
    /// the instance that made a change; the others follow within a poll).
    pub fn observe_catalog(&self, version: i64) {
        self.catalog.fetch_max(version, Ordering::Relaxed);
    }

    /// Moves this instance to a policy version it has just published.
    pub fn observe_policy(&self, version: i32) {
        self.policy.fetch_max(version, Ordering::Relaxed);
    }

    pub fn refresh(&self, conn: &mut DbConnection) -> QueryResult<()> {
        let policy = (self.sources.policy)(conn)?;
        self.policy.store(policy, Ordering::Relaxed);
        let catalog = (self.sources.catalog)(conn)?;
        self.catalog.fetch_max(catalog, Ordering::Relaxed);
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
