//! Sending integrator events: claimed like the outbox, signed with each subscription's own
//! secret, retried on the fixed schedule, then dead.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use futures_util::future::LocalBoxFuture;
use serde::Serialize;

use super::store::{self, DeliveryRow};
use crate::config::DeliveryConfig;
use crate::crypto::Crypto;
use crate::db::schema::webhook_deliveries;
use crate::db::{Db, DbConnection, Queue};
use crate::delivery::{backoff, claim, deliver_all, status, Attempt, Outbox, Reach, Sender};
use crate::http::error::ApiError;

/// The body integrators receive.
#[derive(Debug, Serialize)]
pub struct EventBody<'a> {
    /// `evt_…`: the same for every subscription the event went to, and across retries.
    pub id: &'a str,
    #[serde(rename = "type")]
    pub event_type: &'a str,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub data: serde_json::Value,
}

impl DeliveryRow {
    pub fn body(&self) -> EventBody<'_> {
        EventBody {
            id: &self.event_id,
            event_type: &self.event_type,
            created_at: self.created_at.and_utc(),
            data: serde_json::from_str(&self.payload).unwrap_or(serde_json::Value::Null),
        }
    }
}

/// Where a claimed delivery ends after this pass.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Delivered,
    /// The subscription was deleted meanwhile.
    Cancelled,
    Retry {
        at: NaiveDateTime,
    },
    Dead,
}

/// Tries in all for a delivery whose endpoint keeps answering a client error (4xx other than
/// 408 Request Timeout and 429 Too Many Requests): the endpoint understood the request and
/// refused it, which more of the same schedule rarely changes. Three tries (now, and after
/// the first two waits: about six minutes in production) leave room for a deploy that was
/// half-way, without hammering a gone endpoint for twelve hours.
pub const CLIENT_ERROR_TRIES: i32 = 3;

/// Whether an HTTP status is a refusal that retrying the same body will not cure.
pub fn is_refusal(status: Option<u16>) -> bool {
    matches!(status, Some(400..=499)) && !matches!(status, Some(408 | 429))
}

/// The rule after a try: `failures` counts this one. A refusal ([`is_refusal`]) ends the
/// delivery after [`CLIENT_ERROR_TRIES`]; other failures follow the whole schedule.
pub fn after_try(
    attempt: &Attempt,
    failures: i32,
    config: &DeliveryConfig,
    now: NaiveDateTime,
    jitter: f64,
) -> Outcome {
    match attempt {
        Attempt::Delivered { .. } => Outcome::Delivered,
        Attempt::Failed { status, .. } if is_refusal(*status) && failures >= CLIENT_ERROR_TRIES => {
            Outcome::Dead
        }
        Attempt::Failed { .. } => {
            match backoff::scheduled(failures, &config.webhook_retry_delays, jitter) {
                Some(wait) => Outcome::Retry {
                    at: backoff::due_after(now, wait),
                },
                None => Outcome::Dead,
            }
        }
    }
}

/// Integrators' webhook deliveries as the delivery worker drains them.
pub struct WebhookOutbox;

impl Outbox for WebhookOutbox {
    fn name(&self) -> &'static str {
        "webhook"
    }

    /// Integrators' endpoints: public addresses only (see [`crate::delivery::address`]).
    fn reach(&self) -> Reach {
        Reach::PublicOnly
    }

    fn run_once<'a>(
        &'a self,
        db: &'a Db,
        crypto: &'a Crypto,
        sender: &'a Sender,
        config: &'a DeliveryConfig,
    ) -> LocalBoxFuture<'a, Result<usize, ApiError>> {
        Box::pin(run_once(db, crypto, sender, config))
    }
}

/// Claims due deliveries and sends them; returns how many it handled.
pub async fn run_once(
    db: &Db,
    crypto: &Crypto,
    sender: &Sender,
    config: &DeliveryConfig,
) -> Result<usize, ApiError> {
    let (claimer, claimed) = claim(db, Queue::WebhookDeliveries, config, |conn, owner| {
        webhook_deliveries::table
            .filter(webhook_deliveries::claimed_by.eq(owner))
            .filter(webhook_deliveries::status.eq(status::SENDING))
            .select(DeliveryRow::as_select())
            .load(conn)
    })
    .await?;
    Ok(deliver_all(claimed, "webhook", |row| {
        deliver(db, crypto, sender, config, &claimer, row)
    })
    .await)
}

