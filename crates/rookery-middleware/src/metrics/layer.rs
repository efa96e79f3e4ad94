use faststr::FastStr;
use rookery_core::Layer;
use serde::{Deserialize, Serialize};

use super::{Metered, Metrics};
use crate::Side;

/// The metrics as a configuration file describes them.
///
/// ```toml
/// [metrics]
/// buckets = [0.001, 0.01, 0.1, 1.0]   # seconds; leave it out for the defaults
/// ```
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricsConfig {
    /// The upper bounds of the latency histogram's buckets, in seconds.
    #[serde(default)]
    pub buckets: Option<Vec<f64>>,
}

/// Wraps a service in [`Metered`]; made by [`Metrics::server_layer`] or
/// [`Metrics::client_layer`].
#[derive(Clone, Debug)]
pub struct MetricsLayer {
    metrics: Metrics,
    side: Side,
    service: FastStr,
}

impl MetricsLayer {
    /// Counts calls on `side` into `metrics`.
    pub fn new(metrics: Metrics, side: Side) -> Self {
        MetricsLayer {
            metrics,
            side,
            service: FastStr::empty(),
        }
    }

    /// The service label of calls whose context names no callee (a client's calls before a
    /// balancer has picked an instance, or of a client that never names its service).
    pub fn service(mut self, name: impl Into<FastStr>) -> Self {
        self.service = name.into();
        self
    }
}

impl<S> Layer<S> for MetricsLayer {
    type Service = Metered<S>;

    fn layer(&self, inner: S) -> Metered<S> {
        Metered::new(inner, self.metrics.clone(), self.side, self.service.clone())
    }
}
