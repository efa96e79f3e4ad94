//! Governance from a configuration file and the environment.
//!
//! One TOML file holds the settings of the client and server stacks, each layer a table;
//! environment variables override single values, so a deployment can change a timeout
//! without a new file:
//!
//! ```toml
//! [client.timeout]
//! default = "1s"
//! methods."Bank.report" = "30s"
//!
//! [client.retry]
//! budget = { ratio = 0.2, min_per_second = 10, window = "10s" }
//! methods."Bank.get" = { idempotent = true, backup = { percentile = 99 } }
//!
//! [server.timeout]
//! default = "5s"
//! ```
//!
//! `ROOKERY__CLIENT__TIMEOUT__DEFAULT=250ms` sets `client.timeout.default` (`ROOKERY__`, then
//! the path with `__` between keys; keys are lower-cased, except the method names under a
//! `methods` table, kept as written). A value is read as TOML when it is one (`3`, `true`,
//! `0.2`) and as a string otherwise (`250ms`). [`Config::from_env`] reads the file that
//! `ROOKERY_CONFIG` names, if set, then the overrides.
//!
//! ```
//! use rookery_middleware::config::Config;
//!
//! let config = Config::from_toml_with_env(
//!     "[client.timeout]\ndefault = \"1s\"\n",
//!     [("ROOKERY__CLIENT__TIMEOUT__DEFAULT", "250ms")],
//! )
//! .unwrap();
//! let timeout = config.client.timeout.unwrap();
//! assert_eq!(timeout.default, Some(std::time::Duration::from_millis(250)));
//! ```

use std::{fmt, path::Path};

use serde::{Deserialize, Serialize};

use crate::{
    breaker::CircuitBreakerConfig,
    limit::{concurrency::ConcurrencyLimitConfig, rate::RateLimitConfig},
    log::AccessLogConfig,
    retry::RetryConfig,
    timeout::TimeoutConfig,
    trace::TraceConfig,
};

/// The variable that names the configuration file.
pub const CONFIG_FILE_ENV: &str = "ROOKERY_CONFIG";

/// The prefix of variables that override single settings.
pub const ENV_PREFIX: &str = "ROOKERY__";

/// The settings of a process's client and server stacks. A layer whose table is absent is
/// left out of the stack built from it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The layers of clients.
    #[serde(default)]
    pub client: ClientConfig,
    /// The layers of servers.
    #[serde(default)]
    pub server: ServerConfig,
}

/// The layers of a client stack.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientConfig {
    /// Timeouts per method.
    pub timeout: Option<TimeoutConfig>,
    /// Retries and backup requests: the budget, and policies per method.
    pub retry: Option<RetryConfig>,
    /// Circuit breakers per method (and instance).
    pub circuit_breaker: Option<CircuitBreakerConfig>,
    /// How many calls may be in flight at once (calls over it wait, unless `when_full` says
    /// otherwise).
    pub concurrency_limit: Option<ConcurrencyLimitConfig>,
    /// The bearer token attached to calls (`[client.authorization]`, its token from a file or
    /// a variable).
    pub authorization: Option<crate::auth::AuthorizationConfig>,
    /// Access logs of the calls made.
    pub access_log: Option<AccessLogConfig>,
    /// Tracing of the calls made.
    pub trace: Option<TraceConfig>,
}

/// The layers of a server stack.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerConfig {
    /// Timeouts per method (beside the deadline each caller sends).
    pub timeout: Option<TimeoutConfig>,
    /// Rate limits per service and method.
    pub rate_limit: Option<RateLimitConfig>,
    /// How many calls may run at once, per service and method (calls over it are shed,
    /// unless `when_full` says otherwise).
    pub concurrency_limit: Option<ConcurrencyLimitConfig>,
    /// JWT authentication of callers (`[server.jwt]`, feature `jwt`).
    #[cfg(feature = "jwt")]
    pub jwt: Option<crate::auth::JwtConfig>,
    /// Access logs of the calls answered.
    pub access_log: Option<AccessLogConfig>,
    /// Tracing of the calls answered.
    pub trace: Option<TraceConfig>,
}

/// Why a configuration could not be read: the file, the variable or the setting at fault.
#[derive(Debug)]
pub struct ConfigError {
    message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ConfigError {}

pub(crate) fn error(message: impl Into<String>) -> ConfigError {
    ConfigError {
        message: message.into(),
    }
}

impl Config {
    /// The settings of a TOML document.
    pub fn from_toml(text: &str) -> Result<Config, ConfigError> {
        Config::from_toml_with_env(text, std::iter::empty::<(String, String)>())
    }

