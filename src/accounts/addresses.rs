//! Saved shipping addresses: `GET/POST /v1/me/addresses`, `PATCH/DELETE
//! /v1/me/addresses/{id}`, and the saving, correcting and listing behind them. Each address is
//! sealed whole with its owner's data key, so the owner's erasure makes every saved address
//! unreadable at once.

use actix_web::{delete, get, patch, post, web, HttpRequest, HttpResponse};
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::audit::{self, Actor, Event};
use crate::auth::{min, Auth};
use crate::crypto::{Column, Crypto};
use crate::db::schema::addresses;
use crate::db::{Db, DbConnection};
use crate::http::cache;
use crate::http::error::{ApiError, Problem};
use crate::http::extract::Json;
use crate::orders::model::Address;
use crate::privacy::requests::{model::Kind, store::record_self_service};

pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(list)
        .service(create)
        .service(update)
        .service(remove);
}

pub const TABLE: &str = "addresses";
/// A saved address, sealed as one JSON value.
pub const ADDRESS: Column = Column::new(TABLE, "address_sealed");
/// Saved addresses per customer.
pub const MAX_ADDRESSES: i64 = 20;

#[derive(Debug, Queryable, Selectable)]
#[diesel(table_name = addresses)]
pub struct AddressRow {
    pub id: String,
    pub user_id: String,
    pub address_sealed: Vec<u8>,
    pub version: i32,
    pub created_at: chrono::NaiveDateTime,
    pub updated_at: chrono::NaiveDateTime,
}

/// A saved address.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({
    "id": "adr_0193a7c25b7e7d1a9c1e2f6c1f7e9a20",
    "address": {
        "name": "Ada Lovelace", "line1": "12 Rue de Rivoli", "line2": null, "city": "Paris",
        "postal_code": "75001", "region": null, "country": "FR"
    },
    "created_at": "2026-11-25T15:00:00Z",
    "updated_at": "2026-11-25T15:00:00Z"
}))]
pub struct SavedAddress {
    /// The address's id, `adr_` and 32 hex digits.
    pub id: String,
    /// The address itself, as validated (trimmed, country upper-cased).
    pub address: Address,
    /// When it was saved (RFC 3339, UTC).
    pub created_at: DateTime<Utc>,
    /// When it was last corrected (RFC 3339, UTC).
    pub updated_at: DateTime<Utc>,
}

/// Every saved address of the caller (at most 20), oldest first.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({
    "data": [{
        "id": "adr_0193a7c25b7e7d1a9c1e2f6c1f7e9a20",
        "address": {
            "name": "Ada Lovelace", "line1": "12 Rue de Rivoli", "line2": null, "city": "Paris",
            "postal_code": "75001", "region": null, "country": "FR"
        },
        "created_at": "2026-11-25T15:00:00Z",
        "updated_at": "2026-11-25T15:00:00Z"
    }]
}))]
pub struct SavedAddresses {
    /// The saved addresses, oldest first; empty when none is saved.
    #[schema(max_items = 20)]
    pub data: Vec<SavedAddress>,
}

