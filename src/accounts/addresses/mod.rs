//! Saved shipping addresses: `GET/POST /v1/me/addresses`, `PATCH/DELETE
//! /v1/me/addresses/{id}`, and the saving, correcting and listing behind them. Each address is
//! sealed whole with its owner's data key, so the owner's erasure makes every saved address
//! unreadable at once.
//!
//! `model` holds the views and the correction, `store` the sealed rows and the use cases
//! (save, correct, list), `routes` the thin handlers.

pub mod model;
pub mod routes;
pub mod store;

pub use model::SavedAddress;
pub use routes::configure;
pub use store::{list_open, ADDRESS, MAX_ADDRESSES, TABLE};
