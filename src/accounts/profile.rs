//! The owner's profile: reading it, and correcting it (the right to rectification) with its
//! audit entry and its self-service rectification request, in one transaction.

use super::model::{etag, Profile};
use super::store::{self, ProfileChanges};
use crate::audit::{self, Actor, Event};
use crate::crypto::{index_kind, Crypto};
use crate::db::DbConnection;
use crate::http::cache;
use crate::http::error::ApiError;
use crate::ids::UserId;

/// The account's profile, opened for its owner (the account and its key in one query).
pub fn read(conn: &mut DbConnection, crypto: &Crypto, user_id: &str) -> Result<Profile, ApiError> {
    let (row, wrapped) = store::get_with_key(conn, user_id)?.ok_or(ApiError::NotFound)?;
    let key = crypto.data_key_from_row(&row.id, wrapped)?;
    Ok(store::open_profile_with(&key, &row)?)
}

/// What a correction led to: the profile now, and whether a new address waits for its
/// confirmation (then the answer is the same whether or not another account has it).
pub struct Corrected {
    pub profile: Profile,
    pub email_pending: bool,
}

/// Applies the owner's correction when `if_match` (the raw `If-Match` header) names the
/// current version, and returns the corrected profile. A correction that touches no field
/// still bumps the version but is neither audited nor tracked as a request.
///
/// A new email is not applied here: the new address gets a token to confirm it (see
/// [`super::email_change`]); if another account has it, that account's owner is told
/// instead, and the caller sees the same answer.
pub fn correct(
    conn: &mut DbConnection,
    crypto: &Crypto,
    actor: &Actor,
    user_id: &UserId,
    if_match: Option<&str>,
    changes: ProfileChanges,
) -> Result<Corrected, ApiError> {
    crate::db::write_transaction(conn, |conn| {
        let current = store::get(conn, user_id)?.ok_or(ApiError::NotFound)?;
        if !cache::if_match_allows(if_match, &etag(current.version)) {
            return Err(ApiError::PreconditionFailed);
        }
        let new_email = changes.email.clone().filter(|e| {
            current.email_bidx.as_deref()
                != Some(&crypto.blind_index(index_kind::ACCOUNT_EMAIL, e.as_str())[..])
        });
        let now = ProfileChanges {
            email: None,
            ..changes
        };
        let fields = now.fields();
        let row = store::update_profile(conn, crypto, user_id, Some(current.version), &now)?;
        if !fields.is_empty() {
            audit::record(
                conn,
                crypto,
                actor,
                &Event {
                    action: crate::audit::Action::ProfileUpdate,
                    subject_id: Some(user_id),
                    fields: &fields,
                    purpose: crate::audit::Purpose::Rectification,
                },
            )?;
            crate::privacy::requests::store::record_self_service(
                conn,
                user_id,
                crate::privacy::requests::model::Kind::Rectification,
            )?;
        }
        if let Some(email) = &new_email {
            super::email_change::request(conn, crypto, user_id, email)?;
        }
        Ok(Corrected {
            profile: store::open_profile(conn, crypto, &row)?,
            email_pending: new_email.is_some(),
        })
    })
}
