//! `/v1/carts…`: carts for customers (bound to the account) and guests (a secret
//! `cart_token`, sent back as `X-Cart-Token`). Another caller's cart answers 404.

use crate::http::limits::{Policy, Quota, Rule};
use actix_web::http::Method;
use actix_web::{delete, get, patch, post, web, HttpRequest, HttpResponse};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::store::{self, Access, CartRow, MAX_LINES, MAX_QUANTITY};
use crate::auth::token::hash_secret;
use crate::auth::Caller;
use crate::catalog::model::Money;
use crate::config::Shop;
use crate::db::{Db, DbConnection};
use crate::discounts::quote::CartDiscount;
use crate::http::error::{ApiError, Problem};
use crate::http::extract::{Json, OptionalJson};

pub const CART_CREATION: Policy = Policy {
    name: "cart-creation",
    client: Some(Quota::per_minute(30)),
    global: Quota::per_minute(6000),
};
pub const CART_CHANGE: Policy = Policy {
    name: "cart-change",
    client: Some(Quota::per_minute(120)),
    global: Quota::per_minute(30_000),
};

/// The anonymous writes of this file and their limits (enforced and documented by `http::limits`).
pub const LIMITS: &[Rule] = &[
    (Method::POST, "/v1/carts", &CART_CREATION),
    (Method::POST, "/v1/carts/{id}/items", &CART_CHANGE),
    (
        Method::PATCH,
        "/v1/carts/{id}/items/{variant_id}",
        &CART_CHANGE,
    ),
    (
        Method::DELETE,
        "/v1/carts/{id}/items/{variant_id}",
        &CART_CHANGE,
    ),
];

pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(create_cart)
        .service(get_cart)
        .service(add_item)
        .service(set_item)
        .service(remove_item);
}

/// One cart line, priced now.
#[derive(Debug, Serialize, ToSchema)]
pub struct CartLine {
    /// The `var_…` id of the variant in the cart.
    #[schema(example = "var_0193a7c25b7e7d1a9c1e2f6c1f7e9a10")]
    pub variant_id: String,
    /// The `prod_…` id of its product.
    #[schema(example = "prod_0193a7c25b7e7d1a9c1e2f6c1f7e9a10")]
    pub product_id: String,
    /// The variant's stock-keeping unit.
    #[schema(example = "VOY-55-BLK")]
    pub sku: String,
    /// The product's name.
    #[schema(example = "Voyager 55 Spinner")]
    pub name: String,
    /// The variant's colour.
    #[schema(example = "black")]
    pub color: String,
    /// The price of one unit now.
    pub unit_price: Money,
    /// Units in the cart, 1–20.
    #[schema(minimum = 1, maximum = 20, example = 1)]
    pub quantity: i32,
    /// `unit_price` times `quantity`.
    pub line_total: Money,
    /// Units available now (checkout reserves them).
    #[schema(minimum = 0, example = 25)]
    pub available: i32,
}

/// What the cart comes to, computed by the server.
#[derive(Debug, Serialize, ToSchema)]
pub struct Totals {
    /// The sum of the line totals.
    pub subtotal: Money,
    /// Shipping. For a cart: what the cheapest active method charges to the shop's own
    /// country (`GET /v1/carts/{id}/shipping-options` prices each method for any
    /// destination); 0 for an empty cart. For an order: what it pays for its method. With
    /// the seeded `standard` method alone, as before: 9.90, free from 100.00 (configurable).
    pub shipping: Money,
    /// What discount codes take off the goods and shipping (0 without a code that applies).
    pub discount: Money,
    /// `subtotal` plus `shipping` minus `discount`: what checkout would charge now. Prices
    /// include VAT unless the shop adds tax at checkout (exclusive mode: the order shows it).
    pub total: Money,
    /// Units in the cart, all lines together.
    #[schema(minimum = 0, example = 1)]
    pub item_count: i32,
}

