//! The after-sales cases of a data subject's orders as their export shows them: what they
//! asked for, how it stands and ended, their reason and the desk's answers, opened with the
//! orders' keys (the subject's own data, so no audited staff read).

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use serde::Serialize;
use utoipa::ToSchema;

use super::store::{AnswerRow, CaseRow};
use super::{AnswerView, CaseKind, CaseStatus, Outcome, ANSWER, REASON};
use crate::crypto::Crypto;
use crate::db::schema::{after_sales_answers, after_sales_cases};
use crate::db::DbConnection;
use crate::http::error::ApiError;

/// Ids per `IN (…)` list: well under every backend's limit on bound parameters.
const CHUNK: usize = 500;

/// An after-sales case, with the reason you gave and the shop's answers.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({
    "id": "asc_0193c1d4e5f67a8b9c0d1e2f3a4b5c6d",
    "order_id": "ord_0193a7c1f0a27c4e8d3b5a6f9e2d1c07",
    "kind": "return",
    "status": "resolved",
    "outcome": "refunded",
    "refund_id": "ref_0193c1d4e5f67a8b9c0d1e2f3a4b5c70",
    "reason": "The zip of the cabin case does not close.",
    "answers": [{
        "id": "asa_0193c1d4e5f67a8b9c0d1e2f3a4b5c71",
        "text": "Refunded on receipt of the returned case.",
        "created_at": "2025-12-04T16:45:00Z"
    }],
    "created_at": "2025-12-02T09:12:30Z",
    "resolved_at": "2025-12-04T16:45:00Z"
}))]
pub struct AfterSalesRecord {
    /// The case's id (`asc_…`).
    pub id: String,
    /// The order it is about (`ord_…`).
    pub order_id: String,
    /// What was asked for.
    pub kind: CaseKind,
    /// Where the case stands.
    pub status: CaseStatus,
    /// How it was settled; `null` while open.
    pub outcome: Option<Outcome>,
    /// The `ref_…` refund a `refunded` return made; `null` otherwise.
    pub refund_id: Option<String>,
    /// The reason you gave; `null` once the order's personal data has been shredded.
    pub reason: Option<String>,
    /// The shop's answers, oldest first (their text `null` once shredded).
    pub answers: Vec<AnswerView>,
    /// When the case was opened (RFC 3339, UTC).
    pub created_at: DateTime<Utc>,
    /// When it was resolved (RFC 3339, UTC); `null` while open.
    pub resolved_at: Option<DateTime<Utc>>,
}

/// The cases of `order_ids`, oldest first, each with its answers: a fixed number of queries
/// per 500 orders whatever the number of cases.
pub fn of_orders(
    conn: &mut DbConnection,
    crypto: &Crypto,
    order_ids: &[String],
) -> Result<Vec<AfterSalesRecord>, ApiError> {
    let mut cases: Vec<CaseRow> = Vec::new();
    for chunk in order_ids.chunks(CHUNK) {
        cases.extend(
            after_sales_cases::table
                .filter(after_sales_cases::order_id.eq_any(chunk))
                .select(CaseRow::as_select())
                .load(conn)?,
        );
    }
    cases.sort_by(|a, b| a.id.cmp(&b.id));
    let case_ids: Vec<String> = cases.iter().map(|c| c.id.clone()).collect();
    let mut answers: HashMap<String, Vec<AnswerRow>> = HashMap::new();
    for chunk in case_ids.chunks(CHUNK) {
        let rows: Vec<AnswerRow> = after_sales_answers::table
            .filter(after_sales_answers::case_id.eq_any(chunk))
            .order(after_sales_answers::id.asc())
            .select(AnswerRow::as_select())
            .load(conn)?;
        for row in rows {
            answers.entry(row.case_id.clone()).or_default().push(row);
        }
    }
    let mut case_orders: Vec<String> = cases.iter().map(|c| c.order_id.clone()).collect();
    case_orders.sort();
    case_orders.dedup();
    let keys = crypto.data_keys(conn, &case_orders)?;
    cases
        .into_iter()
        .map(|case| {
            let key = keys.get(&case.order_id);
            let reason = key
                .map(|k| k.open_string(&REASON.at(&case.id), &case.reason_sealed))
                .transpose()?;
            let answers = answers
                .remove(&case.id)
                .unwrap_or_default()
                .into_iter()
                .map(|a| {
                    let text = key
                        .map(|k| k.open_string(&ANSWER.at(&a.id), &a.body_sealed))
                        .transpose()?;
                    Ok(AnswerView {
                        id: a.id,
                        text,
                        created_at: a.created_at.and_utc(),
                    })
                })
                .collect::<Result<Vec<_>, ApiError>>()?;
            let view = case.view();
            Ok(AfterSalesRecord {
                id: view.id,
                order_id: view.order_id,
                kind: view.kind,
                status: view.status,
                outcome: view.outcome,
                refund_id: view.refund_id,
                reason,
                answers,
                created_at: view.created_at,
                resolved_at: view.resolved_at,
            })
        })
        .collect()
}
