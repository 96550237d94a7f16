//! `/v1/admin/products…`, `/v1/admin/variants…` (manager+): catalogue and inventory, one
//! file per resource.
//!
//! Writes take `If-Match` with the edit ETag these routes return (`"p<version>"` for a
//! product, `"v<version>"` for a variant); a stale one answers 412.

mod products;
mod stock;
mod variants;

use super::model::{ProductView, VariantView};
use super::store;
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
