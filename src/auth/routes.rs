//! `POST /v1/auth/{register,login,refresh,logout}`.

use crate::http::limits::{Policy, Quota, Rule};
use actix_web::http::Method;
use actix_web::{post, web, HttpRequest, HttpResponse, ResponseError};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::login::Outcome;
use super::password::Password;
use super::register::NewCustomer;
use super::store::{self as auth_store, Refresh};
use super::{min, Auth, Role, TokenKeys};
use crate::accounts::model::{Email, PersonName};
use crate::crypto::Crypto;
use crate::db::Db;
use crate::http::error::{ApiError, Problem};
use crate::http::extract::Json;

/// Each a password hash (Argon2id, ~20 MiB and tens of milliseconds of a core).
pub const REGISTRATION: Policy = Policy {
    name: "registration",
    client: Some(Quota::per_hour(10)),
    global: Quota::per_minute(300),
};
/// A password hash each, besides the attempts counted per account in the database.
pub const SIGN_IN: Policy = Policy {
    name: "sign-in",
    client: Some(Quota::per_minute(30)),
    global: Quota::per_minute(1200),
};
pub const SESSION_REFRESH: Policy = Policy {
    name: "session-refresh",
    client: Some(Quota::per_minute(60)),
    global: Quota::per_minute(6000),
};

/// The anonymous writes of this file and their limits (enforced and documented by `http::limits`).
pub const LIMITS: &[Rule] = &[
    (Method::POST, "/v1/auth/register", &REGISTRATION),
    (Method::POST, "/v1/auth/login", &SIGN_IN),
    (Method::POST, "/v1/auth/refresh", &SESSION_REFRESH),
];

pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(register)
        .service(login)
        .service(refresh_session)
        .service(logout);
}

/// A new customer account.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "email": "ada@example.com",
    "password": "correct horse battery staple",
    "name": "Ada Lovelace",
    "accepted_policy_version": 1
}))]
pub struct RegisterRequest {
    /// Sign-in and contact address; at most 254 characters once normalised (64 before the
    /// `@`), compared case-insensitively.
    #[schema(format = "email", max_length = 254)]
    pub email: String,
    /// 10 to 128 characters, not only spaces.
    #[schema(format = "password", min_length = 10, max_length = 128)]
    pub password: String,
    /// How the shop should address you: 1–100 characters once trimmed, no control
    /// characters, nothing sensitive (card or ID numbers are refused).
    #[schema(min_length = 1, max_length = 100)]
    pub name: String,
    /// The privacy-policy version you accept; must be the current one (`X-Policy-Version`).
    #[schema(minimum = 1)]
    pub accepted_policy_version: i32,
}

/// Credentials for a new session.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"email": "ada@example.com", "password": "correct horse battery staple"}))]
pub struct LoginRequest {
    /// The account's email address, in any case; at most 254 characters once normalised.
    #[schema(format = "email", max_length = 254)]
    pub email: String,
    /// The account's password.
    #[schema(format = "password")]
    pub password: String,
}

/// A refresh token to exchange (`/v1/auth/refresh`) or revoke (`/v1/auth/logout`).
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"refresh_token": "vr_Zk3yQ0m8Yp1sV6r2Xw9bTn4cLh7dJe5aUf0gKi3oMq8"}))]
pub struct RefreshRequest {
    /// The refresh token (`vr_…`) from the last login or refresh.
    pub refresh_token: String,
}

/// How an access token is presented: always `Bearer` (`Authorization: Bearer …`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
pub enum TokenType {
    /// An OAuth 2.0 bearer token (RFC 6750).
    Bearer,
}

