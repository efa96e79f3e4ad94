use faststr::FastStr;
use rookery_core::Layer;
use serde::{Deserialize, Serialize};
use tracing::Level;

use super::Trace;
use crate::Side;

/// Tracing as a configuration file sets it.
///
/// ```toml
/// [trace]
/// level = "debug"   # the level of the `tracing` spans of calls (info by default)
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TraceConfig {
    /// The level of the [`tracing`] span of each call: `trace`, `debug`, `info`, `warn` or
    /// `error`. (OpenTelemetry spans do not have levels.)
    #[serde(default, with = "crate::level")]
    pub level: Option<Level>,
}

/// Wraps a service in [`Trace`].
#[derive(Clone, Debug)]
pub struct TraceLayer {
    pub(super) side: Side,
    pub(super) service: FastStr,
    pub(super) level: Level,
    #[cfg(feature = "opentelemetry")]
    pub(super) tracer: Option<std::sync::Arc<opentelemetry::global::BoxedTracer>>,
}

impl TraceLayer {
    /// Traces the calls a server answers: continues the trace a call's `traceparent` names
    /// (or starts one), and hands it to the handler's downstream calls.
    pub fn server() -> Self {
        TraceLayer::new(Side::Server)
    }

    /// Traces the calls a client makes: continues the trace of the call being handled (or
    /// starts one), and sends it on as `traceparent`.
    pub fn client() -> Self {
        TraceLayer::new(Side::Client)
    }

    /// Traces the calls on `side`.
    pub fn new(side: Side) -> Self {
        TraceLayer {
            side,
            service: FastStr::empty(),
            level: Level::INFO,
            #[cfg(feature = "opentelemetry")]
            tracer: None,
        }
    }

    /// The level of the [`tracing`] span of each call (`INFO` by default).
    pub fn level(mut self, level: Level) -> Self {
        self.level = level;
        self
    }

    /// The service named in spans of calls whose context names no callee.
    pub fn service(mut self, name: impl Into<FastStr>) -> Self {
        self.service = name.into();
        self
    }

    /// Makes OpenTelemetry spans with `tracer` rather than with the global tracer provider's
    /// (`opentelemetry::global`, looked up at each call so that one installed later counts).
    #[cfg(feature = "opentelemetry")]
    pub fn tracer<T>(mut self, tracer: T) -> Self
    where
        T: opentelemetry::trace::Tracer + Send + Sync + 'static,
        T::Span: Send + Sync + 'static,
    {
        let boxed = opentelemetry::global::BoxedTracer::new(Box::new(tracer));
        self.tracer = Some(std::sync::Arc::new(boxed));
        self
    }

    /// A layer on `side` set as `config` says.
    pub fn from_config(side: Side, config: &TraceConfig) -> Self {
        let layer = TraceLayer::new(side);
        match config.level {
            Some(level) => layer.level(level),
            None => layer,
        }
    }
}

impl<S> Layer<S> for TraceLayer {
    type Service = Trace<S>;

    fn layer(&self, inner: S) -> Trace<S> {
        Trace::new(inner, self.clone())
    }
}
