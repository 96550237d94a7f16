//! `GET /metrics`: Prometheus text, for a scraper or an admin.

use actix_web::http::header;
use actix_web::{get, web, HttpRequest, HttpResponse};
use ring::hmac;
use ring::rand::SystemRandom;

use crate::auth::{min, Auth};
use crate::config::{Config, Environment};
use crate::db::Db;
use crate::http::error::{ApiError, Problem};
use crate::metrics::Metrics;

pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(metrics);
}

/// Who may read the metrics.
pub struct MetricsAccess {
    /// `VALISE_METRICS_TOKEN`, held as its MAC under a key of this process, so that checking
    /// a presented token is one constant-time `hmac::verify`.
    token: Option<(hmac::Key, hmac::Tag)>,
    /// Open to anyone: development without a token.
    open: bool,
}

impl MetricsAccess {
    pub fn from_config(config: &Config) -> anyhow::Result<Self> {
        let token = match &config.metrics_token {
            None => None,
            Some(token) => {
                let key = hmac::Key::generate(hmac::HMAC_SHA256, &SystemRandom::new())
                    .map_err(|_| anyhow::anyhow!("no randomness for the metrics token key"))?;
                let tag = hmac::sign(&key, token.expose().as_bytes());
                Some((key, tag))
            }
        };
        Ok(Self {
            token,
            open: config.metrics_token.is_none() && config.environment == Environment::Development,
        })
    }

    fn token_matches(&self, req: &HttpRequest) -> bool {
        let Some((key, tag)) = &self.token else {
            return false;
        };
        let sent = req
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| {
                v.strip_prefix("Bearer ")
                    .or_else(|| v.strip_prefix("bearer "))
            })
            .map(str::trim)
            .unwrap_or_default();
        hmac::verify(key, sent.as_bytes(), tag.as_ref()).is_ok()
    }
}

/// Prometheus metrics.
///
/// Request counts and latency histograms by route template (never a concrete path) and status
/// code, database pool state, the notification outbox backlog and retention runs, in the
/// Prometheus text format. Labels carry no personal data. In development without
/// `VALISE_METRICS_TOKEN` anyone may read it; otherwise send
/// `Authorization: Bearer <VALISE_METRICS_TOKEN>`, or an admin's access token.
#[utoipa::path(
    operation_id = "getMetrics",
    tag = "operations",
    security((), ("bearer" = [])),
    responses(
        (status = 200, description = "Prometheus text exposition format 0.0.4", body = String,
            content_type = "text/plain"),
        (status = 401, description = "The metrics token or an admin's access token is needed",
            body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The caller is signed in but is not an admin",
            body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/metrics")]
async fn metrics(
    req: HttpRequest,
    access: web::Data<MetricsAccess>,
    metrics: web::Data<Metrics>,
    admin: Result<Auth<min::Admin>, ApiError>,
    db: web::Data<Db>,
) -> Result<HttpResponse, ApiError> {
    if !(access.open || access.token_matches(&req)) {
        admin?;
    }
    // A failed count must not hide every other metric: keep the last value and say why.
    match db
        .run(|conn| crate::notifications::pending_count(conn).map_err(ApiError::from))
        .await
    {
        Ok(pending) => metrics.set_outbox_pending(pending),
        Err(e) => tracing::warn!("metrics: counting the outbox backlog failed: {e}"),
    }
    metrics.refresh_pools();
    let body = metrics.render()?;
    Ok(HttpResponse::Ok()
        .content_type(prometheus::TEXT_FORMAT)
        .body(body))
}
