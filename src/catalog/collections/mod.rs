//! Curated collections a manager arranges ("cabin bestsellers"): a slug, a title, an
//! optional description, an active flag and products in the manager's order.
//!
//! Shoppers see only active collections, and in them only active products, rendered as the
//! listing renders them and served from the same response cache: every collection write
//! bumps the catalogue version, as every product write does, so an edit of either is
//! visible at once on the instance that made it and within a poll on the others.

pub mod model;
pub mod routes;
pub mod store;

pub use routes::{configure_admin, configure_public};
