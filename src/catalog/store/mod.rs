//! Catalog queries: products and variants read and written, stock that never goes negative,
//! the catalogue version every change bumps. The listing query is in `listing.rs`, the rows
//! and their views in `rows.rs`.

mod facets;
mod listing;
mod rows;

use diesel::prelude::*;

use crate::catalog::model::{ProductDraft, Stock, StockDelta, VariantDraft};
use crate::db::schema::{counters, product_terms, products, variants};
use crate::db::DbConnection;

pub use facets::facets;
pub use listing::{
    filtered, list, listing_query, After, Filter, FilteredQuery, ListingQuery, Sort,
};
pub use rows::{ProductRow, VariantRow, ACTIVE, ARCHIVED};

/// Variants of these products, grouped per product in `ids` order.
pub fn variants_of(
    conn: &mut DbConnection,
    ids: &[String],
    only_active: bool,
) -> QueryResult<Vec<Vec<VariantRow>>> {
    let mut query = variants::table
        .filter(variants::product_id.eq_any(ids))
        .order((variants::product_id, variants::sku))
        .select(VariantRow::as_select())
        .into_boxed();
    if only_active {
        query = query.filter(variants::status.eq(ACTIVE));
    }
    let rows = query.load(conn)?;
    Ok(ids
        .iter()
        .map(|id| {
            rows.iter()
                .filter(|v| &v.product_id == id)
                .cloned()
                .collect()
        })
        .collect())
}

/// A product by `prod_…` id or by slug, archived ones included (past orders show them).
pub fn find(conn: &mut DbConnection, id_or_slug: &str) -> QueryResult<Option<ProductRow>> {
    let query = products::table.select(ProductRow::as_select());
    if id_or_slug.starts_with("prod_") {
        query
            .filter(products::id.eq(id_or_slug))
            .first(conn)
            .optional()
    } else {
        query
            .filter(products::slug.eq(id_or_slug))
            .first(conn)
            .optional()
    }
}

/// A variant's available units alone (a primary-key read).
pub fn available(conn: &mut DbConnection, id: &str) -> QueryResult<Option<i32>> {
    variants::table
        .find(id)
        .select(variants::available)
        .first(conn)
        .optional()
}

pub fn get_variant(conn: &mut DbConnection, id: &str) -> QueryResult<Option<VariantRow>> {
    variants::table
        .find(id)
        .select(VariantRow::as_select())
        .first(conn)
        .optional()
}

/// Tells every instance that cached catalog responses are stale.
pub fn bump_catalog_version(conn: &mut DbConnection) -> QueryResult<()> {
    diesel::update(counters::table.find("catalog"))
        .set(counters::value.eq(counters::value + 1))
        .execute(conn)?;
    Ok(())
}

pub fn catalog_version(conn: &mut DbConnection) -> QueryResult<i64> {
    counters::table
        .find("catalog")
        .select(counters::value)
        .first(conn)
}

fn replace_terms(conn: &mut DbConnection, row: &ProductRow) -> QueryResult<()> {
    diesel::delete(product_terms::table.filter(product_terms::product_id.eq(&row.id)))
        .execute(conn)?;
    insert_terms(conn, row)
}

/// The search terms of a product's row. One row at a time: multi-row inserts do not compile
/// on the multi-backend connection.
fn insert_terms(conn: &mut DbConnection, row: &ProductRow) -> QueryResult<()> {
    for term in row.search_terms() {
        diesel::insert_into(product_terms::table)
            .values((
                product_terms::term.eq(term),
                product_terms::product_id.eq(&row.id),
            ))
            .execute(conn)?;
    }
    Ok(())
}

/// The cheapest active variant's price, or the base price when none is active.
pub fn recompute_min_price(conn: &mut DbConnection, product_id: &str) -> QueryResult<()> {
    let base: i64 = products::table
        .find(product_id)
        .select(products::base_price)
        .first(conn)?;
    let overrides: Vec<Option<i64>> = variants::table
        .filter(variants::product_id.eq(product_id))
        .filter(variants::status.eq(ACTIVE))
        .select(variants::price_override)
        .load(conn)?;
    let min = overrides
        .into_iter()
        .map(|o| o.unwrap_or(base))
        .min()
        .unwrap_or(base);
    diesel::update(products::table.find(product_id))
        .set(products::min_price.eq(min))
        .execute(conn)?;
    Ok(())
}

/// Inserts a product with its variants and search terms (caller's transaction); returns
/// its id.
pub fn insert_product(conn: &mut DbConnection, product: &ProductDraft) -> QueryResult<String> {
    let row = ProductRow::new(product);
    let variants: Vec<VariantRow> = product
        .variants
        .iter()
        .map(|v| VariantRow::new(&row.id, v))
        .collect();
    insert_product_rows(conn, &row, &variants)?;
    recompute_min_price(conn, &row.id)?;
    bump_catalog_version(conn)?;
    Ok(row.id)
}

