//! Writing to the outbox: every row enters here, in the transaction of the change that
//! causes it (other rooms never insert rows themselves), and the backlog count `/metrics`
//! reports.

use crate::ids::{OrderId, UserId};
use diesel::prelude::*;
use serde_json::Value;

use super::kind::Kind;
use crate::db::schema::notifications;
use crate::db::DbConnection;
use crate::delivery::status::PENDING;

/// Whom a notification is for. The variants name their ids, so an order id cannot be
/// passed where an account id is meant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum To<'a> {
    /// An account's own notice (a data-subject request's progress).
    Account { user_id: &'a UserId },
    /// The owner of an order: its account, or for a guest's order its contact.
    Order {
        order_id: &'a OrderId,
        user_id: Option<&'a UserId>,
    },
    /// Whoever the kind's own lookup finds from the payload (a guest's request code, a
    /// consultation's answer): see `recipients`.
    KindLookup,
}

impl To<'_> {
    fn ids(self) -> (Option<String>, Option<String>) {
        match self {
            To::Account { user_id } => (Some(user_id.to_string()), None),
            To::Order { order_id, user_id } => {
                (user_id.map(UserId::to_string), Some(order_id.to_string()))
            }
            To::KindLookup => (None, None),
        }
    }
}

/// Queues a notification of `kind` for `to`.
///
/// Kinds with an integrator event ([`Kind::integrator_event`]) are also emitted to
/// integrators' webhook subscriptions ([`crate::webhooks::emit`]) in the same transaction,
/// with only the ids and statuses of the payload.
pub fn enqueue(
    conn: &mut DbConnection,
    to: To<'_>,
    kind: &Kind,
    payload: &Value,
) -> QueryResult<String> {
    let (recipient_user_id, order_id) = to.ids();
    let id = crate::ids::new_id("ntf");
    let now = crate::db::now();
    diesel::insert_into(notifications::table)
        .values((
            notifications::id.eq(&id),
            notifications::recipient_user_id.eq(recipient_user_id),
            notifications::order_id.eq(order_id),
            notifications::kind.eq(kind.as_str()),
            notifications::payload.eq(payload.to_string()),
            notifications::status.eq(PENDING),
            notifications::attempts.eq(0),
            notifications::next_attempt_at.eq(now),
            notifications::created_at.eq(now),
        ))
        .execute(conn)?;
    if let Some(event) = kind.integrator_event() {
        crate::webhooks::emit(conn, event, &integrator_payload(payload))?;
    }
    Ok(id)
}

/// Queues one notification of `kind` for each of `recipients` (accounts), with one
/// multi-row INSERT: the fan-out of a policy revision queues thousands at a time. Kinds
/// sent this way raise no integrator event (one change, not one per recipient).
pub fn enqueue_each(
    conn: &mut DbConnection,
    recipients: &[String],
    kind: &Kind,
    payload: &Value,
) -> QueryResult<usize> {
    use diesel::sql_types::{Text, Timestamp};
    debug_assert!(kind.integrator_event().is_none(), "{kind} raises an event");
    if recipients.is_empty() {
        return Ok(0);
    }
    let now = crate::db::now();
    let payload = payload.to_string();
    let sql = format!(
        "INSERT INTO notifications (id, recipient_user_id, order_id, kind, payload, status, \
         attempts, next_attempt_at, created_at) VALUES {}",
        crate::db::values_list(
            conn,
            &format!("(?, ?, NULL, ?, ?, '{PENDING}', 0, ?, ?)"),
            recipients.len()
        )
    );
    let mut query = diesel::sql_query(sql).into_boxed();
    for user in recipients {
        query = query
            .bind::<Text, _>(crate::ids::new_id("ntf"))
            .bind::<Text, _>(user.clone())
            .bind::<Text, _>(kind.as_str().to_owned())
            .bind::<Text, _>(payload.clone())
            .bind::<Timestamp, _>(now)
            .bind::<Timestamp, _>(now);
    }
    query.execute(conn)
}

/// The part of a notification payload integrators get: ids, order and document numbers and
/// statuses.
fn integrator_payload(payload: &Value) -> Value {
    let kept = payload
        .as_object()
        .map(|fields| {
            fields
                .iter()
                .filter(|(name, value)| {
                    (name.ends_with("_id")
                        || *name == "number"
                        || *name == "document_number"
                        || *name == "status")
                        && value.is_string()
                })
                .map(|(name, value)| (name.clone(), value.clone()))
                .collect()
        })
        .unwrap_or_default();
    Value::Object(kept)
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
