//! Typed settings from the environment (see the README's configuration table).
//!
//! Every variable is optional for a local run. An invalid value stops the start with one line
//! naming the variable and what was expected; the value itself is never echoed, since some
//! variables carry credentials.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use rustls_pki_types::{pem::PemObject, CertificateDer};

use crate::db::DatabaseUrl;
use crate::http::client_ip::TrustedProxies;
use crate::money::Currency;

/// A secret value: `Debug` never prints it, and reading it takes a deliberate `expose()`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret<T>(T);

impl<T> Secret<T> {
    pub fn new(value: T) -> Self {
        Self(value)
    }

    pub fn expose(&self) -> &T {
        &self.0
    }
}

impl<T> std::fmt::Debug for Secret<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// Where a key comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretSource {
    /// Given directly in the environment.
    Value(Secret<String>),
    /// Read from a file named in the environment.
    File(PathBuf),
    /// Development only: generated into this file on first start (mode 0600), then reused.
    Generated(PathBuf),
    /// Tests only: random, held in memory for the life of the process.
    Ephemeral,
}

/// The first administrator, created at start when no administrator exists yet.
#[derive(Debug, Clone)]
pub struct AdminBootstrap {
    pub email: String,
    pub password: Secret<String>,
}

pub const DEFAULT_BIND: &str = "127.0.0.1:8080";
pub const DEFAULT_DATABASE_URL: &str = "sqlite://./data/valise.db";
/// The `test` payment provider's webhook secret in development (known, so demos can sign).
pub const DEV_WEBHOOK_SECRET: &str = "valise-dev-webhook-secret";
/// The notification gateway's signing secret in development (known, so a local gateway can
/// verify); production refuses it.
pub const DEV_NOTIFY_WEBHOOK_SECRET: &str = "valise-dev-notify-secret";

/// Stripe's API, where payments go when a secret key is configured.
pub const STRIPE_API_BASE: &str = "https://api.stripe.com";

/// The `stripe` payment provider. When configured, new payments go to Stripe; the `test`
/// provider still receives its own webhooks.
#[derive(Debug, Clone)]
pub struct StripeConfig {
    /// `sk_live_…` / `rk_live_…` (or `sk_test_…` outside production): never leaves the server.
    pub secret_key: Secret<String>,
    /// The webhook endpoint's signing secret (`whsec_…`).
    pub webhook_secret: Secret<String>,
    /// Where the API answers (tests point it at a local fake).
    pub api_base: url::Url,
    /// Timeout of one call to the API (connecting included).
    pub timeout: Duration,
    /// Tries of one call when Stripe answers 429 or 5xx or cannot be reached.
    pub attempts: u32,
    /// Wait after the first failed try; doubles after each further one.
    pub retry_base: Duration,
}

/// Waits between tries of an integrator webhook: 9 tries spread over almost 12 hours (the
/// contract asks for at least 8 over at least 4 hours).
pub const WEBHOOK_RETRY_DELAYS_SECS: [u64; 8] = [60, 300, 900, 1800, 3600, 7200, 10800, 14400];

/// The shop's own mail/SMS gateway, which receives every notification signed.
#[derive(Debug, Clone)]
pub struct Gateway {
    /// May carry a token in its query string: never logged.
    pub url: Secret<url::Url>,
    pub secret: Secret<String>,
}

/// The shop's SMTP server, which sends notices to people by mail.
#[derive(Debug, Clone)]
pub struct MailConfig {
    /// `smtp://host:port`, `smtps://user:pass@host`, `smtp://…?tls=required`: may carry a
    /// password (percent-encoded, used for AUTH PLAIN or LOGIN), never logged.
    pub url: Secret<String>,
    /// Certificate authorities trusted for the server's certificate besides the public roots
    /// (`VALISE_SMTP_CA_FILE`, PEM): a relay with a private CA. Empty: the public roots only.
    pub ca_certificates: Vec<CertificateDer<'static>>,
    /// The sender, `shop@example.com` or `Shop <shop@example.com>`.
    pub from: String,
    /// The shop's public address, linked at the foot of every message.
    pub shop_url: Option<String>,
}

/// Retention periods of `src/retention/` (the data map publishes them).
#[derive(Debug, Clone)]
pub struct RetentionConfig {
    /// Days an order's personal part is kept after it closes (0: shredded at `closed`).
    pub order_personal_days_after_close: i64,
    /// Statutory period of accounting records.
    pub accounting_years: i64,
    /// Customer accounts without a sign-in for this long are erased.
    pub inactive_account_years: i64,
    /// Registrations whose address was not confirmed within this many days are erased.
    pub unconfirmed_account_days: i64,
    /// Days the audit log keeps an entry (`VALISE_AUDIT_RETENTION_DAYS`).
    pub audit_days: i64,
    /// Days a delivered, dead or cancelled webhook delivery stays in the delivery log
    /// (`VALISE_WEBHOOK_DELIVERY_DAYS`).
    pub webhook_delivery_days: i64,
    /// Days a sent (or never-to-be-sent) notification stays in the outbox and the inbox
    /// (`VALISE_NOTIFICATION_DAYS`).
    pub notification_days: i64,
}

impl Default for RetentionConfig {
    fn default() -> Self {
        Self {
            order_personal_days_after_close: 0,
            accounting_years: 10,
            inactive_account_years: 3,
            unconfirmed_account_days: 7,
            audit_days: 6 * 365,
            webhook_delivery_days: 30,
            notification_days: 365,
        }
    }
}

/// The delivery worker inside `serve`: the notification outbox and integrators' webhooks.
#[derive(Debug, Clone)]
pub struct DeliveryConfig {
    /// How often each instance looks for due rows.
    pub interval: Duration,
    /// Timeout of one outgoing POST (connecting included).
    pub timeout: Duration,
    /// Rows one instance claims per pass and table.
    pub batch: i64,
    /// `None`: notifications are delivered to the inbox only.
    pub gateway: Option<Gateway>,
    /// `Some`: notices go to people by mail (instead of the gateway; one channel at a time).
    pub mail: Option<MailConfig>,
    /// Tries of a notification before it is dead-lettered.
    pub notify_max_attempts: i32,
    /// First wait after a failed try; doubles with every further failure, up to the cap.
    pub notify_retry_base: Duration,
    pub notify_retry_cap: Duration,
    /// Waits between tries of an integrator webhook (one more try than waits). Fixed by the
    /// API contract ([`WEBHOOK_RETRY_DELAYS_SECS`]); tests shorten it.
    pub webhook_retry_delays: Vec<Duration>,
    /// Development and tests only (`VALISE_WEBHOOK_ALLOW_PRIVATE`): integrators' webhooks may
    /// go to loopback, private and other non-public addresses. Production refuses it.
    pub webhook_allow_private: bool,
}

impl Default for DeliveryConfig {
    fn default() -> Self {
        Self {
            interval: Duration::from_secs(1),
            timeout: Duration::from_secs(10),
            batch: 100,
            gateway: None,
            mail: None,
            notify_max_attempts: 8,
            notify_retry_base: Duration::from_secs(30),
            notify_retry_cap: Duration::from_secs(3600),
            webhook_retry_delays: WEBHOOK_RETRY_DELAYS_SECS
                .iter()
                .map(|s| Duration::from_secs(*s))
                .collect(),
            webhook_allow_private: false,
        }
    }
}

/// Anonymous analytics: ingestion limits, roll-ups and reports.
#[derive(Debug, Clone)]
pub struct AnalyticsConfig {
    /// Reports hide every group seen by fewer distinct visitors than this (k).
    pub min_visitors: i64,
    /// Days raw events are kept before the retention engine purges them; daily aggregates
    /// stay longer.
    pub raw_days: i64,
    /// How often each instance rolls raw events up into the daily aggregates.
    pub rollup_interval: Duration,
    /// Event batches one client address may send per minute (per instance).
    pub batches_per_minute: i32,
    /// How often each instance writes the events it buffered.
    pub flush_interval: Duration,
    /// The most events an instance holds unwritten; beyond, batches are refused (503).
    pub buffer_events: usize,
}

impl Default for AnalyticsConfig {
    fn default() -> Self {
        Self {
            min_visitors: 5,
            raw_days: 30,
            rollup_interval: Duration::from_secs(60),
            batches_per_minute: 120,
            flush_interval: Duration::from_millis(100),
            buffer_events: 100_000,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Environment {
    Development,
    Production,
}

/// Which browser origins may call the API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CorsOrigins {
    /// Any origin, never with credentials (the development default, or `*`).
    Any,
    /// Only these exact origins (`scheme://host[:port]`).
    List(Vec<String>),
    /// No cross-origin access (the production default when nothing is configured).
    None,
}

/// Shop-wide settings handlers need (served to them as `web::Data<Shop>`).
#[derive(Debug, Clone)]
pub struct Shop {
    /// The currency of every price, checked against ISO 4217, with its minor unit.
    pub currency: Currency,
    /// What shipping costs, in minor units of `currency`.
    pub shipping: Shipping,
    /// How prices carry VAT or sales tax, and which rate a destination gets.
    pub tax: TaxSettings,
    /// How long an unpaid order holds its stock.
    pub payment_window: chrono::Duration,
    /// How long after delivery after-sales cases can be opened; the order closes after it.
    pub after_sales_window: chrono::Duration,
    /// Who sells, as invoices and credit notes name the shop.
    pub seller: SellerSettings,
}

/// The shop's legal identity printed on its invoices (`VALISE_SELLER_NAME`,
/// `VALISE_SELLER_ADDRESS` with lines separated by `;`, `VALISE_SELLER_VAT_ID`). Production
/// needs the name and address; development prints placeholders.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SellerSettings {
    pub name: String,
    pub address: Vec<String>,
    pub vat_id: Option<String>,
}

/// What a development shop's invoices name as the seller.
pub const DEVELOPMENT_SELLER: &str = "Valise demo shop (set VALISE_SELLER_NAME)";
pub const DEVELOPMENT_SELLER_ADDRESS: &str = "1 Example Street; 1000 Brussels; Belgium";

/// Shipping charges, in minor units of the shop's currency (configured in major units:
/// `VALISE_SHIPPING_FLAT=9.90`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shipping {
    /// What an order below `free_from` pays for shipping.
    pub flat: i64,
    /// Orders whose goods come to at least this ship free.
    pub free_from: i64,
}

/// Whether prices include tax (`inclusive`: gross prices, as EU consumer prices must be) or
/// have it added at checkout (`exclusive`: net prices, for shops elsewhere).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TaxMode {
    Inclusive,
    Exclusive,
}

impl TaxMode {
    pub const ALL: [TaxMode; 2] = [TaxMode::Inclusive, TaxMode::Exclusive];

