//! The notification outbox: rows written in the same transaction as the change that causes
//! them, delivered later by a worker ([`delivery`]). Payloads carry ids and statuses, never
//! personal values. Staff see and retry the outbox through [`admin`].

pub mod admin;
pub mod delivery;
pub mod kind;
pub mod mail;
pub mod recipients;
pub mod routes;
pub mod store;
pub mod templates;

pub use crate::delivery::status::PENDING;
pub use kind::Kind;
pub use store::{enqueue, enqueue_each, pending_count, To};
