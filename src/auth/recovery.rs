//! Passwords after sign-up: a reset by e-mail (a single-use token valid 30 minutes; every
//! session ends) and a change by the owner (the current password required). Staff accounts
//! reset the same way as customers.

use chrono::Duration;
use diesel::prelude::*;

use super::email_tokens::{self, Purpose};
use super::password;
use super::store as auth_store;
use super::throttle::{self, Limit};
use super::{status, Role};
use crate::accounts::model::Email;
use crate::accounts::store as accounts;
use crate::audit::{self, Actor, Event};
use crate::crypto::{index_kind, Crypto};
use crate::db::schema::users;
use crate::db::DbConnection;
use crate::http::error::ApiError;
use crate::notifications::{Kind, To};

/// Reset mails per address per hour, counted whether or not the address has an account (the
/// limit is the same for both, so it tells nothing): a mailbox cannot be flooded.
pub const RESETS_PER_MAILBOX: Limit = Limit {
    name: "password-reset-mailbox",
    max: 5,
    window: Duration::hours(1),
};

/// Wrong current passwords per account per hour when changing it: a stolen access token
/// cannot be used to guess the password behind it.
pub const CHANGES_PER_ACCOUNT: Limit = Limit {
    name: "password-change",
    max: 10,
    window: Duration::hours(1),
};

/// Asks for a reset token for `email`. Sends it when an account that may sign in (or is
/// waiting for confirmation) has that address; does nothing visible otherwise.
pub fn request_reset(
    conn: &mut DbConnection,
    crypto: &Crypto,
    email: &Email,
) -> Result<(), ApiError> {
    crate::db::write_transaction(conn, |conn| {
        let bucket = format!(
            "reset:email:{}",
            hex::encode(&crypto.blind_index(index_kind::ACCOUNT_EMAIL, email.as_str())[..16])
        );
        throttle::take(conn, &bucket, RESETS_PER_MAILBOX, crate::db::now())?
            .map_err(ApiError::RateLimited)?;
        let row = accounts::find_by_email(conn, crypto, email)?;
        if let Some(row) =
            row.filter(|r| [status::ACTIVE, status::UNCONFIRMED].contains(&&*r.status))
        {
            email_tokens::issue(conn, crypto, &row.id, Purpose::PasswordReset, email)?;
        }
        Ok(())
    })
}

/// Sets the password with a reset token; false for an unknown, expired or used token.
/// Every session of the account ends. The token proves the mailbox, so an account still
/// waiting for confirmation becomes active too.
pub fn complete_reset(
    conn: &mut DbConnection,
    crypto: &Crypto,
    token: &str,
    password_hash: String,
) -> Result<bool, ApiError> {
    crate::db::write_transaction(conn, |conn| {
        let Some(used) = email_tokens::take(conn, crypto, Purpose::PasswordReset, token)? else {
            return Ok(false);
        };
        let Some(row) = accounts::get(conn, &used.user_id)? else {
            return Ok(false);
        };
        let updated = diesel::update(
            users::table
                .find(&used.user_id)
                .filter(users::status.eq_any([status::ACTIVE, status::UNCONFIRMED])),
        )
        .set((
            users::password_hash.eq(password_hash),
            users::status.eq(status::ACTIVE),
            users::version.eq(users::version + 1),
            users::updated_at.eq(crate::db::now()),
        ))
        .execute(conn)?;
        if updated == 0 {
            return Ok(false);
        }
        auth_store::revoke_all(conn, &used.user_id)?;
        email_tokens::revoke(conn, &used.user_id, Purpose::Confirmation)?;
        let actor = Actor::subject(&used.user_id, row.role());
        record(conn, crypto, &actor, &used.user_id, Action::Reset)?;
        Ok(true)
    })
}

/// What a password change led to.
pub enum Changed {
    /// Changed: every other session ended; here is the new one's refresh token.
    Yes { role: Role, refresh: String },
    /// The current password was wrong.
    WrongCurrent,
}

/// Changes the owner's password when `current` is right. Every session ends and a new one
/// starts for the caller: whoever else held a session (the reason to change a password)
/// is signed out.
pub fn change(
    conn: &mut DbConnection,
    crypto: &Crypto,
    actor: &Actor,
    user_id: &str,
    current: &str,
    new: &password::Password,
) -> Result<Changed, ApiError> {
    let bucket = format!("password-change:{user_id}");
    throttle::take(conn, &bucket, CHANGES_PER_ACCOUNT, crate::db::now())?
        .map_err(ApiError::RateLimited)?;
    let row = accounts::get(conn, user_id)?.ok_or(ApiError::NotFound)?;
    let right = row
        .password_hash
        .as_deref()
        .is_some_and(|h| password::verify(h, current));
    if !right {
        return Ok(Changed::WrongCurrent);
    }
    let hash = new.hash()?;
    crate::db::write_transaction(conn, |conn| {
        diesel::update(users::table.find(user_id))
            .set((
                users::password_hash.eq(&hash),
                users::version.eq(users::version + 1),
                users::updated_at.eq(crate::db::now()),
            ))
            .execute(conn)?;
        auth_store::revoke_all(conn, user_id)?;
        email_tokens::revoke(conn, user_id, Purpose::PasswordReset)?;
        record(conn, crypto, actor, user_id, Action::Change)?;
        let refresh = auth_store::start_family(conn, user_id)?;
        Ok(Changed::Yes {
            role: row.role(),
            refresh,
        })
    })
}

enum Action {
    Change,
    Reset,
}

/// The audit entry and the owner's "your password changed" notice.
fn record(
    conn: &mut DbConnection,
    crypto: &Crypto,
    actor: &Actor,
    user_id: &str,
    action: Action,
) -> Result<(), ApiError> {
    let action = match action {
        Action::Change => crate::audit::Action::PasswordChange,
        Action::Reset => crate::audit::Action::PasswordReset,
    };
    audit::record(
        conn,
        crypto,
        actor,
        &Event {
            action,
            subject_id: Some(user_id),
            fields: &["password"],
            purpose: crate::audit::Purpose::AccountSecurity,
        },
    )?;
    let user_id = crate::ids::UserId::parse(user_id).ok_or(ApiError::NotFound)?;
    crate::notifications::enqueue(
        conn,
        To::Account { user_id: &user_id },
        &Kind::PasswordChanged,
        &serde_json::json!({}),
    )?;
    Ok(())
}
