//! `/v1/admin/products…`, `/v1/admin/variants…` (manager+): catalogue and inventory, one
//! file per resource.
//!
//! Writes take `If-Match` with the edit ETag these routes return (`"p<version>"` for a
//! product, `"v<version>"` for a variant); a stale one answers 412.

mod products;
mod stock;
mod variants;

use serde::Deserialize;
use utoipa::ToSchema;

use super::model::{self, in_range, price, PriceInput, ProductView, VariantView};
use super::store::{self, VariantRow, ACTIVE};
use crate::db::{Db, DbConnection};
use crate::http::error::ApiError;
use crate::versions::Versions;

pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    products::configure(cfg);
    variants::configure(cfg);
    stock::configure(cfg);
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
