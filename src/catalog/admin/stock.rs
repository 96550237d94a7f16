//! `/v1/admin/variants/{id}/stock…`: stock set after a count, or adjusted atomically.

use actix_web::{post, put, web, HttpResponse};
use serde::Deserialize;
use utoipa::ToSchema;

use super::{observe, variant_view};
use crate::auth::{min, Auth};
use crate::catalog::model::{self, in_range, VariantView};
use crate::catalog::store;
use crate::config::Shop;
use crate::db::Db;
use crate::http::error::{ApiError, Problem};
use crate::http::extract::Json;
use crate::privacy::refuse_sensitive;
use crate::versions::Versions;

pub(super) fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(set_stock).service(adjust_stock);
}

/// A stock level, as counted.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"available": 40}))]
pub struct StockLevel {
    /// Units available to order from now on, 0–1,000,000.
    #[schema(minimum = 0, maximum = 1_000_000, example = 40)]
    pub available: i32,
}

/// A change of stock, relative to what is there.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"delta": -2, "reason": "damaged in the warehouse"}))]
pub struct StockAdjustment {
    /// Units to add (positive) or remove (negative): -1,000,000 to 1,000,000, not zero.
    #[schema(minimum = -1_000_000, maximum = 1_000_000, example = -2)]
    pub delta: i32,
    /// Why, for the stock history: 1–200 characters (trimmed; no control characters). Card,
    /// bank or identity-document numbers are refused.
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = r"^[\s\u0085]*[^\u0000-\u0009\u000b-\u001f\u007f-\u009f]*[\s\u0085]*$",
        example = "damaged in the warehouse"
    )]
    pub reason: String,
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
    let available = in_range(
        "available",
        body.into_inner().available,
        0,
        model::MAX_STOCK,
        "units",
    )?;
    let currency = shop.currency.clone();
    let actor = auth.principal.id.clone();
    let (view, _) = db
        .run(move |conn| {
            crate::db::write_transaction(conn, |conn| {
                let previous = store::set_stock(conn, &id, available)?.ok_or(ApiError::NotFound)?;
                store::record_stock_movement(
                    conn,
                    &id,
                    available - previous,
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
    let body = body.into_inner();
    // `unsigned_abs`: `abs` of i32::MIN overflows (a panic in debug builds, and in release a
    // negative number that slipped past this check).
    if body.delta == 0 || body.delta.unsigned_abs() > model::MAX_STOCK.unsigned_abs() {
        return Err(ApiError::validation(
            "delta",
            "must be non-zero and at most 1,000,000 units",
        ));
    }
    let reason = model::text("reason", &body.reason, 200)?;
    refuse_sensitive("reason", &reason)?;
    let delta = body.delta;
    let currency = shop.currency.clone();
    let actor = auth.principal.id.clone();
    let (view, _) = db
        .run(move |conn| {
            crate::db::write_transaction(conn, |conn| {
                let variant = store::get_variant(conn, &id)?.ok_or(ApiError::NotFound)?;
                if !store::adjust_stock(conn, &id, delta, model::MAX_STOCK)? {
                    // Nothing changed; the row as it is now says which bound held.
                    let now =
                        store::get_variant(conn, &id)?.map_or(variant.available, |v| v.available);
                    if now.saturating_add(delta) > model::MAX_STOCK {
                        return Err(ApiError::validation(
                            "delta",
                            format!("would take the stock above {} units", model::MAX_STOCK),
                        ));
                    }
                    return Err(ApiError::conflict(
                        "The adjustment would take the stock below zero.",
                    ));
                }
                store::record_stock_movement(conn, &id, delta, &reason, &actor)?;
                variant_view(conn, &id, &currency)
            })
        })
        .await?;
    observe(&db, &versions).await;
    Ok(HttpResponse::Ok().json(view))
}
