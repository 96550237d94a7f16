//! Privacy-policy versions: the published text every customer accepts, with its digest.

pub mod admin;
pub mod model;
pub mod notices;
pub mod routes;
pub mod store;

pub use routes::configure;
