//! `GET /v1/admin/orders/export.csv` (managers and above): the orders of a period as CSV for
//! accounting, streamed page by page from the database so a year of orders never sits in
//! memory. It holds no personal data for any role: no name, e-mail or address, only the
//! destination country the tax was charged for and whether the buyer had an account.
//! Accounting needs nothing more, and what is not exported cannot leak from a spreadsheet.

use actix_web::http::header;
use actix_web::{get, web, HttpResponse};
use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use serde::Deserialize;
use utoipa::IntoParams;

use super::model::OrderStatus;
use super::store::{self, OrderRow};
use crate::audit::{self, Actor as AuditActor, Event};
use crate::auth::{min, Auth};
use crate::crypto::Crypto;
use crate::db::schema::orders;
use crate::db::{Db, DbConnection};
use crate::http::csv;
use crate::http::error::{ApiError, Problem};
use crate::http::extract::Query;
use crate::tax::model::Rate;

pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(export);
}

/// Orders read per query while streaming.
const PAGE: i64 = 200;

/// The header row, in column order.
pub const COLUMNS: [&str; 15] = [
    "number",
    "placed_at",
    "delivered_at",
    "closed_at",
    "status",
    "customer",
    "country",
    "currency",
    "subtotal",
    "shipping",
    "tax_total",
    "total",
    "tax_mode",
    "tax_by_rate",
    "payment_status",
];

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ExportQuery {
    /// Only orders placed at or after this time (RFC 3339); from the first order when
    /// omitted.
    pub from: Option<DateTime<Utc>>,
    /// Only orders placed before this time (RFC 3339); up to now when omitted.
    pub to: Option<DateTime<Utc>>,
    /// Only orders in this status; all statuses when omitted.
    pub status: Option<OrderStatus>,
}

/// The filter of one export and where its stream stands.
struct Cursor {
    from: Option<NaiveDateTime>,
    to: Option<NaiveDateTime>,
    status: Option<OrderStatus>,
    after: Option<(NaiveDateTime, String)>,
}

/// The next page of the export, oldest first.
fn page(conn: &mut DbConnection, c: &Cursor) -> QueryResult<Vec<OrderRow>> {
    let mut query = orders::table
        .select(OrderRow::as_select())
        .order((orders::created_at.asc(), orders::id.asc()))
        .limit(PAGE)
        .into_boxed();
    if let Some(from) = c.from {
        query = query.filter(orders::created_at.ge(from));
    }
    if let Some(to) = c.to {
        query = query.filter(orders::created_at.lt(to));
    }
    if let Some(s) = c.status {
        query = query.filter(orders::status.eq(s.as_str()));
    }
    if let Some((at, id)) = &c.after {
        query = query.filter(
            orders::created_at
                .gt(*at)
                .or(orders::created_at.eq(*at).and(orders::id.gt(id.clone()))),
        );
    }
    query.load(conn)
}

/// One page as CSV records.
fn records(conn: &mut DbConnection, rows: &[OrderRow]) -> QueryResult<Vec<[String; 15]>> {
    let ids: Vec<String> = rows.iter().map(|o| o.id.to_string()).collect();
    let mut parts = store::parts_of(conn, &ids)?;
    let time = |t: Option<NaiveDateTime>| {
        t.map(|t| {
            t.and_utc()
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        })
        .unwrap_or_default()
    };
    Ok(rows
        .iter()
        .map(|o| {
            let part = parts.remove(o.id.as_str()).unwrap_or_default();
            let places = crate::money::minor_unit(&o.currency);
            let amount = |n| crate::money::text(n, places);
            let by_rate = part
                .tax_lines
                .iter()
                .map(|l| {
                    let rate = Rate::stored(i64::from(l.rate_bp)).percent();
                    format!("{rate}%={}", amount(l.tax))
                })
                .collect::<Vec<_>>()
                .join("; ");
            [
                o.number.clone(),
                time(Some(o.created_at)),
                time(o.delivered_at),
                time(o.closed_at),
                o.status().as_str().to_owned(),
                if o.user_id.is_some() {
                    "registered"
                } else {
                    "guest"
                }
                .to_owned(),
                csv::guard(o.tax_country.as_deref().unwrap_or_default()).into_owned(),
                csv::guard(&o.currency).into_owned(),
                amount(o.subtotal),
                amount(o.shipping),
                amount(o.tax_total),
                amount(o.total),
                csv::guard(&o.tax_mode).into_owned(),
                by_rate,
                part.payment_status
                    .map(|s| s.as_str().to_owned())
                    .unwrap_or_default(),
            ]
        })
        .collect())
}