/// A correction; absent fields stay as they are, `null` removes an optional line. The result
/// is validated like a new address.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"line1": "14 Rue de Rivoli", "line2": null}))]
pub struct AddressPatch {
    /// The recipient's name: 1–100 characters once trimmed, nothing sensitive.
    #[schema(min_length = 1, max_length = 100)]
    pub name: Option<String>,
    /// Street and number: 1–200 characters once trimmed.
    #[schema(min_length = 1, max_length = 200)]
    pub line1: Option<String>,
    /// Building, floor, etc.: 1–200 characters once trimmed; `null` removes it.
    #[serde(default, deserialize_with = "crate::http::extract::explicit_null")]
    #[schema(value_type = Option<String>, min_length = 1, max_length = 200)]
    pub line2: Option<Option<String>>,
    /// 1–100 characters once trimmed.
    #[schema(min_length = 1, max_length = 100)]
    pub city: Option<String>,
    /// 1–12 letters, digits, spaces or dashes once trimmed.
    #[schema(pattern = r"^\s*[A-Za-z0-9-](?:[A-Za-z0-9 -]{0,10}[A-Za-z0-9-])?\s*$")]
    pub postal_code: Option<String>,
    /// State, province or county: 1–100 characters once trimmed; `null` removes it.
    #[serde(default, deserialize_with = "crate::http::extract::explicit_null")]
    #[schema(value_type = Option<String>, min_length = 1, max_length = 100)]
    pub region: Option<Option<String>>,
    /// ISO 3166-1 alpha-2 code, e.g. `FR` (upper-cased when stored).
    #[schema(pattern = r"^\s*[A-Za-z]{2}\s*$")]
    pub country: Option<String>,
}

impl AddressPatch {
    fn apply(self, mut a: Address) -> Address {
        a.name = self.name.unwrap_or(a.name);
        a.line1 = self.line1.unwrap_or(a.line1);
        a.line2 = self.line2.unwrap_or(a.line2);
        a.city = self.city.unwrap_or(a.city);
        a.postal_code = self.postal_code.unwrap_or(a.postal_code);
        a.region = self.region.unwrap_or(a.region);
        a.country = self.country.unwrap_or(a.country);
        a
    }
}

fn etag(row: &AddressRow) -> String {
    format!("\"a{}\"", row.version)
}

fn seal(
    crypto: &Crypto,
    conn: &mut DbConnection,
    user: &str,
    id: &str,
    a: &Address,
) -> Result<Vec<u8>, ApiError> {
    let key = crypto.data_key(conn, user)?;
    let json = serde_json::to_vec(a).map_err(anyhow::Error::from)?;
    Ok(key.seal(&ADDRESS.at(id), &json)?)
}

fn open(
    crypto: &Crypto,
    conn: &mut DbConnection,
    row: &AddressRow,
) -> Result<SavedAddress, ApiError> {
    let key = crypto.data_key(conn, &row.user_id)?;
    let json = key.open(&ADDRESS.at(&row.id), &row.address_sealed)?;
    Ok(SavedAddress {
        id: row.id.clone(),
        address: serde_json::from_slice(&json).map_err(anyhow::Error::from)?,
        created_at: row.created_at.and_utc(),
        updated_at: row.updated_at.and_utc(),
    })
}

/// Every saved address of a customer, opened, oldest first.
pub fn list_open(
    conn: &mut DbConnection,
    crypto: &Crypto,
    user: &str,
) -> Result<Vec<SavedAddress>, ApiError> {
    addresses::table
        .filter(addresses::user_id.eq(user))
        .order(addresses::id.asc())
        .select(AddressRow::as_select())
        .load(conn)?
        .iter()
        .map(|r| open(crypto, conn, r))
        .collect()
}

fn owned(conn: &mut DbConnection, user: &str, id: &str) -> Result<AddressRow, ApiError> {
    addresses::table
        .find(id)
        .filter(addresses::user_id.eq(user))
        .select(AddressRow::as_select())
        .first(conn)
        .optional()?
        .ok_or(ApiError::NotFound)
}

fn audited(
    conn: &mut DbConnection,
    crypto: &Crypto,
    actor: &Actor,
    user: &str,
    action: crate::audit::Action,
) -> QueryResult<()> {
    audit::record(
        conn,
        crypto,
        actor,
        &Event {
            action,
            subject_id: Some(user),
            fields: &["address"],
            purpose: crate::audit::Purpose::SavedAddresses,
        },
    )
    .map(|_| ())
}

