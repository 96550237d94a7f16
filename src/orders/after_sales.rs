//! After-sales cases (return, repair, warranty) on delivered orders, their resolution, and
//! closing orders whose after-sales window ended.

use crate::http::limits::Rule;
use crate::ids::{OrderId, UserId};
use actix_web::http::Method;
use actix_web::{post, web, HttpRequest, HttpResponse};
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::access::{Requester, ORDER_NUMBER, ORDER_TOKEN};
use super::lifecycle::{self, Change};
use super::model::{Action, Actor, ChangedBy, OrderStatus};
use super::store;
use crate::auth::{min, Auth, Caller};
use crate::crypto::{Column, Crypto};
use crate::db::schema::{after_sales_cases, orders};
use crate::db::{write_transaction, Db, DbConnection};
use crate::http::error::{ApiError, Problem};
use crate::http::extract::Json;
use crate::notifications::{self, Kind};
use crate::privacy::refuse_sensitive;

/// An after-sales case's sealed reason (under the order's key).
pub const REASON: Column = Column::new("after_sales_cases", "reason_sealed");

/// The anonymous writes of this file and their limits (enforced and documented by `http::limits`).
pub const LIMITS: &[Rule] = &[(
    Method::POST,
    "/v1/orders/{number}/after-sales",
    &super::routes::ORDER_CHANGE,
)];

pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(open_case);
}

pub fn configure_admin(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(resolve_case);
}

/// What an after-sales case asks for: a `return` (the goods go back), a `repair`, or a
/// `warranty` claim.
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

/// Where an after-sales case stands: `open` (the order does not close while it is) or
/// `resolved` (settled; see `resolution`).
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

/// A new after-sales case.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"kind": "repair", "reason": "A wheel of the cabin case came off on the first trip."}))]
pub struct NewCase {
    /// What the customer asks for.
    pub kind: CaseKind,
    /// What happened, 1–2,000 characters (surrounding whitespace trimmed; line breaks allowed,
    /// other control characters and sensitive data such as card numbers refused). Stored
    /// encrypted with the order's key.
    #[schema(min_length = 1, max_length = 2000)]
    pub reason: String,
}

/// How staff settled an after-sales case.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = CaseResolution)]
#[schema(example = json!({"resolution": "New wheel fitted under warranty; the case ships back with bpost this week."}))]
pub struct Resolution {
    /// How the case was settled, told to the customer: 1–2,000 characters (surrounding
    /// whitespace trimmed; line breaks allowed, other control characters and sensitive data
    /// refused).
    #[schema(min_length = 1, max_length = 2000)]
    pub resolution: String,
}

