//! The outermost middleware: request id, access log, and the headers every response carries.
//!
//! It also guarantees the error contract: any 4xx/5xx response that is not already a problem
//! document (the framework's own 405, a CORS rejection, …) is replaced by one.

use std::time::Instant;

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::error::InternalError;
use actix_web::http::header::{self, HeaderMap, HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{web, Error, HttpResponse};

use super::error::{problem_response, slug_for, ApiError, PROBLEM_CONTENT_TYPE};
use super::route_table::RouteTable;
use crate::metrics::Metrics;
use crate::versions::Versions;

pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");
pub const POLICY_VERSION: HeaderName = HeaderName::from_static("x-policy-version");

/// The log target of the access log (one line per request).
const ACCESS_LOG: &str = "valise::access";

tokio::task_local! {
    static CURRENT_REQUEST_ID: HeaderValue;
}

/// The id of the request being served on this task, if any.
pub fn current_request_id() -> Option<String> {
    CURRENT_REQUEST_ID
        .try_with(|id| id.to_str().unwrap_or_default().to_owned())
        .ok()
}

/// A client-supplied id is kept when it is short and plain (so it cannot inject into logs);
/// otherwise a fresh UUIDv7 is used.
fn request_id_from(req: &ServiceRequest) -> HeaderValue {
    req.headers()
        .get(&REQUEST_ID)
        .filter(|v| {
            let id = v.as_bytes();
            !id.is_empty()
                && id.len() <= 128
                && id
                    .iter()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(b))
        })
        .cloned()
        .unwrap_or_else(new_request_id)
}

fn new_request_id() -> HeaderValue {
    let mut buffer = [0u8; uuid::fmt::Hyphenated::LENGTH];
    let id = uuid::Uuid::now_v7().hyphenated().encode_lower(&mut buffer);
    // Hex digits and hyphens: always a valid header value.
    HeaderValue::from_str(id).unwrap_or(HeaderValue::from_static("-"))
}

pub async fn request_context(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    let started = Instant::now();
    let request_id = request_id_from(&req);
    let method = req.method().clone();
    // The path only (query strings may carry filters we do not want in logs), and only when
    // the access log is on.
    let path =
        log::log_enabled!(target: ACCESS_LOG, log::Level::Info).then(|| req.path().to_owned());
    let versions = req.app_data::<web::Data<Versions>>().cloned();
    // The route template (`/v1/orders/{number}`), never the concrete path: paths hold ids.
    let metrics = req.app_data::<web::Data<Metrics>>().cloned().map(|m| {
        let route = req
            .app_data::<web::Data<RouteTable>>()
            .and_then(|table| table.template(req.path()));
        (m, route)
    });

    let outcome = CURRENT_REQUEST_ID
        .scope(request_id.clone(), async move {
            match next.call(req).await {
                Ok(res) => {
                    let (req, response) = res.map_into_boxed_body().into_parts();
                    Ok(ServiceResponse::new(req, ensure_problem(response)))
                }
                // Rare: an error that no inner layer turned into a response. Keep the error
                // for actix, but give it the same problem body.
                Err(err) => Err((ensure_problem(err.error_response()), err)),
            }
        })
        .await;

    // Read after the handler, so a publish answers with the version it made current.
    let policy_version = versions.map(|v| v.policy());
    let status = match &outcome {
        Ok(res) => res.status(),
        Err((response, _)) => response.status(),
    };
    let elapsed = started.elapsed();
    if let Some((metrics, route)) = metrics {
        metrics.observe_request(&method, route.as_deref(), status, elapsed);
    }
    if let Some(path) = path {
        log::info!(
            target: ACCESS_LOG,
            "{method} {path} {} {:.1}ms rid={}",
            status.as_u16(),
            elapsed.as_secs_f64() * 1000.0,
            request_id.to_str().unwrap_or_default(),
        );
    }
    match outcome {
        Ok(mut res) => {
            decorate(res.headers_mut(), request_id, policy_version);
            Ok(res)
        }
        Err((mut response, err)) => {
            decorate(response.headers_mut(), request_id, policy_version);
            Err(InternalError::from_response(err, response).into())
        }
    }
}

/// Headers every response carries.
fn decorate(headers: &mut HeaderMap, request_id: HeaderValue, policy_version: Option<i32>) {
    headers.insert(REQUEST_ID, request_id);
    if let Some(version) = policy_version {
        headers.insert(POLICY_VERSION, HeaderValue::from(version));
    }
    // Safe by default: only handlers that serve public data opt in to caching.
    if !headers.contains_key(header::CACHE_CONTROL) {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
}

/// Replaces a bare error response with a problem document of the same status.
fn ensure_problem(response: HttpResponse<BoxBody>) -> HttpResponse<BoxBody> {
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return response;
    }
    let is_problem = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|ct| ct.as_bytes().starts_with(PROBLEM_CONTENT_TYPE.as_bytes()));
    if is_problem {
        return response;
    }
    if status.is_server_error() {
        if let Some(err) = response.error() {
            if err.as_error::<ApiError>().is_none() {
                log::error!(
                    "request {} failed: {err}",
                    current_request_id().unwrap_or_default()
                );
            }
        }
    }
    let detail = match status.as_u16() {
        s if s >= 500 => {
            "An unexpected error occurred; it has been logged with the request id.".to_owned()
        }
        _ => status
            .canonical_reason()
            .unwrap_or("The request was refused")
            .to_owned(),
    };
    let mut problem = problem_response(status, slug_for(status), detail, None);
    // Keep what outer layers added (CORS, Allow, Retry-After); only the body changes.
    for (name, value) in response.headers() {
        if ![
            header::CONTENT_TYPE,
            header::CONTENT_LENGTH,
            header::CONTENT_ENCODING,
        ]
        .contains(name)
        {
            problem.headers_mut().append(name.clone(), value.clone());
        }
    }
    problem
}
