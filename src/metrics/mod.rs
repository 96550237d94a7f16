//! Operational metrics in the Prometheus text format, served at `GET /metrics`.
//!
//! Labels never carry personal data: requests are labelled by the route *template*
//! (`/v1/orders/{number}`, never the number itself), a normalised method and the status code,
//! so every label value comes from the code, not from the client. Each [`Application`]
//! (crate::startup::Application) owns its own registry, so parallel test servers in one
//! process do not count each other's requests.

use std::time::Duration;

use actix_web::http::StatusCode;
use anyhow::Context;
use prometheus::{
    Encoder, Gauge, Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge,
    IntGaugeVec, Opts, Registry, TextEncoder,
};

use crate::db::replica::{ReadDb, ReadSource, ReplicaHealth};
use crate::db::Db;

/// The route label of a request that matched no route (404s, probes for random paths).
pub const UNMATCHED_ROUTE: &str = "unmatched";

/// Latency buckets in seconds: most requests here take a millisecond or two; Argon2id logins
/// and checkouts take tens to hundreds.
const LATENCY_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// Whether a retention run only reported what it would purge, or purged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RetentionMode {
    DryRun,
    Purge,
}

impl RetentionMode {
    fn label(self) -> &'static str {
        match self {
            Self::DryRun => "dry_run",
            Self::Purge => "purge",
        }
    }
}

