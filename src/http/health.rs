//! Liveness and readiness probes.

use actix_web::{get, web, HttpResponse};
use diesel::connection::SimpleConnection;
use serde::Serialize;
use utoipa::ToSchema;

use super::error::{ApiError, Problem};
use crate::db::replica::{ReadDb, ReplicaHealth};
use crate::db::Db;

pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(healthz).service(readyz);
}

/// What a probe found.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = HealthStatus, example = json!({"status": "ready"}))]
pub struct Health {
    /// `ok` when the process serves requests; `ready` when it can also reach the database;
    /// `degraded` when it can, but its read replica is down or too far behind (reads go to
    /// the primary).
    pub status: ProbeStatus,
}

/// A probe's verdict: `ok` from the liveness probe, `ready` or `degraded` from the readiness
/// probe.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ProbeStatus {
    /// The process is up and serving HTTP (`/healthz`).
    Ok,
    /// The process serves HTTP and its database answers (`/readyz`).
    Ready,
    /// The process serves HTTP and its database answers, but its read replica does not
    /// answer or lags more than allowed: every read goes to the primary (`/readyz`). Still
    /// fit for traffic.
    Degraded,
}

/// Liveness: the process is up and serving HTTP.
///
/// Touches nothing else, so an orchestrator restarts the process only when it is truly stuck.
#[utoipa::path(
    operation_id = "checkLiveness",
    tag = "operations",
    responses((status = 200, description = "The process is up", body = Health))
)]
#[get("/healthz")]
async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(Health {
        status: ProbeStatus::Ok,
    })
}

/// Readiness: the database answers.
///
/// A load balancer should route traffic here only while this answers 200. `degraded` (still
/// 200) says the read replica is down or too far behind and the primary serves every read.
#[utoipa::path(
    operation_id = "checkReadiness",
    tag = "operations",
    responses(
        (status = 200, description = "The database answers (`ready`), or does while the read \
            replica is skipped (`degraded`)", body = Health),
        (status = 503, description = "The database cannot be reached", body = Problem,
            content_type = "application/problem+json"),
    )
)]
#[get("/readyz")]
async fn readyz(db: web::Data<Db>, reads: web::Data<ReadDb>) -> Result<HttpResponse, ApiError> {
    db.run(|conn| {
        conn.batch_execute("SELECT 1").map_err(|e| {
            tracing::warn!("readiness check failed: {e}");
            ApiError::Unavailable("The database cannot be reached.".into())
        })
    })
    .await?;
    let status = match reads.health() {
        ReplicaHealth::Absent | ReplicaHealth::Serving => ProbeStatus::Ready,
        ReplicaHealth::Skipped => ProbeStatus::Degraded,
    };
    Ok(HttpResponse::Ok().json(Health { status }))
}
