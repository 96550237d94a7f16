//! Revision notices: after a publish, every registered customer gets a `policy.revised`
//! notification (and, once they are all queued, every guest with an open order: see
//! [`queue_guests`]), queued in batches (each its own short transaction) behind a cursor kept
//! on the policy row, so a crash resumes where it stopped and several processes never
//! queue a batch twice (the cursor moves by compare-and-set).

use diesel::prelude::*;

use crate::auth::{status, Role};
use crate::db::schema::{orders, policies, users};
use crate::db::DbConnection;
use crate::notifications::{self, Kind};
use crate::orders::model::OrderStatus;

/// Customers per batch.
pub const BATCH: i64 = 1_000;

/// Queues the next batch of notices for `version`. Returns how many were queued, or `None`
/// when the fan-out is finished (or another process holds this batch).
pub fn queue_batch(
    conn: &mut DbConnection,
    version: i32,
    batch: i64,
) -> QueryResult<Option<usize>> {
    crate::db::write_transaction(conn, |conn| {
        let row: Option<(Option<String>, Option<chrono::NaiveDateTime>)> = policies::table
            .find(version)
            .select((policies::notices_after, policies::notices_done_at))
            .first(conn)
            .optional()?;
        let Some((after, None)) = row else {
            return Ok(None);
        };
        let mut query = users::table
            .filter(users::role.eq(Role::Customer.as_str()))
            .filter(users::status.eq(status::ACTIVE))
            .order(users::id.asc())
            .limit(batch)
            .select(users::id)
            .into_boxed();
        if let Some(after) = &after {
            query = query.filter(users::id.gt(after.clone()));
        }
        let recipients: Vec<String> = query.load(conn)?;
        // Claim the batch: only the process that still sees the old cursor moves it.
        let claim = diesel::update(
            policies::table
                .find(version)
                .filter(policies::notices_done_at.is_null()),
        );
        let moved = match (&after, recipients.last()) {
            (_, Some(last)) => {
                let claim = claim.set(policies::notices_after.eq(Some(last.as_str())));
                match &after {
                    Some(a) => claim
                        .filter(policies::notices_after.eq(a.as_str()))
                        .execute(conn)?,
                    None => claim
                        .filter(policies::notices_after.is_null())
                        .execute(conn)?,
                }
            }
            (_, None) => claim
                .set(policies::notices_done_at.eq(Some(crate::db::now())))
                .execute(conn)?,
        };
        if moved == 0 {
            return Ok(None);
        }
        if recipients.is_empty() {
            // The fan-out to accounts has finished, and this process marked it done: the
            // guests' turn, in the same transaction, so they are told exactly once.
            let guests = queue_guests(conn, version)?;
            return Ok((guests > 0).then_some(guests));
        }
        notifications::enqueue_each(
            conn,
            &recipients,
            &Kind::PolicyRevised,
            &serde_json::json!({ "policy_version": version }),
        )?;
        Ok(Some(recipients.len()))
    })
}

/// The guest orders still open: not delivered, closed, cancelled or expired — the guest
/// has accepted the policy at checkout and Valise still holds their data for the order.
const OPEN_FOR_GUESTS: [OrderStatus; 4] = [
    OrderStatus::PendingPayment,
    OrderStatus::Paid,
    OrderStatus::Fulfilling,
    OrderStatus::Shipped,
];

/// Queues a `policy.revised` notice for every guest with an open order, one per guest
/// (orders grouped by their contact email's blind index), addressed through the order so the
/// gateway reaches the guest's sealed email as for any order notice. Returns how many.
pub fn queue_guests(conn: &mut DbConnection, version: i32) -> QueryResult<usize> {
    let statuses: Vec<&str> = OPEN_FOR_GUESTS.iter().map(|s| s.as_str()).collect();
    let orders: Vec<Option<crate::ids::OrderId>> = orders::table
        .filter(orders::user_id.is_null())
        .filter(orders::status.eq_any(statuses))
        .filter(orders::contact_email_bidx.is_not_null())
        .group_by(orders::contact_email_bidx)
        .select(diesel::dsl::min(orders::id))
        .load(conn)?;
    let mut queued = 0;
    for order_id in orders.into_iter().flatten() {
        notifications::enqueue(
            conn,
            notifications::To::Order {
                order_id: &order_id,
                user_id: None,
            },
            &Kind::PolicyRevised,
            &serde_json::json!({ "policy_version": version }),
        )?;
        queued += 1;
    }
    Ok(queued)
}

/// Versions whose fan-out has not finished, oldest first.
pub fn unfinished(conn: &mut DbConnection) -> QueryResult<Vec<i32>> {
    policies::table
        .filter(policies::notices_done_at.is_null())
        .order(policies::version.asc())
        .select(policies::version)
        .load(conn)
}

/// Queues every remaining notice of every unfinished publish; returns how many.
pub fn fan_out(conn: &mut DbConnection, batch: i64) -> QueryResult<usize> {
    let mut queued = 0;
    for version in unfinished(conn)? {
        while let Some(n) = queue_batch(conn, version, batch)? {
            queued += n;
        }
    }
    Ok(queued)
}
