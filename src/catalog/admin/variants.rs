//! `/v1/admin/products/{id}/variants`, `/v1/admin/variants/{id}`: variants added, changed,
//! archived.

use actix_web::{delete, patch, post, web, HttpRequest, HttpResponse};

use super::{observe, variant_etag};
use crate::auth::{min, Auth};
use crate::catalog::editing;
use crate::catalog::model::{NewVariant, VariantPatch, VariantView};
use crate::config::Shop;
use crate::db::Db;
use crate::http::cache::{if_match_allows, if_match_header, with_etag};
use crate::http::error::{ApiError, Problem};
use crate::http::extract::Json;
use crate::versions::Versions;

pub(super) fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(create_variant)
        .service(update_variant)
        .service(archive_variant);
}

/// Add a variant to a product.
///
/// A new colour or edition with its own SKU, stock and, optionally, its own price.
#[utoipa::path(
    operation_id = "createVariant",
    tag = "catalog-admin",
    security(("bearer" = []), ("api_key" = [])),
    params(("id" = String, Path, description = "`prod_…` id")),
    request_body = NewVariant,
    responses(
        (status = 201, description = "Created", body = VariantView, headers(("ETag" = String, description = "Edit ETag `\"v<version>\"`: send it as `If-Match` with a change"))),
        (status = 401, description = "Not authenticated", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Managers and above", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such product", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "SKU already used", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid field", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/products/{id}/variants")]
async fn create_variant(
    versions: web::Data<Versions>,
    _auth: Auth<min::Manager>,
    db: web::Data<Db>,
    shop: web::Data<Shop>,
    id: web::Path<String>,
    body: Json<NewVariant>,
) -> Result<HttpResponse, ApiError> {
    let variant = body.into_inner().parse("$")?;
    let (id, currency) = (id.into_inner(), shop.currency.code());
    let (view, version) = db
        .run(move |conn| editing::create_variant(conn, &id, &variant, currency))
        .await?;
    observe(&db, &versions).await;
    Ok(with_etag(
        crate::http::created(&format!("/v1/admin/variants/{}", view.id)).json(view),
        &variant_etag(version),
    ))
}

/// Change a variant's colour or price.
///
/// Send the edit `ETag` (`"v<version>"`) as `If-Match`.
#[utoipa::path(
    operation_id = "updateVariant",
    tag = "catalog-admin",
    security(("bearer" = []), ("api_key" = [])),
    params(("id" = String, Path, description = "`var_…` id"), ("If-Match" = Option<String>, Header, description = "Edit ETag `\"v<version>\"` of the variant as read (or `*`; several separated by commas); without it the change applies to whatever version is current", example = "\"v2\"")),
    request_body = VariantPatch,
    responses(
        (status = 200, description = "Changed", body = VariantView, headers(("ETag" = String, description = "The new edit ETag `\"v<version>\"`"))),
        (status = 401, description = "Not authenticated", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Managers and above", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such variant", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "Changed since read", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid field", body = Problem, content_type = "application/problem+json"),
    )
)]
#[patch("/variants/{id}")]
async fn update_variant(
    versions: web::Data<Versions>,
    req: HttpRequest,
    _auth: Auth<min::Manager>,
    db: web::Data<Db>,
    shop: web::Data<Shop>,
    id: web::Path<String>,
    body: Json<VariantPatch>,
) -> Result<HttpResponse, ApiError> {
    let if_match = if_match_header(&req);
    let admits = move |version| if_match_allows(if_match.as_deref(), &variant_etag(version));
    let (id, patch, currency) = (id.into_inner(), body.into_inner(), shop.currency.code());
    let (view, version) = db
        .run(move |conn| editing::update_variant(conn, &id, admits, patch, currency))
        .await?;
    observe(&db, &versions).await;
    Ok(with_etag(
        HttpResponse::Ok().json(view),
        &variant_etag(version),
    ))
}

/// Archive a variant: no longer sold, still readable for past orders.
///
/// Its stock stays as it is but can no longer be ordered.
#[utoipa::path(
    operation_id = "archiveVariant",
    tag = "catalog-admin",
    security(("bearer" = []), ("api_key" = [])),
    params(("id" = String, Path, description = "`var_…` id")),
    responses(
        (status = 204, description = "Archived"),
        (status = 401, description = "Not authenticated", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Managers and above", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such variant", body = Problem, content_type = "application/problem+json"),
    )
)]
#[delete("/variants/{id}")]
async fn archive_variant(
    versions: web::Data<Versions>,
    _auth: Auth<min::Manager>,
    db: web::Data<Db>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    db.run(move |conn| editing::archive_variant(conn, &id))
        .await?;
    observe(&db, &versions).await;
    Ok(HttpResponse::NoContent().finish())
}
