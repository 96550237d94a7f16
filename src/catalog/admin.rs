//! `/v1/admin/products…`, `/v1/admin/variants…` (manager+): catalogue and inventory.
//!
//! Writes take `If-Match` with the edit ETag these routes return (`"p<version>"` for a
//! product, `"v<version>"` for a variant); a stale one answers 412.

use actix_web::{delete, patch, post, put, web, HttpRequest, HttpResponse};
use serde::Deserialize;
use utoipa::ToSchema;

use super::model::{
    self, in_range, price, Dimensions, Feature, Material, PriceInput, ProductView, Style,
    VariantView, Wheels,
};
use super::store::{self, ProductRow, VariantRow, ACTIVE, ARCHIVED};
use crate::auth::{min, Auth};
use crate::config::Shop;
use crate::db::{Db, DbConnection};
use crate::http::cache::{if_match_allows, if_match_header, with_etag};
use crate::http::error::{ApiError, Problem};
use crate::http::extract::Json;
use crate::privacy::refuse_sensitive;
use crate::versions::Versions;

pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(create_product)
        .service(update_product)
        .service(archive_product)
        .service(create_variant)
        .service(update_variant)
        .service(archive_variant)
        .service(set_stock)
        .service(adjust_stock);
}

/// After a change: this instance serves it at once instead of after its next poll.
async fn observe(db: &Db, versions: &Versions) {
    match db
        .run(|conn| store::catalog_version(conn).map_err(crate::db::DbError::from))
        .await
    {
        Ok(v) => versions.observe_catalog(v),
        Err(e) => log::warn!("could not read the catalog version: {e}"),
    }
}

fn product_etag(version: i32) -> String {
    format!("\"p{version}\"")
}

fn variant_etag(version: i32) -> String {
    format!("\"v{version}\"")
}

/// A variant of a new product, or a new variant of a product.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"sku": "VOY-55-SAGE", "color": "sage", "price": {"amount": 13900}, "available": 12}))]
pub struct NewVariant {
    /// Stock-keeping unit, unique in the shop: 3–40 upper-case letters, digits or dashes.
    #[schema(
        min_length = 3,
        max_length = 40,
        pattern = "^[A-Z0-9-]{3,40}$",
        example = "VOY-55-BLK"
    )]
    pub sku: String,
    /// The colour (or edition) shoppers choose, 1–40 characters (surrounding spaces are
    /// trimmed; no control characters).
    #[schema(
        min_length = 1,
        max_length = 40,
        pattern = r"^[\s\u0085]*[^\u0000-\u0009\u000b-\u001f\u007f-\u009f]*[\s\u0085]*$",
        example = "black"
    )]
    pub color: String,
    /// Price of this variant when it differs from the product's; omit (or `null`) to sell it
    /// at the product's price.
    pub price: Option<PriceInput>,
    /// Units in stock to sell, 0–1,000,000.
    #[schema(minimum = 0, maximum = 1_000_000, example = 25)]
    pub available: i32,
}

