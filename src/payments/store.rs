//! Payment queries.

use crate::ids::OrderId;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text, Timestamp};

use super::model::{PaymentStatus, RefundStatus};
use crate::db::schema::{payment_events, payments, refunds};
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
    /// The provider's `created` (Unix seconds) of the last status event applied.
    pub last_event_at: Option<i64>,
    /// Since when the payment is to be cancelled at its provider (its order will never be
    /// paid); cleared once the provider answered.
    pub cancel_due_at: Option<chrono::NaiveDateTime>,
}

impl PaymentRow {
    pub fn status(&self) -> PaymentStatus {
        PaymentStatus::from_stored(&self.status)
    }

    /// How an event created at `created` compares with the last one applied (`Greater`:
    /// newer, or the first).
    pub fn age_of(&self, created: i64) -> std::cmp::Ordering {
        self.last_event_at
            .map_or(std::cmp::Ordering::Greater, |last| created.cmp(&last))
    }
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = refunds)]
#[diesel(treat_none_as_default_value = false)]
pub struct RefundRow {
    pub id: String,
    pub payment_id: String,
    pub amount: i64,
    pub status: String,
    pub provider_reference: Option<String>,
    pub request_key: Option<String>,
    pub request_hash: Option<Vec<u8>>,
    pub created_at: chrono::NaiveDateTime,
    pub updated_at: chrono::NaiveDateTime,
}

