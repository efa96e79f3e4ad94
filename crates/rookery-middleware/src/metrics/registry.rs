use std::{
    collections::HashSet,
    sync::{Arc, Mutex, RwLock},
};

use faststr::FastStr;
use prometheus_client::{
    encoding::{EncodeLabelSet, EncodeLabelValue, LabelValueEncoder},
    metrics::{
        counter::Counter,
        family::{Family, MetricConstructor},
        gauge::Gauge,
        histogram::Histogram,
    },
    registry::{Metric, Registry, Unit},
};

use super::{MetricsConfig, MetricsLayer};
use crate::Side;

/// The upper bounds, in seconds, of the latency histogram's buckets unless configured: from
/// half a millisecond (a call on loopback) to ten seconds.
pub const DEFAULT_BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// How many distinct `peer` values a server's metrics keep before counting the others as
/// `_other`.
pub const MAX_PEERS: usize = 256;

/// The content type of [`Metrics::encode`]'s text, for an HTTP response.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// The metrics of a process's calls, shared by its client and server layers (clones share
/// them), and their text exposition for Prometheus.
///
/// | metric | type | labels |
/// |---|---|---|
/// | `rookery_calls_total` | counter | `side`, `service`, `method`, `code`, `peer` |
/// | `rookery_call_duration_seconds` | histogram | `side`, `service`, `method`, `code`, `peer` |
/// | `rookery_calls_in_flight` | gauge | `side`, `service` |
///
/// `side` is `client` or `server`; `service` the callee's service as the call's context names
/// it (a Thrift server's registered name, a gRPC call's Protobuf service, a balanced
/// client's target); `code` the status name (`OK`, `UNAVAILABLE`, ...); `peer`
/// the instance called on a client (its address), the calling service on a server (its name,
/// when the caller sent one: addresses of callers would make a series per connection).
///
/// What a server's labels take from the wire is bounded, so that callers cannot make series
/// without end: a method the server does not have (a call answered `UNIMPLEMENTED`) counts
/// as `method="_unknown"`, and past [`MAX_PEERS`] distinct calling services the others count
/// as `peer="_other"`.
///
/// ```
/// use rookery_core::{service_fn, Context, Layer, Service, Status};
/// use rookery_middleware::{metrics::Metrics, testing};
/// use rookery_transport::ThriftRequest;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let metrics = Metrics::new();
/// let handler = service_fn(|_cx: &mut Context, _req: ThriftRequest| async {
///     Ok::<_, Status>(testing::thrift_response())
/// });
/// let server = metrics.server_layer().layer(handler);
/// server.call(&mut Context::new(), testing::thrift_request("get")).await.unwrap();
/// let text = metrics.encode();
/// assert!(text.contains(r#"rookery_calls_total{side="server",service="",method="get",code="OK",peer=""} 1"#));
/// # }
/// ```
#[derive(Clone)]
pub struct Metrics {
    inner: Arc<Inner>,
}