/// A cart, priced now.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({
    "id": "cart_0193a7c25b7e7d1a9c1e2f6c1f7e9a13",
    "items": [{
        "variant_id": "var_0193a7c25b7e7d1a9c1e2f6c1f7e9a10", "product_id": "prod_0193a7c25b7e7d1a9c1e2f6c1f7e9a10",
        "sku": "VOY-55-BLK", "name": "Voyager 55 Spinner", "color": "black",
        "unit_price": {"amount": 12900, "currency": "EUR", "minor_unit": 2}, "quantity": 1,
        "line_total": {"amount": 12900, "currency": "EUR", "minor_unit": 2}, "available": 25
    }],
    "totals": {
        "subtotal": {"amount": 12900, "currency": "EUR", "minor_unit": 2}, "shipping": {"amount": 0, "currency": "EUR", "minor_unit": 2},
        "discount": {"amount": 1290, "currency": "EUR", "minor_unit": 2},
        "total": {"amount": 11610, "currency": "EUR", "minor_unit": 2}, "item_count": 1
    },
    "discount": {
        "code": "WELCOME10", "kind": "percentage", "applies": true, "problem": null,
        "amount": {"amount": 1290, "currency": "EUR", "minor_unit": 2}
    },
    "expires_at": "2026-04-11T10:04:51Z"
}))]
pub struct CartView {
    /// The cart's `cart_…` id.
    #[schema(example = "cart_0193a7c25b7e7d1a9c1e2f6c1f7e9a13")]
    pub id: String,
    /// Guests only, and only in the response that created the cart: send it as
    /// `X-Cart-Token` with every request about this cart. It is not stored readable.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(example = "vc_Jq3ZQ2b0yq8cY0m7V6m4nS0x3u9lH2pK1dF5rT8wE1A")]
    pub cart_token: Option<String>,
    /// Its lines, at most 50 (one per variant).
    #[schema(max_items = 50)]
    pub items: Vec<CartLine>,
    /// What it comes to now.
    pub totals: Totals,
    /// The discount code it carries (`PUT /v1/carts/{id}/discount`); null without one.
    pub discount: Option<CartDiscount>,
    /// When the cart expires (RFC 3339, UTC): 30 days after it was created or its lines last
    /// changed. An expired cart answers 404.
    pub expires_at: DateTime<Utc>,
}

/// Nothing to set yet: send `{}` or no body at all.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({}))]
pub struct NewCart {}

/// A variant to add to a cart.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"variant_id": "var_0193a7c25b7e7d1a9c1e2f6c1f7e9a10", "quantity": 1}))]
pub struct NewItem {
    /// The `var_…` id of an active variant of an active product.
    #[schema(example = "var_0193a7c25b7e7d1a9c1e2f6c1f7e9a10")]
    pub variant_id: String,
    /// Units to add, 1–20; with what the line already holds, at most 20 and at most what is
    /// available.
    #[schema(minimum = 1, maximum = 20, example = 1)]
    pub quantity: i32,
}

/// A line's new quantity.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"quantity": 2}))]
pub struct ItemQuantity {
    /// Units the line should hold, 1–20, at most what is available.
    #[schema(minimum = 1, maximum = 20, example = 2)]
    pub quantity: i32,
}

/// Goods subtotal and unit count of priced lines: `(unit_price, quantity)`.
fn subtotal_of(lines: impl IntoIterator<Item = (i64, i32)>) -> (i64, i32) {
    lines
        .into_iter()
        .fold((0i64, 0i32), |(sum, n), (price, q)| {
            (sum + price * i64::from(q), n + q)
        })
}

/// Totals from priced lines: `(unit_price, quantity)`, what shipping them costs, less
/// `discount`.
pub fn totals(
    lines: impl IntoIterator<Item = (i64, i32)>,
    shipping: i64,
    shop: &Shop,
    discount: i64,
) -> Totals {
    let (subtotal, count) = subtotal_of(lines);
    let money = |amount| Money::new(amount, shop.currency);
    Totals {
        subtotal: money(subtotal),
        shipping: money(shipping),
        discount: money(discount),
        total: money(subtotal + shipping - discount),
        item_count: count,
    }
}

pub fn view(
    conn: &mut DbConnection,
    cart: &CartRow,
    shop: &Shop,
    token: Option<String>,
) -> Result<CartView, ApiError> {
    let lines = store::lines(conn, &cart.id)?;
    // Before a destination is known, the cart shows what the cheapest method charges to the
    // shop's own country; `GET /v1/carts/{id}/shipping-options` prices any destination.
    let (subtotal, _) = subtotal_of(
        lines
            .iter()
            .map(|(q, v, p)| (v.price_override.unwrap_or(p.base_price), *q)),
    );
    let shipping = crate::shipping::cheapest_price(conn, &shop.tax.home_country, &lines, subtotal)?;
    let discount = crate::discounts::quote::for_cart(
        conn,
        &cart.id,
        cart.owner_user_id.as_deref(),
        subtotal,
        shipping,
        shop.currency,
    )?;
    let mut view = view_of(cart, &lines, shop, token, shipping);
    if let Some((shown, _)) = discount {
        view.totals = totals(
            view.items.iter().map(|l| (l.unit_price.amount, l.quantity)),
            shipping,
            shop,
            shown.amount.amount,
        );
        view.discount = Some(shown);
    }
    Ok(view)
}