/// The page of the export that `cursor` points at, and where the next one starts.
fn next_page(
    conn: &mut DbConnection,
    mut cursor: Cursor,
) -> Result<csv::Page<[String; 15], Cursor>, ApiError> {
    let rows = page(conn, &cursor)?;
    let records = records(conn, &rows)?;
    let full = rows.len() as i64 == PAGE;
    cursor.after = rows.last().map(|o| (o.created_at, o.id.to_string()));
    Ok(csv::Page {
        records,
        next: full.then_some(cursor),
    })
}

/// Export orders as CSV (accounting).
///
/// The orders placed in `[from, to)`, oldest first, one row each: `number`, `placed_at`,
/// `delivered_at`, `closed_at`, `status`, `customer` (`registered` or `guest`), `country`
/// (of the tax), `currency`, `subtotal`, `shipping`, `tax_total`, `total` (decimals in the
/// currency's unit), `tax_mode`, `tax_by_rate` (`21%=22.39; 6%=1.20`) and `payment_status`.
/// No name, e-mail or address, whatever the role. Streamed (RFC 4180, CRLF); cells a
/// spreadsheet would run as a formula start with `'`. Each export is written to the audit log.
#[utoipa::path(
    operation_id = "exportOrdersCsv",
    tag = "orders-admin",
    security(("bearer" = []), ("api_key" = [])),
    params(ExportQuery),
    responses(
        (status = 200, description = "The orders as CSV, with a header row", content_type = "text/csv", body = String,
            example = json!("number,placed_at,delivered_at,closed_at,status,customer,country,currency,subtotal,shipping,tax_total,total,tax_mode,tax_by_rate,payment_status\r\nLG-7KQ2-9XF4,2025-11-25T14:19:48Z,,,paid,registered,BE,EUR,129.00,0.00,22.39,129.00,inclusive,21%=22.39,captured\r\n")),
        (status = 401, description = "Not authenticated", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Managers and above", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid filter", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/orders/export.csv")]
async fn export(
    auth: Auth<min::Manager>,
    db: web::Data<Db>,
    crypto: web::Data<Crypto>,
    query: Query<ExportQuery>,
) -> Result<HttpResponse, ApiError> {
    let q = query.into_inner();
    if let (Some(from), Some(to)) = (q.from, q.to) {
        if from >= to {
            return Err(ApiError::validation("to", "must be later than from"));
        }
    }
    let actor = AuditActor::from_principal(&auth.principal, None);
    let crypto = crypto.into_inner();
    db.run(move |conn| {
        audit::record(
            conn,
            &crypto,
            &actor,
            &Event {
                action: audit::Action::OrderExport,
                subject_id: None,
                fields: &[],
                purpose: audit::Purpose::Accounting,
            },
        )
        .map_err(ApiError::from)
    })
    .await?;
    let cursor = Cursor {
        from: q.from.map(|t| t.naive_utc()),
        to: q.to.map(|t| t.naive_utc()),
        status: q.status,
        after: None,
    };
    let body = csv::paged("order", db, &COLUMNS, cursor, next_page);
    Ok(HttpResponse::Ok()
        .content_type(csv::CONTENT_TYPE)
        .insert_header((
            header::CONTENT_DISPOSITION,
            "attachment; filename=\"orders.csv\"",
        ))
        .streaming(body))
}
