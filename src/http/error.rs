//! One error type at the HTTP edge, one mapping table to RFC 9457 problems.
//!
//! Clients get a stable `type` slug, a short `title`, a helpful `detail` and the request id.
//! Internal causes are logged with the request id and never sent.

use actix_web::http::{header, StatusCode};
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;
use utoipa::ToSchema;

use super::request_id::current_request_id;
use crate::db::DbError;

pub const PROBLEM_CONTENT_TYPE: &str = "application/problem+json";
pub const TYPE_PREFIX: &str = "urn:valise:problem:";

/// An RFC 9457 problem document.
#[derive(Debug, Serialize, serde::Deserialize, ToSchema)]
#[schema(example = json!({
    "type": "urn:valise:problem:validation-failed",
    "title": "Validation failed",
    "status": 422,
    "detail": "The request body has 1 invalid field.",
    "request_id": "0193a7c2-5b7e-7d1a-9c1e-2f6c1f7e9a10",
    "errors": [{"field": "limit", "message": "must be between 1 and 100"}]
}))]
pub struct Problem {
    /// `urn:valise:problem:<slug>`; stable, switch on it. Every type, with what it means
    /// and what to do, is listed at `GET /v1/problems` (one: `GET /v1/problems/{slug}`).
    #[serde(rename = "type")]
    pub problem_type: String,
    /// Short, human-readable summary of the problem type: the same for every answer of a type.
    pub title: String,
    /// The HTTP status code.
    pub status: u16,
    /// What went wrong with this request, and how to fix it.
    pub detail: String,
    /// Echo of `X-Request-Id`; quote it when reporting a problem.
    pub request_id: String,
    /// Per-field errors (validation problems only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub errors: Option<Vec<FieldError>>,
}

