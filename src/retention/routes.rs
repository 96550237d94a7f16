//! `POST /v1/admin/retention/run` (privacy officer) and the schedule inside `serve`.

use actix_web::{post, web, HttpResponse};
use serde::Deserialize;
use utoipa::IntoParams;

use super::engine::{self, Report};
use super::Settings;
use crate::auth::{min, Auth};
use crate::crypto::Crypto;
use crate::db::Db;
use crate::http::error::{ApiError, Problem};
use crate::http::extract::Query;
use crate::metrics::{Metrics, RetentionMode};

pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(run);
}

/// How often each instance runs the rules.
pub const EVERY: std::time::Duration = std::time::Duration::from_secs(3600);

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct RunQuery {
    /// `true`: only count what is due, purge nothing; `false` (the default) purges.
    #[param(default = false)]
    pub dry_run: Option<bool>,
}

/// Runs every retention rule once (or, in a dry run, counts what is due).
pub async fn run_now(
    db: &Db,
    crypto: Crypto,
    settings: Settings,
    metrics: Option<&Metrics>,
    dry_run: bool,
) -> Result<Report, ApiError> {
    let report = db
        .run(move |conn| engine::run(conn, &crypto, &settings, crate::db::now(), dry_run))
        .await?;
    if let Some(m) = metrics {
        m.record_retention_run(if dry_run {
            RetentionMode::DryRun
        } else {
            RetentionMode::Purge
        });
    }
    Ok(report)
}

/// Run the retention rules.
///
/// Every rule of the data map's retention column, now: order keys shredded after closing,
/// accounting records deleted after the statutory period, inactive and closed accounts,
/// unused guest codes, idempotency keys, expired sessions and carts. Batched and idempotent;
/// `dry_run=true` only counts what is due. A real run is recorded in the audit log. The same
/// rules run every hour inside `serve`.
#[utoipa::path(
    tag = "privacy-admin",
    operation_id = "runRetention",
    security(("bearer" = [])),
    params(RunQuery),
    responses(
        (status = 200, description = "Counts per rule", body = Report),
        (status = 401, description = "Not authenticated", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Privacy officer only", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid `dry_run`", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/retention/run")]
async fn run(
    _auth: Auth<min::PrivacyOfficer>,
    db: web::Data<Db>,
    crypto: web::Data<Crypto>,
    settings: web::Data<Settings>,
    metrics: Option<web::Data<Metrics>>,
    query: Query<RunQuery>,
) -> Result<HttpResponse, ApiError> {
    let dry_run = query.into_inner().dry_run.unwrap_or(false);
    let report = run_now(
        &db,
        crypto.get_ref().clone(),
        settings.get_ref().clone(),
        metrics.as_ref().map(|m| m.get_ref()),
        dry_run,
    )
    .await?;
    Ok(HttpResponse::Ok().json(report))
}

/// The hourly schedule inside `serve`. Every instance runs it; the rules re-check their
/// conditions inside each batch's transaction, so overlapping runs do no harm.
pub fn spawn(
    db: Db,
    crypto: Crypto,
    settings: Settings,
    metrics: web::Data<Metrics>,
) -> actix_web::rt::task::JoinHandle<()> {
    actix_web::rt::spawn(async move {
        // The first run an interval after start: a restart loop must not become a purge loop.
        let first = tokio::time::Instant::now() + EVERY;
        let mut tick = tokio::time::interval_at(first, EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            match run_now(&db, crypto.clone(), settings.clone(), Some(&metrics), false).await {
                Ok(report) => {
                    let handled: i64 = report.rules.iter().map(|r| r.count).sum();
                    if handled > 0 {
                        tracing::info!("retention: {handled} item(s) purged");
                    }
                }
                Err(e) => tracing::warn!("retention run failed (will retry next hour): {e}"),
            }
        }
    })
}