    pub fn as_str(self) -> &'static str {
        match self {
            TaxMode::Inclusive => "inclusive",
            TaxMode::Exclusive => "exclusive",
        }
    }

    pub fn parse(s: &str) -> Option<TaxMode> {
        TaxMode::ALL.into_iter().find(|m| m.as_str() == s)
    }
}

/// The shop's tax settings; the rates of EU destinations are data (`tax_rates`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaxSettings {
    pub mode: TaxMode,
    /// ISO 3166-1 alpha-2 code of the country the shop sells from, upper-case.
    pub home_country: String,
    /// Rate of domestic sales in basis points (`2100` is 21 %), when configured; otherwise
    /// an EU shop's own rate comes from the rates table and a shop elsewhere charges none.
    pub home_rate: Option<u32>,
}

impl Default for TaxSettings {
    fn default() -> Self {
        TaxSettings {
            mode: TaxMode::Inclusive,
            home_country: DEFAULT_HOME_COUNTRY.to_owned(),
            home_rate: None,
        }
    }
}

/// Where the shop sells from unless `VALISE_TAX_HOME_COUNTRY` says otherwise.
pub const DEFAULT_HOME_COUNTRY: &str = "BE";

/// The shipping charges unless configured: 9.90 flat, free from 100.00, in major units.
pub const DEFAULT_FLAT_SHIPPING: &str = "9.90";
pub const DEFAULT_FREE_SHIPPING_FROM: &str = "100.00";

/// How log lines are written (`VALISE_LOG_FORMAT`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// One human-readable line per event (the default).
    Text,
    /// One JSON object per line, its fields at the top level, for a log shipper.
    Json,
}

/// Logs and traces (`src/telemetry.rs`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TelemetryConfig {
    pub log_format: LogFormat,
    /// Where `serve` exports its spans over OTLP/HTTP: the collector's traces URL
    /// (`VALISE_OTLP_ENDPOINT` + `/v1/traces`). `None`: no traces.
    pub otlp_traces: Option<url::Url>,
}

