//! Cart queries. A cart is reached only by its owner: the customer it is bound to, or the
//! holder of its secret token — the check is part of the query, so another caller's cart is
//! simply not found.

use chrono::Duration;
use diesel::prelude::*;
use diesel::sql_types::{Binary, Text, Timestamp};

use crate::auth::token::hash_secret;
use crate::catalog::store::{ProductRow, VariantRow, ACTIVE};
use crate::db::schema::{cart_items, carts, products, variants};
use crate::db::{DbConnection, Statement};

pub const OPEN: &str = "open";
pub const CHECKED_OUT: &str = "checked_out";
pub const TTL_DAYS: i64 = 30;
pub const MAX_QUANTITY: i32 = 20;
pub const MAX_LINES: usize = 50;

/// The 404 of a cart the caller cannot reach: the same words whether it exists or not.
pub const NOT_YOURS: &str = "No open cart with this id is yours. Guests send the cart's \
     token (from the answer that created it) as `X-Cart-Token`; customers send their access \
     token.";

#[derive(Debug, Clone, Queryable, QueryableByName, Selectable)]
#[diesel(table_name = carts)]
pub struct CartRow {
    pub id: String,
    pub owner_user_id: Option<String>,
    pub token_hash: Option<Vec<u8>>,
    pub status: String,
    pub created_at: chrono::NaiveDateTime,
    pub updated_at: chrono::NaiveDateTime,
    pub expires_at: chrono::NaiveDateTime,
}

/// Who is asking for a cart: the customer it is bound to, or whoever holds its token.
#[derive(Debug, Clone)]
pub struct Access {
    pub user_id: Option<String>,
    pub cart_token: Option<String>,
}

impl Access {
    /// From the caller's account, or else the `X-Cart-Token` header.
    pub fn from_request(caller: &crate::auth::Caller, req: &actix_web::HttpRequest) -> Self {
        Self {
            user_id: caller.user_id().map(str::to_owned),
            cart_token: req
                .headers()
                .get("x-cart-token")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned),
        }
    }

    /// Who this is, for scoping what they stored: the account, or the hash of the cart token
    /// (never the token itself). `None` without credentials.
    pub fn holder(&self) -> Option<String> {
        match (self.user_id.as_deref(), self.cart_token.as_deref()) {
            (Some(user), _) => Some(format!("user:{user}")),
            (None, Some(token)) => Some(format!("token:{}", hex::encode(hash_secret(token)))),
            (None, None) => None,
        }
    }

    /// The open cart `id` if it is the requester's; 404 otherwise (no existence oracle).
    pub fn find(
        &self,
        conn: &mut DbConnection,
        id: &str,
    ) -> Result<CartRow, crate::http::error::ApiError> {
        find_owned(conn, id, self)?.ok_or(crate::http::error::ApiError::NotYours(NOT_YOURS))
    }

    /// The caller's open cart, `hold`ing it for a change of its lines: first thing in the
    /// transaction that makes the change.
    pub fn find_held(
        &self,
        conn: &mut DbConnection,
        id: &str,
    ) -> Result<CartRow, crate::http::error::ApiError> {
        hold_owned(conn, id, self)?.ok_or(crate::http::error::ApiError::NotYours(NOT_YOURS))
    }
}

pub fn create(
    conn: &mut DbConnection,
    owner: Option<&str>,
    token_hash: Option<Vec<u8>>,
) -> QueryResult<CartRow> {
    let now = crate::db::now();
    let row = CartRow {
        id: crate::ids::new_id("cart"),
        owner_user_id: owner.map(str::to_owned),
        token_hash,
        status: OPEN.to_owned(),
        created_at: now,
        updated_at: now,
        expires_at: now + Duration::days(TTL_DAYS),
    };
    diesel::insert_into(carts::table)
        .values((
            carts::id.eq(&row.id),
            carts::owner_user_id.eq(&row.owner_user_id),
            carts::token_hash.eq(&row.token_hash),
            carts::status.eq(&row.status),
            carts::created_at.eq(row.created_at),
            carts::updated_at.eq(row.updated_at),
            carts::expires_at.eq(row.expires_at),
        ))
        .execute(conn)?;
    Ok(row)
}