/// Tokens for a session.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({
    "access_token": "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ1c3JfMDE5M2E3YzI1YjdlN2QxYTljMWUyZjZjMWY3ZTlhMTAifQ.c2lnbmF0dXJl",
    "refresh_token": "vr_Zk3yQ0m8Yp1sV6r2Xw9bTn4cLh7dJe5aUf0gKi3oMq8",
    "token_type": "Bearer",
    "expires_in": 900
}))]
pub struct TokenPair {
    /// JWT for `Authorization: Bearer …`, valid `expires_in` seconds.
    pub access_token: String,
    /// Opaque (`vr_…`), valid 30 days; exchange at `/v1/auth/refresh`. Each is single-use:
    /// a reused one revokes the whole session.
    pub refresh_token: String,
    /// How to send `access_token`: always `Bearer`.
    pub token_type: TokenType,
    /// Lifetime of the access token in seconds (at most 900).
    #[schema(minimum = 1, maximum = 900)]
    pub expires_in: i64,
}

/// What every registration answers, whether or not the address has an account.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({
    "status": "check_inbox",
    "detail": "Check your inbox: we sent a message to this address with what to do next."
}))]
#[schema(as = CheckInbox)]
pub struct Accepted {
    /// Always `check_inbox`: the next step is in the mail.
    pub status: AcceptedStatus,
    /// The same words for every address.
    pub detail: &'static str,
}

/// The one state an accepted request answers with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AcceptedStatus {
    CheckInbox,
}

impl Accepted {
    pub fn check_inbox() -> Self {
        Self {
            status: AcceptedStatus::CheckInbox,
            detail: "Check your inbox: we sent a message to this address with what to do next.",
        }
    }
}

/// The guest cart a caller holds (`X-Cart-Token`), to merge at sign-in.
pub fn cart_token(req: &HttpRequest) -> Option<String> {
    req.headers()
        .get("x-cart-token")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

pub fn tokens(
    keys: &TokenKeys,
    user_id: &str,
    role: Role,
    refresh_token: String,
) -> Result<TokenPair, ApiError> {
    let (access_token, expires_in) = keys.issue(user_id, role)?;
    Ok(TokenPair {
        access_token,
        refresh_token,
        token_type: TokenType::Bearer,
        expires_in,
    })
}

/// Register a customer account.
///
/// Requires accepting the current privacy policy; the acceptance is recorded. Email and name
/// are stored encrypted with the account's own key. The answer is the same 202 whether or
/// not the address has an account: an unknown address receives a confirmation token (valid
/// 24 hours) for `POST /v1/auth/confirm`, which activates the account and starts its first
/// session; a known address receives a "you already have an account" notice instead. Until
/// it is confirmed the account cannot log in (login answers as for a wrong password).
#[utoipa::path(
    operation_id = "registerCustomer",
    tag = "auth",
    request_body = RegisterRequest,
    responses(
        (status = 202, description = "Registration taken: the next step is in the mail", body = Accepted),
        (status = 413, description = "Body over 64 KiB", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Body is not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid or unknown field, stale policy version, or sensitive data", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/auth/register")]
async fn register(
    db: web::Data<Db>,
    crypto: web::Data<Crypto>,
    body: Json<RegisterRequest>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let new = NewCustomer {
        email: Email::parse("email", &body.email)?,
        name: PersonName::parse("name", &body.name)?,
        password: Password::parse("password", body.password)?,
        accepted_policy_version: body.accepted_policy_version,
    };
    let crypto = crypto.into_inner();
    let request_id = crate::http::request_id::current_request_id();
    db.run(move |conn| super::register::customer(conn, &crypto, &new, request_id))
        .await?;
    Ok(HttpResponse::Accepted().json(Accepted::check_inbox()))
}

const BAD_CREDENTIALS: &str = "The email or password is incorrect.";

/// Log in.
///
/// Answers identically for an unknown email, an unconfirmed account and a wrong password.
/// A guest cart sent as `X-Cart-Token` joins the account's open cart (quantities add up,
/// capped by what is available and 20 a line) and is then gone. Attempts are counted
/// before the password is checked: 5 per account from one client address, then a lock that
/// doubles with each further failure (15 min up to 12 h; a success ends it); 50 per account
/// per hour from all addresses together; 30 per client address per 15 minutes
/// (`X-RateLimit-*` show the first; 429 with `Retry-After`).
#[utoipa::path(
    operation_id = "logIn",
    tag = "auth",
    request_body = LoginRequest,
    params(("X-Cart-Token" = Option<String>, Header, description = "A guest cart's `cart_token`: its lines join the account's cart")),
    responses(
        (status = 200, description = "Logged in (a guest cart sent as `X-Cart-Token` joined the account's cart)", body = TokenPair,
            headers(("X-RateLimit-Limit" = u32), ("X-RateLimit-Remaining" = u32), ("X-RateLimit-Reset" = u64))),
        (status = 401, description = "Wrong email or password", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid or unknown field", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many failed attempts", body = Problem, content_type = "application/problem+json",
            headers(("Retry-After" = u64))),
    )
)]
#[post("/auth/login")]
async fn login(
    req: HttpRequest,
    db: web::Data<Db>,
    crypto: web::Data<Crypto>,
    keys: web::Data<TokenKeys>,
    body: Json<LoginRequest>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let attempt = super::login::Attempt {
        email: Email::parse("email", &body.email)?,
        password: body.password,
        client: crate::http::client_ip::of(&req)
            .map(|ip| ip.to_string())
            .unwrap_or_default(),
        cart_token: cart_token(&req),
    };
    let crypto = crypto.into_inner();
    let (outcome, limit) = db
        .run(move |conn| super::login::attempt(conn, &crypto, &attempt))
        .await?;
    let mut response = match outcome {
        Outcome::LoggedIn {
            user_id,
            role,
            refresh,
        } => HttpResponse::Ok().json(tokens(&keys, &user_id, role, refresh)?),
        Outcome::Failed => ApiError::Unauthenticated(BAD_CREDENTIALS).error_response(),
    };
    limit.apply(response.headers_mut());
    Ok(response)
}