impl RefundRow {
    pub fn status(&self) -> RefundStatus {
        RefundStatus::from_stored(&self.status)
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

/// The payment a provider knows as `reference`.
pub fn by_reference(
    conn: &mut DbConnection,
    provider: &str,
    reference: &str,
) -> QueryResult<Option<PaymentRow>> {
    payments::table
        .filter(payments::provider.eq(provider))
        .filter(payments::provider_reference.eq(reference))
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

/// Marks the open payments of `order_id` with `provider` to be cancelled at the provider.
pub fn mark_cancel_due(
    conn: &mut DbConnection,
    order_id: &str,
    provider: &str,
) -> QueryResult<usize> {
    let open: Vec<&str> = PaymentStatus::ALL
        .into_iter()
        .filter(|s| s.is_open())
        .map(PaymentStatus::as_str)
        .collect();
    diesel::update(
        payments::table
            .filter(payments::order_id.eq(order_id))
            .filter(payments::provider.eq(provider))
            .filter(payments::status.eq_any(open))
            .filter(payments::cancel_due_at.is_null()),
    )
    .set(payments::cancel_due_at.eq(crate::db::now()))
    .execute(conn)
}

/// Payments to be cancelled at their provider, oldest first.
pub fn cancels_due(conn: &mut DbConnection, limit: i64) -> QueryResult<Vec<PaymentRow>> {
    payments::table
        .filter(payments::cancel_due_at.is_not_null())
        .order(payments::cancel_due_at.asc())
        .limit(limit)
        .select(PaymentRow::as_select())
        .load(conn)
}

/// The provider answered the cancellation of a payment: nothing more to ask it.
pub fn clear_cancel_due(conn: &mut DbConnection, id: &str) -> QueryResult<()> {
    diesel::update(payments::table.find(id))
        .set(payments::cancel_due_at.eq(None::<chrono::NaiveDateTime>))
        .execute(conn)?;
    Ok(())
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

/// Moves a payment from `from` to `to` if it is still in `from`, noting the provider time
/// of the event that moved it.
pub fn set_status_at(
    conn: &mut DbConnection,
    id: &str,
    from: PaymentStatus,
    to: PaymentStatus,
    event_at: i64,
) -> QueryResult<bool> {
    let n = Statement::sql("UPDATE payments SET status = ")
        .bind::<Text, _>(to.as_str())
        .then(", last_event_at = ")
        .bind::<BigInt, _>(event_at)
        .then(", updated_at = ")
        .bind::<Timestamp, _>(crate::db::now())
        .then(" WHERE id = ")
        .bind::<Text, _>(id)
        .then(" AND status = ")
        .bind::<Text, _>(from.as_str())
        .execute(conn)?;
    Ok(n == 1)
}

/// Sets `amount` aside for a refund of a captured payment, in one statement: the total
/// refunded never passes the amount taken, however many refunds run at once (each waits for
/// the row's lock on PostgreSQL, for the write lock on SQLite, then sees the sum before it).
/// False when the payment is not captured or too little is left.
pub fn reserve_refund(conn: &mut DbConnection, payment_id: &str, amount: i64) -> QueryResult<bool> {
    let n = Statement::sql("UPDATE payments SET refunded_amount = refunded_amount + ")
        .bind::<BigInt, _>(amount)
        .then(", status = CASE WHEN refunded_amount + ")
        .bind::<BigInt, _>(amount)
        .then(" >= amount THEN 'refunded' ELSE 'partially_refunded' END, updated_at = ")
        .bind::<Timestamp, _>(crate::db::now())
        .then(" WHERE id = ")
        .bind::<Text, _>(payment_id)
        .then(" AND status IN ('captured', 'partially_refunded') AND refunded_amount + ")
        .bind::<BigInt, _>(amount)
        .then(" <= amount")
        .execute(conn)?;
    Ok(n == 1)
}

/// Gives back what a failed refund had set aside: the payment is captured again when
/// nothing else is refunded (a disputed payment stays disputed, a lost dispute lost).
pub fn release_refund(conn: &mut DbConnection, payment_id: &str, amount: i64) -> QueryResult<()> {
    Statement::sql("UPDATE payments SET refunded_amount = refunded_amount - ")
        .bind::<BigInt, _>(amount)
        .then(", status = CASE WHEN status IN ('disputed', 'dispute_lost') THEN status WHEN refunded_amount - ")
        .bind::<BigInt, _>(amount)
        .then(" <= 0 THEN 'captured' ELSE 'partially_refunded' END, updated_at = ")
        .bind::<Timestamp, _>(crate::db::now())
        .then(" WHERE id = ")
        .bind::<Text, _>(payment_id)
        .then(" AND refunded_amount >= ")
        .bind::<BigInt, _>(amount)
        .execute(conn)?;
    Ok(())
}

pub fn insert_refund(conn: &mut DbConnection, row: &RefundRow) -> QueryResult<()> {
    diesel::insert_into(refunds::table)
        .values(row)
        .execute(conn)?;
    Ok(())
}

pub fn refund(conn: &mut DbConnection, id: &str) -> QueryResult<Option<RefundRow>> {
    refunds::table
        .find(id)
        .select(RefundRow::as_select())
        .first(conn)
        .optional()
}

/// The refund of `payment_id` asked for with Idempotency-Key `key`.
pub fn refund_by_request(
    conn: &mut DbConnection,
    payment_id: &str,
    key: &str,
) -> QueryResult<Option<RefundRow>> {
    refunds::table
        .filter(refunds::payment_id.eq(payment_id))
        .filter(refunds::request_key.eq(key))
        .select(RefundRow::as_select())
        .first(conn)
        .optional()
}

pub fn refund_by_reference(
    conn: &mut DbConnection,
    reference: &str,
) -> QueryResult<Option<RefundRow>> {
    refunds::table
        .filter(refunds::provider_reference.eq(reference))
        .select(RefundRow::as_select())
        .first(conn)
        .optional()
}

/// Notes the provider's reference of a refund still waiting for its first answer; false
/// when another answer (or a webhook) recorded one first.
pub fn take_refund_reference(
    conn: &mut DbConnection,
    id: &str,
    reference: &str,
) -> QueryResult<bool> {
    let n = diesel::update(
        refunds::table
            .filter(refunds::id.eq(id))
            .filter(refunds::status.eq(RefundStatus::Pending.as_str()))
            .filter(refunds::provider_reference.is_null()),
    )
    .set((
        refunds::provider_reference.eq(reference),
        refunds::updated_at.eq(crate::db::now()),
    ))
    .execute(conn)?;
    Ok(n == 1)
}

/// Refunds still waiting for the provider's first answer: those of a cancellation (asked of
/// no one yet) and those whose request stopped before the answer, older than `before`.
pub fn unsubmitted_refunds(
    conn: &mut DbConnection,
    before: chrono::NaiveDateTime,
    limit: i64,
) -> QueryResult<Vec<RefundRow>> {
    refunds::table
        .filter(refunds::status.eq(RefundStatus::Pending.as_str()))
        .filter(refunds::provider_reference.is_null())
        .filter(
            refunds::request_key
                .is_null()
                .or(refunds::created_at.lt(before)),
        )
        .order(refunds::created_at.asc())
        .limit(limit)
        .select(RefundRow::as_select())
        .load(conn)
}

pub fn refunds_of(conn: &mut DbConnection, payment_id: &str) -> QueryResult<Vec<RefundRow>> {
    refunds::table
        .filter(refunds::payment_id.eq(payment_id))
        .order((refunds::created_at.asc(), refunds::id.asc()))
        .select(RefundRow::as_select())
        .load(conn)
}

/// Moves a refund from `from` to `to` (and notes the provider's reference), if it is still
/// in `from`.
pub fn set_refund_status(
    conn: &mut DbConnection,
    id: &str,
    from: RefundStatus,
    to: RefundStatus,
    reference: Option<&str>,
) -> QueryResult<bool> {
    let n = diesel::update(
        refunds::table
            .filter(refunds::id.eq(id))
            .filter(refunds::status.eq(from.as_str())),
    )
    .set((
        refunds::status.eq(to.as_str()),
        refunds::provider_reference.eq(reference),
        refunds::updated_at.eq(crate::db::now()),
    ))
    .execute(conn)?;
    Ok(n == 1)
}
