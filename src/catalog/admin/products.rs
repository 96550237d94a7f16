//! `/v1/admin/products…`: products, created with their variants, changed, archived.

use actix_web::{delete, patch, post, web, HttpRequest, HttpResponse};

use super::{observe, product_etag};
use crate::auth::{min, Auth};
use crate::catalog::editing;
use crate::catalog::model::{NewProduct, ProductPatch, ProductView};
use crate::config::Shop;
use crate::db::Db;
use crate::http::cache::{if_match_allows, if_match_header, with_etag};
use crate::http::error::{ApiError, Problem};
use crate::http::extract::Json;
use crate::versions::Versions;

pub(super) fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(create_product)
        .service(update_product)
        .service(archive_product);
}

/// Create a product.
///
/// With its variants and their stock. The size class is derived from the dimensions. The
/// response's `ETag` is the edit version to send as `If-Match` with a change.
#[utoipa::path(
    operation_id = "createProduct",
    tag = "catalog-admin",
    security(("bearer" = []), ("api_key" = [])),
    request_body = NewProduct,
    responses(
        (status = 201, description = "Created", body = ProductView, headers(("ETag" = String, description = "Edit ETag `\"p<version>\"`: send it as `If-Match` with a change"))),
        (status = 401, description = "Not authenticated", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Managers and above", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Slug or SKU already used", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid field", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/products")]
async fn create_product(
    versions: web::Data<Versions>,
    _auth: Auth<min::Manager>,
    db: web::Data<Db>,
    shop: web::Data<Shop>,
    body: Json<NewProduct>,
) -> Result<HttpResponse, ApiError> {
    let product = body.into_inner().parse()?;
    let currency = shop.currency.code();
    let (view, version) = db
        .run(move |conn| editing::create_product(conn, &product, currency))
        .await?;
    observe(&db, &versions).await;
    Ok(with_etag(
        crate::http::created(&format!("/v1/products/{}", view.id)).json(view),
        &product_etag(version),
    ))
}

/// Change a product.
///
/// Partial update; send the edit `ETag` as `If-Match` to avoid overwriting someone else's
/// change (412 when it moved on).
#[utoipa::path(
    operation_id = "updateProduct",
    tag = "catalog-admin",
    security(("bearer" = []), ("api_key" = [])),
    params(("id" = String, Path, description = "`prod_…` id"), ("If-Match" = Option<String>, Header, description = "Edit ETag `\"p<version>\"` of the product as read (or `*`; several separated by commas); without it the change applies to whatever version is current", example = "\"p3\"")),
    request_body = ProductPatch,
    responses(
        (status = 200, description = "Changed", body = ProductView, headers(("ETag" = String, description = "The new edit ETag `\"p<version>\"`"))),
        (status = 401, description = "Not authenticated", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Managers and above", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such product", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "Changed since read", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid field", body = Problem, content_type = "application/problem+json"),
    )
)]
#[patch("/products/{id}")]
async fn update_product(
    versions: web::Data<Versions>,
    req: HttpRequest,
    _auth: Auth<min::Manager>,
    db: web::Data<Db>,
    shop: web::Data<Shop>,
    id: web::Path<String>,
    body: Json<ProductPatch>,
) -> Result<HttpResponse, ApiError> {
    let if_match = if_match_header(&req);
    let admits = move |version| if_match_allows(if_match.as_deref(), &product_etag(version));
    let (id, patch, currency) = (id.into_inner(), body.into_inner(), shop.currency.code());
    let (view, version) = db
        .run(move |conn| editing::update_product(conn, &id, admits, patch, currency))
        .await?;
    observe(&db, &versions).await;
    Ok(with_etag(
        HttpResponse::Ok().json(view),
        &product_etag(version),
    ))
}

/// Archive a product.
///
/// It disappears from listings and can no longer be added to carts, but stays readable by
/// id for the orders that contain it.
#[utoipa::path(
    operation_id = "archiveProduct",
    tag = "catalog-admin",
    security(("bearer" = []), ("api_key" = [])),
    params(("id" = String, Path, description = "`prod_…` id")),
    responses(
        (status = 204, description = "Archived"),
        (status = 401, description = "Not authenticated", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Managers and above", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such product", body = Problem, content_type = "application/problem+json"),
    )
)]
#[delete("/products/{id}")]
async fn archive_product(
    versions: web::Data<Versions>,
    _auth: Auth<min::Manager>,
    db: web::Data<Db>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    db.run(move |conn| editing::archive_product(conn, &id))
        .await?;
    observe(&db, &versions).await;
    Ok(HttpResponse::NoContent().finish())
}
