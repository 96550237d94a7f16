//! The public catalogue reads (the product listing, a product, the collections) as they are
//! all served: from the response cache while the catalogue version they were rendered under
//! is current, else rendered from the catalogue database and cached, with a strong ETag and
//! a 304 for a client that already has the bytes.

use std::future::{ready, Ready};

use actix_web::dev::Payload;
use actix_web::web::{self, Bytes};
use actix_web::{FromRequest, HttpRequest, HttpResponse};

use super::cache::{Rendered, ResponseCache};
use super::CatalogDb;
use crate::db::DbConnection;
use crate::http::cache::{json_bytes_with_etag, PUBLIC_SHORT};
use crate::http::error::ApiError;
use crate::versions::Versions;

/// A cached catalogue read, taken from the request: the database reads go to, the cache,
/// and the catalogue version this instance serves.
pub struct CachedRead {
    req: HttpRequest,
    db: web::Data<CatalogDb>,
    cache: web::Data<ResponseCache>,
    version: i64,
    /// The primary's WAL position the database must have reached to render `version`.
    wal: Option<u64>,
}

impl CachedRead {
    /// Answers `key` from the cache, or renders it with `render` and caches it; 304 when
    /// `If-None-Match` names its ETag. Public and cacheable for 5 seconds either way.
    pub async fn json<T, F>(self, key: String, render: F) -> Result<HttpResponse, ApiError>
    where
        T: serde::Serialize,
        F: FnOnce(&mut DbConnection) -> Result<T, ApiError> + Send + 'static,
    {
        match self.hit(&key) {
            Some(response) => Ok(response),
            None => self.render(key, render).await,
        }
    }

    /// The answer cached under `key`, without rendering anything: for a read that looks in
    /// the cache before it parses its request. `None` obliges the caller to [`Self::render`]
    /// it (of the requests finding an entry stale, the first is the one that refreshes it).
    pub fn hit(&self, key: &str) -> Option<HttpResponse> {
        self.cache
            .get(self.version, key)
            .map(|rendered| self.respond(rendered))
    }

    /// Renders `key` with `render`, caches it and answers it, after [`Self::hit`] missed.
    pub async fn render<T, F>(self, key: String, render: F) -> Result<HttpResponse, ApiError>
    where
        T: serde::Serialize,
        F: FnOnce(&mut DbConnection) -> Result<T, ApiError> + Send + 'static,
    {
        // A replica that has not replayed this version's change would render the previous
        // one, and the cache would keep it as this version's.
        let (db, _) = self.db.0.for_reading(self.wal);
        let rendered = db
            .run(move |conn| {
                let value = render(conn)?;
                serde_json::to_vec(&value)
                    .map(|b| Rendered::new(Bytes::from(b)))
                    .map_err(|e| ApiError::Internal(e.into()))
            })
            .await?;
        self.cache.put(self.version, key, rendered.clone());
        Ok(self.respond(rendered))
    }

    fn respond(&self, rendered: Rendered) -> HttpResponse {
        json_bytes_with_etag(&self.req, rendered.body, &rendered.etag, PUBLIC_SHORT)
    }
}

impl FromRequest for CachedRead {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(Self::of(req))
    }
}

impl CachedRead {
    fn of(req: &HttpRequest) -> Result<Self, ApiError> {
        fn state<T: 'static>(req: &HttpRequest, what: &str) -> Result<web::Data<T>, ApiError> {
            req.app_data::<web::Data<T>>()
                .cloned()
                .ok_or_else(|| ApiError::Internal(anyhow::anyhow!("{what} is not registered")))
        }
        let (version, wal) = state::<Versions>(req, "the versions")?.catalog_read();
        Ok(CachedRead {
            req: req.clone(),
            db: state(req, "the catalogue database")?,
            cache: state(req, "the response cache")?,
            version,
            wal,
        })
    }
}
