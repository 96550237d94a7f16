//! Master-key rotation: re-wrap every data key, system secret and analytics day salt under the
//! newest master key.
//!
//! Batched (one short transaction per batch) and resumable: progress is the rows themselves,
//! so a crashed run continues where it stopped. Reads keep working throughout because each
//! row names the master key that wraps it. Old master keys may be dropped only once no row
//! uses them.

use diesel::prelude::*;
use serde::Serialize;
use utoipa::ToSchema;

use super::store::{dek_aad, system_aad, unwrap_with_reload};
use super::{Crypto, CryptoError};
use crate::db::schema::{analytics_salts, data_keys, system_keys};
use crate::db::DbConnection;

pub const DEFAULT_BATCH: i64 = 500;

/// Where a rotation stands.
#[derive(Debug, Clone, Serialize, ToSchema, PartialEq, Eq)]
#[schema(example = json!({
    "newest_key_id": "k2", "current": 1843, "remaining": 0, "old_key_ids_in_use": [],
    "rewrapped": 1843
}))]
pub struct RotationStatus {
    /// The id of the master key every key is being re-wrapped under.
    pub newest_key_id: String,
    /// Data keys, system secrets and analytics day salts already under the newest key.
    #[schema(minimum = 0)]
    pub current: i64,
    /// Keys still wrapped by an older master key (0 once the rotation is complete).
    #[schema(minimum = 0)]
    pub remaining: i64,
    /// Older master-key ids still needed to read some keys; empty once they can be dropped.
    pub old_key_ids_in_use: Vec<String>,
    /// Keys re-wrapped by this run.
    #[schema(minimum = 0)]
    pub rewrapped: i64,
}

pub fn status(
    conn: &mut DbConnection,
    crypto: &Crypto,
    rewrapped: i64,
) -> Result<RotationStatus, CryptoError> {
    let newest = crypto.keyring().get().newest().id().to_owned();
    let dek_ids: Vec<String> = data_keys::table
        .filter(data_keys::wrapped.is_not_null())
        .select(data_keys::kek_id)
        .load(conn)?;
    let sys_ids: Vec<String> = system_keys::table.select(system_keys::kek_id).load(conn)?;
    let salt_ids: Vec<String> = analytics_salts::table
        .select(analytics_salts::kek_id)
        .load(conn)?;
    let mut current = 0;
    let mut remaining = 0;
    let mut old = std::collections::BTreeSet::new();
    for id in dek_ids.into_iter().chain(sys_ids).chain(salt_ids) {
        if id == newest {
            current += 1;
        } else {
            remaining += 1;
            old.insert(id);
        }
    }
    Ok(RotationStatus {
        newest_key_id: newest,
        current,
        remaining,
        old_key_ids_in_use: old.into_iter().collect(),
        rewrapped,
    })
}

