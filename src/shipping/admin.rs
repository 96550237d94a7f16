//! `/v1/admin/shipping/…`: carriers and methods, kept by managers. Every change is audited
//! (no personal data: the action and who), and a replacement or a removal must name the
//! edit `ETag` it was based on in `If-Match` (428 without, 412 when it moved on), so two
//! managers never silently overwrite each other's prices.

use actix_web::{delete, get, post, put, web, HttpRequest, HttpResponse};

use super::model::{Code, TrackingTemplate, Zones, DIVISOR_RANGE};
use super::store::{self, CarrierRow, MethodRow};
use super::view::{CarrierInput, CarrierList, CarrierView, MethodInput, MethodList, MethodView};
use crate::audit::{self, Action, Actor, Event, Purpose};
use crate::auth::{min, Auth};
use crate::config::Shop;
use crate::crypto::Crypto;
use crate::db::{write_transaction, Db, DbConnection};
use crate::http::cache::{if_match_allows, private_json_with_etag, required_if_match, with_etag};
use crate::http::error::{ApiError, FieldError, Problem};
use crate::http::extract::Json;
use crate::invalid::Invalid;

pub fn configure_admin(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(list_carriers)
        .service(create_carrier)
        .service(get_carrier)
        .service(replace_carrier)
        .service(delete_carrier)
        .service(list_methods)
        .service(create_method)
        .service(get_method)
        .service(replace_method)
        .service(delete_method);
}

/// The edit ETag of a carrier at `version`.
fn carrier_etag(version: i32) -> String {
    format!("\"sc{version}\"")
}

/// The edit ETag of a method at `version`.
fn method_etag(version: i32) -> String {
    format!("\"sm{version}\"")
}

/// A manager's write: who makes it (for the audit log, in the write's transaction) and, for
/// a replacement or a removal, the `If-Match` it was based on.
struct Edit {
    actor: Actor,
    crypto: std::sync::Arc<Crypto>,
    if_match: Option<String>,
}

impl Edit {
    /// A creation: nothing to be based on.
    fn new(auth: &Auth<min::Manager>, crypto: web::Data<Crypto>) -> Self {
        Self {
            actor: Actor::from_principal(&auth.principal, None),
            crypto: crypto.into_inner(),
            if_match: None,
        }
    }

    /// A replacement or a removal: 428 without `If-Match`.
    fn guarded(
        req: &HttpRequest,
        auth: &Auth<min::Manager>,
        crypto: web::Data<Crypto>,
    ) -> Result<Self, ApiError> {
        let if_match = required_if_match(req)?;
        Ok(Self {
            if_match: Some(if_match),
            ..Self::new(auth, crypto)
        })
    }

    /// 412 unless the `If-Match` names `current_etag` (or `*`).
    fn based_on(&self, current_etag: &str) -> Result<(), ApiError> {
        if if_match_allows(self.if_match.as_deref(), current_etag) {
            Ok(())
        } else {
            Err(ApiError::PreconditionFailed)
        }
    }

    /// Records the change in the audit log (the action and who; no personal data).
    fn audited(&self, conn: &mut DbConnection, action: Action) -> Result<(), ApiError> {
        audit::record(
            conn,
            &self.crypto,
            &self.actor,
            &Event {
                action,
                subject_id: None,
                fields: &[],
                purpose: Purpose::ShopConfiguration,
            },
        )?;
        Ok(())
    }
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
                version: 1,
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
                version: 1,
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
/// (the ship action matches the carrier by code or name). The response's `ETag` is the edit
/// version to send as `If-Match` with a replacement or a removal. Audited.
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
    auth: Auth<min::Manager>,
    db: web::Data<Db>,
    crypto: web::Data<Crypto>,
    body: Json<CarrierInput>,
) -> Result<HttpResponse, ApiError> {
    let row = carrier_row(body.into_inner(), None)?;
    let edit = Edit::new(&auth, crypto);
    let row = db
        .run(move |conn| {
            write_transaction(conn, |conn| {
                store::insert_carrier(conn, &row).map_err(|e| conflict_if_taken(e, "carrier"))?;
                edit.audited(conn, Action::ShippingCarrierCreate)?;
                Ok::<_, ApiError>(row)
            })
        })
        .await?;
    let (location, etag) = (
        format!("/v1/admin/shipping/carriers/{}", row.code),
        carrier_etag(row.version),
    );
    Ok(with_etag(
        crate::http::created(&location).json(CarrierView::from(row)),
        &etag,
    ))
}

