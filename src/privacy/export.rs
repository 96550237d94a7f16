//! `GET /v1/me/export`: everything held about the caller, in one machine-readable document
//! (the rights of access and portability). Built with a fixed number of queries whatever
//! the number of orders, and tracked as a data-subject request of kind `access`.

use std::collections::HashMap;

use actix_web::{get, web, HttpResponse};
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use serde::Serialize;
use utoipa::ToSchema;

use super::consents::{self, ConsentChange, ConsentState};
use super::requests::{model::Kind, store as requests, RequestView};
use crate::accounts::addresses::{self, SavedAddress};
use crate::accounts::model::UserView;
use crate::audit::routes::AuditEntry;
use crate::auth::throttle::{self, Limit};
use crate::auth::{min, Auth};
use crate::catalog::model::Money;
use crate::crypto::Crypto;
use crate::db::schema::{disclosures, notifications, orders, payments, policy_acceptances};
use crate::db::{Db, DbConnection};
use crate::http::error::{ApiError, Problem};
use crate::notifications::routes::NotificationView;
use crate::orders::after_sales::export::{self as after_sales_export, AfterSalesRecord};
use crate::orders::store::OrderRow;
use crate::orders::view::{owner_views, OrderView};
use crate::payments::model::PaymentStatus;
use crate::policies::model::AcceptanceSource;

pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(export);
}

/// The version of this document's layout.
pub const FORMAT: ExportFormat = ExportFormat::V1;

/// The layout of an export document: `valise.export/1` (the only one so far).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
pub enum ExportFormat {
    #[serde(rename = "valise.export/1")]
    V1,
}

/// A payment attempt: status and amounts only (no card data is ever held).
#[derive(Debug, Serialize, ToSchema)]
pub struct PaymentRecord {
    /// The payment's id, `pay_` and 32 hex digits.
    pub id: String,
    /// The order paid for (`ord_…`).
    pub order_id: String,
    /// The payment provider's name, e.g. `test`.
    pub provider: String,
    /// Where the payment stands.
    pub status: PaymentStatus,
    /// The amount asked for, in the order's currency.
    pub amount: Money,
    /// The amount refunded so far (zero when none).
    pub refunded: Money,
    /// When the attempt started (RFC 3339, UTC).
    pub created_at: DateTime<Utc>,
    /// When its status last changed (RFC 3339, UTC).
    pub updated_at: DateTime<Utc>,
}

/// Personal data handed to someone outside the shop.
#[derive(Debug, Serialize, ToSchema)]
pub struct Disclosure {
    /// Who received it, e.g. the carrier's name, or `payment provider: test`.
    pub recipient: String,
    /// The order it was for (`ord_…`); `null` when not about an order.
    pub order_id: Option<String>,
    /// Which fields were handed over (names, never values).
    pub fields: Vec<String>,
    /// Why, in words.
    pub purpose: String,
    /// When (RFC 3339, UTC).
    pub at: DateTime<Utc>,
}

/// An acceptance of a privacy-policy version.
#[derive(Debug, Serialize, ToSchema)]
pub struct PolicyAcceptance {
    /// The version accepted.
    #[schema(minimum = 1)]
    pub policy_version: i32,
    /// When (RFC 3339, UTC).
    pub accepted_at: DateTime<Utc>,
    /// How it was accepted.
    pub source: AcceptanceSource,
}

/// My consents: their state now and every change.
#[derive(Debug, Serialize, ToSchema)]
pub struct ConsentRecord {
    /// The state of every purpose now.
    pub current: Vec<ConsentState>,
    /// Every change, oldest first.
    pub history: Vec<ConsentChange>,
}

