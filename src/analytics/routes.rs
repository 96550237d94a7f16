//! `POST /v1/analytics/events` (anyone) and `GET /v1/admin/analytics/{report}` (manager+).

use crate::http::limits::{Policy, Quota, Rule};
use actix_web::http::header::HeaderMap;
use actix_web::http::Method;
use actix_web::{get, post, web, FromRequest, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::ingest::Ingest;
use super::limiter::{self, KEY_LEN};
use super::model::EventBatch;
use super::report::{AnalyticsReport, Period, ReportKind};
use super::{queries, Settings};
use crate::auth::{min, Auth};
use crate::crypto::{index_kind, Crypto};
use crate::db::Db;
use crate::http::error::{ApiError, Problem};
use crate::http::extract::{Json, Query};

/// Per client address, `VALISE_ANALYTICS_BATCHES_PER_MINUTE` in memory (see `limiter`).
pub const ANALYTICS: Policy = Policy {
    name: "analytics",
    client: None,
    global: Quota::per_minute(600_000),
};

/// The anonymous writes of this file and their limits (enforced and documented by `http::limits`).
pub const LIMITS: &[Rule] = &[(Method::POST, "/v1/analytics/events", &ANALYTICS)];

pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(record_events);
}

pub fn configure_admin(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(report);
}

/// The batch was accepted; it is stored within moments.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"accepted": 3}))]
#[schema(as = AnalyticsBatchAccepted)]
pub struct Accepted {
    /// Events accepted: all those of the batch.
    #[schema(minimum = 1, maximum = 100, example = 3)]
    pub accepted: usize,
}

/// Whether the browser asked not to be tracked (Global Privacy Control or Do Not Track).
fn opted_out(headers: &HeaderMap) -> bool {
    ["sec-gpc", "dnt"].iter().any(|name| {
        headers
            .get(*name)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.trim() == "1")
    })
}

/// The rate-limit bucket of the caller's address: a blind index, never the address.
fn client_bucket(crypto: &Crypto, req: &HttpRequest) -> limiter::Key {
    let ip = crate::http::client_ip::of(req)
        .map(|ip| ip.to_string())
        .unwrap_or_default();
    let mac = crypto.blind_index(index_kind::CLIENT_ADDRESS, &ip);
    let mut key = [0; KEY_LEN];
    for (k, m) in key.iter_mut().zip(mac.iter()) {
        *k = *m;
    }
    key
}

/// Record anonymous browsing events.
///
/// A batch of up to 100 `page_view`, `product_view` and `page_leave` events from one browsing
/// session. Stored per event: its type, the path with its query string and fragment dropped
/// and ids templated (`/orders/{number}`), the product id, the dwell time (capped at an hour),
/// the UTC day, and a visitor hash: HMAC-SHA256 of the session string under a random salt
/// that exists for that day only (plus 30 minutes, so a visit crossing midnight stays one) and
/// is then destroyed. No IP address, user agent, account, cookie or free text is stored.
/// With `Sec-GPC: 1` or `DNT: 1` the batch is discarded unread (204). Limited per client
/// address, per instance (`X-RateLimit-*`; 429 with `Retry-After`). Accepted batches are
/// stored within moments (202); when too many events wait to be stored, 503 with
/// `Retry-After`. No authentication.
#[utoipa::path(
    operation_id = "recordAnalyticsEvents",
    tag = "analytics",
    request_body = EventBatch,
    params(
        ("Sec-GPC" = Option<String>, Header, description = "`1`: Global Privacy Control — the batch is discarded (204); any other value is ignored", example = "1"),
        ("DNT" = Option<String>, Header, description = "`1`: Do Not Track — the batch is discarded (204); any other value is ignored", example = "1"),
    ),
    responses(
        (status = 202, description = "Accepted: stored within moments", body = Accepted,
            headers(("X-RateLimit-Limit" = u32, description = "Batches this address may send per minute"), ("X-RateLimit-Remaining" = u32, description = "Batches it may still send in this minute"), ("X-RateLimit-Reset" = u64, description = "Seconds until the allowance is whole again"))),
        (status = 204, description = "The browser opted out (`Sec-GPC: 1` or `DNT: 1`): nothing read or stored"),
        (status = 422, description = "An invalid or unknown field (`events[3].path`), an empty batch or one over 100 events, or a session string that is not 8–128 printable characters", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many batches from this address; retry after `Retry-After` seconds", body = Problem, content_type = "application/problem+json",
            headers(("Retry-After" = u64, description = "Seconds to wait before sending again"), ("X-RateLimit-Limit" = u32, description = "Batches this address may send per minute"), ("X-RateLimit-Remaining" = u32, description = "Batches it may still send in this minute"), ("X-RateLimit-Reset" = u64, description = "Seconds until the allowance is whole again"))),
        (status = 503, description = "Too many events are waiting to be stored (the database is slow or down); the batch was not accepted: retry after `Retry-After` seconds", body = Problem, content_type = "application/problem+json",
            headers(("Retry-After" = u64, description = "Seconds to wait before sending again"))),
    )
)]
#[post("/analytics/events")]
async fn record_events(
    req: HttpRequest,
    payload: web::Payload,
    db: web::Data<Db>,
    crypto: web::Data<Crypto>,
    ingest: web::Data<Ingest>,
) -> Result<HttpResponse, ApiError> {
    if opted_out(req.headers()) {
        return Ok(HttpResponse::NoContent().finish());
    }
    let batch = Json::<EventBatch>::from_request(&req, &mut payload.into_inner())
        .await?
        .into_inner()
        .parse()?;
    let now = crate::db::now();
    let state = ingest
        .limit(client_bucket(&crypto, &req), now)
        .map_err(ApiError::RateLimited)?;
    let accepted = ingest.accept(&db, &crypto.into_inner(), batch, now).await?;
    let mut response = HttpResponse::Accepted().json(Accepted { accepted });
    state.apply(response.headers_mut());
    Ok(response)
}

