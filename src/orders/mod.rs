//! Orders: checkout, the state machine, customer views, expiry.

pub mod access;
pub mod address;
pub mod admin;
pub mod admin_actions;
pub mod after_sales;
pub mod checkout;
pub mod export;
pub mod lifecycle;
pub mod model;
pub mod routes;
pub mod search;
pub mod store;
pub mod view;
pub mod worker;
