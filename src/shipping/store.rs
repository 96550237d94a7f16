//! Shipping queries: carriers, methods, and the method each order was placed with.

use diesel::prelude::*;

use super::model::{configured_zones, Rates, Zones};
use crate::config::Shipping;
use crate::db::schema::{order_shipping, shipping_carriers, shipping_methods};
use crate::db::DbConnection;

/// The code of the method the migration seeds.
pub const STANDARD: &str = "standard";

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = shipping_carriers)]
pub struct CarrierRow {
    pub code: String,
    pub name: String,
    pub tracking_url: String,
    pub created_at: chrono::NaiveDateTime,
    pub updated_at: chrono::NaiveDateTime,
    /// The edit version: one more at every change.
    pub version: i32,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = shipping_methods)]
#[diesel(treat_none_as_default_value = false)]
pub struct MethodRow {
    pub code: String,
    pub name: String,
    pub carrier_code: Option<String>,
    pub active: bool,
    pub volumetric_divisor: i32,
    pub free_from: Option<i64>,
    /// The [`Zones`] document, as JSON.
    pub zones: String,
    /// Priced by the configuration (VALISE_SHIPPING_*) until a manager edits it.
    pub configured: bool,
    pub created_at: chrono::NaiveDateTime,
    pub updated_at: chrono::NaiveDateTime,
    /// The edit version: one more at every change.
    pub version: i32,
}

impl MethodRow {
    /// The stored rates; a document that no longer reads (never written so: it is checked
    /// before every write) serves no country.
    pub fn rates(&self) -> Rates {
        Rates {
            volumetric_divisor: i64::from(self.volumetric_divisor),
            free_from: self.free_from,
            zones: serde_json::from_str(&self.zones).unwrap_or(Zones(Vec::new())),
        }
    }
}

/// The method an order was placed with, as it was then.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = order_shipping)]
#[diesel(treat_none_as_default_value = false)]
pub struct OrderShippingRow {
    pub order_id: String,
    pub method_code: String,
    pub method_name: String,
    pub carrier_code: Option<String>,
    pub carrier_name: Option<String>,
    pub price: i64,
    pub chargeable_grams: i64,
}

pub fn carriers(conn: &mut DbConnection) -> QueryResult<Vec<CarrierRow>> {
    shipping_carriers::table
        .order(shipping_carriers::code)
        .select(CarrierRow::as_select())
        .load(conn)
}

pub fn carrier(conn: &mut DbConnection, code: &str) -> QueryResult<Option<CarrierRow>> {
    shipping_carriers::table
        .find(code)
        .select(CarrierRow::as_select())
        .first(conn)
        .optional()
}

/// The carrier whose code or name is `name` (either case): what staff type when shipping.
pub fn carrier_named(conn: &mut DbConnection, name: &str) -> QueryResult<Option<CarrierRow>> {
    let wanted = name.trim().to_lowercase();
    Ok(carriers(conn)?
        .into_iter()
        .find(|c| c.code == wanted || c.name.to_lowercase() == wanted))
}

pub fn insert_carrier(conn: &mut DbConnection, row: &CarrierRow) -> QueryResult<usize> {
    diesel::insert_into(shipping_carriers::table)
        .values(row)
        .execute(conn)
}

/// Writes `row`'s name and template if the carrier is still at version `expected`, moving
/// it to the next; false when it is not (changed or removed meanwhile).
pub fn update_carrier(
    conn: &mut DbConnection,
    row: &CarrierRow,
    expected: i32,
) -> QueryResult<bool> {
    let n = diesel::update(
        shipping_carriers::table
            .filter(shipping_carriers::code.eq(&row.code))
            .filter(shipping_carriers::version.eq(expected)),
    )
    .set((
        shipping_carriers::name.eq(&row.name),
        shipping_carriers::tracking_url.eq(&row.tracking_url),
        shipping_carriers::updated_at.eq(crate::db::now()),
        shipping_carriers::version.eq(expected + 1),
    ))
    .execute(conn)?;
    Ok(n == 1)
}

/// Removes the carrier if it is still at version `expected`; how many rows went.
pub fn delete_carrier(conn: &mut DbConnection, code: &str, expected: i32) -> QueryResult<usize> {
    diesel::delete(
        shipping_carriers::table
            .filter(shipping_carriers::code.eq(code))
            .filter(shipping_carriers::version.eq(expected)),
    )
    .execute(conn)
}

/// How many methods name the carrier.
pub fn methods_of_carrier(conn: &mut DbConnection, code: &str) -> QueryResult<i64> {
    shipping_methods::table
        .filter(shipping_methods::carrier_code.eq(code))
        .count()
        .get_result(conn)
}

