//! `/v1/carts/{id}/shipping-options` (what a cart pays to ship to a country) and
//! `/v1/admin/shipping/…` (carriers and methods, kept by managers).

use actix_web::{delete, get, post, put, web, HttpRequest, HttpResponse};
use serde::Deserialize;
use utoipa::IntoParams;

use super::model::{Code, TrackingTemplate, Zones, DIVISOR_RANGE};
use super::store::{self, CarrierRow, MethodRow};
use super::view::{
    CarrierInput, CarrierList, CarrierView, MethodInput, MethodList, MethodView, ShippingOption,
    ShippingOptions,
};
use crate::auth::{min, Auth, Caller};
use crate::carts::store::{self as carts, Access};
use crate::config::Shop;
use crate::db::{write_transaction, Db, DbConnection};
use crate::http::error::{ApiError, FieldError, Problem};
use crate::http::extract::{Json, Query};
use crate::invalid::Invalid;

pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(options);
}

pub fn configure_admin(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(list_carriers)
        .service(create_carrier)
        .service(replace_carrier)
        .service(delete_carrier)
        .service(list_methods)
        .service(create_method)
        .service(get_method)
        .service(replace_method)
        .service(delete_method);
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

/// The code of a write: the body's on create; on replace the path's, which the body may
/// repeat but not change.
fn code_of(body: Option<&str>, path: Option<&str>) -> Result<Code, Invalid> {
    match (body, path) {
        (Some(b), Some(p)) if Code::parse("code", b)?.as_str() != p => Err(Invalid::field(
            "code",
            "must be absent or the code in the path",
        )),
        (_, Some(p)) => Ok(Code::parse("code", p).map_err(|_| Invalid::field("code", "unknown"))?),
        (Some(b), None) => Code::parse("code", b),
        (None, None) => Err(Invalid::field("code", "is required")),
    }
}

/// Collects the field errors of several checks into one answer.
fn all_fields(results: &[Option<Invalid>]) -> Result<(), ApiError> {
    let errors: Vec<FieldError> = results
        .iter()
        .flatten()
        .flat_map(|invalid| match invalid {
            Invalid::Fields(fields) => fields.clone(),
            _ => Vec::new(),
        })
        .collect();
    match errors.is_empty() {
        true => Ok(()),
        false => Err(ApiError::Validation(errors)),
    }
}

fn carrier_row(body: CarrierInput, path: Option<&str>) -> Result<CarrierRow, ApiError> {
    let code = code_of(body.code.as_deref(), path);
    let name = crate::text::text("name", &body.name, 100);
    let template = TrackingTemplate::parse("tracking_url_template", &body.tracking_url_template);
    match (code, name, template) {
        (Ok(code), Ok(name), Ok(template)) => {
            let now = crate::db::now();
            Ok(CarrierRow {
                code: code.as_str().to_owned(),
                name,
                tracking_url: template.as_str().to_owned(),
                created_at: now,
                updated_at: now,
            })
        }
        (c, n, t) => {
            all_fields(&[c.err(), n.err(), t.err()])?;
            Err(ApiError::validation("$", "is invalid"))
        }
    }
}

/// A method row from a manager's body, the carrier checked against the registered ones.
fn method_row(
    conn: &mut DbConnection,
    body: MethodInput,
    path: Option<&str>,
) -> Result<MethodRow, ApiError> {
    let code = code_of(body.code.as_deref(), path);
    let name = crate::text::text("name", &body.name, 100);
    let carrier = match body.carrier.as_deref() {
        None => Ok(None),
        Some(raw) => match Code::parse("carrier", raw) {
            Ok(c) if store::carrier(conn, c.as_str())?.is_some() => Ok(Some(c)),
            _ => Err(Invalid::field(
                "carrier",
                "must be the code of a registered carrier",
            )),
        },
    };
    let divisor = match DIVISOR_RANGE.contains(&body.volumetric_divisor) {
        true => Ok(body.volumetric_divisor),
        false => Err(Invalid::field(
            "volumetric_divisor",
            "must be 1000 to 10000 (cm³ per kg)",
        )),
    };
    let free_from = match body.free_from {
        Some(f) if !(0..=crate::money::MAX_AMOUNT).contains(&f) => Err(Invalid::field(
            "free_from",
            "must be 0 or more minor units of the shop's currency",
        )),
        f => Ok(f),
    };
    let active = body.active;
    let zones = Zones::parse("zones", body.zones());
    match (code, name, carrier, divisor, free_from, zones) {
        (Ok(code), Ok(name), Ok(carrier), Ok(divisor), Ok(free_from), Ok(zones)) => {
            let now = crate::db::now();
            Ok(MethodRow {
                code: code.as_str().to_owned(),
                name,
                carrier_code: carrier.map(|c| c.as_str().to_owned()),
                active,
                volumetric_divisor: i32::try_from(divisor).unwrap_or(5_000),
                free_from,
                zones: serde_json::to_string(&zones).map_err(|e| ApiError::Internal(e.into()))?,
                configured: false,
                created_at: now,
                updated_at: now,
            })
        }
        (a, b, c, d, e, f) => {
            all_fields(&[a.err(), b.err(), c.err(), d.err(), e.err(), f.err()])?;
            Err(ApiError::validation("$", "is invalid"))
        }
    }
}

fn conflict_if_taken(e: diesel::result::Error, what: &str) -> ApiError {
    match crate::db::is_unique_violation(&e) {
        true => ApiError::conflict(format!("A {what} with this code exists already.")),
        false => e.into(),
    }
}

/// List the carriers.
///
/// Every registered carrier with its tracking URL template, by code.
#[utoipa::path(
    operation_id = "listShippingCarriers",
    tag = "shipping",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Every carrier, by code", body = CarrierList),
        (status = 401, description = "Not authenticated", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Managers and admins only", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/shipping/carriers")]