/// A new product with its variants.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "name": "Voyager 55 Spinner", "brand": "Valise",
    "description": "A light polycarbonate cabin case on four double spinner wheels.",
    "style": "travel", "material": "polycarbonate", "wheels": "spinner", "features": ["tsa_lock", "expandable"],
    "warranty_years": 5, "images": ["https://cdn.example.com/voyager-55.jpg"],
    "dimensions_cm": {"height": 55, "width": 40, "depth": 20}, "weight_g": 2600, "capacity_l": 38,
    "price": {"amount": 12900},
    "variants": [
        {"sku": "VOY-55-BLK", "color": "black", "available": 25},
        {"sku": "VOY-55-SAGE", "color": "sage", "price": {"amount": 13900}, "available": 12}
    ]
}))]
pub struct NewProduct {
    /// URL-safe handle, unique in the shop: 1–100 lower-case letters, digits and single
    /// dashes, neither first nor last. Omit (or `null`) to make one from the name.
    #[schema(
        min_length = 1,
        max_length = 100,
        pattern = "^[a-z0-9]+(?:-[a-z0-9]+)*$",
        example = "voyager-55-spinner"
    )]
    pub slug: Option<String>,
    /// The product's name, 1–120 characters (surrounding spaces are trimmed; no control
    /// characters).
    #[schema(
        min_length = 1,
        max_length = 120,
        pattern = r"^[\s\u0085]*[^\u0000-\u0009\u000b-\u001f\u007f-\u009f]*[\s\u0085]*$",
        example = "Voyager 55 Spinner"
    )]
    pub name: String,
    /// The maker's brand, 1–60 characters (trimmed; no control characters).
    #[schema(
        min_length = 1,
        max_length = 60,
        pattern = r"^[\s\u0085]*[^\u0000-\u0009\u000b-\u001f\u007f-\u009f]*[\s\u0085]*$",
        example = "Valise"
    )]
    pub brand: String,
    /// Plain text for the product page, 1–4,000 characters (trimmed; line breaks allowed,
    /// no other control characters). Card, bank or identity-document numbers are refused.
    #[schema(
        min_length = 1,
        max_length = 4000,
        pattern = r"^[\s\u0085]*[^\u0000-\u0009\u000b-\u001f\u007f-\u009f]*[\s\u0085]*$"
    )]
    pub description: String,
    /// What the luggage is for.
    pub style: Style,
    /// The shell or body material.
    pub material: Material,
    /// How it rolls, if at all.
    pub wheels: Wheels,
    /// Its features; repeats count once. Default: none.
    #[serde(default)]
    pub features: Vec<Feature>,
    /// Years of manufacturer's warranty, 0–25.
    #[schema(minimum = 0, maximum = 25, example = 5)]
    pub warranty_years: i32,
    /// http(s) URLs of its pictures, main picture first: at most 10, each at most 500 bytes
    /// without spaces or control characters. Default: none.
    #[serde(default)]
    #[schema(max_items = 10, value_type = Vec<ImageUrl>)]
    pub images: Vec<String>,
    /// Outer dimensions in centimetres; they decide the size class.
    pub dimensions_cm: Dimensions,
    /// Empty weight in grams, 100–30,000.
    #[schema(minimum = 100, maximum = 30_000, example = 2600)]
    pub weight_g: i32,
    /// Packing volume in litres, 1–200.
    #[schema(minimum = 1, maximum = 200, example = 38)]
    pub capacity_l: i32,
    /// Base price; variants may override it.
    pub price: PriceInput,
    /// Its variants, each with its own SKU and stock. Default: none (add them later).
    #[serde(default)]
    pub variants: Vec<NewVariant>,
}

/// An image URL as the catalogue takes it: `http://` or `https://`, at most 500 bytes, without
/// whitespace or control characters.
#[derive(ToSchema)]
#[allow(dead_code)]
#[schema(
    max_length = 500,
    pattern = r"^https?://[^\u0000-\u0020\u007f-\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*$",
    example = "https://cdn.example.com/voyager-55.jpg"
)]
pub struct ImageUrl(String);