impl Default for TelemetryConfig {
    fn default() -> Self {
        Self {
            log_format: LogFormat::Text,
            otlp_traces: None,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Config {
    pub environment: Environment,
    pub bind: SocketAddr,
    pub database_url: DatabaseUrl,
    /// Optional PostgreSQL replica serving catalogue reads.
    pub read_database_url: Option<DatabaseUrl>,
    /// How far behind the primary the replica may be before reads skip it
    /// (`VALISE_REPLICA_MAX_LAG_MS`).
    pub replica_max_lag: Duration,
    pub db_pool_size: u32,
    /// Whether PostgreSQL connections keep prepared statements (`VALISE_DB_PREPARED_STATEMENTS`;
    /// off behind a pooler in transaction mode).
    pub db_statements: crate::db::StatementCache,
    /// HTTP worker threads; `None` lets actix use one per physical core.
    pub workers: Option<usize>,
    pub cors_origins: CorsOrigins,
    /// Where development keys are generated (`./data`, beside the default SQLite file).
    pub data_dir: PathBuf,
    /// Master keys (key-encryption keys), newest first: `id:base64,id:base64`.
    pub master_keys: SecretSource,
    /// HMAC secret that signs access tokens.
    pub jwt_secret: SecretSource,
    pub admin_bootstrap: Option<AdminBootstrap>,
    /// Shop-wide settings the handlers read.
    pub shop: Shop,
    /// HMAC secret of the `test` payment provider's webhooks.
    pub payment_webhook_secret: Secret<String>,
    /// The `stripe` payment provider, when configured (`None`: payments use `test`).
    pub stripe: Option<StripeConfig>,
    /// Retention periods (the statutory ones depend on the shop's jurisdiction).
    pub retention: RetentionConfig,
    /// Proxies whose `X-Forwarded-For` entries name the client (empty: the socket peer is
    /// the client).
    pub trusted_proxies: TrustedProxies,
    /// The notification and webhook delivery worker.
    pub delivery: DeliveryConfig,
    /// Bearer token a metrics scraper sends to `GET /metrics`. Without one, the metrics are
    /// open in development and admin-only in production.
    pub metrics_token: Option<Secret<String>>,
    /// Anonymous analytics.
    pub analytics: AnalyticsConfig,
    /// Multiplies every quota of the limits on anonymous writes (`http::limits`): 1 in
    /// production; load tests that send everything from one address raise it.
    pub rate_limit_scale: u32,
    /// Exports (`GET /v1/me/export`) one account may make per hour.
    pub exports_per_hour: i32,
    /// Where the audit chain's signed checkpoints are appended (besides the log).
    pub audit_anchor_file: Option<PathBuf>,
    /// How often the chain's head is anchored (when it moved).
    pub audit_anchor_interval: Duration,
    /// Log format and trace export.
    pub telemetry: TelemetryConfig,
}

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
#[error("configuration error: {var}: {reason}")]
pub struct ConfigError {
    pub var: &'static str,
    pub reason: String,
}

fn invalid(var: &'static str, reason: impl Into<String>) -> ConfigError {
    ConfigError {
        var,
        reason: reason.into(),
    }
}

/// A secret given either as `VAR` or as a file named by `VAR_FILE` (container secrets,
/// never in the process environment); a trailing newline of the file is dropped.
fn secret_var(
    get: &impl Fn(&str) -> Option<String>,
    var: &'static str,
    file_var: &'static str,
) -> Result<Option<String>, ConfigError> {
    match (get(var), get(file_var)) {
        (Some(_), Some(_)) => Err(invalid(
            var,
            format!("set either {var} or {file_var}, not both"),
        )),
        (Some(value), None) => Ok(Some(value)),
        (None, Some(path)) => {
            let text = std::fs::read_to_string(path.trim())
                .map_err(|_| invalid(file_var, "the file cannot be read"))?;
            let value = text.trim_end_matches(['\n', '\r']).to_owned();
            Ok((!value.trim().is_empty()).then_some(value))
        }
        (None, None) => Ok(None),
    }
}

/// A whole number from `min` to `max`, or `default` when the variable is unset.
fn number(
    get: &impl Fn(&str) -> Option<String>,
    var: &'static str,
    default: i64,
    min: i64,
    max: i64,
) -> Result<i64, ConfigError> {
    match get(var) {
        None => Ok(default),
        Some(v) => v
            .trim()
            .parse::<i64>()
            .ok()
            .filter(|n| (min..=max).contains(n))
            .ok_or_else(|| invalid(var, format!("expected a number from {min} to {max}"))),
    }
}

/// A [`number`] of seconds.
fn seconds(
    get: &impl Fn(&str) -> Option<String>,
    var: &'static str,
    default: i64,
    min: i64,
    max: i64,
) -> Result<Duration, ConfigError> {
    Ok(Duration::from_secs(
        number(get, var, default, min, max)?.unsigned_abs(),
    ))
}

impl Config {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Builds the configuration from any variable source (the environment, or a map in tests).
    /// Each concern reads its own variables in a `*_from` function below; the first invalid
    /// variable, in this order, is the one reported.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let get = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
        let environment = environment_from(&get)?;
        let production = environment == Environment::Production;
        let bind = bind_from(&get)?;
        let (database_url, read_database_url, db_pool_size) = database_from(&get)?;
        let replica_max_lag = Duration::from_millis(
            number(&get, "VALISE_REPLICA_MAX_LAG_MS", 5000, 10, 3_600_000)?.unsigned_abs(),
        );
        let db_statements = statements_from(&get)?;
        let workers = workers_from(&get)?;
        let cors_origins = cors_from(&get, production)?;
        let data_dir = PathBuf::from(get("VALISE_DATA_DIR").unwrap_or_else(|| "./data".into()));
        let master_keys = master_keys_from(&get, production, &data_dir)?;
        let jwt_secret = jwt_secret_from(&get, production, &data_dir)?;
        let admin_bootstrap = admin_bootstrap_from(&get)?;
        let shop = shop_from(&get, production)?;
        let payment_webhook_secret = payment_webhook_secret_from(&get, production)?;
        let stripe = stripe_from(&get, production)?;
        if stripe.is_some() {
            stripe_takes(shop.currency)?;
        }
        let retention = retention_from(&get)?;
        let trusted_proxies = trusted_proxies_from(&get)?;
        let delivery = delivery_from(&get, production)?;
        let metrics_token = metrics_token_from(&get)?;
        let analytics = analytics_from(&get)?;
        let rate_limit_scale =
            u32::try_from(number(&get, "VALISE_RATE_LIMIT_SCALE", 1, 1, 100_000)?).unwrap_or(1);
        let (audit_anchor_file, audit_anchor_interval) =
            audit_anchor_from(&get, production, &data_dir)?;
        let exports_per_hour =
            i32::try_from(number(&get, "VALISE_EXPORTS_PER_HOUR", 10, 1, 100_000)?).unwrap_or(10);
        let telemetry = telemetry_from(&get)?;

        Ok(Self {
            environment,
            bind,
            database_url,
            read_database_url,
            replica_max_lag,
            db_pool_size,
            db_statements,
            workers,
            cors_origins,
            data_dir,
            master_keys,
            jwt_secret,
            admin_bootstrap,
            shop,
            payment_webhook_secret,
            stripe,
            retention,
            trusted_proxies,
            delivery,
            metrics_token,
            analytics,
            rate_limit_scale,
            exports_per_hour,
            audit_anchor_file,
            audit_anchor_interval,
            telemetry,
        })
    }

    /// The development defaults still in use, each named by the variable that replaces it:
    /// generated or ephemeral keys, and the published development secrets.
    pub fn development_secrets(&self) -> Vec<&'static str> {
        let mut defaults = Vec::new();
        if matches!(
            self.master_keys,
            SecretSource::Generated(_) | SecretSource::Ephemeral
        ) {
            defaults.push("VALISE_MASTER_KEY");
        }
        if matches!(
            self.jwt_secret,
            SecretSource::Generated(_) | SecretSource::Ephemeral
        ) {
            defaults.push("VALISE_JWT_SECRET");
        }
        if self.payment_webhook_secret.expose() == DEV_WEBHOOK_SECRET {
            defaults.push("VALISE_PAYMENT_WEBHOOK_SECRET");
        }
        if self
            .delivery
            .gateway
            .as_ref()
            .is_some_and(|g| g.secret.expose() == DEV_NOTIFY_WEBHOOK_SECRET)
        {
            defaults.push("VALISE_NOTIFY_WEBHOOK_SECRET");
        }
        defaults
    }

    /// Refuses to serve on a non-loopback address while a development secret or generated
    /// key is in use: the development payment secret is published (anyone could sign
    /// `payment.captured`), and generated keys live beside the data they protect.
    pub fn check_listener(&self) -> Result<(), ConfigError> {
        if self.bind.ip().is_loopback() {
            return Ok(());
        }
        let missing = self.development_secrets();
        if missing.is_empty() {
            return Ok(());
        }
        Err(invalid(
            "VALISE_BIND",
            format!(
                "{} is not a loopback address, and development defaults are in use; set {} \
                 (or their _FILE variants), or bind 127.0.0.1",
                self.bind.ip(),
                missing.join(", ")
            ),
        ))
    }

    /// Settings for a test server: port 0, the given database, one worker.
    pub fn for_tests(database_url: DatabaseUrl) -> Self {
        Self {
            environment: Environment::Development,
            bind: SocketAddr::from(([127, 0, 0, 1], 0)),
            database_url,
            read_database_url: None,
            replica_max_lag: Duration::from_secs(5),
            db_pool_size: 4,
            db_statements: crate::db::StatementCache::Named,
            workers: Some(1),
            cors_origins: CorsOrigins::Any,
            data_dir: PathBuf::from("./data"),
            master_keys: SecretSource::Ephemeral,
            jwt_secret: SecretSource::Ephemeral,
            admin_bootstrap: None,
            shop: Shop {
                currency: Currency::EUR,
                shipping: Shipping {
                    flat: 990,
                    free_from: 10_000,
                },
                tax: TaxSettings::default(),
                payment_window: chrono::Duration::minutes(30),
                after_sales_window: chrono::Duration::days(30),
                seller: SellerSettings {
                    name: "Valise Test Luggage SA".to_owned(),
                    address: vec![
                        "Rue du Test 1".to_owned(),
                        "1000 Brussels".to_owned(),
                        "Belgium".to_owned(),
                    ],
                    vat_id: Some("BE0123456789".to_owned()),
                },
            },
            payment_webhook_secret: Secret::new(DEV_WEBHOOK_SECRET.to_owned()),
            stripe: None,
            retention: RetentionConfig::default(),
            trusted_proxies: TrustedProxies::default(),
            delivery: DeliveryConfig::default(),
            metrics_token: None,
            analytics: AnalyticsConfig::default(),
            // Tests send far more from one address than a client would; the limits still
            // run (tests of them set 1).
            rate_limit_scale: 1000,
            exports_per_hour: 10,
            audit_anchor_file: None,
            audit_anchor_interval: Duration::from_secs(60),
            telemetry: TelemetryConfig::default(),
        }
    }
}

fn environment_from(get: &impl Fn(&str) -> Option<String>) -> Result<Environment, ConfigError> {
    match get("VALISE_ENV").as_deref().map(str::trim) {
        None | Some("development") | Some("dev") => Ok(Environment::Development),
        Some("production") | Some("prod") => Ok(Environment::Production),
        Some(_) => Err(invalid("VALISE_ENV", "expected development or production")),
    }
}

fn bind_from(get: &impl Fn(&str) -> Option<String>) -> Result<SocketAddr, ConfigError> {
    get("VALISE_BIND")
        .unwrap_or_else(|| DEFAULT_BIND.into())
        .trim()
        .parse::<SocketAddr>()
        .map_err(|_| invalid("VALISE_BIND", "expected IP:PORT, e.g. 127.0.0.1:8080"))
}

/// The database, its optional read replica, and the size of the connection pool.
fn database_from(
    get: &impl Fn(&str) -> Option<String>,
) -> Result<(DatabaseUrl, Option<DatabaseUrl>, u32), ConfigError> {
    // The URLs carry the database password, so they may come from files (container secrets).
    let database_url = DatabaseUrl::parse(
        &secret_var(get, "DATABASE_URL", "DATABASE_URL_FILE")?
            .unwrap_or_else(|| DEFAULT_DATABASE_URL.into()),
    )
    .map_err(|reason| invalid("DATABASE_URL", reason))?;

    let read_database_url = match secret_var(get, "DATABASE_READ_URL", "DATABASE_READ_URL_FILE")? {
        None => None,
        Some(raw) => {
            let url = DatabaseUrl::parse(&raw).map_err(|r| invalid("DATABASE_READ_URL", r))?;
            if url.backend() != crate::db::Backend::Postgres
                || database_url.backend() != crate::db::Backend::Postgres
            {
                return Err(invalid(
                    "DATABASE_READ_URL",
                    "a read replica needs DATABASE_URL and DATABASE_READ_URL on PostgreSQL",
                ));
            }
            Some(url)
        }
    };

    let db_pool_size = match get("VALISE_DB_POOL_SIZE") {
        None => 10,
        Some(v) => v
            .trim()
            .parse::<u32>()
            .ok()
            .filter(|n| (1..=200).contains(n))
            .ok_or_else(|| invalid("VALISE_DB_POOL_SIZE", "expected a number from 1 to 200"))?,
    };
    Ok((database_url, read_database_url, db_pool_size))
}

/// `VALISE_DB_PREPARED_STATEMENTS`: `true` (default) keeps diesel's prepared statements on
/// PostgreSQL connections, `false` sends every query unnamed (behind PgBouncer in transaction
/// mode).
fn statements_from(
    get: &impl Fn(&str) -> Option<String>,
) -> Result<crate::db::StatementCache, ConfigError> {
    use crate::db::StatementCache;
    match get("VALISE_DB_PREPARED_STATEMENTS")
        .as_deref()
        .map(str::trim)
    {
        None | Some("true") | Some("1") => Ok(StatementCache::Named),
        Some("false") | Some("0") => Ok(StatementCache::Unnamed),
        Some(_) => Err(invalid(
            "VALISE_DB_PREPARED_STATEMENTS",
            "expected true or false",
        )),
    }
}

fn workers_from(get: &impl Fn(&str) -> Option<String>) -> Result<Option<usize>, ConfigError> {
    match get("VALISE_WORKERS") {
        None => Ok(None),
        Some(v) => Ok(Some(
            v.trim()
                .parse::<usize>()
                .ok()
                .filter(|n| (1..=256).contains(n))
                .ok_or_else(|| invalid("VALISE_WORKERS", "expected a number from 1 to 256"))?,
        )),
    }
}

fn cors_from(
    get: &impl Fn(&str) -> Option<String>,
    production: bool,
) -> Result<CorsOrigins, ConfigError> {
    match get("VALISE_CORS_ORIGINS") {
        None if production => Ok(CorsOrigins::None),
        None => Ok(CorsOrigins::Any),
        Some(v) => parse_origins(&v).map_err(|r| invalid("VALISE_CORS_ORIGINS", r)),
    }
}

fn master_keys_from(
    get: &impl Fn(&str) -> Option<String>,
    production: bool,
    data_dir: &Path,
) -> Result<SecretSource, ConfigError> {
    match (get("VALISE_MASTER_KEY"), get("VALISE_MASTER_KEY_FILE")) {
        (Some(_), Some(_)) => Err(invalid(
            "VALISE_MASTER_KEY",
            "set either VALISE_MASTER_KEY or VALISE_MASTER_KEY_FILE, not both",
        )),
        (Some(value), None) => {
            crate::crypto::Keyring::parse(&value)
                .map_err(|reason| invalid("VALISE_MASTER_KEY", reason))?;
            Ok(SecretSource::Value(Secret::new(value)))
        }
        (None, Some(path)) => Ok(SecretSource::File(PathBuf::from(path))),
        (None, None) if production => Err(invalid(
            "VALISE_MASTER_KEY",
            "production needs real master keys (VALISE_MASTER_KEY or VALISE_MASTER_KEY_FILE)",
        )),
        (None, None) => Ok(SecretSource::Generated(data_dir.join("master.keys"))),
    }
}

fn jwt_secret_from(
    get: &impl Fn(&str) -> Option<String>,
    production: bool,
    data_dir: &Path,
) -> Result<SecretSource, ConfigError> {
    match (get("VALISE_JWT_SECRET"), get("VALISE_JWT_SECRET_FILE")) {
        (Some(_), Some(_)) => Err(invalid(
            "VALISE_JWT_SECRET",
            "set either VALISE_JWT_SECRET or VALISE_JWT_SECRET_FILE, not both",
        )),
        (Some(value), None) => {
            if value.len() < 32 {
                return Err(invalid(
                    "VALISE_JWT_SECRET",
                    "must be at least 32 characters",
                ));
            }
            Ok(SecretSource::Value(Secret::new(value)))
        }
        (None, Some(path)) => Ok(SecretSource::File(PathBuf::from(path))),
        (None, None) if production => Err(invalid(
            "VALISE_JWT_SECRET",
            "production needs a real signing secret (VALISE_JWT_SECRET or VALISE_JWT_SECRET_FILE)",
        )),
        (None, None) => Ok(SecretSource::Generated(data_dir.join("jwt.secret"))),
    }
}

fn admin_bootstrap_from(
    get: &impl Fn(&str) -> Option<String>,
) -> Result<Option<AdminBootstrap>, ConfigError> {
    match (get("VALISE_ADMIN_EMAIL"), get("VALISE_ADMIN_PASSWORD")) {
        (None, None) => Ok(None),
        (Some(email), Some(password)) => Ok(Some(AdminBootstrap {
            email,
            password: Secret::new(password),
        })),
        (Some(_), None) => Err(invalid(
            "VALISE_ADMIN_PASSWORD",
            "needed with VALISE_ADMIN_EMAIL",
        )),
        // Alone, it is the password `valise admin create --email …` reads: no bootstrap.
        (None, Some(_)) => Ok(None),
    }
}

fn shop_from(get: &impl Fn(&str) -> Option<String>, production: bool) -> Result<Shop, ConfigError> {
    let code = get("VALISE_CURRENCY").unwrap_or_else(|| Currency::EUR.code().into());
    let currency = Currency::parse(code.trim()).map_err(|r| invalid("VALISE_CURRENCY", r))?;
    let amount = |name: &'static str, default: &str| match get(name) {
        Some(text) => currency.amount(text.trim()).map_err(|r| invalid(name, r)),
        None => currency.amount(default).map_err(|_| {
            invalid(
                name,
                format!(
                    "its default {default} does not fit {} ({} decimals): set it in {}",
                    currency.code(),
                    currency.minor_unit(),
                    currency.code()
                ),
            )
        }),
    };
    let shipping = Shipping {
        flat: amount("VALISE_SHIPPING_FLAT", DEFAULT_FLAT_SHIPPING)?,
        free_from: amount("VALISE_SHIPPING_FREE_FROM", DEFAULT_FREE_SHIPPING_FROM)?,
    };
    Ok(Shop {
        currency,
        shipping,
        tax: tax_from(get)?,
        payment_window: chrono::Duration::minutes(number(
            get,
            "VALISE_ORDER_PAYMENT_MINUTES",
            30,
            1,
            1440,
        )?),
        after_sales_window: chrono::Duration::days(number(
            get,
            "VALISE_AFTER_SALES_DAYS",
            30,
            0,
            365,
        )?),
        seller: seller_from(get, production)?,
    })
}