/// A cart's view from its lines (a new cart has none: nothing to read).
fn view_of(
    cart: &CartRow,
    lines: &[(
        i32,
        crate::catalog::store::VariantRow,
        crate::catalog::store::ProductRow,
    )],
    shop: &Shop,
    token: Option<String>,
    shipping: i64,
) -> CartView {
    let money = |amount| Money::new(amount, shop.currency);
    let items: Vec<CartLine> = lines
        .iter()
        .map(|(q, v, p)| {
            let price = v.price_override.unwrap_or(p.base_price);
            CartLine {
                variant_id: v.id.clone(),
                product_id: p.id.clone(),
                sku: v.sku.clone(),
                name: p.name.clone(),
                color: v.color.clone(),
                unit_price: money(price),
                quantity: *q,
                line_total: money(price * i64::from(*q)),
                available: v.available,
            }
        })
        .collect();
    let totals = totals(
        items.iter().map(|l| (l.unit_price.amount, l.quantity)),
        shipping,
        shop,
        0,
    );
    CartView {
        id: cart.id.clone(),
        cart_token: token,
        items,
        totals,
        discount: None,
        expires_at: cart.expires_at.and_utc(),
    }
}

fn quantity(field: &str, q: i32) -> Result<i32, ApiError> {
    if (1..=MAX_QUANTITY).contains(&q) {
        Ok(q)
    } else {
        Err(ApiError::validation(
            field,
            format!("must be 1 to {MAX_QUANTITY}"),
        ))
    }
}

pub fn out_of_stock(variant_id: &str, available: i32) -> ApiError {
    ApiError::OutOfStock(format!(
        "Variant {variant_id} has only {available} available."
    ))
}

/// Create a cart.
///
/// With an access token the cart belongs to that customer. Without one, it is a guest cart:
/// the response carries a secret `cart_token` to send as `X-Cart-Token` from then on.
#[utoipa::path(
    operation_id = "createCart",
    tag = "carts",
    security((), ("bearer" = [])),
    request_body(content = Option<NewCart>, description = "Optional: `{}` or no body at all"),
    responses(
        (status = 201, description = "Created", body = CartView),
        (status = 401, description = "Invalid credentials", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Unknown field", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/carts")]
async fn create_cart(
    caller: Caller,
    db: web::Data<Db>,
    shop: web::Data<Shop>,
    _body: OptionalJson<NewCart>,
) -> Result<HttpResponse, ApiError> {
    let owner = caller.user_id().map(str::to_owned);
    let token = match owner {
        None => Some(crate::auth::token::new_secret("vc")?),
        Some(_) => None,
    };
    let shop = Shop::clone(&shop);
    let cart = db
        .run(move |conn| {
            let row = store::create(conn, owner.as_deref(), token.as_deref().map(hash_secret))?;
            Ok::<_, ApiError>(view_of(&row, &[], &shop, token, 0))
        })
        .await?;
    Ok(crate::http::created(&format!("/v1/carts/{}", cart.id)).json(cart))
}

