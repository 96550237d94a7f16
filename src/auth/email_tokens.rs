//! Single-use tokens sent by e-mail: a new account's confirmation, a password reset, a new
//! sign-in address's confirmation.
//!
//! A token is 256 random bits; only its SHA-256 finds its row, so a database dump holds no
//! usable token. The delivery worker runs after the request that made it, so the token and
//! the address it goes to are also sealed under the account's key until it is used (or the
//! account is erased); the outbox payload names the token's row only, and the gateway gets
//! the token in the sealed `code` of its message, as it gets a guest's one-time code.

use chrono::Duration;
use diesel::prelude::*;

use super::token::{hash_secret, new_secret};
use crate::accounts::model::Email;
use crate::crypto::{index_kind, Column, Crypto, CryptoError};
use crate::db::schema::account_tokens;
use crate::db::DbConnection;
use crate::http::error::ApiError;
use crate::notifications::recipients::{Address, Lookup, Notice};
use crate::notifications::{Kind, To};

pub const TABLE: &str = "account_tokens";
/// The token, sealed for the delivery worker until it is used.
pub const TOKEN: Column = Column::new(TABLE, "token_sealed");
/// The address the token goes to, sealed until it is used.
pub const EMAIL: Column = Column::new(TABLE, "email_sealed");

/// What a token lets its holder do; each has its own lifetime.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// Confirms a new account's address and starts its first session (24 hours).
    Confirmation,
    /// Sets a new password and ends every session (30 minutes).
    PasswordReset,
    /// Moves the account to the new address it was sent to (24 hours).
    EmailChange,
}

impl Purpose {
    pub fn as_str(self) -> &'static str {
        match self {
            Purpose::Confirmation => "confirmation",
            Purpose::PasswordReset => "password_reset",
            Purpose::EmailChange => "email_change",
        }
    }

    /// How long a token can be used. A reset token opens the account to whoever reads the
    /// mail, so it lives only as long as someone who asked for it needs; a confirmation waits
    /// for a person who may read their mail tomorrow.
    pub fn ttl(self) -> Duration {
        match self {
            Purpose::PasswordReset => Duration::minutes(30),
            Purpose::Confirmation | Purpose::EmailChange => Duration::hours(24),
        }
    }

    /// The notice that carries it.
    pub fn kind(self) -> Kind {
        match self {
            Purpose::Confirmation => Kind::AccountConfirmation,
            Purpose::PasswordReset => Kind::PasswordReset,
            Purpose::EmailChange => Kind::EmailChangeConfirmation,
        }
    }
}

/// A token just used: whose it was and, for an address change, the new address.
#[derive(Debug)]
pub struct Used {
    pub user_id: String,
    pub email: String,
}

/// Issues a token of `purpose` for the account, sent to `to`, and queues its notice in the
/// caller's transaction. Earlier unused tokens of the same purpose stop working: only the
/// latest mail counts.
pub fn issue(
    conn: &mut DbConnection,
    crypto: &Crypto,
    user_id: &str,
    purpose: Purpose,
    to: &Email,
) -> Result<String, ApiError> {
    revoke(conn, user_id, purpose)?;
    let id = crate::ids::new_id("atk");
    let token = new_secret("vt")?;
    let key = crypto.data_key(conn, user_id)?;
    let now = crate::db::now();
    let email_bidx = (purpose == Purpose::EmailChange)
        .then(|| crypto.blind_index(index_kind::ACCOUNT_EMAIL, to.as_str()));
    diesel::insert_into(account_tokens::table)
        .values((
            account_tokens::id.eq(&id),
            account_tokens::user_id.eq(user_id),
            account_tokens::purpose.eq(purpose.as_str()),
            account_tokens::token_hash.eq(hash_secret(&token)),
            account_tokens::token_sealed.eq(key.seal_str(&TOKEN.at(&id), &token)?),
            account_tokens::email_bidx.eq(email_bidx),
            account_tokens::email_sealed.eq(key.seal_str(&EMAIL.at(&id), to.as_str())?),
            account_tokens::created_at.eq(now),
            account_tokens::expires_at.eq(now + purpose.ttl()),
        ))
        .execute(conn)?;
    crate::notifications::enqueue(
        conn,
        To::KindLookup,
        &purpose.kind(),
        &serde_json::json!({ "token_id": id }),
    )?;
    Ok(id)
}

/// Ends every unused token of `purpose` of the account, with its sealed copies.
pub fn revoke(conn: &mut DbConnection, user_id: &str, purpose: Purpose) -> QueryResult<usize> {
    diesel::update(
        account_tokens::table
            .filter(account_tokens::user_id.eq(user_id))
            .filter(account_tokens::purpose.eq(purpose.as_str()))
            .filter(account_tokens::used_at.is_null()),
    )
    .set((
        account_tokens::used_at.eq(crate::db::now()),
        account_tokens::token_sealed.eq(None::<Vec<u8>>),
        account_tokens::email_sealed.eq(None::<Vec<u8>>),
    ))
    .execute(conn)
}

