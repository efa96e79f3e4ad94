use faststr::FastStr;
use rookery_core::Layer;
use serde::{Deserialize, Serialize};
use tracing::Level;

use super::AccessLog;
use crate::Side;

/// The access log as a configuration file sets it.
///
/// ```toml
/// [access_log]
/// ok_level = "debug"     # successful calls (info by default)
/// error_level = "warn"   # failed calls (warn by default)
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccessLogConfig {
    /// The level of successful calls: `trace`, `debug`, `info`, `warn` or `error`.
    #[serde(default, with = "crate::level")]
    pub ok_level: Option<Level>,
    /// The level of failed calls.
    #[serde(default, with = "crate::level")]
    pub error_level: Option<Level>,
}

/// Wraps a service in [`AccessLog`].
#[derive(Clone, Debug)]
pub struct AccessLogLayer {
    pub(super) side: Side,
    pub(super) service: FastStr,
    pub(super) ok_level: Level,
    pub(super) error_level: Level,
}

impl AccessLogLayer {
    /// Logs the calls a server answers.
    pub fn server() -> Self {
        AccessLogLayer::new(Side::Server)
    }

    /// Logs the calls a client makes.
    pub fn client() -> Self {
        AccessLogLayer::new(Side::Client)
    }

    /// Logs the calls on `side`: successes at `INFO`, failures at `WARN`.
    pub fn new(side: Side) -> Self {
        AccessLogLayer {
            side,
            service: FastStr::empty(),
            ok_level: Level::INFO,
            error_level: Level::WARN,
        }
    }

    /// The level of successful calls (`DEBUG` keeps them out of a busy service's logs).
    pub fn ok_level(mut self, level: Level) -> Self {
        self.ok_level = level;
        self
    }

    /// The level of failed calls.
    pub fn error_level(mut self, level: Level) -> Self {
        self.error_level = level;
        self
    }

    /// The service logged for calls whose context names no callee (a client that never
    /// names the service it calls).
    pub fn service(mut self, name: impl Into<FastStr>) -> Self {
        self.service = name.into();
        self
    }

    /// A layer on `side` set as `config` says.
    pub fn from_config(side: Side, config: &AccessLogConfig) -> Self {
        let mut layer = AccessLogLayer::new(side);
        if let Some(level) = config.ok_level {
            layer.ok_level = level;
        }
        if let Some(level) = config.error_level {
            layer.error_level = level;
        }
        layer
    }
}

impl<S> Layer<S> for AccessLogLayer {
    type Service = AccessLog<S>;

    fn layer(&self, inner: S) -> AccessLog<S> {
        AccessLog::new(inner, self.clone())
    }
}
