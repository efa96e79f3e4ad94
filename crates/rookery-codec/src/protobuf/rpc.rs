//! What generated Protobuf services and clients exchange with a transport: static method
//! descriptions, the request and response envelopes, and message streams.
//!
//! # The contract a transport implements
//!
//! A transport that serves generated services (gRPC over HTTP/2, Kitex Protobuf over
//! TTHeader) and a client transport that calls them meet the generated code at two
//! [`Service`](rookery_core::Service)s:
//!
//! - **unary**: `Service<ProtoRequest, Response = ProtoResponse>`. A request carries the
//!   [`MethodDescriptor`] being called and the encoded request message; a response carries
//!   the encoded response message. A generated server implements it for its unary methods; a
//!   generated client's unary methods call any service that implements it.
//! - **streaming** (all four kinds): `Service<ProtoStreamRequest, Response = Streaming<Bytes>>`.
//!   A request carries the method and the stream of encoded request messages (exactly one for
//!   unary and server-streaming methods); the response is the stream of encoded response
//!   messages (exactly one for unary and client-streaming methods). When the call returns
//!   depends on who feeds the requests:
//!   - **client-streaming and bidirectional** calls return at once with the response stream,
//!     without waiting for the server: many servers (grpcio's among them) send nothing, not
//!     even response headers, until their handler has a request or a response, and the
//!     caller may feed its first request only once it has the stream. The client transport
//!     awaits the response headers when the stream is first polled; a failure before them is
//!     the stream's first `Err` item (for a client-streaming call, the error of its one
//!     response). The call's own `Err` is kept for what stopped it before anything was sent.
//!     The headers' metadata, arriving after the call has given the
//!     [`Context`](rookery_core::Context) back, is reached through a shared handle the
//!     caller puts in the context's extensions (rookery-grpc's `ResponseHeaders`).
//!   - **unary and server-streaming** calls, whose one request goes with the call, may
//!     return once the response stream can be read (for gRPC, when the response headers
//!     arrive, filling the context's response metadata); a failure before that is the call's
//!     `Err`.
//!
//!   A failure after the call has returned is an `Err` item of the stream, after which the
//!   stream ends. A server (a generated `XServer`) returns when its handler does, which is
//!   what a server transport needs to choose between response headers and a trailers-only
//!   answer; calling one in process, a caller of a bidirectional method whose handler waits
//!   for a request before it returns must feed that request before awaiting the call.
//!
//! A server transport finds the method from the request path with
//! [`ServiceDescriptor::method_by_path`], and answers `UNIMPLEMENTED` itself for a path no
//! registered service has. Metadata, deadline and peer identity travel in the
//! [`Context`](rookery_core::Context), as for every rookery call.
//!
//! Layers wrap either contract on either side like any other service; one that needs to see
//! a streaming call's messages and its end, not only its start, wraps the streams too, as
//! [`Observe`](super::observe::Observe) does for any
//! [`StreamObserver`](super::observe::StreamObserver).

use std::{
    fmt,
    pin::Pin,
    task::{Context as TaskContext, Poll},
};

use bytes::Bytes;
use futures_core::Stream;
use rookery_core::Status;

use super::ProtoMessage;

/// Which of the four kinds of RPC a method is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MethodKind {
    /// One request, one response.
    Unary,
    /// A stream of requests, one response.
    ClientStreaming,
    /// One request, a stream of responses.
    ServerStreaming,
    /// A stream of requests and a stream of responses, interleaved as each side likes.
    BidiStreaming,
}

impl MethodKind {
    /// Whether the client sends a stream.
    pub fn client_streams(self) -> bool {
        matches!(
            self,
            MethodKind::ClientStreaming | MethodKind::BidiStreaming
        )
    }

    /// Whether the server sends a stream.
    pub fn server_streams(self) -> bool {
        matches!(
            self,
            MethodKind::ServerStreaming | MethodKind::BidiStreaming
        )
    }
}

/// A method of a Protobuf service, as generated code describes it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct MethodDescriptor {
    /// The service's full name: `grpc.testing.TestService`.
    pub service: &'static str,
    /// The method's name as the `.proto` spells it: `EmptyCall`.
    pub name: &'static str,
    /// The path gRPC puts in `:path`: `/grpc.testing.TestService/EmptyCall`.
    pub path: &'static str,
    /// Unary or which kind of streaming.
    pub kind: MethodKind,
    /// The request message's full name: `grpc.testing.Empty`.
    pub request: &'static str,
    /// The response message's full name.
    pub response: &'static str,
}

/// A Protobuf service, as generated code describes it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ServiceDescriptor {
    /// The full name: `grpc.testing.TestService`.
    pub name: &'static str,
    /// The package: `grpc.testing` (empty when the file has none).
    pub package: &'static str,
    /// The methods, in the order the `.proto` declares them.
    pub methods: &'static [MethodDescriptor],
}

impl ServiceDescriptor {
    /// The method named `name` (as the `.proto` spells it).
    pub fn method(&self, name: &str) -> Option<&'static MethodDescriptor> {
        self.methods.iter().find(|m| m.name == name)
    }

    /// The method whose gRPC path is `path` (`/package.Service/Method`).
    pub fn method_by_path(&self, path: &str) -> Option<&'static MethodDescriptor> {
        self.methods.iter().find(|m| m.path == path)
    }
}

