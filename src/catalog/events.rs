//! Catalogue events for integrators: `product.updated` when staff edit a product or one of
//! its variants, `variant.stock_changed` when staff set or adjust a stock, and — to keep
//! checkout cheap — only when a checkout or a released order moves a variant across the
//! line between out of stock and in stock. Payloads hold ids, versions and counts only.

use serde_json::json;

use super::store;
use crate::db::DbConnection;
use crate::webhooks::model::WebhookEventType;

/// Why a variant's stock changed, as integrators read it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StockCause {
    /// Staff set or adjusted it.
    Staff,
    /// A checkout reserved its last units.
    Checkout,
    /// An order was cancelled or expired and gave units back.
    Release,
}

impl StockCause {
    fn as_str(self) -> &'static str {
        match self {
            StockCause::Staff => "staff",
            StockCause::Checkout => "checkout",
            StockCause::Release => "release",
        }
    }
}

/// Emits `product.updated` for a product (and the variant edited, if any).
pub fn product_updated(
    conn: &mut DbConnection,
    product_id: &str,
    variant_id: Option<&str>,
) -> diesel::QueryResult<()> {
    let mut data = json!({"product_id": product_id});
    if let Some(variant) = variant_id {
        data["variant_id"] = json!(variant);
    }
    crate::webhooks::emit(conn, WebhookEventType::ProductUpdated, &data)
}

/// Emits `variant.stock_changed` with the variant's stock as it is now.
pub fn stock_changed(
    conn: &mut DbConnection,
    variant_id: &str,
    cause: StockCause,
) -> diesel::QueryResult<()> {
    let Some(variant) = store::get_variant(conn, variant_id)? else {
        return Ok(());
    };
    crate::webhooks::emit(
        conn,
        WebhookEventType::VariantStockChanged,
        &json!({
            "variant_id": variant.id,
            "product_id": variant.product_id,
            "available": variant.available,
            "in_stock": variant.available > 0,
            "cause": cause.as_str(),
        }),
    )
}

/// Whether a stock that is now `available` after moving by `delta` crossed between out of
/// stock (0) and in stock.
pub fn crossed(available: i32, delta: i32) -> bool {
    let before = available - delta;
    (before > 0) != (available > 0)
}

/// After a checkout reserved `quantity` units or a release gave them back (`delta`
/// negative or positive): one primary-key read of the locked row, and an event only when
/// the variant crossed the line.
pub fn after_movement(
    conn: &mut DbConnection,
    variant_id: &str,
    delta: i32,
    cause: StockCause,
) -> diesel::QueryResult<()> {
    match store::available(conn, variant_id)? {
        Some(now) => moved(conn, variant_id, now, delta, cause),
        None => Ok(()),
    }
}

/// [`after_movement`] when the statement that moved the stock returned what is `available`
/// now: an event only when the variant crossed the line.
pub fn moved(
    conn: &mut DbConnection,
    variant_id: &str,
    available: i32,
    delta: i32,
    cause: StockCause,
) -> diesel::QueryResult<()> {
    if crossed(available, delta) {
        stock_changed(conn, variant_id, cause)
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_moves_across_zero_cross_the_line() {
        assert!(crossed(0, -2), "the last two units sold");
        assert!(crossed(3, 3), "three units back to an empty shelf");
        assert!(!crossed(1, -2), "still in stock");
        assert!(!crossed(5, 2), "was in stock already");
        assert!(!crossed(0, 0));
    }
}
