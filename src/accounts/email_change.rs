//! Moving an account to a new sign-in address, verified first: the new address gets a token
//! (24 hours) and the change applies only when that token comes back. If the address
//! belongs to another account, that account's owner is told instead, and nothing the caller
//! sees differs.

use super::model::Email;
use super::store::{self, AccountError, ProfileChanges};
use crate::audit::{self, Actor, Event};
use crate::auth::email_tokens::{self, Purpose};
use crate::crypto::Crypto;
use crate::db::DbConnection;
use crate::http::error::ApiError;
use crate::ids::UserId;
use crate::notifications::{Kind, To};

/// Sends the confirmation to `email`, or tells its owner, in the caller's transaction.
pub fn request(
    conn: &mut DbConnection,
    crypto: &Crypto,
    user_id: &UserId,
    email: &Email,
) -> Result<(), ApiError> {
    match store::find_by_email(conn, crypto, email)? {
        None => email_tokens::issue(conn, crypto, user_id, Purpose::EmailChange, email).map(drop),
        Some(owner) => {
            crate::notifications::enqueue(
                conn,
                To::Account { user_id: &owner.id },
                &Kind::EmailChangeRefused,
                &serde_json::json!({}),
            )?;
            Ok(())
        }
    }
}

/// What presenting an address-change token led to.
pub enum Confirmed {
    Changed,
    /// Unknown, expired or used.
    Invalid,
    /// Another account took the address since the token was sent.
    Taken,
}

/// Applies the new address of a token, audited as the owner's own change.
pub fn confirm(
    conn: &mut DbConnection,
    crypto: &Crypto,
    token: &str,
) -> Result<Confirmed, ApiError> {
    let outcome = crate::db::write_transaction(conn, |conn| {
        let Some(used) = email_tokens::take(conn, crypto, Purpose::EmailChange, token)? else {
            return Ok(Confirmed::Invalid);
        };
        // Only an account that may sign in moves its address: a disabled (or erased) one
        // burns the token and keeps its address.
        let Some(row) = store::get(conn, &used.user_id)?
            .filter(|row| row.status == crate::auth::status::ACTIVE)
        else {
            return Ok(Confirmed::Invalid);
        };
        let email = Email::parse("token", &used.email)?;
        let changes = ProfileChanges {
            email: Some(email),
            ..ProfileChanges::default()
        };
        match store::update_profile(conn, crypto, &row.id, None, &changes) {
            Ok(_) => {}
            Err(AccountError::EmailTaken) => return Err(ApiError::conflict("taken")),
            Err(e) => return Err(e.into()),
        }
        audit::record(
            conn,
            crypto,
            &Actor::subject(&row.id, row.role()),
            &Event {
                action: crate::audit::Action::EmailChange,
                subject_id: Some(&row.id),
                fields: &["email"],
                purpose: crate::audit::Purpose::AccountSecurity,
            },
        )?;
        Ok(Confirmed::Changed)
    });
    match outcome {
        Err(ApiError::Conflict(_)) => Ok(Confirmed::Taken),
        other => other,
    }
}
