//! `/v1/orders…` for the customer or guest who placed them.

use crate::http::limits::{Policy, Quota, Rule};
use actix_web::http::Method;
use actix_web::{get, patch, post, web, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::access::{Requester, ORDER_NUMBER, ORDER_TOKEN};
use super::address;
use super::lifecycle::{self, Change};
use super::model::{Action, Actor, Address, AddressFields, ChangedBy};
use super::store;
use super::view::{order_view_example, owner_view, owner_views, OrderView};
use crate::auth::{min, Auth, Caller};
use crate::crypto::Crypto;
use crate::db::{write_transaction, Db};
use crate::http::error::{ApiError, Problem};
use crate::http::extract::Query;
use crate::http::pagination::{paginate, PageQuery};

/// Payments, cancellations, after-sales cases and address corrections of one's order.
pub const ORDER_CHANGE: Policy = Policy {
    name: "order-change",
    client: Some(Quota::per_minute(20)),
    global: Quota::per_minute(6000),
};

/// The anonymous writes of this file and their limits (enforced and documented by `http::limits`).
pub const LIMITS: &[Rule] = &[
    (Method::POST, "/v1/orders/{number}/cancel", &ORDER_CHANGE),
    (
        Method::PATCH,
        "/v1/orders/{number}/shipping-address",
        &ORDER_CHANGE,
    ),
];

pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(list_orders)
        .service(get_order)
        .service(cancel_order)
        .service(correct_address);
}

/// One page of the caller's orders.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = order_list_example)]
pub struct OrderList {
    /// The orders on this page, newest first.
    pub data: Vec<OrderView>,
    /// Send it as `cursor` for the next page; null on the last page.
    pub next_cursor: Option<String>,
}

fn order_list_example() -> serde_json::Value {
    serde_json::json!({"data": [order_view_example()], "next_cursor": null})
}

/// My orders.
///
/// Newest first, each with its items, totals, history and payment status.
#[utoipa::path(
    operation_id = "listMyOrders",
    tag = "orders",
    security(("bearer" = [])),
    params(PageQuery),
    responses(
        (status = 200, description = "One page of my orders, newest first", body = OrderList),
        (status = 401, description = "Not authenticated", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "API keys have no orders", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid `limit` or `cursor`", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/orders")]
async fn list_orders(
    auth: Auth<min::Customer>,
    db: web::Data<Db>,
    crypto: web::Data<Crypto>,
    query: Query<PageQuery>,
) -> Result<HttpResponse, ApiError> {
    let user = auth.user_id()?.to_owned();
    let page = query.into_inner().validate("orders")?;
    let crypto = crypto.into_inner();
    let body = db
        .run(move |conn| {
            let rows = store::list_for_user(
                conn,
                &user,
                page.after.as_deref(),
                i64::from(page.limit) + 1,
            )?;
            let (rows, next_cursor) = paginate(rows, &page, "orders", |o| o.id.to_string());
            let data = owner_views(conn, &crypto, &rows)?;
            Ok::<_, ApiError>(OrderList { data, next_cursor })
        })
        .await?;
    Ok(HttpResponse::Ok().json(body))
}

