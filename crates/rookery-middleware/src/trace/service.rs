use rookery_core::{Context, Service, Status};
use tracing::{Instrument, Level, Span};

use super::{
    TRACEPARENT, TRACESTATE, TraceContext, TraceLayer, TraceParent, context::valid_tracestate,
};
use crate::{Request, Response, Side, side};

/// A service whose calls are spans of a trace, carried from process to process by W3C
/// `traceparent` metadata. See [the module](super).
#[derive(Clone, Debug)]
pub struct Trace<S> {
    inner: S,
    config: TraceLayer,
}

impl<S> Trace<S> {
    pub(super) fn new(inner: S, config: TraceLayer) -> Self {
        Trace { inner, config }
    }

    /// The wrapped service.
    pub fn inner(&self) -> &S {
        &self.inner
    }
}

impl<S, Req> Service<Req> for Trace<S>
where
    S: Service<Req>,
    S::Response: Response,
    Req: Request,
{
    type Response = S::Response;

    async fn call(&self, cx: &mut Context, req: Req) -> Result<S::Response, Status> {
        let config = &self.config;
        let service = side::service(cx, &config.service);
        let method = req.method_name();
        let span = match config.side {
            Side::Server => server_span(cx),
            Side::Client => client_span(cx),
        };
        #[cfg(feature = "opentelemetry")]
        let (span, otel) = super::otel::start(
            config.tracer.as_deref(),
            config.side,
            span,
            &service,
            &method,
        );
        match config.side {
            // What the handler's downstream calls (`cx.child()`) continue.
            Side::Server => {
                cx.inherited_mut().insert(span.clone());
            }
            // What travels: TTHeader string metadata, gRPC headers.
            Side::Client => {
                cx.metadata_mut()
                    .insert(TRACEPARENT, span.traceparent().to_string());
                match span.trace_state() {
                    Some(state) => cx.metadata_mut().insert(TRACESTATE, state.clone()),
                    None => cx.metadata_mut().remove(TRACESTATE),
                };
            }
        }
        let tracing_span = tracing_span(config.level, config.side, &service, &method, &span);
        cx.extensions_mut().insert(span);
        #[cfg(feature = "opentelemetry")]
        let otel = crate::side::EndOnce::new(otel);
        let result = self.inner.call(cx, req).instrument(tracing_span).await;
        #[cfg(feature = "opentelemetry")]
        let result = {
            let mut otel = otel;
            otel.state_mut().learn(config.side, cx, &method);
            otel.end_with(result)
        };
        result
    }
}

/// The span that answers a call: a child of the span named by the call's `traceparent`
/// (with the `tracestate` that came with it), or, without a valid one, a new trace.
fn server_span(cx: &Context) -> TraceContext {
    let metadata = cx.metadata();
    match metadata.get(TRACEPARENT).and_then(TraceParent::parse) {
        Some(parent) => {
            let state = metadata.get(TRACESTATE).and_then(valid_tracestate);
            TraceContext::from_remote(&parent, state)
        }
        None => {
            if let Some(bad) = metadata.get(TRACEPARENT) {
                tracing::debug!(
                    traceparent = bad,
                    "ignoring an invalid traceparent: a new trace starts"
                );
            }
            TraceContext::root()
        }
    }
}

/// The span that makes a call: a child of the call being handled (the trace it inherited),
/// or of the application's current OpenTelemetry span, or a new trace.
fn client_span(cx: &Context) -> TraceContext {
    if let Some(parent) = TraceContext::current(cx) {
        return parent.child();
    }
    #[cfg(feature = "opentelemetry")]
    if let Some(span) = super::otel::child_of_current() {
        return span;
    }
    TraceContext::root()
}

/// The `tracing` span a call runs in: events the handler (or the layers inside) log carry
/// its trace id.
fn tracing_span(
    level: Level,
    side: Side,
    service: &str,
    method: &str,
    span: &TraceContext,
) -> Span {
    // Spans need their level at compile time: one per level.
    macro_rules! span {
        ($level:expr) => {
            tracing::span!(
                target: "rookery::trace",
                $level,
                "rpc",
                side = side.as_str(),
                service,
                method,
                trace_id = %span.trace_id(),
                span_id = %span.span_id(),
                parent_id = span.parent_id().map(tracing::field::display),
            )
        };
    }
    if level == Level::ERROR {
        span!(Level::ERROR)
    } else if level == Level::WARN {
        span!(Level::WARN)
    } else if level == Level::INFO {
        span!(Level::INFO)
    } else if level == Level::DEBUG {
        span!(Level::DEBUG)
    } else {
        span!(Level::TRACE)
    }
}
