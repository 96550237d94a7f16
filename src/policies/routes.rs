//! `GET /v1/policies…`: the published privacy policy, its versions and digests.

use actix_web::{get, web, HttpRequest, HttpResponse};

use super::model::{PolicyDocument, PolicyList, PolicySummary};
use super::store;
use crate::db::Db;
use crate::http::cache::{self, PUBLIC_IMMUTABLE, PUBLIC_SHORT};
use crate::http::error::{ApiError, Problem};
use crate::http::extract::Query;
use crate::http::pagination::{paginate, PageQuery};

const LISTING: &str = "policies";

pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    // `current` before `{version}`: routes match in registration order.
    cfg.service(current).service(list).service(by_version);
}

/// The current privacy policy.
///
/// The version every client must show and every registration or checkout must accept. Its
/// number is also sent on every response as `X-Policy-Version`.
#[utoipa::path(
    operation_id = "getCurrentPolicy",
    tag = "policies",
    responses(
        (status = 200, description = "The current policy", body = PolicyDocument,
            headers(("ETag" = String, description = "Strong validator of the body"))),
        (status = 304, description = "Unchanged since the `If-None-Match` ETag"),
        (status = 404, description = "No policy has been published", body = Problem,
            content_type = "application/problem+json"),
    )
)]
#[get("/policies/current")]
async fn current(req: HttpRequest, db: web::Data<Db>) -> Result<HttpResponse, ApiError> {
    let policy = db
        .run(|conn| store::current(conn).map_err(ApiError::from))
        .await?
        .ok_or(ApiError::NotFound)?;
    cache::json_with_etag(&req, &PolicyDocument::from(policy), PUBLIC_SHORT)
}

/// All policy versions, newest first.
///
/// Summaries without the text; fetch a version for its full text.
#[utoipa::path(
    operation_id = "listPolicies",
    tag = "policies",
    params(PageQuery),
    responses(
        (status = 200, description = "One page of versions", body = PolicyList),
        (status = 422, description = "`limit` or `cursor` is invalid", body = Problem,
            content_type = "application/problem+json"),
    )
)]
#[get("/policies")]
async fn list(db: web::Data<Db>, query: Query<PageQuery>) -> Result<HttpResponse, ApiError> {
    let page = query.into_inner().validate(LISTING)?;
    let before = match &page.after {
        None => None,
        Some(key) => Some(key.parse::<i32>().map_err(|_| {
            ApiError::validation("cursor", "is not a cursor returned by this listing")
        })?),
    };
    let fetch = i64::from(page.limit) + 1;
    let rows = db
        .run(move |conn| store::list(conn, before, fetch).map_err(ApiError::from))
        .await?;
    let (rows, next_cursor) = paginate(rows, &page, LISTING, |p| p.version.to_string());
    let body = PolicyList {
        data: rows.into_iter().map(PolicySummary::from).collect(),
        next_cursor,
    };
    cache::json_public(&body, PUBLIC_SHORT)
}

/// One policy version with its full text.
///
/// A published version never changes, so it may be cached for a long time.
#[utoipa::path(
    operation_id = "getPolicyVersion",
    tag = "policies",
    params(("version" = i32, Path, description = "Policy version number", minimum = 1)),
    responses(
        (status = 200, description = "The policy version", body = PolicyDocument,
            headers(("ETag" = String, description = "Strong validator of the body"))),
        (status = 304, description = "Unchanged since the `If-None-Match` ETag"),
        (status = 404, description = "No such version", body = Problem,
            content_type = "application/problem+json"),
    )
)]
#[get("/policies/{version}")]
async fn by_version(
    req: HttpRequest,
    db: web::Data<Db>,
    version: web::Path<i32>,
) -> Result<HttpResponse, ApiError> {
    let version = version.into_inner();
    let policy = db
        .run(move |conn| store::get(conn, version).map_err(ApiError::from))
        .await?
        .ok_or(ApiError::NotFound)?;
    cache::json_with_etag(&req, &PolicyDocument::from(policy), PUBLIC_IMMUTABLE)
}
