//! HTTP plumbing shared by every domain: errors, extractors, middleware, caching, OpenAPI.

pub mod cache;
pub mod client_ip;
pub mod csv;
pub mod error;
pub mod extract;
pub mod gate;
pub mod health;
pub mod limits;
pub mod middleware;
pub mod openapi;
pub mod pagination;
pub mod probe;
pub mod problems;
pub mod request_id;
pub mod route_table;

/// A `201 Created` that names the new resource in `Location`: the path, on this server, where
/// it can be read or changed.
pub fn created(location: &str) -> actix_web::HttpResponseBuilder {
    let mut builder = actix_web::HttpResponse::Created();
    builder.insert_header((actix_web::http::header::LOCATION, location));
    builder
}