/// Deletes every token of the account, used or not, with its sealed copies (an erasure:
/// nothing mailed to the account stays usable or stored).
pub fn delete_all(conn: &mut DbConnection, user_id: &str) -> QueryResult<usize> {
    diesel::delete(account_tokens::table.filter(account_tokens::user_id.eq(user_id))).execute(conn)
}

/// Uses a token of `purpose`: `None` when it is unknown, of another purpose, expired or
/// already used — told apart to nobody. Marking it used is conditional, so of two concurrent
/// uses exactly one wins.
pub fn take(
    conn: &mut DbConnection,
    crypto: &Crypto,
    purpose: Purpose,
    token: &str,
) -> Result<Option<Used>, ApiError> {
    let now = crate::db::now();
    let row: Option<(String, String, Option<Vec<u8>>)> = account_tokens::table
        .filter(account_tokens::token_hash.eq(hash_secret(token)))
        .filter(account_tokens::purpose.eq(purpose.as_str()))
        .filter(account_tokens::used_at.is_null())
        .filter(account_tokens::expires_at.gt(now))
        .select((
            account_tokens::id,
            account_tokens::user_id,
            account_tokens::email_sealed,
        ))
        .first(conn)
        .optional()?;
    let Some((id, user_id, Some(sealed))) = row else {
        return Ok(None);
    };
    let email = match crypto.data_key(conn, &user_id) {
        Ok(key) => key.open_string(&EMAIL.at(&id), &sealed)?,
        Err(CryptoError::Shredded) => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    let claimed = diesel::update(
        account_tokens::table
            .find(&id)
            .filter(account_tokens::used_at.is_null()),
    )
    .set((
        account_tokens::used_at.eq(now),
        account_tokens::token_sealed.eq(None::<Vec<u8>>),
        account_tokens::email_sealed.eq(None::<Vec<u8>>),
    ))
    .execute(conn)?;
    Ok((claimed == 1).then_some(Used { user_id, email }))
}

/// The notices that carry tokens and whom they reach (gathered by `workers::recipients`).
pub const RECIPIENTS: &[(Kind, Lookup)] = &[
    (Kind::AccountConfirmation, notice_address),
    (Kind::PasswordReset, notice_address),
    (Kind::EmailChangeConfirmation, notice_address),
];

/// The address and token of a token's notice (its payload names the token's row).
pub fn notice_address(
    conn: &mut DbConnection,
    crypto: &Crypto,
    notice: &Notice<'_>,
) -> Result<Option<Address>, ApiError> {
    let id = notice.payload["token_id"].as_str().unwrap_or_default();
    Ok(pending(conn, crypto, id)?.map(|(to, token)| Address {
        to,
        code: Some(token),
    }))
}

/// Opens an unused, unexpired token and its destination. `None` once used, expired,
/// revoked, or its account erased.
pub fn pending(
    conn: &mut DbConnection,
    crypto: &Crypto,
    id: &str,
) -> Result<Option<(String, String)>, CryptoError> {
    type Sealed = (String, Option<Vec<u8>>, Option<Vec<u8>>);
    let row: Option<Sealed> = account_tokens::table
        .find(id)
        .filter(account_tokens::used_at.is_null())
        .filter(account_tokens::expires_at.gt(crate::db::now()))
        .select((
            account_tokens::user_id,
            account_tokens::email_sealed,
            account_tokens::token_sealed,
        ))
        .first(conn)
        .optional()?;
    let Some((user_id, Some(email), Some(token))) = row else {
        return Ok(None);
    };
    let key = match crypto.data_key(conn, &user_id) {
        Ok(k) => k,
        Err(CryptoError::Shredded) => return Ok(None),
        Err(e) => return Err(e),
    };
    Ok(Some((
        key.open_string(&EMAIL.at(id), &email)?,
        key.open_string(&TOKEN.at(id), &token)?,
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reset_lasts_thirty_minutes_and_confirmations_a_day() {
        assert_eq!(Purpose::PasswordReset.ttl(), Duration::minutes(30));
        assert_eq!(Purpose::Confirmation.ttl(), Duration::hours(24));
        assert_eq!(Purpose::EmailChange.ttl(), Duration::hours(24));
    }

    #[test]
    fn every_token_notice_has_a_lookup() {
        for p in [
            Purpose::Confirmation,
            Purpose::PasswordReset,
            Purpose::EmailChange,
        ] {
            assert!(RECIPIENTS.iter().any(|(k, _)| *k == p.kind()));
        }
    }
}
