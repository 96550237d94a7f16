//! The catalogue: luggage products, variants and stock; fast filtered listing from an
//! in-process cache; pre-sale consultations; the demo catalogue.

pub mod admin;
pub mod cache;
pub mod cached;
pub mod collections;
pub mod consultations;
pub mod editing;
pub mod events;
pub mod export;
pub mod import;
pub mod model;
pub mod routes;
pub mod seed;
pub mod store;

/// The databases the public catalogue reads (listings, product pages, collections) go to:
/// the read replica (`DATABASE_READ_URL`) when one is configured and has replayed the
/// catalogue version being served, else the primary. Writes, checkout and staff reads always
/// use the primary.
#[derive(Clone)]
pub struct CatalogDb(pub crate::db::replica::ReadDb);