fn seller_from(
    get: &impl Fn(&str) -> Option<String>,
    production: bool,
) -> Result<SellerSettings, ConfigError> {
    let text = |name: &'static str, default: &str, max: usize| match get(name) {
        Some(v) if v.trim().chars().count() > max || v.chars().any(char::is_control) => {
            Err(invalid(
                name,
                format!("at most {max} characters, no control characters"),
            ))
        }
        Some(v) => Ok(v.trim().to_owned()),
        None if production => Err(invalid(
            name,
            "production needs the seller's legal name and address for its invoices",
        )),
        None => Ok(default.to_owned()),
    };
    let name = text("VALISE_SELLER_NAME", DEVELOPMENT_SELLER, 120)?;
    let address: Vec<String> = text("VALISE_SELLER_ADDRESS", DEVELOPMENT_SELLER_ADDRESS, 400)?
        .split(';')
        .map(|line| line.trim().to_owned())
        .filter(|line| !line.is_empty())
        .collect();
    if address.is_empty() || address.len() > 6 {
        return Err(invalid(
            "VALISE_SELLER_ADDRESS",
            "1 to 6 lines separated by ;",
        ));
    }
    let vat_id = match get("VALISE_SELLER_VAT_ID") {
        None => None,
        Some(v) => {
            let v = v.trim().to_ascii_uppercase();
            let ok = (4..=20).contains(&v.len())
                && v.bytes().all(|b| b.is_ascii_alphanumeric())
                && v.as_bytes()[..2].iter().all(u8::is_ascii_alphabetic);
            if !ok {
                return Err(invalid(
                    "VALISE_SELLER_VAT_ID",
                    "a VAT number such as BE0123456789: country prefix and 2 to 18 letters or digits",
                ));
            }
            Some(v)
        }
    };
    Ok(SellerSettings {
        name,
        address,
        vat_id,
    })
}

fn tax_from(get: &impl Fn(&str) -> Option<String>) -> Result<TaxSettings, ConfigError> {
    let mode = match get("VALISE_TAX_MODE") {
        None => TaxMode::Inclusive,
        Some(m) => TaxMode::parse(m.trim())
            .ok_or_else(|| invalid("VALISE_TAX_MODE", "expected inclusive or exclusive"))?,
    };
    let home_country = match get("VALISE_TAX_HOME_COUNTRY") {
        None => DEFAULT_HOME_COUNTRY.to_owned(),
        Some(c) => {
            let c = c.trim().to_ascii_uppercase();
            if c.len() != 2 || c.parse::<iso_currency::Country>().is_err() {
                return Err(invalid(
                    "VALISE_TAX_HOME_COUNTRY",
                    "expected an ISO 3166-1 alpha-2 country code such as BE",
                ));
            }
            c
        }
    };
    let home_rate = match get("VALISE_TAX_HOME_RATE") {
        None => None,
        Some(r) => Some(
            crate::money::decimal(r.trim(), 2)
                .and_then(|bp| u32::try_from(bp).ok())
                .filter(|bp| *bp <= 10_000)
                .ok_or_else(|| {
                    invalid(
                        "VALISE_TAX_HOME_RATE",
                        "expected a percentage from 0 to 100 with at most 2 decimals, like 21 or 25.5",
                    )
                })?,
        ),
    };
    Ok(TaxSettings {
        mode,
        home_country,
        home_rate,
    })
}

fn payment_webhook_secret_from(
    get: &impl Fn(&str) -> Option<String>,
    production: bool,
) -> Result<Secret<String>, ConfigError> {
    match secret_var(
        get,
        "VALISE_PAYMENT_WEBHOOK_SECRET",
        "VALISE_PAYMENT_WEBHOOK_SECRET_FILE",
    )? {
        Some(s) if s.len() >= 16 => Ok(Secret::new(s)),
        Some(_) => Err(invalid(
            "VALISE_PAYMENT_WEBHOOK_SECRET",
            "must be at least 16 characters",
        )),
        None if production => Err(invalid(
            "VALISE_PAYMENT_WEBHOOK_SECRET",
            "production needs the provider's webhook secret",
        )),
        None => Ok(Secret::new(DEV_WEBHOOK_SECRET.to_owned())),
    }
}

/// The `stripe` provider: on when `VALISE_STRIPE_SECRET_KEY` is set, which then needs the
/// webhook secret. Production refuses test-mode keys unless `VALISE_STRIPE_ALLOW_TEST_KEYS`
/// says otherwise (a staging shop on production settings).
/// Whether Stripe counts `currency` in the ISO 4217 minor units Valise sends. It does not for
/// a few: ISK and UGX are zero-decimal at ISO but two-decimal at Stripe, HUF and TWD are
/// two-decimal but paid out whole, MGA is two-decimal at ISO but zero-decimal at Stripe, and
/// three-decimal currencies (KWD, BHD, …) must end in 0. Valise refuses to start with Stripe
/// and such a currency rather than charge 100 times too much or too little.
fn stripe_takes(currency: Currency) -> Result<(), ConfigError> {
    const SPECIAL: [&str; 5] = ["ISK", "UGX", "HUF", "TWD", "MGA"];
    if SPECIAL.contains(&currency.code()) || currency.minor_unit() > 2 {
        return Err(invalid(
            "VALISE_CURRENCY",
            format!(
                "{}: Stripe counts this currency's amounts differently from ISO 4217; \
                 the stripe provider does not take it",
                currency.code()
            ),
        ));
    }
    Ok(())
}

fn stripe_from(
    get: &impl Fn(&str) -> Option<String>,
    production: bool,
) -> Result<Option<StripeConfig>, ConfigError> {
    let key = secret_var(
        get,
        "VALISE_STRIPE_SECRET_KEY",
        "VALISE_STRIPE_SECRET_KEY_FILE",
    )?;
    let webhook = secret_var(
        get,
        "VALISE_STRIPE_WEBHOOK_SECRET",
        "VALISE_STRIPE_WEBHOOK_SECRET_FILE",
    )?;
    let Some(key) = key else {
        if webhook.is_some() || get("VALISE_STRIPE_API_BASE").is_some() {
            return Err(invalid(
                "VALISE_STRIPE_SECRET_KEY",
                "needed with the other VALISE_STRIPE_ variables",
            ));
        }
        return Ok(None);
    };
    let key = key.trim().to_owned();
    let live = key.starts_with("sk_live_") || key.starts_with("rk_live_");
    let test = key.starts_with("sk_test_") || key.starts_with("rk_test_");
    if !(live || test) || key.len() < 16 || !key.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(invalid(
            "VALISE_STRIPE_SECRET_KEY",
            "expected a secret or restricted key (sk_live_…, rk_live_…, sk_test_…, rk_test_…)",
        ));
    }
    let allow_test = match get("VALISE_STRIPE_ALLOW_TEST_KEYS")
        .as_deref()
        .map(str::trim)
    {
        None | Some("false") | Some("0") => false,
        Some("true") | Some("1") => true,
        Some(_) => {
            return Err(invalid(
                "VALISE_STRIPE_ALLOW_TEST_KEYS",
                "expected true or false",
            ))
        }
    };
    if production && test && !allow_test {
        return Err(invalid(
            "VALISE_STRIPE_SECRET_KEY",
            "production refuses test-mode keys (set VALISE_STRIPE_ALLOW_TEST_KEYS=true for a \
             staging shop)",
        ));
    }
    let webhook_secret = match webhook {
        Some(s) if s.starts_with("whsec_") && s.len() >= 16 => s,
        Some(_) => {
            return Err(invalid(
                "VALISE_STRIPE_WEBHOOK_SECRET",
                "expected the endpoint's signing secret (whsec_…)",
            ))
        }
        None => {
            return Err(invalid(
                "VALISE_STRIPE_WEBHOOK_SECRET",
                "needed with VALISE_STRIPE_SECRET_KEY",
            ))
        }
    };
    let api_base = get("VALISE_STRIPE_API_BASE").unwrap_or_else(|| STRIPE_API_BASE.into());
    let api_base = url::Url::parse(api_base.trim())
        .ok()
        .filter(|u| {
            (u.scheme() == "https" || (u.scheme() == "http" && !production))
                && u.host().is_some()
                && u.query().is_none()
        })
        .ok_or_else(|| {
            invalid(
                "VALISE_STRIPE_API_BASE",
                "expected an https:// URL without a query (http:// outside production)",
            )
        })?;
    Ok(Some(StripeConfig {
        secret_key: Secret::new(key),
        webhook_secret: Secret::new(webhook_secret),
        api_base,
        timeout: seconds(get, "VALISE_STRIPE_TIMEOUT_SECONDS", 10, 1, 80)?,
        attempts: 3,
        retry_base: Duration::from_millis(500),
    }))
}

fn retention_from(get: &impl Fn(&str) -> Option<String>) -> Result<RetentionConfig, ConfigError> {
    Ok(RetentionConfig {
        order_personal_days_after_close: number(
            get,
            "VALISE_ORDER_DATA_DAYS_AFTER_CLOSE",
            0,
            0,
            3650,
        )?,
        accounting_years: number(get, "VALISE_ACCOUNTING_YEARS", 10, 1, 30)?,
        inactive_account_years: number(get, "VALISE_INACTIVE_ACCOUNT_YEARS", 3, 1, 30)?,
        unconfirmed_account_days: number(get, "VALISE_UNCONFIRMED_ACCOUNT_DAYS", 7, 1, 365)?,
        audit_days: number(get, "VALISE_AUDIT_RETENTION_DAYS", 6 * 365, 365, 36_500)?,
        webhook_delivery_days: number(get, "VALISE_WEBHOOK_DELIVERY_DAYS", 30, 1, 3650)?,
        notification_days: number(get, "VALISE_NOTIFICATION_DAYS", 365, 30, 3650)?,
    })
}

fn trusted_proxies_from(
    get: &impl Fn(&str) -> Option<String>,
) -> Result<TrustedProxies, ConfigError> {
    if get("VALISE_BEHIND_PROXY").is_some() {
        return Err(invalid(
            "VALISE_BEHIND_PROXY",
            "replaced by VALISE_TRUSTED_PROXIES: the addresses or networks (CIDR) of your \
             proxies",
        ));
    }
    match get("VALISE_TRUSTED_PROXIES") {
        None => Ok(TrustedProxies::default()),
        Some(list) => {
            TrustedProxies::parse(&list).map_err(|reason| invalid("VALISE_TRUSTED_PROXIES", reason))
        }
    }
}