/// Re-wraps up to `batch` keys in one transaction; returns how many it moved.
pub fn rewrap_batch(
    conn: &mut DbConnection,
    crypto: &Crypto,
    batch: i64,
) -> Result<i64, CryptoError> {
    let keyring = crypto.keyring();
    let newest = keyring.get().newest().id().to_owned();
    crate::db::write_transaction(conn, |conn| {
        let mut moved = 0;
        let sys: Vec<(String, String, Vec<u8>)> = system_keys::table
            .filter(system_keys::kek_id.ne(&newest))
            .select((system_keys::name, system_keys::kek_id, system_keys::wrapped))
            .limit(batch)
            .load(conn)?;
        for (name, kek_id, wrapped) in sys {
            let secret = unwrap_with_reload(keyring, &kek_id, &system_aad(&name), &wrapped)?;
            let (new_id, new_wrapped) = keyring.get().wrap(&system_aad(&name), &secret)?;
            moved += diesel::update(
                system_keys::table
                    .filter(system_keys::name.eq(&name))
                    .filter(system_keys::kek_id.eq(&kek_id)),
            )
            .set((
                system_keys::kek_id.eq(new_id),
                system_keys::wrapped.eq(new_wrapped),
            ))
            .execute(conn)? as i64;
        }
        // The analytics day salts (a day or two of them): destroyed rather than re-wrapped
        // would split that day's visitors in two.
        let salts: Vec<(chrono::NaiveDate, String, Vec<u8>)> = analytics_salts::table
            .filter(analytics_salts::kek_id.ne(&newest))
            .select((
                analytics_salts::day,
                analytics_salts::kek_id,
                analytics_salts::wrapped,
            ))
            .limit(batch - moved)
            .load(conn)?;
        for (day, kek_id, wrapped) in salts {
            let aad = salt_aad(day);
            let secret = unwrap_with_reload(keyring, &kek_id, &aad, &wrapped)?;
            let (new_id, new_wrapped) = keyring.get().wrap(&aad, &secret)?;
            moved += diesel::update(
                analytics_salts::table
                    .filter(analytics_salts::day.eq(day))
                    .filter(analytics_salts::kek_id.eq(&kek_id)),
            )
            .set((
                analytics_salts::kek_id.eq(new_id),
                analytics_salts::wrapped.eq(new_wrapped),
            ))
            .execute(conn)? as i64;
        }
        let deks: Vec<(String, String, Option<Vec<u8>>)> = data_keys::table
            .filter(data_keys::kek_id.ne(&newest))
            .filter(data_keys::wrapped.is_not_null())
            .select((data_keys::subject_id, data_keys::kek_id, data_keys::wrapped))
            .order(data_keys::subject_id)
            .limit(batch - moved)
            .load(conn)?;
        for (subject, kek_id, wrapped) in deks {
            let Some(wrapped) = wrapped else { continue };
            let secret = unwrap_with_reload(keyring, &kek_id, &dek_aad(&subject), &wrapped)?;
            let (new_id, new_wrapped) = keyring.get().wrap(&dek_aad(&subject), &secret)?;
            // Conditional on the old key id: a concurrent run or a shred wins cleanly.
            moved += diesel::update(
                data_keys::table
                    .filter(data_keys::subject_id.eq(&subject))
                    .filter(data_keys::kek_id.eq(&kek_id))
                    .filter(data_keys::wrapped.is_not_null()),
            )
            .set((
                data_keys::kek_id.eq(new_id),
                data_keys::wrapped.eq(Some(new_wrapped)),
            ))
            .execute(conn)? as i64;
        }
        Ok(moved)
    })
}

/// Re-wraps until nothing is left (or `max_batches` ran, to model an interrupted run).
/// `progress` sees the status after each batch.
pub fn rewrap_all(
    conn: &mut DbConnection,
    crypto: &Crypto,
    batch: i64,
    max_batches: Option<usize>,
    mut progress: impl FnMut(&RotationStatus),
) -> Result<RotationStatus, CryptoError> {
    let mut total = 0;
    let mut batches = 0;
    loop {
        if max_batches.is_some_and(|max| batches >= max) {
            break;
        }
        let moved = rewrap_batch(conn, crypto, batch)?;
        batches += 1;
        total += moved;
        let now = status(conn, crypto, total)?;
        progress(&now);
        if moved == 0 || now.remaining == 0 {
            break;
        }
    }
    let final_status = status(conn, crypto, total)?;
    if final_status.remaining == 0 {
        // Complete: development key files may forget the old versions now.
        crypto
            .keyring()
            .retain(std::slice::from_ref(&final_status.newest_key_id))?;
    }
    Ok(final_status)
}

/// A full rotation: a new master-key version where this process may create one (development
/// key file), then every key re-wrapped under the newest.
pub fn rotate(
    conn: &mut DbConnection,
    crypto: &Crypto,
    progress: impl FnMut(&RotationStatus),
) -> Result<RotationStatus, CryptoError> {
    if crypto.keyring().can_add_version() {
        let id = crypto.keyring().add_version()?;
        tracing::info!("added master key version {id}");
    }
    rewrap_all(conn, crypto, DEFAULT_BATCH, None, progress)
}

/// The additional data of an analytics day salt wrapped under a master key: binds the salt to
/// its day, so a salt copied to another day's row fails to unwrap.
pub fn salt_aad(day: chrono::NaiveDate) -> Vec<u8> {
    format!("analytics_salt|{day}").into_bytes()
}
