//! Distributed tracing with W3C Trace Context: every call is a span of a trace, and the trace
//! travels from service to service in `traceparent` metadata (TTHeader string info on the
//! native transport, a header on gRPC), with `tracestate` passed on unchanged.
//!
//! - A **server** layer ([`TraceLayer::server`]) reads the call's `traceparent` and starts the
//!   span that answers it, a child of the caller's span; a missing or malformed one (which is
//!   never an error: the W3C rules say to ignore it) starts a new trace. The span goes into
//!   the context's inherited values: the handler reads it with [`TraceContext::current`],
//!   and a downstream call made with `cx.child()` carries it on.
//! - A **client** layer ([`TraceLayer::client`]) starts the span that makes the call, a child
//!   of the call being handled (or of the application's current OpenTelemetry span, or a new
//!   trace), and writes its `traceparent` into the call's metadata.
//!
//! Each call runs in a [`tracing`] span (target `rookery::trace`, name `rpc`) with the fields
//! `side`, `service`, `method`, `trace_id`, `span_id` and `parent_id`, so whatever the
//! handler logs carries its trace. With the feature `opentelemetry`, each call is also an
//! OpenTelemetry span (kind server or client, named `service/method`, attributes
//! `rpc.service`, `rpc.method`, `rpc.response.status_code`, `network.peer.address`, status
//! error on failure), made by the global tracer provider or the layer's own
//! ([`TraceLayer::tracer`]); its ids are the ones that travel, and a streamed response's span
//! ends with the stream. With the feature `otlp`, [`otlp`] exports them to a collector.
//!
//! ```
//! use rookery_core::{service_fn, Context, Layer, Service, Status};
//! use rookery_middleware::{testing, trace::{TraceContext, TraceLayer, TRACEPARENT}};
//! use rookery_transport::ThriftRequest;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let handler = service_fn(|cx: &mut Context, _req: ThriftRequest| {
//!     let span = TraceContext::current(cx).expect("the server layer started a span");
//!     assert_eq!(span.trace_id().to_string(), "4bf92f3577b34da6a3ce929d0e0e4736");
//!     assert_eq!(span.parent_id().unwrap().to_string(), "00f067aa0ba902b7");
//!     // A downstream call made with `cx.child()` continues the trace.
//!     assert!(TraceContext::current(&cx.child()).is_some());
//!     async { Ok::<_, Status>(testing::thrift_response()) }
//! });
//! let server = TraceLayer::server().layer(handler);
//! let mut cx = Context::new();
//! cx.metadata_mut().insert(TRACEPARENT, "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
//! server.call(&mut cx, testing::thrift_request("get")).await.unwrap();
//! # }
//! ```

mod context;
mod layer;
#[cfg(feature = "opentelemetry")]
mod otel;
#[cfg(feature = "otlp")]
pub mod otlp;
mod service;
#[cfg(test)]
mod tests;

pub use context::{SpanId, TRACEPARENT, TRACESTATE, TraceContext, TraceId, TraceParent};
pub use layer::{TraceConfig, TraceLayer};
#[cfg(feature = "opentelemetry")]
pub use otel::INSTRUMENTATION;
pub use service::Trace;
