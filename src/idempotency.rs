//! `Idempotency-Key` for POSTs that create something: the first response is stored (sealed
//! with the data key of what it created: it may hold personal data or a one-time secret)
//! for 24 hours; the same key with the same request replays it with
//! `Idempotent-Replayed: true`; the same key with another request is a 422.

use actix_web::http::{header, StatusCode};
use actix_web::{HttpRequest, HttpResponse};
use diesel::prelude::*;
use diesel::sql_types::{Binary, Integer, Text, Timestamp};

use crate::crypto::{Column, Crypto, CryptoError, DataKey};
use crate::db::schema::idempotency_keys;
use crate::db::{DbConnection, Statement};
use crate::http::error::ApiError;

pub const TTL_HOURS: i64 = 24;

/// A stored answer, sealed under its subject's key.
pub const RESPONSE: Column = Column::new("idempotency_keys", "response_sealed");

/// The `Idempotency-Key` header: 1–255 visible ASCII characters.
pub fn key(req: &HttpRequest, required: bool) -> Result<Option<String>, ApiError> {
    match req.headers().get("idempotency-key") {
        None if required => Err(ApiError::BadRequest(
            "This operation needs an `Idempotency-Key` header (e.g. a UUID) so a retry never \
             repeats it."
                .into(),
        )),
        None => Ok(None),
        Some(v) => {
            let v = v.to_str().unwrap_or_default();
            if v.is_empty() || v.len() > 255 || !v.bytes().all(|b| b.is_ascii_graphic()) {
                return Err(ApiError::BadRequest(
                    "`Idempotency-Key` must be 1 to 255 visible ASCII characters.".into(),
                ));
            }
            Ok(Some(v.to_owned()))
        }
    }
}

/// Fingerprint of a request: what it acts on and its canonical body.
pub fn fingerprint(target: &str, body: &impl serde::Serialize) -> Vec<u8> {
    let mut data = target.as_bytes().to_vec();
    data.push(0);
    data.extend(serde_json::to_vec(body).unwrap_or_default());
    ring::digest::digest(&ring::digest::SHA256, &data)
        .as_ref()
        .to_vec()
}

/// A stored first response.
#[derive(Debug, Clone)]
pub struct Stored {
    pub status: u16,
    pub body: Vec<u8>,
}

pub enum Lookup {
    Fresh,
    Replay(Stored),
}

fn place(scope: &str, key: &str) -> String {
    format!("{scope}|{key}")
}

/// The stored response for `(scope, key)`, if any; 422 when it was for another request.
pub fn lookup(
    conn: &mut DbConnection,
    crypto: &Crypto,
    scope: &str,
    key: &str,
    hash: &[u8],
) -> Result<Lookup, ApiError> {
    let since = crate::db::now() - chrono::Duration::hours(TTL_HOURS);
    let row: Option<(Vec<u8>, String, i32, Vec<u8>)> = idempotency_keys::table
        .find((scope, key))
        .filter(idempotency_keys::created_at.gt(since))
        .select((
            idempotency_keys::request_hash,
            idempotency_keys::subject_id,
            idempotency_keys::status_code,
            idempotency_keys::response_sealed,
        ))
        .first(conn)
        .optional()?;
    let Some((stored_hash, subject, status, sealed)) = row else {
        return Ok(Lookup::Fresh);
    };
    if stored_hash != hash {
        return Err(ApiError::IdempotencyKeyReused);
    }
    let key_for = match crypto.data_key(conn, &subject) {
        Err(CryptoError::Shredded) => return Err(ApiError::PersonalDataErased),
        other => other?,
    };
    let body = key_for.open(&RESPONSE.at(&place(scope, key)), &sealed)?;
    Ok(Lookup::Replay(Stored {
        status: u16::try_from(status).unwrap_or(200),
        body,
    }))
}

/// Stores the first response, sealed with `data_key` (the key of `subject_id`, what the request
/// created). Returns false when another request stored one first (the caller then replays
/// that one). One statement: a record older than the TTL gives way to the new request in the
/// same upsert.
#[allow(clippy::too_many_arguments)]
pub fn save(
    conn: &mut DbConnection,
    data_key: &DataKey,
    scope: &str,
    key: &str,
    hash: &[u8],
    subject_id: &str,
    status: u16,
    body: &[u8],
) -> Result<bool, ApiError> {
    let sealed = data_key.seal(&RESPONSE.at(&place(scope, key)), body)?;
    let now = crate::db::now();
    let stored = Statement::sql(
        "INSERT INTO idempotency_keys (scope, key, request_hash, subject_id, status_code, \
         response_sealed, created_at) VALUES (",
    )
    .bind::<Text, _>(scope)
    .then(", ")
    .bind::<Text, _>(key)
    .then(", ")
    .bind::<Binary, _>(hash)
    .then(", ")
    .bind::<Text, _>(subject_id)
    .then(", ")
    .bind::<Integer, _>(i32::from(status))
    .then(", ")
    .bind::<Binary, _>(&sealed)
    .then(", ")
    .bind::<Timestamp, _>(now)
    .then(
        ") ON CONFLICT (scope, key) DO UPDATE SET request_hash = excluded.request_hash, \
         subject_id = excluded.subject_id, status_code = excluded.status_code, \
         response_sealed = excluded.response_sealed, created_at = excluded.created_at \
         WHERE idempotency_keys.created_at <= ",
    )
    .bind::<Timestamp, _>(now - chrono::Duration::hours(TTL_HOURS))
    .execute(conn)?;
    Ok(stored == 1)
}

/// The stored answer as a response; `Idempotent-Replayed: true` when it replays an earlier
/// request.
pub fn replay(stored: Stored, replayed: bool) -> HttpResponse {
    let mut response =
        HttpResponse::build(StatusCode::from_u16(stored.status).unwrap_or(StatusCode::OK));
    response
        .content_type("application/json")
        .insert_header((header::CACHE_CONTROL, "no-store"));
    if replayed {
        response.insert_header(("idempotent-replayed", "true"));
    }
    response.body(stored.body)
}
