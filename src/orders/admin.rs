//! `/v1/admin/orders…` (staff): masked by default; the full address only for fulfilment
//! staff on orders they are to ship, each such read audited; shipments (recording the
//! disclosure of the address to the carrier) and deliveries.

use actix_web::{get, post, web, HttpResponse};
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::access::ORDER_NUMBER;
use super::lifecycle::{self, Change};
use super::model::{
    allowed_actions, is_order_number, Action, Actor, Address, ChangedBy, MaskedAddress, OrderStatus,
};
use super::store::{self, OrderRow};
use super::view::{history, open_personal, shipment_views, tax_view, ShipmentView, StatusChange};
use crate::audit::{self, Actor as AuditActor, Event};
use crate::auth::{min, Auth, Principal, Role};
use crate::carts::view::Totals;
use crate::catalog::model::Money;
use crate::crypto::Crypto;
use crate::db::schema::orders;
use crate::db::{write_transaction, Db, DbConnection};
use crate::http::error::{ApiError, Problem};
use crate::http::extract::{Json, Query};
use crate::http::pagination::{paginate, PageQuery};
use crate::payments::model::PaymentStatus;
use crate::shipping::view::OrderShippingView;
use crate::tax::view::TaxView;

pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(list)
        .service(get_one)
        .service(ship)
        .service(deliver);
}

/// The shipping address as a staff member may see it: `visibility` says which form it has.
/// Each form is a schema of its own, so generated clients get a tagged union.
#[derive(Debug, Serialize, ToSchema)]
#[serde(untagged)]
#[schema(discriminator(property_name = "visibility", mapping(
    ("masked" = "#/components/schemas/MaskedShippingAddress"),
    ("full" = "#/components/schemas/FullShippingAddress"),
    ("erased" = "#/components/schemas/ErasedShippingAddress"),
)))]
pub enum StaffAddress {
    Masked(MaskedShippingAddress),
    Full(FullShippingAddress),
    Erased(ErasedShippingAddress),
}

/// One value naming one form of [`StaffAddress`].
macro_rules! visibility {
    ($name:ident, $value:literal, $doc:literal) => {
        #[doc = $doc]
        #[derive(Debug, Clone, Copy, Serialize, ToSchema)]
        pub enum $name {
            #[serde(rename = $value)]
            #[schema(rename = $value)]
            Value,
        }
    };
}
visibility!(
    MaskedVisibility,
    "masked",
    "Names the `masked` form of a staff view of an address."
);
visibility!(
    FullVisibility,
    "full",
    "Names the `full` form of a staff view of an address."
);
visibility!(
    ErasedVisibility,
    "erased",
    "Names the `erased` form of a staff view of an address."
);

/// Initials, city and country only.
#[derive(Debug, Serialize, ToSchema)]
pub struct MaskedShippingAddress {
    /// Always `masked`.
    pub visibility: MaskedVisibility,
    /// The first letter of each word of the recipient's name, each followed by a dot, e.g.
    /// `L.V.`.
    pub initials: String,
    /// City or town.
    pub city: String,
    /// ISO 3166-1 alpha-2 country code, upper-case, e.g. `BE`.
    pub country: String,
}

/// The whole address: fulfilment staff, for an order they are to ship. Audited.
#[derive(Debug, Serialize, ToSchema)]
pub struct FullShippingAddress {
    /// Always `full`.
    pub visibility: FullVisibility,
    /// The recipient's name.
    pub name: String,
    /// Street and house number.
    pub line1: String,
    /// More of the address (box, floor, building); null when there is none.
    pub line2: Option<String>,
    /// City or town.
    pub city: String,
    /// Postal code.
    pub postal_code: String,
    /// Province, state or region; null when there is none.
    pub region: Option<String>,
    /// ISO 3166-1 alpha-2 country code, upper-case, e.g. `BE`.
    pub country: String,
}

/// The order's personal data has been erased.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErasedShippingAddress {
    /// Always `erased`.
    pub visibility: ErasedVisibility,
}

