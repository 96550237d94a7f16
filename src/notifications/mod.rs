//! The notification outbox: rows written in the same transaction as the change that causes
//! them, delivered later by a worker ([`delivery`]). Payloads carry ids and statuses, never
//! personal values. Staff see and retry the outbox through [`admin`].

pub mod admin;
pub mod delivery;
pub mod recipients;
pub mod routes;

use diesel::prelude::*;
use serde_json::Value;

use crate::db::schema::notifications;
use crate::db::DbConnection;

pub use crate::delivery::status::PENDING;
pub use delivery::marketing_allowed;

/// Kinds starting with this are marketing: delivered only with the recipient's consent.
pub const MARKETING_PREFIX: &str = "marketing.";

/// Kinds that integrators also receive, as the webhook event of the same name.
const INTEGRATOR_FAMILIES: [&str; 3] = ["order.", "payment.", "dsr."];

/// Queues a notification for a customer (`recipient`) or, for guests, about an order.
///
/// `order.*`, `payment.*` and `dsr.*` notifications are also emitted to integrators' webhook
/// subscriptions ([`crate::webhooks::emit`]) in the same transaction, with only the ids and
/// statuses of the payload.
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
    if INTEGRATOR_FAMILIES.iter().any(|f| kind.starts_with(f)) {
        crate::webhooks::emit(conn, kind, &integrator_payload(payload))?;
    }
    Ok(id)
}

/// The part of a notification payload integrators get: ids, order numbers and statuses.
fn integrator_payload(payload: &Value) -> Value {
    let kept = payload
        .as_object()
        .map(|fields| {
            fields
                .iter()
                .filter(|(name, value)| {
                    (name.ends_with("_id") || *name == "number" || *name == "status")
                        && value.is_string()
                })
                .map(|(name, value)| (name.clone(), value.clone()))
                .collect()
        })
        .unwrap_or_default();
    Value::Object(kept)
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
    pub const CONSULTATION_ANSWERED: &str = "consultation.answered";
    pub const POLICY_REVISED: &str = "policy.revised";
    pub const DSR_UPDATED: &str = "dsr.updated";
    /// A guest's one-time code: the code and address travel sealed, never in the payload.
    pub const DSR_VERIFICATION_CODE: &str = "dsr.verification_code";
}

/// Notifications waiting for delivery: the outbox backlog reported by `/metrics`.
pub fn pending_count(conn: &mut DbConnection) -> QueryResult<i64> {
    notifications::table
        .filter(notifications::status.eq(PENDING))
        .count()
        .get_result(conn)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integrators_get_ids_and_statuses_only() {
        let payload = serde_json::json!({
            "order_id": "ord_1", "number": "LG-AAAA-BBBB", "status": "paid",
            "payment_id": "pay_1", "amount": 1200, "email": "a@b.c", "note": "x",
            "nested_id": {"email": "a@b.c"}
        });
        assert_eq!(
            integrator_payload(&payload),
            serde_json::json!({
                "order_id": "ord_1", "number": "LG-AAAA-BBBB", "status": "paid",
                "payment_id": "pay_1"
            })
        );
        assert_eq!(integrator_payload(&Value::Null), serde_json::json!({}));
    }
}
