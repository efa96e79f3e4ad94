//! Watching Protobuf calls pass, streaming ones included: a layer that tells a
//! [`StreamObserver`] when a call opens, each message that crosses it either way, and how it
//! closes.
//!
//! [`Observe`] wraps either side of the [Protobuf contract](super::rpc): a generated server
//! (before a transport serves it, so `rookery_grpc::Router::add_service` takes
//! `Observe<XServer<H>, O>` as it takes `XServer<H>`), or a client transport (a generated
//! client runs over `Observe<GrpcClient, O>`). It wraps the request and response streams in
//! adapters that report each message as it is polled, so what is reported is what the
//! handler read and what the transport took to send (server), or what the transport took to
//! send and what the caller read (client).
//!
//! ```
//! use bytes::Bytes;
//! use rookery_codec::protobuf::{
//!     observe::{CallObserver, Direction, ObserveLayer, StreamObserver},
//!     rpc::MethodDescriptor,
//! };
//! use rookery_core::{Context, Layer, Status};
//!
//! /// Logs every call's messages.
//! struct Log;
//!
//! struct LogCall(&'static str);
//!
//! impl StreamObserver for Log {
//!     type Call = LogCall;
//!     fn on_open(&self, _: &Context, method: &'static MethodDescriptor) -> LogCall {
//!         LogCall(method.path)
//!     }
//! }
//!
//! impl CallObserver for LogCall {
//!     fn on_message(&self, direction: Direction, message: &Bytes) {
//!         println!("{} {direction:?}: {} bytes", self.0, message.len());
//!     }
//!     fn on_close(&self, result: &Result<(), Status>) {
//!         println!("{} closed: {result:?}", self.0);
//!     }
//! }
//!
//! # fn wrap<S>(server: S) {
//! let observed = ObserveLayer::new(Log).layer(server);
//! # let _ = observed;
//! # }
//! ```
//!
//! # What a metrics or tracing layer does with it
//!
//! Per-call state lives in the [`CallObserver`] that [`StreamObserver::on_open`] returns, so
//! a metrics layer starts its timer and bumps "started" there (labels from the method's
//! service, name and kind, and the side it runs on), counts messages and bytes per direction
//! in [`on_message`](CallObserver::on_message), and in [`on_close`](CallObserver::on_close)
//! records the latency histogram and "handled" by the status code (`CANCELLED` when the
//! caller dropped the call). A tracing layer opens a span in `on_open` (the parent taken from
//! the context's metadata on a server, injected into it on a client: `on_open` sees the
//! context before the call goes out), adds an event per message, and ends the span with the
//! status in `on_close`. Both see the same events for unary and streaming calls, on either
//! side, over any transport that serves the Protobuf contract.
//!
//! # When `on_close` is called
//!
//! Exactly once per call, with the first of:
//! - the call failing before it returns a response (stream): its status;
//! - the response stream ending: `Ok(())`, or its `Err` item's status;
//! - a unary call's response: `Ok(())`;
//! - the call's future, or its response stream, dropped before its end (a cancel): a
//!   `CANCELLED` status.
//!
//! The request stream ending is not the call closing (a client-streaming call goes on to
//! answer); an `Err` item of the request stream is not reported as a message.

use std::sync::{
    Arc,
    atomic::{AtomicBool, Ordering},
};

use bytes::Bytes;
use futures_core::Stream;
use rookery_core::{Code, Context, Layer, Service, Status};

use super::rpc::{
    BoxStream, MethodDescriptor, ProtoRequest, ProtoResponse, ProtoStreamRequest, Streaming,
};

/// Which way a message crosses the call.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Direction {
    /// From the client to the server: sent by a client, received by a server.
    Request,
    /// From the server to the client: sent by a server, received by a client.
    Response,
}

/// What sees calls open; each call's messages and close go to the [`CallObserver`] it returns.
pub trait StreamObserver: Send + Sync + 'static {
    /// The observer of one call.
    type Call: CallObserver;

    /// A call of `method` opens, with `cx` as the caller set it (client) or as the transport
    /// read it (server).
    fn on_open(&self, cx: &Context, method: &'static MethodDescriptor) -> Self::Call;
}

/// What sees one call's messages and its close. Its methods may be called from the tasks that
/// poll the request and the response streams, which may differ.
pub trait CallObserver: Send + Sync + 'static {
    /// A message crossed the call `direction`-wards (as it was polled from its stream).
    fn on_message(&self, direction: Direction, message: &Bytes);

    /// The call closed, once, as the [module docs](self) say.
    fn on_close(&self, result: &Result<(), Status>);
}

/// Wraps services in [`Observe`] with an observer shared by them all.
#[derive(Debug)]
pub struct ObserveLayer<O> {
    observer: Arc<O>,
}

impl<O> Clone for ObserveLayer<O> {
    fn clone(&self) -> Self {
        ObserveLayer {
            observer: Arc::clone(&self.observer),
        }
    }
}

impl<O: StreamObserver> ObserveLayer<O> {
    /// A layer that reports to `observer`.
    pub fn new(observer: O) -> ObserveLayer<O> {
        ObserveLayer::from_arc(Arc::new(observer))
    }

    /// A layer that reports to an observer shared with other code.
    pub fn from_arc(observer: Arc<O>) -> ObserveLayer<O> {
        ObserveLayer { observer }
    }
}

impl<S, O> Layer<S> for ObserveLayer<O> {
    type Service = Observe<S, O>;

    fn layer(&self, inner: S) -> Observe<S, O> {
        Observe {
            inner,
            observer: Arc::clone(&self.observer),
        }
    }
}

/// A Protobuf service (server or client side, unary and streaming contracts) whose calls are
/// reported to a [`StreamObserver`].
#[derive(Debug)]
pub struct Observe<S, O> {
    inner: S,
    observer: Arc<O>,
}

