//! Wrapped keys in the database: one data key per subject, and the system secrets.

use diesel::prelude::*;
use ring::rand::{SecureRandom, SystemRandom};

use super::keyring::{KeyringHandle, KEY_LEN};
use super::{CryptoError, DataKey};
use crate::db::schema::{data_keys, system_keys};
use crate::db::DbConnection;

/// A `data_keys` row as read: the id of the master key that wrapped it and the wrapped key
/// (`None` once destroyed).
pub type WrappedKey = (String, Option<Vec<u8>>);

/// Every column holding a blind index, as `(table, subject column, index column)`.
/// Shredding a subject nulls their value in each.
pub const BLIND_INDEX_COLUMNS: &[(&str, &str, &str)] = &[
    ("users", "id", "email_bidx"),
    ("orders", "id", "contact_email_bidx"),
    // A discount code's use: `user:<id>` or a guest's e-mail blind index, per order.
    ("discount_redemptions", "order_id", "customer"),
];

pub(super) fn random_key() -> Result<[u8; KEY_LEN], CryptoError> {
    let mut bytes = [0u8; KEY_LEN];
    SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| CryptoError::Random)?;
    Ok(bytes)
}

pub(super) fn dek_aad(subject_id: &str) -> Vec<u8> {
    format!("dek|{subject_id}").into_bytes()
}

pub(super) fn system_aad(name: &str) -> Vec<u8> {
    format!("system|{name}").into_bytes()
}

/// Unwraps with the named master key; when a file-based keyring lacks it (another process
/// added a version), re-reads the file once.
pub(super) fn unwrap_with_reload(
    keyring: &KeyringHandle,
    kek_id: &str,
    aad: &[u8],
    wrapped: &[u8],
) -> Result<[u8; KEY_LEN], CryptoError> {
    match keyring.get().unwrap_key(kek_id, aad, wrapped) {
        Err(CryptoError::UnknownMasterKey(_)) if keyring.reload()? => {
            keyring.get().unwrap_key(kek_id, aad, wrapped)
        }
        other => other,
    }
}

pub(super) fn create_data_key(
    conn: &mut DbConnection,
    keyring: &KeyringHandle,
    subject_id: &str,
) -> Result<DataKey, CryptoError> {
    let bytes = random_key()?;
    let (kek_id, wrapped) = keyring.get().wrap(&dek_aad(subject_id), &bytes)?;
    diesel::insert_into(data_keys::table)
        .values((
            data_keys::subject_id.eq(subject_id),
            data_keys::kek_id.eq(&kek_id),
            data_keys::wrapped.eq(Some(&wrapped)),
            data_keys::created_at.eq(crate::db::now()),
        ))
        .execute(conn)?;
    DataKey::from_bytes(subject_id, &bytes)
}

/// Creates the data key of `subject_id` unless it exists (live or destroyed), in one
/// statement that concurrent transactions may all run: one row wins, the others do nothing.
pub(super) fn create_data_key_if_absent(
    conn: &mut DbConnection,
    keyring: &KeyringHandle,
    subject_id: &str,
) -> Result<(), CryptoError> {
    use diesel::sql_types::{Binary, Text, Timestamp};
    let bytes = random_key()?;
    let (kek_id, wrapped) = keyring.get().wrap(&dek_aad(subject_id), &bytes)?;
    let sql = format!(
        "INSERT INTO data_keys (subject_id, kek_id, wrapped, created_at) VALUES {} \
         ON CONFLICT (subject_id) DO NOTHING",
        crate::db::values_list(conn, "(?, ?, ?, ?)", 1)
    );
    diesel::sql_query(sql)
        .bind::<Text, _>(subject_id)
        .bind::<Text, _>(&kek_id)
        .bind::<Binary, _>(&wrapped)
        .bind::<Timestamp, _>(crate::db::now())
        .execute(conn)?;
    Ok(())
}

pub(super) fn load_data_key(
    conn: &mut DbConnection,
    keyring: &KeyringHandle,
    subject_id: &str,
) -> Result<DataKey, CryptoError> {
    let row: Option<(String, Option<Vec<u8>>)> = data_keys::table
        .find(subject_id)
        .select((data_keys::kek_id, data_keys::wrapped))
        .first(conn)
        .optional()?;
    open_data_key(keyring, subject_id, row)
}

/// The data key of `subject_id` from its `data_keys` row (`kek_id`, `wrapped`), read by the
/// caller; no row, or a destroyed one, is [`CryptoError::Shredded`].
pub(super) fn open_data_key(
    keyring: &KeyringHandle,
    subject_id: &str,
    row: Option<WrappedKey>,
) -> Result<DataKey, CryptoError> {
    match row {
        Some((kek_id, Some(wrapped))) => {
            let bytes = unwrap_with_reload(keyring, &kek_id, &dek_aad(subject_id), &wrapped)?;
            DataKey::from_bytes(subject_id, &bytes)
        }
        _ => Err(CryptoError::Shredded),
    }
}