struct Inner {
    registry: Mutex<Registry>,
    calls: Family<CallLabels, Counter>,
    durations: Family<CallLabels, Histogram, Buckets>,
    in_flight: Family<FlightLabels, Gauge>,
    /// The calling services a server has counted by name.
    peers: RwLock<HashSet<FastStr>>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl Metrics {
    /// Empty metrics, with the [default buckets](DEFAULT_BUCKETS).
    pub fn new() -> Self {
        Metrics::with_buckets(DEFAULT_BUCKETS.iter().copied())
    }

    /// Empty metrics whose latency histogram has buckets up to each of `bounds` seconds (and
    /// one past the last).
    pub fn with_buckets(bounds: impl IntoIterator<Item = f64>) -> Self {
        let mut bounds: Vec<f64> = bounds.into_iter().filter(|b| b.is_finite()).collect();
        bounds.sort_by(f64::total_cmp);
        bounds.dedup();
        let calls = Family::<CallLabels, Counter>::default();
        let durations = Family::new_with_constructor(Buckets(bounds.into()));
        let in_flight = Family::<FlightLabels, Gauge>::default();
        let mut registry = Registry::default();
        registry.register(
            "rookery_calls",
            "Calls ended, by side, service, method, status code and peer.",
            calls.clone(),
        );
        registry.register_with_unit(
            "rookery_call_duration",
            "How long calls took, from the start to the end of the response (of its last message for a stream).",
            Unit::Seconds,
            durations.clone(),
        );
        registry.register(
            "rookery_calls_in_flight",
            "Calls started and not yet ended.",
            in_flight.clone(),
        );
        Metrics {
            inner: Arc::new(Inner {
                registry: Mutex::new(registry),
                calls,
                durations,
                in_flight,
                peers: RwLock::default(),
            }),
        }
    }

    /// The metrics `config` describes.
    pub fn from_config(config: &MetricsConfig) -> Self {
        match &config.buckets {
            Some(bounds) => Metrics::with_buckets(bounds.iter().copied()),
            None => Metrics::new(),
        }
    }

    /// A layer that counts the calls a server answers into these metrics.
    pub fn server_layer(&self) -> MetricsLayer {
        MetricsLayer::new(self.clone(), Side::Server)
    }

    /// A layer that counts the calls a client makes into these metrics.
    pub fn client_layer(&self) -> MetricsLayer {
        MetricsLayer::new(self.clone(), Side::Client)
    }

    /// Adds a metric of the application's own, exposed with the others.
    pub fn register(&self, name: impl Into<String>, help: impl Into<String>, metric: impl Metric) {
        self.registry().register(name, help, metric);
    }

    /// Every metric in the OpenMetrics text format (which Prometheus scrapes), ending with
    /// `# EOF`; its HTTP content type is [`CONTENT_TYPE`].
    pub fn encode(&self) -> String {
        let mut text = String::new();
        // Writing to a String does not fail, and the labels are ours.
        if let Err(e) = prometheus_client::encoding::text::encode(&mut text, &self.registry()) {
            tracing::warn!(error = %e, "encoding the metrics failed");
        }
        text
    }

    fn registry(&self) -> std::sync::MutexGuard<'_, Registry> {
        // A panic while registering leaves the registry as it was: use it anyway.
        self.inner
            .registry
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The in-flight gauge of calls with these labels, counted up.
    pub(crate) fn start(&self, side: Side, service: &FastStr) -> Gauge {
        let gauge = self.inner.in_flight.get_or_create_owned(&FlightLabels {
            side,
            service: Label(service.clone()),
        });
        gauge.inc();
        gauge
    }

    /// The `peer` label of a server's caller: its name while fewer than [`MAX_PEERS`] names
    /// have been seen.
    pub(crate) fn server_peer(&self, caller: &FastStr) -> FastStr {
        let peers = &self.inner.peers;
        let known = peers.read().unwrap_or_else(|p| p.into_inner());
        if known.contains(caller) {
            return caller.clone();
        }
        let full = known.len() >= MAX_PEERS;
        drop(known);
        if full {
            return FastStr::from_static_str("_other");
        }
        let mut known = peers.write().unwrap_or_else(|p| p.into_inner());
        if known.len() >= MAX_PEERS {
            return FastStr::from_static_str("_other");
        }
        known.insert(caller.clone());
        caller.clone()
    }

    /// Counts a call that ended.
    pub(crate) fn end(&self, labels: &CallLabels, seconds: f64) {
        self.inner.calls.get_or_create(labels).inc();
        self.inner.durations.get_or_create(labels).observe(seconds);
    }

    #[cfg(test)]
    pub(crate) fn calls(&self, labels: &CallLabels) -> u64 {
        self.inner.calls.get(labels).map_or(0, |c| c.get())
    }

    #[cfg(test)]
    pub(crate) fn in_flight(&self, side: Side, service: &str) -> i64 {
        let labels = FlightLabels {
            side,
            service: Label(FastStr::new(service)),
        };
        self.inner.in_flight.get(&labels).map_or(0, |g| g.get())
    }
}

/// The labels of a call that ended.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct CallLabels {
    pub(crate) side: Side,
    pub(crate) service: Label,
    pub(crate) method: Label,
    pub(crate) code: &'static str,
    pub(crate) peer: Label,
}

/// The labels of calls in flight: the status and, on a client, the peer are not known yet;
/// nor is, on a server, whether the method named by the caller exists.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct FlightLabels {
    side: Side,
    service: Label,
}

/// A label value that costs no copy per call (names known at compile time or shared).
#[derive(Clone, Debug, Hash, PartialEq, Eq)]
pub(crate) struct Label(pub(crate) FastStr);

impl EncodeLabelValue for Label {
    fn encode(&self, encoder: &mut LabelValueEncoder) -> Result<(), std::fmt::Error> {
        EncodeLabelValue::encode(&&*self.0, encoder)
    }
}

impl EncodeLabelValue for Side {
    fn encode(&self, encoder: &mut LabelValueEncoder) -> Result<(), std::fmt::Error> {
        EncodeLabelValue::encode(&self.as_str(), encoder)
    }
}

/// Makes each new histogram with the configured buckets.
#[derive(Clone, Debug)]
struct Buckets(Arc<[f64]>);

impl MetricConstructor<Histogram> for Buckets {
    fn new_metric(&self) -> Histogram {
        Histogram::new(self.0.iter().copied())
    }
}
