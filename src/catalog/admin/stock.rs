//! `/v1/admin/variants/{id}/stock…`: stock set after a count, or adjusted atomically.

use actix_web::{post, put, web, HttpResponse};

use super::observe;
use crate::auth::{min, Auth};
use crate::catalog::editing;
use crate::catalog::model::{StockAdjustment, StockLevel, VariantView};
use crate::config::Shop;
use crate::db::Db;
use crate::http::error::{ApiError, Problem};
use crate::http::extract::Json;
use crate::versions::Versions;

pub(super) fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(set_stock).service(adjust_stock);
}

/// Set a variant's stock.
///
/// An absolute count, e.g. after a stock take.
#[utoipa::path(
    operation_id = "setVariantStock",
    tag = "catalog-admin",
    security(("bearer" = []), ("api_key" = [])),
    params(("id" = String, Path, description = "`var_…` id")),
    request_body = StockLevel,
    responses(
        (status = 200, description = "The variant with its new stock", body = VariantView),
        (status = 401, description = "Not authenticated", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Managers and above", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such variant", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Negative or too large", body = Problem, content_type = "application/problem+json"),
    )
)]
#[put("/variants/{id}/stock")]
async fn set_stock(
    versions: web::Data<Versions>,
    auth: Auth<min::Manager>,
    db: web::Data<Db>,
    shop: web::Data<Shop>,
    id: web::Path<String>,
    body: Json<StockLevel>,
) -> Result<HttpResponse, ApiError> {
    let available = body.into_inner().parse()?;
    let (id, currency) = (id.into_inner(), shop.currency.code());
    let actor = auth.principal.id.clone();
    let view = db
        .run(move |conn| editing::set_stock(conn, &id, available, &actor, currency))
        .await?;
    observe(&db, &versions).await;
    Ok(HttpResponse::Ok().json(view))
}

/// Adjust a variant's stock.
///
/// Adds or removes units atomically, relative to the stock at that instant (so it composes
/// with concurrent checkouts). Never goes below zero: removing more than is available is a
/// 409. Never goes above 1,000,000 units: adding past it is a 422, and nothing changes.
#[utoipa::path(
    operation_id = "adjustVariantStock",
    tag = "catalog-admin",
    security(("bearer" = []), ("api_key" = [])),
    params(("id" = String, Path, description = "`var_…` id")),
    request_body = StockAdjustment,
    responses(
        (status = 200, description = "The variant with its new stock", body = VariantView),
        (status = 401, description = "Not authenticated", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Managers and above", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such variant", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Would go below zero", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid field, or would go above 1,000,000 units", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/variants/{id}/stock-adjustments")]
async fn adjust_stock(
    versions: web::Data<Versions>,
    auth: Auth<min::Manager>,
    db: web::Data<Db>,
    shop: web::Data<Shop>,
    id: web::Path<String>,
    body: Json<StockAdjustment>,
) -> Result<HttpResponse, ApiError> {
    let change = body.into_inner().parse()?;
    let (id, currency) = (id.into_inner(), shop.currency.code());
    let actor = auth.principal.id.clone();
    let view = db
        .run(move |conn| editing::adjust_stock(conn, &id, &change, &actor, currency))
        .await?;
    observe(&db, &versions).await;
    Ok(HttpResponse::Ok().json(view))
}