/// Everything held about me.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({
    "format": "valise.export/1",
    "generated_at": "2026-12-01T10:00:00Z",
    "profile": {
        "id": "usr_0193a7c25b7e7d1a9c1e2f6c1f7e9a10", "email": "ada@example.com",
        "name": "Ada Lovelace", "phone": "+33612345678", "role": "customer",
        "created_at": "2026-11-25T15:00:00Z", "updated_at": "2026-11-25T15:00:00Z"
    },
    "addresses": [{
        "id": "adr_0193a7c25b7e7d1a9c1e2f6c1f7e9a20",
        "address": {"name": "Ada Lovelace", "line1": "12 Rue de Rivoli", "city": "Paris",
            "postal_code": "75001", "country": "FR"},
        "created_at": "2026-11-25T15:05:00Z", "updated_at": "2026-11-25T15:05:00Z"
    }],
    "orders": [],
    "payments": [],
    "invoices": [],
    "after_sales": [],
    "consents": {
        "current": [
            {"purpose": "order_notifications", "granted": true, "explicit": false,
                "changed_at": null, "policy_version": null},
            {"purpose": "marketing_notifications", "granted": true, "explicit": true,
                "changed_at": "2026-11-25T15:10:00Z", "policy_version": 1},
            {"purpose": "personalization", "granted": false, "explicit": false,
                "changed_at": null, "policy_version": null}
        ],
        "history": [
            {"purpose": "marketing_notifications", "granted": true, "policy_version": 1,
                "source": "api", "at": "2026-11-25T15:10:00Z"}
        ]
    },
    "policy_acceptances": [
        {"policy_version": 1, "accepted_at": "2026-11-25T15:00:00Z", "source": "registration"}
    ],
    "notifications": [],
    "requests": [{
        "id": "dsr_0193a7c25b7e7d1a9c1e2f6c1f7e9a50", "kind": "access", "status": "completed",
        "received_at": "2026-12-01T10:00:00Z", "due_at": "2027-01-01T10:00:00Z",
        "overdue": false, "extension_months": 0, "extension_reason": null,
        "denial_reason": null, "completed_at": "2026-12-01T10:00:00Z", "kept_by_law": []
    }],
    "disclosures": [],
    "access_log": [{
        "seq": 4182, "at": "2026-11-28T09:12:03Z", "actor_kind": "staff",
        "actor_id": "usr_0193a7c25b7e7d1a9c1e2f6c1f7e9a30", "actor_role": "support",
        "action": "order.address.read", "subject_id": "usr_0193a7c25b7e7d1a9c1e2f6c1f7e9a10",
        "fields": ["address"], "purpose": "shipping the order",
        "request_id": "0193a7c2-5b7e-7d1a-9c1e-2f6c1f7e9a99"
    }]
}))]
pub struct ExportDocument {
    /// The layout of this document.
    pub format: ExportFormat,
    /// When the document was built (RFC 3339, UTC).
    pub generated_at: DateTime<Utc>,
    /// My profile.
    pub profile: UserView,
    /// My saved addresses, oldest first.
    pub addresses: Vec<SavedAddress>,
    /// With items, status history and shipments; newest first.
    pub orders: Vec<OrderView>,
    /// Payment attempts for my orders, oldest first.
    pub payments: Vec<PaymentRecord>,
    /// The invoices and credit notes of my orders, with my name and address as they state
    /// them: the law keeps those until 31 December of the document's year plus the
    /// statutory period, also after an erasure.
    pub invoices: Vec<crate::invoices::view::DocumentView>,
    /// After-sales cases on my orders, oldest first, with my reason and the shop's answers.
    pub after_sales: Vec<AfterSalesRecord>,
    /// My consents and their history.
    pub consents: ConsentRecord,
    /// Every privacy-policy version I accepted, oldest first.
    pub policy_acceptances: Vec<PolicyAcceptance>,
    /// My notifications, newest first.
    pub notifications: Vec<NotificationView>,
    /// My data-subject requests, this export included.
    pub requests: Vec<RequestView>,
    /// Personal data handed to third parties (carriers, the payment provider), oldest first.
    pub disclosures: Vec<Disclosure>,
    /// Who other than me read or changed my personal data, newest first.
    pub access_log: Vec<AuditEntry>,
}

fn utc(t: chrono::NaiveDateTime) -> DateTime<Utc> {
    t.and_utc()
}

fn unknown(value: &str) -> ApiError {
    ApiError::Internal(anyhow::anyhow!("unknown stored value {value:?}"))
}

/// A stored status or kind as the enum whose wire name it is.
fn vocabulary<T: serde::de::DeserializeOwned>(stored: &str) -> Result<T, ApiError> {
    serde_json::from_value(serde_json::Value::String(stored.to_owned()))
        .map_err(|_| unknown(stored))
}