/// The rows alone, for bulk loads that set `min_price` themselves and bump the catalog
/// version once at the end.
pub fn insert_product_rows(
    conn: &mut DbConnection,
    row: &ProductRow,
    variants: &[VariantRow],
) -> QueryResult<()> {
    diesel::insert_into(products::table)
        .values(row)
        .execute(conn)?;
    for v in variants {
        diesel::insert_into(variants::table)
            .values(v)
            .execute(conn)?;
    }
    insert_terms(conn, row)
}

pub fn existing_slugs(conn: &mut DbConnection) -> QueryResult<std::collections::HashSet<String>> {
    Ok(products::table
        .select(products::slug)
        .load::<String>(conn)?
        .into_iter()
        .collect())
}

/// Records why stock changed (inventory trail; not personal data).
pub fn record_stock_movement(
    conn: &mut DbConnection,
    variant_id: &str,
    delta: i32,
    reason: &str,
    actor_id: &str,
) -> QueryResult<()> {
    use crate::db::schema::stock_movements;
    diesel::insert_into(stock_movements::table)
        .values((
            stock_movements::id.eq(crate::ids::new_id("stm")),
            stock_movements::variant_id.eq(variant_id),
            stock_movements::delta.eq(delta),
            stock_movements::reason.eq(reason),
            stock_movements::actor_id.eq(actor_id),
            stock_movements::at.eq(crate::db::now()),
        ))
        .execute(conn)?;
    Ok(())
}

/// Writes a changed product if it is still at `expected_version`; false when it moved on.
pub fn update_product(
    conn: &mut DbConnection,
    row: &ProductRow,
    expected_version: i32,
) -> QueryResult<bool> {
    let updated = diesel::update(
        products::table
            .filter(products::id.eq(&row.id))
            .filter(products::version.eq(expected_version)),
    )
    .set(row)
    .execute(conn)?;
    if updated == 0 {
        return Ok(false);
    }
    replace_terms(conn, row)?;
    recompute_min_price(conn, &row.id)?;
    bump_catalog_version(conn)?;
    Ok(true)
}

/// Adds a variant to a product (caller's transaction); returns its id.
pub fn insert_variant(
    conn: &mut DbConnection,
    product_id: &str,
    variant: &VariantDraft,
) -> QueryResult<String> {
    let v = VariantRow::new(product_id, variant);
    diesel::insert_into(variants::table)
        .values(&v)
        .execute(conn)?;
    recompute_min_price(conn, &v.product_id)?;
    bump_catalog_version(conn)?;
    Ok(v.id)
}

/// Writes a changed variant if it is still at `expected_version`.
pub fn update_variant(
    conn: &mut DbConnection,
    v: &VariantRow,
    expected_version: i32,
) -> QueryResult<bool> {
    let updated = diesel::update(
        variants::table
            .filter(variants::id.eq(&v.id))
            .filter(variants::version.eq(expected_version)),
    )
    .set((
        variants::color.eq(&v.color),
        variants::price_override.eq(v.price_override),
        variants::status.eq(&v.status),
        variants::images.eq(&v.images),
        variants::version.eq(v.version),
        variants::updated_at.eq(v.updated_at),
    ))
    .execute(conn)?;
    if updated == 0 {
        return Ok(false);
    }
    recompute_min_price(conn, &v.product_id)?;
    bump_catalog_version(conn)?;
    Ok(true)
}

/// Sets the stock of a variant; returns the previous level, `None` when there is no such
/// variant.
pub fn set_stock(conn: &mut DbConnection, id: &str, available: Stock) -> QueryResult<Option<i32>> {
    let Some(previous) = get_variant(conn, id)?.map(|v| v.available) else {
        return Ok(None);
    };
    diesel::update(variants::table.find(id))
        .set((
            variants::available.eq(available.get()),
            variants::updated_at.eq(crate::db::now()),
        ))
        .execute(conn)?;
    bump_catalog_version(conn)?;
    Ok(Some(previous))
}

/// Adds `delta` units to a variant's stock if the result stays a [`Stock`] (0 to
/// `MAX_STOCK`); false, and nothing changed, otherwise. The condition lives in the UPDATE
/// itself, so concurrent adjustments and checkouts (in any process) can interleave without
/// ever overselling.
pub fn adjust_stock(conn: &mut DbConnection, id: &str, delta: StockDelta) -> QueryResult<bool> {
    let (delta, max) = (delta.get(), Stock::MAX);
    let n = diesel::update(
        variants::table
            .filter(variants::id.eq(id))
            .filter(variants::available.ge(-delta))
            .filter(variants::available.le(max - delta)),
    )
    .set((
        variants::available.eq(variants::available + delta),
        variants::updated_at.eq(crate::db::now()),
    ))
    .execute(conn)?;
    if n == 1 {
        bump_catalog_version(conn)?;
    }
    Ok(n == 1)
}