impl From<MaskedAddress> for StaffAddress {
    fn from(a: MaskedAddress) -> Self {
        StaffAddress::Masked(MaskedShippingAddress {
            visibility: MaskedVisibility::Value,
            initials: a.initials,
            city: a.city,
            country: a.country,
        })
    }
}

impl From<Address> for StaffAddress {
    fn from(a: Address) -> Self {
        let a = a.into_fields();
        StaffAddress::Full(FullShippingAddress {
            visibility: FullVisibility::Value,
            name: a.name,
            line1: a.line1,
            line2: a.line2,
            city: a.city,
            postal_code: a.postal_code,
            region: a.region,
            country: a.country,
        })
    }
}

/// Who placed an order: a `registered` customer (with an account) or a `guest`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CustomerKind {
    Registered,
    Guest,
}

/// An order as staff see it: no contact email, no items, the address as the role may see it.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = staff_order_view_example)]
pub struct StaffOrderView {
    /// The order's `ord_…` id.
    pub id: String,
    /// Human order number, e.g. `LG-7KQ2-9XF4`: what the staff order operations take.
    pub number: String,
    /// Where the order stands.
    pub status: OrderStatus,
    /// What you may do next with this order.
    pub allowed_transitions: Vec<Action>,
    /// Subtotal, shipping and total as charged, in minor units (cents).
    pub totals: Totals,
    /// The VAT or sales tax in the totals (or added to them, in exclusive mode), per rate.
    pub tax: TaxView,
    /// Status of the latest payment attempt; null before the first.
    pub payment_status: Option<PaymentStatus>,
    /// Who placed the order.
    pub customer: CustomerKind,
    /// The shipping address in the form this role may see (`visibility` says which).
    pub shipping_address: StaffAddress,
    /// Every status change, oldest first, with who made it and why staff cancelled.
    pub history: Vec<StatusChange>,
    /// The shipping method chosen at checkout, as it was then; null on orders placed
    /// before shipping methods existed.
    pub shipping_method: Option<OrderShippingView>,
    /// Parcels handed to a carrier, oldest first, with their tracking URLs.
    pub shipments: Vec<ShipmentView>,
    /// When the order was placed (RFC 3339, UTC).
    pub created_at: DateTime<Utc>,
}

/// The example of [`StaffOrderView`] in the API document: a paid order, as support sees it.
fn staff_order_view_example() -> serde_json::Value {
    serde_json::json!({
        "id": "ord_0193a7c1f0a27c4e8d3b5a6f9e2d1c07",
        "number": "LG-7KQ2-9XF4",
        "status": "paid",
        "allowed_transitions": ["cancel"],
        "totals": {
            "subtotal": {"amount": 12900, "currency": "EUR", "minor_unit": 2},
            "shipping": {"amount": 0, "currency": "EUR", "minor_unit": 2},
            "discount": {"amount": 0, "currency": "EUR", "minor_unit": 2},
            "total": {"amount": 12900, "currency": "EUR", "minor_unit": 2},
            "item_count": 1
        },
        "tax": {
            "mode": "inclusive", "country": "BE",
            "total": {"amount": 2239, "currency": "EUR", "minor_unit": 2},
            "lines": [{
                "rate_basis_points": 2100, "rate_percent": "21",
                "net": {"amount": 10661, "currency": "EUR", "minor_unit": 2},
                "tax": {"amount": 2239, "currency": "EUR", "minor_unit": 2},
                "gross": {"amount": 12900, "currency": "EUR", "minor_unit": 2}
            }]
        },
        "payment_status": "captured",
        "customer": "registered",
        "shipping_address": {"visibility": "masked", "initials": "L.V.", "city": "Gent", "country": "BE"},
        "history": [
            {"from": null, "to": "pending_payment", "by": "owner", "at": "2025-11-25T14:19:48Z", "reason": null},
            {"from": "pending_payment", "to": "paid", "by": "system", "at": "2025-11-25T14:21:12Z", "reason": null}
        ],
        "shipping_method": {"code": "standard", "name": "Standard shipping", "carrier": null,
                            "price": {"amount": 0, "currency": "EUR", "minor_unit": 2}},
        "shipments": [],
        "created_at": "2025-11-25T14:19:48Z"
    })
}

