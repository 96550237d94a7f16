//! Carts for customers and guests: items by variant, quantities checked against stock,
//! totals computed on the server, expiry.

pub mod merge;
pub mod request;
pub mod routes;
pub mod store;
pub mod view;

pub use request::CartRequest;
pub use routes::configure;