pub use crate::invalid::FieldError;
use crate::invalid::Invalid;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("validation failed")]
    Validation(Vec<FieldError>),
    #[error("sensitive data refused in {field}")]
    SensitiveData { field: String },
    #[error("unauthenticated")]
    Unauthenticated(&'static str),
    #[error("forbidden")]
    Forbidden(&'static str),
    #[error("not found")]
    NotFound,
    /// A 404 for a resource reached by a credential (a cart or order token): the detail
    /// says which one to send, in the same words whether or not the resource exists.
    #[error("not found")]
    NotYours(&'static str),
    #[error("conflict: {0}")]
    Conflict(String),
    /// The order, payment or request is not in a state this action applies to.
    #[error("invalid transition: {0}")]
    InvalidTransition(String),
    /// A line asks for more units than are available.
    #[error("out of stock: {0}")]
    OutOfStock(String),
    /// A domain rule refuses the request for a reason with its own problem type (422): a
    /// discount code that does not apply. The slug names a catalogue entry.
    #[error("not applicable: {slug}")]
    NotApplicable { slug: &'static str, detail: String },
    #[error("precondition failed")]
    PreconditionFailed,
    /// A change to a resource that requires `If-Match` came without one.
    #[error("precondition required")]
    PreconditionRequired,
    /// A replayed request whose first answer held personal data since erased.
    #[error("personal data erased")]
    PersonalDataErased,
    #[error("rate limited")]
    RateLimited(RateLimit),
    /// An `Idempotency-Key` sent again with a different request.
    #[error("idempotency key reused")]
    IdempotencyKeyReused,
    #[error("method not allowed")]
    MethodNotAllowed { allow: Vec<String> },
    #[error("payload too large")]
    PayloadTooLarge { limit: usize },
    #[error("unsupported media type")]
    UnsupportedMediaType { expected: &'static str },
    #[error("bad request: {0}")]
    BadRequest(String),
    #[error("service unavailable")]
    Unavailable(String),
    #[error("internal error: {0:#}")]
    Internal(#[from] anyhow::Error),
}

impl ApiError {
    pub fn conflict(detail: impl Into<String>) -> Self {
        Self::Conflict(detail.into())
    }

    pub fn invalid_transition(detail: impl Into<String>) -> Self {
        Self::InvalidTransition(detail.into())
    }

    pub fn validation(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Validation(vec![FieldError::new(field, message)])
    }

    /// The stable slug of this error's problem type.
    pub fn slug(&self) -> &'static str {
        match self {
            Self::Validation(_) => "validation-failed",
            Self::SensitiveData { .. } => "sensitive-data-refused",
            Self::Unauthenticated(_) => "unauthenticated",
            Self::Forbidden(_) => "forbidden",
            Self::NotFound | Self::NotYours(_) => "not-found",
            Self::Conflict(_) => "conflict",
            Self::InvalidTransition(_) => "invalid-transition",
            Self::OutOfStock(_) => "out-of-stock",
            Self::NotApplicable { slug, .. } => slug,
            Self::PreconditionFailed => "precondition-failed",
            Self::PreconditionRequired => "precondition-required",
            Self::PersonalDataErased => "personal-data-erased",
            Self::RateLimited(_) => "rate-limited",
            Self::IdempotencyKeyReused => "idempotency-key-reused",
            Self::MethodNotAllowed { .. } => "method-not-allowed",
            Self::PayloadTooLarge { .. } => "payload-too-large",
            Self::UnsupportedMediaType { .. } => "unsupported-media-type",
            Self::BadRequest(_) => "bad-request",
            Self::Unavailable(_) => "service-unavailable",
            Self::Internal(_) => "internal-error",
        }
    }

    fn detail(&self) -> String {
        match self {
            Self::Validation(errors) => match errors.len() {
                1 => format!(
                    "The field `{}` is invalid: {}.",
                    errors[0].field, errors[0].message
                ),
                n => format!("The request has {n} invalid fields; see `errors`."),
            },
            Self::SensitiveData { field } => format!(
                "The field `{field}` looks like a payment card, bank account or identity-document \
                 number. The shop never collects those; remove it and send the request again."
            ),
            Self::Unauthenticated(detail) | Self::Forbidden(detail) | Self::NotYours(detail) => {
                (*detail).to_owned()
            }
            Self::NotFound => "No resource exists at this address, or it is not yours.".into(),
            Self::Conflict(detail) | Self::InvalidTransition(detail) | Self::OutOfStock(detail) => {
                detail.clone()
            }
            Self::PersonalDataErased => "The answer to this request held personal data that has \
                 since been erased; it cannot be replayed. Read the resource instead."
                .into(),
            Self::IdempotencyKeyReused => {
                "This Idempotency-Key was used for a different request; use a new key.".into()
            }
            Self::PreconditionFailed => {
                "The resource changed since you read it (If-Match does not match its ETag); \
                 read it again and retry."
                    .into()
            }
            Self::PreconditionRequired => {
                "This change requires `If-Match` with the resource's `ETag` as you read it; \
                 read the resource and send its `ETag`."
                    .into()
            }
            Self::RateLimited(limit) => format!(
                "Too many attempts; retry in {} seconds.",
                limit.retry_after_secs
            ),
            Self::MethodNotAllowed { allow } => {
                format!("This resource supports only: {}.", allow.join(", "))
            }
            Self::PayloadTooLarge { limit } => {
                format!("Request bodies are limited to {} KiB.", limit / 1024)
            }
            Self::UnsupportedMediaType { expected } => {
                format!("Send the request body as `{expected}`.")
            }
            Self::BadRequest(detail) => detail.clone(),
            Self::NotApplicable { detail, .. } => detail.clone(),
            Self::Unavailable(detail) => detail.clone(),
            Self::Internal(_) => {
                "An unexpected error occurred; it has been logged with the request id.".into()
            }
        }
    }

    fn errors(&self) -> Option<Vec<FieldError>> {
        match self {
            Self::Validation(errors) => Some(errors.clone()),
            Self::SensitiveData { field } => Some(vec![FieldError::new(
                field.clone(),
                "looks like a card, bank account or identity-document number",
            )]),
            _ => None,
        }
    }
}

impl From<Invalid> for ApiError {
    fn from(invalid: Invalid) -> Self {
        match invalid {
            Invalid::Fields(errors) => Self::Validation(errors),
            Invalid::Sensitive { field } => Self::SensitiveData { field },
            Invalid::Transition(detail) => Self::InvalidTransition(detail),
        }
    }
}

/// The title for a status, used for every problem with that status.
pub fn title_for(status: StatusCode) -> &'static str {
    match status.as_u16() {
        400 => "Bad request",
        401 => "Unauthenticated",
        403 => "Forbidden",
        404 => "Not found",
        405 => "Method not allowed",
        409 => "Conflict",
        410 => "Gone",
        412 => "Precondition failed",
        428 => "Precondition required",
        413 => "Payload too large",
        415 => "Unsupported media type",
        422 => "Validation failed",
        429 => "Too many requests",
        503 => "Service unavailable",
        s if s >= 500 => "Internal server error",
        _ => "Request failed",
    }
}

/// The slug used for a status when nothing more specific is known (e.g. a response produced
/// by the framework itself rather than by an [`ApiError`]).
pub fn slug_for(status: StatusCode) -> &'static str {
    match status.as_u16() {
        401 => "unauthenticated",
        403 => "forbidden",
        404 => "not-found",
        405 => "method-not-allowed",
        409 => "conflict",
        410 => "gone",
        412 => "precondition-failed",
        428 => "precondition-required",
        413 => "payload-too-large",
        415 => "unsupported-media-type",
        422 => "validation-failed",
        429 => "rate-limited",
        503 => "service-unavailable",
        s if s >= 500 => "internal-error",
        _ => "bad-request",
    }
}

/// Builds a problem response. Used by [`ApiError`] and by the middleware that turns the
/// framework's own bare error responses into problems.
pub fn problem_response(
    status: StatusCode,
    slug: &str,
    detail: String,
    errors: Option<Vec<FieldError>>,
) -> HttpResponse {
    let problem = Problem {
        problem_type: format!("{TYPE_PREFIX}{slug}"),
        title: super::problems::find(slug)
            .map_or(title_for(status), |p| p.title)
            .into(),
        status: status.as_u16(),
        detail,
        request_id: current_request_id().unwrap_or_default(),
        errors,
    };
    let body = serde_json::to_vec(&problem).unwrap_or_default();
    HttpResponse::build(status)
        .insert_header((header::CONTENT_TYPE, PROBLEM_CONTENT_TYPE))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(body)
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::Validation(_)
            | Self::SensitiveData { .. }
            | Self::IdempotencyKeyReused
            | Self::NotApplicable { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            Self::Unauthenticated(_) => StatusCode::UNAUTHORIZED,
            Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::NotFound | Self::NotYours(_) => StatusCode::NOT_FOUND,
            Self::Conflict(_) | Self::InvalidTransition(_) | Self::OutOfStock(_) => {
                StatusCode::CONFLICT
            }
            Self::PreconditionFailed => StatusCode::PRECONDITION_FAILED,
            Self::PreconditionRequired => StatusCode::PRECONDITION_REQUIRED,
            Self::PersonalDataErased => StatusCode::GONE,
            Self::RateLimited(_) => StatusCode::TOO_MANY_REQUESTS,
            Self::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
            Self::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnsupportedMediaType { .. } => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        if let Self::Internal(cause) = self {
            tracing::error!(
                "request {} failed: {cause:#}",
                current_request_id().unwrap_or_default()
            );
        }
        let mut response = problem_response(
            self.status_code(),
            self.slug(),
            self.detail(),
            self.errors(),
        );
        match self {
            Self::MethodNotAllowed { allow } => {
                if let Ok(v) = header::HeaderValue::from_str(&allow.join(", ")) {
                    response.headers_mut().insert(header::ALLOW, v);
                }
            }
            Self::Unavailable(_) => {
                response
                    .headers_mut()
                    .insert(header::RETRY_AFTER, header::HeaderValue::from_static("1"));
            }
            Self::Unauthenticated(_) => {
                response.headers_mut().insert(
                    header::WWW_AUTHENTICATE,
                    header::HeaderValue::from_static("Bearer realm=\"valise\""),
                );
            }
            Self::RateLimited(limit) => {
                limit.apply(response.headers_mut());
                response
                    .headers_mut()
                    .insert(header::RETRY_AFTER, limit.retry_after_secs.into());
            }
            _ => {}
        }
        response
    }
}

/// The state of a rate limit, sent as `X-RateLimit-*` headers on limited routes, and as
/// `RateLimit` / `RateLimit-Policy` (the IETF httpapi draft's structured fields) when the
/// policy is named.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    pub limit: u32,
    pub remaining: u32,
    /// Seconds until the window resets.
    pub reset_secs: u64,
    /// Seconds to wait before retrying (0 when not limited).
    pub retry_after_secs: u64,
    /// The policy's name and window in seconds.
    pub policy: Option<(&'static str, u64)>,
}

impl RateLimit {
    pub fn apply(&self, headers: &mut header::HeaderMap) {
        if let Some((name, window)) = self.policy {
            let policy = format!("\"{name}\";q={};w={window}", self.limit);
            let state = format!("\"{name}\";r={};t={}", self.remaining, self.reset_secs);
            for (header, value) in [("ratelimit-policy", policy), ("ratelimit", state)] {
                if let Ok(value) = header::HeaderValue::from_str(&value) {
                    headers.insert(header::HeaderName::from_static(header), value);
                }
            }
        }
        headers.insert(
            header::HeaderName::from_static("x-ratelimit-limit"),
            self.limit.into(),
        );
        headers.insert(
            header::HeaderName::from_static("x-ratelimit-remaining"),
            self.remaining.into(),
        );
        headers.insert(
            header::HeaderName::from_static("x-ratelimit-reset"),
            self.reset_secs.into(),
        );
    }
}

impl From<DbError> for ApiError {
    fn from(e: DbError) -> Self {
        match e {
            // An exhausted pool is overload, not a bug: tell the client to retry shortly.
            DbError::Pool(_) => {
                tracing::warn!("database pool exhausted: {e}");
                Self::Unavailable("The service is busy; retry in a moment.".into())
            }
            DbError::Query(e) => e.into(),
            DbError::Blocking(_) => Self::Internal(anyhow::Error::new(e)),
        }
    }
}

impl From<crate::crypto::CryptoError> for ApiError {
    fn from(e: crate::crypto::CryptoError) -> Self {
        Self::Internal(anyhow::Error::new(e))
    }
}

impl From<diesel::result::Error> for ApiError {
    fn from(e: diesel::result::Error) -> Self {
        if is_write_contention(&e) {
            // Another process held SQLite's write lock past the busy timeout: overload.
            tracing::warn!("{e}");
            return Self::Unavailable("The service is busy; retry in a moment.".into());
        }
        if is_lost_connection(&e) {
            // The database server went away (a restart, a failover). The pool tests this
            // connection before handing it out again, so a retry gets a fresh one.
            tracing::warn!("database connection lost: {e}");
            return Self::Unavailable("The database is reconnecting; retry in a moment.".into());
        }
        Self::Internal(anyhow::Error::new(e))
    }
}

/// SQLite's "database is locked" (and "busy"): a writer waited longer than it may.
fn is_write_contention(e: &diesel::result::Error) -> bool {
    matches!(
        e,
        diesel::result::Error::DatabaseError(diesel::result::DatabaseErrorKind::Unknown, info)
            if info.message() == "database is locked" || info.message() == "database is busy"
    )
}

/// PostgreSQL's "server closed the connection" (and any error libpq reports as such).
fn is_lost_connection(e: &diesel::result::Error) -> bool {
    matches!(
        e,
        diesel::result::Error::DatabaseError(
            diesel::result::DatabaseErrorKind::ClosedConnection,
            _
        )
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use diesel::result::{DatabaseErrorKind, Error};

    #[test]
    fn a_locked_sqlite_database_or_a_lost_connection_is_a_503_not_a_500() {
        let locked = Error::DatabaseError(
            DatabaseErrorKind::Unknown,
            Box::new(String::from("database is locked")),
        );
        assert!(matches!(ApiError::from(locked), ApiError::Unavailable(_)));
        let broken = Error::DatabaseError(
            DatabaseErrorKind::Unknown,
            Box::new(String::from("no such table: x")),
        );
        assert!(matches!(ApiError::from(broken), ApiError::Internal(_)));
        let lost = Error::DatabaseError(
            DatabaseErrorKind::ClosedConnection,
            Box::new(String::from("server closed the connection unexpectedly")),
        );
        assert!(matches!(ApiError::from(lost), ApiError::Unavailable(_)));
    }
}
