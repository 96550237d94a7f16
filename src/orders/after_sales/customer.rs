//! `POST /v1/orders/{number}/after-sales` (open a case) and `GET` (the order's cases with
//! support's answers), for the order's customer or the guest holding its token.

use actix_web::http::Method;
use actix_web::{get, post, web, HttpRequest, HttpResponse};
use serde::Deserialize;
use utoipa::ToSchema;

use super::{model, store, CaseKind, CaseList, CaseStatus, CaseView, REASON};
use crate::auth::Caller;
use crate::crypto::Crypto;
use crate::db::{write_transaction, Db, DbConnection};
use crate::http::error::{ApiError, Problem};
use crate::http::extract::Json;
use crate::http::limits::Rule;
use crate::notifications::{self, Kind};
use crate::orders::access::{Requester, ORDER_NUMBER, ORDER_TOKEN};
use crate::privacy::refuse_sensitive;

/// The anonymous writes of this file and their limits (enforced and documented by `http::limits`).
pub const LIMITS: &[Rule] = &[(
    Method::POST,
    "/v1/orders/{number}/after-sales",
    &crate::orders::routes::ORDER_CHANGE,
)];

pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(open_case).service(list_cases);
}

/// A new after-sales case.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"kind": "warranty", "reason": "A wheel of the cabin case came off on the first trip."}))]
pub struct NewCase {
    /// What the customer asks for.
    pub kind: CaseKind,
    /// What happened, 1–2,000 characters (surrounding whitespace trimmed; line breaks allowed,
    /// other control characters and sensitive data such as card numbers refused). Stored
    /// encrypted with the order's key.
    #[schema(min_length = 1, max_length = 2000)]
    pub reason: String,
}

const CLOSED_WINDOW: &str =
    "A return or a repair opens on a delivered order within the after-sales window; \
     a warranty claim until the longest warranty of the order's products has run out.";

/// Opens a case on the requester's order `number` and notifies its owner; 409
/// `invalid-transition` outside the case kind's period (see [`model::deadline`]).
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
        let years = store::longest_warranty_years(conn, &order.id)?;
        let until = model::deadline(kind, order.delivered_at, window, years);
        let within = until.is_some_and(|u| crate::db::now() < u);
        if !model::status_allows(kind, order.status()) || !within {
            return Err(ApiError::InvalidTransition(CLOSED_WINDOW.into()));
        }
        // A closed order whose personal data retention has erased cannot hold a sealed reason.
        let key = store::order_key(conn, crypto, &order.id)?.ok_or_else(|| {
            ApiError::InvalidTransition(
                "This order's personal data have been erased; contact support for the warranty."
                    .into(),
            )
        })?;
        let id = crate::ids::new_id("asc");
        let sealed = key.seal_str(&REASON.at(&id), reason)?;
        store::insert_case(conn, &id, &order.id, kind, &sealed)?;
        notifications::enqueue(
            conn,
            notifications::To::Order {
                order_id: &order.id,
                user_id: order.user_id.as_ref(),
            },
            &Kind::AfterSalesUpdated,
            &serde_json::json!({"order_id": order.id, "case_id": id, "status": CaseStatus::Open}),
        )?;
        Ok(store::get(conn, &id)?.ok_or(ApiError::NotFound)?.view())
    })
}

/// Open an after-sales case.
///
/// A `return` or a `repair` on a delivered order within the after-sales window (30 days by
/// default); a `warranty` claim from delivery until the longest `warranty_years` of the
/// order's products has run out (never less than the window), also once the order has
/// closed. A delivered order does not close while a case is open.
#[utoipa::path(
    operation_id = "openAfterSalesCase",
    tag = "orders",
    security(("bearer" = []), ()),
    params(("number" = String, Path, description = ORDER_NUMBER, pattern = "^LG-[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}$"), ("X-Order-Token" = Option<String>, Header, description = ORDER_TOKEN)),
    request_body = NewCase,
    responses(
        (status = 201, description = "Opened", body = CaseView),
        (status = 404, description = "No such order, or not yours", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`invalid-transition`: not delivered, or the kind's period has ended", body = Problem, content_type = "application/problem+json"),
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

/// An order's after-sales cases.
///
/// Every case of the order, oldest first, with the customer's reason and support's answers
/// (oldest first). For the order's customer, or a guest with the order's token.
#[utoipa::path(
    operation_id = "listAfterSalesCases",
    tag = "orders",
    security(("bearer" = []), ()),
    params(("number" = String, Path, description = ORDER_NUMBER, pattern = "^LG-[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}$"), ("X-Order-Token" = Option<String>, Header, description = ORDER_TOKEN)),
    responses(
        (status = 200, description = "The order's cases", body = CaseList),
        (status = 404, description = "No such order, or not yours", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/orders/{number}/after-sales")]
async fn list_cases(
    req: HttpRequest,
    caller: Caller,
    db: web::Data<Db>,
    crypto: web::Data<Crypto>,
    number: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let number = number.into_inner();
    let requester = Requester::from_request(&caller, &req)?;
    let crypto = crypto.into_inner();
    let list = db
        .run(move |conn| {
            let order = requester.find(conn, &number)?;
            let data = store::of_order(conn, &order.id)?
                .iter()
                .map(|case| store::detail(conn, &crypto, case))
                .collect::<Result<Vec<_>, ApiError>>()?;
            Ok::<_, ApiError>(CaseList { data })
        })
        .await?;
    Ok(HttpResponse::Ok().json(list))
}
