//! Discount codes: percentage, fixed amount or free shipping, with a validity window, a
//! minimum goods subtotal and usage limits; managed by managers, applied to carts, redeemed
//! once per order in the checkout's transaction.

pub mod cart;
pub mod model;
pub mod quote;
pub mod routes;
pub mod store;

use crate::crypto::{index_kind, Crypto};
use crate::http::error::ApiError;

/// The problem answer of a code that does not apply (422, one type per reason).
pub fn refused(refusal: model::Refusal, currency: &str) -> ApiError {
    ApiError::NotApplicable {
        slug: refusal.slug(),
        detail: refusal.detail(currency, crate::money::minor_unit(currency)),
    }
}

/// Who a use is counted against: the account, or for a guest the blind index of the
/// contact e-mail (the same index accounts are found by, so the limit does not depend on
/// how the address was typed). Never the e-mail itself.
pub fn customer_of_account(user_id: &str) -> String {
    format!("user:{user_id}")
}

pub fn customer_of_guest(crypto: &Crypto, normalized_email: &str) -> String {
    format!(
        "email:{}",
        hex::encode(crypto.blind_index(index_kind::ACCOUNT_EMAIL, normalized_email))
    )
}