/// Changes to a product; absent fields stay as they are.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"price": {"amount": 11900}, "features": ["expandable", "tsa_lock", "usb_port"]}))]
pub struct ProductPatch {
    /// A new name, 1–120 characters (trimmed; no control characters).
    #[schema(
        min_length = 1,
        max_length = 120,
        pattern = r"^[\s\u0085]*[^\u0000-\u0009\u000b-\u001f\u007f-\u009f]*[\s\u0085]*$",
        example = "Voyager 55 Spinner"
    )]
    pub name: Option<String>,
    /// A new brand, 1–60 characters (trimmed; no control characters).
    #[schema(
        min_length = 1,
        max_length = 60,
        pattern = r"^[\s\u0085]*[^\u0000-\u0009\u000b-\u001f\u007f-\u009f]*[\s\u0085]*$",
        example = "Valise"
    )]
    pub brand: Option<String>,
    /// A new description, 1–4,000 characters (trimmed; line breaks allowed, no other control
    /// characters). Card, bank or identity-document numbers are refused.
    #[schema(
        min_length = 1,
        max_length = 4000,
        pattern = r"^[\s\u0085]*[^\u0000-\u0009\u000b-\u001f\u007f-\u009f]*[\s\u0085]*$"
    )]
    pub description: Option<String>,
    /// A new style.
    pub style: Option<Style>,
    /// A new material.
    pub material: Option<Material>,
    /// New wheels.
    pub wheels: Option<Wheels>,
    /// The complete new list of features (replaces the old one; repeats count once).
    pub features: Option<Vec<Feature>>,
    /// Years of manufacturer's warranty, 0–25.
    #[schema(minimum = 0, maximum = 25, example = 5)]
    pub warranty_years: Option<i32>,
    /// The complete new list of image URLs (replaces the old one): at most 10, each an
    /// http(s) URL of at most 500 bytes without spaces or control characters.
    #[schema(max_items = 10, value_type = Option<Vec<ImageUrl>>)]
    pub images: Option<Vec<String>>,
    /// New outer dimensions in centimetres; the size class follows them.
    pub dimensions_cm: Option<Dimensions>,
    /// Empty weight in grams, 100–30,000.
    #[schema(minimum = 100, maximum = 30_000, example = 2600)]
    pub weight_g: Option<i32>,
    /// Packing volume in litres, 1–200.
    #[schema(minimum = 1, maximum = 200, example = 38)]
    pub capacity_l: Option<i32>,
    /// A new base price (variants with a price of their own keep it).
    pub price: Option<PriceInput>,
}

/// Changes to a variant; absent fields stay as they are.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"color": "sage green", "price": {"amount": 13900}}))]
pub struct VariantPatch {
    /// A new colour, 1–40 characters (trimmed; no control characters).
    #[schema(
        min_length = 1,
        max_length = 40,
        pattern = r"^[\s\u0085]*[^\u0000-\u0009\u000b-\u001f\u007f-\u009f]*[\s\u0085]*$",
        example = "sage green"
    )]
    pub color: Option<String>,
    /// A price of its own; `null` returns to the product's price.
    #[serde(default, deserialize_with = "crate::http::extract::explicit_null")]
    #[schema(value_type = Option<PriceInput>)]
    pub price: Option<Option<PriceInput>>,
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

fn images(field: &str, urls: &[String]) -> Result<String, ApiError> {
    if urls.len() > 10 {
        return Err(ApiError::validation(field, "at most 10 images"));
    }
    for (i, u) in urls.iter().enumerate() {
        let ok = u.len() <= 500
            && (u.starts_with("https://") || u.starts_with("http://"))
            && !u.chars().any(|c| c.is_whitespace() || c.is_control());
        if !ok {
            return Err(ApiError::validation(
                format!("{field}[{i}]"),
                "must be an http(s) URL",
            ));
        }
    }
    Ok(urls.join("\n"))
}

fn features(list: &[Feature]) -> String {
    let mut names: Vec<&str> = list.iter().map(|f| f.as_str()).collect();
    names.sort_unstable();
    names.dedup();
    names.join(",")
}

fn new_variant_row(product_id: &str, v: &NewVariant, field: &str) -> Result<VariantRow, ApiError> {
    let now = crate::db::now();
    Ok(VariantRow {
        id: crate::ids::new_id("var"),
        product_id: product_id.to_owned(),
        sku: model::sku(&format!("{field}.sku"), &v.sku)?,
        color: model::text(&format!("{field}.color"), &v.color, 40)?,
        price_override: v
            .price
            .map(|p| price(&format!("{field}.price.amount"), p.amount))
            .transpose()?,
        available: in_range(
            &format!("{field}.available"),
            v.available,
            0,
            model::MAX_STOCK,
            "units",
        )?,
        status: ACTIVE.to_owned(),
        version: 1,
        created_at: now,
        updated_at: now,
    })
}

