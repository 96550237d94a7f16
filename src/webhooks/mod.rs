//! Integrators' webhooks: subscriptions to events (`order.*`, `payment.*`,
//! `policy.published`, `dsr.*`, or exact names), signed deliveries retried with backoff
//! (9 tries over almost 12 hours), and a delivery log. Payloads carry ids and statuses, never
//! personal values.
//!
//! Any room emits an event with [`emit`], inside the transaction of the change that causes
//! it; the delivery worker ([`delivery`]) sends it afterwards.

pub mod delivery;
pub mod model;
pub mod routes;
pub mod store;

use diesel::QueryResult;

use crate::db::DbConnection;

/// Emits an integrator event: one delivery row per active subscription whose patterns match
/// `event`, written in the caller's transaction (so an event exists exactly when its cause
/// committed).
///
/// `payload` becomes the delivery's `data` and must hold ids and statuses only — never
/// names, emails, addresses or free text. Events that follow a notification are emitted by
/// [`crate::notifications::enqueue`] (`Kind::integrator_event`); other rooms call this
/// directly.
///
/// Integrators receive `{"id": "evt_…", "type": event, "created_at": …, "data": payload}`
/// signed with their subscription's secret (`Valise-Signature`).
pub fn emit(
    conn: &mut DbConnection,
    event: model::WebhookEventType,
    payload: &serde_json::Value,
) -> QueryResult<()> {
    let event_type = event.as_str();
    let subscribers: Vec<String> = store::active(conn)?
        .into_iter()
        .filter(|s| model::wants(&s.patterns(), event_type))
        .map(|s| s.id)
        .collect();
    if subscribers.is_empty() {
        return Ok(());
    }
    let event_id = crate::ids::new_id("evt");
    let now = crate::db::now();
    let data = payload.to_string();
    for subscription in subscribers {
        store::insert_delivery(conn, &subscription, &event_id, event_type, &data, now)?;
    }
    Ok(())
}