/// One page of orders, as staff see them.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = staff_order_list_example)]
pub struct StaffOrderList {
    /// The orders on this page, newest first.
    pub data: Vec<StaffOrderView>,
    /// Send it as `cursor` for the next page; null on the last page.
    pub next_cursor: Option<String>,
}

fn staff_order_list_example() -> serde_json::Value {
    serde_json::json!({"data": [staff_order_view_example()], "next_cursor": null})
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct StaffOrderQuery {
    /// Only orders in this status; all statuses when omitted.
    pub status: Option<OrderStatus>,
    /// Only orders placed at or after this time (RFC 3339).
    pub from: Option<DateTime<Utc>>,
    /// Only orders placed before this time (RFC 3339).
    pub to: Option<DateTime<Utc>>,
    /// Items per page, 1–100.
    #[param(minimum = 1, maximum = 100, default = 20)]
    pub limit: Option<u32>,
    /// `next_cursor` from the previous page (with the same filters); omit for the first page.
    pub cursor: Option<String>,
}

/// A parcel handed to a carrier.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"carrier": "bpost", "tracking_number": "323299901234567890"}))]
pub struct NewShipment {
    /// The carrier, e.g. `bpost` or `PostNL`: 1–60 characters (surrounding whitespace
    /// trimmed, no control characters). The address is disclosed to it. A registered
    /// carrier (by code or name, either case) gives the shipment its tracking URL. Absent:
    /// the carrier of the order's shipping method (422 when it names none).
    #[schema(min_length = 1, max_length = 60)]
    pub carrier: Option<String>,
    /// The carrier's tracking number: 1–60 characters (surrounding whitespace trimmed, no
    /// control characters).
    #[schema(min_length = 1, max_length = 60)]
    pub tracking_number: String,
}

/// Builds the staff view; opens the full address (and audits it) only when allowed.
pub(super) fn staff_view(
    conn: &mut DbConnection,
    crypto: &Crypto,
    principal: &Principal,
    actor: &AuditActor,
    order: &OrderRow,
    want_full: bool,
) -> Result<StaffOrderView, ApiError> {
    let status = order.status();
    let may_see_full = principal.role.includes(Role::Fulfillment)
        && matches!(status, OrderStatus::Paid | OrderStatus::Fulfilling);
    let shipping_address = match open_personal(conn, crypto, order)? {
        None => StaffAddress::Erased(ErasedShippingAddress {
            visibility: ErasedVisibility::Value,
        }),
        Some((_, address)) if want_full && may_see_full => {
            audit::record(
                conn,
                crypto,
                actor,
                &Event {
                    action: crate::audit::Action::OrderAddressRead,
                    subject_id: Some(order.user_id.as_deref().unwrap_or(&order.id)),
                    fields: &["shipping_address"],
                    purpose: crate::audit::Purpose::Shipping,
                },
            )?;
            StaffAddress::from(address)
        }
        Some((_, address)) => StaffAddress::from(address.masked()),
    };
    let money = |amount| Money::in_code(amount, &order.currency);
    Ok(StaffOrderView {
        id: order.id.to_string(),
        number: order.number.clone(),
        status,
        allowed_transitions: allowed_actions(status, Actor::staff(principal.role)),
        totals: Totals {
            subtotal: money(order.subtotal),
            shipping: money(order.shipping),
            discount: money(order.discount()),
            total: money(order.total),
            item_count: store::items(conn, &order.id)?
                .iter()
                .map(|i| i.quantity)
                .sum(),
        },
        tax: tax_view(order, &store::tax_lines(conn, &order.id)?),
        payment_status: store::payment_status(conn, &order.id)?,
        customer: if order.user_id.is_some() {
            CustomerKind::Registered
        } else {
            CustomerKind::Guest
        },
        shipping_address,
        history: history(store::events(conn, &order.id)?),
        shipping_method: crate::shipping::store::of_order(conn, &order.id)?
            .map(|m| OrderShippingView::new(&m, &order.currency)),
        shipments: shipment_views(store::shipments_of(conn, &order.id)?),
        created_at: order.created_at.and_utc(),
    })
}

pub(super) fn by_number(conn: &mut DbConnection, number: &str) -> Result<OrderRow, ApiError> {
    if !is_order_number(number) {
        return Err(ApiError::NotFound);
    }
    orders::table
        .filter(orders::number.eq(number))
        .select(OrderRow::as_select())
        .first(conn)
        .optional()?
        .ok_or(ApiError::NotFound)
}

/// Orders, newest first (masked).
///
/// Filter by status and placement time. Addresses show initials, city and country only.
#[utoipa::path(
    operation_id = "listStaffOrders",
    tag = "orders-admin",
    security(("bearer" = []), ("api_key" = [])),
    params(StaffOrderQuery),
    responses(
        (status = 200, description = "One page of orders, as this role may see them", body = StaffOrderList),
        (status = 401, description = "Not authenticated", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Support and above", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid filter", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/orders")]
async fn list(
    auth: Auth<min::Support>,
    db: web::Data<Db>,
    crypto: web::Data<Crypto>,
    query: Query<StaffOrderQuery>,
) -> Result<HttpResponse, ApiError> {
    let q = query.into_inner();
    let page = PageQuery {
        limit: q.limit,
        cursor: q.cursor,
    }
    .validate("admin-orders")?;
    let actor = AuditActor::from_principal(&auth.principal, None);
    let principal = auth.principal;
    let crypto = crypto.into_inner();
    let body = db
        .run(move |conn| {
            let mut query = orders::table
                .order(orders::id.desc())
                .limit(i64::from(page.limit) + 1)
                .select(OrderRow::as_select())
                .into_boxed();
            if let Some(s) = q.status {
                query = query.filter(orders::status.eq(s.as_str()));
            }
            if let Some(from) = q.from {
                query = query.filter(orders::created_at.ge(from.naive_utc()));
            }
            if let Some(to) = q.to {
                query = query.filter(orders::created_at.lt(to.naive_utc()));
            }
            if let Some(after) = &page.after {
                query = query.filter(orders::id.lt(after.clone()));
            }
            let rows = query.load(conn)?;
            let (rows, next_cursor) = paginate(rows, &page, "admin-orders", |o| o.id.to_string());
            let data = rows
                .iter()
                .map(|o| staff_view(conn, &crypto, &principal, &actor, o, false))
                .collect::<Result<Vec<_>, _>>()?;
            Ok::<_, ApiError>(StaffOrderList { data, next_cursor })
        })
        .await?;
    Ok(HttpResponse::Ok().json(body))
}

/// One order.
///
/// Support sees the address masked. Fulfilment staff see the full address of a `paid` or
/// `fulfilling` order (the ones they are to ship); each such read is written to the audit log
/// and shows in the customer's access log.
#[utoipa::path(
    operation_id = "getStaffOrder",
    tag = "orders-admin",
    security(("bearer" = []), ("api_key" = [])),
    params(("number" = String, Path, description = ORDER_NUMBER, pattern = "^LG-[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}$")),
    responses(
        (status = 200, description = "The order, as this role may see it", body = StaffOrderView),
        (status = 401, description = "Not authenticated", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Support and above", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such order", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/orders/{number}")]
async fn get_one(
    auth: Auth<min::Support>,
    db: web::Data<Db>,
    crypto: web::Data<Crypto>,
    number: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let number = number.into_inner();
    let actor = AuditActor::from_principal(&auth.principal, None);
    let principal = auth.principal;
    let crypto = crypto.into_inner();
    let view = db
        .run(move |conn| {
            write_transaction(conn, |conn| {
                let order = by_number(conn, &number)?;
                staff_view(conn, &crypto, &principal, &actor, &order, true)
            })
        })
        .await?;
    Ok(HttpResponse::Ok().json(view))
}

/// Ship an order.
///
/// Records the carrier and tracking number and moves the order to `shipped`. The address is
/// disclosed to the carrier: the disclosure is recorded and shows in the customer's export.
#[utoipa::path(
    operation_id = "createShipment",
    tag = "orders-admin",
    security(("bearer" = []), ("api_key" = [])),
    params(("number" = String, Path, description = ORDER_NUMBER, pattern = "^LG-[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}$")),
    request_body = NewShipment,
    responses(
        (status = 201, description = "Shipped", body = StaffOrderView),
        (status = 401, description = "Not authenticated", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Fulfilment and above", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such order", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`invalid-transition`: not paid, or already shipped", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid field", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/orders/{number}/shipments")]
async fn ship(
    auth: Auth<min::Fulfillment>,
    db: web::Data<Db>,
    crypto: web::Data<Crypto>,
    number: web::Path<String>,
    body: Json<NewShipment>,
) -> Result<HttpResponse, ApiError> {
    let number = number.into_inner();
    let body = body.into_inner();
    let carrier = body
        .carrier
        .as_deref()
        .map(|c| crate::text::text("carrier", c, 60))
        .transpose()?;
    let tracking = crate::text::text("tracking_number", &body.tracking_number, 60)?;
    let actor = AuditActor::from_principal(&auth.principal, None);
    let principal = auth.principal;
    let crypto = crypto.into_inner();
    let view = db
        .run(move |conn| {
            write_transaction(conn, |conn| {
                let order = by_number(conn, &number)?;
                lifecycle::apply(
                    conn,
                    &Change {
                        order: &order,
                        action: Action::Ship,
                        actor: Actor::Fulfillment,
                        changed_by: ChangedBy::Staff,
                        actor_id: Some(&principal.id),
                        reason: None,
                    },
                )?;
                let carrier = match carrier {
                    Some(carrier) => carrier,
                    None => crate::shipping::store::of_order(conn, &order.id)?
                        .and_then(|m| m.carrier_code)
                        .ok_or_else(|| {
                            ApiError::validation(
                                "carrier",
                                "is required: the order's shipping method names no carrier",
                            )
                        })?,
                };
                let url = crate::shipping::tracking_url(conn, &carrier, &tracking)?;
                store::record_shipment(conn, &order, &carrier, &tracking, url.as_deref())?;
                let order = store::get(conn, &order.id)?.ok_or(ApiError::NotFound)?;
                staff_view(conn, &crypto, &principal, &actor, &order, false)
            })
        })
        .await?;
    Ok(HttpResponse::Created().json(view))
}

/// Mark an order delivered.
///
/// Starts the after-sales window; the order closes when it ends with no open case.
#[utoipa::path(
    operation_id = "markOrderDelivered",
    tag = "orders-admin",
    security(("bearer" = []), ("api_key" = [])),
    params(("number" = String, Path, description = ORDER_NUMBER, pattern = "^LG-[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}$")),
    responses(
        (status = 200, description = "Delivered", body = StaffOrderView),
        (status = 401, description = "Not authenticated", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Fulfilment and above", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such order", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`invalid-transition`: not shipped", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/orders/{number}/deliver")]
async fn deliver(
    auth: Auth<min::Fulfillment>,
    db: web::Data<Db>,
    crypto: web::Data<Crypto>,
    number: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let number = number.into_inner();
    let actor = AuditActor::from_principal(&auth.principal, None);
    let principal = auth.principal;
    let crypto = crypto.into_inner();
    let view = db
        .run(move |conn| {
            write_transaction(conn, |conn| {
                let order = by_number(conn, &number)?;
                lifecycle::apply(
                    conn,
                    &Change {
                        order: &order,
                        action: Action::Deliver,
                        actor: Actor::Fulfillment,
                        changed_by: ChangedBy::Staff,
                        actor_id: Some(&principal.id),
                        reason: None,
                    },
                )?;
                let order = store::get(conn, &order.id)?.ok_or(ApiError::NotFound)?;
                staff_view(conn, &crypto, &principal, &actor, &order, false)
            })
        })
        .await?;
    Ok(HttpResponse::Ok().json(view))
}
