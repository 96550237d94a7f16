//! Delivering the outbox: every notification reaches the inbox (the row is the inbox entry,
//! marked `delivered`); when a channel is configured — the shop's SMTP server ([`Mailer`]) or
//! else its gateway — the notice also goes out by it, and failures are retried with
//! exponential backoff, then dead-lettered (at once when the mail server refuses for good).

use chrono::NaiveDateTime;
use diesel::prelude::*;
use futures_util::future::LocalBoxFuture;
use serde::Serialize;

use super::kind::{Kind, WithoutConsent};
use super::mail::{Mailer, Sent};
use super::recipients::{Address, Notice, Recipients};
use crate::config::{DeliveryConfig, Gateway};
use crate::crypto::Crypto;
use crate::db::schema::notifications;
use crate::db::{Db, DbConnection, Queue};
use crate::delivery::{backoff, claim, deliver_all, status, Attempt, Outbox, Reach, Sender};
use crate::http::error::ApiError;
use crate::privacy::ledger;

/// A claimed outbox row.
#[derive(Debug, Clone, Queryable)]
pub struct Claimed {
    pub id: String,
    pub recipient_user_id: Option<String>,
    pub order_id: Option<String>,
    pub kind: String,
    pub payload: String,
    pub attempts: i32,
    pub created_at: NaiveDateTime,
}

/// What the gateway receives: ids and statuses, plus the one personal value it needs to do
/// its job — the address to write to — and, for a guest's data-subject request, the one-time
/// code. Both travel only over this signed channel, never in the outbox payload.
#[derive(Debug, Serialize)]
pub struct GatewayMessage<'a> {
    pub id: &'a str,
    pub kind: &'a str,
    /// The email to write to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub to: Option<String>,
    /// `dsr.verification_code` only: the code to send.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recipient_user_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub order_id: Option<&'a str>,
    pub payload: serde_json::Value,
    pub created_at: chrono::DateTime<chrono::Utc>,
}

impl Claimed {
    pub fn message(&self, to: Option<String>, code: Option<String>) -> GatewayMessage<'_> {
        GatewayMessage {
            id: &self.id,
            kind: &self.kind,
            to,
            code,
            recipient_user_id: self.recipient_user_id.as_deref(),
            order_id: self.order_id.as_deref(),
            payload: serde_json::from_str(&self.payload).unwrap_or(serde_json::Value::Null),
            created_at: self.created_at.and_utc(),
        }
    }
}

/// Where a claimed notification ends after this pass.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Delivered,
    /// Marketing without the recipient's consent: never sent, hidden from the inbox.
    Suppressed,
    Retry {
        at: NaiveDateTime,
        error: String,
    },
    Dead {
        error: String,
    },
}

/// Where a notification goes this pass.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// Marketing without consent: never sent, hidden from the inbox.
    Suppress,
    /// The inbox only: no gateway, the recipient withdrew mail/SMS order notices, or there
    /// is no one to write to (an erased subject, a used code).
    InboxOnly,
    /// The inbox and the gateway, to this address (and code).
    Gateway { to: String, code: Option<String> },
}

