//! Pre-sale consultations: a shopper asks about a product; support answers.
//!
//! The question text and the optional contact email are personal data: sealed with the
//! consultation's own data key (so retention or erasure can shred one consultation), never
//! shown publicly. What is public is the answer, under a question text support chose to
//! publish.

pub mod model;
pub mod routes;
pub mod store;

pub use routes::{configure_admin, configure_public};
pub use store::RECIPIENTS;
