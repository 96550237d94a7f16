//! `POST /v1/admin/policies` (publish a revision) and `POST /v1/me/policy-acceptances`.

use actix_web::{post, web, HttpResponse};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::model::{AcceptanceSource, PolicyDocument};
use super::{notices, store};
use crate::audit::{self, Actor, Event};
use crate::auth::{min, Auth};
use crate::crypto::Crypto;
use crate::db::Db;
use crate::http::error::{ApiError, Problem};
use crate::http::extract::Json;
use crate::versions::Versions;

pub fn configure_admin(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(publish);
}

pub fn configure_me(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(accept);
}

/// Longest policy text, in characters (the request body limit is 64 KiB).
pub const MAX_TEXT: usize = 60_000;

/// A new version of the privacy policy.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"text": "Privacy Policy\nThis Privacy Policy clarifies …", "summary": "We now keep order records for 10 years, as the tax law requires."}))]
pub struct NewPolicy {
    /// The full text: 1–60,000 characters once trimmed.
    #[schema(min_length = 1, max_length = 60000)]
    pub text: String,
    /// What changed, shown in the revision notice: 1–500 characters once trimmed.
    #[schema(min_length = 1, max_length = 500)]
    pub summary: String,
}

fn bounded(field: &str, value: &str, max: usize) -> Result<String, ApiError> {
    let v = value.trim();
    let len = v.chars().count();
    if len == 0 || len > max {
        return Err(ApiError::validation(
            field,
            format!("must be 1 to {max} characters"),
        ));
    }
    Ok(v.to_owned())
}

/// Publish a privacy-policy revision.
///
/// Effective at once: it becomes `GET /v1/policies/current`, and every instance sends its
/// number in `X-Policy-Version` within a second. A `policy.revised` notice is queued for
/// every registered customer, in batches, right after the answer.
#[utoipa::path(
    operation_id = "publishPolicy",
    tag = "policies",
    security(("bearer" = [])),
    request_body = NewPolicy,
    responses(
        (status = 201, description = "Published", body = PolicyDocument),
        (status = 401, description = "Not authenticated", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Admins only", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid or unknown field", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/policies")]
async fn publish(
    auth: Auth<min::Admin>,
    db: web::Data<Db>,
    crypto: web::Data<Crypto>,
    versions: web::Data<Versions>,
    body: Json<NewPolicy>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let text = bounded("text", &body.text, MAX_TEXT)?;
    let summary = bounded("summary", &body.summary, 500)?;
    let actor = Actor::from_principal(&auth.principal, None);
    let crypto = crypto.into_inner();
    let policy = db
        .run(move |conn| {
            crate::db::write_transaction(conn, |conn| {
                let policy = store::publish(conn, &text, &summary, crate::db::now())?;
                audit::record(
                    conn,
                    &crypto,
                    &actor,
                    &Event {
                        action: crate::audit::Action::PolicyPublish,
                        subject_id: None,
                        fields: &[],
                        purpose: crate::audit::Purpose::PolicyRevision,
                    },
                )?;
                crate::webhooks::emit(
                    conn,
                    crate::webhooks::model::WebhookEventType::PolicyPublished,
                    &serde_json::json!({"policy_version": policy.version, "sha256": policy.sha256}),
                )?;
                Ok::<_, ApiError>(policy)
            })
        })
        .await?;
    versions.observe_policy(policy.version);
    let fan_out = db.clone();
    actix_web::rt::spawn(async move {
        let queued: Result<usize, ApiError> = fan_out
            .run(|conn| notices::fan_out(conn, notices::BATCH).map_err(ApiError::from))
            .await;
        match queued {
            Ok(n) => tracing::info!("queued {n} policy revision notice(s)"),
            Err(e) => tracing::warn!("queueing policy revision notices failed (will resume): {e}"),
        }
    });
    let location = format!("/v1/policies/{}", policy.version);
    Ok(crate::http::created(&location).json(PolicyDocument::from(policy)))
}

/// Accepting the current policy.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"policy_version": 2}))]
#[schema(as = PolicyAcceptanceRequest)]
pub struct AcceptanceBody {
    /// Must be the current version (`X-Policy-Version`).
    #[schema(minimum = 1)]
    pub policy_version: i32,
}

/// The recorded acceptance.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = PolicyAcceptanceReceipt)]
#[schema(example = json!({"policy_version": 2, "accepted_at": "2027-03-02T18:04:11Z"}))]
pub struct Acceptance {
    /// The version accepted (the current one).
    #[schema(minimum = 1)]
    pub policy_version: i32,
    /// When the acceptance was recorded (RFC 3339, UTC).
    pub accepted_at: DateTime<Utc>,
}

/// Accept the current privacy policy.
///
/// After a revision (`X-Policy-Version` moved, a `policy.revised` notice arrived), record that
/// I accept it. Only the current version can be accepted (422 otherwise).
#[utoipa::path(
    operation_id = "acceptPolicy",
    tag = "privacy",
    security(("bearer" = [])),
    request_body = AcceptanceBody,
    responses(
        (status = 201, description = "Recorded", body = Acceptance),
        (status = 401, description = "Not authenticated", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "An API key cannot act as a person", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Not the current version, or an unknown field", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/me/policy-acceptances")]
async fn accept(
    auth: Auth<min::Customer>,
    db: web::Data<Db>,
    body: Json<AcceptanceBody>,
) -> Result<HttpResponse, ApiError> {
    let user = auth.user_id()?.to_owned();
    let version = body.into_inner().policy_version;
    db.run(move |conn| {
        let current = store::current_version(conn)?;
        if version != current {
            return Err(ApiError::validation(
                "policy_version",
                format!("must be the current version, {current}"),
            ));
        }
        store::record_acceptance(conn, &user, version, AcceptanceSource::Api.as_str())?;
        Ok(())
    })
    .await?;
    Ok(HttpResponse::Created().json(Acceptance {
        policy_version: version,
        accepted_at: Utc::now(),
    }))
}

/// Background work inside `serve`: finishes any fan-out a stopped process left behind.
pub fn spawn_resumer(db: Db) -> actix_web::rt::task::JoinHandle<()> {
    actix_web::rt::spawn(async move {
        let mut tick = actix_web::rt::time::interval(crate::orders::worker::EVERY);
        loop {
            tick.tick().await;
            let queued: Result<usize, ApiError> = db
                .run(|conn| notices::fan_out(conn, notices::BATCH).map_err(ApiError::from))
                .await;
            match queued {
                Ok(0) => {}
                Ok(n) => tracing::info!("resumed: queued {n} policy revision notice(s)"),
                Err(e) => tracing::warn!("policy revision notices: {e}"),
            }
        }
    })
}