fn duplicate(e: diesel::result::Error) -> ApiError {
    if crate::db::is_unique_violation(&e) {
        ApiError::conflict("Another product uses this slug, or another variant this SKU.")
    } else {
        e.into()
    }
}

fn render(
    conn: &mut DbConnection,
    product_id: &str,
    currency: &str,
) -> Result<(ProductView, i32), ApiError> {
    let row = store::find(conn, product_id)?.ok_or(ApiError::NotFound)?;
    let variants = store::variants_of(conn, std::slice::from_ref(&row.id), false)?;
    Ok((row.view(&variants[0], currency), row.version))
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
    let p = body.into_inner();
    let name = model::text("name", &p.name, 120)?;
    let slug = match &p.slug {
        Some(s) => model::slug("slug", s)?,
        None => model::slug("name", &model::slugify(&name))?,
    };
    let description = model::text("description", &p.description, 4000)?;
    refuse_sensitive("description", &description)?;
    let now = crate::db::now();
    let base_price = price("price.amount", p.price.amount)?;
    let mut row = ProductRow {
        id: crate::ids::new_id("prod"),
        slug,
        name,
        brand: model::text("brand", &p.brand, 60)?,
        description,
        style: p.style.as_str().to_owned(),
        material: p.material.as_str().to_owned(),
        wheels: p.wheels.as_str().to_owned(),
        features: features(&p.features),
        warranty_years: in_range("warranty_years", p.warranty_years, 0, 25, "years")?,
        images: images("images", &p.images)?,
        height_cm: 0,
        width_cm: 0,
        depth_cm: 0,
        dim_max: 0,
        dim_mid: 0,
        dim_min: 0,
        size_class: String::new(),
        weight_g: in_range("weight_g", p.weight_g, 100, 30_000, "g")?,
        capacity_l: in_range("capacity_l", p.capacity_l, 1, 200, "l")?,
        base_price,
        min_price: base_price,
        popularity: 0,
        status: ACTIVE.to_owned(),
        version: 1,
        created_at: now,
        updated_at: now,
    };
    row.set_dimensions(p.dimensions_cm.validate("dimensions_cm")?);
    let variants = p
        .variants
        .iter()
        .enumerate()
        .map(|(i, v)| new_variant_row(&row.id, v, &format!("variants[{i}]")))
        .collect::<Result<Vec<_>, _>>()?;
    let currency = shop.currency.clone();
    let (view, version) = db
        .run(move |conn| {
            crate::db::write_transaction(conn, |conn| {
                store::insert_product(conn, &row, &variants).map_err(duplicate)?;
                render(conn, &row.id, &currency)
            })
        })
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
    let id = id.into_inner();
    let p = body.into_inner();
    let if_match = if_match_header(&req);
    let currency = shop.currency.clone();
    let (view, version) = db
        .run(move |conn| {
            crate::db::write_transaction(conn, |conn| {
                let current = store::find(conn, &id)?
                    .filter(|r| r.id == id)
                    .ok_or(ApiError::NotFound)?;
                if !if_match_allows(if_match.as_deref(), &product_etag(current.version)) {
                    return Err(ApiError::PreconditionFailed);
                }
                let mut row = current.clone();
                if let Some(v) = &p.name {
                    row.name = model::text("name", v, 120)?;
                }
                if let Some(v) = &p.brand {
                    row.brand = model::text("brand", v, 60)?;
                }
                if let Some(v) = &p.description {
                    row.description = model::text("description", v, 4000)?;
                    refuse_sensitive("description", &row.description)?;
                }
                if let Some(v) = p.style {
                    row.style = v.as_str().to_owned();
                }
                if let Some(v) = p.material {
                    row.material = v.as_str().to_owned();
                }
                if let Some(v) = p.wheels {
                    row.wheels = v.as_str().to_owned();
                }
                if let Some(v) = &p.features {
                    row.features = features(v);
                }
                if let Some(v) = p.warranty_years {
                    row.warranty_years = in_range("warranty_years", v, 0, 25, "years")?;
                }
                if let Some(v) = &p.images {
                    row.images = images("images", v)?;
                }
                if let Some(v) = p.dimensions_cm {
                    row.set_dimensions(v.validate("dimensions_cm")?);
                }
                if let Some(v) = p.weight_g {
                    row.weight_g = in_range("weight_g", v, 100, 30_000, "g")?;
                }
                if let Some(v) = p.capacity_l {
                    row.capacity_l = in_range("capacity_l", v, 1, 200, "l")?;
                }
                if let Some(v) = p.price {
                    row.base_price = price("price.amount", v.amount)?;
                }
                row.version = current.version + 1;
                row.updated_at = crate::db::now();
                if !store::update_product(conn, &row, current.version)? {
                    return Err(ApiError::PreconditionFailed);
                }
                render(conn, &row.id, &currency)
            })
        })
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
    db.run(move |conn| {
        crate::db::write_transaction(conn, |conn| {
            let mut row = store::find(conn, &id)?
                .filter(|r| r.id == id)
                .ok_or(ApiError::NotFound)?;
            let expected = row.version;
            row.status = ARCHIVED.to_owned();
            row.version += 1;
            row.updated_at = crate::db::now();
            store::update_product(conn, &row, expected)?;
            Ok::<_, ApiError>(())
        })
    })
    .await?;
    observe(&db, &versions).await;
    Ok(HttpResponse::NoContent().finish())
}