/// Decides the route of a claimed notification: reads the consent its kind needs
/// ([`Kind::consent`]), then asks the room that owns the notice for the one address the
/// gateway needs ([`Recipients`]).
///
/// Without a gateway (`with_gateway` false) only consent is read: no address is opened.
/// A kind no version of Valise wrote stays in the inbox and is never sent.
pub fn route(
    conn: &mut DbConnection,
    crypto: &Crypto,
    recipients: &Recipients,
    row: &Claimed,
    with_gateway: bool,
) -> Result<Route, ApiError> {
    let Some(kind) = Kind::parse(&row.kind) else {
        return Ok(Route::InboxOnly);
    };
    let user = row.recipient_user_id.as_deref();
    let consent = kind.consent();
    if let Some((purpose, WithoutConsent::Suppress)) = consent {
        let allowed = match user {
            Some(user) => ledger::granted(conn, user, purpose)?,
            None => false,
        };
        if !allowed {
            return Ok(Route::Suppress);
        }
    }
    if !with_gateway {
        return Ok(Route::InboxOnly);
    }
    // A guest's order notice has no ledger to read: placing the order asked for it.
    if let (Some((purpose, WithoutConsent::InboxOnly)), Some(user)) = (consent, user) {
        if !ledger::granted(conn, user, purpose)? {
            return Ok(Route::InboxOnly);
        }
    }
    let payload: serde_json::Value =
        serde_json::from_str(&row.payload).unwrap_or(serde_json::Value::Null);
    let notice = Notice {
        kind: &kind,
        user_id: user,
        order_id: row.order_id.as_deref(),
        payload: &payload,
    };
    Ok(match recipients.find(conn, crypto, &notice)? {
        Some(Address { to, code }) => Route::Gateway { to, code },
        None => Route::InboxOnly,
    })
}

/// The rule after a gateway try: delivered, retried later, or dead after the last try.
pub fn after_try(
    attempt: &Attempt,
    failures: i32,
    config: &DeliveryConfig,
    now: NaiveDateTime,
    jitter: f64,
) -> Outcome {
    match attempt {
        Attempt::Delivered { .. } => Outcome::Delivered,
        Attempt::Failed { error, .. } => match backoff::exponential(
            failures,
            config.notify_max_attempts,
            config.notify_retry_base,
            config.notify_retry_cap,
            jitter,
        ) {
            Some(wait) => Outcome::Retry {
                at: backoff::due_after(now, wait),
                error: error.clone(),
            },
            None => Outcome::Dead {
                error: error.clone(),
            },
        },
    }
}

/// The notification outbox as the delivery worker drains it.
pub struct NotificationOutbox {
    recipients: Recipients,
    mailer: Option<Mailer>,
}

impl NotificationOutbox {
    pub fn new(recipients: Recipients, mailer: Option<Mailer>) -> NotificationOutbox {
        NotificationOutbox { recipients, mailer }
    }
}

impl Outbox for NotificationOutbox {
    fn name(&self) -> &'static str {
        "notification"
    }

    /// The gateway is the operator's own: it may be on a private network.
    fn reach(&self) -> Reach {
        Reach::Any
    }

    fn run_once<'a>(
        &'a self,
        db: &'a Db,
        crypto: &'a Crypto,
        sender: &'a Sender,
        config: &'a DeliveryConfig,
    ) -> LocalBoxFuture<'a, Result<usize, ApiError>> {
        let channels = Channels {
            sender,
            mailer: self.mailer.as_ref(),
        };
        Box::pin(run_once(db, crypto, &self.recipients, channels, config))
    }
}

/// How notices leave: by mail when a mailer is configured, else by the gateway's sender.
#[derive(Clone, Copy)]
pub struct Channels<'a> {
    pub sender: &'a Sender,
    pub mailer: Option<&'a Mailer>,
}

impl Channels<'_> {
    fn any(&self, config: &DeliveryConfig) -> bool {
        self.mailer.is_some() || config.gateway.is_some()
    }
}

