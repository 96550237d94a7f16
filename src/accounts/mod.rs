//! Accounts: customers and staff as data subjects — their sealed profile and its correction,
//! their saved addresses, and staff administration.

pub mod addresses;
pub mod email;
pub mod email_change;
pub mod model;
pub mod profile;
pub mod routes;
pub mod staff;
pub mod store;

pub use routes::configure as configure_me;
pub use staff::configure as configure_staff;