/// Every method, by code; only the active ones when `active_only`.
pub fn methods(conn: &mut DbConnection, active_only: bool) -> QueryResult<Vec<MethodRow>> {
    let mut query = shipping_methods::table
        .order(shipping_methods::code)
        .select(MethodRow::as_select())
        .into_boxed();
    if active_only {
        query = query.filter(shipping_methods::active.eq(true));
    }
    query.load(conn)
}

/// The active methods, by code, each with the name of its carrier (if it names one).
pub fn active_methods_with_carrier(
    conn: &mut DbConnection,
) -> QueryResult<Vec<(MethodRow, Option<String>)>> {
    shipping_methods::table
        .left_join(
            shipping_carriers::table
                .on(shipping_methods::carrier_code.eq(shipping_carriers::code.nullable())),
        )
        .filter(shipping_methods::active.eq(true))
        .order(shipping_methods::code)
        .select((MethodRow::as_select(), shipping_carriers::name.nullable()))
        .load(conn)
}

pub fn method(conn: &mut DbConnection, code: &str) -> QueryResult<Option<MethodRow>> {
    shipping_methods::table
        .find(code)
        .select(MethodRow::as_select())
        .first(conn)
        .optional()
}

pub fn insert_method(conn: &mut DbConnection, row: &MethodRow) -> QueryResult<usize> {
    diesel::insert_into(shipping_methods::table)
        .values(row)
        .execute(conn)
}

/// Replaces everything but the code and creation time if the method is still at version
/// `expected` (`row.version` is the next); the method is no longer priced by the
/// configuration. False when it moved on (changed or removed meanwhile).
pub fn replace_method(
    conn: &mut DbConnection,
    row: &MethodRow,
    expected: i32,
) -> QueryResult<bool> {
    let n = diesel::update(
        shipping_methods::table
            .filter(shipping_methods::code.eq(&row.code))
            .filter(shipping_methods::version.eq(expected)),
    )
    .set((
        shipping_methods::name.eq(&row.name),
        shipping_methods::carrier_code.eq(&row.carrier_code),
        shipping_methods::active.eq(row.active),
        shipping_methods::volumetric_divisor.eq(row.volumetric_divisor),
        shipping_methods::free_from.eq(row.free_from),
        shipping_methods::zones.eq(&row.zones),
        shipping_methods::configured.eq(false),
        shipping_methods::updated_at.eq(row.updated_at),
        shipping_methods::version.eq(row.version),
    ))
    .execute(conn)?;
    Ok(n == 1)
}

/// Removes the method if it is still at version `expected`; how many rows went.
pub fn delete_method(conn: &mut DbConnection, code: &str, expected: i32) -> QueryResult<usize> {
    diesel::delete(
        shipping_methods::table
            .filter(shipping_methods::code.eq(code))
            .filter(shipping_methods::version.eq(expected)),
    )
    .execute(conn)
}

/// Prices the seeded method by the configuration while no manager has edited it, so
/// `VALISE_SHIPPING_FLAT` and `VALISE_SHIPPING_FREE_FROM` (in the shop's currency) keep
/// meaning what they meant before methods existed.
pub fn follow_configuration(conn: &mut DbConnection, shipping: Shipping) -> anyhow::Result<()> {
    let zones = serde_json::to_string(&configured_zones(shipping.flat))?;
    // Only a change moves the edit version: a restart with the same settings keeps the
    // ETag managers hold.
    diesel::update(
        shipping_methods::table
            .filter(shipping_methods::code.eq(STANDARD))
            .filter(shipping_methods::configured.eq(true))
            .filter(
                shipping_methods::zones
                    .ne(&zones)
                    .or(shipping_methods::free_from.is_null())
                    .or(shipping_methods::free_from.ne(shipping.free_from)),
            ),
    )
    .set((
        shipping_methods::zones.eq(&zones),
        shipping_methods::free_from.eq(Some(shipping.free_from)),
        shipping_methods::version.eq(shipping_methods::version + 1),
    ))
    .execute(conn)?;
    Ok(())
}

pub fn record_for_order(conn: &mut DbConnection, row: &OrderShippingRow) -> QueryResult<usize> {
    diesel::insert_into(order_shipping::table)
        .values(row)
        .execute(conn)
}

pub fn of_order(conn: &mut DbConnection, order_id: &str) -> QueryResult<Option<OrderShippingRow>> {
    order_shipping::table
        .find(order_id)
        .select(OrderShippingRow::as_select())
        .first(conn)
        .optional()
}

pub fn of_orders(
    conn: &mut DbConnection,
    order_ids: &[String],
) -> QueryResult<Vec<OrderShippingRow>> {
    order_shipping::table
        .filter(order_shipping::order_id.eq_any(order_ids))
        .select(OrderShippingRow::as_select())
        .load(conn)
}