/// Builds the export of `user_id` (who must exist).
pub fn build(
    conn: &mut DbConnection,
    crypto: &Crypto,
    user_id: &str,
) -> Result<ExportDocument, ApiError> {
    let user = crate::accounts::store::get(conn, user_id)?.ok_or(ApiError::NotFound)?;
    let profile = UserView::from(crate::accounts::store::open_profile(conn, crypto, &user)?);
    let order_rows: Vec<OrderRow> = orders::table
        .filter(orders::user_id.eq(user_id))
        .order(orders::id.desc())
        .select(OrderRow::as_select())
        .load(conn)?;
    let order_ids: Vec<String> = order_rows.iter().map(|o| o.id.to_string()).collect();
    let currency: HashMap<&str, &str> = order_rows
        .iter()
        .map(|o| (o.id.as_str(), o.currency.as_str()))
        .collect();
    let money = |order: &str, amount: i64| {
        Money::in_code(amount, currency.get(order).copied().unwrap_or_default())
    };

    let mut payment_records = Vec::new();
    let mut handed = Vec::new();
    for chunk in order_ids.chunks(500) {
        let rows: Vec<crate::payments::store::PaymentRow> = payments::table
            .filter(payments::order_id.eq_any(chunk))
            .order(payments::id.asc())
            .select(crate::payments::store::PaymentRow::as_select())
            .load(conn)?;
        for p in rows {
            payment_records.push(PaymentRecord {
                amount: money(&p.order_id, p.amount),
                refunded: money(&p.order_id, p.refunded_amount),
                status: vocabulary(&p.status)?,
                id: p.id,
                order_id: p.order_id.into(),
                provider: p.provider,
                created_at: utc(p.created_at),
                updated_at: utc(p.updated_at),
            });
        }
        let rows: Vec<(
            String,
            Option<String>,
            String,
            String,
            chrono::NaiveDateTime,
        )> = disclosures::table
            .filter(
                disclosures::order_id
                    .eq_any(chunk)
                    .or(disclosures::subject_id.eq(user_id)),
            )
            .order(disclosures::at.asc())
            .select((
                disclosures::recipient,
                disclosures::order_id,
                disclosures::fields,
                disclosures::purpose,
                disclosures::at,
            ))
            .load(conn)?;
        handed.extend(rows);
    }
    // By time, then by every field, so that a row found through two chunks is adjacent to
    // its twin and dropped.
    handed.sort_by(|a, b| (a.4, &a.0, &a.1, &a.2, &a.3).cmp(&(b.4, &b.0, &b.1, &b.2, &b.3)));
    handed.dedup();
    let after_sales = after_sales_export::of_orders(conn, crypto, &order_ids)?;
    // What went to the payment provider: the order reference and the amount.
    let mut disclosures: Vec<Disclosure> = handed
        .into_iter()
        .map(|(recipient, order_id, fields, purpose, at)| Disclosure {
            recipient,
            order_id,
            fields: fields.split(',').map(str::to_owned).collect(),
            purpose,
            at: utc(at),
        })
        .collect();
    disclosures.extend(payment_records.iter().map(|p| Disclosure {
        recipient: format!("payment provider: {}", p.provider),
        order_id: Some(p.order_id.clone()),
        fields: vec!["order reference".into(), "amount".into()],
        purpose: "taking payment for the order".into(),
        at: p.created_at,
    }));

    let orders = owner_views(conn, crypto, &order_rows)?;
    let ledger = consents::history(conn, user_id)?;
    let policy_acceptances = policy_acceptances::table
        .filter(policy_acceptances::subject_id.eq(user_id))
        .order(policy_acceptances::id.asc())
        .select((
            policy_acceptances::policy_version,
            policy_acceptances::accepted_at,
            policy_acceptances::source,
        ))
        .load::<(i32, chrono::NaiveDateTime, String)>(conn)?
        .into_iter()
        .map(|(policy_version, at, source)| {
            Ok(PolicyAcceptance {
                policy_version,
                accepted_at: utc(at),
                source: AcceptanceSource::parse(&source).ok_or_else(|| unknown(&source))?,
            })
        })
        .collect::<Result<Vec<_>, ApiError>>()?;
    let notifications = notifications::table
        .filter(notifications::recipient_user_id.eq(user_id))
        .order(notifications::id.desc())
        .select((
            notifications::id,
            notifications::kind,
            notifications::payload,
            notifications::created_at,
            notifications::read_at,
        ))
        .load::<crate::notifications::routes::Row>(conn)?
        .into_iter()
        .map(NotificationView::from)
        .collect();
    let filter = crate::audit::store::Filter {
        subject_id: Some(user_id.to_owned()),
        exclude_subject_actor: true,
        ..Default::default()
    };
    let access_log = crate::audit::store::list(conn, &filter, None, i64::MAX)?
        .into_iter()
        .map(AuditEntry::from)
        .collect();
    let requests = requests::for_user(conn, user_id, None, i64::MAX)?
        .iter()
        .map(RequestView::from)
        .collect();
    Ok(ExportDocument {
        format: FORMAT,
        generated_at: Utc::now(),
        profile,
        addresses: addresses::list_open(conn, crypto, user_id)?,
        orders,
        payments: payment_records,
        invoices: crate::invoices::read::of_orders(conn, crypto, &order_ids)?
            .into_iter()
            .map(crate::invoices::view::DocumentView::from)
            .collect(),
        after_sales,
        consents: ConsentRecord {
            current: consents::states(&ledger),
            history: ledger.iter().map(ConsentChange::from).collect(),
        },
        policy_acceptances,
        notifications,
        requests,
        disclosures,
        access_log,
    })
}

