//! Order queries. Owners reach an order through a condition in the query (their account, or
//! the guest token's hash), so another caller's order is simply not found.

use crate::ids::{OrderId, UserId};
use diesel::prelude::*;
use diesel::sql_types::{Integer, Text, Timestamp};

use super::model::{ChangedBy, OrderStatus};
use crate::auth::token::hash_secret;
use crate::db::schema::{
    disclosures, order_events, order_items, order_tax_lines, orders, payments, shipments, variants,
};
use crate::db::{DbConnection, Statement};
use crate::discounts::store::OrderDiscountRow;
use crate::payments::model::PaymentStatus;

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = orders)]
// `None` is inserted as NULL, not as `DEFAULT`: an insert with DEFAULTs is prepared anew on
// every execution (see db::statement), and these columns have no defaults.
#[diesel(treat_none_as_default_value = false)]
pub struct OrderRow {
    pub id: OrderId,
    pub number: String,
    pub user_id: Option<UserId>,
    pub guest_token_hash: Option<Vec<u8>>,
    pub status: String,
    pub currency: String,
    pub subtotal: i64,
    pub shipping: i64,
    pub total: i64,
    pub contact_email_sealed: Option<Vec<u8>>,
    pub contact_email_bidx: Option<Vec<u8>>,
    pub shipping_address_sealed: Option<Vec<u8>>,
    pub policy_version: i32,
    pub expires_at: chrono::NaiveDateTime,
    pub delivered_at: Option<chrono::NaiveDateTime>,
    pub closed_at: Option<chrono::NaiveDateTime>,
    pub version: i32,
    pub created_at: chrono::NaiveDateTime,
    pub updated_at: chrono::NaiveDateTime,
    /// `inclusive` (subtotal and shipping are gross) or `exclusive` (net; `tax_total` is
    /// added in `total`).
    pub tax_mode: String,
    /// The destination country that chose the rate; null on orders from before VAT.
    pub tax_country: Option<String>,
    /// The tax the order holds (inclusive) or adds (exclusive): the sum of its tax lines.
    pub tax_total: i64,
}

/// One line of an order's tax record: everything taxed at one rate.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = order_tax_lines)]
pub struct TaxLineRow {
    pub order_id: String,
    pub rate_bp: i32,
    pub net: i64,
    pub tax: i64,
    pub gross: i64,
}

impl OrderRow {
    /// What discount codes took off: the subtotal and shipping (and, exclusive of tax,
    /// the tax) that the total does not charge.
    pub fn discount(&self) -> i64 {
        let tax_added = match crate::config::TaxMode::parse(&self.tax_mode) {
            Some(crate::config::TaxMode::Exclusive) => self.tax_total,
            _ => 0,
        };
        self.subtotal + self.shipping + tax_added - self.total
    }

    pub fn status(&self) -> OrderStatus {
        OrderStatus::parse(&self.status).unwrap_or(OrderStatus::Cancelled)
    }
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = order_items)]
// As for OrderRow.
#[diesel(treat_none_as_default_value = false)]
pub struct ItemRow {
    pub order_id: String,
    pub variant_id: String,
    pub product_id: String,
    pub sku: String,
    pub name: String,
    pub color: String,
    pub unit_price: i64,
    pub quantity: i32,
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = order_events)]
pub struct EventRow {
    pub from_status: Option<String>,
    pub to_status: String,
    pub actor_kind: String,
    pub at: chrono::NaiveDateTime,
    /// Why staff cancelled the order; null for every other change.
    pub reason: Option<String>,
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = shipments)]
pub struct ShipmentRow {
    pub id: String,
    pub carrier: String,
    pub tracking_number: String,
    pub shipped_at: chrono::NaiveDateTime,
    pub tracking_url: Option<String>,
}

