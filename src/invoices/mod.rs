//! Invoices and credit notes: an invoice when an order is paid, a credit note when a refund
//! of its payment succeeds; numbered without gaps per series and year, never changed once
//! issued, readable by the customer and by staff as JSON or PDF.

pub mod issue;
pub mod model;
pub mod pdf;
pub mod read;
pub mod routes;
pub mod store;
pub mod view;
pub mod worker;
