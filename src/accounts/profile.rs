//! The owner's profile: reading it, and correcting it (the right to rectification) with its
//! audit entry and its self-service rectification request, in one transaction.

use super::model::{etag, Profile};
use super::store::{self, ProfileChanges};
use crate::audit::{self, Actor, Event};
use crate::crypto::Crypto;
use crate::db::DbConnection;
use crate::http::cache;
use crate::http::error::ApiError;
use crate::ids::UserId;

/// The account's profile, opened for its owner.
pub fn read(conn: &mut DbConnection, crypto: &Crypto, user_id: &str) -> Result<Profile, ApiError> {
    let row = store::get(conn, user_id)?.ok_or(ApiError::NotFound)?;
    Ok(store::open_profile(conn, crypto, &row)?)
}

/// Applies the owner's correction when `if_match` (the raw `If-Match` header) names the
/// current version, and returns the corrected profile. A correction that touches no field
/// still bumps the version but is neither audited nor tracked as a request.
pub fn correct(
    conn: &mut DbConnection,
    crypto: &Crypto,
    actor: &Actor,
    user_id: &UserId,
    if_match: Option<&str>,
    changes: &ProfileChanges,
) -> Result<Profile, ApiError> {
    crate::db::write_transaction(conn, |conn| {
        let current = store::get(conn, user_id)?.ok_or(ApiError::NotFound)?;
        if !cache::if_match_allows(if_match, &etag(current.version)) {
            return Err(ApiError::PreconditionFailed);
        }
        let fields = changes.fields();
        let row = store::update_profile(conn, crypto, user_id, Some(current.version), changes)?;
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
        Ok(store::open_profile(conn, crypto, &row)?)
    })
}
