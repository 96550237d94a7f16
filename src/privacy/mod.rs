//! Privacy rules shared by every room that accepts personal data.

pub mod consents;
pub mod data_map;
pub mod erasure;
pub mod export;
pub mod ledger;
pub mod requests;
pub mod sensitive;

pub use sensitive::refuse_sensitive;
