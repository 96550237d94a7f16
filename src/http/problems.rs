//! The catalogue of problem types: every `type` an error answer can carry, with its fixed
//! title, when it happens and what a client should do. Served at `GET /v1/problems` (and one
//! at `GET /v1/problems/{slug}`), so the `urn:valise:problem:<slug>` of any answer can be
//! looked up; a test checks that every slug the code can produce is listed.

use actix_web::{get, web, HttpResponse};
use serde::Serialize;
use utoipa::ToSchema;

use super::cache::{json_with_etag, PUBLIC_IMMUTABLE};
use super::error::{ApiError, Problem, TYPE_PREFIX};

/// One problem type.
#[derive(Debug, Clone, Copy)]
pub struct ProblemType {
    /// The stable part of `type`: `urn:valise:problem:<slug>`.
    pub slug: &'static str,
    /// The HTTP status its answers carry.
    pub status: u16,
    /// The title every answer of this type carries.
    pub title: &'static str,
    /// When it happens.
    pub when: &'static str,
    /// What a client should do about it.
    pub action: &'static str,
}

macro_rules! problems {
    ($( $slug:literal, $status:literal, $title:literal, $when:literal, $action:literal; )*) => {
        pub const CATALOGUE: &[ProblemType] = &[
            $( ProblemType { slug: $slug, status: $status, title: $title, when: $when, action: $action }, )*
        ];
    };
}

problems! {
    "bad-request", 400, "Bad request",
        "A header the operation needs is missing or malformed (e.g. `Idempotency-Key`).",
        "Fix the request as the detail says; do not retry it unchanged.";
    "unauthenticated", 401, "Authentication required",
        "No credentials were sent where they are needed, or the ones sent are invalid or expired.",
        "Send `Authorization: Bearer <access token>` (refresh it at `/v1/auth/refresh`) or `X-Api-Key`; log in again if refreshing fails.";
    "forbidden", 403, "Not allowed",
        "The caller is known but may not do this: a role too low, an API key where a person must act, an account being erased.",
        "Do not retry; ask someone whose role allows it.";
    "not-found", 404, "Not found",
        "Nothing exists at this address, or it is not the caller's: the two are the same answer on purpose.",
        "Check the id; guests send the resource's token (`X-Cart-Token`, `X-Order-Token`) as the detail says.";
    "method-not-allowed", 405, "Method not allowed",
        "The path exists but not with this method.",
        "Use one of the methods in `Allow`.";
    "conflict", 409, "Conflict",
        "The request clashes with the resource's state, or raced with another request for it.",
        "Read the resource again; retry when the detail says so.";
    "invalid-transition", 409, "Invalid state transition",
        "The order, payment or request is not in a state this action applies to.",
        "Read it again and offer only its `allowed_transitions`.";
    "out-of-stock", 409, "Out of stock",
        "A line asks for more units than the variant has available now.",
        "Lower the quantity to what the detail names, or remove the line.";
    "gone", 410, "Gone",
        "What was asked for existed and is gone for good.",
        "Do not retry.";
    "personal-data-erased", 410, "Personal data erased",
        "A replayed request's first answer held personal data that has since been erased.",
        "Read the resource itself instead of replaying the request.";
    "precondition-failed", 412, "Precondition failed",
        "`If-Match` names a version that is no longer current.",
        "Read the resource again, reapply the change, send its new `ETag`.";
    "precondition-required", 428, "Precondition required",
        "A change to a resource that requires `If-Match` (shipping carriers and methods) came without one.",
        "Read the resource, then send the change with its `ETag` in `If-Match`.";
    "payload-too-large", 413, "Payload too large",
        "The request body is over 64 KiB.",
        "Send a smaller body.";
    "unsupported-media-type", 415, "Unsupported media type",
        "The body is not `application/json`.",
        "Send JSON with `Content-Type: application/json`.";
    "validation-failed", 422, "Validation failed",
        "A field of the body, query or path is missing, unknown or invalid; `errors` names each.",
        "Fix the fields listed in `errors`.";
    "sensitive-data-refused", 422, "Sensitive data refused",
        "A free-text field holds what looks like a card, bank account or identity-document number, which the shop never collects.",
        "Remove it from the field named in `errors`.";
    "idempotency-key-reused", 422, "Idempotency key reused",
        "The `Idempotency-Key` was used before for a different request.",
        "Use a new key for a new request; resend the first request unchanged to replay it.";
    "discount-code-unknown", 422, "Unknown discount code",
        "No active discount code is spelled so (codes are case-insensitive; a withdrawn code is unknown).",
        "Check the code's spelling, or remove it.";
    "discount-code-not-yet-valid", 422, "Discount code not valid yet",
        "The discount code's validity window has not begun.",
        "Use it from the day it starts, or remove it.";
    "discount-code-expired", 422, "Discount code expired",
        "The discount code's validity window has ended.",
        "Remove the code.";
    "discount-code-below-minimum", 422, "Below the discount code's minimum",
        "The cart's goods subtotal is below the minimum the code asks for; the detail names it.",
        "Add goods up to the minimum, or remove the code.";
    "discount-code-used-up", 422, "Discount code used up",
        "Every use the discount code allows is taken.",
        "Remove the code (at checkout: check out without it, at the price shown).";
    "discount-code-already-used", 422, "Discount code already used",
        "This customer already used the code as often as it allows one customer.",
        "Remove the code (at checkout: check out without it, at the price shown).";
    "rate-limited", 429, "Too many requests",
        "A rate limit is spent: per client, per account, or for everyone.",
        "Wait `Retry-After` seconds; `RateLimit` and `RateLimit-Policy` say which limit.";
    "internal-error", 500, "Internal server error",
        "Something failed on the server; it is logged with the request id.",
        "Retry later; report the `request_id` if it persists.";
    "service-unavailable", 503, "Service unavailable",
        "The service is overloaded, its database is reconnecting, or too many analytics events wait to be stored.",
        "Retry after `Retry-After` seconds.";
}

