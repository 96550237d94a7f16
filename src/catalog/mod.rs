//! The catalogue: luggage products, variants and stock; fast filtered listing from an
//! in-process cache; pre-sale consultations; the demo catalogue.

pub mod admin;
pub mod cache;
pub mod consultations;
pub mod model;
pub mod routes;
pub mod seed;
pub mod store;

/// Shop-wide settings handlers need.
#[derive(Debug, Clone)]
pub struct Shop {
    /// ISO 4217 code of every price.
    pub currency: String,
    /// How long an unpaid order holds its stock.
    pub payment_window: chrono::Duration,
    /// How long after delivery after-sales cases can be opened.
    pub after_sales_window: chrono::Duration,
}

/// The database catalogue reads go to: the read replica (`DATABASE_READ_URL`) when one is
/// configured, else the primary. Writes and checkout always use the primary.
#[derive(Clone)]
pub struct CatalogDb(pub crate::db::Db);
