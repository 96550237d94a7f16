//! After-sales cases (return, repair, warranty) on delivered orders: customers open and
//! follow them (`customer`), support works them (`desk`), and orders close when their
//! after-sales window ends (`close_due`).
//!
//! A case's reason and support's answers are about the customer: sealed under the order's
//! key, opened for support only as an audited read.

pub mod customer;
pub mod desk;
pub mod export;
pub mod model;
pub mod store;

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::lifecycle::{self, Change};
use super::model::{Action, Actor, ChangedBy, OrderStatus};
use crate::crypto::Column;
use crate::db::schema::{after_sales_cases, orders};
use crate::db::{write_transaction, DbConnection};
use crate::http::error::ApiError;
pub use customer::LIMITS;
pub use model::Outcome;

/// An after-sales case's sealed reason (under the order's key).
pub const REASON: Column = Column::new("after_sales_cases", "reason_sealed");
/// Support's answer to a case, sealed under the order's key.
pub const ANSWER: Column = Column::new("after_sales_answers", "body_sealed");

pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    customer::configure(cfg);
}

pub fn configure_admin(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    desk::configure_admin(cfg);
}

/// What an after-sales case asks for: a `return` (the goods go back, within the after-sales
/// window), a `repair` (within the window), or a `warranty` claim (until the longest
/// `warranty_years` of the order's products has run out since delivery).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CaseKind {
    Return,
    Repair,
    Warranty,
}

impl CaseKind {
    pub const ALL: [CaseKind; 3] = [CaseKind::Return, CaseKind::Repair, CaseKind::Warranty];

    pub fn as_str(self) -> &'static str {
        match self {
            CaseKind::Return => "return",
            CaseKind::Repair => "repair",
            CaseKind::Warranty => "warranty",
        }
    }

    pub fn parse(s: &str) -> Option<CaseKind> {
        CaseKind::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// Where an after-sales case stands: `open` (a delivered order does not close while it is)
/// or `resolved` (settled; see `outcome`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CaseStatus {
    Open,
    Resolved,
}

impl CaseStatus {
    pub const ALL: [CaseStatus; 2] = [CaseStatus::Open, CaseStatus::Resolved];

    pub fn as_str(self) -> &'static str {
        match self {
            CaseStatus::Open => "open",
            CaseStatus::Resolved => "resolved",
        }
    }

    pub fn parse(s: &str) -> Option<CaseStatus> {
        CaseStatus::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// An after-sales case, without personal data (the reason and the answers are in
/// [`CaseDetail`]).
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({
    "id": "asc_0193c1d4e5f67a8b9c0d1e2f3a4b5c6d",
    "order_id": "ord_0193a7c1f0a27c4e8d3b5a6f9e2d1c07",
    "kind": "return",
    "status": "resolved",
    "outcome": "refunded",
    "refund_id": "ref_0193c1d4e5f67a8b9c0d1e2f3a4b5c70",
    "created_at": "2025-12-02T09:12:30Z",
    "resolved_at": "2025-12-04T16:45:00Z"
}))]
pub struct CaseView {
    /// The case's `asc_…` id.
    pub id: String,
    /// The `ord_…` id of the order it is about.
    pub order_id: String,
    /// What the customer asked for.
    pub kind: CaseKind,
    /// Where the case stands.
    pub status: CaseStatus,
    /// How it was settled; null while `open` (and for cases resolved before outcomes were
    /// recorded).
    pub outcome: Option<Outcome>,
    /// The `ref_…` refund a `refunded` return made; null otherwise.
    pub refund_id: Option<String>,
    /// When the case was opened (RFC 3339, UTC).
    pub created_at: DateTime<Utc>,
    /// When it was resolved (RFC 3339, UTC); null while `open`.
    pub resolved_at: Option<DateTime<Utc>>,
}

/// One answer of support to a case.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({
    "id": "asa_0193c1d4e5f67a8b9c0d1e2f3a4b5c71",
    "text": "Please send the case back with the prepaid label attached to this message.",
    "created_at": "2025-12-03T10:00:00Z"
}))]
pub struct AnswerView {
    /// The answer's `asa_…` id.
    pub id: String,
    /// What support wrote; null once retention erased the order's personal data.
    pub text: Option<String>,
    /// When it was written (RFC 3339, UTC).
    pub created_at: DateTime<Utc>,
}