pub struct Metrics {
    registry: Registry,
    requests: IntCounterVec,
    latency: HistogramVec,
    pool_connections: IntGaugeVec,
    pool_idle: IntGaugeVec,
    pool_max: IntGaugeVec,
    statements: IntCounterVec,
    outbox_pending: IntGauge,
    retention_runs: IntCounterVec,
    analytics: crate::analytics::ingest::IngestMetrics,
    /// The pools whose state is reported, by name (`primary`, and `catalog_replica` when a
    /// read replica is configured).
    pools: Vec<(&'static str, Db)>,
    /// Where reads that tolerate staleness went, and the replica's state.
    reads: Option<ReadRouting>,
}

struct ReadRouting {
    db: ReadDb,
    reads: IntCounterVec,
    lag: Gauge,
    up: IntGauge,
}

impl Metrics {
    pub fn new(pools: Vec<(&'static str, Db)>) -> anyhow::Result<Self> {
        let registry = Registry::new();
        let requests = IntCounterVec::new(
            Opts::new(
                "valise_http_requests_total",
                "HTTP requests served, by method, route template and status code.",
            ),
            &["method", "route", "status"],
        )?;
        let latency = HistogramVec::new(
            HistogramOpts::new(
                "valise_http_request_duration_seconds",
                "Time from receiving a request to its response being ready, by method, route \
                 template and status code.",
            )
            .buckets(LATENCY_BUCKETS.to_vec()),
            &["method", "route", "status"],
        )?;
        let pool_connections = IntGaugeVec::new(
            Opts::new(
                "valise_db_pool_connections",
                "Open database connections (idle and in use), per pool.",
            ),
            &["pool"],
        )?;
        let pool_idle = IntGaugeVec::new(
            Opts::new(
                "valise_db_pool_idle_connections",
                "Idle database connections, per pool.",
            ),
            &["pool"],
        )?;
        let pool_max = IntGaugeVec::new(
            Opts::new(
                "valise_db_pool_max_connections",
                "The most connections a pool opens (VALISE_DB_POOL_SIZE).",
            ),
            &["pool"],
        )?;
        let statements = IntCounterVec::new(
            Opts::new(
                "valise_db_statements_total",
                "Statements sent to the database (round trips, BEGIN and COMMIT included), per \
                 pool.",
            ),
            &["pool"],
        )?;
        let outbox_pending = IntGauge::new(
            "valise_outbox_pending_notifications",
            "Notifications in the outbox waiting for delivery (status pending).",
        )?;
        let retention_runs = IntCounterVec::new(
            Opts::new(
                "valise_retention_runs_total",
                "Retention runs, by mode (dry_run or purge), from the API and the hourly task.",
            ),
            &["mode"],
        )?;
        for mode in [RetentionMode::DryRun, RetentionMode::Purge] {
            // Present from the start, so a dashboard sees 0 rather than no series.
            retention_runs.with_label_values(&[mode.label()]);
        }
        let analytics = crate::analytics::ingest::IngestMetrics {
            buffered: IntGauge::new(
                "valise_analytics_buffered_events",
                "Analytics events accepted by this instance and not yet written to the database.",
            )?,
            written: IntCounter::new(
                "valise_analytics_events_written_total",
                "Analytics events written to the database by this instance.",
            )?,
            refused: IntCounter::new(
                "valise_analytics_events_refused_total",
                "Analytics events refused (503) because this instance's buffer was full.",
            )?,
        };
        registry.register(Box::new(analytics.buffered.clone()))?;
        registry.register(Box::new(analytics.written.clone()))?;
        registry.register(Box::new(analytics.refused.clone()))?;
        registry.register(Box::new(requests.clone()))?;
        registry.register(Box::new(latency.clone()))?;
        registry.register(Box::new(pool_connections.clone()))?;
        registry.register(Box::new(pool_idle.clone()))?;
        registry.register(Box::new(pool_max.clone()))?;
        registry.register(Box::new(statements.clone()))?;
        registry.register(Box::new(outbox_pending.clone()))?;
        registry.register(Box::new(retention_runs.clone()))?;
        Ok(Self {
            registry,
            requests,
            latency,
            pool_connections,
            pool_idle,
            pool_max,
            statements,
            outbox_pending,
            retention_runs,
            analytics,
            pools,
            reads: None,
        })
    }

    /// Also reports where the catalogue's reads went and, with a replica, its lag and
    /// whether reads use it.
    pub fn with_read_routing(mut self, db: ReadDb) -> anyhow::Result<Self> {
        let reads = IntCounterVec::new(
            Opts::new(
                "valise_catalog_db_reads_total",
                "Catalogue reads rendered from a database (not the response cache), by \
                 database: primary or replica.",
            ),
            &["database"],
        )?;
        for source in [ReadSource::Primary, ReadSource::Replica] {
            reads.with_label_values(&[source.label()]);
        }
        let lag = Gauge::new(
            "valise_replica_lag_seconds",
            "How long the read replica has not replayed WAL the primary wrote (0 when caught \
             up), as of the last probe (every 0.2 s).",
        )?;
        let up = IntGauge::new(
            "valise_replica_serving",
            "1 while the read replica answers within VALISE_REPLICA_MAX_LAG_MS, else 0 (reads \
             go to the primary).",
        )?;
        self.registry.register(Box::new(reads.clone()))?;
        if db.replica_lag().is_some() {
            self.registry.register(Box::new(lag.clone()))?;
            self.registry.register(Box::new(up.clone()))?;
        }
        self.reads = Some(ReadRouting { db, reads, lag, up });
        Ok(self)
    }

    /// The series counting requests with these labels: `method` from [`method_label`],
    /// `route` the matched route template or `None`. For a caller that keeps them (each
    /// worker's request middleware): each lookup here hashes the labels and takes the
    /// registry's lock, shared by every worker.
    pub fn request_series(
        &self,
        method: &'static str,
        route: Option<&str>,
        status: StatusCode,
    ) -> RequestSeries {
        let labels = [method, route.unwrap_or(UNMATCHED_ROUTE), status.as_str()];
        RequestSeries {
            requests: self.requests.with_label_values(&labels),
            latency: self.latency.with_label_values(&labels),
        }
    }

    /// Counts one retention run (for the retention task).
    pub fn record_retention_run(&self, mode: RetentionMode) {
        self.retention_runs.with_label_values(&[mode.label()]).inc();
    }

    /// The analytics buffer's series (for the buffer to keep).
    pub fn analytics_ingest(&self) -> crate::analytics::ingest::IngestMetrics {
        self.analytics.clone()
    }

    /// Reads the pool states and the read routing (cheap, in memory) for the next
    /// [`Self::render`].
    pub fn refresh_pools(&self) {
        if let Some(routing) = &self.reads {
            for source in [ReadSource::Primary, ReadSource::Replica] {
                // The router counts; the counter catches up with it.
                let counter = routing.reads.with_label_values(&[source.label()]);
                counter.inc_by(routing.db.reads(source).saturating_sub(counter.get()));
            }
            if let Some(lag) = routing.db.replica_lag() {
                routing.lag.set(lag.as_secs_f64());
            }
            routing
                .up
                .set(i64::from(routing.db.health() == ReplicaHealth::Serving));
        }
        for (name, db) in &self.pools {
            let (connections, idle) = db.pool_state();
            self.pool_connections
                .with_label_values(&[name])
                .set(i64::from(connections));
            self.pool_idle
                .with_label_values(&[name])
                .set(i64::from(idle));
            self.pool_max
                .with_label_values(&[name])
                .set(i64::from(db.pool_max_size()));
            let statements = self.statements.with_label_values(&[name]);
            statements.inc_by(db.statements_run().saturating_sub(statements.get()));
        }
    }

    pub fn set_outbox_pending(&self, pending: i64) {
        self.outbox_pending.set(pending);
    }

    /// Every metric in the Prometheus text exposition format.
    pub fn render(&self) -> anyhow::Result<Vec<u8>> {
        let mut out = Vec::with_capacity(16 * 1024);
        TextEncoder::new()
            .encode(&self.registry.gather(), &mut out)
            .context("encoding metrics")?;
        Ok(out)
    }
}

/// The request counter and latency histogram of one (method, route, status).
#[derive(Clone)]
pub struct RequestSeries {
    requests: IntCounter,
    latency: Histogram,
}

impl RequestSeries {
    pub fn observe(&self, elapsed: Duration) {
        self.requests.inc();
        self.latency.observe(elapsed.as_secs_f64());
    }
}

/// The method as a label: the standard ones by name, anything else as `OTHER`, so a client
/// cannot create series at will.
pub fn method_label(method: &actix_web::http::Method) -> &'static str {
    use actix_web::http::Method;
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "OTHER",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::http::Method;

