//! Ingestion in memory: the per-instance rate limit, the day salts, and a bounded buffer
//! that a background task writes to the database in groups.
//!
//! A batch is checked, limited, hashed and answered without touching the database (but
//! for the first batch of a day, which reads or creates the day's salt). The flusher writes
//! what waits every `VALISE_ANALYTICS_FLUSH_MS` or as soon as [`FLUSH_AT`] events wait, in
//! one transaction per group; the roll-up and a graceful stop flush first. When the
//! database is slow or down the buffer fills up to `VALISE_ANALYTICS_BUFFER_EVENTS` and
//! further batches are refused with 503 (counted), rather than memory growing without bound.
//! A crash loses what waits: normally at most one flush interval of events.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::NaiveDateTime;
use prometheus::{IntCounter, IntGauge};

use super::limiter::{self, Limiter};
use super::model::Batch;
use super::salt::{self, SaltCache};
use super::store::{self, Prepared};
use crate::auth::throttle::Limit;
use crate::crypto::Crypto;
use crate::db::Db;
use crate::http::error::{ApiError, RateLimit};

/// Events waiting that wake the flusher before its interval (or half the buffer, when that
/// is less).
pub const FLUSH_AT: usize = 1_000;
/// Events written per transaction at most.
pub const GROUP_EVENTS: usize = 5_000;
/// How often buckets whose window is over are forgotten.
const SWEEP_EVERY: Duration = Duration::from_secs(60);

/// The counters the buffer keeps (registered by `metrics`).
#[derive(Clone)]
pub struct IngestMetrics {
    /// Events accepted and not yet written.
    pub buffered: IntGauge,
    /// Events written to the database.
    pub written: IntCounter,
    /// Events refused because the buffer was full.
    pub refused: IntCounter,
}

/// The buffer was full: the batch was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Full;

#[derive(Default)]
struct Queue {
    batches: VecDeque<Prepared>,
    /// Events waiting or being written (they count against the capacity until written).
    held: usize,
    /// Of those, events waiting (not taken by a flush).
    waiting: usize,
}

/// One instance's ingestion state, shared by its workers, the flusher and the server's stop.
pub struct Ingest {
    limiter: Limiter,
    salts: SaltCache,
    queue: Mutex<Queue>,
    capacity: usize,
    flush_at: usize,
    wake: tokio::sync::Notify,
    /// One flush at a time: the timer, a full group, the roll-up, the stop, tests.
    flushing: tokio::sync::Mutex<()>,
    metrics: IngestMetrics,
}

impl Ingest {
    pub fn new(limit: Limit, capacity: usize, metrics: IngestMetrics) -> Self {
        let capacity = capacity.max(1);
        Self {
            limiter: Limiter::new(limit),
            salts: SaltCache::default(),
            queue: Mutex::new(Queue::default()),
            capacity,
            flush_at: FLUSH_AT.min(capacity / 2).max(1),
            wake: tokio::sync::Notify::new(),
            flushing: tokio::sync::Mutex::new(()),
            metrics,
        }
    }

    /// Counts a batch against the limit of the client address whose blind index is `key`.
    pub fn limit(&self, key: limiter::Key, now: NaiveDateTime) -> Result<RateLimit, RateLimit> {
        self.limiter.hit(key, now)
    }

    /// Hashes `batch` under the salts of `now` (cached; read once a day) and hands it to the
    /// buffer. `Unavailable` when the buffer is full.
    pub async fn accept(
        &self,
        db: &Db,
        crypto: &Arc<Crypto>,
        batch: Batch,
        now: NaiveDateTime,
    ) -> Result<usize, ApiError> {
        let salts = match self.salts.day_salts(now) {
            Some(salts) => salts,
            None => {
                let crypto = crypto.clone();
                let salts = db
                    .run(move |conn| salt::day_salts(conn, &crypto, now).map_err(ApiError::from))
                    .await?;
                self.salts.keep(&salts, now);
                salts
            }
        };
        let prepared = Prepared::new(&salts, batch);
        let events = prepared.len();
        self.push(prepared).map_err(|Full| {
            ApiError::Unavailable(
                "Too many events are waiting to be stored; retry in a moment.".into(),
            )
        })?;
        Ok(events)
    }

    /// Queues a prepared batch, or refuses it whole when it does not fit.
    pub fn push(&self, batch: Prepared) -> Result<(), Full> {
        let events = batch.len();
        let mut queue = self.lock();
        if queue.held + events > self.capacity {
            self.metrics.refused.inc_by(events as u64);
            return Err(Full);
        }
        queue.held += events;
        queue.waiting += events;
        queue.batches.push_back(batch);
        self.metrics.buffered.set(queue.held as i64);
        let wake = queue.waiting >= self.flush_at;
        drop(queue);
        if wake {
            self.wake.notify_one();
        }
        Ok(())
    }

    /// Events accepted and not yet written.
    pub fn buffered(&self) -> usize {
        self.lock().held
    }

    /// Writes everything waiting, in groups of up to [`GROUP_EVENTS`] events, one
    /// transaction each; returns how many events were written. On a failure the group goes
    /// back to the front of the queue, to be written by a later flush.
    pub async fn flush(&self, db: &Db) -> Result<usize, ApiError> {
        let _turn = self.flushing.lock().await;
        let mut written = 0;
        loop {
            let group = self.take_group();
            if group.is_empty() {
                return Ok(written);
            }
            let events: usize = group.iter().map(Prepared::len).sum();
            let group = Arc::new(group);
            let work = group.clone();
            let result = db
                .run(move |conn| store::write(conn, &work).map_err(ApiError::from))
                .await;
            let mut queue = self.lock();
            match result {
                Ok(_) => {
                    queue.held -= events;
                    self.metrics.buffered.set(queue.held as i64);
                    self.metrics.written.inc_by(events as u64);
                    written += events;
                }
                Err(e) => {
                    let group = Arc::unwrap_or_clone(group);
                    queue.waiting += events;
                    for batch in group.into_iter().rev() {
                        queue.batches.push_front(batch);
                    }
                    return Err(e);
                }
            }
        }
    }

    fn take_group(&self) -> Vec<Prepared> {
        let mut queue = self.lock();
        let mut group = Vec::new();
        let mut events = 0;
        while let Some(next) = queue.batches.front() {
            if !group.is_empty() && events + next.len() > GROUP_EVENTS {
                break;
            }
            events += next.len();
            if let Some(batch) = queue.batches.pop_front() {
                group.push(batch);
            }
        }
        queue.waiting -= events;
        group
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Queue> {
        // Every change to the queue keeps its counts whole before it can panic.
        self.queue
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Starts the flusher: every `every`, or as soon as enough events wait, it writes the
/// buffer, drops salts whose destruction time has come, and now and then forgets expired
/// rate-limit buckets. It runs until the server stops; the stop then flushes once more.
pub fn spawn_flusher(
    ingest: Arc<Ingest>,
    db: Db,
    every: Duration,
) -> actix_web::rt::task::JoinHandle<()> {
    actix_web::rt::spawn(async move {
        let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut last_sweep = tokio::time::Instant::now();
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                () = ingest.wake.notified() => {}
            }
            let now = crate::db::now();
            ingest.salts.evict_expired(now);
            if last_sweep.elapsed() >= SWEEP_EVERY {
                ingest.limiter.sweep(now);
                last_sweep = tokio::time::Instant::now();
            }
            if let Err(e) = ingest.flush(&db).await {
                tracing::warn!(
                    "writing buffered analytics events failed ({} waiting): {e}",
                    ingest.buffered()
                );
            }
        }
    })
}
