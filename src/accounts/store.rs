//! Account queries. Personal fields are sealed with the account's own data key before they
//! reach the database and opened only for a caller entitled to them.

use crate::ids::UserId;
use diesel::prelude::*;

use super::model::{Email, PersonName, Phone, Profile};
use crate::auth::{status, Role};
use crate::crypto::{index_kind, Column, Crypto, CryptoError, DataKey, WrappedKey};
use crate::db::schema::{data_keys, users};
use crate::db::DbConnection;
use crate::http::error::ApiError;
use crate::notifications::recipients::{Address, Notice};

pub const TABLE: &str = "users";
/// The account's sealed email, name and phone.
pub const EMAIL: Column = Column::new(TABLE, "email_sealed");
pub const NAME: Column = Column::new(TABLE, "name_sealed");
pub const PHONE: Column = Column::new(TABLE, "phone_sealed");

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = users)]
pub struct UserRow {
    pub id: UserId,
    pub role: String,
    pub status: String,
    pub email_bidx: Option<Vec<u8>>,
    pub email_sealed: Option<Vec<u8>>,
    pub name_sealed: Option<Vec<u8>>,
    pub phone_sealed: Option<Vec<u8>>,
    pub password_hash: Option<String>,
    pub version: i32,
    pub created_at: chrono::NaiveDateTime,
    pub updated_at: chrono::NaiveDateTime,
}