/// The catalogue entry of `slug`.
pub fn find(slug: &str) -> Option<&'static ProblemType> {
    CATALOGUE.iter().find(|p| p.slug == slug)
}

/// Every problem type.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"data": [{
    "type": "urn:valise:problem:out-of-stock", "slug": "out-of-stock", "status": 409,
    "title": "Out of stock",
    "when": "A line asks for more units than the variant has available now.",
    "action": "Lower the quantity to what the detail names, or remove the line."
}]}))]
pub struct ProblemTypeList {
    /// Every problem type of the API, each once.
    pub data: Vec<ProblemTypeView>,
}

/// A problem type as served.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({
    "type": "urn:valise:problem:out-of-stock", "slug": "out-of-stock", "status": 409,
    "title": "Out of stock",
    "when": "A line asks for more units than the variant has available now.",
    "action": "Lower the quantity to what the detail names, or remove the line."
}))]
pub struct ProblemTypeView {
    /// The `type` of the answers of this kind: `urn:valise:problem:` and the slug.
    #[serde(rename = "type")]
    #[schema(
        pattern = "^urn:valise:problem:[a-z]+(?:-[a-z]+)*$",
        example = "urn:valise:problem:out-of-stock"
    )]
    pub problem_type: String,
    /// The stable, lower-case part of `type`, as `GET /v1/problems/{slug}` takes it.
    #[schema(pattern = "^[a-z]+(?:-[a-z]+)*$", example = "out-of-stock")]
    pub slug: &'static str,
    /// The HTTP status answers of this type carry.
    #[schema(minimum = 400, maximum = 599, example = 409)]
    pub status: u16,
    /// The `title` every answer of this type carries, in English.
    #[schema(example = "Out of stock")]
    pub title: &'static str,
    /// When answers of this type happen.
    pub when: &'static str,
    /// What a client should do about it.
    pub action: &'static str,
}

