use std::time::Duration;

use faststr::FastStr;
use rookery_core::{Code, Context, Service, Status};
use tracing::Level;

use super::AccessLogLayer;
use crate::{
    Request, Response, Side,
    side::{CallStart, EndOnce, Ending, peer_address},
    trace::TraceContext,
};

/// A service whose calls are logged when they end, one event each. See [the module](super).
#[derive(Clone, Debug)]
pub struct AccessLog<S> {
    inner: S,
    config: AccessLogLayer,
}

impl<S> AccessLog<S> {
    pub(super) fn new(inner: S, config: AccessLogLayer) -> Self {
        AccessLog { inner, config }
    }

    /// The wrapped service.
    pub fn inner(&self) -> &S {
        &self.inner
    }
}

impl<S, Req> Service<Req> for AccessLog<S>
where
    S: Service<Req>,
    S::Response: Response,
    Req: Request,
{
    type Response = S::Response;

    async fn call(&self, cx: &mut Context, req: Req) -> Result<S::Response, Status> {
        let config = &self.config;
        let start = CallStart::new(config.side, &config.service, cx, &req);
        let mut entry = EndOnce::new(Entry {
            service: start.service.clone(),
            start,
            ok_level: config.ok_level,
            error_level: config.error_level,
            peer: None,
            caller: FastStr::empty(),
            trace_id: None,
            response_size: None,
        });
        let result = self.inner.call(cx, req).await;
        let state = entry.state_mut();
        state.service = state.start.service_after(cx);
        state.peer = peer_address(config.side, cx);
        if config.side == Side::Server {
            state.caller = cx.caller().service.clone();
        }
        state.trace_id = TraceContext::of_call(cx).map(|t| t.trace_id().to_string());
        if let Ok(response) = &result {
            state.response_size = response.body_size();
        }
        entry.end_with(result)
    }
}

/// What one access log event says.
struct Entry {
    start: CallStart,
    ok_level: Level,
    error_level: Level,
    service: FastStr,
    peer: Option<FastStr>,
    caller: FastStr,
    trace_id: Option<String>,
    response_size: Option<usize>,
}

impl Ending for Entry {
    fn end(self, status: Option<&Status>) {
        let level = if status.is_some() {
            self.error_level
        } else {
            self.ok_level
        };
        let code = status.map_or(Code::Ok, Status::code);
        let duration = self.start.started.elapsed();
        // Events need their level at compile time: one per level.
        macro_rules! event {
            ($level:expr) => {
                tracing::event!(
                    target: "rookery::access",
                    $level,
                    side = self.start.side.as_str(),
                    service = &*self.service,
                    method = &*self.start.method,
                    peer = self.peer.as_deref(),
                    caller = (!self.caller.is_empty()).then_some(&*self.caller),
                    code = code.as_str(),
                    duration_ms = millis(duration),
                    request_size = self.start.request_size.map(|n| n as u64),
                    response_size = self.response_size.map(|n| n as u64),
                    trace_id = self.trace_id.as_deref(),
                    error = status.map(|s| s.message()),
                    "call ended"
                )
            };
        }
        match level {
            Level::TRACE => event!(Level::TRACE),
            Level::DEBUG => event!(Level::DEBUG),
            Level::INFO => event!(Level::INFO),
            Level::WARN => event!(Level::WARN),
            Level::ERROR => event!(Level::ERROR),
        }
    }
}

/// Milliseconds, to the microsecond.
fn millis(d: Duration) -> f64 {
    (d.as_micros() as f64) / 1000.0
}