/// The shop's notification gateway: its URL, and the secret that signs what it receives.
fn gateway_from(
    get: &impl Fn(&str) -> Option<String>,
    production: bool,
) -> Result<Option<Gateway>, ConfigError> {
    let Some(raw) = get("VALISE_NOTIFY_WEBHOOK_URL") else {
        return Ok(None);
    };
    let url = url::Url::parse(raw.trim())
        .ok()
        .filter(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some())
        .ok_or_else(|| invalid("VALISE_NOTIFY_WEBHOOK_URL", "expected an http(s):// URL"))?;
    let secret = match secret_var(
        get,
        "VALISE_NOTIFY_WEBHOOK_SECRET",
        "VALISE_NOTIFY_WEBHOOK_SECRET_FILE",
    )? {
        Some(s) if production && s == DEV_NOTIFY_WEBHOOK_SECRET => {
            return Err(invalid(
                "VALISE_NOTIFY_WEBHOOK_SECRET",
                "production refuses the development secret",
            ))
        }
        Some(s) if s.len() >= 16 => s,
        Some(_) => {
            return Err(invalid(
                "VALISE_NOTIFY_WEBHOOK_SECRET",
                "must be at least 16 characters",
            ))
        }
        None if production => {
            return Err(invalid(
                "VALISE_NOTIFY_WEBHOOK_SECRET",
                "production needs the gateway's signing secret with VALISE_NOTIFY_WEBHOOK_URL",
            ))
        }
        None => DEV_NOTIFY_WEBHOOK_SECRET.to_owned(),
    };
    Ok(Some(Gateway {
        url: Secret::new(url),
        secret: Secret::new(secret),
    }))
}

/// The SMTP channel: `VALISE_SMTP_URL` (or `VALISE_SMTP_URL_FILE`, for a URL with a
/// password), `VALISE_MAIL_FROM` and the optional `VALISE_SMTP_CA_FILE` and `VALISE_SHOP_URL`.
fn mail_from(get: &impl Fn(&str) -> Option<String>) -> Result<Option<MailConfig>, ConfigError> {
    const VAR: &str = "VALISE_SMTP_URL";
    let Some(raw) = secret_var(get, VAR, "VALISE_SMTP_URL_FILE")? else {
        return Ok(None);
    };
    let raw = raw.trim().to_owned();
    let url = url::Url::parse(&raw)
        .ok()
        .filter(|u| matches!(u.scheme(), "smtp" | "smtps") && u.host().is_some())
        .ok_or_else(|| invalid(VAR, "expected an smtp:// or smtps:// URL with a host"))?;
    for (name, value) in url.query_pairs() {
        let known = match name.as_ref() {
            "tls" => matches!(value.as_ref(), "required" | "opportunistic"),
            "ehlo_domain" => !value.is_empty(),
            _ => false,
        };
        if !known {
            return Err(invalid(
                VAR,
                "the only query parameters are tls=required|opportunistic and ehlo_domain",
            ));
        }
    }
    let has_login = match (url.username().is_empty(), url.password().is_some()) {
        (true, false) => false,
        (false, true) => true,
        // Half a login would be sent as none (no password) or with an empty user.
        _ => {
            return Err(invalid(
                VAR,
                "a login needs both a user and a password: smtp://user:password@host",
            ))
        }
    };
    let tls = url
        .query_pairs()
        .find(|(name, _)| name == "tls")
        .map(|(_, value)| value.into_owned());
    let encrypted = url.scheme() == "smtps" || tls.as_deref() == Some("required");
    if has_login && !encrypted {
        // A login over a connection that may stay plain would hand the password to anyone
        // on the path.
        return Err(invalid(
            VAR,
            "a user and password need smtps:// or ?tls=required",
        ));
    }
    let ca_certificates = match get("VALISE_SMTP_CA_FILE") {
        None => Vec::new(),
        Some(_) if !encrypted && tls.is_none() => {
            return Err(invalid(
                "VALISE_SMTP_CA_FILE",
                "a CA needs TLS: smtps:// or ?tls=required|opportunistic",
            ))
        }
        Some(path) => ca_certificates(path.trim())?,
    };
    let from = get("VALISE_MAIL_FROM")
        .map(|f| f.trim().to_owned())
        .filter(|f| f.contains('@') && !f.contains(['\r', '\n']))
        .ok_or_else(|| {
            invalid(
                "VALISE_MAIL_FROM",
                "VALISE_SMTP_URL needs the sender's address, e.g. Shop <shop@example.com>",
            )
        })?;
    let shop_url = match get("VALISE_SHOP_URL") {
        None => None,
        Some(u) => Some(
            url::Url::parse(u.trim())
                .ok()
                .filter(|u| matches!(u.scheme(), "http" | "https"))
                .ok_or_else(|| invalid("VALISE_SHOP_URL", "expected an http(s):// URL"))?
                .to_string(),
        ),
    };
    Ok(Some(MailConfig {
        url: Secret::new(raw),
        ca_certificates,
        from,
        shop_url,
    }))
}

/// The certificates of a PEM file (`VALISE_SMTP_CA_FILE`): at least one, and nothing that
/// fails to parse, so a wrong file stops the start rather than every later send.
fn ca_certificates(path: &str) -> Result<Vec<CertificateDer<'static>>, ConfigError> {
    const VAR: &str = "VALISE_SMTP_CA_FILE";
    let pem = std::fs::read(path).map_err(|_| invalid(VAR, "the file cannot be read"))?;
    let certificates = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|_| invalid(VAR, "expected PEM certificates"))?;
    if certificates.is_empty() {
        return Err(invalid(VAR, "the file holds no PEM certificate"));
    }
    Ok(certificates)
}

/// The delivery worker: its pace, the gateway, and how failed tries are retried.
fn delivery_from(
    get: &impl Fn(&str) -> Option<String>,
    production: bool,
) -> Result<DeliveryConfig, ConfigError> {
    let gateway = gateway_from(get, production)?;
    let mail = mail_from(get)?;
    if mail.is_some() && gateway.is_some() {
        // One channel per notice: with both, a retry after one succeeded and the other
        // failed would send the first again.
        return Err(invalid(
            "VALISE_SMTP_URL",
            "set either VALISE_SMTP_URL or VALISE_NOTIFY_WEBHOOK_URL, not both",
        ));
    }
    let notify_retry_base = seconds(get, "VALISE_NOTIFY_RETRY_SECONDS", 30, 1, 3600)?;
    let notify_retry_cap = seconds(get, "VALISE_NOTIFY_RETRY_MAX_SECONDS", 3600, 1, 86_400)?;
    if notify_retry_cap < notify_retry_base {
        return Err(invalid(
            "VALISE_NOTIFY_RETRY_MAX_SECONDS",
            "must not be below VALISE_NOTIFY_RETRY_SECONDS",
        ));
    }
    let webhook_allow_private = match get("VALISE_WEBHOOK_ALLOW_PRIVATE")
        .as_deref()
        .map(str::trim)
    {
        None | Some("false") | Some("0") => false,
        Some("true") | Some("1") if production => {
            return Err(invalid(
                "VALISE_WEBHOOK_ALLOW_PRIVATE",
                "production refuses webhooks to private addresses",
            ))
        }
        Some("true") | Some("1") => true,
        Some(_) => {
            return Err(invalid(
                "VALISE_WEBHOOK_ALLOW_PRIVATE",
                "expected true or false",
            ))
        }
    };
    Ok(DeliveryConfig {
        interval: Duration::from_millis(
            number(get, "VALISE_DELIVERY_INTERVAL_MS", 1000, 50, 60_000)?.unsigned_abs(),
        ),
        timeout: seconds(get, "VALISE_DELIVERY_TIMEOUT_SECONDS", 10, 1, 120)?,
        gateway,
        mail,
        notify_max_attempts: i32::try_from(number(get, "VALISE_NOTIFY_MAX_ATTEMPTS", 8, 1, 50)?)
            .unwrap_or(8),
        notify_retry_base,
        notify_retry_cap,
        webhook_allow_private,
        ..DeliveryConfig::default()
    })
}

fn metrics_token_from(
    get: &impl Fn(&str) -> Option<String>,
) -> Result<Option<Secret<String>>, ConfigError> {
    match secret_var(get, "VALISE_METRICS_TOKEN", "VALISE_METRICS_TOKEN_FILE")? {
        None => Ok(None),
        Some(t) if t.len() >= 16 && t.bytes().all(|b| b.is_ascii_graphic()) => {
            Ok(Some(Secret::new(t)))
        }
        Some(_) => Err(invalid(
            "VALISE_METRICS_TOKEN",
            "expected at least 16 printable characters without spaces",
        )),
    }
}

fn analytics_from(get: &impl Fn(&str) -> Option<String>) -> Result<AnalyticsConfig, ConfigError> {
    Ok(AnalyticsConfig {
        min_visitors: number(get, "VALISE_ANALYTICS_MIN_VISITORS", 5, 2, 1000)?,
        raw_days: number(get, "VALISE_ANALYTICS_RAW_DAYS", 30, 2, 3660)?,
        rollup_interval: seconds(get, "VALISE_ANALYTICS_ROLLUP_SECONDS", 60, 1, 3600)?,
        batches_per_minute: i32::try_from(number(
            get,
            "VALISE_ANALYTICS_BATCHES_PER_MINUTE",
            120,
            1,
            100_000,
        )?)
        .unwrap_or(120),
        flush_interval: Duration::from_millis(
            number(get, "VALISE_ANALYTICS_FLUSH_MS", 100, 10, 60_000)?.unsigned_abs(),
        ),
        buffer_events: usize::try_from(number(
            get,
            "VALISE_ANALYTICS_BUFFER_EVENTS",
            100_000,
            100,
            10_000_000,
        )?)
        .unwrap_or(100_000),
    })
}

/// Where the audit chain's checkpoints are appended (none by default in production), and
/// how often.
fn audit_anchor_from(
    get: &impl Fn(&str) -> Option<String>,
    production: bool,
    data_dir: &Path,
) -> Result<(Option<PathBuf>, Duration), ConfigError> {
    let file = match get("VALISE_AUDIT_ANCHOR_FILE") {
        Some(path) => Some(PathBuf::from(path.trim())),
        None if production => None,
        None => Some(data_dir.join("audit-anchors.jsonl")),
    };
    let interval = seconds(get, "VALISE_AUDIT_ANCHOR_SECONDS", 60, 1, 86_400)?;
    Ok((file, interval))
}

