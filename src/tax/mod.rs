//! Tax: VAT and sales tax on orders.
//!
//! Prices are stored and shown as the shop configures them: gross (tax included, as EU
//! consumer prices must be; `VALISE_TAX_MODE=inclusive`, the default) or net with the tax
//! added at checkout (`exclusive`, for shops elsewhere). The destination country of an
//! order chooses its rate ([`model::rate_source`]): an EU shop charges an EU destination
//! that member state's standard rate from the rates table (`tax_rates`, data with an
//! effective-from day, edited by admins), a domestic sale the configured home rate when
//! there is one, and an export 0 %. Shipping is taxed at the rate of the goods.
//!
//! Rounding rule: per order and rate, once, half away from zero, on the integer minor
//! units of the rate's whole base: inclusive `tax = round(gross × r / (10000 + r))`,
//! `net = gross − tax`; exclusive `tax = round(net × r / 10000)`, `gross = net + tax`,
//! with `r` the rate in basis points ([`model::tax_lines`]). No floating point anywhere.
//! Each order stores its tax lines, so a later rate never changes an order placed before.

pub mod model;
pub mod routes;
pub mod store;
pub mod view;

use chrono::NaiveDate;

use crate::config::TaxSettings;
use crate::db::DbConnection;
use crate::http::error::ApiError;
use model::{NewRate, Rate, RateSource};
use view::TaxRateView;

/// The rate an order shipped to `destination` on `day` pays.
pub fn rate_for(
    conn: &mut DbConnection,
    settings: &TaxSettings,
    destination: &str,
    day: NaiveDate,
) -> Result<Rate, ApiError> {
    match model::rate_source(settings, destination) {
        RateSource::Fixed(rate) => Ok(rate),
        // Every member state is seeded with a rate from 2025 on, and rows are only ever
        // added: a member state without one is a damaged table, not a client's mistake.
        RateSource::Table(country) => store::in_effect(conn, &country, day)?.ok_or_else(|| {
            ApiError::Internal(anyhow::anyhow!(
                "no VAT rate in effect for {country} on {day}: the tax_rates table lost its rows"
            ))
        }),
    }
}

/// The rates table, one country's when given (422 for one that is not an EU member).
pub fn list_rates(
    conn: &mut DbConnection,
    country: Option<&str>,
) -> Result<Vec<TaxRateView>, ApiError> {
    let country = country
        .map(|c| model::eu_member("country", c))
        .transpose()?;
    let rows = store::list(conn, country)?;
    Ok(TaxRateView::all(&rows, crate::db::now().date()))
}

/// Adds or replaces a rate; its view, and whether it replaced a row.
pub fn set_rate(conn: &mut DbConnection, rate: &NewRate) -> Result<(TaxRateView, bool), ApiError> {
    crate::db::write_transaction(conn, |conn| {
        // Two admins writing the same country and day at once: on PostgreSQL both may delete
        // nothing and insert; the second insert then breaks the key. Theirs is a conflict.
        let (row, replaced) = store::put(conn, rate).map_err(|e| {
            if crate::db::is_unique_violation(&e) {
                ApiError::conflict("This rate was written at the same moment; read it and retry.")
            } else {
                e.into()
            }
        })?;
        let rows = store::list(conn, Some(rate.country))?;
        let view = TaxRateView::all(&rows, crate::db::now().date())
            .into_iter()
            .find(|r| r.effective_from == row.effective_from)
            .unwrap_or_else(|| TaxRateView::new(&row, false));
        Ok((view, replaced))
    })
}
