//! `/v1/admin/products…`: products, created with their variants, changed, archived.

use actix_web::{delete, patch, post, web, HttpRequest, HttpResponse};
use serde::Deserialize;
use utoipa::ToSchema;

use super::{duplicate, new_variant_row, observe, product_etag, render, NewVariant};
use crate::auth::{min, Auth};
use crate::catalog::model::{
    self, in_range, price, Dimensions, Feature, Material, PriceInput, ProductView, Style, Wheels,
};
use crate::catalog::store::{self, ProductRow, ACTIVE, ARCHIVED};
use crate::config::Shop;
use crate::db::Db;
use crate::http::cache::{if_match_allows, if_match_header, with_etag};
use crate::http::error::{ApiError, Problem};
use crate::http::extract::Json;
use crate::privacy::refuse_sensitive;
use crate::versions::Versions;

pub(super) fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(create_product)
        .service(update_product)
        .service(archive_product);
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
