//! A guest cart joins the account's cart when its holder signs in: the guest's lines are
//! added to the account's most recent open cart, each capped as adding it by hand would be
//! (what is available now, 20 a line, 50 lines); the guest cart is then gone. Without an open
//! cart, the account takes the guest cart over as it is.

use diesel::prelude::*;

use super::store::{self, CartRow, MAX_LINES, MAX_QUANTITY, OPEN};
use crate::auth::token::hash_secret;
use crate::db::schema::{cart_items, carts};
use crate::db::DbConnection;

/// Merges the open guest cart that `cart_token` opens into `user_id`'s cart, in the caller's
/// transaction. An unknown, expired or checked-out token changes nothing (a sign-in never
/// fails over a stale cart).
pub fn into_account(conn: &mut DbConnection, user_id: &str, cart_token: &str) -> QueryResult<()> {
    let now = crate::db::now();
    let guest: Option<CartRow> = carts::table
        .filter(carts::token_hash.eq(hash_secret(cart_token)))
        .filter(carts::owner_user_id.is_null())
        .filter(carts::status.eq(OPEN))
        .filter(carts::expires_at.gt(now))
        .select(CartRow::as_select())
        .first(conn)
        .optional()?;
    let Some(guest) = guest else {
        return Ok(());
    };
    let account: Option<CartRow> = carts::table
        .filter(carts::owner_user_id.eq(user_id))
        .filter(carts::status.eq(OPEN))
        .filter(carts::expires_at.gt(now))
        .order((carts::updated_at.desc(), carts::id.desc()))
        .select(CartRow::as_select())
        .first(conn)
        .optional()?;
    let Some(account) = account else {
        // Taken over: the token no longer opens it, the account does.
        diesel::update(carts::table.find(&guest.id))
            .set((
                carts::owner_user_id.eq(user_id),
                carts::token_hash.eq(None::<Vec<u8>>),
                carts::updated_at.eq(now),
            ))
            .execute(conn)?;
        return Ok(());
    };
    let mut lines = store::quantities(conn, &account.id)?;
    for (variant_id, added) in store::quantities(conn, &guest.id)? {
        let Some(variant) = store::sellable_variant(conn, &variant_id)? else {
            continue;
        };
        let current = lines.iter().find(|(id, _)| *id == variant_id).map(|l| l.1);
        if current.is_none() && lines.len() >= MAX_LINES {
            continue;
        }
        let total = (current.unwrap_or(0) + added)
            .min(MAX_QUANTITY)
            .min(variant.available);
        if total <= current.unwrap_or(0) {
            continue;
        }
        store::set_quantity(conn, &account.id, &variant_id, total, current.is_some())?;
        match lines.iter_mut().find(|(id, _)| *id == variant_id) {
            Some(line) => line.1 = total,
            None => lines.push((variant_id, total)),
        }
    }
    diesel::delete(cart_items::table.filter(cart_items::cart_id.eq(&guest.id))).execute(conn)?;
    diesel::delete(carts::table.find(&guest.id)).execute(conn)?;
    diesel::update(carts::table.find(&account.id))
        .set(carts::updated_at.eq(now))
        .execute(conn)?;
    Ok(())
}