/// Claims due notifications and delivers them; returns how many it handled.
pub async fn run_once(
    db: &Db,
    crypto: &Crypto,
    recipients: &Recipients,
    channels: Channels<'_>,
    config: &DeliveryConfig,
) -> Result<usize, ApiError> {
    let with_channel = channels.any(config);
    let (claimer, claimed) = claim(db, Queue::Notifications, config, |conn, owner| {
        notifications::table
            .filter(notifications::claimed_by.eq(owner))
            .filter(notifications::status.eq(status::SENDING))
            .select((
                notifications::id,
                notifications::recipient_user_id,
                notifications::order_id,
                notifications::kind,
                notifications::payload,
                notifications::attempts,
                notifications::created_at,
            ))
            .load::<Claimed>(conn)
    })
    .await?;
    // A notice that needs no routing is delivered by being in the inbox: the batch of them is
    // settled with one statement instead of one per notice.
    let (routed, inbox): (Vec<Claimed>, Vec<Claimed>) = claimed
        .into_iter()
        .partition(|row| needs_routing(row, with_channel));
    let settled = inbox.len();
    if settled > 0 {
        let ids: Vec<String> = inbox.into_iter().map(|row| row.id).collect();
        let owner = claimer.clone();
        db.run(move |conn| settle_in_inbox(conn, &ids, &owner))
            .await?;
    }
    Ok(settled
        + deliver_all(routed, "notification", |row| {
            deliver(db, crypto, recipients, channels, config, &claimer, row)
        })
        .await)
}

/// Marks claimed notices delivered to the inbox, those this worker still holds.
fn settle_in_inbox(conn: &mut DbConnection, ids: &[String], claimer: &str) -> Result<(), ApiError> {
    let now = crate::db::now();
    diesel::update(
        notifications::table
            .filter(notifications::id.eq_any(ids))
            .filter(notifications::claimed_by.eq(claimer))
            .filter(notifications::status.eq(status::SENDING)),
    )
    .set((
        notifications::status.eq(status::DELIVERED),
        notifications::next_attempt_at.eq(now),
        notifications::claimed_by.eq(None::<String>),
        notifications::delivered_at.eq(Some(now)),
    ))
    .execute(conn)?;
    Ok(())
}

/// Whether a notice needs [`route`] (a consent check, an address for the channel); without a
/// channel, only kinds suppressed without consent (marketing) do.
fn needs_routing(row: &Claimed, with_channel: bool) -> bool {
    with_channel
        || Kind::parse(&row.kind)
            .and_then(|kind| kind.consent())
            .is_some_and(|(_, without)| without == WithoutConsent::Suppress)
}

/// Routes and delivers one notice that [`needs_routing`].
async fn deliver(
    db: &Db,
    crypto: &Crypto,
    recipients: &Recipients,
    channels: Channels<'_>,
    config: &DeliveryConfig,
    claimer: &str,
    row: Claimed,
) -> Result<(), ApiError> {
    let (crypto, recipients, claimed) = (crypto.clone(), recipients.clone(), row.clone());
    let with_channel = channels.any(config);
    let route = db
        .run(move |conn| route(conn, &crypto, &recipients, &claimed, with_channel))
        .await?;
    let (outcome, tried) = match (channels.mailer, &config.gateway, route) {
        (_, _, Route::Suppress) => (Outcome::Suppressed, false),
        (None, None, _) | (_, _, Route::InboxOnly) => (Outcome::Delivered, false),
        (Some(mailer), _, Route::Gateway { to, code }) => {
            (mail(mailer, config, &row, &to, code.as_deref()).await, true)
        }
        (None, Some(gateway), Route::Gateway { to, code }) => (
            send(channels.sender, gateway, config, &row, to, code).await,
            true,
        ),
    };
    let (id, claimer) = (row.id.clone(), claimer.to_owned());
    let attempts = row.attempts + i32::from(tried);
    db.run(move |conn| record(conn, &id, &claimer, attempts, tried, &outcome))
        .await
}

/// Mails one notice; a permanent refusal is dead at once, other failures are retried.
async fn mail(
    mailer: &Mailer,
    config: &DeliveryConfig,
    row: &Claimed,
    to: &str,
    code: Option<&str>,
) -> Outcome {
    let Some(kind) = Kind::parse(&row.kind) else {
        return Outcome::Delivered;
    };
    let payload: serde_json::Value =
        serde_json::from_str(&row.payload).unwrap_or(serde_json::Value::Null);
    let attempt = match mailer.send(&kind, &payload, to, code).await {
        Sent::Accepted => Attempt::Delivered { status: 250 },
        Sent::Permanent(error) => return Outcome::Dead { error },
        Sent::Transient(error) => Attempt::Failed {
            status: None,
            error,
        },
    };
    after_try(
        &attempt,
        row.attempts + 1,
        config,
        crate::db::now(),
        backoff::random_jitter(),
    )
}

