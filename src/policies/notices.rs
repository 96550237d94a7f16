//! Revision notices: after a publish, every registered customer gets a `policy.revised`
//! notification, queued in batches (each its own short transaction) behind a cursor kept
//! on the policy row, so a crash resumes where it stopped and several processes never
//! queue a batch twice (the cursor moves by compare-and-set).

use diesel::prelude::*;

use crate::auth::{status, Role};
use crate::db::schema::{policies, users};
use crate::db::DbConnection;
use crate::notifications::{self, Kind};

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
        if moved == 0 || recipients.is_empty() {
            return Ok(None);
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
