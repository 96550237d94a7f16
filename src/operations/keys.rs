//! `POST /v1/admin/keys/rotate`.

use actix_web::{post, web, HttpResponse};

use crate::auth::{min, Auth};
use crate::crypto::rotation::{self, RotationStatus};
use crate::crypto::Crypto;
use crate::db::Db;
use crate::http::error::{ApiError, Problem};

pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(rotate);
}

/// Rotate the master key.
///
/// Re-wraps every data key and system secret under the newest master key, in batches; reads
/// keep working throughout. With a development key file a new master-key version is created
/// first; in production the operator adds the new key to `VALISE_MASTER_KEY` (newest first)
/// and restarts before calling this. The answer says which old key ids are still in use.
#[utoipa::path(
    operation_id = "rotateMasterKeys",
    tag = "keys",
    security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "Rotation finished", body = RotationStatus),
        (status = 401, description = "Not authenticated", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Admins only", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/keys/rotate")]
async fn rotate(
    _auth: Auth<min::Admin>,
    db: web::Data<Db>,
    crypto: web::Data<Crypto>,
) -> Result<HttpResponse, ApiError> {
    let crypto = crypto.into_inner();
    let status = db
        .run(move |conn| rotation::rotate(conn, &crypto, |_| {}).map_err(ApiError::from))
        .await?;
    Ok(HttpResponse::Ok().json(status))
}