/// A cart with its totals.
///
/// Prices and availability as of now, totals computed by the server.
#[utoipa::path(
    operation_id = "getCart",
    tag = "carts",
    security((), ("bearer" = [])),
    params(("id" = String, Path, description = "The cart's `cart_…` id"), ("X-Cart-Token" = Option<String>, Header, description = "Guests: the `cart_token` returned when the cart was created; customers send their access token instead")),
    responses(
        (status = 200, description = "The cart, priced now", body = CartView),
        (status = 404, description = "No such cart, not yours, checked out or expired", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/carts/{id}")]
async fn get_cart(
    req: HttpRequest,
    caller: Caller,
    db: web::Data<Db>,
    shop: web::Data<Shop>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let (id, access) = (id.into_inner(), Access::from_request(&caller, &req));
    let shop = Shop::clone(&shop);
    let cart = db
        .run(move |conn| {
            let row = access.find(conn, &id)?;
            view(conn, &row, &shop, None)
        })
        .await?;
    Ok(HttpResponse::Ok().json(cart))
}

/// Add a variant to a cart.
///
/// Adds to the quantity already in the cart; the total must not exceed what is available
/// (409 `out-of-stock` names the variant) nor 20 per line.
#[utoipa::path(
    operation_id = "addCartItem",
    tag = "carts",
    security((), ("bearer" = [])),
    params(("id" = String, Path, description = "The cart's `cart_…` id"), ("X-Cart-Token" = Option<String>, Header, description = "Guests: the `cart_token` returned when the cart was created; customers send their access token instead")),
    request_body = NewItem,
    responses(
        (status = 200, description = "The updated cart", body = CartView),
        (status = 404, description = "No such cart", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Not enough stock", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid quantity or variant not for sale", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/carts/{id}/items")]
async fn add_item(
    req: HttpRequest,
    caller: Caller,
    db: web::Data<Db>,
    shop: web::Data<Shop>,
    id: web::Path<String>,
    body: Json<NewItem>,
) -> Result<HttpResponse, ApiError> {
    let (id, access) = (id.into_inner(), Access::from_request(&caller, &req));
    let item = body.into_inner();
    let added = quantity("quantity", item.quantity)?;
    let shop = Shop::clone(&shop);
    let cart = db
        .run(move |conn| {
            crate::db::write_transaction(conn, |conn| {
                let cart = access.find_held(conn, &id)?;
                let variant =
                    store::sellable_variant(conn, &item.variant_id)?.ok_or_else(|| {
                        ApiError::validation("variant_id", "is not a variant for sale")
                    })?;
                let lines = store::quantities(conn, &cart.id)?;
                let current = lines
                    .iter()
                    .find(|(id, _)| *id == variant.id)
                    .map(|(_, q)| *q);
                if current.is_none() && lines.len() >= MAX_LINES {
                    return Err(ApiError::validation(
                        "variant_id",
                        format!("a cart holds at most {MAX_LINES} lines"),
                    ));
                }
                let total = quantity("quantity", current.unwrap_or(0) + added)?;
                if total > variant.available {
                    return Err(out_of_stock(&variant.id, variant.available));
                }
                store::set_quantity(conn, &cart.id, &variant.id, total, current.is_some())?;
                view(conn, &cart, &shop, None)
            })
        })
        .await?;
    Ok(HttpResponse::Ok().json(cart))
}

/// Change a line's quantity.
///
/// Sets the quantity (1–20), checked against what is available now.
#[utoipa::path(
    operation_id = "setCartItemQuantity",
    tag = "carts",
    security((), ("bearer" = [])),
    params(("id" = String, Path, description = "The cart's `cart_…` id"), ("variant_id" = String, Path, description = "The `var_…` id of the variant on the line"), ("X-Cart-Token" = Option<String>, Header, description = "Guests: the `cart_token` returned when the cart was created; customers send their access token instead")),
    request_body = ItemQuantity,
    responses(
        (status = 200, description = "The updated cart", body = CartView),
        (status = 404, description = "No such cart or line", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Not enough stock", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid quantity", body = Problem, content_type = "application/problem+json"),
    )
)]
#[patch("/carts/{id}/items/{variant_id}")]
async fn set_item(
    req: HttpRequest,
    caller: Caller,
    db: web::Data<Db>,
    shop: web::Data<Shop>,
    path: web::Path<(String, String)>,
    body: Json<ItemQuantity>,
) -> Result<HttpResponse, ApiError> {
    let ((id, variant_id), access) = (path.into_inner(), Access::from_request(&caller, &req));
    let wanted = quantity("quantity", body.into_inner().quantity)?;
    let shop = Shop::clone(&shop);
    let cart = db
        .run(move |conn| {
            crate::db::write_transaction(conn, |conn| {
                let cart = access.find_held(conn, &id)?;
                store::quantity_of(conn, &cart.id, &variant_id)?.ok_or(ApiError::NotFound)?;
                let variant = store::sellable_variant(conn, &variant_id)?
                    .ok_or_else(|| ApiError::validation("variant_id", "is no longer for sale"))?;
                if wanted > variant.available {
                    return Err(out_of_stock(&variant.id, variant.available));
                }
                store::set_quantity(conn, &cart.id, &variant.id, wanted, true)?;
                view(conn, &cart, &shop, None)
            })
        })
        .await?;
    Ok(HttpResponse::Ok().json(cart))
}

/// Remove a line.
///
/// Takes the variant out of the cart entirely.
#[utoipa::path(
    operation_id = "removeCartItem",
    tag = "carts",
    security((), ("bearer" = [])),
    params(("id" = String, Path, description = "The cart's `cart_…` id"), ("variant_id" = String, Path, description = "The `var_…` id of the variant on the line"), ("X-Cart-Token" = Option<String>, Header, description = "Guests: the `cart_token` returned when the cart was created; customers send their access token instead")),
    responses(
        (status = 200, description = "The updated cart", body = CartView),
        (status = 404, description = "No such cart or line", body = Problem, content_type = "application/problem+json"),
    )
)]
#[delete("/carts/{id}/items/{variant_id}")]
async fn remove_item(
    req: HttpRequest,
    caller: Caller,
    db: web::Data<Db>,
    shop: web::Data<Shop>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let ((id, variant_id), access) = (path.into_inner(), Access::from_request(&caller, &req));
    let shop = Shop::clone(&shop);
    let cart = db
        .run(move |conn| {
            crate::db::write_transaction(conn, |conn| {
                let cart = access.find_held(conn, &id)?;
                if store::remove(conn, &cart.id, &variant_id)? == 0 {
                    return Err(ApiError::NotFound);
                }
                view(conn, &cart, &shop, None)
            })
        })
        .await?;
    Ok(HttpResponse::Ok().json(cart))
}
