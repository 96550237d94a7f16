//! Builds the application: database, shared state, routes, middleware, and the HTTP server.

use std::net::TcpListener;

use actix_cors::Cors;
use actix_web::dev::Server;
use actix_web::http::header;
use actix_web::middleware::{Compress, Condition};
use actix_web::web::{self, Bytes};
use actix_web::{App, HttpResponse, HttpServer};
use anyhow::Context;
use utoipa_actix_web::AppExt;
use utoipa_swagger_ui::SwaggerUi;

use crate::auth::TokenKeys;
use crate::config::{Config, CorsOrigins, Environment};
use crate::crypto::Crypto;
use crate::db::replica::ReadDb;
use crate::db::{migrations, Db};
use crate::http::error::ApiError;
use crate::http::extract::BODY_LIMIT;
use crate::http::limits::{self, Limits, Rule, Throttle};
use crate::http::route_table::{self, RouteTable};
use crate::http::{gate, health, middleware, openapi, problems};
use crate::metrics::Metrics;
use crate::operations::{self, metrics::MetricsAccess};
use crate::policies;
use crate::versions::Versions;
use crate::{
    accounts, analytics, audit, auth, carts, catalog, discounts, invoices, notifications, orders,
    payments, privacy, retention, shipping, tax, webhooks,
};

/// The OpenAPI document of the application: generated from exactly the routes it serves.
pub fn spec() -> utoipa::openapi::OpenApi {
    openapi::document(routes, limit_rules())
}

/// The document as committed under `openapi/openapi.json`.
pub fn spec_json() -> String {
    openapi::pretty_json(&spec())
}

/// What a room registers: its handlers, with their paths and schemas for the document.
pub type RouteGroup = fn(&mut utoipa_actix_web::service_config::ServiceConfig);

/// The routes under `/v1`, in registration order. Resources are tried in that order, a regex
/// for each dynamic one on the way: the busiest routes, catalogue reads, come first.
pub const PUBLIC_ROUTES: &[RouteGroup] = &[
    catalog::routes::configure,
    catalog::collections::configure_public,
    policies::configure,
    catalog::consultations::configure_public,
    carts::configure,
    shipping::configure,
    discounts::cart::configure,
    orders::checkout::configure,
    orders::routes::configure,
    orders::after_sales::configure,
    payments::routes::configure,
    invoices::routes::configure,
    auth::routes::configure,
    auth::mail_routes::configure,
    accounts::configure_me,
    accounts::addresses::configure,
    audit::routes::configure_me,
    notifications::routes::configure,
    privacy::consents::configure,
    privacy::export::configure,
    policies::admin::configure_me,
    privacy::data_map::configure,
    privacy::requests::routes::configure,
    privacy::requests::guest::configure,
    analytics::routes::configure,
    problems::configure,
];

/// The routes under `/v1/admin`, in registration order.
pub const ADMIN_ROUTES: &[RouteGroup] = &[
    accounts::configure_staff,
    auth::api_keys::configure,
    audit::routes::configure_admin,
    operations::keys::configure,
    catalog::admin::configure,
    catalog::collections::configure_admin,
    catalog::consultations::configure_admin,
    payments::routes::configure_admin,
    invoices::routes::configure_admin,
    // Before `orders::admin`, whose `/orders/{number}` would take `export.csv` for an
    // order number.
    orders::export::configure,
    orders::search::configure,
    orders::admin::configure,
    orders::admin_actions::configure,
    orders::after_sales::configure_admin,
    privacy::requests::admin::configure,
    privacy::requests::rectify::configure,
    policies::admin::configure_admin,
    retention::routes::configure,
    notifications::admin::configure,
    webhooks::routes::configure,
    analytics::routes::configure_admin,
    tax::routes::configure,
    shipping::configure_admin,
    discounts::routes::configure,
];

/// The probes, at the root, after the API.
pub const PROBE_ROUTES: &[RouteGroup] = &[health::configure, operations::metrics::configure];

/// Every documented route. The OpenAPI document is generated from exactly this list.
pub fn routes(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    use utoipa_actix_web::scope;
    let admin = ADMIN_ROUTES
        .iter()
        .fold(scope("/admin"), |scope, group| scope.configure(*group));
    let v1 = PUBLIC_ROUTES
        .iter()
        .fold(scope("/v1"), |scope, group| scope.configure(*group));
    cfg.service(v1.service(admin));
    for group in PROBE_ROUTES {
        cfg.configure(*group);
    }
}

