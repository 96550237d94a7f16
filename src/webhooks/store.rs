//! Subscriptions and their delivery log in the database.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::model::EventPattern;
use crate::crypto::{Column, Crypto, CryptoError};
use crate::db::schema::{webhook_deliveries, webhook_subscriptions};
use crate::db::DbConnection;
use crate::delivery::status;

/// A subscription's signing secret, sealed under a system key.
pub const SECRET: Column = Column::new("webhook_subscriptions", "secret_sealed");

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = webhook_subscriptions)]
pub struct SubscriptionRow {
    pub id: String,
    pub url: String,
    pub events: String,
    pub created_by: String,
    pub created_at: NaiveDateTime,
    pub deleted_at: Option<NaiveDateTime>,
}

impl SubscriptionRow {
    /// The stored patterns (written by [`create`], so they parse; a bad one is skipped).
    pub fn patterns(&self) -> Vec<EventPattern> {
        serde_json::from_str::<Vec<String>>(&self.events)
            .unwrap_or_default()
            .iter()
            .filter_map(|p| EventPattern::parse(p).ok())
            .collect()
    }
}

/// Stores a subscription. Its signing secret is sealed with the subscription's own data key,
/// never stored in plaintext.
pub fn create(
    conn: &mut DbConnection,
    crypto: &Crypto,
    url: &str,
    patterns: &[EventPattern],
    secret: &str,
    created_by: &str,
) -> Result<SubscriptionRow, CryptoError> {
    let id = crate::ids::new_id("whk");
    let events = serde_json::to_string(
        &patterns
            .iter()
            .map(EventPattern::as_str)
            .collect::<Vec<_>>(),
    )
    .unwrap_or_else(|_| "[]".into());
    let key = crypto.create_data_key(conn, &id)?;
    let sealed = key.seal_str(&SECRET.at(&id), secret)?;
    let row = SubscriptionRow {
        id,
        url: url.to_owned(),
        events,
        created_by: created_by.to_owned(),
        created_at: crate::db::now(),
        deleted_at: None,
    };
    diesel::insert_into(webhook_subscriptions::table)
        .values((
            webhook_subscriptions::id.eq(&row.id),
            webhook_subscriptions::url.eq(&row.url),
            webhook_subscriptions::events.eq(&row.events),
            webhook_subscriptions::secret_sealed.eq(Some(sealed)),
            webhook_subscriptions::created_by.eq(&row.created_by),
            webhook_subscriptions::created_at.eq(row.created_at),
        ))
        .execute(conn)?;
    Ok(row)
}

/// Active subscriptions, newest first, after a cursor.
pub fn list(
    conn: &mut DbConnection,
    after: Option<&str>,
    limit: i64,
) -> QueryResult<Vec<SubscriptionRow>> {
    let mut q = webhook_subscriptions::table
        .filter(webhook_subscriptions::deleted_at.is_null())
        .select(SubscriptionRow::as_select())
        .order(webhook_subscriptions::id.desc())
        .limit(limit)
        .into_boxed();
    if let Some(a) = after {
        q = q.filter(webhook_subscriptions::id.lt(a));
    }
    q.load(conn)
}

/// Every active subscription (for [`super::emit`]; integrators have a handful).
pub fn active(conn: &mut DbConnection) -> QueryResult<Vec<SubscriptionRow>> {
    webhook_subscriptions::table
        .filter(webhook_subscriptions::deleted_at.is_null())
        .select(SubscriptionRow::as_select())
        .load(conn)
}

/// A subscription, deleted or not.
pub fn get(conn: &mut DbConnection, id: &str) -> QueryResult<Option<SubscriptionRow>> {
    webhook_subscriptions::table
        .find(id)
        .select(SubscriptionRow::as_select())
        .first(conn)
        .optional()
}

