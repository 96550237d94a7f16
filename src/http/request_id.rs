//! The server's own id of each request: made by the request middleware, carried in
//! `X-Request-Id`, the problem documents, the logs and the audit chain. A leaf, so that error
//! rendering and the middleware both read it without importing each other.

use actix_web::http::header::{HeaderName, HeaderValue};

pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

tokio::task_local! {
    /// Set by the request middleware for the whole of each request.
    pub(super) static CURRENT_REQUEST_ID: HeaderValue;
}

/// The id of the request being served on this task, if any.
pub fn current_request_id() -> Option<String> {
    CURRENT_REQUEST_ID
        .try_with(|id| id.to_str().unwrap_or_default().to_owned())
        .ok()
}

/// A new id: a UUIDv7 (time-ordered within a worker).
pub(super) fn new_request_id() -> HeaderValue {
    // `Uuid::now_v7` keeps its counter behind one process-wide mutex, which every worker
    // would take on every request; ids need to be unique (their random bits see to that),
    // ordered only within a worker.
    thread_local! {
        static CONTEXT: uuid::ContextV7 = const { uuid::ContextV7::new() };
    }
    let id = CONTEXT.with(|context| uuid::Uuid::new_v7(uuid::Timestamp::now(context)));
    let mut buffer = [0u8; uuid::fmt::Hyphenated::LENGTH];
    let id = id.hyphenated().encode_lower(&mut buffer);
    // Hex digits and hyphens: always a valid header value.
    HeaderValue::from_str(id).unwrap_or(HeaderValue::from_static("-"))
}