impl From<&ProblemType> for ProblemTypeView {
    fn from(p: &ProblemType) -> Self {
        Self {
            problem_type: format!("{TYPE_PREFIX}{}", p.slug),
            slug: p.slug,
            status: p.status,
            title: p.title,
            when: p.when,
            action: p.action,
        }
    }
}

pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(list_problem_types).service(get_problem_type);
}

/// List problem types.
///
/// Every `type` an error answer of this API can carry, with its title, when it happens and
/// what to do about it.
#[utoipa::path(
    operation_id = "listProblemTypes",
    tag = "problems",
    responses(
        (status = 200, description = "Every problem type", body = ProblemTypeList),
        (status = 304, description = "Not changed since the `ETag` sent in `If-None-Match`"),
    )
)]
#[get("/problems")]
async fn list_problem_types(req: actix_web::HttpRequest) -> Result<HttpResponse, ApiError> {
    let list = ProblemTypeList {
        data: CATALOGUE.iter().map(ProblemTypeView::from).collect(),
    };
    json_with_etag(&req, &list, PUBLIC_IMMUTABLE)
}

/// Get a problem type.
///
/// What `urn:valise:problem:<slug>` means: its title, status, when it happens and what to do.
#[utoipa::path(
    operation_id = "getProblemType",
    tag = "problems",
    params(("slug" = String, Path, description = "The slug of a problem `type` (what follows `urn:valise:problem:`)", example = "out-of-stock")),
    responses(
        (status = 200, description = "The problem type", body = ProblemTypeView),
        (status = 304, description = "Not changed since the `ETag` sent in `If-None-Match`"),
        (status = 404, description = "No such problem type", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/problems/{slug}")]
async fn get_problem_type(
    req: actix_web::HttpRequest,
    slug: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let problem = find(&slug).ok_or(ApiError::NotFound)?;
    json_with_etag(&req, &ProblemTypeView::from(problem), PUBLIC_IMMUTABLE)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::error::{slug_for, RateLimit};
    use actix_web::http::StatusCode;
    use actix_web::ResponseError;

    #[test]
    fn every_slug_the_code_can_answer_is_in_the_catalogue_with_its_status() {
        let limit = RateLimit {
            limit: 1,
            remaining: 0,
            reset_secs: 1,
            retry_after_secs: 1,
            policy: None,
        };
        let errors = [
            ApiError::validation("x", "y"),
            ApiError::SensitiveData { field: "x".into() },
            ApiError::Unauthenticated("x"),
            ApiError::Forbidden("x"),
            ApiError::NotFound,
            ApiError::NotYours("x"),
            ApiError::conflict("x"),
            ApiError::PreconditionFailed,
            ApiError::PreconditionRequired,
            ApiError::RateLimited(limit),
            ApiError::MethodNotAllowed { allow: vec![] },
            ApiError::PayloadTooLarge { limit: 1 },
            ApiError::UnsupportedMediaType { expected: "x" },
            ApiError::BadRequest("x".into()),
            ApiError::Unavailable("x".into()),
            ApiError::Internal(anyhow::anyhow!("x")),
            ApiError::PersonalDataErased,
            ApiError::IdempotencyKeyReused,
            ApiError::InvalidTransition("x".into()),
            ApiError::OutOfStock("x".into()),
            ApiError::NotApplicable {
                slug: "discount-code-expired",
                detail: "x".into(),
            },
        ];
        for error in &errors {
            let entry = find(error.slug()).unwrap_or_else(|| panic!("{} missing", error.slug()));
            assert_eq!(
                entry.status,
                error.status_code().as_u16(),
                "{}",
                error.slug()
            );
        }
        for status in [
            400u16, 401, 403, 404, 405, 409, 410, 412, 413, 415, 422, 428, 429, 500, 503,
        ] {
            let slug = slug_for(StatusCode::from_u16(status).unwrap());
            assert!(find(slug).is_some(), "{status}: {slug}");
        }
        let slugs: std::collections::HashSet<&str> = CATALOGUE.iter().map(|p| p.slug).collect();
        assert_eq!(slugs.len(), CATALOGUE.len(), "one entry a slug");
    }
}
