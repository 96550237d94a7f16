//! Who is asking about an order: a customer, by account, or a guest, by the order token
//! received at checkout. Anyone else gets 404, as does a malformed number: not-yours and
//! not-found are the same answer.

use actix_web::HttpRequest;

use super::model::is_order_number;
use super::store::{self, OrderRow, Owner};
use crate::auth::Caller;
use crate::db::DbConnection;
use crate::http::error::ApiError;

/// The 404 of an order the caller cannot reach: the same words whether it exists or not.
pub const NOT_YOURS: &str = "No order with this number is yours. Guests send the order's \
     token (from the checkout answer) as `X-Order-Token`; customers send their access token.";

#[derive(Debug, Clone)]
pub enum Requester {
    User(String),
    Guest(String),
}

impl Requester {
    pub fn from_request(caller: &Caller, req: &HttpRequest) -> Result<Self, ApiError> {
        if let Some(user) = caller.user_id() {
            return Ok(Requester::User(user.to_owned()));
        }
        req.headers()
            .get("x-order-token")
            .and_then(|v| v.to_str().ok())
            .map(|t| Requester::Guest(t.to_owned()))
            .ok_or(ApiError::NotYours(NOT_YOURS))
    }

    /// The customer's account id (guests have none).
    pub fn user_id(&self) -> Option<&str> {
        match self {
            Requester::User(id) => Some(id),
            Requester::Guest(_) => None,
        }
    }

    /// The order `number`, if it is the requester's.
    pub fn find(&self, conn: &mut DbConnection, number: &str) -> Result<OrderRow, ApiError> {
        if !is_order_number(number) {
            return Err(ApiError::NotYours(NOT_YOURS));
        }
        let owner = match self {
            Requester::User(id) => Owner::User(id),
            Requester::Guest(token) => Owner::Guest { token },
        };
        store::find_owned(conn, number, &owner)?.ok_or(ApiError::NotYours(NOT_YOURS))
    }
}