/// Exchange a refresh token for a new session.
///
/// Refresh tokens are single-use and rotate on every exchange. Presenting one that was
/// already used revokes its whole family (every token of that login), on the assumption
/// that it was stolen.
#[utoipa::path(
    operation_id = "refreshSession",
    tag = "auth",
    request_body = RefreshRequest,
    responses(
        (status = 200, description = "A new token pair", body = TokenPair),
        (status = 401, description = "Invalid, expired or reused refresh token", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid or unknown field", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/auth/refresh")]
async fn refresh_session(
    db: web::Data<Db>,
    keys: web::Data<TokenKeys>,
    body: Json<RefreshRequest>,
) -> Result<HttpResponse, ApiError> {
    let token = body.into_inner().refresh_token;
    let outcome = db
        .run(move |conn| auth_store::rotate(conn, &token).map_err(ApiError::from))
        .await?;
    match outcome {
        Refresh::Rotated {
            user_id,
            role,
            token,
        } => Ok(HttpResponse::Ok().json(tokens(&keys, &user_id, role, token)?)),
        Refresh::ReuseDetected | Refresh::Invalid => Err(ApiError::Unauthenticated(
            "The refresh token is invalid, expired or already used; log in again.",
        )),
    }
}

/// Log out.
///
/// Revokes the session (the refresh-token family) the given token belongs to. Access tokens
/// already issued expire within 15 minutes.
#[utoipa::path(
    operation_id = "logOut",
    tag = "auth",
    request_body = RefreshRequest,
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Logged out"),
        (status = 401, description = "Not authenticated", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid or unknown field", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/auth/logout")]
async fn logout(
    auth: Auth<min::Customer>,
    db: web::Data<Db>,
    body: Json<RefreshRequest>,
) -> Result<HttpResponse, ApiError> {
    let user_id = auth.user_id()?.to_owned();
    let token = body.into_inner().refresh_token;
    db.run(move |conn| {
        auth_store::revoke_family_of(conn, &user_id, &token).map_err(ApiError::from)
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}