/// How often one account may export (`VALISE_EXPORTS_PER_HOUR`).
#[derive(Debug, Clone, Copy)]
pub struct ExportSettings {
    pub exports_per_hour: i32,
}

fn exports_limit(max: i32) -> Limit {
    Limit {
        name: "export",
        max,
        window: chrono::Duration::hours(1),
    }
}

/// Export everything held about me.
///
/// One JSON document (`format: valise.export/1`): profile, saved addresses, orders with
/// items, status history and shipments, payment statuses, after-sales cases (with the
/// reason given and the shop's answers), consents and their full history, policy
/// acceptances, notifications, data-subject requests, disclosures to third parties
/// (carriers, the payment provider) and the log of staff access to my data. Recorded as a data-subject request of kind `access`, completed at
/// once (and listed in the document itself); further exports the same day (UTC) are the
/// same request. Read in one consistent snapshot. At most 10 exports per account per hour
/// by default (429 with `Retry-After`).
#[utoipa::path(
    operation_id = "exportMyData",
    tag = "privacy",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Everything held about me, as one document", body = ExportDocument,
            headers(("Content-Disposition" = String, description = "`attachment; filename=\"valise-export.json\"`"))),
        (status = 401, description = "Not authenticated", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "An API key cannot act as a person", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many exports this hour", body = Problem, content_type = "application/problem+json",
            headers(("Retry-After" = u64), ("RateLimit" = String), ("RateLimit-Policy" = String))),
    )
)]
#[get("/me/export")]
async fn export(
    auth: Auth<min::Customer>,
    db: web::Data<Db>,
    crypto: web::Data<Crypto>,
    settings: web::Data<ExportSettings>,
) -> Result<HttpResponse, ApiError> {
    let user = auth.account()?;
    let crypto = crypto.into_inner();
    let limit = settings.exports_per_hour;
    let document = db
        .run(move |conn| {
            crate::db::write_transaction(conn, |conn| {
                let bucket = format!("export:{user}");
                throttle::take(conn, &bucket, exports_limit(limit), crate::db::now())?
                    .map_err(ApiError::RateLimited)?;
                requests::record_self_service_once_a_day(conn, &user, Kind::Access)
                    .map_err(ApiError::from)
            })?;
            crate::db::read_transaction(conn, |conn| build(conn, &crypto, &user))
        })
        .await?;
    Ok(HttpResponse::Ok()
        .insert_header((
            actix_web::http::header::CONTENT_DISPOSITION,
            "attachment; filename=\"valise-export.json\"",
        ))
        .json(document))
}
