//! Valise: a headless commerce API for an online luggage shop, built so that its privacy
//! policy is kept by the code.

pub mod accounts;
pub mod analytics;
pub mod audit;
pub mod auth;
pub mod backup;
pub mod carts;
pub mod catalog;
pub mod cli;
pub mod config;
pub mod crypto;
pub mod db;
pub mod delivery;
pub mod discounts;
pub mod http;
pub mod idempotency;
pub mod ids;
pub mod invalid;
pub mod invoices;
pub mod metrics;
pub mod money;
pub mod notifications;
pub mod operations;
pub mod orders;
pub mod payments;
pub mod policies;
pub mod privacy;
pub mod retention;
pub mod shipping;
pub mod startup;
pub mod tax;
pub mod telemetry;
pub mod text;
pub mod versions;
pub mod webhooks;
pub mod workers;
