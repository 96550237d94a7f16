//! Discount code queries: codes, the code a cart carries, the uses orders hold, and the
//! discount lines of orders.

use diesel::prelude::*;
use diesel::sql_types::Text;

use super::model::{Benefit, Refusal, Terms};
use crate::db::schema::{cart_discounts, discount_codes, discount_redemptions, order_discounts};
use crate::db::{DbConnection, Statement};

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = discount_codes)]
#[diesel(treat_none_as_default_value = false)]
pub struct CodeRow {
    pub id: String,
    pub code: String,
    pub kind: String,
    pub value: i64,
    pub starts_at: Option<chrono::NaiveDateTime>,
    pub ends_at: Option<chrono::NaiveDateTime>,
    pub minimum_subtotal: i64,
    pub usage_limit: Option<i32>,
    pub per_customer_limit: Option<i32>,
    pub uses: i32,
    pub active: bool,
    pub created_at: chrono::NaiveDateTime,
    pub updated_at: chrono::NaiveDateTime,
}

impl CodeRow {
    pub fn terms(&self) -> Terms {
        Terms {
            benefit: Benefit::stored(&self.kind, self.value),
            starts_at: self.starts_at,
            ends_at: self.ends_at,
            minimum_subtotal: self.minimum_subtotal,
            usage_limit: self.usage_limit,
            per_customer_limit: self.per_customer_limit,
            active: self.active,
        }
    }
}

/// What an update writes (every field but the code and its kind, which identify it).
#[derive(Debug, Clone, AsChangeset)]
#[diesel(table_name = discount_codes)]
#[diesel(treat_none_as_null = true)]
pub struct CodeChange {
    pub value: i64,
    pub starts_at: Option<chrono::NaiveDateTime>,
    pub ends_at: Option<chrono::NaiveDateTime>,
    pub minimum_subtotal: i64,
    pub usage_limit: Option<i32>,
    pub per_customer_limit: Option<i32>,
    pub active: bool,
    pub updated_at: chrono::NaiveDateTime,
}

/// One discount line of an order, as charged.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = order_discounts)]
pub struct OrderDiscountRow {
    pub order_id: String,
    pub code_id: String,
    pub code: String,
    pub goods_amount: i64,
    pub shipping_amount: i64,
}

impl OrderDiscountRow {
    pub fn amount(&self) -> i64 {
        self.goods_amount + self.shipping_amount
    }
}

/// A new code; a taken code is a unique violation.
pub fn insert(conn: &mut DbConnection, row: &CodeRow) -> QueryResult<()> {
    diesel::insert_into(discount_codes::table)
        .values(row)
        .execute(conn)
        .map(|_| ())
}

pub fn update(
    conn: &mut DbConnection,
    id: &str,
    change: &CodeChange,
) -> QueryResult<Option<CodeRow>> {
    diesel::update(discount_codes::table.find(id))
        .set(change)
        .execute(conn)?;
    get(conn, id)
}

pub fn get(conn: &mut DbConnection, id: &str) -> QueryResult<Option<CodeRow>> {
    discount_codes::table
        .find(id)
        .select(CodeRow::as_select())
        .first(conn)
        .optional()
}

/// The code spelled `code` (normalised), active or not.
pub fn by_code(conn: &mut DbConnection, code: &str) -> QueryResult<Option<CodeRow>> {
    discount_codes::table
        .filter(discount_codes::code.eq(code))
        .select(CodeRow::as_select())
        .first(conn)
        .optional()
}

/// Newest first, after the id `after`.
pub fn list(conn: &mut DbConnection, after: Option<&str>, limit: i64) -> QueryResult<Vec<CodeRow>> {
    let mut q = discount_codes::table
        .select(CodeRow::as_select())
        .order(discount_codes::id.desc())
        .limit(limit)
        .into_boxed();
    if let Some(a) = after {
        q = q.filter(discount_codes::id.lt(a.to_owned()));
    }
    q.load(conn)
}

/// The code a cart carries.
pub fn of_cart(conn: &mut DbConnection, cart_id: &str) -> QueryResult<Option<CodeRow>> {
    cart_discounts::table
        .inner_join(discount_codes::table)
        .filter(cart_discounts::cart_id.eq(cart_id))
        .select(CodeRow::as_select())
        .first(conn)
        .optional()
}

/// Puts `code_id` on the cart, in place of any code it carried.
pub fn set_on_cart(conn: &mut DbConnection, cart_id: &str, code_id: &str) -> QueryResult<()> {
    clear_cart(conn, cart_id)?;
    diesel::insert_into(cart_discounts::table)
        .values((
            cart_discounts::cart_id.eq(cart_id),
            cart_discounts::code_id.eq(code_id),
            cart_discounts::applied_at.eq(crate::db::now()),
        ))
        .execute(conn)
        .map(|_| ())
}