/// Who may read an order.
pub enum Owner<'a> {
    User(&'a str),
    Guest { token: &'a str },
}

pub fn find_owned(
    conn: &mut DbConnection,
    number: &str,
    owner: &Owner<'_>,
) -> QueryResult<Option<OrderRow>> {
    let query = orders::table
        .filter(orders::number.eq(number))
        .select(OrderRow::as_select())
        .into_boxed();
    let query = match owner {
        Owner::User(id) => query.filter(orders::user_id.eq((*id).to_owned())),
        Owner::Guest { token } => query
            .filter(orders::user_id.is_null())
            .filter(orders::guest_token_hash.eq(hash_secret(token))),
    };
    query.first(conn).optional()
}

pub fn get(conn: &mut DbConnection, id: &str) -> QueryResult<Option<OrderRow>> {
    orders::table
        .find(id)
        .select(OrderRow::as_select())
        .first(conn)
        .optional()
}

pub fn list_for_user(
    conn: &mut DbConnection,
    user_id: &str,
    before: Option<&str>,
    limit: i64,
) -> QueryResult<Vec<OrderRow>> {
    let mut query = orders::table
        .filter(orders::user_id.eq(user_id.to_owned()))
        .order(orders::id.desc())
        .limit(limit)
        .select(OrderRow::as_select())
        .into_boxed();
    if let Some(b) = before {
        query = query.filter(orders::id.lt(b.to_owned()));
    }
    query.load(conn)
}

pub fn items(conn: &mut DbConnection, order_id: &str) -> QueryResult<Vec<ItemRow>> {
    order_items::table
        .filter(order_items::order_id.eq(order_id))
        .order(order_items::sku)
        .select(ItemRow::as_select())
        .load(conn)
}

pub fn events(conn: &mut DbConnection, order_id: &str) -> QueryResult<Vec<EventRow>> {
    order_events::table
        .filter(order_events::order_id.eq(order_id))
        .order((order_events::at.asc(), order_events::id.asc()))
        .select(EventRow::as_select())
        .load(conn)
}

pub fn shipments_of(conn: &mut DbConnection, order_id: &str) -> QueryResult<Vec<ShipmentRow>> {
    shipments::table
        .filter(shipments::order_id.eq(order_id))
        .order(shipments::shipped_at.asc())
        .select(ShipmentRow::as_select())
        .load(conn)
}

/// How many of a customer's orders are not yet closed, expired or cancelled.
pub fn open_count(conn: &mut DbConnection, user_id: &str) -> QueryResult<i64> {
    orders::table
        .filter(orders::user_id.eq(user_id))
        .filter(orders::status.ne_all(OrderStatus::final_names()))
        .count()
        .get_result(conn)
}

/// Everything an order view shows besides the order row itself.
#[derive(Debug, Default)]
pub struct Parts {
    pub items: Vec<ItemRow>,
    pub events: Vec<EventRow>,
    pub shipments: Vec<ShipmentRow>,
    pub payment_status: Option<PaymentStatus>,
    /// Lowest rate first.
    pub tax_lines: Vec<TaxLineRow>,
    /// The method the order was placed with; none on orders from before methods.
    pub shipping_method: Option<crate::shipping::store::OrderShippingRow>,
    /// The discount lines, by code.
    pub discounts: Vec<OrderDiscountRow>,
}

/// The items, history, shipments and latest payment status of many orders, with one query
/// per kind (per chunk of 500 orders).
pub fn parts_of(
    conn: &mut DbConnection,
    order_ids: &[String],
) -> QueryResult<std::collections::HashMap<String, Parts>> {
    let mut parts: std::collections::HashMap<String, Parts> = std::collections::HashMap::new();
    for chunk in order_ids.chunks(500) {
        let items: Vec<ItemRow> = order_items::table
            .filter(order_items::order_id.eq_any(chunk))
            .order((order_items::order_id, order_items::sku))
            .select(ItemRow::as_select())
            .load(conn)?;
        for item in items {
            parts
                .entry(item.order_id.clone())
                .or_default()
                .items
                .push(item);
        }
        let events: Vec<(String, EventRow)> = order_events::table
            .filter(order_events::order_id.eq_any(chunk))
            .order((order_events::at.asc(), order_events::id.asc()))
            .select((order_events::order_id, EventRow::as_select()))
            .load(conn)?;
        for (order, event) in events {
            parts.entry(order).or_default().events.push(event);
        }
        let shipped: Vec<(String, ShipmentRow)> = shipments::table
            .filter(shipments::order_id.eq_any(chunk))
            .order(shipments::shipped_at.asc())
            .select((shipments::order_id, ShipmentRow::as_select()))
            .load(conn)?;
        for (order, shipment) in shipped {
            parts.entry(order).or_default().shipments.push(shipment);
        }
        let taxed: Vec<TaxLineRow> = order_tax_lines::table
            .filter(order_tax_lines::order_id.eq_any(chunk))
            .order((order_tax_lines::order_id, order_tax_lines::rate_bp))
            .select(TaxLineRow::as_select())
            .load(conn)?;
        for line in taxed {
            parts
                .entry(line.order_id.clone())
                .or_default()
                .tax_lines
                .push(line);
        }
        for method in crate::shipping::store::of_orders(conn, chunk)? {
            let order = method.order_id.clone();
            parts.entry(order).or_default().shipping_method = Some(method);
        }
        for line in crate::discounts::store::order_lines(conn, chunk)? {
            parts
                .entry(line.order_id.clone())
                .or_default()
                .discounts
                .push(line);
        }
        // Oldest first, so the newest attempt is the one left standing.
        let paid: Vec<(String, String)> = payments::table
            .filter(payments::order_id.eq_any(chunk))
            .order((payments::created_at.asc(), payments::id.asc()))
            .select((payments::order_id, payments::status))
            .load(conn)?;
        for (order, status) in paid {
            parts.entry(order).or_default().payment_status =
                Some(PaymentStatus::from_stored(&status));
        }
    }
    Ok(parts)
}

/// The status of the order's latest payment attempt.
pub fn payment_status(
    conn: &mut DbConnection,
    order_id: &str,
) -> QueryResult<Option<PaymentStatus>> {
    let status: Option<String> = payments::table
        .filter(payments::order_id.eq(order_id))
        .order(payments::created_at.desc())
        .select(payments::status)
        .first(conn)
        .optional()?;
    Ok(status.as_deref().map(PaymentStatus::from_stored))
}

/// Inserts the order and its items. A taken order number is a unique violation (on
/// PostgreSQL it aborts the transaction: the caller starts over).
pub fn insert(
    conn: &mut DbConnection,
    order: &OrderRow,
    items: &[ItemRow],
    tax_lines: &[TaxLineRow],
) -> QueryResult<()> {
    diesel::insert_into(orders::table)
        .values(order)
        .execute(conn)?;
    for item in items {
        diesel::insert_into(order_items::table)
            .values(item)
            .execute(conn)?;
    }
    for line in tax_lines {
        diesel::insert_into(order_tax_lines::table)
            .values(line)
            .execute(conn)?;
    }
    Ok(())
}

pub fn tax_lines(conn: &mut DbConnection, order_id: &str) -> QueryResult<Vec<TaxLineRow>> {
    order_tax_lines::table
        .filter(order_tax_lines::order_id.eq(order_id))
        .order(order_tax_lines::rate_bp)
        .select(TaxLineRow::as_select())
        .load(conn)
}

/// Records a status change; returns it as the order's history shows it.
pub fn record_event(
    conn: &mut DbConnection,
    order_id: &str,
    from: Option<OrderStatus>,
    to: OrderStatus,
    changed_by: ChangedBy,
    actor_id: Option<&str>,
    reason: Option<&str>,
) -> QueryResult<EventRow> {
    let event = EventRow {
        from_status: from.map(|s| s.as_str().to_owned()),
        to_status: to.as_str().to_owned(),
        actor_kind: changed_by.as_str().to_owned(),
        at: crate::db::now(),
        reason: reason.map(str::to_owned),
    };
    diesel::insert_into(order_events::table)
        .values((
            order_events::id.eq(crate::ids::new_id("oev")),
            order_events::order_id.eq(order_id),
            order_events::from_status.eq(&event.from_status),
            order_events::to_status.eq(&event.to_status),
            order_events::actor_kind.eq(&event.actor_kind),
            order_events::actor_id.eq(actor_id),
            order_events::at.eq(event.at),
            order_events::reason.eq(&event.reason),
        ))
        .execute(conn)?;
    Ok(event)
}

/// Moves an order from `from` to `to` if it is still in `from` (several processes may race
/// to expire or pay the same order; exactly one wins).
pub fn set_status(
    conn: &mut DbConnection,
    order_id: &str,
    from: OrderStatus,
    to: OrderStatus,
) -> QueryResult<bool> {
    let now = crate::db::now();
    let mut n = Statement::sql("UPDATE orders SET status = ")
        .bind::<Text, _>(to.as_str())
        .then(", version = version + 1, updated_at = ")
        .bind::<Timestamp, _>(now)
        .then(" WHERE id = ")
        .bind::<Text, _>(order_id)
        .then(" AND status = ")
        .bind::<Text, _>(from.as_str())
        .execute(conn)?;
    if n == 1 && to == OrderStatus::Delivered {
        n = diesel::update(orders::table.find(order_id))
            .set(orders::delivered_at.eq(Some(now)))
            .execute(conn)?;
    }
    Ok(n == 1)
}

/// Puts an order's reserved stock back.
pub fn release_stock(conn: &mut DbConnection, order_id: &str) -> QueryResult<()> {
    for item in items(conn, order_id)? {
        diesel::update(variants::table.find(&item.variant_id))
            .set(variants::available.eq(variants::available + item.quantity))
            .execute(conn)?;
        crate::catalog::events::after_movement(
            conn,
            &item.variant_id,
            item.quantity,
            crate::catalog::events::StockCause::Release,
        )?;
    }
    Ok(())
}

/// Reserves stock: decrements only if enough is available, in the UPDATE itself, so no
/// interleaving of checkouts (in any number of processes) can oversell. What is left after
/// it, or `None` when there was not enough (or the variant is not for sale).
pub fn reserve(
    conn: &mut DbConnection,
    variant_id: &str,
    quantity: i32,
) -> QueryResult<Option<i32>> {
    #[derive(QueryableByName)]
    struct Left {
        #[diesel(sql_type = Integer)]
        available: i32,
    }
    let left: Option<Left> = Statement::sql("UPDATE variants SET available = available - ")
        .bind::<Integer, _>(quantity)
        .then(" WHERE id = ")
        .bind::<Text, _>(variant_id)
        .then(" AND available >= ")
        .bind::<Integer, _>(quantity)
        .then(" AND status = ")
        .bind::<Text, _>(crate::catalog::store::ACTIVE)
        .then(" RETURNING available")
        .get_result(conn)
        .optional()?;
    Ok(left.map(|l| l.available))
}

/// Unpaid orders past their deadline.
pub fn due_for_expiry(conn: &mut DbConnection, limit: i64) -> QueryResult<Vec<String>> {
    orders::table
        .filter(orders::status.eq(OrderStatus::PendingPayment.as_str()))
        .filter(orders::expires_at.lt(crate::db::now()))
        .order(orders::expires_at.asc())
        .limit(limit)
        .select(orders::id)
        .load(conn)
}

pub fn set_address(conn: &mut DbConnection, order_id: &str, sealed: &[u8]) -> QueryResult<usize> {
    diesel::update(orders::table.find(order_id))
        .set((
            orders::shipping_address_sealed.eq(Some(sealed)),
            orders::version.eq(orders::version + 1),
            orders::updated_at.eq(crate::db::now()),
        ))
        .execute(conn)
}

/// Records a shipment of `order`, and the disclosure of its address to the carrier (the
/// customer's export lists it).
pub fn record_shipment(
    conn: &mut DbConnection,
    order: &OrderRow,
    carrier: &str,
    tracking_number: &str,
    tracking_url: Option<&str>,
) -> QueryResult<()> {
    let now = crate::db::now();
    diesel::insert_into(shipments::table)
        .values((
            shipments::id.eq(crate::ids::new_id("shp")),
            shipments::order_id.eq(&order.id),
            shipments::carrier.eq(carrier),
            shipments::tracking_number.eq(tracking_number),
            shipments::shipped_at.eq(now),
            shipments::tracking_url.eq(tracking_url),
        ))
        .execute(conn)?;
    diesel::insert_into(disclosures::table)
        .values((
            disclosures::id.eq(crate::ids::new_id("dsc")),
            disclosures::subject_id.eq(order.user_id.as_deref().unwrap_or(&order.id)),
            disclosures::order_id.eq(Some(&order.id)),
            disclosures::recipient.eq(carrier),
            disclosures::fields.eq("shipping_address"),
            disclosures::purpose.eq("delivery of the order"),
            disclosures::at.eq(now),
        ))
        .execute(conn)?;
    Ok(())
}
