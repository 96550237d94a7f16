//! Typed settings from the environment (see the README's configuration table).
//!
//! Every variable is optional for a local run. An invalid value stops the start with one line
//! naming the variable and what was expected; the value itself is never echoed, since some
//! variables carry credentials.

use std::net::SocketAddr;

use crate::db::DatabaseUrl;

pub const DEFAULT_BIND: &str = "127.0.0.1:8080";
pub const DEFAULT_DATABASE_URL: &str = "sqlite://./data/valise.db";

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

#[derive(Debug, Clone)]
pub struct Config {
    pub environment: Environment,
    pub bind: SocketAddr,
    pub database_url: DatabaseUrl,
    pub db_pool_size: u32,
    /// HTTP worker threads; `None` lets actix use one per physical core.
    pub workers: Option<usize>,
    pub cors_origins: CorsOrigins,
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

impl Config {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Builds the configuration from any variable source (the environment, or a map in tests).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let get = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());

        let environment = match get("VALISE_ENV").as_deref().map(str::trim) {
            None | Some("development") | Some("dev") => Environment::Development,
            Some("production") | Some("prod") => Environment::Production,
            Some(_) => return Err(invalid("VALISE_ENV", "expected development or production")),
        };

        let bind = get("VALISE_BIND")
            .unwrap_or_else(|| DEFAULT_BIND.into())
            .trim()
            .parse::<SocketAddr>()
            .map_err(|_| invalid("VALISE_BIND", "expected IP:PORT, e.g. 127.0.0.1:8080"))?;

        let database_url =
            DatabaseUrl::parse(&get("DATABASE_URL").unwrap_or_else(|| DEFAULT_DATABASE_URL.into()))
                .map_err(|reason| invalid("DATABASE_URL", reason))?;

        let db_pool_size = match get("VALISE_DB_POOL_SIZE") {
            None => 10,
            Some(v) => v
                .trim()
                .parse::<u32>()
                .ok()
                .filter(|n| (1..=200).contains(n))
                .ok_or_else(|| invalid("VALISE_DB_POOL_SIZE", "expected a number from 1 to 200"))?,
        };

        let workers = match get("VALISE_WORKERS") {
            None => None,
            Some(v) => Some(
                v.trim()
                    .parse::<usize>()
                    .ok()
                    .filter(|n| (1..=256).contains(n))
                    .ok_or_else(|| invalid("VALISE_WORKERS", "expected a number from 1 to 256"))?,
            ),
        };

        let cors_origins = match get("VALISE_CORS_ORIGINS") {
            None if environment == Environment::Production => CorsOrigins::None,
            None => CorsOrigins::Any,
            Some(v) => parse_origins(&v).map_err(|r| invalid("VALISE_CORS_ORIGINS", r))?,
        };

        Ok(Self {
            environment,
            bind,
            database_url,
            db_pool_size,
            workers,
            cors_origins,
        })
    }

    /// Settings for a test server: port 0, the given database, one worker.
    pub fn for_tests(database_url: DatabaseUrl) -> Self {
        Self {
            environment: Environment::Development,
            bind: SocketAddr::from(([127, 0, 0, 1], 0)),
            database_url,
            db_pool_size: 4,
            workers: Some(1),
            cors_origins: CorsOrigins::Any,
        }
    }
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

    fn load(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::from_lookup(|k| map.get(k).cloned())
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
        ] {
            let err = load(&[(var, value)]).unwrap_err();
            assert_eq!(err.var, var);
            let line = err.to_string();
            assert!(line.contains(var) && !line.contains(value), "{line}");
            assert!(!line.contains('\n'));
        }
    }

    #[test]
    fn production_has_no_cross_origin_access_unless_configured() {
        let c = load(&[("VALISE_ENV", "production")]).unwrap();
        assert_eq!(c.cors_origins, CorsOrigins::None);
        let c = load(&[
            ("VALISE_ENV", "production"),
            (
                "VALISE_CORS_ORIGINS",
                "https://shop.example, http://localhost:3000",
            ),
        ])
        .unwrap();
        assert_eq!(
            c.cors_origins,
            CorsOrigins::List(vec![
                "https://shop.example".into(),
                "http://localhost:3000".into()
            ])
        );
    }
}