/// Takes the code off the cart; how many it carried (0 or 1).
pub fn clear_cart(conn: &mut DbConnection, cart_id: &str) -> QueryResult<usize> {
    diesel::delete(cart_discounts::table.filter(cart_discounts::cart_id.eq(cart_id))).execute(conn)
}

/// Orders holding a use of the code by this customer.
pub fn customer_uses(conn: &mut DbConnection, code_id: &str, customer: &str) -> QueryResult<i64> {
    discount_redemptions::table
        .filter(discount_redemptions::code_id.eq(code_id))
        .filter(discount_redemptions::customer.eq(customer))
        .count()
        .get_result(conn)
}

/// Takes one use of `code` for `order_id` and `customer`, in the checkout's transaction.
/// The total limit is a conditional update (on PostgreSQL the row lock makes concurrent
/// checkouts of the code take turns, each seeing the count the previous one committed; on
/// SQLite writers are serialised anyway); the per-customer limit is a unique slot
/// `1..=per_customer_limit`, so two checkouts of one customer cannot both take the last.
pub fn redeem(
    conn: &mut DbConnection,
    code: &CodeRow,
    order_id: &str,
    customer: &str,
) -> Result<(), RedeemError> {
    let taken = Statement::sql("UPDATE discount_codes SET uses = uses + 1 WHERE id = ")
        .bind::<Text, _>(&code.id)
        .then(" AND active = ")
        .bind::<diesel::sql_types::Bool, _>(true)
        .then(" AND (usage_limit IS NULL OR uses < usage_limit)")
        .execute(conn)?;
    if taken != 1 {
        return Err(RedeemError::Refused(Refusal::UsedUp));
    }
    let slot = match code.per_customer_limit {
        None => None,
        Some(limit) => {
            let held: Vec<Option<i32>> = discount_redemptions::table
                .filter(discount_redemptions::code_id.eq(&code.id))
                .filter(discount_redemptions::customer.eq(customer))
                .select(discount_redemptions::slot)
                .load(conn)?;
            let free = (1..=limit).find(|s| !held.contains(&Some(*s)));
            Some(free.ok_or(RedeemError::Refused(Refusal::AlreadyUsed))?)
        }
    };
    diesel::insert_into(discount_redemptions::table)
        .values((
            discount_redemptions::order_id.eq(order_id),
            discount_redemptions::code_id.eq(&code.id),
            discount_redemptions::customer.eq(customer),
            discount_redemptions::slot.eq(slot),
            discount_redemptions::created_at.eq(crate::db::now()),
        ))
        .execute(conn)
        .map_err(|e| {
            if crate::db::is_unique_violation(&e) {
                RedeemError::Refused(Refusal::AlreadyUsed)
            } else {
                RedeemError::Db(e)
            }
        })?;
    Ok(())
}

/// Why a use could not be taken.
#[derive(Debug)]
pub enum RedeemError {
    Refused(Refusal),
    Db(diesel::result::Error),
}

impl From<diesel::result::Error> for RedeemError {
    fn from(e: diesel::result::Error) -> Self {
        RedeemError::Db(e)
    }
}

/// Gives back the use `order_id` held, if any (the order was cancelled or expired): once,
/// however often it is called.
pub fn release(conn: &mut DbConnection, order_id: &str) -> QueryResult<bool> {
    let code_id: Option<String> = discount_redemptions::table
        .find(order_id)
        .select(discount_redemptions::code_id)
        .first(conn)
        .optional()?;
    let Some(code_id) = code_id else {
        return Ok(false);
    };
    let gone = diesel::delete(discount_redemptions::table.find(order_id)).execute(conn)?;
    if gone == 1 {
        Statement::sql("UPDATE discount_codes SET uses = uses - 1 WHERE id = ")
            .bind::<Text, _>(&code_id)
            .then(" AND uses > 0")
            .execute(conn)?;
    }
    Ok(gone == 1)
}

pub fn insert_order_lines(conn: &mut DbConnection, lines: &[OrderDiscountRow]) -> QueryResult<()> {
    // One at a time: a batch insert is not portable across the two backends (and an
    // order carries one code).
    for line in lines {
        diesel::insert_into(order_discounts::table)
            .values(line)
            .execute(conn)?;
    }
    Ok(())
}

/// The discount lines of these orders, by order then code.
pub fn order_lines(
    conn: &mut DbConnection,
    order_ids: &[String],
) -> QueryResult<Vec<OrderDiscountRow>> {
    let mut all = Vec::new();
    for chunk in order_ids.chunks(500) {
        all.extend(
            order_discounts::table
                .filter(order_discounts::order_id.eq_any(chunk))
                .order((order_discounts::order_id, order_discounts::code))
                .select(OrderDiscountRow::as_select())
                .load(conn)?,
        );
    }
    Ok(all)
}