/// An open, unexpired cart the caller owns.
pub fn find_owned(
    conn: &mut DbConnection,
    id: &str,
    access: &Access,
) -> QueryResult<Option<CartRow>> {
    let mut query = carts::table
        .filter(carts::id.eq(id))
        .filter(carts::status.eq(OPEN))
        .filter(carts::expires_at.gt(crate::db::now()))
        .select(CartRow::as_select())
        .into_boxed();
    query = match (access.user_id.as_deref(), access.cart_token.as_deref()) {
        (Some(user), _) => query.filter(carts::owner_user_id.eq(user.to_owned())),
        (None, Some(token)) => query
            .filter(carts::owner_user_id.is_null())
            .filter(carts::token_hash.eq(hash_secret(token))),
        (None, None) => return Ok(None),
    };
    query.first(conn).optional()
}

/// [`find_owned`] and [`hold`] in one statement: the open, unexpired cart the caller owns,
/// its life extended and (on PostgreSQL) its row locked until the transaction ends. A
/// concurrent change or checkout that holds it makes this wait, then the conditions are
/// checked against what that one left.
fn hold_owned(conn: &mut DbConnection, id: &str, access: &Access) -> QueryResult<Option<CartRow>> {
    let now = crate::db::now();
    let statement = extend_open(id, now)
        .then(" AND expires_at > ")
        .bind::<Timestamp, _>(now);
    let statement = match (access.user_id.as_deref(), access.cart_token.as_deref()) {
        (Some(user), _) => statement
            .then(" AND owner_user_id = ")
            .bind::<Text, _>(user),
        (None, Some(token)) => statement
            .then(" AND owner_user_id IS NULL AND token_hash = ")
            .bind::<Binary, _>(hash_secret(token)),
        (None, None) => return Ok(None),
    };
    statement
        .then(
            " RETURNING id, owner_user_id, token_hash, status, created_at, updated_at, expires_at",
        )
        .get_result(conn)
        .optional()
}

/// The cart's lines with their variant and product.
pub fn lines(
    conn: &mut DbConnection,
    cart_id: &str,
) -> QueryResult<Vec<(i32, VariantRow, ProductRow)>> {
    cart_items::table
        .inner_join(variants::table.on(variants::id.eq(cart_items::variant_id)))
        .inner_join(products::table.on(products::id.eq(variants::product_id)))
        .filter(cart_items::cart_id.eq(cart_id))
        .order(cart_items::added_at.asc())
        .select((
            cart_items::quantity,
            VariantRow::as_select(),
            ProductRow::as_select(),
        ))
        .load(conn)
}

/// A variant that can be sold now (active variant of an active product).
pub fn sellable_variant(
    conn: &mut DbConnection,
    variant_id: &str,
) -> QueryResult<Option<VariantRow>> {
    variants::table
        .inner_join(products::table.on(products::id.eq(variants::product_id)))
        .filter(variants::id.eq(variant_id))
        .filter(variants::status.eq(ACTIVE))
        .filter(products::status.eq(ACTIVE))
        .select(VariantRow::as_select())
        .first(conn)
        .optional()
}

pub fn quantity_of(
    conn: &mut DbConnection,
    cart_id: &str,
    variant_id: &str,
) -> QueryResult<Option<i32>> {
    cart_items::table
        .find((cart_id, variant_id))
        .select(cart_items::quantity)
        .first(conn)
        .optional()
}

/// The cart's lines, as (variant id, quantity).
pub fn quantities(conn: &mut DbConnection, cart_id: &str) -> QueryResult<Vec<(String, i32)>> {
    cart_items::table
        .filter(cart_items::cart_id.eq(cart_id))
        .select((cart_items::variant_id, cart_items::quantity))
        .load(conn)
}

/// Sets a line's quantity: `existing` says whether the cart already has the line (the caller
/// read it in this transaction after `hold`ing the cart), so the line is updated or
/// inserted without trying both.
pub fn set_quantity(
    conn: &mut DbConnection,
    cart_id: &str,
    variant_id: &str,
    quantity: i32,
    existing: bool,
) -> QueryResult<()> {
    if existing {
        diesel::update(cart_items::table.find((cart_id, variant_id)))
            .set(cart_items::quantity.eq(quantity))
            .execute(conn)?;
    } else {
        diesel::insert_into(cart_items::table)
            .values((
                cart_items::cart_id.eq(cart_id),
                cart_items::variant_id.eq(variant_id),
                cart_items::quantity.eq(quantity),
                cart_items::added_at.eq(crate::db::now()),
            ))
            .execute(conn)?;
    }
    Ok(())
}

