//! The account mail's return trips: `POST /v1/auth/confirm` (a new account's address),
//! `POST /v1/auth/password-reset` and `/password-reset/confirm`,
//! `POST /v1/auth/email-change/confirm`, and the owner's `POST /v1/me/password`.

use crate::http::limits::{Policy, Quota, Rule};
use actix_web::http::Method;
use actix_web::{post, web, HttpRequest, HttpResponse};
use serde::Deserialize;
use utoipa::ToSchema;

use super::password::Password;
use super::recovery::{self, Changed};
use super::routes::{cart_token, tokens, Accepted, TokenPair};
use super::{min, Auth, TokenKeys};
use crate::accounts::email_change::{self, Confirmed};
use crate::accounts::model::Email;
use crate::audit::Actor;
use crate::crypto::Crypto;
use crate::db::Db;
use crate::http::error::{ApiError, Problem};
use crate::http::extract::Json;

/// Each a guess at a 256-bit token, or a mail to a mailbox (also limited per mailbox).
pub const ACCOUNT_MAIL: Policy = Policy {
    name: "account-mail",
    client: Some(Quota::per_hour(20)),
    global: Quota::per_minute(300),
};
/// A password hash each.
pub const PASSWORD_SET: Policy = Policy {
    name: "password-set",
    client: Some(Quota::per_hour(10)),
    global: Quota::per_minute(300),
};

/// The anonymous writes of this file and their limits (enforced and documented by `http::limits`).
pub const LIMITS: &[Rule] = &[
    (Method::POST, "/v1/auth/confirm", &ACCOUNT_MAIL),
    (Method::POST, "/v1/auth/password-reset", &ACCOUNT_MAIL),
    (
        Method::POST,
        "/v1/auth/password-reset/confirm",
        &PASSWORD_SET,
    ),
    (Method::POST, "/v1/auth/email-change/confirm", &ACCOUNT_MAIL),
];

pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(confirm)
        .service(request_reset)
        .service(complete_reset)
        .service(confirm_email_change)
        .service(change_password);
}

const INVALID_TOKEN: &str = "is invalid, expired or already used";

/// A token from an account mail.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"token": "vt_Zk3yQ0m8Yp1sV6r2Xw9bTn4cLh7dJe5aUf0gKi3oMq8"}))]
pub struct TokenRequest {
    /// The token (`vt_…`) from the mail.
    pub token: String,
}

/// An address that forgot its password.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"email": "ada@example.com"}))]
pub struct ResetRequest {
    /// The account's address, in any case; at most 254 characters once normalised.
    #[schema(format = "email", max_length = 254)]
    pub email: String,
}

/// A new password, with the reset token that allows it.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "token": "vt_Zk3yQ0m8Yp1sV6r2Xw9bTn4cLh7dJe5aUf0gKi3oMq8",
    "password": "a new horse battery staple"
}))]
pub struct ResetCompletion {
    /// The token (`vt_…`) from the reset mail, valid 30 minutes.
    pub token: String,
    /// 10 to 128 characters, not only spaces.
    #[schema(format = "password", min_length = 10, max_length = 128)]
    pub password: String,
}

/// The owner's new password, with the current one.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "current_password": "correct horse battery staple",
    "new_password": "a new horse battery staple"
}))]
pub struct PasswordChange {
    /// The password the account has now.
    #[schema(format = "password")]
    pub current_password: String,
    /// 10 to 128 characters, not only spaces.
    #[schema(format = "password", min_length = 10, max_length = 128)]
    pub new_password: String,
}

