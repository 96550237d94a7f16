//! Tax as clients see it: an order's tax record, and the rates table for staff.

use chrono::NaiveDate;
use serde::Serialize;
use utoipa::ToSchema;

use super::model::Rate;
use super::store::RateRow;
use crate::catalog::model::Money;
use crate::config::TaxMode;

/// Everything taxed at one rate in an order (goods and shipping together), in minor units:
/// `net + tax = gross`.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(example = json!({
    "rate_basis_points": 1900, "rate_percent": "19",
    "net": {"amount": 10840, "currency": "EUR", "minor_unit": 2},
    "tax": {"amount": 2060, "currency": "EUR", "minor_unit": 2},
    "gross": {"amount": 12900, "currency": "EUR", "minor_unit": 2}
}))]
pub struct TaxLineView {
    /// The rate in basis points of the net price: `1900` is 19 %.
    #[schema(minimum = 0, maximum = 10000, example = 1900)]
    pub rate_basis_points: u32,
    /// The same rate as a percentage for people, exact: `19`, `25.5`.
    #[schema(example = "19")]
    pub rate_percent: String,
    /// What was taxed at this rate, without the tax.
    pub net: Money,
    /// The tax: rounded once for the line, half away from zero.
    pub tax: Money,
    /// `net` plus `tax`.
    pub gross: Money,
}

impl TaxLineView {
    pub fn new(rate: Rate, net: i64, tax: i64, gross: i64, currency: &str) -> TaxLineView {
        TaxLineView {
            rate_basis_points: rate.basis_points(),
            rate_percent: rate.percent(),
            net: Money::in_code(net, currency),
            tax: Money::in_code(tax, currency),
            gross: Money::in_code(gross, currency),
        }
    }
}

/// Whether the order's prices included tax.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PriceMode {
    /// Prices, subtotal and shipping are gross: the tax is part of them.
    Inclusive,
    /// Prices, subtotal and shipping are net: the tax is added in the total.
    Exclusive,
}

impl From<TaxMode> for PriceMode {
    fn from(mode: TaxMode) -> Self {
        match mode {
            TaxMode::Inclusive => PriceMode::Inclusive,
            TaxMode::Exclusive => PriceMode::Exclusive,
        }
    }
}

/// An order's tax record, as charged.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(as = OrderTax)]
#[schema(example = json!({
    "mode": "inclusive", "country": "DE",
    "total": {"amount": 2060, "currency": "EUR", "minor_unit": 2},
    "lines": [{
        "rate_basis_points": 1900, "rate_percent": "19",
        "net": {"amount": 10840, "currency": "EUR", "minor_unit": 2},
        "tax": {"amount": 2060, "currency": "EUR", "minor_unit": 2},
        "gross": {"amount": 12900, "currency": "EUR", "minor_unit": 2}
    }]
}))]
pub struct TaxView {
    /// `inclusive`: the tax is part of the subtotal and shipping (and so of the total);
    /// `exclusive`: the subtotal and shipping are net and the total adds `total`.
    pub mode: PriceMode,
    /// ISO 3166-1 alpha-2 code of the destination whose rate applied; null for orders
    /// placed before tax was recorded.
    #[schema(pattern = "^[A-Z]{2}$", example = "DE")]
    pub country: Option<String>,
    /// The tax of the whole order: the sum of the lines' `tax`.
    pub total: Money,
    /// One line per rate, lowest first; goods and shipping are taxed at the same rate. A
    /// rate of 0 (an export) has a line with no tax. Empty for orders placed before tax was
    /// recorded.
    pub lines: Vec<TaxLineView>,
}

/// One row of the rates table.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({
    "country": "DE", "rate_basis_points": 1900, "rate_percent": "19",
    "effective_from": "2025-01-01", "in_effect": true
}))]
pub struct TaxRateView {
    /// ISO 3166-1 alpha-2 code of the EU member state.
    #[schema(pattern = "^[A-Z]{2}$", example = "DE")]
    pub country: String,
    /// The standard rate in basis points: `1900` is 19 %.
    #[schema(minimum = 0, maximum = 10000, example = 1900)]
    pub rate_basis_points: u32,
    /// The same rate as a percentage for people, exact: `19`, `25.5`.
    #[schema(example = "19")]
    pub rate_percent: String,
    /// The first day (UTC) orders pay this rate.
    pub effective_from: NaiveDate,
    /// Whether this is the row new orders to `country` pay today; a row of a later date
    /// takes over on its day, and orders placed before keep the rate they were placed at.
    pub in_effect: bool,
}

impl TaxRateView {
    pub fn new(row: &RateRow, in_effect: bool) -> TaxRateView {
        let rate = Rate::stored(i64::from(row.rate_bp));
        TaxRateView {
            country: row.country.clone(),
            rate_basis_points: rate.basis_points(),
            rate_percent: rate.percent(),
            effective_from: row.effective_from,
            in_effect,
        }
    }

    /// The rows with the one in effect on `today` marked, for each country (rows come by
    /// country, then date).
    pub fn all(rows: &[RateRow], today: NaiveDate) -> Vec<TaxRateView> {
        rows.iter()
            .enumerate()
            .map(|(i, row)| {
                let next = rows.get(i + 1).filter(|n| n.country == row.country);
                let started = row.effective_from <= today;
                let superseded = next.is_some_and(|n| n.effective_from <= today);
                TaxRateView::new(row, started && !superseded)
            })
            .collect()
    }
}

/// The rates table.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"data": [
    {"country": "DE", "rate_basis_points": 1900, "rate_percent": "19",
     "effective_from": "2025-01-01", "in_effect": true},
    {"country": "DE", "rate_basis_points": 2000, "rate_percent": "20",
     "effective_from": "2027-01-01", "in_effect": false}
]}))]
pub struct TaxRateList {
    /// Rows by country, then date.
    pub data: Vec<TaxRateView>,
}