/// The period of a report.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ReportQuery {
    /// First day, `YYYY-MM-DD` (UTC); default 29 days before `to`. Not after `to`.
    #[param(format = Date, pattern = "^[0-9]{4}-[0-9]{2}-[0-9]{2}$", example = "2026-10-27")]
    pub from: Option<String>,
    /// Last day, included, `YYYY-MM-DD` (UTC); default today. The period covers at most 366
    /// days, both ends included.
    #[param(format = Date, pattern = "^[0-9]{4}-[0-9]{2}-[0-9]{2}$", example = "2026-11-25")]
    pub to: Option<String>,
}

/// An analytics report.
///
/// From the daily aggregates of anonymous events, over `from`..`to` (default: the last 30
/// days; at most 366): `trending-products` (most viewed products), `size-classes` and
/// `styles` (how product views divide among them), `paths` (top pages and page-to-page
/// transitions), `stay-duration` (average and median time on each page). Visitors are
/// counted per day, since visitor hashes cannot be linked across days. A group (a product, a
/// page, a transition, a size class…) is shown only if at least `min_visitors` (k) distinct
/// visitors were in it on one day of the period; `suppressed_groups` says how many were
/// hidden, and shares are among the groups shown. Managers and above.
#[utoipa::path(
    operation_id = "getAnalyticsReport",
    tag = "analytics",
    security(("bearer" = []), ("api_key" = [])),
    params(
        ("report" = ReportKind, Path, description = "Which report: `trending-products`, `size-classes`, `styles`, `paths` or `stay-duration`"),
        ReportQuery,
    ),
    responses(
        (status = 200, description = "The report", body = AnalyticsReport),
        (status = 401, description = "Not authenticated", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Managers and above", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such report", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`from` or `to` is not a `YYYY-MM-DD` date, `from` is after `to`, the period is over 366 days, or an unknown parameter", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/analytics/{report}")]
async fn report(
    _auth: Auth<min::Manager>,
    db: web::Data<Db>,
    settings: web::Data<Settings>,
    kind: web::Path<ReportKind>,
    query: Query<ReportQuery>,
) -> Result<HttpResponse, ApiError> {
    let query = query.into_inner();
    let period = Period::parse(
        query.from.as_deref(),
        query.to.as_deref(),
        crate::db::now().date(),
    )?;
    let (kind, k) = (kind.into_inner(), settings.min_visitors);
    let report: AnalyticsReport = db
        .run(move |conn| queries::report(conn, kind, period, k).map_err(ApiError::from))
        .await?;
    Ok(HttpResponse::Ok().json(report))
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::http::header::{HeaderName, HeaderValue};

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(
                HeaderName::from_static(name),
                HeaderValue::from_static(value),
            );
        }
        map
    }

    #[test]
    fn gpc_or_dnt_set_to_one_opts_out() {
        assert!(opted_out(&headers(&[("sec-gpc", "1")])));
        assert!(opted_out(&headers(&[("dnt", " 1 ")])));
        assert!(!opted_out(&headers(&[("dnt", "0")])));
        assert!(!opted_out(&headers(&[])));
    }
}
