//! What a cart's code would take off now, for the cart's totals; checkout checks again.

use serde::Serialize;
use utoipa::ToSchema;

use super::model::{apply, check, Applied, Kind};
use super::store;
use crate::catalog::model::Money;
use crate::db::DbConnection;

/// The discount code a cart carries, as it stands now.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({
    "code": "WELCOME10", "kind": "percentage", "applies": true, "problem": null,
    "amount": {"amount": 1290, "currency": "EUR", "minor_unit": 2}
}))]
pub struct CartDiscount {
    /// The code, in upper case.
    #[schema(example = "WELCOME10")]
    pub code: String,
    pub kind: Kind,
    /// Whether it applies to the cart now; checkout checks again (and may refuse with the
    /// problem named here).
    pub applies: bool,
    /// When it does not apply: the `type` of the problem that says why (e.g.
    /// `urn:valise:problem:discount-code-below-minimum`); null when it applies.
    #[schema(example = json!(null))]
    pub problem: Option<String>,
    /// What it takes off the cart's goods and shipping now (0 when it does not apply).
    pub amount: Money,
}

/// A cart's code and what it takes off `subtotal` and `shipping`; `None` without a code.
/// `owner_user_id` counts the customer's own uses (a guest's are known only at checkout).
pub fn for_cart(
    conn: &mut DbConnection,
    cart_id: &str,
    owner_user_id: Option<&str>,
    subtotal: i64,
    shipping: i64,
    currency: crate::money::Currency,
) -> diesel::QueryResult<Option<(CartDiscount, Applied)>> {
    let Some(code) = store::of_cart(conn, cart_id)? else {
        return Ok(None);
    };
    let customer_uses = match owner_user_id {
        Some(user) => Some(store::customer_uses(
            conn,
            &code.id,
            &super::customer_of_account(user),
        )?),
        None => None,
    };
    let terms = code.terms();
    let verdict = check(&terms, crate::db::now(), subtotal, code.uses, customer_uses);
    let applied = match verdict {
        Ok(()) => apply(terms.benefit, &[subtotal], shipping),
        Err(_) => Applied {
            goods: vec![0],
            shipping: 0,
        },
    };
    let view = CartDiscount {
        code: code.code.clone(),
        kind: terms.benefit.kind(),
        applies: verdict.is_ok(),
        problem: verdict
            .err()
            .map(|r| format!("{}{}", crate::http::error::TYPE_PREFIX, r.slug())),
        amount: Money::new(applied.total(), currency),
    };
    Ok(Some((view, applied)))
}
