//! The catalogue as CSV, one row per variant with its product's fields, products by slug and
//! each product's variants by SKU: what `catalog::import` reads back. Read from the database
//! a page of variants at a time, so the export's memory stays the same whatever the size of
//! the catalogue.

use diesel::prelude::*;

use super::model::{images_to_text, VariantImages};
use super::store::{ProductRow, VariantRow};
use crate::db::schema::{products, variants};
use crate::db::DbConnection;
use crate::http::csv::{guard, Page};
use crate::http::error::ApiError;
use crate::money::Currency;

/// Variants read per query while streaming.
pub const PAGE: i64 = 200;

/// The header row, in column order. Ids and statuses are for reading only: the import
/// ignores them (a product is its slug, a variant its SKU).
pub const COLUMNS: [&str; 24] = [
    "product_id",
    "slug",
    "name",
    "brand",
    "description",
    "style",
    "material",
    "wheels",
    "features",
    "warranty_years",
    "images",
    "height_cm",
    "width_cm",
    "depth_cm",
    "weight_g",
    "capacity_l",
    "price",
    "product_status",
    "variant_id",
    "sku",
    "color",
    "variant_price",
    "available",
    IMAGES,
];

/// Columns for reading only: the import ignores them.
pub const READ_ONLY: [&str; 3] = ["product_id", "product_status", "variant_id"];

/// The pictures column, the one an import may leave out: a file without it leaves every
/// variant's pictures as they are.
pub const IMAGES: &str = "variant_images";

/// The columns an import needs: all but the read-only ones and the pictures.
pub fn required_on_import() -> impl Iterator<Item = &'static str> {
    COLUMNS
        .into_iter()
        .filter(|c| *c != IMAGES && !READ_ONLY.contains(c))
}

/// Where the stream stands: the shop's currency and the last row sent, as (slug, SKU).
/// SKUs are unique, so the pair orders every row.
pub struct Cursor {
    currency: Currency,
    after: Option<(String, String)>,
}

impl Cursor {
    pub fn start(currency: Currency) -> Self {
        Self {
            currency,
            after: None,
        }
    }
}

/// The page of the export that `cursor` points at, and where the next one starts.
pub fn next_page(
    conn: &mut DbConnection,
    mut cursor: Cursor,
) -> Result<Page<Vec<String>, Cursor>, ApiError> {
    let mut query = variants::table
        .inner_join(products::table)
        .select((ProductRow::as_select(), VariantRow::as_select()))
        .order((products::slug.asc(), variants::sku.asc()))
        .limit(PAGE)
        .into_boxed();
    if let Some((slug, sku)) = cursor.after.take() {
        query = query.filter(
            products::slug
                .gt(slug.clone())
                .or(products::slug.eq(slug).and(variants::sku.gt(sku))),
        );
    }
    let rows: Vec<(ProductRow, VariantRow)> = query.load(conn)?;
    let full = rows.len() as i64 == PAGE;
    cursor.after = rows.last().map(|(p, v)| (p.slug.clone(), v.sku.clone()));
    let records = rows
        .iter()
        .map(|(p, v)| record(p, v, cursor.currency))
        .collect();
    Ok(Page {
        records,
        next: full.then_some(cursor),
    })
}

/// One variant's row.
fn record(p: &ProductRow, v: &VariantRow, currency: Currency) -> Vec<String> {
    let amount = |n| crate::money::text(n, currency.minor_unit());
    vec![
        p.id.clone(),
        p.slug.clone(),
        guard(&p.name).into_owned(),
        guard(&p.brand).into_owned(),
        guard(&p.description).into_owned(),
        p.style.clone(),
        p.material.clone(),
        p.wheels.clone(),
        p.features
            .split(',')
            .filter(|f| !f.is_empty())
            .collect::<Vec<_>>()
            .join(";"),
        p.warranty_years.to_string(),
        p.images
            .lines()
            .filter(|l| !l.is_empty())
            .collect::<Vec<_>>()
            .join(" "),
        p.height_cm.to_string(),
        p.width_cm.to_string(),
        p.depth_cm.to_string(),
        p.weight_g.to_string(),
        p.capacity_l.to_string(),
        amount(p.base_price),
        p.status.clone(),
        v.id.clone(),
        v.sku.clone(),
        guard(&v.color).into_owned(),
        v.price_override.map(amount).unwrap_or_default(),
        v.available.to_string(),
        guard(&images_to_text(&VariantImages::from_stored(&v.images))).into_owned(),
    ]
}
