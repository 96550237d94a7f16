//! Registering a customer with a verified address.
//!
//! The answer to a registration never tells whether the address has an account: an unknown
//! address gets a new, unconfirmed account and a "confirm your address" mail; a known one
//! gets a "you already have an account" mail; both branches hash the password, so they take
//! the same time. The account signs in once its address is confirmed.

use diesel::prelude::*;

use super::email_tokens::{self, Purpose};
use super::password::Password;
use super::store as auth_store;
use super::{status, Role};
use crate::accounts::model::{Email, PersonName};
use crate::accounts::store::{self as accounts, AccountError, NewAccount};
use crate::audit::{self, Actor, Event};
use crate::crypto::Crypto;
use crate::db::schema::users;
use crate::db::DbConnection;
use crate::http::error::ApiError;
use crate::notifications::{Kind, To};
use crate::policies;

/// A customer's sign-up, parsed.
pub struct NewCustomer {
    pub email: Email,
    pub name: PersonName,
    pub password: Password,
    /// The privacy-policy version the customer accepts; must be the current one.
    pub accepted_policy_version: i32,
}

/// A session just started for an account.
#[derive(Debug)]
pub struct SignedIn {
    pub user_id: String,
    pub role: Role,
    pub refresh: String,
}

/// Takes a registration. `Ok(())` whatever the address: the mailbox learns what happened.
/// `request_id` is the request's, for the audit entry (read by the caller, since this runs
/// off the request's task).
pub fn customer(
    conn: &mut DbConnection,
    crypto: &Crypto,
    new: &NewCustomer,
    request_id: Option<String>,
) -> Result<(), ApiError> {
    let version = require_current_policy(conn, new.accepted_policy_version)?;
    // Hashed for a known address too: the work, and so the time, is the same either way.
    let password_hash = new.password.hash()?;
    let done = crate::db::write_transaction(conn, |conn| {
        match accounts::find_by_email(conn, crypto, &new.email)? {
            None => create(conn, crypto, new, password_hash, version, request_id),
            // Never confirmed: the mail may have been lost; a new one replaces it. The
            // password stays the first one: a stranger registering the address again
            // cannot choose the password its owner will confirm.
            Some(row) if row.status == status::UNCONFIRMED => {
                email_tokens::issue(conn, crypto, &row.id, Purpose::Confirmation, &new.email)
                    .map(drop)
            }
            Some(row) => {
                crate::notifications::enqueue(
                    conn,
                    To::Account { user_id: &row.id },
                    &Kind::AccountAlreadyRegistered,
                    &serde_json::json!({}),
                )?;
                Ok(())
            }
        }
    });
    match done {
        // A concurrent registration of the same address won: its mail goes out; this one's
        // answer stays the same.
        Err(ApiError::Conflict(_)) => Ok(()),
        other => other,
    }
}

fn create(
    conn: &mut DbConnection,
    crypto: &Crypto,
    new: &NewCustomer,
    password_hash: String,
    version: i32,
    request_id: Option<String>,
) -> Result<(), ApiError> {
    let row = accounts::create(
        conn,
        crypto,
        NewAccount {
            email: &new.email,
            name: &new.name,
            phone: None,
            password_hash,
            role: Role::Customer,
            status: status::UNCONFIRMED,
        },
    )
    .map_err(|e| match e {
        AccountError::EmailTaken => ApiError::conflict("taken"),
        e => e.into(),
    })?;
    policies::store::record_acceptance(
        conn,
        &row.id,
        version,
        policies::model::AcceptanceSource::Registration.as_str(),
    )?;
    let mut actor = Actor::subject(&row.id, Role::Customer);
    actor.request_id = request_id;
    audit::record(
        conn,
        crypto,
        &actor,
        &Event {
            action: crate::audit::Action::AccountRegister,
            subject_id: Some(&row.id),
            fields: &["email", "name"],
            purpose: crate::audit::Purpose::AccountCreation,
        },
    )?;
    email_tokens::issue(conn, crypto, &row.id, Purpose::Confirmation, &new.email)?;
    Ok(())
}

/// Activates an unconfirmed account; false when it was not waiting for confirmation.
fn activate(
    conn: &mut DbConnection,
    crypto: &Crypto,
    actor: &Actor,
    user_id: &str,
) -> Result<bool, ApiError> {
    let activated = diesel::update(
        users::table
            .find(user_id)
            .filter(users::status.eq(status::UNCONFIRMED)),
    )
    .set((
        users::status.eq(status::ACTIVE),
        users::version.eq(users::version + 1),
        users::updated_at.eq(crate::db::now()),
    ))
    .execute(conn)?;
    if activated == 0 {
        return Ok(false);
    }
    audit::record(
        conn,
        crypto,
        actor,
        &Event {
            action: crate::audit::Action::AccountConfirm,
            subject_id: Some(user_id),
            fields: &["email"],
            purpose: crate::audit::Purpose::AccountSecurity,
        },
    )?;
    Ok(true)
}

/// Confirms an address with the token mailed to it: the account becomes active and its first
/// session starts, in the caller's transaction. `None` for an unknown, expired or used token.
pub fn confirm(
    conn: &mut DbConnection,
    crypto: &Crypto,
    token: &str,
) -> Result<Option<SignedIn>, ApiError> {
    let Some(used) = email_tokens::take(conn, crypto, Purpose::Confirmation, token)? else {
        return Ok(None);
    };
    let actor = Actor::subject(&used.user_id, Role::Customer);
    if !activate(conn, crypto, &actor, &used.user_id)? {
        return Ok(None);
    }
    let refresh = auth_store::start_family(conn, &used.user_id)?;
    Ok(Some(SignedIn {
        user_id: used.user_id,
        role: Role::Customer,
        refresh,
    }))
}

/// An operator confirms an address by hand (`valise accounts confirm`): support for a
/// customer whose mail never arrives, once they have proven the address another way.
/// Audited as the system acting; false when no account waits for confirmation at `email`.
pub fn confirm_by_operator(
    conn: &mut DbConnection,
    crypto: &Crypto,
    email: &Email,
) -> Result<bool, ApiError> {
    crate::db::write_transaction(conn, |conn| {
        let Some(row) = accounts::find_by_email(conn, crypto, email)? else {
            return Ok(false);
        };
        if !activate(conn, crypto, &Actor::system(), &row.id)? {
            return Ok(false);
        }
        email_tokens::revoke(conn, &row.id, Purpose::Confirmation)?;
        Ok(true)
    })
}

/// The current policy version, read from the database so acceptance is always exact.
fn require_current_policy(conn: &mut DbConnection, accepted: i32) -> Result<i32, ApiError> {
    let current = policies::store::current_version(conn)?;
    if accepted != current {
        return Err(ApiError::validation(
            "accepted_policy_version",
            format!("must be the current privacy-policy version ({current})"),
        ));
    }
    Ok(current)
}
