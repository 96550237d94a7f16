//! Accounts: customers and staff as data subjects — their sealed profile, its correction,
//! and staff administration.

pub mod addresses;
pub mod email;
pub mod model;
pub mod routes;
pub mod staff;
pub mod store;

pub use routes::configure as configure_me;
pub use staff::configure as configure_staff;