/// The open guest cart that `token` opens, held for merging it into an account (see
/// [`hold`]). `None` when it is unknown, expired or checked out, or a concurrent sign-in
/// with the same token merged or took it over first: on PostgreSQL that one's row lock makes
/// this wait, and the conditions are then checked against what it left.
pub fn hold_guest(conn: &mut DbConnection, token: &str) -> QueryResult<Option<CartRow>> {
    let now = crate::db::now();
    let hash = hash_secret(token);
    let guest = || {
        carts::table
            .filter(carts::token_hash.eq(hash.clone()))
            .filter(carts::owner_user_id.is_null())
            .filter(carts::status.eq(OPEN))
            .filter(carts::expires_at.gt(now))
    };
    let held = diesel::update(guest())
        .set(carts::updated_at.eq(now))
        .execute(conn)?;
    if held == 0 {
        return Ok(None);
    }
    guest().select(CartRow::as_select()).first(conn).optional()
}

/// The account's most recent open cart, held for a change of its lines (see [`hold`]): a
/// concurrent change, merge or checkout of it waits until the caller's transaction ends, and
/// what the caller reads of its lines afterwards is current. `None` without an open cart.
pub fn hold_latest_of(conn: &mut DbConnection, user_id: &str) -> QueryResult<Option<CartRow>> {
    loop {
        let latest: Option<String> = carts::table
            .filter(carts::owner_user_id.eq(user_id))
            .filter(carts::status.eq(OPEN))
            .filter(carts::expires_at.gt(crate::db::now()))
            .order((carts::updated_at.desc(), carts::id.desc()))
            .select(carts::id)
            .first(conn)
            .optional()?;
        let Some(id) = latest else {
            return Ok(None);
        };
        if hold(conn, &id)? {
            return carts::table
                .find(&id)
                .select(CartRow::as_select())
                .first(conn)
                .optional();
        }
        // Checked out between the two statements: it is no longer open, so the next look
        // finds the one before it (or none).
    }
}

/// The UPDATE that extends the life of the cart `cart_id` if it is open, at `now`: more
/// conditions may follow.
fn extend_open(cart_id: &str, now: chrono::NaiveDateTime) -> Statement<'_> {
    Statement::sql("UPDATE carts SET updated_at = ")
        .bind::<Timestamp, _>(now)
        .then(", expires_at = ")
        .bind::<Timestamp, _>(now + Duration::days(TTL_DAYS))
        .then(" WHERE id = ")
        .bind::<Text, _>(cart_id)
        .then(" AND status = ")
        .bind::<Text, _>(OPEN)
}

/// Extends an open cart's life, first thing in a transaction that changes its lines: the
/// row lock this takes on PostgreSQL makes a concurrent change (or checkout) of the same cart
/// wait until this one commits, then read the cart as it is. False when the cart is no
/// longer open (checked out meanwhile).
fn hold(conn: &mut DbConnection, cart_id: &str) -> QueryResult<bool> {
    let held = extend_open(cart_id, crate::db::now()).execute(conn)?;
    Ok(held == 1)
}

pub fn remove(conn: &mut DbConnection, cart_id: &str, variant_id: &str) -> QueryResult<usize> {
    diesel::delete(cart_items::table.find((cart_id, variant_id))).execute(conn)
}

/// Closes a cart at checkout; false when it was no longer open (a concurrent checkout won).
pub fn check_out(conn: &mut DbConnection, cart_id: &str) -> QueryResult<bool> {
    let n = Statement::sql("UPDATE carts SET status = ")
        .bind::<Text, _>(CHECKED_OUT)
        .then(", updated_at = ")
        .bind::<Timestamp, _>(crate::db::now())
        .then(" WHERE id = ")
        .bind::<Text, _>(cart_id)
        .then(" AND status = ")
        .bind::<Text, _>(OPEN)
        .execute(conn)?;
    Ok(n == 1)
}
