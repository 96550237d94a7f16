//! `GET /v1/admin/audit`, `GET /v1/admin/audit/verify` (privacy officer) and
//! `GET /v1/me/access-log` (the data subject's view of who accessed their data).

use actix_web::{get, web, HttpResponse};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::chain::VerifyReport;
use super::store::{self, EntryRow, Filter};
use super::ActorKind;
use crate::auth::{min, Auth, Role};
use crate::crypto::Crypto;
use crate::db::Db;
use crate::http::error::{ApiError, Problem};
use crate::http::extract::Query;
use crate::http::pagination::{paginate, PageQuery};

pub fn configure_admin(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(verify).service(list);
}

pub fn configure_me(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(access_log);
}

/// One audited access: who, what, whose data, which fields, why, when. Never values.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({
    "seq": 4182,
    "at": "2026-11-28T09:12:03.120458Z",
    "actor_kind": "staff",
    "actor_id": "usr_0193a7c25b7e7d1a9c1e2f6c1f7e9a30",
    "actor_role": "fulfillment",
    "action": "order.address.read",
    "subject_id": "usr_0193a7c25b7e7d1a9c1e2f6c1f7e9a10",
    "fields": ["address"],
    "purpose": "shipping the order",
    "request_id": "0193a7c2-5b7e-7d1a-9c1e-2f6c1f7e9a99"
}))]
pub struct AuditEntry {
    /// Position in the chain, from 1; higher is newer.
    #[schema(minimum = 1)]
    pub seq: i64,
    /// When the access happened (RFC 3339, UTC, microseconds).
    pub at: DateTime<Utc>,
    /// Who acted.
    pub actor_kind: ActorKind,
    /// Staff or subject `usr_…`, or API key `key_…`; `null` for the system.
    pub actor_id: Option<String>,
    /// The actor's role at the time; `null` for the system.
    pub actor_role: Option<Role>,
    /// e.g. `staff.read`, `profile.update`, `order.address.read`.
    pub action: String,
    /// Whose data (`usr_…`, or `ord_…` for a guest order); `null` when no one's.
    pub subject_id: Option<String>,
    /// Names of the personal fields read or changed.
    pub fields: Vec<String>,
    /// Why the access happened, in words (e.g. `staff administration`).
    pub purpose: String,
    /// The `X-Request-Id` of the request that caused it; `null` for scheduled work.
    pub request_id: Option<String>,
}

impl From<EntryRow> for AuditEntry {
    fn from(r: EntryRow) -> Self {
        Self {
            seq: r.seq,
            at: r.at.and_utc(),
            actor_kind: ActorKind::parse(&r.actor_kind).unwrap_or(ActorKind::System),
            actor_id: r.actor_id,
            actor_role: r.actor_role.as_deref().and_then(Role::parse),
            action: r.action,
            subject_id: r.subject_id,
            fields: r
                .fields
                .split(',')
                .filter(|f| !f.is_empty())
                .map(str::to_owned)
                .collect(),
            purpose: r.purpose,
            request_id: r.request_id,
        }
    }
}

/// One page of audit entries, newest first.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({
    "data": [{
        "seq": 4182,
        "at": "2026-11-28T09:12:03.120458Z",
        "actor_kind": "staff",
        "actor_id": "usr_0193a7c25b7e7d1a9c1e2f6c1f7e9a30",
        "actor_role": "fulfillment",
        "action": "order.address.read",
        "subject_id": "usr_0193a7c25b7e7d1a9c1e2f6c1f7e9a10",
        "fields": ["address"],
        "purpose": "shipping the order",
        "request_id": "0193a7c2-5b7e-7d1a-9c1e-2f6c1f7e9a99"
    }],
    "next_cursor": "YXVkaXQ6NDE4Mg"
}))]
pub struct AuditPage {
    /// Up to `limit` entries, newest first.
    pub data: Vec<AuditEntry>,
    /// Pass as `cursor` to get the next (older) page; `null` on the last page.
    pub next_cursor: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    /// Only entries about this data subject (`usr_…`, or `ord_…` for a guest order).
    pub subject_id: Option<String>,
    /// Only entries by this staff member (`usr_…`) or API key (`key_…`).
    pub actor_id: Option<String>,
    /// Only this action, exactly (e.g. `staff.read`).
    pub action: Option<String>,
    /// From this time (inclusive, RFC 3339).
    pub from: Option<DateTime<Utc>>,
    /// Until this time (exclusive, RFC 3339).
    pub to: Option<DateTime<Utc>>,
    /// Entries per page, 1–100 (default 20).
    #[param(minimum = 1, maximum = 100, default = 20)]
    pub limit: Option<u32>,
    /// `next_cursor` from the previous page of the same filter; omit for the first page.
    pub cursor: Option<String>,
}

