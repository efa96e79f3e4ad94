use faststr::FastStr;
use prometheus_client::metrics::gauge::Gauge;
use rookery_core::{Code, Context, Service, Status};

use super::{
    Metrics,
    registry::{CallLabels, Label},
};
use crate::{
    Request, Response, Side,
    side::{CallStart, EndOnce, Ending, peer_address},
};

/// A service whose calls are counted and timed into [`Metrics`]: the call counter and the
/// latency histogram when a call ends (when its last message has been read, for a stream),
/// and the in-flight gauge from its start to its end. A call abandoned before it ends counts
/// as `CANCELLED`. See [the module](super).
#[derive(Clone, Debug)]
pub struct Metered<S> {
    inner: S,
    metrics: Metrics,
    side: Side,
    service: FastStr,
}

impl<S> Metered<S> {
    pub(super) fn new(inner: S, metrics: Metrics, side: Side, service: FastStr) -> Self {
        Metered {
            inner,
            metrics,
            side,
            service,
        }
    }

    /// The wrapped service.
    pub fn inner(&self) -> &S {
        &self.inner
    }
}

impl<S, Req> Service<Req> for Metered<S>
where
    S: Service<Req>,
    S::Response: Response,
    Req: Request,
{
    type Response = S::Response;

    async fn call(&self, cx: &mut Context, req: Req) -> Result<S::Response, Status> {
        let start = CallStart::new(self.side, &self.service, cx, &req);
        let mut flight = EndOnce::new(Flight {
            in_flight: self.metrics.start(self.side, &start.service),
            metrics: self.metrics.clone(),
            service: start.service.clone(),
            peer: FastStr::empty(),
            start,
        });
        let result = self.inner.call(cx, req).await;
        // What the call learned of its service and peer labels its end.
        let state = flight.state_mut();
        state.service = state.start.service_after(cx);
        state.peer = match self.side {
            Side::Client => peer_address(Side::Client, cx).unwrap_or_default(),
            Side::Server if cx.caller().service.is_empty() => FastStr::empty(),
            Side::Server => self.metrics.server_peer(&cx.caller().service),
        };
        flight.end_with(result)
    }
}

/// A call being counted.
struct Flight {
    metrics: Metrics,
    in_flight: Gauge,
    start: CallStart,
    service: FastStr,
    peer: FastStr,
}

impl Ending for Flight {
    fn end(self, status: Option<&Status>) {
        self.in_flight.dec();
        let code = status.map_or(Code::Ok, Status::code);
        // Method names a server does not have come from callers: one label for all of them.
        let method = if self.start.side == Side::Server && code == Code::Unimplemented {
            FastStr::from_static_str("_unknown")
        } else {
            self.start.method
        };
        let labels = CallLabels {
            side: self.start.side,
            service: Label(self.service),
            method: Label(method),
            code: code.as_str(),
            peer: Label(self.peer),
        };
        self.metrics
            .end(&labels, self.start.started.elapsed().as_secs_f64());
    }
}
