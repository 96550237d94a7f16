//! HTTP caching for single resources: strong ETags from the body, `If-None-Match` → 304.

use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpRequest, HttpResponse};
use serde::Serialize;

use super::error::ApiError;

/// Public, short-lived: a CDN may absorb browsing traffic, and nothing personal is cached.
pub const PUBLIC_SHORT: &str = "public, max-age=5";
/// Content addressed by an immutable version.
pub const PUBLIC_IMMUTABLE: &str = "public, max-age=86400, immutable";
/// A private document: never stored by any cache.
pub const NO_STORE: &str = "no-store";

/// A strong ETag over the exact bytes sent.
pub fn etag_of(body: &[u8]) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, body);
    format!("\"{}\"", hex::encode(&digest.as_ref()[..16]))
}

/// Whether `If-None-Match` names `etag` (or `*`). Weak comparison, as RFC 9110 requires here.
pub fn if_none_match(req: &HttpRequest, etag: &str) -> bool {
    let Some(value) = req
        .headers()
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let opaque = |t: &str| t.trim().trim_start_matches("W/").to_owned();
    let wanted = opaque(etag);
    value
        .split(',')
        .any(|candidate| candidate.trim() == "*" || opaque(candidate) == wanted)
}

/// Serializes `value`, tags it, and answers 304 when the client already has it.
pub fn json_with_etag(
    req: &HttpRequest,
    value: &impl Serialize,
    cache_control: &'static str,
) -> Result<HttpResponse, ApiError> {
    let body = serde_json::to_vec(value).map_err(anyhow::Error::from)?;
    let etag = etag_of(&body);
    let mut response = if if_none_match(req, &etag) {
        HttpResponse::NotModified().finish()
    } else {
        HttpResponse::Ok()
            .content_type("application/json")
            .body(body)
    };
    let headers = response.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&etag) {
        headers.insert(header::ETAG, v);
    }
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static(cache_control),
    );
    Ok(response)
}

/// Pre-rendered JSON bytes with their strong ETag; 304 when the client already has them.
pub fn json_bytes_with_etag(
    req: &HttpRequest,
    body: actix_web::web::Bytes,
    etag: &HeaderValue,
    cache_control: &'static str,
) -> HttpResponse {
    let not_modified = etag.to_str().is_ok_and(|etag| if_none_match(req, etag));
    let mut response = if not_modified {
        HttpResponse::NotModified().finish()
    } else {
        HttpResponse::Ok()
            .content_type("application/json")
            .body(body)
    };
    let headers = response.headers_mut();
    headers.insert(header::ETAG, etag.clone());
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static(cache_control),
    );
    response
}

/// Serializes a public, non-versioned document (a listing) with the given caching.
pub fn json_public(
    value: &impl Serialize,
    cache_control: &'static str,
) -> Result<HttpResponse, ApiError> {
    let body = serde_json::to_vec(value).map_err(anyhow::Error::from)?;
    Ok(HttpResponse::Ok()
        .content_type("application/json")
        .insert_header((header::CACHE_CONTROL, cache_control))
        .body(body))
}

/// The raw `If-Match` header, captured in the handler for a check inside the transaction.
pub fn if_match_header(req: &HttpRequest) -> Option<String> {
    req.headers()
        .get(header::IF_MATCH)
        .map(|v| v.to_str().unwrap_or_default().to_owned())
}

/// The `If-Match` a change to a resource that requires one must carry: without it the
/// change is refused (428), since it would overwrite whatever version is current.
pub fn required_if_match(req: &HttpRequest) -> Result<String, ApiError> {
    if_match_header(req).ok_or(ApiError::PreconditionRequired)
}

/// Whether a write may proceed: no `If-Match`, `*`, or one naming `current_etag` (strong
/// comparison, as RFC 9110 requires for `If-Match`).
pub fn if_match_allows(if_match: Option<&str>, current_etag: &str) -> bool {
    match if_match {
        None => true,
        Some(value) => value
            .split(',')
            .map(str::trim)
            .any(|candidate| candidate == "*" || candidate == current_etag),
    }
}

/// A private JSON document with an ETag; 304 when the client already has it.
pub fn private_json_with_etag(
    req: &HttpRequest,
    value: &impl Serialize,
    etag: &str,
) -> Result<HttpResponse, ApiError> {
    let mut response = if if_none_match(req, etag) {
        HttpResponse::NotModified().finish()
    } else {
        HttpResponse::Ok().json(value)
    };
    if let Ok(v) = HeaderValue::from_str(etag) {
        response.headers_mut().insert(header::ETAG, v);
    }
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

/// Sets `ETag` on a built answer (when the tag is a valid header value, as ours are).
pub fn with_etag(mut response: HttpResponse, etag: &str) -> HttpResponse {
    if let Ok(v) = HeaderValue::from_str(etag) {
        response.headers_mut().insert(header::ETAG, v);
    }
    response
}
