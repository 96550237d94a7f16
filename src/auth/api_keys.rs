//! `/v1/admin/api-keys`: integrators' server-to-server keys. The secret is shown once, at
//! creation; only its hash is kept.

use actix_web::{delete, get, post, web, HttpResponse};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::store::{self, ApiKeyRow};
use super::{min, Auth, Role};
use crate::db::Db;
use crate::http::error::{ApiError, Problem};
use crate::http::extract::{Json, Query};
use crate::http::pagination::{paginate, PageQuery};

const LISTING: &str = "api-keys";

pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(list).service(create).service(revoke);
}

/// A new integrator key.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"name": "warehouse sync", "role": "fulfillment"}))]
pub struct NewApiKey {
    /// What the key is for: 1–100 characters once trimmed, nothing sensitive.
    #[schema(min_length = 1, max_length = 100)]
    pub name: String,
    /// The role the key acts with; one you hold yourself.
    pub role: Role,
}

/// An integrator key, without its secret.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({
    "id": "key_0193a7c25b7e7d1a9c1e2f6c1f7e9a40",
    "name": "warehouse sync",
    "role": "fulfillment",
    "created_by": "usr_0193a7c25b7e7d1a9c1e2f6c1f7e9a31",
    "created_at": "2026-11-25T15:00:00Z",
    "last_used_at": "2026-11-26T08:12:44Z",
    "revoked_at": null
}))]
pub struct ApiKeyView {
    /// The key's id, `key_` and 32 hex digits (not the secret).
    pub id: String,
    /// What the key is for.
    pub name: String,
    /// The role the key acts with.
    pub role: Role,
    /// The admin who created it (`usr_…`).
    pub created_by: String,
    /// When it was created (RFC 3339, UTC).
    pub created_at: DateTime<Utc>,
    /// When it last authenticated a request (RFC 3339, UTC); `null` if never used.
    pub last_used_at: Option<DateTime<Utc>>,
    /// When it was revoked (RFC 3339, UTC); `null` while it works.
    pub revoked_at: Option<DateTime<Utc>>,
}

impl From<ApiKeyRow> for ApiKeyView {
    fn from(r: ApiKeyRow) -> Self {
        Self {
            role: Role::parse(&r.role).unwrap_or(Role::Customer),
            id: r.id,
            name: r.name,
            created_by: r.created_by,
            created_at: r.created_at.and_utc(),
            last_used_at: r.last_used_at.map(|t| t.and_utc()),
            revoked_at: r.revoked_at.map(|t| t.and_utc()),
        }
    }
}

/// A new key with its secret, shown this once.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({
    "id": "key_0193a7c25b7e7d1a9c1e2f6c1f7e9a40",
    "name": "warehouse sync",
    "role": "fulfillment",
    "created_by": "usr_0193a7c25b7e7d1a9c1e2f6c1f7e9a31",
    "created_at": "2026-11-25T15:00:00Z",
    "last_used_at": null,
    "revoked_at": null,
    "secret": "vk_q4Xo2Lr9TzN1bV7cK3mW8yF5hJ0dS6gP2uE4aR9iQ1w"
}))]
pub struct CreatedApiKey {
    #[serde(flatten)]
    pub key: ApiKeyView,
    /// The secret (`vk_…`): send it as `X-Api-Key`. It cannot be shown again.
    pub secret: String,
}

/// One page of API keys, oldest first.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({
    "data": [{
        "id": "key_0193a7c25b7e7d1a9c1e2f6c1f7e9a40",
        "name": "warehouse sync",
        "role": "fulfillment",
        "created_by": "usr_0193a7c25b7e7d1a9c1e2f6c1f7e9a31",
        "created_at": "2026-11-25T15:00:00Z",
        "last_used_at": "2026-11-26T08:12:44Z",
        "revoked_at": null
    }],
    "next_cursor": null
}))]
pub struct ApiKeyList {
    /// Up to `limit` keys, revoked ones included.
    pub data: Vec<ApiKeyView>,
    /// Pass as `cursor` to get the next page; `null` on the last page.
    pub next_cursor: Option<String>,
}