fn variant_view(
    conn: &mut DbConnection,
    id: &str,
    currency: &str,
) -> Result<(VariantView, i32), ApiError> {
    let v = store::get_variant(conn, id)?.ok_or(ApiError::NotFound)?;
    let product = store::find(conn, &v.product_id)?.ok_or(ApiError::NotFound)?;
    let view = product.view(std::slice::from_ref(&v), currency);
    let variant = view.variants.into_iter().next().ok_or(ApiError::NotFound)?;
    Ok((variant, v.version))
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
    let id = id.into_inner();
    let row = new_variant_row(&id, &body.into_inner(), "$")?;
    let currency = shop.currency.clone();
    let (view, version) = db
        .run(move |conn| {
            crate::db::write_transaction(conn, |conn| {
                store::find(conn, &id)?
                    .filter(|p| p.id == id)
                    .ok_or(ApiError::NotFound)?;
                store::insert_variant(conn, &row).map_err(duplicate)?;
                variant_view(conn, &row.id, &currency)
            })
        })
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
    let id = id.into_inner();
    let patch = body.into_inner();
    let if_match = if_match_header(&req);
    let currency = shop.currency.clone();
    let (view, version) = db
        .run(move |conn| {
            crate::db::write_transaction(conn, |conn| {
                let current = store::get_variant(conn, &id)?.ok_or(ApiError::NotFound)?;
                if !if_match_allows(if_match.as_deref(), &variant_etag(current.version)) {
                    return Err(ApiError::PreconditionFailed);
                }
                let mut row = current.clone();
                if let Some(c) = &patch.color {
                    row.color = model::text("color", c, 40)?;
                }
                if let Some(p) = patch.price {
                    row.price_override = p.map(|p| price("price.amount", p.amount)).transpose()?;
                }
                row.version += 1;
                row.updated_at = crate::db::now();
                if !store::update_variant(conn, &row, current.version)? {
                    return Err(ApiError::PreconditionFailed);
                }
                variant_view(conn, &id, &currency)
            })
        })
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
    db.run(move |conn| {
        crate::db::write_transaction(conn, |conn| {
            let current = store::get_variant(conn, &id)?.ok_or(ApiError::NotFound)?;
            let mut row = current.clone();
            row.status = ARCHIVED.to_owned();
            row.version += 1;
            row.updated_at = crate::db::now();
            store::update_variant(conn, &row, current.version)?;
            Ok::<_, ApiError>(())
        })
    })
    .await?;
    observe(&db, &versions).await;
    Ok(HttpResponse::NoContent().finish())
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
