//! Changing the catalogue: the use cases behind the admin routes. Each runs in one write
//! transaction on the caller's connection and answers with the view the client is shown,
//! and with the edit version when there is one to send as an ETag.
//!
//! New products and variants arrive parsed. A patch arrives as sent and is parsed only once
//! what it changes is found and its version admitted, so a missing product answers 404 and
//! a stale `If-Match` 412 whatever the body holds. Errors are the edge's `ApiError`: a
//! missing product, a moved-on version or a taken slug is an answer for the client.

use super::events::{self, StockCause};
use super::model::{
    ProductDraft, ProductPatch, ProductView, Stock, StockChange, VariantDraft, VariantPatch,
    VariantView,
};
use super::store::{self, ARCHIVED};
use crate::db::{write_transaction, DbConnection};
use crate::http::error::ApiError;

/// Creates a product with its variants; answers it with its edit version.
pub fn create_product(
    conn: &mut DbConnection,
    product: &ProductDraft,
    currency: &str,
) -> Result<(ProductView, i32), ApiError> {
    write_transaction(conn, |conn| {
        let id = store::insert_product(conn, product).map_err(duplicate)?;
        product_view(conn, &id, currency)
    })
}

/// Changes a product by `prod_…` id if `admits` its current edit version (the caller's
/// `If-Match`); answers it with its new edit version.
pub fn update_product(
    conn: &mut DbConnection,
    id: &str,
    admits: impl FnOnce(i32) -> bool,
    patch: ProductPatch,
    currency: &str,
) -> Result<(ProductView, i32), ApiError> {
    write_transaction(conn, |conn| {
        let current = store::find(conn, id)?
            .filter(|r| r.id == id)
            .ok_or(ApiError::NotFound)?;
        if !admits(current.version) {
            return Err(ApiError::PreconditionFailed);
        }
        let mut row = current.clone();
        row.apply(patch.parse()?);
        row.version = current.version + 1;
        row.updated_at = crate::db::now();
        if !store::update_product(conn, &row, current.version)? {
            return Err(ApiError::PreconditionFailed);
        }
        events::product_updated(conn, &row.id, None)?;
        product_view(conn, &row.id, currency)
    })
}

/// Archives a product by `prod_…` id, whatever its edit version.
pub fn archive_product(conn: &mut DbConnection, id: &str) -> Result<(), ApiError> {
    write_transaction(conn, |conn| {
        let mut row = store::find(conn, id)?
            .filter(|r| r.id == id)
            .ok_or(ApiError::NotFound)?;
        let expected = row.version;
        row.status = ARCHIVED.to_owned();
        row.version += 1;
        row.updated_at = crate::db::now();
        if store::update_product(conn, &row, expected)? {
            events::product_updated(conn, &row.id, None)?;
        }
        Ok(())
    })
}

/// Adds a variant to a product (by `prod_…` id); answers it with its edit version.
pub fn create_variant(
    conn: &mut DbConnection,
    product_id: &str,
    variant: &VariantDraft,
    currency: &str,
) -> Result<(VariantView, i32), ApiError> {
    write_transaction(conn, |conn| {
        store::find(conn, product_id)?
            .filter(|p| p.id == product_id)
            .ok_or(ApiError::NotFound)?;
        let id = store::insert_variant(conn, product_id, variant).map_err(duplicate)?;
        events::product_updated(conn, product_id, Some(&id))?;
        variant_view(conn, &id, currency)
    })
}

/// Changes a variant if `admits` its current edit version (the caller's `If-Match`);
/// answers it with its new edit version.
pub fn update_variant(
    conn: &mut DbConnection,
    id: &str,
    admits: impl FnOnce(i32) -> bool,
    patch: VariantPatch,
    currency: &str,
) -> Result<(VariantView, i32), ApiError> {
    write_transaction(conn, |conn| {
        let current = store::get_variant(conn, id)?.ok_or(ApiError::NotFound)?;
        if !admits(current.version) {
            return Err(ApiError::PreconditionFailed);
        }
        let mut row = current.clone();
        row.apply(patch.parse()?);
        row.version += 1;
        row.updated_at = crate::db::now();
        if !store::update_variant(conn, &row, current.version)? {
            return Err(ApiError::PreconditionFailed);
        }
        events::product_updated(conn, &row.product_id, Some(id))?;
        variant_view(conn, id, currency)
    })
}

/// Archives a variant, whatever its edit version.
pub fn archive_variant(conn: &mut DbConnection, id: &str) -> Result<(), ApiError> {
    write_transaction(conn, |conn| {
        let current = store::get_variant(conn, id)?.ok_or(ApiError::NotFound)?;
        let mut row = current.clone();
        row.status = ARCHIVED.to_owned();
        row.version += 1;
        row.updated_at = crate::db::now();
        if store::update_variant(conn, &row, current.version)? {
            events::product_updated(conn, &row.product_id, Some(id))?;
        }
        Ok(())
    })
}

/// Sets a variant's stock as counted; the stock history records the difference, in
/// `actor`'s name.
pub fn set_stock(
    conn: &mut DbConnection,
    id: &str,
    available: Stock,
    actor: &str,
    currency: &str,
) -> Result<VariantView, ApiError> {
    write_transaction(conn, |conn| {
        let previous = store::set_stock(conn, id, available)?.ok_or(ApiError::NotFound)?;
        store::record_stock_movement(
            conn,
            id,
            available.get() - previous,
            "stock level set",
            actor,
        )?;
        events::stock_changed(conn, id, StockCause::Staff)?;
        Ok(variant_view(conn, id, currency)?.0)
    })
}

/// Adjusts a variant's stock relative to what is there at that instant, in `actor`'s name.
/// Below zero is a conflict (409), above [`Stock::MAX`] an invalid `delta` (422); either
/// way nothing changes.
pub fn adjust_stock(
    conn: &mut DbConnection,
    id: &str,
    change: &StockChange,
    actor: &str,
    currency: &str,
) -> Result<VariantView, ApiError> {
    write_transaction(conn, |conn| {
        let variant = store::get_variant(conn, id)?.ok_or(ApiError::NotFound)?;
        let delta = change.delta.get();
        if !store::adjust_stock(conn, id, change.delta)? {
            // Nothing changed; the row as it is now says which bound held.
            let now = store::get_variant(conn, id)?.map_or(variant.available, |v| v.available);
            if now.saturating_add(delta) > Stock::MAX {
                return Err(ApiError::validation(
                    "delta",
                    format!("would take the stock above {} units", Stock::MAX),
                ));
            }
            return Err(ApiError::conflict(
                "The adjustment would take the stock below zero.",
            ));
        }
        store::record_stock_movement(conn, id, delta, change.reason.as_str(), actor)?;
        events::stock_changed(conn, id, StockCause::Staff)?;
        Ok(variant_view(conn, id, currency)?.0)
    })
}

fn duplicate(e: diesel::result::Error) -> ApiError {
    if crate::db::is_unique_violation(&e) {
        ApiError::conflict("Another product uses this slug, or another variant this SKU.")
    } else {
        e.into()
    }
}

/// A product as just written, with its edit version.
fn product_view(
    conn: &mut DbConnection,
    product_id: &str,
    currency: &str,
) -> Result<(ProductView, i32), ApiError> {
    let row = store::find(conn, product_id)?.ok_or(ApiError::NotFound)?;
    let variants = store::variants_of(conn, std::slice::from_ref(&row.id), false)?;
    Ok((row.view(&variants[0], currency), row.version))
}

/// A variant as just written, with its edit version.
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