async fn send(
    sender: &Sender,
    gateway: &Gateway,
    config: &DeliveryConfig,
    row: &Claimed,
    to: String,
    code: Option<String>,
) -> Outcome {
    let attempt = match serde_json::to_vec(&row.message(Some(to), code)) {
        Ok(body) => {
            sender
                .post_signed(
                    gateway.url.expose().as_str(),
                    gateway.secret.expose().as_bytes(),
                    body,
                    &[("valise-notification-id", row.id.clone())],
                )
                .await
        }
        Err(_) => Attempt::Failed {
            status: None,
            error: "unserializable payload".into(),
        },
    };
    after_try(
        &attempt,
        row.attempts + 1,
        config,
        crate::db::now(),
        backoff::random_jitter(),
    )
}

/// Stores the outcome, provided this worker still holds the claim (a lease that ran out may
/// have passed the row to another instance; its outcome wins).
fn record(
    conn: &mut DbConnection,
    id: &str,
    claimer: &str,
    attempts: i32,
    tried: bool,
    outcome: &Outcome,
) -> Result<(), ApiError> {
    let now = crate::db::now();
    let mine = notifications::table
        .filter(notifications::id.eq(id))
        .filter(notifications::claimed_by.eq(claimer))
        .filter(notifications::status.eq(status::SENDING));
    let (new_status, next, error, delivered_at) = match outcome {
        Outcome::Delivered => (status::DELIVERED, now, None, Some(now)),
        Outcome::Suppressed => (status::SUPPRESSED, now, None, None),
        Outcome::Retry { at, error } => (status::PENDING, *at, Some(error.clone()), None),
        Outcome::Dead { error } => (status::DEAD, now, Some(error.clone()), None),
    };
    let settled = (
        notifications::status.eq(new_status),
        notifications::attempts.eq(attempts),
        notifications::next_attempt_at.eq(next),
        notifications::claimed_by.eq(None::<String>),
        notifications::delivered_at.eq(delivered_at),
    );
    if tried {
        diesel::update(mine)
            .set((
                settled,
                notifications::last_error.eq(error),
                notifications::last_attempt_at.eq(Some(now)),
            ))
            .execute(conn)?;
    } else {
        diesel::update(mine).set(settled).execute(conn)?;
    }
    if let Outcome::Dead { error } = outcome {
        tracing::warn!("notification {id} dead-lettered after {attempts} tries: {error}");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn config() -> DeliveryConfig {
        DeliveryConfig {
            notify_max_attempts: 3,
            notify_retry_base: Duration::from_secs(30),
            ..DeliveryConfig::default()
        }
    }

    #[test]
    fn a_failed_try_is_retried_until_the_last_then_dead() {
        let now = crate::db::now();
        let failed = Attempt::Failed {
            status: Some(500),
            error: "HTTP 500".into(),
        };
        assert_eq!(
            after_try(&failed, 1, &config(), now, 0.5),
            Outcome::Retry {
                at: now + chrono::Duration::seconds(30),
                error: "HTTP 500".into()
            }
        );
        assert!(matches!(
            after_try(&failed, 2, &config(), now, 0.5),
            Outcome::Retry { .. }
        ));
        assert_eq!(
            after_try(&failed, 3, &config(), now, 0.5),
            Outcome::Dead {
                error: "HTTP 500".into()
            }
        );
        let ok = Attempt::Delivered { status: 204 };
        assert_eq!(after_try(&ok, 3, &config(), now, 0.5), Outcome::Delivered);
    }
}
