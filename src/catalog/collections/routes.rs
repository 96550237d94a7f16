//! `/v1/collections…` (public, cached like the listing) and `/v1/admin/collections…`
//! (managers and above: create, read, replace, delete).

use actix_web::{delete, get, post, put, web, HttpRequest, HttpResponse};

use super::model::{
    resolve, CollectionAdminView, CollectionDraft, CollectionInput, CollectionList,
    CollectionProduct, CollectionSummary, CollectionView,
};
use super::store::{self, CollectionRow};
use crate::auth::{min, Auth};
use crate::catalog::admin::observe;
use crate::catalog::cached::CachedRead;
use crate::catalog::model::ProductStatus;
use crate::catalog::store::variants_of;
use crate::config::Shop;
use crate::db::{write_transaction, Db, DbConnection};
use crate::http::cache::{if_match_allows, if_match_header, with_etag};
use crate::http::error::{ApiError, Problem};
use crate::http::extract::Json;
use crate::versions::Versions;

pub fn configure_public(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(list).service(get_collection);
}

pub fn configure_admin(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(create)
        .service(get_admin)
        .service(replace)
        .service(remove);
}

/// List collections.
///
/// The active collections, by slug, without their products. Public and cacheable for 5
/// seconds; carries an `ETag`.
#[utoipa::path(
    operation_id = "listCollections",
    tag = "catalog",
    responses(
        (status = 200, description = "The active collections", body = CollectionList,
            headers(("ETag" = String, description = "Strong validator of the body: send it as `If-None-Match` to get a 304 while unchanged"))),
        (status = 304, description = "Unchanged since the `If-None-Match` ETag"),
        (status = 503, description = "The catalogue cannot be read right now; retry shortly", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/collections")]
async fn list(read: CachedRead) -> Result<HttpResponse, ApiError> {
    read.json("collections".into(), |conn| {
        let data = store::active(conn)?
            .into_iter()
            .map(|c| CollectionSummary {
                slug: c.slug,
                title: c.title,
                description: c.description,
                updated_at: c.updated_at.and_utc(),
            })
            .collect();
        Ok(CollectionList { data })
    })
    .await
}

/// One collection with its products.
///
/// An active collection with its active products in the manager's order, each as the
/// product listing shows it (active variants, availability at most two seconds old).
/// Public and cacheable for 5 seconds; carries an `ETag`.
#[utoipa::path(
    operation_id = "getCollection",
    tag = "catalog",
    params(("slug" = String, Path, description = "The collection's slug", example = "cabin-bestsellers")),
    responses(
        (status = 200, description = "The collection", body = CollectionView,
            headers(("ETag" = String, description = "Strong validator of the body: send it as `If-None-Match` to get a 304 while unchanged"))),
        (status = 304, description = "Unchanged since the `If-None-Match` ETag"),
        (status = 404, description = "No such collection, or it is inactive", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/collections/{slug}")]
async fn get_collection(
    read: CachedRead,
    shop: web::Data<Shop>,
    slug: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let slug = slug.into_inner();
    let key = ["collection:", slug.as_str()].concat();
    let currency = shop.currency.code();
    read.json(key, move |conn| {
        let c = store::find(conn, &slug)?
            .filter(|c| c.active)
            .ok_or(ApiError::NotFound)?;
        let rows = store::products_of(conn, &c.id, true)?;
        let ids: Vec<String> = rows.iter().map(|r| r.id.clone()).collect();
        let variants = variants_of(conn, &ids, true)?;
        Ok(CollectionView {
            slug: c.slug,
            title: c.title,
            description: c.description,
            updated_at: c.updated_at.and_utc(),
            products: rows
                .iter()
                .zip(variants.iter())
                .map(|(r, v)| r.view(v, currency))
                .collect(),
        })
    })
    .await
}

fn collection_etag(version: i32) -> String {
    format!("\"c{version}\"")
}

/// A collection as managers see it, with its edit version.
fn admin_view(
    conn: &mut DbConnection,
    row: CollectionRow,
) -> Result<(CollectionAdminView, i32), ApiError> {
    let products = store::products_of(conn, &row.id, false)?
        .into_iter()
        .map(|p| CollectionProduct {
            status: ProductStatus::parse(&p.status).unwrap_or(ProductStatus::Archived),
            id: p.id,
            slug: p.slug,
            name: p.name,
        })
        .collect();
    let version = row.version;
    Ok((
        CollectionAdminView {
            id: row.id,
            slug: row.slug,
            title: row.title,
            description: row.description,
            active: row.active,
            products,
            created_at: row.created_at.and_utc(),
            updated_at: row.updated_at.and_utc(),
        },
        version,
    ))
}

/// The draft's products as ids, in its order; 422 naming the unknown or repeated one.
fn product_ids(conn: &mut DbConnection, draft: &CollectionDraft) -> Result<Vec<String>, ApiError> {
    let found = store::product_ids(conn, &draft.products)?;
    let ids = resolve(&draft.products, |r| {
        draft
            .products
            .iter()
            .position(|p| p == r)
            .and_then(|i| found[i].clone())
    })?;
    Ok(ids)
}

fn taken(e: diesel::result::Error) -> ApiError {
    if crate::db::is_unique_violation(&e) {
        ApiError::conflict("Another collection uses this slug.")
    } else {
        e.into()
    }
}

/// Create a collection.
///
/// With its products in the order shoppers see them. The response's `ETag` is the edit
/// version to send as `If-Match` with a replacement.
#[utoipa::path(
    operation_id = "createCollection",
    tag = "catalog-admin",
    security(("bearer" = []), ("api_key" = [])),
    request_body = CollectionInput,
    responses(
        (status = 201, description = "Created", body = CollectionAdminView, headers(("ETag" = String, description = "Edit ETag `\"c<version>\"`: send it as `If-Match` with a replacement"))),
        (status = 401, description = "Not authenticated", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Managers and above", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Slug already used by another collection", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid field, or a product that does not exist or is named twice (`products[i]`)", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/collections")]
async fn create(
    versions: web::Data<Versions>,
    _auth: Auth<min::Manager>,
    db: web::Data<Db>,
    body: Json<CollectionInput>,
) -> Result<HttpResponse, ApiError> {
    let draft = body.into_inner().parse(None)?;
    let (view, version) = db
        .run(move |conn| {
            write_transaction(conn, |conn| {
                let ids = product_ids(conn, &draft)?;
                let row = CollectionRow::new(&draft);
                store::insert(conn, &row, &ids).map_err(taken)?;
                admin_view(conn, row)
            })
        })
        .await?;
    observe(&db, &versions).await;
    Ok(with_etag(
        crate::http::created(&format!("/v1/admin/collections/{}", view.slug)).json(view),
        &collection_etag(version),
    ))
}

/// One collection, as managers see it.
///
/// Active or not, with every product it names (archived ones included, marked so).
#[utoipa::path(
    operation_id = "getCollectionAdmin",
    tag = "catalog-admin",
    security(("bearer" = []), ("api_key" = [])),
    params(("slug" = String, Path, description = "The collection's slug", example = "cabin-bestsellers")),
    responses(
        (status = 200, description = "The collection", body = CollectionAdminView, headers(("ETag" = String, description = "Edit ETag `\"c<version>\"`"))),
        (status = 401, description = "Not authenticated", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Managers and above", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such collection", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/collections/{slug}")]
async fn get_admin(
    _auth: Auth<min::Manager>,
    db: web::Data<Db>,
    slug: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let slug = slug.into_inner();
    let (view, version) = db
        .run(move |conn| {
            let row = store::find(conn, &slug)?.ok_or(ApiError::NotFound)?;
            admin_view(conn, row)
        })
        .await?;
    Ok(with_etag(
        HttpResponse::Ok().json(view),
        &collection_etag(version),
    ))
}

/// Replace a collection.
///
/// Title, description, active flag and the whole ordered product list at once. Send the
/// edit `ETag` as `If-Match` to avoid overwriting someone else's change (412 when it moved
/// on).
#[utoipa::path(
    operation_id = "updateCollection",
    tag = "catalog-admin",
    security(("bearer" = []), ("api_key" = [])),
    params(
        ("slug" = String, Path, description = "The collection's slug", example = "cabin-bestsellers"),
        ("If-Match" = Option<String>, Header, description = "Edit ETag `\"c<version>\"` of the collection as read (or `*`); without it the replacement applies to whatever version is current", example = "\"c3\""),
    ),
    request_body = CollectionInput,
    responses(
        (status = 200, description = "Replaced", body = CollectionAdminView, headers(("ETag" = String, description = "The new edit ETag `\"c<version>\"`"))),
        (status = 401, description = "Not authenticated", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Managers and above", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such collection", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "Changed since read", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid field, or a product that does not exist or is named twice (`products[i]`)", body = Problem, content_type = "application/problem+json"),
    )
)]
#[put("/collections/{slug}")]
async fn replace(
    versions: web::Data<Versions>,
    req: HttpRequest,
    _auth: Auth<min::Manager>,
    db: web::Data<Db>,
    slug: web::Path<String>,
    body: Json<CollectionInput>,
) -> Result<HttpResponse, ApiError> {
    let if_match = if_match_header(&req);
    let (slug, input) = (slug.into_inner(), body.into_inner());
    let (view, version) = db
        .run(move |conn| {
            write_transaction(conn, |conn| {
                // Found and admitted before the body is judged: 404 and 412 whatever it holds.
                let current = store::find(conn, &slug)?.ok_or(ApiError::NotFound)?;
                if !if_match_allows(if_match.as_deref(), &collection_etag(current.version)) {
                    return Err(ApiError::PreconditionFailed);
                }
                let draft = input.parse(Some(&slug))?;
                let ids = product_ids(conn, &draft)?;
                let row = current.replaced(&draft);
                if !store::replace(conn, &row, current.version, &ids)? {
                    return Err(ApiError::PreconditionFailed);
                }
                admin_view(conn, row)
            })
        })
        .await?;
    observe(&db, &versions).await;
    Ok(with_etag(
        HttpResponse::Ok().json(view),
        &collection_etag(version),
    ))
}

/// Delete a collection.
///
/// Its products stay as they are; only the collection and its order go.
#[utoipa::path(
    operation_id = "deleteCollection",
    tag = "catalog-admin",
    security(("bearer" = []), ("api_key" = [])),
    params(("slug" = String, Path, description = "The collection's slug", example = "cabin-bestsellers")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, description = "Not authenticated", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Managers and above", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such collection", body = Problem, content_type = "application/problem+json"),
    )
)]
#[delete("/collections/{slug}")]
async fn remove(
    versions: web::Data<Versions>,
    _auth: Auth<min::Manager>,
    db: web::Data<Db>,
    slug: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let slug = slug.into_inner();
    db.run(move |conn| {
        write_transaction(conn, |conn| {
            let row = store::find(conn, &slug)?.ok_or(ApiError::NotFound)?;
            match store::delete(conn, &row.id)? {
                true => Ok(()),
                false => Err(ApiError::NotFound),
            }
        })
    })
    .await?;
    observe(&db, &versions).await;
    Ok(HttpResponse::NoContent().finish())
}
