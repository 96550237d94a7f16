//! `PUT|DELETE /v1/carts/{id}/discount`: a customer or guest puts a discount code on a
//! cart (at most one), or takes it off. Same access rules as the cart itself.

use actix_web::http::Method;
use actix_web::{delete, put, web, HttpResponse};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::model::{check, Code, Refusal};
use super::{refused, store};
use crate::carts::store as carts;
use crate::carts::view::{goods_subtotal, CartView};
use crate::carts::CartRequest;
use crate::config::Shop;
use crate::db::Db;
use crate::http::error::{ApiError, Problem};
use crate::http::extract::Json;
use crate::http::limits::{Policy, Quota, Rule};

/// Trying codes is limited apart from other cart changes, so codes cannot be guessed by
/// trying many: a burst of 60, then one a minute, per client address.
pub const DISCOUNT_ATTEMPTS: Policy = Policy {
    name: "discount-code",
    client: Some(Quota::per_hour(60)),
    global: Quota::per_minute(3000),
};

/// The anonymous writes of this file and their limits (enforced and documented by `http::limits`).
pub const LIMITS: &[Rule] = &[
    (Method::PUT, "/v1/carts/{id}/discount", &DISCOUNT_ATTEMPTS),
    (
        Method::DELETE,
        "/v1/carts/{id}/discount",
        &DISCOUNT_ATTEMPTS,
    ),
];

pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(apply_code).service(remove_code);
}

/// A discount code to put on a cart.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"code": "welcome10"}))]
pub struct CartCode {
    /// The code, in any case.
    #[schema(max_length = 64, example = "welcome10")]
    pub code: String,
}

/// Put a discount code on a cart.
///
/// Replaces any code the cart carried. The code must apply now: otherwise 422 with a
/// problem type per reason (`discount-code-unknown`, `-not-yet-valid`, `-expired`,
/// `-below-minimum` naming the minimum, `-used-up`, `-already-used`), and the cart is
/// unchanged. A guest's per-customer limit is checked at checkout, by the contact e-mail.
/// The cart's totals then show the discount; checkout checks the code again and redeems it.
#[utoipa::path(
    operation_id = "setCartDiscount",
    tag = "carts",
    security((), ("bearer" = [])),
    params(("id" = String, Path, description = "The cart's `cart_…` id"), ("X-Cart-Token" = Option<String>, Header, description = "Guests: the `cart_token` returned when the cart was created; customers send their access token instead")),
    request_body = CartCode,
    responses(
        (status = 200, description = "The cart with the code and its discount", body = CartView),
        (status = 404, description = "No such cart, or not yours", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "The code does not apply (`discount-code-…`, one type per reason), or an invalid body", body = Problem, content_type = "application/problem+json"),
    )
)]
#[put("/carts/{id}/discount")]
async fn apply_code(
    cart: CartRequest,
    db: web::Data<Db>,
    shop: web::Data<Shop>,
    body: Json<CartCode>,
) -> Result<HttpResponse, ApiError> {
    let currency = shop.currency.code();
    // A code that cannot be spelled is no code: the same answer as one that is not there.
    let code = Code::parse("code", &body.into_inner().code)
        .map_err(|_| refused(Refusal::Unknown, currency))?;
    cart.change(&db, &shop, move |conn, cart| {
        let row = store::by_code(conn, code.as_str())?
            .ok_or_else(|| refused(Refusal::Unknown, currency))?;
        let subtotal = goods_subtotal(&carts::lines(conn, &cart.id)?);
        let customer_uses = match cart.owner_user_id.as_deref() {
            Some(user) => Some(store::customer_uses(
                conn,
                &row.id,
                &super::customer_of_account(user),
            )?),
            None => None,
        };
        check(
            &row.terms(),
            crate::db::now(),
            subtotal,
            row.uses,
            customer_uses,
        )
        .map_err(|r| refused(r, currency))?;
        store::set_on_cart(conn, &cart.id, &row.id)?;
        Ok(())
    })
    .await
}

/// Take the discount code off a cart.
///
/// The cart's totals are at full price again. Answers the cart whether or not it carried a
/// code.
#[utoipa::path(
    operation_id = "removeCartDiscount",
    tag = "carts",
    security((), ("bearer" = [])),
    params(("id" = String, Path, description = "The cart's `cart_…` id"), ("X-Cart-Token" = Option<String>, Header, description = "Guests: the `cart_token` returned when the cart was created; customers send their access token instead")),
    responses(
        (status = 200, description = "The cart without a code", body = CartView),
        (status = 404, description = "No such cart, or not yours", body = Problem, content_type = "application/problem+json"),
    )
)]
#[delete("/carts/{id}/discount")]
async fn remove_code(
    cart: CartRequest,
    db: web::Data<Db>,
    shop: web::Data<Shop>,
) -> Result<HttpResponse, ApiError> {
    cart.change(&db, &shop, |conn, cart| {
        store::clear_cart(conn, &cart.id)?;
        Ok(())
    })
    .await
}