/// The live data keys of many subjects; shredded or unknown subjects are absent.
pub(super) fn load_data_keys(
    conn: &mut DbConnection,
    keyring: &KeyringHandle,
    subject_ids: &[String],
) -> Result<std::collections::HashMap<String, DataKey>, CryptoError> {
    let mut keys = std::collections::HashMap::with_capacity(subject_ids.len());
    for chunk in subject_ids.chunks(500) {
        let rows: Vec<(String, String, Option<Vec<u8>>)> = data_keys::table
            .filter(data_keys::subject_id.eq_any(chunk))
            .select((data_keys::subject_id, data_keys::kek_id, data_keys::wrapped))
            .load(conn)?;
        for (subject, kek_id, wrapped) in rows {
            let Some(wrapped) = wrapped else { continue };
            let bytes = unwrap_with_reload(keyring, &kek_id, &dek_aad(&subject), &wrapped)?;
            let key = DataKey::from_bytes(&subject, &bytes)?;
            keys.insert(subject, key);
        }
    }
    Ok(keys)
}

pub(super) fn shred(conn: &mut DbConnection, subject_id: &str) -> Result<(), CryptoError> {
    shred_many(conn, &[subject_id.to_owned()])
}

/// Destroys many subjects' data keys and blind indexes in a few statements.
pub(super) fn shred_many(
    conn: &mut DbConnection,
    subject_ids: &[String],
) -> Result<(), CryptoError> {
    crate::db::write_transaction(conn, |conn| {
        diesel::update(data_keys::table.filter(data_keys::subject_id.eq_any(subject_ids)))
            .set((
                data_keys::wrapped.eq(None::<Vec<u8>>),
                data_keys::shredded_at.eq(Some(crate::db::now())),
            ))
            .execute(conn)?;
        for (table, subject_column, index_column) in BLIND_INDEX_COLUMNS {
            let mut sql =
                format!("UPDATE {table} SET {index_column} = NULL WHERE {subject_column} IN (");
            for i in 0..subject_ids.len() {
                if i > 0 {
                    sql.push_str(", ");
                }
                sql.push_str(&format!("${}", i + 1));
            }
            sql.push(')');
            let mut query = diesel::sql_query(sql).into_boxed();
            for id in subject_ids {
                query = query.bind::<diesel::sql_types::Text, _>(id.clone());
            }
            query.execute(conn)?;
        }
        crate::db::note_destroyed();
        Ok(())
    })
}

/// The master key that wraps the system secret `name`, if the secret exists yet.
pub(super) fn system_secret_key_id(
    conn: &mut DbConnection,
    name: &str,
) -> QueryResult<Option<String>> {
    system_keys::table
        .find(name)
        .select(system_keys::kek_id)
        .first(conn)
        .optional()
}

/// Loads a wrapped system secret, or creates it. Safe when processes start together: the
/// loser of the insert race reads the winner's secret.
pub(super) fn load_or_create_system_secret(
    conn: &mut DbConnection,
    keyring: &KeyringHandle,
    name: &str,
) -> Result<[u8; KEY_LEN], CryptoError> {
    let load = |conn: &mut DbConnection| -> Result<Option<[u8; KEY_LEN]>, CryptoError> {
        let row: Option<(String, Vec<u8>)> = system_keys::table
            .find(name)
            .select((system_keys::kek_id, system_keys::wrapped))
            .first(conn)
            .optional()?;
        row.map(|(kek_id, wrapped)| {
            unwrap_with_reload(keyring, &kek_id, &system_aad(name), &wrapped)
        })
        .transpose()
    };
    if let Some(secret) = load(conn)? {
        return Ok(secret);
    }
    let secret = random_key()?;
    let (kek_id, wrapped) = keyring.get().wrap(&system_aad(name), &secret)?;
    let inserted = diesel::insert_into(system_keys::table)
        .values((
            system_keys::name.eq(name),
            system_keys::kek_id.eq(&kek_id),
            system_keys::wrapped.eq(&wrapped),
            system_keys::created_at.eq(crate::db::now()),
        ))
        .execute(conn);
    match inserted {
        Ok(_) => Ok(secret),
        Err(diesel::result::Error::DatabaseError(
            diesel::result::DatabaseErrorKind::UniqueViolation,
            _,
        )) => load(conn)?.ok_or(CryptoError::Integrity),
        Err(e) => Err(e.into()),
    }
}