/// An after-sales case (the customer's reason is stored encrypted and not shown here).
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({
    "id": "asc_0193c1d4e5f67a8b9c0d1e2f3a4b5c6d",
    "order_id": "ord_0193a7c1f0a27c4e8d3b5a6f9e2d1c07",
    "kind": "repair",
    "status": "resolved",
    "resolution": "New wheel fitted under warranty; the case ships back with bpost this week.",
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
    /// How it was settled; null while `open`.
    pub resolution: Option<String>,
    /// When the case was opened (RFC 3339, UTC).
    pub created_at: DateTime<Utc>,
    /// When it was resolved (RFC 3339, UTC); null while `open`.
    pub resolved_at: Option<DateTime<Utc>>,
}

fn view(conn: &mut DbConnection, id: &str) -> Result<CaseView, ApiError> {
    let row: (
        String,
        String,
        String,
        String,
        Option<String>,
        chrono::NaiveDateTime,
        Option<chrono::NaiveDateTime>,
    ) = after_sales_cases::table
        .find(id)
        .select((
            after_sales_cases::id,
            after_sales_cases::order_id,
            after_sales_cases::kind,
            after_sales_cases::status,
            after_sales_cases::resolution,
            after_sales_cases::created_at,
            after_sales_cases::resolved_at,
        ))
        .first(conn)
        .optional()?
        .ok_or(ApiError::NotFound)?;
    Ok(CaseView {
        id: row.0,
        order_id: row.1,
        kind: CaseKind::parse(&row.2).unwrap_or(CaseKind::Return),
        status: CaseStatus::parse(&row.3).unwrap_or(CaseStatus::Open),
        resolution: row.4,
        created_at: row.5.and_utc(),
        resolved_at: row.6.map(|t| t.and_utc()),
    })
}

/// Opens a case on the requester's order `number` and notifies its owner; 409
/// `invalid-transition` unless it was delivered less than `window` ago.
fn open(
    conn: &mut DbConnection,
    crypto: &Crypto,
    requester: &Requester,
    number: &str,
    kind: CaseKind,
    reason: &str,
    window: chrono::Duration,
) -> Result<CaseView, ApiError> {
    write_transaction(conn, |conn| {
        let order = requester.find(conn, number)?;
        let within = order
            .delivered_at
            .is_some_and(|d| d + window > crate::db::now());
        if order.status() != OrderStatus::Delivered || !within {
            return Err(ApiError::InvalidTransition(
                "After-sales cases open on delivered orders, within the after-sales window.".into(),
            ));
        }
        let id = crate::ids::new_id("asc");
        let key = crypto.data_key(conn, &order.id)?;
        let sealed = key.seal_str(&REASON.at(&id), reason)?;
        diesel::insert_into(after_sales_cases::table)
            .values((
                after_sales_cases::id.eq(&id),
                after_sales_cases::order_id.eq(&order.id),
                after_sales_cases::kind.eq(kind.as_str()),
                after_sales_cases::reason_sealed.eq(&sealed),
                after_sales_cases::status.eq(CaseStatus::Open.as_str()),
                after_sales_cases::created_at.eq(crate::db::now()),
            ))
            .execute(conn)?;
        notifications::enqueue(
            conn,
            crate::notifications::To::Order {
                order_id: &order.id,
                user_id: order.user_id.as_ref(),
            },
            &Kind::AfterSalesUpdated,
            &serde_json::json!({"order_id": order.id, "case_id": id, "status": CaseStatus::Open}),
        )?;
        view(conn, &id)
    })
}

/// Open an after-sales case.
///
/// For a delivered order, within the after-sales window (30 days by default): a return, a
/// repair or a warranty claim.
/// The order does not close while a case is open.
#[utoipa::path(
    operation_id = "openAfterSalesCase",
    tag = "orders",
    security(("bearer" = []), ()),
    params(("number" = String, Path, description = ORDER_NUMBER, pattern = "^LG-[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}$"), ("X-Order-Token" = Option<String>, Header, description = ORDER_TOKEN)),
    request_body = NewCase,
    responses(
        (status = 201, description = "Opened", body = CaseView),
        (status = 404, description = "No such order, or not yours", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`invalid-transition`: not delivered, or the window has ended", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid or sensitive field", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/orders/{number}/after-sales")]
async fn open_case(
    req: HttpRequest,
    caller: Caller,
    db: web::Data<Db>,
    crypto: web::Data<Crypto>,
    shop: web::Data<crate::config::Shop>,
    number: web::Path<String>,
    body: Json<NewCase>,
) -> Result<HttpResponse, ApiError> {
    let window = shop.after_sales_window;
    let number = number.into_inner();
    let body = body.into_inner();
    let reason = crate::text::text("reason", &body.reason, 2000)?;
    refuse_sensitive("reason", &reason)?;
    let requester = Requester::from_request(&caller, &req)?;
    let crypto = crypto.into_inner();
    let case = db
        .run(move |conn| {
            open(
                conn, &crypto, &requester, &number, body.kind, &reason, window,
            )
        })
        .await?;
    Ok(HttpResponse::Created().json(case))
}

/// Resolve an after-sales case.
///
/// Records how it was settled and tells the customer; the order can then close.
#[utoipa::path(
    operation_id = "resolveAfterSalesCase",
    tag = "orders-admin",
    security(("bearer" = []), ("api_key" = [])),
    params(("id" = String, Path, description = "The case's `asc_…` id")),
    request_body = Resolution,
    responses(
        (status = 200, description = "Resolved", body = CaseView),
        (status = 401, description = "Not authenticated", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Support and above", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such case", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Already resolved", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid field", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/after-sales/{id}/resolve")]
async fn resolve_case(
    _auth: Auth<min::Support>,
    db: web::Data<Db>,
    id: web::Path<String>,
    body: Json<Resolution>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let resolution = crate::text::text("resolution", &body.into_inner().resolution, 2000)?;
    refuse_sensitive("resolution", &resolution)?;
    let case = db
        .run(move |conn| {
            write_transaction(conn, |conn| {
                let current = view(conn, &id)?;
                let n = diesel::update(
                    after_sales_cases::table
                        .filter(after_sales_cases::id.eq(&id))
                        .filter(after_sales_cases::status.eq(CaseStatus::Open.as_str())),
                )
                .set((
                    after_sales_cases::status.eq(CaseStatus::Resolved.as_str()),
                    after_sales_cases::resolution.eq(&resolution),
                    after_sales_cases::resolved_at.eq(Some(crate::db::now())),
                ))
                .execute(conn)?;
                if n == 0 {
                    return Err(ApiError::conflict("This case is already resolved."));
                }
                let (order_id, user): (OrderId, Option<UserId>) = orders::table
                    .find(&current.order_id)
                    .select((orders::id, orders::user_id))
                    .first(conn)?;
                notifications::enqueue(
                    conn,
                    crate::notifications::To::Order { order_id: &order_id, user_id: user.as_ref() }, &Kind::AfterSalesUpdated,
                    &serde_json::json!({"order_id": current.order_id, "case_id": id, "status": CaseStatus::Resolved}),
                )?;
                view(conn, &id)
            })
        })
        .await?;
    Ok(HttpResponse::Ok().json(case))
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
            let Some(order) = store::get(conn, &id)? else {
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