fn telemetry_from(get: &impl Fn(&str) -> Option<String>) -> Result<TelemetryConfig, ConfigError> {
    let log_format = match get("VALISE_LOG_FORMAT").as_deref().map(str::trim) {
        None | Some("text") => LogFormat::Text,
        Some("json") => LogFormat::Json,
        Some(_) => return Err(invalid("VALISE_LOG_FORMAT", "expected text or json")),
    };
    let otlp_traces = match get("VALISE_OTLP_ENDPOINT") {
        None => None,
        Some(raw) => Some(
            otlp_traces_url(raw.trim())
                .map_err(|reason| invalid("VALISE_OTLP_ENDPOINT", reason))?,
        ),
    };
    Ok(TelemetryConfig {
        log_format,
        otlp_traces,
    })
}

/// The traces URL of an OTLP/HTTP collector given by its base URL (`http://collector:4318`),
/// as the OpenTelemetry specification derives it from `OTEL_EXPORTER_OTLP_ENDPOINT`: the
/// base's path, then `/v1/traces`. Credentials go in `OTEL_EXPORTER_OTLP_HEADERS`, not in
/// the URL, which is logged.
fn otlp_traces_url(raw: &str) -> Result<url::Url, String> {
    const EXPECTED: &str = "expected the collector's base URL, e.g. http://127.0.0.1:4318";
    let mut url = url::Url::parse(raw).map_err(|_| EXPECTED.to_owned())?;
    if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
        return Err(EXPECTED.to_owned());
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(
            "credentials do not belong in the URL: set OTEL_EXPORTER_OTLP_HEADERS".to_owned(),
        );
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(format!("{EXPECTED}, without a query or fragment"));
    }
    let path = format!("{}/v1/traces", url.path().trim_end_matches('/'));
    url.set_path(&path);
    Ok(url)
}