impl UserRow {
    pub fn role(&self) -> Role {
        // Roles are written by this code only; an unknown one grants the least.
        Role::parse(&self.role).unwrap_or(Role::Customer)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    #[error("an account with this email exists")]
    EmailTaken,
    #[error("no such account")]
    NotFound,
    #[error("the account changed")]
    VersionMismatch,
    #[error(transparent)]
    Db(#[from] diesel::result::Error),
    #[error(transparent)]
    Crypto(#[from] CryptoError),
}

impl From<AccountError> for ApiError {
    fn from(e: AccountError) -> Self {
        match e {
            AccountError::EmailTaken => {
                ApiError::conflict("An account with this email address already exists.")
            }
            AccountError::NotFound => ApiError::NotFound,
            AccountError::VersionMismatch => ApiError::PreconditionFailed,
            AccountError::Db(e) => e.into(),
            AccountError::Crypto(e) => e.into(),
        }
    }
}

pub struct NewAccount<'a> {
    pub email: &'a Email,
    pub name: &'a PersonName,
    pub phone: Option<&'a Phone>,
    pub password_hash: String,
    pub role: Role,
    /// `status::ACTIVE`, or `status::UNCONFIRMED` for a customer's own registration.
    pub status: &'static str,
}

fn seal(key: &DataKey, id: &str, column: Column, value: &str) -> Result<Vec<u8>, CryptoError> {
    key.seal_str(&column.at(id), value)
}

fn open(
    key: &DataKey,
    id: &str,
    column: Column,
    sealed: &Option<Vec<u8>>,
) -> Result<Option<String>, CryptoError> {
    sealed
        .as_deref()
        .map(|bytes| key.open_string(&column.at(id), bytes))
        .transpose()
}

/// Creates an account with its own data key, in the caller's transaction.
pub fn create(
    conn: &mut DbConnection,
    crypto: &Crypto,
    new: NewAccount<'_>,
) -> Result<UserRow, AccountError> {
    let id = UserId::new();
    let key = crypto.create_data_key(conn, &id)?;
    let now = crate::db::now();
    let row = UserRow {
        id: id.clone(),
        role: new.role.as_str().to_owned(),
        status: new.status.to_owned(),
        email_bidx: Some(crypto.blind_index(index_kind::ACCOUNT_EMAIL, new.email.as_str())),
        email_sealed: Some(seal(&key, &id, EMAIL, new.email.as_str())?),
        name_sealed: Some(seal(&key, &id, NAME, new.name.as_str())?),
        phone_sealed: new
            .phone
            .map(|p| seal(&key, &id, PHONE, p.as_str()))
            .transpose()?,
        password_hash: Some(new.password_hash),
        version: 1,
        created_at: now,
        updated_at: now,
    };
    let inserted = diesel::insert_into(users::table)
        .values((
            users::id.eq(&row.id),
            users::role.eq(&row.role),
            users::status.eq(&row.status),
            users::email_bidx.eq(&row.email_bidx),
            users::email_sealed.eq(&row.email_sealed),
            users::name_sealed.eq(&row.name_sealed),
            users::phone_sealed.eq(&row.phone_sealed),
            users::password_hash.eq(&row.password_hash),
            users::version.eq(row.version),
            users::created_at.eq(row.created_at),
            users::updated_at.eq(row.updated_at),
        ))
        .execute(conn);
    match inserted {
        Ok(_) => Ok(row),
        Err(e) if crate::db::is_unique_violation(&e) => Err(AccountError::EmailTaken),
        Err(e) => Err(e.into()),
    }
}

pub fn get(conn: &mut DbConnection, id: &str) -> QueryResult<Option<UserRow>> {
    users::table
        .find(id)
        .select(UserRow::as_select())
        .first(conn)
        .optional()
}

/// An account with its wrapped data key (`kek_id`, `wrapped`; `None` without a key row), in
/// one query: a profile read needs both.
pub fn get_with_key(
    conn: &mut DbConnection,
    id: &str,
) -> QueryResult<Option<(UserRow, Option<WrappedKey>)>> {
    users::table
        .left_join(data_keys::table.on(data_keys::subject_id.eq(users::id)))
        .filter(users::id.eq(id))
        .select((
            UserRow::as_select(),
            (data_keys::kek_id, data_keys::wrapped).nullable(),
        ))
        .first(conn)
        .optional()
}

/// Finds an account by email through its blind index.
pub fn find_by_email(
    conn: &mut DbConnection,
    crypto: &Crypto,
    email: &Email,
) -> QueryResult<Option<UserRow>> {
    let bidx = crypto.blind_index(index_kind::ACCOUNT_EMAIL, email.as_str());
    users::table
        .filter(users::email_bidx.eq(bidx))
        .select(UserRow::as_select())
        .first(conn)
        .optional()
}

/// The account's email, the one field the outbox's gateway needs to write to it; `None` for
/// an account erased, shredded or without one.
pub fn notice_address(
    conn: &mut DbConnection,
    crypto: &Crypto,
    notice: &Notice<'_>,
) -> Result<Option<Address>, ApiError> {
    let Some(row) = notice
        .user_id
        .map(|id| get(conn, id))
        .transpose()?
        .flatten()
    else {
        return Ok(None);
    };
    let key = match crypto.data_key(conn, &row.id) {
        Ok(key) => key,
        Err(CryptoError::Shredded) => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    let email = open(&key, &row.id, EMAIL, &row.email_sealed)?;
    Ok(email.filter(|email| !email.is_empty()).map(Address::to))
}

/// Opens an account's sealed fields.
pub fn open_profile(
    conn: &mut DbConnection,
    crypto: &Crypto,
    row: &UserRow,
) -> Result<Profile, CryptoError> {
    let key = crypto.data_key(conn, &row.id)?;
    open_profile_with(&key, row)
}

/// [`open_profile`] with the account's data key in hand.
pub fn open_profile_with(key: &DataKey, row: &UserRow) -> Result<Profile, CryptoError> {
    Ok(Profile {
        id: row.id.to_string(),
        role: row.role(),
        status: row.status.clone(),
        email: open(key, &row.id, EMAIL, &row.email_sealed)?.unwrap_or_default(),
        name: open(key, &row.id, NAME, &row.name_sealed)?.unwrap_or_default(),
        phone: open(key, &row.id, PHONE, &row.phone_sealed)?,
        version: row.version,
        created_at: row.created_at,
        updated_at: row.updated_at,
    })
}

/// A correction of profile fields; `phone: Some(None)` removes the phone number.
#[derive(Debug, Default)]
pub struct ProfileChanges {
    pub email: Option<Email>,
    pub name: Option<PersonName>,
    pub phone: Option<Option<Phone>>,
}

impl ProfileChanges {
    /// Names of the fields this correction touches (for the audit log).
    pub fn fields(&self) -> Vec<&'static str> {
        let mut fields = Vec::new();
        if self.email.is_some() {
            fields.push("email");
        }
        if self.name.is_some() {
            fields.push("name");
        }
        if self.phone.is_some() {
            fields.push("phone");
        }
        fields
    }
}

/// Applies a correction when the account is still at `expected_version` (if given).
pub fn update_profile(
    conn: &mut DbConnection,
    crypto: &Crypto,
    id: &str,
    expected_version: Option<i32>,
    changes: &ProfileChanges,
) -> Result<UserRow, AccountError> {
    let row = get(conn, id)?.ok_or(AccountError::NotFound)?;
    if expected_version.is_some_and(|v| v != row.version) {
        return Err(AccountError::VersionMismatch);
    }
    let key = crypto.data_key(conn, id)?;
    let mut next = row.clone();
    if let Some(email) = &changes.email {
        next.email_bidx = Some(crypto.blind_index(index_kind::ACCOUNT_EMAIL, email.as_str()));
        next.email_sealed = Some(seal(&key, id, EMAIL, email.as_str())?);
    }
    if let Some(name) = &changes.name {
        next.name_sealed = Some(seal(&key, id, NAME, name.as_str())?);
    }
    if let Some(phone) = &changes.phone {
        next.phone_sealed = phone
            .as_ref()
            .map(|p| seal(&key, id, PHONE, p.as_str()))
            .transpose()?;
    }
    next.version = row.version + 1;
    next.updated_at = crate::db::now();
    // Conditional on the version read above: a concurrent correction makes this one fail.
    let updated = diesel::update(
        users::table
            .filter(users::id.eq(id))
            .filter(users::version.eq(row.version)),
    )
    .set((
        users::email_bidx.eq(&next.email_bidx),
        users::email_sealed.eq(&next.email_sealed),
        users::name_sealed.eq(&next.name_sealed),
        users::phone_sealed.eq(&next.phone_sealed),
        users::version.eq(next.version),
        users::updated_at.eq(next.updated_at),
    ))
    .execute(conn);
    match updated {
        Ok(1) => Ok(next),
        Ok(_) => Err(AccountError::VersionMismatch),
        Err(e) if crate::db::is_unique_violation(&e) => Err(AccountError::EmailTaken),
        Err(e) => Err(e.into()),
    }
}

/// Staff accounts (every role but customer), by id.
pub fn list_staff(
    conn: &mut DbConnection,
    after: Option<&str>,
    limit: i64,
) -> QueryResult<Vec<UserRow>> {
    let mut query = users::table
        .filter(users::role.ne(Role::Customer.as_str()))
        .order(users::id.asc())
        .limit(limit)
        .select(UserRow::as_select())
        .into_boxed();
    if let Some(after) = after {
        query = query.filter(users::id.gt(after.to_owned()));
    }
    query.load(conn)
}

pub fn set_role_and_status(
    conn: &mut DbConnection,
    id: &str,
    role: Role,
    account_status: &str,
) -> QueryResult<usize> {
    diesel::update(users::table.find(id))
        .set((
            users::role.eq(role.as_str()),
            users::status.eq(account_status),
            users::version.eq(users::version + 1),
            users::updated_at.eq(crate::db::now()),
        ))
        .execute(conn)
}

pub fn count_active(conn: &mut DbConnection, role: Role) -> QueryResult<i64> {
    users::table
        .filter(users::role.eq(role.as_str()))
        .filter(users::status.eq(status::ACTIVE))
        .count()
        .get_result(conn)
}