/// List API keys.
///
/// Names, roles and last use of every key; secrets are never shown again.
#[utoipa::path(
    operation_id = "listApiKeys",
    tag = "api-keys",
    security(("bearer" = []), ("api_key" = [])),
    params(PageQuery),
    responses(
        (status = 200, description = "One page of API keys (never their secrets)", body = ApiKeyList),
        (status = 401, description = "Not authenticated", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Admins signed in with a session only", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid `limit` or `cursor`", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/api-keys")]
async fn list(
    auth: Auth<min::Admin>,
    db: web::Data<Db>,
    query: Query<PageQuery>,
) -> Result<HttpResponse, ApiError> {
    auth.person()?;
    let page = query.into_inner().validate(LISTING)?;
    let after = page.after.clone();
    let rows = db
        .run(move |conn| {
            store::list_api_keys(conn, after.as_deref(), i64::from(page.limit) + 1)
                .map_err(ApiError::from)
        })
        .await?;
    let (rows, next_cursor) = paginate(rows, &page, LISTING, |r| r.id.clone());
    Ok(HttpResponse::Ok().json(ApiKeyList {
        data: rows.into_iter().map(ApiKeyView::from).collect(),
        next_cursor,
    }))
}

/// Create an API key.
///
/// The key acts with the given role, which must be one you hold, and only while you are
/// active and still hold it: disabling or demoting you revokes it. The secret is in this
/// response only. Only a person signed in with a session manages keys; a key cannot.
#[utoipa::path(
    operation_id = "createApiKey",
    tag = "api-keys",
    security(("bearer" = []), ("api_key" = [])),
    request_body = NewApiKey,
    responses(
        (status = 201, description = "The key, with its secret shown this once", body = CreatedApiKey),
        (status = 401, description = "Not authenticated", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Admins signed in with a session only, and only roles they hold", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid or unknown field", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/api-keys")]
async fn create(
    auth: Auth<min::Admin>,
    db: web::Data<Db>,
    body: Json<NewApiKey>,
) -> Result<HttpResponse, ApiError> {
    let created_by = auth.person()?.to_owned();
    let body = body.into_inner();
    let name = body.name.trim().to_owned();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(ApiError::validation("name", "must be 1 to 100 characters"));
    }
    crate::privacy::refuse_sensitive("name", &name)?;
    if !auth.principal.role.includes(body.role) {
        return Err(ApiError::Forbidden(
            "You cannot grant a role you do not hold.",
        ));
    }
    let role = body.role;
    let (row, secret) = db
        .run(move |conn| {
            store::create_api_key(conn, &name, role, &created_by).map_err(ApiError::from)
        })
        .await?;
    Ok(
        crate::http::created(&format!("/v1/admin/api-keys/{}", row.id)).json(CreatedApiKey {
            key: ApiKeyView::from(row),
            secret,
        }),
    )
}

/// Revoke an API key.
///
/// Takes effect at once: the next request with this key is refused with 401.
#[utoipa::path(
    operation_id = "revokeApiKey",
    tag = "api-keys",
    security(("bearer" = []), ("api_key" = [])),
    params(("id" = String, Path, description = "`key_…` id")),
    responses(
        (status = 204, description = "Revoked (or already revoked)"),
        (status = 401, description = "Not authenticated", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Admins signed in with a session only", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such key", body = Problem, content_type = "application/problem+json"),
    )
)]
#[delete("/api-keys/{id}")]
async fn revoke(
    auth: Auth<min::Admin>,
    db: web::Data<Db>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    auth.person()?;
    let id = id.into_inner();
    db.run(move |conn| {
        store::get_api_key(conn, &id)?.ok_or(ApiError::NotFound)?;
        store::revoke_api_key(conn, &id)?;
        Ok::<_, ApiError>(())
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}
