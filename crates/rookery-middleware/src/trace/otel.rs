//! The OpenTelemetry span of each call (feature `opentelemetry`), made through the
//! `opentelemetry` API: by the global tracer provider, or by the tracer given to the layer.

use faststr::FastStr;
use opentelemetry::{
    Context as OtelContext, KeyValue,
    global::{self, BoxedSpan, BoxedTracer},
    trace::{
        Span as _, SpanBuilder, SpanContext, SpanKind, Status as OtelStatus, TraceContextExt,
        TraceFlags, TraceState, Tracer as _,
    },
};
use rookery_core::{Code, Context, Status};

use super::{SpanId, TraceContext, TraceId, TraceParent, context::valid_tracestate};
use crate::{
    Side,
    side::{Ending, peer_address},
};

/// The name of the instrumentation (the tracer) that makes rookery's spans.
pub const INSTRUMENTATION: &str = "rookery";

/// Starts the OpenTelemetry span of `span`, a child of its parent, and gives back `span`
/// with the ids the tracer chose (an SDK makes its own; a no-op tracer makes none, and then
/// rookery's stand).
pub(crate) fn start(
    tracer: Option<&BoxedTracer>,
    side: Side,
    span: TraceContext,
    service: &str,
    method: &str,
) -> (TraceContext, OtelEnd) {
    let parent = match span.parent_id() {
        Some(parent_id) => OtelContext::new().with_remote_span_context(SpanContext::new(
            opentelemetry::trace::TraceId::from_bytes(span.trace_id().to_bytes()),
            opentelemetry::trace::SpanId::from_bytes(parent_id.to_bytes()),
            TraceFlags::new(span.flags()),
            // A server's parent is in the caller's process; a client's is this process's.
            side == Side::Server,
            span.trace_state()
                .and_then(|s| s.parse::<TraceState>().ok())
                .unwrap_or_default(),
        )),
        None => OtelContext::new(),
    };
    let builder = SpanBuilder::from_name(span_name(service, method))
        .with_kind(match side {
            Side::Client => SpanKind::Client,
            Side::Server => SpanKind::Server,
        })
        .with_attributes([
            KeyValue::new("rpc.service", service.to_string()),
            KeyValue::new("rpc.method", method.to_string()),
        ]);
    let otel = match tracer {
        Some(tracer) => tracer.build_with_context(builder, &parent),
        None => global::tracer(INSTRUMENTATION).build_with_context(builder, &parent),
    };
    let made = otel.span_context();
    let ids = (made.is_valid()
        && Some(made.span_id().to_bytes()) != span.parent_id().map(SpanId::to_bytes))
    .then(|| {
        Some((
            TraceId::from_bytes(made.trace_id().to_bytes())?,
            SpanId::from_bytes(made.span_id().to_bytes())?,
        ))
    })
    .flatten();
    let flags = made.trace_flags().to_u8();
    let span = match ids {
        Some((trace_id, span_id)) => span.with_ids(trace_id, span_id, flags),
        None => span,
    };
    (
        span,
        OtelEnd {
            span: otel,
            named: !service.is_empty(),
            peer: None,
        },
    )
}

/// `service/method`, as OpenTelemetry's RPC conventions name spans, or the method alone
/// while the service is not known.
fn span_name(service: &str, method: &str) -> String {
    if service.is_empty() {
        method.to_string()
    } else {
        format!("{service}/{method}")
    }
}

/// A span whose parent is the application's current OpenTelemetry span, if it has one.
pub(crate) fn child_of_current() -> Option<TraceContext> {
    let cx = OtelContext::current();
    let current = cx.span();
    let made = current.span_context();
    if !made.is_valid() {
        return None;
    }
    let parent = TraceParent {
        trace_id: TraceId::from_bytes(made.trace_id().to_bytes())?,
        parent_id: SpanId::from_bytes(made.span_id().to_bytes())?,
        flags: made.trace_flags().to_u8(),
    };
    let state = made.trace_state().header();
    Some(TraceContext::from_remote(&parent, valid_tracestate(&state)))
}

/// An OpenTelemetry span to end with the call.
pub(crate) struct OtelEnd {
    span: BoxedSpan,
    /// Whether the span was named after its service.
    named: bool,
    peer: Option<FastStr>,
}

impl OtelEnd {
    /// What the call learned while it ran: the peer, and the service if it was not known (a
    /// balanced client names both when it picks an instance).
    pub(crate) fn learn(&mut self, side: Side, cx: &Context, method: &str) {
        self.peer = peer_address(side, cx);
        let service = &cx.callee().service;
        if !self.named && !service.is_empty() {
            self.span.update_name(span_name(service, method));
            self.span
                .set_attribute(KeyValue::new("rpc.service", service.to_string()));
        }
    }
}

impl Ending for OtelEnd {
    fn end(mut self, status: Option<&Status>) {
        if let Some(peer) = self.peer {
            self.span
                .set_attribute(KeyValue::new("network.peer.address", peer.to_string()));
        }
        let code = status.map_or(Code::Ok, Status::code);
        self.span
            .set_attribute(KeyValue::new("rpc.response.status_code", code.as_str()));
        if let Some(status) = status {
            self.span
                .set_status(OtelStatus::error(status.message().to_string()));
        }
        self.span.end();
    }
}
