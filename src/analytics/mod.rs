//! Anonymous analytics (DESIGN.md §7): browsing events without anything that identifies a
//! person, daily aggregates, and reports that never show a group of fewer than k visitors.
//!
//! - [`routes`]: `POST /v1/analytics/events` (anyone; `Sec-GPC`/`DNT` honoured) and
//!   `GET /v1/admin/analytics/{report}` (manager+).
//! - [`model`]: what an event may carry and how paths are templated; [`report`]: periods,
//!   the k threshold, report shapes.
//! - [`ingest`]: the per-instance rate limit, the cached day salts and the buffer a
//!   background task writes in groups; [`limiter`]: the in-memory limit per client address.
//! - [`salt`]: the day salts behind visitor hashes, their cache, and their destruction.
//! - [`store`]: storing batches, purging raw events ([`store::purge_raw_events`], for the
//!   retention engine); [`rollup`]: daily aggregates and products' popularity;
//!   [`queries`]: reports from the aggregates.
//! - [`spawn`]: the worker inside `serve` that rolls up and destroys expired salts.

pub mod ingest;
pub mod limiter;
pub mod model;
pub mod queries;
pub mod report;
pub mod rollup;
pub mod routes;
pub mod salt;
pub mod store;

use std::sync::Arc;
use std::time::Duration;

use chrono::NaiveDateTime;

use crate::auth::throttle::Limit;
use crate::config::AnalyticsConfig;
use crate::db::{Db, DbConnection};
use crate::http::error::ApiError;

pub use ingest::Ingest;
pub use rollup::{roll_up, Rollup};
pub use salt::destroy_expired_salts;
pub use store::purge_raw_events;

/// What the analytics handlers need from the configuration.
#[derive(Debug, Clone)]
pub struct Settings {
    /// k: reports hide groups seen by fewer distinct visitors on every day of the period.
    pub min_visitors: i64,
    /// Batches one client address may send per minute.
    pub batches_per_minute: i32,
}

impl Settings {
    pub fn from_config(config: &AnalyticsConfig) -> Self {
        Self {
            min_visitors: config.min_visitors,
            batches_per_minute: config.batches_per_minute,
        }
    }

    pub fn ingest_limit(&self) -> Limit {
        Limit {
            name: "analytics-client",
            max: self.batches_per_minute,
            window: chrono::Duration::minutes(1),
        }
    }
}

/// One pass of the worker at `now`: roll pending days up, refresh popularity, destroy the
/// salts whose day and grace are over. Returns the roll-up and how many salts went.
pub fn run_once(
    conn: &mut DbConnection,
    now: NaiveDateTime,
) -> diesel::QueryResult<(Rollup, usize)> {
    let rollup = roll_up(conn, now)?;
    let destroyed = destroy_expired_salts(conn, now)?;
    Ok((rollup, destroyed))
}

/// Starts the worker: every instance runs it every `every` (the first pass after one
/// interval); claims on pending days make that safe. Each pass first writes the events
/// this instance holds, so a roll-up counts every batch it accepted before.
pub fn spawn(db: Db, ingest: Arc<Ingest>, every: Duration) -> actix_web::rt::task::JoinHandle<()> {
    actix_web::rt::spawn(async move {
        let start = tokio::time::Instant::now() + every;
        let mut tick = tokio::time::interval_at(start, every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            if let Err(e) = ingest.flush(&db).await {
                tracing::warn!("writing buffered analytics events before the roll-up failed: {e}");
            }
            let result: Result<(Rollup, usize), ApiError> = db
                .run(|conn| run_once(conn, crate::db::now()).map_err(ApiError::from))
                .await;
            match result {
                Ok((rollup, destroyed)) => {
                    if !rollup.days.is_empty() {
                        tracing::debug!("rolled up analytics for {} day(s)", rollup.days.len());
                    }
                    if destroyed > 0 {
                        tracing::info!("destroyed {destroyed} expired analytics day salt(s)");
                    }
                }
                Err(e) => tracing::warn!("analytics roll-up failed: {e}"),
            }
        }
    })
}
