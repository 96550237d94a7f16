//! Registering a customer: the account, its acceptance of the current privacy policy, its
//! audit entry and its first session, written in one transaction.

use super::password::Password;
use super::store as auth_store;
use super::Role;
use crate::accounts::model::{Email, PersonName, Profile};
use crate::accounts::store::{self as accounts, NewAccount};
use crate::audit::{self, Actor, Event};
use crate::crypto::Crypto;
use crate::db::DbConnection;
use crate::http::error::ApiError;
use crate::policies;

/// A customer's sign-up, parsed.
pub struct NewCustomer {
    pub email: Email,
    pub name: PersonName,
    pub password: Password,
    /// The privacy-policy version the customer accepts; must be the current one.
    pub accepted_policy_version: i32,
}

/// Creates the account and starts its first session; returns the opened profile and the
/// session's refresh token. `request_id` is the request's, for the audit entry (read by the
/// caller, since this runs off the request's task).
pub fn customer(
    conn: &mut DbConnection,
    crypto: &Crypto,
    new: &NewCustomer,
    request_id: Option<String>,
) -> Result<(Profile, String), ApiError> {
    let version = require_current_policy(conn, new.accepted_policy_version)?;
    let password_hash = new.password.hash()?;
    crate::db::write_transaction(conn, |conn| {
        let row = accounts::create(
            conn,
            crypto,
            NewAccount {
                email: &new.email,
                name: &new.name,
                phone: None,
                password_hash,
                role: Role::Customer,
            },
        )?;
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
        let refresh = auth_store::start_family(conn, &row.id)?;
        let profile = accounts::open_profile(conn, crypto, &row)?;
        Ok((profile, refresh))
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