    fn text(metrics: &Metrics) -> String {
        String::from_utf8(metrics.render().unwrap()).unwrap()
    }

    /// One served request, counted as the request middleware counts it.
    fn observe(
        metrics: &Metrics,
        method: &Method,
        route: Option<&str>,
        status: StatusCode,
        elapsed: Duration,
    ) {
        metrics
            .request_series(method_label(method), route, status)
            .observe(elapsed);
    }

    #[test]
    fn requests_are_counted_by_template_method_and_status() {
        let metrics = Metrics::new(Vec::new()).unwrap();
        let route = Some("/v1/orders/{number}");
        observe(
            &metrics,
            &Method::GET,
            route,
            StatusCode::OK,
            Duration::from_millis(3),
        );
        observe(
            &metrics,
            &Method::GET,
            route,
            StatusCode::OK,
            Duration::from_millis(3),
        );
        observe(
            &metrics,
            &Method::GET,
            None,
            StatusCode::NOT_FOUND,
            Duration::from_millis(1),
        );
        let out = text(&metrics);
        assert!(out.contains(
            r#"valise_http_requests_total{method="GET",route="/v1/orders/{number}",status="200"} 2"#
        ));
        assert!(out.contains(
            r#"valise_http_requests_total{method="GET",route="unmatched",status="404"} 1"#
        ));
    }

    #[test]
    fn unusual_methods_share_one_label() {
        let metrics = Metrics::new(Vec::new()).unwrap();
        let method = Method::from_bytes(b"BREW").unwrap();
        observe(
            &metrics,
            &method,
            None,
            StatusCode::METHOD_NOT_ALLOWED,
            Duration::ZERO,
        );
        let out = text(&metrics);
        assert!(out.contains(r#"method="OTHER""#) && !out.contains("BREW"));
    }

    #[test]
    fn retention_runs_are_exposed_before_the_first_run() {
        let metrics = Metrics::new(Vec::new()).unwrap();
        let out = text(&metrics);
        assert!(out.contains(r#"valise_retention_runs_total{mode="dry_run"} 0"#));
        assert!(out.contains(r#"valise_retention_runs_total{mode="purge"} 0"#));
        metrics.record_retention_run(RetentionMode::Purge);
        assert!(text(&metrics).contains(r#"valise_retention_runs_total{mode="purge"} 1"#));
    }
}
