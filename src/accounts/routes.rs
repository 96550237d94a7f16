//! `GET /v1/me`, `PATCH /v1/me`: the owner's profile, decrypted for the owner only.

use actix_web::{get, patch, web, HttpRequest, HttpResponse};
use serde::Deserialize;
use utoipa::ToSchema;

use super::model::{etag, Email, PersonName, Phone, UserView};
use super::profile;
use super::store::ProfileChanges;
use crate::audit::Actor;
use crate::auth::{min, Auth};
use crate::crypto::Crypto;
use crate::db::Db;
use crate::http::cache;
use crate::http::error::{ApiError, Problem};
use crate::http::extract::Json;

pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(get_me).service(patch_me);
}

/// A correction of the profile; absent fields stay as they are.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"name": "Ada King", "phone": "+44 20 7946 0958"}))]
pub struct ProfilePatch {
    /// A new sign-in and contact address; at most 254 characters once normalised (64 before
    /// the `@`). Applied only once confirmed: the answer is 202 and the new address gets a
    /// link with a token for `POST /v1/auth/email-change/confirm` (valid 24 hours). If
    /// another account uses the address, its owner is told instead; the answer is the same.
    #[schema(format = "email", max_length = 254)]
    pub email: Option<String>,
    /// 1–100 characters once trimmed, no control characters, nothing sensitive.
    #[schema(min_length = 1, max_length = 100)]
    pub name: Option<String>,
    /// International form: `+` and 7 to 15 digits; spaces, dots, dashes and parentheses are
    /// accepted and removed. `null` removes it.
    #[serde(default, deserialize_with = "crate::http::extract::explicit_null")]
    #[schema(value_type = Option<String>, pattern = r"^[ .()-]*\+(?:[ .()-]*[0-9]){7,15}[ .()-]*$")]
    pub phone: Option<Option<String>>,
}

impl ProfilePatch {
    fn parse(self) -> Result<ProfileChanges, ApiError> {
        Ok(ProfileChanges {
            email: self.email.map(|e| Email::parse("email", &e)).transpose()?,
            name: self
                .name
                .map(|n| PersonName::parse("name", &n))
                .transpose()?,
            phone: self
                .phone
                .map(|p| p.map(|p| Phone::parse("phone", &p)).transpose())
                .transpose()?,
        })
    }
}

/// My profile.
///
/// Decrypted for its owner only. Carries an `ETag` to send as `If-Match` with a correction.
#[utoipa::path(
    operation_id = "getMe",
    tag = "me",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The profile", body = UserView,
            headers(("ETag" = String, description = "Version of the profile"))),
        (status = 304, description = "Unchanged since the `If-None-Match` ETag"),
        (status = 401, description = "Not authenticated", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "An API key cannot act as a person", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/me")]
async fn get_me(
    req: HttpRequest,
    auth: Auth<min::Customer>,
    db: web::Data<Db>,
    crypto: web::Data<Crypto>,
) -> Result<HttpResponse, ApiError> {
    let user_id = auth.account()?;
    let crypto = crypto.into_inner();
    let profile = db
        .run(move |conn| profile::read(conn, &crypto, &user_id))
        .await?;
    let tag = etag(profile.version);
    cache::private_json_with_etag(&req, &UserView::from(profile), &tag)
}

/// Correct my profile.
///
/// Name, email and phone can be corrected (the right to rectification). Send the `ETag` of
/// the profile you read as `If-Match`: if it changed meanwhile the answer is 412. Every
/// correction is recorded in the audit log (field names only). Name and phone apply at once;
/// a new email is verified first: the answer is 202 with the profile as it is now, and the
/// new address receives a confirmation token (whether or not another account uses it, the
/// answer is the same).
#[utoipa::path(
    operation_id = "updateMe",
    tag = "me",
    security(("bearer" = [])),
    request_body = ProfilePatch,
    params(("If-Match" = Option<String>, Header, description = "ETag of the profile being corrected")),
    responses(
        (status = 200, description = "The corrected profile", body = UserView,
            headers(("ETag" = String, description = "New version of the profile"))),
        (status = 202, description = "Corrected; the new email waits for its confirmation", body = UserView,
            headers(("ETag" = String, description = "New version of the profile"))),
        (status = 401, description = "Not authenticated", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "An API key cannot act as a person", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "The profile changed since it was read", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid, unknown or sensitive field", body = Problem, content_type = "application/problem+json"),
    )
)]
#[patch("/me")]
async fn patch_me(
    req: HttpRequest,
    auth: Auth<min::Customer>,
    db: web::Data<Db>,
    crypto: web::Data<Crypto>,
    body: Json<ProfilePatch>,
) -> Result<HttpResponse, ApiError> {
    let user_id = auth.account()?;
    let changes = body.into_inner().parse()?;
    let if_match = cache::if_match_header(&req);
    let actor = Actor::from_principal(&auth.principal, Some(&user_id));
    let crypto = crypto.into_inner();
    let corrected = db
        .run(move |conn| {
            profile::correct(
                conn,
                &crypto,
                &actor,
                &user_id,
                if_match.as_deref(),
                changes,
            )
        })
        .await?;
    let tag = etag(corrected.profile.version);
    let mut response = if corrected.email_pending {
        HttpResponse::Accepted()
    } else {
        HttpResponse::Ok()
    };
    Ok(cache::with_etag(
        response.json(UserView::from(corrected.profile)),
        &tag,
    ))
}
