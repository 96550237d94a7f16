//! Tax-rate queries. A rate row is `(country, effective_from)`; the rate in effect on a day
//! is the row of that country with the latest `effective_from` not after it.

use chrono::NaiveDate;
use diesel::prelude::*;

use super::model::{NewRate, Rate};
use crate::db::schema::tax_rates;
use crate::db::DbConnection;

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = tax_rates)]
pub struct RateRow {
    pub country: String,
    pub effective_from: NaiveDate,
    pub rate_bp: i32,
    pub updated_at: chrono::NaiveDateTime,
}

/// The standard rate in effect in `country` on `day`, if any row has taken effect by then.
pub fn in_effect(
    conn: &mut DbConnection,
    country: &str,
    day: NaiveDate,
) -> QueryResult<Option<Rate>> {
    let bp: Option<i32> = tax_rates::table
        .filter(tax_rates::country.eq(country))
        .filter(tax_rates::effective_from.le(day))
        .order(tax_rates::effective_from.desc())
        .select(tax_rates::rate_bp)
        .first(conn)
        .optional()?;
    Ok(bp.map(|bp| Rate::stored(i64::from(bp))))
}

/// Every rate row, by country and then date; only `country`'s when given.
pub fn list(conn: &mut DbConnection, country: Option<&str>) -> QueryResult<Vec<RateRow>> {
    let mut query = tax_rates::table
        .order((tax_rates::country, tax_rates::effective_from))
        .select(RateRow::as_select())
        .into_boxed();
    if let Some(c) = country {
        query = query.filter(tax_rates::country.eq(c.to_owned()));
    }
    query.load(conn)
}

/// Adds the rate, or replaces the one of the same country and day; whether it replaced one.
/// The caller's transaction makes the two statements one change (an upsert is not portable
/// over both backends here).
pub fn put(conn: &mut DbConnection, rate: &NewRate) -> QueryResult<(RateRow, bool)> {
    let replaced = diesel::delete(
        tax_rates::table
            .filter(tax_rates::country.eq(rate.country))
            .filter(tax_rates::effective_from.eq(rate.effective_from)),
    )
    .execute(conn)?
        > 0;
    let row = RateRow {
        country: rate.country.to_owned(),
        effective_from: rate.effective_from,
        rate_bp: i32::try_from(rate.rate.basis_points()).unwrap_or(i32::MAX),
        updated_at: crate::db::now(),
    };
    diesel::insert_into(tax_rates::table)
        .values(&row)
        .execute(conn)?;
    Ok((row, replaced))
}
