//! Carts for customers and guests: items by variant, quantities checked against stock,
//! totals computed on the server, expiry.

pub mod merge;
pub mod routes;
pub mod store;

pub use routes::configure;
