//! Applying a transition: the status change, its event, its side effects (stock, refunds)
//! and its notification, in the caller's transaction.

use super::model::{transition, Action, Actor, ChangedBy, OrderStatus};
use super::store::{self, OrderRow};
use crate::db::DbConnection;
use crate::http::error::ApiError;
use crate::invalid::Invalid;
use crate::notifications;

pub struct Change<'a> {
    pub order: &'a OrderRow,
    pub action: Action,
    pub actor: Actor,
    /// Who it is, as the order's history shows it.
    pub changed_by: ChangedBy,
    pub actor_id: Option<&'a str>,
    /// Why, as staff gave it (a staff cancellation); shown in the order's history only.
    pub reason: Option<&'a str>,
}

/// Checks and applies one transition. Returns the new status.
pub fn apply(conn: &mut DbConnection, change: &Change<'_>) -> Result<OrderStatus, ApiError> {
    let from = change.order.status();
    let to = transition(from, change.action, change.actor).map_err(Invalid::from)?;
    if !store::set_status(conn, &change.order.id, from, to)? {
        // Someone else moved it first; report from where it is now.
        let now = store::get(conn, &change.order.id)?
            .map(|o| o.status())
            .unwrap_or(from);
        return Err(Invalid::from(super::model::InvalidTransition {
            from: now,
            action: change.action,
        })
        .into());
    }
    store::record_event(
        conn,
        &change.order.id,
        Some(from),
        to,
        change.changed_by,
        change.actor_id,
        change.reason,
    )?;
    if matches!(to, OrderStatus::Cancelled | OrderStatus::Expired) && from.before_shipment() {
        store::release_stock(conn, &change.order.id)?;
        // Nothing was sold: the discount code's use is free again (the order keeps its
        // discount line, as charged).
        crate::discounts::store::release(conn, &change.order.id)?;
    }
    if to == OrderStatus::Cancelled && from != OrderStatus::PendingPayment {
        crate::payments::refund_all_for_order(conn, &change.order.id)?;
    }
    if matches!(to, OrderStatus::Cancelled | OrderStatus::Expired)
        && from == OrderStatus::PendingPayment
    {
        // Nobody will pay it any more: its payments are cancelled at the provider too.
        crate::payments::abandon_for_order(conn, &change.order.id)?;
    }
    if let Some(kind) = to.notice() {
        notifications::enqueue(
            conn,
            crate::notifications::To::Order {
                order_id: &change.order.id,
                user_id: change.order.user_id.as_ref(),
            },
            &kind,
            &serde_json::json!({"order_id": change.order.id, "number": change.order.number, "status": to.as_str()}),
        )?;
    }
    Ok(to)
}

/// Expires unpaid orders past their deadline, in small batches, one transaction per order.
/// Safe with several processes: the status change is conditional, so each order expires once.
pub fn expire_due(conn: &mut DbConnection, batch: i64) -> Result<usize, ApiError> {
    let mut expired = 0;
    for id in store::due_for_expiry(conn, batch)? {
        let done = crate::db::write_transaction(conn, |conn| {
            let Some(order) = store::get(conn, &id)? else {
                return Ok(false);
            };
            if order.status() != OrderStatus::PendingPayment {
                return Ok(false);
            }
            match apply(
                conn,
                &Change {
                    order: &order,
                    action: Action::Expire,
                    actor: Actor::System,
                    changed_by: ChangedBy::System,
                    actor_id: None,
                    reason: None,
                },
            ) {
                Ok(_) => Ok(true),
                Err(ApiError::Conflict(_) | ApiError::InvalidTransition(_)) => Ok(false),
                Err(e) => Err(e),
            }
        })?;
        if done {
            expired += 1;
        }
    }
    Ok(expired)
}
