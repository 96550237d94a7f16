//! `/v1/admin/products…`, `/v1/admin/variants…` (manager+): catalogue and inventory, one
//! file per resource. The handlers parse, call a use case of `catalog::editing`, and answer.
//!
//! Writes take `If-Match` with the edit ETag these routes return (`"p<version>"` for a
//! product, `"v<version>"` for a variant); a stale one answers 412.

mod products;
mod stock;
mod transfer;
mod variants;

use super::store;
use crate::db::Db;
use crate::versions::Versions;

pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    products::configure(cfg);
    variants::configure(cfg);
    stock::configure(cfg);
    transfer::configure(cfg);
}

/// After a change: this instance serves it at once instead of after its next poll.
pub(crate) async fn observe(db: &Db, versions: &Versions) {
    match db
        .run(|conn| {
            let version = store::catalog_version(conn)?;
            let wal = crate::db::replica::wal_position(conn)?;
            Ok::<_, crate::db::DbError>((version, wal))
        })
        .await
    {
        Ok((version, wal)) => versions.observe_catalog(version, wal),
        Err(e) => tracing::warn!("could not read the catalog version: {e}"),
    }
}

fn product_etag(version: i32) -> String {
    format!("\"p{version}\"")
}

fn variant_etag(version: i32) -> String {
    format!("\"v{version}\"")
}