/// The limited anonymous writes, as each room declares them beside its handlers.
const LIMITS: &[&[Rule]] = &[
    auth::routes::LIMITS,
    auth::mail_routes::LIMITS,
    carts::routes::LIMITS,
    discounts::cart::LIMITS,
    orders::checkout::LIMITS,
    orders::routes::LIMITS,
    orders::after_sales::LIMITS,
    payments::routes::LIMITS,
    privacy::requests::guest::LIMITS,
    catalog::consultations::routes::LIMITS,
    analytics::routes::LIMITS,
];

/// Every limited route with its policy: enforced by `http::limits`, documented in the
/// OpenAPI document.
pub fn limit_rules() -> impl Iterator<Item = &'static Rule> + Clone {
    LIMITS.iter().flat_map(|rules| rules.iter())
}

/// Routes served outside the OpenAPI document (the document itself and its viewer).
const UNDOCUMENTED_ROUTES: &[(&str, &[&str])] = &[
    ("/openapi.json", &["GET"]),
    ("/docs", &["GET"]),
    ("/docs/{_:.*}", &["GET"]),
];

/// Applies pending migrations and the data every instance needs (policy version 1).
pub fn prepare_database(db: &Db) -> anyhow::Result<()> {
    let mut conn = db.get()?;
    let applied = migrations::run_pending(&mut conn)?;
    if !applied.is_empty() {
        tracing::info!(
            "applied {} migration(s): {}",
            applied.len(),
            applied.join(", ")
        );
    }
    policies::store::ensure_initial(&mut conn).context("inserting policy version 1")?;
    crate::db::refresh_statistics(&mut conn, crate::db::Statistics::AtStart)
        .context("refreshing the query planner's statistics")?;
    Ok(())
}

/// Everything a running instance holds besides its HTTP server.
pub struct Services {
    pub db: Db,
    pub crypto: Crypto,
}

/// Opens the database, migrates it, loads the keys, and bootstraps the first admin.
pub fn services(config: &Config) -> anyhow::Result<Services> {
    let db = Db::connect_with(
        &config.database_url,
        config.db_pool_size,
        config.db_statements,
    )?;
    prepare_database(&db)?;
    let mut conn = db.get()?;
    shipping::store::follow_configuration(&mut conn, config.shop.shipping)
        .context("pricing the standard shipping method by the configuration")?;
    let crypto = Crypto::init(&config.master_keys, &mut conn).context("loading keys")?;
    if let Some(boot) = &config.admin_bootstrap {
        if accounts::staff::bootstrap_admin(
            &mut conn,
            &crypto,
            &boot.email,
            boot.password.expose(),
        )? {
            tracing::info!("created the first admin account from VALISE_ADMIN_EMAIL");
        }
    }
    let (seq, mac) = audit::store::head(&mut conn)?;
    tracing::info!("audit chain head: seq={seq} mac={}", hex::encode(mac));
    drop(conn);
    Ok(Services { db, crypto })
}

pub struct Application {
    port: u16,
    db: Db,
    crypto: Crypto,
    server: Server,
    /// Background tasks, aborted when the server stops.
    workers: Vec<actix_web::rt::task::JoinHandle<()>>,
    /// Analytics events accepted and not yet written: flushed when the server stops.
    ingest: web::Data<analytics::Ingest>,
}

struct SpecJson(Bytes);