/// Saves a new address of `user`, sealed, with its audit entry (one transaction); refused
/// once [`MAX_ADDRESSES`] are saved. Returns it opened, with its ETag.
pub fn save(
    conn: &mut DbConnection,
    crypto: &Crypto,
    actor: &Actor,
    user: &str,
    address: &Address,
) -> Result<(SavedAddress, String), ApiError> {
    crate::db::write_transaction(conn, |conn| {
        let count: i64 = addresses::table
            .filter(addresses::user_id.eq(user))
            .count()
            .get_result(conn)?;
        if count >= MAX_ADDRESSES {
            return Err(ApiError::conflict(format!(
                "At most {MAX_ADDRESSES} addresses can be saved; delete one first."
            )));
        }
        let id = crate::ids::new_id("adr");
        let now = crate::db::now();
        let row = AddressRow {
            address_sealed: seal(crypto, conn, user, &id, address)?,
            id,
            user_id: user.to_owned(),
            version: 1,
            created_at: now,
            updated_at: now,
        };
        diesel::insert_into(addresses::table)
            .values((
                addresses::id.eq(&row.id),
                addresses::user_id.eq(&row.user_id),
                addresses::address_sealed.eq(&row.address_sealed),
                addresses::version.eq(row.version),
                addresses::created_at.eq(row.created_at),
                addresses::updated_at.eq(row.updated_at),
            ))
            .execute(conn)?;
        audited(
            conn,
            crypto,
            actor,
            user,
            crate::audit::Action::AddressCreate,
        )?;
        Ok((open(crypto, conn, &row)?, etag(&row)))
    })
}

/// Corrects one of `user`'s addresses when `if_match` (the raw `If-Match` header) names its
/// current version: the result is validated like a new address, audited and tracked as a
/// rectification request, in one transaction. Returns it opened, with its new ETag.
pub fn correct(
    conn: &mut DbConnection,
    crypto: &Crypto,
    actor: &Actor,
    user: &str,
    id: &str,
    if_match: Option<&str>,
    patch: AddressPatch,
) -> Result<(SavedAddress, String), ApiError> {
    crate::db::write_transaction(conn, |conn| {
        let row = owned(conn, user, id)?;
        if !cache::if_match_allows(if_match, &etag(&row)) {
            return Err(ApiError::PreconditionFailed);
        }
        let current = open(crypto, conn, &row)?.address;
        let next = patch.apply(current).validate("$")?;
        let sealed = seal(crypto, conn, user, &row.id, &next)?;
        let now = crate::db::now();
        let n = diesel::update(
            addresses::table
                .find(&row.id)
                .filter(addresses::version.eq(row.version)),
        )
        .set((
            addresses::address_sealed.eq(&sealed),
            addresses::version.eq(row.version + 1),
            addresses::updated_at.eq(now),
        ))
        .execute(conn)?;
        if n != 1 {
            return Err(ApiError::PreconditionFailed);
        }
        audited(
            conn,
            crypto,
            actor,
            user,
            crate::audit::Action::AddressUpdate,
        )?;
        record_self_service(conn, user, Kind::Rectification)?;
        let row = owned(conn, user, &row.id)?;
        Ok((open(crypto, conn, &row)?, etag(&row)))
    })
}

