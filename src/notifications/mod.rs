//! The notification outbox: rows written in the same transaction as the change that causes
//! them, delivered later by a worker. Payloads carry ids and statuses, never personal values.

pub mod routes;

use diesel::prelude::*;
use serde_json::Value;

use crate::db::schema::notifications;
use crate::db::DbConnection;

pub const PENDING: &str = "pending";

/// Queues a notification for a customer (`recipient`) or, for guests, about an order.
pub fn enqueue(
    conn: &mut DbConnection,
    recipient_user_id: Option<&str>,
    order_id: Option<&str>,
    kind: &str,
    payload: &Value,
) -> QueryResult<String> {
    let id = crate::ids::new_id("ntf");
    let now = crate::db::now();
    diesel::insert_into(notifications::table)
        .values((
            notifications::id.eq(&id),
            notifications::recipient_user_id.eq(recipient_user_id),
            notifications::order_id.eq(order_id),
            notifications::kind.eq(kind),
            notifications::payload.eq(payload.to_string()),
            notifications::status.eq(PENDING),
            notifications::attempts.eq(0),
            notifications::next_attempt_at.eq(now),
            notifications::created_at.eq(now),
        ))
        .execute(conn)?;
    Ok(id)
}

/// Kinds of notification, stable for integrators and templates.
pub mod kind {
    pub const ORDER_PLACED: &str = "order.placed";
    pub const ORDER_PAID: &str = "order.paid";
    pub const ORDER_SHIPPED: &str = "order.shipped";
    pub const ORDER_DELIVERED: &str = "order.delivered";
    pub const ORDER_CANCELLED: &str = "order.cancelled";
    pub const ORDER_EXPIRED: &str = "order.expired";
    pub const ORDER_CLOSED: &str = "order.closed";
    pub const ORDER_ADDRESS_CORRECTED: &str = "order.address_corrected";
    pub const PAYMENT_REFUNDED: &str = "payment.refunded";
    pub const AFTER_SALES_UPDATED: &str = "after_sales.updated";
}

/// Notifications waiting for delivery: the outbox backlog reported by `/metrics`.
pub fn pending_count(conn: &mut DbConnection) -> QueryResult<i64> {
    notifications::table
        .filter(notifications::status.eq(PENDING))
        .count()
        .get_result(conn)
}
