use std::{collections::HashMap, sync::Arc, time::Duration};

use rookery_core::Layer;
use serde::{Deserialize, Serialize};

use super::Timeout;
use crate::MethodMap;

/// How long methods may take, as a configuration file says it.
///
/// ```toml
/// [timeout]
/// default = "1s"          # leave it out to keep only inherited deadlines
/// methods.report = "30s"  # by method, or "Service.method"
/// ```
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TimeoutConfig {
    /// The timeout of methods not listed.
    #[serde(default, with = "crate::duration::option")]
    pub default: Option<Duration>,
    /// Timeouts of single methods.
    #[serde(default, with = "crate::duration::map")]
    pub methods: HashMap<String, Duration>,
}

/// Wraps a service in [`Timeout`].
#[derive(Clone, Debug)]
pub struct TimeoutLayer {
    timeouts: Arc<MethodMap<Option<Duration>>>,
}

impl TimeoutLayer {
    /// Every call gets at most `timeout`.
    pub fn new(timeout: Duration) -> Self {
        TimeoutLayer::with(MethodMap::new(Some(timeout)))
    }

    /// No timeout of its own: calls keep the deadline they came with, which the layer
    /// enforces (a server's deadline comes from its caller).
    pub fn inherited() -> Self {
        TimeoutLayer::with(MethodMap::new(None))
    }

    /// `method` (or `Service.method`) gets `timeout` instead.
    pub fn method(self, method: impl Into<String>, timeout: Duration) -> Self {
        let map = Arc::unwrap_or_clone(self.timeouts).method(method, Some(timeout));
        TimeoutLayer::with(map)
    }

    /// The timeouts `config` sets.
    pub fn from_config(config: &TimeoutConfig) -> Self {
        let mut map = MethodMap::new(config.default);
        for (method, timeout) in &config.methods {
            map = map.method(method.clone(), Some(*timeout));
        }
        TimeoutLayer::with(map)
    }

    fn with(map: MethodMap<Option<Duration>>) -> Self {
        TimeoutLayer {
            timeouts: Arc::new(map),
        }
    }
}

impl<S> Layer<S> for TimeoutLayer {
    type Service = Timeout<S>;

    fn layer(&self, inner: S) -> Timeout<S> {
        Timeout::new(inner, Arc::clone(&self.timeouts))
    }
}
