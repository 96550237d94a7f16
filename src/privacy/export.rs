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
use crate::crypto::{Crypto, Place};
use crate::db::schema::{
    after_sales_cases, disclosures, notifications, orders, payments, policy_acceptances,
};
use crate::db::{Db, DbConnection};
use crate::http::error::{ApiError, Problem};
use crate::notifications::routes::NotificationView;
use crate::orders::store::OrderRow;
use crate::orders::view::{owner_views, OrderView};

pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(export);
}

/// The version of this document's layout.
pub const FORMAT: &str = "valise.export/1";

/// A payment attempt: status and amounts only (no card data is ever held).
#[derive(Debug, Serialize, ToSchema)]
pub struct PaymentRecord {
    pub id: String,
    pub order_id: String,
    pub provider: String,
    pub status: String,
    pub amount: Money,
    pub refunded: Money,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// An after-sales case, with the reason you gave.
#[derive(Debug, Serialize, ToSchema)]
pub struct AfterSalesRecord {
    pub id: String,
    pub order_id: String,
    pub kind: String,
    /// `None` once the order's personal data has been shredded.
    pub reason: Option<String>,
    pub status: String,
    pub resolution: Option<String>,
    pub created_at: DateTime<Utc>,
    pub resolved_at: Option<DateTime<Utc>>,
}

/// Personal data handed to someone outside the shop.
#[derive(Debug, Serialize, ToSchema)]
pub struct Disclosure {
    /// e.g. the carrier's name, or `payment provider: test`.
    pub recipient: String,
    pub order_id: Option<String>,
    /// Which fields were handed over.
    pub fields: Vec<String>,
    pub purpose: String,
    pub at: DateTime<Utc>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PolicyAcceptance {
    pub policy_version: i32,
    pub accepted_at: DateTime<Utc>,
    /// `registration`, `checkout` or `api`.
    pub source: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ConsentRecord {
    /// The state of every purpose now.
    pub current: Vec<ConsentState>,
    /// Every change, oldest first.
    pub history: Vec<ConsentChange>,
}

/// Everything held about me.
#[derive(Debug, Serialize, ToSchema)]
pub struct ExportDocument {
    /// `valise.export/1`.
    pub format: &'static str,
    pub generated_at: DateTime<Utc>,
    pub profile: UserView,
    pub addresses: Vec<SavedAddress>,
    /// With items, status history and shipments; newest first.
    pub orders: Vec<OrderView>,
    pub payments: Vec<PaymentRecord>,
    pub after_sales: Vec<AfterSalesRecord>,
    pub consents: ConsentRecord,
    pub policy_acceptances: Vec<PolicyAcceptance>,
    pub notifications: Vec<NotificationView>,
    /// My data-subject requests, this export included.
    pub requests: Vec<RequestView>,
    pub disclosures: Vec<Disclosure>,
    /// Who other than me read or changed my personal data, newest first.
    pub access_log: Vec<AuditEntry>,
}

fn utc(t: chrono::NaiveDateTime) -> DateTime<Utc> {
    t.and_utc()
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
    let order_ids: Vec<String> = order_rows.iter().map(|o| o.id.clone()).collect();
    let currency: HashMap<&str, &str> = order_rows
        .iter()
        .map(|o| (o.id.as_str(), o.currency.as_str()))
        .collect();
    let money = |order: &str, amount: i64| Money {
        amount,
        currency: currency.get(order).copied().unwrap_or_default().to_owned(),
    };

    let mut payment_records = Vec::new();
    let mut cases = Vec::new();
    let mut handed = Vec::new();
    for chunk in order_ids.chunks(500) {
        let rows: Vec<crate::payments::store::PaymentRow> = payments::table
            .filter(payments::order_id.eq_any(chunk))
            .order(payments::id.asc())
            .select(crate::payments::store::PaymentRow::as_select())
            .load(conn)?;
        payment_records.extend(rows.into_iter().map(|p| PaymentRecord {
            amount: money(&p.order_id, p.amount),
            refunded: money(&p.order_id, p.refunded_amount),
            id: p.id,
            order_id: p.order_id,
            provider: p.provider,
            status: p.status,
            created_at: utc(p.created_at),
            updated_at: utc(p.updated_at),
        }));
        type CaseRow = (
            String,
            String,
            String,
            Vec<u8>,
            String,
            Option<String>,
            chrono::NaiveDateTime,
            Option<chrono::NaiveDateTime>,
        );
        let rows: Vec<CaseRow> = after_sales_cases::table
            .filter(after_sales_cases::order_id.eq_any(chunk))
            .order(after_sales_cases::id.asc())
            .select((
                after_sales_cases::id,
                after_sales_cases::order_id,
                after_sales_cases::kind,
                after_sales_cases::reason_sealed,
                after_sales_cases::status,
                after_sales_cases::resolution,
                after_sales_cases::created_at,
                after_sales_cases::resolved_at,
            ))
            .load(conn)?;
        cases.extend(rows);
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
    let case_orders: Vec<String> = cases.iter().map(|c| c.1.clone()).collect();
    let keys = crypto.data_keys(conn, &case_orders)?;
    let after_sales = cases
        .into_iter()
        .map(
            |(id, order_id, kind, sealed, status, resolution, created, resolved)| {
                let reason = keys.get(&order_id).and_then(|k| {
                    k.open_string(
                        &Place::new("after_sales_cases", "reason_sealed", &id),
                        &sealed,
                    )
                    .ok()
                });
                AfterSalesRecord {
                    id,
                    order_id,
                    kind,
                    reason,
                    status,
                    resolution,
                    created_at: utc(created),
                    resolved_at: resolved.map(utc),
                }
            },
        )
        .collect();
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
        .map(|(policy_version, at, source)| PolicyAcceptance {
            policy_version,
            accepted_at: utc(at),
            source,
        })
        .collect();
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
/// items, status history and shipments, payment statuses, after-sales cases, consents and
/// their full history, policy acceptances, notifications, data-subject requests,
/// disclosures to third parties (carriers, the payment provider) and the log of staff
/// access to my data. Recorded as a data-subject request of kind `access`, completed at
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
    let user = auth.user_id()?.to_owned();
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