    /// The settings of a TOML file.
    pub fn from_file(path: impl AsRef<Path>) -> Result<Config, ConfigError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path)
            .map_err(|e| error(format!("reading {}: {e}", path.display())))?;
        Config::from_toml(&text).map_err(|e| error(format!("{}: {e}", path.display())))
    }

    /// The settings of the file `ROOKERY_CONFIG` names (none if unset), overridden by the
    /// `ROOKERY__…` variables of this process.
    pub fn from_env() -> Result<Config, ConfigError> {
        let (text, origin) = match std::env::var_os(CONFIG_FILE_ENV) {
            Some(path) => {
                let text = std::fs::read_to_string(&path).map_err(|e| {
                    error(format!(
                        "reading {} ({CONFIG_FILE_ENV}): {e}",
                        Path::new(&path).display()
                    ))
                })?;
                (text, Path::new(&path).display().to_string())
            }
            None => (String::new(), "the environment".to_string()),
        };
        let vars = std::env::vars_os()
            .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)));
        Config::from_toml_with_env(&text, vars).map_err(|e| error(format!("{origin}: {e}")))
    }

    /// The settings of a TOML document overridden by `vars` (those starting with
    /// `ROOKERY__`; others are ignored).
    pub fn from_toml_with_env<K, V>(
        text: &str,
        vars: impl IntoIterator<Item = (K, V)>,
    ) -> Result<Config, ConfigError>
    where
        K: AsRef<str>,
        V: AsRef<str>,
    {
        let mut table: toml::Table = text.parse().map_err(|e| error(format!("{e}")))?;
        let mut overrides: Vec<(String, String)> = vars
            .into_iter()
            .filter(|(k, _)| k.as_ref().starts_with(ENV_PREFIX))
            .map(|(k, v)| (k.as_ref().to_string(), v.as_ref().to_string()))
            .collect();
        // Applied in a fixed order, so the outcome does not depend on the environment's.
        overrides.sort();
        for (name, value) in overrides {
            apply(&mut table, &name, &value)?;
        }
        Config::deserialize(toml::Value::Table(table)).map_err(|e| error(format!("{e}")))
    }
}

/// Sets the value the variable `name` names to `value`.
fn apply(table: &mut toml::Table, name: &str, value: &str) -> Result<(), ConfigError> {
    let path: Vec<&str> = name[ENV_PREFIX.len()..].split("__").collect();
    if path.iter().any(|p| p.is_empty()) {
        return Err(error(format!("{name}: an empty key in the path")));
    }
    let mut keys = Vec::with_capacity(path.len());
    for (i, key) in path.iter().enumerate() {
        // Method names are kept as written; every other key is lower-cased.
        let keep = i > 0 && path[i - 1].eq_ignore_ascii_case("methods");
        keys.push(if keep {
            key.to_string()
        } else {
            key.to_ascii_lowercase()
        });
    }
    let (last, parents) = keys.split_last().expect("the path is not empty");
    let mut here = table;
    for key in parents {
        let entry = here
            .entry(key.clone())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        here = match entry {
            toml::Value::Table(t) => t,
            _ => return Err(error(format!("{name}: {key} is not a table"))),
        };
    }
    here.insert(last.clone(), scalar(value));
    Ok(())
}

