//! HTTP plumbing shared by every domain: errors, extractors, middleware, caching, OpenAPI.

pub mod cache;
pub mod client_ip;
pub mod error;
pub mod extract;
pub mod gate;
pub mod health;
pub mod limits;
pub mod middleware;
pub mod openapi;
pub mod pagination;
pub mod problems;
pub mod route_table;