async fn list_carriers(
    _auth: Auth<min::Manager>,
    db: web::Data<Db>,
) -> Result<HttpResponse, ApiError> {
    let rows = db
        .run(|conn| Ok::<_, ApiError>(store::carriers(conn)?))
        .await?;
    Ok(HttpResponse::Ok().json(CarrierList {
        data: rows.into_iter().map(CarrierView::from).collect(),
    }))
}

/// Register a carrier.
///
/// Its tracking URL template gives the tracking URL of every parcel later shipped with it
/// (the ship action matches the carrier by code or name).
#[utoipa::path(
    operation_id = "createShippingCarrier",
    tag = "shipping",
    security(("bearer" = [])),
    request_body = CarrierInput,
    responses(
        (status = 201, description = "Registered", body = CarrierView),
        (status = 401, description = "Not authenticated", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Managers and admins only", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "A carrier with this code exists", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`validation-failed`: code, name or template invalid (every field named)", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/shipping/carriers")]
async fn create_carrier(
    _auth: Auth<min::Manager>,
    db: web::Data<Db>,
    body: Json<CarrierInput>,
) -> Result<HttpResponse, ApiError> {
    let row = carrier_row(body.into_inner(), None)?;
    let view = db
        .run(move |conn| {
            store::insert_carrier(conn, &row).map_err(|e| conflict_if_taken(e, "carrier"))?;
            Ok::<_, ApiError>(CarrierView::from(row))
        })
        .await?;
    Ok(crate::http::created(&format!("/v1/admin/shipping/carriers/{}", view.code)).json(view))
}

/// Replace a carrier's name and template.
///
/// Parcels already shipped keep the tracking URL they were given.
#[utoipa::path(
    operation_id = "updateShippingCarrier",
    tag = "shipping",
    security(("bearer" = [])),
    params(("code" = String, Path, description = "The carrier's code")),
    request_body = CarrierInput,
    responses(
        (status = 200, description = "Replaced", body = CarrierView),
        (status = 401, description = "Not authenticated", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Managers and admins only", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such carrier", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`validation-failed`: name or template invalid, or a `code` other than the path's", body = Problem, content_type = "application/problem+json"),
    )
)]
#[put("/shipping/carriers/{code}")]
async fn replace_carrier(
    _auth: Auth<min::Manager>,
    db: web::Data<Db>,
    code: web::Path<String>,
    body: Json<CarrierInput>,
) -> Result<HttpResponse, ApiError> {
    let row = carrier_row(body.into_inner(), Some(&code.into_inner()))?;
    let view = db
        .run(move |conn| {
            write_transaction(conn, |conn| {
                if store::update_carrier(conn, &row.code, &row.name, &row.tracking_url)? == 0 {
                    return Err(ApiError::NotFound);
                }
                store::carrier(conn, &row.code)?
                    .map(CarrierView::from)
                    .ok_or(ApiError::NotFound)
            })
        })
        .await?;
    Ok(HttpResponse::Ok().json(view))
}

/// Remove a carrier.
///
/// Refused (409) while a method names it. Shipments and orders keep what they recorded.
#[utoipa::path(
    operation_id = "deleteShippingCarrier",
    tag = "shipping",
    security(("bearer" = [])),
    params(("code" = String, Path, description = "The carrier's code")),
    responses(
        (status = 204, description = "Removed"),
        (status = 401, description = "Not authenticated", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Managers and admins only", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such carrier", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "A method names this carrier: change or remove it first", body = Problem, content_type = "application/problem+json"),
    )
)]
#[delete("/shipping/carriers/{code}")]
async fn delete_carrier(
    _auth: Auth<min::Manager>,
    db: web::Data<Db>,
    code: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let code = code.into_inner();
    db.run(move |conn| {
        write_transaction(conn, |conn| {
            if store::methods_of_carrier(conn, &code)? > 0 {
                return Err(ApiError::conflict(
                    "A shipping method names this carrier; change or remove the method first.",
                ));
            }
            match store::delete_carrier(conn, &code)? {
                0 => Err(ApiError::NotFound),
                _ => Ok(()),
            }
        })
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// List the shipping methods.
///
/// Every method, active or not, with its zones, brackets and free-shipping threshold, by
/// code; `standard` is the seeded one.
#[utoipa::path(
    operation_id = "listShippingMethods",
    tag = "shipping",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Every method, active or not, by code", body = MethodList),
        (status = 401, description = "Not authenticated", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Managers and admins only", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/shipping/methods")]
async fn list_methods(
    _auth: Auth<min::Manager>,
    db: web::Data<Db>,
    shop: web::Data<Shop>,
) -> Result<HttpResponse, ApiError> {
    let rows = db
        .run(|conn| Ok::<_, ApiError>(store::methods(conn, false)?))
        .await?;
    Ok(HttpResponse::Ok().json(MethodList {
        data: rows
            .iter()
            .map(|r| MethodView::new(r, shop.currency))
            .collect(),
    }))
}

/// One shipping method.
///
/// The method with its zones, brackets and free-shipping threshold.
#[utoipa::path(
    operation_id = "getShippingMethod",
    tag = "shipping",
    security(("bearer" = [])),
    params(("code" = String, Path, description = "The method's code")),
    responses(
        (status = 200, description = "The method", body = MethodView),
        (status = 401, description = "Not authenticated", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Managers and admins only", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such method", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/shipping/methods/{code}")]
async fn get_method(
    _auth: Auth<min::Manager>,
    db: web::Data<Db>,
    shop: web::Data<Shop>,
    code: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let code = code.into_inner();
    let row = db
        .run(move |conn| store::method(conn, &code)?.ok_or(ApiError::NotFound))
        .await?;
    Ok(HttpResponse::Ok().json(MethodView::new(&row, shop.currency)))
}

/// Add a shipping method.
///
/// Prices in minor units of the shop's currency. Orders placed with it keep its name,
/// carrier and price as they were.
#[utoipa::path(
    operation_id = "createShippingMethod",
    tag = "shipping",
    security(("bearer" = [])),
    request_body = MethodInput,
    responses(
        (status = 201, description = "Added", body = MethodView),
        (status = 401, description = "Not authenticated", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Managers and admins only", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "A method with this code exists", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`validation-failed`: every invalid field named (countries, brackets, divisor, unknown carrier…)", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/shipping/methods")]
async fn create_method(
    _auth: Auth<min::Manager>,
    db: web::Data<Db>,
    shop: web::Data<Shop>,
    body: Json<MethodInput>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let row = db
        .run(move |conn| {
            write_transaction(conn, |conn| {
                let row = method_row(conn, body, None)?;
                store::insert_method(conn, &row).map_err(|e| conflict_if_taken(e, "method"))?;
                Ok::<_, ApiError>(row)
            })
        })
        .await?;
    Ok(
        crate::http::created(&format!("/v1/admin/shipping/methods/{}", row.code))
            .json(MethodView::new(&row, shop.currency)),
    )
}

/// Replace a shipping method.
///
/// Every field is written (omitted optional ones take their defaults). Orders already
/// placed keep the method and price they were placed with. Replacing `standard` ends its
/// pricing by `VALISE_SHIPPING_*`.
#[utoipa::path(
    operation_id = "updateShippingMethod",
    tag = "shipping",
    security(("bearer" = [])),
    params(("code" = String, Path, description = "The method's code")),
    request_body = MethodInput,
    responses(
        (status = 200, description = "Replaced", body = MethodView),
        (status = 401, description = "Not authenticated", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Managers and admins only", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such method", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`validation-failed`: every invalid field named, or a `code` other than the path's", body = Problem, content_type = "application/problem+json"),
    )
)]
#[put("/shipping/methods/{code}")]
async fn replace_method(
    _auth: Auth<min::Manager>,
    db: web::Data<Db>,
    shop: web::Data<Shop>,
    code: web::Path<String>,
    body: Json<MethodInput>,
) -> Result<HttpResponse, ApiError> {
    let (code, body) = (code.into_inner(), body.into_inner());
    let row = db
        .run(move |conn| {
            write_transaction(conn, |conn| {
                let existing = store::method(conn, &code)?.ok_or(ApiError::NotFound)?;
                let mut row = method_row(conn, body, Some(&existing.code))?;
                row.created_at = existing.created_at;
                store::replace_method(conn, &row)?;
                Ok::<_, ApiError>(row)
            })
        })
        .await?;
    Ok(HttpResponse::Ok().json(MethodView::new(&row, shop.currency)))
}

/// Remove a shipping method.
///
/// Orders placed with it keep its name and price. To stop offering a method for a while,
/// replace it with `active: false` instead.
#[utoipa::path(
    operation_id = "deleteShippingMethod",
    tag = "shipping",
    security(("bearer" = [])),
    params(("code" = String, Path, description = "The method's code")),
    responses(
        (status = 204, description = "Removed"),
        (status = 401, description = "Not authenticated", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Managers and admins only", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such method", body = Problem, content_type = "application/problem+json"),
    )
)]
#[delete("/shipping/methods/{code}")]
async fn delete_method(
    _auth: Auth<min::Manager>,
    db: web::Data<Db>,
    code: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let code = code.into_inner();
    db.run(move |conn| match store::delete_method(conn, &code)? {
        0 => Err(ApiError::NotFound),
        _ => Ok(()),
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}
