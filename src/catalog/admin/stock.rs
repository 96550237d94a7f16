//! `/v1/admin/variants/{id}/stock…`: stock set after a count, or adjusted atomically.

use super::{observe, variant_view};
use crate::auth::{min, Auth};
use crate::catalog::model::{Stock, StockAdjustment, StockLevel, VariantView};
use crate::catalog::store;
use crate::config::Shop;
use crate::db::Db;
use crate::http::error::{ApiError, Problem};
use crate::http::extract::Json;
use crate::versions::Versions;
use actix_web::{post, put, web, HttpResponse};

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
    let id = id.into_inner();
    let available = body.into_inner().parse()?;
    let currency = shop.currency.clone();
    let actor = auth.principal.id.clone();
    let (view, _) = db
        .run(move |conn| {
            crate::db::write_transaction(conn, |conn| {
                let previous = store::set_stock(conn, &id, available)?.ok_or(ApiError::NotFound)?;
                store::record_stock_movement(
                    conn,
                    &id,
                    available.get() - previous,
                    "stock level set",
                    &actor,
                )?;
                variant_view(conn, &id, &currency)
            })
        })
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
    let id = id.into_inner();
    let change = body.into_inner().parse()?;
    let currency = shop.currency.clone();
    let actor = auth.principal.id.clone();
    let (view, _) = db
        .run(move |conn| {
            crate::db::write_transaction(conn, |conn| {
                let variant = store::get_variant(conn, &id)?.ok_or(ApiError::NotFound)?;
                if !store::adjust_stock(conn, &id, change.delta)? {
                    // Nothing changed; the row as it is now says which bound held.
                    let now =
                        store::get_variant(conn, &id)?.map_or(variant.available, |v| v.available);
                    if now.saturating_add(change.delta.get()) > Stock::MAX {
                        return Err(ApiError::validation(
                            "delta",
                            format!("would take the stock above {} units", Stock::MAX),
                        ));
                    }
                    return Err(ApiError::conflict(
                        "The adjustment would take the stock below zero.",
                    ));
                }
                store::record_stock_movement(
                    conn,
                    &id,
                    change.delta.get(),
                    change.reason.as_str(),
                    &actor,
                )?;
                variant_view(conn, &id, &currency)
            })
        })
        .await?;
    observe(&db, &versions).await;
    Ok(HttpResponse::Ok().json(view))
}