/// A case with its reason and the answers, oldest first: shown to the customer, and to
/// support as an audited read.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({
    "case": {
        "id": "asc_0193c1d4e5f67a8b9c0d1e2f3a4b5c6d",
        "order_id": "ord_0193a7c1f0a27c4e8d3b5a6f9e2d1c07",
        "kind": "return",
        "status": "open",
        "outcome": null,
        "refund_id": null,
        "created_at": "2025-12-02T09:12:30Z",
        "resolved_at": null
    },
    "reason": "The zip of the cabin case does not close.",
    "answers": [{
        "id": "asa_0193c1d4e5f67a8b9c0d1e2f3a4b5c71",
        "text": "Please send the case back with the prepaid label attached to this message.",
        "created_at": "2025-12-03T10:00:00Z"
    }]
}))]
pub struct CaseDetail {
    /// The case.
    pub case: CaseView,
    /// What the customer wrote; null once retention erased the order's personal data.
    pub reason: Option<String>,
    /// Support's answers, oldest first.
    pub answers: Vec<AnswerView>,
}

/// The cases of one order, oldest first.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"data": [{
    "case": {
        "id": "asc_0193c1d4e5f67a8b9c0d1e2f3a4b5c6d",
        "order_id": "ord_0193a7c1f0a27c4e8d3b5a6f9e2d1c07",
        "kind": "warranty",
        "status": "open",
        "outcome": null,
        "refund_id": null,
        "created_at": "2025-12-02T09:12:30Z",
        "resolved_at": null
    },
    "reason": "A wheel of the cabin case came off on the first trip.",
    "answers": []
}]}))]
pub struct CaseList {
    /// Every case of the order, oldest first, each with its answers.
    pub data: Vec<CaseDetail>,
}

/// One page of the support queue, oldest first.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"data": [{
    "id": "asc_0193c1d4e5f67a8b9c0d1e2f3a4b5c6d",
    "order_id": "ord_0193a7c1f0a27c4e8d3b5a6f9e2d1c07",
    "kind": "warranty",
    "status": "open",
    "outcome": null,
    "refund_id": null,
    "created_at": "2025-12-02T09:12:30Z",
    "resolved_at": null
}], "next_cursor": null}))]
pub struct CaseQueue {
    /// The cases of this page (no personal data).
    pub data: Vec<CaseView>,
    /// Pass as `cursor` for the next page; null on the last page.
    pub next_cursor: Option<String>,
}

/// Closes delivered orders whose after-sales window has ended with no open case. That starts
/// the retention clock of their personal data. Conditional, so safe with several processes.
pub fn close_due(
    conn: &mut DbConnection,
    window: chrono::Duration,
    batch: i64,
) -> Result<usize, ApiError> {
    let cutoff = crate::db::now() - window;
    let open_cases = after_sales_cases::table
        .filter(after_sales_cases::status.eq(CaseStatus::Open.as_str()))
        .select(after_sales_cases::order_id);
    let due: Vec<String> = orders::table
        .filter(orders::status.eq(OrderStatus::Delivered.as_str()))
        .filter(orders::delivered_at.lt(cutoff))
        .filter(diesel::dsl::not(orders::id.eq_any(open_cases)))
        .limit(batch)
        .select(orders::id)
        .load(conn)?;
    let mut closed = 0;
    for id in due {
        let done = write_transaction(conn, |conn| {
            let Some(order) = crate::orders::store::get(conn, &id)? else {
                return Ok(false);
            };
            match lifecycle::apply(
                conn,
                &Change {
                    order: &order,
                    action: Action::Close,
                    actor: Actor::System,
                    changed_by: ChangedBy::System,
                    actor_id: None,
                    reason: None,
                },
            ) {
                Ok(_) => {
                    diesel::update(orders::table.find(&id))
                        .set(orders::closed_at.eq(Some(crate::db::now())))
                        .execute(conn)?;
                    Ok(true)
                }
                Err(ApiError::Conflict(_) | ApiError::InvalidTransition(_)) => Ok(false),
                Err(e) => Err(e),
            }
        })?;
        if done {
            closed += 1;
        }
    }
    Ok(closed)
}
