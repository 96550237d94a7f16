//! Saved addresses at rest: each sealed whole with its owner's data key; saving and
//! correcting one are audited use cases of one transaction each.

use crate::ids::UserId;
use diesel::prelude::*;

use super::model::{AddressPatch, SavedAddress};
use crate::audit::{self, Actor, Event};
use crate::crypto::{Column, Crypto};
use crate::db::schema::addresses;
use crate::db::DbConnection;
use crate::http::cache;
use crate::http::error::ApiError;
use crate::orders::model::Address;
use crate::privacy::requests::{model::Kind, store::record_self_service};

pub const TABLE: &str = "addresses";
/// A saved address, sealed as one JSON value.
pub const ADDRESS: Column = Column::new(TABLE, "address_sealed");
/// Saved addresses per customer.
pub const MAX_ADDRESSES: i64 = 20;

#[derive(Debug, Queryable, Selectable)]
#[diesel(table_name = addresses)]
pub struct AddressRow {
    pub id: String,
    pub user_id: String,
    pub address_sealed: Vec<u8>,
    pub version: i32,
    pub created_at: chrono::NaiveDateTime,
    pub updated_at: chrono::NaiveDateTime,
}

pub(super) fn etag(row: &AddressRow) -> String {
    format!("\"a{}\"", row.version)
}

fn seal(
    crypto: &Crypto,
    conn: &mut DbConnection,
    user: &str,
    id: &str,
    a: &Address,
) -> Result<Vec<u8>, ApiError> {
    let key = crypto.data_key(conn, user)?;
    let json = serde_json::to_vec(a).map_err(anyhow::Error::from)?;
    Ok(key.seal(&ADDRESS.at(id), &json)?)
}

fn open(
    crypto: &Crypto,
    conn: &mut DbConnection,
    row: &AddressRow,
) -> Result<SavedAddress, ApiError> {
    let key = crypto.data_key(conn, &row.user_id)?;
    let json = key.open(&ADDRESS.at(&row.id), &row.address_sealed)?;
    Ok(SavedAddress {
        id: row.id.clone(),
        address: Address::from_sealed_json(&json).map_err(anyhow::Error::from)?,
        created_at: row.created_at.and_utc(),
        updated_at: row.updated_at.and_utc(),
    })
}

/// Every saved address of a customer, opened, oldest first.
pub fn list_open(
    conn: &mut DbConnection,
    crypto: &Crypto,
    user: &str,
) -> Result<Vec<SavedAddress>, ApiError> {
    addresses::table
        .filter(addresses::user_id.eq(user))
        .order(addresses::id.asc())
        .select(AddressRow::as_select())
        .load(conn)?
        .iter()
        .map(|r| open(crypto, conn, r))
        .collect()
}

fn owned(conn: &mut DbConnection, user: &str, id: &str) -> Result<AddressRow, ApiError> {
    addresses::table
        .find(id)
        .filter(addresses::user_id.eq(user))
        .select(AddressRow::as_select())
        .first(conn)
        .optional()?
        .ok_or(ApiError::NotFound)
}

fn audited(
    conn: &mut DbConnection,
    crypto: &Crypto,
    actor: &Actor,
    user: &str,
    action: crate::audit::Action,
) -> QueryResult<()> {
    audit::record(
        conn,
        crypto,
        actor,
        &Event {
            action,
            subject_id: Some(user),
            fields: &["address"],
            purpose: crate::audit::Purpose::SavedAddresses,
        },
    )
    .map(|_| ())
}

/// Saves a new address of `user`, sealed, with its audit entry (one transaction); refused
/// once [`MAX_ADDRESSES`] are saved. Returns it opened, with its ETag.
pub fn save(
    conn: &mut DbConnection,
    crypto: &Crypto,
    actor: &Actor,
    user: &UserId,
    address: &Address,
) -> Result<(SavedAddress, String), ApiError> {
    crate::db::write_transaction(conn, |conn| {
        let count: i64 = addresses::table
            .filter(addresses::user_id.eq(user))
            .count()
            .get_result(conn)?;
        if count >= MAX_ADDRESSES {
            return Err(ApiError::conflict(format!(
                "At most {MAX_ADDRESSES} addresses can be saved; delete one first."
            )));
        }
        let id = crate::ids::new_id("adr");
        let now = crate::db::now();
        let row = AddressRow {
            address_sealed: seal(crypto, conn, user, &id, address)?,
            id,
            user_id: user.to_string(),
            version: 1,
            created_at: now,
            updated_at: now,
        };
        diesel::insert_into(addresses::table)
            .values((
                addresses::id.eq(&row.id),
                addresses::user_id.eq(&row.user_id),
                addresses::address_sealed.eq(&row.address_sealed),
                addresses::version.eq(row.version),
                addresses::created_at.eq(row.created_at),
                addresses::updated_at.eq(row.updated_at),
            ))
            .execute(conn)?;
        audited(
            conn,
            crypto,
            actor,
            user,
            crate::audit::Action::AddressCreate,
        )?;
        Ok((open(crypto, conn, &row)?, etag(&row)))
    })
}

/// Corrects one of `user`'s addresses when `if_match` (the raw `If-Match` header) names its
/// current version: the result is validated like a new address, audited and tracked as a
/// rectification request, in one transaction. Returns it opened, with its new ETag.
pub fn correct(
    conn: &mut DbConnection,
    crypto: &Crypto,
    actor: &Actor,
    user: &UserId,
    id: &str,
    if_match: Option<&str>,
    patch: AddressPatch,
) -> Result<(SavedAddress, String), ApiError> {
    crate::db::write_transaction(conn, |conn| {
        let row = owned(conn, user, id)?;
        if !cache::if_match_allows(if_match, &etag(&row)) {
            return Err(ApiError::PreconditionFailed);
        }
        let current = open(crypto, conn, &row)?.address;
        let next = Address::parse(&patch.apply(current), "$")?;
        let sealed = seal(crypto, conn, user, &row.id, &next)?;
        let now = crate::db::now();
        let n = diesel::update(
            addresses::table
                .find(&row.id)
                .filter(addresses::version.eq(row.version)),
        )
        .set((
            addresses::address_sealed.eq(&sealed),
            addresses::version.eq(row.version + 1),
            addresses::updated_at.eq(now),
        ))
        .execute(conn)?;
        if n != 1 {
            return Err(ApiError::PreconditionFailed);
        }
        audited(
            conn,
            crypto,
            actor,
            user,
            crate::audit::Action::AddressUpdate,
        )?;
        record_self_service(conn, user, Kind::Rectification)?;
        let row = owned(conn, user, &row.id)?;
        Ok((open(crypto, conn, &row)?, etag(&row)))
    })
}

/// Deletes one of `user`'s addresses, with its audit entry (one transaction). Orders already
/// placed keep the address they were shipped to.
pub fn delete(
    conn: &mut DbConnection,
    crypto: &Crypto,
    actor: &Actor,
    user: &UserId,
    id: &str,
) -> Result<(), ApiError> {
    crate::db::write_transaction(conn, |conn| {
        let row = owned(conn, user, id)?;
        diesel::delete(addresses::table.find(&row.id)).execute(conn)?;
        audited(
            conn,
            crypto,
            actor,
            user,
            crate::audit::Action::AddressDelete,
        )?;
        Ok(())
    })
}