/// A variable's value as TOML when it reads as a TOML value, else as a string.
fn scalar(value: &str) -> toml::Value {
    let doc = format!("v = {value}");
    match doc.parse::<toml::Table>() {
        Ok(mut t) => t
            .remove("v")
            .unwrap_or_else(|| toml::Value::String(value.into())),
        Err(_) => toml::Value::String(value.into()),
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn the_environment_overrides_the_file_and_keeps_method_names() {
        let text = r#"
            [client.timeout]
            default = "1s"
            methods."Bank.report" = "30s"
        "#;
        let config = Config::from_toml_with_env(
            text,
            [
                ("ROOKERY__CLIENT__TIMEOUT__METHODS__Bank.get", "2s"),
                ("ROOKERY__SERVER__TIMEOUT__DEFAULT", "5s"),
                ("UNRELATED", "x"),
            ],
        )
        .unwrap();
        let client = config.client.timeout.unwrap();
        assert_eq!(client.default, Some(Duration::from_secs(1)));
        assert_eq!(client.methods["Bank.report"], Duration::from_secs(30));
        assert_eq!(client.methods["Bank.get"], Duration::from_secs(2));
        assert_eq!(
            config.server.timeout.unwrap().default,
            Some(Duration::from_secs(5))
        );
    }

    #[cfg(feature = "jwt")]
    #[test]
    fn authentication_is_read_from_the_file_and_the_environment() {
        let text = r#"
            [client.authorization]
            token = { env = "ORDERS_TOKEN" }

            [server.jwt]
            algorithm = "RS256"
            key = { jwks_file = "/etc/rookery/jwks.json" }
            audience = ["orders"]
        "#;
        let config =
            Config::from_toml_with_env(text, [("ROOKERY__SERVER__JWT__LEEWAY", "10s")]).unwrap();
        let jwt = config.server.jwt.unwrap();
        assert_eq!(jwt.algorithm, crate::auth::Algorithm::RS256);
        assert_eq!(jwt.leeway, Duration::from_secs(10));
        assert_eq!(
            config.client.authorization.unwrap().token,
            crate::auth::SecretSource::Env("ORDERS_TOKEN".into())
        );
    }

    #[test]
    fn errors_name_the_setting_at_fault() {
        let typo = Config::from_toml("[client.timout]\ndefault = \"1s\"\n").unwrap_err();
        assert!(typo.to_string().contains("timout"), "{typo}");
        let bad = Config::from_toml_with_env("", [("ROOKERY__CLIENT__TIMEOUT__DEFAULT", "soon")])
            .unwrap_err();
        assert!(bad.to_string().contains("soon"), "{bad}");
        let clash = Config::from_toml_with_env(
            "[client]\ntimeout = 3\n",
            [("ROOKERY__CLIENT__TIMEOUT__DEFAULT", "1s")],
        )
        .unwrap_err();
        assert!(clash.to_string().contains("not a table"), "{clash}");
        assert!(Config::from_toml("not toml [").is_err());
        assert_eq!(Config::from_toml("").unwrap(), Config::default());
    }

    #[test]
    fn retries_read_from_the_file_and_the_environment() {
        let text = r#"
            [client.retry]
            budget = { ratio = 0.2, min_per_second = 10, window = "10s" }
            default = { max_attempts = 2, backoff = { base = "10ms", cap = "100ms" } }
            methods."Bank.get" = { idempotent = true, backup = { percentile = 99, min = "5ms" } }
        "#;
        let config = Config::from_toml_with_env(
            text,
            [
                ("ROOKERY__CLIENT__RETRY__BUDGET__RATIO", "0.1"),
                (
                    "ROOKERY__CLIENT__RETRY__METHODS__Bank.put__MAX_ATTEMPTS",
                    "1",
                ),
            ],
        )
        .unwrap();
        let retry = config.client.retry.unwrap();
        assert_eq!(retry.budget.ratio, 0.1);
        assert_eq!(retry.default.max_attempts, Some(2));
        let get = &retry.methods["Bank.get"];
        assert_eq!(get.backup.as_ref().unwrap().percentile, Some(99.0));
        assert_eq!(retry.methods["Bank.put"].max_attempts, Some(1));
        crate::retry::RetryLayer::from_config(&retry).unwrap();
    }

    #[test]
    fn breakers_and_limits_read_from_the_file_and_the_environment() {
        let text = r#"
            [client.circuit_breaker]
            default = { min_calls = 50, open_for = "2s" }
            methods."Bank.report" = { failure_rate = 0.8 }

            [client.concurrency_limit]
            service = 64

            [server.rate_limit]
            service = { per_second = 1000 }
            methods."Bank.report" = { per_second = 2, burst = 1 }

            [server.concurrency_limit]
            default = 100
            pushback = "250ms"
        "#;
        let config = Config::from_toml_with_env(
            text,
            [(
                "ROOKERY__CLIENT__CIRCUIT_BREAKER__METHODS__Bank.report__MIN_CALLS",
                "5",
            )],
        )
        .unwrap();
        let breaker = config.client.circuit_breaker.unwrap();
        assert_eq!(breaker.default.min_calls, 50);
        assert_eq!(breaker.get("Bank", "report").failure_rate, 0.8);
        assert_eq!(breaker.get("Bank", "report").min_calls, 5);
        assert_eq!(config.client.concurrency_limit.unwrap().service, Some(64));
        let rate = config.server.rate_limit.unwrap();
        assert_eq!(rate.methods["Bank.report"].burst, Some(1));
        let concurrency = config.server.concurrency_limit.unwrap();
        assert_eq!(concurrency.pushback, Duration::from_millis(250));
    }

    #[test]
    fn observability_is_configured_per_side() {
        let text = "[server.access_log]\nok_level = \"debug\"\n[client.trace]\n";
        let config = Config::from_toml_with_env(
            text,
            [("ROOKERY__SERVER__ACCESS_LOG__ERROR_LEVEL", "error")],
        )
        .unwrap();
        let log = config.server.access_log.unwrap();
        assert_eq!(log.ok_level, Some(tracing::Level::DEBUG));
        assert_eq!(log.error_level, Some(tracing::Level::ERROR));
        assert_eq!(config.client.trace, Some(TraceConfig::default()));
        assert_eq!(config.client.access_log, None);
    }

    #[test]
    fn values_read_as_toml_when_they_are() {
        assert_eq!(scalar("3"), toml::Value::Integer(3));
        assert_eq!(scalar("true"), toml::Value::Boolean(true));
        assert_eq!(scalar("0.2"), toml::Value::Float(0.2));
        assert_eq!(scalar("250ms"), toml::Value::String("250ms".into()));
    }
}
