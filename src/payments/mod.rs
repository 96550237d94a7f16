//! Payments: a provider-agnostic model with the built-in `test` provider and `stripe`,
//! payment status driven by signed provider webhooks, refunds that reach the provider. No
//! card data exists anywhere in this API.

pub mod cancels;
pub mod events;
pub mod model;
pub mod provider;
pub mod refunds;
pub mod routes;
pub mod start;
pub mod store;
pub mod stripe;
pub mod view;
pub mod worker;

pub use cancels::abandon_for_order;
pub use refunds::refund_all_for_order;
