//! Data-subject requests (access, rectification, erasure, withdrawal): tracked with their
//! statutory due date, visible to the requester, worked by the privacy officer.

pub mod admin;
pub mod corrections;
pub mod guest;
pub mod model;
pub mod rectify;
pub mod routes;
pub mod store;

use chrono::{DateTime, Utc};
use diesel::QueryResult;
use serde::Serialize;
use utoipa::ToSchema;

use crate::db::DbConnection;
use model::{Kind, Status};
use store::RequestRow;

/// A data-subject request as its requester and the privacy officer see it.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({
    "id": "dsr_0193a7c25b7e7d1a9c1e2f6c1f7e9a51",
    "kind": "rectification",
    "status": "pending",
    "received_at": "2026-11-25T15:00:00Z",
    "due_at": "2027-01-25T15:00:00Z",
    "overdue": false,
    "extension_months": 1,
    "extension_reason": "Your request covers many orders; we need more time to gather them.",
    "denial_reason": null,
    "completed_at": null,
    "kept_by_law": []
}))]
pub struct RequestView {
    /// The request's id, `dsr_` and 32 hex digits.
    pub id: String,
    /// What is asked for.
    pub kind: Kind,
    /// Where the request stands.
    pub status: Status,
    /// When it was received (RFC 3339, UTC).
    pub received_at: DateTime<Utc>,
    /// One calendar month after receipt, later when extended (RFC 3339, UTC).
    pub due_at: DateTime<Utc>,
    /// Still open after its due date.
    pub overdue: bool,
    /// Months added to the deadline (0 to 2).
    #[schema(minimum = 0, maximum = 2)]
    pub extension_months: i32,
    /// Why the deadline was extended, as told to the requester; `null` unless extended.
    pub extension_reason: Option<String>,
    /// Why the request was denied, as told to the requester; `null` unless denied.
    pub denial_reason: Option<String>,
    /// When it was completed (RFC 3339, UTC); `null` until then.
    pub completed_at: Option<DateTime<Utc>>,
    /// For the answer to an erasure: the records the law makes the shop keep with some of the
    /// person's data, and until when. Empty otherwise (and in lists).
    pub kept_by_law: Vec<KeptRecord>,
}

/// A record the law makes the shop keep with some of a person's data through an erasure,
/// and until when.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(example = json!({
    "record": "INV-2026-000042", "fields": ["name", "postal address"],
    "until": "2036-12-31",
    "reason": "Invoices must name the buyer and be kept for the statutory period (GDPR Art. 17(3)(b))."
}))]
pub struct KeptRecord {
    /// The record: an invoice or credit note number.
    pub record: String,
    /// What of the person it keeps.
    pub fields: Vec<String>,
    /// The last day it is kept; the person's data in it are destroyed after that day.
    pub until: chrono::NaiveDate,
    /// Why the law keeps it.
    pub reason: String,
}

impl KeptRecord {
    /// A document that names its buyer, kept until `until`.
    pub fn invoice(number: String, until: chrono::NaiveDate) -> Self {
        KeptRecord {
            record: number,
            fields: vec!["name".into(), "postal address".into()],
            until,
            reason: "Invoices and credit notes must name the buyer and be kept for the \
                     statutory period (GDPR Art. 17(3)(b))."
                .into(),
        }
    }
}

impl From<&RequestRow> for RequestView {
    fn from(r: &RequestRow) -> Self {
        let status = r.status();
        Self {
            id: r.id.clone(),
            kind: r.kind(),
            status,
            received_at: r.received_at.and_utc(),
            due_at: r.due_at.and_utc(),
            overdue: status.is_open() && r.due_at < crate::db::now(),
            extension_months: r.extension_months,
            extension_reason: r.extension_reason.clone(),
            denial_reason: r.denial_reason.clone(),
            completed_at: r.completed_at.map(|t| t.and_utc()),
            kept_by_law: Vec::new(),
        }
    }
}

/// Tells a customer that their request moved (inbox and gateway, through the outbox).
pub fn notify(conn: &mut DbConnection, row: &RequestRow) -> QueryResult<()> {
    let Some(user) = row.user_id.as_ref() else {
        return Ok(());
    };
    let payload = serde_json::json!({
        "request_id": row.id,
        "kind": row.kind,
        "status": row.status,
        "due_at": row.due_at.and_utc(),
    });
    crate::notifications::enqueue(
        conn,
        crate::notifications::To::Account { user_id: user },
        &crate::notifications::Kind::DsrUpdated,
        &payload,
    )?;
    Ok(())
}