impl Application {
    /// Opens the database, migrates it, and binds the listener (port 0 picks a free port).
    pub async fn build(config: Config) -> anyhow::Result<Self> {
        let Services { db, crypto } = services(&config)?;
        tracing::info!(
            "database: {} ({})",
            config.database_url.redacted(),
            db.backend().name()
        );
        let token_keys = web::Data::new(TokenKeys::load(&config.jwt_secret)?);
        let principals = web::Data::new(crate::auth::PrincipalCache::default());
        let app_crypto = crypto.clone();
        let crypto = web::Data::new(crypto);
        let versions = web::Data::new(Versions::load(&mut *db.get()?, crate::workers::versions())?);
        let shop = web::Data::new(config.shop.clone());
        let issuer = web::Data::new(crate::invoices::issue::Issuer::new(
            app_crypto.clone(),
            &config.shop.seller,
        ));
        let retention_settings = web::Data::new(crate::retention::Settings::from_config(&config));
        let analytics_settings =
            web::Data::new(analytics::Settings::from_config(&config.analytics));
        let response_cache = web::Data::new(catalog::cache::ResponseCache::default());
        let trusted_proxies = web::Data::new(config.trusted_proxies.clone());
        let export_settings = web::Data::new(privacy::export::ExportSettings {
            exports_per_hour: config.exports_per_hour,
        });
        let mut pools = vec![("primary", db.clone())];
        let read_db = match &config.read_database_url {
            Some(url) => {
                tracing::info!("catalogue reads go to the replica {}", url.redacted());
                let replica = Db::connect_with(url, config.db_pool_size, config.db_statements)?;
                pools.push(("catalog_replica", replica.clone()));
                ReadDb::with_replica(db.clone(), replica, config.replica_max_lag)
            }
            None => ReadDb::primary_only(db.clone()),
        };
        read_db.probe().await;
        let catalog_db = web::Data::new(catalog::CatalogDb(read_db.clone()));
        let metrics = web::Data::new(
            Metrics::new(pools)
                .and_then(|m| m.with_read_routing(read_db.clone()))
                .context("registering metrics")?,
        );
        let ingest = web::Data::new(analytics::Ingest::new(
            analytics_settings.ingest_limit(),
            config.analytics.buffer_events,
            metrics.analytics_ingest(),
        ));
        let metrics_access = web::Data::new(MetricsAccess::from_config(&config)?);
        if config.metrics_token.is_none() && config.environment == Environment::Production {
            tracing::info!(
                "GET /metrics answers admins only: set VALISE_METRICS_TOKEN for a scraper"
            );
        }
        let payment_settings = web::Data::new(
            payments::provider::PaymentSettings::from_config(&config)
                .context("building the payment providers")?,
        );
        let webhook_settings = web::Data::new(webhooks::routes::WebhookSettings {
            endpoints: webhooks::model::EndpointRules {
                allow_http: config.environment != Environment::Production,
                allow_private: config.delivery.webhook_allow_private,
            },
        });
        // Background work; every instance runs it, each task is safe with several processes.
        let mut workers = crate::workers::spawn_all(crate::workers::Context {
            db: &db,
            crypto: &app_crypto,
            config: &config,
            versions: &versions,
            retention: retention_settings.get_ref(),
            metrics: &metrics,
            analytics: &ingest,
        })?;

        let spec = spec();
        let routes = web::Data::new(RouteTable::from_spec(&spec, UNDOCUMENTED_ROUTES)?);
        let limits = web::Data::new(Limits::new(
            &routes,
            limit_rules(),
            config.rate_limit_scale,
        )?);
        workers.push(limits::spawn_sweeper(limits.clone()));
        workers.extend(read_db.spawn_monitor());
        let read_db = web::Data::new(read_db);
        let spec_json = web::Data::new(SpecJson(Bytes::from(
            serde_json::to_vec(&spec).context("serializing the OpenAPI document")?,
        )));
        let app_db = db.clone();
        let app_ingest = ingest.clone();
        let db = web::Data::new(db);
        let cors_origins = config.cors_origins.clone();

        let listener =
            TcpListener::bind(config.bind).with_context(|| format!("binding {}", config.bind))?;
        let port = listener.local_addr()?.port();
        let mut server = HttpServer::new(move || {
            App::new()
                .into_utoipa_app()
                .configure(routes_config)
                .into_app()
                .app_data(db.clone())
                .app_data(crypto.clone())
                .app_data(token_keys.clone())
                .app_data(principals.clone())
                .app_data(versions.clone())
                .app_data(shop.clone())
                .app_data(retention_settings.clone())
                .app_data(analytics_settings.clone())
                .app_data(ingest.clone())
                .app_data(response_cache.clone())
                .app_data(catalog_db.clone())
                .app_data(read_db.clone())
                .app_data(trusted_proxies.clone())
                .app_data(export_settings.clone())
                .app_data(payment_settings.clone())
                .app_data(issuer.clone())
                .app_data(webhook_settings.clone())
                .app_data(routes.clone())
                .app_data(spec_json.clone())
                .app_data(metrics.clone())
                .app_data(metrics_access.clone())
                .app_data(
                    web::PathConfig::default().error_handler(|_, _| ApiError::NotFound.into()),
                )
                .app_data(web::PayloadConfig::default().limit(BODY_LIMIT))
                .route("/openapi.json", web::get().to(serve_spec))
                .service(web::redirect("/docs", "/docs/"))
                .service(
                    SwaggerUi::new("/docs/{_:.*}")
                        .config(utoipa_swagger_ui::Config::new(["/openapi.json"])),
                )
                .default_service(web::to(route_table::no_route))
                .wrap(auth::extract::Authenticate)
                .wrap(Throttle::new(
                    limits.clone(),
                    routes.clone(),
                    trusted_proxies.clone(),
                ))
                .wrap(gate::compress(Compress::default()))
                .wrap(Condition::new(
                    cors_origins != CorsOrigins::None,
                    gate::cors(cors(&cors_origins)),
                ))
                .wrap(
                    middleware::RequestContext::new()
                        .with_metrics(metrics.clone(), routes.clone())
                        .with_versions(versions.clone()),
                )
        })
        // In-flight requests get this long to finish after SIGTERM/SIGINT.
        .shutdown_timeout(30);
        if let Some(workers) = config.workers {
            server = server.workers(workers);
        }
        let server = server.listen(listener)?.run();
        Ok(Self {
            port,
            db: app_db,
            crypto: app_crypto,
            server,
            workers,
            ingest: app_ingest,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The application's database handle (for CLI tasks and tests).
    pub fn db(&self) -> Db {
        self.db.clone()
    }

    /// The application's crypto service (for CLI tasks and tests).
    pub fn crypto(&self) -> Crypto {
        self.crypto.clone()
    }

    /// The analytics buffer (tests flush it to see what was accepted).
    pub fn analytics_ingest(&self) -> std::sync::Arc<analytics::Ingest> {
        self.ingest.clone().into_inner()
    }

    pub fn handle(&self) -> actix_web::dev::ServerHandle {
        self.server.handle()
    }

    /// Serves until the server is stopped (by a signal or through [`Self::handle`]).
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let result = self.server.await;
        // The requests are done: write what they left in the analytics buffer, then stop
        // the loops (the flusher may be writing a group: the flush waits for it).
        match self.ingest.flush(&self.db).await {
            Ok(0) => {}
            Ok(written) => tracing::info!("wrote {written} buffered analytics event(s) at stop"),
            Err(e) => tracing::error!(
                "{} buffered analytics event(s) lost at stop: {e}",
                self.ingest.buffered()
            ),
        }
        for worker in &self.workers {
            worker.abort();
        }
        result
    }
}

fn routes_config(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    routes(cfg)
}

async fn serve_spec(spec: web::Data<SpecJson>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .insert_header((header::CACHE_CONTROL, "public, max-age=60"))
        .body(spec.0.clone())
}

fn cors(origins: &CorsOrigins) -> Cors {
    let cors = Cors::default()
        .allowed_methods(["GET", "POST", "PUT", "PATCH", "DELETE"])
        .allowed_headers([
            header::AUTHORIZATION,
            header::CONTENT_TYPE,
            header::ACCEPT,
            header::IF_MATCH,
            header::IF_NONE_MATCH,
            header::HeaderName::from_static("x-request-id"),
            header::HeaderName::from_static("idempotency-key"),
            auth::extract::API_KEY,
            header::HeaderName::from_static("x-cart-token"),
            header::HeaderName::from_static("x-order-token"),
        ])
        .expose_headers([
            header::ETAG,
            header::RETRY_AFTER,
            header::LOCATION,
            header::HeaderName::from_static("x-request-id"),
            header::HeaderName::from_static("x-policy-version"),
            header::HeaderName::from_static("idempotent-replayed"),
            header::HeaderName::from_static("x-ratelimit-limit"),
            header::HeaderName::from_static("x-ratelimit-remaining"),
            header::HeaderName::from_static("x-ratelimit-reset"),
        ])
        .max_age(3600);
    match origins {
        // Any origin, never with credentials: the API authenticates with headers, not cookies.
        CorsOrigins::Any => cors.allow_any_origin().send_wildcard(),
        CorsOrigins::List(list) => list
            .iter()
            .fold(cors, |cors, origin| cors.allowed_origin(origin)),
        CorsOrigins::None => cors,
    }
}