/// One of my orders.
///
/// With items, totals, status history, shipments and payment status. Guests send the
/// `X-Order-Token` they received at checkout. Tagged with an `ETag`: send it back in
/// `If-None-Match` to poll for a change for the price of a 304.
#[utoipa::path(
    operation_id = "getOrder",
    tag = "orders",
    security(("bearer" = []), ()),
    params(
        ("number" = String, Path, description = ORDER_NUMBER, pattern = "^LG-[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}$"),
        ("X-Order-Token" = Option<String>, Header, description = ORDER_TOKEN),
        ("If-None-Match" = Option<String>, Header, description = "The `ETag` of the order as you last read it: 304 when it has not changed"),
    ),
    responses(
        (status = 200, description = "The order", body = OrderView,
            headers(("ETag" = String, description = "Version of this order document"))),
        (status = 304, description = "Not changed since the `ETag` sent in `If-None-Match`",
            headers(("ETag" = String, description = "Version of this order document"))),
        (status = 404, description = "No such order, or not yours (the detail names the header a guest sends)", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/orders/{number}")]
async fn get_order(
    req: HttpRequest,
    caller: Caller,
    db: web::Data<Db>,
    crypto: web::Data<Crypto>,
    number: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let number = number.into_inner();
    let requester = Requester::from_request(&caller, &req)?;
    let crypto = crypto.into_inner();
    let view = db
        .run(move |conn| {
            let order = requester.find(conn, &number)?;
            owner_view(conn, &crypto, &order, None)
        })
        .await?;
    crate::http::cache::json_with_etag(&req, &view, crate::http::cache::NO_STORE)
}

/// Cancel my order.
///
/// Possible until it ships. Its stock is released at once; a captured payment is refunded in
/// full through the provider.
#[utoipa::path(
    operation_id = "cancelOrder",
    tag = "orders",
    security(("bearer" = []), ()),
    params(("number" = String, Path, description = ORDER_NUMBER, pattern = "^LG-[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}$"), ("X-Order-Token" = Option<String>, Header, description = ORDER_TOKEN)),
    responses(
        (status = 200, description = "Cancelled", body = OrderView),
        (status = 404, description = "No such order, or not yours", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`invalid-transition`: already shipped, or otherwise final", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/orders/{number}/cancel")]
async fn cancel_order(
    req: HttpRequest,
    caller: Caller,
    db: web::Data<Db>,
    crypto: web::Data<Crypto>,
    number: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let number = number.into_inner();
    let requester = Requester::from_request(&caller, &req)?;
    let crypto = crypto.into_inner();
    let view = db
        .run(move |conn| {
            write_transaction(conn, |conn| {
                let order = requester.find(conn, &number)?;
                lifecycle::apply(
                    conn,
                    &Change {
                        order: &order,
                        action: Action::Cancel,
                        actor: Actor::Owner,
                        changed_by: ChangedBy::Owner,
                        actor_id: requester.user_id(),
                        reason: None,
                    },
                )?;
                let order = store::get(conn, &order.id)?.ok_or(ApiError::NotFound)?;
                owner_view(conn, &crypto, &order, None)
            })
        })
        .await?;
    Ok(HttpResponse::Ok().json(view))
}

/// A corrected shipping address, replacing the order's whole address.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"shipping_address": {
    "name": "Lotte Vermeulen", "line1": "Kortrijksesteenweg 216", "line2": "bus 1",
    "city": "Gent", "postal_code": "9000", "country": "BE"
}}))]
pub struct AddressCorrection {
    /// The new address; the order ships there.
    #[schema(value_type = Address)]
    pub shipping_address: AddressFields,
}

/// Correct the shipping address.
///
/// Possible until the order ships (then 409 `invalid-transition`). The correction is
/// recorded in the audit log (field names only) and confirmed by a notification.
#[utoipa::path(
    operation_id = "correctShippingAddress",
    tag = "orders",
    security(("bearer" = []), ()),
    params(("number" = String, Path, description = ORDER_NUMBER, pattern = "^LG-[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}$"), ("X-Order-Token" = Option<String>, Header, description = ORDER_TOKEN)),
    request_body = AddressCorrection,
    responses(
        (status = 200, description = "Corrected", body = OrderView),
        (status = 404, description = "No such order, or not yours", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`invalid-transition`: already shipped", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid or sensitive field", body = Problem, content_type = "application/problem+json"),
    )
)]
#[patch("/orders/{number}/shipping-address")]
async fn correct_address(
    req: HttpRequest,
    caller: Caller,
    db: web::Data<Db>,
    crypto: web::Data<Crypto>,
    number: web::Path<String>,
    body: crate::http::extract::Json<AddressCorrection>,
) -> Result<HttpResponse, ApiError> {
    let address = Address::parse(&body.into_inner().shipping_address, "shipping_address")?;
    let requester = Requester::from_request(&caller, &req)?;
    // Built here, on the request's task: the audit entry carries the request id.
    let actor = address::actor(&caller, &requester);
    let (crypto, number) = (crypto.into_inner(), number.into_inner());
    let view = db
        .run(move |conn| address::correct(conn, &crypto, &requester, &actor, &number, &address))
        .await?;
    Ok(HttpResponse::Ok().json(view))
}