/// One carrier.
///
/// With its edit `ETag`, to send as `If-Match` with a replacement or a removal.
#[utoipa::path(
    operation_id = "getShippingCarrier",
    tag = "shipping",
    security(("bearer" = [])),
    params(("code" = String, Path, description = "The carrier's code")),
    responses(
        (status = 200, description = "The carrier", body = CarrierView),
        (status = 304, description = "Unchanged since the `If-None-Match` ETag"),
        (status = 401, description = "Not authenticated", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Managers and admins only", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such carrier", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/shipping/carriers/{code}")]
async fn get_carrier(
    req: HttpRequest,
    _auth: Auth<min::Manager>,
    db: web::Data<Db>,
    code: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let code = code.into_inner();
    let row = db
        .run(move |conn| store::carrier(conn, &code)?.ok_or(ApiError::NotFound))
        .await?;
    let etag = carrier_etag(row.version);
    private_json_with_etag(&req, &CarrierView::from(row), &etag)
}

/// Replace a carrier's name and template.
///
/// Send the carrier's edit `ETag` as `If-Match` (428 without it, 412 when someone changed
/// the carrier since). Parcels already shipped keep the tracking URL they were given.
/// Audited.
#[utoipa::path(
    operation_id = "updateShippingCarrier",
    tag = "shipping",
    security(("bearer" = [])),
    params(("code" = String, Path, description = "The carrier's code"), ("If-Match" = String, Header, description = "The carrier's edit `ETag` as read (`\"sc<version>\"`, or `*`); required", example = "\"sc1\"")),
    request_body = CarrierInput,
    responses(
        (status = 200, description = "Replaced", body = CarrierView),
        (status = 401, description = "Not authenticated", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Managers and admins only", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such carrier", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "`precondition-failed`: `If-Match` names a version that is no longer current", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`validation-failed`: name or template invalid, or a `code` other than the path's", body = Problem, content_type = "application/problem+json"),
        (status = 428, description = "`precondition-required`: no `If-Match`", body = Problem, content_type = "application/problem+json"),
    )
)]
#[put("/shipping/carriers/{code}")]
async fn replace_carrier(
    req: HttpRequest,
    auth: Auth<min::Manager>,
    db: web::Data<Db>,
    crypto: web::Data<Crypto>,
    code: web::Path<String>,
    body: Json<CarrierInput>,
) -> Result<HttpResponse, ApiError> {
    let row = carrier_row(body.into_inner(), Some(&code.into_inner()))?;
    let edit = Edit::guarded(&req, &auth, crypto)?;
    let row = db
        .run(move |conn| {
            write_transaction(conn, |conn| {
                let current = store::carrier(conn, &row.code)?.ok_or(ApiError::NotFound)?;
                edit.based_on(&carrier_etag(current.version))?;
                if !store::update_carrier(conn, &row, current.version)? {
                    return Err(ApiError::PreconditionFailed);
                }
                edit.audited(conn, Action::ShippingCarrierUpdate)?;
                store::carrier(conn, &row.code)?.ok_or(ApiError::NotFound)
            })
        })
        .await?;
    let etag = carrier_etag(row.version);
    Ok(with_etag(
        HttpResponse::Ok().json(CarrierView::from(row)),
        &etag,
    ))
}

/// Remove a carrier.
///
/// Send the carrier's edit `ETag` as `If-Match` (428 without it, 412 when someone changed
/// the carrier since). Refused (409) while a method names it. Shipments and orders keep
/// what they recorded. Audited.
#[utoipa::path(
    operation_id = "deleteShippingCarrier",
    tag = "shipping",
    security(("bearer" = [])),
    params(("code" = String, Path, description = "The carrier's code"), ("If-Match" = String, Header, description = "The carrier's edit `ETag` as read (`\"sc<version>\"`, or `*`); required", example = "\"sc1\"")),
    responses(
        (status = 204, description = "Removed"),
        (status = 401, description = "Not authenticated", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Managers and admins only", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such carrier", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "A method names this carrier: change or remove it first", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "`precondition-failed`: `If-Match` names a version that is no longer current", body = Problem, content_type = "application/problem+json"),
        (status = 428, description = "`precondition-required`: no `If-Match`", body = Problem, content_type = "application/problem+json"),
    )
)]
#[delete("/shipping/carriers/{code}")]
async fn delete_carrier(
    req: HttpRequest,
    auth: Auth<min::Manager>,
    db: web::Data<Db>,
    crypto: web::Data<Crypto>,
    code: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let code = code.into_inner();
    let edit = Edit::guarded(&req, &auth, crypto)?;
    db.run(move |conn| {
        write_transaction(conn, |conn| {
            let current = store::carrier(conn, &code)?.ok_or(ApiError::NotFound)?;
            edit.based_on(&carrier_etag(current.version))?;
            if store::methods_of_carrier(conn, &code)? > 0 {
                return Err(ApiError::conflict(
                    "A shipping method names this carrier; change or remove the method first.",
                ));
            }
            if store::delete_carrier(conn, &code, current.version)? == 0 {
                return Err(ApiError::PreconditionFailed);
            }
            edit.audited(conn, Action::ShippingCarrierDelete)
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
/// The method with its zones, brackets and free-shipping threshold, and its edit `ETag` to
/// send as `If-Match` with a replacement or a removal.
#[utoipa::path(
    operation_id = "getShippingMethod",
    tag = "shipping",
    security(("bearer" = [])),
    params(("code" = String, Path, description = "The method's code")),
    responses(
        (status = 200, description = "The method", body = MethodView),
        (status = 304, description = "Unchanged since the `If-None-Match` ETag"),
        (status = 401, description = "Not authenticated", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Managers and admins only", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such method", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/shipping/methods/{code}")]
async fn get_method(
    req: HttpRequest,
    _auth: Auth<min::Manager>,
    db: web::Data<Db>,
    shop: web::Data<Shop>,
    code: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let code = code.into_inner();
    let row = db
        .run(move |conn| store::method(conn, &code)?.ok_or(ApiError::NotFound))
        .await?;
    private_json_with_etag(
        &req,
        &MethodView::new(&row, shop.currency),
        &method_etag(row.version),
    )
}

/// Add a shipping method.
///
/// Prices in minor units of the shop's currency. Orders placed with it keep its name,
/// carrier and price as they were. The response's `ETag` is the edit version to send as
/// `If-Match` with a replacement or a removal. Audited.
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
    auth: Auth<min::Manager>,
    db: web::Data<Db>,
    crypto: web::Data<Crypto>,
    shop: web::Data<Shop>,
    body: Json<MethodInput>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let edit = Edit::new(&auth, crypto);
    let row = db
        .run(move |conn| {
            write_transaction(conn, |conn| {
                let row = method_row(conn, body, None)?;
                store::insert_method(conn, &row).map_err(|e| conflict_if_taken(e, "method"))?;
                edit.audited(conn, Action::ShippingMethodCreate)?;
                Ok::<_, ApiError>(row)
            })
        })
        .await?;
    let location = format!("/v1/admin/shipping/methods/{}", row.code);
    Ok(with_etag(
        crate::http::created(&location).json(MethodView::new(&row, shop.currency)),
        &method_etag(row.version),
    ))
}

/// Replace a shipping method.
///
/// Send the method's edit `ETag` as `If-Match` (428 without it, 412 when someone changed
/// the method since). Every field is written (omitted optional ones take their defaults).
/// Orders already placed keep the method and price they were placed with. Replacing
/// `standard` ends its pricing by `VALISE_SHIPPING_*`. Audited.
#[utoipa::path(
    operation_id = "updateShippingMethod",
    tag = "shipping",
    security(("bearer" = [])),
    params(("code" = String, Path, description = "The method's code"), ("If-Match" = String, Header, description = "The method's edit `ETag` as read (`\"sm<version>\"`, or `*`); required", example = "\"sm1\"")),
    request_body = MethodInput,
    responses(
        (status = 200, description = "Replaced", body = MethodView),
        (status = 401, description = "Not authenticated", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Managers and admins only", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such method", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "`precondition-failed`: `If-Match` names a version that is no longer current", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`validation-failed`: every invalid field named, or a `code` other than the path's", body = Problem, content_type = "application/problem+json"),
        (status = 428, description = "`precondition-required`: no `If-Match`", body = Problem, content_type = "application/problem+json"),
    )
)]
#[put("/shipping/methods/{code}")]
async fn replace_method(
    req: HttpRequest,
    auth: Auth<min::Manager>,
    db: web::Data<Db>,
    crypto: web::Data<Crypto>,
    shop: web::Data<Shop>,
    code: web::Path<String>,
    body: Json<MethodInput>,
) -> Result<HttpResponse, ApiError> {
    let (code, body) = (code.into_inner(), body.into_inner());
    let edit = Edit::guarded(&req, &auth, crypto)?;
    let row = db
        .run(move |conn| {
            write_transaction(conn, |conn| {
                let existing = store::method(conn, &code)?.ok_or(ApiError::NotFound)?;
                let mut row = method_row(conn, body, Some(&existing.code))?;
                edit.based_on(&method_etag(existing.version))?;
                row.created_at = existing.created_at;
                row.version = existing.version + 1;
                if !store::replace_method(conn, &row, existing.version)? {
                    return Err(ApiError::PreconditionFailed);
                }
                edit.audited(conn, Action::ShippingMethodUpdate)?;
                Ok::<_, ApiError>(row)
            })
        })
        .await?;
    Ok(with_etag(
        HttpResponse::Ok().json(MethodView::new(&row, shop.currency)),
        &method_etag(row.version),
    ))
}

/// Remove a shipping method.
///
/// Send the method's edit `ETag` as `If-Match` (428 without it, 412 when someone changed
/// the method since). Orders placed with it keep its name and price. To stop offering a
/// method for a while, replace it with `active: false` instead. Audited.
#[utoipa::path(
    operation_id = "deleteShippingMethod",
    tag = "shipping",
    security(("bearer" = [])),
    params(("code" = String, Path, description = "The method's code"), ("If-Match" = String, Header, description = "The method's edit `ETag` as read (`\"sm<version>\"`, or `*`); required", example = "\"sm1\"")),
    responses(
        (status = 204, description = "Removed"),
        (status = 401, description = "Not authenticated", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Managers and admins only", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such method", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "`precondition-failed`: `If-Match` names a version that is no longer current", body = Problem, content_type = "application/problem+json"),
        (status = 428, description = "`precondition-required`: no `If-Match`", body = Problem, content_type = "application/problem+json"),
    )
)]
#[delete("/shipping/methods/{code}")]
async fn delete_method(
    req: HttpRequest,
    auth: Auth<min::Manager>,
    db: web::Data<Db>,
    crypto: web::Data<Crypto>,
    code: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let code = code.into_inner();
    let edit = Edit::guarded(&req, &auth, crypto)?;
    db.run(move |conn| {
        write_transaction(conn, |conn| {
            let current = store::method(conn, &code)?.ok_or(ApiError::NotFound)?;
            edit.based_on(&method_etag(current.version))?;
            if store::delete_method(conn, &code, current.version)? == 0 {
                return Err(ApiError::PreconditionFailed);
            }
            edit.audited(conn, Action::ShippingMethodDelete)
        })
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}