async fn page(
    db: &Db,
    listing: &'static str,
    filter: Filter,
    paging: PageQuery,
) -> Result<AuditPage, ApiError> {
    let page = paging.validate(listing)?;
    let before = page
        .after
        .as_deref()
        .map(|k| k.parse::<i64>())
        .transpose()
        .map_err(|_| ApiError::validation("cursor", "is not a cursor returned by this listing"))?;
    let limit = i64::from(page.limit) + 1;
    let rows = db
        .run(move |conn| store::list(conn, &filter, before, limit).map_err(ApiError::from))
        .await?;
    let (rows, next_cursor) = paginate(rows, &page, listing, |r| r.seq.to_string());
    Ok(AuditPage {
        data: rows.into_iter().map(AuditEntry::from).collect(),
        next_cursor,
    })
}

/// The audit log.
///
/// Newest first, filterable by subject, actor, action and time. Entries carry ids, field
/// names and purposes, never personal values.
#[utoipa::path(
    operation_id = "listAuditEntries",
    tag = "audit",
    security(("bearer" = []), ("api_key" = [])),
    params(AuditQuery),
    responses(
        (status = 200, description = "One page of audit entries, newest first", body = AuditPage),
        (status = 401, description = "Not authenticated", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Privacy officers only", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid filter", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/audit")]
async fn list(
    _auth: Auth<min::PrivacyOfficer>,
    db: web::Data<Db>,
    query: Query<AuditQuery>,
) -> Result<HttpResponse, ApiError> {
    let q = query.into_inner();
    let filter = Filter {
        subject_id: q.subject_id,
        actor_id: q.actor_id,
        action: q.action,
        from: q.from.map(|t| t.naive_utc()),
        to: q.to.map(|t| t.naive_utc()),
        exclude_subject_actor: false,
    };
    let body = page(
        &db,
        "audit",
        filter,
        PageQuery {
            limit: q.limit,
            cursor: q.cursor,
        },
    )
    .await?;
    Ok(HttpResponse::Ok().json(body))
}

/// Verify the audit chain.
///
/// Recomputes every entry's MAC from the start and reports the first entry that was edited,
/// deleted or moved, or a truncated tail.
#[utoipa::path(
    operation_id = "verifyAuditChain",
    tag = "audit",
    security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "The verification result (`intact` false names the first broken entry)", body = VerifyReport),
        (status = 401, description = "Not authenticated", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Privacy officers only", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/audit/verify")]
async fn verify(
    _auth: Auth<min::PrivacyOfficer>,
    db: web::Data<Db>,
    crypto: web::Data<Crypto>,
) -> Result<HttpResponse, ApiError> {
    let crypto = crypto.into_inner();
    let report = db
        .run(move |conn| store::verify(conn, &crypto).map_err(ApiError::from))
        .await?;
    Ok(HttpResponse::Ok().json(report))
}

/// Who accessed my personal data.
///
/// Every read or change of your personal data by staff, integrators or the system: who (role
/// and id), what, which fields, why and when.
#[utoipa::path(
    operation_id = "listMyAccessLog",
    tag = "me",
    security(("bearer" = [])),
    params(PageQuery),
    responses(
        (status = 200, description = "One page of staff accesses to my data, newest first", body = AuditPage),
        (status = 401, description = "Not authenticated", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "An API key cannot act as a person", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid `limit` or `cursor`", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/me/access-log")]
async fn access_log(
    auth: Auth<min::Customer>,
    db: web::Data<Db>,
    query: Query<PageQuery>,
) -> Result<HttpResponse, ApiError> {
    let filter = Filter {
        subject_id: Some(auth.user_id()?.to_owned()),
        exclude_subject_actor: true,
        ..Filter::default()
    };
    let body = page(&db, "access-log", filter, query.into_inner()).await?;
    Ok(HttpResponse::Ok().json(body))
}