fn parse_origins(raw: &str) -> Result<CorsOrigins, String> {
    let items: Vec<&str> = raw
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect();
    if items == ["*"] {
        return Ok(CorsOrigins::Any);
    }
    let mut origins = Vec::with_capacity(items.len());
    for item in items {
        let url = url::Url::parse(item).map_err(|_| {
            "expected comma-separated origins like https://shop.example".to_string()
        })?;
        let is_bare_origin = matches!(url.scheme(), "http" | "https")
            && url.host().is_some()
            && url.path() == "/"
            && url.query().is_none()
            && !item.ends_with('/');
        if !is_bare_origin {
            return Err("each origin must be scheme://host[:port] with no path".into());
        }
        origins.push(item.to_owned());
    }
    Ok(CorsOrigins::List(origins))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    /// The configuration of `vars`; production tests get a seller unless they name one.
    fn load(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let mut map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        map.entry("VALISE_SELLER_NAME".into())
            .or_insert_with(|| "Valise Luggage SA".into());
        map.entry("VALISE_SELLER_ADDRESS".into())
            .or_insert_with(|| "Rue du Midi 1; 1000 Brussels; Belgium".into());
        Config::from_lookup(|k| map.get(k).cloned())
    }

    #[test]
    fn production_needs_the_seller_s_name_and_address() {
        let key = "k1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";
        let base = [
            ("VALISE_ENV", "production"),
            ("VALISE_MASTER_KEY", key),
            ("VALISE_JWT_SECRET", "0123456789abcdef0123456789abcdef"),
            ("VALISE_PAYMENT_WEBHOOK_SECRET", "provider-secret-123"),
        ];
        let without = |skip: &str| {
            let map: HashMap<&str, &str> = base
                .iter()
                .copied()
                .chain([
                    ("VALISE_SELLER_NAME", "Valise Luggage SA"),
                    ("VALISE_SELLER_ADDRESS", "Rue du Midi 1; 1000 Brussels"),
                ])
                .filter(|(k, _)| *k != skip)
                .collect();
            Config::from_lookup(|k| map.get(k).map(|v| (*v).to_owned()))
        };
        assert_eq!(
            without("VALISE_SELLER_NAME").unwrap_err().var,
            "VALISE_SELLER_NAME"
        );
        assert_eq!(
            without("VALISE_SELLER_ADDRESS").unwrap_err().var,
            "VALISE_SELLER_ADDRESS"
        );
        let c = without("none").unwrap();
        assert_eq!(c.shop.seller.address, ["Rue du Midi 1", "1000 Brussels"]);
        assert_eq!(c.shop.seller.vat_id, None);
        let c = load(&[("VALISE_SELLER_VAT_ID", "be0123456789")]).unwrap();
        assert_eq!(c.shop.seller.vat_id.as_deref(), Some("BE0123456789"));
        let err = load(&[("VALISE_SELLER_VAT_ID", "12-34")]).unwrap_err();
        assert_eq!(err.var, "VALISE_SELLER_VAT_ID");
    }

    #[test]
    fn defaults_need_no_environment() {
        let c = load(&[]).unwrap();
        assert_eq!(c.bind.to_string(), DEFAULT_BIND);
        assert_eq!(
            c.database_url,
            DatabaseUrl::SqliteFile("./data/valise.db".into())
        );
        assert_eq!(c.environment, Environment::Development);
        assert_eq!(c.cors_origins, CorsOrigins::Any);
        assert_eq!(c.analytics.min_visitors, 5);
        assert_eq!(c.analytics.raw_days, 30);
    }

    #[test]
    fn invalid_values_name_their_variable_without_echoing_it() {
        for (var, value) in [
            ("VALISE_BIND", "not-an-address"),
            ("DATABASE_URL", "mysql://secret-password@x"),
            ("VALISE_ENV", "staging"),
            ("VALISE_DB_POOL_SIZE", "9999"),
            ("VALISE_WORKERS", "many"),
            ("VALISE_CORS_ORIGINS", "https://shop.example/path"),
            ("VALISE_MASTER_KEY", "k1:not-base64!"),
            ("VALISE_JWT_SECRET", "short-secret"),
            ("VALISE_ORDER_PAYMENT_MINUTES", "99999"),
            ("VALISE_AFTER_SALES_DAYS", "-4"),
            ("VALISE_BEHIND_PROXY", "true"),
            ("VALISE_TRUSTED_PROXIES", "proxy.internal"),
            ("VALISE_NOTIFY_WEBHOOK_URL", "ftp://gateway.example/x"),
            ("VALISE_NOTIFY_MAX_ATTEMPTS", "-3"),
            ("VALISE_NOTIFY_RETRY_SECONDS", "soon"),
            ("VALISE_DELIVERY_INTERVAL_MS", "fast"),
            ("VALISE_DELIVERY_TIMEOUT_SECONDS", "600"),
            ("VALISE_METRICS_TOKEN", "tiny"),
            ("VALISE_ANALYTICS_MIN_VISITORS", "one"),
            ("VALISE_ANALYTICS_RAW_DAYS", "forever"),
            ("VALISE_ANALYTICS_ROLLUP_SECONDS", "never"),
            ("VALISE_ANALYTICS_BATCHES_PER_MINUTE", "-5"),
            ("VALISE_RATE_LIMIT_SCALE", "unlimited"),
            ("VALISE_EXPORTS_PER_HOUR", "many"),
            ("VALISE_AUDIT_ANCHOR_SECONDS", "often"),
            ("VALISE_CURRENCY", "XYZ"),
            ("VALISE_CURRENCY", "HRK"),
            ("VALISE_CURRENCY", "XAU"),
            ("VALISE_SHIPPING_FLAT", "9,90"),
            ("VALISE_SHIPPING_FREE_FROM", "-100"),
            ("VALISE_TAX_MODE", "gross"),
            ("VALISE_TAX_HOME_COUNTRY", "QQ"),
            ("VALISE_TAX_HOME_RATE", "120"),
        ] {
            let err = load(&[(var, value)]).unwrap_err();
            assert_eq!(err.var, var);
            let line = err.to_string();
            assert!(line.contains(var) && !line.contains(value), "{line}");
            assert!(!line.contains('\n'));
        }
    }

    #[test]
    fn shipping_is_configured_in_major_units_of_the_currency() {
        let eur = load(&[]).unwrap().shop;
        assert_eq!(eur.currency, Currency::EUR);
        assert_eq!(
            eur.shipping,
            Shipping {
                flat: 990,
                free_from: 10_000
            }
        );
        let kwd = load(&[("VALISE_CURRENCY", "KWD")]).unwrap().shop;
        assert_eq!((kwd.currency.minor_unit(), kwd.shipping.flat), (3, 9_900));
        let jpy = load(&[
            ("VALISE_CURRENCY", "JPY"),
            ("VALISE_SHIPPING_FLAT", "1200"),
            ("VALISE_SHIPPING_FREE_FROM", "15000"),
        ])
        .unwrap()
        .shop;
        assert_eq!((jpy.shipping.flat, jpy.shipping.free_from), (1_200, 15_000));
    }

    #[test]
    fn a_default_that_does_not_fit_the_currency_must_be_set() {
        let err = load(&[("VALISE_CURRENCY", "JPY")]).unwrap_err();
        assert_eq!(err.var, "VALISE_SHIPPING_FLAT");
        assert!(err.reason.contains("JPY"), "{}", err.reason);
        let err = load(&[("VALISE_CURRENCY", "JPY"), ("VALISE_SHIPPING_FLAT", "9.90")]);
        assert_eq!(err.unwrap_err().var, "VALISE_SHIPPING_FLAT");
    }

    #[test]
    fn tax_settings_default_to_gross_prices_from_belgium() {
        let tax = load(&[]).unwrap().shop.tax;
        assert_eq!(tax, TaxSettings::default());
        assert_eq!(
            (tax.mode, tax.home_country.as_str()),
            (TaxMode::Inclusive, "BE")
        );
        let tax = load(&[
            ("VALISE_TAX_MODE", "exclusive"),
            ("VALISE_TAX_HOME_COUNTRY", "us"),
            ("VALISE_TAX_HOME_RATE", "8.25"),
        ])
        .unwrap()
        .shop
        .tax;
        assert_eq!(tax.mode, TaxMode::Exclusive);
        assert_eq!(
            (tax.home_country.as_str(), tax.home_rate),
            ("US", Some(825))
        );
    }

    #[test]
    fn analytics_reports_always_hide_single_visitors() {
        let err = load(&[("VALISE_ANALYTICS_MIN_VISITORS", "1")]).unwrap_err();
        assert_eq!(err.var, "VALISE_ANALYTICS_MIN_VISITORS");
        let c = load(&[("VALISE_ANALYTICS_MIN_VISITORS", "10")]).unwrap();
        assert_eq!(c.analytics.min_visitors, 10);
    }

    #[test]
    fn the_analytics_buffer_is_bounded_and_flushed_often() {
        let c = load(&[]).unwrap();
        assert_eq!(c.analytics.flush_interval, Duration::from_millis(100));
        assert_eq!(c.analytics.buffer_events, 100_000);
        for (var, value) in [
            ("VALISE_ANALYTICS_FLUSH_MS", "0"),
            ("VALISE_ANALYTICS_BUFFER_EVENTS", "10"),
        ] {
            assert_eq!(load(&[(var, value)]).unwrap_err().var, var);
        }
        let c = load(&[
            ("VALISE_ANALYTICS_FLUSH_MS", "60000"),
            ("VALISE_ANALYTICS_BUFFER_EVENTS", "500"),
        ])
        .unwrap();
        assert_eq!(c.analytics.flush_interval, Duration::from_secs(60));
        assert_eq!(c.analytics.buffer_events, 500);
    }

    #[test]
    fn an_admin_password_alone_bootstraps_nobody() {
        let c = load(&[("VALISE_ADMIN_PASSWORD", "for valise admin create")]).unwrap();
        assert!(c.admin_bootstrap.is_none());
        let err = load(&[("VALISE_ADMIN_EMAIL", "root@shop.example")]).unwrap_err();
        assert_eq!(err.var, "VALISE_ADMIN_PASSWORD");
    }

    #[test]
    fn a_read_replica_needs_postgres_on_both_sides() {
        let pg = "postgres://valise@db/valise";
        let replica = "postgres://valise@replica/valise";
        let c = load(&[("DATABASE_URL", pg), ("DATABASE_READ_URL", replica)]).unwrap();
        assert!(c.read_database_url.is_some());
        let err = load(&[("DATABASE_READ_URL", replica)]).unwrap_err();
        assert_eq!(err.var, "DATABASE_READ_URL");
        let err =
            load(&[("DATABASE_URL", pg), ("DATABASE_READ_URL", "sqlite://x.db")]).unwrap_err();
        assert_eq!(err.var, "DATABASE_READ_URL");
    }

    #[test]
    fn replica_lag_and_prepared_statements_are_settings() {
        use crate::db::StatementCache;
        let c = load(&[]).unwrap();
        assert_eq!(c.replica_max_lag, Duration::from_secs(5));
        assert_eq!(c.db_statements, StatementCache::Named);
        let c = load(&[
            ("VALISE_REPLICA_MAX_LAG_MS", "250"),
            ("VALISE_DB_PREPARED_STATEMENTS", "false"),
        ])
        .unwrap();
        assert_eq!(c.replica_max_lag, Duration::from_millis(250));
        assert_eq!(c.db_statements, StatementCache::Unnamed);
        let err = load(&[("VALISE_REPLICA_MAX_LAG_MS", "0")]).unwrap_err();
        assert_eq!(err.var, "VALISE_REPLICA_MAX_LAG_MS");
        let err = load(&[("VALISE_DB_PREPARED_STATEMENTS", "off")]).unwrap_err();
        assert_eq!(err.var, "VALISE_DB_PREPARED_STATEMENTS");
    }

    #[test]
    fn production_refuses_to_start_with_generated_keys() {
        let err = load(&[("VALISE_ENV", "production")]).unwrap_err();
        assert_eq!(err.var, "VALISE_MASTER_KEY");
        let key = "k1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";
        let err = load(&[("VALISE_ENV", "production"), ("VALISE_MASTER_KEY", key)]).unwrap_err();
        assert_eq!(err.var, "VALISE_JWT_SECRET");
        let secret = "0123456789abcdef0123456789abcdef";
        let c = load(&[
            ("VALISE_ENV", "production"),
            ("VALISE_MASTER_KEY", key),
            ("VALISE_JWT_SECRET", secret),
            ("VALISE_PAYMENT_WEBHOOK_SECRET", "provider-secret-123"),
        ])
        .unwrap();
        assert!(matches!(c.master_keys, SecretSource::Value(_)));
        assert!(!format!("{c:?}").contains(secret), "Debug leaks the secret");
    }

    #[test]
    fn development_generates_keys_under_the_data_dir() {
        let c = load(&[]).unwrap();
        assert_eq!(
            c.master_keys,
            SecretSource::Generated("./data/master.keys".into())
        );
        assert_eq!(
            c.jwt_secret,
            SecretSource::Generated("./data/jwt.secret".into())
        );
    }

    #[test]
    fn production_has_no_cross_origin_access_unless_configured() {
        let keys = [
            ("VALISE_ENV", "production"),
            (
                "VALISE_MASTER_KEY",
                "k1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
            ),
            ("VALISE_JWT_SECRET", "0123456789abcdef0123456789abcdef"),
            ("VALISE_PAYMENT_WEBHOOK_SECRET", "provider-secret-123"),
        ];
        let c = load(&keys).unwrap();
        assert_eq!(c.cors_origins, CorsOrigins::None);
        let mut vars = keys.to_vec();
        vars.push((
            "VALISE_CORS_ORIGINS",
            "https://shop.example, http://localhost:3000",
        ));
        let c = load(&vars).unwrap();
        assert_eq!(
            c.cors_origins,
            CorsOrigins::List(vec![
                "https://shop.example".into(),
                "http://localhost:3000".into()
            ])
        );
    }

    #[test]
    fn smtp_is_configured_by_url_with_a_sender_and_excludes_the_gateway() {
        assert!(load(&[]).unwrap().delivery.mail.is_none());
        let c = load(&[
            ("VALISE_SMTP_URL", "smtp://mail.example:2525?tls=required"),
            ("VALISE_MAIL_FROM", "Shop <shop@example.com>"),
        ])
        .unwrap();
        let mail = c.delivery.mail.unwrap();
        assert_eq!(mail.url.expose(), "smtp://mail.example:2525?tls=required");
        assert_eq!(format!("{:?}", mail.url), "Secret(***)");
        for (url, from) in [
            ("http://mail.example", "shop@example.com"),
            ("smtp://mail.example?tls=maybe", "shop@example.com"),
            ("smtp://mail.example", ""),
            ("smtp://user:pw@mail.example", "shop@example.com"),
            (
                "smtp://user:pw@mail.example?tls=opportunistic",
                "shop@example.com",
            ),
            ("smtps://user@mail.example", "shop@example.com"),
            ("smtps://:pw@mail.example", "shop@example.com"),
        ] {
            let mut vars = vec![("VALISE_SMTP_URL", url)];
            if !from.is_empty() {
                vars.push(("VALISE_MAIL_FROM", from));
            }
            assert!(load(&vars).is_err(), "{url} {from}");
        }
        let both = load(&[
            ("VALISE_SMTP_URL", "smtps://u:p@mail.example"),
            ("VALISE_MAIL_FROM", "shop@example.com"),
            (
                "VALISE_NOTIFY_WEBHOOK_URL",
                "https://gateway.example/notify",
            ),
        ])
        .unwrap_err();
        assert_eq!(both.var, "VALISE_SMTP_URL");
    }

    #[test]
    fn a_private_smtp_ca_is_read_from_pem_and_needs_tls() {
        let dir = tempfile::tempdir().unwrap();
        let pem = dir.path().join("ca.pem");
        std::fs::write(
            &pem,
            "-----BEGIN CERTIFICATE-----\nMAMCAQA=\n-----END CERTIFICATE-----\n",
        )
        .unwrap();
        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "no certificate here\n").unwrap();
        let (pem, empty) = (pem.to_str().unwrap(), empty.to_str().unwrap());
        let with = |url: &str, ca: &str| {
            load(&[
                ("VALISE_SMTP_URL", url),
                ("VALISE_MAIL_FROM", "shop@example.com"),
                ("VALISE_SMTP_CA_FILE", ca),
            ])
        };
        for url in [
            "smtps://u:p@mail.example",
            "smtp://u:p@mail.example:587?tls=required",
            "smtp://mail.example?tls=opportunistic",
        ] {
            let mail = with(url, pem).unwrap().delivery.mail.unwrap();
            assert_eq!(mail.ca_certificates.len(), 1, "{url}");
        }
        let plain = load(&[
            ("VALISE_SMTP_URL", "smtp://mail.example"),
            ("VALISE_MAIL_FROM", "shop@example.com"),
        ])
        .unwrap();
        assert!(plain.delivery.mail.unwrap().ca_certificates.is_empty());
        for (url, ca) in [
            ("smtp://mail.example", pem),
            ("smtps://u:p@mail.example", empty),
            ("smtps://u:p@mail.example", "/nonexistent/ca.pem"),
        ] {
            let err = with(url, ca).unwrap_err();
            assert_eq!(err.var, "VALISE_SMTP_CA_FILE", "{url} {ca}");
        }
    }

    #[test]
    fn the_notification_gateway_is_optional_and_signed_with_a_real_secret_in_production() {
        let c = load(&[]).unwrap();
        assert!(c.delivery.gateway.is_none());
        assert_eq!(c.delivery.notify_max_attempts, 8);
        let url = (
            "VALISE_NOTIFY_WEBHOOK_URL",
            "https://gw.example/hook?token=abc",
        );
        let c = load(&[url]).unwrap();
        let gateway = c.delivery.gateway.clone().unwrap();
        assert_eq!(gateway.secret.expose(), DEV_NOTIFY_WEBHOOK_SECRET);
        assert!(
            !format!("{c:?}").contains("token=abc"),
            "Debug leaks the URL"
        );

        let production = [
            ("VALISE_ENV", "production"),
            (
                "VALISE_MASTER_KEY",
                "k1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
            ),
            ("VALISE_JWT_SECRET", "0123456789abcdef0123456789abcdef"),
            ("VALISE_PAYMENT_WEBHOOK_SECRET", "provider-secret-123"),
        ];
        assert!(load(&production).unwrap().delivery.gateway.is_none());
        let mut vars = production.to_vec();
        vars.push(url);
        assert_eq!(load(&vars).unwrap_err().var, "VALISE_NOTIFY_WEBHOOK_SECRET");
        vars.push(("VALISE_NOTIFY_WEBHOOK_SECRET", DEV_NOTIFY_WEBHOOK_SECRET));
        assert_eq!(load(&vars).unwrap_err().var, "VALISE_NOTIFY_WEBHOOK_SECRET");
        vars.pop();
        vars.push(("VALISE_NOTIFY_WEBHOOK_SECRET", "gateway-secret-456"));
        assert!(load(&vars).unwrap().delivery.gateway.is_some());
    }

    #[test]
    fn private_webhook_addresses_are_a_development_opt_in_that_production_refuses() {
        assert!(!load(&[]).unwrap().delivery.webhook_allow_private);
        let opt_in = ("VALISE_WEBHOOK_ALLOW_PRIVATE", "true");
        assert!(load(&[opt_in]).unwrap().delivery.webhook_allow_private);
        let err = load(&[("VALISE_WEBHOOK_ALLOW_PRIVATE", "maybe")]).unwrap_err();
        assert_eq!(err.var, "VALISE_WEBHOOK_ALLOW_PRIVATE");

        let mut production = vec![
            ("VALISE_ENV", "production"),
            (
                "VALISE_MASTER_KEY",
                "k1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
            ),
            ("VALISE_JWT_SECRET", "0123456789abcdef0123456789abcdef"),
            ("VALISE_PAYMENT_WEBHOOK_SECRET", "provider-secret-123"),
        ];
        assert!(!load(&production).unwrap().delivery.webhook_allow_private);
        production.push(("VALISE_WEBHOOK_ALLOW_PRIVATE", "false"));
        assert!(!load(&production).unwrap().delivery.webhook_allow_private);
        production.pop();
        production.push(opt_in);
        let err = load(&production).unwrap_err();
        assert_eq!(err.var, "VALISE_WEBHOOK_ALLOW_PRIVATE");
        let line = err.to_string();
        assert!(line.contains("VALISE_WEBHOOK_ALLOW_PRIVATE") && !line.contains('\n'));
    }

    #[test]
    fn integrator_webhooks_get_at_least_eight_tries_over_four_hours() {
        let delays = DeliveryConfig::default().webhook_retry_delays;
        assert!(delays.len() + 1 >= 8);
        let span: Duration = delays.iter().sum();
        assert!(span >= Duration::from_secs(4 * 3600));
    }

    const REAL_KEY: &str = "k1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";
    const REAL_JWT: &str = "a-signing-secret-of-at-least-32-characters";

    #[test]
    fn a_public_listener_refuses_every_development_default_by_name() {
        assert!(
            load(&[]).unwrap().check_listener().is_ok(),
            "loopback is fine"
        );
        assert!(load(&[("VALISE_BIND", "[::1]:8080")])
            .unwrap()
            .check_listener()
            .is_ok());

        let err = load(&[("VALISE_BIND", "0.0.0.0:8080")])
            .unwrap()
            .check_listener()
            .unwrap_err();
        assert_eq!(err.var, "VALISE_BIND");
        let line = err.to_string();
        for var in [
            "VALISE_MASTER_KEY",
            "VALISE_JWT_SECRET",
            "VALISE_PAYMENT_WEBHOOK_SECRET",
        ] {
            assert!(line.contains(var), "{line}");
        }
        assert!(
            !line.contains('\n') && !line.contains(DEV_WEBHOOK_SECRET),
            "{line}"
        );

        // One default left is enough to refuse, and it alone is named.
        let err = load(&[
            ("VALISE_BIND", "10.0.0.7:8080"),
            ("VALISE_MASTER_KEY", REAL_KEY),
            ("VALISE_JWT_SECRET", REAL_JWT),
        ])
        .unwrap()
        .check_listener()
        .unwrap_err();
        assert!(
            err.reason.contains("VALISE_PAYMENT_WEBHOOK_SECRET"),
            "{err}"
        );
        assert!(!err.reason.contains("VALISE_JWT_SECRET"), "{err}");

        let gateway = load(&[
            ("VALISE_BIND", "0.0.0.0:8080"),
            ("VALISE_MASTER_KEY", REAL_KEY),
            ("VALISE_JWT_SECRET", REAL_JWT),
            (
                "VALISE_PAYMENT_WEBHOOK_SECRET",
                "whsec-a-real-provider-secret",
            ),
            (
                "VALISE_NOTIFY_WEBHOOK_URL",
                "https://gateway.example/notify",
            ),
        ])
        .unwrap()
        .check_listener()
        .unwrap_err();
        assert!(gateway.reason.contains("VALISE_NOTIFY_WEBHOOK_SECRET"));

        assert!(load(&[
            ("VALISE_BIND", "0.0.0.0:8080"),
            ("VALISE_MASTER_KEY", REAL_KEY),
            ("VALISE_JWT_SECRET", REAL_JWT),
            (
                "VALISE_PAYMENT_WEBHOOK_SECRET",
                "whsec-a-real-provider-secret"
            ),
        ])
        .unwrap()
        .check_listener()
        .is_ok());
    }

    #[test]
    fn stripe_is_on_with_its_key_and_production_refuses_test_keys() {
        assert!(load(&[]).unwrap().stripe.is_none());
        let test_key = ("VALISE_STRIPE_SECRET_KEY", "sk_test_0123456789abcdef");
        let whsec = ("VALISE_STRIPE_WEBHOOK_SECRET", "whsec_0123456789abcdef");
        let err = load(&[test_key]).unwrap_err();
        assert_eq!(err.var, "VALISE_STRIPE_WEBHOOK_SECRET");
        let err = load(&[whsec]).unwrap_err();
        assert_eq!(err.var, "VALISE_STRIPE_SECRET_KEY");
        let c = load(&[test_key, whsec]).unwrap().stripe.unwrap();
        assert_eq!(c.api_base.as_str(), "https://api.stripe.com/");
        assert!(!format!("{c:?}").contains("0123456789abcdef"), "redacted");
        let err = load(&[
            ("VALISE_STRIPE_SECRET_KEY", "pk_test_0123456789abcdef"),
            whsec,
        ]);
        assert_eq!(err.unwrap_err().var, "VALISE_STRIPE_SECRET_KEY");

        let production = [
            ("VALISE_ENV", "production"),
            (
                "VALISE_MASTER_KEY",
                "k1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
            ),
            ("VALISE_JWT_SECRET", "0123456789abcdef0123456789abcdef"),
            ("VALISE_PAYMENT_WEBHOOK_SECRET", "a-real-webhook-secret"),
        ];
        let mut vars = production.to_vec();
        vars.extend([test_key, whsec]);
        let err = load(&vars).unwrap_err();
        assert_eq!(err.var, "VALISE_STRIPE_SECRET_KEY");
        assert!(err.reason.contains("test-mode"), "{err}");
        vars.push(("VALISE_STRIPE_ALLOW_TEST_KEYS", "true"));
        assert!(load(&vars).unwrap().stripe.is_some());
        let mut vars = production.to_vec();
        vars.extend([
            ("VALISE_STRIPE_SECRET_KEY", "sk_live_0123456789abcdef"),
            whsec,
        ]);
        assert!(load(&vars).unwrap().stripe.is_some());
        vars.push(("VALISE_STRIPE_API_BASE", "http://127.0.0.1:12111"));
        assert_eq!(load(&vars).unwrap_err().var, "VALISE_STRIPE_API_BASE");

        // Currencies Stripe counts in other units than ISO 4217 are refused with Stripe.
        let whole = [
            ("VALISE_SHIPPING_FLAT", "990"),
            ("VALISE_SHIPPING_FREE_FROM", "10000"),
        ];
        for code in ["ISK", "MGA", "KWD"] {
            let mut vars = vec![test_key, whsec, ("VALISE_CURRENCY", code)];
            vars.extend(whole);
            let err = load(&vars).unwrap_err();
            assert_eq!(err.var, "VALISE_CURRENCY", "{code}");
        }
        assert!(
            load(&[("VALISE_CURRENCY", "KWD")]).is_ok(),
            "fine without Stripe"
        );
        let mut vars = vec![test_key, whsec, ("VALISE_CURRENCY", "JPY")];
        vars.extend(whole);
        assert!(load(&vars).is_ok());
    }

    #[test]
    fn secrets_can_come_from_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("payment.secret");
        std::fs::write(&path, "whsec-from-a-mounted-file\n").unwrap();
        let path = path.to_string_lossy().into_owned();
        let c = load(&[("VALISE_PAYMENT_WEBHOOK_SECRET_FILE", &path)]).unwrap();
        assert_eq!(
            c.payment_webhook_secret.expose(),
            "whsec-from-a-mounted-file"
        );

        let err = load(&[
            ("VALISE_PAYMENT_WEBHOOK_SECRET_FILE", &path),
            (
                "VALISE_PAYMENT_WEBHOOK_SECRET",
                "whsec-a-real-provider-secret",
            ),
        ])
        .unwrap_err();
        assert_eq!(err.var, "VALISE_PAYMENT_WEBHOOK_SECRET");
        let err = load(&[("VALISE_METRICS_TOKEN_FILE", "/nonexistent/metrics.token")]).unwrap_err();
        assert_eq!(err.var, "VALISE_METRICS_TOKEN_FILE");
    }

    #[test]
    fn the_database_url_and_its_password_can_come_from_a_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("database.url");
        std::fs::write(&path, "postgres://valise:from-a-file@db:5432/valise\n").unwrap();
        let path = path.to_string_lossy().into_owned();
        let c = load(&[("DATABASE_URL_FILE", &path)]).unwrap();
        assert_eq!(
            c.database_url.to_env_value(),
            "postgres://valise:from-a-file@db:5432/valise"
        );

        let err = load(&[
            ("DATABASE_URL_FILE", &path),
            ("DATABASE_URL", "sqlite::memory:"),
        ])
        .unwrap_err();
        assert_eq!(err.var, "DATABASE_URL");
        let err = load(&[("DATABASE_URL_FILE", "/nonexistent/database.url")]).unwrap_err();
        assert_eq!(err.var, "DATABASE_URL_FILE");
    }

    #[test]
    fn the_log_format_and_the_trace_collector_are_checked() {
        let c = load(&[]).unwrap();
        assert_eq!(c.telemetry, TelemetryConfig::default());
        let c = load(&[
            ("VALISE_LOG_FORMAT", "json"),
            ("VALISE_OTLP_ENDPOINT", "http://collector:4318"),
        ])
        .unwrap();
        assert_eq!(c.telemetry.log_format, LogFormat::Json);
        let traces = c.telemetry.otlp_traces.unwrap();
        assert_eq!(traces.as_str(), "http://collector:4318/v1/traces");
        let c = load(&[("VALISE_OTLP_ENDPOINT", "https://otel.example/otlp/")]).unwrap();
        let traces = c.telemetry.otlp_traces.unwrap();
        assert_eq!(traces.as_str(), "https://otel.example/otlp/v1/traces");

        assert_eq!(
            load(&[("VALISE_LOG_FORMAT", "logfmt")]).unwrap_err().var,
            "VALISE_LOG_FORMAT"
        );
        for bad in [
            "collector:4318",
            "grpc://collector:4317",
            "http://user:token@collector:4318",
            "http://collector:4318/?token=1",
        ] {
            let err = load(&[("VALISE_OTLP_ENDPOINT", bad)]).unwrap_err();
            assert_eq!(err.var, "VALISE_OTLP_ENDPOINT", "{bad}");
            assert!(!err.reason.contains("token"), "{bad}: {}", err.reason);
        }
    }
}