/// My saved addresses.
///
/// Decrypted for their owner only, oldest first.
#[utoipa::path(
    operation_id = "listMyAddresses",
    tag = "me",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "My saved addresses", body = SavedAddresses),
        (status = 401, description = "Not authenticated", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "An API key cannot act as a person", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/me/addresses")]
async fn list(
    auth: Auth<min::Customer>,
    db: web::Data<Db>,
    crypto: web::Data<Crypto>,
) -> Result<HttpResponse, ApiError> {
    let user = auth.user_id()?.to_owned();
    let crypto = crypto.into_inner();
    let data = db.run(move |conn| list_open(conn, &crypto, &user)).await?;
    Ok(HttpResponse::Ok().json(SavedAddresses { data }))
}

/// Save an address.
///
/// Validated like a checkout address (sensitive data refused) and sealed with my data key.
/// At most 20 per customer.
#[utoipa::path(
    operation_id = "createMyAddress",
    tag = "me",
    security(("bearer" = [])),
    request_body = Address,
    responses(
        (status = 201, description = "Saved", body = SavedAddress,
            headers(("ETag" = String, description = "Version of the address"))),
        (status = 401, description = "Not authenticated", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "An API key cannot act as a person", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Already 20 saved addresses", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid, unknown or sensitive field", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/me/addresses")]
async fn create(
    auth: Auth<min::Customer>,
    db: web::Data<Db>,
    crypto: web::Data<Crypto>,
    body: Json<Address>,
) -> Result<HttpResponse, ApiError> {
    let user = auth.user_id()?.to_owned();
    let address = body.into_inner().validate("$")?;
    let actor = Actor::from_principal(&auth.principal, Some(&user));
    let crypto = crypto.into_inner();
    let (saved, tag) = db
        .run(move |conn| save(conn, &crypto, &actor, &user, &address))
        .await?;
    let location = format!("/v1/me/addresses/{}", saved.id);
    Ok(cache::with_etag(
        crate::http::created(&location).json(saved),
        &tag,
    ))
}

/// Correct a saved address.
///
/// Send the `ETag` you read as `If-Match` (412 when it changed meanwhile). Tracked as a
/// rectification request, completed at once.
#[utoipa::path(
    operation_id = "updateMyAddress",
    tag = "me",
    security(("bearer" = [])),
    params(
        ("id" = String, Path, description = "`adr_…`"),
        ("If-Match" = Option<String>, Header, description = "ETag of the address being corrected"),
    ),
    request_body = AddressPatch,
    responses(
        (status = 200, description = "The corrected address", body = SavedAddress,
            headers(("ETag" = String, description = "New version of the address"))),
        (status = 401, description = "Not authenticated", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "An API key cannot act as a person", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such address of yours", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "The address changed since it was read", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid, unknown or sensitive field", body = Problem, content_type = "application/problem+json"),
    )
)]
#[patch("/me/addresses/{id}")]
async fn update(
    req: HttpRequest,
    auth: Auth<min::Customer>,
    db: web::Data<Db>,
    crypto: web::Data<Crypto>,
    id: web::Path<String>,
    body: Json<AddressPatch>,
) -> Result<HttpResponse, ApiError> {
    let user = auth.user_id()?.to_owned();
    let patch = body.into_inner();
    let if_match = cache::if_match_header(&req);
    let actor = Actor::from_principal(&auth.principal, Some(&user));
    let crypto = crypto.into_inner();
    let (saved, tag) = db
        .run(move |conn| {
            correct(
                conn,
                &crypto,
                &actor,
                &user,
                &id,
                if_match.as_deref(),
                patch,
            )
        })
        .await?;
    Ok(cache::with_etag(HttpResponse::Ok().json(saved), &tag))
}

/// Delete a saved address.
///
/// Orders already placed keep the address they were shipped to.
#[utoipa::path(
    operation_id = "deleteMyAddress",
    tag = "me",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "`adr_…`")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, description = "Not authenticated", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "An API key cannot act as a person", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such address of yours", body = Problem, content_type = "application/problem+json"),
    )
)]
#[delete("/me/addresses/{id}")]
async fn remove(
    auth: Auth<min::Customer>,
    db: web::Data<Db>,
    crypto: web::Data<Crypto>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let user = auth.user_id()?.to_owned();
    let actor = Actor::from_principal(&auth.principal, Some(&user));
    let crypto = crypto.into_inner();
    db.run(move |conn| {
        crate::db::write_transaction(conn, |conn| {
            let row = owned(conn, &user, &id)?;
            diesel::delete(addresses::table.find(&row.id)).execute(conn)?;
            audited(
                conn,
                &crypto,
                &actor,
                &user,
                crate::audit::Action::AddressDelete,
            )?;
            Ok::<_, ApiError>(())
        })
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}
