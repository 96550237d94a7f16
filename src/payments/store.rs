//! Payment queries.

use crate::ids::OrderId;
use diesel::prelude::*;
use diesel::sql_types::{Text, Timestamp};

use super::model::PaymentStatus;
use crate::db::schema::{payment_events, payments};
use crate::db::{DbConnection, Statement};

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = payments)]
// As for orders::store::OrderRow: `None` is NULL, so the insert stays prepared.
#[diesel(treat_none_as_default_value = false)]
pub struct PaymentRow {
    pub id: String,
    pub order_id: OrderId,
    pub provider: String,
    pub provider_reference: String,
    pub status: String,
    pub amount: i64,
    pub refunded_amount: i64,
    pub currency: String,
    pub created_at: chrono::NaiveDateTime,
    pub updated_at: chrono::NaiveDateTime,
}

impl PaymentRow {
    pub fn status(&self) -> PaymentStatus {
        PaymentStatus::parse(&self.status).unwrap_or(PaymentStatus::Failed)
    }
}

pub fn insert(conn: &mut DbConnection, row: &PaymentRow) -> QueryResult<()> {
    diesel::insert_into(payments::table)
        .values(row)
        .execute(conn)?;
    Ok(())
}

pub fn get(conn: &mut DbConnection, id: &str) -> QueryResult<Option<PaymentRow>> {
    payments::table
        .find(id)
        .select(PaymentRow::as_select())
        .first(conn)
        .optional()
}

pub fn for_order(conn: &mut DbConnection, order_id: &str) -> QueryResult<Vec<PaymentRow>> {
    payments::table
        .filter(payments::order_id.eq(order_id))
        .order(payments::created_at.asc())
        .select(PaymentRow::as_select())
        .load(conn)
}

/// Records a provider event id; false when it was already applied (a webhook retry).
pub fn record_event(
    conn: &mut DbConnection,
    provider: &str,
    event_id: &str,
    payment_id: &str,
    event_type: &str,
) -> QueryResult<bool> {
    let inserted = diesel::insert_into(payment_events::table)
        .values((
            payment_events::provider.eq(provider),
            payment_events::event_id.eq(event_id),
            payment_events::payment_id.eq(payment_id),
            payment_events::event_type.eq(event_type),
            payment_events::received_at.eq(crate::db::now()),
        ))
        .execute(conn);
    match inserted {
        Ok(_) => Ok(true),
        Err(diesel::result::Error::DatabaseError(
            diesel::result::DatabaseErrorKind::UniqueViolation,
            _,
        )) => Ok(false),
        Err(e) => Err(e),
    }
}

/// Moves a payment from `from` to `to` if it is still in `from`.
pub fn set_status(
    conn: &mut DbConnection,
    id: &str,
    from: PaymentStatus,
    to: PaymentStatus,
) -> QueryResult<bool> {
    let n = Statement::sql("UPDATE payments SET status = ")
        .bind::<Text, _>(to.as_str())
        .then(", updated_at = ")
        .bind::<Timestamp, _>(crate::db::now())
        .then(" WHERE id = ")
        .bind::<Text, _>(id)
        .then(" AND status = ")
        .bind::<Text, _>(from.as_str())
        .execute(conn)?;
    Ok(n == 1)
}

/// Adds a refund; the payment becomes `refunded` when nothing is left, else
/// `partially_refunded`.
pub fn record_refund(
    conn: &mut DbConnection,
    payment: &PaymentRow,
    amount: i64,
) -> QueryResult<PaymentStatus> {
    let refunded = payment.refunded_amount + amount;
    let status = if refunded >= payment.amount {
        PaymentStatus::Refunded
    } else {
        PaymentStatus::PartiallyRefunded
    };
    diesel::update(
        payments::table
            .filter(payments::id.eq(&payment.id))
            .filter(payments::refunded_amount.eq(payment.refunded_amount)),
    )
    .set((
        payments::refunded_amount.eq(refunded),
        payments::status.eq(status.as_str()),
        payments::updated_at.eq(crate::db::now()),
    ))
    .execute(conn)?;
    Ok(status)
}
