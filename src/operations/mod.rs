//! The operator's endpoints: the Prometheus scrape (`GET /metrics`) and master-key rotation
//! (`POST /v1/admin/keys/rotate`). They sit above the plumbing they drive (metrics, crypto),
//! which knows no accounts, roles or domains.

pub mod keys;
pub mod metrics;
