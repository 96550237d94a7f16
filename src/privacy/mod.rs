//! Privacy rules shared by every room that accepts personal data.

pub mod sensitive;

pub use sensitive::refuse_sensitive;
