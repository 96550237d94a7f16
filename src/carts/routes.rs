//! `/v1/carts…`: carts for customers (bound to the account) and guests (a secret
//! `cart_token`, sent back as `X-Cart-Token`). Another caller's cart answers 404.

use crate::http::limits::{Policy, Quota, Rule};
use actix_web::http::Method;
use actix_web::{delete, get, patch, post, web, HttpResponse};
use serde::Deserialize;
use utoipa::ToSchema;

use super::request::CartRequest;
use super::store::{self, MAX_LINES, MAX_QUANTITY};
use super::view::{view_of, CartView};
use crate::auth::token::hash_secret;
use crate::auth::Caller;
use crate::config::Shop;
use crate::db::Db;
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

/// The line a route names (`/carts/{id}/items/{variant_id}`; the cart is the
/// [`CartRequest`]'s).
#[derive(Debug, Deserialize)]
struct LinePath {
    variant_id: String,
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
            Ok::<_, ApiError>(view_of(&row, &[], &shop, token, 0, None))
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
    cart: CartRequest,
    db: web::Data<Db>,
    shop: web::Data<Shop>,
) -> Result<HttpResponse, ApiError> {
    cart.show(&db, &shop).await
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
    cart: CartRequest,
    db: web::Data<Db>,
    shop: web::Data<Shop>,
    body: Json<NewItem>,
) -> Result<HttpResponse, ApiError> {
    let item = body.into_inner();
    let added = quantity("quantity", item.quantity)?;
    cart.change(&db, &shop, move |conn, cart| {
        let variant = store::sellable_variant(conn, &item.variant_id)?
            .ok_or_else(|| ApiError::validation("variant_id", "is not a variant for sale"))?;
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
        Ok(())
    })
    .await
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
    cart: CartRequest,
    db: web::Data<Db>,
    shop: web::Data<Shop>,
    line: web::Path<LinePath>,
    body: Json<ItemQuantity>,
) -> Result<HttpResponse, ApiError> {
    let variant_id = line.into_inner().variant_id;
    let wanted = quantity("quantity", body.into_inner().quantity)?;
    cart.change(&db, &shop, move |conn, cart| {
        store::quantity_of(conn, &cart.id, &variant_id)?.ok_or(ApiError::NotFound)?;
        let variant = store::sellable_variant(conn, &variant_id)?
            .ok_or_else(|| ApiError::validation("variant_id", "is no longer for sale"))?;
        if wanted > variant.available {
            return Err(out_of_stock(&variant.id, variant.available));
        }
        store::set_quantity(conn, &cart.id, &variant.id, wanted, true)?;
        Ok(())
    })
    .await
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
    cart: CartRequest,
    db: web::Data<Db>,
    shop: web::Data<Shop>,
    line: web::Path<LinePath>,
) -> Result<HttpResponse, ApiError> {
    let variant_id = line.into_inner().variant_id;
    cart.change(&db, &shop, move |conn, cart| {
        if store::remove(conn, &cart.id, &variant_id)? == 0 {
            return Err(ApiError::NotFound);
        }
        Ok(())
    })
    .await
}
