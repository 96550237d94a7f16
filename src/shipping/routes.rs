//! `/v1/carts/{id}/shipping-options`: what a cart pays to ship to a country.

use actix_web::{get, web, HttpRequest, HttpResponse};
use serde::Deserialize;
use utoipa::IntoParams;

use super::view::{ShippingOption, ShippingOptions};
use crate::auth::Caller;
use crate::carts::store::{self as carts, Access};
use crate::config::Shop;
use crate::db::Db;
use crate::http::error::{ApiError, Problem};
use crate::http::extract::Query;

pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(options);
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct OptionsQuery {
    /// The destination: an ISO 3166-1 alpha-2 code, either case.
    #[param(pattern = "^[A-Za-z]{2}$", example = "DE")]
    pub country: String,
}

fn country(raw: &str) -> Result<String, ApiError> {
    let code = raw.trim().to_ascii_uppercase();
    match code.len() == 2 && code.bytes().all(|b| b.is_ascii_uppercase()) {
        true => Ok(code),
        false => Err(ApiError::validation(
            "country",
            "must be an ISO 3166-1 alpha-2 code like DE",
        )),
    }
}

/// Shipping options of a cart.
///
/// The active methods that ship this cart to `country`, each with its price for this cart
/// (by the zone of the country, the bracket of the cart's chargeable weight — the greater
/// of its actual and volumetric weight — and the method's free-shipping threshold),
/// cheapest first. An empty list when no method ships there. The same access as reading
/// the cart.
#[utoipa::path(
    operation_id = "listCartShippingOptions",
    tag = "shipping",
    security((), ("bearer" = [])),
    params(
        ("id" = String, Path, description = "The cart's `cart_…` id"),
        ("X-Cart-Token" = Option<String>, Header, description = "Guests: the `cart_token` returned when the cart was created; customers send their access token instead"),
        OptionsQuery,
    ),
    responses(
        (status = 200, description = "The options, cheapest first", body = ShippingOptions),
        (status = 404, description = "No such cart, not yours, checked out or expired", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`validation-failed`: `country` missing or not two letters, or the cart is empty (`cart`)", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/carts/{id}/shipping-options")]
async fn options(
    req: HttpRequest,
    caller: Caller,
    db: web::Data<Db>,
    shop: web::Data<Shop>,
    id: web::Path<String>,
    query: Query<OptionsQuery>,
) -> Result<HttpResponse, ApiError> {
    let (id, access) = (id.into_inner(), Access::from_request(&caller, &req));
    let country = country(&query.into_inner().country)?;
    let currency = shop.currency;
    let options = db
        .run(move |conn| {
            let cart = access.find(conn, &id)?;
            let lines = carts::lines(conn, &cart.id)?;
            if lines.is_empty() {
                return Err(ApiError::validation("cart", "is empty: nothing to ship"));
            }
            let subtotal = crate::carts::view::goods_subtotal(&lines);
            let offers = super::offers(conn, &country, super::parcel_of(&lines), subtotal)?;
            Ok(ShippingOptions {
                country,
                data: offers
                    .into_iter()
                    .map(|o| ShippingOption::new(o, currency))
                    .collect(),
            })
        })
        .await?;
    Ok(HttpResponse::Ok().json(options))
}