/// A unary call on the wire side of generated code: which method, and the encoded request.
#[derive(Clone, Debug)]
pub struct ProtoRequest {
    /// The method called.
    pub method: &'static MethodDescriptor,
    /// The encoded request message.
    pub body: Bytes,
}

/// The answer to a [`ProtoRequest`]: the encoded response message.
#[derive(Clone, Debug, Default)]
pub struct ProtoResponse {
    /// The encoded response message.
    pub body: Bytes,
}

/// A call of any kind, streaming or not: which method, and the stream of encoded requests.
#[derive(Debug)]
pub struct ProtoStreamRequest {
    /// The method called.
    pub method: &'static MethodDescriptor,
    /// The encoded request messages (exactly one for unary and server-streaming methods).
    pub messages: Streaming<Bytes>,
}

/// A boxed stream of messages, as a handler returns for a streaming response.
pub type BoxStream<T> = Pin<Box<dyn Stream<Item = Result<T, Status>> + Send + 'static>>;

/// A stream of messages coming in: requests to a handler, or responses to a client.
///
/// An `Err` item is the status that ended the stream; nothing follows it.
pub struct Streaming<T> {
    inner: BoxStream<T>,
}

impl<T> fmt::Debug for Streaming<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Streaming").finish_non_exhaustive()
    }
}

impl<T: Send + 'static> Streaming<T> {
    /// A stream of what `stream` yields.
    pub fn new(stream: impl Stream<Item = Result<T, Status>> + Send + 'static) -> Streaming<T> {
        Streaming {
            inner: Box::pin(stream),
        }
    }

    /// A stream of the items of `iter`.
    pub fn iter<I>(iter: I) -> Streaming<T>
    where
        I: IntoIterator<Item = Result<T, Status>>,
        I::IntoIter: Send + 'static,
    {
        Streaming::new(IterStream(iter.into_iter()))
    }

    /// A stream of one message.
    pub fn once(msg: T) -> Streaming<T> {
        Streaming::iter([Ok(msg)])
    }

    /// A stream that ends at once.
    pub fn empty() -> Streaming<T> {
        Streaming::iter(std::iter::empty())
    }

    /// The next message: `Ok(None)` at the end of the stream.
    pub async fn message(&mut self) -> Result<Option<T>, Status> {
        std::future::poll_fn(|cx| self.inner.as_mut().poll_next(cx))
            .await
            .transpose()
    }

    /// The inner boxed stream.
    pub fn into_inner(self) -> BoxStream<T> {
        self.inner
    }
}

impl<T> Stream for Streaming<T> {
    type Item = Result<T, Status>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Option<Self::Item>> {
        self.inner.as_mut().poll_next(cx)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.inner.size_hint()
    }
}

impl Streaming<Bytes> {
    /// The messages of this stream of encodings, decoded as `M`. A message that does not
    /// decode ends the stream with `INVALID_ARGUMENT`.
    pub fn decode<M: ProtoMessage + Send + 'static>(self) -> Streaming<M> {
        Streaming::new(Decoding {
            inner: self.inner,
            done: false,
            decode: M::decode,
        })
    }

    /// The encodings of the messages of `stream`.
    pub fn encode<M, S>(stream: S) -> Streaming<Bytes>
    where
        M: ProtoMessage + Send + 'static,
        S: Stream<Item = Result<M, Status>> + Send + 'static,
    {
        Streaming::new(Encoding {
            inner: Box::pin(stream),
        })
    }

    /// The one message of a stream that must carry exactly one (the request of a unary or
    /// server-streaming call, the response of a client-streaming call).
    pub async fn single(mut self) -> Result<Bytes, Status> {
        let Some(first) = self.message().await? else {
            return Err(Status::internal("the stream ended without a message"));
        };
        if self.message().await?.is_some() {
            return Err(Status::internal(
                "more than one message where one was expected",
            ));
        }
        Ok(first)
    }
}

/// The messages of an iterator, as a stream.
struct IterStream<I>(I);

// The iterator is never pinned: it is only ever reached through `&mut`.
impl<I> Unpin for IterStream<I> {}

impl<I: Iterator> Stream for IterStream<I> {
    type Item = I::Item;

    fn poll_next(mut self: Pin<&mut Self>, _: &mut TaskContext<'_>) -> Poll<Option<I::Item>> {
        Poll::Ready(self.0.next())
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.0.size_hint()
    }
}

struct Decoding<M> {
    inner: BoxStream<Bytes>,
    done: bool,
    decode: fn(Bytes) -> Result<M, crate::DecodeError>,
}

impl<M> Stream for Decoding<M> {
    type Item = Result<M, Status>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Option<Self::Item>> {
        if self.done {
            return Poll::Ready(None);
        }
        let item = match self.inner.as_mut().poll_next(cx) {
            Poll::Pending => return Poll::Pending,
            Poll::Ready(None) => None,
            Poll::Ready(Some(Ok(bytes))) => Some((self.decode)(bytes).map_err(Status::from)),
            Poll::Ready(Some(Err(status))) => Some(Err(status)),
        };
        if !matches!(item, Some(Ok(_))) {
            self.done = true;
        }
        Poll::Ready(item)
    }
}

struct Encoding<M> {
    inner: BoxStream<M>,
}

impl<M: ProtoMessage> Stream for Encoding<M> {
    type Item = Result<Bytes, Status>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Option<Self::Item>> {
        self.inner
            .as_mut()
            .poll_next(cx)
            .map(|item| item.map(|r| r.map(|m| m.encode_to_bytes())))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.inner.size_hint()
    }
}