/// Confirm a new account's address.
///
/// With the token mailed after registration (valid 24 hours, single use). Activates the
/// account and starts its first session. A guest cart sent as `X-Cart-Token` joins the
/// account's cart.
#[utoipa::path(
    operation_id = "verifyAccount",
    tag = "auth",
    request_body = TokenRequest,
    params(("X-Cart-Token" = Option<String>, Header, description = "A guest cart's `cart_token`: its lines join the account's cart")),
    responses(
        (status = 200, description = "Confirmed: the first session", body = TokenPair),
        (status = 422, description = "Invalid, expired or used token, or unknown field", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/auth/confirm")]
async fn confirm(
    req: HttpRequest,
    db: web::Data<Db>,
    crypto: web::Data<Crypto>,
    keys: web::Data<TokenKeys>,
    body: Json<TokenRequest>,
) -> Result<HttpResponse, ApiError> {
    let token = body.into_inner().token;
    let cart = cart_token(&req);
    let crypto = crypto.into_inner();
    let signed_in = db
        .run(move |conn| {
            crate::db::write_transaction(conn, |conn| {
                let signed_in = super::register::confirm(conn, &crypto, &token)?;
                if let (Some(s), Some(cart)) = (&signed_in, &cart) {
                    crate::carts::merge::into_account(conn, &s.user_id, cart)?;
                }
                Ok::<_, ApiError>(signed_in)
            })
        })
        .await?
        .ok_or_else(|| ApiError::validation("token", INVALID_TOKEN))?;
    let pair = tokens(&keys, &signed_in.user_id, signed_in.role, signed_in.refresh)?;
    Ok(HttpResponse::Ok().json(pair))
}

/// Ask for a password reset.
///
/// Always 202 with the same body: if an account has this address, it receives a token
/// (valid 30 minutes, single use) for `POST /v1/auth/password-reset/confirm`. At most 5
/// per address per hour. Staff accounts reset the same way.
#[utoipa::path(
    operation_id = "startPasswordReset",
    tag = "auth",
    request_body = ResetRequest,
    responses(
        (status = 202, description = "If the address has an account, the token is in the mail", body = Accepted),
        (status = 422, description = "Invalid or unknown field", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many requests for this address", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/auth/password-reset")]
async fn request_reset(
    db: web::Data<Db>,
    crypto: web::Data<Crypto>,
    body: Json<ResetRequest>,
) -> Result<HttpResponse, ApiError> {
    let email = Email::parse("email", &body.into_inner().email)?;
    let crypto = crypto.into_inner();
    db.run(move |conn| recovery::request_reset(conn, &crypto, &email))
        .await?;
    Ok(HttpResponse::Accepted().json(Accepted::check_inbox()))
}

/// Set a new password with a reset token.
///
/// Every session of the account ends (its refresh tokens stop working); log in with the new
/// password. The token works once.
#[utoipa::path(
    operation_id = "completePasswordReset",
    tag = "auth",
    request_body = ResetCompletion,
    responses(
        (status = 204, description = "Password set; every session ended"),
        (status = 422, description = "Invalid, expired or used token, password too short or long, or unknown field", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/auth/password-reset/confirm")]
async fn complete_reset(
    db: web::Data<Db>,
    crypto: web::Data<Crypto>,
    body: Json<ResetCompletion>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let password = Password::parse("password", body.password)?;
    let crypto = crypto.into_inner();
    let done = db
        .run(move |conn| {
            let hash = password.hash()?;
            recovery::complete_reset(conn, &crypto, &body.token, hash)
        })
        .await?;
    if !done {
        return Err(ApiError::validation("token", INVALID_TOKEN));
    }
    Ok(HttpResponse::NoContent().finish())
}

/// Confirm a new sign-in address.
///
/// With the token mailed to the new address after `PATCH /v1/me` (valid 24 hours, single
/// use). 409 when another account took the address meanwhile.
#[utoipa::path(
    operation_id = "completeEmailChange",
    tag = "auth",
    request_body = TokenRequest,
    responses(
        (status = 204, description = "The account now signs in with the new address"),
        (status = 409, description = "Another account uses the address now", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid, expired or used token, or unknown field", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/auth/email-change/confirm")]
async fn confirm_email_change(
    db: web::Data<Db>,
    crypto: web::Data<Crypto>,
    body: Json<TokenRequest>,
) -> Result<HttpResponse, ApiError> {
    let token = body.into_inner().token;
    let crypto = crypto.into_inner();
    match db
        .run(move |conn| email_change::confirm(conn, &crypto, &token))
        .await?
    {
        Confirmed::Changed => Ok(HttpResponse::NoContent().finish()),
        Confirmed::Invalid => Err(ApiError::validation("token", INVALID_TOKEN)),
        Confirmed::Taken => Err(ApiError::conflict(
            "Another account uses this address now; the change was not applied.",
        )),
    }
}

/// Change my password.
///
/// The current password is required (10 wrong ones an hour lock the change for the rest of
/// the hour). Every session of the account ends and a new one starts for the caller: the
/// answer is its tokens.
#[utoipa::path(
    operation_id = "updateMyPassword",
    tag = "me",
    security(("bearer" = [])),
    request_body = PasswordChange,
    responses(
        (status = 200, description = "Changed: every other session ended; the new session", body = TokenPair),
        (status = 401, description = "Not authenticated", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "An API key cannot act as a person", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Wrong current password, new password too short or long, or unknown field", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many wrong current passwords", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/me/password")]
async fn change_password(
    auth: Auth<min::Customer>,
    db: web::Data<Db>,
    crypto: web::Data<Crypto>,
    keys: web::Data<TokenKeys>,
    body: Json<PasswordChange>,
) -> Result<HttpResponse, ApiError> {
    let user_id = auth.account()?;
    let body = body.into_inner();
    let new = Password::parse("new_password", body.new_password)?;
    let actor = Actor::from_principal(&auth.principal, Some(&user_id));
    let crypto = crypto.into_inner();
    let id = user_id.to_string();
    let changed = db
        .run(move |conn| recovery::change(conn, &crypto, &actor, &id, &body.current_password, &new))
        .await?;
    match changed {
        Changed::Yes { role, refresh } => {
            Ok(HttpResponse::Ok().json(tokens(&keys, &user_id, role, refresh)?))
        }
        Changed::WrongCurrent => Err(ApiError::validation(
            "current_password",
            "is not the account's password",
        )),
    }
}
