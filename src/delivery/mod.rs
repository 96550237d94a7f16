//! Outgoing deliveries, run inside `serve` by every instance: the notification outbox (inbox,
//! and the shop's optional mail/SMS gateway) and integrators' webhooks.
//!
//! Each pass claims due rows in the database ([`crate::db::claim_due`]), so several instances
//! share the work and never deliver one row twice. Every POST is signed like the payment
//! provider's webhooks: `Valise-Signature: t=<unix>,v1=<hex HMAC-SHA256(secret, t + "." +
//! body)>`. Failures are retried with backoff, then dead-lettered for staff to retry.

pub mod address;
pub mod backoff;
pub mod resolve;
mod sender;

use std::time::Duration;

use futures_util::future::LocalBoxFuture;

pub use sender::{Attempt, Reach, Sender, REFUSED_ADDRESS};

use crate::config::DeliveryConfig;
use crate::crypto::Crypto;
use crate::db::{claim_due, Db, DbConnection, Queue};
use crate::http::error::ApiError;

/// Row statuses shared by the outbox and the webhook delivery log.
pub mod status {
    /// Waiting for its next try (`next_attempt_at`).
    pub const PENDING: &str = "pending";
    /// Claimed by a worker until `next_attempt_at` (the lease).
    pub const SENDING: &str = "sending";
    pub const DELIVERED: &str = "delivered";
    /// Dead-lettered after its last try; staff can retry it.
    pub const DEAD: &str = "dead";
    /// A marketing notification whose recipient has not consented: never sent.
    pub const SUPPRESSED: &str = "suppressed";
    /// A webhook delivery whose subscription was deleted before it went out.
    pub const CANCELLED: &str = "cancelled";
}

/// How long a claim holds: the POST's timeout plus room for the database round trips. A
/// worker that dies mid-delivery releases its rows when this runs out.
pub fn lease(config: &DeliveryConfig) -> chrono::Duration {
    chrono::Duration::from_std(config.timeout + Duration::from_secs(60))
        .unwrap_or(chrono::Duration::minutes(5))
}

/// Claims up to `config.batch` due rows of `queue` for a new claimer (for one lease) and
/// loads them with `load` (the rows that claimer now holds): the claimer's id and the rows.
pub async fn claim<T, L>(
    db: &Db,
    queue: Queue,
    config: &DeliveryConfig,
    load: L,
) -> Result<(String, Vec<T>), ApiError>
where
    T: Send + 'static,
    L: FnOnce(&mut DbConnection, &str) -> diesel::QueryResult<Vec<T>> + Send + 'static,
{
    let claimer = crate::ids::new_id("clm");
    let (batch, lease) = (config.batch, lease(config));
    let owner = claimer.clone();
    let rows = db
        .run(move |conn| {
            let now = crate::db::now();
            if claim_due(conn, queue, &owner, now, now + lease, batch)? == 0 {
                return Ok::<_, ApiError>(Vec::new());
            }
            Ok(load(conn, &owner)?)
        })
        .await?;
    Ok((claimer, rows))
}

/// Deliveries in flight at once per instance: enough to hide a slow receiver, few enough to
/// leave the database pool to the API (each delivery takes a connection twice).
pub const CONCURRENCY: usize = 8;

/// Delivers claimed rows, [`CONCURRENCY`] at a time (the lease covers them all: each POST
/// has the same timeout), logging failures; returns how many rows there were.
pub async fn deliver_all<T, F, Fut>(rows: Vec<T>, what: &str, deliver: F) -> usize
where
    F: Fn(T) -> Fut,
    Fut: std::future::Future<Output = Result<(), ApiError>>,
{
    let count = rows.len();
    use futures_util::StreamExt;
    let mut results =
        futures_util::stream::iter(rows.into_iter().map(deliver)).buffer_unordered(CONCURRENCY);
    while let Some(result) = results.next().await {
        if let Err(e) = result {
            tracing::warn!("delivering a {what} failed: {e}");
        }
    }
    count
}

/// One queue of outgoing messages the worker drains: the notification outbox, the webhook
/// delivery log. Each claims its due rows ([`crate::db::claim_due`]), delivers them with
/// [`deliver_all`] and records each outcome; the worker knows neither.
pub trait Outbox {
    /// Named in the log when a pass fails.
    fn name(&self) -> &'static str;

    /// Which addresses this queue's messages may reach.
    fn reach(&self) -> Reach;

    /// One pass: claims up to `config.batch` due rows and delivers them; returns how many it
    /// claimed.
    fn run_once<'a>(
        &'a self,
        db: &'a Db,
        crypto: &'a Crypto,
        sender: &'a Sender,
        config: &'a DeliveryConfig,
    ) -> LocalBoxFuture<'a, Result<usize, ApiError>>;
}

/// Starts the worker over `queues`. It runs until the task is aborted (see
/// `Application::run_until_stopped`); a delivery cut off mid-way is retried by whichever
/// instance claims it after its lease.
pub fn spawn(
    db: Db,
    crypto: Crypto,
    config: DeliveryConfig,
    queues: Vec<Box<dyn Outbox>>,
) -> anyhow::Result<actix_web::rt::task::JoinHandle<()>> {
    if config.webhook_allow_private {
        tracing::warn!(
            "VALISE_WEBHOOK_ALLOW_PRIVATE: integrators' webhooks may reach private addresses"
        );
    }
    let queues = queues
        .into_iter()
        .map(|queue| {
            // Public-only queues (integrators' endpoints) reach private addresses only when
            // development opted in.
            let reach = match queue.reach() {
                Reach::PublicOnly if config.webhook_allow_private => Reach::Any,
                reach => reach,
            };
            let sender = Sender::new(config.timeout, reach, queue.name())?;
            Ok((queue, sender))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    Ok(actix_web::rt::spawn(async move {
        let mut tick = actix_web::rt::time::interval(config.interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        // A full batch means more is probably due: go on at once; otherwise wait.
        let full = usize::try_from(config.batch).unwrap_or(usize::MAX);
        loop {
            let mut more = false;
            for (queue, sender) in &queues {
                match queue.run_once(&db, &crypto, sender, &config).await {
                    Ok(n) => more |= n >= full,
                    Err(e) => tracing::warn!("{} delivery failed: {e}", queue.name()),
                }
            }
            if !more {
                tick.tick().await;
            }
        }
    }))
}