/// Where an active subscription's deliveries go and the secret that signs them: `(url,
/// secret)`, or `None` once it was deleted.
pub fn endpoint(
    conn: &mut DbConnection,
    crypto: &Crypto,
    id: &str,
) -> Result<Option<(String, String)>, CryptoError> {
    let row: Option<(String, Option<Vec<u8>>)> = webhook_subscriptions::table
        .find(id)
        .filter(webhook_subscriptions::deleted_at.is_null())
        .select((
            webhook_subscriptions::url,
            webhook_subscriptions::secret_sealed,
        ))
        .first(conn)
        .optional()?;
    let Some((url, Some(sealed))) = row else {
        return Ok(None);
    };
    match crypto.data_key(conn, id) {
        Ok(key) => Ok(Some((url, key.open_string(&SECRET.at(id), &sealed)?))),
        Err(CryptoError::Shredded) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Deletes a subscription: no more deliveries, pending ones are cancelled, and its secret is
/// shredded. The delivery log stays. Returns false when it was already deleted.
pub fn delete(conn: &mut DbConnection, crypto: &Crypto, id: &str) -> Result<bool, CryptoError> {
    crate::db::write_transaction(conn, |conn| {
        let now = crate::db::now();
        let changed = diesel::update(
            webhook_subscriptions::table
                .find(id)
                .filter(webhook_subscriptions::deleted_at.is_null()),
        )
        .set((
            webhook_subscriptions::deleted_at.eq(Some(now)),
            webhook_subscriptions::secret_sealed.eq(None::<Vec<u8>>),
        ))
        .execute(conn)?;
        if changed == 0 {
            return Ok(false);
        }
        diesel::update(
            webhook_deliveries::table
                .filter(webhook_deliveries::subscription_id.eq(id))
                .filter(webhook_deliveries::status.eq(status::PENDING)),
        )
        .set((
            webhook_deliveries::status.eq(status::CANCELLED),
            webhook_deliveries::claimed_by.eq(None::<String>),
        ))
        .execute(conn)?;
        crypto.shred(conn, id)?;
        Ok(true)
    })
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = webhook_deliveries)]
pub struct DeliveryRow {
    pub id: String,
    pub subscription_id: String,
    pub event_id: String,
    pub event_type: String,
    pub payload: String,
    pub status: String,
    pub attempts: i32,
    pub next_attempt_at: NaiveDateTime,
    pub last_status_code: Option<i32>,
    pub last_error: Option<String>,
    pub last_attempt_at: Option<NaiveDateTime>,
    pub delivered_at: Option<NaiveDateTime>,
    pub created_at: NaiveDateTime,
}

/// Queues one delivery of an event to one subscription, due now.
pub fn insert_delivery(
    conn: &mut DbConnection,
    subscription_id: &str,
    event_id: &str,
    event_type: &str,
    payload: &str,
    now: NaiveDateTime,
) -> QueryResult<()> {
    diesel::insert_into(webhook_deliveries::table)
        .values((
            webhook_deliveries::id.eq(crate::ids::new_id("whd")),
            webhook_deliveries::subscription_id.eq(subscription_id),
            webhook_deliveries::event_id.eq(event_id),
            webhook_deliveries::event_type.eq(event_type),
            webhook_deliveries::payload.eq(payload),
            webhook_deliveries::status.eq(status::PENDING),
            webhook_deliveries::attempts.eq(0),
            webhook_deliveries::next_attempt_at.eq(now),
            webhook_deliveries::created_at.eq(now),
        ))
        .execute(conn)?;
    Ok(())
}

/// What asking to deliver an event again found.
#[derive(Debug)]
pub enum Redelivery {
    /// A new delivery of the same event (same `evt_…` id and body), due now.
    Queued(Box<DeliveryRow>),
    /// No such delivery in this subscription's log.
    Unknown,
    /// The subscription was deleted: its secret is gone, nothing can be signed.
    Deleted,
    /// The delivery is still waiting or being sent: it goes out without asking.
    InFlight,
}

/// Queues delivery `delivery_id` of subscription `subscription_id` again, as a new row of the
/// log (the old one keeps its history), in one transaction.
pub fn redeliver(
    conn: &mut DbConnection,
    subscription_id: &str,
    delivery_id: &str,
) -> QueryResult<Redelivery> {
    conn.transaction(|conn| {
        let Some(subscription) = get(conn, subscription_id)? else {
            return Ok(Redelivery::Unknown);
        };
        let Some(old) = webhook_deliveries::table
            .filter(webhook_deliveries::id.eq(delivery_id))
            .filter(webhook_deliveries::subscription_id.eq(subscription_id))
            .select(DeliveryRow::as_select())
            .first(conn)
            .optional()?
        else {
            return Ok(Redelivery::Unknown);
        };
        if subscription.deleted_at.is_some() {
            return Ok(Redelivery::Deleted);
        }
        if old.status == status::PENDING || old.status == status::SENDING {
            return Ok(Redelivery::InFlight);
        }
        let id = crate::ids::new_id("whd");
        let now = crate::db::now();
        diesel::insert_into(webhook_deliveries::table)
            .values((
                webhook_deliveries::id.eq(&id),
                webhook_deliveries::subscription_id.eq(subscription_id),
                webhook_deliveries::event_id.eq(&old.event_id),
                webhook_deliveries::event_type.eq(&old.event_type),
                webhook_deliveries::payload.eq(&old.payload),
                webhook_deliveries::status.eq(status::PENDING),
                webhook_deliveries::attempts.eq(0),
                webhook_deliveries::next_attempt_at.eq(now),
                webhook_deliveries::created_at.eq(now),
            ))
            .execute(conn)?;
        webhook_deliveries::table
            .filter(webhook_deliveries::id.eq(&id))
            .select(DeliveryRow::as_select())
            .first(conn)
            .map(|row| Redelivery::Queued(Box::new(row)))
    })
}

/// A subscription's delivery log, newest first, after a cursor.
pub fn deliveries(
    conn: &mut DbConnection,
    subscription_id: &str,
    after: Option<&str>,
    limit: i64,
) -> QueryResult<Vec<DeliveryRow>> {
    let mut q = webhook_deliveries::table
        .filter(webhook_deliveries::subscription_id.eq(subscription_id))
        .select(DeliveryRow::as_select())
        .order(webhook_deliveries::id.desc())
        .limit(limit)
        .into_boxed();
    if let Some(a) = after {
        q = q.filter(webhook_deliveries::id.lt(a));
    }
    q.load(conn)
}
