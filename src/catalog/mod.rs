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

/// The database catalogue reads go to: the read replica (`DATABASE_READ_URL`) when one is
/// configured, else the primary. Writes and checkout always use the primary.
#[derive(Clone)]
pub struct CatalogDb(pub crate::db::Db);