async fn deliver(
    db: &Db,
    crypto: &Crypto,
    sender: &Sender,
    config: &DeliveryConfig,
    claimer: &str,
    row: DeliveryRow,
) -> Result<(), ApiError> {
    let (subscription_id, crypto) = (row.subscription_id.clone(), crypto.clone());
    let endpoint = db
        .run(move |conn| store::endpoint(conn, &crypto, &subscription_id).map_err(ApiError::from))
        .await?;
    let (outcome, attempt) = match endpoint {
        None => (Outcome::Cancelled, None),
        Some((url, secret)) => {
            let attempt = match serde_json::to_vec(&row.body()) {
                Ok(body) => {
                    sender
                        .post_signed(
                            &url,
                            secret.as_bytes(),
                            body,
                            &[
                                ("valise-event-type", row.event_type.clone()),
                                ("valise-delivery-id", row.id.clone()),
                            ],
                        )
                        .await
                }
                Err(_) => Attempt::Failed {
                    status: None,
                    error: "unserializable payload".into(),
                },
            };
            let outcome = after_try(
                &attempt,
                row.attempts + 1,
                config,
                crate::db::now(),
                backoff::random_jitter(),
            );
            (outcome, Some(attempt))
        }
    };
    let claimer = claimer.to_owned();
    db.run(move |conn| record(conn, &row, &claimer, attempt.as_ref(), &outcome))
        .await
}

/// Stores the outcome, provided this worker still holds the claim.
fn record(
    conn: &mut DbConnection,
    row: &DeliveryRow,
    claimer: &str,
    attempt: Option<&Attempt>,
    outcome: &Outcome,
) -> Result<(), ApiError> {
    let now = crate::db::now();
    let mine = webhook_deliveries::table
        .filter(webhook_deliveries::id.eq(&row.id))
        .filter(webhook_deliveries::claimed_by.eq(claimer))
        .filter(webhook_deliveries::status.eq(status::SENDING));
    let (new_status, next, delivered_at) = match outcome {
        Outcome::Delivered => (status::DELIVERED, now, Some(now)),
        Outcome::Cancelled => (status::CANCELLED, now, None),
        Outcome::Retry { at } => (status::PENDING, *at, None),
        Outcome::Dead => (status::DEAD, now, None),
    };
    let settled = (
        webhook_deliveries::status.eq(new_status),
        webhook_deliveries::next_attempt_at.eq(next),
        webhook_deliveries::claimed_by.eq(None::<String>),
        webhook_deliveries::delivered_at.eq(delivered_at),
    );
    match attempt {
        Some(attempt) => {
            let error = match attempt {
                Attempt::Delivered { .. } => None,
                Attempt::Failed { error, .. } => Some(error.clone()),
            };
            diesel::update(mine)
                .set((
                    settled,
                    webhook_deliveries::attempts.eq(row.attempts + 1),
                    webhook_deliveries::last_status_code.eq(attempt.status_code().map(i32::from)),
                    webhook_deliveries::last_error.eq(error),
                    webhook_deliveries::last_attempt_at.eq(Some(now)),
                ))
                .execute(conn)?;
        }
        None => {
            diesel::update(mine).set(settled).execute(conn)?;
        }
    }
    if *outcome == Outcome::Dead {
        tracing::warn!(
            "webhook delivery {} to subscription {} dead after {} tries",
            row.id,
            row.subscription_id,
            row.attempts + 1
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failing_endpoint_gets_nine_tries_then_the_delivery_dies() {
        let config = DeliveryConfig::default();
        let now = crate::db::now();
        let failed = Attempt::Failed {
            status: None,
            error: "timeout".into(),
        };
        let mut span = chrono::Duration::zero();
        for failures in 1..=8 {
            match after_try(&failed, failures, &config, now, 0.0) {
                Outcome::Retry { at } => span += at - now,
                other => panic!("try {failures}: {other:?}"),
            }
        }
        assert!(span >= chrono::Duration::hours(4), "{span}");
        assert_eq!(after_try(&failed, 9, &config, now, 0.5), Outcome::Dead);
        let ok = Attempt::Delivered { status: 200 };
        assert_eq!(after_try(&ok, 9, &config, now, 0.5), Outcome::Delivered);
    }

    #[test]
    fn a_refusing_endpoint_gets_three_tries_but_timeouts_and_throttling_the_whole_schedule() {
        let config = DeliveryConfig::default();
        let now = crate::db::now();
        let answered = |status: u16| Attempt::Failed {
            status: Some(status),
            error: format!("HTTP {status}"),
        };
        for refusal in [400, 401, 404, 410, 422] {
            assert!(matches!(
                after_try(&answered(refusal), 2, &config, now, 0.5),
                Outcome::Retry { .. }
            ));
            assert_eq!(
                after_try(&answered(refusal), 3, &config, now, 0.5),
                Outcome::Dead,
                "{refusal}"
            );
        }
        for retried in [408, 429, 500, 503] {
            assert!(
                matches!(
                    after_try(&answered(retried), 3, &config, now, 0.5),
                    Outcome::Retry { .. }
                ),
                "{retried}"
            );
        }
        assert!(!is_refusal(None));
    }
}
