//! A guest cart joins the account's cart when its holder signs in: the guest's lines are
//! added to the account's most recent open cart, each capped as adding it by hand would be
//! (what is available now, 20 a line, 50 lines); the guest cart is then gone. Without an open
//! cart, the account takes the guest cart over as it is.
//!
//! Both carts are held (row-locked on PostgreSQL; SQLite's write transaction runs alone)
//! before any line is read, guest cart first: two sign-ins at once, or a sign-in and a
//! change of the account's cart, follow one another instead of adding to lines they read
//! before the other wrote them.

use diesel::prelude::*;

use super::store::{self, MAX_LINES, MAX_QUANTITY};
use crate::db::schema::{cart_items, carts};
use crate::db::DbConnection;

/// Merges the open guest cart that `cart_token` opens into `user_id`'s cart, in the caller's
/// transaction. An unknown, expired or checked-out token changes nothing (a sign-in never
/// fails over a stale cart).
pub fn into_account(conn: &mut DbConnection, user_id: &str, cart_token: &str) -> QueryResult<()> {
    let Some(guest) = store::hold_guest(conn, cart_token)? else {
        return Ok(());
    };
    let Some(account) = store::hold_latest_of(conn, user_id)? else {
        // Taken over: the token no longer opens it, the account does.
        diesel::update(carts::table.find(&guest.id))
            .set((
                carts::owner_user_id.eq(user_id),
                carts::token_hash.eq(None::<Vec<u8>>),
                carts::updated_at.eq(crate::db::now()),
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
    Ok(())
}
