//! What the observability layers (access logs, metrics, traces) share: which side of a call
//! they are on, what they name a call's service and peer by, and how they learn, exactly
//! once, that a call has ended.

use std::time::Instant;

use faststr::FastStr;
use rookery_core::{Context, Status};

use crate::{OnEnd, Request};

/// Which side of a call a layer wraps: a client's calls out, or a server's calls in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Side {
    /// Calls this process makes.
    Client,
    /// Calls this process answers.
    Server,
}

impl Side {
    /// `client` or `server`, as logs and metric labels say it.
    pub fn as_str(self) -> &'static str {
        match self {
            Side::Client => "client",
            Side::Server => "server",
        }
    }
}

impl std::fmt::Display for Side {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a layer notes of a call when it starts.
#[derive(Clone, Debug)]
pub(crate) struct CallStart {
    pub(crate) side: Side,
    pub(crate) service: FastStr,
    pub(crate) method: FastStr,
    pub(crate) started: Instant,
    pub(crate) request_size: Option<usize>,
}

impl CallStart {
    /// The start of `req`, whose service is the context's callee, or `fallback` (a client
    /// layer's name for the service it calls) while the context names none.
    pub(crate) fn new<R: Request>(side: Side, fallback: &FastStr, cx: &Context, req: &R) -> Self {
        CallStart {
            side,
            service: service(cx, fallback),
            method: req.method_name(),
            started: Instant::now(),
            request_size: req.body_size(),
        }
    }

    /// The service as the context names it once the call has run (a balanced client names
    /// the callee only when it picks an instance), or as it was at the start.
    pub(crate) fn service_after(&self, cx: &Context) -> FastStr {
        service(cx, &self.service)
    }
}

/// The callee's service, or `fallback` while the context names none.
pub(crate) fn service(cx: &Context, fallback: &FastStr) -> FastStr {
    let named = &cx.callee().service;
    if named.is_empty() {
        fallback.clone()
    } else {
        named.clone()
    }
}

/// The other end's address: the caller's on a server, the instance called on a client (known
/// once a balancer has picked it).
pub(crate) fn peer_address(side: Side, cx: &Context) -> Option<FastStr> {
    match side {
        Side::Client => cx.callee().address.clone(),
        Side::Server => cx.caller().address.clone(),
    }
}

/// What a layer does once a call has ended: with its status, or `None` for success.
pub(crate) trait Ending: Send + 'static {
    /// The call ended with `status`.
    fn end(self, status: Option<&Status>);
}

/// Ends its [`Ending`] exactly once: with the status [`end`](EndOnce::end) is given, or, if
/// dropped before, with `CANCELLED` (the caller stopped waiting, or a stream was dropped
/// unfinished), so that what counts calls in flight never leaks one.
pub(crate) struct EndOnce<T: Ending>(Option<T>);

impl<T: Ending> EndOnce<T> {
    pub(crate) fn new(state: T) -> Self {
        EndOnce(Some(state))
    }

    /// What the ending will know, to add to while the call runs.
    pub(crate) fn state_mut(&mut self) -> &mut T {
        // Only `end` and `drop` take it, and both consume the EndOnce.
        self.0.as_mut().expect("an EndOnce is ended only once")
    }

    /// The call ended with `status` (`None`: it succeeded).
    pub(crate) fn end(mut self, status: Option<&Status>) {
        if let Some(state) = self.0.take() {
            state.end(status)
        }
    }

    /// The end of the call `result` says: at once for a failure, when the response ends
    /// (its last message, for a stream) for a success.
    pub(crate) fn end_with<R: crate::Response>(
        self,
        result: Result<R, Status>,
    ) -> Result<R, Status> {
        match result {
            Ok(response) => Ok(response.on_end(self.into_on_end())),
            Err(status) => {
                self.end(Some(&status));
                Err(status)
            }
        }
    }

    /// This, as the callback of [`Response::on_end`](crate::Response::on_end).
    pub(crate) fn into_on_end(self) -> OnEnd {
        Box::new(move |status| self.end(status))
    }
}

impl<T: Ending> Drop for EndOnce<T> {
    fn drop(&mut self) {
        if let Some(state) = self.0.take() {
            state.end(Some(&Status::cancelled(
                "the call was abandoned before it ended",
            )))
        }
    }
}