impl<S: Clone, O> Clone for Observe<S, O> {
    fn clone(&self) -> Self {
        Observe {
            inner: self.inner.clone(),
            observer: Arc::clone(&self.observer),
        }
    }
}

impl<S, O: StreamObserver> Observe<S, O> {
    /// `inner`, reporting to `observer`.
    pub fn new(inner: S, observer: O) -> Observe<S, O> {
        ObserveLayer::new(observer).layer(inner)
    }

    /// The wrapped service.
    pub fn inner(&self) -> &S {
        &self.inner
    }

    /// The observer.
    pub fn observer(&self) -> &Arc<O> {
        &self.observer
    }
}

/// One call's observer, closed at most once.
struct Call<C> {
    observer: C,
    closed: AtomicBool,
}

impl<C: CallObserver> Call<C> {
    fn message(&self, direction: Direction, message: &Bytes) {
        self.observer.on_message(direction, message);
    }

    fn close(&self, result: &Result<(), Status>) {
        if !self.closed.swap(true, Ordering::AcqRel) {
            self.observer.on_close(result);
        }
    }
}

fn cancelled(what: &str) -> Result<(), Status> {
    Err(Status::new(
        Code::Cancelled,
        format!("the {what} was dropped before its end"),
    ))
}

/// Closes the call as cancelled when dropped, unless defused: the call's future dropped
/// before it returned.
struct CloseOnDrop<C: CallObserver>(Option<Arc<Call<C>>>);

impl<C: CallObserver> CloseOnDrop<C> {
    fn defuse(mut self) {
        self.0 = None;
    }
}

impl<C: CallObserver> Drop for CloseOnDrop<C> {
    fn drop(&mut self) {
        if let Some(call) = self.0.take() {
            call.close(&cancelled("call"));
        }
    }
}

impl<S, O> Observe<S, O>
where
    O: StreamObserver,
{
    fn open(&self, cx: &Context, method: &'static MethodDescriptor) -> Arc<Call<O::Call>> {
        Arc::new(Call {
            observer: self.observer.on_open(cx, method),
            closed: AtomicBool::new(false),
        })
    }
}

impl<S, O> Service<ProtoRequest> for Observe<S, O>
where
    S: Service<ProtoRequest, Response = ProtoResponse>,
    O: StreamObserver,
{
    type Response = ProtoResponse;

    async fn call(&self, cx: &mut Context, req: ProtoRequest) -> Result<ProtoResponse, Status> {
        let call = self.open(cx, req.method);
        let guard = CloseOnDrop(Some(Arc::clone(&call)));
        call.message(Direction::Request, &req.body);
        let result = self.inner.call(cx, req).await;
        match &result {
            Ok(response) => {
                call.message(Direction::Response, &response.body);
                call.close(&Ok(()));
            }
            Err(status) => call.close(&Err(status.clone())),
        }
        guard.defuse();
        result
    }
}

impl<S, O> Service<ProtoStreamRequest> for Observe<S, O>
where
    S: Service<ProtoStreamRequest, Response = Streaming<Bytes>>,
    O: StreamObserver,
{
    type Response = Streaming<Bytes>;

    async fn call(
        &self,
        cx: &mut Context,
        req: ProtoStreamRequest,
    ) -> Result<Streaming<Bytes>, Status> {
        let call = self.open(cx, req.method);
        let guard = CloseOnDrop(Some(Arc::clone(&call)));
        let req = ProtoStreamRequest {
            method: req.method,
            messages: Streaming::new(Requests {
                inner: req.messages.into_inner(),
                call: Arc::clone(&call),
            }),
        };
        let result = self.inner.call(cx, req).await;
        guard.defuse();
        match result {
            Ok(responses) => Ok(Streaming::new(Responses {
                inner: Some(responses.into_inner()),
                call,
            })),
            Err(status) => {
                call.close(&Err(status.clone()));
                Err(status)
            }
        }
    }
}

/// The request stream, reporting each message.
struct Requests<C> {
    inner: BoxStream<Bytes>,
    call: Arc<Call<C>>,
}

impl<C: CallObserver> Stream for Requests<C> {
    type Item = Result<Bytes, Status>;

    fn poll_next(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Self::Item>> {
        let item = self.inner.as_mut().poll_next(cx);
        if let std::task::Poll::Ready(Some(Ok(message))) = &item {
            self.call.message(Direction::Request, message);
        }
        item
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.inner.size_hint()
    }
}

/// The response stream, reporting each message, and the call's close when it ends, fails or
/// is dropped.
struct Responses<C: CallObserver> {
    /// `None` once ended.
    inner: Option<BoxStream<Bytes>>,
    call: Arc<Call<C>>,
}

impl<C: CallObserver> Stream for Responses<C> {
    type Item = Result<Bytes, Status>;

    fn poll_next(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Self::Item>> {
        use std::task::Poll;
        let Some(inner) = &mut self.inner else {
            return Poll::Ready(None);
        };
        let item = match inner.as_mut().poll_next(cx) {
            Poll::Pending => return Poll::Pending,
            Poll::Ready(item) => item,
        };
        match &item {
            Some(Ok(message)) => self.call.message(Direction::Response, message),
            Some(Err(status)) => {
                self.call.close(&Err(status.clone()));
                self.inner = None;
            }
            None => {
                self.call.close(&Ok(()));
                self.inner = None;
            }
        }
        Poll::Ready(item)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.inner.as_ref().map_or((0, Some(0)), |s| s.size_hint())
    }
}

impl<C: CallObserver> Drop for Responses<C> {
    fn drop(&mut self) {
        if self.inner.is_some() {
            self.call.close(&cancelled("response stream"));
        }
    }
}
