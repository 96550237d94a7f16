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

/// What the `X-Order-Token` header holds, for the operations that take it.
pub const ORDER_TOKEN: &str = "Guests only: the order's `vo_…` token from the checkout answer \
     (`order_token`). Customers send their access token instead.";

/// What the `{number}` path parameter of every order operation holds. Its pattern is
/// [`crate::orders::model::ORDER_NUMBER_PATTERN`], written out in each operation (the test
/// below keeps them equal).
pub const ORDER_NUMBER: &str = "The order's human number, e.g. `LG-7KQ2-9XF4`: `LG-` and two \
     groups of four characters of Crockford base32 without I, L, O and U. Any other value \
     answers 404.";

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

#[cfg(test)]
mod tests {
    use crate::orders::model::ORDER_NUMBER_PATTERN;

    /// Every `{number}` of the document is described and has the model's pattern.
    #[test]
    fn every_order_number_parameter_has_the_model_s_pattern() {
        let spec = serde_json::to_value(crate::startup::spec()).unwrap();
        let mut seen = 0;
        for (path, item) in spec["paths"].as_object().unwrap() {
            for (method, op) in item.as_object().unwrap() {
                let numbers: Vec<_> = op["parameters"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter(|p| p["name"] == "number" && p["in"] == "path")
                    .collect();
                assert_eq!(
                    numbers.len(),
                    usize::from(path.contains("{number}")),
                    "{method} {path}"
                );
                for p in numbers {
                    assert_eq!(
                        p["schema"]["pattern"], ORDER_NUMBER_PATTERN,
                        "{method} {path}"
                    );
                    assert_eq!(p["description"], super::ORDER_NUMBER, "{method} {path}");
                    seen += 1;
                }
            }
        }
        assert!(seen >= 9, "{seen}");
    }
}
